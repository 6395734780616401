/* What the socket layer (sock.c) and the worker group (workers.c) share:
 * a listener that is one worker of a group uses the group's context and
 * cookie verifier, makes worker CIDs, and passes CID records that name
 * another worker to that worker's queue. */
#ifndef CDTLS_IO_WORKERS_INTERNAL_H
#define CDTLS_IO_WORKERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/workers.h"

/* sock.c: the context a listener (or a group of them) makes from cfg
 * (with the wall clock the socket layer supplies). */
int listener_context_new(const cdtls_config *cfg, cdtls_context **out);
/* sock.c: opens worker `index` of g: its socket with CDTLS_IO_REUSEPORT,
 * sharing g's context (not freed by cdtls_listener_close). */
int listener_open_worker(const cdtls_config *cfg, cdtls_context *ctx, const cdtls_addr *bind,
                         unsigned io_flags, cdtls_worker_group *g, unsigned index, cdtls_listener **out);
/* sock.c: closes a worker's listener (what it shares stays). */
void listener_close_worker(cdtls_listener *l);

/* workers.c, for sock.c (from worker `index`'s thread): */
/* The stateless cookie check with the group's shared secret, under its lock. */
int worker_cookie_check(cdtls_worker_group *g, const cdtls_addr *from, const uint8_t *d, size_t n,
                        uint64_t now_ms, uint8_t *reply, size_t cap, size_t *reply_len, uint8_t **hello,
                        size_t *hello_len);
/* Frees a hello that worker_cookie_check handed out. */
void worker_hello_release(cdtls_worker_group *g, uint8_t *hello, size_t hello_len);
/* Gives a new server connection of worker index its worker CIDs. */
void worker_conn_setup(cdtls_worker_group *g, unsigned index, cdtls_conn *c);
/* The other worker a datagram's CID names (a tls12_cid record with a
 * worker CID of this node and group), or -1: none, or this one. */
int worker_route(const cdtls_worker_group *g, unsigned index, const uint8_t *d, size_t n);
/* Queues a copy of a datagram for worker `to` and wakes it. */
void worker_hand_off(cdtls_worker_group *g, unsigned from, unsigned to, const cdtls_io_msg *m);
/* Waits up to wait_ms for the worker's socket, or for a hand-off; returns
 * what is left to wait in the receive (0 when something is there). */
int worker_wait(cdtls_worker_group *g, unsigned index, cdtls_io_socket *io, int wait_ms);

/* A datagram handed over: taken by worker_take, freed by worker_item_free. */
typedef struct worker_item {
    struct worker_item *next;
    cdtls_addr from;
    cdtls_oob oob;
    size_t raw_len; /* the datagram's native control bytes, as received */
    uint8_t raw[CDTLS_IO_CMSG_SPACE * 2];
    size_t len;
    uint8_t data[]; /* C99 flexible array member */
} worker_item;
/* Takes everything queued for the worker, oldest first (NULL: nothing). */
worker_item *worker_take(cdtls_worker_group *g, unsigned index);
void worker_item_free(cdtls_worker_group *g, worker_item *it);

#endif
