/* The listener at scale, on loopback, single-threaded so it is repeatable:
 * 200 clients handshaking at the same time all complete and echo; a flood
 * of cookie-less ClientHellos allocates nothing per peer (measured with a
 * counting allocator). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/sock.h"

#include "counting_alloc.h"
#include "interop_peers.h"

static const uint8_t psk[16] = "scale-test-psk16";

static void cfg_init(cdtls_config *cfg, counting *cnt)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"scale";
    cfg->psk.identity_len = 5;
    if (cnt) {
        cfg->allocator = counting_init(cnt);
    }
}

static void pump_listener(cdtls_listener *l, cdtls_sock **accepted, int *n_accepted, int max)
{
    for (int i = 0; i < 64; i++) { /* a bounded number of steps per call */
        cdtls_sock *s = NULL;
        int rc = cdtls_listener_accept(l, 0, &s);
        if (rc == CDTLS_OK) {
            cr_assert(*n_accepted < max);
            accepted[(*n_accepted)++] = s;
        } else if (rc == CDTLS_ERR_WOULD_BLOCK) {
            return;
        } else {
            cr_assert_fail("accept: %s", cdtls_strerror(rc));
        }
    }
}

typedef struct client {
    cdtls_io_socket io;
    cdtls_conn *c;
} client;

static void client_pump(client *cl, const cdtls_addr *server, uint64_t now)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_io_recv(&cl->io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK)
        cdtls_conn_recv(cl->c, d, n, NULL, now);
    if (cdtls_conn_timeout(cl->c) <= now) cdtls_conn_on_timeout(cl->c, now);
    while (cdtls_conn_next_datagram(cl->c, d, sizeof d, &n, NULL) == CDTLS_OK)
        cdtls_io_send(&cl->io, d, n, server, NULL, NULL, 0);
}

#define N_CLIENTS 200

Test(listener_scale, two_hundred_concurrent_clients, .timeout = 120)
{
    cdtls_config cfg;
    cfg_init(&cfg, NULL);
    /* all 200 come from 127.0.0.1: one source, allowed that many
     * handshakes at once (the default, 32, is for the open Internet) */
    cfg.listener.max_half_open_per_source = N_CLIENTS;
    cdtls_addr bind, where;
    cdtls_addr_parse("127.0.0.1", 0, &bind);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &l), CDTLS_OK);
    cr_assert_eq(cdtls_listener_set_limits(l, N_CLIENTS, N_CLIENTS), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    static client cl[N_CLIENTS];
    cdtls_addr any;
    cdtls_addr_parse("127.0.0.1", 0, &any);
    uint64_t t0 = 0;
    for (int i = 0; i < N_CLIENTS; i++) {
        cr_assert_eq(cdtls_io_open(&cl[i].io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
        cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, t0, &cl[i].c), CDTLS_OK);
        cr_assert_eq(cdtls_conn_start(cl[i].c, t0), CDTLS_OK);
    }
    static cdtls_sock *acc[N_CLIENTS];
    int n_acc = 0, established = 0;
    /* all 200 handshakes in flight together; the clients' clock is virtual
     * (advanced 10 ms per round) so slow rounds cannot time them out */
    for (int round = 0; round < 5000 && (n_acc < N_CLIENTS || established < N_CLIENTS); round++) {
        uint64_t now = t0 + (uint64_t)round * 10;
        established = 0;
        for (int i = 0; i < N_CLIENTS; i++) {
            client_pump(&cl[i], &where, now);
            established += cdtls_conn_get_state(cl[i].c) == CDTLS_STATE_ESTABLISHED;
        }
        pump_listener(l, acc, &n_acc, N_CLIENTS);
    }
    cr_assert_eq(established, N_CLIENTS, "only %d clients established", established);
    cr_assert_eq(n_acc, N_CLIENTS, "only %d accepted", n_acc);
    cr_assert_eq(cdtls_listener_peer_count(l), N_CLIENTS);
    /* every client sends one record; every accepted socket echoes it */
    for (int i = 0; i < N_CLIENTS; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "client %d", i);
        cr_assert_eq(cdtls_conn_write(cl[i].c, (const uint8_t *)msg, (size_t)n, NULL), CDTLS_OK);
        client_pump(&cl[i], &where, 60000);
    }
    static int got_echo[N_CLIENTS];
    int echoed = 0;
    for (int round = 0; round < 2000 && echoed < N_CLIENTS; round++) {
        for (int i = 0; i < N_CLIENTS; i++) {
            if (!acc[i]) continue;
            uint8_t buf[64];
            size_t n;
            if (cdtls_sock_read(acc[i], buf, sizeof buf, &n, NULL, 0) == CDTLS_OK)
                cr_assert_eq(cdtls_sock_write(acc[i], buf, n, NULL), CDTLS_OK);
        }
        echoed = 0;
        for (int i = 0; i < N_CLIENTS; i++) {
            client_pump(&cl[i], &where, 60000);
            uint8_t buf[64];
            size_t n;
            char want[32];
            snprintf(want, sizeof want, "client %d", i);
            if (cdtls_conn_read(cl[i].c, buf, sizeof buf, &n, NULL) == CDTLS_OK) {
                cr_assert(n == strlen(want) && memcmp(buf, want, n) == 0, "client %d got the wrong echo", i);
                got_echo[i] = 1;
            }
            echoed += got_echo[i];
        }
    }
    cr_assert_eq(echoed, N_CLIENTS, "only %d echoes", echoed);
    fprintf(stderr, "listener_scale: %d concurrent clients handshook and echoed on one socket\n", N_CLIENTS);
    for (int i = 0; i < N_CLIENTS; i++) {
        cdtls_sock_close(acc[i]);
        cdtls_conn_free(cl[i].c);
        cdtls_io_close(&cl[i].io);
    }
    cdtls_listener_close(l);
}

Test(listener_scale, cookieless_flood_allocates_nothing, .timeout = 120)
{
    counting cnt;
    cdtls_config cfg;
    cfg_init(&cfg, &cnt);
    cdtls_addr bind, where, any;
    cdtls_addr_parse("127.0.0.1", 0, &bind);
    cdtls_addr_parse("127.0.0.1", 0, &any);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &l), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    size_t baseline = cnt.live, allocs_before = cnt.allocs;
    cnt.peak = cnt.live;
    cdtls_io_socket *lio = cdtls_listener_io(l);
    const uint64_t recv0 = lio->recv_calls, send0 = lio->send_calls;

    /* a real first ClientHello (no cookie), made with the default allocator */
    cdtls_config ccfg;
    cfg_init(&ccfg, NULL);
    cdtls_conn *c;
    uint8_t ch[1024];
    size_t ch_len;
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 0, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 0), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(c, ch, sizeof ch, &ch_len, NULL), CDTLS_OK);
    cdtls_conn_free(c);

    enum { SENDERS = 20, PER_SENDER = 500 };
    static cdtls_io_socket tx[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        cr_assert_eq(cdtls_io_open(&tx[i], &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    static cdtls_sock *acc[4];
    int n_acc = 0;
    long sent = 0, replies = 0;
    for (int k = 0; k < PER_SENDER; k++) {
        for (int i = 0; i < SENDERS; i++) {
            ch[ch_len - 1] ^= (uint8_t)k; /* vary the bytes a little */
            if (cdtls_io_send(&tx[i], ch, ch_len, &where, NULL, NULL, 0) == CDTLS_OK) sent++;
        }
        for (int j = 0; j < SENDERS; j++) pump_listener(l, acc, &n_acc, 4);
        for (int i = 0; i < SENDERS; i++) {
            uint8_t d[512];
            size_t n;
            while (cdtls_io_recv(&tx[i], d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK)
                /* HelloVerifyRequest, or the HelloRetryRequest (a
                 * ServerHello) that a DTLS 1.3 hello gets */
                replies += n > 25 && (d[13] == 3 || d[13] == 2);
        }
        cr_assert_eq(cdtls_listener_peer_count(l), 0);
    }
    cr_assert_eq(n_acc, 0);
    cr_assert_eq(cdtls_listener_peer_count(l), 0, "a cookie-less ClientHello made per-peer state");
    cr_assert_eq(cnt.peak, baseline, "the flood allocated memory: peak %zu > baseline %zu", cnt.peak,
                 baseline);
    cr_assert_eq(cnt.allocs, allocs_before, "%zu allocations during the flood", cnt.allocs - allocs_before);
    cr_assert(replies > sent * 9 / 10, "only %ld HelloVerifyRequests for %ld ClientHellos", replies, sent);
    const uint64_t recv_calls = lio->recv_calls - recv0, send_calls = lio->send_calls - send0;
    fprintf(stderr,
            "listener_scale: %ld cookie-less ClientHellos -> %ld HelloVerifyRequests, 0 peers, "
            "0 allocations, live bytes %zu before and after (peak %zu); listener: %llu receive "
            "calls, %llu send calls\n",
            sent, replies, baseline, cnt.peak, (unsigned long long)recv_calls,
            (unsigned long long)send_calls);
    /* The 20 ClientHellos of a round are queued before the listener runs:
     * it takes them in batches of 16 and answers each batch with one
     * sendmmsg (20 peers: no GSO, which needs one destination). */
    if (cdtls_io_caps(lio) & CDTLS_IO_CAP_RECV_BATCH)
        cr_assert_leq(recv_calls * 4, (uint64_t)sent, "%llu receive calls for %ld datagrams",
                      (unsigned long long)recv_calls, sent);
    if ((cdtls_io_caps(lio) & (CDTLS_IO_CAP_RECV_BATCH | CDTLS_IO_CAP_SEND_BATCH)) ==
        (CDTLS_IO_CAP_RECV_BATCH | CDTLS_IO_CAP_SEND_BATCH))
        cr_assert_leq(send_calls * 4, (uint64_t)replies, "%llu send calls for %ld replies",
                      (unsigned long long)send_calls, replies);
    for (int i = 0; i < SENDERS; i++) cdtls_io_close(&tx[i]);
    cdtls_listener_close(l);
    cr_assert_eq(cnt.live, 0, "listener leaked %zu bytes", cnt.live);
}

/* The listener finds peers through an address table that grows (64, 128,
 * 256 buckets...) and walks only the peers not yet accepted: 300 peers
 * accepted one after another, half of them closed (taken out of the
 * table), 40 newcomers after that; every remaining peer still gets its
 * own records, and the peer count follows. */
static int handshake_one(cdtls_listener *l, const cdtls_config *cfg, const cdtls_addr *where, client *c,
                         cdtls_sock **acc)
{
    cdtls_addr any;
    cdtls_addr_parse("127.0.0.1", 0, &any);
    cr_assert_eq(cdtls_io_open(&c->io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(cfg, CDTLS_CLIENT, 0, &c->c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c->c, 0), CDTLS_OK);
    int n_acc = 0;
    for (int round = 0; round < 2000; round++) {
        client_pump(c, where, (uint64_t)round);
        pump_listener(l, acc, &n_acc, 1);
        if (n_acc == 1 && cdtls_conn_get_state(c->c) == CDTLS_STATE_ESTABLISHED) return 1;
    }
    return 0;
}

static void echo_check(client *c, cdtls_sock *s, const cdtls_addr *where, int i)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "peer %d", i);
    cr_assert_eq(cdtls_conn_write(c->c, (const uint8_t *)msg, (size_t)n, NULL), CDTLS_OK);
    client_pump(c, where, 100000);
    uint8_t buf[64];
    size_t got;
    /* the listener reads the socket for every peer: this peer's record must
     * reach this peer's socket */
    cr_assert_eq(cdtls_sock_read(s, buf, sizeof buf, &got, NULL, 2000), CDTLS_OK, "peer %d got nothing", i);
    cr_assert(got == (size_t)n && memcmp(buf, msg, got) == 0, "peer %d got another peer's record", i);
}

#define N_TABLE 300
#define N_LATE 40

Test(listener_scale, address_table_grows_and_forgets, .timeout = 120)
{
    cdtls_config cfg;
    cfg_init(&cfg, NULL);
    cdtls_addr bind, where;
    cdtls_addr_parse("127.0.0.1", 0, &bind);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &l), CDTLS_OK);
    cr_assert_eq(cdtls_listener_set_limits(l, 4, N_TABLE + N_LATE), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    static client cl[N_TABLE + N_LATE];
    static cdtls_sock *acc[N_TABLE + N_LATE];
    for (int i = 0; i < N_TABLE; i++)
        cr_assert(handshake_one(l, &cfg, &where, &cl[i], &acc[i]), "peer %d", i);
    cr_assert_eq(cdtls_listener_peer_count(l), N_TABLE);
    for (int i = 0; i < N_TABLE; i += 2) {
        cdtls_sock_close(acc[i]);
        acc[i] = NULL;
    }
    cr_assert_eq(cdtls_listener_peer_count(l), N_TABLE / 2);
    for (int i = N_TABLE; i < N_TABLE + N_LATE; i++)
        cr_assert(handshake_one(l, &cfg, &where, &cl[i], &acc[i]), "late peer %d", i);
    cr_assert_eq(cdtls_listener_peer_count(l), N_TABLE / 2 + N_LATE);
    for (int i = 1; i < N_TABLE + N_LATE; i += (i < N_TABLE ? 2 : 1)) echo_check(&cl[i], acc[i], &where, i);
    for (int i = 0; i < N_TABLE + N_LATE; i++) {
        if (acc[i]) cdtls_sock_close(acc[i]);
        cdtls_conn_free(cl[i].c);
        cdtls_io_close(&cl[i].io);
    }
    cr_assert_eq(cdtls_listener_peer_count(l), 0);
    cdtls_listener_close(l);
}

/* ------------------------------------------- ClientHellos in fragments
 * (issue 14): a client whose hello is cut over several datagrams, as a
 * DTLS 1.3 browser's with a post-quantum key share is. Ours does the same
 * at MTU 128 with a long ALPN list. */

static const char *const long_alpn[] = {"webrtc",
                                        "c-webrtc",
                                        "coap",
                                        "lwm2m",
                                        "h3",
                                        "some-long-protocol-name-1",
                                        "some-long-protocol-name-2",
                                        "some-long-protocol-name-3",
                                        "some-long-protocol-name-4",
                                        "some-long-protocol-name-5",
                                        "some-long-protocol-name-6",
                                        "some-long-protocol-name-7"};

static void fragmenting_client_cfg(cdtls_config *cfg)
{
    cfg_init(cfg, NULL);
    cfg->mtu = 128;
    cfg->alpn.protocols = long_alpn;
    cfg->alpn.n_protocols = sizeof long_alpn / sizeof long_alpn[0];
    /* the test's clock never reaches a retransmission: a handshake has to
     * complete from one copy of each flight */
    cfg->timers.retransmit_initial_ms = 60000;
    cfg->timers.handshake_timeout_ms = 120000;
    /* X25519 only: with ML-KEM-768 in the provider a 1.3 server asks for
     * the hybrid, whose 1,216-byte share makes a second hello of ~14
     * datagrams at this MTU; the flood tests count datagrams per round
     * against the socket buffer (the hybrid at a listener: pq13/ tests) */
    static const uint16_t x25519_only[] = {0x001d};
    cfg->negotiate.groups = x25519_only;
    cfg->negotiate.n_groups = 1;
}

typedef struct flight {
    uint8_t d[16][256];
    size_t n[16];
    size_t count;
} flight;

static void take_flight(cdtls_conn *c, flight *f)
{
    f->count = 0;
    while (f->count < 16 &&
           cdtls_conn_next_datagram(c, f->d[f->count], sizeof f->d[0], &f->n[f->count], NULL) == CDTLS_OK)
        f->count++;
}

/* Like client_pump, but the client's datagrams go out last first: every
 * fragment of a hello overtakes the one before it. */
static void client_pump_reversed(client *cl, const cdtls_addr *server, uint64_t now)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_io_recv(&cl->io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK)
        cdtls_conn_recv(cl->c, d, n, NULL, now);
    static flight f;
    take_flight(cl->c, &f);
    for (size_t i = f.count; i-- > 0;) cdtls_io_send(&cl->io, f.d[i], f.n[i], server, NULL, NULL, 0);
}

Test(listener_scale, fragmented_hellos_reversed_in_one_batch, .timeout = 60)
{
    cdtls_config cfg, ccfg;
    cfg_init(&cfg, NULL);
    cfg.alpn.protocols = long_alpn;
    cfg.alpn.n_protocols = 1;
    fragmenting_client_cfg(&ccfg);
    cdtls_addr bind, where, any;
    cdtls_addr_parse("127.0.0.1", 0, &bind);
    cdtls_addr_parse("127.0.0.1", 0, &any);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &l), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    client cl;
    cr_assert_eq(cdtls_io_open(&cl.io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 0, &cl.c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cl.c, 0), CDTLS_OK);
    cdtls_sock *acc[1] = {NULL};
    int n_acc = 0;
    /* The client's clock stays at 0: it never retransmits. The second
     * hello's first fragment comes last in its batch, after the fragments
     * that overtook it: the listener hands those to the new connection. */
    for (int round = 0; round < 200 && !(n_acc && cdtls_conn_get_state(cl.c) == CDTLS_STATE_ESTABLISHED);
         round++) {
        client_pump_reversed(&cl, &where, 0);
        pump_listener(l, acc, &n_acc, 1);
    }
    cr_assert_eq(cdtls_conn_get_state(cl.c), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(cl.c)));
    cr_assert_eq(n_acc, 1);
    echo_check(&cl, acc[0], &where, 7);
    cdtls_sock_close(acc[0]);
    cdtls_conn_free(cl.c);
    cdtls_io_close(&cl.io);
    cdtls_listener_close(l);
}

/* The datagrams of a fragmenting client's first hello, and of its second
 * hello carrying a cookie from another server's verifier: a cookie that is
 * wrong for our listener and for every address. */
static void fragmented_hellos(flight *first, flight *second, uint16_t server_max)
{
    cdtls_config ccfg, other;
    fragmenting_client_cfg(&ccfg);
    cfg_init(&other, NULL);
    other.versions.max = server_max;
    cdtls_conn *c;
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&other, 0, &v), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 0, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 0), CDTLS_OK);
    take_flight(c, first);
    cr_assert_geq(first->count, 3, "the hello goes out in %zu datagrams", first->count);
    uint8_t reply[512];
    size_t rn = 0;
    /* a 1.2 verifier answers the first fragment; a 1.3 one the whole hello */
    for (size_t k = 0; k < first->count && !rn; k++)
        cr_assert_eq(cdtls_hello_verifier_check(v, "elsewhere", 9, first->d[k], first->n[k], 0, reply,
                                                sizeof reply, &rn),
                     CDTLS_ERR_WOULD_BLOCK);
    cr_assert_gt(rn, 0);
    cr_assert_eq(cdtls_conn_recv(c, reply, rn, NULL, 0), CDTLS_OK);
    take_flight(c, second);
    cr_assert_geq(second->count, 3);
    cdtls_conn_free(c);
    cdtls_hello_verifier_free(v);
}

/* Sends one round of the fragment flood from each sender: the first
 * hello's first fragment (answered), the wrong-cookie second hello's first
 * fragment (answered), and every other fragment (never completed, not
 * answered). */
static void fragment_flood_round(cdtls_io_socket *tx, int senders, const flight *f1, const flight *f2,
                                 const cdtls_addr *where, long *sent)
{
    for (int i = 0; i < senders; i++)
        for (int which = 0; which < 2; which++) {
            const flight *f = which ? f2 : f1;
            for (size_t k = 0; k < f->count; k++)
                *sent += cdtls_io_send(&tx[i], f->d[k], f->n[k], where, NULL, NULL, 0) == CDTLS_OK;
        }
}

/* The stateless replies the senders got: HelloVerifyRequests (type 3) for
 * a 1.2 server, HelloRetryRequests (type 2) for a 1.3 one, nothing else. */
static long count_replies(cdtls_io_socket *tx, int senders, uint8_t type)
{
    long replies = 0;
    for (int i = 0; i < senders; i++) {
        uint8_t d[512];
        size_t n;
        while (cdtls_io_recv(&tx[i], d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 0) == CDTLS_OK) {
            cr_assert(n > 25 && d[13] == type, "only stateless replies (%u) answer a flood, not %u", type,
                      d[13]);
            replies++;
        }
    }
    return replies;
}

static long count_hvrs(cdtls_io_socket *tx, int senders)
{
    return count_replies(tx, senders, 3);
}

/* A server speaking 1.2 only: the verifier answers first fragments and
 * keeps nothing. (With 1.3 it reassembles: fragment_flood13_stays_in_budget.) */
Test(listener_scale, fragment_flood_allocates_nothing, .timeout = 120)
{
    counting cnt;
    cdtls_config cfg;
    cfg_init(&cfg, &cnt);
    cfg.versions.max = CDTLS_VERSION_1_2;
    cfg.alpn.protocols = long_alpn;
    cfg.alpn.n_protocols = 1;
    cdtls_addr bind, where, any;
    cdtls_addr_parse("127.0.0.1", 0, &bind);
    cdtls_addr_parse("127.0.0.1", 0, &any);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &l), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    static flight f1, f2;
    fragmented_hellos(&f1, &f2, CDTLS_VERSION_1_2);

    /* 10 senders x ~14 datagrams a round: within the socket's receive buffer */
    enum { SENDERS = 10, ROUNDS = 200 };
    static cdtls_io_socket tx[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        cr_assert_eq(cdtls_io_open(&tx[i], &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    static cdtls_sock *acc[4];
    int n_acc = 0;
    /* Alone: first fragments, wrong-cookie fragments, fragments that never
     * complete. Nothing is allocated, no peer is made; every hello start
     * gets its HelloVerifyRequest and nothing else gets anything. */
    size_t baseline = cnt.live, allocs0 = cnt.allocs;
    cnt.peak = cnt.live;
    long sent = 0, hvrs = 0;
    for (int r = 0; r < ROUNDS; r++) {
        fragment_flood_round(tx, SENDERS, &f1, &f2, &where, &sent);
        for (int j = 0; j < 8; j++) pump_listener(l, acc, &n_acc, 4);
        hvrs += count_hvrs(tx, SENDERS);
        cr_assert_eq(cdtls_listener_peer_count(l), 0);
    }
    const long starts = 2L * SENDERS * ROUNDS;
    cr_assert_eq(cnt.allocs, allocs0, "%zu allocations during the fragment flood", cnt.allocs - allocs0);
    cr_assert_eq(cnt.peak, baseline, "peak %zu > baseline %zu", cnt.peak, baseline);
    cr_assert(hvrs > starts * 9 / 10 && hvrs <= starts, "%ld HelloVerifyRequests for %ld hello starts", hvrs,
              starts);
    fprintf(stderr,
            "listener_scale: %ld fragments (%ld hello starts, half with a wrong cookie) -> %ld "
            "HelloVerifyRequests, 0 peers, 0 allocations\n",
            sent, starts, hvrs);

    /* With the flood going on, a fragmenting client completes within a few
     * rounds (4 here; a handshake is 3 round trips: hello, cookie hello,
     * key exchange), its clock never making it retransmit, and it is the
     * only peer made. */
    cdtls_config ccfg;
    fragmenting_client_cfg(&ccfg);
    client cl;
    cr_assert_eq(cdtls_io_open(&cl.io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 0, &cl.c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cl.c, 0), CDTLS_OK);
    int rounds = 0;
    for (; rounds < 100 && !(n_acc && cdtls_conn_get_state(cl.c) == CDTLS_STATE_ESTABLISHED); rounds++) {
        fragment_flood_round(tx, SENDERS, &f1, &f2, &where, &sent);
        client_pump(&cl, &where, 0);
        for (int j = 0; j < 8; j++) pump_listener(l, acc, &n_acc, 4);
        (void)count_hvrs(tx, SENDERS);
    }
    cr_assert_eq(cdtls_conn_get_state(cl.c), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(cl.c)));
    cr_assert_eq(n_acc, 1);
    cr_assert_eq(cdtls_listener_peer_count(l), 1);
    fprintf(stderr, "listener_scale: a fragmenting client beside the flood established in %d rounds\n",
            rounds);
    cr_assert_leq(rounds, 10, "the flood slowed the handshake to %d rounds", rounds);
    echo_check(&cl, acc[0], &where, 9);
    cdtls_sock_close(acc[0]);
    cdtls_conn_free(cl.c);
    cdtls_io_close(&cl.io);
    for (int i = 0; i < SENDERS; i++) cdtls_io_close(&tx[i]);
    cdtls_listener_close(l);
    cr_assert_eq(cnt.live, 0, "listener leaked %zu bytes", cnt.live);
}

/* The same flood at a server that speaks DTLS 1.3 (issue 16), plus hellos
 * that never complete: every hello, first or with a wrong cookie, is
 * reassembled before it is answered (the HelloRetryRequest's cookie binds
 * the whole hello, RFC 9147 §5.1), so the verifier holds fragments, but
 * never more than cfg.hello_reasm.budget bytes (counted by the allocator)
 * and never more than max_per_source (8) hellos of the flooding /24 -
 * the incomplete ones evict each other, oldest first; it never makes a
 * peer, answers only with HelloRetryRequests, and a fragmenting client
 * beside the (complete-hello) flood completes as 1.3. */
Test(listener_scale, fragment_flood13_stays_in_budget, .timeout = 120)
{
    peer_require_cdtls13(CDTLS_SERVER); /* a skip with -Ddtls13=false */
    counting cnt;
    cdtls_config cfg;
    cfg_init(&cfg, &cnt);
    cfg.alpn.protocols = long_alpn;
    cfg.alpn.n_protocols = 1;
    cfg.hello_reasm.budget = 64 * 1024; /* small, so the flood reaches it */
    cdtls_addr bind, where, any;
    cdtls_addr_parse("127.0.0.1", 0, &bind);
    cdtls_addr_parse("127.0.0.1", 0, &any);
    cdtls_listener *l;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &l), CDTLS_OK);
    cdtls_io_local_addr(cdtls_listener_io(l), &where);
    static flight f1, f2;
    fragmented_hellos(&f1, &f2, CDTLS_VERSION_1_3);
    enum { SENDERS = 10, ROUNDS = 100 };
    static cdtls_io_socket tx[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        cr_assert_eq(cdtls_io_open(&tx[i], &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    static cdtls_sock *acc[4];
    int n_acc = 0;
    const size_t baseline = cnt.live;
    cnt.peak = cnt.live;
    long sent = 0, hrrs = 0;
    for (int r = 0; r < ROUNDS; r++) {
        fragment_flood_round(tx, SENDERS, &f1, &f2, &where, &sent);
        /* and hellos that never complete: all but the first fragment */
        for (int i = 0; i < SENDERS; i++)
            for (size_t k = 1; k < f1.count; k++)
                sent += cdtls_io_send(&tx[i], f1.d[k], f1.n[k], &where, NULL, NULL, 0) == CDTLS_OK;
        for (int j = 0; j < 8; j++) pump_listener(l, acc, &n_acc, 4);
        hrrs += count_replies(tx, SENDERS, 2);
        cr_assert_eq(cdtls_listener_peer_count(l), 0);
        cr_assert_leq(cnt.peak - baseline, cfg.hello_reasm.budget, "round %d: peak %zu over the budget", r,
                      cnt.peak - baseline);
    }
    const long hellos = 2L * SENDERS * ROUNDS;
    cr_assert(hrrs > hellos * 9 / 10 && hrrs <= hellos, "%ld HelloRetryRequests for %ld whole hellos", hrrs,
              hellos);
    fprintf(
        stderr,
        "listener_scale: 1.3 fragment flood: %ld fragments, %ld hellos -> %ld HelloRetryRequests, 0 peers, "
        "peak %zu bytes held (budget %zu)\n",
        sent, hellos, hrrs, cnt.peak - baseline, cfg.hello_reasm.budget);
    cdtls_config ccfg;
    fragmenting_client_cfg(&ccfg);
    client cl;
    cr_assert_eq(cdtls_io_open(&cl.io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 0, &cl.c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cl.c, 0), CDTLS_OK);
    int rounds = 0;
    for (; rounds < 100 && !(n_acc && cdtls_conn_get_state(cl.c) == CDTLS_STATE_ESTABLISHED); rounds++) {
        fragment_flood_round(tx, SENDERS, &f1, &f2, &where, &sent);
        client_pump(&cl, &where, 0);
        for (int j = 0; j < 8; j++) pump_listener(l, acc, &n_acc, 4);
        (void)count_replies(tx, SENDERS, 2);
    }
    cr_assert_eq(cdtls_conn_get_state(cl.c), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(cl.c)));
    cr_assert_eq(cdtls_conn_version(cl.c), CDTLS_VERSION_1_3);
    cr_assert_eq(n_acc, 1);
    fprintf(stderr, "listener_scale: a fragmenting 1.3 client beside the flood established in %d rounds\n",
            rounds);
    cr_assert_leq(rounds, 10, "the flood slowed the handshake to %d rounds", rounds);
    echo_check(&cl, acc[0], &where, 9);
    cdtls_sock_close(acc[0]);
    cdtls_conn_free(cl.c);
    cdtls_io_close(&cl.io);
    for (int i = 0; i < SENDERS; i++) cdtls_io_close(&tx[i]);
    cdtls_listener_close(l);
    cr_assert_eq(cnt.live, 0, "listener leaked %zu bytes", cnt.live);
}
