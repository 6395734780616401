/* Handshake message codec and fragment reassembly. */
#include <criterion/criterion.h>
#include "test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dtls.h"
#include "handshake/hs_msg.h"
#include "handshake/hs_reasm.h"
#include "counting_alloc.h"


/* The first datagram of `openssl s_client -dtls1_2 -psk 0102030405060708
 * -psk_identity x` (OpenSSL 3.0.19), captured on loopback by a Python UDP
 * listener when this test was written. */
static const char openssl_ch[] =
    "16feff000000000000000000f4010000e800000000000000e8fefd202624f426d4f396d89be7c4634ea7f064ccea937c87e89aec"
    "dc19eb40c3456e0000006cc02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c01300"
    "3300ad00abccaeccadccac009d00a9ccab00ac00aa009c00a8003d003cc038c03600b700b300950091003500af008dc037c03500"
    "b600b200940090002f00ae008c00ff01000052000b000403000102000a000c000a001d0017001e00190018002300000016000000"
    "170000000d002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602";

Test(hs_codec, parses_a_real_openssl_client_hello)
{
    uint8_t d[512];
    size_t n = unhex(openssl_ch, d, sizeof d);
    cr_assert_eq(d[0], 22); /* handshake record */
    cr_assert_eq(d[1], 0xfe);
    cr_assert_eq(d[2], 0xff); /* DTLS 1.0 record version on the first flight */
    cdtls_reader r;
    reader_init(&r, d + 13, n - 13);
    hs_header h;
    const uint8_t *body;
    cr_assert_eq(hs_header_read(&r, &h, &body), CDTLS_OK);
    cr_assert_eq(h.type, HS_CLIENT_HELLO);
    cr_assert_eq(h.fragment_length, h.length);
    hs_client_hello ch;
    cr_assert_eq(hs_client_hello_parse(body, h.length, &ch), CDTLS_OK);
    cr_assert_eq(ch.version, DTLS_VERSION_1_2);
    cr_assert_eq(ch.cookie_len, 0);
    cr_assert(ch.ext.ems, "OpenSSL offers extended_master_secret");
    cr_assert(ch.ext.renegotiation_info || ch.has_reneg_scsv);
    cr_assert(ch.ext.encrypt_then_mac);
    cr_assert(hs_client_hello_offers_suite(&ch, 0x00a8)); /* PSK-AES128-GCM-SHA256 */
    cr_assert(hs_client_hello_offers_null_compression(&ch));
    /* every truncation is refused, except the one right before the
     * (optional) extensions block, which is a hello without extensions */
    size_t no_ext = (size_t)(ch.raw_compression + ch.raw_compression_len - body);
    for (size_t cut = 0; cut < h.length; cut++) {
        int rc = hs_client_hello_parse(body, cut, &ch);
        if (cut == no_ext)
            cr_assert(rc == CDTLS_OK && !ch.ext.ems, "cut at the extensions block");
        else
            cr_assert_eq(rc, CDTLS_ERR_DECODE, "cut %zu", cut);
    }
}

static size_t write_ch(uint8_t *buf, size_t cap, size_t n_suites, const uint16_t *groups, size_t ng)
{
    static uint16_t suites[8000];
    for (size_t i = 0; i < n_suites; i++) suites[i] = (uint16_t)(0x1000 + i);
    suites[0] = 0xccab;
    hs_client_hello ch;
    memset(&ch, 0, sizeof ch);
    ch.version = DTLS_VERSION_1_2;
    memset(ch.random, 7, 32);
    ch.cookie = (const uint8_t *)"cookiecookie";
    ch.cookie_len = 12;
    ch.suites = suites;
    ch.n_suites = n_suites;
    ch.groups = groups;
    ch.n_groups = ng;
    ch.ext.ems = 1;
    ch.ext.renegotiation_info = 1;
    ch.ext.encrypt_then_mac = 1;
    ch.ext.ec_point_formats = ng > 0;
    ch.ext.server_name = (const uint8_t *)"example.com";
    ch.ext.server_name_len = 11;
    cdtls_writer w;
    writer_init(&w, buf, cap);
    cr_assert_eq(hs_client_hello_write(&w, &ch), CDTLS_OK);
    return w.len;
}

Test(hs_codec, client_hello_roundtrip_and_limits)
{
    static uint8_t buf[20000];
    static const uint16_t groups[] = {29, 23};
    size_t n = write_ch(buf, sizeof buf, 3, groups, 2);
    hs_client_hello ch;
    cr_assert_eq(hs_client_hello_parse(buf, n, &ch), CDTLS_OK);
    cr_assert_eq(ch.cookie_len, 12);
    cr_assert(ch.ext.ems && ch.ext.renegotiation_info && ch.ext.encrypt_then_mac &&
              ch.ext.ec_point_uncompressed);
    cr_assert(hs_client_hello_offers_group(&ch, 23) && !hs_client_hello_offers_group(&ch, 24));
    cr_assert_eq(ch.ext.server_name_len, 11);
    cr_assert_eq(memcmp(ch.ext.server_name, "example.com", 11), 0);
    size_t no_ext = (size_t)(ch.raw_compression + ch.raw_compression_len - buf);
    for (size_t cut = 0; cut < n; cut++)
        cr_assert_eq(hs_client_hello_parse(buf, cut, &ch), cut == no_ext ? CDTLS_OK : CDTLS_ERR_DECODE,
                     "cut %zu", cut);
    buf[n] = 0;
    cr_assert_eq(hs_client_hello_parse(buf, n + 1, &ch), CDTLS_ERR_DECODE); /* trailing byte */
    /* 5,000 suites: parsed, searched */
    n = write_ch(buf, sizeof buf, 5000, NULL, 0);
    cr_assert_eq(hs_client_hello_parse(buf, n, &ch), CDTLS_OK);
    cr_assert(hs_client_hello_offers_suite(&ch, 0xccab));
    cr_assert(hs_client_hello_offers_suite(&ch, 0x1000 + 4999));
}

Test(hs_codec, extension_block_rules)
{
    /* version, random, sid, cookie, one suite, null compression, then ext */
    uint8_t base[2 + 32 + 1 + 1 + 2 + 2 + 2] = {0xfe, 0xfd};
    size_t b = 2 + 32;
    base[b++] = 0, base[b++] = 0; /* session_id, cookie */
    base[b++] = 0, base[b++] = 2, base[b++] = 0xcc, base[b++] = 0xab;
    base[b++] = 1, base[b++] = 0;
    static uint8_t msg[20000];
    hs_client_hello ch;
    /* duplicate extended_master_secret: refused (RFC 5246 §7.4.1.4) */
    memcpy(msg, base, b);
    uint8_t dup[] = {0, 8, 0, 23, 0, 0, 0, 23, 0, 0};
    memcpy(msg + b, dup, sizeof dup);
    cr_assert_eq(hs_client_hello_parse(msg, b + sizeof dup, &ch), CDTLS_ERR_DECODE);
    /* EMS with a body: refused (RFC 7627 §5.1) */
    uint8_t fat[] = {0, 5, 0, 23, 0, 1, 9};
    memcpy(msg + b, fat, sizeof fat);
    cr_assert_eq(hs_client_hello_parse(msg, b + sizeof fat, &ch), CDTLS_ERR_DECODE);
    /* odd supported_groups: refused */
    uint8_t odd[] = {0, 7, 0, 10, 0, 3, 0, 1, 29};
    memcpy(msg + b, odd, sizeof odd);
    cr_assert_eq(hs_client_hello_parse(msg, b + sizeof odd, &ch), CDTLS_ERR_DECODE);
    /* unknown extensions are skipped; more than HS_MAX_EXTENSIONS refused */
    size_t count = 1000, at = b + 2;
    for (size_t i = 0; i < count; i++) {
        msg[at++] = 0x7a, msg[at++] = (uint8_t)i, msg[at++] = 0, msg[at++] = 0;
    }
    msg[b] = (uint8_t)((at - b - 2) >> 8), msg[b + 1] = (uint8_t)(at - b - 2);
    cr_assert_eq(hs_client_hello_parse(msg, at, &ch), CDTLS_ERR_DECODE);
    at = b + 2;
    for (size_t i = 0; i < 10; i++) msg[at++] = 0x7a, msg[at++] = (uint8_t)i, msg[at++] = 0, msg[at++] = 0;
    msg[b] = 0, msg[b + 1] = 40;
    cr_assert_eq(hs_client_hello_parse(msg, at, &ch), CDTLS_OK);
    /* an extension length beyond the block */
    uint8_t over[] = {0, 4, 0, 23, 0, 9};
    memcpy(msg + b, over, sizeof over);
    cr_assert_eq(hs_client_hello_parse(msg, b + sizeof over, &ch), CDTLS_ERR_DECODE);
}

Test(hs_codec, server_side_messages_roundtrip)
{
    uint8_t buf[600];
    cdtls_writer w;
    /* ServerHello */
    hs_server_hello sh, sh2;
    memset(&sh, 0, sizeof sh);
    sh.version = DTLS_VERSION_1_2;
    memset(sh.random, 9, 32);
    sh.cipher_suite = 0xccac;
    sh.ext.ems = sh.ext.renegotiation_info = sh.ext.ec_point_formats = 1;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs_server_hello_write(&w, &sh), CDTLS_OK);
    cr_assert_eq(hs_server_hello_parse(buf, w.len, &sh2), CDTLS_OK);
    cr_assert(sh2.cipher_suite == 0xccac && sh2.ext.ems && sh2.ext.renegotiation_info &&
              sh2.ext.ec_point_formats);
    const size_t sh_no_ext = 2 + 32 + 1 + 2 + 1; /* version random sid<0> suite compression */
    for (size_t cut = 0; cut < w.len; cut++)
        cr_assert_eq(hs_server_hello_parse(buf, cut, &sh2), cut == sh_no_ext ? CDTLS_OK : CDTLS_ERR_DECODE,
                     "cut %zu", cut);
    /* HelloVerifyRequest */
    hs_hello_verify_request hv = {DTLS_VERSION_1_0, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32},
                            hv2;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs_hello_verify_request_write(&w, &hv), CDTLS_OK);
    cr_assert_eq(hs_hello_verify_request_parse(buf, w.len, &hv2), CDTLS_OK);
    cr_assert(hv2.cookie_len == 32 && memcmp(hv2.cookie, hv.cookie, 32) == 0);
    cr_assert_eq(hs_hello_verify_request_parse(buf, w.len - 1, &hv2), CDTLS_ERR_DECODE);
    /* key exchanges, each kind */
    uint8_t pub[65];
    memset(pub, 4, sizeof pub);
    for (int kind = HS_KX_PSK; kind <= HS_KX_ECDHE; kind++) {
        hs_server_key_exchange ske = {(const uint8_t *)"hint", 4, 23, pub, 65, NULL, 0, 0x0403,
                                      (const uint8_t *)"sig",  3},
                               s2;
        writer_init(&w, buf, sizeof buf);
        cr_assert_eq(hs_server_key_exchange_write(&w, (hs_kx_kind)kind, &ske), CDTLS_OK);
        cr_assert_eq(hs_server_key_exchange_parse(buf, w.len, (hs_kx_kind)kind, &s2), CDTLS_OK);
        if (kind != HS_KX_ECDHE) cr_assert(s2.psk_hint_len == 4 && memcmp(s2.psk_hint, "hint", 4) == 0);
        if (kind != HS_KX_PSK)
            cr_assert(s2.named_curve == 23 && s2.public_len == 65 && s2.params_len == 4 + 65);
        if (kind == HS_KX_ECDHE) cr_assert(s2.sig_alg == 0x0403 && s2.signature_len == 3);
        for (size_t cut = 0; cut < w.len; cut++)
            cr_assert_eq(hs_server_key_exchange_parse(buf, cut, (hs_kx_kind)kind, &s2), CDTLS_ERR_DECODE);
        hs_client_key_exchange cke = {(const uint8_t *)"identity", 8, pub, 65}, c2;
        writer_init(&w, buf, sizeof buf);
        cr_assert_eq(hs_client_key_exchange_write(&w, (hs_kx_kind)kind, &cke), CDTLS_OK);
        cr_assert_eq(hs_client_key_exchange_parse(buf, w.len, (hs_kx_kind)kind, &c2), CDTLS_OK);
        for (size_t cut = 0; cut < w.len; cut++)
            cr_assert_eq(hs_client_key_exchange_parse(buf, cut, (hs_kx_kind)kind, &c2), CDTLS_ERR_DECODE);
    }
    /* ECDHE params with curve_type other than named_curve(3) */
    uint8_t explicit_curve[] = {0, 0, 1, 0, 23, 1, 4};
    hs_server_key_exchange s3;
    cr_assert_eq(hs_server_key_exchange_parse(explicit_curve, sizeof explicit_curve, HS_KX_ECDHE_PSK, &s3),
                 CDTLS_ERR_DECODE);
}

Test(hs_codec, header_bounds)
{
    uint8_t d[32] = {1, 0, 0, 10, 0, 0, 0, 0, 8, 0, 0, 4};
    cdtls_reader r;
    hs_header h;
    const uint8_t *f;
    reader_init(&r, d, 16);
    cr_assert_eq(hs_header_read(&r, &h, &f), CDTLS_ERR_DECODE); /* offset 8 + 4 > length 10 */
    d[11] = 2;
    reader_init(&r, d, 13);
    cr_assert_eq(hs_header_read(&r, &h, &f), CDTLS_ERR_DECODE); /* fragment past the record */
    reader_init(&r, d, 14);
    cr_assert_eq(hs_header_read(&r, &h, &f), CDTLS_OK);
}

/* ------------------------------------------------------------- reassembly */

static hs_reasm R;
static const hs_reasm_limits LIM = {64 * 1024, 256 * 1024, NULL};

static void setup(void)
{
    cr_assert_eq(hs_reasm_init(&R, cdtls_allocator_libc(), &LIM), CDTLS_OK);
}
static void teardown(void)
{
    hs_reasm_free(&R);
}

static int add(uint8_t type, uint16_t seq, uint32_t len, uint32_t off, const uint8_t *data, uint32_t flen)
{
    hs_header h = {type, len, seq, off, flen};
    return hs_reasm_add(&R, &h, data, flen);
}

static void expect_message(uint16_t seq, const uint8_t *body, size_t len)
{
    uint8_t type;
    uint16_t s;
    const uint8_t *msg;
    size_t ml;
    cr_assert(hs_reasm_next(&R, &type, &s, &msg, &ml), "message %u not complete", seq);
    cr_assert_eq(s, seq);
    cr_assert_eq(ml, 12 + len);
    hs_header h;
    hs_header_get(msg, &h);
    cr_assert(h.fragment_offset == 0 && h.fragment_length == len && h.length == len);
    cr_assert_arr_eq(msg + 12, body, len);
    hs_reasm_consume(&R);
}

static uint8_t body[5000];

static void fill(void)
{
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)(i * 7 + (i >> 8));
}

Test(hs_reasm, orders_duplicates_overlaps, .init = setup, .fini = teardown)
{
    fill();
    /* reverse order, 100-byte fragments */
    for (int off = 4900; off >= 0; off -= 100)
        cr_assert_eq(add(11, 0, 5000, (uint32_t)off, body + off, 100), CDTLS_OK);
    expect_message(0, body, 5000);
    /* seeded random order, with duplicates and overlaps; a fragment that
     * would leave more than HS_REASM_MAX_RUNS gaps is dropped (LIMIT), as
     * RFC 6347 §4.1.2.7 lets us drop any */
    srand(1234);
    int stored = 0;
    for (int k = 0; k < 400; k++) {
        uint32_t off = (uint32_t)(rand() % 5000), len = (uint32_t)(1 + rand() % 300);
        if (off + len > 5000) len = 5000 - off;
        int rc = add(11, 1, 5000, off, body + off, len);
        cr_assert(rc == CDTLS_OK || rc == CDTLS_ERR_LIMIT, "rc %d", rc);
        stored += rc == CDTLS_OK;
    }
    cr_assert_gt(stored, 300);
    for (uint32_t off = 0; off < 5000; off += 777) /* fill whatever is left */
        cr_assert_eq(add(11, 1, 5000, off, body + off, off + 777 > 5000 ? 5000 - off : 777), CDTLS_OK);
    expect_message(1, body, 5000);
    /* an old message is reported as such */
    cr_assert_eq(add(11, 0, 5000, 0, body, 10), HS_REASM_OLD);
    /* zero-length message (ServerHelloDone) */
    cr_assert_eq(add(14, 2, 0, 0, NULL, 0), CDTLS_OK);
    expect_message(2, body, 0);
}

Test(hs_reasm, hostile_fragments, .init = setup, .fini = teardown)
{
    fill();
    cr_assert_eq(add(11, 0, 1000, 0, body, 500), CDTLS_OK);
    /* overlapping bytes that differ: dropped whole */
    uint8_t evil[100];
    memcpy(evil, body + 450, 100);
    evil[10] ^= 1;
    cr_assert_eq(add(11, 0, 1000, 450, evil, 100), CDTLS_ERR_DECODE);
    /* type or length disagreeing with earlier fragments */
    cr_assert_eq(add(12, 0, 1000, 500, body + 500, 10), CDTLS_ERR_DECODE);
    cr_assert_eq(add(11, 0, 2000, 500, body + 500, 10), CDTLS_ERR_DECODE);
    /* fragment beyond the message */
    cr_assert_eq(add(11, 0, 1000, 990, body, 20), CDTLS_ERR_DECODE);
    /* message over the limit; message_seq too far ahead */
    cr_assert_eq(add(11, 1, 64 * 1024 + 1, 0, body, 10), CDTLS_ERR_LIMIT);
    cr_assert_eq(add(11, HS_REASM_WINDOW, 100, 0, body, 10), CDTLS_ERR_LIMIT);
    /* nothing above changed what we had: completing it works */
    uint8_t type;
    uint16_t s;
    const uint8_t *m;
    size_t ml;
    cr_assert(!hs_reasm_next(&R, &type, &s, &m, &ml));
    cr_assert_eq(add(11, 0, 1000, 500, body + 500, 500), CDTLS_OK);
    expect_message(0, body, 1000);
}

Test(hs_reasm, buffer_limit, .init = setup, .fini = teardown)
{
    hs_reasm small;
    hs_reasm_limits lim = {64 * 1024, 7000, NULL};
    cr_assert_eq(hs_reasm_init(&small, cdtls_allocator_libc(), &lim), CDTLS_OK);
    fill();
    hs_header h1 = {11, 60000, 0, 0, 4000}, h2 = {11, 60000, 1, 0, 4000}, h3 = {11, 60000, 1, 0, 2000};
    cr_assert_eq(hs_reasm_add(&small, &h1, body, 4000), CDTLS_OK);
    cr_assert_eq(hs_reasm_add(&small, &h2, body, 4000), CDTLS_ERR_LIMIT); /* would pass 7,000 bytes */
    cr_assert_eq(hs_reasm_add(&small, &h3, body, 2000), CDTLS_OK); /* what arrived, not what is claimed */
    hs_reasm_free(&small);
}

/* Issue 20, item 3: a fragment costs what arrived, not the length it
 * claims. Before, a 1-byte fragment of a 60,000-byte message allocated the
 * whole message and its bitmap (67,512 bytes). */
Test(hs_reasm, memory_follows_arrived_bytes)
{
    counting cnt;
    const cdtls_allocator *a = counting_init(&cnt);
    hs_reasm r;
    cr_assert_eq(hs_reasm_init(&r, a, &LIM), CDTLS_OK);
    fill();
    for (uint16_t seq = 0; seq < HS_REASM_WINDOW; seq++) {
        hs_header h = {11, 60000, seq, 30000, 1};
        cr_assert_eq(hs_reasm_add(&r, &h, body, 1), CDTLS_OK);
    }
    cr_assert_leq(cnt.live, HS_REASM_WINDOW * (12 + 1), "%zu bytes for 4 bytes that came", cnt.live);
    /* scattered 1-byte fragments: each one run of one byte, until the runs
     * run out (then dropped) */
    size_t before = cnt.live;
    int stored = 0;
    for (uint32_t k = 0; k < 100; k++) {
        hs_header h = {11, 60000, 0, k * 500, 1};
        stored += hs_reasm_add(&r, &h, body, 1) == CDTLS_OK;
    }
    cr_assert_leq(cnt.live - before, (size_t)stored * (12 + 1));
    cr_assert_leq(stored, HS_REASM_MAX_RUNS);
    /* in-order fragments: at most twice what came */
    hs_reasm_reset(&r);
    for (uint32_t off = 0; off < 4800; off += 100) {
        hs_header h = {11, 60000, 0, off, 100};
        cr_assert_eq(hs_reasm_add(&r, &h, body + off, 100), CDTLS_OK);
        cr_assert_leq(cnt.live, 12 + 2 * (size_t)(off + 100), "%zu bytes for %u", cnt.live, off + 100);
    }
    hs_reasm_free(&r);
    cr_assert_eq(cnt.live, 0);
}

/* A budget shared by several reassemblers (a listener's connections). */
Test(hs_reasm, shared_budget)
{
    cdtls_handshake_budget shared = {0, 3000};
    hs_reasm_limits lim = {64 * 1024, 256 * 1024, &shared};
    hs_reasm r1, r2;
    cr_assert_eq(hs_reasm_init(&r1, cdtls_allocator_libc(), &lim), CDTLS_OK);
    cr_assert_eq(hs_reasm_init(&r2, cdtls_allocator_libc(), &lim), CDTLS_OK);
    fill();
    hs_header h = {11, 5000, 0, 0, 2000};
    cr_assert_eq(hs_reasm_add(&r1, &h, body, 2000), CDTLS_OK);
    cr_assert_eq(shared.used, 12 + 2000);
    cr_assert_eq(hs_reasm_add(&r2, &h, body, 2000), CDTLS_ERR_LIMIT);
    hs_reasm_free(&r1);
    cr_assert_eq(shared.used, 0);
    cr_assert_eq(hs_reasm_add(&r2, &h, body, 2000), CDTLS_OK);
    hs_reasm_free(&r2);
    cr_assert_eq(shared.used, 0);
}

Test(hs_reasm, fragment_sizes_roundtrip, .init = setup, .fini = teardown)
{
    fill();
    static const uint32_t sizes[] = {1, 7, 100, 1000, 5000};
    for (size_t k = 0; k < 5; k++) {
        uint16_t seq = hs_reasm_next_seq(&R);
        for (uint32_t off = 0; off < 5000; off += sizes[k])
            cr_assert_eq(add(1, seq, 5000, off, body + off, off + sizes[k] > 5000 ? 5000 - off : sizes[k]),
                         CDTLS_OK);
        expect_message(seq, body, 5000);
    }
}
