/* The DTLS 1.3 handshake, server side (RFC 9147 §5, RFC 8446 §4): the
 * ClientHello that offers 1.3 and what it decides (PSK, suite, group), the
 * HelloRetryRequest with a stateless cookie (§5.1) or, without the cookie
 * exchange, one that keeps state for a missing key share, our flight
 * (ServerHello; EncryptedExtensions, [CertificateRequest], [Certificate,
 * CertificateVerify], Finished under epoch 2), and the client's final
 * flight, which we ACK. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs13_internal.h"
#include "engine/hs13_cid.h"
#include "engine/x509_use.h"

#if CDTLS_HAVE_DTLS13

#define ALERT_MISSING_EXTENSION_13 109
#define ALERT_CERTIFICATE_REQUIRED_13 116 /* RFC 8446 §6.2 */

/* cookie = suite(2) group(2) hash_len(1) Hash(ClientHello1) MAC(32): what
 * the server needs to continue after a HelloRetryRequest without keeping
 * anything (RFC 9147 §5.1, RFC 8446 §4.2.2), the MAC binding it to the
 * client's address and random. */
#define COOKIE13_FIXED 5u
#define COOKIE13_MAX (COOKIE13_FIXED + TLS13_MAX_HASH + COOKIE_LEN)

int hs13_cfg_server_enabled(const cdtls_config *cfg, const cdtls_provider *p)
{
    if (!hs13_cfg_allows_13(cfg, p)) return 0;
    return cfg->psk.key_len || cfg->callbacks.psk || cfg->credentials.n_certs ||
           cfg->callbacks.select_certificate || cfg->credentials.raw_public_key_len;
}

int hs13_server_enabled(const cdtls_conn *c)
{
    return hs13_cfg_server_enabled(c->cfg, c->p);
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

/* A HelloRetryRequest body (RFC 8446 §4.1.4): written the same way when
 * sent and when rebuilt from a cookie for the transcript. */
static int hrr_write(uint16_t suite, uint16_t group, const uint8_t *cookie, size_t cookie_len, uint8_t *out,
                     size_t cap, size_t *len)
{
    hs13_server_hello hrr;
    memset(&hrr, 0, sizeof hrr);
    hrr.legacy.version = DTLS_VERSION_1_2;
    /* legacy_session_id_echo stays empty: "DTLS servers MUST NOT echo the
     * legacy_session_id value from the client" (RFC 9147 §5; no TLS 1.3
     * compatibility mode in DTLS). A client resuming may send one
     * (wolfSSL's does), and wolfSSL aborts on a non-empty echo. */
    hrr.legacy.cipher_suite = suite;
    hrr.is_hrr = 1;
    hrr.has_selected_version = 1;
    hrr.selected_version = CDTLS_VERSION_1_3;
    hrr.has_key_share = group != 0;
    hrr.selected_group = group;
    hrr.cookie = cookie;
    hrr.cookie_len = cookie_len;
    cdtls_writer w;
    writer_init(&w, out, cap);
    int rc = hs13_server_hello_write(&w, &hrr);
    *len = w.len;
    return rc;
}

static int cookie_keys_ready(cdtls_conn *c, uint64_t now_ms)
{
    if (!c->h->cookies_ready) {
        int rc = cookie_keys_init(&c->h->cookies, c->p, c->cfg->cookie.rotate_ms, now_ms);
        if (rc) return rc;
        c->h->cookies_ready = 1;
    }
    (void)cookie_keys_tick(&c->h->cookies, c->p, now_ms);
    return CDTLS_OK;
}

static size_t cookie_parts13(const void *addr, size_t addr_len, const hs13_client_hello *ch,
                             const uint8_t *fixed, size_t fixed_len, cookie_part parts[3])
{
    parts[0].p = addr, parts[0].len = addr_len;
    parts[1].p = ch->legacy.random, parts[1].len = 32;
    parts[2].p = fixed, parts[2].len = fixed_len;
    return 3;
}

/* The stateless HelloRetryRequest: the record echoes the ClientHello's
 * sequence number and message_seq (as a HelloVerifyRequest does), and
 * nothing of it is kept. */
static int stateless_hrr_record(const cdtls_provider *p, const cookie_keys *keys, const void *addr,
                                size_t addr_len, const hs13_client_hello *ch, uint16_t suite, uint16_t group,
                                const uint8_t *ch_hash, size_t hash_len, uint16_t msg_seq,
                                uint64_t record_seq, uint8_t *rec, size_t cap, size_t *n)
{
    uint8_t cookie[COOKIE13_MAX];
    cookie[0] = (uint8_t)(suite >> 8), cookie[1] = (uint8_t)suite;
    cookie[2] = (uint8_t)(group >> 8), cookie[3] = (uint8_t)group;
    cookie[4] = (uint8_t)hash_len;
    memcpy(cookie + COOKIE13_FIXED, ch_hash, hash_len);
    size_t fixed = COOKIE13_FIXED + hash_len;
    cookie_part parts[3];
    size_t np = cookie_parts13(addr, addr_len, ch, cookie, fixed, parts);
    int rc = cookie_make(p, keys, parts, np, cookie + fixed);
    if (rc) return rc;
    uint8_t msg[DTLS_HS_HEADER_LEN + H13_MAX_HRR];
    size_t blen = 0;
    rc = hrr_write(suite, group, cookie, fixed + COOKIE_LEN, msg + DTLS_HS_HEADER_LEN, H13_MAX_HRR, &blen);
    if (rc) return rc;
    hs_header h = {HS_SERVER_HELLO, (uint32_t)blen, msg_seq, 0, (uint32_t)blen};
    hs_header_put(&h, msg);
    return record_seal(NULL, CT_HANDSHAKE, DTLS_VERSION_1_2, 0, record_seq, msg, DTLS_HS_HEADER_LEN + blen,
                       rec, cap, n);
}

static int send_stateless_hrr(cdtls_conn *c, const hs13_client_hello *ch, uint16_t suite, uint16_t group,
                              const uint8_t *ch_hash, size_t hash_len, uint16_t msg_seq, uint64_t record_seq,
                              uint64_t now_ms)
{
    int rc = cookie_keys_ready(c, now_ms);
    if (rc) return rc;
    uint8_t rec[DTLS_RECORD_HEADER_LEN + DTLS_HS_HEADER_LEN + H13_MAX_HRR];
    size_t n = 0;
    rc = stateless_hrr_record(c->p, &c->h->cookies, c->peer_addr, c->peer_addr_len, ch, suite, group, ch_hash,
                              hash_len, msg_seq, record_seq, rec, sizeof rec, &n);
    if (rc) return rc;
    rc = dgram_queue_push(&c->out, c->a, rec, n, c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL);
    if (rc == CDTLS_OK) conn_observe_record(c, CDTLS_EVENT_HANDSHAKE_SENT, rec, n);
    return rc == CDTLS_ERR_NOMEM ? CDTLS_OK : rc;
}

/* A cookie extension we did not make (another server's, forged, stale):
 * the hello is treated as one without a cookie, so it gets a fresh
 * HelloRetryRequest (RFC 9147 §5.1) and nothing else is believed. */
static int cookie_shape_ok(const hs13_client_hello *ch)
{
    size_t hl = ch->cookie_len > COOKIE13_FIXED ? ch->cookie[4] : 0;
    return ch->cookie_len == COOKIE13_FIXED + hl + COOKIE_LEN && (hl == 32 || hl == 48);
}

static int cookie_mac_ok(const cdtls_provider *p, const cookie_keys *keys, const void *addr, size_t addr_len,
                         const hs13_client_hello *ch)
{
    if (!cookie_shape_ok(ch)) return 0;
    const uint8_t *ck = ch->cookie;
    size_t fixed = COOKIE13_FIXED + ck[4];
    cookie_part parts[3];
    return cookie_verify(p, keys, parts, cookie_parts13(addr, addr_len, ch, ck, fixed, parts), ck + fixed,
                         COOKIE_LEN) == CDTLS_OK;
}

static int cookie_foreign(cdtls_conn *c, const hs13_client_hello *ch, uint64_t now_ms)
{
    /* a listener's hello verifier checked it already (with its own keys) */
    if (c->cookie_verified) return !cookie_shape_ok(ch);
    if (cookie_keys_ready(c, now_ms) != CDTLS_OK) return 1;
    return !cookie_mac_ok(c->p, &c->h->cookies, c->peer_addr, c->peer_addr_len, ch);
}

/* Our PSK among the client's identities (external PSKs, RFC 8446
 * §4.2.11): the index of the first we know, -1 for none. */
static int find_psk(cdtls_conn *c, const hs13_client_hello *ch)
{
    int ticket = hs13_ticket_server_find(c, ch); /* resumption first (hs13_ticket.c) */
    if (ticket >= 0) return ticket;
    if (!ch->has_psk || !ch->has_psk_modes) return -1;
    if (!(ch->psk_modes & ((1u << HS13_PSK_DHE_KE) | (1u << HS13_PSK_KE)))) return -1;
    if (!c->cfg->psk.key_len && !c->cfg->callbacks.psk) return -1;
    size_t off = 0;
    hs13_psk_identity id;
    for (int i = 0; i < 16 && hs13_psk_identity_next(ch->identities, ch->identities_len, &off, &id); i++)
        if (conn_server_lookup_psk(c, id.identity, id.identity_len) == CDTLS_OK) {
            if (!c->cfg->callbacks.psk) {
                memcpy(c->h->psk, c->cfg->psk.key, c->cfg->psk.key_len);
                c->h->psk_len = c->cfg->psk.key_len;
            }
            return i;
        }
    return -1;
}

static int binder_ok(cdtls_conn *c, const hs13_client_hello *ch, const uint8_t *body, size_t len, int idx,
                     const uint8_t *ch1_hash, const uint8_t *hrr, size_t hrr_len)
{
    size_t off = 0;
    hs13_bytes b = {NULL, 0};
    for (int i = 0; i <= idx; i++)
        if (!hs13_psk_binder_next(ch->binders, ch->binders_len, &off, &b)) return 0;
    uint8_t h[TLS13_MAX_HASH], expect[TLS13_MAX_HASH];
    if (b.len != c->v13->hash_len) return 0;
    if (hs13_binder_hash(c, ch1_hash, hrr, hrr_len, body, len, ch->binders_offset, h) != CDTLS_OK) return 0;
    if (hs13_binder(c, c->h->psk, c->h->psk_len, h, expect) != CDTLS_OK) return 0;
    int ok = cdtls_ct_equal(expect, b.p, b.len);
    cdtls_memzero(expect, sizeof expect);
    return ok;
}

/* The group for a ClientHello (both the connection and the listener's
 * stateless verifier decide with it, so that they agree): in our
 * preference order, the first group the client sent a share for, or
 * X25519MLKEM768 when the client supports it without a share (then a
 * HelloRetryRequest asks for that share, as pion v4 servers do: post-quantum
 * protection is worth the round trip, docs/pq.md); failing both, the first
 * group of ours the client supports, by HelloRetryRequest. Among classical
 * groups a share in hand wins, since a round trip would buy nothing.
 * hybrid_by_hrr 0: a share in hand wins for the hybrid too (a hello after a
 * HelloRetryRequest, which cannot get another; the listener's verifier,
 * below). 0 when there is none in common. */
static uint16_t pick_group(const uint16_t *groups, size_t ng, const hs13_client_hello *ch, int hybrid_by_hrr,
                           hs13_key_share *share, int *have_share)
{
    *have_share = 0;
    for (size_t i = 0; i < ng; i++) {
        if (hs13_client_hello_find_share(ch, groups[i], share)) {
            *have_share = 1;
            return groups[i];
        }
        if (hybrid_by_hrr && groups[i] == CDTLS_GROUP_X25519MLKEM768 &&
            hs_client_hello_offers_group(&ch->legacy, groups[i]))
            return groups[i];
    }
    /* no share to take: ask for one; without hybrid_by_hrr a classical
     * group first (its share keeps the second hello one datagram) */
    for (int pass = hybrid_by_hrr; pass < 2; pass++)
        for (size_t i = 0; i < ng; i++)
            if ((pass == 1 || groups[i] != CDTLS_GROUP_X25519MLKEM768) &&
                hs_client_hello_offers_group(&ch->legacy, groups[i]))
                return groups[i];
    return 0;
}

/* The server's choices for a ClientHello offering 1.3. */
typedef struct choice {
    int psk_idx; /* -1: certificates */
    int psk_dhe;
    cdtls_hash_alg psk_hash;
    uint16_t suite;
    uint16_t group; /* 0: psk_ke */
    int have_share;
    hs13_key_share share;
    uint16_t sig;
} choice;

static int choose(cdtls_conn *c, const hs13_client_hello *ch, int retried, choice *ch_out, int *alert)
{
    memset(ch_out, 0, sizeof *ch_out);
    *alert = ALERT_HANDSHAKE_FAILURE;
    ch_out->psk_idx = find_psk(c, ch);
    {
        uint16_t offered[64];
        size_t n = 0;
        for (size_t i = 0; i + 1 < ch->legacy.raw_suites_len && n < 64; i += 2)
            offered[n++] = (uint16_t)(ch->legacy.raw_suites[i] << 8 | ch->legacy.raw_suites[i + 1]);
        ch_out->psk_hash = hs13_psk_hash(offered, n);
        hs13_ticket_psk_hash(c, &ch_out->psk_hash); /* a ticket's: its suite's */
    }
    if (ch_out->psk_idx >= 0)
        ch_out->psk_dhe = (ch->psk_modes & (1u << HS13_PSK_DHE_KE)) && ch->has_key_share;
    if (ch_out->psk_idx >= 0 && !ch_out->psk_dhe && !(ch->psk_modes & (1u << HS13_PSK_KE)))
        ch_out->psk_idx = -1;
    if (ch_out->psk_idx < 0) {
        /* certificates: a key and a scheme the client takes */
        int rc = hs_server_select_certificate(c, &ch->legacy);
        if (rc) return rc;
        /* RFC 7250 §4.2: the certificate types, answered in EncryptedExtensions */
        rc = rpk_choose(c, &ch->legacy.ext, alert);
        if (rc) return rc;
        cdtls_key_type t;
        if (c->rpk_server_none ||
            (c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE && c->rpk_client_none)) {
            *alert = ALERT_UNSUPPORTED_CERTIFICATE;
            return CDTLS_ERR_HANDSHAKE_FAILURE;
        }
        *alert = ALERT_HANDSHAKE_FAILURE;
        if (!rpk_own_key_type(c, &t)) return CDTLS_ERR_HANDSHAKE_FAILURE;
        if (!ch->legacy.ext.has_signature_algorithms) {
            *alert = ALERT_MISSING_EXTENSION_13;
            return CDTLS_ERR_HANDSHAKE_FAILURE;
        }
        ch_out->sig = hs13_sig_choose(c, t, ch->legacy.ext.signature_algorithms,
                                      ch->legacy.ext.signature_algorithms_len);
        if (!ch_out->sig) return CDTLS_ERR_HANDSHAKE_FAILURE;
    }
    uint16_t suites[16];
    size_t ns = hs13_our_suites(c, suites, 16);
    for (size_t i = 0; i < ns && !ch_out->suite; i++) {
        cdtls_hash_alg hash;
        size_t kl;
        (void)hs13_suite_params(suites[i], &hash, &kl);
        if (ch_out->psk_idx >= 0 && hash != ch_out->psk_hash) continue;
        if (hs_client_hello_offers_suite(&ch->legacy, suites[i])) ch_out->suite = suites[i];
    }
    if (!ch_out->suite) return CDTLS_ERR_HANDSHAKE_FAILURE;
    if (ch_out->psk_idx >= 0 && !ch_out->psk_dhe) return CDTLS_OK; /* psk_ke: no group */
    /* a group of ours with a share from the client, else one it supports
     * (then a HelloRetryRequest asks for its share): pick_group */
    uint16_t groups[H13_MAX_GROUPS];
    size_t ng = hs13_our_groups(c, groups, H13_MAX_GROUPS);
    ch_out->group = pick_group(groups, ng, ch, !retried, &ch_out->share, &ch_out->have_share);
    if (!ch_out->group) return CDTLS_ERR_HANDSHAKE_FAILURE;
    /* the share we take must have its group's length (RFC 8446 §4.2.8,
     * draft-ietf-tls-ecdhe-mlkem §3: 1216 bytes for X25519MLKEM768), checked
     * before anything else is spent on this hello */
    if (ch_out->have_share) {
        const cdtls_kx_vt *kx = hs_kx_by_id(c->p, ch_out->group);
        size_t want = ch_out->group == CDTLS_GROUP_X25519MLKEM768 ? HYBRID_CLIENT_SHARE_LEN
                      : kx                                        ? kx->public_len
                                                                  : 0;
        if (ch_out->share.key_len != want) {
            *alert = ALERT_ILLEGAL_PARAMETER;
            return CDTLS_ERR_ILLEGAL_PARAMETER;
        }
    }
    return CDTLS_OK;
}

/* EncryptedExtensions: ALPN and use_srtp as chosen from the ClientHello,
 * and with certificates the certificate types (RFC 8446 §4.2's table puts
 * RFC 7250's extensions here). */
static int queue_ee(cdtls_conn *c, int certs)
{
    hs_extensions reply;
    memset(&reply, 0, sizeof reply);
    uint8_t app_ext[HS_APP_EXT_REPLY_MAX];
    int rc = hs_app_ext_reply(c, &reply, app_ext, sizeof app_ext);
    uint8_t rpk_ext[2];
    if (certs) rpk_reply(c, &reply, rpk_ext);
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    if (!rc) rc = hs13_encrypted_extensions_write(&w, &reply, 0);
    if (!rc) rc = hs13_queue(c, HS13_ENCRYPTED_EXTENSIONS, body, w.len, 2);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

static int queue_cr(cdtls_conn *c)
{
    uint16_t algs[16];
    size_t n = hs13_our_sig_algs(c, algs, 16);
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    int rc = hs13_certificate_request_write(&w, NULL, 0, algs, n);
    if (!rc) rc = hs13_queue(c, HS_CERTIFICATE_REQUEST, body, w.len, 2);
    if (!rc) c->v13->cert_requested = 1;
    return rc;
}

/* ServerHello and the rest of our flight, the keys of both epochs. */
static int send_flight(cdtls_conn *c, const hs13_client_hello *ch, const choice *k, uint64_t now_ms)
{
    conn13 *v = c->v13;
    /* sized for X25519MLKEM768: a 1120-byte share, a 64-byte secret */
    uint8_t pub[HYBRID_SERVER_SHARE_LEN], shared[HYBRID_SHARED_LEN];
    size_t shared_len = 0, pub_len = 0;
    int rc = c->p->random(c->p, c->server_random, sizeof c->server_random);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    const cdtls_kx_vt *kx = k->group ? hs_kx_by_id(c->p, k->group) : NULL;
    const int hybrid = k->group == CDTLS_GROUP_X25519MLKEM768;
    if (hybrid) {
        /* encapsulate to the client's ML-KEM key, X25519 beside it
         * (draft-ietf-tls-ecdhe-mlkem §3); a share not exactly 1216 bytes,
         * an encapsulation key failing FIPS 203's modulus check or an
         * X25519 half giving zeros is illegal_parameter */
        rc = hybrid_server_respond(c->p, k->share.key, k->share.key_len, pub, sizeof pub, &pub_len, shared,
                                   sizeof shared);
        if (rc)
            return conn_fail(
                c, rc, rc == CDTLS_ERR_ILLEGAL_PARAMETER ? ALERT_ILLEGAL_PARAMETER : ALERT_INTERNAL_ERROR);
        shared_len = HYBRID_SHARED_LEN;
    } else if (kx) {
        if (k->share.key_len != kx->public_len)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        cdtls_kx_key key;
        rc = kx->keygen(c->p, &key, pub);
        if (!rc) rc = kx->derive(&key, k->share.key, k->share.key_len, shared);
        kx->clear(&key);
        if (rc) return conn_fail(c, CDTLS_ERR_BAD_KEY, ALERT_ILLEGAL_PARAMETER);
        shared_len = kx->shared_len;
        pub_len = kx->public_len;
    }
    hs13_server_hello sh;
    memset(&sh, 0, sizeof sh);
    sh.legacy.version = DTLS_VERSION_1_2;
    memcpy(sh.legacy.random, c->server_random, 32);
    /* legacy_session_id_echo empty (RFC 9147 §5), as in hrr_write */
    sh.legacy.cipher_suite = k->suite;
    sh.has_selected_version = 1;
    sh.selected_version = CDTLS_VERSION_1_3;
    sh.has_key_share = pub_len > 0;
    sh.share.group = k->group;
    sh.share.key = pub;
    sh.share.key_len = pub_len;
    sh.has_psk = k->psk_idx >= 0;
    sh.selected_identity = (uint16_t)(k->psk_idx >= 0 ? k->psk_idx : 0);
    rc = hs13_cid_accept_offer(c, &ch->legacy.ext, &sh.legacy.ext); /* RFC 9147 §9 */
    if (rc)
        return conn_fail(c, rc,
                         rc == CDTLS_ERR_ILLEGAL_PARAMETER ? ALERT_ILLEGAL_PARAMETER : ALERT_INTERNAL_ERROR);
    conn_rrc_accept_offer(c, &ch->legacy.ext, &sh.legacy.ext); /* RFC 9853 §3, §6: in the ServerHello */
    uint8_t body[HS_BODY_MAX];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    rc = hs13_server_hello_write(&w, &sh);
    conn_flight_clear(c);
    if (!rc) rc = hs13_queue(c, HS_SERVER_HELLO, body, w.len, 0);
    if (!rc)
        rc = hs13_handshake_keys(c, k->psk_idx >= 0 ? c->h->psk : NULL, k->psk_idx >= 0 ? c->h->psk_len : 0,
                                 shared_len ? shared : NULL, shared_len);
    cdtls_memzero(shared, sizeof shared);
    if (!rc) rc = hs13_install_tx(c, 0);
    if (!rc) rc = hs13_install_rx(c, 0);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    rc = queue_ee(c, k->psk_idx < 0);
    if (rc) return rc;
    if (k->psk_idx < 0) {
        if (c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE) rc = queue_cr(c);
        if (!rc) rc = hs13_queue_certificate(c, NULL, 0, c->own_cert_rpk ? 1 : c->h->n_certs);
        if (!rc) rc = hs13_queue_certificate_verify(c, k->sig);
    }
    uint8_t vd[TLS13_MAX_HASH];
    if (!rc) rc = hs13_finished_make(c, 1, vd);
    if (!rc) rc = hs13_queue(c, HS_FINISHED, vd, v->hash_len, 2);
    /* the application keys exist once our Finished is in the transcript */
    if (!rc) rc = hs13_application_keys(c);
    if (!rc) rc = hs13_install_tx(c, 1);
    if (!rc) rc = hs13_install_rx(c, 1);
    if (!rc) rc = hs13_flight_send(c, now_ms, 1);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->psk13_used = k->psk_idx >= 0;
    if (k->psk_idx >= 0) hs13_ticket_server_used(c);
    c->kx_group = pub_len ? k->group : 0;
    v->psk_selected = k->psk_idx >= 0;
    v->group = pub_len ? k->group : 0; /* the observer's ESTABLISHED (the hybrid has no kx entry) */
    v->st = v->cert_requested ? H13_S_WAIT_CERT : H13_S_WAIT_FIN;
    v->hs_read_epoch = 2;
    c->hs = HS_S_WAIT_FINISHED; /* no 1.2 state applies any more */
    return CDTLS_OK;
}

/* From here the handshake runs as 1.3: message_seq continues from the
 * client's, reassembly expects its next message. */
static void begin(cdtls_conn *c, uint16_t msg_seq, uint64_t record_seq, uint64_t now_ms)
{
    c->send_msg_seq = msg_seq;
    hs_reasm_reset(&c->h->reasm);
    hs_reasm_set_next_seq(&c->h->reasm, (uint16_t)(msg_seq + 1));
    if (record_seq > c->write_seq[0]) c->write_seq[0] = record_seq;
    c->h->hs_started_ms = now_ms;
    c->version = CDTLS_VERSION_1_3;
}

int hs13_server_client_hello(cdtls_conn *c, uint16_t msg_seq, const uint8_t *body, size_t body_len,
                             uint64_t record_seq, uint64_t now_ms, int *is13)
{
    *is13 = 0;
    if (!hs13_server_enabled(c)) return CDTLS_OK;
    hs13_client_hello ch;
    if (hs13_client_hello_parse(body, body_len, &ch) != CDTLS_OK) return CDTLS_OK; /* the 1.2 code drops it */
    if (!hs13_client_hello_offers_version(&ch, CDTLS_VERSION_1_3)) return CDTLS_OK;
    *is13 = 1;
    c->peer_offered_13 = 1;
    /* our records continue after the client's (a stateless reply echoed
     * its number; RFC 6347 §4.2.1 as for the 1.2 cookie) */
    if (record_seq > c->write_seq[0]) c->write_seq[0] = record_seq;
    conn13 *v = c->v13;
    const int second = v && v->st == H13_S_WAIT_CH2; /* after our stateful HelloRetryRequest */

    if (!hs_client_hello_offers_null_compression(&ch.legacy) || ch.legacy.raw_compression_len != 1)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (ch.has_psk && !ch.has_psk_modes)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_MISSING_EXTENSION_13);
    /* early_data: 0-RTT is refused by leaving it out of our
     * EncryptedExtensions (RFC 8446 §4.2.10); such records fail to open */

    /* a hello answering our HelloRetryRequest (stateful, or by a cookie of
     * ours) cannot be asked again */
    const int cookie_ours = !second && ch.cookie_len && !cookie_foreign(c, &ch, now_ms);
    choice k;
    int alert;
    int rc = choose(c, &ch, second || cookie_ours, &k, &alert);
    if (rc == CDTLS_ERR_HANDSHAKE_FAILURE && !second && hs13_allows_12(c) &&
        hs13_client_hello_offers_version(&ch, CDTLS_VERSION_1_2)) {
        /* nothing to authenticate 1.3 with (a PSK-only server and a client
         * without that PSK in its hello, whose 1.2 identity comes later):
         * 1.2 is the highest version both can complete */
        *is13 = 0;
        return CDTLS_OK;
    }
    /* RFC 9147 §5.3: "If a DTLS 1.3 ClientHello is received with any other
     * value [than empty] in this field [legacy_cookie], the server MUST
     * abort the handshake with an illegal_parameter alert". Checked once
     * 1.3 is what we negotiate: a hello that also offers 1.2 and falls back
     * above is a 1.2 one. Our listener answers every 1.3 hello with a
     * HelloRetryRequest, fragmented or not (hello_verifier.c), so a client
     * only sends one after a 1.2 HelloVerifyRequest it then misapplies. */
    if (ch.legacy.cookie_len) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (rc) return conn_fail(c, rc, alert);
    v = hs13_alloc(c);
    if (!v) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);

    uint8_t ch1_hash[TLS13_MAX_HASH], hrr[H13_MAX_HRR];
    size_t hrr_len = 0;
    int after_hrr = 0;
    if (second) {
        /* the suite and group of our HelloRetryRequest stand */
        if (k.suite != v->suite || !k.have_share || k.group != v->selected_group)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        memcpy(ch1_hash, v->hh->ch1_hash, sizeof ch1_hash);
        memcpy(hrr, v->hh->hrr, v->hh->hrr_len);
        hrr_len = v->hh->hrr_len;
        after_hrr = 1;
    } else if (cookie_ours) {
        /* our stateless HelloRetryRequest came back: the cookie holds the
         * suite, the group asked for, Hash(ClientHello1) */
        const uint8_t *ck = ch.cookie;
        size_t hl = ch.cookie_len > COOKIE13_FIXED ? ck[4] : 0;
        uint16_t cs = (uint16_t)(ck[0] << 8 | ck[1]), cg = (uint16_t)(ck[2] << 8 | ck[3]);
        /* the HelloRetryRequest's suite and group stand (RFC 8446 §4.1.4);
         * a listener's verifier chose them without looking at the PSK, so
         * a suite we would not have picked is still taken when we can */
        cdtls_hash_alg cs_hash;
        size_t cs_kl;
        if (k.suite != cs && hs_client_hello_offers_suite(&ch.legacy, cs) &&
            hs13_suite_params(cs, &cs_hash, &cs_kl) && (k.psk_idx < 0 || cs_hash == k.psk_hash)) {
            uint16_t ours[16];
            size_t no = hs13_our_suites(c, ours, 16);
            for (size_t i = 0; i < no; i++)
                if (ours[i] == cs) k.suite = cs;
        }
        if (k.suite != cs || (cg && (!k.have_share || k.group != cg)))
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        memcpy(ch1_hash, ck + COOKIE13_FIXED, hl);
        rc = hrr_write(cs, cg, ch.cookie, ch.cookie_len, hrr, sizeof hrr, &hrr_len);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        c->cookie_verified = 1;
        after_hrr = 1;
    }
    hs13_set_suite(v, k.suite);
    const cdtls_hash_vt *hv = c->p->hash[v->hash];
    v->hash_len = hv->digest_len;

    const int need_cookie = c->cfg->cookie.exchange && !c->cookie_verified;
    if (!after_hrr && (need_cookie || !k.have_share) && k.group) {
        /* Hash(ClientHello1) for the transcript that restarts (§4.4.1) */
        uint8_t hdr[4] = {HS_CLIENT_HELLO, (uint8_t)(body_len >> 16), (uint8_t)(body_len >> 8),
                          (uint8_t)body_len};
        cdtls_hash_ctx hc;
        hv->init(&hc);
        hv->update(&hc, hdr, 4);
        hv->update(&hc, body, body_len);
        hv->final(&hc, ch1_hash);
        const uint16_t group = k.have_share ? 0 : k.group;
        if (need_cookie) {
            hs13_free(c); /* stateless: nothing kept (RFC 9147 §5.1) */
            rc = send_stateless_hrr(c, &ch, k.suite, group, ch1_hash, hv->digest_len, msg_seq, record_seq,
                                    now_ms);
            return rc ? conn_fail(c, rc, -1) : CDTLS_OK;
        }
        /* no cookie exchange: a HelloRetryRequest for the key share, and
         * we keep what the second ClientHello continues from */
        rc = hrr_write(k.suite, group, NULL, 0, v->hh->hrr, sizeof v->hh->hrr, &v->hh->hrr_len);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        memcpy(v->hh->ch1_hash, ch1_hash, hv->digest_len);
        v->selected_group = group;
        begin(c, msg_seq, record_seq, now_ms);
        conn_flight_clear(c);
        v->hh->th_on = 0; /* the HelloRetryRequest enters the transcript after message_hash */
        rc = hs13_queue(c, HS_SERVER_HELLO, v->hh->hrr, v->hh->hrr_len, 0);
        if (!rc) rc = hs13_transcript_after_hrr(c, ch1_hash, v->hh->hrr, v->hh->hrr_len);
        if (!rc) rc = hs13_flight_send(c, now_ms, 0);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        v->st = H13_S_WAIT_CH2;
        v->hs_read_epoch = 0;
        return CDTLS_OK;
    }
    if (k.group && !k.have_share) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (k.psk_idx >= 0 &&
        !binder_ok(c, &ch, body, body_len, k.psk_idx, ch1_hash, after_hrr ? hrr : NULL, hrr_len))
        return conn_fail(c, CDTLS_ERR_BAD_FINISHED, ALERT_DECRYPT_ERROR);
    /* ALPN and use_srtp are chosen before any key exists, so a refusal's
     * alert goes in plaintext, which the client can read */
    alert = ALERT_INTERNAL_ERROR;
    if (hs_app_ext_choose(c, &ch.legacy.ext, &alert) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_NO_APPLICATION_PROTOCOL, alert);
    memcpy(c->client_random, ch.legacy.random, sizeof c->client_random);
    begin(c, msg_seq, record_seq, now_ms);
    if (after_hrr) {
        rc = hs13_transcript_after_hrr(c, ch1_hash, hrr, hrr_len);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    } else {
        hs13_transcript_start(c);
    }
    hs13_transcript_add(c, HS_CLIENT_HELLO, body, body_len);
    hs13_ph_offered(c, ch.post_handshake_auth); /* RFC 8446 §4.2.6 */
    return send_flight(c, &ch, &k, now_ms);
}

static int on_client_certificate(cdtls_conn *c, const uint8_t *body, size_t len)
{
    size_t n = 0;
    int rc = hs13_on_certificate(c, body, len, auth_verifies(c), &n);
    if (rc) return rc;
    if (n == 0 && auth_requires(c))
        return conn_fail(c, CDTLS_ERR_CERT_UNTRUSTED, ALERT_CERTIFICATE_REQUIRED_13);
    c->v13->st = n ? H13_S_WAIT_CV : H13_S_WAIT_FIN;
    return CDTLS_OK;
}

int hs13_server_message(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint64_t now_ms)
{
    conn13 *v = c->v13;
    int rc;
    switch (v->st) {
    case H13_S_WAIT_CH2:
        if (type != HS_CLIENT_HELLO) break;
        {
            int is13 = 0;
            uint16_t seq = v->cur_msg_seq;
            rc = hs13_server_client_hello(c, seq, body, len, 0, now_ms, &is13);
            if (!rc && !is13) return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
            return rc;
        }
    case H13_S_WAIT_CERT:
        if (type != HS_CERTIFICATE) break;
        hs13_transcript_add(c, type, body, len);
        return on_client_certificate(c, body, len);
    case H13_S_WAIT_CV:
        if (type != HS_CERTIFICATE_VERIFY) break;
        rc = hs13_certificate_verify_check(c, body, len);
        if (rc) return rc;
        hs13_transcript_add(c, type, body, len);
        v->st = H13_S_WAIT_FIN;
        return CDTLS_OK;
    case H13_S_WAIT_FIN:
        if (type != HS_FINISHED) break;
        rc = hs13_finished_check(c, 0, body, len);
        if (rc) return rc;
        hs13_transcript_add(c, type, body, len);
        hs13_ph_keep_transcript(c); /* post-handshake auth (hs13_posthandshake.c) */
        (void)hs13_ticket_res_master(c);
        /* the client has our flight; its final flight gets an ACK at once
         * (RFC 9147 §7.1), resent when the client resends */
        conn_flight_clear(c);
        c->timer_at_ms = UINT64_MAX;
        hs13_drop_tx_hs(c);
        hs13_drop_rx_hs(c); /* a resent final flight is answered without it (hs13_common.c) */
        hs13_established(c);
        hs13_handshake_done(c);
        ack13_rx_due_now(&v->arx, now_ms);
        rc = hs13_send_ack(c, now_ms);
        if (!rc) hs13_ticket_server_issue(c, now_ms);
        return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
    default: break;
    }
    return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
}


int hs13_verifier_hello(const cdtls_config *cfg, const cdtls_provider *p, const cookie_keys *keys,
                        const void *addr, size_t addr_len, const uint8_t *body, size_t len, uint16_t msg_seq,
                        uint64_t record_seq, uint8_t *out, size_t cap, size_t *out_len, int *answered,
                        int *verified)
{
    *answered = *verified = 0;
    if (!hs13_cfg_server_enabled(cfg, p)) return CDTLS_OK;
    hs13_client_hello ch;
    if (hs13_client_hello_parse(body, len, &ch) != CDTLS_OK ||
        !hs13_client_hello_offers_version(&ch, CDTLS_VERSION_1_3) || ch.legacy.cookie_len)
        return CDTLS_OK;
    if (ch.cookie_len && cookie_mac_ok(p, keys, addr, addr_len, &ch)) {
        *verified = 1;
        return CDTLS_OK;
    }
    /* the suite: ours in order that the client offers; with a PSK
     * offered, first those of the PSK's hash (hs13_psk_hash) */
    uint16_t suites[16], offered[64];
    size_t ns = hs13_cfg_suites(cfg, p, suites, 16), no = 0;
    for (size_t i = 0; i + 1 < ch.legacy.raw_suites_len && no < 64; i += 2)
        offered[no++] = (uint16_t)(ch.legacy.raw_suites[i] << 8 | ch.legacy.raw_suites[i + 1]);
    const cdtls_hash_alg psk_hash = hs13_psk_hash(offered, no);
    uint16_t suite = 0;
    for (int pass = ch.has_psk ? 0 : 1; pass < 2 && !suite; pass++)
        for (size_t i = 0; i < ns && !suite; i++) {
            cdtls_hash_alg h;
            size_t kl;
            (void)hs13_suite_params(suites[i], &h, &kl);
            if (pass == 0 && h != psk_hash) continue;
            if (hs_client_hello_offers_suite(&ch.legacy, suites[i])) suite = suites[i];
        }
    if (!suite) return CDTLS_OK; /* the connection refuses it (or speaks 1.2) */
    /* the group: none when the client sent a share we take, else the one
     * to ask for (pick_group, as the connection decides after the cookie):
     * the hybrid when the client lists it, even with an X25519 share in
     * hand. Its second hello (~1.4 KB) comes in fragments, which the
     * verifier reassembles under cfg.hello_reasm (hello_reasm.c) and hands
     * out whole (docs/pq.md). */
    uint16_t groups[H13_MAX_GROUPS];
    size_t ng = hs13_cfg_groups(cfg, p, groups, H13_MAX_GROUPS);
    hs13_key_share share;
    int have_share = 0;
    uint16_t group = pick_group(groups, ng, &ch, 1, &share, &have_share);
    if (have_share) group = 0;
    cdtls_hash_alg hash;
    size_t kl;
    (void)hs13_suite_params(suite, &hash, &kl);
    const cdtls_hash_vt *hv = p->hash[hash];
    uint8_t ch_hash[TLS13_MAX_HASH];
    uint8_t hdr[4] = {HS_CLIENT_HELLO, (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    cdtls_hash_ctx hc;
    hv->init(&hc);
    hv->update(&hc, hdr, 4);
    hv->update(&hc, body, len);
    hv->final(&hc, ch_hash);
    int rc = stateless_hrr_record(p, keys, addr, addr_len, &ch, suite, group, ch_hash, hv->digest_len,
                                  msg_seq, record_seq, out, cap, out_len);
    if (!rc) *answered = 1;
    return rc;
}

#endif /* CDTLS_HAVE_DTLS13 */
