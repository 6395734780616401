/* NAT rebinding with connection IDs (RFC 9146) through the socket layer:
 * a client finishes its handshake from one UDP socket, then sends from
 * another (as if its NAT mapping changed). The listener finds the session
 * by the CID, moves it to the new address only because the record
 * authenticated and is new, and the echo arrives at the new socket. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"

static const uint8_t psk[16] = "rebinding-psk-16";

static void cid_cfg(cdtls_config *cfg, size_t cid_len, uint16_t version)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"roamer";
    cfg->psk.identity_len = 6;
    cfg->cid.length = cid_len;
    if (version) cfg->versions.min = cfg->versions.max = version;
}

typedef struct echo_ctx {
    cdtls_listener *l;
    int echoed;
    cdtls_addr last_peer;
} echo_ctx;

static void *echo_server(void *arg)
{
    echo_ctx *e = arg;
    cdtls_sock *s;
    if (cdtls_listener_accept(e->l, 10000, &s) != CDTLS_OK) return NULL;
    for (int i = 0; i < 400; i++) {
        uint8_t buf[512];
        size_t n;
        int rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 25);
        if (rc == CDTLS_OK) {
            e->last_peer = *cdtls_sock_peer(s);
            (void)cdtls_sock_write(s, buf, n, NULL);
            e->echoed++;
        } else if (rc != CDTLS_ERR_TIMEOUT && rc != CDTLS_ERR_WOULD_BLOCK) {
            break;
        }
    }
    cdtls_sock_close(s);
    return NULL;
}

/* Sends what the engine has, through io. */
static void send_all(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK)
        cr_assert_eq(cdtls_io_send(io, d, n, to, NULL, NULL, 0), CDTLS_OK);
}

/* Receives on io for up to wait_ms and feeds the engine; fires its timer. */
static void pump(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, int wait_ms)
{
    uint8_t d[2048];
    size_t n;
    if (cdtls_io_recv(io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, wait_ms) == CDTLS_OK)
        (void)cdtls_conn_recv(c, d, n, NULL, cdtls_io_now_ms());
    if (cdtls_conn_timeout(c) <= cdtls_io_now_ms()) (void)cdtls_conn_on_timeout(c, cdtls_io_now_ms());
    send_all(c, io, to);
}

static int read_echo(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, const char *want)
{
    for (int i = 0; i < 100; i++) {
        uint8_t buf[512];
        size_t n;
        if (cdtls_conn_read(c, buf, sizeof buf, &n, NULL) == CDTLS_OK)
            return n == strlen(want) && memcmp(buf, want, n) == 0;
        pump(c, io, to, 50);
    }
    return 0;
}

/* A client of `version` rebinds from socket A to B; the listener follows.
 * With version 0 the listener speaks both. */
static void rebinding(uint16_t client_version, uint16_t server_version)
{
    cdtls_config scfg, ccfg;
    cid_cfg(&scfg, 8, server_version);
    cid_cfg(&ccfg, 8, client_version);
    cdtls_addr bind, server;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    echo_ctx e = {0};
    cr_assert_eq(cdtls_listener_open(&scfg, &bind, 0, &e.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(e.l), &server), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, echo_server, &e), 0);

    cdtls_io_socket a, b;
    cr_assert_eq(cdtls_io_open(&a, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&b, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cdtls_addr addr_a, addr_b;
    cdtls_io_local_addr(&a, &addr_a);
    cdtls_io_local_addr(&b, &addr_b);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, cdtls_io_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, cdtls_io_now_ms()), CDTLS_OK);
    send_all(c, &a, &server);
    for (int i = 0; i < 200 && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING; i++)
        pump(c, &a, &server, 50);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert(cdtls_conn_uses_cid(c));
    if (client_version) cr_assert_eq(cdtls_conn_version(c), client_version);

    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"from A", 6, NULL), CDTLS_OK);
    send_all(c, &a, &server);
    cr_assert(read_echo(c, &a, &server, "from A"));

    /* the NAT rebinds: the same session now speaks from socket B */
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"from B", 6, NULL), CDTLS_OK);
    send_all(c, &b, &server);
    cr_assert(read_echo(c, &b, &server, "from B"), "the echo follows the session to its new address");

    cdtls_conn_close(c);
    send_all(c, &b, &server);
    pthread_join(th, NULL); /* then the server thread's counters are settled */
    cr_assert_eq(e.echoed, 2);
    cr_assert_eq(e.last_peer.port, addr_b.port, "the session moved to the new address");
    cdtls_conn_free(c);
    cdtls_io_close(&a);
    cdtls_io_close(&b);
    cdtls_listener_close(e.l);
}

Test(sock_cid, nat_rebinding_keeps_the_session, .timeout = 30)
{
    rebinding(CDTLS_VERSION_1_2, CDTLS_VERSION_1_2);
}

/* DTLS 1.3 (RFC 9147 §9): the CID in the unified header, its length the
 * one the listener's side issued */
Test(sock_cid, nat_rebinding_keeps_the_session_13, .timeout = 30)
{
#ifdef CDTLS_NO_DTLS13
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
#else
    rebinding(CDTLS_VERSION_1_3, 0);
#endif
}

/* One listener, a 1.2 and a 1.3 CID client side by side: both rebind,
 * both sessions follow (the listener reads the CID of either format). */
#ifndef CDTLS_NO_DTLS13
typedef struct echo2_ctx {
    cdtls_listener *l;
    int echoed[2];
    uint16_t version[2];
} echo2_ctx;

static void *echo2_server(void *arg)
{
    echo2_ctx *e = arg;
    cdtls_sock *s[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (cdtls_listener_accept(e->l, 10000, &s[k]) != CDTLS_OK) goto out;
    for (int k = 0; k < 2; k++) e->version[k] = cdtls_conn_version(cdtls_sock_conn(s[k]));
    for (int i = 0; i < 400 && e->echoed[0] + e->echoed[1] < 4; i++)
        for (int k = 0; k < 2; k++) {
            uint8_t buf[512];
            size_t n;
            if (cdtls_sock_read(s[k], buf, sizeof buf, &n, NULL, 10) == CDTLS_OK) {
                (void)cdtls_sock_write(s[k], buf, n, NULL);
                e->echoed[k]++;
            }
        }
out:
    for (int k = 0; k < 2; k++)
        if (s[k]) cdtls_sock_close(s[k]);
    return NULL;
}

typedef struct roamer {
    cdtls_conn *c;
    cdtls_io_socket a, b;
} roamer;

static void roamer_start(roamer *r, uint16_t version, const cdtls_addr *bind, const cdtls_addr *server)
{
    static cdtls_config cfg[2];
    cdtls_config *cc = &cfg[version == CDTLS_VERSION_1_3];
    cid_cfg(cc, 4, version);
    cr_assert_eq(cdtls_io_open(&r->a, bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&r->b, bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(cc, CDTLS_CLIENT, cdtls_io_now_ms(), &r->c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(r->c, cdtls_io_now_ms()), CDTLS_OK);
    send_all(r->c, &r->a, server);
    for (int i = 0; i < 200 && cdtls_conn_get_state(r->c) == CDTLS_STATE_HANDSHAKING; i++)
        pump(r->c, &r->a, server, 50);
    cr_assert_eq(cdtls_conn_get_state(r->c), CDTLS_STATE_ESTABLISHED);
    cr_assert(cdtls_conn_uses_cid(r->c));
    cr_assert_eq(cdtls_conn_version(r->c), version);
}

#endif

Test(sock_cid, one_listener_serves_12_and_13_cid_peers, .timeout = 60)
{
#ifdef CDTLS_NO_DTLS13
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
#else
    cdtls_config scfg;
    cid_cfg(&scfg, 8, 0);
    cdtls_addr bind, server;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    echo2_ctx e = {0};
    cr_assert_eq(cdtls_listener_open(&scfg, &bind, 0, &e.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(e.l), &server), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, echo2_server, &e), 0);
    roamer r12, r13;
    roamer_start(&r12, CDTLS_VERSION_1_2, &bind, &server);
    roamer_start(&r13, CDTLS_VERSION_1_3, &bind, &server);
    roamer *rs[2] = {&r12, &r13};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(cdtls_conn_write(rs[k]->c, (const uint8_t *)"from A", 6, NULL), CDTLS_OK);
        send_all(rs[k]->c, &rs[k]->a, &server);
        cr_assert(read_echo(rs[k]->c, &rs[k]->a, &server, "from A"));
    }
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(cdtls_conn_write(rs[k]->c, (const uint8_t *)"from B", 6, NULL), CDTLS_OK);
        send_all(rs[k]->c, &rs[k]->b, &server);
        cr_assert(read_echo(rs[k]->c, &rs[k]->b, &server, "from B"), "client %d followed to its new port", k);
    }
    pthread_join(th, NULL);
    cr_assert_eq(e.echoed[0] + e.echoed[1], 4);
    cr_assert(e.version[0] != e.version[1], "the listener spoke both versions");
    for (int k = 0; k < 2; k++) {
        cdtls_conn_free(rs[k]->c);
        cdtls_io_close(&rs[k]->a);
        cdtls_io_close(&rs[k]->b);
    }
    cdtls_listener_close(e.l);
#endif
}

/* Return Routability Check (RFC 9853) through the listener: a copy of the
 * client's record raced from a third socket (a spoofed address V) gets V
 * no more than path_challenges within three times what V sent, and the
 * session stays where it is; the client's own move to socket B is checked
 * (path_challenge to B, path_response from B) and then followed. */
static int path_events[8];
static void count_path(void *user, const cdtls_addr *peer, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)user, (void)peer, (void)c;
    if (ev->kind == CDTLS_EVENT_PATH && (unsigned)ev->path_event < 8) path_events[ev->path_event]++;
}

/* Reads one record on either socket within ~2 s; which one got it in *on. */
static int read_either(cdtls_conn *c, cdtls_io_socket *a, cdtls_io_socket *b, const cdtls_addr *server,
                       const char *want, int *on)
{
    for (int i = 0; i < 100; i++) {
        uint8_t buf[512];
        size_t n;
        for (int k = 0; k < 2; k++) {
            pump(c, k ? b : a, server, 10);
            if (cdtls_conn_read(c, buf, sizeof buf, &n, NULL) == CDTLS_OK) {
                *on = k;
                return n == strlen(want) && memcmp(buf, want, n) == 0;
            }
        }
    }
    return 0;
}

static void rrc_sock(uint16_t version)
{
    memset(path_events, 0, sizeof path_events);
    cdtls_config scfg, ccfg;
    cid_cfg(&scfg, 8, version == CDTLS_VERSION_1_2 ? version : 0); /* the listener speaks both */
    cid_cfg(&ccfg, 8, version);
    scfg.cid.rrc = ccfg.cid.rrc = CDTLS_RRC_BASIC;
    scfg.cid.rrc_timeout_ms = 300;
    cdtls_addr bind, server;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    echo_ctx e = {0};
    cr_assert_eq(cdtls_listener_open(&scfg, &bind, 0, &e.l), CDTLS_OK);
    cr_assert_eq(cdtls_listener_set_observer(e.l, count_path, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(e.l), &server), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, echo_server, &e), 0);

    cdtls_io_socket a, b, v;
    cr_assert_eq(cdtls_io_open(&a, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&b, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&v, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cdtls_addr addr_b;
    cdtls_io_local_addr(&b, &addr_b);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, cdtls_io_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, cdtls_io_now_ms()), CDTLS_OK);
    send_all(c, &a, &server);
    for (int i = 0; i < 200 && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING; i++)
        pump(c, &a, &server, 50);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_version(c), version);
    cr_assert(cdtls_conn_uses_cid(c) && cdtls_conn_uses_rrc(c));
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"from A", 6, NULL), CDTLS_OK);
    send_all(c, &a, &server);
    cr_assert(read_echo(c, &a, &server, "from A"));

    /* an attacker's copy from V wins the race; the genuine one is a duplicate */
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"raced", 5, NULL), CDTLS_OK);
    uint8_t rec[2048];
    size_t rec_len;
    cr_assert_eq(cdtls_conn_next_datagram(c, rec, sizeof rec, &rec_len, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_io_send(&v, rec, rec_len, &server, NULL, NULL, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_send(&a, rec, rec_len, &server, NULL, NULL, 0), CDTLS_OK);
    int on = -1;
    cr_assert(read_either(c, &a, &b, &server, "raced", &on));
    cr_assert_eq(on, 0, "the echo went to A, not to V");
    /* V never answers: what reaches it over T and more */
    size_t to_v = 0, dgrams_v = 0;
    uint64_t until = cdtls_io_now_ms() + 800;
    while (cdtls_io_now_ms() < until) {
        uint8_t d[2048];
        size_t n;
        if (cdtls_io_recv(&v, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 50) == CDTLS_OK)
            to_v += n, dgrams_v++;
    }
    cr_assert(dgrams_v >= 1, "V was challenged");
    cr_assert(to_v <= 3 * rec_len, "V got %zu bytes for the %zu it sent", to_v, rec_len);

    /* the client really moves to B: checked, then followed */
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"from B", 6, NULL), CDTLS_OK);
    send_all(c, &b, &server);
    cr_assert(read_either(c, &a, &b, &server, "from B", &on)); /* A or B: the answer races the echo */
    /* the path_challenge waits on B (the echo may have come first): answer it */
    for (int i = 0; i < 10; i++) pump(c, &b, &server, 20);
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"again", 5, NULL), CDTLS_OK);
    send_all(c, &b, &server);
    cr_assert(read_either(c, &a, &b, &server, "again", &on));
    cr_assert_eq(on, 1,
                 "once B answered, the echo follows the session to B (events: sent %d validated %d failed %d "
                 "budget %d)",
                 path_events[1], path_events[2], path_events[5], path_events[6]);

    cdtls_conn_close(c);
    send_all(c, &b, &server);
    pthread_join(th, NULL);
    cr_assert_eq(e.echoed, 4);
    cr_assert_eq(e.last_peer.port, addr_b.port);
    cr_assert(path_events[CDTLS_PATH_FAILED] >= 1, "the check of V failed");
    cr_assert_eq(path_events[CDTLS_PATH_VALIDATED], 1);
    cdtls_conn_free(c);
    cdtls_io_close(&a);
    cdtls_io_close(&b);
    cdtls_io_close(&v);
    cdtls_listener_close(e.l);
}

Test(sock_cid, rrc_checks_a_new_address_before_following_it, .timeout = 30)
{
    rrc_sock(CDTLS_VERSION_1_2);
}

/* The same over DTLS 1.3 (RFC 9853 §4: the RRC messages in DTLSInnerPlaintext
 * of the application epoch, the rrc extension beside connection_id). */
Test(sock_cid, rrc_checks_a_new_address_before_following_it_13, .timeout = 30)
{
#ifdef CDTLS_NO_DTLS13
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
#else
    rrc_sock(CDTLS_VERSION_1_3);
#endif
}
