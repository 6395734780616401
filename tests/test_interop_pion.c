#define _POSIX_C_SOURCE 200809L
/* Interop with pion/dtls itself (tests/interop/pion: a pion/dtls v3.1.15
 * client/server built from the Go module proxy): PSK, ECDSA with a chain,
 * Ed25519, client authentication both ways, and DTLS-SRTP + exporter +
 * ALPN with the keys compared byte for byte. Both roles each. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdtls/cdtls.h"
#include "cdtls/io.h"
#include "test_util.h"
#include "udp_driver.h"

#define PION_PSK_HEX "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
static const uint8_t pion_psk[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                     0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

static char certs[64];
static char peer_bin[512];

/* Builds the pion peer (go build; Go's cache makes a rebuild ~0.3 s) and
 * makes the certificates. No Go toolchain: the suite is skipped, said so. */
static void setup(void)
{
    test_certs_make(certs, sizeof certs, "pion"); /* clientchain.pem among them */
    snprintf(peer_bin, sizeof peer_bin, "%s/zig-out/pion-peer", CDTLS_SOURCE_DIR);
    test_go_peer_build("tests/interop/pion", peer_bin);
}

static void teardown(void)
{
    test_certs_remove(certs);
}

TestSuite(pion, .init = setup, .fini = teardown, .timeout = 60);

static char *certpath(const char *name)
{
    static char buf[8][160];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 160, "%s/%s", certs, name);
    return p;
}

typedef struct der_file {
    uint8_t b[8192];
    size_t n;
} der_file;

static void load_der(const char *name, der_file *out)
{
    FILE *f = fopen(certpath(name), "rb");
    cr_assert_not_null(f, "%s", name);
    out->n = fread(out->b, 1, sizeof out->b, f);
    fclose(f);
}

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* What a test needs the provider to have, or a skip. */
static void need(uint16_t suite, int sig)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!cdtls_cipher_suite_supported(p, suite) || (sig >= 0 && !p->sig[sig])) {
        /* a test skipped in its body gets no .fini: the certificates the
         * suite's .init made go now (rm -rf, so a later .fini is harmless) */
        test_certs_remove(certs);
        cr_skip_test("provider %s lacks %s", p->name, cdtls_cipher_suite_name(suite));
    }
}

/* A PSK suite both sides have: CCM_8 (the IoT one) with BearSSL,
 * ChaCha20-Poly1305 with libsodium. */
static uint16_t psk_suite(void)
{
    return cdtls_cipher_suite_supported(cdtls_provider_default(), CDTLS_PSK_WITH_AES_128_CCM_8)
               ? CDTLS_PSK_WITH_AES_128_CCM_8
               : CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
}

static void psk_config(cdtls_config *cfg, const uint16_t *suite)
{
    cdtls_config_init(cfg);
    cfg->psk.key = pion_psk;
    cfg->psk.key_len = sizeof pion_psk;
    cfg->psk.identity = (const uint8_t *)"cdtls";
    cfg->psk.identity_len = 5;
    cfg->negotiate.cipher_suites = suite;
    cfg->negotiate.n_cipher_suites = 1;
}

/* Starts the pion peer with the common arguments plus extra (NULL-ended). */
static void start_pion(child *ch, const char *role, uint16_t port, const uint16_t suite,
                       const char *const *extra)
{
    static char addr[32], suite_arg[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    snprintf(suite_arg, sizeof suite_arg, "%s", cdtls_cipher_suite_name(suite));
    char *argv[40];
    size_t n = 0;
    argv[n++] = peer_bin;
    argv[n++] = "-role", argv[n++] = (char *)role;
    argv[n++] = "-addr", argv[n++] = addr;
    argv[n++] = "-suite", argv[n++] = suite_arg;
    for (size_t i = 0; extra && extra[i] && n < 38; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    cr_assert_eq(child_start(ch, argv), 0);
}

/* Our client against the pion server: handshake, a line each way. */
static cdtls_conn *client_vs_pion(child *srv, uint16_t port, cdtls_config *cfg, udp_peer *u)
{
    u->have_peer = 1;
    u->fd = udp_open(0, NULL);
    cr_assert(u->fd >= 0);
    u->peer.sin_family = AF_INET;
    u->peer.sin_port = htons(port);
    u->peer.sin_addr.s_addr = htonl(0x7f000001u);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(cfg, CDTLS_CLIENT, udp_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, udp_now_ms()), CDTLS_OK);
    int ok = udp_handshake(c, u, 8000);
    if (ok != 1) child_stop(srv, 1);
    cr_assert_eq(ok, 1, "handshake with pion: %s", cdtls_strerror(cdtls_conn_error(c)));
    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    udp_flush(c, u);
    uint8_t buf[256];
    size_t n = 0;
    cr_assert_eq(udp_read(c, u, buf, sizeof buf, &n, 5000), CDTLS_OK);
    cr_assert(n == strlen(ping) && memcmp(buf, ping, n) == 0, "pion echoes");
    cr_assert(child_output_contains(srv, "pion: recv=ping-from-cdtls", 3000));
    return c;
}

static void client_done(cdtls_conn *c, udp_peer *u, child *peer)
{
    cdtls_conn_close(c);
    udp_flush(c, u);
    cdtls_conn_free(c);
    close(u->fd);
    cr_assert(child_output_contains(peer, "pion: done", 3000));
    child_stop(peer, 0);
}

/* Our server, the pion client: handshake, its message echoed back. */
static cdtls_conn *server_vs_pion(child *cli, int fd, cdtls_config *cfg, udp_peer *u)
{
    u->fd = fd;
    u->have_peer = 0;
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    int ok = udp_handshake(c, u, 8000);
    if (ok != 1) child_stop(cli, 1);
    cr_assert_eq(ok, 1, "handshake with pion: %s", cdtls_strerror(cdtls_conn_error(c)));
    uint8_t buf[256];
    size_t n = 0;
    int rc = udp_read(c, u, buf, sizeof buf, &n, 5000);
    if (rc) child_stop(cli, 1);
    cr_assert_eq(rc, CDTLS_OK);
    cr_assert(n == 14 && memcmp(buf, "ping-from-pion", 14) == 0);
    cr_assert_eq(cdtls_conn_write(c, buf, n, NULL), CDTLS_OK);
    udp_flush(c, u);
    int seen = child_output_contains(cli, "pion: recv=ping-from-pion", 5000);
    if (!seen) child_stop(cli, 1);
    cr_assert(seen, "pion got our echo");
    return c;
}

/* ------------------------------------------------------------------ PSK */

Test(pion, client_psk)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-psk", PION_PSK_HEX, NULL};
    child srv;
    start_pion(&srv, "server", port, suite, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "pion server did not start");
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    udp_peer u;
    cdtls_conn *c = client_vs_pion(&srv, port, &cfg, &u);
    cr_assert_eq(cdtls_conn_cipher_suite(c), suite);
    client_done(c, &u, &srv);
}

Test(pion, server_psk)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    uint16_t port;
    int fd = udp_open(0, &port);
    const char *extra[] = {"-psk", PION_PSK_HEX, "-message", "ping-from-pion", NULL};
    child cli;
    start_pion(&cli, "client", port, suite, extra);
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    udp_peer u;
    cdtls_conn *c = server_vs_pion(&cli, fd, &cfg, &u);
    size_t idl;
    const uint8_t *id = cdtls_conn_psk_identity(c, &idl);
    cr_assert(id && idl == 5 && memcmp(id, "cdtls", 5) == 0, "pion sends its hint-less identity");
    client_done(c, &u, &cli);
}

/* ------------------------------------------------------------ certificates */

typedef struct cert_kind {
    uint16_t suite;
    int sig;
    const char *leaf_pem_chain, *key, *leaf_der, *inter_der, *root_der, *root_pem, *host;
} cert_kind;

static const cert_kind ECDSA = {CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                                CDTLS_SIG_ECDSA_SHA256,
                                "chain.pem",
                                "leaf.key",
                                "leaf.der",
                                "int.der",
                                "root.der",
                                "root.pem",
                                "server.example.com"};
static const cert_kind ED25519 = {CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                                  CDTLS_SIG_ED25519,
                                  "ed.pem",
                                  "ed.key",
                                  "ed.der",
                                  NULL,
                                  "ed.der",
                                  "ed.pem",
                                  "ed.example.com"};

static void client_vs_pion_cert(const cert_kind *k)
{
    need(k->suite, k->sig);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-cert", certpath(k->leaf_pem_chain), "-key", certpath(k->key), NULL};
    child srv;
    start_pion(&srv, "server", port, k->suite, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000));
    der_file root;
    load_der(k->root_der, &root);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.negotiate.cipher_suites = &k->suite, cfg.negotiate.n_cipher_suites = 1;
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = k->host;
    cfg.callbacks.unix_time = wall_clock;
    udp_peer u;
    cdtls_conn *c = client_vs_pion(&srv, port, &cfg, &u);
    size_t n;
    cr_assert_not_null(cdtls_conn_peer_certificates(c, &n));
    cr_assert_eq(n, k->inter_der ? 2u : 1u, "pion sent its chain");
    client_done(c, &u, &srv);
}

static void server_vs_pion_cert(const cert_kind *k)
{
    need(k->suite, k->sig);
    der_file leaf, inter;
    load_der(k->leaf_der, &leaf);
    const uint8_t *chain[2] = {leaf.b, NULL};
    size_t lens[2] = {leaf.n, 0};
    size_t n = 1;
    if (k->inter_der) {
        load_der(k->inter_der, &inter);
        chain[1] = inter.b, lens[1] = inter.n, n = 2;
    }
    uint8_t *keyfile;
    size_t keylen;
    cr_assert_eq(cdtls_read_file(certpath(k->key), NULL, &keyfile, &keylen), CDTLS_OK);
    cdtls_sign_key *key = NULL;
    cr_assert_eq(cdtls_private_key_load(cdtls_provider_default(), NULL, keyfile, keylen, &key), CDTLS_OK);
    cdtls_free_file(NULL, keyfile, keylen);
    uint16_t port;
    int fd = udp_open(0, &port);
    const char *extra[] = {"-ca",      certpath(k->root_pem), "-servername", k->host,
                           "-message", "ping-from-pion",      NULL};
    child cli;
    start_pion(&cli, "client", port, k->suite, extra);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = n,
    cfg.credentials.private_key = key;
    udp_peer u;
    cdtls_conn *c = server_vs_pion(&cli, fd, &cfg, &u);
    cr_assert_eq(cdtls_conn_cipher_suite(c), k->suite);
    client_done(c, &u, &cli);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), key);
}

Test(pion, client_ecdsa_chain)
{
    client_vs_pion_cert(&ECDSA);
}
Test(pion, server_ecdsa_chain)
{
    server_vs_pion_cert(&ECDSA);
}
Test(pion, client_ed25519)
{
    client_vs_pion_cert(&ED25519);
}
Test(pion, server_ed25519)
{
    server_vs_pion_cert(&ED25519);
}

/* pion server requiring and verifying our client's certificate; our server
 * requiring and verifying pion's. The client certificate (clientAuth EKU)
 * hangs under the same intermediate as the server's. */
Test(pion, client_auth_our_client_certificate)
{
    need(ECDSA.suite, ECDSA.sig);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-cert", certpath("chain.pem"), "-key",        certpath("leaf.key"),
                           "-ca",   certpath("root.pem"),  "-clientauth", "require-and-verify",
                           NULL};
    child srv;
    start_pion(&srv, "server", port, ECDSA.suite, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000));
    der_file root, mine, inter;
    load_der("root.der", &root);
    load_der("clientonly.der", &mine);
    load_der("int.der", &inter);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    uint8_t *keyfile;
    size_t keylen;
    cr_assert_eq(cdtls_read_file(certpath("leaf.key"), NULL, &keyfile, &keylen), CDTLS_OK);
    cdtls_sign_key *key = NULL;
    cr_assert_eq(cdtls_private_key_load(cdtls_provider_default(), NULL, keyfile, keylen, &key), CDTLS_OK);
    cdtls_free_file(NULL, keyfile, keylen);
    const uint8_t *chain[2] = {mine.b, inter.b};
    size_t lens[2] = {mine.n, inter.n};
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.negotiate.cipher_suites = &ECDSA.suite, cfg.negotiate.n_cipher_suites = 1;
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = ECDSA.host;
    cfg.callbacks.unix_time = wall_clock;
    cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = 2,
    cfg.credentials.private_key = key;
    udp_peer u;
    cdtls_conn *c = client_vs_pion(&srv, port, &cfg, &u);
    client_done(c, &u, &srv);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), key);
}

Test(pion, client_auth_pion_client_certificate)
{
    need(ECDSA.suite, ECDSA.sig);
    der_file leaf, inter, root;
    load_der("leaf.der", &leaf);
    load_der("int.der", &inter);
    load_der("root.der", &root);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    uint8_t *keyfile;
    size_t keylen;
    cr_assert_eq(cdtls_read_file(certpath("leaf.key"), NULL, &keyfile, &keylen), CDTLS_OK);
    cdtls_sign_key *key = NULL;
    cr_assert_eq(cdtls_private_key_load(cdtls_provider_default(), NULL, keyfile, keylen, &key), CDTLS_OK);
    cdtls_free_file(NULL, keyfile, keylen);
    const uint8_t *chain[2] = {leaf.b, inter.b};
    size_t lens[2] = {leaf.n, inter.n};
    uint16_t port;
    int fd = udp_open(0, &port);
    const char *extra[] = {
        "-ca",  certpath("root.pem"), "-servername", ECDSA.host,       "-cert", certpath("clientchain.pem"),
        "-key", certpath("leaf.key"), "-message",    "ping-from-pion", NULL};
    child cli;
    start_pion(&cli, "client", port, ECDSA.suite, extra);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = 2,
    cfg.credentials.private_key = key;
    cfg.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.callbacks.unix_time = wall_clock;
    udp_peer u;
    cdtls_conn *c = server_vs_pion(&cli, fd, &cfg, &u);
    size_t n;
    cr_assert_not_null(cdtls_conn_peer_certificates(c, &n));
    cr_assert_eq(n, 2u, "pion's client chain");
    client_done(c, &u, &cli);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), key);
}

/* ------------------------------------------ DTLS-SRTP, exporter, ALPN */

static const char *const alpn_list[] = {"webrtc", "h2"};
static const uint16_t srtp_list[] = {CDTLS_SRTP_AEAD_AES_128_GCM, CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};

/* "pion: export=<HEX>" of the 2 * (key + salt) SRTP block, as ours. */
static void expect_same_srtp_keys(child *peer, const cdtls_conn *c)
{
    cdtls_srtp_keys k;
    cr_assert_eq(cdtls_conn_srtp_keys(c, &k), CDTLS_OK);
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
}

Test(pion, client_srtp_exporter_alpn)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    uint16_t port = udp_free_port();
    /* export length: AEAD_AES_128_GCM = 2 * (16 + 12) */
    const char *extra[] = {"-psk",    PION_PSK_HEX,
                           "-alpn",   "webrtc",
                           "-srtp",   "SRTP_AEAD_AES_128_GCM,SRTP_AES128_CM_HMAC_SHA1_80",
                           "-export", "EXTRACTOR-dtls_srtp:56",
                           NULL};
    child srv;
    start_pion(&srv, "server", port, suite, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000));
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    cfg.alpn.protocols = alpn_list, cfg.alpn.n_protocols = 2;
    cfg.srtp.profiles = srtp_list, cfg.srtp.n_profiles = 2;
    udp_peer u;
    cdtls_conn *c = client_vs_pion(&srv, port, &cfg, &u);
    cr_assert_eq(cdtls_conn_srtp_profile(c), CDTLS_SRTP_AEAD_AES_128_GCM);
    expect_same_srtp_keys(&srv, c);
    client_done(c, &u, &srv);
}

Test(pion, server_srtp_exporter_alpn)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    uint16_t port;
    int fd = udp_open(0, &port);
    const char *extra[] = {"-psk",     PION_PSK_HEX,
                           "-alpn",    "h2,webrtc",
                           "-srtp",    "SRTP_AES128_CM_HMAC_SHA1_80,SRTP_AEAD_AES_128_GCM",
                           "-export",  "EXTRACTOR-dtls_srtp:56",
                           "-message", "ping-from-pion",
                           NULL};
    child cli;
    start_pion(&cli, "client", port, suite, extra);
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    cfg.alpn.protocols = alpn_list, cfg.alpn.n_protocols = 2; /* our preference: webrtc */
    cfg.srtp.profiles = srtp_list, cfg.srtp.n_profiles = 2;   /* our preference: AEAD_AES_128_GCM */
    udp_peer u;
    cdtls_conn *c = server_vs_pion(&cli, fd, &cfg, &u);
    size_t n;
    const uint8_t *proto = cdtls_conn_alpn(c, &n);
    cr_assert(proto && n == 6 && memcmp(proto, "webrtc", 6) == 0);
    expect_same_srtp_keys(&cli, c);
    client_done(c, &u, &cli);
}

/* ------------------------------------------------------ connection IDs */

/* pion's listener routes by CID: our client finishes the handshake from one
 * socket, then speaks from another (a NAT rebinding); pion must find the
 * session by the CID and answer at the new address. */
Test(pion, client_cid_survives_address_change)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    uint16_t port = udp_free_port();
    const char *extra[] = {"-psk", PION_PSK_HEX, "-cid", "8", "-count", "2", NULL};
    child srv;
    start_pion(&srv, "server", port, suite, extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000));
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    cfg.cid.length = 4;
    udp_peer u;
    cdtls_conn *c = client_vs_pion(&srv, port, &cfg, &u);
    cr_assert(cdtls_conn_uses_cid(c));
    size_t n;
    cr_assert_not_null(cdtls_conn_peer_cid(c, &n));
    cr_assert_eq(n, 8u, "pion's 8-byte CID");
    /* the NAT rebinds */
    udp_peer moved = u;
    moved.fd = udp_open(0, NULL);
    cr_assert(moved.fd >= 0);
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"after-rebinding", 15, NULL), CDTLS_OK);
    udp_flush(c, &moved);
    uint8_t buf[64];
    int rc = udp_read(c, &moved, buf, sizeof buf, &n, 5000);
    if (rc) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "pion answered at the new address");
    cr_assert(n == 15 && memcmp(buf, "after-rebinding", 15) == 0);
    close(u.fd);
    client_done(c, &moved, &srv);
}

Test(pion, server_cid_with_pion_client)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    uint16_t port;
    int fd = udp_open(0, &port);
    const char *extra[] = {"-psk", PION_PSK_HEX, "-cid", "6", "-message", "ping-from-pion", NULL};
    child cli;
    start_pion(&cli, "client", port, suite, extra);
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    cfg.cid.length = 8;
    udp_peer u;
    cdtls_conn *c = server_vs_pion(&cli, fd, &cfg, &u);
    cr_assert(cdtls_conn_uses_cid(c));
    size_t n;
    cr_assert_not_null(cdtls_conn_peer_cid(c, &n));
    cr_assert_eq(n, 6u, "pion's 6-byte CID");
    client_done(c, &u, &cli);
}

/* ------------------------------------------------------------ resumption */

/* pion's SessionStore (tests/interop/pion -sessions 2) against ours: the
 * second connection is an abbreviated handshake on both sides, which the
 * cdtls side reports (cdtls_conn_resumed); pion resumes by session ID only
 * (no tickets), so that is what is shown. */
static void resume_client_vs_pion(const char *const *extra, cdtls_config *cfg)
{
    uint16_t port = udp_free_port();
    child srv;
    start_pion(&srv, "server", port, cfg->negotiate.cipher_suites[0], extra);
    cr_assert(child_output_contains(&srv, "pion: listening", 10000), "pion server did not start");
    cdtls_session_cache cache;
    cdtls_session_cache_entry e[2];
    cfg->resumption.store = cdtls_session_cache_init(&cache, e, 2);
    for (int round = 0; round < 2; round++) {
        udp_peer u;
        cdtls_conn *c = client_vs_pion(&srv, port, cfg, &u);
        cr_assert_eq(cdtls_conn_resumed(c), round, "round %d: %s", round,
                     round ? "resumed" : "full handshake");
        cdtls_conn_close(c);
        udp_flush(c, &u);
        cdtls_conn_free(c);
        close(u.fd);
    }
    cr_assert(child_output_contains(&srv, "pion: done", 5000));
    child_stop(&srv, 0);
}

static void resume_server_vs_pion(const char *const *extra, cdtls_config *cfg)
{
    uint16_t port;
    int fd = udp_open(0, &port);
    child cli;
    start_pion(&cli, "client", port, cfg->negotiate.cipher_suites[0], extra);
    cdtls_session_cache cache;
    cdtls_session_cache_entry e[4];
    cfg->resumption.store = cdtls_session_cache_init(&cache, e, 4);
    for (int round = 0; round < 2; round++) {
        udp_peer u;
        cdtls_conn *c = server_vs_pion(&cli, fd, cfg, &u);
        cr_assert_eq(cdtls_conn_resumed(c), round, "round %d: %s", round,
                     round ? "resumed" : "full handshake");
        cdtls_conn_close(c);
        udp_flush(c, &u);
        cdtls_conn_free(c);
        /* the old connection's last datagrams (pion's close_notify) must not
         * be taken for the new client's address; pion resends its
         * ClientHello after 1 s if this swallows it */
        udp_drain(fd, 300);
    }
    close(fd);
    cr_assert(child_output_contains(&cli, "pion: done", 5000));
    child_stop(&cli, 0);
}

Test(pion, client_resumes_psk_session)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    const char *extra[] = {"-psk", PION_PSK_HEX, "-sessions", "2", "-count", "1", NULL};
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    cfg.server_name = "pion.example"; /* the client's key in its session store */
    resume_client_vs_pion(extra, &cfg);
}

Test(pion, server_resumes_psk_session)
{
    uint16_t suite = psk_suite();
    need(suite, -1);
    const char *extra[] = {"-psk", PION_PSK_HEX, "-message", "ping-from-pion", "-sessions", "2", NULL};
    cdtls_config cfg;
    psk_config(&cfg, &suite);
    resume_server_vs_pion(extra, &cfg);
}

Test(pion, client_resumes_ecdsa_session)
{
    const cert_kind *k = &ECDSA;
    need(k->suite, k->sig);
    const char *extra[] = {"-cert", certpath(k->leaf_pem_chain), "-key", certpath(k->key), "-sessions", "2",
                           NULL};
    der_file root;
    load_der(k->root_der, &root);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.negotiate.cipher_suites = &k->suite, cfg.negotiate.n_cipher_suites = 1;
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = k->host;
    cfg.callbacks.unix_time = wall_clock;
    resume_client_vs_pion(extra, &cfg);
}

Test(pion, server_resumes_ecdsa_session)
{
    const cert_kind *k = &ECDSA;
    need(k->suite, k->sig);
    der_file leaf, inter;
    load_der(k->leaf_der, &leaf);
    load_der(k->inter_der, &inter);
    const uint8_t *chain[2] = {leaf.b, inter.b};
    size_t lens[2] = {leaf.n, inter.n};
    uint8_t *keyfile;
    size_t keylen;
    cr_assert_eq(cdtls_read_file(certpath(k->key), NULL, &keyfile, &keylen), CDTLS_OK);
    cdtls_sign_key *key = NULL;
    cr_assert_eq(cdtls_private_key_load(cdtls_provider_default(), NULL, keyfile, keylen, &key), CDTLS_OK);
    cdtls_free_file(NULL, keyfile, keylen);
    const char *extra[] = {"-ca",      certpath(k->root_pem), "-servername", k->host,
                           "-message", "ping-from-pion",      "-sessions",   "2",
                           NULL};
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.negotiate.cipher_suites = &k->suite, cfg.negotiate.n_cipher_suites = 1;
    cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = 2,
    cfg.credentials.private_key = key;
    resume_server_vs_pion(extra, &cfg);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), key);
}
