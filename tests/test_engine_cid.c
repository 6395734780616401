/* Connection IDs (RFC 9146): the record format (additional data checked
 * against pion/dtls's known answer, inner plaintext, padding), the
 * negotiation in the hellos, what goes on the wire, and what a receiver
 * drops. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "common/dtls.h"
#include "record/record.h"
#include "sim_link.h"

/* ---------------------------------------------------------- record level */

/* pion/dtls pkg/crypto/ciphersuite TestGenerateAEADAdditionalDataCID:
 * CID 01..08, epoch 2, sequence 277, inner length 1784. */
Test(cid_record, additional_data_matches_pion)
{
    static const uint8_t cid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t want[] = {255, 255, 255, 255, 255, 255, 255, 255, 25, 8, 25, 254, 253, 0, 2,  0,
                                   0,   0,   0,   1,   21,  1,   2,   3,   4,  5, 6,  7,   8,   6, 248};
    uint8_t aad[23 + 255];
    size_t n = record_cid_aad(aad, DTLS_VERSION_1_2, 2, 277, cid, 8, 1784);
    cr_assert_eq(n, sizeof want);
    cr_assert_arr_eq(aad, want, n);
}

static int cipher_pair(cdtls_aead_alg alg, record_cipher *w, record_cipher *r)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->aead[alg]) return 0;
    uint8_t key[32] = {7}, iv[12] = {9};
    size_t klen = p->aead[alg]->key_len;
    size_t ivlen = alg == CDTLS_AEAD_CHACHA20_POLY1305 ? 12 : 4;
    cr_assert_eq(record_cipher_init_aead(w, p, alg, key, klen, iv, ivlen), CDTLS_OK);
    cr_assert_eq(record_cipher_init_aead(r, p, alg, key, klen, iv, ivlen), CDTLS_OK);
    return 1;
}

Test(cid_record, seal_open_every_aead_with_padding)
{
    static const uint8_t cid[5] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5};
    const uint8_t msg[] = "through a NAT rebinding";
    int tried = 0;
    for (int alg = 0; alg < CDTLS_AEAD__COUNT; alg++) {
        record_cipher w, r;
        if (!cipher_pair((cdtls_aead_alg)alg, &w, &r)) continue;
        tried++;
        for (size_t pad = 0; pad <= 40; pad += 20) {
            uint8_t rec[256];
            size_t n = 0;
            cr_assert_eq(record_seal_cid(&w, CT_APPLICATION_DATA, DTLS_VERSION_1_2, 1, 42, cid, 5, pad, msg,
                                         sizeof msg, rec, sizeof rec, &n),
                         CDTLS_OK);
            cr_assert_eq(rec[0], CT_TLS12_CID);
            cr_assert_arr_eq(rec + 11, cid, 5);
            const uint8_t *found;
            cr_assert(cdtls_datagram_cid(rec, n, 5, &found) && found == rec + 11);
            cdtls_reader rd;
            reader_init(&rd, rec, n);
            record_header h;
            const uint8_t *hdr, *frag;
            size_t hl;
            cr_assert_eq(record_read_cid(&rd, 5, &h, &hdr, &hl, &frag), CDTLS_OK);
            cr_assert(hl == 18 && h.epoch == 1 && h.seq == 42 && h.cid_len == 5);
            uint8_t out[256], type = 0;
            size_t pl = 0;
            cr_assert_eq(record_open_cid(&r, &h, frag, out, sizeof out, &pl, &type), CDTLS_OK);
            cr_assert(type == CT_APPLICATION_DATA && pl == sizeof msg && memcmp(out, msg, pl) == 0);
            /* the CID is authenticated: another CID in the header fails */
            rec[12] ^= 1;
            reader_init(&rd, rec, n);
            cr_assert_eq(record_read_cid(&rd, 5, &h, &hdr, &hl, &frag), CDTLS_OK);
            cr_assert_eq(record_open_cid(&r, &h, frag, out, sizeof out, &pl, &type), CDTLS_ERR_AUTH);
        }
        record_cipher_clear(&w);
        record_cipher_clear(&r);
    }
    cr_assert(tried > 0);
}

Test(cid_record, all_zero_inner_plaintext_is_malformed)
{
    record_cipher w, r;
    const cdtls_aead_alg alg = cdtls_provider_default()->aead[CDTLS_AEAD_AES_128_GCM]
                                   ? CDTLS_AEAD_AES_128_GCM
                                   : CDTLS_AEAD_CHACHA20_POLY1305;
    cr_assert(cipher_pair(alg, &w, &r));
    static const uint8_t cid[2] = {1, 2}, zeros[4] = {0};
    uint8_t rec[128], out[128], type;
    size_t n, pl;
    /* content of zeros with real type 0 and padding: no non-zero byte */
    cr_assert_eq(record_seal_cid(&w, 0, DTLS_VERSION_1_2, 1, 1, cid, 2, 3, zeros, 4, rec, sizeof rec, &n),
                 CDTLS_OK);
    cdtls_reader rd;
    reader_init(&rd, rec, n);
    record_header h;
    const uint8_t *hdr, *frag;
    size_t hl;
    cr_assert_eq(record_read_cid(&rd, 2, &h, &hdr, &hl, &frag), CDTLS_OK);
    cr_assert_eq(record_open_cid(&r, &h, frag, out, sizeof out, &pl, &type), CDTLS_ERR_DECODE);
    /* truncated headers and lengths past the datagram */
    for (size_t cut = 0; cut < n; cut++) {
        reader_init(&rd, rec, cut);
        cr_assert_eq(record_read_cid(&rd, 2, &h, &hdr, &hl, &frag), CDTLS_ERR_DECODE);
    }
    cr_assert(!cdtls_datagram_cid(rec, 14, 2, &hdr));
    record_cipher_clear(&w);
    record_cipher_clear(&r);
}

/* RFC 9146 §4: the inner plaintext (content, real type, padding) is at
 * most 2^14 bytes. Our sender refuses more; a record of 2^14 + 1 bytes
 * sealed by hand is refused by the receiver too (issue 20, item 6: it was
 * accepted). */
Test(cid_record, inner_plaintext_over_2_14_is_refused)
{
    record_cipher w, r;
    const cdtls_aead_alg alg = cdtls_provider_default()->aead[CDTLS_AEAD_AES_128_GCM]
                                   ? CDTLS_AEAD_AES_128_GCM
                                   : CDTLS_AEAD_CHACHA20_POLY1305;
    cr_assert(cipher_pair(alg, &w, &r));
    static const uint8_t cid[2] = {1, 2};
    static uint8_t content[16384 + 1], rec[16384 + 64], out[16384 + 64];
    memset(content, 'x', sizeof content);
    size_t n, pl;
    cr_assert_eq(
        record_seal_cid(&w, 23, DTLS_VERSION_1_2, 1, 1, cid, 2, 0, content, 16384, rec, sizeof rec, &n),
        CDTLS_ERR_RECORD_TOO_LARGE);
    for (size_t inner = 16384; inner <= 16385; inner++) {
        /* content || real type 23, sealed with the record's additional data */
        uint8_t body[16384 + 1 + 16];
        memcpy(body, content, inner - 1);
        body[inner - 1] = 23;
        const size_t explicit_len = w.fixed_iv_len == 4 ? 8 : 0;
        uint8_t nonce[12], aad[64], *frag = rec;
        record_aead_nonce(&w, 1, 7, nonce);
        if (explicit_len) memcpy(frag, nonce + 4, 8);
        size_t aad_len = record_cid_aad(aad, DTLS_VERSION_1_2, 1, 7, cid, 2, inner);
        cr_assert_eq(w.aead->seal(&w.aead_ctx, nonce, 12, aad, aad_len, body, inner, frag + explicit_len),
                     CDTLS_OK);
        record_header h = {
            25, DTLS_VERSION_1_2, 1, 7, (uint16_t)(explicit_len + inner + w.aead->tag_len), cid, 2};
        uint8_t type;
        int rc = record_open_cid(&r, &h, frag, out, sizeof out, &pl, &type);
        if (inner == 16384) {
            cr_assert_eq(rc, CDTLS_OK, "%s", cdtls_strerror(rc)); /* 2^14 - 1 content bytes: the most */
            cr_assert(pl == 16383 && type == 23);
        } else {
            cr_assert_eq(rc, CDTLS_ERR_RECORD_TOO_LARGE, "%s", cdtls_strerror(rc));
        }
    }
    record_cipher_clear(&w);
    record_cipher_clear(&r);
}

/* ------------------------------------------------------------ handshake */

static const uint8_t cid_psk[16] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 121, 98, 219};

struct gen {
    uint8_t byte;
    size_t len;
    int calls;
};

static int make_cid(void *ctx, uint8_t *cid, size_t cap, size_t *len)
{
    struct gen *g = ctx;
    g->calls++;
    cr_assert(cap >= g->len);
    memset(cid, g->byte, g->len);
    *len = g->len;
    return CDTLS_OK;
}

static uint16_t aead_suite(void)
{
    return cdtls_cipher_suite_supported(cdtls_provider_default(), CDTLS_PSK_WITH_AES_128_GCM_SHA256)
               ? CDTLS_PSK_WITH_AES_128_GCM_SHA256
               : CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
}

static void cid_configs(cdtls_config *cc, cdtls_config *sc, const uint16_t *suite, struct gen *gc,
                        struct gen *gs)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = cid_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof cid_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"cid";
    cc->psk.identity_len = sc->psk.identity_len = 3;
    cc->negotiate.cipher_suites = sc->negotiate.cipher_suites = suite;
    cc->negotiate.n_cipher_suites = sc->negotiate.n_cipher_suites = 1;
    /* RFC 9146's tls12_cid records: DTLS 1.3 CIDs are test_engine13_cid.c's */
    cc->versions.max = sc->versions.max = CDTLS_VERSION_1_2;
    if (gc) cc->callbacks.cid_generator = make_cid, cc->callbacks.user = gc;
    if (gs) sc->callbacks.cid_generator = make_cid, sc->callbacks.user = gs;
}

/* Every datagram's first record, as seen on the wire after the handshake. */
struct wire {
    int active;
    int to_server_cid, to_server_plain, to_client_cid, to_client_plain;
    uint8_t last_cid_to_server[8], last_cid_to_client[8];
    size_t last_len_to_server;
};

static int watch(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    struct wire *w = ctx;
    if (!w->active || *len < 13) return 1;
    int cid = data[0] == CT_TLS12_CID;
    if (to_server) {
        cid ? w->to_server_cid++ : w->to_server_plain++;
        if (cid) memcpy(w->last_cid_to_server, data + 11, 8);
        w->last_len_to_server = *len;
    } else {
        cid ? w->to_client_cid++ : w->to_client_plain++;
        if (cid) memcpy(w->last_cid_to_client, data + 11, 8);
    }
    return 1;
}

static int send_and_read(sim_link *s, cdtls_conn *from, cdtls_conn *to, const char *msg)
{
    if (cdtls_conn_write(from, (const uint8_t *)msg, strlen(msg), NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t buf[256];
    size_t n = 0;
    return cdtls_conn_read(to, buf, sizeof buf, &n, NULL) == CDTLS_OK && n == strlen(msg) &&
           memcmp(buf, msg, n) == 0;
}

Test(cid, negotiated_both_ways_and_on_the_wire)
{
    uint16_t suite = aead_suite();
    struct gen gc = {0xcc, 4, 0}, gs = {0x5e, 8, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &suite, &gc, &gs);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    struct wire w = {0};
    s.tamper = watch, s.tamper_ctx = &w;
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert_eq(gc.calls, 1, "one CID per connection, kept across the cookie exchange");
    cr_assert_eq(gs.calls, 1);
    cr_assert(cdtls_conn_uses_cid(s.client) && cdtls_conn_uses_cid(s.server));
    size_t n;
    const uint8_t *own = cdtls_conn_own_cid(s.client, &n);
    cr_assert(own && n == 4 && own[0] == 0xcc);
    const uint8_t *peer = cdtls_conn_peer_cid(s.client, &n);
    cr_assert(peer && n == 8 && peer[0] == 0x5e);
    w.active = 1;
    cr_assert(send_and_read(&s, s.client, s.server, "to the server"));
    cr_assert(send_and_read(&s, s.server, s.client, "to the client"));
    cr_assert(w.to_server_cid == 1 && w.to_server_plain == 0);
    cr_assert(w.to_client_cid == 1 && w.to_client_plain == 0);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(w.last_cid_to_server[i], 0x5e, "the server's CID on records to it");
    for (int i = 0; i < 4; i++) cr_assert_eq(w.last_cid_to_client[i], 0xcc);
    sim_free(&s);
}

Test(cid, empty_cid_means_send_mine_not_yours)
{
    uint16_t suite = aead_suite();
    struct gen gc = {0, 0, 0}, gs = {0x77, 6, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &suite, &gc, &gs);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    struct wire w = {0};
    s.tamper = watch, s.tamper_ctx = &w;
    cr_assert(sim_run_handshake(&s, 10000));
    w.active = 1;
    cr_assert(send_and_read(&s, s.client, s.server, "up"));
    cr_assert(send_and_read(&s, s.server, s.client, "down"));
    cr_assert(w.to_server_cid == 1, "the client puts the server's CID on");
    cr_assert(w.to_client_plain == 1 && w.to_client_cid == 0, "the client asked for none");
    sim_free(&s);
}

Test(cid, not_negotiated_unless_both_sides_want_it)
{
    uint16_t suite = aead_suite();
    struct gen g = {1, 4, 0};
    cdtls_config cc, sc;
    sim_link s;
    cid_configs(&cc, &sc, &suite, &g, NULL);
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_uses_cid(s.client) && !cdtls_conn_uses_cid(s.server));
    cr_assert(send_and_read(&s, s.client, s.server, "plain"));
    sim_free(&s);
    cid_configs(&cc, &sc, &suite, NULL, &g);
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_uses_cid(s.client) && !cdtls_conn_uses_cid(s.server));
    sim_free(&s);
}

Test(cid, cbc_suites_go_on_without)
{
    static const uint16_t cbc = CDTLS_PSK_WITH_AES_128_CBC_SHA256;
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), cbc)) cr_skip_test("no CBC suites here");
    struct gen gc = {1, 4, 0}, gs = {2, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &cbc, &gc, &gs);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(!cdtls_conn_uses_cid(s.client) && !cdtls_conn_uses_cid(s.server));
    cr_assert(send_and_read(&s, s.client, s.server, "cbc"));
    sim_free(&s);
}

static size_t pad32(void *ctx, size_t len)
{
    (void)ctx, (void)len;
    return 32;
}

Test(cid, padding_grows_records_and_is_removed)
{
    uint16_t suite = aead_suite();
    struct gen gc = {3, 4, 0}, gs = {4, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &suite, &gc, &gs);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    struct wire w = {0};
    s.tamper = watch, s.tamper_ctx = &w;
    cr_assert(sim_run_handshake(&s, 10000));
    w.active = 1;
    cr_assert(send_and_read(&s, s.client, s.server, "pad me"));
    size_t plain = w.last_len_to_server;
    sim_free(&s);
    cc.callbacks.cid_padding = pad32;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    w = (struct wire){0};
    s.tamper = watch, s.tamper_ctx = &w;
    cr_assert(sim_run_handshake(&s, 10000));
    w.active = 1;
    cr_assert(send_and_read(&s, s.client, s.server, "pad me"));
    cr_assert_eq(w.last_len_to_server, plain + 32);
    sim_free(&s);
}

/* Asks for far more padding than a datagram holds, and counts the asks. */
/* One user pointer serves both callbacks: the generator's state first, so
 * make_cid reads it through the same pointer. */
struct greedy {
    struct gen gen;
    size_t calls;
};

static size_t pad_greedy(void *ctx, size_t len)
{
    (void)len;
    ((struct greedy *)ctx)->calls++;
    return 100000;
}

/* Padding is clamped to the MTU for every record, application data and
 * alerts alike (an alert was once clamped only to its stack buffer, which
 * is larger than a small MTU), and the callback is asked once per record:
 * the write sizes its node from the padding it got, then seals with it. */
Test(cid, padding_clamped_to_the_mtu_and_asked_once_per_record)
{
    uint16_t suite = aead_suite();
    struct gen gc = {7, 4, 0}, gs = {8, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &suite, &gc, &gs);
    struct greedy g = {gc, 0};
    cc.callbacks.cid_padding = pad_greedy;
    cc.callbacks.user = &g;
    cc.mtu = sc.mtu = 200;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    cr_assert(cdtls_conn_uses_cid(s.client));
    sim_run(&s, 1000);
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(s.client, d, sizeof d, &n, NULL) == CDTLS_OK) {
    }
    const size_t max = cdtls_conn_max_write(s.client);
    cr_assert_gt(max, 0);
    const size_t lens[3] = {1, max / 2, max};
    for (int i = 0; i < 3; i++) {
        g.calls = 0;
        cr_assert_eq(cdtls_conn_write(s.client, d, lens[i], NULL), CDTLS_OK);
        cr_assert_eq(g.calls, 1, "write of %zu asked for padding %zu times", lens[i], g.calls);
        cr_assert_eq(cdtls_conn_next_datagram(s.client, d, sizeof d, &n, NULL), CDTLS_OK);
        cr_assert_eq(n, 200, "a record padded to the MTU exactly (len %zu: %zu bytes)", lens[i], n);
        cr_assert_eq(cdtls_conn_recv(s.server, d, n, NULL, s.now_ms), CDTLS_OK);
        uint8_t got[256];
        size_t m = 0;
        cr_assert_eq(cdtls_conn_read(s.server, got, sizeof got, &m, NULL), CDTLS_OK);
        cr_assert_eq(m, lens[i], "the padding is removed");
    }
    cr_assert_eq(cdtls_conn_close(s.client), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(s.client, d, sizeof d, &n, NULL), CDTLS_OK);
    cr_assert_leq(n, 200, "close_notify of %zu bytes over an MTU of 200", n);
    cr_assert_eq(cdtls_conn_recv(s.server, d, n, NULL, s.now_ms), CDTLS_OK);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_CLOSED);
    sim_free(&s);
}

/* A record whose CID is not ours, or a plain record where a CID is due,
 * is dropped; a replayed datagram authenticates nothing new, so it must not
 * move a server to a new address (RFC 9146 §6). */
struct mangle {
    int active, mode; /* 1: flip a CID byte; 2: capture then replay */
    uint8_t saved[2048];
    size_t saved_len;
};

static int mangle(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    struct mangle *m = ctx;
    if (!m->active || !to_server || data[0] != CT_TLS12_CID) return 1;
    if (m->mode == 1) data[11] ^= 0xff;
    if (m->mode == 2 && !m->saved_len && *len <= sizeof m->saved) {
        memcpy(m->saved, data, *len);
        m->saved_len = *len;
    }
    return 1;
}

Test(cid, wrong_cid_dropped_and_replays_do_not_advance)
{
    uint16_t suite = aead_suite();
    struct gen gc = {5, 4, 0}, gs = {6, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &suite, &gc, &gs);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    struct mangle m = {0};
    s.tamper = mangle, s.tamper_ctx = &m;
    cr_assert(sim_run_handshake(&s, 10000));
    m.active = 1, m.mode = 1;
    cr_assert(!send_and_read(&s, s.client, s.server, "wrong cid"), "dropped");
    m.mode = 2;
    cr_assert(send_and_read(&s, s.client, s.server, "right cid"));
    cr_assert(m.saved_len > 0);
    /* a replay of a delivered record does not advance */
    cr_assert_eq(cdtls_conn_recv(s.server, m.saved, m.saved_len, NULL, s.now_ms), CDTLS_OK);
    cr_assert(!cdtls_conn_recv_advanced(s.server));
    /* a new record does, once; the same datagram again does not */
    uint8_t d[2048];
    size_t dn;
    cr_assert_eq(cdtls_conn_write(s.client, (const uint8_t *)"new", 3, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(s.client, d, sizeof d, &dn, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(s.server, d, dn, NULL, s.now_ms), CDTLS_OK);
    cr_assert(cdtls_conn_recv_advanced(s.server));
    cr_assert_eq(cdtls_conn_recv(s.server, d, dn, NULL, s.now_ms), CDTLS_OK);
    cr_assert(!cdtls_conn_recv_advanced(s.server));
    sim_free(&s);
}
