/* The pieces of the libcrypto provider that live in separate files
 * (openssl_hash.c: SHA-2 and HMAC; openssl_cipher.c: AEAD and CBC;
 * openssl_pkey.c: key exchange and signatures); openssl_provider.c puts them
 * in one table. Internal: the cdtls_ossl_ prefix keeps them out of the way
 * of other libraries in a static link. */
#ifndef CDTLS_PROVIDERS_OPENSSL_INTERNAL_H
#define CDTLS_PROVIDERS_OPENSSL_INTERNAL_H

#include "cdtls/provider.h"

extern const cdtls_hash_vt cdtls_ossl_sha1, cdtls_ossl_sha256, cdtls_ossl_sha384, cdtls_ossl_sha512;
extern const cdtls_hmac_vt cdtls_ossl_hmac_sha1, cdtls_ossl_hmac_sha256, cdtls_ossl_hmac_sha384,
    cdtls_ossl_hmac_sha512;

extern const cdtls_aead_vt cdtls_ossl_aes128gcm, cdtls_ossl_aes256gcm, cdtls_ossl_aes128ccm,
    cdtls_ossl_aes256ccm, cdtls_ossl_aes128ccm8, cdtls_ossl_aes256ccm8, cdtls_ossl_chacha;
extern const cdtls_cbc_vt cdtls_ossl_cbc128, cdtls_ossl_cbc256;
extern const cdtls_sn_mask_vt cdtls_ossl_sn_aes128, cdtls_ossl_sn_aes256, cdtls_ossl_sn_chacha;

extern const cdtls_kx_vt cdtls_ossl_x25519, cdtls_ossl_p256, cdtls_ossl_p384;
extern const cdtls_sig_vt cdtls_ossl_ecdsa256, cdtls_ossl_ecdsa384, cdtls_ossl_ecdsa512, cdtls_ossl_pkcs1_256,
    cdtls_ossl_pkcs1_384, cdtls_ossl_pkcs1_512, cdtls_ossl_pss_256, cdtls_ossl_pss_384, cdtls_ossl_pss_512,
    cdtls_ossl_ed25519;

int cdtls_ossl_sign_key_new(const cdtls_provider *p, const cdtls_allocator *a,
                            const cdtls_private_key_params *params, cdtls_sign_key **out);
int cdtls_ossl_sign_key_generate(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                                 cdtls_sign_key **out);
int cdtls_ossl_sign_key_public(const cdtls_sign_key *key, cdtls_public_key *out);
void cdtls_ossl_sign_key_free(const cdtls_allocator *a, cdtls_sign_key *key);

#endif
