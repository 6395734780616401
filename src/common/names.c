/* Canonical names of algorithms. Provider vtables use the same strings, and
 * the provider READMEs' capability tables are checked against them
 * (tests/test_provider_caps.c). */
#include "cdtls/provider.h"

const char *cdtls_hash_name(cdtls_hash_alg alg)
{
    static const char *const names[CDTLS_HASH__COUNT] = {"SHA-1", "SHA-256", "SHA-384", "SHA-512"};
    return (unsigned)alg < CDTLS_HASH__COUNT ? names[alg] : "unknown";
}

const char *cdtls_aead_name(cdtls_aead_alg alg)
{
    static const char *const names[CDTLS_AEAD__COUNT] = {"AES-128-GCM",      "AES-256-GCM",   "AES-128-CCM",
                                                         "AES-256-CCM",      "AES-128-CCM_8", "AES-256-CCM_8",
                                                         "ChaCha20-Poly1305"};
    return (unsigned)alg < CDTLS_AEAD__COUNT ? names[alg] : "unknown";
}

const char *cdtls_cbc_name(cdtls_cbc_alg alg)
{
    static const char *const names[CDTLS_CBC__COUNT] = {"AES-128-CBC", "AES-256-CBC"};
    return (unsigned)alg < CDTLS_CBC__COUNT ? names[alg] : "unknown";
}

const char *cdtls_group_name(cdtls_group g)
{
    static const char *const names[CDTLS_GROUP__COUNT] = {"X25519", "P-256", "P-384"};
    return (unsigned)g < CDTLS_GROUP__COUNT ? names[g] : "unknown";
}

const char *cdtls_sig_name(cdtls_sig_alg alg)
{
    static const char *const names[CDTLS_SIG__COUNT] = {
        "ecdsa_sha256",        "ecdsa_sha384",     "ecdsa_sha512",        "rsa_pkcs1_sha256",
        "rsa_pkcs1_sha384",    "rsa_pkcs1_sha512", "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
        "rsa_pss_rsae_sha512", "ed25519"};
    return (unsigned)alg < CDTLS_SIG__COUNT ? names[alg] : "unknown";
}

const char *cdtls_sn_mask_name(cdtls_sn_mask_alg alg)
{
    static const char *const names[CDTLS_SN_MASK__COUNT] = {"AES-128-ECB", "AES-256-ECB", "ChaCha20"};
    return (unsigned)alg < CDTLS_SN_MASK__COUNT ? names[alg] : "unknown";
}

const char *cdtls_kem_name(cdtls_kem_alg alg)
{
    static const char *const names[CDTLS_KEM__COUNT] = {"ML-KEM-768"};
    return (unsigned)alg < CDTLS_KEM__COUNT ? names[alg] : "unknown";
}
