/*
 * cdtls — caller-configurable allocator.
 *
 * cdtls never calls malloc directly: every object that needs memory takes a
 * cdtls_allocator. free() receives the size that was allocated, so pools and
 * accounting allocators (bench/ uses one to measure bytes per connection)
 * need no headers of their own.
 */
#ifndef CDTLS_ALLOC_H
#define CDTLS_ALLOC_H

#include <stddef.h>

#include "cdtls/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdtls_allocator {
    /* Return size bytes aligned for any object type, or NULL. size > 0. */
    void *(*alloc)(void *ctx, size_t size);
    /* Release ptr (never NULL) that alloc returned with the same size. */
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} cdtls_allocator;

/* Bytes that many connections' handshake reassembly may hold together (a
 * listener's peers share one: cdtls_conn_share_handshake_budget): used is
 * what they hold now, max what they may. Updated without locking: the
 * connections sharing one must be driven by one thread. */
typedef struct cdtls_handshake_budget {
    size_t used, max;
} cdtls_handshake_budget;

/* malloc/free from the C library. Not available in freestanding builds
 * (CDTLS_FREESTANDING), where the caller must always pass an allocator. */
CDTLS_API const cdtls_allocator *cdtls_allocator_libc(void);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_ALLOC_H */
