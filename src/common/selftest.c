/* cdtls_provider_selftest: one known-answer check per primitive that a
 * provider offers, so an application (or the demo) can confirm at start-up
 * that the linked backend computes what the standards say. The vectors are
 * in selftest_vectors.h (see scripts/gen_selftest_vectors.py for sources).
 * The full Criterion suites in tests/ go much further. */
#include <string.h>

#include "cdtls/prf.h"
#include "cdtls/provider.h"
#include "common/mem.h"
#include "common/selftest_vectors.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct st_run {
    cdtls_selftest_report report;
    void *ctx;
    int first_error;
    int checks;
} st_run;

static void st_result(st_run *r, const char *name, int rc)
{
    r->checks++;
    if (rc != CDTLS_OK && r->first_error == CDTLS_OK) r->first_error = rc;
    if (r->report) r->report(r->ctx, name, rc);
}

/* A known answer that computed to the wrong bytes is reported as AUTH. */
static int st_expect(const uint8_t *got, const uint8_t *want, size_t n)
{
    return cdtls_ct_equal(got, want, n) ? CDTLS_OK : CDTLS_ERR_AUTH;
}

static void st_hashes(const cdtls_provider *p, st_run *r)
{
    static const uint8_t *const want[CDTLS_HASH__COUNT] = {st_sha1_abc, st_sha256_abc, st_sha384_abc,
                                                           st_sha512_abc};
    static const uint8_t *const want_hmac[CDTLS_HASH__COUNT] = {st_hmac_sha1_jefe, st_hmac_sha256_jefe,
                                                                st_hmac_sha384_jefe, st_hmac_sha512_jefe};
    static const char jefe_msg[] = "what do ya want for nothing?";
    uint8_t out[CDTLS_HASH_MAX_DIGEST];
    for (int i = 0; i < CDTLS_HASH__COUNT; i++) {
        const cdtls_hash_vt *h = p->hash[i];
        if (h) {
            cdtls_hash_ctx ctx;
            h->init(&ctx);
            h->update(&ctx, "ab", 2); /* two updates: the incremental path */
            h->update(&ctx, "c", 1);
            h->final(&ctx, out);
            st_result(r, h->name, st_expect(out, want[i], h->digest_len));
        }
        const cdtls_hmac_vt *m = p->hmac[i];
        if (m) {
            cdtls_hmac_ctx ctx;
            m->init(&ctx, (const uint8_t *)"Jefe", 4);
            m->update(&ctx, jefe_msg, sizeof jefe_msg - 1);
            m->final(&ctx, out);
            st_result(r, m->name, st_expect(out, want_hmac[i], m->mac_len));
        }
    }
}

/* Seal must give want (ciphertext || tag); open must give pt back; a flipped
 * tag bit must be refused. */
static int st_aead_one(const cdtls_aead_vt *a, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                       size_t aad_len, const uint8_t *pt, size_t pt_len, const uint8_t *want)
{
    uint8_t buf[160];
    cdtls_aead_ctx ctx;
    if (pt_len + a->tag_len > sizeof buf) return CDTLS_ERR_INTERNAL;
    int rc = a->init(&ctx, key, a->key_len);
    if (rc) return rc;
    rc = a->seal(&ctx, nonce, 12, aad, aad_len, pt, pt_len, buf);
    if (!rc) rc = st_expect(buf, want, pt_len + a->tag_len);
    if (!rc) rc = a->open(&ctx, nonce, 12, aad, aad_len, buf, pt_len + a->tag_len, buf);
    if (!rc) rc = st_expect(buf, pt, pt_len);
    if (!rc) {
        memcpy(buf, want, pt_len + a->tag_len);
        buf[pt_len] ^= 1;
        rc = a->open(&ctx, nonce, 12, aad, aad_len, buf, pt_len + a->tag_len, buf) == CDTLS_ERR_AUTH
                 ? CDTLS_OK
                 : CDTLS_ERR_AUTH;
    }
    a->clear(&ctx);
    return rc;
}

static void st_aeads(const cdtls_provider *p, st_run *r)
{
    static const uint8_t zero[32] = {0};
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++) {
        const cdtls_aead_vt *a = p->aead[i];
        if (!a) continue;
        int rc;
        switch ((cdtls_aead_alg)i) {
        case CDTLS_AEAD_AES_128_GCM: rc = st_aead_one(a, zero, zero, NULL, 0, zero, 16, st_gcm128_ct); break;
        case CDTLS_AEAD_AES_256_GCM: rc = st_aead_one(a, zero, zero, NULL, 0, zero, 16, st_gcm256_ct); break;
        case CDTLS_AEAD_AES_128_CCM:
        case CDTLS_AEAD_AES_256_CCM:
        case CDTLS_AEAD_AES_128_CCM_8:
        case CDTLS_AEAD_AES_256_CCM_8: {
            static const uint8_t *const want[4] = {st_ccm128_16_ct, st_ccm256_16_ct, st_ccm128_8_ct,
                                                   st_ccm256_8_ct};
            rc = st_aead_one(a, st_ccm_key, st_ccm_nonce, st_ccm_aad, sizeof st_ccm_aad, st_ccm_pt,
                             sizeof st_ccm_pt, want[i - CDTLS_AEAD_AES_128_CCM]);
            break;
        }
        case CDTLS_AEAD_CHACHA20_POLY1305:
            rc = st_aead_one(a, st_chacha_key, st_chacha_nonce, st_chacha_aad, sizeof st_chacha_aad,
                             st_chacha_pt, sizeof st_chacha_pt, st_chacha_ct);
            break;
        default: rc = CDTLS_ERR_INTERNAL; break;
        }
        st_result(r, a->name, rc);
    }
}

static void st_cbcs(const cdtls_provider *p, st_run *r)
{
    static const uint8_t *const keys[CDTLS_CBC__COUNT] = {st_cbc128_key, st_cbc256_key};
    static const uint8_t *const cts[CDTLS_CBC__COUNT] = {st_cbc128_ct, st_cbc256_ct};
    for (int i = 0; i < CDTLS_CBC__COUNT; i++) {
        const cdtls_cbc_vt *c = p->cbc[i];
        if (!c) continue;
        uint8_t buf[16];
        cdtls_cbc_ctx enc, dec;
        memcpy(buf, st_cbc_pt, 16);
        int rc = c->init(&enc, 1, keys[i], c->key_len);
        if (!rc) rc = c->encrypt(&enc, st_cbc_iv, buf, 16);
        if (!rc) rc = st_expect(buf, cts[i], 16);
        if (!rc) rc = c->init(&dec, 0, keys[i], c->key_len);
        if (!rc) rc = c->decrypt(&dec, st_cbc_iv, buf, 16);
        if (!rc) rc = st_expect(buf, st_cbc_pt, 16);
        c->clear(&enc);
        c->clear(&dec);
        st_result(r, c->name, rc);
    }
}

static void st_kxs(const cdtls_provider *p, st_run *r)
{
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++) {
        const cdtls_kx_vt *k = p->kx[i];
        if (!k) continue;
        const uint8_t *priv, *pub, *peer, *shared;
        size_t priv_len;
        switch ((cdtls_group)i) {
        case CDTLS_GROUP_X25519:
            priv = st_x25519_a_priv, priv_len = sizeof st_x25519_a_priv;
            pub = st_x25519_a_pub, peer = st_x25519_b_pub, shared = st_x25519_shared;
            break;
        case CDTLS_GROUP_SECP256R1:
            priv = st_p256_a_priv, priv_len = sizeof st_p256_a_priv;
            pub = st_p256_a_pub, peer = st_p256_b_pub, shared = st_p256_shared;
            break;
        default:
            priv = st_p384_a_priv, priv_len = sizeof st_p384_a_priv;
            pub = st_p384_a_pub, peer = st_p384_b_pub, shared = st_p384_shared;
            break;
        }
        cdtls_kx_key key;
        uint8_t got_pub[CDTLS_KX_MAX_PUBLIC], got_shared[CDTLS_KX_MAX_SHARED];
        int rc = k->import_private(&key, priv, priv_len, got_pub);
        if (!rc) rc = st_expect(got_pub, pub, k->public_len);
        if (!rc) rc = k->derive(&key, peer, k->public_len, got_shared);
        if (!rc) rc = st_expect(got_shared, shared, k->shared_len);
        k->clear(&key);
        st_result(r, k->name, rc);
    }
}

static int st_verify(const cdtls_provider *p, cdtls_sig_alg alg, cdtls_key_type type, const uint8_t *key,
                     size_t key_len, const uint8_t *sig, size_t sig_len)
{
    const cdtls_sig_vt *s = p->sig[alg];
    cdtls_public_key pk = {type, key, key_len, st_rsa_e, sizeof st_rsa_e};
    int rc = s->verify(&pk, st_sig_msg, sizeof st_sig_msg, sig, sig_len);
    if (rc) return rc;
    /* A signature over another message must not verify. */
    uint8_t other[sizeof st_sig_msg];
    memcpy(other, st_sig_msg, sizeof other);
    other[0] ^= 0x80;
    return s->verify(&pk, other, sizeof other, sig, sig_len) == CDTLS_ERR_SIGNATURE ? CDTLS_OK
                                                                                    : CDTLS_ERR_SIGNATURE;
}

/* Make a key object, sign, verify our own signature with the public half. */
static int st_sign_roundtrip(const cdtls_provider *p, cdtls_sig_alg alg,
                             const cdtls_private_key_params *params, const uint8_t *want_sig, size_t want_len)
{
    const cdtls_sig_vt *s = p->sig[alg];
    cdtls_sign_key *key = NULL;
    uint8_t sig[CDTLS_SIG_MAX_LEN];
    size_t sig_len = sizeof sig;
    cdtls_public_key pub;
    /* Freestanding builds have no default allocator: no key objects. */
    if (!p->sign_key_new || !cdtls_allocator_libc()) return CDTLS_ERR_UNSUPPORTED;
    int rc = p->sign_key_new(p, cdtls_allocator_libc(), params, &key);
    if (!rc) rc = s->sign(p, key, st_sig_msg, sizeof st_sig_msg, sig, &sig_len);
    if (!rc && want_sig) rc = sig_len == want_len ? st_expect(sig, want_sig, want_len) : CDTLS_ERR_SIGNATURE;
    if (!rc) rc = p->sign_key_public(key, &pub);
    if (!rc) rc = s->verify(&pub, st_sig_msg, sizeof st_sig_msg, sig, sig_len);
    if (key) p->sign_key_free(cdtls_allocator_libc(), key);
    return rc;
}

static void st_sigs(const cdtls_provider *p, st_run *r)
{
    if (p->sig[CDTLS_SIG_ED25519]) {
        static const uint8_t empty[1] = {0};
        cdtls_public_key pk = {CDTLS_KEY_ED25519, st_ed25519_pk, 32, NULL, 0};
        int rc = p->sig[CDTLS_SIG_ED25519]->verify(&pk, empty, 0, st_ed25519_sig, 64);
        if (!rc) {
            /* RFC 8032 TEST 1 signs the empty message: Ed25519 is
             * deterministic, so our signature must equal the RFC's. */
            cdtls_private_key_params kp = {.type = CDTLS_KEY_ED25519, .priv = st_ed25519_sk, .priv_len = 32};
            cdtls_sign_key *key = NULL;
            uint8_t sig[64];
            size_t sig_len = sizeof sig;
            rc = p->sign_key_new(p, cdtls_allocator_libc(), &kp, &key);
            if (!rc) rc = p->sig[CDTLS_SIG_ED25519]->sign(p, key, empty, 0, sig, &sig_len);
            if (!rc) rc = sig_len == 64 ? st_expect(sig, st_ed25519_sig, 64) : CDTLS_ERR_SIGNATURE;
            if (key) p->sign_key_free(cdtls_allocator_libc(), key);
        }
        st_result(r, "ed25519", rc);
    }
    static const struct {
        cdtls_sig_alg alg;
        cdtls_key_type type;
        const uint8_t *priv, *pub, *sig;
        size_t priv_len, pub_len, sig_len;
    } ec[] = {
        {CDTLS_SIG_ECDSA_SHA256, CDTLS_KEY_EC_P256, st_ecdsa_p256_priv, st_ecdsa_p256_pub, st_ecdsa_p256_sig,
         sizeof st_ecdsa_p256_priv, sizeof st_ecdsa_p256_pub, sizeof st_ecdsa_p256_sig},
        {CDTLS_SIG_ECDSA_SHA384, CDTLS_KEY_EC_P384, st_ecdsa_p384_priv, st_ecdsa_p384_pub, st_ecdsa_p384_sig,
         sizeof st_ecdsa_p384_priv, sizeof st_ecdsa_p384_pub, sizeof st_ecdsa_p384_sig},
    };
    for (size_t i = 0; i < ARRAY_LEN(ec); i++) {
        if (!p->sig[ec[i].alg]) continue;
        int rc = st_verify(p, ec[i].alg, ec[i].type, ec[i].pub, ec[i].pub_len, ec[i].sig, ec[i].sig_len);
        if (!rc) {
            cdtls_private_key_params kp = {.type = ec[i].type,
                                           .priv = ec[i].priv,
                                           .priv_len = ec[i].priv_len};
            rc = st_sign_roundtrip(p, ec[i].alg, &kp, NULL, 0);
        }
        st_result(r, p->sig[ec[i].alg]->name, rc);
    }
    if (p->sig[CDTLS_SIG_RSA_PKCS1_SHA256])
        st_result(r, p->sig[CDTLS_SIG_RSA_PKCS1_SHA256]->name,
                  st_verify(p, CDTLS_SIG_RSA_PKCS1_SHA256, CDTLS_KEY_RSA, st_rsa_n, sizeof st_rsa_n,
                            st_rsa_pkcs1_sha256_sig, sizeof st_rsa_pkcs1_sha256_sig));
    if (p->sig[CDTLS_SIG_RSA_PSS_RSAE_SHA256])
        st_result(r, p->sig[CDTLS_SIG_RSA_PSS_RSAE_SHA256]->name,
                  st_verify(p, CDTLS_SIG_RSA_PSS_RSAE_SHA256, CDTLS_KEY_RSA, st_rsa_n, sizeof st_rsa_n,
                            st_rsa_pss_sha256_sig, sizeof st_rsa_pss_sha256_sig));
}

/* DTLS 1.3 record number masks (RFC 9147 §4.2.3): FIPS-197 C.1 / C.3 for
 * AES-128/256-ECB, RFC 8439 §2.4.2's first keystream block for ChaCha20
 * (selftest_vectors.h). */
static void st_sn_masks(const cdtls_provider *p, st_run *r)
{
    static const uint8_t *const samples[CDTLS_SN_MASK__COUNT] = {st_sn_aes_pt, st_sn_aes_pt,
                                                                 st_sn_chacha_sample};
    static const uint8_t *const want[CDTLS_SN_MASK__COUNT] = {st_sn_aes128, st_sn_aes256, st_sn_chacha};
    for (int i = 0; i < CDTLS_SN_MASK__COUNT; i++) {
        const cdtls_sn_mask_vt *m = p->sn_mask[i];
        if (!m) continue;
        cdtls_sn_mask_ctx ctx;
        uint8_t out[CDTLS_SN_MASK_SAMPLE_LEN];
        int rc = m->init(&ctx, st_sn_key, m->key_len);
        if (!rc) {
            rc = m->mask(&ctx, samples[i], out);
            if (!rc) rc = st_expect(out, want[i], sizeof out);
            m->clear(&ctx);
        }
        st_result(r, m->name, rc);
    }
}

/* The PRF lives in the core; checking it here proves it works on top of
 * this provider's HMAC. Vector: the IETF TLS WG's TLS 1.2 PRF vector
 * (SHA-256, secret 9bbe43..., "test label"), first 32 bytes. */
static void st_prf(const cdtls_provider *p, st_run *r)
{
    static const uint8_t secret[16] = {0x9b, 0xbe, 0x43, 0x6b, 0xa9, 0x40, 0xf0, 0x17,
                                       0xb1, 0x76, 0x52, 0x84, 0x9a, 0x71, 0xdb, 0x35};
    static const uint8_t seed[16] = {0xa0, 0xba, 0x9f, 0x93, 0x6c, 0xda, 0x31, 0x18,
                                     0x27, 0xa6, 0xf7, 0x96, 0xff, 0xd5, 0x19, 0x8c};
    static const uint8_t want[32] = {0xe3, 0xf2, 0x29, 0xba, 0x72, 0x7b, 0xe1, 0x7b, 0x8d, 0x12, 0x26,
                                     0x20, 0x55, 0x7c, 0xd4, 0x53, 0xc2, 0xaa, 0xb2, 0x1d, 0x07, 0xc3,
                                     0xd4, 0x95, 0x32, 0x9b, 0x52, 0xd4, 0xe6, 0x1e, 0xdb, 0x5a};
    if (!p->hmac[CDTLS_HASH_SHA256]) return;
    uint8_t out[32];
    int rc = cdtls_tls12_prf(p, CDTLS_HASH_SHA256, secret, sizeof secret, "test label", seed, sizeof seed,
                             out, sizeof out);
    st_result(r, "TLS 1.2 PRF (SHA-256)", rc ? rc : st_expect(out, want, sizeof want));
}

static void st_random(const cdtls_provider *p, st_run *r)
{
    /* Not a statistical test: only that the source answers and does not
     * hand back the same 32 bytes twice (a stuck or zeroed generator). */
    uint8_t a[32], b[32];
    int rc = p->random(p, a, sizeof a);
    if (!rc) rc = p->random(p, b, sizeof b);
    if (!rc && cdtls_ct_equal(a, b, sizeof a)) rc = CDTLS_ERR_RANDOM;
    st_result(r, "random", rc);
}

/* ML-KEM-768 (FIPS 203): the first NIST round-3 seed as Wycheproof's
 * mlkem_768_encaps_test.json tcId 14 gives it (tests/kem_vectors.h has all
 * 100): key pair from d || z, encapsulation with m, decapsulation of the
 * result. ek and c are checked by their SHA-256 (when the provider has
 * SHA-256), the shared secret whole. */
static const uint8_t st_kem_seed[64] = {
    0x7c, 0x99, 0x35, 0xa0, 0xb0, 0x76, 0x94, 0xaa, 0x0c, 0x6d, 0x10, 0xe4, 0xdb, 0x6b, 0x1a, 0xdd,
    0x2f, 0xd8, 0x1a, 0x25, 0xcc, 0xb1, 0x48, 0x03, 0x2d, 0xcd, 0x73, 0x99, 0x36, 0x73, 0x7f, 0x2d,
    0x86, 0x26, 0xed, 0x79, 0xd4, 0x51, 0x14, 0x08, 0x00, 0xe0, 0x3b, 0x59, 0xb9, 0x56, 0xf8, 0x21,
    0x0e, 0x55, 0x60, 0x67, 0x40, 0x7d, 0x13, 0xdc, 0x90, 0xfa, 0x9e, 0x8b, 0x87, 0x2b, 0xfb, 0x8f,
};
static const uint8_t st_kem_m[32] = {
    0x14, 0x7c, 0x03, 0xf7, 0xa5, 0xbe, 0xbb, 0xa4, 0x06, 0xc8, 0xfa, 0xe1, 0x87, 0x4d, 0x7f, 0x13,
    0xc8, 0x0e, 0xfe, 0x79, 0xa3, 0xa9, 0xa8, 0x74, 0xcc, 0x09, 0xfe, 0x76, 0xf6, 0x99, 0x76, 0x15,
};
static const uint8_t st_kem_ek_sha256[32] = {
    0x86, 0xad, 0xbc, 0xa8, 0x1f, 0x4f, 0xee, 0x89, 0x3e, 0x2f, 0xb5, 0x8f, 0xb9, 0x8a, 0xa2, 0xfe,
    0x18, 0x8f, 0x50, 0x1f, 0xed, 0x26, 0x8d, 0x7f, 0x40, 0x56, 0xf8, 0xc0, 0x5c, 0x4e, 0x53, 0xc4,
};
static const uint8_t st_kem_c_sha256[32] = {
    0x36, 0x82, 0x9a, 0x2f, 0x35, 0xcb, 0xf4, 0xde, 0xb6, 0x2c, 0x0a, 0x12, 0xa1, 0x5c, 0x22, 0xda,
    0xe9, 0xf8, 0xd2, 0xc2, 0x52, 0x56, 0x6f, 0xc2, 0x4f, 0x88, 0xab, 0xe8, 0x05, 0xcb, 0x57, 0x5e,
};
static const uint8_t st_kem_k[32] = {
    0xe7, 0x18, 0x4a, 0x09, 0x75, 0xee, 0x34, 0x70, 0x87, 0x8d, 0x2d, 0x15, 0x9e, 0xc8, 0x31, 0x29,
    0xc8, 0xae, 0xc2, 0x53, 0xd4, 0xee, 0x17, 0xb4, 0x81, 0x03, 0x11, 0xd1, 0x98, 0xcd, 0x03, 0x68,
};

static int st_digest_is(const cdtls_provider *p, const uint8_t *data, size_t len, const uint8_t *want)
{
    const cdtls_hash_vt *h = p->hash[CDTLS_HASH_SHA256];
    if (!h) return CDTLS_OK; /* nothing to compare with: the secrets still are */
    cdtls_hash_ctx ctx;
    uint8_t d[32];
    h->init(&ctx);
    h->update(&ctx, data, len);
    h->final(&ctx, d);
    return st_expect(d, want, sizeof d);
}

static void st_kems(const cdtls_provider *p, st_run *r)
{
    const cdtls_kem_vt *k = p->kem[CDTLS_KEM_MLKEM768];
    if (!k) return;
    if (!k->keygen_seed || !k->encaps_seed) {
        st_result(r, k->name, CDTLS_ERR_UNSUPPORTED); /* no deterministic entry: nothing to check against */
        return;
    }
    cdtls_kem_key key;
    uint8_t ek[CDTLS_KEM_MAX_PUBLIC], ct[CDTLS_KEM_MAX_CIPHERTEXT];
    uint8_t ss_enc[CDTLS_KEM_MAX_SHARED], ss_dec[CDTLS_KEM_MAX_SHARED];
    int rc = CDTLS_OK;
    if (k->public_len != sizeof ek || k->ciphertext_len != sizeof ct || k->shared_len != sizeof ss_enc)
        rc = CDTLS_ERR_INTERNAL;
    if (!rc) rc = k->keygen_seed(&key, st_kem_seed, sizeof st_kem_seed, ek);
    if (!rc) {
        rc = st_digest_is(p, ek, sizeof ek, st_kem_ek_sha256);
        if (!rc) rc = k->encaps_seed(ek, sizeof ek, st_kem_m, sizeof st_kem_m, ct, ss_enc);
        if (!rc) rc = st_digest_is(p, ct, sizeof ct, st_kem_c_sha256);
        if (!rc) rc = st_expect(ss_enc, st_kem_k, sizeof ss_enc);
        if (!rc) rc = k->decaps(&key, ct, sizeof ct, ss_dec);
        if (!rc) rc = st_expect(ss_dec, st_kem_k, sizeof ss_dec);
        k->clear(&key);
    }
    cdtls_memzero(ss_enc, sizeof ss_enc);
    cdtls_memzero(ss_dec, sizeof ss_dec);
    st_result(r, k->name, rc);
}

int cdtls_provider_selftest(const cdtls_provider *p, cdtls_selftest_report report, void *ctx)
{
    if (!p) return CDTLS_ERR_INVALID_ARG;
    if (p->abi_version != CDTLS_PROVIDER_ABI_VERSION) return CDTLS_ERR_UNSUPPORTED;
    st_run r = {report, ctx, CDTLS_OK, 0};
    if (p->random) st_random(p, &r);
    st_hashes(p, &r);
    st_prf(p, &r);
    st_aeads(p, &r);
    st_cbcs(p, &r);
    if (p->abi_version >= 2) st_sn_masks(p, &r);
    st_kxs(p, &r);
    st_sigs(p, &r);
    if (p->abi_version >= 3) st_kems(p, &r);
    return r.first_error;
}
