#include "handshake/hs13_msg.h"

#include <string.h>

#include "common/dtls.h"

/* ------------------------------------------------- extensions blocks */

enum {
    IN_CH = 1u << HS13_IN_CH,
    IN_SH = 1u << HS13_IN_SH,
    IN_HRR = 1u << HS13_IN_HRR,
    IN_EE = 1u << HS13_IN_EE,
    IN_CT = 1u << HS13_IN_CT,
    IN_CR = 1u << HS13_IN_CR,
    IN_NST = 1u << HS13_IN_NST,
    IN_ANY = 0x7f
};

/* RFC 8446 §4.2's table; connection_id as RFC 9147 §9 uses it (CH, SH),
 * record_size_limit per RFC 8449 §4 (CH, EE). */
static unsigned allowed_in(uint16_t type)
{
    switch (type) {
    case EXT_SERVER_NAME:
    case 1:  /* max_fragment_length */
    case 15: /* heartbeat */
    case 28: /* record_size_limit */
    case EXT_SUPPORTED_GROUPS:
    case EXT_USE_SRTP:
    case EXT_ALPN:
    case EXT_CLIENT_CERTIFICATE_TYPE:
    case EXT_SERVER_CERTIFICATE_TYPE: return IN_CH | IN_EE;
    case 5: /* status_request */
    case 18: /* signed_certificate_timestamp */ return IN_CH | IN_CR | IN_CT;
    case EXT_SIGNATURE_ALGORITHMS:
    case EXT_SIGNATURE_ALGORITHMS_CERT:
    case EXT13_CERTIFICATE_AUTHORITIES: return IN_CH | IN_CR;
    case 21: /* padding */
    case EXT13_PSK_KEY_EXCHANGE_MODES:
    case EXT13_POST_HANDSHAKE_AUTH:
    /* 1.2-only: a hello that offers both versions carries them */
    case EXT_EC_POINT_FORMATS:
    case EXT_ENCRYPT_THEN_MAC:
    case EXT_EXTENDED_MASTER_SECRET:
    case EXT_SESSION_TICKET:
    case EXT_RENEGOTIATION_INFO: return IN_CH;
    case EXT13_PRE_SHARED_KEY:
    case EXT_CONNECTION_ID: return IN_CH | IN_SH;
    case EXT13_EARLY_DATA: return IN_CH | IN_EE | IN_NST;
    case EXT13_SUPPORTED_VERSIONS:
    case EXT13_KEY_SHARE: return IN_CH | IN_SH | IN_HRR;
    case EXT13_COOKIE: return IN_CH | IN_HRR;
    case EXT13_OID_FILTERS: return IN_CR;
    default: return IN_ANY; /* unknown */
    }
}

int hs13_ext_allowed(uint16_t type, hs13_ext_where where)
{
    return (unsigned)where <= HS13_IN_NST && (allowed_in(type) & (1u << where)) != 0;
}

int hs13_ext_next(const hs13_ext_block *b, size_t *off, uint16_t *type, const uint8_t **data, size_t *len)
{
    if (*off + 4 > b->len) return 0;
    size_t n = get_u16(b->p + *off + 2);
    if (n > b->len - *off - 4) return 0; /* the block was checked: cannot happen */
    *type = get_u16(b->p + *off);
    *data = b->p + *off + 4;
    *len = n;
    *off += 4 + n;
    return 1;
}

int hs13_ext_find(const hs13_ext_block *b, uint16_t type, const uint8_t **data, size_t *len)
{
    size_t off = 0;
    uint16_t t;
    while (hs13_ext_next(b, &off, &t, data, len))
        if (t == type) return 1;
    *data = NULL;
    *len = 0;
    return 0;
}

int hs13_ext_block_read(cdtls_reader *r, size_t min, hs13_ext_where where, hs13_ext_block *out)
{
    cdtls_reader block;
    memset(out, 0, sizeof *out);
    if (!reader_vec16(r, min, 0xffff, &block)) return CDTLS_ERR_DECODE;
    const uint8_t *start = block.p;
    size_t count = 0;
    while (block.left) {
        const size_t at = (size_t)(block.p - start);
        uint16_t type;
        cdtls_reader body;
        reader_u16(&block, &type);
        if (!reader_vec16(&block, 0, 0xffff, &body)) return CDTLS_ERR_DECODE;
        if (++count > HS_MAX_EXTENSIONS) return CDTLS_ERR_DECODE;
        /* RFC 8446 §4.2: no type twice in a block. At most
         * HS_MAX_EXTENSIONS entries, so the walk over the earlier ones is
         * bounded. */
        hs13_ext_block seen = {start, at, 0};
        const uint8_t *d;
        size_t dl;
        if (hs13_ext_find(&seen, type, &d, &dl)) return CDTLS_ERR_DECODE;
        if (!hs13_ext_allowed(type, where)) return CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    out->p = start;
    out->len = (size_t)(block.p - start);
    out->count = count;
    return CDTLS_OK;
}

int hs13_key_share_next(const uint8_t *list, size_t len, size_t *off, hs13_key_share *out)
{
    if (*off + 4 > len) return 0;
    size_t n = get_u16(list + *off + 2);
    if (n == 0 || n > len - *off - 4) return 0;
    out->group = get_u16(list + *off);
    out->key = list + *off + 4;
    out->key_len = n;
    *off += 4 + n;
    return 1;
}

int hs13_psk_identity_next(const uint8_t *list, size_t len, size_t *off, hs13_psk_identity *out)
{
    if (*off + 2 > len) return 0;
    size_t n = get_u16(list + *off);
    if (n == 0 || n + 4 > len - *off - 2) return 0;
    const uint8_t *age = list + *off + 2 + n;
    out->identity = list + *off + 2;
    out->identity_len = n;
    out->obfuscated_ticket_age = ((uint32_t)age[0] << 24) | ((uint32_t)age[1] << 16) |
                                 ((uint32_t)age[2] << 8) | age[3];
    *off += 2 + n + 4;
    return 1;
}

int hs13_psk_binder_next(const uint8_t *list, size_t len, size_t *off, hs13_bytes *out)
{
    if (*off + 1 > len) return 0;
    size_t n = list[*off];
    if (n < 32 || n > len - *off - 1) return 0;
    out->p = list + *off + 1;
    out->len = n;
    *off += 1 + n;
    return 1;
}

/* --------------------------------------------------------- ClientHello */

#define HS13_MAX_KEY_SHARES 64u /* more shares in one hello are refused (CDTLS_ERR_LIMIT) */

/* client_shares<0..2^16-1>: entries framed, one per group (RFC 8446 §4.2.8) */
static int read_client_shares(cdtls_reader *b, hs13_client_hello *out)
{
    cdtls_reader list;
    if (!reader_vec16(b, 0, 0xffff, &list) || b->left) return CDTLS_ERR_DECODE;
    out->has_key_share = 1;
    out->key_shares = list.p;
    out->key_shares_len = list.left;
    size_t n = 0;
    while (list.left) {
        uint16_t group;
        cdtls_reader key;
        reader_u16(&list, &group);
        if (!reader_vec16(&list, 1, 0xffff, &key)) return CDTLS_ERR_DECODE;
        if (++n > HS13_MAX_KEY_SHARES) return CDTLS_ERR_LIMIT;
        size_t off = 0;
        hs13_key_share earlier;
        for (size_t i = 0;
             i + 1 < n && hs13_key_share_next(out->key_shares, out->key_shares_len, &off, &earlier); i++)
            if (earlier.group == group) return CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    out->n_key_shares = n;
    return CDTLS_OK;
}

/* pre_shared_key in a ClientHello (RFC 8446 §4.2.11) */
static int read_offered_psks(cdtls_reader *b, const uint8_t *body, hs13_client_hello *out)
{
    cdtls_reader ids, binders;
    if (!reader_vec16(b, 7, 0xffff, &ids)) return CDTLS_ERR_DECODE;
    out->identities = ids.p;
    out->identities_len = ids.left;
    while (ids.left) {
        cdtls_reader id;
        uint32_t age;
        if (!reader_vec16(&ids, 1, 0xffff, &id) || !reader_u32(&ids, &age)) return CDTLS_ERR_DECODE;
        out->n_identities++;
    }
    out->binders_offset = (size_t)(b->p - body);
    if (!reader_vec16(b, 33, 0xffff, &binders) || b->left) return CDTLS_ERR_DECODE;
    out->binders = binders.p;
    out->binders_len = binders.left;
    while (binders.left) {
        cdtls_reader one;
        if (!reader_vec8(&binders, 32, 255, &one)) return CDTLS_ERR_DECODE;
        out->n_binders++;
    }
    if (out->n_binders != out->n_identities) return CDTLS_ERR_ILLEGAL_PARAMETER;
    out->has_psk = 1;
    return CDTLS_OK;
}

/* One 1.3 extension of a ClientHello; is_last: the block's last entry. */
static int read_ch_extension(hs13_client_hello *out, const uint8_t *body, uint16_t type, const uint8_t *data,
                             size_t len, int is_last)
{
    cdtls_reader b, v;
    reader_init(&b, data, len);
    switch (type) {
    case EXT13_SUPPORTED_VERSIONS:
        if (!reader_vec8(&b, 2, 254, &v) || b.left || v.left % 2) return CDTLS_ERR_DECODE;
        out->versions = v.p;
        out->versions_len = v.left;
        return CDTLS_OK;
    case EXT13_KEY_SHARE: return read_client_shares(&b, out);
    case EXT13_COOKIE:
        if (!reader_vec16(&b, 1, 0xffff, &v) || b.left) return CDTLS_ERR_DECODE;
        out->cookie = v.p;
        out->cookie_len = v.left;
        return CDTLS_OK;
    case EXT13_PSK_KEY_EXCHANGE_MODES:
        if (!reader_vec8(&b, 1, 255, &v) || b.left) return CDTLS_ERR_DECODE;
        out->has_psk_modes = 1;
        for (size_t i = 0; i < v.left; i++)
            if (v.p[i] <= HS13_PSK_DHE_KE) out->psk_modes |= 1u << v.p[i];
        return CDTLS_OK;
    case EXT13_EARLY_DATA: out->early_data = 1; return len == 0 ? CDTLS_OK : CDTLS_ERR_DECODE;
    case EXT13_POST_HANDSHAKE_AUTH:
        out->post_handshake_auth = 1;
        return len == 0 ? CDTLS_OK : CDTLS_ERR_DECODE;
    case EXT13_CERTIFICATE_AUTHORITIES:
        /* DistinguishedName authorities<3..2^16-1>, each <1..2^16-1> */
        if (!reader_vec16(&b, 3, 0xffff, &v) || b.left) return CDTLS_ERR_DECODE;
        while (v.left) {
            cdtls_reader dn;
            if (!reader_vec16(&v, 1, 0xffff, &dn)) return CDTLS_ERR_DECODE;
        }
        return CDTLS_OK;
    case EXT13_PRE_SHARED_KEY:
        /* RFC 8446 §4.2.11: the last extension, checked by servers */
        if (!is_last) return CDTLS_ERR_ILLEGAL_PARAMETER;
        return read_offered_psks(&b, body, out);
    default: return CDTLS_OK;
    }
}

int hs13_client_hello_parse(const uint8_t *body, size_t len, hs13_client_hello *out)
{
    memset(out, 0, sizeof *out);
    if (hs_client_hello_parse(body, len, &out->legacy) != CDTLS_OK) return CDTLS_ERR_DECODE;
    /* the extensions block follows the compression methods; the legacy
     * parser checked its framing and that it ends the body */
    const uint8_t *ext = out->legacy.raw_compression + out->legacy.raw_compression_len;
    size_t at = (size_t)(ext - body);
    if (at == len) return CDTLS_OK;
    cdtls_reader r;
    reader_init(&r, ext, len - at);
    int rc = hs13_ext_block_read(&r, 0, HS13_IN_CH, &out->ext);
    if (rc != CDTLS_OK) return rc;
    size_t off = 0, i = 0;
    uint16_t type;
    const uint8_t *data;
    size_t dl;
    while (hs13_ext_next(&out->ext, &off, &type, &data, &dl)) {
        rc = read_ch_extension(out, body, type, data, dl, ++i == out->ext.count);
        if (rc != CDTLS_OK) return rc;
    }
    return CDTLS_OK;
}

int hs13_client_hello_offers_version(const hs13_client_hello *ch, uint16_t version)
{
    for (size_t i = 0; i + 1 < ch->versions_len; i += 2)
        if (get_u16(ch->versions + i) == version) return 1;
    return 0;
}

int hs13_client_hello_find_share(const hs13_client_hello *ch, uint16_t group, hs13_key_share *out)
{
    size_t off = 0;
    while (hs13_key_share_next(ch->key_shares, ch->key_shares_len, &off, out))
        if (out->group == group) return 1;
    memset(out, 0, sizeof *out);
    return 0;
}

static void put_ext_header(cdtls_writer *w, unsigned type, size_t len)
{
    writer_u16(w, type);
    writer_u16(w, (unsigned)len);
}

/* Fills in a block length reserved at len_at; an empty block is left out
 * when may_omit (hellos), kept as 00 00 otherwise. */
static void close_block(cdtls_writer *w, uint8_t *len_at, size_t start, int may_omit)
{
    if (!len_at) return;
    size_t n = w->len - start;
    if (n == 0 && may_omit)
        w->len -= 2;
    else if (n > 0xffff)
        w->failed = 1;
    else
        put_u16(len_at, (unsigned)n);
}

static int write_client_shares(cdtls_writer *w, const hs13_client_hello_params *in)
{
    size_t list = 0;
    for (size_t i = 0; i < in->n_shares; i++) {
        if (in->shares[i].key_len == 0 || in->shares[i].key_len > 0xffff) return CDTLS_ERR_INVALID_ARG;
        list += 4 + in->shares[i].key_len;
    }
    if (list > 0xfffd) return CDTLS_ERR_INVALID_ARG;
    put_ext_header(w, EXT13_KEY_SHARE, 2 + list);
    writer_u16(w, (unsigned)list);
    for (size_t i = 0; i < in->n_shares; i++) {
        writer_u16(w, in->shares[i].group);
        writer_u16(w, (unsigned)in->shares[i].key_len);
        writer_bytes(w, in->shares[i].key, in->shares[i].key_len);
    }
    return CDTLS_OK;
}

static int write_offered_psks(cdtls_writer *w, const hs13_client_hello_params *in, size_t body_start,
                              size_t *binders_offset)
{
    size_t ids = 0, binders = 0;
    for (size_t i = 0; i < in->n_psks; i++) {
        if (in->identities[i].identity_len == 0 || in->identities[i].identity_len > 0xffff)
            return CDTLS_ERR_INVALID_ARG;
        if (in->binders[i].len < 32 || in->binders[i].len > 255) return CDTLS_ERR_INVALID_ARG;
        ids += 2 + in->identities[i].identity_len + 4;
        binders += 1 + in->binders[i].len;
    }
    if (ids > 0xffff || binders > 0xffff || 4 + ids + binders > 0xffff) return CDTLS_ERR_INVALID_ARG;
    put_ext_header(w, EXT13_PRE_SHARED_KEY, 4 + ids + binders);
    writer_u16(w, (unsigned)ids);
    for (size_t i = 0; i < in->n_psks; i++) {
        writer_u16(w, (unsigned)in->identities[i].identity_len);
        writer_bytes(w, in->identities[i].identity, in->identities[i].identity_len);
        writer_u32(w, in->identities[i].obfuscated_ticket_age);
    }
    if (binders_offset) *binders_offset = w->len - body_start;
    writer_u16(w, (unsigned)binders);
    for (size_t i = 0; i < in->n_psks; i++) {
        writer_u8(w, (unsigned)in->binders[i].len);
        uint8_t *at = writer_reserve(w, in->binders[i].len);
        if (at && in->binders[i].p)
            memcpy(at, in->binders[i].p, in->binders[i].len);
        else if (at)
            memset(at, 0, in->binders[i].len);
    }
    return CDTLS_OK;
}

int hs13_client_hello_write(cdtls_writer *w, const hs13_client_hello_params *in, size_t *binders_offset)
{
    const hs_client_hello *l = &in->legacy;
    if (in->n_versions > 127 || in->cookie_len > 0xfffd ||
        (in->n_psks && (!in->identities || !in->binders)) || (in->n_shares && !in->shares))
        return CDTLS_ERR_INVALID_ARG;
    const size_t body_start = w->len;
    if (hs_client_hello_write_fields(w, l) != CDTLS_OK) return CDTLS_ERR_INVALID_ARG;
    uint8_t *len_at = writer_reserve(w, 2);
    size_t start = w->len;
    hs_extensions_write_entries(w, &l->ext, l->groups, l->n_groups, l->sig_algs, l->n_sig_algs);
    if (in->n_versions) {
        put_ext_header(w, EXT13_SUPPORTED_VERSIONS, 1 + 2 * in->n_versions);
        writer_u8(w, (unsigned)(2 * in->n_versions));
        for (size_t i = 0; i < in->n_versions; i++) writer_u16(w, in->versions[i]);
    }
    /* the cookie before the key shares (RFC 8446 §4.2 leaves the order
     * free but for pre_shared_key): a second hello carrying the hybrid's
     * share (1,216 bytes) comes in fragments, and a server that checks the
     * cookie statelessly may look for it in the fragment at offset 0 alone
     * (wolfSSL 5.9.2, WOLFSSL_DTLS_CH_FRAG: "Cookie probably missing from
     * first fragment. Dropping.") */
    if (in->cookie_len) {
        put_ext_header(w, EXT13_COOKIE, 2 + in->cookie_len);
        writer_u16(w, (unsigned)in->cookie_len);
        writer_bytes(w, in->cookie, in->cookie_len);
    }
    if ((in->n_shares || in->send_key_share) && write_client_shares(w, in) != CDTLS_OK)
        return CDTLS_ERR_INVALID_ARG;
    unsigned modes = in->psk_modes & ((1u << HS13_PSK_KE) | (1u << HS13_PSK_DHE_KE));
    if (modes) {
        unsigned n = (modes & 1u) + (modes >> 1);
        put_ext_header(w, EXT13_PSK_KEY_EXCHANGE_MODES, 1 + n);
        writer_u8(w, n);
        if (modes & (1u << HS13_PSK_DHE_KE)) writer_u8(w, HS13_PSK_DHE_KE); /* preferred first */
        if (modes & (1u << HS13_PSK_KE)) writer_u8(w, HS13_PSK_KE);
    }
    if (in->early_data) put_ext_header(w, EXT13_EARLY_DATA, 0);
    if (in->post_handshake_auth) put_ext_header(w, EXT13_POST_HANDSHAKE_AUTH, 0);
    /* RFC 8446 §4.2.11: pre_shared_key last */
    if (in->n_psks && write_offered_psks(w, in, body_start, binders_offset) != CDTLS_OK)
        return CDTLS_ERR_INVALID_ARG;
    close_block(w, len_at, start, 1);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs13_client_hello_set_binders(uint8_t *body, size_t len, size_t binders_offset, const hs13_bytes *binders,
                                  size_t n)
{
    if (!body || binders_offset > len || len - binders_offset < 2 || (n && !binders))
        return CDTLS_ERR_INVALID_ARG;
    uint8_t *p = body + binders_offset;
    size_t avail = len - binders_offset;
    if (get_u16(p) != avail - 2) return CDTLS_ERR_INVALID_ARG; /* the binders end the body */
    size_t off = 2;
    for (size_t i = 0; i < n; i++) {
        if (off >= avail || p[off] != binders[i].len || binders[i].len > avail - off - 1 || !binders[i].p)
            return CDTLS_ERR_INVALID_ARG;
        memcpy(p + off + 1, binders[i].p, binders[i].len);
        off += 1 + binders[i].len;
    }
    return off == avail ? CDTLS_OK : CDTLS_ERR_INVALID_ARG;
}

/* --------------------------------------------------------- ServerHello */

const uint8_t hs13_hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                     0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                     0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

int hs13_is_hrr_random(const uint8_t random[32])
{
    return memcmp(random, hs13_hrr_random, 32) == 0;
}

static const uint8_t downgrd[7] = {'D', 'O', 'W', 'N', 'G', 'R', 'D'};

hs13_downgrade hs13_downgrade_sentinel(const uint8_t random[32])
{
    if (memcmp(random + 24, downgrd, 7) != 0) return HS13_DOWNGRADE_NONE;
    if (random[31] == 1) return HS13_DOWNGRADE_DTLS12;
    if (random[31] == 0) return HS13_DOWNGRADE_DTLS10;
    return HS13_DOWNGRADE_NONE;
}

void hs13_downgrade_mark(uint8_t random[32], hs13_downgrade which)
{
    if (which == HS13_DOWNGRADE_NONE) return;
    memcpy(random + 24, downgrd, 7);
    random[31] = which == HS13_DOWNGRADE_DTLS12 ? 1 : 0;
}

static int read_sh_extension(hs13_server_hello *out, uint16_t type, const uint8_t *data, size_t len)
{
    cdtls_reader b, v;
    reader_init(&b, data, len);
    switch (type) {
    case EXT13_SUPPORTED_VERSIONS:
        out->has_selected_version = 1;
        return reader_u16(&b, &out->selected_version) && !b.left ? CDTLS_OK : CDTLS_ERR_DECODE;
    case EXT13_KEY_SHARE:
        out->has_key_share = 1;
        if (out->is_hrr) return reader_u16(&b, &out->selected_group) && !b.left ? CDTLS_OK : CDTLS_ERR_DECODE;
        reader_u16(&b, &out->share.group);
        if (!reader_vec16(&b, 1, 0xffff, &v) || b.left) return CDTLS_ERR_DECODE;
        out->share.key = v.p;
        out->share.key_len = v.left;
        return CDTLS_OK;
    case EXT13_PRE_SHARED_KEY:
        out->has_psk = 1;
        return reader_u16(&b, &out->selected_identity) && !b.left ? CDTLS_OK : CDTLS_ERR_DECODE;
    case EXT13_COOKIE:
        if (!reader_vec16(&b, 1, 0xffff, &v) || b.left) return CDTLS_ERR_DECODE;
        out->cookie = v.p;
        out->cookie_len = v.left;
        return CDTLS_OK;
    default: return CDTLS_OK;
    }
}

int hs13_server_hello_parse(const uint8_t *body, size_t len, hs13_server_hello *out)
{
    memset(out, 0, sizeof *out);
    if (hs_server_hello_parse(body, len, &out->legacy) != CDTLS_OK) return CDTLS_ERR_DECODE;
    out->is_hrr = hs13_is_hrr_random(out->legacy.random);
    /* version, random, session id, suite, compression: then the block */
    size_t at = 2 + 32 + 1 + out->legacy.session_id_len + 2 + 1;
    if (at == len) return CDTLS_OK;
    cdtls_reader r;
    reader_init(&r, body + at, len - at);
    int rc = hs13_ext_block_read(&r, 0, out->is_hrr ? HS13_IN_HRR : HS13_IN_SH, &out->ext);
    size_t off = 0;
    uint16_t type;
    const uint8_t *data;
    size_t dl;
    while (rc == CDTLS_OK && hs13_ext_next(&out->ext, &off, &type, &data, &dl))
        rc = read_sh_extension(out, type, data, dl);
    return rc;
}

int hs13_server_hello_write(cdtls_writer *w, const hs13_server_hello *in)
{
    const hs_server_hello *l = &in->legacy;
    if (in->cookie_len > 0xfffd ||
        (in->has_key_share && !in->is_hrr && (in->share.key_len == 0 || in->share.key_len > 0xfffb)))
        return CDTLS_ERR_INVALID_ARG;
    if (hs_server_hello_write_fields(w, l, in->is_hrr ? hs13_hrr_random : l->random) != CDTLS_OK)
        return CDTLS_ERR_INVALID_ARG;
    uint8_t *len_at = writer_reserve(w, 2);
    size_t start = w->len;
    hs_extensions_write_entries(w, &l->ext, NULL, 0, NULL, 0);
    if (in->has_selected_version) {
        put_ext_header(w, EXT13_SUPPORTED_VERSIONS, 2);
        writer_u16(w, in->selected_version);
    }
    if (in->has_key_share && in->is_hrr) {
        put_ext_header(w, EXT13_KEY_SHARE, 2);
        writer_u16(w, in->selected_group);
    } else if (in->has_key_share) {
        put_ext_header(w, EXT13_KEY_SHARE, 4 + in->share.key_len);
        writer_u16(w, in->share.group);
        writer_u16(w, (unsigned)in->share.key_len);
        writer_bytes(w, in->share.key, in->share.key_len);
    }
    if (in->has_psk) {
        put_ext_header(w, EXT13_PRE_SHARED_KEY, 2);
        writer_u16(w, in->selected_identity);
    }
    if (in->cookie_len) {
        put_ext_header(w, EXT13_COOKIE, 2 + in->cookie_len);
        writer_u16(w, (unsigned)in->cookie_len);
        writer_bytes(w, in->cookie, in->cookie_len);
    }
    close_block(w, len_at, start, 1);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* ------------------------------------------------ EncryptedExtensions */

int hs13_encrypted_extensions_parse(const uint8_t *body, size_t len, hs13_encrypted_extensions *out)
{
    cdtls_reader r;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    int rc = hs13_ext_block_read(&r, 0, HS13_IN_EE, &out->ext);
    if (rc != CDTLS_OK) return rc;
    if (r.left) return CDTLS_ERR_DECODE;
    /* the shared views, read by the 1.2 codec from the same bytes */
    reader_init(&r, body, len);
    if (hs_extensions_parse(&r, &out->shared) != CDTLS_OK || !reader_done(&r)) return CDTLS_ERR_DECODE;
    const uint8_t *d;
    size_t dl;
    if (hs13_ext_find(&out->ext, EXT13_EARLY_DATA, &d, &dl)) {
        if (dl != 0) return CDTLS_ERR_DECODE;
        out->early_data = 1;
    }
    return CDTLS_OK;
}

int hs13_encrypted_extensions_write(cdtls_writer *w, const hs_extensions *shared, int early_data)
{
    uint8_t *len_at = writer_reserve(w, 2);
    size_t start = w->len;
    if (shared) hs_extensions_write_entries(w, shared, NULL, 0, NULL, 0);
    if (early_data) put_ext_header(w, EXT13_EARLY_DATA, 0);
    close_block(w, len_at, start, 0);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* ------------------------------------------------- CertificateRequest */

/* A SignatureSchemeList<2..2^16-2> as the whole extension_data */
static int read_scheme_list(const uint8_t *data, size_t len, const uint8_t **list, size_t *list_len)
{
    cdtls_reader b, v;
    reader_init(&b, data, len);
    if (!reader_vec16(&b, 2, 0xfffe, &v) || b.left || v.left % 2) return 0;
    *list = v.p;
    *list_len = v.left;
    return 1;
}

int hs13_certificate_request_parse(const uint8_t *body, size_t len, hs13_certificate_request *out)
{
    cdtls_reader r, ctx;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (!reader_vec8(&r, 0, 255, &ctx)) return CDTLS_ERR_DECODE;
    out->context = ctx.p;
    out->context_len = ctx.left;
    int rc = hs13_ext_block_read(&r, 2, HS13_IN_CR, &out->ext);
    if (rc != CDTLS_OK) return rc;
    if (r.left) return CDTLS_ERR_DECODE;
    const uint8_t *d;
    size_t dl;
    /* RFC 8446 §4.3.2: signature_algorithms MUST be there */
    if (!hs13_ext_find(&out->ext, EXT_SIGNATURE_ALGORITHMS, &d, &dl)) return CDTLS_ERR_ILLEGAL_PARAMETER;
    if (!read_scheme_list(d, dl, &out->sig_algs, &out->sig_algs_len)) return CDTLS_ERR_DECODE;
    if (hs13_ext_find(&out->ext, EXT_SIGNATURE_ALGORITHMS_CERT, &d, &dl) &&
        !read_scheme_list(d, dl, &out->sig_algs_cert, &out->sig_algs_cert_len))
        return CDTLS_ERR_DECODE;
    return CDTLS_OK;
}

int hs13_certificate_request_write(cdtls_writer *w, const uint8_t *context, size_t context_len,
                                   const uint16_t *sig_algs, size_t n_sig_algs)
{
    if (context_len > 255 || n_sig_algs == 0 || n_sig_algs > 0x7ffd || !sig_algs)
        return CDTLS_ERR_INVALID_ARG;
    writer_u8(w, (unsigned)context_len);
    writer_bytes(w, context, context_len);
    writer_u16(w, (unsigned)(4 + 2 + 2 * n_sig_algs));
    put_ext_header(w, EXT_SIGNATURE_ALGORITHMS, 2 + 2 * n_sig_algs);
    writer_u16(w, (unsigned)(2 * n_sig_algs));
    for (size_t i = 0; i < n_sig_algs; i++) writer_u16(w, sig_algs[i]);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* -------------------------------------------------------- Certificate */

int hs13_certificate_next(cdtls_reader *list, hs13_cert_entry *out)
{
    cdtls_reader data;
    memset(out, 0, sizeof *out);
    if (!list->left || !reader_vec24(list, 1, 0xffffff, &data)) return 0;
    if (hs13_ext_block_read(list, 0, HS13_IN_CT, &out->ext) != CDTLS_OK) return 0;
    out->data = data.p;
    out->len = data.left;
    return 1;
}

int hs13_certificate_parse(const uint8_t *body, size_t len, size_t max, hs13_certificate *out)
{
    cdtls_reader r, ctx;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (!reader_vec8(&r, 0, 255, &ctx) || !reader_vec24(&r, 0, 0xffffff, &out->list) || r.left)
        return CDTLS_ERR_DECODE;
    out->context = ctx.p;
    out->context_len = ctx.left;
    /* walk once to check every entry, so hs13_certificate_next cannot fail
     * on a parsed message */
    cdtls_reader walk = out->list;
    while (walk.left) {
        cdtls_reader data;
        hs13_ext_block ext;
        if (!reader_vec24(&walk, 1, 0xffffff, &data)) return CDTLS_ERR_DECODE;
        int rc = hs13_ext_block_read(&walk, 0, HS13_IN_CT, &ext);
        if (rc != CDTLS_OK) return rc;
        if (++out->count > max) return CDTLS_ERR_LIMIT;
    }
    return CDTLS_OK;
}

int hs13_certificate_write(cdtls_writer *w, const uint8_t *context, size_t context_len,
                           const hs13_cert_entry *entries, size_t n)
{
    if (context_len > 255 || (n && !entries)) return CDTLS_ERR_INVALID_ARG;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].len == 0 || entries[i].len > 0xffffff || entries[i].ext.len > 0xffff)
            return CDTLS_ERR_INVALID_ARG;
        total += 3 + entries[i].len + 2 + entries[i].ext.len;
        if (total > 0xffffff) return CDTLS_ERR_INVALID_ARG;
    }
    writer_u8(w, (unsigned)context_len);
    writer_bytes(w, context, context_len);
    writer_u24(w, (uint32_t)total);
    for (size_t i = 0; i < n; i++) {
        writer_u24(w, (uint32_t)entries[i].len);
        writer_bytes(w, entries[i].data, entries[i].len);
        writer_u16(w, (unsigned)entries[i].ext.len);
        writer_bytes(w, entries[i].ext.p, entries[i].ext.len);
    }
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* -------------------------------------------------- CertificateVerify */

int hs13_certificate_verify_content(int from_server, const uint8_t *transcript_hash, size_t hash_len,
                                    uint8_t *out, size_t cap, size_t *out_len)
{
    static const char server_ctx[] = "TLS 1.3, server CertificateVerify";
    static const char client_ctx[] = "TLS 1.3, client CertificateVerify";
    if (!transcript_hash || !out || !out_len || hash_len == 0 || hash_len > 64) return CDTLS_ERR_INVALID_ARG;
    cdtls_writer w;
    writer_init(&w, out, cap);
    uint8_t *spaces = writer_reserve(&w, 64);
    if (spaces) memset(spaces, 0x20, 64);
    writer_bytes(&w, from_server ? server_ctx : client_ctx, sizeof server_ctx - 1);
    writer_u8(&w, 0);
    writer_bytes(&w, transcript_hash, hash_len);
    if (w.failed) return CDTLS_ERR_BUFFER_TOO_SMALL;
    *out_len = w.len;
    return CDTLS_OK;
}

/* ----------------------------------------- Finished, KeyUpdate, tickets */

int hs13_finished_parse(const uint8_t *body, size_t len, size_t hash_len, const uint8_t **verify_data)
{
    *verify_data = NULL;
    if (!body || hash_len == 0 || len != hash_len) return CDTLS_ERR_DECODE;
    *verify_data = body;
    return CDTLS_OK;
}

int hs13_key_update_parse(const uint8_t *body, size_t len, int *update_requested)
{
    *update_requested = 0;
    if (!body || len != 1) return CDTLS_ERR_DECODE;
    if (body[0] > 1) return CDTLS_ERR_ILLEGAL_PARAMETER;
    *update_requested = body[0];
    return CDTLS_OK;
}

int hs13_key_update_write(cdtls_writer *w, int update_requested)
{
    writer_u8(w, update_requested ? 1u : 0u);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs13_new_session_ticket_parse(const uint8_t *body, size_t len, hs13_new_session_ticket *out)
{
    cdtls_reader r, nonce, ticket;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    reader_u32(&r, &out->lifetime_s);
    reader_u32(&r, &out->age_add);
    if (!reader_vec8(&r, 0, 255, &nonce) || !reader_vec16(&r, 1, 0xffff, &ticket)) return CDTLS_ERR_DECODE;
    out->nonce = nonce.p;
    out->nonce_len = nonce.left;
    out->ticket = ticket.p;
    out->ticket_len = ticket.left;
    int rc = hs13_ext_block_read(&r, 0, HS13_IN_NST, &out->ext);
    if (rc != CDTLS_OK) return rc;
    if (r.left || out->ext.len > 0xfffe) return CDTLS_ERR_DECODE; /* extensions<0..2^16-2> */
    if (out->lifetime_s > HS13_MAX_TICKET_LIFETIME) return CDTLS_ERR_ILLEGAL_PARAMETER;
    const uint8_t *d;
    size_t dl;
    if (hs13_ext_find(&out->ext, EXT13_EARLY_DATA, &d, &dl)) {
        /* RFC 8446 §4.2.10: uint32 max_early_data_size */
        if (dl != 4) return CDTLS_ERR_DECODE;
        out->has_max_early_data = 1;
        out->max_early_data = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) | d[3];
    }
    return CDTLS_OK;
}

int hs13_new_session_ticket_write(cdtls_writer *w, const hs13_new_session_ticket *in)
{
    if (in->nonce_len > 255 || in->ticket_len == 0 || in->ticket_len > 0xffff ||
        in->lifetime_s > HS13_MAX_TICKET_LIFETIME)
        return CDTLS_ERR_INVALID_ARG;
    writer_u32(w, in->lifetime_s);
    writer_u32(w, in->age_add);
    writer_u8(w, (unsigned)in->nonce_len);
    writer_bytes(w, in->nonce, in->nonce_len);
    writer_u16(w, (unsigned)in->ticket_len);
    writer_bytes(w, in->ticket, in->ticket_len);
    if (in->has_max_early_data) {
        writer_u16(w, 8);
        put_ext_header(w, EXT13_EARLY_DATA, 4);
        writer_u32(w, in->max_early_data);
    } else {
        writer_u16(w, 0);
    }
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* ------------------------------------------------------------------ ACK */

#define RECORD_NUMBER_LEN 16u

int hs13_ack_parse(const uint8_t *body, size_t len, const uint8_t **list, size_t *count)
{
    cdtls_reader r, v;
    *list = NULL;
    *count = 0;
    reader_init(&r, body, len);
    if (!reader_vec16(&r, 0, 0xffff, &v) || r.left || v.left % RECORD_NUMBER_LEN) return CDTLS_ERR_DECODE;
    *list = v.p;
    *count = v.left / RECORD_NUMBER_LEN;
    return CDTLS_OK;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = (x << 8) | p[i];
    return x;
}

void hs13_ack_get(const uint8_t *list, size_t i, hs13_record_number *out)
{
    out->epoch = get_u64(list + i * RECORD_NUMBER_LEN);
    out->seq = get_u64(list + i * RECORD_NUMBER_LEN + 8);
}

int hs13_ack_write(cdtls_writer *w, const hs13_record_number *numbers, size_t n)
{
    if (n > 0xffff / RECORD_NUMBER_LEN || (n && !numbers)) return CDTLS_ERR_INVALID_ARG;
    writer_u16(w, (unsigned)(n * RECORD_NUMBER_LEN));
    for (size_t i = 0; i < n; i++) {
        writer_u32(w, (uint32_t)(numbers[i].epoch >> 32));
        writer_u32(w, (uint32_t)numbers[i].epoch);
        writer_u32(w, (uint32_t)(numbers[i].seq >> 32));
        writer_u32(w, (uint32_t)numbers[i].seq);
    }
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* ------------------------------------------------------ message_hash */

int hs13_message_hash(const uint8_t *ch1_hash, size_t hash_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!ch1_hash || !out || !out_len || hash_len == 0 || hash_len > 255) return CDTLS_ERR_INVALID_ARG;
    if (cap < 4 + hash_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    out[0] = HS13_MESSAGE_HASH;
    put_u24(out + 1, (uint32_t)hash_len);
    memcpy(out + 4, ch1_hash, hash_len);
    *out_len = 4 + hash_len;
    return CDTLS_OK;
}
