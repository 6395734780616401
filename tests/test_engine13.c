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

#undef CERT_TESTS
