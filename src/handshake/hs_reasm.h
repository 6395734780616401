/* Handshake fragment reassembly (RFC 6347 §4.2.3): fragments may arrive out
 * of order, duplicated or overlapping; messages are handed out whole, in
 * message_seq order. Bounded: a message may be at most max_message bytes,
 * all partial messages together at most max_buffer (and, when a shared
 * budget is given, all reassemblers sharing it at most budget->max), and
 * only messages up to HS_REASM_WINDOW ahead of the next expected one are
 * kept.
 *
 * Memory follows the bytes that arrived, not the length a fragment claims:
 * a message is held as a few runs of contiguous received bytes, each in its
 * own buffer, merged as the gaps fill; the whole message exists in one
 * buffer only once every byte of it came. A 1-byte fragment of a message
 * declaring 60,000 bytes costs one run of 1 byte (docs/security.md). A run
 * that grows at its end doubles its buffer (up to the message length), so
 * in-order fragments are copied O(1) times each on average and a message
 * takes at most twice the bytes received. */
#ifndef CDTLS_HANDSHAKE_HS_REASM_H
#define CDTLS_HANDSHAKE_HS_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "handshake/hs_msg.h"

#define HS_REASM_WINDOW 4
/* Disjoint runs kept per partial message: a fragment that would make more
 * gaps is dropped (the peer's retransmission fills them in order). */
#define HS_REASM_MAX_RUNS 16

/* hs_reasm_add results besides CDTLS_OK / negative errors */
#define HS_REASM_OLD 1 /* message_seq already handed out: the peer retransmits */

typedef struct hs_reasm_limits {
    size_t max_message;
    size_t max_buffer;
    cdtls_handshake_budget *shared; /* NULL: none (cdtls/alloc.h) */
} hs_reasm_limits;

/* Bytes [off, off + len) of the message body; buf holds a 12-byte header
 * slot followed by cap >= len body bytes (the header is written when the
 * run becomes the whole message). */
typedef struct hs_reasm_run {
    uint32_t off, len, cap;
    uint8_t *buf;
} hs_reasm_run;

typedef struct hs_reasm_slot {
    int used;
    uint8_t type;
    uint32_t length;
    uint32_t have; /* body bytes received */
    unsigned n_runs;
    hs_reasm_run run[HS_REASM_MAX_RUNS]; /* sorted by off, neither overlapping nor touching */
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
 * far ahead, buffer or budget full, too many gaps), CDTLS_ERR_DECODE
 * (disagrees with earlier fragments of the same message: type, length or
 * overlapping bytes), CDTLS_ERR_NOMEM. A dropped fragment changes nothing. */
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
