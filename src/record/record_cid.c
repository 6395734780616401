/* tls12_cid records (RFC 9146): the record format that carries a connection
 * ID, so a receiver can find the session when the peer's address changed
 * (NAT rebinding). Header: tls12_cid(25) version epoch seq cid length; the
 * protected payload is DTLSInnerPlaintext = content || real_type || zeros.
 * AEAD only; see record.h. */
#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "record/record.h"

#define CID_EXPLICIT_NONCE 8u

int record_read_cid(cdtls_reader *r, size_t cid_len, record_header *h, const uint8_t **hdr, size_t *hdr_len,
                    const uint8_t **frag)
{
    if (r->left == 0 || r->p[0] != CT_TLS12_CID || cid_len == 0) {
        *hdr_len = DTLS_RECORD_HEADER_LEN;
        return record_read(r, h, hdr, frag);
    }
    const uint8_t *start = r->p;
    uint8_t type;
    uint16_t epoch;
    const uint8_t *cid;
    reader_u8(r, &type);
    reader_u16(r, &h->version);
    reader_u16(r, &epoch);
    reader_u48(r, &h->seq);
    reader_bytes(r, cid_len, &cid);
    reader_u16(r, &h->length);
    h->type = type;
    h->epoch = epoch;
    h->cid = cid;
    h->cid_len = (uint8_t)cid_len;
    if (r->failed || h->length > DTLS_MAX_CIPHERTEXT || !reader_bytes(r, h->length, frag)) {
        reader_fail(r);
        return CDTLS_ERR_DECODE;
    }
    *hdr = start;
    *hdr_len = DTLS_RECORD_HEADER_LEN + cid_len;
    return CDTLS_OK;
}

/* RFC 9146 §5.1: seq_num_placeholder (8 x 0xff) || tls12_cid || cid_length
 * || tls12_cid || version || epoch || sequence_number || cid ||
 * length_of_DTLSInnerPlaintext. */
size_t record_cid_aad(uint8_t *aad, uint16_t version, uint16_t epoch, uint64_t seq, const uint8_t *cid,
                      size_t cid_len, size_t inner_len)
{
    memset(aad, 0xff, 8);
    aad[8] = CT_TLS12_CID;
    aad[9] = (uint8_t)cid_len;
    aad[10] = CT_TLS12_CID;
    put_u16(aad + 11, version);
    put_u16(aad + 13, epoch);
    put_u48(aad + 15, seq);
    memcpy(aad + 21, cid, cid_len);
    put_u16(aad + 21 + cid_len, (unsigned)inner_len);
    return 23 + cid_len;
}

int record_seal_cid(const record_cipher *rc, uint8_t real_type, uint16_t version, uint16_t epoch,
                    uint64_t seq, const uint8_t *cid, size_t cid_len, size_t pad, const uint8_t *pt,
                    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!rc || !out || !out_len || (!pt && pt_len) || !cid || cid_len == 0 || cid_len > RECORD_CID_MAX ||
        seq > DTLS_MAX_SEQ)
        return CDTLS_ERR_INVALID_ARG;
    if (rc->kind != RC_AEAD) return CDTLS_ERR_UNSUPPORTED;
    /* RFC 9146 §4: the inner plaintext may be at most 2^14 bytes */
    if (pt_len > DTLS_MAX_PLAINTEXT || pad > DTLS_MAX_PLAINTEXT - pt_len) return CDTLS_ERR_RECORD_TOO_LARGE;
    const size_t inner = pt_len + 1 + pad;
    if (inner > DTLS_MAX_PLAINTEXT) return CDTLS_ERR_RECORD_TOO_LARGE;
    const size_t hdr = DTLS_RECORD_HEADER_LEN + cid_len;
    const size_t explicit_len = rc->fixed_iv_len == 4 ? CID_EXPLICIT_NONCE : 0;
    const size_t frag_len = explicit_len + inner + rc->aead->tag_len;
    if (cap < hdr || cap - hdr < frag_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    out[0] = CT_TLS12_CID;
    put_u16(out + 1, version);
    put_u16(out + 3, epoch);
    put_u48(out + 5, seq);
    memcpy(out + 11, cid, cid_len);
    put_u16(out + 11 + cid_len, (unsigned)frag_len);
    uint8_t nonce[12], aad[23 + RECORD_CID_MAX];
    record_aead_nonce(rc, epoch, seq, nonce);
    uint8_t *body = out + hdr + explicit_len;
    if (explicit_len) memcpy(out + hdr, nonce + 4, explicit_len);
    /* DTLSInnerPlaintext, built in place and sealed in place */
    if (pt_len) memmove(body, pt, pt_len);
    body[pt_len] = real_type;
    memset(body + pt_len + 1, 0, pad);
    size_t aad_len = record_cid_aad(aad, version, epoch, seq, cid, cid_len, inner);
    int r = rc->aead->seal(&rc->aead_ctx, nonce, 12, aad, aad_len, body, inner, body);
    if (r) return r;
    *out_len = hdr + frag_len;
    return CDTLS_OK;
}

int record_open_cid(const record_cipher *rc, const record_header *h, const uint8_t *frag, uint8_t *out,
                    size_t cap, size_t *pt_len, uint8_t *real_type)
{
    if (!rc || !h || !h->cid || !h->cid_len || (!frag && h->length) || !out || !pt_len || !real_type)
        return CDTLS_ERR_INVALID_ARG;
    *pt_len = 0;
    if (rc->kind != RC_AEAD) return CDTLS_ERR_UNSUPPORTED;
    const size_t explicit_len = rc->fixed_iv_len == 4 ? CID_EXPLICIT_NONCE : 0;
    const size_t tag = rc->aead->tag_len;
    if (h->length < explicit_len + tag + 1) return CDTLS_ERR_AUTH;
    const size_t inner = h->length - explicit_len - tag;
    if (cap < inner) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t nonce[12], aad[23 + RECORD_CID_MAX];
    if (explicit_len) {
        memcpy(nonce, rc->iv, 4);
        memcpy(nonce + 4, frag, 8);
    } else {
        record_aead_nonce(rc, h->epoch, h->seq, nonce);
    }
    size_t aad_len = record_cid_aad(aad, h->version, h->epoch, h->seq, h->cid, h->cid_len, inner);
    if (rc->aead->open(&rc->aead_ctx, nonce, 12, aad, aad_len, frag + explicit_len, inner + tag, out))
        return CDTLS_ERR_AUTH;
    /* RFC 9146 §4: DTLSInnerPlaintext (content, real type, zeros) is at
     * most 2^14 bytes, as our sender keeps it (record_seal_cid). */
    if (inner > DTLS_MAX_PLAINTEXT) {
        cdtls_memzero(out, inner);
        return CDTLS_ERR_RECORD_TOO_LARGE;
    }
    /* The real type is the last non-zero byte; zeros after it are padding
     * (RFC 9146 §4). Authenticated data: no oracle in the scan. */
    size_t n = inner;
    while (n > 0 && out[n - 1] == 0) n--;
    if (n == 0 || n - 1 > DTLS_MAX_PLAINTEXT) {
        cdtls_memzero(out, inner);
        return CDTLS_ERR_DECODE;
    }
    *real_type = out[n - 1];
    out[n - 1] = 0;
    *pt_len = n - 1;
    return CDTLS_OK;
}
