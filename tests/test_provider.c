/* Known-answer and contract tests for the linked crypto provider. Entries
 * the provider lacks are skipped; test_provider_caps.c checks that exactly
 * the documented entries are missing.
 * Vectors: FIPS 180-4 examples; RFC 4231 / RFC 2202 (HMAC); the GCM spec
 * (McGrew & Viega) test cases 2, 3, 4, 14, 15, 16; RFC 8439 §2.8.2;
 * NIST SP 800-38A F.2; RFC 7748 §5.2 and §6.1; RFC 8032 §7.1 TESTs 1-3;
 * RFC 6979 §A.2.5 / §A.2.6 (ECDSA over "sample"). Each was re-checked with
 * Python's hashlib/hmac and the `cryptography` package when written. CCM
 * with DTLS's 12-byte nonce and the RSA signatures come from
 * src/common/selftest_vectors.h (made with OpenSSL, see
 * scripts/gen_selftest_vectors.py). */
#include <criterion/criterion.h>
#include "test_util.h"
#include <stdio.h>
#include <string.h>

#include "cdtls/provider.h"
#include "common/selftest_vectors.h"

static const cdtls_provider *P(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert_not_null(p);
    return p;
}


static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* ------------------------------------------------------------------ hashes */

static void hash_kat(cdtls_hash_alg alg, const char *msg, size_t repeat, const char *want_hex)
{
    const cdtls_hash_vt *h = P()->hash[alg];
    if (!h) cr_skip_test("%s not provided", cdtls_hash_name(alg));
    uint8_t want[64], got[64];
    size_t wl = unhex(want_hex, want, sizeof want);
    cr_assert_eq(wl, h->digest_len);
    cdtls_hash_ctx c;
    h->init(&c);
    for (size_t i = 0; i < repeat; i++) h->update(&c, msg, strlen(msg));
    h->final(&c, got);
    cr_assert_arr_eq(got, want, wl);
}

Test(hash, sha1)
{
    hash_kat(CDTLS_HASH_SHA1, "abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d");
}
Test(hash, sha256_abc)
{
    hash_kat(CDTLS_HASH_SHA256, "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
Test(hash, sha256_empty)
{
    hash_kat(CDTLS_HASH_SHA256, "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
Test(hash, sha256_two_blocks)
{
    hash_kat(CDTLS_HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
Test(hash, sha256_million_a)
{
    hash_kat(CDTLS_HASH_SHA256,
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaa",
             10000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
Test(hash, sha384)
{
    hash_kat(
        CDTLS_HASH_SHA384, "abc", 1,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
}
Test(hash, sha512)
{
    hash_kat(CDTLS_HASH_SHA512, "abc", 1,
             "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebb"
             "d454d4423643ce80e2a9ac94fa54ca49f");
}

/* final leaves the context usable, and a memcpy forks it (the contract the
 * transcript hash relies on) */
Test(hash, final_does_not_modify_and_copy_forks)
{
    const cdtls_provider *p = P();
    for (int a = 0; a < CDTLS_HASH__COUNT; a++) {
        const cdtls_hash_vt *h = p->hash[a];
        if (!h) continue;
        uint8_t d1[64], d2[64], d3[64];
        cdtls_hash_ctx c, fork, ref;
        h->init(&c);
        h->update(&c, "hello ", 6);
        h->final(&c, d1);
        h->final(&c, d2);
        cr_assert_arr_eq(d1, d2, h->digest_len, "%s final twice", h->name);
        memcpy(&fork, &c, sizeof c);
        h->update(&c, "world", 5);
        h->update(&fork, "world", 5);
        h->final(&c, d1);
        h->final(&fork, d2);
        h->init(&ref);
        for (const char *s = "hello world"; *s; s++) h->update(&ref, s, 1); /* odd splits */
        h->final(&ref, d3);
        cr_assert_arr_eq(d1, d3, h->digest_len, "%s continue after final", h->name);
        cr_assert_arr_eq(d2, d3, h->digest_len, "%s fork", h->name);
    }
}

static void hmac_kat(cdtls_hash_alg alg, const char *key_hex, const char *data_hex, const char *want_hex)
{
    const cdtls_hmac_vt *m = P()->hmac[alg];
    if (!m) cr_skip_test("HMAC-%s not provided", cdtls_hash_name(alg));
    uint8_t key[200], data[200], want[64], got[64];
    size_t kl = unhex(key_hex, key, sizeof key), dl = unhex(data_hex, data, sizeof data);
    size_t wl = unhex(want_hex, want, sizeof want);
    cdtls_hmac_ctx c;
    m->init(&c, key, kl);
    m->update(&c, data, dl);
    m->final(&c, got);
    cr_assert_arr_eq(got, want, wl);
    cr_assert(all_zero(c.opaque, sizeof c.opaque), "final must wipe the context");
}

#define K20 "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
#define HI_THERE "4869205468657265"
#define JEFE "4a656665"
#define WANT "7768617420646f2079612077616e7420666f72206e6f7468696e673f"
#define AA131                                                                                                \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TC6                                                                                                  \
    "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669" \
    "727374"

Test(hmac, rfc4231_sha256)
{
    hmac_kat(CDTLS_HASH_SHA256, K20, HI_THERE,
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac_kat(CDTLS_HASH_SHA256, JEFE, WANT,
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    hmac_kat(CDTLS_HASH_SHA256, AA131, TC6,
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(hmac, rfc4231_sha384)
{
    hmac_kat(
        CDTLS_HASH_SHA384, K20, HI_THERE,
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6");
    hmac_kat(
        CDTLS_HASH_SHA384, JEFE, WANT,
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
}

Test(hmac, rfc4231_sha512)
{
    hmac_kat(CDTLS_HASH_SHA512, K20, HI_THERE,
             "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e"
             "4be9d914eeb61f1702e696c203a126854");
    hmac_kat(CDTLS_HASH_SHA512, JEFE, WANT,
             "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6f"
             "dcaeab1a34d4a6b4b636e070a38bce737");
}

Test(hmac, rfc2202_sha1)
{
    hmac_kat(CDTLS_HASH_SHA1, K20, HI_THERE, "b617318655057264e28bc0b6fb378c8ef146be00");
    hmac_kat(CDTLS_HASH_SHA1, JEFE, WANT, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

/* -------------------------------------------------------------------- AEAD */

static const cdtls_aead_vt *need_aead(cdtls_aead_alg alg)
{
    const cdtls_aead_vt *a = P()->aead[alg];
    if (!a) cr_skip_test("%s not provided by %s", cdtls_aead_name(alg), P()->name);
    return a;
}

/* Seal must equal want (ct || tag); open recovers pt; then every tamper is
 * refused with CDTLS_ERR_AUTH and a wiped output. */
static void aead_kat(cdtls_aead_alg alg, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                     size_t aad_len, const uint8_t *pt, size_t pt_len, const uint8_t *want)
{
    const cdtls_aead_vt *a = need_aead(alg);
    uint8_t buf[256], out[256], aadx[64], n2[12];
    size_t ct_len = pt_len + a->tag_len;
    cr_assert(ct_len <= sizeof buf && aad_len <= sizeof aadx);
    cdtls_aead_ctx c;
    cr_assert_eq(a->init(&c, key, a->key_len), CDTLS_OK);
    cr_assert_eq(a->seal(&c, nonce, 12, aad, aad_len, pt, pt_len, buf), CDTLS_OK);
    cr_assert_arr_eq(buf, want, ct_len, "%s seal", a->name);
    cr_assert_eq(a->open(&c, nonce, 12, aad, aad_len, buf, ct_len, out), CDTLS_OK);
    cr_assert_arr_eq(out, pt, pt_len);
    /* in place, both ways */
    memcpy(out, pt, pt_len);
    cr_assert_eq(a->seal(&c, nonce, 12, aad, aad_len, out, pt_len, out), CDTLS_OK);
    cr_assert_arr_eq(out, want, ct_len);
    cr_assert_eq(a->open(&c, nonce, 12, aad, aad_len, out, ct_len, out), CDTLS_OK);
    cr_assert_arr_eq(out, pt, pt_len);
    /* tampering: ciphertext, tag, nonce, AAD */
    for (int what = 0; what < 4; what++) {
        memcpy(buf, want, ct_len);
        memcpy(n2, nonce, 12);
        if (aad_len) memcpy(aadx, aad, aad_len);
        if (what == 0 && pt_len) buf[0] ^= 0x01;
        if (what == 0 && !pt_len) buf[0] ^= 0x80; /* empty plaintext: the tag */
        if (what == 1) buf[ct_len - 1] ^= 0x80;
        if (what == 2) n2[11] ^= 0x01;
        if (what == 3) {
            if (!aad_len) continue;
            aadx[0] ^= 0x01;
        }
        memset(out, 0xa5, sizeof out);
        cr_assert_eq(a->open(&c, n2, 12, aad_len ? aadx : NULL, aad_len, buf, ct_len, out), CDTLS_ERR_AUTH,
                     "%s tamper %d", a->name, what);
        cr_assert(all_zero(out, pt_len), "%s: output not wiped after failure", a->name);
    }
    a->clear(&c);
}

static const uint8_t gcm_key[16] = {0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
                                    0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
static const char gcm_pt_hex[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956"
                                 "809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
static const char gcm_iv_hex[] = "cafebabefacedbaddecaf888";
static const char gcm_aad_hex[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

static void gcm_case(cdtls_aead_alg alg, int with_aad, const char *ct_tag_hex)
{
    uint8_t key[32], pt[64], iv[12], aad[20], want[96];
    memcpy(key, gcm_key, 16);
    memcpy(key + 16, gcm_key, 16);
    size_t pl = unhex(gcm_pt_hex, pt, sizeof pt);
    unhex(gcm_iv_hex, iv, sizeof iv);
    unhex(gcm_aad_hex, aad, sizeof aad);
    unhex(ct_tag_hex, want, sizeof want);
    if (with_aad) pl = 60;
    aead_kat(alg, key, iv, with_aad ? aad : NULL, with_aad ? 20 : 0, pt, pl, want);
}

Test(aead, gcm_spec_cases)
{
    static const uint8_t zero[32] = {0};
    aead_kat(CDTLS_AEAD_AES_128_GCM, zero, zero, NULL, 0, zero, 16, st_gcm128_ct); /* TC 2 */
    gcm_case(CDTLS_AEAD_AES_128_GCM, 0,
             "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa0"
             "51ba30b396a0aac973d58e091473f5985"
             "4d5c2af327cd64a62cf35abd2ba6fab4"); /* TC 3 */
    gcm_case(CDTLS_AEAD_AES_128_GCM, 1,
             "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa0"
             "51ba30b396a0aac973d58e091"
             "5bc94fbc3221a5db94fae95ae7121a47"); /* TC 4 */
}

Test(aead, gcm256_spec_cases)
{
    static const uint8_t zero[32] = {0};
    aead_kat(CDTLS_AEAD_AES_256_GCM, zero, zero, NULL, 0, zero, 16, st_gcm256_ct); /* TC 14 */
    gcm_case(CDTLS_AEAD_AES_256_GCM, 0,
             "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682883"
             "8c5f61e6393ba7a0abcc9f662898015ad"
             "b094dac5d93471bdec1a502270e3cc6c"); /* TC 15 */
    gcm_case(CDTLS_AEAD_AES_256_GCM, 1,
             "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682883"
             "8c5f61e6393ba7a0abcc9f662"
             "76fc6ece0f4e1768cddf8853bb2d551b"); /* TC 16 */
}

Test(aead, ccm_dtls_nonce)
{
    static const struct {
        cdtls_aead_alg alg;
        const uint8_t *want;
    } cases[] = {{CDTLS_AEAD_AES_128_CCM, st_ccm128_16_ct},
                 {CDTLS_AEAD_AES_256_CCM, st_ccm256_16_ct},
                 {CDTLS_AEAD_AES_128_CCM_8, st_ccm128_8_ct},
                 {CDTLS_AEAD_AES_256_CCM_8, st_ccm256_8_ct}};
    if (!P()->aead[CDTLS_AEAD_AES_128_CCM]) cr_skip_test("no CCM in %s", P()->name);
    for (size_t i = 0; i < 4; i++)
        aead_kat(cases[i].alg, st_ccm_key, st_ccm_nonce, st_ccm_aad, sizeof st_ccm_aad, st_ccm_pt,
                 sizeof st_ccm_pt, cases[i].want);
}

Test(aead, chacha20_poly1305_rfc8439)
{
    aead_kat(CDTLS_AEAD_CHACHA20_POLY1305, st_chacha_key, st_chacha_nonce, st_chacha_aad,
             sizeof st_chacha_aad, st_chacha_pt, sizeof st_chacha_pt, st_chacha_ct);
}

Test(aead, contract_errors_every_alg)
{
    const cdtls_provider *p = P();
    int any = 0;
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++) {
        const cdtls_aead_vt *a = p->aead[i];
        if (!a) continue;
        any = 1;
        uint8_t key[33] = {0}, nonce[13] = {0}, buf[64] = {0};
        cdtls_aead_ctx c;
        cr_assert_eq(a->init(&c, key, a->key_len - 1), CDTLS_ERR_KEY_SIZE, "%s", a->name);
        cr_assert_eq(a->init(&c, key, a->key_len + 1), CDTLS_ERR_KEY_SIZE, "%s", a->name);
        cr_assert_eq(a->init(&c, key, a->key_len), CDTLS_OK);
        cr_assert_eq(a->seal(&c, nonce, 11, NULL, 0, buf, 4, buf), CDTLS_ERR_NONCE_SIZE, "%s", a->name);
        cr_assert_eq(a->seal(&c, nonce, 13, NULL, 0, buf, 4, buf), CDTLS_ERR_NONCE_SIZE, "%s", a->name);
        cr_assert_eq(a->open(&c, nonce, 12, NULL, 0, buf, a->tag_len - 1, buf), CDTLS_ERR_AUTH, "%s",
                     a->name);
        /* empty plaintext round trip */
        cr_assert_eq(a->seal(&c, nonce, 12, NULL, 0, NULL, 0, buf), CDTLS_OK);
        cr_assert_eq(a->open(&c, nonce, 12, NULL, 0, buf, a->tag_len, buf + 32), CDTLS_OK);
        a->clear(&c);
        cr_assert(all_zero(c.opaque, sizeof c.opaque), "%s clear must wipe", a->name);
    }
    cr_assert(any, "every provider has at least one AEAD");
}

/* --------------------------------------------------------------------- CBC */

Test(cbc, sp800_38a_and_contract)
{
    const cdtls_provider *p = P();
    if (!p->cbc[CDTLS_CBC_AES_128]) cr_skip_test("no CBC in %s", p->name);
    const uint8_t *keys[2] = {st_cbc128_key, st_cbc256_key}, *cts[2] = {st_cbc128_ct, st_cbc256_ct};
    for (int i = 0; i < CDTLS_CBC__COUNT; i++) {
        const cdtls_cbc_vt *c = p->cbc[i];
        cdtls_cbc_ctx e, d;
        uint8_t buf[32], iv[16];
        memcpy(iv, st_cbc_iv, 16);
        cr_assert_eq(c->init(&e, 1, keys[i], c->key_len - 8), CDTLS_ERR_KEY_SIZE);
        cr_assert_eq(c->init(&e, 1, keys[i], c->key_len), CDTLS_OK);
        cr_assert_eq(c->init(&d, 0, keys[i], c->key_len), CDTLS_OK);
        memcpy(buf, st_cbc_pt, 16);
        cr_assert_eq(c->encrypt(&e, iv, buf, 16), CDTLS_OK);
        cr_assert_arr_eq(buf, cts[i], 16);
        cr_assert_arr_eq(iv, st_cbc_iv, 16, "iv must not change");
        cr_assert_eq(c->decrypt(&d, iv, buf, 16), CDTLS_OK);
        cr_assert_arr_eq(buf, st_cbc_pt, 16);
        cr_assert_eq(c->encrypt(&e, iv, buf, 15), CDTLS_ERR_LENGTH);
        cr_assert_eq(c->decrypt(&d, iv, buf, 17), CDTLS_ERR_LENGTH);
        c->clear(&e);
        c->clear(&d);
    }
}

/* ------------------------------------------------------------ key exchange */

static void x25519_vector(const char *scalar, const char *u, const char *out)
{
    const cdtls_kx_vt *k = P()->kx[CDTLS_GROUP_X25519];
    uint8_t s[32], uu[32], want[32], pub[32], got[32];
    unhex(scalar, s, 32), unhex(u, uu, 32), unhex(out, want, 32);
    cdtls_kx_key key;
    cr_assert_eq(k->import_private(&key, s, 32, pub), CDTLS_OK);
    cr_assert_eq(k->derive(&key, uu, 32, got), CDTLS_OK);
    cr_assert_arr_eq(got, want, 32);
    k->clear(&key);
}

Test(kx, x25519_rfc7748)
{
    const cdtls_kx_vt *k = P()->kx[CDTLS_GROUP_X25519];
    if (!k) cr_skip_test("no X25519");
    x25519_vector("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    x25519_vector("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
    /* §6.1 Alice and Bob */
    cdtls_kx_key a;
    uint8_t pub[32], shared[32];
    cr_assert_eq(k->import_private(&a, st_x25519_a_priv, 32, pub), CDTLS_OK);
    cr_assert_arr_eq(pub, st_x25519_a_pub, 32);
    cr_assert_eq(k->derive(&a, st_x25519_b_pub, 32, shared), CDTLS_OK);
    cr_assert_arr_eq(shared, st_x25519_shared, 32);
    /* low-order points give all-zero output: refused (RFC 7748 §6.1) */
    uint8_t zero[32] = {0}, one[32] = {1};
    cr_assert_eq(k->derive(&a, zero, 32, shared), CDTLS_ERR_BAD_KEY);
    cr_assert_eq(k->derive(&a, one, 32, shared), CDTLS_ERR_BAD_KEY);
    cr_assert_eq(k->derive(&a, st_x25519_b_pub, 31, shared), CDTLS_ERR_BAD_KEY);
    k->clear(&a);
}

Test(kx, nist_curves)
{
    const cdtls_provider *p = P();
    static const struct {
        cdtls_group g;
        const uint8_t *priv, *pub, *peer, *shared;
    } v[] = {{CDTLS_GROUP_SECP256R1, st_p256_a_priv, st_p256_a_pub, st_p256_b_pub, st_p256_shared},
             {CDTLS_GROUP_SECP384R1, st_p384_a_priv, st_p384_a_pub, st_p384_b_pub, st_p384_shared}};
    if (!p->kx[CDTLS_GROUP_SECP256R1]) cr_skip_test("no NIST curves in %s", p->name);
    for (size_t i = 0; i < 2; i++) {
        const cdtls_kx_vt *k = p->kx[v[i].g];
        size_t sl = k->shared_len, pl = k->public_len;
        cdtls_kx_key a, b, c;
        uint8_t pa[97], pb[97], s1[48], s2[48], bad[97];
        cr_assert_eq(k->import_private(&a, v[i].priv, sl, pa), CDTLS_OK);
        cr_assert_arr_eq(pa, v[i].pub, pl);
        cr_assert_eq(k->derive(&a, v[i].peer, pl, s1), CDTLS_OK);
        cr_assert_arr_eq(s1, v[i].shared, sl);
        /* fresh pairs agree */
        cr_assert_eq(k->keygen(p, &b, pb), CDTLS_OK);
        cr_assert_eq(k->keygen(p, &c, pa), CDTLS_OK);
        cr_assert_eq(k->derive(&b, pa, pl, s1), CDTLS_OK);
        cr_assert_eq(k->derive(&c, pb, pl, s2), CDTLS_OK);
        cr_assert_arr_eq(s1, s2, sl);
        /* off-curve point, compressed-looking prefix, wrong length */
        memcpy(bad, v[i].peer, pl);
        bad[pl - 1] ^= 1;
        cr_assert_eq(k->derive(&a, bad, pl, s1), CDTLS_ERR_BAD_KEY);
        bad[0] = 0x02;
        cr_assert_eq(k->derive(&a, bad, pl, s1), CDTLS_ERR_BAD_KEY);
        cr_assert_eq(k->derive(&a, v[i].peer, pl - 1, s1), CDTLS_ERR_BAD_KEY);
        /* scalar 0 is no key */
        uint8_t zero[48] = {0};
        cr_assert_eq(k->import_private(&c, zero, sl, pa), CDTLS_ERR_BAD_KEY);
        k->clear(&a), k->clear(&b), k->clear(&c);
    }
}

/* A deterministic random source: keygen through it is reproducible. */
typedef struct det_provider {
    cdtls_provider p;
    uint64_t state;
} det_provider;

static int det_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    det_provider *d = (det_provider *)(uintptr_t)self;
    for (size_t i = 0; i < len; i++) {
        d->state = d->state * 6364136223846793005ULL + 1442695040888963407ULL;
        out[i] = (uint8_t)(d->state >> 56);
    }
    return CDTLS_OK;
}

Test(kx, keygen_uses_provider_random)
{
    det_provider d1, d2;
    d1.p = d2.p = *P();
    d1.p.random = d2.p.random = det_random;
    d1.state = d2.state = 42;
    for (int g = 0; g < CDTLS_GROUP__COUNT; g++) {
        const cdtls_kx_vt *k = d1.p.kx[g];
        if (!k) continue;
        cdtls_kx_key a, b;
        uint8_t pa[97], pb[97];
        cr_assert_eq(k->keygen(&d1.p, &a, pa), CDTLS_OK);
        cr_assert_eq(k->keygen(&d2.p, &b, pb), CDTLS_OK);
        cr_assert_arr_eq(pa, pb, k->public_len, "%s keygen not reproducible", k->name);
        k->clear(&a), k->clear(&b);
    }
}

/* -------------------------------------------------------------- signatures */

static void ed25519_case(const char *sk_hex, const char *pk_hex, const char *msg_hex, const char *sig_hex)
{
    const cdtls_provider *p = P();
    uint8_t sk[32], pk[32], msg[8], want[64], sig[64];
    unhex(sk_hex, sk, 32), unhex(pk_hex, pk, 32), unhex(sig_hex, want, 64);
    size_t ml = unhex(msg_hex, msg, sizeof msg), sl = sizeof sig;
    cdtls_private_key_params kp = {.type = CDTLS_KEY_ED25519, .priv = sk, .priv_len = 32};
    cdtls_sign_key *key = NULL;
    cr_assert_eq(p->sign_key_new(p, cdtls_allocator_libc(), &kp, &key), CDTLS_OK);
    cr_assert_eq(p->sig[CDTLS_SIG_ED25519]->sign(p, key, msg, ml, sig, &sl), CDTLS_OK);
    cr_assert_eq(sl, 64);
    cr_assert_arr_eq(sig, want, 64);
    cdtls_public_key pub;
    cr_assert_eq(p->sign_key_public(key, &pub), CDTLS_OK);
    cr_assert_arr_eq(pub.data, pk, 32);
    cr_assert_eq(p->sig[CDTLS_SIG_ED25519]->verify(&pub, msg, ml, sig, 64), CDTLS_OK);
    sig[10] ^= 4;
    cr_assert_eq(p->sig[CDTLS_SIG_ED25519]->verify(&pub, msg, ml, sig, 64), CDTLS_ERR_SIGNATURE);
    sl = 63;
    cr_assert_eq(p->sig[CDTLS_SIG_ED25519]->sign(p, key, msg, ml, sig, &sl), CDTLS_ERR_BUFFER_TOO_SMALL);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

Test(sig, ed25519_rfc8032)
{
    if (!P()->sig[CDTLS_SIG_ED25519]) cr_skip_test("no Ed25519 in %s", P()->name);
    ed25519_case("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
                 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
                 "9b46bd25bf5f0595bbe24655141438e7a100b");
    ed25519_case("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
                 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f"
                 "11d8c387b2eaeb4302aeeb00d291612bb0c00");
    ed25519_case("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                 "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
                 "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
                 "dc6594a7c15e9716ed28dc027beceea1ec40a");
}

static void ecdsa_rfc6979(cdtls_sig_alg alg, cdtls_key_type type, const char *x_hex, const char *ux,
                          const char *uy, const char *der_hex)
{
    const cdtls_provider *p = P();
    const cdtls_sig_vt *s = p->sig[alg];
    uint8_t x[48], pub[97], der[110], sig[128];
    size_t xl = unhex(x_hex, x, sizeof x);
    pub[0] = 4;
    unhex(ux, pub + 1, 48);
    unhex(uy, pub + 1 + xl, 48);
    size_t dl = unhex(der_hex, der, sizeof der);
    cdtls_public_key pk = {type, pub, 1 + 2 * xl, NULL, 0};
    const uint8_t *msg = (const uint8_t *)"sample";
    cr_assert_eq(s->verify(&pk, msg, 6, der, dl), CDTLS_OK, "%s published vector", s->name);
    cr_assert_eq(s->verify(&pk, (const uint8_t *)"samplf", 6, der, dl), CDTLS_ERR_SIGNATURE);
    der[dl - 1] ^= 1;
    cr_assert_eq(s->verify(&pk, msg, 6, der, dl), CDTLS_ERR_SIGNATURE);
    /* sign-then-verify with the same key */
    cdtls_private_key_params kp = {.type = type, .priv = x, .priv_len = xl};
    cdtls_sign_key *key;
    size_t sl = sizeof sig;
    cr_assert_eq(p->sign_key_new(p, cdtls_allocator_libc(), &kp, &key), CDTLS_OK);
    cdtls_public_key kpub;
    cr_assert_eq(p->sign_key_public(key, &kpub), CDTLS_OK);
    cr_assert_arr_eq(kpub.data, pub, 1 + 2 * xl, "public point from the private key");
    cr_assert_eq(s->sign(p, key, msg, 6, sig, &sl), CDTLS_OK);
    cr_assert_eq(s->verify(&pk, msg, 6, sig, sl), CDTLS_OK);
    size_t tiny = 8;
    cr_assert_eq(s->sign(p, key, msg, 6, sig, &tiny), CDTLS_ERR_BUFFER_TOO_SMALL);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

Test(sig, ecdsa_rfc6979_vectors)
{
    if (!P()->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("no ECDSA in %s", P()->name);
    ecdsa_rfc6979(CDTLS_SIG_ECDSA_SHA256, CDTLS_KEY_EC_P256,
                  "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
                  "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
                  "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
                  "3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d"
                  "657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
    ecdsa_rfc6979(
        CDTLS_SIG_ECDSA_SHA384, CDTLS_KEY_EC_P384,
        "6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5",
        "ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc13",
        "8015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720",
        "306602310094edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c81a648152e44acf96e36dd1e80"
        "fabe4602310099ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94fa329c145786e679e7b82c71a"
        "38628ac8");
}

Test(sig, rsa_known_signatures)
{
    const cdtls_provider *p = P();
    if (!p->sig[CDTLS_SIG_RSA_PKCS1_SHA256]) cr_skip_test("no RSA in %s", p->name);
    cdtls_public_key pk = {CDTLS_KEY_RSA, st_rsa_n, sizeof st_rsa_n, st_rsa_e, sizeof st_rsa_e};
    const cdtls_sig_vt *v15 = p->sig[CDTLS_SIG_RSA_PKCS1_SHA256],
                       *pss = p->sig[CDTLS_SIG_RSA_PSS_RSAE_SHA256];
    cr_assert_eq(v15->verify(&pk, st_sig_msg, sizeof st_sig_msg, st_rsa_pkcs1_sha256_sig,
                             sizeof st_rsa_pkcs1_sha256_sig),
                 CDTLS_OK);
    cr_assert_eq(
        pss->verify(&pk, st_sig_msg, sizeof st_sig_msg, st_rsa_pss_sha256_sig, sizeof st_rsa_pss_sha256_sig),
        CDTLS_OK);
    /* the schemes do not accept each other's signatures */
    cr_assert_eq(
        v15->verify(&pk, st_sig_msg, sizeof st_sig_msg, st_rsa_pss_sha256_sig, sizeof st_rsa_pss_sha256_sig),
        CDTLS_ERR_SIGNATURE);
    cr_assert_eq(pss->verify(&pk, st_sig_msg, sizeof st_sig_msg, st_rsa_pkcs1_sha256_sig,
                             sizeof st_rsa_pkcs1_sha256_sig),
                 CDTLS_ERR_SIGNATURE);
    uint8_t bad[sizeof st_rsa_pkcs1_sha256_sig];
    memcpy(bad, st_rsa_pkcs1_sha256_sig, sizeof bad);
    bad[100] ^= 1;
    cr_assert_eq(v15->verify(&pk, st_sig_msg, sizeof st_sig_msg, bad, sizeof bad), CDTLS_ERR_SIGNATURE);
    cr_assert_eq(v15->verify(&pk, st_sig_msg, sizeof st_sig_msg, bad, sizeof bad - 1), CDTLS_ERR_SIGNATURE);
    cdtls_public_key ec = {CDTLS_KEY_EC_P256, st_rsa_n, 65, NULL, 0};
    cr_assert_eq(v15->verify(&ec, st_sig_msg, sizeof st_sig_msg, bad, sizeof bad), CDTLS_ERR_BAD_KEY);
}

Test(sig, generated_keys_sign_and_verify)
{
    const cdtls_provider *p = P();
    static const cdtls_key_type types[] = {CDTLS_KEY_EC_P256, CDTLS_KEY_EC_P384, CDTLS_KEY_ED25519};
    int made = 0;
    for (size_t t = 0; t < 3; t++) {
        cdtls_sign_key *key = NULL;
        if (p->sign_key_generate(p, cdtls_allocator_libc(), types[t], &key) != CDTLS_OK) continue;
        made++;
        cdtls_public_key pub;
        cr_assert_eq(p->sign_key_public(key, &pub), CDTLS_OK);
        for (int a = 0; a < CDTLS_SIG__COUNT; a++) {
            const cdtls_sig_vt *s = p->sig[a];
            if (!s || !(s->key_types & CDTLS_KEY_BIT(types[t]))) continue;
            uint8_t sig[CDTLS_SIG_MAX_LEN];
            size_t sl = sizeof sig;
            cr_assert_eq(s->sign(p, key, (const uint8_t *)"msg", 3, sig, &sl), CDTLS_OK, "%s", s->name);
            cr_assert_eq(s->verify(&pub, (const uint8_t *)"msg", 3, sig, sl), CDTLS_OK, "%s", s->name);
            cr_assert_eq(s->verify(&pub, (const uint8_t *)"msh", 3, sig, sl), CDTLS_ERR_SIGNATURE, "%s",
                         s->name);
        }
        p->sign_key_free(cdtls_allocator_libc(), key);
    }
    cr_assert(made > 0, "each provider generates at least one key type");
}

/* The provider self-test (what the demo prints) passes on the linked provider. */
Test(provider, selftest_passes)
{
    cr_assert_eq(cdtls_provider_selftest(P(), NULL, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_provider_selftest(NULL, NULL, NULL), CDTLS_ERR_INVALID_ARG);
}

Test(provider, random_is_random)
{
    uint8_t a[32], b[32];
    cr_assert_eq(P()->random(P(), a, 32), CDTLS_OK);
    cr_assert_eq(P()->random(P(), b, 32), CDTLS_OK);
    cr_assert(memcmp(a, b, 32) != 0);
    cr_assert(!all_zero(a, 32));
}
