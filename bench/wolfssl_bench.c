/* wolfssl-bench: cdtls_bench.c's DTLS 1.3 workloads (hs13, tput13) on
 * wolfSSL (issue 16), for the cdtls/wolfSSL ratios in docs/benchmarks.md.
 * Built by scripts/bench.sh with the system's cc against a wolfSSL it
 * configures from the source tarball scripts/build-peers.sh fetched
 * (.peers/dl), with the interop peer's options (DTLS 1.3, X25519, the ML-KEM
 * hybrids, Ed25519) and session tickets, AES-NI and the x86-64 assembly.
 *
 * Measured as cdtls_bench.c measures its hs13 and tput13 rows: client and
 * server in this one thread over two non-blocking loopback UDP sockets
 * (kept for the whole suite, as cdtls_bench.c's net), wolfSSL reading and
 * writing them itself (wolfSSL_set_fd + wolfSSL_dtls_set_peer: one datagram
 * per system call, as cdtls's io sockets and pion); rates per CPU second of
 * the process (CLOCK_PROCESS_CPUTIME_ID) and per wall second, best of 3
 * runs of 400 handshakes (50 with --quick) after 5 warm-up ones, and the
 * median wall time of one handshake. Same settings as cdtls's rows: DTLS
 * 1.3 only on both sides; TLS_CHACHA20_POLY1305_SHA256 with the server's
 * Ed25519 certificate and TLS_AES_128_GCM_SHA256 with ECDSA P-256 (made by
 * scripts/bench.sh), checked by the client against the root with the name
 * bench.example; the cookie HelloRetryRequest on (wolfSSL_send_hrr_cookie);
 * one group offered and accepted, X25519 or X25519MLKEM768; MTU 1500
 * (--enable-dtls-mtu). Each warm-up handshake checks the version and the
 * group the server negotiated. As cdtls_bench.c's loop, a handshake may
 * wait 20 times 100 ms for a datagram; wolfSSL's retransmission timers are
 * fired at each such wait (sooner than its own 1 s: on loopback nothing is
 * lost, and where something is, that favours wolfSSL).
 *
 *   "<suite> resumed": each handshake resumes the previous one's session by
 *   its ticket (wolfSSL's default ticket keys on the server, the client's
 *   WOLFSSL_SESSION handed to the next client), each one checked to resume
 *   (wolfSSL_session_reused) and waiting, as cdtls's, for the client to take
 *   the new ticket and the server to read its ACK.
 *   tput13: one connection (X25519) streaming 1200-byte records in windows
 *   of 32, the receiver waiting at most 200 ms a window (what does not come
 *   is lost), best of 3: MB per CPU and wall second.
 *
 *   wolfssl-bench [--quick] [--only hs13|tput13] [--certs DIR] [--suite NAME]
 *
 * Results are JSON lines (bench_common.h), impl "wolfssl-<version>". */
#include "bench_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

static int quick;
static const char *certs_dir = "zig-out/bench/certs";
static const char *only_suite;

typedef struct suite13 {
    const char *name;
    const char *cipher; /* wolfSSL's name of the 1.3 suite */
    int group;          /* WOLFSSL_ECC_X25519 or WOLFSSL_X25519MLKEM768 */
    const char *cert;   /* stem of the certificate files */
} suite13;

static const suite13 suites[] = {
    {"TLS13-CHACHA20-POLY1305/X25519/Ed25519", "TLS13-CHACHA20-POLY1305-SHA256", WOLFSSL_ECC_X25519,
     "ed25519"},
    {"TLS13-CHACHA20-POLY1305/X25519MLKEM768/Ed25519", "TLS13-CHACHA20-POLY1305-SHA256",
     WOLFSSL_X25519MLKEM768, "ed25519"},
    {"TLS13-AES128-GCM/X25519/ECDSA-P256", "TLS13-AES128-GCM-SHA256", WOLFSSL_ECC_X25519, "p256"},
    {"TLS13-AES128-GCM/X25519MLKEM768/ECDSA-P256", "TLS13-AES128-GCM-SHA256", WOLFSSL_X25519MLKEM768, "p256"},
};

/* ------------------------------------------------------ loopback pair */

typedef struct pair {
    int cfd, sfd;
    struct sockaddr_in caddr, saddr;
    WOLFSSL *cli, *srv;
    int tickets; /* NewSessionTickets the client took */
} pair;

static int udp_open(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *a;
    if (bind(fd, (struct sockaddr *)a, sizeof *a) || getsockname(fd, (struct sockaddr *)a, &len) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void pair_open(pair *p)
{
    memset(p, 0, sizeof *p);
    p->cfd = udp_open(&p->caddr);
    p->sfd = udp_open(&p->saddr);
    if (p->cfd < 0 || p->sfd < 0) {
        fprintf(stderr, "cannot open loopback sockets\n");
        exit(1);
    }
}

static void pair_free_conns(pair *p)
{
    wolfSSL_free(p->cli);
    wolfSSL_free(p->srv);
    p->cli = p->srv = NULL;
}

static void pair_close(pair *p)
{
    pair_free_conns(p);
    close(p->cfd);
    close(p->sfd);
}

/* What a previous connection left on the sockets (a late ACK) is not the
 * next one's. */
static void drain_socket(int fd)
{
    uint8_t b[2048];
    while (recv(fd, b, sizeof b, 0) >= 0) {
    }
}

/* The server's cookie key, made once as cdtls's hello verifier keys its
 * cookies once (wolfSSL_send_hrr_cookie without one draws a new key for
 * every WOLFSSL object). */
static unsigned char cookie_secret[32];

static int on_ticket(WOLFSSL *ssl, const unsigned char *t, int len, void *ctx)
{
    (void)ssl, (void)t, (void)len;
    ((pair *)ctx)->tickets++;
    return 0;
}

/* the server's side of one step: 1 done, 0 wants more, -1 failed */
static int step(WOLFSSL *ssl, int server, int *done)
{
    if (*done) return 1;
    int rc = server ? wolfSSL_accept(ssl) : wolfSSL_connect(ssl);
    if (rc == WOLFSSL_SUCCESS) return *done = 1;
    int err = wolfSSL_get_error(ssl, rc);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return 0;
    char buf[WOLFSSL_MAX_ERROR_SZ];
    fprintf(stderr, "wolfssl %s: %d %s\n", server ? "server" : "client", err,
            wolfSSL_ERR_error_string(err, buf));
    return -1;
}

/* Waits at most ms for either socket; a timeout fires both sides'
 * retransmission timers. Returns poll's count. */
static int pair_wait(pair *p, int ms)
{
    struct pollfd f[2] = {{p->cfd, POLLIN, 0}, {p->sfd, POLLIN, 0}};
    int n = poll(f, 2, ms);
    if (n == 0) {
        if (p->cli) (void)wolfSSL_dtls_got_timeout(p->cli);
        if (p->srv) (void)wolfSSL_dtls_got_timeout(p->srv);
    }
    return n;
}

static WOLFSSL *new_ssl(WOLFSSL_CTX *ctx, int fd, struct sockaddr_in *peer, int group)
{
    WOLFSSL *s = wolfSSL_new(ctx);
    if (!s) return NULL;
    int groups[1] = {group};
    if (wolfSSL_set_fd(s, fd) != WOLFSSL_SUCCESS ||
        wolfSSL_dtls_set_peer(s, peer, sizeof *peer) != WOLFSSL_SUCCESS ||
        wolfSSL_set_groups(s, groups, 1) != WOLFSSL_SUCCESS) {
        wolfSSL_free(s);
        return NULL;
    }
    wolfSSL_dtls_set_using_nonblock(s, 1);
#ifdef WOLFSSL_DTLS_MTU
    /* MTU 1500 as cdtls's and pion's rows (wolfSSL's default is 1400: the
     * hybrid's 1.4 KB ClientHello would go in two fragments there) */
    if (wolfSSL_dtls_set_mtu(s, 1500) != WOLFSSL_SUCCESS) {
        wolfSSL_free(s);
        return NULL;
    }
#endif
    return s;
}

/* One handshake between new WOLFSSL objects over p's sockets (tickets: the
 * server issues one; sess: the session to resume, or NULL). Returns 0 when
 * both sides finished. */
static int pair_handshake(pair *p, WOLFSSL_CTX *cctx, WOLFSSL_CTX *sctx, int group, int tickets,
                          WOLFSSL_SESSION *sess)
{
    const char *what = NULL;
    p->cli = new_ssl(cctx, p->cfd, &p->saddr, group);
    p->srv = new_ssl(sctx, p->sfd, &p->caddr, group);
    if (!p->cli || !p->srv) what = "wolfSSL_new, set_fd, dtls_set_peer or set_groups";
    /* the client offers a share of the one group (else wolfSSL sends none
     * for a hybrid and pays a HelloRetryRequest the others do not) */
    else if (wolfSSL_UseKeyShare(p->cli, (word16)group) != WOLFSSL_SUCCESS)
        what = "wolfSSL_UseKeyShare";
    else if (wolfSSL_check_domain_name(p->cli, "bench.example") != WOLFSSL_SUCCESS)
        what = "wolfSSL_check_domain_name";
    else if (sess && wolfSSL_set_session(p->cli, sess) != WOLFSSL_SUCCESS)
        what = "wolfSSL_set_session";
    /* the stateless cookie exchange, as cdtls's hello verifier and pion */
    else if (wolfSSL_send_hrr_cookie(p->srv, cookie_secret, sizeof cookie_secret) != WOLFSSL_SUCCESS)
        what = "wolfSSL_send_hrr_cookie";
    /* wolfSSL's server issues a ticket after every 1.3 handshake by
     * default; cdtls's and pion's full rows issue none (no ticket keys, no
     * session store): the full rows here neither, the resumed rows do */
    else if (!tickets && wolfSSL_no_ticket_TLSv13(p->srv) != 0) /* 0 on success, unlike the rest */
        what = "wolfSSL_no_ticket_TLSv13";
    if (what) {
        fprintf(stderr, "wolfssl: %s failed\n", what);
        return -1;
    }
    (void)wolfSSL_set_SessionTicket_cb(p->cli, on_ticket, p);
    int cdone = 0, sdone = 0;
    for (int idle = 0; idle < 20;) {
        int c = step(p->cli, 0, &cdone), s = step(p->srv, 1, &sdone);
        if (c < 0 || s < 0) return -1;
        if (cdone && sdone) return 0;
        if (pair_wait(p, 100) == 0) idle++;
    }
    fprintf(stderr, "wolfssl handshake stalled\n");
    return -1;
}

/* After a handshake whose server issues a ticket: both sides read until the
 * client took a new ticket and nothing is left to move (the client's ACK
 * read by the server), as cdtls_bench.c's net_handshake13_ticket. */
static int pair_take_ticket(pair *p, int before)
{
    uint8_t b[64];
    for (int i = 0; i < 40; i++) {
        (void)wolfSSL_read(p->cli, b, sizeof b);
        (void)wolfSSL_read(p->srv, b, sizeof b);
        struct pollfd f[2] = {{p->cfd, POLLIN, 0}, {p->sfd, POLLIN, 0}};
        int n = poll(f, 2, p->tickets > before ? 0 : 5);
        if (n == 0 && p->tickets > before) return 0;
        if (n == 0) pair_wait(p, 0);
    }
    return p->tickets > before ? 0 : -1;
}

/* -------------------------------------------------------- contexts */

static int make_ctxs(const suite13 *s, WOLFSSL_CTX **cctx, WOLFSSL_CTX **sctx)
{
    char leaf[512], key[512], root[512];
    snprintf(leaf, sizeof leaf, "%s/%s-leaf.pem", certs_dir, s->cert);
    snprintf(key, sizeof key, "%s/%s-leaf.key", certs_dir, s->cert);
    snprintf(root, sizeof root, "%s/%s-root.pem", certs_dir, s->cert);
    *cctx = wolfSSL_CTX_new(wolfDTLSv1_3_client_method());
    *sctx = wolfSSL_CTX_new(wolfDTLSv1_3_server_method());
    if (!*cctx || !*sctx) return -1;
    if (wolfSSL_CTX_set_cipher_list(*cctx, s->cipher) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(*sctx, s->cipher) != WOLFSSL_SUCCESS)
        return -1;
    if (wolfSSL_CTX_load_verify_locations(*cctx, root, NULL) != WOLFSSL_SUCCESS) return -1;
    wolfSSL_CTX_set_verify(*cctx, WOLFSSL_VERIFY_PEER, NULL);
    wolfSSL_CTX_set_verify(*sctx, WOLFSSL_VERIFY_NONE, NULL);
    if (wolfSSL_CTX_use_certificate_file(*sctx, leaf, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_file(*sctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}

static void free_ctxs(WOLFSSL_CTX *cctx, WOLFSSL_CTX *sctx)
{
    wolfSSL_CTX_free(cctx);
    wolfSSL_CTX_free(sctx);
}

static int skip_suite(const char *name)
{
    return only_suite && strcmp(only_suite, name) != 0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the group the server negotiated is the one asked for */
static int group_is(WOLFSSL *srv, int group)
{
    const char *n = wolfSSL_get_curve_name(srv);
    if (!n) return 0;
    if (group == WOLFSSL_ECC_X25519) return !strcmp(n, "X25519");
    return strstr(n, "X25519") && (strstr(n, "MLKEM") || strstr(n, "ML_KEM"));
}

/* ------------------------------------------------------------ hs13 */

static void bench_hs13_resumed(pair *p, const suite13 *s, WOLFSSL_CTX *cctx, WOLFSSL_CTX *sctx, int iters)
{
    char rname[160];
    snprintf(rname, sizeof rname, "%s resumed", s->name);
    WOLFSSL_SESSION *sess = NULL;
    int ok = 1;
    const char *why = "a handshake failed or did not resume";
    /* the full one that makes the first ticket, then 3 resumed (warm-up) */
    for (int w = 0; w < 4 && ok; w++) {
        drain_socket(p->cfd), drain_socket(p->sfd);
        int before = p->tickets;
        ok = pair_handshake(p, cctx, sctx, s->group, 1, sess) == 0 && pair_take_ticket(p, before) == 0;
        if (!ok) why = "no ticket reached the client, or a handshake failed";
        if (ok && w > 0 && !wolfSSL_session_reused(p->cli)) {
            ok = 0;
            why = "the client did not resume (wolfSSL_session_reused() == 0)";
        }
        if (ok && !group_is(p->srv, s->group)) {
            ok = 0;
            why = "resumed with another group than asked";
        }
        wolfSSL_SESSION_free(sess);
        sess = ok ? wolfSSL_get1_session(p->cli) : NULL;
        pair_free_conns(p);
    }
    double best = 0, wall_rate = 0;
    /* wolfSSL 5.9.2 numbers the tickets of a chain of resumptions in one
     * byte: the 256th resumption from the same first session fails ("-517
     * Session ticket nonce overflow", seen in a full run at the 252nd
     * timed one). So each repetition starts a new chain with a full
     * handshake outside the timing, and times at most 200 resumptions. */
    const int per_rep = iters < 200 ? iters : 200;
    for (int rep = 0; rep < 3 && ok; rep++) {
        if (rep > 0) {
            drain_socket(p->cfd), drain_socket(p->sfd);
            int before = p->tickets;
            wolfSSL_SESSION_free(sess);
            sess = NULL;
            ok = pair_handshake(p, cctx, sctx, s->group, 1, NULL) == 0 && pair_take_ticket(p, before) == 0;
            if (!ok) why = "no ticket reached the client, or a handshake failed";
            sess = ok ? wolfSSL_get1_session(p->cli) : NULL;
            pair_free_conns(p);
            if (!ok) break;
        }
        double w0 = bench_wall(), c0 = bench_cpu();
        int done = 0;
        for (; done < per_rep && ok; done++) {
            drain_socket(p->cfd), drain_socket(p->sfd);
            int before = p->tickets;
            ok = pair_handshake(p, cctx, sctx, s->group, 1, sess) == 0 && wolfSSL_session_reused(p->cli) &&
                 pair_take_ticket(p, before) == 0;
            wolfSSL_SESSION_free(sess);
            sess = ok ? wolfSSL_get1_session(p->cli) : NULL;
            pair_free_conns(p);
        }
        double cpu = bench_cpu() - c0, wall = bench_wall() - w0;
        if (ok && cpu > 0 && done / cpu > best) best = done / cpu, wall_rate = done / wall;
    }
    wolfSSL_SESSION_free(sess);
    pair_free_conns(p);
    if (!ok) {
        bench_not_measured("hs13", rname, why);
    } else {
        bench_result("hs13", rname, "hs_per_cpu_s", best);
        bench_result("hs13", rname, "hs_per_wall_s", wall_rate);
    }
}

static void bench_hs13(void)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        const suite13 *s = &suites[i];
        if (skip_suite(s->name)) continue;
        WOLFSSL_CTX *cctx = NULL, *sctx = NULL;
        if (make_ctxs(s, &cctx, &sctx)) {
            free_ctxs(cctx, sctx);
            bench_not_measured("hs13", s->name,
                               "no certificates, or this wolfSSL build lacks the suite or key");
            continue;
        }
        pair p;
        pair_open(&p);
        int iters = quick ? 50 : 400, ok = 1;
        const char *why = "handshake failed";
        for (int w = 0; w < 5 && ok; w++) {
            drain_socket(p.cfd), drain_socket(p.sfd);
            ok = pair_handshake(&p, cctx, sctx, s->group, 0, NULL) == 0;
            if (ok && (wolfSSL_version(p.cli) != DTLS1_3_VERSION || !group_is(p.srv, s->group))) {
                fprintf(stderr, "wolfssl: %s, group %s\n", wolfSSL_get_version(p.cli),
                        wolfSSL_get_curve_name(p.srv) ? wolfSSL_get_curve_name(p.srv) : "?");
                ok = 0;
                why = "negotiated another version or group than asked";
            }
            pair_free_conns(&p);
        }
        if (!ok) {
            bench_not_measured("hs13", s->name, why);
            goto next;
        }
        double best = 0, wall_rate = 0, median_ms = 0;
        static double lat[4000];
        for (int rep = 0; rep < 3 && ok; rep++) {
            double w0 = bench_wall(), c0 = bench_cpu();
            int done = 0;
            for (; done < iters; done++) {
                double t0 = bench_wall();
                drain_socket(p.cfd), drain_socket(p.sfd);
                if (pair_handshake(&p, cctx, sctx, s->group, 0, NULL) != 0) {
                    ok = 0;
                    break;
                }
                lat[done] = (bench_wall() - t0) * 1e3;
                pair_free_conns(&p);
            }
            double cpu = bench_cpu() - c0, wall = bench_wall() - w0;
            if (ok && cpu > 0 && done / cpu > best) {
                best = done / cpu;
                wall_rate = done / wall;
                qsort(lat, (size_t)done, sizeof lat[0], cmp_dbl);
                median_ms = lat[done / 2];
            }
        }
        pair_free_conns(&p);
        if (!ok) {
            bench_not_measured("hs13", s->name, "a handshake failed");
        } else {
            bench_result("hs13", s->name, "hs_per_cpu_s", best);
            bench_result("hs13", s->name, "hs_per_wall_s", wall_rate);
            bench_result("hs13", s->name, "median_ms", median_ms);
            bench_hs13_resumed(&p, s, cctx, sctx, iters);
        }
    next:
        pair_close(&p);
        free_ctxs(cctx, sctx);
    }
}

/* ---------------------------------------------------------- tput13 */

#define WINDOW 32

/* Client -> server, windows of WINDOW records: written, received, read.
 * Returns CPU seconds; *lost counts records not read within 200 ms. */
static double run_stream(pair *p, size_t rec, size_t total, size_t *lost, double *wall)
{
    static uint8_t app[16384], rx[16384];
    memset(app, 0x5a, rec);
    *lost = 0;
    double w0 = bench_wall(), c0 = bench_cpu();
    for (size_t sent = 0; sent < total; sent += WINDOW) {
        for (unsigned i = 0; i < WINDOW; i++)
            if (wolfSSL_write(p->cli, app, (int)rec) != (int)rec) {
                fprintf(stderr, "wolfssl write failed\n");
                exit(1);
            }
        size_t got = 0;
        while (got < WINDOW) {
            int n = wolfSSL_read(p->srv, rx, sizeof rx);
            if (n > 0) {
                got++;
                continue;
            }
            int err = wolfSSL_get_error(p->srv, n);
            if (err != WOLFSSL_ERROR_WANT_READ) break;
            struct pollfd f = {p->sfd, POLLIN, 0};
            if (poll(&f, 1, 200) <= 0) break;
        }
        *lost += WINDOW - got;
    }
    *wall = bench_wall() - w0;
    return bench_cpu() - c0;
}

static void bench_tput13(void)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        const suite13 *s = &suites[i];
        if (s->group != WOLFSSL_ECC_X25519 || skip_suite(s->name)) continue;
        WOLFSSL_CTX *cctx = NULL, *sctx = NULL;
        if (make_ctxs(s, &cctx, &sctx)) {
            free_ctxs(cctx, sctx);
            bench_not_measured("tput13", s->name,
                               "no certificates, or this wolfSSL build lacks the suite or key");
            continue;
        }
        pair p;
        pair_open(&p);
        if (pair_handshake(&p, cctx, sctx, s->group, 0, NULL) != 0 ||
            wolfSSL_version(p.cli) != DTLS1_3_VERSION) {
            bench_not_measured("tput13", s->name, "the DTLS 1.3 handshake failed");
        } else {
            size_t lost, total = quick ? 4000 : 30016, best_lost = 0;
            double wall, best = 1e9, best_wall = 0;
            run_stream(&p, 16, WINDOW, &lost, &wall);
            for (int rep = 0; rep < 3; rep++) {
                double cpu = run_stream(&p, 1200, total, &lost, &wall);
                if (cpu < best) best = cpu, best_wall = wall, best_lost = lost;
            }
            bench_stream_result("tput13", s->name, 1200, total, best_lost, best, best_wall);
        }
        pair_close(&p);
        free_ctxs(cctx, sctx);
    }
}

/* ------------------------------------------------------------ main */

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
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc)
            only_suite = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--only hs13|tput13] [--certs DIR] [--suite NAME]\n",
                    argv[0]);
            return 2;
        }
    }
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        fprintf(stderr, "wolfSSL_Init failed\n");
        return 1;
    }
    if (getentropy(cookie_secret, sizeof cookie_secret) != 0) {
        fprintf(stderr, "getentropy failed\n");
        return 1;
    }
    static char impl[64];
    snprintf(impl, sizeof impl, "wolfssl-%s", wolfSSL_lib_version());
    bench_impl = impl;
    if (!only || !strcmp(only, "hs13")) bench_hs13();
    if (!only || !strcmp(only, "tput13")) bench_tput13();
    wolfSSL_Cleanup();
    return 0;
}
