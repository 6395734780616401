/* DTLS 1.3 session resumption (RFC 8446 §4.6.1, §4.2.11; RFC 9147 §5.8)
 * between our client and our server over the simulated link: the second
 * connection resumes with a ticket (both sides say so, no Certificate is
 * sent, a fresh key share is used: psk_dhe_ke), a lost NewSessionTicket
 * is resent until ACKed, and a ticket that must not resume does not:
 * replayed single-use (stateful) ticket, expired, under a retired or
 * revoked key, a 1.2 ticket offered as a 1.3 PSK and the reverse (full
 * handshakes), and a wrong binder (the handshake fails, RFC 8446 §4.2.11). */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "cdtls/cdtls.h"
#include "engine/hs13_internal.h"
#include "sim_link.h"

#if !CDTLS_HAVE_DTLS13
Test(engine13_resume, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

#define V12 CDTLS_VERSION_1_2
#define V13 CDTLS_VERSION_1_3
#define HOST "resume13.example"

typedef struct env {
    uint8_t der[CDTLS_X509_SELFSIGN_MAX];
    size_t der_len;
    const uint8_t *chain[1];
    size_t lens[1];
    cdtls_sign_key *key;
    uint8_t pin[32];
    cdtls_config cc, sc;
    cdtls_session_cache client, server;
    cdtls_session_cache_entry ce[2], se[8];
    cdtls_ticket_keys keys;
    uint64_t clock_ms;
} env;

/* What the observers saw on one connection. */
typedef struct seen {
    unsigned certs_sent, tickets_sent, tickets_received, retransmits_established;
    uint16_t group;
    int established;
} seen;

static void observe(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    seen *s = user;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_SENT && ev->hs_type == 11) s->certs_sent++;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_SENT && ev->hs_type == 4) s->tickets_sent++;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_RECEIVED && ev->hs_type == 4) s->tickets_received++;
    if (ev->kind == CDTLS_EVENT_RETRANSMIT && cdtls_conn_get_state(c) == CDTLS_STATE_ESTABLISHED)
        s->retransmits_established++;
    if (ev->kind == CDTLS_EVENT_ESTABLISHED) s->group = ev->group, s->established = 1;
}

/* A certificate server (self-signed, pinned by the client), 1.3 only, with
 * stateless tickets (ticket_keys) or, stateless 0, a session store. */
static void env_init(env *e, int stateless)
{
    memset(e, 0, sizeof *e);
    e->clock_ms = 1000;
    const cdtls_provider *p = cdtls_provider_default();
    const int64_t nb = (int64_t)time(NULL) - 86400;
    cr_assert_eq(cdtls_x509_selfsign(p, NULL, HOST, nb, 30, e->der, sizeof e->der, &e->der_len, &e->key),
                 CDTLS_OK);
    cdtls_x509_cert cert;
    cr_assert_eq(cdtls_x509_parse(e->der, e->der_len, &cert), CDTLS_OK);
    cr_assert_eq(cdtls_x509_fingerprint_sha256(p, &cert, e->pin), CDTLS_OK);
    e->chain[0] = e->der, e->lens[0] = e->der_len;
    cdtls_config_init(&e->cc);
    cdtls_config_init(&e->sc);
    e->cc.versions.min = e->sc.versions.min = V13;
    e->sc.credentials.chain = e->chain;
    e->sc.credentials.chain_len = e->lens;
    e->sc.credentials.n_certs = 1;
    e->sc.credentials.private_key = e->key;
    e->cc.verify.pinned_sha256 = e->pin, e->cc.verify.n_pins = 1;
    e->cc.server_name = HOST;
    e->cc.resumption.store = cdtls_session_cache_init(&e->client, e->ce, 2);
    if (stateless) {
        cr_assert_eq(cdtls_ticket_keys_init(&e->keys, NULL, 3600u * 1000u, e->clock_ms), CDTLS_OK);
        e->sc.resumption.ticket_keys = &e->keys;
    } else {
        e->sc.resumption.store = cdtls_session_cache_init(&e->server, e->se, 8);
    }
}

static void env_free(env *e)
{
    cdtls_ticket_keys_wipe(&e->keys);
    if (e->key) cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), e->key);
}

typedef struct outcome {
    int ok, resumed_c, resumed_s;
    int err_c, err_s;
    uint16_t version;
    seen c, s;
    unsigned ticket_pending; /* the server still waits for the ACK of its ticket */
} outcome;

typedef struct dropper {
    sim_link *s;
    unsigned drop_after_established; /* server datagrams to drop once it is established */
    unsigned drop_client_acks;       /* client datagrams to drop once it has the ticket */
    const unsigned *tickets_received;
} dropper;

static int drop_post_handshake(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    (void)data, (void)len;
    dropper *d = ctx;
    if (to_server && d->drop_client_acks && *d->tickets_received > 0) {
        d->drop_client_acks--;
        return 0;
    }
    if (!to_server && d->drop_after_established &&
        cdtls_conn_get_state(d->s->server) == CDTLS_STATE_ESTABLISHED) {
        d->drop_after_established--;
        return 0;
    }
    return 1;
}

/* One connection a minute after the one before (ages are measured on the
 * virtual clock); it runs on after the handshake so the ticket arrives. */
static outcome connect_dropping(env *e, unsigned drop, unsigned drop_acks);

static outcome connect_once(env *e, unsigned drop)
{
    return connect_dropping(e, drop, 0);
}

static outcome connect_dropping(env *e, unsigned drop, unsigned drop_acks)
{
    outcome o;
    memset(&o, 0, sizeof o);
    sim_link s;
    e->clock_ms += 60000;
    cr_assert_eq(sim_init_at(&s, &e->cc, &e->sc, NULL, e->clock_ms), CDTLS_OK);
    dropper d = {&s, drop, drop_acks, &o.c.tickets_received};
    s.tamper = drop_post_handshake, s.tamper_ctx = &d;
    cdtls_conn_set_observer(s.client, observe, &o.c);
    cdtls_conn_set_observer(s.server, observe, &o.s);
    o.ok = sim_run_handshake(&s, 30000);
    if (o.ok) {
        o.ok = sim_exchange(&s, 20);
        sim_run(&s, 60000); /* the ticket, its ACK, retransmissions */
    }
    o.resumed_c = cdtls_conn_resumed(s.client);
    o.resumed_s = cdtls_conn_resumed(s.server);
    o.err_c = cdtls_conn_error(s.client);
    o.err_s = cdtls_conn_error(s.server);
    o.version = cdtls_conn_version(s.client);
    /* the key exchange groups, as the connections report them */
    o.c.group = cdtls_conn_group(s.client);
    o.s.group = cdtls_conn_group(s.server);
    o.ticket_pending = (unsigned)hs13_ticket_pending(s.server);
    e->clock_ms = s.now_ms;
    sim_free(&s);
    return o;
}

/* The client's kept session (0: none). */
static int client_session(env *e, cdtls_session *out)
{
    const cdtls_session_store *st = e->cc.resumption.store;
    return st->get(st->ctx, (const uint8_t *)HOST, strlen(HOST), out) == CDTLS_OK;
}

static void client_session_put(env *e, const cdtls_session *s)
{
    const cdtls_session_store *st = e->cc.resumption.store;
    cr_assert_eq(st->put(st->ctx, (const uint8_t *)HOST, strlen(HOST), s), CDTLS_OK);
}

static void assert_full(const outcome *o, const char *what)
{
    cr_assert(o->ok, "%s: handshake failed: client %s, server %s", what, cdtls_strerror(o->err_c),
              cdtls_strerror(o->err_s));
    cr_assert_eq(o->version, V13, "%s", what);
    cr_assert(!o->resumed_c && !o->resumed_s, "%s: a full handshake", what);
    cr_assert_eq(o->s.certs_sent, 1, "%s: the server sent its Certificate", what);
}

static void assert_resumed(const outcome *o, const char *what)
{
    cr_assert(o->ok, "%s: handshake failed: client %s, server %s", what, cdtls_strerror(o->err_c),
              cdtls_strerror(o->err_s));
    cr_assert_eq(o->version, V13, "%s", what);
    cr_assert(o->resumed_c, "%s: the client resumed", what);
    cr_assert(o->resumed_s, "%s: the server resumed", what);
    cr_assert_eq(o->s.certs_sent, 0, "%s: no Certificate on resumption", what);
    /* psk_dhe_ke: a fresh key share on both sides */
    cr_assert_neq(o->c.group, 0, "%s: the client used a key share", what);
    cr_assert_eq(o->c.group, o->s.group, "%s", what);
}

static void stateless_round(int stateless)
{
    env e;
    env_init(&e, stateless);
    outcome o1 = connect_once(&e, 0);
    assert_full(&o1, "first");
    cr_assert_eq(o1.s.tickets_sent, 1, "one NewSessionTicket");
    cr_assert_eq(o1.c.tickets_received, 1);
    cr_assert_eq(o1.ticket_pending, 0, "the ticket was ACKed");
    cdtls_session kept;
    cr_assert(client_session(&e, &kept), "the client kept the ticket");
    cr_assert_eq(kept.version, V13);
    cr_assert_gt(kept.ticket_len, 0);
    outcome o2 = connect_once(&e, 0);
    assert_resumed(&o2, "second");
    cr_assert_eq(o2.s.tickets_sent, 1, "a new ticket on the resumed connection");
    outcome o3 = connect_once(&e, 0);
    assert_resumed(&o3, "third, with the renewed ticket");
    if (stateless) cr_assert_geq(e.keys.opened, 2);
    env_free(&e);
}

Test(engine13_resume, stateless_ticket_resumes)
{
    stateless_round(1);
}

Test(engine13_resume, stateful_ticket_resumes)
{
    stateless_round(0);
}

Test(engine13_resume, lost_ticket_is_resent_until_acked)
{
    env e;
    env_init(&e, 1);
    /* the server's ACK of the client's Finished and its NewSessionTicket,
     * then the first retransmission too */
    outcome o1 = connect_once(&e, 3);
    assert_full(&o1, "first");
    cr_assert_geq(o1.s.retransmits_established, 1, "the ticket was resent by its timer");
    cr_assert_eq(o1.ticket_pending, 0, "...until ACKed");
    cr_assert_eq(o1.c.tickets_received, 1, "the client took it once");
    outcome o2 = connect_once(&e, 0);
    assert_resumed(&o2, "with the resent ticket");
    env_free(&e);
}

/* The client's ACK of the ticket lost: the server resends the ticket, the
 * client (which has it) ACKs again (RFC 9147 §7.1) rather than ignoring an
 * old message, and the server stops. */
Test(engine13_resume, lost_ack_of_the_ticket)
{
    env e;
    env_init(&e, 1);
    outcome o1 = connect_dropping(&e, 0, 2);
    assert_full(&o1, "first");
    cr_assert_geq(o1.s.retransmits_established, 1, "the ticket was resent");
    cr_assert_eq(o1.c.tickets_received, 1, "the client took it once");
    cr_assert_eq(o1.ticket_pending, 0, "the resend was ACKed");
    assert_resumed((outcome[]){connect_once(&e, 0)}, "second");
    env_free(&e);
}

Test(engine13_resume, stateful_ticket_is_single_use)
{
    env e;
    env_init(&e, 0);
    assert_full((outcome[]){connect_once(&e, 0)}, "first");
    cdtls_session kept;
    cr_assert(client_session(&e, &kept));
    assert_resumed((outcome[]){connect_once(&e, 0)}, "second");
    client_session_put(&e, &kept); /* the same ticket again: a replay */
    outcome o3 = connect_once(&e, 0);
    assert_full(&o3, "a replayed single-use ticket");
    env_free(&e);
}

Test(engine13_resume, expired_ticket_gives_a_full_handshake)
{
    env e;
    env_init(&e, 1);
    e.sc.resumption.lifetime_ms = 30000; /* connections are a minute apart */
    outcome o1 = connect_once(&e, 0);
    assert_full(&o1, "first");
    cdtls_session kept;
    cr_assert(client_session(&e, &kept));
    cr_assert_eq(kept.ticket_lifetime_s, 30, "the server's lifetime");
    /* a client that ignored the lifetime: the server checks it too */
    kept.ticket_lifetime_s = 3600;
    client_session_put(&e, &kept);
    e.cc.resumption.lifetime_ms = 3600000;
    uint64_t refused = e.keys.refused, opened = e.keys.opened;
    outcome o2 = connect_once(&e, 0);
    assert_full(&o2, "expired");
    /* (opened once per ClientHello: twice with the cookie exchange) */
    cr_assert_gt(e.keys.opened, opened, "the ticket was offered and opened, then refused as expired");
    (void)refused;
    env_free(&e);
}

Test(engine13_resume, retired_or_revoked_key_gives_a_full_handshake)
{
    env e;
    env_init(&e, 1);
    assert_full((outcome[]){connect_once(&e, 0)}, "first");
    /* one new key: the old one still opens (rotation never cuts a ticket short) */
    uint8_t name[CDTLS_TICKET_KEY_NAME_LEN] = {1}, key[32] = {2};
    cr_assert_eq(cdtls_ticket_keys_add(&e.keys, name, key, e.clock_ms), CDTLS_OK);
    assert_resumed((outcome[]){connect_once(&e, 0)}, "under the previous key");
    /* the ring turned over: the ticket's key is gone */
    for (unsigned i = 0; i < CDTLS_TICKET_KEYS; i++) {
        name[0] = (uint8_t)(10 + i), key[0] = (uint8_t)(20 + i);
        cr_assert_eq(cdtls_ticket_keys_add(&e.keys, name, key, e.clock_ms), CDTLS_OK);
    }
    uint64_t refused = e.keys.refused;
    assert_full((outcome[]){connect_once(&e, 0)}, "key retired");
    cr_assert_gt(e.keys.refused, refused, "the ticket was refused");
    /* revoked: a new ring altogether */
    assert_resumed((outcome[]){connect_once(&e, 0)}, "the new ticket resumes");
    cdtls_ticket_keys_wipe(&e.keys);
    cr_assert_eq(cdtls_ticket_keys_init(&e.keys, NULL, 3600u * 1000u, e.clock_ms), CDTLS_OK);
    assert_full((outcome[]){connect_once(&e, 0)}, "key revoked");
    env_free(&e);
}

Test(engine13_resume, wrong_binder_fails_the_handshake)
{
    env e;
    env_init(&e, 1);
    assert_full((outcome[]){connect_once(&e, 0)}, "first");
    cdtls_session kept;
    cr_assert(client_session(&e, &kept));
    kept.master_secret[0] ^= 1; /* the client's PSK differs from the ticket's */
    client_session_put(&e, &kept);
    outcome o = connect_once(&e, 0);
    cr_assert(!o.ok, "a binder that does not verify aborts (RFC 8446 §4.2.11)");
    cr_assert_eq(o.err_s, CDTLS_ERR_BAD_FINISHED, "server: %s", cdtls_strerror(o.err_s));
    /* and a tampered ticket is unknown: a full handshake */
    assert_full((outcome[]){connect_once(&e, 0)}, "after the failure");
    cr_assert(client_session(&e, &kept));
    kept.ticket[kept.ticket_len / 2] ^= 0x40;
    client_session_put(&e, &kept);
    uint64_t refused = e.keys.refused;
    assert_full((outcome[]){connect_once(&e, 0)}, "tampered ticket");
    cr_assert_gt(e.keys.refused, refused);
    env_free(&e);
}

Test(engine13_resume, a_12_ticket_is_not_a_13_psk)
{
    env e;
    env_init(&e, 1);
    /* a 1.2 session with an RFC 5077 ticket under the same key ring */
    e.cc.versions.min = e.sc.versions.min = V12;
    e.cc.versions.max = e.sc.versions.max = V12;
    e.cc.resumption.tickets = 1;
    outcome o1 = connect_once(&e, 0);
    cr_assert(o1.ok && o1.version == V12);
    cdtls_session s12;
    cr_assert(client_session(&e, &s12));
    cr_assert_eq(s12.version, 0);
    cr_assert_gt(s12.ticket_len, 0);
    /* 1.3 only: the 1.2 session is not offered */
    e.cc.versions.min = e.sc.versions.min = V13;
    e.cc.versions.max = e.sc.versions.max = V13;
    uint64_t opened = e.keys.opened, refused = e.keys.refused;
    assert_full((outcome[]){connect_once(&e, 0)}, "1.2 session, 1.3 client");
    cr_assert_eq(e.keys.opened, opened);
    /* the 1.2 ticket presented as a 1.3 identity: the server refuses it */
    s12.version = V13;
    s12.cipher_suite = 0x1301;
    s12.created_ms = e.clock_ms + 60000; /* the age checks would pass */
    s12.ticket_lifetime_s = 3600;
    client_session_put(&e, &s12);
    refused = e.keys.refused;
    assert_full((outcome[]){connect_once(&e, 0)}, "1.2 ticket as a 1.3 PSK");
    cr_assert_gt(e.keys.refused, refused, "refused by its version");
    env_free(&e);
}

Test(engine13_resume, a_13_ticket_is_not_a_12_session)
{
    env e;
    env_init(&e, 1);
    outcome o1 = connect_once(&e, 0);
    assert_full(&o1, "first");
    cdtls_session s13;
    cr_assert(client_session(&e, &s13));
    cr_assert_eq(s13.version, V13);
    /* a 1.2 client with that session: not offered (hs_resume.c) */
    e.cc.versions.min = e.sc.versions.min = V12;
    e.cc.versions.max = e.sc.versions.max = V12;
    e.cc.resumption.tickets = 1;
    uint64_t opened = e.keys.opened, refused = e.keys.refused;
    outcome o2 = connect_once(&e, 0);
    cr_assert(o2.ok && o2.version == V12 && !o2.resumed_c && !o2.resumed_s);
    cr_assert_eq(e.keys.opened + e.keys.refused, opened + refused, "nothing offered");
    /* the 1.3 ticket presented as a 1.2 one: refused by its version */
    s13.version = 0;
    s13.ems = 1;
    s13.cipher_suite = 0;
    cdtls_session now12;
    cr_assert(client_session(&e, &now12)); /* the 1.2 session of o2, for its suite */
    s13.cipher_suite = now12.cipher_suite;
    s13.created_ms = now12.created_ms;
    s13.ticket_lifetime_s = 0;
    client_session_put(&e, &s13);
    refused = e.keys.refused;
    outcome o3 = connect_once(&e, 0);
    cr_assert(o3.ok && o3.version == V12 && !o3.resumed_c && !o3.resumed_s, "a full 1.2 handshake");
    cr_assert_eq(e.keys.refused, refused + 1, "refused by its version");
    env_free(&e);
}

/* An external PSK and a ticket: the client offers both (ticket first);
 * the second connection resumes and the server reports the PSK identity
 * the session stands on; a refused ticket (new key ring) leaves the PSK:
 * a full PSK handshake, not a failure. */
static const uint8_t ext_psk[16] = {0x70, 0x73, 0x6b, 0x2d, 0x72, 0x65, 0x73, 0x75,
                                    0x6d, 0x65, 0x2d, 0x31, 0x33, 0x21, 0x21, 0x21};

Test(engine13_resume, external_psk_and_ticket)
{
    env e;
    env_init(&e, 1);
    e.cc.psk.key = e.sc.psk.key = ext_psk;
    e.cc.psk.key_len = e.sc.psk.key_len = sizeof ext_psk;
    e.cc.psk.identity = e.sc.psk.identity = (const uint8_t *)"sensor-13";
    e.cc.psk.identity_len = e.sc.psk.identity_len = 9;
    outcome o1 = connect_once(&e, 0);
    cr_assert(o1.ok && !o1.resumed_c && !o1.resumed_s && o1.version == V13, "first: a PSK handshake");
    cr_assert_eq(o1.s.certs_sent, 0);
    cr_assert_eq(o1.s.tickets_sent, 1);
    /* resumed, and the identity reported on the server */
    sim_link s;
    e.clock_ms += 60000;
    cr_assert_eq(sim_init_at(&s, &e.cc, &e.sc, NULL, e.clock_ms), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 30000));
    cr_assert(cdtls_conn_resumed(s.client) && cdtls_conn_resumed(s.server), "resumed on both sides");
    size_t n = 0;
    const uint8_t *who = cdtls_conn_psk_identity(s.server, &n);
    cr_assert(who && n == 9 && memcmp(who, "sensor-13", 9) == 0, "the session's PSK identity");
    cr_assert(sim_exchange(&s, 20));
    sim_run(&s, 60000);
    e.clock_ms = s.now_ms;
    sim_free(&s);
    /* the ticket refused (keys replaced): the PSK still authenticates */
    cdtls_ticket_keys_wipe(&e.keys);
    cr_assert_eq(cdtls_ticket_keys_init(&e.keys, NULL, 3600u * 1000u, e.clock_ms), CDTLS_OK);
    uint64_t refused = e.keys.refused;
    outcome o3 = connect_once(&e, 0);
    cr_assert(o3.ok, "falls back to the PSK: client %s, server %s", cdtls_strerror(o3.err_c),
              cdtls_strerror(o3.err_s));
    cr_assert(!o3.resumed_c && !o3.resumed_s);
    cr_assert_gt(e.keys.refused, refused, "the ticket was offered and refused");
    env_free(&e);
}

/* The server's PSK table: one identity, revocable. */
static int revoked_13;
static int lookup_sensor13(void *ctx, const uint8_t *id, size_t len, uint8_t *identity, size_t identity_cap,
                           size_t *identity_len, uint8_t *psk, size_t psk_cap, size_t *psk_len)
{
    (void)ctx, (void)identity, (void)identity_cap, (void)identity_len;
    if (revoked_13 || len != 9 || memcmp(id, "sensor-13", 9) != 0 || psk_cap < sizeof ext_psk)
        return CDTLS_ERR_UNKNOWN_PSK;
    memcpy(psk, ext_psk, sizeof ext_psk);
    *psk_len = sizeof ext_psk;
    return CDTLS_OK;
}

/* A revoked PSK revokes the tickets made from it (RFC 8446 §4.6.1: a
 * resumption PSK stands on the original handshake's authentication): the
 * server opens the ticket, finds its identity no longer known and refuses
 * it; the client's external PSK is refused too, and the handshake falls
 * back to the server's certificate (the client also pins it). */
Test(engine13_resume, revoked_psk_revokes_its_tickets)
{
    env e;
    env_init(&e, 1);
    e.cc.psk.key = ext_psk;
    e.cc.psk.key_len = sizeof ext_psk;
    e.cc.psk.identity = (const uint8_t *)"sensor-13";
    e.cc.psk.identity_len = 9;
    e.sc.callbacks.psk = lookup_sensor13;
    revoked_13 = 0;
    outcome o1 = connect_once(&e, 0);
    cr_assert(o1.ok && !o1.resumed_s && o1.s.certs_sent == 0, "first: a PSK handshake");
    cr_assert_eq(o1.c.tickets_received, 1);
    assert_resumed((outcome[]){connect_once(&e, 0)}, "while the identity is known");
    revoked_13 = 1;
    const uint64_t opened = e.keys.opened;
    outcome o3 = connect_once(&e, 0);
    assert_full(&o3, "identity revoked");
    cr_assert_gt(e.keys.opened, opened, "the ticket was offered and opened, then refused");
    env_free(&e);
}

#endif /* CDTLS_HAVE_DTLS13 */
