/* AEADs (AES-GCM, AES-CCM, AES-CCM_8, ChaCha20-Poly1305) and AES-CBC for the
 * libcrypto provider, through EVP_CIPHER_CTX.
 *
 * EVP_CIPHER_CTXs are made per key, in init(), and kept (by pointer) in the
 * caller's context until clear(): the key schedule is expanded once, and a
 * record costs a nonce reset (EVP_CipherInit_ex with no cipher and no key
 * keeps the schedule) plus the update calls, with no allocation. An AEAD
 * key gets two, one per direction, because libcrypto may bind the direction
 * when the key is set (its AES-NI CCM picks the encrypt or decrypt stream
 * function then, and a context keyed for sealing cannot open). A
 * cdtls_aead_ctx is therefore usable by one thread at a time, as the record
 * layer uses it (one per epoch and direction of a connection).
 *
 * AES-NI, VAES/AVX-512 GCM, AVX2/AVX-512 ChaCha20 and Poly1305: libcrypto
 * picks them at run time from the CPU's capability bits. */
#include <limits.h>
#include <openssl/evp.h>
#include <string.h>

#include "common/mem.h"
#include "openssl_internal.h"

typedef enum ossl_aead_kind { OSSL_GCM, OSSL_CCM, OSSL_CHACHA } ossl_aead_kind;

typedef struct ossl_cipher_state {
    EVP_CIPHER_CTX *evp;     /* AEAD: seals; CBC: the direction init chose */
    EVP_CIPHER_CTX *evp_dec; /* AEAD: opens */
    ossl_aead_kind kind;
    int tag_len;
    int encrypt; /* CBC: the direction init fixed (the key schedules differ) */
} ossl_cipher_state;

_Static_assert(sizeof(ossl_cipher_state) <= CDTLS_AEAD_CTX_SIZE, "aead state fits");
_Static_assert(sizeof(ossl_cipher_state) <= CDTLS_CBC_CTX_SIZE, "cbc state fits");

static ossl_cipher_state *state_of(const void *opaque)
{
    return (ossl_cipher_state *)(uintptr_t)opaque;
}

/* EVP takes int lengths; records are at most 2^14 + expansion, but the
 * interface takes size_t. */
static int fits_int(size_t n)
{
    return n <= (size_t)INT_MAX - 64;
}

static const EVP_CIPHER *aead_cipher(cdtls_aead_alg alg)
{
    switch (alg) {
    case CDTLS_AEAD_AES_128_GCM: return EVP_aes_128_gcm();
    case CDTLS_AEAD_AES_256_GCM: return EVP_aes_256_gcm();
    case CDTLS_AEAD_AES_128_CCM:
    case CDTLS_AEAD_AES_128_CCM_8: return EVP_aes_128_ccm();
    case CDTLS_AEAD_AES_256_CCM:
    case CDTLS_AEAD_AES_256_CCM_8: return EVP_aes_256_ccm();
    case CDTLS_AEAD_CHACHA20_POLY1305: return EVP_chacha20_poly1305();
    default: return NULL;
    }
}

/* One direction's EVP context for alg, keyed; NULL on failure. */
static EVP_CIPHER_CTX *aead_evp(cdtls_aead_alg alg, ossl_aead_kind kind, int tag_len, const uint8_t *key,
                                int enc)
{
    EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
    int ok = e && EVP_CipherInit_ex(e, aead_cipher(alg), NULL, NULL, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_SET_IVLEN, CDTLS_AEAD_NONCE_LEN, NULL) == 1;
    /* CCM fixes the tag length M and the length-field size L = 15 - 12 into
     * its state when the key is set (RFC 3610 §2.2), so both come first. */
    if (ok && kind == OSSL_CCM) ok = EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_SET_TAG, tag_len, NULL) == 1;
    if (ok) ok = EVP_CipherInit_ex(e, NULL, NULL, key, NULL, enc) == 1;
    if (!ok) {
        EVP_CIPHER_CTX_free(e);
        return NULL;
    }
    return e;
}

static int aead_init(cdtls_aead_alg alg, size_t want_key, int tag_len, cdtls_aead_ctx *ctx,
                     const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    if (key_len != want_key) return CDTLS_ERR_KEY_SIZE;
    ossl_cipher_state *s = state_of(ctx->opaque);
    s->kind = alg == CDTLS_AEAD_CHACHA20_POLY1305                                ? OSSL_CHACHA
              : (alg == CDTLS_AEAD_AES_128_GCM || alg == CDTLS_AEAD_AES_256_GCM) ? OSSL_GCM
                                                                                 : OSSL_CCM;
    s->tag_len = tag_len;
    s->evp = aead_evp(alg, s->kind, tag_len, key, 1);
    s->evp_dec = s->evp ? aead_evp(alg, s->kind, tag_len, key, 0) : NULL;
    if (!s->evp_dec) {
        EVP_CIPHER_CTX_free(s->evp);
        cdtls_memzero(ctx, sizeof *ctx);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

/* Seal: in_len bytes of ciphertext then the tag into out. Open: verifies
 * the tag at in + ct_len; libcrypto compares it in constant time
 * (CRYPTO_memcmp) before reporting. */
static int aead_run(const cdtls_aead_ctx *ctx, int enc, const uint8_t *nonce, const uint8_t *aad,
                    size_t aad_len, const uint8_t *in, size_t ct_len, uint8_t *out)
{
    const ossl_cipher_state *s = state_of(ctx->opaque);
    EVP_CIPHER_CTX *e = enc ? s->evp : s->evp_dec;
    static const uint8_t empty[1];
    int n = 0, ok;
    if (!e) return CDTLS_ERR_BAD_STATE;
    if (!fits_int(ct_len) || !fits_int(aad_len)) return CDTLS_ERR_LENGTH;
    if (!in) in = empty;
    ok = EVP_CipherInit_ex(e, NULL, NULL, NULL, nonce, enc) == 1;
    if (ok && !enc) /* the expected tag, before any data (CCM checks it in the update) */
        ok = EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_SET_TAG, s->tag_len, (void *)(uintptr_t)(in + ct_len)) == 1;
    /* CCM authenticates the message length first (RFC 3610 §2.2, B_0). */
    if (ok && s->kind == OSSL_CCM) ok = EVP_CipherUpdate(e, NULL, &n, NULL, (int)ct_len) == 1;
    if (ok && aad_len) ok = EVP_CipherUpdate(e, NULL, &n, aad, (int)aad_len) == 1;
    if (ok && (ct_len || s->kind == OSSL_CCM)) ok = EVP_CipherUpdate(e, out, &n, in, (int)ct_len) == 1;
    if (ok && s->kind != OSSL_CCM) ok = EVP_CipherFinal_ex(e, out + ct_len, &n) == 1;
    if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, s->tag_len, out + ct_len) == 1;
    if (!ok) {
        if (ct_len) cdtls_memzero(out, ct_len);
        return enc ? CDTLS_ERR_CRYPTO : CDTLS_ERR_AUTH;
    }
    return CDTLS_OK;
}

static int aead_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                     size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (!ctx || !nonce || (!aad && aad_len) || (!in && in_len) || !out) return CDTLS_ERR_INVALID_ARG;
    if (nonce_len != CDTLS_AEAD_NONCE_LEN) return CDTLS_ERR_NONCE_SIZE;
    return aead_run(ctx, 1, nonce, aad, aad_len, in, in_len, out);
}

static int aead_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                     size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (!ctx || !nonce || (!aad && aad_len) || !in ||
        (!out && in_len > (size_t)state_of(ctx->opaque)->tag_len))
        return CDTLS_ERR_INVALID_ARG;
    if (nonce_len != CDTLS_AEAD_NONCE_LEN) return CDTLS_ERR_NONCE_SIZE;
    size_t tag = (size_t)state_of(ctx->opaque)->tag_len;
    if (in_len < tag) return CDTLS_ERR_AUTH;
    uint8_t dummy[1];
    return aead_run(ctx, 0, nonce, aad, aad_len, in, in_len - tag, out ? out : dummy);
}

/* EVP_CIPHER_CTX_free wipes the key schedule (OPENSSL_clear_free). */
static void cipher_clear(void *opaque, size_t size)
{
    ossl_cipher_state *s = state_of(opaque);
    EVP_CIPHER_CTX_free(s->evp);
    EVP_CIPHER_CTX_free(s->evp_dec);
    cdtls_memzero(opaque, size);
}

static void aead_clear(cdtls_aead_ctx *ctx)
{
    if (ctx) cipher_clear(ctx->opaque, sizeof ctx->opaque);
}

#define OSSL_AEAD(name_, alg_, label_, key_, tag_)                         \
    static int name_##_init(cdtls_aead_ctx *c, const uint8_t *k, size_t n) \
    {                                                                      \
        return aead_init(alg_, key_, tag_, c, k, n);                       \
    }                                                                      \
    const cdtls_aead_vt cdtls_ossl_##name_ = {                             \
        alg_, label_, key_, CDTLS_AEAD_NONCE_LEN, tag_, name_##_init, aead_seal, aead_open, aead_clear};

OSSL_AEAD(aes128gcm, CDTLS_AEAD_AES_128_GCM, "AES-128-GCM", 16, 16)
OSSL_AEAD(aes256gcm, CDTLS_AEAD_AES_256_GCM, "AES-256-GCM", 32, 16)
OSSL_AEAD(aes128ccm, CDTLS_AEAD_AES_128_CCM, "AES-128-CCM", 16, 16)
OSSL_AEAD(aes256ccm, CDTLS_AEAD_AES_256_CCM, "AES-256-CCM", 32, 16)
OSSL_AEAD(aes128ccm8, CDTLS_AEAD_AES_128_CCM_8, "AES-128-CCM_8", 16, 8)
OSSL_AEAD(aes256ccm8, CDTLS_AEAD_AES_256_CCM_8, "AES-256-CCM_8", 32, 8)
OSSL_AEAD(chacha, CDTLS_AEAD_CHACHA20_POLY1305, "ChaCha20-Poly1305", 32, 16)

/* ------------------------------------------------------------------ AES-CBC */

static int cbc_init(const EVP_CIPHER *cipher, size_t want_key, cdtls_cbc_ctx *ctx, int encrypt,
                    const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    if (key_len != want_key) return CDTLS_ERR_KEY_SIZE;
    ossl_cipher_state *s = state_of(ctx->opaque);
    s->encrypt = encrypt ? 1 : 0;
    s->evp = EVP_CIPHER_CTX_new();
    if (!s->evp) return CDTLS_ERR_NOMEM;
    /* No padding: the record layer pads and checks it (RFC 5246 §6.2.3.2). */
    if (EVP_CipherInit_ex(s->evp, cipher, NULL, key, NULL, encrypt ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_set_padding(s->evp, 0) != 1) {
        EVP_CIPHER_CTX_free(s->evp);
        cdtls_memzero(ctx, sizeof *ctx);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

/* The direction was fixed by init (enc = -1 keeps it); the other one is
 * refused, as the key schedule is the wrong one for it. */
static int cbc_run(const cdtls_cbc_ctx *ctx, const uint8_t *iv, uint8_t *data, size_t len, int encrypt)
{
    if (!ctx || !iv || (!data && len)) return CDTLS_ERR_INVALID_ARG;
    const ossl_cipher_state *s = state_of(ctx->opaque);
    if (s->encrypt != encrypt) return CDTLS_ERR_INVALID_ARG;
    if (len % 16) return CDTLS_ERR_LENGTH;
    if (!fits_int(len)) return CDTLS_ERR_LENGTH;
    EVP_CIPHER_CTX *e = s->evp;
    if (!e) return CDTLS_ERR_BAD_STATE;
    if (!len) return CDTLS_OK;
    int n = 0;
    if (EVP_CipherInit_ex(e, NULL, NULL, NULL, iv, -1) != 1 ||
        EVP_CipherUpdate(e, data, &n, data, (int)len) != 1 || (size_t)n != len)
        return CDTLS_ERR_CRYPTO;
    return CDTLS_OK;
}

static int cbc_encrypt(const cdtls_cbc_ctx *c, const uint8_t *iv, uint8_t *d, size_t n)
{
    return cbc_run(c, iv, d, n, 1);
}

static int cbc_decrypt(const cdtls_cbc_ctx *c, const uint8_t *iv, uint8_t *d, size_t n)
{
    return cbc_run(c, iv, d, n, 0);
}

static void cbc_clear(cdtls_cbc_ctx *ctx)
{
    if (ctx) cipher_clear(ctx->opaque, sizeof ctx->opaque);
}

static int cbc128_init(cdtls_cbc_ctx *c, int e, const uint8_t *k, size_t n)
{
    return cbc_init(EVP_aes_128_cbc(), 16, c, e, k, n);
}

static int cbc256_init(cdtls_cbc_ctx *c, int e, const uint8_t *k, size_t n)
{
    return cbc_init(EVP_aes_256_cbc(), 32, c, e, k, n);
}

const cdtls_cbc_vt cdtls_ossl_cbc128 = {CDTLS_CBC_AES_128, "AES-128-CBC", 16,          16,
                                        cbc128_init,       cbc_encrypt,   cbc_decrypt, cbc_clear};
const cdtls_cbc_vt cdtls_ossl_cbc256 = {CDTLS_CBC_AES_256, "AES-256-CBC", 32,          16,
                                        cbc256_init,       cbc_encrypt,   cbc_decrypt, cbc_clear};

/* ------------------------------------------- record number masks (DTLS 1.3) */

/* RFC 9147 §4.2.3. AES: one block of AES-ECB (no padding) under the sn_key,
 * the EVP context keyed once in init. ChaCha20: libcrypto's EVP_chacha20()
 * takes a 16-byte IV that is exactly the sample's layout (a 32-bit
 * little-endian block counter, then the 96-bit nonce), so the mask is that
 * IV set per record and 16 zero bytes encrypted. */
typedef struct ossl_sn_state {
    EVP_CIPHER_CTX *evp;
} ossl_sn_state;

_Static_assert(sizeof(ossl_sn_state) <= CDTLS_SN_MASK_CTX_SIZE, "sn mask state fits");

static int sn_init(const EVP_CIPHER *cipher, size_t want_key, cdtls_sn_mask_ctx *ctx, const uint8_t *key,
                   size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    if (key_len != want_key) return CDTLS_ERR_KEY_SIZE;
    ossl_sn_state *s = (ossl_sn_state *)(void *)ctx->opaque;
    s->evp = EVP_CIPHER_CTX_new();
    if (!s->evp) return CDTLS_ERR_NOMEM;
    if (EVP_EncryptInit_ex(s->evp, cipher, NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(s->evp, 0) != 1) {
        EVP_CIPHER_CTX_free(s->evp);
        cdtls_memzero(ctx, sizeof *ctx);
        return CDTLS_ERR_CRYPTO;
    }
    return CDTLS_OK;
}

static int sn_aes128_init(cdtls_sn_mask_ctx *c, const uint8_t *k, size_t n)
{
    return sn_init(EVP_aes_128_ecb(), 16, c, k, n);
}

static int sn_aes256_init(cdtls_sn_mask_ctx *c, const uint8_t *k, size_t n)
{
    return sn_init(EVP_aes_256_ecb(), 32, c, k, n);
}

static int sn_chacha_init(cdtls_sn_mask_ctx *c, const uint8_t *k, size_t n)
{
    return sn_init(EVP_chacha20(), 32, c, k, n);
}

static EVP_CIPHER_CTX *sn_evp(const cdtls_sn_mask_ctx *ctx)
{
    return ((const ossl_sn_state *)(const void *)ctx->opaque)->evp;
}

static int sn_aes_mask(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out)
{
    if (!ctx || !sample || !out) return CDTLS_ERR_INVALID_ARG;
    EVP_CIPHER_CTX *e = sn_evp(ctx);
    uint8_t block[16];
    int n = 0;
    if (!e) return CDTLS_ERR_BAD_STATE;
    if (EVP_EncryptUpdate(e, block, &n, sample, 16) != 1 || n != 16) return CDTLS_ERR_CRYPTO;
    memcpy(out, block, 16);
    return CDTLS_OK;
}

static int sn_chacha_mask(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out)
{
    if (!ctx || !sample || !out) return CDTLS_ERR_INVALID_ARG;
    EVP_CIPHER_CTX *e = sn_evp(ctx);
    static const uint8_t zero[16] = {0};
    uint8_t iv[16], block[16];
    int n = 0;
    if (!e) return CDTLS_ERR_BAD_STATE;
    memcpy(iv, sample, 16); /* sample may alias out */
    if (EVP_EncryptInit_ex(e, NULL, NULL, NULL, iv) != 1 || EVP_EncryptUpdate(e, block, &n, zero, 16) != 1 ||
        n != 16)
        return CDTLS_ERR_CRYPTO;
    memcpy(out, block, 16);
    return CDTLS_OK;
}

static void sn_clear(cdtls_sn_mask_ctx *ctx)
{
    if (!ctx) return;
    EVP_CIPHER_CTX_free(sn_evp(ctx)); /* wipes the key schedule */
    cdtls_memzero(ctx, sizeof *ctx);
}

const cdtls_sn_mask_vt cdtls_ossl_sn_aes128 = {CDTLS_SN_MASK_AES_128, "AES-128-ECB", 16,
                                               sn_aes128_init,        sn_aes_mask,   sn_clear};
const cdtls_sn_mask_vt cdtls_ossl_sn_aes256 = {CDTLS_SN_MASK_AES_256, "AES-256-ECB", 32,
                                               sn_aes256_init,        sn_aes_mask,   sn_clear};
const cdtls_sn_mask_vt cdtls_ossl_sn_chacha = {CDTLS_SN_MASK_CHACHA20, "ChaCha20",     32,
                                               sn_chacha_init,         sn_chacha_mask, sn_clear};
