/* The whole engine as a server: the fuzzer plays the client. Input (see
 * fuzz_engine.h): byte 0 picks the scenario (suite family, certificates,
 * MTU, CID, ALPN/SRTP, ...), then the client's datagrams, length-prefixed,
 * with FUZZ_TIMER_MARK parts firing the retransmission timer. Everything
 * the engine sends is drained and discarded after each step; application
 * data it receives is read and echoed. The provider's randomness and the
 * clock are deterministic, so a recorded client (fuzz/gen_corpus.c) stays
 * valid and every crash reproduces from its file alone. */
#include "fuzz_engine.h"
#ifndef FUZZ_NO_CUSTOM_MUTATOR /* for measuring what it is worth */
#define FUZZ_MUTATOR_ROLE CDTLS_SERVER
#include "fuzz_mutator.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fuzz_engine_run(CDTLS_SERVER, data, size, NULL);
    return 0;
}
