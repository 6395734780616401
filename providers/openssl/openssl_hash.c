/* SHA-1/SHA-2 and HMAC for the libcrypto provider.
 *
 * The one place this provider does not go through EVP. The provider
 * interface requires hash and HMAC contexts to be plain bytes that memcpy
 * can copy (include/cdtls/provider.h: the handshake transcript is forked
 * that way, the PRF copies a keyed HMAC, the CBC record layer keys an HMAC
 * on the stack per record) and has no clear() entry to free them. An
 * EVP_MD_CTX / EVP_MAC_CTX is a heap object that owns a second heap object,
 * so it can meet neither rule. libcrypto's SHA*_CTX structures can: they
 * are the chaining state and the pending block, nothing else, and SHA*_Update
 * runs the same assembly (SHA-NI, AVX2) that the EVP digests call. Those
 * functions are deprecated in OpenSSL 3.0 (not removed); this file alone
 * silences that warning. Moving to EVP needs an interface change (copy and
 * clear entries for hash contexts, docs/providers.md).
 *
 * HMAC (RFC 2104) is built here on the same contexts: the keyed inner and
 * outer states are kept, so a keyed context is a memcpy-copyable value. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <string.h>

#include "common/mem.h"
#include "openssl_internal.h"

_Static_assert(sizeof(SHA512_CTX) <= CDTLS_HASH_CTX_SIZE, "hash context fits");

/* One adapter per hash: init/update/final over the SHA*_CTX in the union.
 * final works on a copy, so the running hash stays usable (the contract). */
#define OSSL_HASH(name_, ctx_t, init_, update_, final_, alg_, label_, dlen_, blen_)              \
    static void name_##_init(cdtls_hash_ctx *c)                                                  \
    {                                                                                            \
        init_((ctx_t *)(void *)c->opaque);                                                       \
    }                                                                                            \
    static void name_##_update(cdtls_hash_ctx *c, const void *d, size_t n)                       \
    {                                                                                            \
        update_((ctx_t *)(void *)c->opaque, d, n);                                               \
    }                                                                                            \
    static void name_##_final(const cdtls_hash_ctx *c, uint8_t *out)                             \
    {                                                                                            \
        ctx_t copy;                                                                              \
        memcpy(&copy, c->opaque, sizeof copy);                                                   \
        final_(out, &copy);                                                                      \
        cdtls_memzero(&copy, sizeof copy);                                                       \
    }                                                                                            \
    const cdtls_hash_vt cdtls_ossl_##name_ = {alg_,         label_,         dlen_,        blen_, \
                                              name_##_init, name_##_update, name_##_final};

OSSL_HASH(sha1, SHA_CTX, SHA1_Init, SHA1_Update, SHA1_Final, CDTLS_HASH_SHA1, "SHA-1", 20, 64)
OSSL_HASH(sha256, SHA256_CTX, SHA256_Init, SHA256_Update, SHA256_Final, CDTLS_HASH_SHA256, "SHA-256", 32, 64)
OSSL_HASH(sha384, SHA512_CTX, SHA384_Init, SHA384_Update, SHA384_Final, CDTLS_HASH_SHA384, "SHA-384", 48, 128)
OSSL_HASH(sha512, SHA512_CTX, SHA512_Init, SHA512_Update, SHA512_Final, CDTLS_HASH_SHA512, "SHA-512", 64, 128)

/* The keyed states: inner = H(K ^ ipad || ...), outer = H(K ^ opad || ...). */
typedef struct ossl_hmac_state {
    cdtls_hash_ctx inner, outer;
} ossl_hmac_state;

_Static_assert(sizeof(ossl_hmac_state) <= CDTLS_HMAC_CTX_SIZE, "hmac context fits");

static void ossl_hmac_init(const cdtls_hash_vt *h, cdtls_hmac_ctx *c, const uint8_t *key, size_t key_len)
{
    ossl_hmac_state *s = (ossl_hmac_state *)(void *)c->opaque;
    uint8_t k[CDTLS_HASH_MAX_BLOCK] = {0}, pad[CDTLS_HASH_MAX_BLOCK];
    if (key_len > h->block_len) { /* RFC 2104 §2: longer keys are hashed first */
        h->init(&s->inner);
        h->update(&s->inner, key, key_len);
        h->final(&s->inner, k);
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    for (size_t i = 0; i < h->block_len; i++) pad[i] = (uint8_t)(k[i] ^ 0x36);
    h->init(&s->inner);
    h->update(&s->inner, pad, h->block_len);
    for (size_t i = 0; i < h->block_len; i++) pad[i] = (uint8_t)(k[i] ^ 0x5c);
    h->init(&s->outer);
    h->update(&s->outer, pad, h->block_len);
    cdtls_memzero(k, sizeof k);
    cdtls_memzero(pad, sizeof pad);
}

static void ossl_hmac_final(const cdtls_hash_vt *h, cdtls_hmac_ctx *c, uint8_t *out)
{
    ossl_hmac_state *s = (ossl_hmac_state *)(void *)c->opaque;
    uint8_t inner[CDTLS_HASH_MAX_DIGEST];
    h->final(&s->inner, inner);
    h->update(&s->outer, inner, h->digest_len);
    h->final(&s->outer, out);
    cdtls_memzero(inner, sizeof inner);
    cdtls_memzero(c, sizeof *c);
}

#define OSSL_HMAC(name_, hash_, alg_, label_, len_)                                        \
    static void hmac_##name_##_init(cdtls_hmac_ctx *c, const uint8_t *key, size_t key_len) \
    {                                                                                      \
        ossl_hmac_init(&hash_, c, key, key_len);                                           \
    }                                                                                      \
    static void hmac_##name_##_update(cdtls_hmac_ctx *c, const void *d, size_t n)          \
    {                                                                                      \
        hash_.update(&((ossl_hmac_state *)(void *)c->opaque)->inner, d, n);                \
    }                                                                                      \
    static void hmac_##name_##_final(cdtls_hmac_ctx *c, uint8_t *out)                      \
    {                                                                                      \
        ossl_hmac_final(&hash_, c, out);                                                   \
    }                                                                                      \
    const cdtls_hmac_vt cdtls_ossl_hmac_##name_ = {                                        \
        alg_, label_, len_, hmac_##name_##_init, hmac_##name_##_update, hmac_##name_##_final};

OSSL_HMAC(sha1, cdtls_ossl_sha1, CDTLS_HASH_SHA1, "HMAC-SHA-1", 20)
OSSL_HMAC(sha256, cdtls_ossl_sha256, CDTLS_HASH_SHA256, "HMAC-SHA-256", 32)
OSSL_HMAC(sha384, cdtls_ossl_sha384, CDTLS_HASH_SHA384, "HMAC-SHA-384", 48)
OSSL_HMAC(sha512, cdtls_ossl_sha512, CDTLS_HASH_SHA512, "HMAC-SHA-512", 64)
