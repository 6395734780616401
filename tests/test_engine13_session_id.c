/* legacy_session_id in DTLS 1.3 (RFC 9147 §5: "DTLS servers MUST NOT echo
 * the legacy_session_id value from the client"; §5.3: a client may send one
 * it has from a pre-1.3 server). wolfSSL 5.9.2's client sends a 32-byte
 * legacy_session_id when it resumes a 1.3 session, and aborts the handshake
 * (INVALID_PARAMETER, -425) on a HelloRetryRequest or ServerHello that
 * echoes it (issue 17, tests/test_interop_wolfssl.c resumption13_*). Our
 * server answered with the echo in all three places it writes one: the
 * stateless HelloRetryRequest (cdtls_hello_verifier, the listener's), the
 * connection's own HelloRetryRequest and the ServerHello. Each must come
 * out empty for a hello that carries 32 bytes there. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "cdtls/cdtls.h"
#include "engine/conn_internal.h"

#if !CDTLS_HAVE_DTLS13
Test(engine13_session_id, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

/* A certificate server (self-signed, pinned by the client): no PSK, whose
 * binder the rewritten hello below would break. */
#define HOST "session-id13.example"
static uint8_t der[CDTLS_X509_SELFSIGN_MAX];
static const uint8_t *chain[1];
static size_t lens[1];
static cdtls_sign_key *key;
static uint8_t pin[32];

static void setup(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    size_t der_len = 0;
    cr_assert_eq(
        cdtls_x509_selfsign(p, NULL, HOST, (int64_t)time(NULL) - 86400, 30, der, sizeof der, &der_len, &key),
        CDTLS_OK);
    cdtls_x509_cert cert;
    cr_assert_eq(cdtls_x509_parse(der, der_len, &cert), CDTLS_OK);
    cr_assert_eq(cdtls_x509_fingerprint_sha256(p, &cert, pin), CDTLS_OK);
    chain[0] = der, lens[0] = der_len;
}

static void teardown(void)
{
    if (key) cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), key);
}

/* Offsets in a plaintext (epoch 0) datagram holding one handshake record:
 * DTLSPlaintext header (13 bytes: type, version, epoch, sequence_number,
 * length), handshake header (12 bytes: type, length, message_seq,
 * fragment_offset, fragment_length), then legacy_version (2) and random
 * (32) and the session id's length byte (RFC 9147 §4, §5.2, §5.3). */
#define REC_LEN_AT 11
#define HS_LEN_AT 14
#define FRAG_LEN_AT 22
#define SID_LEN_AT (13 + 12 + 2 + 32)

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}
static void put24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
}
static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}
/* 1 if needle (n bytes) is in hay (len bytes); memmem is not C11. */
static int contains(const uint8_t *hay, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0) return 1;
    return 0;
}

/* Our client's first ClientHello (one unfragmented record), rewritten to
 * carry a 32-byte legacy_session_id, as wolfSSL's resuming client sends. */
static size_t hello_with_session_id(cdtls_conn *cli, uint8_t *out, size_t cap)
{
    uint8_t d[2048];
    size_t n = 0;
    cr_assert_eq(cdtls_conn_next_datagram(cli, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert(n > SID_LEN_AT && d[0] == 22 && d[13] == 1, "a ClientHello record");
    cr_assert_eq(get16(d + REC_LEN_AT), n - 13, "one record in the datagram");
    cr_assert_eq(d[SID_LEN_AT], 0, "our client sends an empty legacy_session_id");
    cr_assert(n + 32 <= cap);
    memcpy(out, d, SID_LEN_AT);
    out[SID_LEN_AT] = 32;
    for (int i = 0; i < 32; i++) out[SID_LEN_AT + 1 + i] = (uint8_t)(0xa0 + i);
    memcpy(out + SID_LEN_AT + 1 + 32, d + SID_LEN_AT + 1, n - SID_LEN_AT - 1);
    size_t len = n + 32, body = len - 13 - 12;
    put16(out + REC_LEN_AT, len - 13);
    put24(out + HS_LEN_AT, body);
    put24(out + FRAG_LEN_AT, body);
    return len;
}

/* reply is a ServerHello (a HelloRetryRequest is one too, RFC 8446 §4.1.3)
 * whose legacy_session_id_echo is empty. */
static void expect_empty_echo(const uint8_t *reply, size_t n, const char *what)
{
    cr_assert(n > SID_LEN_AT && reply[0] == 22 && reply[13] == 2, "%s: a ServerHello record (%zu bytes)",
              what, n);
    cr_assert_eq(reply[SID_LEN_AT], 0, "%s echoes the client's legacy_session_id (%u bytes; RFC 9147 §5)",
                 what, reply[SID_LEN_AT]);
}

static void configs(cdtls_config *cc, cdtls_config *sc)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    sc->credentials.chain = chain, sc->credentials.chain_len = lens, sc->credentials.n_certs = 1;
    sc->credentials.private_key = key;
    cc->verify.pinned_sha256 = pin, cc->verify.n_pins = 1;
    cc->server_name = HOST;
    cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
    cc->versions.max = sc->versions.max = CDTLS_VERSION_1_3;
}

static cdtls_conn *client_started(const cdtls_config *cc)
{
    cdtls_conn *c = NULL;
    cr_assert_eq(cdtls_conn_new(cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    return c;
}

TestSuite(engine13_session_id, .init = setup, .fini = teardown, .timeout = 30);

/* The connection's ServerHello (no cookie step, the client's key share
 * taken). */
Test(engine13_session_id, server_hello_does_not_echo)
{
    cdtls_config cc, sc;
    configs(&cc, &sc);
    /* one group both sides have, the client's share on it: no
     * HelloRetryRequest for another */
    const cdtls_provider *p = cdtls_provider_default();
    static const uint16_t x25519[] = {0x001d}, p256[] = {0x0017};
    const uint16_t *g = p->kx[CDTLS_GROUP_X25519] ? x25519 : p256;
    cc.negotiate.groups = sc.negotiate.groups = g;
    cc.negotiate.n_groups = sc.negotiate.n_groups = 1;
    sc.cookie.exchange = 0; /* no cookie HelloRetryRequest first */
    cdtls_conn *cli = client_started(&cc);
    uint8_t hello[2100];
    size_t n = hello_with_session_id(cli, hello, sizeof hello);
    cdtls_conn *srv = NULL;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &srv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(srv, hello, n, NULL, 1000), CDTLS_OK);
    uint8_t reply[2048];
    size_t rn = 0;
    cr_assert_eq(cdtls_conn_next_datagram(srv, reply, sizeof reply, &rn, NULL), CDTLS_OK);
    cr_assert(!contains(reply, rn, "\xcf\x21\xad\x74\xe5\x9a\x61\x11", 8),
              "a ServerHello, not a HelloRetryRequest");
    expect_empty_echo(reply, rn, "the ServerHello");
    cdtls_conn_free(srv);
    cdtls_conn_free(cli);
}

/* The connection's own HelloRetryRequest: the server takes only a group
 * the client offers without a key share for it. */
Test(engine13_session_id, hello_retry_request_does_not_echo)
{
    cdtls_config cc, sc;
    configs(&cc, &sc);
    static const uint16_t client_groups[] = {0x001d, 0x0017}; /* X25519 (the share), P-256 */
    static const uint16_t server_groups[] = {0x0017};
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->kx[CDTLS_GROUP_X25519] || !p->kx[CDTLS_GROUP_SECP256R1])
        cr_skip_test("provider %s lacks X25519 or P-256", p->name);
    cc.negotiate.groups = client_groups, cc.negotiate.n_groups = 2;
    sc.negotiate.groups = server_groups, sc.negotiate.n_groups = 1;
    sc.cookie.exchange = 0; /* the HelloRetryRequest is for the group alone */
    cdtls_conn *cli = client_started(&cc);
    uint8_t hello[2100];
    size_t n = hello_with_session_id(cli, hello, sizeof hello);
    cdtls_conn *srv = NULL;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &srv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(srv, hello, n, NULL, 1000), CDTLS_OK);
    uint8_t reply[2048];
    size_t rn = 0;
    cr_assert_eq(cdtls_conn_next_datagram(srv, reply, sizeof reply, &rn, NULL), CDTLS_OK);
    /* the HelloRetryRequest's random (RFC 8446 §4.1.3) */
    cr_assert(contains(reply, rn, "\xcf\x21\xad\x74\xe5\x9a\x61\x11", 8), "a HelloRetryRequest");
    expect_empty_echo(reply, rn, "the HelloRetryRequest");
    cdtls_conn_free(srv);
    cdtls_conn_free(cli);
}

/* The stateless HelloRetryRequest with a cookie (the listener's step,
 * cdtls_hello_verifier). */
Test(engine13_session_id, stateless_hello_retry_request_does_not_echo)
{
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cdtls_conn *cli = client_started(&cc);
    uint8_t hello[2100];
    size_t n = hello_with_session_id(cli, hello, sizeof hello);
    cdtls_hello_verifier *v = NULL;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    static const uint8_t addr[] = {127, 0, 0, 1, 0x30, 0x39};
    uint8_t reply[2048];
    size_t rn = 0;
    cr_assert_eq(cdtls_hello_verifier_check(v, addr, sizeof addr, hello, n, 1000, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    cr_assert_gt(rn, 0, "a HelloRetryRequest to send");
    cr_assert(contains(reply, rn, "\xcf\x21\xad\x74\xe5\x9a\x61\x11", 8), "a HelloRetryRequest");
    expect_empty_echo(reply, rn, "the stateless HelloRetryRequest");
    cdtls_hello_verifier_free(v);
    cdtls_conn_free(cli);
}

/* The connection's own cookie HelloRetryRequest (cfg.cookie.exchange, the
 * default, without a listener in front). */
Test(engine13_session_id, connection_cookie_hello_retry_request_does_not_echo)
{
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cdtls_conn *cli = client_started(&cc);
    uint8_t hello[2100];
    size_t n = hello_with_session_id(cli, hello, sizeof hello);
    cdtls_conn *srv = NULL;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &srv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(srv, hello, n, NULL, 1000), CDTLS_OK);
    uint8_t reply[2048];
    size_t rn = 0;
    cr_assert_eq(cdtls_conn_next_datagram(srv, reply, sizeof reply, &rn, NULL), CDTLS_OK);
    cr_assert(contains(reply, rn, "\xcf\x21\xad\x74\xe5\x9a\x61\x11", 8), "a HelloRetryRequest");
    expect_empty_echo(reply, rn, "the cookie HelloRetryRequest");
    cdtls_conn_free(srv);
    cdtls_conn_free(cli);
}
#endif
