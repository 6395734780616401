/* cdtls_hello_verifier: the stateless cookie exchange a server runs before
 * it allocates a connection for a peer (RFC 6347 §4.2.1; RFC 9147 §5.1
 * for DTLS 1.3, whose HelloRetryRequest carries the cookie).
 *
 * A ClientHello may be fragmented over several records and datagrams (RFC
 * 6347 §4.2.3, RFC 9147 §5.5): today's DTLS 1.3 clients with post-quantum
 * key shares send ~1.4 KB hellos. The 1.2 cookie binds only what the
 * fragment at offset 0 always carries (address, client_version, random,
 * session_id; see hs_cookie_parts), so without DTLS 1.3 a first hello is
 * answered, and a second hello's legacy cookie checked, from that fragment
 * alone and nothing is kept. With DTLS 1.3 that is not enough: the 1.3
 * cookie holds Hash(ClientHello1) over the whole hello (RFC 8446 §4.4.1),
 * and supported_versions (does it offer 1.3?) and the cookie extension
 * (a returning 1.3 client) may be in any fragment. Such hellos are
 * reassembled first, under hard bounds (hello_reasm.h). Answering a
 * fragmented 1.3 hello with a HelloVerifyRequest instead would make its
 * client return a legacy_cookie, which RFC 9147 §5.3 forbids a server that
 * negotiates 1.3 to accept. */
#include <string.h>

#include "cdtls/conn.h"
#include "cdtls/io.h"
#include "common/dtls.h"
#include "common/mem.h"
#include "common/reader.h"
#include "engine/conn_internal.h"
#include "engine/hello_reasm.h"

#include "engine/hs13_internal.h"

struct cdtls_hello_verifier {
    const cdtls_provider *p;
    const cdtls_allocator *a;
    cookie_keys keys;
#if CDTLS_HAVE_DTLS13
    /* what the DTLS 1.3 HelloRetryRequest needs of the configuration
     * (suites, groups, versions; pointers borrowed like the config's) */
    cdtls_config cfg;
    int reasm_on; /* the configuration serves 1.3: fragmented hellos are reassembled */
    hello_reasm reasm;
#endif
};

/* cdtls_hello_verifier_check_full's "nothing to send: fragments held" */
#define HELD 1

int cdtls_hello_verifier_new(const cdtls_config *cfg, uint64_t now_ms, cdtls_hello_verifier **out)
{
    if (!cfg || !out) return CDTLS_ERR_INVALID_ARG;
    const cdtls_provider *p = cfg->provider ? cfg->provider : cdtls_provider_default();
    const cdtls_allocator *a = cfg->allocator ? cfg->allocator : cdtls_allocator_libc();
    if (!p || !a) return CDTLS_ERR_UNSUPPORTED;
    cdtls_hello_verifier *v = cdtls_alloc_zero(a, sizeof *v);
    if (!v) return CDTLS_ERR_NOMEM;
    v->p = p;
    v->a = a;
#if CDTLS_HAVE_DTLS13
    /* a caller's older (shorter) struct: its prefix, the defaults after */
    cdtls_config_init(&v->cfg);
    memcpy(&v->cfg, cfg, cfg->size && cfg->size < sizeof v->cfg ? cfg->size : sizeof v->cfg);
    v->cfg.size = sizeof v->cfg;
    const struct cdtls_config_hello_reasm *hr = &v->cfg.hello_reasm;
    hello_reasm_limits lim = {
        hr->max_pending ? hr->max_pending : CDTLS_HELLO_REASM_MAX_PENDING,
        hr->max_per_source ? hr->max_per_source : CDTLS_HELLO_REASM_PER_SOURCE,
        CDTLS_MAX_CLIENT_HELLO_LEN,
        hr->budget ? hr->budget : CDTLS_HELLO_REASM_BUDGET,
        hr->timeout_ms ? hr->timeout_ms : CDTLS_HELLO_REASM_TIMEOUT_MS,
    };
    hello_reasm_init(&v->reasm, a, &lim);
    v->reasm_on = hs13_cfg_server_enabled(&v->cfg, p);
#endif
    int rc = cookie_keys_init(&v->keys, p, cfg->cookie.rotate_ms, now_ms);
    if (rc) {
        cdtls_free_wipe(a, v, sizeof *v);
        return rc;
    }
    *out = v;
    return CDTLS_OK;
}

void cdtls_hello_verifier_free(cdtls_hello_verifier *v)
{
    if (!v) return;
#if CDTLS_HAVE_DTLS13
    hello_reasm_free(&v->reasm);
#endif
    cdtls_free_wipe(v->a, v, sizeof *v);
}

void cdtls_hello_verifier_release(cdtls_hello_verifier *v, uint8_t *hello, size_t hello_len)
{
    if (v && hello) cdtls_free_wipe(v->a, hello, hello_len);
}

/* The 1.2 cookie of a hello's first bytes (pre): CDTLS_OK when it is ours,
 * else the HelloVerifyRequest (CDTLS_ERR_WOULD_BLOCK) or an error. */
static int legacy_cookie_step(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                              const hs_client_hello_prefix *pre, uint16_t msg_seq, uint64_t record_seq,
                              uint8_t *reply, size_t reply_cap, size_t *reply_len)
{
    cookie_part parts[2];
    size_t np = hs_cookie_parts(pre->version_random_sid, pre->version_random_sid_len, addr, addr_len, parts);
    if (cookie_verify(v->p, &v->keys, parts, np, pre->cookie, pre->cookie_len) == CDTLS_OK) return CDTLS_OK;
    uint8_t cookie[COOKIE_LEN];
    int rc = cookie_make(v->p, &v->keys, parts, np, cookie);
    if (!rc) rc = hs_write_hello_verify(reply, reply_cap, reply_len, record_seq, msg_seq, cookie, COOKIE_LEN);
    return rc ? rc : CDTLS_ERR_WOULD_BLOCK;
}

/* A whole ClientHello body: the HelloRetryRequest with a cookie when it
 * offers 1.3 and we serve 1.3 (RFC 9147 §5.1), else the 1.2 exchange. The
 * reply echoes record_seq and msg_seq (RFC 6347 §4.2.1). A hello that does
 * not parse gets no reply (no reflection of garbage). */
static int answer_whole(cdtls_hello_verifier *v, const void *addr, size_t addr_len, const uint8_t *body,
                        size_t len, uint16_t msg_seq, uint64_t record_seq, uint8_t *reply, size_t reply_cap,
                        size_t *reply_len)
{
    hs_client_hello ch;
    hs_client_hello_prefix pre;
    if (hs_client_hello_parse(body, len, &ch) != CDTLS_OK) return CDTLS_ERR_DECODE;
    if (hs_client_hello_prefix_parse(body, len, &pre) != CDTLS_OK) return CDTLS_ERR_DECODE;
#if CDTLS_HAVE_DTLS13
    int answered = 0, verified = 0;
    int rc = hs13_verifier_hello(&v->cfg, v->p, &v->keys, addr, addr_len, body, len, msg_seq, record_seq,
                                 reply, reply_cap, reply_len, &answered, &verified);
    if (rc) return rc;
    if (verified) return CDTLS_OK;
    if (answered) return CDTLS_ERR_WOULD_BLOCK;
#endif
    return legacy_cookie_step(v, addr, addr_len, &pre, msg_seq, record_seq, reply, reply_cap, reply_len);
}

#if CDTLS_HAVE_DTLS13
/* The source a hello counts against (hello_reasm.h): the /24 or /64 of a
 * cdtls_addr (what the socket listener passes, as its own per-source limit
 * groups peers, sock.c same_prefix), else the whole address. */
static size_t source_of(const void *addr, size_t addr_len, uint8_t out[HELLO_REASM_ADDR_MAX])
{
    if (addr_len == sizeof(cdtls_addr)) {
        cdtls_addr a;
        memcpy(&a, addr, sizeof a);
        if (a.ip.family == 4 || a.ip.family == 6) {
            size_t n = a.ip.family == 6 ? 8 : 3;
            out[0] = a.ip.family;
            memcpy(out + 1, a.ip.addr, n);
            return 1 + n;
        }
    }
    size_t n = addr_len < HELLO_REASM_ADDR_MAX ? addr_len : HELLO_REASM_ADDR_MAX;
    if (n) memcpy(out, addr, n);
    return n;
}

/* The whole hello msg (12-byte header, body) as one datagram of plaintext
 * epoch-0 records, for the connection the verified hello makes: pieces of
 * at most 8 KB (a record carries at most 2^14 bytes), numbered up to the
 * highest record number its fragments came in. */
#define WHOLE_PIECE 8192u
static int whole_datagram(cdtls_hello_verifier *v, const uint8_t *msg, size_t msg_len, uint64_t max_seq,
                          uint8_t **out, size_t *out_len)
{
    size_t body_len = msg_len - DTLS_HS_HEADER_LEN;
    size_t pieces = body_len ? (body_len + WHOLE_PIECE - 1) / WHOLE_PIECE : 1;
    size_t cap = pieces * (DTLS_RECORD_HEADER_LEN + DTLS_HS_HEADER_LEN) + body_len;
    uint8_t *d = cdtls_alloc_zero(v->a, cap);
    if (!d) return CDTLS_ERR_NOMEM;
    hs_header whole;
    hs_header_get(msg, &whole);
    uint64_t seq = max_seq >= pieces - 1 ? max_seq - (pieces - 1) : 0;
    size_t used = 0;
    uint8_t piece[DTLS_HS_HEADER_LEN + WHOLE_PIECE];
    for (size_t i = 0; i < pieces; i++) {
        size_t off = i * WHOLE_PIECE, n = body_len - off < WHOLE_PIECE ? body_len - off : WHOLE_PIECE;
        hs_header h = {HS_CLIENT_HELLO, whole.length, whole.message_seq, (uint32_t)off, (uint32_t)n};
        hs_header_put(&h, piece);
        if (n) memcpy(piece + DTLS_HS_HEADER_LEN, msg + DTLS_HS_HEADER_LEN + off, n);
        size_t w = 0;
        int rc = record_seal(NULL, CT_HANDSHAKE, DTLS_VERSION_1_2, 0, seq + i, piece, DTLS_HS_HEADER_LEN + n,
                             d + used, cap - used, &w);
        if (rc) {
            cdtls_free_wipe(v->a, d, cap);
            return rc;
        }
        used += w;
    }
    *out = d;
    *out_len = used;
    return CDTLS_OK;
}

/* A fragment of a hello whose configuration serves 1.3: a legacy cookie at
 * offset 0 that verifies passes at once (RFC 6347 §4.2.1 as without 1.3;
 * the connection refuses it if it then negotiates 1.3, RFC 9147 §5.3);
 * anything else is reassembled and answered once whole. */
static int on_fragment13(cdtls_hello_verifier *v, const void *addr, size_t addr_len, const record_header *rh,
                         const hs_header *h, const uint8_t *frag, uint64_t now_ms, uint8_t *reply,
                         size_t reply_cap, size_t *reply_len, uint8_t **hello, size_t *hello_len)
{
    hs_client_hello_prefix pre;
    if (h->fragment_offset == 0 && hs_client_hello_prefix_parse(frag, h->fragment_length, &pre) == CDTLS_OK &&
        pre.cookie_len) {
        cookie_part parts[2];
        size_t np = hs_cookie_parts(pre.version_random_sid, pre.version_random_sid_len, addr, addr_len,
                                    parts);
        if (cookie_verify(v->p, &v->keys, parts, np, pre.cookie, pre.cookie_len) == CDTLS_OK) {
            hello_reasm_forget(&v->reasm, addr, addr_len, h->message_seq);
            return CDTLS_OK;
        }
    }
    uint8_t src[HELLO_REASM_ADDR_MAX];
    size_t sl = source_of(addr, addr_len, src);
    hello_pending *done = NULL;
    int rc = hello_reasm_add(&v->reasm, addr, addr_len, src, sl, h, frag, rh->seq, now_ms, &done);
    if (rc < 0) return rc;
    if (rc == CDTLS_OK) return HELD;
    const uint8_t *msg;
    size_t msg_len;
    (void)hello_pending_message(done, &msg, &msg_len);
    rc = answer_whole(v, addr, addr_len, msg + DTLS_HS_HEADER_LEN, msg_len - DTLS_HS_HEADER_LEN,
                      h->message_seq, done->max_record_seq, reply, reply_cap, reply_len);
    if (rc == CDTLS_OK && hello) rc = whole_datagram(v, msg, msg_len, done->max_record_seq, hello, hello_len);
    hello_reasm_drop(&v->reasm, done);
    return rc;
}
#endif

/* One ClientHello fragment (h, frag) of record rh. */
static int on_fragment(cdtls_hello_verifier *v, const void *addr, size_t addr_len, const record_header *rh,
                       const hs_header *h, const uint8_t *frag, uint64_t now_ms, uint8_t *reply,
                       size_t reply_cap, size_t *reply_len, uint8_t **hello, size_t *hello_len)
{
    if (h->length > CDTLS_MAX_CLIENT_HELLO_LEN) return CDTLS_ERR_LIMIT;
    if (h->fragment_offset == 0 && h->fragment_length == h->length)
        return answer_whole(v, addr, addr_len, frag, h->length, h->message_seq, rh->seq, reply, reply_cap,
                            reply_len);
#if CDTLS_HAVE_DTLS13
    if (v->reasm_on)
        return on_fragment13(v, addr, addr_len, rh, h, frag, now_ms, reply, reply_cap, reply_len, hello,
                             hello_len);
#else
    (void)now_ms, (void)hello, (void)hello_len;
#endif
    /* stateless: the fragment at offset 0 through the cookie is enough */
    hs_client_hello_prefix pre;
    if (h->fragment_offset != 0) return CDTLS_ERR_DECODE;
    int rc = hs_client_hello_prefix_parse(frag, h->fragment_length, &pre);
    if (rc) return rc;
    return legacy_cookie_step(v, addr, addr_len, &pre, h->message_seq, rh->seq, reply, reply_cap, reply_len);
}

int cdtls_hello_verifier_check_full(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                                    const uint8_t *dgram, size_t len, uint64_t now_ms, uint8_t *reply,
                                    size_t reply_cap, size_t *reply_len, uint8_t **hello, size_t *hello_len)
{
    if (!v || (!addr && addr_len) || !dgram || !reply || !reply_len || (hello && !hello_len))
        return CDTLS_ERR_INVALID_ARG;
    *reply_len = 0;
    if (hello) *hello = NULL, *hello_len = 0;
    int rc = cookie_keys_tick(&v->keys, v->p, now_ms);
    if (rc) return rc;
#if CDTLS_HAVE_DTLS13
    if (v->reasm_on) hello_reasm_expire(&v->reasm, now_ms);
#endif

    /* Every ClientHello fragment of the datagram's epoch-0 handshake
     * records, in order: a datagram may carry several records (RFC 6347
     * §4.1.1) and a record several fragments (§4.2.3). The first that
     * decides (a reply, or a valid cookie) ends the walk. A record that
     * does not parse ends it too: the rest cannot be delimited. */
    int result = CDTLS_ERR_DECODE;
    cdtls_reader r;
    reader_init(&r, dgram, len);
    while (r.left > 0) {
        record_header rh;
        const uint8_t *hdr, *body;
        if (record_read(&r, &rh, &hdr, &body) != CDTLS_OK) break;
        if (rh.type != CT_HANDSHAKE || rh.epoch != 0) continue;
        cdtls_reader hr;
        reader_init(&hr, body, rh.length);
        hs_header h;
        const uint8_t *frag;
        while (hr.left > 0 && hs_header_read(&hr, &h, &frag) == CDTLS_OK) {
            if (h.type != HS_CLIENT_HELLO) continue;
            rc = on_fragment(v, addr, addr_len, &rh, &h, frag, now_ms, reply, reply_cap, reply_len, hello,
                             hello_len);
            if (rc == HELD)
                result = CDTLS_ERR_WOULD_BLOCK;
            else if (rc == CDTLS_OK || rc == CDTLS_ERR_WOULD_BLOCK)
                return rc;
            else if (result == CDTLS_ERR_DECODE)
                result = rc;
        }
    }
    *reply_len = 0;
    return result;
}

int cdtls_hello_verifier_check(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                               const uint8_t *dgram, size_t len, uint64_t now_ms, uint8_t *reply,
                               size_t reply_cap, size_t *reply_len)
{
    return cdtls_hello_verifier_check_full(v, addr, addr_len, dgram, len, now_ms, reply, reply_cap, reply_len,
                                           NULL, NULL);
}
