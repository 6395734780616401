/* Interop with real peers over UDP on loopback: OpenSSL (s_server /
 * s_client -dtls1_2 -psk) and GnuTLS (gnutls-serv --udp --echo /
 * gnutls-cli --udp), as client and as server, data both ways, for the PSK
 * suites each peer offers and the linked provider supports. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdtls/conn.h"
#include "cdtls/suites.h"
#include "udp_driver.h"

#define PSK_HEX "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
static const uint8_t psk[] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                              0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static const char identity[] = "cdtls-client";

typedef struct interop_suite {
    uint16_t id;
    const char *openssl; /* OpenSSL cipher name, NULL if it has none */
    const char *gnutls;  /* GnuTLS priority additions, NULL if it has none */
} interop_suite;

static const interop_suite suites[] = {
    {CDTLS_PSK_WITH_AES_128_GCM_SHA256, "PSK-AES128-GCM-SHA256", "+PSK:+AES-128-GCM"},
    {CDTLS_PSK_WITH_AES_128_CCM, "PSK-AES128-CCM", "+PSK:+AES-128-CCM"},
    {CDTLS_PSK_WITH_AES_128_CCM_8, "PSK-AES128-CCM8", "+PSK:+AES-128-CCM-8"},
    {CDTLS_PSK_WITH_AES_256_CCM_8, "PSK-AES256-CCM8", "+PSK:+AES-256-CCM-8"},
    {CDTLS_PSK_WITH_AES_128_CBC_SHA256, "PSK-AES128-CBC-SHA256", "+PSK:+AES-128-CBC:+SHA256"},
    {CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, "PSK-CHACHA20-POLY1305", "+PSK:+CHACHA20-POLY1305"},
    {CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256, "ECDHE-PSK-AES128-CBC-SHA256",
     "+ECDHE-PSK:+AES-128-CBC:+SHA256"},
    {CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-PSK-CHACHA20-POLY1305",
     "+ECDHE-PSK:+CHACHA20-POLY1305"},
};

static const interop_suite *find_suite(uint16_t id)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == id) return &suites[i];
    return NULL;
}

static void config_for(cdtls_config *cfg, const uint16_t *suite)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)identity;
    cfg->psk.identity_len = sizeof identity - 1;
    cfg->negotiate.cipher_suites = suite;
    cfg->negotiate.n_cipher_suites = 1;
}

static void gnutls_priority(char *out, size_t cap, const interop_suite *s)
{
    snprintf(out, cap, "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:-CIPHER-ALL:-MAC-ALL:%s:+AEAD", s->gnutls);
}

static void require_suite(const interop_suite *s)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!cdtls_cipher_suite_supported(p, s->id))
        cr_skip_test("%s not supported by provider %s", cdtls_cipher_suite_name(s->id), p->name);
}

/* ------------------------------------------------- our client, their server */

static int client_against_with(child *srv, uint16_t port, const interop_suite *s, int peer_echoes,
                               const cdtls_config *base);

static void client_against(child *srv, uint16_t port, const interop_suite *s, int peer_echoes)
{
    (void)client_against_with(srv, port, s, peer_echoes, NULL);
}

/* Returns whether the session was resumed. base: the configuration to
 * start from (a session store), NULL = the plain PSK one. */
static int client_against_with(child *srv, uint16_t port, const interop_suite *s, int peer_echoes,
                               const cdtls_config *base)
{
    cdtls_config cfg;
    config_for(&cfg, &s->id);
    if (base) {
        cfg.resumption.store = base->resumption.store;
        cfg.resumption.tickets = base->resumption.tickets;
        cfg.server_name = base->server_name;
    }
    cdtls_conn *c;
    udp_peer u = {.have_peer = 1};
    u.fd = udp_open(0, NULL);
    cr_assert(u.fd >= 0);
    u.peer.sin_family = AF_INET;
    u.peer.sin_port = htons(port);
    u.peer.sin_addr.s_addr = htonl(0x7f000001u); /* 127.0.0.1 (INADDR_LOOPBACK is not POSIX) */
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, udp_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, udp_now_ms()), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(srv, 1);
    cr_assert_eq(ok, 1, "handshake with %s failed: %s", cdtls_cipher_suite_name(s->id),
                 cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_cipher_suite(c), s->id);

    const char *ping = "ping-from-cdtls\n";
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    udp_flush(c, &u);
    uint8_t buf[512];
    size_t n = 0;
    if (peer_echoes) {
        cr_assert_eq(udp_read(c, &u, buf, sizeof buf, &n, 5000), CDTLS_OK);
        cr_assert(n == strlen(ping) && memcmp(buf, ping, n) == 0);
    } else {
        /* s_server prints what it gets and sends what it reads on stdin */
        int seen = child_output_contains(srv, "ping-from-cdtls", 5000);
        if (!seen) child_stop(srv, 1);
        cr_assert(seen, "peer did not print our data");
        cr_assert_eq(child_write(srv, "pong-from-peer\n"), 0);
        cr_assert_eq(udp_read(c, &u, buf, sizeof buf, &n, 5000), CDTLS_OK);
        cr_assert(n >= 14 && memcmp(buf, "pong-from-peer", 14) == 0);
    }
    int resumed = cdtls_conn_resumed(c);
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    close(u.fd);
    return resumed;
}

static void client_vs_openssl(uint16_t id)
{
    const interop_suite *s = find_suite(id);
    require_suite(s);
    uint16_t port = udp_free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    char *argv[] = {"openssl", "s_server",      "-dtls1_2",       "-nocert", "-psk",
                    PSK_HEX,   "-psk_identity", (char *)identity, "-cipher", (char *)s->openssl,
                    "-accept", accept,          "-naccept",       "1",       NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "ACCEPT", 5000), "s_server did not start");
    client_against(&srv, port, s, 0);
    child_stop(&srv, 0);
}

static void client_vs_gnutls(uint16_t id)
{
    const interop_suite *s = find_suite(id);
    require_suite(s);
    uint16_t port = udp_free_port();
    char portstr[16], prio[256];
    snprintf(portstr, sizeof portstr, "%u", port);
    gnutls_priority(prio, sizeof prio, s);
    char pskfile[] = "/tmp/cdtls-psk-XXXXXX";
    int fd = mkstemp(pskfile);
    cr_assert(fd >= 0);
    dprintf(fd, "%s:%s\n", identity, PSK_HEX);
    close(fd);
    char *argv[] = {"gnutls-serv", "--udp", "--echo",     "--port", portstr,
                    "--pskpasswd", pskfile, "--priority", prio,     NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "listening", 5000), "gnutls-serv did not start");
    client_against(&srv, port, s, 1);
    child_stop(&srv, 0);
    unlink(pskfile);
}

/* ------------------------------------------------- their client, our server */

static int serve_with(child *cli, const interop_suite *s, int fd, const cdtls_config *base);

static void serve(child *cli, const interop_suite *s, int fd)
{
    (void)serve_with(cli, s, fd, NULL);
}

/* Returns whether the session was resumed; base as for client_against_with. */
static int serve_with(child *cli, const interop_suite *s, int fd, const cdtls_config *base)
{
    cdtls_config cfg;
    config_for(&cfg, NULL);
    cfg.negotiate.cipher_suites = NULL; /* offer everything: the client's choice decides */
    if (base) {
        cfg.resumption.store = base->resumption.store;
        cfg.resumption.ticket_keys = base->resumption.ticket_keys;
    }
    cdtls_conn *c;
    udp_peer u = {.fd = fd};
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok == 1) (void)child_output_contains(cli, "\n", 300); /* let the peer finish */
    int sig = child_crash_signal(cli);
    if (sig) {
        /* gnutls-cli 3.7.9 dies with SIGSEGV in every ECDHE-PSK handshake,
         * against gnutls-serv and openssl s_server too: a peer bug, not a
         * finding about us. Reported as a skip, so a fixed peer runs it. */
        cdtls_conn_free(c);
        child_stop(cli, 0);
        close(fd);
        cr_skip_test("peer %s died of signal %d (peer bug; see docs/interop.md)", cli->argv0, sig);
        return 0;
    }
    if (ok != 1) child_stop(cli, 1);
    cr_assert_eq(ok, 1, "handshake failed: %s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_cipher_suite(c), s->id);
    /* the client sends a line from its stdin; we echo it */
    cr_assert_eq(child_write(cli, "hello-from-peer\n"), 0);
    uint8_t buf[512];
    size_t n = 0;
    int rc = udp_read(c, &u, buf, sizeof buf, &n, 5000);
    if (rc) child_stop(cli, 1);
    cr_assert_eq(rc, CDTLS_OK);
    cr_assert(n >= 15 && memcmp(buf, "hello-from-peer", 15) == 0);
    cr_assert_eq(cdtls_conn_write(c, buf, n, NULL), CDTLS_OK);
    udp_flush(c, &u);
    /* The clients print what they receive (their stdin is not echoed to
     * their output), so seeing the line there means our echo arrived. */
    int seen = child_output_contains(cli, "hello-from-peer", 5000);
    if (!seen) child_stop(cli, 1);
    cr_assert(seen, "peer did not print our echo");
    int resumed = cdtls_conn_resumed(c);
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    return resumed;
}

static void server_vs_openssl(uint16_t id)
{
    const interop_suite *s = find_suite(id);
    require_suite(s);
    uint16_t port;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    char *argv[] = {"openssl",
                    "s_client",
                    "-dtls1_2",
                    "-psk",
                    PSK_HEX,
                    "-psk_identity",
                    (char *)identity,
                    "-cipher",
                    (char *)s->openssl,
                    "-connect",
                    connect,
                    "-quiet",
                    NULL};
    child cli;
    cr_assert_eq(child_start(&cli, argv), 0);
    serve(&cli, s, fd);
    child_stop(&cli, 0);
    close(fd);
}

static void server_vs_gnutls(uint16_t id)
{
    const interop_suite *s = find_suite(id);
    require_suite(s);
    uint16_t port;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    char portstr[16], prio[256];
    snprintf(portstr, sizeof portstr, "%u", port);
    gnutls_priority(prio, sizeof prio, s);
    char *argv[] = {"gnutls-cli", "--udp", "--port",     portstr, "--pskusername", (char *)identity,
                    "--pskkey",   PSK_HEX, "--priority", prio,    "127.0.0.1",     NULL};
    child cli;
    cr_assert_eq(child_start(&cli, argv), 0);
    serve(&cli, s, fd);
    child_stop(&cli, 0);
    close(fd);
}

#define INTEROP(name, id)                               \
    Test(interop_openssl, client_##name, .timeout = 30) \
    {                                                   \
        client_vs_openssl(id);                          \
    }                                                   \
    Test(interop_openssl, server_##name, .timeout = 30) \
    {                                                   \
        server_vs_openssl(id);                          \
    }                                                   \
    Test(interop_gnutls, client_##name, .timeout = 30)  \
    {                                                   \
        client_vs_gnutls(id);                           \
    }                                                   \
    Test(interop_gnutls, server_##name, .timeout = 30)  \
    {                                                   \
        server_vs_gnutls(id);                           \
    }

INTEROP(psk_aes_128_gcm, CDTLS_PSK_WITH_AES_128_GCM_SHA256)
INTEROP(psk_aes_128_ccm, CDTLS_PSK_WITH_AES_128_CCM)
INTEROP(psk_aes_128_ccm_8, CDTLS_PSK_WITH_AES_128_CCM_8)
INTEROP(psk_aes_256_ccm_8, CDTLS_PSK_WITH_AES_256_CCM_8)
INTEROP(psk_aes_128_cbc_sha256, CDTLS_PSK_WITH_AES_128_CBC_SHA256)
INTEROP(psk_chacha20_poly1305, CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256)
INTEROP(ecdhe_psk_aes_128_cbc_sha256, CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256)
INTEROP(ecdhe_psk_chacha20_poly1305, CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256)

/* ------------------------------------------------------------ resumption */

/* AES-128-GCM, or ChaCha20-Poly1305 where the provider has no AES (sodium) */
static const interop_suite *resumption_suite(void)
{
    const interop_suite *s = find_suite(CDTLS_PSK_WITH_AES_128_GCM_SHA256);
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), s->id))
        s = find_suite(CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256);
    require_suite(s);
    return s;
}

/* Our client resumes with openssl s_server (two connections, -naccept 2):
 * by session ticket (OpenSSL issues RFC 5077 tickets by default: a third
 * party's ticket format, opaque to us) and, with tickets off on our side,
 * by session ID from s_server's session cache. */
static void client_resumes_openssl(int tickets)
{
    const interop_suite *s = resumption_suite();
    uint16_t port = udp_free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    char *argv[] = {"openssl", "s_server",      "-dtls1_2",       "-nocert", "-psk",
                    PSK_HEX,   "-psk_identity", (char *)identity, "-cipher", (char *)s->openssl,
                    "-accept", accept,          "-naccept",       "2",       NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "ACCEPT", 5000), "s_server did not start");
    cdtls_session_cache cache;
    cdtls_session_cache_entry e[2];
    cdtls_config base;
    cdtls_config_init(&base);
    base.resumption.store = cdtls_session_cache_init(&cache, e, 2);
    base.resumption.tickets = tickets;
    base.server_name = "openssl.example";
    cr_assert(!client_against_with(&srv, port, s, 0, &base), "first: a full handshake");
    cr_assert(e[0].used || e[1].used, "a session was kept");
    const cdtls_session *kept = e[0].used ? &e[0].session : &e[1].session;
    if (tickets)
        cr_assert_gt(kept->ticket_len, 0, "OpenSSL's ticket");
    else
        cr_assert_gt(kept->id_len, 0, "OpenSSL's session ID");
    cr_assert(client_against_with(&srv, port, s, 0, &base), "second: resumed");
    child_stop(&srv, 0);
}

Test(interop, client_resumes_openssl_by_ticket)
{
    client_resumes_openssl(1);
}
Test(interop, client_resumes_openssl_by_session_id)
{
    client_resumes_openssl(0);
}

/* openssl s_client -sess_out, then -sess_in, against our server: by ticket
 * (our ticket keys) and by session ID (s_client -no_ticket, our store). */
static void server_resumes_openssl(int tickets)
{
    const interop_suite *s = resumption_suite();
    uint16_t port;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    char connect[32], sess[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    snprintf(sess, sizeof sess, "/tmp/cdtls-sess-%ld.pem", (long)getpid());
    cdtls_session_cache cache;
    cdtls_session_cache_entry e[4];
    cdtls_ticket_keys keys;
    cdtls_config base;
    cdtls_config_init(&base);
    if (tickets) {
        cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 0, udp_now_ms()), CDTLS_OK);
        base.resumption.ticket_keys = &keys;
    } else {
        base.resumption.store = cdtls_session_cache_init(&cache, e, 4);
    }
    for (int round = 0; round < 2; round++) {
        char *argv[] = {"openssl",
                        "s_client",
                        "-dtls1_2",
                        "-psk",
                        PSK_HEX,
                        "-psk_identity",
                        (char *)identity,
                        "-cipher",
                        (char *)s->openssl,
                        "-connect",
                        connect,
                        "-quiet",
                        round ? "-sess_in" : "-sess_out",
                        sess,
                        tickets ? NULL : "-no_ticket",
                        NULL};
        child cli;
        cr_assert_eq(child_start(&cli, argv), 0);
        int resumed = serve_with(&cli, s, fd, &base);
        child_stop(&cli, 0);
        cr_assert_eq(resumed, round, "round %d: %s", round, round ? "resumed" : "a full handshake");
        udp_drain(fd, 0); /* the old client's last datagrams */
    }
    if (tickets) cr_assert_eq(keys.opened, 1, "our ticket came back");
    remove(sess);
    close(fd);
}

Test(interop, server_resumes_openssl_by_ticket)
{
    server_resumes_openssl(1);
}
Test(interop, server_resumes_openssl_by_session_id)
{
    server_resumes_openssl(0);
}
