/* The fuzzing provider (providers/fuzz/fuzz_crypto.c): the build's real
 * provider with cheap, deterministic stand-ins for AEAD, CBC, key exchange
 * and signatures. Fuzzing builds only (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION). */
#ifndef CDTLS_FUZZ_CRYPTO_H
#define CDTLS_FUZZ_CRYPTO_H

#include "cdtls/provider.h"

/* The table, built from cdtls_provider_default() on the first call. */
const cdtls_provider *cdtls_provider_fuzz_crypto(void);

/* The ML-KEM-768 stand-in (sizes of the real one, cheap deterministic
 * insides). The table above has it only where the real provider has a KEM;
 * fuzz_hybrid_kex installs it whatever the build, so the X25519MLKEM768
 * share parsing is fuzzed with every provider. Needs the table built first. */
const cdtls_kem_vt *cdtls_fuzz_kem_mlkem768(void);

#endif
