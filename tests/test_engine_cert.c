/* Certificate handshakes between our client and our server over the
 * simulated link, with certificates made by openssl at test time
 * (tests/x509/make-certs.sh): ECDSA P-256 chain of depth 3, RSA-2048,
 * Ed25519; every certificate suite the provider can do; and the client's
 * refusals (wrong host, unknown CA, expired, pin mismatch, callback). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "sim_link.h"

static char dir[64];
typedef struct blob {
    uint8_t b[8192];
    size_t n;
} blob;
static blob files[12];
static size_t n_files;

static void setup(void)
{
    test_certs_make(dir, sizeof dir, "ecert");
    n_files = 0;
}

static void teardown(void)
{
    test_certs_remove(dir);
}

static blob *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert(n_files < 12);
    blob *b = &files[n_files++];
    b->n = fread(b->b, 1, sizeof b->b, f);
    fclose(f);
    return b;
}

static int64_t fixed_now;
static int64_t clock_cb(void *ctx)
{
    (void)ctx;
    return fixed_now;
}

typedef struct ident {
    const uint8_t *chain[2];
    size_t lens[2];
    size_t n;
    cdtls_sign_key *key;
    cdtls_x509_cert anchor;
} ident;

/* Server identity (leaf [+ intermediate], key) and the anchor a client trusts. */
static void identity(ident *id, const char *leaf, const char *inter, const char *key, const char *root)
{
    memset(id, 0, sizeof *id);
    blob *l = slurp(leaf);
    id->chain[0] = l->b, id->lens[0] = l->n, id->n = 1;
    if (inter) {
        blob *i = slurp(inter);
        id->chain[1] = i->b, id->lens[1] = i->n, id->n = 2;
    }
    blob *k = slurp(key);
    int rc = cdtls_private_key_load(cdtls_provider_default(), NULL, k->b, k->n, &id->key);
    cr_assert_eq(rc, CDTLS_OK, "%s: %s", key, cdtls_strerror(rc));
    blob *r = slurp(root);
    cr_assert_eq(cdtls_x509_parse(r->b, r->n, &id->anchor), CDTLS_OK);
    cdtls_x509_cert leafc;
    cr_assert_eq(cdtls_x509_parse(l->b, l->n, &leafc), CDTLS_OK);
    fixed_now = leafc.not_before + 3600;
}

static void configs(const ident *id, cdtls_config *cc, cdtls_config *sc, const char *host,
                    const uint16_t *suite)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    sc->credentials.chain = id->chain;
    sc->credentials.chain_len = id->lens;
    sc->credentials.n_certs = id->n;
    sc->credentials.private_key = id->key;
    cc->verify.trust_anchors = &id->anchor;
    cc->verify.n_trust_anchors = 1;
    cc->server_name = host;
    cc->callbacks.unix_time = clock_cb;
    if (suite) {
        cc->negotiate.cipher_suites = suite;
        cc->negotiate.n_cipher_suites = 1;
    }
}

static void done(ident *id)
{
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), id->key);
}

static int echo_ok(sim_link *s)
{
    if (cdtls_conn_write(s->client, (const uint8_t *)"cert ok", 7, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t buf[16];
    size_t n;
    return cdtls_conn_read(s->server, buf, sizeof buf, &n, NULL) == CDTLS_OK && n == 7;
}

static void handshake_with(const char *leaf, const char *inter, const char *key, const char *root,
                           const char *host, uint16_t suite)
{
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), suite))
        cr_skip_test("%s not supported by %s", cdtls_cipher_suite_name(suite),
                     cdtls_provider_default()->name);
    const cdtls_provider *p = cdtls_provider_default();
    if ((strncmp(leaf, "rsa", 3) == 0 && !p->sig[CDTLS_SIG_RSA_PKCS1_SHA256]) ||
        (strncmp(leaf, "leaf", 4) == 0 && !p->sig[CDTLS_SIG_ECDSA_SHA256]))
        cr_skip_test("%s cannot sign with the key of %s", p->name, leaf);
    ident id;
    identity(&id, leaf, inter, key, root);
    int64_t now = fixed_now;
    /* without and then with a client certificate (the same identity: a
     * certificate without EKU, or with clientAuth, may authenticate a client) */
    for (int with_client = 0; with_client < 2; with_client++) {
        ident cli;
        cdtls_config cc, sc;
        configs(&id, &cc, &sc, host, &suite);
        if (with_client) {
            int ecdsa_chain = strncmp(leaf, "leaf", 4) == 0;
            identity(&cli, ecdsa_chain ? "clientonly.der" : leaf, inter, key, root);
            cc.credentials.chain = cli.chain, cc.credentials.chain_len = cli.lens,
            cc.credentials.n_certs = cli.n;
            cc.credentials.private_key = cli.key;
            sc.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
            sc.verify.trust_anchors = &id.anchor;
            sc.verify.n_trust_anchors = 1;
            sc.callbacks.unix_time = clock_cb;
            fixed_now = now;
        }
        sim_link s;
        cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
        int ok = sim_run_handshake(&s, 10000);
        cr_assert(ok, "%s (client cert %d): client %s, server %s", cdtls_cipher_suite_name(suite),
                  with_client, cdtls_strerror(cdtls_conn_error(s.client)),
                  cdtls_strerror(cdtls_conn_error(s.server)));
        cr_assert_eq(cdtls_conn_cipher_suite(s.client), suite);
        size_t n;
        const cdtls_x509_cert *chain = cdtls_conn_peer_certificates(s.client, &n);
        cr_assert(chain && n == id.n, "the client sees the server's chain");
        cdtls_conn_peer_certificates(s.server, &n);
        cr_assert_eq(n, with_client ? cli.n : 0, "the server sees the client's chain");
        cr_assert(echo_ok(&s));
        sim_free(&s);
        if (with_client) done(&cli);
    }
    done(&id);
}

TestSuite(engine_cert, .init = setup, .fini = teardown, .timeout = 60);

#define ECDSA(name, suite)                                                                          \
    Test(engine_cert, ecdsa_##name)                                                                 \
    {                                                                                               \
        handshake_with("leaf.der", "int.der", "leaf.key", "root.der", "server.example.com", suite); \
    }
#define RSA(name, suite)                                                                             \
    Test(engine_cert, rsa_##name)                                                                    \
    {                                                                                                \
        handshake_with("rsaleaf.der", NULL, "rsaleaf.key", "rsaroot.der", "rsa.example.com", suite); \
    }

ECDSA(aes_128_gcm, CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
ECDSA(aes_256_gcm, CDTLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
ECDSA(chacha20, CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
ECDSA(aes_128_ccm, CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM)
ECDSA(aes_128_ccm_8, CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM_8)
ECDSA(aes_128_cbc_sha, CDTLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA)
ECDSA(aes_256_cbc_sha, CDTLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA)
RSA(aes_128_gcm, CDTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
RSA(aes_256_gcm, CDTLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
RSA(chacha20, CDTLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
RSA(aes_128_cbc_sha, CDTLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)
RSA(aes_256_cbc_sha, CDTLS_ECDHE_RSA_WITH_AES_256_CBC_SHA)

/* Ed25519 certificates with ECDHE-ECDSA-CHACHA20 over X25519 (RFC 8422):
 * the combination a sodium build speaks. The self-signed certificate is
 * its own anchor. */
Test(engine_cert, ed25519_chacha20)
{
    if (!cdtls_provider_default()->sig[CDTLS_SIG_ED25519]) cr_skip_test("no Ed25519 in this provider");
    handshake_with("ed.der", NULL, "ed.key", "ed.der", "ed.example.com",
                   CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
}

static void expect_refusal(const char *host, int64_t shift, const char *root, int want_err,
                           uint8_t want_alert)
{
    if (!cdtls_provider_default()->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("no ECDSA");
    ident id;
    identity(&id, "leaf.der", "int.der", "leaf.key", root);
    fixed_now += shift;
    cdtls_config cc, sc;
    configs(&id, &cc, &sc, host, NULL);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.client), want_err, "got %s", cdtls_strerror(cdtls_conn_error(s.client)));
    uint8_t level, desc;
    cr_assert(cdtls_conn_peer_alert(s.server, &level, &desc), "the server was told");
    cr_assert_eq(desc, want_alert);
    sim_free(&s);
    done(&id);
}

Test(engine_cert, wrong_host_refused)
{
    expect_refusal("evil.example.com", 0, "root.der", CDTLS_ERR_CERT_HOSTNAME, 42);
}
Test(engine_cert, unknown_ca_refused)
{
    expect_refusal("server.example.com", 0, "otherroot.der", CDTLS_ERR_CERT_UNTRUSTED, 48);
}
Test(engine_cert, expired_refused)
{
    expect_refusal("server.example.com", 400LL * 86400, "root.der", CDTLS_ERR_CERT_EXPIRED, 45);
}

static int reject_all(void *ctx, const cdtls_x509_cert *chain, size_t n, int def)
{
    (void)ctx, (void)chain, (void)n;
    return def == CDTLS_OK ? CDTLS_ERR_CERT_REJECTED : def;
}

static int accept_if_two(void *ctx, const cdtls_x509_cert *chain, size_t n, int def)
{
    (void)chain, (void)def;
    *(int *)ctx = (int)n;
    return n == 2 ? CDTLS_OK : CDTLS_ERR_CERT_REJECTED;
}

Test(engine_cert, pins_and_callbacks)
{
    if (!cdtls_provider_default()->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("no ECDSA");
    ident id;
    identity(&id, "leaf.der", "int.der", "leaf.key", "root.der");
    cdtls_config cc, sc;
    sim_link s;
    cdtls_x509_cert leaf;
    cr_assert_eq(cdtls_x509_parse(id.chain[0], id.lens[0], &leaf), CDTLS_OK);
    uint8_t pins[64];
    cr_assert_eq(cdtls_x509_fingerprint_sha256(cdtls_provider_default(), &leaf, pins + 32), CDTLS_OK);
    memset(pins, 0xab, 32);
    /* pinning alone (no anchors), as WebRTC does: the right pin among others */
    configs(&id, &cc, &sc, NULL, NULL);
    cc.verify.trust_anchors = NULL, cc.verify.n_trust_anchors = 0;
    cc.verify.pinned_sha256 = pins, cc.verify.n_pins = 2;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s", cdtls_strerror(cdtls_conn_error(s.client)));
    sim_free(&s);
    /* only a wrong pin */
    cc.verify.n_pins = 1;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_CERT_REJECTED);
    sim_free(&s);
    /* a callback that rejects a valid chain */
    configs(&id, &cc, &sc, "server.example.com", NULL);
    cc.callbacks.verify_peer = reject_all;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_CERT_REJECTED);
    sim_free(&s);
    /* insecure_skip_verify + a callback that decides for itself */
    int seen = 0;
    configs(&id, &cc, &sc, NULL, NULL);
    cc.verify.trust_anchors = NULL, cc.verify.n_trust_anchors = 0;
    cc.verify.insecure_skip_verify = 1;
    cc.callbacks.verify_peer = accept_if_two;
    cc.callbacks.user = &seen;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(seen, 2);
    sim_free(&s);
    done(&id);
}

Test(engine_cert, psk_only_client_does_not_offer_certificate_suites)
{
    if (!cdtls_provider_default()->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("no ECDSA");
    ident id;
    identity(&id, "leaf.der", "int.der", "leaf.key", "root.der");
    cdtls_config cc, sc;
    configs(&id, &cc, &sc, NULL, NULL);
    cc.verify.trust_anchors = NULL, cc.verify.n_trust_anchors = 0; /* nothing to verify with */
    static const uint8_t psk[16] = "0123456789abcdef";
    cc.psk.key = sc.psk.key = psk, cc.psk.key_len = sc.psk.key_len = 16;
    cc.psk.identity = sc.psk.identity = (const uint8_t *)"id", cc.psk.identity_len = sc.psk.identity_len = 2;
    cc.versions.max = CDTLS_VERSION_1_2; /* 1.2 suite choice (1.3 suites do not name the key exchange) */
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    uint16_t suite = cdtls_conn_cipher_suite(s.client);
    cr_assert(strstr(cdtls_cipher_suite_name(suite), "PSK") != NULL, "negotiated %s",
              cdtls_cipher_suite_name(suite));
    sim_free(&s);
    done(&id);
}

/* SNI certificate selection: one server, the ECDSA chain by default, the
 * RSA identity for rsa.example.com, and a refusal for refuse.example.com. */
typedef struct sni_ctx {
    ident *rsa;
    int calls;
    char last[64];
} sni_ctx;

static int select_cert(void *ctx, const char *name, const uint8_t *const **chain, const size_t **lens,
                       size_t *n, const cdtls_sign_key **key)
{
    sni_ctx *s = ctx;
    s->calls++;
    snprintf(s->last, sizeof s->last, "%s", name ? name : "(none)");
    if (name && strcmp(name, "refuse.example.com") == 0) return CDTLS_ERR_CERT_REJECTED;
    if (!name || strcmp(name, "rsa.example.com") != 0) return CDTLS_ERR_UNSUPPORTED;
    *chain = s->rsa->chain;
    *lens = s->rsa->lens;
    *n = s->rsa->n;
    *key = s->rsa->key;
    return CDTLS_OK;
}

Test(engine_cert, sni_selects_the_certificate)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->sig[CDTLS_SIG_ECDSA_SHA256] || !p->sig[CDTLS_SIG_RSA_PKCS1_SHA256])
        cr_skip_test("needs ECDSA and RSA");
    ident ec, rsa;
    identity(&ec, "leaf.der", "int.der", "leaf.key", "root.der");
    int64_t now = fixed_now;
    identity(&rsa, "rsaleaf.der", NULL, "rsaleaf.key", "rsaroot.der");
    fixed_now = now;
    sni_ctx ctx = {&rsa, 0, ""};
    static const struct {
        const char *host;
        int want_ok;
        const char *suite_word;
    } cases[3] = {{"server.example.com", 1, "ECDSA"},
                  {"rsa.example.com", 1, "RSA"},
                  {"refuse.example.com", 0, NULL}};
    for (int i = 0; i < 3; i++) {
        cdtls_config cc, sc;
        configs(&ec, &cc, &sc, cases[i].host, NULL);
        cc.versions.max = CDTLS_VERSION_1_2; /* 1.2 suite names tell ECDSA from RSA */
        sc.callbacks.select_certificate = select_cert;
        sc.callbacks.user = &ctx;
        cdtls_x509_cert anchors[2] = {ec.anchor, rsa.anchor};
        cc.verify.trust_anchors = anchors;
        cc.verify.n_trust_anchors = 2;
        sim_link s;
        cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
        int ok = sim_run_handshake(&s, 10000);
        cr_assert_eq(ok, cases[i].want_ok, "%s: %s", cases[i].host,
                     cdtls_strerror(cdtls_conn_error(s.client)));
        cr_assert_str_eq(ctx.last, cases[i].host, "the callback sees the SNI name");
        if (ok) {
            const char *name = cdtls_cipher_suite_name(cdtls_conn_cipher_suite(s.client));
            cr_assert(strstr(name, cases[i].suite_word) != NULL, "%s -> %s", cases[i].host, name);
        } else {
            uint8_t level, desc;
            cr_assert(cdtls_conn_peer_alert(s.client, &level, &desc));
            cr_assert_eq(desc, 112); /* unrecognized_name */
        }
        sim_free(&s);
    }
    done(&ec);
    done(&rsa);
}

/* Client authentication, every mode, with and without a client certificate
 * (clientonly: EKU clientAuth; leaf: EKU serverAuth only). */
static void client_auth_case(cdtls_client_auth mode, const char *client_cert, int want_ok,
                             int want_server_err)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("needs ECDSA");
    ident srv, cli;
    identity(&srv, "leaf.der", "int.der", "leaf.key", "root.der");
    int64_t now = fixed_now;
    cdtls_config cc, sc;
    configs(&srv, &cc, &sc, "server.example.com", NULL);
    sc.verify.client_auth = mode;
    sc.verify.trust_anchors = &srv.anchor; /* the same root issued the client certificates */
    sc.verify.n_trust_anchors = 1;
    sc.callbacks.unix_time = clock_cb;
    if (client_cert) {
        identity(&cli, client_cert, "int.der", "leaf.key", "root.der");
        cc.credentials.chain = cli.chain;
        cc.credentials.chain_len = cli.lens;
        cc.credentials.n_certs = cli.n;
        cc.credentials.private_key = cli.key;
    }
    fixed_now = now;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    int ok = sim_run_handshake(&s, 10000);
    cr_assert_eq(ok, want_ok, "mode %d cert %s: client %s server %s", mode,
                 client_cert ? client_cert : "none", cdtls_strerror(cdtls_conn_error(s.client)),
                 cdtls_strerror(cdtls_conn_error(s.server)));
    if (ok) {
        size_t n;
        const cdtls_x509_cert *chain = cdtls_conn_peer_certificates(s.server, &n);
        cr_assert_eq(n, client_cert ? 2u : 0u, "the server sees the client's chain");
        cr_assert(client_cert ? chain != NULL : chain == NULL);
        cr_assert(echo_ok(&s));
    } else {
        cr_assert_eq(cdtls_conn_error(s.server), want_server_err, "server: %s",
                     cdtls_strerror(cdtls_conn_error(s.server)));
    }
    sim_free(&s);
    done(&srv);
    if (client_cert) done(&cli);
}

Test(engine_cert, client_auth_require_and_verify)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY, "clientonly.der", 1, 0);
}
Test(engine_cert, client_auth_require_and_verify_missing)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY, NULL, 0, CDTLS_ERR_CERT_UNTRUSTED);
}
Test(engine_cert, client_auth_require_and_verify_wrong_usage)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY, "leaf.der", 0, CDTLS_ERR_CERT_USAGE);
}
Test(engine_cert, client_auth_verify_if_given_none)
{
    client_auth_case(CDTLS_CLIENT_AUTH_VERIFY_IF_GIVEN, NULL, 1, 0);
}
Test(engine_cert, client_auth_verify_if_given_valid)
{
    client_auth_case(CDTLS_CLIENT_AUTH_VERIFY_IF_GIVEN, "clientonly.der", 1, 0);
}
Test(engine_cert, client_auth_require_any_unchecked_chain)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUIRE_ANY, "leaf.der", 1, 0);
}
Test(engine_cert, client_auth_require_any_missing)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUIRE_ANY, NULL, 0, CDTLS_ERR_CERT_UNTRUSTED);
}
Test(engine_cert, client_auth_request_given)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUEST, "leaf.der", 1, 0);
}
Test(engine_cert, client_auth_request_none)
{
    client_auth_case(CDTLS_CLIENT_AUTH_REQUEST, NULL, 1, 0);
}

/* selfsign, as pion's: P-256 with bearssl, Ed25519 with sodium; the
 * certificate parses, openssl reads it, it verifies as its own anchor, and
 * a handshake pinned to its fingerprint (WebRTC style) completes. */
Test(engine_cert, selfsign_and_pinned_handshake)
{
    const cdtls_provider *p = cdtls_provider_default();
    uint8_t der[CDTLS_X509_SELFSIGN_MAX];
    size_t n;
    cdtls_sign_key *key;
    const int64_t nb = 1764000000; /* 2025-11-24 */
    cr_assert_eq(cdtls_x509_selfsign(p, NULL, "webrtc.example", nb, 30, der, sizeof der, &n, &key), CDTLS_OK);
    cdtls_x509_cert c;
    cr_assert_eq(cdtls_x509_parse(der, n, &c), CDTLS_OK);
    cr_assert_eq(c.version, 3);
    cr_assert_eq(c.not_before, nb);
    cr_assert_eq(c.not_after, nb + 30 * 86400);
    /* past 2049 the validity switches to GeneralizedTime (RFC 5280 §4.1.2.5) */
    uint8_t far[CDTLS_X509_SELFSIGN_MAX];
    size_t fn;
    cdtls_sign_key *fk;
    const int64_t y2060 = 2840140800; /* 2060-01-01 */
    cr_assert_eq(cdtls_x509_selfsign(p, NULL, "later.example", y2060, 1, far, sizeof far, &fn, &fk),
                 CDTLS_OK);
    cdtls_x509_cert fc;
    cr_assert_eq(cdtls_x509_parse(far, fn, &fc), CDTLS_OK);
    cr_assert(fc.not_before == y2060 && fc.not_after == y2060 + 86400);
    p->sign_key_free(cdtls_allocator_libc(), fk);
    cr_assert_eq(c.key.type, p->sig[CDTLS_SIG_ECDSA_SHA256] ? CDTLS_KEY_EC_P256 : CDTLS_KEY_ED25519);
    cr_assert_eq(
        cdtls_x509_verify_chain(p, &c, 1, &c, 1, nb + 10, "webrtc.example", CDTLS_X509_PURPOSE_SERVER),
        CDTLS_OK);
    /* openssl reads it */
    char path[64], cmd[160];
    snprintf(path, sizeof path, "%s/self.der", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(der, 1, n, f);
    fclose(f);
    snprintf(
        cmd, sizeof cmd,
        "openssl x509 -inform DER -in %s -noout -subject -ext subjectAltName | grep -q 'DNS:webrtc.example'",
        path);
    if (test_have_shell()) cr_assert_eq(system(cmd), 0, "openssl could not read the certificate");
    /* a handshake that trusts it only by its fingerprint */
    uint8_t pin[32];
    cr_assert_eq(cdtls_x509_fingerprint_sha256(p, &c, pin), CDTLS_OK);
    const uint8_t *chain[1] = {der};
    size_t lens[1] = {n};
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    sc.credentials.chain = chain, sc.credentials.chain_len = lens, sc.credentials.n_certs = 1,
    sc.credentials.private_key = key;
    cc.verify.pinned_sha256 = pin, cc.verify.n_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s", cdtls_strerror(cdtls_conn_error(s.client)));
    cr_assert(echo_ok(&s));
    sim_free(&s);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

/* Resumption of a certificate session (ECDHE-ECDSA), by session ID and by
 * ticket: the abbreviated handshake has no Certificate, so the resumed
 * connection shows no chain; a server that asks for client certificates
 * makes no session resumable (as pion: a resumed connection could not show
 * the client's certificate). */
Test(engine_cert, certificate_sessions_resume_unless_client_auth)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("needs ECDSA");
    ident srv;
    identity(&srv, "leaf.der", "int.der", "leaf.key", "root.der");
    cdtls_session_cache ccache, scache;
    cdtls_session_cache_entry ce[2], se[4];
    cdtls_ticket_keys keys;
    cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 0, 0), CDTLS_OK);
    for (int by_ticket = 0; by_ticket < 2; by_ticket++) {
        for (int auth = 0; auth < 2; auth++) {
            cdtls_config cc, sc;
            configs(&srv, &cc, &sc, "server.example.com", NULL);
            cc.resumption.store = cdtls_session_cache_init(&ccache, ce, 2);
            cc.resumption.tickets = by_ticket;
            if (by_ticket)
                sc.resumption.ticket_keys = &keys;
            else
                sc.resumption.store = cdtls_session_cache_init(&scache, se, 4);
            if (auth) {
                sc.verify.client_auth = CDTLS_CLIENT_AUTH_REQUEST;
                sc.verify.trust_anchors = &srv.anchor;
                sc.verify.n_trust_anchors = 1;
                sc.callbacks.unix_time = clock_cb;
            }
            for (int round = 0; round < 2; round++) {
                sim_link s;
                static uint64_t t = 1000; /* session ages run on the engine's clock */
                t += 60000;
                cr_assert_eq(sim_init_at(&s, &cc, &sc, NULL, t), CDTLS_OK);
                cr_assert(sim_run_handshake(&s, 10000), "ticket %d auth %d round %d: %s / %s", by_ticket,
                          auth, round, cdtls_strerror(cdtls_conn_error(s.client)),
                          cdtls_strerror(cdtls_conn_error(s.server)));
                int want = round == 1 && !auth;
                cr_assert_eq(cdtls_conn_resumed(s.client), want, "ticket %d auth %d round %d", by_ticket,
                             auth, round);
                cr_assert_eq(cdtls_conn_resumed(s.server), want);
                size_t n = 9;
                cdtls_conn_peer_certificates(s.client, &n);
                cr_assert_eq(n, want ? 0u : 2u, "a full handshake shows the chain, a resumed one none");
                cr_assert(echo_ok(&s));
                sim_free(&s);
            }
        }
    }
    cdtls_ticket_keys_wipe(&keys);
    done(&srv);
}
