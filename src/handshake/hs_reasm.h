/* Handshake fragment reassembly (RFC 6347 §4.2.3): fragments may arrive out
 * of order, duplicated or overlapping; messages are handed out whole, in
 * message_seq order. Bounded: a message may be at most max_message bytes,
 * all partial messages together at most max_buffer, and only messages up to
 * HS_REASM_WINDOW ahead of the next expected one are kept. */
#ifndef CDTLS_HANDSHAKE_HS_REASM_H
#define CDTLS_HANDSHAKE_HS_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "handshake/hs_msg.h"

#define HS_REASM_WINDOW 4

/* hs_reasm_add results besides CDTLS_OK / negative errors */
#define HS_REASM_OLD 1 /* message_seq already handed out: the peer retransmits */

typedef struct hs_reasm_limits {
    size_t max_message;
    size_t max_buffer;
} hs_reasm_limits;

typedef struct hs_reasm_slot {
    int used;
    uint8_t type;
    uint32_t length;
    uint8_t *msg;    /* 12-byte header (as if unfragmented) + length bytes */
    uint8_t *bitmap; /* one bit per body byte received */
    uint32_t have;   /* body bytes received */
} hs_reasm_slot;

typedef struct hs_reasm {
    const cdtls_allocator *a;
    hs_reasm_limits lim;
    uint16_t next_seq;
    size_t buffered;
    hs_reasm_slot slot[HS_REASM_WINDOW]; /* slot[i] holds next_seq + i */
} hs_reasm;

int hs_reasm_init(hs_reasm *r, const cdtls_allocator *a, const hs_reasm_limits *lim);
/* Adds one fragment. CDTLS_OK (stored or a harmless duplicate),
 * HS_REASM_OLD, or a reason it was dropped: CDTLS_ERR_LIMIT (too large, too
 * far ahead, buffer full), CDTLS_ERR_DECODE (disagrees with earlier
 * fragments of the same message: type, length or overlapping bytes),
 * CDTLS_ERR_NOMEM. A dropped fragment changes nothing. */
int hs_reasm_add(hs_reasm *r, const hs_header *h, const uint8_t *frag, size_t frag_len);
/* 1 and the next complete message (borrowed until hs_reasm_consume): msg
 * points at its 12-byte header, msg_len includes it. 0 if none is ready. */
int hs_reasm_next(const hs_reasm *r, uint8_t *type, uint16_t *seq, const uint8_t **msg, size_t *msg_len);
void hs_reasm_consume(hs_reasm *r);
/* hs_reasm_consume, but the message's buffer (msg_len bytes from
 * hs_reasm_next) passes to the caller, who frees it with the reassembler's
 * allocator: for a caller that restarts the reassembly while it still
 * works on the message. */
uint8_t *hs_reasm_take(hs_reasm *r);
uint16_t hs_reasm_next_seq(const hs_reasm *r);
/* Expect seq next (after a reset, e.g. a server restarting on a new
 * ClientHello). */
void hs_reasm_set_next_seq(hs_reasm *r, uint16_t seq);
/* Drops every partial message. */
void hs_reasm_reset(hs_reasm *r);
void hs_reasm_free(hs_reasm *r);

#endif
