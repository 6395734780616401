/* Connection IDs (RFC 9146): the connection_id extension in the hellos,
 * and sealing records in the tls12_cid format once both sides sent it.
 * cdtls negotiates CIDs with AEAD suites only (record/record_cid.c). */
#include <string.h>

#include "common/dtls.h"
#include "engine/conn_internal.h"

int conn_cid_wanted(const cdtls_config *cfg)
{
    return cfg->callbacks.cid_generator || cfg->cid.length > 0;
}

/* This side hands out CIDs: a generator set on the connection
 * (cdtls_conn_set_cid_generator), or the configuration's. */
static int has_cid_generator(const cdtls_conn *c)
{
    return c->cid_gen || conn_cid_wanted(c->cfg);
}

/* A CID of ours: the connection's generator's, the application's
 * generator's, or cid.length random bytes (unique among a server's
 * connections with overwhelming probability: 2^-64 per pair at 8 bytes, as
 * pion's RandomCIDGenerator). Also the CIDs that DTLS 1.3's
 * NewConnectionId hands out (hs13_cid.c). */
int conn_cid_make(cdtls_conn *c, uint8_t *out, size_t cap, size_t *len)
{
    const cdtls_config *cfg = c->cfg;
    size_t n = 0;
    int rc;
    if (c->cid_gen) {
        rc = c->cid_gen(c->cid_gen_ctx, out, cap, &n);
    } else if (cfg->callbacks.cid_generator) {
        rc = cfg->callbacks.cid_generator(cfg->callbacks.user, out, cap, &n);
    } else {
        n = cfg->cid.length;
        rc = n <= cap ? c->p->random(c->p, out, n) : CDTLS_ERR_INVALID_ARG;
    }
    if (rc) return rc;
    if (n > cap) return CDTLS_ERR_INVALID_ARG;
    *len = n;
    return CDTLS_OK;
}

static int make_own_cid(cdtls_conn *c)
{
    return conn_cid_make(c, c->own_cid, sizeof c->own_cid, &c->own_cid_len);
}

int conn_cid_offer(cdtls_conn *c, hs_extensions *ext)
{
    if (!has_cid_generator(c)) return CDTLS_OK;
    if (!c->cid_offered) { /* the same CID in the ClientHello after a HelloVerifyRequest */
        int rc = make_own_cid(c);
        if (rc) return rc;
        c->cid_offered = 1;
    }
    ext->has_cid = 1;
    ext->cid = c->own_cid;
    ext->cid_len = c->own_cid_len;
    return CDTLS_OK;
}

int conn_cid_accept_offer(cdtls_conn *c, const hs_extensions *offer, hs_extensions *reply)
{
    c->use_cid = 0;
    if (!offer->has_cid || !has_cid_generator(c) || c->suite->kind != SUITE_AEAD) return CDTLS_OK;
    int rc = make_own_cid(c);
    if (rc) return rc;
    memcpy(c->peer_cid, offer->cid, offer->cid_len);
    c->peer_cid_len = offer->cid_len;
    c->use_cid = 1;
    reply->has_cid = 1;
    reply->cid = c->own_cid;
    reply->cid_len = c->own_cid_len;
    return CDTLS_OK;
}

int conn_cid_accept_reply(cdtls_conn *c, const hs_extensions *reply, int *alert)
{
    if (!reply->has_cid) return CDTLS_OK;
    if (!c->cid_offered) { /* RFC 5246 §7.4.1.4: an extension we did not offer */
        *alert = ALERT_UNSUPPORTED_EXTENSION;
        return CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    if (c->suite->kind != SUITE_AEAD) { /* not implemented: see record.h */
        *alert = ALERT_HANDSHAKE_FAILURE;
        return CDTLS_ERR_UNSUPPORTED;
    }
    memcpy(c->peer_cid, reply->cid, reply->cid_len);
    c->peer_cid_len = reply->cid_len;
    c->use_cid = 1;
    return CDTLS_OK;
}

size_t conn_cid_overhead(const cdtls_conn *c)
{
    return c->use_cid && c->peer_cid_len ? c->peer_cid_len + 1 : 0; /* CID + inner type byte */
}

size_t conn_cid_pad(cdtls_conn *c, int epoch, size_t pt_len, size_t cap)
{
    if (epoch == 0 || !conn_cid_overhead(c) || !c->cfg->callbacks.cid_padding) return 0;
    size_t pad = c->cfg->callbacks.cid_padding(c->cfg->callbacks.user, pt_len);
    /* padding never makes a record exceed the buffer (the MTU) or 2^14 */
    size_t fixed = DTLS_RECORD_HEADER_LEN + conn_cid_overhead(c) + record_cipher_expansion(&c->write_cipher) +
                   pt_len;
    size_t room = cap > fixed ? cap - fixed : 0;
    size_t inner_room = pt_len < DTLS_MAX_PLAINTEXT ? DTLS_MAX_PLAINTEXT - 1 - pt_len : 0;
    if (pad > room) pad = room;
    if (pad > inner_room) pad = inner_room;
    return pad;
}

int conn_seal(cdtls_conn *c, int epoch, uint8_t type, const uint8_t *pt, size_t pt_len, size_t pad,
              uint8_t *out, size_t cap, size_t *out_len)
{
    if (epoch == 0 || !conn_cid_overhead(c))
        return record_seal(epoch ? &c->write_cipher : NULL, type, DTLS_VERSION_1_2, (uint16_t)epoch,
                           c->write_seq[epoch], pt, pt_len, out, cap, out_len);
    return record_seal_cid(&c->write_cipher, type, DTLS_VERSION_1_2, (uint16_t)epoch, c->write_seq[epoch],
                           c->peer_cid, c->peer_cid_len, pad, pt, pt_len, out, cap, out_len);
}

int cdtls_conn_uses_cid(const cdtls_conn *c)
{
    return c && c->use_cid;
}

int cdtls_conn_set_cid_generator(cdtls_conn *c, cdtls_cid_generator gen, void *ctx)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    /* the CID is made once, in the first hello that carries it */
    if (c->own_cid_len || c->cid_offered || c->use_cid) return CDTLS_ERR_BAD_STATE;
    c->cid_gen = gen;
    c->cid_gen_ctx = gen ? ctx : NULL;
    return CDTLS_OK;
}

const uint8_t *cdtls_conn_own_cid(const cdtls_conn *c, size_t *len)
{
    if (len) *len = c && c->use_cid ? c->own_cid_len : 0;
    return c && c->use_cid ? c->own_cid : NULL;
}

const uint8_t *cdtls_conn_peer_cid(const cdtls_conn *c, size_t *len)
{
    if (len) *len = c && c->use_cid ? c->peer_cid_len : 0;
    return c && c->use_cid ? c->peer_cid : NULL;
}

int cdtls_conn_recv_advanced(const cdtls_conn *c)
{
    return c && c->recv_advanced;
}

int cdtls_datagram_cid(const uint8_t *dgram, size_t len, size_t cid_len, const uint8_t **cid)
{
    if (!dgram || !cid || cid_len == 0 || len == 0) return 0;
    /* DTLS 1.2: type(1) version(2) epoch(2) seq(6), then the CID */
    if (dgram[0] == CT_TLS12_CID) {
        if (len < 11 + cid_len + 2) return 0;
        *cid = dgram + 11;
        return 1;
    }
    /* DTLS 1.3 unified header (RFC 9147 §4): 0 0 1 C S L E E, then the CID
     * when C is set; its length is not on the wire but what we issued.
     * Then at least a sequence byte and the 16 bytes of ciphertext the
     * record number mask needs (§4.2.3). */
    if ((dgram[0] & 0xe0u) == 0x20u && (dgram[0] & 0x10u)) {
        if (len < 1 + cid_len + 1 + 16) return 0;
        *cid = dgram + 1;
        return 1;
    }
    return 0;
}
