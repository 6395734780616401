/*
 * cdtls — the TLS 1.2 pseudo-random function (RFC 5246 §5).
 *
 * PRF(secret, label, seed) = P_<hash>(secret, label || seed), built in the
 * core on top of the provider's HMAC. DTLS 1.2 uses the suite's PRF hash:
 * SHA-256 for every suite except the *_SHA384 ones.
 */
#ifndef CDTLS_PRF_H
#define CDTLS_PRF_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/export.h"
#include "cdtls/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes out_len bytes of PRF output. label is an ASCII string without its
 * NUL (RFC 5246 §5: "the label is ... not including a trailing null").
 * CDTLS_ERR_UNSUPPORTED if the provider lacks HMAC with that hash. */
CDTLS_API int cdtls_tls12_prf(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *secret,
                              size_t secret_len, const char *label, const uint8_t *seed, size_t seed_len,
                              uint8_t *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_PRF_H */
