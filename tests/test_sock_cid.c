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
