/* Raw public keys (RFC 7250): the client_certificate_type and
 * server_certificate_type extensions, and a Certificate message that holds
 * one SubjectPublicKeyInfo instead of a chain. A raw key is trusted by a
 * SHA-256 pin of its SPKI or by the application's callback; there is no
 * chain to validate. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "engine/conn_internal.h"
#include "engine/hs_internal.h"
#include "engine/x509_use.h"

int rpk_have_own(const cdtls_conn *c)
{
    return c->h->have_own_rpk;
}

int rpk_accepts_peer(const cdtls_conn *c)
{
    return c->cfg->verify.n_spki_pins > 0 || c->cfg->callbacks.verify_raw_public_key != NULL;
}

static int x509_judgeable(const cdtls_conn *c)
{
    return c->cfg->verify.n_trust_anchors || c->cfg->verify.insecure_skip_verify ||
           c->cfg->callbacks.verify_peer || c->cfg->verify.n_pins;
}

/* RFC 7250 §3: ClientHello lists, preferred first. */
int rpk_offer(cdtls_conn *c, hs_extensions *ext, uint8_t buf[8])
{
    if (rpk_accepts_peer(c)) {
        c->offered_server_rpk = 1;
        c->peer_x509_ok = x509_judgeable(c);
        buf[0] = c->peer_x509_ok ? 2 : 1;
        buf[1] = HS_CERT_TYPE_RAW_PUBLIC_KEY;
        buf[2] = HS_CERT_TYPE_X509;
        ext->server_cert_type = buf;
        ext->server_cert_type_len = 1 + buf[0];
    }
    if (rpk_have_own(c)) {
        c->offered_client_rpk = 1;
        c->own_x509_ok = c->h->n_certs > 0;
        buf[4] = c->own_x509_ok ? 2 : 1;
        buf[5] = HS_CERT_TYPE_RAW_PUBLIC_KEY;
        buf[6] = HS_CERT_TYPE_X509;
        ext->client_cert_type = buf + 4;
        ext->client_cert_type_len = 1 + buf[4];
    }
    return CDTLS_OK;
}

/* A ClientHello's type list: 1 if well-formed; has[] set for 0 and 2. */
static int read_types(const uint8_t *p, size_t len, int *has_x509, int *has_rpk)
{
    *has_x509 = *has_rpk = 0;
    if (len < 2 || p[0] != len - 1) return 0;
    for (size_t i = 1; i < len; i++) {
        if (p[i] == HS_CERT_TYPE_X509) *has_x509 = 1;
        if (p[i] == HS_CERT_TYPE_RAW_PUBLIC_KEY) *has_rpk = 1;
    }
    return 1;
}

int rpk_choose(cdtls_conn *c, const hs_extensions *offer, int *alert)
{
    int x509, rpk;
    c->own_cert_rpk = c->peer_cert_rpk = c->rpk_server_none = c->rpk_client_none = 0;
    c->offered_server_rpk = offer->server_cert_type_len > 0; /* server side: "the client sent it" */
    c->offered_client_rpk = offer->client_cert_type_len > 0;
    if (c->offered_server_rpk) {
        if (!read_types(offer->server_cert_type, offer->server_cert_type_len, &x509, &rpk)) {
            *alert = ALERT_DECODE_ERROR;
            return CDTLS_ERR_DECODE;
        }
        if (rpk && rpk_have_own(c))
            c->own_cert_rpk = 1;
        else if (!x509 || !c->h->n_certs)
            c->rpk_server_none = 1; /* no certificate suite then (RFC 7250 §4.2) */
    }
    if (c->offered_client_rpk && c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE) {
        if (!read_types(offer->client_cert_type, offer->client_cert_type_len, &x509, &rpk)) {
            *alert = ALERT_DECODE_ERROR;
            return CDTLS_ERR_DECODE;
        }
        if (rpk && rpk_accepts_peer(c))
            c->peer_cert_rpk = 1;
        else if (!x509)
            c->rpk_client_none = 1; /* fatal only if client auth happens */
    }
    return CDTLS_OK;
}

void rpk_reply(const cdtls_conn *c, hs_extensions *reply, uint8_t buf[2])
{
    if (c->offered_server_rpk) {
        buf[0] = c->own_cert_rpk ? HS_CERT_TYPE_RAW_PUBLIC_KEY : HS_CERT_TYPE_X509;
        reply->server_cert_type = buf;
        reply->server_cert_type_len = 1;
    }
    if (c->offered_client_rpk && c->cfg->verify.client_auth != CDTLS_CLIENT_AUTH_NONE) {
        buf[1] = c->peer_cert_rpk ? HS_CERT_TYPE_RAW_PUBLIC_KEY : HS_CERT_TYPE_X509;
        reply->client_cert_type = buf + 1;
        reply->client_cert_type_len = 1;
    }
}

/* A ServerHello's answer: one type, one we offered. */
static int accept_one(const uint8_t *p, size_t len, int offered, int x509_ok, int *is_rpk, int *alert)
{
    if (!len) return CDTLS_OK;
    if (!offered) {
        *alert = ALERT_UNSUPPORTED_EXTENSION;
        return CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    if (len != 1 || (p[0] != HS_CERT_TYPE_RAW_PUBLIC_KEY && !(p[0] == HS_CERT_TYPE_X509 && x509_ok))) {
        *alert = ALERT_ILLEGAL_PARAMETER;
        return CDTLS_ERR_ILLEGAL_PARAMETER;
    }
    *is_rpk = p[0] == HS_CERT_TYPE_RAW_PUBLIC_KEY;
    return CDTLS_OK;
}

int rpk_accept(cdtls_conn *c, const hs_extensions *reply, int *alert)
{
    int rc = accept_one(reply->server_cert_type, reply->server_cert_type_len, c->offered_server_rpk,
                        c->peer_x509_ok, &c->peer_cert_rpk, alert);
    if (!rc)
        rc = accept_one(reply->client_cert_type, reply->client_cert_type_len, c->offered_client_rpk,
                        c->own_x509_ok, &c->own_cert_rpk, alert);
    return rc;
}

int rpk_judge(const cdtls_conn *c, const uint8_t *spki, size_t len)
{
    int rc = CDTLS_ERR_CERT_UNTRUSTED;
    if (c->cfg->verify.n_spki_pins) {
        const cdtls_hash_vt *h = c->p->hash[CDTLS_HASH_SHA256];
        if (!h) return CDTLS_ERR_UNSUPPORTED;
        cdtls_hash_ctx ctx;
        uint8_t fp[32];
        h->init(&ctx);
        h->update(&ctx, spki, len);
        h->final(&ctx, fp);
        for (size_t i = 0; i < c->cfg->verify.n_spki_pins; i++)
            if (cdtls_ct_equal(fp, c->cfg->verify.pinned_spki_sha256 + 32 * i, 32)) rc = CDTLS_OK;
    }
    if (c->cfg->callbacks.verify_raw_public_key) {
        int verdict = c->cfg->callbacks.verify_raw_public_key(c->cfg->callbacks.user, spki, len, rc);
        rc = verdict == CDTLS_OK ? CDTLS_OK : CDTLS_ERR_CERT_REJECTED;
    }
    return rc;
}

int rpk_or_chain_write(const cdtls_conn *c, cdtls_writer *w, size_t n_chain)
{
    if (c->own_cert_rpk)
        return hs_raw_public_key_write(w, c->cfg->credentials.raw_public_key,
                                       c->cfg->credentials.raw_public_key_len);
    return hs_certificate_write(w, c->h->cert_chain, c->h->cert_chain_len, n_chain);
}

size_t rpk_or_chain_size(const cdtls_conn *c, size_t n_chain)
{
    if (c->own_cert_rpk) return 3 + c->cfg->credentials.raw_public_key_len;
    return hs_certificate_size(c->h->cert_chain_len, n_chain);
}

/* DTLS 1.3 (RFC 8446 §4.4.2 with RFC 7250 §3): the one CertificateEntry's
 * cert_data is the SubjectPublicKeyInfo. Kept, as in 1.2, as a "chain" of
 * one whose der is the SPKI and whose key is the parsed key. */
int rpk_take_peer_spki(cdtls_conn *c, const uint8_t *spki, size_t len, int judge)
{
    uint8_t *der = hs_peer_block_alloc(c, 1, len);
    if (!der) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
    memcpy(der, spki, len);
    int rc = engine_x509_parse_spki(der, len, &c->peer_chain[0].key);
    if (rc) return conn_fail(c, rc, ALERT_BAD_CERTIFICATE);
    c->peer_chain[0].der = der;
    c->peer_chain[0].der_len = len;
    c->peer_chain_len = 1;
    rc = judge ? rpk_judge(c, der, len) : CDTLS_OK;
    /* a key no pin names is a bad certificate, not one of an unknown CA
     * (there is no CA); the application's refusal stays certificate_unknown */
    if (rc)
        return conn_fail(c, rc, rc == CDTLS_ERR_CERT_UNTRUSTED ? ALERT_BAD_CERTIFICATE : hs_cert_alert(rc));
    return CDTLS_OK;
}

/* The key our CertificateVerify signs with: the raw key's when the peer
 * took one (RFC 7250), else the leaf certificate's. 0 when we have none. */
int rpk_own_key_type(const cdtls_conn *c, cdtls_key_type *t)
{
    if (c->own_cert_rpk) {
        if (!c->h->have_own_rpk) return 0;
        *t = c->h->own_rpk_key.type;
        return 1;
    }
    if (!c->h->n_certs || !c->h->have_own_leaf) return 0;
    *t = c->h->own_leaf.key.type;
    return 1;
}
