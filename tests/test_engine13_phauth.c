/* DTLS 1.3 post-handshake client authentication (RFC 8446 §4.6.2, RFC
 * 9147 §5.8.4, §7) between our client and our server over the simulated
 * link: a server asks an established client for its certificate; the
 * client answers Certificate, CertificateVerify, Finished (or an empty
 * Certificate and Finished); the server checks them and ACKs. Success,
 * a client without a certificate (the server's policy: fail or go on), a
 * wrong signature, a lost CertificateRequest, a second request while one
 * is pending, and a client that did not offer post_handshake_auth. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "sim_link.h"
#include "engine/hs13_internal.h"

#if !CDTLS_HAVE_DTLS13
Test(phauth13, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

typedef struct cert_id {
    uint8_t der[2048];
    size_t der_len;
    const uint8_t *chain[1];
    size_t lens[1];
    cdtls_sign_key *key;
    uint8_t fp[32];
} cert_id;

static void make_cert(cert_id *id, const char *name)
{
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert_eq(
        cdtls_x509_selfsign(p, NULL, name, 1700000000, 30, id->der, sizeof id->der, &id->der_len, &id->key),
        CDTLS_OK);
    cdtls_x509_cert c;
    cr_assert_eq(cdtls_x509_parse(id->der, id->der_len, &c), CDTLS_OK);
    cr_assert_eq(cdtls_x509_fingerprint_sha256(p, &c, id->fp), CDTLS_OK);
    id->chain[0] = id->der;
    id->lens[0] = id->der_len;
}

static void free_cert(cert_id *id)
{
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), id->key);
}

/* 1.3 only; the server shows srv, the client pins it; the client offers
 * post_handshake_auth and shows cli (when given), the server pins it. */
static void configs(cdtls_config *cc, cdtls_config *sc, const cert_id *srv, const cert_id *cli)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
    sc->credentials.chain = srv->chain, sc->credentials.chain_len = srv->lens, sc->credentials.n_certs = 1;
    sc->credentials.private_key = srv->key;
    cc->verify.pinned_sha256 = srv->fp, cc->verify.n_pins = 1;
    cc->verify.post_handshake_auth = 1;
    if (cli) {
        cc->credentials.chain = cli->chain, cc->credentials.chain_len = cli->lens,
        cc->credentials.n_certs = 1;
        cc->credentials.private_key = cli->key;
        sc->verify.pinned_sha256 = cli->fp, sc->verify.n_pins = 1;
    }
}

static int roundtrip(sim_link *s, int from_client, const char *msg)
{
    cdtls_conn *from = from_client ? s->client : s->server;
    cdtls_conn *to = from_client ? s->server : s->client;
    size_t len = strlen(msg);
    if (cdtls_conn_write(from, (const uint8_t *)msg, len, NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t buf[256];
    size_t n = 0;
    if (cdtls_conn_read(to, buf, sizeof buf, &n, NULL) != CDTLS_OK) return 0;
    return n == len && memcmp(buf, msg, len) == 0;
}

typedef struct counts {
    int sent[256], received[256], acks_sent, acks_received, retransmits;
} counts;

static void observe(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)c;
    counts *k = user;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_SENT) k->sent[ev->hs_type]++;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_RECEIVED) k->received[ev->hs_type]++;
    if (ev->kind == CDTLS_EVENT_ACK_SENT) k->acks_sent++;
    if (ev->kind == CDTLS_EVENT_ACK_RECEIVED) k->acks_received++;
    if (ev->kind == CDTLS_EVENT_RETRANSMIT) k->retransmits++;
}

static int peer_alert(const cdtls_conn *c)
{
    uint8_t level = 0, desc = 0;
    if (!cdtls_conn_peer_alert(c, &level, &desc)) return -1;
    return desc;
}

static void handshake(sim_link *s, const cdtls_config *cc, const cdtls_config *sc)
{
    cr_assert_eq(sim_init(s, cc, sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(s, 10000), "client %s, server %s",
              cdtls_strerror(cdtls_conn_error(s->client)), cdtls_strerror(cdtls_conn_error(s->server)));
    cr_assert_eq(cdtls_conn_version(s->server), CDTLS_VERSION_1_3);
    sim_run(s, 2000); /* the client's final flight ACKed */
}

Test(phauth13, client_authenticates_after_the_handshake)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    sim_link s;
    handshake(&s, &cc, &sc);
    size_t n = 5;
    cr_assert_null(cdtls_conn_peer_certificates(s.server, &n), "no client certificate in the handshake");
    cr_assert_eq(n, 0);
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_NONE);
    counts ks = {0}, kc = {0};
    cdtls_conn_set_observer(s.server, observe, &ks);
    cdtls_conn_set_observer(s.client, observe, &kc);
    cr_assert_eq(cdtls_conn_request_client_auth(s.client, 0), CDTLS_ERR_UNSUPPORTED, "a client cannot ask");
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_PENDING);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(s.client)));
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED);
    cr_assert_eq(cdtls_conn_client_auth_state(s.client), CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED);
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(s.server, &n);
    cr_assert(peer && n == 1 && peer[0].der_len == cli.der_len &&
                  memcmp(peer[0].der, cli.der, cli.der_len) == 0,
              "the server holds the client's certificate");
    /* the messages each way, and the server's ACK of the client's flight */
    cr_assert_eq(ks.sent[13], 1, "one CertificateRequest");
    cr_assert_eq(kc.received[13], 1);
    cr_assert(kc.sent[11] == 1 && kc.sent[15] == 1 && kc.sent[20] == 1,
              "Certificate, CertificateVerify, Finished");
    cr_assert(ks.received[11] == 1 && ks.received[15] == 1 && ks.received[20] == 1);
    cr_assert_geq(ks.acks_sent, 1);
    cr_assert_geq(kc.acks_received, 1);
    cr_assert_eq(kc.retransmits + ks.retransmits, 0, "nothing lost, nothing resent");
    cr_assert_eq(cdtls_conn_timeout(s.client), UINT64_MAX, "the client's flight is ACKed: no timer");
    /* a second request once authenticated: refused */
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_ERR_BAD_STATE);
    cr_assert(roundtrip(&s, 1, "after post-handshake auth"));
    cr_assert(roundtrip(&s, 0, "and back"));
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

/* The client has no certificate: an empty Certificate and Finished. The
 * server's policy decides: go on unauthenticated, or fail. */
Test(phauth13, client_without_certificate)
{
    cert_id srv;
    make_cert(&srv, "server.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, NULL);
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 0), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_DECLINED);
    cr_assert_eq(cdtls_conn_client_auth_state(s.client), CDTLS_CLIENT_AUTH_STATE_DECLINED);
    size_t n = 5;
    cr_assert_null(cdtls_conn_peer_certificates(s.server, &n));
    cr_assert(roundtrip(&s, 1, "still talking"));
    /* and it may ask again, now requiring one: the connection fails */
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_CERT_UNTRUSTED);
    cr_assert_eq(peer_alert(s.client), 116, "certificate_required (RFC 8446 §6.2)");
    sim_free(&s);
    free_cert(&srv);
}

/* Hostile: the client's CertificateVerify is made with a key that is not
 * its certificate's. */
Test(phauth13, wrong_signature_fails)
{
    cert_id srv, cli, other;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    make_cert(&other, "other.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    cc.credentials.private_key = other.key; /* same type, another key */
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 0), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_SIGNATURE);
    cr_assert_eq(peer_alert(s.client), 51, "decrypt_error");
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
    free_cert(&other);
}

/* A certificate the server does not pin: bad_certificate-class failure */
Test(phauth13, untrusted_certificate_fails)
{
    cert_id srv, cli, other;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    make_cert(&other, "other.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    sc.verify.pinned_sha256 = other.fp;
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 0), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_FAILED);
    /* the pins do not name it: refused (hs_judge_peer_chain), certificate_unknown */
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_CERT_REJECTED, "%s",
                 cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(peer_alert(s.client), 46);
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
    free_cert(&other);
}

/* drops the first `left` datagrams to the client (after arming) */
typedef struct dropper {
    int armed, left, dropped, to_server;
} dropper;

static int drop_some(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    (void)data, (void)len;
    dropper *d = ctx;
    if (d->armed && to_server == d->to_server && d->left > 0) {
        d->left--;
        d->dropped++;
        return 0;
    }
    return 1;
}

/* The CertificateRequest is lost: the server's timer sends it again. */
Test(phauth13, certificate_request_lost_is_resent)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    sim_link s;
    handshake(&s, &cc, &sc);
    counts ks = {0};
    cdtls_conn_set_observer(s.server, observe, &ks);
    dropper d = {1, 1, 0, 0};
    s.tamper = drop_some, s.tamper_ctx = &d;
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 10000);
    cr_assert_eq(d.dropped, 1);
    cr_assert_geq(ks.retransmits, 1, "the request went again");
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED, "%s",
                 cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_timeout(s.server), UINT64_MAX, "nothing left to resend");
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

/* The client's answer is lost (its first datagram), then the server's ACK:
 * the client resends until ACKed, the server re-ACKs what it has. */
Test(phauth13, answer_and_ack_lost_are_resent)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    sim_link s;
    handshake(&s, &cc, &sc);
    counts kc = {0};
    cdtls_conn_set_observer(s.client, observe, &kc);
    dropper d = {1, 1, 0, 1};
    s.tamper = drop_some, s.tamper_ctx = &d;
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 20000);
    cr_assert_eq(d.dropped, 1);
    cr_assert_geq(kc.retransmits, 1, "the client's flight went again");
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED, "%s",
                 cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_timeout(s.client), UINT64_MAX, "ACKed in the end");
    /* now the ACK is lost: the client resends, the server ACKs again */
    sim_free(&s);
    handshake(&s, &cc, &sc);
    dropper d2 = {1, 1, 0, 0};
    s.tamper = drop_some, s.tamper_ctx = &d2;
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    sim_pump(&s);
    /* let the request through first: drop the next datagram to the client (the ACK) */
    d2.armed = 0;
    sim_run(&s, 1);
    d2.armed = 1;
    sim_run(&s, 20000);
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_timeout(s.client), UINT64_MAX, "ACKed in the end");
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

Test(phauth13, second_request_while_pending_refused)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_ERR_BAD_STATE);
    /* nor may the connection be moved (its exchange state would not go along) */
    static const uint8_t key[32] = {1};
    uint8_t blob[4096];
    size_t blob_len = 0;
    cr_assert_eq(cdtls_conn_export_state(s.server, key, blob, sizeof blob, &blob_len), CDTLS_ERR_BAD_STATE);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED);
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

/* A client that did not offer post_handshake_auth: the server's API
 * refuses; a CertificateRequest sent anyway is unexpected_message (RFC
 * 8446 §4.6.2). The server is made to believe the client offered it by
 * marking it while the client's final flight is on its way. */
static int mark_offered(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    (void)data, (void)len;
    sim_link *s = ctx;
    if (to_server && s->server && s->server->v13 && s->server->v13->hh) hs13_ph_offered(s->server, 1);
    return 1;
}

Test(phauth13, client_that_did_not_offer)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    cc.verify.post_handshake_auth = 0;
    sim_link s;
    handshake(&s, &cc, &sc);
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);

    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    s.tamper = mark_offered, s.tamper_ctx = &s;
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 2000);
    s.tamper = NULL;
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_UNEXPECTED_MESSAGE);
    cr_assert_eq(peer_alert(s.server), 10, "unexpected_message");
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

/* A client chain of three certificates over an MTU of 200: its
 * Certificate goes in fragments (RFC 9147 §5.5) that the server
 * reassembles; under 20 % loss each way (seeded) the fragments the server
 * has not ACKed are resent, and every run ends authenticated. */
Test(phauth13, fragmented_answer_under_loss, .timeout = 60)
{
    cert_id srv, cli, extra1, extra2;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    make_cert(&extra1, "extra1.example");
    make_cert(&extra2, "extra2.example");
    const uint8_t *chain[3] = {cli.der, extra1.der, extra2.der};
    size_t lens[3] = {cli.der_len, extra1.der_len, extra2.der_len};
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    cc.credentials.chain = chain, cc.credentials.chain_len = lens, cc.credentials.n_certs = 3;
    cc.mtu = sc.mtu = 200;
    unsigned ok = 0, resent = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        sim_link s;
        handshake(&s, &cc, &sc);
        counts ks = {0}, kc = {0};
        cdtls_conn_set_observer(s.server, observe, &ks);
        cdtls_conn_set_observer(s.client, observe, &kc);
        s.imp.loss_pct = 20, s.imp.seed = seed, s.rng = seed;
        cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_OK);
        sim_pump(&s);
        sim_run(&s, 60000);
        if (cdtls_conn_client_auth_state(s.server) == CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED) {
            size_t n = 0;
            const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(s.server, &n);
            cr_assert(peer && n == 3 && peer[2].der_len == extra2.der_len &&
                          memcmp(peer[2].der, extra2.der, extra2.der_len) == 0,
                      "the whole chain, reassembled");
            ok++;
        }
        cr_assert_eq(ks.received[11],
                     cdtls_conn_client_auth_state(s.server) != CDTLS_CLIENT_AUTH_STATE_PENDING,
                     "one Certificate handed over, whatever the fragments");
        resent += (unsigned)(kc.retransmits + ks.retransmits);
        sim_free(&s);
    }
    cr_assert_eq(ok, 8u, "only %u of 8 runs authenticated", ok);
    cr_assert_gt(resent, 0u, "20 %% loss made something go again");
    free_cert(&srv);
    free_cert(&cli);
    free_cert(&extra1);
    free_cert(&extra2);
}

/* drops the client's datagrams longer than max (its answer), lets its
 * short ones (ACKs) through */
static int drop_long_to_server(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    (void)data;
    size_t *max = ctx;
    return !to_server || *len <= *max;
}

/* The client's answer never arrives (RFC 8446 §4.6.2: it MUST answer):
 * the server gives up timers.handshake_timeout_ms after the request, not
 * after its ten resends of the request (several minutes), and not never
 * once the request was acknowledged. */
Test(phauth13, unanswered_request_times_out)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    sc.timers.handshake_timeout_ms = 5000;
    sim_link s;
    handshake(&s, &cc, &sc);
    counts ks = {0};
    cdtls_conn_set_observer(s.server, observe, &ks);
    size_t max = 80;
    s.tamper = drop_long_to_server, s.tamper_ctx = &max;
    const uint64_t asked = s.now_ms;
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 0), CDTLS_OK);
    cr_assert_leq(cdtls_conn_timeout(s.server), asked + 5000);
    sim_pump(&s);
    /* step by step (the link jumps to the next event) until it fails */
    for (int i = 0; i < 1000 && cdtls_conn_get_state(s.server) == CDTLS_STATE_ESTABLISHED; i++) {
        cr_assert_eq(cdtls_conn_client_auth_state(s.server), CDTLS_CLIENT_AUTH_STATE_PENDING);
        cr_assert_lt(s.now_ms, asked + 5100, "still waiting after the deadline");
        sim_run(&s, 1);
    }
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_HANDSHAKE_TIMEOUT, "%s",
                 cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_geq(s.now_ms, asked + 4900, "failed at +%llu ms, before the deadline",
                  (unsigned long long)(s.now_ms - asked));
    cr_assert_geq(ks.retransmits, 1, "the request went again meanwhile");
    cr_assert_eq(ks.received[11], 0, "no Certificate got through");
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

/* over DTLS 1.2 there is no post-handshake authentication */
Test(phauth13, unsupported_on_12)
{
    cert_id srv, cli;
    make_cert(&srv, "server.example");
    make_cert(&cli, "client.example");
    cdtls_config cc, sc;
    configs(&cc, &sc, &srv, &cli);
    cc.versions.min = sc.versions.min = CDTLS_VERSION_1_2;
    cc.versions.max = sc.versions.max = CDTLS_VERSION_1_2;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(cdtls_conn_request_client_auth(s.server, 1), CDTLS_ERR_UNSUPPORTED);
    sim_free(&s);
    free_cert(&srv);
    free_cert(&cli);
}

#endif /* CDTLS_HAVE_DTLS13 */
