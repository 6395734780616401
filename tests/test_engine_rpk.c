/* Raw public keys (RFC 7250): a server (and a client) that shows a bare
 * SubjectPublicKeyInfo instead of a certificate, trusted by an SPKI pin or
 * a callback; the certificate-type negotiation falls back to X.509 or to a
 * PSK suite where the peers have nothing else in common. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "sim_link.h"

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

static uint16_t rpk_suite(void)
{
    return prov()->sig[CDTLS_SIG_ECDSA_SHA256] ? CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                                               : CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
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
    cdtls_public_key back;
    cr_assert_eq(cdtls_x509_parse_spki(id->spki, id->spki_len, &back), CDTLS_OK, "our SPKI parses");
    cr_assert(back.type == t && back.data_len == pub.data_len &&
              memcmp(back.data, pub.data, pub.data_len) == 0);
    cdtls_hash_ctx h;
    p->hash[CDTLS_HASH_SHA256]->init(&h);
    p->hash[CDTLS_HASH_SHA256]->update(&h, id->spki, id->spki_len);
    p->hash[CDTLS_HASH_SHA256]->final(&h, id->pin);
}

static void free_id(rpk_id *id)
{
    prov()->sign_key_free(cdtls_allocator_libc(), id->key);
}

static void base(cdtls_config *cc, cdtls_config *sc, const uint16_t *suite)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->negotiate.cipher_suites = sc->negotiate.cipher_suites = suite;
    cc->negotiate.n_cipher_suites = sc->negotiate.n_cipher_suites = 1;
}

static void serve_key(cdtls_config *sc, const rpk_id *id)
{
    sc->credentials.raw_public_key = id->spki;
    sc->credentials.raw_public_key_len = id->spki_len;
    sc->credentials.private_key = id->key;
}

static int echo(sim_link *s)
{
    if (cdtls_conn_write(s->client, (const uint8_t *)"rpk", 3, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t b[16];
    size_t n;
    return cdtls_conn_read(s->server, b, sizeof b, &n, NULL) == CDTLS_OK && n == 3;
}

Test(rpk, server_raw_key_pinned_by_the_client)
{
    uint16_t suite = rpk_suite();
    rpk_id srv;
    make_id(&srv);
    cdtls_config cc, sc;
    base(&cc, &sc, &suite);
    serve_key(&sc, &srv);
    cc.verify.pinned_spki_sha256 = srv.pin, cc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    size_t n;
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(s.client, &n);
    cr_assert(peer && n == 1 && peer[0].der_len == srv.spki_len && memcmp(peer[0].der, srv.spki, n) == 0,
              "the peer's \"chain\" is its SPKI");
    cr_assert(echo(&s));
    sim_free(&s);
    free_id(&srv);
}

Test(rpk, wrong_pin_is_refused)
{
    uint16_t suite = rpk_suite();
    rpk_id srv;
    make_id(&srv);
    uint8_t other[32];
    memcpy(other, srv.pin, 32);
    other[0] ^= 1;
    cdtls_config cc, sc;
    base(&cc, &sc, &suite);
    serve_key(&sc, &srv);
    cc.verify.pinned_spki_sha256 = other, cc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_CERT_UNTRUSTED);
    /* a raw key has no CA: bad_certificate (as in 1.3), not unknown_ca */
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

Test(rpk, callback_decides)
{
    uint16_t suite = rpk_suite();
    rpk_id srv;
    make_id(&srv);
    cdtls_config cc, sc;
    base(&cc, &sc, &suite);
    serve_key(&sc, &srv);
    int calls = 0;
    cc.callbacks.verify_raw_public_key = accept_if_len, cc.callbacks.user = &calls;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(calls, 1);
    sim_free(&s);
    free_id(&srv);
}

Test(rpk, mutual_raw_keys)
{
    uint16_t suite = rpk_suite();
    rpk_id srv, cli;
    make_id(&srv);
    make_id(&cli);
    cdtls_config cc, sc;
    base(&cc, &sc, &suite);
    serve_key(&sc, &srv);
    cc.verify.pinned_spki_sha256 = srv.pin, cc.verify.n_spki_pins = 1;
    cc.credentials.raw_public_key = cli.spki, cc.credentials.raw_public_key_len = cli.spki_len,
    cc.credentials.private_key = cli.key;
    sc.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    sc.verify.pinned_spki_sha256 = cli.pin, sc.verify.n_spki_pins = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s / %s", cdtls_strerror(cdtls_conn_error(s.client)),
              cdtls_strerror(cdtls_conn_error(s.server)));
    size_t n;
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(s.server, &n);
    cr_assert(peer && n == 1 && peer[0].der_len == cli.spki_len, "the server holds the client's SPKI");
    cr_assert(echo(&s));
    sim_free(&s);
    /* the server pins another key: the client's CertificateVerify cannot save it */
    uint8_t other[32] = {0};
    sc.verify.pinned_spki_sha256 = other;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_CERT_UNTRUSTED);
    sim_free(&s);
    free_id(&srv);
    free_id(&cli);
}

/* A client that takes raw keys or certificates, against a server with a
 * self-signed certificate only: X.509 is used. */
Test(rpk, falls_back_to_x509)
{
    uint16_t suite = rpk_suite();
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
    base(&cc, &sc, &suite);
    sc.credentials.chain = chain, sc.credentials.chain_len = lens, sc.credentials.n_certs = 1,
    sc.credentials.private_key = key;
    cc.verify.pinned_sha256 = fp, cc.verify.n_pins = 1;                   /* X.509 by fingerprint */
    cc.verify.pinned_spki_sha256 = unused_pin, cc.verify.n_spki_pins = 1; /* and raw keys */
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "%s", cdtls_strerror(cdtls_conn_error(s.client)));
    size_t n;
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(s.client, &n);
    cr_assert(peer && peer[0].der_len == der_len, "a certificate came");
    sim_free(&s);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

/* A client that takes only raw keys, a server with only a certificate:
 * no certificate suite can work; a PSK suite both have is used instead,
 * and without one the handshake fails. */
Test(rpk, no_common_type_leaves_psk_or_fails)
{
    const cdtls_provider *p = prov();
    uint8_t der[2048];
    size_t der_len;
    cdtls_sign_key *key;
    cr_assert_eq(
        cdtls_x509_selfsign(p, NULL, "x509.example", 1700000000, 30, der, sizeof der, &der_len, &key),
        CDTLS_OK);
    const uint8_t *chain[1] = {der};
    size_t lens[1] = {der_len};
    uint8_t pin[32] = {2};
    static const uint8_t psk[16] = "rpk-or-psk-16byt";
    uint16_t suites[2] = {rpk_suite(), CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256};
    cdtls_config cc, sc;
    base(&cc, &sc, suites);
    cc.negotiate.n_cipher_suites = sc.negotiate.n_cipher_suites = 2;
    sc.credentials.chain = chain, sc.credentials.chain_len = lens, sc.credentials.n_certs = 1,
    sc.credentials.private_key = key;
    cc.verify.pinned_spki_sha256 = pin, cc.verify.n_spki_pins = 1;
    cc.psk.key = sc.psk.key = psk, cc.psk.key_len = sc.psk.key_len = 16;
    cc.psk.identity = sc.psk.identity = (const uint8_t *)"p", cc.psk.identity_len = sc.psk.identity_len = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_cipher_suite(s.client), CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256);
    sim_free(&s);
    cc.negotiate.n_cipher_suites = sc.negotiate.n_cipher_suites = 1; /* the certificate suite only */
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(!sim_run_handshake(&s, 5000));
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_HANDSHAKE_FAILURE);
    sim_free(&s);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

Test(rpk, spki_codec_refuses_bad_input)
{
    rpk_id id;
    make_id(&id);
    cdtls_public_key k;
    for (size_t cut = 0; cut < id.spki_len; cut++)
        cr_assert_neq(cdtls_x509_parse_spki(id.spki, cut, &k), CDTLS_OK);
    uint8_t longer[CDTLS_X509_SPKI_MAX + 1];
    memcpy(longer, id.spki, id.spki_len);
    longer[id.spki_len] = 0;
    cr_assert_eq(cdtls_x509_parse_spki(longer, id.spki_len + 1, &k), CDTLS_ERR_DER, "trailing bytes");
    uint8_t small[8];
    size_t n;
    cdtls_public_key pub;
    cr_assert_eq(prov()->sign_key_public(id.key, &pub), CDTLS_OK);
    cr_assert_eq(cdtls_x509_spki_encode(&pub, small, sizeof small, &n), CDTLS_ERR_BUFFER_TOO_SMALL);
    free_id(&id);
}
