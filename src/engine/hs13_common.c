/* DTLS 1.3 in the engine, what both roles share (RFC 9147): the suites and
 * signature schemes we can do, the transcript (§5.2), the key schedule
 * steps and the epochs they install (§6.1: 0 plaintext, 2 handshake, 3
 * and on application), our flights with fragmentation to the MTU and
 * retransmission of what the peer has not acknowledged (§5.8, §7), the
 * receive path for unified-header records, ACKs, alerts and application
 * data. The state machines are in hs13_client.c and hs13_server.c. */
#include <string.h>

#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "engine/hs13_internal.h"
#include "engine/hs13_cid.h"
#include "engine/x509_use.h"

#if CDTLS_HAVE_DTLS13

#define NO_TIMER UINT64_MAX
#define H13_HDR 5u /* our unified header: 0 0 1 C=0 S=1 L=1 EE, 16-bit seq, 16-bit length */

/* ------------------------------------------------------ suites, schemes */

/* RFC 8446 §B.4 with RFC 9147's record number masks; CCM_8 only on request
 * (§4.5.3: it needs limits of its own, ccm8_limits). */
int hs13_suite_params(uint16_t suite, cdtls_hash_alg *hash, size_t *key_len)
{
    switch (suite) {
    case R13_TLS_AES_128_GCM_SHA256:
    case R13_TLS_AES_128_CCM_SHA256:
    case R13_TLS_AES_128_CCM_8_SHA256: *hash = CDTLS_HASH_SHA256, *key_len = 16; return 1;
    case R13_TLS_AES_256_GCM_SHA384: *hash = CDTLS_HASH_SHA384, *key_len = 32; return 1;
    case R13_TLS_CHACHA20_POLY1305_SHA256: *hash = CDTLS_HASH_SHA256, *key_len = 32; return 1;
    default: return 0;
    }
}

cdtls_hash_alg hs13_psk_hash(const uint16_t *suites, size_t n)
{
    int has384 = 0;
    for (size_t i = 0; i < n; i++) {
        cdtls_hash_alg h;
        size_t kl;
        if (!hs13_suite_params(suites[i], &h, &kl)) continue;
        if (h == CDTLS_HASH_SHA256) return CDTLS_HASH_SHA256;
        has384 = 1;
    }
    return has384 ? CDTLS_HASH_SHA384 : CDTLS_HASH_SHA256;
}

/* TLS_AES_128_CCM_8_SHA256: RFC 9147 §4.5.3 leaves its limits to the
 * implementation ("MUST set usage limits for AEAD_AES_128_CCM_8 based on
 * an understanding of any additional forgery protections"). Ours: CCM's
 * confidentiality limit, 2^23 records sealed (the tag length does not
 * enter it), and 2^7 records failing authentication per key: a forgery
 * against a 64-bit tag succeeds with probability 2^-64, so 128 attempts
 * keep an attacker's chance of one below 2^-57. Reaching it fails the
 * connection (CDTLS_ERR_LIMIT, bad_record_mac): the safeguard is to fail
 * closed, at the price that whoever can inject 128 records can end the
 * connection. That is why the suite is never a default: only a
 * configuration that names it (cfg.negotiate.cipher_suites) offers or
 * accepts it. */
static const record13_limits ccm8_limits = {1u << 23, 1u << 7};

static const record13_limits *suite_limits(uint16_t suite)
{
    return suite == R13_TLS_AES_128_CCM_8_SHA256 ? &ccm8_limits : NULL;
}

/* The provider has the AEAD, the record number mask, the hash and its HMAC. */
static int suite_available(const cdtls_provider *p, uint16_t suite)
{
    cdtls_hash_alg hash;
    size_t key_len;
    if (!hs13_suite_params(suite, &hash, &key_len) || !p->hash[hash] || !p->hmac[hash]) return 0;
    static const uint8_t zero[32] = {0};
    record13_cipher rc;
    int ok = record13_cipher_init(&rc, p, suite, zero, key_len, zero, TLS13_IV_LEN, zero, key_len,
                                  suite_limits(suite)) == CDTLS_OK;
    if (ok) record13_cipher_clear(&rc);
    return ok;
}

size_t hs13_cfg_suites(const cdtls_config *cfg, const cdtls_provider *p, uint16_t *out, size_t cap)
{
    static const uint16_t defaults[] = {R13_TLS_AES_128_GCM_SHA256, R13_TLS_AES_256_GCM_SHA384,
                                        R13_TLS_CHACHA20_POLY1305_SHA256, R13_TLS_AES_128_CCM_SHA256};
    const uint16_t *list = cfg->negotiate.cipher_suites ? cfg->negotiate.cipher_suites : defaults;
    size_t n = cfg->negotiate.cipher_suites ? cfg->negotiate.n_cipher_suites
                                            : sizeof defaults / sizeof defaults[0];
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (suite_available(p, list[i])) out[k++] = list[i];
    return k;
}

size_t hs13_our_suites(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    return hs13_cfg_suites(c->cfg, c->p, out, cap);
}

int hs13_cfg_allows_13(const cdtls_config *cfg, const cdtls_provider *p)
{
    uint16_t s[8];
    return conn_max_version(cfg) == CDTLS_VERSION_1_3 && hs13_cfg_suites(cfg, p, s, 8) > 0;
}

int hs13_allows_13(const cdtls_conn *c)
{
    return hs13_cfg_allows_13(c->cfg, c->p);
}

int hs13_allows_12(const cdtls_conn *c)
{
    return conn_min_version(c->cfg) == CDTLS_VERSION_1_2;
}

/* RFC 8446 §4.2.3: in 1.3 an ECDSA scheme names its curve, and RSASSA-PKCS1
 * is not for CertificateVerify. */
static const uint16_t sig13_pref[] = {0x0807, 0x0403, 0x0503, 0x0804, 0x0805, 0x0806};

int hs13_sig_fits(uint16_t scheme, cdtls_key_type t)
{
    switch (scheme) {
    case 0x0807: return t == CDTLS_KEY_ED25519;
    case 0x0403: return t == CDTLS_KEY_EC_P256;
    case 0x0503: return t == CDTLS_KEY_EC_P384;
    case 0x0804:
    case 0x0805:
    case 0x0806: return t == CDTLS_KEY_RSA;
    default: return 0;
    }
}

size_t hs13_our_sig_algs(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof sig13_pref / sizeof sig13_pref[0] && k < cap; i++)
        if (hs_sig_by_id(c->p, sig13_pref[i])) out[k++] = sig13_pref[i];
    return k;
}

uint16_t hs13_sig_choose(const cdtls_conn *c, cdtls_key_type t, const uint8_t *peer, size_t peer_len)
{
    for (size_t i = 0; i < sizeof sig13_pref / sizeof sig13_pref[0]; i++) {
        uint16_t id = sig13_pref[i];
        const cdtls_sig_vt *v = hs_sig_by_id(c->p, id);
        if (!v || !(v->key_types & CDTLS_KEY_BIT(t)) || !hs13_sig_fits(id, t)) continue;
        if (peer && !hs_sig_algs_contain(peer, peer_len, id)) continue;
        return id;
    }
    return 0;
}

/* 1.3 groups: the configured list, or the default one. X25519MLKEM768
 * leads the default when the provider has ML-KEM-768 (docs/pq.md): the
 * client then offers it with a key share and the server picks it over a
 * classical share (by HelloRetryRequest when the client sent none for it). */
size_t hs13_cfg_groups(const cdtls_config *cfg, const cdtls_provider *p, uint16_t *out, size_t cap)
{
    static const uint16_t defaults[] = {CDTLS_GROUP_X25519MLKEM768, 29, 23, 24};
    const uint16_t *list = cfg->negotiate.groups ? cfg->negotiate.groups : defaults;
    size_t n = cfg->negotiate.groups ? cfg->negotiate.n_groups : sizeof defaults / sizeof defaults[0], k = 0;
    const int hybrid = hybrid_kex_available(p);
    for (size_t i = 0; i < n && k < cap; i++)
        if (list[i] == CDTLS_GROUP_X25519MLKEM768 ? hybrid : hs_kx_by_id(p, list[i]) != NULL)
            out[k++] = list[i];
    return k;
}

size_t hs13_our_groups(const cdtls_conn *c, uint16_t *out, size_t cap)
{
    return hs13_cfg_groups(c->cfg, c->p, out, cap);
}

void hs13_hybrid_free(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v || !v->hh || !v->hh->hyb) return;
    hybrid_client_clear(&v->hh->hyb->hc);
    cdtls_free_wipe(c->a, v->hh->hyb, sizeof *v->hh->hyb);
    v->hh->hyb = NULL;
}

/* -------------------------------------------------------------- state */

conn13 *hs13_alloc(cdtls_conn *c)
{
    if (!c->v13) {
        conn13 *v = cdtls_alloc_zero(c->a, sizeof(conn13));
        if (!v) return NULL;
        v->hh = cdtls_alloc_zero(c->a, sizeof(h13_hs));
        if (!v->hh) {
            cdtls_free_wipe(c->a, v, sizeof *v);
            return NULL;
        }
        ack13_rx_new_flight(&v->arx);
        c->v13 = v;
    }
    return c->v13;
}

static void drop_tx(cdtls_conn *c, record13_cipher **rc)
{
    if (!*rc) return;
    record13_cipher_clear(*rc);
    cdtls_free_wipe(c->a, *rc, sizeof **rc);
    *rc = NULL;
}

static void drop_rx(cdtls_conn *c, record13_rx_epoch **e)
{
    if (!*e) return;
    record13_rx_epoch_clear(*e);
    cdtls_free_wipe(c->a, *e, sizeof **e);
    *e = NULL;
}

void hs13_drop_tx_hs(cdtls_conn *c)
{
    if (c->v13) drop_tx(c, &c->v13->tx_hs);
}

void hs13_drop_rx_hs(cdtls_conn *c)
{
    if (c->v13) drop_rx(c, &c->v13->rx_hs);
}

static void clear_keys(cdtls_conn *c)
{
    conn13 *v = c->v13;
    drop_tx(c, &v->tx_hs);
    drop_tx(c, &v->tx_ap);
    drop_rx(c, &v->rx_hs);
    drop_rx(c, &v->rx_ap);
    drop_rx(c, &v->rx_ap_old);
}

void hs13_handshake_done(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v || !v->hh) return;
    hs13_hybrid_free(c);
    h13_hs *hh = v->hh;
    for (size_t i = 0; i < hh->n_kx; i++)
        if (hh->kx[i]) hh->kx[i]->clear(&hh->kx_key[i]);
    if (hh->ch) cdtls_free_wipe(c->a, hh->ch, hh->ch_cap);
    tls13_schedule_wipe(&hh->ks);
    cdtls_free_wipe(c->a, hh, sizeof *hh); /* handshake secrets, transcript */
    v->hh = NULL;
    v->ack_tracking = 0;
}

void hs13_free(cdtls_conn *c)
{
    conn13 *v = c->v13;
    if (!v) return;
    clear_keys(c);
    hs13_handshake_done(c);
    hs13_cid_free(c);
    hs13_ph_free(c);
    hs13_ticket_free(c);
    cdtls_free_wipe(c->a, v, sizeof *v); /* application secrets */
    c->v13 = NULL;
}

uint64_t hs13_now(const cdtls_conn *c)
{
    return c->v13 ? c->v13->last_now_ms : 0;
}

uint16_t hs13_conn_suite(const cdtls_conn *c)
{
    return c->v13 ? c->v13->suite : 0;
}

uint16_t hs13_conn_group(const cdtls_conn *c, const char **name)
{
    const cdtls_kx_vt *kx = c->v13 && c->v13->group ? hs_kx_by_id(c->p, c->v13->group) : NULL;
    *name = kx ? kx->name : NULL;
    /* the hybrid is X25519 plus the provider's KEM, not one kx[] entry */
    if (c->v13 && c->v13->group == CDTLS_GROUP_X25519MLKEM768) *name = "X25519MLKEM768";
    return c->v13 ? c->v13->group : 0;
}

void hs13_set_suite(conn13 *v, uint16_t suite)
{
    v->suite = suite;
    (void)hs13_suite_params(suite, &v->hash, &v->key_len);
}

/* ---------------------------------------------------------- transcript */

void hs13_transcript_start(cdtls_conn *c)
{
    conn13 *v = c->v13;
    const cdtls_hash_vt *h = c->p->hash[v->hash];
    v->hash_len = h->digest_len;
    h->init(&v->hh->th);
    v->hh->th_on = 1;
}

void hs13_transcript_add(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
    conn13 *v = c->v13;
    if (!v->hh || !v->hh->th_on) return;
    const cdtls_hash_vt *h = c->p->hash[v->hash];
    uint8_t hdr[4] = {type, (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    h->update(&v->hh->th, hdr, 4);
    if (len) h->update(&v->hh->th, body, len);
}

void hs13_transcript_hash(const cdtls_conn *c, uint8_t *out)
{
    c->p->hash[c->v13->hash]->final(&c->v13->hh->th, out);
}

int hs13_transcript_after_hrr(cdtls_conn *c, const uint8_t *ch1_hash, const uint8_t *hrr, size_t hrr_len)
{
    conn13 *v = c->v13;
    uint8_t mh[4 + TLS13_MAX_HASH];
    size_t mh_len = 0;
    hs13_transcript_start(c);
    int rc = hs13_message_hash(ch1_hash, v->hash_len, mh, sizeof mh, &mh_len);
    if (rc) return rc;
    c->p->hash[v->hash]->update(&v->hh->th, mh, mh_len);
    hs13_transcript_add(c, HS_SERVER_HELLO, hrr, hrr_len);
    return CDTLS_OK;
}

int hs13_binder_hash(const cdtls_conn *c, const uint8_t *ch1_hash, const uint8_t *hrr, size_t hrr_len,
                     const uint8_t *ch, size_t ch_len, size_t binders_offset, uint8_t *out)
{
    const conn13 *v = c->v13;
    const cdtls_hash_vt *h = c->p->hash[v->hash];
    cdtls_hash_ctx ctx;
    h->init(&ctx);
    if (hrr) {
        uint8_t mh[4 + TLS13_MAX_HASH];
        size_t mh_len = 0;
        int rc = hs13_message_hash(ch1_hash, h->digest_len, mh, sizeof mh, &mh_len);
        if (rc) return rc;
        h->update(&ctx, mh, mh_len);
        uint8_t hh[4] = {HS_SERVER_HELLO, (uint8_t)(hrr_len >> 16), (uint8_t)(hrr_len >> 8),
                         (uint8_t)hrr_len};
        h->update(&ctx, hh, 4);
        h->update(&ctx, hrr, hrr_len);
    }
    /* RFC 8446 §4.2.11.2: the header's length is the whole message's */
    uint8_t hdr[4] = {HS_CLIENT_HELLO, (uint8_t)(ch_len >> 16), (uint8_t)(ch_len >> 8), (uint8_t)ch_len};
    h->update(&ctx, hdr, 4);
    h->update(&ctx, ch, binders_offset);
    h->final(&ctx, out);
    cdtls_memzero(&ctx, sizeof ctx);
    return CDTLS_OK;
}

/* The binder of an external PSK (RFC 8446 §4.2.11.2): HMAC with the
 * finished key of binder_key over the hash given. */
int hs13_binder(const cdtls_conn *c, const uint8_t *psk, size_t psk_len, const uint8_t *hash_in, uint8_t *out)
{
    const conn13 *v = c->v13;
    tls13_schedule ks;
    uint8_t bk[TLS13_MAX_HASH];
    int rc = tls13_schedule_init(&ks, c->p, v->hash, DTLS13_LABEL_PREFIX);
    if (!rc) rc = tls13_schedule_early(&ks, psk, psk_len);
    if (!rc) rc = tls13_binder_key(&ks, !v->psk_resumption, bk); /* "ext binder" / "res binder" */
    if (!rc) rc = tls13_verify_data(c->p, v->hash, DTLS13_LABEL_PREFIX, bk, hash_in, out);
    tls13_schedule_wipe(&ks);
    cdtls_memzero(bk, sizeof bk);
    return rc;
}

/* ------------------------------------------------------------- keys */

static void hex_put(char *line, size_t *n, const uint8_t *b, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        line[(*n)++] = hex[b[i] >> 4];
        line[(*n)++] = hex[b[i] & 15];
    }
}

/* NSS key log, TLS 1.3 labels: "<LABEL> <client_random> <secret>". */
void hs13_keylog(const cdtls_conn *c, const char *label, const uint8_t *secret)
{
    if (!c->cfg->callbacks.keylog) return;
    char line[40 + 1 + 64 + 1 + 2 * TLS13_MAX_HASH + 1];
    size_t n = strlen(label);
    if (n > 40) return;
    memcpy(line, label, n);
    line[n++] = ' ';
    hex_put(line, &n, c->client_random, KS_RANDOM_LEN);
    line[n++] = ' ';
    hex_put(line, &n, secret, c->v13->hash_len);
    line[n] = 0;
    c->cfg->callbacks.keylog(c->cfg->callbacks.user, line);
    cdtls_memzero(line, sizeof line);
}

/* Early and Handshake Secret, the handshake traffic secrets over
 * Hash(ClientHello..ServerHello) (RFC 8446 §7.1). */
int hs13_handshake_keys(cdtls_conn *c, const uint8_t *psk, size_t psk_len, const uint8_t *shared,
                        size_t shared_len)
{
    conn13 *v = c->v13;
    uint8_t th[TLS13_MAX_HASH];
    hs13_transcript_hash(c, th);
    int rc = tls13_schedule_init(&v->hh->ks, c->p, v->hash, DTLS13_LABEL_PREFIX);
    if (!rc) rc = tls13_schedule_early(&v->hh->ks, psk, psk_len);
    if (!rc) rc = tls13_schedule_handshake(&v->hh->ks, shared, shared_len);
    if (!rc) rc = tls13_handshake_traffic_secrets(&v->hh->ks, th, v->hh->c_hs, v->hh->s_hs);
    if (!rc) {
        hs13_keylog(c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", v->hh->c_hs);
        hs13_keylog(c, "SERVER_HANDSHAKE_TRAFFIC_SECRET", v->hh->s_hs);
    }
    return rc;
}

/* Master Secret, the application traffic secrets and the exporter's over
 * Hash(ClientHello..server Finished). */
int hs13_application_keys(cdtls_conn *c)
{
    conn13 *v = c->v13;
    hs13_transcript_hash(c, v->hh->fin_th);
    int rc = tls13_schedule_master(&v->hh->ks);
    if (!rc) rc = tls13_application_traffic_secrets(&v->hh->ks, v->hh->fin_th, v->c_ap, v->s_ap);
    if (!rc) rc = tls13_exporter_master(&v->hh->ks, v->hh->fin_th, v->exporter);
    if (!rc) {
        hs13_keylog(c, "CLIENT_TRAFFIC_SECRET_0", v->c_ap);
        hs13_keylog(c, "SERVER_TRAFFIC_SECRET_0", v->s_ap);
        hs13_keylog(c, "EXPORTER_SECRET", v->exporter);
    }
    return rc;
}

static int cipher_from_secret(cdtls_conn *c, record13_cipher *rc_out, const uint8_t *secret)
{
    conn13 *v = c->v13;
    tls13_traffic_keys k;
    int rc = tls13_traffic_keys_derive(c->p, v->hash, DTLS13_LABEL_PREFIX, secret, v->key_len, &k);
    if (!rc)
        rc = record13_cipher_init(rc_out, c->p, v->suite, k.key, k.key_len, k.iv, TLS13_IV_LEN, k.sn_key,
                                  k.key_len, suite_limits(v->suite));
    cdtls_memzero(&k, sizeof k);
    return rc;
}

/* For the state import (conn_state.c): a cipher from a traffic secret. */
int hs13_cipher_from_secret(cdtls_conn *c, record13_cipher *out, const uint8_t *secret)
{
    return cipher_from_secret(c, out, secret);
}

/* Our write keys of epoch 2 (handshake) or 3 (application). */
int hs13_install_tx(cdtls_conn *c, int app)
{
    conn13 *v = c->v13;
    const int client = c->role == CDTLS_CLIENT;
    record13_cipher **slot = app ? &v->tx_ap : &v->tx_hs;
    drop_tx(c, slot);
    record13_cipher *ci = cdtls_alloc_zero(c->a, sizeof *ci);
    if (!ci) return CDTLS_ERR_NOMEM;
    int rc = cipher_from_secret(c, ci,
                                app ? (client ? v->c_ap : v->s_ap) : (client ? v->hh->c_hs : v->hh->s_hs));
    if (rc) {
        cdtls_free_wipe(c->a, ci, sizeof *ci);
        return rc;
    }
    *slot = ci;
    if (!app) {
        v->tx_seq_hs = 0;
        v->tx_epoch = 2;
        return CDTLS_OK;
    }
    v->tx_ap_epoch = 3;
    v->tx_seq_ap = 0;
    return CDTLS_OK;
}

/* The peer's keys of epoch 2 or 3. */
int hs13_install_rx(cdtls_conn *c, int app)
{
    conn13 *v = c->v13;
    const int client = c->role == CDTLS_CLIENT;
    record13_rx_epoch **slot = app ? &v->rx_ap : &v->rx_hs;
    drop_rx(c, slot);
    record13_rx_epoch *e = cdtls_alloc_zero(c->a, sizeof *e);
    if (!e) return CDTLS_ERR_NOMEM;
    record13_rx_epoch_init(e, app ? 3 : 2, c->cfg->limits.replay_window ? c->cfg->limits.replay_window : 64);
    int rc = cipher_from_secret(c, &e->cipher,
                                app ? (client ? v->s_ap : v->c_ap) : (client ? v->hh->s_hs : v->hh->c_hs));
    if (rc) {
        cdtls_free_wipe(c->a, e, sizeof *e);
        return rc;
    }
    *slot = e;
    return CDTLS_OK;
}

int hs13_finished_make(cdtls_conn *c, int from_server, uint8_t *out)
{
    conn13 *v = c->v13;
    uint8_t th[TLS13_MAX_HASH];
    hs13_transcript_hash(c, th);
    return tls13_verify_data(c->p, v->hash, DTLS13_LABEL_PREFIX, from_server ? v->hh->s_hs : v->hh->c_hs, th,
                             out);
}

int hs13_finished_check(cdtls_conn *c, int from_server, const uint8_t *body, size_t len)
{
    conn13 *v = c->v13;
    const uint8_t *vd;
    if (hs13_finished_parse(body, len, v->hash_len, &vd) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    uint8_t th[TLS13_MAX_HASH];
    hs13_transcript_hash(c, th);
    int rc = tls13_verify_data_check(c->p, v->hash, DTLS13_LABEL_PREFIX,
                                     from_server ? v->hh->s_hs : v->hh->c_hs, th, vd, len);
    if (rc) return conn_fail(c, CDTLS_ERR_BAD_FINISHED, ALERT_DECRYPT_ERROR);
    return CDTLS_OK;
}

/* ----------------------------------------------------- certificates */

int hs13_queue_certificate(cdtls_conn *c, const uint8_t *context, size_t context_len, size_t n_chain)
{
    hs13_cert_entry entries[CDTLS_X509_MAX_DEPTH];
    if (n_chain > CDTLS_X509_MAX_DEPTH) n_chain = CDTLS_X509_MAX_DEPTH;
    size_t size = 1 + context_len + 3;
    if (n_chain && c->own_cert_rpk) n_chain = 1; /* RFC 7250 §3 in RFC 8446 §4.4.2: our SPKI alone */
    for (size_t i = 0; i < n_chain; i++) {
        entries[i].data = c->own_cert_rpk ? c->cfg->credentials.raw_public_key : c->h->cert_chain[i];
        entries[i].len = c->own_cert_rpk ? c->cfg->credentials.raw_public_key_len : c->h->cert_chain_len[i];
        entries[i].ext.p = NULL;
        entries[i].ext.len = 0;
        entries[i].ext.count = 0;
        size += 3 + entries[i].len + 2;
    }
    uint8_t *body = c->a->alloc(c->a->ctx, size);
    if (!body) return CDTLS_ERR_NOMEM;
    cdtls_writer w;
    writer_init(&w, body, size);
    int rc = hs13_certificate_write(&w, context, context_len, entries, n_chain);
    if (!rc) rc = hs13_queue(c, HS_CERTIFICATE, body, w.len, 2);
    c->a->free(c->a->ctx, body, size);
    return rc;
}

/* The peer's Certificate (RFC 8446 §4.4.2): the entries' DER copied into
 * one block, parsed, and judged when asked; *n_out 0 for an empty one (the
 * caller decides). Per-entry extensions answer requests we never make. */
int hs13_on_certificate(cdtls_conn *c, const uint8_t *body, size_t len, int judge, size_t *n_out)
{
    return hs13_on_certificate_ctx(c, body, len, judge, NULL, 0, n_out);
}

/* ...whose certificate_request_context must be ctx (RFC 8446 §4.4.2: empty
 * in the handshake, the CertificateRequest's after it) */
int hs13_on_certificate_ctx(cdtls_conn *c, const uint8_t *body, size_t len, int judge, const uint8_t *ctx,
                            size_t ctx_len, size_t *n_out)
{
    hs13_certificate ct;
    *n_out = 0;
    if (c->peer_block) return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
    int rc = hs13_certificate_parse(body, len, CDTLS_X509_MAX_DEPTH, &ct);
    if (rc == CDTLS_ERR_LIMIT) return conn_fail(c, CDTLS_ERR_CERT_PATHLEN, ALERT_BAD_CERTIFICATE);
    if (rc) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    /* the context: empty in the server's; ours echoed in the client's */
    if (ct.context_len != ctx_len || (ctx_len && !cdtls_ct_equal(ct.context, ctx, ctx_len)))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    if (ct.count == 0) return CDTLS_OK;
    cdtls_reader walk = ct.list;
    hs13_cert_entry e;
    if (c->peer_cert_rpk) { /* RFC 7250 §3: one entry, a SubjectPublicKeyInfo */
        if (ct.count != 1 || !hs13_certificate_next(&walk, &e))
            return conn_fail(c, CDTLS_ERR_DECODE, ALERT_BAD_CERTIFICATE);
        if (e.ext.count) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
        rc = rpk_take_peer_spki(c, e.data, e.len, judge);
        if (!rc) *n_out = 1;
        return rc;
    }
    size_t total = 0;
    for (size_t i = 0; i < ct.count; i++) {
        if (!hs13_certificate_next(&walk, &e)) return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
        if (e.ext.count) return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_UNSUPPORTED_EXTENSION);
        total += e.len;
    }
    uint8_t *copy = hs_peer_block_alloc(c, ct.count, total);
    if (!copy) return conn_fail(c, CDTLS_ERR_NOMEM, ALERT_INTERNAL_ERROR);
    walk = ct.list;
    size_t off = 0;
    for (size_t i = 0; i < ct.count; i++) {
        (void)hs13_certificate_next(&walk, &e);
        memcpy(copy + off, e.data, e.len);
        rc = engine_x509_parse(copy + off, e.len, &c->peer_chain[i]);
        if (rc) return conn_fail(c, rc, hs_cert_alert(rc));
        off += e.len;
        c->peer_chain_len = i + 1;
    }
    rc = judge ? hs_judge_peer_chain(c) : CDTLS_OK;
    if (rc) return conn_fail(c, rc, hs_cert_alert(rc));
    *n_out = ct.count;
    return CDTLS_OK;
}

int hs13_queue_certificate_verify(cdtls_conn *c, uint16_t scheme)
{
    const cdtls_sig_vt *v = hs_sig_by_id(c->p, scheme);
    if (!v) return CDTLS_ERR_INTERNAL;
    uint8_t th[TLS13_MAX_HASH], content[HS13_CV_CONTENT_MAX], sig[CDTLS_SIG_MAX_LEN];
    uint8_t body[4 + CDTLS_SIG_MAX_LEN];
    size_t content_len = 0, sig_len = sizeof sig;
    hs13_transcript_hash(c, th);
    int rc = hs13_certificate_verify_content(c->role == CDTLS_SERVER, th, c->v13->hash_len, content,
                                             sizeof content, &content_len);
    if (!rc) rc = v->sign(c->p, c->h->private_key, content, content_len, sig, &sig_len);
    if (rc) return rc;
    hs_certificate_verify cv = {scheme, sig, sig_len};
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    rc = hs_certificate_verify_write(&w, &cv);
    return rc ? rc : hs13_queue(c, HS_CERTIFICATE_VERIFY, body, w.len, 2);
}

/* The peer's CertificateVerify (RFC 8446 §4.4.3) over the transcript hash
 * th, with a scheme we offered that fits its key; from_server: the
 * server's context string. Also for post-handshake authentication
 * (hs13_posthandshake.c), whose transcript is its own. */
int hs13_certificate_verify_check_over(cdtls_conn *c, const uint8_t *body, size_t len, const uint8_t *th,
                                       int from_server)
{
    hs_certificate_verify cv;
    if (hs_certificate_verify_parse(body, len, &cv) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    uint16_t ours[16];
    size_t n = hs13_our_sig_algs(c, ours, 16);
    int offered = 0;
    for (size_t i = 0; i < n; i++) offered |= ours[i] == cv.sig_alg;
    const cdtls_sig_vt *v = hs_sig_by_id(c->p, cv.sig_alg);
    cdtls_key_type t = c->peer_chain[0].key.type;
    if (!offered || !v || !(v->key_types & CDTLS_KEY_BIT(t)) || !hs13_sig_fits(cv.sig_alg, t))
        return conn_fail(c, CDTLS_ERR_ILLEGAL_PARAMETER, ALERT_ILLEGAL_PARAMETER);
    uint8_t content[HS13_CV_CONTENT_MAX];
    size_t content_len = 0;
    int rc = hs13_certificate_verify_content(from_server, th, c->v13->hash_len, content, sizeof content,
                                             &content_len);
    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    if (v->verify(&c->peer_chain[0].key, content, content_len, cv.signature, cv.signature_len) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_SIGNATURE, ALERT_DECRYPT_ERROR);
    return CDTLS_OK;
}

/* The peer's CertificateVerify over the handshake transcript before it. */
int hs13_certificate_verify_check(cdtls_conn *c, const uint8_t *body, size_t len)
{
    uint8_t th[TLS13_MAX_HASH];
    hs13_transcript_hash(c, th);
    return hs13_certificate_verify_check_over(c, body, len, th, c->role == CDTLS_CLIENT);
}

/* ------------------------------------------------------------ records */

static record13_cipher *tx_cipher(conn13 *v, uint64_t epoch, uint64_t **seq)
{
    if (epoch == 2 && v->tx_hs) {
        *seq = &v->tx_seq_hs;
        return v->tx_hs;
    }
    if (epoch >= 3 && v->tx_ap && epoch == v->tx_ap_epoch) {
        *seq = &v->tx_seq_ap;
        return v->tx_ap;
    }
    return NULL;
}

static size_t overhead(const cdtls_conn *c, uint64_t epoch)
{
    uint64_t *seq;
    if (epoch == 0) return DTLS_RECORD_HEADER_LEN;
    record13_cipher *rc = tx_cipher(c->v13, epoch, &seq);
    return H13_HDR + hs13_cid_tx_len(c) + (rc ? record13_expansion(rc, 64) : 17);
}

/* Seals one record of epoch into dgram at *used; *rn its record number. */
static int put_record(cdtls_conn *c, uint64_t epoch, uint8_t type, const uint8_t *pt, size_t len,
                      uint8_t *dgram, size_t cap, size_t *used, ack13_record_number *rn)
{
    conn13 *v = c->v13;
    size_t n = 0;
    int rc;
    if (epoch == 0) {
        if (c->write_seq[0] > DTLS_MAX_SEQ) return CDTLS_ERR_LIMIT;
        rn->epoch = 0;
        rn->seq = c->write_seq[0];
        /* RFC 9147 §5: DTLSPlaintext, legacy_record_version {254, 253} */
        rc = record_seal(NULL, type, DTLS_VERSION_1_2, 0, c->write_seq[0], pt, len, dgram + *used,
                         cap - *used, &n);
        if (!rc) c->write_seq[0]++;
    } else {
        uint64_t *seq;
        record13_cipher *ci = tx_cipher(v, epoch, &seq);
        if (!ci) return CDTLS_ERR_INTERNAL;
        record13_header_opts o = {1, 1, NULL, 0};
        hs13_cid_header(c, &o); /* RFC 9147 §9.1: the peer's CID from epoch 2 on */
        rn->epoch = epoch;
        rn->seq = *seq;
        rc = record13_seal(ci, &o, epoch, *seq, type, pt, len, 0, dgram + *used, cap - *used, &n);
        if (!rc) (*seq)++;
    }
    if (!rc) *used += n;
    return rc;
}

int hs13_put_record(cdtls_conn *c, uint64_t epoch, uint8_t type, const uint8_t *pt, size_t len,
                    uint8_t *dgram, size_t cap, size_t *used, ack13_record_number *rn)
{
    return put_record(c, epoch, type, pt, len, dgram, cap, used, rn);
}

static int flush_dgram(cdtls_conn *c, uint8_t *dgram, size_t *used)
{
    if (*used == 0) return CDTLS_OK;
    const cdtls_oob *oob = c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL;
    int rc = dgram_queue_push(&c->out, c->a, dgram, *used, oob);
    *used = 0;
    return rc;
}

/* Bytes [off, off+len) of flight message i as fragments filling what is
 * left of the datagram, then the next ones (RFC 9147 §5.5). */
static int put_range(cdtls_conn *c, size_t i, uint32_t off, uint32_t len, uint8_t *dgram, uint8_t *frag,
                     size_t *used, int retransmission)
{
    conn13 *v = c->v13;
    const flight_entry *e = &c->flight[i];
    const size_t mtu = c->mtu;
    hs_header h;
    hs_header_get(e->msg, &h);
    const uint8_t *body = e->msg + DTLS_HS_HEADER_LEN;
    const size_t oh = overhead(c, e->epoch);
    const size_t need_min = oh + DTLS_HS_HEADER_LEN + (len ? 1 : 0);
    if (need_min > mtu) return CDTLS_ERR_INTERNAL;
    uint32_t done = 0;
    do {
        if (*used + need_min > mtu) {
            int rc = flush_dgram(c, dgram, used);
            if (rc) return rc;
        }
        size_t room = mtu - *used - oh - DTLS_HS_HEADER_LEN;
        size_t take = len - done < room ? len - done : room;
        if (take > DTLS_MAX_PLAINTEXT - DTLS_HS_HEADER_LEN) take = DTLS_MAX_PLAINTEXT - DTLS_HS_HEADER_LEN;
        hs_header fh = {h.type, h.length, h.message_seq, off + done, (uint32_t)take};
        hs_header_put(&fh, frag);
        memcpy(frag + DTLS_HS_HEADER_LEN, body + off + done, take);
        ack13_record_number rn;
        int rc = put_record(c, e->epoch, CT_HANDSHAKE, frag, DTLS_HS_HEADER_LEN + take, dgram, mtu, used,
                            &rn);
        if (rc) return rc;
        if (v->ack_tracking && v->hh)
            (void)ack13_tx_note_sent(&v->hh->atx, rn, i, off + done, (uint32_t)take);
        if (retransmission) v->retransmitted_bytes += take;
        done += (uint32_t)take;
    } while (done < len);
    return CDTLS_OK;
}

/* Packs the flight into datagrams; a retransmission carries only the byte
 * ranges the peer has not acknowledged (RFC 9147 §7.2). Every record has a
 * fresh sequence number (§5.8.1). */
static int transmit(cdtls_conn *c, int retransmission)
{
    conn13 *v = c->v13;
    const size_t mtu = c->mtu;
    uint8_t *dgram = c->a->alloc(c->a->ctx, mtu);
    uint8_t *frag = c->a->alloc(c->a->ctx, mtu);
    if (!dgram || !frag) {
        if (dgram) c->a->free(c->a->ctx, dgram, mtu);
        if (frag) c->a->free(c->a->ctx, frag, mtu);
        return CDTLS_ERR_NOMEM;
    }
    size_t used = 0;
    int rc = CDTLS_OK;
    for (size_t i = 0; i < c->flight_len && !rc; i++) {
        hs_header h;
        hs_header_get(c->flight[i].msg, &h);
        if (retransmission) v->full_resend_bytes += h.length;
        if (!retransmission || !v->ack_tracking) {
            rc = put_range(c, i, 0, h.length, dgram, frag, &used, retransmission);
            continue;
        }
        uint32_t from = 0, off, len;
        while (!rc && ack13_tx_unacked(&v->hh->atx, i, from, &off, &len)) {
            rc = put_range(c, i, off, len, dgram, frag, &used, retransmission);
            from = off + len;
            if (len == 0) break; /* an empty message: sent once per transmission */
        }
    }
    if (!rc) rc = flush_dgram(c, dgram, &used);
    cdtls_free_wipe(c->a, dgram, mtu);
    cdtls_free_wipe(c->a, frag, mtu);
    return rc;
}

int hs13_queue(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint8_t epoch)
{
    if (len > 0xffffff) return CDTLS_ERR_INTERNAL;
    if (c->flight_len == FLIGHT_MAX_ENTRIES) return CDTLS_ERR_INTERNAL;
    size_t mlen = DTLS_HS_HEADER_LEN + len;
    uint8_t *msg = c->a->alloc(c->a->ctx, mlen);
    if (!msg) return CDTLS_ERR_NOMEM;
    hs_header h = {type, (uint32_t)len, c->send_msg_seq++, 0, (uint32_t)len};
    hs_header_put(&h, msg);
    if (len) memcpy(msg + DTLS_HS_HEADER_LEN, body, len);
    hs13_transcript_add(c, type, body, len);
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_SENT, msg, mlen);
    flight_entry *e = &c->flight[c->flight_len++];
    e->is_ccs = 0;
    e->epoch = epoch;
    e->msg = msg;
    e->len = mlen;
    return CDTLS_OK;
}

/* Sends the flight just built: the peer's flight before it is answered by
 * it (RFC 9147 §7.1: an implicit acknowledgement), the timer starts at
 * its initial value (§5.8.1). */
int hs13_flight_send(cdtls_conn *c, uint64_t now_ms, int awaits_reply)
{
    conn13 *v = c->v13;
    uint32_t lens[ACK13_MAX_MESSAGES];
    size_t n = c->flight_len < ACK13_MAX_MESSAGES ? c->flight_len : ACK13_MAX_MESSAGES;
    for (size_t i = 0; i < n; i++) {
        hs_header h;
        hs_header_get(c->flight[i].msg, &h);
        lens[i] = h.length;
    }
    v->ack_tracking = v->hh && c->flight_len <= ACK13_MAX_MESSAGES &&
                      ack13_tx_new_flight(&v->hh->atx, lens, n) == CDTLS_OK;
    ack13_rx_new_flight(&v->arx);
    c->flight_awaits_reply = awaits_reply;
    c->timeout_ms = c->cfg->timers.retransmit_initial_ms;
    c->retransmits = 0;
    c->timer_at_ms = awaits_reply ? now_ms + c->timeout_ms : NO_TIMER;
    return transmit(c, 0);
}

/* by_timer: 0 when the peer's retransmission asked for it (observer) */
static int flight_retransmit(cdtls_conn *c, uint64_t now_ms, int by_timer)
{
    if (c->flight_len == 0) return CDTLS_OK;
    c->retransmits++;
    if (c->flight_awaits_reply) c->timer_at_ms = now_ms + c->timeout_ms;
    conn_observe_retransmit(c, by_timer);
    return transmit(c, 1);
}

int hs13_flight_retransmit(cdtls_conn *c, uint64_t now_ms)
{
    return flight_retransmit(c, now_ms, 1);
}

/* An ACK record (RFC 9147 §7): the record numbers listed, within what we
 * keep, of the records that carried our flight. */
int hs13_send_ack(cdtls_conn *c, uint64_t now_ms)
{
    conn13 *v = c->v13;
    uint8_t body[2 + 16 * ACK13_MAX_RECEIVED],
        rec[H13_HDR + CDTLS_MAX_CID_LEN + sizeof body + 1 + CDTLS_AEAD_MAX_TAG + 16];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    /* RFC 9147 §7: the ACK goes under the newest epoch we write */
    uint64_t epoch = v->tx_ap ? v->tx_ap_epoch : v->tx_hs ? 2 : 0;
    /* no larger than the MTU (cfg.mtu bounds every datagram we emit): the
     * newest record numbers that fit, 16 bytes each after the 2-byte
     * length. 32 of them (ACK13_MAX_RECEIVED) make a 536-byte record,
     * which a peer sending many small records used to get past a small
     * MTU (fuzz_engine_server, issue 17) */
    const size_t oh = overhead(c, epoch) + 2;
    ack13_rx_write_max(&v->arx, &w, c->mtu > oh ? (c->mtu - oh) / 16 : 0);
    if (w.failed) return CDTLS_ERR_INTERNAL;
    if (epoch == 0) return CDTLS_OK; /* nothing to ACK in plaintext */
    size_t used = 0;
    ack13_record_number rn;
    int rc = put_record(c, epoch, R13_CT_ACK, body, w.len, rec, sizeof rec, &used, &rn);
    if (rc) return rc;
    v->last_ack_ms = now_ms ? now_ms : 1;
    rc = dgram_queue_push(&c->out, c->a, rec, used,
                          c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL);
    /* the body: record_numbers<0..2^16-1>, 16 bytes each (RFC 9147 §7) */
    if (rc == CDTLS_OK) conn_observe_ack(c, CDTLS_EVENT_ACK_SENT, (w.len - 2) / 16);
    return rc;
}

void hs13_established(cdtls_conn *c)
{
    c->state = CDTLS_STATE_ESTABLISHED;
    c->hs = HS_DONE;
    c->v13->st = H13_DONE;
    conn_keep_record_buffers(c);
}

/* ------------------------------------------------------------ output */

size_t hs13_max_write(const cdtls_conn *c)
{
    const conn13 *v = c->v13;
    if (!v || c->state != CDTLS_STATE_ESTABLISHED || !v->tx_ap) return 0;
    size_t oh = H13_HDR + hs13_cid_tx_len(c) + record13_expansion(v->tx_ap, 64);
    if (c->mtu <= oh) return 0;
    size_t room = c->mtu - oh;
    return room > DTLS_MAX_PLAINTEXT ? DTLS_MAX_PLAINTEXT : room;
}

int hs13_write(cdtls_conn *c, const uint8_t *data, size_t len, const cdtls_oob *oob)
{
    conn13 *v = c->v13;
    if (len > hs13_max_write(c)) return CDTLS_ERR_RECORD_TOO_LARGE;
    /* RFC 9147 §4.5.3: update before the key's limit (at 7/8 of it) */
    if (!v->ku_pending && !v->final_pending && record13_key_update_due(v->tx_ap)) {
        int rc = hs13_key_update_send(c, 0, v->last_now_ms);
        if (rc) return rc;
    }
    if (c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_ERR_LIMIT;
    const size_t cap = H13_HDR + hs13_cid_tx_len(c) + len + record13_expansion(v->tx_ap, len);
    dgram_node *n = dgram_queue_node(&c->out, c->a, cap, oob);
    if (!n) return CDTLS_ERR_NOMEM;
    size_t used = 0;
    ack13_record_number rn;
    int rc = put_record(c, v->tx_ap_epoch, CT_APPLICATION_DATA, data, len, n->data, cap, &used, &rn);
    if (rc) {
        dgram_queue_recycle(&c->out, c->a, n);
        return rc;
    }
    n->len = used;
    dgram_queue_append(&c->out, n);
    return CDTLS_OK;
}

/* An alert under the newest keys we write with (RFC 9147 §5: plaintext
 * only before any). */
int hs13_send_alert(cdtls_conn *c, uint8_t level, uint8_t desc)
{
    conn13 *v = c->v13;
    if (c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_ERR_LIMIT;
    uint8_t body[2] = {level, desc};
    uint8_t rec[DTLS_RECORD_HEADER_LEN + CDTLS_MAX_CID_LEN + 2 + 1 + CDTLS_AEAD_MAX_TAG + 16];
    uint64_t epoch = !v                                                ? 0
                     : v->tx_ap && c->state != CDTLS_STATE_HANDSHAKING ? v->tx_ap_epoch
                     : v->tx_hs                                        ? 2
                                                                       : 0;
    size_t used = 0;
    ack13_record_number rn;
    int rc = put_record(c, epoch, CT_ALERT, body, 2, rec, sizeof rec, &used, &rn);
    if (rc) return rc;
    return dgram_queue_push(&c->out, c->a, rec, used, c->cfg->oob.alert.flags ? &c->cfg->oob.alert : NULL);
}

/* A post-handshake message (whole, or one fragment of it, its DTLS header
 * included: NewConnectionId, RequestConnectionId, the post-handshake
 * authentication messages) in one record of the current application epoch,
 * a datagram of its own; *rn its record number for the peer's ACK (RFC 9147
 * §7). hs13_cid.c, hs13_posthandshake.c */
int hs13_post_handshake_send(cdtls_conn *c, const uint8_t *msg, size_t len, ack13_record_number *rn)
{
    conn13 *v = c->v13;
    if (!v->tx_ap) return CDTLS_ERR_BAD_STATE;
    if (c->out.count >= CONN_MAX_OUT_QUEUE) return CDTLS_ERR_LIMIT;
    const size_t cap = H13_HDR + hs13_cid_tx_len(c) + len + record13_expansion(v->tx_ap, len);
    if (cap > c->mtu) return CDTLS_ERR_LIMIT;
    dgram_node *n = dgram_queue_node(&c->out, c->a, cap,
                                     c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL);
    if (!n) return CDTLS_ERR_NOMEM;
    size_t used = 0;
    int rc = put_record(c, v->tx_ap_epoch, CT_HANDSHAKE, msg, len, n->data, cap, &used, rn);
    if (rc) {
        dgram_queue_recycle(&c->out, c->a, n);
        return rc;
    }
    n->len = used;
    dgram_queue_append(&c->out, n);
    return CDTLS_OK;
}

/* One record of the current application epoch, with the peer's CID, into
 * out (conn_rrc.c: RFC 9853 §4, the RRC messages use the active keys). */
int hs13_seal_app_record(cdtls_conn *c, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    conn13 *v = c->v13;
    if (!v || !v->tx_ap) return CDTLS_ERR_BAD_STATE;
    ack13_record_number rn;
    *out_len = 0;
    return put_record(c, v->tx_ap_epoch, type, pt, len, out, cap, out_len, &rn);
}

/* ---------------------------------------------------------- KeyUpdate */

static int ku_transmit(cdtls_conn *c)
{
    conn13 *v = c->v13;
    uint8_t rec[H13_HDR + CDTLS_MAX_CID_LEN + sizeof v->ku_msg + 1 + CDTLS_AEAD_MAX_TAG + 16];
    size_t used = 0;
    ack13_record_number rn;
    int rc = put_record(c, v->tx_ap_epoch, CT_HANDSHAKE, v->ku_msg, sizeof v->ku_msg, rec, sizeof rec, &used,
                        &rn);
    if (rc) return rc;
    v->ku_rn[v->n_ku_rn++ % 8] = rn;
    return dgram_queue_push(&c->out, c->a, rec, used,
                            c->cfg->oob.handshake.flags ? &c->cfg->oob.handshake : NULL);
}

/* Our KeyUpdate (RFC 9147 §8): sent under the current keys and resent
 * until ACKed; only then do we send under the next epoch (§8: "the
 * sender MUST NOT send records in the new epoch until the KeyUpdate is
 * acknowledged"). */
int hs13_key_update_send(cdtls_conn *c, int request_peer, uint64_t now_ms)
{
    conn13 *v = c->v13;
    if (v->ku_pending || v->final_pending || !v->tx_ap) return CDTLS_ERR_BAD_STATE;
    hs_header h = {HS13_KEY_UPDATE, 1, c->send_msg_seq++, 0, 1};
    hs_header_put(&h, v->ku_msg);
    v->ku_msg[DTLS_HS_HEADER_LEN] = request_peer ? 1 : 0;
    v->ku_pending = 1;
    v->n_ku_rn = 0;
    conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_SENT, v->ku_msg, sizeof v->ku_msg);
    c->timeout_ms = c->cfg->timers.retransmit_initial_ms;
    c->retransmits = 0;
    c->timer_at_ms = now_ms + c->timeout_ms;
    return ku_transmit(c);
}

/* The KeyUpdate was ACKed: the next sending epoch. */
static int ku_done(cdtls_conn *c)
{
    conn13 *v = c->v13;
    uint8_t *secret = c->role == CDTLS_CLIENT ? v->c_ap : v->s_ap;
    int rc = tls13_next_traffic_secret(c->p, v->hash, DTLS13_LABEL_PREFIX, secret, secret);
    record13_cipher *ci = rc ? NULL : cdtls_alloc_zero(c->a, sizeof *ci);
    if (!rc && !ci) rc = CDTLS_ERR_NOMEM;
    if (!rc) rc = cipher_from_secret(c, ci, secret);
    if (rc) {
        if (ci) cdtls_free_wipe(c->a, ci, sizeof *ci);
        return rc;
    }
    drop_tx(c, &v->tx_ap);
    v->tx_ap = ci;
    v->tx_ap_epoch++;
    v->tx_seq_ap = 0;
    v->ku_pending = 0;
    v->ku_sent++;
    c->timer_at_ms = NO_TIMER;
    return CDTLS_OK;
}

/* The peer's KeyUpdate: acknowledged, its next epoch installed (the
 * current one kept for records still on their way), and ours in answer
 * when it asks (RFC 8446 §4.6.3). */
static int ku_received(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t epoch, uint64_t seq,
                       uint64_t now_ms)
{
    conn13 *v = c->v13;
    int requested = 0;
    if (hs13_key_update_parse(body, len, &requested) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_DECODE, ALERT_DECODE_ERROR);
    /* only under the peer's newest keys: one under older keys (already
     * superseded) is a replay of an update done */
    if (!v->rx_ap || epoch != v->rx_ap->epoch) return CDTLS_OK;
    uint8_t *secret = c->role == CDTLS_CLIENT ? v->s_ap : v->c_ap;
    int rc = tls13_next_traffic_secret(c->p, v->hash, DTLS13_LABEL_PREFIX, secret, secret);
    record13_rx_epoch *e = rc ? NULL : cdtls_alloc_zero(c->a, sizeof *e);
    if (!rc && !e) rc = CDTLS_ERR_NOMEM;
    if (!rc) {
        record13_rx_epoch_init(e, epoch + 1,
                               c->cfg->limits.replay_window ? c->cfg->limits.replay_window : 64);
        rc = cipher_from_secret(c, &e->cipher, secret);
    }
    if (rc) {
        if (e) cdtls_free_wipe(c->a, e, sizeof *e);
        return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    }
    drop_rx(c, &v->rx_ap_old);
    v->rx_ap_old = v->rx_ap;
    v->rx_ap = e;
    v->ku_received++;
    ack13_rx_new_flight(&v->arx);
    ack13_record_number rn = {epoch, seq};
    ack13_rx_note(&v->arx, rn, 1, now_ms, c->timeout_ms);
    rc = hs13_send_ack(c, now_ms);
    if (!rc && requested && !v->ku_pending) rc = hs13_key_update_send(c, 0, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

/* ------------------------------------------------------------- timers */

uint64_t hs13_timeout(const cdtls_conn *c)
{
    const conn13 *v = c->v13;
    uint64_t t = NO_TIMER;
    if (c->state == CDTLS_STATE_HANDSHAKING) {
        uint64_t deadline = c->h ? c->h->hs_started_ms + c->cfg->timers.handshake_timeout_ms : NO_TIMER;
        t = c->timer_at_ms < deadline ? c->timer_at_ms : deadline;
    } else if (c->state == CDTLS_STATE_ESTABLISHED && v && (v->final_pending || v->ku_pending)) {
        t = c->timer_at_ms;
    }
    if (v && hs13_ticket_timer(c) < t) t = hs13_ticket_timer(c);
    if (v && c->state != CDTLS_STATE_FAILED && v->arx.ack_at_ms < t) t = v->arx.ack_at_ms;
    if (v && hs13_cid_timeout(c) < t) t = hs13_cid_timeout(c);
    if (v && c->state == CDTLS_STATE_ESTABLISHED && hs13_ph_timeout(c) < t) t = hs13_ph_timeout(c);
    return t;
}

/* The retransmission timeout doubled, up to timers.retransmit_max_ms (RFC
 * 9147 §5.8.2); the handshake's flights, KeyUpdate and every post-handshake
 * message (hs13_cid.c, hs13_ticket.c, hs13_posthandshake.c) back off alike.
 * Returns the next deadline from now_ms. */
uint64_t hs13_backoff(const cdtls_conn *c, uint32_t *timeout_ms, uint64_t now_ms)
{
    const uint64_t next = (uint64_t)*timeout_ms * 2;
    *timeout_ms = next > c->cfg->timers.retransmit_max_ms ? c->cfg->timers.retransmit_max_ms : (uint32_t)next;
    return now_ms + *timeout_ms;
}

int hs13_on_timeout(cdtls_conn *c, uint64_t now_ms)
{
    conn13 *v = c->v13;
    v->last_now_ms = now_ms;
    if (c->state == CDTLS_STATE_CLOSED) return CDTLS_OK;
    if (ack13_rx_due(&v->arx, now_ms)) {
        int rc = hs13_send_ack(c, now_ms);
        if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
    }
    if (c->state == CDTLS_STATE_HANDSHAKING && c->h && c->cfg->timers.handshake_timeout_ms &&
        now_ms - c->h->hs_started_ms >= c->cfg->timers.handshake_timeout_ms)
        return conn_fail(c, CDTLS_ERR_HANDSHAKE_TIMEOUT, -1);
    if (hs13_cid_on_timeout(c, now_ms)) return c->error;
    if (c->state == CDTLS_STATE_ESTABLISHED) {
        int rc = hs13_ph_on_timeout(c, now_ms); /* post-handshake auth (hs13_posthandshake.c) */
        if (rc) return rc;
    }
    if (hs13_ticket_on_timeout(c, now_ms) != CDTLS_OK)
        return conn_fail(c, CDTLS_ERR_INTERNAL, ALERT_INTERNAL_ERROR);
    if (c->state == CDTLS_STATE_ESTABLISHED && !v->final_pending && !v->ku_pending) return CDTLS_OK;
    if (c->timer_at_ms == NO_TIMER || now_ms < c->timer_at_ms) return CDTLS_OK;
    if (c->state == CDTLS_STATE_ESTABLISHED && v->ku_pending && !v->final_pending) {
        /* our KeyUpdate is unacknowledged: again, with backoff (§8) */
        c->timer_at_ms = hs13_backoff(c, &c->timeout_ms, now_ms);
        c->retransmits++;
        conn_observe_retransmit(c, 1);
        int rc = ku_transmit(c);
        return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
    }
    /* the final flight of a client is resent until ACKed, within the
     * retransmission limit of the handshake (RFC 9147 §5.8.3, §7) */
    if (c->state == CDTLS_STATE_ESTABLISHED && c->retransmits >= 10) {
        v->final_pending = 0;
        c->timer_at_ms = NO_TIMER;
        conn_flight_clear(c);
        hs13_drop_tx_hs(c);
        hs13_drop_rx_hs(c);
        hs13_handshake_done(c);
        return CDTLS_OK;
    }
    (void)hs13_backoff(c, &c->timeout_ms, now_ms); /* hs13_flight_retransmit sets the timer */
    int rc = hs13_flight_retransmit(c, now_ms);
    return rc ? conn_fail(c, rc, ALERT_INTERNAL_ERROR) : CDTLS_OK;
}

/* ------------------------------------------------------------ receiving */

/* The peer resent (part of) a flight we answered: ours was lost. At most
 * once per half retransmission interval (no amplification by replays). */
static int peer_retransmitted(cdtls_conn *c, uint64_t now_ms)
{
    if (c->flight_len == 0) return CDTLS_OK;
    if (c->last_peer_retransmit_ms && now_ms >= c->last_peer_retransmit_ms &&
        now_ms - c->last_peer_retransmit_ms < c->timeout_ms / 2)
        return CDTLS_OK;
    c->last_peer_retransmit_ms = now_ms ? now_ms : 1;
    return flight_retransmit(c, now_ms, 0);
}

static int process_messages(cdtls_conn *c, uint64_t now_ms)
{
    uint8_t type;
    uint16_t seq;
    const uint8_t *msg;
    size_t msg_len;
    while (c->state == CDTLS_STATE_HANDSHAKING && c->h &&
           hs_reasm_next(&c->h->reasm, &type, &seq, &msg, &msg_len)) {
        c->v13->cur_msg_seq = seq;
        conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_RECEIVED, msg, msg_len);
        if (c->role == CDTLS_SERVER && type == HS_CLIENT_HELLO) {
            /* the second ClientHello after our HelloRetryRequest restarts
             * the reassembly (hs13_server.c): it takes the message out */
            uint8_t *own = hs_reasm_take(&c->h->reasm);
            int rc = hs13_server_message(c, type, own + DTLS_HS_HEADER_LEN, msg_len - DTLS_HS_HEADER_LEN,
                                         now_ms);
            cdtls_free_wipe(c->a, own, msg_len);
            if (rc) return rc;
            continue;
        }
        const uint8_t *body = msg + DTLS_HS_HEADER_LEN;
        size_t blen = msg_len - DTLS_HS_HEADER_LEN;
        int rc = c->role == CDTLS_CLIENT ? hs13_client_message(c, type, body, blen, now_ms)
                                         : hs13_server_message(c, type, body, blen, now_ms);
        if (c->h) hs_reasm_consume(&c->h->reasm);
        if (rc) return rc;
    }
    return CDTLS_OK;
}

/* Handshake records. During the handshake, fragments of the epoch the
 * current flight of the peer uses are reassembled (RFC 9147 §5.5); an old
 * message means the peer lost our flight. After it: the client's final
 * flight again (our ACK was lost) or the server's (our final flight was). */
static int handle_handshake(cdtls_conn *c, const uint8_t *pt, size_t len, uint64_t epoch, uint64_t seq,
                            uint64_t now_ms)
{
    conn13 *v = c->v13;
    cdtls_reader r;
    reader_init(&r, pt, len);
    while (r.left > 0) {
        hs_header h;
        const uint8_t *frag;
        if (hs_header_read(&r, &h, &frag) != CDTLS_OK) return CDTLS_OK;
        if (c->state != CDTLS_STATE_HANDSHAKING) {
            if (epoch == 2 && c->role == CDTLS_SERVER) {
                /* our ACK of the client's final flight was lost */
                if (!v->last_ack_ms || now_ms < v->last_ack_ms ||
                    now_ms - v->last_ack_ms >= c->timeout_ms / 2) {
                    int rc = hs13_send_ack(c, now_ms);
                    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
                }
            } else if (epoch == 2 && c->role == CDTLS_CLIENT && v->final_pending) {
                int rc = peer_retransmitted(c, now_ms);
                if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
            } else if (epoch >= 3 && h.message_seq < c->peer_next_seq &&
                       (h.type == HS13_KEY_UPDATE || h.type == HS_NEW_SESSION_TICKET ||
                        hs13_cid_msg_type(h.type) || hs13_ph_handles(h.type))) {
                /* the peer resends a post-handshake message we have: our ACK was lost */
                ack13_record_number rn = {epoch, seq};
                ack13_rx_note(&v->arx, rn, 1, now_ms, c->timeout_ms);
                int rc = hs13_send_ack(c, now_ms);
                if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
            } else if (epoch >= 3 && h.message_seq >= c->peer_next_seq && hs13_ph_handles(h.type)) {
                /* post-handshake auth, reassembled (hs13_posthandshake.c) */
                int rc = hs13_ph_receive(c, &h, frag, epoch, seq, now_ms);
                if (rc) return rc;
            } else if (epoch >= 3 && h.message_seq > c->peer_next_seq) {
                /* a later message overtook one that was lost: dropped and
                 * not ACKed, so the peer resends it after the one we lack
                 * (RFC 9147 §5.2: a message beyond next_receive_seq MAY be
                 * discarded). Taken now, it would move peer_next_seq past
                 * the lost one, whose resent copy would then look old: ACKed,
                 * never processed (a NewConnectionId or ticket lost). */
            } else if (epoch >= 3 && h.message_seq == c->peer_next_seq && h.fragment_offset == 0 &&
                       h.fragment_length == h.length) {
                /* post-handshake messages: KeyUpdate (§8); NewSessionTicket
                 * is acknowledged and kept (hs13_ticket.c);
                 * anything else ends the connection */
                c->peer_next_seq = (uint16_t)(h.message_seq + 1);
                conn_observe_message(c, CDTLS_EVENT_HANDSHAKE_RECEIVED, frag - DTLS_HS_HEADER_LEN,
                                     DTLS_HS_HEADER_LEN + h.length);
                if (h.type == HS13_KEY_UPDATE) {
                    int rc = ku_received(c, frag, h.length, epoch, seq, now_ms);
                    if (rc) return rc;
                } else if (hs13_cid_msg_type(h.type)) {
                    int rc = hs13_cid_received(c, h.type, frag, h.length, epoch, seq, now_ms);
                    if (rc) return rc;
                } else if (h.type == HS_NEW_SESSION_TICKET) {
                    int trc = hs13_ticket_client_on_nst(c, frag, h.length, now_ms); /* kept when wanted */
                    if (trc) return trc;
                    ack13_rx_new_flight(&v->arx);
                    ack13_record_number rn = {epoch, seq};
                    ack13_rx_note(&v->arx, rn, 1, now_ms, c->timeout_ms);
                    int rc = hs13_send_ack(c, now_ms);
                    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
                } else {
                    return conn_fail(c, CDTLS_ERR_UNEXPECTED_MESSAGE, ALERT_UNEXPECTED_MESSAGE);
                }
            }
            continue;
        }
        if (!c->h) return CDTLS_OK;
        const uint16_t next = hs_reasm_next_seq(&c->h->reasm);
        if (epoch != v->hs_read_epoch) {
            if (h.message_seq < next && h.fragment_offset == 0) {
                int rc = peer_retransmitted(c, now_ms);
                if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
            }
            continue;
        }
        int st = hs_reasm_add(&c->h->reasm, &h, frag, h.fragment_length);
        if (st == HS_REASM_OLD) {
            if (h.fragment_offset == 0) {
                int rc = peer_retransmitted(c, now_ms);
                if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
            }
            continue;
        }
        if (st == CDTLS_OK && epoch != 0) {
            ack13_record_number rn = {epoch, seq};
            ack13_rx_note(&v->arx, rn, h.message_seq == next, now_ms, c->timeout_ms);
        }
        int rc = process_messages(c, now_ms);
        if (rc) return rc;
    }
    return CDTLS_OK;
}

static int handle_ack(cdtls_conn *c, const uint8_t *pt, size_t len, uint64_t now_ms)
{
    conn13 *v = c->v13;
    ack13_record_number rns[64];
    size_t n = 0;
    if (ack13_parse(pt, len, rns, 64, &n) != CDTLS_OK) return CDTLS_OK; /* malformed: dropped */
    conn_observe_ack(c, CDTLS_EVENT_ACK_RECEIVED, len >= 2 ? (len - 2) / 16 : 0);
    hs13_ph_on_ack(c, rns, n);
    if (v->ku_pending) {
        size_t kn = v->n_ku_rn < 8 ? v->n_ku_rn : 8;
        for (size_t i = 0; i < n && v->ku_pending; i++)
            for (size_t j = 0; j < kn; j++)
                if (rns[i].epoch == v->ku_rn[j].epoch && rns[i].seq == v->ku_rn[j].seq) {
                    int rc = ku_done(c);
                    if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
                    break;
                }
    }
    if (hs13_cid_on_ack(c, rns, n, now_ms)) return c->error;
    hs13_ticket_on_ack(c, rns, n); /* our NewSessionTicket */
    if (!v->ack_tracking || !v->hh || c->flight_len == 0) return CDTLS_OK;
    if (ack13_tx_on_ack(&v->hh->atx, rns, n) == 0) return CDTLS_OK; /* none of ours (§7.2) */
    /* A peer that acknowledges a record of epoch 2 has our ServerHello
     * (it has the keys), whether or not it lists its plaintext record */
    int epoch2 = 0;
    for (size_t i = 0; i < n; i++) epoch2 |= rns[i].epoch >= 2;
    if (epoch2) {
        ack13_record_number plain[ACK13_MAX_SENT];
        size_t k = 0;
        for (size_t i = 0; i < v->hh->atx.sent_count; i++)
            if (v->hh->atx.sent[i].rn.epoch == 0) plain[k++] = v->hh->atx.sent[i].rn;
        if (k) (void)ack13_tx_on_ack(&v->hh->atx, plain, k);
    }
    if (!ack13_tx_flight_acked(&v->hh->atx)) return CDTLS_OK;
    /* RFC 9147 §7.1: a flight wholly acknowledged is not retransmitted */
    c->timer_at_ms = NO_TIMER;
    if (v->final_pending) {
        /* the server has our Finished: epoch 2 is over for us */
        v->final_pending = 0;
        conn_flight_clear(c);
        drop_tx(c, &v->tx_hs);
        drop_rx(c, &v->rx_hs);
        hs13_handshake_done(c);
    }
    return CDTLS_OK;
}

static int dispatch(cdtls_conn *c, uint8_t type, dgram_node **node, size_t len, uint64_t epoch, uint64_t seq,
                    uint64_t now_ms)
{
    const uint8_t *pt = (*node)->data;
    switch (type) {
    case CT_HANDSHAKE: return handle_handshake(c, pt, len, epoch, seq, now_ms);
    case CT_ALERT:
        /* plaintext alerts are believed only before any keys (§5) */
        if (epoch == 0 && (c->state != CDTLS_STATE_HANDSHAKING || c->v13->rx_hs)) return CDTLS_OK;
        return conn_handle_alert(c, pt, len);
    case CT_APPLICATION_DATA:
        if (epoch < 3) return CDTLS_OK; /* never before the application keys */
        return conn_handle_app_data(c, node, len, 1);
    case R13_CT_ACK:
        if (epoch == 0) return CDTLS_OK;
        return handle_ack(c, pt, len, now_ms);
    case CT_RRC:
        /* RFC 9853 §4: in DTLSInnerPlaintext of the application epochs */
        if (epoch < 3) return CDTLS_OK;
        return conn_rrc_handle(c, pt, len, (int)epoch, now_ms);
    default: return CDTLS_OK;
    }
}

static record13_rx_epoch *rx_for_bits(conn13 *v, uint8_t bits)
{
    if (v->rx_ap && (v->rx_ap->epoch & 3u) == bits) return v->rx_ap;
    if (v->rx_ap_old && (v->rx_ap_old->epoch & 3u) == bits) return v->rx_ap_old;
    if (v->rx_hs && bits == 2) return v->rx_hs;
    return NULL;
}

/* A client that offered 1.3 and has no handshake keys yet (no
 * ServerHello: before it, or after a HelloRetryRequest) keeps the
 * protected records that reach it (RFC 9147 §4.2.1: "implementations MAY
 * buffer records of a future epoch"): a ServerHello overtaken by the rest
 * of its flight then costs no retransmission. Bounded by
 * limits.max_early_records; garbage kept this way fails to open later. */
int hs13_keeps_early(const cdtls_conn *c, uint8_t first_byte)
{
    const conn13 *v = c->v13;
    return c->role == CDTLS_CLIENT && c->state == CDTLS_STATE_HANDSHAKING && v && !v->rx_hs && !v->rx_ap &&
           c->version != CDTLS_VERSION_1_2 && record13_classify(first_byte) == R13_KIND_CIPHERTEXT;
}

int hs13_early_readable(const cdtls_conn *c)
{
    return c->version == CDTLS_VERSION_1_3 && c->v13 && c->v13->rx_hs;
}

static int open_record(cdtls_conn *c, record13_header *h, const cdtls_oob *oob, uint64_t now_ms)
{
    conn13 *v = c->v13;
    record13_rx_epoch *e = rx_for_bits(v, h->epoch_bits);
    if (!e && hs13_keeps_early(c, h->flags)) {
        /* after a HelloRetryRequest, before the second ServerHello */
        conn_keep_early(c, h->hdr, h->hdr_len + h->body_len, oob);
        return CDTLS_OK;
    }
    if (!e && h->epoch_bits == 2 && c->role == CDTLS_SERVER && c->state == CDTLS_STATE_ESTABLISHED &&
        v->tx_ap) {
        /* The server keeps no epoch-2 keys once established (memory): a
         * record of epoch 2 is then the client resending its final flight
         * because our ACK was lost, and gets that ACK again (its record
         * numbers are those of the first transmission, which the client
         * still knows). Not decrypted, so anyone can ask: at most once per
         * half retransmission interval. */
        if (!v->last_ack_ms || now_ms < v->last_ack_ms || now_ms - v->last_ack_ms >= c->timeout_ms / 2) {
            int rc = hs13_send_ack(c, now_ms);
            if (rc) return conn_fail(c, rc, ALERT_INTERNAL_ERROR);
        }
        return CDTLS_OK;
    }
    if (!e || h->body_len < R13_MIN_CIPHERTEXT) return CDTLS_OK;
    dgram_node *node = dgram_queue_node(&c->app, c->a, h->body_len, oob);
    if (!node) return CDTLS_OK;
    size_t pt_len = 0;
    uint8_t type = 0;
    uint64_t seq = 0;
    const uint64_t newest = e->next_expected;
    int rc = record13_rx_open(e, h, node->data, h->body_len, &pt_len, &type, &seq);
    if (rc == CDTLS_OK) {
        c->recv_authenticated = 1; /* conn_rrc.c: the address counts */
        /* RFC 9146 §6, RFC 9147 §9: only an authenticated record newer than
         * all before may move a CID connection to a new address */
        if (seq >= newest && e == v->rx_ap) c->recv_advanced = 1;
        rc = dispatch(c, type, &node, pt_len, e->epoch, seq, now_ms);
    } else if (rc == CDTLS_ERR_LIMIT) {
        /* §4.5.3: the integrity limit of this key is reached */
        rc = conn_fail(c, CDTLS_ERR_LIMIT, ALERT_BAD_RECORD_MAC);
    } else {
        rc = CDTLS_OK; /* §4.5.2: invalid records are dropped silently */
    }
    dgram_queue_recycle(&c->app, c->a, node);
    return rc;
}

static int plaintext_record(cdtls_conn *c, const record_header *rh, const uint8_t *frag, const cdtls_oob *oob,
                            uint64_t now_ms)
{
    /* §4.1: epoch 0 records carry handshake, alert and ACK content only */
    if (rh->epoch != 0 || (rh->type != CT_HANDSHAKE && rh->type != CT_ALERT)) return CDTLS_OK;
    if (c->cfg->limits.replay_window && replay_check(&c->replay[0], rh->seq) != CDTLS_OK &&
        c->replay[0].top - rh->seq < c->replay[0].size)
        return CDTLS_OK;
    if (c->cfg->limits.replay_window) replay_accept(&c->replay[0], rh->seq);
    dgram_node *node = dgram_queue_node(&c->app, c->a, rh->length ? rh->length : 1, oob);
    if (!node) return CDTLS_OK;
    if (rh->length) memcpy(node->data, frag, rh->length);
    int rc = dispatch(c, rh->type, &node, rh->length, 0, rh->seq, now_ms);
    dgram_queue_recycle(&c->app, c->a, node);
    return rc;
}

int hs13_process_records(cdtls_conn *c, cdtls_reader *r, const cdtls_oob *oob, uint64_t now_ms)
{
    c->v13->last_now_ms = now_ms;
    while (r->left > 0 && c->state != CDTLS_STATE_FAILED) {
        record13_kind k = record13_classify(r->p[0]);
        int rc = CDTLS_OK;
        if (k == R13_KIND_CIPHERTEXT) {
            record13_header h;
            if (record13_read(r, hs13_cid_rx_len(c), &h) != CDTLS_OK) break;
            /* RFC 9147 §9: a record not carrying one of our CIDs is dropped */
            if (hs13_cid_rx_ok(c, &h)) rc = open_record(c, &h, oob, now_ms);
        } else if (k == R13_KIND_PLAINTEXT || k == R13_KIND_DTLS12) {
            record_header rh;
            const uint8_t *hdr, *frag;
            if (record_read(r, &rh, &hdr, &frag) != CDTLS_OK) break;
            /* DTLS 1.2 records (CCS, tls12_cid, epoch-1 data) have no place
             * in a 1.3 connection: dropped */
            if (k == R13_KIND_PLAINTEXT) rc = plaintext_record(c, &rh, frag, oob, now_ms);
        } else {
            break; /* §4.1: not a record: the rest of the datagram is dropped */
        }
        if (rc) return rc;
    }
    return CDTLS_OK;
}

/* ----------------------------------------------------------- exporter */

int hs13_export(const cdtls_conn *c, const char *label, const uint8_t *context, size_t context_len,
                uint8_t *out, size_t out_len)
{
    const conn13 *v = c->v13;
    if (!v || c->state != CDTLS_STATE_ESTABLISHED) return CDTLS_ERR_BAD_STATE;
    return tls13_export(c->p, v->hash, DTLS13_LABEL_PREFIX, v->exporter, (const uint8_t *)label,
                        strlen(label), context, context_len, out, out_len);
}

#endif /* CDTLS_HAVE_DTLS13 */
