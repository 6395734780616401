/* The DTLS 1.3 record layer (RFC 9147 §4): first-byte demultiplexing, the
 * unified header in every form, record number masks (known answers),
 * protection of every suite, known records made by an independent
 * implementation, the 2^14 limits, sequence number and epoch
 * reconstruction, replay, and the AEAD usage limits. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/dtls.h"
#include "common/selftest_vectors.h"
#include "record/record13.h"

static const uint8_t key32[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t sn32[32] = {32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
static const uint8_t iv12[12] = {16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};

static const uint16_t all_suites[] = {R13_TLS_AES_128_GCM_SHA256, R13_TLS_AES_256_GCM_SHA384,
                                      R13_TLS_CHACHA20_POLY1305_SHA256, R13_TLS_AES_128_CCM_SHA256,
                                      R13_TLS_AES_128_CCM_8_SHA256};

static size_t suite_key_len(uint16_t s)
{
    return s == R13_TLS_AES_256_GCM_SHA384 || s == R13_TLS_CHACHA20_POLY1305_SHA256 ? 32 : 16;
}

/* CCM_8 has no default integrity limit (RFC 9147 §4.5.3): the tests give one */
static const record13_limits ccm8_limits = {1u << 20, 1u << 10};

/* 1 if the provider has the suite (AEAD and mask), else 0 */
static int cipher_for(record13_cipher *rc, uint16_t suite)
{
    const cdtls_provider *p = cdtls_provider_default();
    size_t kl = suite_key_len(suite);
    int r = record13_cipher_init(rc, p, suite, key32, kl, iv12, 12, sn32, kl,
                                 suite == R13_TLS_AES_128_CCM_8_SHA256 ? &ccm8_limits : NULL);
    if (r == CDTLS_ERR_UNSUPPORTED) return 0;
    cr_assert_eq(r, CDTLS_OK, "suite %04x: %s", suite, cdtls_strerror(r));
    return 1;
}

/* ------------------------------------------------------ demultiplexing */

Test(record13_header, first_byte_classification)
{
    for (unsigned b = 0; b < 256; b++) {
        record13_kind want = R13_KIND_INVALID;
        if (b == 21 || b == 22 || b == 26)
            want = R13_KIND_PLAINTEXT;
        else if (b == 20 || b == 23 || b == 24 || b == 25)
            want = R13_KIND_DTLS12;
        else if (b >= 32 && b <= 63)
            want = R13_KIND_CIPHERTEXT;
        cr_assert_eq(record13_classify((uint8_t)b), want, "byte %u", b);
    }
}

/* ------------------------------------------------------------ header */

Test(record13_header, figure4_examples_parse)
{
    /* minimal: 001 0 0 0 EE, 8-bit sequence number, no length */
    uint8_t minimal[2 + 20];
    minimal[0] = 0x22;
    minimal[1] = 0x5a;
    memset(minimal + 2, 0xee, 20);
    cdtls_reader r;
    record13_header h;
    reader_init(&r, minimal, sizeof minimal);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(h.epoch_bits, 2);
    cr_assert_eq(h.seq_len, 1);
    cr_assert_eq(h.seq_bits, 0x5a);
    cr_assert_null(h.cid);
    cr_assert_eq(h.hdr_len, 2);
    cr_assert_eq(h.body, minimal + 2);
    cr_assert_eq(h.body_len, 20);
    cr_assert_eq(r.left, 0);

    /* full: 001 1 1 1 EE, CID, 16-bit sequence number, length */
    uint8_t full[] = {0x3f, 0xc1, 0xc2, 0xc3, 0xc4, 0x12, 0x34, 0x00, 0x03, 'a', 'b', 'c', 0x99};
    reader_init(&r, full, sizeof full);
    cr_assert_eq(record13_read(&r, 4, &h), CDTLS_OK);
    cr_assert_eq(h.epoch_bits, 3);
    cr_assert_eq(h.seq_len, 2);
    cr_assert_eq(h.seq_bits, 0x1234);
    cr_assert_eq(h.cid, full + 1);
    cr_assert_eq(h.cid_len, 4);
    cr_assert_eq(h.hdr_len, 9);
    cr_assert_eq(h.body_len, 3);
    cr_assert_eq(memcmp(h.body, "abc", 3), 0);
    cr_assert_eq(r.left, 1); /* the byte after the record is the next record's */
}

Test(record13_header, every_form_round_trips)
{
    static const uint8_t cid[6] = {9, 8, 7, 6, 5, 4};
    uint8_t d[128];
    for (int c = 0; c < 2; c++)
        for (int s = 0; s < 2; s++)
            for (int l = 0; l < 2; l++)
                for (uint64_t epoch = 0; epoch < 6; epoch++) {
                    record13_header_opts o = {s, l, c ? cid : NULL, c ? sizeof cid : 0};
                    const uint64_t seq = 0xabcdef0123ull + epoch;
                    const size_t body = 17 + epoch;
                    size_t n = record13_header_write(&o, epoch, seq, body, d, sizeof d);
                    cr_assert_eq(n, 1 + (c ? 6u : 0u) + (s ? 2u : 1u) + (l ? 2u : 0u));
                    cr_assert_eq(n, record13_header_len(&o));
                    memset(d + n, 0x77, body);
                    cdtls_reader r;
                    record13_header h;
                    reader_init(&r, d, n + body);
                    cr_assert_eq(record13_read(&r, c ? sizeof cid : 0, &h), CDTLS_OK);
                    cr_assert_eq(record13_classify(d[0]), R13_KIND_CIPHERTEXT);
                    cr_assert_eq(h.epoch_bits, epoch & 3);
                    cr_assert_eq(h.seq_bits, s ? (seq & 0xffff) : (seq & 0xff));
                    cr_assert_eq(h.seq_len, s ? 2 : 1);
                    cr_assert_eq(h.cid_len, c ? 6u : 0u);
                    if (c) cr_assert_eq(memcmp(h.cid, cid, 6), 0);
                    cr_assert_eq(h.hdr_len, n);
                    cr_assert_eq(h.body_len, body);
                    cr_assert_eq(r.left, 0);
                }
}

Test(record13_header, several_records_per_datagram)
{
    /* two records with a length, then one running to the end (§4: only the
     * last record may omit it) */
    uint8_t d[128];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        record13_header_opts o = {i == 1, i < 2, NULL, 0};
        n += record13_header_write(&o, 1, (uint64_t)i, 20 + (size_t)i, d + n, sizeof d - n);
        memset(d + n, 'a' + i, 20 + (size_t)i);
        n += 20 + (size_t)i;
    }
    cdtls_reader r;
    reader_init(&r, d, n);
    for (int i = 0; i < 3; i++) {
        record13_header h;
        cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK, "record %d", i);
        cr_assert_eq(h.seq_bits, (uint16_t)i);
        cr_assert_eq(h.body_len, 20 + (size_t)i);
        cr_assert_eq(h.body[0], 'a' + i);
        cr_assert_eq(h.body[h.body_len - 1], 'a' + i);
    }
    cr_assert_eq(r.left, 0);
}

Test(record13_header, truncated_and_hostile_forms_are_decode_errors)
{
    uint8_t d[32] = {0x3d, 0xc1, 0xc2, 0x12, 0x34, 0x00, 0x10};
    memset(d + 7, 0x55, 16);
    cdtls_reader r;
    record13_header h;
    /* every cut of a record with a length fails, and leaves the reader failed */
    for (size_t cut = 0; cut < 23; cut++) {
        reader_init(&r, d, cut);
        cr_assert_eq(record13_read(&r, 2, &h), CDTLS_ERR_DECODE, "cut %zu", cut);
        cr_assert(r.failed);
        cr_assert_null(h.body);
    }
    reader_init(&r, d, 23);
    cr_assert_eq(record13_read(&r, 2, &h), CDTLS_OK);
    /* a CID when none was negotiated: its length is unknown */
    reader_init(&r, d, 23);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_ERR_DECODE);
    /* not 001xxxxx */
    static const uint8_t firsts[] = {0x00, 0x16, 0x17, 0x40, 0x80, 0xc0, 0xff, 0x1f};
    for (size_t i = 0; i < sizeof firsts; i++) {
        uint8_t x[20] = {firsts[i], 1};
        reader_init(&r, x, sizeof x);
        cr_assert_eq(record13_read(&r, 0, &h), CDTLS_ERR_DECODE);
    }
    /* a length over 2^14 + 256 (RFC 8446 §5.2), even with the bytes there */
    size_t big = R13_MAX_CIPHERTEXT + 1 + 5;
    uint8_t *b = calloc(1, big);
    cr_assert_not_null(b);
    b[0] = 0x2c; /* S L */
    b[3] = (uint8_t)((R13_MAX_CIPHERTEXT + 1) >> 8);
    b[4] = (uint8_t)(R13_MAX_CIPHERTEXT + 1);
    reader_init(&r, b, big);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_ERR_DECODE);
    b[4] = (uint8_t)R13_MAX_CIPHERTEXT;
    reader_init(&r, b, big);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(h.body_len, R13_MAX_CIPHERTEXT);
    /* no length, and the rest of the datagram is over the limit */
    b[0] = 0x28;
    reader_init(&r, b, big);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_ERR_DECODE);
    free(b);
    /* a header with no room for its sequence number */
    uint8_t s16[2] = {0x28, 0x01};
    reader_init(&r, s16, 2);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_ERR_DECODE);
    /* the writer refuses too-long lengths and short buffers */
    record13_header_opts o = {1, 1, NULL, 0};
    uint8_t out[8];
    cr_assert_eq(record13_header_write(&o, 0, 0, R13_MAX_CIPHERTEXT + 1, out, sizeof out), 0);
    cr_assert_eq(record13_header_write(&o, 0, 0, 10, out, 4), 0);
    cr_assert_eq(record13_header_write(&o, 0, 0, 10, out, 5), 5);
}

/* ------------------------------------------------ record number masks */

static void check_mask(cdtls_sn_mask_alg alg, const uint8_t *key, const uint8_t *sample, const uint8_t *want)
{
    const cdtls_provider *p = cdtls_provider_default();
    const cdtls_sn_mask_vt *m = p->sn_mask[alg];
    if (!m) cr_skip_test("%s has no %s", p->name, cdtls_sn_mask_name(alg));
    cdtls_sn_mask_ctx ctx;
    uint8_t out[16];
    cr_assert_eq(m->init(&ctx, key, m->key_len + 1), CDTLS_ERR_KEY_SIZE); /* leaves nothing to clear */
    cr_assert_eq(m->init(&ctx, key, m->key_len), CDTLS_OK);
    cr_assert_eq(m->mask(&ctx, sample, out), CDTLS_OK);
    cr_assert_eq(memcmp(out, want, 16), 0, "%s", m->name);
    memcpy(out, sample, 16); /* in place */
    cr_assert_eq(m->mask(&ctx, out, out), CDTLS_OK);
    cr_assert_eq(memcmp(out, want, 16), 0, "%s in place", m->name);
    m->clear(&ctx);
}

/* The published vectors, as the provider self-test has them
 * (selftest_vectors.h, checked against Python's `cryptography` by
 * scripts/gen_selftest_vectors.py): FIPS-197 Appendix C.1 (AES-128) and
 * C.3 (AES-256), and RFC 8439 §2.4.2 (key 00..1f, counter 1, nonce 00 00 00
 * 00 00 00 00 4a 00 00 00 00: the section's keystream begins 22 4f 51 f3).
 * As a sample the ChaCha20 counter comes first, little-endian (RFC 9147
 * §4.2.3). */
Test(record13_sn_mask, aes_fips197)
{
    check_mask(CDTLS_SN_MASK_AES_128, st_sn_key, st_sn_aes_pt, st_sn_aes128);
    check_mask(CDTLS_SN_MASK_AES_256, st_sn_key, st_sn_aes_pt, st_sn_aes256);
}

Test(record13_sn_mask, chacha20_rfc8439)
{
    check_mask(CDTLS_SN_MASK_CHACHA20, st_sn_key, st_sn_chacha_sample, st_sn_chacha);
    /* the second block of the same section (counter 2): the counter is
     * read from the sample, not fixed */
    uint8_t sample2[16];
    memcpy(sample2, st_sn_chacha_sample, 16);
    sample2[0] = 2;
    static const uint8_t ks2[16] = {0x69, 0xa6, 0x74, 0x9f, 0x3f, 0x63, 0x0f, 0x41,
                                    0x22, 0xca, 0xfe, 0x28, 0xec, 0x4d, 0xc4, 0x7e};
    check_mask(CDTLS_SN_MASK_CHACHA20, st_sn_key, sample2, ks2);
}

Test(record13_sn_mask, combine_takes_the_first_table_with_a_mask)
{
    const cdtls_provider *real = cdtls_provider_default();
    cdtls_provider empty;
    memset(&empty, 0, sizeof empty);
    empty.abi_version = CDTLS_PROVIDER_ABI_VERSION;
    empty.name = "empty";
    const cdtls_provider *list[2] = {&empty, real};
    cdtls_provider_combined c;
    cr_assert_eq(cdtls_provider_combine(&c, NULL, list, 2), CDTLS_OK);
    for (int i = 0; i < CDTLS_SN_MASK__COUNT; i++) cr_assert_eq(c.provider.sn_mask[i], real->sn_mask[i]);
    /* a table of the previous ABI (no sn_mask member) is refused */
    empty.abi_version = 1;
    cr_assert_eq(cdtls_provider_combine(&c, NULL, list, 2), CDTLS_ERR_INVALID_ARG);
    record13_cipher rc;
    cr_assert_eq(
        record13_cipher_init(&rc, &empty, R13_TLS_AES_128_GCM_SHA256, key32, 16, iv12, 12, sn32, 16, NULL),
        CDTLS_ERR_UNSUPPORTED);
}

/* --------------------------------------------------------- protection */

/* Records made with Python's `cryptography` (OpenSSL's AES-GCM,
 * ChaCha20-Poly1305, AES-ECB and ChaCha20), following RFC 9147 §4 and
 * §4.2.3 and RFC 8446 §5.2-5.3 as written, independently of this code:
 * content "hello, dtls 1.3", type 23; the keys above.
 *  - AES-128-GCM: epoch 3, sequence number 0x0102030405, 16-bit sequence
 *    number, length present, 2 bytes of padding;
 *  - ChaCha20-Poly1305: epoch 2, sequence number 7, 8-bit sequence number,
 *    no length, CID c1 c2 c3, no padding. */
static const uint8_t known_gcm[] = {0x2f, 0x0f, 0xe0, 0x00, 0x22, 0xfe, 0x7b, 0x0f, 0x54, 0x04,
                                    0x91, 0x16, 0xeb, 0x2f, 0xce, 0x11, 0x27, 0xc9, 0xcf, 0xc0,
                                    0x6d, 0x5e, 0x9a, 0xd5, 0xf9, 0x98, 0x24, 0x89, 0x0a, 0xe0,
                                    0x89, 0x03, 0x8a, 0xd8, 0x27, 0xec, 0x7a, 0x7d, 0xa8};
static const uint8_t known_chacha[] = {0x32, 0xc1, 0xc2, 0xc3, 0x62, 0xb6, 0x75, 0x39, 0x2d, 0xc7,
                                       0x71, 0x25, 0x2a, 0xf0, 0xe5, 0x3c, 0x27, 0x79, 0xdb, 0xb3,
                                       0x52, 0x3a, 0xe7, 0x4d, 0x45, 0x0d, 0xb1, 0x6c, 0x05, 0x50,
                                       0xc2, 0x6d, 0x28, 0x63, 0x14, 0xcd, 0x23};
static const uint8_t cid3[3] = {0xc1, 0xc2, 0xc3};

static void check_known(uint16_t suite, const record13_header_opts *o, uint64_t epoch, uint64_t seq,
                        size_t pad, const uint8_t *want, size_t want_len)
{
    record13_cipher tx, rx;
    if (!cipher_for(&tx, suite)) cr_skip_test("suite %04x not in %s", suite, cdtls_provider_default()->name);
    cr_assert(cipher_for(&rx, suite));
    uint8_t out[128];
    size_t n = 0;
    cr_assert_eq(record13_seal(&tx, o, epoch, seq, 23, (const uint8_t *)"hello, dtls 1.3", 15, pad, out,
                               sizeof out, &n),
                 CDTLS_OK);
    cr_assert_eq(n, want_len);
    cr_assert_eq(memcmp(out, want, n), 0, "sealed record differs from the independent one");
    /* and the independent record opens */
    cdtls_reader r;
    record13_header h;
    reader_init(&r, want, want_len);
    cr_assert_eq(record13_read(&r, o->cid_len, &h), CDTLS_OK);
    cr_assert_eq(record13_unmask_seq(&rx, &h), CDTLS_OK);
    cr_assert_eq(h.seq_bits, o->seq16 ? (seq & 0xffff) : (seq & 0xff));
    uint8_t pt[128], type = 0;
    size_t pt_len = 0;
    cr_assert_eq(record13_open(&rx, &h, record13_seq_reconstruct(seq - 3, h.seq_bits, h.seq_len * 8u), pt,
                               sizeof pt, &pt_len, &type),
                 CDTLS_OK);
    cr_assert_eq(pt_len, 15);
    cr_assert_eq(type, 23);
    cr_assert_eq(memcmp(pt, "hello, dtls 1.3", 15), 0);
    record13_cipher_clear(&tx);
    record13_cipher_clear(&rx);
}

Test(record13_protect, known_record_aes128gcm)
{
    record13_header_opts o = {1, 1, NULL, 0};
    check_known(R13_TLS_AES_128_GCM_SHA256, &o, 3, 0x0102030405ull, 2, known_gcm, sizeof known_gcm);
}

Test(record13_protect, known_record_chacha20poly1305)
{
    record13_header_opts o = {0, 0, cid3, sizeof cid3};
    check_known(R13_TLS_CHACHA20_POLY1305_SHA256, &o, 2, 7, 0, known_chacha, sizeof known_chacha);
}

Test(record13_protect, every_suite_and_header_form_round_trips)
{
    int ran = 0;
    for (size_t si = 0; si < sizeof all_suites / sizeof all_suites[0]; si++) {
        record13_cipher tx, rx;
        if (!cipher_for(&tx, all_suites[si])) continue;
        cr_assert(cipher_for(&rx, all_suites[si]));
        ran++;
        for (int form = 0; form < 8; form++) {
            record13_header_opts o = {form & 1, (form >> 1) & 1, (form & 4) ? cid3 : NULL,
                                      (form & 4) ? 3u : 0u};
            for (size_t len = 0; len < 40; len += 13) {
                uint8_t msg[64], out[160], pt[160], type = 0;
                for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)(i * 7 + form);
                const uint64_t seq = 1000 + (uint64_t)form * 40 + len;
                size_t n = 0, pt_len = 0;
                cr_assert_eq(record13_seal(&tx, &o, 5, seq, 22, msg, len, len % 3, out, sizeof out, &n),
                             CDTLS_OK);
                cdtls_reader r;
                record13_header h;
                reader_init(&r, out, n);
                cr_assert_eq(record13_read(&r, o.cid_len, &h), CDTLS_OK);
                cr_assert_eq(r.left, 0);
                cr_assert_eq(h.epoch_bits, 1);
                /* the mask came from the ciphertext's first 16 bytes */
                uint8_t mask[16];
                cr_assert_eq(record13_mask(&tx, h.body, h.body_len, mask), CDTLS_OK);
                cr_assert_eq(h.seq_bits ^ (o.seq16 ? ((unsigned)mask[0] << 8 | mask[1]) : mask[0]),
                             o.seq16 ? (seq & 0xffff) : (seq & 0xff));
                cr_assert_geq(h.body_len, 16); /* short records are padded (§4.2.3) */
                cr_assert_eq(h.body_len, len + record13_expansion(&tx, len) + len % 3);
                cr_assert_eq(record13_unmask_seq(&rx, &h), CDTLS_OK);
                cr_assert_eq(record13_unmask_seq(&rx, &h), CDTLS_ERR_BAD_STATE);
                uint64_t full = record13_seq_reconstruct(seq - 5, h.seq_bits, h.seq_len * 8u);
                cr_assert_eq(full, seq);
                cr_assert_eq(record13_open(&rx, &h, full, pt, sizeof pt, &pt_len, &type), CDTLS_OK);
                cr_assert_eq(pt_len, len);
                cr_assert_eq(type, 22);
                if (len) cr_assert_eq(memcmp(pt, msg, len), 0);
                /* the wrong full sequence number (another nonce) fails */
                cr_assert_eq(record13_open(&rx, &h, full + 256 * 256, pt, sizeof pt, &pt_len, &type),
                             CDTLS_ERR_AUTH);
            }
        }
        cr_assert_eq(rx.failed, 8 * 4);
        cr_assert_eq(tx.sealed, 8 * 4);
        record13_cipher_clear(&tx);
        record13_cipher_clear(&rx);
    }
    cr_assert_gt(ran, 0, "the provider has no DTLS 1.3 suite");
}

/* The additional data is the header with the sequence number in clear:
 * any changed header bit, or a wrong unmasking, fails authentication. */
Test(record13_protect, header_is_authenticated)
{
    record13_cipher tx, rx;
    uint16_t suite = R13_TLS_CHACHA20_POLY1305_SHA256;
    cr_assert(cipher_for(&tx, suite)); /* every provider has ChaCha20 */
    cr_assert(cipher_for(&rx, suite));
    record13_header_opts o = {1, 1, cid3, 3};
    uint8_t out[128], pt[128], type;
    size_t n, pt_len;
    cr_assert_eq(record13_seal(&tx, &o, 1, 77, 23, (const uint8_t *)"data", 4, 0, out, sizeof out, &n),
                 CDTLS_OK);
    const size_t hdr = 1 + 3 + 2 + 2;
    for (size_t byte = 0; byte < hdr; byte++)
        for (int bit = 0; bit < 8; bit++) {
            uint8_t t[128];
            memcpy(t, out, n);
            t[byte] ^= (uint8_t)(1u << bit);
            cdtls_reader r;
            record13_header h;
            reader_init(&r, t, n);
            if (record13_read(&r, 3, &h) != CDTLS_OK) continue; /* no longer a header, or length moved */
            if (record13_unmask_seq(&rx, &h) != CDTLS_OK) continue;
            uint64_t full = record13_seq_reconstruct(77, h.seq_bits, h.seq_len * 8u);
            int rc = record13_open(&rx, &h, full, pt, sizeof pt, &pt_len, &type);
            cr_assert_eq(rc, CDTLS_ERR_AUTH, "byte %zu bit %d: %s", byte, bit, cdtls_strerror(rc));
        }
    /* and the untouched record opens */
    cdtls_reader r;
    record13_header h;
    reader_init(&r, out, n);
    cr_assert_eq(record13_read(&r, 3, &h), CDTLS_OK);
    cr_assert_eq(record13_unmask_seq(&rx, &h), CDTLS_OK);
    cr_assert_eq(record13_open(&rx, &h, 77, pt, sizeof pt, &pt_len, &type), CDTLS_OK);
    /* opening with the bits still masked is refused */
    record13_header masked;
    reader_init(&r, out, n);
    cr_assert_eq(record13_read(&r, 3, &masked), CDTLS_OK);
    cr_assert_eq(record13_open(&rx, &masked, 77, pt, sizeof pt, &pt_len, &type), CDTLS_ERR_BAD_STATE);
    record13_cipher_clear(&tx);
    record13_cipher_clear(&rx);
}

/* Seals an arbitrary inner plaintext as record13_seal would, for forms
 * record13_seal refuses to make (no content type, too much content). */
static size_t seal_raw_inner(record13_cipher *rc, const uint8_t *inner, size_t inner_len, uint64_t seq,
                             uint8_t *out)
{
    record13_header_opts o = {1, 1, NULL, 0};
    size_t ct = inner_len + rc->aead->tag_len;
    size_t hdr = record13_header_write(&o, 0, seq, ct, out, 5);
    cr_assert_eq(hdr, 5);
    uint8_t nonce[12], mask[16];
    record13_nonce(rc, seq, nonce);
    cr_assert_eq(rc->aead->seal(&rc->aead_ctx, nonce, 12, out, hdr, inner, inner_len, out + hdr), CDTLS_OK);
    cr_assert_eq(record13_mask(rc, out + hdr, ct, mask), CDTLS_OK);
    out[1] ^= mask[0];
    out[2] ^= mask[1];
    return hdr + ct;
}

static int open_one(record13_cipher *rx, const uint8_t *rec, size_t n, uint64_t seq, uint8_t *pt, size_t cap,
                    size_t *pt_len, uint8_t *type)
{
    cdtls_reader r;
    record13_header h;
    reader_init(&r, rec, n);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    int rc = record13_unmask_seq(rx, &h);
    if (rc) return rc;
    return record13_open(rx, &h, seq, pt, cap, pt_len, type);
}

Test(record13_protect, inner_plaintext_padding_and_size_limits)
{
    record13_cipher tx, rx;
    cr_assert(cipher_for(&tx, R13_TLS_CHACHA20_POLY1305_SHA256));
    cr_assert(cipher_for(&rx, R13_TLS_CHACHA20_POLY1305_SHA256));
    const size_t cap = R13_MAX_CIPHERTEXT + 64;
    uint8_t *big = calloc(1, cap), *out = malloc(cap), *pt = malloc(cap);
    cr_assert(big && out && pt);
    record13_header_opts o = {1, 1, NULL, 0};
    size_t n = 0, pt_len = 0;
    uint8_t type = 0;
    memset(big, 'x', DTLS_MAX_PLAINTEXT + 1);
    /* 2^14 bytes of content: the most there is (RFC 8446 §5.1) */
    cr_assert_eq(record13_seal(&tx, &o, 0, 1, 23, big, DTLS_MAX_PLAINTEXT, 0, out, cap, &n), CDTLS_OK);
    cr_assert_eq(open_one(&rx, out, n, 1, pt, cap, &pt_len, &type), CDTLS_OK);
    cr_assert_eq(pt_len, DTLS_MAX_PLAINTEXT);
    cr_assert_eq(record13_seal(&tx, &o, 0, 2, 23, big, DTLS_MAX_PLAINTEXT + 1, 0, out, cap, &n),
                 CDTLS_ERR_RECORD_TOO_LARGE);
    /* padding past an inner plaintext of 2^14 + 1 (RFC 8446 §5.4) */
    cr_assert_eq(record13_seal(&tx, &o, 0, 2, 23, big, 100, DTLS_MAX_PLAINTEXT - 100, out, cap, &n),
                 CDTLS_OK);
    cr_assert_eq(open_one(&rx, out, n, 2, pt, cap, &pt_len, &type), CDTLS_OK);
    cr_assert_eq(pt_len, 100);
    cr_assert_eq(type, 23);
    cr_assert_eq(record13_seal(&tx, &o, 0, 3, 23, big, 100, DTLS_MAX_PLAINTEXT - 99, out, cap, &n),
                 CDTLS_ERR_RECORD_TOO_LARGE);
    /* a content type of 0 is not a record */
    cr_assert_eq(record13_seal(&tx, &o, 0, 3, 0, big, 1, 0, out, cap, &n), CDTLS_ERR_INVALID_ARG);
    /* buffer one byte short */
    size_t need = 5 + 10 + record13_expansion(&tx, 10);
    cr_assert_eq(record13_seal(&tx, &o, 0, 3, 23, big, 10, 0, out, need - 1, &n), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(record13_seal(&tx, &o, 0, 3, 23, big, 10, 0, out, need, &n), CDTLS_OK);
    cr_assert_eq(n, need);

    /* the peer's inner plaintext: all zeros has no type (RFC 8446 §5.4) */
    memset(big, 0, 40);
    n = seal_raw_inner(&tx, big, 40, 9, out);
    cr_assert_eq(open_one(&rx, out, n, 9, pt, cap, &pt_len, &type), CDTLS_ERR_UNEXPECTED_MESSAGE);
    /* a type at the very start, everything else padding */
    big[0] = 21;
    n = seal_raw_inner(&tx, big, 40, 10, out);
    cr_assert_eq(open_one(&rx, out, n, 10, pt, cap, &pt_len, &type), CDTLS_OK);
    cr_assert_eq(pt_len, 0);
    cr_assert_eq(type, 21);
    /* content of 2^14 + 1 bytes before the type: record_overflow */
    memset(big, 'y', DTLS_MAX_PLAINTEXT + 2);
    n = seal_raw_inner(&tx, big, DTLS_MAX_PLAINTEXT + 2, 11, out);
    cr_assert_eq(open_one(&rx, out, n, 11, pt, cap, &pt_len, &type), CDTLS_ERR_RECORD_TOO_LARGE);
    /* a ciphertext shorter than 16 bytes cannot be unmasked (§4.2.3) */
    uint8_t tiny[5 + 15] = {0x2c, 0, 0, 0, 15};
    cdtls_reader r;
    record13_header h;
    reader_init(&r, tiny, sizeof tiny);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(record13_unmask_seq(&rx, &h), CDTLS_ERR_AUTH);
    /* output buffer smaller than the inner plaintext */
    n = seal_raw_inner(&tx, (const uint8_t *)"abc\x17", 4, 12, out);
    cr_assert_eq(open_one(&rx, out, n, 12, pt, 3, &pt_len, &type), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(open_one(&rx, out, n, 12, pt, 4, &pt_len, &type), CDTLS_OK);
    free(big);
    free(out);
    free(pt);
    record13_cipher_clear(&tx);
    record13_cipher_clear(&rx);
}

Test(record13_protect, ccm8_pads_short_records_to_16_bytes)
{
    record13_cipher tx, rx;
    if (!cipher_for(&tx, R13_TLS_AES_128_CCM_8_SHA256)) cr_skip_test("no AES-128-CCM_8 and AES-128 mask");
    cr_assert(cipher_for(&rx, R13_TLS_AES_128_CCM_8_SHA256));
    record13_header_opts o = {0, 1, NULL, 0};
    uint8_t out[64], pt[64], type;
    size_t n, pt_len;
    /* 0 bytes of content: type + 7 zeros + 8-byte tag = 16 */
    cr_assert_eq(record13_expansion(&tx, 0), 16);
    cr_assert_eq(record13_seal(&tx, &o, 0, 4, 23, NULL, 0, 0, out, sizeof out, &n), CDTLS_OK);
    cr_assert_eq(n, 2 + 2 + 16);
    cr_assert_eq(open_one(&rx, out, n, 4, pt, sizeof pt, &pt_len, &type), CDTLS_OK);
    cr_assert_eq(pt_len, 0);
    cr_assert_eq(type, 23);
    /* without limits given, CCM_8 is refused (RFC 9147 §4.5.3) */
    record13_cipher c;
    cr_assert_eq(record13_cipher_init(&c, cdtls_provider_default(), R13_TLS_AES_128_CCM_8_SHA256, key32, 16,
                                      iv12, 12, sn32, 16, NULL),
                 CDTLS_ERR_UNSUPPORTED);
    record13_cipher_clear(&tx);
    record13_cipher_clear(&rx);
}

Test(record13_protect, init_checks_lengths)
{
    static const struct {
        uint16_t suite;
        const uint8_t *key;
        size_t key_len, iv_len, sn_len;
        int want;
    } cases[] = {
        {0x1306, key32, 16, 12, 16, CDTLS_ERR_UNSUPPORTED},
        {R13_TLS_CHACHA20_POLY1305_SHA256, key32, 16, 12, 32, CDTLS_ERR_KEY_SIZE},
        {R13_TLS_CHACHA20_POLY1305_SHA256, key32, 32, 12, 16, CDTLS_ERR_KEY_SIZE},
        {R13_TLS_CHACHA20_POLY1305_SHA256, key32, 32, 8, 32, CDTLS_ERR_NONCE_SIZE},
        {R13_TLS_CHACHA20_POLY1305_SHA256, NULL, 32, 12, 32, CDTLS_ERR_INVALID_ARG},
        {R13_TLS_CHACHA20_POLY1305_SHA256, key32, 32, 12, 32, CDTLS_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        record13_cipher c;
        int rc = record13_cipher_init(&c, cdtls_provider_default(), cases[i].suite, cases[i].key,
                                      cases[i].key_len, iv12, cases[i].iv_len, sn32, cases[i].sn_len, NULL);
        cr_assert_eq(rc, cases[i].want, "case %zu: %s", i, cdtls_strerror(rc));
        record13_cipher_clear(&c);
    }
}

/* RFC 8446 §5.3: nonce = iv XOR the 64-bit sequence number, right-aligned */
Test(record13_protect, nonce_is_iv_xor_64_bit_seq)
{
    record13_cipher c;
    cr_assert(cipher_for(&c, R13_TLS_CHACHA20_POLY1305_SHA256));
    uint8_t n[12];
    record13_nonce(&c, 0x0102030405060708ull, n);
    static const uint8_t want[12] = {16,     17,     18,     19,     20 ^ 1, 21 ^ 2,
                                     22 ^ 3, 23 ^ 4, 24 ^ 5, 25 ^ 6, 26 ^ 7, 27 ^ 8};
    cr_assert_eq(memcmp(n, want, 12), 0);
    record13_nonce(&c, 0, n);
    cr_assert_eq(memcmp(n, iv12, 12), 0);
    record13_cipher_clear(&c);
}

/* ------------------------------------------------------------ limits */

/* The suite limits are the RFC's powers of two, fractional ones rounded
 * down: checked as l^2 <= 2^(2k) < (l+1)^2, not as literals. */
Test(record13_limits, suite_limits_are_the_rfc_values)
{
    record13_limits l;
    cr_assert_eq(record13_suite_limits(R13_TLS_AES_128_GCM_SHA256, &l), CDTLS_OK);
    cr_assert(l.confidentiality * l.confidentiality <= (1ull << 49) &&
              (l.confidentiality + 1) * (l.confidentiality + 1) > (1ull << 49)); /* 2^24.5 */
    cr_assert_eq(l.integrity, 1ull << 36);
    record13_limits l256;
    cr_assert_eq(record13_suite_limits(R13_TLS_AES_256_GCM_SHA384, &l256), CDTLS_OK);
    cr_assert(l256.confidentiality == l.confidentiality && l256.integrity == l.integrity);
    cr_assert_eq(record13_suite_limits(R13_TLS_CHACHA20_POLY1305_SHA256, &l), CDTLS_OK);
    cr_assert_eq(l.confidentiality, UINT64_MAX);
    cr_assert_eq(l.integrity, 1ull << 36);
    cr_assert_eq(record13_suite_limits(R13_TLS_AES_128_CCM_SHA256, &l), CDTLS_OK);
    cr_assert_eq(l.confidentiality, 1ull << 23);
    cr_assert(l.integrity * l.integrity <= (1ull << 47) &&
              (l.integrity + 1) * (l.integrity + 1) > (1ull << 47)); /* 2^23.5 */
    cr_assert_eq(record13_suite_limits(R13_TLS_AES_128_CCM_8_SHA256, &l), CDTLS_ERR_UNSUPPORTED);
}

Test(record13_limits, confidentiality_limit_stops_sealing)
{
    const record13_limits small = {8, 1000};
    record13_cipher tx;
    cr_assert_eq(record13_cipher_init(&tx, cdtls_provider_default(), R13_TLS_CHACHA20_POLY1305_SHA256, key32,
                                      32, iv12, 12, sn32, 32, &small),
                 CDTLS_OK);
    record13_header_opts o = {1, 1, NULL, 0};
    uint8_t out[64];
    size_t n;
    for (uint64_t s = 0; s < 8; s++) {
        /* due from 7/8 of the limit: 7 records sealed */
        cr_assert_eq(record13_key_update_due(&tx), s >= 7, "after %llu", (unsigned long long)s);
        cr_assert_eq(record13_seal(&tx, &o, 0, s, 23, (const uint8_t *)"x", 1, 0, out, sizeof out, &n),
                     CDTLS_OK);
    }
    cr_assert(record13_key_update_due(&tx));
    cr_assert_eq(record13_seal(&tx, &o, 0, 8, 23, (const uint8_t *)"x", 1, 0, out, sizeof out, &n),
                 CDTLS_ERR_LIMIT);
    cr_assert_eq(tx.sealed, 8);
    /* nor may the sequence number wrap (RFC 9147 §4.2.1) */
    record13_cipher_clear(&tx);
    cr_assert(cipher_for(&tx, R13_TLS_CHACHA20_POLY1305_SHA256));
    cr_assert_eq(record13_seal(&tx, &o, 0, UINT64_MAX, 23, (const uint8_t *)"x", 1, 0, out, sizeof out, &n),
                 CDTLS_ERR_LIMIT);
    cr_assert_eq(
        record13_seal(&tx, &o, 0, UINT64_MAX - 1, 23, (const uint8_t *)"x", 1, 0, out, sizeof out, &n),
        CDTLS_OK);
    record13_cipher_clear(&tx);
}

Test(record13_limits, integrity_limit_ends_the_key)
{
    const record13_limits small = {1000, 4};
    record13_cipher tx, rx;
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert(cipher_for(&tx, R13_TLS_CHACHA20_POLY1305_SHA256));
    cr_assert_eq(
        record13_cipher_init(&rx, p, R13_TLS_CHACHA20_POLY1305_SHA256, key32, 32, iv12, 12, sn32, 32, &small),
        CDTLS_OK);
    record13_header_opts o = {1, 1, NULL, 0};
    uint8_t good[64], bad[64], pt[64], type;
    size_t n, pt_len;
    cr_assert_eq(record13_seal(&tx, &o, 0, 1, 23, (const uint8_t *)"hello", 5, 0, good, sizeof good, &n),
                 CDTLS_OK);
    memcpy(bad, good, n);
    bad[n - 1] ^= 1; /* a forged tag */
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(open_one(&rx, bad, n, 1, pt, sizeof pt, &pt_len, &type), CDTLS_ERR_AUTH);
        cr_assert_eq(rx.failed, (uint64_t)i);
        cr_assert_eq(record13_key_update_due(&rx), i >= 4 - 4 / 8);
    }
    /* the fourth failure reaches the limit */
    cr_assert_eq(open_one(&rx, bad, n, 1, pt, sizeof pt, &pt_len, &type), CDTLS_ERR_LIMIT);
    /* and from then on even a genuine record is refused */
    cr_assert_eq(open_one(&rx, good, n, 1, pt, sizeof pt, &pt_len, &type), CDTLS_ERR_LIMIT);
    cr_assert_eq(rx.failed, 4);
    record13_cipher_clear(&tx);
    record13_cipher_clear(&rx);
}

/* -------------------------------------------- reconstruction, replay */

Test(record13_epoch, seq_reconstruct_examples)
{
    cr_assert_eq(record13_seq_reconstruct(0, 0, 8), 0);
    cr_assert_eq(record13_seq_reconstruct(0, 0xf0, 8), 0xf0); /* nothing below 0 */
    cr_assert_eq(record13_seq_reconstruct(0x1ff, 0x00, 8), 0x200);
    cr_assert_eq(record13_seq_reconstruct(0x200, 0xff, 8), 0x1ff);
    cr_assert_eq(record13_seq_reconstruct(0x100, 0x80, 8), 0x80);  /* tie: the lower */
    cr_assert_eq(record13_seq_reconstruct(0x100, 0x7f, 8), 0x17f); /* just under half ahead */
    cr_assert_eq(record13_seq_reconstruct(0x12345, 0x2344, 16), 0x12344);
    cr_assert_eq(record13_seq_reconstruct(0x1fff0, 0x0005, 16), 0x20005);
    cr_assert_eq(record13_seq_reconstruct(UINT64_MAX, 0x01, 8), UINT64_MAX - 0xfe); /* no wrap above */
    cr_assert_eq(record13_seq_reconstruct(UINT64_MAX - 3, 0xff, 8), UINT64_MAX);
}

/* Any number within half a window of the expected one comes back from its
 * low bits (deterministic pseudo-random expectations, bounded count). */
Test(record13_epoch, seq_reconstruct_inside_half_window)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned bits = (i & 1) ? 16 : 8;
        int64_t half = (int64_t)1 << (bits - 1);
        uint64_t expected = (i & 2) ? x : (x & 0xffffff) + (uint64_t)half;
        int64_t delta = (int64_t)(x % (uint64_t)(2 * half - 1)) - (half - 1); /* (-half, half) */
        uint64_t actual = expected + (uint64_t)delta;
        if ((delta < 0 && actual > expected) || (delta > 0 && actual < expected)) continue; /* wrapped */
        cr_assert_eq(record13_seq_reconstruct(expected, (uint16_t)(actual & ((1u << bits) - 1)), bits),
                     actual, "expected %llx delta %lld", (unsigned long long)expected, (long long)delta);
    }
}

Test(record13_epoch, epoch_reconstruct)
{
    uint64_t e;
    cr_assert_eq(record13_epoch_reconstruct(5, 1, 0, &e), CDTLS_OK);
    cr_assert_eq(e, 5);
    cr_assert_eq(record13_epoch_reconstruct(5, 0, 0, &e), CDTLS_OK);
    cr_assert_eq(e, 4);
    cr_assert_eq(record13_epoch_reconstruct(5, 3, 0, &e), CDTLS_OK);
    cr_assert_eq(e, 3);
    cr_assert_eq(record13_epoch_reconstruct(5, 2, 0, &e), CDTLS_OK);
    cr_assert_eq(e, 2);
    cr_assert_eq(record13_epoch_reconstruct(5, 2, 1, &e), CDTLS_OK);
    cr_assert_eq(e, 6); /* the next epoch, once its keys are in place */
    cr_assert_eq(record13_epoch_reconstruct(0, 3, 0, &e), CDTLS_ERR_BAD_EPOCH);
    cr_assert_eq(record13_epoch_reconstruct(1, 2, 0, &e), CDTLS_ERR_BAD_EPOCH);
    cr_assert_eq(record13_epoch_reconstruct(1, 2, 1, &e), CDTLS_OK);
    cr_assert_eq(e, 2);
    cr_assert_eq(record13_epoch_reconstruct(UINT64_MAX, 0, 1, &e), CDTLS_OK);
    cr_assert_eq(e, UINT64_MAX - 3);
}

/* 600 records with 8-bit sequence numbers (the low bits wrap twice),
 * delivered out of order within 32 places, each datagram holding two
 * records with a length and one without: every record arrives with its full
 * sequence number; a replay and a record of another epoch are refused, and
 * a forgery moves nothing. */
Test(record13_epoch, receive_path_reorders_replays_and_windows)
{
    enum { N = 600 };
    record13_cipher tx;
    record13_rx_epoch rx;
    cr_assert(cipher_for(&tx, R13_TLS_CHACHA20_POLY1305_SHA256));
    record13_rx_epoch_init(&rx, 6, 128);
    cr_assert(cipher_for(&rx.cipher, R13_TLS_CHACHA20_POLY1305_SHA256));
    static uint8_t recs[N][64];
    static size_t lens[N];
    for (int i = 0; i < N; i++) {
        uint8_t msg[8];
        memcpy(msg, &i, sizeof i);
        record13_header_opts o = {0, (i % 3) != 2, NULL, 0};
        cr_assert_eq(
            record13_seal(&tx, &o, 6, (uint64_t)i, 23, msg, sizeof i, 0, recs[i], sizeof recs[i], &lens[i]),
            CDTLS_OK);
    }
    /* order: blocks of 30, each block reversed */
    int order[N];
    for (int b = 0; b < N; b += 30)
        for (int k = 0; k < 30; k++) order[b + k] = b + 29 - k;
    int seen = 0;
    for (int i = 0; i < N; i += 3) {
        /* records order[i..i+2] in one datagram; the last one without a
         * length: re-seal it so (seal options decide the L bit) */
        uint8_t d[256];
        size_t dn = 0;
        for (int k = 0; k < 3; k++) {
            int idx = order[i + k];
            if (k < 2 && (idx % 3) == 2) {
                /* a record without length must be last: skip it here and
                 * deliver it alone below */
                continue;
            }
            memcpy(d + dn, recs[idx], lens[idx]);
            dn += lens[idx];
            if ((idx % 3) == 2) break;
        }
        cdtls_reader r;
        reader_init(&r, d, dn);
        while (r.left) {
            record13_header h;
            cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
            uint8_t pt[64], type;
            size_t pt_len;
            uint64_t seq;
            cr_assert_eq(record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq), CDTLS_OK);
            int got;
            memcpy(&got, pt, sizeof got);
            cr_assert_eq(seq, (uint64_t)got);
            seen++;
        }
        for (int k = 0; k < 2; k++) { /* the length-less records skipped above */
            int idx = order[i + k];
            if ((idx % 3) != 2) continue;
            cdtls_reader r2;
            record13_header h;
            reader_init(&r2, recs[idx], lens[idx]);
            cr_assert_eq(record13_read(&r2, 0, &h), CDTLS_OK);
            uint8_t pt[64], type;
            size_t pt_len;
            uint64_t seq;
            cr_assert_eq(record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq), CDTLS_OK);
            cr_assert_eq(seq, (uint64_t)idx);
            seen++;
        }
    }
    cr_assert_eq(seen, N);
    cr_assert_eq(rx.next_expected, N);
    /* a replay of a recent record */
    cdtls_reader r;
    record13_header h;
    uint8_t pt[64], type;
    size_t pt_len;
    uint64_t seq;
    reader_init(&r, recs[N - 5], lens[N - 5]);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq), CDTLS_ERR_REPLAY);
    /* a forged next record does not move the window or next_expected */
    uint8_t next[64];
    size_t next_len;
    record13_header_opts o = {0, 1, NULL, 0};
    cr_assert_eq(
        record13_seal(&tx, &o, 6, N, 23, (const uint8_t *)"next", 4, 0, next, sizeof next, &next_len),
        CDTLS_OK);
    uint8_t forged[64];
    memcpy(forged, next, next_len);
    forged[next_len - 1] ^= 0x80;
    reader_init(&r, forged, next_len);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq), CDTLS_ERR_AUTH);
    cr_assert_eq(rx.next_expected, N);
    reader_init(&r, next, next_len);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq), CDTLS_OK);
    cr_assert_eq(seq, N);
    /* another epoch's bits */
    cr_assert_eq(
        record13_seal(&tx, &o, 7, N + 1, 23, (const uint8_t *)"e7", 2, 0, next, sizeof next, &next_len),
        CDTLS_OK);
    reader_init(&r, next, next_len);
    cr_assert_eq(record13_read(&r, 0, &h), CDTLS_OK);
    cr_assert_eq(record13_rx_open(&rx, &h, pt, sizeof pt, &pt_len, &type, &seq), CDTLS_ERR_BAD_EPOCH);
    record13_cipher_clear(&tx);
    record13_rx_epoch_clear(&rx);
}
