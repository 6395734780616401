/* X.509 v3 certificate parsing (RFC 5280 §4.1, §4.2). Every field is read
 * through the DER reader with explicit nesting, no recursion; everything
 * returned points into the caller's DER buffer. */
#include <string.h>

#include "cdtls/x509.h"
#include "x509/der.h"

#define OID(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Signature algorithms (RFC 5758, RFC 4055, RFC 8410). */
static int parse_sig_alg(cdtls_reader *r)
{
    cdtls_reader alg, oid;
    if (!der_expect(r, DER_SEQUENCE, &alg) || !der_expect(&alg, DER_OID, &oid)) return -2;
    static const struct {
        const uint8_t oid[9];
        size_t len;
        int alg;
    } simple[] = {
        {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}, 8, CDTLS_SIG_ECDSA_SHA256},
        {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}, 8, CDTLS_SIG_ECDSA_SHA384},
        {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}, 8, CDTLS_SIG_ECDSA_SHA512},
        {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}, 9, CDTLS_SIG_RSA_PKCS1_SHA256},
        {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}, 9, CDTLS_SIG_RSA_PKCS1_SHA384},
        {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}, 9, CDTLS_SIG_RSA_PKCS1_SHA512},
        {{0x2b, 0x65, 0x70}, 3, CDTLS_SIG_ED25519},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (der_oid_is(&oid, simple[i].oid, simple[i].len)) return simple[i].alg;
    /* RSASSA-PSS: the hash is in the parameters (RFC 4055 §3.1); only the
     * TLS combinations (MGF1 with the same hash, salt = hash length) are
     * what our provider verifies, so take the hash and let verification
     * decide. */
    if (der_oid_is(&oid, OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a))) {
        cdtls_reader params, h0, hseq, hoid;
        if (!der_expect(&alg, DER_SEQUENCE, &params)) return -1;
        if (der_peek(&params) != DER_CTX0) return -1; /* default SHA-1: not supported */
        if (!der_expect(&params, DER_CTX0, &h0) || !der_expect(&h0, DER_SEQUENCE, &hseq) ||
            !der_expect(&hseq, DER_OID, &hoid))
            return -2;
        if (der_oid_is(&hoid, OID(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01)))
            return CDTLS_SIG_RSA_PSS_RSAE_SHA256;
        if (der_oid_is(&hoid, OID(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02)))
            return CDTLS_SIG_RSA_PSS_RSAE_SHA384;
        if (der_oid_is(&hoid, OID(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03)))
            return CDTLS_SIG_RSA_PSS_RSAE_SHA512;
    }
    return -1; /* well-formed but unknown */
}

/* SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 5480, RFC 8017 A.1.1, RFC 8410). */
static int parse_spki(cdtls_reader *r, cdtls_public_key *key)
{
    cdtls_reader spki, alg, oid;
    const uint8_t *bits;
    size_t bits_len;
    if (!der_expect(r, DER_SEQUENCE, &spki) || !der_expect(&spki, DER_SEQUENCE, &alg) ||
        !der_expect(&alg, DER_OID, &oid) || !der_read_bits(&spki, &bits, &bits_len) || spki.left)
        return CDTLS_ERR_DER;
    memset(key, 0, sizeof *key);
    if (der_oid_is(&oid, OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01))) { /* id-ecPublicKey */
        cdtls_reader curve;
        if (!der_expect(&alg, DER_OID, &curve)) return CDTLS_ERR_DER;
        if (der_oid_is(&curve, OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)))
            key->type = CDTLS_KEY_EC_P256;
        else if (der_oid_is(&curve, OID(0x2b, 0x81, 0x04, 0x00, 0x22)))
            key->type = CDTLS_KEY_EC_P384;
        else
            return CDTLS_ERR_UNSUPPORTED;
        size_t want = key->type == CDTLS_KEY_EC_P256 ? 65 : 97;
        if (bits_len != want || bits[0] != 0x04) return CDTLS_ERR_DER; /* uncompressed only */
        key->data = bits;
        key->data_len = bits_len;
        return CDTLS_OK;
    }
    if (der_oid_is(&oid, OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01))) { /* rsaEncryption */
        cdtls_reader bs, rsa;
        reader_init(&bs, bits, bits_len);
        if (!der_expect(&bs, DER_SEQUENCE, &rsa) || bs.left ||
            !der_read_uint(&rsa, &key->data, &key->data_len) ||
            !der_read_uint(&rsa, &key->rsa_e, &key->rsa_e_len) || rsa.left)
            return CDTLS_ERR_DER;
        key->type = CDTLS_KEY_RSA;
        return CDTLS_OK;
    }
    if (der_oid_is(&oid, OID(0x2b, 0x65, 0x70))) { /* Ed25519: no parameters */
        if (alg.left || bits_len != 32) return CDTLS_ERR_DER;
        key->type = CDTLS_KEY_ED25519;
        key->data = bits;
        key->data_len = 32;
        return CDTLS_OK;
    }
    return CDTLS_ERR_UNSUPPORTED;
}

/* One extension (RFC 5280 §4.2). */
static int parse_extension(cdtls_reader *ext, cdtls_x509_cert *c)
{
    cdtls_reader oid, value, crit;
    int critical = 0;
    if (!der_expect(ext, DER_OID, &oid)) return CDTLS_ERR_DER;
    if (der_peek(ext) == DER_BOOLEAN) {
        if (!der_expect(ext, DER_BOOLEAN, &crit) || crit.left != 1) return CDTLS_ERR_DER;
        critical = crit.p[0] != 0;
    }
    if (!der_expect(ext, DER_OCTET_STRING, &value) || ext->left) return CDTLS_ERR_DER;

    if (der_oid_is(&oid, OID(0x55, 0x1d, 0x13))) { /* basicConstraints */
        cdtls_reader bc;
        if (!der_expect(&value, DER_SEQUENCE, &bc)) return CDTLS_ERR_DER;
        c->has_basic_constraints = 1;
        if (der_peek(&bc) == DER_BOOLEAN) {
            cdtls_reader b;
            if (!der_expect(&bc, DER_BOOLEAN, &b) || b.left != 1) return CDTLS_ERR_DER;
            c->is_ca = b.p[0] != 0;
        }
        if (der_peek(&bc) == DER_INTEGER && !der_read_small_int(&bc, &c->path_len)) return CDTLS_ERR_DER;
        return bc.left ? CDTLS_ERR_DER : CDTLS_OK;
    }
    if (der_oid_is(&oid, OID(0x55, 0x1d, 0x0f))) { /* keyUsage: bit 0 is the MSB */
        cdtls_reader bs;
        uint8_t unused, b0 = 0, b1 = 0;
        if (!der_expect(&value, DER_BIT_STRING, &bs) || !reader_u8(&bs, &unused) || unused > 7)
            return CDTLS_ERR_DER;
        if (bs.left) reader_u8(&bs, &b0);
        if (bs.left) reader_u8(&bs, &b1);
        unsigned ku = 0;
        for (int i = 0; i < 8; i++)
            if (b0 & (0x80 >> i)) ku |= 1u << i;
        if (b1 & 0x80) ku |= 1u << 8;
        c->has_key_usage = 1;
        c->key_usage = ku;
        return CDTLS_OK;
    }
    if (der_oid_is(&oid, OID(0x55, 0x1d, 0x25))) { /* extKeyUsage */
        cdtls_reader seq, o;
        if (!der_expect(&value, DER_SEQUENCE, &seq)) return CDTLS_ERR_DER;
        c->has_ext_key_usage = 1;
        while (seq.left) {
            if (!der_expect(&seq, DER_OID, &o)) return CDTLS_ERR_DER;
            if (der_oid_is(&o, OID(0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01)))
                c->ext_key_usage |= CDTLS_EKU_SERVER_AUTH;
            if (der_oid_is(&o, OID(0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02)))
                c->ext_key_usage |= CDTLS_EKU_CLIENT_AUTH;
            if (der_oid_is(&o, OID(0x55, 0x1d, 0x25, 0x00))) c->ext_key_usage |= CDTLS_EKU_ANY;
        }
        return CDTLS_OK;
    }
    if (der_oid_is(&oid, OID(0x55, 0x1d, 0x11))) { /* subjectAltName */
        cdtls_reader names;
        if (!der_expect(&value, DER_SEQUENCE, &names) || value.left) return CDTLS_ERR_DER;
        c->san = names.p;
        c->san_len = names.left;
        return CDTLS_OK;
    }
    /* RFC 5280 §4.2: an unknown critical extension means reject. */
    return critical ? CDTLS_ERR_DER : CDTLS_OK;
}

int cdtls_x509_parse(const uint8_t *der, size_t len, cdtls_x509_cert *c)
{
    if (!der || !c) return CDTLS_ERR_INVALID_ARG;
    memset(c, 0, sizeof *c);
    c->path_len = -1;
    cdtls_reader r, cert, tbs, v;
    reader_init(&r, der, len);
    if (!der_expect(&r, DER_SEQUENCE, &cert) || r.left) return CDTLS_ERR_DER;
    c->der = der;
    c->der_len = len;
    uint8_t tag;
    if (!der_read(&cert, &tag, &tbs, &c->tbs, &c->tbs_len) || tag != DER_SEQUENCE) return CDTLS_ERR_DER;
    int outer_alg = parse_sig_alg(&cert);
    if (outer_alg == -2 || !der_read_bits(&cert, &c->sig, &c->sig_len) || cert.left) return CDTLS_ERR_DER;
    c->sig_alg = outer_alg;

    /* TBSCertificate */
    c->version = 1;
    if (der_peek(&tbs) == DER_CTX0) {
        long ver;
        if (!der_expect(&tbs, DER_CTX0, &v) || !der_read_small_int(&v, &ver) || v.left || ver > 2)
            return CDTLS_ERR_DER;
        c->version = (int)ver + 1;
    }
    if (!der_read_uint(&tbs, &c->serial, &c->serial_len)) return CDTLS_ERR_DER;
    int inner_alg = parse_sig_alg(&tbs);
    /* RFC 5280 §4.1.1.2: the two algorithm fields must match */
    if (inner_alg == -2 || inner_alg != outer_alg) return CDTLS_ERR_DER;
    cdtls_reader name, validity;
    if (!der_read(&tbs, &tag, &name, &c->issuer, &c->issuer_len) || tag != DER_SEQUENCE) return CDTLS_ERR_DER;
    if (!der_expect(&tbs, DER_SEQUENCE, &validity) || !der_read_time(&validity, &c->not_before) ||
        !der_read_time(&validity, &c->not_after) || validity.left)
        return CDTLS_ERR_DER;
    if (!der_read(&tbs, &tag, &name, &c->subject, &c->subject_len) || tag != DER_SEQUENCE)
        return CDTLS_ERR_DER;
    int rc = parse_spki(&tbs, &c->key);
    if (rc) return rc;
    /* issuerUniqueID [1], subjectUniqueID [2]: skipped */
    while (tbs.left && (der_peek(&tbs) == 0x81 || der_peek(&tbs) == 0x82))
        if (!der_read(&tbs, &tag, &v, NULL, NULL)) return CDTLS_ERR_DER;
    if (tbs.left) {
        cdtls_reader exts, list, ext;
        if (c->version != 3 || !der_expect(&tbs, DER_CTX3, &exts) ||
            !der_expect(&exts, DER_SEQUENCE, &list) || exts.left)
            return CDTLS_ERR_DER;
        unsigned count = 0;
        while (list.left) {
            if (++count > 64 || !der_expect(&list, DER_SEQUENCE, &ext)) return CDTLS_ERR_DER;
            rc = parse_extension(&ext, c);
            if (rc) return rc;
        }
    }
    if (tbs.left || tbs.failed) return CDTLS_ERR_DER;
    /* RSA modulus sanity: 1024..8192 bits */
    if (c->key.type == CDTLS_KEY_RSA && (c->key.data_len < 128 || c->key.data_len > 1024))
        return CDTLS_ERR_UNSUPPORTED;
    return CDTLS_OK;
}

int cdtls_x509_fingerprint_sha256(const cdtls_provider *p, const cdtls_x509_cert *cert, uint8_t out[32])
{
    if (!p || !cert || !out) return CDTLS_ERR_INVALID_ARG;
    const cdtls_hash_vt *h = p->hash[CDTLS_HASH_SHA256];
    if (!h) return CDTLS_ERR_UNSUPPORTED;
    cdtls_hash_ctx ctx;
    h->init(&ctx);
    h->update(&ctx, cert->der, cert->der_len);
    h->final(&ctx, out);
    return CDTLS_OK;
}

int cdtls_x509_parse_spki(const uint8_t *der, size_t len, cdtls_public_key *out)
{
    if (!der || !out) return CDTLS_ERR_INVALID_ARG;
    cdtls_reader r;
    reader_init(&r, der, len);
    int rc = parse_spki(&r, out);
    if (rc) return rc;
    return r.left ? CDTLS_ERR_DER : CDTLS_OK; /* exactly one SubjectPublicKeyInfo */
}
