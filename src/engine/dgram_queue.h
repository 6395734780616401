/* FIFO of datagrams (or records) with the OOB each carries: the engine's
 * output queue and its received-application-data queue. Nodes come from the
 * connection's allocator and are wiped when freed (they may hold plaintext).
 *
 * A queue may keep one retired node, wiped, as a spare for its next entry
 * (spare_max > 0): a stream of records then costs no allocator round trip
 * per record, which was most of what the engine added to a fast AEAD
 * (docs/benchmarks.md, "Record path in memory"). */
#ifndef CDTLS_ENGINE_DGRAM_QUEUE_H
#define CDTLS_ENGINE_DGRAM_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "cdtls/error.h"
#include "cdtls/oob.h"

typedef struct dgram_node {
    struct dgram_node *next;
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated after the header (len <= cap) */
    size_t dirty; /* data bytes that may have been written: [dirty, cap) is zero */
    cdtls_oob oob;
    uint8_t data[]; /* C99 flexible array member */
} dgram_node;

typedef struct dgram_queue {
    dgram_node *head, *tail;
    size_t count;
    size_t bytes;
    dgram_node *spare; /* wiped, not in the queue; NULL if none */
    size_t spare_max;  /* largest node cap kept as the spare; 0: none kept */
} dgram_queue;

/* An empty queue that keeps no spare (set spare_max to keep one). */
void dgram_queue_init(dgram_queue *q);
/* Appends a copy of data; CDTLS_ERR_NOMEM on allocation failure. */
int dgram_queue_push(dgram_queue *q, const cdtls_allocator *a, const uint8_t *data, size_t len,
                     const cdtls_oob *oob);
/* A node of len bytes for the caller to fill, not yet in any queue. */
dgram_node *dgram_node_new(const cdtls_allocator *a, size_t len, const cdtls_oob *oob);
void dgram_node_free(const cdtls_allocator *a, dgram_node *n);
/* As dgram_node_new, but q's spare is used when it is large enough (its
 * cap stays what was allocated; len is set to the request). */
dgram_node *dgram_queue_node(dgram_queue *q, const cdtls_allocator *a, size_t len, const cdtls_oob *oob);
/* Retires a node made for q (NULL is ignored): wiped, then kept as q's
 * spare if it has none and the node is not over spare_max, else freed. */
void dgram_queue_recycle(dgram_queue *q, const cdtls_allocator *a, dgram_node *n);
void dgram_queue_append(dgram_queue *q, dgram_node *n);
/* Unlinks and returns the head (NULL if empty); the caller frees it. */
dgram_node *dgram_queue_take(dgram_queue *q);
const dgram_node *dgram_queue_peek(const dgram_queue *q);
/* Retires the head (dgram_queue_recycle). */
void dgram_queue_pop(dgram_queue *q, const cdtls_allocator *a);
/* Frees every entry and the spare. */
void dgram_queue_clear(dgram_queue *q, const cdtls_allocator *a);
/* Frees the spare only. */
void dgram_queue_release_spare(dgram_queue *q, const cdtls_allocator *a);

#endif
