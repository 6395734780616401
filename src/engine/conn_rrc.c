/* Return Routability Check (RFC 9853) for connections with connection IDs.
 *
 * A CID lets a peer's records find their connection after its address
 * changed (RFC 9146 §6); RRC checks that the peer really is at the new
 * address before anything but a small path_challenge goes there, so an
 * attacker who replays or spoofs a record from a victim's address gets the
 * victim nothing beyond three times what it sent (RFC 9853 §2, §8.1).
 *
 * The engine does no I/O: cdtls_conn_recv_path tells it the source address
 * of each datagram and cdtls_conn_next_datagram_path where each datagram
 * goes. Messages to an address other than the path's wait in a small queue
 * of their own (out[]), each with its destination.
 *
 * Version-agnostic on purpose: the state machine (conn_rrc_handle, the
 * timer, the address bookkeeping) does not depend on the record format;
 * only rrc_seal does. DTLS 1.2: tls12_cid records of epoch 1; DTLS 1.3:
 * the content type in DTLSInnerPlaintext of the current application epoch
 * (RFC 9853 §4, hs13_seal_app_record), received through hs13_common.c's
 * dispatch. The rrc extension is in the ClientHello and the ServerHello in
 * both versions (§3; §6 Figure 2 is a 1.3 ServerHello with connection_id
 * and rrc): hs_client.c/hs_server.c for 1.2, hs13_client.c/hs13_server.c
 * for 1.3. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "engine/conn_internal.h"
#if CDTLS_HAVE_DTLS13
#include "engine/hs13_internal.h"
#endif

#define RRC_COOKIE_LEN 8u /* RFC 9853 §4: uint64 Cookie */
#define RRC_MSG_LEN (1u + RRC_COOKIE_LEN)
#define RRC_MAX_OUT 4u         /* datagrams waiting for an address other than the path's */
#define RRC_MAX_TRIES 3u       /* path_challenges per probe: one, and two repeats paced at T/3 */
#define RRC_AMPLIFICATION 3u   /* RFC 9853 §2: the anti-amplification limit */
#define RRC_DEFAULT_T_MS 1000u /* RFC 9853 §5.5: T without an RTT estimate */
/* a sealed RRC record: header, CID, explicit nonce, message, inner type, tag */
#define RRC_REC_MAX (DTLS_RECORD_HEADER_LEN + CDTLS_MAX_CID_LEN + 8u + RRC_MSG_LEN + 1u + 32u)

enum { RRC_PATH_CHALLENGE = 0, RRC_PATH_RESPONSE = 1, RRC_PATH_DROP = 2 }; /* RFC 9853 §4 */

typedef enum rrc_phase {
    RRC_IDLE = 0,
    RRC_PROBE_OLD, /* enhanced (§5.2): challenging the old address first */
    RRC_PROBE_NEW  /* basic (§5.1): challenging the new address */
} rrc_phase;

typedef struct rrc_out {
    size_t len, addr_len;
    uint8_t addr[CONN_MAX_ADDR];
    uint8_t rec[RRC_REC_MAX];
} rrc_out;

struct conn_rrc {
    _Bool negotiated;
    /* the validated address (the path), adopted from the first datagram */
    uint8_t path[CONN_MAX_ADDR];
    size_t path_len;
    /* the datagram being processed (cdtls_conn_recv_path), for the call */
    const uint8_t *src;
    size_t src_len;
    int src_not_preferred;
    _Bool got_rrc; /* ...carried an RRC message */
    /* the check in progress */
    rrc_phase phase;
    uint8_t cand[CONN_MAX_ADDR]; /* the new, unvalidated address */
    size_t cand_len;
    uint64_t cand_received, cand_sent;              /* bytes from / to it (§2) */
    uint8_t cookies[RRC_MAX_TRIES][RRC_COOKIE_LEN]; /* this probe's challenges, fresh each (§5.3) */
    unsigned n_cookies;
    uint64_t probe_started_ms, deadline_ms;
    /* datagrams to an address other than the path's, FIFO */
    rrc_out out[RRC_MAX_OUT];
    unsigned out_head, out_count;
    uint8_t to[CONN_MAX_ADDR]; /* the destination last handed out */
    size_t to_len;
};

static int same_addr(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

static void observe_path(const cdtls_conn *c, cdtls_path_event what)
{
    if (!c->observer) return;
    cdtls_event ev = {0};
    ev.kind = CDTLS_EVENT_PATH;
    ev.path_event = what;
    ev.path_sent = c->rrc->cand_sent;
    ev.path_received = c->rrc->cand_received;
    conn_observe(c, &ev);
}

static uint32_t rrc_t(const cdtls_conn *c)
{
    return c->cfg->cid.rrc_timeout_ms ? c->cfg->cid.rrc_timeout_ms : RRC_DEFAULT_T_MS;
}

/* ------------------------------------------------------------ negotiation */

static int rrc_alloc(cdtls_conn *c)
{
    if (c->rrc) return CDTLS_OK;
    c->rrc = cdtls_alloc_zero(c->a, sizeof *c->rrc);
    return c->rrc ? CDTLS_OK : CDTLS_ERR_NOMEM;
}

void conn_rrc_free(cdtls_conn *c)
{
    if (!c->rrc) return;
    cdtls_free_wipe(c->a, c->rrc, sizeof *c->rrc);
    c->rrc = NULL;
}

/* RFC 9853 §3: a client offering rrc MUST also offer connection_id; so
 * rrc goes only into a ClientHello that carries connection_id. */
int conn_rrc_offer(cdtls_conn *c, hs_extensions *ext)
{
    if (c->cfg->cid.rrc == CDTLS_RRC_OFF || !ext->has_cid) return CDTLS_OK;
    int rc = rrc_alloc(c);
    if (rc) return rc;
    ext->has_rrc = 1;
    return CDTLS_OK;
}

/* Server: rrc in the ServerHello only when the client offered it and CIDs
 * were negotiated (RRC exists for the CID-address binding, §3.1). Out of
 * memory: not negotiated (the handshake goes on without RRC). */
void conn_rrc_accept_offer(cdtls_conn *c, const hs_extensions *offer, hs_extensions *reply)
{
    if (c->rrc) c->rrc->negotiated = 0;
    if (!offer->has_rrc || c->cfg->cid.rrc == CDTLS_RRC_OFF || !c->use_cid) return;
    if (rrc_alloc(c)) return;
    c->rrc->negotiated = 1;
    reply->has_rrc = 1;
}

/* An imported connection (cdtls_conn_import_state) that had negotiated
 * rrc keeps checking: without it, the listener would follow the peer to
 * any new address unchecked. The path is adopted from the first datagram
 * after the import, as after a handshake. */
int conn_rrc_restore(cdtls_conn *c)
{
    int rc = rrc_alloc(c);
    if (rc) return rc;
    c->rrc->negotiated = 1;
    return CDTLS_OK;
}

int conn_rrc_accept_reply(cdtls_conn *c, const hs_extensions *reply, int *alert)
{
    if (!reply->has_rrc) {
        if (c->rrc) c->rrc->negotiated = 0;
        return CDTLS_OK;
    }
    /* RFC 5246 §7.4.1.4: an extension we did not offer; and rrc without a
     * negotiated CID has nothing to check (RFC 9853 §3) */
    if (!c->rrc || !c->use_cid) {
        *alert = ALERT_UNSUPPORTED_EXTENSION;
        return CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    c->rrc->negotiated = 1;
    return CDTLS_OK;
}

int cdtls_conn_uses_rrc(const cdtls_conn *c)
{
    return c && c->rrc && c->rrc->negotiated;
}

const void *cdtls_conn_path_address(const cdtls_conn *c, size_t *len)
{
    const int have = c && c->rrc && c->rrc->path_len;
    if (len) *len = have ? c->rrc->path_len : 0;
    return have ? c->rrc->path : NULL;
}

/* ---------------------------------------------------------------- sending */

/* Seals one RRC message with the current write epoch (RFC 9853 §4: the
 * message MUST be protected with the active keys). DTLS 1.2: epoch 1, in
 * the tls12_cid format when a CID goes to the peer; DTLS 1.3: the current
 * application epoch (>= 3, after any KeyUpdate) with the peer's CID. */
static int rrc_seal(cdtls_conn *c, uint8_t type, const uint8_t cookie[RRC_COOKIE_LEN], uint8_t *out,
                    size_t cap, size_t *out_len)
{
#if CDTLS_HAVE_DTLS13
    if (c->version == CDTLS_VERSION_1_3) {
        uint8_t m13[RRC_MSG_LEN];
        m13[0] = type;
        memcpy(m13 + 1, cookie, RRC_COOKIE_LEN);
        return hs13_seal_app_record(c, CT_RRC, m13, sizeof m13, out, cap, out_len);
    }
#endif
    if (!c->have_write_cipher || c->write_seq[1] > DTLS_MAX_SEQ) return CDTLS_ERR_LIMIT;
    uint8_t msg[RRC_MSG_LEN];
    msg[0] = type;
    memcpy(msg + 1, cookie, RRC_COOKIE_LEN);
    int rc = conn_seal(c, 1, CT_RRC, msg, sizeof msg, 0, out, cap, out_len);
    if (rc) return rc;
    c->write_seq[1]++;
    return CDTLS_OK;
}

/* Queues a message for addr; to the path's address (or to no known
 * address) it goes into the connection's ordinary output queue. */
static int rrc_send(cdtls_conn *c, uint8_t type, const uint8_t cookie[RRC_COOKIE_LEN], const uint8_t *addr,
                    size_t addr_len, int budgeted)
{
    struct conn_rrc *r = c->rrc;
    uint8_t rec[RRC_REC_MAX];
    size_t n = 0;
    int rc = rrc_seal(c, type, cookie, rec, sizeof rec, &n);
    if (rc) return rc;
    if (!addr_len || same_addr(addr, addr_len, r->path, r->path_len)) {
        if (c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_ERR_LIMIT;
        return dgram_queue_push(&c->out, c->a, rec, n, NULL);
    }
    /* RFC 9853 §2, §5: toward an unvalidated address at most three times
     * what came from it (RRC_AMPLIFICATION; the product cannot wrap: both
     * counts are sums of datagram sizes) */
    if (budgeted && r->cand_sent + n > RRC_AMPLIFICATION * r->cand_received) {
        observe_path(c, CDTLS_PATH_BUDGET);
        return CDTLS_ERR_LIMIT;
    }
    if (r->out_count >= RRC_MAX_OUT) return CDTLS_ERR_LIMIT;
    rrc_out *o = &r->out[(r->out_head + r->out_count) % RRC_MAX_OUT];
    memcpy(o->rec, rec, n);
    o->len = n;
    memcpy(o->addr, addr, addr_len);
    o->addr_len = addr_len;
    r->out_count++;
    if (budgeted) r->cand_sent += n;
    return CDTLS_OK;
}

/* One more path_challenge of this probe, with a fresh cookie (§5.3):
 * to the old address (PROBE_OLD) or the new one (PROBE_NEW). */
static int rrc_challenge(cdtls_conn *c)
{
    struct conn_rrc *r = c->rrc;
    if (r->n_cookies >= RRC_MAX_TRIES) return CDTLS_OK;
    uint8_t *cookie = r->cookies[r->n_cookies];
    int rc = c->p->random(c->p, cookie, RRC_COOKIE_LEN);
    if (rc) return rc;
    r->n_cookies++;
    if (r->phase == RRC_PROBE_OLD)
        rc = rrc_send(c, RRC_PATH_CHALLENGE, cookie, r->path, r->path_len, 0);
    else
        rc = rrc_send(c, RRC_PATH_CHALLENGE, cookie, r->cand, r->cand_len, 1);
    if (rc == CDTLS_OK) observe_path(c, CDTLS_PATH_CHALLENGE_SENT);
    /* withheld by the budget or the queue: a repeat may still fit later */
    return rc == CDTLS_ERR_LIMIT ? CDTLS_OK : rc;
}

static int rrc_probe(cdtls_conn *c, rrc_phase phase, uint64_t now_ms)
{
    struct conn_rrc *r = c->rrc;
    r->phase = phase;
    r->n_cookies = 0;
    r->probe_started_ms = now_ms;
    r->deadline_ms = now_ms + rrc_t(c);
    return rrc_challenge(c);
}

static void rrc_end(cdtls_conn *c, cdtls_path_event what)
{
    struct conn_rrc *r = c->rrc;
    observe_path(c, what);
    r->phase = RRC_IDLE;
    r->n_cookies = 0;
    cdtls_memzero(r->cookies, sizeof r->cookies);
    r->cand_len = 0;
    r->cand_received = r->cand_sent = 0;
}

/* --------------------------------------------------------------- receiving */

/* The cookie is one of this probe's (constant time: §8, a guessed cookie
 * must not be confirmed byte by byte). */
static int rrc_cookie_ours(const struct conn_rrc *r, const uint8_t *cookie)
{
    int hit = 0;
    for (unsigned i = 0; i < r->n_cookies; i++) hit |= cdtls_ct_equal(r->cookies[i], cookie, RRC_COOKIE_LEN);
    return hit;
}

int conn_rrc_handle(cdtls_conn *c, const uint8_t *pt, size_t len, int epoch, uint64_t now_ms)
{
    struct conn_rrc *r = c->rrc;
    /* RFC 9853 §4: protected with the active keys; a plaintext one is
     * forged or misplaced: dropped as an invalid record */
    if (epoch == 0) return CDTLS_OK;
    /* §3: not used unless both sides sent rrc. RFC 9853 names no alert for
     * a peer that sends one anyway; without the extension the content type
     * is one this connection does not know, and the engine drops those
     * (as every unknown content type, tests/test_hostile_peer.c). */
    if (!r || !r->negotiated) return CDTLS_OK;
    if (c->state != CDTLS_STATE_ESTABLISHED) return CDTLS_OK;
    r->got_rrc = 1;
    if (len < 1) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    const uint8_t type = pt[0];
    /* §4: unknown msg_type: parsed and ignored */
    if (type > RRC_PATH_DROP) return CDTLS_OK;
    if (len != RRC_MSG_LEN) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    const uint8_t *cookie = pt + 1;
    const int from_path = !r->src || same_addr(r->src, r->src_len, r->path, r->path_len);
    const int from_cand = r->src && r->cand_len && same_addr(r->src, r->src_len, r->cand, r->cand_len);

    switch (type) {
    case RRC_PATH_CHALLENGE: {
        /* §5.4: exactly one answer, at once, to where it came from;
         * path_drop when that local path is no longer the one we prefer */
        uint8_t answer = r->src && r->src_not_preferred ? RRC_PATH_DROP : RRC_PATH_RESPONSE;
        int rc = rrc_send(c, answer, cookie, r->src, r->src ? r->src_len : 0, 0);
        if (rc == CDTLS_OK) observe_path(c, CDTLS_PATH_CHALLENGE_ANSWERED);
        return rc == CDTLS_ERR_LIMIT ? CDTLS_OK : rc;
    }
    case RRC_PATH_RESPONSE:
        /* §5.4: invalid responses are silently discarded: one that answers
         * no challenge of this probe, or comes from elsewhere than the
         * address challenged (a response validates the path both ways) */
        if (r->phase == RRC_IDLE || !rrc_cookie_ours(r, cookie)) return CDTLS_OK;
        if (r->phase == RRC_PROBE_NEW && from_cand) {
            memcpy(r->path, r->cand, r->cand_len);
            r->path_len = r->cand_len;
            rrc_end(c, CDTLS_PATH_VALIDATED);
        } else if (r->phase == RRC_PROBE_OLD && r->src && from_path) {
            /* §5.2: the old path is alive and preferred: the new address
             * was most likely an off-path attacker racing copies (§8.2) */
            rrc_end(c, CDTLS_PATH_KEPT);
        }
        return CDTLS_OK;
    case RRC_PATH_DROP:
        if (r->phase == RRC_IDLE || !rrc_cookie_ours(r, cookie)) return CDTLS_OK;
        if (r->phase == RRC_PROBE_OLD && r->src && from_path) {
            /* §5.2: the old path is alive but the peer moved: check the new */
            observe_path(c, CDTLS_PATH_DROP_RECEIVED);
            return rrc_probe(c, RRC_PROBE_NEW, now_ms);
        }
        if (r->phase == RRC_PROBE_NEW && from_cand) {
            /* the peer will not use the new address: the path stays */
            observe_path(c, CDTLS_PATH_DROP_RECEIVED);
            rrc_end(c, CDTLS_PATH_FAILED);
        }
        return CDTLS_OK;
    default: return CDTLS_OK;
    }
}

/* After a datagram was processed: the address bookkeeping (§3.1). */
static int rrc_after_datagram(cdtls_conn *c, const cdtls_path *from, size_t len, uint64_t now_ms)
{
    struct conn_rrc *r = c->rrc;
    if (!r || !from || !from->addr || !from->addr_len || !c->recv_authenticated) return CDTLS_OK;
    const uint8_t *a = from->addr;
    if (!r->path_len) { /* the first address heard from: the path */
        memcpy(r->path, a, from->addr_len);
        r->path_len = from->addr_len;
        return CDTLS_OK;
    }
    if (same_addr(a, from->addr_len, r->path, r->path_len)) return CDTLS_OK;
    if (!r->negotiated || c->state != CDTLS_STATE_ESTABLISHED || !c->use_cid) return CDTLS_OK;
    if (r->phase != RRC_IDLE) {
        /* §2: everything that came from the address being checked and was
         * not discarded counts toward its limit; a third address during a
         * check (a nested rebinding, §5) is not followed */
        if (same_addr(a, from->addr_len, r->cand, r->cand_len)) r->cand_received += len;
        return CDTLS_OK;
    }
    /* RFC 9146 §6: only a record newer than all before may move the peer;
     * a replayed or older one leaves everything as it is */
    if (!c->recv_advanced) return CDTLS_OK;
    /* nor does a datagram with RRC messages: a probe, or the answer to
     * one, is no request to migrate (a path_drop from the address the peer
     * gives up would otherwise start a check of that address again) */
    if (r->got_rrc) return CDTLS_OK;
    memcpy(r->cand, a, from->addr_len);
    r->cand_len = from->addr_len;
    r->cand_received = len;
    r->cand_sent = 0;
    return rrc_probe(c, c->cfg->cid.rrc == CDTLS_RRC_ENHANCED ? RRC_PROBE_OLD : RRC_PROBE_NEW, now_ms);
}

int cdtls_conn_recv_path(cdtls_conn *c, const uint8_t *dgram, size_t len, const cdtls_oob *oob,
                         const cdtls_path *from, uint64_t now_ms)
{
    if (!c || (from && !from->addr && from->addr_len) || (from && from->addr_len > CONN_MAX_ADDR))
        return CDTLS_ERR_INVALID_ARG;
    if (c->rrc && from && from->addr) {
        c->rrc->src = from->addr;
        c->rrc->src_len = from->addr_len;
        c->rrc->src_not_preferred = from->not_preferred;
    }
    if (c->rrc) c->rrc->got_rrc = 0;
    c->recv_authenticated = 0;
    int rc = cdtls_conn_recv(c, dgram, len, oob, now_ms);
    if (c->rrc) {
        c->rrc->src = NULL;
        c->rrc->src_len = 0;
        c->rrc->src_not_preferred = 0;
    }
    if (rc || c->state == CDTLS_STATE_FAILED) return rc;
    rc = rrc_after_datagram(c, from, len, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

int cdtls_conn_next_datagram_path(cdtls_conn *c, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob,
                                  const void **to, size_t *to_len)
{
    if (!c || !buf || !len || !to || !to_len) return CDTLS_ERR_INVALID_ARG;
    struct conn_rrc *r = c->rrc;
    if (r && r->out_count) {
        rrc_out *o = &r->out[r->out_head];
        if (cap < o->len) return CDTLS_ERR_BUFFER_TOO_SMALL;
        memcpy(buf, o->rec, o->len);
        *len = o->len;
        if (oob) memset(oob, 0, sizeof *oob);
        memcpy(r->to, o->addr, o->addr_len);
        r->to_len = o->addr_len;
        cdtls_memzero(o, sizeof *o);
        r->out_head = (r->out_head + 1) % RRC_MAX_OUT;
        r->out_count--;
        *to = r->to;
        *to_len = r->to_len;
        return CDTLS_OK;
    }
    int rc = cdtls_conn_next_datagram(c, buf, cap, len, oob);
    if (rc) return rc;
    *to = r && r->path_len ? r->path : NULL;
    *to_len = r ? r->path_len : 0;
    return CDTLS_OK;
}

/* ------------------------------------------------------------------ timer */

uint64_t conn_rrc_timeout(const cdtls_conn *c)
{
    const struct conn_rrc *r = c->rrc;
    if (!r || r->phase == RRC_IDLE || c->state != CDTLS_STATE_ESTABLISHED) return UINT64_MAX;
    uint64_t t = r->deadline_ms;
    if (r->n_cookies < RRC_MAX_TRIES) { /* §5.3: repeats paced, here at T/3 */
        uint64_t next = r->probe_started_ms + (uint64_t)r->n_cookies * (rrc_t(c) / RRC_MAX_TRIES);
        if (next < t) t = next;
    }
    return t;
}

int conn_rrc_on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    struct conn_rrc *r = c->rrc;
    if (!r || r->phase == RRC_IDLE) return CDTLS_OK;
    int rc = CDTLS_OK;
    if (now_ms >= r->deadline_ms) {
        if (r->phase == RRC_PROBE_OLD) /* §5.2: no answer on the old path: check the new */
            rc = rrc_probe(c, RRC_PROBE_NEW, now_ms);
        else /* §5.1: T expired: the binding is not updated */
            rrc_end(c, CDTLS_PATH_FAILED);
    } else if (r->n_cookies < RRC_MAX_TRIES &&
               now_ms >= r->probe_started_ms + (uint64_t)r->n_cookies * (rrc_t(c) / RRC_MAX_TRIES)) {
        rc = rrc_challenge(c);
    }
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}
