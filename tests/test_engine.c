/* Our client against our server, in process, over a simulated link:
 * every PSK / ECDHE-PSK suite the linked provider supports, lossy and
 * reordering links, small MTUs, and hostile input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "sim_link.h"

static const uint8_t test_psk[] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                                   0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static const char test_identity[] = "cdtls-client";

static void psk_configs(cdtls_config *cc, cdtls_config *sc, const uint16_t *suite)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = test_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof test_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)test_identity;
    cc->psk.identity_len = sc->psk.identity_len = sizeof test_identity - 1;
    if (suite) {
        cc->negotiate.cipher_suites = suite;
        cc->negotiate.n_cipher_suites = 1;
    }
}

/* Sends msg from one side and returns 1 if the other side reads it back. */
static int roundtrip(sim_link *s, int from_client, const char *msg)
{
    cdtls_conn *from = from_client ? s->client : s->server;
    cdtls_conn *to = from_client ? s->server : s->client;
    size_t len = strlen(msg);
    if (cdtls_conn_write(from, (const uint8_t *)msg, len, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t buf[2048];
    size_t n = 0;
    if (cdtls_conn_read(to, buf, sizeof buf, &n, NULL) != CDTLS_OK) return 0;
    return n == len && memcmp(buf, msg, len) == 0;
}

static void full_session(uint16_t suite)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!cdtls_cipher_suite_supported(p, suite))
        cr_skip_test("%s not supported by provider %s", cdtls_cipher_suite_name(suite), p->name);
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "handshake with %s failed: client %s, server %s",
              cdtls_cipher_suite_name(suite), cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_cipher_suite(s.client), suite);
    cr_assert_eq(cdtls_conn_cipher_suite(s.server), suite);
    cr_assert(cdtls_conn_uses_ems(s.client) && cdtls_conn_uses_ems(s.server));
    size_t idlen;
    const uint8_t *id = cdtls_conn_psk_identity(s.server, &idlen);
    cr_assert(id && idlen == strlen(test_identity) && memcmp(id, test_identity, idlen) == 0);
    cr_assert(roundtrip(&s, 1, "hello from the client"));
    cr_assert(roundtrip(&s, 0, "hello from the server"));
    /* an empty record is legal application data */
    cr_assert(roundtrip(&s, 1, ""));

    /* close_notify both ways (RFC 5246 §7.2.1) */
    cr_assert_eq(cdtls_conn_close(s.client), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 1000);
    uint8_t buf[64];
    size_t n;
    cr_assert_eq(cdtls_conn_read(s.server, buf, sizeof buf, &n, NULL), CDTLS_ERR_CLOSED);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_CLOSED);
    cr_assert_eq(cdtls_conn_write(s.client, (const uint8_t *)"x", 1, NULL), CDTLS_ERR_CLOSED);
    cr_assert_eq(cdtls_conn_write(s.server, (const uint8_t *)"x", 1, NULL), CDTLS_ERR_CLOSED);
    sim_free(&s);
}

#define SUITE_TEST(name, id) \
    Test(engine_suite, name) \
    {                        \
        full_session(id);    \
    }

SUITE_TEST(psk_aes_128_gcm_sha256, CDTLS_PSK_WITH_AES_128_GCM_SHA256)
SUITE_TEST(psk_aes_256_gcm_sha384, CDTLS_PSK_WITH_AES_256_GCM_SHA384)
SUITE_TEST(psk_aes_128_ccm, CDTLS_PSK_WITH_AES_128_CCM)
SUITE_TEST(psk_aes_256_ccm, CDTLS_PSK_WITH_AES_256_CCM)
SUITE_TEST(psk_aes_128_ccm_8, CDTLS_PSK_WITH_AES_128_CCM_8)
SUITE_TEST(psk_aes_256_ccm_8, CDTLS_PSK_WITH_AES_256_CCM_8)
SUITE_TEST(psk_aes_128_cbc_sha256, CDTLS_PSK_WITH_AES_128_CBC_SHA256)
SUITE_TEST(psk_chacha20_poly1305, CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256)
SUITE_TEST(ecdhe_psk_aes_128_cbc_sha256, CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256)
SUITE_TEST(ecdhe_psk_chacha20_poly1305, CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256)
SUITE_TEST(ecdhe_psk_aes_128_gcm_sha256, CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256)

/* The suites the issue names must be negotiable where the provider has the
 * primitives: ChaCha20 everywhere, all eight with bearssl. */
Test(engine_suite, provider_suite_coverage)
{
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert(cdtls_cipher_suite_supported(p, CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256));
    cr_assert(cdtls_cipher_suite_supported(p, CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256));
    if (strcmp(p->name, "sodium") != 0) { /* bearssl and openssl have everything */
        static const uint16_t all[] = {CDTLS_PSK_WITH_AES_128_GCM_SHA256,
                                       CDTLS_PSK_WITH_AES_128_CCM,
                                       CDTLS_PSK_WITH_AES_128_CCM_8,
                                       CDTLS_PSK_WITH_AES_256_CCM_8,
                                       CDTLS_PSK_WITH_AES_128_CBC_SHA256,
                                       CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
                                       CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
                                       CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            cr_assert(cdtls_cipher_suite_supported(p, all[i]), "%04x", all[i]);
    } else {
        /* sodium has no AES-128, no CBC, no SHA-384 */
        cr_assert(!cdtls_cipher_suite_supported(p, CDTLS_PSK_WITH_AES_128_GCM_SHA256));
        cr_assert(!cdtls_cipher_suite_supported(p, CDTLS_PSK_WITH_AES_128_CBC_SHA256));
    }
}

/* ------------------------------------------------------------- lossy links */

static void lossy(unsigned loss, uint64_t seed, unsigned dup, unsigned reorder)
{
    const cdtls_provider *p = cdtls_provider_default();
    uint16_t suite = CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    (void)p;
    /* A tighter cap keeps many retransmissions inside the budget. */
    cc.timers.retransmit_max_ms = sc.timers.retransmit_max_ms = 2000;
    cc.timers.handshake_timeout_ms = sc.timers.handshake_timeout_ms = 120000;
    /* All N records leave at once; with reordering they may arrive far out
     * of order, so use the largest replay window (RFC 6347 §4.1.2.6 lets
     * the receiver choose) rather than drop them as too old. */
    if (reorder) cc.limits.replay_window = sc.limits.replay_window = 1024;
    sim_impair imp = {loss, dup, reorder, seed};
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, &imp), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 120000), "loss %u%% seed %llu: client %s server %s", loss,
              (unsigned long long)seed, cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    /* Data over the same lossy link: what arrives is intact and never
     * duplicated (the replay window drops copies); what is lost is lost. */
    enum { N = 200 };
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "message %03d of the lossy test", i);
        cr_assert_eq(cdtls_conn_write(s.client, (const uint8_t *)msg, (size_t)len, NULL), CDTLS_OK);
        sim_pump(&s);
    }
    sim_run(&s, 5000);
    uint8_t buf[128];
    size_t n;
    int got = 0;
    while (cdtls_conn_read(s.server, buf, sizeof buf, &n, NULL) == CDTLS_OK) {
        int idx = -1;
        cr_assert_eq(n, 29);
        buf[n] = 0; /* sscanf reads a string: the record is not one (valgrind) */
        cr_assert_eq(sscanf((const char *)buf, "message %03d of the lossy test", &idx), 1);
        cr_assert(idx >= 0 && idx < N);
        char want[64];
        snprintf(want, sizeof want, "message %03d of the lossy test", idx);
        cr_assert_eq(memcmp(buf, want, n), 0);
        cr_assert_eq(seen[idx], 0, "message %d delivered twice", idx);
        seen[idx] = 1;
        got++;
    }
    /* Loss is i.i.d. per datagram: the delivered share stays near 1-loss. */
    int expect = N * (int)(100 - loss) / 100;
    cr_assert(got >= expect - 40 && got <= expect + 40 + (int)dup * 2, "got %d of %d at %u%% loss", got, N,
              loss);
    sim_free(&s);
}

Test(engine_lossy, loss_10)
{
    lossy(10, 1, 0, 0);
    lossy(10, 2, 0, 0);
    lossy(10, 3, 0, 0);
}
Test(engine_lossy, loss_30)
{
    lossy(30, 4, 0, 0);
    lossy(30, 5, 0, 0);
    lossy(30, 6, 0, 0);
}
Test(engine_lossy, loss_50)
{
    lossy(50, 7, 0, 0);
    lossy(50, 8, 0, 0);
    lossy(50, 9, 0, 0);
}
Test(engine_lossy, reorder_and_duplicate)
{
    lossy(10, 10, 20, 30);
    lossy(0, 11, 50, 50);
}

/* ----------------------------------------------------------------- MTU 200 */

typedef struct frag_stats {
    size_t fragments, whole, biggest;
} frag_stats;

/* Counts handshake fragments in epoch-0 records (plaintext). */
static int count_fragments(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    frag_stats *st = ctx;
    (void)to_server;
    if (*len > st->biggest) st->biggest = *len;
    size_t off = 0;
    while (off + 13 <= *len) {
        size_t rlen = ((size_t)d[off + 11] << 8) | d[off + 12];
        int epoch = (d[off + 3] << 8) | d[off + 4];
        if (d[off] == 22 && epoch == 0 && rlen >= 12) {
            const uint8_t *h = d + off + 13;
            size_t mlen = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
            size_t flen = ((size_t)h[9] << 16) | ((size_t)h[10] << 8) | h[11];
            if (flen < mlen)
                st->fragments++;
            else
                st->whole++;
        }
        off += 13 + rlen;
    }
    return 1;
}

Test(engine_mtu, mtu_200_fragments_every_flight)
{
    uint16_t suite = CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    cc.mtu = sc.mtu = 200;
    /* A long identity hint and identity make ServerKeyExchange and
     * ClientKeyExchange larger than one datagram on their own. */
    static const char hint[] = "a psk identity hint long enough that the server key exchange "
                               "message cannot fit in one datagram of two hundred bytes, "
                               "so it must be fragmented";
    sc.psk.hint = (const uint8_t *)hint;
    sc.psk.hint_len = sizeof hint - 1;
    static const char long_id[] = "an identity long enough to force the client key exchange "
                                  "to be fragmented across datagrams at mtu two hundred, "
                                  "which the server must reassemble";
    cc.psk.identity = sc.psk.identity = (const uint8_t *)long_id;
    cc.psk.identity_len = sc.psk.identity_len = sizeof long_id - 1;
    frag_stats st = {0, 0, 0};
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    s.tamper = count_fragments;
    s.tamper_ctx = &st;
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(st.biggest <= 200, "datagram of %zu bytes", st.biggest);
    cr_assert(s.max_dgram[0] <= 200 && s.max_dgram[1] <= 200);
    cr_assert(st.fragments >= 4, "only %zu fragments", st.fragments);
    cr_assert(roundtrip(&s, 1, "after a fragmented handshake"));
    /* the largest write that fits the MTU works; one more byte is refused */
    size_t max = cdtls_conn_max_write(s.client);
    cr_assert(max > 0 && max < 200);
    uint8_t big[256];
    memset(big, 'z', sizeof big);
    cr_assert_eq(cdtls_conn_write(s.client, big, max, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_write(s.client, big, max + 1, NULL), CDTLS_ERR_RECORD_TOO_LARGE);
    sim_free(&s);
}

Test(engine_mtu, fragmented_under_loss_and_reorder)
{
    uint16_t suite = CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    cc.mtu = sc.mtu = 128; /* the smallest allowed: every flight is split */
    cc.timers.retransmit_max_ms = sc.timers.retransmit_max_ms = 2000;
    cc.timers.handshake_timeout_ms = sc.timers.handshake_timeout_ms = 120000;
    for (uint64_t seed = 20; seed < 26; seed++) {
        sim_impair imp = {20, 10, 30, seed};
        sim_link s;
        cr_assert_eq(sim_init(&s, &cc, &sc, &imp), CDTLS_OK);
        cr_assert(sim_run_handshake(&s, 120000), "seed %llu", (unsigned long long)seed);
        sim_free(&s);
    }
}

/* A path narrower than the configured MTU (RFC 6347 §4.1.1.1): every
 * datagram over `narrow` bytes is lost, and the sender is told so (as
 * cdtls_sock does on an ICMP "fragmentation needed" / EMSGSIZE) through
 * cdtls_conn_set_mtu, once per side. The flights that were lost are packed
 * again at the new size when they are retransmitted. */
typedef struct narrow_path {
    sim_link *s;
    size_t narrow;
    size_t dropped, lowered, biggest_after;
} narrow_path;

static int narrow_path_filter(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    narrow_path *np = ctx;
    (void)d;
    cdtls_conn *sender = to_server ? np->s->client : np->s->server;
    if (cdtls_conn_mtu(sender) <= np->narrow && *len > np->biggest_after) np->biggest_after = *len;
    if (*len <= np->narrow) return 1;
    np->dropped++;
    if (cdtls_conn_mtu(sender) > np->narrow) {
        cr_assert_eq(cdtls_conn_set_mtu(sender, np->narrow), CDTLS_OK);
        np->lowered++;
    }
    return 0;
}

Test(engine_mtu, set_mtu_lowers_a_live_connection)
{
    uint16_t suite = CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_mtu(s.client), 1200);
    cr_assert_eq(cdtls_conn_set_mtu(s.client, 127), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_set_mtu(s.client, 65508), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_set_mtu(NULL, 500), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_mtu(s.client), 1200, "refused values change nothing");
    narrow_path np = {&s, 150, 0, 0, 0};
    s.tamper = narrow_path_filter;
    s.tamper_ctx = &np;
    cr_assert(sim_run_handshake(&s, 60000), "the handshake completes over the narrow path");
    cr_assert_geq(np.dropped, 1, "the path was narrower than the first flights");
    cr_assert_geq(np.lowered, 1);
    cr_assert(np.biggest_after <= 150, "a datagram of %zu bytes after the MTU was lowered", np.biggest_after);
    /* application data follows the new size too */
    size_t max = cdtls_conn_max_write(s.server);
    cr_assert(max > 0 && max < 150, "max write %zu", max);
    cr_assert(roundtrip(&s, 1, "over the narrow path"));
    sim_free(&s);
}

/* ------------------------------------------------------------ timers */

typedef struct send_log {
    uint64_t at[64];
    size_t n;
    sim_link *s;
    int drop_to_client;     /* drop everything server -> client */
    int drop_final_flights; /* drop this many server datagrams once the server is established */
} send_log;

static int log_and_filter(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    send_log *l = ctx;
    (void)d;
    (void)len;
    if (to_server && l->n < 64) l->at[l->n++] = l->s->now_ms;
    if (!to_server && l->drop_to_client) return 0;
    if (!to_server && l->drop_final_flights &&
        cdtls_conn_get_state(l->s->server) == CDTLS_STATE_ESTABLISHED) {
        l->drop_final_flights--;
        return 0;
    }
    return 1;
}

/* RFC 6347 §4.2.4.1: retransmit on timer expiry, doubling the timeout up to
 * the cap; give up after the handshake timeout with a clear error. */
Test(engine_timer, doubling_cap_and_handshake_timeout)
{
    uint16_t suite = CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    cc.timers.retransmit_initial_ms = 1000;
    cc.timers.retransmit_max_ms = 8000;
    cc.timers.handshake_timeout_ms = 40000;
    sim_link s;
    send_log l = {.s = &s, .drop_to_client = 1};
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK); /* flight 1 already sent at t=1000 */
    s.tamper = log_and_filter;
    s.tamper_ctx = &l;
    cr_assert(!sim_run_handshake(&s, 60000));
    sim_run(&s, 60000);
    /* retransmissions at +1 s, +2 s, +4 s, +8 s, then every 8 s (the cap) */
    static const uint64_t want[] = {2000, 4000, 8000, 16000, 24000, 32000};
    cr_assert(l.n >= 6, "only %zu retransmissions", l.n);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(l.at[i], want[i], "retransmission %zu at %llu", i, (unsigned long long)l.at[i]);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_HANDSHAKE_TIMEOUT);
    cr_assert(l.at[l.n - 1] < 1000 + 40000, "no retransmission after the handshake timeout");
    sim_free(&s);
}

/* The server's final flight (CCS, Finished) is lost: the client's timer
 * retransmits flight 5, the server sees a message_seq it already processed
 * and retransmits flight 6 (RFC 6347 §4.2.4), and both end established. */
Test(engine_timer, final_flight_retransmitted_on_demand)
{
    uint16_t suite = CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    sim_link s;
    send_log l = {.s = &s, .drop_final_flights = 1};
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    s.tamper = log_and_filter;
    s.tamper_ctx = &l;
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(l.drop_final_flights, 0, "the final flight was not dropped");
    cr_assert_geq(s.sent[1], 4, "server sent HVR, flight 4, flight 6 and its retransmission");
    cr_assert(roundtrip(&s, 1, "after recovery"));
    sim_free(&s);
}

/* ---------------------------------------------------- OOB through the engine */

typedef struct oob_watch {
    sim_link *s;
    int handshake_dgrams, handshake_marked;
} oob_watch;

Test(engine_oob, flights_writes_and_reads_keep_their_oob)
{
    uint16_t suite = CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, &suite);
    cc.oob.handshake = (cdtls_oob){CDTLS_OOB_DSCP, 48, 0, 0, 0, {0, {0}}}; /* CS6 for control */
    cc.oob.alert = (cdtls_oob){CDTLS_OOB_DSCP, 8, 0, 0, 0, {0, {0}}};
    cdtls_conn *cl, *sv;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cl, 1000), CDTLS_OK);
    uint8_t d[2048];
    size_t n;
    cdtls_oob o;
    int flights = 0;
    for (int round = 0; round < 10; round++) {
        while (cdtls_conn_next_datagram(cl, d, sizeof d, &n, &o) == CDTLS_OK) {
            flights++;
            cr_assert(o.flags == CDTLS_OOB_DSCP && o.dscp == 48, "handshake datagram without handshake_oob");
            cdtls_conn_recv(sv, d, n, NULL, 1001);
        }
        while (cdtls_conn_next_datagram(sv, d, sizeof d, &n, &o) == CDTLS_OK) {
            cr_assert_eq(o.flags, 0, "the server has no marking configured");
            cdtls_conn_recv(cl, d, n, NULL, 1001);
        }
    }
    cr_assert(flights >= 3);
    cr_assert_eq(cdtls_conn_get_state(cl), CDTLS_STATE_ESTABLISHED);
    /* a write's OOB goes on its datagram */
    cdtls_oob ef = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, 46, CDTLS_ECN_ECT0, 0, 0, {0, {0}}};
    cr_assert_eq(cdtls_conn_write(cl, (const uint8_t *)"rtp", 3, &ef), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(cl, d, sizeof d, &n, &o), CDTLS_OK);
    cr_assert(o.flags == ef.flags && o.dscp == 46 && o.ecn == CDTLS_ECN_ECT0);
    /* the OOB a datagram arrived with is handed out with its record */
    cdtls_oob arrived = {.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN | CDTLS_OOB_TTL,
                         .dscp = 46,
                         .ecn = CDTLS_ECN_CE,
                         .ttl = 61};
    cr_assert_eq(cdtls_conn_recv(sv, d, n, &arrived, 1002), CDTLS_OK);
    uint8_t buf[16];
    cdtls_oob got;
    cr_assert_eq(cdtls_conn_read(sv, buf, sizeof buf, &n, &got), CDTLS_OK);
    cr_assert(n == 3 && got.dscp == 46 && got.ecn == CDTLS_ECN_CE && got.ttl == 61,
              "n=%zu flags=%u dscp=%u ecn=%u ttl=%u", n, got.flags, got.dscp, got.ecn, got.ttl);
    /* alerts carry alert_oob */
    cr_assert_eq(cdtls_conn_close(cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(cl, d, sizeof d, &n, &o), CDTLS_OK);
    cr_assert(o.flags == CDTLS_OOB_DSCP && o.dscp == 8);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
}

/* The server's data sent right after its Finished (RFC 5246 §7.4.9: its
 * side of a full handshake is done then) overtakes the datagram carrying
 * CCS and Finished: the client, still waiting for them, keeps the record
 * (after the CCS arrives it opens under the new keys) and hands it out
 * once the Finished is checked, instead of dropping it. */
typedef struct finish_holder {
    sim_link *s;
    int held;
} finish_holder;

static int hold_servers_finished(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    finish_holder *f = ctx;
    if (to_server || f->held || cdtls_conn_get_state(f->s->server) != CDTLS_STATE_ESTABLISHED) return 1;
    f->held = 1;
    sim_deliver_later(f->s, 0, d, *len, 25);
    return 0;
}

Test(engine, server_data_overtaking_its_finished_12)
{
    cdtls_config cc, sc;
    psk_configs(&cc, &sc, NULL);
    cc.versions.max = sc.versions.max = CDTLS_VERSION_1_2;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    finish_holder f = {&s, 0};
    s.tamper = hold_servers_finished, s.tamper_ctx = &f;
    for (int i = 0; i < 1000 && !f.held; i++) sim_run(&s, 1);
    cr_assert(f.held, "the server's CCS and Finished held back");
    cr_assert_eq(cdtls_conn_write(s.server, (const uint8_t *)"hello first", 11, NULL), CDTLS_OK);
    sim_pump(&s);
    uint8_t buf[64];
    size_t n = 0;
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_HANDSHAKING);
    cr_assert(sim_run_handshake(&s, 5000), "client %s", cdtls_strerror(cdtls_conn_error(s.client)));
    cr_assert_eq(cdtls_conn_read(s.client, buf, sizeof buf, &n, NULL), CDTLS_OK, "the data is kept");
    cr_assert(n == 11 && memcmp(buf, "hello first", 11) == 0);
    sim_free(&s);
}
