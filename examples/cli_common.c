#include "cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The suites the library knows (its suite table, by IANA value), those
 * this build and provider cannot negotiate marked. */
static void list_suites(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    fprintf(stderr, "cipher suites (--suite NAME, with or without TLS_; default: all this build has):\n");
    for (unsigned id = 0; id <= 0xffff; id++) {
        const char *n = cdtls_cipher_suite_name((uint16_t)id);
        if (n)
            fprintf(stderr, "  %s%s\n", n,
                    cdtls_cipher_suite_supported(p, (uint16_t)id) ? "" : "  (not in this build)");
    }
}

static void usage(const cli_opts *o, int is_server)
{
    fprintf(stderr,
            "usage: %s %s ADDR:PORT %s [options]\n"
            "%s"
            "  --psk HEX            pre-shared key (hex, 1..256 bytes)\n"
            "  --identity NAME      PSK identity %s (default \"cdtls\")\n"
            "%s"
            "  --key FILE           PEM/DER private key for --cert (PKCS#8, SEC1, PKCS#1)\n"
            "%s"
            "%s"
            "  --suite NAME         cipher suite (repeatable), e.g. TLS_PSK_WITH_AES_128_GCM_SHA256\n"
            "  --mtu N              largest datagram (default 1200)\n"
            "  --dscp N             DSCP to mark %s with (0..63, e.g. 46 = EF)\n"
            "  --ecn CODE           ECN codepoint: not-ect, ect0, ect1, ce\n"
            "%s"
            "  --alpn LIST          ALPN protocols, comma-separated, in preference order\n"
            "  --cid                connection IDs (RFC 9146, 8 bytes; AEAD suites)%s\n"
            "  --resume             resumable sessions (1.2: session IDs and RFC 5077 tickets;\n"
            "                       1.3: NewSessionTicket)\n"
            "  --min-version V      lowest DTLS version to speak: 1.2 (default) or 1.3\n"
            "  --max-version V      highest DTLS version to speak: 1.3 (default; --cid speaks\n"
            "                       1.2, which 1.3 does not have here yet) or 1.2\n"
            "%s"
            "  --keylog FILE        append NSS key log lines (for Wireshark; also $SSLKEYLOGFILE)\n"
            "  --timeout MS         handshake / read timeout (default 10000)%s\n"
            "  --verbose, -v        print the handshake on stderr as it happens: messages sent\n"
            "                       (>>>) and received (<<<), retransmissions, alerts, and the\n"
            "                       negotiated version, suite, group, ALPN, CID, resumption\n"
            "  --quiet              print less\n"
            "  --help, -h           this text\n"
            "exit status: 0 done, 1 failed (handshake, read, write%s), 2 bad usage\n",
            o->prog, is_server ? "--listen" : "--connect",
            is_server ? "(--psk HEX | --cert FILE --key FILE)" : "(--psk HEX | --ca FILE | --insecure)",
            is_server ? ""
                      : "  Without --message and --messages, each line of standard input (or what one\n"
                        "  read gives) is sent as a record and what arrives is written to standard\n"
                        "  output (the log lines then go to standard error); end of input sends\n"
                        "  close_notify and exits.\n",
            is_server ? "accepted" : "sent",
            is_server ? "  --hint TEXT          PSK identity hint to send\n"
                        "  --cert FILE          PEM certificate chain, leaf first\n"
                      : "  --cert FILE          PEM certificate chain, leaf first (client authentication)\n",
            is_server ? "  --ca FILE            PEM trust anchors to verify client certificates with\n"
                        "                       (turns on --client-auth require)\n"
                      : "  --ca FILE            PEM trust anchors to verify the server with\n",
            is_server ? "  --client-auth MODE   ask the client for a certificate (certificate suites):\n"
                        "                       none, request (ask, accept none, check nothing),\n"
                        "                       require-any (require one, do not check its chain),\n"
                        "                       verify-if-given (accept none, check a given chain),\n"
                        "                       require (require one and check it against --ca);\n"
                        "                       default: require with --ca, else none\n"
                      : "  --servername NAME    SNI and the name the certificate must carry\n"
                        "  --insecure           accept any server certificate (testing only)\n",
            is_server ? "replies" : "every datagram",
            is_server ? "  --echo               send every record back (the default; with the marking it\n"
                        "                       came with unless --dscp/--ecn are given)\n"
                        "  --print              write what arrives to standard output, send nothing back\n"
                        "                       (the log lines then go to standard error)\n"
                        "  --peers N            exit after N peers have come and gone (default: serve\n"
                        "                       forever)\n"
                        "  --count N            old name of --peers (deprecated)\n"
                        "  --idle-timeout MS    drop peers silent this long (default 300000, 0 = never)\n"
                        "  --dual-stack         with an IPv6 address: also accept IPv4\n"
                      : "  --message TEXT       send TEXT \" #1\", \" #2\"... and wait for each reply\n"
                        "  --messages N         how many (default 3; alone: of \"hello over DTLS\")\n"
                        "  --count N            old name of --messages (deprecated)\n"
                        "  --expect-echo        every record must come back unchanged (else exit 1)\n",
            is_server ? ";\n                       the listener routes datagrams by them" : "",
            is_server ? ""
                      : "  --connections N      connect N times one after another (with --resume:\n"
                        "                       resumed; needs --message or --messages)\n",
            is_server ? "; given, it also bounds\n                       every peer's handshake" : "",
            is_server ? "" : ", --expect-echo");
    fprintf(stderr, "default PSK identity: \"cdtls\"\n");
    list_suites();
}

static void fail(const cli_opts *o, int is_server, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", o->prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(o, is_server);
    exit(2);
}

static int parse_hex(const char *h, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(h);
    if (n == 0 || n % 2 || n / 2 > cap) return 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return 0;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 1;
}

/* "1.2" or "1.3" (also "dtls1.2"...): the wire version; 0 for anything else. */
static uint16_t parse_version(const char *text)
{
    if (strncmp(text, "dtls", 4) == 0 || strncmp(text, "DTLS", 4) == 0) text += 4;
    if (strcmp(text, "1.2") == 0) return CDTLS_VERSION_1_2;
    if (strcmp(text, "1.3") == 0) return CDTLS_VERSION_1_3;
    return 0;
}

static int parse_hostport(const char *text, cdtls_addr *a)
{
    char host[128];
    const char *colon;
    if (text[0] == '[') { /* [v6]:port */
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host) return 0;
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = 0;
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof host) return 0;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = 0;
    }
    char *endp;
    long port = strtol(colon + 1, &endp, 10);
    if (*endp || port < 0 || port > 65535) return 0;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return cdtls_addr_parse(host, (uint16_t)port, a) == CDTLS_OK;
}

static long parse_num(const cli_opts *o, int is_server, const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || x < lo || x > hi) fail(o, is_server, "bad value for %s", flag);
    return x;
}

static uint16_t suite_by_name(const char *name)
{
    for (unsigned id = 0; id <= 0xffff; id++) {
        const char *n = cdtls_cipher_suite_name((uint16_t)id);
        if (n && (strcmp(n, name) == 0 || (strncmp(n, "TLS_", 4) == 0 && strcmp(n + 4, name) == 0)))
            return (uint16_t)id;
    }
    return 0;
}

void cli_parse(cli_opts *o, int argc, char **argv, int is_server)
{
    memset(o, 0, sizeof *o);
    o->prog = argv[0];
    o->timeout_ms = 10000;
    o->idle_timeout_ms = 300000; /* an idle peer must not hold a slot for ever (issue 20) */
    o->count = is_server ? 0 : 3;
    o->client_auth = -1;
    int message_given = 0, messages_given = 0;
    o->connections = 1;
    o->message = "hello over DTLS";
    o->identity = "cdtls";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            usage(o, is_server);
            exit(0);
        } else if (strcmp(f, "--echo") == 0 && is_server) {
            o->echo = 1, takes = 0;
        } else if (strcmp(f, "--print") == 0 && is_server) {
            o->print = 1, takes = 0;
        } else if (strcmp(f, "--cid") == 0) {
            o->cid = 8, takes = 0;
        } else if (strcmp(f, "--verbose") == 0 || strcmp(f, "-v") == 0) {
            o->verbose = 1, takes = 0;
        } else if (strcmp(f, "--expect-echo") == 0 && !is_server) {
            o->expect_echo = 1, takes = 0;
        } else if (strcmp(f, "--quiet") == 0) {
            o->quiet = 1, takes = 0;
        } else if (strcmp(f, "--dual-stack") == 0 && is_server) {
            o->dual_stack = 1, takes = 0;
        } else if (strcmp(f, "--resume") == 0) {
            o->resume = 1, takes = 0;
        } else if (strcmp(f, "--insecure") == 0 && !is_server) {
            o->insecure = 1, takes = 0;
        } else if (!v) {
            fail(o, is_server, "%s needs a value (or is unknown)", f);
        } else if (strcmp(f, is_server ? "--listen" : "--connect") == 0) {
            if (!parse_hostport(v, &o->addr))
                fail(o, is_server, "bad address %s (want IP:PORT or [IPv6]:PORT)", v);
            o->have_addr = 1;
        } else if (strcmp(f, "--psk") == 0) {
            if (!parse_hex(v, o->psk, sizeof o->psk, &o->psk_len))
                fail(o, is_server, "bad --psk %s (want 2..512 hex digits)", v);
        } else if (strcmp(f, "--cert") == 0) {
            o->cert_file = v;
        } else if (strcmp(f, "--key") == 0) {
            o->key_file = v;
        } else if (strcmp(f, "--ca") == 0) {
            o->ca_file = v;
        } else if (strcmp(f, "--servername") == 0 && !is_server) {
            o->server_name = v;
        } else if (strcmp(f, "--identity") == 0) {
            o->identity = v;
        } else if (strcmp(f, "--hint") == 0 && is_server) {
            o->hint = v;
        } else if (strcmp(f, "--suite") == 0) {
            uint16_t id = suite_by_name(v);
            if (!id) fail(o, is_server, "unknown cipher suite %s", v);
            if (o->n_suites == 16) fail(o, is_server, "too many --suite (%s)", v);
            o->suites[o->n_suites++] = id;
        } else if (strcmp(f, "--mtu") == 0) {
            o->mtu = (size_t)parse_num(o, is_server, f, v, 128, 65507);
        } else if (strcmp(f, "--dscp") == 0) {
            o->mark.flags |= CDTLS_OOB_DSCP;
            o->mark.dscp = (uint8_t)parse_num(o, is_server, f, v, 0, 63);
        } else if (strcmp(f, "--ecn") == 0) {
            static const char *const names[4] = {"not-ect", "ect1", "ect0", "ce"};
            int e = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(v, names[k]) == 0) e = k;
            if (e < 0) fail(o, is_server, "bad --ecn %s (not-ect, ect0, ect1, ce)", v);
            o->mark.flags |= CDTLS_OOB_ECN;
            o->mark.ecn = (uint8_t)e;
        } else if (strcmp(f, "--count") == 0 || strcmp(f, is_server ? "--peers" : "--messages") == 0) {
            if (strcmp(f, "--count") == 0)
                fprintf(stderr, "%s: warning: --count is deprecated, use %s\n", o->prog,
                        is_server ? "--peers" : "--messages");
            o->count = (int)parse_num(o, is_server, f, v, 0, 1000000);
            messages_given = 1;
        } else if (strcmp(f, "--client-auth") == 0 && is_server) {
            static const char *const modes[5] = {"none", "request", "require-any", "verify-if-given",
                                                 "require"};
            o->client_auth = -1;
            for (int k = 0; k < 5; k++)
                if (strcmp(v, modes[k]) == 0) o->client_auth = k;
            if (strcmp(v, "require-and-verify") == 0) o->client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
            if (o->client_auth < 0)
                fail(o, is_server,
                     "bad --client-auth %s (none, request, require-any, verify-if-given, require)", v);
        } else if (strcmp(f, "--connections") == 0 && !is_server) {
            o->connections = (int)parse_num(o, is_server, f, v, 1, 100000);
        } else if (strcmp(f, "--message") == 0 && !is_server) {
            o->message = v;
            message_given = 1;
        } else if (strcmp(f, "--keylog") == 0) {
            o->keylog_file = v;
        } else if (strcmp(f, "--alpn") == 0) {
            if (strlen(v) >= sizeof o->alpn_buf) fail(o, is_server, "--alpn list too long (%s)", v);
            strcpy(o->alpn_buf, v);
            o->n_alpn = 0;
            for (char *tok = strtok(o->alpn_buf, ","); tok && o->n_alpn < 16; tok = strtok(NULL, ","))
                o->alpn[o->n_alpn++] = tok;
        } else if (strcmp(f, "--min-version") == 0 || strcmp(f, "--max-version") == 0) {
            uint16_t ver = parse_version(v);
            if (!ver) fail(o, is_server, "unknown DTLS version %s (want 1.2 or 1.3)", v);
            if (f[2] == 'm' && f[3] == 'i')
                o->min_version = ver;
            else
                o->max_version = ver;
        } else if (strcmp(f, "--timeout") == 0) {
            o->timeout_ms = (int)parse_num(o, is_server, f, v, 1, 3600000);
            o->timeout_given = 1;
        } else if (is_server && strcmp(f, "--idle-timeout") == 0) {
            o->idle_timeout_ms = (uint32_t)parse_num(o, is_server, f, v, 0, 86400000);
        } else {
            fail(o, is_server, "unknown option %s", f);
        }
        i += takes;
    }
    if (!o->keylog_file) {
        const char *env = getenv("SSLKEYLOGFILE");
        if (env && *env) o->keylog_file = env;
    }
    if (!o->have_addr)
        fail(o, is_server, "%s",
             is_server ? "--listen ADDR:PORT is required" : "--connect ADDR:PORT is required");
    if (!o->psk_len && !(is_server ? (o->cert_file && o->key_file) : (o->ca_file || o->insecure)))
        fail(o, is_server, "%s",
             is_server ? "--psk or --cert and --key are required" : "--psk, --ca or --insecure is required");
    if (!!o->cert_file != !!o->key_file) fail(o, is_server, "%s", "--cert and --key go together");
    if (is_server) {
        if (o->print && o->echo) fail(o, is_server, "%s", "--print and --echo exclude each other");
        o->echo = !o->print; /* echo unless --print */
        if (o->client_auth >= 0 && o->client_auth != CDTLS_CLIENT_AUTH_NONE && !o->cert_file)
            fail(o, is_server, "%s", "--client-auth needs --cert and --key (certificate suites only)");
        if (o->client_auth < 0) /* --ca means checking the client with it */
            o->client_auth = o->ca_file ? CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY : CDTLS_CLIENT_AUTH_NONE;
        if ((o->client_auth == CDTLS_CLIENT_AUTH_VERIFY_IF_GIVEN ||
             o->client_auth == CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY) &&
            !o->ca_file)
            fail(o, is_server, "%s", "--client-auth verify-if-given and require need --ca");
    } else {
        o->stdin_mode = !message_given && !messages_given;
        if (o->stdin_mode && o->connections > 1)
            fail(o, is_server, "%s",
                 "--connections needs --message or --messages (standard input is read once)");
    }
}

static size_t read_all(const cli_opts *o, const char *file, char *buf, size_t cap)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot read %s\n", o->prog, file);
        exit(2);
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* All CERTIFICATE blocks of a PEM file, as DER copies. */
static size_t load_pem_certs(const cli_opts *o, const char *file, uint8_t **der, size_t *len, size_t max)
{
    static char text[65536];
    size_t n = read_all(o, file, text, sizeof text), off = 0, count = 0, used;
    uint8_t buf[16384];
    size_t dl;
    while (count < max &&
           cdtls_pem_decode(text + off, n - off, "CERTIFICATE", buf, sizeof buf, &dl, &used) == CDTLS_OK) {
        der[count] = malloc(dl);
        if (!der[count]) exit(1);
        memcpy(der[count], buf, dl);
        len[count++] = dl;
        off += used;
    }
    if (!count) {
        fprintf(stderr, "%s: no certificate in %s\n", o->prog, file);
        exit(2);
    }
    return count;
}

static void load_certificates(cli_opts *o)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (o->cert_file) {
        o->n_certs = load_pem_certs(o, o->cert_file, o->cert_der, o->cert_len, 8);
        static char keytext[65536];
        size_t kn = read_all(o, o->key_file, keytext, sizeof keytext);
        int rc = cdtls_private_key_load(p, NULL, (const uint8_t *)keytext, kn, &o->key);
        if (rc) {
            fprintf(stderr, "%s: cannot use key %s: %s\n", o->prog, o->key_file, cdtls_strerror(rc));
            exit(2);
        }
    }
    if (o->ca_file) {
        o->n_anchors = load_pem_certs(o, o->ca_file, o->anchor_der, o->anchor_len, 16);
        for (size_t i = 0; i < o->n_anchors; i++) {
            int rc = cdtls_x509_parse(o->anchor_der[i], o->anchor_len[i], &o->anchors[i]);
            if (rc) {
                fprintf(stderr, "%s: certificate %zu in %s: %s\n", o->prog, i + 1, o->ca_file,
                        cdtls_strerror(rc));
                exit(2);
            }
        }
    }
}

/* Appends one NSS key log line (ctx: the file name). */
static void keylog_append(void *ctx, const char *line)
{
    FILE *f = fopen((const char *)ctx, "a");
    if (!f) return;
    fprintf(f, "%s\n", line);
    fclose(f);
}

/* The tools' session storage: a program-wide store is what a real
 * application keeps too (the library itself has no globals). */
static cdtls_session_cache session_cache;
static cdtls_session_cache_entry session_entries[256];
static cdtls_ticket_keys ticket_keys;

void cli_config(cli_opts *o, cdtls_config *cfg)
{
    load_certificates(o);
    cdtls_config_init(cfg);
    cfg->psk.key = o->psk;
    cfg->psk.key_len = o->psk_len;
    cfg->psk.identity = (const uint8_t *)o->identity;
    cfg->psk.identity_len = strlen(o->identity);
    if (o->hint) {
        cfg->psk.hint = (const uint8_t *)o->hint;
        cfg->psk.hint_len = strlen(o->hint);
    }
    if (o->n_suites) {
        cfg->negotiate.cipher_suites = o->suites;
        cfg->negotiate.n_cipher_suites = o->n_suites;
    }
    if (o->mtu) cfg->mtu = o->mtu;
    if (o->n_certs) {
        cfg->credentials.chain = (const uint8_t *const *)o->cert_der;
        cfg->credentials.chain_len = o->cert_len;
        cfg->credentials.n_certs = o->n_certs;
        cfg->credentials.private_key = o->key;
    }
    cfg->verify.trust_anchors = o->n_anchors ? o->anchors : NULL;
    cfg->verify.n_trust_anchors = o->n_anchors;
    cfg->server_name = o->server_name;
    cfg->verify.insecure_skip_verify = o->insecure;
    /* handshake flights and alerts carry the same marking as the data */
    cfg->oob.handshake = o->mark;
    cfg->oob.alert = o->mark;
    if (o->keylog_file) {
        cfg->callbacks.keylog = keylog_append;
        cfg->callbacks.user = (void *)(uintptr_t)o->keylog_file;
    }
    if (o->n_alpn) {
        cfg->alpn.protocols = o->alpn;
        cfg->alpn.n_protocols = o->n_alpn;
    }
    cfg->listener.idle_timeout_ms = o->idle_timeout_ms;
    if (o->cid) cfg->cid.length = (size_t)o->cid;
    /* 0: the library's defaults (1.2 lowest, 1.3 highest: a client offers
     * both, a server picks the highest both speak; a configuration with
     * what the library's 1.3 lacks, --cid, speaks 1.2,
     * docs/dtls13.md) */
    cfg->versions.min = o->min_version;
    cfg->versions.max = o->max_version;
    if (o->client_auth > 0) cfg->verify.client_auth = (cdtls_client_auth)o->client_auth;
    if (o->resume) {
        cfg->resumption.store = cdtls_session_cache_init(&session_cache, session_entries,
                                                         sizeof session_entries / sizeof session_entries[0]);
        cfg->resumption.tickets = 1;
        /* a server's ticket keys rotate hourly (tickets then live 2-3 h;
         * sessions are refused after cfg->resumption.lifetime_ms anyway) */
        if (cdtls_ticket_keys_init(&ticket_keys, NULL, 3600u * 1000u, cdtls_io_now_ms()) == CDTLS_OK)
            cfg->resumption.ticket_keys = &ticket_keys;
        cfg->resumption.lifetime_ms = 2u * 3600u * 1000u;
    }
}

void cli_free(cli_opts *o)
{
    for (size_t i = 0; i < o->n_certs; i++) free(o->cert_der[i]);
    for (size_t i = 0; i < o->n_anchors; i++) free(o->anchor_der[i]);
    o->n_certs = o->n_anchors = 0;
    const cdtls_provider *p = cdtls_provider_default();
    if (o->key && p->sign_key_free)
        p->sign_key_free(cdtls_allocator_libc(), o->key); /* loaded with the default allocator */
    o->key = NULL;
}

void cli_format_oob(const cdtls_oob *oob, char *buf, size_t cap)
{
    static const char *const ecn[4] = {"Not-ECT", "ECT(1)", "ECT(0)", "CE"};
    static const char *const phb[64] = {[0] = "BE",    [8] = "CS1",   [10] = "AF11", [18] = "AF21",
                                        [26] = "AF31", [34] = "AF41", [46] = "EF",   [48] = "CS6"};
    if (!(oob->flags & (CDTLS_OOB_DSCP | CDTLS_OOB_ECN))) {
        snprintf(buf, cap, "(no DSCP/ECN reported)");
        return;
    }
    snprintf(buf, cap, "dscp=%u%s%s%s ecn=%s", oob->dscp, phb[oob->dscp & 63] ? " (" : "",
             phb[oob->dscp & 63] ? phb[oob->dscp & 63] : "", phb[oob->dscp & 63] ? ")" : "",
             ecn[oob->ecn & 3]);
}

const char *cli_caps_string(unsigned caps, char *buf, size_t cap)
{
    snprintf(buf, cap, "send[dscp:%s ecn:%s src:%s ttl:%s] recv[dscp:%s ecn:%s dst:%s if:%s ttl:%s]",
             caps & CDTLS_IO_CAP_SEND_DSCP ? "yes" : "no", caps & CDTLS_IO_CAP_SEND_ECN ? "yes" : "no",
             caps & CDTLS_IO_CAP_SEND_LOCAL_ADDR ? "yes" : "no", caps & CDTLS_IO_CAP_SEND_TTL ? "yes" : "no",
             caps & CDTLS_IO_CAP_RECV_DSCP ? "yes" : "no", caps & CDTLS_IO_CAP_RECV_ECN ? "yes" : "no",
             caps & CDTLS_IO_CAP_RECV_LOCAL_ADDR ? "yes" : "no",
             caps & CDTLS_IO_CAP_RECV_IFINDEX ? "yes" : "no", caps & CDTLS_IO_CAP_RECV_TTL ? "yes" : "no");
    return buf;
}

/* ------------------------------------------------------- handshake trace */

void cli_hex(const uint8_t *b, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && k + 3 <= cap; i++, k += 2) snprintf(out + k, cap - k, "%02x", b[i]);
}

void cli_trace_reset(cli_hs_trace *t, const void *conn)
{
    memset(t, 0, sizeof *t);
    t->conn = conn;
    t->rx_type = t->tx_type = t->alert_sent = t->alert_received = -1;
}

void cli_trace_event(cli_hs_trace *t, const cdtls_event *ev)
{
    switch (ev->kind) {
    case CDTLS_EVENT_HANDSHAKE_RECEIVED:
        t->rx_type = ev->hs_type;
        t->rx_len = ev->length;
        if (ev->hs_type == 3) t->hvr_sent = 1;
        if (ev->hs_type == 13) t->cert_requested = 1;
        break;
    case CDTLS_EVENT_ACK_RECEIVED: t->acked = 1; break;
    case CDTLS_EVENT_HANDSHAKE_SENT: t->tx_type = ev->hs_type; break;
    case CDTLS_EVENT_ALERT_SENT: t->alert_sent = ev->alert_desc; break;
    case CDTLS_EVENT_ALERT_RECEIVED: t->alert_received = ev->alert_desc; break;
    default: break;
    }
}

void cli_failure_reason(int err, const cli_hs_trace *t, char *buf, size_t cap)
{
    const char *why = cdtls_strerror(err);
    char extra[160] = "";
    if (err == CDTLS_ERR_PEER_ALERT && t->alert_received >= 0) {
        snprintf(extra, sizeof extra, "the peer sent alert %s", cdtls_alert_name((uint8_t)t->alert_received));
        why = extra;
    } else if (err == CDTLS_ERR_HANDSHAKE_TIMEOUT || err == CDTLS_ERR_TIMEOUT) {
        if (t->rx_type < 0)
            snprintf(extra, sizeof extra,
                     "handshake timed out: nothing came back (a dropped hello, or no DTLS "
                     "server there)");
        else if (t->tx_type == 20 || t->rx_type == 16)
            /* our Finished went out (or the client's key exchange came in) and
             * no Finished authenticated: records under the wrong keys are
             * dropped silently (RFC 6347 §4.1.2.7), so a wrong PSK looks so */
            snprintf(extra, sizeof extra,
                     "handshake timed out after %s: no Finished from the peer authenticated (a wrong "
                     "PSK, or a dropped flight?)",
                     cdtls_handshake_type_name((uint8_t)t->rx_type));
        else
            snprintf(extra, sizeof extra,
                     "handshake timed out after %s: the peer stopped answering (a dropped "
                     "flight?)",
                     cdtls_handshake_type_name((uint8_t)t->rx_type));
        why = extra;
    } else if (t->rx_type == 11 &&
               ((t->rx_len == 3 && t->alert_sent == 40) || (t->rx_len == 4 && t->alert_sent == 116))) {
        /* an empty Certificate where one is required: 1.2 (RFC 5246 §7.4.6,
         * handshake_failure) or 1.3 (empty context and list, RFC 8446
         * §4.4.2.4, certificate_required) */
        why = "the client sent no certificate and one is required (--client-auth)";
    } else if (err == CDTLS_ERR_BAD_FINISHED && t->rx_type == 1 && t->tx_type < 0) {
        /* DTLS 1.3: the ClientHello's PSK binder did not verify (RFC 8446
         * §4.2.11): the identity is ours, the key is not */
        why = "the client's PSK binder does not verify: a wrong PSK";
    } else if (err == CDTLS_ERR_HANDSHAKE_FAILURE && t->rx_type == 1 && t->tx_type < 0) {
        why = "no cipher suite in common (or no group, or the extended master secret refused)";
    } else if (err <= CDTLS_ERR_DER && err >= CDTLS_ERR_CERT_REJECTED) {
        snprintf(extra, sizeof extra, "bad certificate: %s", cdtls_strerror(err));
        why = extra;
    }
    if (t->alert_sent >= 0 && err != CDTLS_ERR_PEER_ALERT)
        snprintf(buf, cap, "%s (sent alert %s)", why, cdtls_alert_name((uint8_t)t->alert_sent));
    else
        snprintf(buf, cap, "%s", why);
}

void cli_print_event(const char *who, const char *peer, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)c;
    char pre[96];
    snprintf(pre, sizeof pre, "%s:%s%s", who, peer ? " " : "", peer ? peer : "");
    switch (ev->kind) {
    case CDTLS_EVENT_HANDSHAKE_SENT:
    case CDTLS_EVENT_HANDSHAKE_RECEIVED:
        fprintf(stderr, "%s %s %s (message_seq %u, %u bytes)\n", pre,
                ev->kind == CDTLS_EVENT_HANDSHAKE_SENT ? ">>>" : "<<<", cdtls_event_message_name(ev),
                (unsigned)ev->message_seq, (unsigned)ev->length);
        break;
    case CDTLS_EVENT_ACK_SENT:
    case CDTLS_EVENT_ACK_RECEIVED:
        fprintf(stderr, "%s %s ACK (%u record%s)\n", pre, ev->kind == CDTLS_EVENT_ACK_SENT ? ">>>" : "<<<",
                ev->ack_records, ev->ack_records == 1 ? "" : "s");
        break;
    case CDTLS_EVENT_CCS_SENT: fprintf(stderr, "%s >>> ChangeCipherSpec\n", pre); break;
    case CDTLS_EVENT_CCS_RECEIVED: fprintf(stderr, "%s <<< ChangeCipherSpec\n", pre); break;
    case CDTLS_EVENT_RETRANSMIT:
        fprintf(stderr, "%s retransmitting the last flight (%s, #%u, next timeout %u ms)\n", pre,
                ev->by_timer ? "timer expired" : "the peer retransmitted", ev->retransmits,
                (unsigned)ev->timeout_ms);
        break;
    case CDTLS_EVENT_ALERT_SENT:
    case CDTLS_EVENT_ALERT_RECEIVED:
        fprintf(stderr, "%s %s alert %s %s\n", pre, ev->kind == CDTLS_EVENT_ALERT_SENT ? ">>>" : "<<<",
                ev->alert_level == 2 ? "fatal" : "warning", cdtls_alert_name(ev->alert_desc));
        break;
    case CDTLS_EVENT_ESTABLISHED: cli_print_established(who, peer, c, ev); break;
    case CDTLS_EVENT_FAILED:
        /* "connection", not "handshake": in 1.3 a client is established
         * before the server has judged its flight, and a refusal (no
         * certificate, a bad one) comes after "handshake done" */
        fprintf(stderr, "%s connection failed: %s\n", pre, cdtls_strerror(ev->error));
        break;
    case CDTLS_EVENT_HELLO_VERIFY_SENT:
        /* the listener's stateless cookie check answered before any
         * connection: a HelloVerifyRequest, or for a 1.3 hello a
         * HelloRetryRequest with a cookie (RFC 9147 §5.1) */
        fprintf(stderr, "%s >>> HelloVerifyRequest/HelloRetryRequest (stateless cookie)\n", pre);
        break;
    case CDTLS_EVENT_EVICTED: fprintf(stderr, "%s handshake evicted (too many in progress)\n", pre); break;
    case CDTLS_EVENT_IDLE: fprintf(stderr, "%s idle too long\n", pre); break;
    default: break;
    }
}

const char *cli_version_name(uint16_t version)
{
    switch (version) {
    case CDTLS_VERSION_1_2: return "DTLS 1.2";
    case CDTLS_VERSION_1_3: return "DTLS 1.3";
    default: return "DTLS (unknown version)";
    }
}

void cli_print_established(const char *who, const char *peer, const cdtls_conn *c, const cdtls_event *ev)
{
    char pre[96];
    snprintf(pre, sizeof pre, "%s:%s%s", who, peer ? " " : "", peer ? peer : "");
    size_t alpn_len = 0, own_len = 0, peer_len = 0;
    const uint8_t *alpn = cdtls_conn_alpn(c, &alpn_len);
    char own[2 * CDTLS_MAX_CID_LEN + 1] = "", theirs[2 * CDTLS_MAX_CID_LEN + 1] = "";
    if (cdtls_conn_uses_cid(c)) {
        const uint8_t *o = cdtls_conn_own_cid(c, &own_len), *p = cdtls_conn_peer_cid(c, &peer_len);
        cli_hex(o, own_len, own, sizeof own);
        cli_hex(p, peer_len, theirs, sizeof theirs);
    }
    fprintf(stderr,
            "%s handshake done: %s, %s, group %s, ALPN %.*s, CID %s%s%s%s%s, %s, extended master secret %s\n",
            pre, cli_version_name(ev->version), cdtls_cipher_suite_name(cdtls_conn_cipher_suite(c)),
            ev->group_name ? ev->group_name : "none", alpn ? (int)alpn_len : 4,
            alpn ? (const char *)alpn : "none", cdtls_conn_uses_cid(c) ? "ours " : "none",
            cdtls_conn_uses_cid(c) ? (own_len ? own : "(empty)") : "",
            cdtls_conn_uses_cid(c) ? " peer's " : "",
            cdtls_conn_uses_cid(c) ? (peer_len ? theirs : "(empty)") : "", "",
            cdtls_conn_resumed(c) ? "resumed session" : "new session",
            ev->version == CDTLS_VERSION_1_3 ? "n/a (1.3)" /* RFC 8446 §7.1 binds the transcript */
            : cdtls_conn_uses_ems(c)         ? "yes"
                                             : "no");
}
