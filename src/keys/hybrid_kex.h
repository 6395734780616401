/* X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem): the post-quantum hybrid key
 * exchange for DTLS 1.3's key_share, made of the provider's ML-KEM-768
 * (kem[CDTLS_KEM_MLKEM768]) and its X25519 (kx[CDTLS_GROUP_X25519]). The
 * core never sees a crypto library: both halves go through the provider.
 *
 * Wire layout (the draft's §3, ML-KEM first for this group, unlike the
 * NIST-curve hybrids):
 *   client key_exchange = ML-KEM encapsulation key (1184) || X25519 public (32)
 *   server key_exchange = ML-KEM ciphertext (1088)        || X25519 public (32)
 *   shared secret       = ML-KEM shared secret (32)       || X25519 secret (32)
 * The 64-byte secret is the (EC)DHE input of the TLS 1.3 key schedule
 * (RFC 8446 §7.1), as is.
 *
 * Errors for what the peer sent are CDTLS_ERR_ILLEGAL_PARAMETER, the alert
 * the draft and RFC 8446 §4.2.8 ask for: a share of the wrong length, an
 * encapsulation key that fails FIPS 203 §7.2's modulus check, an X25519
 * value giving the all-zero secret (RFC 7748 §6.1). A tampered ciphertext
 * of the right length is no error (FIPS 203 implicit rejection): the client
 * ends with a secret the server does not have, and Finished fails. */
#ifndef CDTLS_KEYS_HYBRID_KEX_H
#define CDTLS_KEYS_HYBRID_KEX_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"

#define HYBRID_MLKEM768_EK_LEN 1184u
#define HYBRID_MLKEM768_CT_LEN 1088u
#define HYBRID_X25519_LEN 32u
#define HYBRID_CLIENT_SHARE_LEN (HYBRID_MLKEM768_EK_LEN + HYBRID_X25519_LEN) /* 1216 */
#define HYBRID_SERVER_SHARE_LEN (HYBRID_MLKEM768_CT_LEN + HYBRID_X25519_LEN) /* 1120 */
#define HYBRID_SHARED_LEN 64u

/* 1 if the provider can do X25519MLKEM768 (an ABI 3 table with an
 * ML-KEM-768 entry and X25519); 0 otherwise: then the group is not offered. */
int hybrid_kex_available(const cdtls_provider *p);

/* The client's private half, between its ClientHello and the server's
 * answer. Wiped by hybrid_client_clear (and by a failed keygen). */
typedef struct hybrid_client {
    const cdtls_provider *p;
    cdtls_kem_key kem_key;
    cdtls_kx_key x25519_key;
    int ready; /* 1 between a keygen and its clear */
} hybrid_client;

/* Client: fresh ML-KEM-768 and X25519 key pairs (drawing from the provider's
 * random in that order: ML-KEM's d || z, then the X25519 scalar), and the
 * key_exchange bytes for the ClientHello's key_share. share_cap must be at
 * least HYBRID_CLIENT_SHARE_LEN (CDTLS_ERR_BUFFER_TOO_SMALL). */
int hybrid_client_keygen(hybrid_client *c, const cdtls_provider *p, uint8_t *share, size_t share_cap,
                         size_t *share_len);

/* Server: from the client's key_exchange, encapsulates to its ML-KEM key and
 * makes an ephemeral X25519 key (drawing m, then the X25519 scalar), writes
 * the ServerHello's key_exchange and the shared secret. Nothing of the
 * server's is kept: the X25519 key is wiped before returning. On any error
 * share and shared are wiped. */
int hybrid_server_respond(const cdtls_provider *p, const uint8_t *client_share, size_t client_len,
                          uint8_t *share, size_t share_cap, size_t *share_len, uint8_t *shared,
                          size_t shared_cap);

/* Client: from the server's key_exchange, the shared secret
 * (HYBRID_SHARED_LEN bytes into shared; wiped on error). The client's keys
 * stay until hybrid_client_clear (a retransmitted ServerHello gives the
 * same secret). */
int hybrid_client_finish(const hybrid_client *c, const uint8_t *server_share, size_t server_len,
                         uint8_t *shared, size_t shared_cap);

void hybrid_client_clear(hybrid_client *c);

#endif /* CDTLS_KEYS_HYBRID_KEX_H */
