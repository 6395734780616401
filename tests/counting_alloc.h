/* A cdtls_allocator that counts what it hands out: live bytes, the peak,
 * and the number of allocations. For the memory assertions of the tests
 * (nothing allocated before a cookie, nothing left after a free). */
#ifndef CDTLS_TESTS_COUNTING_ALLOC_H
#define CDTLS_TESTS_COUNTING_ALLOC_H

#include <stdlib.h>
#include <string.h>

#include "cdtls/alloc.h"

typedef struct counting {
    cdtls_allocator a;
    size_t live, peak, allocs;
} counting;

static inline void *counting_alloc(void *ctx, size_t n)
{
    counting *c = ctx;
    void *p = malloc(n);
    if (p) {
        c->live += n;
        c->allocs++;
        if (c->live > c->peak) c->peak = c->live;
    }
    return p;
}

static inline void counting_free(void *ctx, void *p, size_t n)
{
    counting *c = ctx;
    c->live -= n;
    free(p);
}

/* Zeroes the counts and points cnt->a at them. */
static inline const cdtls_allocator *counting_init(counting *cnt)
{
    memset(cnt, 0, sizeof *cnt);
    cnt->a = (cdtls_allocator){counting_alloc, counting_free, cnt};
    return &cnt->a;
}

#endif
