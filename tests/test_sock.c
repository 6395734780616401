/* DTLS over real UDP sockets on loopback with OOB end to end: a listener
 * thread serves several peers on one socket and echoes every record back
 * with the DSCP/ECN it arrived with; the client checks that what its read
 * reports is what its write asked for, through typed and raw OOB. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/sock.h"
#include "cdtls/suites.h"
#include "test_util.h"

static const uint8_t psk[16] = "sock-test-psk-16";

static void cfg_init(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk = psk;
    cfg->psk_len = sizeof psk;
    cfg->psk_identity = (const uint8_t *)"sock-client";
    cfg->psk_identity_len = 11;
}

typedef struct server_ctx {
    cdtls_listener *l;
    int peers;    /* how many to serve */
    int served;
    int ok;
} server_ctx;

/* Echo each record with the marking it came with, until every peer closed. */
static void *serve(void *arg)
{
    server_ctx *ctx = arg;
    cdtls_sock *socks[8] = {0};
    int open = 0;
    for (int i = 0; i < ctx->peers; i++) {
        if (cdtls_listener_accept(ctx->l, 10000, &socks[i]) != CDTLS_OK) return NULL;
        open++;
    }
    while (open > 0) {
        for (int i = 0; i < ctx->peers; i++) {
            if (!socks[i]) continue;
            uint8_t buf[2048];
            size_t n;
            cdtls_oob oob;
            int rc = cdtls_sock_read(socks[i], buf, sizeof buf, &n, &oob, 20);
            if (rc == CDTLS_OK) {
                cdtls_oob echo = {oob.flags & (CDTLS_OOB_DSCP | CDTLS_OOB_ECN), oob.dscp, oob.ecn, 0, 0, {0, {0}}};
                (void)cdtls_sock_write(socks[i], buf, n, &echo);
            } else if (rc == CDTLS_ERR_CLOSED || (rc != CDTLS_ERR_TIMEOUT && rc != CDTLS_ERR_WOULD_BLOCK)) {
                cdtls_sock_close(socks[i]);
                socks[i] = NULL;
                open--;
                ctx->served++;
            }
        }
    }
    ctx->ok = 1;
    return NULL;
}

static int start_server_on(server_ctx *ctx, pthread_t *th, cdtls_addr *where, int peers, const char *ip)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse(ip, 0, &bind), CDTLS_OK);
    memset(ctx, 0, sizeof *ctx);
    ctx->peers = peers;
    if (cdtls_listener_open(&cfg, &bind, 0, &ctx->l) != CDTLS_OK) return 0;
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(ctx->l), where), CDTLS_OK);
    cr_assert_eq(pthread_create(th, NULL, serve, ctx), 0);
    return 1;
}

static void start_server(server_ctx *ctx, pthread_t *th, cdtls_addr *where, int peers)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    memset(ctx, 0, sizeof *ctx);
    ctx->peers = peers;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &ctx->l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(ctx->l), where), CDTLS_OK);
    cr_assert_eq(pthread_create(th, NULL, serve, ctx), 0);
}

static void expect_echo(cdtls_sock *s, const char *msg, uint8_t dscp, uint8_t ecn)
{
    uint8_t buf[256];
    size_t n;
    cdtls_oob got;
    cr_assert_eq(cdtls_sock_read(s, buf, sizeof buf, &n, &got, 5000), CDTLS_OK);
    cr_assert(n == strlen(msg) && memcmp(buf, msg, n) == 0);
    cr_assert(got.flags & CDTLS_OOB_DSCP, "the read reports the DSCP the kernel saw");
    cr_assert_eq(got.dscp, dscp);
    cr_assert_eq(got.ecn, ecn);
}

Test(sock, dscp_ecn_round_trip_typed_and_raw, .timeout = 30)
{
    server_ctx ctx;
    pthread_t th;
    cdtls_addr where;
    start_server(&ctx, &th, &where, 1);
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &where, 5000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_get_state(cdtls_sock_conn(c)), CDTLS_STATE_ESTABLISHED);

    cdtls_oob ef = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, 46, CDTLS_ECN_ECT0, 0, 0, {0, {0}}};
    cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"voice", 5, &ef), CDTLS_OK);
    expect_echo(c, "voice", 46, CDTLS_ECN_ECT0);
    cdtls_oob af = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, 34, CDTLS_ECN_CE, 0, 0, {0, {0}}};
    cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"video", 5, &af), CDTLS_OK);
    expect_echo(c, "video", 34, CDTLS_ECN_CE);
    cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"bulk", 4, NULL), CDTLS_OK);
    expect_echo(c, "bulk", 0, CDTLS_ECN_NOT_ECT);

    /* raw: native control bytes built for DSCP 10, passed through */
    uint8_t raw[CDTLS_IO_CMSG_SPACE], rraw[CDTLS_IO_CMSG_SPACE];
    size_t raw_len, written, oob_written, n, rlen;
    cdtls_oob af11 = {CDTLS_OOB_DSCP, 10, 0, 0, 0, {0, {0}}};
    cr_assert_eq(cdtls_io_build_cmsg(&af11, 4, raw, sizeof raw, &raw_len), CDTLS_OK);
    cr_assert_eq(cdtls_sock_write_oob(c, (const uint8_t *)"raw", 3, raw, raw_len, &written, &oob_written), CDTLS_OK);
    cr_assert(written == 3 && oob_written == raw_len);
    uint8_t buf[64];
    cr_assert_eq(cdtls_sock_read_oob(c, buf, sizeof buf, &n, rraw, sizeof rraw, &rlen, 5000), CDTLS_OK);
    cr_assert(n == 3 && memcmp(buf, "raw", 3) == 0);
    cdtls_oob parsed;
    cr_assert_eq(cdtls_io_parse_cmsg(rraw, rlen, &parsed), CDTLS_OK);
    cr_assert_eq(parsed.dscp, 10);

    /* writes larger than a record can carry are refused clearly */
    static uint8_t big[2000];
    cr_assert_eq(cdtls_sock_write(c, big, sizeof big, NULL), CDTLS_ERR_RECORD_TOO_LARGE);
    cdtls_sock_close(c);
    pthread_join(th, NULL);
    cr_assert(ctx.ok && ctx.served == 1);
    cdtls_listener_close(ctx.l);
}

Test(sock, listener_serves_several_peers, .timeout = 30)
{
    server_ctx ctx;
    pthread_t th;
    cdtls_addr where;
    start_server(&ctx, &th, &where, 3);
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_sock *c[3];
    for (int i = 0; i < 3; i++) cr_assert_eq(cdtls_sock_dial(&cfg, &where, 5000, &c[i]), CDTLS_OK);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3; i++) {
            char msg[32];
            snprintf(msg, sizeof msg, "peer %d round %d", i, round);
            cdtls_oob o = {CDTLS_OOB_DSCP, (uint8_t)(8 * (i + 1)), 0, 0, 0, {0, {0}}};
            cr_assert_eq(cdtls_sock_write(c[i], (const uint8_t *)msg, strlen(msg), &o), CDTLS_OK);
            expect_echo(c[i], msg, (uint8_t)(8 * (i + 1)), 0);
        }
    for (int i = 0; i < 3; i++) cdtls_sock_close(c[i]);
    pthread_join(th, NULL);
    cr_assert(ctx.ok && ctx.served == 3);
    cdtls_listener_close(ctx.l);
}

Test(sock, dial_times_out_without_a_server, .timeout = 10)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr nobody;
    cdtls_addr_parse("127.0.0.1", 9, &nobody); /* discard port: nothing answers */
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &nobody, 1500, &c), CDTLS_ERR_TIMEOUT);
}

/* A peer that passes the cookie check and then goes silent in the middle of
 * its handshake holds a slot but does not hold up anyone else. */
Test(sock, stalled_handshake_does_not_block_others, .timeout = 30)
{
    server_ctx ctx;
    pthread_t th;
    cdtls_addr where;
    start_server(&ctx, &th, &where, 1);
    cdtls_config cfg;
    cfg_init(&cfg);
    /* the stalled peer: a sans-IO client over its own socket, driven by hand
     * through HelloVerifyRequest and the second ClientHello, then abandoned */
    cdtls_io_socket io;
    cdtls_addr any;
    cdtls_addr_parse("127.0.0.1", 0, &any);
    cr_assert_eq(cdtls_io_open(&io, &any, 0), CDTLS_OK);
    cdtls_conn *stalled;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, 0, &stalled), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(stalled, 0), CDTLS_OK);
    uint8_t d[2048];
    size_t n;
    for (int step = 0; step < 2; step++) {
        while (cdtls_conn_next_datagram(stalled, d, sizeof d, &n, NULL) == CDTLS_OK)
            cr_assert_eq(cdtls_io_send(&io, d, n, &where, NULL, NULL, 0), CDTLS_OK);
        if (step == 0) { /* the HelloVerifyRequest */
            cr_assert_eq(cdtls_io_recv(&io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 3000), CDTLS_OK);
            cdtls_conn_recv(stalled, d, n, NULL, 1);
        }
    }
    /* now silent; a real client must still get through promptly */
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &where, 5000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"through", 7, NULL), CDTLS_OK);
    expect_echo(c, "through", 0, 0);
    cdtls_sock_close(c);
    pthread_join(th, NULL);
    cr_assert(ctx.ok && ctx.served == 1);
    cdtls_listener_close(ctx.l);
    cdtls_conn_free(stalled);
    cdtls_io_close(&io);
}

/* Every DSCP value with every ECN codepoint, through the DTLS socket API,
 * over IPv4 and IPv6: the peer's read reports exactly what was sent (the
 * server echoes each record with the marking it arrived with, so both
 * directions are checked). */
static void all_marks(const char *ip)
{
    server_ctx ctx;
    pthread_t th;
    cdtls_addr where;
    if (!start_server_on(&ctx, &th, &where, 1, ip)) cr_skip_test("cannot listen on %s here", ip);
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &where, 5000, &c), CDTLS_OK);
    if (!(cdtls_io_caps(cdtls_sock_io(c)) & CDTLS_IO_CAP_SEND_DSCP) && test_emulator()) {
        /* See io::ipv6_tclass: qemu-user cannot carry a big-endian guest's
         * IPV6_TCLASS. A marked write must be refused, not sent unmarked. */
        cdtls_oob o = {CDTLS_OOB_DSCP, 46, 0, 0, 0, {0, {0}}};
        cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"x", 1, &o), CDTLS_ERR_OOB_UNSUPPORTED);
        cdtls_sock_close(c);
        pthread_join(th, NULL);
        cdtls_listener_close(ctx.l);
        cr_skip_test("%s cannot mark on %s; the socket reports it (caps)", test_emulator(), ip);
    }
    for (unsigned dscp = 0; dscp < 64; dscp++)
        for (unsigned ecn = 0; ecn < 4; ecn++) {
            char msg[32];
            snprintf(msg, sizeof msg, "dscp %u ecn %u", dscp, ecn);
            cdtls_oob o = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, (uint8_t)dscp, (uint8_t)ecn, 0, 0, {0, {0}}};
            cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)msg, strlen(msg), &o), CDTLS_OK);
            expect_echo(c, msg, (uint8_t)dscp, (uint8_t)ecn);
        }
    cdtls_sock_close(c);
    pthread_join(th, NULL);
    cr_assert(ctx.ok);
    cdtls_listener_close(ctx.l);
}

Test(sock, every_dscp_and_ecn_ipv4, .timeout = 60) { all_marks("127.0.0.1"); }
Test(sock, every_dscp_and_ecn_ipv6, .timeout = 60) { all_marks("::1"); }
