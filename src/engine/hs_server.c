/* The DTLS 1.2 handshake, server side (RFC 6347 §4.2, RFC 5246 §7.3): the
 * cookie exchange (RFC 6347 §4.2.1, shared with the stateless hello
 * verifier), the ClientHello and what it decides, flight 4 one message at
 * a time, the abbreviated flight of a resumption (RFC 5077), and the
 * client's flight 5. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs_internal.h"
#include "engine/x509_use.h"
#include "engine/hs13_internal.h"
#include "handshake/hs13_msg.h"
#include "handshake/hs_msg.h"

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
size_t hs_cookie_parts(const uint8_t *version_random_sid, size_t len, const void *addr, size_t addr_len,
                       cookie_part parts[2])
{
    parts[0].p = addr, parts[0].len = addr_len;
    parts[1].p = version_random_sid, parts[1].len = len;
    return 2;
}

/* HelloVerifyRequest (RFC 6347 §4.2.1): record seq echoes the ClientHello's,
 * message_seq echoes its message_seq, version DTLS 1.0 as the RFC advises;
 * nothing is kept. */
int hs_write_hello_verify(uint8_t *out, size_t cap, size_t *out_len, uint64_t record_seq, uint16_t msg_seq,
                          const uint8_t *cookie, size_t cookie_len)
{
    uint8_t hs[DTLS_HS_HEADER_LEN + 3 + 255];
    hs_hello_verify_request hvr = {DTLS_VERSION_1_0, cookie, cookie_len};
    cdtls_writer w;
    writer_init(&w, hs + DTLS_HS_HEADER_LEN, sizeof hs - DTLS_HS_HEADER_LEN);
    int rc = hs_hello_verify_request_write(&w, &hvr);
    if (rc) return rc;
    hs_header h = {HS_HELLO_VERIFY_REQUEST, (uint32_t)w.len, msg_seq, 0, (uint32_t)w.len};
    hs_header_put(&h, hs);
    return record_seal(NULL, CT_HANDSHAKE, DTLS_VERSION_1_0, 0, record_seq, hs, DTLS_HS_HEADER_LEN + w.len,
                       out, cap, out_len);
}

/* The scheme a server signs with: one its key and provider can do that
 * the client offered (no extension: RFC 5246 §7.4.1.4.1 defaults are SHA-1,
 * which cdtls does not do, so the preferred one is tried). A P-384 key
 * prefers SHA-384. */
static uint16_t server_pick_sig(const cdtls_conn *c, const hs_client_hello *ch)
{
    /* the key behind our certificate or raw public key (RFC 7250) */
    cdtls_key_type t = c->own_cert_rpk ? c->h->own_rpk_key.type : c->h->own_leaf.key.type;
    const uint8_t *peer = ch->ext.has_signature_algorithms ? ch->ext.signature_algorithms : NULL;
    return hs_sig_choose(c, t, peer, ch->ext.signature_algorithms_len, t == CDTLS_KEY_EC_P384 ? 0x0503 : 0);
}

static uint16_t server_pick_suite(const cdtls_conn *c, const hs_client_hello *ch)
{
    /* Server preference order (ours), restricted to what the client offers. */
    uint16_t ours[64];
    size_t n = 0;
    if (hs_our_suites(c, ours, 64, &n)) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!hs_client_hello_offers_suite(ch, ours[i])) continue;
        const suite_info *s = suite_find(ours[i]);
        if (hs_suite_uses_cert(s) && !server_pick_sig(c, ch)) continue; /* no common signature scheme */
        if (suite_uses_ecdhe(s)) {
            /* Need a common group (RFC 8422 §5.1.1: no extension = any). */
            uint16_t groups[CDTLS_GROUP__COUNT];
            size_t ng = hs_our_groups(c, groups, CDTLS_GROUP__COUNT);
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
#if CDTLS_HAVE_DTLS13
    /* RFC 8446 §4.1.3: a server that speaks 1.3 and negotiates 1.2 says so
     * in its random (a 1.3 client then knows 1.3 was taken out of its offer) */
    if (hs13_server_enabled(c)) hs13_downgrade_mark(c->server_random, HS13_DOWNGRADE_DTLS12);
#endif
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
    uint8_t app_ext[HS_APP_EXT_REPLY_MAX];   /* ALPN, use_srtp chosen from the ClientHello */
    rc = hs_app_ext_reply(c, &sh.ext, app_ext, sizeof app_ext);
    if (!rc) rc = conn_cid_accept_offer(c, &ch->ext, &sh.ext); /* RFC 9146 */
    if (!rc) conn_rrc_accept_offer(c, &ch->ext, &sh.ext);      /* RFC 9853 */
    uint8_t rpk_ext[2];
    if (hs_suite_uses_cert(c->suite) && !c->resumed) rpk_reply(c, &sh.ext, rpk_ext); /* RFC 7250 */
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
int hs_server_queue_ticket(cdtls_conn *c, uint64_t now_ms)
{
    if (!c->issue_ticket) return CDTLS_OK;
    uint8_t ticket[TICKET_MAX_OURS], body[4 + 2 + TICKET_MAX_OURS];
    hs_new_session_ticket t = {c->cfg->resumption.lifetime_ms / 1000u, ticket, 0};
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
    if (!rc) rc = hs_server_queue_ticket(c, now_ms);
    if (!rc) {
        conn_keylog(c);
        rc = conn_install_keys(c);
    }
    if (!rc) rc = hs_queue_ccs_finished(c);
    if (!rc) rc = conn_flight_send(c, now_ms, 1);
    return rc;
}

/* Sessions that authenticated a client certificate are not made
 * resumable (as in pion): the resumed connection could not show the
 * certificate, and a later change of trust anchors would not reach it. */
static int server_may_resume(const cdtls_conn *c)
{
    return !hs_suite_uses_cert(c->suite) || c->cfg->verify.client_auth == CDTLS_CLIENT_AUTH_NONE;
}

/* Picks our most preferred group the client offered (all of ours when it
 * sent no supported_groups, RFC 8422 §4), and makes our key share. */
static int server_make_kx_key(cdtls_conn *c, const hs_client_hello *ch, uint8_t pub[CDTLS_KX_MAX_PUBLIC])
{
    uint16_t groups[CDTLS_GROUP__COUNT];
    size_t ng = hs_our_groups(c, groups, CDTLS_GROUP__COUNT);
    for (size_t g = 0; g < ng && !c->h->kx; g++)
        if (!ch->ext.has_supported_groups || hs_client_hello_offers_group(ch, groups[g]))
            c->h->kx = hs_kx_by_id(c->p, groups[g]);
    if (!c->h->kx) return CDTLS_ERR_HANDSHAKE_FAILURE;
    int rc = c->h->kx->keygen(c->p, &c->h->kx_key, pub);
    if (!rc) c->h->have_kx_key = 1;
    return rc;
}

/* Signs client_random || server_random || ServerECDHParams (RFC 8422
 * §5.4) with our key: the params are encoded by hs_ecdh_params_write, the
 * encoder the ServerKeyExchange writer uses, so what is signed is what is
 * sent. */
static int server_sign_params(cdtls_conn *c, hs_server_key_exchange *ske, uint8_t *sig, size_t sig_cap)
{
    uint8_t params[4 + CDTLS_KX_MAX_PUBLIC], signed_data[64 + sizeof params];
    cdtls_writer pw;
    writer_init(&pw, params, sizeof params);
    int rc = hs_ecdh_params_write(&pw, ske->named_curve, ske->public_key, ske->public_len);
    if (rc) return rc;
    size_t sd_len, sig_len = sig_cap;
    hs_ske_signed_input(c, params, pw.len, signed_data, &sd_len);
    const cdtls_sig_vt *v = hs_sig_by_id(c->p, c->h->sig_scheme);
    if (!v) return CDTLS_ERR_INTERNAL;
    rc = v->sign(c->p, c->h->private_key, signed_data, sd_len, sig, &sig_len);
    if (rc) return rc;
    ske->sig_alg = c->h->sig_scheme;
    ske->signature = sig;
    ske->signature_len = sig_len;
    return CDTLS_OK;
}

/* ServerKeyExchange: always for the ECDHE suites; for PSK only to carry
 * a hint (RFC 4279 §2: omitted when there is none). */
static int server_queue_key_exchange(cdtls_conn *c, const hs_client_hello *ch)
{
    if (!suite_uses_ecdhe(c->suite) && !c->h->psk_hint_len) return CDTLS_OK;
    hs_server_key_exchange ske;
    memset(&ske, 0, sizeof ske);
    ske.psk_hint = c->h->psk_hint;
    ske.psk_hint_len = c->h->psk_hint_len;
    uint8_t pub[CDTLS_KX_MAX_PUBLIC], sig[CDTLS_SIG_MAX_LEN];
    if (suite_uses_ecdhe(c->suite)) {
        int rc = server_make_kx_key(c, ch, pub);
        if (rc) return rc;
        ske.named_curve = c->h->kx->tls_id;
        ske.public_key = pub;
        ske.public_len = c->h->kx->public_len;
    }
    if (hs_suite_uses_cert(c->suite)) {
        int rc = server_sign_params(c, &ske, sig, sizeof sig);
        if (rc) return rc;
    }
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    int rc = hs_server_key_exchange_write(&w, hs_suite_kx_kind(c->suite), &ske);
    return rc ? rc : conn_hs_queue(c, HS_SERVER_KEY_EXCHANGE, body, w.len);
}

/* CertificateRequest (RFC 5246 §7.4.4) when client authentication is on:
 * the schemes we verify, no authorities. */
static int server_queue_certificate_request(cdtls_conn *c)
{
    uint16_t algs[16];
    size_t n = hs_our_sig_algs(c, algs, 16);
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    int rc = hs_certificate_request_write(&w, algs, n);
    if (rc) return rc;
    c->h->cert_requested = 1;
    return conn_hs_queue(c, HS_CERTIFICATE_REQUEST, body, w.len);
}

/* Flight 4: ServerHello, [Certificate,] [ServerKeyExchange,]
 * [CertificateRequest,] ServerHelloDone. */
static int server_send_flight4(cdtls_conn *c, const hs_client_hello *ch, uint64_t now_ms)
{
    /* a resumable session needs an ID (RFC 5246 §7.4.1.3); with tickets
     * only, there is nothing to look an ID up in */
    c->session_id_len = 0;
    if (c->cfg->resumption.store && server_may_resume(c)) {
        int rc = c->p->random(c->p, c->session_id, 32);
        if (rc) return rc;
        c->session_id_len = 32;
    }
    const int cert = hs_suite_uses_cert(c->suite);
    int rc = server_hello_queue(c, ch);
    if (!rc && cert) rc = hs_queue_certificate(c, c->h->n_certs); /* RFC 5246 §7.4.2: leaf first */
    if (!rc) rc = server_queue_key_exchange(c, ch);
    if (!rc && cert && c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE)
        rc = server_queue_certificate_request(c);
    if (!rc) rc = conn_hs_queue(c, HS_SERVER_HELLO_DONE, NULL, 0);
    return rc ? rc : conn_flight_send(c, now_ms, 1);
}

/* From here on the handshake runs: the transcript starts with this
 * ClientHello (RFC 6347 §4.2.6), our message_seq continues from the
 * client's (§4.2.2), and we expect the client's next message after it. */
static void server_begin_transcript(cdtls_conn *c, const uint8_t *msg, size_t msg_len, uint16_t msg_seq,
                                    uint64_t now_ms)
{
    hs_transcript_restart(c);
    hs_transcript_pick(c);
    conn_transcript_add(c, msg, msg_len);
    c->send_msg_seq = msg_seq;
    hs_reasm_reset(&c->h->reasm);
    hs_reasm_set_next_seq(&c->h->reasm, (uint16_t)(msg_seq + 1));
    c->h->hs_started_ms = now_ms;
}

/* The cookie exchange done by the connection itself (no stateless
 * verifier in front, RFC 6347 §4.2.1): 1 when the hello's cookie is valid
 * (or none is asked for), 0 when it was answered with a fresh
 * HelloVerifyRequest and nothing is kept; *rc an error that fails the
 * connection. */
static int server_cookie_ok(cdtls_conn *c, const hs_client_hello *ch, uint16_t msg_seq, uint64_t record_seq,
                            uint64_t now_ms, int *rc)
{
    *rc = CDTLS_OK;
    if (!c->cfg->cookie.exchange || c->cookie_verified) return 1;
    if (!c->h->cookies_ready) {
        *rc = cookie_keys_init(&c->h->cookies, c->p, c->cfg->cookie.rotate_ms, now_ms);
        if (*rc) return 0;
        c->h->cookies_ready = 1;
    }
    (void)cookie_keys_tick(&c->h->cookies, c->p, now_ms);
    cookie_part parts[2];
    size_t np = hs_cookie_parts(ch->raw_version_random_sid, ch->raw_version_random_sid_len, c->peer_addr,
                                c->peer_addr_len, parts);
    if (cookie_verify(c->p, &c->h->cookies, parts, np, ch->cookie, ch->cookie_len) == CDTLS_OK) {
        c->cookie_verified = 1;
        return 1;
    }
    /* No valid cookie (none yet, forged, or stale): a fresh
     * HelloVerifyRequest; out of memory only drops it (the client asks again). */
    uint8_t cookie[COOKIE_LEN];
    uint8_t rec[DTLS_RECORD_HEADER_LEN + DTLS_HS_HEADER_LEN + 3 + COOKIE_LEN];
    size_t n = 0;
    int r = cookie_make(c->p, &c->h->cookies, parts, np, cookie);
    if (!r) r = hs_write_hello_verify(rec, sizeof rec, &n, record_seq, msg_seq, cookie, COOKIE_LEN);
    if (!r)
        r = dgram_queue_push(&c->out, c->a, rec, n,
                             c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL);
    *rc = r == CDTLS_ERR_NOMEM ? CDTLS_OK : r;
    return 0;
}

/* What every initial ClientHello must satisfy, and what it settles before
 * the suite: version, compression, secure renegotiation, EMS. Returns the
 * conn_fail() result or CDTLS_OK. */
static int server_check_hello(cdtls_conn *c, const hs_client_hello *ch)
{
    /* DTLS versions count down (RFC 6347 §4.1): 0xfefd is 1.2, 0xfeff is
     * 1.0. client_version is the highest the client speaks: above 0xfefd
     * means it cannot do 1.2; below means a newer version, and we answer
     * 1.2 (a DTLS 1.3 hello's legacy_version is 1.2, RFC 9147 §5.3). */
    if (ch->version > DTLS_VERSION_1_2)
        return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
#if CDTLS_HAVE_DTLS13
    /* a 1.3-only server (versions.min) takes no 1.2 hello */
    if (conn_min_version(c->cfg) != CDTLS_VERSION_1_2)
        return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
    c->version = CDTLS_VERSION_1_2;
#endif
    if (!hs_client_hello_offers_null_compression(ch))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    /* RFC 5746 §3.6: an initial ClientHello's renegotiation_info is empty. */
    if (ch->ext.renegotiation_info && ch->ext.renegotiation_info_len != 0)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
    c->peer_secure_reneg = ch->ext.renegotiation_info || ch->has_reneg_scsv;
    c->use_ems = ch->ext.ems && c->cfg->negotiate.ems != CDTLS_EMS_DISABLE;
    if (!c->use_ems && c->cfg->negotiate.ems == CDTLS_EMS_REQUIRE)
        return conn_fail(c, CDTLS_ERR_EMS_REQUIRED, ALERT_HANDSHAKE_FAILURE);
    int rc = resume_note_server_name(c, ch->ext.server_name, ch->ext.server_name_len);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

/* Settled the same way for a full and a resumed handshake once the suite
 * is known: encrypt_then_mac (RFC 7366: CBC only), the client's random,
 * ALPN and use_srtp; then the transcript starts with this hello. */
static int server_settle_hello(cdtls_conn *c, const hs_client_hello *ch, const uint8_t *msg, size_t msg_len,
                               uint16_t msg_seq, uint64_t now_ms)
{
    c->use_etm = ch->ext.encrypt_then_mac && c->cfg->negotiate.encrypt_then_mac &&
                 c->suite->kind == SUITE_CBC;
    memcpy(c->client_random, ch->random, sizeof c->client_random);
    int alert = ALERT_INTERNAL_ERROR;
    if (hs_app_ext_choose(c, &ch->ext, &alert) != CDTLS_OK) /* ALPN, use_srtp */
        return conn_fail(c, CDTLS_ERR_NO_APPLICATION_PROTOCOL, alert);
    server_begin_transcript(c, msg, msg_len, msg_seq, now_ms);
    return CDTLS_OK;
}

/* SNI certificate selection (cfg.callbacks.select_certificate) happens before the
 * suite is chosen: the selected key's type decides between ECDSA and RSA
 * suites. What it picks is this handshake's, in c->h. */
int hs_server_select_certificate(cdtls_conn *c, const hs_client_hello *ch)
{
    if (!c->cfg->callbacks.select_certificate) return CDTLS_OK;
    char name[256];
    size_t nl = ch->ext.server_name_len < sizeof name - 1 ? ch->ext.server_name_len : 0;
    if (nl) memcpy(name, ch->ext.server_name, nl);
    name[nl] = 0;
    const uint8_t *const *chain = NULL;
    const size_t *lens = NULL;
    size_t n = 0;
    const cdtls_sign_key *key = NULL;
    int sel = c->cfg->callbacks.select_certificate(c->cfg->callbacks.user, nl ? name : NULL, &chain, &lens,
                                                   &n, &key);
    if (sel == CDTLS_ERR_UNSUPPORTED) return CDTLS_OK; /* keep the configured one */
    if (sel != CDTLS_OK) return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_UNRECOGNIZED_NAME);
    if (!chain || !lens || !n || !key || engine_x509_parse(chain[0], lens[0], &c->h->own_leaf) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_INVALID_ARG, ALERT_INTERNAL_ERROR);
    c->h->cert_chain = chain;
    c->h->cert_chain_len = lens;
    c->h->n_certs = n;
    c->h->private_key = key;
    c->h->have_own_leaf = 1;
    return CDTLS_OK;
}

/* RFC 5246 §7.3: a session the client offered (stored, or in its ticket)
 * is resumed; from here a fatal error invalidates it (§7.2). */
static int server_resume(cdtls_conn *c, const hs_client_hello *ch, const uint8_t *msg, size_t msg_len,
                         uint16_t msg_seq, uint64_t now_ms)
{
    resume_restore(c);
    c->suite = suite_find(c->sess->cipher_suite);
    int rc = server_settle_hello(c, ch, msg, msg_len, msg_seq, now_ms);
    if (rc) return rc;
    rc = server_send_resumed_flight(c, ch, now_ms);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->hs = HS_S_WAIT_FINISHED;
    return CDTLS_OK;
}

/* A full handshake: our certificate (SNI), the certificate types (RFC
 * 7250), the suite and signature scheme, then flight 4. */
static int server_full_handshake(cdtls_conn *c, const hs_client_hello *ch, const uint8_t *msg, size_t msg_len,
                                 uint16_t msg_seq, uint64_t now_ms)
{
    int rc = hs_server_select_certificate(c, ch);
    if (rc) return rc;
    int alert = ALERT_INTERNAL_ERROR;
    rc = rpk_choose(c, &ch->ext, &alert);
    if (rc) return conn_fail(c, rc, alert);
    uint16_t suite = server_pick_suite(c, ch);
    if (!suite) return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_HANDSHAKE_FAILURE);
    c->suite = suite_find(suite);
    const int cert = hs_suite_uses_cert(c->suite);
    if (cert && c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE && c->rpk_client_none)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_FAILURE, ALERT_UNSUPPORTED_CERTIFICATE);
    if (cert) c->h->sig_scheme = server_pick_sig(c, ch);
    rc = server_settle_hello(c, ch, msg, msg_len, msg_seq, now_ms);
    if (rc) return rc;
    c->issue_ticket = c->cfg->resumption.ticket_keys && ch->ext.session_ticket &&
                      server_may_resume(c); /* RFC 5077 §3.2 */
    rc = server_send_flight4(c, ch, now_ms);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->hs = c->h->cert_requested ? HS_S_WAIT_CLIENT_CERT : HS_S_WAIT_CKE;
    return CDTLS_OK;
}

int hs_server_client_hello(cdtls_conn *c, const uint8_t *msg, size_t msg_len, uint16_t msg_seq,
                           const uint8_t *body, size_t body_len, uint64_t record_seq, uint64_t now_ms)
{
#if CDTLS_HAVE_DTLS13
    {
        int is13 = 0;
        int rc13 = hs13_server_client_hello(c, msg_seq, body, body_len, record_seq, now_ms, &is13);
        if (is13 || rc13) return rc13;
    }
#endif
    hs_client_hello ch;
    if (hs_client_hello_parse(body, body_len, &ch) != CDTLS_OK) return CDTLS_OK; /* drop */
    int rc;
    if (!server_cookie_ok(c, &ch, msg_seq, record_seq, now_ms, &rc))
        return rc ? conn_fail(c, rc, -1) : CDTLS_OK;
    /* The HelloVerifyRequest reused the first ClientHello's record sequence
     * number (RFC 6347 §4.2.1), so the client has seen that number from us
     * in epoch 0: continue from this ClientHello's number, or our next
     * records (even an alert) would fall in the client's replay window. */
    if (record_seq > c->write_seq[0]) c->write_seq[0] = record_seq;
    rc = server_check_hello(c, &ch);
    if (rc) return rc;
    if (resume_server_lookup(c, &ch, now_ms)) return server_resume(c, &ch, msg, msg_len, msg_seq, now_ms);
    return server_full_handshake(c, &ch, msg, msg_len, msg_seq, now_ms);
}

int conn_server_lookup_psk(cdtls_conn *c, const uint8_t *id, size_t id_len)
{
    if (id_len > sizeof c->psk_identity) return CDTLS_ERR_UNKNOWN_PSK;
    if (c->cfg->callbacks.psk) {
        size_t psk_len = 0;
        int rc = c->cfg->callbacks.psk(c->cfg->callbacks.user, id, id_len, NULL, 0, NULL, c->h->psk,
                                       sizeof c->h->psk, &psk_len);
        if (rc) return rc == CDTLS_ERR_UNKNOWN_PSK ? rc : CDTLS_ERR_UNKNOWN_PSK;
        if (psk_len == 0 || psk_len > sizeof c->h->psk) return CDTLS_ERR_UNKNOWN_PSK;
        c->h->psk_len = psk_len;
    } else {
        if (id_len != c->cfg->psk.identity_len || (id_len && memcmp(id, c->cfg->psk.identity, id_len) != 0))
            return CDTLS_ERR_UNKNOWN_PSK;
    }
    memcpy(c->psk_identity, id, id_len);
    c->psk_identity_len = id_len;
    return CDTLS_OK;
}

static int auth_requires(const cdtls_conn *c)
{
    return c->cfg->verify.client_auth == CDTLS_CLIENT_AUTH_REQUIRE_ANY ||
           c->cfg->verify.client_auth == CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
}

static int auth_verifies(const cdtls_conn *c)
{
    return c->cfg->verify.client_auth == CDTLS_CLIENT_AUTH_VERIFY_IF_GIVEN ||
           c->cfg->verify.client_auth == CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
}

/* The client's Certificate (RFC 5246 §7.4.6), judged as the mode says. */
static int server_on_client_certificate(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
    if (!c->peer_cert_rpk && len == 3 && body[0] == 0 && body[1] == 0 && body[2] == 0) {
        if (auth_requires(c)) return conn_fail(c, CDTLS_ERR_CERT_UNTRUSTED, ALERT_HANDSHAKE_FAILURE);
        c->hs = HS_S_WAIT_CKE;
        return CDTLS_OK;
    }
    int rc = hs_on_peer_certificate(c, body, len, auth_verifies(c));
    if (rc) return rc;
    c->hs = HS_S_WAIT_CKE;
    return CDTLS_OK;
}

/* CertificateVerify: the client proves it holds the certificate's key. */
static int server_certificate_verify_check(cdtls_conn *c, const uint8_t *body, size_t len)
{
    hs_certificate_verify cv;
    if (hs_certificate_verify_parse(body, len, &cv) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    uint16_t ours[16];
    size_t n = hs_our_sig_algs(c, ours, 16);
    int asked = 0;
    for (size_t i = 0; i < n; i++) asked |= ours[i] == cv.sig_alg;
    const cdtls_sig_vt *v = hs_sig_by_id(c->p, cv.sig_alg);
    if (!asked || !v || !(v->key_types & CDTLS_KEY_BIT(c->peer_chain[0].key.type)))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (c->h->hs_log_overflow) return conn_fail(c, CDTLS_ERR_LIMIT, ALERT_INTERNAL_ERROR);
    if (v->verify(&c->peer_chain[0].key, c->h->hs_log, c->h->hs_log_len, cv.signature, cv.signature_len) !=
        CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_SIGNATURE, ALERT_DECRYPT_ERROR);
    return CDTLS_OK;
}

static int server_on_certificate_verify(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)body, (void)len, (void)now_ms;
    c->hs = HS_S_WAIT_FINISHED;
    return CDTLS_OK;
}

static int server_on_client_key_exchange(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    (void)now_ms;
    hs_client_key_exchange cke;
    hs_kx_kind kind = hs_suite_kx_kind(c->suite);
    if (hs_client_key_exchange_parse(body, len, kind, &cke) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    int rc = kind == HS_KX_ECDHE ? CDTLS_OK
                                 : conn_server_lookup_psk(c, cke.psk_identity, cke.psk_identity_len);
    if (rc) return conn_fail(c, CDTLS_ERR_UNKNOWN_PSK, ALERT_UNKNOWN_PSK_IDENTITY);
    uint8_t shared[CDTLS_KX_MAX_SHARED];
    size_t shared_len = 0;
    if (kind != HS_KX_PSK) {
        if (cke.public_len != c->h->kx->public_len)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        rc = c->h->kx->derive(&c->h->kx_key, cke.public_key, cke.public_len, shared);
        c->h->kx->clear(&c->h->kx_key);
        c->h->have_kx_key = 0;
        if (rc) return conn_fail(c, rc, ALERT_ILLEGAL_PARAMETER);
        shared_len = c->h->kx->shared_len;
    }
    rc = hs_derive_keys(c, kind != HS_KX_PSK ? shared : NULL, shared_len);
    cdtls_memzero(shared, sizeof shared);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    /* a client certificate must be followed by its CertificateVerify */
    c->hs = c->peer_chain_len ? HS_S_WAIT_CERT_VERIFY : HS_S_WAIT_FINISHED;
    return CDTLS_OK;
}

/* What the server expects after the ClientHello (which conn.c hands to
 * hs_server_client_hello, cookie exchange first): RFC 5246 §7.3 order;
 * CertificateVerify is checked against the transcript before it. */
const hs_step hs_server_steps[] = {
    {HS_S_WAIT_CLIENT_CERT, HS_CERTIFICATE, 1, NULL, server_on_client_certificate},
    {HS_S_WAIT_CKE, HS_CLIENT_KEY_EXCHANGE, 1, NULL, server_on_client_key_exchange},
    {HS_S_WAIT_CERT_VERIFY, HS_CERTIFICATE_VERIFY, 1, server_certificate_verify_check,
     server_on_certificate_verify},
    {HS_S_WAIT_FINISHED, HS_FINISHED, 1, hs_finished_check, hs_finished_handle},
};
const size_t hs_n_server_steps = sizeof hs_server_steps / sizeof hs_server_steps[0];
