/* cdtls_hello_verifier: the stateless cookie exchange a server runs before
 * it allocates anything for a peer (RFC 6347 §4.2.1). A ClientHello may be
 * fragmented over several records and datagrams (§4.2.3): today's DTLS 1.3
 * clients with post-quantum key shares send ~1.4 KB hellos. Nothing is
 * reassembled here: the cookie binds only what the fragment at offset 0
 * always carries (address, client_version, random, session_id; see
 * hs_cookie_parts), so a first hello is answered, and a second hello's
 * cookie checked, from that fragment alone. */
#include <string.h>

#include "cdtls/conn.h"
#include "common/dtls.h"
#include "common/mem.h"
#include "common/reader.h"
#include "engine/conn_internal.h"

#include "engine/hs13_internal.h"

struct cdtls_hello_verifier {
    const cdtls_provider *p;
    const cdtls_allocator *a;
    cookie_keys keys;
#if CDTLS_HAVE_DTLS13
    /* what the DTLS 1.3 HelloRetryRequest needs of the configuration
     * (suites, groups, versions; pointers borrowed like the config's) */
    cdtls_config cfg;
#endif
};

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
    if (v) cdtls_free_wipe(v->a, v, sizeof *v);
}

/* The first fragment (offset 0) of a ClientHello in the datagram's
 * epoch-0 handshake records: a datagram may carry several records (RFC
 * 6347 §4.1.1) and a record several fragments (§4.2.3). Returns 1 and
 * the record and fragment headers, 0 if there is none. A record that does
 * not parse ends the search: the rest of the datagram cannot be delimited. */
static int find_hello_start(const uint8_t *dgram, size_t len, record_header *rh, hs_header *h,
                            const uint8_t **frag)
{
    cdtls_reader r;
    reader_init(&r, dgram, len);
    while (r.left > 0) {
        const uint8_t *hdr, *body;
        if (record_read(&r, rh, &hdr, &body) != CDTLS_OK) return 0;
        if (rh->type != CT_HANDSHAKE || rh->epoch != 0) continue;
        cdtls_reader hr;
        reader_init(&hr, body, rh->length);
        while (hr.left > 0) {
            if (hs_header_read(&hr, h, frag) != CDTLS_OK) break;
            if (h->type == HS_CLIENT_HELLO && h->fragment_offset == 0) return 1;
        }
    }
    return 0;
}

/* What the cookie is checked against: the whole hello must parse when it
 * came unfragmented; a first fragment must hold the fields up to the
 * cookie (the rest is checked by the connection once reassembled). */
static int hello_start_parse(const hs_header *h, const uint8_t *frag, hs_client_hello_prefix *pre)
{
    if (h->length > CDTLS_MAX_CLIENT_HELLO_LEN) return CDTLS_ERR_LIMIT;
    if (h->fragment_length == h->length) {
        hs_client_hello ch;
        if (hs_client_hello_parse(frag, h->length, &ch) != CDTLS_OK) return CDTLS_ERR_DECODE;
    }
    return hs_client_hello_prefix_parse(frag, h->fragment_length, pre);
}

int cdtls_hello_verifier_check(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                               const uint8_t *dgram, size_t len, uint64_t now_ms, uint8_t *reply,
                               size_t reply_cap, size_t *reply_len)
{
    if (!v || (!addr && addr_len) || !dgram || !reply || !reply_len) return CDTLS_ERR_INVALID_ARG;
    *reply_len = 0;
    int rc = cookie_keys_tick(&v->keys, v->p, now_ms);
    if (rc) return rc;

    record_header rh;
    hs_header h;
    const uint8_t *frag;
    hs_client_hello_prefix pre;
    if (!find_hello_start(dgram, len, &rh, &h, &frag)) return CDTLS_ERR_DECODE;
    rc = hello_start_parse(&h, frag, &pre);
    if (rc) return rc;
#if CDTLS_HAVE_DTLS13
    /* RFC 9147 §5.1: a DTLS 1.3 ClientHello gets a HelloRetryRequest with
     * a cookie instead of a HelloVerifyRequest. The cookie holds the hash
     * of the whole first hello, so only an unfragmented one is answered
     * so; a fragmented one gets the 1.2 exchange (its client answers with
     * the legacy cookie, which the connection then accepts). */
    if (h.fragment_length == h.length) {
        int answered = 0, verified = 0;
        rc = hs13_verifier_hello(&v->cfg, v->p, &v->keys, addr, addr_len, frag, h.length, h.message_seq,
                                 rh.seq, reply, reply_cap, reply_len, &answered, &verified);
        if (rc) return rc;
        if (verified) return CDTLS_OK;
        if (answered) return CDTLS_ERR_WOULD_BLOCK;
    }
#endif

    cookie_part parts[2];
    size_t np = hs_cookie_parts(pre.version_random_sid, pre.version_random_sid_len, addr, addr_len, parts);
    if (cookie_verify(v->p, &v->keys, parts, np, pre.cookie, pre.cookie_len) == CDTLS_OK) return CDTLS_OK;
    uint8_t cookie[COOKIE_LEN];
    rc = cookie_make(v->p, &v->keys, parts, np, cookie);
    if (!rc)
        rc = hs_write_hello_verify(reply, reply_cap, reply_len, rh.seq, h.message_seq, cookie, COOKIE_LEN);
    return rc ? rc : CDTLS_ERR_WOULD_BLOCK;
}
