/* The DTLS 1.3 handshake, client side (RFC 9147 §5, RFC 8446 §4): our
 * ClientHello offering 1.3 (and 1.2 when allowed: the 1.2 code writes the
 * legacy fields), a HelloRetryRequest (a cookie, another group), the
 * ServerHello that selects 1.3, the server's encrypted flight, and our
 * final flight, resent until the server ACKs it. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs13_internal.h"
#include "engine/hs13_cid.h"
#include "engine/x509_use.h"

#if CDTLS_HAVE_DTLS13

#define ALERT_MISSING_EXTENSION_13 109 /* RFC 8446 §6.2 */
/* An external PSK's hash (RFC 8446 §4.2.11: SHA-256 when none is
 * provisioned): SHA-256, or SHA-384 when the client offers no SHA-256 suite
 * (so a SHA-384-only configuration can use its PSK). Both sides compute it
 * from the client's suites. */
#define PSK_HASH (v->psk_hash)

static void clear_shares(cdtls_conn *c)
{
    conn13 *v = c->v13;
    for (size_t i = 0; i < v->hh->n_kx; i++)
        if (v->hh->kx[i]) v->hh->kx[i]->clear(&v->hh->kx_key[i]);
    memset(v->hh->kx, 0, sizeof v->hh->kx);
    v->hh->n_kx = 0;
    hs13_hybrid_free(c);
}

/* An X25519MLKEM768 share (draft-ietf-tls-ecdhe-mlkem §3): ML-KEM-768 and
 * X25519 keys kept until the ServerHello (hybrid_kex.h). */
static int make_hybrid_share(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (v->hh->hyb || !hybrid_kex_available(c->p)) return CDTLS_ERR_INTERNAL;
    h13_hybrid *h = cdtls_alloc_zero(c->a, sizeof *h);
    if (!h) return CDTLS_ERR_NOMEM;
    size_t n = 0;
    int rc = hybrid_client_keygen(&h->hc, c->p, h->share, sizeof h->share, &n);
    if (rc) {
        cdtls_free_wipe(c->a, h, sizeof *h);
        return rc;
    }
    v->hh->hyb = h;
    return CDTLS_OK;
}

/* One key share (RFC 8446 §4.2.8) for group id, kept (private key and
 * public share) until the ServerHello. */
static int make_share(cdtls_conn *c, uint16_t id)
{
    conn13 *v = c->v13;
    if (id == CDTLS_GROUP_X25519MLKEM768) return make_hybrid_share(c);
    const cdtls_kx_vt *kx = hs_kx_by_id(c->p, id);
    if (!kx || v->hh->n_kx >= H13_MAX_SHARES) return CDTLS_ERR_INTERNAL;
    int rc = kx->keygen(c->p, &v->hh->kx_key[v->hh->n_kx], v->hh->kx_pub[v->hh->n_kx]);
    if (rc) return rc;
    v->hh->kx[v->hh->n_kx++] = kx;
    return CDTLS_OK;
}

/* The shares we hold, as the hello lists them: the hybrid first. */
static size_t list_shares(const conn13 *v, hs13_key_share *shares)
{
    size_t ns = 0;
    if (v->hh->hyb) {
        shares[ns].group = CDTLS_GROUP_X25519MLKEM768;
        shares[ns].key = v->hh->hyb->share;
        shares[ns++].key_len = HYBRID_CLIENT_SHARE_LEN;
    }
    for (size_t i = 0; i < v->hh->n_kx; i++, ns++) {
        shares[ns].group = v->hh->kx[i]->tls_id;
        shares[ns].key = v->hh->kx_pub[i];
        shares[ns].key_len = v->hh->kx[i]->public_len;
    }
    return ns;
}

/* The first hello's key shares (docs/pq.md): one for our first group, a
 * server wanting another asks with a HelloRetryRequest. When that group is
 * X25519MLKEM768 (1216 bytes), the first hello is kept to one datagram at
 * our MTU, because servers that answer a first hello statelessly may
 * refuse it fragmented (wolfSSL 5.9 does, even built to take fragmented
 * hellos after the cookie): both shares (the hybrid and the next, classical
 * group's) when they fit, else the hybrid's alone when it fits, else the
 * classical one alone. The hybrid still leads supported_groups, so a server
 * preferring it asks for its share, and one doing the cookie exchange asks
 * in the same HelloRetryRequest: no round trip more. in is the hello
 * without shares; scratch (cap bytes) takes a trial write, whose share
 * bytes are placeholders: only the lengths count. */
static int first_shares(cdtls_conn *c, hs13_client_hello_params *in, const uint16_t *groups, size_t n_groups,
                        uint8_t *scratch, size_t cap)
{
    if (groups[0] != CDTLS_GROUP_X25519MLKEM768) return make_share(c, groups[0]);
    uint16_t next = 0;
    for (size_t i = 1; i < n_groups && !next; i++)
        if (groups[i] != CDTLS_GROUP_X25519MLKEM768) next = groups[i];
    const cdtls_kx_vt *kx2 = next ? hs_kx_by_id(c->p, next) : NULL;
    if (!kx2) return make_share(c, CDTLS_GROUP_X25519MLKEM768); /* the hybrid is all we have */
    static const uint8_t placeholder[HYBRID_CLIENT_SHARE_LEN];
    hs13_key_share trial[2] = {{CDTLS_GROUP_X25519MLKEM768, placeholder, HYBRID_CLIENT_SHARE_LEN},
                               {next, placeholder, kx2->public_len}};
    in->shares = trial;
    in->n_shares = 2;
    cdtls_writer w;
    writer_init(&w, scratch, cap);
    int rc = hs13_client_hello_write(&w, in, NULL);
    in->shares = NULL;
    in->n_shares = 0;
    if (rc) return rc;
    const size_t both = DTLS_RECORD_HEADER_LEN + DTLS_HS_HEADER_LEN + w.len;
    const size_t hybrid_only = both - 4u - kx2->public_len;
    if (hybrid_only > c->mtu) return make_share(c, next);
    rc = make_share(c, CDTLS_GROUP_X25519MLKEM768);
    if (!rc && both <= c->mtu) rc = make_share(c, next);
    return rc;
}

/* The client's PSK (RFC 8446 §4.2.11, external): the configured one, or the
 * callback's (there is no identity hint in 1.3: it gets an empty one). */
static int client_psk(cdtls_conn *c)
{
    if (c->cfg->callbacks.psk && !c->h->psk_len) {
        size_t id_len = 0, psk_len = 0;
        int rc = c->cfg->callbacks.psk(c->cfg->callbacks.user, NULL, 0, c->psk_identity,
                                       sizeof c->psk_identity, &id_len, c->h->psk, sizeof c->h->psk,
                                       &psk_len);
        if (rc || id_len > sizeof c->psk_identity || psk_len > sizeof c->h->psk) return 0;
        c->psk_identity_len = id_len;
        c->h->psk_len = psk_len;
    }
    return c->h->psk_len > 0 && c->psk_identity_len > 0;
}

int hs13_client_hello_build(cdtls_conn *c, hs_client_hello *ch, uint8_t *body, size_t cap, size_t *len)
{
    conn13 *v = hs13_alloc(c);
    if (!v) return CDTLS_ERR_NOMEM;
    v->offered = 1;
    v->st = H13_C_WAIT_SH;
    /* 1.3 suites first, then the 1.2 ones when 1.2 is allowed */
    uint16_t suites[16 + 64];
    size_t n = hs13_our_suites(c, suites, 16);
    if (hs13_allows_12(c))
        for (size_t i = 0; i < ch->n_suites && n < sizeof suites / sizeof suites[0]; i++)
            suites[n++] = ch->suites[i];
    hs13_client_hello_params in;
    memset(&in, 0, sizeof in);
    in.legacy = *ch;
    in.legacy.version = DTLS_VERSION_1_2; /* RFC 9147 §5.3 legacy_version */
    in.legacy.suites = suites;
    in.legacy.n_suites = n;
    uint16_t groups[H13_MAX_GROUPS];
    size_t n_groups = hs13_our_groups(c, groups, H13_MAX_GROUPS);
    in.legacy.groups = groups;
    in.legacy.n_groups = n_groups;
    in.legacy.ext.ec_point_formats = ch->ext.ec_point_formats && ch->n_groups;
    uint16_t sig_algs[16];
    if (!ch->n_sig_algs) {
        in.legacy.sig_algs = sig_algs;
        in.legacy.n_sig_algs = hs13_our_sig_algs(c, sig_algs, 16);
    }
    /* RFC 9147 §5.3: a 1.3-only client leaves legacy_cookie empty */
    if (!hs13_allows_12(c)) in.legacy.cookie_len = 0;
    uint16_t versions[2] = {CDTLS_VERSION_1_3, CDTLS_VERSION_1_2};
    in.versions = versions;
    in.n_versions = hs13_allows_12(c) ? 2 : 1;
    /* RFC 8446 §4.2.6: the server may ask for our certificate later */
    in.post_handshake_auth = c->cfg->verify.post_handshake_auth != 0;
    hs13_ph_offered(c, in.post_handshake_auth);

    /* key shares: made for the first hello (first_shares), kept over
     * retransmissions and a HelloVerifyRequest, replaced after a
     * HelloRetryRequest; listed below once the rest of the hello is known */
    hs13_key_share shares[H13_MAX_SHARES + 1];
    const int first = v->hh->n_kx == 0 && !v->hh->hyb && n_groups && !v->hrr_seen;
    in.send_key_share = n_groups > 0;
    in.cookie = v->hh->cookie;
    in.cookie_len = v->hh->cookie_len;

    /* external PSK: SHA-256, so not after a HelloRetryRequest that chose a
     * SHA-384 suite (RFC 8446 §4.1.4) */
    {
        uint16_t s13[16];
        size_t n13 = hs13_our_suites(c, s13, 16);
        v->psk_hash = hs13_psk_hash(s13, n13);
    }
    const int ext = client_psk(c) && (!v->hrr_seen || v->hash == PSK_HASH);
    /* resumption (hs13_ticket.c): our ticket first, the external PSK after
     * it (so a refused ticket still leaves the PSK), when both share a hash */
    hs13_psk_identity ids[2];
    hs13_bytes binders[2];
    size_t n_psk = 0;
    cdtls_hash_alg ticket_hash = v->psk_hash;
    v->ticket_offered = hs13_ticket_client_offer(c, &ids[0], &ticket_hash) &&
                        (!ext || ticket_hash == PSK_HASH);
    if (v->ticket_offered) {
        v->psk_hash = ticket_hash;
        n_psk = 1;
    }
    if (ext) {
        ids[n_psk].identity = c->psk_identity;
        ids[n_psk].identity_len = c->psk_identity_len;
        ids[n_psk++].obfuscated_ticket_age = 0; /* external: 0 (RFC 8446 §4.2.11) */
    }
    v->psk_offered = (int)n_psk;
    const size_t binder_len = c->p->hash[v->psk_hash] ? c->p->hash[v->psk_hash]->digest_len : 32;
    for (size_t i = 0; i < n_psk; i++) binders[i].p = NULL, binders[i].len = binder_len;
    if (v->psk_offered) {
        /* psk_dhe_ke when we have groups, psk_ke (no forward secrecy) when
         * configured without any */
        v->psk_modes = n_groups ? (1u << HS13_PSK_DHE_KE) : (1u << HS13_PSK_KE);
        in.psk_modes = v->psk_modes;
        in.identities = ids;
        in.binders = binders;
        in.n_psks = n_psk;
    } else if (n_groups && hs13_ticket_wanted(c)) {
        in.psk_modes = 1u << HS13_PSK_DHE_KE; /* tickets wanted (RFC 8446 §4.2.9) */
    }
    if (first) {
        int rc = first_shares(c, &in, groups, n_groups, body, cap);
        if (rc) return rc;
    }
    in.shares = shares;
    in.n_shares = list_shares(v, shares);
    cdtls_writer w;
    writer_init(&w, body, cap);
    size_t binders_offset = 0;
    int rc = hs13_client_hello_write(&w, &in, &binders_offset);
    if (rc) return rc;
    *len = w.len;
    if (v->psk_offered) {
        uint8_t h[TLS13_MAX_HASH], b[2][TLS13_MAX_HASH];
        hs13_bytes bb[2];
        const cdtls_hash_alg keep = v->hash;
        v->hash = PSK_HASH;
        rc = hs13_binder_hash(c, v->hh->ch1_hash, v->hrr_seen ? v->hh->hrr : NULL, v->hh->hrr_len, body,
                              w.len, binders_offset, h);
        for (size_t i = 0; i < n_psk && !rc; i++) {
            v->psk_resumption = v->ticket_offered && i == 0; /* "res binder" / "ext binder" */
            size_t psk_len = 0;
            const uint8_t *psk = hs13_offered_psk(c, &psk_len);
            rc = hs13_binder(c, psk, psk_len, h, b[i]);
            bb[i].p = b[i], bb[i].len = binder_len;
        }
        v->psk_resumption = 0;
        v->hash = keep;
        if (!rc) rc = hs13_client_hello_set_binders(body, w.len, binders_offset, bb, n_psk);
        cdtls_memzero(b, sizeof b);
        if (rc) return rc;
    }
    if (v->hrr_seen) {
        hs13_transcript_add(c, HS_CLIENT_HELLO, body, w.len);
        return CDTLS_OK;
    }
    /* the first ClientHello is hashed once the suite is known */
    if (v->hh->ch_cap < w.len) {
        if (v->hh->ch) cdtls_free_wipe(c->a, v->hh->ch, v->hh->ch_cap);
        v->hh->ch = c->a->alloc(c->a->ctx, w.len);
        v->hh->ch_cap = v->hh->ch ? w.len : 0;
        if (!v->hh->ch) return CDTLS_ERR_NOMEM;
    }
    memcpy(v->hh->ch, body, w.len);
    v->hh->ch_len = w.len;
    return CDTLS_OK;
}

static int offered_suite(const cdtls_conn *c, uint16_t suite)
{
    uint16_t ours[16];
    size_t n = hs13_our_suites(c, ours, 16);
    for (size_t i = 0; i < n; i++)
        if (ours[i] == suite) return 1;
    return 0;
}

/* What a ServerHello and a HelloRetryRequest share (RFC 8446 §4.1.3-4):
 * a suite we offered, the legacy fields, no extension we did not offer. */
static int check_common(cdtls_conn *c, const hs13_server_hello *sh)
{
    if (!offered_suite(c, sh->legacy.cipher_suite) || sh->legacy.compression_method != 0)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    /* the 1.2 parser counts the 1.3 extensions as unknown: anything else
     * is one we did not offer (RFC 8446 §4.1.4) */
    unsigned known13 = (unsigned)(sh->has_selected_version + sh->has_key_share + sh->has_psk +
                                  (sh->cookie_len > 0));
    if (sh->legacy.ext.n_unknown != known13)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    if (sh->selected_version != CDTLS_VERSION_1_3)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    return CDTLS_OK;
}

static int on_hrr(cdtls_conn *c, const hs13_server_hello *sh, const uint8_t *body, size_t len,
                  uint64_t now_ms)
{
    conn13 *v = c->v13;
    /* RFC 8446 §4.1.4: a second HelloRetryRequest ends the handshake */
    if (v->hrr_seen) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    int rc = check_common(c, sh);
    if (rc) return rc;
    /* it must change something: a group we support and did not share, or a cookie */
    if (sh->has_psk || (!sh->has_key_share && !sh->cookie_len))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (sh->has_key_share) {
        uint16_t groups[H13_MAX_GROUPS];
        size_t ng = hs13_our_groups(c, groups, H13_MAX_GROUPS), ok = 0;
        for (size_t i = 0; i < ng; i++) ok |= groups[i] == sh->selected_group;
        for (size_t i = 0; i < v->hh->n_kx; i++)
            if (v->hh->kx[i]->tls_id == sh->selected_group) ok = 0;
        /* the hybrid too: asked for although we sent its share */
        if (v->hh->hyb && sh->selected_group == CDTLS_GROUP_X25519MLKEM768) ok = 0;
        if (!ok) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    }
    if (len > sizeof v->hh->hrr || sh->cookie_len > sizeof v->hh->cookie || !v->hh->ch)
        return conn_fail(c, CDTLS_ERR_LIMIT, ALERT_ILLEGAL_PARAMETER);
    hs13_set_suite(v, sh->legacy.cipher_suite);
    /* transcript: message_hash(ClientHello1), HelloRetryRequest (§4.4.1) */
    uint8_t hdr[4] = {HS_CLIENT_HELLO, (uint8_t)(v->hh->ch_len >> 16), (uint8_t)(v->hh->ch_len >> 8),
                      (uint8_t)v->hh->ch_len};
    const cdtls_hash_vt *hv = c->p->hash[v->hash];
    cdtls_hash_ctx hc;
    hv->init(&hc);
    hv->update(&hc, hdr, 4);
    hv->update(&hc, v->hh->ch, v->hh->ch_len);
    hv->final(&hc, v->hh->ch1_hash);
    memcpy(v->hh->hrr, body, len);
    v->hh->hrr_len = len;
    rc = hs13_transcript_after_hrr(c, v->hh->ch1_hash, body, len);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    if (sh->cookie_len) memcpy(v->hh->cookie, sh->cookie, sh->cookie_len);
    v->hh->cookie_len = sh->cookie_len;
    if (sh->has_key_share) {
        clear_shares(c);
        rc = make_share(c, sh->selected_group);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    }
    v->hrr_seen = 1;
    c->version = CDTLS_VERSION_1_3; /* the HelloRetryRequest selected it (§4.1.4) */
    v->st = H13_C_WAIT_SH;
    v->hs_read_epoch = 0;
    rc = hs_client_send_hello(c, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

static int on_sh(cdtls_conn *c, const hs13_server_hello *sh, const uint8_t *body, size_t len)
{
    conn13 *v = c->v13;
    int rc = check_common(c, sh);
    if (rc) return rc;
    if (v->hrr_seen && sh->legacy.cipher_suite != v->suite)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    hs13_set_suite(v, sh->legacy.cipher_suite);
    rc = hs13_cid_accept_reply(c, &sh->legacy.ext); /* RFC 9147 §9 */
    if (rc) return rc;
    int rrc_alert = ALERT_INTERNAL_ERROR;
    rc = conn_rrc_accept_reply(c, &sh->legacy.ext, &rrc_alert); /* RFC 9853 §3, §6: in the ServerHello */
    if (rc) return conn_fail(c, rc, rrc_alert);
    /* PSK: our single identity, in a mode we offered */
    v->psk_selected = 0;
    if (sh->has_psk) {
        if (!v->psk_offered || sh->selected_identity >= (unsigned)v->psk_offered || v->hash != PSK_HASH)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        v->psk_selected = 1;
        v->psk_resumption = v->ticket_offered && sh->selected_identity == 0;
        c->resumed = v->psk_resumption; /* our ticket was accepted */
    }
    /* an X25519MLKEM768 secret is 64 bytes, more than any classical one */
    uint8_t shared[HYBRID_SHARED_LEN > CDTLS_KX_MAX_SHARED ? HYBRID_SHARED_LEN : CDTLS_KX_MAX_SHARED];
    size_t shared_len = 0;
    if (sh->has_key_share && sh->share.group == CDTLS_GROUP_X25519MLKEM768 && v->hh->hyb) {
        /* decapsulate and X25519 (draft-ietf-tls-ecdhe-mlkem §3): a share
         * not exactly 1120 bytes or an X25519 half giving zeros is
         * illegal_parameter; a changed ciphertext is not detected here
         * (implicit rejection) but at the server's Finished */
        rc = hybrid_client_finish(&v->hh->hyb->hc, sh->share.key, sh->share.key_len, shared, sizeof shared);
        if (rc) {
            cdtls_memzero(shared, sizeof shared);
            return conn_fail(
                c, rc, rc == CDTLS_ERR_ILLEGAL_PARAMETER ? ALERT_ILLEGAL_PARAMETER : ALERT_INTERNAL_ERROR);
        }
        shared_len = HYBRID_SHARED_LEN;
        c->kx_group = CDTLS_GROUP_X25519MLKEM768;
    } else if (sh->has_key_share) {
        const cdtls_kx_vt *kx = NULL;
        size_t k = 0;
        for (size_t i = 0; i < v->hh->n_kx; i++)
            if (v->hh->kx[i]->tls_id == sh->share.group) kx = v->hh->kx[i], k = i;
        if (!kx || sh->share.key_len != kx->public_len)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        rc = kx->derive(&v->hh->kx_key[k], sh->share.key, sh->share.key_len, shared);
        if (rc) return conn_fail(c, CDTLS_ERR_BAD_KEY, ALERT_ILLEGAL_PARAMETER);
        shared_len = kx->shared_len;
        c->kx_group = kx->tls_id;
    } else if (!v->psk_selected || !(v->psk_modes & (1u << HS13_PSK_KE))) {
        /* RFC 8446 §9.2: without a PSK (or psk_ke) a key share is mandatory */
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_MISSING_EXTENSION_13);
    }
    clear_shares(c);
    if (!v->hrr_seen) {
        hs13_transcript_start(c);
        hs13_transcript_add(c, HS_CLIENT_HELLO, v->hh->ch, v->hh->ch_len);
    }
    hs13_transcript_add(c, HS_SERVER_HELLO, body, len);
    if (v->hh->ch) {
        cdtls_free_wipe(c->a, v->hh->ch, v->hh->ch_cap);
        v->hh->ch = NULL;
        v->hh->ch_cap = v->hh->ch_len = 0;
    }
    memcpy(c->server_random, sh->legacy.random, sizeof c->server_random);
    size_t psk_len = 0;
    const uint8_t *psk = v->psk_selected ? hs13_offered_psk(c, &psk_len) : NULL;
    rc = hs13_handshake_keys(c, psk, psk_len, shared_len ? shared : NULL, shared_len);
    cdtls_memzero(shared, sizeof shared);
    if (!rc) rc = hs13_install_rx(c, 0);
    if (!rc) rc = hs13_install_tx(c, 0);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    c->version = CDTLS_VERSION_1_3;
    v->group = sh->has_key_share ? sh->share.group : 0; /* the observer's ESTABLISHED */
    v->st = H13_C_WAIT_EE;
    v->hs_read_epoch = 2;
    /* the ServerHello acknowledges our ClientHello (RFC 9147 §7.1): the
     * rest of the server's flight comes by its timer and our ACKs */
    conn_flight_clear(c);
    c->timer_at_ms = UINT64_MAX;
    return CDTLS_OK;
}

int hs13_client_on_server_hello(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms, int *is13)
{
    conn13 *v = c->v13;
    *is13 = 0;
    if (!v || !v->offered) return CDTLS_OK;
    hs13_server_hello sh;
    if (hs13_server_hello_parse(body, len, &sh) == CDTLS_OK && (sh.has_selected_version || sh.is_hrr)) {
        *is13 = 1;
        if (!sh.has_selected_version)
            return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
        return sh.is_hrr ? on_hrr(c, &sh, body, len, now_ms) : on_sh(c, &sh, body, len);
    }
    /* DTLS 1.2: only if we allow it; the downgrade sentinel is checked
     * by the 1.2 code once the hello is parsed */
    if (!hs13_allows_12(c)) {
        *is13 = 1;
        return conn_fail(c, CDTLS_ERR_PROTOCOL_VERSION, ALERT_PROTOCOL_VERSION);
    }
    return CDTLS_OK;
}

static int on_ee(cdtls_conn *c, const uint8_t *body, size_t len)
{
    conn13 *v = c->v13;
    hs13_encrypted_extensions ee;
    if (hs13_encrypted_extensions_parse(body, len, &ee) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    if (ee.shared.n_unknown > (unsigned)(ee.early_data != 0) || ee.early_data || ee.shared.has_cid ||
        ee.shared.has_rrc)
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
    int alert = ALERT_INTERNAL_ERROR;
    int rc = hs_app_ext_accept(c, &ee.shared, &alert); /* ALPN, use_srtp */
    /* RFC 7250 §4.2: the certificate types, here in 1.3 (RFC 8446 §4.2);
     * none with a PSK, where no certificate follows */
    if (!rc && v->psk_selected && (ee.shared.server_cert_type_len || ee.shared.client_cert_type_len)) {
        alert = ALERT_UNSUPPORTED_EXTENSION;
        rc = CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    if (!rc) rc = rpk_accept(c, &ee.shared, &alert);
    if (rc) return conn_fail(c, rc, alert);
    v->st = v->psk_selected ? H13_C_WAIT_FIN : H13_C_WAIT_CERT_CR;
    return CDTLS_OK;
}

static int on_cr(cdtls_conn *c, const uint8_t *body, size_t len)
{
    conn13 *v = c->v13;
    hs13_certificate_request cr;
    if (hs13_certificate_request_parse(body, len, &cr) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    /* RFC 8446 §4.3.2: empty in the handshake */
    if (cr.context_len) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    v->cert_requested = 1;
    v->client_sig = 0;
    cdtls_key_type t;
    if (rpk_own_key_type(c, &t)) v->client_sig = hs13_sig_choose(c, t, cr.sig_algs, cr.sig_algs_len);
    v->st = H13_C_WAIT_CERT;
    return CDTLS_OK;
}

static int on_cert(cdtls_conn *c, const uint8_t *body, size_t len)
{
    size_t n = 0;
    int rc = hs13_on_certificate(c, body, len, 1, &n);
    if (rc) return rc;
    if (n == 0) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR); /* §4.4.2.4 */
    c->v13->st = H13_C_WAIT_CV;
    return CDTLS_OK;
}

/* The server's Finished: the application keys, then our final flight:
 * [Certificate, CertificateVerify,] Finished under epoch 2, resent until
 * ACKed (RFC 9147 §5.8.3); from here we write under epoch 3. */
static int on_fin(cdtls_conn *c, uint64_t now_ms)
{
    conn13 *v = c->v13;
    int rc = hs13_application_keys(c);
    if (!rc) rc = hs13_install_rx(c, 1);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    conn_flight_clear(c);
    if (v->cert_requested) {
        rc = hs13_queue_certificate(c, v->hh->cr_context, v->hh->cr_context_len,
                                    v->client_sig ? (c->own_cert_rpk ? 1 : c->h->n_certs) : 0);
        if (!rc && v->client_sig) rc = hs13_queue_certificate_verify(c, v->client_sig);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    }
    uint8_t vd[TLS13_MAX_HASH];
    rc = hs13_finished_make(c, 0, vd);
    if (!rc) rc = hs13_queue(c, HS_FINISHED, vd, v->hash_len, 2);
    if (!rc) hs13_ph_keep_transcript(c); /* post-handshake auth (hs13_posthandshake.c) */
    if (!rc) rc = hs13_ticket_res_master(c);
    if (!rc) rc = hs13_install_tx(c, 1);
    if (!rc) rc = hs13_flight_send(c, now_ms, 1);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    v->final_pending = 1;
    c->psk13_used = v->psk_selected;
    hs13_established(c);
    return CDTLS_OK;
}

int hs13_client_message(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint64_t now_ms)
{
    conn13 *v = c->v13;
    int rc;
    switch (v->st) {
    case H13_C_WAIT_SH:
        if (type != HS_SERVER_HELLO) break;
        {
            hs13_server_hello sh;
            if (hs13_server_hello_parse(body, len, &sh) != CDTLS_OK)
                return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
            if (sh.is_hrr) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
            if (!sh.has_selected_version)
                return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
            return on_sh(c, &sh, body, len);
        }
    case H13_C_WAIT_EE:
        if (type != HS13_ENCRYPTED_EXTENSIONS) break;
        hs13_transcript_add(c, type, body, len);
        return on_ee(c, body, len);
    case H13_C_WAIT_CERT_CR:
        if (type == HS_CERTIFICATE_REQUEST) {
            hs13_transcript_add(c, type, body, len);
            return on_cr(c, body, len);
        }
        /* fall through */
    case H13_C_WAIT_CERT:
        if (type != HS_CERTIFICATE) break;
        hs13_transcript_add(c, type, body, len);
        return on_cert(c, body, len);
    case H13_C_WAIT_CV:
        if (type != HS_CERTIFICATE_VERIFY) break;
        rc = hs13_certificate_verify_check(c, body, len);
        if (rc) return rc;
        hs13_transcript_add(c, type, body, len);
        v->st = H13_C_WAIT_FIN;
        return CDTLS_OK;
    case H13_C_WAIT_FIN:
        if (type != HS_FINISHED) break;
        rc = hs13_finished_check(c, 1, body, len);
        if (rc) return rc;
        hs13_transcript_add(c, type, body, len);
        return on_fin(c, now_ms);
    default: break;
    }
    return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
}

#endif /* CDTLS_HAVE_DTLS13 */
