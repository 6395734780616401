/* A DER (ITU-T X.690) reader on top of the bounds-checked cdtls_reader.
 * Definite lengths only, minimal length encodings, single-byte tags: what
 * DER requires and X.509 uses. No recursion: callers descend explicitly,
 * one sub-reader per constructed value. */
#ifndef CDTLS_X509_DER_H
#define CDTLS_X509_DER_H

#include <stddef.h>
#include <stdint.h>

#include "common/reader.h"

enum der_tag {
    DER_BOOLEAN = 0x01,
    DER_INTEGER = 0x02,
    DER_BIT_STRING = 0x03,
    DER_OCTET_STRING = 0x04,
    DER_NULL = 0x05,
    DER_OID = 0x06,
    DER_UTF8_STRING = 0x0c,
    DER_PRINTABLE_STRING = 0x13,
    DER_IA5_STRING = 0x16,
    DER_UTC_TIME = 0x17,
    DER_GENERALIZED_TIME = 0x18,
    DER_SEQUENCE = 0x30,
    DER_SET = 0x31,
    DER_CTX0 = 0xa0, /* [0] constructed */
    DER_CTX1 = 0xa1,
    DER_CTX2 = 0xa2,
    DER_CTX3 = 0xa3
};

/* Reads one TLV. *tag gets the identifier byte, *value a sub-reader over the
 * contents, *whole (may be NULL) the full TLV bytes. 0 on malformed input
 * (high tag numbers, indefinite or non-minimal lengths, past the end). */
int der_read(cdtls_reader *r, uint8_t *tag, cdtls_reader *value, const uint8_t **whole, size_t *whole_len);
/* Reads one TLV that must have the given tag. */
int der_expect(cdtls_reader *r, uint8_t tag, cdtls_reader *value);
/* Peeks at the next tag without consuming (0 if none). */
uint8_t der_peek(const cdtls_reader *r);

/* INTEGER as unsigned big-endian magnitude (leading 0x00 removed); fails on
 * negative values. */
int der_read_uint(cdtls_reader *r, const uint8_t **p, size_t *len);
/* Small non-negative INTEGER (< 2^31). */
int der_read_small_int(cdtls_reader *r, long *v);
/* BIT STRING with no unused bits (keys, signatures). */
int der_read_bits(cdtls_reader *r, const uint8_t **p, size_t *len);
/* OID contents compared with a known encoding. */
int der_oid_is(const cdtls_reader *oid, const uint8_t *want, size_t want_len);
/* UTCTime / GeneralizedTime (Zulu, seconds precision, RFC 5280 §4.1.2.5)
 * into seconds since 1970-01-01. */
int der_read_time(cdtls_reader *r, int64_t *t);

#endif
