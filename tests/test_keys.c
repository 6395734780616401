/* The core TLS 1.2 PRF and key schedule, on top of the linked provider's
 * HMAC. PRF vectors: the IETF TLS WG vectors for P_SHA256 / P_SHA384
 * (secret 9bbe43... / b80b73..., label "test label"). Key-schedule vectors
 * were computed with Python's hmac/hashlib from RFC 5246 §5/§6.3/§7.4.9,
 * RFC 7627 §4 and RFC 4279 §2 (see the comments), independently of cdtls. */
#include <criterion/criterion.h>
#include "test_util.h"
#include <stdio.h>
#include <string.h>

#include "cdtls/prf.h"
#include "keys/keyschedule.h"


static void check_prf(cdtls_hash_alg hash, const char *secret_hex, const char *seed_hex, const char *want_hex)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->hmac[hash]) {
        cr_assert_eq(cdtls_tls12_prf(p, hash, (const uint8_t *)"k", 1, "l", NULL, 0, (uint8_t[4]){0}, 4),
                     CDTLS_ERR_UNSUPPORTED);
        cr_skip_test("HMAC-%s not in provider %s", cdtls_hash_name(hash), p->name);
    }
    uint8_t secret[64], seed[64], want[256], got[256];
    size_t sl = unhex(secret_hex, secret, sizeof secret);
    size_t dl = unhex(seed_hex, seed, sizeof seed);
    size_t wl = unhex(want_hex, want, sizeof want);
    cr_assert_eq(cdtls_tls12_prf(p, hash, secret, sl, "test label", seed, dl, got, wl), CDTLS_OK);
    cr_assert_arr_eq(got, want, wl);
    /* Shorter outputs are prefixes (every block boundary and inside one). */
    for (size_t cut = 1; cut < wl; cut += 7) {
        memset(got, 0, sizeof got);
        cr_assert_eq(cdtls_tls12_prf(p, hash, secret, sl, "test label", seed, dl, got, cut), CDTLS_OK);
        cr_assert_arr_eq(got, want, cut);
        cr_assert_eq(got[cut], 0);
    }
}

Test(prf, sha256_vector)
{
    check_prf(CDTLS_HASH_SHA256, "9bbe436ba940f017b17652849a71db35", "a0ba9f936cda311827a6f796ffd5198c",
              "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9"
              "c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789ba"
              "a48082d122ee42c5a72e5a5110fff70187347b66");
}

Test(prf, sha384_vector)
{
    check_prf(CDTLS_HASH_SHA384, "b80b733d6ceefcdc71566ea48e5567df", "cd665cf6a8447dd6ff8b27555edb7465",
              "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe3"
              "4f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3"
              "d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236"
              "a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f");
}

Test(prf, bad_arguments)
{
    const cdtls_provider *p = cdtls_provider_default();
    uint8_t out[8];
    cr_assert_eq(cdtls_tls12_prf(NULL, CDTLS_HASH_SHA256, out, 1, "l", out, 1, out, 8),
                 CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_tls12_prf(p, CDTLS_HASH__COUNT, out, 1, "l", out, 1, out, 8), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_tls12_prf(p, CDTLS_HASH_SHA256, out, 1, NULL, out, 1, out, 8), CDTLS_ERR_INVALID_ARG);
}

static const uint8_t psk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

Test(keyschedule, psk_premaster_rfc4279)
{
    /* RFC 4279 §2: other_secret = N zero bytes for plain PSK */
    uint8_t out[128], want[128];
    size_t n = 0, wl = unhex("00100000000000000000000000000000000000100102030405060708090a0b0c0d0e0f10", want,
                             sizeof want);
    cr_assert_eq(ks_psk_premaster(NULL, 0, psk, sizeof psk, out, sizeof out, &n), CDTLS_OK);
    cr_assert_eq(n, wl);
    cr_assert_arr_eq(out, want, wl);
    /* RFC 5489 §2: ECDHE-PSK puts the ECDH secret first */
    uint8_t ecdh[32];
    for (int i = 0; i < 32; i++) ecdh[i] = (uint8_t)(0xa0 + i);
    wl = unhex("0020a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00100102030405060708090a0"
               "b0c0d0e0f10",
               want, sizeof want);
    cr_assert_eq(ks_psk_premaster(ecdh, 32, psk, sizeof psk, out, sizeof out, &n), CDTLS_OK);
    cr_assert_eq(n, wl);
    cr_assert_arr_eq(out, want, wl);
    cr_assert_eq(ks_psk_premaster(ecdh, 32, psk, sizeof psk, out, 20, &n), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(ks_psk_premaster(NULL, 0, psk, 0, out, sizeof out, &n), CDTLS_ERR_INVALID_ARG);
}

Test(keyschedule, master_ems_keyblock_finished)
{
    const cdtls_provider *p = cdtls_provider_default();
    uint8_t cr[32], sr[32], pms[64], ms[48], want[128], sh[32];
    size_t pms_len = 0;
    for (int i = 0; i < 32; i++) cr[i] = (uint8_t)(0x20 + i), sr[i] = (uint8_t)(0x40 + i);
    cr_assert_eq(ks_psk_premaster(NULL, 0, psk, sizeof psk, pms, sizeof pms, &pms_len), CDTLS_OK);
    /* session hash = SHA-256("transcript") */
    cdtls_hash_ctx h;
    p->hash[CDTLS_HASH_SHA256]->init(&h);
    p->hash[CDTLS_HASH_SHA256]->update(&h, "transcript", 10);
    p->hash[CDTLS_HASH_SHA256]->final(&h, sh);

    cr_assert_eq(ks_master_secret(p, CDTLS_HASH_SHA256, pms, pms_len, cr, sr, ms), CDTLS_OK);
    unhex("ec4e5a7b917ed2e801e33aa3205f79ec3d48a26195ccc450395e7f8d3be1a1b4929f14f36df2c672af542bf918a41c03",
          want, sizeof want);
    cr_assert_arr_eq(ms, want, 48);

    uint8_t ems[48];
    cr_assert_eq(ks_extended_master_secret(p, CDTLS_HASH_SHA256, pms, pms_len, sh, 32, ems), CDTLS_OK);
    unhex("bf20733f84c50b4724a38ab38dc50056379fd484762eb96c3b9b4ca374ad3e302d3cf06331c5c37b66f5c60b673b46b0",
          want, sizeof want);
    cr_assert_arr_eq(ems, want, 48);

    /* ChaCha20-Poly1305 shape: no MAC key, 32-byte keys, 12-byte IVs */
    ks_keys k;
    cr_assert_eq(ks_key_block(p, CDTLS_HASH_SHA256, ms, cr, sr, 0, 32, 12, &k), CDTLS_OK);
    size_t kl = unhex(
        "b8a58023f5dadc5e983b5d6d44a4fac14c5e013bc4721b2a75e3516c6d2d744920ff6a39b664cbce7a7ba5ab03b83e56c31a"
        "1993adf811572d70013d994e0ac7abb5c0c255a1fef044e2b39f3bc809c21acc96358a47d87c",
        want, sizeof want);
    cr_assert_eq(kl, 88);
    cr_assert_arr_eq(k.client_write.key, want, 32);
    cr_assert_arr_eq(k.server_write.key, want + 32, 32);
    cr_assert_arr_eq(k.client_write.iv, want + 64, 12);
    cr_assert_arr_eq(k.server_write.iv, want + 76, 12);

    uint8_t vd[12];
    cr_assert_eq(ks_finished(p, CDTLS_HASH_SHA256, ms, 0, sh, 32, vd), CDTLS_OK);
    unhex("55af8caa5f460d1f2261bfbb", want, sizeof want);
    cr_assert_arr_eq(vd, want, 12);
    cr_assert_eq(ks_finished(p, CDTLS_HASH_SHA256, ms, 1, sh, 32, vd), CDTLS_OK);
    unhex("eb6a869fde66e0e2bcb93cba", want, sizeof want);
    cr_assert_arr_eq(vd, want, 12);

    cr_assert_eq(ks_key_block(p, CDTLS_HASH_SHA256, ms, cr, sr, 65, 32, 12, &k), CDTLS_ERR_INVALID_ARG);
}
