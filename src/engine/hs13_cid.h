/* Connection IDs in DTLS 1.3 (RFC 9147 §9, RFC 9146): negotiation in the
 * hellos, the CID on records, and the post-handshake NewConnectionId /
 * RequestConnectionId. Called from hs13_common.c, hs13_client.c and
 * hs13_server.c at single points. */
#ifndef CDTLS_ENGINE_HS13_CID_H
#define CDTLS_ENGINE_HS13_CID_H

#include "engine/hs13_internal.h"

#if CDTLS_HAVE_DTLS13

/* Server: the client's connection_id (in offer) answered in our
 * ServerHello (reply) when we hand out CIDs. */
int hs13_cid_accept_offer(cdtls_conn *c, const hs_extensions *offer, hs_extensions *reply);
/* Client: the server's connection_id in its ServerHello. Fails the
 * connection (unsupported_extension) if we did not offer one. */
int hs13_cid_accept_reply(cdtls_conn *c, const hs_extensions *reply);
/* Bytes of CID our records carry (the peer's CID; 0 for none). */
size_t hs13_cid_tx_len(const cdtls_conn *c);
/* Sets the CID of our protected records in o. */
void hs13_cid_header(const cdtls_conn *c, record13_header_opts *o);
/* The length of the CIDs the peer puts on records to us (0: none). */
size_t hs13_cid_rx_len(const cdtls_conn *c);
/* Whether a record's CID (or its absence) is what we expect: 0 means drop. */
int hs13_cid_rx_ok(const cdtls_conn *c, const record13_header *h);

/* Post-handshake: whether type is NewConnectionId or RequestConnectionId,
 * the handling of one (whole, in order), what an ACK means for ours, our
 * retransmission timer. */
int hs13_cid_msg_type(uint8_t type);
int hs13_cid_received(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint64_t epoch,
                      uint64_t seq, uint64_t now_ms);
int hs13_cid_on_ack(cdtls_conn *c, const ack13_record_number *rns, size_t n, uint64_t now_ms);
uint64_t hs13_cid_timeout(const cdtls_conn *c);
int hs13_cid_on_timeout(cdtls_conn *c, uint64_t now_ms);
void hs13_cid_free(cdtls_conn *c);

/* hs13_common.c: seals a whole post-handshake message (header included)
 * under the current application keys into its own datagram; *rn the record
 * number that carried it (for matching the ACK). */
int hs13_post_handshake_send(cdtls_conn *c, const uint8_t *msg, size_t len, ack13_record_number *rn);

/* Return routability (RFC 9853, not here): the listener calls
 * cdtls_conn_set_peer_address after an authenticated, newer record came
 * from a new address for a CID connection (src/io/sock.c
 * deliver_rebound); a path validation would start there. */

#endif /* CDTLS_HAVE_DTLS13 */

#endif
