#include "handshake/hs_msg.h"

#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"

/* ---------------------------------------------------------------- header */

int hs_header_read(cdtls_reader *r, hs_header *h, const uint8_t **frag)
{
    uint8_t type;
    uint16_t seq;
    reader_u8(r, &type);
    reader_u24(r, &h->length);
    reader_u16(r, &seq);
    reader_u24(r, &h->fragment_offset);
    reader_u24(r, &h->fragment_length);
    h->type = type;
    h->message_seq = seq;
    /* RFC 6347 §4.2.3: the fragment lies inside the message. 24-bit values
     * cannot overflow a uint32_t sum. */
    if (r->failed || h->fragment_offset + h->fragment_length > h->length ||
        !reader_bytes(r, h->fragment_length, frag)) {
        reader_fail(r);
        return CDTLS_ERR_DECODE;
    }
    return CDTLS_OK;
}

void hs_header_put(const hs_header *h, uint8_t out[12])
{
    out[0] = h->type;
    put_u24(out + 1, h->length);
    put_u16(out + 4, h->message_seq);
    put_u24(out + 6, h->fragment_offset);
    put_u24(out + 9, h->fragment_length);
}

void hs_header_get(const uint8_t in[12], hs_header *h)
{
    h->type = in[0];
    h->length = get_u24(in + 1);
    h->message_seq = get_u16(in + 4);
    h->fragment_offset = get_u24(in + 6);
    h->fragment_length = get_u24(in + 9);
}

/* ------------------------------------------------------------ extensions */

/* Bits for duplicate detection among the extensions cdtls reads. */
enum {
    SEEN_EMS = 1 << 0,
    SEEN_RENEG = 1 << 1,
    SEEN_ETM = 1 << 2,
    SEEN_POINTS = 1 << 3,
    SEEN_GROUPS = 1 << 4,
    SEEN_SIGALGS = 1 << 5,
    SEEN_SNI = 1 << 6,
    SEEN_SIGALGS_CERT = 1 << 7,
    SEEN_ALPN = 1 << 8,
    SEEN_SRTP = 1 << 9,
    SEEN_CID = 1 << 10,
    SEEN_CCT = 1 << 11,
    SEEN_SCT = 1 << 12,
    SEEN_TICKET = 1 << 13,
    SEEN_RRC = 1 << 14
};

/* RFC 7301 §3.1: ProtocolNameList protocol_name_list<2..2^16-1>, with
 * ProtocolName<1..2^8-1>; empty names are refused. */
static int parse_alpn(cdtls_reader *body, hs_extensions *e)
{
    cdtls_reader list;
    if (!reader_vec16(body, 2, 0xffff, &list) || body->left) return 0;
    e->alpn = list.p;
    e->alpn_len = list.left;
    while (list.left) {
        cdtls_reader name;
        if (!reader_vec8(&list, 1, 255, &name)) return 0;
    }
    return !list.failed;
}

int hs_alpn_next(const uint8_t *list, size_t len, size_t *off, const uint8_t **name, size_t *name_len)
{
    if (*off >= len) return 0;
    size_t n = list[*off];
    if (n == 0 || n > len - *off - 1) return 0; /* the parser refused these already */
    *name = list + *off + 1;
    *name_len = n;
    *off += 1 + n;
    return 1;
}

/* RFC 5764 §4.1.1: SRTPProtectionProfiles<2..2^16-1> (uint16 each) and
 * opaque srtp_mki<0..255>. */
static int parse_use_srtp(cdtls_reader *body, hs_extensions *e)
{
    cdtls_reader profiles, mki;
    if (!reader_vec16(body, 2, 0xfffe, &profiles) || profiles.left % 2) return 0;
    if (!reader_vec8(body, 0, 255, &mki) || body->left) return 0;
    e->use_srtp = 1;
    e->srtp_profiles = profiles.p;
    e->srtp_profiles_len = profiles.left;
    e->srtp_mki = mki.p;
    e->srtp_mki_len = mki.left;
    return 1;
}

static int parse_server_name(cdtls_reader *body, hs_extensions *e)
{
    /* RFC 6066 §3: ServerNameList; cdtls keeps the first host_name (0). */
    cdtls_reader list;
    if (!reader_vec16(body, 1, 0xffff, &list)) return 0;
    while (list.left) {
        uint8_t type;
        cdtls_reader name;
        reader_u8(&list, &type);
        if (!reader_vec16(&list, 1, 0xffff, &name)) return 0;
        if (type == 0 && !e->server_name) {
            e->server_name = name.p;
            e->server_name_len = name.left;
        }
    }
    return !list.failed && body->left == 0;
}

/* The extensions block (RFC 5246 §7.4.1.4): unknown ones are skipped, a
 * known one twice is an error, and so is a malformed known one. */
int hs_extensions_parse(cdtls_reader *r, hs_extensions *e)
{
    memset(e, 0, sizeof *e);
    if (r->left == 0) return CDTLS_OK; /* the block is optional */
    cdtls_reader block;
    if (!reader_vec16(r, 0, 0xffff, &block)) return CDTLS_ERR_DECODE;
    unsigned seen = 0, count = 0;
    while (block.left) {
        uint16_t type;
        cdtls_reader body;
        reader_u16(&block, &type);
        if (!reader_vec16(&block, 0, 0xffff, &body)) return CDTLS_ERR_DECODE;
        if (++count > HS_MAX_EXTENSIONS) return CDTLS_ERR_DECODE;
        unsigned bit = 0;
        int ok = 1;
        switch (type) {
        case EXT_EXTENDED_MASTER_SECRET:
            bit = SEEN_EMS;
            ok = body.left == 0; /* RFC 7627 §5.1: empty */
            e->ems = 1;
            break;
        case EXT_ENCRYPT_THEN_MAC:
            bit = SEEN_ETM;
            ok = body.left == 0; /* RFC 7366 §2: empty */
            e->encrypt_then_mac = 1;
            break;
        case EXT_RENEGOTIATION_INFO: {
            cdtls_reader ri;
            bit = SEEN_RENEG;
            ok = reader_vec8(&body, 0, 255, &ri) && body.left == 0;
            e->renegotiation_info = 1;
            e->renegotiation_info_data = ri.p;
            e->renegotiation_info_len = ri.left;
            break;
        }
        case EXT_EC_POINT_FORMATS: {
            cdtls_reader pf;
            bit = SEEN_POINTS;
            ok = reader_vec8(&body, 1, 255, &pf) && body.left == 0;
            e->ec_point_formats = 1;
            for (size_t i = 0; ok && i < pf.left; i++)
                if (pf.p[i] == 0) e->ec_point_uncompressed = 1;
            break;
        }
        case EXT_SUPPORTED_GROUPS: {
            cdtls_reader g;
            bit = SEEN_GROUPS;
            ok = reader_vec16(&body, 2, 0xfffe, &g) && body.left == 0 && g.left % 2 == 0;
            e->has_supported_groups = 1;
            e->supported_groups = g.p;
            e->supported_groups_len = g.left;
            break;
        }
        case EXT_SIGNATURE_ALGORITHMS: {
            cdtls_reader s;
            bit = SEEN_SIGALGS;
            ok = reader_vec16(&body, 2, 0xfffe, &s) && body.left == 0 && s.left % 2 == 0;
            e->has_signature_algorithms = 1;
            e->signature_algorithms = s.p;
            e->signature_algorithms_len = s.left;
            break;
        }
        case EXT_SIGNATURE_ALGORITHMS_CERT: {
            cdtls_reader sc;
            bit = SEEN_SIGALGS_CERT;
            ok = reader_vec16(&body, 2, 0xfffe, &sc) && body.left == 0 && sc.left % 2 == 0;
            e->has_signature_algorithms_cert = 1;
            e->signature_algorithms_cert = sc.p;
            e->signature_algorithms_cert_len = sc.left;
            break;
        }
        case EXT_ALPN:
            bit = SEEN_ALPN;
            ok = parse_alpn(&body, e);
            break;
        case EXT_USE_SRTP:
            bit = SEEN_SRTP;
            ok = parse_use_srtp(&body, e);
            break;
        case EXT_CONNECTION_ID: {
            /* RFC 9146 §3: opaque cid<0..2^8-1> */
            cdtls_reader cid;
            bit = SEEN_CID;
            ok = reader_vec8(&body, 0, 255, &cid) && body.left == 0;
            e->has_cid = 1;
            e->cid = cid.p;
            e->cid_len = cid.left;
            break;
        }
        case EXT_RRC:
            bit = SEEN_RRC;
            ok = body.left == 0; /* RFC 9853 §3: empty */
            e->has_rrc = 1;
            break;
        case EXT_CLIENT_CERTIFICATE_TYPE:
        case EXT_SERVER_CERTIFICATE_TYPE:
            /* RFC 7250 §3: ClientHello: CertificateType list<1..2^8-1>;
             * ServerHello: one CertificateType. Either way, not empty. */
            bit = type == EXT_CLIENT_CERTIFICATE_TYPE ? SEEN_CCT : SEEN_SCT;
            ok = body.left >= 1;
            if (type == EXT_CLIENT_CERTIFICATE_TYPE)
                e->client_cert_type = body.p, e->client_cert_type_len = body.left;
            else
                e->server_cert_type = body.p, e->server_cert_type_len = body.left;
            break;
        case EXT_SESSION_TICKET:
            /* RFC 5077 §3.2: the opaque ticket is the whole extension_data
             * (empty: "I support tickets", or the server's promise of one) */
            bit = SEEN_TICKET;
            e->session_ticket = 1;
            e->ticket = body.p;
            e->ticket_len = body.left;
            break;
        case EXT_SERVER_NAME:
            bit = SEEN_SNI;
            /* a server's empty server_name acknowledges the client's */
            ok = body.left == 0 || parse_server_name(&body, e);
            break;
        default: e->n_unknown++; break; /* unknown: ignored, counted */
        }
        if (!ok) return CDTLS_ERR_DECODE;
        if (bit & seen) return CDTLS_ERR_DECODE; /* §7.4.1.4: no duplicates */
        seen |= bit;
    }
    return block.failed ? CDTLS_ERR_DECODE : CDTLS_OK;
}

static void put_ext_header(cdtls_writer *w, unsigned type, size_t len)
{
    writer_u16(w, type);
    writer_u16(w, (unsigned)len);
}

void hs_extensions_write_entries(cdtls_writer *w, const hs_extensions *e, const uint16_t *groups,
                                 size_t n_groups, const uint16_t *sig_algs, size_t n_sig_algs)
{
    if (e->renegotiation_info) {
        put_ext_header(w, EXT_RENEGOTIATION_INFO, 1 + e->renegotiation_info_len);
        writer_u8(w, (unsigned)e->renegotiation_info_len);
        writer_bytes(w, e->renegotiation_info_data, e->renegotiation_info_len);
    }
    if (e->ems) put_ext_header(w, EXT_EXTENDED_MASTER_SECRET, 0);
    if (e->encrypt_then_mac) put_ext_header(w, EXT_ENCRYPT_THEN_MAC, 0);
    if (n_groups) {
        put_ext_header(w, EXT_SUPPORTED_GROUPS, 2 + 2 * n_groups);
        writer_u16(w, (unsigned)(2 * n_groups));
        for (size_t i = 0; i < n_groups; i++) writer_u16(w, groups[i]);
    }
    if (n_sig_algs) {
        /* the same list for handshake signatures and, with
         * signature_algorithms_cert, for the certificates themselves: we
         * verify whatever our provider can */
        static const unsigned exts[2] = {EXT_SIGNATURE_ALGORITHMS, EXT_SIGNATURE_ALGORITHMS_CERT};
        for (int k = 0; k < 2; k++) {
            put_ext_header(w, exts[k], 2 + 2 * n_sig_algs);
            writer_u16(w, (unsigned)(2 * n_sig_algs));
            for (size_t i = 0; i < n_sig_algs; i++) writer_u16(w, sig_algs[i]);
        }
    }
    if (e->ec_point_formats) {
        put_ext_header(w, EXT_EC_POINT_FORMATS, 2);
        writer_u8(w, 1);
        writer_u8(w, 0); /* uncompressed only (RFC 8422 §5.1.2) */
    }
    if (e->server_name_len) {
        put_ext_header(w, EXT_SERVER_NAME, 5 + e->server_name_len);
        writer_u16(w, (unsigned)(3 + e->server_name_len));
        writer_u8(w, 0);
        writer_u16(w, (unsigned)e->server_name_len);
        writer_bytes(w, e->server_name, e->server_name_len);
    }
    if (e->alpn_len) {
        put_ext_header(w, EXT_ALPN, 2 + e->alpn_len);
        writer_u16(w, (unsigned)e->alpn_len);
        writer_bytes(w, e->alpn, e->alpn_len);
    }
    if (e->use_srtp) {
        put_ext_header(w, EXT_USE_SRTP, 2 + e->srtp_profiles_len + 1 + e->srtp_mki_len);
        writer_u16(w, (unsigned)e->srtp_profiles_len);
        writer_bytes(w, e->srtp_profiles, e->srtp_profiles_len);
        writer_u8(w, (unsigned)e->srtp_mki_len);
        writer_bytes(w, e->srtp_mki, e->srtp_mki_len);
    }
    if (e->client_cert_type_len) {
        put_ext_header(w, EXT_CLIENT_CERTIFICATE_TYPE, e->client_cert_type_len);
        writer_bytes(w, e->client_cert_type, e->client_cert_type_len);
    }
    if (e->server_cert_type_len) {
        put_ext_header(w, EXT_SERVER_CERTIFICATE_TYPE, e->server_cert_type_len);
        writer_bytes(w, e->server_cert_type, e->server_cert_type_len);
    }
    if (e->session_ticket) {
        put_ext_header(w, EXT_SESSION_TICKET, e->ticket_len);
        writer_bytes(w, e->ticket, e->ticket_len);
    }
    if (e->has_cid) {
        put_ext_header(w, EXT_CONNECTION_ID, 1 + e->cid_len);
        writer_u8(w, (unsigned)e->cid_len);
        writer_bytes(w, e->cid, e->cid_len);
    }
    if (e->has_rrc) put_ext_header(w, EXT_RRC, 0);
}

/* Writes the extensions a hello carries (groups only in ClientHello). */
static void write_extensions(cdtls_writer *w, const hs_extensions *e, const uint16_t *groups, size_t n_groups,
                             const uint16_t *sig_algs, size_t n_sig_algs)
{
    uint8_t *len_at = writer_reserve(w, 2);
    size_t start = w->len;
    hs_extensions_write_entries(w, e, groups, n_groups, sig_algs, n_sig_algs);
    if (len_at) {
        size_t n = w->len - start;
        if (n == 0) {
            w->len -= 2; /* no extensions: omit the block */
        } else if (n > 0xffff) {
            w->failed = 1;
        } else {
            put_u16(len_at, (unsigned)n);
        }
    }
}

/* Both hellos start with version, random[32], session_id<0..32>. */
static int read_hello_start(cdtls_reader *r, uint16_t *version, uint8_t random[32], const uint8_t **sid,
                            size_t *sid_len)
{
    const uint8_t *rnd;
    cdtls_reader v;
    reader_u16(r, version);
    reader_bytes(r, 32, &rnd);
    if (!reader_vec8(r, 0, 32, &v)) return 0;
    memcpy(random, rnd, 32);
    *sid = v.p;
    *sid_len = v.left;
    return 1;
}

/* ----------------------------------------------------------- ClientHello */

/* client_version, random, session_id<0..32>, cookie<0..255>: the fields
 * before the first list that can be long. */
static int read_client_hello_prefix(cdtls_reader *r, const uint8_t *body, hs_client_hello_prefix *out,
                                    uint8_t random[32])
{
    cdtls_reader v;
    if (!read_hello_start(r, &out->version, random, &out->session_id, &out->session_id_len)) return 0;
    out->version_random_sid = body;
    out->version_random_sid_len = (size_t)(r->p - body);
    if (!reader_vec8(r, 0, 255, &v)) return 0;
    out->cookie = v.p;
    out->cookie_len = v.left;
    return 1;
}

int hs_client_hello_prefix_parse(const uint8_t *frag, size_t len, hs_client_hello_prefix *out)
{
    cdtls_reader r;
    uint8_t random[32];
    memset(out, 0, sizeof *out);
    reader_init(&r, frag, len);
    return read_client_hello_prefix(&r, frag, out, random) ? CDTLS_OK : CDTLS_ERR_DECODE;
}

int hs_client_hello_parse(const uint8_t *body, size_t len, hs_client_hello *out)
{
    cdtls_reader r, v;
    hs_client_hello_prefix pre;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (!read_client_hello_prefix(&r, body, &pre, out->random)) return CDTLS_ERR_DECODE;
    out->version = pre.version;
    out->session_id = pre.session_id;
    out->session_id_len = pre.session_id_len;
    out->raw_version_random_sid = pre.version_random_sid;
    out->raw_version_random_sid_len = pre.version_random_sid_len;
    out->cookie = pre.cookie;
    out->cookie_len = pre.cookie_len;
    /* cipher_suites<2..2^16-2>, an even number of bytes */
    if (!reader_vec16(&r, 2, 0xfffe, &v) || v.left % 2) return CDTLS_ERR_DECODE;
    out->raw_suites = v.p;
    out->raw_suites_len = v.left;
    for (size_t i = 0; i + 1 < v.left; i += 2)
        if (get_u16(v.p + i) == TLS_EMPTY_RENEGOTIATION_INFO_SCSV) out->has_reneg_scsv = 1;
    if (!reader_vec8(&r, 1, 255, &v)) return CDTLS_ERR_DECODE;
    out->raw_compression = v.p;
    out->raw_compression_len = v.left;
    if (hs_extensions_parse(&r, &out->ext) != CDTLS_OK) return CDTLS_ERR_DECODE;
    return reader_done(&r) ? CDTLS_OK : CDTLS_ERR_DECODE;
}

int hs_client_hello_write_fields(cdtls_writer *w, const hs_client_hello *in)
{
    if (in->session_id_len > 32 || in->cookie_len > 255 || in->n_suites == 0 || in->n_suites > 0x7ffe)
        return CDTLS_ERR_INVALID_ARG;
    writer_u16(w, in->version);
    writer_bytes(w, in->random, 32);
    writer_u8(w, (unsigned)in->session_id_len);
    writer_bytes(w, in->session_id, in->session_id_len);
    writer_u8(w, (unsigned)in->cookie_len);
    writer_bytes(w, in->cookie, in->cookie_len);
    writer_u16(w, (unsigned)(2 * in->n_suites));
    for (size_t i = 0; i < in->n_suites; i++) writer_u16(w, in->suites[i]);
    writer_u8(w, 1);
    writer_u8(w, 0); /* compression: null only */
    return CDTLS_OK;
}

int hs_client_hello_write(cdtls_writer *w, const hs_client_hello *in)
{
    int rc = hs_client_hello_write_fields(w, in);
    if (rc != CDTLS_OK) return rc;
    write_extensions(w, &in->ext, in->groups, in->n_groups, in->sig_algs, in->n_sig_algs);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs_client_hello_offers_suite(const hs_client_hello *ch, uint16_t suite)
{
    for (size_t i = 0; i + 1 < ch->raw_suites_len; i += 2)
        if (get_u16(ch->raw_suites + i) == suite) return 1;
    return 0;
}

int hs_client_hello_offers_group(const hs_client_hello *ch, uint16_t group)
{
    for (size_t i = 0; i + 1 < ch->ext.supported_groups_len; i += 2)
        if (get_u16(ch->ext.supported_groups + i) == group) return 1;
    return 0;
}

int hs_client_hello_offers_null_compression(const hs_client_hello *ch)
{
    for (size_t i = 0; i < ch->raw_compression_len; i++)
        if (ch->raw_compression[i] == 0) return 1;
    return 0;
}

/* ---------------------------------------------------- HelloVerifyRequest */

int hs_hello_verify_request_parse(const uint8_t *body, size_t len, hs_hello_verify_request *out)
{
    cdtls_reader r, c;
    reader_init(&r, body, len);
    reader_u16(&r, &out->version);
    if (!reader_vec8(&r, 0, 255, &c) || !reader_done(&r)) return CDTLS_ERR_DECODE;
    out->cookie = c.p;
    out->cookie_len = c.left;
    return CDTLS_OK;
}

int hs_hello_verify_request_write(cdtls_writer *w, const hs_hello_verify_request *in)
{
    if (in->cookie_len > 255) return CDTLS_ERR_INVALID_ARG;
    writer_u16(w, in->version);
    writer_u8(w, (unsigned)in->cookie_len);
    writer_bytes(w, in->cookie, in->cookie_len);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* ----------------------------------------------------------- ServerHello */

int hs_server_hello_parse(const uint8_t *body, size_t len, hs_server_hello *out)
{
    cdtls_reader r;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (!read_hello_start(&r, &out->version, out->random, &out->session_id, &out->session_id_len))
        return CDTLS_ERR_DECODE;
    reader_u16(&r, &out->cipher_suite);
    reader_u8(&r, &out->compression_method);
    if (r.failed || hs_extensions_parse(&r, &out->ext) != CDTLS_OK) return CDTLS_ERR_DECODE;
    return reader_done(&r) ? CDTLS_OK : CDTLS_ERR_DECODE;
}

int hs_server_hello_write_fields(cdtls_writer *w, const hs_server_hello *in, const uint8_t random[32])
{
    if (in->session_id_len > 32) return CDTLS_ERR_INVALID_ARG;
    writer_u16(w, in->version);
    writer_bytes(w, random, 32);
    writer_u8(w, (unsigned)in->session_id_len);
    writer_bytes(w, in->session_id, in->session_id_len);
    writer_u16(w, in->cipher_suite);
    writer_u8(w, in->compression_method);
    return CDTLS_OK;
}

int hs_server_hello_write(cdtls_writer *w, const hs_server_hello *in)
{
    int rc = hs_server_hello_write_fields(w, in, in->random);
    if (rc != CDTLS_OK) return rc;
    write_extensions(w, &in->ext, NULL, 0, NULL, 0);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* -------------------------------------------------------- key exchanges */

static int kx_has_psk(hs_kx_kind kind)
{
    return kind == HS_KX_PSK || kind == HS_KX_ECDHE_PSK;
}

static int kx_has_ecdh(hs_kx_kind kind)
{
    return kind == HS_KX_ECDHE_PSK || kind == HS_KX_ECDHE;
}

/* opaque <0..2^16-1>: the PSK identity hint (RFC 4279 §2) or identity */
static int read_psk_vector(cdtls_reader *r, const uint8_t **p, size_t *len)
{
    cdtls_reader v;
    if (!reader_vec16(r, 0, 0xffff, &v)) return 0;
    *p = v.p;
    *len = v.left;
    return 1;
}

static int write_vec16(cdtls_writer *w, const uint8_t *p, size_t len)
{
    if (len > 0xffff) return 0;
    writer_u16(w, (unsigned)len);
    writer_bytes(w, p, len);
    return 1;
}

/* ECPoint <1..2^8-1> (RFC 8422 §5.4, §5.7) */
static int write_ec_point(cdtls_writer *w, const uint8_t *p, size_t len)
{
    if (len == 0 || len > 255) return 0;
    writer_u8(w, (unsigned)len);
    writer_bytes(w, p, len);
    return 1;
}

/* ServerECDHParams (RFC 8422 §5.4): curve_type named_curve(3), NamedCurve,
 * ECPoint public<1..255>. */
static int read_ecdh_params(cdtls_reader *r, hs_server_key_exchange *out)
{
    const uint8_t *start = r->p;
    uint8_t curve_type;
    cdtls_reader pub;
    reader_u8(r, &curve_type);
    reader_u16(r, &out->named_curve);
    if (r->failed || curve_type != 3 || !reader_vec8(r, 1, 255, &pub)) return 0;
    out->public_key = pub.p;
    out->public_len = pub.left;
    out->params = start;
    out->params_len = (size_t)(r->p - start);
    return 1;
}

int hs_server_key_exchange_parse(const uint8_t *body, size_t len, hs_kx_kind kind,
                                 hs_server_key_exchange *out)
{
    cdtls_reader r, v;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (kx_has_psk(kind) && !read_psk_vector(&r, &out->psk_hint, &out->psk_hint_len)) return CDTLS_ERR_DECODE;
    if (kx_has_ecdh(kind) && !read_ecdh_params(&r, out)) return CDTLS_ERR_DECODE;
    if (kind == HS_KX_ECDHE) {
        reader_u16(&r, &out->sig_alg);
        if (!reader_vec16(&r, 0, 0xffff, &v)) return CDTLS_ERR_DECODE;
        out->signature = v.p;
        out->signature_len = v.left;
    }
    return reader_done(&r) ? CDTLS_OK : CDTLS_ERR_DECODE;
}

int hs_ecdh_params_write(cdtls_writer *w, uint16_t named_curve, const uint8_t *pub, size_t len)
{
    writer_u8(w, 3); /* curve_type named_curve */
    writer_u16(w, named_curve);
    if (!write_ec_point(w, pub, len)) return CDTLS_ERR_INVALID_ARG;
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs_server_key_exchange_write(cdtls_writer *w, hs_kx_kind kind, const hs_server_key_exchange *in)
{
    if (kx_has_psk(kind) && !write_vec16(w, in->psk_hint, in->psk_hint_len)) return CDTLS_ERR_INVALID_ARG;
    if (kx_has_ecdh(kind) &&
        hs_ecdh_params_write(w, in->named_curve, in->public_key, in->public_len) == CDTLS_ERR_INVALID_ARG)
        return CDTLS_ERR_INVALID_ARG;
    if (kind == HS_KX_ECDHE) {
        writer_u16(w, in->sig_alg);
        if (!write_vec16(w, in->signature, in->signature_len)) return CDTLS_ERR_INVALID_ARG;
    }
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs_client_key_exchange_parse(const uint8_t *body, size_t len, hs_kx_kind kind,
                                 hs_client_key_exchange *out)
{
    cdtls_reader r, v;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (kx_has_psk(kind) && !read_psk_vector(&r, &out->psk_identity, &out->psk_identity_len))
        return CDTLS_ERR_DECODE;
    if (kx_has_ecdh(kind)) {
        if (!reader_vec8(&r, 1, 255, &v)) return CDTLS_ERR_DECODE;
        out->public_key = v.p;
        out->public_len = v.left;
    }
    return reader_done(&r) ? CDTLS_OK : CDTLS_ERR_DECODE;
}

int hs_client_key_exchange_write(cdtls_writer *w, hs_kx_kind kind, const hs_client_key_exchange *in)
{
    if (kx_has_psk(kind) && !write_vec16(w, in->psk_identity, in->psk_identity_len))
        return CDTLS_ERR_INVALID_ARG;
    if (kx_has_ecdh(kind) && !write_ec_point(w, in->public_key, in->public_len)) return CDTLS_ERR_INVALID_ARG;
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* ----------------------------------------------------------- Certificate */

int hs_certificate_parse(const uint8_t *body, size_t len, size_t max, size_t *count, cdtls_reader *list)
{
    cdtls_reader r, walk, one;
    reader_init(&r, body, len);
    if (!reader_vec24(&r, 0, 0xffffff, list) || r.left) return CDTLS_ERR_DECODE;
    walk = *list;
    size_t n = 0;
    while (walk.left) {
        if (!reader_vec24(&walk, 1, 0xffffff, &one)) return CDTLS_ERR_DECODE;
        if (++n > max) return CDTLS_ERR_LIMIT;
    }
    *count = n;
    return CDTLS_OK;
}

int hs_certificate_next(cdtls_reader *list, const uint8_t **der, size_t *der_len)
{
    cdtls_reader one;
    if (!list->left || !reader_vec24(list, 1, 0xffffff, &one)) return 0;
    *der = one.p;
    *der_len = one.left;
    return 1;
}

size_t hs_certificate_size(const size_t *lens, size_t n)
{
    size_t total = 3;
    for (size_t i = 0; i < n; i++) total += 3 + lens[i];
    return total;
}

int hs_certificate_write(cdtls_writer *w, const uint8_t *const *certs, const size_t *lens, size_t n)
{
    size_t total = hs_certificate_size(lens, n) - 3;
    if (total > 0xffffff) return CDTLS_ERR_INVALID_ARG;
    writer_u24(w, (uint32_t)total);
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > 0xffffff) return CDTLS_ERR_INVALID_ARG;
        writer_u24(w, (uint32_t)lens[i]);
        writer_bytes(w, certs[i], lens[i]);
    }
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs_sig_algs_contain(const uint8_t *list, size_t len, uint16_t id)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        if (get_u16(list + i) == id) return 1;
    return 0;
}

/* ---------------------------------------- CertificateRequest / Verify */

int hs_certificate_request_parse(const uint8_t *body, size_t len, hs_certificate_request *out)
{
    cdtls_reader r, v;
    memset(out, 0, sizeof *out);
    reader_init(&r, body, len);
    if (!reader_vec8(&r, 1, 255, &v)) return CDTLS_ERR_DECODE;
    out->types = v.p, out->types_len = v.left;
    if (!reader_vec16(&r, 2, 0xfffe, &v) || v.left % 2) return CDTLS_ERR_DECODE;
    out->sig_algs = v.p, out->sig_algs_len = v.left;
    if (!reader_vec16(&r, 0, 0xffff, &v)) return CDTLS_ERR_DECODE;
    out->cas = v.p, out->cas_len = v.left;
    return reader_done(&r) ? CDTLS_OK : CDTLS_ERR_DECODE;
}

int hs_certificate_request_write(cdtls_writer *w, const uint16_t *sig_algs, size_t n)
{
    if (n == 0 || n > 0x7fff) return CDTLS_ERR_INVALID_ARG;
    writer_u8(w, 2);
    writer_u8(w, 64); /* ecdsa_sign (RFC 8422 §5.5; also Ed25519) */
    writer_u8(w, 1);  /* rsa_sign */
    writer_u16(w, (unsigned)(2 * n));
    for (size_t i = 0; i < n; i++) writer_u16(w, sig_algs[i]);
    writer_u16(w, 0); /* certificate_authorities: any */
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs_certificate_verify_parse(const uint8_t *body, size_t len, hs_certificate_verify *out)
{
    cdtls_reader r, v;
    reader_init(&r, body, len);
    reader_u16(&r, &out->sig_alg);
    if (!reader_vec16(&r, 0, 0xffff, &v) || !reader_done(&r)) return CDTLS_ERR_DECODE;
    out->signature = v.p, out->signature_len = v.left;
    return CDTLS_OK;
}

int hs_certificate_verify_write(cdtls_writer *w, const hs_certificate_verify *in)
{
    writer_u16(w, in->sig_alg);
    if (!write_vec16(w, in->signature, in->signature_len)) return CDTLS_ERR_INVALID_ARG;
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int hs_raw_public_key_parse(const uint8_t *body, size_t len, const uint8_t **spki, size_t *spki_len)
{
    cdtls_reader r, v;
    reader_init(&r, body, len);
    if (!reader_vec24(&r, 1, 0xffffff, &v) || r.left) return CDTLS_ERR_DECODE;
    *spki = v.p;
    *spki_len = v.left;
    return CDTLS_OK;
}

int hs_raw_public_key_write(cdtls_writer *w, const uint8_t *spki, size_t spki_len)
{
    if (!spki_len || spki_len > 0xffffff) return CDTLS_ERR_INVALID_ARG;
    writer_u24(w, (uint32_t)spki_len);
    writer_bytes(w, spki, spki_len);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* NewSessionTicket (RFC 5077 §3.3): uint32 ticket_lifetime_hint, then
 * opaque ticket<0..2^16-1>; an empty ticket means "none after all". */
int hs_new_session_ticket_parse(const uint8_t *body, size_t len, hs_new_session_ticket *out)
{
    cdtls_reader r, t;
    reader_init(&r, body, len);
    reader_u32(&r, &out->lifetime_hint_s);
    if (!reader_vec16(&r, 0, 0xffff, &t) || r.left != 0) return CDTLS_ERR_DECODE;
    out->ticket = t.p;
    out->ticket_len = t.left;
    return CDTLS_OK;
}

int hs_new_session_ticket_write(cdtls_writer *w, const hs_new_session_ticket *in)
{
    if (in->ticket_len > 0xffff) return CDTLS_ERR_INVALID_ARG;
    writer_u32(w, in->lifetime_hint_s);
    writer_u16(w, (unsigned)in->ticket_len);
    writer_bytes(w, in->ticket, in->ticket_len);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}
