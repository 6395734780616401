/* What an established connection gives away on purpose: keying material
 * for other protocols (RFC 5705), DTLS-SRTP keys (RFC 5764 §4.2), and, for
 * debugging, the NSS key log line that lets Wireshark decrypt the session. */
#include <string.h>

#include "cdtls/prf.h"
#include "cdtls/srtp.h"
#include "common/mem.h"
#include "engine/conn_internal.h"

/* RFC 5705 §4: labels the TLS 1.2 key schedule itself uses must not be
 * exportable, or an exporter could reproduce Finished or key-block bytes. */
static int reserved_label(const char *label)
{
    static const char *const reserved[] = {"client finished", "server finished", "master secret",
                                           "extended master secret", "key expansion"};
    /* strlen + memcmp, not strcmp: the core needs only the memory functions
     * and strlen, which freestanding builds provide (examples/firmware). */
    size_t n = strlen(label);
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strlen(reserved[i]) == n && memcmp(label, reserved[i], n) == 0) return 1;
    return 0;
}

#define EXPORT_MAX_CONTEXT 0xffffu /* context_value<0..2^16-1> */
#define EXPORT_MAX_OUT (64u * 1024u)

int cdtls_conn_export_keying_material(const cdtls_conn *c, const char *label, const uint8_t *context,
                                      size_t context_len, int use_context, uint8_t *out, size_t out_len)
{
    if (!c || !label || !*label || !out || !out_len || out_len > EXPORT_MAX_OUT ||
        (context_len && !context) || (use_context && context_len > EXPORT_MAX_CONTEXT) ||
        reserved_label(label))
        return CDTLS_ERR_INVALID_ARG;
#if CDTLS_HAVE_DTLS13
    /* RFC 8446 §7.5: no context and an empty one are the same in 1.3 */
    if (c->version == CDTLS_VERSION_1_3)
        return hs13_export(c, label, use_context ? context : NULL, use_context ? context_len : 0, out,
                           out_len);
#endif
    if (c->state != CDTLS_STATE_ESTABLISHED || !c->suite) return CDTLS_ERR_BAD_STATE;
    /* seed = client_random + server_random [+ uint16 length + context] */
    size_t seed_len = 2 * KS_RANDOM_LEN + (use_context ? 2 + context_len : 0);
    uint8_t small[2 * KS_RANDOM_LEN + 2 + 256];
    uint8_t *seed = small;
    if (seed_len > sizeof small) {
        seed = c->a->alloc(c->a->ctx, seed_len);
        if (!seed) return CDTLS_ERR_NOMEM;
    }
    memcpy(seed, c->client_random, KS_RANDOM_LEN);
    memcpy(seed + KS_RANDOM_LEN, c->server_random, KS_RANDOM_LEN);
    if (use_context) {
        seed[2 * KS_RANDOM_LEN] = (uint8_t)(context_len >> 8);
        seed[2 * KS_RANDOM_LEN + 1] = (uint8_t)context_len;
        if (context_len) memcpy(seed + 2 * KS_RANDOM_LEN + 2, context, context_len);
    }
    int rc = cdtls_tls12_prf(c->p, c->suite->prf, c->master, KS_MASTER_LEN, label, seed, seed_len, out,
                             out_len);
    if (seed != small) c->a->free(c->a->ctx, seed, seed_len);
    if (rc) cdtls_memzero(out, out_len);
    return rc;
}

int cdtls_srtp_profile_lengths(uint16_t profile, size_t *key_len, size_t *salt_len)
{
    size_t k, s;
    switch (profile) {
    case CDTLS_SRTP_AES128_CM_HMAC_SHA1_80:
    case CDTLS_SRTP_AES128_CM_HMAC_SHA1_32: k = 16, s = 14; break;
    /* RFC 5764 §4.1.2 lists cipher_key_length 0 for the NULL profiles, but
     * SRTP's key derivation (RFC 3711 §4.3, AES-CM PRF) still needs a
     * 128-bit master key and 112-bit salt for the authentication key;
     * libsrtp and pion/srtp take 16 and 14, and so do we. */
    case CDTLS_SRTP_NULL_HMAC_SHA1_80:
    case CDTLS_SRTP_NULL_HMAC_SHA1_32: k = 16, s = 14; break;
    case CDTLS_SRTP_AEAD_AES_128_GCM: k = 16, s = 12; break; /* RFC 7714 §12 */
    case CDTLS_SRTP_AEAD_AES_256_GCM: k = 32, s = 12; break;
    default: return CDTLS_ERR_UNSUPPORTED;
    }
    if (key_len) *key_len = k;
    if (salt_len) *salt_len = s;
    return CDTLS_OK;
}

const char *cdtls_srtp_profile_name(uint16_t profile)
{
    switch (profile) {
    case CDTLS_SRTP_AES128_CM_HMAC_SHA1_80: return "SRTP_AES128_CM_HMAC_SHA1_80";
    case CDTLS_SRTP_AES128_CM_HMAC_SHA1_32: return "SRTP_AES128_CM_HMAC_SHA1_32";
    case CDTLS_SRTP_NULL_HMAC_SHA1_80: return "SRTP_NULL_HMAC_SHA1_80";
    case CDTLS_SRTP_NULL_HMAC_SHA1_32: return "SRTP_NULL_HMAC_SHA1_32";
    case CDTLS_SRTP_AEAD_AES_128_GCM: return "SRTP_AEAD_AES_128_GCM";
    case CDTLS_SRTP_AEAD_AES_256_GCM: return "SRTP_AEAD_AES_256_GCM";
    default: return NULL;
    }
}

uint16_t cdtls_conn_srtp_profile(const cdtls_conn *c)
{
    return c ? c->srtp_profile : 0;
}

const uint8_t *cdtls_conn_srtp_mki(const cdtls_conn *c, size_t *len)
{
    if (len) *len = c ? c->srtp_mki_len : 0;
    return c && c->srtp_profile ? c->srtp_mki : NULL;
}

int cdtls_conn_srtp_keys(const cdtls_conn *c, cdtls_srtp_keys *out)
{
    if (!c || !out) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!c->srtp_profile) return CDTLS_ERR_BAD_STATE;
    size_t k = 0, s = 0;
    int rc = cdtls_srtp_profile_lengths(c->srtp_profile, &k, &s);
    if (rc) return rc;
    uint8_t block[2 * (CDTLS_SRTP_MAX_KEY_LEN + CDTLS_SRTP_MAX_SALT_LEN)];
    const size_t n = 2 * (k + s);
    rc = cdtls_conn_export_keying_material(c, "EXTRACTOR-dtls_srtp", NULL, 0, 0, block, n);
    if (!rc) {
        out->profile = c->srtp_profile;
        out->key_len = k;
        out->salt_len = s;
        memcpy(out->client_key, block, k);
        memcpy(out->server_key, block + k, k);
        memcpy(out->client_salt, block + 2 * k, s);
        memcpy(out->server_salt, block + 2 * k + s, s);
    }
    cdtls_memzero(block, sizeof block);
    return rc;
}

const uint8_t *cdtls_conn_alpn(const cdtls_conn *c, size_t *len)
{
    if (len) *len = c ? c->alpn_len : 0;
    return c && c->alpn_len ? c->alpn : NULL;
}

/* NSS key log format: "CLIENT_RANDOM <client_random> <master_secret>" in
 * lower-case hex (the format Wireshark and tshark read for TLS and DTLS). */
void conn_keylog(const cdtls_conn *c)
{
    if (!c->cfg->callbacks.keylog) return;
    static const char hex[] = "0123456789abcdef";
    char line[sizeof "CLIENT_RANDOM " + 2 * KS_RANDOM_LEN + 1 + 2 * KS_MASTER_LEN];
    size_t n = 0;
    memcpy(line, "CLIENT_RANDOM ", 14);
    n = 14;
    for (size_t i = 0; i < KS_RANDOM_LEN; i++) {
        line[n++] = hex[c->client_random[i] >> 4];
        line[n++] = hex[c->client_random[i] & 15];
    }
    line[n++] = ' ';
    for (size_t i = 0; i < KS_MASTER_LEN; i++) {
        line[n++] = hex[c->master[i] >> 4];
        line[n++] = hex[c->master[i] & 15];
    }
    line[n] = 0;
    c->cfg->callbacks.keylog(c->cfg->callbacks.user, line);
    cdtls_memzero(line, sizeof line);
}
