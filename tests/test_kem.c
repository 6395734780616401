/* ML-KEM-768 through the provider interface (FIPS 203 known answers from
 * Wycheproof, tests/kem_vectors.h), and the X25519MLKEM768 hybrid of
 * src/keys/hybrid_kex.c: our client against our server, a known answer for
 * the composition (ML-KEM vector + RFC 7748 §6.1 X25519 vector through a
 * deterministic random), hostile shares of every wrong length, keys that
 * fail the FIPS 203 §7.2 modulus check, tampered ciphertexts (implicit
 * rejection: another secret, not an error), and providers without a KEM
 * (bearssl, openssl, an ABI 2 table), which do not offer the group. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/provider.h"
#include "kem_vectors.h"
#include "keys/hybrid_kex.h"
#include "test_util.h"

static const cdtls_provider *prov(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert_not_null(p);
    return p;
}

/* The build's ML-KEM-768, or a skip that says why there is none. */
static const cdtls_kem_vt *need_kem(void)
{
    const cdtls_provider *p = prov();
    const cdtls_kem_vt *k = p->kem[CDTLS_KEM_MLKEM768];
    if (!k) {
        if (strcmp(p->name, "sodium") == 0)
            cr_skip_test("libsodium without crypto_kem_mlkem768 (< 1.0.22) linked: run "
                         "scripts/fetch-provider-src.sh so the build compiles 1.0.22");
        cr_skip_test("the %s provider has no ML-KEM-768", p->name);
    }
    return k;
}

static void sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    const cdtls_hash_vt *h = prov()->hash[CDTLS_HASH_SHA256];
    cr_assert_not_null(h);
    cdtls_hash_ctx ctx;
    h->init(&ctx);
    h->update(&ctx, data, len);
    h->final(&ctx, out);
}

static void assert_digest(const uint8_t *data, size_t len, const char *want_hex, const char *what, int tc)
{
    uint8_t d[32], want[32];
    cr_assert_eq(unhex(want_hex, want, sizeof want), 32);
    sha256(data, len, d);
    cr_assert(memcmp(d, want, 32) == 0, "tcId %d: %s differs", tc, what);
}

static int all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= b[i];
    return acc == 0;
}

/* ------------------------------------------------------------ capabilities */

Test(kem, capability_matches_provider)
{
    const cdtls_provider *p = prov();
    cr_assert_str_eq(cdtls_kem_name(CDTLS_KEM_MLKEM768), "ML-KEM-768");
    cr_assert_str_eq(cdtls_kem_name((cdtls_kem_alg)CDTLS_KEM__COUNT), "unknown");
    cr_assert_eq(CDTLS_GROUP_X25519MLKEM768, 0x11ec);
    cr_assert_eq(p->abi_version, 3u);
    const cdtls_kem_vt *k = p->kem[CDTLS_KEM_MLKEM768];
    if (strcmp(p->name, "bearssl") == 0 || strcmp(p->name, "openssl") == 0) {
        /* BearSSL has no ML-KEM; bookworm's OpenSSL 3.0 neither (3.5 has). */
        cr_assert_null(k, "%s should have no KEM", p->name);
        cr_assert(!hybrid_kex_available(p), "%s must not offer X25519MLKEM768", p->name);
        hybrid_client c;
        uint8_t share[HYBRID_CLIENT_SHARE_LEN];
        size_t n = 1;
        cr_assert_eq(hybrid_client_keygen(&c, p, share, sizeof share, &n), CDTLS_ERR_UNSUPPORTED);
        cr_assert_eq(n, 0);
        uint8_t ss[HYBRID_SHARED_LEN], out[HYBRID_SERVER_SHARE_LEN];
        memset(share, 0x55, sizeof share);
        cr_assert_eq(hybrid_server_respond(p, share, sizeof share, out, sizeof out, &n, ss, sizeof ss),
                     CDTLS_ERR_UNSUPPORTED);
        return;
    }
    k = need_kem();
    cr_assert_eq(k->alg, CDTLS_KEM_MLKEM768);
    cr_assert_str_eq(k->name, cdtls_kem_name(CDTLS_KEM_MLKEM768));
    cr_assert_eq(k->public_len, 1184);
    cr_assert_eq(k->ciphertext_len, 1088);
    cr_assert_eq(k->shared_len, 32);
    cr_assert_eq(k->keygen_seed_len, 64);
    cr_assert_eq(k->encaps_seed_len, 32);
    cr_assert(hybrid_kex_available(p));
}

/* A table built against the ABI 2 header ends before kem[]: the core must
 * not read it, so such a table does not offer the group even when the
 * memory after it happens to hold a KEM pointer. */
Test(kem, abi2_table_has_no_kem)
{
    const cdtls_kem_vt *k = need_kem();
    cdtls_provider old = *prov();
    old.abi_version = 2;
    cr_assert_eq(old.kem[CDTLS_KEM_MLKEM768], k); /* what an over-reader would find */
    cr_assert(!hybrid_kex_available(&old));
    hybrid_client c;
    uint8_t share[HYBRID_CLIENT_SHARE_LEN];
    size_t n;
    cr_assert_eq(hybrid_client_keygen(&c, &old, share, sizeof share, &n), CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(cdtls_provider_selftest(&old, NULL, NULL), CDTLS_ERR_UNSUPPORTED);
    cdtls_provider nokem = *prov();
    nokem.kem[CDTLS_KEM_MLKEM768] = NULL;
    cr_assert(!hybrid_kex_available(&nokem));
    cdtls_provider nox = *prov();
    nox.kx[CDTLS_GROUP_X25519] = NULL;
    cr_assert(!hybrid_kex_available(&nox), "the hybrid needs X25519 as well");
}

/* A combined table takes kem[] from the first provider that has one. */
Test(kem, combined_table_borrows_the_kem)
{
    const cdtls_kem_vt *k = need_kem();
    cdtls_provider nokem = *prov();
    nokem.kem[CDTLS_KEM_MLKEM768] = NULL;
    cdtls_provider kem_only;
    memset(&kem_only, 0, sizeof kem_only);
    kem_only.abi_version = CDTLS_PROVIDER_ABI_VERSION;
    kem_only.name = "kem-only";
    kem_only.kem[CDTLS_KEM_MLKEM768] = k;
    const cdtls_provider *list[2] = {&nokem, &kem_only};
    static cdtls_provider_combined comb;
    cr_assert_eq(cdtls_provider_combine(&comb, NULL, list, 2), CDTLS_OK);
    cr_assert_eq(comb.provider.kem[CDTLS_KEM_MLKEM768], k);
    cr_assert(hybrid_kex_available(&comb.provider));
    /* and a hybrid exchange through it works, drawing from the first random */
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k1[64], k2[64];
    size_t n1, n2;
    cr_assert_eq(hybrid_client_keygen(&c, &comb.provider, cs, sizeof cs, &n1), CDTLS_OK);
    cr_assert_eq(hybrid_server_respond(prov(), cs, n1, ss, sizeof ss, &n2, k1, sizeof k1), CDTLS_OK);
    cr_assert_eq(hybrid_client_finish(&c, ss, n2, k2, sizeof k2), CDTLS_OK);
    cr_assert(memcmp(k1, k2, 64) == 0);
    hybrid_client_clear(&c);
}

static void count_kem(void *ctx, const char *check, int result)
{
    int *seen = ctx;
    if (strcmp(check, "ML-KEM-768") == 0) {
        seen[0]++;
        if (result != CDTLS_OK) seen[1]++;
    }
}

Test(kem, selftest_checks_the_kem)
{
    need_kem();
    int seen[2] = {0, 0};
    cr_assert_eq(cdtls_provider_selftest(prov(), count_kem, seen), CDTLS_OK);
    cr_assert_eq(seen[0], 1, "the self-test ran no ML-KEM-768 check");
    cr_assert_eq(seen[1], 0);
}

/* ----------------------------------------------------- FIPS 203 known answers */

/* Every vector: ML-KEM.KeyGen_internal(d, z) gives ek (by its digest),
 * Encaps_internal(ek, m) gives c (by digest) and K, and Decaps(dk, c) gives
 * K back. */
Test(kem, fips203_known_answers)
{
    const cdtls_kem_vt *k = need_kem();
    cr_assert_not_null(k->keygen_seed);
    cr_assert_not_null(k->encaps_seed);
    size_t n = sizeof kem_kats / sizeof kem_kats[0];
    cr_assert_eq(n, 100);
    for (size_t i = 0; i < n; i++) {
        const kem_kat *v = &kem_kats[i];
        uint8_t seed[64], m[32], want_k[32], ek[1184], ct[1088], k_enc[32], k_dec[32];
        cr_assert_eq(unhex(v->seed, seed, sizeof seed), 64);
        cr_assert_eq(unhex(v->m, m, sizeof m), 32);
        cr_assert_eq(unhex(v->k, want_k, sizeof want_k), 32);
        cdtls_kem_key key;
        cr_assert_eq(k->keygen_seed(&key, seed, sizeof seed, ek), CDTLS_OK, "tcId %d", v->tc_id);
        assert_digest(ek, sizeof ek, v->ek_sha256, "ek", v->tc_id);
        cr_assert_eq(k->encaps_seed(ek, sizeof ek, m, sizeof m, ct, k_enc), CDTLS_OK, "tcId %d", v->tc_id);
        assert_digest(ct, sizeof ct, v->c_sha256, "c", v->tc_id);
        cr_assert(memcmp(k_enc, want_k, 32) == 0, "tcId %d: encapsulated K differs", v->tc_id);
        cr_assert_eq(k->decaps(&key, ct, sizeof ct, k_dec), CDTLS_OK, "tcId %d", v->tc_id);
        cr_assert(memcmp(k_dec, want_k, 32) == 0, "tcId %d: decapsulated K differs", v->tc_id);
        k->clear(&key);
        cr_assert(all_zero(key.opaque, sizeof key.opaque), "clear left key bytes");
    }
}

/* Wycheproof's CCTV/strcmp vector: a ciphertext whose first byte is zero, not
 * the encryption of anything under this key: Decaps must take the implicit
 * rejection path and return J(z || c), which the vector gives. */
Test(kem, implicit_rejection_known_answer)
{
    const cdtls_kem_vt *k = need_kem();
    uint8_t seed[64], ek[1184], c[1088], want[32], got[32];
    cr_assert_eq(unhex(kem_strcmp_seed, seed, sizeof seed), 64);
    cr_assert_eq(unhex(kem_strcmp_c, c, sizeof c), 1088);
    cr_assert_eq(unhex(kem_strcmp_k, want, sizeof want), 32);
    cdtls_kem_key key;
    cr_assert_eq(k->keygen_seed(&key, seed, sizeof seed, ek), CDTLS_OK);
    assert_digest(ek, sizeof ek, kem_strcmp_ek_sha256, "ek", 1);
    cr_assert_eq(k->decaps(&key, c, sizeof c, got), CDTLS_OK, "implicit rejection is not an error");
    cr_assert(memcmp(got, want, 32) == 0);
    k->clear(&key);
}

/* FIPS 203 §7.2: an encapsulation key with a coefficient >= q is refused
 * (Wycheproof CCTV/modulus vectors), and the outputs are wiped. */
Test(kem, modulus_check_refuses_unreduced_keys)
{
    const cdtls_kem_vt *k = need_kem();
    const cdtls_provider *p = prov();
    for (size_t i = 0; i < 3; i++) {
        uint8_t ek[1184], ct[1088], ss[32], m[32];
        cr_assert_eq(unhex(kem_modulus_ek[i], ek, sizeof ek), 1184);
        memset(m, 0x42, sizeof m);
        memset(ct, 0xaa, sizeof ct);
        memset(ss, 0xaa, sizeof ss);
        cr_assert_eq(k->encaps_seed(ek, sizeof ek, m, sizeof m, ct, ss), CDTLS_ERR_BAD_KEY, "vector %zu", i);
        cr_assert(all_zero(ct, sizeof ct) && all_zero(ss, sizeof ss), "outputs not wiped");
        cr_assert_eq(k->encaps(p, ek, sizeof ek, ct, ss), CDTLS_ERR_BAD_KEY);
        cr_assert(all_zero(ss, sizeof ss));
    }
}

Test(kem, wrong_lengths_are_refused)
{
    const cdtls_kem_vt *k = need_kem();
    const cdtls_provider *p = prov();
    uint8_t ek[1185], ct[1089], ss[32], seed[65];
    memset(seed, 7, sizeof seed);
    cdtls_kem_key key;
    cr_assert_eq(k->keygen_seed(&key, seed, 63, ek), CDTLS_ERR_KEY_SIZE);
    cr_assert_eq(k->keygen_seed(&key, seed, 65, ek), CDTLS_ERR_KEY_SIZE);
    cr_assert_eq(k->keygen(p, &key, ek), CDTLS_OK);
    const size_t ek_lens[] = {0, 1, 32, 1183, 1185};
    for (size_t i = 0; i < sizeof ek_lens / sizeof ek_lens[0]; i++) {
        cr_assert_eq(k->encaps(p, ek, ek_lens[i], ct, ss), CDTLS_ERR_BAD_KEY, "ek of %zu bytes", ek_lens[i]);
        cr_assert_eq(k->encaps_seed(ek, ek_lens[i], seed, 32, ct, ss), CDTLS_ERR_BAD_KEY);
    }
    cr_assert_eq(k->encaps_seed(ek, 1184, seed, 31, ct, ss), CDTLS_ERR_KEY_SIZE);
    cr_assert_eq(k->encaps(p, NULL, 1184, ct, ss), CDTLS_ERR_BAD_KEY);
    const size_t ct_lens[] = {0, 1, 1087, 1089};
    for (size_t i = 0; i < sizeof ct_lens / sizeof ct_lens[0]; i++)
        cr_assert_eq(k->decaps(&key, ct, ct_lens[i], ss), CDTLS_ERR_BAD_KEY, "ct of %zu bytes", ct_lens[i]);
    k->clear(&key);
}

/* A ciphertext changed anywhere decapsulates (no error: an error would be an
 * oracle) to a secret other than the encapsulated one, the same one each
 * time (J(z || c) is a function of the ciphertext). */
Test(kem, tampered_ciphertext_gives_another_secret)
{
    const cdtls_kem_vt *k = need_kem();
    const cdtls_provider *p = prov();
    cdtls_kem_key key;
    uint8_t ek[1184], ct[1088], bad[1088], ss[32], got[32], again[32];
    cr_assert_eq(k->keygen(p, &key, ek), CDTLS_OK);
    cr_assert_eq(k->encaps(p, ek, sizeof ek, ct, ss), CDTLS_OK);
    const size_t at[] = {0, 1, 500, 959, 960, 1087}; /* u's bytes, then v's (du = 10: 960 bytes of u) */
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            memcpy(bad, ct, sizeof ct);
            bad[at[i]] ^= (uint8_t)(1u << bit);
            cr_assert_eq(k->decaps(&key, bad, sizeof bad, got), CDTLS_OK, "byte %zu", at[i]);
            cr_assert(memcmp(got, ss, 32) != 0, "byte %zu bit %u: the same secret", at[i], bit);
            cr_assert_eq(k->decaps(&key, bad, sizeof bad, again), CDTLS_OK);
            cr_assert(memcmp(got, again, 32) == 0, "implicit rejection not deterministic");
        }
    }
    cr_assert_eq(k->decaps(&key, ct, sizeof ct, got), CDTLS_OK);
    cr_assert(memcmp(got, ss, 32) == 0);
    k->clear(&key);
}

Test(kem, random_round_trips)
{
    const cdtls_kem_vt *k = need_kem();
    const cdtls_provider *p = prov();
    uint8_t first_ek[1184];
    for (int i = 0; i < 16; i++) {
        cdtls_kem_key key;
        uint8_t ek[1184], ct[1088], s1[32], s2[32];
        cr_assert_eq(k->keygen(p, &key, ek), CDTLS_OK);
        if (i == 0)
            memcpy(first_ek, ek, sizeof ek);
        else
            cr_assert(memcmp(ek, first_ek, sizeof ek) != 0, "two key pairs alike");
        cr_assert_eq(k->encaps(p, ek, sizeof ek, ct, s1), CDTLS_OK);
        cr_assert_eq(k->decaps(&key, ct, sizeof ct, s2), CDTLS_OK);
        cr_assert(memcmp(s1, s2, 32) == 0, "round trip %d", i);
        k->clear(&key);
    }
}

/* -------------------------------------------------------- X25519MLKEM768 */

/* A provider whose random hands out a fixed stream, so a hybrid exchange
 * runs on known inputs. It begins with a cdtls_provider (provider.h). */
typedef struct det_provider {
    cdtls_provider base;
    uint8_t stream[128];
    size_t len, pos;
} det_provider;

static int det_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    det_provider *d = (det_provider *)(void *)(uintptr_t)self;
    if (len > d->len - d->pos) return CDTLS_ERR_RANDOM;
    memcpy(out, d->stream + d->pos, len);
    d->pos += len;
    return CDTLS_OK;
}

static void det_init(det_provider *d, const char *hex_a, const char *hex_b)
{
    memset(d, 0, sizeof *d);
    d->base = *prov();
    d->base.random = det_random;
    size_t a = unhex(hex_a, d->stream, sizeof d->stream);
    d->len = a + unhex(hex_b, d->stream + a, sizeof d->stream - a);
}

/* RFC 7748 §6.1 */
static const char x_alice_priv[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char x_alice_pub[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char x_bob_priv[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char x_bob_pub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char x_shared[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/* The composition, by known answers: with the client's random = ML-KEM
 * d || z then Alice's scalar and the server's = m then Bob's scalar, the
 * client share is ek || Alice's public, the server share c || Bob's public
 * and the secret K || X25519(Alice, Bob): ML-KEM first everywhere
 * (draft-ietf-tls-ecdhe-mlkem §3). */
Test(hybrid, known_answer_composition)
{
    need_kem();
    const kem_kat *v = &kem_kats[0];
    static det_provider cli, srv;
    det_init(&cli, v->seed, x_alice_priv);
    det_init(&srv, v->m, x_bob_priv);
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k_srv[64], k_cli[64], want[64];
    size_t cn = 0, sn = 0;
    cr_assert_eq(hybrid_client_keygen(&c, &cli.base, cs, sizeof cs, &cn), CDTLS_OK);
    cr_assert_eq(cn, 1216);
    cr_assert_eq(cli.pos, cli.len, "the client drew %zu of %zu random bytes", cli.pos, cli.len);
    assert_digest(cs, 1184, v->ek_sha256, "client share's ML-KEM half", v->tc_id);
    cr_assert_eq(unhex(x_alice_pub, want, 32), 32);
    cr_assert(memcmp(cs + 1184, want, 32) == 0, "client share's X25519 half");

    cr_assert_eq(hybrid_server_respond(&srv.base, cs, cn, ss, sizeof ss, &sn, k_srv, sizeof k_srv), CDTLS_OK);
    cr_assert_eq(sn, 1120);
    cr_assert_eq(srv.pos, srv.len);
    assert_digest(ss, 1088, v->c_sha256, "server share's ciphertext", v->tc_id);
    cr_assert_eq(unhex(x_bob_pub, want, 32), 32);
    cr_assert(memcmp(ss + 1088, want, 32) == 0, "server share's X25519 half");

    cr_assert_eq(unhex(v->k, want, 32), 32);
    cr_assert_eq(unhex(x_shared, want + 32, 32), 32);
    cr_assert(memcmp(k_srv, want, 64) == 0, "server secret is not K || X25519");
    cr_assert_eq(hybrid_client_finish(&c, ss, sn, k_cli, sizeof k_cli), CDTLS_OK);
    cr_assert(memcmp(k_cli, want, 64) == 0, "client secret is not K || X25519");
    hybrid_client_clear(&c);
}

Test(hybrid, client_server_round_trips)
{
    need_kem();
    const cdtls_provider *p = prov();
    uint8_t prev[64] = {0};
    for (int i = 0; i < 8; i++) {
        hybrid_client c;
        uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k1[64], k2[64];
        size_t cn, sn;
        cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs, &cn), CDTLS_OK);
        cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k1, sizeof k1), CDTLS_OK);
        cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_OK);
        cr_assert(memcmp(k1, k2, 64) == 0, "exchange %d: secrets differ", i);
        cr_assert(memcmp(k1, prev, 64) != 0, "exchange %d: the previous secret again", i);
        memcpy(prev, k1, 64);
        /* a retransmitted ServerHello: the same secret */
        cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_OK);
        cr_assert(memcmp(k1, k2, 64) == 0);
        hybrid_client_clear(&c);
        cr_assert(all_zero((const uint8_t *)&c, sizeof c), "clear left bytes");
        cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_ERR_BAD_STATE);
    }
}

/* Every length of client key_exchange but 1216 is refused with
 * illegal_parameter, before any crypto, and nothing is written. */
Test(hybrid, client_share_of_every_wrong_length)
{
    need_kem();
    const cdtls_provider *p = prov();
    hybrid_client c;
    static uint8_t cs[1400];
    size_t cn;
    cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs, &cn), CDTLS_OK);
    memset(cs + cn, 0x11, sizeof cs - cn);
    uint8_t ss[HYBRID_SERVER_SHARE_LEN], k[64];
    for (size_t len = 0; len <= sizeof cs; len++) {
        if (len == HYBRID_CLIENT_SHARE_LEN) continue;
        size_t sn = 99;
        memset(k, 0xee, sizeof k);
        cr_assert_eq(hybrid_server_respond(p, cs, len, ss, sizeof ss, &sn, k, sizeof k),
                     CDTLS_ERR_ILLEGAL_PARAMETER, "client share of %zu bytes", len);
        cr_assert_eq(sn, 0);
    }
    size_t sn;
    cr_assert_eq(hybrid_server_respond(p, NULL, 0, ss, sizeof ss, &sn, k, sizeof k),
                 CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k, sizeof k), CDTLS_OK);
    hybrid_client_clear(&c);
}

/* Every length of server key_exchange but 1120 likewise; the client's keys
 * survive the refusals and the right share still completes. */
Test(hybrid, server_share_of_every_wrong_length)
{
    need_kem();
    const cdtls_provider *p = prov();
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], k1[64], k2[64];
    static uint8_t ss[1400];
    size_t cn, sn;
    cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs, &cn), CDTLS_OK);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k1, sizeof k1), CDTLS_OK);
    memset(ss + sn, 0x22, sizeof ss - sn);
    for (size_t len = 0; len <= sizeof ss; len++) {
        if (len == HYBRID_SERVER_SHARE_LEN) continue;
        memset(k2, 0xee, sizeof k2);
        cr_assert_eq(hybrid_client_finish(&c, ss, len, k2, sizeof k2), CDTLS_ERR_ILLEGAL_PARAMETER,
                     "server share of %zu bytes", len);
    }
    cr_assert_eq(hybrid_client_finish(&c, NULL, 0, k2, sizeof k2), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_OK);
    cr_assert(memcmp(k1, k2, 64) == 0);
    hybrid_client_clear(&c);
}

/* An encapsulation key failing FIPS 203 §7.2: illegal_parameter (the
 * draft), with the server's outputs wiped. */
Test(hybrid, unreduced_encapsulation_key_is_illegal_parameter)
{
    need_kem();
    const cdtls_provider *p = prov();
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k[64];
    size_t sn = 5;
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(unhex(kem_modulus_ek[i], cs, 1184), 1184);
        cr_assert_eq(unhex(x_alice_pub, cs + 1184, 32), 32);
        memset(ss, 0x33, sizeof ss);
        memset(k, 0x33, sizeof k);
        cr_assert_eq(hybrid_server_respond(p, cs, sizeof cs, ss, sizeof ss, &sn, k, sizeof k),
                     CDTLS_ERR_ILLEGAL_PARAMETER);
        cr_assert_eq(sn, 0);
        cr_assert(all_zero(ss, sizeof ss) && all_zero(k, sizeof k), "outputs not wiped");
    }
}

/* An X25519 half that is a small-order point gives the all-zero X25519
 * secret (RFC 7748 §6.1): illegal_parameter on either side. */
Test(hybrid, small_order_x25519_half_is_illegal_parameter)
{
    need_kem();
    const cdtls_provider *p = prov();
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k[64];
    size_t cn, sn;
    cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs, &cn), CDTLS_OK);
    uint8_t good_x[32];
    memcpy(good_x, cs + 1184, 32);
    memset(cs + 1184, 0, 32); /* u = 0 */
    memset(k, 0x44, sizeof k);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k, sizeof k),
                 CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert(all_zero(k, sizeof k) && all_zero(ss, sizeof ss));
    memcpy(cs + 1184, good_x, 32);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k, sizeof k), CDTLS_OK);
    memset(ss + 1088, 0, 32);
    ss[1088] = 1; /* u = 1, order 1 */
    uint8_t k2[64];
    cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_ERR_ILLEGAL_PARAMETER);
    cr_assert(all_zero(k2, sizeof k2));
    hybrid_client_clear(&c);
}

/* A ciphertext tampered with on the way: the client gets no error (FIPS 203
 * implicit rejection) but an ML-KEM half unlike the server's, so the
 * handshake fails at Finished; the X25519 half is untouched. */
Test(hybrid, tampered_ciphertext_is_implicitly_rejected)
{
    need_kem();
    const cdtls_provider *p = prov();
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k1[64], k2[64];
    size_t cn, sn;
    cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs, &cn), CDTLS_OK);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k1, sizeof k1), CDTLS_OK);
    const size_t at[] = {0, 700, 1087};
    for (size_t i = 0; i < 3; i++) {
        ss[at[i]] ^= 0x80;
        cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_OK);
        cr_assert(memcmp(k1, k2, 32) != 0, "tampered byte %zu: same ML-KEM secret", at[i]);
        cr_assert(memcmp(k1 + 32, k2 + 32, 32) == 0, "the X25519 half changed");
        ss[at[i]] ^= 0x80;
    }
    /* the X25519 public changed instead: that half differs */
    ss[1100] ^= 0x01;
    cr_assert_eq(hybrid_client_finish(&c, ss, sn, k2, sizeof k2), CDTLS_OK);
    cr_assert(memcmp(k1, k2, 32) == 0 && memcmp(k1 + 32, k2 + 32, 32) != 0);
    hybrid_client_clear(&c);
}

Test(hybrid, small_buffers_and_bad_arguments)
{
    need_kem();
    const cdtls_provider *p = prov();
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k[64];
    size_t cn, sn;
    cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs - 1, &cn), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(hybrid_client_keygen(NULL, p, cs, sizeof cs, &cn), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(hybrid_client_keygen(&c, NULL, cs, sizeof cs, &cn), CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(hybrid_client_keygen(&c, p, cs, sizeof cs, &cn), CDTLS_OK);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss - 1, &sn, k, sizeof k),
                 CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k, 63), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k, sizeof k), CDTLS_OK);
    cr_assert_eq(hybrid_client_finish(&c, ss, sn, k, 63), CDTLS_ERR_BUFFER_TOO_SMALL);
    hybrid_client_clear(&c);
    hybrid_client_clear(NULL);
}

/* The random source failing half way: an error, and nothing half-made left. */
Test(hybrid, random_failure_leaves_nothing)
{
    need_kem();
    static det_provider d;
    det_init(&d, kem_kats[0].seed, ""); /* d || z, then no X25519 scalar */
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN];
    size_t cn = 7;
    cr_assert_eq(hybrid_client_keygen(&c, &d.base, cs, sizeof cs, &cn), CDTLS_ERR_RANDOM);
    cr_assert_eq(cn, 0);
    cr_assert(all_zero((const uint8_t *)&c, sizeof c), "a failed keygen left key bytes");
    cr_assert(all_zero(cs, sizeof cs), "a failed keygen left a share");
}
