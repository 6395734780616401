#include "handshake/cookie.h"

#include <string.h>

#include "common/mem.h"

int cookie_keys_init(cookie_keys *k, const cdtls_provider *p, uint32_t rotate_ms, uint64_t now_ms)
{
    if (!k || !p || !p->random) return CDTLS_ERR_INVALID_ARG;
    memset(k, 0, sizeof *k);
    k->rotate_ms = rotate_ms;
    k->rotated_at_ms = now_ms;
    return p->random(p, k->current, sizeof k->current);
}

int cookie_keys_tick(cookie_keys *k, const cdtls_provider *p, uint64_t now_ms)
{
    if (k->rotate_ms == 0 || now_ms < k->rotated_at_ms || now_ms - k->rotated_at_ms < k->rotate_ms)
        return CDTLS_OK;
    /* Ticks come only with traffic. Count the periods that passed, so a
     * cookie lives at most two periods however sparse the ClientHellos
     * are: after two or more, even the current secret is too old to keep
     * as the previous one. */
    uint64_t periods = (now_ms - k->rotated_at_ms) / k->rotate_ms;
    if (periods >= 2) {
        cdtls_memzero(k->previous, sizeof k->previous);
        k->has_previous = 0;
    } else {
        memcpy(k->previous, k->current, sizeof k->previous);
        k->has_previous = 1;
    }
    k->rotated_at_ms += periods * k->rotate_ms;
    return p->random(p, k->current, sizeof k->current);
}

void cookie_keys_wipe(cookie_keys *k)
{
    cdtls_memzero(k, sizeof *k);
}

static int cookie_mac(const cdtls_provider *p, const uint8_t *secret, const cookie_part *parts,
                      size_t n_parts, uint8_t out[COOKIE_LEN])
{
    const cdtls_hmac_vt *h = p->hmac[CDTLS_HASH_SHA256];
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    cdtls_hmac_ctx ctx;
    h->init(&ctx, secret, COOKIE_SECRET_LEN);
    for (size_t i = 0; i < n_parts; i++) {
        uint8_t len[4] = {(uint8_t)(parts[i].len >> 24), (uint8_t)(parts[i].len >> 16),
                          (uint8_t)(parts[i].len >> 8), (uint8_t)parts[i].len};
        h->update(&ctx, len, sizeof len);
        if (parts[i].len) h->update(&ctx, parts[i].p, parts[i].len);
    }
    h->final(&ctx, out); /* HMAC-SHA256 is exactly COOKIE_LEN bytes */
    return CDTLS_OK;
}

int cookie_make(const cdtls_provider *p, const cookie_keys *k, const cookie_part *parts, size_t n_parts,
                uint8_t out[COOKIE_LEN])
{
    return cookie_mac(p, k->current, parts, n_parts, out);
}

int cookie_verify(const cdtls_provider *p, const cookie_keys *k, const cookie_part *parts, size_t n_parts,
                  const uint8_t *cookie, size_t cookie_len)
{
    uint8_t want[COOKIE_LEN];
    if (!cookie || cookie_len != COOKIE_LEN) return CDTLS_ERR_BAD_COOKIE;
    int rc = cookie_mac(p, k->current, parts, n_parts, want);
    if (rc) return rc;
    int ok = cdtls_ct_equal(want, cookie, COOKIE_LEN);
    if (!ok && k->has_previous) {
        rc = cookie_mac(p, k->previous, parts, n_parts, want);
        if (rc) return rc;
        ok = cdtls_ct_equal(want, cookie, COOKIE_LEN);
    }
    cdtls_memzero(want, sizeof want);
    return ok ? CDTLS_OK : CDTLS_ERR_BAD_COOKIE;
}
