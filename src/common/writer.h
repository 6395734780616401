/*
 * Bounds-checked writer, the twin of reader.h. Writes past the capacity set
 * the sticky `failed` flag and write nothing; check once at the end.
 */
#ifndef CDTLS_COMMON_WRITER_H
#define CDTLS_COMMON_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cdtls_writer {
    uint8_t *p;
    size_t cap;
    size_t len;
    int failed;
} cdtls_writer;

static inline void writer_init(cdtls_writer *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = p ? cap : 0;
    w->len = 0;
    w->failed = 0;
}

static inline int writer_room(cdtls_writer *w, size_t n)
{
    if (w->failed || w->cap - w->len < n) {
        w->failed = 1;
        return 0;
    }
    return 1;
}

static inline void writer_u8(cdtls_writer *w, unsigned v)
{
    if (!writer_room(w, 1)) return;
    w->p[w->len++] = (uint8_t)v;
}

static inline void writer_u16(cdtls_writer *w, unsigned v)
{
    if (!writer_room(w, 2)) return;
    w->p[w->len++] = (uint8_t)(v >> 8);
    w->p[w->len++] = (uint8_t)v;
}

static inline void writer_u24(cdtls_writer *w, uint32_t v)
{
    if (!writer_room(w, 3)) return;
    w->p[w->len++] = (uint8_t)(v >> 16);
    w->p[w->len++] = (uint8_t)(v >> 8);
    w->p[w->len++] = (uint8_t)v;
}

static inline void writer_u32(cdtls_writer *w, uint32_t v)
{
    if (!writer_room(w, 4)) return;
    for (int i = 3; i >= 0; i--) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static inline void writer_u48(cdtls_writer *w, uint64_t v)
{
    if (!writer_room(w, 6)) return;
    for (int i = 5; i >= 0; i--) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static inline void writer_bytes(cdtls_writer *w, const void *src, size_t n)
{
    if (n == 0 || !writer_room(w, n)) return;
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

/* Reserve n bytes and return where they start (for length fields filled in
 * later); NULL on overflow. */
static inline uint8_t *writer_reserve(cdtls_writer *w, size_t n)
{
    if (!writer_room(w, n)) return NULL;
    uint8_t *at = w->p + w->len;
    w->len += n;
    return at;
}

static inline void put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put_u24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static inline void put_u48(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 6; i++) p[i] = (uint8_t)(v >> (8 * (5 - i)));
}

static inline uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

static inline uint32_t get_u24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint64_t get_u48(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 6; i++) x = (x << 8) | p[i];
    return x;
}

#endif /* CDTLS_COMMON_WRITER_H */
