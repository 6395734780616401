/* TLS 1.2 PRF, RFC 5246 §5:
 *   P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...
 *   A(0) = seed, A(i) = HMAC(secret, A(i-1))
 *   PRF(secret, label, seed) = P_hash(secret, label + seed)
 */
#include "keys/prf.h"

#include <string.h>

#include "cdtls/prf.h"
#include "common/mem.h"

static void feed_seed(const cdtls_hmac_vt *h, cdtls_hmac_ctx *ctx, const uint8_t *label, size_t label_len,
                      const prf_seed *seeds, size_t n_seeds)
{
    h->update(ctx, label, label_len);
    for (size_t i = 0; i < n_seeds; i++)
        if (seeds[i].len) h->update(ctx, seeds[i].p, seeds[i].len);
}

int prf_tls12(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *secret, size_t secret_len,
              const uint8_t *label, size_t label_len, const prf_seed *seeds, size_t n_seeds, uint8_t *out,
              size_t out_len)
{
    if (!p || (unsigned)hash >= CDTLS_HASH__COUNT || (!out && out_len) || (!secret && secret_len) ||
        (!label && label_len) || (!seeds && n_seeds))
        return CDTLS_ERR_INVALID_ARG;
    const cdtls_hmac_vt *h = p->hmac[hash];
    if (!h) return CDTLS_ERR_UNSUPPORTED;

    /* Key the HMAC once and fork the keyed context for every block: the
     * provider contract makes HMAC contexts memcpy-copyable. */
    cdtls_hmac_ctx keyed, work;
    uint8_t a[CDTLS_HASH_MAX_DIGEST], block[CDTLS_HASH_MAX_DIGEST];
    const size_t n = h->mac_len;
    h->init(&keyed, secret, secret_len);

    /* A(1) = HMAC(secret, label + seed) */
    memcpy(&work, &keyed, sizeof work);
    feed_seed(h, &work, label, label_len, seeds, n_seeds);
    h->final(&work, a);

    size_t done = 0;
    while (done < out_len) {
        memcpy(&work, &keyed, sizeof work);
        h->update(&work, a, n);
        feed_seed(h, &work, label, label_len, seeds, n_seeds);
        h->final(&work, block);
        size_t take = out_len - done < n ? out_len - done : n;
        memcpy(out + done, block, take);
        done += take;
        if (done < out_len) {
            memcpy(&work, &keyed, sizeof work);
            h->update(&work, a, n);
            h->final(&work, a);
        }
    }
    cdtls_memzero(&keyed, sizeof keyed);
    cdtls_memzero(&work, sizeof work);
    cdtls_memzero(a, sizeof a);
    cdtls_memzero(block, sizeof block);
    return CDTLS_OK;
}

int cdtls_tls12_prf(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *secret, size_t secret_len,
                    const char *label, const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
    if (!label || (!seed && seed_len)) return CDTLS_ERR_INVALID_ARG;
    prf_seed s = {seed, seed_len};
    return prf_tls12(p, hash, secret, secret_len, (const uint8_t *)label, strlen(label), &s, 1, out, out_len);
}
