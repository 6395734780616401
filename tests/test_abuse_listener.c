/* Issue 20: the listener stays available to a legitimate client while one
 * host, one /24, or many networks flood it with cookie-valid handshakes.
 * Real sockets on loopback (the 127/8 addresses the flooders bind to need
 * no setup on Linux), single-threaded so it is repeatable: each round
 * moves the flooders, the legitimate client and the listener one step. */
#define _GNU_SOURCE /* unshare(2) */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdtls/sock.h"

#if defined(__linux__) && !defined(CDTLS_TEST_SHIM)
#include <sched.h>
#endif

static const uint8_t psk[16] = "abuse-listener!!";

static void cfg_init(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"abuse";
    cfg->psk.identity_len = 5;
}

typedef struct peer {
    cdtls_io_socket io;
    cdtls_conn *c;
    int open;
} peer;

static void peer_open(peer *p, const cdtls_config *cfg, const char *addr)
{
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse(addr, 0, &bind), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&p->io, &bind, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK, "bind %s",
                 addr);
    uint64_t now = cdtls_io_now_ms();
    cr_assert_eq(cdtls_conn_new(cfg, CDTLS_CLIENT, now, &p->c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(p->c, now), CDTLS_OK);
    p->open = 1;
}

static void peer_close(peer *p)
{
    if (!p->open) return;
    cdtls_conn_free(p->c);
    cdtls_io_close(&p->io);
    p->open = 0;
}

/* Feeds what arrived, fires the timer, sends what is queued. */
static void peer_pump(peer *p, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    uint64_t now = cdtls_io_now_ms();
    while (cdtls_io_recv(&p->io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK)
        (void)cdtls_conn_recv(p->c, d, n, NULL, now);
    if (cdtls_conn_timeout(p->c) <= now) (void)cdtls_conn_on_timeout(p->c, now);
    while (cdtls_conn_next_datagram(p->c, d, sizeof d, &n, NULL) == CDTLS_OK)
        (void)cdtls_io_send(&p->io, d, n, to, NULL, NULL, 0);
}

#define MAX_ACCEPTED 8

typedef struct server {
    cdtls_listener *l;
    cdtls_addr where;
    cdtls_sock *acc[MAX_ACCEPTED];
    int n_acc;
} server;

static void server_open_at(server *sv, const cdtls_config *cfg, unsigned max_peers, const char *addr)
{
    memset(sv, 0, sizeof *sv);
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse(addr, 0, &bind), CDTLS_OK);
    cdtls_config c = *cfg;
    c.listener.backlog = MAX_ACCEPTED; /* the table's size from the configuration */
    c.listener.max_peers = max_peers;
    cr_assert_eq(cdtls_listener_open(&c, &bind, 0, &sv->l), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(sv->l), &sv->where);
}

static void server_open(server *sv, const cdtls_config *cfg, unsigned max_peers)
{
    server_open_at(sv, cfg, max_peers, "127.0.0.1");
}

static void server_pump(server *sv)
{
    for (int i = 0; i < 64; i++) {
        cdtls_sock *s = NULL;
        int rc = cdtls_listener_accept(sv->l, 0, &s);
        if (rc == CDTLS_ERR_WOULD_BLOCK) return;
        cr_assert_eq(rc, CDTLS_OK, "accept: %s", cdtls_strerror(rc));
        cr_assert_lt(sv->n_acc, MAX_ACCEPTED);
        sv->acc[sv->n_acc++] = s;
    }
}

static void server_close(server *sv)
{
    for (int i = 0; i < sv->n_acc; i++) cdtls_sock_close(sv->acc[i]);
    cdtls_listener_close(sv->l);
}

/* One cookie-valid handshake left half-open: ClientHello, the
 * HelloVerifyRequest, the ClientHello with the cookie (which makes the
 * listener create a peer), and nothing after. The socket stays open (the
 * flooder receives; it just never answers). */
static void flood_one(peer *p, const cdtls_config *cfg, const char *addr, server *sv)
{
    peer_open(p, cfg, addr);
    peer_pump(p, &sv->where); /* ClientHello */
    for (int i = 0; i < 50 && cdtls_conn_get_state(p->c) == CDTLS_STATE_HANDSHAKING; i++) {
        server_pump(sv); /* HelloVerifyRequest; then the peer and its flight */
        uint8_t d[2048];
        size_t n;
        if (cdtls_io_recv(&p->io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) != CDTLS_OK) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        (void)cdtls_conn_recv(p->c, d, n, NULL, cdtls_io_now_ms());
        if (cdtls_conn_next_datagram(p->c, d, sizeof d, &n, NULL) ==
            CDTLS_OK) { /* the hello with the cookie: every datagram of it (a
                           1.3 one asked for X25519MLKEM768 is ~1.4 KB, in two) */
            do (void)cdtls_io_send(&p->io, d, n, &sv->where, NULL, NULL, 0);
            while (cdtls_conn_next_datagram(p->c, d, sizeof d, &n, NULL) == CDTLS_OK);
            server_pump(sv);
            return;
        }
    }
    cr_assert_fail("flooder at %s got no HelloVerifyRequest", addr);
}

#define FLOOD 160
#define MAX_PEERS 64u

/* Where the flood comes from: one IPv4 host, one /24 per flooder, or one
 * IPv6 /64 with an address per flooder (the listener counts a /64 as one
 * source, as it counts a /24). */
typedef enum { FROM_ONE_HOST, FROM_MANY_NETWORKS, FROM_ONE_V6_PREFIX } flood_source;

typedef struct flood_plan {
    flood_source from;
    const char *server, *legit; /* the listener's and the legitimate client's addresses */
} flood_plan;

static const char *flood_addr(int i, flood_source from, char *buf, size_t cap)
{
    switch (from) {
    case FROM_ONE_HOST: return "127.0.1.1";
    case FROM_MANY_NETWORKS: snprintf(buf, cap, "127.0.%d.%d", 2 + i % 200, 1 + i / 200); return buf;
    case FROM_ONE_V6_PREFIX: snprintf(buf, cap, "2001:db8:1::%x", 0x100 + i); return buf;
    }
    return NULL;
}

/* The legitimate client (from 127.0.0.1) handshakes while flooders keep
 * coming, one a round; it must be established and accepted within 5 s. */
static void legit_beside_flood(server *sv, const cdtls_config *cfg, peer *flood, int *n_flood,
                               const flood_plan *plan, peer *legit)
{
    peer_open(legit, cfg, plan->legit);
    uint64_t t0 = cdtls_io_now_ms();
    char buf[32];
    while (cdtls_io_now_ms() - t0 < 5000) {
        if (*n_flood < 2 * FLOOD) {
            flood_one(&flood[*n_flood], cfg, flood_addr(*n_flood, plan->from, buf, sizeof buf), sv);
            (*n_flood)++;
        }
        peer_pump(legit, &sv->where);
        server_pump(sv);
        if (cdtls_conn_get_state(legit->c) == CDTLS_STATE_ESTABLISHED && sv->n_acc == 1) break;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(cdtls_conn_get_state(legit->c), CDTLS_STATE_ESTABLISHED,
                 "legitimate client not established after %llu ms beside %d flooders (%s)",
                 (unsigned long long)(cdtls_io_now_ms() - t0), *n_flood,
                 cdtls_strerror(cdtls_conn_error(legit->c)));
    cr_assert_eq(sv->n_acc, 1, "the listener accepted %d", sv->n_acc);
}

static void run_flood(const flood_plan *plan)
{
    const int one_source = plan->from != FROM_MANY_NETWORKS;
    cdtls_config cfg;
    cfg_init(&cfg);
    server sv;
    server_open_at(&sv, &cfg, MAX_PEERS, plan->server);
    static peer flood[2 * FLOOD];
    memset(flood, 0, sizeof flood);
    int n_flood = 0;
    char buf[32];
    for (; n_flood < FLOOD; n_flood++)
        flood_one(&flood[n_flood], &cfg, flood_addr(n_flood, plan->from, buf, sizeof buf), &sv);
    if (!one_source) cr_assert_eq(cdtls_listener_peer_count(sv.l), MAX_PEERS); /* the table is full */
    peer legit;
    legit_beside_flood(&sv, &cfg, flood, &n_flood, plan, &legit);
    if (one_source) /* the flooder's handshakes in progress, and the legitimate client */
        cr_assert_leq(cdtls_listener_peer_count(sv.l), CDTLS_LISTENER_HALF_OPEN_PER_SOURCE + 1,
                      "one source holds %u peers", cdtls_listener_peer_count(sv.l) - 1);
    /* an established peer is never given up for newcomers */
    char more[32];
    for (int i = 0; i < FLOOD && n_flood < 2 * FLOOD; i++, n_flood++)
        flood_one(&flood[n_flood], &cfg, flood_addr(n_flood, plan->from, more, sizeof more), &sv);
    cr_assert_eq(cdtls_conn_write(legit.c, (const uint8_t *)"still here", 10, NULL), CDTLS_OK);
    peer_pump(&legit, &sv.where);
    uint8_t got[32];
    size_t n = 0;
    cr_assert_eq(cdtls_sock_read(sv.acc[0], got, sizeof got, &n, NULL, 2000), CDTLS_OK);
    cr_assert(n == 10 && memcmp(got, "still here", 10) == 0);
    peer_close(&legit);
    for (int i = 0; i < n_flood; i++) peer_close(&flood[i]);
    server_close(&sv);
}

/* Item 1: one host, many ports. Before: its handshakes filled the table
 * (1,099 from one address in 1.1 s against 1,024 places) and a legitimate
 * client failed until the 60 s handshake timeout cleared it. */
Test(abuse_listener, one_host_cannot_lock_others_out, .timeout = 60)
{
    const flood_plan plan = {FROM_ONE_HOST, "127.0.0.1", "127.0.0.1"};
    run_flood(&plan);
}

/* Item 1: many networks (each flooder its own /24): the per-source budget
 * does not help; the oldest handshake in progress makes room instead. */
Test(abuse_listener, full_table_evicts_the_oldest_half_open, .timeout = 60)
{
    const flood_plan plan = {FROM_MANY_NETWORKS, "127.0.0.1", "127.0.0.1"};
    run_flood(&plan);
}

#if defined(__linux__) && !defined(CDTLS_TEST_SHIM)
/* Item 1 over IPv6: one site floods from a different address of its /64
 * for every handshake (hosts there pick addresses at will, RFC 8981), so
 * the per-source limit counts the /64, not the address. In a network
 * namespace of the test's own (Criterion forks each test; the shim of the
 * cross builds runs them in one process, hence not there): the listener
 * and the legitimate client on 2001:db8:2::1, the flooders anywhere in
 * 2001:db8:1::/64 through a local route and non-local binds. */
Test(abuse_listener, one_ipv6_prefix_counts_as_one_source, .timeout = 60)
{
    if (unshare(CLONE_NEWNET) != 0)
        cr_skip_test("cannot create a network namespace (unshare: %s): needs CAP_SYS_ADMIN", strerror(errno));
    if (system("ip link set lo up && ip -6 addr add 2001:db8:2::1/128 dev lo nodad && "
               "ip -6 route add local 2001:db8:1::/64 dev lo && "
               "sysctl -q -w net.ipv6.ip_nonlocal_bind=1") != 0)
        cr_skip_test("ip or sysctl cannot set up IPv6 addresses in the namespace");
    const flood_plan plan = {FROM_ONE_V6_PREFIX, "2001:db8:2::1", "2001:db8:2::1"};
    run_flood(&plan);
}
#endif

/* Feeds every datagram that arrived on io to both connections (the old
 * and the restarted client share the address and port; each drops what is
 * not its own), fires their timers, sends what they queued. */
static void pump_shared(cdtls_io_socket *io, cdtls_conn *a, cdtls_conn *b, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    uint64_t now = cdtls_io_now_ms();
    while (cdtls_io_recv(io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK) {
        if (a) (void)cdtls_conn_recv(a, d, n, NULL, now);
        (void)cdtls_conn_recv(b, d, n, NULL, now);
    }
    cdtls_conn *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (!both[i]) continue;
        if (cdtls_conn_timeout(both[i]) <= now) (void)cdtls_conn_on_timeout(both[i], now);
        while (cdtls_conn_next_datagram(both[i], d, sizeof d, &n, NULL) == CDTLS_OK)
            (void)cdtls_io_send(io, d, n, to, NULL, NULL, 0);
    }
}

static int same_port(const cdtls_addr *x, const cdtls_addr *y)
{
    return x->port == y->port && x->ip.family == y->ip.family && memcmp(x->ip.addr, y->ip.addr, 4) == 0;
}

static void expect_read(cdtls_sock *s, const char *want)
{
    uint8_t got[64];
    size_t n = 0;
    int rc = cdtls_sock_read(s, got, sizeof got, &n, NULL, 2000);
    cr_assert_eq(rc, CDTLS_OK, "read: %s", cdtls_strerror(rc));
    cr_assert(n == strlen(want) && memcmp(got, want, n) == 0);
}

/* Item 2 (RFC 6347 §4.2.8): a client restarts on the same address and port
 * (a CoAP or LwM2M device after a reboot). Its new epoch-0 ClientHello
 * with a valid cookie starts a new handshake; the old connection keeps
 * working meanwhile; when the new one completes it is accepted and the old
 * one's reads say CDTLS_ERR_PEER_RESTARTED. Before, the new ClientHello was
 * never answered (the old connection ignored it) until the old one
 * closed. */
Test(abuse_listener, restarted_client_gets_a_new_connection, .timeout = 60)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    server sv;
    server_open(&sv, &cfg, MAX_PEERS);
    peer old;
    peer_open(&old, &cfg, "127.0.0.1");
    for (int i = 0; i < 2000 && (sv.n_acc < 1 || cdtls_conn_get_state(old.c) != CDTLS_STATE_ESTABLISHED);
         i++) {
        peer_pump(&old, &sv.where);
        server_pump(&sv);
    }
    cr_assert_eq(cdtls_conn_get_state(old.c), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(sv.n_acc, 1);
    /* the restart: a new connection on the same socket */
    cdtls_conn *fresh;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, cdtls_io_now_ms(), &fresh), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(fresh, cdtls_io_now_ms()), CDTLS_OK);
    /* ClientHello, HelloVerifyRequest, ClientHello with the cookie: the
     * new handshake is under way on the server */
    for (int i = 0; i < 2; i++) {
        pump_shared(&old.io, old.c, fresh, &sv.where);
        server_pump(&sv);
    }
    cr_assert_eq(cdtls_conn_get_state(fresh), CDTLS_STATE_HANDSHAKING);
    cr_assert_eq(cdtls_listener_peer_count(sv.l), 2); /* the old peer and the new handshake */
    /* the old connection still works both ways */
    cr_assert_eq(cdtls_conn_write(old.c, (const uint8_t *)"old", 3, NULL), CDTLS_OK);
    pump_shared(&old.io, old.c, fresh, &sv.where);
    expect_read(sv.acc[0], "old");
    uint64_t t0 = cdtls_io_now_ms();
    while (cdtls_io_now_ms() - t0 < 5000 &&
           (sv.n_acc < 2 || cdtls_conn_get_state(fresh) != CDTLS_STATE_ESTABLISHED)) {
        pump_shared(&old.io, NULL, fresh, &sv.where);
        server_pump(&sv);
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(cdtls_conn_get_state(fresh), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(fresh)));
    cr_assert_eq(sv.n_acc, 2, "the new connection was not accepted");
    cr_assert(same_port(cdtls_sock_peer(sv.acc[0]), cdtls_sock_peer(sv.acc[1])));
    uint8_t buf[16];
    size_t n;
    cr_assert_eq(cdtls_sock_read(sv.acc[0], buf, sizeof buf, &n, NULL, 0), CDTLS_ERR_PEER_RESTARTED);
    cr_assert_eq(cdtls_conn_write(fresh, (const uint8_t *)"new", 3, NULL), CDTLS_OK);
    pump_shared(&old.io, NULL, fresh, &sv.where);
    expect_read(sv.acc[1], "new");
    cdtls_conn_free(fresh);
    peer_close(&old);
    server_close(&sv);
}

/* Item 2: idle peers expire (listener.idle_timeout_ms): an accepted one's
 * reads say CDTLS_ERR_IDLE and its address is free for a new
 * handshake. */
Test(abuse_listener, idle_peer_expires, .timeout = 60)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    cfg.listener.idle_timeout_ms = 300;
    server sv;
    server_open(&sv, &cfg, MAX_PEERS);
    peer p;
    peer_open(&p, &cfg, "127.0.0.1");
    for (int i = 0; i < 2000 && (sv.n_acc < 1 || cdtls_conn_get_state(p.c) != CDTLS_STATE_ESTABLISHED); i++) {
        peer_pump(&p, &sv.where);
        server_pump(&sv);
    }
    cr_assert_eq(sv.n_acc, 1);
    cr_assert_eq(cdtls_conn_write(p.c, (const uint8_t *)"hi", 2, NULL), CDTLS_OK);
    peer_pump(&p, &sv.where);
    expect_read(sv.acc[0], "hi"); /* heard: not idle yet */
    uint8_t buf[16];
    size_t n;
    uint64_t t0 = cdtls_io_now_ms();
    int rc = cdtls_sock_read(sv.acc[0], buf, sizeof buf, &n, NULL, 3000);
    uint64_t waited = cdtls_io_now_ms() - t0;
    cr_assert_eq(rc, CDTLS_ERR_IDLE, "%s", cdtls_strerror(rc));
    cr_assert_lt(waited, 2500, "expired after %llu ms (idle timeout 300, scanned each second)",
                 (unsigned long long)waited);
    /* the same address and port handshake again */
    cdtls_conn *again;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, cdtls_io_now_ms(), &again), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(again, cdtls_io_now_ms()), CDTLS_OK);
    for (int i = 0; i < 2000 && (sv.n_acc < 2 || cdtls_conn_get_state(again) != CDTLS_STATE_ESTABLISHED);
         i++) {
        pump_shared(&p.io, NULL, again, &sv.where);
        server_pump(&sv);
    }
    cr_assert_eq(cdtls_conn_get_state(again), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(sv.n_acc, 2);
    cdtls_conn_free(again);
    peer_close(&p);
    server_close(&sv);
}

/* Item 2: a client that restarts again while its previous new handshake is
 * still under way (it rebooted twice) gets through at once: a ClientHello
 * with a valid cookie replaces the earlier new handshake rather than being
 * ignored by it until that one times out (60 s). */
Test(abuse_listener, client_restarting_twice_gets_through, .timeout = 60)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    server sv;
    server_open(&sv, &cfg, MAX_PEERS);
    peer old;
    peer_open(&old, &cfg, "127.0.0.1");
    for (int i = 0; i < 2000 && (sv.n_acc < 1 || cdtls_conn_get_state(old.c) != CDTLS_STATE_ESTABLISHED);
         i++) {
        peer_pump(&old, &sv.where);
        server_pump(&sv);
    }
    cr_assert_eq(sv.n_acc, 1);
    cdtls_conn *first, *second;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, cdtls_io_now_ms(), &first), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(first, cdtls_io_now_ms()), CDTLS_OK);
    for (int i = 0; i < 2; i++) { /* ClientHello, HelloVerifyRequest, ClientHello with the cookie */
        pump_shared(&old.io, NULL, first, &sv.where);
        server_pump(&sv);
    }
    cr_assert_eq(cdtls_listener_peer_count(sv.l), 2);
    cdtls_conn_free(first); /* rebooted again before it finished */
    /* what the server sent the first attempt died with it (a rebooted
     * device's socket is new) */
    uint8_t stale[2048];
    size_t sn;
    for (int i = 0;
         i < 64 && cdtls_io_recv(&old.io, stale, sizeof stale, &sn, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK;
         i++)
        ;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, cdtls_io_now_ms(), &second), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(second, cdtls_io_now_ms()), CDTLS_OK);
    uint64_t t0 = cdtls_io_now_ms();
    while (cdtls_io_now_ms() - t0 < 5000 &&
           (sv.n_acc < 2 || cdtls_conn_get_state(second) != CDTLS_STATE_ESTABLISHED)) {
        pump_shared(&old.io, NULL, second, &sv.where);
        server_pump(&sv);
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(cdtls_conn_get_state(second), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(second)));
    cr_assert_eq(sv.n_acc, 2);
    cr_assert_eq(cdtls_listener_peer_count(sv.l), 2); /* the new connection and the replaced one */
    uint8_t buf[16];
    size_t n;
    cr_assert_eq(cdtls_sock_read(sv.acc[0], buf, sizeof buf, &n, NULL, 0), CDTLS_ERR_PEER_RESTARTED);
    cdtls_conn_free(second);
    peer_close(&old);
    server_close(&sv);
}
