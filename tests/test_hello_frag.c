/* ClientHellos in fragments (issues 14 and 16; RFC 6347 §4.2.1, §4.2.3;
 * RFC 9147 §5.1, §5.3, §5.5): what a DTLS 1.3 browser with an
 * X25519MLKEM768 key share sends is ~1.4 KB, cut over several records and
 * datagrams. Without DTLS 1.3 the stateless hello verifier answers the
 * first hello from its first fragment and checks the second hello's cookie
 * on its first fragment, allocating nothing. With DTLS 1.3 it reassembles
 * the hello under hard bounds (src/engine/hello_reasm.c) and answers a 1.3
 * one with the stateless HelloRetryRequest over the whole hello, never
 * with a HelloVerifyRequest; the connection made then refuses a 1.3 hello
 * with a legacy_cookie (RFC 9147 §5.3). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/cdtls.h"

#include "cdtls/io.h"
#include "counting_alloc.h"
#include "common/dtls.h"
#include "engine/hello_reasm.h"
#include "test_util.h"

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
    uint8_t d[20000];
    size_t n;
} buf;

/* Bytes of the padding extension in the browser hello (20 as Firefox
 * sends; a test makes hellos of 10 KB and more with it). */
static size_t pad_len = 20;

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
static size_t browser_hello_ex(uint8_t *out, const uint8_t *cookie, size_t cookie_len,
                               const uint8_t *cookie13, size_t cookie13_len, const char *identity);
static size_t browser_hello(uint8_t *out, const uint8_t *cookie, size_t cookie_len)
{
    return browser_hello_ex(out, cookie, cookie_len, NULL, 0, NULL);
}

/* The same with a legacy_cookie, a 1.3 cookie extension (NULL: 8 bytes of
 * someone else's) and a PSK identity (NULL: 8 bytes nobody knows). */
static size_t browser_hello_ex(uint8_t *out, const uint8_t *cookie, size_t cookie_len,
                               const uint8_t *cookie13, size_t cookie13_len, const char *identity)
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
    e = ext_begin(&b, 0x002c); /* cookie (the 1.3 one) */
    if (cookie13)
        put16(&b, (unsigned)cookie13_len), putn(&b, cookie13, cookie13_len);
    else
        put16(&b, 8), fill(&b, 0x33, 8);
    len16_end(&b, e);
    e = ext_begin(&b, 0x0031); /* post_handshake_auth */
    len16_end(&b, e);
    e = ext_begin(&b, 0x0015); /* padding */
    fill(&b, 0, pad_len);
    len16_end(&b, e);
    e = ext_begin(&b, 0x0029); /* pre_shared_key: one identity, one binder */
    size_t il = identity ? strlen(identity) : 8;
    put16(&b, (unsigned)(2 + il + 4)), put16(&b, (unsigned)il);
    if (identity)
        putn(&b, identity, il);
    else
        fill(&b, 0x77, 8);
    put8(&b, 0), put8(&b, 0), put8(&b, 0), put8(&b, 1);
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
    uint8_t d[32][1600];
    size_t n[32];
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
        cr_assert(w->count < 32);
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

/* A server that speaks DTLS 1.2 only: nothing is reassembled, the first
 * fragment is answered with a HelloVerifyRequest (issue 14). */
static void verifier_over_mtu(size_t mtu, size_t want_fragments)
{
    counting cnt;
    cdtls_config sc;
    psk_config(&sc, &cnt);
    sc.versions.max = CDTLS_VERSION_1_2;
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

Test(hello_frag, verifier12_browser_hello_at_mtu_1200)
{
    verifier_over_mtu(1200, 2);
}
Test(hello_frag, verifier12_browser_hello_at_mtu_500)
{
    verifier_over_mtu(500, 3);
}
Test(hello_frag, verifier12_browser_hello_at_mtu_200)
{
    verifier_over_mtu(200, 8);
}

Test(hello_frag, verifier_refuses_what_it_cannot_check)
{
    cdtls_config sc;
    psk_config(&sc, NULL);
    sc.versions.max = CDTLS_VERSION_1_2;
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
 * has no connection for: the verifier for each; once one makes the
 * connection, the connection gets the whole hello the verifier reassembled
 * (if it did) or that datagram and the batch's earlier ones. */
static void server_batch(cdtls_hello_verifier *v, const cdtls_config *sc, cdtls_conn **s, cdtls_conn *client,
                         const net *nt, uint64_t now, int *hvrs, int *hrrs)
{
    for (size_t i = 0; i < nt->to_server.count; i++) {
        if (*s) {
            cr_assert_eq(cdtls_conn_recv(*s, nt->to_server.d[i], nt->to_server.n[i], NULL, now), CDTLS_OK);
            continue;
        }
        uint8_t reply[512];
        size_t rn, hl = 0;
        uint8_t *hello = NULL;
        int rc = cdtls_hello_verifier_check_full(v, "client", 6, nt->to_server.d[i], nt->to_server.n[i], now,
                                                 reply, sizeof reply, &rn, &hello, &hl);
        if (rc == CDTLS_ERR_WOULD_BLOCK && rn) {
            cr_assert_eq(reply[13], reply[25] == 0xfe && reply[26] == 0xfd && reply[13] == 2 ? 2 : reply[13]);
            if (reply[13] == 3)
                (*hvrs)++;
            else
                (*hrrs)++;
            cr_assert_eq(cdtls_conn_recv(client, reply, rn, NULL, now), CDTLS_OK);
        } else if (rc == CDTLS_ERR_WOULD_BLOCK) {
            cr_assert_null(hello); /* held for reassembly */
        } else if (rc == CDTLS_OK) {
            cr_assert_eq(cdtls_conn_new(sc, CDTLS_SERVER, now, s), CDTLS_OK);
            cr_assert_eq(cdtls_conn_set_peer_address(*s, "client", 6), CDTLS_OK);
            cr_assert_eq(cdtls_conn_set_cookie_verified(*s), CDTLS_OK);
            if (hello) {
                cr_assert_eq(cdtls_conn_recv(*s, hello, hl, NULL, now), CDTLS_OK);
                cdtls_hello_verifier_release(v, hello, hl);
            } else {
                cr_assert_eq(cdtls_conn_recv(*s, nt->to_server.d[i], nt->to_server.n[i], NULL, now),
                             CDTLS_OK);
                for (size_t j = 0; j < i; j++)
                    cr_assert_eq(cdtls_conn_recv(*s, nt->to_server.d[j], nt->to_server.n[j], NULL, now),
                                 CDTLS_OK);
            }
        } else {
            cr_assert(rc == CDTLS_ERR_DECODE || rc == CDTLS_ERR_LIMIT, "%s", cdtls_strerror(rc));
        }
    }
}

/* Our client with MTU 128 (the least the engine takes) and a long ALPN
 * list, so its hello goes out in several fragments; every flight reaches
 * the other side last datagram first, each twice. server_max: the
 * server's highest version. */
static void fragmenting_client_reversed(uint16_t server_max, counting *cnt)
{
    cdtls_config cc, sc;
    psk_config(&cc, NULL);
    psk_config(&sc, cnt);
    sc.versions.max = server_max;
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
    int hvrs = 0, hrrs = 0, max_frags = 0;
    for (int round = 0; round < 20; round++) {
        uint64_t now = 1000 + (uint64_t)round;
        client_flight_reversed(c, &nt);
        if ((int)nt.to_server.count / 2 > max_frags && !s) max_frags = (int)nt.to_server.count / 2;
        server_batch(v, &sc, &s, c, &nt, now, &hvrs, &hrrs);
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
    if (server_max == CDTLS_VERSION_1_2) {
        cr_assert_eq(hvrs, 2, "one HelloVerifyRequest per copy of the first hello's first fragment (got %d)",
                     hvrs);
        cr_assert_eq(hrrs, 0);
    } else {
        /* one HelloRetryRequest when the first hello is whole; its second
         * copies start a new reassembly that never completes */
        cr_assert_eq(hvrs, 0, "no HelloVerifyRequest to a 1.3 hello (got %d)", hvrs);
        cr_assert_eq(hrrs, 1, "one HelloRetryRequest (got %d)", hrrs);
    }
    cr_assert(s, "the second hello's cookie was verified");
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED, "%s", cdtls_strerror(cdtls_conn_error(s)));
    cr_assert_eq(cdtls_conn_version(c), server_max);
    cr_assert_eq(cdtls_conn_version(s), server_max);
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

Test(hello_frag, our_fragmenting_client_reversed_and_duplicated)
{
    fragmenting_client_reversed(CDTLS_VERSION_1_2, NULL);
}

Test(hello_frag, our_fragmenting_client13_reversed_and_duplicated)
{
    test_require_dtls13();
    counting cnt;
    fragmenting_client_reversed(CDTLS_VERSION_1_3, &cnt);
    cr_assert_eq(cnt.live, 0, "%zu bytes left", cnt.live);
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

/* ------------------------------------- DTLS 1.3: reassembled, then answered */

/* The cookie extension of a HelloRetryRequest record (RFC 8446 §4.2.2). */
static size_t hrr_cookie(const uint8_t *reply, size_t n, uint8_t *out)
{
    static const uint8_t hrr_random[4] = {0xcf, 0x21, 0xad, 0x74}; /* SHA-256("HelloRetryRequest") */
    cr_assert(n > 13 + 12 + 40 && reply[0] == 22 && reply[13] == 2, "a ServerHello-type record");
    const uint8_t *b = reply + 25, *end = reply + n;
    cr_assert(memcmp(b + 2, hrr_random, 4) == 0, "a HelloRetryRequest, not a ServerHello");
    const uint8_t *p = b + 2 + 32;
    p += 1 + p[0]; /* legacy_session_id_echo */
    p += 2 + 1;    /* cipher_suite, legacy_compression_method */
    p += 2;        /* extensions length */
    while (p + 4 <= end) {
        unsigned type = (unsigned)(p[0] << 8 | p[1]), len = (unsigned)(p[2] << 8 | p[3]);
        if (type == 0x002c) {
            size_t cl = (size_t)(p[4] << 8 | p[5]);
            memcpy(out, p + 6, cl);
            return cl;
        }
        p += 4 + len;
    }
    cr_assert_fail("no cookie in the HelloRetryRequest");
    return 0;
}

typedef struct reply {
    int rc;
    uint8_t d[512];
    size_t n;
} reply;

static reply check(cdtls_hello_verifier *v, const char *addr, const uint8_t *d, size_t n, uint64_t now)
{
    reply r;
    r.rc = cdtls_hello_verifier_check(v, addr, strlen(addr), d, n, now, r.d, sizeof r.d, &r.n);
    return r;
}

/* Sends fragments w->d[order[i]] and expects every one but the last to be
 * held (WOULD_BLOCK, nothing to send); returns the last one's reply. */
static reply feed_order(cdtls_hello_verifier *v, const char *addr, const dgrams *w, const size_t *order,
                        size_t n_order, uint64_t now)
{
    for (size_t i = 0; i + 1 < n_order; i++) {
        reply r = check(v, addr, w->d[order[i]], w->n[order[i]], now);
        cr_assert_eq(r.rc, CDTLS_ERR_WOULD_BLOCK, "fragment %zu: %s", order[i], cdtls_strerror(r.rc));
        cr_assert_eq(r.n, 0, "fragment %zu is held, not answered", order[i]);
    }
    return check(v, addr, w->d[order[n_order - 1]], w->n[order[n_order - 1]], now);
}

enum { IN_ORDER, REVERSED, SHUFFLED_DUPLICATED };

/* The browser hello in fragments at this MTU, in the given order: the
 * verifier answers the first hello with the very HelloRetryRequest it gives
 * the same hello unfragmented (the cookie binds the hash of the whole
 * hello, RFC 9147 §5.1), never with a HelloVerifyRequest; the second hello
 * with that cookie, fragmented too, passes and comes back whole for the
 * connection; everything held is freed. */
static void verifier13_over_mtu(size_t mtu, size_t want_fragments, int how)
{
    counting cnt;
    cdtls_config sc;
    psk_config(&sc, &cnt);
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    const size_t live0 = cnt.live;
    static uint8_t body[20000];
    size_t bl = browser_hello(body, NULL, 0);
    static dgrams w;
    cut_hello(&w, body, bl, 0, 0, mtu);
    cr_assert_geq(w.count, want_fragments);
    size_t order[64], no = 0;
    for (size_t i = 0; i < w.count; i++) order[no++] = how == REVERSED ? w.count - 1 - i : i;
    if (how == SHUFFLED_DUPLICATED) {
        /* odd ones first, each twice, then the even ones last first */
        no = 0;
        for (size_t i = 1; i < w.count; i += 2) order[no++] = i, order[no++] = i;
        for (size_t i = w.count; i-- > 0;)
            if (!(i & 1)) order[no++] = i;
    }
    reply got = feed_order(v, "peer-a", &w, order, no, 1001);
    cr_assert_eq(got.rc, CDTLS_ERR_WOULD_BLOCK);
    cr_assert_gt(got.n, 0, "the completed hello is answered");
    cr_assert_eq(got.d[13], 2, "a HelloRetryRequest, not a HelloVerifyRequest (%u)", got.d[13]);
    cr_assert_eq(cnt.live, live0, "nothing held once answered");
    /* the same hello whole, in a record numbered as the highest fragment */
    static uint8_t one[20000];
    size_t on = hello_record(one, w.count - 1, 0, body, bl, 0, bl);
    reply ref = check(v, "peer-a", one, on, 1001);
    cr_assert_eq(ref.rc, CDTLS_ERR_WOULD_BLOCK);
    cr_assert(ref.n == got.n && memcmp(ref.d, got.d, ref.n) == 0, "the same HelloRetryRequest");

    /* the second hello, cookie in its last fragments, fragmented reversed */
    uint8_t ck[256];
    size_t ckl = hrr_cookie(got.d, got.n, ck);
    static uint8_t body2[20000];
    size_t bl2 = browser_hello_ex(body2, NULL, 0, ck, ckl, NULL);
    static dgrams w2;
    cut_hello(&w2, body2, bl2, 1, w.count, mtu);
    for (size_t i = 0; i < w2.count; i++) order[i] = w2.count - 1 - i;
    /* from another address the cookie does not pass: a new HelloRetryRequest */
    reply other = feed_order(v, "peer-b", &w2, order, w2.count, 1002);
    cr_assert_eq(other.rc, CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(other.d[13], 2);
    for (size_t i = 0; i + 1 < w2.count; i++) {
        reply r = check(v, "peer-a", w2.d[order[i]], w2.n[order[i]], 1002);
        cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n == 0);
    }
    uint8_t rb[512], *hello = NULL;
    size_t rn = 0, hl = 0;
    size_t last = order[w2.count - 1];
    cr_assert_eq(cdtls_hello_verifier_check_full(v, "peer-a", 6, w2.d[last], w2.n[last], 1002, rb, sizeof rb,
                                                 &rn, &hello, &hl),
                 CDTLS_OK);
    cr_assert_eq(rn, 0);
    cr_assert_not_null(hello, "the whole hello for the connection");
    /* it is epoch-0 handshake records whose fragments are exactly body2 */
    static uint8_t again[20000];
    size_t at = 0, total = 0;
    while (at < hl) {
        cr_assert(hl - at >= 25 && hello[at] == 22 && hello[at + 3] == 0 && hello[at + 4] == 0);
        size_t rl = (size_t)(hello[at + 11] << 8 | hello[at + 12]);
        const uint8_t *hs = hello + at + 13;
        size_t len = (size_t)(hs[1] << 16 | hs[2] << 8 | hs[3]),
               off = (size_t)(hs[6] << 16 | hs[7] << 8 | hs[8]),
               fl = (size_t)(hs[9] << 16 | hs[10] << 8 | hs[11]);
        cr_assert(hs[0] == 1 && len == bl2 && (hs[4] << 8 | hs[5]) == 1 && fl + 12 == rl && off + fl <= bl2);
        memcpy(again + off, hs + 12, fl);
        total += fl;
        at += 13 + rl;
    }
    cr_assert(total == bl2 && memcmp(again, body2, bl2) == 0);
    cdtls_hello_verifier_release(v, hello, hl);
    /* peer-b's second hello is still held: the free takes it */
    cdtls_hello_verifier_free(v);
    cr_assert_eq(cnt.live, 0, "%zu bytes left", cnt.live);
}

Test(hello_frag, verifier13_browser_hello_at_mtu_1200)
{
    test_require_dtls13();
    verifier13_over_mtu(1200, 2, IN_ORDER);
}
Test(hello_frag, verifier13_browser_hello_at_mtu_500_reversed)
{
    test_require_dtls13();
    verifier13_over_mtu(500, 3, REVERSED);
}
Test(hello_frag, verifier13_browser_hello_at_mtu_300_shuffled_duplicated)
{
    test_require_dtls13();
    verifier13_over_mtu(300, 6, SHUFFLED_DUPLICATED);
}
Test(hello_frag, verifier13_browser_hello_at_mtu_200_reversed)
{
    test_require_dtls13();
    verifier13_over_mtu(200, 8, REVERSED);
}
/* A 12 KB hello (a long padding extension) in 11 fragments: the whole
 * second hello comes back as two records (at most 8 KB of it each). */
Test(hello_frag, verifier13_12k_hello_reversed)
{
    test_require_dtls13();
    pad_len = 10600;
    verifier13_over_mtu(1200, 11, REVERSED);
    pad_len = 20; /* the shim runner runs tests in one process */
}

/* Several fragments in one datagram (records one after another, RFC 6347
 * §4.1.1), with one fragment in two records' worth of overlap: answered as
 * the whole hello is. An overlap whose bytes differ is dropped (RFC 9147
 * §5.5 / RFC 6347 §4.2.3 leave it open; taking it would let a spoofing
 * sender rewrite the hello) and the genuine bytes decide. */
Test(hello_frag, verifier13_overlaps_and_inconsistent_fragments)
{
    test_require_dtls13();
    cdtls_config sc;
    psk_config(&sc, NULL);
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    static uint8_t body[4096], bad[4096];
    size_t bl = browser_hello(body, NULL, 0);
    static uint8_t one[4096];
    size_t on = hello_record(one, 9, 0, body, bl, 0, bl);
    reply ref = check(v, "p", one, on, 1001);
    cr_assert(ref.rc == CDTLS_ERR_WOULD_BLOCK && ref.d[13] == 2);

    /* [0,600) and [400,1000) in one datagram, then [900, end) */
    static uint8_t d[4096];
    size_t n = hello_record(d, 7, 0, body, bl, 0, 600);
    n += hello_record(d + n, 8, 0, body, bl, 400, 600);
    reply r = check(v, "p", d, n, 1001);
    cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n == 0);
    /* [800, 1200) with its bytes flipped: dropped */
    memcpy(bad, body, bl);
    for (size_t i = 800; i < 1200; i++) bad[i] ^= 0x5a;
    n = hello_record(d, 9, 0, bad, bl, 800, 400);
    r = check(v, "p", d, n, 1001);
    cr_assert_eq(r.rc, CDTLS_ERR_DECODE, "an inconsistent overlap is dropped");
    /* a fragment claiming another length: dropped */
    n = hello_record(d, 9, 0, body, bl + 1, 900, 100);
    r = check(v, "p", d, n, 1001);
    cr_assert_eq(r.rc, CDTLS_ERR_DECODE);
    n = hello_record(d, 9, 0, body, bl, 900, bl - 900);
    r = check(v, "p", d, n, 1001);
    cr_assert_eq(r.rc, CDTLS_ERR_WOULD_BLOCK);
    cr_assert(r.n == ref.n && memcmp(r.d, ref.d, r.n) == 0, "answered from the genuine bytes");
    cdtls_hello_verifier_free(v);
}

/* An address of a listener (cdtls_addr): per-source limits group /24s. */
static cdtls_addr v4(unsigned a, unsigned b, unsigned c, unsigned d, uint16_t port)
{
    cdtls_addr x;
    memset(&x, 0, sizeof x);
    x.ip.family = 4;
    x.ip.addr[0] = (uint8_t)a, x.ip.addr[1] = (uint8_t)b, x.ip.addr[2] = (uint8_t)c,
    x.ip.addr[3] = (uint8_t)d;
    x.port = port;
    return x;
}

static int check_addr(cdtls_hello_verifier *v, const cdtls_addr *a, const uint8_t *d, size_t n, uint64_t now,
                      size_t *rn)
{
    uint8_t r[512];
    return cdtls_hello_verifier_check(v, a, sizeof *a, d, n, now, r, sizeof r, rn);
}

/* A flood of first fragments that never complete, from many addresses:
 * what the verifier holds stays within cfg.hello_reasm (entries and bytes,
 * counted by the allocator), the oldest go first, and a genuine fragmented
 * hello sent after the flood is still answered with a HelloRetryRequest. */
Test(hello_frag, verifier13_fragment_flood_stays_in_budget)
{
    test_require_dtls13();
    counting cnt;
    cdtls_config sc;
    psk_config(&sc, &cnt);
    sc.hello_reasm.max_pending = 64;
    sc.hello_reasm.budget = 256 * 1024;
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    const size_t live0 = cnt.live;
    /* each claims a 16 KB hello and sends 1,100 bytes of it */
    static uint8_t big[CDTLS_MAX_CLIENT_HELLO_LEN];
    memset(big, 0x41, sizeof big);
    uint8_t d[1600];
    size_t n = hello_record(d, 0, 0, big, sizeof big, 0, 1100), rn;
    for (unsigned i = 0; i < 5000; i++) {
        cdtls_addr a = v4(10, (i >> 8) & 0xff, i & 0xff, 1 + i % 200, (uint16_t)(1000 + i));
        cr_assert_eq(check_addr(v, &a, d, n, 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
        cr_assert_eq(rn, 0);
        cr_assert_leq(cnt.live - live0, sc.hello_reasm.budget, "%zu bytes held", cnt.live - live0);
    }
    cr_assert_leq(cnt.peak - live0, sc.hello_reasm.budget);
    /* 64 entries of ~1,100 bytes and their bookkeeping: well inside */
    cr_assert_geq(cnt.live - live0, 64 * 1100u, "the last 64 are held (%zu bytes)", cnt.live - live0);
    const size_t full = cnt.live;
    /* a genuine hello in three fragments still gets its answer */
    static uint8_t body[4096];
    size_t bl = browser_hello(body, NULL, 0);
    static dgrams w;
    cut_hello(&w, body, bl, 0, 0, 500);
    cdtls_addr me = v4(192, 0, 2, 7, 4433);
    uint8_t r[512];
    for (size_t i = 0; i < w.count; i++) {
        int rc = cdtls_hello_verifier_check(v, &me, sizeof me, w.d[i], w.n[i], 1002, r, sizeof r, &rn);
        cr_assert_eq(rc, CDTLS_ERR_WOULD_BLOCK);
        cr_assert_eq(rn != 0, i + 1 == w.count);
    }
    cr_assert_eq(r[13], 2, "a HelloRetryRequest");
    cr_assert_leq(cnt.live, full);

    /* A budget smaller than the hellos: the bytes, not the count, bind. */
    cdtls_hello_verifier_free(v);
    cr_assert_eq(cnt.live, 0);
    psk_config(&sc, &cnt);
    sc.hello_reasm.budget = 32 * 1024;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    const size_t live1 = cnt.live;
    for (unsigned i = 0; i < 1000; i++) {
        cdtls_addr a = v4(172, 16, (i >> 8) & 0xff, i & 0xff, 9);
        cr_assert_eq(check_addr(v, &a, d, n, 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
    }
    cr_assert_leq(cnt.peak - live1, sc.hello_reasm.budget, "peak %zu", cnt.peak - live1);
    cdtls_hello_verifier_free(v);
    cr_assert_eq(cnt.live, 0);
}

/* One /24 holds at most max_per_source hellos: its ninth evicts its first,
 * and other sources' hellos are untouched. */
Test(hello_frag, verifier13_per_source_limit)
{
    test_require_dtls13();
    counting cnt;
    cdtls_config sc;
    psk_config(&sc, &cnt);
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    static uint8_t body[4096];
    size_t bl = browser_hello(body, NULL, 0);
    static dgrams w;
    cut_hello(&w, body, bl, 0, 0, 500);
    size_t rn;
    /* a genuine client elsewhere starts first */
    cdtls_addr me = v4(192, 0, 2, 7, 4433);
    cr_assert_eq(check_addr(v, &me, w.d[0], w.n[0], 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
    cdtls_addr first = v4(203, 0, 113, 1, 1);
    cr_assert_eq(check_addr(v, &first, w.d[0], w.n[0], 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
    size_t per_entry = 0, before = cnt.live;
    for (unsigned i = 2; i <= CDTLS_HELLO_REASM_PER_SOURCE; i++) {
        cdtls_addr a = v4(203, 0, 113, i, 1);
        cr_assert_eq(check_addr(v, &a, w.d[0], w.n[0], 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
        if (!per_entry) per_entry = cnt.live - before;
    }
    const size_t at_limit = cnt.live;
    for (unsigned i = 100; i < 140; i++) {
        cdtls_addr a = v4(203, 0, 113, i, 1);
        cr_assert_eq(check_addr(v, &a, w.d[0], w.n[0], 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
        cr_assert_eq(cnt.live, at_limit, "the source's oldest made room");
    }
    /* the first of that /24 was evicted: its rest does not complete */
    for (size_t i = 1; i < w.count; i++) {
        cr_assert_eq(check_addr(v, &first, w.d[i], w.n[i], 1001, &rn), CDTLS_ERR_WOULD_BLOCK);
        cr_assert_eq(rn, 0);
    }
    /* the genuine one completes */
    for (size_t i = 1; i < w.count; i++)
        cr_assert_eq(check_addr(v, &me, w.d[i], w.n[i], 1002, &rn), CDTLS_ERR_WOULD_BLOCK);
    cr_assert_gt(rn, 0, "answered");
    cr_assert_gt(per_entry, 0);
    cdtls_hello_verifier_free(v);
    cr_assert_eq(cnt.live, 0);
}

/* A hello that never completes is dropped timeout_ms after its first
 * fragment: its bytes are freed, and its rest arriving later is held anew,
 * not answered. */
Test(hello_frag, verifier13_incomplete_hello_expires)
{
    test_require_dtls13();
    counting cnt;
    cdtls_config sc;
    psk_config(&sc, &cnt);
    sc.hello_reasm.timeout_ms = 2000;
    cdtls_hello_verifier *v;
    cr_assert_eq(cdtls_hello_verifier_new(&sc, 1000, &v), CDTLS_OK);
    const size_t live0 = cnt.live;
    static uint8_t body[4096];
    size_t bl = browser_hello(body, NULL, 0);
    static dgrams w;
    cut_hello(&w, body, bl, 0, 0, 1200);
    cr_assert_eq(w.count, 2);
    reply r = check(v, "slow", w.d[0], w.n[0], 1000);
    cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n == 0);
    cr_assert_gt(cnt.live, live0);
    /* 1 ms before: still there, completes */
    r = check(v, "slow", w.d[1], w.n[1], 2999);
    cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n > 0);
    r = check(v, "slow", w.d[0], w.n[0], 3000);
    cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n == 0);
    /* any traffic after the timeout drops it */
    r = check(v, "other", w.d[1], w.n[1], 5000);
    cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n == 0);
    r = check(v, "slow", w.d[1], w.n[1], 5001);
    cr_assert(r.rc == CDTLS_ERR_WOULD_BLOCK && r.n == 0, "its rest starts over, unanswered");
    /* and everything goes once nothing new comes */
    r = check(v, "x", (const uint8_t *)"junk", 4, 9000);
    cr_assert_eq(r.rc, CDTLS_ERR_DECODE);
    cr_assert_eq(cnt.live, live0, "expired hellos are freed");
    cdtls_hello_verifier_free(v);
}

/* RFC 9147 §5.3: "If a DTLS 1.3 ClientHello is received with any other
 * value [than a zero-length legacy_cookie], the server MUST abort the
 * handshake with an illegal_parameter alert" - also when a listener's
 * verifier passed it (its legacy cookie was ours). The same hello without
 * the legacy cookie gets past that check (and fails on its made-up binder:
 * decrypt_error), so the refusal is the cookie's. */
static int server_alert_for(const uint8_t *body, size_t bl, int verified, int *err)
{
    cdtls_config sc;
    psk_config(&sc, NULL);
    sc.cookie.exchange = 0;
    cdtls_conn *s;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(s, "p", 1), CDTLS_OK);
    if (verified) cr_assert_eq(cdtls_conn_set_cookie_verified(s), CDTLS_OK);
    static uint8_t d[4096];
    size_t n = hello_record(d, 0, 0, body, bl, 0, bl);
    (void)cdtls_conn_recv(s, d, n, NULL, 1000);
    uint8_t out[1600];
    size_t on = 0;
    int alert = -1;
    while (cdtls_conn_next_datagram(s, out, sizeof out, &on, NULL) == CDTLS_OK)
        if (out[0] == 21 && on >= 15) alert = out[14];
    *err = cdtls_conn_error(s);
    cdtls_conn_free(s);
    return alert;
}

Test(hello_frag, conn13_refuses_legacy_cookie)
{
    test_require_dtls13();
    static uint8_t body[4096];
    const uint8_t legacy[32] = {1, 2, 3};
    int err;
    for (int verified = 0; verified < 2; verified++) {
        size_t bl = browser_hello_ex(body, legacy, sizeof legacy, NULL, 0, "frag");
        cr_assert_eq(server_alert_for(body, bl, verified, &err), 47, "illegal_parameter");
        cr_assert_eq(err, CDTLS_ERR_ILLEGAL_PARAMETER);
        bl = browser_hello_ex(body, NULL, 0, NULL, 0, "frag");
        cr_assert_eq(server_alert_for(body, bl, verified, &err), 51, "decrypt_error: past the cookie check");
    }
}

/* --------------------------------------- the reassembly table on its own */

static hs_header frag_hdr(uint32_t len, uint16_t seq, uint32_t off, uint32_t flen)
{
    hs_header h = {HS_CLIENT_HELLO, len, seq, off, flen};
    return h;
}

Test(hello_reasm, keyed_by_address_and_message_seq)
{
    counting cnt;
    const cdtls_allocator *a = counting_init(&cnt);
    hello_reasm t;
    hello_reasm_limits lim = {8, 8, 4096, 1 << 20, 1000};
    hello_reasm_init(&t, a, &lim);
    uint8_t msg[300];
    for (int i = 0; i < 300; i++) msg[i] = (uint8_t)(i * 7);
    hello_pending *done = NULL;
    hs_header h = frag_hdr(300, 0, 0, 100);
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"a", 1, &h, msg, 5, 10, &done), CDTLS_OK);
    h = frag_hdr(300, 1, 100, 200); /* another message_seq: its own entry */
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"a", 1, &h, msg + 100, 6, 10, &done), CDTLS_OK);
    h = frag_hdr(300, 0, 100, 200); /* another address: its own entry */
    cr_assert_eq(hello_reasm_add(&t, "b", 1, (const uint8_t *)"b", 1, &h, msg + 100, 6, 10, &done), CDTLS_OK);
    cr_assert_eq(t.n, 3);
    h = frag_hdr(300, 0, 50, 250);
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"a", 1, &h, msg + 50, 3, 11, &done), 1);
    const uint8_t *m;
    size_t ml;
    cr_assert(hello_pending_message(done, &m, &ml));
    cr_assert_eq(ml, 312u);
    hs_header whole;
    hs_header_get(m, &whole);
    cr_assert(whole.length == 300 && whole.fragment_offset == 0 && whole.fragment_length == 300 &&
              whole.message_seq == 0);
    cr_assert(memcmp(m + 12, msg, 300) == 0);
    cr_assert_eq(done->max_record_seq, 5u, "the highest record number of its fragments");
    hello_reasm_drop(&t, done);
    cr_assert_eq(t.n, 2);
    hello_reasm_forget(&t, "b", 1, 0);
    cr_assert_eq(t.n, 1);
    hello_reasm_free(&t);
    cr_assert_eq(cnt.live, 0);
    cr_assert_eq(t.budget.used, 0);
}

Test(hello_reasm, refuses_what_it_must)
{
    counting cnt;
    const cdtls_allocator *a = counting_init(&cnt);
    hello_reasm t;
    hello_reasm_limits lim = {2, 1, 1000, 1 << 20, 1000};
    hello_reasm_init(&t, a, &lim);
    uint8_t msg[2000] = {0};
    hello_pending *done;
    hs_header h = frag_hdr(1001, 0, 0, 10); /* over max_hello */
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done), CDTLS_ERR_LIMIT);
    h = frag_hdr(100, 0, 95, 10); /* past its message */
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done),
                 CDTLS_ERR_DECODE);
    h = frag_hdr(100, 0, 10, 0); /* empty */
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done),
                 CDTLS_ERR_DECODE);
    h = frag_hdr(100, 0, 0, 10);
    h.type = 2; /* not a ClientHello */
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done), CDTLS_ERR_LIMIT);
    uint8_t long_addr[HELLO_REASM_ADDR_MAX + 1] = {0};
    h = frag_hdr(100, 0, 0, 10);
    cr_assert_eq(
        hello_reasm_add(&t, long_addr, sizeof long_addr, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done),
        CDTLS_ERR_LIMIT);
    cr_assert_eq(t.n, 0, "nothing held for refused fragments");
    cr_assert_eq(cnt.live, 0);
    /* one per source: the second from "s" evicts the first */
    cr_assert_eq(hello_reasm_add(&t, "a", 1, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done), CDTLS_OK);
    cr_assert_eq(hello_reasm_add(&t, "b", 1, (const uint8_t *)"s", 1, &h, msg, 0, 0, &done), CDTLS_OK);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(t.oldest->addr[0], 'b');
    /* two at most: a third source evicts the oldest */
    cr_assert_eq(hello_reasm_add(&t, "c", 1, (const uint8_t *)"t", 1, &h, msg, 0, 1, &done), CDTLS_OK);
    cr_assert_eq(hello_reasm_add(&t, "d", 1, (const uint8_t *)"u", 1, &h, msg, 0, 2, &done), CDTLS_OK);
    cr_assert_eq(t.n, 2);
    cr_assert(t.oldest->addr[0] == 'c' && t.newest->addr[0] == 'd');
    /* an inconsistent overlap is dropped, the entry keeps its bytes */
    uint8_t other[10];
    memset(other, 1, sizeof other);
    h = frag_hdr(100, 0, 5, 10);
    size_t used = t.budget.used;
    cr_assert_eq(hello_reasm_add(&t, "d", 1, (const uint8_t *)"u", 1, &h, other, 0, 2, &done),
                 CDTLS_ERR_DECODE);
    cr_assert_eq(t.budget.used, used);
    /* so is a fragment claiming another length */
    h = frag_hdr(101, 0, 50, 10);
    cr_assert_eq(hello_reasm_add(&t, "d", 1, (const uint8_t *)"u", 1, &h, msg, 0, 2, &done),
                 CDTLS_ERR_DECODE);
    /* a duplicate is harmless */
    h = frag_hdr(100, 0, 0, 10);
    cr_assert_eq(hello_reasm_add(&t, "d", 1, (const uint8_t *)"u", 1, &h, msg, 0, 2, &done), CDTLS_OK);
    cr_assert_eq(t.budget.used, used);
    /* expiry: c started at 1, d at 2; timeout 1000 */
    hello_reasm_expire(&t, 1000);
    cr_assert_eq(t.n, 2);
    hello_reasm_expire(&t, 1001);
    cr_assert_eq(t.n, 1);
    hello_reasm_expire(&t, 0); /* a clock that went back drops nothing */
    cr_assert_eq(t.n, 1);
    hello_reasm_expire(&t, 1002);
    cr_assert_eq(t.n, 0);
    cr_assert_eq(t.budget.used, 0);
    cr_assert_eq(cnt.live, 0);
    hello_reasm_free(&t);
}

/* The byte budget: a fragment that does not fit evicts older hellos; one
 * that cannot fit even alone is dropped, and the budget is never passed. */
Test(hello_reasm, byte_budget)
{
    counting cnt;
    const cdtls_allocator *a = counting_init(&cnt);
    hello_reasm t;
    const size_t budget = 3 * sizeof(hello_pending) + 3000;
    hello_reasm_limits lim = {100, 100, 16384, budget, 1000};
    cr_assert_gt(sizeof(hello_pending) + 8000, budget, "the test needs a fragment that cannot fit");
    hello_reasm_init(&t, a, &lim);
    static uint8_t msg[16384];
    hello_pending *done;
    for (unsigned i = 0; i < 50; i++) {
        uint8_t addr[4] = {(uint8_t)i, 1, 2, 3};
        hs_header h = frag_hdr(16384, 0, 0, 900);
        int rc = hello_reasm_add(&t, addr, 4, addr, 4, &h, msg, 0, i, &done);
        cr_assert_eq(rc, CDTLS_OK);
        cr_assert_leq(t.budget.used, budget);
        cr_assert_leq(cnt.live, budget);
    }
    cr_assert_leq(t.n, 3u);
    cr_assert_eq(t.newest->addr[0], 49, "the newest stays, the oldest went");
    hs_header h = frag_hdr(16384, 0, 0, 8000); /* cannot fit at all */
    cr_assert_eq(hello_reasm_add(&t, "z", 1, (const uint8_t *)"z", 1, &h, msg, 0, 60, &done),
                 CDTLS_ERR_LIMIT);
    cr_assert_leq(cnt.live, budget);
    hello_reasm_free(&t);
    cr_assert_eq(cnt.live, 0);
}
