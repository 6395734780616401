#define _POSIX_C_SOURCE 200809L
/* Interop with pion/dtls v4.0.1 (tests/interop/pion4), the DTLS 1.3 + 1.2
 * stack whose ClientHello carries the post-quantum hybrid key share
 * X25519MLKEM768 (1,216 bytes) when its groups lead with it: a first
 * ClientHello of ~1.4 KB that pion fragments over two or more datagrams at
 * its MTU (RFC 6347 §4.2.3) — issue 14. The pion client talks to OUR
 * LISTENER (whose stateless HelloVerifyRequest step must take the hello in
 * fragments) and must end up on DTLS 1.2 (the listener's configuration
 * names one 1.2 suite). DTLS 1.3 (RFC 9147): the pion server with its
 * defaults (1.3 and 1.2, X25519MLKEM768 first) settles on 1.3 with our
 * client, and on 1.2 with our client limited to 1.2; the pion client
 * settles on 1.3 with our server, through our stateless cookie
 * HelloRetryRequest. Issue 17: where our provider has ML-KEM-768 (sodium)
 * both sides negotiate X25519MLKEM768, both roles, and the group is
 * asserted on both sides (pion4-peer prints the ServerHello's); elsewhere
 * X25519. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"
#include "interop_listener.h"
#include "interop_peers.h"
#include "test_util.h"
#include "udp_driver.h"

#define PION4_PSK_HEX "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

static char certs[64];
static char pion4_bin[512];

/* Builds the v4 peer (go build; cached after the first time) and the
 * certificates. No Go toolchain: the suite is skipped, said so. */
static void setup(void)
{
    snprintf(pion4_bin, sizeof pion4_bin, "%s/zig-out/pion4-peer", CDTLS_SOURCE_DIR);
    test_go_peer_build("tests/interop/pion4", pion4_bin);
    test_certs_make(certs, sizeof certs, "pion4");
}

static void teardown(void)
{
    if (certs[0]) test_certs_remove(certs);
}

TestSuite(interop_pion4, .init = setup, .fini = teardown, .timeout = 60);

static const char *cert_file(const char *name)
{
    static char buf[4][192];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 192, "%s/%s", certs, name);
    return p;
}

static void start_pion4(child *ch, const char *role, uint16_t port, const char *const *extra)
{
    static char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    char *argv[32];
    size_t n = 0;
    argv[n++] = pion4_bin;
    argv[n++] = "-role", argv[n++] = (char *)role;
    argv[n++] = "-addr", argv[n++] = addr;
    for (size_t i = 0; extra && extra[i] && n < 31; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    cr_assert_eq(child_start(ch, argv), 0);
}

/* "pion: handshake ok version=1.x suite=0xXXXX" for the suite we chose. */
static void expect_pion_on(child *peer, const char *version, uint16_t suite)
{
    char line[96];
    snprintf(line, sizeof line, "pion: handshake ok version=%s suite=0x%04X", version, suite);
    int seen = child_output_contains(peer, line, 5000);
    if (!seen) child_stop(peer, 1);
    cr_assert(seen, "pion did not report \"%s\"", line);
}

/* The group we expect: X25519MLKEM768 where the provider has ML-KEM-768
 * and pion offers it, else X25519. */
static uint16_t want_group(const char *pion_curves)
{
    const cdtls_provider *p = cdtls_provider_default();
    const int hybrid = p->kem[CDTLS_KEM_MLKEM768] &&
                       (!pion_curves[0] || strstr(pion_curves, "X25519MLKEM768"));
    return hybrid ? CDTLS_GROUP_X25519MLKEM768 : 0x001d;
}

/* pion's report of the ServerHello's key_share group ("pion: server_hello
 * group=0x11EC"): pion keeps it to itself, so its peer prints it as it
 * builds the ServerHello (server) or reads it off the wire (client). */
static void expect_pion_group(child *peer, const char *what, uint16_t group)
{
    char line[96];
    snprintf(line, sizeof line, "pion: %s group=0x%04X", what, group);
    int seen = child_output_contains(peer, line, 3000);
    if (!seen) child_stop(peer, 1);
    cr_assert(seen, "pion did not report \"%s\"", line);
}

static void expect_pion_on_dtls12(child *peer, uint16_t suite)
{
    expect_pion_on(peer, "1.2", suite);
}

/* The body length of the first ClientHello pion built ("pion:
 * client_hello bytes=N"), read from its output; 0 if it printed none. */
static unsigned long first_hello_bytes(child *peer)
{
    if (!child_output_contains(peer, "pion: client_hello bytes=", 3000)) return 0;
    FILE *f = fopen(peer->out_path, "r");
    if (!f) return 0;
    char line[256];
    unsigned long n = 0;
    while (!n && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "pion: client_hello bytes=");
        if (p) n = strtoul(p + strlen("pion: client_hello bytes="), NULL, 10);
    }
    fclose(f);
    return n;
}

/* That pion's hello needs at least min_fragments at the MTU: each fragment
 * carries at most mtu bytes of it (less the record and fragment headers),
 * so a body over (min_fragments - 1) * mtu cannot take fewer. What makes
 * the test about fragmentation, whatever pion's defaults become. */
static void expect_fragmented_hello(child *peer, unsigned mtu, unsigned min_fragments)
{
    unsigned long n = first_hello_bytes(peer);
    if (n <= (unsigned long)(min_fragments - 1) * mtu) child_stop(peer, 1);
    cr_assert(n > (unsigned long)(min_fragments - 1) * mtu,
              "pion's ClientHello (%lu bytes) fits in fewer than %u fragments of %u", n, min_fragments, mtu);
}

/* The pion v4 client, offering DTLS 1.2-1.3 with the given groups (the
 * first one gets the 1.3 key share), handshake fragments of at most mtu
 * bytes, against our listener; its first ClientHello must need at least
 * min_fragments. pion gives up after 8 s, before the listener's 10 s, so a
 * failure shows pion's own error. */
static void pion4_client_vs_listener(const char *curves, unsigned mtu, unsigned min_fragments)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    char mtu_arg[16];
    snprintf(mtu_arg, sizeof mtu_arg, "%u", mtu);
    const char *extra[] = {"-curves",  curves, "-mtu",     mtu_arg,           "-insecure",
                           "-timeout", "8s",   "-message", "ping-from-pion4", NULL};
    child cli;
    start_pion4(&cli, "client", port, extra);
    uint16_t suite = 0;
    listener_echo_once(l, &cli, "ping-from-pion4", 10000, &suite);
    cr_assert_eq(suite, id.suite);
    expect_pion_on_dtls12(&cli, suite);
    expect_fragmented_hello(&cli, mtu, min_fragments);
    cr_assert(child_output_contains(&cli, "pion: recv=ping-from-pion4", 3000), "pion got our echo");
    cr_assert(child_output_contains(&cli, "pion: done", 3000));
    child_stop(&cli, 0);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* X25519 first: a 1.3-offering hello of ~200 bytes, whole in one record;
 * what sets the two below apart is the fragmenting alone. */
Test(interop_pion4, x25519_client_vs_listener)
{
    pion4_client_vs_listener("X25519", 1200, 1);
}
/* MTU 1200 (pion's default): the ~1.4 KB hello in two fragments. */
Test(interop_pion4, mlkem_client_vs_listener_mtu1200)
{
    pion4_client_vs_listener("X25519MLKEM768,X25519", 1200, 2);
}
/* MTU 500: three or more fragments, each its own datagram. */
Test(interop_pion4, mlkem_client_vs_listener_mtu500)
{
    pion4_client_vs_listener("X25519MLKEM768,X25519", 500, 3);
}

/* Issue 16: the same pion client against a listener that serves DTLS 1.3
 * too (its default suites). The listener's verifier reassembles the
 * fragmented ~1.4 KB hello and answers it with the stateless cookie
 * HelloRetryRequest over the whole hello (RFC 9147 §5.1), which also asks
 * for an X25519 share; the handshake completes as 1.3. No
 * HelloVerifyRequest is sent: the listener sends exactly one stateless
 * reply, and a 1.3 hello answering a HelloVerifyRequest would carry a
 * legacy_cookie that our server refuses (RFC 9147 §5.3). */
static void count_stateless(void *user, const cdtls_addr *peer, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)peer;
    if (!c && ev->kind == CDTLS_EVENT_HELLO_VERIFY_SENT) (*(int *)user)++;
}

static void pion4_client13_vs_listener(unsigned mtu, unsigned min_fragments)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0; /* the defaults: 1.3 and 1.2 */
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    int stateless = 0;
    cr_assert_eq(cdtls_listener_set_observer(l, count_stateless, &stateless), CDTLS_OK);
    char mtu_arg[16];
    snprintf(mtu_arg, sizeof mtu_arg, "%u", mtu);
    const char *extra[] = {
        "-curves",  "X25519MLKEM768,X25519", "-mtu", mtu_arg, "-insecure", "-timeout", "8s",
        "-message", "ping-13-frag",          NULL};
    child cli;
    start_pion4(&cli, "client", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake completed through the listener: %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_conn_version(cdtls_sock_conn(s)), CDTLS_VERSION_1_3);
    uint16_t suite = cdtls_conn_cipher_suite(cdtls_sock_conn(s));
    expect_pion_on(&cli, "1.3", suite);
    expect_fragmented_hello(&cli, mtu, min_fragments);
    uint8_t buf[64];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion's message: %s", cdtls_strerror(rc));
    cr_assert(n == 12 && memcmp(buf, "ping-13-frag", 12) == 0);
    cr_assert_eq(cdtls_sock_write(s, buf, n, NULL), CDTLS_OK);
    int got = child_output_contains(&cli, "pion: recv=ping-13-frag", 3000);
    if (!got) child_stop(&cli, 1);
    cr_assert(got, "pion got our echo");
    cr_assert_eq(stateless, 1, "one stateless reply, the HelloRetryRequest (%d)", stateless);
    child_stop(&cli, 0);
    cdtls_sock_close(s);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

Test(interop_pion4, mlkem_client13_vs_listener13_mtu1200)
{
    peer_require_cdtls13(CDTLS_SERVER); /* a skip with -Ddtls13=false */
    pion4_client13_vs_listener(1200, 2);
}
Test(interop_pion4, mlkem_client13_vs_listener13_mtu500)
{
    peer_require_cdtls13(CDTLS_SERVER); /* a skip with -Ddtls13=false */
    pion4_client13_vs_listener(500, 3);
}

/* A PSK suite both sides have: CCM_8 with BearSSL, ChaCha20 with libsodium. */
static uint16_t psk_suite(void)
{
    return cdtls_cipher_suite_supported(cdtls_provider_default(), CDTLS_PSK_WITH_AES_128_CCM_8)
               ? CDTLS_PSK_WITH_AES_128_CCM_8
               : CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
}

/* The same with a pre-shared key: pion offers its 1.3 suite beside the
 * 1.2 PSK one, so 1.3 and the hybrid key share (psk_dhe_ke) with it, and
 * its hello is as large; we answer PSK on 1.2. */
Test(interop_pion4, mlkem_psk_client_vs_listener_mtu500)
{
    uint16_t suite = psk_suite();
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), suite))
        cr_skip_test("provider lacks %s", cdtls_cipher_suite_name(suite));
    uint8_t psk[16];
    cr_assert_eq(unhex(PION4_PSK_HEX, psk, sizeof psk), sizeof psk);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.psk.key = psk, cfg.psk.key_len = sizeof psk;
    cfg.psk.identity = (const uint8_t *)"cdtls", cfg.psk.identity_len = 5;
    cfg.negotiate.cipher_suites = &suite, cfg.negotiate.n_cipher_suites = 1;
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    char suites[96];
    snprintf(suites, sizeof suites, "%s,%s",
             suite == CDTLS_PSK_WITH_AES_128_CCM_8 ? "TLS_AES_128_GCM_SHA256"
                                                   : "TLS_CHACHA20_POLY1305_SHA256",
             cdtls_cipher_suite_name(suite));
    const char *extra[] = {"-curves",  "X25519MLKEM768,X25519",
                           "-mtu",     "500",
                           "-psk",     PION4_PSK_HEX,
                           "-suites",  suites,
                           "-timeout", "8s",
                           "-message", "ping-from-pion4",
                           NULL};
    child cli;
    start_pion4(&cli, "client", port, extra);
    uint16_t got = 0;
    listener_echo_once(l, &cli, "ping-from-pion4", 10000, &got);
    cr_assert_eq(got, suite);
    expect_pion_on_dtls12(&cli, suite);
    expect_fragmented_hello(&cli, 500, 3);
    cr_assert(child_output_contains(&cli, "pion: done", 3000));
    child_stop(&cli, 0);
    cdtls_listener_close(l);
}

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* The pion v4 server with its defaults (DTLS 1.3 and 1.2; groups
 * X25519MLKEM768, X25519, P-256, P-384) against our client over
 * cdtls_sock_dial: our client offers 1.3 and 1.2 (versions 0/0), pion
 * picks 1.3 (after its cookie HelloRetryRequest); limited to 1.2
 * (max_version), our client gets 1.2 and ignores pion's downgrade sentinel,
 * as a 1.2 client must. */
static void pion_server_vs_our_client_curves(uint16_t max_version, const char *curves)
{
    served_identity id;
    served_identity_load(&id, certs);
    uint16_t port = udp_free_port();
    const char *extra[] = {
        "-cert", cert_file(id.pem_chain), "-key", cert_file(id.key_file), "-curves", curves, NULL};
    child srv;
    start_pion4(&srv, "server", port, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "the pion v4 server did not start");

    uint8_t root[4096];
    FILE *f = fopen(cert_file(id.root_der), "rb");
    cr_assert_not_null(f);
    size_t rn = fread(root, 1, sizeof root, f);
    fclose(f);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root, rn, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = id.host;
    cfg.callbacks.unix_time = wall_clock;
    cfg.versions.max = max_version;
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(&cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "handshake with the pion v4 server: %s", cdtls_strerror(rc));
    uint16_t suite = cdtls_conn_cipher_suite(cdtls_sock_conn(s));
    /* our default: 1.3, or 1.2 in a build without it (-Ddtls13=false) */
    const uint16_t want = max_version                            ? max_version
                          : peer_cdtls13_available(CDTLS_CLIENT) ? CDTLS_VERSION_1_3
                                                                 : CDTLS_VERSION_1_2;
    cr_assert_eq(cdtls_conn_version(cdtls_sock_conn(s)), want, "version 0x%04x",
                 cdtls_conn_version(cdtls_sock_conn(s)));
    expect_pion_on(&srv, want == CDTLS_VERSION_1_3 ? "1.3" : "1.2", suite);
    if (want == CDTLS_VERSION_1_3) {
        /* pion's server leads with X25519MLKEM768: taken straight from our
         * hello's share where our provider has ML-KEM-768, else X25519 */
        const uint16_t group = want_group(curves);
        cr_assert_eq(cdtls_conn_group(cdtls_sock_conn(s)), group, "our client's group 0x%04x",
                     cdtls_conn_group(cdtls_sock_conn(s)));
        expect_pion_group(&srv, "server_hello", group);
    }
    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    uint8_t buf[128];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion's echo: %s", cdtls_strerror(rc));
    cr_assert(n == strlen(ping) && memcmp(buf, ping, n) == 0, "pion echoes");
    cdtls_sock_close(s);
    cr_assert(child_output_contains(&srv, "pion: done", 3000));
    child_stop(&srv, 0);
    served_identity_free(&id);
}

static void pion_server_vs_our_client(uint16_t max_version)
{
    pion_server_vs_our_client_curves(max_version, "");
}

Test(interop_pion4, default_server_vs_our_client)
{
    pion_server_vs_our_client(0);
}

/* A pion server without the hybrid (X25519 only): our client's first hello
 * at MTU 1200 carries the X25519 share (the hybrid's would fragment it), so
 * pion takes X25519 straight away. (pion's default server above, leading
 * with the hybrid, asks for its share in its cookie HelloRetryRequest.) */
Test(interop_pion4, x25519_server_vs_our_client)
{
    pion_server_vs_our_client_curves(0, "X25519");
}

Test(interop_pion4, default_server_vs_our_dtls12_client)
{
    pion_server_vs_our_client(CDTLS_VERSION_1_2);
}

/* The pion v4 client (1.3 and 1.2) against one server connection of ours
 * (over the test's UDP driver, no listener): our server answers its first
 * ClientHello with a stateless cookie HelloRetryRequest (asking for the
 * X25519MLKEM768 share when pion supports it without sending one, or for
 * X25519 when we lack the KEM and pion led with the hybrid), then completes
 * DTLS 1.3 with certificates or with pion's PSK, and echoes a message. */
static void pion_client_vs_our_server13(const char *curves, int with_psk)
{
    peer_require_cdtls13(CDTLS_SERVER); /* skips in a build without 1.3 (-Ddtls13=false) */
    /* the 1.3 suite for pion's PSK: AES-GCM where the provider has its
     * record-number mask, else ChaCha20 (libsodium) */
    const cdtls_provider *prov = cdtls_provider_default();
    const char *suite13 = prov->sn_mask[CDTLS_SN_MASK_AES_128] && prov->aead[CDTLS_AEAD_AES_128_GCM]
                              ? "TLS_AES_128_GCM_SHA256"
                              : "TLS_CHACHA20_POLY1305_SHA256";
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    uint8_t psk[16];
    if (with_psk) {
        cr_assert_eq(unhex(PION4_PSK_HEX, psk, sizeof psk), sizeof psk);
        cfg.psk.key = psk, cfg.psk.key_len = sizeof psk;
        cfg.psk.identity = (const uint8_t *)"cdtls", cfg.psk.identity_len = 5;
    } else {
        cfg.credentials.chain = id.chain, cfg.credentials.chain_len = id.lens;
        cfg.credentials.n_certs = id.n_certs, cfg.credentials.private_key = id.key;
    }
    uint16_t port = 0;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    const char *extra_cert[] = {"-curves", curves,     "-insecure", "-timeout",
                                "8s",      "-message", "ping-13",   NULL};
    const char *extra_psk[] = {"-curves",  curves, "-psk",     PION4_PSK_HEX, "-suites", suite13,
                               "-timeout", "8s",   "-message", "ping-13",     NULL};
    cdtls_conn *c = NULL;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    child cli;
    start_pion4(&cli, "client", port, with_psk ? extra_psk : extra_cert);
    udp_peer u = {fd, {0}, 0};
    int rc = udp_handshake(c, &u, 9000);
    if (rc != 1 || cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) child_stop(&cli, 1);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "our server: %s",
                 cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    uint16_t suite = cdtls_conn_cipher_suite(c);
    cr_assert(suite >= 0x1301 && suite <= 0x1305, "suite 0x%04x", suite);
    expect_pion_on(&cli, "1.3", suite);
    /* the group, on both sides: ours, and the ServerHello pion read */
    const uint16_t group = want_group(curves);
    cr_assert_eq(cdtls_conn_group(c), group, "our server's group 0x%04x", cdtls_conn_group(c));
    expect_pion_group(&cli, "server_hello", group);
    /* pion led with X25519 (its client default) but supports the hybrid:
     * our server asked for the hybrid share by HelloRetryRequest */
    if (!curves[0] && group == CDTLS_GROUP_X25519MLKEM768) {
        expect_pion_group(&cli, "hello_retry_request", group);
        cr_assert(child_output_contains(&cli, "shares=0x001D\n", 1000), "pion's first hello: X25519 share");
        cr_assert(child_output_contains(&cli, "shares=0x11EC\n", 1000),
                  "pion's second hello: the hybrid share");
    }
    uint8_t buf[64];
    size_t n = 0;
    rc = udp_read(c, &u, buf, sizeof buf, &n, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion's message: %s", cdtls_strerror(rc));
    cr_assert(n == 7 && memcmp(buf, "ping-13", 7) == 0);
    cr_assert_eq(cdtls_conn_write(c, buf, n, NULL), CDTLS_OK);
    (void)udp_flush(c, &u);
    int got = child_output_contains(&cli, "pion: recv=ping-13", 3000);
    if (!got) child_stop(&cli, 1);
    cr_assert(got, "pion got our echo");
    child_stop(&cli, 0);
    cdtls_conn_free(c);
    close(fd);
    served_identity_free(&id);
}

Test(interop_pion4, client13_vs_our_server_x25519)
{
    pion_client_vs_our_server13("X25519", 0);
}

/* pion leads with the hybrid and sends both shares in a fragmented hello:
 * our server takes X25519MLKEM768 where the provider has ML-KEM-768 (after
 * its cookie HelloRetryRequest, which asks for no group), X25519 elsewhere. */
Test(interop_pion4, client13_mlkem_first_vs_our_server_hrr_group)
{
    pion_client_vs_our_server13("X25519MLKEM768,X25519", 0);
}

/* pion's client defaults (X25519, X25519MLKEM768, P-256, P-384; an X25519
 * share only): our server asks for the hybrid by HelloRetryRequest where it
 * has ML-KEM-768 (the hello that follows is fragmented), and takes X25519
 * elsewhere. */
Test(interop_pion4, client13_default_curves_vs_our_server)
{
    pion_client_vs_our_server13("", 0);
}

/* The same with pion's PSK (psk_dhe_ke): the hybrid key share with it. */
Test(interop_pion4, client13_mlkem_psk_vs_our_server)
{
    pion_client_vs_our_server13("X25519MLKEM768,X25519", 1);
}

Test(interop_pion4, client13_psk_vs_our_server)
{
    pion_client_vs_our_server13("X25519", 1);
}

/* ------------------------------------------- connection IDs over 1.3 */

/* Connection IDs over DTLS 1.3 (RFC 9147 §9) with pion v4.0.1, which
 * negotiates them in the hellos, puts them on its unified headers, answers
 * RequestConnectionId, and moves a connection to a new path (Conn.AddPath,
 * Path.Switch; -cid in tests/interop/pion4/cid.go, with
 * CIDPathMigrationUnsafe: no return routability check, which cdtls does not
 * speak yet). The pion client, after its first echo, moves to a new UDP
 * port: our listener finds the session by the CID (our 8 bytes) and
 * follows. Both sides ask for CIDs (pion 6 bytes), so every record each
 * way carries one: our side drops records without its CID. */
Test(interop_pion4, cid13_client_moves_vs_our_listener)
{
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    cfg.versions.min = CDTLS_VERSION_1_3;
    cfg.cid.length = 8;
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    const char *extra[] = {"-cid",     "6",      "-migrate", "-insecure", "-timeout", "8s",
                           "-message", "cid-13", "-max",     "1.3",       NULL};
    child cli;
    start_pion4(&cli, "client", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake through the listener: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    cr_assert(cdtls_conn_uses_cid(c), "CIDs negotiated with pion over 1.3");
    size_t n = 0;
    (void)cdtls_conn_peer_cid(c, &n);
    cr_assert_eq(n, 6, "pion's CID");
    (void)cdtls_conn_own_cid(c, &n);
    cr_assert_eq(n, 8);
    expect_pion_on(&cli, "1.3", cdtls_conn_cipher_suite(c));
    const cdtls_addr first = *cdtls_sock_peer(s);
    for (int k = 0; k < 2; k++) {
        uint8_t buf[64];
        n = 0;
        rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
        if (rc != CDTLS_OK) child_stop(&cli, 1);
        cr_assert_eq(rc, CDTLS_OK, "pion's message %d: %s", k, cdtls_strerror(rc));
        cr_assert(n == 6 && memcmp(buf, "cid-13", 6) == 0);
        cr_assert_eq(cdtls_sock_write(s, buf, n, NULL), CDTLS_OK);
    }
    int got = child_output_contains(&cli, "pion: recv after migration=cid-13", 3000);
    if (!got) child_stop(&cli, 1);
    cr_assert(got, "pion got our echo on its new path");
    cr_assert(child_output_contains(&cli, "pion: migrated to", 1000));
    cr_assert_neq(cdtls_sock_peer(s)->port, first.port, "the listener followed pion to its new port");
    child_stop(&cli, 0);
    cdtls_sock_close(s);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

static void io_send_all(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK)
        cr_assert_eq(cdtls_io_send(io, d, n, to, NULL, NULL, 0), CDTLS_OK);
}

static void io_pump(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, int wait_ms)
{
    uint8_t d[2048];
    size_t n;
    if (cdtls_io_recv(io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, wait_ms) == CDTLS_OK)
        (void)cdtls_conn_recv(c, d, n, NULL, cdtls_io_now_ms());
    if (cdtls_conn_timeout(c) <= cdtls_io_now_ms()) (void)cdtls_conn_on_timeout(c, cdtls_io_now_ms());
    io_send_all(c, io, to);
}

static int io_echo(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, const char *msg)
{
    if (cdtls_conn_write(c, (const uint8_t *)msg, strlen(msg), NULL) != CDTLS_OK) return 0;
    io_send_all(c, io, to);
    for (int i = 0; i < 100; i++) {
        uint8_t buf[256];
        size_t n;
        if (cdtls_conn_read(c, buf, sizeof buf, &n, NULL) == CDTLS_OK)
            return n == strlen(msg) && memcmp(buf, msg, n) == 0;
        io_pump(c, io, to, 50);
    }
    return 0;
}

static int empty_cid(void *user, uint8_t *cid, size_t cap, size_t *len)
{
    (void)user, (void)cid, (void)cap;
    *len = 0;
    return CDTLS_OK;
}

/* Our 1.3 client with CIDs against the pion server: it asks pion for spare
 * CIDs (RequestConnectionId; pion answers with a NewConnectionId), switches
 * to one, then sends from a new UDP port: pion (unsafe migration policy)
 * takes the authenticated record with its CID and answers at the new
 * address. With our_cid_len 0 we ask for none: pion puts none on its records. */
static void our_client13_cid_vs_pion_server(size_t our_cid_len)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    served_identity id;
    served_identity_load(&id, certs);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-cert",    cert_file(id.pem_chain),
                           "-key",     cert_file(id.key_file),
                           "-cid",     "8",
                           "-echoes",  "2",
                           "-max",     "1.3",
                           "-timeout", "8s",
                           NULL};
    child srv;
    start_pion4(&srv, "server", port, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "the pion v4 server did not start");
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.verify.insecure_skip_verify = 1;
    cfg.versions.min = CDTLS_VERSION_1_3;
    cfg.cid.length = our_cid_len;
    if (!our_cid_len) cfg.callbacks.cid_generator = empty_cid; /* RFC 9146 §3: send pion's, receive none */
    cdtls_addr bind, to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_io_socket a, b;
    cr_assert_eq(cdtls_io_open(&a, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&b, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, cdtls_io_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, cdtls_io_now_ms()), CDTLS_OK);
    io_send_all(c, &a, &to);
    for (int i = 0; i < 200 && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING; i++)
        io_pump(c, &a, &to, 50);
    if (cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) child_stop(&srv, 1);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    cr_assert(cdtls_conn_uses_cid(c));
    size_t n;
    (void)cdtls_conn_peer_cid(c, &n);
    cr_assert_eq(n, 8, "pion's CID");
    expect_pion_on(&srv, "1.3", cdtls_conn_cipher_suite(c));
    cr_assert(io_echo(c, &a, &to, "before"), "echo before the move");
    cr_assert_eq(cdtls_conn_request_cids(c, 2, cdtls_io_now_ms()), CDTLS_OK);
    io_send_all(c, &a, &to);
    for (int i = 0; i < 100 && cdtls_conn_spare_cids(c) == 0; i++) io_pump(c, &a, &to, 50);
    if (cdtls_conn_spare_cids(c) == 0) child_stop(&srv, 1);
    cr_assert_gt(cdtls_conn_spare_cids(c), 0, "pion answered our RequestConnectionId");
    const uint8_t *old = cdtls_conn_peer_cid(c, &n);
    uint8_t was[8];
    memcpy(was, old, 8);
    cr_assert_eq(cdtls_conn_switch_cid(c), CDTLS_OK);
    cr_assert_neq(memcmp(cdtls_conn_peer_cid(c, &n), was, 8), 0, "a new CID of pion's");
    int moved = io_echo(c, &b, &to, "after");
    if (!moved) child_stop(&srv, 1);
    cr_assert(moved, "pion answered at our new port");
    cr_assert(child_output_contains(&srv, "pion: recv=after", 3000));
    cdtls_conn_close(c);
    io_send_all(c, &b, &to);
    child_stop(&srv, 0);
    cdtls_conn_free(c);
    cdtls_io_close(&a);
    cdtls_io_close(&b);
    served_identity_free(&id);
}

Test(interop_pion4, cid13_our_client_moves_vs_pion_server)
{
    our_client13_cid_vs_pion_server(4);
}

Test(interop_pion4, cid13_zero_length_our_client_moves_vs_pion_server)
{
    our_client13_cid_vs_pion_server(0);
}

/* ------------------------------------ DTLS-SRTP and ALPN over DTLS 1.3 */

/* use_srtp and ALPN negotiated over DTLS 1.3 (RFC 9147 keeps RFC 5764's
 * use_srtp; the server answers both in EncryptedExtensions), both roles;
 * the SRTP keying material of RFC 5764 §4.2 comes from the 1.3 exporter
 * (RFC 8446 §7.5, "EXTRACTOR-dtls_srtp", no context): ours must equal
 * pion's exported block byte for byte. */
static const char *const alpn13_list[] = {"webrtc", "h2"};
static const uint16_t srtp13_list[] = {CDTLS_SRTP_AEAD_AES_128_GCM, CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};

/* "pion: export=<HEX>" of the client_key|server_key|client_salt|server_salt
 * block, as ours; and pion's view of the profile and protocol. */
static void expect_same_srtp13(child *peer, const cdtls_conn *c)
{
    cdtls_srtp_keys k;
    cr_assert_eq(cdtls_conn_srtp_keys(c, &k), CDTLS_OK);
    cr_assert_eq(k.profile, CDTLS_SRTP_AEAD_AES_128_GCM);
    cr_assert(k.key_len == 16 && k.salt_len == 12);
    char line[256];
    size_t n = (size_t)snprintf(line, sizeof line, "pion: export=");
    const uint8_t *parts[4] = {k.client_key, k.server_key, k.client_salt, k.server_salt};
    const size_t lens[4] = {k.key_len, k.key_len, k.salt_len, k.salt_len};
    for (int p = 0; p < 4; p++)
        for (size_t i = 0; i < lens[p]; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%02X", parts[p][i]);
    int same = child_output_contains(peer, line, 3000);
    if (!same) child_stop(peer, 1);
    cr_assert(same, "pion's SRTP keying material differs from ours (%s)", line);
    cr_assert(child_output_contains(peer, "pion: srtp=0x0007", 1000));
    cr_assert(child_output_contains(peer, "pion: alpn=webrtc", 1000));
    size_t alen = 0;
    const uint8_t *proto = cdtls_conn_alpn(c, &alen);
    cr_assert(proto && alen == 6 && memcmp(proto, "webrtc", 6) == 0, "our ALPN result");
}

/* pion's client (1.3 only) against our server: pion prefers SHA1_80 and
 * h2 first, our server's preference (AEAD_AES_128_GCM, webrtc) wins. */
Test(interop_pion4, client13_srtp_alpn_vs_our_server)
{
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.credentials.chain = id.chain, cfg.credentials.chain_len = id.lens;
    cfg.credentials.n_certs = id.n_certs, cfg.credentials.private_key = id.key;
    cfg.alpn.protocols = alpn13_list, cfg.alpn.n_protocols = 2;
    cfg.srtp.profiles = srtp13_list, cfg.srtp.n_profiles = 2;
    uint16_t port = 0;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    const char *extra[] = {"-min",
                           "1.3",
                           "-curves",
                           "X25519",
                           "-insecure",
                           "-alpn",
                           "h2,webrtc",
                           "-srtp",
                           "SRTP_AES128_CM_HMAC_SHA1_80,SRTP_AEAD_AES_128_GCM",
                           "-export",
                           "EXTRACTOR-dtls_srtp:56",
                           "-timeout",
                           "8s",
                           "-message",
                           "srtp-13",
                           NULL};
    cdtls_conn *c = NULL;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    child cli;
    start_pion4(&cli, "client", port, extra);
    udp_peer u = {fd, {0}, 0};
    int rc = udp_handshake(c, &u, 9000);
    if (rc != 1 || cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) child_stop(&cli, 1);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "our server: %s",
                 cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    expect_pion_on(&cli, "1.3", cdtls_conn_cipher_suite(c));
    cr_assert_eq(cdtls_conn_srtp_profile(c), CDTLS_SRTP_AEAD_AES_128_GCM);
    expect_same_srtp13(&cli, c);
    uint8_t buf[64];
    size_t n = 0;
    rc = udp_read(c, &u, buf, sizeof buf, &n, 5000);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion's message: %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_conn_write(c, buf, n, NULL), CDTLS_OK);
    (void)udp_flush(c, &u);
    int got = child_output_contains(&cli, "pion: recv=srtp-13", 3000);
    if (!got) child_stop(&cli, 1);
    cr_assert(got, "pion got our echo");
    child_stop(&cli, 0);
    cdtls_conn_free(c);
    close(fd);
    served_identity_free(&id);
}

/* pion's server (1.3 only) against our client: pion's preference decides
 * (AEAD_AES_128_GCM first, webrtc its only protocol). */
Test(interop_pion4, server13_srtp_alpn_vs_our_client)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    served_identity id;
    served_identity_load(&id, certs);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-cert",   cert_file(id.pem_chain),
                           "-key",    cert_file(id.key_file),
                           "-min",    "1.3",
                           "-alpn",   "webrtc",
                           "-srtp",   "SRTP_AEAD_AES_128_GCM,SRTP_AES128_CM_HMAC_SHA1_80",
                           "-export", "EXTRACTOR-dtls_srtp:56",
                           NULL};
    child srv;
    start_pion4(&srv, "server", port, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "the pion v4 server did not start");
    uint8_t root[4096];
    FILE *f = fopen(cert_file(id.root_der), "rb");
    cr_assert_not_null(f);
    size_t rn = fread(root, 1, sizeof root, f);
    fclose(f);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root, rn, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = id.host;
    cfg.callbacks.unix_time = wall_clock;
    cfg.versions.min = CDTLS_VERSION_1_3;
    static const char *const ours[] = {"h2", "webrtc"};
    static const uint16_t our_srtp[] = {CDTLS_SRTP_AES128_CM_HMAC_SHA1_80, CDTLS_SRTP_AEAD_AES_128_GCM};
    cfg.alpn.protocols = ours, cfg.alpn.n_protocols = 2;
    cfg.srtp.profiles = our_srtp, cfg.srtp.n_profiles = 2;
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(&cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "handshake with the pion v4 server: %s", cdtls_strerror(rc));
    const cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    expect_pion_on(&srv, "1.3", cdtls_conn_cipher_suite(c));
    cr_assert_eq(cdtls_conn_srtp_profile(c), CDTLS_SRTP_AEAD_AES_128_GCM);
    expect_same_srtp13(&srv, c);
    const char *ping = "srtp-13-from-cdtls";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    uint8_t buf[128];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion's echo: %s", cdtls_strerror(rc));
    cdtls_sock_close(s);
    child_stop(&srv, 0);
    served_identity_free(&id);
}

/* RFC 9853 against pion v4's CIDPathMigrationRRC server (tests/interop/pion4
 * rrc.go, -cid 8): our client finishes the handshake from socket A and
 * sends its message from socket B, as after a NAT rebinding. pion keeps
 * the session on A, sends a path_challenge to B, which our client answers
 * from B; pion then moves the session to B. Both ends negotiated rrc (our
 * cdtls_conn_uses_rrc; pion follows only with RRC negotiated). */
static void rrc_send_all(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK)
        cr_assert_eq(cdtls_io_send(io, d, n, to, NULL, NULL, 0), CDTLS_OK);
}

static void rrc_pump(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, int wait_ms)
{
    uint8_t d[2048];
    size_t n;
    if (cdtls_io_recv(io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, wait_ms) == CDTLS_OK)
        (void)cdtls_conn_recv(c, d, n, NULL, cdtls_io_now_ms());
    if (cdtls_conn_timeout(c) <= cdtls_io_now_ms()) (void)cdtls_conn_on_timeout(c, cdtls_io_now_ms());
    rrc_send_all(c, io, to);
}

static int rrc_answered;
static void rrc_watch(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)user, (void)c;
    if (ev->kind == CDTLS_EVENT_PATH && ev->path_event == CDTLS_PATH_CHALLENGE_ANSWERED) rrc_answered++;
}

/* v13: the same over DTLS 1.3 (pion v4.0.1 negotiates rrc beside
 * connection_id in its 1.3 ServerHello, flight13/flight4handler.go, and
 * checks paths with RRC messages in 1.3 records), with a certificate. */
static void rrc_vs_pion_server(int v13)
{
    uint16_t suite = psk_suite();
    if (!v13 && !cdtls_cipher_suite_supported(cdtls_provider_default(), suite))
        cr_skip_test("provider lacks %s", cdtls_cipher_suite_name(suite));
    if (v13) peer_require_cdtls13(CDTLS_CLIENT);
    uint8_t psk[16];
    cr_assert_eq(unhex(PION4_PSK_HEX, psk, sizeof psk), sizeof psk);
    uint16_t port = udp_free_port();
    const char *extra12[] = {"-psk",     PION4_PSK_HEX, "-suites",  cdtls_cipher_suite_name(suite),
                             "-max",     "1.2",         "-rrc-cid", "8",
                             "-timeout", "8s",          NULL};
    served_identity id;
    memset(&id, 0, sizeof id);
    if (v13) served_identity_load(&id, certs);
    const char *extra13[] = {"-cert",    v13 ? cert_file(id.pem_chain) : "",
                             "-key",     v13 ? cert_file(id.key_file) : "",
                             "-rrc-cid", "8",
                             "-max",     "1.3",
                             "-timeout", "8s",
                             NULL};
    child srv;
    start_pion4(&srv, "server", port, v13 ? extra13 : extra12);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "the pion v4 server did not start");

    cdtls_config cfg;
    cdtls_config_init(&cfg);
    if (v13) {
        cfg.verify.insecure_skip_verify = 1;
        cfg.versions.min = CDTLS_VERSION_1_3;
    } else {
        cfg.psk.key = psk, cfg.psk.key_len = sizeof psk;
        cfg.psk.identity = (const uint8_t *)"cdtls", cfg.psk.identity_len = 5;
        cfg.negotiate.cipher_suites = &suite, cfg.negotiate.n_cipher_suites = 1;
        cfg.versions.max = CDTLS_VERSION_1_2;
    }
    cfg.cid.length = 8;
    cfg.cid.rrc = CDTLS_RRC_BASIC;
    cdtls_addr bind, server;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &server), CDTLS_OK);
    cdtls_io_socket a, b;
    cr_assert_eq(cdtls_io_open(&a, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&b, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cdtls_addr addr_b;
    cdtls_io_local_addr(&b, &addr_b);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, cdtls_io_now_ms(), &c), CDTLS_OK);
    rrc_answered = 0;
    cdtls_conn_set_observer(c, rrc_watch, NULL);
    cr_assert_eq(cdtls_conn_start(c, cdtls_io_now_ms()), CDTLS_OK);
    rrc_send_all(c, &a, &server);
    for (int i = 0; i < 200 && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING; i++)
        rrc_pump(c, &a, &server, 50);
    if (cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) child_stop(&srv, 1);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert(cdtls_conn_uses_cid(c));
    cr_assert_eq(cdtls_conn_version(c), v13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2);
    cr_assert(cdtls_conn_uses_rrc(c), "pion's ServerHello carries rrc");

    const char *msg = "moved-to-B";
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)msg, strlen(msg), NULL), CDTLS_OK);
    rrc_send_all(c, &b, &server);
    int echoed = 0;
    for (int i = 0; i < 100 && (!echoed || !rrc_answered); i++) {
        for (int k = 0; k < 2; k++) {
            rrc_pump(c, k ? &b : &a, &server, 20);
            uint8_t buf[128];
            size_t n;
            if (cdtls_conn_read(c, buf, sizeof buf, &n, NULL) == CDTLS_OK)
                echoed = n == strlen(msg) && memcmp(buf, msg, n) == 0;
        }
    }
    cr_assert(rrc_answered >= 1, "pion's path_challenge reached B and was answered");
    cr_assert(echoed, "pion echoes");
    char line[64];
    snprintf(line, sizeof line, "pion: remote=127.0.0.1:%u", addr_b.port);
    int moved = child_output_contains(&srv, line, 3000);
    if (!moved) child_stop(&srv, 1);
    cr_assert(moved, "pion followed the session to B after our path_response (\"%s\")", line);
    cr_assert(child_output_contains(&srv, "pion: done", 3000));
    child_stop(&srv, 0);
    cdtls_conn_free(c);
    cdtls_io_close(&a);
    cdtls_io_close(&b);
    if (v13) served_identity_free(&id);
}

Test(interop_pion4, rrc_server_checks_our_client_move)
{
    rrc_vs_pion_server(0);
}

Test(interop_pion4, rrc13_server_checks_our_client_move)
{
    rrc_vs_pion_server(1);
}

/* ---------------------------------------------------- 1.3 resumption */

/* Issue 17, DTLS 1.3 resumption with pion v4.0.1 (which has it in both
 * roles: a SessionStore, tickets after the handshake, the ticket as a PSK
 * with psk_dhe_ke). pion4-peer -conns 2 runs two connections sharing one
 * store and prints, per connection, whether its ServerHello selected a PSK
 * ("pion: conn=N psk=1"), as pion's server built it or its client read
 * it; our side says cdtls_conn_resumed. */
static int sock_one(const cdtls_config *cfg, uint16_t port, child *peer, int *resumed, size_t *n_certs)
{
    cdtls_addr to;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &to), CDTLS_OK);
    cdtls_sock *s = NULL;
    int rc = cdtls_sock_dial(cfg, &to, 8000, &s);
    if (rc != CDTLS_OK) child_stop(peer, 1);
    cr_assert_eq(rc, CDTLS_OK, "handshake with the pion v4 server: %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_conn_version(cdtls_sock_conn(s)), CDTLS_VERSION_1_3);
    const char *ping = "resume-ping";
    cr_assert_eq(cdtls_sock_write(s, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    uint8_t buf[128];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
    if (rc != CDTLS_OK) child_stop(peer, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion's echo: %s", cdtls_strerror(rc));
    *resumed = cdtls_conn_resumed(cdtls_sock_conn(s));
    (void)cdtls_conn_peer_certificates(cdtls_sock_conn(s), n_certs);
    cdtls_sock_close(s);
    return 1;
}

Test(interop_pion4, resumption13_pion_server_vs_our_client)
{
    peer_require_cdtls13(CDTLS_CLIENT);
    served_identity id;
    served_identity_load(&id, certs);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-cert",    cert_file(id.pem_chain),
                           "-key",     cert_file(id.key_file),
                           "-conns",   "2",
                           "-min",     "1.3",
                           "-timeout", "15s",
                           NULL};
    child srv;
    start_pion4(&srv, "server", port, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "the pion v4 server did not start");
    uint8_t root[4096];
    FILE *f = fopen(cert_file(id.root_der), "rb");
    cr_assert_not_null(f);
    size_t rn = fread(root, 1, sizeof root, f);
    fclose(f);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root, rn, &anchor), CDTLS_OK);
    cdtls_session_cache cache;
    cdtls_session_cache_entry entries[2];
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = id.host;
    cfg.callbacks.unix_time = wall_clock;
    cfg.resumption.store = cdtls_session_cache_init(&cache, entries, 2);
    int resumed = -1;
    size_t n_certs = 0;
    sock_one(&cfg, port, &srv, &resumed, &n_certs);
    cr_assert_eq(resumed, 0, "the first connection is a full handshake");
    cr_assert_gt(n_certs, 0);
    cdtls_session kept;
    cr_assert_eq(cfg.resumption.store->get(cfg.resumption.store->ctx, (const uint8_t *)id.host,
                                           strlen(id.host), &kept),
                 CDTLS_OK, "our client kept pion's ticket");
    cr_assert_eq(kept.version, CDTLS_VERSION_1_3);
    cr_assert(child_output_contains(&srv, "pion: conn=1 psk=0", 3000), "pion: a full handshake first");
    sock_one(&cfg, port, &srv, &resumed, &n_certs);
    cr_assert_eq(resumed, 1, "our client resumed with pion's ticket");
    int seen = child_output_contains(&srv, "pion: conn=2 psk=1", 3000);
    if (!seen) child_stop(&srv, 1);
    cr_assert(seen, "pion's ServerHello selected our ticket");
    cr_assert(child_output_contains(&srv, "pion: done", 3000));
    child_stop(&srv, 0);
    served_identity_free(&id);
}

/* The pion v4 client, twice, against two server connections of ours (one
 * socket, the test's UDP driver): our stateless ticket from the first
 * resumes the second, on both sides. */
Test(interop_pion4, resumption13_pion_client_vs_our_server)
{
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_ticket_keys keys;
    cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 3600u * 1000u, udp_now_ms()), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.credentials.chain = id.chain, cfg.credentials.chain_len = id.lens;
    cfg.credentials.n_certs = id.n_certs, cfg.credentials.private_key = id.key;
    cfg.resumption.ticket_keys = &keys;
    uint16_t port = 0;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    /* X25519: pion4-peer reads pre_shared_key off an unfragmented
     * ServerHello (the hybrid's 1,120-byte share may split it) */
    const char *extra[] = {"-insecure", "-conns",   "2",   "-min",     "1.3",     "-curves",
                           "X25519",    "-timeout", "15s", "-message", "ping-13", NULL};
    child cli;
    int resumed[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        cdtls_conn *c = NULL;
        cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
        if (i == 0) start_pion4(&cli, "client", port, extra);
        udp_peer u = {fd, {0}, 0};
        int rc = udp_handshake(c, &u, 9000);
        if (rc != 1 || cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) child_stop(&cli, 1);
        cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "our server, connection %d: %s", i + 1,
                     cdtls_strerror(cdtls_conn_error(c)));
        cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
        resumed[i] = cdtls_conn_resumed(c);
        uint8_t buf[64];
        size_t n = 0;
        rc = udp_read(c, &u, buf, sizeof buf, &n, 5000);
        if (rc != CDTLS_OK) child_stop(&cli, 1);
        cr_assert_eq(rc, CDTLS_OK, "pion's message: %s", cdtls_strerror(rc));
        cr_assert_eq(cdtls_conn_write(c, buf, n, NULL), CDTLS_OK);
        (void)udp_flush(c, &u);
        /* the ticket's ACK and pion's close_notify */
        (void)udp_read(c, &u, buf, sizeof buf, &n, 500);
        cdtls_conn_free(c);
    }
    cr_assert_eq(resumed[0], 0, "first: a full handshake");
    cr_assert(child_output_contains(&cli, "pion: store set ticket=1", 3000), "pion kept our ticket");
    cr_assert(child_output_contains(&cli, "pion: conn=1 psk=0", 3000));
    cr_assert_eq(resumed[1], 1, "our server resumed pion's second connection");
    int seen = child_output_contains(&cli, "pion: conn=2 psk=1", 3000);
    if (!seen) child_stop(&cli, 1);
    cr_assert(seen, "pion read our ServerHello selecting its ticket");
    child_stop(&cli, 0);
    cdtls_ticket_keys_wipe(&keys);
    close(fd);
    served_identity_free(&id);
}

/* ------------------------------------ RRC: pion's client moves (RFC 9853) */

/* The reverse of rrc_vs_pion_server: pion v4.0.1's client (-rrc-cid 6:
 * CIDPathMigrationRRC, so it offers rrc) moves to a new UDP socket after
 * its first echo (-migrate, cid.go). pion's client checks the new path
 * itself first (Path.Probe: a spare CID of ours, then path_challenge from
 * the new socket, which our listener answers there: PATH_CHALLENGE_ANSWERED),
 * then switches and sends again from there. Our listener (cfg.cid.rrc
 * basic) must not follow on that record alone: it sends its own
 * path_challenge to the new address (PATH_CHALLENGE_SENT), pion's
 * path_response comes back (PATH_VALIDATED), and only then does the session
 * move. pion's client migrates over 1.3 only (Conn.AddPath needs its 1.3
 * state: "path migration or probing unavailable" over 1.2). */
static int rrc_events[8];
static void rrc_count(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)user, (void)c;
    if (ev->kind == CDTLS_EVENT_PATH && ev->path_event < 8) rrc_events[ev->path_event]++;
}

static void rrc_pion_client_moves(int v13)
{
    if (!v13)
        cr_skip_test("pion v4.0.1's client cannot move a DTLS 1.2 connection: Conn.AddPath "
                     "(connection_id.go canMigratePath) needs its 1.3 state");
    peer_require_cdtls13(CDTLS_SERVER);
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    cfg.negotiate.cipher_suites = NULL, cfg.negotiate.n_cipher_suites = 0;
    if (v13)
        cfg.versions.min = CDTLS_VERSION_1_3;
    else
        cfg.versions.max = CDTLS_VERSION_1_2;
    cfg.cid.length = 8;
    cfg.cid.rrc = CDTLS_RRC_BASIC;
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    const char *extra[] = {"-rrc-cid", "6",      "-migrate", "-insecure",         "-timeout", "8s",
                           "-message", "rrc-mv", "-max",     v13 ? "1.3" : "1.2", NULL};
    child cli;
    start_pion4(&cli, "client", port, extra);
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, 10000, &s);
    if (rc != CDTLS_OK) child_stop(&cli, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake through the listener: %s", cdtls_strerror(rc));
    cdtls_conn *c = cdtls_sock_conn(s);
    cr_assert_eq(cdtls_conn_version(c), v13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2);
    cr_assert(cdtls_conn_uses_cid(c), "CIDs negotiated with pion");
    cr_assert(cdtls_conn_uses_rrc(c), "rrc negotiated with pion (its hello offered it)");
    memset(rrc_events, 0, sizeof rrc_events);
    cdtls_conn_set_observer(c, rrc_count, NULL);
    const cdtls_addr first = *cdtls_sock_peer(s);
    for (int k = 0; k < 2; k++) {
        uint8_t buf[64];
        size_t n = 0;
        rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000);
        if (rc != CDTLS_OK) child_stop(&cli, 1);
        cr_assert_eq(rc, CDTLS_OK, "pion's message %d: %s", k, cdtls_strerror(rc));
        cr_assert(n == 6 && memcmp(buf, "rrc-mv", 6) == 0);
        if (k == 1) {
            cr_assert_geq(rrc_events[CDTLS_PATH_CHALLENGE_ANSWERED], 1, "pion's probe answered");
            /* the record from the new port was taken; the session moves
             * once pion answered our own challenge there */
            for (int i = 0; i < 100 && !rrc_events[CDTLS_PATH_VALIDATED]; i++)
                (void)cdtls_sock_read(s, buf, 0, &n, NULL, 20);
            cr_assert_geq(rrc_events[CDTLS_PATH_CHALLENGE_SENT], 1, "we challenged pion's new port");
            cr_assert_geq(rrc_events[CDTLS_PATH_VALIDATED], 1, "pion answered our path_challenge");
            cr_assert_neq(cdtls_sock_peer(s)->port, first.port,
                          "the listener followed pion once the check passed");
        }
        cr_assert_eq(cdtls_sock_write(s, buf, n, NULL), CDTLS_OK);
    }
    int got = child_output_contains(&cli, "pion: recv after migration=rrc-mv", 3000);
    if (!got) child_stop(&cli, 1);
    cr_assert(got, "pion got our echo on its new path");
    cr_assert(child_output_contains(&cli, "pion: probed", 1000));
    child_stop(&cli, 0);
    cdtls_sock_close(s);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

Test(interop_pion4, rrc_client_moves_vs_our_listener)
{
    rrc_pion_client_moves(0);
}

Test(interop_pion4, rrc13_client_moves_vs_our_listener)
{
    rrc_pion_client_moves(1);
}
