/* Certificate interop over UDP loopback: our client against
 * `openssl s_server -dtls1_2` and `gnutls-serv --udp`, and `openssl
 * s_client -dtls1_2` / `gnutls-cli --udp` (verifying our chain and host
 * name) against our server, with ECDSA P-256 (chain of depth 3), RSA-2048
 * and Ed25519 certificates made by openssl at test time. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "udp_driver.h"

static char dir[64];

static void setup(void)
{
    /* gnutls-serv wants the chain in one file: leafchain.pem among them */
    test_certs_make(dir, sizeof dir, "icert");
}

static void teardown(void)
{
    test_certs_remove(dir);
}

TestSuite(interop_cert, .init = setup, .fini = teardown, .timeout = 60);

static char *path(const char *name)
{
    static char buf[8][160];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 160, "%s/%s", dir, name);
    return p;
}

typedef struct blob {
    uint8_t b[8192];
    size_t n;
} blob;

static void slurp(const char *name, blob *out)
{
    FILE *f = fopen(path(name), "rb");
    cr_assert_not_null(f, "%s", name);
    out->n = fread(out->b, 1, sizeof out->b, f);
    fclose(f);
}

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

typedef struct kind {
    const char *leaf, *inter, *key, *root, *host;
    uint16_t suite;
    const char *openssl_cipher;
    const char *gnutls_prio; /* NULL: not tried with GnuTLS */
    cdtls_sig_alg needs;
} kind;

static const kind ECDSA = {"leaf",
                           "int",
                           "leaf.key",
                           "root",
                           "server.example.com",
                           CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                           "ECDHE-ECDSA-AES128-GCM-SHA256",
                           "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-GCM",
                           CDTLS_SIG_ECDSA_SHA256};
static const kind RSA = {"rsaleaf",
                         NULL,
                         "rsaleaf.key",
                         "rsaroot",
                         "rsa.example.com",
                         CDTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                         "ECDHE-RSA-AES128-GCM-SHA256",
                         "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-128-GCM",
                         CDTLS_SIG_RSA_PSS_RSAE_SHA256};
static const kind ED = {"ed",
                        NULL,
                        "ed.key",
                        "ed",
                        "ed.example.com",
                        CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                        "ECDHE-ECDSA-CHACHA20-POLY1305",
                        NULL,
                        CDTLS_SIG_ED25519};

static void require(const kind *k)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->sig[k->needs] || !cdtls_cipher_suite_supported(p, k->suite))
        cr_skip_test("provider %s lacks what %s needs", p->name, cdtls_cipher_suite_name(k->suite));
}

/* ---------------------------------------------- our client, their server */

static void our_client(const kind *k, child *srv, uint16_t port, int peer_echoes)
{
    blob root;
    char der[64];
    snprintf(der, sizeof der, "%s.der", k->root);
    slurp(der, &root);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.negotiate.cipher_suites = &k->suite;
    cfg.negotiate.n_cipher_suites = 1;
    cfg.verify.trust_anchors = &anchor;
    cfg.verify.n_trust_anchors = 1;
    cfg.server_name = k->host;
    cfg.callbacks.unix_time = wall_clock;
    cdtls_conn *c;
    udp_peer u = {.have_peer = 1};
    u.fd = udp_open(0, NULL);
    u.peer.sin_family = AF_INET;
    u.peer.sin_port = htons(port);
    u.peer.sin_addr.s_addr = htonl(0x7f000001u); /* 127.0.0.1 (INADDR_LOOPBACK is not POSIX) */
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, udp_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, udp_now_ms()), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1 && k->needs == CDTLS_SIG_ED25519 && child_output_contains(srv, "no shared cipher", 500)) {
        /* OpenSSL 3.0's DTLS 1.2 server refuses Ed25519 certificates even
         * with its own s_client (its TLS 1.2 server accepts them): a peer
         * limitation, reported as a skip only when the peer says so. */
        cdtls_conn_free(c);
        close(u.fd);
        child_stop(srv, 0);
        cr_skip_test("openssl s_server (DTLS 1.2) has no Ed25519 certificate support: \"no shared cipher\"");
    }
    if (ok != 1) child_stop(srv, 1);
    cr_assert_eq(ok, 1, "handshake: %s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_cipher_suite(c), k->suite);
    const char *ping = "ping-over-certs\n";
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    udp_flush(c, &u);
    if (peer_echoes) {
        uint8_t buf[256];
        size_t n;
        cr_assert_eq(udp_read(c, &u, buf, sizeof buf, &n, 5000), CDTLS_OK);
        cr_assert(n == strlen(ping) && memcmp(buf, ping, n) == 0);
    } else {
        int seen = child_output_contains(srv, "ping-over-certs", 5000);
        if (!seen) child_stop(srv, 1);
        cr_assert(seen);
    }
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    close(u.fd);
}

static void vs_openssl_server(const kind *k)
{
    require(k);
    uint16_t port = udp_free_port();
    char accept[32], cert[64], key[64], chain[64];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    snprintf(cert, sizeof cert, "%s.pem", k->leaf);
    snprintf(key, sizeof key, "%s", k->key);
    snprintf(chain, sizeof chain, "%s.pem", k->inter ? k->inter : k->leaf);
    char *argv[] = {"openssl",
                    "s_server",
                    "-dtls1_2",
                    "-cert",
                    path(cert),
                    "-key",
                    path(key),
                    "-cert_chain",
                    path(chain),
                    "-cipher",
                    (char *)k->openssl_cipher,
                    "-accept",
                    accept,
                    "-naccept",
                    "1",
                    NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "ACCEPT", 5000));
    our_client(k, &srv, port, 0);
    child_stop(&srv, 0);
}

Test(interop_cert, client_vs_openssl_ecdsa_chain)
{
    vs_openssl_server(&ECDSA);
}
Test(interop_cert, client_vs_openssl_rsa)
{
    vs_openssl_server(&RSA);
}
Test(interop_cert, client_vs_openssl_ed25519_chacha)
{
    vs_openssl_server(&ED);
}

static void vs_gnutls_server(const kind *k)
{
    require(k);
    uint16_t port = udp_free_port();
    char portstr[16], cert[64];
    snprintf(portstr, sizeof portstr, "%u", port);
    snprintf(cert, sizeof cert, "%s", k->inter ? "leafchain.pem" : "rsaleaf.pem");
    char *argv[] = {"gnutls-serv",          "--udp",    "--echo",        "--port",     portstr,
                    "--x509certfile",       path(cert), "--x509keyfile", path(k->key), "--priority",
                    (char *)k->gnutls_prio, NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "listening", 5000));
    our_client(k, &srv, port, 1);
    child_stop(&srv, 0);
}

Test(interop_cert, client_vs_gnutls_ecdsa_chain)
{
    vs_gnutls_server(&ECDSA);
}
Test(interop_cert, client_vs_gnutls_rsa)
{
    vs_gnutls_server(&RSA);
}

/* ---------------------------------------------- their client, our server */

static void our_server(const kind *k, child *cli, int fd)
{
    blob leaf, inter;
    char der[64];
    snprintf(der, sizeof der, "%s.der", k->leaf);
    slurp(der, &leaf);
    const uint8_t *chain[2] = {leaf.b, NULL};
    size_t lens[2] = {leaf.n, 0}, n = 1;
    if (k->inter) {
        snprintf(der, sizeof der, "%s.der", k->inter);
        slurp(der, &inter);
        chain[1] = inter.b, lens[1] = inter.n, n = 2;
    }
    blob key;
    slurp(k->key, &key);
    cdtls_sign_key *sk;
    cr_assert_eq(cdtls_private_key_load(cdtls_provider_default(), NULL, key.b, key.n, &sk), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.credentials.chain = chain;
    cfg.credentials.chain_len = lens;
    cfg.credentials.n_certs = n;
    cfg.credentials.private_key = sk;
    cdtls_conn *c;
    udp_peer u = {.fd = fd};
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(cli, 1);
    cr_assert_eq(ok, 1, "handshake: %s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_cipher_suite(c), k->suite);
    cr_assert_eq(child_write(cli, "hello-with-certs\n"), 0);
    uint8_t buf[256];
    size_t got;
    int rc = udp_read(c, &u, buf, sizeof buf, &got, 5000);
    if (rc) child_stop(cli, 1);
    cr_assert_eq(rc, CDTLS_OK);
    cr_assert(got >= 16 && memcmp(buf, "hello-with-certs", 16) == 0);
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), sk);
}

static void vs_openssl_client(const kind *k)
{
    require(k);
    uint16_t port;
    int fd = udp_open(0, &port);
    char connect[32], root[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    snprintf(root, sizeof root, "%s.pem", k->root);
    /* s_client verifies our chain and our name, and refuses on failure */
    char *argv[] = {"openssl",          "s_client",
                    "-dtls1_2",         "-CAfile",
                    path(root),         "-verify_return_error",
                    "-verify_hostname", (char *)k->host,
                    "-servername",      (char *)k->host,
                    "-cipher",          (char *)k->openssl_cipher,
                    "-connect",         connect,
                    "-quiet",           NULL};
    child cli;
    cr_assert_eq(child_start(&cli, argv), 0);
    our_server(k, &cli, fd);
    child_stop(&cli, 0);
    close(fd);
}

Test(interop_cert, server_vs_openssl_ecdsa_chain)
{
    vs_openssl_client(&ECDSA);
}
Test(interop_cert, server_vs_openssl_rsa)
{
    vs_openssl_client(&RSA);
}
Test(interop_cert, server_vs_openssl_ed25519_chacha)
{
    vs_openssl_client(&ED);
}

static void vs_gnutls_client(const kind *k)
{
    require(k);
    uint16_t port;
    int fd = udp_open(0, &port);
    char portstr[16], root[64];
    snprintf(portstr, sizeof portstr, "%u", port);
    snprintf(root, sizeof root, "%s.pem", k->root);
    /* connect to loopback, verify the name given with --verify-hostname */
    child cli;
    char *argv2[] = {"gnutls-cli",
                     "--udp",
                     "--port",
                     portstr,
                     "--x509cafile",
                     path(root),
                     "--verify-hostname",
                     (char *)k->host,
                     "--priority",
                     (char *)k->gnutls_prio,
                     "127.0.0.1",
                     NULL};
    cr_assert_eq(child_start(&cli, argv2), 0);
    our_server(k, &cli, fd);
    child_stop(&cli, 0);
    close(fd);
}

Test(interop_cert, server_vs_gnutls_ecdsa_chain)
{
    vs_gnutls_client(&ECDSA);
}
Test(interop_cert, server_vs_gnutls_rsa)
{
    vs_gnutls_client(&RSA);
}

/* -------------------------------------------------- client authentication */

static void load_ident(const char *leaf, const char *inter, const char *key, blob *bl, blob *bi,
                       const uint8_t **chain, size_t *lens, cdtls_sign_key **sk)
{
    slurp(leaf, bl);
    slurp(inter, bi);
    chain[0] = bl->b, lens[0] = bl->n, chain[1] = bi->b, lens[1] = bi->n;
    blob k;
    slurp(key, &k);
    cr_assert_eq(cdtls_private_key_load(cdtls_provider_default(), NULL, k.b, k.n, sk), CDTLS_OK);
}

/* openssl s_server -Verify 1 requires and verifies our client certificate */
Test(interop_cert, client_auth_to_openssl_server)
{
    require(&ECDSA);
    uint16_t port = udp_free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    char *argv[] = {"openssl",
                    "s_server",
                    "-dtls1_2",
                    "-cert",
                    path("leaf.pem"),
                    "-key",
                    path("leaf.key"),
                    "-cert_chain",
                    path("int.pem"),
                    "-Verify",
                    "2",
                    "-CAfile",
                    path("root.pem"),
                    "-verify_return_error",
                    "-cipher",
                    "ECDHE-ECDSA-AES128-GCM-SHA256",
                    "-accept",
                    accept,
                    "-naccept",
                    "1",
                    NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "ACCEPT", 5000));
    blob root, bl, bi;
    slurp("root.der", &root);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    const uint8_t *chain[2];
    size_t lens[2];
    cdtls_sign_key *sk;
    load_ident("clientonly.der", "int.der", "leaf.key", &bl, &bi, chain, lens, &sk);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.negotiate.cipher_suites = &ECDSA.suite;
    cfg.negotiate.n_cipher_suites = 1;
    cfg.verify.trust_anchors = &anchor;
    cfg.verify.n_trust_anchors = 1;
    cfg.server_name = "server.example.com";
    cfg.callbacks.unix_time = wall_clock;
    cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = 2,
    cfg.credentials.private_key = sk;
    cdtls_conn *c;
    udp_peer u = {.have_peer = 1};
    u.fd = udp_open(0, NULL);
    u.peer.sin_family = AF_INET;
    u.peer.sin_port = htons(port);
    u.peer.sin_addr.s_addr = htonl(0x7f000001u); /* 127.0.0.1 (INADDR_LOOPBACK is not POSIX) */
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, udp_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, udp_now_ms()), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(&srv, 1);
    cr_assert_eq(ok, 1, "handshake: %s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"authenticated\n", 14, NULL), CDTLS_OK);
    udp_flush(c, &u);
    int seen = child_output_contains(&srv, "authenticated", 5000);
    if (!seen) child_stop(&srv, 1);
    cr_assert(seen);
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    close(u.fd);
    child_stop(&srv, 0);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), sk);
}

/* our server requires and verifies openssl s_client's certificate */
Test(interop_cert, openssl_client_auth_to_our_server)
{
    require(&ECDSA);
    uint16_t port;
    int fd = udp_open(0, &port);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    char *argv[] = {"openssl",        "s_client",
                    "-dtls1_2",       "-CAfile",
                    path("root.pem"), "-verify_return_error",
                    "-cert",          path("clientonly.pem"),
                    "-key",           path("leaf.key"),
                    "-cert_chain",    path("int.pem"),
                    "-cipher",        "ECDHE-ECDSA-AES128-GCM-SHA256",
                    "-connect",       connect,
                    "-quiet",         NULL};
    child cli;
    cr_assert_eq(child_start(&cli, argv), 0);
    blob bl, bi, root;
    const uint8_t *chain[2];
    size_t lens[2];
    cdtls_sign_key *sk;
    load_ident("leaf.der", "int.der", "leaf.key", &bl, &bi, chain, lens, &sk);
    slurp("root.der", &root);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root.b, root.n, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.credentials.chain = chain, cfg.credentials.chain_len = lens, cfg.credentials.n_certs = 2,
    cfg.credentials.private_key = sk;
    cfg.verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    cfg.verify.trust_anchors = &anchor;
    cfg.verify.n_trust_anchors = 1;
    cfg.callbacks.unix_time = wall_clock;
    cdtls_conn *c;
    udp_peer u = {.fd = fd};
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(&cli, 1);
    cr_assert_eq(ok, 1, "handshake: %s", cdtls_strerror(cdtls_conn_error(c)));
    size_t n;
    cr_assert_not_null(cdtls_conn_peer_certificates(c, &n));
    cr_assert_eq(n, 2, "openssl sent its chain");
    cr_assert_eq(child_write(&cli, "hello-authenticated\n"), 0);
    uint8_t buf[128];
    size_t got;
    cr_assert_eq(udp_read(c, &u, buf, sizeof buf, &got, 5000), CDTLS_OK);
    cr_assert(got >= 19 && memcmp(buf, "hello-authenticated", 19) == 0);
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    child_stop(&cli, 0);
    close(fd);
    cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), sk);
}
