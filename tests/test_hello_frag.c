/* ClientHellos in fragments (issue 14; RFC 6347 §4.2.1, §4.2.3; RFC 9147
 * §5.3): what a DTLS 1.3 browser with an X25519MLKEM768 key share sends is
 * ~1.4 KB, cut over several records and datagrams. The stateless hello
 * verifier must answer the first hello from its first fragment, check the
 * second hello's cookie on its first fragment, allocate nothing before
 * that, and the connection made then must reassemble the rest whatever the
 * order, duplicates or overlaps, and answer with DTLS 1.2. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/cdtls.h"

#include "counting_alloc.h"

static const uint8_t psk[16] = "hello-frag-psk16";
static const uint16_t chacha_psk = CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;

static void psk_config(cdtls_config *cfg, counting *cnt)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"frag";
    cfg->psk.identity_len = 4;
    if (cnt) {
        cfg->allocator = counting_init(cnt);
    }
}

/* ------------------------------------------------------------- wire bits */

typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf;

static void put8(buf *b, unsigned v)
{
    b->d[b->n++] = (uint8_t)v;
}
static void put16(buf *b, unsigned v)
{
    put8(b, v >> 8), put8(b, v & 0xff);
}
static void put24(buf *b, uint32_t v)
{
    put8(b, v >> 16), put16(b, v & 0xffff);
}
static void putn(buf *b, const void *p, size_t n)
{
    if (n) memcpy(b->d + b->n, p, n), b->n += n;
}
static void fill(buf *b, unsigned byte, size_t n)
{
    memset(b->d + b->n, (int)byte, n), b->n += n;
}
/* an extension: type, then its body written by the caller, length patched */
static size_t ext_begin(buf *b, unsigned type)
{
    put16(b, type), put16(b, 0);
    return b->n;
}
static void len16_end(buf *b, size_t at)
{
    b->d[at - 2] = (uint8_t)((b->n - at) >> 8), b->d[at - 1] = (uint8_t)(b->n - at);
}

/* The ClientHello body a DTLS 1.3 browser sends today (Firefox 148,
 * pion v4 with X25519MLKEM768 first): legacy_version DTLS 1.2,
 * supported_versions {1.3, 1.2}, an X25519MLKEM768 (0x11ec, 1,216 bytes)
 * and an X25519 key share, psk_key_exchange_modes, early_data, a 1.3
 * cookie extension, post_handshake_auth, padding and a pre_shared_key
 * last; supported_groups with groups we do not know. It also offers a PSK
 * suite, which is what our test server speaks. ~1.45 KB. */
static size_t browser_hello(uint8_t *out, const uint8_t *cookie, size_t cookie_len)
{
    buf b = {.n = 0};
    put16(&b, 0xfefd);
    for (int i = 0; i < 32; i++) put8(&b, 0x40 + i); /* random */
    put8(&b, 0);                                     /* legacy_session_id */
    put8(&b, (unsigned)cookie_len);
    putn(&b, cookie, cookie_len);
    static const uint16_t suites[] = {0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xccab};
    put16(&b, sizeof suites);
    for (size_t i = 0; i < sizeof suites / 2; i++) put16(&b, suites[i]);
    put8(&b, 1), put8(&b, 0); /* compression: null */
    size_t exts = b.n + 2;
    put16(&b, 0);
    size_t e = ext_begin(&b, 0x0017); /* extended_master_secret */
    len16_end(&b, e);
    e = ext_begin(&b, 0xff01); /* renegotiation_info, empty */
    put8(&b, 0);
    len16_end(&b, e);
    e = ext_begin(&b, 0x000a); /* supported_groups: hybrid, x25519, P-256, P-384, ffdhe2048 */
    put16(&b, 10), put16(&b, 0x11ec), put16(&b, 0x001d), put16(&b, 0x0017), put16(&b, 0x0018),
        put16(&b, 0x0100);
    len16_end(&b, e);
    e = ext_begin(&b, 0x000b); /* ec_point_formats */
    put8(&b, 1), put8(&b, 0);
    len16_end(&b, e);
    e = ext_begin(&b, 0x000d); /* signature_algorithms */
    put16(&b, 8), put16(&b, 0x0403), put16(&b, 0x0804), put16(&b, 0x0401), put16(&b, 0x0807);
    len16_end(&b, e);
    e = ext_begin(&b, 0x002b); /* supported_versions: DTLS 1.3, 1.2 */
    put8(&b, 4), put16(&b, 0xfefc), put16(&b, 0xfefd);
    len16_end(&b, e);
    e = ext_begin(&b, 0x0033); /* key_share */
    put16(&b, 4 + 1216 + 4 + 32);
    put16(&b, 0x11ec), put16(&b, 1216), fill(&b, 0xa5, 1216);
    put16(&b, 0x001d), put16(&b, 32), fill(&b, 0x5a, 32);
    len16_end(&b, e);
    e = ext_begin(&b, 0x002d); /* psk_key_exchange_modes: psk_dhe_ke */
    put8(&b, 1), put8(&b, 1);
    len16_end(&b, e);
    e = ext_begin(&b, 0x002a); /* early_data */
    len16_end(&b, e);
    e = ext_begin(&b, 0x002c); /* cookie (the 1.3 one, not ours) */
    put16(&b, 8), fill(&b, 0x33, 8);
    len16_end(&b, e);
    e = ext_begin(&b, 0x0031); /* post_handshake_auth */
    len16_end(&b, e);
    e = ext_begin(&b, 0x0015); /* padding */
    fill(&b, 0, 20);
    len16_end(&b, e);
    e = ext_begin(&b, 0x0029); /* pre_shared_key: one identity, one binder */
    put16(&b, 2 + 8 + 4), put16(&b, 8), fill(&b, 0x77, 8), put8(&b, 0), put8(&b, 0), put8(&b, 0), put8(&b, 1);
    put16(&b, 33), put8(&b, 32), fill(&b, 0x99, 32);
    len16_end(&b, e);
    len16_end(&b, exts);
    memcpy(out, b.d, b.n);
    return b.n;
}

/* One plaintext epoch-0 handshake record per datagram holding the fragment
 * [off, off + len) of a ClientHello of body_len bytes. */
static size_t hello_record(uint8_t *out, uint64_t rec_seq, uint16_t msg_seq, const uint8_t *body,
                           size_t body_len, size_t off, size_t len)
{
    buf b = {.n = 0};
    put8(&b, 22), put16(&b, 0xfefd), put16(&b, 0);
    put16(&b, (unsigned)(rec_seq >> 32)), put16(&b, (unsigned)(rec_seq >> 16) & 0xffff),
        put16(&b, (unsigned)rec_seq & 0xffff);
    put16(&b, (unsigned)(12 + len));
    put8(&b, 1), put24(&b, (uint32_t)body_len), put16(&b, msg_seq), put24(&b, (uint32_t)off),
        put24(&b, (uint32_t)len);
    putn(&b, body + off, len);
    memcpy(out, b.d, b.n);
    return b.n;
}

typedef struct dgrams {
    uint8_t d[16][1600];
    size_t n[16];
    size_t count;
} dgrams;

/* Cuts a hello as a sender with this MTU does: one record per datagram. */
static void cut_hello(dgrams *w, const uint8_t *body, size_t body_len, uint16_t msg_seq, uint64_t rec_seq,
                      size_t mtu)
{
    size_t room = mtu - 13 - 12;
    w->count = 0;
    for (size_t off = 0; off < body_len; off += room) {
        size_t len = body_len - off < room ? body_len - off : room;
        cr_assert(w->count < 16);
        w->n[w->count] = hello_record(w->d[w->count], rec_seq++, msg_seq, body, body_len, off, len);
        w->count++;
    }
}

static const uint8_t *hvr_cookie(const uint8_t *reply, size_t n, size_t *len)
{
    cr_assert(n > 13 + 12 + 3 && reply[0] == 22 && reply[13] == 3, "a HelloVerifyRequest");
    *len = reply[13 + 12 + 2];
    cr_assert_eq(n, 13u + 12 + 3 + *len);
    return reply + 13 + 12 + 3;
}

/* ------------------------------------------------------- the verifier */

static void verifier_over_mtu(size_t mtu, size_t want_fragments)
{
    counting cnt;
    cdtls_config sc;
    psk_config(&sc, &cnt);
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    const size_t live0 = cnt.live, allocs0 = cnt.allocs;

    static uint8_t body[4096];
    size_t bl = browser_hello(body, NULL, 0);
    cr_assert(bl > 1400 && bl < 1600, "a browser-sized hello (%zu)", bl);
    static dgrams w;
    cut_hello(&w, body, bl, 0, 0, mtu);
    cr_assert_geq(w.count, want_fragments);

    /* Its fragments arrive last first: only the one at offset 0 is
     * answered, with its record and message sequence numbers echoed. */
    uint8_t reply[256];
    size_t rn = 99;
    for (size_t i = w.count; i-- > 1;) {
        cr_assert_eq(
            cdtls_hello_verifier_check(v, "peer-a", 6, w.d[i], w.n[i], 1001, reply, sizeof reply, &rn),
            CDTLS_ERR_DECODE, "fragment %zu is dropped", i);
        cr_assert_eq(rn, 0);
    }
    cr_assert_eq(cdtls_hello_verifier_check(v, "peer-a", 6, w.d[0], w.n[0], 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    size_t cl;
    const uint8_t *cookie = hvr_cookie(reply, rn, &cl);
    cr_assert_eq(cl, 32u);
    uint8_t ck[32];
    memcpy(ck, cookie, 32);

    /* The second hello (message_seq 1), cut the same way: its first
     * fragment passes with the cookie, only from the same address, and not
     * with a byte of the cookie changed. Its other fragments still pass
     * nobody through. */
    static uint8_t body2[4096];
    size_t bl2 = browser_hello(body2, ck, sizeof ck);
    static dgrams w2;
    cut_hello(&w2, body2, bl2, 1, w.count, mtu);
    cr_assert_eq(cdtls_hello_verifier_check(v, "peer-a", 6, w2.d[0], w2.n[0], 1002, reply, sizeof reply, &rn),
                 CDTLS_OK);
    cr_assert_eq(cdtls_hello_verifier_check(v, "peer-b", 6, w2.d[0], w2.n[0], 1002, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    uint8_t forged[1600];
    memcpy(forged, w2.d[0], w2.n[0]);
    forged[13 + 12 + 2 + 32 + 1 + 1 + 7] ^= 1;
    cr_assert_eq(cdtls_hello_verifier_check(v, "peer-a", 6, forged, w2.n[0], 1002, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    for (size_t i = 1; i < w2.count; i++)
        cr_assert_eq(
            cdtls_hello_verifier_check(v, "peer-a", 6, w2.d[i], w2.n[i], 1002, reply, sizeof reply, &rn),
            CDTLS_ERR_DECODE);
    /* Two records in one datagram, the first fragment second: found. */
    uint8_t two[3200];
    memcpy(two, w2.d[1], w2.n[1]);
    memcpy(two + w2.n[1], w2.d[0], w2.n[0]);
    cr_assert_eq(
        cdtls_hello_verifier_check(v, "peer-a", 6, two, w2.n[1] + w2.n[0], 1002, reply, sizeof reply, &rn),
        CDTLS_OK);
    cr_assert_eq(cnt.allocs, allocs0, "the verifier allocated %zu times", cnt.allocs - allocs0);
    cr_assert_eq(cnt.live, live0);

    /* The connection made for the verified peer reassembles the rest: its
     * first fragment first (that datagram made it), then a stale fragment of
     * the first hello (ignored), then the rest last first, each twice, one
     * with an overlapping fragment beside it. It answers with DTLS 1.2. */
    cdtls_conn *s;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1002, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(s, "peer-a", 6), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_cookie_verified(s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(s, w2.d[0], w2.n[0], NULL, 1003), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(s, w.d[w.count - 1], w.n[w.count - 1], NULL, 1003), CDTLS_OK);
    uint8_t out[1600];
    size_t on;
    cr_assert_eq(cdtls_conn_next_datagram(s, out, sizeof out, &on, NULL), CDTLS_ERR_WOULD_BLOCK,
                 "nothing until the hello is whole");
    uint64_t seq = w.count + w2.count;
    for (size_t i = w2.count; i-- > 1;) {
        cr_assert_eq(cdtls_conn_recv(s, w2.d[i], w2.n[i], NULL, 1004), CDTLS_OK);
        cr_assert_eq(cdtls_conn_recv(s, w2.d[i], w2.n[i], NULL, 1004), CDTLS_OK);
        if (i == 1) {
            /* bytes 10..60 again, in a record of their own */
            uint8_t ov[200];
            size_t ovn = hello_record(ov, seq++, 1, body2, bl2, 10, 50);
            cr_assert_eq(cdtls_conn_recv(s, ov, ovn, NULL, 1004), CDTLS_OK);
        }
    }
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_HANDSHAKING);
    cr_assert_eq(cdtls_conn_next_datagram(s, out, sizeof out, &on, NULL), CDTLS_OK);
    /* record(13) + handshake header(12): ServerHello, server_version 1.2,
     * and after random and an empty-or-32-byte session_id the PSK suite */
    cr_assert_eq(out[0], 22);
    cr_assert_eq(out[13], 2, "a ServerHello, not another HelloVerifyRequest");
    cr_assert(out[25] == 0xfe && out[26] == 0xfd, "DTLS 1.2");
    size_t sid = out[25 + 2 + 32];
    cr_assert_eq((out[25 + 2 + 32 + 1 + sid] << 8) | out[25 + 2 + 32 + 2 + sid], chacha_psk);
    cdtls_conn_free(s);
    cdtls_hello_verifier_free(v);
    cr_assert_eq(cnt.live, 0);
}

Test(hello_frag, verifier_browser_hello_at_mtu_1200)
{
    verifier_over_mtu(1200, 2);
}
Test(hello_frag, verifier_browser_hello_at_mtu_500)
{
    verifier_over_mtu(500, 3);
}
Test(hello_frag, verifier_browser_hello_at_mtu_200)
{
    verifier_over_mtu(200, 8);
}

Test(hello_frag, verifier_refuses_what_it_cannot_check)
{
    cdtls_config sc;
    psk_config(&sc, NULL);
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    static uint8_t body[4096];
    size_t bl = browser_hello(body, NULL, 0);
    uint8_t d[1600], reply[256];
    size_t n, rn;
    /* a first fragment too short to hold the hello through its cookie */
    n = hello_record(d, 0, 0, body, bl, 0, 30);
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_DECODE);
    cr_assert_eq(rn, 0);
    /* a hello claiming more than CDTLS_MAX_CLIENT_HELLO_LEN */
    n = hello_record(d, 0, 0, body, CDTLS_MAX_CLIENT_HELLO_LEN + 1, 0, 200);
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_LIMIT);
    cr_assert_eq(rn, 0);
    /* ... exactly the limit is answered */
    n = hello_record(d, 0, 0, body, CDTLS_MAX_CLIENT_HELLO_LEN, 0, 200);
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_WOULD_BLOCK);
    /* a whole hello that does not parse gets no reply (no reflection of garbage) */
    n = hello_record(d, 0, 0, body, 200, 0, 200);
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_DECODE);
    /* epoch 1, or another content type: not a hello start */
    n = hello_record(d, 0, 0, body, bl, 0, 200);
    d[4] = 1;
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_DECODE);
    d[4] = 0, d[0] = 23;
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_DECODE);
    /* a record running past the datagram ends the search */
    d[0] = 22;
    cr_assert_eq(cdtls_hello_verifier_check(v, "p", 1, d, n - 1, 1001, reply, sizeof reply, &rn),
                 CDTLS_ERR_DECODE);
    cdtls_hello_verifier_free(v);
}

/* ------------------------------------ our own client, fragmenting, end to end */

typedef struct net {
    dgrams to_server;
} net;

/* Takes what the client sends, last datagram first, each twice. */
static void client_flight_reversed(cdtls_conn *c, net *nt)
{
    static dgrams got;
    got.count = 0;
    while (got.count < 16 && cdtls_conn_next_datagram(c, got.d[got.count], sizeof got.d[0], &got.n[got.count],
                                                      NULL) == CDTLS_OK)
        got.count++;
    nt->to_server.count = 0;
    for (size_t i = got.count; i-- > 0;)
        for (int k = 0; k < 2 && nt->to_server.count < 16; k++) {
            memcpy(nt->to_server.d[nt->to_server.count], got.d[i], got.n[i]);
            nt->to_server.n[nt->to_server.count++] = got.n[i];
        }
}

/* What the socket listener does with one batch of datagrams from a peer it
 * has no connection for: the verifier for each, and once one makes the
 * connection, the batch's earlier datagrams go to it too. */
static void server_batch(cdtls_hello_verifier *v, const cdtls_config *sc, cdtls_conn **s, cdtls_conn *client,
                         const net *nt, uint64_t now, int *hvrs)
{
    for (size_t i = 0; i < nt->to_server.count; i++) {
        if (*s) {
            cr_assert_eq(cdtls_conn_recv(*s, nt->to_server.d[i], nt->to_server.n[i], NULL, now), CDTLS_OK);
            continue;
        }
        uint8_t reply[256];
        size_t rn;
        int rc = cdtls_hello_verifier_check(v, "client", 6, nt->to_server.d[i], nt->to_server.n[i], now,
                                            reply, sizeof reply, &rn);
        if (rc == CDTLS_ERR_WOULD_BLOCK) {
            (*hvrs)++;
            cr_assert_eq(cdtls_conn_recv(client, reply, rn, NULL, now), CDTLS_OK);
        } else if (rc == CDTLS_OK) {
            cr_assert_eq(cdtls_conn_new(sc, CDTLS_SERVER, now, s), CDTLS_OK);
            cr_assert_eq(cdtls_conn_set_peer_address(*s, "client", 6), CDTLS_OK);
            cr_assert_eq(cdtls_conn_set_cookie_verified(*s), CDTLS_OK);
            cr_assert_eq(cdtls_conn_recv(*s, nt->to_server.d[i], nt->to_server.n[i], NULL, now), CDTLS_OK);
            for (size_t j = 0; j < i; j++)
                cr_assert_eq(cdtls_conn_recv(*s, nt->to_server.d[j], nt->to_server.n[j], NULL, now),
                             CDTLS_OK);
        } else {
            cr_assert_eq(rc, CDTLS_ERR_DECODE);
        }
    }
}

Test(hello_frag, our_fragmenting_client_reversed_and_duplicated)
{
    cdtls_config cc, sc;
    psk_config(&cc, NULL);
    psk_config(&sc, NULL);
    /* MTU 128 (the least the engine takes): our hello goes out in 103-byte
     * fragments; a long ALPN list makes it several of them */
    static const char *const alpn[] = {"webrtc",
                                       "c-webrtc",
                                       "coap",
                                       "lwm2m",
                                       "h3",
                                       "some-long-protocol-name-1",
                                       "some-long-protocol-name-2",
                                       "some-long-protocol-name-3",
                                       "some-long-protocol-name-4",
                                       "some-long-protocol-name-5",
                                       "some-long-protocol-name-6",
                                       "some-long-protocol-name-7"};
    cc.mtu = 128;
    /* X25519 only: an X25519MLKEM768 hello (1.4 KB) would take more than
     * the 16 datagrams this test's net holds at this MTU */
    static const uint16_t x25519_only[] = {29};
    cc.negotiate.groups = x25519_only, cc.negotiate.n_groups = 1;
    cc.alpn.protocols = alpn;
    cc.alpn.n_protocols = sizeof alpn / sizeof alpn[0];
    sc.alpn.protocols = alpn;
    sc.alpn.n_protocols = 1;
    /* the client never retransmits within this test: the handshake has to
     * complete from one copy of each flight, reversed */
    cc.timers.retransmit_initial_ms = 60000;
    cc.timers.handshake_timeout_ms = 120000;
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    cdtls_conn *c, *s = NULL;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    static net nt;
    int hvrs = 0, max_frags = 0;
    for (int round = 0; round < 20; round++) {
        uint64_t now = 1000 + (uint64_t)round;
        client_flight_reversed(c, &nt);
        if ((int)nt.to_server.count / 2 > max_frags && !s) max_frags = (int)nt.to_server.count / 2;
        server_batch(v, &sc, &s, c, &nt, now, &hvrs);
        if (s) {
            uint8_t d[1600];
            size_t n;
            while (cdtls_conn_next_datagram(s, d, sizeof d, &n, NULL) == CDTLS_OK)
                cr_assert_eq(cdtls_conn_recv(c, d, n, NULL, now), CDTLS_OK);
        }
        if (cdtls_conn_get_state(c) == CDTLS_STATE_ESTABLISHED && s &&
            cdtls_conn_get_state(s) == CDTLS_STATE_ESTABLISHED)
            break;
    }
    cr_assert_geq(max_frags, 3, "the hello went out in %d datagrams", max_frags);
    cr_assert_eq(hvrs, 2, "one HelloVerifyRequest per copy of the first hello's first fragment (got %d)",
                 hvrs);
    cr_assert(s, "the second hello's cookie was verified");
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(s)));
    /* and data flows */
    uint8_t d[1600];
    size_t n;
    cr_assert_eq(cdtls_conn_write(c, (const uint8_t *)"after-frag", 10, NULL), CDTLS_OK);
    while (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK)
        cdtls_conn_recv(s, d, n, NULL, 1100);
    cr_assert_eq(cdtls_conn_read(s, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert(n == 10 && memcmp(d, "after-frag", 10) == 0);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
    cdtls_hello_verifier_free(v);
}

/* A fragment that disagrees with bytes already received is dropped (RFC
 * 6347 §4.2.3 gives no rule; taking it would let an off-path sender
 * rewrite the hello): the genuine fragments complete the handshake. */
Test(hello_frag, conflicting_overlap_is_dropped)
{
    cdtls_config sc;
    psk_config(&sc, NULL);
    static uint8_t body[4096];
    size_t bl = browser_hello(body, NULL, 0);
    static dgrams w;
    cut_hello(&w, body, bl, 0, 0, 500);
    cdtls_conn *s;
    sc.cookie.exchange = 0;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(s, w.d[0], w.n[0], NULL, 1000), CDTLS_OK);
    /* bytes 400..600, with the cipher suite list's bytes changed */
    static uint8_t bad[4096];
    memcpy(bad, body, bl);
    for (size_t i = 400; i < 600; i++) bad[i] ^= 0xff;
    uint8_t d[1600], out[1600];
    size_t n = hello_record(d, 50, 0, bad, bl, 400, 200), on;
    cr_assert_eq(cdtls_conn_recv(s, d, n, NULL, 1000), CDTLS_OK);
    for (size_t i = 1; i < w.count; i++)
        cr_assert_eq(cdtls_conn_recv(s, w.d[i], w.n[i], NULL, 1000), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(s, out, sizeof out, &on, NULL), CDTLS_OK);
    cr_assert_eq(out[13], 2, "ServerHello from the genuine bytes");
    cdtls_conn_free(s);
}
