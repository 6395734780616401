#include "x509/der.h"

#include <string.h>

int der_read(cdtls_reader *r, uint8_t *tag, cdtls_reader *value, const uint8_t **whole, size_t *whole_len)
{
    const uint8_t *start = r->p;
    uint8_t t, l0;
    if (!reader_u8(r, &t) || (t & 0x1f) == 0x1f) return reader_fail(r); /* no high tags */
    if (!reader_u8(r, &l0)) return 0;
    size_t len = l0;
    if (l0 & 0x80) {
        /* long form: 1..4 length bytes, minimal (X.690 §10.1) */
        unsigned n = l0 & 0x7f;
        if (n == 0 || n > 4) return reader_fail(r); /* indefinite or absurd */
        len = 0;
        for (unsigned i = 0; i < n; i++) {
            uint8_t b;
            if (!reader_u8(r, &b)) return 0;
            if (i == 0 && b == 0) return reader_fail(r); /* leading zero: not minimal */
            len = (len << 8) | b;
        }
        if (len < 0x80) return reader_fail(r); /* should have used the short form */
    }
    if (!reader_sub(r, len, value)) return 0;
    *tag = t;
    if (whole) *whole = start;
    if (whole_len) *whole_len = (size_t)(r->p - start);
    return 1;
}

int der_expect(cdtls_reader *r, uint8_t tag, cdtls_reader *value)
{
    uint8_t t;
    if (!der_read(r, &t, value, NULL, NULL)) return 0;
    if (t != tag) return reader_fail(r);
    return 1;
}

uint8_t der_peek(const cdtls_reader *r)
{
    return (!r->failed && r->left) ? r->p[0] : 0;
}

int der_read_uint(cdtls_reader *r, const uint8_t **p, size_t *len)
{
    cdtls_reader v;
    if (!der_expect(r, DER_INTEGER, &v) || v.left == 0) return reader_fail(r);
    if (v.p[0] & 0x80) return reader_fail(r);                                 /* negative */
    if (v.left > 1 && v.p[0] == 0 && !(v.p[1] & 0x80)) return reader_fail(r); /* not minimal */
    if (v.left > 1 && v.p[0] == 0) v.p++, v.left--;
    *p = v.p;
    *len = v.left;
    return 1;
}

int der_read_small_int(cdtls_reader *r, long *v)
{
    const uint8_t *p;
    size_t len;
    if (!der_read_uint(r, &p, &len) || len > 4 || (len == 4 && (p[0] & 0x80))) return reader_fail(r);
    long x = 0;
    for (size_t i = 0; i < len; i++) x = (x << 8) | p[i];
    *v = x;
    return 1;
}

int der_read_bits(cdtls_reader *r, const uint8_t **p, size_t *len)
{
    cdtls_reader v;
    uint8_t unused;
    if (!der_expect(r, DER_BIT_STRING, &v) || !reader_u8(&v, &unused) || unused != 0) return reader_fail(r);
    *p = v.p;
    *len = v.left;
    return 1;
}

int der_oid_is(const cdtls_reader *oid, const uint8_t *want, size_t want_len)
{
    return oid->left == want_len && memcmp(oid->p, want, want_len) == 0;
}

static int digits(const uint8_t *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), no library calls. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int der_read_time(cdtls_reader *r, int64_t *t)
{
    uint8_t tag;
    cdtls_reader v;
    if (!der_read(r, &tag, &v, NULL, NULL)) return 0;
    int year, mon, day, hour, min, sec;
    const uint8_t *p = v.p;
    /* RFC 5280 §4.1.2.5: YYMMDDHHMMSSZ (UTCTime) or YYYYMMDDHHMMSSZ */
    if (tag == DER_UTC_TIME && v.left == 13 && p[12] == 'Z') {
        if (!digits(p, 2, &year)) return reader_fail(r);
        year += year >= 50 ? 1900 : 2000;
        p += 2;
    } else if (tag == DER_GENERALIZED_TIME && v.left == 15 && p[14] == 'Z') {
        if (!digits(p, 4, &year)) return reader_fail(r);
        p += 4;
    } else {
        return reader_fail(r);
    }
    if (!digits(p, 2, &mon) || !digits(p + 2, 2, &day) || !digits(p + 4, 2, &hour) ||
        !digits(p + 6, 2, &min) || !digits(p + 8, 2, &sec))
        return reader_fail(r);
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 || min > 59 || sec > 60)
        return reader_fail(r);
    *t = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    return 1;
}
