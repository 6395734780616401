#include "common/mem.h"

#include <string.h>

void cdtls_memzero(void *p, size_t n)
{
    /* A volatile pointer forces every store to happen even when the buffer
     * is about to be freed or go out of scope. */
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) *v++ = 0;
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
