/*
 * cdtls — the crypto provider interface.
 *
 * The core (src/) includes no crypto library header: every primitive it uses
 * comes through one const vtable, struct cdtls_provider. Each entry may be
 * NULL, meaning "this provider cannot do that"; the core derives from the
 * non-NULL entries which cipher suites, groups and signature schemes a build
 * can negotiate. Three backends ship (providers/bearssl, providers/sodium,
 * providers/openssl); a
 * caller may pass its own table (an HSM, a hardware engine, or a test double
 * with a deterministic random source). See docs/providers.md.
 *
 * Conventions for every function pointer below:
 *  - It returns CDTLS_OK (0) or a negative cdtls_err code.
 *  - Output buffers may alias input buffers where a comment says "in place".
 *  - Contexts are caller-owned storage (unions below, sized for the largest
 *    built-in backend). Hash and HMAC contexts hold no pointers to themselves
 *    or to heap memory and may be copied with memcpy (the transcript hash is
 *    forked that way). AEAD, CBC and key-exchange contexts are initialised in
 *    place and must not be moved; they are wiped by their clear() entry.
 *  - Secret material is wiped by the backend when a context or key is
 *    cleared/freed, and on every failure path.
 */
#ifndef CDTLS_PROVIDER_H
#define CDTLS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "cdtls/error.h"
#include "cdtls/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: sn_mask[] appended after user (DTLS 1.3 record number encryption).
 * 3: kem[] appended after sn_mask (ML-KEM-768 for X25519MLKEM768). */
#define CDTLS_PROVIDER_ABI_VERSION 3u

typedef struct cdtls_provider cdtls_provider;

/* ------------------------------------------------------------------ hashes */

typedef enum cdtls_hash_alg {
    CDTLS_HASH_SHA1 = 0, /* only for HMAC-SHA1 in the legacy *_CBC_SHA suites */
    CDTLS_HASH_SHA256,
    CDTLS_HASH_SHA384,
    CDTLS_HASH_SHA512,
    CDTLS_HASH__COUNT
} cdtls_hash_alg;

#define CDTLS_HASH_MAX_DIGEST 64u
#define CDTLS_HASH_MAX_BLOCK 128u
#define CDTLS_HASH_CTX_SIZE 512u
#define CDTLS_HMAC_CTX_SIZE 1024u

typedef union cdtls_hash_ctx {
    max_align_t align_;
    unsigned char opaque[CDTLS_HASH_CTX_SIZE];
} cdtls_hash_ctx;

typedef union cdtls_hmac_ctx {
    max_align_t align_;
    unsigned char opaque[CDTLS_HMAC_CTX_SIZE];
} cdtls_hmac_ctx;

typedef struct cdtls_hash_vt {
    cdtls_hash_alg alg;
    const char *name;  /* "SHA-256" ... */
    size_t digest_len; /* bytes */
    size_t block_len;  /* bytes, for HMAC and constant-time MAC padding */
    void (*init)(cdtls_hash_ctx *ctx);
    void (*update)(cdtls_hash_ctx *ctx, const void *data, size_t len);
    /* Writes digest_len bytes. Does NOT modify ctx: a running hash (the
     * handshake transcript) can be read and then continued. */
    void (*final)(const cdtls_hash_ctx *ctx, uint8_t *out);
} cdtls_hash_vt;

typedef struct cdtls_hmac_vt {
    cdtls_hash_alg hash;
    const char *name; /* "HMAC-SHA-256" ... */
    size_t mac_len;   /* == digest length of the hash */
    /* Any key length (RFC 2104: longer keys are hashed first). */
    void (*init)(cdtls_hmac_ctx *ctx, const uint8_t *key, size_t key_len);
    void (*update)(cdtls_hmac_ctx *ctx, const void *data, size_t len);
    /* Writes mac_len bytes and wipes the context. */
    void (*final)(cdtls_hmac_ctx *ctx, uint8_t *out);
} cdtls_hmac_vt;

/* -------------------------------------------------------------------- AEAD */

typedef enum cdtls_aead_alg {
    CDTLS_AEAD_AES_128_GCM = 0,
    CDTLS_AEAD_AES_256_GCM,
    CDTLS_AEAD_AES_128_CCM,       /* 16-byte tag, RFC 6655 */
    CDTLS_AEAD_AES_256_CCM,       /* 16-byte tag, RFC 6655 */
    CDTLS_AEAD_AES_128_CCM_8,     /* 8-byte tag, RFC 6655 / RFC 7251 */
    CDTLS_AEAD_AES_256_CCM_8,     /* 8-byte tag */
    CDTLS_AEAD_CHACHA20_POLY1305, /* IETF variant, RFC 8439 */
    CDTLS_AEAD__COUNT
} cdtls_aead_alg;

#define CDTLS_AEAD_CTX_SIZE 1024u
#define CDTLS_AEAD_NONCE_LEN 12u /* every AEAD above uses a 96-bit nonce in (D)TLS */
#define CDTLS_AEAD_MAX_TAG 16u

typedef union cdtls_aead_ctx {
    max_align_t align_;
    unsigned char opaque[CDTLS_AEAD_CTX_SIZE];
} cdtls_aead_ctx;

typedef struct cdtls_aead_vt {
    cdtls_aead_alg alg;
    const char *name; /* "AES-128-GCM" ... */
    size_t key_len;
    size_t nonce_len; /* 12 for all of the above */
    size_t tag_len;
    /* Expands the key into ctx. CDTLS_ERR_KEY_SIZE if key_len != key_len. */
    int (*init)(cdtls_aead_ctx *ctx, const uint8_t *key, size_t key_len);
    /* out receives in_len ciphertext bytes followed by tag_len tag bytes.
     * In place (out == in) is allowed. CDTLS_ERR_NONCE_SIZE on a bad nonce_len. */
    int (*seal)(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);
    /* in is ciphertext || tag (in_len >= tag_len); out receives in_len - tag_len
     * bytes. In place allowed. CDTLS_ERR_AUTH if the tag does not verify, in
     * which case out is wiped; the tag is compared in constant time. */
    int (*open)(const cdtls_aead_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);
    void (*clear)(cdtls_aead_ctx *ctx);
} cdtls_aead_vt;

/* ------------------------------------------------- AES-CBC (legacy suites) */

typedef enum cdtls_cbc_alg { CDTLS_CBC_AES_128 = 0, CDTLS_CBC_AES_256, CDTLS_CBC__COUNT } cdtls_cbc_alg;

#define CDTLS_CBC_CTX_SIZE 512u

typedef union cdtls_cbc_ctx {
    max_align_t align_;
    unsigned char opaque[CDTLS_CBC_CTX_SIZE];
} cdtls_cbc_ctx;

typedef struct cdtls_cbc_vt {
    cdtls_cbc_alg alg;
    const char *name; /* "AES-128-CBC" ... */
    size_t key_len;
    size_t block_len; /* 16 */
    /* encrypt != 0: the context encrypts; 0: it decrypts. */
    int (*init)(cdtls_cbc_ctx *ctx, int encrypt, const uint8_t *key, size_t key_len);
    /* In place over len bytes, len a multiple of block_len (else CDTLS_ERR_LENGTH).
     * iv is block_len bytes and is not modified. No padding is added or removed:
     * the record layer does that (RFC 5246 §6.2.3.2), in constant time. */
    int (*encrypt)(const cdtls_cbc_ctx *ctx, const uint8_t *iv, uint8_t *data, size_t len);
    int (*decrypt)(const cdtls_cbc_ctx *ctx, const uint8_t *iv, uint8_t *data, size_t len);
    void (*clear)(cdtls_cbc_ctx *ctx);
} cdtls_cbc_vt;

/* ------------------------------------------------------ key exchange (ECDHE) */

typedef enum cdtls_group {
    CDTLS_GROUP_X25519 = 0, /* TLS NamedGroup 29 */
    CDTLS_GROUP_SECP256R1,  /* TLS NamedGroup 23 */
    CDTLS_GROUP_SECP384R1,  /* TLS NamedGroup 24 */
    CDTLS_GROUP__COUNT
} cdtls_group;

#define CDTLS_KX_KEY_SIZE 256u
#define CDTLS_KX_MAX_PUBLIC 97u /* uncompressed P-384 point */
#define CDTLS_KX_MAX_SHARED 48u

/* An ephemeral private key. Opaque to the core; wiped by kx->clear(). */
typedef union cdtls_kx_key {
    max_align_t align_;
    unsigned char opaque[CDTLS_KX_KEY_SIZE];
} cdtls_kx_key;

typedef struct cdtls_kx_vt {
    cdtls_group group;
    uint16_t tls_id;   /* IANA NamedGroup value */
    const char *name;  /* "X25519", "P-256", "P-384" */
    size_t public_len; /* 32, 65, 97: X25519 u-coordinate or uncompressed point */
    size_t shared_len; /* 32, 32, 48: x-coordinate for NIST curves */
    /* Fresh key pair from provider->random; writes public_len bytes to pub. */
    int (*keygen)(const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub);
    /* Key pair from a known private scalar (tests, static keys). For X25519
     * the 32-byte scalar is clamped as RFC 7748 says; NIST scalars are
     * big-endian and must be in [1, n-1] (else CDTLS_ERR_BAD_KEY). */
    int (*import_private)(cdtls_kx_key *key, const uint8_t *priv, size_t priv_len, uint8_t *pub);
    /* Shared secret with the peer's public value. CDTLS_ERR_BAD_KEY when the
     * peer's value has the wrong length or is not on the curve, or when the
     * X25519 result is all zeros (RFC 7748 §6.1). */
    int (*derive)(const cdtls_kx_key *key, const uint8_t *peer_pub, size_t peer_len, uint8_t *shared);
    void (*clear)(cdtls_kx_key *key);
} cdtls_kx_vt;

/* -------------------------------------------------------------- signatures */

typedef enum cdtls_key_type {
    CDTLS_KEY_NONE = 0,
    CDTLS_KEY_EC_P256,
    CDTLS_KEY_EC_P384,
    CDTLS_KEY_RSA,
    CDTLS_KEY_ED25519,
    CDTLS_KEY__COUNT
} cdtls_key_type;

#define CDTLS_KEY_BIT(t) (1u << (unsigned)(t))

/* A public key, as parsed from a SubjectPublicKeyInfo by the core. Borrowed
 * pointers; nothing to free. */
typedef struct cdtls_public_key {
    cdtls_key_type type;
    /* EC: uncompressed point (0x04 || X || Y). Ed25519: 32 bytes. RSA: modulus n
     * (big-endian, leading zeros allowed). */
    const uint8_t *data;
    size_t data_len;
    const uint8_t *rsa_e; /* RSA public exponent, big-endian */
    size_t rsa_e_len;
} cdtls_public_key;

/* The components of a private key, as the core's PEM/DER loader finds them.
 * Borrowed pointers; the provider copies what it needs. */
typedef struct cdtls_private_key_params {
    cdtls_key_type type;
    /* EC: big-endian scalar. Ed25519: the 32-byte seed (RFC 8032 "private key"). */
    const uint8_t *priv;
    size_t priv_len;
    /* RSA CRT form (RFC 8017 §3.2): n, e, p, q, dp, dq, qinv; big-endian. */
    const uint8_t *n, *e, *p, *q, *dp, *dq, *qinv;
    size_t n_len, e_len, p_len, q_len, dp_len, dq_len, qinv_len;
} cdtls_private_key_params;

/* A private signing key object, owned by the provider that made it. */
typedef struct cdtls_sign_key cdtls_sign_key;

typedef enum cdtls_sig_alg {
    CDTLS_SIG_ECDSA_SHA256 = 0,    /* TLS 0x0403 ecdsa_secp256r1_sha256 */
    CDTLS_SIG_ECDSA_SHA384,        /* TLS 0x0503 */
    CDTLS_SIG_ECDSA_SHA512,        /* TLS 0x0603 */
    CDTLS_SIG_RSA_PKCS1_SHA256,    /* TLS 0x0401 */
    CDTLS_SIG_RSA_PKCS1_SHA384,    /* TLS 0x0501 */
    CDTLS_SIG_RSA_PKCS1_SHA512,    /* TLS 0x0601 */
    CDTLS_SIG_RSA_PSS_RSAE_SHA256, /* TLS 0x0804, salt length = hash length */
    CDTLS_SIG_RSA_PSS_RSAE_SHA384, /* TLS 0x0805 */
    CDTLS_SIG_RSA_PSS_RSAE_SHA512, /* TLS 0x0806 */
    CDTLS_SIG_ED25519,             /* TLS 0x0807, PureEdDSA (RFC 8032) */
    CDTLS_SIG__COUNT
} cdtls_sig_alg;

#define CDTLS_SIG_MAX_LEN 1024u /* RSA-8192 / DER ECDSA P-521 fit */

typedef struct cdtls_sig_vt {
    cdtls_sig_alg alg;
    uint16_t tls_id;    /* IANA SignatureScheme value */
    const char *name;   /* "ecdsa_sha256" ... */
    unsigned key_types; /* CDTLS_KEY_BIT(...) of the key types this entry handles */
    /* Signs msg (the whole message: the provider hashes it as the scheme
     * says). ECDSA signatures are DER (Ecdsa-Sig-Value), as TLS and X.509 carry
     * them. *sig_len: capacity in, length out. */
    int (*sign)(const cdtls_provider *p, const cdtls_sign_key *key, const uint8_t *msg, size_t msg_len,
                uint8_t *sig, size_t *sig_len);
    /* CDTLS_OK, CDTLS_ERR_SIGNATURE (does not verify) or CDTLS_ERR_BAD_KEY. */
    int (*verify)(const cdtls_public_key *pub, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                  size_t sig_len);
} cdtls_sig_vt;

/* ------------------------------------ record number masks (DTLS 1.3 only) */

/* RFC 9147 §4.2.3: a DTLS 1.3 record's sequence number is XORed with a mask
 * made from the first 16 bytes of its ciphertext (the "sample") under the
 * epoch's sn_key. An AES-based suite uses AES-ECB of the sample (AES-128 for
 * the AES-128 GCM/CCM suites, AES-256 for TLS_AES_256_GCM_SHA384); the
 * ChaCha20-Poly1305 suite uses the ChaCha20 block function with the first 4
 * sample bytes as the block counter (little-endian, RFC 8439 §2.3) and the
 * next 12 as the nonce. A provider without an entry lacks the DTLS 1.3
 * suites that need it. */
typedef enum cdtls_sn_mask_alg {
    CDTLS_SN_MASK_AES_128 = 0, /* AES-128-ECB */
    CDTLS_SN_MASK_AES_256,     /* AES-256-ECB */
    CDTLS_SN_MASK_CHACHA20,    /* ChaCha20 block function, 256-bit key */
    CDTLS_SN_MASK__COUNT
} cdtls_sn_mask_alg;

#define CDTLS_SN_MASK_CTX_SIZE 512u
#define CDTLS_SN_MASK_SAMPLE_LEN 16u /* bytes of ciphertext the mask is made from, and of mask made */

typedef union cdtls_sn_mask_ctx {
    max_align_t align_;
    unsigned char opaque[CDTLS_SN_MASK_CTX_SIZE];
} cdtls_sn_mask_ctx;

typedef struct cdtls_sn_mask_vt {
    cdtls_sn_mask_alg alg;
    const char *name; /* "AES-128-ECB", "AES-256-ECB", "ChaCha20" */
    size_t key_len;   /* 16, 32, 32 */
    /* Expands the key into ctx (initialised in place, not to be moved).
     * CDTLS_ERR_KEY_SIZE if key_len != key_len. */
    int (*init)(cdtls_sn_mask_ctx *ctx, const uint8_t *key, size_t key_len);
    /* Writes CDTLS_SN_MASK_SAMPLE_LEN mask bytes made from the sample (AES:
     * its encryption; ChaCha20: the first 16 bytes of the block). out may
     * alias sample. */
    int (*mask)(const cdtls_sn_mask_ctx *ctx, const uint8_t *sample, uint8_t *out);
    void (*clear)(cdtls_sn_mask_ctx *ctx);
} cdtls_sn_mask_vt;

/* ---------------------------------------- key encapsulation (DTLS 1.3 only) */

/* A KEM (FIPS 203 ML-KEM-768), for the X25519MLKEM768 hybrid group of
 * draft-ietf-tls-ecdhe-mlkem: the client sends an encapsulation key, the
 * server answers with a ciphertext, both end with the same 32-byte secret.
 * The core combines it with X25519 (src/keys/hybrid_kex.c); a provider
 * without an entry does not offer the hybrid group. */
typedef enum cdtls_kem_alg {
    CDTLS_KEM_MLKEM768 = 0, /* FIPS 203, parameter set ML-KEM-768 */
    CDTLS_KEM__COUNT
} cdtls_kem_alg;

/* The TLS NamedGroup of the hybrid (draft-ietf-tls-ecdhe-mlkem §4): a wire
 * code point, not an index into kx[] (it is X25519 from kx[] plus kem[]). */
#define CDTLS_GROUP_X25519MLKEM768 0x11ecu

#define CDTLS_KEM_KEY_SIZE 2560u       /* ML-KEM-768 decapsulation key: 2400 bytes */
#define CDTLS_KEM_MAX_PUBLIC 1184u     /* ML-KEM-768 encapsulation key */
#define CDTLS_KEM_MAX_CIPHERTEXT 1088u /* ML-KEM-768 ciphertext */
#define CDTLS_KEM_MAX_SHARED 32u       /* every ML-KEM parameter set */
#define CDTLS_KEM_MAX_KEYGEN_SEED 64u  /* d || z */
#define CDTLS_KEM_MAX_ENCAPS_SEED 32u  /* m */

/* A decapsulation key. Opaque to the core; wiped by kem->clear(). */
typedef union cdtls_kem_key {
    max_align_t align_;
    unsigned char opaque[CDTLS_KEM_KEY_SIZE];
} cdtls_kem_key;

typedef struct cdtls_kem_vt {
    cdtls_kem_alg alg;
    const char *name;       /* "ML-KEM-768" */
    size_t public_len;      /* encapsulation key: 1184 */
    size_t ciphertext_len;  /* 1088 */
    size_t shared_len;      /* 32 */
    size_t keygen_seed_len; /* 64: d || z, FIPS 203 ML-KEM.KeyGen_internal */
    size_t encaps_seed_len; /* 32: m, FIPS 203 ML-KEM.Encaps_internal */
    /* Fresh key pair: keygen_seed_len bytes from provider->random (so a
     * deterministic generator gives deterministic keys), then keygen_seed.
     * Writes public_len bytes to pub. */
    int (*keygen)(const cdtls_provider *p, cdtls_kem_key *key, uint8_t *pub);
    /* Key pair from a seed (FIPS 203 Algorithm 16): known-answer tests.
     * CDTLS_ERR_KEY_SIZE if seed_len != keygen_seed_len. */
    int (*keygen_seed)(cdtls_kem_key *key, const uint8_t *seed, size_t seed_len, uint8_t *pub);
    /* Encapsulates to the peer's encapsulation key with encaps_seed_len
     * bytes from provider->random: writes ciphertext_len bytes to ct and
     * shared_len bytes to shared. CDTLS_ERR_BAD_KEY when pub_len !=
     * public_len or the key fails FIPS 203 §7.2's modulus check; nothing
     * of the encapsulation is left in ct or shared then (not written, or
     * wiped). */
    int (*encaps)(const cdtls_provider *p, const uint8_t *pub, size_t pub_len, uint8_t *ct, uint8_t *shared);
    /* The same with the caller's m (FIPS 203 Algorithm 17): known answers. */
    int (*encaps_seed)(const uint8_t *pub, size_t pub_len, const uint8_t *seed, size_t seed_len, uint8_t *ct,
                       uint8_t *shared);
    /* Decapsulates (FIPS 203 Algorithm 18). CDTLS_ERR_BAD_KEY only when
     * ct_len != ciphertext_len: a ciphertext of the right length that was
     * tampered with is not an error but gives an unrelated secret (implicit
     * rejection), so the handshake fails later, at Finished. */
    int (*decaps)(const cdtls_kem_key *key, const uint8_t *ct, size_t ct_len, uint8_t *shared);
    void (*clear)(cdtls_kem_key *key);
} cdtls_kem_vt;

/* ---------------------------------------------------------------- provider */

struct cdtls_provider {
    unsigned abi_version; /* CDTLS_PROVIDER_ABI_VERSION */
    const char *name;     /* "bearssl", "sodium", ... */

    /* Cryptographically secure random bytes. Receives the provider itself so a
     * caller-made table (a struct that begins with a cdtls_provider) can keep
     * state, e.g. a deterministic generator for fuzzing. */
    int (*random)(const cdtls_provider *self, uint8_t *out, size_t len);

    const cdtls_hash_vt *hash[CDTLS_HASH__COUNT];
    const cdtls_hmac_vt *hmac[CDTLS_HASH__COUNT];
    const cdtls_aead_vt *aead[CDTLS_AEAD__COUNT];
    const cdtls_cbc_vt *cbc[CDTLS_CBC__COUNT];
    const cdtls_kx_vt *kx[CDTLS_GROUP__COUNT];
    const cdtls_sig_vt *sig[CDTLS_SIG__COUNT];

    /* Private signing keys (NULL when sig[] is all NULL). */
    /* Makes a key object from its components; CDTLS_ERR_UNSUPPORTED for key
     * types this provider cannot sign with, CDTLS_ERR_BAD_KEY for bad values. */
    int (*sign_key_new)(const cdtls_provider *p, const cdtls_allocator *a,
                        const cdtls_private_key_params *params, cdtls_sign_key **out);
    /* Generates a fresh key pair of the given type (for self-signed certificates). */
    int (*sign_key_generate)(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                             cdtls_sign_key **out);
    /* The public half, as borrowed pointers into the key object. */
    int (*sign_key_public)(const cdtls_sign_key *key, cdtls_public_key *out);
    /* Wipes and frees the key. NULL key is a no-op. */
    void (*sign_key_free)(const cdtls_allocator *a, cdtls_sign_key *key);

    void *user; /* for caller-made providers; the built-in ones leave it NULL */

    /* ABI 2: DTLS 1.3 record number masks (RFC 9147 §4.2.3). Read only from
     * tables whose abi_version is at least 2. */
    const cdtls_sn_mask_vt *sn_mask[CDTLS_SN_MASK__COUNT];

    /* ABI 3: key encapsulation (ML-KEM-768, FIPS 203). Read only from tables
     * whose abi_version is at least 3: a table built against an older header
     * ends before this member. */
    const cdtls_kem_vt *kem[CDTLS_KEM__COUNT];
};

/* The provider chosen at build time (zig build -Dcrypto=bearssl|sodium|openssl). */
CDTLS_API const cdtls_provider *cdtls_provider_default(void);

/* The built-in providers; each exists only in builds that compile it. */
CDTLS_API const cdtls_provider *cdtls_provider_bearssl(void);
/* BearSSL cut to SHA-256, HMAC-SHA256 and AES-128-CCM_8: what
 * TLS_PSK_WITH_AES_128_CCM_8 needs, for firmware images (only in -Dcrypto=bearssl
 * builds). */
CDTLS_API const cdtls_provider *cdtls_provider_bearssl_psk_ccm8(void);
CDTLS_API const cdtls_provider *cdtls_provider_sodium(void);
/* OpenSSL's libcrypto (3.0+), in -Dcrypto=openssl builds (native targets). */
CDTLS_API const cdtls_provider *cdtls_provider_openssl(void);

/* ------------------------------------------------------ combining providers
 *
 * A table made of several providers: each entry comes from the first
 * provider in the list that has it, so a small provider can borrow one fast
 * primitive from a big one (BearSSL for everything, libcrypto's P-256 only:
 * list a copy of the libcrypto table with every other entry set to NULL,
 * then BearSSL's). docs/providers.md explains the rules:
 *  - random: the first provider's random, called with that provider as self
 *    (so a caller-made stateful generator keeps working). Every entry that
 *    is given a provider (kx keygen, sign, sign_key_new/_generate) receives
 *    the combined table, so all of them draw from that random; a borrowed
 *    table need not have a random of its own.
 *  - hash, hmac, aead, cbc, kx, and each signature's verify: per entry.
 *  - signing keys: sign_key_new/_generate go, per key type, to the first
 *    provider that can sign with that type (a sig entry whose key_types has
 *    it, and sign_key_new); the key object remembers its owner, and sign()
 *    always runs the owner's code on it (a key object is only meaningful to
 *    the provider that made it). So keys given to a combined table must be
 *    made through it (cdtls_load_private_key with the combined table).
 * The combined table points at the listed tables, which must outlive it,
 * and into itself: it must not be moved or copied after the call. */
#define CDTLS_PROVIDER_COMBINE_MAX 4u

typedef struct cdtls_provider_combined {
    cdtls_provider provider; /* pass &combined.provider (the first member) */
    const cdtls_provider *from[CDTLS_PROVIDER_COMBINE_MAX];
    size_t count;
    const cdtls_provider *random_from;
    cdtls_sig_vt sig[CDTLS_SIG__COUNT]; /* the dispatching signature entries */
} cdtls_provider_combined;

/* Fills *out from list[0..n-1] (1 <= n <= CDTLS_PROVIDER_COMBINE_MAX).
 * CDTLS_ERR_INVALID_ARG for a NULL or wrong-ABI table or a bad n. name (not
 * copied; NULL: "combined") becomes out->provider.name. */
CDTLS_API int cdtls_provider_combine(cdtls_provider_combined *out, const char *name,
                                     const cdtls_provider *const *list, size_t n);

/* Name tables for diagnostics and capability listings. */
CDTLS_API const char *cdtls_hash_name(cdtls_hash_alg alg);
CDTLS_API const char *cdtls_aead_name(cdtls_aead_alg alg);
CDTLS_API const char *cdtls_cbc_name(cdtls_cbc_alg alg);
CDTLS_API const char *cdtls_group_name(cdtls_group g);
CDTLS_API const char *cdtls_sig_name(cdtls_sig_alg alg);
CDTLS_API const char *cdtls_sn_mask_name(cdtls_sn_mask_alg alg);
CDTLS_API const char *cdtls_kem_name(cdtls_kem_alg alg);

/* Runs one known-answer test per primitive the provider has (NIST/RFC
 * vectors; see src/keys/selftest.c). report, if not NULL, is called once per
 * check with its name and result. Returns CDTLS_OK if every check passed,
 * otherwise the first failing code. */
typedef void (*cdtls_selftest_report)(void *ctx, const char *check, int result);
CDTLS_API int cdtls_provider_selftest(const cdtls_provider *p, cdtls_selftest_report report, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_PROVIDER_H */
