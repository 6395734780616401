/* Internal form of the TLS 1.2 PRF: the seed may come in up to three pieces
 * (client_random, server_random, context...) so callers need no scratch
 * concatenation buffer. */
#ifndef CDTLS_KEYS_PRF_H
#define CDTLS_KEYS_PRF_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"

typedef struct prf_seed {
    const uint8_t *p;
    size_t len;
} prf_seed;

int prf_tls12(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *secret, size_t secret_len,
              const uint8_t *label, size_t label_len, const prf_seed *seeds, size_t n_seeds, uint8_t *out,
              size_t out_len);

#endif
