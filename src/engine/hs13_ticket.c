/* DTLS 1.3 session resumption (RFC 8446 §2.2, §4.2.11, §4.6.1; RFC 9147
 * §5.8, §7): the server's NewSessionTicket after the handshake, resent
 * until ACKed; the client's ticket kept in the session store and offered
 * next time as a pre_shared_key with a "res binder" binder; the server's
 * checks on it.
 *
 * Server. The ticket is
 *   - stateless when resumption.ticket_keys is set: the session (suite,
 *     resumption PSK, creation time, ticket_age_add, SNI hash) sealed by
 *     the same key ring as our 1.2 tickets (ticket.c), under a version byte
 *     of its own. Such a ticket can be used more than once within its
 *     lifetime (nothing remembers it);
 *   - stateful when only resumption.store is set: 32 random bytes naming
 *     the session in the store. Such a ticket is single use: the server
 *     deletes it when it resumes it (RFC 8446 §8.1 anti-replay; a replay
 *     gets a full handshake).
 * Whatever fails (unknown or forged ticket, retired key, expired, age out
 * of the window, SNI changed, a hash no suite of ours has) makes the PSK
 * unknown, so the handshake goes on as a full one (RFC 8446 §4.2.11). A
 * binder that does not verify aborts it (decrypt_error, §4.2.11: "MUST").
 *
 * Client. With resumption.store set, each NewSessionTicket becomes a
 * cdtls_session (version CDTLS_VERSION_1_3; master_secret holds the PSK),
 * put under the same key as 1.2 sessions (server name, else address): the
 * newest ticket replaces the older. The next ClientHello offers it (taken
 * out of the store: a ticket is offered once, RFC 8446 §C.4), with
 * psk_dhe_ke only (a fresh key share: forward secrecy), never early_data
 * (0-RTT is not implemented: it needs replay protection that a sans-IO
 * engine without shared state cannot give, RFC 8446 §8; docs/dtls13.md).
 * A client with an external PSK offers its ticket first and the PSK
 * second (both binders over one hello), so a refused ticket still leaves
 * the PSK. A ticket from a PSK handshake names the PSK identity; the server
 * resumes it only while that identity is still known (a revoked identity
 * revokes its tickets), and reports it (cdtls_conn_psk_identity).
 */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs13_internal.h"

#if CDTLS_HAVE_DTLS13

#define NST_NONCE_LEN 8u
#define NST_TICKET_MAX (TICKET_MAX_OURS + 16u) /* a 1.3 ticket carries 12 bytes more */
#define NST_BODY_MAX (4u + 4u + 1u + NST_NONCE_LEN + 2u + NST_TICKET_MAX + 2u)
#define STATEFUL_ID_LEN 32u
/* RFC 8446 §8.3: the client's idea of the ticket's age and ours may
 * differ by the round trip and clock rates; beyond this the ticket was not
 * used by the client it was given to when it says (or was replayed). */
#define AGE_WINDOW_MS 10000u
#define MAX_NST_RETRANSMITS 10u

struct h13_ticket {
    uint8_t res_master[TLS13_MAX_HASH]; /* resumption_master_secret */
    int have_res_master;
    /* server: our NewSessionTicket (handshake header + body) until ACKed */
    uint8_t msg[DTLS_HS_HEADER_LEN + NST_BODY_MAX];
    size_t msg_len;
    int pending;
    ack13_record_number rn[8];
    size_t n_rn;
    uint64_t timer_at_ms;
    uint32_t timeout_ms;
    unsigned retransmits;
    /* server: the session being resumed; client: the one offered */
    cdtls_session sess;
    int have_sess;
    int stateful; /* server: sess came from the store (single use) */
    /* client: the PSK offered (kept out of c->h->psk, whose presence would
     * add the 1.2 PSK suites to a second ClientHello: RFC 8446 §4.1.2) */
    uint8_t psk[TLS13_MAX_HASH];
    size_t psk_len;
};

static int server_issues(const cdtls_conn *c)
{
    return c->role == CDTLS_SERVER && (c->cfg->resumption.ticket_keys || c->cfg->resumption.store);
}

static int client_keeps(const cdtls_conn *c)
{
    const cdtls_session_store *st = c->cfg->resumption.store;
    return c->role == CDTLS_CLIENT && st && st->put && st->get;
}

/* A client that keeps tickets says so with psk_key_exchange_modes even
 * when it has none to offer: servers (pion v4) issue tickets only to a
 * client that lists a mode (RFC 8446 §4.2.9). */
int hs13_ticket_wanted(const cdtls_conn *c)
{
    return client_keeps(c);
}

static h13_ticket *tk_get(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v) return NULL;
    if (!v->tk) v->tk = cdtls_alloc_zero(c->a, sizeof *v->tk);
    return v->tk;
}

void hs13_ticket_free(cdtls_conn *c)
{
    if (c->v13 && c->v13->tk) cdtls_free_wipe(c->a, c->v13->tk, sizeof *c->v13->tk);
    if (c->v13) c->v13->tk = NULL;
}

static uint64_t lifetime_ms(const cdtls_conn *c)
{
    uint64_t life = c->cfg->resumption.lifetime_ms ? c->cfg->resumption.lifetime_ms : 24u * 3600u * 1000u;
    const uint64_t cap = (uint64_t)HS13_MAX_TICKET_LIFETIME * 1000u; /* RFC 8446 §4.6.1 */
    return life < cap ? life : cap;
}

/* A client's key in the store (as hs_resume.c keys 1.2 sessions). */
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

/* resumption_master_secret over Hash(ClientHello..client Finished) (RFC
 * 8446 §7.1): called by both sides once the client's Finished is in the
 * transcript, while the key schedule is still at its master stage. */
int hs13_ticket_res_master(cdtls_conn *c)
{
    if (!server_issues(c) && !client_keeps(c)) return CDTLS_OK;
    conn13 *v = c->v13;
    h13_ticket *t = tk_get(c);
    if (!t || !v->hh) return CDTLS_OK; /* no resumption: not an error */
    uint8_t th[TLS13_MAX_HASH];
    hs13_transcript_hash(c, th);
    int rc = tls13_resumption_master(&v->hh->ks, th, t->res_master);
    t->have_res_master = rc == CDTLS_OK;
    return CDTLS_OK;
}

/* ------------------------------------------------------------ server */

static int nst_transmit(cdtls_conn *c)
{
    conn13 *v = c->v13;
    h13_ticket *t = v->tk;
    uint8_t rec[5u + sizeof t->msg + 1 + CDTLS_AEAD_MAX_TAG + 16]; /* header as hs13_common.c writes it */
    size_t used = 0;
    ack13_record_number rn;
    int rc = hs13_put_record(c, v->tx_ap_epoch, CT_HANDSHAKE, t->msg, t->msg_len, rec, sizeof rec, &used,
                             &rn);
    if (rc) return rc;
    t->rn[t->n_rn++ % 8] = rn;
    return dgram_queue_push(&c->out, c->a, rec, used,
                            c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL);
}

/* The ticket: sealed (stateless) or an ID into the store (stateful). */
static int make_ticket(cdtls_conn *c, const cdtls_session *s, uint64_t now_ms, uint8_t *out, size_t cap,
                       size_t *len)
{
    if (c->cfg->resumption.ticket_keys)
        return ticket_seal13(c->cfg->resumption.ticket_keys, s, now_ms, out, cap, len);
    const cdtls_session_store *st = c->cfg->resumption.store;
    if (!st->put || cap < STATEFUL_ID_LEN) return CDTLS_ERR_UNSUPPORTED;
    int rc = c->p->random(c->p, out, STATEFUL_ID_LEN);
    if (rc) return rc;
    cdtls_session *copy = cdtls_alloc_zero(c->a, sizeof *copy);
    if (!copy) return CDTLS_ERR_NOMEM;
    *copy = *s;
    memcpy(copy->id, out, STATEFUL_ID_LEN);
    copy->id_len = STATEFUL_ID_LEN;
    rc = st->put(st->ctx, out, STATEFUL_ID_LEN, copy);
    cdtls_free_wipe(c->a, copy, sizeof *copy);
    *len = STATEFUL_ID_LEN;
    return rc;
}

/* After the client's Finished: one NewSessionTicket (RFC 8446 §4.6.1),
 * under the application keys, resent until ACKed (RFC 9147 §5.8.2). Not
 * issuing one is not an error: resumption is an optimisation. Also after
 * a resumed handshake, so that a client never needs to offer a ticket
 * twice. */
static void issue(cdtls_conn *c, uint64_t now_ms)
{
    conn13 *v = c->v13;
    h13_ticket *t = v->tk;
    if (!t || !t->have_res_master || t->pending || !v->tx_ap) return;
    /* RFC 8446 §4.6.1: a client authenticated by certificate would not be
     * on resumption; we do not resume such sessions (see server_find) */
    if (c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE) return;
    cdtls_session *s = cdtls_alloc_zero(c->a, sizeof *s);
    if (!s) return;
    uint8_t nonce[NST_NONCE_LEN], ticket[NST_TICKET_MAX];
    size_t ticket_len = 0;
    int rc = c->p->random(c->p, nonce, sizeof nonce);
    if (!rc) rc = c->p->random(c->p, (uint8_t *)&s->ticket_age_add, sizeof s->ticket_age_add);
    s->version = CDTLS_VERSION_1_3;
    s->cipher_suite = v->suite;
    /* a resumed session keeps its age: lifetimes bound sessions, not
     * tickets (RFC 8446 §4.6.1: "the original handshake") */
    s->created_ms = t->have_sess ? t->sess.created_ms : now_ms;
    s->ticket_issued_ms = now_ms;
    memcpy(s->server_name_hash, c->sni_hash, sizeof s->server_name_hash);
    if (c->psk13_used && c->psk_identity_len <= sizeof s->psk_identity) {
        /* the external PSK identity this session stands on (for a resumed
         * one: the session's, restored into c->psk_identity) */
        memcpy(s->psk_identity, c->psk_identity, c->psk_identity_len);
        s->psk_identity_len = c->psk_identity_len;
    }
    /* PSK = HKDF-Expand-Label(resumption_master_secret, "resumption",
     * ticket_nonce, Hash.length) (RFC 8446 §4.6.1, "dtls13" prefix) */
    if (!rc)
        rc = tls13_resumption_psk(c->p, v->hash, DTLS13_LABEL_PREFIX, t->res_master, nonce, sizeof nonce,
                                  s->master_secret);
    if (!rc) rc = make_ticket(c, s, now_ms, ticket, sizeof ticket, &ticket_len);
    const uint32_t age_add = s->ticket_age_add;
    /* the lifetime left to the session (a renewed ticket does not extend it) */
    const uint64_t age = now_ms >= s->created_ms ? now_ms - s->created_ms : 0;
    cdtls_free_wipe(c->a, s, sizeof *s);
    if (rc || age >= lifetime_ms(c)) return;
    hs13_new_session_ticket nst;
    memset(&nst, 0, sizeof nst);
    nst.lifetime_s = (uint32_t)((lifetime_ms(c) - age) / 1000u);
    if (nst.lifetime_s == 0) return;
    nst.age_add = age_add;
    nst.nonce = nonce;
    nst.nonce_len = sizeof nonce;
    nst.ticket = ticket;
    nst.ticket_len = ticket_len;
    cdtls_writer w;
    writer_init(&w, t->msg + DTLS_HS_HEADER_LEN, sizeof t->msg - DTLS_HS_HEADER_LEN);
    if (hs13_new_session_ticket_write(&w, &nst) != CDTLS_OK || w.failed) return;
    hs_header h = {HS_NEW_SESSION_TICKET, (uint32_t)w.len, c->send_msg_seq++, 0, (uint32_t)w.len};
    hs_header_put(&h, t->msg);
    t->msg_len = DTLS_HS_HEADER_LEN + w.len;
    t->pending = 1;
    t->n_rn = 0;
    t->retransmits = 0;
    t->timeout_ms = c->cfg->timers.retransmit_initial_ms;
    t->timer_at_ms = now_ms + t->timeout_ms;
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_SENT, t->msg, t->msg_len);
    cdtls_memzero(&t->sess, sizeof t->sess); /* the resumed session: done with */
    cdtls_memzero(t->res_master, sizeof t->res_master);
    if (nst_transmit(c) != CDTLS_OK) hs13_ticket_free(c);
}

void hs13_ticket_server_issue(cdtls_conn *c, uint64_t now_ms)
{
    if (!server_issues(c) || !c->v13) return;
    issue(c, now_ms);
    /* nothing to resend: the state goes (the secrets with it) */
    if (c->v13->tk && !c->v13->tk->pending) hs13_ticket_free(c);
}

uint64_t hs13_ticket_timer(const cdtls_conn *c)
{
    const h13_ticket *t = c->v13 ? c->v13->tk : NULL;
    return t && t->pending && c->state == CDTLS_STATE_ESTABLISHED ? t->timer_at_ms : UINT64_MAX;
}

int hs13_ticket_pending(const cdtls_conn *c)
{
    return c->v13 && c->v13->tk && c->v13->tk->pending;
}

/* Not ACKed in time: again, with backoff, a bounded number of times (RFC
 * 9147 §5.8.2: post-handshake messages are retransmitted like flights). */
int hs13_ticket_on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    h13_ticket *t = c->v13 ? c->v13->tk : NULL;
    if (!t || !t->pending || c->state != CDTLS_STATE_ESTABLISHED || now_ms < t->timer_at_ms) return CDTLS_OK;
    if (t->retransmits >= MAX_NST_RETRANSMITS) {
        hs13_ticket_free(c); /* the client does without a ticket */
        return CDTLS_OK;
    }
    t->timer_at_ms = hs13_backoff(c, &t->timeout_ms, now_ms);
    t->retransmits++;
    conn_observe_retransmit(c, 1);
    return nst_transmit(c);
}

void hs13_ticket_on_ack(cdtls_conn *c, const ack13_record_number *rns, size_t n)
{
    h13_ticket *t = c->v13 ? c->v13->tk : NULL;
    if (!t || !t->pending) return;
    size_t kn = t->n_rn < 8 ? t->n_rn : 8;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < kn; j++)
            if (rns[i].epoch == t->rn[j].epoch && rns[i].seq == t->rn[j].seq) t->pending = 0;
    /* a server needs nothing of it any more (~2 KB per connection) */
    if (!t->pending && c->role == CDTLS_SERVER) hs13_ticket_free(c);
}

/* One identity of the client's: the session it names, if we made it. */
static int open_identity(cdtls_conn *c, h13_ticket *t, const hs13_psk_identity *id, uint64_t now_ms)
{
    int old_key = 0;
    t->stateful = 0;
    if (c->cfg->resumption.ticket_keys &&
        ticket_open13(c->cfg->resumption.ticket_keys, id->identity, id->identity_len, now_ms, &t->sess,
                      &old_key) == CDTLS_OK)
        return 1;
    const cdtls_session_store *st = c->cfg->resumption.store;
    if (!c->cfg->resumption.ticket_keys && st && st->get && id->identity_len == STATEFUL_ID_LEN &&
        st->get(st->ctx, id->identity, id->identity_len, &t->sess) == CDTLS_OK &&
        t->sess.id_len == STATEFUL_ID_LEN && memcmp(t->sess.id, id->identity, STATEFUL_ID_LEN) == 0) {
        t->stateful = 1;
        return 1;
    }
    return 0;
}

static int acceptable(const cdtls_conn *c, const cdtls_session *s, const hs13_psk_identity *id,
                      uint64_t now_ms)
{
    cdtls_hash_alg hash;
    size_t kl;
    if (s->version != CDTLS_VERSION_1_3 || !hs13_suite_params(s->cipher_suite, &hash, &kl) ||
        !c->p->hash[hash])
        return 0;
    /* lifetime (RFC 8446 §4.6.1) from the original handshake */
    if (now_ms < s->created_ms || now_ms - s->created_ms > lifetime_ms(c)) return 0;
    /* the client's view of the age (obfuscated_ticket_age - age_add, mod
     * 2^32, RFC 8446 §4.2.11.1) against ours (§8.3) */
    if (now_ms < s->ticket_issued_ms) return 0;
    const uint32_t client_age = id->obfuscated_ticket_age - s->ticket_age_add;
    const uint64_t our_age = now_ms - s->ticket_issued_ms;
    const uint64_t diff = our_age > client_age ? our_age - client_age : client_age - our_age;
    if (diff > AGE_WINDOW_MS) return 0;
    /* the same host name (RFC 8446 §4.6.1, RFC 6066 §3) */
    if (memcmp(s->server_name_hash, c->sni_hash, sizeof c->sni_hash) != 0) return 0;
    /* a suite of ours with that hash the client offers is checked by
     * choose() (hs13_server.c) through hs13_ticket_psk_hash */
    uint16_t ours[16];
    size_t n = hs13_our_suites(c, ours, 16), ok = 0;
    for (size_t i = 0; i < n; i++) {
        cdtls_hash_alg h2;
        size_t kl2;
        (void)hs13_suite_params(ours[i], &h2, &kl2);
        ok |= h2 == hash;
    }
    /* no resumption while we ask for client certificates: the resumed
     * connection would carry none (as 1.2, hs_resume.c) */
    return ok && c->cfg->verify.client_auth == CDTLS_CLIENT_AUTH_NONE;
}

/* The ClientHello's identities: the index of the first ticket we accept
 * (its PSK then in c->h->psk), -1 for none. */
int hs13_ticket_server_find(cdtls_conn *c, const hs13_client_hello *ch)
{
    (void)resume_note_server_name(c, ch->legacy.ext.server_name, ch->legacy.ext.server_name_len);
    if (!server_issues(c) || !ch->has_psk || !ch->has_psk_modes) return -1;
    if (!(ch->psk_modes & ((1u << HS13_PSK_DHE_KE) | (1u << HS13_PSK_KE)))) return -1;
    const int had_v13 = c->v13 != NULL;
    conn13 *v = hs13_alloc(c);
    h13_ticket *t = v ? tk_get(c) : NULL;
    if (!t) return -1;
    const uint64_t now_ms = c->h ? c->h->hs_started_ms : 0;
    size_t off = 0;
    hs13_psk_identity id;
    for (int i = 0; i < 16 && hs13_psk_identity_next(ch->identities, ch->identities_len, &off, &id); i++) {
        if (open_identity(c, t, &id, now_ms) && acceptable(c, &t->sess, &id, now_ms) &&
            (t->sess.psk_identity_len == 0 ||
             conn_server_lookup_psk(c, t->sess.psk_identity, t->sess.psk_identity_len) == CDTLS_OK)) {
            cdtls_hash_alg hash;
            size_t kl;
            (void)hs13_suite_params(t->sess.cipher_suite, &hash, &kl);
            const size_t len = c->p->hash[hash]->digest_len;
            memcpy(c->h->psk, t->sess.master_secret, len);
            c->h->psk_len = len;
            t->have_sess = 1;
            v->psk_resumption = 1;
            return i;
        }
        cdtls_memzero(&t->sess, sizeof t->sess);
    }
    t->have_sess = 0;
    v->psk_resumption = 0;
    if (!had_v13) hs13_free(c); /* as before: the hello may still go to 1.2 */
    return -1;
}

/* choose(): the hash a resumption PSK fixes (its session's suite). */
void hs13_ticket_psk_hash(const cdtls_conn *c, cdtls_hash_alg *hash)
{
    const h13_ticket *t = c->v13 ? c->v13->tk : NULL;
    size_t kl;
    if (t && t->have_sess && c->v13->psk_resumption) (void)hs13_suite_params(t->sess.cipher_suite, hash, &kl);
}

/* The binder verified and our ServerHello selects the ticket: resumed. A
 * stateful ticket is used up now (single use). */
void hs13_ticket_server_used(cdtls_conn *c)
{
    h13_ticket *t = c->v13 ? c->v13->tk : NULL;
    if (!t || !t->have_sess || !c->v13->psk_resumption) return;
    c->resumed = 1;
    const cdtls_session_store *st = c->cfg->resumption.store;
    if (t->stateful && st && st->del) st->del(st->ctx, t->sess.id, t->sess.id_len);
}

/* ------------------------------------------------------------ client */

/* Our ClientHello's ticket, if we have one for this server: its PSK kept
 * here (hs13_offered_psk), *hash_out its suite's hash. 1 when offered. */
int hs13_ticket_client_offer(cdtls_conn *c, hs13_psk_identity *id, cdtls_hash_alg *hash_out)
{
    conn13 *v = c->v13;
    v->psk_resumption = 0;
    if (!client_keeps(c)) return 0;
    h13_ticket *t = tk_get(c);
    if (!t) return 0;
    const uint64_t now_ms = c->h ? c->h->hs_started_ms : 0;
    if (!t->have_sess) { /* once per connection: kept over a HelloRetryRequest */
        if (v->hrr_seen) return 0;
        const cdtls_session_store *st = c->cfg->resumption.store;
        const uint8_t *key;
        size_t klen;
        if (!client_key(c, &key, &klen) || st->get(st->ctx, key, klen, &t->sess) != CDTLS_OK) return 0;
        if (t->sess.version != CDTLS_VERSION_1_3 || t->sess.ticket_len == 0 ||
            t->sess.ticket_len > sizeof t->sess.ticket) {
            cdtls_memzero(&t->sess, sizeof t->sess);
            return 0; /* a 1.2 session: hs_resume.c offers it, if 1.2 is offered */
        }
        /* used once (RFC 8446 §C.4); the connection brings a new one */
        if (st->del) st->del(st->ctx, key, klen);
        t->have_sess = 1;
    }
    cdtls_hash_alg hash;
    size_t kl;
    uint64_t life = lifetime_ms(c);
    if (t->sess.ticket_lifetime_s && (uint64_t)t->sess.ticket_lifetime_s * 1000u < life)
        life = (uint64_t)t->sess.ticket_lifetime_s * 1000u;
    if (!hs13_suite_params(t->sess.cipher_suite, &hash, &kl) || !c->p->hash[hash] ||
        now_ms < t->sess.created_ms || now_ms - t->sess.created_ms > life)
        return 0;
    /* a suite of ours with the ticket's hash, and after a HelloRetryRequest
     * the suite it chose must have it (RFC 8446 §4.1.4) */
    uint16_t ours[16];
    size_t n = hs13_our_suites(c, ours, 16), ok = 0;
    for (size_t i = 0; i < n; i++) {
        cdtls_hash_alg h2;
        (void)hs13_suite_params(ours[i], &h2, &kl);
        ok |= h2 == hash;
    }
    if (!ok || (v->hrr_seen && v->hash != hash)) return 0;
    t->psk_len = c->p->hash[hash]->digest_len;
    memcpy(t->psk, t->sess.master_secret, t->psk_len);
    *hash_out = hash;
    id->identity = t->sess.ticket;
    id->identity_len = t->sess.ticket_len;
    /* RFC 8446 §4.2.11.1: age in ms plus ticket_age_add, mod 2^32 */
    id->obfuscated_ticket_age = (uint32_t)(now_ms - t->sess.created_ms) + t->sess.ticket_age_add;
    return 1;
}

/* The client's PSK in its hello: the ticket's when it offers one, else
 * the external one. */
const uint8_t *hs13_offered_psk(const cdtls_conn *c, size_t *len)
{
    const h13_ticket *t = c->v13 ? c->v13->tk : NULL;
    if (c->v13 && c->v13->psk_resumption && t && t->psk_len) {
        *len = t->psk_len;
        return t->psk;
    }
    *len = c->h->psk_len;
    return c->h->psk;
}

/* A NewSessionTicket after the handshake (RFC 8446 §4.6.1): its session
 * into the store when we keep tickets. A malformed one is a decode_error. */
int hs13_ticket_client_on_nst(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
    hs13_new_session_ticket nst;
    if (hs13_new_session_ticket_parse(body, len, &nst) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    conn13 *v = c->v13;
    h13_ticket *t = v->tk;
    /* lifetime 0: use it not at all; one too long to keep: not kept */
    if (!client_keeps(c) || !t || !t->have_res_master || nst.lifetime_s == 0 ||
        nst.ticket_len > CDTLS_MAX_TICKET_LEN)
        return CDTLS_OK;
    cdtls_session *s = cdtls_alloc_zero(c->a, sizeof *s);
    if (!s) return CDTLS_OK;
    s->version = CDTLS_VERSION_1_3;
    s->cipher_suite = v->suite;
    s->created_ms = now_ms; /* the age runs from receipt (§4.2.11.1) */
    s->ticket_lifetime_s = nst.lifetime_s;
    s->ticket_age_add = nst.age_add;
    memcpy(s->ticket, nst.ticket, nst.ticket_len);
    s->ticket_len = nst.ticket_len;
    const cdtls_session_store *st = c->cfg->resumption.store;
    const uint8_t *key;
    size_t klen;
    if (tls13_resumption_psk(c->p, v->hash, DTLS13_LABEL_PREFIX, t->res_master, nst.nonce, nst.nonce_len,
                             s->master_secret) == CDTLS_OK &&
        client_key(c, &key, &klen)) {
        (void)st->put(st->ctx, key, klen, s);
    }
    cdtls_free_wipe(c->a, s, sizeof *s);
    return CDTLS_OK;
}

#endif /* CDTLS_HAVE_DTLS13 */
