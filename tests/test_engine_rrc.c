/* Return Routability Check (RFC 9853) over DTLS 1.2 and DTLS 1.3
 * connection IDs, in memory (each test runs for both versions: suite rrc
 * for 1.2, rrc13 for 1.3): the rrc extension's negotiation, a peer's address change checked
 * and followed, a spoofed address kept within the anti-amplification
 * budget and never followed, the enhanced check (old path first), path_drop,
 * and hostile or unnegotiated RRC messages.
 *
 * The handshake runs over sim_link (no addresses); afterwards the test
 * moves datagrams itself so that each one has a source and a destination
 * address: the client sends from `at`, the server's datagrams reach the
 * client only when addressed to where it is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "common/dtls.h"
#include "common/writer.h"
#include "engine/conn_internal.h"
#if CDTLS_HAVE_DTLS13
#include "engine/hs13_internal.h"
#endif
#include "sim_link.h"

static const uint8_t rrc_psk[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

#define ADDR_A "198.51.100.1:4000" /* the client's first address */
#define ADDR_B "198.51.100.2:5000" /* after its NAT rebinding */
#define ADDR_V "203.0.113.66:53"   /* a victim whose address an attacker spoofs */
#define ADDR_S "192.0.2.1:5684"    /* the server */

static uint16_t aead_suite(void)
{
    return cdtls_cipher_suite_supported(cdtls_provider_default(), CDTLS_PSK_WITH_AES_128_GCM_SHA256)
               ? CDTLS_PSK_WITH_AES_128_GCM_SHA256
               : CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
}

static uint16_t suite;
static int v13; /* the version the test runs: 0 DTLS 1.2, 1 DTLS 1.3 */

/* Each RRC_TEST runs once per version (RFC 9853 covers both). */
#if CDTLS_HAVE_DTLS13
#define RRC13_TEST(name) \
    Test(rrc13, name)    \
    {                    \
        v13 = 1;         \
        name##_body();   \
    }
#else
#define RRC13_TEST(name)
#endif
#define RRC_TEST(name)             \
    static void name##_body(void); \
    Test(rrc, name)                \
    {                              \
        v13 = 0;                   \
        name##_body();             \
    }                              \
    RRC13_TEST(name)               \
    static void name##_body(void)

static void configs(cdtls_config *cc, cdtls_config *sc, int client_rrc, int server_rrc)
{
    suite = aead_suite();
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = rrc_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof rrc_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"rrc";
    cc->psk.identity_len = sc->psk.identity_len = 3;
    if (v13) {
        /* the default 1.3 suites, PSK with (EC)DHE */
        cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
    } else {
        cc->negotiate.cipher_suites = sc->negotiate.cipher_suites = &suite;
        cc->negotiate.n_cipher_suites = sc->negotiate.n_cipher_suites = 1;
    }
    cc->cid.length = 8;
    sc->cid.length = 8;
    cc->cid.rrc = client_rrc;
    sc->cid.rrc = server_rrc;
}

/* ------------------------------------------------------------ the network */

#define MAX_EVENTS 64
typedef struct net {
    sim_link s;
    cdtls_conn *c, *srv;
    uint64_t now;
    const char *at;      /* where the client sends from */
    const char *listen2; /* a second local address the client still receives on (or NULL) */
    int listen2_not_preferred;
    size_t bytes_to[3];   /* server → A, B, V */
    size_t bytes_from[3]; /* A, B, V → server */
    size_t dgrams_to[3];
    cdtls_path_event ev[MAX_EVENTS];
    size_t n_ev;
    uint8_t last_alert_sent;
} net;

static int addr_index(const void *a, size_t len)
{
    const char *names[3] = {ADDR_A, ADDR_B, ADDR_V};
    for (int i = 0; i < 3; i++)
        if (len == strlen(names[i]) && memcmp(a, names[i], len) == 0) return i;
    return -1;
}

static void observe(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    net *n = user;
    (void)c;
    if (ev->kind == CDTLS_EVENT_PATH && n->n_ev < MAX_EVENTS) n->ev[n->n_ev++] = ev->path_event;
    if (ev->kind == CDTLS_EVENT_ALERT_SENT) n->last_alert_sent = ev->alert_desc;
}

static int saw(const net *n, cdtls_path_event e)
{
    int k = 0;
    for (size_t i = 0; i < n->n_ev; i++) k += n->ev[i] == e;
    return k;
}

static void server_recv(net *n, const uint8_t *d, size_t len, const char *from, int not_preferred)
{
    cdtls_path p = {from, strlen(from), not_preferred};
    int i = addr_index(from, strlen(from));
    if (i >= 0) n->bytes_from[i] += len;
    (void)cdtls_conn_recv_path(n->srv, d, len, NULL, &p, n->now);
}

/* The client's queued datagrams, sent from `from`. */
static size_t client_flush_from(net *n, const char *from, int not_preferred)
{
    uint8_t buf[2048];
    size_t len, k = 0;
    const void *to;
    size_t to_len;
    while (k < 64 &&
           cdtls_conn_next_datagram_path(n->c, buf, sizeof buf, &len, NULL, &to, &to_len) == CDTLS_OK) {
        server_recv(n, buf, len, from, not_preferred);
        k++;
    }
    return k;
}

/* The server's queued datagrams: delivered to the client when addressed to
 * where it is (or to the path when no address was given); the client's
 * answers go back from the address they arrived at. */
static size_t server_flush(net *n)
{
    uint8_t buf[2048];
    size_t len, delivered = 0;
    const void *to;
    size_t to_len;
    for (int guard = 0; guard < 64; guard++) {
        if (cdtls_conn_next_datagram_path(n->srv, buf, sizeof buf, &len, NULL, &to, &to_len) != CDTLS_OK)
            break;
        cr_assert(to != NULL, "the server knows its path");
        int i = addr_index(to, to_len);
        cr_assert(i >= 0);
        n->bytes_to[i] += len;
        n->dgrams_to[i]++;
        const char *dest = i == 0 ? ADDR_A : i == 1 ? ADDR_B : ADDR_V;
        int here = strcmp(dest, n->at) == 0;
        int second = n->listen2 && strcmp(dest, n->listen2) == 0;
        if (!here && !second) continue; /* nobody there answers (the victim cannot decrypt) */
        cdtls_path p = {ADDR_S, strlen(ADDR_S), second ? n->listen2_not_preferred : 0};
        (void)cdtls_conn_recv_path(n->c, buf, len, NULL, &p, n->now);
        delivered++;
        client_flush_from(n, dest, second ? n->listen2_not_preferred : 0);
    }
    return delivered;
}

static void client_write(net *n, const char *msg)
{
    cr_assert_eq(cdtls_conn_write(n->c, (const uint8_t *)msg, strlen(msg), NULL), CDTLS_OK);
}

static int server_read(net *n, const char *msg)
{
    uint8_t buf[256];
    size_t len = 0;
    return cdtls_conn_read(n->srv, buf, sizeof buf, &len, NULL) == CDTLS_OK && len == strlen(msg) &&
           memcmp(buf, msg, len) == 0;
}

static void net_up(net *n, int client_rrc, int server_rrc)
{
    memset(n, 0, sizeof *n);
    cdtls_config cc, sc;
    configs(&cc, &sc, client_rrc, server_rrc);
    cr_assert_eq(sim_init(&n->s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&n->s, 10000));
    sim_run(&n->s, 1000);
    n->c = n->s.client;
    n->srv = n->s.server;
    cr_assert_eq(cdtls_conn_version(n->srv), v13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2);
    n->now = n->s.now_ms;
    n->at = ADDR_A;
    cdtls_conn_set_observer(n->srv, observe, n);
    /* the first authenticated datagram with an address sets the path */
    client_write(n, "hello from A");
    client_flush_from(n, ADDR_A, 0);
    cr_assert(server_read(n, "hello from A"));
    size_t len;
    const void *p = cdtls_conn_path_address(n->srv, &len);
    cr_assert(p && len == strlen(ADDR_A) && memcmp(p, ADDR_A, len) == 0);
}

static void net_down(net *n)
{
    sim_free(&n->s);
}

static int path_is(const net *n, const char *addr)
{
    size_t len;
    const void *p = cdtls_conn_path_address(n->srv, &len);
    return p && len == strlen(addr) && memcmp(p, addr, len) == 0;
}

/* Runs the server's timer until it has none or until `until`. */
static void run_timers(net *n, uint64_t until)
{
    for (int guard = 0; guard < 100; guard++) {
        uint64_t t = cdtls_conn_timeout(n->srv);
        if (t == UINT64_MAX || t > until) break;
        if (t > n->now) n->now = t;
        cr_assert_eq(cdtls_conn_on_timeout(n->srv, n->now), CDTLS_OK);
        server_flush(n);
    }
    if (n->now < until) n->now = until;
}

/* ------------------------------------------------------------ negotiation */

RRC_TEST(negotiated_only_when_both_want_it_and_cids_are_used)
{
    static const int cases[][3] = {{CDTLS_RRC_BASIC, CDTLS_RRC_BASIC, 1},
                                   {CDTLS_RRC_BASIC, CDTLS_RRC_OFF, 0},
                                   {CDTLS_RRC_OFF, CDTLS_RRC_BASIC, 0},
                                   {CDTLS_RRC_ENHANCED, CDTLS_RRC_BASIC, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdtls_config cc, sc;
        configs(&cc, &sc, cases[i][0], cases[i][1]);
        sim_link s;
        cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
        cr_assert(sim_run_handshake(&s, 10000));
        cr_assert_eq(cdtls_conn_version(s.client), v13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2);
        cr_assert_eq(cdtls_conn_uses_rrc(s.client), cases[i][2], "case %zu", i);
        cr_assert_eq(cdtls_conn_uses_rrc(s.server), cases[i][2], "case %zu", i);
        sim_free(&s);
    }
    /* RFC 9853 §3: rrc only alongside connection_id: a client without CIDs
     * does not offer it */
    cdtls_config cc, sc;
    configs(&cc, &sc, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    cc.cid.length = 0;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_uses_rrc(s.client) && !cdtls_conn_uses_rrc(s.server));
    sim_free(&s);
}

/* A connection moved by cdtls_conn_export_state / _import_state keeps its
 * check: the imported server still challenges a new address rather than
 * following it (without RRC in the blob, it followed unchecked). */
RRC_TEST(state_export_keeps_the_check)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    static const uint8_t key[32] = {7};
    uint8_t blob[2048];
    size_t len = 0;
    cr_assert_eq(cdtls_conn_export_state(n.srv, key, blob, sizeof blob, &len), CDTLS_OK);
    cdtls_config cc, sc;
    configs(&cc, &sc, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    cdtls_conn *moved = NULL;
    cr_assert_eq(cdtls_conn_import_state(&sc, key, blob, len, n.now, &moved), CDTLS_OK);
    cr_assert(cdtls_conn_uses_rrc(moved), "rrc survives the move");
    cdtls_conn_free(moved);
    net_down(&n);
    /* and a blob of a connection without it imports without it */
    configs(&cc, &sc, CDTLS_RRC_OFF, CDTLS_RRC_BASIC);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 1000);
    cr_assert_eq(cdtls_conn_export_state(s.server, key, blob, sizeof blob, &len), CDTLS_OK);
    cr_assert_eq(cdtls_conn_import_state(&sc, key, blob, len, s.now_ms, &moved), CDTLS_OK);
    cr_assert(!cdtls_conn_uses_rrc(moved));
    cdtls_conn_free(moved);
    sim_free(&s);
}

Test(rrc, extension_codec_round_trip_and_non_empty_refused)
{
    uint8_t buf[64];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    hs_extensions e;
    memset(&e, 0, sizeof e);
    e.has_rrc = 1;
    writer_u16(&w, 0); /* the block's length, patched below */
    hs_extensions_write_entries(&w, &e, NULL, 0, NULL, 0);
    size_t n = w.len;
    cr_assert_eq(n, 2 + 4);
    buf[0] = 0;
    buf[1] = (uint8_t)(n - 2);
    static const uint8_t want[] = {0x00, 61, 0x00, 0x00};
    cr_assert_arr_eq(buf + 2, want, 4);
    cdtls_reader r;
    reader_init(&r, buf, n);
    hs_extensions got;
    memset(&got, 0, sizeof got);
    cr_assert_eq(hs_extensions_parse(&r, &got), CDTLS_OK);
    cr_assert(got.has_rrc);
    /* extension_data must be empty (§3) */
    static const uint8_t bad[] = {0x00, 0x05, 0x00, 61, 0x00, 0x01, 0x00};
    reader_init(&r, bad, sizeof bad);
    memset(&got, 0, sizeof got);
    cr_assert_neq(hs_extensions_parse(&r, &got), CDTLS_OK);
    /* twice is a duplicate */
    static const uint8_t dup[] = {0x00, 0x08, 0x00, 61, 0x00, 0x00, 0x00, 61, 0x00, 0x00};
    reader_init(&r, dup, sizeof dup);
    memset(&got, 0, sizeof got);
    cr_assert_neq(hs_extensions_parse(&r, &got), CDTLS_OK);
}

/* --------------------------------------------------------- address change */

RRC_TEST(address_change_checked_then_followed)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    /* the client's NAT rebinds: its next record comes from B */
    n.at = ADDR_B;
    client_write(&n, "hello from B");
    client_flush_from(&n, ADDR_B, 0);
    cr_assert(server_read(&n, "hello from B"), "the record itself is processed (RFC 9146 §6)");
    cr_assert(path_is(&n, ADDR_A), "not followed before the check");
    cr_assert_eq(saw(&n, CDTLS_PATH_CHALLENGE_SENT), 1);
    cr_assert_neq(cdtls_conn_timeout(n.srv), UINT64_MAX, "the check's timer runs");
    /* the server's own data still goes to the old address meanwhile */
    cr_assert_eq(cdtls_conn_write(n.srv, (const uint8_t *)"to A", 4, NULL), CDTLS_OK);
    /* the queue holds: the challenge to B first, then the data to A */
    uint8_t buf[2048];
    size_t len;
    const void *to;
    size_t to_len;
    cr_assert_eq(cdtls_conn_next_datagram_path(n.srv, buf, sizeof buf, &len, NULL, &to, &to_len), CDTLS_OK);
    cr_assert_eq(addr_index(to, to_len), 1);
    if (v13) /* RFC 9147 §4: a unified header with the C bit: the peer's CID */
        cr_assert(buf[0] >= 0x20 && buf[0] <= 0x3f && (buf[0] & 0x10), "RRC in a protected CID record (§4)");
    else
        cr_assert_eq(buf[0], CT_TLS12_CID, "RRC travels in a protected CID record (§4)");
    n.bytes_to[1] += len;
    /* deliver the challenge to the client at B, its answer comes from B */
    cdtls_path ps = {ADDR_S, strlen(ADDR_S), 0};
    cr_assert_eq(cdtls_conn_recv_path(n.c, buf, len, NULL, &ps, n.now), CDTLS_OK);
    cr_assert_eq(client_flush_from(&n, ADDR_B, 0), 1);
    cr_assert_eq(saw(&n, CDTLS_PATH_VALIDATED), 1);
    cr_assert(path_is(&n, ADDR_B));
    cr_assert_eq(cdtls_conn_timeout(n.srv), UINT64_MAX, "no timer once the check is over");
    /* the data written before is still addressed to the path of its time
     * at the queue's head: the path now, B */
    cr_assert_eq(cdtls_conn_next_datagram_path(n.srv, buf, sizeof buf, &len, NULL, &to, &to_len), CDTLS_OK);
    cr_assert_eq(addr_index(to, to_len), 1);
    cr_assert_eq(cdtls_conn_write(n.srv, (const uint8_t *)"to B", 4, NULL), CDTLS_OK);
    cr_assert_eq(server_flush(&n), 1);
    cr_assert_eq(n.dgrams_to[0], 0);
    cr_assert_eq(cdtls_conn_get_state(n.srv), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(n.c), CDTLS_STATE_ESTABLISHED);
    net_down(&n);
}

/* An attacker races a copy of the client's record from a victim's address
 * V (RFC 9853 §8.1); V never answers. The server sends V only
 * path_challenges, at most 3x the bytes that came from V, and stays with A. */
RRC_TEST(spoofed_address_gets_no_more_than_the_budget)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    client_write(&n, "genuine");
    uint8_t rec[2048];
    size_t rec_len;
    const void *to;
    size_t to_len;
    cr_assert_eq(cdtls_conn_next_datagram_path(n.c, rec, sizeof rec, &rec_len, NULL, &to, &to_len), CDTLS_OK);
    server_recv(&n, rec, rec_len, ADDR_V, 0); /* the copy wins the race */
    server_recv(&n, rec, rec_len, ADDR_A, 0); /* the genuine one: a duplicate */
    cr_assert(server_read(&n, "genuine"));
    cr_assert(!server_read(&n, "genuine"), "the duplicate is dropped");
    /* the attacker replays the copy from V again and again: replays are
     * discarded, so they add nothing to V's budget */
    for (int i = 0; i < 20; i++) server_recv(&n, rec, rec_len, ADDR_V, 0);
    /* the application keeps talking; its data goes to A */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(cdtls_conn_write(n.srv, (const uint8_t *)"data", 4, NULL), CDTLS_OK);
    server_flush(&n);
    run_timers(&n, n.now + 5000);
    cr_assert(path_is(&n, ADDR_A), "never followed");
    cr_assert_eq(saw(&n, CDTLS_PATH_FAILED), 1);
    cr_assert(n.dgrams_to[2] >= 1, "the check did probe V");
    cr_assert(n.bytes_to[2] <= 3 * rec_len, "sent to V: %zu, received from V (counted once): %zu",
              n.bytes_to[2], rec_len);
    cr_assert_eq(n.dgrams_to[0], 5, "the data went to A");
    fprintf(stderr,
            "rrc: spoofed copy of %zu B from V -> %zu challenge(s), %zu B to V (limit %zu), %d withheld\n",
            rec_len, n.dgrams_to[2], n.bytes_to[2], 3 * rec_len, saw(&n, CDTLS_PATH_BUDGET));
    /* with a record this small the third challenge does not fit */
    const size_t challenge = n.bytes_to[2] / n.dgrams_to[2];
    if (3 * rec_len < 3 * challenge) cr_assert(saw(&n, CDTLS_PATH_BUDGET) >= 1);
    cr_assert_eq(cdtls_conn_timeout(n.srv), UINT64_MAX);
    cr_assert_eq(cdtls_conn_get_state(n.srv), CDTLS_STATE_ESTABLISHED);
    /* the client is still reachable at A, and its next record from A is fine */
    client_write(&n, "still at A");
    client_flush_from(&n, ADDR_A, 0);
    cr_assert(server_read(&n, "still at A"));
    cr_assert_eq(saw(&n, CDTLS_PATH_CHALLENGE_SENT), (int)n.dgrams_to[2]);
    net_down(&n);
}

/* The budget counts what came from the new address: a client at B that
 * keeps sending while its answer is lost earns the repeats. */
RRC_TEST(repeats_paced_and_lost_answers_recovered)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    n.at = ADDR_B;
    client_write(&n, "one");
    client_flush_from(&n, ADDR_B, 0);
    /* the first challenge is lost */
    uint8_t buf[2048];
    size_t len;
    const void *to;
    size_t to_len;
    cr_assert_eq(cdtls_conn_next_datagram_path(n.srv, buf, sizeof buf, &len, NULL, &to, &to_len), CDTLS_OK);
    cr_assert_eq(addr_index(to, to_len), 1);
    client_write(&n, "two, a larger record that earns the server some budget toward B");
    client_flush_from(&n, ADDR_B, 0);
    cr_assert(path_is(&n, ADDR_A));
    /* the repeat (a fresh cookie) at T/3 gets through */
    run_timers(&n, n.now + 400);
    cr_assert_eq(saw(&n, CDTLS_PATH_VALIDATED), 1);
    cr_assert(path_is(&n, ADDR_B));
    cr_assert(n.bytes_to[1] + len <= 3 * n.bytes_from[1]);
    net_down(&n);
}

/* --------------------------------------------------------------- enhanced */

/* RFC 9853 §5.2 case 3: the old path is alive and preferred (an off-path
 * attacker raced a copy from B): the client answers on A, the server stays. */
RRC_TEST(enhanced_old_path_alive_keeps_it)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_ENHANCED);
    client_write(&n, "raced");
    uint8_t rec[2048];
    size_t rec_len;
    const void *to;
    size_t to_len;
    cr_assert_eq(cdtls_conn_next_datagram_path(n.c, rec, sizeof rec, &rec_len, NULL, &to, &to_len), CDTLS_OK);
    server_recv(&n, rec, rec_len, ADDR_B, 0); /* the attacker's copy from B */
    cr_assert(server_read(&n, "raced"));
    server_flush(&n); /* the challenge goes to A, the client answers there */
    cr_assert_eq(n.dgrams_to[1], 0, "nothing to B");
    cr_assert_eq(n.dgrams_to[0], 1);
    cr_assert_eq(saw(&n, CDTLS_PATH_KEPT), 1);
    cr_assert(path_is(&n, ADDR_A));
    cr_assert_eq(cdtls_conn_timeout(n.srv), UINT64_MAX);
    net_down(&n);
}

/* §5.2 case 2: the old path is alive but the client moved on purpose: it
 * answers path_drop on A, the server checks B and follows. */
RRC_TEST(enhanced_old_path_not_preferred_path_drop_then_new)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_ENHANCED);
    n.at = ADDR_B;
    n.listen2 = ADDR_A; /* still receives on A, which it no longer prefers */
    n.listen2_not_preferred = 1;
    client_write(&n, "moved");
    client_flush_from(&n, ADDR_B, 0);
    cr_assert(server_read(&n, "moved"));
    server_flush(&n);
    cr_assert_eq(saw(&n, CDTLS_PATH_DROP_RECEIVED), 1);
    cr_assert_eq(saw(&n, CDTLS_PATH_CHALLENGE_SENT), 2, "A first, then B");
    cr_assert_eq(saw(&n, CDTLS_PATH_VALIDATED), 1);
    cr_assert(path_is(&n, ADDR_B));
    net_down(&n);
}

/* §5.2 case 1: the old path is dead: after T the server checks B. */
RRC_TEST(enhanced_old_path_dead_times_out_to_new)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_ENHANCED);
    n.at = ADDR_B;
    client_write(&n, "rebound");
    client_flush_from(&n, ADDR_B, 0);
    server_flush(&n); /* to A: lost, the client is not there */
    cr_assert(path_is(&n, ADDR_A));
    run_timers(&n, n.now + 1500);
    cr_assert_eq(saw(&n, CDTLS_PATH_VALIDATED), 1);
    cr_assert(path_is(&n, ADDR_B));
    net_down(&n);
}

/* path_drop in answer to the challenge of the new address: not followed. */
RRC_TEST(path_drop_on_the_new_address_keeps_the_path)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    n.at = ADDR_A;
    n.listen2 = ADDR_B;
    n.listen2_not_preferred = 1;
    /* a record of the client's sent (once) from B, which it then gives up */
    client_write(&n, "probe");
    client_flush_from(&n, ADDR_B, 0);
    server_flush(&n);
    cr_assert_eq(n.dgrams_to[1], 1, "one challenge, answered once; the answer starts no new check");
    cr_assert_eq(saw(&n, CDTLS_PATH_DROP_RECEIVED), 1);
    cr_assert_eq(saw(&n, CDTLS_PATH_FAILED), 1);
    cr_assert(path_is(&n, ADDR_A));
    cr_assert_eq(cdtls_conn_timeout(n.srv), UINT64_MAX);
    net_down(&n);
}

/* ---------------------------------------------------------------- hostile */

/* A record of content type return_routability_check, sealed with the
 * client's keys, as a hostile client would send it. */
static size_t seal_rrc(cdtls_conn *c, int epoch, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0;
#if CDTLS_HAVE_DTLS13
    if (v13) { /* the current application epoch (>= 3), with the server's CID */
        cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
        cr_assert_eq(hs13_seal_app_record(c, CT_RRC, msg, len, out, cap, &n), CDTLS_OK);
        return n;
    }
#endif
    cr_assert_eq(conn_seal(c, epoch, CT_RRC, msg, len, 0, out, cap, &n), CDTLS_OK);
    c->write_seq[epoch]++;
    return n;
}

RRC_TEST(malformed_messages_fail_with_decode_error)
{
    static const struct {
        uint8_t msg[12];
        size_t len;
    } bad[] = {
        {{0}, 0},                                /* empty */
        {{0, 1, 2, 3, 4, 5, 6, 7}, 8},           /* a short cookie */
        {{1, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10},    /* a long one */
        {{2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 11} /* path_drop, long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        net n;
        net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
        uint8_t rec[256];
        size_t len = seal_rrc(n.c, 1, bad[i].msg, bad[i].len, rec, sizeof rec);
        server_recv(&n, rec, len, ADDR_A, 0);
        cr_assert_eq(cdtls_conn_get_state(n.srv), CDTLS_STATE_FAILED, "case %zu", i);
        cr_assert_eq(cdtls_conn_error(n.srv), CDTLS_ERR_DECODE);
        cr_assert_eq(n.last_alert_sent, ALERT_DECODE_ERROR);
        net_down(&n);
    }
}

RRC_TEST(unknown_types_wrong_cookies_and_plaintext_ignored)
{
    net n;
    net_up(&n, CDTLS_RRC_BASIC, CDTLS_RRC_BASIC);
    uint8_t rec[256];
    /* §4: an unknown msg_type is parsed and ignored, whatever follows */
    static const uint8_t unknown[] = {3, 0xaa}, unknown2[] = {255};
    size_t len = seal_rrc(n.c, 1, unknown, sizeof unknown, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_A, 0);
    len = seal_rrc(n.c, 1, unknown2, sizeof unknown2, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_A, 0);
    /* responses and drops that answer no challenge */
    static const uint8_t resp[] = {1, 1, 2, 3, 4, 5, 6, 7, 8}, drop[] = {2, 1, 2, 3, 4, 5, 6, 7, 8};
    len = seal_rrc(n.c, 1, resp, sizeof resp, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_B, 0);
    len = seal_rrc(n.c, 1, drop, sizeof drop, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_A, 0);
    cr_assert_eq(cdtls_conn_get_state(n.srv), CDTLS_STATE_ESTABLISHED);
    /* RRC records from B start no check (no request to migrate), and an
     * answer with a cookie the server never sent validates nothing */
    len = seal_rrc(n.c, 1, resp, sizeof resp, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_B, 0);
    cr_assert(path_is(&n, ADDR_A));
    cr_assert_eq(saw(&n, CDTLS_PATH_VALIDATED), 0);
    /* §4: only protected: a plaintext (epoch 0) path_challenge is dropped,
     * it gets no answer */
    uint8_t plain[64];
    plain[0] = CT_RRC;
    plain[1] = 0xfe, plain[2] = 0xfd;
    memset(plain + 3, 0, 8);
    plain[10] = 99;
    plain[11] = 0, plain[12] = 9;
    static const uint8_t chal[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(plain + 13, chal, 9);
    uint8_t out[2048];
    size_t olen;
    const void *to;
    size_t to_len;
    while (cdtls_conn_next_datagram_path(n.srv, out, sizeof out, &olen, NULL, &to, &to_len) == CDTLS_OK) {
    }
    server_recv(&n, plain, 22, ADDR_A, 0);
    cr_assert_eq(cdtls_conn_next_datagram_path(n.srv, out, sizeof out, &olen, NULL, &to, &to_len),
                 CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(cdtls_conn_get_state(n.srv), CDTLS_STATE_ESTABLISHED);
    /* a protected one from the client gets exactly one path_response to
     * where it came from */
    len = seal_rrc(n.c, 1, chal, sizeof chal, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_A, 0);
    cr_assert_eq(cdtls_conn_next_datagram_path(n.srv, out, sizeof out, &olen, NULL, &to, &to_len), CDTLS_OK);
    cr_assert_eq(addr_index(to, to_len), 0);
    cr_assert_eq(cdtls_conn_next_datagram_path(n.srv, out, sizeof out, &olen, NULL, &to, &to_len),
                 CDTLS_ERR_WOULD_BLOCK);
    net_down(&n);
}

/* §3: RRC is not used unless both sides sent rrc: an authenticated RRC
 * record on a connection without it is not answered. */
RRC_TEST(without_negotiation_dropped_and_unanswered)
{
    net n;
    memset(&n, 0, sizeof n);
    cdtls_config cc, sc;
    configs(&cc, &sc, CDTLS_RRC_OFF, CDTLS_RRC_OFF);
    cr_assert_eq(sim_init(&n.s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&n.s, 10000));
    sim_run(&n.s, 1000);
    n.c = n.s.client;
    n.srv = n.s.server;
    cdtls_conn_set_observer(n.srv, observe, &n);
    cr_assert_eq(cdtls_conn_version(n.srv), v13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2);
    cr_assert(cdtls_conn_uses_cid(n.srv) && !cdtls_conn_uses_rrc(n.srv));
    static const uint8_t chal[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t rec[256];
    size_t len = seal_rrc(n.c, 1, chal, sizeof chal, rec, sizeof rec);
    server_recv(&n, rec, len, ADDR_A, 0);
    /* RFC 9853 names no alert for it: dropped as any unknown content type
     * (tests/test_hostile_peer.c), unanswered, the connection goes on */
    cr_assert_eq(cdtls_conn_get_state(n.srv), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(n.last_alert_sent, 0);
    uint8_t out[2048];
    size_t olen;
    cr_assert_eq(cdtls_conn_next_datagram(n.srv, out, sizeof out, &olen, NULL), CDTLS_ERR_WOULD_BLOCK);
    client_write(&n, "still fine");
    client_flush_from(&n, ADDR_A, 0);
    cr_assert(server_read(&n, "still fine"));
    /* and an address change there is not checked (nor followed) */
    net m;
    memset(&m, 0, sizeof m);
    configs(&cc, &sc, CDTLS_RRC_OFF, CDTLS_RRC_OFF);
    cr_assert_eq(sim_init(&m.s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&m.s, 10000));
    m.c = m.s.client;
    m.srv = m.s.server;
    client_write(&m, "x");
    client_flush_from(&m, ADDR_B, 0);
    cr_assert(cdtls_conn_path_address(m.srv, NULL) == NULL);
    cr_assert_eq(cdtls_conn_timeout(m.srv), UINT64_MAX);
    sim_free(&m.s);
    net_down(&n);
}

#if CDTLS_HAVE_DTLS13
/* Appends an empty rrc extension to the 1.3 ServerHello (not a
 * HelloRetryRequest) at the head of a server datagram: the record, the
 * handshake header and the extensions block each grow by 4 bytes. */
static int add_rrc_to_server_hello(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    int *done = ctx;
    static const uint8_t hrr_random[4] = {0xcf, 0x21, 0xad, 0x74}; /* RFC 8446 §4.1.3 */
    if (to_server || *done || *len < 13 + 12 + 38 || d[0] != CT_HANDSHAKE || d[13] != HS_SERVER_HELLO)
        return 1;
    if (memcmp(d + 13 + 12 + 2, hrr_random, 4) == 0) return 1;
    /* only a whole ServerHello in one record (fragment_offset 0, fragment_length == length) */
    if (memcmp(d + 13 + 6, "\0\0\0", 3) != 0 || memcmp(d + 13 + 1, d + 13 + 9, 3) != 0) return 1;
    const size_t rec_len = (size_t)d[11] << 8 | d[12];
    const size_t end = 13 + rec_len; /* the ServerHello ends its record (unfragmented) */
    const size_t body = 13 + 12;
    size_t p = body + 2 + 32;
    p += 1 + d[p]; /* legacy_session_id_echo */
    p += 2 + 1;    /* cipher_suite, compression */
    const size_t ext_at = p;
    cr_assert_leq(end, *len);
    cr_assert_lt(*len + 4, 2048);
    memmove(d + end + 4, d + end, *len - end);
    static const uint8_t rrc_ext[4] = {0x00, 61, 0x00, 0x00};
    memcpy(d + end, rrc_ext, 4);
    *len += 4;
    size_t v = ((size_t)d[ext_at] << 8 | d[ext_at + 1]) + 4;
    d[ext_at] = (uint8_t)(v >> 8), d[ext_at + 1] = (uint8_t)v;
    v = rec_len + 4;
    d[11] = (uint8_t)(v >> 8), d[12] = (uint8_t)v;
    for (size_t at = 14; at <= 22; at += 8) { /* length (3 bytes), fragment_length */
        v = ((size_t)d[at] << 16 | (size_t)d[at + 1] << 8 | d[at + 2]) + 4;
        d[at] = (uint8_t)(v >> 16), d[at + 1] = (uint8_t)(v >> 8), d[at + 2] = (uint8_t)v;
    }
    *done = 1;
    return 1;
}

static uint8_t client_alert;
static void observe_client(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)user, (void)c;
    if (ev->kind == CDTLS_EVENT_ALERT_SENT) client_alert = ev->alert_desc;
}

/* RFC 9853 §3 and RFC 8446 §4.1.4: a 1.3 ServerHello with an rrc extension
 * the client did not offer ends the handshake with unsupported_extension.
 * The same ServerHello untouched (the control) completes. */
Test(rrc13, unoffered_rrc_in_server_hello_is_unsupported_extension)
{
    v13 = 1;
    for (int tamper = 0; tamper < 2; tamper++) {
        cdtls_config cc, sc;
        configs(&cc, &sc, CDTLS_RRC_OFF, CDTLS_RRC_OFF);
        /* X25519: a ServerHello small enough for one record (not the hybrid) */
        static const uint16_t x25519_only[] = {29};
        cc.negotiate.groups = sc.negotiate.groups = x25519_only;
        cc.negotiate.n_groups = sc.negotiate.n_groups = 1;
        sim_link s;
        int done = 0;
        client_alert = 0;
        cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
        cdtls_conn_set_observer(s.client, observe_client, NULL);
        if (tamper) s.tamper = add_rrc_to_server_hello, s.tamper_ctx = &done;
        int up = sim_run_handshake(&s, 10000);
        if (!tamper) {
            cr_assert(up);
            cr_assert_eq(cdtls_conn_version(s.client), CDTLS_VERSION_1_3);
            cr_assert(cdtls_conn_uses_cid(s.client) && !cdtls_conn_uses_rrc(s.client));
        } else {
            cr_assert(done, "the ServerHello was found and extended");
            cr_assert(!up);
            cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_FAILED,
                         "client state %d (%s), server %d, alert %d", (int)cdtls_conn_get_state(s.client),
                         cdtls_strerror(cdtls_conn_error(s.client)), (int)cdtls_conn_get_state(s.server),
                         client_alert);
            cr_assert_eq(client_alert, ALERT_UNSUPPORTED_EXTENSION);
        }
        sim_free(&s);
    }
}
#endif
