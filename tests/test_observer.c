/* Observers (cdtls_conn_set_observer, cdtls_context_set_observer,
 * cdtls_listener_set_observer): the events a handshake reports, in the
 * order RFC 6347 §4.2.4 / RFC 5246 §7.3 send its messages; retransmissions;
 * alerts and failures; and a listener's, with the peer's address, over
 * loopback. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/sock.h"
#include "cdtls/suites.h"

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
    uint8_t d[2048];
    size_t n;
    for (int round = 0; round < 32; round++) {
        int moved = 0;
        while (cdtls_conn_next_datagram(client, d, sizeof d, &n, NULL) == CDTLS_OK) {
            (void)cdtls_conn_recv(server, d, n, NULL, now);
            moved = 1;
        }
        while (cdtls_conn_next_datagram(server, d, sizeof d, &n, NULL) == CDTLS_OK) {
            moved = 1;
            if (drop_from_server && *drop_from_server) {
                (*drop_from_server)--;
                continue;
            }
            (void)cdtls_conn_recv(client, d, n, NULL, now);
        }
        if (!moved) return;
    }
    cr_assert_fail("datagrams still moving after 32 rounds");
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
            k = snprintf(out + used, cap - used, "S %s\n", cdtls_handshake_type_name(e->hs_type));
            break;
        case CDTLS_EVENT_HANDSHAKE_RECEIVED:
            k = snprintf(out + used, cap - used, "R %s\n", cdtls_handshake_type_name(e->hs_type));
            break;
        case CDTLS_EVENT_CCS_SENT: k = snprintf(out + used, cap - used, "S CCS\n"); break;
        case CDTLS_EVENT_CCS_RECEIVED: k = snprintf(out + used, cap - used, "R CCS\n"); break;
        case CDTLS_EVENT_RETRANSMIT: k = snprintf(out + used, cap - used, "retransmit\n"); break;
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
