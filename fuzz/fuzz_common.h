/* Shared by the libFuzzer harnesses and fuzz/gen_corpus.c: a deterministic
 * provider (the build's default provider with random() replaced by a
 * counter), a fixed clock, and the input framing the multi-part harnesses
 * use. Header-only so each harness is one translation unit. */
#ifndef CDTLS_FUZZ_COMMON_H
#define CDTLS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/alloc.h"
#include "cdtls/provider.h"
#include "fuzz_crypto.h"

/* A provider table that begins with a cdtls_provider (provider.h allows a
 * caller-made table to keep state this way): random() is a counter run
 * through a xorshift mix, so every byte stream is a pure function of the
 * seed and of the order of the calls. Same seed, same calls, same bytes:
 * this is what lets a recorded peer's datagrams (with their MACs and
 * Finished) stay valid when the harness replays them. */
typedef struct fuzz_provider {
    cdtls_provider base;
    uint64_t counter;
} fuzz_provider;

static inline int fuzz_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    fuzz_provider *fp = (fuzz_provider *)(uintptr_t)self;
    for (size_t i = 0; i < len; i++) {
        uint64_t x = ++fp->counter * 0x9e3779b97f4a7c15ull;
        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 29;
        out[i] = (uint8_t)(x >> 24);
    }
    return CDTLS_OK;
}

static inline void fuzz_provider_init_from(fuzz_provider *fp, const cdtls_provider *p, uint64_t seed)
{
    fp->base = *p;
    fp->base.random = fuzz_random;
    fp->counter = seed;
}

/* The build's real provider, deterministic randomness: the parser
 * harnesses that check real signatures (fuzz_x509*, fuzz_key). */
static inline void fuzz_provider_init(fuzz_provider *fp, uint64_t seed)
{
    fuzz_provider_init_from(fp, cdtls_provider_default(), seed);
}

/* The fuzzing provider (providers/fuzz): cheap AEAD, CBC, key exchange and
 * signatures, real hashes and HMACs; the engine harnesses and fuzz_record,
 * which test the protocol and the record layer, not the ciphers. */
static inline void fuzz_provider_init_fast(fuzz_provider *fp, uint64_t seed)
{
    fuzz_provider_init_from(fp, cdtls_provider_fuzz_crypto(), seed);
}

/* The fixed clocks: the engine's monotonic milliseconds start here, and
 * certificates are checked at this Unix time (2026-12-03 00:00 UTC), inside
 * the validity of every certificate in fuzz/certs (made 2026-12-01 by
 * tests/x509/make-certs.sh, leaves valid one year). */
#define FUZZ_T0_MS 1000u
#define FUZZ_UNIX_TIME 1796256000
static inline int64_t fuzz_unix_time(void *ctx)
{
    (void)ctx;
    return FUZZ_UNIX_TIME;
}

/* An allocator that holds the core to the contract of cdtls/alloc.h: alloc
 * is never asked for 0 bytes, and free gets back the size that alloc
 * returned (pools and accounting allocators rely on it). Either breach
 * aborts, so the fuzzer reports it. It also counts the bytes live: more
 * than FUZZ_HEAP_LIMIT at once means a peer made the core allocate without
 * bound (the documented limits of docs/architecture.md add up to far
 * less), and the engine harnesses check that a freed connection leaves
 * nothing behind. */
#define FUZZ_HEAP_LIMIT (8u << 20)
static size_t fuzz_live_bytes;

static inline void *fuzz_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size == 0 || size > SIZE_MAX - 16) abort();
    if (size > FUZZ_HEAP_LIMIT - fuzz_live_bytes) abort();
    unsigned char *p = malloc(size + 16);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    fuzz_live_bytes += size;
    return p + 16;
}

static inline void fuzz_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (!ptr) abort();
    unsigned char *p = (unsigned char *)ptr - 16;
    size_t was;
    memcpy(&was, p, sizeof was);
    if (was != size || size > fuzz_live_bytes) abort();
    fuzz_live_bytes -= size;
    free(p);
}

static const cdtls_allocator fuzz_allocator = {fuzz_alloc, fuzz_free, NULL};

/* Input framing for the multi-part harnesses: a sequence of
 * [2-byte big-endian length][that many bytes]. A length past the end takes
 * what is left. Two lengths no datagram can have (UDP carries at most
 * 65507 bytes) are marks the engine harnesses give a meaning of their own:
 * FUZZ_TIMER_MARK fires the timer, FUZZ_NEXT_CONN_MARK ends the connection
 * and starts the next one (same session store: resumption). */
#define FUZZ_TIMER_MARK 0xffffu
#define FUZZ_NEXT_CONN_MARK 0xfffeu
/* The part after this mark is [content type][plaintext], which the engine
 * harnesses seal as the peer's next epoch-1 record (see fuzz_engine.h). */
#define FUZZ_FORGE_MARK 0xfffdu

typedef struct fuzz_split {
    const uint8_t *p;
    size_t left;
} fuzz_split;

/* 1 and the next part (*mark 1 when its length was FUZZ_TIMER_MARK, 2 for
 * FUZZ_NEXT_CONN_MARK, then *len is 0; 3 for FUZZ_FORGE_MARK, then the
 * part is the one that follows it), 0 at the end. */
static inline int fuzz_next(fuzz_split *s, const uint8_t **part, size_t *len, int *mark)
{
    *mark = 0;
    if (s->left < 2) return 0;
    size_t n = ((size_t)s->p[0] << 8) | s->p[1];
    s->p += 2;
    s->left -= 2;
    if (n == FUZZ_FORGE_MARK) {
        int ignored;
        if (!fuzz_next(s, part, len, &ignored) || ignored) return 0;
        *mark = 3;
        return 1;
    }
    if (n == FUZZ_TIMER_MARK || n == FUZZ_NEXT_CONN_MARK) {
        *mark = n == FUZZ_TIMER_MARK ? 1 : 2;
        *part = s->p;
        *len = 0;
        return 1;
    }
    if (n > s->left) n = s->left;
    *part = s->p;
    *len = n;
    s->p += n;
    s->left -= n;
    return 1;
}

#endif
