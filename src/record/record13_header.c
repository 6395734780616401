/* DTLS 1.3 record demultiplexing and the unified header (RFC 9147 §4, §4.1). */
#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/writer.h"
#include "record/record13.h"

record13_kind record13_classify(uint8_t b)
{
    /* §4.1: alert, handshake and ack are DTLSPlaintext; any other value is
     * a DTLSCiphertext if its top bits are 001, else rejected. Figure 5
     * adds the types earlier versions send on the same 5-tuple, which a
     * 1.3 endpoint meets before it knows the version (a 1.2 peer). */
    if (b == CT_ALERT || b == CT_HANDSHAKE || b == R13_CT_ACK) return R13_KIND_PLAINTEXT;
    if (b == CT_CHANGE_CIPHER_SPEC || b == CT_APPLICATION_DATA || b == 24 || b == CT_TLS12_CID)
        return R13_KIND_DTLS12;
    if ((b & R13_FIXED_MASK) == R13_FIXED_BITS) return R13_KIND_CIPHERTEXT;
    return R13_KIND_INVALID;
}

int record13_read(cdtls_reader *r, size_t cid_len, record13_header *h)
{
    memset(h, 0, sizeof *h);
    const uint8_t *start = r->p;
    uint8_t b = 0;
    if (!reader_u8(r, &b) || (b & R13_FIXED_MASK) != R13_FIXED_BITS) goto bad;
    h->flags = b;
    h->epoch_bits = (uint8_t)(b & R13_EPOCH_BITS);
    if (b & R13_C_BIT) {
        /* §4: the CID's length is what was negotiated; a record carrying
         * one when none was asked for cannot be read */
        if (cid_len == 0 || cid_len > RECORD_CID_MAX || !reader_bytes(r, cid_len, &h->cid)) goto bad;
        h->cid_len = cid_len;
    }
    if (b & R13_S_BIT) {
        h->seq_len = 2;
        if (!reader_u16(r, &h->seq_bits)) goto bad;
    } else {
        uint8_t s = 0;
        h->seq_len = 1;
        if (!reader_u8(r, &s)) goto bad;
        h->seq_bits = s;
    }
    size_t len;
    if (b & R13_L_BIT) {
        uint16_t l = 0;
        if (!reader_u16(r, &l) || l > R13_MAX_CIPHERTEXT) goto bad;
        len = l;
    } else {
        /* §4: without a length the record consumes the rest of the datagram */
        len = r->left;
        if (len > R13_MAX_CIPHERTEXT) goto bad;
    }
    h->hdr = start;
    h->hdr_len = (size_t)(r->p - start);
    if (!reader_bytes(r, len, &h->body)) goto bad;
    h->body_len = len;
    return CDTLS_OK;
bad:
    reader_fail(r);
    memset(h, 0, sizeof *h);
    return CDTLS_ERR_DECODE;
}

size_t record13_header_len(const record13_header_opts *o)
{
    if (o->cid_len > RECORD_CID_MAX) return 0;
    return 1 + o->cid_len + (o->seq16 ? 2u : 1u) + (o->with_length ? 2u : 0u);
}

size_t record13_header_write(const record13_header_opts *o, uint64_t epoch, uint64_t seq, size_t length,
                             uint8_t *out, size_t cap)
{
    const size_t n = record13_header_len(o);
    if (n == 0 || n > cap || (o->cid_len && !o->cid) || (o->with_length && length > R13_MAX_CIPHERTEXT))
        return 0;
    cdtls_writer w;
    writer_init(&w, out, cap);
    unsigned first = R13_FIXED_BITS | (unsigned)(epoch & R13_EPOCH_BITS);
    if (o->cid_len) first |= R13_C_BIT;
    if (o->seq16) first |= R13_S_BIT;
    if (o->with_length) first |= R13_L_BIT;
    writer_u8(&w, first);
    if (o->cid_len) writer_bytes(&w, o->cid, o->cid_len);
    if (o->seq16)
        writer_u16(&w, (unsigned)(seq & 0xffffu));
    else
        writer_u8(&w, (unsigned)(seq & 0xffu));
    if (o->with_length) writer_u16(&w, (unsigned)length);
    return n;
}
