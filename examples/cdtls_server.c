/* cdtls-server: a DTLS 1.3 / 1.2 server over one UDP socket for many peers, like
 * `openssl s_server -dtls`: it echoes every record (marked as it arrived,
 * or as --dscp/--ecn say) or, with --print, writes what arrives to standard
 * output; it prints the DSCP/ECN of every datagram it receives, and for
 * each peer whose handshake fails, why (on standard error).
 *   cdtls-server --listen 127.0.0.1:4444 --psk 0011.. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/socket.h>
#endif

#include "cli_common.h"

#define MAX_PEERS 64

/* ------------------------------------------- why handshakes fail, per peer */

/* What the listener's observer saw of each handshake in progress (by
 * connection), and the addresses a HelloVerifyRequest went to that have
 * not come back with the cookie yet (a dropped hello shows as nothing
 * else: the listener keeps no state before the cookie, RFC 6347 §4.2.1). */
#define MAX_TRACES 256
#define MAX_HVR 64
static cli_hs_trace traces[MAX_TRACES];
static struct {
    cdtls_addr addr;
    uint64_t at_ms;
    int used;
} hvr[MAX_HVR];
static unsigned next_trace, next_hvr;

static cli_hs_trace *trace_find(const cdtls_conn *c, int make)
{
    for (int i = 0; i < MAX_TRACES; i++)
        if (traces[i].conn == c) return &traces[i];
    if (!make) return NULL;
    for (int i = 0; i < MAX_TRACES; i++)
        if (!traces[i].conn) {
            cli_trace_reset(&traces[i], c);
            return &traces[i];
        }
    cli_hs_trace *t = &traces[next_trace++ % MAX_TRACES]; /* full: forget the oldest slot */
    cli_trace_reset(t, c);
    return t;
}

static int same_addr(const cdtls_addr *a, const cdtls_addr *b)
{
    char x[64], y[64];
    cdtls_addr_format(a, x, sizeof x);
    cdtls_addr_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

static void hvr_note(const cdtls_addr *a, int add)
{
    for (int i = 0; i < MAX_HVR; i++)
        if (hvr[i].used && same_addr(&hvr[i].addr, a)) {
            hvr[i].used = add;
            hvr[i].at_ms = cdtls_io_now_ms();
            return;
        }
    if (!add) return;
    int slot = -1;
    for (int i = 0; i < MAX_HVR && slot < 0; i++)
        if (!hvr[i].used) slot = i;
    if (slot < 0) slot = (int)(next_hvr++ % MAX_HVR);
    hvr[slot].addr = *a;
    hvr[slot].at_ms = cdtls_io_now_ms();
    hvr[slot].used = 1;
}

/* HelloVerifyRequests unanswered for --timeout: the client's second
 * ClientHello (or our HelloVerifyRequest) was lost, or the client left. */
static void hvr_expire(const cli_opts *o)
{
    uint64_t now = cdtls_io_now_ms();
    for (int i = 0; i < MAX_HVR; i++)
        if (hvr[i].used && now - hvr[i].at_ms >= (uint64_t)o->timeout_ms) {
            char where[64];
            cdtls_addr_format(&hvr[i].addr, where, sizeof where);
            fprintf(stderr,
                    "%s: handshake with %s failed: no ClientHello with the cookie came back within %d ms "
                    "(a dropped hello or HelloVerifyRequest, or the client gave up)\n",
                    o->prog, where, o->timeout_ms);
            hvr[i].used = 0;
        }
}

static void observe(void *user, const cdtls_addr *peer, const cdtls_conn *c, const cdtls_event *ev)
{
    const cli_opts *o = user;
    char where[64];
    cdtls_addr_format(peer, where, sizeof where);
    if (o->verbose) cli_print_event("server", where, c, ev);
    if (ev->kind == CDTLS_EVENT_HELLO_VERIFY_SENT) {
        hvr_note(peer, 1);
        return;
    }
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_RECEIVED && ev->hs_type == 1) hvr_note(peer, 0);
    int ends = ev->kind == CDTLS_EVENT_FAILED || ev->kind == CDTLS_EVENT_EVICTED ||
               ev->kind == CDTLS_EVENT_ESTABLISHED || ev->kind == CDTLS_EVENT_IDLE;
    /* only handshakes in progress have a trace: events of established
     * peers (their close_notify, a read error) are the main loop's */
    cli_hs_trace *t = trace_find(c, !ends && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING);
    if (!t) return;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_RECEIVED && ev->hs_type == 1)
        cli_trace_reset(t, c); /* a new connection (at a freed one's address, maybe) */
    cli_trace_event(t, ev);
    if (ev->kind == CDTLS_EVENT_FAILED) {
        char why[256];
        cli_failure_reason(ev->error, t, why, sizeof why);
        fprintf(stderr, "%s: handshake with %s failed: %s\n", o->prog, where, why);
    } else if (ev->kind == CDTLS_EVENT_EVICTED) {
        fprintf(stderr, "%s: handshake with %s dropped: newer handshakes took its place (listener limits)\n",
                o->prog, where);
    }
    if (ends) t->conn = NULL;
}

int main(int argc, char **argv)
{
    cli_opts o;
    cli_parse(&o, argc, argv, 1);
    cdtls_config cfg;
    cli_config(&o, &cfg);
    /* --timeout given: also the bound of every peer's handshake */
    if (o.timeout_given) cfg.timers.handshake_timeout_ms = (uint32_t)o.timeout_ms;
    char where[64], peer[64], mark[64], caps[256];
    /* with --print, standard output carries only the data */
    FILE *info = o.print ? stderr : stdout;

    cdtls_listener *l;
    int rc = cdtls_listener_open(&cfg, &o.addr, o.dual_stack ? CDTLS_IO_DUAL_STACK : 0, &l);
    if (rc) {
        cdtls_addr_format(&o.addr, where, sizeof where);
        fprintf(stderr, "%s: cannot listen on %s: %s\n", o.prog, where, cdtls_strerror(rc));
        return 1;
    }
    (void)cdtls_listener_set_observer(l, observe, &o);
    /* A client piping a file sends faster than this loop reads, and DTLS
     * does not retransmit data: a larger receive buffer (as far as the
     * system allows: net.core.rmem_max on Linux) loses less of a burst. */
    int rcvbuf = 4 * 1024 * 1024;
    (void)setsockopt(cdtls_listener_io(l)->fd, SOL_SOCKET, SO_RCVBUF, (const char *)&rcvbuf, sizeof rcvbuf);
    cdtls_addr bound;
    cdtls_io_local_addr(cdtls_listener_io(l), &bound);
    cdtls_addr_format(&bound, where, sizeof where);
    fprintf(info, "server: listening on %s\n", where);
    if (!o.quiet)
        fprintf(info, "server: socket can carry %s\n",
                cli_caps_string(cdtls_io_caps(cdtls_listener_io(l)), caps, sizeof caps));
    fflush(info);

    cdtls_sock *peers[MAX_PEERS] = {0};
    int n_peers = 0, finished = 0;
    for (;;) {
        cdtls_sock *s = NULL;
        /* with no peer to read from, block in accept instead of spinning */
        rc = cdtls_listener_accept(l, n_peers ? 0 : 200, &s);
        hvr_expire(&o);
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
                    fprintf(info, "server: %s connected, identity \"%.*s\", %s, %s%s\n", peer, (int)idl,
                            (const char *)id, cli_version_name(cdtls_conn_version(c)),
                            cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)), resumed);
                else
                    fprintf(info, "server: %s connected, %s, %s%s\n", peer,
                            cli_version_name(cdtls_conn_version(c)),
                            cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)), resumed);
                size_t alpn_len;
                const uint8_t *alpn = cdtls_conn_alpn(c, &alpn_len);
                if (alpn) fprintf(info, "server: %s ALPN %.*s\n", peer, (int)alpn_len, (const char *)alpn);
                size_t n_chain;
                if (cdtls_conn_peer_certificates(c, &n_chain))
                    fprintf(info, "server: %s client certificate chain of %zu\n", peer, n_chain);
                if (cdtls_conn_uses_cid(c)) {
                    size_t ol, pl;
                    const uint8_t *own = cdtls_conn_own_cid(c, &ol), *theirs = cdtls_conn_peer_cid(c, &pl);
                    char a[2 * CDTLS_MAX_CID_LEN + 1], b[2 * CDTLS_MAX_CID_LEN + 1];
                    cli_hex(own, ol, a, sizeof a);
                    cli_hex(theirs, pl, b, sizeof b);
                    fprintf(info, "server: %s connection ID ours %s, the client's %s\n", peer,
                            ol ? a : "(empty)", pl ? b : "(empty)");
                }
                fflush(info);
            }
        }
        for (int i = 0; i < MAX_PEERS; i++) {
            if (!peers[i]) continue;
            uint8_t buf[16384 + 1]; /* a record of 2^14 bytes and a NUL */
            size_t n;
            cdtls_oob oob;
            cdtls_addr_format(cdtls_sock_peer(peers[i]), peer, sizeof peer);
            /* the records that are waiting, at most 256 (then the next
             * peer): the bound is checked before a read, never after, so
             * no record is read and then dropped */
            rc = cdtls_sock_read(peers[i], buf, sizeof buf - 1, &n, &oob, n_peers == 1 ? 50 : 5);
            for (int more = 1; rc == CDTLS_OK; more++) {
                if (o.print) {
                    fwrite(buf, 1, n, stdout);
                    fflush(stdout);
                }
                buf[n] = 0;
                cli_format_oob(&oob, mark, sizeof mark);
                if (o.print)
                    fprintf(info, "server: %zu bytes from %s %s\n", n, peer, mark);
                else
                    fprintf(info, "server: %zu bytes from %s %s: \"%s\"\n", n, peer, mark, (char *)buf);
                if (o.echo) {
                    cdtls_oob reply = o.mark.flags ? o.mark : oob;
                    reply.flags &= CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
                    int wrc = cdtls_sock_write(peers[i], buf, n, reply.flags ? &reply : NULL);
                    if (wrc)
                        fprintf(stderr, "%s: echo to %s failed: %s\n", o.prog, peer, cdtls_strerror(wrc));
                }
                fflush(info);
                if (more == 256) break;
                rc = cdtls_sock_read(peers[i], buf, sizeof buf - 1, &n, &oob, 0);
            }
            if (rc != CDTLS_OK && rc != CDTLS_ERR_TIMEOUT && rc != CDTLS_ERR_WOULD_BLOCK) {
                fprintf(info, "server: %s %s\n", peer,
                        rc == CDTLS_ERR_CLOSED ? "closed the connection"
                        : rc == CDTLS_ERR_IDLE ? "was idle too long"
                                               : cdtls_strerror(rc));
                fflush(info);
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
