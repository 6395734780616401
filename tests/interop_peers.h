/* Test-side glue for the DTLS 1.3 interop peers that scripts/build-peers.sh
 * builds from Debian's sources into .peers/ (wolfSSL 5.9.2, NSS 3.110):
 * where their programs are, why one is missing, and the checks that turn
 * the DTLS 1.3 tests on once our engine speaks 1.3. Issue 16;
 * docs/interop.md ("DTLS 1.3 peers"). Used by tests/test_interop_wolfssl.c
 * and tests/test_interop_nss13.c. */
#ifndef CDTLS_TESTS_INTEROP_PEERS_H
#define CDTLS_TESTS_INTEROP_PEERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cdtls/cdtls.h"

/* The path of a built peer program, CDTLS_SOURCE_DIR/.peers/<peer>/bin/<prog>;
 * when it is not there, skips the running test with the reason
 * scripts/build-peers.sh left in .peers/<peer>.skip, or with "not built". */
const char *peer_program(const char *peer, const char *prog);
/* CDTLS_SOURCE_DIR/.peers/<peer>/<sub> (no check). */
const char *peer_path(const char *peer, const char *sub);

/* Whether a UDP socket is bound to 127.0.0.1:port, waiting up to wait_ms:
 * from /proc/net/udp (Linux), for peer servers that say nothing once they
 * listen. 0 also when /proc/net/udp cannot be read. */
int peer_udp_bound(uint16_t port, int wait_ms);
/* The inode of a UDP socket of process pid bound to 127.0.0.1:port, other
 * than the one with inode not (0: any), waiting up to wait_ms; 0 if none:
 * a peer's own fresh socket (a test beside this one may take a free port). */
unsigned long peer_udp_socket_inode(pid_t pid, uint16_t port, unsigned long not, int wait_ms);

/* Sets cfg's lowest and highest DTLS version where this cdtls has the
 * setting (0x0102 for 1.2, 0x0103 for 1.3: our own names, mapped here);
 * a no-op in a cdtls without it, which speaks 1.2 only. */
#define PEER_V12 0x0102
#define PEER_V13 0x0103
void peer_config_versions(cdtls_config *cfg, int min, int max);

/* Skips the running test with "cdtls 1.3 not built yet (...)" unless this
 * cdtls can offer DTLS 1.3: it must have the API (CDTLS_VERSION_1_3,
 * cfg.versions, cdtls_conn_version) and cdtls_conn_new must take a
 * configuration (PSK: valid in both roles, nothing to load) limited to 1.3
 * where it takes it limited to 1.2 (a build without 1.3 refuses the
 * former). Call it before the test allocates anything: a skipped test
 * runs no clean-up, and LeakSanitizer would count what it left. */
void peer_require_cdtls13(cdtls_role role);
/* 1 when this cdtls can offer DTLS 1.3 (the same probe, no skip). */
int peer_cdtls13_available(cdtls_role role);

/* 1 when this cdtls's provider has ML-KEM-768 for the X25519MLKEM768
 * hybrid group (the provider's kem[] table, where cdtls has one). */
int peer_cdtls_has_mlkem(void);

/* The DTLS version the connection negotiated, as PEER_V12 / PEER_V13; in a
 * cdtls without cdtls_conn_version an established connection is 1.2. */
int peer_conn_version(const cdtls_conn *c);

#endif
