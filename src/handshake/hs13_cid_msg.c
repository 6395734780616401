/* NewConnectionId and RequestConnectionId (RFC 9147 §9): codec. Every
 * length comes from the wire and is checked against what is left before
 * it is used (common/reader.h). */
#include "handshake/hs13_cid_msg.h"

#include <string.h>

#include "cdtls/error.h"
#include "common/reader.h"

int hs13_new_cid_parse(const uint8_t *body, size_t len, hs13_new_cid *out)
{
    if (!out || (!body && len)) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    cdtls_reader r;
    reader_init(&r, body, len);
    uint16_t list_len = 0;
    const uint8_t *list = NULL;
    uint8_t usage = 0;
    if (!reader_u16(&r, &list_len) || !reader_bytes(&r, list_len, &list) || !reader_u8(&r, &usage) || r.left)
        return CDTLS_ERR_DECODE;
    /* the entries must tile the vector exactly */
    cdtls_reader e;
    reader_init(&e, list, list_len);
    size_t n = 0;
    int empty = 0;
    while (e.left) {
        uint8_t l = 0;
        const uint8_t *cid;
        if (!reader_u8(&e, &l) || !reader_bytes(&e, l, &cid)) return CDTLS_ERR_DECODE;
        empty |= l == 0;
        n++;
    }
    if (usage != HS13_CID_IMMEDIATE && usage != HS13_CID_SPARE) return CDTLS_ERR_ILLEGAL_PARAMETER;
    if (empty) return CDTLS_ERR_ILLEGAL_PARAMETER;
    out->list = list;
    out->list_len = list_len;
    out->n_cids = n;
    out->usage = usage;
    return CDTLS_OK;
}

int hs13_new_cid_next(const hs13_new_cid *m, size_t *off, const uint8_t **cid, size_t *cid_len)
{
    if (!m || !off || !cid || !cid_len || *off >= m->list_len) return 0;
    cdtls_reader r;
    reader_init(&r, m->list + *off, m->list_len - *off);
    uint8_t l = 0;
    if (!reader_u8(&r, &l) || !reader_bytes(&r, l, cid)) return 0; /* parse checked it: not reached */
    *cid_len = l;
    *off += 1u + l;
    return 1;
}

int hs13_new_cid_write(cdtls_writer *w, const uint8_t *cids, size_t cid_len, size_t n, uint8_t usage)
{
    if (!w || (n && (!cids || cid_len == 0 || cid_len > 255)) || (1u + cid_len) * n > 0xffffu)
        return CDTLS_ERR_INVALID_ARG;
    writer_u16(w, (unsigned)((1u + cid_len) * n));
    for (size_t i = 0; i < n; i++) {
        writer_u8(w, (unsigned)cid_len);
        writer_bytes(w, cids + i * cid_len, cid_len);
    }
    writer_u8(w, usage);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs13_request_cid_parse(const uint8_t *body, size_t len, uint8_t *num_cids)
{
    if (!num_cids || !body || len != 1) return CDTLS_ERR_DECODE;
    *num_cids = body[0];
    return CDTLS_OK;
}
