/* The engine's only way into X.509 (src/x509/). A build with
 * CDTLS_PSK_ONLY (the freestanding firmware build, docs/portability.md)
 * has no X.509 code at all: these calls then refuse, no certificate suite
 * is offered or chosen (suite_configured), and a certificate message can
 * only come from a broken or hostile peer, which gets an alert. */
#ifndef CDTLS_ENGINE_X509_USE_H
#define CDTLS_ENGINE_X509_USE_H

#include "cdtls/x509.h"

static inline int engine_x509_parse(const uint8_t *der, size_t len, cdtls_x509_cert *out)
{
#if defined(CDTLS_PSK_ONLY)
    (void)der, (void)len, (void)out;
    return CDTLS_ERR_UNSUPPORTED;
#else
    return cdtls_x509_parse(der, len, out);
#endif
}

static inline int engine_x509_verify_chain(const cdtls_provider *p, const cdtls_x509_cert *chain, size_t n,
                                           const cdtls_x509_cert *anchors, size_t n_anchors, int64_t now,
                                           const char *host, cdtls_x509_purpose purpose)
{
#if defined(CDTLS_PSK_ONLY)
    (void)p, (void)chain, (void)n, (void)anchors, (void)n_anchors, (void)now, (void)host, (void)purpose;
    return CDTLS_ERR_UNSUPPORTED;
#else
    return cdtls_x509_verify_chain(p, chain, n, anchors, n_anchors, now, host, purpose);
#endif
}

static inline int engine_x509_fingerprint_sha256(const cdtls_provider *p, const cdtls_x509_cert *cert,
                                                 uint8_t out[32])
{
#if defined(CDTLS_PSK_ONLY)
    (void)p, (void)cert, (void)out;
    return CDTLS_ERR_UNSUPPORTED;
#else
    return cdtls_x509_fingerprint_sha256(p, cert, out);
#endif
}

static inline int engine_x509_parse_spki(const uint8_t *der, size_t len, cdtls_public_key *out)
{
#if defined(CDTLS_PSK_ONLY)
    (void)der, (void)len, (void)out;
    return CDTLS_ERR_UNSUPPORTED;
#else
    return cdtls_x509_parse_spki(der, len, out);
#endif
}

#endif
