/* Test-side glue for the interop tests whose peer is a client of OUR
 * LISTENER (cdtls_listener_*, src/io/sock.c) rather than of a bare
 * cdtls_conn: the listener's stateless cookie step (cdtls_hello_verifier)
 * is what a client with a large, fragmented first ClientHello exercises
 * (issue 14). Used by tests/test_interop_pion4.c and tests/test_interop_nss.c. */
#ifndef CDTLS_TESTS_INTEROP_LISTENER_H
#define CDTLS_TESTS_INTEROP_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"
#include "udp_driver.h"

/* The certificate this build can serve, by provider: ECDSA P-256 with its
 * intermediate where the provider signs ECDSA (BearSSL), Ed25519 where it
 * signs only Ed25519 (libsodium). Files are those of tests/x509/make-certs.sh. */
typedef struct served_identity {
    const char *pem_chain, *key_file, *root_pem, *root_der, *host;
    uint16_t suite; /* the ECDHE-ECDSA suite this build negotiates with it */
    uint8_t der[2][4096];
    const uint8_t *chain[2];
    size_t lens[2], n_certs;
    cdtls_sign_key *key;
} served_identity;

/* Loads the identity from the certificate directory (key, DER chain); a
 * provider with neither ECDSA nor Ed25519 signing skips the test. */
void served_identity_load(served_identity *id, const char *certs);
void served_identity_free(served_identity *id);
/* A configuration serving id: its chain, its key, its one suite. */
void served_identity_config(const served_identity *id, cdtls_config *cfg);

/* Opens a listener on 127.0.0.1, any port (*port gets it). */
cdtls_listener *listener_on_loopback(const cdtls_config *cfg, uint16_t *port);

/* Accepts one peer within timeout_ms, reads one record, checks it is
 * expect, echoes it back, closes the peer. On any failure the child peer is
 * stopped with its output dumped, then the test fails; *suite gets the
 * negotiated suite. */
void listener_echo_once(cdtls_listener *l, child *peer, const char *expect, int timeout_ms, uint16_t *suite);

#endif
