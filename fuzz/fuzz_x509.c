/* One DER certificate (src/x509/der.c, cert.c): the whole input is parsed
 * as a certificate and as a SubjectPublicKeyInfo; what parses is checked
 * (every borrowed pointer inside the input), fingerprinted, matched against
 * host names and IP literals (RFC 6125), its key re-encoded as an SPKI and
 * parsed back, and the certificate validated as its own anchor (the
 * self-signed path of verify.c, signature through the provider). The raw
 * DER reader is walked over the input too (nested TLVs, iteratively).
 * Plain .der files are seeds; fuzz_x509_chain does chains. */
#include <stdlib.h>
#include <string.h>

#include "cdtls/x509.h"
#include "fuzz_common.h"
#include "x509/der.h"

#define CHECK(x)           \
    do {                   \
        if (!(x)) abort(); \
    } while (0)

static int inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    return n == 0 || (p && p >= base && p + n <= base + len);
}

static void spki_round_trip(const cdtls_public_key *key)
{
    uint8_t enc[CDTLS_X509_SPKI_MAX];
    size_t enc_len;
    if (cdtls_x509_spki_encode(key, enc, sizeof enc, &enc_len) != CDTLS_OK) return;
    cdtls_public_key back;
    CHECK(cdtls_x509_parse_spki(enc, enc_len, &back) == CDTLS_OK);
    CHECK(back.type == key->type && back.data_len == key->data_len &&
          memcmp(back.data, key->data, key->data_len) == 0);
}

/* Every TLV of the input, depth first with an explicit stack (no recursion
 * on wire data): constructed values (bit 0x20 of the tag) are entered. */
static void der_walk(const uint8_t *data, size_t size)
{
    cdtls_reader stack[16];
    size_t depth = 1;
    reader_init(&stack[0], data, size);
    while (depth) {
        cdtls_reader *r = &stack[depth - 1];
        if (!r->left) {
            depth--;
            continue;
        }
        uint8_t tag;
        cdtls_reader value;
        const uint8_t *whole;
        size_t whole_len;
        if (!der_read(r, &tag, &value, &whole, &whole_len)) {
            depth--;
            continue;
        }
        CHECK(inside(whole, whole_len, data, size));
        /* the typed readers over the same TLV */
        cdtls_reader one;
        const uint8_t *vp;
        size_t vn;
        long small;
        int64_t t;
        reader_init(&one, whole, whole_len);
        if (tag == 0x02 && der_read_uint(&one, &vp, &vn)) CHECK(inside(vp, vn, whole, whole_len));
        reader_init(&one, whole, whole_len);
        if (tag == 0x02 && der_read_small_int(&one, &small)) CHECK(small >= 0);
        reader_init(&one, whole, whole_len);
        if (tag == 0x03 && der_read_bits(&one, &vp, &vn)) CHECK(inside(vp, vn, whole, whole_len));
        reader_init(&one, whole, whole_len);
        if (tag == 0x17 || tag == 0x18) (void)der_read_time(&one, &t);
        if ((tag & 0x20) && depth < 16) stack[depth++] = value;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_provider prov;
    fuzz_provider_init(&prov, 7);
    const cdtls_provider *p = &prov.base;

    der_walk(data, size);

    cdtls_public_key key;
    if (cdtls_x509_parse_spki(data, size, &key) == CDTLS_OK) {
        CHECK(inside(key.data, key.data_len, data, size));
        spki_round_trip(&key);
    }

    cdtls_x509_cert c;
    if (cdtls_x509_parse(data, size, &c) != CDTLS_OK) return 0;
    CHECK(c.der == data && c.der_len <= size);
    CHECK(inside(c.tbs, c.tbs_len, data, size) && inside(c.serial, c.serial_len, data, size));
    CHECK(inside(c.issuer, c.issuer_len, data, size) && inside(c.subject, c.subject_len, data, size));
    CHECK(inside(c.key.data, c.key.data_len, data, size) && inside(c.sig, c.sig_len, data, size));
    CHECK(inside(c.key.rsa_e, c.key.rsa_e_len, data, size) && inside(c.san, c.san_len, data, size));
    CHECK(c.version >= 1 && c.version <= 3);
    spki_round_trip(&c.key);

    uint8_t fp[32];
    CHECK(cdtls_x509_fingerprint_sha256(p, &c, fp) == CDTLS_OK);
    static const char *const hosts[] = {"server.example.com",
                                        "a.wild.example.com",
                                        "wild.example.com",
                                        "127.0.0.1",
                                        "::1",
                                        "0:0:0:0:0:0:0:1",
                                        "localhost",
                                        "x.",
                                        "",
                                        "*.example.com",
                                        "1.2.3",
                                        "[::1]"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) (void)cdtls_x509_check_host(&c, hosts[i]);
    for (int purpose = 0; purpose < 3; purpose++)
        (void)cdtls_x509_verify_chain(p, &c, 1, &c, 1, c.not_before, NULL, (cdtls_x509_purpose)purpose);
    (void)cdtls_x509_verify_chain(p, &c, 1, &c, 1, c.not_after + 1, "server.example.com",
                                  CDTLS_X509_PURPOSE_SERVER);
    return 0;
}
