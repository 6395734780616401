/*
 * cdtls — X.509 certificates in the core: parsing (RFC 5280), chain
 * validation against trust anchors, host name / IP checks (RFC 6125), and
 * SHA-256 fingerprints. Signatures are verified through the crypto
 * provider, so this works with any backend that has the algorithms.
 *
 * A parsed certificate borrows the DER buffer it came from: keep the buffer
 * alive as long as the cdtls_x509_cert.
 */
#ifndef CDTLS_X509_H
#define CDTLS_X509_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/export.h"
#include "cdtls/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/* keyUsage bits (RFC 5280 §4.2.1.3), as flags */
enum cdtls_key_usage {
    CDTLS_KU_DIGITAL_SIGNATURE = 1u << 0,
    CDTLS_KU_KEY_ENCIPHERMENT = 1u << 2,
    CDTLS_KU_KEY_AGREEMENT = 1u << 4,
    CDTLS_KU_KEY_CERT_SIGN = 1u << 5,
    CDTLS_KU_CRL_SIGN = 1u << 6
};

/* extendedKeyUsage purposes cdtls checks */
enum cdtls_eku { CDTLS_EKU_SERVER_AUTH = 1u << 0, CDTLS_EKU_CLIENT_AUTH = 1u << 1, CDTLS_EKU_ANY = 1u << 2 };

typedef struct cdtls_x509_cert {
    const uint8_t *der; /* the whole certificate */
    size_t der_len;
    const uint8_t *tbs; /* TBSCertificate: what the issuer signed */
    size_t tbs_len;
    int version; /* 1, 2 or 3 */
    const uint8_t *serial;
    size_t serial_len;
    const uint8_t *issuer; /* DER Name */
    size_t issuer_len;
    const uint8_t *subject;
    size_t subject_len;
    int64_t not_before, not_after; /* seconds since 1970 (UTC) */
    cdtls_public_key key;          /* pointers into der */
    int sig_alg;                   /* cdtls_sig_alg of the issuer's signature, -1 unknown */
    const uint8_t *sig;
    size_t sig_len;
    int has_basic_constraints, is_ca;
    long path_len; /* -1: no limit */
    int has_key_usage;
    unsigned key_usage; /* enum cdtls_key_usage */
    int has_ext_key_usage;
    unsigned ext_key_usage; /* enum cdtls_eku */
    const uint8_t *san;     /* subjectAltName GeneralNames contents, or NULL */
    size_t san_len;
} cdtls_x509_cert;

/* Parses one DER certificate. CDTLS_ERR_DER on malformed input or an
 * unknown critical extension; CDTLS_ERR_UNSUPPORTED for public-key types
 * cdtls does not handle. */
CDTLS_API int cdtls_x509_parse(const uint8_t *der, size_t len, cdtls_x509_cert *out);

/* A SubjectPublicKeyInfo (DER), e.g. a raw public key (RFC 7250): the key
 * points into der. The whole input must be one SPKI. */
CDTLS_API int cdtls_x509_parse_spki(const uint8_t *der, size_t len, cdtls_public_key *out);
/* Encodes a public key (EC P-256/P-384, Ed25519; e.g. from the provider's
 * sign_key_public) as SubjectPublicKeyInfo DER: what a raw-public-key
 * endpoint sends. CDTLS_ERR_UNSUPPORTED for RSA. */
#define CDTLS_X509_SPKI_MAX 128u
CDTLS_API int cdtls_x509_spki_encode(const cdtls_public_key *pub, uint8_t *out, size_t cap, size_t *len);

/* Host name (RFC 6125: subjectAltName dNSName only, case-insensitive, "*"
 * only as the whole left-most label and matching exactly one label, never
 * directly below a single-label name) or IP literal (iPAddress SAN).
 * CDTLS_OK or CDTLS_ERR_CERT_HOSTNAME. */
CDTLS_API int cdtls_x509_check_host(const cdtls_x509_cert *cert, const char *host);

/* What the leaf is for (checked against extendedKeyUsage if present). */
typedef enum cdtls_x509_purpose {
    CDTLS_X509_PURPOSE_ANY = 0,
    CDTLS_X509_PURPOSE_SERVER,
    CDTLS_X509_PURPOSE_CLIENT
} cdtls_x509_purpose;

#define CDTLS_X509_MAX_DEPTH 8

/* Validates chain[0] (the leaf) .. chain[n-1] up to one of the anchors at
 * time now (seconds since 1970): each certificate must be signed by the
 * next one (or by an anchor whose subject is its issuer), be within its
 * validity, intermediates must be CAs (basicConstraints, keyCertSign when
 * keyUsage is present) within their path length; host, if not NULL, is
 * checked against the leaf. Distinct errors: CDTLS_ERR_CERT_EXPIRED,
 * _NOT_YET_VALID, _UNTRUSTED, _SIGNATURE, _HOSTNAME, _NOT_CA, _PATHLEN,
 * _USAGE, and CDTLS_ERR_UNSUPPORTED for a signature algorithm the provider
 * lacks. */
CDTLS_API int cdtls_x509_verify_chain(const cdtls_provider *p, const cdtls_x509_cert *chain, size_t n,
                                      const cdtls_x509_cert *anchors, size_t n_anchors, int64_t now,
                                      const char *host, cdtls_x509_purpose purpose);

/* SHA-256 over the DER certificate (WebRTC-style fingerprint, RFC 8122). */
CDTLS_API int cdtls_x509_fingerprint_sha256(const cdtls_provider *p, const cdtls_x509_cert *cert,
                                            uint8_t out[32]);

/* Generates a key pair (ECDSA P-256 when the provider can sign with it, else
 * Ed25519) and a self-signed X.509 v3 certificate for name (CN and a dNSName
 * subjectAltName), valid from not_before (seconds since 1970) for days, as
 * pion's selfsign does: for WebRTC-style pinning by fingerprint. der gets
 * the certificate (CDTLS_X509_SELFSIGN_MAX bytes are always enough); *key
 * the private key (free with provider->sign_key_free). */
#define CDTLS_X509_SELFSIGN_MAX 1024u
CDTLS_API int cdtls_x509_selfsign(const cdtls_provider *p, const cdtls_allocator *a, const char *name,
                                  int64_t not_before, uint32_t days, uint8_t *der, size_t cap,
                                  size_t *der_len, cdtls_sign_key **key);

/* ------------------------------------------------------------ PEM and keys */

/* Finds the next PEM block ("-----BEGIN LABEL-----") in text[0..len) and
 * decodes it into der (capacity der_cap). label may be NULL (any block)
 * or the wanted label ("CERTIFICATE"). *consumed (may be NULL) is where the
 * search can continue. CDTLS_ERR_PEM on malformed base64 or a missing END
 * line; CDTLS_ERR_DECODE when no (further) block is found. The base64
 * decoder has no secret-dependent branches or table lookups (the blocks
 * may hold private keys). */
CDTLS_API int cdtls_pem_decode(const char *text, size_t len, const char *label, uint8_t *der, size_t der_cap,
                               size_t *der_len, size_t *consumed);

/* The components of a private key in DER: PKCS#8 PrivateKeyInfo (RSA, EC
 * P-256/P-384, Ed25519), SEC1 ECPrivateKey, or PKCS#1 RSAPrivateKey. The
 * pointers in *out borrow der. CDTLS_ERR_DER / CDTLS_ERR_UNSUPPORTED. */
CDTLS_API int cdtls_private_key_parse(const uint8_t *der, size_t len, cdtls_private_key_params *out);

/* A signing key object from PEM or DER bytes, through the provider. */
CDTLS_API int cdtls_private_key_load(const cdtls_provider *p, const cdtls_allocator *a, const uint8_t *data,
                                     size_t len, cdtls_sign_key **out);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_X509_H */
