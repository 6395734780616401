/* Connection IDs in DTLS 1.3 (RFC 9147 §9, with RFC 9146's extension).
 *
 * - Negotiation: the connection_id extension in ClientHello and ServerHello
 *   (RFC 9147 §9; RFC 9146 §3 for its meaning: the CID the sender wants to
 *   receive, zero-length for "send me none").
 * - Records: once negotiated, every record protected with the handshake or
 *   application keys carries the peer's CID in the unified header (RFC 9147
 *   §4; §9.1's example shows EncryptedExtensions onwards with cid=...). A
 *   record must carry one of our CIDs when we asked for a non-empty one,
 *   and none when we asked for the empty one; anything else is dropped.
 * - NewConnectionId / RequestConnectionId (§9): whole post-handshake
 *   messages, ACKed as the others (§7), ours resent until ACKed. */
#include "engine/hs13_cid.h"

#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/conn_internal.h"
#include "handshake/hs13_cid_msg.h"

#if CDTLS_HAVE_DTLS13

#define NO_TIMER UINT64_MAX
#define CID13_OWN_MAX 8u   /* CIDs of ours in use: the handshake's and 7 issued */
#define CID13_SPARE_MAX 8u /* the peer's spare CIDs we keep (§9: extras MAY be discarded) */
#define CID13_ISSUE_MAX 8u /* CIDs in one NewConnectionId of ours */
#define CID13_RETRIES 10u  /* as a client's final flight (hs13_on_timeout) */
/* RequestConnectionIds we answer; beyond, too_many_cids_requested (§9) */
#define CID13_REQUESTS_MAX 32u
#define CID13_MSG_MAX (DTLS_HS_HEADER_LEN + 2u + CID13_ISSUE_MAX * (1u + CDTLS_MAX_CID_LEN) + 1u)

typedef struct cid_entry {
    size_t len;
    uint8_t b[CDTLS_MAX_CID_LEN];
} cid_entry;

struct hs13_cid_state {
    cid_entry own[CID13_OWN_MAX - 1]; /* issued by NewConnectionId (c->own_cid is the first) */
    size_t n_own;
    cid_entry spare[CID13_SPARE_MAX]; /* the peer's, oldest first (§9: used in order) */
    size_t n_spare;
    /* our NewConnectionId or RequestConnectionId until ACKed */
    uint8_t msg[CID13_MSG_MAX];
    size_t msg_len;
    ack13_record_number rn[8];
    size_t n_rn;
    uint64_t timer_at;
    uint32_t timeout_ms;
    unsigned retries;
    int request_open; /* our RequestConnectionId has no NewConnectionId answer yet */
    unsigned owed;    /* CIDs the peer asked for while our message was in flight */
    unsigned n_requests;
};

static struct hs13_cid_state *state(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v->cid) v->cid = cdtls_alloc_zero(c->a, sizeof *v->cid);
    return v->cid;
}

void hs13_cid_free(cdtls_conn *c)
{
    if (!c->v13 || !c->v13->cid) return;
    cdtls_free_wipe(c->a, c->v13->cid, sizeof *c->v13->cid);
    c->v13->cid = NULL;
}

/* ------------------------------------------------------------ hellos */

int hs13_cid_accept_offer(cdtls_conn *c, const hs_extensions *offer, hs_extensions *reply)
{
    c->use_cid = 0;
    if (!offer->has_cid || !(c->cid_gen || conn_cid_wanted(c->cfg))) return CDTLS_OK;
    if (offer->cid_len > sizeof c->peer_cid) return CDTLS_ERR_ILLEGAL_PARAMETER;
    int rc = conn_cid_make(c, c->own_cid, sizeof c->own_cid, &c->own_cid_len);
    if (rc) return rc;
    memcpy(c->peer_cid, offer->cid, offer->cid_len);
    c->peer_cid_len = offer->cid_len;
    c->use_cid = 1;
    reply->has_cid = 1;
    reply->cid = c->own_cid;
    reply->cid_len = c->own_cid_len;
    return CDTLS_OK;
}

int hs13_cid_accept_reply(cdtls_conn *c, const hs_extensions *reply)
{
    c->use_cid = 0;
    if (!reply->has_cid) return CDTLS_OK;
    /* RFC 8446 §4.1.4: an extension we did not offer */
    if (!c->cid_offered) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    if (reply->cid_len > sizeof c->peer_cid)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    memcpy(c->peer_cid, reply->cid, reply->cid_len);
    c->peer_cid_len = reply->cid_len;
    c->use_cid = 1;
    return CDTLS_OK;
}

/* ----------------------------------------------------------- records */

size_t hs13_cid_tx_len(const cdtls_conn *c)
{
    return c->use_cid ? c->peer_cid_len : 0;
}

void hs13_cid_header(const cdtls_conn *c, record13_header_opts *o)
{
    o->cid_len = hs13_cid_tx_len(c);
    o->cid = o->cid_len ? c->peer_cid : NULL;
}

size_t hs13_cid_rx_len(const cdtls_conn *c)
{
    /* a client knows its CID from its ClientHello on: the server's first
     * protected records may share the ServerHello's datagram */
    return c->use_cid || c->cid_offered ? c->own_cid_len : 0;
}

static int is_ours(const cdtls_conn *c, const uint8_t *cid, size_t len)
{
    if (len != c->own_cid_len || len == 0) return 0;
    if (cdtls_ct_equal(cid, c->own_cid, len)) return 1;
    const struct hs13_cid_state *s = c->v13 ? c->v13->cid : NULL;
    for (size_t i = 0; s && i < s->n_own; i++)
        if (s->own[i].len == len && cdtls_ct_equal(cid, s->own[i].b, len)) return 1;
    return 0;
}

int hs13_cid_rx_ok(const cdtls_conn *c, const record13_header *h)
{
    if (!c->use_cid || c->own_cid_len == 0) return h->cid == NULL;
    return h->cid && is_ours(c, h->cid, h->cid_len);
}

/* ------------------------------------------------- sending CID messages */

static int transmit(cdtls_conn *c, struct hs13_cid_state *s)
{
    ack13_record_number rn;
    int rc = hs13_post_handshake_send(c, s->msg, s->msg_len, &rn);
    if (rc) return rc;
    s->rn[s->n_rn++ % 8] = rn;
    return CDTLS_OK;
}

static int can_send(const cdtls_conn *c)
{
    return c->version == CDTLS_VERSION_1_3 && c->v13 && c->state == CDTLS_STATE_ESTABLISHED &&
           c->v13->tx_ap && c->use_cid;
}

/* Starts sending the message in s->msg (body built after the header). */
static int start(cdtls_conn *c, struct hs13_cid_state *s, uint8_t type, size_t body_len, uint64_t now_ms)
{
    hs_header h = {type, (uint32_t)body_len, c->send_msg_seq++, 0, (uint32_t)body_len};
    hs_header_put(&h, s->msg);
    s->msg_len = DTLS_HS_HEADER_LEN + body_len;
    s->n_rn = 0;
    s->retries = 0;
    s->timeout_ms = c->cfg->timers.retransmit_initial_ms;
    s->timer_at = now_ms + s->timeout_ms;
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_SENT, s->msg, s->msg_len);
    return transmit(c, s);
}

/* A NewConnectionId of n fresh CIDs of ours. */
static int send_new_cids(cdtls_conn *c, struct hs13_cid_state *s, size_t n, uint8_t usage, uint64_t now_ms)
{
    size_t room = CID13_OWN_MAX - 1 - s->n_own;
    if (n > room) n = room;
    if (n > CID13_ISSUE_MAX) n = CID13_ISSUE_MAX;
    if (usage == HS13_CID_IMMEDIATE && n == 0) return CDTLS_ERR_LIMIT;
    uint8_t cids[CID13_ISSUE_MAX * CDTLS_MAX_CID_LEN] = {0}; /* n may be 0 (a spare list may be empty) */
    const size_t len = c->own_cid_len;
    for (size_t i = 0; i < n; i++) {
        size_t got = 0;
        int rc = conn_cid_make(c, cids + i * len, len, &got);
        /* one length for all our CIDs: the header does not carry it (§4) */
        if (!rc && got != len) rc = CDTLS_ERR_INVALID_ARG;
        if (!rc && (is_ours(c, cids + i * len, len))) rc = CDTLS_ERR_RANDOM;
        if (rc) return rc;
    }
    cdtls_writer w;
    writer_init(&w, s->msg + DTLS_HS_HEADER_LEN, sizeof s->msg - DTLS_HS_HEADER_LEN);
    int rc = hs13_new_cid_write(&w, cids, len, n, usage);
    if (rc) return rc;
    /* ours from now on: the peer may use them as soon as the message lands */
    for (size_t i = 0; i < n; i++) {
        s->own[s->n_own].len = len;
        memcpy(s->own[s->n_own].b, cids + i * len, len);
        s->n_own++;
    }
    return start(c, s, HS13_NEW_CONNECTION_ID, w.len, now_ms);
}

int hs13_cid_on_ack(cdtls_conn *c, const ack13_record_number *rns, size_t n, uint64_t now_ms)
{
    struct hs13_cid_state *s = c->v13 ? c->v13->cid : NULL;
    if (!s || !s->msg_len) return CDTLS_OK;
    size_t k = s->n_rn < 8 ? s->n_rn : 8;
    int acked = 0;
    for (size_t i = 0; i < n && !acked; i++)
        for (size_t j = 0; j < k; j++) acked |= rns[i].epoch == s->rn[j].epoch && rns[i].seq == s->rn[j].seq;
    if (!acked) return CDTLS_OK;
    s->msg_len = 0;
    s->timer_at = NO_TIMER;
    if (s->owed && can_send(c)) { /* a request that came while ours was in flight */
        unsigned owed = s->owed;
        s->owed = 0;
        int rc = send_new_cids(c, s, owed, HS13_CID_SPARE, now_ms);
        if (rc && rc != CDTLS_ERR_LIMIT) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    }
    return CDTLS_OK;
}

uint64_t hs13_cid_timeout(const cdtls_conn *c)
{
    const struct hs13_cid_state *s = c->v13 ? c->v13->cid : NULL;
    return s && s->msg_len && c->state == CDTLS_STATE_ESTABLISHED ? s->timer_at : NO_TIMER;
}

int hs13_cid_on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    struct hs13_cid_state *s = c->v13 ? c->v13->cid : NULL;
    if (!s || !s->msg_len || c->state != CDTLS_STATE_ESTABLISHED || now_ms < s->timer_at) return CDTLS_OK;
    if (s->retries >= CID13_RETRIES) {
        /* given up (as a final flight is): the CIDs stay ours, a request
         * counts as unanswered no more */
        s->msg_len = 0;
        s->timer_at = NO_TIMER;
        s->request_open = 0;
        return CDTLS_OK;
    }
    s->timer_at = hs13_backoff(c, &s->timeout_ms, now_ms);
    s->retries++; /* not c->retransmits: that counts the final flight's tries */
    conn_observe_retransmit(c, 1);
    int rc = transmit(c, s);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

/* ------------------------------------------------ receiving CID messages */

int hs13_cid_msg_type(uint8_t type)
{
    return type == HS13_NEW_CONNECTION_ID || type == HS13_REQUEST_CONNECTION_ID;
}

static int on_new_cid(cdtls_conn *c, struct hs13_cid_state *s, const uint8_t *body, size_t len)
{
    /* §9: not to a side that did not negotiate CIDs or that sends an
     * empty one (it asked us for none) */
    if (!c->use_cid || c->peer_cid_len == 0)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    hs13_new_cid m;
    int rc = hs13_new_cid_parse(body, len, &m);
    if (rc == CDTLS_ERR_DECODE) return conn_fail(c, rc, ALERT_DECODE_ERROR);
    if (rc) return conn_fail(c, rc, ALERT_ILLEGAL_PARAMETER);
    /* cid_immediate: "one of the new CIDs MUST be used immediately", so an
     * empty list cannot be */
    if (m.usage == HS13_CID_IMMEDIATE && m.n_cids == 0)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    size_t off = 0, cl = 0;
    const uint8_t *cid;
    int first = m.usage == HS13_CID_IMMEDIATE;
    while (hs13_new_cid_next(&m, &off, &cid, &cl)) {
        if (first) {
            memcpy(c->peer_cid, cid, cl);
            c->peer_cid_len = cl;
            first = 0;
        } else if (s->n_spare < CID13_SPARE_MAX) {
            memcpy(s->spare[s->n_spare].b, cid, cl);
            s->spare[s->n_spare].len = cl;
            s->n_spare++;
        }
    }
    s->request_open = 0; /* §9: our request is fulfilled */
    return CDTLS_OK;
}

static int on_request_cid(cdtls_conn *c, struct hs13_cid_state *s, const uint8_t *body, size_t len,
                          uint64_t now_ms)
{
    /* §9: no RequestConnectionId from a side that is sent an empty CID
     * (we asked for none) */
    if (!c->use_cid || c->own_cid_len == 0)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    uint8_t num = 0;
    if (hs13_request_cid_parse(body, len, &num) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (++s->n_requests > CID13_REQUESTS_MAX) return conn_fail(c, CDTLS_ERR_LIMIT, HS13_ALERT_TOO_MANY_CIDS);
    /* §9: answered with cid_spare "as soon as possible", possibly with fewer
     * (even none) when excessive: we hold at most CID13_OWN_MAX */
    if (s->msg_len) {
        s->owed = num;
        return CDTLS_OK;
    }
    int rc = send_new_cids(c, s, num, HS13_CID_SPARE, now_ms);
    return rc && rc != CDTLS_ERR_LIMIT ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

int hs13_cid_received(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint64_t epoch,
                      uint64_t seq, uint64_t now_ms)
{
    conn13 *v = c->v13;
    struct hs13_cid_state *s = state(c);
    if (!s) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
    int rc = type == HS13_NEW_CONNECTION_ID ? on_new_cid(c, s, body, len)
                                            : on_request_cid(c, s, body, len, now_ms);
    if (rc || c->state == CDTLS_STATE_FAILED) return rc;
    /* §7: acknowledged as every post-handshake message */
    ack13_rx_new_flight(&v->arx);
    ack13_record_number rn = {epoch, seq};
    ack13_rx_note(&v->arx, rn, 1, now_ms, c->timeout_ms);
    rc = hs13_send_ack(c, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

/* --------------------------------------------------------------- API */

int cdtls_conn_cid_is_ours(const cdtls_conn *c, const uint8_t *cid, size_t len)
{
    if (!c || !cid || !c->use_cid) return 0;
    return is_ours(c, cid, len);
}

int cdtls_conn_issue_cids(cdtls_conn *c, size_t n, int immediate, uint64_t now_ms)
{
    if (!c || n == 0 || n > CID13_ISSUE_MAX) return CDTLS_ERR_INVALID_ARG;
    if (!can_send(c) || c->own_cid_len == 0) return CDTLS_ERR_BAD_STATE;
    struct hs13_cid_state *s = state(c);
    if (!s) return CDTLS_ERR_NOMEM;
    if (s->msg_len) return CDTLS_ERR_WOULD_BLOCK;
    if (s->n_own + n > CID13_OWN_MAX - 1) return CDTLS_ERR_LIMIT;
    return send_new_cids(c, s, n, immediate ? HS13_CID_IMMEDIATE : HS13_CID_SPARE, now_ms);
}

int cdtls_conn_request_cids(cdtls_conn *c, unsigned n, uint64_t now_ms)
{
    if (!c || n == 0 || n > 255) return CDTLS_ERR_INVALID_ARG;
    if (!can_send(c) || c->peer_cid_len == 0) return CDTLS_ERR_BAD_STATE;
    struct hs13_cid_state *s = state(c);
    if (!s) return CDTLS_ERR_NOMEM;
    if (s->msg_len || s->request_open) return CDTLS_ERR_WOULD_BLOCK;
    s->msg[DTLS_HS_HEADER_LEN] = (uint8_t)n;
    s->request_open = 1;
    return start(c, s, HS13_REQUEST_CONNECTION_ID, 1, now_ms);
}

size_t cdtls_conn_spare_cids(const cdtls_conn *c)
{
    return c && c->v13 && c->v13->cid ? c->v13->cid->n_spare : 0;
}

int cdtls_conn_switch_cid(cdtls_conn *c)
{
    if (!c || c->version != CDTLS_VERSION_1_3 || !c->v13 || !c->use_cid) return CDTLS_ERR_BAD_STATE;
    struct hs13_cid_state *s = c->v13->cid;
    if (!s || s->n_spare == 0) return CDTLS_ERR_WOULD_BLOCK;
    memcpy(c->peer_cid, s->spare[0].b, s->spare[0].len);
    c->peer_cid_len = s->spare[0].len;
    memmove(&s->spare[0], &s->spare[1], (s->n_spare - 1) * sizeof s->spare[0]);
    s->n_spare--;
    cdtls_memzero(&s->spare[s->n_spare], sizeof s->spare[0]);
    return CDTLS_OK;
}

#else /* DTLS 1.3 compiled out: the 1.2 CID only */

int cdtls_conn_cid_is_ours(const cdtls_conn *c, const uint8_t *cid, size_t len)
{
    return c && cid && c->use_cid && len && len == c->own_cid_len && memcmp(cid, c->own_cid, len) == 0;
}

int cdtls_conn_issue_cids(cdtls_conn *c, size_t n, int immediate, uint64_t now_ms)
{
    (void)c, (void)n, (void)immediate, (void)now_ms;
    return CDTLS_ERR_UNSUPPORTED;
}

int cdtls_conn_request_cids(cdtls_conn *c, unsigned n, uint64_t now_ms)
{
    (void)c, (void)n, (void)now_ms;
    return CDTLS_ERR_UNSUPPORTED;
}

size_t cdtls_conn_spare_cids(const cdtls_conn *c)
{
    (void)c;
    return 0;
}

int cdtls_conn_switch_cid(cdtls_conn *c)
{
    (void)c;
    return CDTLS_ERR_UNSUPPORTED;
}

#endif
