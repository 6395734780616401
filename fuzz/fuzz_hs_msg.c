/* Every handshake message parser (src/handshake/hs_msg.c) and the
 * extensions block, with write -> parse round trips where the writer can
 * express what the parser accepted.
 *
 * Input: byte 0 is the HandshakeType and says which parser gets the rest
 * (the message body, no 12-byte header); the key exchanges are tried in
 * every form (PSK, ECDHE_PSK, ECDHE). Other values of byte 0:
 *   0xfe  the rest is an extensions block (2-byte length added here),
 *         parsed as part of a ClientHello and of a ServerHello;
 *   0xff  the rest is a run of fragment headers (hs_header_read). */
#include <stdlib.h>
#include <string.h>

#include "common/dtls.h"
#include "fuzz_common.h"
#include "fuzz_round_trip.h"
#include "handshake/hs_msg.h"


/* The extensions both hellos' writers put back as they were. */
static void check_ext(const hs_extensions *a, const hs_extensions *b)
{
    CHECK(!a->ems == !b->ems);
    CHECK(!a->encrypt_then_mac == !b->encrypt_then_mac);
    CHECK(!a->renegotiation_info == !b->renegotiation_info);
    CHECK(same(a->renegotiation_info_data, a->renegotiation_info_len, b->renegotiation_info_data,
               b->renegotiation_info_len));
    CHECK(same(a->alpn, a->alpn_len, b->alpn, b->alpn_len));
    CHECK(!a->use_srtp == !b->use_srtp);
    CHECK(same(a->srtp_profiles, a->srtp_profiles_len, b->srtp_profiles, b->srtp_profiles_len));
    CHECK(same(a->srtp_mki, a->srtp_mki_len, b->srtp_mki, b->srtp_mki_len));
    CHECK(!a->has_cid == !b->has_cid);
    CHECK(same(a->cid, a->cid_len, b->cid, b->cid_len));
    CHECK(same(a->server_name, a->server_name_len, b->server_name, b->server_name_len));
    CHECK(same(a->client_cert_type, a->client_cert_type_len, b->client_cert_type, b->client_cert_type_len));
    CHECK(same(a->server_cert_type, a->server_cert_type_len, b->server_cert_type, b->server_cert_type_len));
}

static void walk_alpn(const hs_extensions *e)
{
    size_t off = 0, n, total = 0;
    const uint8_t *name;
    while (hs_alpn_next(e->alpn, e->alpn_len, &off, &name, &n)) {
        CHECK(n >= 1 && name >= e->alpn && name + n <= e->alpn + e->alpn_len);
        total += 1 + n;
    }
    CHECK(total == e->alpn_len);
}

static uint16_t *u16_list(const uint8_t *raw, size_t len, size_t *n)
{
    *n = len / 2;
    uint16_t *v = malloc(*n ? *n * sizeof *v : 1);
    if (!v) abort();
    for (size_t i = 0; i < *n; i++) v[i] = (uint16_t)((raw[2 * i] << 8) | raw[2 * i + 1]);
    return v;
}

static void client_hello(const uint8_t *b, size_t n)
{
    hs_client_hello ch;
    if (hs_client_hello_parse(b, n, &ch) != CDTLS_OK) return;
    walk_alpn(&ch.ext);
    (void)hs_client_hello_offers_suite(&ch, 0xc0a8);
    (void)hs_client_hello_offers_group(&ch, 29);
    (void)hs_sig_algs_contain(ch.ext.signature_algorithms, ch.ext.signature_algorithms_len, 0x0403);
    /* write it back: our writer offers null compression only, the same
     * list for signature_algorithms and _cert, and groups only when the
     * list is not empty */
    if (!hs_client_hello_offers_null_compression(&ch) || ch.raw_compression_len != 1) return;
    if (ch.ext.has_signature_algorithms_cert) return;
    if (ch.ext.ec_point_formats && !(ch.ext.ec_point_uncompressed)) return;
    hs_client_hello in = ch;
    uint16_t *suites = u16_list(ch.raw_suites, ch.raw_suites_len, &in.n_suites);
    uint16_t *groups = u16_list(ch.ext.supported_groups, ch.ext.supported_groups_len, &in.n_groups);
    uint16_t *sigs = u16_list(ch.ext.signature_algorithms, ch.ext.signature_algorithms_len, &in.n_sig_algs);
    in.suites = suites, in.groups = groups, in.sig_algs = sigs;
    size_t cap = 2 * n + 1024;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    cdtls_writer w;
    writer_init(&w, buf, cap);
    if (hs_client_hello_write(&w, &in) == CDTLS_OK) {
        hs_client_hello back;
        CHECK(hs_client_hello_parse(buf, w.len, &back) == CDTLS_OK);
        CHECK(back.version == ch.version && memcmp(back.random, ch.random, 32) == 0);
        CHECK(same(back.session_id, back.session_id_len, ch.session_id, ch.session_id_len));
        CHECK(same(back.cookie, back.cookie_len, ch.cookie, ch.cookie_len));
        CHECK(same(back.raw_suites, back.raw_suites_len, ch.raw_suites, ch.raw_suites_len));
        CHECK(same(back.ext.supported_groups, back.ext.supported_groups_len, ch.ext.supported_groups,
                   ch.ext.supported_groups_len));
        CHECK(same(back.ext.signature_algorithms, back.ext.signature_algorithms_len,
                   ch.ext.signature_algorithms, ch.ext.signature_algorithms_len));
        CHECK(back.has_reneg_scsv == ch.has_reneg_scsv);
        check_ext(&ch.ext, &back.ext);
    }
    free(buf);
    free(suites);
    free(groups);
    free(sigs);
}

static void server_hello(const uint8_t *b, size_t n)
{
    hs_server_hello sh;
    if (hs_server_hello_parse(b, n, &sh) != CDTLS_OK) return;
    walk_alpn(&sh.ext);
    size_t cap = 2 * n + 1024;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    cdtls_writer w;
    writer_init(&w, buf, cap);
    if (hs_server_hello_write(&w, &sh) == CDTLS_OK) {
        hs_server_hello back;
        CHECK(hs_server_hello_parse(buf, w.len, &back) == CDTLS_OK);
        CHECK(back.version == sh.version && memcmp(back.random, sh.random, 32) == 0);
        CHECK(same(back.session_id, back.session_id_len, sh.session_id, sh.session_id_len));
        CHECK(back.cipher_suite == sh.cipher_suite);
        CHECK(back.compression_method == sh.compression_method);
        check_ext(&sh.ext, &back.ext);
    }
    free(buf);
}

static void extensions_block(const uint8_t *b, size_t n)
{
    if (n > 0xffff) return;
    /* ClientHello: version, random, empty session_id, empty cookie, one
     * suite, null compression, then the block */
    static const uint8_t ch_head[] = {0xfe, 0xfd, [34] = 0, 0, 0, 2, 0xc0, 0xa8, 1, 0};
    static const uint8_t sh_head[] = {0xfe, 0xfd, [34] = 0, 0xc0, 0xa8, 0};
    uint8_t *buf = malloc(sizeof ch_head + 2 + n);
    if (!buf) abort();
    for (int which = 0; which < 2; which++) {
        const uint8_t *head = which ? sh_head : ch_head;
        size_t hl = which ? sizeof sh_head : sizeof ch_head;
        memcpy(buf, head, hl);
        buf[hl] = (uint8_t)(n >> 8);
        buf[hl + 1] = (uint8_t)n;
        if (n) memcpy(buf + hl + 2, b, n);
        if (which)
            server_hello(buf, hl + 2 + n);
        else
            client_hello(buf, hl + 2 + n);
    }
    free(buf);
}

/* fuzz_hs_ext.c includes this file for the functions above and has its
 * own entry point. */
#ifndef FUZZ_HS_EXT_ONLY
static void key_exchanges(const uint8_t *b, size_t n, int server)
{
    static const hs_kx_kind kinds[] = {HS_KX_PSK, HS_KX_ECDHE_PSK, HS_KX_ECDHE};
    for (size_t k = 0; k < 3; k++) {
        if (server) {
            hs_server_key_exchange ske;
            ROUND_TRIP(hs_server_key_exchange_parse(b, n, kinds[k], &ske),
                       hs_server_key_exchange_write(w, kinds[k], &ske));
        } else {
            hs_client_key_exchange cke;
            ROUND_TRIP(hs_client_key_exchange_parse(b, n, kinds[k], &cke),
                       hs_client_key_exchange_write(w, kinds[k], &cke));
        }
    }
}

static void certificate(const uint8_t *b, size_t n)
{
    size_t count = 0;
    cdtls_reader list;
    if (hs_certificate_parse(b, n, 64, &count, &list) != CDTLS_OK) return;
    const uint8_t *certs[64];
    size_t lens[64], got = 0;
    while (got < 64 && hs_certificate_next(&list, &certs[got], &lens[got])) got++;
    CHECK(got == count && list.left == 0);
    CHECK(hs_certificate_size(lens, got) == n);
    uint8_t *buf = malloc(n + 16);
    if (!buf) abort();
    cdtls_writer cw;
    writer_init(&cw, buf, n + 16);
    CHECK(hs_certificate_write(&cw, certs, lens, got) == CDTLS_OK && same(buf, cw.len, b, n));
    free(buf);
    /* the same body as a raw public key (RFC 7250) */
    const uint8_t *spki;
    size_t spki_len;
    ROUND_TRIP(hs_raw_public_key_parse(b, n, &spki, &spki_len), hs_raw_public_key_write(w, spki, spki_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    switch (data[0]) {
    case HS_CLIENT_HELLO: client_hello(b, n); break;
    case HS_SERVER_HELLO: server_hello(b, n); break;
    case HS_HELLO_VERIFY_REQUEST: {
        hs_hello_verify_request hvr;
        ROUND_TRIP(hs_hello_verify_request_parse(b, n, &hvr), hs_hello_verify_request_write(w, &hvr));
        break;
    }
    case HS_CERTIFICATE: certificate(b, n); break;
    case HS_SERVER_KEY_EXCHANGE: key_exchanges(b, n, 1); break;
    case HS_CLIENT_KEY_EXCHANGE: key_exchanges(b, n, 0); break;
    case HS_CERTIFICATE_REQUEST: {
        hs_certificate_request cr;
        if (hs_certificate_request_parse(b, n, &cr) == CDTLS_OK) {
            (void)hs_sig_algs_contain(cr.sig_algs, cr.sig_algs_len, 0x0403);
            CHECK(cr.types_len >= 1 && cr.sig_algs_len >= 2 && cr.sig_algs_len % 2 == 0);
            CHECK(1 + cr.types_len + 2 + cr.sig_algs_len + 2 + cr.cas_len == n);
        }
        break;
    }
    case HS_NEW_SESSION_TICKET: {
        hs_new_session_ticket t;
        ROUND_TRIP(hs_new_session_ticket_parse(b, n, &t), hs_new_session_ticket_write(w, &t));
        break;
    }
    case HS_CERTIFICATE_VERIFY: {
        hs_certificate_verify cv;
        ROUND_TRIP(hs_certificate_verify_parse(b, n, &cv), hs_certificate_verify_write(w, &cv));
        break;
    }
    case 0xfe: extensions_block(b, n); break;
    case 0xff: {
        cdtls_reader r;
        reader_init(&r, b, n);
        while (r.left) {
            hs_header h;
            const uint8_t *frag;
            if (hs_header_read(&r, &h, &frag) != CDTLS_OK) break;
            CHECK(h.fragment_offset + h.fragment_length <= h.length);
        }
        break;
    }
    default: break;
    }
    return 0;
}
#endif
