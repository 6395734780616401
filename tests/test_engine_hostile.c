/* Hostile and broken input against the engine: each case checks the RFC's
 * behaviour (silent drop or the right alert) and that the connection state
 * is unharmed where the RFC says it must be. Leaks are caught by the
 * ASan/LSan build of the same tests. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "sim_link.h"

static const uint8_t psk_a[] = "0123456789abcdef";
static const uint8_t psk_b[] = "0123456789abcdeX";
static const char ident[] = "hostile-test";

static void configs(cdtls_config *cc, cdtls_config *sc, const uint16_t *suite)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = psk_a;
    cc->psk.key_len = sc->psk.key_len = 16;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)ident;
    cc->psk.identity_len = sc->psk.identity_len = sizeof ident - 1;
    cc->negotiate.cipher_suites = suite;
    cc->negotiate.n_cipher_suites = 1;
}

static const uint16_t chacha_psk = CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;

static void established(sim_link *s)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    cr_assert_eq(sim_init(s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(s, 10000));
}

/* Captures the next datagram the client sends (application data). */
static size_t capture_write(sim_link *s, const char *msg, uint8_t *out, size_t cap)
{
    size_t n = 0;
    cr_assert_eq(cdtls_conn_write(s->client, (const uint8_t *)msg, strlen(msg), NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(s->client, out, cap, &n, NULL), CDTLS_OK);
    return n;
}

static int read_one(cdtls_conn *c, const char *want)
{
    uint8_t buf[256];
    size_t n;
    if (cdtls_conn_read(c, buf, sizeof buf, &n, NULL) != CDTLS_OK) return 0;
    return n == strlen(want) && memcmp(buf, want, n) == 0;
}

Test(engine_hostile, replayed_record_is_dropped)
{
    sim_link s;
    established(&s);
    uint8_t d[256];
    size_t n = capture_write(&s, "once only", d, sizeof d);
    cr_assert_eq(sim_inject(&s, 1, d, n), CDTLS_OK);
    cr_assert_eq(sim_inject(&s, 1, d, n), CDTLS_OK); /* replay: RFC 6347 §4.1.2.6 */
    cr_assert(read_one(s.server, "once only"));
    uint8_t buf[64];
    size_t m;
    cr_assert_eq(cdtls_conn_read(s.server, buf, sizeof buf, &m, NULL), CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);
}

Test(engine_hostile, bad_mac_wrong_epoch_truncated_oversized_are_dropped)
{
    sim_link s;
    established(&s);
    uint8_t d[256], t[256];
    size_t n = capture_write(&s, "tampered", d, sizeof d);

    memcpy(t, d, n);
    t[n - 1] ^= 0x01; /* tag bit: bad MAC → silent drop (RFC 6347 §4.1.2.7) */
    cr_assert_eq(sim_inject(&s, 1, t, n), CDTLS_OK);
    memcpy(t, d, n);
    t[4] = 5; /* epoch 5: no keys */
    cr_assert_eq(sim_inject(&s, 1, t, n), CDTLS_OK);
    for (size_t cut = 0; cut < n; cut++) /* every truncation */
        cr_assert_eq(sim_inject(&s, 1, d, cut), CDTLS_OK);
    memcpy(t, d, n);
    t[11] = 0xff; /* length beyond the datagram */
    t[12] = 0xff;
    cr_assert_eq(sim_inject(&s, 1, t, n), CDTLS_OK);

    uint8_t buf[64];
    size_t m;
    cr_assert_eq(cdtls_conn_read(s.server, buf, sizeof buf, &m, NULL), CDTLS_ERR_WOULD_BLOCK);
    /* The real record still gets through afterwards: state unharmed. */
    cr_assert_eq(sim_inject(&s, 1, d, n), CDTLS_OK);
    cr_assert(read_one(s.server, "tampered"));
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);
}

Test(engine_hostile, oversized_record_is_dropped)
{
    sim_link s;
    established(&s);
    /* A record claiming 2^14 + 2049 bytes (over the ciphertext limit). */
    static uint8_t d[13 + 16384 + 2049];
    memset(d, 0, sizeof d);
    d[0] = 23, d[1] = 0xfe, d[2] = 0xfd, d[4] = 1, d[10] = 9;
    d[11] = (uint8_t)((16384 + 2049) >> 8), d[12] = (uint8_t)(16384 + 2049);
    cr_assert_eq(sim_inject(&s, 1, d, sizeof d), CDTLS_OK);
    cr_assert_eq(sim_inject(&s, 1, d, 13), CDTLS_OK); /* zero-length epoch-1 record */
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);
}

Test(engine_hostile, garbage_during_handshake_is_ignored)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    /* Every prefix of a real ClientHello, and noise, before the real one. */
    uint8_t ch[512];
    size_t n = 0;
    cdtls_conn *probe;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &probe), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(probe, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(probe, ch, sizeof ch, &n, NULL), CDTLS_OK);
    cdtls_conn_free(probe);
    for (size_t cut = 0; cut < n; cut++)
        cr_assert_eq(cdtls_conn_recv(s.server, ch, cut, NULL, s.now_ms), CDTLS_OK);
    uint8_t noise[300];
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (uint8_t)(sim_rand(&s) >> 24);
    cr_assert_eq(cdtls_conn_recv(s.server, noise, sizeof noise, NULL, s.now_ms), CDTLS_OK);
    noise[0] = 22, noise[1] = 0xfe, noise[2] = 0xfd; /* handshake header, garbage body */
    noise[11] = 0, noise[12] = 200;
    cr_assert_eq(cdtls_conn_recv(s.server, noise, 213, NULL, s.now_ms), CDTLS_OK);
    /* drop the HelloVerifyRequests the probes caused */
    uint8_t junk[2048];
    size_t jn;
    while (cdtls_conn_next_datagram(s.server, junk, sizeof junk, &jn, NULL) == CDTLS_OK) {
    }
    cr_assert(sim_run_handshake(&s, 10000));
    sim_free(&s);
}

Test(engine_hostile, wrong_psk_fails_the_handshake)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    cc.psk.key = psk_b;
    cc.timers.handshake_timeout_ms = sc.timers.handshake_timeout_ms = 20000;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 30000));
    sim_run(&s, 30000);
    /* The server cannot authenticate the client's Finished: the record is
     * dropped (RFC 6347 §4.1.2.7), no keys are confirmed, nobody is
     * established, and both time out. */
    cr_assert_neq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_HANDSHAKE_TIMEOUT);
    sim_free(&s);
}

Test(engine_hostile, unknown_identity_gets_alert)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    cc.psk.identity = (const uint8_t *)"nobody";
    cc.psk.identity_len = 6;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_UNKNOWN_PSK);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_PEER_ALERT);
    uint8_t level, desc;
    cr_assert(cdtls_conn_peer_alert(s.client, &level, &desc));
    cr_assert_eq(level, 2);
    cr_assert_eq(desc, 115); /* unknown_psk_identity, RFC 4279 §2 */
    sim_free(&s);
}

/* Rewrites the PSK identity hint in the (plaintext) ServerKeyExchange:
 * the client's transcript then differs from the server's. */
static int swap_hint(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    (void)ctx;
    if (to_server) return 1;
    for (size_t i = 0; i + 5 <= *len; i++)
        if (memcmp(d + i, "hintA", 5) == 0) d[i + 4] = 'B';
    return 1;
}

Test(engine_hostile, bad_finished_is_fatal)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    /* Without EMS the keys do not depend on the transcript, so the
     * tampered transcript shows up only in Finished. */
    cc.negotiate.ems = sc.negotiate.ems = CDTLS_EMS_DISABLE;
    sc.psk.hint = (const uint8_t *)"hintA";
    sc.psk.hint_len = 5;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    s.tamper = swap_hint;
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_BAD_FINISHED);
    uint8_t level, desc;
    cr_assert(cdtls_conn_peer_alert(s.client, &level, &desc));
    cr_assert_eq(desc, 51); /* decrypt_error, RFC 5246 §7.4.9 */
    sim_free(&s);
}

Test(engine_hostile, ems_policy_mismatch_fails)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    cc.negotiate.ems = CDTLS_EMS_DISABLE;
    sc.negotiate.ems = CDTLS_EMS_REQUIRE;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_EMS_REQUIRED);
    sim_free(&s);

    /* request on one side, disable on the other: works, without EMS */
    configs(&cc, &sc, &chacha_psk);
    cc.negotiate.ems = CDTLS_EMS_DISABLE;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_uses_ems(s.client) && !cdtls_conn_uses_ems(s.server));
    sim_free(&s);
}

Test(engine_hostile, no_common_suite)
{
    cdtls_config cc, sc;
    uint16_t only = CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256;
    configs(&cc, &sc, &chacha_psk);
    sc.negotiate.cipher_suites = &only;
    sc.negotiate.n_cipher_suites = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_HANDSHAKE_FAILURE);
    uint8_t level, desc;
    cr_assert(cdtls_conn_peer_alert(s.client, &level, &desc));
    cr_assert_eq(desc, 40); /* handshake_failure */
    sim_free(&s);
}

Test(engine_hostile, renegotiation_is_refused)
{
    sim_link s;
    established(&s);
    /* A fresh ClientHello after the handshake (epoch 0 from a new client
     * object is what a renegotiating or restarted peer looks like). */
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    cdtls_conn *probe;
    uint8_t ch[512];
    size_t n;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, s.now_ms, &probe), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(probe, s.now_ms), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(probe, ch, sizeof ch, &n, NULL), CDTLS_OK);
    cdtls_conn_free(probe);
    cr_assert_eq(cdtls_conn_recv(s.server, ch, n, NULL, s.now_ms), CDTLS_OK);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    cr_assert(sim_run_handshake(&s, 100)); /* still established both sides */
    uint8_t d[256];
    size_t dn = capture_write(&s, "still fine", d, sizeof d);
    cr_assert_eq(sim_inject(&s, 1, d, dn), CDTLS_OK);
    cr_assert(read_one(s.server, "still fine"));
    sim_free(&s);
}

/* ------------------------------------------------- stateless cookie check */

static size_t first_client_hello(const cdtls_config *cc, uint8_t *out, size_t cap)
{
    cdtls_conn *c;
    size_t n = 0;
    cr_assert_eq(cdtls_conn_new(cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(c, out, cap, &n, NULL), CDTLS_OK);
    cdtls_conn_free(c);
    return n;
}

Test(engine_cookie, verifier_issues_and_checks_cookies)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);

    /* Drive a real client through the verifier, then a server conn. */
    cdtls_conn *cl, *sv = NULL;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cl, 1000), CDTLS_OK);
    uint8_t d[2048], reply[512];
    size_t n, rn;
    cr_assert_eq(cdtls_conn_next_datagram(cl, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, n, 1000, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    cr_assert(rn > 13 + 12 && reply[0] == 22 && reply[13] == 3); /* HelloVerifyRequest */
    cr_assert_eq(cdtls_conn_recv(cl, reply, rn, NULL, 1001), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(cl, d, sizeof d, &n, NULL), CDTLS_OK);

    /* The same ClientHello from another address is refused: cookies are
     * bound to the address (cookie replay from elsewhere). */
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-2", 6, d, n, 1002, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    /* A forged cookie (one byte changed) is refused. */
    uint8_t forged[2048];
    memcpy(forged, d, n);
    /* cookie sits after record(13)+hs(12)+version(2)+random(32)+sid len(1)+sid(0)+cookie len(1) */
    forged[13 + 12 + 2 + 32 + 1 + 1] ^= 0x40;
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, forged, n, 1002, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    /* The right one passes, and still passes after one rotation... */
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, n, 1002, reply, sizeof reply, &rn), CDTLS_OK);
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, n, 1002 + sc.cookie.rotate_ms, reply,
                                            sizeof reply, &rn),
                 CDTLS_OK);
    /* ...but not after two. */
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, n, 1002 + 2 * sc.cookie.rotate_ms + 1, reply,
                                            sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);

    /* Garbage is dropped without a reply. */
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, 20, 1003, reply, sizeof reply, &rn),
                 CDTLS_ERR_DECODE);
    cr_assert_eq(rn, 0);

    /* Now a fresh exchange and a connection marked verified completes. */
    cdtls_conn_free(cl);
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 5000, &cl), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cl, 5000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(cl, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, n, 5000, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(cdtls_conn_recv(cl, reply, rn, NULL, 5001), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(cl, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_hello_verifier_check(v, "addr-1", 6, d, n, 5002, reply, sizeof reply, &rn), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 5002, &sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_cookie_verified(sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 5002), CDTLS_OK);
    /* shuttle until established */
    for (int i = 0; i < 10; i++) {
        while (cdtls_conn_next_datagram(sv, d, sizeof d, &n, NULL) == CDTLS_OK)
            cdtls_conn_recv(cl, d, n, NULL, 5003);
        while (cdtls_conn_next_datagram(cl, d, sizeof d, &n, NULL) == CDTLS_OK)
            cdtls_conn_recv(sv, d, n, NULL, 5003);
    }
    cr_assert_eq(cdtls_conn_get_state(cl), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(sv), CDTLS_STATE_ESTABLISHED);
    cdtls_conn_free(cl);
    cdtls_conn_free(sv);
    cdtls_hello_verifier_free(v);
    (void)first_client_hello;
}

Test(engine_cookie, conn_answers_forged_cookie_with_new_hvr)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, &chacha_psk);
    uint8_t d[1024];
    size_t n = first_client_hello(&cc, d, sizeof d);
    cdtls_conn *sv;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &sv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(sv, d, n, NULL, 1000), CDTLS_OK);
    uint8_t r[512];
    size_t rn;
    cr_assert_eq(cdtls_conn_next_datagram(sv, r, sizeof r, &rn, NULL), CDTLS_OK);
    cr_assert_eq(r[13], 3); /* HelloVerifyRequest, not ServerHello */
    cr_assert_eq(cdtls_conn_next_datagram(sv, r, sizeof r, &rn, NULL), CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(cdtls_conn_get_state(sv), CDTLS_STATE_HANDSHAKING);
    cdtls_conn_free(sv);
}
