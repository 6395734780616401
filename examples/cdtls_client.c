/* cdtls-client: a DTLS 1.3 / 1.2 client, like `openssl s_client -dtls`: it sends
 * what arrives on standard input (a record per line) and writes what it
 * receives to standard output; or, with --message / --messages, sends a
 * numbered message and waits for each reply. Every datagram it sends is
 * marked with --dscp/--ecn, and the marking of every one received is shown.
 *   cdtls-client --connect 127.0.0.1:4444 --psk 0011.. --dscp 46 --ecn ect0
 *   echo hello | cdtls-client --connect 127.0.0.1:4444 --psk 0011.. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <poll.h>
#include <unistd.h>
#endif

#include "cli_common.h"

/* What the observer saw of the current handshake (one at a time). */
static cli_hs_trace trace;

static void observe(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    const cli_opts *o = user;
    cli_trace_event(&trace, ev);
    if (o->verbose) cli_print_event("client", NULL, c, ev);
}

/* --expect-echo with standard input: the bytes sent that have not come
 * back yet, compared as a stream (records may be split differently on the
 * way back only if the server re-frames them, which an echo does not). */
#define ECHO_MAX (1u << 20)
static uint8_t echo_pending[ECHO_MAX];
static size_t echo_len, echo_records; /* bytes, and records sent minus records received */
static int echo_failed;

static void echo_sent(const cli_opts *o, const uint8_t *d, size_t n)
{
    if (!o->expect_echo || echo_failed) return;
    if (echo_len + n > ECHO_MAX) {
        fprintf(stderr, "%s: --expect-echo: more than %u bytes without an echo\n", o->prog, ECHO_MAX);
        echo_failed = 1;
        return;
    }
    memcpy(echo_pending + echo_len, d, n);
    echo_len += n;
    echo_records++;
}

static void echo_received(const cli_opts *o, const uint8_t *d, size_t n)
{
    if (!o->expect_echo || echo_failed) return;
    if (n > echo_len || memcmp(d, echo_pending, n) != 0) {
        fprintf(stderr, "%s: --expect-echo: received %zu bytes that differ from what was sent\n", o->prog, n);
        echo_failed = 1;
        return;
    }
    memmove(echo_pending, echo_pending + n, echo_len - n);
    echo_len -= n;
    if (echo_records) echo_records--;
    if (!echo_len) echo_records = 0;
}

/* Reads every record that is waiting (or, with wait_ms, the first one for
 * that long) to standard output: 0, 1 when the server closed, -1 on an
 * error (printed). */
/* " (certificate_required)" after a peer's fatal alert, else "": in DTLS
 * 1.3 the client finishes first, so a server refusing it (no certificate,
 * a bad one) says so only after the handshake, in the first read. */
static const char *alert_note(cdtls_sock *s, int rc, char *buf, size_t cap)
{
    uint8_t level = 0, desc = 0;
    buf[0] = 0;
    if (rc == CDTLS_ERR_PEER_ALERT && cdtls_conn_peer_alert(cdtls_sock_conn(s), &level, &desc) == 1)
        snprintf(buf, cap, " (%s)", cdtls_alert_name(desc));
    return buf;
}

static int drain(const cli_opts *o, cdtls_sock *s, int wait_ms)
{
    for (;;) {
        static uint8_t buf[16384 + 1];
        size_t got;
        int rc = cdtls_sock_read(s, buf, sizeof buf - 1, &got, NULL, wait_ms);
        if (rc == CDTLS_ERR_WOULD_BLOCK || rc == CDTLS_ERR_TIMEOUT) return 0;
        if (rc == CDTLS_ERR_CLOSED) {
            fflush(stdout);
            if (!o->quiet) fprintf(stderr, "client: the server closed the connection\n");
            return 1;
        }
        if (rc) {
            fflush(stdout);
            char note[64];
            fprintf(stderr, "%s: read failed: %s%s\n", o->prog, cdtls_strerror(rc),
                    alert_note(s, rc, note, sizeof note));
            return -1;
        }
        fwrite(buf, 1, got, stdout);
        fflush(stdout);
        echo_received(o, buf, got);
        if (echo_failed) return -1;
        wait_ms = 0;
    }
}

/* DTLS does not retransmit application data (RFC 6347 §4.1.2.7), and a
 * pipe writes faster than a server reads: datagrams beyond the receiver's
 * socket buffer are lost. With --expect-echo the echo is the feedback:
 * at most this many bytes, and records, go out before their echo came
 * back (small records fill a socket buffer by their count). */
#define ECHO_WINDOW (32u * 1024u)
#define ECHO_WINDOW_RECORDS 16u

static int wait_for_echoes(const cli_opts *o, cdtls_sock *s)
{
    uint64_t deadline = cdtls_io_now_ms() + (uint64_t)o->timeout_ms;
    while ((echo_len > ECHO_WINDOW || echo_records >= ECHO_WINDOW_RECORDS) && !echo_failed) {
        uint64_t now = cdtls_io_now_ms();
        if (now >= deadline) {
            fprintf(stderr, "%s: --expect-echo: no echo for %zu bytes within %d ms\n", o->prog, echo_len,
                    o->timeout_ms);
            echo_failed = 1;
            return -1;
        }
        int d = drain(o, s, (int)(deadline - now));
        if (d) return -1;
    }
    return echo_failed ? -1 : 0;
}

/* Sends d[0..n) as records: one per line (the newline included), the rest
 * of a read as one record, each at most what one datagram carries. */
static int send_input(const cli_opts *o, cdtls_sock *s, const uint8_t *d, size_t n)
{
    size_t max = cdtls_conn_max_write(cdtls_sock_conn(s));
    if (max == 0) max = 1;
    while (n) {
        if (o->expect_echo && wait_for_echoes(o, s)) return -1;
        const uint8_t *nl = memchr(d, '\n', n);
        size_t take = nl ? (size_t)(nl - d) + 1 : n;
        if (take > max) take = max;
        int rc = cdtls_sock_write(s, d, take, o->mark.flags ? &o->mark : NULL);
        if (rc) {
            fprintf(stderr, "%s: write failed: %s\n", o->prog, cdtls_strerror(rc));
            return -1;
        }
        echo_sent(o, d, take);
        d += take;
        n -= take;
    }
    return 0;
}

/* Standard input to the server, the server to standard output, until end
 * of input (then close_notify) or until the server closes. POSIX: poll()
 * on both. Windows cannot poll a console or pipe with sockets: there each
 * line is read (blocking) and sent, then what arrived within 100 ms is
 * shown (docs/tools.md). */
static int run_stdin(const cli_opts *o, cdtls_sock *s)
{
    static uint8_t in[16384];
    int status = 0, closed = 0;
    echo_len = echo_records = 0;
    echo_failed = 0;
    for (;;) {
        int d = drain(o, s, 0);
        if (d) {
            closed = 1;
            status = d < 0;
            break;
        }
#ifndef _WIN32
        struct pollfd p[2];
        p[0].fd = 0;
        p[0].events = POLLIN;
        p[1].fd = (int)cdtls_sock_io(s)->fd;
        p[1].events = POLLIN;
        p[0].revents = p[1].revents = 0;
        int pr = poll(p, 2, 1000);
        if (pr < 0 && errno != EINTR) {
            fprintf(stderr, "%s: poll failed\n", o->prog);
            status = 1;
            break;
        }
        if (pr <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(0, in, sizeof in);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* end of input */
        if (send_input(o, s, in, (size_t)n)) {
            status = 1;
            break;
        }
#else
        if (!fgets((char *)in, sizeof in, stdin)) break;
        if (send_input(o, s, in, strlen((char *)in))) {
            status = 1;
            break;
        }
        if ((d = drain(o, s, 100)) != 0) {
            closed = 1;
            status = d < 0;
            break;
        }
#endif
    }
    /* what is still on its way back */
    if (!closed && !status && o->expect_echo) {
        uint64_t deadline = cdtls_io_now_ms() + (uint64_t)o->timeout_ms;
        while (echo_len && !echo_failed && cdtls_io_now_ms() < deadline) {
            int d = drain(o, s, (int)(deadline - cdtls_io_now_ms()));
            if (d) {
                status = d < 0;
                break;
            }
        }
    }
    /* DTLS 1.3: the client finishes first (RFC 8446 §2), so a server that
     * asked for our certificate judges it after we count as connected: its
     * verdict is the ACK of our final flight (RFC 9147 §5.8.3) or an alert.
     * Heard before we close, so that a refusal is reported (exit 1). */
    if (!closed && !status && trace.cert_requested && !trace.acked &&
        cdtls_conn_version(cdtls_sock_conn(s)) == CDTLS_VERSION_1_3) {
        uint64_t deadline = cdtls_io_now_ms() + (uint64_t)o->timeout_ms;
        while (!trace.acked && cdtls_io_now_ms() < deadline) {
            int d = drain(o, s, 50);
            if (d) {
                status = d < 0;
                break;
            }
        }
    }
    if (o->expect_echo && !echo_failed && echo_len) {
        fprintf(stderr, "%s: --expect-echo: %zu bytes sent never came back\n", o->prog, echo_len);
        echo_failed = 1;
    }
    return status || echo_failed;
}

/* --message: --messages numbered messages, each waiting for its reply. */
static int run_messages(const cli_opts *o, cdtls_sock *s)
{
    char mark[64];
    cli_format_oob(&o->mark, mark, sizeof mark);
    for (int i = 0; i < o->count; i++) {
        static char msg[16384 + 1]; /* up to a whole record (--message of 2^14 - 3 bytes, " #1") */
        int n = snprintf(msg, sizeof msg, "%s #%d", o->message, i + 1);
        int rc = cdtls_sock_write(s, (const uint8_t *)msg, (size_t)n, o->mark.flags ? &o->mark : NULL);
        if (rc) {
            fprintf(stderr, "%s: write failed: %s\n", o->prog, cdtls_strerror(rc));
            return 1;
        }
        printf("client: sent %d bytes marked %s\n", n, o->mark.flags ? mark : "(unmarked)");
        static uint8_t buf[16384 + 1]; /* a record of 2^14 bytes and a NUL */
        size_t got;
        cdtls_oob oob;
        rc = cdtls_sock_read(s, buf, sizeof buf - 1, &got, &oob, o->timeout_ms);
        if (rc) {
            char note[64];
            fprintf(stderr, "%s: read failed: %s%s%s\n", o->prog, cdtls_strerror(rc),
                    alert_note(s, rc, note, sizeof note), o->expect_echo ? " (no echo)" : "");
            return 1;
        }
        buf[got] = 0;
        char rmark[64];
        cli_format_oob(&oob, rmark, sizeof rmark);
        printf("client: received \"%s\" %s\n", (char *)buf, rmark);
        if (o->expect_echo && (got != (size_t)n || memcmp(buf, msg, got) != 0)) {
            fflush(stdout);
            fprintf(stderr, "%s: --expect-echo: sent \"%s\" (%d bytes), received %zu bytes that differ\n",
                    o->prog, msg, n, got);
            return 1;
        }
    }
    return 0;
}

/* One connection: handshake, then standard input or --messages, close. */
static int run_connection(const cli_opts *o, const cdtls_context *ctx, const char *peer)
{
    char caps[256];
    cdtls_sock *s;
    cli_trace_reset(&trace, NULL);
    int rc = cdtls_sock_dial_from(ctx, &o->addr, o->timeout_ms, &s);
    if (rc) {
        if (rc == CDTLS_ERR_PEER_ALERT && trace.alert_received >= 0)
            fprintf(stderr, "%s: handshake with %s failed: %s (%s)\n", o->prog, peer, cdtls_strerror(rc),
                    cdtls_alert_name((uint8_t)trace.alert_received));
        else if (rc == CDTLS_ERR_TIMEOUT && trace.tx_type == 20)
            /* records under the wrong keys are dropped silently (RFC 6347
             * §4.1.2.7): a wrong PSK shows as no answer to our Finished */
            fprintf(stderr, "%s: handshake with %s failed: %s (no answer to our Finished: a wrong PSK?)\n",
                    o->prog, peer, cdtls_strerror(rc));
        else
            fprintf(stderr, "%s: handshake with %s failed: %s\n", o->prog, peer, cdtls_strerror(rc));
        return 1;
    }
    /* with standard input, standard output carries only the data */
    FILE *info = o->stdin_mode ? stderr : stdout;
    cdtls_conn *c = cdtls_sock_conn(s);
    fprintf(info, "client: connected to %s, %s, %s%s%s\n", peer, cli_version_name(cdtls_conn_version(c)),
            cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)),
            cdtls_conn_uses_ems(c) ? ", extended master secret" : "",
            cdtls_conn_resumed(c) ? ", resumed session" : "");
    size_t alpn_len;
    const uint8_t *alpn = cdtls_conn_alpn(c, &alpn_len);
    if (alpn) fprintf(info, "client: ALPN %.*s\n", (int)alpn_len, (const char *)alpn);
    if (cdtls_conn_uses_cid(c)) {
        size_t ol, pl;
        const uint8_t *own = cdtls_conn_own_cid(c, &ol), *theirs = cdtls_conn_peer_cid(c, &pl);
        char a[2 * CDTLS_MAX_CID_LEN + 1], b[2 * CDTLS_MAX_CID_LEN + 1];
        cli_hex(own, ol, a, sizeof a);
        cli_hex(theirs, pl, b, sizeof b);
        fprintf(info, "client: connection ID ours %s, the server's %s\n", ol ? a : "(empty)",
                pl ? b : "(empty)");
    }
    size_t n_peer;
    const cdtls_x509_cert *chain = cdtls_conn_peer_certificates(c, &n_peer);
    if (chain) {
        uint8_t fp[32];
        if (cdtls_x509_fingerprint_sha256(cdtls_provider_default(), &chain[0], fp) == CDTLS_OK) {
            fprintf(info, "client: server certificate chain of %zu, leaf sha-256 ", n_peer);
            for (int i = 0; i < 32; i++) fprintf(info, "%02X%s", fp[i], i < 31 ? ":" : "\n");
        }
    }
    if (!o->quiet)
        fprintf(info, "client: socket can carry %s\n",
                cli_caps_string(cdtls_io_caps(cdtls_sock_io(s)), caps, sizeof caps));
    fflush(info);
    int status = o->stdin_mode ? run_stdin(o, s) : run_messages(o, s);
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
    (void)cdtls_context_set_observer(ctx, observe, &o);
    char peer[64];
    cdtls_addr_format(&o.addr, peer, sizeof peer);
    int status = 0;
    for (int i = 0; i < o.connections && status == 0; i++) status = run_connection(&o, ctx, peer);
    cdtls_context_free(ctx);
    cli_free(&o);
    return status;
}
