/* Moving an established connection to another process (or host): its
 * state serialized, versioned, encrypted and authenticated under a key the
 * two processes share, and a connection rebuilt from it that continues the
 * same session (same keys, the next sequence numbers, the replay window).
 *
 * Blob: "CDTLSST" || version(1) || aead(1) || nonce(12) || AEAD(state), the
 * 21 clear bytes as additional data. ChaCha20-Poly1305 if the provider has
 * it, else AES-256-GCM; key 32 bytes.
 *
 * Version 1 holds a DTLS 1.2 connection (master secret, randoms: the keys
 * are derived again), version 2 a DTLS 1.3 one: the current application
 * traffic secrets both ways (the next epochs of a KeyUpdate derive from
 * them, RFC 8446 §7.2), the exporter master secret (RFC 8446 §7.5), the
 * write epoch and sequence number, the read epoch with its replay window
 * (RFC 9147 §4.5.1) and the AEAD-limit counters of both keys (§4.5.3).
 * Dropped from a 1.3 connection: the peer's certificate (as in 1.2), the
 * keys of the read epoch before the peer's last KeyUpdate (records of it
 * still in flight are lost) and the server's epoch-2 read keys. A 1.3
 * connection whose last flight or KeyUpdate is not acknowledged yet is not
 * exported (CDTLS_ERR_BAD_STATE): its retransmission state is not moved.
 *
 * The exporting connection is retired (CLOSED, nothing more is sent): two
 * live copies would reuse AEAD nonces. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/conn_internal.h"
#include "engine/hs13_internal.h"

#define STATE_MAGIC "CDTLSST"
#define STATE_VERSION 1u   /* DTLS 1.2 */
#define STATE_VERSION13 2u /* DTLS 1.3 */
#define STATE_HDR (7u + 1u + 1u + 12u)
#define STATE_BODY_MAX 2048u

static const cdtls_aead_vt *state_aead(const cdtls_provider *p, uint8_t *alg)
{
    const cdtls_aead_vt *a = blob_aead(p);
    *alg = a ? (uint8_t)a->alg : 0;
    return a;
}

static void put_vec8(cdtls_writer *w, const uint8_t *p, size_t n)
{
    writer_u8(w, (unsigned)n);
    writer_bytes(w, p, n);
}

#if CDTLS_HAVE_DTLS13
static void put_u64(cdtls_writer *w, uint64_t v)
{
    writer_u32(w, (uint32_t)(v >> 32));
    writer_u32(w, (uint32_t)v);
}

static void put_window(cdtls_writer *w, const replay_window *rw)
{
    writer_u16(w, rw->size);
    writer_u8(w, (unsigned)rw->any);
    put_u64(w, rw->top);
    for (unsigned i = 0; i < rw->size / 64; i++) put_u64(w, rw->bits[i]);
}
#endif

/* The flags byte's bit for "the return routability check (RFC 9853) was
 * negotiated": the imported connection keeps checking new addresses. */
#define FLAG_RRC 16u

/* What both versions carry after their keys */
static void put_common(cdtls_writer *w, const cdtls_conn *c)
{
    put_vec8(w, c->alpn, c->alpn_len);
    writer_u16(w, c->srtp_profile);
    put_vec8(w, c->srtp_mki, c->srtp_mki_len);
    put_vec8(w, c->own_cid, c->own_cid_len);
    put_vec8(w, c->peer_cid, c->peer_cid_len);
    put_vec8(w, c->peer_addr, c->peer_addr_len);
    writer_u16(w, (unsigned)c->psk_identity_len);
    writer_bytes(w, c->psk_identity, c->psk_identity_len);
}

static int put12(const cdtls_conn *c, cdtls_writer *w)
{
    if (c->hs != HS_DONE || !c->have_read_cipher) return CDTLS_ERR_BAD_STATE;
    writer_u8(w, (unsigned)c->role);
    writer_u16(w, c->suite->id);
    writer_u8(w, (unsigned)((c->use_ems ? 1 : 0) | (c->use_etm ? 2 : 0) | (c->use_cid ? 4 : 0) |
                            (c->peer_secure_reneg ? 8 : 0) | (cdtls_conn_uses_rrc(c) ? FLAG_RRC : 0)));
    writer_bytes(w, c->master, KS_MASTER_LEN);
    writer_bytes(w, c->client_random, KS_RANDOM_LEN);
    writer_bytes(w, c->server_random, KS_RANDOM_LEN);
    writer_u48(w, c->write_seq[1]);
    const replay_window *rw = &c->replay[1];
    writer_u16(w, rw->size);
    writer_u8(w, (unsigned)rw->any);
    writer_u48(w, rw->top);
    for (unsigned i = 0; i < rw->size / 64; i++) {
        writer_u32(w, (uint32_t)(rw->bits[i] >> 32));
        writer_u32(w, (uint32_t)rw->bits[i]);
    }
    writer_u8(w, (unsigned)c->have_newest);
    writer_u48(w, c->newest_seq);
    put_common(w, c);
    return CDTLS_OK;
}

#if CDTLS_HAVE_DTLS13
static int put13(const cdtls_conn *c, cdtls_writer *w)
{
    const conn13 *v = c->v13;
    /* an unacknowledged final flight or KeyUpdate would need its
     * retransmission state moved too; so would the CIDs NewConnectionId
     * and RequestConnectionId added (v->cid, hs13_cid.c): not in the blob */
    if (!v || v->st != H13_DONE || c->hs != HS_DONE || v->final_pending || v->ku_pending || !v->tx_ap ||
        !v->rx_ap || v->cid)
        return CDTLS_ERR_BAD_STATE;
    if (hs13_ph_busy(c)) return CDTLS_ERR_BAD_STATE; /* a post-handshake auth exchange (not moved) */
    writer_u8(w, (unsigned)c->role);
    writer_u16(w, v->suite);
    writer_u8(w, (c->use_cid ? 4u : 0u) | (cdtls_conn_uses_rrc(c) ? FLAG_RRC : 0u));
    put_vec8(w, v->c_ap, v->hash_len);
    put_vec8(w, v->s_ap, v->hash_len);
    put_vec8(w, v->exporter, v->hash_len);
    writer_bytes(w, c->client_random, KS_RANDOM_LEN); /* the key log's label */
    put_u64(w, v->tx_ap_epoch);
    put_u64(w, v->tx_seq_ap);
    put_u64(w, v->tx_ap->sealed);
    put_u64(w, v->rx_ap->epoch);
    put_u64(w, v->rx_ap->next_expected);
    put_u64(w, v->rx_ap->cipher.failed);
    put_window(w, &v->rx_ap->window);
    writer_u16(w, c->send_msg_seq);
    writer_u16(w, conn_peer_next_seq(c));
    writer_u32(w, v->ku_sent);
    writer_u32(w, v->ku_received);
    writer_u16(w, v->group);
    put_common(w, c);
    return CDTLS_OK;
}
#endif

int cdtls_conn_export_state(cdtls_conn *c, const uint8_t key[32], uint8_t *out, size_t cap, size_t *out_len)
{
    if (!c || !key || !out || !out_len) return CDTLS_ERR_INVALID_ARG;
    if (c->state != CDTLS_STATE_ESTABLISHED) return CDTLS_ERR_BAD_STATE;
    uint8_t alg;
    const cdtls_aead_vt *a = state_aead(c->p, &alg);
    if (!a) return CDTLS_ERR_UNSUPPORTED;
    uint8_t body[STATE_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    uint8_t version = STATE_VERSION;
    int rc;
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3) {
        version = STATE_VERSION13;
        rc = put13(c, &w);
    } else
#endif
        rc = put12(c, &w);
    if (!rc && w.failed) rc = CDTLS_ERR_INTERNAL;
    const size_t need = STATE_HDR + w.len + a->tag_len;
    if (!rc && cap < need) rc = CDTLS_ERR_BUFFER_TOO_SMALL;
    if (!rc) {
        memcpy(out, STATE_MAGIC, 7);
        out[7] = version;
        out[8] = alg;
        rc = c->p->random(c->p, out + 9, 12);
    }
    cdtls_aead_ctx ctx;
    if (!rc) rc = a->init(&ctx, key, 32);
    if (!rc) {
        rc = a->seal(&ctx, out + 9, 12, out, STATE_HDR, body, w.len, out + STATE_HDR);
        a->clear(&ctx);
    }
    cdtls_memzero(body, sizeof body);
    if (rc) return rc;
    *out_len = need;
    /* Retire this copy: the importer continues from the write sequence
     * number; sending here as well would reuse nonces under the same key. */
    c->state = CDTLS_STATE_CLOSED;
    c->close_sent = 1;
    return CDTLS_OK;
}

static int read_vec8(cdtls_reader *r, uint8_t *dst, size_t cap, size_t *len)
{
    cdtls_reader v;
    if (!reader_vec8(r, 0, 255, &v) || v.left > cap) return 0;
    if (v.left) memcpy(dst, v.p, v.left);
    *len = v.left;
    return 1;
}

/* put_common's fields; the reader must end with them. */
static int get_common(cdtls_conn *c, cdtls_reader *r)
{
    uint16_t srtp;
    if (!read_vec8(r, c->alpn, sizeof c->alpn - 1, &c->alpn_len)) return CDTLS_ERR_DECODE;
    c->alpn[c->alpn_len] = 0;
    reader_u16(r, &srtp);
    c->srtp_profile = srtp;
    if (!read_vec8(r, c->srtp_mki, sizeof c->srtp_mki, &c->srtp_mki_len) ||
        !read_vec8(r, c->own_cid, sizeof c->own_cid, &c->own_cid_len) ||
        !read_vec8(r, c->peer_cid, sizeof c->peer_cid, &c->peer_cid_len) ||
        !read_vec8(r, c->peer_addr, sizeof c->peer_addr, &c->peer_addr_len))
        return CDTLS_ERR_DECODE;
    cdtls_reader id;
    if (!reader_vec16(r, 0, sizeof c->psk_identity, &id) || r->left) return CDTLS_ERR_DECODE;
    if (id.left) memcpy(c->psk_identity, id.p, id.left);
    c->psk_identity_len = id.left;
    return CDTLS_OK;
}

#if CDTLS_HAVE_DTLS13
static int get_u64(cdtls_reader *r, uint64_t *v)
{
    uint32_t hi = 0, lo = 0;
    reader_u32(r, &hi);
    reader_u32(r, &lo);
    *v = ((uint64_t)hi << 32) | lo;
    return !r->failed;
}

/* A secret of the suite's hash length */
static int get_secret(cdtls_reader *r, uint8_t *dst, size_t want)
{
    size_t n = 0;
    return read_vec8(r, dst, TLS13_MAX_HASH, &n) && n == want;
}

static int restore13(cdtls_conn *c, cdtls_reader *r, uint64_t now_ms)
{
    uint8_t role, flags, any;
    uint16_t suite, size, send_seq, peer_seq, group;
    uint32_t ku_sent, ku_received;
    uint64_t tx_epoch, tx_seq, sealed, rx_epoch, next_expected, failed, top;
    const uint8_t *p;
    reader_u8(r, &role);
    reader_u16(r, &suite);
    reader_u8(r, &flags);
    if (r->failed || role != (uint8_t)c->role) return CDTLS_ERR_INVALID_ARG;
    cdtls_hash_alg hash;
    size_t key_len;
    if (!hs13_suite_params(suite, &hash, &key_len) || !c->p->hash[hash]) return CDTLS_ERR_UNSUPPORTED;
    conn13 *v = hs13_alloc(c);
    if (!v) return CDTLS_ERR_NOMEM;
    hs13_handshake_done(c); /* no handshake state: it is over */
    c->version = CDTLS_VERSION_1_3;
    hs13_set_suite(v, suite);
    v->hash_len = c->p->hash[hash]->digest_len;
    c->use_cid = (flags >> 2) & 1;
    if (flags & FLAG_RRC) {
        if (!c->use_cid) return CDTLS_ERR_DECODE;
        int rc = conn_rrc_restore(c);
        if (rc) return rc;
    }
    if (!get_secret(r, v->c_ap, v->hash_len) || !get_secret(r, v->s_ap, v->hash_len) ||
        !get_secret(r, v->exporter, v->hash_len) || !reader_bytes(r, KS_RANDOM_LEN, &p))
        return CDTLS_ERR_DECODE;
    memcpy(c->client_random, p, KS_RANDOM_LEN);
    get_u64(r, &tx_epoch);
    get_u64(r, &tx_seq);
    get_u64(r, &sealed);
    get_u64(r, &rx_epoch);
    get_u64(r, &next_expected);
    get_u64(r, &failed);
    reader_u16(r, &size);
    reader_u8(r, &any);
    get_u64(r, &top);
    /* application epochs start at 3 (RFC 9147 §6.1) */
    if (r->failed || size > REPLAY_WINDOW_MAX || size % 64 || tx_epoch < 3 || rx_epoch < 3)
        return CDTLS_ERR_DECODE;
    v->tx_ap = cdtls_alloc_zero(c->a, sizeof *v->tx_ap);
    v->rx_ap = cdtls_alloc_zero(c->a, sizeof *v->rx_ap);
    if (!v->tx_ap || !v->rx_ap) return CDTLS_ERR_NOMEM; /* freed with the connection */
    record13_rx_epoch *e = v->rx_ap;
    record13_rx_epoch_init(e, rx_epoch, size);
    e->window.any = any != 0;
    e->window.top = top;
    for (unsigned i = 0; i < size / 64u; i++) get_u64(r, &e->window.bits[i]);
    e->next_expected = next_expected;
    reader_u16(r, &send_seq);
    reader_u16(r, &peer_seq);
    reader_u32(r, &ku_sent);
    reader_u32(r, &ku_received);
    reader_u16(r, &group);
    if (r->failed || get_common(c, r)) return CDTLS_ERR_DECODE;
    const int client = c->role == CDTLS_CLIENT;
    int rc = hs13_cipher_from_secret(c, v->tx_ap, client ? v->c_ap : v->s_ap);
    if (!rc) rc = hs13_cipher_from_secret(c, &e->cipher, client ? v->s_ap : v->c_ap);
    if (rc) return rc;
    v->tx_ap->sealed = sealed;
    e->cipher.failed = failed;
    v->tx_ap_epoch = tx_epoch;
    v->tx_seq_ap = tx_seq;
    v->tx_epoch = tx_epoch;
    v->ku_sent = ku_sent;
    v->ku_received = ku_received;
    v->group = group;
    v->last_now_ms = now_ms;
    c->send_msg_seq = send_seq;
    hs13_established(c);
    c->timer_at_ms = UINT64_MAX;
    conn_handshake_end(c);
    c->peer_next_seq = peer_seq;
    return CDTLS_OK;
}
#endif

static int restore(cdtls_conn *c, cdtls_reader *r)
{
    uint8_t role, flags, any, have_newest;
    uint16_t suite, size;
    const uint8_t *p;
    reader_u8(r, &role);
    reader_u16(r, &suite);
    reader_u8(r, &flags);
    if (r->failed || role != (uint8_t)c->role) return CDTLS_ERR_INVALID_ARG;
    c->suite = suite_find(suite);
    if (!c->suite || !cdtls_cipher_suite_supported(c->p, suite)) return CDTLS_ERR_UNSUPPORTED;
    c->use_ems = flags & 1, c->use_etm = (flags >> 1) & 1, c->use_cid = (flags >> 2) & 1;
    c->peer_secure_reneg = (flags >> 3) & 1;
    if (flags & FLAG_RRC) {
        if (!c->use_cid) return CDTLS_ERR_DECODE;
        int rc = conn_rrc_restore(c);
        if (rc) return rc;
    }
    if (!reader_bytes(r, KS_MASTER_LEN, &p)) return CDTLS_ERR_DECODE;
    memcpy(c->master, p, KS_MASTER_LEN);
    if (!reader_bytes(r, KS_RANDOM_LEN, &p)) return CDTLS_ERR_DECODE;
    memcpy(c->client_random, p, KS_RANDOM_LEN);
    if (!reader_bytes(r, KS_RANDOM_LEN, &p)) return CDTLS_ERR_DECODE;
    memcpy(c->server_random, p, KS_RANDOM_LEN);
    reader_u48(r, &c->write_seq[1]);
    reader_u16(r, &size);
    reader_u8(r, &any);
    replay_window *rw = &c->replay[1];
    if (r->failed || size > REPLAY_WINDOW_MAX || size % 64) return CDTLS_ERR_DECODE;
    replay_init(rw, size);
    rw->any = any != 0;
    reader_u48(r, &rw->top);
    for (unsigned i = 0; i < size / 64u; i++) {
        uint32_t hi = 0, lo = 0;
        reader_u32(r, &hi);
        reader_u32(r, &lo);
        rw->bits[i] = ((uint64_t)hi << 32) | lo;
    }
    reader_u8(r, &have_newest);
    reader_u48(r, &c->newest_seq);
    c->have_newest = have_newest != 0;
    if (r->failed || get_common(c, r)) return CDTLS_ERR_DECODE;
    if (c->use_cid && c->suite->kind != SUITE_AEAD) return CDTLS_ERR_DECODE;
    /* Keys from the master secret, as at the end of the handshake */
    int rc = conn_install_keys(c);
    if (rc) return rc;
    c->read_cipher = c->h->pending_read;
    memset(&c->h->pending_read, 0, sizeof c->h->pending_read);
    c->h->have_pending_read = 0;
    c->have_read_cipher = 1;
    c->read_epoch = c->write_epoch = 1;
    c->hs = HS_DONE;
    c->state = CDTLS_STATE_ESTABLISHED;
#if CDTLS_HAVE_DTLS13
    c->version = CDTLS_VERSION_1_2; /* only 1.2 connections are exported */
#endif
    c->timer_at_ms = UINT64_MAX;
    conn_keep_record_buffers(c);
    conn_handshake_end(c);
    return CDTLS_OK;
}

int cdtls_conn_import_state(const cdtls_config *cfg, const uint8_t key[32], const uint8_t *in, size_t len,
                            uint64_t now_ms, cdtls_conn **out)
{
    if (!cfg || !key || !in || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if (len < STATE_HDR + 16 || memcmp(in, STATE_MAGIC, 7) != 0) return CDTLS_ERR_DECODE;
    /* a 1.3 state needs the 1.3 engine (not in a CDTLS_NO_DTLS13 build) */
    if (in[7] != STATE_VERSION && (!CDTLS_HAVE_DTLS13 || in[7] != STATE_VERSION13))
        return CDTLS_ERR_UNSUPPORTED;
    const cdtls_provider *p = cfg->provider ? cfg->provider : cdtls_provider_default();
    if (!p) return CDTLS_ERR_UNSUPPORTED;
    uint8_t alg = in[8];
    if (alg != CDTLS_AEAD_CHACHA20_POLY1305 && alg != CDTLS_AEAD_AES_256_GCM) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_aead_vt *a = p->aead[alg];
    if (!a) return CDTLS_ERR_UNSUPPORTED;
    if (len < STATE_HDR + a->tag_len || len - STATE_HDR - a->tag_len > STATE_BODY_MAX)
        return CDTLS_ERR_DECODE;
    const size_t body_len = len - STATE_HDR - a->tag_len;
    uint8_t body[STATE_BODY_MAX];
    cdtls_aead_ctx ctx;
    int rc = a->init(&ctx, key, 32);
    if (rc) return rc;
    rc = a->open(&ctx, in + 9, 12, in, STATE_HDR, in + STATE_HDR, body_len + a->tag_len, body);
    a->clear(&ctx);
    if (rc) return CDTLS_ERR_AUTH;
    /* The role is the first byte; the configuration supplies the rest
     * (provider, allocator, callbacks, limits). */
    cdtls_conn *c = NULL;
    rc = body_len ? cdtls_conn_new(cfg, body[0] == CDTLS_SERVER ? CDTLS_SERVER : CDTLS_CLIENT, now_ms, &c)
                  : CDTLS_ERR_DECODE;
    if (!rc) {
        cdtls_reader r;
        reader_init(&r, body, body_len);
#if CDTLS_HAVE_DTLS13
        if (in[7] == STATE_VERSION13)
            rc = restore13(c, &r, now_ms);
        else
#endif
            rc = restore(c, &r);
    }
    cdtls_memzero(body, sizeof body);
    if (rc) {
        cdtls_conn_free(c);
        return rc;
    }
    *out = c;
    return CDTLS_OK;
}
