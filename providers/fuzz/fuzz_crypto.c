/* A provider made for fuzzing, as BoringSSL's fuzzer mode is: the engine
 * harnesses (and fuzz_record) run whole handshakes thousands of times a
 * second, and with real crypto nearly all of that time went to P-256/P-384
 * and RSA arithmetic and to constant-time AES (docs/fuzzing.md, "Where
 * the time goes"), none of which is what the harnesses test.
 *
 * It wraps the build's real provider (cdtls_provider_default()) and keeps
 * its hashes (transcripts, certificate fingerprints, the signatures
 * below); it replaces:
 *
 *   - HMAC: a keyed 128-bit multiply-xor mix stretched to the MAC's
 *     length. The PRF, Finished, cookies and tickets are built on it; the
 *     fuzzer still cannot make a Finished (it would have to compute the
 *     PRF, and the core compares in constant time, which libFuzzer's
 *     comparison tracing cannot solve);
 *   - AEAD and CBC: a keystream XOR and a 128-bit tag from a multiply-xor
 *     mix of key, nonce, AAD and ciphertext; same sizes, same errors
 *     (a wrong tag is CDTLS_ERR_AUTH), so the record layer's lengths,
 *     padding and authentication paths are walked as with the real ones;
 *     the DTLS 1.3 record number masks likewise (a mix of key and sample);
 *   - key exchange: the public value is a hash of the private one, in the
 *     group's format (0x04 || X || Y for the NIST curves), and the shared
 *     secret a hash of both public values; a wrong length or prefix, or an
 *     all-zero X25519 value, is CDTLS_ERR_BAD_KEY as with real groups;
 *   - signatures: "fz" || SHA-256(public key || message) from this
 *     provider's keys; any other signature (the certificates of
 *     fuzz/certs, signed for real) is checked by the real provider, and
 *     the answer kept in a small cache, so a certificate chain costs its
 *     real verification once per process, not once per execution.
 *
 * Never part of a library build: build.zig compiles providers/bearssl or
 * providers/sodium only, and this file refuses to compile unless the build
 * says FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (fuzz/Makefile, OSS-Fuzz). */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#error "providers/fuzz is for fuzzing builds only: its crypto is not crypto"
#endif

#include "fuzz_crypto.h"

#include <string.h>

#include "common/mem.h"

/* ------------------------------------------------------------- mixing */

static uint64_t fz_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t fz_load(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t fz_absorb(uint64_t h, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        h = fz_mix(h ^ fz_load(p, 8)) + 0x9e3779b97f4a7c15ull;
        p += 8;
        n -= 8;
    }
    return fz_mix(h ^ fz_load(p, n) ^ ((uint64_t)n << 56));
}

/* ---------------------------------------------------------- AEAD, CBC */

typedef struct fz_cipher {
    uint64_t k0, k1;
} fz_cipher;

static int fz_cipher_init(fz_cipher *c, const uint8_t *key, size_t key_len, size_t want)
{
    if (key_len != want) return CDTLS_ERR_KEY_SIZE;
    c->k0 = fz_absorb(0x6675a2e1, key, key_len);
    c->k1 = fz_absorb(c->k0, key, key_len);
    return CDTLS_OK;
}

static void fz_xor_stream(uint64_t seed, const uint8_t *in, uint8_t *out, size_t len)
{
    for (size_t off = 0; off < len; off += 8) {
        uint64_t ks = fz_mix(seed + off);
        size_t n = len - off < 8 ? len - off : 8;
        for (size_t i = 0; i < n; i++) out[off + i] = (uint8_t)(in[off + i] ^ (ks >> (8 * i)));
    }
}

static void fz_tag(const fz_cipher *c, uint64_t nonce_h, const uint8_t *aad, size_t aad_len,
                   const uint8_t *ct, size_t ct_len, uint8_t tag[16])
{
    uint64_t a = fz_absorb(c->k0 ^ nonce_h, aad, aad_len);
    a = fz_absorb(a ^ c->k1, ct, ct_len);
    uint64_t b = fz_mix(a ^ c->k0 ^ ((uint64_t)aad_len << 32 | ct_len));
    for (int i = 0; i < 8; i++) {
        tag[i] = (uint8_t)(a >> (8 * i));
        tag[8 + i] = (uint8_t)(b >> (8 * i));
    }
}

#define FZ_AEAD(name_, alg_, klen_, tlen_)                                                              \
    static int fz_##name_##_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len)               \
    {                                                                                                   \
        return fz_cipher_init((fz_cipher *)(void *)ctx->opaque, key, key_len, klen_);                   \
    }                                                                                                   \
    static int fz_##name_##_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,     \
                                 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,  \
                                 uint8_t *out)                                                          \
    {                                                                                                   \
        return fz_aead_seal((const fz_cipher *)(const void *)ctx->opaque, tlen_, nonce, nonce_len, aad, \
                            aad_len, in, in_len, out);                                                  \
    }                                                                                                   \
    static int fz_##name_##_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,     \
                                 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,  \
                                 uint8_t *out)                                                          \
    {                                                                                                   \
        return fz_aead_open((const fz_cipher *)(const void *)ctx->opaque, tlen_, nonce, nonce_len, aad, \
                            aad_len, in, in_len, out);                                                  \
    }                                                                                                   \
    static const cdtls_aead_vt fz_##name_ = {alg_,                                                      \
                                             #name_ " (fuzz)",                                          \
                                             klen_,                                                     \
                                             12,                                                        \
                                             tlen_,                                                     \
                                             fz_##name_##_init,                                         \
                                             fz_##name_##_seal,                                         \
                                             fz_##name_##_open,                                         \
                                             fz_aead_clear};

static int fz_aead_seal(const fz_cipher *c, size_t tag_len, const uint8_t *nonce, size_t nonce_len,
                        const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (nonce_len != 12) return CDTLS_ERR_NONCE_SIZE;
    uint64_t nh = fz_absorb(c->k1, nonce, nonce_len);
    fz_xor_stream(nh, in, out, in_len);
    uint8_t tag[16];
    fz_tag(c, nh, aad, aad_len, out, in_len, tag);
    memcpy(out + in_len, tag, tag_len);
    return CDTLS_OK;
}

static int fz_aead_open(const fz_cipher *c, size_t tag_len, const uint8_t *nonce, size_t nonce_len,
                        const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (nonce_len != 12) return CDTLS_ERR_NONCE_SIZE;
    if (in_len < tag_len) return CDTLS_ERR_AUTH;
    size_t len = in_len - tag_len;
    uint64_t nh = fz_absorb(c->k1, nonce, nonce_len);
    uint8_t tag[16];
    fz_tag(c, nh, aad, aad_len, in, len, tag);
    if (!cdtls_ct_equal(tag, in + len, tag_len)) return CDTLS_ERR_AUTH;
    fz_xor_stream(nh, in, out, len);
    return CDTLS_OK;
}

static void fz_aead_clear(cdtls_aead_ctx *ctx)
{
    cdtls_memzero(ctx, sizeof *ctx);
}

FZ_AEAD(aes128gcm, CDTLS_AEAD_AES_128_GCM, 16, 16)
FZ_AEAD(aes256gcm, CDTLS_AEAD_AES_256_GCM, 32, 16)
FZ_AEAD(aes128ccm, CDTLS_AEAD_AES_128_CCM, 16, 16)
FZ_AEAD(aes256ccm, CDTLS_AEAD_AES_256_CCM, 32, 16)
FZ_AEAD(aes128ccm8, CDTLS_AEAD_AES_128_CCM_8, 16, 8)
FZ_AEAD(aes256ccm8, CDTLS_AEAD_AES_256_CCM_8, 32, 8)
FZ_AEAD(chacha, CDTLS_AEAD_CHACHA20_POLY1305, 32, 16)

/* Record number masks (DTLS 1.3): 16 bytes of the keyed mix of the sample,
 * a function of key and sample like the real ones. */
#define FZ_SN_MASK(name_, alg_, label_, klen_)                                                  \
    static int fz_sn_##name_##_init(cdtls_sn_mask_ctx *ctx, const uint8_t *key, size_t key_len) \
    {                                                                                           \
        return fz_cipher_init((fz_cipher *)(void *)ctx->opaque, key, key_len, klen_);           \
    }                                                                                           \
    static const cdtls_sn_mask_vt fz_sn_##name_ = {                                             \
        alg_, label_ " (fuzz)", klen_, fz_sn_##name_##_init, fz_sn_mask, fz_sn_clear};

static int fz_sn_mask(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out)
{
    const fz_cipher *c = (const fz_cipher *)(const void *)ctx->opaque;
    uint8_t tag[16];
    fz_tag(c, c->k1, sample, 16, NULL, 0, tag);
    memcpy(out, tag, 16);
    return CDTLS_OK;
}

static void fz_sn_clear(cdtls_sn_mask_ctx *ctx)
{
    cdtls_memzero(ctx, sizeof *ctx);
}

FZ_SN_MASK(aes128, CDTLS_SN_MASK_AES_128, "AES-128-ECB", 16)
FZ_SN_MASK(aes256, CDTLS_SN_MASK_AES_256, "AES-256-ECB", 32)
FZ_SN_MASK(chacha, CDTLS_SN_MASK_CHACHA20, "ChaCha20", 32)

static const cdtls_sn_mask_vt *const fz_sn_masks[CDTLS_SN_MASK__COUNT] = {&fz_sn_aes128, &fz_sn_aes256,
                                                                          &fz_sn_chacha};

static const cdtls_aead_vt *const fz_aeads[CDTLS_AEAD__COUNT] = {
    [CDTLS_AEAD_AES_128_GCM] = &fz_aes128gcm,    [CDTLS_AEAD_AES_256_GCM] = &fz_aes256gcm,
    [CDTLS_AEAD_AES_128_CCM] = &fz_aes128ccm,    [CDTLS_AEAD_AES_256_CCM] = &fz_aes256ccm,
    [CDTLS_AEAD_AES_128_CCM_8] = &fz_aes128ccm8, [CDTLS_AEAD_AES_256_CCM_8] = &fz_aes256ccm8,
    [CDTLS_AEAD_CHACHA20_POLY1305] = &fz_chacha,
};

/* CBC: the "block cipher" XORs a key-derived 16-byte pad, so a block
 * decrypts to what was encrypted and chaining works as in real CBC. */
typedef struct fz_cbc {
    uint8_t pad[16];
    int encrypt;
} fz_cbc;

static int fz_cbc_init(cdtls_cbc_ctx *ctx, int encrypt, const uint8_t *key, size_t key_len, size_t want)
{
    fz_cipher c;
    int rc = fz_cipher_init(&c, key, key_len, want);
    if (rc != CDTLS_OK) return rc;
    fz_cbc *s = (fz_cbc *)(void *)ctx->opaque;
    for (int i = 0; i < 8; i++) {
        s->pad[i] = (uint8_t)(c.k0 >> (8 * i));
        s->pad[8 + i] = (uint8_t)(c.k1 >> (8 * i));
    }
    s->encrypt = encrypt;
    return CDTLS_OK;
}
static int fz_cbc128_init(cdtls_cbc_ctx *ctx, int enc, const uint8_t *k, size_t kl)
{
    return fz_cbc_init(ctx, enc, k, kl, 16);
}
static int fz_cbc256_init(cdtls_cbc_ctx *ctx, int enc, const uint8_t *k, size_t kl)
{
    return fz_cbc_init(ctx, enc, k, kl, 32);
}

static int fz_cbc_run(const cdtls_cbc_ctx *ctx, const uint8_t *iv, uint8_t *data, size_t len, int encrypt)
{
    const fz_cbc *s = (const fz_cbc *)(const void *)ctx->opaque;
    if (len % 16) return CDTLS_ERR_LENGTH;
    if (s->encrypt != encrypt) return CDTLS_ERR_INVALID_ARG;
    uint8_t prev[16], cur[16];
    memcpy(prev, iv, 16);
    for (size_t off = 0; off < len; off += 16) {
        uint8_t *b = data + off;
        memcpy(cur, b, 16);
        for (int i = 0; i < 16; i++) b[i] = (uint8_t)(b[i] ^ prev[i] ^ s->pad[i]);
        memcpy(prev, encrypt ? b : cur, 16);
    }
    return CDTLS_OK;
}
static int fz_cbc_encrypt(const cdtls_cbc_ctx *c, const uint8_t *iv, uint8_t *d, size_t n)
{
    return fz_cbc_run(c, iv, d, n, 1);
}
static int fz_cbc_decrypt(const cdtls_cbc_ctx *c, const uint8_t *iv, uint8_t *d, size_t n)
{
    return fz_cbc_run(c, iv, d, n, 0);
}
static void fz_cbc_clear(cdtls_cbc_ctx *ctx)
{
    cdtls_memzero(ctx, sizeof *ctx);
}

static const cdtls_cbc_vt fz_cbc128 = {
    CDTLS_CBC_AES_128, "AES-128-CBC (fuzz)", 16,          16, fz_cbc128_init,
    fz_cbc_encrypt,    fz_cbc_decrypt,       fz_cbc_clear};
static const cdtls_cbc_vt fz_cbc256 = {
    CDTLS_CBC_AES_256, "AES-256-CBC (fuzz)", 32,          16, fz_cbc256_init,
    fz_cbc_encrypt,    fz_cbc_decrypt,       fz_cbc_clear};

/* --------------------------------------------------------------- HMAC */

/* Streaming, so the MAC does not depend on how the input was split into
 * update calls (the PRF and the record layer split differently from one
 * another). Two 64-bit lanes seeded from the key. */
typedef struct fz_hmac {
    uint64_t a, b, total;
    uint8_t buf[8];
    size_t nbuf;
} fz_hmac;

static void fz_hmac_init(cdtls_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    fz_hmac *m = (fz_hmac *)(void *)ctx->opaque;
    memset(m, 0, sizeof *m);
    /* the key absorbed in a fixed way, whatever its length */
    uint64_t k = 0x484d4143;
    for (size_t off = 0; off < key_len; off += 8)
        k = fz_mix(k ^ fz_load(key + off, key_len - off < 8 ? key_len - off : 8)) + off;
    m->a = fz_mix(k ^ key_len);
    m->b = fz_mix(m->a + 0x9e3779b97f4a7c15ull);
}

static void fz_hmac_word(fz_hmac *m, uint64_t w)
{
    m->a = fz_mix(m->a ^ w) + 0x9e3779b97f4a7c15ull;
    m->b = fz_mix(m->b + w) ^ m->a;
}

static void fz_hmac_update(cdtls_hmac_ctx *ctx, const void *data, size_t len)
{
    fz_hmac *m = (fz_hmac *)(void *)ctx->opaque;
    const uint8_t *p = data;
    m->total += len;
    while (len) {
        if (m->nbuf == 0 && len >= 8) {
            fz_hmac_word(m, fz_load(p, 8));
            p += 8;
            len -= 8;
            continue;
        }
        m->buf[m->nbuf++] = *p++;
        len--;
        if (m->nbuf == 8) {
            fz_hmac_word(m, fz_load(m->buf, 8));
            m->nbuf = 0;
        }
    }
}

static void fz_hmac_final(cdtls_hmac_ctx *ctx, uint8_t *out, size_t mac_len)
{
    fz_hmac *m = (fz_hmac *)(void *)ctx->opaque;
    fz_hmac_word(m, fz_load(m->buf, m->nbuf) ^ (m->total << 8));
    for (size_t off = 0; off < mac_len; off += 8) {
        uint64_t v = fz_mix(m->a + off) ^ fz_mix(m->b ^ off);
        for (size_t i = 0; i < 8 && off + i < mac_len; i++) out[off + i] = (uint8_t)(v >> (8 * i));
    }
    cdtls_memzero(ctx, sizeof *ctx);
}

#define FZ_HMAC(name_, hash_, len_)                                                \
    static void fz_##name_##_final(cdtls_hmac_ctx *ctx, uint8_t *out)              \
    {                                                                              \
        fz_hmac_final(ctx, out, len_);                                             \
    }                                                                              \
    static const cdtls_hmac_vt fz_##name_ = {hash_,        #name_ " (fuzz)", len_, \
                                             fz_hmac_init, fz_hmac_update,   fz_##name_##_final};
FZ_HMAC(hmac_sha1, CDTLS_HASH_SHA1, 20)
FZ_HMAC(hmac_sha256, CDTLS_HASH_SHA256, 32)
FZ_HMAC(hmac_sha384, CDTLS_HASH_SHA384, 48)
FZ_HMAC(hmac_sha512, CDTLS_HASH_SHA512, 64)
static const cdtls_hmac_vt *const fz_hmacs[CDTLS_HASH__COUNT] = {[CDTLS_HASH_SHA1] = &fz_hmac_sha1,
                                                                 [CDTLS_HASH_SHA256] = &fz_hmac_sha256,
                                                                 [CDTLS_HASH_SHA384] = &fz_hmac_sha384,
                                                                 [CDTLS_HASH_SHA512] = &fz_hmac_sha512};

/* -------------------------------------------------------- the wrapped */

static cdtls_provider fz_table;
static const cdtls_provider *fz_real;

/* out = the first n bytes of SHA-512(label || in) || SHA-512(label+1 || in) ... */
static void fz_expand(uint8_t label, const uint8_t *in, size_t in_len, uint8_t *out, size_t n)
{
    const cdtls_hash_vt *h = fz_real->hash[CDTLS_HASH_SHA512] ? fz_real->hash[CDTLS_HASH_SHA512]
                                                              : fz_real->hash[CDTLS_HASH_SHA256];
    for (size_t off = 0; off < n; off += h->digest_len, label++) {
        cdtls_hash_ctx c;
        uint8_t d[CDTLS_HASH_MAX_DIGEST];
        h->init(&c);
        h->update(&c, &label, 1);
        h->update(&c, in, in_len);
        h->final(&c, d);
        size_t take = n - off < h->digest_len ? n - off : h->digest_len;
        memcpy(out + off, d, take);
    }
}

/* ------------------------------------------------------- key exchange */

typedef struct fz_kx {
    size_t pub_len;
    uint8_t pub[CDTLS_KX_MAX_PUBLIC];
} fz_kx;

static int fz_kx_from_private(const cdtls_kx_vt *vt, cdtls_kx_key *key, const uint8_t *priv, size_t priv_len,
                              uint8_t *pub)
{
    fz_kx *k = (fz_kx *)(void *)key->opaque;
    k->pub_len = vt->public_len;
    if (vt->group == CDTLS_GROUP_X25519) {
        fz_expand(0x10, priv, priv_len, k->pub, 32);
    } else {
        k->pub[0] = 0x04;
        fz_expand(0x20, priv, priv_len, k->pub + 1, vt->public_len - 1);
    }
    memcpy(pub, k->pub, k->pub_len);
    return CDTLS_OK;
}

static int fz_kx_derive(const cdtls_kx_vt *vt, const cdtls_kx_key *key, const uint8_t *peer, size_t peer_len,
                        uint8_t *shared)
{
    const fz_kx *k = (const fz_kx *)(const void *)key->opaque;
    if (peer_len != vt->public_len) return CDTLS_ERR_BAD_KEY;
    if (vt->group != CDTLS_GROUP_X25519 && peer[0] != 0x04) return CDTLS_ERR_BAD_KEY;
    uint8_t acc = 0;
    for (size_t i = 0; i < peer_len; i++) acc |= peer[i];
    if (acc == 0) return CDTLS_ERR_BAD_KEY; /* X25519's all-zero result */
    /* both sides hash the two public values in the same order */
    uint8_t both[2 * CDTLS_KX_MAX_PUBLIC];
    int mine_first = memcmp(k->pub, peer, peer_len) < 0;
    memcpy(both, mine_first ? k->pub : peer, peer_len);
    memcpy(both + peer_len, mine_first ? peer : k->pub, peer_len);
    fz_expand(0x30, both, 2 * peer_len, shared, vt->shared_len);
    return CDTLS_OK;
}

static void fz_kx_clear(cdtls_kx_key *key)
{
    cdtls_memzero(key, sizeof *key);
}

#define FZ_KX(name_, group_)                                                                              \
    static int fz_##name_##_import(cdtls_kx_key *key, const uint8_t *priv, size_t priv_len, uint8_t *pub) \
    {                                                                                                     \
        if (priv_len == 0 || priv_len > 66) return CDTLS_ERR_BAD_KEY;                                     \
        return fz_kx_from_private(&fz_##name_, key, priv, priv_len, pub);                                 \
    }                                                                                                     \
    static int fz_##name_##_keygen(const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub)              \
    {                                                                                                     \
        uint8_t priv[32];                                                                                 \
        int rc = p->random(p, priv, sizeof priv);                                                         \
        if (rc != CDTLS_OK) return rc;                                                                    \
        return fz_kx_from_private(&fz_##name_, key, priv, sizeof priv, pub);                              \
    }                                                                                                     \
    static int fz_##name_##_derive(const cdtls_kx_key *key, const uint8_t *peer, size_t peer_len,         \
                                   uint8_t *shared)                                                       \
    {                                                                                                     \
        return fz_kx_derive(&fz_##name_, key, peer, peer_len, shared);                                    \
    }

static const cdtls_kx_vt fz_x25519, fz_p256, fz_p384;
FZ_KX(x25519, CDTLS_GROUP_X25519)
FZ_KX(p256, CDTLS_GROUP_SECP256R1)
FZ_KX(p384, CDTLS_GROUP_SECP384R1)
static const cdtls_kx_vt fz_x25519 = {
    CDTLS_GROUP_X25519, 29,         "X25519 (fuzz)", 32, 32, fz_x25519_keygen, fz_x25519_import,
    fz_x25519_derive,   fz_kx_clear};
static const cdtls_kx_vt fz_p256 = {
    CDTLS_GROUP_SECP256R1, 23,         "P-256 (fuzz)", 65, 32, fz_p256_keygen, fz_p256_import,
    fz_p256_derive,        fz_kx_clear};
static const cdtls_kx_vt fz_p384 = {
    CDTLS_GROUP_SECP384R1, 24,         "P-384 (fuzz)", 97, 48, fz_p384_keygen, fz_p384_import,
    fz_p384_derive,        fz_kx_clear};
static const cdtls_kx_vt *const fz_kxs[CDTLS_GROUP__COUNT] = {[CDTLS_GROUP_X25519] = &fz_x25519,
                                                              [CDTLS_GROUP_SECP256R1] = &fz_p256,
                                                              [CDTLS_GROUP_SECP384R1] = &fz_p384};

/* ------------------------------------------------------------ ML-KEM-768 */

/* A stand-in with ML-KEM-768's sizes: the encapsulation key is expanded
 * from the seed, the ciphertext from m and the key, the secret from key and
 * ciphertext, so encapsulation and decapsulation agree and a changed
 * ciphertext gives another secret (as implicit rejection does). A key whose
 * first two bytes are 0xff stands for one failing FIPS 203 §7.2's modulus
 * check, so the error path is reachable. */
#define FZ_EK 1184u
#define FZ_CT 1088u

static void fz_kem_secret(const uint8_t *ek, const uint8_t *ct, uint8_t *shared)
{
    uint8_t both[FZ_EK + FZ_CT];
    memcpy(both, ek, FZ_EK);
    memcpy(both + FZ_EK, ct, FZ_CT);
    fz_expand(0x42, both, sizeof both, shared, 32);
}

static int fz_kem_keygen_seed(cdtls_kem_key *key, const uint8_t *seed, size_t seed_len, uint8_t *pub)
{
    if (seed_len != 64) return CDTLS_ERR_KEY_SIZE;
    fz_expand(0x40, seed, seed_len, key->opaque, FZ_EK);
    key->opaque[0] &= 0x7f; /* never the modulus-failure marker */
    memcpy(pub, key->opaque, FZ_EK);
    return CDTLS_OK;
}

static int fz_kem_keygen(const cdtls_provider *p, cdtls_kem_key *key, uint8_t *pub)
{
    uint8_t seed[64];
    int rc = p->random(p, seed, sizeof seed);
    return rc ? rc : fz_kem_keygen_seed(key, seed, sizeof seed, pub);
}

static int fz_kem_encaps_seed(const uint8_t *pub, size_t pub_len, const uint8_t *m, size_t m_len, uint8_t *ct,
                              uint8_t *shared)
{
    if (m_len != 32) return CDTLS_ERR_KEY_SIZE;
    if (!pub || pub_len != FZ_EK || (pub[0] == 0xff && pub[1] == 0xff)) {
        memset(ct, 0, FZ_CT);
        memset(shared, 0, 32);
        return CDTLS_ERR_BAD_KEY;
    }
    uint8_t in[32 + 32];
    memcpy(in, m, 32);
    fz_expand(0x41, pub, pub_len, in + 32, 32);
    fz_expand(0x43, in, sizeof in, ct, FZ_CT);
    fz_kem_secret(pub, ct, shared);
    return CDTLS_OK;
}

static int fz_kem_encaps(const cdtls_provider *p, const uint8_t *pub, size_t pub_len, uint8_t *ct,
                         uint8_t *shared)
{
    uint8_t m[32];
    int rc = p->random(p, m, sizeof m);
    return rc ? rc : fz_kem_encaps_seed(pub, pub_len, m, sizeof m, ct, shared);
}

static int fz_kem_decaps(const cdtls_kem_key *key, const uint8_t *ct, size_t ct_len, uint8_t *shared)
{
    if (!ct || ct_len != FZ_CT) return CDTLS_ERR_BAD_KEY;
    fz_kem_secret(key->opaque, ct, shared);
    return CDTLS_OK;
}

static void fz_kem_clear(cdtls_kem_key *key)
{
    cdtls_memzero(key, sizeof *key);
}

static const cdtls_kem_vt fz_mlkem768 = {CDTLS_KEM_MLKEM768,
                                         "ML-KEM-768 (fuzz)",
                                         FZ_EK,
                                         FZ_CT,
                                         32,
                                         64,
                                         32,
                                         fz_kem_keygen,
                                         fz_kem_keygen_seed,
                                         fz_kem_encaps,
                                         fz_kem_encaps_seed,
                                         fz_kem_decaps,
                                         fz_kem_clear};

const cdtls_kem_vt *cdtls_fuzz_kem_mlkem768(void)
{
    return &fz_mlkem768;
}

/* ---------------------------------------------------------- signatures */

/* A key of this provider: the real provider's key (it computed the public
 * half) and a copy of the public half, which the fake signature binds. */
struct cdtls_sign_key {
    cdtls_sign_key *real;
    cdtls_public_key pub;
    uint8_t pub_data[1024];
    uint8_t rsa_e[16];
};

#define FZ_SIG_LEN 34u

static void fz_sig_digest(const cdtls_public_key *pub, cdtls_sig_alg alg, const uint8_t *msg, size_t msg_len,
                          uint8_t out[32])
{
    const cdtls_hash_vt *h = fz_real->hash[CDTLS_HASH_SHA256];
    cdtls_hash_ctx c;
    uint8_t a = (uint8_t)alg;
    h->init(&c);
    h->update(&c, &a, 1);
    h->update(&c, pub->data, pub->data_len);
    h->update(&c, msg, msg_len);
    h->final(&c, out);
}

static int fz_sign(const cdtls_provider *p, const cdtls_sign_key *key, cdtls_sig_alg alg, const uint8_t *msg,
                   size_t msg_len, uint8_t *sig, size_t *sig_len)
{
    (void)p;
    if (*sig_len < FZ_SIG_LEN) return CDTLS_ERR_BUFFER_TOO_SMALL;
    sig[0] = 'f';
    sig[1] = 'z';
    fz_sig_digest(&key->pub, alg, msg, msg_len, sig + 2);
    *sig_len = FZ_SIG_LEN;
    return CDTLS_OK;
}

/* The real provider's answers for signatures not made here, by a digest of
 * everything the answer depends on; direct-mapped, a collision only costs
 * a recomputation. Process-wide state is fine here: a fuzzing process runs
 * one input at a time, and the answer is a pure function of the key. */
#define FZ_CACHE_SLOTS 512u
static struct {
    uint8_t digest[32];
    int used, result;
} fz_cache[FZ_CACHE_SLOTS];

static int fz_verify(cdtls_sig_alg alg, const cdtls_public_key *pub, const uint8_t *msg, size_t msg_len,
                     const uint8_t *sig, size_t sig_len)
{
    if (sig_len == FZ_SIG_LEN && sig[0] == 'f' && sig[1] == 'z') {
        uint8_t want[32];
        fz_sig_digest(pub, alg, msg, msg_len, want);
        return cdtls_ct_equal(want, sig + 2, 32) ? CDTLS_OK : CDTLS_ERR_SIGNATURE;
    }
    const cdtls_sig_vt *real = fz_real->sig[alg];
    if (!real) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_hash_vt *h = fz_real->hash[CDTLS_HASH_SHA256];
    cdtls_hash_ctx c;
    uint8_t d[32], a = (uint8_t)alg, t = (uint8_t)pub->type;
    h->init(&c);
    h->update(&c, &a, 1);
    h->update(&c, &t, 1);
    h->update(&c, pub->data, pub->data_len);
    h->update(&c, &pub->data_len, sizeof pub->data_len);
    if (pub->rsa_e) h->update(&c, pub->rsa_e, pub->rsa_e_len);
    h->update(&c, &sig_len, sizeof sig_len);
    h->update(&c, sig, sig_len);
    h->update(&c, msg, msg_len);
    h->final(&c, d);
    unsigned slot = ((unsigned)d[0] << 8 | d[1]) % FZ_CACHE_SLOTS;
    if (fz_cache[slot].used && memcmp(fz_cache[slot].digest, d, 32) == 0) return fz_cache[slot].result;
    int rc = real->verify(pub, msg, msg_len, sig, sig_len);
    memcpy(fz_cache[slot].digest, d, 32);
    fz_cache[slot].used = 1;
    fz_cache[slot].result = rc;
    return rc;
}

#define FZ_SIG(alg_)                                                                                  \
    static int fz_sign_##alg_(const cdtls_provider *p, const cdtls_sign_key *key, const uint8_t *msg, \
                              size_t msg_len, uint8_t *sig, size_t *sig_len)                          \
    {                                                                                                 \
        return fz_sign(p, key, alg_, msg, msg_len, sig, sig_len);                                     \
    }                                                                                                 \
    static int fz_verify_##alg_(const cdtls_public_key *pub, const uint8_t *msg, size_t msg_len,      \
                                const uint8_t *sig, size_t sig_len)                                   \
    {                                                                                                 \
        return fz_verify(alg_, pub, msg, msg_len, sig, sig_len);                                      \
    }

FZ_SIG(CDTLS_SIG_ECDSA_SHA256)
FZ_SIG(CDTLS_SIG_ECDSA_SHA384)
FZ_SIG(CDTLS_SIG_ECDSA_SHA512)
FZ_SIG(CDTLS_SIG_RSA_PKCS1_SHA256)
FZ_SIG(CDTLS_SIG_RSA_PKCS1_SHA384)
FZ_SIG(CDTLS_SIG_RSA_PKCS1_SHA512)
FZ_SIG(CDTLS_SIG_RSA_PSS_RSAE_SHA256)
FZ_SIG(CDTLS_SIG_RSA_PSS_RSAE_SHA384)
FZ_SIG(CDTLS_SIG_RSA_PSS_RSAE_SHA512)
FZ_SIG(CDTLS_SIG_ED25519)

typedef int (*fz_sign_fn)(const cdtls_provider *, const cdtls_sign_key *, const uint8_t *, size_t, uint8_t *,
                          size_t *);
typedef int (*fz_verify_fn)(const cdtls_public_key *, const uint8_t *, size_t, const uint8_t *, size_t);
#define FZ_SIG_FNS(alg_) [alg_] = {fz_sign_##alg_, fz_verify_##alg_}
static const struct {
    fz_sign_fn sign;
    fz_verify_fn verify;
} fz_sig_fns[CDTLS_SIG__COUNT] = {
    FZ_SIG_FNS(CDTLS_SIG_ECDSA_SHA256),        FZ_SIG_FNS(CDTLS_SIG_ECDSA_SHA384),
    FZ_SIG_FNS(CDTLS_SIG_ECDSA_SHA512),        FZ_SIG_FNS(CDTLS_SIG_RSA_PKCS1_SHA256),
    FZ_SIG_FNS(CDTLS_SIG_RSA_PKCS1_SHA384),    FZ_SIG_FNS(CDTLS_SIG_RSA_PKCS1_SHA512),
    FZ_SIG_FNS(CDTLS_SIG_RSA_PSS_RSAE_SHA256), FZ_SIG_FNS(CDTLS_SIG_RSA_PSS_RSAE_SHA384),
    FZ_SIG_FNS(CDTLS_SIG_RSA_PSS_RSAE_SHA512), FZ_SIG_FNS(CDTLS_SIG_ED25519),
};
static cdtls_sig_vt fz_sigs[CDTLS_SIG__COUNT];

static int fz_wrap_key(const cdtls_allocator *a, cdtls_sign_key *real, cdtls_sign_key **out)
{
    cdtls_public_key pub;
    int rc = fz_real->sign_key_public(real, &pub);
    if (rc == CDTLS_OK && (pub.data_len > sizeof((*out)->pub_data) || pub.rsa_e_len > sizeof((*out)->rsa_e)))
        rc = CDTLS_ERR_BAD_KEY;
    cdtls_sign_key *k = rc == CDTLS_OK ? a->alloc(a->ctx, sizeof *k) : NULL;
    if (!k) {
        fz_real->sign_key_free(a, real);
        return rc == CDTLS_OK ? CDTLS_ERR_NOMEM : rc;
    }
    memset(k, 0, sizeof *k);
    k->real = real;
    k->pub = pub;
    memcpy(k->pub_data, pub.data, pub.data_len);
    k->pub.data = k->pub_data;
    if (pub.rsa_e) {
        memcpy(k->rsa_e, pub.rsa_e, pub.rsa_e_len);
        k->pub.rsa_e = k->rsa_e;
    }
    *out = k;
    return CDTLS_OK;
}

static int fz_sign_key_new(const cdtls_provider *p, const cdtls_allocator *a,
                           const cdtls_private_key_params *params, cdtls_sign_key **out)
{
    (void)p;
    cdtls_sign_key *real;
    int rc = fz_real->sign_key_new(fz_real, a, params, &real);
    return rc == CDTLS_OK ? fz_wrap_key(a, real, out) : rc;
}

static int fz_sign_key_generate(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                                cdtls_sign_key **out)
{
    cdtls_sign_key *real;
    int rc = fz_real->sign_key_generate(p, a, type, &real);
    return rc == CDTLS_OK ? fz_wrap_key(a, real, out) : rc;
}

static int fz_sign_key_public(const cdtls_sign_key *key, cdtls_public_key *out)
{
    *out = key->pub;
    return CDTLS_OK;
}

static void fz_sign_key_free(const cdtls_allocator *a, cdtls_sign_key *key)
{
    if (!key) return;
    fz_real->sign_key_free(a, key->real);
    cdtls_memzero(key, sizeof *key);
    a->free(a->ctx, key, sizeof *key);
}

const cdtls_provider *cdtls_provider_fuzz_crypto(void)
{
    if (fz_real) return &fz_table;
    const cdtls_provider *real = cdtls_provider_default();
    fz_real = real;
    fz_table = *real;
    fz_table.name = "fuzz";
    /* only what the real provider has: a build's suites and groups stay
     * the ones it would negotiate */
    for (int i = 0; i < CDTLS_HASH__COUNT; i++) fz_table.hmac[i] = real->hmac[i] ? fz_hmacs[i] : NULL;
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++) fz_table.aead[i] = real->aead[i] ? fz_aeads[i] : NULL;
    fz_table.cbc[CDTLS_CBC_AES_128] = real->cbc[CDTLS_CBC_AES_128] ? &fz_cbc128 : NULL;
    fz_table.cbc[CDTLS_CBC_AES_256] = real->cbc[CDTLS_CBC_AES_256] ? &fz_cbc256 : NULL;
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++) fz_table.kx[i] = real->kx[i] ? fz_kxs[i] : NULL;
    for (int i = 0; i < CDTLS_SN_MASK__COUNT; i++)
        fz_table.sn_mask[i] = real->sn_mask[i] ? fz_sn_masks[i] : NULL;
    fz_table.kem[CDTLS_KEM_MLKEM768] = real->kem[CDTLS_KEM_MLKEM768] ? &fz_mlkem768 : NULL;
    for (int i = 0; i < CDTLS_SIG__COUNT; i++) {
        if (!real->sig[i]) {
            fz_table.sig[i] = NULL;
            continue;
        }
        fz_sigs[i] = *real->sig[i];
        fz_sigs[i].sign = fz_sig_fns[i].sign;
        fz_sigs[i].verify = fz_sig_fns[i].verify;
        fz_table.sig[i] = &fz_sigs[i];
    }
    if (real->sign_key_new) {
        fz_table.sign_key_new = fz_sign_key_new;
        fz_table.sign_key_generate = real->sign_key_generate ? fz_sign_key_generate : NULL;
        fz_table.sign_key_public = fz_sign_key_public;
        fz_table.sign_key_free = fz_sign_key_free;
    }
    return &fz_table;
}
