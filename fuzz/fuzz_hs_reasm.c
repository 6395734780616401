/* Handshake fragment reassembly (src/handshake/hs_reasm.c) fed a sequence
 * of fragments, as the engine feeds it: whole messages are taken out as
 * soon as they complete.
 *
 * Input: byte 0 picks the limits (small ones, so "too large" and "buffer
 * full" are reached); then fragments, each a 12-byte DTLS handshake header
 * followed by fragment_length bytes (cut short at the end of the input, so
 * a length mismatch is also tried). A header whose type byte is 0xfe
 * resets the reassembler to its message_seq instead. */
#include <stdlib.h>
#include <string.h>

#include "cdtls/alloc.h"
#include "common/dtls.h"
#include "fuzz_common.h"
#include "handshake/hs_reasm.h"

#define CHECK(x)           \
    do {                   \
        if (!(x)) abort(); \
    } while (0)

/* What the slots hold, checking each one's runs on the way: sorted, neither
 * overlapping nor touching, within the message, each buffer at least its
 * bytes, and the bytes received equal to what the runs cover. */
static size_t buffered_sum(const hs_reasm *r)
{
    size_t sum = 0;
    for (int i = 0; i < HS_REASM_WINDOW; i++) {
        const hs_reasm_slot *s = &r->slot[i];
        if (!s->used) continue;
        size_t covered = 0;
        for (unsigned k = 0; k < s->n_runs; k++) {
            const hs_reasm_run *run = &s->run[k];
            CHECK(run->len <= run->cap && run->cap <= s->length && run->off + run->len <= s->length);
            if (k) CHECK(s->run[k - 1].off + s->run[k - 1].len < run->off);
            covered += run->len;
            sum += DTLS_HS_HEADER_LEN + run->cap;
        }
        CHECK(covered == s->have && s->n_runs <= HS_REASM_MAX_RUNS);
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t msg_caps[4] = {64, 1024, 16384, 65536};
    static const size_t buf_caps[4] = {128, 4096, 65536, 262144};
    hs_reasm_limits lim = {msg_caps[data[0] & 3], buf_caps[(data[0] >> 2) & 3], NULL};
    hs_reasm r;
    CHECK(hs_reasm_init(&r, &fuzz_allocator, &lim) == CDTLS_OK);
    size_t off = 1;
    uint16_t expect_seq = 0;
    while (size - off >= DTLS_HS_HEADER_LEN) {
        hs_header h;
        hs_header_get(data + off, &h);
        off += DTLS_HS_HEADER_LEN;
        if (h.type == 0xfe) {
            hs_reasm_set_next_seq(&r, h.message_seq);
            expect_seq = h.message_seq;
            CHECK(r.buffered == 0);
            continue;
        }
        size_t flen = h.fragment_length;
        if (flen > size - off) flen = size - off;
        size_t before = r.buffered;
        int rc = hs_reasm_add(&r, &h, data + off, flen);
        off += flen;
        if (rc != CDTLS_OK) CHECK(r.buffered == before); /* a dropped fragment changes nothing */
        CHECK(r.buffered == buffered_sum(&r));
        CHECK(r.buffered <= lim.max_buffer);
        uint8_t type;
        uint16_t seq;
        const uint8_t *msg;
        size_t msg_len;
        while (hs_reasm_next(&r, &type, &seq, &msg, &msg_len)) {
            hs_header mh;
            hs_header_get(msg, &mh);
            CHECK(seq == expect_seq && mh.message_seq == seq && mh.type == type);
            CHECK(mh.fragment_offset == 0 && mh.fragment_length == mh.length);
            CHECK(msg_len == DTLS_HS_HEADER_LEN + mh.length && mh.length <= lim.max_message);
            /* read every byte: ASan checks the whole message is inside its block */
            volatile uint8_t acc = 0;
            for (size_t i = 0; i < msg_len; i++) acc ^= msg[i];
            (void)acc;
            hs_reasm_consume(&r);
            expect_seq++;
            CHECK(hs_reasm_next_seq(&r) == expect_seq);
        }
    }
    hs_reasm_free(&r);
    return 0;
}
