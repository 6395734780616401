/* Helpers shared by the test suites. */
#ifndef CDTLS_TESTS_TEST_UTIL_H
#define CDTLS_TESTS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Decodes a hex string into out (at most cap bytes); returns the byte count.
 * Fails the running Criterion test on bad input or overflow. */
size_t unhex(const char *hex, uint8_t *out, size_t cap);

#endif
