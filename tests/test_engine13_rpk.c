/* Raw public keys (RFC 7250) over DTLS 1.3: the certificate types are
 * answered in EncryptedExtensions (RFC 8446 §4.2), the Certificate carries
 * one CertificateEntry whose cert_data is the SubjectPublicKeyInfo (RFC
 * 8446 §4.4.2), and CertificateVerify signs with the raw key. Both roles,
 * mutual, pin mismatch (bad_certificate), and the fallback to X.509. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "sim_link.h"
#include "engine/hs13_internal.h"

#if !CDTLS_HAVE_DTLS13
Test(rpk13, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

typedef struct rpk_id {
    cdtls_sign_key *key;
    uint8_t spki[CDTLS_X509_SPKI_MAX];
    size_t spki_len;
    uint8_t pin[32];
} rpk_id;

static const cdtls_provider *prov(void)
{
    return cdtls_provider_default();
}

/* A fresh key (P-256, or Ed25519 where the provider has no ECDSA), its
 * SPKI and the SPKI's SHA-256. */
static void make_id(rpk_id *id)
{
    const cdtls_provider *p = prov();
    cdtls_key_type t = p->sig[CDTLS_SIG_ECDSA_SHA256] ? CDTLS_KEY_EC_P256 : CDTLS_KEY_ED25519;
    cr_assert_eq(p->sign_key_generate(p, cdtls_allocator_libc(), t, &id->key), CDTLS_OK);
    cdtls_public_key pub;
    cr_assert_eq(p->sign_key_public(id->key, &pub), CDTLS_OK);
    cr_assert_eq(cdtls_x509_spki_encode(&pub, id->spki, sizeof id->spki, &id->spki_len), CDTLS_OK);
    cdtls_hash_ctx h;
    p->hash[CDTLS_HASH_SHA256]->init(&h);
    p->hash[CDTLS_HASH_SHA256]->update(&h, id->spki, id->spki_len);
    p->hash[CDTLS_HASH_SHA256]->final(&h, id->pin);
}

static void free_id(rpk_id *id)
{
    prov()->sign_key_free(cdtls_allocator_libc(), id->key);
}

/* 1.3 only on both sides: a fallback to 1.2 would fail the handshake */
static void base(cdtls_config *cc, cdtls_config *sc)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
}

static void serve_key(cdtls_config *cfg, const rpk_id *id)
{
    cfg->credentials.raw_public_key = id->spki;
    cfg->credentials.raw_public_key_len = id->spki_len;
    cfg->credentials.private_key = id->key;
}

static int echo(sim_link *s)
{
    if (cdtls_conn_write(s->client, (const uint8_t *)"rpk13", 5, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t b[16];
    size_t n;
    if (cdtls_conn_read(s->server, b, sizeof b, &n, NULL) != CDTLS_OK || n != 5) return 0;
    if (cdtls_conn_write(s->server, (const uint8_t *)"back", 4, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    return cdtls_conn_read(s->client, b, sizeof b, &n, NULL) == CDTLS_OK && n == 4 &&
           memcmp(b, "back", 4) == 0;
}

static void assert_spki(const cdtls_conn *c, const rpk_id *id)
{
    size_t n = 0;
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(c, &n);
    cr_assert(peer && n == 1, "one \"certificate\": the SPKI");
    cr_assert(peer[0].der_len == id->spki_len && memcmp(peer[0].der, id->spki, id->spki_len) == 0,
              "the peer's \"chain\" is its SPKI, byte for byte");
}

Test(rpk13, server_raw_key_pinned_by_the_client)
{
    rpk_id srv;
    make_id(&srv);
    cdtls_config cc, sc;
    base(&cc, &sc);
    serve_key(&sc, &srv);
    cc.verify.pinned_spki_sha256 = srv.pin, cc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_version(s.client), CDTLS_VERSION_1_3);
    cr_assert_eq(cdtls_conn_version(s.server), CDTLS_VERSION_1_3);
    assert_spki(s.client, &srv);
    cr_assert(echo(&s));
    sim_free(&s);
    free_id(&srv);
}

/* Without min 1.3 the default configuration negotiates 1.3 too now that a
 * raw-key configuration no longer forces 1.2. */
Test(rpk13, default_versions_pick_13)
{
    rpk_id srv;
    make_id(&srv);
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    serve_key(&sc, &srv);
    cc.verify.pinned_spki_sha256 = srv.pin, cc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_version(s.client), CDTLS_VERSION_1_3);
    assert_spki(s.client, &srv);
    sim_free(&s);
    /* a 1.2-only server: the same client still gets the raw key, over 1.2 */
    sc.versions.max = CDTLS_VERSION_1_2;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_version(s.client), CDTLS_VERSION_1_2);
    assert_spki(s.client, &srv);
    sim_free(&s);
    free_id(&srv);
}

Test(rpk13, wrong_pin_is_bad_certificate)
{
    rpk_id srv;
    make_id(&srv);
    uint8_t other[32];
    memcpy(other, srv.pin, 32);
    other[31] ^= 0x80;
    cdtls_config cc, sc;
    base(&cc, &sc);
    serve_key(&sc, &srv);
    cc.verify.pinned_spki_sha256 = other, cc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_CERT_UNTRUSTED);
    /* the server learns why: bad_certificate */
    cr_assert_neq(cdtls_conn_error(s.server), CDTLS_OK);
    uint8_t level = 0, desc = 0;
    cr_assert(cdtls_conn_peer_alert(s.server, &level, &desc));
    cr_assert_eq(desc, 42, "bad_certificate, got %u", desc);
    sim_free(&s);
    free_id(&srv);
}

static int accept_if_len(void *ctx, const uint8_t *spki, size_t len, int def)
{
    (void)spki;
    int *calls = ctx;
    (*calls)++;
    cr_assert_eq(def, CDTLS_ERR_CERT_UNTRUSTED, "no pin configured");
    return len > 0 ? CDTLS_OK : CDTLS_ERR_CERT_REJECTED;
}

static int refuse(void *ctx, const uint8_t *spki, size_t len, int def)
{
    (void)spki, (void)len, (void)def;
    (*(int *)ctx)++;
    return CDTLS_ERR_CERT_REJECTED;
}

Test(rpk13, callback_decides)
{
    rpk_id srv;
    make_id(&srv);
    cdtls_config cc, sc;
    base(&cc, &sc);
    serve_key(&sc, &srv);
    int calls = 0;
    cc.callbacks.verify_raw_public_key = accept_if_len, cc.callbacks.user = &calls;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(calls, 1);
    sim_free(&s);
    calls = 0;
    cc.callbacks.verify_raw_public_key = refuse;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(calls, 1);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_CERT_REJECTED);
    sim_free(&s);
    free_id(&srv);
}

Test(rpk13, mutual_raw_keys)
{
    rpk_id srv, cli;
    make_id(&srv);
    make_id(&cli);
    cdtls_config cc, sc;
    base(&cc, &sc);
    serve_key(&sc, &srv);
    serve_key(&cc, &cli);
    cc.verify.pinned_spki_sha256 = srv.pin, cc.verify.n_spki_pins = 1;
    sc.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    sc.verify.pinned_spki_sha256 = cli.pin, sc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_version(s.server), CDTLS_VERSION_1_3);
    assert_spki(s.client, &srv);
    assert_spki(s.server, &cli);
    cr_assert(echo(&s));
    sim_free(&s);
    /* the server pins another key: the client's CertificateVerify cannot save it */
    uint8_t other[32] = {0};
    sc.verify.pinned_spki_sha256 = other;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_CERT_UNTRUSTED);
    uint8_t level = 0, desc = 0;
    cr_assert(cdtls_conn_peer_alert(s.client, &level, &desc));
    cr_assert_eq(desc, 42, "bad_certificate, got %u", desc);
    sim_free(&s);
    free_id(&srv);
    free_id(&cli);
}

/* A client that shows a raw key to a server that asks for a certificate
 * (client_auth) but takes raw keys only by callback: the callback sees
 * the client's SPKI, and the server's answer holds it. A server that
 * takes no raw keys refuses the raw-key-only client (unsupported
 * certificate: no type in common, RFC 7250 §4.2). */
Test(rpk13, client_raw_key_to_callback_and_refusal)
{
    rpk_id srv, cli;
    make_id(&srv);
    make_id(&cli);
    cdtls_config cc, sc;
    base(&cc, &sc);
    serve_key(&sc, &srv);
    serve_key(&cc, &cli);
    cc.verify.pinned_spki_sha256 = srv.pin, cc.verify.n_spki_pins = 1;
    int calls = 0;
    sc.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    sc.callbacks.verify_raw_public_key = accept_if_len, sc.callbacks.user = &calls;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(calls, 1);
    assert_spki(s.server, &cli);
    sim_free(&s);
    sc.callbacks.verify_raw_public_key = NULL; /* no raw keys for clients any more */
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_HANDSHAKE_FAILURE);
    sim_free(&s);
    free_id(&srv);
    free_id(&cli);
}

/* A client that takes raw keys or certificates, against a server with a
 * self-signed certificate only: X.509 is used, over 1.3. */
Test(rpk13, falls_back_to_x509)
{
    const cdtls_provider *p = prov();
    uint8_t der[2048];
    size_t der_len;
    cdtls_sign_key *key;
    cr_assert_eq(
        cdtls_x509_selfsign(p, NULL, "x509.example", 1700000000, 30, der, sizeof der, &der_len, &key),
        CDTLS_OK);
    cdtls_x509_cert cert;
    cr_assert_eq(cdtls_x509_parse(der, der_len, &cert), CDTLS_OK);
    uint8_t fp[32];
    cr_assert_eq(cdtls_x509_fingerprint_sha256(p, &cert, fp), CDTLS_OK);
    const uint8_t *chain[1] = {der};
    size_t lens[1] = {der_len};
    uint8_t unused_pin[32] = {1};
    cdtls_config cc, sc;
    base(&cc, &sc);
    sc.credentials.chain = chain, sc.credentials.chain_len = lens, sc.credentials.n_certs = 1,
    sc.credentials.private_key = key;
    cc.verify.pinned_sha256 = fp, cc.verify.n_pins = 1;
    cc.verify.pinned_spki_sha256 = unused_pin, cc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s", cdtls_strerror(cdtls_conn_error(s.client)));
    cr_assert_eq(cdtls_conn_version(s.client), CDTLS_VERSION_1_3);
    size_t n;
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(s.client, &n);
    cr_assert(peer && peer[0].der_len == der_len && memcmp(peer[0].der, der, der_len) == 0, "a certificate");
    sim_free(&s);
    /* the client takes raw keys only: no type in common, the server refuses */
    cc.verify.n_pins = 0;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_HANDSHAKE_FAILURE);
    sim_free(&s);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

#endif /* CDTLS_HAVE_DTLS13 */
