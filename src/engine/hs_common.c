/* The DTLS 1.2 handshake (RFC 6347 §4.2, RFC 5246 §7.3), what both roles
 * share: suites, signature schemes and groups we can do, the transcript,
 * key derivation, our CCS + Finished, the peer's Certificate, the peer's
 * Finished and the message dispatcher. The roles' state machines are in
 * hs_client.c and hs_server.c.
 *
 *   client                               server
 *   flight 1  ClientHello         -->
 *                                 <--    HelloVerifyRequest        flight 2
 *   flight 3  ClientHello+cookie  -->
 *                                 <--    ServerHello               flight 4
 *                                        [Certificate]
 *                                        [ServerKeyExchange]
 *                                        [CertificateRequest]
 *                                        ServerHelloDone
 *   flight 5  [Certificate]       -->
 *             ClientKeyExchange
 *             [CertificateVerify]
 *             ChangeCipherSpec, Finished
 *                                 <--    [NewSessionTicket]        flight 6
 *                                        ChangeCipherSpec, Finished
 */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs_internal.h"
#include "engine/x509_use.h"
#include "handshake/hs_msg.h"

/* Whether this side is set up for the suite: a PSK for the PSK suites; for
 * the certificate suites a client that can judge a server (anchors, pins,
 * a callback, or an explicit insecure_skip_verify) and a server with a
 * certificate whose key fits the suite (RFC 8422 §5.1.1: ECDSA and Ed25519
 * keys for ECDHE_ECDSA, RSA for ECDHE_RSA). */
int hs_suite_configured(const cdtls_conn *c, const suite_info *s)
{
    if (suite_uses_psk(s)) return c->h->psk_len > 0 || c->cfg->callbacks.psk != NULL;
#if defined(CDTLS_PSK_ONLY)
    return 0; /* no X.509 in this build (engine/x509_use.h) */
#endif
    if (c->role == CDTLS_CLIENT)
        return c->cfg->verify.n_trust_anchors || c->cfg->verify.insecure_skip_verify ||
               c->cfg->callbacks.verify_peer || c->cfg->verify.n_pins || rpk_accepts_peer(c);
    /* server: the key we will show, certificate or raw (RFC 7250) */
    if (c->rpk_server_none || (c->own_cert_rpk ? !c->h->have_own_rpk : !c->h->have_own_leaf)) return 0;
    cdtls_key_type t = c->own_cert_rpk ? c->h->own_rpk_key.type : c->h->own_leaf.key.type;
    if (s->kx == KX_ECDHE_RSA) return t == CDTLS_KEY_RSA;
    return t == CDTLS_KEY_EC_P256 || t == CDTLS_KEY_EC_P384 || t == CDTLS_KEY_ED25519;
}

/* Our cipher suites in preference order: the context's (configured or
 * default, those the provider can do) that this side's setup can do. */
int hs_our_suites(const cdtls_conn *c, uint16_t *out, size_t cap, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < c->ctx->n_suites && k < cap; i++)
        if (hs_suite_configured(c, suite_find(c->ctx->suites[i]))) out[k++] = c->ctx->suites[i];
    *n = k;
    return k ? CDTLS_OK : CDTLS_ERR_HANDSHAKE_FAILURE;
}

/* Our ChangeCipherSpec and Finished, closing the flight being built
 * (RFC 5246 §7.1, §7.4.9): from here we write under epoch 1. */
int hs_queue_ccs_finished(cdtls_conn *c)
{
    const int from_server = c->role == CDTLS_SERVER;
    uint8_t *verify = from_server ? c->h->server_finished : c->h->client_finished;
    int rc = conn_hs_queue_ccs(c);
    if (!rc) {
        c->write_epoch = 1;
        rc = conn_finished_data(c, from_server, verify);
    }
    if (!rc) rc = conn_hs_queue(c, HS_FINISHED, verify, KS_VERIFY_DATA_LEN);
    return rc;
}

int hs_suite_uses_cert(const suite_info *s)
{
    return s->kx == KX_ECDHE_ECDSA || s->kx == KX_ECDHE_RSA;
}

/* Signature schemes in cdtls's preference order (RFC 8446 §4.2.3 values,
 * used by TLS 1.2's signature_algorithms too). */
static const uint16_t sig_pref[] = {0x0807, 0x0403, 0x0503, 0x0603, 0x0804,
                                    0x0805, 0x0806, 0x0401, 0x0501, 0x0601};

const cdtls_sig_vt *hs_sig_by_id(const cdtls_provider *p, uint16_t id)
{
    for (int a = 0; a < CDTLS_SIG__COUNT; a++)
        if (p->sig[a] && p->sig[a]->tls_id == id) return p->sig[a];
    return NULL;
}

size_t hs_our_sig_algs(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof sig_pref / sizeof sig_pref[0] && k < cap; i++)
        if (hs_sig_by_id(c->p, sig_pref[i])) out[k++] = sig_pref[i];
    return k;
}

uint16_t hs_sig_choose(const cdtls_conn *c, cdtls_key_type t, const uint8_t *peer, size_t peer_len,
                       uint16_t prefer)
{
    for (int pass = prefer ? 0 : 1; pass < 2; pass++)
        for (size_t i = 0; i < sizeof sig_pref / sizeof sig_pref[0]; i++) {
            uint16_t id = sig_pref[i];
            if (pass == 0 && id != prefer) continue;
            const cdtls_sig_vt *v = hs_sig_by_id(c->p, id);
            if (!v || !(v->key_types & CDTLS_KEY_BIT(t))) continue;
            if (peer && !hs_sig_algs_contain(peer, peer_len, id)) continue;
            return id;
        }
    return 0;
}

/* TLS 1.2 ServerKeyExchange signature input (RFC 8422 §5.4):
 * client_random || server_random || ServerECDHParams. */
void hs_ske_signed_input(const cdtls_conn *c, const uint8_t *params, size_t params_len, uint8_t *out,
                         size_t *out_len)
{
    memcpy(out, c->client_random, 32);
    memcpy(out + 32, c->server_random, 32);
    memcpy(out + 64, params, params_len);
    *out_len = 64 + params_len;
}

/* Our groups in preference order that the provider can do. */
size_t hs_our_groups(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    static const uint16_t defaults[] = {29, 23, 24}; /* X25519, P-256, P-384 */
    const uint16_t *list = c->cfg->negotiate.groups ? c->cfg->negotiate.groups : defaults;
    size_t n = c->cfg->negotiate.groups ? c->cfg->negotiate.n_groups : sizeof defaults / sizeof defaults[0];
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        for (int g = 0; g < CDTLS_GROUP__COUNT; g++)
            if (c->p->kx[g] && c->p->kx[g]->tls_id == list[i]) {
                out[k++] = list[i];
                break;
            }
    return k;
}

const cdtls_kx_vt *hs_kx_by_id(const cdtls_provider *p, uint16_t id)
{
    for (int g = 0; g < CDTLS_GROUP__COUNT; g++)
        if (p->kx[g] && p->kx[g]->tls_id == id) return p->kx[g];
    return NULL;
}

/* The wire form of ServerKeyExchange / ClientKeyExchange for the suite. */
hs_kx_kind hs_suite_kx_kind(const suite_info *s)
{
    return s->kx == KX_PSK ? HS_KX_PSK : s->kx == KX_ECDHE_PSK ? HS_KX_ECDHE_PSK : HS_KX_ECDHE;
}

/* Fixes the transcript hash once the suite is known: the other one stops. */
void hs_transcript_pick(cdtls_conn *c)
{
    int keep = c->suite->prf == CDTLS_HASH_SHA384 ? 1 : 0;
    int drop = 1 - keep;
    if (c->h->transcript_has[drop]) {
        cdtls_memzero(&c->h->transcript[drop], sizeof c->h->transcript[drop]);
        c->h->transcript_has[drop] = 0;
    }
}

void hs_transcript_restart(cdtls_conn *c)
{
    c->h->hs_log_len = 0;
    for (int i = 0; i < 2; i++)
        if (c->h->transcript_has[i])
            c->p->hash[i == 0 ? CDTLS_HASH_SHA256 : CDTLS_HASH_SHA384]->init(&c->h->transcript[i]);
}

/* The PSK premaster secret, then the master secret, then the keys. */
int hs_derive_keys(cdtls_conn *c, const uint8_t *ecdh, size_t ecdh_len)
{
    uint8_t pms[KS_MAX_PREMASTER];
    size_t pms_len = 0;
    int rc = CDTLS_OK;
    if (suite_uses_psk(c->suite)) {
        rc = ks_psk_premaster(ecdh, ecdh_len, c->h->psk, c->h->psk_len, pms, sizeof pms, &pms_len);
    } else {
        /* RFC 8422 §5.10: the premaster secret is the ECDH shared secret */
        if (!ecdh || ecdh_len > sizeof pms) return CDTLS_ERR_INTERNAL;
        memcpy(pms, ecdh, ecdh_len);
        pms_len = ecdh_len;
    }
    if (!rc) rc = conn_compute_master(c, pms, pms_len);
    cdtls_memzero(pms, sizeof pms);
    if (!rc) rc = conn_install_keys(c);
    return rc;
}

int hs_queue_certificate(cdtls_conn *c, size_t n_chain)
{
    size_t size = rpk_or_chain_size(c, n_chain);
    uint8_t *body = c->a->alloc(c->a->ctx, size);
    if (!body) return CDTLS_ERR_NOMEM;
    cdtls_writer w;
    writer_init(&w, body, size);
    int rc = rpk_or_chain_write(c, &w, n_chain);
    if (!rc) rc = conn_hs_queue(c, HS_CERTIFICATE, body, w.len);
    c->a->free(c->a->ctx, body, size);
    return rc;
}

/* The alert that goes with a certificate error (RFC 5246 §7.2.2). */
int hs_cert_alert(int err)
{
    switch (err) {
    case CDTLS_ERR_CERT_EXPIRED:
    case CDTLS_ERR_CERT_NOT_YET_VALID: return ALERT_CERTIFICATE_EXPIRED;
    case CDTLS_ERR_CERT_UNTRUSTED: return ALERT_UNKNOWN_CA;
    case CDTLS_ERR_CERT_SIGNATURE:
    case CDTLS_ERR_CERT_HOSTNAME:
    case CDTLS_ERR_DER: return ALERT_BAD_CERTIFICATE;
    case CDTLS_ERR_UNSUPPORTED: return ALERT_UNSUPPORTED_CERTIFICATE;
    default: return ALERT_CERTIFICATE_UNKNOWN;
    }
}

/* Checks the peer's chain as configured: trust anchors (and host name),
 * pins, then the application's callback, which has the last word. */
int hs_judge_peer_chain(cdtls_conn *c)
{
    int rc;
    if (c->cfg->verify.insecure_skip_verify) {
        rc = CDTLS_OK;
    } else if (c->cfg->verify.n_trust_anchors) {
        if (!c->cfg->callbacks.unix_time) return CDTLS_ERR_INVALID_ARG; /* no clock: cannot check validity */
        int64_t now = c->cfg->callbacks.unix_time(c->cfg->callbacks.user);
        rc = engine_x509_verify_chain(
            c->p, c->peer_chain, c->peer_chain_len, c->cfg->verify.trust_anchors,
            c->cfg->verify.n_trust_anchors, now, c->role == CDTLS_CLIENT ? c->cfg->server_name : NULL,
            c->role == CDTLS_CLIENT ? CDTLS_X509_PURPOSE_SERVER : CDTLS_X509_PURPOSE_CLIENT);
    } else {
        rc = c->cfg->verify.n_pins ? CDTLS_OK : CDTLS_ERR_CERT_UNTRUSTED;
    }
    if (!rc && c->cfg->verify.n_pins) {
        uint8_t fp[32];
        int pinned = 0;
        rc = engine_x509_fingerprint_sha256(c->p, &c->peer_chain[0], fp);
        for (size_t i = 0; !rc && i < c->cfg->verify.n_pins; i++)
            pinned |= cdtls_ct_equal(fp, c->cfg->verify.pinned_sha256 + 32 * i, 32);
        if (!rc && !pinned) rc = CDTLS_ERR_CERT_REJECTED;
    }
    if (c->cfg->callbacks.verify_peer) {
        int verdict = c->cfg->callbacks.verify_peer(c->cfg->callbacks.user, c->peer_chain, c->peer_chain_len,
                                                    rc);
        rc = verdict ? (verdict == rc ? rc : CDTLS_ERR_CERT_REJECTED) : CDTLS_OK;
    }
    return rc;
}

/* Certificate (RFC 5246 §7.4.2): keep a copy of the chain (the record
 * buffers go away), parse it, and judge it. */
/* One block for n parsed certificates and der_len bytes of DER after
 * them; returns where the DER goes. */
uint8_t *hs_peer_block_alloc(cdtls_conn *c, size_t n, size_t der_len)
{
    size_t head = n * sizeof *c->peer_chain;
    c->peer_block = cdtls_alloc_zero(c->a, head + der_len);
    if (!c->peer_block) return NULL;
    c->peer_block_size = head + der_len;
    c->peer_chain = (cdtls_x509_cert *)(void *)c->peer_block;
    return c->peer_block + head;
}

int hs_on_peer_certificate(cdtls_conn *c, const uint8_t *body, size_t len, int judge)
{
    if (c->peer_block) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    if (c->peer_cert_rpk) {
        /* RFC 7250 §3: one SubjectPublicKeyInfo; kept as the "chain" of one
         * whose der is the SPKI and key its parsed key */
        const uint8_t *spki;
        size_t spki_len;
        if (hs_raw_public_key_parse(body, len, &spki, &spki_len) != CDTLS_OK)
            return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
        /* the same keeping and judging as 1.3's (bad_certificate for a
         * key no pin names) */
        return rpk_take_peer_spki(c, spki, spki_len, judge);
    }
    cdtls_reader list;
    size_t n = 0;
    int rc = hs_certificate_parse(body, len, CDTLS_X509_MAX_DEPTH, &n, &list);
    if (rc == CDTLS_ERR_LIMIT) return conn_fail(c, CDTLS_ERR_CERT_PATHLEN, ALERT_BAD_CERTIFICATE);
    if (rc) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (n == 0) return conn_fail(c, CDTLS_ERR_CERT_UNTRUSTED, ALERT_HANDSHAKE_FAILURE);
    uint8_t *copy = hs_peer_block_alloc(c, n, list.left);
    if (!copy) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
    size_t off = 0;
    const uint8_t *der;
    size_t der_len;
    for (size_t i = 0; i < n && hs_certificate_next(&list, &der, &der_len); i++) {
        memcpy(copy + off, der, der_len);
        rc = engine_x509_parse(copy + off, der_len, &c->peer_chain[i]);
        if (rc) return conn_fail(c, rc, hs_cert_alert(rc));
        off += der_len;
        c->peer_chain_len = i + 1;
    }
    rc = judge ? hs_judge_peer_chain(c) : CDTLS_OK;
    if (rc) return conn_fail(c, rc, hs_cert_alert(rc));
    return CDTLS_OK;
}

/* The peer's ChangeCipherSpec: valid only right before its Finished. */
int hs_handle_ccs(cdtls_conn *c)
{
    if (c->hs != HS_C_WAIT_FINISHED && c->hs != HS_S_WAIT_FINISHED)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    return CDTLS_OK;
}

/* Finished (RFC 5246 §7.4.9), checked against the transcript before it:
 * under the new keys (after the peer's CCS), after a promised
 * NewSessionTicket (RFC 5077 §3.3), verify_data compared in constant time. */
int hs_finished_check(cdtls_conn *c, const uint8_t *body, size_t len)
{
    if (c->read_epoch != 1) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    if (len != KS_VERIFY_DATA_LEN) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    const int from_server = c->role == CDTLS_CLIENT;
    if (from_server && c->expect_ticket && !c->got_ticket_msg)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    uint8_t *expect = from_server ? c->h->server_finished : c->h->client_finished;
    int rc = conn_finished_data(c, from_server, expect);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    if (!cdtls_ct_equal(expect, body, KS_VERIFY_DATA_LEN))
        return conn_fail(c, CDTLS_ERR_BAD_FINISHED, ALERT_DECRYPT_ERROR);
    return CDTLS_OK;
}

/* The peer's Finished is in the transcript: our last flight if it is ours
 * to send, then the connection is established. */
static int finish_last_flight(cdtls_conn *c, uint64_t now_ms)
{
    conn_flight_clear(c);
    if (c->resumed && c->role == CDTLS_CLIENT) {
        /* abbreviated handshake: the server sent its CCS + Finished first;
         * ours close it, resent if the server resends */
        int rc = hs_queue_ccs_finished(c);
        return rc ? rc : conn_flight_send(c, now_ms, 0);
    }
    if (!c->resumed && c->role == CDTLS_SERVER) {
        /* flight 6: [NewSessionTicket,] CCS + Finished, kept for
         * retransmission on demand */
        int rc = hs_server_queue_ticket(c, now_ms);
        if (!rc) rc = hs_queue_ccs_finished(c);
        return rc ? rc : conn_flight_send(c, now_ms, 0);
    }
    return CDTLS_OK; /* the peer has our last flight: nothing to retransmit */
}

int hs_finished_handle(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)body, (void)len;
    int rc = finish_last_flight(c, now_ms);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->hs = HS_DONE;
    c->state = CDTLS_STATE_ESTABLISHED;
    c->timer_at_ms = UINT64_MAX;
    conn_keep_record_buffers(c);
    resume_remember(c, now_ms); /* a full handshake's session, for next time */
    return CDTLS_OK;
}

static const hs_step *find_step(const cdtls_conn *c, uint8_t type)
{
    const hs_step *steps = c->role == CDTLS_CLIENT ? hs_client_steps : hs_server_steps;
    size_t n = c->role == CDTLS_CLIENT ? hs_n_client_steps : hs_n_server_steps;
    for (size_t i = 0; i < n; i++)
        if (steps[i].state == c->hs && steps[i].type == type) return &steps[i];
    return NULL;
}

int hs_handle_message(cdtls_conn *c, uint8_t type, const uint8_t *msg, size_t msg_len, const uint8_t *body,
                      size_t body_len, uint64_t now_ms)
{
    const hs_step *st = find_step(c, type);
    if (!st) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    if (st->check) {
        int rc = st->check(c, body, body_len);
        if (rc) return rc;
    }
    if (st->in_transcript) conn_transcript_add(c, msg, msg_len);
    return st->handle(c, body, body_len, now_ms);
}
