/* The cdtls benchmark workloads against OpenSSL's DTLS 1.2 (libssl), for
 * the ratios in docs/benchmarks.md. Same shape as bench/cdtls_bench.c:
 * client and server in this one thread over two loopback UDP sockets
 * (connected, non-blocking, BIO_s_datagram), so per CPU second = per core;
 * the same suites, group, certificates (bench.sh makes them), cookie
 * exchange on (SSL_OP_COOKIE_EXCHANGE: HelloVerifyRequest as cdtls and pion
 * send it), extended master secret on (OpenSSL's default, cdtls's too),
 * session-ID resumption without tickets, and windows of 32 records.
 *
 * scale: OpenSSL has no multi-peer DTLS listener, so this program has the
 * one an application writes (below, "scale"), as close to cdtls_listener as
 * libssl allows, holding --scale established PSK peers.
 *
 *   openssl-bench [--quick] [--only handshake|resume|tput|memory|scale|tputsize|loss] [--certs DIR] [--scale N]
 *
 * Results are JSON lines (bench_common.h). */
#include "bench_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

static int quick;
static const char *certs_dir = "zig-out/bench/certs";
static const unsigned char psk[16] = "bench-psk-16byte";

/* ------------------------------------------------- counting allocator */

/* OpenSSL's free() is not told the size: each block carries it in a header
 * (16 bytes, keeping malloc's alignment). */
static bench_counter mem;

static void *c_malloc(size_t n, const char *f, int l)
{
    (void)f, (void)l;
    size_t *p = malloc(n + 16);
    if (!p) return NULL;
    p[0] = n;
    bench_count_alloc(&mem, n);
    return (uint8_t *)p + 16;
}

static void c_free(void *q, const char *f, int l)
{
    (void)f, (void)l;
    if (!q) return;
    size_t *p = (size_t *)(void *)((uint8_t *)q - 16);
    bench_count_free(&mem, p[0]);
    free(p);
}

static void *c_realloc(void *q, size_t n, const char *f, int l)
{
    if (!q) return c_malloc(n, f, l);
    if (n == 0) {
        c_free(q, f, l);
        return NULL;
    }
    size_t *p = (size_t *)(void *)((uint8_t *)q - 16);
    size_t old = p[0];
    size_t *np = realloc(p, n + 16);
    if (!np) return NULL;
    np[0] = n;
    bench_count_free(&mem, old);
    bench_count_alloc(&mem, n);
    return (uint8_t *)np + 16;
}

/* ----------------------------------------------------------- configs */

typedef struct suite_def {
    const char *name;
    const char *ciphers;
    int psk;
    const char *cert;
    const char *groups;
} suite_def;

static const suite_def hs_suites[] = {
    {"PSK-AES128-GCM-SHA256", "PSK-AES128-GCM-SHA256", 1, NULL, NULL},
    {"PSK-CHACHA20-POLY1305-SHA256", "PSK-CHACHA20-POLY1305", 1, NULL, NULL},
    {"ECDHE-ECDSA-AES128-GCM-SHA256/P-256", "ECDHE-ECDSA-AES128-GCM-SHA256", 0, "p256", "P-256"},
    {"ECDHE-ECDSA-CHACHA20-POLY1305/X25519/Ed25519", "ECDHE-ECDSA-CHACHA20-POLY1305", 0, "ed25519", "X25519"},
};

static unsigned int psk_client_cb(SSL *s, const char *hint, char *identity, unsigned int max_identity,
                                  unsigned char *out, unsigned int max_psk)
{
    (void)s, (void)hint;
    if (max_identity < 6 || max_psk < sizeof psk) return 0;
    memcpy(identity, "bench", 6);
    memcpy(out, psk, sizeof psk);
    return sizeof psk;
}

static unsigned int psk_server_cb(SSL *s, const char *identity, unsigned char *out, unsigned int max_psk)
{
    (void)s;
    if (strcmp(identity, "bench") != 0 || max_psk < sizeof psk) return 0;
    memcpy(out, psk, sizeof psk);
    return sizeof psk;
}

/* Cookies: HMAC-SHA-256 over the peer's address, as cdtls binds them. */
static unsigned char cookie_secret[32] = "bench-cookie-secret-32-bytes-xx";

static int make_cookie(SSL *s, unsigned char *out, unsigned int *len)
{
    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof peer);
    (void)BIO_dgram_get_peer(SSL_get_rbio(s), &peer);
    unsigned int n = 0;
    HMAC(EVP_sha256(), cookie_secret, sizeof cookie_secret, (const unsigned char *)&peer,
         sizeof(struct sockaddr_in), out, &n);
    *len = n;
    return 1;
}

static int gen_cookie_cb(SSL *s, unsigned char *cookie, unsigned int *len)
{
    return make_cookie(s, cookie, len);
}

static int verify_cookie_cb(SSL *s, const unsigned char *cookie, unsigned int len)
{
    unsigned char want[EVP_MAX_MD_SIZE];
    unsigned int n;
    make_cookie(s, want, &n);
    return len == n && CRYPTO_memcmp(want, cookie, n) == 0;
}

static int make_ctxs(const suite_def *sd, SSL_CTX **cc, SSL_CTX **sc)
{
    *cc = SSL_CTX_new(DTLS_client_method());
    *sc = SSL_CTX_new(DTLS_server_method());
    if (!*cc || !*sc) return -1;
    for (int i = 0; i < 2; i++) {
        SSL_CTX *c = i ? *sc : *cc;
        SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION);
        /* session-ID resumption, as cdtls does it: no tickets */
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        if (SSL_CTX_set_cipher_list(c, sd->ciphers) != 1) return -1;
        if (sd->groups && SSL_CTX_set1_groups_list(c, sd->groups) != 1) return -1;
    }
    SSL_CTX_set_options(*sc, SSL_OP_COOKIE_EXCHANGE);
    SSL_CTX_set_cookie_generate_cb(*sc, gen_cookie_cb);
    SSL_CTX_set_cookie_verify_cb(*sc, verify_cookie_cb);
    SSL_CTX_set_session_id_context(*sc, (const unsigned char *)"bench", 5);
    SSL_CTX_set_session_cache_mode(*sc, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_cache_mode(*cc, SSL_SESS_CACHE_CLIENT);
    if (sd->psk) {
        SSL_CTX_set_psk_client_callback(*cc, psk_client_cb);
        SSL_CTX_set_psk_server_callback(*sc, psk_server_cb);
    } else {
        char path[512];
        snprintf(path, sizeof path, "%s/%s-leaf.pem", certs_dir, sd->cert);
        if (SSL_CTX_use_certificate_file(*sc, path, SSL_FILETYPE_PEM) != 1) return -1;
        snprintf(path, sizeof path, "%s/%s-leaf.key", certs_dir, sd->cert);
        if (SSL_CTX_use_PrivateKey_file(*sc, path, SSL_FILETYPE_PEM) != 1) return -1;
        snprintf(path, sizeof path, "%s/%s-root.pem", certs_dir, sd->cert);
        if (SSL_CTX_load_verify_locations(*cc, path, NULL) != 1) return -1;
        SSL_CTX_set_verify(*cc, SSL_VERIFY_PEER, NULL);
    }
    return 0;
}

/* ------------------------------------------------------------- sockets */

typedef struct net {
    int cfd, sfd;
    struct sockaddr_in caddr, saddr;
    SSL *cli, *srv;
} net;

static int udp_socket(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof *a) != 0) exit(1);
    socklen_t l = sizeof *a;
    getsockname(fd, (struct sockaddr *)a, &l);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    return fd;
}

static void net_open(net *n)
{
    memset(n, 0, sizeof *n);
    n->cfd = udp_socket(&n->caddr);
    n->sfd = udp_socket(&n->saddr);
    /* connected: each side's BIO talks to the other only */
    connect(n->cfd, (struct sockaddr *)&n->saddr, sizeof n->saddr);
    connect(n->sfd, (struct sockaddr *)&n->caddr, sizeof n->caddr);
}

static void net_close(net *n)
{
    close(n->cfd);
    close(n->sfd);
}

static SSL *new_ssl(SSL_CTX *ctx, int fd, const struct sockaddr_in *peer)
{
    SSL *s = SSL_new(ctx);
    BIO *b = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, (void *)peer);
    SSL_set_bio(s, b, b);
    return s;
}

static int progress_of(SSL *s, int r)
{
    if (r == 1) return 1;
    int e = SSL_get_error(s, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* One handshake; both SSL objects stay in n for the caller to free. */
static int net_handshake(net *n, SSL_CTX *cc, SSL_CTX *sc, SSL_SESSION *sess, int *resumed)
{
    n->cli = new_ssl(cc, n->cfd, &n->saddr);
    n->srv = new_ssl(sc, n->sfd, &n->caddr);
    SSL_set_connect_state(n->cli);
    SSL_set_accept_state(n->srv);
    SSL_set1_host(n->cli, "bench.example");
    if (sess) SSL_set_session(n->cli, sess);
    int cdone = 0, sdone = 0;
    for (int idle = 0; idle < 200;) {
        if (!cdone) {
            int r = progress_of(n->cli, SSL_do_handshake(n->cli));
            if (r < 0) return -1;
            cdone = r;
        }
        if (!sdone) {
            int r = progress_of(n->srv, SSL_do_handshake(n->srv));
            if (r < 0) return -1;
            sdone = r;
        }
        if (cdone && sdone) break;
        /* nothing moves until a datagram arrives on a socket not yet read */
        struct pollfd p[2] = {{n->cfd, POLLIN, 0}, {n->sfd, POLLIN, 0}};
        if (poll(p, 2, 0) == 0) {
            if (poll(p, 2, 10) == 0) {
                DTLSv1_handle_timeout(n->cli);
                DTLSv1_handle_timeout(n->srv);
                idle++;
            }
        }
    }
    if (!(cdone && sdone)) return -1;
    if (resumed) *resumed = SSL_session_reused(n->cli);
    return 0;
}

static void net_free_ssl(net *n)
{
    /* Freed as after a clean (quiet) shutdown: OpenSSL drops from its cache
     * the session of an SSL object freed without one, and cdtls keeps it. */
    SSL_set_shutdown(n->cli, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_shutdown(n->srv, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(n->cli);
    SSL_free(n->srv);
    n->cli = n->srv = NULL;
}

/* ------------------------------------------------------- handshakes */

static void bench_handshakes(int resume)
{
    const char *wl = resume ? "resume" : "handshake";
    for (size_t i = 0; i < sizeof hs_suites / sizeof hs_suites[0]; i++) {
        const suite_def *sd = &hs_suites[i];
        SSL_CTX *cc, *sc;
        if (make_ctxs(sd, &cc, &sc)) {
            bench_not_measured(wl, sd->name, "OpenSSL refused the configuration");
            ERR_print_errors_fp(stderr);
            continue;
        }
        net n;
        net_open(&n);
        SSL_SESSION *sess = NULL;
        int ok = 1, resumed = 0;
        for (int w = 0; w < 5 && ok; w++) {
            ok = net_handshake(&n, cc, sc, sess, &resumed) == 0;
            if (ok && resume && !sess) {
                SSL_shutdown(n.cli); /* a session is resumable once shut down cleanly */
                sess = SSL_get1_session(n.cli);
            }

            net_free_ssl(&n);
        }
        if (!ok || (resume && !resumed)) {
            bench_not_measured(wl, sd->name,
                               ok ? "did not resume"
                               : !sd->psk && !strcmp(sd->cert, "ed25519")
                                   ? "OpenSSL 3.0 DTLS 1.2 negotiates no suite with an Ed25519 certificate "
                                     "(no shared cipher)"
                                   : "handshake failed");
            ERR_print_errors_fp(stderr);
        } else {
            int iters = quick ? 50 : (sd->psk ? 3000 : 600);
            double best = 0, wall_rate = 0;
            for (int rep = 0; rep < 3 && ok; rep++) {
                double w0 = bench_wall(), c0 = bench_cpu();
                int done = 0;
                for (; done < iters; done++) {
                    if (net_handshake(&n, cc, sc, sess, &resumed) || (resume && !resumed)) {
                        ok = 0;
                        break;
                    }
                    net_free_ssl(&n);
                }
                double cpu = bench_cpu() - c0, wall = bench_wall() - w0;
                if (done / cpu > best) best = done / cpu, wall_rate = done / wall;
            }
            if (ok) {
                bench_result(wl, sd->name, "hs_per_cpu_s", best);
                bench_result(wl, sd->name, "hs_per_wall_s", wall_rate);
            } else {
                bench_not_measured(wl, sd->name, "a handshake failed");
            }
        }
        if (n.cli) net_free_ssl(&n);
        if (sess) SSL_SESSION_free(sess);
        net_close(&n);
        SSL_CTX_free(cc);
        SSL_CTX_free(sc);
    }
}

/* ------------------------------------------------------- throughput */

#define WINDOW 32u
static unsigned char app[16384], rbuf[16384];

static double run_stream(net *n, size_t rec, size_t total, size_t *lost, double *wall)
{
    memset(app, 0x5a, rec);
    *lost = 0;
    double w0 = bench_wall(), c0 = bench_cpu();
    for (size_t sent = 0; sent < total; sent += WINDOW) {
        for (unsigned i = 0; i < WINDOW; i++)
            if (SSL_write(n->cli, app, (int)rec) != (int)rec) {
                fprintf(stderr, "SSL_write failed\n");
                exit(1);
            }
        size_t got = 0;
        while (got < WINDOW) {
            int r = SSL_read(n->srv, rbuf, sizeof rbuf);
            if (r > 0) {
                got++;
                continue;
            }
            if (SSL_get_error(n->srv, r) != SSL_ERROR_WANT_READ) exit(1);
            struct pollfd p = {n->sfd, POLLIN, 0};
            if (poll(&p, 1, 200) <= 0) break;
        }
        *lost += WINDOW - got;
    }
    *wall = bench_wall() - w0;
    return bench_cpu() - c0;
}

static void bench_tput(void)
{
    for (size_t i = 0; i < 2; i++) {
        const suite_def *sd = &hs_suites[i];
        SSL_CTX *cc, *sc;
        if (make_ctxs(sd, &cc, &sc)) continue;
        net n;
        net_open(&n);
        if (net_handshake(&n, cc, sc, NULL, NULL)) {
            bench_not_measured("tput", sd->name, "handshake failed");
        } else {
            size_t lost;
            double wall;
            run_stream(&n, 16, WINDOW, &lost, &wall);
            const size_t sizes[2] = {1200, 64};
            for (int s = 0; s < 2; s++) {
                size_t total = quick ? 20000 : (sizes[s] == 1200 ? 200000 : 300000);
                double best = 1e9, best_wall = 0;
                size_t best_lost = 0;
                for (int rep = 0; rep < 3; rep++) {
                    double cpu = run_stream(&n, sizes[s], total, &lost, &wall);
                    if (cpu < best) best = cpu, best_wall = wall, best_lost = lost;
                }
                const char *wl = sizes[s] == 1200 ? "tput1200" : "rec64";
                bench_stream_result(wl, sd->name, sizes[s], total, best_lost, best, best_wall);
            }
        }
        net_free_ssl(&n);
        net_close(&n);
        SSL_CTX_free(cc);
        SSL_CTX_free(sc);
    }
}

/* ----------------------------------------- throughput by record size */

/* As cdtls_bench.c's tputsize: the per-datagram stream at each size. */
static const size_t tputsize_sizes[] = {64, 256, 512, 1024, 1200, 1400};

static void bench_tputsize(void)
{
    for (size_t i = 0; i < 2; i++) {
        const suite_def *sd = &hs_suites[i];
        SSL_CTX *cc, *sc;
        if (make_ctxs(sd, &cc, &sc)) continue;
        net n;
        net_open(&n);
        if (net_handshake(&n, cc, sc, NULL, NULL)) {
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
        net_free_ssl(&n);
        net_close(&n);
        SSL_CTX_free(cc);
        SSL_CTX_free(sc);
    }
}

/* ------------------------------------------------- handshake under loss */

/* As cdtls_bench.c's loss sweep: the same PSK handshake with loss_p of the
 * datagrams dropped at the sender each way (a filter BIO in front of each
 * side's datagram BIO drops writes, from the same xorshift64 and seeds), the
 * same timer policy: first retransmission after 50 ms, doubling up to
 * 1.6 s (DTLS_set_timer_cb), a handshake not done within 30 s failed. */
static double loss_p;
static uint64_t loss_rng;
static BIO_METHOD *lossy_method;

static int loss_drop(void)
{
    if (loss_p <= 0) return 0;
    loss_rng ^= loss_rng << 13;
    loss_rng ^= loss_rng >> 7;
    loss_rng ^= loss_rng << 17;
    return (double)(loss_rng >> 11) / 9007199254740992.0 < loss_p;
}

static int lossy_write(BIO *b, const char *d, int len)
{
    if (loss_drop()) return len; /* sent, as far as the sender knows */
    return BIO_write(BIO_next(b), d, len);
}

static long lossy_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return BIO_ctrl(BIO_next(b), cmd, num, ptr);
}

static int lossy_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static unsigned int loss_timer_cb(SSL *s, unsigned int prev_us)
{
    (void)s;
    if (prev_us == 0) return 50000;
    return prev_us * 2 > 1600000 ? 1600000 : prev_us * 2;
}

static SSL *lossy_ssl(SSL_CTX *ctx, int fd, const struct sockaddr_in *peer)
{
    SSL *s = SSL_new(ctx);
    BIO *d = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(d, BIO_CTRL_DGRAM_SET_CONNECTED, 0, (void *)peer);
    BIO *f = BIO_new(lossy_method);
    BIO_up_ref(d);
    BIO_push(f, d);
    SSL_set_bio(s, d, f); /* reads straight from the socket, writes through the filter */
    DTLS_set_timer_cb(s, loss_timer_cb);
    return s;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int loss_handshake(net *n, SSL_CTX *cc, SSL_CTX *sc, double *ms)
{
    double w0 = bench_wall();
    n->cli = lossy_ssl(cc, n->cfd, &n->saddr);
    n->srv = lossy_ssl(sc, n->sfd, &n->caddr);
    SSL_set_connect_state(n->cli);
    SSL_set_accept_state(n->srv);
    int cdone = 0, sdone = 0;
    while (bench_wall() - w0 < 30) {
        if (!cdone) {
            int r = progress_of(n->cli, SSL_do_handshake(n->cli));
            if (r < 0) return -1;
            cdone = r;
        }
        if (!sdone) {
            int r = progress_of(n->srv, SSL_do_handshake(n->srv));
            if (r < 0) return -1;
            sdone = r;
        }
        if (cdone && sdone) {
            *ms = (bench_wall() - w0) * 1e3;
            return 0;
        }
        /* A side that is done keeps reading: a retransmitted flight from
         * the other (its last flight was lost) makes it send its own again. */
        if (cdone) (void)SSL_read(n->cli, rbuf, sizeof rbuf);
        if (sdone) (void)SSL_read(n->srv, rbuf, sizeof rbuf);
        struct pollfd p[2] = {{n->cfd, POLLIN, 0}, {n->sfd, POLLIN, 0}};
        if (poll(p, 2, 2) == 0) {
            DTLSv1_handle_timeout(n->cli);
            DTLSv1_handle_timeout(n->srv);
        }
    }
    return -1;
}

static void bench_loss(void)
{
    const suite_def *sd = &hs_suites[0];
    SSL_CTX *cc, *sc;
    if (make_ctxs(sd, &cc, &sc)) return;
    lossy_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "lossy");
    BIO_meth_set_write(lossy_method, lossy_write);
    BIO_meth_set_ctrl(lossy_method, lossy_ctrl);
    BIO_meth_set_create(lossy_method, lossy_create);
    int iters = quick ? 4 : 12;
    for (int pct = 0; pct <= 50; pct += 10) {
        loss_p = pct / 100.0;
        loss_rng = 0x9e3779b97f4a7c15u + (uint64_t)pct;
        double t[64];
        int done = 0, failed = 0;
        for (int k = 0; k < iters; k++) {
            net n;
            net_open(&n); /* fresh sockets: no stray retransmission reaches the next handshake */
            double ms;
            if (loss_handshake(&n, cc, sc, &ms) == 0)
                t[done++] = ms;
            else
                failed++;
            net_free_ssl(&n);
            net_close(&n);
        }
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
        bench_result(wl, sd->name, "hs_failed", failed);
    }
    loss_p = 0;
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
}

/* ----------------------------------------------------------- memory */

/* Bytes that one established pair (client + server SSL objects) holds,
 * after a record each way, and the peak during its handshake, measured over
 * the handshake alone (contexts exist before). */
static void bench_memory(void)
{
    for (size_t i = 0; i < sizeof hs_suites / sizeof hs_suites[0]; i++) {
        const suite_def *sd = &hs_suites[i];
        SSL_CTX *cc, *sc;
        if (make_ctxs(sd, &cc, &sc)) continue;
        net n;
        net_open(&n);
        /* one handshake first, so lazily made tables (cipher lists, group
         * parameters) are not charged to the measured one */
        if (net_handshake(&n, cc, sc, NULL, NULL) == 0) net_free_ssl(&n);
        size_t base = mem.live;
        mem.peak = mem.live;
        if (net_handshake(&n, cc, sc, NULL, NULL) == 0) {
            size_t peak = mem.peak - base;
            size_t w;
            SSL_write_ex(n.cli, app, 16, &w);
            for (int k = 0; k < 100 && SSL_read_ex(n.srv, rbuf, sizeof rbuf, &w) != 1; k++) usleep(100);
            SSL_write_ex(n.srv, app, 16, &w);
            for (int k = 0; k < 100 && SSL_read_ex(n.cli, rbuf, sizeof rbuf, &w) != 1; k++) usleep(100);
            bench_result("memory", sd->name, "pair_established_B", (double)(mem.live - base));
            bench_result("memory", sd->name, "pair_peak_B", (double)peak);
            net_free_ssl(&n);
        } else {
            bench_not_measured("memory", sd->name,
                               sd->cert && !strcmp(sd->cert, "ed25519")
                                   ? "OpenSSL 3.0 DTLS 1.2: no suite with an Ed25519 certificate"
                                   : "handshake failed");
        }
        net_close(&n);
        SSL_CTX_free(cc);
        SSL_CTX_free(sc);
    }
}

/* ------------------------------------------------------------ scale */

/* A server holding many peers, written as cdtls_listener is written: one
 * unconnected UDP socket for all peers; datagrams from an address it does
 * not know go to DTLSv1_listen on one listening SSL object (the stateless
 * HelloVerifyRequest cookie exchange, as cdtls's one hello verifier; the
 * same HMAC cookie callbacks as the other workloads); a ClientHello with a
 * good cookie turns that SSL object into the peer's (a fresh listening one
 * is made) and the peer goes into a hash table by address (open addressing,
 * grown at half full, as cdtls's). Each peer's SSL talks through a small
 * BIO of this program: a read gives the one datagram being handed to it,
 * each write is one sendto on the shared socket to the peer's address.
 * Retransmission timers are walked for the peers still handshaking only
 * (an established peer has none), as cdtls_listener walks them. The peers'
 * structs and the table are counted with OpenSSL's allocations. No session
 * cache on either side (the cdtls and pion scale servers have none).
 *
 * Clients as cdtls's scale clients: each on its own socket (connected,
 * BIO_s_datagram, as in the other workloads), 16 handshaking at once,
 * driven by this same thread; once established a client sends one 16-byte
 * record and its SSL object is freed without a close_notify, the socket
 * kept open (its port is the server's key for that peer). */

static size_t scale_n = 10000;

typedef struct speer {
    SSL *ssl;
    struct sockaddr_in addr;
    const unsigned char *in; /* the datagram being handed to ssl, or NULL */
    size_t in_len;
    int established;
    size_t hs_slot; /* index in scale_hs while handshaking */
} speer;

static int scale_fd = -1;
static BIO_METHOD *peer_method;
static speer **scale_tab, **scale_hs;
static size_t tab_cap, tab_n, hs_n, hs_cap, scale_established, scale_failed;

static void *counted(size_t n)
{
    return c_malloc(n, NULL, 0);
}
static void uncounted(void *p)
{
    c_free(p, NULL, 0);
}

static int pbio_write(BIO *b, const char *d, int len)
{
    speer *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    /* a datagram the kernel refuses (queue full) is lost, as on a network:
     * the handshake's timers resend */
    (void)sendto(scale_fd, d, (size_t)len, 0, (struct sockaddr *)&p->addr, sizeof p->addr);
    return len;
}

static int pbio_read(BIO *b, char *out, int len)
{
    speer *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!p->in) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = p->in_len < (size_t)len ? p->in_len : (size_t)len;
    memcpy(out, p->in, n);
    p->in = NULL;
    return (int)n;
}

static long pbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    speer *p = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_DGRAM_GET_PEER: /* the cookie callbacks bind the address */
        memcpy(ptr, &p->addr, sizeof p->addr);
        return (long)sizeof p->addr;
    case BIO_CTRL_DGRAM_SET_PEER:
    case BIO_CTRL_DGRAM_SET_CONNECTED:
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: return 28; /* IPv4 + UDP */
    default: return 0;
    }
}

static int pbio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static speer *speer_new(SSL_CTX *sc)
{
    speer *p = counted(sizeof *p);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->ssl = SSL_new(sc);
    BIO *b = BIO_new(peer_method);
    BIO_set_data(b, p);
    SSL_set_bio(p->ssl, b, b);
    SSL_set_options(p->ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(p->ssl, 1500);
    SSL_set_accept_state(p->ssl);
    p->hs_slot = (size_t)-1;
    return p;
}

static void speer_free(speer *p)
{
    SSL_set_shutdown(p->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(p->ssl);
    uncounted(p);
}

static size_t addr_hash(const struct sockaddr_in *a)
{
    uint64_t k = ((uint64_t)a->sin_addr.s_addr << 16) ^ a->sin_port;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 29);
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static speer *tab_find(const struct sockaddr_in *a)
{
    if (!tab_cap) return NULL;
    for (size_t i = addr_hash(a) & (tab_cap - 1);; i = (i + 1) & (tab_cap - 1)) {
        if (!scale_tab[i]) return NULL;
        if (same_addr(&scale_tab[i]->addr, a)) return scale_tab[i];
    }
}

static void tab_put(speer **t, size_t cap, speer *p)
{
    size_t i = addr_hash(&p->addr) & (cap - 1);
    while (t[i]) i = (i + 1) & (cap - 1);
    t[i] = p;
}

static int tab_insert(speer *p)
{
    if (2 * (tab_n + 1) > tab_cap) {
        size_t cap = tab_cap ? 2 * tab_cap : 64;
        speer **t = counted(cap * sizeof *t);
        if (!t) return -1;
        memset(t, 0, cap * sizeof *t);
        for (size_t i = 0; i < tab_cap; i++)
            if (scale_tab[i]) tab_put(t, cap, scale_tab[i]);
        if (scale_tab) uncounted(scale_tab);
        scale_tab = t, tab_cap = cap;
    }
    tab_put(scale_tab, tab_cap, p);
    tab_n++;
    return 0;
}

/* the peers still handshaking (at most the clients in flight, and the
 * list's slots are not per peer: not counted) */
static void hs_add(speer *p)
{
    if (hs_n == hs_cap) {
        hs_cap = hs_cap ? 2 * hs_cap : 64;
        scale_hs = realloc(scale_hs, hs_cap * sizeof *scale_hs);
    }
    p->hs_slot = hs_n;
    scale_hs[hs_n++] = p;
}

static void hs_remove(speer *p)
{
    if (p->hs_slot == (size_t)-1) return;
    speer *last = scale_hs[--hs_n];
    scale_hs[p->hs_slot] = last;
    last->hs_slot = p->hs_slot;
    p->hs_slot = (size_t)-1;
}

/* Moves one peer's SSL on after a datagram (or a timer), reading whatever
 * application data it has once established. */
static void speer_drive(speer *p)
{
    if (!p->established) {
        int r = SSL_do_handshake(p->ssl);
        if (r == 1) {
            p->established = 1;
            hs_remove(p);
            scale_established++;
        } else {
            if (progress_of(p->ssl, r) < 0) {
                if (!scale_failed++) ERR_print_errors_fp(stderr);
                hs_remove(p);
            }
            return;
        }
    }
    while (SSL_read(p->ssl, rbuf, sizeof rbuf) > 0) {
    }
}

static speer *listening;
static BIO_ADDR *listen_peer;

static void server_datagram(SSL_CTX *sc, const struct sockaddr_in *from, const unsigned char *d, size_t n)
{
    speer *p = tab_find(from);
    if (!p) {
        p = listening;
        p->addr = *from;
        p->in = d, p->in_len = n;
        int r = DTLSv1_listen(p->ssl, listen_peer);
        p->in = NULL;
        if (r <= 0) { /* HelloVerifyRequest sent, or not a ClientHello */
            ERR_clear_error();
            return;
        }
        /* a verified cookie: the SSL object holds the ClientHello */
        if (tab_insert(p)) return;
        hs_add(p);
        listening = speer_new(sc);
    } else {
        p->in = d, p->in_len = n;
    }
    speer_drive(p);
    p->in = NULL;
}

static void server_step(SSL_CTX *sc)
{
    static unsigned char d[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(scale_fd, d, sizeof d, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) break;
        server_datagram(sc, &from, d, (size_t)n);
    }
    for (size_t i = 0; i < hs_n; i++) {
        speer *p = scale_hs[i];
        if (DTLSv1_handle_timeout(p->ssl) > 0) speer_drive(p);
    }
}

typedef struct sclient {
    int fd;
    SSL *ssl;
    int done;
} sclient;

static int scale_phase(SSL_CTX *cc, SSL_CTX *sc, const struct sockaddr_in *srv, sclient *cl, size_t from,
                       size_t to, unsigned inflight)
{
    size_t next = from, busy = 0, finished = 0, est0 = scale_established;
    double deadline = bench_wall() + 900;
    while (finished < to - from || scale_established - est0 < to - from) {
        if (bench_wall() > deadline || scale_failed) return -1;
        while (busy < inflight && next < to) {
            sclient *c = &cl[next++];
            struct sockaddr_in a;
            c->fd = udp_socket(&a);
            connect(c->fd, (const struct sockaddr *)srv, sizeof *srv);
            c->ssl = new_ssl(cc, c->fd, srv);
            SSL_set_connect_state(c->ssl);
            if (progress_of(c->ssl, SSL_do_handshake(c->ssl)) < 0) return -1;
            busy++;
        }
        server_step(sc);
        for (size_t i = from; i < next; i++) {
            sclient *c = &cl[i];
            if (c->done) continue;
            DTLSv1_handle_timeout(c->ssl);
            int r = progress_of(c->ssl, SSL_do_handshake(c->ssl));
            if (r < 0) {
                fprintf(stderr, "openssl scale: client %zu failed\n", i);
                ERR_print_errors_fp(stderr);
                return -1;
            }
            if (r == 1) {
                size_t w;
                /* one record so the server has read from the peer */
                SSL_write_ex(c->ssl, app, 16, &w);
                /* the engine is no longer needed; the socket stays open */
                SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
                SSL_free(c->ssl);
                c->ssl = NULL;
                c->done = 1;
                busy--;
                finished++;
            }
        }
    }
    return 0;
}

static void bench_scale(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    size_t probe = scale_n >= 2000 ? 1000 : scale_n / 2, want = scale_n + probe + 1000,
           total = scale_n + probe;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    peer_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bench-peer");
    BIO_meth_set_write(peer_method, pbio_write);
    BIO_meth_set_read(peer_method, pbio_read);
    BIO_meth_set_ctrl(peer_method, pbio_ctrl);
    BIO_meth_set_create(peer_method, pbio_create);
    listen_peer = BIO_ADDR_new();
    for (size_t si = 0; si < 2; si++) {
        const suite_def *sd = &hs_suites[si];
        if (rl.rlim_cur < scale_n + probe + 100) {
            bench_not_measured("scale", sd->name, "not enough file descriptors for the clients");
            continue;
        }
        SSL_CTX *cc, *sc;
        if (make_ctxs(sd, &cc, &sc)) {
            bench_not_measured("scale", sd->name, "OpenSSL refused the configuration");
            continue;
        }
        SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
        struct sockaddr_in srv;
        scale_fd = udp_socket(&srv);
        tab_cap = tab_n = hs_n = scale_established = scale_failed = 0;
        scale_tab = NULL;
        listening = speer_new(sc);
        sclient *cl = calloc(total, sizeof *cl);
        const unsigned inflight = 16;
        size_t base = mem.live;

        double w0 = bench_wall(), c0 = bench_cpu();
        int ok = scale_phase(cc, sc, &srv, cl, 0, probe, inflight) == 0;
        double rate0 = probe / (bench_wall() - w0), crate0 = probe / (bench_cpu() - c0);
        if (ok) ok = scale_phase(cc, sc, &srv, cl, probe, scale_n, inflight) == 0;
        size_t live_n = mem.live;
        double rateN = 0, crateN = 0;
        if (ok) {
            w0 = bench_wall(), c0 = bench_cpu();
            ok = scale_phase(cc, sc, &srv, cl, scale_n, total, inflight) == 0;
            rateN = probe / (bench_wall() - w0), crateN = probe / (bench_cpu() - c0);
        }
        if (!ok) {
            bench_not_measured("scale", sd->name, "handshakes did not complete");
        } else {
            bench_result("scale", sd->name, "peers", (double)tab_n);
            bench_result("scale", sd->name, "server_B_per_peer", (double)(live_n - base) / (double)scale_n);
            bench_result("scale", sd->name, "hs_per_wall_s_empty", rate0);
            bench_result("scale", sd->name, "hs_per_cpu_s_empty", crate0);
            bench_result("scale", sd->name, "hs_per_wall_s_loaded", rateN);
            bench_result("scale", sd->name, "hs_per_cpu_s_loaded", crateN);
        }
        for (size_t i = 0; i < tab_cap; i++)
            if (scale_tab[i]) speer_free(scale_tab[i]);
        if (scale_tab) uncounted(scale_tab);
        scale_tab = NULL;
        speer_free(listening);
        for (size_t i = 0; i < total; i++) {
            if (cl[i].ssl) SSL_free(cl[i].ssl);
            if (cl[i].fd > 0) close(cl[i].fd);
        }
        free(cl);
        close(scale_fd);
        SSL_CTX_free(cc);
        SSL_CTX_free(sc);
    }
    free(scale_hs);
    scale_hs = NULL;
    hs_cap = 0;
    BIO_ADDR_free(listen_peer);
    BIO_meth_free(peer_method);
}

int main(int argc, char **argv)
{
    /* before OpenSSL allocates anything */
    if (!CRYPTO_set_mem_functions(c_malloc, c_realloc, c_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions refused\n");
        return 1;
    }
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
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--only handshake|resume|tput|memory|scale|tputsize|loss] [--certs "
                    "DIR] [--scale N]\n",
                    argv[0]);
            return 2;
        }
    }
    static char impl[64];
    snprintf(impl, sizeof impl, "openssl-%s", OpenSSL_version(OPENSSL_VERSION_STRING));
    bench_impl = impl;
    if (!only || !strcmp(only, "memory")) bench_memory();
    if (!only || !strcmp(only, "handshake")) bench_handshakes(0);
    if (!only || !strcmp(only, "resume")) bench_handshakes(1);
    if (!only || !strcmp(only, "tput")) bench_tput();
    if (!only || !strcmp(only, "scale")) bench_scale();
    if (only && !strcmp(only, "tputsize")) bench_tputsize();
    if (only && !strcmp(only, "loss")) bench_loss();
    return 0;
}
