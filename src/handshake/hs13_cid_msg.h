/* DTLS 1.3 connection ID messages (RFC 9147 §9): NewConnectionId and
 * RequestConnectionId, the post-handshake messages that hand out and ask
 * for connection IDs once the connection_id extension (RFC 9146) was
 * negotiated. Pure codec: what the engine does with them is
 * engine/hs13_cid.c. */
#ifndef CDTLS_HANDSHAKE_HS13_CID_MSG_H
#define CDTLS_HANDSHAKE_HS13_CID_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/writer.h"

/* RFC 9147 §5.1 / IANA TLS HandshakeType registry */
#define HS13_REQUEST_CONNECTION_ID 9u
#define HS13_NEW_CONNECTION_ID 10u
/* RFC 9147 §9: ConnectionIdUsage */
#define HS13_CID_IMMEDIATE 0u
#define HS13_CID_SPARE 1u
/* RFC 9147 §9 / IANA TLS Alerts: too_many_cids_requested */
#define HS13_ALERT_TOO_MANY_CIDS 52u

/* struct { ConnectionId cids<0..2^16-1>; ConnectionIdUsage usage; }
 * where ConnectionId is opaque<0..2^8-1>. Pointers borrow the body. */
typedef struct hs13_new_cid {
    const uint8_t *list; /* the cids vector's content, every entry checked */
    size_t list_len;
    size_t n_cids;
    uint8_t usage;
} hs13_new_cid;

/* Parses a NewConnectionId body. CDTLS_ERR_DECODE: a vector length that
 * runs past the body, an entry that runs past the vector, trailing bytes;
 * CDTLS_ERR_ILLEGAL_PARAMETER: a usage other than cid_immediate/cid_spare,
 * or a zero-length entry (cdtls never switches from a CID to none:
 * RFC 9147 §9 forbids NewConnectionId to a side that receives an empty
 * CID, so an empty entry has no use). The list may be empty. */
int hs13_new_cid_parse(const uint8_t *body, size_t len, hs13_new_cid *out);
/* Iterates the entries of a parsed list: *off starts at 0; 0 at the end. */
int hs13_new_cid_next(const hs13_new_cid *m, size_t *off, const uint8_t **cid, size_t *cid_len);
/* Writes a NewConnectionId body: n CIDs of cid_len bytes each, back to back
 * in cids (cdtls issues CIDs of one length: its listener routes by it). */
int hs13_new_cid_write(cdtls_writer *w, const uint8_t *cids, size_t cid_len, size_t n, uint8_t usage);

/* struct { uint8 num_cids; } RequestConnectionId. CDTLS_ERR_DECODE unless
 * the body is exactly one byte. */
int hs13_request_cid_parse(const uint8_t *body, size_t len, uint8_t *num_cids);

#endif
