/* The default allocator: the C library's malloc/free. Left out of
 * freestanding builds (CDTLS_FREESTANDING), which must pass their own. */
#include "cdtls/alloc.h"

#if defined(CDTLS_FREESTANDING)
/* No C library: there is no default; callers get NULL and every entry point
 * that needs memory then returns CDTLS_ERR_INVALID_ARG/UNSUPPORTED unless the
 * configuration names an allocator. */
const cdtls_allocator *cdtls_allocator_libc(void)
{
    return NULL;
}
#else
#include <stdlib.h>

static void *libc_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void libc_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const cdtls_allocator libc_allocator = {libc_alloc, libc_free, NULL};

const cdtls_allocator *cdtls_allocator_libc(void)
{
    return &libc_allocator;
}
#endif
