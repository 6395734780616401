/* DTLS 1.3 sequence number and epoch reconstruction (RFC 9147 §4.2.2) and
 * the receive path of one epoch with its replay window (§4.5.1). */
#include <string.h>

#include "cdtls/error.h"
#include "common/mem.h"
#include "record/record13.h"

uint64_t record13_seq_reconstruct(uint64_t expected, uint16_t low_bits, unsigned bits)
{
    if (bits != 8) bits = 16;
    const uint64_t win = (uint64_t)1 << bits;
    const uint64_t half = win / 2;
    uint64_t cand = (expected & ~(win - 1)) | ((uint64_t)low_bits & (win - 1));
    /* the other candidates are cand - win and cand + win; of two at the
     * same distance the lower one is taken */
    if (cand > expected) {
        if (cand - expected >= half && cand >= win) cand -= win;
    } else if (cand < expected) {
        if (expected - cand > half && cand <= UINT64_MAX - win) cand += win;
    }
    return cand;
}

int record13_epoch_reconstruct(uint64_t current, uint8_t bits, int next_installed, uint64_t *epoch)
{
    if (!epoch) return CDTLS_ERR_INVALID_ARG;
    bits &= R13_EPOCH_BITS;
    /* during the handshake and right after a KeyUpdate the peer may
     * already use the next epoch */
    if (next_installed && current != UINT64_MAX && ((current + 1) & R13_EPOCH_BITS) == bits) {
        *epoch = current + 1;
        return CDTLS_OK;
    }
    /* §4.2.2: "the most recent past epoch which has matching bits" */
    const uint64_t back = (current - bits) & R13_EPOCH_BITS;
    if (back > current) return CDTLS_ERR_BAD_EPOCH;
    *epoch = current - back;
    return CDTLS_OK;
}

void record13_rx_epoch_init(record13_rx_epoch *e, uint64_t epoch, unsigned window_size)
{
    memset(e, 0, sizeof *e);
    e->epoch = epoch;
    replay_init(&e->window, window_size);
}

void record13_rx_epoch_clear(record13_rx_epoch *e)
{
    if (!e) return;
    record13_cipher_clear(&e->cipher);
    cdtls_memzero(e, sizeof *e);
}

int record13_rx_open(record13_rx_epoch *e, record13_header *h, uint8_t *out, size_t cap, size_t *pt_len,
                     uint8_t *type, uint64_t *seq)
{
    if (!e || !h || !out || !pt_len || !type || !seq) return CDTLS_ERR_INVALID_ARG;
    *pt_len = 0;
    *type = 0;
    *seq = 0;
    if (h->epoch_bits != (e->epoch & R13_EPOCH_BITS)) return CDTLS_ERR_BAD_EPOCH;
    if (!h->seq_plain) {
        int r = record13_unmask_seq(&e->cipher, h);
        if (r) return r;
    }
    const uint64_t s = record13_seq_reconstruct(e->next_expected, h->seq_bits, h->seq_len * 8u);
    size_t n = 0;
    uint8_t t = 0;
    int r = record13_open(&e->cipher, h, s, out, cap, &n, &t);
    if (r) return r;
    /* §4.5.1: the duplicate check comes after deprotection (so a discard
     * does not tell the record number), and only a deprotected record
     * moves the window */
    if (replay_check(&e->window, s) != CDTLS_OK) {
        cdtls_memzero(out, n);
        return CDTLS_ERR_REPLAY;
    }
    replay_accept(&e->window, s);
    if (s >= e->next_expected && s != UINT64_MAX) e->next_expected = s + 1;
    *pt_len = n;
    *type = t;
    *seq = s;
    return CDTLS_OK;
}
