/* A program as a cdtls user writes it, built by tests/zig-consumer/build.zig
 * against the cdtls zig package (docs/building.md, "As a zig package").
 * One PSK handshake between a client and a server in memory, through the
 * public API only (the sans-IO engine: datagrams are handed from one
 * connection to the other, no sockets), then one record each way. It exits
 * 0 only if both sides are established and the application data that
 * crossed is the data that was written; anything else prints why and exits 1.
 * The server does the HelloVerifyRequest exchange itself (the default). */
#include <cdtls/cdtls.h>
#include <cdtls/suites.h>

#include <stdio.h>
#include <string.h>

static const uint8_t key[16] = "zig-consumer-psk";
static const uint8_t identity[] = "zig-consumer";
static const uint16_t suites[] = {CDTLS_PSK_WITH_AES_128_GCM_SHA256, CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256};

/* Moves every datagram `from` has queued into `to`; returns how many. */
static int move(cdtls_conn *from, cdtls_conn *to, uint64_t now)
{
    uint8_t d[1500];
    size_t len;
    int n = 0;
    while (cdtls_conn_next_datagram(from, d, sizeof d, &len, NULL) == CDTLS_OK) {
        (void)cdtls_conn_recv(to, d, len, NULL, now);
        n++;
    }
    return n;
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "zig-consumer: %s: %s\n", what, cdtls_strerror(err));
    return 1;
}

int main(void)
{
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    for (int i = 0; i < 2; i++) {
        cdtls_config *c = i ? &sc : &cc;
        c->negotiate.cipher_suites = suites;
        c->negotiate.n_cipher_suites = sizeof suites / sizeof suites[0];
        c->psk.key = key;
        c->psk.key_len = sizeof key;
        c->psk.identity = identity;
        c->psk.identity_len = sizeof identity - 1;
    }
    uint64_t now = 1000;
    cdtls_conn *cli = NULL, *srv = NULL;
    int rc = cdtls_conn_new(&cc, CDTLS_CLIENT, now, &cli);
    if (rc) return fail("client", rc);
    rc = cdtls_conn_new(&sc, CDTLS_SERVER, now, &srv);
    if (rc) return fail("server", rc);
    static const char peer[] = "client";
    cdtls_conn_set_peer_address(srv, peer, sizeof peer);
    rc = cdtls_conn_start(cli, now);
    if (rc) return fail("start", rc);
    /* a handshake in memory takes a few flights; bounded */
    for (int round = 0; round < 32; round++) {
        int moved = move(cli, srv, now) + move(srv, cli, now);
        if (cdtls_conn_get_state(cli) == CDTLS_STATE_ESTABLISHED &&
            cdtls_conn_get_state(srv) == CDTLS_STATE_ESTABLISHED)
            break;
        if (cdtls_conn_get_state(cli) == CDTLS_STATE_FAILED)
            return fail("client handshake", cdtls_conn_error(cli));
        if (cdtls_conn_get_state(srv) == CDTLS_STATE_FAILED)
            return fail("server handshake", cdtls_conn_error(srv));
        if (!moved) return fail("handshake stalled", 0);
    }
    if (cdtls_conn_get_state(cli) != CDTLS_STATE_ESTABLISHED ||
        cdtls_conn_get_state(srv) != CDTLS_STATE_ESTABLISHED)
        return fail("handshake did not complete", 0);

    static const char ping[] = "ping over cdtls", pong[] = "pong";
    uint8_t buf[256];
    size_t len = 0;
    if ((rc = cdtls_conn_write(cli, (const uint8_t *)ping, sizeof ping - 1, NULL)) != CDTLS_OK)
        return fail("client write", rc);
    move(cli, srv, now);
    if ((rc = cdtls_conn_read(srv, buf, sizeof buf, &len, NULL)) != CDTLS_OK) return fail("server read", rc);
    if (len != sizeof ping - 1 || memcmp(buf, ping, len) != 0) return fail("server read other bytes", 0);
    if ((rc = cdtls_conn_write(srv, (const uint8_t *)pong, sizeof pong - 1, NULL)) != CDTLS_OK)
        return fail("server write", rc);
    move(srv, cli, now);
    if ((rc = cdtls_conn_read(cli, buf, sizeof buf, &len, NULL)) != CDTLS_OK) return fail("client read", rc);
    if (len != sizeof pong - 1 || memcmp(buf, pong, len) != 0) return fail("client read other bytes", 0);

    printf("zig-consumer: handshake done (suite 0x%04x, provider %s), %zu + %zu bytes crossed\n",
           cdtls_conn_cipher_suite(cli), cdtls_provider_default()->name, sizeof ping - 1, sizeof pong - 1);
    cdtls_conn_free(cli);
    cdtls_conn_free(srv);
    return 0;
}
