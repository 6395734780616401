/* The libsodium crypto provider: random, SHA-256/512, HMAC-SHA-256/512,
 * ChaCha20-Poly1305 (IETF), AES-256-GCM where the CPU has AES-NI + CLMUL,
 * X25519 and Ed25519. libsodium has no SHA-1/SHA-384, no AES-128, CCM or
 * CBC, no NIST curves, ECDSA or RSA: those entries stay NULL. */
#include <sodium.h>
#include <string.h>

#include "cdtls/provider.h"
#include "common/mem.h"

#define SOD_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

SOD_STATIC_ASSERT(sizeof(crypto_hash_sha256_state) <= CDTLS_HASH_CTX_SIZE, "sha256 state fits");
SOD_STATIC_ASSERT(sizeof(crypto_hash_sha512_state) <= CDTLS_HASH_CTX_SIZE, "sha512 state fits");
SOD_STATIC_ASSERT(sizeof(crypto_auth_hmacsha256_state) <= CDTLS_HMAC_CTX_SIZE, "hmac256 fits");
SOD_STATIC_ASSERT(sizeof(crypto_auth_hmacsha512_state) <= CDTLS_HMAC_CTX_SIZE, "hmac512 fits");

/* ------------------------------------------------------------------ random */

static int sod_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    (void)self;
    if (!out && len) return CDTLS_ERR_INVALID_ARG;
    randombytes_buf(out, len);
    return CDTLS_OK;
}

/* ------------------------------------------------------------------ hashes */

static void sod_sha256_init(cdtls_hash_ctx *ctx)
{
    crypto_hash_sha256_init((crypto_hash_sha256_state *)ctx->opaque);
}

static void sod_sha256_update(cdtls_hash_ctx *ctx, const void *data, size_t len)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)ctx->opaque, data, len);
}

/* libsodium's final consumes the state; the contract says final must not,
 * so finalize a copy. */
static void sod_sha256_final(const cdtls_hash_ctx *ctx, uint8_t *out)
{
    crypto_hash_sha256_state copy;
    memcpy(&copy, ctx->opaque, sizeof copy);
    crypto_hash_sha256_final(&copy, out);
    sodium_memzero(&copy, sizeof copy);
}

static void sod_sha512_init(cdtls_hash_ctx *ctx)
{
    crypto_hash_sha512_init((crypto_hash_sha512_state *)ctx->opaque);
}

static void sod_sha512_update(cdtls_hash_ctx *ctx, const void *data, size_t len)
{
    crypto_hash_sha512_update((crypto_hash_sha512_state *)ctx->opaque, data, len);
}

static void sod_sha512_final(const cdtls_hash_ctx *ctx, uint8_t *out)
{
    crypto_hash_sha512_state copy;
    memcpy(&copy, ctx->opaque, sizeof copy);
    crypto_hash_sha512_final(&copy, out);
    sodium_memzero(&copy, sizeof copy);
}

static const cdtls_hash_vt sod_sha256 = {CDTLS_HASH_SHA256, "SHA-256", 32, 64, sod_sha256_init,
                                         sod_sha256_update, sod_sha256_final};
static const cdtls_hash_vt sod_sha512 = {CDTLS_HASH_SHA512, "SHA-512", 64, 128, sod_sha512_init,
                                         sod_sha512_update, sod_sha512_final};

static void sod_hmac256_init(cdtls_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    crypto_auth_hmacsha256_init((crypto_auth_hmacsha256_state *)ctx->opaque, key, key_len);
}

static void sod_hmac256_update(cdtls_hmac_ctx *ctx, const void *data, size_t len)
{
    crypto_auth_hmacsha256_update((crypto_auth_hmacsha256_state *)ctx->opaque, data, len);
}

static void sod_hmac256_final(cdtls_hmac_ctx *ctx, uint8_t *out)
{
    crypto_auth_hmacsha256_final((crypto_auth_hmacsha256_state *)ctx->opaque, out);
    sodium_memzero(ctx, sizeof *ctx);
}

static void sod_hmac512_init(cdtls_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    crypto_auth_hmacsha512_init((crypto_auth_hmacsha512_state *)ctx->opaque, key, key_len);
}

static void sod_hmac512_update(cdtls_hmac_ctx *ctx, const void *data, size_t len)
{
    crypto_auth_hmacsha512_update((crypto_auth_hmacsha512_state *)ctx->opaque, data, len);
}

static void sod_hmac512_final(cdtls_hmac_ctx *ctx, uint8_t *out)
{
    crypto_auth_hmacsha512_final((crypto_auth_hmacsha512_state *)ctx->opaque, out);
    sodium_memzero(ctx, sizeof *ctx);
}

static const cdtls_hmac_vt sod_hmac256 = {CDTLS_HASH_SHA256, "HMAC-SHA-256", 32, sod_hmac256_init,
                                          sod_hmac256_update, sod_hmac256_final};
static const cdtls_hmac_vt sod_hmac512 = {CDTLS_HASH_SHA512, "HMAC-SHA-512", 64, sod_hmac512_init,
                                          sod_hmac512_update, sod_hmac512_final};

/* -------------------------------------------------------------------- AEAD */

/* ChaCha20-Poly1305: the context holds the 32-byte key. */
static int sod_chacha_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != crypto_aead_chacha20poly1305_ietf_KEYBYTES) return CDTLS_ERR_KEY_SIZE;
    memcpy(ctx->opaque, key, key_len);
    return CDTLS_OK;
}

static int sod_chacha_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                           uint8_t *out)
{
    if (nonce_len != crypto_aead_chacha20poly1305_ietf_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    /* Detached: in place works because ciphertext and plaintext have equal
     * length and the tag goes after them. */
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + in_len, NULL, in, in_len, aad,
                                                       aad_len, NULL, nonce, ctx->opaque);
    return CDTLS_OK;
}

static int sod_chacha_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                           uint8_t *out)
{
    const size_t tag = crypto_aead_chacha20poly1305_ietf_ABYTES;
    if (nonce_len != crypto_aead_chacha20poly1305_ietf_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    if (in_len < tag) return CDTLS_ERR_AUTH;
    /* libsodium verifies the tag (in constant time) before decrypting. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, in_len - tag,
                                                           in + in_len - tag, aad, aad_len,
                                                           nonce, ctx->opaque) != 0) {
        sodium_memzero(out, in_len - tag);
        return CDTLS_ERR_AUTH;
    }
    return CDTLS_OK;
}

static void sod_aead_clear(cdtls_aead_ctx *ctx)
{
    sodium_memzero(ctx, sizeof *ctx);
}

static const cdtls_aead_vt sod_chacha = {CDTLS_AEAD_CHACHA20_POLY1305, "ChaCha20-Poly1305", 32, 12,
                                         16, sod_chacha_init, sod_chacha_seal, sod_chacha_open,
                                         sod_aead_clear};

/* AES-256-GCM: the expanded key state lives in the context; it needs 16-byte
 * alignment, which the union's max_align_t member gives on the targets where
 * libsodium offers AES-GCM (x86-64). */
SOD_STATIC_ASSERT(sizeof(crypto_aead_aes256gcm_state) <= CDTLS_AEAD_CTX_SIZE, "aesgcm state fits");

static int sod_aesgcm_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != crypto_aead_aes256gcm_KEYBYTES) return CDTLS_ERR_KEY_SIZE;
    if (((uintptr_t)ctx->opaque & 15u) != 0) return CDTLS_ERR_UNSUPPORTED;
    crypto_aead_aes256gcm_beforenm((crypto_aead_aes256gcm_state *)(void *)ctx->opaque, key);
    return CDTLS_OK;
}

static int sod_aesgcm_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                           uint8_t *out)
{
    if (nonce_len != crypto_aead_aes256gcm_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    crypto_aead_aes256gcm_encrypt_detached_afternm(
        out, out + in_len, NULL, in, in_len, aad, aad_len, NULL, nonce,
        (const crypto_aead_aes256gcm_state *)(const void *)ctx->opaque);
    return CDTLS_OK;
}

static int sod_aesgcm_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                           uint8_t *out)
{
    const size_t tag = crypto_aead_aes256gcm_ABYTES;
    if (nonce_len != crypto_aead_aes256gcm_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    if (in_len < tag) return CDTLS_ERR_AUTH;
    if (crypto_aead_aes256gcm_decrypt_detached_afternm(
            out, NULL, in, in_len - tag, in + in_len - tag, aad, aad_len, nonce,
            (const crypto_aead_aes256gcm_state *)(const void *)ctx->opaque) != 0) {
        sodium_memzero(out, in_len - tag);
        return CDTLS_ERR_AUTH;
    }
    return CDTLS_OK;
}

static const cdtls_aead_vt sod_aesgcm = {CDTLS_AEAD_AES_256_GCM, "AES-256-GCM", 32, 12, 16,
                                         sod_aesgcm_init, sod_aesgcm_seal, sod_aesgcm_open,
                                         sod_aead_clear};

/* ------------------------------------------------------------------ X25519 */

/* cdtls_kx_key layout: the 32-byte scalar. */
static int sod_x25519_import(cdtls_kx_key *key, const uint8_t *priv, size_t priv_len, uint8_t *pub)
{
    if (!key || !priv || !pub) return CDTLS_ERR_INVALID_ARG;
    if (priv_len != crypto_scalarmult_curve25519_SCALARBYTES) return CDTLS_ERR_BAD_KEY;
    memcpy(key->opaque, priv, priv_len);
    /* crypto_scalarmult_curve25519_base clamps the scalar (RFC 7748 §5). */
    if (crypto_scalarmult_curve25519_base(pub, key->opaque) != 0) {
        sodium_memzero(key, sizeof *key);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

static int sod_x25519_keygen(const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub)
{
    uint8_t scalar[32];
    /* From the provider's random entry, so a caller's deterministic source
     * (tests, fuzzing) gives deterministic keys. */
    int rc = p->random(p, scalar, sizeof scalar);
    if (!rc) rc = sod_x25519_import(key, scalar, sizeof scalar, pub);
    sodium_memzero(scalar, sizeof scalar);
    return rc;
}

static int sod_x25519_derive(const cdtls_kx_key *key, const uint8_t *peer, size_t peer_len,
                             uint8_t *shared)
{
    if (!key || !peer || !shared) return CDTLS_ERR_INVALID_ARG;
    if (peer_len != crypto_scalarmult_curve25519_BYTES) return CDTLS_ERR_BAD_KEY;
    /* libsodium returns -1 for an all-zero result (a low-order point),
     * which RFC 7748 §6.1 says to reject. */
    if (crypto_scalarmult_curve25519(shared, key->opaque, peer) != 0) {
        sodium_memzero(shared, 32);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

static void sod_kx_clear(cdtls_kx_key *key)
{
    sodium_memzero(key, sizeof *key);
}

static const cdtls_kx_vt sod_x25519 = {CDTLS_GROUP_X25519, 29, "X25519", 32, 32,
                                       sod_x25519_keygen, sod_x25519_import, sod_x25519_derive,
                                       sod_kx_clear};

/* ----------------------------------------------------------------- Ed25519 */

struct cdtls_sign_key {
    cdtls_key_type type;
    uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES]; /* seed || public */
    uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
};

static int sod_key_from_seed(const cdtls_allocator *a, const uint8_t *seed, cdtls_sign_key **out)
{
    cdtls_sign_key *k = cdtls_alloc_zero(a, sizeof *k);
    if (!k) return CDTLS_ERR_NOMEM;
    k->type = CDTLS_KEY_ED25519;
    if (crypto_sign_ed25519_seed_keypair(k->pk, k->sk, seed) != 0) {
        cdtls_free_wipe(a, k, sizeof *k);
        return CDTLS_ERR_BAD_KEY;
    }
    *out = k;
    return CDTLS_OK;
}

static int sod_sign_key_new(const cdtls_provider *p, const cdtls_allocator *a,
                            const cdtls_private_key_params *params, cdtls_sign_key **out)
{
    (void)p;
    if (!a || !params || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if (params->type != CDTLS_KEY_ED25519) return CDTLS_ERR_UNSUPPORTED;
    if (!params->priv || params->priv_len != crypto_sign_ed25519_SEEDBYTES) return CDTLS_ERR_BAD_KEY;
    return sod_key_from_seed(a, params->priv, out);
}

static int sod_sign_key_generate(const cdtls_provider *p, const cdtls_allocator *a,
                                 cdtls_key_type type, cdtls_sign_key **out)
{
    if (!p || !a || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if (type != CDTLS_KEY_ED25519) return CDTLS_ERR_UNSUPPORTED;
    uint8_t seed[crypto_sign_ed25519_SEEDBYTES];
    int rc = p->random(p, seed, sizeof seed);
    if (!rc) rc = sod_key_from_seed(a, seed, out);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

static int sod_sign_key_public(const cdtls_sign_key *key, cdtls_public_key *out)
{
    if (!key || !out) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->type = key->type;
    out->data = key->pk;
    out->data_len = sizeof key->pk;
    return CDTLS_OK;
}

static void sod_sign_key_free(const cdtls_allocator *a, cdtls_sign_key *key)
{
    if (key) cdtls_free_wipe(a, key, sizeof *key);
}

static int sod_ed25519_sign(const cdtls_provider *p, const cdtls_sign_key *key, const uint8_t *msg,
                            size_t msg_len, uint8_t *sig, size_t *sig_len)
{
    (void)p;
    if (!key || (!msg && msg_len) || !sig || !sig_len) return CDTLS_ERR_INVALID_ARG;
    if (key->type != CDTLS_KEY_ED25519) return CDTLS_ERR_BAD_KEY;
    if (*sig_len < crypto_sign_ed25519_BYTES) return CDTLS_ERR_BUFFER_TOO_SMALL;
    unsigned long long n = 0;
    if (crypto_sign_ed25519_detached(sig, &n, msg, msg_len, key->sk) != 0) return CDTLS_ERR_CRYPTO;
    *sig_len = (size_t)n;
    return CDTLS_OK;
}

static int sod_ed25519_verify(const cdtls_public_key *pub, const uint8_t *msg, size_t msg_len,
                              const uint8_t *sig, size_t sig_len)
{
    if (!pub || (!msg && msg_len) || !sig) return CDTLS_ERR_INVALID_ARG;
    if (pub->type != CDTLS_KEY_ED25519 || !pub->data ||
        pub->data_len != crypto_sign_ed25519_PUBLICKEYBYTES)
        return CDTLS_ERR_BAD_KEY;
    if (sig_len != crypto_sign_ed25519_BYTES) return CDTLS_ERR_SIGNATURE;
    return crypto_sign_ed25519_verify_detached(sig, msg, msg_len, pub->data) == 0
               ? CDTLS_OK
               : CDTLS_ERR_SIGNATURE;
}

static const cdtls_sig_vt sod_ed25519 = {CDTLS_SIG_ED25519, 0x0807, "ed25519",
                                         CDTLS_KEY_BIT(CDTLS_KEY_ED25519), sod_ed25519_sign,
                                         sod_ed25519_verify};

/* ---------------------------------------------------------------- provider */

#define SOD_PROVIDER(aes256gcm_entry)                                                   \
    {                                                                                   \
        .abi_version = CDTLS_PROVIDER_ABI_VERSION,                                      \
        .name = "sodium",                                                               \
        .random = sod_random,                                                           \
        .hash = {[CDTLS_HASH_SHA256] = &sod_sha256, [CDTLS_HASH_SHA512] = &sod_sha512}, \
        .hmac = {[CDTLS_HASH_SHA256] = &sod_hmac256, [CDTLS_HASH_SHA512] = &sod_hmac512}, \
        .aead = {[CDTLS_AEAD_CHACHA20_POLY1305] = &sod_chacha,                          \
                 [CDTLS_AEAD_AES_256_GCM] = aes256gcm_entry},                           \
        .kx = {[CDTLS_GROUP_X25519] = &sod_x25519},                                     \
        .sig = {[CDTLS_SIG_ED25519] = &sod_ed25519},                                    \
        .sign_key_new = sod_sign_key_new,                                               \
        .sign_key_generate = sod_sign_key_generate,                                     \
        .sign_key_public = sod_sign_key_public,                                         \
        .sign_key_free = sod_sign_key_free,                                             \
    }

/* Two tables, both const: libsodium offers AES-256-GCM only on CPUs with
 * AES-NI and CLMUL, which it reports after sodium_init(). */
static const cdtls_provider sod_with_aesgcm = SOD_PROVIDER(&sod_aesgcm);
static const cdtls_provider sod_without_aesgcm = SOD_PROVIDER(NULL);

const cdtls_provider *cdtls_provider_sodium(void)
{
    /* sodium_init() is idempotent and thread-safe; -1 means libsodium could
     * not initialise (no entropy source), and there is no provider then. */
    if (sodium_init() < 0) return NULL;
    return crypto_aead_aes256gcm_is_available() ? &sod_with_aesgcm : &sod_without_aesgcm;
}
