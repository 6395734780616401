/* Session resumption by session ID (RFC 5246 §7.3): a second connection
 * resumes the first one's session in the abbreviated handshake (fewer
 * flights, same master secret), also over a lossy link; and it does not
 * resume when it must not: unknown or expired session, a change in the use
 * of the extended master secret, a suite no longer allowed, or a
 * corrupted secret (which must fail, not succeed). */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "sim_link.h"

static const uint8_t r_psk[16] = {0xfe, 0xed, 0xfa, 0xce, 0xca, 0xfe, 0xbe, 0xef,
                                  0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

typedef struct caches {
    cdtls_session_cache client, server;
    cdtls_session_cache_entry ce[4], se[8];
    const cdtls_session_store *cs, *ss;
} caches;

static void caches_init(caches *k)
{
    k->cs = cdtls_session_cache_init(&k->client, k->ce, 4);
    k->ss = cdtls_session_cache_init(&k->server, k->se, 8);
}

struct keylog {
    char line[256];
};

static void keep(void *ctx, const char *line)
{
    struct keylog *k = ctx;
    strncpy(k->line, line, sizeof k->line - 1);
}

static void r_configs(cdtls_config *cc, cdtls_config *sc, caches *k)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    /* 1.2's session-ID resumption (1.3's tickets: test_engine13_resume.c) */
    cc->versions.max = sc->versions.max = CDTLS_VERSION_1_2;
    cc->psk.key = sc->psk.key = r_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof r_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"again";
    cc->psk.identity_len = sc->psk.identity_len = 5;
    cc->server_name = "resume.example"; /* the client's key in its store */
    cc->resumption.store = k->cs;
    sc->resumption.store = k->ss;
}


/* One connection; returns whether it resumed; counts datagrams. Each one
 * starts a minute after the one before on the virtual clock (session ages
 * are measured on it). */
static uint64_t clock_ms = 1000;

static int session(cdtls_config *cc, cdtls_config *sc, const sim_impair *imp, size_t *dgrams)
{
    sim_link s;
    clock_ms += 60000;
    cr_assert_eq(sim_init_at(&s, cc, sc, imp, clock_ms), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 60000), "handshake: %s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    int resumed = cdtls_conn_resumed(s.client);
    cr_assert_eq(resumed, cdtls_conn_resumed(s.server), "both sides agree");
    cr_assert(sim_exchange(&s, 20));
    if (dgrams) *dgrams = s.sent[0] + s.sent[1];
    sim_free(&s);
    return resumed;
}

Test(resume, second_connection_resumes_with_fewer_datagrams)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    struct keylog k1 = {{0}}, k2 = {{0}};
    cc.callbacks.keylog = keep, cc.callbacks.user = &k1;
    size_t full = 0, abbreviated = 0;
    cr_assert(!session(&cc, &sc, NULL, &full), "the first one is a full handshake");
    cc.callbacks.user = &k2;
    cr_assert(session(&cc, &sc, NULL, &abbreviated), "the second resumes");
    cr_assert(abbreviated < full, "abbreviated: %zu datagrams, full: %zu", abbreviated, full);
    /* same master secret, new randoms */
    cr_assert_neq(strncmp(k1.line, k2.line, 14 + 64), 0, "new client random");
    cr_assert_str_eq(k1.line + 14 + 65, k2.line + 14 + 65, "same master secret");
    cr_assert(session(&cc, &sc, NULL, NULL), "and again");
}

Test(resume, over_a_lossy_link)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    cr_assert(!session(&cc, &sc, NULL, NULL));
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sim_impair imp = {30, 10, 10, seed};
        cr_assert(session(&cc, &sc, &imp, NULL), "seed %llu", (unsigned long long)seed);
    }
}

Test(resume, unknown_or_expired_sessions_run_a_full_handshake)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cdtls_session_cache_clear(&k.server); /* the server forgot */
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cr_assert(session(&cc, &sc, NULL, NULL), "the new session resumes");
    /* each session starts a minute later: a 30 s lifetime has run out */
    sc.resumption.lifetime_ms = 30000;
    cr_assert(!session(&cc, &sc, NULL, NULL), "expired on the server");
}

Test(resume, not_across_a_change_of_extended_master_secret)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    cc.negotiate.ems = sc.negotiate.ems = CDTLS_EMS_DISABLE;
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cc.negotiate.ems = sc.negotiate.ems = CDTLS_EMS_REQUEST;
    cr_assert(!session(&cc, &sc, NULL, NULL), "RFC 7627 §5.3: a session without EMS is not resumed with it");
    cr_assert(session(&cc, &sc, NULL, NULL), "the new (EMS) session is");
}

Test(resume, not_with_a_suite_no_longer_allowed)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    const cdtls_provider *p = cdtls_provider_default();
    uint16_t two[2] = {CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, CDTLS_PSK_WITH_AES_128_GCM_SHA256};
    if (!cdtls_cipher_suite_supported(p, two[1])) cr_skip_test("one PSK suite only here");
    sc.negotiate.cipher_suites = two, sc.negotiate.n_cipher_suites = 2;
    cr_assert(!session(&cc, &sc, NULL, NULL));
    sc.negotiate.cipher_suites = two + 1, sc.negotiate.n_cipher_suites = 1; /* the session's suite is gone */
    cr_assert(!session(&cc, &sc, NULL, NULL));
}

static int client_psk(void *ctx, const uint8_t *hint, size_t hint_len, uint8_t *identity, size_t identity_cap,
                      size_t *identity_len, uint8_t *psk, size_t psk_cap, size_t *psk_len)
{
    (void)ctx, (void)hint, (void)hint_len;
    if (identity_cap < 5 || psk_cap < sizeof r_psk) return CDTLS_ERR_UNKNOWN_PSK;
    memcpy(identity, "again", 5);
    *identity_len = 5;
    memcpy(psk, r_psk, sizeof r_psk);
    *psk_len = sizeof r_psk;
    return CDTLS_OK;
}

/* A server looks the PSK up again before it resumes: an identity it no
 * longer knows, or whose key changed, gets a full handshake (which then
 * fails or succeeds on its own terms); so does a client whose key changed. */
Test(resume, a_changed_or_revoked_psk_is_not_resumed)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cr_assert(session(&cc, &sc, NULL, NULL));
    static const uint8_t other[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    cc.psk.key = sc.psk.key = other; /* both sides rekeyed: the old session is not theirs */
    cr_assert(!session(&cc, &sc, NULL, NULL), "new key: a full handshake");
    cr_assert(session(&cc, &sc, NULL, NULL), "and the new session resumes");
    /* the server rekeys alone: the client offers, the server refuses, and
     * the full handshake then fails (the client still has the old key) */
    sc.psk.key = r_psk;
    sim_link s;
    clock_ms += 60000;
    cc.timers.handshake_timeout_ms = sc.timers.handshake_timeout_ms = 5000;
    cr_assert_eq(sim_init_at(&s, &cc, &sc, NULL, clock_ms), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_resumed(s.server), "not resumed under a key the server no longer has");
    sim_free(&s);
}

Test(resume, a_corrupted_secret_fails_the_handshake)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    /* with a PSK callback the client cannot re-check its session's PSK
     * binding before it offers (the callback wants the server's hint), so
     * the corrupted secret is offered, and must not lead anywhere */
    cc.callbacks.psk = client_psk, cc.callbacks.user = NULL;
    cr_assert(!session(&cc, &sc, NULL, NULL));
    for (size_t i = 0; i < 4; i++)
        if (k.ce[i].used) k.ce[i].session.master_secret[0] ^= 1;
    cc.timers.handshake_timeout_ms = sc.timers.handshake_timeout_ms = 8000;
    sim_link s;
    clock_ms += 60000;
    cr_assert_eq(sim_init_at(&s, &cc, &sc, NULL, clock_ms), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 20000), "different master secrets must not agree");
    /* the server's Finished does not authenticate for the client, so it is
     * dropped as any forged record would be (RFC 6347 §4.1.2.7): the
     * attempt ends in a timeout, not in success */
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_FAILED);
    cr_assert(cdtls_conn_error(s.client) == CDTLS_ERR_BAD_FINISHED ||
                  cdtls_conn_error(s.client) == CDTLS_ERR_HANDSHAKE_TIMEOUT,
              "client %s", cdtls_strerror(cdtls_conn_error(s.client)));
    cr_assert_neq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);
    /* RFC 5246 §7.2: the failed session is forgotten on both sides, so the
     * next connection runs a full handshake and succeeds */
    for (size_t i = 0; i < 4; i++) cr_assert(!k.ce[i].used, "client entry %zu dropped", i);
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cr_assert(session(&cc, &sc, NULL, NULL));
}

static size_t used_entries(const cdtls_session_cache_entry *e, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) u += e[i].used != 0;
    return u;
}

Test(resume, a_fatal_alert_invalidates_the_session)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    static const char *const srv[] = {"coap"}, *const cli_ok[] = {"coap"}, *const cli_bad[] = {"mqtt"};
    sc.alpn.protocols = srv, sc.alpn.n_protocols = 1;
    cc.alpn.protocols = cli_ok, cc.alpn.n_protocols = 1;
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cr_assert_eq(used_entries(k.se, 8), 1, "the server keeps the session");
    cr_assert_eq(used_entries(k.ce, 4), 1, "and so does the client");
    /* the resumption attempt ends in a fatal no_application_protocol
     * (RFC 7301 §3.2): RFC 5246 §7.2 says the session is then invalid */
    cc.alpn.protocols = cli_bad;
    sim_link s;
    clock_ms += 60000;
    cr_assert_eq(sim_init_at(&s, &cc, &sc, NULL, clock_ms), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_NO_APPLICATION_PROTOCOL);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_PEER_ALERT);
    sim_free(&s);
    cr_assert_eq(used_entries(k.se, 8), 0, "the server forgot it");
    cr_assert_eq(used_entries(k.ce, 4), 0, "the client forgot it");
    cc.alpn.protocols = cli_ok;
    cr_assert(!session(&cc, &sc, NULL, NULL), "so the next one is a full handshake");
    /* a clean close (close_notify is a warning) keeps the session */
    cr_assert(session(&cc, &sc, NULL, NULL));
}

Test(resume, session_cache_replaces_the_oldest_and_wipes)
{
    cdtls_session_cache cache;
    cdtls_session_cache_entry e[2];
    const cdtls_session_store *st = cdtls_session_cache_init(&cache, e, 2);
    cdtls_session s = {.id = {1}, .id_len = 1, .cipher_suite = 0x1301, .master_secret = {7}, .ems = 1}, out;
    cr_assert_eq(st->put(st->ctx, (const uint8_t *)"a", 1, &s), CDTLS_OK);
    s.id[0] = 2;
    cr_assert_eq(st->put(st->ctx, (const uint8_t *)"b", 1, &s), CDTLS_OK);
    s.id[0] = 3;
    cr_assert_eq(st->put(st->ctx, (const uint8_t *)"c", 1, &s), CDTLS_OK); /* replaces "a" */
    cr_assert_eq(st->get(st->ctx, (const uint8_t *)"a", 1, &out), CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(st->get(st->ctx, (const uint8_t *)"c", 1, &out), CDTLS_OK);
    cr_assert_eq(out.id[0], 3);
    st->del(st->ctx, (const uint8_t *)"c", 1);
    cr_assert_eq(st->get(st->ctx, (const uint8_t *)"c", 1, &out), CDTLS_ERR_UNSUPPORTED);
    for (size_t i = 0; i < 2; i++)
        if (!e[i].used) cr_assert_eq(e[i].session.master_secret[0], 0, "a removed entry is wiped");
}

/* RFC 6066 §3: a server "MUST NOT accept the request to resume the session
 * if the server_name extension contains a different name". The client's
 * session for one name is offered under another (as a confused or hostile
 * client might): the server runs a full handshake instead. */
Test(resume, not_under_another_server_name)
{
    caches k;
    caches_init(&k);
    cdtls_config cc, sc;
    r_configs(&cc, &sc, &k);
    cr_assert(!session(&cc, &sc, NULL, NULL));
    cr_assert(session(&cc, &sc, NULL, NULL), "same name: resumed");
    for (size_t i = 0; i < 4; i++)
        if (k.ce[i].used) {
            memcpy(k.ce[i].key, "other.example", 13);
            k.ce[i].key_len = 13;
        }
    cc.server_name = "other.example";
    cr_assert(!session(&cc, &sc, NULL, NULL), "another name: a full handshake");
    cr_assert(session(&cc, &sc, NULL, NULL), "whose session then resumes under that name");
}
