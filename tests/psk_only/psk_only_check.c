/* The PSK-only build (CDTLS_PSK_ONLY, as in the firmware image) on the
 * host: scripts/psk-only-check.sh compiles the core WITHOUT src/x509 and
 * with BearSSL's PSK/CCM_8 table, links this program (a link error would
 * mean the engine still needs X.509), and runs it:
 *   - a TLS_PSK_WITH_AES_128_CCM_8 handshake over a lossy simulated link,
 *     fragmented at MTU 200, and data both ways;
 *   - a certificate configuration is refused: conn_new with a certificate
 *     fails, and a client that only has trust anchors offers nothing.
 * Plain C (no Criterion): it prints "psk-only: N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "sim_link.h"

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("  %-60s %s\n", what, ok ? "ok" : "FAILED");
    if (ok)
        passed++;
    else
        failed++;
}

/* Counts live and peak heap bytes (what a firmware arena must hold). */
static size_t live, peak, total;

static void *count_alloc(void *ctx, size_t n)
{
    (void)ctx;
    void *p = malloc(n);
    if (p) {
        live += n;
        total += n;
        if (live > peak) peak = live;
    }
    return p;
}

static void count_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p) live -= n;
    free(p);
}

static const cdtls_allocator counting = {count_alloc, count_free, NULL};

static const uint8_t psk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint16_t suite[] = {CDTLS_PSK_WITH_AES_128_CCM_8};

static void psk_config(cdtls_config *c)
{
    cdtls_config_init(c);
    c->provider = cdtls_provider_bearssl_psk_ccm8();
    c->negotiate.cipher_suites = suite;
    c->negotiate.n_cipher_suites = 1;
    c->psk.key = psk;
    c->psk.key_len = sizeof psk;
    c->psk.identity = (const uint8_t *)"node-7";
    c->psk.identity_len = 6;
    c->mtu = 200;
    c->allocator = &counting;
}

int main(void)
{
    cdtls_config cc, sc;
    psk_config(&cc);
    psk_config(&sc);
    sim_link s;
    sim_impair imp = {20, 5, 10, 7};
    int rc = sim_init(&s, &cc, &sc, &imp);
    check(rc == CDTLS_OK, "client and server made");
    if (rc == CDTLS_OK) {
        check(sim_run_handshake(&s, 120000), "PSK-AES128-CCM8 handshake over a 20% lossy link");
        check(cdtls_conn_cipher_suite(s.client) == CDTLS_PSK_WITH_AES_128_CCM_8, "suite is PSK-AES128-CCM8");
        check(s.max_dgram[0] <= 200 && s.max_dgram[1] <= 200, "datagrams fit the 200-byte MTU");
        const uint8_t msg[] = "telemetry";
        uint8_t back[64];
        size_t n = 0;
        int ok = cdtls_conn_write(s.client, msg, sizeof msg - 1, NULL) == CDTLS_OK;
        uint8_t d[2048];
        size_t dn;
        while (ok && cdtls_conn_next_datagram(s.client, d, sizeof d, &dn, NULL) == CDTLS_OK)
            (void)cdtls_conn_recv(s.server, d, dn, NULL, s.now_ms);
        ok = ok && cdtls_conn_read(s.server, back, sizeof back, &n, NULL) == CDTLS_OK;
        check(ok && n == sizeof msg - 1 && memcmp(back, msg, n) == 0, "application data arrives");
        sim_free(&s);
        check(live == 0, "every byte freed");
        printf("psk-only: heap for a client and a server: peak %zu bytes, %zu allocated in all\n", peak,
               total);
    }
    /* A certificate is refused: this build has no X.509. */
    static const uint8_t fake_der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    const uint8_t *chain[1] = {fake_der};
    size_t lens[1] = {sizeof fake_der};
    cdtls_config cert;
    psk_config(&cert);
    cert.credentials.chain = chain;
    cert.credentials.chain_len = lens;
    cert.credentials.n_certs = 1;
    cert.credentials.private_key = (const cdtls_sign_key *)fake_der; /* never used: refused first */
    cdtls_conn *c = NULL;
    check(cdtls_conn_new(&cert, CDTLS_SERVER, 0, &c) == CDTLS_ERR_UNSUPPORTED && c == NULL,
          "a certificate configuration is refused (UNSUPPORTED)");
    /* A client set up only for certificate suites has nothing to offer. */
    cdtls_config anchors_only;
    cdtls_config_init(&anchors_only);
    anchors_only.provider = cdtls_provider_bearssl_psk_ccm8();
    anchors_only.verify.insecure_skip_verify = 1;
    rc = cdtls_conn_new(&anchors_only, CDTLS_CLIENT, 0, &c);
    if (rc == CDTLS_OK) {
        rc = cdtls_conn_start(c, 0);
        cdtls_conn_free(c);
    }
    check(rc != CDTLS_OK, "a certificate-only client cannot start");
    printf("psk-only: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
