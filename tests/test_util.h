/* Helpers shared by the test suites. */
#ifndef CDTLS_TESTS_TEST_UTIL_H
#define CDTLS_TESTS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Decodes a hex string into out (at most cap bytes); returns the byte count.
 * Fails the running Criterion test on bad input or overflow. */
size_t unhex(const char *hex, uint8_t *out, size_t cap);

/* Moves every datagram between two connections in memory, both ways, until
 * none is left (at most 32 rounds, else the test fails); with drop_from_b,
 * that many of b's datagrams are dropped first (counted down). */
struct cdtls_conn;

/* Skips the running test when DTLS 1.3 is compiled out (-Ddtls13=false). */
void test_require_dtls13(void);
void test_shuttle(struct cdtls_conn *a, struct cdtls_conn *b, uint64_t now, unsigned *drop_from_b);

/* Fills dir with the path of a directory of test certificates (see
 * tests/x509/make-certs.sh), generated for this test unless the environment
 * variable CDTLS_TEST_CERTS names a prepared one; test_certs_remove deletes a
 * generated directory and leaves a prepared one alone. */
void test_certs_make(char *dir, size_t cap, const char *tag);
void test_certs_remove(const char *dir);
/* Builds the Go interop peer in SRC_DIR (relative to the source tree) into
 * BIN with `go build` (Go's cache makes a rebuild about a second), or skips
 * the test when there is no Go toolchain. When the environment variable
 * CDTLS_TEST_GO_PEERS_BUILT is set (scripts/test.sh builds the peers once
 * before its runs), the build is left out: every test of an interop suite
 * would otherwise repeat it. */
void test_go_peer_build(const char *src_dir, const char *bin);

/* The emulator the tests run under ("qemu-s390x", "wine64", ...), from the
 * environment variable CDTLS_TEST_EMULATOR that scripts/cross-test.sh sets;
 * NULL on a real machine. Only for what an emulator is known to lack, and
 * then the library must still report the lack (its caps), never fake it. */
const char *test_emulator(void);

/* 1 where system() has a POSIX shell with the host's tools (openssl). */
int test_have_shell(void);

#endif
