/* The OpenSSL libcrypto provider (libcrypto 3.0+, Debian bookworm's
 * libssl-dev): every primitive of the interface, through EVP except the
 * hashes (openssl_hash.c says why). Hashes and HMAC are in openssl_hash.c,
 * AEAD and CBC in openssl_cipher.c, key exchange and signatures in
 * openssl_pkey.c; this file has the random source and the table. */
#include <limits.h>
#include <openssl/rand.h>

#include "openssl_internal.h"

/* libcrypto's DRBG (seeded from the OS, reseeded by libcrypto itself). */
static int ossl_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    (void)self;
    if (!out && len) return CDTLS_ERR_INVALID_ARG;
    while (len > 0) {
        int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(out, n) != 1) return CDTLS_ERR_RANDOM;
        out += n;
        len -= (size_t)n;
    }
    return CDTLS_OK;
}

static const cdtls_provider ossl_provider = {
    .abi_version = CDTLS_PROVIDER_ABI_VERSION,
    .name = "openssl",
    .random = ossl_random,
    .hash = {&cdtls_ossl_sha1, &cdtls_ossl_sha256, &cdtls_ossl_sha384, &cdtls_ossl_sha512},
    .hmac = {&cdtls_ossl_hmac_sha1, &cdtls_ossl_hmac_sha256, &cdtls_ossl_hmac_sha384,
             &cdtls_ossl_hmac_sha512},
    .aead = {[CDTLS_AEAD_AES_128_GCM] = &cdtls_ossl_aes128gcm,
             [CDTLS_AEAD_AES_256_GCM] = &cdtls_ossl_aes256gcm,
             [CDTLS_AEAD_AES_128_CCM] = &cdtls_ossl_aes128ccm,
             [CDTLS_AEAD_AES_256_CCM] = &cdtls_ossl_aes256ccm,
             [CDTLS_AEAD_AES_128_CCM_8] = &cdtls_ossl_aes128ccm8,
             [CDTLS_AEAD_AES_256_CCM_8] = &cdtls_ossl_aes256ccm8,
             [CDTLS_AEAD_CHACHA20_POLY1305] = &cdtls_ossl_chacha},
    .cbc = {&cdtls_ossl_cbc128, &cdtls_ossl_cbc256},
    .kx = {&cdtls_ossl_x25519, &cdtls_ossl_p256, &cdtls_ossl_p384},
    .sig = {[CDTLS_SIG_ECDSA_SHA256] = &cdtls_ossl_ecdsa256,
            [CDTLS_SIG_ECDSA_SHA384] = &cdtls_ossl_ecdsa384,
            [CDTLS_SIG_ECDSA_SHA512] = &cdtls_ossl_ecdsa512,
            [CDTLS_SIG_RSA_PKCS1_SHA256] = &cdtls_ossl_pkcs1_256,
            [CDTLS_SIG_RSA_PKCS1_SHA384] = &cdtls_ossl_pkcs1_384,
            [CDTLS_SIG_RSA_PKCS1_SHA512] = &cdtls_ossl_pkcs1_512,
            [CDTLS_SIG_RSA_PSS_RSAE_SHA256] = &cdtls_ossl_pss_256,
            [CDTLS_SIG_RSA_PSS_RSAE_SHA384] = &cdtls_ossl_pss_384,
            [CDTLS_SIG_RSA_PSS_RSAE_SHA512] = &cdtls_ossl_pss_512,
            [CDTLS_SIG_ED25519] = &cdtls_ossl_ed25519},
    .sign_key_new = cdtls_ossl_sign_key_new,
    .sign_key_generate = cdtls_ossl_sign_key_generate,
    .sign_key_public = cdtls_ossl_sign_key_public,
    .sign_key_free = cdtls_ossl_sign_key_free,
    .sn_mask = {&cdtls_ossl_sn_aes128, &cdtls_ossl_sn_aes256, &cdtls_ossl_sn_chacha},
};

const cdtls_provider *cdtls_provider_openssl(void)
{
    return &ossl_provider;
}
