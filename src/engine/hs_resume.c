/* Session resumption (RFC 5246 §7.3, RFC 6347 §4.2.4 figure 2), by session
 * ID from the application's store and by session ticket (RFC 5077):
 * finding the session to offer or to resume, keeping the sessions that
 * handshakes make, and forgetting those that failed. The abbreviated
 * flights themselves are in hs_client.c and hs_server.c, the ticket format in ticket.c.
 * RFC 7627 §5.3: a session resumes only with the same use of the extended
 * master secret it was made with.
 *
 * The session being offered or resumed, and a ticket the server sends, are
 * kept in c->sess (allocated: a cdtls_session is 1.4 KB, and most
 * connections never need one), wiped and freed once the handshake ends. */
#include <string.h>

#include "common/mem.h"
#include "engine/conn_internal.h"

static cdtls_session *sess_get(cdtls_conn *c)
{
    if (!c->sess) {
        c->sess = c->a->alloc(c->a->ctx, sizeof *c->sess);
        if (c->sess) memset(c->sess, 0, sizeof *c->sess);
    }
    return c->sess;
}

void resume_release(cdtls_conn *c)
{
    if (c->sess) cdtls_free_wipe(c->a, c->sess, sizeof *c->sess);
    c->sess = NULL;
    c->have_offer = 0;
}

/* A client's key: the server's name, else the peer address it was given. */
static int client_key(const cdtls_conn *c, const uint8_t **key, size_t *len)
{
    if (c->cfg->server_name && *c->cfg->server_name) {
        *key = (const uint8_t *)c->cfg->server_name;
        *len = strlen(c->cfg->server_name);
    } else {
        *key = c->peer_addr;
        *len = c->peer_addr_len;
    }
    return *len > 0 && *len <= CDTLS_SESSION_KEY_MAX;
}

static int fresh(const cdtls_conn *c, const cdtls_session *s, uint64_t now_ms)
{
    uint64_t life = c->cfg->resumption.lifetime_ms;
    /* RFC 5077 §3.3: the client keeps a ticket no longer than its hint */
    if (c->role == CDTLS_CLIENT && s->ticket_len && s->ticket_lifetime_s &&
        (uint64_t)s->ticket_lifetime_s * 1000u < life)
        life = (uint64_t)s->ticket_lifetime_s * 1000u;
    return now_ms >= s->created_ms && now_ms - s->created_ms <= life;
}

static int sha256_of(const cdtls_conn *c, const void *a, size_t a_len, const void *b, size_t b_len,
                     const void *d, size_t d_len, uint8_t out[32])
{
    const cdtls_hash_vt *h = c->p->hash[CDTLS_HASH_SHA256];
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    cdtls_hash_ctx ctx;
    h->init(&ctx);
    h->update(&ctx, a, a_len);
    h->update(&ctx, b, b_len);
    h->update(&ctx, d, d_len);
    h->final(&ctx, out);
    cdtls_memzero(&ctx, sizeof ctx);
    return CDTLS_OK;
}

/* The server remembers which name the client asked for, to bind its
 * sessions to it (RFC 6066 §3: "MUST NOT accept the request to resume the
 * session if the server_name extension contains a different name"). */
int resume_note_server_name(cdtls_conn *c, const uint8_t *name, size_t len)
{
    static const char label[] = "cdtls server name";
    return sha256_of(c, label, sizeof label - 1, name ? (const void *)name : "", name ? len : 0, "", 0,
                     c->sni_hash);
}

/* SHA-256("cdtls psk binder" || master_secret || psk): ties a session to
 * the key it was made with, without keeping the key itself (or a plain
 * hash of it, which a weak PSK would not survive) in the store. */
static int psk_binder(const cdtls_conn *c, const uint8_t *master, const uint8_t *psk, size_t psk_len,
                      uint8_t out[32])
{
    static const char label[] = "cdtls psk binder";
    return sha256_of(c, label, sizeof label - 1, master, KS_MASTER_LEN, psk, psk_len, out);
}

/* Is the session's PSK still the one we have for its identity? (Server:
 * looked up again, as in a full handshake; client: its configured key.) */
static int psk_still_valid(cdtls_conn *c, const cdtls_session *s)
{
    if (c->role == CDTLS_SERVER) {
        if (conn_server_lookup_psk(c, s->psk_identity, s->psk_identity_len) != CDTLS_OK) return 0;
    } else if (c->cfg->callbacks.psk) {
        return 1; /* the callback needs the server's hint, which comes later */
    }
    uint8_t b[32];
    int ok = c->h->psk_len > 0 && psk_binder(c, s->master_secret, c->h->psk, c->h->psk_len, b) == CDTLS_OK &&
             cdtls_ct_equal(b, s->psk_binder, sizeof b);
    cdtls_memzero(b, sizeof b);
    return ok;
}

static int ems_matches(const cdtls_conn *c, const cdtls_session *s, int offered_ems)
{
    return s->ems ? offered_ems && c->cfg->negotiate.ems != CDTLS_EMS_DISABLE
                  : !offered_ems && c->cfg->negotiate.ems != CDTLS_EMS_REQUIRE;
}

void resume_client_lookup(cdtls_conn *c, const uint16_t *offered, size_t n_offered, uint64_t now_ms)
{
    if (c->offer_looked_up) return; /* the same offer after a HelloVerifyRequest */
    c->offer_looked_up = 1;
    const cdtls_session_store *st = c->cfg->resumption.store;
    const uint8_t *key;
    size_t len;
    if (!st || !st->get || !client_key(c, &key, &len)) return;
    cdtls_session *s = sess_get(c);
    if (!s) return; /* resumption is an optimisation: a full handshake then */
    if (st->get(st->ctx, key, len, s) != CDTLS_OK) {
        resume_release(c);
        return;
    }
    int suite_ok = 0;
    for (size_t i = 0; i < n_offered; i++) suite_ok |= offered[i] == s->cipher_suite;
    /* the client offers EMS unless disabled */
    int ems_ok = ems_matches(c, s, c->cfg->negotiate.ems != CDTLS_EMS_DISABLE);
    int has_handle = (s->id_len > 0 && s->id_len <= sizeof s->id) ||
                     (s->ticket_len > 0 && s->ticket_len <= sizeof s->ticket && c->cfg->resumption.tickets);
    const suite_info *suite = suite_find(s->cipher_suite);
    /* a DTLS 1.3 session (hs13_ticket.c) is offered only as a 1.3 PSK */
    if (s->version == CDTLS_VERSION_1_3 || !suite_ok || !ems_ok || !has_handle || !fresh(c, s, now_ms) ||
        !suite || s->psk_identity_len > sizeof s->psk_identity ||
        (suite_uses_psk(suite) && !psk_still_valid(c, s))) {
        resume_release(c);
        return;
    }
    if (!c->cfg->resumption.tickets) s->ticket_len = 0;
    if (s->ticket_len) {
        /* RFC 5077 §3.4: a session ID of our own with the ticket, which the
         * server echoes if it accepts the ticket */
        if (c->p->random(c->p, s->id, sizeof s->id) != CDTLS_OK) {
            resume_release(c);
            return;
        }
        s->id_len = sizeof s->id;
    }
    c->have_offer = 1;
}

/* The offer as the ClientHello carries it. */
void resume_client_offer(const cdtls_conn *c, hs_client_hello *ch)
{
    if (c->have_offer) {
        ch->session_id = c->sess->id;
        ch->session_id_len = c->sess->id_len;
    }
    if (c->cfg->resumption.tickets) { /* RFC 5077 §3.2: empty = "send me one" */
        ch->ext.session_ticket = 1;
        ch->ext.ticket = c->have_offer ? c->sess->ticket : NULL;
        ch->ext.ticket_len = c->have_offer ? c->sess->ticket_len : 0;
    }
}

int resume_client_accepted(const cdtls_conn *c, const hs_server_hello *sh)
{
    return c->have_offer && sh->session_id_len == c->sess->id_len &&
           memcmp(sh->session_id, c->sess->id, sh->session_id_len) == 0;
}

/* Can the server resume s for this ClientHello? */
static int server_acceptable(cdtls_conn *c, const hs_client_hello *ch, const cdtls_session *s,
                             uint64_t now_ms)
{
    int ok = s->version != CDTLS_VERSION_1_3 && fresh(c, s, now_ms) &&
             hs_client_hello_offers_suite(ch, s->cipher_suite) &&
             cdtls_cipher_suite_supported(c->p, s->cipher_suite) && suite_find(s->cipher_suite) &&
             ems_matches(c, s, ch->ext.ems) && s->psk_identity_len <= sizeof s->psk_identity &&
             memcmp(s->server_name_hash, c->sni_hash, sizeof c->sni_hash) == 0;
    if (ok && c->cfg->negotiate.cipher_suites) { /* and still one we allow */
        int allowed = 0;
        for (size_t i = 0; i < c->cfg->negotiate.n_cipher_suites; i++)
            allowed |= c->cfg->negotiate.cipher_suites[i] == s->cipher_suite;
        ok = allowed;
    }
    if (ok && suite_uses_psk(suite_find(s->cipher_suite)) && !psk_still_valid(c, s)) ok = 0;
    /* no certificate session while we ask for client certificates (see
     * server_may_resume in hs_server.c) */
    if (ok && !suite_uses_psk(suite_find(s->cipher_suite)) &&
        c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE)
        ok = 0;
    return ok;
}

int resume_server_lookup(cdtls_conn *c, const hs_client_hello *ch, uint64_t now_ms)
{
    /* RFC 5077 §3.4: a ticket is tried first; the client's session ID is
     * then only what we echo. An empty ID gives no way to say we accept
     * (the client would have to guess from the next message), so such a
     * ticket gets a full handshake and a new ticket. */
    if (c->cfg->resumption.ticket_keys && ch->ext.session_ticket && ch->ext.ticket_len &&
        ch->session_id_len) {
        cdtls_session *s = sess_get(c);
        int old_key = 0;
        if (s &&
            ticket_open(c->cfg->resumption.ticket_keys, ch->ext.ticket, ch->ext.ticket_len, now_ms, s,
                        &old_key) == CDTLS_OK &&
            server_acceptable(c, ch, s, now_ms)) {
            memcpy(s->id, ch->session_id, ch->session_id_len);
            s->id_len = ch->session_id_len;
            c->resumed_by_ticket = 1;
            /* a ticket under a retired key is replaced (RFC 5077 §3.3) */
            c->issue_ticket = old_key;
            return 1;
        }
        resume_release(c);
    }
    const cdtls_session_store *st = c->cfg->resumption.store;
    if (!st || !st->get || ch->session_id_len == 0) return 0;
    cdtls_session *s = sess_get(c);
    if (!s) return 0;
    if (st->get(st->ctx, ch->session_id, ch->session_id_len, s) == CDTLS_OK &&
        s->id_len == ch->session_id_len && memcmp(s->id, ch->session_id, s->id_len) == 0 &&
        server_acceptable(c, ch, s, now_ms))
        return 1;
    resume_release(c);
    return 0;
}

/* The resumed session's state, into the connection. */
void resume_restore(cdtls_conn *c)
{
    const cdtls_session *s = c->sess;
    memcpy(c->master, s->master_secret, KS_MASTER_LEN);
    if (c->role == CDTLS_SERVER) {
        memcpy(c->session_id, s->id, s->id_len);
        c->session_id_len = s->id_len;
        memcpy(c->psk_identity, s->psk_identity, s->psk_identity_len);
        c->psk_identity_len = s->psk_identity_len;
    }
    c->resumed = 1;
}

/* This connection's session, as a store or a ticket keeps it. */
static int session_of(const cdtls_conn *c, cdtls_session *s, uint64_t created_ms)
{
    memset(s, 0, sizeof *s);
    memcpy(s->id, c->session_id, c->session_id_len);
    s->id_len = c->session_id_len;
    s->cipher_suite = c->suite->id;
    memcpy(s->master_secret, c->master, sizeof s->master_secret);
    s->ems = (uint8_t)c->use_ems;
    s->created_ms = created_ms;
    if (c->role == CDTLS_SERVER) memcpy(s->server_name_hash, c->sni_hash, sizeof s->server_name_hash);
    if (suite_uses_psk(c->suite)) {
        memcpy(s->psk_identity, c->psk_identity, c->psk_identity_len);
        s->psk_identity_len = c->psk_identity_len;
        return psk_binder(c, c->master, c->h->psk, c->h->psk_len, s->psk_binder);
    }
    return CDTLS_OK;
}

int resume_ticket_make(cdtls_conn *c, uint64_t now_ms, uint8_t *out, size_t cap, size_t *len)
{
    cdtls_session *s = c->a->alloc(c->a->ctx, sizeof *s);
    if (!s) return CDTLS_ERR_NOMEM;
    /* a renewed ticket keeps the session's age: lifetimes bound sessions,
     * not tickets */
    int rc = session_of(c, s, c->resumed && c->sess ? c->sess->created_ms : now_ms);
    if (!rc) rc = ticket_seal(c->cfg->resumption.ticket_keys, s, now_ms, out, cap, len);
    cdtls_free_wipe(c->a, s, sizeof *s);
    return rc;
}

int resume_client_on_ticket(cdtls_conn *c, const hs_new_session_ticket *t)
{
    /* An empty ticket: none after all (RFC 5077 §3.3). One too long to keep
     * is not an error either: the session is then not resumable. */
    if (t->ticket_len == 0 || t->ticket_len > CDTLS_MAX_TICKET_LEN) return CDTLS_OK;
    cdtls_session *s = sess_get(c);
    if (!s) return CDTLS_OK;
    memcpy(s->ticket, t->ticket, t->ticket_len);
    s->ticket_len = t->ticket_len;
    s->ticket_lifetime_s = t->lifetime_hint_s;
    c->got_ticket = 1;
    return CDTLS_OK;
}

void resume_remember(cdtls_conn *c, uint64_t now_ms)
{
    const cdtls_session_store *st = c->cfg->resumption.store;
    if (!st || !st->put) goto done;
    cdtls_session *s = c->a->alloc(c->a->ctx, sizeof *s);
    if (!s) goto done;
    const uint8_t *key = c->session_id;
    size_t len = c->session_id_len;
    int keep;
    if (c->role == CDTLS_SERVER) {
        /* by session ID only; ticket sessions live in their tickets */
        keep = !c->resumed && c->session_id_len > 0 && session_of(c, s, now_ms) == CDTLS_OK;
    } else if (c->resumed) {
        /* the same session; worth storing again only with a new ticket */
        keep = c->got_ticket;
        if (keep) *s = *c->sess;
    } else {
        keep = (c->session_id_len > 0 || c->got_ticket) && session_of(c, s, now_ms) == CDTLS_OK;
        if (keep) {
            if (c->got_ticket) {
                memcpy(s->ticket, c->sess->ticket, c->sess->ticket_len);
                s->ticket_len = c->sess->ticket_len;
                s->ticket_lifetime_s = c->sess->ticket_lifetime_s;
            }
        }
    }
    if (keep && c->role == CDTLS_CLIENT) {
        if (c->got_ticket) s->id_len = 0; /* a ticket session: our ID is made afresh each time */
        keep = client_key(c, &key, &len);
    }
    if (keep) (void)st->put(st->ctx, key, len, s);
    cdtls_free_wipe(c->a, s, sizeof *s);
done:
    resume_release(c);
}

/* RFC 5246 §7.2: after a fatal alert (sent or received) "the session
 * identifier MUST be invalidated". A client whose resumption attempt
 * failed in any way (a timeout included: different secrets look like
 * loss, since records that fail authentication are dropped) also drops
 * the session, so that its next attempt is a full handshake. A ticket
 * cannot be recalled; the client forgets it. */
void resume_forget(cdtls_conn *c)
{
    const cdtls_session_store *st = c->cfg->resumption.store;
    if (st && st->del) {
        if (c->role == CDTLS_SERVER) {
            if (c->session_id_len && !c->resumed_by_ticket)
                st->del(st->ctx, c->session_id, c->session_id_len);
        } else {
            const uint8_t *key;
            size_t len;
            cdtls_session *s = c->a->alloc(c->a->ctx, sizeof *s);
            /* only our own session: another connection may have stored a
             * newer one. Ours: the one offered, else the one just made. */
            if (s && client_key(c, &key, &len) && st->get && st->get(st->ctx, key, len, s) == CDTLS_OK) {
                int ours;
                if (c->have_offer)
                    ours = c->sess->ticket_len
                               ? s->ticket_len == c->sess->ticket_len &&
                                     memcmp(s->ticket, c->sess->ticket, s->ticket_len) == 0
                               : s->id_len == c->sess->id_len && memcmp(s->id, c->sess->id, s->id_len) == 0;
                else
                    ours = c->session_id_len && s->id_len == c->session_id_len &&
                           memcmp(s->id, c->session_id, s->id_len) == 0;
                if (ours) st->del(st->ctx, key, len);
            }
            if (s) cdtls_free_wipe(c->a, s, sizeof *s);
        }
    }
    resume_release(c);
}

int cdtls_conn_resumed(const cdtls_conn *c)
{
    return c && c->resumed;
}
