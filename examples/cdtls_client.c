/* cdtls-client: a DTLS 1.2 client that marks every datagram it sends with
 * DSCP/ECN and prints the marking of every datagram it receives.
 *   cdtls-client --connect 127.0.0.1:4444 --psk 0011.. --dscp 46 --ecn ect0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

/* One connection: handshake, --count messages echoed, close. */
static int run_connection(cli_opts *ov, const cdtls_context *ctx, const char *peer)
{
    cli_opts o = *ov;
    char mark[64], caps[256];
    cdtls_sock *s;
    int rc = cdtls_sock_dial_from(ctx, &o.addr, o.timeout_ms, &s);
    if (rc) {
        fprintf(stderr, "%s: handshake with %s failed: %s\n", o.prog, peer, cdtls_strerror(rc));
        return 1;
    }
    cdtls_conn *c = cdtls_sock_conn(s);
    printf("client: connected to %s, %s%s%s\n", peer, cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)),
           cdtls_conn_uses_ems(c) ? ", extended master secret" : "",
           cdtls_conn_resumed(c) ? ", resumed session" : "");
    size_t alpn_len;
    const uint8_t *alpn = cdtls_conn_alpn(c, &alpn_len);
    if (alpn) printf("client: ALPN %.*s\n", (int)alpn_len, (const char *)alpn);
    size_t n_peer;
    const cdtls_x509_cert *chain = cdtls_conn_peer_certificates(c, &n_peer);
    if (chain) {
        uint8_t fp[32];
        if (cdtls_x509_fingerprint_sha256(cdtls_provider_default(), &chain[0], fp) == CDTLS_OK) {
            printf("client: server certificate chain of %zu, leaf sha-256 ", n_peer);
            for (int i = 0; i < 32; i++) printf("%02X%s", fp[i], i < 31 ? ":" : "\n");
        }
    }
    if (!o.quiet)
        printf("client: socket can carry %s\n",
               cli_caps_string(cdtls_io_caps(cdtls_sock_io(s)), caps, sizeof caps));
    cli_format_oob(&o.mark, mark, sizeof mark);
    int status = 0;
    for (int i = 0; i < o.count; i++) {
        static char msg[16384 + 1]; /* up to a whole record (--message of 2^14 - 3 bytes, " #1") */
        int n = snprintf(msg, sizeof msg, "%s #%d", o.message, i + 1);
        rc = cdtls_sock_write(s, (const uint8_t *)msg, (size_t)n, o.mark.flags ? &o.mark : NULL);
        if (rc) {
            fprintf(stderr, "%s: write failed: %s\n", o.prog, cdtls_strerror(rc));
            status = 1;
            break;
        }
        printf("client: sent %d bytes marked %s\n", n, o.mark.flags ? mark : "(unmarked)");
        uint8_t buf[16384 + 1]; /* a record of 2^14 bytes and a NUL */
        size_t got;
        cdtls_oob oob;
        rc = cdtls_sock_read(s, buf, sizeof buf - 1, &got, &oob, o.timeout_ms);
        if (rc) {
            fprintf(stderr, "%s: read failed: %s\n", o.prog, cdtls_strerror(rc));
            status = 1;
            break;
        }
        buf[got] = 0;
        cli_format_oob(&oob, mark, sizeof mark);
        printf("client: received \"%s\" %s\n", (char *)buf, mark);
        cli_format_oob(&o.mark, mark, sizeof mark);
    }
    cdtls_sock_close(s);
    return status;
}

int main(int argc, char **argv)
{
    cli_opts o;
    cli_parse(&o, argc, argv, 0);
    cdtls_config cfg;
    cli_config(&o, &cfg);
    if (!cfg.callbacks.unix_time) cfg.callbacks.unix_time = cdtls_io_wall_clock;
    /* validated once, shared by every --connections connection (and its
     * session store, so the second one can resume) */
    cdtls_context *ctx = NULL;
    int rc = cdtls_context_new(&cfg, &ctx);
    if (rc) {
        fprintf(stderr, "%s: bad configuration: %s\n", o.prog, cdtls_strerror(rc));
        return 1;
    }
    char peer[64];
    cdtls_addr_format(&o.addr, peer, sizeof peer);
    int status = 0;
    for (int i = 0; i < o.connections && status == 0; i++) status = run_connection(&o, ctx, peer);
    cdtls_context_free(ctx);
    cli_free(&o);
    return status;
}
