/* A group of listeners (workers) on one address and port (cdtls/workers.h):
 * the shared state and its locks, worker connection IDs, and the hand-off
 * of CID records that reached the wrong worker. The steering program that
 * keeps them from doing so is in reuseport.c. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif
#include <string.h>

#include "cdtls/conn.h"
#include "common/mem.h"
#include "io/io_internal.h"
#include "io/workers_internal.h"

/* CID format (cdtls/workers.h): octet 0 config, 1-2 node, 3 worker. */
#define CID_CONFIG_MAX 6u

int cdtls_worker_cid_make(const cdtls_provider *p, unsigned config, uint16_t node, uint8_t worker,
                          uint8_t *cid, size_t len)
{
    if (!p) p = cdtls_provider_default();
    if (!p || !p->random || !cid || config > CID_CONFIG_MAX || len < CDTLS_WORKER_CID_MIN ||
        len > CDTLS_WORKER_CID_MAX)
        return CDTLS_ERR_INVALID_ARG;
    cid[0] = (uint8_t)(config << 5 | (len - 1));
    cid[1] = (uint8_t)(node >> 8);
    cid[2] = (uint8_t)node;
    cid[3] = worker;
    return p->random(p, cid + 4, len - 4);
}

int cdtls_worker_cid_parse(const uint8_t *cid, size_t len, unsigned *config, uint16_t *node, uint8_t *worker)
{
    if (!cid || len < CDTLS_WORKER_CID_MIN || len > CDTLS_WORKER_CID_MAX) return CDTLS_ERR_DECODE;
    unsigned cfg = cid[0] >> 5;
    if (cfg > CID_CONFIG_MAX || (size_t)(cid[0] & 31u) + 1 != len) return CDTLS_ERR_DECODE;
    if (config) *config = cfg;
    if (node) *node = (uint16_t)(cid[1] << 8 | cid[2]);
    if (worker) *worker = cid[3];
    return CDTLS_OK;
}

#if defined(_WIN32)

/* No load-spreading port sharing on Windows (see cdtls/workers.h). */
int cdtls_worker_group_open(const cdtls_config *cfg, const cdtls_addr *bind, const cdtls_worker_options *opt,
                            cdtls_worker_group **out)
{
    (void)cfg;
    (void)bind;
    (void)opt;
    if (out) *out = NULL;
    return CDTLS_ERR_UNSUPPORTED;
}
unsigned cdtls_worker_group_size(const cdtls_worker_group *g)
{
    (void)g;
    return 0;
}
cdtls_listener *cdtls_worker_group_listener(cdtls_worker_group *g, unsigned i)
{
    (void)g;
    (void)i;
    return NULL;
}
int cdtls_worker_group_steering(const cdtls_worker_group *g)
{
    (void)g;
    return 0;
}
int cdtls_worker_group_stats(cdtls_worker_group *g, unsigned i, cdtls_worker_stats *out)
{
    (void)g;
    (void)i;
    (void)out;
    return CDTLS_ERR_INVALID_ARG;
}
void cdtls_worker_group_close(cdtls_worker_group *g)
{
    (void)g;
}

/* sock.c's hooks into a group: unreachable here, since no listener can
 * belong to a group that cannot be opened, but sock.c is the same on
 * every platform and links against them. */
int worker_cookie_check(cdtls_worker_group *g, const cdtls_addr *from, const uint8_t *d, size_t n,
                        uint64_t now_ms, uint8_t *reply, size_t cap, size_t *reply_len, uint8_t **hello,
                        size_t *hello_len)
{
    (void)g, (void)from, (void)d, (void)n, (void)now_ms, (void)reply, (void)cap;
    *reply_len = 0;
    *hello = NULL;
    *hello_len = 0;
    return -1;
}
void worker_hello_release(cdtls_worker_group *g, uint8_t *hello, size_t hello_len)
{
    (void)g, (void)hello, (void)hello_len;
}
void worker_conn_setup(cdtls_worker_group *g, unsigned index, cdtls_conn *c)
{
    (void)g, (void)index, (void)c;
}
int worker_route(const cdtls_worker_group *g, unsigned index, const uint8_t *d, size_t n)
{
    (void)g, (void)index, (void)d, (void)n;
    return -1;
}
void worker_hand_off(cdtls_worker_group *g, unsigned from, unsigned to, const cdtls_io_msg *m)
{
    (void)g, (void)from, (void)to, (void)m;
}
int worker_wait(cdtls_worker_group *g, unsigned index, cdtls_io_socket *io, int wait_ms)
{
    (void)g, (void)index, (void)io;
    return wait_ms;
}
worker_item *worker_take(cdtls_worker_group *g, unsigned index)
{
    (void)g, (void)index;
    return NULL;
}
void worker_item_free(cdtls_worker_group *g, worker_item *it)
{
    (void)g, (void)it;
}

#else

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "io/reuseport.h"

/* Hand-offs a worker queues before it drops more: a worker that is this
 * far behind is overloaded, and UDP may lose datagrams. */
#define INBOX_MAX 1024u

typedef struct worker {
    cdtls_worker_group *g;
    unsigned index;
    cdtls_listener *l;
    pthread_mutex_t lock; /* the inbox and the counters */
    worker_item *head, *tail;
    size_t queued;
    cdtls_worker_stats stats;
    int wake[2]; /* a pipe: a hand-off writes a byte, the worker polls it */
} worker;

struct cdtls_worker_group {
    const cdtls_allocator *a;
    const cdtls_provider *p;
    cdtls_config cfg; /* the caller's, with the locked session store */
    cdtls_context *ctx;
    cdtls_hello_verifier *hv;
    pthread_mutex_t cookie_lock, ticket_lock, store_lock;
    const cdtls_session_store *user_store;
    cdtls_session_store store;      /* user_store's calls under store_lock */
    cdtls_ticket_keys *ticket_keys; /* whose lock is ours, NULL if not */
    uint16_t node;
    unsigned cid_config;
    size_t cid_len;
    int steering;
    unsigned n;
    worker *w; /* n of them */
};

/* ------------------------------------------------------- shared state */

static void ticket_lock(void *ctx, int take)
{
    cdtls_worker_group *g = ctx;
    if (take)
        (void)pthread_mutex_lock(&g->ticket_lock);
    else
        (void)pthread_mutex_unlock(&g->ticket_lock);
}

static int store_put(void *ctx, const uint8_t *key, size_t key_len, const cdtls_session *s)
{
    cdtls_worker_group *g = ctx;
    (void)pthread_mutex_lock(&g->store_lock);
    int rc = g->user_store->put(g->user_store->ctx, key, key_len, s);
    (void)pthread_mutex_unlock(&g->store_lock);
    return rc;
}

static int store_get(void *ctx, const uint8_t *key, size_t key_len, cdtls_session *out)
{
    cdtls_worker_group *g = ctx;
    (void)pthread_mutex_lock(&g->store_lock);
    int rc = g->user_store->get(g->user_store->ctx, key, key_len, out);
    (void)pthread_mutex_unlock(&g->store_lock);
    return rc;
}

static void store_del(void *ctx, const uint8_t *key, size_t key_len)
{
    cdtls_worker_group *g = ctx;
    (void)pthread_mutex_lock(&g->store_lock);
    g->user_store->del(g->user_store->ctx, key, key_len);
    (void)pthread_mutex_unlock(&g->store_lock);
}

int worker_cookie_check(cdtls_worker_group *g, const cdtls_addr *from, const uint8_t *d, size_t n,
                        uint64_t now_ms, uint8_t *reply, size_t cap, size_t *reply_len, uint8_t **hello,
                        size_t *hello_len)
{
    /* the secret rotates, and fragmented hellos are reassembled, inside
     * the check: one worker at a time */
    (void)pthread_mutex_lock(&g->cookie_lock);
    int rc = cdtls_hello_verifier_check_full(g->hv, from, sizeof *from, d, n, now_ms, reply, cap, reply_len,
                                             hello, hello_len);
    (void)pthread_mutex_unlock(&g->cookie_lock);
    return rc;
}

void worker_hello_release(cdtls_worker_group *g, uint8_t *hello, size_t hello_len)
{
    (void)pthread_mutex_lock(&g->cookie_lock);
    cdtls_hello_verifier_release(g->hv, hello, hello_len);
    (void)pthread_mutex_unlock(&g->cookie_lock);
}

/* ----------------------------------------------------------- CIDs */

static int worker_cid(void *ctx, uint8_t *cid, size_t cap, size_t *len)
{
    const worker *w = ctx;
    const cdtls_worker_group *g = w->g;
    if (cap < g->cid_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    *len = g->cid_len;
    return cdtls_worker_cid_make(g->p, g->cid_config, g->node, (uint8_t)w->index, cid, g->cid_len);
}

void worker_conn_setup(cdtls_worker_group *g, unsigned index, cdtls_conn *c)
{
    (void)cdtls_conn_set_cid_generator(c, worker_cid, &g->w[index]);
}

int worker_route(const cdtls_worker_group *g, unsigned index, const uint8_t *d, size_t n)
{
    const uint8_t *cid;
    unsigned config;
    uint16_t node;
    uint8_t to;
    if (!cdtls_datagram_cid(d, n, g->cid_len, &cid) ||
        cdtls_worker_cid_parse(cid, g->cid_len, &config, &node, &to) != CDTLS_OK)
        return -1;
    if (config != g->cid_config || node != g->node || to >= g->n || to == index) return -1;
    return to;
}

/* ------------------------------------------------------- hand-off */

void worker_hand_off(cdtls_worker_group *g, unsigned from, unsigned to, const cdtls_io_msg *m)
{
    worker *src = &g->w[from], *dst = &g->w[to];
    worker_item *it = g->a->alloc(g->a->ctx, sizeof *it + m->len);
    if (it) {
        it->next = NULL;
        it->from = m->addr;
        it->oob = m->oob;
        it->raw_len = m->raw && m->raw_len <= sizeof it->raw ? m->raw_len : 0;
        if (it->raw_len) memcpy(it->raw, m->raw, it->raw_len);
        it->len = m->len;
        memcpy(it->data, m->buf, m->len);
    }
    int queued = 0;
    (void)pthread_mutex_lock(&dst->lock);
    if (it && dst->queued < INBOX_MAX) {
        if (dst->tail)
            dst->tail->next = it;
        else
            dst->head = it;
        dst->tail = it;
        dst->queued++;
        dst->stats.handed_in++;
        queued = 1;
    } else {
        dst->stats.dropped++;
    }
    (void)pthread_mutex_unlock(&dst->lock);
    (void)pthread_mutex_lock(&src->lock);
    src->stats.handed_out++;
    (void)pthread_mutex_unlock(&src->lock);
    if (!queued) {
        if (it) g->a->free(g->a->ctx, it, sizeof *it + it->len);
        return;
    }
    /* a full pipe already wakes the worker: the byte is not needed then */
    uint8_t one = 1;
    ssize_t r;
    do {
        r = write(dst->wake[1], &one, 1);
    } while (r < 0 && errno == EINTR);
}

worker_item *worker_take(cdtls_worker_group *g, unsigned index)
{
    worker *w = &g->w[index];
    (void)pthread_mutex_lock(&w->lock);
    worker_item *it = w->head;
    w->head = w->tail = NULL;
    w->queued = 0;
    (void)pthread_mutex_unlock(&w->lock);
    return it;
}

void worker_item_free(cdtls_worker_group *g, worker_item *it)
{
    cdtls_free_wipe(g->a, it, sizeof *it + it->len);
}

static void drain_wake(int fd)
{
    uint8_t buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

int worker_wait(cdtls_worker_group *g, unsigned index, cdtls_io_socket *io, int wait_ms)
{
    worker *w = &g->w[index];
    (void)pthread_mutex_lock(&w->lock);
    int have = w->head != NULL;
    (void)pthread_mutex_unlock(&w->lock);
    if (have || wait_ms == 0 || cdtls_io_pending(io)) return 0;
    struct pollfd p[2] = {{io->fd, POLLIN, 0}, {w->wake[0], POLLIN, 0}};
    int r;
    do {
        r = poll(p, 2, wait_ms);
    } while (r < 0 && errno == EINTR);
    if (r > 0 && (p[1].revents & POLLIN)) drain_wake(w->wake[0]);
    return 0; /* the receive then takes what is there without waiting */
}

/* ------------------------------------------------------------ group */

static int pipe_nonblock(int fds[2])
{
    if (pipe(fds) != 0) return CDTLS_ERR_IO;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL, 0);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            fds[0] = fds[1] = -1;
            return CDTLS_ERR_IO;
        }
    }
    return CDTLS_OK;
}

static void group_free(cdtls_worker_group *g)
{
    for (unsigned i = 0; i < g->n; i++) {
        worker *w = &g->w[i];
        listener_close_worker(w->l);
        worker_item *it = worker_take(g, i);
        while (it) {
            worker_item *next = it->next;
            worker_item_free(g, it);
            it = next;
        }
        if (w->wake[0] >= 0) close(w->wake[0]);
        if (w->wake[1] >= 0) close(w->wake[1]);
        (void)pthread_mutex_destroy(&w->lock);
    }
    if (g->w) cdtls_free_wipe(g->a, g->w, g->n * sizeof *g->w);
    if (g->ticket_keys) {
        (void)pthread_mutex_lock(&g->ticket_lock);
        g->ticket_keys->lock = NULL;
        g->ticket_keys->lock_ctx = NULL;
        (void)pthread_mutex_unlock(&g->ticket_lock);
    }
    cdtls_hello_verifier_free(g->hv);
    cdtls_context_free(g->ctx); /* after every worker's connections */
    (void)pthread_mutex_destroy(&g->cookie_lock);
    (void)pthread_mutex_destroy(&g->ticket_lock);
    (void)pthread_mutex_destroy(&g->store_lock);
    cdtls_free_wipe(g->a, g, sizeof *g);
}

/* The shared state: the locked session store and ticket ring in the
 * group's copy of the configuration, the context and the cookie secret. */
static int group_share(cdtls_worker_group *g, const cdtls_config *cfg)
{
    g->cfg = *cfg;
    /* the CIDs are the workers' own (worker_conn_setup sets each
     * connection's generator, which takes the place of the config's) */
    if (cfg->resumption.store) {
        g->user_store = cfg->resumption.store;
        g->store.put = store_put;
        g->store.get = store_get;
        g->store.del = store_del;
        g->store.ctx = g;
        g->cfg.resumption.store = &g->store;
    }
    if (cfg->resumption.ticket_keys) {
        if (cfg->resumption.ticket_keys->lock) return CDTLS_ERR_BAD_STATE; /* another group's */
        g->ticket_keys = cfg->resumption.ticket_keys;
        g->ticket_keys->lock_ctx = g;
        g->ticket_keys->lock = ticket_lock;
    }
    int rc = listener_context_new(&g->cfg, &g->ctx);
    if (!rc) rc = cdtls_hello_verifier_new(&g->cfg, cdtls_io_now_ms(), &g->hv);
    return rc;
}

/* Opens the workers' sockets in order, so that worker i is socket i of
 * the kernel's group (what the steering program returns). */
static int group_open_workers(cdtls_worker_group *g, const cdtls_addr *bind, unsigned io_flags)
{
    cdtls_addr at = *bind;
    for (unsigned i = 0; i < g->n; i++) {
        worker *w = &g->w[i];
        int rc = pipe_nonblock(w->wake);
        if (!rc) rc = listener_open_worker(&g->cfg, g->ctx, &at, io_flags, g, i, &w->l);
        if (rc) return rc;
        if (i == 0 && at.port == 0) {
            rc = cdtls_io_local_addr(cdtls_listener_io(w->l), &at);
            if (rc) return rc;
            at.ip = bind->ip; /* the port it got, on the address asked for */
            at.scope_id = bind->scope_id;
        }
    }
    return CDTLS_OK;
}

int cdtls_worker_group_open(const cdtls_config *cfg, const cdtls_addr *bind, const cdtls_worker_options *opt,
                            cdtls_worker_group **out)
{
    if (!cfg || !bind || !opt || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    unsigned n = opt->n_workers ? opt->n_workers : 1;
    size_t cid_len = opt->cid_len ? opt->cid_len : CDTLS_WORKER_CID_DEFAULT;
    if (n > 255 || opt->cid_config > CID_CONFIG_MAX || cid_len < CDTLS_WORKER_CID_MIN ||
        cid_len > CDTLS_WORKER_CID_MAX)
        return CDTLS_ERR_INVALID_ARG;
    const cdtls_allocator *a = cfg->allocator ? cfg->allocator : cdtls_allocator_libc();
    const cdtls_provider *p = cfg->provider ? cfg->provider : cdtls_provider_default();
    if (!p) return CDTLS_ERR_UNSUPPORTED;
    cdtls_worker_group *g = cdtls_alloc_zero(a, sizeof *g);
    if (!g) return CDTLS_ERR_NOMEM;
    g->a = a;
    g->p = p;
    g->node = opt->node_id;
    g->cid_config = opt->cid_config;
    g->cid_len = cid_len;
    (void)pthread_mutex_init(&g->cookie_lock, NULL);
    (void)pthread_mutex_init(&g->ticket_lock, NULL);
    (void)pthread_mutex_init(&g->store_lock, NULL);
    g->w = cdtls_alloc_zero(a, n * sizeof *g->w);
    if (!g->w) {
        group_free(g);
        return CDTLS_ERR_NOMEM;
    }
    g->n = n;
    for (unsigned i = 0; i < n; i++) {
        g->w[i].g = g;
        g->w[i].index = i;
        g->w[i].wake[0] = g->w[i].wake[1] = -1;
        (void)pthread_mutex_init(&g->w[i].lock, NULL);
    }
    int rc = group_share(g, cfg);
    if (!rc) rc = group_open_workers(g, bind, opt->io_flags);
    if (!rc && !(opt->flags & CDTLS_WORKERS_NO_STEERING) && n > 1)
        g->steering = reuseport_steer_by_cid(cdtls_listener_io(g->w[0].l), g->node, g->cid_config, g->cid_len,
                                             n) == CDTLS_OK;
    if (rc) {
        group_free(g);
        return rc;
    }
    *out = g;
    return CDTLS_OK;
}

unsigned cdtls_worker_group_size(const cdtls_worker_group *g)
{
    return g ? g->n : 0;
}

cdtls_listener *cdtls_worker_group_listener(cdtls_worker_group *g, unsigned i)
{
    return g && i < g->n ? g->w[i].l : NULL;
}

int cdtls_worker_group_steering(const cdtls_worker_group *g)
{
    return g ? g->steering : 0;
}

int cdtls_worker_group_stats(cdtls_worker_group *g, unsigned i, cdtls_worker_stats *out)
{
    if (!g || i >= g->n || !out) return CDTLS_ERR_INVALID_ARG;
    (void)pthread_mutex_lock(&g->w[i].lock);
    *out = g->w[i].stats;
    (void)pthread_mutex_unlock(&g->w[i].lock);
    return CDTLS_OK;
}

void cdtls_worker_group_close(cdtls_worker_group *g)
{
    if (g) group_free(g);
}

#endif
