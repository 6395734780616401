/*
 * The one bounds-checked reader every wire parser uses.
 *
 * A reader is a (pointer, remaining) window. Every get_* checks the remaining
 * length first; on a short read it sets the sticky `failed` flag, returns 0
 * and leaves the outputs zeroed, so a parser may read a whole structure and
 * check `failed` once at the end. Nothing here allocates or recurses.
 */
#ifndef CDTLS_COMMON_READER_H
#define CDTLS_COMMON_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdtls_reader {
    const uint8_t *p;
    size_t left;
    int failed;
} cdtls_reader;

static inline void reader_init(cdtls_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->left = p ? len : 0;
    r->failed = 0;
}

static inline int reader_fail(cdtls_reader *r)
{
    r->failed = 1;
    r->left = 0;
    return 0;
}

static inline int reader_u8(cdtls_reader *r, uint8_t *v)
{
    *v = 0;
    if (r->failed || r->left < 1) return reader_fail(r);
    *v = r->p[0];
    r->p += 1;
    r->left -= 1;
    return 1;
}

static inline int reader_u16(cdtls_reader *r, uint16_t *v)
{
    *v = 0;
    if (r->failed || r->left < 2) return reader_fail(r);
    *v = (uint16_t)(((unsigned)r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return 1;
}

static inline int reader_u24(cdtls_reader *r, uint32_t *v)
{
    *v = 0;
    if (r->failed || r->left < 3) return reader_fail(r);
    *v = ((uint32_t)r->p[0] << 16) | ((uint32_t)r->p[1] << 8) | r->p[2];
    r->p += 3;
    r->left -= 3;
    return 1;
}

static inline int reader_u32(cdtls_reader *r, uint32_t *v)
{
    *v = 0;
    if (r->failed || r->left < 4) return reader_fail(r);
    *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | r->p[3];
    r->p += 4;
    r->left -= 4;
    return 1;
}

static inline int reader_u48(cdtls_reader *r, uint64_t *v)
{
    *v = 0;
    if (r->failed || r->left < 6) return reader_fail(r);
    uint64_t x = 0;
    for (int i = 0; i < 6; i++) x = (x << 8) | r->p[i];
    *v = x;
    r->p += 6;
    r->left -= 6;
    return 1;
}

/* Borrow n bytes (no copy). */
static inline int reader_bytes(cdtls_reader *r, size_t n, const uint8_t **out)
{
    *out = NULL;
    if (r->failed || r->left < n) return reader_fail(r);
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 1;
}

static inline int reader_skip(cdtls_reader *r, size_t n)
{
    const uint8_t *ignored;
    return reader_bytes(r, n, &ignored);
}

/* A sub-reader over the next n bytes (a length-prefixed vector). */
static inline int reader_sub(cdtls_reader *r, size_t n, cdtls_reader *sub)
{
    const uint8_t *p;
    if (!reader_bytes(r, n, &p)) {
        reader_init(sub, NULL, 0);
        sub->failed = 1;
        return 0;
    }
    reader_init(sub, p, n);
    return 1;
}

/* Length-prefixed vectors <min..max> with a 1-, 2- or 3-byte length. Fails
 * when the length is outside [min, max] or beyond the data. */
static inline int reader_vec8(cdtls_reader *r, size_t min, size_t max, cdtls_reader *sub)
{
    uint8_t n;
    if (!reader_u8(r, &n) || n < min || n > max) {
        reader_fail(r);
        reader_init(sub, NULL, 0);
        sub->failed = 1;
        return 0;
    }
    return reader_sub(r, n, sub);
}

static inline int reader_vec16(cdtls_reader *r, size_t min, size_t max, cdtls_reader *sub)
{
    uint16_t n;
    if (!reader_u16(r, &n) || n < min || n > max) {
        reader_fail(r);
        reader_init(sub, NULL, 0);
        sub->failed = 1;
        return 0;
    }
    return reader_sub(r, n, sub);
}

static inline int reader_vec24(cdtls_reader *r, size_t min, size_t max, cdtls_reader *sub)
{
    uint32_t n;
    if (!reader_u24(r, &n) || n < min || n > max) {
        reader_fail(r);
        reader_init(sub, NULL, 0);
        sub->failed = 1;
        return 0;
    }
    return reader_sub(r, n, sub);
}

/* True when every byte was consumed and nothing failed. */
static inline int reader_done(const cdtls_reader *r)
{
    return !r->failed && r->left == 0;
}

#endif /* CDTLS_COMMON_READER_H */
