/* DTLS 1.3 post-handshake client authentication (RFC 8446 §4.6.2, RFC
 * 9147 §5.8.4 and §7):
 *
 *   client                                   server
 *   ClientHello (+post_handshake_auth) -->
 *   ... handshake ...
 *                                    <--     CertificateRequest (context)  epoch 3+
 *   Certificate (context echoed)     -->
 *   [CertificateVerify]
 *   Finished
 *                                    <--     ACK
 *
 * The CertificateRequest is acknowledged implicitly by the client's flight
 * (RFC 9147 §7.1, item 2) and resent by the server's timer until then (or
 * until an ACK lists it); the client's flight is resent by its timer until
 * the server's ACK lists all its records. Messages go in records of the
 * current application epoch, fragmented to the MTU (RFC 9147 §5.5); a
 * retransmission carries only the fragments not yet ACKed (§7.2). Received
 * messages are reassembled (hs_reasm: bounded as the handshake's, in
 * message_seq order) before they are handled.
 *
 * Transcript (RFC 8446 §4.4): the Handshake Context of a post-handshake
 * message is the main handshake through the client's Finished, then the
 * CertificateRequest; the Finished MAC's base key is
 * client_application_traffic_secret_N. Both sides keep a copy of the
 * transcript hash state at the client's Finished (the handshake state with
 * the running transcript is freed once the handshake is over) when the
 * client offered post_handshake_auth, and only then. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs13_internal.h"
#include "handshake/hs_reasm.h"

#if CDTLS_HAVE_DTLS13

#define PHA_CTX_LEN 8u    /* our certificate_request_context: random, unique per request */
#define PHA_MAX_MSGS 3u   /* Certificate, CertificateVerify, Finished */
#define PHA_MAX_RN 64u    /* record numbers of our flight we recognise in an ACK */
#define PHA_MAX_FRAGS 64u /* fragments of one message (a bit each) */
#define PHA_MAX_RETRANS 10u
#define ALERT_CERTIFICATE_REQUIRED_13 116 /* RFC 8446 §6.2 */

enum pha_state {
    PHA_IDLE = 0,
    PHA_S_WAIT_CERT, /* server: our CertificateRequest is out */
    PHA_S_WAIT_CV,
    PHA_S_WAIT_FIN,
    PHA_C_PENDING /* client: our answer is not yet ACKed */
};

struct h13_pha {
    cdtls_hash_ctx th;  /* the transcript through the client's Finished */
    cdtls_hash_ctx cur; /* ...then this exchange's messages */
    int have_th;
    int offered; /* the ClientHello carried post_handshake_auth */
    int st;
    int require; /* server: an empty Certificate fails the connection */
    int result;  /* cdtls_client_auth_state */
    uint8_t ctx[255];
    size_t ctx_len;
    /* our messages being resent (handshake headers included) */
    uint8_t *out;
    size_t out_cap, n_msgs, off[PHA_MAX_MSGS], len[PHA_MAX_MSGS];
    size_t frag_room; /* body bytes per fragment, fixed for the flight */
    ack13_record_number rn[PHA_MAX_RN];
    uint8_t rn_msg[PHA_MAX_RN], rn_frag[PHA_MAX_RN];
    uint64_t acked[PHA_MAX_MSGS]; /* a bit per fragment */
    size_t n_rn;
    /* the peer's post-handshake messages of ours, reassembled */
    hs_reasm reasm;
    int reasm_on;
    int flight_seen; /* server: a record of the client's answer came (its ACK list restarts) */
    uint64_t timer_at;
    uint64_t deadline; /* server: the client's whole answer is due by then */
    uint32_t timeout_ms;
    unsigned retransmits;
};

static h13_pha *pha_get(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v) return NULL;
    if (!v->pha) {
        v->pha = cdtls_alloc_zero(c->a, sizeof *v->pha);
        if (v->pha) v->pha->timer_at = UINT64_MAX;
    }
    return v->pha;
}

static void out_free(cdtls_conn *c, h13_pha *ph)
{
    if (ph->out) cdtls_free_wipe(c->a, ph->out, ph->out_cap);
    ph->out = NULL;
    ph->out_cap = ph->n_msgs = ph->n_rn = 0;
    ph->timer_at = UINT64_MAX;
}

void hs13_ph_free(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v || !v->pha) return;
    out_free(c, v->pha);
    if (v->pha->reasm_on) hs_reasm_free(&v->pha->reasm);
    cdtls_free_wipe(c->a, v->pha, sizeof *v->pha);
    v->pha = NULL;
}

void hs13_ph_offered(cdtls_conn *c, int offered)
{
    if (!offered) return;
    h13_pha *ph = pha_get(c);
    if (ph) ph->offered = 1;
}

void hs13_ph_keep_transcript(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v || !v->pha || !v->pha->offered || !v->hh || !v->hh->th_on) return;
    v->pha->th = v->hh->th;
    v->pha->have_th = 1;
}

static void cur_add(cdtls_conn *c, h13_pha *ph, const uint8_t *msg, size_t msg_len)
{
    /* TLS-style 4-byte header (RFC 9147 §5.2): type, then the uint24 length */
    const cdtls_hash_vt *h = c->p->hash[c->v13->hash];
    uint8_t hdr[4] = {msg[0], msg[1], msg[2], msg[3]};
    h->update(&ph->cur, hdr, 4);
    if (msg_len > DTLS_HS_HEADER_LEN)
        h->update(&ph->cur, msg + DTLS_HS_HEADER_LEN, msg_len - DTLS_HS_HEADER_LEN);
}

/* A message (header + body) of ours appended to the flight being built. */
static int out_add(cdtls_conn *c, h13_pha *ph, uint8_t type, const uint8_t *body, size_t len)
{
    if (ph->n_msgs == PHA_MAX_MSGS || len > 0xffffff) return CDTLS_ERR_INTERNAL;
    size_t used = ph->n_msgs ? ph->off[ph->n_msgs - 1] + ph->len[ph->n_msgs - 1] : 0;
    size_t need = used + DTLS_HS_HEADER_LEN + len;
    if (need > ph->out_cap) {
        uint8_t *n = c->a->alloc(c->a->ctx, need);
        if (!n) return CDTLS_ERR_NOMEM;
        if (used) memcpy(n, ph->out, used);
        if (ph->out) cdtls_free_wipe(c->a, ph->out, ph->out_cap);
        ph->out = n;
        ph->out_cap = need;
    }
    uint8_t *m = ph->out + used;
    hs_header h = {type, (uint32_t)len, c->send_msg_seq++, 0, (uint32_t)len};
    hs_header_put(&h, m);
    if (len) memcpy(m + DTLS_HS_HEADER_LEN, body, len);
    ph->off[ph->n_msgs] = used;
    ph->len[ph->n_msgs] = DTLS_HS_HEADER_LEN + len;
    ph->n_msgs++;
    cur_add(c, ph, m, DTLS_HS_HEADER_LEN + len);
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_SENT, m, DTLS_HS_HEADER_LEN + len);
    return CDTLS_OK;
}

static size_t n_frags(const h13_pha *ph, size_t i)
{
    size_t body = ph->len[i] - DTLS_HS_HEADER_LEN;
    return body ? (body + ph->frag_room - 1) / ph->frag_room : 1;
}

/* Sends the fragments not yet acknowledged, each in a fresh record (RFC
 * 9147 §5.8.1, §5.5), noting the record numbers for the ACK. */
static int out_transmit(cdtls_conn *c, h13_pha *ph)
{
    uint8_t *frag = c->a->alloc(c->a->ctx, DTLS_HS_HEADER_LEN + ph->frag_room);
    if (!frag) return CDTLS_ERR_NOMEM;
    int rc = CDTLS_OK;
    for (size_t i = 0; i < ph->n_msgs && !rc; i++) {
        const uint8_t *m = ph->out + ph->off[i];
        hs_header h;
        hs_header_get(m, &h);
        for (size_t k = 0; k < n_frags(ph, i) && !rc; k++) {
            if (ph->acked[i] >> k & 1u) continue;
            size_t off = k * ph->frag_room;
            size_t take = h.length - off < ph->frag_room ? h.length - off : ph->frag_room;
            hs_header fh = {h.type, h.length, h.message_seq, (uint32_t)off, (uint32_t)take};
            hs_header_put(&fh, frag);
            if (take) memcpy(frag + DTLS_HS_HEADER_LEN, m + DTLS_HS_HEADER_LEN + off, take);
            ack13_record_number rn;
            rc = hs13_post_handshake_send(c, frag, DTLS_HS_HEADER_LEN + take, &rn);
            if (rc) break;
            ph->rn[ph->n_rn % PHA_MAX_RN] = rn;
            ph->rn_msg[ph->n_rn % PHA_MAX_RN] = (uint8_t)i;
            ph->rn_frag[ph->n_rn % PHA_MAX_RN] = (uint8_t)k;
            ph->n_rn++;
        }
    }
    cdtls_free_wipe(c->a, frag, DTLS_HS_HEADER_LEN + ph->frag_room);
    return rc;
}

static int out_send(cdtls_conn *c, h13_pha *ph, uint64_t now_ms)
{
    /* fragments fill a record of the current epoch (hs13_max_write) */
    size_t room = hs13_max_write(c);
    if (room <= DTLS_HS_HEADER_LEN) return CDTLS_ERR_LIMIT;
    ph->frag_room = room - DTLS_HS_HEADER_LEN;
    for (size_t i = 0; i < ph->n_msgs; i++) {
        if (n_frags(ph, i) > PHA_MAX_FRAGS) return CDTLS_ERR_LIMIT;
        ph->acked[i] = 0;
    }
    ph->timeout_ms = c->cfg->timers.retransmit_initial_ms;
    ph->retransmits = 0;
    ph->timer_at = now_ms + ph->timeout_ms;
    return out_transmit(c, ph);
}

/* ---------------------------------------------------------------- server */

int hs13_ph_request(cdtls_conn *c, int require, uint64_t now_ms)
{
    conn13 *v = c->v13;
    if (c->role != CDTLS_SERVER || !v) return CDTLS_ERR_UNSUPPORTED;
    if (c->state != CDTLS_STATE_ESTABLISHED || !v->tx_ap) return CDTLS_ERR_BAD_STATE;
    h13_pha *ph = v->pha;
    /* RFC 8446 §4.6.2: only a client that offered post_handshake_auth */
    if (!ph || !ph->offered || !ph->have_th) return CDTLS_ERR_UNSUPPORTED;
    if (ph->st != PHA_IDLE) return CDTLS_ERR_BAD_STATE; /* one request at a time */
    if (c->peer_block) return CDTLS_ERR_BAD_STATE;      /* the client is authenticated already */
    out_free(c, ph);
    int rc = c->p->random(c->p, ph->ctx, PHA_CTX_LEN);
    if (rc) return rc;
    ph->ctx_len = PHA_CTX_LEN;
    uint16_t algs[16];
    size_t n = hs13_our_sig_algs(c, algs, 16);
    uint8_t body[256];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    rc = hs13_certificate_request_write(&w, ph->ctx, ph->ctx_len, algs, n);
    if (rc) return rc;
    ph->cur = ph->th;
    rc = out_add(c, ph, HS_CERTIFICATE_REQUEST, body, w.len);
    if (!rc) rc = out_send(c, ph, now_ms);
    if (rc) {
        out_free(c, ph);
        return rc;
    }
    ph->st = PHA_S_WAIT_CERT;
    /* a client that ACKs the request (RFC 9147 §7.1) and never answers
     * would otherwise keep us waiting, and the exchange's state, for good */
    ph->deadline = now_ms + c->cfg->timers.handshake_timeout_ms;
    ph->flight_seen = 0;
    ph->require = require;
    ph->result = CDTLS_CLIENT_AUTH_STATE_PENDING;
    return CDTLS_OK;
}

/* The CertificateVerify of the client's key over this exchange's
 * transcript (RFC 8446 §4.4.3), with a scheme we offered. */
static int cv_check(cdtls_conn *c, h13_pha *ph, const uint8_t *body, size_t len)
{
    uint8_t th[TLS13_MAX_HASH];
    c->p->hash[c->v13->hash]->final(&ph->cur, th);
    return hs13_certificate_verify_check_over(c, body, len, th, 0);
}

static int server_message(cdtls_conn *c, h13_pha *ph, uint8_t type, const uint8_t *msg, size_t msg_len,
                          uint64_t now_ms)
{
    conn13 *v = c->v13;
    const uint8_t *body = msg + DTLS_HS_HEADER_LEN;
    size_t len = msg_len - DTLS_HS_HEADER_LEN;
    int rc;
    if (ph->st == PHA_S_WAIT_CERT && type == HS_CERTIFICATE) {
        /* the client's flight: our CertificateRequest is implicitly acknowledged (RFC 9147 §7.1) */
        out_free(c, ph);
        size_t n = 0;
        rc = hs13_on_certificate_ctx(c, body, len, 1, ph->ctx, ph->ctx_len, &n);
        if (rc) return rc;
        cur_add(c, ph, msg, msg_len);
        if (n == 0 && ph->require)
            return conn_fail(c, CDTLS_ERR_CERT_UNTRUSTED, ALERT_CERTIFICATE_REQUIRED_13);
        ph->st = n ? PHA_S_WAIT_CV : PHA_S_WAIT_FIN;
        return CDTLS_OK;
    }
    if (ph->st == PHA_S_WAIT_CV && type == HS_CERTIFICATE_VERIFY) {
        rc = cv_check(c, ph, body, len);
        if (rc) return rc;
        cur_add(c, ph, msg, msg_len);
        ph->st = PHA_S_WAIT_FIN;
        return CDTLS_OK;
    }
    if (ph->st == PHA_S_WAIT_FIN && type == HS_FINISHED) {
        uint8_t th[TLS13_MAX_HASH];
        c->p->hash[v->hash]->final(&ph->cur, th);
        if (tls13_verify_data_check(c->p, v->hash, DTLS13_LABEL_PREFIX, v->c_ap, th, body, len) != CDTLS_OK)
            return conn_fail(c, CDTLS_ERR_BAD_FINISHED, ALERT_DECRYPT_ERROR);
        ph->st = PHA_IDLE;
        ph->result = c->peer_chain_len ? CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED
                                       : CDTLS_CLIENT_AUTH_STATE_DECLINED;
        cdtls_memzero(&ph->cur, sizeof ph->cur);
        /* RFC 9147 §7.1: the client's flight is not implicitly acknowledged */
        ack13_rx_due_now(&v->arx, now_ms);
        rc = hs13_send_ack(c, now_ms);
        return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
    }
    return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
}

/* ---------------------------------------------------------------- client */

/* Our answer: Certificate (our chain, or raw key, or empty when we have
 * nothing the server's schemes can sign), CertificateVerify, Finished. */
static int client_answer(cdtls_conn *c, h13_pha *ph, const uint8_t *msg, size_t msg_len, uint64_t now_ms)
{
    conn13 *v = c->v13;
    hs13_certificate_request cr;
    if (hs13_certificate_request_parse(msg + DTLS_HS_HEADER_LEN, msg_len - DTLS_HS_HEADER_LEN, &cr) !=
        CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    out_free(c, ph); /* a new request supersedes an answer not yet acknowledged */
    memcpy(ph->ctx, cr.context, cr.context_len);
    ph->ctx_len = cr.context_len;
    ph->cur = ph->th;
    cur_add(c, ph, msg, msg_len);
    const cdtls_config *cfg = c->cfg;
    uint16_t sig = 0;
    cdtls_key_type t = CDTLS_KEY_EC_P256;
    int have = c->own_cert_rpk ? c->ctx->have_own_rpk : (cfg->credentials.n_certs && c->ctx->have_own_leaf);
    if (have && cfg->credentials.private_key) {
        t = c->own_cert_rpk ? c->ctx->own_rpk_key.type : c->ctx->own_leaf.key.type;
        sig = hs13_sig_choose(c, t, cr.sig_algs, cr.sig_algs_len);
    }
    /* Certificate */
    hs13_cert_entry e[CDTLS_X509_MAX_DEPTH];
    size_t n = 0, size = 1 + ph->ctx_len + 3;
    if (sig && c->own_cert_rpk) {
        e[0].data = cfg->credentials.raw_public_key;
        e[0].len = cfg->credentials.raw_public_key_len;
        n = 1;
    } else if (sig) {
        n = cfg->credentials.n_certs < CDTLS_X509_MAX_DEPTH ? cfg->credentials.n_certs : CDTLS_X509_MAX_DEPTH;
        for (size_t i = 0; i < n; i++) {
            e[i].data = cfg->credentials.chain[i];
            e[i].len = cfg->credentials.chain_len[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        e[i].ext.p = NULL;
        e[i].ext.len = e[i].ext.count = 0;
        size += 3 + e[i].len + 2;
    }
    uint8_t *body = c->a->alloc(c->a->ctx, size);
    if (!body) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
    cdtls_writer w;
    writer_init(&w, body, size);
    int rc = hs13_certificate_write(&w, ph->ctx, ph->ctx_len, e, n);
    if (!rc) rc = out_add(c, ph, HS_CERTIFICATE, body, w.len);
    c->a->free(c->a->ctx, body, size);
    /* CertificateVerify */
    if (!rc && n) {
        const cdtls_sig_vt *sv = hs_sig_by_id(c->p, sig);
        uint8_t th[TLS13_MAX_HASH], content[HS13_CV_CONTENT_MAX], s[CDTLS_SIG_MAX_LEN];
        uint8_t cvb[4 + CDTLS_SIG_MAX_LEN];
        size_t content_len = 0, s_len = sizeof s;
        c->p->hash[v->hash]->final(&ph->cur, th);
        rc = sv ? hs13_certificate_verify_content(0, th, v->hash_len, content, sizeof content, &content_len)
                : CDTLS_ERR_INTERNAL;
        if (!rc) rc = sv->sign(c->p, cfg->credentials.private_key, content, content_len, s, &s_len);
        if (!rc) {
            hs_certificate_verify cv = {sig, s, s_len};
            writer_init(&w, cvb, sizeof cvb);
            rc = hs_certificate_verify_write(&w, &cv);
        }
        if (!rc) rc = out_add(c, ph, HS_CERTIFICATE_VERIFY, cvb, w.len);
    }
    /* Finished, keyed by client_application_traffic_secret_N (RFC 8446 §4.4) */
    if (!rc) {
        uint8_t th[TLS13_MAX_HASH], vd[TLS13_MAX_HASH];
        c->p->hash[v->hash]->final(&ph->cur, th);
        rc = tls13_verify_data(c->p, v->hash, DTLS13_LABEL_PREFIX, v->c_ap, th, vd);
        if (!rc) rc = out_add(c, ph, HS_FINISHED, vd, v->hash_len);
    }
    cdtls_memzero(&ph->cur, sizeof ph->cur);
    if (!rc) rc = out_send(c, ph, now_ms);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    ph->st = PHA_C_PENDING;
    ph->result = n ? CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED : CDTLS_CLIENT_AUTH_STATE_DECLINED;
    return CDTLS_OK;
}

/* ---------------------------------------------------------------- both */

int hs13_ph_handles(uint8_t type)
{
    return type == HS_CERTIFICATE_REQUEST || type == HS_CERTIFICATE || type == HS_CERTIFICATE_VERIFY ||
           type == HS_FINISHED;
}

static int handle_message(cdtls_conn *c, const uint8_t *msg, size_t msg_len, uint64_t now_ms);

int hs13_ph_receive(cdtls_conn *c, const hs_header *h, const uint8_t *frag, uint64_t epoch, uint64_t seq,
                    uint64_t now_ms)
{
    conn13 *v = c->v13;
    h13_pha *ph = v->pha;
    if (!ph) {
        /* no post_handshake_auth offered or seen: a whole CertificateRequest
         * (or anything of these types) is unexpected_message (RFC 8446
         * §4.6.2); fragments of one are dropped */
        if (h->message_seq != c->peer_next_seq || h->fragment_offset || h->fragment_length != h->length)
            return CDTLS_OK;
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    }
    if (!ph->reasm_on) {
        hs_reasm_limits lim = {c->cfg->limits.max_handshake_message, c->cfg->limits.max_handshake_buffer,
                               NULL};
        if (hs_reasm_init(&ph->reasm, c->a, &lim) != CDTLS_OK)
            return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
        ph->reasm_on = 1;
    }
    /* other post-handshake messages (KeyUpdate) move peer_next_seq on */
    if (hs_reasm_next_seq(&ph->reasm) != c->peer_next_seq) {
        hs_reasm_reset(&ph->reasm);
        hs_reasm_set_next_seq(&ph->reasm, c->peer_next_seq);
    }
    if (hs_reasm_add(&ph->reasm, h, frag, h->fragment_length) != CDTLS_OK) return CDTLS_OK; /* dropped */
    if (c->role == CDTLS_SERVER && ph->st != PHA_IDLE) {
        /* the records of the client's answer, for our ACK (RFC 9147 §7):
         * at most ¼ RTO after one (the missing fragments then come again
         * alone), at once after the Finished */
        ack13_record_number rn = {epoch, seq};
        if (!ph->flight_seen) ack13_rx_new_flight(&v->arx);
        ph->flight_seen = 1;
        ack13_rx_note(&v->arx, rn, 1, now_ms, c->timeout_ms);
    }
    uint8_t type;
    uint16_t mseq;
    const uint8_t *msg;
    size_t msg_len;
    while (c->state == CDTLS_STATE_ESTABLISHED && hs_reasm_next(&ph->reasm, &type, &mseq, &msg, &msg_len)) {
        c->peer_next_seq = (uint16_t)(mseq + 1);
        int rc = handle_message(c, msg, msg_len, now_ms);
        if (ph->reasm_on) hs_reasm_consume(&ph->reasm);
        if (rc) return rc;
    }
    return CDTLS_OK;
}

static int handle_message(cdtls_conn *c, const uint8_t *msg, size_t msg_len, uint64_t now_ms)
{
    h13_pha *ph = c->v13->pha;
    const uint8_t type = msg[0];
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_RECEIVED, msg, msg_len);
    if (c->role == CDTLS_CLIENT) {
        /* RFC 8446 §4.6.2: a CertificateRequest to a client that did not
         * offer post_handshake_auth is unexpected_message */
        if (type != HS_CERTIFICATE_REQUEST || !ph || !ph->offered || !ph->have_th)
            return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
        return client_answer(c, ph, msg, msg_len, now_ms);
    }
    if (!ph || ph->st == PHA_IDLE || type == HS_CERTIFICATE_REQUEST)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    return server_message(c, ph, type, msg, msg_len, now_ms);
}

void hs13_ph_on_ack(cdtls_conn *c, const ack13_record_number *rns, size_t n)
{
    conn13 *v = c->v13;
    h13_pha *ph = v ? v->pha : NULL;
    if (!ph || !ph->n_msgs) return;
    size_t kn = ph->n_rn < PHA_MAX_RN ? ph->n_rn : PHA_MAX_RN;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < kn; j++)
            if (rns[i].epoch == ph->rn[j].epoch && rns[i].seq == ph->rn[j].seq)
                ph->acked[ph->rn_msg[j]] |= (uint64_t)1 << ph->rn_frag[j];
    for (size_t i = 0; i < ph->n_msgs; i++) {
        size_t nf = n_frags(ph, i);
        uint64_t all = nf >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << nf) - 1;
        if ((ph->acked[i] & all) != all) return;
    }
    /* all of it acknowledged (RFC 9147 §7.1): not resent any more */
    out_free(c, ph);
    if (ph->st == PHA_C_PENDING) ph->st = PHA_IDLE;
}

int hs13_ph_busy(const cdtls_conn *c)
{
    const conn13 *v = c->v13;
    return v && v->pha && (v->pha->st != PHA_IDLE || v->pha->n_msgs);
}

static int server_waiting(const cdtls_conn *c, const h13_pha *ph)
{
    return c->role == CDTLS_SERVER && ph->st != PHA_IDLE;
}

uint64_t hs13_ph_timeout(const cdtls_conn *c)
{
    const conn13 *v = c->v13;
    const h13_pha *ph = v ? v->pha : NULL;
    if (!ph) return UINT64_MAX;
    uint64_t t = ph->n_msgs ? ph->timer_at : UINT64_MAX;
    if (server_waiting(c, ph) && ph->deadline < t) t = ph->deadline;
    return t;
}

int hs13_ph_on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    conn13 *v = c->v13;
    h13_pha *ph = v ? v->pha : NULL;
    if (!ph || c->state != CDTLS_STATE_ESTABLISHED) return CDTLS_OK;
    if (server_waiting(c, ph) && now_ms >= ph->deadline) {
        /* no complete answer within timers.handshake_timeout_ms, ACKed or not */
        out_free(c, ph);
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_TIMEOUT, -1);
    }
    if (!ph->n_msgs || now_ms < ph->timer_at) return CDTLS_OK;
    if (ph->retransmits >= PHA_MAX_RETRANS) {
        /* the peer is gone or refuses: the request times out */
        int server = server_waiting(c, ph);
        out_free(c, ph);
        if (server) return conn_fail(c, CDTLS_ERR_HANDSHAKE_TIMEOUT, -1);
        ph->st = PHA_IDLE;
        return CDTLS_OK;
    }
    ph->timer_at = hs13_backoff(c, &ph->timeout_ms, now_ms);
    ph->retransmits++;
    conn_observe_retransmit(c, 1);
    int rc = out_transmit(c, ph);
    /* an output queue the application has not drained: the next timer tries again */
    if (rc == CDTLS_ERR_LIMIT && c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_OK;
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

#endif /* CDTLS_HAVE_DTLS13 */

/* ------------------------------------------------------------ public API */

int cdtls_conn_request_client_auth(cdtls_conn *c, int require)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    if (c->state == CDTLS_STATE_FAILED) return c->error;
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3 && c->v13) return hs13_ph_request(c, require, hs13_now(c));
#endif
    (void)require;
    return c->state == CDTLS_STATE_ESTABLISHED ? CDTLS_ERR_UNSUPPORTED : CDTLS_ERR_BAD_STATE;
}

int cdtls_conn_client_auth_state(const cdtls_conn *c)
{
#if CDTLS_HAVE_DTLS13
    if (c && c->v13 && c->v13->pha) return c->v13->pha->result;
#endif
    (void)c;
    return CDTLS_CLIENT_AUTH_STATE_NONE;
}
