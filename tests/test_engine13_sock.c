/* DTLS 1.3 over real UDP sockets on loopback: one listener serves a DTLS
 * 1.2 client and a DTLS 1.3 client side by side (RFC 9147 §5.1: the 1.3
 * hello gets the listener's stateless HelloRetryRequest with a cookie, the
 * 1.2 hello its HelloVerifyRequest), and each gets its echo. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/sock.h"
#include "cdtls/suites.h"
#include "interop_peers.h"
#include "test_util.h"

static const uint8_t psk[16] = "sock13-test-psk!";

static void cfg_init(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"sock13";
    cfg->psk.identity_len = 6;
    /* 1.3 suites and a 1.2 PSK suite every provider has */
    static const uint16_t suites[] = {0x1301, 0x1303, CDTLS_PSK_WITH_AES_128_GCM_SHA256,
                                      CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, CDTLS_PSK_WITH_AES_128_CCM_8};
    cfg->negotiate.cipher_suites = suites;
    cfg->negotiate.n_cipher_suites = sizeof suites / sizeof suites[0];
}

typedef struct server_ctx {
    cdtls_listener *l;
    int peers, served;
    uint16_t versions[2];
} server_ctx;

/* Accepts the peers, echoes each one's first record, notes its version. */
static void *serve(void *arg)
{
    server_ctx *ctx = arg;
    for (int i = 0; i < ctx->peers; i++) {
        cdtls_sock *s = NULL;
        if (cdtls_listener_accept(ctx->l, 10000, &s) != CDTLS_OK) return NULL;
        ctx->versions[i] = cdtls_conn_version(cdtls_sock_conn(s));
        uint8_t buf[256];
        size_t n = 0;
        if (cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000) == CDTLS_OK)
            (void)cdtls_sock_write(s, buf, n, NULL);
        ctx->served++;
        cdtls_sock_close(s);
    }
    return NULL;
}

static void dial_and_echo(const cdtls_addr *where, uint16_t max_version, const char *msg)
{
    cdtls_config cfg;
    cfg_init(&cfg);
    cfg.versions.max = max_version;
    cdtls_sock *c = NULL;
    int rc = cdtls_sock_dial(&cfg, where, 5000, &c);
    cr_assert_eq(rc, CDTLS_OK, "dial: %s", cdtls_strerror(rc));
    const uint16_t want = max_version ? max_version : CDTLS_VERSION_1_3;
    cr_assert_eq(cdtls_conn_version(cdtls_sock_conn(c)), want);
    cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)msg, strlen(msg), NULL), CDTLS_OK);
    uint8_t buf[256];
    size_t n = 0;
    cr_assert_eq(cdtls_sock_read(c, buf, sizeof buf, &n, NULL, 5000), CDTLS_OK);
    cr_assert(n == strlen(msg) && memcmp(buf, msg, n) == 0);
    cdtls_sock_close(c);
}

Test(engine13_sock, dtls12_and_dtls13_clients_on_one_listener, .timeout = 30)
{
    peer_require_cdtls13(CDTLS_SERVER); /* skips in a build without 1.3 (-Ddtls13=false) */
    cdtls_config cfg;
    cfg_init(&cfg);
    cdtls_addr bind, where;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    server_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.peers = 2;
    cr_assert_eq(cdtls_listener_open(&cfg, &bind, 0, &ctx.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(ctx.l), &where), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, serve, &ctx), 0);
    dial_and_echo(&where, CDTLS_VERSION_1_2, "from a 1.2 client");
    dial_and_echo(&where, 0, "from a 1.3 client");
    pthread_join(th, NULL);
    cr_assert_eq(ctx.served, 2);
    cr_assert_eq(ctx.versions[0], CDTLS_VERSION_1_2);
    cr_assert_eq(ctx.versions[1], CDTLS_VERSION_1_3);
    cdtls_listener_close(ctx.l);
}
