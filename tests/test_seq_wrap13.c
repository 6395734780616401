/* More than 2^16 records each way in DTLS 1.3 (issue 16): the unified
 * header carries only the low 16 (S bit set) or 8 (S bit clear) bits of the
 * sequence number (RFC 9147 §4), and the receiver reconstructs the rest as
 * the value closest to the next one it expects (§4.2.2). Past 65535 the
 * 16-bit field wraps; a record must still open under its full number (it
 * is the AEAD nonce, §4.2.1), also when records around the wrap arrive out
 * of order.
 *
 *  - engine: our 1.3 client and server, in memory, 67,072 application
 *    records each way, in batches of 32; the batches around the wrap (and
 *    around the 8-bit boundaries there) are delivered reversed. Every
 *    record is read back exactly once, in the order it was delivered, and
 *    every record our engine sends has the 16-bit form (it always sets S
 *    and L: src/engine/hs13_common.c, put_record).
 *  - record layer: the engine never sends the 8-bit form, a peer may; the
 *    same number of records sealed with 8-bit sequence numbers, through
 *    one receiving epoch (record13_rx_open), reordered within the replay
 *    window near each 256 boundary around 2^16. */
#include <criterion/criterion.h>

#include "test_util.h"
#include <stdio.h>
#include <string.h>

#include "cdtls/conn.h"
#include "common/reader.h"
#include "engine/conn_internal.h" /* CDTLS_HAVE_DTLS13 */
#include "record/record13.h"

#define N_RECORDS (65536u + 1536u)
#define BATCH 32u
/* batches whose records are delivered reversed: those within this many
 * records of 2^16 (the server's numbers run one ahead of its index: its
 * ACK of the client's Finished took sequence number 0 of epoch 3) */
#define REORDER_NEAR 512u

static int near_wrap(uint32_t first)
{
    return first + BATCH + REORDER_NEAR > 65536u && first < 65536u + REORDER_NEAR;
}

#if CDTLS_HAVE_DTLS13

static const uint8_t psk[16] = "seq-wrap-psk-16b";

static void shuttle(cdtls_conn *a, cdtls_conn *b, uint64_t now)
{
    test_shuttle(a, b, now, NULL);
}

typedef struct direction {
    cdtls_conn *from, *to;
    char tag; /* 'c' or 's', in each record */
    uint32_t sent, received, reversed_batches;
} direction;

/* One batch of records from one side to the other: written, taken out as
 * datagrams (one record each), checked for the 16-bit header form,
 * delivered (reversed near the wrap), read back in delivery order. */
static void batch(direction *d, uint32_t first, uint64_t now)
{
    static uint8_t dg[BATCH][64];
    size_t len[BATCH];
    for (uint32_t i = 0; i < BATCH; i++) {
        uint8_t rec[5] = {(uint8_t)d->tag, (uint8_t)((first + i) >> 24), (uint8_t)((first + i) >> 16),
                          (uint8_t)((first + i) >> 8), (uint8_t)(first + i)};
        int rc = cdtls_conn_write(d->from, rec, sizeof rec, NULL);
        cr_assert_eq(rc, CDTLS_OK, "%c record %u: %s", d->tag, first + i, cdtls_strerror(rc));
    }
    for (uint32_t i = 0; i < BATCH; i++) {
        cr_assert_eq(cdtls_conn_next_datagram(d->from, dg[i], sizeof dg[i], &len[i], NULL), CDTLS_OK);
        /* RFC 9147 §4: 0 0 1 C S L E E; ours: no CID, S and L set, epoch 3 */
        cr_assert_eq(dg[i][0], 0x20 | R13_S_BIT | R13_L_BIT | 3, "header byte 0x%02x", dg[i][0]);
    }
    size_t extra;
    uint8_t spare[64];
    cr_assert_eq(cdtls_conn_next_datagram(d->from, spare, sizeof spare, &extra, NULL), CDTLS_ERR_WOULD_BLOCK);
    const int reverse = near_wrap(first);
    d->reversed_batches += (uint32_t)reverse;
    for (uint32_t k = 0; k < BATCH; k++) {
        uint32_t i = reverse ? BATCH - 1 - k : k;
        int rc = cdtls_conn_recv(d->to, dg[i], len[i], NULL, now);
        cr_assert_eq(rc, CDTLS_OK, "%c record %u refused: %s", d->tag, first + i, cdtls_strerror(rc));
    }
    d->sent += BATCH;
    for (uint32_t k = 0; k < BATCH; k++) {
        uint32_t i = reverse ? BATCH - 1 - k : k;
        uint8_t got[16];
        size_t n = 0;
        int rc = cdtls_conn_read(d->to, got, sizeof got, &n, NULL);
        cr_assert_eq(rc, CDTLS_OK, "%c record %u (delivered %u of its batch) not readable: %s", d->tag,
                     first + i, k, cdtls_strerror(rc));
        uint32_t idx = (uint32_t)got[1] << 24 | (uint32_t)got[2] << 16 | (uint32_t)got[3] << 8 | got[4];
        cr_assert(n == 5 && got[0] == (uint8_t)d->tag && idx == first + i, "%c: expected record %u, got %u",
                  d->tag, first + i, idx);
        d->received++;
    }
    uint8_t none[16];
    size_t nn;
    cr_assert_eq(cdtls_conn_read(d->to, none, sizeof none, &nn, NULL), CDTLS_ERR_WOULD_BLOCK);
}

Test(seq_wrap13, engine_past_2_16_records_each_way, .timeout = 120)
{
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    cc.psk.key = sc.psk.key = psk;
    cc.psk.key_len = sc.psk.key_len = sizeof psk;
    cc.psk.identity = sc.psk.identity = (const uint8_t *)"wrap";
    cc.psk.identity_len = sc.psk.identity_len = 4;
    cc.versions.min = cc.versions.max = CDTLS_VERSION_1_3;
    sc.cookie.exchange = 0;
    cdtls_conn *c, *s;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    shuttle(c, s, 1000);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    direction up = {c, s, 'c', 0, 0, 0}, down = {s, c, 's', 0, 0, 0};
    for (uint32_t first = 0; first < N_RECORDS; first += BATCH) {
        batch(&up, first, 1000);
        batch(&down, first, 1000);
    }
    cr_assert_eq(up.received, N_RECORDS);
    cr_assert_eq(down.received, N_RECORDS);
    cr_assert_eq(up.reversed_batches, 2 * REORDER_NEAR / BATCH);
    cr_log_info("seq_wrap13: %u records each way, %u batches around 2^16 reversed, none refused\n", N_RECORDS,
                up.reversed_batches);
    /* nothing on either side fell over the limits on the way */
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

#else
Test(seq_wrap13, engine_past_2_16_records_each_way)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#endif /* CDTLS_HAVE_DTLS13 */

/* The 8-bit form, on the record layer: a suite the provider has. */
static int rx_tx_ciphers(record13_cipher *tx, record13_cipher *rx)
{
    static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                         iv[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab},
                         sn[32] = {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
                                   0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d};
    static const uint16_t suites[] = {R13_TLS_AES_128_GCM_SHA256, R13_TLS_CHACHA20_POLY1305_SHA256};
    const cdtls_provider *p = cdtls_provider_default();
    for (size_t i = 0; i < 2; i++) {
        size_t kl = suites[i] == R13_TLS_CHACHA20_POLY1305_SHA256 ? 32 : 16;
        if (record13_cipher_init(tx, p, suites[i], key, kl, iv, 12, sn, kl, NULL) != CDTLS_OK) continue;
        cr_assert_eq(record13_cipher_init(rx, p, suites[i], key, kl, iv, 12, sn, kl, NULL), CDTLS_OK);
        return 1;
    }
    return 0;
}

/* Records 0..N_RECORDS-1 with 8-bit sequence numbers (no length: one
 * record per datagram, §4), each batch of 32 within 512 of 2^16 reversed
 * (well inside the 64-record replay window and the ±128 that 8 bits can
 * tell apart), through record13_rx_open: each opens under its full number,
 * none is refused, and a second copy of 65536 (the first past the wrap)
 * is (the replay window, §4.5.1). */
Test(seq_wrap13, record_layer_8bit_past_2_16, .timeout = 120)
{
    record13_cipher tx;
    record13_rx_epoch rx;
    record13_rx_epoch_init(&rx, 3, 64);
    if (!rx_tx_ciphers(&tx, &rx.cipher))
        cr_skip_test("no 1.3 suite with a record-number mask in this provider");
    const record13_header_opts o = {0, 0, NULL, 0};
    static uint8_t rec[BATCH][64];
    size_t len[BATCH];
    uint32_t opened = 0, reversed = 0, replays_refused = 0;
    for (uint32_t first = 0; first < N_RECORDS; first += BATCH) {
        for (uint32_t i = 0; i < BATCH; i++) {
            uint32_t seq = first + i;
            uint8_t pt[4] = {(uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8), (uint8_t)seq};
            cr_assert_eq(record13_seal(&tx, &o, 3, seq, 23, pt, sizeof pt, 0, rec[i], sizeof rec[i], &len[i]),
                         CDTLS_OK);
            cr_assert_eq(rec[i][0] & (R13_S_BIT | R13_L_BIT), 0); /* the 8-bit, length-less form */
        }
        const int reverse = near_wrap(first);
        reversed += (uint32_t)reverse;
        for (uint32_t k = 0; k < BATCH; k++) {
            uint32_t i = reverse ? BATCH - 1 - k : k;
            cdtls_reader r;
            reader_init(&r, rec[i], len[i]);
            record13_header h;
            cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
            uint8_t pt[64], type = 0;
            size_t pt_len = 0;
            uint64_t seq = 0;
            int rc = record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq);
            cr_assert_eq(rc, CDTLS_OK, "record %u refused: %s", first + i, cdtls_strerror(rc));
            uint32_t idx = (uint32_t)pt[0] << 24 | (uint32_t)pt[1] << 16 | (uint32_t)pt[2] << 8 | pt[3];
            cr_assert(seq == first + i && idx == first + i && type == 23, "record %u opened as %llu (%u)",
                      first + i, (unsigned long long)seq, idx);
            opened++;
            if (first + i == 65536) {
                /* the same record again: its number is in the window */
                reader_init(&r, rec[i], len[i]);
                cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
                replays_refused += record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq) != CDTLS_OK;
            }
        }
    }
    cr_assert_eq(opened, N_RECORDS);
    cr_assert_eq(reversed, 2 * REORDER_NEAR / BATCH);
    cr_assert_eq(replays_refused, 1);
    record13_cipher_clear(&tx);
    record13_rx_epoch_clear(&rx);
}
