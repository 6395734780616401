/* cdtls_provider_combine: which provider each entry of a combined table
 * comes from, that the combined table passes the known-answer self-test,
 * that signing keys stay with the provider that made them, and full
 * certificate handshakes (ECDHE-ECDSA over P-256) with a combined table on
 * either side.
 *
 * The table borrowed from: in native builds of the bearssl and sodium
 * providers the test binary also links the libcrypto provider
 * (CDTLS_TEST_OPENSSL, build.zig), and the combination is the real use case:
 * the build's provider for everything but P-256 key exchange and ECDSA,
 * which come from libcrypto. Elsewhere (the openssl build, cross builds) the
 * build's own provider is split into two disjoint tables and put back
 * together, which exercises the same rules. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/provider.h"
#include "cdtls/suites.h"
#include "cdtls/x509.h"
#include "sim_link.h"

/* The lender: P-256 key exchange and the ECDSA schemes, with the signing
 * key functions, and nothing else. */
static cdtls_provider lender_table(void)
{
#ifdef CDTLS_TEST_OPENSSL
    const cdtls_provider *src = cdtls_provider_openssl();
#else
    const cdtls_provider *src = cdtls_provider_default();
#endif
    cdtls_provider t;
    memset(&t, 0, sizeof t);
    t.abi_version = CDTLS_PROVIDER_ABI_VERSION;
    t.name = "lender";
    t.kx[CDTLS_GROUP_SECP256R1] = src->kx[CDTLS_GROUP_SECP256R1];
    for (int i = CDTLS_SIG_ECDSA_SHA256; i <= CDTLS_SIG_ECDSA_SHA512; i++) t.sig[i] = src->sig[i];
    t.sign_key_new = src->sign_key_new;
    t.sign_key_generate = src->sign_key_generate;
    t.sign_key_public = src->sign_key_public;
    t.sign_key_free = src->sign_key_free;
    return t;
}

/* The borrower: the build's provider, without what the lender gives when
 * the lender is the same library (so that each entry has exactly one source). */
static cdtls_provider borrower_table(void)
{
    cdtls_provider t = *cdtls_provider_default();
#ifndef CDTLS_TEST_OPENSSL
    t.kx[CDTLS_GROUP_SECP256R1] = NULL;
    for (int i = CDTLS_SIG_ECDSA_SHA256; i <= CDTLS_SIG_ECDSA_SHA512; i++) t.sig[i] = NULL;
#endif
    t.name = "borrower";
    return t;
}

static cdtls_provider lender, borrower;
static cdtls_provider_combined combined;

static const cdtls_provider *combine(void)
{
    lender = lender_table();
    borrower = borrower_table();
    const cdtls_provider *list[2] = {&lender, &borrower};
    cr_assert_eq(cdtls_provider_combine(&combined, "lender+borrower", list, 2), CDTLS_OK);
    return &combined.provider;
}

static void need_p256(void)
{
    if (!lender_table().kx[CDTLS_GROUP_SECP256R1] || !lender_table().sig[CDTLS_SIG_ECDSA_SHA256])
        cr_skip_test("no P-256/ECDSA to borrow in this build");
}

Test(provider_combine, each_entry_from_the_first_provider_that_has_it)
{
    const cdtls_provider *c = combine();
    cr_assert_str_eq(c->name, "lender+borrower");
    cr_assert_eq(c->abi_version, CDTLS_PROVIDER_ABI_VERSION);
    for (int i = 0; i < CDTLS_HASH__COUNT; i++) {
        cr_assert_eq(c->hash[i], borrower.hash[i]);
        cr_assert_eq(c->hmac[i], borrower.hmac[i]);
    }
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++) cr_assert_eq(c->aead[i], borrower.aead[i]);
    for (int i = 0; i < CDTLS_CBC__COUNT; i++) cr_assert_eq(c->cbc[i], borrower.cbc[i]);
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++)
        cr_assert_eq(c->kx[i], lender.kx[i] ? lender.kx[i] : borrower.kx[i], "group %d", i);
    for (int i = 0; i < CDTLS_SIG__COUNT; i++) {
        const cdtls_sig_vt *want = lender.sig[i] ? lender.sig[i] : borrower.sig[i];
        if (!want) {
            cr_assert_null(c->sig[i]);
            continue;
        }
        /* verify is the first provider's; sign dispatches on the key */
        cr_assert_not_null(c->sig[i]);
        cr_assert_eq(c->sig[i]->verify, want->verify);
        cr_assert_eq(c->sig[i]->tls_id, want->tls_id);
        cr_assert_eq(c->sig[i]->key_types, want->key_types);
    }
    cr_assert_not_null(c->random);
    /* bad lists */
    const cdtls_provider *bad[2] = {&lender, NULL};
    cdtls_provider_combined o;
    cr_assert_eq(cdtls_provider_combine(&o, NULL, bad, 2), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_provider_combine(&o, NULL, bad, 0), CDTLS_ERR_INVALID_ARG);
    cdtls_provider old = lender;
    old.abi_version = 0;
    const cdtls_provider *wrong[1] = {&old};
    cr_assert_eq(cdtls_provider_combine(&o, NULL, wrong, 1), CDTLS_ERR_INVALID_ARG);
}

/* A caller-made provider with state: random() must receive it as self. */
typedef struct counting_provider {
    cdtls_provider base;
    unsigned calls;
    const cdtls_provider *real;
} counting_provider;

static int counting_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    counting_provider *cp = (counting_provider *)(uintptr_t)self;
    cp->calls++;
    return cp->real->random(cp->real, out, len);
}

Test(provider_combine, random_goes_to_the_first_random_with_its_own_self)
{
    counting_provider cp;
    memset(&cp, 0, sizeof cp);
    cp.base.abi_version = CDTLS_PROVIDER_ABI_VERSION;
    cp.base.name = "counting";
    cp.base.random = counting_random;
    cp.real = cdtls_provider_default();
    const cdtls_provider *list[2] = {&cp.base, cdtls_provider_default()};
    cdtls_provider_combined c;
    cr_assert_eq(cdtls_provider_combine(&c, NULL, list, 2), CDTLS_OK);
    cr_assert_str_eq(c.provider.name, "combined");
    uint8_t buf[16];
    cr_assert_eq(c.provider.random(&c.provider, buf, sizeof buf), CDTLS_OK);
    cr_assert_eq(cp.calls, 1);
    /* key generation through the combined table draws from it too */
    const cdtls_kx_vt *kx = c.provider.kx[CDTLS_GROUP_X25519];
    if (kx) {
        cdtls_kx_key k;
        uint8_t pub[CDTLS_KX_MAX_PUBLIC];
        cr_assert_eq(kx->keygen(&c.provider, &k, pub), CDTLS_OK);
        kx->clear(&k);
        cr_assert_eq(cp.calls, 2);
    }
}

Test(provider_combine, selftest_passes)
{
    const cdtls_provider *c = combine();
    cr_assert_eq(cdtls_provider_selftest(c, NULL, NULL), CDTLS_OK);
}

/* Keys made through the combined table belong to the provider that can sign
 * with their type; a signature made by one provider verifies with the
 * other's code (and ECDH agrees across the two). */
Test(provider_combine, signing_keys_stay_with_their_provider)
{
    need_p256();
    const cdtls_provider *c = combine();
    const cdtls_allocator *a = cdtls_allocator_libc();
    cdtls_sign_key *key = NULL;
    cr_assert_eq(c->sign_key_generate(c, a, CDTLS_KEY_EC_P256, &key), CDTLS_OK);
    cdtls_public_key pub;
    cr_assert_eq(c->sign_key_public(key, &pub), CDTLS_OK);
    cr_assert_eq(pub.type, CDTLS_KEY_EC_P256);
    cr_assert_eq(pub.data_len, 65);
    static const uint8_t msg[] = "signed by the lender, verified by either";
    uint8_t sig[CDTLS_SIG_MAX_LEN];
    size_t sig_len = sizeof sig;
    cr_assert_eq(c->sig[CDTLS_SIG_ECDSA_SHA256]->sign(c, key, msg, sizeof msg, sig, &sig_len), CDTLS_OK);
    cr_assert_eq(lender.sig[CDTLS_SIG_ECDSA_SHA256]->verify(&pub, msg, sizeof msg, sig, sig_len), CDTLS_OK);
    const cdtls_sig_vt *other = cdtls_provider_default()->sig[CDTLS_SIG_ECDSA_SHA256];
    if (other) cr_assert_eq(other->verify(&pub, msg, sizeof msg, sig, sig_len), CDTLS_OK);
    sig[sig_len / 2] ^= 1;
    cr_assert_eq(c->sig[CDTLS_SIG_ECDSA_SHA256]->verify(&pub, msg, sizeof msg, sig, sig_len),
                 CDTLS_ERR_SIGNATURE);
    c->sign_key_free(a, key);

    /* a key type the lender cannot sign with goes to the borrower (or is
     * refused when neither can) */
    cdtls_sign_key *ed = NULL;
    int rc = c->sign_key_generate(c, a, CDTLS_KEY_ED25519, &ed);
    if (borrower.sig[CDTLS_SIG_ED25519]) {
        cr_assert_eq(rc, CDTLS_OK);
        sig_len = sizeof sig;
        cr_assert_eq(c->sig[CDTLS_SIG_ED25519]->sign(c, ed, msg, sizeof msg, sig, &sig_len), CDTLS_OK);
        cr_assert_eq(c->sign_key_public(ed, &pub), CDTLS_OK);
        cr_assert_eq(borrower.sig[CDTLS_SIG_ED25519]->verify(&pub, msg, sizeof msg, sig, sig_len), CDTLS_OK);
        c->sign_key_free(a, ed);
    } else {
        cr_assert_eq(rc, CDTLS_ERR_UNSUPPORTED);
    }

    /* P-256 ECDH: the lender's key against the build provider's agrees */
    const cdtls_kx_vt *mine = cdtls_provider_default()->kx[CDTLS_GROUP_SECP256R1];
    if (mine) {
        const cdtls_kx_vt *theirs = c->kx[CDTLS_GROUP_SECP256R1];
        cdtls_kx_key k1, k2;
        uint8_t p1[65], p2[65], s1[32], s2[32];
        cr_assert_eq(theirs->keygen(c, &k1, p1), CDTLS_OK);
        cr_assert_eq(mine->keygen(cdtls_provider_default(), &k2, p2), CDTLS_OK);
        cr_assert_eq(theirs->derive(&k1, p2, 65, s1), CDTLS_OK);
        cr_assert_eq(mine->derive(&k2, p1, 65, s2), CDTLS_OK);
        cr_assert_arr_eq(s1, s2, 32);
        theirs->clear(&k1);
        mine->clear(&k2);
    }
}

/* ECDHE-ECDSA over P-256 with a self-signed certificate pinned by its
 * fingerprint; the combined table on the server (combined_server) or the
 * client side, the build's provider (if it can) on the other. */
static void handshake(int combined_server, uint16_t suite)
{
    need_p256();
    const cdtls_provider *c = combine();
    if (!cdtls_cipher_suite_supported(c, suite))
        cr_skip_test("%s not in this build", cdtls_cipher_suite_name(suite));
    /* the other side: the build's provider, or (sodium: no P-256, no ECDSA)
     * the combined table too, a sodium build speaking ECDSA by borrowing */
    const cdtls_provider *d = cdtls_provider_default();
    const cdtls_provider *other = d->sig[CDTLS_SIG_ECDSA_SHA256] && d->kx[CDTLS_GROUP_SECP256R1] ? d : c;
    const cdtls_provider *sp = combined_server ? c : other;
    const cdtls_provider *cp = combined_server ? other : c;
    uint8_t der[CDTLS_X509_SELFSIGN_MAX], pin[32];
    size_t n;
    cdtls_sign_key *key = NULL;
    const int64_t nb = 1767225600; /* 2026-01-01 */
    cr_assert_eq(cdtls_x509_selfsign(sp, NULL, "borrow.example", nb, 30, der, sizeof der, &n, &key),
                 CDTLS_OK);
    cdtls_x509_cert cert;
    cr_assert_eq(cdtls_x509_parse(der, n, &cert), CDTLS_OK);
    cr_assert_eq(cert.key.type, CDTLS_KEY_EC_P256);
    cr_assert_eq(cdtls_x509_fingerprint_sha256(cp, &cert, pin), CDTLS_OK);
    const uint8_t *chain[1] = {der};
    size_t lens[1] = {n};
    static const uint16_t p256[1] = {23};
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    cc.provider = cp, sc.provider = sp;
    sc.credentials.chain = chain, sc.credentials.chain_len = lens, sc.credentials.n_certs = 1,
    sc.credentials.private_key = key;
    cc.verify.pinned_sha256 = pin, cc.verify.n_pins = 1;
    cc.negotiate.cipher_suites = &suite, cc.negotiate.n_cipher_suites = 1;
    cc.negotiate.groups = p256, cc.negotiate.n_groups = 1;
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000), "client %s, server %s",
              cdtls_strerror(cdtls_conn_error(s.client)), cdtls_strerror(cdtls_conn_error(s.server)));
    cr_assert_eq(cdtls_conn_cipher_suite(s.client), suite);
    cr_assert(sim_exchange(&s, 1), "a record each way");
    sim_free(&s);
    sp->sign_key_free(cdtls_allocator_libc(), key);
}

Test(provider_combine, combined_server_ecdsa_p256_aes_128_gcm)
{
    handshake(1, CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
}

Test(provider_combine, combined_client_ecdsa_p256_chacha20)
{
    handshake(0, CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
}
