/* The borrowing (zero-copy) calls of conn.h: cdtls_conn_peek_datagram /
 * cdtls_conn_pop_datagram and cdtls_conn_peek_read / cdtls_conn_pop_read.
 * What the header promises is what is checked: the same entry until it is
 * popped, untouched by calls that only append behind it, pops that release
 * only what a peek lent, the copying calls taking the same entries, and
 * handshake flights that survive their datagrams being popped unsent. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "common/dtls.h"

static const uint8_t b_psk[16] = "borrow-psk-16-b!";
static const uint8_t b_addr[4] = {192, 0, 2, 7};

static uint16_t b_suite(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (cdtls_cipher_suite_supported(p, CDTLS_PSK_WITH_AES_128_GCM_SHA256))
        return CDTLS_PSK_WITH_AES_128_GCM_SHA256;
    return CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
}

static void b_pair(cdtls_conn **cl, cdtls_conn **sv, const uint16_t *suite)
{
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.psk.key = b_psk;
    cfg.psk.key_len = sizeof b_psk;
    cfg.psk.identity = (const uint8_t *)"borrow";
    cfg.psk.identity_len = 6;
    cfg.negotiate.cipher_suites = suite;
    cfg.negotiate.n_cipher_suites = 1;
    cfg.mtu = 1400;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, 1000, cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, 1000, sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(*sv, b_addr, sizeof b_addr), CDTLS_OK);
}

/* Delivers every datagram `from` has queued, sent straight from its queue. */
static size_t move_borrowed(cdtls_conn *from, cdtls_conn *to, uint64_t now)
{
    const uint8_t *d;
    size_t n, moved = 0;
    cdtls_oob o;
    while (cdtls_conn_peek_datagram(from, &d, &n, &o) == CDTLS_OK) {
        cr_assert_eq(cdtls_conn_recv(to, d, n, NULL, now), CDTLS_OK);
        cr_assert_eq(cdtls_conn_pop_datagram(from), CDTLS_OK);
        moved++;
    }
    return moved;
}

static void handshake_borrowed(cdtls_conn *cl, cdtls_conn *sv)
{
    for (int i = 0; i < 10; i++) {
        move_borrowed(cl, sv, 1000);
        move_borrowed(sv, cl, 1000);
    }
    cr_assert_eq(cdtls_conn_get_state(cl), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(sv), CDTLS_STATE_ESTABLISHED);
}

static void established(cdtls_conn **cl, cdtls_conn **sv, uint16_t *suite)
{
    *suite = b_suite();
    b_pair(cl, sv, suite);
    cr_assert_eq(cdtls_conn_start(*cl, 1000), CDTLS_OK);
    handshake_borrowed(*cl, *sv);
    /* the client's first record retires the server's final flight; after
     * it neither side has anything queued */
    cr_assert_eq(cdtls_conn_write(*cl, (const uint8_t *)"settle", 6, NULL), CDTLS_OK);
    move_borrowed(*cl, *sv, 1000);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(cdtls_conn_peek_read(*sv, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_read(*sv), CDTLS_OK);
}

/* One record each way through the borrowing calls only, OOB on both ends:
 * the write's OOB comes out with its datagram, the arrival's with the
 * plaintext; an empty record is lent as a valid pointer of length 0. */
static void one_way(cdtls_conn *from, cdtls_conn *to, const char *msg, uint8_t dscp)
{
    const cdtls_oob sent = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, dscp, CDTLS_ECN_ECT0, 0, 0, {0, {0}}};
    const cdtls_oob arrived = {CDTLS_OOB_ECN | CDTLS_OOB_TTL, 0, CDTLS_ECN_CE, 57, 0, {0, {0}}};
    size_t len = strlen(msg);
    cr_assert_eq(cdtls_conn_write(from, (const uint8_t *)msg, len, &sent), CDTLS_OK);
    const uint8_t *d;
    size_t n;
    cdtls_oob o;
    memset(&o, 0xee, sizeof o);
    cr_assert_eq(cdtls_conn_peek_datagram(from, &d, &n, &o), CDTLS_OK);
    cr_assert(o.flags == sent.flags && o.dscp == dscp && o.ecn == CDTLS_ECN_ECT0);
    cr_assert_gt(n, len, "a sealed record is longer than its plaintext");
    cr_assert_eq(cdtls_conn_recv(to, d, n, &arrived, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(from), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(from, &d, &n, &o), CDTLS_ERR_WOULD_BLOCK);

    const uint8_t *p = NULL;
    size_t plen = 99999;
    memset(&o, 0xee, sizeof o);
    cr_assert_eq(cdtls_conn_peek_read(to, &p, &plen, &o), CDTLS_OK);
    cr_assert_not_null(p);
    cr_assert_eq(plen, len);
    cr_assert(len == 0 || memcmp(p, msg, len) == 0);
    cr_assert(o.flags == arrived.flags && o.ecn == CDTLS_ECN_CE && o.ttl == 57);
    cr_assert_eq(cdtls_conn_pop_read(to), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_read(to, &p, &plen, NULL), CDTLS_ERR_WOULD_BLOCK);
}

Test(engine_borrow, round_trips_both_ways_with_oob)
{
    cdtls_conn *cl, *sv;
    uint16_t suite;
    established(&cl, &sv, &suite);
    one_way(cl, sv, "client to server, borrowed", 46);
    one_way(sv, cl, "server to client, borrowed", 10);
    one_way(cl, sv, "", 0);
    one_way(sv, cl, "", 0);
    /* the largest record too */
    static char big[1400];
    size_t max = cdtls_conn_max_write(cl);
    cr_assert(max > 1000 && max < sizeof big);
    memset(big, 'b', max);
    big[max] = 0;
    one_way(cl, sv, big, 34);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}

/* Peek lends the head, again and again, until it is popped; a pop releases
 * only what a peek lent, so neither an empty queue nor a second pop drops
 * anything the caller has not seen. */
Test(engine_borrow, peek_repeats_pop_needs_a_peek)
{
    cdtls_conn *cl, *sv;
    uint16_t suite;
    established(&cl, &sv, &suite);
    const uint8_t *d, *d2;
    size_t n, n2;

    /* nothing queued: nothing to lend, nothing to pop */
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_ERR_BAD_STATE);

    cr_assert_eq(cdtls_conn_write(cl, (const uint8_t *)"one", 3, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_write(cl, (const uint8_t *)"two!", 4, NULL), CDTLS_OK);
    /* queued but not peeked: a pop refuses, and the datagram stays */
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d2, &n2, NULL), CDTLS_OK);
    cr_assert(d == d2 && n == n2, "a second peek lends the same datagram");
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_ERR_BAD_STATE, "one peek, one pop");
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(n, n2 + 1, "the next datagram is the 4-byte record's");
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);

    /* the same on the receiving side, in order */
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d2, &n2, NULL), CDTLS_OK);
    cr_assert(d == d2 && n == 3 && n2 == 3 && memcmp(d, "one", 3) == 0);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert(n == 4 && memcmp(d, "two!", 4) == 0);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_OK);

    /* arguments */
    cr_assert_eq(cdtls_conn_peek_datagram(NULL, &d, &n, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, NULL, &n, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, NULL, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_peek_read(NULL, &d, &n, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_peek_read(sv, NULL, &n, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, NULL, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_pop_datagram(NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_pop_read(NULL), CDTLS_ERR_INVALID_ARG);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}

/* A lent datagram or record stays where it is, byte for byte, while the
 * connection is driven: writes, received datagrams and alerts only append
 * behind it, also when the receive queue is full and drops records. */
Test(engine_borrow, lent_entries_survive_calls_that_append)
{
    cdtls_conn *cl, *sv;
    uint16_t suite;
    established(&cl, &sv, &suite);
    const uint8_t *lent, *d;
    size_t lent_len, n;
    uint8_t copy[2048];

    cr_assert_eq(cdtls_conn_write(cl, (const uint8_t *)"first", 5, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &lent, &lent_len, NULL), CDTLS_OK);
    memcpy(copy, lent, lent_len);
    /* more writes, a datagram from the peer, timers: all behind the lent one */
    for (int i = 0; i < 50; i++) cr_assert_eq(cdtls_conn_write(cl, copy, 700, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_write(sv, (const uint8_t *)"to client", 9, NULL), CDTLS_OK);
    move_borrowed(sv, cl, 1001);
    cr_assert_eq(cdtls_conn_on_timeout(cl, 999999), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert(d == lent && n == lent_len && memcmp(lent, copy, lent_len) == 0,
              "the lent datagram moved or changed");

    /* the receiver lends "first" and keeps it lent while 300 more records
     * arrive: the queue fills (256 records) and drops the rest, the lent
     * record is untouched */
    cr_assert_eq(cdtls_conn_recv(sv, lent, lent_len, NULL, 1002), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);
    const uint8_t *rec;
    size_t rec_len;
    cr_assert_eq(cdtls_conn_peek_read(sv, &rec, &rec_len, NULL), CDTLS_OK);
    cr_assert(rec_len == 5 && memcmp(rec, "first", 5) == 0);
    for (int i = 0; i < 300; i++) {
        if (i >= 50) cr_assert_eq(cdtls_conn_write(cl, (const uint8_t *)"more", 4, NULL), CDTLS_OK);
        cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
        cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 1003), CDTLS_OK);
        cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);
    }
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert(d == rec && n == 5 && memcmp(rec, "first", 5) == 0, "the lent record moved or changed");
    /* the peer closes: its close_notify is queued behind what is lent */
    cr_assert_eq(cdtls_conn_close(cl), CDTLS_OK);
    move_borrowed(cl, sv, 1004);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert(d == rec && memcmp(rec, "first", 5) == 0);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_OK);
    size_t got = 1;
    while (cdtls_conn_peek_read(sv, &d, &n, NULL) == CDTLS_OK) {
        cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_OK);
        got++;
    }
    cr_assert_eq(got, 256, "the receive queue held %zu records", got);
    /* drained after the close: CLOSED, and still nothing to pop */
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_ERR_CLOSED);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_ERR_BAD_STATE);
    /* and the server's close_notify reply waits to be popped */
    cr_assert_eq(cdtls_conn_peek_datagram(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(sv), CDTLS_OK);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}

/* The copying calls are peek, copy, pop: they take the entry a peek lent
 * (which is then no longer lent), and one refused for a short buffer stays
 * queued, lent only if it was. */
Test(engine_borrow, interleaves_with_the_copying_calls)
{
    cdtls_conn *cl, *sv;
    uint16_t suite;
    established(&cl, &sv, &suite);
    const uint8_t *d;
    size_t n, m;
    uint8_t buf[2048], tiny[4];

    for (int i = 0; i < 4; i++) {
        uint8_t b = (uint8_t)('a' + i);
        cr_assert_eq(cdtls_conn_write(cl, &b, 1, NULL), CDTLS_OK);
    }
    /* peek, then the copying call: the same datagram, consumed */
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    uint8_t first[64];
    memcpy(first, d, n);
    cr_assert_eq(cdtls_conn_next_datagram(cl, buf, sizeof buf, &m, NULL), CDTLS_OK);
    cr_assert(m == n && memcmp(buf, first, n) == 0);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_ERR_BAD_STATE, "the copying call took what was lent");
    cr_assert_eq(cdtls_conn_recv(sv, buf, m, NULL, 1000), CDTLS_OK);
    /* short buffer after a peek: refused, still lent, so pop releases it */
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(cl, tiny, sizeof tiny, &m, NULL), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);
    /* short buffer without a peek: refused, not lent */
    cr_assert_eq(cdtls_conn_next_datagram(cl, tiny, sizeof tiny, &m, NULL), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_ERR_BAD_STATE);
    /* copying, then borrowing, alternately */
    cr_assert_eq(cdtls_conn_next_datagram(cl, buf, sizeof buf, &m, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(sv, buf, m, NULL, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_ERR_WOULD_BLOCK);

    /* the receiving side: a, b, c, d arrived in order */
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert(n == 1 && d[0] == 'a');
    cr_assert_eq(cdtls_conn_read(sv, buf, sizeof buf, &m, NULL), CDTLS_OK);
    cr_assert(m == 1 && buf[0] == 'a', "read takes the record peek lent");
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert(n == 1 && d[0] == 'b');
    cr_assert_eq(cdtls_conn_read(sv, tiny, 0, &m, NULL), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_OK, "still lent after the refused read");
    cr_assert_eq(cdtls_conn_read(sv, tiny, 0, &m, NULL), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_ERR_BAD_STATE, "a refused read lends nothing");
    cr_assert_eq(cdtls_conn_read(sv, buf, sizeof buf, &m, NULL), CDTLS_OK);
    cr_assert(m == 1 && buf[0] == 'c');
    cr_assert_eq(cdtls_conn_peek_read(sv, &d, &n, NULL), CDTLS_OK);
    cr_assert(n == 1 && d[0] == 'd');
    cr_assert_eq(cdtls_conn_pop_read(sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_read(sv, buf, sizeof buf, &m, NULL), CDTLS_ERR_WOULD_BLOCK);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}

/* A datagram popped without being sent is a datagram the network lost: the
 * flight is kept apart from the queue and the timer seals it again with
 * fresh record sequence numbers (RFC 6347 §4.2.4). A flight datagram kept
 * lent while the timer fires is not rewritten; the retransmission queues
 * behind it. */
Test(engine_borrow, flights_retransmit_when_popped_unsent)
{
    uint16_t suite = b_suite();
    cdtls_conn *cl, *sv;
    b_pair(&cl, &sv, &suite);
    cr_assert_eq(cdtls_conn_start(cl, 1000), CDTLS_OK);
    const uint8_t *d;
    size_t n;
    uint8_t lost[1400];
    size_t lost_len;

    /* flight 1 (ClientHello) popped, never delivered */
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    memcpy(lost, d, n);
    lost_len = n;
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_ERR_WOULD_BLOCK);
    uint64_t t = cdtls_conn_timeout(cl);
    cr_assert(t > 1000 && t != UINT64_MAX);
    cr_assert_eq(cdtls_conn_on_timeout(cl, t), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert_eq(n, lost_len);
    cr_assert(memcmp(d + 11, lost + 11, n - 11) == 0, "the same ClientHello");
    cr_assert(memcmp(d + 3, lost + 3, 8) != 0, "under a fresh record sequence number");
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, t), CDTLS_OK);
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK);

    /* HelloVerifyRequest back; the client's flight 3 stays lent across its
     * own retransmission */
    cr_assert_gt(move_borrowed(sv, cl, t), 0);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    const uint8_t *lent = d;
    memcpy(lost, d, n);
    lost_len = n;
    uint64_t t3 = cdtls_conn_timeout(cl);
    cr_assert_eq(cdtls_conn_on_timeout(cl, t3), CDTLS_OK);
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert(d == lent && n == lost_len && memcmp(d, lost, n) == 0, "the lent datagram was rewritten");
    cr_assert_eq(cdtls_conn_pop_datagram(cl), CDTLS_OK); /* "lost" */
    cr_assert_eq(cdtls_conn_peek_datagram(cl, &d, &n, NULL), CDTLS_OK);
    cr_assert(n == lost_len && memcmp(d + 11, lost + 11, n - 11) == 0 && memcmp(d + 3, lost + 3, 8) != 0,
              "the retransmission queued behind it");

    /* from here on every datagram arrives: the handshake completes */
    for (int i = 0; i < 10; i++) {
        move_borrowed(cl, sv, t3);
        move_borrowed(sv, cl, t3);
    }
    cr_assert_eq(cdtls_conn_get_state(cl), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(sv), CDTLS_STATE_ESTABLISHED);
    one_way(cl, sv, "after two lost flights", 0);
    one_way(sv, cl, "and back", 0);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}

/* The server's final flight is popped unsent: the client's timer resends
 * its flight 5, and the server answers the retransmission with its own
 * flight 6 again, also when the caller only peeks and pops. */
Test(engine_borrow, final_flight_resent_on_demand)
{
    uint16_t suite = b_suite();
    cdtls_conn *cl, *sv;
    b_pair(&cl, &sv, &suite);
    cr_assert_eq(cdtls_conn_start(cl, 1000), CDTLS_OK);
    const uint8_t *d;
    size_t n;
    for (int i = 0; i < 10 && cdtls_conn_get_state(sv) != CDTLS_STATE_ESTABLISHED; i++) {
        move_borrowed(cl, sv, 1000);
        if (cdtls_conn_get_state(sv) != CDTLS_STATE_ESTABLISHED) move_borrowed(sv, cl, 1000);
    }
    cr_assert_eq(cdtls_conn_get_state(sv), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(cl), CDTLS_STATE_HANDSHAKING);
    size_t dropped = 0;
    while (cdtls_conn_peek_datagram(sv, &d, &n, NULL) == CDTLS_OK) {
        cr_assert_eq(cdtls_conn_pop_datagram(sv), CDTLS_OK);
        dropped++;
    }
    cr_assert_gt(dropped, 0);
    uint64_t t = cdtls_conn_timeout(cl);
    cr_assert_eq(cdtls_conn_on_timeout(cl, t), CDTLS_OK);
    cr_assert_gt(move_borrowed(cl, sv, t), 0);
    cr_assert_gt(move_borrowed(sv, cl, t), 0, "the server resent its final flight");
    cr_assert_eq(cdtls_conn_get_state(cl), CDTLS_STATE_ESTABLISHED);
    one_way(cl, sv, "recovered", 0);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}
