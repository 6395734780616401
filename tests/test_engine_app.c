/* What the handshake negotiates for the application and what an
 * established connection exports: ALPN (RFC 7301), DTLS-SRTP (RFC 5764,
 * RFC 7714 profiles, MKI), the keying material exporter (RFC 5705), and the
 * NSS key log line. Our client against our server over the simulated link;
 * OpenSSL agrees with the same values in tests/test_interop.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "sim_link.h"

static const uint8_t app_psk[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

static void app_configs(cdtls_config *cc, cdtls_config *sc)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = app_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof app_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"app";
    cc->psk.identity_len = sc->psk.identity_len = 3;
}

static void handshake(sim_link *s, cdtls_config *cc, cdtls_config *sc)
{
    cr_assert_eq(sim_init(s, cc, sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(s, 10000), "handshake: client %s, server %s",
              cdtls_strerror(cdtls_conn_error(s->client)), cdtls_strerror(cdtls_conn_error(s->server)));
}

static int alpn_is(const cdtls_conn *c, const char *want)
{
    size_t n;
    const uint8_t *p = cdtls_conn_alpn(c, &n);
    if (!want) return p == NULL && n == 0;
    return p && n == strlen(want) && memcmp(p, want, n) == 0 && p[n] == 0;
}

/* ------------------------------------------------------------------ ALPN */

Test(alpn, server_preference_wins)
{
    static const char *const offer[] = {"h2", "webrtc", "coap"};
    static const char *const speaks[] = {"coap", "webrtc"};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.alpn.protocols = offer, cc.alpn.n_protocols = 3;
    sc.alpn.protocols = speaks, sc.alpn.n_protocols = 2;
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert(alpn_is(s.client, "coap") && alpn_is(s.server, "coap"));
    sim_free(&s);
}

Test(alpn, none_in_common_is_no_application_protocol)
{
    static const char *const offer[] = {"h2"};
    static const char *const speaks[] = {"webrtc"};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.alpn.protocols = offer, cc.alpn.n_protocols = 1;
    sc.alpn.protocols = speaks, sc.alpn.n_protocols = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_NO_APPLICATION_PROTOCOL);
    uint8_t level, desc;
    cr_assert(cdtls_conn_peer_alert(s.client, &level, &desc));
    cr_assert(level == 2 && desc == 120, "alert %u/%u", level, desc);
    sim_free(&s);
}

Test(alpn, ignored_when_one_side_has_none)
{
    static const char *const offer[] = {"webrtc"};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.alpn.protocols = offer, cc.alpn.n_protocols = 1; /* server: no ALPN */
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert(alpn_is(s.client, NULL) && alpn_is(s.server, NULL));
    sim_free(&s);
    app_configs(&cc, &sc);
    sc.alpn.protocols = offer, sc.alpn.n_protocols = 1; /* client: no ALPN */
    handshake(&s, &cc, &sc);
    cr_assert(alpn_is(s.client, NULL) && alpn_is(s.server, NULL));
    sim_free(&s);
}

static int pick_last(void *ctx, const uint8_t *const *offered, const size_t *len, size_t n, size_t *chosen)
{
    int *calls = ctx;
    (*calls)++;
    cr_assert_eq(n, 3);
    cr_assert(len[0] == 2 && memcmp(offered[0], "h2", 2) == 0);
    *chosen = n - 1;
    return CDTLS_OK;
}

static int decline(void *ctx, const uint8_t *const *offered, const size_t *len, size_t n, size_t *chosen)
{
    (void)ctx, (void)offered, (void)len, (void)n, (void)chosen;
    return CDTLS_ERR_UNSUPPORTED;
}

static int refuse(void *ctx, const uint8_t *const *offered, const size_t *len, size_t n, size_t *chosen)
{
    (void)ctx, (void)offered, (void)len, (void)n, (void)chosen;
    return CDTLS_ERR_HANDSHAKE_FAILURE;
}

Test(alpn, selection_callback)
{
    static const char *const offer[] = {"h2", "webrtc", "coap"};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.alpn.protocols = offer, cc.alpn.n_protocols = 3;
    int calls = 0;
    sc.callbacks.select_alpn = pick_last, sc.callbacks.user = &calls;
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert_eq(calls, 1);
    cr_assert(alpn_is(s.client, "coap") && alpn_is(s.server, "coap"));
    sim_free(&s);
    /* declining: no ALPN; refusing: no_application_protocol */
    sc.callbacks.select_alpn = decline;
    handshake(&s, &cc, &sc);
    cr_assert(alpn_is(s.client, NULL) && alpn_is(s.server, NULL));
    sim_free(&s);
    sc.callbacks.select_alpn = refuse;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_NO_APPLICATION_PROTOCOL);
    sim_free(&s);
}

Test(alpn, bad_configurations_are_refused)
{
    static const char *const empty[] = {""};
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const char *const too_long[] = {long_name};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cdtls_conn *c = NULL;
    cc.alpn.protocols = empty, cc.alpn.n_protocols = 1;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_ERR_INVALID_ARG);
    cc.alpn.protocols = too_long;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_ERR_INVALID_ARG);
    cc.alpn.protocols = NULL; /* n = 1 without a list */
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_ERR_INVALID_ARG);
    cr_assert_null(c);
}

/* The ServerHello is in the clear: a tampered one (a different protocol,
 * or an SRTP MKI that is not ours) must be refused by the client with
 * illegal_parameter, before any key is used. */
struct replace {
    const char *from, *to;
    size_t len;
    int done;
};

static int replace_in_server_hello(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    struct replace *r = ctx;
    if (to_server || r->done) return 1;
    for (size_t i = 0; i + r->len <= *len; i++)
        if (memcmp(data + i, r->from, r->len) == 0) {
            memcpy(data + i, r->to, r->len);
            r->done = 1;
            break;
        }
    return 1;
}

Test(alpn, client_refuses_a_protocol_it_did_not_offer)
{
    static const char *const offer[] = {"webrtc"};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.alpn.protocols = sc.alpn.protocols = offer;
    cc.alpn.n_protocols = sc.alpn.n_protocols = 1;
    sc.cookie.exchange = 0;              /* the first server datagram carries the ServerHello */
    cc.versions.max = CDTLS_VERSION_1_2; /* a 1.2 ServerHello (1.3 encrypts ALPN) */
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    struct replace r = {"webrtc", "webrtX", 6, 0};
    s.tamper = replace_in_server_hello, s.tamper_ctx = &r;
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert(r.done);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_ILLEGAL_PARAMETER);
    sim_free(&s);
}

/* ------------------------------------------------------------ DTLS-SRTP */

static void srtp_pair(const uint16_t *cp, size_t cn, const uint16_t *sp, size_t sn, const uint8_t *mki,
                      size_t mki_len, sim_link *s)
{
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.srtp.profiles = cp, cc.srtp.n_profiles = cn;
    sc.srtp.profiles = sp, sc.srtp.n_profiles = sn;
    cc.srtp.mki = mki, cc.srtp.mki_len = mki_len;
    handshake(s, &cc, &sc);
}

Test(srtp, every_profile_keys_agree)
{
    static const uint16_t profiles[] = {CDTLS_SRTP_AES128_CM_HMAC_SHA1_80, CDTLS_SRTP_AES128_CM_HMAC_SHA1_32,
                                        CDTLS_SRTP_NULL_HMAC_SHA1_80,      CDTLS_SRTP_NULL_HMAC_SHA1_32,
                                        CDTLS_SRTP_AEAD_AES_128_GCM,       CDTLS_SRTP_AEAD_AES_256_GCM};
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        sim_link s;
        srtp_pair(&profiles[i], 1, &profiles[i], 1, NULL, 0, &s);
        cr_assert_eq(cdtls_conn_srtp_profile(s.client), profiles[i]);
        cr_assert_eq(cdtls_conn_srtp_profile(s.server), profiles[i]);
        cdtls_srtp_keys a, b;
        cr_assert_eq(cdtls_conn_srtp_keys(s.client, &a), CDTLS_OK);
        cr_assert_eq(cdtls_conn_srtp_keys(s.server, &b), CDTLS_OK);
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "%s", cdtls_srtp_profile_name(profiles[i]));
        size_t k, sl;
        cr_assert_eq(cdtls_srtp_profile_lengths(profiles[i], &k, &sl), CDTLS_OK);
        cr_assert(a.key_len == k && a.salt_len == sl);
        /* RFC 5764 §4.2: the four parts, in order, of one export */
        uint8_t block[2 * (32 + 14)];
        cr_assert_eq(cdtls_conn_export_keying_material(s.client, "EXTRACTOR-dtls_srtp", NULL, 0, 0, block,
                                                       2 * (k + sl)),
                     CDTLS_OK);
        cr_assert_arr_eq(a.client_key, block, k);
        cr_assert_arr_eq(a.server_key, block + k, k);
        cr_assert_arr_eq(a.client_salt, block + 2 * k, sl);
        cr_assert_arr_eq(a.server_salt, block + 2 * k + sl, sl);
        cr_assert_neq(memcmp(a.client_key, a.server_key, k), 0);
        sim_free(&s);
    }
}

Test(srtp, server_preference_and_mki_echo)
{
    static const uint16_t offer[] = {CDTLS_SRTP_AEAD_AES_128_GCM, CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};
    static const uint16_t speaks[] = {CDTLS_SRTP_AES128_CM_HMAC_SHA1_80, CDTLS_SRTP_AEAD_AES_128_GCM};
    static const uint8_t mki[] = {0xde, 0xad, 0xbe};
    sim_link s;
    srtp_pair(offer, 2, speaks, 2, mki, sizeof mki, &s);
    cr_assert_eq(cdtls_conn_srtp_profile(s.client), CDTLS_SRTP_AES128_CM_HMAC_SHA1_80);
    size_t n1, n2;
    const uint8_t *m1 = cdtls_conn_srtp_mki(s.client, &n1), *m2 = cdtls_conn_srtp_mki(s.server, &n2);
    cr_assert(m1 && m2 && n1 == 3 && n2 == 3);
    cr_assert_arr_eq(m1, mki, 3);
    cr_assert_arr_eq(m2, mki, 3);
    sim_free(&s);
}

Test(srtp, no_common_profile_goes_on_without)
{
    static const uint16_t offer[] = {CDTLS_SRTP_AEAD_AES_256_GCM};
    static const uint16_t speaks[] = {CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};
    sim_link s;
    srtp_pair(offer, 1, speaks, 1, NULL, 0, &s);
    cr_assert_eq(cdtls_conn_srtp_profile(s.client), 0);
    cr_assert_eq(cdtls_conn_srtp_profile(s.server), 0);
    cdtls_srtp_keys k;
    cr_assert_eq(cdtls_conn_srtp_keys(s.client, &k), CDTLS_ERR_BAD_STATE);
    sim_free(&s);
}

Test(srtp, client_refuses_a_changed_mki)
{
    static const uint16_t p[] = {CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};
    static const uint8_t mki[] = {'M', 'K', 'I', '1'};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.srtp.profiles = sc.srtp.profiles = p;
    cc.srtp.n_profiles = sc.srtp.n_profiles = 1;
    cc.srtp.mki = mki, cc.srtp.mki_len = sizeof mki;
    sc.cookie.exchange = 0;
    cc.versions.max = CDTLS_VERSION_1_2; /* a 1.2 ServerHello (1.3 encrypts use_srtp) */
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    struct replace r = {"MKI1", "MKI2", 4, 0};
    s.tamper = replace_in_server_hello, s.tamper_ctx = &r;
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert(r.done);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_ILLEGAL_PARAMETER);
    sim_free(&s);
}

Test(srtp, unknown_profiles_in_the_config_are_refused)
{
    static const uint16_t bad[] = {0x0003};
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.srtp.profiles = bad, cc.srtp.n_profiles = 1;
    cdtls_conn *c = NULL;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_srtp_profile_lengths(0x0003, NULL, NULL), CDTLS_ERR_UNSUPPORTED);
}

/* ------------------------------------------------------------- exporter */

Test(exporter, both_sides_agree_and_inputs_matter)
{
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    cc.versions.max = CDTLS_VERSION_1_2; /* RFC 5705 (in 1.3 no context = empty context) */
    sim_link s;
    handshake(&s, &cc, &sc);
    uint8_t a[48], b[48], nocontext[48], emptycontext[48], other[48];
    static const uint8_t ctx[] = "session-42";
    cr_assert_eq(cdtls_conn_export_keying_material(s.client, "EXPERIMENTAL-cdtls", ctx, 10, 1, a, 48),
                 CDTLS_OK);
    cr_assert_eq(cdtls_conn_export_keying_material(s.server, "EXPERIMENTAL-cdtls", ctx, 10, 1, b, 48),
                 CDTLS_OK);
    cr_assert_arr_eq(a, b, 48);
    cr_assert_eq(cdtls_conn_export_keying_material(s.client, "EXPERIMENTAL-cdtls", NULL, 0, 0, nocontext, 48),
                 CDTLS_OK);
    cr_assert_eq(
        cdtls_conn_export_keying_material(s.client, "EXPERIMENTAL-cdtls", NULL, 0, 1, emptycontext, 48),
        CDTLS_OK);
    cr_assert_eq(cdtls_conn_export_keying_material(s.client, "EXPERIMENTAL-other", ctx, 10, 1, other, 48),
                 CDTLS_OK);
    cr_assert_neq(memcmp(a, nocontext, 48), 0);
    cr_assert_neq(memcmp(nocontext, emptycontext, 48), 0,
                  "RFC 5705 §4: no context differs from an empty one");
    cr_assert_neq(memcmp(a, other, 48), 0);
    /* a shorter export is a prefix (the PRF is a stream) */
    uint8_t shorter[20];
    cr_assert_eq(cdtls_conn_export_keying_material(s.server, "EXPERIMENTAL-cdtls", ctx, 10, 1, shorter, 20),
                 CDTLS_OK);
    cr_assert_arr_eq(shorter, a, 20);
    /* reserved labels and bad arguments */
    static const char *const reserved[] = {"client finished", "server finished", "master secret",
                                           "extended master secret", "key expansion"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(cdtls_conn_export_keying_material(s.client, reserved[i], NULL, 0, 0, a, 16),
                     CDTLS_ERR_INVALID_ARG, "%s", reserved[i]);
    cr_assert_eq(cdtls_conn_export_keying_material(s.client, "", NULL, 0, 0, a, 16), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_export_keying_material(s.client, "x", NULL, 0, 0, a, 0), CDTLS_ERR_INVALID_ARG);
    sim_free(&s);
}

Test(exporter, not_before_the_handshake_completes)
{
    cdtls_config cc;
    cdtls_config_init(&cc);
    cc.psk.key = app_psk, cc.psk.key_len = sizeof app_psk;
    cc.psk.identity = (const uint8_t *)"app", cc.psk.identity_len = 3;
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 0), CDTLS_OK);
    uint8_t out[16];
    cr_assert_eq(cdtls_conn_export_keying_material(c, "EXPERIMENTAL-cdtls", NULL, 0, 0, out, 16),
                 CDTLS_ERR_BAD_STATE);
    cdtls_conn_free(c);
}

/* -------------------------------------------------------------- key log */

struct keylog {
    char line[256];
    int calls;
};

static void keep_line(void *ctx, const char *line)
{
    struct keylog *k = ctx;
    k->calls++;
    snprintf(k->line, sizeof k->line, "%s", line);
}

Test(keylog, one_nss_line_per_side_and_the_same)
{
    cdtls_config cc, sc;
    app_configs(&cc, &sc);
    struct keylog kc = {{0}, 0}, ks = {{0}, 0};
    cc.versions.max = CDTLS_VERSION_1_2; /* the 1.2 CLIENT_RANDOM line (1.3 logs five secrets) */
    cc.callbacks.keylog = keep_line, cc.callbacks.user = &kc;
    sc.callbacks.keylog = keep_line, sc.callbacks.user = &ks;
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert(kc.calls == 1 && ks.calls == 1);
    cr_assert_str_eq(kc.line, ks.line);
    /* "CLIENT_RANDOM " + 64 hex + " " + 96 hex */
    cr_assert_eq(strlen(kc.line), 14 + 64 + 1 + 96);
    cr_assert_eq(strncmp(kc.line, "CLIENT_RANDOM ", 14), 0);
    for (size_t i = 14; i < strlen(kc.line); i++)
        cr_assert(kc.line[i] == ' ' ? i == 14 + 64 : strchr("0123456789abcdef", kc.line[i]) != NULL);
    sim_free(&s);
}
