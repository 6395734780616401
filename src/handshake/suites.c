/* The cipher suite table. Order here is cdtls's default preference: AEAD
 * suites before CBC, ChaCha20 and GCM before CCM, ECDHE (forward secrecy)
 * before plain PSK. */
#include "handshake/suites.h"

#include <stddef.h>

#define AEAD(id_, name_, kx_, alg_, prf_, klen_, ivlen_)                                                \
    {                                                                                                   \
        id_, name_, kx_, SUITE_AEAD, alg_, CDTLS_CBC_AES_128, CDTLS_HASH_SHA256, prf_, klen_, ivlen_, 0 \
    }
#define CBC(id_, name_, kx_, alg_, mac_, prf_, klen_, maclen_)                                  \
    {                                                                                           \
        id_, name_, kx_, SUITE_CBC, CDTLS_AEAD_AES_128_GCM, alg_, mac_, prf_, klen_, 0, maclen_ \
    }

static const suite_info suites[] = {
    /* ECDHE with certificates (negotiated once the certificate handshake
     * exists; see suite_usable). */
    AEAD(CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", KX_ECDHE_ECDSA,
         CDTLS_AEAD_AES_128_GCM, CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
         KX_ECDHE_ECDSA, CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_HASH_SHA256, 32, 12),
    AEAD(CDTLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", KX_ECDHE_ECDSA,
         CDTLS_AEAD_AES_256_GCM, CDTLS_HASH_SHA384, 32, 4),
    AEAD(CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", KX_ECDHE_ECDSA,
         CDTLS_AEAD_AES_128_CCM, CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", KX_ECDHE_ECDSA,
         CDTLS_AEAD_AES_128_CCM_8, CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", KX_ECDHE_RSA,
         CDTLS_AEAD_AES_128_GCM, CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
         KX_ECDHE_RSA, CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_HASH_SHA256, 32, 12),
    AEAD(CDTLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", KX_ECDHE_RSA,
         CDTLS_AEAD_AES_256_GCM, CDTLS_HASH_SHA384, 32, 4),
    /* ECDHE-PSK */
    AEAD(CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
         KX_ECDHE_PSK, CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_HASH_SHA256, 32, 12),
    AEAD(CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", KX_ECDHE_PSK,
         CDTLS_AEAD_AES_128_GCM, CDTLS_HASH_SHA256, 16, 4),
    /* PSK */
    AEAD(CDTLS_PSK_WITH_AES_128_GCM_SHA256, "TLS_PSK_WITH_AES_128_GCM_SHA256", KX_PSK, CDTLS_AEAD_AES_128_GCM,
         CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", KX_PSK,
         CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_HASH_SHA256, 32, 12),
    AEAD(CDTLS_PSK_WITH_AES_256_GCM_SHA384, "TLS_PSK_WITH_AES_256_GCM_SHA384", KX_PSK, CDTLS_AEAD_AES_256_GCM,
         CDTLS_HASH_SHA384, 32, 4),
    AEAD(CDTLS_PSK_WITH_AES_128_CCM, "TLS_PSK_WITH_AES_128_CCM", KX_PSK, CDTLS_AEAD_AES_128_CCM,
         CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_PSK_WITH_AES_256_CCM, "TLS_PSK_WITH_AES_256_CCM", KX_PSK, CDTLS_AEAD_AES_256_CCM,
         CDTLS_HASH_SHA256, 32, 4),
    AEAD(CDTLS_PSK_WITH_AES_128_CCM_8, "TLS_PSK_WITH_AES_128_CCM_8", KX_PSK, CDTLS_AEAD_AES_128_CCM_8,
         CDTLS_HASH_SHA256, 16, 4),
    AEAD(CDTLS_PSK_WITH_AES_256_CCM_8, "TLS_PSK_WITH_AES_256_CCM_8", KX_PSK, CDTLS_AEAD_AES_256_CCM_8,
         CDTLS_HASH_SHA256, 32, 4),
    /* CBC, last */
    CBC(CDTLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", KX_ECDHE_ECDSA,
        CDTLS_CBC_AES_128, CDTLS_HASH_SHA1, CDTLS_HASH_SHA256, 16, 20),
    CBC(CDTLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", KX_ECDHE_ECDSA,
        CDTLS_CBC_AES_256, CDTLS_HASH_SHA1, CDTLS_HASH_SHA256, 32, 20),
    CBC(CDTLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", KX_ECDHE_RSA,
        CDTLS_CBC_AES_128, CDTLS_HASH_SHA1, CDTLS_HASH_SHA256, 16, 20),
    CBC(CDTLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", KX_ECDHE_RSA,
        CDTLS_CBC_AES_256, CDTLS_HASH_SHA1, CDTLS_HASH_SHA256, 32, 20),
    CBC(CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", KX_ECDHE_PSK,
        CDTLS_CBC_AES_128, CDTLS_HASH_SHA256, CDTLS_HASH_SHA256, 16, 32),
    CBC(CDTLS_PSK_WITH_AES_128_CBC_SHA256, "TLS_PSK_WITH_AES_128_CBC_SHA256", KX_PSK, CDTLS_CBC_AES_128,
        CDTLS_HASH_SHA256, CDTLS_HASH_SHA256, 16, 32),
};

#define N_SUITES (sizeof suites / sizeof suites[0])

const suite_info *suite_find(uint16_t id)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (suites[i].id == id) return &suites[i];
    return NULL;
}

int suite_uses_ecdhe(const suite_info *s)
{
    return s->kx != KX_PSK;
}

int suite_uses_psk(const suite_info *s)
{
    return s->kx == KX_PSK || s->kx == KX_ECDHE_PSK;
}

int suite_usable(const cdtls_provider *p, const suite_info *s)
{
    if (!p || !s) return 0;
    /* Certificate suites need a signature scheme for their key type:
     * ECDHE_ECDSA covers ECDSA and Ed25519 keys (RFC 8422 §5.1.1). */
    if (s->kx == KX_ECDHE_ECDSA &&
        !(p->sig[CDTLS_SIG_ECDSA_SHA256] || p->sig[CDTLS_SIG_ECDSA_SHA384] || p->sig[CDTLS_SIG_ED25519]))
        return 0;
    if (s->kx == KX_ECDHE_RSA &&
        !(p->sig[CDTLS_SIG_RSA_PKCS1_SHA256] || p->sig[CDTLS_SIG_RSA_PSS_RSAE_SHA256]))
        return 0;
    if (!p->hmac[s->prf] || !p->hash[s->prf] || !p->random) return 0;
    if (s->kind == SUITE_AEAD) {
        if (!p->aead[s->aead]) return 0;
    } else if (!p->cbc[s->cbc] || !p->hmac[s->mac]) {
        return 0;
    }
    if (suite_uses_ecdhe(s)) {
        int any = 0;
        for (int g = 0; g < CDTLS_GROUP__COUNT; g++) any |= p->kx[g] != NULL;
        if (!any) return 0;
    }
    return 1;
}

/* The DTLS 1.3 suites (RFC 8446 §B.4, those RFC 9147 allows) are not in
 * the 1.2 table: they name only the AEAD and the hash. */
static const char *suite13_name(uint16_t suite)
{
    switch (suite) {
    case 0x1301: return "TLS_AES_128_GCM_SHA256";
    case 0x1302: return "TLS_AES_256_GCM_SHA384";
    case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256";
    case 0x1304: return "TLS_AES_128_CCM_SHA256";
    case 0x1305: return "TLS_AES_128_CCM_8_SHA256";
    default: return NULL;
    }
}

const char *cdtls_cipher_suite_name(uint16_t suite)
{
    const suite_info *s = suite_find(suite);
    return s ? s->name : suite13_name(suite);
}

int cdtls_cipher_suite_supported(const cdtls_provider *p, uint16_t suite)
{
    return suite_usable(p, suite_find(suite));
}

size_t cdtls_default_cipher_suites(const cdtls_provider *p, uint16_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < N_SUITES; i++) {
        if (!suite_usable(p, &suites[i])) continue;
        if (out && n < cap) out[n] = suites[i].id;
        n++;
    }
    return n;
}
