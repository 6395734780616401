/* cdtls_session_cache: a small in-memory cdtls_session_store in caller-owned
 * memory (see cdtls/config.h). Linear search: meant for tens to a few
 * thousand entries; a large server plugs in its own store. */
#include <string.h>

#include "cdtls/config.h"
#include "common/mem.h"

static cdtls_session_cache_entry *find(cdtls_session_cache *c, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < c->n; i++) {
        cdtls_session_cache_entry *e = &c->entries[i];
        if (e->used && e->key_len == len && memcmp(e->key, key, len) == 0) return e;
    }
    return NULL;
}

static int cache_put(void *ctx, const uint8_t *key, size_t len, const cdtls_session *s)
{
    cdtls_session_cache *c = ctx;
    if (!key || !s || len == 0 || len > CDTLS_SESSION_KEY_MAX || c->n == 0) return CDTLS_ERR_INVALID_ARG;
    cdtls_session_cache_entry *e = find(c, key, len);
    if (!e) { /* a free slot, else the oldest */
        e = &c->entries[0];
        for (size_t i = 0; i < c->n; i++) {
            if (!c->entries[i].used) {
                e = &c->entries[i];
                break;
            }
            if (c->entries[i].stamp < e->stamp) e = &c->entries[i];
        }
    }
    cdtls_memzero(e, sizeof *e);
    memcpy(e->key, key, len);
    e->key_len = len;
    e->session = *s;
    e->stamp = ++c->clock;
    e->used = 1;
    return CDTLS_OK;
}

static int cache_get(void *ctx, const uint8_t *key, size_t len, cdtls_session *out)
{
    cdtls_session_cache_entry *e = find(ctx, key, len);
    if (!e || !out) return CDTLS_ERR_UNSUPPORTED;
    *out = e->session;
    return CDTLS_OK;
}

static void cache_del(void *ctx, const uint8_t *key, size_t len)
{
    cdtls_session_cache_entry *e = find(ctx, key, len);
    if (e) cdtls_memzero(e, sizeof *e);
}

const cdtls_session_store *cdtls_session_cache_init(cdtls_session_cache *cache,
                                                    cdtls_session_cache_entry *entries, size_t n)
{
    if (!cache || (!entries && n)) return NULL;
    memset(cache, 0, sizeof *cache);
    cache->entries = entries;
    cache->n = n;
    if (n) cdtls_memzero(entries, n * sizeof *entries);
    cache->store.put = cache_put;
    cache->store.get = cache_get;
    cache->store.del = cache_del;
    cache->store.ctx = cache;
    return &cache->store;
}

void cdtls_session_cache_clear(cdtls_session_cache *cache)
{
    if (cache && cache->entries) cdtls_memzero(cache->entries, cache->n * sizeof *cache->entries);
}
