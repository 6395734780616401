/* DTLS 1.3 ACK bookkeeping (RFC 9147 §7): what is retransmitted after an
 * ACK, when our ACK is due, and the ACK body on the wire. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/error.h"
#include "engine/ack13.h"

static ack13_record_number rn(uint64_t epoch, uint64_t seq)
{
    ack13_record_number r = {epoch, seq};
    return r;
}

/* A flight of three messages sent as five records; the peer ACKs records
 * 1 and 3: only the fragments of records 0, 2 and 4 remain. */
Test(ack13, partial_ack_leaves_only_the_gaps)
{
    ack13_tx t;
    const uint32_t lens[3] = {100, 1000, 0};
    cr_assert_eq(ack13_tx_new_flight(&t, lens, 3), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 0), 0, 0, 100), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 1), 1, 0, 400), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 2), 1, 400, 400), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 3), 1, 800, 200), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 4), 2, 0, 0), CDTLS_OK);
    ack13_record_number acks[] = {rn(2, 1), rn(2, 3), rn(0, 1) /* never sent */, rn(2, 9)};
    cr_assert_eq(ack13_tx_on_ack(&t, acks, 4), 2u, "records never sent are ignored");
    uint32_t off, len;
    cr_assert(ack13_tx_unacked(&t, 0, 0, &off, &len));
    cr_assert(off == 0 && len == 100);
    cr_assert(ack13_tx_unacked(&t, 1, 0, &off, &len));
    cr_assert(off == 400 && len == 400, "the middle fragment, got [%u,+%u)", off, len);
    cr_assert_not(ack13_tx_unacked(&t, 1, 800, &off, &len), "the tail was acknowledged");
    cr_assert(ack13_tx_unacked(&t, 2, 0, &off, &len), "the empty message is not acknowledged yet");
    cr_assert_not(ack13_tx_flight_acked(&t));
    /* the retransmission goes in other records (fresh sequence numbers) */
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 5), 0, 0, 100), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 6), 1, 400, 250), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 7), 1, 650, 150), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 8), 2, 0, 0), CDTLS_OK);
    ack13_record_number more[] = {rn(2, 5), rn(2, 7), rn(2, 8)};
    cr_assert_eq(ack13_tx_on_ack(&t, more, 3), 3u);
    cr_assert(ack13_tx_unacked(&t, 1, 0, &off, &len));
    cr_assert(off == 400 && len == 250);
    ack13_record_number last[] = {rn(2, 6)};
    ack13_tx_on_ack(&t, last, 1);
    cr_assert(ack13_tx_flight_acked(&t), "every byte acknowledged, merged into one range");
    cr_assert_eq(t.n_acked[1], 1u);
}

/* Acknowledged ranges arriving in any order merge; a table full of
 * disjoint ranges drops the newcomer (it is resent), never a byte wrongly
 * marked. */
Test(ack13, ranges_merge_and_overflow_is_conservative)
{
    ack13_tx t;
    const uint32_t lens[1] = {10000};
    cr_assert_eq(ack13_tx_new_flight(&t, lens, 1), CDTLS_OK);
    /* 10 one-byte fragments at every 100th byte: disjoint */
    for (uint32_t i = 0; i < 10; i++) cr_assert_eq(ack13_tx_note_sent(&t, rn(2, i), 0, i * 100, 1), CDTLS_OK);
    for (uint32_t i = 0; i < 10; i++) {
        ack13_record_number a = rn(2, 9 - i);
        ack13_tx_on_ack(&t, &a, 1);
    }
    cr_assert_eq(t.n_acked[0], ACK13_MAX_RANGES);
    for (size_t i = 1; i < t.n_acked[0]; i++)
        cr_assert(t.acked[0][i - 1].end < t.acked[0][i].off, "sorted, disjoint");
    uint32_t off, len;
    /* whatever was dropped is reported unacknowledged */
    size_t unacked_bytes = 0;
    uint32_t pos = 0;
    while (ack13_tx_unacked(&t, 0, pos, &off, &len)) {
        cr_assert(off >= pos && len > 0);
        unacked_bytes += len;
        pos = off + len;
    }
    cr_assert_eq(unacked_bytes, 10000u - ACK13_MAX_RANGES);
    /* one fragment covering everything merges them all */
    cr_assert_eq(ack13_tx_note_sent(&t, rn(2, 50), 0, 0, 10000), CDTLS_OK);
    ack13_record_number a = rn(2, 50);
    ack13_tx_on_ack(&t, &a, 1);
    cr_assert_eq(t.n_acked[0], 1u);
    cr_assert(ack13_tx_flight_acked(&t));
}

Test(ack13, bad_notes_are_refused)
{
    ack13_tx t;
    const uint32_t lens[2] = {10, 20};
    cr_assert_eq(ack13_tx_new_flight(&t, lens, ACK13_MAX_MESSAGES + 1), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(ack13_tx_new_flight(&t, lens, 2), CDTLS_OK);
    cr_assert_eq(ack13_tx_note_sent(&t, rn(1, 0), 2, 0, 1), CDTLS_ERR_INVALID_ARG, "no such message");
    cr_assert_eq(ack13_tx_note_sent(&t, rn(1, 0), 0, 5, 6), CDTLS_ERR_INVALID_ARG, "past the message");
    cr_assert_eq(ack13_tx_note_sent(&t, rn(1, 0), 1, UINT32_MAX, 2), CDTLS_ERR_INVALID_ARG);
}

/* The ring of sent records keeps the newest ACK13_MAX_SENT: an ACK for an
 * older one is ignored (that fragment is resent, harmlessly). */
Test(ack13, forgotten_records_are_ignored)
{
    ack13_tx t;
    const uint32_t lens[1] = {ACK13_MAX_SENT + 10};
    cr_assert_eq(ack13_tx_new_flight(&t, lens, 1), CDTLS_OK);
    for (uint32_t i = 0; i < ACK13_MAX_SENT + 10; i++)
        cr_assert_eq(ack13_tx_note_sent(&t, rn(2, i), 0, i, 1), CDTLS_OK);
    ack13_record_number old = rn(2, 0), fresh = rn(2, ACK13_MAX_SENT + 9);
    cr_assert_eq(ack13_tx_on_ack(&t, &old, 1), 0u);
    cr_assert_eq(ack13_tx_on_ack(&t, &fresh, 1), 1u);
}

/* §7.1: the ACK timer starts at a quarter of the retransmission timeout
 * on the flight's first record; a record out of order or a duplicate makes
 * it due at once; the body lists record numbers in increasing order. */
Test(ack13, rx_timer_and_body)
{
    ack13_rx r;
    ack13_rx_new_flight(&r);
    cr_assert_not(ack13_rx_due(&r, 0));
    ack13_rx_note(&r, rn(2, 5), 1, 1000, 1000);
    cr_assert_not(ack13_rx_due(&r, 1249));
    cr_assert(ack13_rx_due(&r, 1250));
    ack13_rx_note(&r, rn(2, 3), 0, 1010, 1000);
    cr_assert(ack13_rx_due(&r, 1010), "out of order: at once");
    ack13_rx_note(&r, rn(0, 7), 1, 1011, 1000);
    uint8_t buf[128];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    ack13_rx_write(&r, &w);
    cr_assert_not(w.failed);
    cr_assert_eq(w.len, 2u + 3 * 16);
    cr_assert_not(ack13_rx_due(&r, 5000), "written: disarmed");
    ack13_record_number got[4];
    size_t n;
    cr_assert_eq(ack13_parse(buf, w.len, got, 4, &n), CDTLS_OK);
    cr_assert_eq(n, 3u);
    cr_assert(got[0].epoch == 0 && got[0].seq == 7);
    cr_assert(got[1].epoch == 2 && got[1].seq == 3);
    cr_assert(got[2].epoch == 2 && got[2].seq == 5);
    ack13_rx_note(&r, rn(2, 5), 1, 6000, 1000);
    cr_assert(ack13_rx_due(&r, 6000), "a duplicate means our ACK was lost: at once");
}

Test(ack13, rx_table_full_forgets_the_oldest)
{
    ack13_rx r;
    ack13_rx_new_flight(&r);
    for (uint64_t i = 0; i < ACK13_MAX_RECEIVED + 5; i++) ack13_rx_note(&r, rn(3, 100 + i), 1, 0, 1000);
    cr_assert_eq(r.n, ACK13_MAX_RECEIVED);
    cr_assert_eq(r.got[0].seq, 105u);
    cr_assert_eq(r.got[ACK13_MAX_RECEIVED - 1].seq, 100u + ACK13_MAX_RECEIVED + 4);
}

/* Hostile ACK bodies: truncated, a length not a multiple of 16, trailing
 * bytes; more record numbers than we keep are skipped, not an error. */
Test(ack13, parse_refuses_malformed_bodies)
{
    uint8_t b[2 + 16 * 3];
    memset(b, 0, sizeof b);
    b[1] = 48;
    ack13_record_number got[2];
    size_t n;
    cr_assert_eq(ack13_parse(b, sizeof b, got, 2, &n), CDTLS_OK);
    cr_assert_eq(n, 2u, "the third is skipped");
    for (size_t len = 0; len < sizeof b; len++) /* every truncation */
        cr_assert_eq(ack13_parse(b, len, got, 2, &n), CDTLS_ERR_DECODE, "truncated to %zu", len);
    b[1] = 47;
    cr_assert_eq(ack13_parse(b, 2 + 47, got, 2, &n), CDTLS_ERR_DECODE, "not a multiple of 16");
    b[1] = 0;
    cr_assert_eq(ack13_parse(b, 2, got, 2, &n), CDTLS_OK, "an empty ACK is legal");
    cr_assert_eq(n, 0u);
    cr_assert_eq(ack13_parse(b, 3, got, 2, &n), CDTLS_ERR_DECODE, "trailing bytes");
}
