/* What the message-codec harnesses (fuzz_hs_msg.c, fuzz_hs13_msg.c) share:
 * CHECK, a byte comparison, and the parse -> write -> same bytes round trip
 * for canonical formats. Header-only, like fuzz_common.h. */
#ifndef CDTLS_FUZZ_ROUND_TRIP_H
#define CDTLS_FUZZ_ROUND_TRIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/writer.h"

#define CHECK(x)           \
    do {                   \
        if (!(x)) abort(); \
    } while (0)

static inline int same(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* Parses, writes back, and wants the same bytes: the input is b, n in the
 * caller; write_call sees the writer as w. */
#define ROUND_TRIP(parse_call, write_call)                               \
    do {                                                                 \
        if ((parse_call) == CDTLS_OK) {                                  \
            uint8_t *buf_ = malloc(n + 16);                              \
            if (!buf_) abort();                                          \
            cdtls_writer w_;                                             \
            writer_init(&w_, buf_, n + 16);                              \
            cdtls_writer *w = &w_;                                       \
            CHECK((write_call) == CDTLS_OK && same(buf_, w_.len, b, n)); \
            free(buf_);                                                  \
        }                                                                \
    } while (0)

#endif
