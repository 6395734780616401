/* Every DTLS 1.3 handshake message parser (src/handshake/hs13_msg.c), with
 * write -> parse round trips where the writer can say what the parser
 * accepted, and the invariants the engine will lean on (the binders end a
 * ClientHello at binders_offset, walks end exactly at their lists' ends).
 *
 * Input: byte 0 says which parser gets the rest (the message body, no
 * header): a HandshakeType (1 ClientHello, 2 ServerHello or
 * HelloRetryRequest, 4 NewSessionTicket, 8 EncryptedExtensions, 11
 * Certificate, 13 CertificateRequest, 15 CertificateVerify, 20 Finished,
 * 24 KeyUpdate, 9 RequestConnectionId, 10 NewConnectionId), 26 (the ACK
 * content type) for an ACK body, or 0xfe for a bare extensions block read
 * in each message context. */
#include <stdlib.h>
#include <string.h>

#include "common/dtls.h"
#include "fuzz_round_trip.h"
#include "handshake/hs13_msg.h"
#include "handshake/hs13_cid_msg.h"


static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* Every entry of a checked block, walked and found again. */
static void walk_block(const hs13_ext_block *b)
{
    size_t off = 0, count = 0;
    uint16_t type;
    const uint8_t *d, *d2;
    size_t dl, dl2;
    while (hs13_ext_next(b, &off, &type, &d, &dl)) {
        count++;
        CHECK(hs13_ext_find(b, type, &d2, &dl2) && d2 == d && dl2 == dl);
    }
    CHECK(count == b->count && off == b->len);
}

static void client_hello(const uint8_t *b, size_t n)
{
    hs13_client_hello ch;
    if (hs13_client_hello_parse(b, n, &ch) != CDTLS_OK) return;
    walk_block(&ch.ext);
    size_t off = 0, count = 0;
    hs13_key_share ks;
    while (hs13_key_share_next(ch.key_shares, ch.key_shares_len, &off, &ks)) count++;
    CHECK(count == ch.n_key_shares && off == ch.key_shares_len);
    hs13_psk_identity *ids = malloc((ch.n_identities ? ch.n_identities : 1) * sizeof *ids);
    hs13_bytes *binders = malloc((ch.n_binders ? ch.n_binders : 1) * sizeof *binders);
    if (!ids || !binders) abort();
    size_t ni = 0, nb = 0;
    off = 0;
    while (ni < ch.n_identities && hs13_psk_identity_next(ch.identities, ch.identities_len, &off, &ids[ni]))
        ni++;
    CHECK(ni == ch.n_identities && off == ch.identities_len);
    off = 0;
    while (nb < ch.n_binders && hs13_psk_binder_next(ch.binders, ch.binders_len, &off, &binders[nb])) nb++;
    CHECK(nb == ch.n_binders && off == ch.binders_len);
    if (ch.has_psk) {
        /* the binders list is the last thing in the hello */
        CHECK(ch.binders_offset + 2 + ch.binders_len == n);
        CHECK(b + ch.binders_offset + 2 == ch.binders);
    }

    /* write the 1.3 part back (legacy as parsed) and read it again */
    hs13_client_hello_params in;
    memset(&in, 0, sizeof in);
    in.legacy = ch.legacy;
    in.legacy.n_suites = ch.legacy.raw_suites_len / 2;
    uint16_t *suites = malloc((in.legacy.n_suites ? in.legacy.n_suites : 1) * sizeof *suites);
    uint16_t *versions = malloc((ch.versions_len / 2 + 1) * sizeof *versions);
    hs13_key_share *shares = malloc((ch.n_key_shares ? ch.n_key_shares : 1) * sizeof *shares);
    if (!suites || !versions || !shares) abort();
    for (size_t i = 0; i < in.legacy.n_suites; i++) suites[i] = get_u16(ch.legacy.raw_suites + 2 * i);
    in.legacy.suites = suites;
    in.legacy.groups = NULL, in.legacy.n_groups = 0; /* not compared here */
    in.legacy.sig_algs = NULL, in.legacy.n_sig_algs = 0;
    in.n_versions = ch.versions_len / 2;
    for (size_t i = 0; i < in.n_versions; i++) versions[i] = get_u16(ch.versions + 2 * i);
    in.versions = versions;
    off = 0;
    while (in.n_shares < ch.n_key_shares &&
           hs13_key_share_next(ch.key_shares, ch.key_shares_len, &off, &shares[in.n_shares]))
        in.n_shares++;
    in.shares = shares;
    in.send_key_share = ch.has_key_share;
    in.cookie = ch.cookie, in.cookie_len = ch.cookie_len;
    in.psk_modes = ch.psk_modes;
    in.early_data = ch.early_data;
    in.post_handshake_auth = ch.post_handshake_auth;
    in.identities = ids, in.binders = binders, in.n_psks = ch.has_psk ? ch.n_identities : 0;
    size_t cap = 2 * n + 1024, boff = 0;
    uint8_t *buf = xmalloc(cap);
    cdtls_writer w;
    writer_init(&w, buf, cap);
    if (hs13_client_hello_write(&w, &in, &boff) == CDTLS_OK) {
        hs13_client_hello back;
        CHECK(hs13_client_hello_parse(buf, w.len, &back) == CDTLS_OK);
        CHECK(same(back.versions, back.versions_len, ch.versions, ch.versions_len));
        CHECK(back.has_key_share == ch.has_key_share);
        CHECK(same(back.key_shares, back.key_shares_len, ch.key_shares, ch.key_shares_len));
        CHECK(same(back.cookie, back.cookie_len, ch.cookie, ch.cookie_len));
        CHECK(back.psk_modes == ch.psk_modes);
        CHECK(back.early_data == ch.early_data && back.post_handshake_auth == ch.post_handshake_auth);
        CHECK(back.has_psk == ch.has_psk);
        CHECK(same(back.identities, back.identities_len, ch.identities, ch.identities_len));
        CHECK(same(back.binders, back.binders_len, ch.binders, ch.binders_len));
        if (back.has_psk) {
            CHECK(back.binders_offset == boff);
            CHECK(hs13_client_hello_set_binders(buf, w.len, boff, binders, ch.n_binders) == CDTLS_OK);
        }
    }
    free(buf);
    free(suites);
    free(versions);
    free(shares);
    free(ids);
    free(binders);
}

static void server_hello(const uint8_t *b, size_t n)
{
    hs13_server_hello sh;
    if (hs13_server_hello_parse(b, n, &sh) != CDTLS_OK) return;
    walk_block(&sh.ext);
    CHECK(sh.is_hrr == hs13_is_hrr_random(sh.legacy.random));
    (void)hs13_downgrade_sentinel(sh.legacy.random);
    size_t cap = 2 * n + 1024;
    uint8_t *buf = xmalloc(cap);
    cdtls_writer w;
    writer_init(&w, buf, cap);
    if (hs13_server_hello_write(&w, &sh) == CDTLS_OK) {
        hs13_server_hello back;
        CHECK(hs13_server_hello_parse(buf, w.len, &back) == CDTLS_OK);
        CHECK(back.is_hrr == sh.is_hrr && memcmp(back.legacy.random, sh.legacy.random, 32) == 0);
        CHECK(back.legacy.cipher_suite == sh.legacy.cipher_suite);
        CHECK(back.has_selected_version == sh.has_selected_version &&
              back.selected_version == sh.selected_version);
        CHECK(back.has_key_share == sh.has_key_share && back.selected_group == sh.selected_group);
        CHECK(back.share.group == sh.share.group);
        CHECK(same(back.share.key, back.share.key_len, sh.share.key, sh.share.key_len));
        CHECK(back.has_psk == sh.has_psk && back.selected_identity == sh.selected_identity);
        CHECK(same(back.cookie, back.cookie_len, sh.cookie, sh.cookie_len));
    }
    free(buf);
}

static void certificate(const uint8_t *b, size_t n)
{
    hs13_certificate c;
    if (hs13_certificate_parse(b, n, 64, &c) != CDTLS_OK) return;
    hs13_cert_entry e[64];
    size_t got = 0;
    while (got < 64 && hs13_certificate_next(&c.list, &e[got])) walk_block(&e[got++].ext);
    CHECK(got == c.count && c.list.left == 0);
    uint8_t *buf = xmalloc(n + 16);
    cdtls_writer w;
    writer_init(&w, buf, n + 16);
    CHECK(hs13_certificate_write(&w, c.context, c.context_len, e, got) == CDTLS_OK && same(buf, w.len, b, n));
    free(buf);
}

static void ticket(const uint8_t *b, size_t n)
{
    hs13_new_session_ticket t;
    if (hs13_new_session_ticket_parse(b, n, &t) != CDTLS_OK) return;
    walk_block(&t.ext);
    uint8_t *buf = xmalloc(n + 16);
    cdtls_writer w;
    writer_init(&w, buf, n + 16);
    CHECK(hs13_new_session_ticket_write(&w, &t) == CDTLS_OK);
    hs13_new_session_ticket back;
    CHECK(hs13_new_session_ticket_parse(buf, w.len, &back) == CDTLS_OK);
    CHECK(back.lifetime_s == t.lifetime_s && back.age_add == t.age_add);
    CHECK(same(back.nonce, back.nonce_len, t.nonce, t.nonce_len));
    CHECK(same(back.ticket, back.ticket_len, t.ticket, t.ticket_len));
    CHECK(back.has_max_early_data == t.has_max_early_data && back.max_early_data == t.max_early_data);
    /* canonical when early_data was the only extension, or none */
    if (t.ext.count == (size_t)t.has_max_early_data) CHECK(same(buf, w.len, b, n));
    free(buf);
}

static void ack(const uint8_t *b, size_t n)
{
    const uint8_t *list;
    size_t count;
    if (hs13_ack_parse(b, n, &list, &count) != CDTLS_OK) return;
    hs13_record_number *rn = malloc((count ? count : 1) * sizeof *rn);
    if (!rn) abort();
    for (size_t i = 0; i < count; i++) hs13_ack_get(list, i, &rn[i]);
    ROUND_TRIP(CDTLS_OK, hs13_ack_write(w, rn, count));
    free(rn);
}

static void extensions_block(const uint8_t *b, size_t n)
{
    if (n > 0xffff) return;
    uint8_t *buf = xmalloc(n + 2);
    put_u16(buf, (unsigned)n);
    if (n) memcpy(buf + 2, b, n);
    for (int where = HS13_IN_CH; where <= HS13_IN_NST; where++) {
        cdtls_reader r;
        hs13_ext_block blk;
        reader_init(&r, buf, n + 2);
        if (hs13_ext_block_read(&r, 0, (hs13_ext_where)where, &blk) == CDTLS_OK) {
            CHECK(r.left == 0);
            walk_block(&blk);
        }
    }
    free(buf);
}

/* NewConnectionId (RFC 9147 §9): the walk ends exactly at the list's end
 * with as many entries as parsed, none empty; written back (when the
 * entries share one length, as ours do) it is the same bytes. */
static void new_cid(const uint8_t *b, size_t n)
{
    hs13_new_cid m;
    if (hs13_new_cid_parse(b, n, &m) != CDTLS_OK) return;
    CHECK(m.usage == HS13_CID_IMMEDIATE || m.usage == HS13_CID_SPARE);
    CHECK(2 + m.list_len + 1 == n);
    size_t off = 0, count = 0, len, first_len = 0;
    const uint8_t *cid;
    int one_len = 1;
    uint8_t *flat = xmalloc(m.list_len);
    size_t flat_len = 0;
    while (hs13_new_cid_next(&m, &off, &cid, &len)) {
        CHECK(len > 0 && cid > b && cid + len <= b + n);
        if (count == 0) first_len = len;
        one_len &= len == first_len;
        memcpy(flat + flat_len, cid, len);
        flat_len += len;
        count++;
    }
    CHECK(count == m.n_cids && off == m.list_len);
    if (one_len) {
        uint8_t *buf = xmalloc(n);
        cdtls_writer w;
        writer_init(&w, buf, n);
        CHECK(hs13_new_cid_write(&w, flat, first_len, count, m.usage) == CDTLS_OK);
        CHECK(w.len == n && same(buf, w.len, b, n));
        free(buf);
    }
    free(flat);
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
    case HS_NEW_SESSION_TICKET: ticket(b, n); break;
    case HS13_ENCRYPTED_EXTENSIONS: {
        hs13_encrypted_extensions ee;
        if (hs13_encrypted_extensions_parse(b, n, &ee) == CDTLS_OK) walk_block(&ee.ext);
        break;
    }
    case HS_CERTIFICATE: certificate(b, n); break;
    case HS_CERTIFICATE_REQUEST: {
        hs13_certificate_request cr;
        if (hs13_certificate_request_parse(b, n, &cr) == CDTLS_OK) {
            walk_block(&cr.ext);
            CHECK(cr.sig_algs_len >= 2 && cr.sig_algs_len % 2 == 0);
            CHECK(1 + cr.context_len + 2 + cr.ext.len == n);
        }
        break;
    }
    case HS_CERTIFICATE_VERIFY: {
        hs_certificate_verify cv;
        ROUND_TRIP(hs_certificate_verify_parse(b, n, &cv), hs_certificate_verify_write(w, &cv));
        uint8_t content[HS13_CV_CONTENT_MAX];
        size_t len = 0;
        if (n >= 1 && n <= 64) {
            CHECK(hs13_certificate_verify_content(n & 1, b, n, content, sizeof content, &len) == CDTLS_OK);
            CHECK(len == 98 + n && same(content + 98, n, b, n));
        }
        break;
    }
    case HS_FINISHED: {
        const uint8_t *vd;
        CHECK((hs13_finished_parse(b, n, 32, &vd) == CDTLS_OK) == (n == 32));
        CHECK((hs13_finished_parse(b, n, 48, &vd) == CDTLS_OK) == (n == 48));
        break;
    }
    case HS13_KEY_UPDATE: {
        int req;
        ROUND_TRIP(hs13_key_update_parse(b, n, &req), hs13_key_update_write(w, req));
        break;
    }
    case HS13_CONTENT_TYPE_ACK: ack(b, n); break;
    case HS13_NEW_CONNECTION_ID: new_cid(b, n); break;
    case HS13_REQUEST_CONNECTION_ID: {
        uint8_t num;
        CHECK((hs13_request_cid_parse(b, n, &num) == CDTLS_OK) == (n == 1));
        break;
    }
    case 0xfe: extensions_block(b, n); break;
    default: break;
    }
    return 0;
}
