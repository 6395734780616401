/* The BearSSL crypto provider. BearSSL 0.6 (Debian libbearssl-dev) gives
 * SHA-1/2, HMAC, AES-GCM/CCM/CBC, ChaCha20-Poly1305, X25519, P-256/P-384
 * ECDH and ECDSA, RSA PKCS#1 v1.5; RSA-PSS is built here on BearSSL's raw
 * RSA operations (RFC 8017 §9.1), since 0.6 has no PSS. Ed25519 is absent.
 *
 * Implementation choices: constant-time code everywhere; AES-NI / PCLMUL /
 * SSE2 variants where the CPU has them (BearSSL's *_get() functions detect
 * that at run time and return NULL otherwise), else the portable
 * constant-time "ct64" AES, "ctmul64" GHASH, "ct" ChaCha20 and "ctmul"
 * Poly1305. EC arithmetic is br_ec_get_default() (i31/m31/m62 variants). */
#include <bearssl.h>
#include <string.h>

/* x86: BearSSL's AES-NI / PCLMUL *_get() functions run CPUID on every call,
 * and a hypervisor that traps CPUID makes each one slow (18 us per call,
 * measured on the Firecracker VM of docs/benchmarks.md); the answers are
 * therefore looked up once per process (bssl_impls below), with C11
 * atomics so that threads may race for it. Elsewhere the lookups are
 * compile-time and are simply made each time. */
#if (defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)) && \
    !defined(__STDC_NO_ATOMICS__)
#define BSSL_CACHE_IMPLS 1
#include <stdatomic.h>
#else
#define BSSL_CACHE_IMPLS 0
#endif

#include "cdtls/provider.h"
#include "common/mem.h"

#define BSSL_ASSERT(cond, msg) _Static_assert(cond, msg)

/* ------------------------------------------------------------------ random */

#if defined(__linux__) && !defined(CDTLS_FREESTANDING)
#define BSSL_GETRANDOM 1
#include <errno.h>
#include <sys/random.h>
#else
#define BSSL_GETRANDOM 0
#endif

static int bssl_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    (void)self;
    if (!out && len) return CDTLS_ERR_INVALID_ARG;
#if BSSL_GETRANDOM
    /* Linux: the kernel's CSPRNG directly, one system call per 256 bytes.
     * Seeding a fresh HMAC-DRBG for every call (below) was 43 % of a PSK
     * handshake's instructions (docs/benchmarks.md). */
    while (len > 0) {
        ssize_t n = getrandom(out, len > 256 ? 256 : len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return CDTLS_ERR_RANDOM;
        }
        out += n;
        len -= (size_t)n;
    }
    return CDTLS_OK;
#else
    /* No global generator (no hidden state): seed a fresh HMAC-DRBG from the
     * OS each call, draw, wipe. */
    br_prng_seeder seeder = br_prng_seeder_system(NULL);
    if (!seeder) return CDTLS_ERR_RANDOM;
    br_hmac_drbg_context drbg;
    br_hmac_drbg_init(&drbg, &br_sha256_vtable, NULL, 0);
    if (!seeder(&drbg.vtable)) {
        cdtls_memzero(&drbg, sizeof drbg);
        return CDTLS_ERR_RANDOM;
    }
    br_hmac_drbg_generate(&drbg, out, len);
    cdtls_memzero(&drbg, sizeof drbg);
    return CDTLS_OK;
#endif
}

/* ------------------------------------------------------------------ hashes */

BSSL_ASSERT(sizeof(br_hash_compat_context) <= CDTLS_HASH_CTX_SIZE, "hash context fits");
BSSL_ASSERT(sizeof(br_hmac_context) <= CDTLS_HMAC_CTX_SIZE, "hmac context fits");

#define BSSL_HASH(name_, ctx_t, vt_, init_, update_, out_, alg_, label_, dlen_, blen_)     \
    static void name_##_init(cdtls_hash_ctx *c)                                            \
    {                                                                                      \
        init_((ctx_t *)(void *)c->opaque);                                                 \
    }                                                                                      \
    static void name_##_update(cdtls_hash_ctx *c, const void *d, size_t n)                 \
    {                                                                                      \
        update_((ctx_t *)(void *)c->opaque, d, n);                                         \
    }                                                                                      \
    static void name_##_final(const cdtls_hash_ctx *c, uint8_t *out)                       \
    {                                                                                      \
        out_((const ctx_t *)(const void *)c->opaque, out);                                 \
    }                                                                                      \
    static const cdtls_hash_vt name_ = {alg_,         label_,         dlen_,        blen_, \
                                        name_##_init, name_##_update, name_##_final};

/* br_*_out() takes a const context and leaves it usable: exactly the
 * "final does not modify" rule of the contract. */
BSSL_HASH(bssl_sha1, br_sha1_context, br_sha1_vtable, br_sha1_init, br_sha1_update, br_sha1_out,
          CDTLS_HASH_SHA1, "SHA-1", 20, 64)
BSSL_HASH(bssl_sha256, br_sha256_context, br_sha256_vtable, br_sha256_init, br_sha256_update, br_sha256_out,
          CDTLS_HASH_SHA256, "SHA-256", 32, 64)
BSSL_HASH(bssl_sha384, br_sha384_context, br_sha384_vtable, br_sha384_init, br_sha384_update, br_sha384_out,
          CDTLS_HASH_SHA384, "SHA-384", 48, 128)
BSSL_HASH(bssl_sha512, br_sha512_context, br_sha512_vtable, br_sha512_init, br_sha512_update, br_sha512_out,
          CDTLS_HASH_SHA512, "SHA-512", 64, 128)

static const br_hash_class *bssl_hash_class(cdtls_hash_alg alg)
{
    switch (alg) {
    case CDTLS_HASH_SHA1: return &br_sha1_vtable;
    case CDTLS_HASH_SHA256: return &br_sha256_vtable;
    case CDTLS_HASH_SHA384: return &br_sha384_vtable;
    case CDTLS_HASH_SHA512: return &br_sha512_vtable;
    default: return NULL;
    }
}

/* One-shot hash into out; returns the digest length. */
static size_t bssl_hash_once(const br_hash_class *hc, const uint8_t *msg, size_t len, uint8_t *out)
{
    br_hash_compat_context hctx;
    hc->init(&hctx.vtable);
    hc->update(&hctx.vtable, msg, len);
    hc->out(&hctx.vtable, out);
    return (hc->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
}

/* HMAC: br_hmac_context keeps copies of the keyed states and a pointer only
 * to a static vtable, so it is memcpy-copyable as the contract requires. */
#define BSSL_HMAC(name_, vt_, alg_, label_, len_)                                   \
    static void name_##_init(cdtls_hmac_ctx *c, const uint8_t *key, size_t key_len) \
    {                                                                               \
        br_hmac_key_context kc;                                                     \
        br_hmac_key_init(&kc, &vt_, key, key_len);                                  \
        br_hmac_init((br_hmac_context *)(void *)c->opaque, &kc, 0);                 \
        cdtls_memzero(&kc, sizeof kc);                                              \
    }                                                                               \
    static const cdtls_hmac_vt name_ = {alg_, label_, len_, name_##_init, bssl_hmac_update, bssl_hmac_final};

static void bssl_hmac_update(cdtls_hmac_ctx *c, const void *d, size_t n)
{
    br_hmac_update((br_hmac_context *)(void *)c->opaque, d, n);
}

static void bssl_hmac_final(cdtls_hmac_ctx *c, uint8_t *out)
{
    br_hmac_out((const br_hmac_context *)(const void *)c->opaque, out);
    cdtls_memzero(c, sizeof *c);
}

BSSL_HMAC(bssl_hmac_sha1, br_sha1_vtable, CDTLS_HASH_SHA1, "HMAC-SHA-1", 20)
BSSL_HMAC(bssl_hmac_sha256, br_sha256_vtable, CDTLS_HASH_SHA256, "HMAC-SHA-256", 32)
BSSL_HMAC(bssl_hmac_sha384, br_sha384_vtable, CDTLS_HASH_SHA384, "HMAC-SHA-384", 48)
BSSL_HMAC(bssl_hmac_sha512, br_sha512_vtable, CDTLS_HASH_SHA512, "HMAC-SHA-512", 64)

/* -------------------------------------------------------------------- AEAD */

typedef struct bssl_aead_state {
    union {
        br_aes_gen_ctr_keys ctr;       /* GCM */
        br_aes_gen_ctrcbc_keys ctrcbc; /* CCM */
        uint8_t chacha_key[32];
    } k;
    br_ghash ghash;
    br_chacha20_run chacha;
    br_poly1305_run poly;
} bssl_aead_state;

BSSL_ASSERT(sizeof(bssl_aead_state) <= CDTLS_AEAD_CTX_SIZE, "aead state fits");

static bssl_aead_state *aead_state(const cdtls_aead_ctx *ctx)
{
    /* BearSSL's block-cipher calls take non-const key pointers even though
     * they do not modify the keys. */
    return (bssl_aead_state *)(void *)(uintptr_t)ctx->opaque;
}

/* The AES and GHASH implementations for this CPU: AES-NI / PCLMUL where
 * present, else the portable constant-time ones. */
typedef struct bssl_impls {
    const br_block_ctr_class *ctr;
    const br_block_ctrcbc_class *ctrcbc;
    const br_block_cbcenc_class *cbcenc;
    const br_block_cbcdec_class *cbcdec;
    br_ghash ghash;
} bssl_impls;

static void bssl_find_ctr(bssl_impls *m)
{
    m->ctr = br_aes_x86ni_ctr_get_vtable();
    if (!m->ctr) m->ctr = &br_aes_ct64_ctr_vtable;
}
static void bssl_find_ctrcbc(bssl_impls *m)
{
    m->ctrcbc = br_aes_x86ni_ctrcbc_get_vtable();
    if (!m->ctrcbc) m->ctrcbc = &br_aes_ct64_ctrcbc_vtable;
}
static void bssl_find_cbcenc(bssl_impls *m)
{
    m->cbcenc = br_aes_x86ni_cbcenc_get_vtable();
    if (!m->cbcenc) m->cbcenc = &br_aes_ct64_cbcenc_vtable;
}
static void bssl_find_cbcdec(bssl_impls *m)
{
    m->cbcdec = br_aes_x86ni_cbcdec_get_vtable();
    if (!m->cbcdec) m->cbcdec = &br_aes_ct64_cbcdec_vtable;
}
static void bssl_find_ghash(bssl_impls *m)
{
    m->ghash = br_ghash_pclmul_get();
    if (!m->ghash) m->ghash = br_ghash_ctmul64;
}

#if BSSL_CACHE_IMPLS
static bssl_impls bssl_find_impls(void)
{
    bssl_impls m;
    bssl_find_ctr(&m);
    bssl_find_ctrcbc(&m);
    bssl_find_cbcenc(&m);
    bssl_find_cbcdec(&m);
    bssl_find_ghash(&m);
    return m;
}
#endif

#if BSSL_CACHE_IMPLS
static bssl_impls bssl_impls_cache; /* written once, by the thread that moves state 0 -> 1 */
static atomic_int bssl_impls_state; /* 0 empty, 1 being written, 2 ready */

static bssl_impls bssl_get_impls(void)
{
    if (atomic_load_explicit(&bssl_impls_state, memory_order_acquire) == 2) return bssl_impls_cache;
    bssl_impls m = bssl_find_impls();
    int empty = 0;
    if (atomic_compare_exchange_strong(&bssl_impls_state, &empty, 1)) {
        bssl_impls_cache = m;
        atomic_store_explicit(&bssl_impls_state, 2, memory_order_release);
    }
    return m; /* a thread that lost the race uses its own, identical, answer */
}
#define BSSL_IMPL(name_, type_, field_) \
    static type_ name_(void)            \
    {                                   \
        return bssl_get_impls().field_; \
    }
#else
/* No CPUID to save: each lookup names only its own implementation, so that
 * section GC can drop the others (the firmware image uses CCM alone; one
 * table of all of them pulled GHASH and AES decryption in, +8 KB). */
#define BSSL_IMPL(name_, type_, field_) \
    static type_ name_(void)            \
    {                                   \
        bssl_impls m;                   \
        bssl_find_##field_(&m);         \
        return m.field_;                \
    }
#endif
BSSL_IMPL(bssl_ctr_class, const br_block_ctr_class *, ctr)
BSSL_IMPL(bssl_ctrcbc_class, const br_block_ctrcbc_class *, ctrcbc)
BSSL_IMPL(bssl_cbcenc_class, const br_block_cbcenc_class *, cbcenc)
BSSL_IMPL(bssl_cbcdec_class, const br_block_cbcdec_class *, cbcdec)
BSSL_IMPL(bssl_ghash_impl, br_ghash, ghash)

static int bssl_gcm_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len, size_t want)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != want) return CDTLS_ERR_KEY_SIZE;
    bssl_aead_state *s = aead_state(ctx);
    memset(s, 0, sizeof *s);
    bssl_ctr_class()->init(&s->k.ctr.vtable, key, key_len);
    s->ghash = bssl_ghash_impl();
    return CDTLS_OK;
}

static int bssl_gcm128_init(cdtls_aead_ctx *c, const uint8_t *k, size_t n)
{
    return bssl_gcm_init(c, k, n, 16);
}

static int bssl_gcm256_init(cdtls_aead_ctx *c, const uint8_t *k, size_t n)
{
    return bssl_gcm_init(c, k, n, 32);
}

/* A GCM context is rebuilt per call on the stack (it points at the keys),
 * at the cost of one AES block for H. */
static int bssl_gcm_crypt(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                          const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out,
                          int encrypt)
{
    if (nonce_len != 12) return CDTLS_ERR_NONCE_SIZE;
    bssl_aead_state *s = aead_state(ctx);
    size_t len = encrypt ? in_len : in_len - 16;
    if (!encrypt && in_len < 16) return CDTLS_ERR_AUTH;
    br_gcm_context g;
    br_gcm_init(&g, &s->k.ctr.vtable, s->ghash);
    br_gcm_reset(&g, nonce, 12);
    br_gcm_aad_inject(&g, aad, aad_len);
    br_gcm_flip(&g);
    uint8_t tag[16];
    if (encrypt) {
        if (len) memmove(out, in, len); /* in may be NULL when len is 0 */
        br_gcm_run(&g, 1, out, len);
        br_gcm_get_tag(&g, out + len);
    } else {
        memcpy(tag, in + len, 16);      /* before out may overwrite in */
        if (len) memmove(out, in, len); /* in may be NULL when len is 0 */
        br_gcm_run(&g, 0, out, len);
        if (!br_gcm_check_tag(&g, tag)) { /* constant-time compare */
            cdtls_memzero(out, len);
            cdtls_memzero(&g, sizeof g);
            return CDTLS_ERR_AUTH;
        }
    }
    cdtls_memzero(&g, sizeof g);
    return CDTLS_OK;
}

static int bssl_gcm_seal(const cdtls_aead_ctx *c, const uint8_t *n, size_t nl, const uint8_t *a, size_t al,
                         const uint8_t *in, size_t il, uint8_t *out)
{
    return bssl_gcm_crypt(c, n, nl, a, al, in, il, out, 1);
}

static int bssl_gcm_open(const cdtls_aead_ctx *c, const uint8_t *n, size_t nl, const uint8_t *a, size_t al,
                         const uint8_t *in, size_t il, uint8_t *out)
{
    return bssl_gcm_crypt(c, n, nl, a, al, in, il, out, 0);
}

static int bssl_ccm_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len, size_t want)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != want) return CDTLS_ERR_KEY_SIZE;
    bssl_aead_state *s = aead_state(ctx);
    memset(s, 0, sizeof *s);
    const br_block_ctrcbc_class *cls = bssl_ctrcbc_class();
    cls->init(&s->k.ctrcbc.vtable, key, key_len);
    return CDTLS_OK;
}

static int bssl_ccm128_init(cdtls_aead_ctx *c, const uint8_t *k, size_t n)
{
    return bssl_ccm_init(c, k, n, 16);
}

static int bssl_ccm256_init(cdtls_aead_ctx *c, const uint8_t *k, size_t n)
{
    return bssl_ccm_init(c, k, n, 32);
}

static int bssl_ccm_crypt(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                          const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out,
                          int encrypt, size_t tag_len)
{
    if (nonce_len != 12) return CDTLS_ERR_NONCE_SIZE;
    if (!encrypt && in_len < tag_len) return CDTLS_ERR_AUTH;
    bssl_aead_state *s = aead_state(ctx);
    size_t len = encrypt ? in_len : in_len - tag_len;
    br_ccm_context cc;
    br_ccm_init(&cc, &s->k.ctrcbc.vtable);
    /* RFC 6655 §3: 12-byte nonce (salt || explicit), so L = 3. */
    if (!br_ccm_reset(&cc, nonce, 12, aad_len, len, tag_len)) return CDTLS_ERR_LENGTH;
    br_ccm_aad_inject(&cc, aad, aad_len);
    br_ccm_flip(&cc);
    uint8_t tag[16];
    int rc = CDTLS_OK;
    if (encrypt) {
        if (len) memmove(out, in, len); /* in may be NULL when len is 0 */
        br_ccm_run(&cc, 1, out, len);
        br_ccm_get_tag(&cc, out + len);
    } else {
        memcpy(tag, in + len, tag_len);
        if (len) memmove(out, in, len); /* in may be NULL when len is 0 */
        br_ccm_run(&cc, 0, out, len);
        if (!br_ccm_check_tag(&cc, tag)) {
            cdtls_memzero(out, len);
            rc = CDTLS_ERR_AUTH;
        }
    }
    cdtls_memzero(&cc, sizeof cc);
    return rc;
}

#define BSSL_CCM_FNS(tag_)                                                                                   \
    static int bssl_ccm##tag_##_seal(const cdtls_aead_ctx *c, const uint8_t *n, size_t nl, const uint8_t *a, \
                                     size_t al, const uint8_t *in, size_t il, uint8_t *out)                  \
    {                                                                                                        \
        return bssl_ccm_crypt(c, n, nl, a, al, in, il, out, 1, tag_);                                        \
    }                                                                                                        \
    static int bssl_ccm##tag_##_open(const cdtls_aead_ctx *c, const uint8_t *n, size_t nl, const uint8_t *a, \
                                     size_t al, const uint8_t *in, size_t il, uint8_t *out)                  \
    {                                                                                                        \
        return bssl_ccm_crypt(c, n, nl, a, al, in, il, out, 0, tag_);                                        \
    }
BSSL_CCM_FNS(16)
BSSL_CCM_FNS(8)

static int bssl_chacha_init(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != 32) return CDTLS_ERR_KEY_SIZE;
    bssl_aead_state *s = aead_state(ctx);
    memset(s, 0, sizeof *s);
    memcpy(s->k.chacha_key, key, 32);
    s->chacha = br_chacha20_sse2_get();
    if (!s->chacha) s->chacha = br_chacha20_ct_run;
    s->poly = br_poly1305_ctmulq_get();
    if (!s->poly) s->poly = br_poly1305_ctmul_run;
    return CDTLS_OK;
}

static int bssl_chacha_seal(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                            const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                            uint8_t *out)
{
    if (nonce_len != 12) return CDTLS_ERR_NONCE_SIZE;
    bssl_aead_state *s = aead_state(ctx);
    if (in_len) memmove(out, in, in_len); /* in may be NULL when empty */
    /* RFC 8439 §2.8 AEAD: BearSSL's poly1305 "run" encrypts with ChaCha20
     * and computes the tag over AAD and ciphertext. */
    s->poly(s->k.chacha_key, nonce, out, in_len, aad, aad_len, out + in_len, s->chacha, 1);
    return CDTLS_OK;
}

static int bssl_chacha_open(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                            const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                            uint8_t *out)
{
    if (nonce_len != 12) return CDTLS_ERR_NONCE_SIZE;
    if (in_len < 16) return CDTLS_ERR_AUTH;
    bssl_aead_state *s = aead_state(ctx);
    size_t len = in_len - 16;
    uint8_t want[16], got[16];
    memcpy(want, in + len, 16);
    if (len) memmove(out, in, len);
    s->poly(s->k.chacha_key, nonce, out, len, aad, aad_len, got, s->chacha, 0);
    int ok = cdtls_ct_equal(want, got, 16);
    if (!ok) cdtls_memzero(out, len);
    return ok ? CDTLS_OK : CDTLS_ERR_AUTH;
}

static void bssl_aead_clear(cdtls_aead_ctx *ctx)
{
    cdtls_memzero(ctx, sizeof *ctx);
}

static const cdtls_aead_vt bssl_aes128gcm = {
    CDTLS_AEAD_AES_128_GCM, "AES-128-GCM",  16, 12, 16, bssl_gcm128_init, bssl_gcm_seal,
    bssl_gcm_open,          bssl_aead_clear};
static const cdtls_aead_vt bssl_aes256gcm = {
    CDTLS_AEAD_AES_256_GCM, "AES-256-GCM",  32, 12, 16, bssl_gcm256_init, bssl_gcm_seal,
    bssl_gcm_open,          bssl_aead_clear};
static const cdtls_aead_vt bssl_aes128ccm = {
    CDTLS_AEAD_AES_128_CCM, "AES-128-CCM",  16, 12, 16, bssl_ccm128_init, bssl_ccm16_seal,
    bssl_ccm16_open,        bssl_aead_clear};
static const cdtls_aead_vt bssl_aes256ccm = {
    CDTLS_AEAD_AES_256_CCM, "AES-256-CCM",  32, 12, 16, bssl_ccm256_init, bssl_ccm16_seal,
    bssl_ccm16_open,        bssl_aead_clear};
static const cdtls_aead_vt bssl_aes128ccm8 = {
    CDTLS_AEAD_AES_128_CCM_8, "AES-128-CCM_8", 16, 12, 8, bssl_ccm128_init, bssl_ccm8_seal,
    bssl_ccm8_open,           bssl_aead_clear};
static const cdtls_aead_vt bssl_aes256ccm8 = {
    CDTLS_AEAD_AES_256_CCM_8, "AES-256-CCM_8", 32, 12, 8, bssl_ccm256_init, bssl_ccm8_seal,
    bssl_ccm8_open,           bssl_aead_clear};
static const cdtls_aead_vt bssl_chacha = {CDTLS_AEAD_CHACHA20_POLY1305,
                                          "ChaCha20-Poly1305",
                                          32,
                                          12,
                                          16,
                                          bssl_chacha_init,
                                          bssl_chacha_seal,
                                          bssl_chacha_open,
                                          bssl_aead_clear};

/* --------------------------------------------------------------------- CBC */

typedef struct bssl_cbc_state {
    int encrypt;
    union {
        br_aes_gen_cbcenc_keys enc;
        br_aes_gen_cbcdec_keys dec;
    } k;
} bssl_cbc_state;

BSSL_ASSERT(sizeof(bssl_cbc_state) <= CDTLS_CBC_CTX_SIZE, "cbc state fits");

static int bssl_cbc_init(cdtls_cbc_ctx *ctx, int encrypt, const uint8_t *key, size_t key_len, size_t want)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != want) return CDTLS_ERR_KEY_SIZE;
    bssl_cbc_state *s = (bssl_cbc_state *)(void *)ctx->opaque;
    memset(s, 0, sizeof *s);
    s->encrypt = encrypt;
    if (encrypt)
        bssl_cbcenc_class()->init(&s->k.enc.vtable, key, key_len);
    else
        bssl_cbcdec_class()->init(&s->k.dec.vtable, key, key_len);
    return CDTLS_OK;
}

static int bssl_cbc128_init(cdtls_cbc_ctx *c, int e, const uint8_t *k, size_t n)
{
    return bssl_cbc_init(c, e, k, n, 16);
}

static int bssl_cbc256_init(cdtls_cbc_ctx *c, int e, const uint8_t *k, size_t n)
{
    return bssl_cbc_init(c, e, k, n, 32);
}

static int bssl_cbc_run(const cdtls_cbc_ctx *ctx, const uint8_t *iv, uint8_t *data, size_t len, int encrypt)
{
    bssl_cbc_state *s = (bssl_cbc_state *)(void *)(uintptr_t)ctx->opaque;
    if (s->encrypt != encrypt) return CDTLS_ERR_INVALID_ARG;
    if (len % 16) return CDTLS_ERR_LENGTH;
    uint8_t v[16];
    memcpy(v, iv, 16); /* BearSSL updates the IV buffer; the contract says iv is not modified */
    if (encrypt)
        s->k.enc.vtable->run(&s->k.enc.vtable, v, data, len);
    else
        s->k.dec.vtable->run(&s->k.dec.vtable, v, data, len);
    return CDTLS_OK;
}

static int bssl_cbc_encrypt(const cdtls_cbc_ctx *c, const uint8_t *iv, uint8_t *d, size_t n)
{
    return bssl_cbc_run(c, iv, d, n, 1);
}

static int bssl_cbc_decrypt(const cdtls_cbc_ctx *c, const uint8_t *iv, uint8_t *d, size_t n)
{
    return bssl_cbc_run(c, iv, d, n, 0);
}

static void bssl_cbc_clear(cdtls_cbc_ctx *ctx)
{
    cdtls_memzero(ctx, sizeof *ctx);
}

static const cdtls_cbc_vt bssl_cbc128 = {
    CDTLS_CBC_AES_128, "AES-128-CBC", 16, 16, bssl_cbc128_init, bssl_cbc_encrypt,
    bssl_cbc_decrypt,  bssl_cbc_clear};
static const cdtls_cbc_vt bssl_cbc256 = {
    CDTLS_CBC_AES_256, "AES-256-CBC", 32, 16, bssl_cbc256_init, bssl_cbc_encrypt,
    bssl_cbc_decrypt,  bssl_cbc_clear};

/* ------------------------------------------- record number masks (DTLS 1.3) */

/* RFC 9147 §4.2.3. AES-ECB of one block is CBC encryption of that block
 * under a zero IV, so the AES masks use the same CBC-encrypt implementation
 * as the CBC suites (AES-NI or the constant-time ct64). ChaCha20 is the
 * block function run over 16 zero bytes: counter = sample[0..3]
 * little-endian, nonce = sample[4..15]. */
typedef struct bssl_sn_state {
    union {
        br_aes_gen_cbcenc_keys aes;
        uint8_t chacha_key[32];
    } k;
    br_chacha20_run chacha;
} bssl_sn_state;

BSSL_ASSERT(sizeof(bssl_sn_state) <= CDTLS_SN_MASK_CTX_SIZE, "sn mask state fits");

static bssl_sn_state *sn_state(const cdtls_sn_mask_ctx *ctx)
{
    return (bssl_sn_state *)(void *)(uintptr_t)ctx->opaque; /* BearSSL's run() takes non-const keys */
}

static int bssl_sn_aes_init(cdtls_sn_mask_ctx *ctx, const uint8_t *key, size_t key_len, size_t want)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != want) return CDTLS_ERR_KEY_SIZE;
    bssl_sn_state *s = sn_state(ctx);
    memset(s, 0, sizeof *s);
    bssl_cbcenc_class()->init(&s->k.aes.vtable, key, key_len);
    return CDTLS_OK;
}

static int bssl_sn_aes128_init(cdtls_sn_mask_ctx *c, const uint8_t *k, size_t n)
{
    return bssl_sn_aes_init(c, k, n, 16);
}

static int bssl_sn_aes256_init(cdtls_sn_mask_ctx *c, const uint8_t *k, size_t n)
{
    return bssl_sn_aes_init(c, k, n, 32);
}

static int bssl_sn_aes_mask(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out)
{
    if (!ctx || !sample || !out) return CDTLS_ERR_INVALID_ARG;
    bssl_sn_state *s = sn_state(ctx);
    uint8_t iv[16] = {0};
    uint8_t block[16];
    memcpy(block, sample, 16);
    s->k.aes.vtable->run(&s->k.aes.vtable, iv, block, 16);
    memcpy(out, block, 16);
    return CDTLS_OK;
}

static int bssl_sn_chacha_init(cdtls_sn_mask_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (!ctx || !key) return CDTLS_ERR_INVALID_ARG;
    if (key_len != 32) return CDTLS_ERR_KEY_SIZE;
    bssl_sn_state *s = sn_state(ctx);
    memset(s, 0, sizeof *s);
    memcpy(s->k.chacha_key, key, 32);
    s->chacha = br_chacha20_sse2_get();
    if (!s->chacha) s->chacha = br_chacha20_ct_run;
    return CDTLS_OK;
}

static int bssl_sn_chacha_mask(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out)
{
    if (!ctx || !sample || !out) return CDTLS_ERR_INVALID_ARG;
    const bssl_sn_state *s = sn_state(ctx);
    uint32_t counter = (uint32_t)sample[0] | (uint32_t)sample[1] << 8 | (uint32_t)sample[2] << 16 |
                       (uint32_t)sample[3] << 24;
    uint8_t nonce[12], block[16] = {0};
    memcpy(nonce, sample + 4, 12);
    s->chacha(s->k.chacha_key, nonce, counter, block, 16);
    memcpy(out, block, 16);
    return CDTLS_OK;
}

static void bssl_sn_clear(cdtls_sn_mask_ctx *ctx)
{
    if (ctx) cdtls_memzero(ctx, sizeof *ctx);
}

static const cdtls_sn_mask_vt bssl_sn_aes128 = {CDTLS_SN_MASK_AES_128, "AES-128-ECB",    16,
                                                bssl_sn_aes128_init,   bssl_sn_aes_mask, bssl_sn_clear};
static const cdtls_sn_mask_vt bssl_sn_aes256 = {CDTLS_SN_MASK_AES_256, "AES-256-ECB",    32,
                                                bssl_sn_aes256_init,   bssl_sn_aes_mask, bssl_sn_clear};
static const cdtls_sn_mask_vt bssl_sn_chacha = {CDTLS_SN_MASK_CHACHA20, "ChaCha20",          32,
                                                bssl_sn_chacha_init,    bssl_sn_chacha_mask, bssl_sn_clear};

/* ---------------------------------------------------------- EC key helpers */

typedef struct bssl_kx_state {
    int curve;
    size_t len;
    uint8_t k[48];
} bssl_kx_state;

BSSL_ASSERT(sizeof(bssl_kx_state) <= CDTLS_KX_KEY_SIZE, "kx state fits");

/* 1 if the big-endian scalar k is in [1, n-1] for the curve's order n. */
static int scalar_in_range(const br_ec_impl *ec, int curve, const uint8_t *k, size_t len)
{
    size_t olen;
    const unsigned char *order = ec->order(curve, &olen);
    if (olen != len) return 0;
    /* Constant-time compare k < n and k != 0. */
    uint32_t lt = 0, eq = 1, nz = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t a = k[i], b = order[i];
        lt |= eq & ((a - b) >> 31);
        eq &= ((a ^ b) - 1) >> 31;
        nz |= a;
    }
    return (int)(lt & (nz != 0));
}

/* A uniformly random scalar in [1, n-1] by rejection sampling; the provider's
 * random entry is the only source (deterministic RNGs work). */
static int random_scalar(const cdtls_provider *p, const br_ec_impl *ec, int curve, uint8_t *k, size_t len)
{
    for (int tries = 0; tries < 64; tries++) {
        int rc = p->random(p, k, len);
        if (rc) return rc;
        if (scalar_in_range(ec, curve, k, len)) return CDTLS_OK;
    }
    return CDTLS_ERR_RANDOM; /* 64 rejections in a row: the source is broken */
}

/* ------------------------------------------------------------ key exchange */

static int bssl_kx_import(bssl_kx_state *s, int curve, size_t len, const uint8_t *priv, size_t priv_len,
                          uint8_t *pub)
{
    const br_ec_impl *ec = br_ec_get_default();
    if (priv_len != len) return CDTLS_ERR_BAD_KEY;
    if (curve != BR_EC_curve25519 && !scalar_in_range(ec, curve, priv, len)) return CDTLS_ERR_BAD_KEY;
    s->curve = curve;
    s->len = len;
    memcpy(s->k, priv, len);
    /* mulgen clamps X25519 scalars itself (RFC 7748 §5), and takes them in
     * the RFC's byte order. */
    if (ec->mulgen(pub, s->k, len, curve) == 0) {
        cdtls_memzero(s, sizeof *s);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

static int bssl_kx_derive(const bssl_kx_state *s, const uint8_t *peer, size_t peer_len, size_t pub_len,
                          uint8_t *shared)
{
    const br_ec_impl *ec = br_ec_get_default();
    if (peer_len != pub_len) return CDTLS_ERR_BAD_KEY;
    uint8_t point[CDTLS_KX_MAX_PUBLIC];
    memcpy(point, peer, peer_len);
    /* mul() checks that NIST points are on the curve (returns 0 if not). */
    uint32_t ok = ec->mul(point, peer_len, s->k, s->len, s->curve);
    size_t xlen, xoff = ec->xoff(s->curve, &xlen);
    if (!ok) {
        cdtls_memzero(point, sizeof point);
        return CDTLS_ERR_BAD_KEY;
    }
    uint8_t acc = 0;
    for (size_t i = 0; i < xlen; i++) acc |= point[xoff + i];
    memcpy(shared, point + xoff, xlen);
    cdtls_memzero(point, sizeof point);
    /* RFC 7748 §6.1: an all-zero X25519 output means a low-order peer point. */
    if (acc == 0) {
        cdtls_memzero(shared, xlen);
        return CDTLS_ERR_BAD_KEY;
    }
    return CDTLS_OK;
}

#define BSSL_KX(name_, curve_, len_, pub_len_, shared_len_, group_, tls_id_, label_)                      \
    static int name_##_import(cdtls_kx_key *key, const uint8_t *priv, size_t priv_len, uint8_t *pub)      \
    {                                                                                                     \
        if (!key || !priv || !pub) return CDTLS_ERR_INVALID_ARG;                                          \
        return bssl_kx_import((bssl_kx_state *)(void *)key->opaque, curve_, len_, priv, priv_len, pub);   \
    }                                                                                                     \
    static int name_##_keygen(const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub)                   \
    {                                                                                                     \
        uint8_t k[48];                                                                                    \
        int rc = curve_ == BR_EC_curve25519 ? p->random(p, k, len_)                                       \
                                            : random_scalar(p, br_ec_get_default(), curve_, k, len_);     \
        if (!rc) rc = name_##_import(key, k, len_, pub);                                                  \
        cdtls_memzero(k, sizeof k);                                                                       \
        return rc;                                                                                        \
    }                                                                                                     \
    static int name_##_derive(const cdtls_kx_key *key, const uint8_t *peer, size_t peer_len,              \
                              uint8_t *shared)                                                            \
    {                                                                                                     \
        if (!key || !peer || !shared) return CDTLS_ERR_INVALID_ARG;                                       \
        return bssl_kx_derive((const bssl_kx_state *)(const void *)key->opaque, peer, peer_len, pub_len_, \
                              shared);                                                                    \
    }                                                                                                     \
    static const cdtls_kx_vt name_ = {group_,         tls_id_,        label_,                             \
                                      pub_len_,       shared_len_,    name_##_keygen,                     \
                                      name_##_import, name_##_derive, bssl_kx_clear};

static void bssl_kx_clear(cdtls_kx_key *key)
{
    cdtls_memzero(key, sizeof *key);
}

BSSL_KX(bssl_x25519, BR_EC_curve25519, 32, 32, 32, CDTLS_GROUP_X25519, 29, "X25519")
BSSL_KX(bssl_p256, BR_EC_secp256r1, 32, 65, 32, CDTLS_GROUP_SECP256R1, 23, "P-256")
BSSL_KX(bssl_p384, BR_EC_secp384r1, 48, 97, 48, CDTLS_GROUP_SECP384R1, 24, "P-384")

/* ------------------------------------------------------------- signing keys */

struct cdtls_sign_key {
    cdtls_key_type type;
    size_t size; /* bytes allocated for this object */
    /* EC */
    br_ec_private_key ec_sk;
    uint8_t ec_priv[48];
    uint8_t ec_pub[97];
    size_t ec_pub_len;
    /* RSA: the CRT components and n, e live in buf */
    br_rsa_private_key rsa_sk;
    br_rsa_public_key rsa_pk;
    uint8_t buf[]; /* C99 flexible array member */
};

static int ec_curve_of(cdtls_key_type t)
{
    return t == CDTLS_KEY_EC_P256 ? BR_EC_secp256r1 : t == CDTLS_KEY_EC_P384 ? BR_EC_secp384r1 : -1;
}

static int bssl_ec_key_from_scalar(const cdtls_allocator *a, cdtls_key_type type, const uint8_t *priv,
                                   size_t priv_len, cdtls_sign_key **out)
{
    const br_ec_impl *ec = br_ec_get_default();
    int curve = ec_curve_of(type);
    size_t want = type == CDTLS_KEY_EC_P256 ? 32 : 48;
    /* SEC1 scalars may come with leading zeros stripped: left-pad. */
    if (!priv || priv_len == 0 || priv_len > want) return CDTLS_ERR_BAD_KEY;
    uint8_t k[48] = {0};
    memcpy(k + want - priv_len, priv, priv_len);
    if (!scalar_in_range(ec, curve, k, want)) {
        cdtls_memzero(k, sizeof k);
        return CDTLS_ERR_BAD_KEY;
    }
    cdtls_sign_key *key = cdtls_alloc_zero(a, sizeof *key);
    if (!key) {
        cdtls_memzero(k, sizeof k);
        return CDTLS_ERR_NOMEM;
    }
    key->type = type;
    key->size = sizeof *key;
    memcpy(key->ec_priv, k, want);
    cdtls_memzero(k, sizeof k);
    key->ec_sk.curve = curve;
    key->ec_sk.x = key->ec_priv;
    key->ec_sk.xlen = want;
    key->ec_pub_len = br_ec_compute_pub(ec, NULL, key->ec_pub, &key->ec_sk);
    if (key->ec_pub_len == 0) {
        cdtls_free_wipe(a, key, key->size);
        return CDTLS_ERR_BAD_KEY;
    }
    *out = key;
    return CDTLS_OK;
}

/* Strips leading zero bytes of a big-endian integer. */
static const uint8_t *strip(const uint8_t *p, size_t *len)
{
    while (*len > 1 && p[0] == 0) p++, (*len)--;
    return p;
}

static int bssl_rsa_key(const cdtls_allocator *a, const cdtls_private_key_params *kp, cdtls_sign_key **out)
{
    if (!kp->n || !kp->e || !kp->p || !kp->q || !kp->dp || !kp->dq || !kp->qinv)
        return CDTLS_ERR_BAD_KEY; /* BearSSL signs with the CRT form only */
    size_t nl = kp->n_len, el = kp->e_len, pl = kp->p_len, ql = kp->q_len, dpl = kp->dp_len, dql = kp->dq_len,
           qil = kp->qinv_len;
    const uint8_t *n = strip(kp->n, &nl), *e = strip(kp->e, &el), *p = strip(kp->p, &pl),
                  *q = strip(kp->q, &ql), *dp = strip(kp->dp, &dpl), *dq = strip(kp->dq, &dql),
                  *qi = strip(kp->qinv, &qil);
    if (nl > 1024 || nl < 64) return CDTLS_ERR_BAD_KEY; /* 512..8192 bits */
    size_t total = nl + el + pl + ql + dpl + dql + qil;
    size_t size = sizeof(cdtls_sign_key) + total;
    cdtls_sign_key *key = cdtls_alloc_zero(a, size);
    if (!key) return CDTLS_ERR_NOMEM;
    key->type = CDTLS_KEY_RSA;
    key->size = size;
    uint8_t *w = key->buf;
#define TAKE(dst, len_, src) (memcpy(w, src, len_), dst = w, w += len_)
    TAKE(key->rsa_pk.n, nl, n);
    key->rsa_pk.nlen = nl;
    TAKE(key->rsa_pk.e, el, e);
    key->rsa_pk.elen = el;
    TAKE(key->rsa_sk.p, pl, p);
    key->rsa_sk.plen = pl;
    TAKE(key->rsa_sk.q, ql, q);
    key->rsa_sk.qlen = ql;
    TAKE(key->rsa_sk.dp, dpl, dp);
    key->rsa_sk.dplen = dpl;
    TAKE(key->rsa_sk.dq, dql, dq);
    key->rsa_sk.dqlen = dql;
    TAKE(key->rsa_sk.iq, qil, qi);
    key->rsa_sk.iqlen = qil;
#undef TAKE
    /* n_bitlen: exact bit length of n */
    uint32_t bits = (uint32_t)(nl - 1) * 8;
    for (uint8_t top = n[0]; top; top >>= 1) bits++;
    key->rsa_sk.n_bitlen = bits;
    *out = key;
    return CDTLS_OK;
}

static int bssl_sign_key_new(const cdtls_provider *p, const cdtls_allocator *a,
                             const cdtls_private_key_params *kp, cdtls_sign_key **out)
{
    (void)p;
    if (!a || !kp || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    switch (kp->type) {
    case CDTLS_KEY_EC_P256:
    case CDTLS_KEY_EC_P384: return bssl_ec_key_from_scalar(a, kp->type, kp->priv, kp->priv_len, out);
    case CDTLS_KEY_RSA: return bssl_rsa_key(a, kp, out);
    default: return CDTLS_ERR_UNSUPPORTED;
    }
}

static int bssl_sign_key_generate(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                                  cdtls_sign_key **out)
{
    if (!p || !a || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if (type != CDTLS_KEY_EC_P256 && type != CDTLS_KEY_EC_P384) return CDTLS_ERR_UNSUPPORTED;
    uint8_t k[48];
    size_t len = type == CDTLS_KEY_EC_P256 ? 32 : 48;
    int rc = random_scalar(p, br_ec_get_default(), ec_curve_of(type), k, len);
    if (!rc) rc = bssl_ec_key_from_scalar(a, type, k, len, out);
    cdtls_memzero(k, sizeof k);
    return rc;
}

static int bssl_sign_key_public(const cdtls_sign_key *key, cdtls_public_key *out)
{
    if (!key || !out) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->type = key->type;
    if (key->type == CDTLS_KEY_RSA) {
        out->data = key->rsa_pk.n;
        out->data_len = key->rsa_pk.nlen;
        out->rsa_e = key->rsa_pk.e;
        out->rsa_e_len = key->rsa_pk.elen;
    } else {
        out->data = key->ec_pub;
        out->data_len = key->ec_pub_len;
    }
    return CDTLS_OK;
}

static void bssl_sign_key_free(const cdtls_allocator *a, cdtls_sign_key *key)
{
    if (key) cdtls_free_wipe(a, key, key->size);
}

/* ------------------------------------------------------------------- ECDSA */

static int bssl_ecdsa_sign(const cdtls_sign_key *key, cdtls_hash_alg h, const uint8_t *msg, size_t msg_len,
                           uint8_t *sig, size_t *sig_len)
{
    if (!key || (!msg && msg_len) || !sig || !sig_len) return CDTLS_ERR_INVALID_ARG;
    if (key->type != CDTLS_KEY_EC_P256 && key->type != CDTLS_KEY_EC_P384) return CDTLS_ERR_BAD_KEY;
    uint8_t hash[64], tmp[CDTLS_SIG_MAX_LEN];
    const br_hash_class *hc = bssl_hash_class(h);
    bssl_hash_once(hc, msg, msg_len, hash);
    /* BearSSL's ECDSA is deterministic (RFC 6979): no random source needed. */
    size_t n = br_ecdsa_sign_asn1_get_default()(br_ec_get_default(), hc, hash, &key->ec_sk, tmp);
    if (n == 0) return CDTLS_ERR_CRYPTO;
    if (n > *sig_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    memcpy(sig, tmp, n);
    *sig_len = n;
    return CDTLS_OK;
}

static int bssl_ecdsa_verify(const cdtls_public_key *pub, cdtls_hash_alg h, const uint8_t *msg,
                             size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (!pub || (!msg && msg_len) || !sig) return CDTLS_ERR_INVALID_ARG;
    int curve = ec_curve_of(pub->type);
    size_t want = pub->type == CDTLS_KEY_EC_P256 ? 65 : 97;
    if (curve < 0 || !pub->data || pub->data_len != want) return CDTLS_ERR_BAD_KEY;
    uint8_t hash[64];
    size_t hl = bssl_hash_once(bssl_hash_class(h), msg, msg_len, hash);
    br_ec_public_key pk = {curve, (unsigned char *)(uintptr_t)pub->data, pub->data_len};
    return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), hash, hl, &pk, sig, sig_len)
               ? CDTLS_OK
               : CDTLS_ERR_SIGNATURE;
}

#define BSSL_ECDSA(name_, h_, alg_, tls_, label_)                                                          \
    static int name_##_sign(const cdtls_provider *p, const cdtls_sign_key *k, const uint8_t *m, size_t ml, \
                            uint8_t *s, size_t *sl)                                                        \
    {                                                                                                      \
        (void)p;                                                                                           \
        return bssl_ecdsa_sign(k, h_, m, ml, s, sl);                                                       \
    }                                                                                                      \
    static int name_##_verify(const cdtls_public_key *pk, const uint8_t *m, size_t ml, const uint8_t *s,   \
                              size_t sl)                                                                   \
    {                                                                                                      \
        return bssl_ecdsa_verify(pk, h_, m, ml, s, sl);                                                    \
    }                                                                                                      \
    static const cdtls_sig_vt name_ = {                                                                    \
        alg_,         tls_,                                                                                \
        label_,       CDTLS_KEY_BIT(CDTLS_KEY_EC_P256) | CDTLS_KEY_BIT(CDTLS_KEY_EC_P384),                 \
        name_##_sign, name_##_verify};

BSSL_ECDSA(bssl_ecdsa256, CDTLS_HASH_SHA256, CDTLS_SIG_ECDSA_SHA256, 0x0403, "ecdsa_sha256")
BSSL_ECDSA(bssl_ecdsa384, CDTLS_HASH_SHA384, CDTLS_SIG_ECDSA_SHA384, 0x0503, "ecdsa_sha384")
BSSL_ECDSA(bssl_ecdsa512, CDTLS_HASH_SHA512, CDTLS_SIG_ECDSA_SHA512, 0x0603, "ecdsa_sha512")

/* ------------------------------------------------------------- RSA PKCS#1 */

static const unsigned char *hash_oid(cdtls_hash_alg h)
{
    switch (h) {
    case CDTLS_HASH_SHA256: return BR_HASH_OID_SHA256;
    case CDTLS_HASH_SHA384: return BR_HASH_OID_SHA384;
    case CDTLS_HASH_SHA512: return BR_HASH_OID_SHA512;
    default: return BR_HASH_OID_SHA1;
    }
}

static int rsa_pub_from(const cdtls_public_key *pub, br_rsa_public_key *pk)
{
    if (!pub || pub->type != CDTLS_KEY_RSA || !pub->data || !pub->rsa_e || pub->data_len == 0 ||
        pub->rsa_e_len == 0)
        return CDTLS_ERR_BAD_KEY;
    size_t nl = pub->data_len, el = pub->rsa_e_len;
    const uint8_t *n = strip(pub->data, &nl), *e = strip(pub->rsa_e, &el);
    if (nl < 64 || nl > 1024) return CDTLS_ERR_BAD_KEY;
    pk->n = (unsigned char *)(uintptr_t)n;
    pk->nlen = nl;
    pk->e = (unsigned char *)(uintptr_t)e;
    pk->elen = el;
    return CDTLS_OK;
}

static int bssl_pkcs1_sign(const cdtls_sign_key *key, cdtls_hash_alg h, const uint8_t *msg, size_t msg_len,
                           uint8_t *sig, size_t *sig_len)
{
    if (!key || (!msg && msg_len) || !sig || !sig_len) return CDTLS_ERR_INVALID_ARG;
    if (key->type != CDTLS_KEY_RSA) return CDTLS_ERR_BAD_KEY;
    size_t k = (key->rsa_sk.n_bitlen + 7) / 8;
    if (*sig_len < k) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t hash[64];
    size_t hl = bssl_hash_once(bssl_hash_class(h), msg, msg_len, hash);
    if (!br_rsa_pkcs1_sign_get_default()(hash_oid(h), hash, hl, &key->rsa_sk, sig)) return CDTLS_ERR_CRYPTO;
    *sig_len = k;
    return CDTLS_OK;
}

static int bssl_pkcs1_verify(const cdtls_public_key *pub, cdtls_hash_alg h, const uint8_t *msg,
                             size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    br_rsa_public_key pk;
    if ((!msg && msg_len) || !sig) return CDTLS_ERR_INVALID_ARG;
    int rc = rsa_pub_from(pub, &pk);
    if (rc) return rc;
    uint8_t hash[64], got[64];
    size_t hl = bssl_hash_once(bssl_hash_class(h), msg, msg_len, hash);
    if (sig_len != pk.nlen) return CDTLS_ERR_SIGNATURE;
    if (!br_rsa_pkcs1_vrfy_get_default()(sig, sig_len, hash_oid(h), hl, &pk, got)) return CDTLS_ERR_SIGNATURE;
    return memcmp(hash, got, hl) == 0 ? CDTLS_OK : CDTLS_ERR_SIGNATURE;
}

/* ------------------------------------------------ RSA-PSS (RFC 8017 §9.1) */

/* MGF1 (RFC 8017 §B.2.1): XOR the mask of seed into out[0..len). */
static void mgf1_xor(const br_hash_class *hc, const uint8_t *seed, size_t seed_len, uint8_t *out, size_t len)
{
    uint8_t block[64];
    size_t hl = (hc->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
    for (uint32_t counter = 0; len > 0; counter++) {
        uint8_t c[4] = {(uint8_t)(counter >> 24), (uint8_t)(counter >> 16), (uint8_t)(counter >> 8),
                        (uint8_t)counter};
        br_hash_compat_context hctx;
        hc->init(&hctx.vtable);
        hc->update(&hctx.vtable, seed, seed_len);
        hc->update(&hctx.vtable, c, 4);
        hc->out(&hctx.vtable, block);
        size_t take = len < hl ? len : hl;
        for (size_t i = 0; i < take; i++) out[i] ^= block[i];
        out += take;
        len -= take;
    }
}

/* H = Hash(0x00 * 8 || mHash || salt) */
static void pss_h(const br_hash_class *hc, const uint8_t *mhash, size_t hl, const uint8_t *salt, size_t sl,
                  uint8_t *out)
{
    static const uint8_t zeros[8] = {0};
    br_hash_compat_context hctx;
    hc->init(&hctx.vtable);
    hc->update(&hctx.vtable, zeros, 8);
    hc->update(&hctx.vtable, mhash, hl);
    hc->update(&hctx.vtable, salt, sl);
    hc->out(&hctx.vtable, out);
}

static int bssl_pss_sign(const cdtls_provider *p, const cdtls_sign_key *key, cdtls_hash_alg h,
                         const uint8_t *msg, size_t msg_len, uint8_t *sig, size_t *sig_len)
{
    if (!key || (!msg && msg_len) || !sig || !sig_len) return CDTLS_ERR_INVALID_ARG;
    if (key->type != CDTLS_KEY_RSA) return CDTLS_ERR_BAD_KEY;
    const br_hash_class *hc = bssl_hash_class(h);
    uint8_t mhash[64], salt[64];
    size_t hl = bssl_hash_once(hc, msg, msg_len, mhash);
    size_t k = (key->rsa_sk.n_bitlen + 7) / 8;
    size_t em_bits = key->rsa_sk.n_bitlen - 1, em_len = (em_bits + 7) / 8;
    /* TLS uses salt length = hash length (RFC 8446 §4.2.3, also for 1.2) */
    if (em_len < hl + hl + 2) return CDTLS_ERR_BAD_KEY;
    if (*sig_len < k) return CDTLS_ERR_BUFFER_TOO_SMALL;
    int rc = p->random(p, salt, hl);
    if (rc) return rc;
    uint8_t *em = sig + (k - em_len); /* a leading zero byte when em_len < k */
    memset(sig, 0, k);
    size_t db_len = em_len - hl - 1;
    uint8_t *db = em, *hh = em + db_len;
    db[db_len - hl - 1] = 0x01;
    memcpy(db + db_len - hl, salt, hl);
    pss_h(hc, mhash, hl, salt, hl, hh);
    mgf1_xor(hc, hh, hl, db, db_len);
    db[0] &= (uint8_t)(0xff >> (8 * em_len - em_bits));
    em[em_len - 1] = 0xbc;
    cdtls_memzero(salt, sizeof salt);
    if (!br_rsa_private_get_default()(sig, &key->rsa_sk)) return CDTLS_ERR_CRYPTO;
    *sig_len = k;
    return CDTLS_OK;
}

static int bssl_pss_verify(const cdtls_public_key *pub, cdtls_hash_alg h, const uint8_t *msg, size_t msg_len,
                           const uint8_t *sig, size_t sig_len)
{
    br_rsa_public_key pk;
    if ((!msg && msg_len) || !sig) return CDTLS_ERR_INVALID_ARG;
    int rc = rsa_pub_from(pub, &pk);
    if (rc) return rc;
    if (sig_len != pk.nlen) return CDTLS_ERR_SIGNATURE;
    const br_hash_class *hc = bssl_hash_class(h);
    uint8_t mhash[64], hh2[64], x[1024];
    size_t hl = bssl_hash_once(hc, msg, msg_len, mhash);
    memcpy(x, sig, sig_len);
    if (!br_rsa_public_get_default()(x, sig_len, &pk)) return CDTLS_ERR_SIGNATURE;
    uint32_t bits = (uint32_t)(pk.nlen - 1) * 8;
    for (uint8_t top = pk.n[0]; top; top >>= 1) bits++;
    size_t em_bits = bits - 1, em_len = (em_bits + 7) / 8;
    if (em_len < hl + hl + 2) return CDTLS_ERR_SIGNATURE;
    if (em_len < sig_len && x[0] != 0) return CDTLS_ERR_SIGNATURE;
    uint8_t *em = x + (sig_len - em_len);
    if (em[em_len - 1] != 0xbc) return CDTLS_ERR_SIGNATURE;
    size_t db_len = em_len - hl - 1;
    uint8_t *db = em, *hh = em + db_len;
    uint8_t top_mask = (uint8_t)(0xff >> (8 * em_len - em_bits));
    if (db[0] & ~top_mask) return CDTLS_ERR_SIGNATURE;
    mgf1_xor(hc, hh, hl, db, db_len);
    db[0] &= top_mask;
    size_t ps_len = db_len - hl - 1;
    for (size_t i = 0; i < ps_len; i++)
        if (db[i] != 0) return CDTLS_ERR_SIGNATURE;
    if (db[ps_len] != 0x01) return CDTLS_ERR_SIGNATURE;
    pss_h(hc, mhash, hl, db + db_len - hl, hl, hh2);
    return memcmp(hh, hh2, hl) == 0 ? CDTLS_OK : CDTLS_ERR_SIGNATURE;
}

#define BSSL_RSA(name_, kind_, h_, alg_, tls_, label_)                                                       \
    static int name_##_sign(const cdtls_provider *p, const cdtls_sign_key *k, const uint8_t *m, size_t ml,   \
                            uint8_t *s, size_t *sl)                                                          \
    {                                                                                                        \
        (void)p;                                                                                             \
        return kind_ == 0 ? bssl_pkcs1_sign(k, h_, m, ml, s, sl) : bssl_pss_sign(p, k, h_, m, ml, s, sl);    \
    }                                                                                                        \
    static int name_##_verify(const cdtls_public_key *pk, const uint8_t *m, size_t ml, const uint8_t *s,     \
                              size_t sl)                                                                     \
    {                                                                                                        \
        return kind_ == 0 ? bssl_pkcs1_verify(pk, h_, m, ml, s, sl) : bssl_pss_verify(pk, h_, m, ml, s, sl); \
    }                                                                                                        \
    static const cdtls_sig_vt name_ = {alg_,         tls_,          label_, CDTLS_KEY_BIT(CDTLS_KEY_RSA),    \
                                       name_##_sign, name_##_verify};

BSSL_RSA(bssl_pkcs1_256, 0, CDTLS_HASH_SHA256, CDTLS_SIG_RSA_PKCS1_SHA256, 0x0401, "rsa_pkcs1_sha256")
BSSL_RSA(bssl_pkcs1_384, 0, CDTLS_HASH_SHA384, CDTLS_SIG_RSA_PKCS1_SHA384, 0x0501, "rsa_pkcs1_sha384")
BSSL_RSA(bssl_pkcs1_512, 0, CDTLS_HASH_SHA512, CDTLS_SIG_RSA_PKCS1_SHA512, 0x0601, "rsa_pkcs1_sha512")
BSSL_RSA(bssl_pss_256, 1, CDTLS_HASH_SHA256, CDTLS_SIG_RSA_PSS_RSAE_SHA256, 0x0804, "rsa_pss_rsae_sha256")
BSSL_RSA(bssl_pss_384, 1, CDTLS_HASH_SHA384, CDTLS_SIG_RSA_PSS_RSAE_SHA384, 0x0805, "rsa_pss_rsae_sha384")
BSSL_RSA(bssl_pss_512, 1, CDTLS_HASH_SHA512, CDTLS_SIG_RSA_PSS_RSAE_SHA512, 0x0806, "rsa_pss_rsae_sha512")

/* ---------------------------------------------------------------- provider */

static const cdtls_provider bssl_provider = {
    .abi_version = CDTLS_PROVIDER_ABI_VERSION,
    .name = "bearssl",
    .random = bssl_random,
    .hash = {&bssl_sha1, &bssl_sha256, &bssl_sha384, &bssl_sha512},
    .hmac = {&bssl_hmac_sha1, &bssl_hmac_sha256, &bssl_hmac_sha384, &bssl_hmac_sha512},
    .aead = {[CDTLS_AEAD_AES_128_GCM] = &bssl_aes128gcm,
             [CDTLS_AEAD_AES_256_GCM] = &bssl_aes256gcm,
             [CDTLS_AEAD_AES_128_CCM] = &bssl_aes128ccm,
             [CDTLS_AEAD_AES_256_CCM] = &bssl_aes256ccm,
             [CDTLS_AEAD_AES_128_CCM_8] = &bssl_aes128ccm8,
             [CDTLS_AEAD_AES_256_CCM_8] = &bssl_aes256ccm8,
             [CDTLS_AEAD_CHACHA20_POLY1305] = &bssl_chacha},
    .cbc = {&bssl_cbc128, &bssl_cbc256},
    .kx = {&bssl_x25519, &bssl_p256, &bssl_p384},
    .sig = {[CDTLS_SIG_ECDSA_SHA256] = &bssl_ecdsa256,
            [CDTLS_SIG_ECDSA_SHA384] = &bssl_ecdsa384,
            [CDTLS_SIG_ECDSA_SHA512] = &bssl_ecdsa512,
            [CDTLS_SIG_RSA_PKCS1_SHA256] = &bssl_pkcs1_256,
            [CDTLS_SIG_RSA_PKCS1_SHA384] = &bssl_pkcs1_384,
            [CDTLS_SIG_RSA_PKCS1_SHA512] = &bssl_pkcs1_512,
            [CDTLS_SIG_RSA_PSS_RSAE_SHA256] = &bssl_pss_256,
            [CDTLS_SIG_RSA_PSS_RSAE_SHA384] = &bssl_pss_384,
            [CDTLS_SIG_RSA_PSS_RSAE_SHA512] = &bssl_pss_512},
    .sign_key_new = bssl_sign_key_new,
    .sign_key_generate = bssl_sign_key_generate,
    .sign_key_public = bssl_sign_key_public,
    .sign_key_free = bssl_sign_key_free,
    .sn_mask = {&bssl_sn_aes128, &bssl_sn_aes256, &bssl_sn_chacha},
};

const cdtls_provider *cdtls_provider_bearssl(void)
{
    return &bssl_provider;
}

/* The same provider cut to what PSK with AES-128-CCM_8 needs
 * (TLS_PSK_WITH_AES_128_CCM_8, RFC 6655): SHA-256, HMAC-SHA256 (PRF) and
 * AES-128-CCM_8. A firmware that names only this table lets the linker's
 * section GC drop the rest of BearSSL (docs/portability.md has the sizes). */
static const cdtls_provider bssl_provider_psk_ccm8 = {
    .abi_version = CDTLS_PROVIDER_ABI_VERSION,
    .name = "bearssl-psk-ccm8",
    .random = bssl_random,
    .hash = {[CDTLS_HASH_SHA256] = &bssl_sha256},
    .hmac = {[CDTLS_HASH_SHA256] = &bssl_hmac_sha256},
    .aead = {[CDTLS_AEAD_AES_128_CCM_8] = &bssl_aes128ccm8},
};

const cdtls_provider *cdtls_provider_bearssl_psk_ccm8(void)
{
    return &bssl_provider_psk_ccm8;
}
