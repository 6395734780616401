/* Bounded reassembly of fragmented ClientHellos before a connection exists
 * (hello_reasm.h says why and what it costs). Each held hello is an entry
 * keyed by (peer address, message_seq) with its own hs_reasm (the
 * connection's reassembler: runs of received bytes, overlaps compared,
 * RFC 6347 §4.2.3) whose buffers count against this table's budget. */
#include "engine/hello_reasm.h"

#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/mem.h"

void hello_reasm_init(hello_reasm *t, const cdtls_allocator *a, const hello_reasm_limits *lim)
{
    memset(t, 0, sizeof *t);
    t->a = a;
    t->lim = *lim;
    t->budget.max = lim->budget;
}

static void unlink_entry(hello_reasm *t, hello_pending *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->newest = e->prev;
    e->prev = e->next = NULL;
}

void hello_reasm_drop(hello_reasm *t, hello_pending *e)
{
    if (!e) return;
    unlink_entry(t, e);
    hs_reasm_free(&e->r); /* gives its buffers back to t->budget */
    t->budget.used -= sizeof *e;
    t->n--;
    cdtls_free_wipe(t->a, e, sizeof *e);
}

void hello_reasm_expire(hello_reasm *t, uint64_t now_ms)
{
    /* entries are appended as they start, so the oldest expire first; a
     * clock that went back expires nothing */
    while (t->oldest && now_ms >= t->oldest->started_ms &&
           now_ms - t->oldest->started_ms >= t->lim.timeout_ms)
        hello_reasm_drop(t, t->oldest);
}

static hello_pending *find(hello_reasm *t, const void *addr, size_t addr_len, uint16_t msg_seq)
{
    for (hello_pending *e = t->oldest; e; e = e->next)
        if (e->msg_seq == msg_seq && e->addr_len == addr_len &&
            (!addr_len || memcmp(e->addr, addr, addr_len) == 0))
            return e;
    return NULL;
}

void hello_reasm_forget(hello_reasm *t, const void *addr, size_t addr_len, uint16_t msg_seq)
{
    if (addr_len <= HELLO_REASM_ADDR_MAX) hello_reasm_drop(t, find(t, addr, addr_len, msg_seq));
}

/* Evicts the oldest entries other than keep until `need` more bytes fit
 * the budget; 1 if they do. */
static int make_room(hello_reasm *t, size_t need, const hello_pending *keep)
{
    while (t->budget.used + need > t->budget.max) {
        hello_pending *victim = t->oldest;
        if (victim == keep) victim = victim->next;
        if (!victim) return 0;
        hello_reasm_drop(t, victim);
    }
    return 1;
}

/* A new entry for (addr, msg_seq): the source's oldest goes when the
 * source holds its share, the oldest of all when the table is full (the
 * listener's rule for handshakes in progress, sock.c admit_half_open). */
static hello_pending *admit(hello_reasm *t, const void *addr, size_t addr_len, const uint8_t *source,
                            size_t source_len, uint16_t msg_seq, uint64_t now_ms)
{
    if (!t->lim.max_pending || !t->lim.max_per_source) return NULL;
    unsigned from_source = 0;
    hello_pending *oldest_of_source = NULL;
    for (hello_pending *e = t->oldest; e; e = e->next)
        if (e->source_len == source_len && (!source_len || memcmp(e->source, source, source_len) == 0)) {
            if (!from_source++) oldest_of_source = e;
        }
    if (from_source >= t->lim.max_per_source) hello_reasm_drop(t, oldest_of_source);
    if (t->n >= t->lim.max_pending) hello_reasm_drop(t, t->oldest);
    if (!make_room(t, sizeof(hello_pending), NULL)) return NULL;
    hello_pending *e = cdtls_alloc_zero(t->a, sizeof *e);
    if (!e) return NULL;
    memcpy(e->addr, addr, addr_len);
    memcpy(e->source, source, source_len);
    e->addr_len = addr_len;
    e->source_len = source_len;
    e->msg_seq = msg_seq;
    e->started_ms = now_ms;
    /* one message of at most max_hello bytes; its runs may take up to
     * twice what arrived while they grow (hs_reasm.h), the shared budget
     * bounds the total */
    hs_reasm_limits rl = {t->lim.max_hello, 2 * t->lim.max_hello + HS_REASM_MAX_RUNS * DTLS_HS_HEADER_LEN,
                          &t->budget};
    (void)hs_reasm_init(&e->r, t->a, &rl);
    hs_reasm_set_next_seq(&e->r, msg_seq);
    t->budget.used += sizeof *e;
    t->n++;
    e->prev = t->newest;
    if (t->newest)
        t->newest->next = e;
    else
        t->oldest = e;
    t->newest = e;
    return e;
}

int hello_reasm_add(hello_reasm *t, const void *addr, size_t addr_len, const uint8_t *source,
                    size_t source_len, const hs_header *h, const uint8_t *frag, uint64_t record_seq,
                    uint64_t now_ms, hello_pending **done)
{
    *done = NULL;
    hello_reasm_expire(t, now_ms);
    if (h->type != HS_CLIENT_HELLO || h->length > t->lim.max_hello || addr_len > HELLO_REASM_ADDR_MAX ||
        source_len > HELLO_REASM_ADDR_MAX)
        return CDTLS_ERR_LIMIT;
    if (h->fragment_offset > h->length || h->fragment_length > h->length - h->fragment_offset)
        return CDTLS_ERR_DECODE;
    if (h->fragment_length == 0) return CDTLS_ERR_DECODE; /* holds nothing, makes no entry */
    hello_pending *e = find(t, addr, addr_len, h->message_seq);
    const int fresh = e == NULL;
    if (fresh && !(e = admit(t, addr, addr_len, source, source_len, h->message_seq, now_ms)))
        return CDTLS_ERR_LIMIT;
    /* what the fragment may add: its bytes and a run header (a run that
     * doubles falls back to its exact size when the budget is short) */
    int rc = make_room(t, (size_t)h->fragment_length + DTLS_HS_HEADER_LEN, e)
                 ? hs_reasm_add(&e->r, h, frag, h->fragment_length)
                 : CDTLS_ERR_LIMIT;
    if (rc != CDTLS_OK) {
        if (fresh) hello_reasm_drop(t, e);
        return rc == HS_REASM_OLD ? CDTLS_ERR_DECODE : rc;
    }
    if (record_seq > e->max_record_seq) e->max_record_seq = record_seq;
    const uint8_t *msg;
    size_t msg_len;
    if (hello_pending_message(e, &msg, &msg_len)) {
        *done = e;
        return 1;
    }
    return CDTLS_OK;
}

int hello_pending_message(const hello_pending *e, const uint8_t **msg, size_t *msg_len)
{
    uint8_t type;
    uint16_t seq;
    return hs_reasm_next(&e->r, &type, &seq, msg, msg_len);
}

void hello_reasm_free(hello_reasm *t)
{
    while (t->oldest) hello_reasm_drop(t, t->oldest);
}
