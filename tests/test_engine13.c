/* DTLS 1.3 (RFC 9147) between our client and our server over the
 * simulated link: version negotiation (1.3 by default, 1.2 when either side
 * is limited to it, the downgrade sentinel), every 1.3 suite the provider
 * has with an external PSK (psk_dhe_ke, psk_ke) and with certificates
 * (ECDSA P-256/P-384, Ed25519, RSA-PSS), client authentication, the
 * HelloRetryRequest with and without cookie, groups, loss and small MTUs,
 * the key log and the exporter, and hostile input. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "sim_link.h"
#include "engine/hs13_internal.h"
#include "test_util.h"

#define V12 CDTLS_VERSION_1_2
#define V13 CDTLS_VERSION_1_3

static const uint8_t psk[] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                              0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static const char ident[] = "cdtls13-client";

static void psk_configs(cdtls_config *cc, cdtls_config *sc)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = psk;
    cc->psk.key_len = sc->psk.key_len = sizeof psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)ident;
    cc->psk.identity_len = sc->psk.identity_len = sizeof ident - 1;
}

static int roundtrip(sim_link *s, int from_client, const char *msg)
{
    cdtls_conn *from = from_client ? s->client : s->server;
    cdtls_conn *to = from_client ? s->server : s->client;
    size_t len = strlen(msg);
    if (cdtls_conn_write(from, (const uint8_t *)msg, len, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t buf[2048];
    size_t n = 0;
    if (cdtls_conn_read(to, buf, sizeof buf, &n, NULL) != CDTLS_OK) return 0;
    return n == len && memcmp(buf, msg, len) == 0;
}

static void assert_handshake(sim_link *s, uint64_t budget)
{
    cr_assert(sim_run_handshake(s, budget), "handshake failed: client %s, server %s",
              cdtls_strerror(cdtls_conn_error(s->client)), cdtls_strerror(cdtls_conn_error(s->server)));
}

/* ------------------------------------------------------------------ PSK */

static int suite_in_provider(uint16_t suite)
{
    /* a 1.3 handshake offering only this suite: the provider has it if the
     * client can write a hello at all */
    cdtls_config cc;
    cdtls_config_init(&cc);
    cc.psk.key = psk, cc.psk.key_len = sizeof psk;
    cc.psk.identity = (const uint8_t *)ident, cc.psk.identity_len = 1;
    cc.negotiate.cipher_suites = &suite;
    cc.negotiate.n_cipher_suites = 1;
    cc.versions.min = V13;
    cdtls_conn *c;
    if (cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c) != CDTLS_OK) return 0;
    int ok = cdtls_conn_start(c, 0) == CDTLS_OK;
    cdtls_conn_free(c);
    return ok;
}

static void psk_session(uint16_t suite)
{
    if (!suite_in_provider(suite))
        cr_skip_test("0x%04x not in provider %s", suite, cdtls_provider_default()->name);
    cdtls_config cc, sc;
    psk_configs(&cc, &sc);
    cc.negotiate.cipher_suites = &suite;
    cc.negotiate.n_cipher_suites = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    assert_handshake(&s, 10000);
    cr_assert_eq(cdtls_conn_version(s.client), V13);
    cr_assert_eq(cdtls_conn_version(s.server), V13);
    cr_assert_eq(cdtls_conn_cipher_suite(s.client), suite);
    cr_assert_eq(cdtls_conn_cipher_suite(s.server), suite);
    size_t idl = 0;
    const uint8_t *id = cdtls_conn_psk_identity(s.server, &idl);
    cr_assert(id && idl == sizeof ident - 1 && memcmp(id, ident, idl) == 0);
    cr_assert(roundtrip(&s, 1, "hello over dtls 1.3"));
    cr_assert(roundtrip(&s, 0, "and back"));
    sim_free(&s);
}

Test(engine13, psk_aes128gcm)
{
    psk_session(0x1301);
}
Test(engine13, psk_aes256gcm)
{
    psk_session(0x1302);
}
Test(engine13, psk_chacha20)
{
    psk_session(0x1303);
}
Test(engine13, psk_aes128ccm)
{
    psk_session(0x1304);
}


/* psk_ke (RFC 8446 §4.2.9): a client with no groups offers the PSK alone. */
Test(engine13, psk_ke_without_groups)
{
    cdtls_config cc, sc;
    psk_configs(&cc, &sc);
    static const uint16_t none[1] = {0};
    cc.negotiate.groups = none, cc.negotiate.n_groups = 0;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    assert_handshake(&s, 10000);
    cr_assert_eq(cdtls_conn_version(s.client), V13);
    cr_assert(roundtrip(&s, 1, "psk_ke"));
    sim_free(&s);
}

/* A PSK the server does not know: no 1.3 authentication is possible, the
 * client's hello also offers 1.2 whose PSK identity comes later; a 1.3
 * client refuses the downgrade (the sentinel) and nothing completes. */
Test(engine13, wrong_psk_fails)
{
    cdtls_config cc, sc;
    psk_configs(&cc, &sc);
    static const uint8_t other[] = "another key 16by";
    sc.psk.key = other;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    sim_free(&s);
}

/* ---------------------------------------------------------- versions */

static void version_case(uint16_t cmin, uint16_t cmax, uint16_t smin, uint16_t smax, uint16_t want)
{
    cdtls_config cc, sc;
    psk_configs(&cc, &sc);
    cc.versions.min = cmin, cc.versions.max = cmax;
    sc.versions.min = smin, sc.versions.max = smax;
    /* 1.2 PSK suites too, so a 1.2 handshake has something to agree on */
    static const uint16_t suites[] = {0x1301, 0x1303, CDTLS_PSK_WITH_AES_128_GCM_SHA256,
                                      CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, CDTLS_PSK_WITH_AES_128_CCM_8};
    cc.negotiate.cipher_suites = sc.negotiate.cipher_suites = suites;
    cc.negotiate.n_cipher_suites = sc.negotiate.n_cipher_suites = sizeof suites / sizeof suites[0];
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    int ok = sim_run_handshake(&s, 10000);
    if (!want) {
        cr_assert(!ok, "versions %04x-%04x vs %04x-%04x must fail", cmin, cmax, smin, smax);
    } else {
        cr_assert(ok, "versions %04x-%04x vs %04x-%04x: client %s, server %s", cmin, cmax, smin, smax,
                  cdtls_strerror(cdtls_conn_error(s.client)), cdtls_strerror(cdtls_conn_error(s.server)));
        cr_assert_eq(cdtls_conn_version(s.client), want);
        cr_assert_eq(cdtls_conn_version(s.server), want);
        cr_assert(roundtrip(&s, 1, "versions"));
    }
    sim_free(&s);
}

Test(engine13, versions_default_is_13)
{
    version_case(0, 0, 0, 0, V13);
}
Test(engine13, versions_client_12_only)
{
    version_case(0, V12, 0, 0, V12);
}
Test(engine13, versions_server_12_only)
{
    version_case(0, 0, 0, V12, V12);
}
Test(engine13, versions_13_only_both)
{
    version_case(V13, V13, V13, V13, V13);
}
Test(engine13, versions_13_only_client_vs_12_server_fails)
{
    version_case(V13, V13, 0, V12, 0);
}
Test(engine13, versions_12_client_vs_13_only_server_fails)
{
    version_case(0, V12, V13, 0, 0);
}

Test(engine13, versions_config_checked)
{
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cdtls_context *x = NULL;
    cfg.versions.min = V13, cfg.versions.max = V12; /* min above max */
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    cfg.versions.min = 0xfeff, cfg.versions.max = 0; /* DTLS 1.0 */
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    cfg.versions.min = 0, cfg.versions.max = 0x0304; /* a TLS number */
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    cfg.versions.min = V12, cfg.versions.max = V13;
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_OK);
    cdtls_context_free(x);
    /* a caller built against the header before `versions` existed */
    cdtls_config old;
    cdtls_config_init(&old);
    old.size = offsetof(cdtls_config, versions);
    cr_assert_eq(cdtls_context_new(&old, &x), CDTLS_OK);
    cr_assert_eq(cdtls_context_config(x)->versions.max, 0);
    cdtls_context_free(x);
}

/* Downgrade protection (RFC 8446 §4.1.3): someone takes 1.3 out of our
 * hello's supported_versions; the server, which speaks 1.3, answers 1.2
 * and marks its random; our client sees the mark and refuses. */
static int strip_13(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    int *n = ctx;
    if (!to_server) return 0;
    static const uint8_t sv[] = {0x00, 0x2b, 0x00, 0x05, 0x04, 0xfe, 0xfc, 0xfe, 0xfd};
    for (size_t i = 0; i + sizeof sv <= *len; i++)
        if (memcmp(d + i, sv, sizeof sv) == 0) {
            d[i + 5] = 0x0a, d[i + 6] = 0x0a; /* an unknown version in its place */
            (*n)++;
        }
    return 0;
}

/* Moves every queued datagram from a to b (through tamper when given). */
static int pass(cdtls_conn *a, cdtls_conn *b, uint64_t now, int (*tamper)(void *, int, uint8_t *, size_t *),
                void *ctx, int to_server)
{
    uint8_t d[2048];
    size_t n;
    int moved = 0;
    while (cdtls_conn_next_datagram(a, d, sizeof d, &n, NULL) == CDTLS_OK) {
        if (tamper) tamper(ctx, to_server, d, &n);
        (void)cdtls_conn_recv(b, d, n, NULL, now);
        moved++;
    }
    return moved;
}

Test(engine13, downgrade_by_stripping_13_is_detected)
{
    cdtls_config cc, sc;
    psk_configs(&cc, &sc);
    static const uint16_t suites[] = {0x1301, CDTLS_PSK_WITH_AES_128_GCM_SHA256,
                                      CDTLS_PSK_WITH_AES_128_CCM_8};
    cc.negotiate.cipher_suites = sc.negotiate.cipher_suites = suites;
    cc.negotiate.n_cipher_suites = sc.negotiate.n_cipher_suites = 3;
    sc.cookie.exchange = 0;
    cdtls_conn *c, *sv;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    int n = 0;
    cr_assert(pass(c, sv, 1001, strip_13, &n, 1));
    cr_assert_eq(n, 1, "the hello's supported_versions was found");
    cr_assert(pass(sv, c, 1002, NULL, NULL, 0)); /* a 1.2 ServerHello flight, with the sentinel */
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(c), CDTLS_ERR_ILLEGAL_PARAMETER, "client: %s",
                 cdtls_strerror(cdtls_conn_error(c)));
    cdtls_conn_free(c);
    cdtls_conn_free(sv);
}
