/* The client and server handshake state machines for the full DTLS 1.2
 * handshake with PSK and ECDHE-PSK (RFC 6347 §4.2, RFC 5246 §7.3, RFC 4279,
 * RFC 5489), with the HelloVerifyRequest cookie exchange, extended master
 * secret (RFC 7627), secure renegotiation signalling (RFC 5746) and
 * encrypt_then_mac (RFC 7366).
 *
 *   client                               server
 *   flight 1  ClientHello         -->
 *                                 <--    HelloVerifyRequest        flight 2
 *   flight 3  ClientHello+cookie  -->
 *                                 <--    ServerHello               flight 4
 *                                        [ServerKeyExchange]
 *                                        ServerHelloDone
 *   flight 5  ClientKeyExchange   -->
 *             ChangeCipherSpec, Finished
 *                                 <--    ChangeCipherSpec, Finished flight 6
 */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/conn_internal.h"
#include "engine/x509_use.h"
#include "handshake/hs_msg.h"

#define HS_BODY_MAX 2048u /* our own messages are small: no certificates yet */

/* ------------------------------------------------------------- helpers */

/* Whether this side is set up for the suite: a PSK for the PSK suites; for
 * the certificate suites a client that can judge a server (anchors, pins,
 * a callback, or an explicit insecure_skip_verify) and a server with a
 * certificate whose key fits the suite (RFC 8422 §5.1.1: ECDSA and Ed25519
 * keys for ECDHE_ECDSA, RSA for ECDHE_RSA). */
static int suite_configured(const cdtls_conn *c, const suite_info *s)
{
    if (suite_uses_psk(s)) return c->psk_len > 0 || c->cfg.psk_callback != NULL;
#if defined(CDTLS_PSK_ONLY)
    return 0; /* no X.509 in this build (engine/x509_use.h) */
#endif
    if (c->role == CDTLS_CLIENT)
        return c->cfg.n_trust_anchors || c->cfg.insecure_skip_verify || c->cfg.verify_peer || c->cfg.n_pins ||
               rpk_accepts_peer(c);
    /* server: the key we will show, certificate or raw (RFC 7250) */
    if (c->rpk_server_none || (c->own_cert_rpk ? !c->have_own_rpk : !c->have_own_leaf)) return 0;
    cdtls_key_type t = c->own_cert_rpk ? c->own_rpk_key.type : c->own_leaf.key.type;
    if (s->kx == KX_ECDHE_RSA) return t == CDTLS_KEY_RSA;
    return t == CDTLS_KEY_EC_P256 || t == CDTLS_KEY_EC_P384 || t == CDTLS_KEY_ED25519;
}

static int offered_suites(const cdtls_conn *c, uint16_t *out, size_t cap, size_t *n)
{
    uint16_t all[64];
    size_t m;
    if (c->cfg.cipher_suites) {
        m = c->cfg.n_cipher_suites < 64 ? c->cfg.n_cipher_suites : 64;
        memcpy(all, c->cfg.cipher_suites, m * sizeof all[0]);
    } else {
        m = cdtls_default_cipher_suites(c->p, all, 64);
        if (m > 64) m = 64;
    }
    size_t k = 0;
    for (size_t i = 0; i < m && k < cap; i++)
        if (cdtls_cipher_suite_supported(c->p, all[i]) && suite_configured(c, suite_find(all[i])))
            out[k++] = all[i];
    *n = k;
    return k ? CDTLS_OK : CDTLS_ERR_HANDSHAKE_FAILURE;
}

/* Our ChangeCipherSpec and Finished, closing the flight being built
 * (RFC 5246 §7.1, §7.4.9): from here we write under epoch 1. */
static int queue_ccs_finished(cdtls_conn *c)
{
    const int from_server = c->role == CDTLS_SERVER;
    uint8_t *verify = from_server ? c->server_finished : c->client_finished;
    int rc = conn_hs_queue_ccs(c);
    if (!rc) {
        c->write_epoch = 1;
        rc = conn_finished_data(c, from_server, verify);
    }
    if (!rc) rc = conn_hs_queue(c, HS_FINISHED, verify, KS_VERIFY_DATA_LEN);
    return rc;
}

static int suite_uses_cert(const suite_info *s)
{
    return s->kx == KX_ECDHE_ECDSA || s->kx == KX_ECDHE_RSA;
}

/* Signature schemes in cdtls's preference order (RFC 8446 §4.2.3 values,
 * used by TLS 1.2's signature_algorithms too). */
static const uint16_t sig_pref[] = {0x0807, 0x0403, 0x0503, 0x0603, 0x0804,
                                    0x0805, 0x0806, 0x0401, 0x0501, 0x0601};

static const cdtls_sig_vt *sig_by_id(const cdtls_provider *p, uint16_t id)
{
    for (int a = 0; a < CDTLS_SIG__COUNT; a++)
        if (p->sig[a] && p->sig[a]->tls_id == id) return p->sig[a];
    return NULL;
}

static size_t our_sig_algs(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof sig_pref / sizeof sig_pref[0] && k < cap; i++)
        if (sig_by_id(c->p, sig_pref[i])) out[k++] = sig_pref[i];
    return k;
}

/* The scheme a server signs with: one its key and provider can do that
 * the client offered (no extension: RFC 5246 §7.4.1.4.1 defaults are SHA-1,
 * which cdtls does not do, so the preferred one is tried). A P-384 key
 * prefers SHA-384. */
static uint16_t server_pick_sig(const cdtls_conn *c, const hs_client_hello *ch)
{
    /* the key behind our certificate or raw public key (RFC 7250) */
    cdtls_key_type t = c->own_cert_rpk ? c->own_rpk_key.type : c->own_leaf.key.type;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof sig_pref / sizeof sig_pref[0]; i++) {
            uint16_t id = sig_pref[i];
            if (pass == 0 && t == CDTLS_KEY_EC_P384 && id != 0x0503) continue;
            const cdtls_sig_vt *v = sig_by_id(c->p, id);
            if (!v || !(v->key_types & CDTLS_KEY_BIT(t))) continue;
            if (ch->ext.has_signature_algorithms &&
                !hs_sig_algs_contain(ch->ext.signature_algorithms, ch->ext.signature_algorithms_len, id))
                continue;
            return id;
        }
    return 0;
}

/* TLS 1.2 ServerKeyExchange signature input (RFC 8422 §5.4):
 * client_random || server_random || ServerECDHParams. */
static void ske_signed_input(const cdtls_conn *c, const uint8_t *params, size_t params_len,
                             uint8_t *out, size_t *out_len)
{
    memcpy(out, c->client_random, 32);
    memcpy(out + 32, c->server_random, 32);
    memcpy(out + 64, params, params_len);
    *out_len = 64 + params_len;
}

/* Our groups in preference order that the provider can do. */
static size_t our_groups(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    static const uint16_t defaults[] = {29, 23, 24}; /* X25519, P-256, P-384 */
    const uint16_t *list = c->cfg.groups ? c->cfg.groups : defaults;
    size_t n = c->cfg.groups ? c->cfg.n_groups : sizeof defaults / sizeof defaults[0];
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        for (int g = 0; g < CDTLS_GROUP__COUNT; g++)
            if (c->p->kx[g] && c->p->kx[g]->tls_id == list[i]) {
                out[k++] = list[i];
                break;
            }
    return k;
}

static const cdtls_kx_vt *kx_by_id(const cdtls_provider *p, uint16_t id)
{
    for (int g = 0; g < CDTLS_GROUP__COUNT; g++)
        if (p->kx[g] && p->kx[g]->tls_id == id) return p->kx[g];
    return NULL;
}

static int any_offered(const uint16_t *suites, size_t n, int (*pred)(const suite_info *))
{
    for (size_t i = 0; i < n; i++) {
        const suite_info *s = suite_find(suites[i]);
        if (s && pred(s)) return 1;
    }
    return 0;
}

/* The wire form of ServerKeyExchange / ClientKeyExchange for the suite. */
static hs_kx_kind suite_kx_kind(const suite_info *s)
{
    return s->kx == KX_PSK ? HS_KX_PSK : s->kx == KX_ECDHE_PSK ? HS_KX_ECDHE_PSK : HS_KX_ECDHE;
}

static int is_cbc(const suite_info *s)
{
    return s->kind == SUITE_CBC;
}

/* Fixes the transcript hash once the suite is known: the other one stops. */
static void pick_transcript(cdtls_conn *c)
{
    int keep = c->suite->prf == CDTLS_HASH_SHA384 ? 1 : 0;
    int drop = 1 - keep;
    if (c->transcript_has[drop]) {
        cdtls_memzero(&c->transcript[drop], sizeof c->transcript[drop]);
        c->transcript_has[drop] = 0;
    }
}

static void transcript_restart(cdtls_conn *c)
{
    c->hs_log_len = 0;
    for (int i = 0; i < 2; i++)
        if (c->transcript_has[i])
            c->p->hash[i == 0 ? CDTLS_HASH_SHA256 : CDTLS_HASH_SHA384]->init(&c->transcript[i]);
}

/* The PSK premaster secret, then the master secret, then the keys. */
static int derive_keys(cdtls_conn *c, const uint8_t *ecdh, size_t ecdh_len)
{
    uint8_t pms[KS_MAX_PREMASTER];
    size_t pms_len = 0;
    int rc = CDTLS_OK;
    if (suite_uses_psk(c->suite)) {
        rc = ks_psk_premaster(ecdh, ecdh_len, c->psk, c->psk_len, pms, sizeof pms, &pms_len);
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

/* ================================================================ CLIENT */

static int client_send_hello(cdtls_conn *c, uint64_t now_ms)
{
    uint16_t suites[64];
    size_t n_suites = 0;
    int rc = offered_suites(c, suites, 64, &n_suites);
    if (rc) return rc;
    uint16_t groups[CDTLS_GROUP__COUNT];
    size_t n_groups = any_offered(suites, n_suites, suite_uses_ecdhe)
                          ? our_groups(c, groups, CDTLS_GROUP__COUNT)
                          : 0;

    hs_client_hello ch;
    memset(&ch, 0, sizeof ch);
    ch.version = DTLS_VERSION_1_2;
    memcpy(ch.random, c->client_random, sizeof ch.random);
    ch.session_id_len = 0;
    resume_client_lookup(c, suites, n_suites, now_ms); /* a stored session for this server */
    resume_client_offer(c, &ch);                        /* its ID, the SessionTicket extension */
    ch.cookie = c->cookie;
    ch.cookie_len = c->cookie_len;
    ch.suites = suites;
    ch.n_suites = n_suites;
    ch.ext.ems = c->cfg.extended_master_secret != CDTLS_EMS_DISABLE;
    /* RFC 5746 §3.4: an initial handshake signals with an empty
     * renegotiation_info extension. */
    ch.ext.renegotiation_info = 1;
    ch.ext.renegotiation_info_len = 0;
    ch.ext.encrypt_then_mac = c->cfg.encrypt_then_mac && any_offered(suites, n_suites, is_cbc);
    ch.groups = groups;
    ch.n_groups = n_groups;
    ch.ext.ec_point_formats = n_groups > 0; /* RFC 8422 §5.1.2: uncompressed only */
    uint16_t sig_algs[16];
    ch.sig_algs = sig_algs;
    ch.n_sig_algs = any_offered(suites, n_suites, suite_uses_cert) ? our_sig_algs(c, sig_algs, 16) : 0;
    if (c->cfg.server_name) { /* RFC 6066 §3 */
        ch.ext.server_name = (const uint8_t *)c->cfg.server_name;
        ch.ext.server_name_len = strlen(c->cfg.server_name);
    }
    uint8_t app_ext[HS_APP_EXT_OFFER_MAX]; /* ALPN, use_srtp */
    rc = hs_app_ext_offer(c, &ch.ext, app_ext, sizeof app_ext);
    if (!rc) rc = conn_cid_offer(c, &ch.ext); /* RFC 9146 */
    uint8_t rpk_ext[8]; /* RFC 7250 certificate types */
    if (!rc) rc = rpk_offer(c, &ch.ext, rpk_ext);
    if (rc) return rc;

    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    rc = hs_client_hello_write(&w, &ch);
    if (rc) return rc;
    conn_flight_clear(c);
    rc = conn_hs_queue(c, HS_CLIENT_HELLO, body, w.len);
    if (!rc) rc = conn_flight_send(c, now_ms, 1);
    c->hs = HS_C_WAIT_SERVER_HELLO;
    return rc;
}

int hs_client_start(cdtls_conn *c, uint64_t now_ms)
{
    int rc = c->p->random(c->p, c->client_random, sizeof c->client_random);
    if (rc) return rc;
    return client_send_hello(c, now_ms);
}

static int client_on_hello_verify(cdtls_conn *c, const uint8_t *body, size_t len,
                                  uint64_t now_ms)
{
    hs_hello_verify_request hvr;
    if (hs_hello_verify_request_parse(body, len, &hvr) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (hvr.cookie_len > sizeof c->cookie)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    memcpy(c->cookie, hvr.cookie, hvr.cookie_len);
    c->cookie_len = hvr.cookie_len;
    /* RFC 6347 §4.2.6: the first ClientHello and the HelloVerifyRequest are
     * not part of the handshake transcript. The second ClientHello keeps
     * the same random (§4.2.1). */
    transcript_restart(c);
    int rc = client_send_hello(c, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

static int client_on_server_hello(cdtls_conn *c, const uint8_t *body, size_t len)
{
    hs_server_hello sh;
    if (hs_server_hello_parse(body, len, &sh) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (sh.version != DTLS_VERSION_1_2)
        return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
    /* The suite must be one we offered (RFC 5246 §7.4.1.3). */
    uint16_t suites[64];
    size_t n = 0;
    (void)offered_suites(c, suites, 64, &n);
    int offered = 0;
    for (size_t i = 0; i < n; i++) offered |= suites[i] == sh.cipher_suite;
    if (!offered) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (sh.compression_method != 0)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    c->suite = suite_find(sh.cipher_suite);
    pick_transcript(c);
    memcpy(c->server_random, sh.random, sizeof c->server_random);
    if (sh.session_id_len > sizeof c->session_id)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    memcpy(c->session_id, sh.session_id, sh.session_id_len);
    c->session_id_len = sh.session_id_len;

    /* RFC 7627 §5.1: use EMS only if the server echoed it. */
    c->use_ems = sh.ext.ems && c->cfg.extended_master_secret != CDTLS_EMS_DISABLE;
    if (!c->use_ems && c->cfg.extended_master_secret == CDTLS_EMS_REQUIRE)
        return conn_fail(c, CDTLS_ERR_EMS_REQUIRED, ALERT_HANDSHAKE_FAILURE);
    /* RFC 5746 §3.4: the server's renegotiation_info must be empty. */
    if (sh.ext.renegotiation_info && sh.ext.renegotiation_info_len != 0)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
    c->peer_secure_reneg = sh.ext.renegotiation_info;
    /* RFC 7366 §2: EtM only for CBC suites, and only if we offered it. */
    c->use_etm = sh.ext.encrypt_then_mac;
    if (c->use_etm && (c->suite->kind != SUITE_CBC || !c->cfg.encrypt_then_mac))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    int alert = ALERT_INTERNAL_ERROR;
    int rc = hs_app_ext_accept(c, &sh.ext, &alert); /* ALPN, use_srtp */
    if (!rc) rc = conn_cid_accept_reply(c, &sh.ext, &alert);
    if (!rc) rc = rpk_accept(c, &sh.ext, &alert); /* RFC 7250 */
    if (rc) return conn_fail(c, rc, alert);
    /* RFC 5077 §3.2: a SessionTicket extension only in answer to ours; it
     * promises a NewSessionTicket before the server's CCS */
    if (sh.ext.session_ticket && (!c->cfg.session_tickets || sh.ext.ticket_len != 0))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    c->expect_ticket = sh.ext.session_ticket;
    if (resume_client_accepted(c, &sh)) {
        /* RFC 5246 §7.3: the server resumes our session; [its
         * NewSessionTicket,] its CCS and Finished follow, then ours. The
         * suite and the use of EMS must be the session's (RFC 7627 §5.3). */
        if (sh.cipher_suite != c->sess->cipher_suite)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        if (c->use_ems != (int)c->sess->ems)
            return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
        resume_restore(c);
        conn_keylog(c);
        rc = conn_install_keys(c);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        c->hs = HS_C_WAIT_FINISHED;
        return CDTLS_OK;
    }
    c->have_offer = 0; /* a full handshake: a new session */
    c->hs = suite_uses_cert(c->suite) ? HS_C_WAIT_CERT : HS_C_WAIT_SKE_OR_SHD;
    return CDTLS_OK;
}

/* The alert that goes with a certificate error (RFC 5246 §7.2.2). */
static int cert_alert(int err)
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
static int judge_peer_chain(cdtls_conn *c)
{
    int rc;
    if (c->cfg.insecure_skip_verify) {
        rc = CDTLS_OK;
    } else if (c->cfg.n_trust_anchors) {
        if (!c->cfg.unix_time) return CDTLS_ERR_INVALID_ARG; /* no clock: cannot check validity */
        int64_t now = c->cfg.unix_time(c->cfg.unix_time_ctx);
        rc = engine_x509_verify_chain(c->p, c->peer_chain, c->peer_chain_len, c->cfg.trust_anchors,
                                     c->cfg.n_trust_anchors, now,
                                     c->role == CDTLS_CLIENT ? c->cfg.server_name : NULL,
                                     c->role == CDTLS_CLIENT ? CDTLS_X509_PURPOSE_SERVER : CDTLS_X509_PURPOSE_CLIENT);
    } else {
        rc = c->cfg.n_pins ? CDTLS_OK : CDTLS_ERR_CERT_UNTRUSTED;
    }
    if (!rc && c->cfg.n_pins) {
        uint8_t fp[32];
        int pinned = 0;
        rc = engine_x509_fingerprint_sha256(c->p, &c->peer_chain[0], fp);
        for (size_t i = 0; !rc && i < c->cfg.n_pins; i++)
            pinned |= cdtls_ct_equal(fp, c->cfg.pinned_sha256 + 32 * i, 32);
        if (!rc && !pinned) rc = CDTLS_ERR_CERT_REJECTED;
    }
    if (c->cfg.verify_peer) {
        int verdict = c->cfg.verify_peer(c->cfg.verify_peer_ctx, c->peer_chain, c->peer_chain_len, rc);
        rc = verdict ? (verdict == rc ? rc : CDTLS_ERR_CERT_REJECTED) : CDTLS_OK;
    }
    return rc;
}

/* Certificate (RFC 5246 §7.4.2): keep a copy of the chain (the record
 * buffers go away), parse it, and judge it. */
static int on_peer_certificate(cdtls_conn *c, const uint8_t *body, size_t len, int judge)
{
    if (c->peer_cert_rpk) {
        /* RFC 7250 §3: one SubjectPublicKeyInfo; kept as the "chain" of one
         * whose der is the SPKI and key its parsed key */
        const uint8_t *spki;
        size_t spki_len;
        if (hs_raw_public_key_parse(body, len, &spki, &spki_len) != CDTLS_OK)
            return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
        c->peer_der = c->a->alloc(c->a->ctx, spki_len);
        if (!c->peer_der) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
        c->peer_der_size = spki_len;
        memcpy(c->peer_der, spki, spki_len);
        memset(&c->peer_chain[0], 0, sizeof c->peer_chain[0]);
        int prc = engine_x509_parse_spki(c->peer_der, spki_len, &c->peer_chain[0].key);
        if (prc) return conn_fail(c, prc, ALERT_BAD_CERTIFICATE);
        c->peer_chain[0].der = c->peer_der;
        c->peer_chain[0].der_len = spki_len;
        c->peer_chain_len = 1;
        prc = judge ? rpk_judge(c, c->peer_der, spki_len) : CDTLS_OK;
        if (prc) return conn_fail(c, prc, cert_alert(prc));
        return CDTLS_OK;
    }
    cdtls_reader list;
    size_t n = 0;
    int rc = hs_certificate_parse(body, len, CDTLS_X509_MAX_DEPTH, &n, &list);
    if (rc == CDTLS_ERR_LIMIT) return conn_fail(c, CDTLS_ERR_CERT_PATHLEN, ALERT_BAD_CERTIFICATE);
    if (rc) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (n == 0) return conn_fail(c, CDTLS_ERR_CERT_UNTRUSTED, ALERT_HANDSHAKE_FAILURE);
    c->peer_der = c->a->alloc(c->a->ctx, list.left);
    if (!c->peer_der) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
    c->peer_der_size = list.left;
    size_t off = 0;
    const uint8_t *der;
    size_t der_len;
    for (size_t i = 0; i < n && hs_certificate_next(&list, &der, &der_len); i++) {
        memcpy(c->peer_der + off, der, der_len);
        rc = engine_x509_parse(c->peer_der + off, der_len, &c->peer_chain[i]);
        if (rc) return conn_fail(c, rc, cert_alert(rc));
        off += der_len;
        c->peer_chain_len = i + 1;
    }
    rc = judge ? judge_peer_chain(c) : CDTLS_OK;
    if (rc) return conn_fail(c, rc, cert_alert(rc));
    return CDTLS_OK;
}

/* CertificateRequest (RFC 5246 §7.4.4): answer with our certificate if we
 * have one whose key a scheme of the server's list can sign with. */
static int client_on_certificate_request(cdtls_conn *c, const uint8_t *body, size_t len)
{
    hs_certificate_request cr;
    if (hs_certificate_request_parse(body, len, &cr) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    c->cert_requested = 1;
    c->client_sig_scheme = 0;
    if (c->own_cert_rpk ? c->have_own_rpk : (c->cfg.n_certs && c->have_own_leaf)) {
        cdtls_key_type t = c->own_cert_rpk ? c->own_rpk_key.type : c->own_leaf.key.type;
        for (size_t i = 0; i < sizeof sig_pref / sizeof sig_pref[0] && !c->client_sig_scheme; i++) {
            const cdtls_sig_vt *v = sig_by_id(c->p, sig_pref[i]);
            if (v && (v->key_types & CDTLS_KEY_BIT(t)) &&
                hs_sig_algs_contain(cr.sig_algs, cr.sig_algs_len, sig_pref[i]))
                c->client_sig_scheme = sig_pref[i];
        }
    }
    c->hs = HS_C_WAIT_SHD;
    return CDTLS_OK;
}

static int client_on_certificate(cdtls_conn *c, const uint8_t *body, size_t len)
{
    int rc = on_peer_certificate(c, body, len, 1);
    if (rc) return rc;
    /* the leaf's key must fit the suite (RFC 8422 §5.3) */
    cdtls_key_type t = c->peer_chain[0].key.type;
    int fits = c->suite->kx == KX_ECDHE_RSA ? t == CDTLS_KEY_RSA
                                            : (t == CDTLS_KEY_EC_P256 || t == CDTLS_KEY_EC_P384 || t == CDTLS_KEY_ED25519);
    if (!fits) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_CERTIFICATE);
    c->hs = HS_C_WAIT_SKE;
    return CDTLS_OK;
}

static int client_on_server_key_exchange(cdtls_conn *c, const uint8_t *body, size_t len)
{
    hs_server_key_exchange ske;
    hs_kx_kind kind = suite_kx_kind(c->suite);
    if (hs_server_key_exchange_parse(body, len, kind, &ske) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (kind == HS_KX_ECDHE) {
        /* the scheme must be one we offered and fit the server's key, and
         * the signature must verify over both randoms and the params */
        uint16_t ours[16];
        size_t n = our_sig_algs(c, ours, 16);
        int offered = 0;
        for (size_t i = 0; i < n; i++) offered |= ours[i] == ske.sig_alg;
        const cdtls_sig_vt *v = sig_by_id(c->p, ske.sig_alg);
        if (!offered || !v || !(v->key_types & CDTLS_KEY_BIT(c->peer_chain[0].key.type)))
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        uint8_t signed_data[64 + 4 + 255];
        size_t sd_len;
        ske_signed_input(c, ske.params, ske.params_len, signed_data, &sd_len);
        if (v->verify(&c->peer_chain[0].key, signed_data, sd_len, ske.signature, ske.signature_len) != CDTLS_OK)
            return conn_fail(c, CDTLS_ERR_SIGNATURE, ALERT_DECRYPT_ERROR);
    }
    if (ske.psk_hint_len > sizeof c->psk_hint)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (ske.psk_hint_len) memcpy(c->psk_hint, ske.psk_hint, ske.psk_hint_len);
    c->psk_hint_len = ske.psk_hint_len;
    if (kind == HS_KX_ECDHE_PSK || kind == HS_KX_ECDHE) {
        const cdtls_kx_vt *kx = kx_by_id(c->p, ske.named_curve);
        uint16_t ours[CDTLS_GROUP__COUNT];
        size_t n = our_groups(c, ours, CDTLS_GROUP__COUNT);
        int offered = 0;
        for (size_t i = 0; i < n; i++) offered |= ours[i] == ske.named_curve;
        if (!kx || !offered) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        if (ske.public_len != kx->public_len)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        c->kx = kx;
        memcpy(c->peer_kx_pub, ske.public_key, ske.public_len);
        c->peer_kx_pub_len = ske.public_len;
    }
    c->hs = kind == HS_KX_ECDHE ? HS_C_WAIT_CR_OR_SHD : HS_C_WAIT_SHD;
    return CDTLS_OK;
}

/* The client's PSK: from the callback (given the server's hint) or config. */
static int client_choose_psk(cdtls_conn *c)
{
    if (c->cfg.psk_callback) {
        size_t id_len = 0, psk_len = 0;
        int rc = c->cfg.psk_callback(c->cfg.psk_callback_ctx, c->psk_hint, c->psk_hint_len,
                                     c->psk_identity, sizeof c->psk_identity, &id_len, c->psk,
                                     sizeof c->psk, &psk_len);
        if (rc) return rc;
        if (id_len > sizeof c->psk_identity || psk_len > sizeof c->psk) return CDTLS_ERR_INTERNAL;
        c->psk_identity_len = id_len;
        c->psk_len = psk_len;
    }
    return c->psk_len ? CDTLS_OK : CDTLS_ERR_UNKNOWN_PSK;
}

static int client_on_server_hello_done(cdtls_conn *c, size_t len, uint64_t now_ms)
{
    if (len != 0) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (suite_uses_ecdhe(c->suite) && !c->kx)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    int rc = suite_uses_psk(c->suite) ? client_choose_psk(c) : CDTLS_OK;
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    conn_flight_clear(c);
    if (c->cert_requested) {
        /* RFC 5246 §7.4.6: our chain if we have a certificate the server's
         * schemes can carry, else an empty list (the server decides). */
        size_t n = c->client_sig_scheme ? c->cfg.n_certs : 0;
        if (c->own_cert_rpk && !c->client_sig_scheme)
            return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE); /* no way to sign */
        size_t size = rpk_or_chain_size(c, n);
        uint8_t *cert_body = c->a->alloc(c->a->ctx, size);
        if (!cert_body) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
        cdtls_writer cw;
        writer_init(&cw, cert_body, size);
        rc = rpk_or_chain_write(c, &cw, n);
        if (!rc) rc = conn_hs_queue(c, HS_CERTIFICATE, cert_body, cw.len);
        c->a->free(c->a->ctx, cert_body, size);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    }

    hs_client_key_exchange cke;
    memset(&cke, 0, sizeof cke);
    cke.psk_identity = c->psk_identity;
    cke.psk_identity_len = c->psk_identity_len;
    uint8_t pub[CDTLS_KX_MAX_PUBLIC], shared[CDTLS_KX_MAX_SHARED];
    size_t shared_len = 0;
    if (suite_uses_ecdhe(c->suite)) {
        rc = c->kx->keygen(c->p, &c->kx_key, pub);
        if (!rc) {
            c->have_kx_key = 1;
            rc = c->kx->derive(&c->kx_key, c->peer_kx_pub, c->peer_kx_pub_len, shared);
        }
        if (rc) return conn_fail(c, rc, rc == CDTLS_ERR_BAD_KEY ? ALERT_ILLEGAL_PARAMETER : ALERT_INTERNAL_ERROR);
        shared_len = c->kx->shared_len;
        cke.public_key = pub;
        cke.public_len = c->kx->public_len;
    }
    uint8_t body_out[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body_out, sizeof body_out);
    rc = hs_client_key_exchange_write(&w, suite_kx_kind(c->suite), &cke);
    if (!rc) rc = conn_hs_queue(c, HS_CLIENT_KEY_EXCHANGE, body_out, w.len);
    /* The session hash for EMS covers messages through ClientKeyExchange
     * (RFC 7627 §4), which is where derive_keys reads the transcript. */
    if (!rc) rc = derive_keys(c, suite_uses_ecdhe(c->suite) ? shared : NULL, shared_len);
    cdtls_memzero(shared, sizeof shared);
    if (c->have_kx_key) {
        c->kx->clear(&c->kx_key);
        c->have_kx_key = 0;
    }
    if (!rc && c->cert_requested && c->client_sig_scheme) {
        /* CertificateVerify (RFC 5246 §7.4.8): a signature over every
         * handshake message so far, ClientKeyExchange included */
        const cdtls_sig_vt *v = sig_by_id(c->p, c->client_sig_scheme);
        uint8_t sig[CDTLS_SIG_MAX_LEN], cv[4 + CDTLS_SIG_MAX_LEN];
        size_t sig_len = sizeof sig;
        rc = c->hs_log_overflow || !v ? CDTLS_ERR_LIMIT
                                      : v->sign(c->p, c->cfg.private_key, c->hs_log, c->hs_log_len, sig, &sig_len);
        hs_certificate_verify hcv = {c->client_sig_scheme, sig, sig_len};
        cdtls_writer vw;
        writer_init(&vw, cv, sizeof cv);
        if (!rc) rc = hs_certificate_verify_write(&vw, &hcv);
        if (!rc) rc = conn_hs_queue(c, HS_CERTIFICATE_VERIFY, cv, vw.len);
    }
    if (!rc) rc = queue_ccs_finished(c);
    if (!rc) rc = conn_flight_send(c, now_ms, 1);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->hs = HS_C_WAIT_FINISHED;
    return CDTLS_OK;
}

/* ================================================================ SERVER */

/* What a cookie binds (shared with the stateless hello verifier). RFC 6347
 * §4.2.1 leaves the choice to the server; we bind the client's address and
 * the fixed start of the hello: client_version, random and session_id. The
 * second ClientHello repeats them (§4.2.1), and they are in its first
 * fragment however the hello is cut, so a stateless server can check the
 * cookie before it reassembles (or allocates) anything. cipher_suites,
 * compression and the extensions are not bound: a fragment boundary can
 * fall inside them, and the second hello (32 bytes longer with the cookie)
 * is often cut elsewhere than the first. A cookie proves the address; it
 * is useless from another one, and for another random. */
size_t hs_cookie_parts(const uint8_t *version_random_sid, size_t len, const void *addr,
                       size_t addr_len, cookie_part parts[2])
{
    parts[0].p = addr, parts[0].len = addr_len;
    parts[1].p = version_random_sid, parts[1].len = len;
    return 2;
}

/* HelloVerifyRequest (RFC 6347 §4.2.1): record seq echoes the ClientHello's,
 * message_seq echoes its message_seq, version DTLS 1.0 as the RFC advises;
 * nothing is kept. */
int hs_write_hello_verify(uint8_t *out, size_t cap, size_t *out_len, uint64_t record_seq,
                          uint16_t msg_seq, const uint8_t *cookie, size_t cookie_len)
{
    uint8_t hs[DTLS_HS_HEADER_LEN + 3 + 255];
    hs_hello_verify_request hvr = {DTLS_VERSION_1_0, cookie, cookie_len};
    cdtls_writer w;
    writer_init(&w, hs + DTLS_HS_HEADER_LEN, sizeof hs - DTLS_HS_HEADER_LEN);
    int rc = hs_hello_verify_request_write(&w, &hvr);
    if (rc) return rc;
    hs_header h = {HS_HELLO_VERIFY_REQUEST, (uint32_t)w.len, msg_seq, 0, (uint32_t)w.len};
    hs_header_put(&h, hs);
    return record_seal(NULL, CT_HANDSHAKE, DTLS_VERSION_1_0, 0, record_seq, hs,
                       DTLS_HS_HEADER_LEN + w.len, out, cap, out_len);
}

static uint16_t server_pick_suite(const cdtls_conn *c, const hs_client_hello *ch)
{
    /* Server preference order (ours), restricted to what the client offers. */
    uint16_t ours[64];
    size_t n = 0;
    if (offered_suites(c, ours, 64, &n)) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!hs_client_hello_offers_suite(ch, ours[i])) continue;
        const suite_info *s = suite_find(ours[i]);
        if (suite_uses_cert(s) && !server_pick_sig(c, ch)) continue; /* no common signature scheme */
        if (suite_uses_ecdhe(s)) {
            /* Need a common group (RFC 8422 §5.1.1: no extension = any). */
            uint16_t groups[CDTLS_GROUP__COUNT];
            size_t ng = our_groups(c, groups, CDTLS_GROUP__COUNT);
            int ok = 0;
            for (size_t g = 0; g < ng && !ok; g++)
                ok = !ch->ext.has_supported_groups || hs_client_hello_offers_group(ch, groups[g]);
            if (!ok) continue;
        }
        return ours[i];
    }
    return 0;
}

/* ServerHello, queued as the first message of a new flight. The session
 * ID is c->session_id (empty: not resumable). */
static int server_hello_queue(cdtls_conn *c, const hs_client_hello *ch)
{
    int rc = c->p->random(c->p, c->server_random, sizeof c->server_random);
    if (rc) return rc;
    hs_server_hello sh;
    memset(&sh, 0, sizeof sh);
    sh.version = DTLS_VERSION_1_2;
    memcpy(sh.random, c->server_random, sizeof sh.random);
    sh.session_id = c->session_id;
    sh.session_id_len = c->session_id_len;
    sh.cipher_suite = c->suite->id;
    sh.compression_method = 0;
    sh.ext.ems = c->use_ems;
    sh.ext.renegotiation_info = c->peer_secure_reneg;
    sh.ext.renegotiation_info_len = 0;
    sh.ext.encrypt_then_mac = c->use_etm;
    sh.ext.ec_point_formats = suite_uses_ecdhe(c->suite) && ch->ext.ec_point_formats;
    sh.ext.session_ticket = c->issue_ticket; /* RFC 5077 §3.2: empty, a NewSessionTicket follows */
    uint8_t app_ext[HS_APP_EXT_REPLY_MAX]; /* ALPN, use_srtp chosen from the ClientHello */
    rc = hs_app_ext_reply(c, &sh.ext, app_ext, sizeof app_ext);
    if (!rc) rc = conn_cid_accept_offer(c, &ch->ext, &sh.ext); /* RFC 9146 */
    uint8_t rpk_ext[2];
    if (suite_uses_cert(c->suite) && !c->resumed) rpk_reply(c, &sh.ext, rpk_ext); /* RFC 7250 */
    if (rc) return rc;

    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    rc = hs_server_hello_write(&w, &sh);
    conn_flight_clear(c);
    if (!rc) rc = conn_hs_queue(c, HS_SERVER_HELLO, body, w.len);
    return rc;
}

/* NewSessionTicket (RFC 5077 §3.3), queued right before our CCS when the
 * ServerHello promised it. A ticket that cannot be made is sent empty, as
 * the RFC allows, rather than failing the handshake. */
static int server_queue_ticket(cdtls_conn *c, uint64_t now_ms)
{
    if (!c->issue_ticket) return CDTLS_OK;
    uint8_t ticket[TICKET_MAX_OURS], body[4 + 2 + TICKET_MAX_OURS];
    hs_new_session_ticket t = {c->cfg.session_lifetime_ms / 1000u, ticket, 0};
    if (resume_ticket_make(c, now_ms, ticket, sizeof ticket, &t.ticket_len) != CDTLS_OK) t.ticket_len = 0;
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    int rc = hs_new_session_ticket_write(&w, &t);
    if (!rc) rc = conn_hs_queue(c, HS_NEW_SESSION_TICKET, body, w.len);
    cdtls_memzero(ticket, sizeof ticket);
    cdtls_memzero(body, sizeof body);
    return rc;
}

/* RFC 5246 §7.3 abbreviated handshake, server side: ServerHello with the
 * session's ID, [NewSessionTicket,] then at once ChangeCipherSpec and
 * Finished under keys from the session's master secret; the flight is
 * resent until the client's Finished arrives. */
static int server_send_resumed_flight(cdtls_conn *c, const hs_client_hello *ch, uint64_t now_ms)
{
    int rc = server_hello_queue(c, ch);
    if (!rc) rc = server_queue_ticket(c, now_ms);
    if (!rc) {
        conn_keylog(c);
        rc = conn_install_keys(c);
    }
    if (!rc) rc = queue_ccs_finished(c);
    if (!rc) rc = conn_flight_send(c, now_ms, 1);
    return rc;
}

/* Sessions that authenticated a client certificate are not made
 * resumable (as in pion): the resumed connection could not show the
 * certificate, and a later change of trust anchors would not reach it. */
static int server_may_resume(const cdtls_conn *c)
{
    return !suite_uses_cert(c->suite) || c->cfg.client_auth == CDTLS_CLIENT_AUTH_NONE;
}

static int server_send_flight4(cdtls_conn *c, const hs_client_hello *ch, uint64_t now_ms)
{
    /* a resumable session needs an ID (RFC 5246 §7.4.1.3); with tickets
     * only, there is nothing to look an ID up in */
    c->session_id_len = 0;
    int rc = CDTLS_OK;
    if (c->cfg.session_store && server_may_resume(c)) {
        rc = c->p->random(c->p, c->session_id, 32);
        c->session_id_len = 32;
    }
    if (!rc) rc = server_hello_queue(c, ch);
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;

    /* Certificate (RFC 5246 §7.4.2): our chain, leaf first */
    if (!rc && suite_uses_cert(c->suite)) {
        size_t size = rpk_or_chain_size(c, c->cfg.n_certs);
        uint8_t *cert_body = c->a->alloc(c->a->ctx, size);
        if (!cert_body) return CDTLS_ERR_NOMEM;
        cdtls_writer cw;
        writer_init(&cw, cert_body, size);
        rc = rpk_or_chain_write(c, &cw, c->cfg.n_certs);
        if (!rc) rc = conn_hs_queue(c, HS_CERTIFICATE, cert_body, cw.len);
        c->a->free(c->a->ctx, cert_body, size);
    }

    /* ServerKeyExchange: always for the ECDHE suites; for PSK only to carry
     * a hint (RFC 4279 §2: omitted when there is none). */
    if (!rc && (suite_uses_ecdhe(c->suite) || c->psk_hint_len)) {
        hs_server_key_exchange ske;
        memset(&ske, 0, sizeof ske);
        ske.psk_hint = c->psk_hint;
        ske.psk_hint_len = c->psk_hint_len;
        uint8_t pub[CDTLS_KX_MAX_PUBLIC];
        uint8_t sig[CDTLS_SIG_MAX_LEN];
        if (suite_uses_ecdhe(c->suite)) {
            uint16_t groups[CDTLS_GROUP__COUNT];
            size_t ng = our_groups(c, groups, CDTLS_GROUP__COUNT);
            for (size_t g = 0; g < ng && !c->kx; g++)
                if (!ch->ext.has_supported_groups || hs_client_hello_offers_group(ch, groups[g]))
                    c->kx = kx_by_id(c->p, groups[g]);
            if (!c->kx) rc = CDTLS_ERR_HANDSHAKE_FAILURE;
            if (!rc) rc = c->kx->keygen(c->p, &c->kx_key, pub);
            if (!rc) {
                c->have_kx_key = 1;
                ske.named_curve = c->kx->tls_id;
                ske.public_key = pub;
                ske.public_len = c->kx->public_len;
            }
        }
        if (!rc && suite_uses_cert(c->suite)) {
            /* sign client_random || server_random || ServerECDHParams
             * (RFC 8422 §5.4) with our leaf's key */
            uint8_t params[4 + CDTLS_KX_MAX_PUBLIC], signed_data[64 + sizeof params];
            size_t sd_len, sig_len = sizeof sig;
            params[0] = 3; /* named_curve */
            params[1] = (uint8_t)(ske.named_curve >> 8), params[2] = (uint8_t)ske.named_curve;
            params[3] = (uint8_t)ske.public_len;
            memcpy(params + 4, pub, ske.public_len);
            ske_signed_input(c, params, 4 + ske.public_len, signed_data, &sd_len);
            const cdtls_sig_vt *v = sig_by_id(c->p, c->sig_scheme);
            rc = v ? v->sign(c->p, c->cfg.private_key, signed_data, sd_len, sig, &sig_len) : CDTLS_ERR_INTERNAL;
            ske.sig_alg = c->sig_scheme;
            ske.signature = sig;
            ske.signature_len = sig_len;
        }
        writer_init(&w, body, sizeof body);
        if (!rc)
            rc = hs_server_key_exchange_write(&w, suite_kx_kind(c->suite), &ske);
        if (!rc) rc = conn_hs_queue(c, HS_SERVER_KEY_EXCHANGE, body, w.len);
    }
    if (!rc && suite_uses_cert(c->suite) && c->cfg.client_auth != CDTLS_CLIENT_AUTH_NONE) {
        uint16_t algs[16];
        size_t n = our_sig_algs(c, algs, 16);
        writer_init(&w, body, sizeof body);
        rc = hs_certificate_request_write(&w, algs, n);
        if (!rc) rc = conn_hs_queue(c, HS_CERTIFICATE_REQUEST, body, w.len);
        c->cert_requested = 1;
    }
    if (!rc) rc = conn_hs_queue(c, HS_SERVER_HELLO_DONE, NULL, 0);
    if (!rc) rc = conn_flight_send(c, now_ms, 1);
    return rc;
}

/* From here on the handshake runs: the transcript starts with this
 * ClientHello (RFC 6347 §4.2.6), our message_seq continues from the
 * client's (§4.2.2), and we expect the client's next message after it. */
static void server_begin_transcript(cdtls_conn *c, const uint8_t *msg, size_t msg_len,
                                    uint16_t msg_seq, uint64_t now_ms)
{
    transcript_restart(c);
    pick_transcript(c);
    conn_transcript_add(c, msg, msg_len);
    c->send_msg_seq = msg_seq;
    hs_reasm_reset(&c->reasm);
    hs_reasm_set_next_seq(&c->reasm, (uint16_t)(msg_seq + 1));
    c->hs_started_ms = now_ms;
}

int hs_server_client_hello(cdtls_conn *c, const uint8_t *msg, size_t msg_len, uint16_t msg_seq,
                           const uint8_t *body, size_t body_len, uint64_t record_seq,
                           uint64_t now_ms)
{
    hs_client_hello ch;
    if (hs_client_hello_parse(body, body_len, &ch) != CDTLS_OK) return CDTLS_OK; /* drop */

    if (c->cfg.cookie_exchange && !c->cookie_verified) {
        if (!c->cookies_ready) {
            int rc = cookie_keys_init(&c->cookies, c->p, c->cfg.cookie_rotate_ms, now_ms);
            if (rc) return conn_fail(c, rc, -1);
            c->cookies_ready = 1;
        }
        (void)cookie_keys_tick(&c->cookies, c->p, now_ms);
        cookie_part parts[2];
        size_t np = hs_cookie_parts(ch.raw_version_random_sid, ch.raw_version_random_sid_len,
                                    c->peer_addr, c->peer_addr_len, parts);
        if (cookie_verify(c->p, &c->cookies, parts, np, ch.cookie, ch.cookie_len) != CDTLS_OK) {
            /* No valid cookie (none yet, forged, or stale): answer with a
             * fresh HelloVerifyRequest and keep no handshake state. */
            uint8_t cookie[COOKIE_LEN];
            uint8_t rec[DTLS_RECORD_HEADER_LEN + DTLS_HS_HEADER_LEN + 3 + COOKIE_LEN];
            size_t n = 0;
            int rc = cookie_make(c->p, &c->cookies, parts, np, cookie);
            if (!rc) rc = hs_write_hello_verify(rec, sizeof rec, &n, record_seq, msg_seq, cookie, COOKIE_LEN);
            if (!rc) rc = dgram_queue_push(&c->out, c->a, rec, n, c->cfg.handshake_oob.flags ? &c->cfg.handshake_oob : NULL);
            return rc == CDTLS_ERR_NOMEM ? CDTLS_OK : rc;
        }
        c->cookie_verified = 1;
    }
    /* The HelloVerifyRequest reused the first ClientHello's record sequence
     * number (RFC 6347 §4.2.1), so the client has seen that number from us
     * in epoch 0: continue from this ClientHello's number, or our next
     * records (even an alert) would fall in the client's replay window. */
    if (record_seq > c->write_seq[0]) c->write_seq[0] = record_seq;

    /* DTLS versions count down (RFC 6347 §4.1): 0xfefd is 1.2, 0xfeff is
     * 1.0. client_version is the highest the client speaks: above 0xfefd
     * means it cannot do 1.2; below means a newer version, and we answer 1.2. */
    if (ch.version > DTLS_VERSION_1_2)
        return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
    if (!hs_client_hello_offers_null_compression(&ch))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    /* RFC 5746 §3.6: an initial ClientHello's renegotiation_info is empty. */
    if (ch.ext.renegotiation_info && ch.ext.renegotiation_info_len != 0)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
    c->peer_secure_reneg = ch.ext.renegotiation_info || ch.has_reneg_scsv;

    c->use_ems = ch.ext.ems && c->cfg.extended_master_secret != CDTLS_EMS_DISABLE;
    if (!c->use_ems && c->cfg.extended_master_secret == CDTLS_EMS_REQUIRE)
        return conn_fail(c, CDTLS_ERR_EMS_REQUIRED, ALERT_HANDSHAKE_FAILURE);

    int sni_rc = resume_note_server_name(c, ch.ext.server_name, ch.ext.server_name_len);
    if (sni_rc) return conn_fail(c, sni_rc, ALERT_INTERNAL_ERROR);
    if (resume_server_lookup(c, &ch, now_ms)) {
        /* RFC 5246 §7.3: a session the client offered (stored, or in its
         * ticket); from here a fatal error invalidates it (§7.2) */
        resume_restore(c);
        c->suite = suite_find(c->sess->cipher_suite);
        c->use_etm = ch.ext.encrypt_then_mac && c->cfg.encrypt_then_mac && c->suite->kind == SUITE_CBC;
        memcpy(c->client_random, ch.random, sizeof c->client_random);
        int alert = ALERT_INTERNAL_ERROR;
        if (hs_app_ext_choose(c, &ch.ext, &alert) != CDTLS_OK) /* ALPN, use_srtp */
            return conn_fail(c, CDTLS_ERR_NO_APPLICATION_PROTOCOL, alert);
        server_begin_transcript(c, msg, msg_len, msg_seq, now_ms);
        int rc = server_send_resumed_flight(c, &ch, now_ms);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        c->hs = HS_S_WAIT_FINISHED;
        return CDTLS_OK;
    }

    /* SNI certificate selection happens before the suite is chosen: the
     * selected key's type decides between ECDSA and RSA suites. */
    if (c->cfg.select_certificate) {
        char name[256];
        size_t nl = ch.ext.server_name_len < sizeof name - 1 ? ch.ext.server_name_len : 0;
        if (nl) memcpy(name, ch.ext.server_name, nl);
        name[nl] = 0;
        const uint8_t *const *chain = NULL;
        const size_t *lens = NULL;
        size_t n = 0;
        const cdtls_sign_key *key = NULL;
        int sel = c->cfg.select_certificate(c->cfg.select_certificate_ctx, nl ? name : NULL, &chain,
                                            &lens, &n, &key);
        if (sel == CDTLS_OK) {
            if (!chain || !lens || !n || !key ||
                engine_x509_parse(chain[0], lens[0], &c->own_leaf) != CDTLS_OK)
                return conn_fail(c, CDTLS_ERR_INVALID_ARG, ALERT_INTERNAL_ERROR);
            c->cfg.cert_chain = chain;
            c->cfg.cert_chain_len = lens;
            c->cfg.n_certs = n;
            c->cfg.private_key = key;
            c->have_own_leaf = 1;
        } else if (sel != CDTLS_ERR_UNSUPPORTED) {
            return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_UNRECOGNIZED_NAME);
        }
    }
    /* RFC 7250: which kind of Certificate each side will send; the suite
     * choice then checks the key we will show */
    int rpk_alert = ALERT_INTERNAL_ERROR;
    int rpk_rc = rpk_choose(c, &ch.ext, &rpk_alert);
    if (rpk_rc) return conn_fail(c, rpk_rc, rpk_alert);
    uint16_t suite = server_pick_suite(c, &ch);
    if (!suite) return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
    c->suite = suite_find(suite);
    if (suite_uses_cert(c->suite) && c->cfg.client_auth != CDTLS_CLIENT_AUTH_NONE && c->rpk_client_none)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_UNSUPPORTED_CERTIFICATE);
    if (suite_uses_cert(c->suite)) c->sig_scheme = server_pick_sig(c, &ch);
    c->use_etm = ch.ext.encrypt_then_mac && c->cfg.encrypt_then_mac && c->suite->kind == SUITE_CBC;
    memcpy(c->client_random, ch.random, sizeof c->client_random);
    int alert = ALERT_INTERNAL_ERROR;
    if (hs_app_ext_choose(c, &ch.ext, &alert) != CDTLS_OK) /* ALPN, use_srtp */
        return conn_fail(c, CDTLS_ERR_NO_APPLICATION_PROTOCOL, alert);

    server_begin_transcript(c, msg, msg_len, msg_seq, now_ms);
    c->issue_ticket = c->cfg.ticket_keys && ch.ext.session_ticket && server_may_resume(c); /* RFC 5077 §3.2 */
    int rc = server_send_flight4(c, &ch, now_ms);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->hs = c->cert_requested ? HS_S_WAIT_CLIENT_CERT : HS_S_WAIT_CKE;
    return CDTLS_OK;
}

int conn_server_lookup_psk(cdtls_conn *c, const uint8_t *id, size_t id_len)
{
    if (id_len > sizeof c->psk_identity) return CDTLS_ERR_UNKNOWN_PSK;
    if (c->cfg.psk_callback) {
        size_t psk_len = 0;
        int rc = c->cfg.psk_callback(c->cfg.psk_callback_ctx, id, id_len, NULL, 0, NULL, c->psk,
                                     sizeof c->psk, &psk_len);
        if (rc) return rc == CDTLS_ERR_UNKNOWN_PSK ? rc : CDTLS_ERR_UNKNOWN_PSK;
        if (psk_len == 0 || psk_len > sizeof c->psk) return CDTLS_ERR_UNKNOWN_PSK;
        c->psk_len = psk_len;
    } else {
        if (id_len != c->cfg.psk_identity_len ||
            (id_len && memcmp(id, c->cfg.psk_identity, id_len) != 0))
            return CDTLS_ERR_UNKNOWN_PSK;
    }
    memcpy(c->psk_identity, id, id_len);
    c->psk_identity_len = id_len;
    return CDTLS_OK;
}

static int auth_requires(const cdtls_conn *c)
{
    return c->cfg.client_auth == CDTLS_CLIENT_AUTH_REQUIRE_ANY ||
           c->cfg.client_auth == CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
}

static int auth_verifies(const cdtls_conn *c)
{
    return c->cfg.client_auth == CDTLS_CLIENT_AUTH_VERIFY_IF_GIVEN ||
           c->cfg.client_auth == CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
}

/* The client's Certificate (RFC 5246 §7.4.6), judged as the mode says. */
static int server_on_client_certificate(cdtls_conn *c, const uint8_t *body, size_t len)
{
    if (!c->peer_cert_rpk && len == 3 && body[0] == 0 && body[1] == 0 && body[2] == 0) {
        if (auth_requires(c)) return conn_fail(c, CDTLS_ERR_CERT_UNTRUSTED, ALERT_HANDSHAKE_FAILURE);
        c->hs = HS_S_WAIT_CKE;
        return CDTLS_OK;
    }
    int rc = on_peer_certificate(c, body, len, auth_verifies(c));
    if (rc) return rc;
    c->hs = HS_S_WAIT_CKE;
    return CDTLS_OK;
}

/* CertificateVerify: the client proves it holds the certificate's key. */
static int server_on_certificate_verify(cdtls_conn *c, const uint8_t *body, size_t len)
{
    hs_certificate_verify cv;
    if (hs_certificate_verify_parse(body, len, &cv) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    uint16_t ours[16];
    size_t n = our_sig_algs(c, ours, 16);
    int asked = 0;
    for (size_t i = 0; i < n; i++) asked |= ours[i] == cv.sig_alg;
    const cdtls_sig_vt *v = sig_by_id(c->p, cv.sig_alg);
    if (!asked || !v || !(v->key_types & CDTLS_KEY_BIT(c->peer_chain[0].key.type)))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (c->hs_log_overflow) return conn_fail(c, CDTLS_ERR_LIMIT, ALERT_INTERNAL_ERROR);
    if (v->verify(&c->peer_chain[0].key, c->hs_log, c->hs_log_len, cv.signature, cv.signature_len) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_SIGNATURE, ALERT_DECRYPT_ERROR);
    c->hs = HS_S_WAIT_FINISHED;
    return CDTLS_OK;
}

static int server_on_client_key_exchange(cdtls_conn *c, const uint8_t *body, size_t len)
{
    hs_client_key_exchange cke;
    hs_kx_kind kind = suite_kx_kind(c->suite);
    if (hs_client_key_exchange_parse(body, len, kind, &cke) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    int rc = kind == HS_KX_ECDHE ? CDTLS_OK : conn_server_lookup_psk(c, cke.psk_identity, cke.psk_identity_len);
    if (rc) return conn_fail(c, CDTLS_ERR_UNKNOWN_PSK, ALERT_UNKNOWN_PSK_IDENTITY);
    uint8_t shared[CDTLS_KX_MAX_SHARED];
    size_t shared_len = 0;
    if (kind != HS_KX_PSK) {
        if (cke.public_len != c->kx->public_len)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        rc = c->kx->derive(&c->kx_key, cke.public_key, cke.public_len, shared);
        c->kx->clear(&c->kx_key);
        c->have_kx_key = 0;
        if (rc) return conn_fail(c, rc, ALERT_ILLEGAL_PARAMETER);
        shared_len = c->kx->shared_len;
    }
    rc = derive_keys(c, kind != HS_KX_PSK ? shared : NULL, shared_len);
    cdtls_memzero(shared, sizeof shared);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    /* a client certificate must be followed by its CertificateVerify */
    c->hs = c->peer_chain_len ? HS_S_WAIT_CERT_VERIFY : HS_S_WAIT_FINISHED;
    return CDTLS_OK;
}

/* ================================================================= BOTH */

/* The peer's ChangeCipherSpec: valid only right before its Finished. */
int hs_handle_ccs(cdtls_conn *c)
{
    if (c->hs != HS_C_WAIT_FINISHED && c->hs != HS_S_WAIT_FINISHED)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    return CDTLS_OK;
}

static int on_finished(cdtls_conn *c, const uint8_t *msg, size_t msg_len, const uint8_t *body,
                       size_t len, uint64_t now_ms)
{
    /* Finished must arrive under the new keys (after the peer's CCS). */
    if (c->read_epoch != 1) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    if (len != KS_VERIFY_DATA_LEN) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    int from_server = c->role == CDTLS_CLIENT;
    /* RFC 5077 §3.3: a promised NewSessionTicket comes before the CCS */
    if (from_server && c->expect_ticket && !c->got_ticket_msg)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    uint8_t *expect = from_server ? c->server_finished : c->client_finished;
    int rc = conn_finished_data(c, from_server, expect);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    /* RFC 5246 §7.4.9: constant-time comparison of verify_data. */
    if (!cdtls_ct_equal(expect, body, KS_VERIFY_DATA_LEN))
        return conn_fail(c, CDTLS_ERR_BAD_FINISHED, ALERT_DECRYPT_ERROR);
    conn_transcript_add(c, msg, msg_len);

    if (c->resumed) {
        /* abbreviated handshake: the server sent its CCS + Finished first */
        conn_flight_clear(c);
        if (c->role == CDTLS_CLIENT) {
            /* our CCS + Finished close it; resent if the server resends */
            rc = queue_ccs_finished(c);
            if (!rc) rc = conn_flight_send(c, now_ms, 0);
            if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        }
    } else if (c->role == CDTLS_SERVER) {
        /* Flight 6: [NewSessionTicket,] CCS + Finished; kept for
         * retransmission on demand. */
        conn_flight_clear(c);
        rc = server_queue_ticket(c, now_ms);
        if (!rc) rc = queue_ccs_finished(c);
        if (!rc) rc = conn_flight_send(c, now_ms, 0);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    } else {
        /* The server has our flight 5; nothing more to retransmit. */
        conn_flight_clear(c);
        c->timer_at_ms = UINT64_MAX;
    }
    c->hs = HS_DONE;
    c->state = CDTLS_STATE_ESTABLISHED;
    c->timer_at_ms = UINT64_MAX;
    conn_keep_record_buffers(c);
    resume_remember(c, now_ms); /* a full handshake's session, for next time */
    return CDTLS_OK;
}

int hs_handle_message(cdtls_conn *c, uint8_t type, const uint8_t *msg, size_t msg_len,
                      const uint8_t *body, size_t body_len, uint64_t now_ms)
{
    /* Every message but HelloVerifyRequest enters the transcript as it
     * arrives; Finished only after it was checked against the transcript
     * before it (RFC 5246 §7.4.9). */
    switch (c->hs) {
    case HS_C_WAIT_SERVER_HELLO:
        if (type == HS_HELLO_VERIFY_REQUEST) return client_on_hello_verify(c, body, body_len, now_ms);
        if (type != HS_SERVER_HELLO) break;
        conn_transcript_add(c, msg, msg_len);
        return client_on_server_hello(c, body, body_len);
    case HS_C_WAIT_CERT:
        if (type != HS_CERTIFICATE) break;
        conn_transcript_add(c, msg, msg_len);
        return client_on_certificate(c, body, body_len);
    case HS_C_WAIT_SKE:
        if (type != HS_SERVER_KEY_EXCHANGE) break;
        conn_transcript_add(c, msg, msg_len);
        return client_on_server_key_exchange(c, body, body_len);
    case HS_C_WAIT_CR_OR_SHD:
        if (type == HS_CERTIFICATE_REQUEST) {
            conn_transcript_add(c, msg, msg_len);
            return client_on_certificate_request(c, body, body_len);
        }
        if (type != HS_SERVER_HELLO_DONE) break;
        conn_transcript_add(c, msg, msg_len);
        return client_on_server_hello_done(c, body_len, now_ms);
    case HS_C_WAIT_SKE_OR_SHD:
        if (type == HS_SERVER_KEY_EXCHANGE) {
            conn_transcript_add(c, msg, msg_len);
            return client_on_server_key_exchange(c, body, body_len);
        }
        /* PSK without a hint goes straight to ServerHelloDone */
        if (type != HS_SERVER_HELLO_DONE) break;
        conn_transcript_add(c, msg, msg_len);
        return client_on_server_hello_done(c, body_len, now_ms);
    case HS_C_WAIT_SHD:
        if (type != HS_SERVER_HELLO_DONE) break;
        conn_transcript_add(c, msg, msg_len);
        return client_on_server_hello_done(c, body_len, now_ms);
    case HS_S_WAIT_CLIENT_CERT:
        if (type != HS_CERTIFICATE) break;
        conn_transcript_add(c, msg, msg_len);
        return server_on_client_certificate(c, body, body_len);
    case HS_S_WAIT_CERT_VERIFY: {
        /* checked against the messages before it, then added */
        if (type != HS_CERTIFICATE_VERIFY) break;
        int rc = server_on_certificate_verify(c, body, body_len);
        if (!rc) conn_transcript_add(c, msg, msg_len);
        return rc;
    }
    case HS_S_WAIT_CKE:
        if (type != HS_CLIENT_KEY_EXCHANGE) break;
        conn_transcript_add(c, msg, msg_len);
        return server_on_client_key_exchange(c, body, body_len);
    case HS_C_WAIT_FINISHED:
        if (type == HS_NEW_SESSION_TICKET && c->expect_ticket && !c->got_ticket_msg) {
            hs_new_session_ticket t;
            if (hs_new_session_ticket_parse(body, body_len, &t) != CDTLS_OK)
                return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
            c->got_ticket_msg = 1;
            conn_transcript_add(c, msg, msg_len);
            return resume_client_on_ticket(c, &t);
        }
        if (type != HS_FINISHED) break;
        return on_finished(c, msg, msg_len, body, body_len, now_ms);
    case HS_S_WAIT_FINISHED:
        if (type != HS_FINISHED) break;
        return on_finished(c, msg, msg_len, body, body_len, now_ms);
    default: break;
    }
    return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
}
