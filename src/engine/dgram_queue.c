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
    dgram_node *n = dgram_node_new(a, len, oob);
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
    dgram_node_free(a, dgram_queue_take(q));
}

void dgram_queue_clear(dgram_queue *q, const cdtls_allocator *a)
{
    while (q->head) dgram_queue_pop(q, a);
}
