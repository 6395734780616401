#include "engine/dgram_queue.h"

#include <string.h>

#include "common/mem.h"

void dgram_queue_init(dgram_queue *q)
{
    memset(q, 0, sizeof *q);
}

uint8_t *dgram_queue_push_uninit(dgram_queue *q, const cdtls_allocator *a, size_t len,
                                 const cdtls_oob *oob)
{
    dgram_node *n = a->alloc(a->ctx, sizeof *n + len);
    if (!n) return NULL;
    n->next = NULL;
    n->len = len;
    if (oob)
        n->oob = *oob;
    else
        memset(&n->oob, 0, sizeof n->oob);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->count++;
    q->bytes += len;
    return n->data;
}

int dgram_queue_push(dgram_queue *q, const cdtls_allocator *a, const uint8_t *data, size_t len,
                     const cdtls_oob *oob)
{
    uint8_t *p = dgram_queue_push_uninit(q, a, len, oob);
    if (!p) return CDTLS_ERR_NOMEM;
    if (len) memcpy(p, data, len);
    return CDTLS_OK;
}

const dgram_node *dgram_queue_peek(const dgram_queue *q)
{
    return q->head;
}

void dgram_queue_pop(dgram_queue *q, const cdtls_allocator *a)
{
    dgram_node *n = q->head;
    if (!n) return;
    q->head = n->next;
    if (!q->head) q->tail = NULL;
    q->count--;
    q->bytes -= n->len;
    cdtls_free_wipe(a, n, sizeof *n + n->len);
}

void dgram_queue_clear(dgram_queue *q, const cdtls_allocator *a)
{
    while (q->head) dgram_queue_pop(q, a);
}
