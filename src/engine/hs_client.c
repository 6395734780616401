/* The DTLS 1.2 handshake, client side (RFC 6347 §4.2, RFC 5246 §7.3): the
 * ClientHello (again with the cookie of a HelloVerifyRequest), the server's
 * flight 4, our flight 5, and what we expect in each state (the dispatcher
 * and Finished are in hs_common.c). */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs_internal.h"
#include "engine/x509_use.h"
#include "engine/hs13_internal.h"
#include "handshake/hs13_msg.h"
#include "handshake/hs_msg.h"

static int any_offered(const uint16_t *suites, size_t n, int (*pred)(const suite_info *))
{
    for (size_t i = 0; i < n; i++) {
        const suite_info *s = suite_find(suites[i]);
        if (s && pred(s)) return 1;
    }
    return 0;
}

static int is_cbc(const suite_info *s)
{
    return s->kind == SUITE_CBC;
}

int hs_client_send_hello(cdtls_conn *c, uint64_t now_ms)
{
    uint16_t suites[64];
    size_t n_suites = 0;
    int rc = hs_our_suites(c, suites, 64, &n_suites);
#if CDTLS_HAVE_DTLS13
    const int offer13 = hs13_allows_13(c);
    if (offer13 && (rc || !hs13_allows_12(c))) n_suites = 0, rc = CDTLS_OK; /* 1.3 suites only */
#endif
    if (rc) return rc;
    uint16_t groups[CDTLS_GROUP__COUNT];
    size_t n_groups = any_offered(suites, n_suites, suite_uses_ecdhe)
                          ? hs_our_groups(c, groups, CDTLS_GROUP__COUNT)
                          : 0;

    hs_client_hello ch;
    memset(&ch, 0, sizeof ch);
    ch.version = DTLS_VERSION_1_2;
    memcpy(ch.random, c->client_random, sizeof ch.random);
    ch.session_id_len = 0;
    resume_client_lookup(c, suites, n_suites, now_ms); /* a stored session for this server */
    resume_client_offer(c, &ch);                       /* its ID, the SessionTicket extension */
    ch.cookie = c->h->cookie;
    ch.cookie_len = c->h->cookie_len;
    ch.suites = suites;
    ch.n_suites = n_suites;
    ch.ext.ems = c->cfg->negotiate.ems != CDTLS_EMS_DISABLE;
    /* RFC 5746 §3.4: an initial handshake signals with an empty
     * renegotiation_info extension. */
    ch.ext.renegotiation_info = 1;
    ch.ext.renegotiation_info_len = 0;
    ch.ext.encrypt_then_mac = c->cfg->negotiate.encrypt_then_mac && any_offered(suites, n_suites, is_cbc);
    ch.groups = groups;
    ch.n_groups = n_groups;
    ch.ext.ec_point_formats = n_groups > 0; /* RFC 8422 §5.1.2: uncompressed only */
    uint16_t sig_algs[16];
    ch.sig_algs = sig_algs;
    ch.n_sig_algs = any_offered(suites, n_suites, hs_suite_uses_cert) ? hs_our_sig_algs(c, sig_algs, 16) : 0;
    if (c->cfg->server_name) { /* RFC 6066 §3 */
        ch.ext.server_name = (const uint8_t *)c->cfg->server_name;
        ch.ext.server_name_len = strlen(c->cfg->server_name);
    }
    uint8_t app_ext[HS_APP_EXT_OFFER_MAX]; /* ALPN, use_srtp */
    rc = hs_app_ext_offer(c, &ch.ext, app_ext, sizeof app_ext);
    if (!rc) rc = conn_cid_offer(c, &ch.ext); /* RFC 9146 */
    if (!rc) rc = conn_rrc_offer(c, &ch.ext); /* RFC 9853 */
    uint8_t rpk_ext[8];                       /* RFC 7250 certificate types */
    if (!rc) rc = rpk_offer(c, &ch.ext, rpk_ext);
    if (rc) return rc;

    uint8_t body[HS_BODY_MAX];
    size_t body_len = 0;
#if CDTLS_HAVE_DTLS13
    if (offer13) {
        rc = hs13_client_hello_build(c, &ch, body, sizeof body, &body_len);
    } else
#endif
    {
        cdtls_writer w;
        writer_init(&w, body, sizeof body);
        rc = hs_client_hello_write(&w, &ch);
        body_len = w.len;
    }
    if (rc) return rc;
    conn_flight_clear(c);
    rc = conn_hs_queue(c, HS_CLIENT_HELLO, body, body_len);
    if (!rc) rc = conn_flight_send(c, now_ms, 1);
    c->hs = HS_C_WAIT_SERVER_HELLO;
    return rc;
}

int hs_client_start(cdtls_conn *c, uint64_t now_ms)
{
    int rc = c->p->random(c->p, c->client_random, sizeof c->client_random);
    if (rc) return rc;
    return hs_client_send_hello(c, now_ms);
}

static int client_on_hello_verify(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    hs_hello_verify_request hvr;
    if (hs_hello_verify_request_parse(body, len, &hvr) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (hvr.cookie_len > sizeof c->h->cookie) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    memcpy(c->h->cookie, hvr.cookie, hvr.cookie_len);
    c->h->cookie_len = hvr.cookie_len;
    /* RFC 6347 §4.2.6: the first ClientHello and the HelloVerifyRequest are
     * not part of the handshake transcript. The second ClientHello keeps
     * the same random (§4.2.1). */
    hs_transcript_restart(c);
    int rc = hs_client_send_hello(c, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

static int client_on_server_hello(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
#if CDTLS_HAVE_DTLS13
    {
        int is13 = 0;
        int rc13 = hs13_client_on_server_hello(c, body, len, now_ms, &is13);
        if (is13 || rc13) return rc13;
    }
#endif
    hs_server_hello sh;
    if (hs_server_hello_parse(body, len, &sh) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (sh.version != DTLS_VERSION_1_2)
        return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
#if CDTLS_HAVE_DTLS13
    if (c->v13) {
        /* RFC 8446 §4.1.3: we offered 1.3 and the server chose 1.2; a 1.3
         * server says so in its random, and then someone removed 1.3 from
         * our offer */
        if (c->v13->offered && hs13_downgrade_sentinel(sh.random) != HS13_DOWNGRADE_NONE)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        hs13_free(c);
    }
    c->version = CDTLS_VERSION_1_2;
#endif
    /* RFC 5246 §7.4.1.4: an extension we did not offer in a ServerHello
     * aborts the handshake with unsupported_extension; we offer no type
     * that the parser does not know. */
    if (sh.ext.n_unknown) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    /* The suite must be one we offered (RFC 5246 §7.4.1.3). */
    uint16_t suites[64];
    size_t n = 0;
    (void)hs_our_suites(c, suites, 64, &n);
    int offered = 0;
    for (size_t i = 0; i < n; i++) offered |= suites[i] == sh.cipher_suite;
    if (!offered) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (sh.compression_method != 0) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    c->suite = suite_find(sh.cipher_suite);
    hs_transcript_pick(c);
    memcpy(c->server_random, sh.random, sizeof c->server_random);
    if (sh.session_id_len > sizeof c->session_id) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    memcpy(c->session_id, sh.session_id, sh.session_id_len);
    c->session_id_len = sh.session_id_len;

    /* RFC 7627 §5.1: use EMS only if the server echoed it. */
    c->use_ems = sh.ext.ems && c->cfg->negotiate.ems != CDTLS_EMS_DISABLE;
    if (!c->use_ems && c->cfg->negotiate.ems == CDTLS_EMS_REQUIRE)
        return conn_fail(c, CDTLS_ERR_EMS_REQUIRED, ALERT_HANDSHAKE_FAILURE);
    /* RFC 5746 §3.4: the server's renegotiation_info must be empty. */
    if (sh.ext.renegotiation_info && sh.ext.renegotiation_info_len != 0)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
    c->peer_secure_reneg = sh.ext.renegotiation_info;
    /* RFC 7366 §2: EtM only for CBC suites, and only if we offered it. */
    c->use_etm = sh.ext.encrypt_then_mac;
    if (c->use_etm && (c->suite->kind != SUITE_CBC || !c->cfg->negotiate.encrypt_then_mac))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    int alert = ALERT_INTERNAL_ERROR;
    int rc = hs_app_ext_accept(c, &sh.ext, &alert); /* ALPN, use_srtp */
    if (!rc) rc = conn_cid_accept_reply(c, &sh.ext, &alert);
    if (!rc) rc = conn_rrc_accept_reply(c, &sh.ext, &alert);
    if (!rc) rc = rpk_accept(c, &sh.ext, &alert); /* RFC 7250 */
    if (rc) return conn_fail(c, rc, alert);
    /* RFC 5077 §3.2: a SessionTicket extension only in answer to ours; it
     * promises a NewSessionTicket before the server's CCS */
    if (sh.ext.session_ticket && (!c->cfg->resumption.tickets || sh.ext.ticket_len != 0))
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
    c->hs = hs_suite_uses_cert(c->suite) ? HS_C_WAIT_CERT : HS_C_WAIT_SKE_OR_SHD;
    return CDTLS_OK;
}

/* CertificateRequest (RFC 5246 §7.4.4): answer with our certificate if we
 * have one whose key a scheme of the server's list can sign with. */
static int client_on_certificate_request(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
    hs_certificate_request cr;
    if (hs_certificate_request_parse(body, len, &cr) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    c->h->cert_requested = 1;
    c->h->client_sig_scheme = 0;
    if (c->own_cert_rpk ? c->h->have_own_rpk : (c->h->n_certs && c->h->have_own_leaf)) {
        cdtls_key_type t = c->own_cert_rpk ? c->h->own_rpk_key.type : c->h->own_leaf.key.type;
        c->h->client_sig_scheme = hs_sig_choose(c, t, cr.sig_algs, cr.sig_algs_len, 0);
    }
    c->hs = HS_C_WAIT_SHD;
    return CDTLS_OK;
}

static int client_on_certificate(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
    int rc = hs_on_peer_certificate(c, body, len, 1);
    if (rc) return rc;
    /* the leaf's key must fit the suite (RFC 8422 §5.3) */
    cdtls_key_type t = c->peer_chain[0].key.type;
    int fits = c->suite->kx == KX_ECDHE_RSA
                   ? t == CDTLS_KEY_RSA
                   : (t == CDTLS_KEY_EC_P256 || t == CDTLS_KEY_EC_P384 || t == CDTLS_KEY_ED25519);
    if (!fits) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_CERTIFICATE);
    c->hs = HS_C_WAIT_SKE;
    return CDTLS_OK;
}

static int client_on_server_key_exchange(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
    hs_server_key_exchange ske;
    hs_kx_kind kind = hs_suite_kx_kind(c->suite);
    if (hs_server_key_exchange_parse(body, len, kind, &ske) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (kind == HS_KX_ECDHE) {
        /* the scheme must be one we offered and fit the server's key, and
         * the signature must verify over both randoms and the params */
        uint16_t ours[16];
        size_t n = hs_our_sig_algs(c, ours, 16);
        int offered = 0;
        for (size_t i = 0; i < n; i++) offered |= ours[i] == ske.sig_alg;
        const cdtls_sig_vt *v = hs_sig_by_id(c->p, ske.sig_alg);
        if (!offered || !v || !(v->key_types & CDTLS_KEY_BIT(c->peer_chain[0].key.type)))
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        uint8_t signed_data[64 + 4 + 255];
        size_t sd_len;
        hs_ske_signed_input(c, ske.params, ske.params_len, signed_data, &sd_len);
        if (v->verify(&c->peer_chain[0].key, signed_data, sd_len, ske.signature, ske.signature_len) !=
            CDTLS_OK)
            return conn_fail(c, CDTLS_ERR_SIGNATURE, ALERT_DECRYPT_ERROR);
    }
    if (ske.psk_hint_len > sizeof c->h->psk_hint) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (ske.psk_hint_len) memcpy(c->h->psk_hint, ske.psk_hint, ske.psk_hint_len);
    c->h->psk_hint_len = ske.psk_hint_len;
    if (kind == HS_KX_ECDHE_PSK || kind == HS_KX_ECDHE) {
        const cdtls_kx_vt *kx = hs_kx_by_id(c->p, ske.named_curve);
        uint16_t ours[CDTLS_GROUP__COUNT];
        size_t n = hs_our_groups(c, ours, CDTLS_GROUP__COUNT);
        int offered = 0;
        for (size_t i = 0; i < n; i++) offered |= ours[i] == ske.named_curve;
        if (!kx || !offered) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        if (ske.public_len != kx->public_len)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        c->h->kx = kx;
        memcpy(c->h->peer_kx_pub, ske.public_key, ske.public_len);
        c->h->peer_kx_pub_len = ske.public_len;
    }
    c->hs = kind == HS_KX_ECDHE ? HS_C_WAIT_CR_OR_SHD : HS_C_WAIT_SHD;
    return CDTLS_OK;
}

/* The client's PSK: from the callback (given the server's hint) or config. */
static int client_choose_psk(cdtls_conn *c)
{
    if (c->cfg->callbacks.psk) {
        size_t id_len = 0, psk_len = 0;
        int rc = c->cfg->callbacks.psk(c->cfg->callbacks.user, c->h->psk_hint, c->h->psk_hint_len,
                                       c->psk_identity, sizeof c->psk_identity, &id_len, c->h->psk,
                                       sizeof c->h->psk, &psk_len);
        if (rc) return rc;
        if (id_len > sizeof c->psk_identity || psk_len > sizeof c->h->psk) return CDTLS_ERR_INTERNAL;
        c->psk_identity_len = id_len;
        c->h->psk_len = psk_len;
    }
    return c->h->psk_len ? CDTLS_OK : CDTLS_ERR_UNKNOWN_PSK;
}

/* Our Certificate when the server asked (RFC 5246 §7.4.6): our chain if
 * we have a certificate the server's schemes can carry, else an empty
 * list (the server decides); a raw public key we cannot sign for ends the
 * handshake. */
static int client_queue_certificate(cdtls_conn *c)
{
    if (c->own_cert_rpk && !c->h->client_sig_scheme) return CDTLS_ERR_HANDSHAKE_FAILURE;
    return hs_queue_certificate(c, c->h->client_sig_scheme ? c->h->n_certs : 0);
}

/* ClientKeyExchange (RFC 4279 §2, RFC 5489 §2, RFC 8422 §5.7): our PSK
 * identity and/or ephemeral public key; the ECDH shared secret goes to
 * shared (*shared_len 0 for plain PSK). Our key is cleared once used. */
static int client_queue_key_exchange(cdtls_conn *c, uint8_t shared[CDTLS_KX_MAX_SHARED], size_t *shared_len)
{
    hs_client_key_exchange cke;
    memset(&cke, 0, sizeof cke);
    cke.psk_identity = c->psk_identity;
    cke.psk_identity_len = c->psk_identity_len;
    uint8_t pub[CDTLS_KX_MAX_PUBLIC];
    *shared_len = 0;
    if (suite_uses_ecdhe(c->suite)) {
        int rc = c->h->kx->keygen(c->p, &c->h->kx_key, pub);
        if (rc) return rc;
        rc = c->h->kx->derive(&c->h->kx_key, c->h->peer_kx_pub, c->h->peer_kx_pub_len, shared);
        c->h->kx->clear(&c->h->kx_key);
        if (rc) return rc;
        *shared_len = c->h->kx->shared_len;
        cke.public_key = pub;
        cke.public_len = c->h->kx->public_len;
    }
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    int rc = hs_client_key_exchange_write(&w, hs_suite_kx_kind(c->suite), &cke);
    return rc ? rc : conn_hs_queue(c, HS_CLIENT_KEY_EXCHANGE, body, w.len);
}

/* CertificateVerify (RFC 5246 §7.4.8): a signature over every handshake
 * message so far, ClientKeyExchange included. */
static int client_queue_certificate_verify(cdtls_conn *c)
{
    const cdtls_sig_vt *v = hs_sig_by_id(c->p, c->h->client_sig_scheme);
    if (c->h->hs_log_overflow || !v) return CDTLS_ERR_LIMIT;
    uint8_t sig[CDTLS_SIG_MAX_LEN], body[4 + CDTLS_SIG_MAX_LEN];
    size_t sig_len = sizeof sig;
    int rc = v->sign(c->p, c->h->private_key, c->h->hs_log, c->h->hs_log_len, sig, &sig_len);
    if (rc) return rc;
    hs_certificate_verify hcv = {c->h->client_sig_scheme, sig, sig_len};
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    rc = hs_certificate_verify_write(&w, &hcv);
    return rc ? rc : conn_hs_queue(c, HS_CERTIFICATE_VERIFY, body, w.len);
}

/* Flight 5: [Certificate,] ClientKeyExchange, [CertificateVerify,]
 * ChangeCipherSpec, Finished. The session hash for EMS covers messages
 * through ClientKeyExchange (RFC 7627 §4), which is where the keys are
 * derived. */
static int client_send_flight5(cdtls_conn *c, uint64_t now_ms)
{
    conn_flight_clear(c);
    int rc = c->h->cert_requested ? client_queue_certificate(c) : CDTLS_OK;
    if (rc) return rc;
    uint8_t shared[CDTLS_KX_MAX_SHARED];
    size_t shared_len = 0;
    rc = client_queue_key_exchange(c, shared, &shared_len);
    if (!rc) rc = hs_derive_keys(c, shared_len ? shared : NULL, shared_len);
    cdtls_memzero(shared, sizeof shared);
    if (rc) return rc;
    if (c->h->cert_requested && c->h->client_sig_scheme) {
        rc = client_queue_certificate_verify(c);
        if (rc) return rc;
    }
    rc = hs_queue_ccs_finished(c);
    return rc ? rc : conn_flight_send(c, now_ms, 1);
}

static int client_on_server_hello_done(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)body;
    if (len != 0) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (suite_uses_ecdhe(c->suite) && !c->h->kx)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    int rc = suite_uses_psk(c->suite) ? client_choose_psk(c) : CDTLS_OK;
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    rc = client_send_flight5(c, now_ms);
    if (rc) return conn_fail(c, rc, rc == CDTLS_ERR_BAD_KEY ? ALERT_ILLEGAL_PARAMETER : ALERT_INTERNAL_ERROR);
    c->hs = HS_C_WAIT_FINISHED;
    return CDTLS_OK;
}

/* NewSessionTicket (RFC 5077 §3.3): only when the ServerHello promised it,
 * once, before the server's CCS. */
static int client_ticket_check(cdtls_conn *c, const uint8_t *body, size_t len)
{
    (void)body, (void)len;
    if (!c->expect_ticket || c->got_ticket_msg)
        return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    return CDTLS_OK;
}

static int client_on_new_session_ticket(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
    hs_new_session_ticket t;
    if (hs_new_session_ticket_parse(body, len, &t) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    c->got_ticket_msg = 1;
    return resume_client_on_ticket(c, &t);
}

/* What the client expects in each state (RFC 5246 §7.3): a PSK suite
 * without a hint goes from ServerHello straight to ServerHelloDone. */
const hs_step hs_client_steps[] = {
    {HS_C_WAIT_SERVER_HELLO, HS_HELLO_VERIFY_REQUEST, 0, NULL, client_on_hello_verify},
    {HS_C_WAIT_SERVER_HELLO, HS_SERVER_HELLO, 1, NULL, client_on_server_hello},
    {HS_C_WAIT_CERT, HS_CERTIFICATE, 1, NULL, client_on_certificate},
    {HS_C_WAIT_SKE, HS_SERVER_KEY_EXCHANGE, 1, NULL, client_on_server_key_exchange},
    {HS_C_WAIT_CR_OR_SHD, HS_CERTIFICATE_REQUEST, 1, NULL, client_on_certificate_request},
    {HS_C_WAIT_CR_OR_SHD, HS_SERVER_HELLO_DONE, 1, NULL, client_on_server_hello_done},
    {HS_C_WAIT_SKE_OR_SHD, HS_SERVER_KEY_EXCHANGE, 1, NULL, client_on_server_key_exchange},
    {HS_C_WAIT_SKE_OR_SHD, HS_SERVER_HELLO_DONE, 1, NULL, client_on_server_hello_done},
    {HS_C_WAIT_SHD, HS_SERVER_HELLO_DONE, 1, NULL, client_on_server_hello_done},
    {HS_C_WAIT_FINISHED, HS_NEW_SESSION_TICKET, 1, client_ticket_check, client_on_new_session_ticket},
    {HS_C_WAIT_FINISHED, HS_FINISHED, 1, hs_finished_check, hs_finished_handle},
};
const size_t hs_n_client_steps = sizeof hs_client_steps / sizeof hs_client_steps[0];
