/* X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) in the DTLS 1.3 handshake,
 * our client against our server in memory (docs/pq.md): the client lists
 * the hybrid first and keeps its first hello to one datagram: both shares
 * when they fit (MTU 1472), the hybrid's alone when only it fits, else the
 * X25519 share (MTU 1200), the hybrid's coming by HelloRetryRequest; with
 * the hybrid as its only group, a fragmented first hello; the server takes
 * the hybrid when its
 * preference leads with it, by HelloRetryRequest when the client sent no
 * share for it (stateful and stateless cookie paths); a server without the
 * KEM (a provider table copy with kem[] = NULL) takes X25519, by
 * HelloRetryRequest when the client sent the hybrid share alone; shares of
 * the wrong length are illegal_parameter, either way. The KEM parts skip on
 * providers without ML-KEM-768 (bearssl, openssl), saying so. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/conn.h"
#include "common/dtls.h"
#include "engine/hs13_internal.h"
#include "test_util.h"

#if !CDTLS_HAVE_DTLS13
/* -Ddtls13=false (CDTLS_NO_DTLS13): the hybrid group exists only in 1.3 */
Test(pq13, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

#define HYB CDTLS_GROUP_X25519MLKEM768
#define X25519 0x001du
#define ALERT_ILLEGAL_PARAMETER_DESC 47

static const uint8_t psk[] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                              0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static const char psk_id[] = "cdtls13-pq";

/* The provider's ML-KEM-768, or a skip that says why there is none. */
static void need_kem(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->kem[CDTLS_KEM_MLKEM768]) {
        if (strcmp(p->name, "sodium") == 0)
            cr_skip_test("libsodium without crypto_kem_mlkem768 (< 1.0.22) linked: run "
                         "scripts/fetch-provider-src.sh so the build compiles 1.0.22");
        cr_skip_test("the %s provider has no ML-KEM-768: it neither offers nor selects X25519MLKEM768",
                     p->name);
    }
}

/* The default provider without its KEM: a server (or client) that lacks
 * the hybrid, everything else equal. */
static cdtls_provider no_kem;
static const cdtls_provider *provider_without_kem(void)
{
    no_kem = *cdtls_provider_default();
    for (int i = 0; i < CDTLS_KEM__COUNT; i++) no_kem.kem[i] = NULL;
    return &no_kem;
}

/* PSK with psk_dhe_ke, so that the key share decides; 1.3 only. */
static void configs(cdtls_config *cc, cdtls_config *sc)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = psk;
    cc->psk.key_len = sc->psk.key_len = sizeof psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)psk_id;
    cc->psk.identity_len = sc->psk.identity_len = sizeof psk_id - 1;
    cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
    sc->cookie.exchange = 0;
}

/* What crossed the link, read from the plaintext (epoch 0) handshake
 * records: the first ClientHello reassembled from its fragments, how many
 * datagrams it took, the key share groups of every ClientHello, the
 * HelloRetryRequests and their groups, the ServerHello's group. */
typedef struct wire_log {
    uint8_t ch1[4096];
    size_t ch1_len, ch1_frag_bytes, ch2_len;
    unsigned ch1_dgrams, ch1_max_dgram, ch2_dgrams;
    unsigned n_ch;            /* ClientHellos seen whole */
    uint16_t ch_shares[4][2]; /* the groups of the key shares of each */
    size_t ch_n_shares[4];
    unsigned n_hrr;
    uint16_t hrr_group;
    uint16_t sh_group;
    uint8_t sh[2048]; /* the ServerHello body, message_seq */
    size_t sh_len;
    int sh_seq;
    /* reassembly of the message being collected, either way */
    uint8_t msg[2][4096];
    size_t msg_len[2], msg_got[2];
    int msg_seq[2];
} wire_log;

static void on_whole_message(wire_log *w, int to_server, const uint8_t *m, size_t len)
{
    if (to_server && m[0] == HS_CLIENT_HELLO) {
        hs13_client_hello ch;
        cr_assert_eq(hs13_client_hello_parse(m + 4, len - 4, &ch), CDTLS_OK, "our ClientHello parses");
        if (w->n_ch == 0) {
            memcpy(w->ch1, m + 4, len - 4);
            w->ch1_len = len - 4;
        } else if (w->n_ch == 1) {
            w->ch2_len = len - 4;
        }
        if (w->n_ch < 4) {
            size_t off = 0;
            hs13_key_share ks;
            while (ch.has_key_share && hs13_key_share_next(ch.key_shares, ch.key_shares_len, &off, &ks))
                if (w->ch_n_shares[w->n_ch] < 2) w->ch_shares[w->n_ch][w->ch_n_shares[w->n_ch]++] = ks.group;
        }
        w->n_ch++;
    } else if (!to_server && m[0] == HS_SERVER_HELLO) {
        hs13_server_hello sh;
        cr_assert_eq(hs13_server_hello_parse(m + 4, len - 4, &sh), CDTLS_OK, "our ServerHello parses");
        if (sh.is_hrr) {
            w->n_hrr++;
            w->hrr_group = sh.has_key_share ? sh.selected_group : 0;
        } else {
            if (sh.has_key_share) w->sh_group = sh.share.group;
            cr_assert_leq(len - 4, sizeof w->sh);
            memcpy(w->sh, m + 4, len - 4);
            w->sh_len = len - 4;
            w->sh_seq = w->msg_seq[1];
        }
    }
}

/* Walks the epoch-0 handshake records of a datagram (later epochs are
 * encrypted and 1.3-shaped: skipped), reassembling messages in order. */
static void log_dgram(wire_log *w, int to_server, const uint8_t *d, size_t n)
{
    const int k = to_server ? 0 : 1;
    int has_ch1 = 0, has_ch2 = 0;
    size_t off = 0;
    while (off + DTLS_RECORD_HEADER_LEN <= n) {
        if ((d[off] & 0xe0) == 0x20) break; /* a 1.3 unified header: the rest is encrypted */
        size_t rlen = (size_t)d[off + 11] << 8 | d[off + 12];
        const uint8_t *r = d + off + DTLS_RECORD_HEADER_LEN;
        const int epoch0 = d[off + 3] == 0 && d[off + 4] == 0;
        off += DTLS_RECORD_HEADER_LEN + rlen;
        if (off > n) break;
        if (d[off - DTLS_RECORD_HEADER_LEN - rlen] != 22 || !epoch0) continue;
        size_t p = 0;
        while (p + DTLS_HS_HEADER_LEN <= rlen) {
            const uint8_t *h = r + p;
            size_t mlen = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
            int seq = h[4] << 8 | h[5];
            size_t foff = (size_t)h[6] << 16 | (size_t)h[7] << 8 | h[8];
            size_t flen = (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
            cr_assert(p + DTLS_HS_HEADER_LEN + flen <= rlen && foff + flen <= mlen &&
                      mlen + 4 <= sizeof w->msg[k]);
            if (w->msg_seq[k] != seq || w->msg_len[k] != mlen) {
                w->msg_seq[k] = seq;
                w->msg_len[k] = mlen;
                w->msg_got[k] = 0;
                w->msg[k][0] = h[0];
                w->msg[k][1] = h[1], w->msg[k][2] = h[2], w->msg[k][3] = h[3];
            }
            /* fragments come in order here (no impairment); a resent one
             * starts over */
            if (foff == 0) w->msg_got[k] = 0;
            if (foff == w->msg_got[k]) {
                memcpy(w->msg[k] + 4 + foff, h + DTLS_HS_HEADER_LEN, flen);
                w->msg_got[k] += flen;
                if (to_server && h[0] == HS_CLIENT_HELLO && w->n_ch == 0) {
                    has_ch1 = 1;
                    w->ch1_frag_bytes += flen;
                }
                if (to_server && h[0] == HS_CLIENT_HELLO && w->n_ch == 1) has_ch2 = 1;
                if (w->msg_got[k] == mlen) {
                    on_whole_message(w, to_server, w->msg[k], mlen + 4);
                    w->msg_seq[k] = -1;
                }
            }
            p += DTLS_HS_HEADER_LEN + flen;
        }
    }
    if (has_ch2) w->ch2_dgrams++;
    if (has_ch1) {
        w->ch1_dgrams++;
        if (n > w->ch1_max_dgram) w->ch1_max_dgram = (unsigned)n;
    }
}

static void pass(cdtls_conn *a, cdtls_conn *b, uint64_t now, wire_log *w, int to_server)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(a, d, sizeof d, &n, NULL) == CDTLS_OK) {
        log_dgram(w, to_server, d, n);
        (void)cdtls_conn_recv(b, d, n, NULL, now);
    }
}

typedef struct run {
    cdtls_conn *c, *s;
    wire_log w;
} run;

/* A handshake without loss: our client and our server, flights moved until
 * neither has anything to send. */
static void handshake(run *r, const cdtls_config *cc, const cdtls_config *sc)
{
    memset(r, 0, sizeof *r);
    r->w.msg_seq[0] = r->w.msg_seq[1] = -1;
    cr_assert_eq(cdtls_conn_new(cc, CDTLS_CLIENT, 1000, &r->c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(sc, CDTLS_SERVER, 1000, &r->s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(r->s, "c:1", 3), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(r->c, 1000), CDTLS_OK);
    for (int i = 0; i < 12; i++) {
        pass(r->c, r->s, 1000 + (uint64_t)i, &r->w, 1);
        pass(r->s, r->c, 1000 + (uint64_t)i, &r->w, 0);
    }
}

static void assert_established(run *r, uint16_t group)
{
    cr_assert_eq(cdtls_conn_get_state(r->c), CDTLS_STATE_ESTABLISHED, "client: %s, server: %s",
                 cdtls_strerror(cdtls_conn_error(r->c)), cdtls_strerror(cdtls_conn_error(r->s)));
    cr_assert_eq(cdtls_conn_get_state(r->s), CDTLS_STATE_ESTABLISHED, "server: %s",
                 cdtls_strerror(cdtls_conn_error(r->s)));
    cr_assert_eq(cdtls_conn_version(r->c), CDTLS_VERSION_1_3);
    cr_assert_eq(cdtls_conn_group(r->c), group, "client's group 0x%04x", cdtls_conn_group(r->c));
    cr_assert_eq(cdtls_conn_group(r->s), group, "server's group 0x%04x", cdtls_conn_group(r->s));
    cr_assert_eq(r->w.sh_group, group, "the ServerHello's key_share 0x%04x", r->w.sh_group);
    /* the keys agree: data both ways */
    static const char ping[] = "pq-ping";
    uint8_t buf[64];
    size_t n = 0;
    cr_assert_eq(cdtls_conn_write(r->c, (const uint8_t *)ping, sizeof ping, NULL), CDTLS_OK);
    pass(r->c, r->s, 2000, &r->w, 1);
    cr_assert_eq(cdtls_conn_read(r->s, buf, sizeof buf, &n, NULL), CDTLS_OK);
    cr_assert(n == sizeof ping && memcmp(buf, ping, n) == 0);
    cr_assert_eq(cdtls_conn_write(r->s, buf, n, NULL), CDTLS_OK);
    pass(r->s, r->c, 2001, &r->w, 0);
    cr_assert_eq(cdtls_conn_read(r->c, buf, sizeof buf, &n, NULL), CDTLS_OK);
    cr_assert(n == sizeof ping && memcmp(buf, ping, n) == 0);
}

static void run_free(run *r)
{
    cdtls_conn_free(r->c);
    cdtls_conn_free(r->s);
}

static void assert_first_shares(const run *r, size_t n, uint16_t g0, uint16_t g1)
{
    cr_assert(r->w.n_ch >= 1);
    cr_assert_eq(r->w.ch_n_shares[0], n, "first ClientHello: %zu key shares", r->w.ch_n_shares[0]);
    cr_assert_eq(r->w.ch_shares[0][0], g0, "first share 0x%04x", r->w.ch_shares[0][0]);
    if (n > 1) cr_assert_eq(r->w.ch_shares[0][1], g1, "second share 0x%04x", r->w.ch_shares[0][1]);
}

TestSuite(pq13, .timeout = 30);

/* The MTU at which a 1.3-only PSK hello (configs()) carries the hybrid
 * share alone: it fits one datagram with it (1400 bytes), not with an
 * X25519 share too (1436). The tests check the shares, so a hello that
 * changes size fails them rather than silently testing something else. */
#define MTU_HYBRID_ALONE 1420u

/* cdtls's defaults at MTU 1200: the hybrid leads supported_groups, but its
 * 1216-byte share would fragment the first hello, which servers answering
 * statelessly may refuse (docs/pq.md); so the first hello carries the X25519
 * share, one datagram, and our server, whose default preference leads with
 * the hybrid, asks for the hybrid's share by HelloRetryRequest (with the
 * cookie exchange, in the cookie's HRR: no round trip more). The second
 * hello carries the hybrid share alone, fragmented in two datagrams. */
static void default_mtu1200(int cookie, int offer12)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    sc.cookie.exchange = cookie;
    if (offer12) cc.versions.min = sc.versions.min = 0;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, HYB);
    assert_first_shares(&r, 1, X25519, 0);
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(r.w.ch1, r.w.ch1_len, &ch), CDTLS_OK);
    cr_assert(hs_client_hello_offers_group(&ch.legacy, HYB), "0x11ec in supported_groups");
    cr_assert_eq(r.w.ch1_dgrams, 1, "the first ClientHello took %u datagrams", r.w.ch1_dgrams);
    cr_assert_leq(r.w.ch1_max_dgram, 1200u);
    cr_assert_eq(r.w.ch1_frag_bytes, r.w.ch1_len);
    cr_assert_eq(r.w.n_hrr, 1);
    cr_assert_eq(r.w.hrr_group, HYB);
    cr_assert_eq(r.w.n_ch, 2);
    cr_assert_eq(r.w.ch_n_shares[1], 1);
    cr_assert_eq(r.w.ch_shares[1][0], HYB);
    cr_assert_eq(r.w.ch2_dgrams, 2, "the second ClientHello took %u datagrams", r.w.ch2_dgrams);
    cr_log_info(
        "defaults at MTU 1200%s: first hello %zu bytes, second (hybrid share) %zu bytes in %u datagrams",
        offer12 ? " (1.2 offered too)" : "", r.w.ch1_len, r.w.ch2_len, r.w.ch2_dgrams);
    run_free(&r);
}

Test(pq13, defaults_mtu1200_hrr_to_hybrid)
{
    default_mtu1200(0, 0);
}

Test(pq13, defaults_mtu1200_cookie_hrr_to_hybrid)
{
    default_mtu1200(1, 0);
}

Test(pq13, defaults_offering_12_too)
{
    default_mtu1200(1, 1);
}

/* The hybrid as our only group: its share has to go in the first hello,
 * which at MTU 1200 is two fragments: the first flight fragmented, and
 * our server (with and without its cookie HelloRetryRequest) takes it. */
static void hybrid_only_fragmented(int cookie)
{
    need_kem();
    static const uint16_t g[] = {HYB};
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.negotiate.groups = g, cc.negotiate.n_groups = 1;
    sc.cookie.exchange = cookie;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, HYB);
    assert_first_shares(&r, 1, HYB, 0);
    cr_assert_gt(r.w.ch1_len, 1200u, "the hello (%zu bytes) is over the MTU", r.w.ch1_len);
    cr_assert_eq(r.w.ch1_dgrams, 2, "the first ClientHello took %u datagrams", r.w.ch1_dgrams);
    cr_assert_leq(r.w.ch1_max_dgram, 1200u);
    cr_assert_eq(r.w.ch1_frag_bytes, r.w.ch1_len, "fragments cover the hello once");
    cr_assert_eq(r.w.n_hrr, cookie ? 1u : 0u);
    cr_assert_eq(r.w.hrr_group, 0);
    cr_log_info("hybrid-only hello: %zu bytes, %u datagrams at MTU 1200", r.w.ch1_len, r.w.ch1_dgrams);
    run_free(&r);
}

Test(pq13, hybrid_only_first_hello_fragmented)
{
    hybrid_only_fragmented(0);
}

Test(pq13, hybrid_only_first_hello_fragmented_cookie)
{
    hybrid_only_fragmented(1);
}

/* At MTU_HYBRID_ALONE the hybrid share fits, X25519 beside it would not:
 * the hybrid share alone, one datagram, taken at once. */
Test(pq13, hybrid_share_alone_when_it_fits)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.mtu = sc.mtu = MTU_HYBRID_ALONE;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, HYB);
    assert_first_shares(&r, 1, HYB, 0);
    cr_assert_eq(r.w.ch1_dgrams, 1);
    cr_assert_eq(r.w.n_hrr, 0);
    run_free(&r);
}

/* MTU 1472 (the UDP payload of a 1500-byte Ethernet frame over IPv4):
 * both shares fit one datagram, so both are sent (hybrid first). */
Test(pq13, both_shares_at_mtu1472)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.mtu = sc.mtu = 1472;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, HYB);
    assert_first_shares(&r, 2, HYB, X25519);
    cr_assert_eq(r.w.ch1_dgrams, 1);
    cr_assert_leq(r.w.ch1_max_dgram, 1472u);
    cr_log_info("both shares: a hello of %zu bytes, one datagram of %u", r.w.ch1_len, r.w.ch1_max_dgram);
    cr_assert_eq(r.w.n_hrr, 0);
    run_free(&r);
}

/* Both shares, server without the KEM: X25519 at once, no HelloRetryRequest. */
Test(pq13, both_shares_vs_server_without_kem)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.mtu = 1472;
    sc.provider = provider_without_kem();
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, X25519);
    assert_first_shares(&r, 2, HYB, X25519);
    cr_assert_eq(r.w.n_hrr, 0);
    run_free(&r);
}

/* The hybrid share alone, server without the KEM: a HelloRetryRequest for
 * X25519 (stateful, and stateless with the cookie), then X25519. */
static void hybrid_alone_vs_server_without_kem(int cookie)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.mtu = MTU_HYBRID_ALONE;
    sc.provider = provider_without_kem();
    sc.cookie.exchange = cookie;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, X25519);
    assert_first_shares(&r, 1, HYB, 0);
    cr_assert_eq(r.w.n_hrr, 1);
    cr_assert_eq(r.w.hrr_group, X25519);
    cr_assert_eq(r.w.n_ch, 2);
    cr_assert_eq(r.w.ch_n_shares[1], 1);
    cr_assert_eq(r.w.ch_shares[1][0], X25519, "the second hello's share: 0x%04x", r.w.ch_shares[1][0]);
    run_free(&r);
}

Test(pq13, hrr_from_hybrid_to_x25519)
{
    hybrid_alone_vs_server_without_kem(0);
}

Test(pq13, hrr_from_hybrid_to_x25519_cookie)
{
    hybrid_alone_vs_server_without_kem(1);
}

/* A client that leads with X25519 (pion's and Go's client default) but
 * supports the hybrid: the server, leading with the hybrid, asks for it by
 * HelloRetryRequest (stateful, and stateless with the cookie); the second
 * hello carries the hybrid share alone, fragmented. */
static void hrr_to_hybrid(int cookie)
{
    need_kem();
    static const uint16_t cg[] = {X25519, HYB};
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.negotiate.groups = cg, cc.negotiate.n_groups = 2;
    sc.cookie.exchange = cookie;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, HYB);
    assert_first_shares(&r, 1, X25519, 0);
    cr_assert_eq(r.w.n_hrr, 1);
    cr_assert_eq(r.w.hrr_group, HYB);
    cr_assert_eq(r.w.n_ch, 2);
    cr_assert_eq(r.w.ch_n_shares[1], 1);
    cr_assert_eq(r.w.ch_shares[1][0], HYB);
    run_free(&r);
}

Test(pq13, hrr_to_hybrid)
{
    hrr_to_hybrid(0);
}

Test(pq13, hrr_to_hybrid_cookie)
{
    hrr_to_hybrid(1);
}

/* A server that prefers X25519 (its groups lead with it): with an X25519
 * share in the hello it takes X25519; with the hybrid share alone it takes
 * the hybrid rather than spend a round trip on a classical group. */
Test(pq13, server_preference_for_x25519)
{
    need_kem();
    static const uint16_t sg[] = {X25519, HYB};
    cdtls_config cc, sc;
    configs(&cc, &sc);
    sc.negotiate.groups = sg, sc.negotiate.n_groups = 2;
    cc.mtu = 1472;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, X25519);
    cr_assert_eq(r.w.n_hrr, 0);
    run_free(&r);
    cc.mtu = MTU_HYBRID_ALONE;
    handshake(&r, &cc, &sc);
    assert_established(&r, HYB);
    assert_first_shares(&r, 1, HYB, 0);
    cr_assert_eq(r.w.n_hrr, 0);
    run_free(&r);
    /* and at MTU 1200 (the X25519 share alone) X25519 at once */
    cc.mtu = 1200;
    handshake(&r, &cc, &sc);
    assert_established(&r, X25519);
    cr_assert_eq(r.w.n_hrr, 0);
    run_free(&r);
}

/* Groups configured without the hybrid: neither side offers nor takes it. */
Test(pq13, configured_groups_without_hybrid)
{
    need_kem();
    static const uint16_t g[] = {X25519};
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.negotiate.groups = g, cc.negotiate.n_groups = 1;
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, X25519);
    assert_first_shares(&r, 1, X25519, 0);
    cr_assert_eq(r.w.n_hrr, 0);
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(r.w.ch1, r.w.ch1_len, &ch), CDTLS_OK);
    cr_assert_not(hs_client_hello_offers_group(&ch.legacy, HYB), "0x11ec in supported_groups");
    run_free(&r);
}

/* A provider without the KEM (bearssl, openssl, or this copy): the client
 * lists no 0x11ec at all and leads with X25519; runs on every provider. */
Test(pq13, no_kem_no_offer)
{
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.provider = provider_without_kem();
    sc.provider = provider_without_kem();
    run r;
    handshake(&r, &cc, &sc);
    assert_established(&r, X25519);
    assert_first_shares(&r, 1, X25519, 0);
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(r.w.ch1, r.w.ch1_len, &ch), CDTLS_OK);
    cr_assert_not(hs_client_hello_offers_group(&ch.legacy, HYB), "0x11ec in supported_groups");
    run_free(&r);
}

/* ------------------------------------------------------ hostile shares */

/* Finds the key share entry of group in a ClientHello or ServerHello body:
 * the offset of its 2-byte length. */
static size_t find_entry(const uint8_t *b, size_t len, uint16_t group, uint16_t entry_len)
{
    for (size_t i = 0; i + 4 <= len; i++)
        if (b[i] == group >> 8 && b[i + 1] == (group & 0xff) && b[i + 2] == entry_len >> 8 &&
            b[i + 3] == (entry_len & 0xff))
            return i + 2;
    cr_assert_fail("no %04x share of %u bytes", group, entry_len);
    return 0;
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/* One epoch-0 handshake record carrying a whole message. */
static size_t one_record(uint8_t *out, uint8_t type, uint16_t msg_seq, uint64_t rec_seq, const uint8_t *body,
                         size_t len)
{
    uint8_t *r = out;
    r[0] = 22, r[1] = 0xfe, r[2] = 0xfd, r[3] = 0, r[4] = 0;
    for (int i = 0; i < 6; i++) r[5 + i] = (uint8_t)(rec_seq >> (8 * (5 - i)));
    put16(r + 11, DTLS_HS_HEADER_LEN + len);
    uint8_t *h = r + DTLS_RECORD_HEADER_LEN;
    h[0] = type;
    h[1] = (uint8_t)(len >> 16), h[2] = (uint8_t)(len >> 8), h[3] = (uint8_t)len;
    put16(h + 4, msg_seq);
    h[6] = h[7] = h[8] = 0;
    h[9] = h[1], h[10] = h[2], h[11] = h[3];
    memcpy(h + DTLS_HS_HEADER_LEN, body, len);
    return DTLS_RECORD_HEADER_LEN + DTLS_HS_HEADER_LEN + len;
}

/* Makes the share at `at` (its length field) delta bytes longer (>0: zero
 * bytes appended) or shorter, fixing the enclosing lengths: the entry, the
 * client_shares list (ClientHello only), the key_share extension and the
 * extensions block. Returns the new body length. */
static size_t resize_share(uint8_t *b, size_t len, size_t at, long delta, int client)
{
    const size_t klen = get16(b + at);
    const size_t end = at + 2 + klen;
    if (delta < 0) {
        memmove(b + end + delta, b + end, len - end);
    } else {
        memmove(b + end + delta, b + end, len - end);
        memset(b + end, 0, (size_t)delta);
    }
    put16(b + at, klen + (size_t)delta);
    /* for the first entry: [ext type 2][ext len 2][list len 2 (CH)][group 2][len 2] */
    size_t p = at - 2;
    if (client) {
        put16(b + p - 2, get16(b + p - 2) + (size_t)delta);
        p -= 2;
    }
    put16(b + p - 2, get16(b + p - 2) + (size_t)delta);
    /* the extensions block length: find it by walking the ClientHello /
     * ServerHello fixed part */
    size_t q = 2 + 32; /* legacy_version, random */
    q += 1 + b[q];     /* session id */
    if (client) {
        q += 1 + b[q];         /* legacy_cookie */
        q += 2 + get16(b + q); /* cipher suites */
        q += 1 + b[q];         /* compression methods */
    } else {
        q += 2 + 1; /* cipher suite, compression */
    }
    put16(b + q, get16(b + q) + (size_t)delta);
    return len + (size_t)delta;
}

/* A ClientHello whose hybrid share is not 1216 bytes: the server refuses it
 * with illegal_parameter (draft-ietf-tls-ecdhe-mlkem §3), before the PSK
 * binder is even looked at; 1215, 1217 and 32 bytes (an X25519 key sent
 * as the hybrid). */
static void hostile_client_share(long delta)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.mtu = sc.mtu = 1472; /* both shares: the hybrid one is not the last entry */
    cdtls_conn *c, *s;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    wire_log *w = calloc(1, sizeof *w);
    cr_assert_not_null(w);
    w->msg_seq[0] = w->msg_seq[1] = -1;
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK) log_dgram(w, 1, d, n);
    cr_assert_eq(w->n_ch, 1);
    uint8_t body[4096 + 1300];
    memcpy(body, w->ch1, w->ch1_len);
    size_t at = find_entry(body, w->ch1_len, HYB, HYBRID_CLIENT_SHARE_LEN);
    size_t blen = resize_share(body, w->ch1_len, at, delta, 1);
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(body, blen, &ch), CDTLS_OK, "the edited hello still parses");
    hs13_key_share ks;
    cr_assert(hs13_client_hello_find_share(&ch, HYB, &ks));
    cr_assert_eq(ks.key_len, (size_t)((long)HYBRID_CLIENT_SHARE_LEN + delta));
    uint8_t rec[sizeof body + 32];
    size_t rn = one_record(rec, HS_CLIENT_HELLO, 0, 0, body, blen);
    cr_assert_eq(cdtls_conn_recv(s, rec, rn, NULL, 1001), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_FAILED);
    /* the alert went out in plaintext: illegal_parameter */
    cr_assert_eq(cdtls_conn_next_datagram(s, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert(n >= DTLS_RECORD_HEADER_LEN + 2 && d[0] == 21);
    cr_assert_eq(d[DTLS_RECORD_HEADER_LEN + 1], ALERT_ILLEGAL_PARAMETER_DESC);
    free(w);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

Test(pq13, client_share_one_short)
{
    hostile_client_share(-1);
}

Test(pq13, client_share_one_long)
{
    hostile_client_share(1);
}

Test(pq13, client_share_x25519_sized)
{
    hostile_client_share(32 - (long)HYBRID_CLIENT_SHARE_LEN);
}

/* A ServerHello whose hybrid share is not 1120 bytes: our client refuses it
 * with illegal_parameter. The server's MTU is 1400 so that the ServerHello
 * (~1.2 KB) is one record to edit. */
static void hostile_server_share(long delta)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    cc.mtu = sc.mtu = 1472; /* both shares in the hello; the ServerHello in one record */
    cdtls_conn *c, *s;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(s, "c:1", 3), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    wire_log *w = calloc(1, sizeof *w);
    cr_assert_not_null(w);
    w->msg_seq[0] = w->msg_seq[1] = -1;
    pass(c, s, 1001, w, 1);
    /* the server's flight: the ServerHello is kept, the rest dropped */
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(s, d, sizeof d, &n, NULL) == CDTLS_OK) log_dgram(w, 0, d, n);
    cr_assert_eq(w->sh_group, HYB);
    uint8_t body[2048 + 1300];
    memcpy(body, w->sh, w->sh_len);
    size_t at = find_entry(body, w->sh_len, HYB, HYBRID_SERVER_SHARE_LEN);
    size_t blen = resize_share(body, w->sh_len, at, delta, 0);
    hs13_server_hello sh;
    cr_assert_eq(hs13_server_hello_parse(body, blen, &sh), CDTLS_OK, "the edited ServerHello still parses");
    cr_assert_eq(sh.share.key_len, (size_t)((long)HYBRID_SERVER_SHARE_LEN + delta));
    uint8_t rec[sizeof body + 32];
    size_t rn = one_record(rec, HS_SERVER_HELLO, (uint16_t)w->sh_seq, 1, body, blen);
    cr_assert_eq(cdtls_conn_recv(c, rec, rn, NULL, 1002), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert(n >= DTLS_RECORD_HEADER_LEN + 2 && d[0] == 21);
    cr_assert_eq(d[DTLS_RECORD_HEADER_LEN + 1], ALERT_ILLEGAL_PARAMETER_DESC);
    free(w);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

Test(pq13, server_share_one_short)
{
    hostile_server_share(-1);
}

Test(pq13, server_share_one_long)
{
    hostile_server_share(1);
}

Test(pq13, server_share_x25519_sized)
{
    hostile_server_share(32 - (long)HYBRID_SERVER_SHARE_LEN);
}

/* ------------------------------------------- the listener's verifier */

/* The listener's stateless verifier (cdtls_hello_verifier) with our
 * default client at MTU 1200 (the X25519 share, the hybrid listed first):
 * like the connection-level server it asks for the hybrid in its cookie
 * HelloRetryRequest (no extra round trip: the cookie exchange costs one
 * anyway). The second hello, with the 1,216-byte share, comes in several
 * datagrams: the verifier reassembles it, checks the cookie on the whole
 * hello and hands it out (cdtls_hello_verifier_check_full), and the
 * connection made for it continues from the cookie with the hybrid. */
Test(pq13, listener_verifier_asks_for_the_hybrid)
{
    need_kem();
    cdtls_config cc, sc;
    configs(&cc, &sc);
    sc.cookie.exchange = 1;
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    wire_log *w = calloc(1, sizeof *w);
    cr_assert_not_null(w);
    w->msg_seq[0] = w->msg_seq[1] = -1;
    uint8_t d[2048], reply[1024];
    size_t n, rn;
    cr_assert_eq(cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL), CDTLS_OK);
    log_dgram(w, 1, d, n);
    cr_assert_eq(w->n_ch, 1, "the first hello is one datagram");
    cr_assert_eq(w->ch_shares[0][0], X25519);
    cr_assert_eq(cdtls_hello_verifier_check(v, "peer", 4, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    log_dgram(w, 0, reply, rn);
    cr_assert_eq(w->n_hrr, 1);
    cr_assert_eq(w->hrr_group, HYB, "the verifier asked for group 0x%04x", w->hrr_group);
    cr_assert_eq(cdtls_conn_recv(c, reply, rn, NULL, 1002), CDTLS_OK);
    /* the second hello: every datagram to the verifier, until it has the
     * whole hello and its cookie verified */
    uint8_t *hello = NULL;
    size_t hello_len = 0;
    int rc = CDTLS_ERR_WOULD_BLOCK, datagrams = 0;
    while (rc == CDTLS_ERR_WOULD_BLOCK && cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK) {
        datagrams++;
        rc = cdtls_hello_verifier_check_full(v, "peer", 4, d, n, 1003, reply, sizeof reply, &rn, &hello,
                                             &hello_len);
        if (rc == CDTLS_ERR_WOULD_BLOCK) cr_assert_eq(rn, 0, "the verifier answered a fragment it holds");
    }
    cr_assert_eq(rc, CDTLS_OK, "%s", cdtls_strerror(rc));
    cr_assert_geq(datagrams, 2, "the hybrid's second hello went out in %d datagram(s)", datagrams);
    cr_assert_not_null(hello, "the verifier hands out the reassembled hello");
    cdtls_conn *s;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1003, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(s, "peer", 4), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_cookie_verified(s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(s, hello, hello_len, NULL, 1004), CDTLS_OK);
    cdtls_hello_verifier_release(v, hello, hello_len);
    for (int i = 0; i < 8; i++) {
        pass(s, c, 1005 + (uint64_t)i, w, 0);
        pass(c, s, 1005 + (uint64_t)i, w, 1);
    }
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "client: %s",
                 cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED, "server: %s",
                 cdtls_strerror(cdtls_conn_error(s)));
    cr_assert_eq(cdtls_conn_group(c), HYB);
    cr_assert_eq(cdtls_conn_group(s), HYB);
    cr_assert_eq(w->n_hrr, 1, "no second HelloRetryRequest");
    free(w);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
    cdtls_hello_verifier_free(v);
}

#endif /* CDTLS_HAVE_DTLS13 */
