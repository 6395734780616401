#include "engine/dgram_queue.h"

#include <string.h>

#include "common/mem.h"

void dgram_queue_init(dgram_queue *q)
{
    memset(q, 0, sizeof *q);
}

dgram_node *dgram_node_new(const cdtls_allocator *a, size_t len, const cdtls_oob *oob)
{
    dgram_node *n = a->alloc(a->ctx, sizeof *n + len);
    if (!n) return NULL;
    n->next = NULL;
    n->len = len;
    n->cap = len;
    n->dirty = len;
    if (oob)
        n->oob = *oob;
    else
        memset(&n->oob, 0, sizeof n->oob);
    return n;
}

void dgram_node_free(const cdtls_allocator *a, dgram_node *n)
{
    /* The allocator gets back the size it handed out (cap), not the
     * possibly shrunk len. */
    if (n) cdtls_free_wipe(a, n, sizeof *n + n->cap);
}

dgram_node *dgram_queue_node(dgram_queue *q, const cdtls_allocator *a, size_t len, const cdtls_oob *oob)
{
    dgram_node *n = q->spare;
    if (n && n->cap < len) {
        /* too small for this stream now: the new, larger node becomes the
         * spare when it retires */
        dgram_queue_release_spare(q, a);
        n = NULL;
    }
    if (!n) return dgram_node_new(a, len, oob);
    q->spare = NULL;
    n->next = NULL; /* the rest of the header and the data were wiped */
    n->len = len;
    n->dirty = len; /* writers stay within the len asked for */
    if (oob) n->oob = *oob;
    return n;
}

void dgram_queue_recycle(dgram_queue *q, const cdtls_allocator *a, dgram_node *n)
{
    if (!n) return;
    if (q->spare || n->cap > q->spare_max) {
        dgram_node_free(a, n);
        return;
    }
    /* Wiped now, as a free would: a spare holds nothing of what it
     * carried. Only the bytes handed out can be non-zero (a spare of an
     * MTU's size carrying a 64-byte record wipes 64 bytes, not the MTU);
     * the cap is the allocation's size and must survive. */
    const size_t cap = n->cap, dirty = n->dirty;
    cdtls_memzero(n, sizeof *n + dirty);
    n->cap = cap;
    q->spare = n;
}

void dgram_queue_release_spare(dgram_queue *q, const cdtls_allocator *a)
{
    dgram_node_free(a, q->spare);
    q->spare = NULL;
}

void dgram_queue_append(dgram_queue *q, dgram_node *n)
{
    n->next = NULL;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->count++;
    q->bytes += n->len;
}

dgram_node *dgram_queue_take(dgram_queue *q)
{
    dgram_node *n = q->head;
    if (!n) return NULL;
    q->head = n->next;
    if (!q->head) q->tail = NULL;
    q->count--;
    q->bytes -= n->len;
    n->next = NULL;
    return n;
}

int dgram_queue_push(dgram_queue *q, const cdtls_allocator *a, const uint8_t *data, size_t len,
                     const cdtls_oob *oob)
{
    dgram_node *n = dgram_queue_node(q, a, len, oob);
    if (!n) return CDTLS_ERR_NOMEM;
    if (len) memcpy(n->data, data, len);
    dgram_queue_append(q, n);
    return CDTLS_OK;
}

const dgram_node *dgram_queue_peek(const dgram_queue *q)
{
    return q->head;
}

void dgram_queue_pop(dgram_queue *q, const cdtls_allocator *a)
{
    dgram_queue_recycle(q, a, dgram_queue_take(q));
}

void dgram_queue_clear(dgram_queue *q, const cdtls_allocator *a)
{
    while (q->head) dgram_node_free(a, dgram_queue_take(q));
    dgram_queue_release_spare(q, a);
}
