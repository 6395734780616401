/* Record layer: codec, replay window, AEAD and CBC protection. */
#include <criterion/criterion.h>
#include "test_util.h"
#include <stdio.h>
#include <string.h>

#include "common/dtls.h"
#include "record/record.h"


/* --------------------------------------------------------------- codec */

Test(record_codec, several_records_and_malformed)
{
    uint8_t d[64];
    size_t n = 0;
    for (int i = 0; i < 3; i++) { /* three records of 1, 2, 3 bytes */
        record_header h = {22, DTLS_VERSION_1_2, 0, (uint64_t)i, (uint16_t)(i + 1), NULL, 0};
        record_header_put(&h, d + n);
        n += 13;
        memset(d + n, 'a' + i, (size_t)i + 1);
        n += (size_t)i + 1;
    }
    cdtls_reader r;
    reader_init(&r, d, n);
    record_header h;
    const uint8_t *hdr, *frag;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(record_read(&r, &h, &hdr, &frag), CDTLS_OK);
        cr_assert_eq(h.seq, (uint64_t)i);
        cr_assert_eq(h.length, i + 1);
        cr_assert_eq(frag[0], 'a' + i);
    }
    cr_assert_eq(r.left, 0);
    /* truncated header, length past the datagram, length over 2^14+2048 */
    for (size_t cut = 1; cut < 13; cut++) {
        reader_init(&r, d, cut);
        cr_assert_eq(record_read(&r, &h, &hdr, &frag), CDTLS_ERR_DECODE);
    }
    reader_init(&r, d, 13);
    cr_assert_eq(record_read(&r, &h, &hdr, &frag), CDTLS_ERR_DECODE);
    static uint8_t big[13 + 18500];
    record_header bh = {23, DTLS_VERSION_1_2, 1, 1, (uint16_t)(DTLS_MAX_CIPHERTEXT + 1), NULL, 0};
    record_header_put(&bh, big);
    reader_init(&r, big, sizeof big);
    cr_assert_eq(record_read(&r, &h, &hdr, &frag), CDTLS_ERR_DECODE);
    /* a zero-length record is well formed */
    record_header zh = {23, DTLS_VERSION_1_2, 1, 7, 0, NULL, 0};
    record_header_put(&zh, big);
    reader_init(&r, big, 13);
    cr_assert_eq(record_read(&r, &h, &hdr, &frag), CDTLS_OK);
    cr_assert_eq(h.length, 0);
    /* 48-bit sequence numbers survive the round trip */
    record_header mh = {23, DTLS_VERSION_1_2, 0xffff, DTLS_MAX_SEQ, 0, NULL, 0};
    record_header_put(&mh, big);
    reader_init(&r, big, 13);
    cr_assert_eq(record_read(&r, &h, &hdr, &frag), CDTLS_OK);
    cr_assert_eq(h.seq, DTLS_MAX_SEQ);
    cr_assert_eq(h.epoch, 0xffff);
}

/* -------------------------------------------------------- replay window */

Test(replay, in_order_duplicates_window_and_jumps)
{
    replay_window w;
    replay_init(&w, 64);
    for (uint64_t s = 0; s < 100; s++) {
        cr_assert_eq(replay_check(&w, s), CDTLS_OK);
        replay_accept(&w, s);
        cr_assert_eq(replay_check(&w, s), CDTLS_ERR_REPLAY);
    }
    cr_assert_eq(replay_check(&w, 99 - 63), CDTLS_ERR_REPLAY); /* seen, in window */
    cr_assert_eq(replay_check(&w, 99 - 64), CDTLS_ERR_REPLAY); /* too old */
    cr_assert_eq(replay_check(&w, 200), CDTLS_OK);
    /* out of order inside the window */
    replay_accept(&w, 150);
    cr_assert_eq(replay_check(&w, 120), CDTLS_OK);
    replay_accept(&w, 120);
    cr_assert_eq(replay_check(&w, 120), CDTLS_ERR_REPLAY);
    cr_assert_eq(replay_check(&w, 121), CDTLS_OK);
    /* a huge forward jump clears everything behind it */
    replay_accept(&w, (uint64_t)1 << 40);
    cr_assert_eq(replay_check(&w, ((uint64_t)1 << 40) - 1), CDTLS_OK);
    cr_assert_eq(replay_check(&w, 150), CDTLS_ERR_REPLAY);
    /* the top of the 48-bit space */
    replay_accept(&w, DTLS_MAX_SEQ);
    cr_assert_eq(replay_check(&w, DTLS_MAX_SEQ), CDTLS_ERR_REPLAY);
    cr_assert_eq(replay_check(&w, DTLS_MAX_SEQ - 1), CDTLS_OK);
}

Test(replay, large_window_and_word_shifts)
{
    replay_window w;
    replay_init(&w, 1024);
    replay_accept(&w, 5000);
    for (uint64_t back = 1; back < 1024; back += 37) {
        cr_assert_eq(replay_check(&w, 5000 - back), CDTLS_OK);
        replay_accept(&w, 5000 - back);
    }
    /* slide by amounts that cross word boundaries and check old marks moved */
    for (uint64_t step = 1; step < 300; step += 63) {
        uint64_t top = w.top;
        replay_accept(&w, top + step);
        cr_assert_eq(replay_check(&w, top), CDTLS_ERR_REPLAY, "step %llu", (unsigned long long)step);
        if (step > 1) cr_assert_eq(replay_check(&w, top + 1), CDTLS_OK);
    }
    cr_assert_eq(replay_check(&w, w.top - 1024), CDTLS_ERR_REPLAY); /* outside */
}

/* ------------------------------------------------------------ protection */

static const cdtls_provider *P(void)
{
    return cdtls_provider_default();
}

/* Known-answer records made with Python's cryptography (OpenSSL): epoch 1,
 * seq 5, type 23, "hello dtls". GCM: key 00..0f, salt a0a1a2a3. ChaCha:
 * key 00..1f, IV 40..4b. */
Test(record_protect, known_answer_records)
{
    uint8_t out[128], want[128];
    size_t n, wl;
    record_cipher rc;
    if (P()->aead[CDTLS_AEAD_AES_128_GCM]) {
        uint8_t key[16], salt[4] = {0xa0, 0xa1, 0xa2, 0xa3};
        for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
        cr_assert_eq(record_cipher_init_aead(&rc, P(), CDTLS_AEAD_AES_128_GCM, key, 16, salt, 4), CDTLS_OK);
        cr_assert_eq(record_seal(&rc, 23, DTLS_VERSION_1_2, 1, 5, (const uint8_t *)"hello dtls", 10, out,
                                 sizeof out, &n),
                     CDTLS_OK);
        wl = unhex(
            "17fefd000100000000000500220001000000000005a46f3dea4bb78ee09836f00f1c67c988261c042cfafa5911268c",
            want, sizeof want);
        cr_assert_eq(n, wl);
        cr_assert_arr_eq(out, want, wl);
        record_cipher_clear(&rc);
    }
    uint8_t k2[32], iv[12];
    for (int i = 0; i < 32; i++) k2[i] = (uint8_t)i;
    for (int i = 0; i < 12; i++) iv[i] = (uint8_t)(0x40 + i);
    cr_assert_eq(record_cipher_init_aead(&rc, P(), CDTLS_AEAD_CHACHA20_POLY1305, k2, 32, iv, 12), CDTLS_OK);
    cr_assert_eq(
        record_seal(&rc, 23, DTLS_VERSION_1_2, 1, 5, (const uint8_t *)"hello dtls", 10, out, sizeof out, &n),
        CDTLS_OK);
    wl = unhex("17fefd0001000000000005001aa88700091306c2d0adcb89d2795ebb0d1856f0c38492ea00b61a", want,
               sizeof want);
    cr_assert_eq(n, wl);
    cr_assert_arr_eq(out, want, wl);
    record_cipher_clear(&rc);
}

typedef struct proto {
    int aead;
    cdtls_aead_alg a;
    cdtls_cbc_alg c;
    int etm;
} proto;

static int make_pair(const proto *pr, record_cipher *w, record_cipher *r)
{
    uint8_t key[32], mac[32], iv[12];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 7), mac[i] = (uint8_t)(i * 13);
    for (int i = 0; i < 12; i++) iv[i] = (uint8_t)(i + 100);
    if (pr->aead) {
        const cdtls_aead_vt *v = P()->aead[pr->a];
        if (!v) return 0;
        size_t ivl = pr->a == CDTLS_AEAD_CHACHA20_POLY1305 ? 12 : 4;
        cr_assert_eq(record_cipher_init_aead(w, P(), pr->a, key, v->key_len, iv, ivl), CDTLS_OK);
        cr_assert_eq(record_cipher_init_aead(r, P(), pr->a, key, v->key_len, iv, ivl), CDTLS_OK);
    } else {
        const cdtls_cbc_vt *v = P()->cbc[pr->c];
        if (!v) return 0;
        cr_assert_eq(
            record_cipher_init_cbc(w, P(), pr->c, CDTLS_HASH_SHA256, key, v->key_len, mac, 32, 1, pr->etm),
            CDTLS_OK);
        cr_assert_eq(
            record_cipher_init_cbc(r, P(), pr->c, CDTLS_HASH_SHA256, key, v->key_len, mac, 32, 0, pr->etm),
            CDTLS_OK);
    }
    return 1;
}

static void roundtrip_and_tamper(const proto *pr)
{
    static uint8_t pt[DTLS_MAX_PLAINTEXT + 1], rec[DTLS_MAX_PLAINTEXT + 200], out[DTLS_MAX_PLAINTEXT + 200];
    record_cipher w, r;
    if (!make_pair(pr, &w, &r)) return;
    for (size_t i = 0; i < sizeof pt; i++) pt[i] = (uint8_t)(i * 31 + 7);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1200, DTLS_MAX_PLAINTEXT};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n, pl;
        cr_assert_eq(record_seal(&w, 23, DTLS_VERSION_1_2, 1, 9, pt, sizes[s], rec, sizeof rec, &n),
                     CDTLS_OK);
        cr_assert(n <= 13 + sizes[s] + record_cipher_expansion(&w));
        cdtls_reader rd;
        reader_init(&rd, rec, n);
        record_header h;
        const uint8_t *hdr, *frag;
        cr_assert_eq(record_read(&rd, &h, &hdr, &frag), CDTLS_OK);
        cr_assert_eq(record_open(&r, &h, frag, h.length, out, sizeof out, &pl), CDTLS_OK);
        cr_assert_eq(pl, sizes[s]);
        cr_assert_arr_eq(out, pt, pl);
        /* header fields are authenticated: epoch, seq, type */
        record_header bad = h;
        bad.seq++;
        cr_assert_eq(record_open(&r, &bad, frag, h.length, out, sizeof out, &pl), CDTLS_ERR_AUTH);
        bad = h, bad.type = 22;
        cr_assert_eq(record_open(&r, &bad, frag, h.length, out, sizeof out, &pl), CDTLS_ERR_AUTH);
        bad = h, bad.epoch = 2;
        cr_assert_eq(record_open(&r, &bad, frag, h.length, out, sizeof out, &pl), CDTLS_ERR_AUTH);
        /* every byte flipped (sampled), and every truncation (sampled) */
        for (size_t at = 13; at < n; at += (n > 200 ? 97 : 1)) {
            rec[at] ^= 0x20;
            cr_assert_eq(record_open(&r, &h, frag, h.length, out, sizeof out, &pl), CDTLS_ERR_AUTH,
                         "flip at %zu", at);
            rec[at] ^= 0x20;
        }
        for (size_t cut = 0; cut < h.length; cut += (h.length > 200 ? 101 : 1))
            cr_assert_neq(record_open(&r, &h, frag, cut, out, sizeof out, &pl), CDTLS_OK);
    }
    size_t n;
    cr_assert_eq(record_seal(&w, 23, DTLS_VERSION_1_2, 1, 9, pt, DTLS_MAX_PLAINTEXT + 1, rec, sizeof rec, &n),
                 CDTLS_ERR_RECORD_TOO_LARGE);
    cr_assert_eq(record_seal(&w, 23, DTLS_VERSION_1_2, 1, 9, pt, 100, rec, 50, &n),
                 CDTLS_ERR_BUFFER_TOO_SMALL);
    record_cipher_clear(&w);
    record_cipher_clear(&r);
}

Test(record_protect, every_aead_roundtrip_and_tamper)
{
    for (int a = 0; a < CDTLS_AEAD__COUNT; a++) {
        proto pr = {1, (cdtls_aead_alg)a, CDTLS_CBC_AES_128, 0};
        roundtrip_and_tamper(&pr);
    }
}

Test(record_protect, cbc_mte_and_etm_roundtrip_and_tamper)
{
    if (!P()->cbc[CDTLS_CBC_AES_128]) cr_skip_test("no CBC in %s", P()->name);
    for (int c = 0; c < CDTLS_CBC__COUNT; c++)
        for (int etm = 0; etm < 2; etm++) {
            proto pr = {0, CDTLS_AEAD_AES_128_GCM, (cdtls_cbc_alg)c, etm};
            roundtrip_and_tamper(&pr);
        }
}

/* MAC-then-encrypt: any wrong padding gives exactly CDTLS_ERR_AUTH, the same
 * as a wrong MAC (no padding oracle). Records are built by hand: content,
 * a correct MAC, then padding broken in each way, encrypted. */
Test(record_protect, cbc_padding_errors_are_auth_errors)
{
    const cdtls_provider *p = P();
    if (!p->cbc[CDTLS_CBC_AES_128]) cr_skip_test("no CBC in %s", p->name);
    record_cipher r;
    uint8_t key[16] = {1}, mac_key[32] = {2}, iv[16] = {3};
    cr_assert_eq(
        record_cipher_init_cbc(&r, p, CDTLS_CBC_AES_128, CDTLS_HASH_SHA256, key, 16, mac_key, 32, 0, 0),
        CDTLS_OK);
    cdtls_cbc_ctx enc;
    cr_assert_eq(p->cbc[CDTLS_CBC_AES_128]->init(&enc, 1, key, 16), CDTLS_OK);
    const uint8_t content[20] = "twenty bytes of data";
    for (int variant = 0; variant < 4; variant++) {
        uint8_t frag[16 + 80], *body = frag + 16;
        memcpy(frag, iv, 16);
        memcpy(body, content, 20);
        /* MAC over epoch 1 seq 2 type 23 version fefd length 20 */
        uint8_t aad[13] = {0, 1, 0, 0, 0, 0, 0, 2, 23, 0xfe, 0xfd, 0, 20};
        cdtls_hmac_ctx h;
        p->hmac[CDTLS_HASH_SHA256]->init(&h, mac_key, 32);
        p->hmac[CDTLS_HASH_SHA256]->update(&h, aad, 13);
        p->hmac[CDTLS_HASH_SHA256]->update(&h, content, 20);
        p->hmac[CDTLS_HASH_SHA256]->final(&h, body + 20);
        /* 52 bytes so far; pad to 64 with 12 bytes of value 11 */
        memset(body + 52, 11, 12);
        if (variant == 1) body[55] = 10;  /* one padding byte wrong */
        if (variant == 2) body[63] = 200; /* padding longer than the record */
        if (variant == 3) body[63] = 13;  /* padding eats into the MAC */
        cr_assert_eq(p->cbc[CDTLS_CBC_AES_128]->encrypt(&enc, iv, body, 64), CDTLS_OK);
        record_header hh = {23, DTLS_VERSION_1_2, 1, 2, 80, NULL, 0};
        uint8_t out[96];
        size_t pl;
        int rc = record_open(&r, &hh, frag, 80, out, sizeof out, &pl);
        if (variant == 0) {
            cr_assert_eq(rc, CDTLS_OK);
            cr_assert_eq(pl, 20);
            cr_assert_arr_eq(out, content, 20);
        } else {
            cr_assert_eq(rc, CDTLS_ERR_AUTH, "variant %d", variant);
        }
    }
    p->cbc[CDTLS_CBC_AES_128]->clear(&enc); /* the contract: contexts end with clear() */
    record_cipher_clear(&r);
}

/* ------------------------------------------------ Lucky Thirteen residue */

/* Counts compression function calls of SHA-256 and HMAC-SHA-256 by
 * wrapping the provider's entries: HMAC = key block + inner blocks over the
 * message with its padding + 2 outer blocks (keys of at most 64 bytes);
 * a raw hash = the full blocks its updates filled (+ the padding blocks on
 * final). One context of each kind at a time, as record_open uses them. */
static const cdtls_hmac_vt *real_hmac;
static const cdtls_hash_vt *real_hash;
static size_t hmac_len, hash_buffered, compressions;

static void count_hmac_init(cdtls_hmac_ctx *c, const uint8_t *k, size_t kl)
{
    hmac_len = 0;
    real_hmac->init(c, k, kl);
}
static void count_hmac_update(cdtls_hmac_ctx *c, const void *d, size_t n)
{
    hmac_len += n;
    real_hmac->update(c, d, n);
}
static void count_hmac_final(cdtls_hmac_ctx *c, uint8_t *out)
{
    compressions += 1 + (hmac_len + 9 + 63) / 64 + 2;
    real_hmac->final(c, out);
}
static void count_hash_init(cdtls_hash_ctx *c)
{
    hash_buffered = 0;
    real_hash->init(c);
}
static void count_hash_update(cdtls_hash_ctx *c, const void *d, size_t n)
{
    compressions += (hash_buffered + n) / 64;
    hash_buffered = (hash_buffered + n) % 64;
    real_hash->update(c, d, n);
}
static void count_hash_final(const cdtls_hash_ctx *c, uint8_t *out)
{
    compressions += (hash_buffered + 9 + 63) / 64;
    real_hash->final(c, out);
}

/* Issue 20, item 5: MAC-then-encrypt record_open runs the SHA-256
 * compression function the same number of times for every padding, good
 * or bad, at 80 and 144 ciphertext bytes (where the Lucky Thirteen timing
 * difference was measured: +246 to +297 ns, one compression more for bad
 * padding). The time itself is measured by `cdtls-bench-* --only
 * cbc_timing` (docs/security.md). */
Test(record_protect, cbc_mte_open_runs_the_same_compressions_whatever_the_padding)
{
    const cdtls_provider *p = P();
    if (!p->cbc[CDTLS_CBC_AES_128] || !p->hash[CDTLS_HASH_SHA256]) cr_skip_test("no CBC in %s", p->name);
    real_hmac = p->hmac[CDTLS_HASH_SHA256];
    real_hash = p->hash[CDTLS_HASH_SHA256];
    cdtls_hmac_vt hm = *real_hmac;
    hm.init = count_hmac_init;
    hm.update = count_hmac_update;
    hm.final = count_hmac_final;
    cdtls_hash_vt hs = *real_hash;
    hs.init = count_hash_init;
    hs.update = count_hash_update;
    hs.final = count_hash_final;
    cdtls_provider counted = *p;
    counted.hmac[CDTLS_HASH_SHA256] = &hm;
    counted.hash[CDTLS_HASH_SHA256] = &hs;

    uint8_t key[16] = {1}, mac_key[32] = {2}, iv[16] = {3};
    record_cipher r;
    cr_assert_eq(record_cipher_init_cbc(&r, &counted, CDTLS_CBC_AES_128, CDTLS_HASH_SHA256, key, 16, mac_key,
                                        32, 0, 0),
                 CDTLS_OK);
    cdtls_cbc_ctx enc;
    cr_assert_eq(p->cbc[CDTLS_CBC_AES_128]->init(&enc, 1, key, 16), CDTLS_OK);
    static const size_t sizes[] = {64, 128}; /* encrypted bytes: 80 and 144 with the IV */
    for (size_t si = 0; si < 2; si++) {
        const size_t n = sizes[si];
        size_t first = 0;
        int have_first = 0;
        /* every good padding length the record can hold, then bad ones */
        for (size_t variant = 0; variant <= n - 33 + 3; variant++) {
            int bad = variant > n - 33;
            size_t pad = bad ? 0 : variant, len = n - 32 - 1 - pad;
            uint8_t frag[16 + 128], *body = frag + 16, content[128];
            memset(content, 'c', sizeof content);
            memcpy(frag, iv, 16);
            memcpy(body, content, len);
            uint8_t aad[13] = {0, 1, 0, 0, 0, 0, 0, 2, 23, 0xfe, 0xfd, (uint8_t)(len >> 8), (uint8_t)len};
            cdtls_hmac_ctx h;
            real_hmac->init(&h, mac_key, 32);
            real_hmac->update(&h, aad, 13);
            real_hmac->update(&h, content, len);
            real_hmac->final(&h, body + len);
            memset(body + len + 32, (int)pad, pad + 1);
            if (bad) body[n - 1] = (uint8_t)(variant == n - 32 ? 200 : variant == n - 31 ? 40 : 7);
            cr_assert_eq(p->cbc[CDTLS_CBC_AES_128]->encrypt(&enc, iv, body, n), CDTLS_OK);
            record_header hh = {23, DTLS_VERSION_1_2, 1, 2, (uint16_t)(16 + n), NULL, 0};
            uint8_t out[144];
            size_t pl;
            compressions = 0;
            int rc = record_open(&r, &hh, frag, 16 + n, out, sizeof out, &pl);
            cr_assert_eq(rc, bad ? CDTLS_ERR_AUTH : CDTLS_OK, "n %zu variant %zu", n, variant);
            if (!have_first) {
                first = compressions;
                have_first = 1;
            }
            cr_assert_eq(compressions, first,
                         "%zu encrypted bytes, %s padding %zu: %zu compressions, %zu with none", n,
                         bad ? "bad" : "good", pad, compressions, first);
        }
    }
    p->cbc[CDTLS_CBC_AES_128]->clear(&enc);
    record_cipher_clear(&r);
}
