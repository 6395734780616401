#include "handshake/hs_reasm.h"

#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/mem.h"

static size_t slot_bytes(uint32_t length)
{
    return DTLS_HS_HEADER_LEN + (size_t)length;
}

static size_t bitmap_bytes(uint32_t length)
{
    return ((size_t)length + 7) / 8;
}

static void slot_free(hs_reasm *r, hs_reasm_slot *s)
{
    if (!s->used) return;
    if (s->msg) cdtls_free_wipe(r->a, s->msg, slot_bytes(s->length));
    if (s->bitmap) cdtls_free_wipe(r->a, s->bitmap, bitmap_bytes(s->length));
    r->buffered -= slot_bytes(s->length) + bitmap_bytes(s->length);
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

static int bit_get(const uint8_t *bm, uint32_t i)
{
    return (bm[i / 8] >> (i % 8)) & 1;
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

    if (!s->used) {
        size_t need = slot_bytes(h->length) + bitmap_bytes(h->length);
        if (r->buffered + need > r->lim.max_buffer) return CDTLS_ERR_LIMIT;
        s->msg = r->a->alloc(r->a->ctx, slot_bytes(h->length));
        s->bitmap = h->length ? cdtls_alloc_zero(r->a, bitmap_bytes(h->length)) : NULL;
        if (!s->msg || (h->length && !s->bitmap)) {
            if (s->msg) r->a->free(r->a->ctx, s->msg, slot_bytes(h->length));
            if (s->bitmap) r->a->free(r->a->ctx, s->bitmap, bitmap_bytes(h->length));
            memset(s, 0, sizeof *s);
            return CDTLS_ERR_NOMEM;
        }
        s->used = 1;
        s->type = h->type;
        s->length = h->length;
        s->have = 0;
        r->buffered += need;
        /* The header as if the message had come unfragmented: the form the
         * transcript hashes (RFC 6347 §4.2.6). */
        hs_header whole = {h->type, h->length, h->message_seq, 0, h->length};
        hs_header_put(&whole, s->msg);
    } else if (s->type != h->type || s->length != h->length) {
        return CDTLS_ERR_DECODE;
    }

    uint8_t *body = s->msg + DTLS_HS_HEADER_LEN;
    /* Bytes we already have must match: an overlap with different content
     * is an attack or corruption, and the fragment is dropped whole. */
    for (uint32_t i = 0; i < h->fragment_length; i++) {
        uint32_t at = h->fragment_offset + i;
        if (bit_get(s->bitmap, at) && body[at] != frag[i]) return CDTLS_ERR_DECODE;
    }
    for (uint32_t i = 0; i < h->fragment_length; i++) {
        uint32_t at = h->fragment_offset + i;
        if (!bit_get(s->bitmap, at)) {
            body[at] = frag[i];
            s->bitmap[at / 8] |= (uint8_t)(1u << (at % 8));
            s->have++;
        }
    }
    return CDTLS_OK;
}

int hs_reasm_next(const hs_reasm *r, uint8_t *type, uint16_t *seq, const uint8_t **msg, size_t *msg_len)
{
    const hs_reasm_slot *s = &r->slot[0];
    if (!s->used || s->have != s->length) return 0;
    *type = s->type;
    *seq = r->next_seq;
    *msg = s->msg;
    *msg_len = slot_bytes(s->length);
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
    uint8_t *msg = s->msg;
    s->msg = NULL; /* slot_free then releases the bitmap and the accounting only */
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
