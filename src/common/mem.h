/*
 * Memory helpers shared by the core: secret wiping, constant-time compare,
 * allocation through the caller's allocator.
 */
#ifndef CDTLS_COMMON_MEM_H
#define CDTLS_COMMON_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"

/* Overwrites n bytes with zeros in a way the compiler may not elide. */
void cdtls_memzero(void *p, size_t n);

/* 1 if a and b are equal over n bytes, 0 otherwise; time depends only on n.
 * Used for MACs, cookies and Finished verify_data. */
int cdtls_ct_equal(const void *a, const void *b, size_t n);

/* Allocation through an allocator; zeroed memory. NULL on failure or n == 0. */
void *cdtls_alloc_zero(const cdtls_allocator *a, size_t n);
/* Wipes n bytes then frees. NULL p is a no-op. */
void cdtls_free_wipe(const cdtls_allocator *a, void *p, size_t n);

#endif /* CDTLS_COMMON_MEM_H */
