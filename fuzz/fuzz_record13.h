/* What fuzz_record13 and its seeds (gen_corpus) agree on: the input layout
 * and the fixed keys. Input: byte 0 picks the suite (low 3 bits: 0 none,
 * 1..5 the TLS 1.3 suites) and the CID length the reader expects (high 5
 * bits); byte 1 the receive state (low 3 bits: current epoch - 2; bits 3-4:
 * replay window 64 << n; bit 7: keys for the next epoch installed); the
 * rest is one datagram. */
#ifndef CDTLS_FUZZ_RECORD13_H
#define CDTLS_FUZZ_RECORD13_H

#include "record/record13.h"

static const uint8_t fr13_key[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                     0xcc, 0xdd, 0xee, 0xff, 0x00, 1,    2,    3,    4,    5,    6,
                                     7,    8,    9,    10,   11,   12,   13,   14,   15,   16};
static const uint8_t fr13_sn_key[32] = {0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a,
                                        0x4b, 0x3c, 0x2d, 0x1e, 0x0f, 9,    8,    7,    6,    5,    4,
                                        3,    2,    1,    0,    9,    8,    7,    6,    5,    4};
static const uint8_t fr13_iv[12] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb};

/* CCM_8 has no integrity limit of its own (RFC 9147 §4.5.3) */
static const record13_limits fr13_ccm8_limits = {1u << 20, 1u << 12};

#define FR13_N_SUITES 5u

/* 1 if the provider has suite `which` (1..5) and rc is set up with it. */
static inline int fr13_cipher_init(record13_cipher *rc, const cdtls_provider *p, unsigned which)
{
    static const uint16_t suites[FR13_N_SUITES] = {R13_TLS_AES_128_GCM_SHA256, R13_TLS_AES_256_GCM_SHA384,
                                                   R13_TLS_CHACHA20_POLY1305_SHA256,
                                                   R13_TLS_AES_128_CCM_SHA256, R13_TLS_AES_128_CCM_8_SHA256};
    if (which == 0 || which > FR13_N_SUITES) return 0;
    uint16_t s = suites[which - 1];
    size_t kl = (s == R13_TLS_AES_256_GCM_SHA384 || s == R13_TLS_CHACHA20_POLY1305_SHA256) ? 32 : 16;
    return record13_cipher_init(rc, p, s, fr13_key, kl, fr13_iv, 12, fr13_sn_key, kl,
                                s == R13_TLS_AES_128_CCM_8_SHA256 ? &fr13_ccm8_limits : NULL) == CDTLS_OK;
}

#endif
