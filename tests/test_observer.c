/* Observers (cdtls_conn_set_observer, cdtls_context_set_observer,
 * cdtls_listener_set_observer): the events a handshake reports, in the
 * order RFC 6347 §4.2.4 / RFC 5246 §7.3 send its messages; retransmissions;
 * alerts and failures; and a listener's, with the peer's address, over
 * loopback. */
#include <criterion/criterion.h>

#include "test_util.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cdtls/conn.h"
#include "cdtls/sock.h"
#include "cdtls/suites.h"
#include "cdtls/x509.h"
#include "engine/conn_internal.h" /* CDTLS_HAVE_DTLS13 */

static const uint8_t psk[16] = "observer-psk-16b";

static void psk_config(cdtls_config *cfg, const uint16_t *suite)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"observer";
    cfg->psk.identity_len = 8;
    if (suite) {
        cfg->negotiate.cipher_suites = suite;
        cfg->negotiate.n_cipher_suites = 1;
    }
}

#define MAX_EVENTS 64

typedef struct recorder {
    cdtls_event ev[MAX_EVENTS];
    const cdtls_conn *conn[MAX_EVENTS];
    cdtls_addr peer[MAX_EVENTS];
    size_t n;
} recorder;

static void record_event(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    recorder *r = user;
    cr_assert_lt(r->n, MAX_EVENTS);
    r->conn[r->n] = c;
    r->ev[r->n++] = *ev;
}

/* Moves every queued datagram from one side to the other, both ways, until
 * neither has any; drop_from_server drops that many of the server's first
 * datagrams. Bounded. */
static void shuttle(cdtls_conn *client, cdtls_conn *server, uint64_t now, unsigned *drop_from_server)
{
    test_shuttle(client, server, now, drop_from_server);
}

/* "S ClientHello" for a handshake message sent, "R ..." received, and
 * the other kinds by name: one line per event, for exact comparison. */
static void describe(const recorder *r, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < r->n && used < cap; i++) {
        const cdtls_event *e = &r->ev[i];
        int k = 0;
        switch (e->kind) {
        case CDTLS_EVENT_HANDSHAKE_SENT:
            k = snprintf(out + used, cap - used, "S %s\n", cdtls_event_message_name(e));
            break;
        case CDTLS_EVENT_HANDSHAKE_RECEIVED:
            k = snprintf(out + used, cap - used, "R %s\n", cdtls_event_message_name(e));
            break;
        case CDTLS_EVENT_ACK_SENT: k = snprintf(out + used, cap - used, "S ACK\n"); break;
        case CDTLS_EVENT_ACK_RECEIVED: k = snprintf(out + used, cap - used, "R ACK\n"); break;
        case CDTLS_EVENT_CCS_SENT: k = snprintf(out + used, cap - used, "S CCS\n"); break;
        case CDTLS_EVENT_CCS_RECEIVED: k = snprintf(out + used, cap - used, "R CCS\n"); break;
        case CDTLS_EVENT_RETRANSMIT:
            k = snprintf(out + used, cap - used, "retransmit%s\n", e->by_timer ? "" : " (peer)");
            break;
        case CDTLS_EVENT_ALERT_SENT:
            k = snprintf(out + used, cap - used, "S alert %s\n", cdtls_alert_name(e->alert_desc));
            break;
        case CDTLS_EVENT_ALERT_RECEIVED:
            k = snprintf(out + used, cap - used, "R alert %s\n", cdtls_alert_name(e->alert_desc));
            break;
        case CDTLS_EVENT_ESTABLISHED: k = snprintf(out + used, cap - used, "established\n"); break;
        case CDTLS_EVENT_FAILED:
            k = snprintf(out + used, cap - used, "failed %s\n", cdtls_strerror(e->error));
            break;
        default: k = snprintf(out + used, cap - used, "kind %d\n", (int)e->kind); break;
        }
        used += (size_t)k;
    }
}

typedef struct pair {
    cdtls_context *cx, *sx;
    cdtls_conn *c, *s;
    recorder rc, rs;
} pair;

static void pair_open(pair *p, const cdtls_config *cc, const cdtls_config *sc)
{
    memset(p, 0, sizeof *p);
    cr_assert_eq(cdtls_context_new(cc, &p->cx), CDTLS_OK);
    cr_assert_eq(cdtls_context_new(sc, &p->sx), CDTLS_OK);
    cr_assert_eq(cdtls_context_set_observer(p->cx, record_event, &p->rc), CDTLS_OK);
    cr_assert_eq(cdtls_context_set_observer(p->sx, record_event, &p->rs), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new_from(p->cx, CDTLS_CLIENT, 1000, &p->c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new_from(p->sx, CDTLS_SERVER, 1000, &p->s), CDTLS_OK);
}

static void pair_close(pair *p)
{
    cdtls_conn_free(p->c);
    cdtls_conn_free(p->s);
    cdtls_context_free(p->cx);
    cdtls_context_free(p->sx);
}

static uint16_t supported(const uint16_t *candidates, size_t n, uint16_t not_this)
{
    for (size_t i = 0; i < n; i++)
        if (candidates[i] != not_this &&
            cdtls_cipher_suite_supported(cdtls_provider_default(), candidates[i]))
            return candidates[i];
    return 0;
}

static const uint16_t psk_suites[] = {CDTLS_PSK_WITH_AES_128_GCM_SHA256,
                                      CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, CDTLS_PSK_WITH_AES_128_CCM,
                                      CDTLS_PSK_WITH_AES_128_CBC_SHA256};
static const uint16_t ecdhe_psk_suites[] = {CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
                                            CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256,
                                            CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256};

/* A PSK handshake with the cookie exchange (RFC 6347 §4.2.1; the server's
 * HelloVerifyRequest is stateless and not its flight) and no identity
 * hint, so no ServerKeyExchange (RFC 4279 §2). */
Test(observer, psk_handshake_in_rfc_order)
{
    uint16_t suite = supported(psk_suites, 4, 0);
    if (!suite) cr_skip_test("no PSK suite in this provider");
    cdtls_config cc, sc;
    psk_config(&cc, &suite);
    psk_config(&sc, NULL);
    pair p;
    pair_open(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    cr_assert_eq(cdtls_conn_get_state(p.c), CDTLS_STATE_ESTABLISHED);
    char got[2048];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got,
                     "S ClientHello\nR HelloVerifyRequest\nS ClientHello\nR ServerHello\nR ServerHelloDone\n"
                     "S ClientKeyExchange\nS CCS\nS Finished\nR CCS\nR Finished\nestablished\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R ClientHello\nR ClientHello\nS ServerHello\nS ServerHelloDone\n"
                          "R ClientKeyExchange\nR CCS\nR Finished\nS CCS\nS Finished\nestablished\n");
    /* message_seq: the client's second ClientHello is 1 (RFC 6347 §4.2.2),
     * lengths are the bodies' */
    cr_assert_eq(p.rc.ev[2].message_seq, 1);
    cr_assert_eq(p.rc.ev[0].message_seq, 0);
    cr_assert_gt(p.rc.ev[0].length, 38); /* version, random, session_id, cookie, suites, ... */
    cr_assert_eq(p.rc.ev[4].length, 0);  /* ServerHelloDone has an empty body */
    cr_assert_eq(p.rc.ev[7].length, 12); /* verify_data (RFC 5246 §7.4.9) */
    for (size_t i = 0; i < p.rc.n; i++) cr_assert_eq(p.rc.conn[i], p.c);
    /* no ECDHE: no group */
    cr_assert_eq(p.rc.ev[p.rc.n - 1].version, 0xfefd);
    cr_assert_eq(p.rc.ev[p.rc.n - 1].group, 0);
    cr_assert_null(p.rc.ev[p.rc.n - 1].group_name);
    /* close_notify is an alert sent and one received */
    p.rc.n = p.rs.n = 0;
    cr_assert_eq(cdtls_conn_close(p.c), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got,
                     "S alert close_notify\nR alert close_notify\n"); /* and the answer, RFC 5246 §7.2.1 */
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R alert close_notify\nS alert close_notify\n");
    pair_close(&p);
}

Test(observer, ecdhe_reports_the_group)
{
    uint16_t suite = supported(ecdhe_psk_suites, 3, 0);
    if (!suite) cr_skip_test("no ECDHE-PSK suite in this provider");
    cdtls_config cc, sc;
    psk_config(&cc, &suite);
    psk_config(&sc, NULL);
    static const uint16_t x25519[] = {29};
    cc.negotiate.groups = x25519;
    cc.negotiate.n_groups = 1;
    pair p;
    pair_open(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    const cdtls_event *last = &p.rc.ev[p.rc.n - 1], *slast = &p.rs.ev[p.rs.n - 1];
    cr_assert_eq(last->kind, CDTLS_EVENT_ESTABLISHED);
    cr_assert_eq(slast->kind, CDTLS_EVENT_ESTABLISHED);
    cr_assert_eq(last->group, 29);
    cr_assert_str_eq(last->group_name, "X25519");
    cr_assert_eq(slast->group, 29);
    /* ECDHE-PSK always sends ServerKeyExchange (RFC 5489 §2) */
    int ske = 0;
    for (size_t i = 0; i < p.rc.n; i++)
        ske += p.rc.ev[i].kind == CDTLS_EVENT_HANDSHAKE_RECEIVED && p.rc.ev[i].hs_type == 12;
    cr_assert_eq(ske, 1);
    pair_close(&p);
}

/* The server's flight lost once: the client's timer fires at the initial
 * timeout and resends its flight (RFC 6347 §4.2.4.1), the doubled timer
 * running; then the handshake completes. */
Test(observer, retransmission_on_timer)
{
    uint16_t suite = supported(psk_suites, 4, 0);
    if (!suite) cr_skip_test("no PSK suite in this provider");
    cdtls_config cc, sc;
    psk_config(&cc, &suite);
    psk_config(&sc, NULL);
    pair p;
    pair_open(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    unsigned drop = 1; /* the HelloVerifyRequest */
    shuttle(p.c, p.s, 1000, &drop);
    cr_assert_eq(cdtls_conn_timeout(p.c), 2000);
    cr_assert_eq(cdtls_conn_on_timeout(p.c, 1999), CDTLS_OK);
    cr_assert_eq(p.rc.n, 1); /* early: nothing */
    cr_assert_eq(cdtls_conn_on_timeout(p.c, 2000), CDTLS_OK);
    cr_assert_eq(p.rc.n, 2);
    cr_assert_eq(p.rc.ev[1].kind, CDTLS_EVENT_RETRANSMIT);
    cr_assert_eq(p.rc.ev[1].by_timer, 1);
    cr_assert_eq(p.rc.ev[1].retransmits, 1);
    cr_assert_eq(p.rc.ev[1].timeout_ms, 2000);
    shuttle(p.c, p.s, 2000, NULL);
    cr_assert_eq(p.rc.ev[p.rc.n - 1].kind, CDTLS_EVENT_ESTABLISHED);
    pair_close(&p);
}

/* No suite in common: the server refuses with handshake_failure (RFC 5246
 * §7.4.1.3) and says so; the client hears the alert and fails. */
Test(observer, no_shared_suite)
{
    /* a PSK suite against an ECDHE-PSK one: every provider has both */
    uint16_t a = supported(psk_suites, 4, 0), b = supported(ecdhe_psk_suites, 3, 0);
    if (!a || !b) cr_skip_test("no PSK or no ECDHE-PSK suite in this provider");
    cdtls_config cc, sc;
    psk_config(&cc, &a);
    psk_config(&sc, &b);
    pair p;
    pair_open(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    char got[1024];
    describe(&p.rs, got, sizeof got);
    char want[512];
    snprintf(want, sizeof want, "R ClientHello\nR ClientHello\nS alert handshake_failure\nfailed %s\n",
             cdtls_strerror(CDTLS_ERR_HANDSHAKE_FAILURE));
    cr_assert_str_eq(got, want);
    cr_assert_eq(p.rs.ev[2].alert_level, 2);
    describe(&p.rc, got, sizeof got);
    snprintf(want, sizeof want,
             "S ClientHello\nR HelloVerifyRequest\nS ClientHello\nR alert handshake_failure\nfailed %s\n",
             cdtls_strerror(CDTLS_ERR_PEER_ALERT));
    cr_assert_str_eq(got, want);
    pair_close(&p);
}

Test(observer, set_and_clear_per_connection)
{
    uint16_t suite = supported(psk_suites, 4, 0);
    if (!suite) cr_skip_test("no PSK suite in this provider");
    cdtls_config cc;
    psk_config(&cc, &suite);
    recorder r = {0}, r2 = {0};
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_observer(c, record_event, &r), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 0), CDTLS_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].kind, CDTLS_EVENT_HANDSHAKE_SENT);
    cr_assert_eq(r.ev[0].hs_type, 1);
    cr_assert_eq(cdtls_conn_set_observer(c, NULL, &r2), CDTLS_OK);
    (void)cdtls_conn_on_timeout(c, 1000); /* a retransmission nobody hears */
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r2.n, 0);
    cr_assert_eq(cdtls_conn_set_observer(NULL, record_event, &r), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_context_set_observer(NULL, record_event, &r), CDTLS_ERR_INVALID_ARG);
    cdtls_conn_free(c);
}

Test(observer, names)
{
    cr_assert_str_eq(cdtls_handshake_type_name(1), "ClientHello");
    cr_assert_str_eq(cdtls_handshake_type_name(3), "HelloVerifyRequest");
    cr_assert_str_eq(cdtls_handshake_type_name(16), "ClientKeyExchange");
    cr_assert_str_eq(cdtls_handshake_type_name(20), "Finished");
    cr_assert_str_eq(cdtls_handshake_type_name(99), "unknown");
    cr_assert_str_eq(cdtls_alert_name(0), "close_notify");
    cr_assert_str_eq(cdtls_alert_name(40), "handshake_failure");
    cr_assert_str_eq(cdtls_alert_name(115), "unknown_psk_identity");
    cr_assert_str_eq(cdtls_alert_name(120), "no_application_protocol");
    cr_assert_str_eq(cdtls_alert_name(255), "unknown");
}

/* ---------------------------------------------------------------- listener */

typedef struct lrecorder {
    recorder r;
    cdtls_addr peer[MAX_EVENTS];
} lrecorder;

static void record_listener_event(void *user, const cdtls_addr *peer, const cdtls_conn *c,
                                  const cdtls_event *ev)
{
    lrecorder *l = user;
    cr_assert_not_null(peer);
    cr_assert_lt(l->r.n, MAX_EVENTS);
    l->peer[l->r.n] = *peer;
    record_event(&l->r, c, ev);
}

typedef struct udp_client {
    cdtls_io_socket io;
    cdtls_conn *c;
    cdtls_addr local;
} udp_client;

static void udp_client_open(udp_client *u, const cdtls_config *cfg)
{
    cdtls_addr any;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &any), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&u->io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    cdtls_io_local_addr(&u->io, &u->local);
    uint64_t now = cdtls_io_now_ms();
    cr_assert_eq(cdtls_conn_new(cfg, CDTLS_CLIENT, now, &u->c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(u->c, now), CDTLS_OK);
}

static void udp_client_pump(udp_client *u, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    uint64_t now = cdtls_io_now_ms();
    while (cdtls_io_recv(&u->io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK)
        (void)cdtls_conn_recv(u->c, d, n, NULL, now);
    if (cdtls_conn_timeout(u->c) <= now) (void)cdtls_conn_on_timeout(u->c, now);
    while (cdtls_conn_next_datagram(u->c, d, sizeof d, &n, NULL) == CDTLS_OK)
        (void)cdtls_io_send(&u->io, d, n, to, NULL, NULL, 0);
}

static void udp_client_close(udp_client *u)
{
    cdtls_conn_free(u->c);
    cdtls_io_close(&u->io);
}

static int same_addr(const cdtls_addr *a, const cdtls_addr *b)
{
    char x[64], y[64];
    cdtls_addr_format(a, x, sizeof x);
    cdtls_addr_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

/* What a server needs to say why a peer failed: the listener's events
 * name the peer's address, from the HelloVerifyRequest to the failure. */
Test(observer, listener_reports_peers_and_failures, .timeout = 30)
{
    /* a PSK suite against an ECDHE-PSK one: every provider has both */
    uint16_t a = supported(psk_suites, 4, 0), b = supported(ecdhe_psk_suites, 3, 0);
    if (!a || !b) cr_skip_test("no PSK or no ECDHE-PSK suite in this provider");
    cdtls_config sc, good, bad;
    psk_config(&sc, &a);
    psk_config(&good, &a);
    psk_config(&bad, &b);
    cdtls_addr bind, where;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&sc, &bind, 0, &l), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    static lrecorder lr;
    memset(&lr, 0, sizeof lr);
    cr_assert_eq(cdtls_listener_set_observer(l, record_listener_event, &lr), CDTLS_OK);

    udp_client ok, ko;
    udp_client_open(&ok, &good);
    udp_client_open(&ko, &bad);
    cdtls_sock *accepted = NULL;
    int ko_failed = 0;
    for (int i = 0; i < 500 && (!accepted || !ko_failed); i++) {
        udp_client_pump(&ok, &where);
        udp_client_pump(&ko, &where);
        cdtls_sock *s = NULL;
        int rc = cdtls_listener_accept(l, 5, &s);
        if (rc == CDTLS_OK) accepted = s;
        ko_failed = cdtls_conn_get_state(ko.c) == CDTLS_STATE_FAILED;
    }
    cr_assert_not_null(accepted);
    cr_assert(ko_failed);

    int hvr_ok = 0, hvr_ko = 0, est_ok = 0, failed_ko = 0, alert_ko = 0;
    for (size_t i = 0; i < lr.r.n; i++) {
        const cdtls_event *e = &lr.r.ev[i];
        int is_ok = same_addr(&lr.peer[i], &ok.local), is_ko = same_addr(&lr.peer[i], &ko.local);
        cr_assert(is_ok || is_ko, "event %d for an address that is neither client", (int)e->kind);
        if (e->kind == CDTLS_EVENT_HELLO_VERIFY_SENT) {
            cr_assert_null(lr.r.conn[i]);
            hvr_ok += is_ok;
            hvr_ko += is_ko;
        } else {
            cr_assert_not_null(lr.r.conn[i]);
        }
        if (e->kind == CDTLS_EVENT_ESTABLISHED) {
            cr_assert(is_ok);
            cr_assert_eq(lr.r.conn[i], cdtls_sock_conn(accepted));
            est_ok++;
        }
        if (e->kind == CDTLS_EVENT_ALERT_SENT && is_ko) alert_ko += e->alert_desc == 40;
        if (e->kind == CDTLS_EVENT_FAILED) {
            cr_assert(is_ko);
            cr_assert_eq(e->error, CDTLS_ERR_HANDSHAKE_FAILURE);
            failed_ko++;
        }
    }
    cr_assert_geq(hvr_ok, 1);
    cr_assert_geq(hvr_ko, 1);
    cr_assert_eq(est_ok, 1);
    cr_assert_eq(alert_ko, 1);
    cr_assert_eq(failed_ko, 1);

    cdtls_sock_close(accepted);
    cdtls_listener_close(l);
    udp_client_close(&ok);
    udp_client_close(&ko);
    cr_assert_eq(cdtls_listener_set_observer(NULL, record_listener_event, &lr), CDTLS_ERR_INVALID_ARG);
}

/* ------------------------------------------------------------- DTLS 1.3 */

#if !CDTLS_HAVE_DTLS13
/* -Ddtls13=false (CDTLS_NO_DTLS13): no 1.3 engine to observe */
Test(observer13, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

/* The same recorder on a 1.3 handshake (RFC 9147 §5): every message of
 * both flights with its 1.3 type, the HelloRetryRequest, ACKs (§7),
 * retransmissions (§5.8), KeyUpdate (§8), the version and group, and the
 * failures as 1.2 reports them. */

static const uint16_t x25519_only[] = {29};

static void psk13_configs(cdtls_config *cc, cdtls_config *sc, int cookie)
{
    psk_config(cc, NULL);
    psk_config(sc, NULL);
    cc->versions.min = cc->versions.max = CDTLS_VERSION_1_3;
    sc->cookie.exchange = cookie;
    cc->negotiate.groups = sc->negotiate.groups = x25519_only;
    cc->negotiate.n_groups = sc->negotiate.n_groups = 1;
}

static void pair_open13(pair *p, const cdtls_config *cc, const cdtls_config *sc)
{
    pair_open(p, cc, sc);
    /* the stateless HelloRetryRequest's cookie binds an address */
    cr_assert_eq(cdtls_conn_set_peer_address(p->s, "c:1", 3), CDTLS_OK);
}

/* Like shuttle, but drops the first drop_c datagrams of the client and
 * the first drop_s of the server. Bounded. */
static void shuttle_lossy(cdtls_conn *client, cdtls_conn *server, uint64_t now, unsigned *drop_c,
                          unsigned *drop_s)
{
    uint8_t d[2048];
    size_t n;
    for (int round = 0; round < 32; round++) {
        int moved = 0;
        while (cdtls_conn_next_datagram(client, d, sizeof d, &n, NULL) == CDTLS_OK) {
            moved = 1;
            if (drop_c && *drop_c) {
                (*drop_c)--;
                continue;
            }
            (void)cdtls_conn_recv(server, d, n, NULL, now);
        }
        while (cdtls_conn_next_datagram(server, d, sizeof d, &n, NULL) == CDTLS_OK) {
            moved = 1;
            if (drop_s && *drop_s) {
                (*drop_s)--;
                continue;
            }
            (void)cdtls_conn_recv(client, d, n, NULL, now);
        }
        if (!moved) return;
    }
    cr_assert_fail("datagrams still moving after 32 rounds");
}

/* Every datagram queued at from: to to, or dropped; how many. */
static int move_all(cdtls_conn *from, cdtls_conn *to, uint64_t now, int drop)
{
    uint8_t d[2048];
    size_t n;
    int k = 0;
    for (; k < 64 && cdtls_conn_next_datagram(from, d, sizeof d, &n, NULL) == CDTLS_OK; k++)
        if (!drop) (void)cdtls_conn_recv(to, d, n, NULL, now);
    return k;
}

static const cdtls_event *find_kind(const recorder *r, cdtls_event_kind kind)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].kind == kind) return &r->ev[i];
    return NULL;
}

/* PSK with (EC)DHE and no cookie exchange: one round trip (RFC 8446 §2);
 * the server ACKs the client's final flight at once (RFC 9147 §7.1), and
 * the client's Finished acknowledges the server's flight implicitly. */
Test(observer13, psk_handshake_sequence)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    cr_assert_eq(cdtls_conn_version(p.c), CDTLS_VERSION_1_3);
    char got[2048];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S ClientHello\nR ServerHello\nR EncryptedExtensions\nR Finished\nS Finished\n"
                          "established\nR ACK\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R ClientHello\nS ServerHello\nS EncryptedExtensions\nS Finished\nR Finished\n"
                          "S ACK\nestablished\n");
    /* message_seq continues over the client's (RFC 9147 §5.2): the
     * server's flight is 0, 1, 2; the client's Finished is 1 */
    cr_assert_eq(p.rs.ev[1].message_seq, 0);
    cr_assert_eq(p.rs.ev[2].message_seq, 1);
    cr_assert_eq(p.rs.ev[3].message_seq, 2);
    cr_assert_eq(p.rc.ev[4].message_seq, 1);
    /* lengths: Finished is the suite's hash (RFC 8446 §4.4.4); what one
     * side sent the other received */
    const size_t hash_len = cdtls_conn_cipher_suite(p.c) == 0x1302 ? 48 : 32;
    cr_assert_eq(p.rc.ev[4].length, hash_len);
    cr_assert_eq(p.rs.ev[4].length, hash_len);
    for (size_t i = 1; i < 4; i++) cr_assert_eq(p.rc.ev[i].length, p.rs.ev[i].length);
    cr_assert_eq(p.rc.ev[0].length, p.rs.ev[0].length);
    for (size_t i = 0; i < p.rc.n; i++) cr_assert_eq(p.rc.ev[i].hello_retry, 0);
    /* the server's ACK lists the one record of the client's Finished */
    cr_assert_eq(p.rs.ev[5].ack_records, 1);
    cr_assert_eq(p.rc.ev[6].ack_records, 1);
    /* 1.3 and the group of the key share */
    const cdtls_event *ce = find_kind(&p.rc, CDTLS_EVENT_ESTABLISHED),
                      *se = find_kind(&p.rs, CDTLS_EVENT_ESTABLISHED);
    cr_assert_eq(ce->version, CDTLS_VERSION_1_3);
    cr_assert_eq(se->version, CDTLS_VERSION_1_3);
    cr_assert_eq(ce->group, 29);
    cr_assert_eq(se->group, 29);
    cr_assert_str_eq(ce->group_name, "X25519");
    cr_assert_str_eq(se->group_name, "X25519");
    /* close_notify both ways, under the application keys */
    p.rc.n = p.rs.n = 0;
    cr_assert_eq(cdtls_conn_close(p.c), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S alert close_notify\nR alert close_notify\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R alert close_notify\nS alert close_notify\n");
    pair_close(&p);
}

/* psk_ke (RFC 8446 §4.2.9): no key exchange, no group. */
Test(observer13, psk_ke_reports_no_group)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    static const uint16_t none[] = {0};
    cc.negotiate.groups = none;
    cc.negotiate.n_groups = 0;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    const cdtls_event *ce = find_kind(&p.rc, CDTLS_EVENT_ESTABLISHED),
                      *se = find_kind(&p.rs, CDTLS_EVENT_ESTABLISHED);
    cr_assert_not_null(ce);
    cr_assert_not_null(se);
    cr_assert_eq(ce->version, CDTLS_VERSION_1_3);
    cr_assert_eq(ce->group, 0);
    cr_assert_null(ce->group_name);
    cr_assert_eq(se->group, 0);
    cr_assert_null(se->group_name);
    pair_close(&p);
}

/* The cookie exchange (RFC 9147 §5.1): the server's stateless
 * HelloRetryRequest, echoing the ClientHello's message_seq, then the
 * second ClientHello (message_seq 1) and the handshake. */
Test(observer13, hrr_with_cookie_sequence)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 1);
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    char got[2048];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S ClientHello\nR HelloRetryRequest\nS ClientHello\nR ServerHello\n"
                          "R EncryptedExtensions\nR Finished\nS Finished\nestablished\nR ACK\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R ClientHello\nS HelloRetryRequest\nR ClientHello\nS ServerHello\n"
                          "S EncryptedExtensions\nS Finished\nR Finished\nS ACK\nestablished\n");
    cr_assert_eq(p.rc.ev[1].hs_type, 2); /* a ServerHello on the wire (RFC 8446 §4.1.4) */
    cr_assert_eq(p.rc.ev[1].hello_retry, 1);
    cr_assert_eq(p.rs.ev[1].hello_retry, 1);
    cr_assert_eq(p.rc.ev[1].length, p.rs.ev[1].length);
    cr_assert_eq(p.rs.ev[1].message_seq, 0);
    cr_assert_eq(p.rc.ev[2].message_seq, 1);
    cr_assert_eq(p.rs.ev[3].message_seq, 1); /* the ServerHello answers the second hello */
    cr_assert_eq(p.rs.ev[3].hello_retry, 0);
    cr_assert_eq(find_kind(&p.rc, CDTLS_EVENT_ESTABLISHED)->group, 29);
    pair_close(&p);
}

/* A HelloRetryRequest for another group (RFC 8446 §4.1.4), the server
 * keeping state (no cookie exchange): the group reported is the one
 * asked for. */
Test(observer13, hrr_for_group_sequence)
{
    if (!cdtls_provider_default()->kx[CDTLS_GROUP_SECP256R1]) cr_skip_test("no P-256 in this provider");
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    static const uint16_t cg[] = {29, 23}, sg[] = {23};
    cc.negotiate.groups = cg, cc.negotiate.n_groups = 2;
    sc.negotiate.groups = sg, sc.negotiate.n_groups = 1;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    char got[2048];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S ClientHello\nR HelloRetryRequest\nS ClientHello\nR ServerHello\n"
                          "R EncryptedExtensions\nR Finished\nS Finished\nestablished\nR ACK\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R ClientHello\nS HelloRetryRequest\nR ClientHello\nS ServerHello\n"
                          "S EncryptedExtensions\nS Finished\nR Finished\nS ACK\nestablished\n");
    const cdtls_event *ce = find_kind(&p.rc, CDTLS_EVENT_ESTABLISHED),
                      *se = find_kind(&p.rs, CDTLS_EVENT_ESTABLISHED);
    cr_assert_eq(ce->group, 23);
    cr_assert_str_eq(ce->group_name, "P-256");
    cr_assert_eq(se->group, 23);
    pair_close(&p);
}

/* X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem): both sides report the
 * hybrid, which has no kx[] entry of its own (the server reported 0). */
Test(observer13, hybrid_group_reported_both_sides)
{
    if (!cdtls_provider_default()->kem[CDTLS_KEM_MLKEM768]) cr_skip_test("no ML-KEM-768 in this provider");
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    static const uint16_t hybrid[] = {CDTLS_GROUP_X25519MLKEM768};
    cc.negotiate.groups = sc.negotiate.groups = hybrid;
    cc.negotiate.n_groups = sc.negotiate.n_groups = 1;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    const cdtls_event *ce = find_kind(&p.rc, CDTLS_EVENT_ESTABLISHED),
                      *se = find_kind(&p.rs, CDTLS_EVENT_ESTABLISHED);
    cr_assert_not_null(ce);
    cr_assert_not_null(se);
    cr_assert_eq(ce->group, CDTLS_GROUP_X25519MLKEM768);
    cr_assert_eq(se->group, CDTLS_GROUP_X25519MLKEM768);
    cr_assert_str_eq(ce->group_name, "X25519MLKEM768");
    cr_assert_str_eq(se->group_name, "X25519MLKEM768");
    cr_assert_eq(cdtls_conn_group(p.s), CDTLS_GROUP_X25519MLKEM768);
    pair_close(&p);
}

/* Certificates both ways (RFC 8446 §4.3.2, §4.4.2-3): CertificateRequest,
 * Certificate, CertificateVerify in each flight. */
Test(observer13, certificate_handshake_sequence)
{
    const cdtls_provider *prov = cdtls_provider_default();
    uint8_t der[CDTLS_X509_SELFSIGN_MAX];
    size_t n;
    cdtls_sign_key *key;
    const int64_t nb = (int64_t)time(NULL) - 86400;
    cr_assert_eq(cdtls_x509_selfsign(prov, NULL, "observer.example", nb, 30, der, sizeof der, &n, &key),
                 CDTLS_OK);
    cdtls_x509_cert cert;
    cr_assert_eq(cdtls_x509_parse(der, n, &cert), CDTLS_OK);
    uint8_t pin[32];
    cr_assert_eq(cdtls_x509_fingerprint_sha256(prov, &cert, pin), CDTLS_OK);
    const uint8_t *chain[1] = {der};
    size_t lens[1] = {n};
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    cc.versions.min = CDTLS_VERSION_1_3;
    sc.cookie.exchange = 0;
    sc.credentials.chain = cc.credentials.chain = chain;
    sc.credentials.chain_len = cc.credentials.chain_len = lens;
    sc.credentials.n_certs = cc.credentials.n_certs = 1;
    sc.credentials.private_key = cc.credentials.private_key = key;
    cc.verify.pinned_sha256 = pin, cc.verify.n_pins = 1;
    sc.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_ANY;
    /* X25519 on both sides: with ML-KEM-768 in the provider the server
     * would ask for the hybrid by HelloRetryRequest (docs/pq.md), which
     * observer13/hrr_* cover; this test is about the certificate messages */
    cc.negotiate.groups = sc.negotiate.groups = x25519_only;
    cc.negotiate.n_groups = sc.negotiate.n_groups = 1;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    cr_assert_eq(cdtls_conn_get_state(p.c), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(p.c)));
    char got[2048];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S ClientHello\nR ServerHello\nR EncryptedExtensions\nR CertificateRequest\n"
                          "R Certificate\nR CertificateVerify\nR Finished\nS Certificate\n"
                          "S CertificateVerify\nS Finished\nestablished\nR ACK\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R ClientHello\nS ServerHello\nS EncryptedExtensions\nS CertificateRequest\n"
                          "S Certificate\nS CertificateVerify\nS Finished\nR Certificate\n"
                          "R CertificateVerify\nR Finished\nS ACK\nestablished\n");
    /* the server's Certificate message carries our DER (RFC 8446 §4.4.2:
     * context, list length, cert length, cert, extensions) */
    cr_assert_eq(p.rs.ev[4].length, 1 + 3 + 3 + n + 2);
    cr_assert_eq(p.rc.ev[4].length, p.rs.ev[4].length);
    cr_assert_eq(p.rs.ev[7].length, p.rc.ev[7].length);
    pair_close(&p);
    prov->sign_key_free(cdtls_allocator_libc(), key);
}

/* Loss (RFC 9147 §5.8): the server's first flight is lost, the client's
 * timer resends its ClientHello (by_timer 1, the doubled timer running);
 * the server hears a ClientHello it has answered and resends its flight
 * (by_timer 0). Then the client's final flight is lost: the server's
 * timer resends only what was not acknowledged, the client hears the old
 * flight and resends its own, which the server ACKs. */
Test(observer13, retransmission_under_loss)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    unsigned drop_s = 1; /* the server's whole flight fits one datagram */
    shuttle_lossy(p.c, p.s, 1000, NULL, &drop_s);
    cr_assert_eq(drop_s, 0);
    cr_assert_eq(p.rc.n, 1);
    cr_assert_eq(cdtls_conn_timeout(p.c), 2000);
    cr_assert_eq(cdtls_conn_on_timeout(p.c, 1999), CDTLS_OK);
    cr_assert_eq(p.rc.n, 1); /* early: nothing */
    cr_assert_eq(cdtls_conn_on_timeout(p.c, 2000), CDTLS_OK);
    cr_assert_eq(p.rc.n, 2);
    cr_assert_eq(p.rc.ev[1].kind, CDTLS_EVENT_RETRANSMIT);
    cr_assert_eq(p.rc.ev[1].by_timer, 1);
    cr_assert_eq(p.rc.ev[1].retransmits, 1);
    cr_assert_eq(p.rc.ev[1].timeout_ms, 2000);
    /* the ClientHello again, the server's flight; this time the client's
     * final flight is lost */
    cr_assert_eq(move_all(p.c, p.s, 2000, 0), 1);
    cr_assert_eq(move_all(p.s, p.c, 2000, 0), 1);
    cr_assert_eq(move_all(p.c, p.s, 2000, 1), 1);
    char got[2048];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S ClientHello\nretransmit\nR ServerHello\nR EncryptedExtensions\nR Finished\n"
                          "S Finished\nestablished\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R ClientHello\nS ServerHello\nS EncryptedExtensions\nS Finished\n"
                          "retransmit (peer)\n");
    const cdtls_event *sr = find_kind(&p.rs, CDTLS_EVENT_RETRANSMIT);
    cr_assert_eq(sr->retransmits, 1);
    cr_assert_eq(sr->timeout_ms, 1000);
    /* the server's timer */
    uint64_t t = cdtls_conn_timeout(p.s);
    cr_assert_eq(t, 3000);
    p.rc.n = p.rs.n = 0;
    cr_assert_eq(cdtls_conn_on_timeout(p.s, t), CDTLS_OK);
    shuttle(p.c, p.s, t, NULL);
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "retransmit\nR Finished\nS ACK\nestablished\n");
    cr_assert_eq(p.rs.ev[0].retransmits, 2);
    cr_assert_eq(p.rs.ev[0].timeout_ms, 2000);
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "retransmit (peer)\nR ACK\n");
    cr_assert_eq(cdtls_conn_get_state(p.s), CDTLS_STATE_ESTABLISHED);
    pair_close(&p);
}

/* KeyUpdate (RFC 9147 §8) both ways: sent, received, ACKed; the peer's
 * answer to update_requested; and the update's retransmission when its
 * ACK is lost. */
Test(observer13, key_update_and_acks)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    cr_assert_eq(cdtls_conn_get_state(p.s), CDTLS_STATE_ESTABLISHED);
    p.rc.n = p.rs.n = 0;
    cr_assert_eq(cdtls_conn_update_keys(p.c, 1), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    char got[1024];
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S KeyUpdate\nR ACK\nR KeyUpdate\nS ACK\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R KeyUpdate\nS ACK\nS KeyUpdate\nR ACK\n");
    cr_assert_eq(p.rc.ev[0].length, 1); /* KeyUpdateRequest */
    cr_assert_eq(p.rc.ev[0].message_seq, p.rs.ev[0].message_seq);
    cr_assert_eq(p.rc.ev[1].ack_records, 1);
    /* the server's ACK of the next one is lost: the client resends it */
    p.rc.n = p.rs.n = 0;
    cr_assert_eq(cdtls_conn_update_keys(p.c, 0), CDTLS_OK);
    unsigned drop_s = 1;
    shuttle_lossy(p.c, p.s, 1000, NULL, &drop_s);
    uint64_t t = cdtls_conn_timeout(p.c);
    cr_assert_eq(t, 2000);
    cr_assert_eq(cdtls_conn_on_timeout(p.c, t), CDTLS_OK);
    shuttle(p.c, p.s, t, NULL);
    describe(&p.rc, got, sizeof got);
    cr_assert_str_eq(got, "S KeyUpdate\nretransmit\nR ACK\n");
    describe(&p.rs, got, sizeof got);
    cr_assert_str_eq(got, "R KeyUpdate\nS ACK\nS ACK\n"); /* the second ACK for the copy */
    pair_close(&p);
}

/* A wrong PSK (the binder does not verify, RFC 8446 §4.2.11): the server
 * sends decrypt_error and fails, the client hears the alert and fails,
 * as a 1.2 refusal reports it. */
Test(observer13, wrong_psk_fails_with_alert)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    static const uint8_t other[16] = "another-psk-16by";
    cc.psk.key = other;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    char got[1024], want[512];
    describe(&p.rs, got, sizeof got);
    snprintf(want, sizeof want, "R ClientHello\nS alert decrypt_error\nfailed %s\n",
             cdtls_strerror(CDTLS_ERR_BAD_FINISHED));
    cr_assert_str_eq(got, want);
    cr_assert_eq(p.rs.ev[1].alert_level, 2);
    cr_assert_eq(p.rs.ev[2].error, CDTLS_ERR_BAD_FINISHED);
    describe(&p.rc, got, sizeof got);
    snprintf(want, sizeof want, "S ClientHello\nR alert decrypt_error\nfailed %s\n",
             cdtls_strerror(CDTLS_ERR_PEER_ALERT));
    cr_assert_str_eq(got, want);
    pair_close(&p);
}

/* A 1.3-only client against a 1.2-only server: protocol_version (RFC 8446
 * §4.2.1), reported on both sides. */
Test(observer13, version_mismatch_fails_with_alert)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    sc.versions.min = sc.versions.max = CDTLS_VERSION_1_2;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    shuttle(p.c, p.s, 1000, NULL);
    const cdtls_event *sf = find_kind(&p.rs, CDTLS_EVENT_FAILED), *cf = find_kind(&p.rc, CDTLS_EVENT_FAILED);
    const cdtls_event *sa = find_kind(&p.rs, CDTLS_EVENT_ALERT_SENT),
                      *ca = find_kind(&p.rc, CDTLS_EVENT_ALERT_RECEIVED);
    cr_assert_not_null(sf);
    cr_assert_not_null(cf);
    cr_assert_not_null(sa);
    cr_assert_not_null(ca);
    cr_assert_eq(sa->alert_desc, ca->alert_desc);
    cr_assert_eq(cf->error, CDTLS_ERR_PEER_ALERT);
    cr_assert_eq(sf->error, cdtls_conn_error(p.s));
    pair_close(&p);
}

/* The handshake timeout (RFC 9147 §5.8: the implementation's limit) ends a
 * 1.3 handshake whose peer never answers, with the timer's events first. */
Test(observer13, handshake_timeout_reported)
{
    cdtls_config cc, sc;
    psk13_configs(&cc, &sc, 0);
    cc.timers.handshake_timeout_ms = 5000;
    pair p;
    pair_open13(&p, &cc, &sc);
    cr_assert_eq(cdtls_conn_start(p.c, 1000), CDTLS_OK);
    uint64_t now = 1000;
    for (int i = 0; i < 20 && cdtls_conn_get_state(p.c) == CDTLS_STATE_HANDSHAKING; i++) {
        now = cdtls_conn_timeout(p.c);
        (void)cdtls_conn_on_timeout(p.c, now);
    }
    char got[1024], want[512];
    describe(&p.rc, got, sizeof got);
    /* timers at 2000 and 4000 (1 s doubled), then the 5 s limit */
    snprintf(want, sizeof want, "S ClientHello\nretransmit\nretransmit\nfailed %s\n",
             cdtls_strerror(CDTLS_ERR_HANDSHAKE_TIMEOUT));
    cr_assert_str_eq(got, want);
    cr_assert_eq(now, 6000);
    pair_close(&p);
}

Test(observer13, names)
{
    cr_assert_str_eq(cdtls_handshake_type_name(8), "EncryptedExtensions");
    cr_assert_str_eq(cdtls_handshake_type_name(13), "CertificateRequest");
    cr_assert_str_eq(cdtls_handshake_type_name(15), "CertificateVerify");
    cr_assert_str_eq(cdtls_handshake_type_name(4), "NewSessionTicket");
    cr_assert_str_eq(cdtls_handshake_type_name(24), "KeyUpdate");
    cdtls_event ev = {0};
    ev.kind = CDTLS_EVENT_HANDSHAKE_RECEIVED;
    ev.hs_type = 2;
    cr_assert_str_eq(cdtls_event_message_name(&ev), "ServerHello");
    ev.hello_retry = 1;
    cr_assert_str_eq(cdtls_event_message_name(&ev), "HelloRetryRequest");
    ev.kind = CDTLS_EVENT_ACK_SENT;
    cr_assert_null(cdtls_event_message_name(&ev));
    cr_assert_null(cdtls_event_message_name(NULL));
    cr_assert_str_eq(cdtls_alert_name(109), "missing_extension");
    cr_assert_str_eq(cdtls_alert_name(116), "certificate_required");
}

#endif /* CDTLS_HAVE_DTLS13 */
