/* Chain validation (RFC 5280 §6, the parts a DTLS peer needs) and host
 * name / IP matching (RFC 6125 §6.4). */
#include <string.h>

#include "cdtls/x509.h"
#include "x509/der.h"

/* ------------------------------------------------------------ host names */

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int eq_nocase(const uint8_t *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((char)a[i]) != lower(b[i])) return 0;
    return 1;
}

/* One dNSName against the host (both without a trailing dot). */
static int dns_match(const uint8_t *pat, size_t plen, const char *host, size_t hlen)
{
    if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
        /* "*.example.com": the wildcard is the whole left-most label and
         * stands for exactly one label; it may not sit directly on a
         * one-label name ("*.com") (RFC 6125 §6.4.3, CA/B BR 3.2.2.6). */
        const uint8_t *rest = pat + 1; /* ".example.com" */
        size_t rlen = plen - 1;
        if (memchr(rest + 1, '.', rlen - 1) == NULL) return 0;
        if (memchr(rest, '*', rlen)) return 0;
        const char *dot = memchr(host, '.', hlen);
        if (!dot || dot == host) return 0;
        return eq_nocase(rest, rlen, dot, hlen - (size_t)(dot - host));
    }
    if (memchr(pat, '*', plen)) return 0; /* partial-label wildcards are not honoured */
    return eq_nocase(pat, plen, host, hlen);
}

/* Parses a dotted IPv4 or an IPv6 literal (no zone) into out; returns its
 * length (4 or 16), 0 if the host is not an IP literal. */
static size_t parse_ip(const char *s, uint8_t out[16])
{
    size_t len = strlen(s);
    /* IPv4 */
    unsigned parts = 0, val = 0, digits = 0;
    size_t i;
    for (i = 0; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            val = val * 10 + (unsigned)(ch - '0');
            if (++digits > 3 || val > 255) break;
        } else if (ch == '.' && digits && parts < 3) {
            out[parts++] = (uint8_t)val, val = 0, digits = 0;
        } else {
            break;
        }
    }
    if (i == len && parts == 3 && digits) {
        out[3] = (uint8_t)val;
        return 4;
    }
    /* IPv6: groups of hex, one "::" */
    uint16_t g[8];
    int n = 0, gap = -1;
    const char *p = s;
    if (!strchr(s, ':')) return 0;
    if (p[0] == ':' && p[1] == ':') gap = 0, p += 2;
    while (*p) {
        unsigned v = 0, nd = 0;
        while (nd < 5) {
            char ch = lower(*p);
            if (ch >= '0' && ch <= '9')
                v = v * 16 + (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v = v * 16 + (unsigned)(ch - 'a' + 10);
            else
                break;
            p++, nd++;
        }
        if (nd == 0 || nd > 4 || n == 8) return 0;
        g[n++] = (uint16_t)v;
        if (*p == 0) break;
        if (*p != ':') return 0;
        p++;
        if (*p == ':') {
            if (gap >= 0) return 0;
            gap = n, p++;
            if (*p == 0) break;
        }
    }
    if ((gap < 0 && n != 8) || (gap >= 0 && n > 7)) return 0;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : n - gap;
    for (int k = 0; k < n - tail; k++) out[2 * k] = (uint8_t)(g[k] >> 8), out[2 * k + 1] = (uint8_t)g[k];
    for (int k = 0; k < tail; k++) {
        int at = 8 - tail + k;
        out[2 * at] = (uint8_t)(g[gap + k] >> 8), out[2 * at + 1] = (uint8_t)g[gap + k];
    }
    return 16;
}

int cdtls_x509_check_host(const cdtls_x509_cert *c, const char *host)
{
    if (!c || !host || !*host) return CDTLS_ERR_INVALID_ARG;
    size_t hlen = strlen(host);
    if (host[hlen - 1] == '.') hlen--; /* absolute form */
    uint8_t ip[16];
    size_t iplen = parse_ip(host, ip);
    cdtls_reader names;
    reader_init(&names, c->san, c->san_len);
    while (c->san && names.left) {
        uint8_t tag;
        cdtls_reader v;
        if (!der_read(&names, &tag, &v, NULL, NULL)) break;
        if (iplen && tag == 0x87 && v.left == iplen && memcmp(v.p, ip, iplen) == 0) return CDTLS_OK;
        /* an IP literal never matches a dNSName (RFC 6125 §6.4.4 note) */
        if (!iplen && tag == 0x82 && v.left && dns_match(v.p, v.left, host, hlen)) return CDTLS_OK;
    }
    return CDTLS_ERR_CERT_HOSTNAME;
}

/* --------------------------------------------------------------- chains */

static int names_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    /* Byte comparison of the DER Names: what issuers emit in practice, and
     * the rule RFC 5280 §7.1 allows implementations to apply. */
    return alen == blen && memcmp(a, b, alen) == 0;
}

static int verify_signature(const cdtls_provider *p, const cdtls_x509_cert *subject,
                            const cdtls_x509_cert *issuer)
{
    if (subject->sig_alg < 0 || subject->sig_alg >= CDTLS_SIG__COUNT) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_sig_vt *s = p->sig[subject->sig_alg];
    if (!s) return CDTLS_ERR_UNSUPPORTED;
    if (!(s->key_types & CDTLS_KEY_BIT(issuer->key.type))) return CDTLS_ERR_CERT_SIGNATURE;
    int rc = s->verify(&issuer->key, subject->tbs, subject->tbs_len, subject->sig, subject->sig_len);
    return rc == CDTLS_OK ? CDTLS_OK : CDTLS_ERR_CERT_SIGNATURE;
}

static int check_validity(const cdtls_x509_cert *c, int64_t now)
{
    if (now < c->not_before) return CDTLS_ERR_CERT_NOT_YET_VALID;
    if (now > c->not_after) return CDTLS_ERR_CERT_EXPIRED;
    return CDTLS_OK;
}

/* May this certificate sign others, with `below` CA certificates under it? */
static int check_ca(const cdtls_x509_cert *c, size_t below)
{
    if (!c->has_basic_constraints || !c->is_ca) return CDTLS_ERR_CERT_NOT_CA;
    if (c->has_key_usage && !(c->key_usage & CDTLS_KU_KEY_CERT_SIGN)) return CDTLS_ERR_CERT_NOT_CA;
    if (c->path_len >= 0 && below > (size_t)c->path_len) return CDTLS_ERR_CERT_PATHLEN;
    return CDTLS_OK;
}

int cdtls_x509_verify_chain(const cdtls_provider *p, const cdtls_x509_cert *chain, size_t n,
                            const cdtls_x509_cert *anchors, size_t n_anchors, int64_t now, const char *host,
                            cdtls_x509_purpose purpose)
{
    if (!p || !chain || n == 0 || (!anchors && n_anchors)) return CDTLS_ERR_INVALID_ARG;
    if (n > CDTLS_X509_MAX_DEPTH) return CDTLS_ERR_CERT_PATHLEN;
    const cdtls_x509_cert *leaf = &chain[0];

    /* the leaf's purpose */
    if (leaf->has_ext_key_usage && purpose != CDTLS_X509_PURPOSE_ANY &&
        !(leaf->ext_key_usage & CDTLS_EKU_ANY)) {
        unsigned need = purpose == CDTLS_X509_PURPOSE_SERVER ? CDTLS_EKU_SERVER_AUTH : CDTLS_EKU_CLIENT_AUTH;
        if (!(leaf->ext_key_usage & need)) return CDTLS_ERR_CERT_USAGE;
    }
    if (leaf->has_key_usage && !(leaf->key_usage & (CDTLS_KU_DIGITAL_SIGNATURE | CDTLS_KU_KEY_AGREEMENT)))
        return CDTLS_ERR_CERT_USAGE;

    /* walk up: chain[i] is checked against chain[i+1], or against an anchor */
    for (size_t i = 0; i < n; i++) {
        const cdtls_x509_cert *c = &chain[i];
        int rc = check_validity(c, now);
        if (rc) return rc;
        if (i > 0) {
            rc = check_ca(c, i - 1);
            if (rc) return rc;
        }
        /* an anchor that issued this one ends the walk */
        for (size_t a = 0; a < n_anchors; a++) {
            const cdtls_x509_cert *ta = &anchors[a];
            if (!names_equal(c->issuer, c->issuer_len, ta->subject, ta->subject_len)) continue;
            if (verify_signature(p, c, ta) != CDTLS_OK) continue; /* a same-named other key */
            rc = check_validity(ta, now);
            if (rc) return rc;
            /* a CA anchor must be allowed to sign; a self-signed leaf
             * pinned as its own anchor is fine */
            if (ta->der_len != c->der_len || memcmp(ta->der, c->der, c->der_len) != 0) {
                rc = check_ca(ta, i);
                if (rc) return rc;
            }
            return host ? cdtls_x509_check_host(leaf, host) : CDTLS_OK;
        }
        /* the certificate itself may be an anchor (pinned) */
        for (size_t a = 0; a < n_anchors; a++)
            if (anchors[a].der_len == c->der_len && memcmp(anchors[a].der, c->der, c->der_len) == 0)
                return host ? cdtls_x509_check_host(leaf, host) : CDTLS_OK;
        if (i + 1 == n) break;
        const cdtls_x509_cert *up = &chain[i + 1];
        if (!names_equal(c->issuer, c->issuer_len, up->subject, up->subject_len))
            return CDTLS_ERR_CERT_UNTRUSTED;
        rc = verify_signature(p, c, up);
        if (rc) return rc;
    }
    return CDTLS_ERR_CERT_UNTRUSTED;
}
