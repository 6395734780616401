/* cdtls-server: a DTLS 1.2 server over one UDP socket for many peers that
 * prints the DSCP/ECN of every datagram it receives and, with --echo,
 * sends each record back marked as it arrived (or as --dscp/--ecn say).
 *   cdtls-server --listen 127.0.0.1:4444 --psk 0011.. --echo */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

#define MAX_PEERS 64

int main(int argc, char **argv)
{
    cli_opts o;
    cli_parse(&o, argc, argv, 1);
    cdtls_config cfg;
    cli_config(&o, &cfg);
    char where[64], peer[64], mark[64], caps[256];

    cdtls_listener *l;
    int rc = cdtls_listener_open(&cfg, &o.addr, o.dual_stack ? CDTLS_IO_DUAL_STACK : 0, &l);
    if (rc) {
        cdtls_addr_format(&o.addr, where, sizeof where);
        fprintf(stderr, "%s: cannot listen on %s: %s\n", o.prog, where, cdtls_strerror(rc));
        return 1;
    }
    cdtls_addr bound;
    cdtls_io_local_addr(cdtls_listener_io(l), &bound);
    cdtls_addr_format(&bound, where, sizeof where);
    printf("server: listening on %s\n", where);
    if (!o.quiet)
        printf("server: socket can carry %s\n",
               cli_caps_string(cdtls_io_caps(cdtls_listener_io(l)), caps, sizeof caps));
    fflush(stdout);

    cdtls_sock *peers[MAX_PEERS] = {0};
    int n_peers = 0, finished = 0;
    for (;;) {
        cdtls_sock *s = NULL;
        /* with no peer to read from, block in accept instead of spinning */
        rc = cdtls_listener_accept(l, n_peers ? 0 : 200, &s);
        if (rc == CDTLS_OK) {
            int slot = -1;
            for (int i = 0; i < MAX_PEERS && slot < 0; i++)
                if (!peers[i]) slot = i;
            if (slot < 0) {
                cdtls_sock_close(s);
            } else {
                peers[slot] = s;
                n_peers++;
                cdtls_addr_format(cdtls_sock_peer(s), peer, sizeof peer);
                cdtls_conn *c = cdtls_sock_conn(s);
                size_t idl;
                const uint8_t *id = cdtls_conn_psk_identity(c, &idl);
                const char *resumed = cdtls_conn_resumed(c) ? ", resumed session" : "";
                if (id)
                    printf("server: %s connected, identity \"%.*s\", %s%s\n", peer, (int)idl,
                           (const char *)id, cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)), resumed);
                else
                    printf("server: %s connected, %s%s\n", peer,
                           cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)), resumed);
                size_t alpn_len;
                const uint8_t *alpn = cdtls_conn_alpn(c, &alpn_len);
                if (alpn) printf("server: %s ALPN %.*s\n", peer, (int)alpn_len, (const char *)alpn);
                fflush(stdout);
            }
        }
        for (int i = 0; i < MAX_PEERS; i++) {
            if (!peers[i]) continue;
            uint8_t buf[16384 + 1]; /* a record of 2^14 bytes and a NUL */
            size_t n;
            cdtls_oob oob;
            rc = cdtls_sock_read(peers[i], buf, sizeof buf - 1, &n, &oob, n_peers == 1 ? 50 : 5);
            cdtls_addr_format(cdtls_sock_peer(peers[i]), peer, sizeof peer);
            if (rc == CDTLS_OK) {
                buf[n] = 0;
                cli_format_oob(&oob, mark, sizeof mark);
                printf("server: %zu bytes from %s %s: \"%s\"\n", n, peer, mark, (char *)buf);
                if (o.echo) {
                    cdtls_oob reply = o.mark.flags ? o.mark : oob;
                    reply.flags &= CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
                    int wrc = cdtls_sock_write(peers[i], buf, n, reply.flags ? &reply : NULL);
                    if (wrc)
                        fprintf(stderr, "%s: echo to %s failed: %s\n", o.prog, peer, cdtls_strerror(wrc));
                }
                fflush(stdout);
            } else if (rc != CDTLS_ERR_TIMEOUT && rc != CDTLS_ERR_WOULD_BLOCK) {
                printf("server: %s %s\n", peer,
                       rc == CDTLS_ERR_CLOSED ? "closed the connection"
                       : rc == CDTLS_ERR_IDLE ? "was idle too long"
                                              : cdtls_strerror(rc));
                fflush(stdout);
                cdtls_sock_close(peers[i]);
                peers[i] = NULL;
                n_peers--;
                finished++;
            }
        }
        if (o.count && finished >= o.count) break;
    }
    cdtls_listener_close(l);
    cli_free(&o);
    return 0;
}
