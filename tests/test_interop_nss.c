#define _POSIX_C_SOURCE 200809L
/* Interop with NSS (Debian libnss3-tools 3.87: tstclnt over DTLS, `-P`),
 * a DTLS 1.3 + 1.2 stack of another lineage than pion's. tstclnt as a DTLS
 * client offering 1.2-1.3 (`-V tls1.2:tls1.3`: NSS 3.87 sends
 * supported_versions {0x7f2b (DTLS 1.3 draft 43), 0xfefd}, an X25519 key
 * share and the TLS 1.3 suites first) against OUR LISTENER must settle on
 * DTLS 1.2 and verify our certificate chain against our test root in an
 * NSS database made here with certutil; tstclnt with `-P server` (it binds the -h/-p
 * address, waits for a datagram, then takes the server's side of the
 * handshake) serves our client. Issue 14. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"
#include "interop_listener.h"
#include "test_util.h"
#include "udp_driver.h"

static char certs[64];
static char nssdir[200]; /* the NSS database's directory */
static char nssdb[220];  /* "sql:DIR": the NSS database (certutil -N) */

static int have(const char *prog)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s > /dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* The certificates, and an NSS database trusting our test root (for
 * tstclnt as client) and holding our ECDSA leaf with its key and chain
 * (for tstclnt as server, nickname cdtls-leaf, via PKCS#12). Skips come
 * first: a test skipped after this would leave the directory behind
 * (Criterion runs no .fini for it).
 * NSS 3.87 has no Ed25519 in TLS (signature scheme 0x0807) and no DTLS 1.2
 * PSK suites, so a build that signs and verifies only Ed25519 (libsodium)
 * has nothing to say to it. */
static void setup(void)
{
    if (!have("tstclnt") || !have("certutil") || !have("pk12util"))
        cr_skip_test("no NSS tools (tstclnt, certutil, pk12util: Debian libnss3-tools)");
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->sig[CDTLS_SIG_ECDSA_SHA256] ||
        !cdtls_cipher_suite_supported(p, CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))
        cr_skip_test("provider %s signs and verifies Ed25519 only (no ECDSA), and NSS 3.87 has no Ed25519",
                     p->name);
    test_certs_make(certs, sizeof certs, "nss");
    /* a database of this process's own: the certificates directory may be
     * shared by every test of a run (CDTLS_TEST_CERTS, the cross runs) */
    snprintf(nssdir, sizeof nssdir, "%s/nssdb-%ld", certs, (long)getpid());
    snprintf(nssdb, sizeof nssdb, "sql:%s", nssdir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -rf %s && mkdir %s && certutil -N -d %s --empty-password"
             " && certutil -A -d %s -n cdtls-root -t C,, -i root.pem"
             " && openssl pkcs12 -export -in leaf.pem -inkey leaf.key -certfile int.pem -name cdtls-leaf"
             " -out %s/leaf.p12 -passout pass: && pk12util -i %s/leaf.p12 -d %s -W '' > /dev/null",
             certs, nssdir, nssdir, nssdb, nssdb, nssdir, nssdir,
             nssdb); /* the p12 in this process's directory */
    cr_assert_eq(system(cmd), 0, "making the NSS database failed: %s", cmd);
}

static void teardown(void)
{
    if (nssdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", nssdir);
        (void)system(cmd);
    }
    if (certs[0]) test_certs_remove(certs);
}

TestSuite(interop_nss, .init = setup, .fini = teardown, .timeout = 60);

static void start_tstclnt(child *ch, const char *role, uint16_t port, const char *versions)
{
    static char port_arg[8];
    snprintf(port_arg, sizeof port_arg, "%u", port);
    char *argv[24];
    size_t n = 0;
    argv[n++] = "tstclnt";
    argv[n++] = "-h", argv[n++] = "127.0.0.1";
    argv[n++] = "-p", argv[n++] = port_arg;
    argv[n++] = "-d", argv[n++] = nssdb;
    argv[n++] = "-V", argv[n++] = (char *)versions;
    argv[n++] = "-P", argv[n++] = (char *)role;
    if (strcmp(role, "client") == 0) {
        argv[n++] = "-a", argv[n++] = "server.example.com"; /* SNI and the name checked */
    } else {
        argv[n++] = "-n", argv[n++] = "cdtls-leaf";
    }
    argv[n] = NULL;
    cr_assert_eq(child_start(ch, argv), 0);
}

/* tstclnt -P client, DTLS 1.2-1.3, against our listener: it verifies our
 * chain (against the root in its database, for server.example.com), sends
 * a line from its stdin, prints our echo. */
Test(interop_nss, client_offering_13_vs_listener)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    child cli;
    start_tstclnt(&cli, "client", port, "tls1.2:tls1.3");
    cr_assert_eq(child_write(&cli, "ping-from-nss\n"), 0);
    uint16_t suite = 0;
    listener_echo_once(l, &cli, "ping-from-nss\n", 10000, &suite);
    cr_assert_eq(suite, id.suite);
    /* tstclnt prints the chain it verified, then what it read */
    cr_assert(child_output_contains(&cli, "subject DN: CN=server.example.com", 3000));
    int echoed = child_output_contains(&cli, "ping-from-nss", 3000);
    if (!echoed) child_stop(&cli, 1);
    cr_assert(echoed, "tstclnt printed our echo");
    child_stop(&cli, 0);
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* tstclnt offering DTLS 1.3 only: we speak 1.2, so no handshake may
 * complete; the listener must not hand out a connection. */
Test(interop_nss, client_13_only_is_refused)
{
    served_identity id;
    served_identity_load(&id, certs);
    cdtls_config cfg;
    served_identity_config(&id, &cfg);
    uint16_t port;
    cdtls_listener *l = listener_on_loopback(&cfg, &port);
    child cli;
    start_tstclnt(&cli, "client", port, "tls1.3:tls1.3");
    cr_assert_eq(child_write(&cli, "ping-from-nss\n"), 0);
    /* serve the listener until tstclnt gives up with an NSS error (it
     * reports SSL_ERROR_NO_CYPHER_OVERLAP: nothing of 1.3 came back);
     * no connection may come out of it meanwhile */
    int said = 0;
    for (int round = 0; round < 25 && !said; round++) {
        cdtls_sock *s = NULL;
        int rc = cdtls_listener_accept(l, 200, &s);
        if (rc == CDTLS_OK) cdtls_sock_close(s);
        cr_assert_neq(rc, CDTLS_OK, "a DTLS 1.3-only client got a connection from a 1.2 listener");
        said = child_output_contains(&cli, "SSL_ERROR_", 0);
    }
    child_stop(&cli, !said);
    cr_assert(said, "tstclnt reported no handshake failure");
    cdtls_listener_close(l);
    served_identity_free(&id);
}

/* Whether a UDP socket is bound to 127.0.0.1:port, from /proc/net/udp,
 * waiting up to wait_ms: tstclnt -P server binds the -p address only after
 * loading its database, and says nothing when it has. Linux only. */
static int udp_port_bound(uint16_t port, int wait_ms)
{
    char want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    for (int waited = 0; waited <= wait_ms; waited += 50) {
        FILE *f = fopen("/proc/net/udp", "r");
        if (!f) return 0;
        char line[512], local[64];
        int found = 0;
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, " %*d: %63s", local) == 1 && strcmp(local, want) == 0;
        fclose(f);
        if (found) return 1;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* tstclnt -P server (DTLS 1.2-1.3, our ECDSA chain from its database)
 * against our client: the handshake completes on 1.2 with our chain
 * verified; tstclnt prints the line we send and sends what its stdin
 * gives it, which we read. */
Test(interop_nss, server_vs_our_client)
{
    served_identity id;
    served_identity_load(&id, certs);
    if (access("/proc/net/udp", R_OK) != 0) cr_skip_test("no /proc/net/udp to find tstclnt's port");
    uint16_t nss_port = udp_free_port();
    child srv;
    start_tstclnt(&srv, "server", nss_port, "tls1.2:tls1.3");
    int bound = udp_port_bound(nss_port, 5000);
    if (!bound) child_stop(&srv, 1);
    cr_assert(bound, "tstclnt -P server did not bind 127.0.0.1:%u", nss_port);
    int fd = udp_open(0, NULL);
    cr_assert(fd >= 0);

    char root_path[160];
    snprintf(root_path, sizeof root_path, "%s/%s", certs, id.root_der);
    uint8_t root[4096];
    FILE *f = fopen(root_path, "rb");
    cr_assert_not_null(f);
    size_t rn = fread(root, 1, sizeof root, f);
    fclose(f);
    cdtls_x509_cert anchor;
    cr_assert_eq(cdtls_x509_parse(root, rn, &anchor), CDTLS_OK);
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.verify.trust_anchors = &anchor, cfg.verify.n_trust_anchors = 1;
    cfg.server_name = "server.example.com";
    cfg.callbacks.unix_time = wall_clock;
    udp_peer u = {.fd = fd, .have_peer = 1};
    u.peer.sin_family = AF_INET;
    u.peer.sin_port = htons(nss_port);
    u.peer.sin_addr.s_addr = htonl(0x7f000001u);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, udp_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, udp_now_ms()), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(&srv, 1);
    cr_assert_eq(ok, 1, "handshake with tstclnt -P server: %s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_cipher_suite(c), id.suite);

    const char *ping = "ping-from-cdtls";
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)ping, strlen(ping), NULL), CDTLS_OK);
    udp_flush(c, &u);
    int seen = child_output_contains(&srv, ping, 5000);
    if (!seen) child_stop(&srv, 1);
    cr_assert(seen, "tstclnt printed our line");
    cr_assert_eq(child_write(&srv, "pong-from-nss\n"), 0);
    uint8_t buf[128];
    size_t n = 0;
    int rc = udp_read(c, &u, buf, sizeof buf, &n, 5000);
    if (rc != CDTLS_OK) child_stop(&srv, 1);
    cr_assert_eq(rc, CDTLS_OK, "tstclnt's line: %s", cdtls_strerror(rc));
    cr_assert(n == 14 && memcmp(buf, "pong-from-nss\n", 14) == 0, "got \"%.*s\"", (int)n, buf);
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    close(fd);
    child_stop(&srv, 0);
    served_identity_free(&id);
}
