/* Application-layer negotiation in the hellos: ALPN (RFC 7301) and
 * DTLS-SRTP's use_srtp (RFC 5764 §4.1). The codec (handshake/hs_msg.c)
 * checks the framing; this file decides what to offer, what to choose and
 * whether the server's answer is one the client may accept. */
#include <string.h>

#include "cdtls/srtp.h"
#include "common/dtls.h"
#include "common/writer.h"
#include "engine/conn_internal.h"

int hs_app_ext_config_ok(const cdtls_config *cfg)
{
    if (cfg->alpn.n_protocols && !cfg->alpn.protocols) return 0;
    size_t total = 0;
    for (size_t i = 0; i < cfg->alpn.n_protocols; i++) {
        const char *name = cfg->alpn.protocols[i];
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 255) return 0;
        total += 1 + n;
        if (total > CDTLS_MAX_ALPN_LIST) return 0;
    }
    if (cfg->srtp.n_profiles > CDTLS_MAX_SRTP_PROFILES) return 0;
    if (cfg->srtp.n_profiles && !cfg->srtp.profiles) return 0;
    for (size_t i = 0; i < cfg->srtp.n_profiles; i++) {
        size_t k, s;
        if (cdtls_srtp_profile_lengths(cfg->srtp.profiles[i], &k, &s) != CDTLS_OK) return 0;
    }
    if (cfg->srtp.mki_len > 255 || (cfg->srtp.mki_len && !cfg->srtp.mki)) return 0;
    return 1;
}

int hs_app_ext_offer(const cdtls_conn *c, hs_extensions *ext, uint8_t *buf, size_t cap)
{
    size_t used = 0;
    if (c->cfg->alpn.n_protocols) {
        ext->alpn = buf;
        for (size_t i = 0; i < c->cfg->alpn.n_protocols; i++) {
            size_t n = strlen(c->cfg->alpn.protocols[i]);
            if (used + 1 + n > cap) return CDTLS_ERR_LIMIT; /* checked at conn_new */
            buf[used++] = (uint8_t)n;
            memcpy(buf + used, c->cfg->alpn.protocols[i], n);
            used += n;
        }
        ext->alpn_len = used;
    }
    if (c->cfg->srtp.n_profiles) {
        if (used + 2 * c->cfg->srtp.n_profiles > cap) return CDTLS_ERR_LIMIT;
        ext->use_srtp = 1;
        ext->srtp_profiles = buf + used;
        for (size_t i = 0; i < c->cfg->srtp.n_profiles; i++) {
            put_u16(buf + used, c->cfg->srtp.profiles[i]);
            used += 2;
        }
        ext->srtp_profiles_len = 2 * c->cfg->srtp.n_profiles;
        ext->srtp_mki = c->cfg->srtp.mki;
        ext->srtp_mki_len = c->cfg->srtp.mki_len;
    }
    return CDTLS_OK;
}

static void keep_alpn(cdtls_conn *c, const uint8_t *name, size_t n)
{
    memcpy(c->alpn, name, n);
    c->alpn[n] = 0;
    c->alpn_len = n;
}

/* Server: the protocol, by the callback or by our list (our preference
 * first). Returns CDTLS_OK with c->alpn set or left empty (no ALPN), or
 * CDTLS_ERR_NO_APPLICATION_PROTOCOL. */
static int choose_alpn(cdtls_conn *c, const hs_extensions *offer)
{
    if (!offer->alpn_len || (!c->cfg->callbacks.select_alpn && !c->cfg->alpn.n_protocols)) return CDTLS_OK;
    const uint8_t *names[CDTLS_MAX_ALPN_OFFERED];
    size_t lens[CDTLS_MAX_ALPN_OFFERED];
    size_t n = 0, off = 0;
    const uint8_t *name;
    size_t len;
    while (n < CDTLS_MAX_ALPN_OFFERED && hs_alpn_next(offer->alpn, offer->alpn_len, &off, &name, &len)) {
        names[n] = name;
        lens[n++] = len;
    }
    if (c->cfg->callbacks.select_alpn) {
        size_t chosen = n;
        int rc = c->cfg->callbacks.select_alpn(c->cfg->callbacks.user, names, lens, n, &chosen);
        if (rc == CDTLS_ERR_UNSUPPORTED) return CDTLS_OK;
        if (rc != CDTLS_OK || chosen >= n) return CDTLS_ERR_NO_APPLICATION_PROTOCOL;
        keep_alpn(c, names[chosen], lens[chosen]);
        return CDTLS_OK;
    }
    for (size_t i = 0; i < c->cfg->alpn.n_protocols; i++) {
        size_t ours = strlen(c->cfg->alpn.protocols[i]);
        for (size_t k = 0; k < n; k++)
            if (lens[k] == ours && memcmp(names[k], c->cfg->alpn.protocols[i], ours) == 0) {
                keep_alpn(c, names[k], lens[k]);
                return CDTLS_OK;
            }
    }
    /* RFC 7301 §3.2: a server that speaks none of them refuses */
    return CDTLS_ERR_NO_APPLICATION_PROTOCOL;
}

static int list_has_u16(const uint8_t *list, size_t len, uint16_t v)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        if (get_u16(list + i) == v) return 1;
    return 0;
}

int hs_app_ext_choose(cdtls_conn *c, const hs_extensions *offer, int *alert)
{
    c->alpn_len = 0;
    c->srtp_profile = 0;
    c->srtp_mki_len = 0;
    int rc = choose_alpn(c, offer);
    if (rc) {
        *alert = ALERT_NO_APPLICATION_PROTOCOL;
        return rc;
    }
    /* RFC 5764 §4.1.1: our first profile the client offers; none in common:
     * no use_srtp in the reply, the connection goes on without it. The
     * client's MKI is echoed (we will use it). */
    if (offer->use_srtp && c->cfg->srtp.n_profiles) {
        for (size_t i = 0; i < c->cfg->srtp.n_profiles && !c->srtp_profile; i++)
            if (list_has_u16(offer->srtp_profiles, offer->srtp_profiles_len, c->cfg->srtp.profiles[i]))
                c->srtp_profile = c->cfg->srtp.profiles[i];
        if (c->srtp_profile) {
            memcpy(c->srtp_mki, offer->srtp_mki, offer->srtp_mki_len);
            c->srtp_mki_len = offer->srtp_mki_len;
        }
    }
    return CDTLS_OK;
}

int hs_app_ext_reply(const cdtls_conn *c, hs_extensions *reply, uint8_t *buf, size_t cap)
{
    size_t used = 0;
    if (c->alpn_len) {
        if (cap < 1 + c->alpn_len) return CDTLS_ERR_INTERNAL;
        buf[0] = (uint8_t)c->alpn_len;
        memcpy(buf + 1, c->alpn, c->alpn_len);
        reply->alpn = buf;
        reply->alpn_len = 1 + c->alpn_len;
        used = reply->alpn_len;
    }
    if (c->srtp_profile) {
        if (cap < used + 2) return CDTLS_ERR_INTERNAL;
        put_u16(buf + used, c->srtp_profile);
        reply->use_srtp = 1;
        reply->srtp_profiles = buf + used;
        reply->srtp_profiles_len = 2;
        reply->srtp_mki = c->srtp_mki;
        reply->srtp_mki_len = c->srtp_mki_len;
    }
    return CDTLS_OK;
}

int hs_app_ext_accept(cdtls_conn *c, const hs_extensions *reply, int *alert)
{
    if (reply->alpn_len) {
        /* RFC 7301 §3.1: exactly one name, and one we offered */
        size_t off = 0, len = 0;
        const uint8_t *name = NULL;
        if (!c->cfg->alpn.n_protocols) {
            *alert = ALERT_UNSUPPORTED_EXTENSION; /* RFC 5246 §7.4.1.4: not offered */
            return CDTLS_ERR_ILLEGAL_PARAMETER;
        }
        if (!hs_alpn_next(reply->alpn, reply->alpn_len, &off, &name, &len) || off != reply->alpn_len) {
            *alert = ALERT_ILLEGAL_PARAMETER;
            return CDTLS_ERR_ILLEGAL_PARAMETER;
        }
        int offered = 0;
        for (size_t i = 0; i < c->cfg->alpn.n_protocols && !offered; i++)
            offered = strlen(c->cfg->alpn.protocols[i]) == len &&
                      memcmp(c->cfg->alpn.protocols[i], name, len) == 0;
        if (!offered) {
            *alert = ALERT_ILLEGAL_PARAMETER;
            return CDTLS_ERR_ILLEGAL_PARAMETER;
        }
        keep_alpn(c, name, len);
    }
    if (reply->use_srtp) {
        if (!c->cfg->srtp.n_profiles) {
            *alert = ALERT_UNSUPPORTED_EXTENSION;
            return CDTLS_ERR_ILLEGAL_PARAMETER;
        }
        /* RFC 5764 §4.1.1: one profile we offered; an MKI that is ours or empty */
        uint16_t chosen = reply->srtp_profiles_len == 2 ? get_u16(reply->srtp_profiles) : 0;
        int offered = 0;
        for (size_t i = 0; i < c->cfg->srtp.n_profiles; i++) offered |= c->cfg->srtp.profiles[i] == chosen;
        int mki_ok = reply->srtp_mki_len == 0 ||
                     (reply->srtp_mki_len == c->cfg->srtp.mki_len &&
                      memcmp(reply->srtp_mki, c->cfg->srtp.mki, c->cfg->srtp.mki_len) == 0);
        if (!offered || !mki_ok) {
            *alert = ALERT_ILLEGAL_PARAMETER;
            return CDTLS_ERR_ILLEGAL_PARAMETER;
        }
        c->srtp_profile = chosen;
        memcpy(c->srtp_mki, reply->srtp_mki, reply->srtp_mki_len);
        c->srtp_mki_len = reply->srtp_mki_len;
    }
    return CDTLS_OK;
}
