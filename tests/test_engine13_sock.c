/* DTLS 1.3 over real UDP sockets on loopback: one listener serves a DTLS
 * 1.2 client and a DTLS 1.3 client side by side (RFC 9147 §5.1: the 1.3
 * hello gets the listener's stateless HelloRetryRequest with a cookie, the
 * 1.2 hello its HelloVerifyRequest), and each gets its echo. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cdtls/sock.h"
#include "cdtls/suites.h"
#include "interop_peers.h"
#include "test_util.h"
#include "udp_driver.h"

static const uint8_t psk[16] = "sock13-test-psk!";

static void cfg_init(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"sock13";
    cfg->psk.identity_len = 6;
    /* 1.3 suites and a 1.2 PSK suite every provider has */
    static const uint16_t suites[] = {0x1301, 0x1303, CDTLS_PSK_WITH_AES_128_GCM_SHA256,
                                      CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, CDTLS_PSK_WITH_AES_128_CCM_8};
    cfg->negotiate.cipher_suites = suites;
    cfg->negotiate.n_cipher_suites = sizeof suites / sizeof suites[0];
}

typedef struct server_ctx {
    cdtls_listener *l;
    int peers, served;
    uint16_t versions[2];
} server_ctx;

/* Accepts the peers, echoes each one's first record, notes its version. */
static void *serve(void *arg)
{
    server_ctx *ctx = arg;
    for (int i = 0; i < ctx->peers; i++) {
        cdtls_sock *s = NULL;
        if (cdtls_listener_accept(ctx->l, 10000, &s) != CDTLS_OK) return NULL;
        ctx->versions[i] = cdtls_conn_version(cdtls_sock_conn(s));
        uint8_t buf[256];
        size_t n = 0;
        if (cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000) == CDTLS_OK)
            (void)cdtls_sock_write(s, buf, n, NULL);
        ctx->served++;
        cdtls_sock_close(s);
    }
    return NULL;
}

static void dial_and_echo(const cdtls_addr *where, uint16_t max_version, const char *msg)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    cfg.versions.max = max_version;
    cdtls_sock *c = NULL;
    int rc = cdtls_sock_dial(&cfg, where, 5000, &c);
    cr_assert_eq(rc, CDTLS_OK, "dial: %s", cdtls_strerror(rc));
    const uint16_t want = max_version ? max_version : CDTLS_VERSION_1_3;
    cr_assert_eq(cdtls_conn_version(cdtls_sock_conn(c)), want);
    cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)msg, strlen(msg), NULL), CDTLS_OK);
    uint8_t buf[256];
    size_t n = 0;
    cr_assert_eq(cdtls_sock_read(c, buf, sizeof buf, &n, NULL, 5000), CDTLS_OK);
    cr_assert(n == strlen(msg) && memcmp(buf, msg, n) == 0);
    cdtls_sock_close(c);
}

Test(engine13_sock, dtls12_and_dtls13_clients_on_one_listener, .timeout = 30)
{
    peer_require_cdtls13(CDTLS_SERVER); /* skips in a build without 1.3 (-Ddtls13=false) */
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr bind, where;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    server_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.peers = 2;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &ctx.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(ctx.l), &where), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, serve, &ctx), 0);
    dial_and_echo(&where, CDTLS_VERSION_1_2, "from a 1.2 client");
    dial_and_echo(&where, 0, "from a 1.3 client");
    pthread_join(th, NULL);
    cr_assert_eq(ctx.served, 2);
    cr_assert_eq(ctx.versions[0], CDTLS_VERSION_1_2);
    cr_assert_eq(ctx.versions[1], CDTLS_VERSION_1_3);
    cdtls_listener_close(ctx.l);
}

/* Issue 16: a DTLS 1.3 ClientHello in fragments, each in its own datagram,
 * sent last first with a pause between them, so the listener takes each in
 * a batch of its own (recvmmsg returns what is queued): its verifier must
 * hold the fragments across batches, answer the whole first hello with the
 * stateless HelloRetryRequest (RFC 9147 §5.1; never a HelloVerifyRequest),
 * verify the cookie of the second hello once it too is whole, and hand
 * the new connection that whole hello. Our client, MTU 128 (the least the
 * engine takes), drives the handshake to DTLS 1.3 over a plain UDP socket. */
static int send_reversed(cdtls_conn *c, int fd, const struct sockaddr_in *to, int pause_ms)
{
    static uint8_t d[16][1600];
    size_t n[16], count = 0;
    while (count < 16 && cdtls_conn_next_datagram(c, d[count], sizeof d[0], &n[count], NULL) == CDTLS_OK)
        count++;
    for (size_t i = count; i-- > 0;) {
        cr_assert_eq(sendto(fd, d[i], n[i], 0, (const struct sockaddr *)to, sizeof *to), (ssize_t)n[i]);
        if (i) poll(NULL, 0, pause_ms);
    }
    return (int)count;
}

Test(engine13_sock, fragmented_hello13_across_batches, .timeout = 30)
{
    peer_require_cdtls13(CDTLS_SERVER); /* a skip with -Ddtls13=false */
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr bind, where;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    server_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.peers = 1;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &ctx.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(ctx.l), &where), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, serve, &ctx), 0);

    uint16_t myport = 0;
    int fd = udp_open(0, &myport);
    cr_assert(fd >= 0);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(where.port);
    to.sin_addr.s_addr = htonl(0x7f000001);
    cdtls_config cc;
    cfg_init(&cc);
    cc.mtu = 128;
    /* no retransmission within the test: the connection completes only if
     * the listener handed it the whole second hello, whose other
     * fragments came in earlier batches */
    cc.timers.retransmit_initial_ms = 60000;
    cc.timers.handshake_timeout_ms = 120000;
    cdtls_conn *c = NULL;
    uint64_t now = udp_now_ms();
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, now, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, now), CDTLS_OK);
    int first_flight = send_reversed(c, fd, &to, 30);
    cr_assert_geq(first_flight, 2, "the hello went out in %d datagrams", first_flight);
    int hrrs = 0, hvrs = 0, replies = 0;
    const uint64_t deadline = now + 10000;
    while (cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING && udp_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1) {
            uint8_t d[2048];
            ssize_t n = recv(fd, d, sizeof d, 0);
            if (n <= 0) continue;
            if (replies++ == 0) {
                /* the listener's stateless reply: record(13), then the handshake type */
                if (n > 13 && d[0] == 22 && d[13] == 2) hrrs++;
                if (n > 13 && d[0] == 22 && d[13] == 3) hvrs++;
            }
            (void)cdtls_conn_recv(c, d, (size_t)n, NULL, udp_now_ms());
        }
        if (cdtls_conn_timeout(c) <= udp_now_ms()) (void)cdtls_conn_on_timeout(c, udp_now_ms());
        (void)send_reversed(c, fd, &to, 30);
    }
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(hvrs, 0, "no HelloVerifyRequest to a 1.3 hello");
    cr_assert_eq(hrrs, 1, "the first reply is the stateless HelloRetryRequest");
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    /* the echo */
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"across batches", 14, NULL), CDTLS_OK);
    (void)send_reversed(c, fd, &to, 0);
    uint8_t buf[256];
    size_t got = 0;
    while (!got && udp_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1) {
            uint8_t d[2048];
            ssize_t n = recv(fd, d, sizeof d, 0);
            if (n > 0) (void)cdtls_conn_recv(c, d, (size_t)n, NULL, udp_now_ms());
        }
        if (cdtls_conn_read(c, buf, sizeof buf, &got, NULL) != CDTLS_OK) got = 0;
        (void)send_reversed(c, fd, &to, 0); /* ACKs */
    }
    cr_assert(got == 14 && memcmp(buf, "across batches", 14) == 0);
    pthread_join(th, NULL);
    cr_assert_eq(ctx.served, 1);
    cr_assert_eq(ctx.versions[0], CDTLS_VERSION_1_3);
    cdtls_conn_free(c);
    close(fd);
    cdtls_listener_close(ctx.l);
}
