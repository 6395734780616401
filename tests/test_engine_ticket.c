/* Session tickets (RFC 5077): a server that keeps no session state issues
 * tickets; the client resumes with them in the abbreviated handshake, also
 * over a lossy link; keys rotate without invalidating live tickets, and a
 * ticket under a retired key is renewed; tampered, foreign or expired
 * tickets give a full handshake; a cluster shares keys; the ticket format
 * refuses every altered byte. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "engine/conn_internal.h"
#include "sim_link.h"

static const uint8_t t_psk[16] = {0x70, 0x69, 0x63, 0x6b, 0x65, 0x74, 0x73, 0x21,
                                  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

typedef struct env {
    cdtls_session_cache client;
    cdtls_session_cache_entry ce[2];
    cdtls_ticket_keys keys;
    cdtls_config cc, sc;
    uint64_t clock_ms;
} env;

static void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    e->clock_ms = 1000;
    cdtls_config_init(&e->cc);
    cdtls_config_init(&e->sc);
    /* RFC 5077 tickets are 1.2's (1.3's: test_engine13_resume.c) */
    e->cc.versions.max = e->sc.versions.max = CDTLS_VERSION_1_2;
    e->cc.psk.key = e->sc.psk.key = t_psk;
    e->cc.psk.key_len = e->sc.psk.key_len = sizeof t_psk;
    e->cc.psk.identity = e->sc.psk.identity = (const uint8_t *)"sensor-17";
    e->cc.psk.identity_len = e->sc.psk.identity_len = 9;
    e->cc.server_name = "tickets.example";
    e->cc.resumption.store = cdtls_session_cache_init(&e->client, e->ce, 2);
    e->cc.resumption.tickets = 1;
    /* the server keeps no sessions: only ticket keys, rotating hourly */
    cr_assert_eq(cdtls_ticket_keys_init(&e->keys, NULL, 3600u * 1000u, e->clock_ms), CDTLS_OK);
    e->sc.resumption.ticket_keys = &e->keys;
}


typedef struct outcome {
    int resumed;
    size_t datagrams;
    char identity[32];
} outcome;

/* One connection `gap_ms` after the last; returns whether it resumed. */
static int connect(env *e, const cdtls_config *sc, uint64_t gap_ms, const sim_impair *imp, outcome *o)
{
    sim_link s;
    e->clock_ms += gap_ms;
    cr_assert_eq(sim_init_at(&s, &e->cc, sc, imp, e->clock_ms), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 60000), "handshake: %s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    int resumed = cdtls_conn_resumed(s.client);
    cr_assert_eq(resumed, cdtls_conn_resumed(s.server), "both sides agree");
    cr_assert(sim_exchange(&s, 20));
    if (o) {
        memset(o, 0, sizeof *o);
        o->resumed = resumed;
        o->datagrams = s.sent[0] + s.sent[1];
        size_t n = 0;
        const uint8_t *id = cdtls_conn_psk_identity(s.server, &n);
        if (id && n < sizeof o->identity) memcpy(o->identity, id, n);
    }
    e->clock_ms = s.now_ms;
    sim_free(&s);
    return resumed;
}

static const cdtls_session_cache_entry *client_entry(const env *e)
{
    for (size_t i = 0; i < 2; i++)
        if (e->ce[i].used) return &e->ce[i];
    return NULL;
}

Test(ticket, stateless_server_resumes_from_its_ticket)
{
    env e;
    env_init(&e);
    outcome full, again;
    cr_assert(!connect(&e, &e.sc, 1000, NULL, &full), "first: a full handshake");
    const cdtls_session_cache_entry *ent = client_entry(&e);
    cr_assert(ent, "the client kept the session");
    cr_assert_gt(ent->session.ticket_len, 16, "with the server's ticket");
    cr_assert_eq(ent->session.id_len, 0, "and no session ID (the server has no store)");
    cr_assert_eq(ent->session.ticket_lifetime_s, 24u * 3600u, "the lifetime hint");
    cr_assert(connect(&e, &e.sc, 1000, NULL, &again), "second: resumed from the ticket");
    cr_assert_lt(again.datagrams, full.datagrams, "abbreviated: %zu datagrams, full: %zu", again.datagrams,
                 full.datagrams);
    cr_assert_str_eq(full.identity, "sensor-17");
    cr_assert_str_eq(again.identity, "sensor-17", "the resumed server still knows who it talks to");
    cr_assert_eq(e.keys.sealed, 1, "one ticket made: no renewal under the current key");
    cr_assert_eq(e.keys.opened, 1);
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL), "and again, with the same ticket");
}

Test(ticket, over_a_lossy_link)
{
    env e;
    env_init(&e);
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL));
    for (uint64_t seed = 1; seed <= 4; seed++) {
        sim_impair imp = {30, 10, 10, seed};
        cr_assert(connect(&e, &e.sc, 1000, &imp, NULL), "seed %llu", (unsigned long long)seed);
    }
    /* a full handshake with the ticket under loss too */
    cdtls_session_cache_clear(&e.client);
    sim_impair imp = {30, 10, 10, 99};
    cr_assert(!connect(&e, &e.sc, 1000, &imp, NULL));
    cr_assert(client_entry(&e), "the ticket arrived despite the loss");
}

Test(ticket, rotation_keeps_tickets_then_renews_then_forgets)
{
    env e;
    env_init(&e);
    const uint64_t hour = 3600u * 1000u;
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL));
    uint8_t first_name[16];
    memcpy(first_name, client_entry(&e)->session.ticket, 16);
    cr_assert_eq(memcmp(first_name, e.keys.keys[0].name, 16), 0, "sealed under the current key");

    /* the server makes its next ticket an hour later: a new key */
    cdtls_config plain = e.cc;
    plain.resumption.tickets = 0; /* a client that does not want tickets */
    plain.resumption.store = NULL;
    {
        sim_link s;
        e.clock_ms += hour;
        cr_assert_eq(sim_init_at(&s, &plain, &e.sc, NULL, e.clock_ms), CDTLS_OK);
        cr_assert(sim_run_handshake(&s, 60000));
        sim_free(&s);
    }
    cr_assert_eq(e.keys.sealed, 1, "no ticket for a client that did not ask");
    /* our client resumes: its ticket is under the old key, so it gets a new one */
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL), "a ticket under the previous key still opens");
    cr_assert_neq(memcmp(client_entry(&e)->session.ticket, first_name, 16), 0, "renewed under the new key");
    cr_assert_eq(memcmp(e.keys.keys[1].name, first_name, 16), 0, "the old key is kept");

    /* three more rotations: the key of the renewed ticket falls out */
    e.sc.resumption.lifetime_ms = 10u * 24u * 3600u * 1000u;
    e.cc.resumption.lifetime_ms = e.sc.resumption.lifetime_ms;
    uint8_t dummy_name[16] = {0}, dummy_key[32] = {0};
    for (int i = 0; i < 3; i++) {
        dummy_name[0] = (uint8_t)(i + 1);
        cr_assert_eq(cdtls_ticket_keys_add(&e.keys, dummy_name, dummy_key, e.clock_ms), CDTLS_OK);
    }
    uint64_t refused = e.keys.refused;
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL), "an unknown key name: a full handshake");
    cr_assert_eq(e.keys.refused, refused + 1);
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL), "with the ticket it just got, it resumes");
}

Test(ticket, tampered_or_expired_tickets_give_a_full_handshake)
{
    env e;
    env_init(&e);
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL));
    cdtls_session_cache_entry *ent = (cdtls_session_cache_entry *)client_entry(&e);
    size_t len = ent->session.ticket_len;
    /* one flipped bit anywhere: name, nonce, ciphertext, tag */
    const size_t where[] = {0, 15, 16, 27, 28, 40, len - 17, len - 1};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        ent = (cdtls_session_cache_entry *)client_entry(&e);
        cr_assert(ent);
        ent->session.ticket[where[i]] ^= 0x10;
        uint64_t refused = e.keys.refused;
        cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL), "flip at %zu: full handshake", where[i]);
        cr_assert_eq(e.keys.refused, refused + 1, "flip at %zu refused", where[i]);
    }
    /* expired: the server's lifetime bounds the session's age */
    e.sc.resumption.lifetime_ms = 5000;
    cr_assert(!connect(&e, &e.sc, 10000, NULL, NULL), "an old ticket is not accepted");
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL), "a fresh one is");
}

Test(ticket, a_cluster_shares_keys)
{
    env e;
    env_init(&e);
    static const uint8_t name[16] = "cluster-key-0001", key[32] = "0123456789abcdef0123456789abcde";
    cdtls_ticket_keys a, b;
    cr_assert_eq(cdtls_ticket_keys_init(&a, NULL, 0, e.clock_ms), CDTLS_OK);
    cr_assert_eq(cdtls_ticket_keys_init(&b, NULL, 0, e.clock_ms), CDTLS_OK);
    cr_assert_eq(cdtls_ticket_keys_add(&a, name, key, e.clock_ms), CDTLS_OK);
    cr_assert_eq(cdtls_ticket_keys_add(&b, name, key, e.clock_ms), CDTLS_OK);
    cdtls_config sa = e.sc, sb = e.sc;
    sa.resumption.ticket_keys = &a;
    sb.resumption.ticket_keys = &b;
    cr_assert(!connect(&e, &sa, 1000, NULL, NULL));
    cr_assert(connect(&e, &sb, 1000, NULL, NULL), "server b resumes server a's session");
    cdtls_ticket_keys lone;
    cr_assert_eq(cdtls_ticket_keys_init(&lone, NULL, 0, e.clock_ms), CDTLS_OK);
    cdtls_config sl = e.sc;
    sl.resumption.ticket_keys = &lone;
    cr_assert(!connect(&e, &sl, 1000, NULL, NULL), "a server with other keys does not");
    cdtls_ticket_keys_wipe(&a);
    for (size_t i = 0; i < CDTLS_TICKET_KEYS; i++)
        for (size_t j = 0; j < 32; j++) cr_assert_eq(a.keys[i].key[j], 0, "wiped");
}

Test(ticket, tickets_and_session_ids_together)
{
    env e;
    env_init(&e);
    cdtls_session_cache server;
    cdtls_session_cache_entry se[4];
    e.sc.resumption.store = cdtls_session_cache_init(&server, se, 4);
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL));
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL), "the ticket is preferred");
    cr_assert_eq(e.keys.opened, 1);
    /* a server without ticket keys: the client's session ID then does it */
    cdtls_config ids = e.sc;
    ids.resumption.ticket_keys = NULL;
    cdtls_session_cache_clear(&e.client);
    cr_assert(!connect(&e, &ids, 1000, NULL, NULL));
    cr_assert_gt(client_entry(&e)->session.id_len, 0, "the server's session ID");
    cr_assert_eq(client_entry(&e)->session.ticket_len, 0, "no ticket");
    cr_assert(connect(&e, &ids, 1000, NULL, NULL), "resumed by session ID");
}

Test(ticket, ems_and_suites_are_checked_as_for_session_ids)
{
    env e;
    env_init(&e);
    e.cc.negotiate.ems = e.sc.negotiate.ems = CDTLS_EMS_DISABLE;
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL));
    e.cc.negotiate.ems = e.sc.negotiate.ems = CDTLS_EMS_REQUEST;
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL), "RFC 7627 §5.3: not across a change of EMS");
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL));
}

/* The format itself: a round trip, and every altered byte refused. */
Test(ticket, format_round_trip_and_every_byte)
{
    cdtls_ticket_keys k;
    cr_assert_eq(cdtls_ticket_keys_init(&k, NULL, 0, 0), CDTLS_OK);
    cdtls_session s, out;
    memset(&s, 0, sizeof s);
    s.cipher_suite = 0xc0a8;
    s.ems = 1;
    s.created_ms = 0x0123456789abull;
    for (size_t i = 0; i < 48; i++) s.master_secret[i] = (uint8_t)(i * 7);
    memcpy(s.psk_identity, "id", 2);
    s.psk_identity_len = 2;
    uint8_t t[TICKET_MAX_OURS];
    size_t len = 0;
    cr_assert_eq(ticket_seal(&k, &s, 5, t, sizeof t, &len), CDTLS_OK);
    cr_assert_eq(len, 16 + 12 + 1 + 2 + 1 + 8 + 48 + 32 + 32 + 2 + 2 + 16);
    int old = 1;
    cr_assert_eq(ticket_open(&k, t, len, 5, &out, &old), CDTLS_OK);
    cr_assert_eq(old, 0);
    cr_assert_eq(out.cipher_suite, s.cipher_suite);
    cr_assert_eq(out.ems, 1);
    cr_assert_eq(out.created_ms, s.created_ms);
    cr_assert_eq(memcmp(out.master_secret, s.master_secret, 48), 0);
    cr_assert_eq(out.psk_identity_len, 2);
    for (size_t i = 0; i < len; i++) {
        t[i] ^= 1;
        cr_assert_neq(ticket_open(&k, t, len, 5, &out, &old), CDTLS_OK, "byte %zu", i);
        t[i] ^= 1;
    }
    for (size_t n = 0; n < len; n++)
        cr_assert_neq(ticket_open(&k, t, n, 5, &out, &old), CDTLS_OK, "length %zu", n);
    size_t small = 0;
    cr_assert_eq(ticket_seal(&k, &s, 5, t, len - 1, &small), CDTLS_ERR_BUFFER_TOO_SMALL);
    cdtls_ticket_keys_wipe(&k);
}

/* A server looking identities up through a callback: a ticket for an
 * identity it has since revoked does not resume (the session's PSK is
 * checked again, RFC 4279 §5 as in a full handshake). */
static int revoked;
static int server_psk(void *ctx, const uint8_t *id, size_t id_len, uint8_t *identity, size_t identity_cap,
                      size_t *identity_len, uint8_t *psk, size_t psk_cap, size_t *psk_len)
{
    (void)ctx, (void)identity, (void)identity_cap, (void)identity_len;
    if (revoked || id_len != 9 || memcmp(id, "sensor-17", 9) != 0 || psk_cap < sizeof t_psk)
        return CDTLS_ERR_UNKNOWN_PSK;
    memcpy(psk, t_psk, sizeof t_psk);
    *psk_len = sizeof t_psk;
    return CDTLS_OK;
}

Test(ticket, a_revoked_identity_is_not_resumed)
{
    env e;
    env_init(&e);
    e.sc.callbacks.psk = server_psk;
    revoked = 0;
    cr_assert(!connect(&e, &e.sc, 1000, NULL, NULL));
    cr_assert(connect(&e, &e.sc, 1000, NULL, NULL));
    revoked = 1;
    sim_link s;
    e.clock_ms += 1000;
    cr_assert_eq(sim_init_at(&s, &e.cc, &e.sc, NULL, e.clock_ms), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_resumed(s.server));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_UNKNOWN_PSK, "the full handshake refuses it: %s",
                 cdtls_strerror(cdtls_conn_error(s.server)));
    sim_free(&s);
}

/* NewSessionTicket codec (RFC 5077 §3.3): round trip, every truncation and
 * a trailing byte refused, an empty ticket accepted. */
Test(ticket, new_session_ticket_codec)
{
    static const uint8_t t[5] = {1, 2, 3, 4, 5};
    hs_new_session_ticket in = {7200, t, sizeof t}, out;
    uint8_t buf[32];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs_new_session_ticket_write(&w, &in), CDTLS_OK);
    cr_assert_eq(w.len, 4 + 2 + 5);
    cr_assert_eq(hs_new_session_ticket_parse(buf, w.len, &out), CDTLS_OK);
    cr_assert_eq(out.lifetime_hint_s, 7200);
    cr_assert(out.ticket_len == 5 && memcmp(out.ticket, t, 5) == 0);
    for (size_t n = 0; n < w.len; n++)
        cr_assert_neq(hs_new_session_ticket_parse(buf, n, &out), CDTLS_OK, "%zu", n);
    buf[w.len] = 0;
    cr_assert_neq(hs_new_session_ticket_parse(buf, w.len + 1, &out), CDTLS_OK, "trailing byte");
    static const uint8_t empty[6] = {0, 0, 0, 0, 0, 0};
    cr_assert_eq(hs_new_session_ticket_parse(empty, 6, &out), CDTLS_OK);
    cr_assert_eq(out.ticket_len, 0);
}
