/*
 * cdtls — cipher suites (IANA values) and helpers.
 */
#ifndef CDTLS_SUITES_H
#define CDTLS_SUITES_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/export.h"
#include "cdtls/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PSK (RFC 4279, RFC 5487, RFC 6655, RFC 7905) */
#define CDTLS_PSK_WITH_AES_128_GCM_SHA256 0x00a8u
#define CDTLS_PSK_WITH_AES_256_GCM_SHA384 0x00a9u
#define CDTLS_PSK_WITH_AES_128_CBC_SHA256 0x00aeu
#define CDTLS_PSK_WITH_AES_128_CCM 0xc0a4u
#define CDTLS_PSK_WITH_AES_256_CCM 0xc0a5u
#define CDTLS_PSK_WITH_AES_128_CCM_8 0xc0a8u
#define CDTLS_PSK_WITH_AES_256_CCM_8 0xc0a9u
#define CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256 0xccabu
/* ECDHE-PSK (RFC 5489, RFC 7905, RFC 8442) */
#define CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 0xc037u
#define CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 0xccacu
#define CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256 0xd001u
/* ECDHE with certificates (RFC 8422, RFC 5289, RFC 7251, RFC 7905) */
#define CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 0xc02bu
#define CDTLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 0xc02cu
#define CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 0xcca9u
#define CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM 0xc0acu
#define CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 0xc0aeu
#define CDTLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA 0xc009u
#define CDTLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA 0xc00au
#define CDTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 0xc02fu
#define CDTLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 0xc030u
#define CDTLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 0xcca8u
#define CDTLS_ECDHE_RSA_WITH_AES_128_CBC_SHA 0xc013u
#define CDTLS_ECDHE_RSA_WITH_AES_256_CBC_SHA 0xc014u

/* The IANA name ("TLS_PSK_WITH_AES_128_GCM_SHA256"), or NULL if cdtls does
 * not know the suite. */
CDTLS_API const char *cdtls_cipher_suite_name(uint16_t suite);

/* Whether this build and provider can negotiate the suite: the provider has
 * its cipher, MAC/PRF hash and (for ECDHE) at least one group, and the
 * engine implements its key exchange. */
CDTLS_API int cdtls_cipher_suite_supported(const cdtls_provider *p, uint16_t suite);

/* Writes up to cap suites that p supports, in cdtls's default preference
 * order, and returns how many there are in all (may exceed cap). */
CDTLS_API size_t cdtls_default_cipher_suites(const cdtls_provider *p, uint16_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_SUITES_H */
