#include "handshake/hs_reasm.h"

#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/mem.h"

/* A run's allocation: the header slot, then its body bytes. */
static size_t run_bytes(uint32_t cap)
{
    return DTLS_HS_HEADER_LEN + (size_t)cap;
}

/* 1 if n more bytes (while `freed` of ours are given back) fit in this
 * reassembler's buffer and in the shared budget. */
static int budget_fits(const hs_reasm *r, size_t n, size_t freed)
{
    if (r->buffered + n > r->lim.max_buffer + freed) return 0;
    const cdtls_handshake_budget *b = r->lim.shared;
    return !b || b->used + n <= b->max + freed;
}

static void budget_take(hs_reasm *r, size_t n)
{
    r->buffered += n;
    if (r->lim.shared) r->lim.shared->used += n;
}

static void budget_give(hs_reasm *r, size_t n)
{
    r->buffered -= n;
    if (r->lim.shared) r->lim.shared->used -= n;
}

static void run_free(hs_reasm *r, hs_reasm_run *run)
{
    if (run->buf) cdtls_free_wipe(r->a, run->buf, run_bytes(run->cap));
    budget_give(r, run_bytes(run->cap));
    memset(run, 0, sizeof *run);
}

static void slot_free(hs_reasm *r, hs_reasm_slot *s)
{
    if (!s->used) return;
    for (unsigned i = 0; i < s->n_runs; i++) run_free(r, &s->run[i]);
    memset(s, 0, sizeof *s);
}

int hs_reasm_init(hs_reasm *r, const cdtls_allocator *a, const hs_reasm_limits *lim)
{
    if (!r || !a || !lim) return CDTLS_ERR_INVALID_ARG;
    memset(r, 0, sizeof *r);
    r->a = a;
    r->lim = *lim;
    return CDTLS_OK;
}

static uint32_t min_u32(uint32_t x, uint32_t y)
{
    return x < y ? x : y;
}

static uint32_t max_u32(uint32_t x, uint32_t y)
{
    return x > y ? x : y;
}

/* Bytes we already have must match: an overlap with different content is
 * an attack or corruption, and the fragment is dropped whole. Also returns
 * how many of the fragment's bytes we already have. */
static int overlap_check(const hs_reasm_slot *s, uint32_t o, uint32_t e, const uint8_t *frag,
                         uint32_t *covered)
{
    *covered = 0;
    for (unsigned i = 0; i < s->n_runs; i++) {
        const hs_reasm_run *run = &s->run[i];
        uint32_t lo = max_u32(o, run->off), hi = min_u32(e, run->off + run->len);
        if (lo >= hi) continue;
        if (memcmp(run->buf + DTLS_HS_HEADER_LEN + (lo - run->off), frag + (lo - o), hi - lo) != 0)
            return CDTLS_ERR_DECODE;
        *covered += hi - lo;
    }
    return CDTLS_OK;
}

/* Stores body bytes [o, e) into s, merging every run they overlap or touch
 * into one. */
static int slot_store(hs_reasm *r, hs_reasm_slot *s, uint32_t o, uint32_t e, const uint8_t *frag)
{
    unsigned first = s->n_runs, last = 0, count = 0;
    uint32_t uo = o, ue = e;
    for (unsigned i = 0; i < s->n_runs; i++) {
        const hs_reasm_run *run = &s->run[i];
        if (run->off > e || run->off + run->len < o) continue;
        if (count++ == 0) first = i;
        last = i;
        uo = min_u32(uo, run->off);
        ue = max_u32(ue, run->off + run->len);
    }
    if (s->n_runs - count + 1 > HS_REASM_MAX_RUNS) return CDTLS_ERR_LIMIT;
    uint32_t need = ue - uo;
    hs_reasm_run merged = {uo, need, 0, NULL};
    hs_reasm_run *grow = count && s->run[first].off == uo ? &s->run[first] : NULL;
    const int in_place = grow && grow->cap >= need;
    if (in_place) {
        merged.cap = grow->cap;
        merged.buf = grow->buf;
    } else {
        size_t freed = 0;
        for (unsigned i = first; count && i <= last; i++) freed += run_bytes(s->run[i].cap);
        /* A run growing at its end doubles (up to the message), so that
         * in-order fragments are not copied again and again. */
        uint32_t cap = grow ? min_u32(s->length, max_u32(need, 2 * grow->cap)) : need;
        if (!budget_fits(r, run_bytes(cap), freed)) cap = need;
        if (!budget_fits(r, run_bytes(cap), freed)) return CDTLS_ERR_LIMIT;
        merged.cap = cap;
        merged.buf = r->a->alloc(r->a->ctx, run_bytes(cap));
        if (!merged.buf) return CDTLS_ERR_NOMEM;
        budget_take(r, run_bytes(cap));
    }
    uint8_t *body = merged.buf + DTLS_HS_HEADER_LEN;
    for (unsigned i = first; count && i <= last; i++) {
        hs_reasm_run *run = &s->run[i];
        if (in_place && i == first) continue; /* its bytes are already where they belong */
        memcpy(body + (run->off - uo), run->buf + DTLS_HS_HEADER_LEN, run->len);
        run_free(r, run);
    }
    if (e > o) memcpy(body + (o - uo), frag, e - o);
    if (count) {
        s->run[first] = merged;
        memmove(&s->run[first + 1], &s->run[last + 1], (s->n_runs - last - 1) * sizeof s->run[0]);
        s->n_runs -= count - 1;
    } else {
        unsigned at = 0;
        while (at < s->n_runs && s->run[at].off < o) at++;
        memmove(&s->run[at + 1], &s->run[at], (s->n_runs - at) * sizeof s->run[0]);
        s->run[at] = merged;
        s->n_runs++;
    }
    memset(&s->run[s->n_runs], 0, (HS_REASM_MAX_RUNS - s->n_runs) * sizeof s->run[0]);
    return CDTLS_OK;
}

int hs_reasm_add(hs_reasm *r, const hs_header *h, const uint8_t *frag, size_t frag_len)
{
    if (frag_len != h->fragment_length || h->fragment_offset + h->fragment_length > h->length)
        return CDTLS_ERR_DECODE;
    /* message_seq is 16 bits and does not wrap within a handshake. */
    if (h->message_seq < r->next_seq) return HS_REASM_OLD;
    uint32_t ahead = (uint32_t)h->message_seq - r->next_seq;
    if (ahead >= HS_REASM_WINDOW) return CDTLS_ERR_LIMIT;
    if (h->length > r->lim.max_message) return CDTLS_ERR_LIMIT;
    hs_reasm_slot *s = &r->slot[ahead];

    if (s->used && (s->type != h->type || s->length != h->length)) return CDTLS_ERR_DECODE;
    /* An empty fragment of a non-empty message adds nothing. */
    if (h->fragment_length == 0 && h->length != 0) return CDTLS_OK;
    uint32_t o = h->fragment_offset, e = o + h->fragment_length;
    uint32_t covered = 0;
    if (s->used) {
        int rc = overlap_check(s, o, e, frag, &covered);
        if (rc) return rc;
    } else {
        /* The first fragment fixes the type and length; nothing is
         * allocated for bytes that have not come. */
        memset(s, 0, sizeof *s);
        s->type = h->type;
        s->length = h->length;
    }
    int rc = slot_store(r, s, o, e, frag);
    if (rc) {
        if (!s->n_runs) memset(s, 0, sizeof *s); /* a dropped fragment changes nothing */
        return rc;
    }
    s->used = 1;
    s->have += h->fragment_length - covered;
    if (s->have == s->length) {
        /* The header as if the message had come unfragmented: the form the
         * transcript hashes (RFC 6347 §4.2.6). */
        hs_header whole = {h->type, h->length, h->message_seq, 0, h->length};
        hs_header_put(&whole, s->run[0].buf);
    }
    return CDTLS_OK;
}

int hs_reasm_next(const hs_reasm *r, uint8_t *type, uint16_t *seq, const uint8_t **msg, size_t *msg_len)
{
    const hs_reasm_slot *s = &r->slot[0];
    if (!s->used || s->have != s->length || s->n_runs != 1) return 0;
    *type = s->type;
    *seq = r->next_seq;
    *msg = s->run[0].buf;
    *msg_len = run_bytes(s->length);
    return 1;
}

void hs_reasm_consume(hs_reasm *r)
{
    slot_free(r, &r->slot[0]);
    memmove(&r->slot[0], &r->slot[1], (HS_REASM_WINDOW - 1) * sizeof r->slot[0]);
    memset(&r->slot[HS_REASM_WINDOW - 1], 0, sizeof r->slot[0]);
    r->next_seq++;
}

uint8_t *hs_reasm_take(hs_reasm *r)
{
    hs_reasm_slot *s = &r->slot[0];
    uint8_t *msg = s->run[0].buf;
    s->run[0].buf = NULL; /* slot_free then releases the accounting only */
    hs_reasm_consume(r);
    return msg;
}

uint16_t hs_reasm_next_seq(const hs_reasm *r)
{
    return r->next_seq;
}

void hs_reasm_set_next_seq(hs_reasm *r, uint16_t seq)
{
    hs_reasm_reset(r);
    r->next_seq = seq;
}

void hs_reasm_reset(hs_reasm *r)
{
    for (int i = 0; i < HS_REASM_WINDOW; i++) slot_free(r, &r->slot[i]);
}

void hs_reasm_free(hs_reasm *r)
{
    if (r && r->a) hs_reasm_reset(r);
}
