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

static void cid_cfg(cdtls_config *cfg, size_t cid_len)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"roamer";
    cfg->psk.identity_len = 6;
    cfg->cid.length = cid_len;
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

Test(sock_cid, nat_rebinding_keeps_the_session, .timeout = 30)
{
    cdtls_config scfg, ccfg;
    cid_cfg(&scfg, 8);
    cid_cfg(&ccfg, 8);
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

Test(sock_cid, rrc_checks_a_new_address_before_following_it, .timeout = 30)
{
    cdtls_config scfg, ccfg;
    cid_cfg(&scfg, 8);
    cid_cfg(&ccfg, 8);
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
