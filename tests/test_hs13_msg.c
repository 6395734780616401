/* The DTLS 1.3 handshake message codec (src/handshake/hs13_msg.c): every
 * writer's output parsed back field by field, every parser on each proper
 * prefix of a valid message and with a trailing byte, and hand-made hostile
 * inputs for each rule the parsers enforce (RFC 8446 §4, RFC 9147 §5, §7). */
#include <criterion/criterion.h>
#include "test_util.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/dtls.h"
#include "handshake/hs13_msg.h"
#include "keys/tls13_schedule.h"

/* A parser of one message kind, for the truncation sweep. */
typedef int (*parse_fn)(const uint8_t *body, size_t len);

/* The message parses; every shorter prefix and one more byte do not, and
 * each refusal is a cdtls_err code. A hello cut just before its extensions
 * block is still a hello (the block is optional in the legacy syntax):
 * ok_cut names that one prefix (SIZE_MAX: none). */
static void sweep_but(parse_fn parse, const uint8_t *msg, size_t len, size_t ok_cut)
{
    static uint8_t buf[8192];
    cr_assert(len < sizeof buf);
    cr_assert_eq(parse(msg, len), CDTLS_OK);
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(buf, msg, cut);
        int rc = parse(buf, cut);
        if (cut == ok_cut) {
            cr_assert_eq(rc, CDTLS_OK);
            continue;
        }
        cr_assert(rc < 0 && rc > -160, "a %zu-byte prefix of %zu gave %d", cut, len, rc);
    }
    memcpy(buf, msg, len);
    buf[len] = 0;
    cr_assert_lt(parse(buf, len + 1), 0, "a trailing byte was accepted");
}

static void sweep(parse_fn parse, const uint8_t *msg, size_t len)
{
    sweep_but(parse, msg, len, SIZE_MAX);
}

/* parse_X(body, len): one parser with its output thrown away */
#define PARSER(name, type, call)                \
    static int name(const uint8_t *b, size_t n) \
    {                                           \
        type m;                                 \
        return call;                            \
    }
PARSER(parse_ch, hs13_client_hello, hs13_client_hello_parse(b, n, &m))
PARSER(parse_sh, hs13_server_hello, hs13_server_hello_parse(b, n, &m))
PARSER(parse_ee, hs13_encrypted_extensions, hs13_encrypted_extensions_parse(b, n, &m))
PARSER(parse_cr, hs13_certificate_request, hs13_certificate_request_parse(b, n, &m))
PARSER(parse_cert, hs13_certificate, hs13_certificate_parse(b, n, 8, &m))
PARSER(parse_nst, hs13_new_session_ticket, hs13_new_session_ticket_parse(b, n, &m))
PARSER(parse_ku, int, hs13_key_update_parse(b, n, &m))

/* the parser gives rc for the message in hex */
static void expect_rc(parse_fn parse, const char *hex, int rc)
{
    uint8_t buf[512];
    size_t n = unhex(hex, buf, sizeof buf);
    cr_assert_eq(parse(buf, n), rc, "%s", hex);
}

static int parse_ack(const uint8_t *b, size_t n)
{
    const uint8_t *list;
    size_t count;
    return hs13_ack_parse(b, n, &list, &count);
}

/* ------------------------------------------------------------ ClientHello */

static const uint16_t suites[] = {0x1301, 0x1303};
static const uint16_t groups[] = {29, 23};
static const uint16_t sig_algs[] = {0x0403, 0x0807};
static const uint16_t versions[] = {HS13_DTLS_VERSION_1_3, DTLS_VERSION_1_2};
static const uint8_t x25519_pub[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t p256_pub[65] = {4, 0xaa, 0xbb};
static const uint8_t hrr_cookie[40] = {0xc0, 0x0c, 0x1e};

static void base_params(hs13_client_hello_params *in)
{
    memset(in, 0, sizeof *in);
    in->legacy.version = DTLS_VERSION_1_2;
    for (int i = 0; i < 32; i++) in->legacy.random[i] = (uint8_t)(0x30 + i);
    in->legacy.suites = suites;
    in->legacy.n_suites = 2;
    in->legacy.groups = groups;
    in->legacy.n_groups = 2;
    in->legacy.sig_algs = sig_algs;
    in->legacy.n_sig_algs = 2;
    in->legacy.ext.server_name = (const uint8_t *)"example.com";
    in->legacy.ext.server_name_len = 11;
    in->legacy.ext.alpn = (const uint8_t *)"\x02h2";
    in->legacy.ext.alpn_len = 3;
    in->versions = versions;
    in->n_versions = 2;
}

static size_t write_full_ch(uint8_t *buf, size_t cap, size_t *binders_offset)
{
    static const hs13_key_share shares[2] = {{29, x25519_pub, 32}, {23, p256_pub, 65}};
    static const hs13_psk_identity ids[2] = {{(const uint8_t *)"ticket-one", 10, 0x01020304},
                                             {(const uint8_t *)"external", 8, 0}};
    static const hs13_bytes binders[2] = {{NULL, 32}, {NULL, 48}};
    hs13_client_hello_params in;
    base_params(&in);
    in.shares = shares;
    in.n_shares = 2;
    in.cookie = hrr_cookie;
    in.cookie_len = sizeof hrr_cookie;
    in.psk_modes = (1u << HS13_PSK_DHE_KE) | (1u << HS13_PSK_KE);
    in.early_data = 1;
    in.post_handshake_auth = 1;
    in.identities = ids;
    in.binders = binders;
    in.n_psks = 2;
    cdtls_writer w;
    writer_init(&w, buf, cap);
    cr_assert_eq(hs13_client_hello_write(&w, &in, binders_offset), CDTLS_OK);
    return w.len;
}

Test(tls13_msg, client_hello_round_trip)
{
    uint8_t buf[1024];
    size_t boff = 0, n = write_full_ch(buf, sizeof buf, &boff);
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(buf, n, &ch), CDTLS_OK);
    cr_assert_eq(ch.legacy.version, DTLS_VERSION_1_2);
    cr_assert_eq(ch.legacy.cookie_len, 0);
    cr_assert(hs13_client_hello_offers_version(&ch, HS13_DTLS_VERSION_1_3));
    cr_assert(hs13_client_hello_offers_version(&ch, DTLS_VERSION_1_2));
    cr_assert(!hs13_client_hello_offers_version(&ch, 0x0304));
    /* shared extensions read by the 1.2 codec */
    cr_assert_eq(ch.legacy.ext.server_name_len, 11);
    cr_assert(memcmp(ch.legacy.ext.server_name, "example.com", 11) == 0);
    cr_assert_eq(ch.legacy.ext.alpn_len, 3);
    cr_assert(hs_client_hello_offers_group(&ch.legacy, 23));
    cr_assert(hs_sig_algs_contain(ch.legacy.ext.signature_algorithms, ch.legacy.ext.signature_algorithms_len,
                                  0x0807));
    /* key shares */
    cr_assert_eq(ch.n_key_shares, 2);
    hs13_key_share ks;
    cr_assert(hs13_client_hello_find_share(&ch, 23, &ks));
    cr_assert_eq(ks.key_len, 65);
    cr_assert(memcmp(ks.key, p256_pub, 65) == 0);
    cr_assert(hs13_client_hello_find_share(&ch, 29, &ks));
    cr_assert(memcmp(ks.key, x25519_pub, 32) == 0);
    cr_assert(!hs13_client_hello_find_share(&ch, 24, &ks));
    cr_assert_eq(ch.cookie_len, sizeof hrr_cookie);
    cr_assert(memcmp(ch.cookie, hrr_cookie, sizeof hrr_cookie) == 0);
    cr_assert(ch.has_psk_modes);
    cr_assert_eq(ch.psk_modes, 3u);
    cr_assert(ch.early_data && ch.post_handshake_auth);
    /* pre_shared_key: last, identities and binders, the truncation point */
    cr_assert(ch.has_psk);
    cr_assert_eq(ch.n_identities, 2);
    cr_assert_eq(ch.n_binders, 2);
    cr_assert_eq(ch.binders_offset, boff);
    cr_assert_eq(boff + 2 + ch.binders_len, n, "the binders end the ClientHello");
    cr_assert_eq(get_u16(buf + boff), 1 + 32 + 1 + 48);
    size_t off = 0;
    hs13_psk_identity id;
    cr_assert(hs13_psk_identity_next(ch.identities, ch.identities_len, &off, &id));
    cr_assert_eq(id.identity_len, 10);
    cr_assert(memcmp(id.identity, "ticket-one", 10) == 0);
    cr_assert_eq(id.obfuscated_ticket_age, 0x01020304u);
    cr_assert(hs13_psk_identity_next(ch.identities, ch.identities_len, &off, &id));
    cr_assert_eq(id.identity_len, 8);
    cr_assert(!hs13_psk_identity_next(ch.identities, ch.identities_len, &off, &id));
    uint16_t type;
    const uint8_t *d;
    size_t dl, eoff = 0, last = 0;
    while (hs13_ext_next(&ch.ext, &eoff, &type, &d, &dl)) last = type;
    cr_assert_eq(last, EXT13_PRE_SHARED_KEY);

    /* the binders go in afterwards, in place */
    uint8_t b1[32], b2[48];
    memset(b1, 0xb1, sizeof b1);
    memset(b2, 0xb2, sizeof b2);
    hs13_bytes binders[2] = {{b1, 32}, {b2, 48}};
    cr_assert_eq(hs13_client_hello_set_binders(buf, n, boff, binders, 2), CDTLS_OK);
    cr_assert_eq(hs13_client_hello_parse(buf, n, &ch), CDTLS_OK);
    off = 0;
    hs13_bytes got;
    cr_assert(hs13_psk_binder_next(ch.binders, ch.binders_len, &off, &got));
    cr_assert(got.len == 32 && memcmp(got.p, b1, 32) == 0);
    cr_assert(hs13_psk_binder_next(ch.binders, ch.binders_len, &off, &got));
    cr_assert(got.len == 48 && memcmp(got.p, b2, 48) == 0);
    /* wrong lengths or count are refused, the message left as it was */
    hs13_bytes wrong[2] = {{b2, 48}, {b1, 32}};
    cr_assert_eq(hs13_client_hello_set_binders(buf, n, boff, wrong, 2), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(hs13_client_hello_set_binders(buf, n, boff, binders, 1), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(hs13_client_hello_set_binders(buf, n, boff - 1, binders, 2), CDTLS_ERR_INVALID_ARG);
    sweep_but(parse_ch, buf, n, (size_t)(ch.ext.p - 2 - buf));
}

/* A binder computed over the truncated hello verifies on the parsed one. */
Test(tls13_msg, client_hello_binder_over_truncated_hello)
{
    const cdtls_provider *p = cdtls_provider_default();
    uint8_t msg[1100];
    size_t boff = 0, n = write_full_ch(msg + 4, sizeof msg - 4, &boff);
    msg[0] = HS_CLIENT_HELLO; /* the TLS-style header of the transcript (RFC 9147 §5.2) */
    put_u24(msg + 1, (uint32_t)n);
    uint8_t key[32] = {7}, th[32], binder[32];
    cr_assert_eq(tls13_hash(p, CDTLS_HASH_SHA256, msg, 4 + boff, th), CDTLS_OK);
    cr_assert_eq(tls13_verify_data(p, CDTLS_HASH_SHA256, DTLS13_LABEL_PREFIX, key, th, binder), CDTLS_OK);
    uint8_t b2[48] = {0};
    hs13_bytes binders[2] = {{binder, 32}, {b2, 48}};
    cr_assert_eq(hs13_client_hello_set_binders(msg + 4, n, boff, binders, 2), CDTLS_OK);
    /* the receiver: parse, hash up to binders_offset, check the first binder */
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(msg + 4, n, &ch), CDTLS_OK);
    cr_assert_eq(tls13_hash(p, CDTLS_HASH_SHA256, msg, 4 + ch.binders_offset, th), CDTLS_OK);
    size_t off = 0;
    hs13_bytes got;
    cr_assert(hs13_psk_binder_next(ch.binders, ch.binders_len, &off, &got));
    cr_assert_eq(tls13_verify_data_check(p, CDTLS_HASH_SHA256, DTLS13_LABEL_PREFIX, key, th, got.p, got.len),
                 CDTLS_OK);
}

/* A ClientHello with a hand-made extensions block. */
static size_t ch_with_block(const char *block_hex, uint8_t *out, size_t cap)
{
    static const uint8_t head[] = {0xfe, 0xfd, [34] = 0, 0, 0, 2, 0x13, 0x01, 1, 0};
    cr_assert(cap > sizeof head + 2);
    memcpy(out, head, sizeof head);
    size_t n = unhex(block_hex, out + sizeof head + 2, cap - sizeof head - 2);
    put_u16(out + sizeof head, (unsigned)n);
    return sizeof head + 2 + n;
}

static int ch_block_rc(const char *block_hex)
{
    uint8_t buf[1024];
    hs13_client_hello ch;
    size_t n = ch_with_block(block_hex, buf, sizeof buf);
    return hs13_client_hello_parse(buf, n, &ch);
}

#define BINDER32 \
    "20"         \
    "0000000000000000000000000000000000000000000000000000000000000000"

Test(tls13_msg, client_hello_hostile)
{
    /* baseline: supported_versions and a psk_key_exchange_modes */
    cr_assert_eq(ch_block_rc("002b000302fefc002d00020101"), CDTLS_OK);
    /* supported_versions: odd, empty, or past its extension */
    cr_assert_eq(ch_block_rc("002b000403fefc00"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("002b000100"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("002b000304fefc"), CDTLS_ERR_DECODE);
    /* an extension twice, known or not */
    cr_assert_eq(ch_block_rc("002b000302fefc002b000302fefc"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("abcd0000abcd0000"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("abcd0000abce0000"), CDTLS_OK);
    /* an extension RFC 8446 §4.2 keeps out of ClientHello */
    cr_assert_eq(ch_block_rc("003000020000"), CDTLS_ERR_ILLEGAL_PARAMETER); /* oid_filters */
    /* key_share: two shares for one group; an empty key; a short entry */
    cr_assert_eq(ch_block_rc("0033000c000a001d000101001d000102"), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(ch_block_rc("00330006000400170000"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("003300050003001d00"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("003300020000"), CDTLS_OK); /* an empty list asks for HRR */
    /* cookie empty; early_data and post_handshake_auth with data */
    cr_assert_eq(ch_block_rc("002c00020000"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("002a000100"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("0031000100"), CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("002d000100"), CDTLS_ERR_DECODE); /* modes<1..255> */
    /* pre_shared_key: one identity "a", age 0, one 32-byte binder */
    const char *psk = "0029002c0007000161000000000021" BINDER32;
    char block[512];
    snprintf(block, sizeof block, "002b000302fefc%s", psk);
    cr_assert_eq(ch_block_rc(block), CDTLS_OK);
    snprintf(block, sizeof block, "%s002b000302fefc", psk); /* not last */
    cr_assert_eq(ch_block_rc(block), CDTLS_ERR_ILLEGAL_PARAMETER);
    /* two identities, one binder */
    cr_assert_eq(ch_block_rc("00290033000e00016100000000000162000000000021" BINDER32),
                 CDTLS_ERR_ILLEGAL_PARAMETER);
    /* a 31-byte binder; an empty identity */
    cr_assert_eq(
        ch_block_rc(
            "0029002b00070001610000000000201f00000000000000000000000000000000000000000000000000000000000000"),
        CDTLS_ERR_DECODE);
    cr_assert_eq(ch_block_rc("0029002b00060000000000000021" BINDER32), CDTLS_ERR_DECODE);
    /* trailing bytes inside pre_shared_key */
    cr_assert_eq(ch_block_rc("0029002d0007000161000000000021" BINDER32 "00"), CDTLS_ERR_DECODE);
}

/* ---------------------------------------------------- ServerHello and HRR */

/* writes in, parses it back into out; the length written */
static size_t sh_round_trip(const hs13_server_hello *in, uint8_t *buf, size_t cap, hs13_server_hello *out)
{
    cdtls_writer w;
    writer_init(&w, buf, cap);
    cr_assert_eq(hs13_server_hello_write(&w, in), CDTLS_OK);
    cr_assert_eq(hs13_server_hello_parse(buf, w.len, out), CDTLS_OK);
    return w.len;
}

Test(tls13_msg, server_hello_round_trip)
{
    hs13_server_hello in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    for (int i = 0; i < 32; i++) in.legacy.random[i] = (uint8_t)i;
    in.legacy.cipher_suite = 0x1301;
    in.has_selected_version = 1;
    in.selected_version = HS13_DTLS_VERSION_1_3;
    in.has_key_share = 1;
    in.share.group = 29;
    in.share.key = x25519_pub;
    in.share.key_len = 32;
    in.has_psk = 1;
    in.selected_identity = 1;
    uint8_t buf[512];
    hs13_server_hello sh;
    size_t n = sh_round_trip(&in, buf, sizeof buf, &sh);
    cr_assert(!sh.is_hrr);
    cr_assert(sh.has_selected_version && sh.selected_version == HS13_DTLS_VERSION_1_3);
    cr_assert(sh.has_key_share && sh.share.group == 29 && sh.share.key_len == 32);
    cr_assert(memcmp(sh.share.key, x25519_pub, 32) == 0);
    cr_assert(sh.has_psk && sh.selected_identity == 1);
    cr_assert(memcmp(sh.legacy.random, in.legacy.random, 32) == 0);
    cr_assert_eq(sh.legacy.cipher_suite, 0x1301);
    sweep_but(parse_sh, buf, n, (size_t)(sh.ext.p - 2 - buf));
}

Test(tls13_msg, hello_retry_request)
{
    /* the special random is SHA-256("HelloRetryRequest") */
    const cdtls_provider *p = cdtls_provider_default();
    uint8_t h[32];
    cr_assert_eq(tls13_hash(p, CDTLS_HASH_SHA256, (const uint8_t *)"HelloRetryRequest", 17, h), CDTLS_OK);
    cr_assert(memcmp(h, hs13_hrr_random, 32) == 0);
    hs13_server_hello in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    in.legacy.cipher_suite = 0x1302;
    in.is_hrr = 1;
    in.has_selected_version = 1;
    in.selected_version = HS13_DTLS_VERSION_1_3;
    in.has_key_share = 1;
    in.selected_group = 24;
    in.cookie = hrr_cookie;
    in.cookie_len = sizeof hrr_cookie;
    uint8_t buf[512];
    hs13_server_hello hrr;
    size_t n = sh_round_trip(&in, buf, sizeof buf, &hrr);
    cr_assert(hrr.is_hrr);
    cr_assert(hs13_is_hrr_random(hrr.legacy.random));
    cr_assert(hrr.has_key_share && hrr.selected_group == 24 && hrr.share.key == NULL);
    cr_assert_eq(hrr.cookie_len, sizeof hrr_cookie);
    cr_assert(memcmp(hrr.cookie, hrr_cookie, sizeof hrr_cookie) == 0);
    sweep_but(parse_sh, buf, n, (size_t)(hrr.ext.p - 2 - buf));

    /* the same extensions in a ServerHello: cookie is not allowed there */
    buf[2] ^= 1; /* the random is no longer the HRR one */
    cr_assert_eq(hs13_server_hello_parse(buf, n, &hrr), CDTLS_ERR_ILLEGAL_PARAMETER);
}

/* a ServerHello (ordinary random, empty session id) with a hand-made block */
static int sh_block_rc(const char *block_hex, int hrr)
{
    uint8_t buf[600];
    buf[0] = 0xfe, buf[1] = 0xfd;
    if (hrr)
        memcpy(buf + 2, hs13_hrr_random, 32);
    else
        memset(buf + 2, 0x11, 32);
    buf[34] = 0;
    buf[35] = 0x13, buf[36] = 0x01, buf[37] = 0;
    size_t n = unhex(block_hex, buf + 40, sizeof buf - 40);
    put_u16(buf + 38, (unsigned)n);
    hs13_server_hello sh;
    return hs13_server_hello_parse(buf, 40 + n, &sh);
}

Test(tls13_msg, server_hello_hostile)
{
    cr_assert_eq(
        sh_block_rc(
            "002b0002fefc00330024001d00200000000000000000000000000000000000000000000000000000000000000000",
            0),
        CDTLS_OK);
    cr_assert_eq(sh_block_rc("002b0003fefc00", 0), CDTLS_ERR_DECODE); /* selected_version: 2 bytes */
    cr_assert_eq(sh_block_rc("002b0002fefc002b0002fefc", 0), CDTLS_ERR_DECODE); /* twice */
    cr_assert_eq(sh_block_rc("00330002001d", 0), CDTLS_ERR_DECODE);             /* SH key_share is an entry */
    cr_assert_eq(sh_block_rc("00330002001d", 1), CDTLS_OK);                     /* HRR: the group alone */
    cr_assert_eq(sh_block_rc("00330003001d00", 1), CDTLS_ERR_DECODE);
    cr_assert_eq(sh_block_rc("0029000100", 0), CDTLS_ERR_DECODE); /* selected_identity: 2 bytes */
    cr_assert_eq(sh_block_rc("002900020000", 1), CDTLS_ERR_ILLEGAL_PARAMETER); /* no PSK in HRR */
}

Test(tls13_msg, server_hello_extensions_out_of_place)
{
    /* ALPN, supported_groups and early_data belong in EncryptedExtensions */
    cr_assert_eq(sh_block_rc("001000050003026832", 0), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(sh_block_rc("000a00040002001d", 0), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(sh_block_rc("002a0000", 0), CDTLS_ERR_ILLEGAL_PARAMETER);
    /* 1.2-only extensions in a 1.3 ServerHello */
    cr_assert_eq(sh_block_rc("00170000", 0), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(sh_block_rc("ff01000100", 0), CDTLS_ERR_ILLEGAL_PARAMETER);
    /* unknown ones pass the codec (the engine refuses what it did not offer) */
    cr_assert_eq(sh_block_rc("fa000000", 0), CDTLS_OK);
}

Test(tls13_msg, downgrade_sentinels)
{
    uint8_t r[32];
    memset(r, 0x5a, sizeof r);
    cr_assert_eq(hs13_downgrade_sentinel(r), HS13_DOWNGRADE_NONE);
    hs13_downgrade_mark(r, HS13_DOWNGRADE_DTLS12);
    cr_assert(memcmp(r + 24, "DOWNGRD\x01", 8) == 0);
    cr_assert_eq(r[23], 0x5a);
    cr_assert_eq(hs13_downgrade_sentinel(r), HS13_DOWNGRADE_DTLS12);
    hs13_downgrade_mark(r, HS13_DOWNGRADE_DTLS10);
    cr_assert(memcmp(r + 24, "DOWNGRD\x00", 8) == 0);
    cr_assert_eq(hs13_downgrade_sentinel(r), HS13_DOWNGRADE_DTLS10);
    r[31] = 2;
    cr_assert_eq(hs13_downgrade_sentinel(r), HS13_DOWNGRADE_NONE);
    r[31] = 1;
    r[24] = 'd';
    cr_assert_eq(hs13_downgrade_sentinel(r), HS13_DOWNGRADE_NONE);
}

/* ------------------------------------------------------ EncryptedExtensions */

Test(tls13_msg, encrypted_extensions)
{
    hs_extensions shared;
    memset(&shared, 0, sizeof shared);
    shared.alpn = (const uint8_t *)"\x02h3";
    shared.alpn_len = 3;
    uint8_t buf[128];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_encrypted_extensions_write(&w, &shared, 1), CDTLS_OK);
    hs13_encrypted_extensions ee;
    cr_assert_eq(hs13_encrypted_extensions_parse(buf, w.len, &ee), CDTLS_OK);
    cr_assert(ee.early_data);
    cr_assert_eq(ee.shared.alpn_len, 3);
    cr_assert(memcmp(ee.shared.alpn, "\x02h3", 3) == 0);
    cr_assert_eq(ee.ext.count, 2);
    sweep(parse_ee, buf, w.len);
    /* early_data refused: no extension; an empty EE is 00 00 */
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_encrypted_extensions_write(&w, NULL, 0), CDTLS_OK);
    cr_assert_eq(w.len, 2);
    cr_assert_eq(hs13_encrypted_extensions_parse(buf, w.len, &ee), CDTLS_OK);
    cr_assert(!ee.early_data);
    /* hostile: key_share here, early_data with data, a malformed ALPN */
    expect_rc(parse_ee, "000600330002001d", CDTLS_ERR_ILLEGAL_PARAMETER);
    expect_rc(parse_ee, "0005002a000100", CDTLS_ERR_DECODE);
    expect_rc(parse_ee, "00080010000400020000", CDTLS_ERR_DECODE);
    expect_rc(parse_ee, "", CDTLS_ERR_DECODE);
}

/* --------------------------------------------- CertificateRequest, Certificate */

Test(tls13_msg, certificate_request)
{
    uint8_t buf[128];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_certificate_request_write(&w, (const uint8_t *)"ctx", 3, sig_algs, 2), CDTLS_OK);
    hs13_certificate_request cr;
    cr_assert_eq(hs13_certificate_request_parse(buf, w.len, &cr), CDTLS_OK);
    cr_assert(cr.context_len == 3 && memcmp(cr.context, "ctx", 3) == 0);
    cr_assert_eq(cr.sig_algs_len, 4);
    cr_assert(hs_sig_algs_contain(cr.sig_algs, cr.sig_algs_len, 0x0807));
    cr_assert_null(cr.sig_algs_cert);
    sweep(parse_cr, buf, w.len);
    /* no signature_algorithms; key_share in a CertificateRequest; odd list */
    expect_rc(parse_cr, "0000080032000400020403", CDTLS_ERR_ILLEGAL_PARAMETER);
    expect_rc(parse_cr, "00000e000d00040002040300330002001d", CDTLS_ERR_ILLEGAL_PARAMETER);
    expect_rc(parse_cr, "000009000d00050003040305", CDTLS_ERR_DECODE);
    expect_rc(parse_cr, "000000", CDTLS_ERR_DECODE); /* extensions<2..2^16-1> */
    cr_assert_eq(hs13_certificate_request_write(&w, NULL, 0, sig_algs, 0), CDTLS_ERR_INVALID_ARG);
}

Test(tls13_msg, certificate)
{
    static const uint8_t der1[] = {0x30, 0x03, 0x02, 0x01, 0x01}, spki[] = {0x30, 0x02, 0x05, 0x00};
    uint8_t ext1[16];
    size_t ext1_len = unhex("000500020000", ext1, sizeof ext1); /* status_request: allowed in CT */
    hs13_cert_entry in[2] = {{der1, sizeof der1, {ext1, ext1_len, 1}}, {spki, sizeof spki, {NULL, 0, 0}}};
    uint8_t buf[256];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_certificate_write(&w, NULL, 0, in, 2), CDTLS_OK);
    hs13_certificate c;
    cr_assert_eq(hs13_certificate_parse(buf, w.len, 8, &c), CDTLS_OK);
    cr_assert_eq(c.context_len, 0);
    cr_assert_eq(c.count, 2);
    hs13_cert_entry e;
    cr_assert(hs13_certificate_next(&c.list, &e));
    cr_assert(e.len == sizeof der1 && memcmp(e.data, der1, sizeof der1) == 0);
    cr_assert_eq(e.ext.count, 1);
    const uint8_t *d;
    size_t dl;
    cr_assert(hs13_ext_find(&e.ext, 5, &d, &dl) && dl == 2);
    cr_assert(hs13_certificate_next(&c.list, &e));
    cr_assert(e.len == sizeof spki && e.ext.count == 0);
    cr_assert(!hs13_certificate_next(&c.list, &e));
    cr_assert_eq(hs13_certificate_parse(buf, w.len, 1, &c), CDTLS_ERR_LIMIT);
    sweep(parse_cert, buf, w.len);
    /* the client's empty Certificate, echoing a request context */
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_certificate_write(&w, (const uint8_t *)"rq", 2, NULL, 0), CDTLS_OK);
    cr_assert_eq(hs13_certificate_parse(buf, w.len, 8, &c), CDTLS_OK);
    cr_assert(c.count == 0 && c.context_len == 2);
    /* hostile: empty cert_data; key_share in an entry's extensions */
    expect_rc(parse_cert, "000000050000000000", CDTLS_ERR_DECODE);
    expect_rc(parse_cert, "0000000e000001aa000800330004001d0000", CDTLS_ERR_ILLEGAL_PARAMETER);
}

/* ------------------------------------------------------- CertificateVerify */

Test(tls13_msg, certificate_verify_content)
{
    uint8_t th[48], out[HS13_CV_CONTENT_MAX];
    for (int i = 0; i < 48; i++) th[i] = (uint8_t)(0xa0 + i);
    size_t n = 0;
    cr_assert_eq(hs13_certificate_verify_content(1, th, 48, out, sizeof out, &n), CDTLS_OK);
    cr_assert_eq(n, 64 + 33 + 1 + 48);
    for (int i = 0; i < 64; i++) cr_assert_eq(out[i], 0x20);
    cr_assert(memcmp(out + 64, "TLS 1.3, server CertificateVerify", 33) == 0);
    cr_assert_eq(out[97], 0);
    cr_assert(memcmp(out + 98, th, 48) == 0);
    cr_assert_eq(hs13_certificate_verify_content(0, th, 32, out, sizeof out, &n), CDTLS_OK);
    cr_assert_eq(n, 130);
    cr_assert(memcmp(out + 64, "TLS 1.3, client CertificateVerify", 33) == 0);
    cr_assert_eq(hs13_certificate_verify_content(0, th, 32, out, 129, &n), CDTLS_ERR_BUFFER_TOO_SMALL);
    /* the body itself is the 1.2 form */
    hs_certificate_verify cv = {0x0804, th, 48};
    cdtls_writer w;
    writer_init(&w, out, sizeof out);
    cr_assert_eq(hs_certificate_verify_write(&w, &cv), CDTLS_OK);
    hs_certificate_verify back;
    cr_assert_eq(hs_certificate_verify_parse(out, w.len, &back), CDTLS_OK);
    cr_assert(back.sig_alg == 0x0804 && back.signature_len == 48);
}

/* ------------------------------------- Finished, KeyUpdate, ticket, ACK, HRR */

Test(tls13_msg, finished_and_key_update)
{
    uint8_t vd[48] = {1};
    const uint8_t *got;
    cr_assert_eq(hs13_finished_parse(vd, 32, 32, &got), CDTLS_OK);
    cr_assert_eq(got, vd);
    cr_assert_eq(hs13_finished_parse(vd, 31, 32, &got), CDTLS_ERR_DECODE);
    cr_assert_eq(hs13_finished_parse(vd, 48, 32, &got), CDTLS_ERR_DECODE);
    cr_assert_null(got);
    uint8_t buf[4];
    cdtls_writer w;
    for (int req = 0; req < 2; req++) {
        writer_init(&w, buf, sizeof buf);
        cr_assert_eq(hs13_key_update_write(&w, req), CDTLS_OK);
        int back = -1;
        cr_assert_eq(hs13_key_update_parse(buf, w.len, &back), CDTLS_OK);
        cr_assert_eq(back, req);
        sweep(parse_ku, buf, w.len);
    }
    int r;
    buf[0] = 2;
    cr_assert_eq(hs13_key_update_parse(buf, 1, &r), CDTLS_ERR_ILLEGAL_PARAMETER);
}

Test(tls13_msg, new_session_ticket)
{
    static const uint8_t nonce[2] = {0, 1}, ticket[40] = {0x71};
    hs13_new_session_ticket in = {7200, 0xdeadbeef, nonce, 2, ticket, 40, {NULL, 0, 0}, 1, 16384};
    uint8_t buf[128];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_new_session_ticket_write(&w, &in), CDTLS_OK);
    hs13_new_session_ticket t;
    cr_assert_eq(hs13_new_session_ticket_parse(buf, w.len, &t), CDTLS_OK);
    cr_assert(t.lifetime_s == 7200 && t.age_add == 0xdeadbeef);
    cr_assert(t.nonce_len == 2 && memcmp(t.nonce, nonce, 2) == 0);
    cr_assert(t.ticket_len == 40 && memcmp(t.ticket, ticket, 40) == 0);
    cr_assert(t.has_max_early_data && t.max_early_data == 16384);
    sweep(parse_nst, buf, w.len);
    /* RFC 8448 §3's ticket: parsed as a 1.3 NewSessionTicket */
    static uint8_t rfc[256];
    size_t n = unhex("0000001efad6aac502000000b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90b"
                     "f1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be"
                     "7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa"
                     "5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6"
                     "505e5bfbc388e93343694093934ae4d3570008002a000400000400",
                     rfc, sizeof rfc);
    cr_assert_eq(n, 201);
    cr_assert_eq(hs13_new_session_ticket_parse(rfc, n, &t), CDTLS_OK);
    cr_assert(t.lifetime_s == 30 && t.age_add == 0xfad6aac5);
    cr_assert(t.nonce_len == 2 && t.nonce[0] == 0 && t.nonce[1] == 0);
    cr_assert_eq(t.ticket_len, 178);
    cr_assert(t.has_max_early_data && t.max_early_data == 1024);
    /* hostile: lifetime over 7 days; empty ticket; early_data of 3 bytes */
    memcpy(buf, "\x00\x09\x3a\x81", 4);
    cr_assert_eq(hs13_new_session_ticket_parse(buf, w.len, &t), CDTLS_ERR_ILLEGAL_PARAMETER);
    expect_rc(parse_nst, "0000001e000000000000000000", CDTLS_ERR_DECODE);
    expect_rc(parse_nst, "0000001e00000000000001610007002a0003000000", CDTLS_ERR_DECODE);
    expect_rc(parse_nst, "0000001e0000000000000161000400330000", CDTLS_ERR_ILLEGAL_PARAMETER);
    in.lifetime_s = HS13_MAX_TICKET_LIFETIME + 1;
    cr_assert_eq(hs13_new_session_ticket_write(&w, &in), CDTLS_ERR_INVALID_ARG);
}

Test(tls13_msg, ack)
{
    hs13_record_number rn[3] = {{0, 1}, {2, 0x0000ffffffffffffull}, {0xffffffffffffffffull, 7}};
    uint8_t buf[64];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_ack_write(&w, rn, 3), CDTLS_OK);
    cr_assert_eq(w.len, 2 + 48);
    cr_assert_eq(buf[2 + 16 + 7], 2);
    const uint8_t *list;
    size_t count;
    cr_assert_eq(hs13_ack_parse(buf, w.len, &list, &count), CDTLS_OK);
    cr_assert_eq(count, 3);
    for (size_t i = 0; i < 3; i++) {
        hs13_record_number got;
        hs13_ack_get(list, i, &got);
        cr_assert(got.epoch == rn[i].epoch && got.seq == rn[i].seq);
    }
    sweep(parse_ack, buf, w.len);
    /* an empty ACK; a list not made of 16-byte record numbers */
    uint8_t empty[2] = {0, 0};
    cr_assert_eq(hs13_ack_parse(empty, 2, &list, &count), CDTLS_OK);
    cr_assert_eq(count, 0);
    put_u16(buf, 17);
    cr_assert_eq(hs13_ack_parse(buf, 19, &list, &count), CDTLS_ERR_DECODE);
    cr_assert_eq(hs13_ack_write(&w, rn, 0x1000), CDTLS_ERR_INVALID_ARG);
}

Test(tls13_msg, message_hash_for_hrr)
{
    uint8_t h[48], out[64];
    for (int i = 0; i < 48; i++) h[i] = (uint8_t)i;
    size_t n = 0;
    cr_assert_eq(hs13_message_hash(h, 32, out, sizeof out, &n), CDTLS_OK);
    cr_assert_eq(n, 36);
    cr_assert(memcmp(out, "\xfe\x00\x00\x20", 4) == 0);
    cr_assert(memcmp(out + 4, h, 32) == 0);
    cr_assert_eq(hs13_message_hash(h, 48, out, sizeof out, &n), CDTLS_OK);
    cr_assert(memcmp(out, "\xfe\x00\x00\x30", 4) == 0);
    cr_assert_eq(hs13_message_hash(h, 48, out, 51, &n), CDTLS_ERR_BUFFER_TOO_SMALL);
}

Test(tls13_msg, extension_table)
{
    cr_assert(hs13_ext_allowed(EXT13_KEY_SHARE, HS13_IN_HRR));
    cr_assert(!hs13_ext_allowed(EXT13_KEY_SHARE, HS13_IN_EE));
    cr_assert(hs13_ext_allowed(EXT13_EARLY_DATA, HS13_IN_NST));
    cr_assert(!hs13_ext_allowed(EXT13_PRE_SHARED_KEY, HS13_IN_HRR));
    cr_assert(hs13_ext_allowed(EXT_ALPN, HS13_IN_EE));
    cr_assert(!hs13_ext_allowed(EXT_ALPN, HS13_IN_SH));
    cr_assert(hs13_ext_allowed(EXT13_OID_FILTERS, HS13_IN_CR));
    cr_assert(!hs13_ext_allowed(EXT13_OID_FILTERS, HS13_IN_CH));
    cr_assert(hs13_ext_allowed(EXT_EXTENDED_MASTER_SECRET, HS13_IN_CH));
    cr_assert(!hs13_ext_allowed(EXT_EXTENDED_MASTER_SECRET, HS13_IN_EE));
    cr_assert(hs13_ext_allowed(0xfafa, HS13_IN_CT)); /* unknown: the engine decides */
    cr_assert(!hs13_ext_allowed(EXT_ALPN, (hs13_ext_where)99));
}

/* The writers refuse what the wire cannot carry, before writing it. */
Test(tls13_msg, writers_refuse_bad_arguments)
{
    uint8_t buf[512];
    cdtls_writer w;
    hs13_client_hello_params in;
    static const hs13_key_share empty_share = {29, x25519_pub, 0};
    static const hs13_psk_identity id = {(const uint8_t *)"id", 2, 0}, no_id = {NULL, 0, 0};
    static const hs13_bytes short_binder = {NULL, 31}, binder = {NULL, 32};
    base_params(&in);
    in.legacy.n_suites = 0;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_ERR_INVALID_ARG);
    base_params(&in);
    in.shares = &empty_share, in.n_shares = 1;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_ERR_INVALID_ARG);
    base_params(&in);
    in.identities = &id, in.binders = &short_binder, in.n_psks = 1;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_ERR_INVALID_ARG);
    in.identities = &no_id, in.binders = &binder;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_ERR_INVALID_ARG);
    in.identities = NULL;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_ERR_INVALID_ARG);
    /* too small a buffer is reported as such */
    base_params(&in);
    writer_init(&w, buf, 40);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_ERR_BUFFER_TOO_SMALL);
    hs13_cert_entry empty_cert = {NULL, 0, {NULL, 0, 0}};
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_certificate_write(&w, NULL, 0, &empty_cert, 1), CDTLS_ERR_INVALID_ARG);
    hs13_new_session_ticket t = {60, 0, NULL, 0, NULL, 0, {NULL, 0, 0}, 0, 0};
    cr_assert_eq(hs13_new_session_ticket_write(&w, &t), CDTLS_ERR_INVALID_ARG); /* ticket<1..> */
    size_t n;
    uint8_t h[32] = {0};
    cr_assert_eq(hs13_message_hash(h, 0, buf, sizeof buf, &n), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(hs13_certificate_verify_content(1, h, 65, buf, sizeof buf, &n), CDTLS_ERR_INVALID_ARG);
}
