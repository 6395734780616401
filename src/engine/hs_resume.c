/* Session resumption by session ID (RFC 5246 §7.3, RFC 6347 §4.2.4 figure 2):
 * finding a session in the application's store, and keeping the sessions
 * full handshakes make. The abbreviated flights themselves are in
 * hs_engine.c. RFC 7627 §5.3: a session resumes only with the same use of
 * the extended master secret it was made with. */
#include <string.h>

#include "common/mem.h"
#include "engine/conn_internal.h"

/* A client's key: the server's name, else the peer address it was given. */
static int client_key(const cdtls_conn *c, const uint8_t **key, size_t *len)
{
    if (c->cfg.server_name && *c->cfg.server_name) {
        *key = (const uint8_t *)c->cfg.server_name;
        *len = strlen(c->cfg.server_name);
    } else {
        *key = c->peer_addr;
        *len = c->peer_addr_len;
    }
    return *len > 0 && *len <= CDTLS_SESSION_KEY_MAX;
}

static int fresh(const cdtls_conn *c, const cdtls_session *s, uint64_t now_ms)
{
    return now_ms >= s->created_ms && now_ms - s->created_ms <= c->cfg.session_lifetime_ms;
}

void resume_client_lookup(cdtls_conn *c, const uint16_t *offered, size_t n_offered, uint64_t now_ms)
{
    if (c->offer_looked_up) return; /* the same offer after a HelloVerifyRequest */
    c->offer_looked_up = 1;
    const cdtls_session_store *st = c->cfg.session_store;
    const uint8_t *key;
    size_t len;
    if (!st || !st->get || !client_key(c, &key, &len)) return;
    cdtls_session s;
    if (st->get(st->ctx, key, len, &s) != CDTLS_OK) return;
    int suite_ok = 0;
    for (size_t i = 0; i < n_offered; i++) suite_ok |= offered[i] == s.cipher_suite;
    int ems_ok = s.ems ? c->cfg.extended_master_secret != CDTLS_EMS_DISABLE
                       : c->cfg.extended_master_secret != CDTLS_EMS_REQUIRE;
    if (suite_ok && ems_ok && s.id_len > 0 && s.id_len <= sizeof s.id && fresh(c, &s, now_ms)) {
        c->offer = s;
        c->have_offer = 1;
    }
    cdtls_memzero(&s, sizeof s);
}

int resume_server_lookup(cdtls_conn *c, const hs_client_hello *ch, uint64_t now_ms)
{
    const cdtls_session_store *st = c->cfg.session_store;
    if (!st || !st->get || ch->session_id_len == 0) return 0;
    cdtls_session s;
    if (st->get(st->ctx, ch->session_id, ch->session_id_len, &s) != CDTLS_OK) return 0;
    int ok = s.id_len == ch->session_id_len && fresh(c, &s, now_ms) &&
             hs_client_hello_offers_suite(ch, s.cipher_suite) &&
             cdtls_cipher_suite_supported(c->p, s.cipher_suite) && suite_find(s.cipher_suite) &&
             /* RFC 7627 §5.3: not across a change in the use of EMS */
             (s.ems ? ch->ext.ems && c->cfg.extended_master_secret != CDTLS_EMS_DISABLE
                    : !ch->ext.ems && c->cfg.extended_master_secret != CDTLS_EMS_REQUIRE);
    if (ok && c->cfg.cipher_suites) { /* and still one we allow */
        int allowed = 0;
        for (size_t i = 0; i < c->cfg.n_cipher_suites; i++) allowed |= c->cfg.cipher_suites[i] == s.cipher_suite;
        ok = allowed;
    }
    if (ok) c->offer = s;
    cdtls_memzero(&s, sizeof s);
    return ok;
}

void resume_remember(cdtls_conn *c, uint64_t now_ms)
{
    const cdtls_session_store *st = c->cfg.session_store;
    if (!st || !st->put || c->resumed || c->session_id_len == 0) return;
    cdtls_session s;
    memset(&s, 0, sizeof s);
    memcpy(s.id, c->session_id, c->session_id_len);
    s.id_len = c->session_id_len;
    s.cipher_suite = c->suite->id;
    memcpy(s.master_secret, c->master, sizeof s.master_secret);
    s.ems = (uint8_t)c->use_ems;
    s.created_ms = now_ms;
    const uint8_t *key = c->session_id;
    size_t len = c->session_id_len;
    if (c->role == CDTLS_CLIENT && !client_key(c, &key, &len)) {
        cdtls_memzero(&s, sizeof s);
        return;
    }
    (void)st->put(st->ctx, key, len, &s);
    cdtls_memzero(&s, sizeof s);
}

/* RFC 5246 §7.2: after a fatal alert (sent or received) "the session
 * identifier MUST be invalidated". A client whose resumption attempt
 * failed in any way (a timeout included: different secrets look like
 * loss, since records that fail authentication are dropped) also drops
 * the session, so that its next attempt is a full handshake. */
void resume_forget(cdtls_conn *c)
{
    const cdtls_session_store *st = c->cfg.session_store;
    if (!st || !st->del) return;
    if (c->role == CDTLS_SERVER) {
        if (c->session_id_len) st->del(st->ctx, c->session_id, c->session_id_len);
        return;
    }
    const uint8_t *key;
    size_t len;
    if (!client_key(c, &key, &len)) return;
    /* only our own session: another connection may have stored a newer one */
    const uint8_t *id = c->have_offer ? c->offer.id : c->session_id;
    size_t id_len = c->have_offer ? c->offer.id_len : c->session_id_len;
    cdtls_session s;
    if (id_len && st->get && st->get(st->ctx, key, len, &s) == CDTLS_OK && s.id_len == id_len &&
        memcmp(s.id, id, id_len) == 0)
        st->del(st->ctx, key, len);
    cdtls_memzero(&s, sizeof s);
}

int cdtls_conn_resumed(const cdtls_conn *c)
{
    return c && c->resumed;
}
