/* Key exchange (X25519, P-256, P-384) and signatures (ECDSA, RSA PKCS#1 v1.5,
 * RSA-PSS-RSAE, Ed25519) for the libcrypto provider, through EVP_PKEY.
 *
 * Ephemeral keys: the interface says a fresh key pair comes from the
 * provider's random entry (so a caller's deterministic generator gives
 * deterministic keys, which the fuzzers rely on). The scalar is therefore
 * drawn here and imported, not made by EVP_PKEY_keygen; the public point of
 * a NIST scalar is computed with EC_POINT_mul (libcrypto's P-256 is the
 * constant-time nistz256 code). A cdtls_kx_key holds the private scalar and
 * the public value only, no libcrypto object: derive() builds the EVP_PKEYs
 * it needs and frees them, so a key that is dropped without clear() leaks
 * nothing but its bytes, and clear() has only to wipe.
 *
 * Signatures: a signing key object owns an EVP_PKEY made once in
 * sign_key_new; sign() and verify() use EVP_DigestSign/EVP_DigestVerify, so
 * libcrypto hashes the message. ECDSA and RSA-PSS draw their per-signature
 * randomness from libcrypto's DRBG, not from the provider's random entry. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <string.h>

#include "common/mem.h"
#include "openssl_internal.h"

/* ---------------------------------------------------------- EVP_PKEY helpers */

typedef struct ossl_curve {
    int nid;
    const char *group; /* OSSL_PKEY_PARAM_GROUP_NAME */
    size_t scalar_len, point_len;
} ossl_curve;

static const ossl_curve curve_p256 = {NID_X9_62_prime256v1, "P-256", 32, 65};
static const ossl_curve curve_p384 = {NID_secp384r1, "P-384", 48, 97};

static const ossl_curve *curve_of(cdtls_key_type t)
{
    return t == CDTLS_KEY_EC_P256 ? &curve_p256 : t == CDTLS_KEY_EC_P384 ? &curve_p384 : NULL;
}

/* An EC EVP_PKEY from a big-endian scalar and/or an uncompressed point.
 * libcrypto checks that the point is on the curve (EC_POINT_oct2point). */
static EVP_PKEY *ec_pkey(const ossl_curve *c, const uint8_t *priv, size_t priv_len, const uint8_t *pub,
                         size_t pub_len)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *k = priv ? BN_secure_new() : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!bld || (priv && !k)) goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0)) goto out;
    if (priv &&
        (!BN_bin2bn(priv, (int)priv_len, k) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, k)))
        goto out;
    if (pub && !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len)) goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1) goto out;
    if (EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* OSSL_PARAM_BLD_to_param uses secure memory for BN values */
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(k);
    return pkey;
}

/* The public point k*G of a big-endian scalar, uncompressed, into pub
 * (c->point_len bytes). CDTLS_ERR_BAD_KEY unless 1 <= k <= n-1. */
static int ec_public_of(const ossl_curve *c, const uint8_t *priv, size_t priv_len, uint8_t *pub)
{
    int rc = CDTLS_ERR_CRYPTO;
    EC_GROUP *g = EC_GROUP_new_by_curve_name_ex(NULL, NULL, c->nid);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    BIGNUM *k = BN_secure_new();
    BN_CTX *bn = BN_CTX_secure_new();
    if (!g || !q || !k || !bn || !BN_bin2bn(priv, (int)priv_len, k)) goto out;
    BN_set_flags(k, BN_FLG_CONSTTIME);
    if (BN_is_zero(k) || BN_cmp(k, EC_GROUP_get0_order(g)) >= 0) {
        rc = CDTLS_ERR_BAD_KEY;
        goto out;
    }
    if (EC_POINT_mul(g, q, k, NULL, NULL, bn) != 1 ||
        EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, c->point_len, bn) != c->point_len)
        goto out;
    rc = CDTLS_OK;
out:
    BN_CTX_free(bn);
    BN_clear_free(k);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return rc;
}

/* Left-pads a SEC1 scalar (leading zeros may be stripped) to the field size. */
static int pad_scalar(const ossl_curve *c, const uint8_t *priv, size_t priv_len, uint8_t *k)
{
    if (!priv || priv_len == 0 || priv_len > c->scalar_len) return CDTLS_ERR_BAD_KEY;
    memset(k, 0, c->scalar_len);
    memcpy(k + c->scalar_len - priv_len, priv, priv_len);
    return CDTLS_OK;
}

/* A scalar in [1, n-1] from the provider's random entry, by rejection: for
 * P-256 and P-384 n is within 2^-32 of 2^bits, so a retry is rare; 64
 * failures in a row mean a broken generator. */
static int random_scalar(const cdtls_provider *p, const ossl_curve *c, uint8_t *k, uint8_t *pub)
{
    for (int tries = 0; tries < 64; tries++) {
        int rc = p->random(p, k, c->scalar_len);
        if (rc) return rc;
        rc = ec_public_of(c, k, c->scalar_len, pub);
        if (rc != CDTLS_ERR_BAD_KEY) return rc;
    }
    return CDTLS_ERR_RANDOM;
}

/* ------------------------------------------------------------ key exchange */

typedef struct ossl_kx_state {
    uint8_t priv[48];
    uint8_t pub[CDTLS_KX_MAX_PUBLIC];
} ossl_kx_state;

_Static_assert(sizeof(ossl_kx_state) <= CDTLS_KX_KEY_SIZE, "kx state fits");

static ossl_kx_state *kx_state(const cdtls_kx_key *key)
{
    return (ossl_kx_state *)(uintptr_t)key->opaque;
}

/* Shared secret of own and peer into shared (want bytes). */
static int derive_pkeys(EVP_PKEY *own, EVP_PKEY *peer, uint8_t *shared, size_t want)
{
    int rc = CDTLS_ERR_BAD_KEY;
    EVP_PKEY_CTX *ctx = own && peer ? EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL) : NULL;
    size_t len = want;
    /* No extra validation of the peer (validate_peer = 0): the point was
     * checked on the curve when it was decoded, and P-256/P-384 have
     * cofactor 1, so libcrypto's full check would only add a scalar
     * multiplication by n. X25519 needs no check (RFC 7748 §6.1: the
     * all-zero result is what is refused). */
    if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1 &&
        EVP_PKEY_derive(ctx, shared, &len) == 1 && len == want) {
        uint8_t acc = 0;
        for (size_t i = 0; i < want; i++) acc |= shared[i];
        rc = acc ? CDTLS_OK : CDTLS_ERR_BAD_KEY;
    }
    if (rc) cdtls_memzero(shared, want);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static int x25519_import(cdtls_kx_key *key, const uint8_t *priv, size_t priv_len, uint8_t *pub)
{
    if (!key || !priv || !pub) return CDTLS_ERR_INVALID_ARG;
    if (priv_len != 32) return CDTLS_ERR_BAD_KEY;
    ossl_kx_state *s = kx_state(key);
    memset(key, 0, sizeof *key);
    /* libcrypto clamps the scalar as RFC 7748 §5 says. */
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    size_t len = 32;
    int ok = pk && EVP_PKEY_get_raw_public_key(pk, s->pub, &len) == 1 && len == 32;
    EVP_PKEY_free(pk);
    if (!ok) {
        cdtls_memzero(key, sizeof *key);
        return CDTLS_ERR_CRYPTO;
    }
    memcpy(s->priv, priv, 32);
    memcpy(pub, s->pub, 32);
    return CDTLS_OK;
}

static int x25519_keygen(const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub)
{
    if (!p || !key || !pub) return CDTLS_ERR_INVALID_ARG;
    uint8_t k[32];
    int rc = p->random(p, k, sizeof k);
    if (!rc) rc = x25519_import(key, k, sizeof k, pub);
    cdtls_memzero(k, sizeof k);
    return rc;
}

static int x25519_derive(const cdtls_kx_key *key, const uint8_t *peer_pub, size_t peer_len, uint8_t *shared)
{
    if (!key || !peer_pub || !shared) return CDTLS_ERR_INVALID_ARG;
    if (peer_len != 32) return CDTLS_ERR_BAD_KEY;
    EVP_PKEY *own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, kx_state(key)->priv, 32);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, 32);
    int rc = derive_pkeys(own, peer, shared, 32);
    EVP_PKEY_free(own);
    EVP_PKEY_free(peer);
    return rc;
}

static int ec_kx_import(const ossl_curve *c, cdtls_kx_key *key, const uint8_t *priv, size_t priv_len,
                        uint8_t *pub)
{
    if (!key || !priv || !pub) return CDTLS_ERR_INVALID_ARG;
    memset(key, 0, sizeof *key);
    /* the interface's NIST scalars are exactly the field size */
    if (priv_len != c->scalar_len) return CDTLS_ERR_BAD_KEY;
    ossl_kx_state *s = kx_state(key);
    int rc = ec_public_of(c, priv, priv_len, s->pub);
    if (rc) {
        cdtls_memzero(key, sizeof *key);
        return rc;
    }
    memcpy(s->priv, priv, priv_len);
    memcpy(pub, s->pub, c->point_len);
    return CDTLS_OK;
}

static int ec_kx_keygen(const ossl_curve *c, const cdtls_provider *p, cdtls_kx_key *key, uint8_t *pub)
{
    if (!p || !key || !pub) return CDTLS_ERR_INVALID_ARG;
    memset(key, 0, sizeof *key);
    ossl_kx_state *s = kx_state(key);
    int rc = random_scalar(p, c, s->priv, s->pub);
    if (rc) {
        cdtls_memzero(key, sizeof *key);
        return rc;
    }
    memcpy(pub, s->pub, c->point_len);
    return CDTLS_OK;
}

static int ec_kx_derive(const ossl_curve *c, const cdtls_kx_key *key, const uint8_t *peer_pub,
                        size_t peer_len, uint8_t *shared)
{
    if (!key || !peer_pub || !shared) return CDTLS_ERR_INVALID_ARG;
    /* uncompressed points only (RFC 8422 §5.1.2: the only format in TLS 1.2
     * ECDHE with these groups) */
    if (peer_len != c->point_len || peer_pub[0] != 0x04) return CDTLS_ERR_BAD_KEY;
    EVP_PKEY *own = ec_pkey(c, kx_state(key)->priv, c->scalar_len, NULL, 0);
    EVP_PKEY *peer = ec_pkey(c, NULL, 0, peer_pub, peer_len);
    int rc = own ? derive_pkeys(own, peer, shared, c->scalar_len) : CDTLS_ERR_CRYPTO;
    EVP_PKEY_free(own);
    EVP_PKEY_free(peer);
    return rc;
}

static void kx_clear(cdtls_kx_key *key)
{
    if (key) cdtls_memzero(key, sizeof *key);
}

#define OSSL_EC_KX(name_, curve_, group_, tls_, label_, pub_, shared_)                         \
    static int name_##_keygen(const cdtls_provider *p, cdtls_kx_key *k, uint8_t *pub)          \
    {                                                                                          \
        return ec_kx_keygen(&curve_, p, k, pub);                                               \
    }                                                                                          \
    static int name_##_import(cdtls_kx_key *k, const uint8_t *priv, size_t n, uint8_t *pub)    \
    {                                                                                          \
        return ec_kx_import(&curve_, k, priv, n, pub);                                         \
    }                                                                                          \
    static int name_##_derive(const cdtls_kx_key *k, const uint8_t *pp, size_t pl, uint8_t *s) \
    {                                                                                          \
        return ec_kx_derive(&curve_, k, pp, pl, s);                                            \
    }                                                                                          \
    const cdtls_kx_vt cdtls_ossl_##name_ = {                                                   \
        group_, tls_, label_, pub_, shared_, name_##_keygen, name_##_import, name_##_derive, kx_clear};

const cdtls_kx_vt cdtls_ossl_x25519 = {
    CDTLS_GROUP_X25519, 29, "X25519", 32, 32, x25519_keygen, x25519_import, x25519_derive, kx_clear};
OSSL_EC_KX(p256, curve_p256, CDTLS_GROUP_SECP256R1, 23, "P-256", 65, 32)
OSSL_EC_KX(p384, curve_p384, CDTLS_GROUP_SECP384R1, 24, "P-384", 97, 48)

/* ------------------------------------------------------------ signing keys */

typedef struct ossl_sign_key {
    cdtls_key_type type;
    EVP_PKEY *pkey;
    size_t pub_len, e_len;
    uint8_t pub[CDTLS_SIG_MAX_LEN]; /* EC point, Ed25519 key or RSA modulus */
    uint8_t e[64];                  /* RSA public exponent */
} ossl_sign_key;

static const ossl_sign_key *key_of(const cdtls_sign_key *k)
{
    return (const ossl_sign_key *)(const void *)k;
}

static int new_key(const cdtls_allocator *a, cdtls_key_type type, ossl_sign_key **out)
{
    *out = cdtls_alloc_zero(a, sizeof **out);
    if (!*out) return CDTLS_ERR_NOMEM;
    (*out)->type = type;
    return CDTLS_OK;
}

void cdtls_ossl_sign_key_free(const cdtls_allocator *a, cdtls_sign_key *key)
{
    if (!key) return;
    ossl_sign_key *k = (ossl_sign_key *)(void *)key;
    EVP_PKEY_free(k->pkey); /* libcrypto wipes the private parts it frees */
    cdtls_free_wipe(a, k, sizeof *k);
}

static int ec_sign_key(const cdtls_allocator *a, cdtls_key_type type, const uint8_t *priv, size_t priv_len,
                       cdtls_sign_key **out)
{
    const ossl_curve *c = curve_of(type);
    uint8_t k[48];
    int rc = pad_scalar(c, priv, priv_len, k);
    ossl_sign_key *key = NULL;
    if (!rc) rc = new_key(a, type, &key);
    if (!rc) rc = ec_public_of(c, k, c->scalar_len, key->pub);
    if (!rc) {
        key->pub_len = c->point_len;
        key->pkey = ec_pkey(c, k, c->scalar_len, key->pub, key->pub_len);
        if (!key->pkey) rc = CDTLS_ERR_CRYPTO;
    }
    cdtls_memzero(k, sizeof k);
    if (rc) {
        cdtls_ossl_sign_key_free(a, (cdtls_sign_key *)(void *)key);
        return rc;
    }
    *out = (cdtls_sign_key *)(void *)key;
    return CDTLS_OK;
}

static int ed25519_sign_key(const cdtls_allocator *a, const uint8_t *seed, size_t seed_len,
                            cdtls_sign_key **out)
{
    if (!seed || seed_len != 32) return CDTLS_ERR_BAD_KEY;
    ossl_sign_key *key = NULL;
    int rc = new_key(a, CDTLS_KEY_ED25519, &key);
    if (rc) return rc;
    key->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    key->pub_len = 32;
    if (!key->pkey || EVP_PKEY_get_raw_public_key(key->pkey, key->pub, &key->pub_len) != 1 ||
        key->pub_len != 32) {
        cdtls_ossl_sign_key_free(a, (cdtls_sign_key *)(void *)key);
        return CDTLS_ERR_CRYPTO;
    }
    *out = (cdtls_sign_key *)(void *)key;
    return CDTLS_OK;
}

/* Strips leading zero bytes of a big-endian integer. */
static const uint8_t *strip(const uint8_t *p, size_t *len)
{
    while (*len > 1 && p[0] == 0) p++, (*len)--;
    return p;
}

/* Copies n and e of an RSA EVP_PKEY into the key object (sign_key_public
 * hands out pointers to them). */
static int rsa_keep_public(ossl_sign_key *key)
{
    BIGNUM *n = NULL, *e = NULL;
    int rc = CDTLS_ERR_BAD_KEY;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && BN_num_bytes(n) >= 64 &&
        (size_t)BN_num_bytes(n) <= sizeof key->pub && (size_t)BN_num_bytes(e) <= sizeof key->e) {
        key->pub_len = (size_t)BN_bn2bin(n, key->pub);
        key->e_len = (size_t)BN_bn2bin(e, key->e);
        rc = CDTLS_OK;
    }
    BN_free(n);
    BN_free(e);
    return rc;
}

/* RSA from the CRT components the core's loader found (RFC 8017 §3.2).
 * libcrypto wants the private exponent d too, which PKCS#1 keys carry but
 * the interface does not pass: d = e^-1 mod lcm(p-1, q-1). */
static int rsa_sign_key(const cdtls_allocator *a, const cdtls_private_key_params *kp, cdtls_sign_key **out)
{
    if (!kp->n || !kp->e || !kp->p || !kp->q || !kp->dp || !kp->dq || !kp->qinv) return CDTLS_ERR_BAD_KEY;
    size_t nl = kp->n_len, el = kp->e_len;
    const uint8_t *n = strip(kp->n, &nl), *e = strip(kp->e, &el);
    if (nl > CDTLS_SIG_MAX_LEN || nl < 64 || el > 64) return CDTLS_ERR_BAD_KEY; /* 512..8192 bits */
    BIGNUM *bn[7] = {0}, *d = BN_secure_new(), *p1 = BN_secure_new(), *q1 = BN_secure_new(),
           *g = BN_secure_new(), *l = BN_secure_new();
    BN_CTX *bctx = BN_CTX_secure_new();
    const uint8_t *src[7] = {kp->n, kp->e, kp->p, kp->q, kp->dp, kp->dq, kp->qinv};
    const size_t len[7] = {kp->n_len, kp->e_len, kp->p_len, kp->q_len, kp->dp_len, kp->dq_len, kp->qinv_len};
    static const char *const names[7] = {OSSL_PKEY_PARAM_RSA_N,           OSSL_PKEY_PARAM_RSA_E,
                                         OSSL_PKEY_PARAM_RSA_FACTOR1,     OSSL_PKEY_PARAM_RSA_FACTOR2,
                                         OSSL_PKEY_PARAM_RSA_EXPONENT1,   OSSL_PKEY_PARAM_RSA_EXPONENT2,
                                         OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    ossl_sign_key *key = NULL;
    int rc = CDTLS_ERR_NOMEM, ok = bld && d && p1 && q1 && g && l && bctx;
    for (int i = 0; ok && i < 7; i++) {
        bn[i] = BN_secure_new();
        ok = bn[i] && BN_bin2bn(src[i], (int)len[i], bn[i]) && OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]);
    }
    if (!ok) goto out;
    rc = CDTLS_ERR_BAD_KEY;
    BN_set_flags(p1, BN_FLG_CONSTTIME);
    BN_set_flags(q1, BN_FLG_CONSTTIME);
    if (!BN_sub(p1, bn[2], BN_value_one()) || !BN_sub(q1, bn[3], BN_value_one()) ||
        !BN_gcd(g, p1, q1, bctx) || !BN_mul(l, p1, q1, bctx) || !BN_div(l, NULL, l, g, bctx) ||
        !BN_mod_inverse(d, bn[1], l, bctx) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    rc = new_key(a, CDTLS_KEY_RSA, &key);
    if (rc) goto out;
    rc = CDTLS_ERR_BAD_KEY;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key->pkey, EVP_PKEY_KEYPAIR, params) != 1)
        goto out;
    rc = rsa_keep_public(key);
    (void)n, (void)e;
out:
    if (rc)
        cdtls_ossl_sign_key_free(a, (cdtls_sign_key *)(void *)key);
    else
        *out = (cdtls_sign_key *)(void *)key;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i < 7; i++) BN_clear_free(bn[i]);
    BN_clear_free(d);
    BN_clear_free(p1);
    BN_clear_free(q1);
    BN_clear_free(g);
    BN_clear_free(l);
    BN_CTX_free(bctx);
    return rc;
}

int cdtls_ossl_sign_key_new(const cdtls_provider *p, const cdtls_allocator *a,
                            const cdtls_private_key_params *kp, cdtls_sign_key **out)
{
    (void)p;
    if (!a || !kp || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    switch (kp->type) {
    case CDTLS_KEY_EC_P256:
    case CDTLS_KEY_EC_P384: return ec_sign_key(a, kp->type, kp->priv, kp->priv_len, out);
    case CDTLS_KEY_RSA: return rsa_sign_key(a, kp, out);
    case CDTLS_KEY_ED25519: return ed25519_sign_key(a, kp->priv, kp->priv_len, out);
    default: return CDTLS_ERR_UNSUPPORTED;
    }
}

/* EC and Ed25519 keys from the provider's random entry (as ephemeral keys
 * are); RSA-2048 from libcrypto's own generator, as an RSA key is not a
 * uniform draw that a caller's generator could stand in for. */
int cdtls_ossl_sign_key_generate(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                                 cdtls_sign_key **out)
{
    if (!p || !a || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    uint8_t k[48], pub[CDTLS_KX_MAX_PUBLIC];
    int rc = CDTLS_ERR_UNSUPPORTED;
    const ossl_curve *c = curve_of(type);
    if (c) {
        rc = random_scalar(p, c, k, pub);
        if (!rc) rc = ec_sign_key(a, type, k, c->scalar_len, out);
    } else if (type == CDTLS_KEY_ED25519) {
        rc = p->random(p, k, 32);
        if (!rc) rc = ed25519_sign_key(a, k, 32, out);
    } else if (type == CDTLS_KEY_RSA) {
        ossl_sign_key *key = NULL;
        rc = new_key(a, CDTLS_KEY_RSA, &key);
        if (rc) return rc;
        key->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        rc = key->pkey ? rsa_keep_public(key) : CDTLS_ERR_CRYPTO;
        if (rc)
            cdtls_ossl_sign_key_free(a, (cdtls_sign_key *)(void *)key);
        else
            *out = (cdtls_sign_key *)(void *)key;
    }
    cdtls_memzero(k, sizeof k);
    return rc;
}

int cdtls_ossl_sign_key_public(const cdtls_sign_key *key, cdtls_public_key *out)
{
    if (!key || !out) return CDTLS_ERR_INVALID_ARG;
    const ossl_sign_key *k = key_of(key);
    memset(out, 0, sizeof *out);
    out->type = k->type;
    out->data = k->pub;
    out->data_len = k->pub_len;
    if (k->type == CDTLS_KEY_RSA) {
        out->rsa_e = k->e;
        out->rsa_e_len = k->e_len;
    }
    return CDTLS_OK;
}

/* -------------------------------------------------------------- signatures */

typedef enum ossl_sig_kind { OSSL_ECDSA, OSSL_PKCS1, OSSL_PSS, OSSL_EDDSA } ossl_sig_kind;

static const char *md_name(cdtls_hash_alg h)
{
    return h == CDTLS_HASH_SHA256 ? "SHA256" : h == CDTLS_HASH_SHA384 ? "SHA384" : "SHA512";
}

static int kind_takes(ossl_sig_kind kind, cdtls_key_type t)
{
    switch (kind) {
    case OSSL_ECDSA: return t == CDTLS_KEY_EC_P256 || t == CDTLS_KEY_EC_P384;
    case OSSL_PKCS1:
    case OSSL_PSS: return t == CDTLS_KEY_RSA;
    case OSSL_EDDSA: return t == CDTLS_KEY_ED25519;
    }
    return 0;
}

/* The padding of an RSA scheme; TLS's PSS uses MGF1 with the message hash
 * and a salt as long as the hash (RFC 8446 §4.2.3, which RFC 8422-era 1.2
 * stacks follow for rsa_pss_rsae_*). */
static int set_padding(EVP_PKEY_CTX *pctx, ossl_sig_kind kind)
{
    if (kind == OSSL_PKCS1) return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    if (kind == OSSL_PSS)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    return 1;
}

static int do_sign(ossl_sig_kind kind, cdtls_hash_alg h, const cdtls_sign_key *key, const uint8_t *msg,
                   size_t msg_len, uint8_t *sig, size_t *sig_len)
{
    if (!key || (!msg && msg_len) || !sig || !sig_len) return CDTLS_ERR_INVALID_ARG;
    const ossl_sign_key *k = key_of(key);
    if (!kind_takes(kind, k->type) || !k->pkey) return CDTLS_ERR_BAD_KEY;
    static const uint8_t empty[1];
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t need = 0;
    int rc = CDTLS_ERR_CRYPTO;
    if (m &&
        EVP_DigestSignInit_ex(m, &pctx, kind == OSSL_EDDSA ? NULL : md_name(h), NULL, NULL, k->pkey, NULL) ==
            1 &&
        set_padding(pctx, kind) && EVP_DigestSign(m, NULL, &need, msg ? msg : empty, msg_len) == 1) {
        if (need > *sig_len) {
            rc = CDTLS_ERR_BUFFER_TOO_SMALL;
        } else if (EVP_DigestSign(m, sig, &need, msg ? msg : empty, msg_len) == 1) {
            *sig_len = need;
            rc = CDTLS_OK;
        }
    }
    EVP_MD_CTX_free(m);
    return rc;
}

static EVP_PKEY *public_pkey(const cdtls_public_key *pub)
{
    const ossl_curve *c = curve_of(pub->type);
    if (c) return pub->data_len == c->point_len ? ec_pkey(c, NULL, 0, pub->data, pub->data_len) : NULL;
    if (pub->type == CDTLS_KEY_ED25519)
        return pub->data_len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub->data, 32)
                                   : NULL;
    if (pub->type != CDTLS_KEY_RSA || !pub->rsa_e || !pub->rsa_e_len) return NULL;
    size_t nl = pub->data_len;
    const uint8_t *n = strip(pub->data, &nl);
    if (nl < 64 || nl > CDTLS_SIG_MAX_LEN) return NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n, (int)nl, NULL), *bn_e = BN_bin2bn(pub->rsa_e, (int)pub->rsa_e_len, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bld && bn_n && bn_e && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static int do_verify(ossl_sig_kind kind, cdtls_hash_alg h, const cdtls_public_key *pub, const uint8_t *msg,
                     size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (!pub || (!msg && msg_len) || (!sig && sig_len) || !pub->data) return CDTLS_ERR_INVALID_ARG;
    if (!kind_takes(kind, pub->type)) return CDTLS_ERR_BAD_KEY;
    EVP_PKEY *pkey = public_pkey(pub);
    if (!pkey) return CDTLS_ERR_BAD_KEY;
    static const uint8_t empty[1];
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = CDTLS_ERR_CRYPTO;
    if (m &&
        EVP_DigestVerifyInit_ex(m, &pctx, kind == OSSL_EDDSA ? NULL : md_name(h), NULL, NULL, pkey, NULL) ==
            1 &&
        set_padding(pctx, kind))
        rc = EVP_DigestVerify(m, sig ? sig : empty, sig_len, msg ? msg : empty, msg_len) == 1
                 ? CDTLS_OK
                 : CDTLS_ERR_SIGNATURE;
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(pkey);
    return rc;
}

#define OSSL_SIG(name_, kind_, h_, alg_, tls_, label_, keys_)                                              \
    static int name_##_sign(const cdtls_provider *p, const cdtls_sign_key *k, const uint8_t *m, size_t ml, \
                            uint8_t *s, size_t *sl)                                                        \
    {                                                                                                      \
        (void)p;                                                                                           \
        return do_sign(kind_, h_, k, m, ml, s, sl);                                                        \
    }                                                                                                      \
    static int name_##_verify(const cdtls_public_key *pk, const uint8_t *m, size_t ml, const uint8_t *s,   \
                              size_t sl)                                                                   \
    {                                                                                                      \
        return do_verify(kind_, h_, pk, m, ml, s, sl);                                                     \
    }                                                                                                      \
    const cdtls_sig_vt cdtls_ossl_##name_ = {alg_, tls_, label_, keys_, name_##_sign, name_##_verify};

#define EC_KEYS (CDTLS_KEY_BIT(CDTLS_KEY_EC_P256) | CDTLS_KEY_BIT(CDTLS_KEY_EC_P384))
#define RSA_KEYS CDTLS_KEY_BIT(CDTLS_KEY_RSA)
OSSL_SIG(ecdsa256, OSSL_ECDSA, CDTLS_HASH_SHA256, CDTLS_SIG_ECDSA_SHA256, 0x0403, "ecdsa_sha256", EC_KEYS)
OSSL_SIG(ecdsa384, OSSL_ECDSA, CDTLS_HASH_SHA384, CDTLS_SIG_ECDSA_SHA384, 0x0503, "ecdsa_sha384", EC_KEYS)
OSSL_SIG(ecdsa512, OSSL_ECDSA, CDTLS_HASH_SHA512, CDTLS_SIG_ECDSA_SHA512, 0x0603, "ecdsa_sha512", EC_KEYS)
OSSL_SIG(pkcs1_256, OSSL_PKCS1, CDTLS_HASH_SHA256, CDTLS_SIG_RSA_PKCS1_SHA256, 0x0401, "rsa_pkcs1_sha256",
         RSA_KEYS)
OSSL_SIG(pkcs1_384, OSSL_PKCS1, CDTLS_HASH_SHA384, CDTLS_SIG_RSA_PKCS1_SHA384, 0x0501, "rsa_pkcs1_sha384",
         RSA_KEYS)
OSSL_SIG(pkcs1_512, OSSL_PKCS1, CDTLS_HASH_SHA512, CDTLS_SIG_RSA_PKCS1_SHA512, 0x0601, "rsa_pkcs1_sha512",
         RSA_KEYS)
OSSL_SIG(pss_256, OSSL_PSS, CDTLS_HASH_SHA256, CDTLS_SIG_RSA_PSS_RSAE_SHA256, 0x0804, "rsa_pss_rsae_sha256",
         RSA_KEYS)
OSSL_SIG(pss_384, OSSL_PSS, CDTLS_HASH_SHA384, CDTLS_SIG_RSA_PSS_RSAE_SHA384, 0x0805, "rsa_pss_rsae_sha384",
         RSA_KEYS)
OSSL_SIG(pss_512, OSSL_PSS, CDTLS_HASH_SHA512, CDTLS_SIG_RSA_PSS_RSAE_SHA512, 0x0806, "rsa_pss_rsae_sha512",
         RSA_KEYS)
OSSL_SIG(ed25519, OSSL_EDDSA, CDTLS_HASH_SHA512, CDTLS_SIG_ED25519, 0x0807, "ed25519",
         CDTLS_KEY_BIT(CDTLS_KEY_ED25519))
