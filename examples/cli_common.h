/* Shared option parsing for the cdtls-client and cdtls-server tools. */
#ifndef CDTLS_EXAMPLES_CLI_COMMON_H
#define CDTLS_EXAMPLES_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"

typedef struct cli_opts {
    const char *prog;
    cdtls_addr addr; /* --connect / --listen */
    int have_addr;
    uint8_t psk[CDTLS_MAX_PSK_LEN];
    size_t psk_len;
    const char *identity;
    const char *hint;
    uint16_t suites[16];
    size_t n_suites;
    size_t mtu;
    cdtls_oob mark;      /* --dscp / --ecn */
    int echo;            /* server */
    int count;           /* --messages (client) / --peers (server); 0 = forever (server) */
    const char *message; /* client */
    int timeout_ms;
    int dual_stack;
    int quiet;
    /* certificates */
    const char *cert_file, *key_file, *ca_file, *server_name;
    int insecure;
    uint8_t *cert_der[8];
    size_t cert_len[8];
    size_t n_certs;
    cdtls_sign_key *key;
    cdtls_x509_cert anchors[16];
    uint8_t *anchor_der[16];
    size_t anchor_len[16];
    size_t n_anchors;
    /* --keylog FILE (or $SSLKEYLOGFILE): NSS key log lines appended */
    const char *keylog_file;
    /* --alpn LIST: comma-separated protocols to offer / accept */
    char alpn_buf[512];
    const char *alpn[16];
    size_t n_alpn;
    /* --resume: server: session IDs and tickets; client: keep and offer the
     * session (with --connections N, dial N times) */
    int resume;
    int connections;
    /* --idle-timeout MS (server): peers silent this long are dropped */
    uint32_t idle_timeout_ms;
    /* issue 22 */
    int print;                         /* server --print: data to stdout, no echo */
    int cid;                           /* --cid: connection IDs (RFC 9146) of this length */
    uint16_t min_version, max_version; /* --min-version, --max-version (0: the library's default) */
    int verbose;                       /* --verbose: the handshake as it happens, on stderr */
    int client_auth;                   /* server --client-auth MODE (cdtls_client_auth) */
    int expect_echo;   /* client --expect-echo: exit 1 unless every record comes back unchanged */
    int stdin_mode;    /* client: neither --message nor --messages: standard input */
    int timeout_given; /* --timeout on the command line (the server then bounds handshakes by it) */
} cli_opts;

/* Parses argv; on a bad flag prints why and the usage, and exits 2. */
void cli_parse(cli_opts *o, int argc, char **argv, int is_server);
/* A config from the options (loads certificate files; exits 2 with the
 * reason when one is unusable). */
void cli_config(cli_opts *o, cdtls_config *cfg);
/* Frees what cli_config loaded (certificate and trust anchor copies, the
 * key); the config made from o is unusable after. */
void cli_free(cli_opts *o);
/* "dscp=46 (EF) ecn=ECT(0)" or "unmarked". */
void cli_format_oob(const cdtls_oob *oob, char *buf, size_t cap);
const char *cli_caps_string(unsigned caps, char *buf, size_t cap);

/* What the tools remember of a handshake to explain its end: the last
 * message each way and the last alerts (from the observer's events). */
typedef struct cli_hs_trace {
    const void *conn;     /* whose (server: one per peer) */
    int rx_type, tx_type; /* -1: none yet */
    uint32_t rx_len;
    int alert_sent, alert_received; /* descriptions, -1: none */
    int hvr_sent;                   /* the client got a HelloVerifyRequest */
    int cert_requested;             /* the client got a CertificateRequest */
    int acked;                      /* DTLS 1.3: an ACK came (of our final flight, after the handshake) */
} cli_hs_trace;
void cli_trace_reset(cli_hs_trace *t, const void *conn);
void cli_trace_event(cli_hs_trace *t, const cdtls_event *ev);
/* One line: why a handshake failed with err, in the words of the trace. */
void cli_failure_reason(int err, const cli_hs_trace *t, char *buf, size_t cap);
/* --verbose: prints one event ("client: >>> ClientHello (seq 0, 151 bytes)"),
 * prefixed by who and (server) the peer, on stderr. */
void cli_print_event(const char *who, const char *peer, const cdtls_conn *c, const cdtls_event *ev);
/* The negotiated parameters of an established connection, on stderr. */
/* "DTLS 1.2", "DTLS 1.3" for a wire version. */
const char *cli_version_name(uint16_t version);
void cli_print_established(const char *who, const char *peer, const cdtls_conn *c, const cdtls_event *ev);
/* "0a1b..." (at most cap-1 characters). */
void cli_hex(const uint8_t *b, size_t n, char *out, size_t cap);

#endif
