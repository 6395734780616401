/* The sans-IO connection: record dispatch, flights and their
 * retransmission timer, alerts, application data. The handshake state
 * machines are in hs_common.c, hs_client.c and hs_server.c. */
#include <stddef.h>
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/reader.h"
#include "common/writer.h"
#include "engine/conn_internal.h"
#include "engine/x509_use.h"
#include "handshake/hs_msg.h"

#define NO_TIMER UINT64_MAX

/* ------------------------------------------------------------ lifecycle */

/* ------------------------------------------------------------- context */

/* Everything about a configuration that does not depend on the peer:
 * checked and parsed once here, not once per connection. */
/* The configured suites, or the provider's defaults, that the provider can
 * do, in preference order (at most CONTEXT_MAX_SUITES of them). */
static void context_filter_suites(cdtls_context *x)
{
    const cdtls_config *cfg = &x->cfg;
    uint16_t all[CONTEXT_MAX_SUITES];
    size_t m;
    if (cfg->negotiate.cipher_suites) {
        m = cfg->negotiate.n_cipher_suites < CONTEXT_MAX_SUITES ? cfg->negotiate.n_cipher_suites
                                                                : CONTEXT_MAX_SUITES;
        memcpy(all, cfg->negotiate.cipher_suites, m * sizeof all[0]);
    } else {
        m = cdtls_default_cipher_suites(x->p, all, CONTEXT_MAX_SUITES);
        if (m > CONTEXT_MAX_SUITES) m = CONTEXT_MAX_SUITES;
    }
    x->n_suites = 0;
    for (size_t i = 0; i < m; i++)
        if (cdtls_cipher_suite_supported(x->p, all[i])) x->suites[x->n_suites++] = all[i];
}

static int context_validate(cdtls_context *x)
{
    const cdtls_config *cfg = &x->cfg;
    if (cfg->mtu < 128 || cfg->mtu > 65507 || cfg->timers.retransmit_initial_ms == 0 ||
        cfg->timers.retransmit_max_ms < cfg->timers.retransmit_initial_ms ||
        (cfg->limits.replay_window % 64) != 0 || cfg->limits.replay_window > REPLAY_WINDOW_MAX ||
        !hs_app_ext_config_ok(cfg) || cfg->psk.key_len > CDTLS_MAX_PSK_LEN ||
        (cfg->psk.key_len && !cfg->psk.key) || cfg->psk.identity_len > CDTLS_MAX_PSK_IDENTITY_LEN ||
        (cfg->psk.identity_len && !cfg->psk.identity) || cfg->psk.hint_len > CDTLS_MAX_PSK_IDENTITY_LEN ||
        (cfg->psk.hint_len && !cfg->psk.hint) ||
        (cfg->verify.n_spki_pins && !cfg->verify.pinned_spki_sha256) || cfg->cid.length > CDTLS_MAX_CID_LEN)
        return CDTLS_ERR_INVALID_ARG;
        /* versions: 1.2 and, when built in, 1.3; DTLS versions count down */
#if CDTLS_HAVE_DTLS13
    {
        const uint16_t lo = conn_min_version(cfg), hi = conn_max_version(cfg);
        if (lo > CDTLS_VERSION_1_2 || lo < CDTLS_VERSION_1_3 || hi > CDTLS_VERSION_1_2 ||
            hi < CDTLS_VERSION_1_3 || hi > lo)
            return CDTLS_ERR_INVALID_ARG;
    }
#else
    if ((cfg->versions.min && cfg->versions.min != CDTLS_VERSION_1_2) ||
        (cfg->versions.max && cfg->versions.max != CDTLS_VERSION_1_2))
        return CDTLS_ERR_INVALID_ARG;
#endif
    if (!x->p->hash[CDTLS_HASH_SHA256]) return CDTLS_ERR_UNSUPPORTED;
    /* our raw public key (RFC 7250) and leaf certificate: their key types
     * decide which suites and schemes we can do */
    if (cfg->credentials.raw_public_key_len) {
        if (!cfg->credentials.raw_public_key || !cfg->credentials.private_key) return CDTLS_ERR_INVALID_ARG;
        int rc = engine_x509_parse_spki(cfg->credentials.raw_public_key, cfg->credentials.raw_public_key_len,
                                        &x->own_rpk_key);
        if (rc) return rc;
        x->have_own_rpk = 1;
    }
    context_filter_suites(x);
    if (cfg->credentials.n_certs) {
        if (!cfg->credentials.chain || !cfg->credentials.chain_len || !cfg->credentials.private_key)
            return CDTLS_ERR_INVALID_ARG;
        int rc = engine_x509_parse(cfg->credentials.chain[0], cfg->credentials.chain_len[0], &x->own_leaf);
        if (rc) return rc;
        x->have_own_leaf = 1;
    }
    return CDTLS_OK;
}

/* The caller's config, of the size its header had (cfg->size): a shorter
 * one (an older header) leaves the settings added since at their defaults;
 * a longer one (a newer header) is taken only if everything we do not know
 * is zero, so no setting the caller made is silently ignored. */
static int context_take_config(cdtls_config *dst, const cdtls_config *src)
{
    const size_t first = offsetof(cdtls_config, callbacks) + sizeof(cdtls_callbacks);
    size_t n = src->size;
    if (n < first) return CDTLS_ERR_INVALID_ARG; /* not made by cdtls_config_init */
    const uint8_t *b = (const uint8_t *)src;
    for (size_t i = sizeof *dst; i < n; i++)
        if (b[i]) return CDTLS_ERR_UNSUPPORTED;
    cdtls_config_init(dst);
    memcpy(dst, src, n < sizeof *dst ? n : sizeof *dst);
    dst->size = sizeof *dst;
    return CDTLS_OK;
}

int cdtls_context_new(const cdtls_config *cfg, cdtls_context **out)
{
    if (!cfg || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    const cdtls_provider *p = cfg->provider ? cfg->provider : cdtls_provider_default();
    const cdtls_allocator *a = cfg->allocator ? cfg->allocator : cdtls_allocator_libc();
    if (!p || !a || !p->random || p->abi_version != CDTLS_PROVIDER_ABI_VERSION) return CDTLS_ERR_UNSUPPORTED;
    cdtls_context *x = cdtls_alloc_zero(a, sizeof *x);
    if (!x) return CDTLS_ERR_NOMEM;
    int rc = context_take_config(&x->cfg, cfg);
    if (rc) {
        cdtls_free_wipe(a, x, sizeof *x);
        return rc;
    }
    x->p = p;
    x->a = a;
    rc = context_validate(x);
    if (rc) {
        cdtls_free_wipe(a, x, sizeof *x);
        return rc;
    }
    *out = x;
    return CDTLS_OK;
}

void cdtls_context_free(cdtls_context *x)
{
    if (x) cdtls_free_wipe(x->a, x, sizeof *x);
}

const cdtls_config *cdtls_context_config(const cdtls_context *x)
{
    return x ? &x->cfg : NULL;
}

const cdtls_context *cdtls_conn_context(const cdtls_conn *c)
{
    return c ? c->ctx : NULL;
}

/* -------------------------------------------------------- connections */

/* The handshake's state, from the context: the PSK (the callback may
 * replace it), our credentials, both transcript hashes running until
 * ServerHello fixes the PRF hash (RFC 5246 §7.4.9). */
static int handshake_init(cdtls_conn *c, uint64_t now_ms)
{
    const cdtls_context *x = c->ctx;
    const cdtls_config *cfg = c->cfg;
    conn_handshake *h = c->h;
    h->hs_started_ms = now_ms;
    dgram_queue_init(&h->early);
    dgram_queue_init(&h->early_app);
    if (cfg->psk.key_len) memcpy(h->psk, cfg->psk.key, cfg->psk.key_len);
    h->psk_len = cfg->psk.key_len;
    if (cfg->psk.hint_len) memcpy(h->psk_hint, cfg->psk.hint, cfg->psk.hint_len);
    h->psk_hint_len = cfg->psk.hint_len;
    h->cert_chain = cfg->credentials.chain;
    h->cert_chain_len = cfg->credentials.chain_len;
    h->n_certs = cfg->credentials.n_certs;
    h->private_key = cfg->credentials.private_key;
    h->own_leaf = x->own_leaf;
    h->have_own_leaf = x->have_own_leaf;
    h->own_rpk_key = x->own_rpk_key;
    h->have_own_rpk = x->have_own_rpk;
    /* keep the handshake messages if a CertificateVerify may be made or checked */
    h->hs_log_on = (c->role == CDTLS_SERVER && cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE) ||
                   (c->role == CDTLS_CLIENT &&
                    (cfg->credentials.n_certs > 0 || cfg->credentials.raw_public_key_len > 0));
    for (int i = 0; i < 2; i++) {
        const cdtls_hash_vt *hv = c->p->hash[i == 0 ? CDTLS_HASH_SHA256 : CDTLS_HASH_SHA384];
        if (hv) {
            hv->init(&h->transcript[i]);
            h->transcript_has[i] = 1;
        }
    }
    hs_reasm_limits lim = {cfg->limits.max_handshake_message, cfg->limits.max_handshake_buffer, NULL};
    return hs_reasm_init(&h->reasm, c->a, &lim);
}

int cdtls_conn_new_from(const cdtls_context *x, cdtls_role role, uint64_t now_ms, cdtls_conn **out)
{
    if (!x || !out || (role != CDTLS_CLIENT && role != CDTLS_SERVER)) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    const cdtls_allocator *a = x->a;
    cdtls_conn *c = cdtls_alloc_zero(a, sizeof *c);
    if (!c) return CDTLS_ERR_NOMEM;
    c->h = cdtls_alloc_zero(a, sizeof *c->h);
    if (!c->h) {
        a->free(a->ctx, c, sizeof *c);
        return CDTLS_ERR_NOMEM;
    }
    c->ctx = x;
    c->cfg = &x->cfg;
    c->p = x->p;
    c->a = a;
    c->mtu = x->cfg.mtu;
    c->role = role;
    c->state = CDTLS_STATE_HANDSHAKING;
    c->hs = role == CDTLS_CLIENT ? HS_C_START : HS_S_WAIT_CLIENT_HELLO;
    c->timer_at_ms = NO_TIMER;
    c->timeout_ms = x->cfg.timers.retransmit_initial_ms;
    dgram_queue_init(&c->out);
    dgram_queue_init(&c->app);
    replay_init(&c->replay[0], x->cfg.limits.replay_window);
    replay_init(&c->replay[1], x->cfg.limits.replay_window);
    if (x->cfg.psk.identity_len) memcpy(c->psk_identity, x->cfg.psk.identity, x->cfg.psk.identity_len);
    c->psk_identity_len = x->cfg.psk.identity_len;
    c->observer = x->observer;
    c->observer_user = x->observer_user;
    int rc = handshake_init(c, now_ms);
    if (rc) {
        cdtls_conn_free(c);
        return rc;
    }
    *out = c;
    return CDTLS_OK;
}

int cdtls_conn_new(const cdtls_config *cfg, cdtls_role role, uint64_t now_ms, cdtls_conn **out)
{
    if (!cfg || !out || (role != CDTLS_CLIENT && role != CDTLS_SERVER)) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    cdtls_context *x;
    int rc = cdtls_context_new(cfg, &x);
    if (rc) return rc;
    rc = cdtls_conn_new_from(x, role, now_ms, out);
    if (rc) {
        cdtls_context_free(x);
        return rc;
    }
    (*out)->own_ctx = x;
    return CDTLS_OK;
}

void conn_flight_clear(cdtls_conn *c)
{
    for (size_t i = 0; i < c->flight_len; i++)
        if (c->flight[i].msg) cdtls_free_wipe(c->a, c->flight[i].msg, c->flight[i].len);
    memset(c->flight, 0, sizeof c->flight);
    c->flight_len = 0;
}

void conn_keep_record_buffers(cdtls_conn *c)
{
    /* One spare node per direction, up to a datagram's size: a stream of
     * records then reuses it instead of an allocation and a free per
     * record. Only from the established state on: before it, a server
     * answering unverified ClientHellos must keep nothing (RFC 6347
     * §4.2.1), and handshake datagrams are few. */
    if (c->cfg->limits.release_buffers) return;
    c->out.spare_max = c->mtu;
    c->app.spare_max = c->mtu;
}

void conn_handshake_end(cdtls_conn *c)
{
    conn_handshake *h = c->h;
    if (!h) return;
    const cdtls_allocator *a = c->a;
    c->peer_next_seq = hs_reasm_next_seq(&h->reasm);
    hs_reasm_free(&h->reasm);
    dgram_queue_clear(&h->early, a);
    /* data that overtook the peer's Finished is the application's once the
     * handshake succeeded (conn_handle_app_data), else it goes with it */
    for (dgram_node *n; c->state == CDTLS_STATE_ESTABLISHED && (n = dgram_queue_take(&h->early_app)) != NULL;)
        dgram_queue_append(&c->app, n);
    dgram_queue_clear(&h->early_app, a);
    if (h->have_pending_read) record_cipher_clear(&h->pending_read);
    if (h->have_kx_key && h->kx) h->kx->clear(&h->kx_key);
    if (h->hs_log) cdtls_free_wipe(a, h->hs_log, h->hs_log_cap);
    cdtls_free_wipe(a, h, sizeof *h); /* wipes the PSK, the transcript, the key share */
    c->h = NULL;
}

uint16_t conn_peer_next_seq(const cdtls_conn *c)
{
    return c->h ? hs_reasm_next_seq(&c->h->reasm) : c->peer_next_seq;
}

/* Called where a public call returns: the handshake state goes once it
 * cannot be needed (established: our last flight lives in c->flight and
 * its keys in the connection; failed or closed: nothing will follow). Not
 * sooner, so that no function deep in the dispatch finds it gone. */
static void handshake_end_if_over(cdtls_conn *c)
{
    if (c->h && c->state != CDTLS_STATE_HANDSHAKING) conn_handshake_end(c);
}

void cdtls_conn_free(cdtls_conn *c)
{
    if (!c) return;
    const cdtls_allocator *a = c->a;
    conn_flight_clear(c);
    conn_handshake_end(c);
    dgram_queue_clear(&c->out, a);
    dgram_queue_clear(&c->app, a);
    if (c->have_write_cipher) record_cipher_clear(&c->write_cipher);
    if (c->have_read_cipher) record_cipher_clear(&c->read_cipher);
    if (c->peer_block) cdtls_free_wipe(a, c->peer_block, c->peer_block_size);
    resume_release(c);
#if CDTLS_HAVE_DTLS13
    hs13_free(c);
#endif
    conn_rrc_free(c);
    cdtls_context *own = c->own_ctx;
    cdtls_free_wipe(a, c, sizeof *c); /* wipes the master secret */
    cdtls_context_free(own);
}

int cdtls_conn_set_peer_address(cdtls_conn *c, const void *addr, size_t addr_len)
{
    if (!c || (!addr && addr_len) || addr_len > CONN_MAX_ADDR) return CDTLS_ERR_INVALID_ARG;
    if (addr_len) memcpy(c->peer_addr, addr, addr_len);
    c->peer_addr_len = addr_len;
    return CDTLS_OK;
}

int cdtls_conn_set_cookie_verified(cdtls_conn *c)
{
    if (!c || c->role != CDTLS_SERVER) return CDTLS_ERR_INVALID_ARG;
    c->cookie_verified = 1;
    return CDTLS_OK;
}

int cdtls_conn_share_handshake_budget(cdtls_conn *c, cdtls_handshake_budget *b)
{
    if (!c || !b) return CDTLS_ERR_INVALID_ARG;
    if (!c->h || c->h->reasm.buffered) return CDTLS_ERR_BAD_STATE;
    c->h->reasm.lim.shared = b;
    return CDTLS_OK;
}

/* ------------------------------------------------------------- failure */

static void observe_alert_sent(const cdtls_conn *c, uint8_t level, uint8_t desc)
{
    if (!c->observer) return;
    cdtls_event ev = {0};
    ev.kind = CDTLS_EVENT_ALERT_SENT;
    ev.alert_level = level;
    ev.alert_desc = desc;
    conn_observe(c, &ev);
}

int conn_send_alert(cdtls_conn *c, uint8_t level, uint8_t desc)
{
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3) {
        int rc13 = hs13_send_alert(c, level, desc);
        if (rc13 == CDTLS_OK) observe_alert_sent(c, level, desc);
        return rc13;
    }
#endif
    uint8_t body[2] = {level, desc};
    uint8_t rec[DTLS_RECORD_HEADER_LEN + CDTLS_MAX_CID_LEN + 1 + 2 + RECORD_MAX_EXPANSION];
    size_t n = 0;
    int epoch = c->write_epoch;
    if (c->write_seq[epoch] > DTLS_MAX_SEQ) return CDTLS_ERR_LIMIT;
    /* The same cap as for writes: a peer whose records each draw an alert
     * (renegotiation attempts) must not grow the queue while the
     * application is not draining it. Alerts are unreliable anyway. */
    if (c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_ERR_LIMIT;
    int rc = conn_seal(c, epoch, CT_ALERT, body, sizeof body,
                       conn_cid_pad(c, epoch, sizeof body, c->mtu < sizeof rec ? c->mtu : sizeof rec), rec,
                       sizeof rec, &n);
    if (rc) return rc;
    c->write_seq[epoch]++;
    const cdtls_oob *oob = c->cfg->oob.alert.flags ? &c->cfg->oob.alert : NULL;
    rc = dgram_queue_push(&c->out, c->a, rec, n, oob);
    if (rc == CDTLS_OK) observe_alert_sent(c, level, desc);
    return rc;
}

static void observe_failed(const cdtls_conn *c)
{
    cdtls_event ev = {0};
    ev.kind = CDTLS_EVENT_FAILED;
    ev.error = c->error;
    conn_observe(c, &ev);
}

int conn_fail(cdtls_conn *c, int err, int alert_desc)
{
    if (c->state == CDTLS_STATE_FAILED) return c->error;
    /* RFC 5246 §7.2.2: a fatal alert, then the connection is unusable. */
    if (alert_desc >= 0) (void)conn_send_alert(c, ALERT_FATAL, (uint8_t)alert_desc);
    c->state = CDTLS_STATE_FAILED;
    c->error = err;
    c->timer_at_ms = NO_TIMER;
    conn_flight_clear(c);
    resume_forget(c); /* RFC 5246 §7.2 */
    observe_failed(c);
    return err;
}

/* ---------------------------------------------------------- transcript */

static void hs_log_add(cdtls_conn *c, const uint8_t *msg, size_t len)
{
    if (!c->h->hs_log_on || c->h->hs_log_overflow) return;
    if (c->h->hs_log_len + len > c->h->hs_log_cap) {
        size_t cap = c->h->hs_log_cap ? c->h->hs_log_cap : 4096;
        while (cap < c->h->hs_log_len + len) cap *= 2;
        if (cap > CONN_MAX_HS_LOG) {
            c->h->hs_log_overflow = 1; /* CertificateVerify then fails the handshake */
            return;
        }
        uint8_t *n = c->a->alloc(c->a->ctx, cap);
        if (!n) {
            c->h->hs_log_overflow = 1;
            return;
        }
        if (c->h->hs_log_len) memcpy(n, c->h->hs_log, c->h->hs_log_len);
        if (c->h->hs_log) cdtls_free_wipe(c->a, c->h->hs_log, c->h->hs_log_cap);
        c->h->hs_log = n;
        c->h->hs_log_cap = cap;
    }
    memcpy(c->h->hs_log + c->h->hs_log_len, msg, len);
    c->h->hs_log_len += len;
}

void conn_transcript_add(cdtls_conn *c, const uint8_t *msg, size_t len)
{
    hs_log_add(c, msg, len);
    for (int i = 0; i < 2; i++)
        if (c->h->transcript_has[i])
            c->p->hash[i == 0 ? CDTLS_HASH_SHA256 : CDTLS_HASH_SHA384]->update(&c->h->transcript[i], msg,
                                                                               len);
}

int conn_transcript_hash(const cdtls_conn *c, uint8_t *out, size_t *len)
{
    cdtls_hash_alg alg = c->suite ? c->suite->prf : CDTLS_HASH_SHA256;
    int i = alg == CDTLS_HASH_SHA384 ? 1 : 0;
    if (!c->h->transcript_has[i]) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_hash_vt *h = c->p->hash[alg];
    h->final(&c->h->transcript[i], out);
    *len = h->digest_len;
    return CDTLS_OK;
}

/* -------------------------------------------------------------- flights */

static int flight_add(cdtls_conn *c, int is_ccs, uint8_t *msg, size_t len)
{
    if (c->flight_len == FLIGHT_MAX_ENTRIES) {
        if (msg) cdtls_free_wipe(c->a, msg, len);
        return CDTLS_ERR_INTERNAL;
    }
    flight_entry *e = &c->flight[c->flight_len++];
    e->is_ccs = (uint8_t)is_ccs;
    e->epoch = (uint8_t)c->write_epoch;
    e->msg = msg;
    e->len = len;
    return CDTLS_OK;
}

/* Builds a whole handshake message (header as if unfragmented, RFC 6347
 * §4.2.6, which is also the form the transcript hashes), adds it to the
 * transcript and to the flight being built. */
int conn_hs_queue(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t body_len)
{
    if (body_len > 0xffffff) return CDTLS_ERR_INTERNAL;
    size_t len = DTLS_HS_HEADER_LEN + body_len;
    uint8_t *msg = c->a->alloc(c->a->ctx, len);
    if (!msg) return CDTLS_ERR_NOMEM;
    hs_header h = {type, (uint32_t)body_len, c->send_msg_seq++, 0, (uint32_t)body_len};
    hs_header_put(&h, msg);
    if (body_len) memcpy(msg + DTLS_HS_HEADER_LEN, body, body_len);
    /* HelloVerifyRequest and the ClientHello before it stay out of the
     * transcript (RFC 6347 §4.2.6); the callers handle that by resetting it. */
    conn_transcript_add(c, msg, len);
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_SENT, msg, len);
    return flight_add(c, 0, msg, len);
}

int conn_hs_queue_ccs(cdtls_conn *c)
{
    if (c->observer) {
        cdtls_event ev = {0};
        ev.kind = CDTLS_EVENT_CCS_SENT;
        conn_observe(c, &ev);
    }
    return flight_add(c, 1, NULL, 1);
}

static size_t write_expansion(const cdtls_conn *c, int epoch)
{
    return epoch ? record_cipher_expansion(&c->write_cipher) + conn_cid_overhead(c) : 0;
}

/* Seals one record with pad bytes of CID padding into dgram at *used,
 * advancing the epoch's sequence. */
static int put_record_pad(cdtls_conn *c, int epoch, uint8_t type, const uint8_t *pt, size_t pt_len,
                          size_t pad, uint8_t *dgram, size_t cap, size_t *used)
{
    size_t n = 0;
    if (c->write_seq[epoch] > DTLS_MAX_SEQ) return CDTLS_ERR_LIMIT;
    int rc = conn_seal(c, epoch, type, pt, pt_len, pad, dgram + *used, cap - *used, &n);
    if (rc) return rc;
    c->write_seq[epoch]++;
    *used += n;
    return CDTLS_OK;
}

/* The same, padded as cfg.callbacks.cid_padding asks within what is left of cap. */
static int put_record(cdtls_conn *c, int epoch, uint8_t type, const uint8_t *pt, size_t pt_len,
                      uint8_t *dgram, size_t cap, size_t *used)
{
    size_t pad = conn_cid_pad(c, epoch, pt_len, cap - *used);
    return put_record_pad(c, epoch, type, pt, pt_len, pad, dgram, cap, used);
}

static int flush_dgram(cdtls_conn *c, uint8_t *dgram, size_t *used)
{
    if (*used == 0) return CDTLS_OK;
    const cdtls_oob *oob = c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL;
    int rc = dgram_queue_push(&c->out, c->a, dgram, *used, oob);
    *used = 0;
    return rc;
}

/* A ChangeCipherSpec record: in this datagram if it fits, else the next. */
static int flight_put_ccs(cdtls_conn *c, const flight_entry *e, size_t overhead, uint8_t *dgram, size_t mtu,
                          size_t *used)
{
    static const uint8_t ccs = 1;
    if (*used + overhead + 1 > mtu) {
        int rc = flush_dgram(c, dgram, used);
        if (rc) return rc;
    }
    return put_record(c, e->epoch, CT_CHANGE_CIPHER_SPEC, &ccs, 1, dgram, mtu, used);
}

/* One handshake message as fragments that fill what is left of the
 * datagram, then the next ones (RFC 6347 §4.2.3). frag is scratch space of
 * mtu bytes. */
static int flight_put_message(cdtls_conn *c, const flight_entry *e, size_t overhead, uint8_t *dgram,
                              uint8_t *frag, size_t mtu, size_t *used)
{
    hs_header h;
    hs_header_get(e->msg, &h);
    const uint8_t *body = e->msg + DTLS_HS_HEADER_LEN;
    /* Room for at least one body byte (or the empty message). */
    const size_t need_min = overhead + DTLS_HS_HEADER_LEN + (h.length ? 1 : 0);
    if (need_min > mtu) return CDTLS_ERR_INTERNAL; /* mtu >= 128 makes this impossible */
    size_t off = 0;
    do {
        if (*used + need_min > mtu) {
            int rc = flush_dgram(c, dgram, used);
            if (rc) return rc;
        }
        size_t room = mtu - *used - overhead - DTLS_HS_HEADER_LEN;
        size_t take = h.length - off < room ? h.length - off : room;
        if (take > DTLS_MAX_PLAINTEXT - DTLS_HS_HEADER_LEN) take = DTLS_MAX_PLAINTEXT - DTLS_HS_HEADER_LEN;
        hs_header fh = {h.type, h.length, h.message_seq, (uint32_t)off, (uint32_t)take};
        hs_header_put(&fh, frag);
        memcpy(frag + DTLS_HS_HEADER_LEN, body + off, take);
        int rc = put_record(c, e->epoch, CT_HANDSHAKE, frag, DTLS_HS_HEADER_LEN + take, dgram, mtu, used);
        if (rc) return rc;
        off += take;
    } while (off < h.length);
    return CDTLS_OK;
}

/* Packs the flight into datagrams of at most cfg.mtu bytes, several records
 * per datagram, fragmenting messages that do not fit (RFC 6347 §4.2.3).
 * Every (re)transmission uses fresh record sequence numbers (§4.2.4). */
static int flight_transmit(cdtls_conn *c)
{
    const size_t mtu = c->mtu;
    uint8_t *dgram = c->a->alloc(c->a->ctx, mtu);
    uint8_t *frag = c->a->alloc(c->a->ctx, mtu);
    if (!dgram || !frag) {
        if (dgram) c->a->free(c->a->ctx, dgram, mtu);
        if (frag) c->a->free(c->a->ctx, frag, mtu);
        return CDTLS_ERR_NOMEM;
    }
    size_t used = 0;
    int rc = CDTLS_OK;
    for (size_t i = 0; i < c->flight_len && !rc; i++) {
        const flight_entry *e = &c->flight[i];
        size_t overhead = DTLS_RECORD_HEADER_LEN + write_expansion(c, e->epoch);
        rc = e->is_ccs ? flight_put_ccs(c, e, overhead, dgram, mtu, &used)
                       : flight_put_message(c, e, overhead, dgram, frag, mtu, &used);
    }
    if (!rc) rc = flush_dgram(c, dgram, &used);
    cdtls_free_wipe(c->a, dgram, mtu);
    cdtls_free_wipe(c->a, frag, mtu);
    return rc;
}

/* Sends the flight just built. A flight that expects a reply runs the
 * retransmission timer, starting at the initial value (RFC 6347 §4.2.4.1:
 * the timer is reset for each new flight); the final flight does not. */
int conn_flight_send(cdtls_conn *c, uint64_t now_ms, int awaits_reply)
{
    c->flight_awaits_reply = awaits_reply;
    c->timeout_ms = c->cfg->timers.retransmit_initial_ms;
    c->retransmits = 0;
    c->timer_at_ms = awaits_reply ? now_ms + c->timeout_ms : NO_TIMER;
    return flight_transmit(c);
}

static int flight_retransmit(cdtls_conn *c, uint64_t now_ms, int by_timer)
{
    if (c->flight_len == 0) return CDTLS_OK;
    c->retransmits++;
    if (c->flight_awaits_reply) c->timer_at_ms = now_ms + c->timeout_ms;
    if (c->observer) {
        cdtls_event ev = {0};
        ev.kind = CDTLS_EVENT_RETRANSMIT;
        ev.retransmits = c->retransmits;
        ev.by_timer = by_timer;
        ev.timeout_ms = c->timeout_ms;
        conn_observe(c, &ev);
    }
    return flight_transmit(c);
}

static uint64_t timeout_hs(const cdtls_conn *c);

uint64_t cdtls_conn_timeout(const cdtls_conn *c)
{
    uint64_t t = timeout_hs(c), r = c ? conn_rrc_timeout(c) : NO_TIMER;
    return r < t ? r : t; /* RFC 9853 §5.5: the path check's timer T */
}

static uint64_t timeout_hs(const cdtls_conn *c)
{
#if CDTLS_HAVE_DTLS13
    if (c && c->version == CDTLS_VERSION_1_3) return hs13_timeout(c);
#endif
    if (!c || c->state != CDTLS_STATE_HANDSHAKING) return NO_TIMER;
    uint64_t deadline = c->h->hs_started_ms + c->cfg->timers.handshake_timeout_ms;
    return c->timer_at_ms < deadline ? c->timer_at_ms : deadline;
}

static int on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    if (c->state == CDTLS_STATE_FAILED) return c->error;
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3) return hs13_on_timeout(c, now_ms);
#endif
    if (c->state != CDTLS_STATE_HANDSHAKING) return CDTLS_OK;
    if (c->cfg->timers.handshake_timeout_ms &&
        now_ms - c->h->hs_started_ms >= c->cfg->timers.handshake_timeout_ms)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_TIMEOUT, -1);
    if (c->timer_at_ms == NO_TIMER || now_ms < c->timer_at_ms) return CDTLS_OK;
    /* RFC 6347 §4.2.4.1: double the timeout on each retransmission, up to
     * the cap. */
    uint64_t next = (uint64_t)c->timeout_ms * 2;
    c->timeout_ms = next > c->cfg->timers.retransmit_max_ms ? c->cfg->timers.retransmit_max_ms
                                                            : (uint32_t)next;
    int rc = flight_retransmit(c, now_ms, 1);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

int cdtls_conn_on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    int rc = on_timeout(c, now_ms);
    if (!rc && c->state == CDTLS_STATE_ESTABLISHED) rc = conn_rrc_on_timeout(c, now_ms);
    handshake_end_if_over(c);
    return rc;
}

/* ---------------------------------------------------------------- keys */

int conn_compute_master(cdtls_conn *c, const uint8_t *pms, size_t pms_len)
{
    int rc;
    if (c->use_ems) {
        uint8_t session_hash[CDTLS_HASH_MAX_DIGEST];
        size_t hlen = 0;
        rc = conn_transcript_hash(c, session_hash, &hlen);
        if (!rc)
            rc = ks_extended_master_secret(c->p, c->suite->prf, pms, pms_len, session_hash, hlen, c->master);
    } else {
        rc = ks_master_secret(c->p, c->suite->prf, pms, pms_len, c->client_random, c->server_random,
                              c->master);
    }
    if (!rc) conn_keylog(c);
    return rc;
}

int conn_finished_data(cdtls_conn *c, int from_server, uint8_t *out)
{
    uint8_t th[CDTLS_HASH_MAX_DIGEST];
    size_t hlen = 0;
    int rc = conn_transcript_hash(c, th, &hlen);
    if (!rc) rc = ks_finished(c->p, c->suite->prf, c->master, from_server, th, hlen, out);
    return rc;
}

static int cipher_init(cdtls_conn *c, record_cipher *rc_out, const ks_dir_keys *k, const ks_keys *keys,
                       int encrypt)
{
    const suite_info *s = c->suite;
    if (s->kind == SUITE_AEAD)
        return record_cipher_init_aead(rc_out, c->p, s->aead, k->key, keys->key_len, k->iv, keys->iv_len);
    return record_cipher_init_cbc(rc_out, c->p, s->cbc, s->mac, k->key, keys->key_len, k->mac_key,
                                  keys->mac_key_len, encrypt, c->use_etm);
}

/* Derives the key block and prepares epoch 1 in both directions: the write
 * side is used once we send ChangeCipherSpec, the read side waits for the
 * peer's (RFC 5246 §7.1). */
int conn_install_keys(cdtls_conn *c)
{
    ks_keys keys;
    const suite_info *s = c->suite;
    int rc = ks_key_block(c->p, s->prf, c->master, c->client_random, c->server_random,
                          s->kind == SUITE_CBC ? s->mac_key_len : 0, s->key_len, s->fixed_iv_len, &keys);
    if (rc) return rc;
    const ks_dir_keys *mine = c->role == CDTLS_CLIENT ? &keys.client_write : &keys.server_write;
    const ks_dir_keys *theirs = c->role == CDTLS_CLIENT ? &keys.server_write : &keys.client_write;
    rc = cipher_init(c, &c->write_cipher, mine, &keys, 1);
    if (!rc) {
        c->have_write_cipher = 1;
        rc = cipher_init(c, &c->h->pending_read, theirs, &keys, 0);
        if (!rc) c->h->have_pending_read = 1;
    }
    cdtls_memzero(&keys, sizeof keys);
    return rc;
}

/* ------------------------------------------------------------ receiving */

int conn_handle_alert(cdtls_conn *c, const uint8_t *pt, size_t len)
{
    if (len != 2) return CDTLS_OK; /* malformed: drop */
    c->have_peer_alert = 1;
    c->peer_alert_level = pt[0];
    c->peer_alert_desc = pt[1];
    if (c->observer) {
        cdtls_event ev = {0};
        ev.kind = CDTLS_EVENT_ALERT_RECEIVED;
        ev.alert_level = pt[0];
        ev.alert_desc = pt[1];
        conn_observe(c, &ev);
    }
    if (pt[1] == ALERT_CLOSE_NOTIFY) {
        /* RFC 5246 §7.2.1: answer with our own close_notify and stop. */
        c->close_received = 1;
        if (!c->close_sent && c->state == CDTLS_STATE_ESTABLISHED) {
            (void)conn_send_alert(c, ALERT_WARNING, ALERT_CLOSE_NOTIFY);
            c->close_sent = 1;
        }
        if (c->state != CDTLS_STATE_FAILED) c->state = CDTLS_STATE_CLOSED;
        c->timer_at_ms = NO_TIMER;
        return CDTLS_OK;
    }
    if (pt[0] == ALERT_FATAL) {
        c->state = CDTLS_STATE_FAILED;
        c->error = CDTLS_ERR_PEER_ALERT;
        c->timer_at_ms = NO_TIMER;
        conn_flight_clear(c);
        resume_forget(c); /* RFC 5246 §7.2 */
        observe_failed(c);
        return CDTLS_ERR_PEER_ALERT;
    }
    return CDTLS_OK; /* warnings (e.g. no_renegotiation) are noted, not fatal */
}

/* The record's plaintext arrives in a queue node (*node), which becomes the
 * entry in the application queue: no second allocation, copy and wipe. */
int conn_handle_app_data(cdtls_conn *c, dgram_node **node, size_t len, int epoch)
{
    /* Application data is only valid under the negotiated keys, after the
     * handshake (RFC 5246 §7.4.9, RFC 6347 §4.1: epoch 0 data is dropped). */
    if (epoch == 0 || c->close_received) return CDTLS_OK;
    if (c->state == CDTLS_STATE_HANDSHAKING && c->h) {
        /* Under the new keys before the peer's Finished: the peer's data
         * sent right after its Finished (a 1.3 client's, RFC 8446 §4.4.4;
         * a 1.2 server's after a full handshake, a client's after an
         * abbreviated one) that overtook it. Authenticated, but not the
         * application's before the Finished is checked: kept (bounded,
         * limits.max_early_records) until then (conn_handshake_end). */
        if (c->h->early_app.count >= c->cfg->limits.max_early_records) return CDTLS_OK;
        (*node)->len = len;
        dgram_queue_append(&c->h->early_app, *node);
        *node = NULL;
        return CDTLS_OK;
    }
    if (c->state != CDTLS_STATE_ESTABLISHED && c->state != CDTLS_STATE_CLOSED) return CDTLS_OK;
    /* reader not draining: drop (bounded in records and in bytes, so that
     * a peer sending 2^14-byte records cannot make us hold 4 MiB) */
    if (c->app.count >= CONN_MAX_APP_QUEUE || c->app.bytes + len > CONN_MAX_APP_BYTES) return CDTLS_OK;
    /* The peer sent data under epoch 1, so it has our final flight. */
    if (c->role == CDTLS_SERVER && c->flight_len) conn_flight_clear(c);
    (*node)->len = len;
    dgram_queue_append(&c->app, *node);
    *node = NULL;
    return CDTLS_OK;
}

/* An old message_seq means the peer lost (part of) our last flight and is
 * retransmitting its own: RFC 6347 §4.2.4 says to retransmit ours. Only the
 * first fragment of a message triggers it, and at most once per
 * retransmission interval, so a flood of old fragments cannot make us
 * amplify. */
static int peer_retransmitted(cdtls_conn *c, const hs_header *h, uint64_t now_ms)
{
    if (h->fragment_offset != 0 || c->flight_len == 0) return CDTLS_OK;
    if (c->last_peer_retransmit_ms && now_ms - c->last_peer_retransmit_ms < c->timeout_ms / 2 &&
        now_ms >= c->last_peer_retransmit_ms)
        return CDTLS_OK;
    c->last_peer_retransmit_ms = now_ms ? now_ms : 1;
    return flight_retransmit(c, now_ms, 0);
}

static int process_complete_messages(cdtls_conn *c, uint64_t record_seq, uint64_t now_ms)
{
    uint8_t type;
    uint16_t seq;
    const uint8_t *msg;
    size_t msg_len;
    while (c->state == CDTLS_STATE_HANDSHAKING && c->version != CDTLS_VERSION_1_3 &&
           hs_reasm_next(&c->h->reasm, &type, &seq, &msg, &msg_len)) {
        if (c->role == CDTLS_SERVER && c->hs == HS_S_WAIT_CLIENT_HELLO && type == HS_CLIENT_HELLO) {
            /* A ClientHello that came in fragments (RFC 6347 §4.2.3 allows
             * it for every message) is handled like an unfragmented one.
             * That restarts the reassembly, so it takes the message out. */
            uint8_t *own = hs_reasm_take(&c->h->reasm);
            conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_RECEIVED, own, msg_len);
            int rc = hs_server_client_hello(c, own, msg_len, seq, own + DTLS_HS_HEADER_LEN,
                                            msg_len - DTLS_HS_HEADER_LEN, record_seq, now_ms);
            cdtls_free_wipe(c->a, own, msg_len);
            if (rc) return rc;
            continue;
        }
        conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_RECEIVED, msg, msg_len);
        int rc = hs_handle_message(c, type, msg, msg_len, msg + DTLS_HS_HEADER_LEN,
                                   msg_len - DTLS_HS_HEADER_LEN, now_ms);
        hs_reasm_consume(&c->h->reasm);
        if (rc) return rc;
    }
    return CDTLS_OK;
}

static int handle_handshake(cdtls_conn *c, const uint8_t *pt, size_t len, int epoch, uint64_t record_seq,
                            uint64_t now_ms)
{
    cdtls_reader r;
    reader_init(&r, pt, len);
    while (r.left > 0) {
        hs_header h;
        const uint8_t *frag;
        /* A ClientHello or ServerHello earlier in this record settled DTLS
         * 1.3: the rest of the record is not the 1.2 handshake's (its
         * reassembly and flights are 1.3's now; an old fragment here made
         * the 1.2 code resend a 1.3 flight, sealing epoch-2 entries with
         * 1.2 epochs: write_seq[2], out of bounds). Dropped; the peer
         * resends what it still needs (RFC 9147 §5.8). */
        if (c->version == CDTLS_VERSION_1_3) return CDTLS_OK;
        /* RFC 6347 §4.2.3: a record may hold several fragments; a bad one
         * ends the record (the rest cannot be delimited). */
        if (hs_header_read(&r, &h, &frag) != CDTLS_OK) return CDTLS_OK;

        if (c->state != CDTLS_STATE_HANDSHAKING) {
            /* Only a hello under the current keys comes from the peer: a
             * plaintext one is anybody's, and answering each such record
             * would make us a reflector (one datagram of 769 ClientHellos
             * drew 769 alerts). */
            const int authentic = epoch == c->read_epoch;
            if (authentic && h.type == HS_CLIENT_HELLO && c->role == CDTLS_SERVER &&
                c->state == CDTLS_STATE_ESTABLISHED && h.message_seq >= conn_peer_next_seq(c)) {
                /* Renegotiation: refused (RFC 5746 §4.4 permits a
                 * no_renegotiation warning). */
                (void)conn_send_alert(c, ALERT_WARNING, ALERT_NO_RENEGOTIATION);
                return CDTLS_OK;
            }
            if (authentic && h.type == HS_HELLO_REQUEST && c->role == CDTLS_CLIENT) {
                (void)conn_send_alert(c, ALERT_WARNING, ALERT_NO_RENEGOTIATION);
                return CDTLS_OK;
            }
            /* The peer lost our final flight and retransmits its own. */
            if (h.message_seq < conn_peer_next_seq(c)) {
                int rc = peer_retransmitted(c, &h, now_ms);
                if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
            }
            continue;
        }

        if (c->role == CDTLS_SERVER && c->hs == HS_S_WAIT_CLIENT_HELLO && h.type == HS_CLIENT_HELLO) {
            if (h.length > CDTLS_MAX_CLIENT_HELLO_LEN) continue; /* docs/security.md */
            /* Once a cookie was verified (here, or by the stateless
             * verifier on the hello's first fragment), a hello with a lower
             * message_seq is a stale copy of the first one: it must not
             * restart the reassembly of the second (RFC 6347 §4.2.2). */
            if (c->cookie_verified && h.message_seq < hs_reasm_next_seq(&c->h->reasm)) continue;
            /* Before that, each ClientHello (with or without cookie) may
             * restart the expected message_seq: the server keeps nothing
             * between the first ClientHello and the one with the cookie. */
            if (h.fragment_offset == 0 && h.fragment_length == h.length) {
                conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_RECEIVED, frag - DTLS_HS_HEADER_LEN,
                                     DTLS_HS_HEADER_LEN + h.length);
                int rc = hs_server_client_hello(c, frag - DTLS_HS_HEADER_LEN, DTLS_HS_HEADER_LEN + h.length,
                                                h.message_seq, frag, h.length, record_seq, now_ms);
                if (rc) return rc;
                continue;
            }
            if (h.message_seq != hs_reasm_next_seq(&c->h->reasm)) {
                hs_reasm_reset(&c->h->reasm);
                hs_reasm_set_next_seq(&c->h->reasm, h.message_seq);
            }
        }

        /* RFC 5246 §7.4.1.1: a client ignores HelloRequest while it
         * negotiates; in plaintext it is anybody's, and must not end our
         * handshake. */
        if (h.type == HS_HELLO_REQUEST && c->role == CDTLS_CLIENT) continue;

        /* Finished is the first message under the new keys (RFC 5246
         * §7.4.9): one in plaintext after the peer's CCS is not the peer's,
         * and must not reach the verify_data check (a forged one there
         * ends the handshake). Dropped like any invalid record. */
        if (h.type == HS_FINISHED && epoch < c->read_epoch) continue;

        int st = hs_reasm_add(&c->h->reasm, &h, frag, h.fragment_length);
        if (st == HS_REASM_OLD) {
            int rc = peer_retransmitted(c, &h, now_ms);
            if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
            continue;
        }
        /* Other refusals (inconsistent overlap, over a limit, too far
         * ahead) drop the fragment: RFC 6347 §4.1.2.7. */
        int rc = process_complete_messages(c, record_seq, now_ms);
        if (rc) return rc;
    }
    return CDTLS_OK;
}

static int handle_ccs(cdtls_conn *c, const uint8_t *pt, size_t len);

/* One authenticated record's plaintext. */
static int dispatch(cdtls_conn *c, uint8_t type, dgram_node **node, size_t len, int epoch, uint64_t seq,
                    uint64_t now_ms)
{
    const uint8_t *pt = (*node)->data;
    switch (type) {
    case CT_HANDSHAKE: return handle_handshake(c, pt, len, epoch, seq, now_ms);
    case CT_CHANGE_CIPHER_SPEC: return handle_ccs(c, pt, len);
    case CT_ALERT:
        /* Unprotected alerts are only believed during the handshake. */
        if (epoch == 0 && c->read_epoch != 0) return CDTLS_OK;
        return conn_handle_alert(c, pt, len);
    case CT_APPLICATION_DATA: return conn_handle_app_data(c, node, len, epoch);
    case CT_RRC: return conn_rrc_handle(c, pt, len, epoch, now_ms); /* RFC 9853 */
    default: return CDTLS_OK; /* unknown content type: drop (RFC 5246 §6) */
    }
}

/* Authenticates one record and dispatches it; failures are silent drops. */
static int process_record(cdtls_conn *c, const record_header *rh, const uint8_t *frag, const cdtls_oob *oob,
                          uint64_t now_ms)
{
    int epoch = rh->epoch;
    if (epoch > 1) return CDTLS_OK;
    if (epoch == 1 && !c->have_read_cipher) return CDTLS_OK;
    replay_window *w = &c->replay[epoch];
    if (c->cfg->limits.replay_window && replay_check(w, rh->seq) != CDTLS_OK) {
        /* Epoch 0 has no MAC, so any forged record moves its window, where
         * RFC 6347 §4.1.2.6 moves it only for authenticated records: one
         * plaintext record numbered far ahead would leave every real
         * handshake record of the peer behind the window. So in epoch 0
         * only a number seen inside the window (a duplicate) is dropped;
         * older ones are processed, which the handshake tolerates
         * (reassembly ignores duplicates, answering retransmissions is
         * rate-limited). */
        if (epoch != 0 || w->top - rh->seq < w->size) return CDTLS_OK;
    }

    /* RFC 9146: once we asked for a CID, protected records must carry it
     * (and ours); a tls12_cid record is never valid otherwise. */
    const int cid_expected = epoch == 1 && c->use_cid && c->own_cid_len;
    if ((rh->type == CT_TLS12_CID) != cid_expected) return CDTLS_OK;
    if (cid_expected && (rh->cid_len != c->own_cid_len || memcmp(rh->cid, c->own_cid, c->own_cid_len)))
        return CDTLS_OK;

    /* decrypted into what may become the application queue's entry */
    dgram_node *node = dgram_queue_node(&c->app, c->a, rh->length ? rh->length : 1, oob);
    if (!node) return CDTLS_OK; /* out of memory: behave as a lost datagram */
    uint8_t *pt = node->data;
    size_t pt_len = 0;
    uint8_t type = rh->type;
    int rc = cid_expected ? record_open_cid(&c->read_cipher, rh, frag, pt, rh->length, &pt_len, &type)
                          : record_open(epoch ? &c->read_cipher : NULL, rh, frag, rh->length, pt,
                                        rh->length ? rh->length : 1, &pt_len);
    if (rc == CDTLS_OK) {
        if (c->cfg->limits.replay_window) replay_accept(w, rh->seq);
        c->recv_authenticated = 1;
        if (epoch == 1 && (!c->have_newest || rh->seq > c->newest_seq)) {
            c->have_newest = 1;
            c->newest_seq = rh->seq;
            c->recv_advanced = 1;
        }
        rc = dispatch(c, type, &node, pt_len, epoch, rh->seq, now_ms);
    } else {
        rc = CDTLS_OK; /* RFC 6347 §4.1.2.7: bad MAC → silently discard */
    }
    dgram_queue_recycle(&c->app, c->a, node); /* NULL when the application queue took it */
    return rc;
}

/* Records of the next epoch that overtook the peer's ChangeCipherSpec are
 * kept (bounded) and replayed once the keys are installed; in 1.3, the
 * handshake records that overtook the ServerHello (hs13_keeps_early). */
void conn_keep_early(cdtls_conn *c, const uint8_t *rec, size_t len, const cdtls_oob *oob)
{
    if (!c->h || c->h->early.count >= c->cfg->limits.max_early_records) return;
    (void)dgram_queue_push(&c->h->early, c->a, rec, len, oob);
}

static int process_datagram(cdtls_conn *c, const uint8_t *dgram, size_t len, const cdtls_oob *oob,
                            uint64_t now_ms, int from_early);

static int handle_ccs(cdtls_conn *c, const uint8_t *pt, size_t len)
{
    /* RFC 5246 §7.1: a single byte of value 1. Valid only once the pending
     * read keys exist, i.e. after the key exchange; an early CCS is dropped
     * (the peer will retransmit it). */
    if (len != 1 || pt[0] != 1) return CDTLS_OK;
    if (!c->h || !c->h->have_pending_read || c->read_epoch != 0) return CDTLS_OK;
    /* A CCS is no handshake message and has no message_seq, so it can
     * overtake messages due before it (a CertificateVerify lost, its CCS
     * not): dropped as if lost too, since the peer resends the flight
     * whole (RFC 6347 §4.2.4), rather than failing the handshake. */
    if (c->hs != HS_C_WAIT_FINISHED && c->hs != HS_S_WAIT_FINISHED) return CDTLS_OK;
    int rc = hs_handle_ccs(c);
    if (rc) return rc;
    if (c->observer) {
        cdtls_event ev = {0};
        ev.kind = CDTLS_EVENT_CCS_RECEIVED;
        conn_observe(c, &ev);
    }
    c->read_cipher = c->h->pending_read; /* epoch state is moved before first use */
    memset(&c->h->pending_read, 0, sizeof c->h->pending_read);
    c->h->have_pending_read = 0;
    c->have_read_cipher = 1;
    c->read_epoch = 1;
    return CDTLS_OK;
}

static int replay_early(cdtls_conn *c, uint64_t now_ms)
{
    while (c->state == CDTLS_STATE_HANDSHAKING && c->read_epoch == 1 && c->h->early.head) {
        dgram_node *n = dgram_queue_take(&c->h->early);
        int rc = process_datagram(c, n->data, n->len, &n->oob, now_ms, 1);
        dgram_node_free(c->a, n);
        if (rc) return rc;
    }
    if (c->h) dgram_queue_clear(&c->h->early, c->a);
    return CDTLS_OK;
}

static int process_datagram(cdtls_conn *c, const uint8_t *dgram, size_t len, const cdtls_oob *oob,
                            uint64_t now_ms, int from_early)
{
    cdtls_reader r;
    reader_init(&r, dgram, len);
    while (r.left > 0 && c->state != CDTLS_STATE_FAILED) {
#if CDTLS_HAVE_DTLS13
        /* the rest of the datagram (after the ServerHello or ClientHello
         * that settled it) in the 1.3 record formats */
        if (c->version == CDTLS_VERSION_1_3) return hs13_process_records(c, &r, oob, now_ms);
#endif
#if CDTLS_HAVE_DTLS13
        if (!from_early && hs13_keeps_early(c, r.p[0])) {
            /* RFC 9147 §4.2.1: epoch-2 records of a server that overtook
             * its ServerHello; the rest of the datagram, read once the
             * handshake keys exist (replay_early13) */
            conn_keep_early(c, r.p, r.left, oob);
            break;
        }
#endif
        record_header rh;
        const uint8_t *hdr, *frag;
        size_t hdr_len = 0;
        /* RFC 6347 §4.1.2.7: a malformed record ends the datagram. */
        if (record_read_cid(&r, c->use_cid ? c->own_cid_len : 0, &rh, &hdr, &hdr_len, &frag) != CDTLS_OK)
            break;
        if (rh.version != DTLS_VERSION_1_2 && !(rh.epoch == 0 && rh.version == DTLS_VERSION_1_0)) continue;
        if (rh.epoch == c->read_epoch + 1 && !from_early && c->state == CDTLS_STATE_HANDSHAKING) {
            conn_keep_early(c, hdr, hdr_len + rh.length, oob);
            continue;
        }
        int was_epoch0 = c->read_epoch == 0;
        int rc = process_record(c, &rh, frag, oob, now_ms);
        if (rc) return rc;
        if (was_epoch0 && c->read_epoch == 1 && !from_early) {
            rc = replay_early(c, now_ms);
            if (rc) return rc;
        }
    }
    return CDTLS_OK;
}

/* Before the handshake's state goes: the group is known only there. */
static void observe_established(const cdtls_conn *c)
{
    if (!c->observer) return;
    cdtls_event ev = {0};
    ev.kind = CDTLS_EVENT_ESTABLISHED;
    ev.version = c->version ? c->version : DTLS_VERSION_1_2;
    if (c->h && c->h->kx && !c->resumed) {
        ev.group = c->h->kx->tls_id;
        ev.group_name = c->h->kx->name;
    }
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3) ev.group = hs13_conn_group(c, &ev.group_name);
#endif
    conn_observe(c, &ev);
}

#if CDTLS_HAVE_DTLS13
/* The 1.3 records kept before the handshake keys existed, once they do:
 * those kept when this runs, at most (one that cannot be read is dropped
 * as the peer's retransmission would be). */
static int replay_early13(cdtls_conn *c, uint64_t now_ms)
{
    size_t n = c->h->early.count;
    while (n-- > 0 && c->state == CDTLS_STATE_HANDSHAKING && c->h && c->h->early.head) {
        dgram_node *d = dgram_queue_take(&c->h->early);
        int rc = process_datagram(c, d->data, d->len, &d->oob, now_ms, 1);
        dgram_node_free(c->a, d);
        if (rc) return rc;
    }
    return CDTLS_OK;
}
#endif

int cdtls_conn_recv(cdtls_conn *c, const uint8_t *dgram, size_t len, const cdtls_oob *oob, uint64_t now_ms)
{
    if (!c || (!dgram && len)) return CDTLS_ERR_INVALID_ARG;
    if (c->state == CDTLS_STATE_FAILED) return c->error;
    c->recv_advanced = 0;
    const cdtls_conn_state before = c->state;
    int rc = process_datagram(c, dgram, len, oob, now_ms, 0);
#if CDTLS_HAVE_DTLS13
    if (!rc && c->h && c->h->early.head && hs13_early_readable(c)) rc = replay_early13(c, now_ms);
#endif
    if (before == CDTLS_STATE_HANDSHAKING && c->state == CDTLS_STATE_ESTABLISHED) {
        /* 1.2: the group is known only in the handshake's state (1.3 set it) */
        if (!c->kx_group && c->h && c->h->kx && !c->resumed) c->kx_group = c->h->kx->tls_id;
        observe_established(c);
    }
    handshake_end_if_over(c);
    if (c->state == CDTLS_STATE_FAILED) return c->error;
    return rc;
}

/* -------------------------------------------------------------- output */

int cdtls_conn_start(cdtls_conn *c, uint64_t now_ms)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    if (c->role != CDTLS_CLIENT || c->hs != HS_C_START || !c->h) return CDTLS_ERR_BAD_STATE;
    c->h->hs_started_ms = now_ms;
    int rc = hs_client_start(c, now_ms);
    return rc ? conn_fail(c, rc, -1) : CDTLS_OK;
}

/* The output queue is the only place a sealed datagram lives: a flight is
 * kept as messages (c->flight) and sealed again for each retransmission, so
 * handing a datagram out, borrowed or copied, never costs the flight. */
int cdtls_conn_peek_datagram(cdtls_conn *c, const uint8_t **data, size_t *len, cdtls_oob *oob)
{
    if (!c || !data || !len) return CDTLS_ERR_INVALID_ARG;
    const dgram_node *n = dgram_queue_peek(&c->out);
    if (!n) return CDTLS_ERR_WOULD_BLOCK;
    *data = n->data;
    *len = n->len;
    if (oob) *oob = n->oob;
    c->out_lent = 1;
    return CDTLS_OK;
}

int cdtls_conn_pop_datagram(cdtls_conn *c)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    /* Only what was lent is dropped: a second pop after one peek would
     * otherwise discard a datagram the caller never saw. */
    if (!c->out_lent) return CDTLS_ERR_BAD_STATE;
    c->out_lent = 0;
    dgram_queue_pop(&c->out, c->a); /* wiped: test_mem.c holds every freed block to that */
    return CDTLS_OK;
}

int cdtls_conn_next_datagram(cdtls_conn *c, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob)
{
    if (!c || !buf || !len) return CDTLS_ERR_INVALID_ARG;
    const int was_lent = c->out_lent;
    const uint8_t *d;
    size_t n;
    cdtls_oob o;
    int rc = cdtls_conn_peek_datagram(c, &d, &n, &o);
    if (rc) return rc;
    if (n > cap) {
        c->out_lent = was_lent; /* refused: it stays queued, lent only if it was */
        return CDTLS_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, d, n);
    *len = n;
    if (oob) *oob = o;
    return cdtls_conn_pop_datagram(c);
}

size_t cdtls_conn_max_write(const cdtls_conn *c)
{
#if CDTLS_HAVE_DTLS13
    if (c && c->version == CDTLS_VERSION_1_3) return hs13_max_write(c);
#endif
    if (!c || c->state != CDTLS_STATE_ESTABLISHED || !c->have_write_cipher) return 0;
    size_t overhead = DTLS_RECORD_HEADER_LEN + record_cipher_expansion(&c->write_cipher) +
                      conn_cid_overhead(c);
    if (c->mtu <= overhead) return 0;
    size_t room = c->mtu - overhead;
    return room > DTLS_MAX_PLAINTEXT ? DTLS_MAX_PLAINTEXT : room;
}

size_t cdtls_conn_mtu(const cdtls_conn *c)
{
    return c ? c->mtu : 0;
}

int cdtls_conn_set_mtu(cdtls_conn *c, size_t mtu)
{
    if (!c || mtu < 128 || mtu > 65507) return CDTLS_ERR_INVALID_ARG;
    c->mtu = mtu;
    /* the outgoing spare buffer follows (a larger one is freed when it
     * comes back instead of kept); received records are the peer's size */
    if (c->out.spare_max) c->out.spare_max = mtu;
    return CDTLS_OK;
}

int cdtls_conn_write(cdtls_conn *c, const uint8_t *data, size_t len, const cdtls_oob *oob)
{
    if (!c || (!data && len)) return CDTLS_ERR_INVALID_ARG;
    if (c->state == CDTLS_STATE_FAILED) return c->error;
    if (c->state == CDTLS_STATE_CLOSED || c->close_sent) return CDTLS_ERR_CLOSED;
    if (c->state != CDTLS_STATE_ESTABLISHED) return CDTLS_ERR_BAD_STATE;
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3) return hs13_write(c, data, len, oob);
#endif
    if (len > cdtls_conn_max_write(c)) return CDTLS_ERR_RECORD_TOO_LARGE;
    if (c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_ERR_LIMIT;
    /* The node holds exactly the record, CID padding included (the
     * padding is chosen first for that): it is wiped when popped, and a
     * small record should not cost an MTU-sized allocation and wipe. */
    const size_t pad = conn_cid_pad(c, 1, len, c->mtu);
    const size_t cap = DTLS_RECORD_HEADER_LEN + write_expansion(c, 1) + len + pad;
    dgram_node *n = dgram_queue_node(&c->out, c->a, cap, oob);
    if (!n) return CDTLS_ERR_NOMEM;
    size_t used = 0;
    int rc = put_record_pad(c, 1, CT_APPLICATION_DATA, data, len, pad, n->data, cap, &used);
    if (rc) {
        dgram_queue_recycle(&c->out, c->a, n);
        return rc;
    }
    n->len = used;
    dgram_queue_append(&c->out, n);
    return CDTLS_OK;
}

int cdtls_conn_peek_read(cdtls_conn *c, const uint8_t **data, size_t *len, cdtls_oob *oob)
{
    if (!c || !data || !len) return CDTLS_ERR_INVALID_ARG;
    const dgram_node *n = dgram_queue_peek(&c->app);
    if (!n) {
        /* what arrived before the close or the failure is still handed out */
        if (c->state == CDTLS_STATE_FAILED) return c->error;
        if (c->close_received) return CDTLS_ERR_CLOSED;
        return CDTLS_ERR_WOULD_BLOCK;
    }
    *data = n->data; /* never NULL: an empty record's node has a byte (process_record) */
    *len = n->len;
    if (oob) *oob = n->oob;
    c->app_lent = 1;
    return CDTLS_OK;
}

int cdtls_conn_pop_read(cdtls_conn *c)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    if (!c->app_lent) return CDTLS_ERR_BAD_STATE;
    c->app_lent = 0;
    dgram_queue_pop(&c->app, c->a); /* the plaintext is wiped before the node is freed */
    return CDTLS_OK;
}

int cdtls_conn_read(cdtls_conn *c, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob)
{
    if (!c || !len || (!buf && cap)) return CDTLS_ERR_INVALID_ARG;
    const int was_lent = c->app_lent;
    const uint8_t *d;
    size_t n;
    cdtls_oob o;
    int rc = cdtls_conn_peek_read(c, &d, &n, &o);
    if (rc) return rc;
    if (n > cap) {
        c->app_lent = was_lent;
        return CDTLS_ERR_BUFFER_TOO_SMALL;
    }
    if (n) memcpy(buf, d, n);
    *len = n;
    if (oob) *oob = o;
    return cdtls_conn_pop_read(c);
}

int cdtls_conn_close(cdtls_conn *c)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    if (c->state == CDTLS_STATE_FAILED) return c->error;
    if (c->close_sent) return CDTLS_OK;
    int rc = conn_send_alert(c, ALERT_WARNING, ALERT_CLOSE_NOTIFY);
    c->close_sent = 1;
    c->state = CDTLS_STATE_CLOSED;
    c->timer_at_ms = NO_TIMER;
    return rc;
}

/* ---------------------------------------------------------- accessors */

cdtls_conn_state cdtls_conn_get_state(const cdtls_conn *c)
{
    return c ? c->state : CDTLS_STATE_FAILED;
}

int cdtls_conn_error(const cdtls_conn *c)
{
    return c ? c->error : CDTLS_ERR_INVALID_ARG;
}

int cdtls_conn_peer_alert(const cdtls_conn *c, uint8_t *level, uint8_t *description)
{
    if (!c || !c->have_peer_alert) return 0;
    if (level) *level = c->peer_alert_level;
    if (description) *description = c->peer_alert_desc;
    return 1;
}

uint16_t cdtls_conn_cipher_suite(const cdtls_conn *c)
{
#if CDTLS_HAVE_DTLS13
    if (c && c->version == CDTLS_VERSION_1_3) return c->v13 ? hs13_conn_suite(c) : 0;
#endif
    return c && c->suite ? c->suite->id : 0;
}

uint16_t cdtls_conn_group(const cdtls_conn *c)
{
    return c && c->state == CDTLS_STATE_ESTABLISHED ? c->kx_group : 0;
}

uint16_t cdtls_conn_version(const cdtls_conn *c)
{
#if CDTLS_HAVE_DTLS13
    return c ? c->version : 0;
#else
    return c && c->suite ? CDTLS_VERSION_1_2 : 0; /* the suite is set with the ServerHello */
#endif
}

int cdtls_conn_update_keys(cdtls_conn *c, int request_peer)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    if (c->state == CDTLS_STATE_FAILED) return c->error;
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3 && c->v13) {
        if (c->state != CDTLS_STATE_ESTABLISHED) return CDTLS_ERR_BAD_STATE;
        return hs13_key_update_send(c, request_peer, hs13_now(c));
    }
#endif
    (void)request_peer;
    return c->state == CDTLS_STATE_ESTABLISHED ? CDTLS_ERR_UNSUPPORTED : CDTLS_ERR_BAD_STATE;
}

/* cfg.versions: 0 = the lowest / highest this build speaks. A min above
 * the max, or outside what the build speaks, is refused by
 * context_validate. */
uint16_t conn_min_version(const cdtls_config *cfg)
{
    return cfg->versions.min ? cfg->versions.min : CDTLS_VERSION_1_2;
}

uint16_t conn_max_version(const cdtls_config *cfg)
{
    if (cfg->versions.max) return cfg->versions.max;
    return CDTLS_HAVE_DTLS13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2;
}

int cdtls_conn_uses_ems(const cdtls_conn *c)
{
    return c ? c->use_ems : 0;
}

const cdtls_x509_cert *cdtls_conn_peer_certificates(const cdtls_conn *c, size_t *n)
{
    if (n) *n = c ? c->peer_chain_len : 0;
    return c && c->peer_chain_len ? c->peer_chain : NULL;
}

const uint8_t *cdtls_conn_psk_identity(const cdtls_conn *c, size_t *len)
{
#if CDTLS_HAVE_DTLS13
    const int psk13 = c && c->version == CDTLS_VERSION_1_3 && c->psk13_used && c->psk_identity_len;
#else
    const int psk13 = 0;
#endif
    if (!c || (!psk13 && (!c->psk_identity_len || !c->suite || !suite_uses_psk(c->suite)))) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = c->psk_identity_len;
    return c->psk_identity;
}
