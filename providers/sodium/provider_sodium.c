/* The libsodium crypto provider (libsodium 1.0.18 or later): random,
 * SHA-256/512, HMAC-SHA-256/512, ChaCha20-Poly1305 (IETF), AES-256-GCM where
 * the CPU has AES-NI + CLMUL, X25519, Ed25519, and ML-KEM-768 with
 * libsodium 1.0.22 or later.
 *
 * libsodium has no SHA-1 or SHA-384, no AES-128, no AES-CCM or AES-CBC, no
 * NIST curves, no ECDSA and no RSA: those vtable entries stay NULL and the
 * core never negotiates what needs them. See README.md here.
 *
 * State: none of our own. The two provider tables are const; which one
 * cdtls_provider_sodium() returns depends only on what libsodium reports
 * about the CPU after sodium_init(). */
#include <sodium.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "cdtls/provider.h"
#include "common/mem.h"

#define SOD_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

/* Hash and HMAC states live directly in the cdtls context unions; they hold
 * only integers and byte arrays (no pointers), so they are memcpy-copyable as
 * the contract requires. */
SOD_STATIC_ASSERT(sizeof(crypto_hash_sha256_state) <= CDTLS_HASH_CTX_SIZE, "sha256 state fits");
SOD_STATIC_ASSERT(sizeof(crypto_hash_sha512_state) <= CDTLS_HASH_CTX_SIZE, "sha512 state fits");
SOD_STATIC_ASSERT(alignof(crypto_hash_sha256_state) <= alignof(cdtls_hash_ctx), "sha256 align");
SOD_STATIC_ASSERT(alignof(crypto_hash_sha512_state) <= alignof(cdtls_hash_ctx), "sha512 align");
SOD_STATIC_ASSERT(sizeof(crypto_auth_hmacsha256_state) <= CDTLS_HMAC_CTX_SIZE, "hmac256 fits");
SOD_STATIC_ASSERT(sizeof(crypto_auth_hmacsha512_state) <= CDTLS_HMAC_CTX_SIZE, "hmac512 fits");
SOD_STATIC_ASSERT(alignof(crypto_auth_hmacsha256_state) <= alignof(cdtls_hmac_ctx), "hmac256 align");
SOD_STATIC_ASSERT(alignof(crypto_auth_hmacsha512_state) <= alignof(cdtls_hmac_ctx), "hmac512 align");

SOD_STATIC_ASSERT(crypto_hash_sha256_BYTES == 32 && crypto_hash_sha512_BYTES == 64, "digests");
SOD_STATIC_ASSERT(crypto_auth_hmacsha256_BYTES == 32 && crypto_auth_hmacsha512_BYTES == 64, "macs");

/* ------------------------------------------------------------------ random */

static int sod_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    (void)self;
    if (!len) return CDTLS_OK;
    if (!out) return CDTLS_ERR_INVALID_ARG;
    randombytes_buf(out, len);
    return CDTLS_OK;
}

/* ------------------------------------------------------------------ hashes */

static crypto_hash_sha256_state *sod_sha256_state(cdtls_hash_ctx *ctx)
{
    return (crypto_hash_sha256_state *)(void *)ctx->opaque;
}

static crypto_hash_sha512_state *sod_sha512_state(cdtls_hash_ctx *ctx)
{
    return (crypto_hash_sha512_state *)(void *)ctx->opaque;
}

static void sod_sha256_init(cdtls_hash_ctx *ctx)
{
    crypto_hash_sha256_init(sod_sha256_state(ctx));
}

static void sod_sha256_update(cdtls_hash_ctx *ctx, const void *data, size_t len)
{
    if (!len) return;
    crypto_hash_sha256_update(sod_sha256_state(ctx), data, len);
}

/* libsodium's final consumes (and wipes) the state; the contract says final
 * must not modify ctx (the transcript is read and then continued), so
 * finalize a local copy and wipe the copy. */
static void sod_sha256_final(const cdtls_hash_ctx *ctx, uint8_t *out)
{
    crypto_hash_sha256_state copy;
    memcpy(&copy, ctx->opaque, sizeof copy);
    crypto_hash_sha256_final(&copy, out);
    sodium_memzero(&copy, sizeof copy);
}

static void sod_sha512_init(cdtls_hash_ctx *ctx)
{
    crypto_hash_sha512_init(sod_sha512_state(ctx));
}

static void sod_sha512_update(cdtls_hash_ctx *ctx, const void *data, size_t len)
{
    if (!len) return;
    crypto_hash_sha512_update(sod_sha512_state(ctx), data, len);
}

static void sod_sha512_final(const cdtls_hash_ctx *ctx, uint8_t *out)
{
    crypto_hash_sha512_state copy;
    memcpy(&copy, ctx->opaque, sizeof copy);
    crypto_hash_sha512_final(&copy, out);
    sodium_memzero(&copy, sizeof copy);
}

static const cdtls_hash_vt sod_sha256 = {CDTLS_HASH_SHA256, "SHA-256",       32, 64, sod_sha256_init,
                                         sod_sha256_update, sod_sha256_final};
static const cdtls_hash_vt sod_sha512 = {CDTLS_HASH_SHA512, "SHA-512",       64, 128, sod_sha512_init,
                                         sod_sha512_update, sod_sha512_final};

/* -------------------------------------------------------------------- HMAC */

/* libsodium's HMAC init takes any key length (longer than the block: hashed
 * first, RFC 2104). An empty key may come as NULL; hand libsodium a valid
 * pointer anyway. */

static crypto_auth_hmacsha256_state *sod_hmac256_state(cdtls_hmac_ctx *ctx)
{
    return (crypto_auth_hmacsha256_state *)(void *)ctx->opaque;
}

static crypto_auth_hmacsha512_state *sod_hmac512_state(cdtls_hmac_ctx *ctx)
{
    return (crypto_auth_hmacsha512_state *)(void *)ctx->opaque;
}

static void sod_hmac256_init(cdtls_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    const uint8_t empty = 0;
    crypto_auth_hmacsha256_init(sod_hmac256_state(ctx), key_len ? key : &empty, key_len);
}

static void sod_hmac256_update(cdtls_hmac_ctx *ctx, const void *data, size_t len)
{
    if (!len) return;
    crypto_auth_hmacsha256_update(sod_hmac256_state(ctx), data, len);
}

/* Writes the MAC and wipes the whole context. */
static void sod_hmac256_final(cdtls_hmac_ctx *ctx, uint8_t *out)
{
    crypto_auth_hmacsha256_final(sod_hmac256_state(ctx), out);
    sodium_memzero(ctx, sizeof *ctx);
}

static void sod_hmac512_init(cdtls_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    const uint8_t empty = 0;
    crypto_auth_hmacsha512_init(sod_hmac512_state(ctx), key_len ? key : &empty, key_len);
}

static void sod_hmac512_update(cdtls_hmac_ctx *ctx, const void *data, size_t len)
{
    if (!len) return;
    crypto_auth_hmacsha512_update(sod_hmac512_state(ctx), data, len);
}

static void sod_hmac512_final(cdtls_hmac_ctx *ctx, uint8_t *out)
{
    crypto_auth_hmacsha512_final(sod_hmac512_state(ctx), out);
    sodium_memzero(ctx, sizeof *ctx);
}

static const cdtls_hmac_vt sod_hmac256 = {CDTLS_HASH_SHA256, "HMAC-SHA-256",     32,
                                          sod_hmac256_init,  sod_hmac256_update, sod_hmac256_final};
static const cdtls_hmac_vt sod_hmac512 = {CDTLS_HASH_SHA512, "HMAC-SHA-512",     64,
                                          sod_hmac512_init,  sod_hmac512_update, sod_hmac512_final};

/* -------------------------------------------------------------------- AEAD */

SOD_STATIC_ASSERT(crypto_aead_chacha20poly1305_ietf_KEYBYTES == 32, "chacha key");
SOD_STATIC_ASSERT(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == CDTLS_AEAD_NONCE_LEN, "chacha nonce");
SOD_STATIC_ASSERT(crypto_aead_chacha20poly1305_ietf_ABYTES == CDTLS_AEAD_MAX_TAG, "chacha tag");
SOD_STATIC_ASSERT(crypto_aead_chacha20poly1305_ietf_KEYBYTES <= CDTLS_AEAD_CTX_SIZE, "chacha fits");

static void sod_aead_clear(cdtls_aead_ctx *ctx)
{
    if (ctx) sodium_memzero(ctx, sizeof *ctx);
}

/* ChaCha20-Poly1305 (RFC 8439): the context holds the 32-byte key. libsodium
 * allows c == m, and the detached form writes the tag after the ciphertext,
 * so seal and open work in place. */
static int sod_chacha_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx) return CDTLS_ERR_INVALID_ARG;
    if (key_len != crypto_aead_chacha20poly1305_ietf_KEYBYTES) return CDTLS_ERR_KEY_SIZE;
    if (!key) return CDTLS_ERR_INVALID_ARG;
    memcpy(ctx->opaque, key, key_len);
    return CDTLS_OK;
}

static int sod_chacha_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (!ctx || !out) return CDTLS_ERR_INVALID_ARG;
    if (nonce_len != crypto_aead_chacha20poly1305_ietf_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    if (!nonce || (!in && in_len) || (!aad && aad_len)) return CDTLS_ERR_INVALID_ARG;
    if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + in_len, NULL, in, in_len, aad, aad_len,
                                                           NULL, nonce, ctx->opaque) != 0) {
        sodium_memzero(out, in_len + crypto_aead_chacha20poly1305_ietf_ABYTES);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

static int sod_chacha_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    const size_t tag = crypto_aead_chacha20poly1305_ietf_ABYTES;
    if (!ctx) return CDTLS_ERR_INVALID_ARG;
    if (nonce_len != crypto_aead_chacha20poly1305_ietf_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    if (in_len < tag) return CDTLS_ERR_AUTH;
    if (!nonce || !in || !out || (!aad && aad_len)) return CDTLS_ERR_INVALID_ARG;
    /* libsodium checks the tag in constant time before it decrypts. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, in_len - tag, in + in_len - tag,
                                                           aad, aad_len, nonce, ctx->opaque) != 0) {
        sodium_memzero(out, in_len - tag);
        return CDTLS_ERR_AUTH;
    }
    return CDTLS_OK;
}

static const cdtls_aead_vt sod_chacha = {CDTLS_AEAD_CHACHA20_POLY1305,
                                         "ChaCha20-Poly1305",
                                         32,
                                         12,
                                         16,
                                         sod_chacha_init,
                                         sod_chacha_seal,
                                         sod_chacha_open,
                                         sod_aead_clear};

/* ------------------------------------------- record number masks (DTLS 1.3) */

/* RFC 9147 §4.2.3 for TLS_CHACHA20_POLY1305_SHA256: the ChaCha20 block
 * function with the first 4 sample bytes as the (little-endian) block
 * counter and the next 12 as the nonce, which is what
 * crypto_stream_chacha20_ietf_xor_ic computes over 16 zero bytes. The AES
 * masks (AES-ECB of one block) have no libsodium primitive: its AES exists
 * only inside crypto_aead_aes256gcm, whose counter blocks cannot be chosen,
 * so this provider has no AES entries and lacks the DTLS 1.3 AES suites. */
SOD_STATIC_ASSERT(crypto_stream_chacha20_ietf_KEYBYTES == 32, "chacha20 key");
SOD_STATIC_ASSERT(crypto_stream_chacha20_ietf_NONCEBYTES == 12, "chacha20 nonce");

static int sod_sn_chacha_init(cdtls_sn_mask_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != crypto_stream_chacha20_ietf_KEYBYTES) return CDTLS_ERR_KEY_SIZE;
    memcpy(ctx->opaque, key, key_len);
    return CDTLS_OK;
}

static int sod_sn_chacha_mask(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out)
{
    if (!ctx || !sample || !out) return CDTLS_ERR_INVALID_ARG;
    static const uint8_t zero[16] = {0};
    uint32_t counter = (uint32_t)sample[0] | (uint32_t)sample[1] << 8 | (uint32_t)sample[2] << 16 |
                       (uint32_t)sample[3] << 24;
    uint8_t nonce[12], block[16];
    memcpy(nonce, sample + 4, 12); /* sample may alias out */
    if (crypto_stream_chacha20_ietf_xor_ic(block, zero, 16, nonce, counter, ctx->opaque) != 0)
        return CDTLS_ERR_CRYPTO;
    memcpy(out, block, 16);
    return CDTLS_OK;
}

static void sod_sn_clear(cdtls_sn_mask_ctx *ctx)
{
    if (ctx) sodium_memzero(ctx, sizeof *ctx);
}

static const cdtls_sn_mask_vt sod_sn_chacha = {CDTLS_SN_MASK_CHACHA20, "ChaCha20",         32,
                                               sod_sn_chacha_init,     sod_sn_chacha_mask, sod_sn_clear};

/* AES-256-GCM: libsodium's expanded-key state (crypto_aead_aes256gcm_beforenm)
 * lives in the context. It must be 16-byte aligned. The union is aligned for
 * max_align_t, which is 16 on x86-64 (the only place libsodium 1.0.18 offers
 * AES-GCM), so the state normally sits at offset 0. Where max_align_t is less
 * aligned, the state is placed at the first suitably aligned offset; the
 * context is never moved after init (the contract), so init and seal/open
 * find it at the same place. The assert checks that the worst-case offset
 * still fits. */
#define SOD_GCM_ALIGN alignof(crypto_aead_aes256gcm_state)
SOD_STATIC_ASSERT((SOD_GCM_ALIGN & (SOD_GCM_ALIGN - 1u)) == 0, "gcm state alignment is a power of 2");
SOD_STATIC_ASSERT(sizeof(crypto_aead_aes256gcm_state) +
                          (alignof(cdtls_aead_ctx) >= SOD_GCM_ALIGN ? 0u : SOD_GCM_ALIGN - 1u) <=
                      CDTLS_AEAD_CTX_SIZE,
                  "aes256gcm state (plus alignment slack) fits cdtls_aead_ctx");
SOD_STATIC_ASSERT(crypto_aead_aes256gcm_KEYBYTES == 32, "gcm key");
SOD_STATIC_ASSERT(crypto_aead_aes256gcm_NPUBBYTES == CDTLS_AEAD_NONCE_LEN, "gcm nonce");
SOD_STATIC_ASSERT(crypto_aead_aes256gcm_ABYTES == CDTLS_AEAD_MAX_TAG, "gcm tag");

static size_t sod_gcm_offset(const cdtls_aead_ctx *ctx)
{
    const size_t mis = (size_t)((uintptr_t)(const void *)ctx->opaque % SOD_GCM_ALIGN);
    return mis ? SOD_GCM_ALIGN - mis : 0u;
}

static crypto_aead_aes256gcm_state *sod_gcm_state(cdtls_aead_ctx *ctx)
{
    return (crypto_aead_aes256gcm_state *)(void *)(ctx->opaque + sod_gcm_offset(ctx));
}

static const crypto_aead_aes256gcm_state *sod_gcm_cstate(const cdtls_aead_ctx *ctx)
{
    return (const crypto_aead_aes256gcm_state *)(const void *)(ctx->opaque + sod_gcm_offset(ctx));
}

static int sod_aesgcm_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx) return CDTLS_ERR_INVALID_ARG;
    if (key_len != crypto_aead_aes256gcm_KEYBYTES) return CDTLS_ERR_KEY_SIZE;
    if (!key) return CDTLS_ERR_INVALID_ARG;
    if (crypto_aead_aes256gcm_beforenm(sod_gcm_state(ctx), key) != 0) {
        sodium_memzero(ctx, sizeof *ctx);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

static int sod_aesgcm_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (!ctx || !out) return CDTLS_ERR_INVALID_ARG;
    if (nonce_len != crypto_aead_aes256gcm_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    if (!nonce || (!in && in_len) || (!aad && aad_len)) return CDTLS_ERR_INVALID_ARG;
    if (crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + in_len, NULL, in, in_len, aad, aad_len,
                                                       NULL, nonce, sod_gcm_cstate(ctx)) != 0) {
        sodium_memzero(out, in_len + crypto_aead_aes256gcm_ABYTES);
        return CDTLS_ERR_CRYPTO; /* message longer than GCM allows */
    }
    return CDTLS_OK;
}

static int sod_aesgcm_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    const size_t tag = crypto_aead_aes256gcm_ABYTES;
    if (!ctx) return CDTLS_ERR_INVALID_ARG;
    if (nonce_len != crypto_aead_aes256gcm_NPUBBYTES) return CDTLS_ERR_NONCE_SIZE;
    if (in_len < tag) return CDTLS_ERR_AUTH;
    if (!nonce || !in || !out || (!aad && aad_len)) return CDTLS_ERR_INVALID_ARG;
    if (crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, in_len - tag, in + in_len - tag, aad,
                                                       aad_len, nonce, sod_gcm_cstate(ctx)) != 0) {
        sodium_memzero(out, in_len - tag);
        return CDTLS_ERR_AUTH;
    }
    return CDTLS_OK;
}

static const cdtls_aead_vt sod_aesgcm = {
    CDTLS_AEAD_AES_256_GCM, "AES-256-GCM", 32, 12, 16, sod_aesgcm_init, sod_aesgcm_seal,
    sod_aesgcm_open,        sod_aead_clear};

/* ------------------------------------------------------------------ X25519 */

/* cdtls_kx_key holds the 32-byte scalar as given; libsodium clamps it
 * (RFC 7748 §5) inside every scalar multiplication. */
SOD_STATIC_ASSERT(crypto_scalarmult_curve25519_SCALARBYTES == 32, "x25519 scalar");
SOD_STATIC_ASSERT(crypto_scalarmult_curve25519_BYTES == 32, "x25519 point");
SOD_STATIC_ASSERT(crypto_scalarmult_curve25519_SCALARBYTES <= CDTLS_KX_KEY_SIZE, "x25519 fits");

static int sod_x25519_import(cdtls_kx_key *key, const uint8_t *priv, size_t priv_len, uint8_t *pub)
{
    if (!key || !pub) return CDTLS_ERR_INVALID_ARG;
    if (!priv || priv_len != crypto_scalarmult_curve25519_SCALARBYTES) return CDTLS_ERR_BAD_KEY;
    sodium_memzero(key, sizeof *key);
    memcpy(key->opaque, priv, priv_len);
    if (crypto_scalarmult_curve25519_base(pub, key->opaque) != 0) {
        sodium_memzero(key, sizeof *key);
        sodium_memzero(pub, crypto_scalarmult_curve25519_BYTES);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

static int sod_x25519_keygen(const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub)
{
    uint8_t scalar[crypto_scalarmult_curve25519_SCALARBYTES];
    int rc;
    if (!p || !p->random || !key || !pub) return CDTLS_ERR_INVALID_ARG;
    /* From the provider's random entry, so a caller's deterministic source
     * (tests, fuzzing) gives deterministic keys. */
    rc = p->random(p, scalar, sizeof scalar);
    if (rc == CDTLS_OK) rc = sod_x25519_import(key, scalar, sizeof scalar, pub);
    sodium_memzero(scalar, sizeof scalar);
    return rc;
}

static int sod_x25519_derive(const cdtls_kx_key *key, const uint8_t *peer, size_t peer_len, uint8_t *shared)
{
    if (!key || !shared) return CDTLS_ERR_INVALID_ARG;
    if (!peer || peer_len != crypto_scalarmult_curve25519_BYTES) return CDTLS_ERR_BAD_KEY;
    /* libsodium returns -1 for an all-zero result (a small-order peer
     * point), which RFC 7748 §6.1 says to reject. */
    if (crypto_scalarmult_curve25519(shared, key->opaque, peer) != 0) {
        sodium_memzero(shared, crypto_scalarmult_curve25519_BYTES);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

static void sod_kx_clear(cdtls_kx_key *key)
{
    if (key) sodium_memzero(key, sizeof *key);
}

static const cdtls_kx_vt sod_x25519 = {
    CDTLS_GROUP_X25519, 29,          "X25519", 32, 32, sod_x25519_keygen, sod_x25519_import,
    sod_x25519_derive,  sod_kx_clear};

/* ----------------------------------------------------------------- Ed25519 */

SOD_STATIC_ASSERT(crypto_sign_ed25519_BYTES == 64, "ed25519 signature");
SOD_STATIC_ASSERT(crypto_sign_ed25519_SEEDBYTES == 32, "ed25519 seed");

/* The provider's private signing key: libsodium's 64-byte secret key
 * (seed || public key) and the public key, allocated with the caller's
 * allocator and wiped when freed. */
struct cdtls_sign_key {
    cdtls_key_type type;
    uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES];
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
    if (!out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if (!a || !params) return CDTLS_ERR_INVALID_ARG;
    if (params->type != CDTLS_KEY_ED25519) return CDTLS_ERR_UNSUPPORTED;
    if (!params->priv || params->priv_len != crypto_sign_ed25519_SEEDBYTES) return CDTLS_ERR_BAD_KEY;
    return sod_key_from_seed(a, params->priv, out);
}

static int sod_sign_key_generate(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                                 cdtls_sign_key **out)
{
    uint8_t seed[crypto_sign_ed25519_SEEDBYTES];
    int rc;
    if (!out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if (!p || !p->random || !a) return CDTLS_ERR_INVALID_ARG;
    if (type != CDTLS_KEY_ED25519) return CDTLS_ERR_UNSUPPORTED;
    /* The seed comes from the provider's random entry (not randombytes
     * directly), so a deterministic generator gives deterministic keys. */
    rc = p->random(p, seed, sizeof seed);
    if (rc == CDTLS_OK) rc = sod_key_from_seed(a, seed, out);
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
    unsigned long long n = 0;
    const uint8_t empty = 0;
    (void)p;
    if (!key || (!msg && msg_len) || !sig || !sig_len) return CDTLS_ERR_INVALID_ARG;
    if (key->type != CDTLS_KEY_ED25519) return CDTLS_ERR_BAD_KEY;
    if (*sig_len < crypto_sign_ed25519_BYTES) return CDTLS_ERR_BUFFER_TOO_SMALL;
    if (crypto_sign_ed25519_detached(sig, &n, msg_len ? msg : &empty, msg_len, key->sk) != 0) {
        sodium_memzero(sig, crypto_sign_ed25519_BYTES);
        return CDTLS_ERR_CRYPTO;
    }
    *sig_len = (size_t)n;
    return CDTLS_OK;
}

static int sod_ed25519_verify(const cdtls_public_key *pub, const uint8_t *msg, size_t msg_len,
                              const uint8_t *sig, size_t sig_len)
{
    const uint8_t empty = 0;
    if (!pub || (!msg && msg_len)) return CDTLS_ERR_INVALID_ARG;
    if (pub->type != CDTLS_KEY_ED25519 || !pub->data || pub->data_len != crypto_sign_ed25519_PUBLICKEYBYTES)
        return CDTLS_ERR_BAD_KEY;
    if (!sig || sig_len != crypto_sign_ed25519_BYTES) return CDTLS_ERR_SIGNATURE;
    return crypto_sign_ed25519_verify_detached(sig, msg_len ? msg : &empty, msg_len, pub->data) == 0
               ? CDTLS_OK
               : CDTLS_ERR_SIGNATURE;
}

static const cdtls_sig_vt sod_ed25519 = {CDTLS_SIG_ED25519, 0x0807,
                                         "ed25519",         CDTLS_KEY_BIT(CDTLS_KEY_ED25519),
                                         sod_ed25519_sign,  sod_ed25519_verify};

/* -------------------------------------------------------------- ML-KEM-768 */

/* libsodium has ML-KEM-768 from 1.0.22 on (crypto_kem_mlkem768_*); an older
 * libsodium (bookworm's 1.0.18) leaves the entry NULL and the build simply
 * lacks the X25519MLKEM768 group. build.zig compiles 1.0.22 from
 * third_party/ when the system's is older (docs/pq.md). */
#ifdef crypto_kem_mlkem768_PUBLICKEYBYTES

SOD_STATIC_ASSERT(crypto_kem_mlkem768_SECRETKEYBYTES <= CDTLS_KEM_KEY_SIZE, "ML-KEM-768 key fits");
SOD_STATIC_ASSERT(crypto_kem_mlkem768_PUBLICKEYBYTES == CDTLS_KEM_MAX_PUBLIC, "ML-KEM-768 ek");
SOD_STATIC_ASSERT(crypto_kem_mlkem768_CIPHERTEXTBYTES == CDTLS_KEM_MAX_CIPHERTEXT, "ML-KEM-768 ct");
SOD_STATIC_ASSERT(crypto_kem_mlkem768_SHAREDSECRETBYTES == CDTLS_KEM_MAX_SHARED, "ML-KEM-768 ss");
SOD_STATIC_ASSERT(crypto_kem_mlkem768_SEEDBYTES == CDTLS_KEM_MAX_KEYGEN_SEED, "ML-KEM-768 d || z");

/* The decapsulation key is libsodium's 2400-byte secret key (dk_PKE || ek ||
 * H(ek) || z, FIPS 203 Algorithm 16) at the start of the union. */
static int sod_mlkem_keygen_seed(cdtls_kem_key *key, const uint8_t *seed, size_t seed_len, uint8_t *pub)
{
    if (!key || !pub || !seed) return CDTLS_ERR_INVALID_ARG;
    if (seed_len != crypto_kem_mlkem768_SEEDBYTES) return CDTLS_ERR_KEY_SIZE;
    sodium_memzero(key, sizeof *key);
    if (crypto_kem_mlkem768_seed_keypair(pub, key->opaque, seed) != 0) {
        sodium_memzero(key, sizeof *key);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

static int sod_mlkem_keygen(const cdtls_provider *p, cdtls_kem_key *key, uint8_t *pub)
{
    uint8_t seed[crypto_kem_mlkem768_SEEDBYTES];
    int rc;
    if (!p || !p->random || !key || !pub) return CDTLS_ERR_INVALID_ARG;
    /* d || z from the provider's random (not randombytes), so a
     * deterministic generator gives deterministic keys, as for X25519. */
    rc = p->random(p, seed, sizeof seed);
    if (rc == CDTLS_OK) rc = sod_mlkem_keygen_seed(key, seed, sizeof seed, pub);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

static int sod_mlkem_encaps_seed(const uint8_t *pub, size_t pub_len, const uint8_t *seed, size_t seed_len,
                                 uint8_t *ct, uint8_t *shared)
{
    if (!ct || !shared || !seed) return CDTLS_ERR_INVALID_ARG;
    if (seed_len != 32) return CDTLS_ERR_KEY_SIZE;
    if (!pub || pub_len != crypto_kem_mlkem768_PUBLICKEYBYTES) return CDTLS_ERR_BAD_KEY;
    /* -1: the key fails the modulus check of FIPS 203 §7.2 (a coefficient
     * encoded >= q). */
    if (crypto_kem_mlkem768_enc_deterministic(ct, shared, pub, seed) != 0) {
        sodium_memzero(ct, crypto_kem_mlkem768_CIPHERTEXTBYTES);
        sodium_memzero(shared, crypto_kem_mlkem768_SHAREDSECRETBYTES);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

static int sod_mlkem_encaps(const cdtls_provider *p, const uint8_t *pub, size_t pub_len, uint8_t *ct,
                            uint8_t *shared)
{
    uint8_t m[32];
    int rc;
    if (!p || !p->random || !ct || !shared) return CDTLS_ERR_INVALID_ARG;
    if (!pub || pub_len != crypto_kem_mlkem768_PUBLICKEYBYTES) return CDTLS_ERR_BAD_KEY;
    rc = p->random(p, m, sizeof m);
    if (rc == CDTLS_OK) rc = sod_mlkem_encaps_seed(pub, pub_len, m, sizeof m, ct, shared);
    sodium_memzero(m, sizeof m);
    return rc;
}

static int sod_mlkem_decaps(const cdtls_kem_key *key, const uint8_t *ct, size_t ct_len, uint8_t *shared)
{
    if (!key || !shared) return CDTLS_ERR_INVALID_ARG;
    if (!ct || ct_len != crypto_kem_mlkem768_CIPHERTEXTBYTES) return CDTLS_ERR_BAD_KEY;
    /* Implicit rejection (FIPS 203 Algorithm 18): a ciphertext that does not
     * re-encrypt to itself yields J(z || c), not an error; libsodium
     * compares and selects in constant time. */
    if (crypto_kem_mlkem768_dec(shared, ct, key->opaque) != 0) {
        sodium_memzero(shared, crypto_kem_mlkem768_SHAREDSECRETBYTES);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

static void sod_kem_clear(cdtls_kem_key *key)
{
    if (key) sodium_memzero(key, sizeof *key);
}

static const cdtls_kem_vt sod_mlkem768 = {CDTLS_KEM_MLKEM768,
                                          "ML-KEM-768",
                                          crypto_kem_mlkem768_PUBLICKEYBYTES,
                                          crypto_kem_mlkem768_CIPHERTEXTBYTES,
                                          crypto_kem_mlkem768_SHAREDSECRETBYTES,
                                          crypto_kem_mlkem768_SEEDBYTES,
                                          32,
                                          sod_mlkem_keygen,
                                          sod_mlkem_keygen_seed,
                                          sod_mlkem_encaps,
                                          sod_mlkem_encaps_seed,
                                          sod_mlkem_decaps,
                                          sod_kem_clear};
#define SOD_KEM_ENTRY &sod_mlkem768
#else
#define SOD_KEM_ENTRY NULL
#endif

/* ---------------------------------------------------------------- provider */

#define SOD_PROVIDER(aes256gcm_entry)                                                                       \
    {                                                                                                       \
        .abi_version = CDTLS_PROVIDER_ABI_VERSION, .name = "sodium", .random = sod_random,                  \
        .hash = {[CDTLS_HASH_SHA256] = &sod_sha256, [CDTLS_HASH_SHA512] = &sod_sha512},                     \
        .hmac = {[CDTLS_HASH_SHA256] = &sod_hmac256, [CDTLS_HASH_SHA512] = &sod_hmac512},                   \
        .aead = {[CDTLS_AEAD_AES_256_GCM] = aes256gcm_entry, [CDTLS_AEAD_CHACHA20_POLY1305] = &sod_chacha}, \
        .cbc = {NULL}, .kx = {[CDTLS_GROUP_X25519] = &sod_x25519},                                          \
        .sig = {[CDTLS_SIG_ED25519] = &sod_ed25519}, .sign_key_new = sod_sign_key_new,                      \
        .sign_key_generate = sod_sign_key_generate, .sign_key_public = sod_sign_key_public,                 \
        .sign_key_free = sod_sign_key_free, .user = NULL,                                                   \
        .sn_mask = {[CDTLS_SN_MASK_CHACHA20] = &sod_sn_chacha},                                             \
        .kem = {[CDTLS_KEM_MLKEM768] = SOD_KEM_ENTRY},                                                      \
    }

/* Two tables, both const: libsodium offers AES-256-GCM only on CPUs with
 * AES-NI and CLMUL, which it can tell only after sodium_init(). */
static const cdtls_provider sod_with_aesgcm = SOD_PROVIDER(&sod_aesgcm);
static const cdtls_provider sod_without_aesgcm = SOD_PROVIDER(NULL);

/* Returns NULL if sodium_init() fails (-1: libsodium could not initialise,
 * e.g. no usable entropy source); there is no provider then. sodium_init()
 * is idempotent and thread-safe (0 first time, 1 afterwards). */
const cdtls_provider *cdtls_provider_sodium(void)
{
    if (sodium_init() < 0) return NULL;
    return crypto_aead_aes256gcm_is_available() ? &sod_with_aesgcm : &sod_without_aesgcm;
}
