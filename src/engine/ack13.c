/* DTLS 1.3 acknowledgements (RFC 9147 §7): see ack13.h. */
#include <string.h>

#include "cdtls/error.h"
#include "engine/ack13.h"

/* ------------------------------------------------------------ sending */

int ack13_tx_new_flight(ack13_tx *t, const uint32_t *msg_len, size_t n)
{
    if (n > ACK13_MAX_MESSAGES || (n && !msg_len)) return CDTLS_ERR_INVALID_ARG;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) t->msg_len[i] = msg_len[i];
    t->n_msgs = n;
    return CDTLS_OK;
}

int ack13_tx_note_sent(ack13_tx *t, ack13_record_number rn, size_t msg, uint32_t off, uint32_t len)
{
    if (msg >= t->n_msgs || off > t->msg_len[msg] || len > t->msg_len[msg] - off)
        return CDTLS_ERR_INVALID_ARG;
    ack13_sent_record *s = &t->sent[t->sent_next];
    s->rn = rn;
    s->msg = (uint8_t)msg;
    s->off = off;
    s->len = len;
    t->sent_next = (t->sent_next + 1) % ACK13_MAX_SENT;
    if (t->sent_count < ACK13_MAX_SENT) t->sent_count++;
    return CDTLS_OK;
}

/* Adds [off, end) to a message's sorted, disjoint acknowledged ranges,
 * merging what touches it. A range that would need a slot when none is
 * free is not recorded: its bytes are simply sent again. */
static void ranges_add(ack13_range *r, size_t *n, uint32_t off, uint32_t end)
{
    size_t i = 0;
    while (i < *n && r[i].end < off) i++; /* ranges wholly before, not touching */
    size_t j = i;
    while (j < *n && r[j].off <= end) { /* ranges that overlap or touch */
        if (r[j].off < off) off = r[j].off;
        if (r[j].end > end) end = r[j].end;
        j++;
    }
    if (j == i) { /* nothing merged: insert at i */
        if (*n == ACK13_MAX_RANGES) return;
        memmove(&r[i + 1], &r[i], (*n - i) * sizeof r[0]);
        (*n)++;
    } else if (j > i + 1) { /* several merged into r[i] */
        memmove(&r[i + 1], &r[j], (*n - j) * sizeof r[0]);
        *n -= j - i - 1;
    }
    r[i].off = off;
    r[i].end = end;
}

static int rn_equal(ack13_record_number a, ack13_record_number b)
{
    return a.epoch == b.epoch && a.seq == b.seq;
}

size_t ack13_tx_on_ack(ack13_tx *t, const ack13_record_number *rn, size_t n)
{
    size_t matched = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < t->sent_count; i++) {
            const ack13_sent_record *s = &t->sent[i];
            if (!rn_equal(s->rn, rn[k])) continue;
            ranges_add(t->acked[s->msg], &t->n_acked[s->msg], s->off, s->off + s->len);
            matched++;
            break;
        }
    return matched;
}

int ack13_tx_unacked(const ack13_tx *t, size_t msg, uint32_t from, uint32_t *off, uint32_t *len)
{
    if (msg >= t->n_msgs) return 0;
    const uint32_t total = t->msg_len[msg];
    const ack13_range *r = t->acked[msg];
    const size_t n = t->n_acked[msg];
    if (total == 0) { /* acknowledged once a record carrying it was */
        *off = 0;
        *len = 0;
        return n == 0;
    }
    uint32_t pos = from;
    for (size_t i = 0; i < n && pos < total; i++) {
        if (r[i].end <= pos) continue;
        if (r[i].off > pos) { /* a gap before this range */
            *off = pos;
            *len = r[i].off - pos;
            return 1;
        }
        pos = r[i].end; /* inside an acknowledged range: skip it */
    }
    if (pos >= total) return 0;
    *off = pos;
    *len = total - pos;
    return 1;
}

int ack13_tx_flight_acked(const ack13_tx *t)
{
    uint32_t off, len;
    for (size_t i = 0; i < t->n_msgs; i++)
        if (ack13_tx_unacked(t, i, 0, &off, &len)) return 0;
    return 1;
}

/* ---------------------------------------------------------- receiving */

void ack13_rx_new_flight(ack13_rx *r)
{
    memset(r, 0, sizeof *r);
    r->ack_at_ms = ACK13_NONE;
}

static int rn_less(ack13_record_number a, ack13_record_number b)
{
    return a.epoch < b.epoch || (a.epoch == b.epoch && a.seq < b.seq);
}

void ack13_rx_note(ack13_rx *r, ack13_record_number rn, int in_order, uint64_t now_ms, uint32_t rto_ms)
{
    size_t i = 0;
    while (i < r->n && rn_less(r->got[i], rn)) i++;
    const int first = r->n == 0;
    if (i < r->n && rn_equal(r->got[i], rn)) {
        /* a duplicate: the peer retransmitted, so it may have lost our
         * ACK; answer at once (§7.1 leaves the when to us) */
        ack13_rx_due_now(r, now_ms);
        return;
    }
    if (r->n == ACK13_MAX_RECEIVED) { /* forget the oldest: the peer resends it at worst */
        memmove(&r->got[0], &r->got[1], (r->n - 1) * sizeof r->got[0]);
        r->n--;
        if (i > 0) i--;
    }
    memmove(&r->got[i + 1], &r->got[i], (r->n - i) * sizeof r->got[0]);
    r->got[i] = rn;
    r->n++;
    if (!in_order) {
        ack13_rx_due_now(r, now_ms);
    } else if (first || r->ack_at_ms == ACK13_NONE) {
        uint64_t at = now_ms + rto_ms / 4;
        if (r->ack_at_ms == ACK13_NONE || at < r->ack_at_ms) r->ack_at_ms = at;
    }
}

void ack13_rx_due_now(ack13_rx *r, uint64_t now_ms)
{
    r->ack_at_ms = now_ms;
}

int ack13_rx_due(const ack13_rx *r, uint64_t now_ms)
{
    return r->ack_at_ms != ACK13_NONE && now_ms >= r->ack_at_ms;
}

void ack13_rx_write(ack13_rx *r, cdtls_writer *w)
{
    ack13_rx_write_max(r, w, r->n);
}

void ack13_rx_write_max(ack13_rx *r, cdtls_writer *w, size_t max)
{
    /* the newest: got[] is sorted, the last are the latest records */
    const size_t first = r->n > max ? r->n - max : 0;
    writer_u16(w, (unsigned)((r->n - first) * 16));
    for (size_t i = first; i < r->n; i++) {
        writer_u32(w, (uint32_t)(r->got[i].epoch >> 32));
        writer_u32(w, (uint32_t)r->got[i].epoch);
        writer_u32(w, (uint32_t)(r->got[i].seq >> 32));
        writer_u32(w, (uint32_t)r->got[i].seq);
    }
    r->ack_at_ms = ACK13_NONE;
}

static int read_u64(cdtls_reader *r, uint64_t *v)
{
    uint32_t hi, lo;
    if (!reader_u32(r, &hi) || !reader_u32(r, &lo)) return 0;
    *v = ((uint64_t)hi << 32) | lo;
    return 1;
}

int ack13_parse(const uint8_t *body, size_t len, ack13_record_number *out, size_t cap, size_t *n)
{
    cdtls_reader r, list;
    reader_init(&r, body, len);
    *n = 0;
    /* RecordNumber record_numbers<0..2^16-1>, 16 bytes each (§7) */
    if (!reader_vec16(&r, 0, 0xffff, &list) || !reader_done(&r) || list.left % 16 != 0)
        return CDTLS_ERR_DECODE;
    while (!reader_done(&list)) {
        ack13_record_number rn;
        if (!read_u64(&list, &rn.epoch) || !read_u64(&list, &rn.seq)) return CDTLS_ERR_DECODE;
        if (*n < cap) out[(*n)++] = rn;
    }
    return CDTLS_OK;
}
