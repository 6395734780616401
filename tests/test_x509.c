/* X.509 parsing and validation on real certificates made with the openssl
 * command line at test time (tests/x509/make-certs.sh): EC P-256/P-384,
 * RSA (PKCS#1 v1.5 and PSS signatures), Ed25519, a depth-3 chain; and the
 * rejections, each with its own error code. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "cdtls/io.h"
#include "cdtls/x509.h"

#ifndef CDTLS_SOURCE_DIR
#error "the build passes -DCDTLS_SOURCE_DIR"
#endif

static char dir[64];
static uint8_t bufs[16][4096];
static size_t n_bufs;

static void make_certs(void)
{
    test_certs_make(dir, sizeof dir, "x509");
    n_bufs = 0;
}

static void remove_certs(void)
{
    test_certs_remove(dir);
}

/* Loads and parses NAME.der; the DER stays in a static buffer. */
static cdtls_x509_cert load(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s.der", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "missing %s", path);
    cr_assert(n_bufs < 16);
    uint8_t *b = bufs[n_bufs++];
    size_t n = fread(b, 1, sizeof bufs[0], f);
    fclose(f);
    cdtls_x509_cert c;
    int rc = cdtls_x509_parse(b, n, &c);
    cr_assert_eq(rc, CDTLS_OK, "%s: %s", name, cdtls_strerror(rc));
    return c;
}

static const cdtls_provider *P(void)
{
    return cdtls_provider_default();
}

static int64_t NOW(const cdtls_x509_cert *c)
{
    return c->not_before + 3600;
}

static void need(cdtls_sig_alg a)
{
    if (!P()->sig[a]) cr_skip_test("%s not in provider %s", cdtls_sig_name(a), P()->name);
}

TestSuite(x509, .init = make_certs, .fini = remove_certs, .timeout = 60);

Test(x509, parses_fields_of_a_real_ec_leaf)
{
    cdtls_x509_cert leaf = load("leaf");
    cr_assert_eq(leaf.version, 3);
    cr_assert_eq(leaf.key.type, CDTLS_KEY_EC_P256);
    cr_assert_eq(leaf.key.data_len, 65);
    cr_assert_eq(leaf.sig_alg, CDTLS_SIG_ECDSA_SHA256);
    cr_assert(leaf.not_after > leaf.not_before);
    cr_assert(leaf.not_after - leaf.not_before >= 364 * 86400);
    cr_assert(leaf.has_basic_constraints && !leaf.is_ca);
    cr_assert(leaf.has_key_usage && (leaf.key_usage & CDTLS_KU_DIGITAL_SIGNATURE));
    cr_assert(leaf.has_ext_key_usage && leaf.ext_key_usage == CDTLS_EKU_SERVER_AUTH);
    cr_assert_not_null(leaf.san);
    cdtls_x509_cert in = load("int");
    cr_assert(in.is_ca && in.path_len == 0 && (in.key_usage & CDTLS_KU_KEY_CERT_SIGN));
    cr_assert_eq(leaf.issuer_len, in.subject_len);
    cr_assert_eq(memcmp(leaf.issuer, in.subject, in.subject_len), 0);
    cdtls_x509_cert rsa = load("rsaleaf");
    cr_assert_eq(rsa.key.type, CDTLS_KEY_RSA);
    cr_assert_eq(rsa.key.data_len, 256);
    cr_assert_eq(rsa.sig_alg, CDTLS_SIG_RSA_PKCS1_SHA256);
    cr_assert_eq(load("rsapss").sig_alg, CDTLS_SIG_RSA_PSS_RSAE_SHA256);
    cdtls_x509_cert ed = load("ed");
    cr_assert_eq(ed.key.type, CDTLS_KEY_ED25519);
    cr_assert_eq(ed.sig_alg, CDTLS_SIG_ED25519);
    cdtls_x509_cert p384 = load("p384");
    cr_assert_eq(p384.key.type, CDTLS_KEY_EC_P384);
    cr_assert_eq(p384.sig_alg, CDTLS_SIG_ECDSA_SHA384);
}

Test(x509, depth_three_chain_and_host_names)
{
    need(CDTLS_SIG_ECDSA_SHA256);
    cdtls_x509_cert chain[2] = {load("leaf"), load("int")}, root = load("root");
    int64_t now = NOW(&chain[0]);
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, "server.example.com",
                                         CDTLS_X509_PURPOSE_SERVER),
                 CDTLS_OK);
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, "SERVER.Example.COM.",
                                         CDTLS_X509_PURPOSE_SERVER),
                 CDTLS_OK);
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, "a.wild.example.com",
                                         CDTLS_X509_PURPOSE_SERVER),
                 CDTLS_OK);
    cr_assert_eq(
        cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, "127.0.0.1", CDTLS_X509_PURPOSE_SERVER),
        CDTLS_OK);
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, "::1", CDTLS_X509_PURPOSE_SERVER),
                 CDTLS_OK);
    /* wildcard: one label only; not the bare parent; other hosts; IP not in SAN */
    static const char *const wrong[] = {"a.b.wild.example.com", "wild.example.com",
                                        "other.example.com",    "127.0.0.2",
                                        "example.com",          "server.example.com.evil"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        cr_assert_eq(
            cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, wrong[i], CDTLS_X509_PURPOSE_SERVER),
            CDTLS_ERR_CERT_HOSTNAME, "%s", wrong[i]);
    /* no host: chain only */
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, now, NULL, CDTLS_X509_PURPOSE_ANY),
                 CDTLS_OK);
}

Test(x509, rejections_have_distinct_codes)
{
    need(CDTLS_SIG_ECDSA_SHA256);
    cdtls_x509_cert chain[2] = {load("leaf"), load("int")}, root = load("root"), other = load("otherroot");
    int64_t now = NOW(&chain[0]);
    /* expired / not yet valid */
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, chain[0].not_after + 1, NULL, 0),
                 CDTLS_ERR_CERT_EXPIRED);
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, chain[0].not_before - 1, NULL, 0),
                 CDTLS_ERR_CERT_NOT_YET_VALID);
    /* wrong CA: same name, other key */
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &other, 1, now, NULL, 0), CDTLS_ERR_CERT_UNTRUSTED);
    /* missing intermediate */
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 1, &root, 1, now, NULL, 0), CDTLS_ERR_CERT_UNTRUSTED);
    /* bad signature: one flipped bit in the leaf's signature */
    static uint8_t copy[4096];
    memcpy(copy, chain[0].der, chain[0].der_len);
    copy[chain[0].der_len - 5] ^= 0x01;
    cdtls_x509_cert bad;
    cr_assert_eq(cdtls_x509_parse(copy, chain[0].der_len, &bad), CDTLS_OK);
    cdtls_x509_cert badchain[2] = {bad, chain[1]};
    cr_assert_eq(cdtls_x509_verify_chain(P(), badchain, 2, &root, 1, now, NULL, 0), CDTLS_ERR_CERT_SIGNATURE);
    /* a CA:false certificate used as an intermediate */
    cdtls_x509_cert nc[2] = {load("undernotca"), load("notca")};
    cr_assert_eq(cdtls_x509_verify_chain(P(), nc, 2, &root, 1, now, NULL, 0), CDTLS_ERR_CERT_NOT_CA);
    /* path length: the pathlen-0 intermediate may not have a CA below it */
    cdtls_x509_cert deep[3] = {load("undersub"), load("sub"), chain[1]};
    cr_assert_eq(cdtls_x509_verify_chain(P(), deep, 3, &root, 1, now, NULL, 0), CDTLS_ERR_CERT_PATHLEN);
    /* wrong purpose: a clientAuth-only leaf presented by a server */
    cdtls_x509_cert co[2] = {load("clientonly"), chain[1]};
    cr_assert_eq(cdtls_x509_verify_chain(P(), co, 2, &root, 1, now, NULL, CDTLS_X509_PURPOSE_SERVER),
                 CDTLS_ERR_CERT_USAGE);
    cr_assert_eq(cdtls_x509_verify_chain(P(), co, 2, &root, 1, now, NULL, CDTLS_X509_PURPOSE_CLIENT),
                 CDTLS_OK);
}

Test(x509, rsa_pss_p384_and_ed25519)
{
    if (P()->sig[CDTLS_SIG_RSA_PKCS1_SHA256]) {
        cdtls_x509_cert rsaroot = load("rsaroot"), l1 = load("rsaleaf"), l2 = load("rsapss");
        cr_assert_eq(cdtls_x509_verify_chain(P(), &l1, 1, &rsaroot, 1, NOW(&l1), "rsa.example.com", 0),
                     CDTLS_OK);
        cr_assert_eq(cdtls_x509_verify_chain(P(), &l2, 1, &rsaroot, 1, NOW(&l2), "rsa.example.com", 0),
                     CDTLS_OK);
        cdtls_x509_cert root = load("root"), p384 = load("p384");
        cr_assert_eq(cdtls_x509_verify_chain(P(), &p384, 1, &root, 1, NOW(&p384), "p384.example.com", 0),
                     CDTLS_OK);
    }
    if (P()->sig[CDTLS_SIG_ED25519]) {
        /* a self-signed certificate trusted as its own anchor (pinning) */
        cdtls_x509_cert ed = load("ed");
        cr_assert_eq(cdtls_x509_verify_chain(P(), &ed, 1, &ed, 1, NOW(&ed), "ed.example.com", 0), CDTLS_OK);
    }
    if (!P()->sig[CDTLS_SIG_RSA_PKCS1_SHA256] && !P()->sig[CDTLS_SIG_ED25519])
        cr_skip_test("no RSA or Ed25519 in %s", P()->name);
}

Test(x509, unsupported_signature_algorithm_is_reported)
{
    if (P()->sig[CDTLS_SIG_ECDSA_SHA256]) cr_skip_test("provider has ECDSA");
    cdtls_x509_cert chain[2] = {load("leaf"), load("int")}, root = load("root");
    cr_assert_eq(cdtls_x509_verify_chain(P(), chain, 2, &root, 1, NOW(&chain[0]), NULL, 0),
                 CDTLS_ERR_UNSUPPORTED);
}

Test(x509, malformed_der_is_rejected_without_crashing)
{
    cdtls_x509_cert leaf = load("leaf"), c;
    static uint8_t b[4096];
    /* every truncation */
    for (size_t cut = 0; cut < leaf.der_len; cut++)
        cr_assert_neq(cdtls_x509_parse(leaf.der, cut, &c), CDTLS_OK, "cut %zu", cut);
    /* a trailing byte */
    memcpy(b, leaf.der, leaf.der_len);
    b[leaf.der_len] = 0;
    cr_assert_eq(cdtls_x509_parse(b, leaf.der_len + 1, &c), CDTLS_ERR_DER);
    /* every byte flipped: parse or refuse, never crash (ASan checks reads) */
    for (size_t at = 0; at < leaf.der_len; at++) {
        memcpy(b, leaf.der, leaf.der_len);
        b[at] ^= 0xff;
        (void)cdtls_x509_parse(b, leaf.der_len, &c);
    }
    /* an indefinite length and a non-minimal length */
    static const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
    static const uint8_t nonminimal[] = {0x30, 0x81, 0x01, 0x00};
    cr_assert_eq(cdtls_x509_parse(indefinite, sizeof indefinite, &c), CDTLS_ERR_DER);
    cr_assert_eq(cdtls_x509_parse(nonminimal, sizeof nonminimal, &c), CDTLS_ERR_DER);
}

Test(x509, fingerprint)
{
    cdtls_x509_cert leaf = load("leaf");
    uint8_t fp[32];
    cr_assert_eq(cdtls_x509_fingerprint_sha256(P(), &leaf, fp), CDTLS_OK);
    /* the same as openssl's */
    if (!test_have_shell()) cr_skip_test("no openssl command here to compare with");
    char cmd[256], line[256];
    snprintf(cmd, sizeof cmd, "openssl x509 -inform DER -in %s/leaf.der -noout -fingerprint -sha256", dir);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    pclose(f);
    char mine[128] = {0};
    for (int i = 0; i < 32; i++) snprintf(mine + 3 * i, 4, "%02X%s", fp[i], i < 31 ? ":" : "");
    cr_assert(strstr(line, mine) != NULL, "openssl: %s mine: %s", line, mine);
}

static size_t read_file(const char *name, char *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "missing %s", path);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

Test(x509, pem_certificates_and_chains)
{
    static char pem[16384];
    static uint8_t der[8192];
    size_t n = read_file("chain.pem", pem, sizeof pem), dl, used = 0, off = 0;
    cdtls_x509_cert leaf = load("leaf"), in = load("int");
    cr_assert_eq(cdtls_pem_decode(pem, n, "CERTIFICATE", der, sizeof der, &dl, &used), CDTLS_OK);
    cr_assert(dl == leaf.der_len && memcmp(der, leaf.der, dl) == 0, "first block is the leaf, byte for byte");
    off += used;
    cr_assert_eq(cdtls_pem_decode(pem + off, n - off, "CERTIFICATE", der, sizeof der, &dl, &used), CDTLS_OK);
    cr_assert(dl == in.der_len && memcmp(der, in.der, dl) == 0);
    off += used;
    cr_assert_eq(cdtls_pem_decode(pem + off, n - off, "CERTIFICATE", der, sizeof der, &dl, &used),
                 CDTLS_ERR_DECODE);
    /* broken base64, missing END, other label */
    static char bad[16384];
    memcpy(bad, pem, n);
    char *b64 = strstr(bad, "-----\n") + 6;
    b64[3] = '!';
    cr_assert_eq(cdtls_pem_decode(bad, n, "CERTIFICATE", der, sizeof der, &dl, NULL), CDTLS_ERR_PEM);
    cr_assert_eq(cdtls_pem_decode(pem, n / 3, "CERTIFICATE", der, sizeof der, &dl, NULL), CDTLS_ERR_PEM);
    cr_assert_eq(cdtls_pem_decode(pem, n, "PRIVATE KEY", der, sizeof der, &dl, NULL), CDTLS_ERR_DECODE);
    cr_assert_eq(cdtls_pem_decode(pem, n, NULL, der, 10, &dl, NULL), CDTLS_ERR_BUFFER_TOO_SMALL);
}

/* A loaded key signs; the certificate's public key verifies: the key matches. */
static void key_matches_cert(const char *keyfile, const char *certname, cdtls_sig_alg alg)
{
    const cdtls_provider *p = P();
    if (!p->sig[alg]) return;
    static char buf[16384];
    size_t n = read_file(keyfile, buf, sizeof buf);
    cdtls_sign_key *key = NULL;
    int rc = cdtls_private_key_load(p, NULL, (const uint8_t *)buf, n, &key);
    cr_assert_eq(rc, CDTLS_OK, "%s: %s", keyfile, cdtls_strerror(rc));
    cdtls_x509_cert cert = load(certname);
    uint8_t sig[CDTLS_SIG_MAX_LEN];
    size_t sl = sizeof sig;
    cr_assert_eq(p->sig[alg]->sign(p, key, (const uint8_t *)"proof", 5, sig, &sl), CDTLS_OK);
    cr_assert_eq(p->sig[alg]->verify(&cert.key, (const uint8_t *)"proof", 5, sig, sl), CDTLS_OK,
                 "%s does not match %s", keyfile, certname);
    p->sign_key_free(cdtls_allocator_libc(), key);
}

Test(x509, private_keys_in_every_format)
{
    key_matches_cert("leaf.key", "leaf", CDTLS_SIG_ECDSA_SHA256);                 /* PKCS#8 EC */
    key_matches_cert("leaf.sec1.pem", "leaf", CDTLS_SIG_ECDSA_SHA256);            /* SEC1 */
    key_matches_cert("p384.key", "p384", CDTLS_SIG_ECDSA_SHA384);                 /* PKCS#8 EC P-384 */
    key_matches_cert("rsaleaf.key", "rsaleaf", CDTLS_SIG_RSA_PSS_RSAE_SHA256);    /* PKCS#8 RSA */
    key_matches_cert("rsaleaf.pkcs1.pem", "rsaleaf", CDTLS_SIG_RSA_PKCS1_SHA256); /* PKCS#1 */
    key_matches_cert("ed.key", "ed", CDTLS_SIG_ED25519);                          /* PKCS#8 Ed25519 */
    /* a key type the provider cannot sign with is reported, not crashed on */
    static char buf[16384];
    size_t n = read_file(P()->sig[CDTLS_SIG_ED25519] ? "rsaleaf.key" : "ed.key", buf, sizeof buf);
    cdtls_sign_key *key = NULL;
    int rc = cdtls_private_key_load(P(), NULL, (const uint8_t *)buf, n, &key);
    if (rc == CDTLS_OK)
        P()->sign_key_free(cdtls_allocator_libc(), key);
    else
        cr_assert_eq(rc, CDTLS_ERR_UNSUPPORTED);
    /* garbage */
    cr_assert_neq(cdtls_private_key_load(P(), NULL, (const uint8_t *)"not a key at all", 16, &key), CDTLS_OK);
}

Test(x509, key_and_chain_from_files)
{
    uint8_t *data;
    size_t len;
    cr_assert_eq(cdtls_read_file("/nonexistent/cdtls.pem", NULL, &data, &len), CDTLS_ERR_IO);
    char p[128];
    snprintf(p, sizeof p, "%s/chain.pem", dir);
    cr_assert_eq(cdtls_read_file(p, NULL, &data, &len), CDTLS_OK);
    static uint8_t der[4096];
    size_t dl;
    cr_assert_eq(cdtls_pem_decode((const char *)data, len, "CERTIFICATE", der, sizeof der, &dl, NULL),
                 CDTLS_OK);
    cdtls_x509_cert c;
    cr_assert_eq(cdtls_x509_parse(der, dl, &c), CDTLS_OK);
    cdtls_free_file(NULL, data, len);
    if (!P()->sig[CDTLS_SIG_ECDSA_SHA256]) return;
    snprintf(p, sizeof p, "%s/leaf.key", dir);
    cr_assert_eq(cdtls_read_file(p, NULL, &data, &len), CDTLS_OK);
    cdtls_sign_key *key;
    cr_assert_eq(cdtls_private_key_load(P(), NULL, data, len, &key), CDTLS_OK);
    P()->sign_key_free(cdtls_allocator_libc(), key);
    cdtls_free_file(NULL, data, len);
}
