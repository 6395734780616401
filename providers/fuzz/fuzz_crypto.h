/* The fuzzing provider (providers/fuzz/fuzz_crypto.c): the build's real
 * provider with cheap, deterministic stand-ins for AEAD, CBC, key exchange
 * and signatures. Fuzzing builds only (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION). */
#ifndef CDTLS_FUZZ_CRYPTO_H
#define CDTLS_FUZZ_CRYPTO_H

#include "cdtls/provider.h"

/* The table, built from cdtls_provider_default() on the first call. */
const cdtls_provider *cdtls_provider_fuzz_crypto(void);

#endif
