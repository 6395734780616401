/* The io module and the socket layer under real network faults, made by
 * the kernel inside network namespaces the test creates (Linux):
 *  - a batch to reachable and unreachable peers (a route that says
 *    unreachable, a firewall that answers with ICMP): every reachable
 *    datagram arrives, marked, and nothing changes the socket's caps;
 *  - an ICMP protocol-unreachable pending on a connected socket is not
 *    taken for a refused marking;
 *  - a listener serving 50 peers while one peer's address goes
 *    unreachable: the others lose nothing;
 *  - a client whose path is administratively prohibited for a few seconds
 *    and then restored: the handshake completes (RFC 6347 §4.1.2.7);
 *  - a path whose MTU drops below our datagrams (a router namespace with a
 *    narrower link sends "fragmentation needed" / ICMPv6 "packet too
 *    big"): the session goes on at the smaller size (RFC 6347 §4.1.1.1),
 *    IPv4 and IPv6.
 * And on loopback (sock_pmtu): how cdtls_sock follows path MTU reports,
 * with its floor, for a client and for a listener's peer.
 * Each netns test unshares its own namespaces (Criterion runs every test in a
 * process of its own, and the namespaces end with it: nothing to remove,
 * even when an assertion fails), brings up their loopback, and adds veth
 * pairs, routes and nftables rules inside them: no datagram leaves them.
 * Without the privilege to do so, or without ip / nft, a test skips and
 * says why. */
#if defined(__linux__) && !defined(CDTLS_TEST_SHIM)
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdtls/io.h"
#include "cdtls/sock.h"
#include "io/io_internal.h" /* io_event_push: a report as the kernel would make it */
#include "test_util.h"

/* Runs a shell command in the calling thread's namespace: its exit code. */
static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}

static void sh_ok(const char *cmd)
{
    cr_assert_eq(sh("%s", cmd), 0, "%s", cmd);
}

/* A new network namespace for the calling thread, loopback up; its fd
 * (to come back with setns). Skips the test when it cannot be made. */
static int netns_new(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        cr_skip_test("cannot create a network namespace (unshare: %s): needs CAP_SYS_ADMIN", strerror(errno));
    if (sh("ip link set lo up 2>/dev/null") != 0)
        cr_skip_test("ip (iproute2) cannot bring up lo in a namespace");
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    return fd;
}

static void need_nft(void)
{
    if (sh("nft list ruleset >/dev/null 2>&1") != 0)
        cr_skip_test("nft (nftables) is not installed (scripts/setup.sh installs it)");
    sh_ok("nft add table inet cdtls && "
          "nft add chain inet cdtls in '{ type filter hook input priority 0; }'");
}

static void enter(int fd)
{
    cr_assert_eq(setns(fd, CLONE_NEWNET), 0, "setns: %s", strerror(errno));
}

static void open_at(cdtls_io_socket *s, const char *ip, cdtls_addr *addr)
{
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse(ip, 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(s, &a, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(s, addr), CDTLS_OK);
    uint16_t port = addr->port;
    cr_assert_eq(cdtls_addr_parse(ip, port, addr), CDTLS_OK);
}

static int marks_work(const cdtls_io_socket *tx, const cdtls_io_socket *rx)
{
    return (cdtls_io_caps(tx) & (CDTLS_IO_CAP_SEND_DSCP | CDTLS_IO_CAP_SEND_ECN)) ==
               (CDTLS_IO_CAP_SEND_DSCP | CDTLS_IO_CAP_SEND_ECN) &&
           (cdtls_io_caps(rx) & CDTLS_IO_CAP_RECV_DSCP);
}

/* Whether the socket's events since *cursor hold one of `kind` with
 * os_error `err` (0: any) for `port` (0: any) and ICMP code `code` (-1:
 * any). */
static int has_event(const cdtls_io_socket *s, int kind, int err, uint16_t port, int code)
{
    uint64_t cursor = 0;
    cdtls_io_event ev;
    while (cdtls_io_event_read(s, &cursor, &ev, NULL) == CDTLS_OK)
        if (ev.kind == kind && (!err || ev.os_error == err) && (!port || ev.addr.port == port) &&
            (code < 0 || ev.icmp_code == code))
            return 1;
    return 0;
}

/* --------------------------------------------------------------- batches */

Test(io_netns, batch_to_mixed_reachable_and_unreachable_peers, .timeout = 30)
{
    (void)netns_new();
    need_nft();
    /* 10.19.9.0/24: no route (the kernel refuses the send itself) */
    sh_ok("ip route add unreachable 10.19.9.0/24");
    cdtls_io_socket tx, rx, walled;
    cdtls_addr ta, ra, wa, nowhere;
    open_at(&tx, "127.0.0.1", &ta);
    open_at(&rx, "127.0.0.1", &ra);
    open_at(&walled, "127.0.0.1", &wa);
    /* datagrams for `walled` are answered with ICMP communication
     * administratively prohibited (3/13): an error that reaches tx later,
     * as its pending error, on whatever it sends next */
    cr_assert_eq(
        sh("nft add rule inet cdtls in udp dport %u reject with icmp type admin-prohibited", wa.port), 0);
    cr_assert_eq(cdtls_addr_parse("10.19.9.1", 9, &nowhere), CDTLS_OK);
    int marked = marks_work(&tx, &rx);
    unsigned caps = cdtls_io_caps(&tx);
    cr_assert(caps & CDTLS_IO_CAP_SEND_GSO, "Linux >= 4.18 has UDP GSO");

    /* four runs of three datagrams of one size (GSO runs): nowhere, rx,
     * walled, rx */
    const cdtls_addr *dest[4] = {&nowhere, &ra, &wa, &ra};
    uint8_t data[12][100];
    cdtls_io_msg m[12];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 12; i++) {
        memset(data[i], 'a' + i, sizeof data[i]);
        m[i].buf = data[i];
        m[i].len = sizeof data[i];
        m[i].addr = *dest[i / 3];
        if (marked) {
            m[i].oob.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
            m[i].oob.dscp = 46;
            m[i].oob.ecn = CDTLS_ECN_ECT0;
        }
    }
    size_t sent = 0;
    cr_assert_eq(cdtls_io_send_batch(&tx, m, 12, &sent), CDTLS_ERR_UNREACHABLE);
    cr_assert_eq(sent, 12, "the batch went on past the unreachable peer");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(m[i].status, CDTLS_ERR_UNREACHABLE, "datagram %d", i);
        cr_assert_eq(m[i].os_error, EHOSTUNREACH);
    }
    for (int i = 3; i < 12; i++) cr_assert_eq(m[i].status, CDTLS_OK, "datagram %d: %d", i, m[i].status);
    cr_assert_eq(cdtls_io_caps(&tx), caps, "no capability changed (GSO and marking included)");

    /* every datagram for rx arrives, in order, marked */
    for (int k = 0; k < 6; k++) {
        uint8_t buf[200];
        size_t n;
        cdtls_oob oob;
        cr_assert_eq(cdtls_io_recv(&rx, buf, sizeof buf, &n, NULL, &oob, NULL, 0, NULL, 2000), CDTLS_OK,
                     "datagram %d", k);
        int want = k < 3 ? 3 + k : 9 + (k - 3);
        cr_assert(n == 100 && buf[0] == 'a' + want, "got %zu bytes of '%c', want '%c'", n, buf[0],
                  'a' + want);
        if (marked) {
            cr_assert(oob.flags & CDTLS_OOB_DSCP);
            cr_assert_eq(oob.dscp, 46);
            cr_assert_eq(oob.ecn, CDTLS_ECN_ECT0);
        }
    }
    /* the ICMP errors are events (a wait takes them), the sends that were
     * lost are counted */
    uint8_t buf[8];
    size_t n;
    cr_assert_eq(cdtls_io_recv(&tx, buf, sizeof buf, &n, NULL, NULL, NULL, 0, NULL, 300), CDTLS_ERR_TIMEOUT);
    cr_assert_geq(tx.unreachable_sends, 3);
    cr_assert_geq(tx.icmp_errors, 1);
    cr_assert(has_event(&tx, CDTLS_IO_EVENT_UNREACHABLE, EHOSTUNREACH, wa.port, 13),
              "an event names the walled peer and the ICMP code");
    cr_assert(has_event(&tx, CDTLS_IO_EVENT_UNREACHABLE, EHOSTUNREACH, 9, -1), "and the unroutable one");
    /* and the socket goes on: another batch to rx arrives whole */
    for (int i = 0; i < 3; i++) m[i].addr = ra;
    cr_assert_eq(cdtls_io_send_batch(&tx, m, 3, &sent), CDTLS_OK);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(cdtls_io_recv(&rx, data[0], sizeof data[0], &n, NULL, NULL, NULL, 0, NULL, 2000),
                     CDTLS_OK);
    cr_assert_eq(cdtls_io_caps(&tx), caps);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
    cdtls_io_close(&walled);
}

/* A GSO run the kernel refuses because the route's MTU is below its
 * segments (EMSGSIZE on Linux 6.x; EINVAL from udp_send_skb on older
 * kernels) is no evidence against GSO: the datagrams go alone, fail as too
 * large for the path (EMSGSIZE, DF set), the MTU becomes an event, and GSO
 * stays on for the runs that fit (the io layer used to turn GSO off for
 * good on any error of a GSO send). */
Test(io_netns, gso_refused_for_the_path_mtu_keeps_gso, .timeout = 30)
{
    (void)netns_new();
    /* a local address whose route carries at most 500 bytes */
    sh_ok("ip addr add 10.19.7.1/32 dev lo && ip route replace local 10.19.7.1 dev lo mtu lock 500 table "
          "local");
    cdtls_io_socket tx, rx;
    cdtls_addr ta, ra;
    open_at(&tx, "10.19.7.1", &ta);
    open_at(&rx, "10.19.7.1", &ra);
    cr_assert(cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_GSO, "Linux >= 4.18 has UDP GSO");
    uint8_t big[3][600], small[3][400];
    cdtls_io_msg m[6];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 3; i++) {
        memset(big[i], 'B', sizeof big[i]);
        memset(small[i], 'a' + i, sizeof small[i]);
        m[i].buf = big[i];
        m[i].len = sizeof big[i];
        m[i].addr = ra;
        m[3 + i].buf = small[i];
        m[3 + i].len = sizeof small[i];
        m[3 + i].addr = ra;
    }
    size_t sent = 0;
    cr_assert_eq(cdtls_io_send_batch(&tx, m, 6, &sent), CDTLS_ERR_MSG_SIZE);
    cr_assert_eq(sent, 6);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(m[i].status, CDTLS_ERR_MSG_SIZE, "datagram %d: %d", i, m[i].status);
    for (int i = 3; i < 6; i++) cr_assert_eq(m[i].status, CDTLS_OK, "datagram %d: %d", i, m[i].status);
    cr_assert(cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_GSO, "GSO was not to blame and stays");
    uint64_t calls = tx.send_calls;
    cr_assert_eq(cdtls_io_send_batch(&tx, m + 3, 3, &sent), CDTLS_OK);
    cr_assert_eq(tx.send_calls, calls + 1, "a run that fits is one GSO send");
    for (int k = 0; k < 6; k++) {
        uint8_t buf[700];
        size_t n;
        cr_assert_eq(cdtls_io_recv(&rx, buf, sizeof buf, &n, NULL, NULL, NULL, 0, NULL, 2000), CDTLS_OK,
                     "datagram %d", k);
        cr_assert(n == 400 && buf[0] == 'a' + k % 3, "got %zu bytes of '%c'", n, buf[0]);
    }
    uint64_t cursor = 0;
    cdtls_io_event ev;
    uint32_t reported = 0;
    while (cdtls_io_event_read(&tx, &cursor, &ev, NULL) == CDTLS_OK)
        if (ev.kind == CDTLS_IO_EVENT_PATH_MTU) reported = ev.mtu;
    cr_assert_eq(reported, 500, "the route's MTU came with the EMSGSIZE (error queue)");
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

/* A protocol-unreachable (ICMP 3/2) the kernel holds for a connected socket
 * is reported as ENOPROTOOPT by the next send, which carries DSCP and ECN:
 * it is the earlier datagram's error, not a refused marking. The datagram
 * goes marked, the caps stay, an event says what happened. */
Test(io_netns, pending_icmp_error_is_no_refused_marking, .timeout = 30)
{
    (void)netns_new();
    need_nft();
    cdtls_io_socket cli, srv;
    cdtls_addr ca, sa;
    open_at(&cli, "127.0.0.1", &ca);
    open_at(&srv, "127.0.0.1", &sa);
    if (!marks_work(&cli, &srv)) cr_skip_test("this kernel cannot send DSCP and ECN marks (caps say so)");
    /* datagrams whose payload starts with 'X' draw a protocol unreachable */
    cr_assert_eq(
        sh("nft add rule inet cdtls in udp dport %u @th,64,8 0x58 reject with icmp type prot-unreachable",
           sa.port),
        0);
    cr_assert_eq(cdtls_io_connect(&cli, &sa), CDTLS_OK);
    unsigned caps = cdtls_io_caps(&cli);
    cr_assert_eq(cdtls_io_send(&cli, (const uint8_t *)"X", 1, NULL, NULL, NULL, 0), CDTLS_OK);
    struct pollfd p = {cli.fd, 0, 0};
    cr_assert(poll(&p, 1, 2000) == 1 && (p.revents & POLLERR), "the ICMP error is pending");
    cdtls_oob ef = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, 46, CDTLS_ECN_ECT0, 0, 0, {0, {0}}};
    cr_assert_eq(cdtls_io_send(&cli, (const uint8_t *)"hello", 5, NULL, &ef, NULL, 0), CDTLS_OK, "errno %d",
                 cli.last_error);
    cr_assert_eq(cdtls_io_caps(&cli), caps, "no capability cleared");
    uint8_t buf[16];
    size_t n;
    cdtls_oob got;
    cr_assert_eq(cdtls_io_recv(&srv, buf, sizeof buf, &n, NULL, &got, NULL, 0, NULL, 2000), CDTLS_OK);
    cr_assert(n == 5 && memcmp(buf, "hello", 5) == 0, "the 'X' was rejected, 'hello' arrived");
    cr_assert(got.dscp == 46 && got.ecn == CDTLS_ECN_ECT0, "marked: dscp %d ecn %d", got.dscp, got.ecn);
    cr_assert(has_event(&cli, CDTLS_IO_EVENT_UNREACHABLE, ENOPROTOOPT, sa.port, 2));
    cr_assert(!has_event(&cli, CDTLS_IO_EVENT_OOB_REFUSED, 0, 0, -1));
    cr_assert_geq(cli.icmp_errors, 1);
    cdtls_io_close(&cli);
    cdtls_io_close(&srv);
}

/* ------------------------------------------------------------ socket layer */

static const uint8_t psk[16] = "netns-test-psk16";

static void cfg_init(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"netns-client";
    cfg->psk.identity_len = 12;
}

#define PEERS_MAX 50

typedef struct echo_server {
    cdtls_listener *l;
    int peers;
    volatile int stop;
    int accepted;
    uint64_t icmp_errors, unreachable_sends;
    /* inject == 1: the thread adds `ev` to its listener's io events (as the
     * kernel's reports would) and sets 2; peer_mtu: the first peer's
     * connection MTU when it stopped */
    volatile int inject;
    cdtls_io_event ev;
    size_t peer_mtu;
} echo_server;

/* Accepts `peers`, then echoes every record back until told to stop
 * (bounded: 60 s). */
static void *echo_serve(void *arg)
{
    echo_server *e = arg;
    cdtls_sock *socks[PEERS_MAX] = {0};
    uint64_t end = cdtls_io_now_ms() + 60000;
    while (e->accepted < e->peers && cdtls_io_now_ms() < end)
        if (cdtls_listener_accept(e->l, 200, &socks[e->accepted]) == CDTLS_OK) e->accepted++;
    while (!e->stop && cdtls_io_now_ms() < end) {
        int idle = 1;
        if (e->inject == 1) {
            io_event_push(cdtls_listener_io(e->l), &e->ev);
            e->inject = 2;
        }
        for (int i = 0; i < e->accepted; i++) {
            uint8_t buf[2048];
            size_t n;
            if (socks[i] && cdtls_sock_read(socks[i], buf, sizeof buf, &n, NULL, 0) == CDTLS_OK) {
                if (n == 3 && memcmp(buf, "BIG", 3) == 0) {
                    /* a reply as large as the connection allows now */
                    n = cdtls_conn_max_write(cdtls_sock_conn(socks[i]));
                    memset(buf, 'Z', n);
                }
                (void)cdtls_sock_write(socks[i], buf, n, NULL);
                idle = 0;
            }
        }
        if (idle) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    if (e->accepted > 0 && socks[0]) e->peer_mtu = cdtls_conn_mtu(cdtls_sock_conn(socks[0]));
    e->icmp_errors = cdtls_listener_io(e->l)->icmp_errors;
    e->unreachable_sends = cdtls_listener_io(e->l)->unreachable_sends;
    for (int i = 0; i < e->accepted; i++) cdtls_sock_close(socks[i]);
    return NULL;
}

static void echo_start(echo_server *e, pthread_t *th, const char *ip, int peers, size_t mtu,
                       cdtls_addr *where)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    if (mtu) cfg.mtu = mtu;
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse(ip, 0, &bind), CDTLS_OK);
    memset(e, 0, sizeof *e);
    e->peers = peers;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &e->l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(e->l), where), CDTLS_OK);
    uint16_t port = where->port;
    cr_assert_eq(cdtls_addr_parse(ip, port, where), CDTLS_OK);
    cr_assert_eq(pthread_create(th, NULL, echo_serve, e), 0);
}

static void echo_stop(echo_server *e, pthread_t th)
{
    e->stop = 1;
    pthread_join(th, NULL);
    cdtls_listener_close(e->l);
}

static int echo_back(cdtls_sock *c, const uint8_t *msg, size_t len, int timeout_ms)
{
    uint8_t buf[2048];
    size_t n;
    if (cdtls_sock_write(c, msg, len, NULL) != CDTLS_OK) return 0;
    uint64_t end = cdtls_io_now_ms() + (uint64_t)timeout_ms;
    while (cdtls_io_now_ms() < end) {
        int rc = cdtls_sock_read(c, buf, sizeof buf, &n, NULL, 100);
        if (rc == CDTLS_OK && n == len && memcmp(buf, msg, len) == 0) return 1;
        if (rc != CDTLS_OK && rc != CDTLS_ERR_TIMEOUT && rc != CDTLS_ERR_WOULD_BLOCK) return 0;
    }
    return 0;
}

Test(io_netns, listener_serves_50_peers_while_one_is_unreachable, .timeout = 120)
{
    (void)netns_new();
    need_nft();
    echo_server e;
    pthread_t th;
    cdtls_addr where;
    echo_start(&e, &th, "127.0.0.1", PEERS_MAX, 0, &where);
    cdtls_sock *c[PEERS_MAX];
    cdtls_config cfg;
    cfg_init(&cfg);
    for (int i = 0; i < PEERS_MAX; i++)
        cr_assert_eq(cdtls_sock_dial(&cfg, &where, 10000, &c[i]), CDTLS_OK, "peer %d", i);
    /* peer 7's address goes unreachable: what the listener sends it is
     * answered with ICMP host unreachable */
    const int gone = 7;
    cdtls_addr ga;
    cr_assert_eq(cdtls_io_local_addr(cdtls_sock_io(c[gone]), &ga), CDTLS_OK);
    cr_assert_eq(
        sh("nft add rule inet cdtls in udp dport %u reject with icmp type host-unreachable", ga.port), 0);
    int lost = 0;
    for (int round = 0; round < 5; round++) {
        /* the unreachable peer talks first, so its echo (and the ICMP error
         * it draws) comes before the others' */
        char msg[32];
        int len = snprintf(msg, sizeof msg, "round %d peer %d", round, gone);
        (void)cdtls_sock_write(c[gone], (const uint8_t *)msg, (size_t)len, NULL);
        for (int i = 0; i < PEERS_MAX; i++) {
            if (i == gone) continue;
            len = snprintf(msg, sizeof msg, "round %d peer %d", round, i);
            if (!echo_back(c[i], (const uint8_t *)msg, (size_t)len, 3000)) lost++;
        }
    }
    cr_assert_eq(lost, 0, "%d echoes lost to the peers that stayed reachable", lost);
    /* the path comes back: so does the peer */
    sh_ok("nft flush chain inet cdtls in");
    cr_assert(echo_back(c[gone], (const uint8_t *)"back", 4, 5000), "the peer is served again");
    for (int i = 0; i < PEERS_MAX; i++) cdtls_sock_close(c[i]);
    echo_stop(&e, th);
    cr_assert_eq(e.accepted, PEERS_MAX);
    cr_assert_geq(e.icmp_errors, 1, "the listener was told (ICMP errors: %llu)",
                  (unsigned long long)e.icmp_errors);
}

typedef struct unblock {
    int delay_ms;
    int rc;
} unblock;

static void *unblock_later(void *arg)
{
    unblock *u = arg;
    struct timespec ts = {u->delay_ms / 1000, (long)(u->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    u->rc = sh("nft flush chain inet cdtls in");
    return NULL;
}

Test(io_netns, dial_through_a_path_prohibited_for_a_while, .timeout = 60)
{
    (void)netns_new();
    need_nft();
    echo_server e;
    pthread_t th, ub;
    cdtls_addr where;
    echo_start(&e, &th, "127.0.0.1", 1, 0, &where);
    /* host administratively prohibited (ICMP 3/10) for every datagram to
     * the server for 2.5 s: the client's connected socket is told
     * (EHOSTUNREACH); it must keep retransmitting, not give up */
    cr_assert_eq(
        sh("nft add rule inet cdtls in udp dport %u reject with icmp type host-prohibited", where.port), 0);
    unblock u = {2500, -1};
    cr_assert_eq(pthread_create(&ub, NULL, unblock_later, &u), 0);
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_sock *c;
    uint64_t t0 = cdtls_io_now_ms();
    int rc = cdtls_sock_dial(&cfg, &where, 20000, &c);
    pthread_join(ub, NULL);
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(rc, CDTLS_OK, "dial: %s", cdtls_strerror(rc));
    cr_assert_geq(cdtls_io_now_ms() - t0, 2500, "the handshake waited for the path");
    cr_assert_geq(cdtls_sock_io(c)->icmp_errors, 1, "the client was told");
    cr_assert(has_event(cdtls_sock_io(c), CDTLS_IO_EVENT_UNREACHABLE, EHOSTUNREACH, where.port, 10));
    cr_assert(echo_back(c, (const uint8_t *)"through", 7, 5000));
    cdtls_sock_close(c);
    echo_stop(&e, th);
}

/* ---------------------------------------------------------------- path MTU */

static void push_pmtu(cdtls_io_socket *io, const cdtls_addr *to, uint32_t mtu)
{
    cdtls_io_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = CDTLS_IO_EVENT_PATH_MTU;
    ev.os_error = EMSGSIZE;
    if (to) ev.addr = *to;
    ev.mtu = mtu;
    io_event_push(io, &ev);
}

/* How cdtls_sock follows path MTU reports (loopback, reports made up as
 * the kernel would make them): a client's connection and the listener's
 * peer named by the report go to the MTU less the IP and UDP headers,
 * never below the floor (576 - 28 for IPv4), never up again; a report
 * without a number goes to the floor; a report for another address
 * changes no connection. */
Test(sock_pmtu, reports_lower_the_named_connection_to_a_floor, .timeout = 30)
{
    echo_server e;
    pthread_t th;
    cdtls_addr where;
    echo_start(&e, &th, "127.0.0.1", 1, 0, &where);
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &where, 10000, &c), CDTLS_OK);
    cdtls_conn *conn = cdtls_sock_conn(c);
    cdtls_io_socket *io = cdtls_sock_io(c);
    cr_assert_eq(cdtls_conn_mtu(conn), 1200);
    cdtls_addr elsewhere;
    cr_assert_eq(cdtls_addr_parse("127.0.0.9", 9, &elsewhere), CDTLS_OK);
    push_pmtu(io, &elsewhere, 700);
    cr_assert(echo_back(c, (const uint8_t *)"a", 1, 5000));
    cr_assert_eq(cdtls_conn_mtu(conn), 1200, "a report for another address changes nothing");
    push_pmtu(io, &where, 1000);
    cr_assert(echo_back(c, (const uint8_t *)"b", 1, 5000));
    cr_assert_eq(cdtls_conn_mtu(conn), 1000 - 28);
    push_pmtu(io, &where, 1100);
    cr_assert(echo_back(c, (const uint8_t *)"c", 1, 5000));
    cr_assert_eq(cdtls_conn_mtu(conn), 1000 - 28, "never raised by a report");
    push_pmtu(io, &where, 300); /* below the smallest IPv4 MTU: a forged or broken report */
    cr_assert(echo_back(c, (const uint8_t *)"d", 1, 5000));
    cr_assert_eq(cdtls_conn_mtu(conn), 576 - 28, "the floor");
    push_pmtu(io, NULL, 0);
    cr_assert(echo_back(c, (const uint8_t *)"e", 1, 5000));
    cr_assert_eq(cdtls_conn_mtu(conn), 576 - 28);
    size_t max = cdtls_conn_max_write(conn);
    static uint8_t big[600];
    memset(big, 'f', sizeof big);
    cr_assert(max > 400 && max < 548, "max write %zu", max);
    cr_assert(echo_back(c, big, max, 5000), "records of the new largest size go through");

    /* the listener: a report naming this client lowers that peer only */
    cdtls_addr me;
    cr_assert_eq(cdtls_io_local_addr(io, &me), CDTLS_OK);
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", me.port, &me), CDTLS_OK);
    memset(&e.ev, 0, sizeof e.ev);
    e.ev.kind = CDTLS_IO_EVENT_PATH_MTU;
    e.ev.addr = me;
    e.ev.mtu = 800;
    e.inject = 1;
    cr_assert(echo_back(c, (const uint8_t *)"g", 1, 5000));
    cr_assert(echo_back(c, (const uint8_t *)"h", 1, 5000));
    cdtls_sock_close(c);
    echo_stop(&e, th);
    cr_assert_eq(e.inject, 2);
    cr_assert_eq(e.peer_mtu, 800 - 28, "the listener's peer at that address follows (%zu)", e.peer_mtu);
}

/* client (ns A) -- router (ns R) -- server (ns B), 1500-byte links; then
 * the router's link to B narrows to `narrow` bytes. The router's
 * "fragmentation needed" (IPv4) / "packet too big" (ICMPv6) reaches the
 * client's error queue with the MTU; the client's connection follows and
 * records of the new largest size are echoed. */
static void path_narrows(int v6)
{
    const size_t narrow = v6 ? 1300 : 1000, hdr = v6 ? 48 : 28, floor = v6 ? 1280 - 48 : 576 - 28;
    int fa = netns_new();
    int fr = netns_new();
    /* a router that answers every datagram too big (no ICMP rate limit);
     * /proc/sys/net is the writer's namespace's */
    sh_ok(v6 ? "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding && echo 0 > /proc/sys/net/ipv6/icmp/ratelimit"
             : "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 0 > /proc/sys/net/ipv4/icmp_ratelimit");
    int fb = netns_new();
    pid_t pid = getpid();
    const char *ip = v6 ? "ip -6" : "ip";
    const char *nodad = v6 ? " nodad" : "";
    enter(fa);
    cr_assert_eq(sh("ip link add a0 type veth peer name r0 netns /proc/%d/fd/%d", (int)pid, fr), 0);
    cr_assert_eq(sh("%s addr add %s dev a0%s && ip link set a0 up && %s route add default via %s", ip,
                    v6 ? "fd19:1::1/64" : "10.19.1.1/24", nodad, ip, v6 ? "fd19:1::2" : "10.19.1.2"),
                 0);
    enter(fr);
    cr_assert_eq(sh("ip link add r1 type veth peer name b0 netns /proc/%d/fd/%d", (int)pid, fb), 0);
    cr_assert_eq(
        sh("%s addr add %s dev r0%s && ip link set r0 up && %s addr add %s dev r1%s && ip link set r1 up", ip,
           v6 ? "fd19:1::2/64" : "10.19.1.2/24", nodad, ip, v6 ? "fd19:2::2/64" : "10.19.2.2/24", nodad),
        0);
    enter(fb);
    cr_assert_eq(sh("%s addr add %s dev b0%s && ip link set b0 up && %s route add default via %s", ip,
                    v6 ? "fd19:2::1/64" : "10.19.2.1/24", nodad, ip, v6 ? "fd19:2::2" : "10.19.2.2"),
                 0);

    echo_server e;
    pthread_t th;
    cdtls_addr where;
    echo_start(&e, &th, v6 ? "fd19:2::1" : "10.19.2.1", 1, 1400, &where);
    enter(fa);
    cdtls_config cfg;
    cfg_init(&cfg);
    cfg.mtu = 1400; /* 1428 / 1448 bytes of IP: fits 1500, not the narrowed link */
    cdtls_sock *c;
    cr_assert_eq(cdtls_sock_dial(&cfg, &where, 10000, &c), CDTLS_OK);
    cdtls_conn *conn = cdtls_sock_conn(c);
    static uint8_t big[2048];
    memset(big, 'm', sizeof big);
    size_t before = cdtls_conn_max_write(conn);
    cr_assert_gt(before, narrow);
    cr_assert(echo_back(c, big, before, 5000), "full-size records cross the 1500-byte path");

    /* the router's link to the server narrows */
    enter(fr);
    cr_assert_eq(sh("ip link set r1 mtu %zu", narrow), 0);
    enter(fb);
    cr_assert_eq(sh("ip link set b0 mtu %zu", narrow), 0);
    enter(fa);
    /* the next full-size record is lost at the router, which says why; the
     * session goes on with records that fit */
    int crossed = 0;
    for (int i = 0; i < 10 && !crossed; i++) {
        size_t len = cdtls_conn_max_write(conn);
        crossed = echo_back(c, big, len, 1000) && len + hdr < narrow;
    }
    cr_assert(crossed, "no record crossed the narrowed path (MTU now %zu)", cdtls_conn_mtu(conn));
    size_t mtu = cdtls_conn_mtu(conn);
    cr_assert(mtu == narrow - hdr && mtu >= floor, "the connection's MTU is %zu", mtu);
    uint64_t cursor = 0;
    cdtls_io_event ev;
    uint32_t reported = 0;
    while (cdtls_io_event_read(cdtls_sock_io(c), &cursor, &ev, NULL) == CDTLS_OK)
        if (ev.kind == CDTLS_IO_EVENT_PATH_MTU && ev.mtu) {
            reported = ev.mtu;
            cr_assert(io_same_addr(&ev.addr, &where) || ev.addr.ip.family == 0,
                      "the report names the server");
        }
    cr_assert_eq(reported, narrow, "the router's ICMP gave the MTU");

    /* The other way: the server's own link is the narrow one, so its
     * kernel refuses its full-size reply (EMSGSIZE, DF set) and says so on
     * the listener's error queue, naming the client; the listener lowers
     * that peer's MTU and the next reply fits. */
    size_t got = 0;
    for (int i = 0; i < 10 && !got; i++) {
        uint8_t buf[2048];
        size_t n;
        cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"BIG", 3, NULL), CDTLS_OK);
        if (cdtls_sock_read(c, buf, sizeof buf, &n, NULL, 1000) == CDTLS_OK) got = n;
    }
    cr_assert(got > 0, "no reply crossed the server's narrow link");
    cr_assert(got + hdr < narrow, "a reply of %zu bytes", got);
    cdtls_sock_close(c);
    echo_stop(&e, th);
    cr_assert_eq(e.peer_mtu, narrow - hdr, "the listener lowered that peer (%zu)", e.peer_mtu);
    close(fa);
    close(fr);
    close(fb);
}

Test(io_netns, session_goes_on_when_the_path_mtu_drops, .timeout = 60)
{
    path_narrows(0);
}

Test(io_netns, session_goes_on_when_the_ipv6_path_mtu_drops, .timeout = 60)
{
    path_narrows(1);
}

#else
typedef int cdtls_test_io_netns_unused; /* namespaces are Linux's */
#endif
