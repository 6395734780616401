#define _POSIX_C_SOURCE 200809L
/* Interop with wolfSSL 5.9.2 (issue 16): its examples/client and
 * examples/server, built by scripts/build-peers.sh from Debian's sources
 * into .peers/wolfssl/bin with DTLS 1.3, connection IDs, fragmented
 * ClientHellos, X25519 and the ML-KEM hybrids, run with `-u` (DTLS) and
 * `-v 3` (1.2 only), `-v 4` (1.3 only) or `-v d` (the highest both speak,
 * 1.3 and 1.2 offered: supported_versions {0xfefc, 0xfefd}).
 *
 * The 1.2 tests run today, both roles: certificates (ECDSA P-256 with an
 * intermediate with BearSSL, Ed25519 with libsodium) and PSK. A 1.3-capable
 * wolfSSL (`-v d`) must settle on 1.2 with a 1.2-only cdtls and on 1.3 with
 * a 1.3-capable one. The 1.3-only tests skip with "cdtls 1.3 not built
 * yet" until cdtls can offer 1.3 (tests/interop_peers.c tells). wolfSSL's
 * DTLS 1.3 server answers every first ClientHello with a cookie
 * HelloRetryRequest (RFC 9147 §5.1), so our client meets one in each
 * server test.
 *
 * What wolfSSL's examples print, and the tests read: "SSL version is
 * DTLSv1.2|DTLSv1.3", "SSL cipher suite is ...", "SSL curve name is ..."
 * on both sides; the server prints "Client message: <text>" and answers
 * "I hear you fa shizzle!"; the client sends "hello wolfssl!" and prints
 * the answer.
 *
 * Issue 17: with --enable-rpk and --enable-postauth (scripts/build-peers.sh)
 * the 1.3 raw-public-key tests (wolfSSL's client --rpk; its server example
 * has no such option) and the post-handshake client authentication tests
 * (-Q, both roles) run against the real peer, each with a negative control
 * showing the other side checks.
 *
 * Issue 17, 1.3 session resumption (wolfSSL built with
 * --enable-session-ticket) both ways, stateless and stateful tickets on our
 * side, with X25519MLKEM768 where the provider has ML-KEM; 1.3 connection
 * IDs both ways (below). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"
#include "interop_listener.h"
#include "interop_peers.h"
#include "test_util.h"
#include "udp_driver.h"

/* wolfSSL's examples' built-in PSK (wolfssl/test.h: my_psk_client_cb and
 * my_psk_server_cb): identity "Client_identity", key 1a2b3c4d. */
#define WOLF_PSK_IDENTITY "Client_identity"
static const uint8_t wolf_psk[4] = {0x1a, 0x2b, 0x3c, 0x4d};

static char certs[64];
static const char *wolf_client, *wolf_server;

static void setup(void)
{
    wolf_client = peer_program("wolfssl", "client");
    wolf_server = peer_program("wolfssl", "server");
    test_certs_make(certs, sizeof certs, "wolfssl");
    /* wolfSSL's examples start by looking for their home directory (its
     * certs/, which scripts/build-peers.sh keeps beside bin/) from the
     * working directory up, and stop with "wolf root not found" without
     * it: this test process works there (our certificates are under /tmp) */
    cr_assert(certs[0] == '/', "the certificate directory %s must be an absolute path", certs);
    cr_assert_eq(chdir(peer_path("wolfssl", "")), 0, "cd %s", peer_path("wolfssl", ""));
}

static void teardown(void)
{
    if (certs[0]) test_certs_remove(certs);
}

TestSuite(interop_wolfssl, .init = setup, .fini = teardown, .timeout = 60);

static const char *cert_file(const char *name)
{
    static char buf[4][192];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 192, "%s/%s", certs, name);
    return p;
}

/* wolfSSL's (OpenSSL-style) name for a 1.2 suite of ours. */
static const char *wolf_suite(uint16_t suite)
{
    switch (suite) {
    case CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-ECDSA-CHACHA20-POLY1305";
    case CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256: return "ECDHE-PSK-AES128-GCM-SHA256";
    case CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-PSK-CHACHA20-POLY1305";
    case CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256: return "PSK-CHACHA20-POLY1305";
    }
    cr_assert_fail("no wolfSSL name for suite 0x%04x", suite);
    return NULL;
}

/* A PSK suite both sides have. wolfSSL's default build leaves out the
 * static-PSK suites but PSK-CHACHA20-POLY1305 (no WOLFSSL_STATIC_PSK), so
 * ECDHE-PSK with AES-128-GCM (RFC 8442) where the provider has it. */
static uint16_t psk_suite(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    static const uint16_t prefs[] = {CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256,
                                     CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
                                     CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256};
    for (size_t i = 0; i < sizeof prefs / sizeof prefs[0]; i++)
        if (cdtls_cipher_suite_supported(p, prefs[i])) return prefs[i];
    cr_skip_test("provider %s has no PSK suite wolfSSL has", p->name);
    return 0;
}

/* Starts wolfSSL's example program: prog, "-u -v <version> [-h 127.0.0.1]
 * -p <port>", then extra (NULL-terminated). */
static void start_wolf_ex(child *ch, const char *prog, const char *version, uint16_t port,
                          const char *const *extra, int line_buffered)
{
    static char port_arg[8];
    snprintf(port_arg, sizeof port_arg, "%u", port);
    char *argv[42];
    size_t n = 0;
    if (line_buffered) argv[n++] = "stdbuf", argv[n++] = "-oL";
    argv[n++] = (char *)prog;
    argv[n++] = "-u";
    argv[n++] = "-v", argv[n++] = (char *)version;
    /* the server binds 127.0.0.1 unless -b, and has no -h */
    if (prog == wolf_client) argv[n++] = "-h", argv[n++] = "127.0.0.1";
    argv[n++] = "-p", argv[n++] = port_arg;
    for (size_t i = 0; extra && extra[i] && n < 41; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    cr_assert_eq(child_start(ch, argv), 0);
}

static void start_wolf(child *ch, const char *prog, const char *version, uint16_t port,
                       const char *const *extra)
{
    start_wolf_ex(ch, prog, version, port, extra, 0);
}

/* wolfSSL reports "SSL version is DTLSv1.x" for the version expected. */
static void expect_wolf_version(child *peer, int v)
{
    const char *line = v == PEER_V13 ? "SSL version is DTLSv1.3" : "SSL version is DTLSv1.2";
    int seen = child_output_contains(peer, line, 5000);
    if (!seen) child_stop(peer, 1);
    cr_assert(seen, "wolfSSL did not report \"%s\"", line);
}

/* The connection IDs (RFC 9146) of the last session: whether in use, the
 * peer's (which we send) and ours, for the CID tests to check. */
static struct {
    int used;
    uint8_t peer[CDTLS_MAX_CID_LEN], own[CDTLS_MAX_CID_LEN];
    size_t peer_len, own_len;
} last_cid;

static void note_cid(const cdtls_conn *c)
{
    memset(&last_cid, 0, sizeof last_cid);
    last_cid.used = cdtls_conn_uses_cid(c);
    size_t n = 0;
    const uint8_t *p = cdtls_conn_peer_cid(c, &n);
    if (p && n <= sizeof last_cid.peer) memcpy(last_cid.peer, p, n), last_cid.peer_len = n;
    p = cdtls_conn_own_cid(c, &n);
    if (p && n <= sizeof last_cid.own) memcpy(last_cid.own, p, n), last_cid.own_len = n;
}

/* Our listener, configured by cfg, serves the wolfSSL client started with
 * version and extra: its "hello wolfssl!" comes back to it. Returns the
 * version our side negotiated (PEER_V12 or PEER_V13); *suite gets our suite. */
static int wolf_client_vs_listener(const cdtls_config *cfg, const char *version, const char *const *extra,
                                   uint16_t *suite)
{
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(cfg, &port);
    child cli;
    start_wolf(&cli, wolf_client, version, port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake with the wolfSSL client through our listener: %s",
                 cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    *suite = cdtls_conn_cipher_suite(c);
    int v = peer_conn_version(c);
    note_cid(c);
    uint8_t buf[512];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no record from the wolfSSL client: %s", cdtls_strerror(rc));
    /* the example sends the string with its terminating NUL where it
     * counts it in; compare the text */
    while (n && buf[n - 1] == 0) n--;
    int same = n == 14 && memcmp(buf, "hello wolfssl!", 14) == 0;
    if (!same) child_stop(&cli, 1);
    cr_assert(same, "the wolfSSL client sent \"%.*s\"", (int)n, buf);
    const char *reply = "echo-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)reply, strlen(reply), NULL), CDTLS_OK);
    expect_wolf_version(&cli, v);
    int echoed = child_output_contains(&cli, reply, 5000);
    if (!echoed) child_stop(&cli, 1);
    cr_assert(echoed, "the wolfSSL client printed our reply");
    cdtls_sock_close(s);
    child_stop(&cli, 0);
    cdtls_listener_close(l);
    return v;
}

/* The wolfSSL client started with version and extra gets no connection
 * from our listener (cfg): the listener hands out none while wolfSSL runs
 * (bounded: 25 rounds of 200 ms), and wolfSSL reports its failure. */
static void wolf_client_refused(const cdtls_config *cfg, const char *version, const char *const *extra)
{
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(cfg, &port);
    child cli;
    start_wolf(&cli, wolf_client, version, port, extra);
    int said = 0;
    for (int round = 0; round < 25 && !said; round++) {
        cdtls_sock *s = NULL;
        int rc = cdtls_listener_accept(l, 200, &s);
        if (rc == CDTLS_OK) cdtls_sock_close(s);
        if (rc == CDTLS_OK) child_stop(&cli, 1);
        cr_assert_neq(rc, CDTLS_OK, "the wolfSSL client got a connection it should not have");
        said = child_output_contains(&cli, "wolfSSL error", 0);
    }
    child_stop(&cli, !said);
    cr_assert(said, "the wolfSSL client reported no failure");
    cdtls_listener_close(l);
}

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* Our client configuration verifying the identity's chain (anchor filled). */
static void client_config(const served_identity *id, cdtls_x509_cert *anchor, uint8_t *root, size_t cap,
                          cdtls_config *cfg)
{
    FILE *f = fopen(cert_file(id->root_der), "rb");
    cr_assert_not_null(f);
    size_t rn = fread(root, 1, cap, f);
    fclose(f);
    cr_assert_eq(cdtls_x509_parse(root, rn, anchor), CDTLS_OK);
    cdtls_config_init(cfg);
    cfg->verify.trust_anchors = anchor, cfg->verify.n_trust_anchors = 1;
    cfg->server_name = id->host;
    cfg->callbacks.unix_time = wall_clock;
}

/* Since wolfSSL is built with session tickets (scripts/build-peers.sh,
 * issue 17), its DTLS 1.3 server sends a NewSessionTicket after each
 * handshake, and a line of ours sent at once after our Finished (before the
 * server's ACK of it, which RFC 9147 allows) never reaches the example's
 * wolfSSL_read: the server answers without printing "Client message:"
 * (seen on the wire: our Finished, our record, then wolfSSL's ACK and
 * ticket; our record is not resent, as application data never is). So on
 * 1.3 our client first reads for 300 ms, taking the server's ACK and its
 * ticket, before its first line. */
static void settle_13(cdtls_sock *s)
{
    if (peer_conn_version(cdtls_sock_conn(s)) != PEER_V13) return;
    uint8_t buf[64];
    size_t n = 0;
    int rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 300);
    cr_assert_eq(rc, CDTLS_ERR_TIMEOUT, "%s", cdtls_strerror(rc));
}

/* The wolfSSL server started with version and extra (it binds 127.0.0.1
 * and waits) against our client with cfg: handshake, our line printed by
 * wolfSSL, its answer read. Returns our negotiated version. */
static int our_client_vs_wolf_server(const cdtls_config *cfg, const char *version, const char *const *extra,
                                     uint16_t *suite)
{
    uint16_t port = udp_free_port();
    child srv;
    start_wolf(&srv, wolf_server, version, port, extra);
    int bound = peer_udp_bound(port, 5000);
    if (!bound) child_stop(&srv, 1);
    cr_assert(bound, "the wolfSSL server did not bind 127.0.0.1:%u", port);
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "handshake with the wolfSSL server: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    *suite = cdtls_conn_cipher_suite(c);
    int v = peer_conn_version(c);
    note_cid(c);
    uint8_t buf[128];
    size_t n = 0;
    settle_13(s);
    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "the wolfSSL server's answer: %s", cdtls_strerror(rc));
    while (n && buf[n - 1] == 0) n--;
    cr_assert(n == 22 && memcmp(buf, "I hear you fa shizzle!", 22) == 0,
              "the wolfSSL server answered \"%.*s\"", (int)n, buf);
    int said = child_output_contains(&srv, "Client message: ping-from-cdtls", 3000);
    if (!said) child_stop(&srv, 1);
    cr_assert(said, "the wolfSSL server printed our line");
    expect_wolf_version(&srv, v);
    cdtls_sock_close(s);
    child_stop(&srv, 0);
    return v;
}

/* ------------------------------------------------------------ DTLS 1.2 */

/* wolfSSL client, DTLS 1.2 only, the identity's suite, verifying our chain
 * against our root (-A), no client certificate (-x). */
Test(interop_wolfssl, client12_cert_vs_listener)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    const char *extra[] = {"-A", cert_file(id.root_pem), "-x", "-l", wolf_suite(id.suite), NULL};
    uint16_t suite = 0;
    int v = wolf_client_vs_listener(&cfg, "3", extra, &suite);
    cr_assert_eq(v, PEER_V12);
    cr_assert_eq(suite, id.suite);
    served_identity_free(&id);
}

/* wolfSSL server, DTLS 1.2 only, our chain and key (-c, -k), no client
 * certificate asked (-d), against our client verifying it. */
Test(interop_wolfssl, server12_cert_vs_our_client)
{
    served_identity id;
    served_identity_load(&id, certs);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    const char *extra[] = {"-c", cert_file(id.pem_chain), "-k", cert_file(id.key_file), "-d",
                           "-l", wolf_suite(id.suite),    NULL};
    uint16_t suite = 0;
    int v = our_client_vs_wolf_server(&cfg, "3", extra, &suite);
    cr_assert_eq(v, PEER_V12);
    cr_assert_eq(suite, id.suite);
    served_identity_free(&id);
}

/* PSK both ways, wolfSSL's built-in identity and key (-s). */
Test(interop_wolfssl, client12_psk_vs_listener)
{
    uint16_t want = psk_suite();
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.psk.key = wolf_psk, cfg.psk.key_len = sizeof wolf_psk;
    cfg.psk.identity = (const uint8_t *)WOLF_PSK_IDENTITY, cfg.psk.identity_len = strlen(WOLF_PSK_IDENTITY);
    cfg.negotiate.cipher_suites = &want, cfg.negotiate.n_cipher_suites = 1;
    const char *extra[] = {"-s", "-l", wolf_suite(want), NULL};
    uint16_t suite = 0;
    cr_assert_eq(wolf_client_vs_listener(&cfg, "3", extra, &suite), PEER_V12);
    cr_assert_eq(suite, want);
}

Test(interop_wolfssl, server12_psk_vs_our_client)
{
    uint16_t want = psk_suite();
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.psk.key = wolf_psk, cfg.psk.key_len = sizeof wolf_psk;
    cfg.psk.identity = (const uint8_t *)WOLF_PSK_IDENTITY, cfg.psk.identity_len = strlen(WOLF_PSK_IDENTITY);
    cfg.negotiate.cipher_suites = &want, cfg.negotiate.n_cipher_suites = 1;
    const char *extra[] = {"-s", "-l", wolf_suite(want), NULL};
    uint16_t suite = 0;
    cr_assert_eq(our_client_vs_wolf_server(&cfg, "3", extra, &suite), PEER_V12);
    cr_assert_eq(suite, want);
}

/* Connection IDs (RFC 9146, --enable-dtlscid) both ways, DTLS 1.2: wolfSSL
 * asks for the CID "wolfcid1" (`--cid`), we for one of 8 random bytes; each
 * side must send the other's, and wolfSSL prints the CID it sends ("Sending
 * CID is" and its bytes in hex), which must be ours. The records after the
 * handshake carry them (tls12_cid), so the echo checks they are understood. */
static const char wolf_cid[] = "wolfcid1";

static void expect_cids(child *peer)
{
    cr_assert(last_cid.used, "no connection ID negotiated");
    cr_assert(last_cid.peer_len == 8 && memcmp(last_cid.peer, wolf_cid, 8) == 0,
              "we send the CID wolfSSL asked for (%zu bytes)", last_cid.peer_len);
    cr_assert_eq(last_cid.own_len, 8);
    /* wolfSSL's printBuffer prints each byte with "%x" (no zero padding:
     * 68 01 1b reads "681b") */
    char hex[3 * CDTLS_MAX_CID_LEN + 1] = "", upper[sizeof hex] = "";
    size_t h = 0, u = 0;
    for (size_t i = 0; i < last_cid.own_len; i++) {
        h += (size_t)snprintf(hex + h, sizeof hex - h, "%x", last_cid.own[i]);
        u += (size_t)snprintf(upper + u, sizeof upper - u, "%X", last_cid.own[i]);
    }
    int said = child_output_contains(peer, "Sending CID is", 3000);
    int ours = child_output_contains(peer, hex, 0) || child_output_contains(peer, upper, 0);
    if (!said || !ours) child_stop(peer, 1);
    cr_assert(said && ours, "wolfSSL does not say it sends our CID %s", hex);
}

Test(interop_wolfssl, client12_cid_vs_listener)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.cid.length = 8;
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    const char *extra[] = {"-A", cert_file(id.root_pem), "-x", "-l", wolf_suite(id.suite), "--cid", wolf_cid,
                           NULL};
    child cli;
    start_wolf(&cli, wolf_client, "3", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake with the wolfSSL client: %s", cdtls_strerror(rc));
    note_cid(cdtls_sock_conn(s));
    uint8_t buf[256];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no record from the wolfSSL client: %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_sock_write(s, buf, n, NULL), CDTLS_OK);
    expect_cids(&cli);
    int echoed = child_output_contains(&cli, "hello wolfssl!", 5000);
    if (!echoed) child_stop(&cli, 1);
    cr_assert(echoed, "the wolfSSL client printed our echo");
    cdtls_sock_close(s);
    child_stop(&cli, 0);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

Test(interop_wolfssl, server12_cid_vs_our_client)
{
    served_identity id;
    served_identity_load(&id, certs);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    cfg.cid.length = 8;
    uint16_t port = udp_free_port();
    const char *extra[] = {"-c",
                           cert_file(id.pem_chain),
                           "-k",
                           cert_file(id.key_file),
                           "-d",
                           "-l",
                           wolf_suite(id.suite),
                           "--cid",
                           wolf_cid,
                           NULL};
    child srv;
    start_wolf(&srv, wolf_server, "3", port, extra);
    int bound = peer_udp_bound(port, 5000);
    if (!bound) child_stop(&srv, 1);
    cr_assert(bound, "the wolfSSL server did not bind 127.0.0.1:%u", port);
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(&cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "handshake with the wolfSSL server: %s", cdtls_strerror(rc));
    note_cid(cdtls_sock_conn(s));
    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    uint8_t buf[128];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "the wolfSSL server's answer: %s", cdtls_strerror(rc));
    int said = child_output_contains(&srv, "Client message: ping-from-cdtls", 3000);
    if (!said) child_stop(&srv, 1);
    cr_assert(said, "the wolfSSL server printed our line");
    expect_cids(&srv);
    cdtls_sock_close(s);
    child_stop(&srv, 0);
    served_identity_free(&id);
}

/* ------------------------------------------- 1.3-capable wolfSSL, both */

/* wolfSSL client offering DTLS 1.3 and 1.2 (-v d; RFC 9147's 0xfefc, a
 * P-256 key share) against our listener with its default versions: 1.3
 * where cdtls speaks it, else 1.2 (and wolfSSL, which checks the RFC 8446
 * §4.1.3 downgrade sentinel, must accept that 1.2). */
Test(interop_wolfssl, client_offering_13_vs_listener)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    /* the 1.3 suites too: all this build has */
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    int want = peer_cdtls13_available(CDTLS_SERVER) ? PEER_V13 : PEER_V12;
    const char *extra[] = {"-A", cert_file(id.root_pem), "-x", NULL};
    uint16_t suite = 0;
    cr_assert_eq(wolf_client_vs_listener(&cfg, "d", extra, &suite), want);
    served_identity_free(&id);
}

/* The same with --pqc X25519MLKEM768: wolfSSL's key share on the
 * post-quantum hybrid (a ~1.4 KB ClientHello, 1,216 bytes of it the
 * share, which our listener's stateless cookie step must take whole) and,
 * as wolfSSL warns, the hybrid alone in supported_groups: nothing a 1.2
 * server can use for ECDHE, nor a 1.3 server without ML-KEM. So 1.3 where
 * cdtls has both 1.3 and ML-KEM, else a refused handshake (a
 * handshake_failure for want of a shared group; pion v4 refuses it too:
 * "client requested zero or more elliptic curves that are not supported"). */
Test(interop_wolfssl, client_offering_13_mlkem_vs_listener)
{
    int ok = peer_cdtls13_available(CDTLS_SERVER) && peer_cdtls_has_mlkem();
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    const char *extra[] = {"-A", cert_file(id.root_pem), "-x", "--pqc", "X25519MLKEM768", NULL};
    if (ok) {
        uint16_t suite = 0;
        cr_assert_eq(wolf_client_vs_listener(&cfg, "d", extra, &suite), PEER_V13);
    } else {
        wolf_client_refused(&cfg, "d", extra);
    }
    served_identity_free(&id);
}

/* wolfSSL server speaking DTLS 1.3 and 1.2 (-v d) against our client with
 * its default versions: 1.3 where cdtls speaks it, else 1.2. */
Test(interop_wolfssl, server_offering_13_vs_our_client)
{
    served_identity id;
    served_identity_load(&id, certs);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    int want = peer_cdtls13_available(CDTLS_CLIENT) ? PEER_V13 : PEER_V12;
    const char *extra[] = {"-c", cert_file(id.pem_chain), "-k", cert_file(id.key_file), "-d", NULL};
    uint16_t suite = 0;
    cr_assert_eq(our_client_vs_wolf_server(&cfg, "d", extra, &suite), want);
    served_identity_free(&id);
}

/* ------------------------------------------------------------ DTLS 1.3 */

/* wolfSSL client, DTLS 1.3 only, with the key share named by keyshare
 * (wolfSSL's flags: none = P-256, "-t" = X25519, "--pqc X25519MLKEM768"),
 * against our listener limited to 1.3. A group we lack gets a
 * HelloRetryRequest for one we have. */
static void client13_vs_listener(const char *const *keyshare)
{
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    const char *extra[8] = {"-A", cert_file(id.root_pem), "-x"};
    size_t n = 3;
    for (size_t i = 0; keyshare && keyshare[i] && n < 7; i++) extra[n++] = keyshare[i];
    extra[n] = NULL;
    uint16_t suite = 0;
    cr_assert_eq(wolf_client_vs_listener(&cfg, "4", extra, &suite), PEER_V13);
    cr_assert_eq(suite >> 8, 0x13, "a TLS 1.3 suite, not 0x%04x", suite);
    served_identity_free(&id);
}

Test(interop_wolfssl, client13_p256_vs_listener)
{
    client13_vs_listener(NULL);
}

Test(interop_wolfssl, client13_x25519_vs_listener)
{
    const char *ks[] = {"-t", NULL};
    client13_vs_listener(ks);
}

/* The post-quantum hybrid alone (--pqc: the share and the only group
 * offered): 1.3 on X25519MLKEM768 where cdtls has ML-KEM; refused where it
 * has not (no group to ask for in a HelloRetryRequest). */
Test(interop_wolfssl, client13_mlkem_vs_listener)
{
    const char *ks[] = {"--pqc", "X25519MLKEM768", NULL};
    if (peer_cdtls_has_mlkem()) {
        client13_vs_listener(ks);
        return;
    }
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    const char *extra[] = {"-A", cert_file(id.root_pem), "-x", "--pqc", "X25519MLKEM768", NULL};
    wolf_client_refused(&cfg, "4", extra);
    served_identity_free(&id);
}

/* wolfSSL server, DTLS 1.3 only (its cookie HelloRetryRequest first),
 * against our client limited to 1.3; keyshare as above, for the server
 * (-t: X25519 only; --pqc: the hybrid only, so a client without it fails). */
static void server13_vs_our_client(const char *const *keyshare)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    served_identity id;
    served_identity_load(&id, certs);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    const char *extra[10] = {"-c", cert_file(id.pem_chain), "-k", cert_file(id.key_file), "-d"};
    size_t n = 5;
    for (size_t i = 0; keyshare && keyshare[i] && n < 9; i++) extra[n++] = keyshare[i];
    extra[n] = NULL;
    uint16_t suite = 0;
    cr_assert_eq(our_client_vs_wolf_server(&cfg, "4", extra, &suite), PEER_V13);
    cr_assert_eq(suite >> 8, 0x13, "a TLS 1.3 suite, not 0x%04x", suite);
    served_identity_free(&id);
}

Test(interop_wolfssl, server13_vs_our_client)
{
    server13_vs_our_client(NULL);
}

Test(interop_wolfssl, server13_x25519_vs_our_client)
{
    const char *ks[] = {"-t", NULL};
    server13_vs_our_client(ks);
}

/* DTLS 1.3 with PSK (psk_dhe_ke, RFC 8446 §4.2.9), wolfSSL's built-in
 * 1.3 key, both ways. wolfssl/test.h's 1.3 callbacks (my_psk_client_tls13_cb,
 * my_psk_server_tls13_cb) do not use the 1.2 key: they hand out 32 bytes
 * 0x01, 0x23, 0x45, ... (step 0x22, wrapping to 0x01) under
 * "Client_identity", bound to TLS13-AES256-GCM-SHA384, so the binder
 * (RFC 8446 §4.2.11.2) is an HMAC-SHA-384. cdtls takes SHA-384 for an
 * external PSK only when the client offers no SHA-256 suite, so both sides
 * are limited to TLS_AES_256_GCM_SHA384. */
#define WOLF_TLS13_SUITE 0x1302u /* TLS_AES_256_GCM_SHA384 */
/* A provider without TLS_AES_256_GCM_SHA384 (sodium) uses
 * TLS_CHACHA20_POLY1305_SHA256 instead: given -l, the example client
 * suffixes its identity with the suite's hash name and the example server
 * maps that suffix back to a suite of that hash, so the same key is then
 * bound to SHA-256 on both sides. */
typedef struct wolf13_psk {
    uint16_t suite;
    const char *wolf_suite;
    const char *client_identity; /* what the wolfSSL client sends */
    const char *server_identity; /* what our client sends the wolfSSL server */
} wolf13_psk;
static wolf13_psk wolf13_psk_choice(void)
{
    if (cdtls_cipher_suite_supported(cdtls_provider_default(), WOLF_TLS13_SUITE))
        return (wolf13_psk){WOLF_TLS13_SUITE, "TLS13-AES256-GCM-SHA384", WOLF_PSK_IDENTITY "SHA384",
                            WOLF_PSK_IDENTITY};
    return (wolf13_psk){0x1303u, "TLS13-CHACHA20-POLY1305-SHA256", WOLF_PSK_IDENTITY "SHA256",
                        WOLF_PSK_IDENTITY "SHA256"};
}
/* identity: the wolfSSL example client given -l on 1.3 appends its suite's
 * hash name to "Client_identity" (its ClientHello names
 * "Client_identitySHA384"; the server callback maps that suffix back to the
 * suite), the example server takes the bare one. */
static void wolf_psk13_config(cdtls_config *cfg, uint8_t key[32], const char *identity, const uint16_t *suite)
{
    int b = 0x01;
    for (int i = 0; i < 32; i++, b += 0x22) {
        if (b >= 0x100) b = 0x01;
        key[i] = (uint8_t)b;
    }
    cdtls_config_init(cfg);
    cfg->psk.key = key, cfg->psk.key_len = 32;
    cfg->psk.identity = (const uint8_t *)identity, cfg->psk.identity_len = strlen(identity);
    cfg->negotiate.cipher_suites = suite, cfg->negotiate.n_cipher_suites = 1;
    peer_config_versions(cfg, PEER_V13, PEER_V13);
}
Test(interop_wolfssl, client13_psk_vs_listener)
{
    peer_require_cdtls13(CDTLS_SERVER);
    cdtls_config cfg;
    uint8_t key[32];
    wolf13_psk w = wolf13_psk_choice();
    wolf_psk13_config(&cfg, key, w.client_identity, &w.suite);
    const char *extra[] = {"-s", "-l", w.wolf_suite, NULL};
    uint16_t suite = 0;
    cr_assert_eq(wolf_client_vs_listener(&cfg, "4", extra, &suite), PEER_V13);
    cr_assert_eq(suite, w.suite, "0x%04x, not 0x%04x", w.suite, suite);
}

Test(interop_wolfssl, server13_psk_vs_our_client)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    cdtls_config cfg;
    uint8_t key[32];
    wolf13_psk w = wolf13_psk_choice();
    wolf_psk13_config(&cfg, key, w.server_identity, &w.suite);
    const char *extra[] = {"-s", "-l", w.wolf_suite, NULL};
    uint16_t suite = 0;
    cr_assert_eq(our_client_vs_wolf_server(&cfg, "4", extra, &suite), PEER_V13);
    cr_assert_eq(suite, w.suite, "0x%04x, not 0x%04x", w.suite, suite);
}

/* ------------------------- raw public keys, post-handshake auth (1.3) */

/* 1 if `prog -?` (its usage, in English) mentions needle: the wolfSSL
 * examples list an option only when the library was built with it. */
static int wolf_usage_has(const char *prog, const char *needle)
{
    char cmd[640];
    snprintf(cmd, sizeof cmd, "%s -? 2>&1", prog);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    for (int i = 0; i < 400 && fgets(line, sizeof line, f); i++) found |= strstr(line, needle) != NULL;
    pclose(f);
    return found;
}

/* The DER file certs/name (our test certificates) into buf; its length. */
static size_t read_cert_file(const char *name, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(cert_file(name), "rb");
    cr_assert_not_null(f, "%s", cert_file(name));
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    cr_assert(n > 0 && n < cap, "%s: %zu bytes", cert_file(name), n);
    return n;
}

static void sha256(const uint8_t *in, size_t len, uint8_t out[32])
{
    const cdtls_provider *p = cdtls_provider_default();
    cdtls_hash_ctx h;
    p->hash[CDTLS_HASH_SHA256]->init(&h);
    p->hash[CDTLS_HASH_SHA256]->update(&h, in, len);
    p->hash[CDTLS_HASH_SHA256]->final(&h, out);
}

/* The client identity a post-handshake CertificateRequest is answered
 * with: tests/x509/make-certs.sh's client-only leaf (EKU clientAuth, the
 * leaf's key) under the intermediate where the provider signs ECDSA, the
 * self-signed Ed25519 certificate where it signs only Ed25519 (what
 * served_identity_load picks, so the same root verifies it). */
typedef struct client_identity {
    const char *pem_chain, *key_file, *leaf_der, *int_der;
} client_identity;
static client_identity client_identity_for(const served_identity *id)
{
    if (strcmp(id->key_file, "leaf.key") == 0)
        return (client_identity){"clientchain.pem", "leaf.key", "clientonly.der", "int.der"};
    return (client_identity){"ed.pem", "ed.key", "ed.der", NULL};
}

/* The peer's first "certificate" (leaf, or SPKI for a raw key) is want. */
static void expect_peer_leaf(const cdtls_conn *c, const uint8_t *want, size_t want_len, const char *what)
{
    size_t n = 0;
    const cdtls_x509_cert *peer = cdtls_conn_peer_certificates(c, &n);
    cr_assert(peer && n >= 1, "no peer %s", what);
    cr_assert(peer[0].der_len == want_len && memcmp(peer[0].der, want, want_len) == 0,
              "the peer's %s is not the one wolfSSL was given (%zu bytes, want %zu)", what, peer[0].der_len,
              want_len);
}

/* Post-handshake client authentication (RFC 8446 §4.6.2, RFC 9147 §5.8.4),
 * wolfSSL built with --enable-postauth. Our listener (1.3 only, no
 * CertificateRequest in the handshake) serves the wolfSSL client given -Q
 * (wolfSSL_CTX_allow_post_handshake_auth: it offers post_handshake_auth)
 * and our client identity (-c, -k). After its "hello wolfssl!" we ask for
 * its certificate (cdtls_conn_request_client_auth, required), send our
 * reply, and read on until the answer is in: the wolfSSL client handles the
 * CertificateRequest inside the wolfSSL_read that then returns our reply,
 * so it prints the reply only after it has sent Certificate,
 * CertificateVerify and Finished. Our side: AUTHENTICATED, the client's
 * leaf byte for byte, checked against our root. */
Test(interop_wolfssl, post_handshake_auth13_our_server_asks)
{
    peer_require_cdtls13(CDTLS_SERVER);
    if (!wolf_usage_has(wolf_client, "post-handshake"))
        cr_skip_test("wolfSSL's example client was built without post-handshake authentication "
                     "(no --enable-postauth: no -Q in its usage)");
    served_identity id;
    served_identity_load(&id, certs);
    client_identity ci = client_identity_for(&id);
    uint8_t root[4096], leaf[4096];
    size_t leaf_len = read_cert_file(ci.leaf_der, leaf, sizeof leaf);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root, read_cert_file(id.root_der, root, sizeof root), &anchor), CDTLS_OK);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.callbacks.unix_time = wall_clock;

    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    child cli;
    const char *extra[] = {"-A", cert_file(id.root_pem), "-c", cert_file(ci.pem_chain),
                           "-k", cert_file(ci.key_file), "-Q", NULL};
    start_wolf(&cli, wolf_client, "4", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake with the wolfSSL client: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(peer_conn_version(c), PEER_V13);
    size_t n_before = 0;
    cdtls_conn_peer_certificates(c, &n_before);
    cr_assert_eq(n_before, 0, "no client certificate before we ask for one");
    cr_assert_eq(cdtls_conn_client_auth_state(c), CDTLS_CLIENT_AUTH_STATE_NONE);
    uint8_t buf[512];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no record from the wolfSSL client: %s", cdtls_strerror(rc));
    while (n && buf[n - 1] == 0) n--;
    cr_assert(n == 14 && memcmp(buf, "hello wolfssl!", 14) == 0, "the wolfSSL client sent \"%.*s\"", (int)n,
              buf);

    rc = cdtls_conn_request_client_auth(c, 1);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "the wolfSSL client offered post_handshake_auth (-Q): %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_conn_client_auth_state(c), CDTLS_CLIENT_AUTH_STATE_PENDING);
    const char *reply = "echo-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)reply, strlen(reply), NULL), CDTLS_OK);
    /* read on (bounded: 25 rounds of 200 ms) until the client's answer */
    for (int round = 0; round < 25 && cdtls_conn_client_auth_state(c) == CDTLS_CLIENT_AUTH_STATE_PENDING;
         round++) {
        rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 200);
        if (rc != CDTLS_OK && rc != CDTLS_ERR_TIMEOUT) break;
    }
    int st = cdtls_conn_client_auth_state(c);
    if (st != CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED) child_stop(&cli, 1);
    cr_assert_eq(st, CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED, "client auth state %d (last read: %s)", st,
                 cdtls_strerror(rc));
    expect_peer_leaf(c, leaf, leaf_len, "certificate");
    int echoed = child_output_contains(&cli, reply, 5000);
    if (!echoed) child_stop(&cli, 1);
    cr_assert(echoed, "the wolfSSL client printed our reply");
    expect_wolf_version(&cli, PEER_V13);
    int err = child_output_contains(&cli, "wolfSSL error", 0);
    child_stop(&cli, err);
    cr_assert(!err, "the wolfSSL client reported an error");
    cdtls_sock_close(s);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* Without -Q the wolfSSL client offers no post_handshake_auth (RFC 8446
 * §4.2.6), so we may not ask: CDTLS_ERR_UNSUPPORTED, the connection going
 * on unharmed (its "hello" echoed). */
Test(interop_wolfssl, post_handshake_auth13_not_offered)
{
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    child cli;
    const char *extra[] = {"-A", cert_file(id.root_pem), NULL};
    start_wolf(&cli, wolf_client, "4", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake with the wolfSSL client: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    rc = cdtls_conn_request_client_auth(c, 1);
    if (rc != CDTLS_ERR_UNSUPPORTED) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_ERR_UNSUPPORTED, "asking a client that did not offer post_handshake_auth: %s",
                 cdtls_strerror(rc));
    cr_assert_eq(cdtls_conn_client_auth_state(c), CDTLS_CLIENT_AUTH_STATE_NONE);
    uint8_t buf[512];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no record from the wolfSSL client: %s", cdtls_strerror(rc));
    const char *reply = "echo-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)reply, strlen(reply), NULL), CDTLS_OK);
    int echoed = child_output_contains(&cli, reply, 5000);
    child_stop(&cli, !echoed);
    cr_assert(echoed, "the wolfSSL client printed our reply");
    cdtls_sock_close(s);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* The other way: the wolfSSL server given -Q, after our first line, asks
 * our client (post_handshake_auth offered, our client identity as
 * credentials) for its certificate with wolfSSL_request_certificate
 * ("Successfully requested post-hs certificate"), answers, and reads a
 * second line under WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, its -A our root:
 * it prints that line only once our Certificate, CertificateVerify and
 * Finished have passed. Our side: AUTHENTICATED (we answered with ours). */
static void wolf_server_asks(int give_cert)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    if (!wolf_usage_has(wolf_server, "post-handshake"))
        cr_skip_test("wolfSSL's example server was built without post-handshake authentication "
                     "(no --enable-postauth: no -Q in its usage)");
    served_identity id;
    served_identity_load(&id, certs);
    client_identity ci = client_identity_for(&id);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    uint8_t der[2][4096];
    const uint8_t *chain[2] = {der[0], der[1]};
    size_t lens[2] = {read_cert_file(ci.leaf_der, der[0], sizeof der[0]), 0};
    size_t n_certs = 1;
    if (ci.int_der) lens[1] = read_cert_file(ci.int_der, der[1], sizeof der[1]), n_certs = 2;
    if (give_cert) {
        cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = n_certs;
        cfg.credentials.private_key = id.key; /* the client-only leaf has the leaf's key */
    }
    cfg.verify.post_handshake_auth = 1;

    uint16_t port = udp_free_port();
    child srv;
    const char *extra[] = {"-c", cert_file(id.pem_chain), "-k", cert_file(id.key_file),
                           "-A", cert_file(id.root_pem),  "-Q", NULL};
    start_wolf(&srv, wolf_server, "4", port, extra);
    int bound = peer_udp_bound(port, 5000);
    if (!bound) child_stop(&srv, 1);
    cr_assert(bound, "the wolfSSL server did not bind 127.0.0.1:%u", port);
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(&cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "handshake with the wolfSSL server: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(peer_conn_version(c), PEER_V13);
    cr_assert_eq(cdtls_conn_client_auth_state(c), CDTLS_CLIENT_AUTH_STATE_NONE);
    settle_13(s);
    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    uint8_t buf[128];
    size_t n = 0;
    /* the CertificateRequest comes before the answer: our reply to it goes
     * out from inside this read */
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "the wolfSSL server's answer: %s", cdtls_strerror(rc));
    while (n && buf[n - 1] == 0) n--;
    cr_assert(n == 22 && memcmp(buf, "I hear you fa shizzle!", 22) == 0,
              "the wolfSSL server answered \"%.*s\"", (int)n, buf);
    int asked = child_output_contains(&srv, "Successfully requested post-hs certificate", 3000);
    if (!asked) child_stop(&srv, 1);
    cr_assert(asked, "the wolfSSL server did not request a certificate");
    int st = cdtls_conn_client_auth_state(c);
    int want = give_cert ? CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED : CDTLS_CLIENT_AUTH_STATE_DECLINED;
    if (st != want) child_stop(&srv, 1);
    cr_assert_eq(st, want, "client auth state %d, want %d", st, want);
    const char *second = "second-after-auth";
    rc = cdtls_sock_write(s, (const uint8_t *)second, strlen(second), NULL);
    /* declined, the server's alert may already have ended the connection
     * (it reads our empty Certificate as soon as its answer is out) */
    if (give_cert) cr_assert_eq(rc, CDTLS_OK, "%s", cdtls_strerror(rc));
    /* our Finished is resent until ACKed: keep the connection driven while
     * the wolfSSL server reads (bounded: 15 rounds of 200 ms) */
    const char *outcome = give_cert ? "Client message: second-after-auth" : "SSL_read failed";
    int said = 0;
    for (int round = 0; round < 15 && !said; round++) {
        (void)cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 200);
        said = child_output_contains(&srv, outcome, 0);
    }
    if (!said) child_stop(&srv, 1);
    cr_assert(said, "the wolfSSL server did not print \"%s\"", outcome);
    int err = child_output_contains(&srv, "wolfSSL error", 0);
    int took = child_output_contains(&srv, "Client message: second-after-auth", 0);
    child_stop(&srv, give_cert ? err : took);
    if (give_cert)
        cr_assert(!err, "the wolfSSL server reported an error");
    else
        cr_assert(!took, "the wolfSSL server took our line without a certificate");
    cdtls_sock_close(s);
    served_identity_free(&id);
}

Test(interop_wolfssl, post_handshake_auth13_wolf_server_asks)
{
    wolf_server_asks(1);
}

/* The same without credentials: we answer with an empty Certificate and
 * Finished (DECLINED), and the wolfSSL server, which asked under
 * WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, fails its read ("SSL_read failed")
 * and never prints our second line: it checks what we send. */
Test(interop_wolfssl, post_handshake_auth13_wolf_server_asks_no_cert)
{
    wolf_server_asks(0);
}

/* Raw public keys (RFC 7250) over DTLS 1.3, wolfSSL built with
 * --enable-rpk. Its example client's --rpk sets client_certificate_type
 * and server_certificate_type to RawPublicKey only (and checks no peer:
 * doPeerCheck = 0), so the -c it loads (--files-are-der) must be a bare
 * SubjectPublicKeyInfo: a fresh key made here with openssl (P-256, or
 * Ed25519 where the provider signs only that), its SPKI and PKCS#8 in DER.
 * Our listener serves its own SPKI (credentials.raw_public_key) and, in
 * the mutual modes, requires the client's, pinned by SHA-256. Both sides
 * sign CertificateVerify with the raw keys; our side must see the
 * client's SPKI byte for byte. */
enum { RPK_SERVER_ONLY, RPK_MUTUAL, RPK_MUTUAL_WRONG_PIN };
static void wolf_rpk_client(int mode)
{
    peer_require_cdtls13(CDTLS_SERVER);
    if (!wolf_usage_has(wolf_client, "--rpk"))
        cr_skip_test("wolfSSL's example client was built without raw public keys (no --enable-rpk: no --rpk "
                     "in its usage)");
    served_identity id;
    served_identity_load(&id, certs);
    const cdtls_provider *p = cdtls_provider_default();
    const char *alg = p->sig[CDTLS_SIG_ECDSA_SHA256] ? "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
                                                     : "-algorithm ED25519";
    /* names of this process: the certificate directory may be shared by
     * tests running side by side (CDTLS_TEST_CERTS) */
    char rpk_pem[48], rpk_key[48], rpk_spki[48];
    snprintf(rpk_pem, sizeof rpk_pem, "rpk-%ld.pem", (long)getpid());
    snprintf(rpk_key, sizeof rpk_key, "rpk-%ld.key.der", (long)getpid());
    snprintf(rpk_spki, sizeof rpk_spki, "rpk-%ld.spki.der", (long)getpid());
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl genpkey %s -out %s 2>/dev/null && "
             "openssl pkey -in %s -outform DER -out %s 2>/dev/null && "
             "openssl pkey -in %s -pubout -outform DER -out %s 2>/dev/null",
             certs, alg, rpk_pem, rpk_pem, rpk_key, rpk_pem, rpk_spki);
    if (mode != RPK_SERVER_ONLY && !p->sig[CDTLS_SIG_ECDSA_SHA256])
        cr_skip_test("wolfSSL 5.9.2's client fails with an Ed25519 raw key of its own once asked for it "
                     "(\"wolfSSL_connect error -140, ASN parsing error\"; P-256 works), and provider %s "
                     "verifies only Ed25519",
                     p->name);
    if (system(cmd) != 0) cr_skip_test("openssl could not make the wolfSSL client's raw key (%s)", alg);
    uint8_t cli_spki[512], cli_pin[32];
    size_t cli_spki_len = read_cert_file(rpk_spki, cli_spki, sizeof cli_spki);
    sha256(cli_spki, cli_spki_len, cli_pin);

    /* our raw key: the served identity's, as its SPKI */
    cdtls_public_key pub;
    cr_assert_eq(p->sign_key_public(id.key, &pub), CDTLS_OK);
    uint8_t our_spki[CDTLS_X509_SPKI_MAX];
    size_t our_spki_len = 0;
    cr_assert_eq(cdtls_x509_spki_encode(&pub, our_spki, sizeof our_spki, &our_spki_len), CDTLS_OK);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    cfg.credentials.raw_public_key = our_spki, cfg.credentials.raw_public_key_len = our_spki_len;
    if (mode != RPK_SERVER_ONLY) {
        cfg.verify.pinned_spki_sha256 = cli_pin, cfg.verify.n_spki_pins = 1;
        cfg.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    }

    const char *extra[] = {"--rpk", "--files-are-der",  "-c", cert_file(rpk_spki),
                           "-k",    cert_file(rpk_key), NULL};
    if (mode == RPK_MUTUAL_WRONG_PIN) {
        cli_pin[0] ^= 0x01;
        wolf_client_refused(&cfg, "4", extra);
        served_identity_free(&id);
        return;
    }
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    child cli;
    start_wolf(&cli, wolf_client, "4", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no raw-key handshake with the wolfSSL client: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(peer_conn_version(c), PEER_V13);
    size_t n_peer = 0;
    cdtls_conn_peer_certificates(c, &n_peer);
    if (mode == RPK_MUTUAL) {
        expect_peer_leaf(c, cli_spki, cli_spki_len, "raw public key (SPKI)");
        cr_assert_eq(n_peer, 1, "a raw key is one entry, not a chain");
    } else {
        cr_assert_eq(n_peer, 0, "no client key asked for, none taken");
    }
    uint8_t buf[512];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no record from the wolfSSL client: %s", cdtls_strerror(rc));
    while (n && buf[n - 1] == 0) n--;
    cr_assert(n == 14 && memcmp(buf, "hello wolfssl!", 14) == 0, "the wolfSSL client sent \"%.*s\"", (int)n,
              buf);
    const char *reply = "echo-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)reply, strlen(reply), NULL), CDTLS_OK);
    int echoed = child_output_contains(&cli, reply, 5000);
    if (!echoed) child_stop(&cli, 1);
    cr_assert(echoed, "the wolfSSL client printed our reply");
    expect_wolf_version(&cli, PEER_V13);
    int err = child_output_contains(&cli, "wolfSSL error", 0);
    child_stop(&cli, err);
    cr_assert(!err, "the wolfSSL client reported an error");
    cdtls_sock_close(s);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* Our raw key only (no CertificateRequest): wolfSSL's client, which takes
 * RawPublicKey alone for the server (an X.509 certificate would be refused
 * as the wrong type), completes the handshake on our SPKI. */
Test(interop_wolfssl, raw_public_keys13_our_server)
{
    wolf_rpk_client(RPK_SERVER_ONLY);
}

Test(interop_wolfssl, raw_public_keys13_mutual)
{
    wolf_rpk_client(RPK_MUTUAL);
}

/* The same with a pin that is not the client's key's: our listener refuses
 * the raw key (bad_certificate, RFC 7250 §3 leaves the check to the
 * application: here the pin), hands out no connection, and the wolfSSL
 * client reports the failure. */
Test(interop_wolfssl, raw_public_keys13_pin_mismatch)
{
    wolf_rpk_client(RPK_MUTUAL_WRONG_PIN);
}

/* Our client pinning a wolfSSL server's raw key needs a server that sends
 * one: wolfSSL 5.9.2's examples/server has no --rpk (server.c never calls
 * wolfSSL_CTX_set_server_cert_type), so this direction cannot be run
 * against wolfSSL's examples; it fails once a server example offers it. */
Test(interop_wolfssl, raw_public_keys13_wolf_server)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    if (!wolf_usage_has(wolf_server, "--rpk"))
        cr_skip_test(
            "wolfSSL's example server has no raw public key option (5.9.2's examples/server/server.c "
            "has no --rpk, even built with --enable-rpk): our pinning client has no wolfSSL server "
            "to meet");
    cr_assert_fail("this wolfSSL example server offers --rpk: the interop test is to be written");
}

/* ------------------------------------------------- 1.3 resumption */

/* The examples' stdout is a file here, fully buffered: what a program that
 * stays for a second connection printed of its first is seen only at its
 * exit. The tests that read it in between run it under coreutils' stdbuf
 * -oL (line-buffered stdout). */
static void require_stdbuf(void)
{
    if (system("stdbuf --version > /dev/null 2>&1") != 0)
        cr_skip_test("no stdbuf (coreutils) to line-buffer the wolfSSL example's output");
}

/* Issue 17: DTLS 1.3 resumption (RFC 8446 §2.2, §4.6.1: a NewSessionTicket
 * after the handshake, its PSK offered in the next ClientHello with
 * psk_dhe_ke) with wolfSSL built with --enable-session-ticket (without it
 * wolfSSL 5.9.2 has no 1.3 tickets: "Can't do TLS 1.3 resumption; need
 * session tickets!"). What wolfSSL's examples print (wolfssl/test.h
 * showPeerEx, examples/client/client.c): "SSL reused session" on both sides
 * for a resumed connection; the client's -r second connection also prints
 * "reused session id" (else "didn't reuse session id!!!") and sends
 * "resuming wolfssl!"; "Session Ticket CB: ticketSz = N" each time a ticket
 * arrives. keyshare: wolfSSL's key share flags as for the 1.3 tests above.
 *
 * The wolfSSL client with -r (its second connection from a new socket, with
 * the session of the first; --waitTicket: the first waits until our ticket
 * is in) against our listener, twice: a full handshake, then a resumed one,
 * on both sides. stateful: our server keeps the sessions in a
 * cdtls_session_cache (the ticket is an index into it), else it seals them
 * into stateless tickets under cdtls_ticket_keys. */
static void wolf_client_resumes(const char *const *keyshare, int stateful)
{
    peer_require_cdtls13(CDTLS_SERVER);
    require_stdbuf();
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    cdtls_ticket_keys keys;
    cdtls_session_cache cache;
    cdtls_session_cache_entry entries[4];
    cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 3600u * 1000u, cdtls_io_now_ms()), CDTLS_OK);
    if (stateful)
        cfg.resumption.store = cdtls_session_cache_init(&cache, entries, 4);
    else
        cfg.resumption.ticket_keys = &keys;
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    const char *extra[10] = {"-A", cert_file(id.root_pem), "-x", "-r", "--waitTicket"};
    size_t ne = 5;
    for (size_t i = 0; keyshare && keyshare[i] && ne < 9; i++) extra[ne++] = keyshare[i];
    extra[ne] = NULL;
    child cli;
    start_wolf_ex(&cli, wolf_client, "4", port, extra, 1);
    int resumed[2] = {-1, -1};
    uint16_t group[2] = {0, 0};
    static const char *const said[2] = {"hello wolfssl!", "resuming wolfssl!"};
    static const char *const reply[2] = {"echo-from-cdtls-full", "echo-from-cdtls-resumed"};
    for (int i = 0; i < 2; i++) {
        cdtls_sock *s = NULL;
        int rc = cdtls_listener_accept(l, 10000, &s);
        if (rc != CDTLS_OK) child_stop(&cli, 1);
        cr_assert_eq(rc, CDTLS_OK, "connection %d: no handshake with the wolfSSL client: %s", i + 1,
                     cdtls_strerror(rc));
        cdtls_conn *c = cdtls_sock_conn(s);
        cr_assert_eq(peer_conn_version(c), PEER_V13);
        resumed[i] = cdtls_conn_resumed(c);
        group[i] = cdtls_conn_group(c);
        uint8_t buf[256];
        size_t n = 0;
        rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
        if (rc != CDTLS_OK) child_stop(&cli, 1);
        cr_assert_eq(rc, CDTLS_OK, "connection %d: no record from the wolfSSL client: %s", i + 1,
                     cdtls_strerror(rc));
        while (n && buf[n - 1] == 0) n--;
        int same = n == strlen(said[i]) && memcmp(buf, said[i], n) == 0;
        if (!same) child_stop(&cli, 1);
        cr_assert(same, "connection %d: the wolfSSL client sent \"%.*s\"", i + 1, (int)n, buf);
        cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)reply[i], strlen(reply[i]), NULL), CDTLS_OK);
        int echoed = child_output_contains(&cli, reply[i], 5000);
        if (!echoed) child_stop(&cli, 1);
        cr_assert(echoed, "connection %d: the wolfSSL client printed our reply", i + 1);
        cdtls_sock_close(s);
    }
    int got_ticket = child_output_contains(&cli, "Session Ticket CB: ticketSz", 0);
    int reused = child_output_contains(&cli, "reused session id", 0) &&
                 child_output_contains(&cli, "SSL reused session", 0);
    int not_reused = child_output_contains(&cli, "didn't reuse session id", 0);
    int err = child_output_contains(&cli, "wolfSSL error", 0);
    child_stop(&cli, !got_ticket || !reused || not_reused || err || resumed[0] != 0 || resumed[1] != 1);
    cdtls_listener_close(l);
    cr_assert_eq(resumed[0], 0, "the first connection is a full handshake");
    cr_assert_eq(resumed[1], 1, "our server resumed the wolfSSL client's second connection");
    cr_assert(got_ticket, "the wolfSSL client took our NewSessionTicket");
    cr_assert(reused && !not_reused, "the wolfSSL client says its second connection resumed");
    cr_assert(!err, "the wolfSSL client reported an error");
    /* psk_dhe_ke: the resumed handshake ran a key exchange too, on the
     * group of the first (wolfSSL's key share) */
    cr_assert(group[1] != 0 && group[1] == group[0], "groups 0x%04x then 0x%04x", group[0], group[1]);
    if (!stateful) {
        cr_assert_geq(keys.sealed, 1, "a stateless ticket was sealed");
        cr_assert_geq(keys.opened, 1, "and opened again on resumption");
    }
    cdtls_ticket_keys_wipe(&keys);
    served_identity_free(&id);
}

Test(interop_wolfssl, resumption13_wolf_client_vs_listener)
{
    wolf_client_resumes(NULL, 0);
}

Test(interop_wolfssl, resumption13_stateful_wolf_client_vs_listener)
{
    wolf_client_resumes(NULL, 1);
}

Test(interop_wolfssl, resumption13_mlkem_wolf_client_vs_listener)
{
    if (!peer_cdtls_has_mlkem())
        cr_skip_test("provider %s has no ML-KEM-768: no X25519MLKEM768 on our side",
                     cdtls_provider_default()->name);
    const char *ks[] = {"--pqc", "X25519MLKEM768", NULL};
    wolf_client_resumes(ks, 0);
}

/* Our client (one cdtls_session_cache for both connections) against the
 * wolfSSL server with -r (it takes a second connection after the first and
 * allows its resumption; its tickets are its own, sealed with the example's
 * ticket key): the first is a full handshake that leaves wolfSSL's ticket,
 * a 1.3 session, in our store; the second offers it and is resumed, on both
 * sides. */

static void our_client_resumes_wolf(const char *const *keyshare)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    require_stdbuf();
    served_identity id;
    served_identity_load(&id, certs);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    cdtls_session_cache cache;
    cdtls_session_cache_entry entries[2];
    cfg.resumption.store = cdtls_session_cache_init(&cache, entries, 2);
    const char *extra[10] = {"-c", cert_file(id.pem_chain), "-k", cert_file(id.key_file), "-d", "-r"};
    size_t ne = 6;
    for (size_t i = 0; keyshare && keyshare[i] && ne < 9; i++) extra[ne++] = keyshare[i];
    extra[ne] = NULL;
    uint16_t port = udp_free_port();
    child srv;
    start_wolf_ex(&srv, wolf_server, "4", port, extra, 1);
    static const char *const ping[2] = {"ping-full-handshake", "ping-resumed"};
    int resumed[2] = {-1, -1};
    unsigned long first_inode = 0;
    /* each connection stays open until both are done: its close_notify,
     * sent while the peer's next socket waits for its first datagram (to
     * connect to its sender), would take that socket for the old
     * connection's address */
    cdtls_sock *open_socks[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        /* the example server closes its socket after a connection and binds
         * a new one for the next (examples/server/server.c, udp_accept in
         * wolfssl/test.h): a ClientHello sent between the two would meet a
         * closed port, so wait for the new socket (another inode) */
        unsigned long inode = peer_udp_socket_inode(srv.pid, port, i == 0 ? 0 : first_inode, 5000);
        if (!inode) child_stop(&srv, 1);
        cr_assert(inode, "the wolfSSL server did not bind 127.0.0.1:%u (connection %d)", port, i + 1);
        if (i == 0) first_inode = inode;
        cdtls_addr to;
        cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
        cdtls_sock *s = NULL;
        int rc = cdtls_sock_dial(&cfg, &to, 8000, &s);
        if (rc != CDTLS_OK) child_stop(&srv, 1);
        cr_assert_eq(rc, CDTLS_OK, "connection %d: handshake with the wolfSSL server: %s", i + 1,
                     cdtls_strerror(rc));
        cdtls_conn *c = cdtls_sock_conn(s);
        cr_assert_eq(peer_conn_version(c), PEER_V13);
        resumed[i] = cdtls_conn_resumed(c);
        settle_13(s);
        cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping[i], strlen(ping[i]), NULL), CDTLS_OK);
        uint8_t buf[128];
        size_t n = 0;
        rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
        if (rc != CDTLS_OK) child_stop(&srv, 1);
        cr_assert_eq(rc, CDTLS_OK, "connection %d: the wolfSSL server's answer: %s", i + 1,
                     cdtls_strerror(rc));
        while (n && buf[n - 1] == 0) n--;
        cr_assert(n == 22 && memcmp(buf, "I hear you fa shizzle!", 22) == 0,
                  "the wolfSSL server answered \"%.*s\"", (int)n, buf);
        char line[64];
        snprintf(line, sizeof line, "Client message: %s", ping[i]);
        int took = child_output_contains(&srv, line, 3000);
        if (!took) child_stop(&srv, 1);
        cr_assert(took, "the wolfSSL server printed \"%s\"", line);
        if (i == 0) {
            cdtls_session kept;
            int rc_get = cfg.resumption.store->get(cfg.resumption.store->ctx, (const uint8_t *)id.host,
                                                   strlen(id.host), &kept);
            if (rc_get != CDTLS_OK) child_stop(&srv, 1);
            cr_assert_eq(rc_get, CDTLS_OK, "our client kept the wolfSSL server's ticket");
            cr_assert_eq(kept.version, CDTLS_VERSION_1_3);
            cr_assert_gt(kept.ticket_len, 0);
            int early = child_output_contains(&srv, "SSL reused session", 0);
            if (early) child_stop(&srv, 1);
            cr_assert(!early, "the wolfSSL server calls the first connection resumed");
        }
        open_socks[i] = s;
    }
    for (int i = 0; i < 2; i++) cdtls_sock_close(open_socks[i]);
    int reused = child_output_contains(&srv, "SSL reused session", 3000);
    int err = child_output_contains(&srv, "wolfSSL error", 0);
    child_stop(&srv, !reused || err || resumed[0] != 0 || resumed[1] != 1);
    cr_assert_eq(resumed[0], 0, "the first connection is a full handshake");
    cr_assert_eq(resumed[1], 1, "our client resumed with the wolfSSL server's ticket");
    cr_assert(reused, "the wolfSSL server says the second connection resumed");
    cr_assert(!err, "the wolfSSL server reported an error");
    served_identity_free(&id);
}

Test(interop_wolfssl, resumption13_our_client_vs_wolf_server)
{
    our_client_resumes_wolf(NULL);
}

Test(interop_wolfssl, resumption13_mlkem_our_client_vs_wolf_server)
{
    if (!peer_cdtls_has_mlkem())
        cr_skip_test("provider %s has no ML-KEM-768: no X25519MLKEM768 on our side",
                     cdtls_provider_default()->name);
    const char *ks[] = {"--pqc", "X25519MLKEM768", NULL};
    our_client_resumes_wolf(ks);
}

/* ------------------------------------------------ 1.3 connection IDs */

/* Issue 17: connection IDs in DTLS 1.3 (RFC 9147 §9: the connection_id
 * extension of RFC 9146, the CID then in the unified header of every
 * DTLSCiphertext, C bit 0x10). wolfSSL's --cid with -v 4 asks for the CID
 * "wolfcid1" and prints the one it sends ("Sending CID is" and its bytes);
 * we ask for 8 random bytes. Between the two runs a relay of ours (a child
 * process on loopback) that keeps every datagram, so the records
 * themselves show the CIDs: each protected record of epoch 3 (application
 * data and ACKs; the unified header's low epoch bits 3) from the client
 * carries the server's CID, each from the server the client's. */
typedef struct relay {
    pid_t pid;
    uint16_t port;
    char log[64];
} relay;

/* Starts a relay on 127.0.0.1 (r->port) to 127.0.0.1:to: datagrams from the
 * first source that writes to it go to `to`, the answers back to that
 * source; each is logged to r->log as 'c' (client to server) or 's', a
 * 2-byte length and the bytes. Runs at most 30 s. */
static void relay_start(relay *r, uint16_t to)
{
    memset(r, 0, sizeof *r);
    snprintf(r->log, sizeof r->log, "/tmp/cdtls-relay-XXXXXX");
    int logfd = mkstemp(r->log);
    cr_assert(logfd >= 0);
    int down = socket(AF_INET, SOCK_DGRAM, 0), up = socket(AF_INET, SOCK_DGRAM, 0);
    cr_assert(down >= 0 && up >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(
        0x7f000001u) /* 127.0.0.1: INADDR_LOOPBACK is hidden on macOS under _POSIX_C_SOURCE */;
    cr_assert_eq(bind(down, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    cr_assert_eq(getsockname(down, (struct sockaddr *)&a, &al), 0);
    r->port = ntohs(a.sin_port);
    a.sin_port = htons(to);
    cr_assert_eq(connect(up, (struct sockaddr *)&a, sizeof a), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct sockaddr_in peer;
        socklen_t pl = 0;
        uint8_t d[65536];
        time_t end = time(NULL) + 30;
        while (time(NULL) < end) {
            struct pollfd p[2] = {{down, POLLIN, 0}, {up, POLLIN, 0}};
            if (poll(p, 2, 100) <= 0) continue;
            for (int k = 0; k < 2; k++) {
                if (!(p[k].revents & POLLIN)) continue;
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(p[k].fd, d, sizeof d, 0, (struct sockaddr *)&from, &fl);
                if (n <= 0) continue;
                if (k == 0 && pl == 0) peer = from, pl = fl;
                if (k == 0 &&
                    (from.sin_port != peer.sin_port || from.sin_addr.s_addr != peer.sin_addr.s_addr))
                    continue;
                uint8_t h[3] = {k == 0 ? 'c' : 's', (uint8_t)(n >> 8), (uint8_t)n};
                if (write(logfd, h, 3) != 3 || write(logfd, d, (size_t)n) != n) _exit(2);
                if (k == 0)
                    (void)send(up, d, (size_t)n, 0);
                else if (pl)
                    (void)sendto(down, d, (size_t)n, 0, (struct sockaddr *)&peer, pl);
            }
        }
        _exit(0);
    }
    close(logfd), close(down), close(up);
    r->pid = pid;
}

static void relay_stop(relay *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* What the relay saw one way: unified-header records of epoch 3 carrying
 * the expected CID, carrying another, carrying none. */
typedef struct cid_seen {
    size_t right, wrong, none, records;
} cid_seen;

static cid_seen relay_scan(const relay *r, char dir, const uint8_t *cid, size_t cid_len)
{
    cid_seen s = {0, 0, 0, 0};
    FILE *f = fopen(r->log, "rb");
    cr_assert_not_null(f);
    uint8_t h[3], d[65536];
    while (fread(h, 1, 3, f) == 3) {
        size_t n = (size_t)h[1] << 8 | h[2];
        if (fread(d, 1, n, f) != n) break;
        if (h[0] != dir) continue;
        for (size_t i = 0; i < n;) {
            uint8_t b = d[i];
            size_t len;
            if ((b & 0xe0) == 0x20) { /* 001CSLEE, RFC 9147 §4 */
                size_t at = i + 1;
                int has_cid = (b & 0x10) != 0, is_app_epoch = (b & 0x03) == 3;
                if (has_cid) {
                    if (at + cid_len > n) break;
                    int same = memcmp(d + at, cid, cid_len) == 0;
                    if (is_app_epoch) same ? s.right++ : s.wrong++;
                    at += cid_len;
                } else if (is_app_epoch) {
                    s.none++;
                }
                if (is_app_epoch) s.records++;
                at += (b & 0x08) ? 2 : 1;
                if (b & 0x04) {
                    if (at + 2 > n) break;
                    len = (size_t)d[at] << 8 | d[at + 1];
                    at += 2;
                } else {
                    len = n - at;
                }
                i = at + len;
            } else { /* DTLSPlaintext: 13-byte header */
                if (i + 13 > n) break;
                len = (size_t)d[i + 11] << 8 | d[i + 12];
                i += 13 + len;
            }
        }
    }
    fclose(f);
    return s;
}

/* The records both ways carry the CIDs asked for: the client's records the
 * server's CID, the server's the client's, none without, at least one each
 * way (application data flowed both ways). */
static void expect_cids_on_wire(const relay *r, const uint8_t *server_cid, size_t server_len,
                                const uint8_t *client_cid, size_t client_len)
{
    cid_seen c = relay_scan(r, 'c', server_cid, server_len), s = relay_scan(r, 's', client_cid, client_len);
    cr_assert(c.right >= 1 && c.wrong == 0 && c.none == 0,
              "client to server, epoch 3: %zu records with the server's CID, %zu with another, %zu without",
              c.right, c.wrong, c.none);
    cr_assert(s.right >= 1 && s.wrong == 0 && s.none == 0,
              "server to client, epoch 3: %zu records with the client's CID, %zu with another, %zu without",
              s.right, s.wrong, s.none);
}

/* The wolfSSL client (-v 4 --cid) through the relay to our listener (1.3,
 * cid.length 8). */
Test(interop_wolfssl, client13_cid_vs_listener)
{
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    cfg.cid.length = 8;
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    relay r;
    relay_start(&r, port);
    const char *extra[] = {"-A", cert_file(id.root_pem), "-x", "--cid", wolf_cid, NULL};
    child cli;
    start_wolf(&cli, wolf_client, "4", r.port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1), relay_stop(&r);
    cr_assert_eq(rc, CDTLS_OK, "no 1.3 handshake with the wolfSSL client: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(peer_conn_version(c), PEER_V13);
    note_cid(c);
    uint8_t buf[256];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1), relay_stop(&r);
    cr_assert_eq(rc, CDTLS_OK, "no record from the wolfSSL client: %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_sock_write(s, buf, n, NULL), CDTLS_OK);
    expect_cids(&cli);
    expect_wolf_version(&cli, PEER_V13);
    int echoed = child_output_contains(&cli, "hello wolfssl!", 5000);
    if (!echoed) child_stop(&cli, 1), relay_stop(&r);
    cr_assert(echoed, "the wolfSSL client printed our echo");
    cdtls_sock_close(s);
    child_stop(&cli, 0);
    relay_stop(&r);
    expect_cids_on_wire(&r, last_cid.own, last_cid.own_len, (const uint8_t *)wolf_cid, 8);
    unlink(r.log);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* Our client (1.3, cid.length 8) through the relay to the wolfSSL server
 * (-v 4 --cid). */
Test(interop_wolfssl, server13_cid_vs_our_client)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    served_identity id;
    served_identity_load(&id, certs);
    uint8_t root[4096];
    cdtls_x509_cert anchor;
    cdtls_config cfg;
    client_config(&id, &anchor, root, sizeof root, &cfg);
    peer_config_versions(&cfg, PEER_V13, PEER_V13);
    cfg.cid.length = 8;
    uint16_t port = udp_free_port();
    const char *extra[] = {
        "-c", cert_file(id.pem_chain), "-k", cert_file(id.key_file), "-d", "--cid", wolf_cid, NULL};
    child srv;
    start_wolf(&srv, wolf_server, "4", port, extra);
    int bound = peer_udp_bound(port, 5000);
    if (!bound) child_stop(&srv, 1);
    cr_assert(bound, "the wolfSSL server did not bind 127.0.0.1:%u", port);
    relay r;
    relay_start(&r, port);
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", r.port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(&cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(&srv, 1), relay_stop(&r);
    cr_assert_eq(rc, CDTLS_OK, "1.3 handshake with the wolfSSL server: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(peer_conn_version(c), PEER_V13);
    note_cid(c);
    settle_13(s);
    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    uint8_t buf[128];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1), relay_stop(&r);
    cr_assert_eq(rc, CDTLS_OK, "the wolfSSL server's answer: %s", cdtls_strerror(rc));
    while (n && buf[n - 1] == 0) n--;
    cr_assert(n == 22 && memcmp(buf, "I hear you fa shizzle!", 22) == 0,
              "the wolfSSL server answered \"%.*s\"", (int)n, buf);
    int said = child_output_contains(&srv, "Client message: ping-from-cdtls", 3000);
    if (!said) child_stop(&srv, 1), relay_stop(&r);
    cr_assert(said, "the wolfSSL server printed our line");
    expect_cids(&srv);
    expect_wolf_version(&srv, PEER_V13);
    cdtls_sock_close(s);
    child_stop(&srv, 0);
    relay_stop(&r);
    expect_cids_on_wire(&r, (const uint8_t *)wolf_cid, 8, last_cid.own, last_cid.own_len);
    unlink(r.log);
    served_identity_free(&id);
}
