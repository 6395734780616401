/* Record header codec and the replay window. */
#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/writer.h"
#include "record/record.h"

int record_read(cdtls_reader *r, record_header *h, const uint8_t **hdr, const uint8_t **frag)
{
    const uint8_t *start = r->p;
    uint8_t type;
    uint16_t epoch;
    reader_u8(r, &type);
    reader_u16(r, &h->version);
    reader_u16(r, &epoch);
    reader_u48(r, &h->seq);
    reader_u16(r, &h->length);
    h->type = type;
    h->epoch = epoch;
    h->cid = NULL;
    h->cid_len = 0;
    if (r->failed || h->length > DTLS_MAX_CIPHERTEXT || !reader_bytes(r, h->length, frag)) {
        reader_fail(r);
        return CDTLS_ERR_DECODE;
    }
    *hdr = start;
    return CDTLS_OK;
}

void record_header_put(const record_header *h, uint8_t *out)
{
    out[0] = h->type;
    put_u16(out + 1, h->version);
    put_u16(out + 3, h->epoch);
    put_u48(out + 5, h->seq);
    put_u16(out + 11, h->length);
}

/* ---------------------------------------------------------- replay window */

void replay_init(replay_window *w, unsigned size)
{
    memset(w, 0, sizeof *w);
    if (size > REPLAY_WINDOW_MAX) size = REPLAY_WINDOW_MAX;
    w->size = size - size % 64;
}

static int bit_get(const replay_window *w, uint64_t i)
{
    return (int)((w->bits[i / 64] >> (i % 64)) & 1u);
}

int replay_check(const replay_window *w, uint64_t seq)
{
    if (w->size == 0 || !w->any || seq > w->top) return CDTLS_OK;
    uint64_t back = w->top - seq;
    if (back >= w->size) return CDTLS_ERR_REPLAY; /* older than the window */
    return bit_get(w, back) ? CDTLS_ERR_REPLAY : CDTLS_OK;
}

/* Shifts the window by n positions (new top = top + n): bit i moves to
 * i + n. Done word-wise; no shift by >= 64 ever happens. */
static void shift(replay_window *w, uint64_t n)
{
    const size_t words = w->size / 64;
    if (n >= w->size) {
        memset(w->bits, 0, sizeof w->bits);
        return;
    }
    size_t wshift = (size_t)(n / 64);
    unsigned bshift = (unsigned)(n % 64);
    for (size_t i = words; i-- > 0;) {
        uint64_t v = 0;
        if (i >= wshift) {
            v = w->bits[i - wshift] << bshift;
            if (bshift && i >= wshift + 1) v |= w->bits[i - wshift - 1] >> (64 - bshift);
        }
        w->bits[i] = v;
    }
}

void replay_accept(replay_window *w, uint64_t seq)
{
    if (w->size == 0) return;
    if (!w->any) {
        memset(w->bits, 0, sizeof w->bits);
        w->any = 1;
        w->top = seq;
        w->bits[0] = 1;
        return;
    }
    if (seq > w->top) {
        shift(w, seq - w->top);
        w->top = seq;
        w->bits[0] |= 1;
        return;
    }
    uint64_t back = w->top - seq;
    if (back < w->size) w->bits[back / 64] |= (uint64_t)1 << (back % 64);
}
