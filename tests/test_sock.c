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
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"sock-client";
    cfg->psk.identity_len = 11;
}

typedef struct server_ctx {
    cdtls_listener *l;
    int peers; /* how many to serve */
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
                cdtls_oob echo = {
                    oob.flags & (CDTLS_OOB_DSCP | CDTLS_OOB_ECN), oob.dscp, oob.ecn, 0, 0, {0, {0}}};
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
    /* the client's socket is connected to the server, and the marks below
     * still go and come per datagram through it */
    cr_assert(cdtls_sock_io(c)->connected);
    cr_assert_eq(cdtls_sock_io(c)->peer.port, where.port);

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
    cr_assert_eq(cdtls_sock_write_oob(c, (const uint8_t *)"raw", 3, raw, raw_len, &written, &oob_written),
                 CDTLS_OK);
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

Test(sock, every_dscp_and_ecn_ipv4, .timeout = 60)
{
    all_marks("127.0.0.1");
}
Test(sock, every_dscp_and_ecn_ipv6, .timeout = 60)
{
    all_marks("::1");
}

/* ------------------------------------------------------------ batching */

/* cdtls_sock_write_many and the socket layer's batches, counted in system
 * calls (cdtls_io_socket.send_calls / recv_calls). The two sides take
 * turns through a condition variable, so each side's datagrams are all
 * queued in the other's socket before it reads them: then the number of
 * receive calls is fixed by the batch size, not by thread timing. */
#define N_RECORDS 100

typedef struct turn {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage; /* 1: client sent its records; 2: server echoed them */
} turn;

static void turn_set(turn *t, int stage)
{
    pthread_mutex_lock(&t->mu);
    t->stage = stage;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void turn_wait(turn *t, int stage)
{
    pthread_mutex_lock(&t->mu);
    while (t->stage < stage) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

typedef struct batch_server {
    cdtls_listener *l;
    turn *t;
    int ok;        /* all N_RECORDS read in order and echoed */
    char why[128]; /* else: what went wrong */
    uint8_t dscp[N_RECORDS], ecn[N_RECORDS], marked[N_RECORDS];
    uint64_t recv_calls, send_calls; /* the listener's, for the reads / the echo */
} batch_server;

/* Record i: its number, then padding of i % 17 bytes, or of 8 for every
 * record when uniform (equal datagrams: what UDP GSO runs are made of). */
static int uniform_records;

static size_t record_text(char *buf, size_t cap, int i)
{
    return (size_t)snprintf(buf, cap, "record %03d %.*s", i, uniform_records ? 8 : i % 17,
                            "abcdefghijklmnopq");
}

/* Accepts one peer, waits until the client has sent everything, reads the
 * records checking their order, then echoes all of them back in one
 * write_many with the DSCP/ECN each arrived with. */
static void *batch_serve(void *arg)
{
    batch_server *b = arg;
    cdtls_sock *s;
    if (cdtls_listener_accept(b->l, 10000, &s) != CDTLS_OK) {
        snprintf(b->why, sizeof b->why, "accept failed");
        turn_set(b->t, 2);
        return NULL;
    }
    turn_wait(b->t, 1);
    cdtls_io_socket *io = cdtls_listener_io(b->l);
    static uint8_t data[N_RECORDS][64];
    size_t len[N_RECORDS];
    uint64_t before = io->recv_calls;
    int i = 0;
    for (; i < N_RECORDS; i++) {
        cdtls_oob got;
        int rc = cdtls_sock_read(s, data[i], sizeof data[i], &len[i], &got, 5000);
        if (rc != CDTLS_OK) {
            snprintf(b->why, sizeof b->why, "read %d: %s", i, cdtls_strerror(rc));
            break;
        }
        char want[64];
        size_t wn = record_text(want, sizeof want, i);
        if (len[i] != wn || memcmp(data[i], want, wn) != 0) {
            snprintf(b->why, sizeof b->why, "record %d out of order or damaged", i);
            break;
        }
        b->marked[i] = (got.flags & CDTLS_OOB_DSCP) != 0;
        b->dscp[i] = got.dscp;
        b->ecn[i] = got.ecn;
    }
    b->recv_calls = io->recv_calls - before;
    if (i == N_RECORDS) {
        cdtls_sock_record recs[N_RECORDS];
        memset(recs, 0, sizeof recs);
        for (int k = 0; k < N_RECORDS; k++) {
            recs[k].data = data[k];
            recs[k].len = len[k];
            if (b->marked[k] && (b->dscp[k] || b->ecn[k])) {
                recs[k].oob.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
                recs[k].oob.dscp = b->dscp[k];
                recs[k].oob.ecn = b->ecn[k];
            }
        }
        size_t written = 0;
        before = io->send_calls;
        int rc = cdtls_sock_write_many(s, recs, N_RECORDS, &written);
        b->send_calls = io->send_calls - before;
        if (rc != CDTLS_OK || written != N_RECORDS)
            snprintf(b->why, sizeof b->why, "echo: %s, %zu written", cdtls_strerror(rc), written);
        else
            b->ok = 1;
    }
    turn_set(b->t, 2);
    /* the client closes after reading the echoes */
    uint8_t sink[64];
    size_t n;
    while (cdtls_sock_read(s, sink, sizeof sink, &n, NULL, 5000) == CDTLS_OK) {
    }
    cdtls_sock_close(s);
    return NULL;
}

/* Most system calls n datagrams may take through a batch path: the
 * socket layer hands over at most 64 per cdtls_io_send_batch, which the
 * io layer cuts in chunks of 32 (plus one for a stray handshake
 * retransmission on receive). Without the one-call capability, one per
 * datagram. */
static uint64_t max_calls(size_t n, size_t per_call, int batched)
{
    return batched ? (n + per_call - 1) / per_call + 1 : n;
}

enum { UNMARKED, MARKED, UNIFORM, UNIFORM_GRO };

static void hundred_records(int mode)
{
    int marked = mode == MARKED;
    uniform_records = mode == UNIFORM || mode == UNIFORM_GRO;
    turn t = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    batch_server b;
    memset(&b, 0, sizeof b);
    b.t = &t;
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr bind, where;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, mode == UNIFORM_GRO ? CDTLS_IO_GRO : 0, &b.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(b.l), &where), CDTLS_OK);
    if (mode == UNIFORM_GRO && !(cdtls_io_caps(cdtls_listener_io(b.l)) & CDTLS_IO_CAP_RECV_GRO)) {
        cdtls_listener_close(b.l);
        cr_skip_test("no UDP GRO on this socket (Linux < 5.0, or the open probe found it wrong%s)",
                     test_emulator() ? ", as under an emulator" : "");
    }
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, batch_serve, &b), 0);
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &where, 5000, &c), CDTLS_OK);
    cdtls_io_socket *io = cdtls_sock_io(c);
    const unsigned caps = cdtls_io_caps(io);
    if (marked && !(caps & CDTLS_IO_CAP_SEND_DSCP && caps & CDTLS_IO_CAP_SEND_ECN))
        marked = 0; /* caps tell */

    static char text[N_RECORDS][64];
    cdtls_sock_record recs[N_RECORDS];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < N_RECORDS; i++) {
        recs[i].data = (const uint8_t *)text[i];
        recs[i].len = record_text(text[i], sizeof text[i], i);
        if (marked) { /* every record its own marking; 0/0 = unmarked */
            recs[i].oob.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
            recs[i].oob.dscp = (uint8_t)(i % 64);
            recs[i].oob.ecn = (uint8_t)(i % 4);
        }
    }
    size_t written = 0;
    uint64_t before = io->send_calls;
    cr_assert_eq(cdtls_sock_write_many(c, recs, N_RECORDS, &written), CDTLS_OK);
    uint64_t sent_calls = io->send_calls - before;
    cr_assert_eq(written, N_RECORDS);
    turn_set(&t, 1);
    turn_wait(&t, 2);
    cr_assert(b.ok, "server: %s", b.why);

    /* the echoes, in order, each with the marking its record had */
    before = io->recv_calls;
    for (int i = 0; i < N_RECORDS; i++) {
        uint8_t buf[64];
        size_t n;
        cdtls_oob got;
        cr_assert_eq(cdtls_sock_read(c, buf, sizeof buf, &n, &got, 5000), CDTLS_OK, "echo %d", i);
        cr_assert(n == recs[i].len && memcmp(buf, text[i], n) == 0, "echo %d out of order", i);
        if (marked) {
            cr_assert(b.marked[i], "record %d: the server's read reports a marking", i);
            cr_assert_eq(b.dscp[i], i % 64, "record %d arrived with DSCP %u", i, b.dscp[i]);
            cr_assert_eq(b.ecn[i], i % 4, "record %d arrived with ECN %u", i, b.ecn[i]);
            cr_assert_eq(got.dscp, i % 64, "echo %d DSCP", i);
            cr_assert_eq(got.ecn, i % 4, "echo %d ECN", i);
        } else if (b.marked[i]) {
            cr_assert(b.dscp[i] == 0 && b.ecn[i] == 0, "record %d was sent unmarked", i);
        }
    }
    uint64_t read_calls = io->recv_calls - before;
    const uint64_t gro_datagrams = cdtls_listener_io(b.l)->gro_datagrams;
    cdtls_sock_close(c);
    pthread_join(th, NULL);
    cdtls_listener_close(b.l);
    unsigned lcaps = caps; /* both ends run the same io code */
    fprintf(stderr,
            "sock batch (%s): %d records: client %llu send calls, server %llu receive calls, "
            "server echo %llu send calls, client %llu receive calls\n",
            marked                ? "each marked"
            : mode == UNIFORM_GRO ? "unmarked, one size, listener GRO"
            : uniform_records     ? "unmarked, one size"
                                  : "unmarked",
            N_RECORDS, (unsigned long long)sent_calls, (unsigned long long)b.recv_calls,
            (unsigned long long)b.send_calls, (unsigned long long)read_calls);
    const int sb = (lcaps & CDTLS_IO_CAP_SEND_BATCH) != 0, rb = (lcaps & CDTLS_IO_CAP_RECV_BATCH) != 0;
    /* a flush that went back to one send per datagram fails these */
    cr_assert_leq(sent_calls, max_calls(N_RECORDS, 32, sb), "%llu send calls for %d records",
                  (unsigned long long)sent_calls, N_RECORDS);
    cr_assert_leq(b.send_calls, max_calls(N_RECORDS, 32, sb), "echo: %llu send calls",
                  (unsigned long long)b.send_calls);
    /* 16 datagrams per listener receive, 4 per client receive */
    cr_assert_leq(b.recv_calls, max_calls(N_RECORDS, 16, rb), "listener: %llu receive calls",
                  (unsigned long long)b.recv_calls);
    cr_assert_leq(read_calls, max_calls(N_RECORDS, 4, rb), "client: %llu receive calls",
                  (unsigned long long)read_calls);
    if (mode == UNIFORM_GRO && (lcaps & CDTLS_IO_CAP_SEND_GSO)) {
        /* both batches of the client came coalesced: two reads, one call */
        cr_assert_geq(gro_datagrams, N_RECORDS, "%llu of %d records came coalesced",
                      (unsigned long long)gro_datagrams, N_RECORDS);
        cr_assert_leq(b.recv_calls, 2, "listener: %llu receive calls with GRO",
                      (unsigned long long)b.recv_calls);
    }
    if (uniform_records && (lcaps & CDTLS_IO_CAP_SEND_GSO)) {
        /* 64 equal unmarked datagrams per batch go down as one GSO send:
         * one sendmmsg for each of the two batches, each way */
        cr_assert_leq(sent_calls, 2, "%llu send calls with GSO", (unsigned long long)sent_calls);
        cr_assert_leq(b.send_calls, 2, "echo: %llu send calls with GSO", (unsigned long long)b.send_calls);
    }
}

Test(sock_batch, hundred_marked_records_in_order_with_their_marks, .timeout = 60)
{
    hundred_records(MARKED);
}

Test(sock_batch, hundred_unmarked_records_in_order, .timeout = 60)
{
    hundred_records(UNMARKED);
}

Test(sock_batch, hundred_equal_records_as_gso_runs, .timeout = 60)
{
    hundred_records(UNIFORM);
}

/* The same GSO runs to a listener with UDP GRO: they reach it as two
 * coalesced reads, which the io layer cuts back into the 100 datagrams
 * (in order, each decrypted as its own record). */
Test(sock_batch, hundred_equal_records_to_a_gro_listener, .timeout = 60)
{
    hundred_records(UNIFORM_GRO);
}
