/* PEM (RFC 7468) and private-key DER (RFC 5208 PKCS#8, RFC 5915 SEC1,
 * RFC 8017 A.1.2 PKCS#1, RFC 8410 Ed25519). */
#include <string.h>

#include "cdtls/x509.h"
#include "common/mem.h"
#include "x509/der.h"

/* --------------------------------------------------------------- base64 */

/* The 6-bit value of a base64 character, or -1; computed with masks, no
 * branches or tables on the (possibly secret) character. */
static int b64_value(unsigned char ch)
{
    int c = ch, v = -1;
    /* ((lo - 1 - c) & (c - hi - 1)) >> 8 is all-ones when lo <= c <= hi */
    v += (((64 - c) & (c - 91)) >> 8) & (c - 65 + 1);   /* A-Z -> 0..25 */
    v += (((96 - c) & (c - 123)) >> 8) & (c - 97 + 27); /* a-z -> 26..51 */
    v += (((47 - c) & (c - 58)) >> 8) & (c - 48 + 53);  /* 0-9 -> 52..61 */
    v += (((42 - c) & (c - 44)) >> 8) & 63;             /* '+' -> 62 */
    v += (((46 - c) & (c - 48)) >> 8) & 64;             /* '/' -> 63 */
    return v;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0, bad = 0;
    size_t o = 0, chars = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_space(c)) continue; /* line structure is public */
        chars++;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad) return CDTLS_ERR_PEM; /* data after padding */
        int v = b64_value((unsigned char)c);
        bad |= v >> 8; /* -1 sets every bit */
        acc = (acc << 6) | ((uint32_t)v & 63);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap) return CDTLS_ERR_BUFFER_TOO_SMALL;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bad || pad > 2 || chars % 4) {
        cdtls_memzero(out, o);
        return CDTLS_ERR_PEM;
    }
    *out_len = o;
    return CDTLS_OK;
}

static const char *find(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0) return hay + i;
    return NULL;
}

int cdtls_pem_decode(const char *text, size_t len, const char *label, uint8_t *der, size_t der_cap,
                     size_t *der_len, size_t *consumed)
{
    if (!text || !der || !der_len) return CDTLS_ERR_INVALID_ARG;
    const char *end_text = text + len, *p = text;
    for (;;) {
        const char *begin = find(p, (size_t)(end_text - p), "-----BEGIN ");
        if (!begin) return CDTLS_ERR_DECODE;
        const char *lab = begin + 11;
        const char *lab_end = find(lab, (size_t)(end_text - lab), "-----");
        if (!lab_end || lab_end - lab > 64) return CDTLS_ERR_PEM;
        size_t lab_len = (size_t)(lab_end - lab);
        char end_line[96];
        memcpy(end_line, "-----END ", 9);
        memcpy(end_line + 9, lab, lab_len);
        memcpy(end_line + 9 + lab_len, "-----", 6);
        const char *body = lab_end + 5;
        const char *stop = find(body, (size_t)(end_text - body), end_line);
        if (!stop) return CDTLS_ERR_PEM;
        if (label && (strlen(label) != lab_len || memcmp(label, lab, lab_len) != 0)) {
            p = stop + strlen(end_line);
            continue;
        }
        int rc = b64_decode(body, (size_t)(stop - body), der, der_cap, der_len);
        if (!rc && consumed) *consumed = (size_t)(stop + strlen(end_line) - text);
        return rc;
    }
}

/* --------------------------------------------------------- private keys */

#define OID(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* RSAPrivateKey (RFC 8017 A.1.2) */
static int parse_pkcs1(cdtls_reader *r, cdtls_private_key_params *k)
{
    cdtls_reader seq;
    long version;
    const uint8_t *d;
    size_t dl;
    if (!der_expect(r, DER_SEQUENCE, &seq) || !der_read_small_int(&seq, &version) || version != 0 ||
        !der_read_uint(&seq, &k->n, &k->n_len) || !der_read_uint(&seq, &k->e, &k->e_len) ||
        !der_read_uint(&seq, &d, &dl) || !der_read_uint(&seq, &k->p, &k->p_len) ||
        !der_read_uint(&seq, &k->q, &k->q_len) || !der_read_uint(&seq, &k->dp, &k->dp_len) ||
        !der_read_uint(&seq, &k->dq, &k->dq_len) || !der_read_uint(&seq, &k->qinv, &k->qinv_len) || seq.left)
        return CDTLS_ERR_DER;
    k->type = CDTLS_KEY_RSA;
    return CDTLS_OK;
}

static int curve_type(const cdtls_reader *oid, cdtls_key_type *t)
{
    if (der_oid_is(oid, OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)))
        return *t = CDTLS_KEY_EC_P256, 1;
    if (der_oid_is(oid, OID(0x2b, 0x81, 0x04, 0x00, 0x22))) return *t = CDTLS_KEY_EC_P384, 1;
    return 0;
}

/* ECPrivateKey (RFC 5915 §3); the curve may come from outside (PKCS#8). */
static int parse_sec1(cdtls_reader *r, cdtls_private_key_params *k, cdtls_key_type outer)
{
    cdtls_reader seq, priv, params, oid;
    long version;
    if (!der_expect(r, DER_SEQUENCE, &seq) || !der_read_small_int(&seq, &version) || version != 1 ||
        !der_expect(&seq, DER_OCTET_STRING, &priv))
        return CDTLS_ERR_DER;
    k->type = outer;
    if (der_peek(&seq) == DER_CTX0) {
        if (!der_expect(&seq, DER_CTX0, &params) || !der_expect(&params, DER_OID, &oid)) return CDTLS_ERR_DER;
        cdtls_key_type t;
        if (!curve_type(&oid, &t)) return CDTLS_ERR_UNSUPPORTED;
        if (outer != CDTLS_KEY_NONE && outer != t) return CDTLS_ERR_DER;
        k->type = t;
    }
    if (k->type == CDTLS_KEY_NONE) return CDTLS_ERR_DER; /* no curve anywhere */
    k->priv = priv.p;
    k->priv_len = priv.left;
    return CDTLS_OK; /* [1] publicKey: recomputed by the provider */
}

int cdtls_private_key_parse(const uint8_t *der, size_t len, cdtls_private_key_params *k)
{
    if (!der || !k) return CDTLS_ERR_INVALID_ARG;
    memset(k, 0, sizeof *k);
    cdtls_reader r, seq, alg, oid, key;
    reader_init(&r, der, len);
    /* PKCS#8: SEQUENCE { INTEGER 0|1, SEQUENCE { OID, params }, OCTET STRING, ... } */
    cdtls_reader probe = r;
    long version;
    if (der_expect(&probe, DER_SEQUENCE, &seq) && der_read_small_int(&seq, &version) &&
        der_peek(&seq) == DER_SEQUENCE) {
        if (probe.left || version > 1 || !der_expect(&seq, DER_SEQUENCE, &alg) ||
            !der_expect(&alg, DER_OID, &oid) || !der_expect(&seq, DER_OCTET_STRING, &key))
            return CDTLS_ERR_DER;
        if (der_oid_is(&oid, OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01))) {
            int rc = parse_pkcs1(&key, k);
            return rc ? rc : (key.left ? CDTLS_ERR_DER : CDTLS_OK);
        }
        if (der_oid_is(&oid, OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01))) {
            cdtls_reader curve;
            cdtls_key_type t;
            if (!der_expect(&alg, DER_OID, &curve)) return CDTLS_ERR_DER;
            if (!curve_type(&curve, &t)) return CDTLS_ERR_UNSUPPORTED;
            int rc = parse_sec1(&key, k, t);
            return rc ? rc : (key.left ? CDTLS_ERR_DER : CDTLS_OK);
        }
        if (der_oid_is(&oid, OID(0x2b, 0x65, 0x70))) { /* RFC 8410 §7: OCTET STRING { seed } */
            cdtls_reader seed;
            if (!der_expect(&key, DER_OCTET_STRING, &seed) || seed.left != 32 || key.left)
                return CDTLS_ERR_DER;
            k->type = CDTLS_KEY_ED25519;
            k->priv = seed.p;
            k->priv_len = 32;
            return CDTLS_OK;
        }
        return CDTLS_ERR_UNSUPPORTED;
    }
    /* SEC1 (version 1) or PKCS#1 (version 0) */
    probe = r;
    if (der_expect(&probe, DER_SEQUENCE, &seq) && der_read_small_int(&seq, &version)) {
        int rc = version == 1 ? parse_sec1(&r, k, CDTLS_KEY_NONE) : parse_pkcs1(&r, k);
        return rc ? rc : (r.left ? CDTLS_ERR_DER : CDTLS_OK);
    }
    return CDTLS_ERR_DER;
}

int cdtls_private_key_load(const cdtls_provider *p, const cdtls_allocator *a, const uint8_t *data, size_t len,
                           cdtls_sign_key **out)
{
    if (!p || !data || !out) return CDTLS_ERR_INVALID_ARG;
    if (!p->sign_key_new) return CDTLS_ERR_UNSUPPORTED;
    if (!a) a = cdtls_allocator_libc();
    if (!a) return CDTLS_ERR_INVALID_ARG; /* freestanding: no default allocator */
    /* Nothing is no key; and cdtls_allocator's alloc must not be asked for
     * 0 bytes (cdtls/alloc.h). Found by fuzz/fuzz_key.c. */
    if (len == 0) return CDTLS_ERR_DER;
    uint8_t *der = a->alloc(a->ctx, len);
    if (!der) return CDTLS_ERR_NOMEM;
    size_t der_len = 0;
    int rc;
    if (len >= 11 && find((const char *)data, len, "-----BEGIN ")) {
        static const char *const labels[] = {"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"};
        rc = CDTLS_ERR_DECODE;
        for (size_t i = 0; i < 3 && rc == CDTLS_ERR_DECODE; i++)
            rc = cdtls_pem_decode((const char *)data, len, labels[i], der, len, &der_len, NULL);
    } else {
        memcpy(der, data, len);
        der_len = len;
        rc = CDTLS_OK;
    }
    cdtls_private_key_params params;
    if (!rc) rc = cdtls_private_key_parse(der, der_len, &params);
    if (!rc) rc = p->sign_key_new(p, a, &params, out);
    cdtls_free_wipe(a, der, len);
    return rc;
}
