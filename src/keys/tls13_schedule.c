/* The (D)TLS 1.3 key schedule: RFC 5869 HKDF and RFC 8446 §7 on the
 * provider's HMAC, with the DTLS 1.3 label prefix of RFC 9147 §5.9. */
#include "keys/tls13_schedule.h"

#include <string.h>

#include "common/mem.h"
#include "common/writer.h"

/* The HMAC entry of a hash, or NULL when the provider lacks it. */
static const cdtls_hmac_vt *hmac_of(const cdtls_provider *p, cdtls_hash_alg hash)
{
    if (!p || (unsigned)hash >= CDTLS_HASH__COUNT) return NULL;
    const cdtls_hmac_vt *h = p->hmac[hash];
    return h && h->mac_len <= TLS13_MAX_HASH ? h : NULL;
}

static int hash_len_of(const cdtls_provider *p, cdtls_hash_alg hash, size_t *len)
{
    if (!p || (unsigned)hash >= CDTLS_HASH__COUNT) return CDTLS_ERR_INVALID_ARG;
    const cdtls_hmac_vt *h = hmac_of(p, hash);
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    *len = h->mac_len;
    return CDTLS_OK;
}

int tls13_hkdf_extract(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *salt, size_t salt_len,
                       const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
    if (!p || !prk || (!salt && salt_len) || (!ikm && ikm_len) || (unsigned)hash >= CDTLS_HASH__COUNT)
        return CDTLS_ERR_INVALID_ARG;
    const cdtls_hmac_vt *h = hmac_of(p, hash);
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    /* RFC 5869 §2.2: a missing salt is HashLen zeros; RFC 8446 §7.1: a
     * missing IKM ("0") is HashLen zeros too. HMAC pads a short key with
     * zeros, so an empty salt is the same key, but the IKM is message
     * bytes and must be written out. */
    uint8_t zeros[TLS13_MAX_HASH] = {0};
    cdtls_hmac_ctx ctx;
    h->init(&ctx, salt_len ? salt : zeros, salt_len ? salt_len : h->mac_len);
    if (ikm_len)
        h->update(&ctx, ikm, ikm_len);
    else
        h->update(&ctx, zeros, h->mac_len);
    h->final(&ctx, prk);
    cdtls_memzero(&ctx, sizeof ctx);
    return CDTLS_OK;
}

int tls13_hkdf_expand(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *prk, size_t prk_len,
                      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if (!p || !prk || (!info && info_len) || (!out && out_len) || (unsigned)hash >= CDTLS_HASH__COUNT)
        return CDTLS_ERR_INVALID_ARG;
    const cdtls_hmac_vt *h = hmac_of(p, hash);
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    const size_t n = h->mac_len;
    if (out_len > 255 * n) return CDTLS_ERR_INVALID_ARG; /* RFC 5869 §2.3 */
    /* T(i) = HMAC(PRK, T(i-1) | info | i), T(0) empty. The keyed context
     * is forked per block (provider contract: HMAC contexts are copyable). */
    cdtls_hmac_ctx keyed, work;
    uint8_t t[TLS13_MAX_HASH];
    h->init(&keyed, prk, prk_len);
    size_t done = 0;
    for (unsigned i = 1; done < out_len; i++) {
        uint8_t counter = (uint8_t)i;
        memcpy(&work, &keyed, sizeof work);
        if (i > 1) h->update(&work, t, n);
        if (info_len) h->update(&work, info, info_len);
        h->update(&work, &counter, 1);
        h->final(&work, t);
        size_t take = out_len - done < n ? out_len - done : n;
        memcpy(out + done, t, take);
        done += take;
    }
    cdtls_memzero(&keyed, sizeof keyed);
    cdtls_memzero(&work, sizeof work);
    cdtls_memzero(t, sizeof t);
    return CDTLS_OK;
}

/* HKDF-Expand-Label with the label as bytes (the exporter's label is the
 * application's, not a C string). */
static int expand_label_n(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                          const uint8_t *secret, const uint8_t *label, size_t label_len,
                          const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len)
{
    size_t n;
    int rc = hash_len_of(p, hash, &n);
    if (rc != CDTLS_OK) return rc;
    if (!prefix || !secret || (!label && label_len) || (!context && context_len) || out_len > 0xffff)
        return CDTLS_ERR_INVALID_ARG;
    size_t prefix_len = strlen(prefix);
    /* label<7..255>: the shortest real label ("tls13 " + "iv") is 8 */
    if (prefix_len + label_len > TLS13_MAX_LABEL || prefix_len + label_len < 7 ||
        context_len > TLS13_MAX_CONTEXT)
        return CDTLS_ERR_INVALID_ARG;
    uint8_t info[2 + 1 + TLS13_MAX_LABEL + 1 + TLS13_MAX_CONTEXT];
    cdtls_writer w;
    writer_init(&w, info, sizeof info);
    writer_u16(&w, (unsigned)out_len);
    writer_u8(&w, (unsigned)(prefix_len + label_len));
    writer_bytes(&w, prefix, prefix_len);
    writer_bytes(&w, label, label_len);
    writer_u8(&w, (unsigned)context_len);
    writer_bytes(&w, context, context_len);
    rc = w.failed ? CDTLS_ERR_INTERNAL : tls13_hkdf_expand(p, hash, secret, n, info, w.len, out, out_len);
    /* the context may be a transcript hash: not secret, but cheap to wipe */
    cdtls_memzero(info, sizeof info);
    return rc;
}

int tls13_expand_label(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                       const uint8_t *secret, const char *label, const uint8_t *context, size_t context_len,
                       uint8_t *out, size_t out_len)
{
    if (!label) return CDTLS_ERR_INVALID_ARG;
    return expand_label_n(p, hash, prefix, secret, (const uint8_t *)label, strlen(label), context,
                          context_len, out, out_len);
}

/* HKDF-Expand-Label to Hash.length bytes */
static int expand_label_to_hash_len(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                                    const uint8_t *secret, const char *label, const uint8_t *context,
                                    size_t context_len, uint8_t *out)
{
    size_t n;
    int rc = hash_len_of(p, hash, &n);
    if (rc != CDTLS_OK) return rc;
    if (!out) return CDTLS_ERR_INVALID_ARG;
    return tls13_expand_label(p, hash, prefix, secret, label, context, context_len, out, n);
}

int tls13_derive_secret(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                        const uint8_t *secret, const char *label, const uint8_t *transcript_hash,
                        uint8_t *out)
{
    size_t n;
    int rc = hash_len_of(p, hash, &n);
    if (rc != CDTLS_OK) return rc;
    if (!transcript_hash) return CDTLS_ERR_INVALID_ARG;
    return expand_label_to_hash_len(p, hash, prefix, secret, label, transcript_hash, n, out);
}

int tls13_hash(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *data, size_t len, uint8_t *out)
{
    if (!p || !out || (!data && len) || (unsigned)hash >= CDTLS_HASH__COUNT) return CDTLS_ERR_INVALID_ARG;
    const cdtls_hash_vt *h = p->hash[hash];
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    cdtls_hash_ctx ctx;
    h->init(&ctx);
    if (len) h->update(&ctx, data, len);
    h->final(&ctx, out);
    cdtls_memzero(&ctx, sizeof ctx);
    return CDTLS_OK;
}

/* ------------------------------------------------------------- the chain */

int tls13_schedule_init(tls13_schedule *ks, const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix)
{
    if (!ks || !prefix) return CDTLS_ERR_INVALID_ARG;
    memset(ks, 0, sizeof *ks);
    size_t n;
    int rc = hash_len_of(p, hash, &n);
    if (rc != CDTLS_OK) return rc;
    if (!p->hash[hash] || p->hash[hash]->digest_len != n) return CDTLS_ERR_UNSUPPORTED;
    ks->p = p;
    ks->hash = hash;
    ks->hash_len = n;
    ks->prefix = prefix;
    ks->stage = TLS13_STAGE_NONE;
    return CDTLS_OK;
}

void tls13_schedule_wipe(tls13_schedule *ks)
{
    if (!ks) return;
    cdtls_memzero(ks->secret, sizeof ks->secret);
    ks->stage = TLS13_STAGE_NONE;
}

static int need_stage(const tls13_schedule *ks, tls13_stage stage)
{
    if (!ks || !ks->p) return CDTLS_ERR_INVALID_ARG;
    return ks->stage == stage ? CDTLS_OK : CDTLS_ERR_BAD_STATE;
}

int tls13_schedule_early(tls13_schedule *ks, const uint8_t *psk, size_t psk_len)
{
    int rc = need_stage(ks, TLS13_STAGE_NONE);
    if (rc != CDTLS_OK) return rc;
    if (!psk && psk_len) return CDTLS_ERR_INVALID_ARG;
    rc = tls13_hkdf_extract(ks->p, ks->hash, NULL, 0, psk, psk_len, ks->secret);
    if (rc == CDTLS_OK) ks->stage = TLS13_STAGE_EARLY;
    return rc;
}

/* Derive-Secret(secret, label, "") */
static int derive_empty(const tls13_schedule *ks, const uint8_t *secret, const char *label, uint8_t *out)
{
    uint8_t empty[TLS13_MAX_HASH];
    int rc = tls13_hash(ks->p, ks->hash, NULL, 0, empty);
    if (rc == CDTLS_OK) rc = tls13_derive_secret(ks->p, ks->hash, ks->prefix, secret, label, empty, out);
    return rc;
}

/* The next stage: HKDF-Extract(Derive-Secret(current, "derived", ""), ikm) */
static int advance(tls13_schedule *ks, tls13_stage from, const uint8_t *ikm, size_t ikm_len)
{
    int rc = need_stage(ks, from);
    if (rc != CDTLS_OK) return rc;
    if (!ikm && ikm_len) return CDTLS_ERR_INVALID_ARG;
    uint8_t salt[TLS13_MAX_HASH];
    rc = derive_empty(ks, ks->secret, "derived", salt);
    if (rc == CDTLS_OK)
        rc = tls13_hkdf_extract(ks->p, ks->hash, salt, ks->hash_len, ikm, ikm_len, ks->secret);
    cdtls_memzero(salt, sizeof salt);
    if (rc == CDTLS_OK)
        ks->stage = (tls13_stage)(from + 1);
    else
        tls13_schedule_wipe(ks);
    return rc;
}

int tls13_binder_key(const tls13_schedule *ks, int external, uint8_t *out)
{
    int rc = need_stage(ks, TLS13_STAGE_EARLY);
    if (rc != CDTLS_OK) return rc;
    return derive_empty(ks, ks->secret, external ? "ext binder" : "res binder", out);
}

/* Derive-Secret of the current stage over a caller's transcript hash */
static int derive_at(const tls13_schedule *ks, tls13_stage stage, const char *label, const uint8_t *hash,
                     uint8_t *out)
{
    int rc = need_stage(ks, stage);
    if (rc != CDTLS_OK) return rc;
    return tls13_derive_secret(ks->p, ks->hash, ks->prefix, ks->secret, label, hash, out);
}

/* A client/server pair; on failure neither output holds a secret. */
static int derive_pair(const tls13_schedule *ks, tls13_stage stage, const char *client_label,
                       const char *server_label, const uint8_t *hash, uint8_t *client, uint8_t *server)
{
    if (!client || !server) return CDTLS_ERR_INVALID_ARG;
    int rc = derive_at(ks, stage, client_label, hash, client);
    if (rc == CDTLS_OK) rc = derive_at(ks, stage, server_label, hash, server);
    if (rc != CDTLS_OK && ks && ks->hash_len) {
        cdtls_memzero(client, ks->hash_len);
        cdtls_memzero(server, ks->hash_len);
    }
    return rc;
}

int tls13_early_traffic_secret(const tls13_schedule *ks, const uint8_t *ch_hash, uint8_t *out)
{
    return derive_at(ks, TLS13_STAGE_EARLY, "c e traffic", ch_hash, out);
}

int tls13_early_exporter_master(const tls13_schedule *ks, const uint8_t *ch_hash, uint8_t *out)
{
    return derive_at(ks, TLS13_STAGE_EARLY, "e exp master", ch_hash, out);
}

int tls13_schedule_handshake(tls13_schedule *ks, const uint8_t *shared, size_t shared_len)
{
    return advance(ks, TLS13_STAGE_EARLY, shared, shared_len);
}

int tls13_handshake_traffic_secrets(const tls13_schedule *ks, const uint8_t *ch_sh_hash, uint8_t *client,
                                    uint8_t *server)
{
    return derive_pair(ks, TLS13_STAGE_HANDSHAKE, "c hs traffic", "s hs traffic", ch_sh_hash, client, server);
}

int tls13_schedule_master(tls13_schedule *ks)
{
    return advance(ks, TLS13_STAGE_HANDSHAKE, NULL, 0);
}

int tls13_application_traffic_secrets(const tls13_schedule *ks, const uint8_t *ch_sf_hash, uint8_t *client,
                                      uint8_t *server)
{
    return derive_pair(ks, TLS13_STAGE_MASTER, "c ap traffic", "s ap traffic", ch_sf_hash, client, server);
}

int tls13_exporter_master(const tls13_schedule *ks, const uint8_t *ch_sf_hash, uint8_t *out)
{
    return derive_at(ks, TLS13_STAGE_MASTER, "exp master", ch_sf_hash, out);
}

int tls13_resumption_master(const tls13_schedule *ks, const uint8_t *ch_cf_hash, uint8_t *out)
{
    return derive_at(ks, TLS13_STAGE_MASTER, "res master", ch_cf_hash, out);
}

/* ------------------------------------------------- from a traffic secret */

int tls13_traffic_keys_derive(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                              const uint8_t *traffic_secret, size_t key_len, tls13_traffic_keys *out)
{
    if (!out || key_len == 0 || key_len > TLS13_MAX_KEY) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    int rc = tls13_expand_label(p, hash, prefix, traffic_secret, "key", NULL, 0, out->key, key_len);
    if (rc == CDTLS_OK)
        rc = tls13_expand_label(p, hash, prefix, traffic_secret, "iv", NULL, 0, out->iv, TLS13_IV_LEN);
    /* RFC 9147 §4.2.3: sn_key = HKDF-Expand-Label(Secret, "sn", "", key_length) */
    if (rc == CDTLS_OK)
        rc = tls13_expand_label(p, hash, prefix, traffic_secret, "sn", NULL, 0, out->sn_key, key_len);
    if (rc != CDTLS_OK) {
        cdtls_memzero(out, sizeof *out);
        return rc;
    }
    out->key_len = key_len;
    return CDTLS_OK;
}

int tls13_next_traffic_secret(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                              const uint8_t *secret, uint8_t *out)
{
    uint8_t next[TLS13_MAX_HASH];
    if (!out) return CDTLS_ERR_INVALID_ARG;
    int rc = expand_label_to_hash_len(p, hash, prefix, secret, "traffic upd", NULL, 0, next);
    if (rc == CDTLS_OK) memcpy(out, next, p->hmac[hash]->mac_len); /* out may be the secret itself */
    cdtls_memzero(next, sizeof next);
    return rc;
}

int tls13_finished_key(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                       const uint8_t *base_key, uint8_t *out)
{
    return expand_label_to_hash_len(p, hash, prefix, base_key, "finished", NULL, 0, out);
}

int tls13_verify_data(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                      const uint8_t *base_key, const uint8_t *transcript_hash, uint8_t *out)
{
    uint8_t key[TLS13_MAX_HASH];
    if (!transcript_hash || !out) return CDTLS_ERR_INVALID_ARG;
    int rc = tls13_finished_key(p, hash, prefix, base_key, key);
    if (rc == CDTLS_OK) {
        const cdtls_hmac_vt *h = hmac_of(p, hash);
        cdtls_hmac_ctx ctx;
        h->init(&ctx, key, h->mac_len);
        h->update(&ctx, transcript_hash, h->mac_len);
        h->final(&ctx, out);
        cdtls_memzero(&ctx, sizeof ctx);
    }
    cdtls_memzero(key, sizeof key);
    return rc;
}

int tls13_verify_data_check(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                            const uint8_t *base_key, const uint8_t *transcript_hash, const uint8_t *received,
                            size_t received_len)
{
    size_t n;
    int rc = hash_len_of(p, hash, &n);
    if (rc != CDTLS_OK) return rc;
    if (!received && received_len) return CDTLS_ERR_INVALID_ARG;
    uint8_t want[TLS13_MAX_HASH];
    rc = tls13_verify_data(p, hash, prefix, base_key, transcript_hash, want);
    if (rc == CDTLS_OK && (received_len != n || !cdtls_ct_equal(want, received, n)))
        rc = CDTLS_ERR_BAD_FINISHED;
    cdtls_memzero(want, sizeof want);
    return rc;
}

int tls13_export(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                 const uint8_t *exporter_master, const uint8_t *label, size_t label_len,
                 const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len)
{
    size_t n;
    int rc = hash_len_of(p, hash, &n);
    if (rc != CDTLS_OK) return rc;
    if (!exporter_master || (!label && label_len) || (!context && context_len) || (!out && out_len))
        return CDTLS_ERR_INVALID_ARG;
    uint8_t empty[TLS13_MAX_HASH], ctx_hash[TLS13_MAX_HASH], secret[TLS13_MAX_HASH];
    rc = tls13_hash(p, hash, NULL, 0, empty);
    if (rc == CDTLS_OK)
        rc = expand_label_n(p, hash, prefix, exporter_master, label, label_len, empty, n, secret, n);
    if (rc == CDTLS_OK) rc = tls13_hash(p, hash, context, context_len, ctx_hash);
    if (rc == CDTLS_OK)
        rc = expand_label_n(p, hash, prefix, secret, (const uint8_t *)"exporter", 8, ctx_hash, n, out,
                            out_len);
    cdtls_memzero(secret, sizeof secret);
    if (rc != CDTLS_OK && out_len) cdtls_memzero(out, out_len);
    return rc;
}

int tls13_resumption_psk(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                         const uint8_t *resumption_master, const uint8_t *nonce, size_t nonce_len,
                         uint8_t *out)
{
    return expand_label_to_hash_len(p, hash, prefix, resumption_master, "resumption", nonce, nonce_len, out);
}
