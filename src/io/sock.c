/* DTLS over UDP sockets: drives cdtls_conn over the io module, for a client
 * (cdtls_sock_dial) and for a listener serving many peers on one socket. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdtls/sock.h"
#include "common/mem.h"
#include "io/io_internal.h"
#include "io/workers_internal.h"

#define RX_MAX 256u                       /* records waiting per socket; more are dropped */
#define DGRAM_MAX 65536u                  /* largest UDP payload we read */
#define RAW_MAX (CDTLS_IO_CMSG_SPACE * 2) /* native control bytes of one datagram */
#define HVR_MAX 512u                      /* room for one HelloVerifyRequest */

typedef struct rx_item {
    struct rx_item *next;
    size_t len;
    cdtls_oob oob;
    size_t raw_len;
    uint8_t raw[RAW_MAX];
    uint8_t data[]; /* C99 flexible array member */
} rx_item;

/* Datagrams on their way out, sent together with cdtls_io_send_batch
 * (Linux: one sendmmsg per 32, runs of unmarked datagrams of one size as
 * one UDP GSO send) rather than one system call each.
 *
 * The datagrams themselves lie back to back in one DGRAM_MAX buffer, which
 * the engine fills one datagram after the other (cdtls_conn_next_datagram
 * into what is left; a datagram that does not fit sends the batch first and
 * goes to the front). Each is at most cfg.mtu (<= 65,507) bytes, so 64 KiB
 * holds 54 datagrams of the default 1,200; TX_MSGS is the most a batch takes
 * whatever the size. A batch per socket thus costs its 64 descriptors
 * (about 9 KiB) on top of a buffer of the size the socket already had, not
 * TX_MSGS buffers of the largest datagram. A client's batch uses its
 * scratch (it sends before anything else writes there); a listener's
 * batch has its own buffer, because while a step holds the batch (see
 * `hold`) its peers' scratch takes their plaintext between datagrams. */
#define TX_MSGS 64u

typedef struct tx_batch {
    cdtls_io_socket *io;
    uint8_t *buf; /* DGRAM_MAX bytes */
    size_t used;  /* bytes of buf the queued datagrams take */
    size_t n;     /* datagrams queued in msgs */
    /* > 0 while a listener step runs: flush() only queues, and the step
     * sends once at its end, so the replies to every datagram of a
     * received batch (many peers) share system calls too. */
    unsigned hold;
    cdtls_io_msg msgs[TX_MSGS];
} tx_batch;

/* Received datagrams, taken with cdtls_io_recv_batch (Linux: one recvmmsg
 * for all that is queued, up to `slots`). Every slot is DGRAM_MAX bytes:
 * the kernel cuts a datagram that does not fit its buffer, and the peer's
 * datagram size is not ours to choose (cfg.mtu bounds what we send, not
 * what arrives: OpenSSL on loopback sends several KiB), so smaller slots
 * would lose datagrams the one-buffer receive took whole. Only what a
 * datagram fills is written, so the pages of a slot become resident as far
 * as the datagrams in it reach (a few KiB for DTLS traffic), not 64 KiB.
 * Sockets without CDTLS_IO_CAP_RECV_BATCH (no one-call receive, where a
 * batch would save nothing) get one slot. The listener, which many peers
 * share, takes more per call than a client, which hears one peer. */
#define RX_SLOTS_LISTENER 16u
#define RX_SLOTS_CLIENT 4u

typedef struct rx_batch {
    size_t slots;
    uint8_t *bufs; /* slots * DGRAM_MAX bytes */
    cdtls_io_msg msgs[RX_SLOTS_LISTENER];
    uint8_t raw[RX_SLOTS_LISTENER][RAW_MAX];
} rx_batch;

struct cdtls_sock {
    const cdtls_allocator *a;
    cdtls_conn *conn;
    cdtls_addr peer;
    cdtls_io_socket *io; /* own_io for a client, the listener's for a peer */
    cdtls_io_socket own_io;
    cdtls_listener *l; /* NULL for a client */
    int accepted, queued;
    /* DGRAM_MAX bytes for reading records (and a client's outgoing batch):
     * heap, not stack (threads on musl get 128 KiB stacks). A listener's
     * peers share the listener's (one thread drives them). */
    uint8_t *scratch;
    tx_batch *tx; /* a client's own; the listener's for its peers */
    rx_batch *rx; /* a client's own; NULL for a listener's peers */
    rx_item *rx_head, *rx_tail;
    size_t rx_count;
    struct cdtls_sock *next;  /* listener's list of peers not yet accepted */
    struct cdtls_sock *hnext; /* listener's address table chain */
    uint64_t io_events;       /* a client's cursor in its io socket's events */

    /* RFC 6347 §4.2.8: a new handshake from the address of an established
     * peer (a client that restarted) runs as `successor` beside it; the
     * old connection keeps working until the new one completes, then
     * `replaced` (its reads return CDTLS_ERR_PEER_RESTARTED). */
    struct cdtls_sock *successor, *predecessor;
    _Bool replaced, idle_expired;
    /* a listener's peer: when it last sent an authentic record */
    uint64_t heard_ms;
};

struct cdtls_listener {
    cdtls_config cfg;
    cdtls_context *ctx; /* made once from cfg: every peer's connection shares it */
    const cdtls_allocator *a;
    cdtls_io_socket io;
    cdtls_hello_verifier *hv;
    /* Peers still handshaking or waiting in the accept queue: the only ones
     * with timers or state changes to watch, so each step walks these and
     * not every established peer (a server holding 10,000 connections would
     * otherwise scan them all for every datagram; docs/benchmarks.md). */
    cdtls_sock *peers;
    /* Every peer, accepted or not, by address: a hash table with chains,
     * doubled when it holds twice as many peers as buckets. */
    cdtls_sock **table;
    size_t table_size; /* a power of two, or 0 */
    unsigned n_peers, n_queued, backlog, max_peers;
    uint8_t *scratch;   /* DGRAM_MAX bytes: the peers' scratch (see cdtls_sock) */
    tx_batch tx;        /* what the listener and its peers send */
    rx_batch rx;        /* the datagrams being received */
    uint64_t io_events; /* cursor in the io socket's events */
    /* A worker of a group (cdtls/workers.h): ctx and the cookie secret are
     * the group's, CID records for other workers go to them. NULL: alone. */
    cdtls_worker_group *group;
    unsigned worker;

    /* cfg.listener (issue 20): the per-source budget of handshakes in
     * progress, the reassembly budget they share, the idle timeout and
     * when the table is next scanned for idle peers */
    unsigned max_half_open_per_source;
    cdtls_handshake_budget hs_budget;
    uint32_t idle_timeout_ms;
    uint64_t idle_scan_ms;
    /* cdtls_listener_set_observer */
    cdtls_listener_observer observer;
    void *observer_user;
};


/* The socket layer is hosted code: it can read the wall clock that the
 * sans-IO engine needs for certificate validity. */
int64_t cdtls_io_wall_clock(void *user)
{
    (void)user;
    return (int64_t)time(NULL);
}

static cdtls_config with_clock(const cdtls_config *cfg)
{
    cdtls_config c = *cfg;
    if (!c.callbacks.unix_time) c.callbacks.unix_time = cdtls_io_wall_clock;
    return c;
}

static const cdtls_allocator *alloc_of(const cdtls_config *cfg)
{
    return cfg->allocator ? cfg->allocator : cdtls_allocator_libc();
}

static int same_addr(const cdtls_addr *x, const cdtls_addr *y)
{
    size_t n = x->ip.family == 6 ? 16 : 4;
    return x->ip.family == y->ip.family && x->port == y->port && memcmp(x->ip.addr, y->ip.addr, n) == 0;
}

/* FNV-1a over the family, port and address bytes. */
static size_t addr_hash(const cdtls_addr *a)
{
    uint32_t h = 2166136261u;
    uint8_t head[3] = {(uint8_t)a->ip.family, (uint8_t)(a->port >> 8), (uint8_t)a->port};
    for (size_t i = 0; i < sizeof head; i++) h = (h ^ head[i]) * 16777619u;
    size_t n = a->ip.family == 6 ? 16 : 4;
    for (size_t i = 0; i < n; i++) h = (h ^ a->ip.addr[i]) * 16777619u;
    return h;
}

/* ------------------------------------------------------------- plumbing */

/* Sends the queued batch and empties it. A datagram's failure is that
 * datagram's (cdtls_io_send_batch goes on past it): an unreachable
 * destination, one too large for the path, a full send buffer are loss of
 * that datagram, as UDP is lossy anyway, and no other peer's datagrams are
 * held back by it; the io events tell what happened (client_step and
 * listener_step read them: path MTU reports lower the MTU).
 * OOB the socket cannot carry on engine-made datagrams (handshake_oob,
 * alert_oob) is dropped for that datagram only, which is sent without it:
 * the handshake must not fail over a marking, and the io socket's
 * CDTLS_IO_EVENT_OOB_REFUSED event and caps say so. tx_add drops what the
 * caps already exclude; a refusal here means the kernel turned a control
 * message down just now. Returns CDTLS_ERR_IO when a datagram met an error
 * of the socket itself (the others were still sent), else CDTLS_OK. */
static int tx_send(tx_batch *t)
{
    int rc = CDTLS_OK;
    /* Each pass sends what is left, then keeps only the datagrams to send
     * again (stripped of their refused OOB: at most once each) and those
     * after a full buffer (the one it stopped at is dropped): the count
     * goes down on every pass. */
    while (t->n > 0) {
        size_t sent = 0, keep = 0;
        int r = cdtls_io_send_batch(t->io, t->msgs, t->n, &sent);
        for (size_t i = 0; i < sent; i++) {
            cdtls_io_msg *m = &t->msgs[i];
            if (m->status == CDTLS_ERR_OOB_UNSUPPORTED && m->oob.flags) {
                m->oob.flags = 0;
                t->msgs[keep++] = *m;
            } else if (m->status == CDTLS_ERR_IO && !rc) {
                rc = CDTLS_ERR_IO;
            }
        }
        size_t rest = sent;
        if (r == CDTLS_ERR_WOULD_BLOCK && rest < t->n) rest++;
        for (size_t i = rest; i < t->n; i++) t->msgs[keep++] = t->msgs[i];
        if (keep >= t->n) break; /* no progress: cannot happen, but never loop on it */
        t->n = keep;
    }
    t->n = 0;
    t->used = 0;
    return rc;
}

/* The smallest MTUs a path may have (RFC 791: 576, RFC 8200 §5: 1280),
 * less the IP and UDP headers (20 + 8, 40 + 8): the floor a path MTU
 * report cannot take a connection below. */
#define MTU_FLOOR_V4 (576u - 28u)
#define MTU_FLOOR_V6 (1280u - 48u)

/* A path MTU report (an io event) for the connection to `peer`: its
 * datagrams become small enough for the path (RFC 6347 §4.1.1.1), never
 * larger than they were, never below the floor. A report without a number
 * (a kernel that says only EMSGSIZE) goes to the floor. */
static void lower_mtu(cdtls_conn *c, const cdtls_addr *peer, uint32_t path_mtu)
{
    size_t hdr = peer->ip.family == 6 ? 48u : 28u;
    size_t floor = peer->ip.family == 6 ? MTU_FLOOR_V6 : MTU_FLOOR_V4;
    size_t want = path_mtu > hdr ? path_mtu - hdr : floor;
    if (want < floor) want = floor;
    if (want < cdtls_conn_mtu(c)) (void)cdtls_conn_set_mtu(c, want);
}

/* Queues the datagram that lies at t->buf + t->used (len bytes). */
static void tx_add(tx_batch *t, size_t len, const cdtls_addr *to, const cdtls_oob *oob, const uint8_t *raw,
                   size_t raw_len)
{
    cdtls_io_msg *m = &t->msgs[t->n++];
    memset(m, 0, sizeof *m);
    m->buf = t->buf + t->used;
    m->len = len;
    m->addr = *to;
    if (oob) {
        unsigned need = io_oob_send_caps(oob);
        if ((cdtls_io_caps(t->io) & need) == need) m->oob = *oob;
    }
    m->raw = (uint8_t *)(uintptr_t)raw; /* only read: the batch sends it */
    m->raw_len = raw_len;
    t->used += len;
}

/* RFC 9853 (return routability): the engine compares addresses bytewise,
 * so it gets them in a canonical form without the struct's padding. */
#define PATH_KEY_LEN 23u
static void path_key(const cdtls_addr *a, uint8_t k[PATH_KEY_LEN])
{
    k[0] = a->ip.family;
    memcpy(k + 1, a->ip.addr, 16);
    k[17] = (uint8_t)(a->port >> 8);
    k[18] = (uint8_t)a->port;
    for (int i = 0; i < 4; i++) k[19 + i] = (uint8_t)(a->scope_id >> (24 - 8 * i));
}

static int path_unkey(const void *key, size_t len, cdtls_addr *a)
{
    const uint8_t *k = key;
    if (!k || len != PATH_KEY_LEN) return 0;
    memset(a, 0, sizeof *a);
    a->ip.family = k[0];
    memcpy(a->ip.addr, k + 1, 16);
    a->port = (uint16_t)(k[17] << 8 | k[18]);
    a->scope_id = (uint32_t)k[19] << 24 | (uint32_t)k[20] << 16 | (uint32_t)k[21] << 8 | k[22];
    return 1;
}

/* Sends what the engine queued, as one batch (more if it does not fit
 * one), each datagram with its own OOB; raw (the caller's native control
 * bytes) rides every one of them. While a listener step holds the batch,
 * only queues (raw is then always NULL: only the application's
 * write_oob passes it, never from inside a step). */
static int flush(cdtls_sock *s, const uint8_t *raw, size_t raw_len)
{
    tx_batch *t = s->tx;
    for (;;) {
        if (t->n == TX_MSGS) {
            int rc = tx_send(t);
            if (rc) return rc;
        }
        size_t n, to_len;
        cdtls_oob oob;
        const void *to;
        cdtls_addr dest;
        /* a path_challenge goes to the address being checked (RFC 9853) */
        int rc = cdtls_conn_next_datagram_path(s->conn, t->buf + t->used, DGRAM_MAX - t->used, &n, &oob, &to,
                                               &to_len);
        if (rc == CDTLS_ERR_WOULD_BLOCK) break;
        if (rc == CDTLS_ERR_BUFFER_TOO_SMALL && t->n > 0) {
            /* the rest of the buffer is too short for it: send, and it goes
             * first in the emptied buffer (no datagram exceeds DGRAM_MAX) */
            rc = tx_send(t);
            if (rc) return rc;
            continue;
        }
        if (rc) return rc;
        tx_add(t, n, path_unkey(to, to_len, &dest) ? &dest : &s->peer, oob.flags ? &oob : NULL, raw, raw_len);
    }
    return t->hold ? CDTLS_OK : tx_send(t);
}

static void tx_hold(tx_batch *t)
{
    t->hold++;
}

static void tx_release(tx_batch *t)
{
    if (--t->hold == 0) (void)tx_send(t); /* as before batching: send errors here were ignored */
}

/* A batch of slots receive buffers: NULL bufs when the allocation failed. */
static void rx_setup(rx_batch *r, const cdtls_allocator *a, size_t slots)
{
    memset(r, 0, sizeof *r);
    r->bufs = a->alloc(a->ctx, slots * DGRAM_MAX);
    if (!r->bufs) return;
    r->slots = slots;
    for (size_t i = 0; i < slots; i++) {
        r->msgs[i].buf = r->bufs + i * DGRAM_MAX;
        r->msgs[i].cap = DGRAM_MAX;
        r->msgs[i].raw = r->raw[i];
        r->msgs[i].raw_cap = sizeof r->raw[i];
    }
}

/* Only ciphertext went through them (no wipe: that would make every page
 * of every slot resident just to free it). */
static void rx_teardown(rx_batch *r, const cdtls_allocator *a)
{
    if (r->bufs) a->free(a->ctx, r->bufs, r->slots * DGRAM_MAX);
    r->bufs = NULL;
}

static size_t rx_slots_for(const cdtls_io_socket *io, size_t want)
{
    return (cdtls_io_caps(io) & CDTLS_IO_CAP_RECV_BATCH) ? want : 1;
}

/* Moves decrypted records into the socket's queue with the OOB and raw
 * control bytes of the datagram they came in. */
static void collect(cdtls_sock *s, const uint8_t *raw, size_t raw_len)
{
    uint8_t *buf = s->scratch;
    size_t n;
    cdtls_oob oob;
    while (cdtls_conn_read(s->conn, buf, DGRAM_MAX, &n, &oob) == CDTLS_OK) {
        if (s->rx_count >= RX_MAX) continue; /* reader not keeping up: drop */
        rx_item *it = s->a->alloc(s->a->ctx, sizeof *it + n);
        if (!it) continue;
        memset(it, 0, sizeof *it);
        it->len = n;
        it->oob = oob;
        if (raw_len <= sizeof it->raw) {
            memcpy(it->raw, raw, raw_len);
            it->raw_len = raw_len;
        }
        if (n) memcpy(it->data, buf, n);
        if (s->rx_tail)
            s->rx_tail->next = it;
        else
            s->rx_head = it;
        s->rx_tail = it;
        s->rx_count++;
    }
}

static void deliver(cdtls_sock *s, const uint8_t *d, size_t n, const cdtls_oob *oob, const uint8_t *raw,
                    size_t raw_len)
{
    uint64_t now = cdtls_io_now_ms();
    uint8_t key[PATH_KEY_LEN];
    path_key(&s->peer, key);
    const cdtls_path from = {key, sizeof key, 0};
    (void)cdtls_conn_recv_path(s->conn, d, n, oob, &from, now);
    if (cdtls_conn_recv_advanced(s->conn)) s->heard_ms = now;
    collect(s, raw, raw_len);
    (void)flush(s, NULL, 0);
}

static void fire_timer(cdtls_sock *s)
{
    uint64_t now = cdtls_io_now_ms();
    if (cdtls_conn_timeout(s->conn) <= now) {
        (void)cdtls_conn_on_timeout(s->conn, now);
        (void)flush(s, NULL, 0);
    }
}

/* Milliseconds until the connection's timer, capped by what is left. */
static int wait_budget(const cdtls_conn *c, uint64_t deadline, int forever)
{
    uint64_t now = cdtls_io_now_ms();
    uint64_t t = cdtls_conn_timeout(c);
    uint64_t until = forever ? UINT64_MAX : deadline;
    if (t < until) until = t;
    if (until == UINT64_MAX) return 1000; /* wake up now and then anyway */
    return until > now ? (int)(until - now > 1000 ? 1000 : until - now) : 0;
}

static void rx_free_all(cdtls_sock *s)
{
    while (s->rx_head) {
        rx_item *it = s->rx_head;
        s->rx_head = it->next;
        cdtls_free_wipe(s->a, it, sizeof *it + it->len);
    }
    s->rx_tail = NULL;
    s->rx_count = 0;
}

static void restart_detach(cdtls_sock *s);

static void sock_free(cdtls_sock *s)
{
    restart_detach(s);
    rx_free_all(s);
    cdtls_conn_free(s->conn);
    if (!s->l) {
        cdtls_io_close(&s->own_io);
        if (s->scratch) cdtls_free_wipe(s->a, s->scratch, DGRAM_MAX); /* held plaintext */
        if (s->tx) cdtls_free_wipe(s->a, s->tx, sizeof *s->tx);
        if (s->rx) {
            rx_teardown(s->rx, s->a);
            cdtls_free_wipe(s->a, s->rx, sizeof *s->rx);
        }
    }
    cdtls_free_wipe(s->a, s, sizeof *s);
}

/* --------------------------------------------------------------- client */

/* One step of a client socket: wait for datagrams from the peer (all that
 * are queued, up to the batch) or the timer. Datagrams from other
 * addresses (the socket is connected, so the kernel drops them already),
 * and any too large for a slot, are ignored. */
static int client_step(cdtls_sock *s, int wait_ms)
{
    rx_batch *r = s->rx;
    size_t got = 0;
    int rc = cdtls_io_recv_batch(s->io, r->msgs, r->slots, &got, wait_ms);
    for (size_t i = 0; i < got; i++) {
        const cdtls_io_msg *m = &r->msgs[i];
        if (!m->truncated && same_addr(&m->addr, &s->peer))
            deliver(s, m->buf, m->len, &m->oob, m->raw, m->raw_len);
    }
    fire_timer(s);
    cdtls_io_event ev;
    for (unsigned i = 0;
         i < CDTLS_IO_EVENTS && cdtls_io_event_read(s->io, &s->io_events, &ev, NULL) == CDTLS_OK; i++)
        if (ev.kind == CDTLS_IO_EVENT_PATH_MTU && (ev.addr.ip.family == 0 || same_addr(&ev.addr, &s->peer)))
            lower_mtu(s->conn, &s->peer, ev.mtu);
    return rc == CDTLS_ERR_TIMEOUT || rc == CDTLS_ERR_WOULD_BLOCK ? CDTLS_OK : rc;
}

/* A client's socket and connection: from a shared context when ctx is
 * given, else from a context of the connection's own made from cfg. */
static int sock_dial(const cdtls_context *ctx, const cdtls_config *cfg, const cdtls_addr *peer,
                     int timeout_ms, cdtls_sock **out)
{
    const cdtls_allocator *a = alloc_of(cfg);
    cdtls_sock *s = cdtls_alloc_zero(a, sizeof *s);
    if (!s) return CDTLS_ERR_NOMEM;
    s->a = a;
    s->peer = *peer;
    s->io = &s->own_io;
    s->own_io.fd = (cdtls_socket_handle)-1;
    cdtls_addr any;
    memset(&any, 0, sizeof any);
    any.ip.family = peer->ip.family;
    int rc = cdtls_io_open(&s->own_io, &any, 0);
    /* A client talks to one peer: connected, its datagrams go without an
     * address (no route lookup per datagram in the kernel) and the kernel
     * drops datagrams from anyone else. Connected before anything is sent,
     * so nothing from elsewhere can be queued yet; client_step checks the
     * source all the same. The peer's address never changes on this side
     * (NAT rebinding moves the client's address, which the server follows). */
    if (!rc) rc = cdtls_io_connect(&s->own_io, peer);
    if (!rc) {
        s->scratch = a->alloc(a->ctx, DGRAM_MAX);
        s->tx = cdtls_alloc_zero(a, sizeof *s->tx);
        s->rx = a->alloc(a->ctx, sizeof *s->rx);
        if (s->rx) rx_setup(s->rx, a, rx_slots_for(&s->own_io, RX_SLOTS_CLIENT));
        if (!s->scratch || !s->tx || !s->rx || !s->rx->bufs) rc = CDTLS_ERR_NOMEM;
    }
    if (!rc) {
        s->tx->io = &s->own_io;
        s->tx->buf = s->scratch;
    }
    if (!rc && ctx) {
        rc = cdtls_conn_new_from(ctx, CDTLS_CLIENT, cdtls_io_now_ms(), &s->conn);
    } else if (!rc) {
        cdtls_config ccfg = with_clock(cfg);
        rc = cdtls_conn_new(&ccfg, CDTLS_CLIENT, cdtls_io_now_ms(), &s->conn);
    }
    if (!rc) {
        /* the session store's key when there is no server_name: the
         * address as text (no struct padding in it) */
        char key[64];
        if (cdtls_addr_format(peer, key, sizeof key) == CDTLS_OK)
            (void)cdtls_conn_set_peer_address(s->conn, key, strlen(key));
    }
    if (!rc) rc = cdtls_conn_start(s->conn, cdtls_io_now_ms());
    if (!rc) rc = flush(s, NULL, 0);
    uint64_t deadline = cdtls_io_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    while (!rc) {
        cdtls_conn_state st = cdtls_conn_get_state(s->conn);
        if (st == CDTLS_STATE_ESTABLISHED) break;
        if (st == CDTLS_STATE_FAILED || st == CDTLS_STATE_CLOSED) {
            rc = cdtls_conn_error(s->conn);
            if (!rc) rc = CDTLS_ERR_CLOSED;
            break;
        }
        if (timeout_ms >= 0 && cdtls_io_now_ms() >= deadline) {
            rc = CDTLS_ERR_TIMEOUT;
            break;
        }
        rc = client_step(s, wait_budget(s->conn, deadline, timeout_ms < 0));
    }
    if (rc) {
        sock_free(s);
        return rc;
    }
    *out = s;
    return CDTLS_OK;
}

int cdtls_sock_dial(const cdtls_config *cfg, const cdtls_addr *peer, int timeout_ms, cdtls_sock **out)
{
    if (!cfg || !peer || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    return sock_dial(NULL, cfg, peer, timeout_ms, out);
}

int cdtls_sock_dial_from(const cdtls_context *ctx, const cdtls_addr *peer, int timeout_ms, cdtls_sock **out)
{
    if (!ctx || !peer || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    return sock_dial(ctx, cdtls_context_config(ctx), peer, timeout_ms, out);
}

/* ------------------------------------------------------------- listener */

int listener_context_new(const cdtls_config *cfg, cdtls_context **out)
{
    cdtls_config c = with_clock(cfg);
    return cdtls_context_new(&c, out);
}

/* A listener alone (group NULL: it makes its context and cookie verifier)
 * or worker `index` of a group (sharing the group's ctx). */
static int listener_open(const cdtls_config *cfg, const cdtls_addr *bind, unsigned flags,
                         cdtls_worker_group *g, unsigned index, cdtls_context *shared, cdtls_listener **out)
{
    if (!cfg || !bind || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    const cdtls_allocator *a = alloc_of(cfg);
    cdtls_listener *l = cdtls_alloc_zero(a, sizeof *l);
    if (!l) return CDTLS_ERR_NOMEM;
    l->cfg = with_clock(cfg);
    l->a = a;
    l->backlog = cfg->listener.backlog ? cfg->listener.backlog : 16;
    l->max_peers = cfg->listener.max_peers ? cfg->listener.max_peers : 1024;
    l->group = g;
    l->worker = index;
    l->max_half_open_per_source = cfg->listener.max_half_open_per_source
                                      ? cfg->listener.max_half_open_per_source
                                      : CDTLS_LISTENER_HALF_OPEN_PER_SOURCE;
    l->hs_budget.max = cfg->listener.handshake_budget ? cfg->listener.handshake_budget
                                                      : CDTLS_LISTENER_HANDSHAKE_BUDGET;
    l->idle_timeout_ms = cfg->listener.idle_timeout_ms;
    int rc = cdtls_io_open(&l->io, bind, g ? flags | CDTLS_IO_REUSEPORT : flags);
    if (rc) {
        cdtls_free_wipe(a, l, sizeof *l);
        return rc;
    }
    l->scratch = a->alloc(a->ctx, DGRAM_MAX);
    l->tx.buf = a->alloc(a->ctx, DGRAM_MAX);
    l->tx.io = &l->io;
    rx_setup(&l->rx, a, rx_slots_for(&l->io, RX_SLOTS_LISTENER));
    rc = l->scratch && l->tx.buf && l->rx.bufs ? CDTLS_OK : CDTLS_ERR_NOMEM;
    if (g)
        l->ctx = shared;
    else if (!rc)
        rc = cdtls_context_new(&l->cfg, &l->ctx);
    if (!rc && !g) rc = cdtls_hello_verifier_new(cfg, cdtls_io_now_ms(), &l->hv);
    if (rc) {
        if (l->scratch) a->free(a->ctx, l->scratch, DGRAM_MAX);
        if (l->tx.buf) a->free(a->ctx, l->tx.buf, DGRAM_MAX);
        rx_teardown(&l->rx, a);
        if (!g) cdtls_context_free(l->ctx);
        cdtls_io_close(&l->io);
        cdtls_free_wipe(a, l, sizeof *l);
        return rc;
    }
    *out = l;
    return CDTLS_OK;
}

int cdtls_listener_open(const cdtls_config *cfg, const cdtls_addr *bind, unsigned flags, cdtls_listener **out)
{
    return listener_open(cfg, bind, flags, NULL, 0, NULL, out);
}

int listener_open_worker(const cdtls_config *cfg, cdtls_context *ctx, const cdtls_addr *bind,
                         unsigned io_flags, cdtls_worker_group *g, unsigned index, cdtls_listener **out)
{
    if (!ctx || !g) return CDTLS_ERR_INVALID_ARG;
    return listener_open(cfg, bind, io_flags, g, index, ctx, out);
}

int cdtls_listener_set_limits(cdtls_listener *l, unsigned backlog, unsigned max_peers)
{
    if (!l) return CDTLS_ERR_INVALID_ARG;
    l->backlog = backlog ? backlog : 16;
    l->max_peers = max_peers ? max_peers : 1024;
    return CDTLS_OK;
}

cdtls_io_socket *cdtls_listener_io(cdtls_listener *l)
{
    return l ? &l->io : NULL;
}

unsigned cdtls_listener_peer_count(const cdtls_listener *l)
{
    return l ? l->n_peers : 0;
}

static cdtls_sock *table_find(const cdtls_listener *l, const cdtls_addr *a)
{
    if (!l->table_size) return NULL;
    cdtls_sock *s = l->table[addr_hash(a) & (l->table_size - 1)];
    while (s && !same_addr(&s->peer, a)) s = s->hnext;
    return s;
}

static void table_remove(cdtls_listener *l, cdtls_sock *s)
{
    if (!l->table_size) return;
    for (cdtls_sock **pp = &l->table[addr_hash(&s->peer) & (l->table_size - 1)]; *pp; pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            s->hnext = NULL;
            return;
        }
}

/* Inserts s (by s->peer); grows the table first when it is getting long
 * chains. Fails only when the first table cannot be allocated. */
static int table_insert(cdtls_listener *l, cdtls_sock *s)
{
    if (l->table_size == 0 || l->n_peers >= 2 * l->table_size) {
        size_t size = l->table_size ? 2 * l->table_size : 64;
        cdtls_sock **t = cdtls_alloc_zero(l->a, size * sizeof *t);
        if (!t) {
            if (!l->table_size) return CDTLS_ERR_NOMEM;
        } else {
            for (size_t i = 0; i < l->table_size; i++)
                while (l->table[i]) {
                    cdtls_sock *e = l->table[i];
                    l->table[i] = e->hnext;
                    size_t b = addr_hash(&e->peer) & (size - 1);
                    e->hnext = t[b];
                    t[b] = e;
                }
            if (l->table_size) l->a->free(l->a->ctx, l->table, l->table_size * sizeof *l->table);
            l->table = t;
            l->table_size = size;
        }
    }
    size_t b = addr_hash(&s->peer) & (l->table_size - 1);
    s->hnext = l->table[b];
    l->table[b] = s;
    return CDTLS_OK;
}

static void unlink_peer(cdtls_listener *l, cdtls_sock *s)
{
    table_remove(l, s);
    l->n_peers--;
    if (s->accepted) return; /* accepted peers are no longer on the list */
    for (cdtls_sock **pp = &l->peers; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            if (s->queued) l->n_queued--;
            return;
        }
}

/* ------------------------------------------- handshakes in progress */

/* Issue 20: one host (or one network) flooding cookie-valid handshakes must
 * not lock others out. The cookie proves only that the sender receives at
 * its address, so a host with many ports can fill any table. Peers whose
 * handshake is in progress are therefore limited per source prefix (IPv4
 * /24, IPv6 /64: what one host or one site usually holds), and when the
 * table is full a newcomer takes the place of the oldest handshake in
 * progress; established peers, accepted or waiting to be, are never given
 * up for a newcomer (docs/security.md). */
static int same_prefix(const cdtls_addr *x, const cdtls_addr *y)
{
    if (x->ip.family != y->ip.family) return 0;
    return memcmp(x->ip.addr, y->ip.addr, x->ip.family == 6 ? 8 : 3) == 0;
}

static int half_open(const cdtls_sock *s)
{
    return !s->accepted && !s->queued && cdtls_conn_get_state(s->conn) == CDTLS_STATE_HANDSHAKING;
}

/* A listener event about peer s (conn NULL: about a datagram from `from`). */
static void listener_observe(cdtls_listener *l, const cdtls_addr *from, const cdtls_conn *c,
                             cdtls_event_kind kind)
{
    if (!l->observer) return;
    cdtls_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    l->observer(l->observer_user, from, c, &ev);
}

/* A peer's connection events, with its address (the current one: a CID
 * peer may have moved). */
static void peer_observe(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    const cdtls_sock *s = user;
    if (s->l && s->l->observer) s->l->observer(s->l->observer_user, &s->peer, c, ev);
}

int cdtls_listener_set_observer(cdtls_listener *l, cdtls_listener_observer fn, void *user)
{
    if (!l) return CDTLS_ERR_INVALID_ARG;
    l->observer = fn;
    l->observer_user = fn ? user : NULL;
    return CDTLS_OK;
}

static void evict(cdtls_listener *l, cdtls_sock **pp)
{
    cdtls_sock *s = *pp;
    listener_observe(l, &s->peer, s->conn, CDTLS_EVENT_EVICTED);
    *pp = s->next;
    table_remove(l, s);
    l->n_peers--;
    sock_free(s);
}

/* Makes room for a new handshake from `from`; 0 if there is none (the
 * table holds only established peers). The list of peers is newest first,
 * so the last match is the oldest. */
static int admit_half_open(cdtls_listener *l, const cdtls_addr *from)
{
    unsigned from_source = 0;
    cdtls_sock **oldest = NULL, **oldest_from_source = NULL;
    for (cdtls_sock **pp = &l->peers; *pp; pp = &(*pp)->next) {
        if (!half_open(*pp)) continue;
        oldest = pp;
        if (same_prefix(&(*pp)->peer, from)) {
            from_source++;
            oldest_from_source = pp;
        }
    }
    if (from_source >= l->max_half_open_per_source) {
        evict(l, oldest_from_source);
        return 1;
    }
    if (l->n_peers < l->max_peers) return 1;
    if (!oldest) return 0;
    evict(l, oldest);
    return 1;
}

static cdtls_sock *make_peer(cdtls_listener *l, const cdtls_addr *from);

/* The stateless cookie check (RFC 6347 §4.2.1), by the listener's verifier
 * or its worker group's: 1 for a ClientHello with a valid cookie; 0 when a
 * ClientHello without one was answered with a HelloVerifyRequest or a
 * HelloRetryRequest, or its fragments were kept for reassembly
 * (hello_verifier.c); -1 for anything else (no ClientHello fragment, a bad
 * cookie). The reply is written straight into the outgoing batch: a flood
 * of ClientHellos is answered a batch at a time. On 1, *hello may be the
 * whole hello the verifier reassembled from earlier datagrams (release it
 * with hello_release). */
static int cookie_step(cdtls_listener *l, const cdtls_addr *from, const uint8_t *d, size_t n, uint8_t **hello,
                       size_t *hello_len)
{
    tx_batch *t = &l->tx;
    if (t->n == TX_MSGS || DGRAM_MAX - t->used < HVR_MAX) (void)tx_send(t);
    size_t reply_len = 0;
    uint64_t now = cdtls_io_now_ms();
    int rc = l->group
                 ? worker_cookie_check(l->group, from, d, n, now, t->buf + t->used, HVR_MAX, &reply_len,
                                       hello, hello_len)
                 : cdtls_hello_verifier_check_full(l->hv, from, sizeof *from, d, n, now, t->buf + t->used,
                                                   HVR_MAX, &reply_len, hello, hello_len);
    if (rc == CDTLS_ERR_WOULD_BLOCK) {
        if (!reply_len) return 0; /* fragments held, nothing to say yet */
        tx_add(t, reply_len, from, l->cfg.oob.handshake.flags ? &l->cfg.oob.handshake : NULL, NULL, 0);
        if (!t->hold) (void)tx_send(t);
        listener_observe(l, from, NULL, CDTLS_EVENT_HELLO_VERIFY_SENT);
        return 0;
    }
    return rc == CDTLS_OK ? 1 : -1;
}

static void hello_release(cdtls_listener *l, uint8_t *hello, size_t hello_len)
{
    if (!hello) return;
    if (l->group)
        worker_hello_release(l->group, hello, hello_len);
    else
        cdtls_hello_verifier_release(l->hv, hello, hello_len);
}

/* A new connection's first input: the whole hello the verifier reassembled
 * (RFC 9147 §5.5: its fragments came in earlier datagrams, now gone) in
 * place of the datagram that completed it, else that datagram. */
static void deliver_first(cdtls_sock *s, const uint8_t *d, size_t n, const cdtls_oob *oob, uint8_t *hello,
                          size_t hello_len)
{
    if (hello)
        deliver(s, hello, hello_len, oob, NULL, 0);
    else
        deliver(s, d, n, oob, NULL, 0);
}

/* A datagram from an address with no connection: the stateless cookie check
 * first (RFC 6347 §4.2.1); only a ClientHello (or its start) with a valid
 * cookie makes a connection, which it returns (NULL otherwise). *whole: the
 * connection was given the whole hello (its earlier datagrams are not
 * needed). */
static cdtls_sock *new_peer(cdtls_listener *l, const cdtls_addr *from, const uint8_t *d, size_t n,
                            const cdtls_oob *oob, int *whole)
{
    uint8_t *hello = NULL;
    size_t hello_len = 0;
    *whole = 0;
    if (cookie_step(l, from, d, n, &hello, &hello_len) != 1 || !admit_half_open(l, from)) {
        hello_release(l, hello, hello_len);
        return NULL;
    }
    cdtls_sock *s = make_peer(l, from);
    if (s && table_insert(l, s) != CDTLS_OK) {
        l->peers = s->next; /* make_peer put it first */
        s->next = NULL;
        l->n_peers--;
        sock_free(s);
        s = NULL;
    }
    if (s) deliver_first(s, d, n, oob, hello, hello_len);
    *whole = hello != NULL;
    hello_release(l, hello, hello_len);
    return s;
}

/* A peer for `from`, whose cookie was just verified: on the list of peers
 * in progress, counted, not yet in the address table. */
static cdtls_sock *make_peer(cdtls_listener *l, const cdtls_addr *from)
{
    cdtls_sock *s = cdtls_alloc_zero(l->a, sizeof *s);
    if (!s) return NULL;
    s->a = l->a;
    s->peer = *from;
    s->io = &l->io;
    s->l = l;
    s->scratch = l->scratch;
    s->tx = &l->tx;
    if (cdtls_conn_new_from(l->ctx, CDTLS_SERVER, cdtls_io_now_ms(), &s->conn) != CDTLS_OK) {
        cdtls_free_wipe(l->a, s, sizeof *s);
        return NULL;
    }
    (void)cdtls_conn_set_peer_address(s->conn, from, sizeof *from);
    (void)cdtls_conn_set_cookie_verified(s->conn);
    if (l->group) worker_conn_setup(l->group, l->worker, s->conn);
    (void)cdtls_conn_share_handshake_budget(s->conn, &l->hs_budget);
    if (l->observer) (void)cdtls_conn_set_observer(s->conn, peer_observe, s);
    s->next = l->peers;
    l->peers = s;
    l->n_peers++;
    return s;
}

/* ------------------------------------------------ a client that restarted */

/* 1 if d starts with a plaintext (epoch 0) record holding a ClientHello. */
static int epoch0_client_hello(const uint8_t *d, size_t n)
{
    /* record header: type(1) version(2) epoch(2) seq(6) length(2); then the
     * handshake header's type */
    return n >= 13 + 12 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

/* The links between a peer and the new handshake from its address go with
 * either. When the old peer goes first, the new one takes its place in the
 * address table. */
static void restart_detach(cdtls_sock *s)
{
    if (s->predecessor) s->predecessor->successor = NULL;
    if (s->successor) {
        cdtls_sock *next = s->successor;
        next->predecessor = NULL;
        s->successor = NULL;
        if (s->l && !table_find(s->l, &next->peer)) (void)table_insert(s->l, next);
    }
    s->predecessor = NULL;
}

/* A datagram from the address of peer s. RFC 6347 §4.2.8: an epoch-0
 * ClientHello to an established connection is a client that lost its state
 * (a reboot keeps the port on CoAP and LwM2M devices) or a forgery. With a
 * valid cookie it starts a new handshake beside the old connection, which
 * keeps working until the new one completes (finish_restart). Until then
 * plaintext goes to the new handshake, and a protected record to the old
 * connection first, then to the new one if the old did not take it. */
static void deliver_known(cdtls_listener *l, cdtls_sock *s, const cdtls_io_msg *m)
{
    cdtls_sock *next = s->successor;
    int epoch0 = m->len >= 5 && m->buf[3] == 0 && m->buf[4] == 0 && m->buf[0] != 25 /* tls12_cid */;
    if (epoch0 && epoch0_client_hello(m->buf, m->len) &&
        cdtls_conn_get_state(s->conn) != CDTLS_STATE_HANDSHAKING) {
        uint8_t *hello = NULL;
        size_t hello_len = 0;
        int cookie = cookie_step(l, &m->addr, m->buf, m->len, &hello, &hello_len);
        if (cookie == 0) return; /* answered with a HelloVerifyRequest, or held */
        if (cookie == 1) {
            /* a new handshake, also when one is under way already: the
             * client restarted again (or retransmits its hello), and the
             * earlier attempt must not hold the address until it times out */
            if (next) {
                unlink_peer(l, next);
                sock_free(next);
            }
            if (admit_half_open(l, &m->addr) && (next = make_peer(l, &m->addr)) != NULL) {
                s->successor = next;
                next->predecessor = s;
                if (hello)
                    deliver_first(next, m->buf, m->len, &m->oob, hello, hello_len);
                else
                    deliver(next, m->buf, m->len, &m->oob, m->raw, m->raw_len);
            }
            hello_release(l, hello, hello_len);
            return;
        }
    }
    if (next && epoch0) { /* the rest of the new handshake's first flight, and its next */
        deliver(next, m->buf, m->len, &m->oob, m->raw, m->raw_len);
        return;
    }
    deliver(s, m->buf, m->len, &m->oob, m->raw, m->raw_len);
    if (next && !cdtls_conn_recv_advanced(s->conn))
        deliver(next, m->buf, m->len, &m->oob, m->raw, m->raw_len);
}

/* The new handshake from a restarted client's address completed: it takes
 * the old connection's place. An accepted old connection is told (its
 * reads return CDTLS_ERR_PEER_RESTARTED); one not yet accepted is freed. */
static void finish_restart(cdtls_listener *l, cdtls_sock *next)
{
    cdtls_sock *old = next->predecessor;
    old->successor = NULL;
    next->predecessor = NULL;
    table_remove(l, old);
    (void)table_insert(l, next); /* the table exists: it held old */
    if (old->accepted) {
        old->replaced = 1;
        return;
    }
    unlink_peer(l, old);
    sock_free(old);
}

/* Established peers from which nothing authentic came for
 * cfg.listener.idle_timeout_ms leave the table (their address is free for
 * a new handshake); an accepted one's reads then return CDTLS_ERR_IDLE,
 * one not yet accepted is freed. The table is scanned once a second. */
static void expire_idle(cdtls_listener *l)
{
    uint64_t now = cdtls_io_now_ms();
    if (!l->idle_timeout_ms || now < l->idle_scan_ms) return;
    l->idle_scan_ms = now + 1000;
    for (size_t i = 0; i < l->table_size; i++) {
        cdtls_sock *s = l->table[i];
        while (s) {
            cdtls_sock *after = s->hnext;
            if (!s->heard_ms) s->heard_ms = now; /* first seen here: idle from now */
            if (cdtls_conn_get_state(s->conn) != CDTLS_STATE_HANDSHAKING && !s->successor &&
                now - s->heard_ms >= l->idle_timeout_ms) {
                listener_observe(l, &s->peer, s->conn, CDTLS_EVENT_IDLE);
                if (s->accepted) {
                    table_remove(l, s);
                    s->idle_expired = 1;
                } else {
                    unlink_peer(l, s);
                    sock_free(s);
                }
            }
            s = after;
        }
    }
}

/* A peer that finished its handshake, sent data and closed before it was
 * accepted: in DTLS 1.3 the client's Finished, its first records and its
 * close_notify can all arrive in one batch (the server completes last), so
 * the connection is closed when the listener first sees it established.
 * What it sent is still handed to the application, then the close. */
static int closed_with_data(const cdtls_sock *s)
{
    return s->rx_head != NULL; /* collect() moved what arrived into the socket's queue */
}

/* Timers, failed handshakes, and peers that just finished their handshake.
 * The retransmissions of all peers go out as one batch. */
static void housekeeping(cdtls_listener *l)
{
    tx_hold(&l->tx);
    cdtls_sock **pp = &l->peers;
    while (*pp) {
        cdtls_sock *s = *pp;
        fire_timer(s);
        cdtls_conn_state st = cdtls_conn_get_state(s->conn);
        if (st == CDTLS_STATE_FAILED || (st == CDTLS_STATE_CLOSED && !closed_with_data(s))) {
            *pp = s->next; /* never accepted (the list holds no other): nobody holds it */
            table_remove(l, s);
            l->n_peers--;
            if (s->queued) l->n_queued--;
            sock_free(s);
            continue;
        }
        if (st == CDTLS_STATE_ESTABLISHED && s->predecessor) finish_restart(l, s);
        if (!s->queued && (st == CDTLS_STATE_ESTABLISHED || st == CDTLS_STATE_CLOSED)) {
            if (l->n_queued < l->backlog) {
                s->queued = 1;
                l->n_queued++;
            }
        }
        pp = &s->next;
    }
    expire_idle(l);
    tx_release(&l->tx);
}

static int listener_wait_ms(const cdtls_listener *l, uint64_t deadline, int forever)
{
    uint64_t now = cdtls_io_now_ms(), until = forever ? UINT64_MAX : deadline;
    for (const cdtls_sock *s = l->peers; s; s = s->next) {
        uint64_t t = cdtls_conn_timeout(s->conn);
        if (t < until) until = t;
    }
    if (until == UINT64_MAX) return 1000;
    return until > now ? (int)(until - now > 1000 ? 1000 : until - now) : 0;
}

/* RFC 9146: a datagram from an address no peer has, carrying a connection
 * ID one of our peers issued, belongs to that peer (its NAT rebound). The
 * peer moves to the new address only if the datagram authenticated a
 * record newer than any before (RFC 9146 §6), so a replayed or forged
 * datagram cannot steer its traffic. */
static cdtls_sock *peer_by_cid(cdtls_listener *l, const uint8_t *d, size_t n)
{
    /* Only peers of a listener that hands out CIDs can have one: without a
     * generator, a datagram from a new address is not looked for here. */
    if (!l->cfg.callbacks.cid_generator && !l->cfg.cid.length && !l->group) return NULL;
    for (size_t i = 0; i < l->table_size; i++)
        for (cdtls_sock *s = l->table[i]; s; s = s->hnext) {
            /* the length of this peer's CIDs: the header of a DTLS 1.3
             * record does not carry it (RFC 9147 §4); the CID may be any
             * it was handed (the handshake's or a NewConnectionId's) */
            size_t len;
            const uint8_t *own = cdtls_conn_own_cid(s->conn, &len), *cid;
            if (own && len && cdtls_datagram_cid(d, n, len, &cid) &&
                cdtls_conn_cid_is_ours(s->conn, cid, len))
                return s;
        }
    return NULL;
}

static void deliver_rebound(cdtls_sock *s, const cdtls_addr *from, const uint8_t *d, size_t n,
                            const cdtls_oob *oob, const uint8_t *raw, size_t raw_len)
{
    uint8_t key[PATH_KEY_LEN];
    path_key(from, key);
    const cdtls_path path = {key, sizeof key, 0};
    (void)cdtls_conn_recv_path(s->conn, d, n, oob, &path, cdtls_io_now_ms());
    cdtls_addr to = *from;
    /* With RRC (RFC 9853) the peer moves once the engine validated the
     * new address (path_response from there), not on the record itself;
     * meanwhile only path_challenges go there (flush). Without it, RFC
     * 9146 §6: on an authenticated record newer than all before. */
    const int move = cdtls_conn_uses_rrc(s->conn)
                         ? path_unkey(cdtls_conn_path_address(s->conn, NULL), PATH_KEY_LEN, &to) &&
                               !same_addr(&to, &s->peer)
                         : cdtls_conn_recv_advanced(s->conn);
    if (move) {
        table_remove(s->l, s);
        s->peer = to;
        (void)table_insert(s->l, s); /* the table exists: it holds s */
        (void)cdtls_conn_set_peer_address(s->conn, &to, sizeof to);
    }
    collect(s, raw, raw_len);
    (void)flush(s, NULL, 0);
}

/* A connection was just made from datagram `made` of the batch (the first
 * fragment of a ClientHello with a valid cookie). The peer's datagrams
 * before it in the same batch went to the stateless check, which keeps
 * nothing: fragments of that hello that overtook its first one are among
 * them. The connection gets them now, in their order, instead of waiting
 * for the client to retransmit its flight (RFC 6347 §4.2.3: fragments may
 * come in any order). Stale copies of the first hello are ignored by it. */
static void redeliver_earlier(cdtls_sock *s, const rx_batch *r, size_t made)
{
    for (size_t j = 0; j < made; j++) {
        const cdtls_io_msg *m = &r->msgs[j];
        if (!m->truncated && same_addr(&m->addr, &s->peer))
            deliver(s, m->buf, m->len, &m->oob, m->raw, m->raw_len);
    }
}

/* Reads the datagrams that are queued (or waits for one, or a timer) and
 * gives each, in the order they came, to its peer; what they make the
 * peers send goes out together when the step ends. A datagram larger than
 * a slot (DGRAM_MAX) cannot be a whole one and is ignored. */
/* A worker's datagrams that other workers received (CID records whose CID
 * names this one: steering is off or unavailable), in the order they were
 * handed over. They are CID records, so never a new peer. */
static void take_hand_offs(cdtls_listener *l)
{
    worker_item *it = worker_take(l->group, l->worker);
    while (it) {
        worker_item *next = it->next;
        cdtls_sock *s = table_find(l, &it->from);
        if (s)
            deliver(s, it->data, it->len, &it->oob, it->raw, it->raw_len);
        else if ((s = peer_by_cid(l, it->data, it->len)) != NULL)
            deliver_rebound(s, &it->from, it->data, it->len, &it->oob, it->raw, it->raw_len);
        worker_item_free(l->group, it);
        it = next;
    }
}

static int listener_step(cdtls_listener *l, int wait_ms)
{
    rx_batch *r = &l->rx;
    size_t got = 0;
    if (l->group) wait_ms = worker_wait(l->group, l->worker, &l->io, wait_ms);
    int rc = cdtls_io_recv_batch(&l->io, r->msgs, r->slots, &got, wait_ms);
    tx_hold(&l->tx);
    if (l->group) take_hand_offs(l);
    for (size_t i = 0; i < got; i++) {
        const cdtls_io_msg *m = &r->msgs[i];
        if (m->truncated) continue;
        cdtls_sock *s = table_find(l, &m->addr);
        int to, whole;
        if (s)
            deliver_known(l, s, m);
        else if (l->group && (to = worker_route(l->group, l->worker, m->buf, m->len)) >= 0)
            worker_hand_off(l->group, l->worker, (unsigned)to, m);
        else if ((s = peer_by_cid(l, m->buf, m->len)) != NULL)
            deliver_rebound(s, &m->addr, m->buf, m->len, &m->oob, m->raw, m->raw_len);
        else if ((s = new_peer(l, &m->addr, m->buf, m->len, &m->oob, &whole)) != NULL && !whole)
            redeliver_earlier(s, r, i);
    }
    housekeeping(l);
    tx_release(&l->tx);
    /* path MTU reports name the peer they concern (the error queue gives
     * the destination): that peer's connection follows */
    cdtls_io_event ev;
    for (unsigned i = 0;
         i < CDTLS_IO_EVENTS && cdtls_io_event_read(&l->io, &l->io_events, &ev, NULL) == CDTLS_OK; i++) {
        cdtls_sock *s = ev.kind == CDTLS_IO_EVENT_PATH_MTU && ev.addr.ip.family ? table_find(l, &ev.addr)
                                                                                : NULL;
        if (s) lower_mtu(s->conn, &s->peer, ev.mtu);
    }
    return rc == CDTLS_ERR_TIMEOUT || rc == CDTLS_ERR_WOULD_BLOCK ? CDTLS_OK : rc;
}

int cdtls_listener_accept(cdtls_listener *l, int timeout_ms, cdtls_sock **out)
{
    if (!l || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    uint64_t deadline = cdtls_io_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    for (int stepped = 0;; stepped = 1) {
        housekeeping(l);
        for (cdtls_sock **pp = &l->peers; *pp; pp = &(*pp)->next)
            if ((*pp)->queued) {
                cdtls_sock *s = *pp;
                *pp = s->next; /* accepted peers leave the list (they stay in the table) */
                s->next = NULL;
                s->accepted = 1;
                l->n_queued--;
                *out = s;
                return CDTLS_OK;
            }
        /* timeout 0 still polls the socket once */
        if (stepped && timeout_ms >= 0 && cdtls_io_now_ms() >= deadline)
            return timeout_ms == 0 ? CDTLS_ERR_WOULD_BLOCK : CDTLS_ERR_TIMEOUT;
        int rc = listener_step(l, timeout_ms == 0 ? 0 : listener_wait_ms(l, deadline, timeout_ms < 0));
        if (rc) return rc;
    }
}

static void listener_free(cdtls_listener *l);

void cdtls_listener_close(cdtls_listener *l)
{
    /* a worker's listener is closed with its group */
    if (l && !l->group) listener_free(l);
}

void listener_close_worker(cdtls_listener *l)
{
    if (l) listener_free(l);
}

static void listener_free(cdtls_listener *l)
{
    while (l->peers) {
        cdtls_sock *s = l->peers;
        l->peers = s->next;
        table_remove(l, s);
        sock_free(s);
    }
    if (l->table_size) l->a->free(l->a->ctx, l->table, l->table_size * sizeof *l->table);
    cdtls_hello_verifier_free(l->hv);
    if (!l->group) cdtls_context_free(l->ctx); /* after every peer's connection */
    cdtls_io_close(&l->io);
    l->a->free(l->a->ctx, l->tx.buf, DGRAM_MAX); /* ciphertext and cookies only */
    rx_teardown(&l->rx, l->a);
    cdtls_free_wipe(l->a, l->scratch, DGRAM_MAX); /* held plaintext */
    cdtls_free_wipe(l->a, l, sizeof *l);
}

/* ------------------------------------------------------- read and write */

static int sock_step(cdtls_sock *s, int wait_ms)
{
    if (!s->l) return client_step(s, wait_ms);
    int rc = listener_step(s->l, wait_ms);
    /* an accepted peer is in no list the listener's housekeeping walks:
     * its own timer (RFC 9853 §5.5, a return routability check's T and
     * repeats) fires here */
    fire_timer(s);
    return rc;
}

static int sock_wait_ms(cdtls_sock *s, uint64_t deadline, int forever)
{
    if (!s->l) return wait_budget(s->conn, deadline, forever);
    int l = listener_wait_ms(s->l, deadline, forever), own = wait_budget(s->conn, deadline, forever);
    return own < l ? own : l;
}

/* Waits until a record is queued; returns its item (still queued). */
static int wait_record(cdtls_sock *s, int timeout_ms, rx_item **it)
{
    uint64_t deadline = cdtls_io_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    for (int stepped = 0;; stepped = 1) {
        if (s->rx_head) {
            *it = s->rx_head;
            return CDTLS_OK;
        }
        if (s->replaced) return CDTLS_ERR_PEER_RESTARTED;
        if (s->idle_expired) return CDTLS_ERR_IDLE;
        cdtls_conn_state st = cdtls_conn_get_state(s->conn);
        if (st == CDTLS_STATE_FAILED) return cdtls_conn_error(s->conn);
        if (st == CDTLS_STATE_CLOSED) return CDTLS_ERR_CLOSED;
        if (stepped && timeout_ms >= 0 && cdtls_io_now_ms() >= deadline)
            return timeout_ms == 0 ? CDTLS_ERR_WOULD_BLOCK : CDTLS_ERR_TIMEOUT;
        int rc = sock_step(s, timeout_ms == 0 ? 0 : sock_wait_ms(s, deadline, timeout_ms < 0));
        if (rc) return rc;
    }
}

static void pop_record(cdtls_sock *s)
{
    rx_item *it = s->rx_head;
    s->rx_head = it->next;
    if (!s->rx_head) s->rx_tail = NULL;
    s->rx_count--;
    cdtls_free_wipe(s->a, it, sizeof *it + it->len);
}

int cdtls_sock_read(cdtls_sock *s, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob, int timeout_ms)
{
    if (!s || !len || (!buf && cap)) return CDTLS_ERR_INVALID_ARG;
    rx_item *it;
    int rc = wait_record(s, timeout_ms, &it);
    if (rc) return rc;
    if (it->len > cap) return CDTLS_ERR_BUFFER_TOO_SMALL;
    if (it->len) memcpy(buf, it->data, it->len);
    *len = it->len;
    if (oob) *oob = it->oob;
    pop_record(s);
    return CDTLS_OK;
}

int cdtls_sock_read_oob(cdtls_sock *s, uint8_t *buf, size_t cap, size_t *len, uint8_t *oob, size_t oob_cap,
                        size_t *oob_len, int timeout_ms)
{
    if (!s || !len || (!buf && cap) || (!oob && oob_cap) || !oob_len) return CDTLS_ERR_INVALID_ARG;
    rx_item *it;
    int rc = wait_record(s, timeout_ms, &it);
    if (rc) return rc;
    if (it->len > cap || it->raw_len > oob_cap) return CDTLS_ERR_BUFFER_TOO_SMALL;
    if (it->len) memcpy(buf, it->data, it->len);
    if (it->raw_len) memcpy(oob, it->raw, it->raw_len);
    *len = it->len;
    *oob_len = it->raw_len;
    pop_record(s);
    return CDTLS_OK;
}

int cdtls_sock_write(cdtls_sock *s, const uint8_t *data, size_t len, const cdtls_oob *oob)
{
    if (!s) return CDTLS_ERR_INVALID_ARG;
    /* Refuse up front what the socket cannot carry: never a silent downgrade
     * of a marking the application asked for. */
    unsigned need = io_oob_send_caps(oob);
    if ((cdtls_io_caps(s->io) & need) != need) return CDTLS_ERR_OOB_UNSUPPORTED;
    int rc = flush(s, NULL, 0); /* earlier datagrams keep their own OOB */
    if (!rc) rc = cdtls_conn_write(s->conn, data, len, oob);
    if (!rc) rc = flush(s, NULL, 0);
    return rc;
}

int cdtls_sock_write_many(cdtls_sock *s, const cdtls_sock_record *recs, size_t n, size_t *written)
{
    if (written) *written = 0;
    if (!s || (!recs && n)) return CDTLS_ERR_INVALID_ARG;
    /* All checks before the first record, so a refusal sends nothing. */
    unsigned caps = cdtls_io_caps(s->io);
    size_t max = cdtls_conn_max_write(s->conn); /* 0 before the handshake: the write says so */
    for (size_t i = 0; i < n; i++) {
        if (!recs[i].data && recs[i].len) return CDTLS_ERR_INVALID_ARG;
        unsigned need = io_oob_send_caps(&recs[i].oob);
        if ((caps & need) != need) return CDTLS_ERR_OOB_UNSUPPORTED;
        if (max && recs[i].len > max) return CDTLS_ERR_RECORD_TOO_LARGE;
    }
    int rc = flush(s, NULL, 0); /* earlier datagrams keep their own OOB */
    size_t k = 0;
    while (!rc && k < n) {
        const cdtls_oob *oob = recs[k].oob.flags ? &recs[k].oob : NULL;
        rc = cdtls_conn_write(s->conn, recs[k].data, recs[k].len, oob);
        if (rc == CDTLS_ERR_LIMIT) {
            /* the engine's output queue is full: send it, then go on */
            rc = flush(s, NULL, 0);
            if (!rc) rc = cdtls_conn_write(s->conn, recs[k].data, recs[k].len, oob);
        }
        if (!rc) k++;
    }
    int frc = flush(s, NULL, 0);
    if (written) *written = k;
    return rc ? rc : frc;
}

int cdtls_sock_write_oob(cdtls_sock *s, const uint8_t *data, size_t len, const uint8_t *oob, size_t oob_len,
                         size_t *written, size_t *oob_written)
{
    if (!s || (!oob && oob_len)) return CDTLS_ERR_INVALID_ARG;
    if (written) *written = 0;
    if (oob_written) *oob_written = 0;
    int rc = flush(s, NULL, 0);
    if (!rc) rc = cdtls_conn_write(s->conn, data, len, NULL);
    if (!rc) rc = flush(s, oob, oob_len); /* the raw bytes ride this write's datagram */
    if (!rc) {
        if (written) *written = len;
        if (oob_written) *oob_written = oob_len;
    }
    return rc;
}

void cdtls_sock_close(cdtls_sock *s)
{
    if (!s) return;
    (void)cdtls_conn_close(s->conn);
    (void)flush(s, NULL, 0);
    if (s->l) unlink_peer(s->l, s);
    sock_free(s);
}

cdtls_conn *cdtls_sock_conn(const cdtls_sock *s)
{
    return s ? s->conn : NULL;
}

const cdtls_addr *cdtls_sock_peer(const cdtls_sock *s)
{
    return s ? &s->peer : NULL;
}

cdtls_io_socket *cdtls_sock_io(cdtls_sock *s)
{
    return s ? s->io : NULL;
}
