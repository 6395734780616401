#include "common/mem.h"

#include <string.h>

/* memset called through a volatile pointer: the compiler cannot know which
 * function it will call, so it cannot prove the stores dead and drop them
 * even when the buffer is about to be freed or go out of scope (the same
 * trick as OpenSSL's OPENSSL_cleanse). It replaced a loop of volatile byte
 * stores, which ran at one byte per cycle and was the largest cost of the
 * engine's record path after the AEAD itself (every queued datagram and
 * record is wiped when freed; docs/benchmarks.md). */
static void *(*const volatile memset_v)(void *, int, size_t) = memset;

void cdtls_memzero(void *p, size_t n)
{
    if (n) memset_v(p, 0, n);
}

int cdtls_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = (const volatile unsigned char *)a;
    const volatile unsigned char *y = (const volatile unsigned char *)b;
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++) acc |= (unsigned)(x[i] ^ y[i]);
    /* acc in [0,255]: (acc - 1) >> 8 is 1 only when acc == 0, no branch. */
    return (int)(((acc - 1u) >> 8) & 1u);
}

void *cdtls_alloc_zero(const cdtls_allocator *a, size_t n)
{
    if (!a || !a->alloc || n == 0) return NULL;
    void *p = a->alloc(a->ctx, n);
    if (p) memset(p, 0, n);
    return p;
}

void cdtls_free_wipe(const cdtls_allocator *a, void *p, size_t n)
{
    if (!p || !a || !a->free) return;
    cdtls_memzero(p, n);
    a->free(a->ctx, p, n);
}
