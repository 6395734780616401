/* Self-signed certificates (RFC 5280 structure, minimal DER), built with a
 * tiny DER writer: each constructed value is assembled in a buffer and then
 * wrapped with its tag and minimal length. */
#include <string.h>

#include "cdtls/x509.h"
#include "common/mem.h"
#include "common/writer.h"

#define PART 1024u

typedef struct der_buf {
    uint8_t b[PART];
    size_t n;
    int failed;
} der_buf;

static void db_put(der_buf *d, const void *p, size_t n)
{
    if (d->failed || n > PART - d->n) {
        d->failed = 1;
        return;
    }
    if (n) memcpy(d->b + d->n, p, n);
    d->n += n;
}

/* tag, minimal length (X.690 §10.1), contents */
static void db_tlv(der_buf *d, uint8_t tag, const uint8_t *content, size_t len)
{
    uint8_t h[4];
    size_t hn = 0;
    h[hn++] = tag;
    if (len < 0x80) {
        h[hn++] = (uint8_t)len;
    } else if (len < 0x100) {
        h[hn++] = 0x81, h[hn++] = (uint8_t)len;
    } else {
        h[hn++] = 0x82, h[hn++] = (uint8_t)(len >> 8), h[hn++] = (uint8_t)len;
    }
    if (len > 0xffff) d->failed = 1;
    db_put(d, h, hn);
    db_put(d, content, len);
}

static void db_wrap(der_buf *out, uint8_t tag, const der_buf *in)
{
    if (in->failed) out->failed = 1;
    db_tlv(out, tag, in->b, in->n);
}

#define OID_BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Days → y-m-d (proleptic Gregorian), the inverse of der.c's days_from_civil. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5). */
static void db_time(der_buf *d, int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - days * 86400;
    int y, m, dd;
    civil_from_days(days, &y, &m, &dd);
    char s[16];
    int hh = (int)(secs / 3600), mi = (int)(secs / 60 % 60), ss = (int)(secs % 60), k = 0;
    const int gen = y >= 2050 || y < 1950;
    if (gen) s[k++] = (char)('0' + y / 1000), s[k++] = (char)('0' + y / 100 % 10);
    s[k++] = (char)('0' + y / 10 % 10), s[k++] = (char)('0' + y % 10);
    const int f[5] = {m, dd, hh, mi, ss};
    for (int i = 0; i < 5; i++) s[k++] = (char)('0' + f[i] / 10), s[k++] = (char)('0' + f[i] % 10);
    s[k++] = 'Z';
    db_tlv(d, gen ? 0x18 : 0x17, (const uint8_t *)s, (size_t)k);
}

static void db_name(der_buf *d, const char *name)
{
    der_buf atv = {{0}, 0, 0}, set = {{0}, 0, 0}, rdn = {{0}, 0, 0};
    db_tlv(&atv, 0x06, OID_BYTES(0x55, 0x04, 0x03));         /* commonName */
    db_tlv(&atv, 0x0c, (const uint8_t *)name, strlen(name)); /* UTF8String */
    db_wrap(&set, 0x30, &atv);
    db_wrap(&rdn, 0x31, &set);
    db_wrap(d, 0x30, &rdn);
}

int cdtls_x509_selfsign(const cdtls_provider *p, const cdtls_allocator *a, const char *name,
                        int64_t not_before, uint32_t days, uint8_t *der, size_t cap, size_t *der_len,
                        cdtls_sign_key **key)
{
    if (!p || !name || !*name || strlen(name) > 200 || !der || !der_len || !key || days == 0)
        return CDTLS_ERR_INVALID_ARG;
    if (!a) a = cdtls_allocator_libc();
    if (!a) return CDTLS_ERR_INVALID_ARG; /* freestanding: no default allocator */
    *key = NULL;
    const int ecdsa = p->sig[CDTLS_SIG_ECDSA_SHA256] != NULL;
    const cdtls_sig_vt *sv = p->sig[ecdsa ? CDTLS_SIG_ECDSA_SHA256 : CDTLS_SIG_ED25519];
    if (!sv || !p->sign_key_generate) return CDTLS_ERR_UNSUPPORTED;
    int rc = p->sign_key_generate(p, a, ecdsa ? CDTLS_KEY_EC_P256 : CDTLS_KEY_ED25519, key);
    if (rc) return rc;
    cdtls_public_key pub;
    rc = p->sign_key_public(*key, &pub);

    static const uint8_t oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70};
    der_buf alg = {{0}, 0, 0}, algseq = {{0}, 0, 0};
    db_tlv(&alg, 0x06, ecdsa ? oid_ecdsa_sha256 : oid_ed25519,
           ecdsa ? sizeof oid_ecdsa_sha256 : sizeof oid_ed25519);
    db_wrap(&algseq, 0x30, &alg);

    der_buf tbs = {{0}, 0, 0}, part = {{0}, 0, 0};
    /* version v3: [0] { INTEGER 2 } */
    db_tlv(&tbs, 0xa0, OID_BYTES(0x02, 0x01, 0x02));
    /* serial: 16 random bytes, positive and without a leading zero byte */
    uint8_t serial[16];
    if (!rc) rc = p->random(p, serial, sizeof serial);
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
    db_tlv(&tbs, 0x02, serial, sizeof serial);
    db_put(&tbs, algseq.b, algseq.n);
    db_name(&tbs, name); /* issuer */
    part.n = 0;
    db_time(&part, not_before);
    db_time(&part, not_before + (int64_t)days * 86400);
    db_wrap(&tbs, 0x30, &part);
    db_name(&tbs, name); /* subject */
    /* SubjectPublicKeyInfo */
    uint8_t spki[CDTLS_X509_SPKI_MAX];
    size_t spki_len = 0;
    if (!rc) rc = cdtls_x509_spki_encode(&pub, spki, sizeof spki, &spki_len);
    db_put(&tbs, spki, spki_len);
    /* extensions [3]: subjectAltName { dNSName name }, basicConstraints {} (not a CA) */
    der_buf gn = {{0}, 0, 0}, gns = {{0}, 0, 0}, ext = {{0}, 0, 0}, exts = {{0}, 0, 0}, list = {{0}, 0, 0};
    db_tlv(&gn, 0x82, (const uint8_t *)name, strlen(name));
    db_wrap(&gns, 0x30, &gn);
    db_tlv(&ext, 0x06, OID_BYTES(0x55, 0x1d, 0x11));
    db_wrap(&ext, 0x04, &gns);
    db_wrap(&list, 0x30, &ext);
    ext.n = 0;
    db_tlv(&ext, 0x06, OID_BYTES(0x55, 0x1d, 0x13));
    db_tlv(&ext, 0x04, OID_BYTES(0x30, 0x00));
    db_wrap(&list, 0x30, &ext);
    db_wrap(&exts, 0x30, &list);
    db_wrap(&tbs, 0xa3, &exts);
    der_buf tbs_seq = {{0}, 0, 0};
    db_wrap(&tbs_seq, 0x30, &tbs);

    /* sign the TBSCertificate */
    uint8_t sig[1 + 128];
    size_t sig_len = sizeof sig - 1;
    sig[0] = 0;
    if (!rc && tbs_seq.failed) rc = CDTLS_ERR_INTERNAL;
    if (!rc) rc = sv->sign(p, *key, tbs_seq.b, tbs_seq.n, sig + 1, &sig_len);
    der_buf cert = {{0}, 0, 0}, out = {{0}, 0, 0};
    db_put(&cert, tbs_seq.b, tbs_seq.n);
    db_put(&cert, algseq.b, algseq.n);
    db_tlv(&cert, 0x03, sig, 1 + sig_len);
    db_wrap(&out, 0x30, &cert);
    if (!rc && out.failed) rc = CDTLS_ERR_INTERNAL;
    if (!rc && out.n > cap) rc = CDTLS_ERR_BUFFER_TOO_SMALL;
    if (!rc) {
        memcpy(der, out.b, out.n);
        *der_len = out.n;
    } else {
        p->sign_key_free(a, *key);
        *key = NULL;
    }
    return rc;
}

/* SubjectPublicKeyInfo (RFC 5480 for EC, RFC 8410 for Ed25519). */
int cdtls_x509_spki_encode(const cdtls_public_key *pub, uint8_t *out, size_t cap, size_t *len)
{
    if (!pub || !out || !len || !pub->data) return CDTLS_ERR_INVALID_ARG;
    der_buf alg = {{0}, 0, 0}, part = {{0}, 0, 0}, spki = {{0}, 0, 0};
    size_t want;
    switch (pub->type) {
    case CDTLS_KEY_EC_P256:
    case CDTLS_KEY_EC_P384:
        db_tlv(&alg, 0x06, OID_BYTES(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01)); /* id-ecPublicKey */
        if (pub->type == CDTLS_KEY_EC_P256)
            db_tlv(&alg, 0x06, OID_BYTES(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07));
        else
            db_tlv(&alg, 0x06, OID_BYTES(0x2b, 0x81, 0x04, 0x00, 0x22));
        want = pub->type == CDTLS_KEY_EC_P256 ? 65 : 97;
        break;
    case CDTLS_KEY_ED25519:
        db_tlv(&alg, 0x06, OID_BYTES(0x2b, 0x65, 0x70));
        want = 32;
        break;
    default: return CDTLS_ERR_UNSUPPORTED; /* RSA raw keys: not offered */
    }
    if (pub->data_len != want) return CDTLS_ERR_BAD_KEY;
    db_wrap(&part, 0x30, &alg);
    uint8_t bits[1 + 97];
    bits[0] = 0; /* no unused bits */
    memcpy(bits + 1, pub->data, pub->data_len);
    db_tlv(&part, 0x03, bits, 1 + pub->data_len);
    db_wrap(&spki, 0x30, &part);
    if (spki.failed) return CDTLS_ERR_INTERNAL;
    if (spki.n > cap) return CDTLS_ERR_BUFFER_TOO_SMALL;
    memcpy(out, spki.b, spki.n);
    *len = spki.n;
    return CDTLS_OK;
}
