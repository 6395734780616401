/*
 * DTLS 1.3 acknowledgements (RFC 9147 §7): what each side needs to know to
 * send ACKs and to retransmit only what the peer has not acknowledged.
 *
 * Sending side (ack13_tx): every record that carries a fragment of the
 * current flight is noted with its record number; an ACK marks those
 * fragments received, and a retransmission asks for the byte ranges of each
 * message still unacknowledged (§7.2: "omit them from any future
 * retransmissions"). The fragments of a retransmission may differ from the
 * first transmission's (a smaller MTU, or only the gaps), so what is kept is
 * acknowledged byte ranges per message, not acknowledged records.
 *
 * Receiving side (ack13_rx): the record numbers of the handshake records of
 * the peer's current flight that we received and processed or buffered
 * (§7: "in numerically increasing order"), and the ACK timer of §7.1 (a
 * quarter of the retransmission timer after the first record of a flight,
 * or at once when a record arrives out of order).
 *
 * Both are fixed-size and never allocate: a peer cannot grow them. When a
 * table is full the oldest entry is dropped, which costs at worst a
 * retransmission of a fragment the peer already has (the RFC's own fallback
 * when ACKs are lost), never a wrong answer.
 */
#ifndef CDTLS_ENGINE_ACK13_H
#define CDTLS_ENGINE_ACK13_H

#include <stddef.h>
#include <stdint.h>

#include "common/reader.h"
#include "common/writer.h"

#define ACK13_MAX_MESSAGES 8u  /* messages in one flight (a server's first flight has 6) */
#define ACK13_MAX_RANGES 8u    /* acknowledged byte ranges kept per message */
#define ACK13_MAX_SENT 64u     /* records of the current flight remembered */
#define ACK13_MAX_RECEIVED 32u /* record numbers of the peer's flight listed in our ACK */
#define ACK13_NONE UINT64_MAX

/* RFC 9147 §4: a record number is the epoch and the sequence number. */
typedef struct ack13_record_number {
    uint64_t epoch;
    uint64_t seq;
} ack13_record_number;

typedef struct ack13_range {
    uint32_t off, end; /* [off, end) */
} ack13_range;

typedef struct ack13_sent_record {
    ack13_record_number rn;
    uint8_t msg;       /* index of the message in the flight */
    uint32_t off, len; /* the fragment the record carried */
} ack13_sent_record;

typedef struct ack13_tx {
    uint32_t msg_len[ACK13_MAX_MESSAGES];
    size_t n_msgs;
    ack13_range acked[ACK13_MAX_MESSAGES][ACK13_MAX_RANGES];
    size_t n_acked[ACK13_MAX_MESSAGES];
    ack13_sent_record sent[ACK13_MAX_SENT]; /* a ring: the oldest is overwritten */
    size_t sent_next, sent_count;
} ack13_tx;

/* A new flight of n messages with these body lengths: forgets the last. */
int ack13_tx_new_flight(ack13_tx *t, const uint32_t *msg_len, size_t n);
/* The record rn carried bytes [off, off+len) of message msg. */
int ack13_tx_note_sent(ack13_tx *t, ack13_record_number rn, size_t msg, uint32_t off, uint32_t len);
/* An ACK listing these record numbers arrived: marks what they carried as
 * received. Record numbers we never sent (or no longer remember) are
 * ignored (§7.2 gives them no meaning). Returns how many matched. */
size_t ack13_tx_on_ack(ack13_tx *t, const ack13_record_number *rn, size_t n);
/* The first unacknowledged byte range of message msg at or after from:
 * 1 and [*off, *off + *len), or 0 when the rest of the message is acked. An
 * empty message is unacknowledged until a record carrying it is. */
int ack13_tx_unacked(const ack13_tx *t, size_t msg, uint32_t from, uint32_t *off, uint32_t *len);
/* Every message of the flight fully acknowledged. */
int ack13_tx_flight_acked(const ack13_tx *t);

typedef struct ack13_rx {
    ack13_record_number got[ACK13_MAX_RECEIVED]; /* sorted, unique */
    size_t n;
    uint64_t ack_at_ms; /* ACK13_NONE when no ACK is due */
} ack13_rx;

/* A new flight of the peer begins: nothing received of it yet. */
void ack13_rx_new_flight(ack13_rx *r);
/* A handshake record of the peer's current flight was processed or
 * buffered at now_ms. in_order is 0 when it was not the next fragment
 * expected (§7.1: ACK at once); rto_ms is the current retransmission
 * timeout (the ACK comes rto/4 after the flight's first record). */
void ack13_rx_note(ack13_rx *r, ack13_record_number rn, int in_order, uint64_t now_ms, uint32_t rto_ms);
/* An ACK must be sent now: the peer's whole flight arrived and we will
 * not answer it with a flight of our own (§7.1 "MUST send ACKs upon
 * receiving all of any flight which they do not respond to"). */
void ack13_rx_due_now(ack13_rx *r, uint64_t now_ms);
/* An ACK is due at or before now_ms. */
int ack13_rx_due(const ack13_rx *r, uint64_t now_ms);
/* Writes the ACK body (§7: RecordNumber record_numbers<0..2^16-1>) and
 * disarms the timer; the list is kept, so a later ACK repeats it. */
void ack13_rx_write(ack13_rx *r, cdtls_writer *w);
/* The same with at most max record numbers, the newest: what fits the
 * MTU (an ACK is one record in one datagram; §7 lets it list a subset). */
void ack13_rx_write_max(ack13_rx *r, cdtls_writer *w, size_t max);

/* Parses an ACK body into at most cap record numbers (more are skipped:
 * they are only hints). CDTLS_ERR_DECODE on a malformed body. */
int ack13_parse(const uint8_t *body, size_t len, ack13_record_number *out, size_t cap, size_t *n);

#endif
