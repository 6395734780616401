/* cdtls_hello_verifier: the stateless cookie exchange a server runs before
 * it allocates anything for a peer (RFC 6347 §4.2.1). It parses only the
 * first record of the datagram, which must hold a whole ClientHello in
 * epoch 0: a first ClientHello is small, and a server that is stateless at
 * this point cannot reassemble fragments (OpenSSL's DTLSv1_listen has the
 * same rule). */
#include <string.h>

#include "cdtls/conn.h"
#include "common/dtls.h"
#include "common/mem.h"
#include "common/reader.h"
#include "engine/conn_internal.h"

struct cdtls_hello_verifier {
    const cdtls_provider *p;
    const cdtls_allocator *a;
    cookie_keys keys;
};

int cdtls_hello_verifier_new(const cdtls_config *cfg, uint64_t now_ms,
                             cdtls_hello_verifier **out)
{
    if (!cfg || !out) return CDTLS_ERR_INVALID_ARG;
    const cdtls_provider *p = cfg->provider ? cfg->provider : cdtls_provider_default();
    const cdtls_allocator *a = cfg->allocator ? cfg->allocator : cdtls_allocator_libc();
    if (!p || !a) return CDTLS_ERR_UNSUPPORTED;
    cdtls_hello_verifier *v = cdtls_alloc_zero(a, sizeof *v);
    if (!v) return CDTLS_ERR_NOMEM;
    v->p = p;
    v->a = a;
    int rc = cookie_keys_init(&v->keys, p, cfg->cookie_rotate_ms, now_ms);
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

int cdtls_hello_verifier_check(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                               const uint8_t *dgram, size_t len, uint64_t now_ms,
                               uint8_t *reply, size_t reply_cap, size_t *reply_len)
{
    if (!v || (!addr && addr_len) || !dgram || !reply || !reply_len) return CDTLS_ERR_INVALID_ARG;
    *reply_len = 0;
    int rc = cookie_keys_tick(&v->keys, v->p, now_ms);
    if (rc) return rc;

    cdtls_reader r;
    reader_init(&r, dgram, len);
    record_header rh;
    const uint8_t *hdr, *frag;
    if (record_read(&r, &rh, &hdr, &frag) != CDTLS_OK) return CDTLS_ERR_DECODE;
    if (rh.type != CT_HANDSHAKE || rh.epoch != 0) return CDTLS_ERR_DECODE;

    cdtls_reader hr;
    reader_init(&hr, frag, rh.length);
    hs_header h;
    const uint8_t *body;
    if (hs_header_read(&hr, &h, &body) != CDTLS_OK) return CDTLS_ERR_DECODE;
    if (h.type != HS_CLIENT_HELLO || h.fragment_offset != 0 || h.fragment_length != h.length)
        return CDTLS_ERR_DECODE;
    hs_client_hello ch;
    if (hs_client_hello_parse(body, h.length, &ch) != CDTLS_OK) return CDTLS_ERR_DECODE;

    cookie_part parts[4];
    size_t np = hs_client_hello_cookie_parts(&ch, addr, addr_len, parts);
    if (cookie_verify(v->p, &v->keys, parts, np, ch.cookie, ch.cookie_len) == CDTLS_OK)
        return CDTLS_OK;
    uint8_t cookie[COOKIE_LEN];
    rc = cookie_make(v->p, &v->keys, parts, np, cookie);
    if (!rc)
        rc = hs_write_hello_verify(reply, reply_cap, reply_len, rh.seq, h.message_seq, cookie,
                                   COOKIE_LEN);
    return rc ? rc : CDTLS_ERR_WOULD_BLOCK;
}
