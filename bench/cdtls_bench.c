/* cdtls benchmarks (issue 9): one program per provider (cdtls-bench-bearssl,
 * cdtls-bench-sodium), built ReleaseFast by `zig build bench`, run by
 * scripts/bench.sh next to bench/openssl_bench.c and bench/pion/.
 *
 * Workloads (--only NAME runs one):
 *   handshake  full handshakes over loopback UDP, client and server driven by
 *              this one thread (so per CPU second = per core)
 *   resume     session-ID resumption (RFC 5246 §7.3), same loop
 *   hs13       full DTLS 1.3 handshakes (Ed25519 + ChaCha20, P-256 + AES-GCM), X25519
 *              and X25519MLKEM768 (a skip where the provider has no ML-KEM)
 *   tput13     one DTLS 1.3 connection (X25519): 1200-byte records, MB/s
 *   tput       one connection over loopback: 1200-byte records (bytes/s) and
 *              64-byte records (records/s), windows of 32 records, datagram
 *              by datagram and batched (sendmmsg/recvmmsg, cdtls_io_*_batch),
 *              the engine over io sockets connected to each other and asking
 *              for no receive reports, as OpenSSL's program's sockets are
 *              (--tput-net plain|connected|quiet|both chooses: unconnected
 *              with every report, connected only, no reports only, both);
 *              and the socket layer as its users get it by default: a
 *              cdtls_sock_dial client writing with cdtls_sock_write_many, a
 *              cdtls_listener-accepted server reading with cdtls_sock_read
 *              (workloads tput1200_sock, rec64_sock)
 *   engine     in memory, no sockets: ns per record for the provider's raw
 *              AEAD seal+open, the record layer's record_seal+record_open,
 *              and the whole engine (conn_write, next_datagram, conn_recv,
 *              conn_read), at 64 and 1200 bytes; and the engine through the
 *              borrowing calls (conn_write, peek_datagram, conn_recv from the
 *              queued datagram, pop_datagram, peek_read, pop_read)
 *   memory     bytes per established connection and peak in the handshake,
 *              each side, through a counting allocator
 *   scale      a cdtls_listener holding --scale established peers (10,000):
 *              memory per peer, handshake rate empty and under that load
 *   workers    a worker group (cdtls/workers.h) of 1, then 2 workers on one
 *              port, one thread each, loaded from this process: full
 *              handshakes (PSK, ECDSA P-256) and 1200-byte records per wall
 *              second, and the scaling ratio (2 workers / 1)
 *   cbc_timing record_open of MAC-then-encrypt CBC records, good against
 *              bad padding: median ns each and their difference (Lucky
 *              Thirteen; docs/security.md)
 *
 * Results are JSON lines (bench_common.h). Microbenchmarks report the best
 * of 3 runs of CPU time, which is what survives other load on the machine. */
#include "bench_common.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cdtls/cdtls.h"
#include "cdtls/io.h"
#include "cdtls/sock.h"
#include "cdtls/suites.h"
#include "cdtls/workers.h"
/* the record layer's own entry points, for its cost without the engine */
#include "common/reader.h"
#include "record/record.h"

static int quick; /* --quick: shorter runs, for trying the program out */
/* --tput-net: how the throughput rows' io sockets are set up. Bit 1:
 * connected to each other (cdtls_io_connect), bit 2: no receive reports
 * (cdtls_io_set_recv_reports 0). Both by default, as OpenSSL's program
 * (connected BIO_s_datagram sockets, no reports asked for). */
#define TPUT_NET_CONNECT 1
#define TPUT_NET_QUIET 2
static int tput_net = TPUT_NET_CONNECT | TPUT_NET_QUIET;
static const char *only_suite; /* --suite NAME: only that suite (profiling) */

static int skip_suite(const char *name)
{
    return only_suite && strcmp(only_suite, name) != 0;
}

/* ------------------------------------------------------------ allocator */

typedef struct counting {
    cdtls_allocator a;
    bench_counter n;
} counting;

/* Both sides of a pair together, as the OpenSSL and pion programs can
 * only measure them (one process, one heap): its peak is the simultaneous
 * one, not the sum of each side's. */
static bench_counter pair_count;

static void *count_alloc(void *ctx, size_t n)
{
    counting *c = ctx;
    void *p = malloc(n);
    if (p) {
        bench_count_alloc(&c->n, n);
        bench_count_alloc(&pair_count, n);
    }
    return p;
}

static void count_free(void *ctx, void *p, size_t n)
{
    counting *c = ctx;
    bench_count_free(&c->n, n);
    bench_count_free(&pair_count, n);
    free(p);
}

static void counting_init(counting *c)
{
    memset(c, 0, sizeof *c);
    c->a.alloc = count_alloc;
    c->a.free = count_free;
    c->a.ctx = c;
}

/* ------------------------------------------------------------- configs */

static const uint8_t psk[16] = "bench-psk-16byte";
static const char *certs_dir = "zig-out/bench/certs";

typedef struct suite_def {
    const char *name;
    uint16_t suite;
    int psk;          /* PSK suite */
    const char *cert; /* certificate suites: file stem in certs_dir */
    uint16_t group;   /* ECDHE group */
} suite_def;

static const suite_def hs_suites[] = {
    {"PSK-AES128-GCM-SHA256", CDTLS_PSK_WITH_AES_128_GCM_SHA256, 1, NULL, 0},
    {"PSK-CHACHA20-POLY1305-SHA256", CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, 1, NULL, 0},
    {"ECDHE-ECDSA-AES128-GCM-SHA256/P-256", CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0, "p256", 23},
    {"ECDHE-ECDSA-CHACHA20-POLY1305/X25519/Ed25519", CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0,
     "ed25519", 29},
};

typedef struct cert_set {
    uint8_t leaf[2048], root[2048];
    size_t leaf_len, root_len;
    const uint8_t *chain[1];
    size_t chain_len[1];
    cdtls_sign_key *key;
    cdtls_x509_cert anchor;
} cert_set;

static int64_t unix_now(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static int load_pem_cert(const char *path, uint8_t *der, size_t cap, size_t *len)
{
    uint8_t *text;
    size_t n;
    if (cdtls_read_file(path, NULL, &text, &n) != CDTLS_OK) return -1;
    int rc = cdtls_pem_decode((const char *)text, n, "CERTIFICATE", der, cap, len, NULL);
    cdtls_free_file(NULL, text, n);
    return rc;
}

/* certs_dir/<stem>-leaf.pem, -leaf.key, -root.pem (bench.sh makes them). */
static int load_certs(const char *stem, cert_set *cs)
{
    char path[512];
    memset(cs, 0, sizeof *cs);
    snprintf(path, sizeof path, "%s/%s-leaf.pem", certs_dir, stem);
    if (load_pem_cert(path, cs->leaf, sizeof cs->leaf, &cs->leaf_len)) return -1;
    snprintf(path, sizeof path, "%s/%s-root.pem", certs_dir, stem);
    if (load_pem_cert(path, cs->root, sizeof cs->root, &cs->root_len)) return -1;
    if (cdtls_x509_parse(cs->root, cs->root_len, &cs->anchor) != CDTLS_OK) return -1;
    snprintf(path, sizeof path, "%s/%s-leaf.key", certs_dir, stem);
    uint8_t *k;
    size_t kn;
    if (cdtls_read_file(path, NULL, &k, &kn) != CDTLS_OK) return -1;
    int rc = cdtls_private_key_load(cdtls_provider_default(), NULL, k, kn, &cs->key);
    cdtls_free_file(NULL, k, kn);
    if (rc) return -1;
    cs->chain[0] = cs->leaf;
    cs->chain_len[0] = cs->leaf_len;
    return 0;
}

/* Client and server configs for a suite; NULL allocator = libc. */
static int make_cfgs(const suite_def *sd, cert_set *cs, const uint16_t *suite, const uint16_t *group,
                     cdtls_config *cc, cdtls_config *sc)
{
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), sd->suite)) return -1;
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    /* 1200-byte records need room for the record header and AEAD
     * expansion: a 1500-byte MTU (Ethernet), the same in every program */
    cc->mtu = sc->mtu = 1500;
    cc->negotiate.cipher_suites = sc->negotiate.cipher_suites = suite;
    cc->negotiate.n_cipher_suites = sc->negotiate.n_cipher_suites = 1;
    if (sd->psk) {
        cc->psk.key = sc->psk.key = psk;
        cc->psk.key_len = sc->psk.key_len = sizeof psk;
        cc->psk.identity = sc->psk.identity = (const uint8_t *)"bench";
        cc->psk.identity_len = sc->psk.identity_len = 5;
    } else {
        if (load_certs(sd->cert, cs)) return -1;
        cc->negotiate.groups = sc->negotiate.groups = group;
        cc->negotiate.n_groups = sc->negotiate.n_groups = 1;
        sc->credentials.chain = cs->chain;
        sc->credentials.chain_len = cs->chain_len;
        sc->credentials.n_certs = 1;
        sc->credentials.private_key = cs->key;
        cc->verify.trust_anchors = &cs->anchor;
        cc->verify.n_trust_anchors = 1;
        cc->server_name = "bench.example";
        cc->callbacks.unix_time = unix_now;
    }
    return 0;
}

static void free_certs(cert_set *cs)
{
    if (cs->key) cdtls_provider_default()->sign_key_free(NULL, cs->key);
    cs->key = NULL;
}

/* ------------------------------------------------------ loopback pairs */

typedef struct ep {
    cdtls_io_socket io;
    cdtls_addr addr;
    cdtls_conn *c;
    /* Server: the stateless cookie check, made once as cdtls_listener makes
     * it (OpenSSL's program likewise keys its cookies once), and the config
     * its connection is made from when a ClientHello passes it. */
    cdtls_hello_verifier *hv;
    const cdtls_config *cfg;
} ep;

typedef struct net {
    ep cli, srv;
    int batch; /* use cdtls_io_send_batch / cdtls_io_recv_batch (2: with GSO, 3: and GRO) */
} net;

#define WINDOW 32u
#define DGRAM 2048u

static uint8_t txbuf[WINDOW][DGRAM], rxbuf[WINDOW][DGRAM];
static uint8_t app[16384];

static void net_open(net *n, int batch)
{
    memset(n, 0, sizeof *n);
    cdtls_addr lo;
    cdtls_addr_parse("127.0.0.1", 0, &lo);
    /* No DSCP probe: the benchmark sends no marks. Non-blocking: a receive
     * is one recvmsg, as in the OpenSSL and pion programs. With GRO (batch
     * 3) the open's probe runs: GRO is kept only where it cuts a GSO run
     * back into the datagrams sent. */
    unsigned flags = CDTLS_IO_NONBLOCK | (batch == 3 ? CDTLS_IO_GRO : CDTLS_IO_NO_PROBE);
    if (cdtls_io_open(&n->cli.io, &lo, flags) || cdtls_io_open(&n->srv.io, &lo, flags)) {
        fprintf(stderr, "cannot open loopback sockets\n");
        exit(1);
    }
    cdtls_io_local_addr(&n->cli.io, &n->cli.addr);
    cdtls_io_local_addr(&n->srv.io, &n->srv.addr);
    n->batch = batch;
    /* batch 1: sendmmsg/recvmmsg only; 2: UDP GSO too where the kernel has it */
    if (batch < 2) {
        n->cli.io.caps &= ~(unsigned)CDTLS_IO_CAP_SEND_GSO;
        n->srv.io.caps &= ~(unsigned)CDTLS_IO_CAP_SEND_GSO;
    }
}

static void net_close(net *n)
{
    cdtls_hello_verifier_free(n->srv.hv);
    n->srv.hv = NULL;
    cdtls_io_close(&n->cli.io);
    cdtls_io_close(&n->srv.io);
}

/* The loss sweep (--only loss): each datagram sent, either way, is dropped
 * with probability loss_p, drawn from a fixed-seed xorshift64 (the same
 * generator and seeds as openssl_bench.c and the pion program). 0 elsewhere. */
static double loss_p;
static uint64_t loss_rng = 0x9e3779b97f4a7c15u;

static int loss_drop(void)
{
    if (loss_p <= 0) return 0;
    loss_rng ^= loss_rng << 13;
    loss_rng ^= loss_rng >> 7;
    loss_rng ^= loss_rng << 17;
    return (double)(loss_rng >> 11) / 9007199254740992.0 < loss_p;
}

/* Sends what from's engine queued to `to`; returns datagrams sent. */
static size_t flush_ep(net *n, ep *from, const ep *to)
{
    size_t total = 0;
    for (;;) {
        size_t k = 0;
        cdtls_io_msg msgs[WINDOW];
        while (k < WINDOW) {
            size_t len;
            if (cdtls_conn_next_datagram(from->c, txbuf[k], DGRAM, &len, NULL) != CDTLS_OK) break;
            if (!n->batch) {
                if (!loss_drop()) (void)cdtls_io_send(&from->io, txbuf[k], len, &to->addr, NULL, NULL, 0);
                total++;
                continue;
            }
            memset(&msgs[k], 0, sizeof msgs[k]);
            msgs[k].buf = txbuf[k];
            msgs[k].len = len;
            msgs[k].addr = to->addr;
            k++;
        }
        if (k == 0) return total;
        size_t sent = 0;
        (void)cdtls_io_send_batch(&from->io, msgs, k, &sent);
        total += k;
    }
}

/* One datagram for e: to its engine, or, for a server without a
 * connection yet, through the cookie check first (a HelloVerifyRequest goes
 * back; a ClientHello with a valid cookie makes the connection). */
static void deliver_ep(ep *e, const uint8_t *d, size_t len, const cdtls_addr *from, uint64_t now)
{
    if (e->c || !e->hv) {
        if (e->c) (void)cdtls_conn_recv(e->c, d, len, NULL, now);
        return;
    }
    uint8_t reply[512];
    size_t rlen = 0;
    /* as cdtls_listener: a fragmented hello is reassembled by the verifier
     * and handed over whole (with the plain check, the new connection got
     * only the datagram that completed it and waited a retransmission for
     * the rest: the 1.3 hybrid's resumed hello took 1 s) */
    uint8_t *hello = NULL;
    size_t hello_len = 0;
    int rc = cdtls_hello_verifier_check_full(e->hv, from, sizeof *from, d, len, now, reply, sizeof reply,
                                             &rlen, &hello, &hello_len);
    if (rc == CDTLS_ERR_WOULD_BLOCK) {
        if (rlen && !loss_drop()) (void)cdtls_io_send(&e->io, reply, rlen, from, NULL, NULL, 0);
    } else if (rc == CDTLS_OK && cdtls_conn_new(e->cfg, CDTLS_SERVER, now, &e->c) == CDTLS_OK) {
        cdtls_conn_set_peer_address(e->c, from, sizeof *from);
        cdtls_conn_set_cookie_verified(e->c);
        (void)cdtls_conn_recv(e->c, hello ? hello : d, hello ? hello_len : len, NULL, now);
    }
    if (hello) cdtls_hello_verifier_release(e->hv, hello, hello_len);
}

/* Feeds e's engine everything queued on its socket; returns datagrams. */
static size_t drain_ep(net *n, ep *e)
{
    size_t total = 0;
    uint64_t now = cdtls_io_now_ms();
    for (;;) {
        if (n->batch) {
            cdtls_io_msg msgs[WINDOW];
            memset(msgs, 0, sizeof msgs);
            for (unsigned i = 0; i < WINDOW; i++) msgs[i].buf = rxbuf[i], msgs[i].cap = DGRAM;
            size_t k = 0;
            if (cdtls_io_recv_batch(&e->io, msgs, WINDOW, &k, -1) != CDTLS_OK) return total;
            for (size_t i = 0; i < k; i++)
                if (!msgs[i].truncated) deliver_ep(e, msgs[i].buf, msgs[i].len, &msgs[i].addr, now);
            total += k;
        } else {
            size_t len;
            cdtls_addr from;
            if (cdtls_io_recv(&e->io, rxbuf[0], DGRAM, &len, &from, NULL, NULL, 0, NULL, -1) != CDTLS_OK)
                return total;
            deliver_ep(e, rxbuf[0], len, &from, now);
            total++;
        }
    }
}

/* Waits for either socket (or the nearer timer), then fires due timers. */
static void net_wait(net *n, int ms)
{
    struct pollfd p[2] = {{n->cli.io.fd, POLLIN, 0}, {n->srv.io.fd, POLLIN, 0}};
    (void)poll(p, 2, ms);
    uint64_t now = cdtls_io_now_ms();
    if (cdtls_conn_timeout(n->cli.c) <= now) (void)cdtls_conn_on_timeout(n->cli.c, now);
    if (cdtls_conn_timeout(n->srv.c) <= now) (void)cdtls_conn_on_timeout(n->srv.c, now);
}

static int established(const cdtls_conn *c)
{
    return c && cdtls_conn_get_state(c) == CDTLS_STATE_ESTABLISHED;
}

static int failed(const cdtls_conn *c)
{
    if (!c) return 0;
    cdtls_conn_state s = cdtls_conn_get_state(c);
    return s == CDTLS_STATE_FAILED || s == CDTLS_STATE_CLOSED;
}

/* One handshake between new engines over n's sockets. Returns 0 when both
 * sides are established (*resumed: the client's cdtls_conn_resumed). The
 * engines stay in n->cli.c / n->srv.c for the caller to use and free. */
static int net_handshake(net *n, const cdtls_config *cc, const cdtls_config *sc, int *resumed)
{
    uint64_t now = cdtls_io_now_ms();
    if (cdtls_conn_new(cc, CDTLS_CLIENT, now, &n->cli.c)) return -1;
    /* the server's connection is made when its ClientHello passes the
     * cookie check (deliver_ep), as in cdtls_listener */
    if (!n->srv.hv && cdtls_hello_verifier_new(sc, now, &n->srv.hv)) return -1;
    n->srv.cfg = sc;
    /* the client keys its session store by the server's address */
    cdtls_conn_set_peer_address(n->cli.c, &n->srv.addr, sizeof n->srv.addr);
    if (cdtls_conn_start(n->cli.c, now)) return -1;
    for (int idle = 0; idle < 20;) {
        size_t moved = flush_ep(n, &n->cli, &n->srv);
        moved += drain_ep(n, &n->srv);
        moved += flush_ep(n, &n->srv, &n->cli);
        moved += drain_ep(n, &n->cli);
        if (established(n->cli.c) && established(n->srv.c)) {
            flush_ep(n, &n->cli, &n->srv);
            flush_ep(n, &n->srv, &n->cli);
            if (resumed) *resumed = cdtls_conn_resumed(n->cli.c);
            return 0;
        }
        if (failed(n->cli.c) || failed(n->srv.c)) {
            fprintf(stderr, "handshake failed: client %d server %d\n", cdtls_conn_error(n->cli.c),
                    cdtls_conn_error(n->srv.c));
            return -1;
        }
        if (!moved) {
            net_wait(n, 100);
            idle++;
        }
    }
    fprintf(stderr, "handshake stalled\n");
    return -1;
}

static void net_free_conns(net *n)
{
    cdtls_conn_free(n->cli.c);
    cdtls_conn_free(n->srv.c);
    n->cli.c = n->srv.c = NULL;
}

/* -------------------------------------------------------- handshakes */

static void bench_handshakes(int resume)
{
    const char *wl = resume ? "resume" : "handshake";
    for (size_t i = 0; i < sizeof hs_suites / sizeof hs_suites[0]; i++) {
        const suite_def *sd = &hs_suites[i];
        cert_set cs;
        cdtls_config cc, sc;
        uint16_t suite = sd->suite, group = sd->group;
        memset(&cs, 0, sizeof cs);
        if (skip_suite(sd->name)) continue;
        if (make_cfgs(sd, &cs, &suite, &group, &cc, &sc)) {
            free_certs(&cs);
            continue; /* this provider cannot do the suite (or no certs) */
        }
        cdtls_session_cache ccache, scache;
        static cdtls_session_cache_entry cent[4], sent[64];
        if (resume) {
            cc.resumption.store = cdtls_session_cache_init(&ccache, cent, 4);
            sc.resumption.store = cdtls_session_cache_init(&scache, sent, 64);
        }
        net n;
        net_open(&n, 0);
        int iters = quick ? 50 : (sd->psk ? 3000 : 600);
        /* warm-up; for resume, the full handshake that makes the session */
        int resumed = 0, ok = 1;
        for (int w = 0; w < 5 && ok; w++) {
            ok = net_handshake(&n, &cc, &sc, &resumed) == 0;
            net_free_conns(&n);
        }
        if (!ok) {
            bench_not_measured(wl, sd->name, "handshake failed");
            goto next;
        }
        if (resume && !resumed) {
            bench_not_measured(wl, sd->name, "the client did not resume (cdtls_conn_resumed() == 0)");
            goto next;
        }
        double best = 0, wall_rate = 0;
        for (int rep = 0; rep < 3 && ok; rep++) {
            double w0 = bench_wall(), c0 = bench_cpu();
            int done = 0;
            for (; done < iters; done++) {
                if (net_handshake(&n, &cc, &sc, &resumed) != 0 || (resume && !resumed)) {
                    ok = 0;
                    break;
                }
                net_free_conns(&n);
            }
            double cpu = bench_cpu() - c0, wall = bench_wall() - w0;
            if (cpu > 0 && done / cpu > best) {
                best = done / cpu;
                wall_rate = done / wall;
            }
        }
        if (!ok) {
            bench_not_measured(wl, sd->name,
                               resume ? "a handshake failed or did not resume" : "a handshake failed");
        } else {
            bench_result(wl, sd->name, "hs_per_cpu_s", best);
            bench_result(wl, sd->name, "hs_per_wall_s", wall_rate);
        }
    next:
        net_free_conns(&n);
        net_close(&n);
        free_certs(&cs);
    }
}

/* -------------------------------------------------------- throughput */

static const suite_def tput_suites[] = {
    {"PSK-AES128-GCM-SHA256", CDTLS_PSK_WITH_AES_128_GCM_SHA256, 1, NULL, 0},
    {"PSK-CHACHA20-POLY1305-SHA256", CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, 1, NULL, 0},
};

/* Client -> server, windows of WINDOW records: written, sent, received,
 * decrypted, read. Returns CPU seconds; *lost counts records that did not
 * arrive within 200 ms (UDP may drop; none should on loopback). */
static double run_stream(net *n, size_t rec, size_t total, size_t *lost, double *wall)
{
    memset(app, 0x5a, rec);
    *lost = 0;
    double w0 = bench_wall(), c0 = bench_cpu();
    size_t got_total = 0;
    for (size_t sent = 0; sent < total; sent += WINDOW) {
        for (unsigned i = 0; i < WINDOW; i++)
            if (cdtls_conn_write(n->cli.c, app, rec, NULL) != CDTLS_OK) {
                fprintf(stderr, "write failed\n");
                exit(1);
            }
        flush_ep(n, &n->cli, &n->srv);
        size_t got = 0;
        while (got < WINDOW) {
            if (drain_ep(n, &n->srv) == 0) {
                struct pollfd p = {n->srv.io.fd, POLLIN, 0};
                if (poll(&p, 1, 200) <= 0) break;
            }
            size_t len;
            while (cdtls_conn_read(n->srv.c, rxbuf[0], DGRAM, &len, NULL) == CDTLS_OK) got++;
        }
        got_total += got;
        *lost += WINDOW - got;
    }
    *wall = bench_wall() - w0;
    (void)got_total;
    return bench_cpu() - c0;
}

/* The socket layer as its users get it by default. cdtls_sock_dial runs
 * its handshake to the end before it returns, so it runs in a thread of
 * its own while this one serves the listener; the stream itself runs in
 * this thread only, as the other rows. */
typedef struct dial_job {
    const cdtls_config *cfg;
    cdtls_addr srv;
    cdtls_sock *s;
    int rc;
} dial_job;

static void *dial_thread(void *arg)
{
    dial_job *j = arg;
    j->rc = cdtls_sock_dial(j->cfg, &j->srv, 5000, &j->s);
    return NULL;
}

/* As run_stream, through the socket layer: the client writes each window
 * with one cdtls_sock_write_many (its flush: one cdtls_io_send_batch), the
 * accepted server socket reads with cdtls_sock_read and timeout 0 (each
 * read with nothing queued steps the listener once: a poll and one
 * recvmmsg of up to 16 datagrams); when nothing is there, a poll on the
 * listener's socket waits, 200 ms at most (then the rest of the window
 * counts as lost). */
static double run_sock_stream(cdtls_sock *cli, cdtls_sock *srv, const cdtls_io_socket *lio, size_t rec,
                              size_t total, size_t *lost, double *wall)
{
    memset(app, 0x5a, rec);
    cdtls_sock_record recs[WINDOW];
    memset(recs, 0, sizeof recs);
    for (unsigned i = 0; i < WINDOW; i++) recs[i].data = app, recs[i].len = rec;
    *lost = 0;
    double w0 = bench_wall(), c0 = bench_cpu();
    for (size_t sent = 0; sent < total; sent += WINDOW) {
        size_t written = 0;
        int rc = cdtls_sock_write_many(cli, recs, WINDOW, &written);
        if (rc != CDTLS_OK || written != WINDOW) {
            fprintf(stderr, "cdtls_sock_write_many: %s (%zu written)\n", cdtls_strerror(rc), written);
            exit(1);
        }
        size_t got = 0;
        while (got < WINDOW) {
            size_t len;
            rc = cdtls_sock_read(srv, rxbuf[0], DGRAM, &len, NULL, 0);
            if (rc == CDTLS_OK) {
                got++;
                continue;
            }
            if (rc != CDTLS_ERR_WOULD_BLOCK) {
                fprintf(stderr, "cdtls_sock_read: %s\n", cdtls_strerror(rc));
                exit(1);
            }
            struct pollfd p = {lio->fd, POLLIN, 0};
            if (poll(&p, 1, 200) <= 0) break;
        }
        *lost += WINDOW - got;
    }
    *wall = bench_wall() - w0;
    return bench_cpu() - c0;
}

static void bench_tput_sock(const suite_def *sd, const cdtls_config *cc, const cdtls_config *sc)
{
    cdtls_addr lo;
    cdtls_addr_parse("127.0.0.1", 0, &lo);
    cdtls_listener *l;
    if (cdtls_listener_open(sc, &lo, 0, &l) != CDTLS_OK) {
        bench_not_measured("tput_sock", sd->name, "cdtls_listener_open failed");
        return;
    }
    dial_job j = {cc, lo, NULL, -1};
    cdtls_io_local_addr(cdtls_listener_io(l), &j.srv);
    pthread_t th;
    if (pthread_create(&th, NULL, dial_thread, &j) != 0) {
        bench_not_measured("tput_sock", sd->name, "no thread for the dial");
        cdtls_listener_close(l);
        return;
    }
    cdtls_sock *srv = NULL;
    int arc = cdtls_listener_accept(l, 5000, &srv);
    pthread_join(th, NULL);
    if (arc != CDTLS_OK || j.rc != CDTLS_OK) {
        bench_not_measured("tput_sock", sd->name, "handshake failed");
        if (srv) cdtls_sock_close(srv);
        if (j.s) cdtls_sock_close(j.s);
        cdtls_listener_close(l);
        return;
    }
    const cdtls_io_socket *lio = cdtls_listener_io(l);
    size_t lost;
    double wall;
    run_sock_stream(j.s, srv, lio, 16, WINDOW, &lost, &wall); /* retires the server's last flight */
    const size_t sizes[2] = {1200, 64};
    for (int s = 0; s < 2; s++) {
        size_t total = quick ? 20000 : (sizes[s] == 1200 ? 200000 : 300000);
        double best = 1e9, best_wall = 0;
        size_t best_lost = 0;
        for (int rep = 0; rep < 3; rep++) {
            double cpu = run_sock_stream(j.s, srv, lio, sizes[s], total, &lost, &wall);
            if (cpu < best) best = cpu, best_wall = wall, best_lost = lost;
        }
        const char *wl = sizes[s] == 1200 ? "tput1200_sock" : "rec64_sock";
        bench_stream_result(wl, sd->name, sizes[s], total, best_lost, best, best_wall);
    }
    cdtls_sock_close(j.s);
    cdtls_sock_close(srv);
    cdtls_listener_close(l);
}

static void bench_tput(void)
{
    for (size_t i = 0; i < sizeof tput_suites / sizeof tput_suites[0]; i++) {
        const suite_def *sd = &tput_suites[i];
        cdtls_config cc, sc;
        cert_set cs;
        uint16_t suite = sd->suite;
        if (skip_suite(sd->name)) continue;
        if (make_cfgs(sd, &cs, &suite, NULL, &cc, &sc)) continue;
        for (int batch = 0; batch < 4; batch++) {
            net n;
            net_open(&n, batch);
            if (tput_net & TPUT_NET_CONNECT) {
                /* one peer each: sends go without an address (no route
                 * lookup per datagram), as OpenSSL's connected sockets */
                if (cdtls_io_connect(&n.cli.io, &n.srv.addr) || cdtls_io_connect(&n.srv.io, &n.cli.addr)) {
                    fprintf(stderr, "cannot connect the loopback sockets\n");
                    exit(1);
                }
            }
            if (tput_net & TPUT_NET_QUIET) {
                /* the stream reads no OOB: no reports for the kernel to add */
                (void)cdtls_io_set_recv_reports(&n.cli.io, 0);
                (void)cdtls_io_set_recv_reports(&n.srv.io, 0);
            }
            if (batch >= 2 && !(cdtls_io_caps(&n.cli.io) & CDTLS_IO_CAP_SEND_GSO)) {
                bench_not_measured(batch == 2 ? "tput_gso" : "tput_gro", sd->name,
                                   "no UDP GSO on this system");
                net_close(&n);
                continue;
            }
            if (batch == 3 && !(cdtls_io_caps(&n.srv.io) & CDTLS_IO_CAP_RECV_GRO)) {
                bench_not_measured("tput_gro", sd->name, "no UDP GRO on this system");
                net_close(&n);
                continue;
            }
            if (net_handshake(&n, &cc, &sc, NULL) != 0) {
                bench_not_measured("tput", sd->name, "handshake failed");
                net_free_conns(&n);
                net_close(&n);
                continue;
            }
            /* The server's final flight is kept until the client's first
             * data shows it arrived; one record settles that. */
            size_t lost;
            double wall;
            run_stream(&n, 16, WINDOW, &lost, &wall);
            const size_t sizes[2] = {1200, 64};
            for (int s = 0; s < 2; s++) {
                size_t total = quick ? 20000 : (sizes[s] == 1200 ? 200000 : 300000);
                double best = 1e9, best_wall = 0;
                size_t best_lost = 0;
                const uint64_t gro0 = n.srv.io.gro_datagrams;
                for (int rep = 0; rep < 3; rep++) {
                    double cpu = run_stream(&n, sizes[s], total, &lost, &wall);
                    if (cpu < best) best = cpu, best_wall = wall, best_lost = lost;
                }
                char wl[64];
                snprintf(wl, sizeof wl, "%s%s", sizes[s] == 1200 ? "tput1200" : "rec64",
                         batch == 3   ? "_gro"
                         : batch == 2 ? "_gso"
                         : batch      ? "_batch"
                                      : "");
                /* how much of the stream the kernel handed over coalesced */
                if (batch == 3)
                    bench_result(wl, sd->name, "gro_share",
                                 (double)(n.srv.io.gro_datagrams - gro0) / (3.0 * (double)total));
                bench_stream_result(wl, sd->name, sizes[s], total, best_lost, best, best_wall);
            }
            net_free_conns(&n);
            net_close(&n);
        }
        bench_tput_sock(sd, &cc, &sc);
    }
}

/* ----------------------------------------- throughput by record size */

/* The tput stream (per datagram, connected, no reports) at each record size
 * of tputsize_sizes, for the chart of throughput against record size
 * (bench/charts.py); the same sizes in openssl_bench.c and the pion program. */
static const size_t tputsize_sizes[] = {64, 256, 512, 1024, 1200, 1400};

static void bench_tputsize(void)
{
    for (size_t i = 0; i < sizeof tput_suites / sizeof tput_suites[0]; i++) {
        const suite_def *sd = &tput_suites[i];
        cdtls_config cc, sc;
        cert_set cs;
        uint16_t suite = sd->suite;
        if (skip_suite(sd->name)) continue;
        if (make_cfgs(sd, &cs, &suite, NULL, &cc, &sc)) continue;
        net n;
        net_open(&n, 0);
        if (cdtls_io_connect(&n.cli.io, &n.srv.addr) || cdtls_io_connect(&n.srv.io, &n.cli.addr)) exit(1);
        (void)cdtls_io_set_recv_reports(&n.cli.io, 0);
        (void)cdtls_io_set_recv_reports(&n.srv.io, 0);
        if (net_handshake(&n, &cc, &sc, NULL) != 0) {
            bench_not_measured("tputsize", sd->name, "handshake failed");
        } else {
            size_t lost;
            double wall;
            run_stream(&n, 16, WINDOW, &lost, &wall);
            for (size_t k = 0; k < sizeof tputsize_sizes / sizeof tputsize_sizes[0]; k++) {
                size_t size = tputsize_sizes[k], total = quick ? 4000 : 30016;
                double best = 1e9;
                size_t best_lost = 0;
                for (int rep = 0; rep < 2; rep++) {
                    double cpu = run_stream(&n, size, total, &lost, &wall);
                    if (cpu < best) best = cpu, best_lost = lost;
                }
                char wl[32];
                snprintf(wl, sizeof wl, "tputsize%zu", size);
                bench_result(wl, sd->name, "MB_per_cpu_s",
                             (double)(total - best_lost) * (double)size / best / 1e6);
                bench_result(wl, sd->name, "lost", (double)best_lost);
            }
        }
        net_free_conns(&n);
        net_close(&n);
    }
}

/* ------------------------------------------------- handshake under loss */

/* Handshake completion time against packet loss (bench/charts.py): a PSK
 * handshake (cookie exchange on) over loopback with loss_p of the datagrams
 * dropped at the sender, each way. All three programs use the same timer
 * policy, scaled down so that the sweep takes minutes: the first
 * retransmission after 50 ms, doubling up to 1.6 s (RFC 6347's 1 s / 60 s,
 * divided by 20 and 37.5); pion has one fixed interval (FlightInterval,
 * 50 ms). A handshake not done within 30 s counts as failed. */
#define LOSS_INITIAL_MS 50
#define LOSS_MAX_MS 1600

static int loss_handshake(net *n, const cdtls_config *cc, const cdtls_config *sc, double *ms)
{
    double w0 = bench_wall();
    uint64_t now = cdtls_io_now_ms();
    if (cdtls_conn_new(cc, CDTLS_CLIENT, now, &n->cli.c)) return -1;
    if (!n->srv.hv && cdtls_hello_verifier_new(sc, now, &n->srv.hv)) return -1;
    n->srv.cfg = sc;
    if (cdtls_conn_start(n->cli.c, now)) return -1;
    while (bench_wall() - w0 < 30) {
        size_t moved = flush_ep(n, &n->cli, &n->srv);
        moved += drain_ep(n, &n->srv);
        moved += flush_ep(n, &n->srv, &n->cli);
        moved += drain_ep(n, &n->cli);
        if (established(n->cli.c) && established(n->srv.c)) {
            *ms = (bench_wall() - w0) * 1e3;
            return 0;
        }
        if (failed(n->cli.c) || failed(n->srv.c)) return -1;
        if (!moved) net_wait(n, 2);
    }
    return -1;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_loss(void)
{
    const suite_def *sd = &hs_suites[0];
    cdtls_config cc, sc;
    cert_set cs;
    uint16_t suite = sd->suite;
    if (make_cfgs(sd, &cs, &suite, NULL, &cc, &sc)) return;
    cc.timers.retransmit_initial_ms = sc.timers.retransmit_initial_ms = LOSS_INITIAL_MS;
    cc.timers.retransmit_max_ms = sc.timers.retransmit_max_ms = LOSS_MAX_MS;
    cc.timers.handshake_timeout_ms = sc.timers.handshake_timeout_ms = 30000;
    int iters = quick ? 4 : 12;
    for (int pct = 0; pct <= 50; pct += 10) {
        loss_p = pct / 100.0;
        loss_rng = 0x9e3779b97f4a7c15u + (uint64_t)pct;
        net n;
        net_open(&n, 0);
        double t[64];
        int done = 0, lost_hs = 0;
        for (int k = 0; k < iters; k++) {
            double ms;
            if (loss_handshake(&n, &cc, &sc, &ms) == 0)
                t[done++] = ms;
            else
                lost_hs++;
            net_free_conns(&n);
            /* a fresh pair of sockets: no stray retransmission of this
             * handshake reaches the next one */
            net_close(&n);
            net_open(&n, 0);
        }
        net_close(&n);
        char wl[32];
        snprintf(wl, sizeof wl, "loss%d", pct);
        if (done) {
            qsort(t, (size_t)done, sizeof t[0], cmp_dbl);
            double sum = 0;
            for (int k = 0; k < done; k++) sum += t[k];
            bench_result(wl, sd->name, "hs_ms_median", t[done / 2]);
            bench_result(wl, sd->name, "hs_ms_mean", sum / done);
            bench_result(wl, sd->name, "hs_ms_p90", t[(done * 9) / 10 < done ? (done * 9) / 10 : done - 1]);
        }
        bench_result(wl, sd->name, "hs_failed", lost_hs);
    }
    loss_p = 0;
}

/* -------------------------------------------------- engine, in memory */

static double ns_per(double cpu, size_t n)
{
    return cpu * 1e9 / (double)n;
}

/* Moves every queued datagram from a to b. */
static void mem_move(cdtls_conn *a, cdtls_conn *b)
{
    size_t len;
    uint64_t now = 1000;
    while (cdtls_conn_next_datagram(a, txbuf[0], DGRAM, &len, NULL) == CDTLS_OK)
        (void)cdtls_conn_recv(b, txbuf[0], len, NULL, now);
}

/* In-memory handshake; returns 0 with both established. */
static int mem_handshake(const cdtls_config *cc, const cdtls_config *sc, cdtls_conn **cli, cdtls_conn **srv)
{
    if (cdtls_conn_new(cc, CDTLS_CLIENT, 1000, cli) || cdtls_conn_new(sc, CDTLS_SERVER, 1000, srv)) return -1;
    static const uint8_t addr[6] = {127, 0, 0, 1, 0x12, 0x34};
    cdtls_conn_set_peer_address(*srv, addr, sizeof addr);
    if (cdtls_conn_start(*cli, 1000)) return -1;
    for (int i = 0; i < 20 && !(established(*cli) && established(*srv)); i++) {
        mem_move(*cli, *srv);
        mem_move(*srv, *cli);
    }
    return established(*cli) && established(*srv) ? 0 : -1;
}

/* CPU time of iters records from cli to srv through the whole engine:
 * copying (conn_write, next_datagram into ct, conn_recv, conn_read into
 * back, both of cap bytes), or zero-copy (the datagram fed to the peer
 * straight from the output queue, the plaintext used in place, both
 * popped). */
static double engine_run(cdtls_conn *cli, cdtls_conn *srv, const uint8_t *pt, size_t len, size_t iters,
                         int zero_copy, uint8_t *ct, uint8_t *back, size_t cap)
{
    double c0 = bench_cpu();
    if (!zero_copy) {
        for (size_t i = 0; i < iters; i++) {
            size_t n, l;
            if (cdtls_conn_write(cli, pt, len, NULL)) exit(6);
            if (cdtls_conn_next_datagram(cli, ct, cap, &n, NULL)) exit(7);
            (void)cdtls_conn_recv(srv, ct, n, NULL, 1000);
            if (cdtls_conn_read(srv, back, cap, &l, NULL) || l != len) exit(8);
        }
    } else {
        for (size_t i = 0; i < iters; i++) {
            const uint8_t *d;
            size_t n, l;
            if (cdtls_conn_write(cli, pt, len, NULL)) exit(9);
            if (cdtls_conn_peek_datagram(cli, &d, &n, NULL)) exit(10);
            (void)cdtls_conn_recv(srv, d, n, NULL, 1000);
            if (cdtls_conn_pop_datagram(cli)) exit(11);
            if (cdtls_conn_peek_read(srv, &d, &l, NULL) || l != len) exit(12);
            if (cdtls_conn_pop_read(srv)) exit(13);
        }
    }
    return bench_cpu() - c0;
}

static void bench_engine(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    struct {
        const char *name;
        cdtls_aead_alg alg;
        uint16_t suite;
        size_t fixed_iv;
    } algs[] = {
        {"AES-128-GCM", CDTLS_AEAD_AES_128_GCM, CDTLS_PSK_WITH_AES_128_GCM_SHA256, 4},
        {"CHACHA20-POLY1305", CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, 12},
    };
    static uint8_t pt[2048], ct[2048], back[2048];
    memset(pt, 0x42, sizeof pt);
    for (size_t a = 0; a < 2; a++) {
        const cdtls_aead_vt *vt = p->aead[algs[a].alg];
        if (!vt || !cdtls_cipher_suite_supported(p, algs[a].suite)) continue;
        static const uint8_t key[32] = {1, 2, 3};
        uint8_t nonce[12] = {0}, aad[13] = {0};
        static cdtls_aead_ctx ctx;
        if (vt->init(&ctx, key, vt->key_len)) continue;
        static record_cipher rc;
        if (record_cipher_init_aead(&rc, p, algs[a].alg, key, vt->key_len, key, algs[a].fixed_iv)) continue;
        cdtls_config cc, sc;
        uint16_t suite = algs[a].suite;
        suite_def sd = {algs[a].name, suite, 1, NULL, 0};
        cert_set cs;
        cdtls_conn *cli = NULL, *srv = NULL;
        int have_engine = make_cfgs(&sd, &cs, &suite, NULL, &cc, &sc) == 0 &&
                          mem_handshake(&cc, &sc, &cli, &srv) == 0;
        if (have_engine) {
            /* settle: the first record from the client retires the final flight */
            (void)cdtls_conn_write(cli, pt, 16, NULL);
            mem_move(cli, srv);
            size_t l;
            while (cdtls_conn_read(srv, back, sizeof back, &l, NULL) == CDTLS_OK) {
            }
        }
        const size_t sizes[2] = {64, 1200};
        for (int s = 0; s < 2; s++) {
            size_t len = sizes[s], iters = quick ? 20000 : 60000;
            double raw = 1e9, rec = 1e9, eng = 1e9, zc = 1e9;
            uint64_t seq = 1;
            /* best of 9 short runs, the four kinds taking turns: what other
             * load on the machine leaves of each is its undisturbed cost */
            for (int rep = 0; rep < 9; rep++) {
                double c0 = bench_cpu();
                for (size_t i = 0; i < iters; i++) {
                    nonce[11] = (uint8_t)i;
                    vt->seal(&ctx, nonce, 12, aad, 13, pt, len, ct);
                    if (vt->open(&ctx, nonce, 12, aad, 13, ct, len + vt->tag_len, back)) exit(2);
                }
                double t = bench_cpu() - c0;
                if (t < raw) raw = t;

                c0 = bench_cpu();
                for (size_t i = 0; i < iters; i++) {
                    size_t n = 0, ptl = 0;
                    if (record_seal(&rc, 23, 0xfefd, 1, seq++, pt, len, ct, sizeof ct, &n)) exit(3);
                    cdtls_reader r;
                    reader_init(&r, ct, n);
                    record_header h;
                    const uint8_t *hdr, *frag;
                    if (record_read(&r, &h, &hdr, &frag)) exit(4);
                    if (record_open(&rc, &h, frag, h.length, back, sizeof back, &ptl)) exit(5);
                }
                t = bench_cpu() - c0;
                if (t < rec) rec = t;

                if (have_engine) {
                    /* which engine loop goes first alternates, so neither
                     * always inherits the other's heap and cache state */
                    int zc_first = rep & 1;
                    for (int k = 0; k < 2; k++) {
                        int zero_copy = k ^ zc_first;
                        t = engine_run(cli, srv, pt, len, iters, zero_copy, ct, back, sizeof ct);
                        if (zero_copy && t < zc) zc = t;
                        if (!zero_copy && t < eng) eng = t;
                    }
                }
            }
            char wl[32];
            snprintf(wl, sizeof wl, "engine%zu", len);
            bench_result(wl, algs[a].name, "raw_aead_ns", ns_per(raw, iters));
            bench_result(wl, algs[a].name, "record_ns", ns_per(rec, iters));
            bench_result(wl, algs[a].name, "record_over_raw", rec / raw);
            if (have_engine) {
                bench_result(wl, algs[a].name, "engine_ns", ns_per(eng, iters));
                bench_result(wl, algs[a].name, "engine_over_raw", eng / raw);
                bench_result(wl, algs[a].name, "engine_zero_copy_ns", ns_per(zc, iters));
                bench_result(wl, algs[a].name, "engine_zero_copy_over_raw", zc / raw);
            }
        }
        cdtls_conn_free(cli);
        cdtls_conn_free(srv);
        vt->clear(&ctx);
        record_cipher_clear(&rc);
    }
}

/* ----------------------------------------------------------- memory */

static void bench_memory(void)
{
    for (size_t i = 0; i < sizeof hs_suites / sizeof hs_suites[0]; i++) {
        const suite_def *sd = &hs_suites[i];
        cert_set cs;
        cdtls_config cc, sc;
        uint16_t suite = sd->suite, group = sd->group;
        memset(&cs, 0, sizeof cs);
        if (make_cfgs(sd, &cs, &suite, &group, &cc, &sc)) {
            free_certs(&cs);
            continue;
        }
        counting ca, sa;
        counting_init(&ca);
        counting_init(&sa);
        memset(&pair_count, 0, sizeof pair_count);
        cc.allocator = &ca.a;
        sc.allocator = &sa.a;
        cdtls_conn *cli = NULL, *srv = NULL;
        if (mem_handshake(&cc, &sc, &cli, &srv) == 0) {
            uint8_t b[64];
            size_t l;
            /* settle both ways: the server drops its kept final flight */
            (void)cdtls_conn_write(cli, b, 16, NULL);
            mem_move(cli, srv);
            while (cdtls_conn_read(srv, b, sizeof b, &l, NULL) == CDTLS_OK) {
            }
            (void)cdtls_conn_write(srv, b, 16, NULL);
            mem_move(srv, cli);
            while (cdtls_conn_read(cli, b, sizeof b, &l, NULL) == CDTLS_OK) {
            }
            bench_result("memory", sd->name, "client_established_B", (double)ca.n.live);
            bench_result("memory", sd->name, "server_established_B", (double)sa.n.live);
            bench_result("memory", sd->name, "client_peak_B", (double)ca.n.peak);
            bench_result("memory", sd->name, "server_peak_B", (double)sa.n.peak);
            bench_result("memory", sd->name, "pair_established_B", (double)pair_count.live);
            bench_result("memory", sd->name, "pair_peak_B", (double)pair_count.peak);
            bench_result("memory", sd->name, "client_allocs", (double)ca.n.allocs);
            bench_result("memory", sd->name, "server_allocs", (double)sa.n.allocs);
        } else {
            bench_not_measured("memory", sd->name, "in-memory handshake failed");
        }
        cdtls_conn_free(cli);
        cdtls_conn_free(srv);
        free_certs(&cs);
    }
}

/* ------------------------------------------------------------ scale */

typedef struct client {
    cdtls_io_socket io;
    cdtls_conn *c;
    int done;
} client;

static size_t scale_n = 10000;

/* Runs handshakes for clients [from, to) against the listener, at most
 * `inflight` at once; returns 0 when each is established and accepted. */
static int scale_phase(cdtls_listener *l, const cdtls_config *cc, const cdtls_addr *srv, client *cl,
                       size_t from, size_t to, unsigned inflight, cdtls_sock **acc, size_t *n_acc)
{
    size_t next = from, busy = 0, finished = 0, accepted_at_start = *n_acc;
    cdtls_addr lo;
    cdtls_addr_parse("127.0.0.1", 0, &lo);
    double deadline = bench_wall() + 900;
    while (finished < to - from || *n_acc - accepted_at_start < to - from) {
        if (bench_wall() > deadline) return -1;
        while (busy < inflight && next < to) {
            client *c = &cl[next++];
            if (cdtls_io_open(&c->io, &lo, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE)) return -1;
            uint64_t now = cdtls_io_now_ms();
            if (cdtls_conn_new(cc, CDTLS_CLIENT, now, &c->c) || cdtls_conn_start(c->c, now)) return -1;
            size_t len;
            while (cdtls_conn_next_datagram(c->c, txbuf[0], DGRAM, &len, NULL) == CDTLS_OK)
                (void)cdtls_io_send(&c->io, txbuf[0], len, srv, NULL, NULL, 0);
            busy++;
        }
        cdtls_sock *s;
        while (cdtls_listener_accept(l, 0, &s) == CDTLS_OK) acc[(*n_acc)++] = s;
        int progress = 0;
        for (size_t i = from; i < next; i++) {
            client *c = &cl[i];
            if (c->done) continue;
            size_t len;
            cdtls_addr fa;
            uint64_t now = cdtls_io_now_ms();
            while (cdtls_io_recv(&c->io, rxbuf[0], DGRAM, &len, &fa, NULL, NULL, 0, NULL, -1) == CDTLS_OK) {
                (void)cdtls_conn_recv(c->c, rxbuf[0], len, NULL, now);
                progress = 1;
            }
            if (cdtls_conn_timeout(c->c) <= now) (void)cdtls_conn_on_timeout(c->c, now);
            while (cdtls_conn_next_datagram(c->c, txbuf[0], DGRAM, &len, NULL) == CDTLS_OK)
                (void)cdtls_io_send(&c->io, txbuf[0], len, srv, NULL, NULL, 0);
            if (established(c->c)) {
                /* one record so the server retires its final flight */
                (void)cdtls_conn_write(c->c, app, 16, NULL);
                while (cdtls_conn_next_datagram(c->c, txbuf[0], DGRAM, &len, NULL) == CDTLS_OK)
                    (void)cdtls_io_send(&c->io, txbuf[0], len, srv, NULL, NULL, 0);
                /* the engine is no longer needed; the socket stays open so
                 * its port (the server's key for this peer) is not reused */
                cdtls_conn_free(c->c);
                c->c = NULL;
                c->done = 1;
                busy--;
                finished++;
            } else if (failed(c->c)) {
                fprintf(stderr, "scale: client %zu failed: %d\n", i, cdtls_conn_error(c->c));
                return -1;
            }
        }
        (void)progress;
    }
    return 0;
}

static void bench_scale(void)
{
    const suite_def *sd = &hs_suites[0]; /* PSK-AES128-GCM, or the first the provider has */
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), sd->suite)) sd = &hs_suites[1];
    cdtls_config cc, sc;
    cert_set cs;
    uint16_t suite = sd->suite;
    if (make_cfgs(sd, &cs, &suite, NULL, &cc, &sc)) return;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    size_t probe = scale_n >= 2000 ? 1000 : scale_n / 2, want = scale_n + probe + 1000;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < scale_n + probe + 100) {
        bench_not_measured("scale", sd->name, "not enough file descriptors for the clients");
        return;
    }
    counting sa;
    counting_init(&sa);
    sc.allocator = &sa.a;
    cdtls_listener *l;
    cdtls_addr lo;
    cdtls_addr_parse("127.0.0.1", 0, &lo);
    if (cdtls_listener_open(&sc, &lo, 0, &l)) return;
    cdtls_listener_set_limits(l, 256, (unsigned)(scale_n + probe + 10));
    cdtls_addr srv;
    cdtls_io_local_addr(cdtls_listener_io(l), &srv);
    size_t total = scale_n + probe;
    client *cl = calloc(total, sizeof *cl);
    cdtls_sock **acc = calloc(total, sizeof *acc);
    size_t n_acc = 0;
    size_t base = sa.n.live;
    const unsigned inflight = 16;

    /* empty server: the first `probe` handshakes */
    double w0 = bench_wall(), c0 = bench_cpu();
    int ok = scale_phase(l, &cc, &srv, cl, 0, probe, inflight, acc, &n_acc) == 0;
    double rate0 = probe / (bench_wall() - w0), crate0 = probe / (bench_cpu() - c0);
    /* fill to scale_n established */
    if (ok) ok = scale_phase(l, &cc, &srv, cl, probe, scale_n, inflight, acc, &n_acc) == 0;
    size_t live_n = sa.n.live;
    /* under load: `probe` more */
    double rateN = 0, crateN = 0;
    if (ok) {
        w0 = bench_wall(), c0 = bench_cpu();
        ok = scale_phase(l, &cc, &srv, cl, scale_n, total, inflight, acc, &n_acc) == 0;
        rateN = probe / (bench_wall() - w0), crateN = probe / (bench_cpu() - c0);
    }
    if (!ok) {
        bench_not_measured("scale", sd->name, "handshakes did not complete");
    } else {
        bench_result("scale", sd->name, "peers", (double)cdtls_listener_peer_count(l));
        bench_result("scale", sd->name, "server_B_per_peer", (double)(live_n - base) / (double)scale_n);
        bench_result("scale", sd->name, "hs_per_wall_s_empty", rate0);
        bench_result("scale", sd->name, "hs_per_cpu_s_empty", crate0);
        bench_result("scale", sd->name, "hs_per_wall_s_loaded", rateN);
        bench_result("scale", sd->name, "hs_per_cpu_s_loaded", crateN);
    }
    for (size_t i = 0; i < n_acc; i++) cdtls_sock_close(acc[i]);
    cdtls_listener_close(l);
    for (size_t i = 0; i < total; i++) {
        if (cl[i].c) cdtls_conn_free(cl[i].c);
        if (cl[i].io.fd > 0) cdtls_io_close(&cl[i].io);
    }
    free(cl);
    free(acc);
}

/* ------------------------------------------------------------ workers */

/* Issue 23: a worker group (cdtls/workers.h) of 1 and then 2 workers on
 * one port, each worker a thread, loaded from this process: full
 * handshakes per wall second (WK_LOADERS threads, each keeping WK_INFLIGHT
 * sans-IO clients handshaking, each from a socket of its own, closed once
 * established), and 1200-byte records per wall second from WK_STREAMS
 * cdtls_sock_dial clients in threads of their own (with 2 workers, one
 * stream per worker). The load shares the machine's cores with the
 * workers: these are rates per wall second of the whole program, the
 * scaling ratio is w2 / w1. */
#define WK_LOADERS 2
#define WK_INFLIGHT 8
#define WK_STREAMS 2

typedef struct wk_worker {
    cdtls_listener *l;
    atomic_int *stop;
    atomic_uint_fast64_t accepted, bytes;
} wk_worker;

/* A worker: accepts, reads everything its peers send, closes what they
 * closed; at most 1024 peers held (the oldest is closed for the next). */
static void *wk_serve(void *arg)
{
    wk_worker *w = arg;
    enum { HELD = 1024 };
    cdtls_sock *socks[HELD];
    size_t n = 0;
    uint8_t buf[2048];
    while (!atomic_load(w->stop)) {
        cdtls_sock *s;
        if (cdtls_listener_accept(w->l, 2, &s) == CDTLS_OK) {
            if (n == HELD) {
                cdtls_sock_close(socks[0]);
                socks[0] = socks[--n];
            }
            socks[n++] = s;
            atomic_fetch_add(&w->accepted, 1);
        }
        for (size_t i = 0; i < n;) {
            size_t len;
            int rc;
            uint64_t got = 0;
            while ((rc = cdtls_sock_read(socks[i], buf, sizeof buf, &len, NULL, 0)) == CDTLS_OK) got += len;
            if (got) atomic_fetch_add(&w->bytes, got);
            if (rc != CDTLS_ERR_WOULD_BLOCK && rc != CDTLS_ERR_TIMEOUT) {
                cdtls_sock_close(socks[i]);
                socks[i] = socks[--n];
                continue;
            }
            i++;
        }
    }
    for (size_t i = 0; i < n; i++) cdtls_sock_close(socks[i]);
    return NULL;
}

typedef struct wk_group {
    cdtls_worker_group *g;
    cdtls_addr addr;
    atomic_int stop;
    unsigned n;
    wk_worker w[2];
    pthread_t th[2];
} wk_group;

static int wk_start(wk_group *wg, const cdtls_config *sc, unsigned n)
{
    cdtls_addr lo;
    cdtls_addr_parse("127.0.0.1", 0, &lo);
    cdtls_worker_options o = {.n_workers = n, .node_id = 1};
    if (cdtls_worker_group_open(sc, &lo, &o, &wg->g) != CDTLS_OK) return -1;
    cdtls_io_local_addr(cdtls_listener_io(cdtls_worker_group_listener(wg->g, 0)), &wg->addr);
    atomic_init(&wg->stop, 0);
    wg->n = n;
    for (unsigned i = 0; i < n; i++) {
        wg->w[i].l = cdtls_worker_group_listener(wg->g, i);
        wg->w[i].stop = &wg->stop;
        atomic_init(&wg->w[i].accepted, 0);
        atomic_init(&wg->w[i].bytes, 0);
        if (pthread_create(&wg->th[i], NULL, wk_serve, &wg->w[i]) != 0) {
            atomic_store(&wg->stop, 1);
            for (unsigned j = 0; j < i; j++) pthread_join(wg->th[j], NULL);
            cdtls_worker_group_close(wg->g);
            return -1;
        }
    }
    return 0;
}

static void wk_stop(wk_group *wg)
{
    atomic_store(&wg->stop, 1);
    for (unsigned i = 0; i < wg->n; i++) pthread_join(wg->th[i], NULL);
    cdtls_worker_group_close(wg->g);
}

static uint64_t wk_total(wk_group *wg, int bytes)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < wg->n; i++) t += atomic_load(bytes ? &wg->w[i].bytes : &wg->w[i].accepted);
    return t;
}

/* One handshaking client of a loader: its socket and engine. */
typedef struct wk_client {
    cdtls_io_socket io;
    cdtls_conn *c;
} wk_client;

typedef struct wk_loader {
    const cdtls_config *cc;
    const cdtls_addr *srv;
    const atomic_int *go;
    uint64_t done, failed;
} wk_loader;

static int wk_client_start(wk_client *k, const wk_loader *ld)
{
    cdtls_addr any;
    cdtls_addr_parse("127.0.0.1", 0, &any);
    if (cdtls_io_open(&k->io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE) != CDTLS_OK) return -1;
    uint64_t now = cdtls_io_now_ms();
    if (cdtls_conn_new(ld->cc, CDTLS_CLIENT, now, &k->c) != CDTLS_OK ||
        cdtls_conn_start(k->c, now) != CDTLS_OK) {
        cdtls_conn_free(k->c);
        k->c = NULL;
        cdtls_io_close(&k->io);
        return -1;
    }
    return 0;
}

static void wk_client_send(wk_client *k, const cdtls_addr *srv)
{
    uint8_t d[DGRAM];
    size_t n;
    while (cdtls_conn_next_datagram(k->c, d, sizeof d, &n, NULL) == CDTLS_OK)
        (void)cdtls_io_send(&k->io, d, n, srv, NULL, NULL, 0);
}

static void wk_client_end(wk_client *k, const cdtls_addr *srv)
{
    (void)cdtls_conn_close(k->c); /* the worker closes its side on it */
    wk_client_send(k, srv);
    cdtls_conn_free(k->c);
    k->c = NULL;
    cdtls_io_close(&k->io);
}

/* A loader: WK_INFLIGHT clients handshaking at once, one poll over their
 * sockets; each established one is closed and replaced, until go drops. */
static void *wk_load(void *arg)
{
    wk_loader *ld = arg;
    wk_client k[WK_INFLIGHT];
    memset(k, 0, sizeof k);
    while (atomic_load(ld->go)) {
        struct pollfd p[WK_INFLIGHT];
        uint64_t now = cdtls_io_now_ms(), next = now + 100;
        for (unsigned i = 0; i < WK_INFLIGHT; i++) {
            if (!k[i].c && wk_client_start(&k[i], ld) == 0) wk_client_send(&k[i], ld->srv);
            p[i].fd = k[i].c ? k[i].io.fd : -1;
            p[i].events = POLLIN;
            p[i].revents = 0;
            if (k[i].c && cdtls_conn_timeout(k[i].c) < next) next = cdtls_conn_timeout(k[i].c);
        }
        (void)poll(p, WK_INFLIGHT, next > now ? (int)(next - now) : 0);
        now = cdtls_io_now_ms();
        for (unsigned i = 0; i < WK_INFLIGHT; i++) {
            if (!k[i].c) continue;
            uint8_t d[DGRAM];
            size_t n;
            while (cdtls_io_recv(&k[i].io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK)
                (void)cdtls_conn_recv(k[i].c, d, n, NULL, now);
            if (cdtls_conn_timeout(k[i].c) <= now) (void)cdtls_conn_on_timeout(k[i].c, now);
            wk_client_send(&k[i], ld->srv);
            cdtls_conn_state st = cdtls_conn_get_state(k[i].c);
            if (st == CDTLS_STATE_ESTABLISHED) {
                ld->done++;
                wk_client_end(&k[i], ld->srv);
            } else if (st == CDTLS_STATE_FAILED || st == CDTLS_STATE_CLOSED) {
                ld->failed++;
                wk_client_end(&k[i], ld->srv);
            }
        }
    }
    for (unsigned i = 0; i < WK_INFLIGHT; i++)
        if (k[i].c) wk_client_end(&k[i], ld->srv);
    return NULL;
}

static void wk_sleep(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

/* Full handshakes per wall second against n workers; -1 if not measured. */
static double wk_handshakes(const cdtls_config *cc, const cdtls_config *sc, unsigned n)
{
    wk_group wg;
    if (wk_start(&wg, sc, n)) return -1;
    atomic_int go;
    atomic_init(&go, 1);
    wk_loader ld[WK_LOADERS];
    pthread_t th[WK_LOADERS];
    unsigned started = 0;
    for (unsigned i = 0; i < WK_LOADERS; i++) {
        ld[i] = (wk_loader){cc, &wg.addr, &go, 0, 0};
        if (pthread_create(&th[i], NULL, wk_load, &ld[i]) == 0) started++;
    }
    double secs = quick ? 1.5 : 5.0;
    wk_sleep(0.3); /* warm up: the first handshakes, the threads' start */
    uint64_t a0 = wk_total(&wg, 0);
    double w0 = bench_wall();
    wk_sleep(secs);
    uint64_t a1 = wk_total(&wg, 0);
    double wall = bench_wall() - w0;
    atomic_store(&go, 0);
    uint64_t failed = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        failed += ld[i].failed;
    }
    wk_stop(&wg);
    if (started < WK_LOADERS) return -1;
    if (failed) fprintf(stderr, "workers: %llu handshakes failed\n", (unsigned long long)failed);
    return (double)(a1 - a0) / wall;
}

typedef struct wk_stream {
    cdtls_sock *s;
    const atomic_int *go;
} wk_stream;

static void *wk_send(void *arg)
{
    wk_stream *st = arg;
    cdtls_sock_record recs[WINDOW];
    static uint8_t rec[1200];
    memset(recs, 0, sizeof recs);
    for (unsigned i = 0; i < WINDOW; i++) recs[i].data = rec, recs[i].len = sizeof rec;
    while (atomic_load(st->go)) {
        size_t written;
        if (cdtls_sock_write_many(st->s, recs, WINDOW, &written) != CDTLS_OK) break;
    }
    return NULL;
}

/* 1200-byte records received per wall second (MB) by n workers from
 * WK_STREAMS senders; with 2 workers the streams are dialled until each
 * worker holds one. -1 if not measured. */
static double wk_tput(const cdtls_config *cc, const cdtls_config *sc, unsigned n)
{
    wk_group wg;
    if (wk_start(&wg, sc, n)) return -1;
    wk_stream st[WK_STREAMS];
    atomic_int go;
    atomic_init(&go, 1);
    size_t dialled = 0;
    int taken[2] = {0, 0}; /* workers holding a stream */
    uint64_t seen = 0;     /* connections the workers accepted so far */
    for (int tries = 0; tries < 64 && dialled < WK_STREAMS; tries++) {
        uint64_t before[2] = {atomic_load(&wg.w[0].accepted), n > 1 ? atomic_load(&wg.w[1].accepted) : 0};
        cdtls_sock *s;
        if (cdtls_sock_dial(cc, &wg.addr, 5000, &s) != CDTLS_OK) continue;
        /* the worker accepts it within its next steps */
        for (int i = 0; i < 1000 && wk_total(&wg, 0) <= seen; i++) wk_sleep(0.002);
        seen = wk_total(&wg, 0);
        unsigned on = n > 1 && atomic_load(&wg.w[1].accepted) > before[1] ? 1 : 0;
        if (n > 1 && taken[on]) {
            cdtls_sock_close(s); /* on the worker that has a stream already: again */
            continue;
        }
        taken[on] = 1;
        st[dialled++] = (wk_stream){s, &go};
    }
    double mb = -1;
    pthread_t th[WK_STREAMS];
    size_t started = 0;
    if (dialled == WK_STREAMS) {
        for (size_t i = 0; i < dialled; i++)
            if (pthread_create(&th[i], NULL, wk_send, &st[i]) == 0) started++;
        wk_sleep(0.3);
        uint64_t b0 = wk_total(&wg, 1);
        double w0 = bench_wall();
        wk_sleep(quick ? 1.5 : 5.0);
        uint64_t b1 = wk_total(&wg, 1);
        double wall = bench_wall() - w0;
        if (started == dialled) mb = (double)(b1 - b0) / wall / 1e6;
    }
    atomic_store(&go, 0);
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (size_t i = 0; i < dialled; i++) cdtls_sock_close(st[i].s);
    wk_stop(&wg);
    return mb;
}

static void bench_workers(void)
{
    /* a PSK suite and a certificate suite, the first of each the provider
     * has: bearssl PSK-AES128-GCM and ECDSA P-256, sodium PSK-ChaCha20 and
     * Ed25519/X25519 */
    int done_psk = 0, done_cert = 0;
    for (size_t i = 0; i < sizeof hs_suites / sizeof hs_suites[0]; i++) {
        const suite_def *sd = &hs_suites[i];
        if (sd->psk ? done_psk : done_cert) continue;
        if (!cdtls_cipher_suite_supported(cdtls_provider_default(), sd->suite)) continue;
        cdtls_config cc, sc;
        cert_set cs;
        memset(&cs, 0, sizeof cs); /* make_cfgs fills it for certificate suites only */
        uint16_t suite = sd->suite, group = sd->group;
        if (skip_suite(sd->name)) continue;
        if (make_cfgs(sd, &cs, &suite, &group, &cc, &sc)) {
            bench_not_measured("workers_hs", sd->name, "certificates not available");
            continue;
        }
        if (sd->psk)
            done_psk = 1;
        else
            done_cert = 1;
        double hs[2], mb[2];
        for (unsigned w = 1; w <= 2; w++) {
            hs[w - 1] = wk_handshakes(&cc, &sc, w);
            mb[w - 1] = sd->psk ? wk_tput(&cc, &sc, w) : -1;
        }
        for (unsigned w = 1; w <= 2; w++) {
            char m[32];
            snprintf(m, sizeof m, "hs_per_wall_s_w%u", w);
            if (hs[w - 1] < 0)
                bench_not_measured("workers_hs", sd->name, "worker group or threads not available");
            else
                bench_result("workers_hs", sd->name, m, hs[w - 1]);
            if (!sd->psk) continue;
            snprintf(m, sizeof m, "MB_per_wall_s_w%u", w);
            if (mb[w - 1] < 0)
                bench_not_measured("workers_tput1200", sd->name,
                                   "streams could not be spread over the workers");
            else
                bench_result("workers_tput1200", sd->name, m, mb[w - 1]);
        }
        if (hs[0] > 0 && hs[1] > 0) bench_result("workers_hs", sd->name, "scaling", hs[1] / hs[0]);
        if (mb[0] > 0 && mb[1] > 0) bench_result("workers_tput1200", sd->name, "scaling", mb[1] / mb[0]);
        free_certs(&cs);
    }
}

/* ------------------------------------------------------- cbc_timing */

/* Lucky Thirteen residue (issue 20, item 5): record_open of MAC-then-
 * encrypt AES-128-CBC + HMAC-SHA-256 records, good padding of several
 * lengths against bad padding (a length byte of 200), at 80 and 144
 * ciphertext bytes. Samples of 64 opens each, good and bad interleaved,
 * 2001 of each; the median ns per open of each, and the largest
 * difference |good - bad| over the padding lengths. docs/security.md
 * gives the threshold and the numbers. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t mte_record(const cdtls_provider *p, cdtls_cbc_ctx *enc, const uint8_t *mac_key, size_t n,
                         size_t pad, int bad, uint8_t *frag)
{
    static const uint8_t iv[16] = {3};
    size_t len = n - 32 - 1 - pad;
    uint8_t *body = frag + 16;
    memcpy(frag, iv, 16);
    memset(body, 'c', len);
    uint8_t aad[13] = {0, 1, 0, 0, 0, 0, 0, 2, 23, 0xfe, 0xfd, (uint8_t)(len >> 8), (uint8_t)len};
    cdtls_hmac_ctx h;
    p->hmac[CDTLS_HASH_SHA256]->init(&h, mac_key, 32);
    p->hmac[CDTLS_HASH_SHA256]->update(&h, aad, 13);
    p->hmac[CDTLS_HASH_SHA256]->update(&h, body, len);
    p->hmac[CDTLS_HASH_SHA256]->final(&h, body + len);
    memset(body + len + 32, (int)pad, pad + 1);
    if (bad) body[n - 1] = 200;
    p->cbc[CDTLS_CBC_AES_128]->encrypt(enc, iv, body, n);
    return 16 + n;
}

static double open_sample(const record_cipher *r, const uint8_t *frag, size_t len)
{
    record_header hh = {23, 0xfefd, 1, 2, (uint16_t)len, NULL, 0}; /* DTLS 1.2 */
    uint8_t out[160];
    size_t pl;
    double t0 = bench_wall();
    for (int i = 0; i < 64; i++) (void)record_open(r, &hh, frag, len, out, sizeof out, &pl);
    return (bench_wall() - t0) * 1e9 / 64;
}

static void bench_cbc_timing(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->cbc[CDTLS_CBC_AES_128] || !p->hmac[CDTLS_HASH_SHA256]) {
        bench_not_measured("cbc_timing", "AES128-CBC-SHA256-MtE", "no CBC in this provider");
        return;
    }
    enum { SAMPLES = 2001 };
    static double good[SAMPLES], badv[SAMPLES];
    uint8_t key[16] = {1}, mac_key[32] = {2};
    record_cipher r;
    cdtls_cbc_ctx enc;
    if (record_cipher_init_cbc(&r, p, CDTLS_CBC_AES_128, CDTLS_HASH_SHA256, key, 16, mac_key, 32, 0, 0) ||
        p->cbc[CDTLS_CBC_AES_128]->init(&enc, 1, key, 16))
        return;
    static const size_t sizes[] = {64, 128};
    for (size_t si = 0; si < 2; si++) {
        size_t n = sizes[si];
        const size_t pads[] = {0, 15, n == 64 ? 31 : 43, n - 33};
        uint8_t bad_frag[160], good_frag[160];
        size_t bad_len = mte_record(p, &enc, mac_key, n, 0, 1, bad_frag);
        double worst = -1, bad_at_worst = 0, good_at_worst = 0;
        for (size_t k = 0; k < sizeof pads / sizeof pads[0]; k++) {
            size_t good_len = mte_record(p, &enc, mac_key, n, pads[k], 0, good_frag);
            for (int i = 0; i < SAMPLES; i++) {
                good[i] = open_sample(&r, good_frag, good_len);
                badv[i] = open_sample(&r, bad_frag, bad_len);
            }
            qsort(good, SAMPLES, sizeof good[0], cmp_double);
            qsort(badv, SAMPLES, sizeof badv[0], cmp_double);
            double d = badv[SAMPLES / 2] - good[SAMPLES / 2];
            if (d < 0 ? -d > worst : d > worst) {
                worst = d < 0 ? -d : d;
                good_at_worst = good[SAMPLES / 2];
                bad_at_worst = badv[SAMPLES / 2];
            }
        }
        char name[64];
        snprintf(name, sizeof name, "AES128-CBC-SHA256-MtE-%zuB", 16 + n);
        bench_result("cbc_timing", name, "bad_padding_median_ns_at_worst", bad_at_worst);
        bench_result("cbc_timing", name, "good_padding_median_ns_at_worst", good_at_worst);
        bench_result("cbc_timing", name, "max_abs_median_diff_ns", worst);
    }
    p->cbc[CDTLS_CBC_AES_128]->clear(&enc);
    record_cipher_clear(&r);
}

/* ------------------------------------------------- DTLS 1.3 handshakes */

/* hs13: full DTLS 1.3 handshakes (RFC 9147), 1.3 only on both sides,
 * TLS_CHACHA20_POLY1305_SHA256 with the server's Ed25519 certificate (what
 * sodium has) and TLS_AES_128_GCM_SHA256 with ECDSA P-256 (what bearssl
 * has), the certificate checked by the client, the cookie HelloRetryRequest on (the hello verifier, as the
 * listener runs it), MTU 1500; the key exchange either X25519 or the hybrid
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem; the provider needs ML-KEM-768:
 * sodium with libsodium 1.0.22, or libcrypto with OpenSSL 3.5). Rates per
 * CPU and wall second, and the median wall time of one handshake (latency
 * on loopback, both ends in this thread). Each warm-up handshake checks the
 * version and the group actually negotiated. */
#define TLS13_AES_128_GCM_SHA256 0x1301u
#define TLS13_CHACHA20_POLY1305_SHA256 0x1303u

/* A 1.3 handshake whose server issues a NewSessionTicket: net_handshake,
 * then datagrams moved until the client's store took the new ticket and
 * nothing is left to move (its ACK delivered), so the next handshake can
 * resume with it. (Waiting for "a ticket datagram and then an ACK" cost
 * 50 ms a handshake when the ticket came with the handshake's last flush:
 * 18 resumed handshakes per wall second against 169 full ones.) */
static int net_handshake13_ticket(net *n, const cdtls_config *cc, const cdtls_config *sc,
                                  const cdtls_session_cache *ccache, int *resumed)
{
    const uint64_t puts = ccache->clock; /* counts the store's puts: the new ticket is one */
    if (net_handshake(n, cc, sc, resumed) != 0) return -1;
    for (int i = 0; i < 40; i++) {
        size_t moved = drain_ep(n, &n->cli);
        moved += flush_ep(n, &n->cli, &n->srv);
        moved += drain_ep(n, &n->srv);
        moved += flush_ep(n, &n->srv, &n->cli);
        if (!moved && ccache->clock > puts) return 0;
        if (!moved) net_wait(n, 5);
    }
    return ccache->clock > puts ? 0 : -1;
}

/* hs13 "... resumed": the same suite and group, each handshake resuming
 * the previous one's session by a stateless ticket (RFC 8446 §4.6.1,
 * psk_dhe_ke: the key exchange stays, the certificate and its signature
 * go). Issue 17. */
static void bench_hs13_resumed(net *n, const char *name, const cdtls_config *cc0, const cdtls_config *sc0,
                               int iters)
{
    char rname[128];
    snprintf(rname, sizeof rname, "%s resumed", name);
    cdtls_session_cache ccache;
    static cdtls_session_cache_entry cent[2];
    cdtls_ticket_keys keys;
    if (cdtls_ticket_keys_init(&keys, NULL, 0, cdtls_io_now_ms()) != CDTLS_OK) {
        bench_not_measured("hs13", rname, "no ticket keys (the provider lacks the ticket AEAD)");
        return;
    }
    cdtls_config cc = *cc0, sc = *sc0;
    cc.resumption.store = cdtls_session_cache_init(&ccache, cent, 2);
    sc.resumption.ticket_keys = &keys;
    int resumed = 0, ok = net_handshake13_ticket(n, &cc, &sc, &ccache, &resumed) == 0; /* the full one */
    net_free_conns(n);
    for (int w = 0; w < 3 && ok; w++) {
        ok = net_handshake13_ticket(n, &cc, &sc, &ccache, &resumed) == 0 && resumed;
        net_free_conns(n);
    }
    double best = 0, wall_rate = 0;
    for (int rep = 0; rep < 3 && ok; rep++) {
        double w0 = bench_wall(), c0 = bench_cpu();
        int done = 0;
        for (; done < iters && ok; done++) {
            ok = net_handshake13_ticket(n, &cc, &sc, &ccache, &resumed) == 0 && resumed;
            net_free_conns(n);
        }
        double cpu = bench_cpu() - c0, wall = bench_wall() - w0;
        if (ok && cpu > 0 && done / cpu > best) best = done / cpu, wall_rate = done / wall;
    }
    if (!ok) {
        bench_not_measured("hs13", rname, "a handshake failed or did not resume");
    } else {
        bench_result("hs13", rname, "hs_per_cpu_s", best);
        bench_result("hs13", rname, "hs_per_wall_s", wall_rate);
    }
    cdtls_ticket_keys_wipe(&keys);
}

static void bench_hs13(void)
{
    static const struct {
        const char *name;
        uint16_t suite, group;
        const char *cert;
        uint16_t suite12; /* a 1.2 suite with the same AEAD and signature: what make_cfgs checks */
    } g13[] = {
        {"TLS13-CHACHA20-POLY1305/X25519/Ed25519", TLS13_CHACHA20_POLY1305_SHA256, 29, "ed25519",
         CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
        {"TLS13-CHACHA20-POLY1305/X25519MLKEM768/Ed25519", TLS13_CHACHA20_POLY1305_SHA256,
         CDTLS_GROUP_X25519MLKEM768, "ed25519", CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
        {"TLS13-AES128-GCM/X25519/ECDSA-P256", TLS13_AES_128_GCM_SHA256, 29, "p256",
         CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
        {"TLS13-AES128-GCM/X25519MLKEM768/ECDSA-P256", TLS13_AES_128_GCM_SHA256, CDTLS_GROUP_X25519MLKEM768,
         "p256", CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
    };
    for (size_t i = 0; i < sizeof g13 / sizeof g13[0]; i++) {
        const char *name = g13[i].name;
        const suite_def sd = {name, g13[i].suite12, 0, g13[i].cert, 0};
        if (skip_suite(name)) continue;
        if (g13[i].group == CDTLS_GROUP_X25519MLKEM768 &&
            !cdtls_provider_default()->kem[CDTLS_KEM_MLKEM768]) {
            bench_not_measured("hs13", name, "this provider build has no ML-KEM-768");
            continue;
        }
        cert_set cs;
        cdtls_config cc, sc;
        uint16_t suite = g13[i].suite, group = g13[i].group;
        memset(&cs, 0, sizeof cs);
        if (make_cfgs(&sd, &cs, &suite, &group, &cc, &sc)) {
            free_certs(&cs);
            bench_not_measured("hs13", name,
                               "no certificates, or the provider lacks this signature or AEAD (sodium: no "
                               "P-256, no AES-128-GCM; bearssl: no Ed25519)");
            continue;
        }
        cc.versions.min = sc.versions.min = CDTLS_VERSION_1_3;
        cc.versions.max = sc.versions.max = CDTLS_VERSION_1_3;
        net n;
        net_open(&n, 0);
        int iters = quick ? 50 : 400;
        int ok = 1;
        const char *why = "handshake failed";
        for (int w = 0; w < 5 && ok; w++) {
            ok = net_handshake(&n, &cc, &sc, NULL) == 0;
            if (ok && (cdtls_conn_version(n.cli.c) != CDTLS_VERSION_1_3 ||
                       cdtls_conn_group(n.cli.c) != group || cdtls_conn_group(n.srv.c) != group)) {
                ok = 0;
                why = "negotiated another version or group than asked";
            }
            net_free_conns(&n);
        }
        if (!ok) {
            bench_not_measured("hs13", name, why);
            goto next;
        }
        double best = 0, wall_rate = 0, median_ms = 0;
        static double lat[4000];
        for (int rep = 0; rep < 3 && ok; rep++) {
            double w0 = bench_wall(), c0 = bench_cpu();
            int done = 0;
            for (; done < iters; done++) {
                double t0 = bench_wall();
                if (net_handshake(&n, &cc, &sc, NULL) != 0) {
                    ok = 0;
                    break;
                }
                lat[done] = (bench_wall() - t0) * 1e3;
                net_free_conns(&n);
            }
            double cpu = bench_cpu() - c0, wall = bench_wall() - w0;
            if (ok && cpu > 0 && done / cpu > best) {
                best = done / cpu;
                wall_rate = done / wall;
                qsort(lat, (size_t)done, sizeof lat[0], cmp_dbl);
                median_ms = lat[done / 2];
            }
        }
        if (!ok) {
            bench_not_measured("hs13", name, "a handshake failed");
        } else {
            bench_result("hs13", name, "hs_per_cpu_s", best);
            bench_result("hs13", name, "hs_per_wall_s", wall_rate);
            bench_result("hs13", name, "median_ms", median_ms);
            bench_hs13_resumed(&n, name, &cc, &sc, iters);
        }
    next:
        net_free_conns(&n);
        net_close(&n);
        free_certs(&cs);
    }
}

/* tput13: one DTLS 1.3 connection (X25519, the suite and certificate of
 * hs13 the provider has) streaming 1200-byte records over loopback, windows
 * of 32, over io sockets connected to each other that ask for no receive
 * reports (as tputsize): MB per CPU and wall second, best of 3. */
static void bench_tput13(void)
{
    static const struct {
        const char *name;
        uint16_t suite;
        const char *cert;
        uint16_t suite12;
    } t13[] = {
        {"TLS13-CHACHA20-POLY1305/X25519/Ed25519", TLS13_CHACHA20_POLY1305_SHA256, "ed25519",
         CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
        {"TLS13-AES128-GCM/X25519/ECDSA-P256", TLS13_AES_128_GCM_SHA256, "p256",
         CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
    };
    for (size_t i = 0; i < sizeof t13 / sizeof t13[0]; i++) {
        const char *name = t13[i].name;
        const suite_def sd = {name, t13[i].suite12, 0, t13[i].cert, 0};
        if (skip_suite(name)) continue;
        cert_set cs;
        cdtls_config cc, sc;
        uint16_t suite = t13[i].suite, group = 29;
        memset(&cs, 0, sizeof cs);
        if (make_cfgs(&sd, &cs, &suite, &group, &cc, &sc)) {
            free_certs(&cs);
            bench_not_measured("tput13", name,
                               "no certificates, or the provider lacks this signature or AEAD");
            continue;
        }
        cc.versions.min = sc.versions.min = CDTLS_VERSION_1_3;
        cc.versions.max = sc.versions.max = CDTLS_VERSION_1_3;
        net n;
        net_open(&n, 0);
        if (cdtls_io_connect(&n.cli.io, &n.srv.addr) || cdtls_io_connect(&n.srv.io, &n.cli.addr)) exit(1);
        (void)cdtls_io_set_recv_reports(&n.cli.io, 0);
        (void)cdtls_io_set_recv_reports(&n.srv.io, 0);
        if (net_handshake(&n, &cc, &sc, NULL) != 0 || cdtls_conn_version(n.cli.c) != CDTLS_VERSION_1_3) {
            bench_not_measured("tput13", name, "the DTLS 1.3 handshake failed");
        } else {
            size_t lost, total = quick ? 4000 : 30016, best_lost = 0;
            double wall, best = 1e9, best_wall = 0;
            run_stream(&n, 16, WINDOW, &lost, &wall);
            for (int rep = 0; rep < 3; rep++) {
                double cpu = run_stream(&n, 1200, total, &lost, &wall);
                if (cpu < best) best = cpu, best_wall = wall, best_lost = lost;
            }
            bench_stream_result("tput13", name, 1200, total, best_lost, best, best_wall);
        }
        net_free_conns(&n);
        net_close(&n);
        free_certs(&cs);
    }
}

/* ------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--certs") && i + 1 < argc)
            certs_dir = argv[++i];
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale_n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc)
            only_suite = argv[++i];
        else if (!strcmp(argv[i], "--tput-net") && i + 1 < argc) {
            const char *m = argv[++i];
            tput_net = !strcmp(m, "plain")       ? 0
                       : !strcmp(m, "connected") ? TPUT_NET_CONNECT
                       : !strcmp(m, "quiet")     ? TPUT_NET_QUIET
                       : !strcmp(m, "both")      ? TPUT_NET_CONNECT | TPUT_NET_QUIET
                                                 : -1;
            if (tput_net < 0) {
                fprintf(stderr, "--tput-net: plain, connected, quiet or both\n");
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: %s [--quick] [--only "
                    "handshake|resume|hs13|tput13|tput|engine|memory|scale|workers|cbc_timing|tputsize|loss] "
                    "[--certs DIR] "
                    "[--scale N] [--suite NAME] [--tput-net plain|connected|quiet|both]\n",
                    argv[0]);
            return 2;
        }
    }
    static char impl[64];
    snprintf(impl, sizeof impl, "cdtls-%s", cdtls_provider_default()->name);
    bench_impl = impl;
#define RUN(name, fn) \
    if (!only || !strcmp(only, name)) fn
    RUN("engine", bench_engine());
    RUN("memory", bench_memory());
    RUN("handshake", bench_handshakes(0));
    RUN("resume", bench_handshakes(1));
    RUN("hs13", bench_hs13());
    RUN("tput13", bench_tput13());
    RUN("tput", bench_tput());
    RUN("scale", bench_scale());
    RUN("workers", bench_workers());
    RUN("cbc_timing", bench_cbc_timing());
    if (only && !strcmp(only, "tputsize")) bench_tputsize(); /* on request: bench.sh */
    if (only && !strcmp(only, "loss")) bench_loss();
    return 0;
}
