/* Session tickets (RFC 5077): a server's session state, sealed under a key
 * only the server knows, carried by the client. The layout follows the
 * recommendation of RFC 5077 §4 with an AEAD in place of AES-CBC + HMAC:
 *
 *   key_name(16) || nonce(12) || AEAD(state) || tag(16)
 *
 * with key_name || nonce as additional data, and
 *
 *   state = version(1) || cipher_suite(2) || flags(1: bit 0 = EMS)
 *           || created_ms(8) || master_secret(48) || psk_binder(32)
 *           || server_name_hash(32)
 *           || psk_identity<0..2^16-1>
 *           [|| ticket_age_add(4) || ticket_issued_ms(8): version 2 only]
 *
 * version 1 is a DTLS 1.2 session (master_secret is the 1.2 master
 * secret), version 2 a DTLS 1.3 one (master_secret holds the resumption
 * PSK, RFC 8446 §4.6.1, Hash.length bytes). Each opener asks for its own
 * version, so a 1.2 ticket is never taken as a 1.3 PSK or the reverse.
 *
 * The nonce is random per ticket (96 bits; keys rotate long before a
 * collision is likely). The key that opened a ticket is reported so that
 * a ticket under an old key is replaced (RFC 5077 §3.3 allows a new ticket
 * in an abbreviated handshake). */
#include <string.h>

#include "common/mem.h"
#include "common/reader.h"
#include "common/writer.h"
#include "engine/conn_internal.h"

#define TICKET_VERSION 1u
#define TICKET_VERSION_13 2u
#define TICKET_HDR (CDTLS_TICKET_KEY_NAME_LEN + 12u)
#define TICKET_STATE_FIXED (1u + 2u + 1u + 8u + KS_MASTER_LEN + 32u + 32u + 2u)

const cdtls_aead_vt *blob_aead(const cdtls_provider *p)
{
    if (p->aead[CDTLS_AEAD_CHACHA20_POLY1305]) return p->aead[CDTLS_AEAD_CHACHA20_POLY1305];
    return p->aead[CDTLS_AEAD_AES_256_GCM];
}

static void keys_lock(cdtls_ticket_keys *k, int take)
{
    if (k->lock) k->lock(k->lock_ctx, take);
}

static void keys_add(cdtls_ticket_keys *k, const uint8_t name[CDTLS_TICKET_KEY_NAME_LEN],
                     const uint8_t key[32], uint64_t now_ms)
{
    cdtls_memzero(&k->keys[CDTLS_TICKET_KEYS - 1], sizeof k->keys[0]);
    memmove(&k->keys[1], &k->keys[0], (CDTLS_TICKET_KEYS - 1) * sizeof k->keys[0]);
    memcpy(k->keys[0].name, name, CDTLS_TICKET_KEY_NAME_LEN);
    memcpy(k->keys[0].key, key, 32);
    k->keys[0].created_ms = now_ms;
    k->keys[0].used = 1;
}

/* Called with the lock held (or before anyone shares the ring). */
static int new_key(cdtls_ticket_keys *k, uint64_t now_ms)
{
    uint8_t name[CDTLS_TICKET_KEY_NAME_LEN], key[32];
    int rc = k->provider->random(k->provider, name, sizeof name);
    if (!rc) rc = k->provider->random(k->provider, key, sizeof key);
    if (!rc) keys_add(k, name, key, now_ms);
    cdtls_memzero(key, sizeof key);
    return rc;
}

int cdtls_ticket_keys_init(cdtls_ticket_keys *k, const cdtls_provider *provider, uint32_t rotate_ms,
                           uint64_t now_ms)
{
    if (!k) return CDTLS_ERR_INVALID_ARG;
    memset(k, 0, sizeof *k);
    k->provider = provider ? provider : cdtls_provider_default();
    if (!k->provider || !k->provider->random) return CDTLS_ERR_INVALID_ARG;
    if (!blob_aead(k->provider)) return CDTLS_ERR_UNSUPPORTED;
    k->rotate_ms = rotate_ms;
    return new_key(k, now_ms);
}

int cdtls_ticket_keys_add(cdtls_ticket_keys *k, const uint8_t name[CDTLS_TICKET_KEY_NAME_LEN],
                          const uint8_t key[32], uint64_t now_ms)
{
    if (!k || !name || !key) return CDTLS_ERR_INVALID_ARG;
    if (!k->provider) k->provider = cdtls_provider_default();
    if (!k->provider) return CDTLS_ERR_INVALID_ARG;
    keys_lock(k, 1);
    keys_add(k, name, key, now_ms);
    keys_lock(k, 0);
    return CDTLS_OK;
}

/* Rotation runs on the engine's clock (now_ms), as everything does, when
 * a ticket is sealed or opened: a ticket under a key that has been
 * replaced is then renewed. */
static int rotate(cdtls_ticket_keys *k, uint64_t now_ms)
{
    if (k->rotate_ms && k->keys[0].used && now_ms >= k->keys[0].created_ms &&
        now_ms - k->keys[0].created_ms >= k->rotate_ms)
        return new_key(k, now_ms);
    return CDTLS_OK;
}

void cdtls_ticket_keys_wipe(cdtls_ticket_keys *k)
{
    if (k) cdtls_memzero(k->keys, sizeof k->keys);
}

static int seal_locked(cdtls_ticket_keys *k, const cdtls_session *s, uint8_t version, uint64_t now_ms,
                       uint8_t *out, size_t cap, size_t *out_len)
{
    const cdtls_aead_vt *a = k->provider ? blob_aead(k->provider) : NULL;
    if (!a || s->psk_identity_len > CDTLS_MAX_PSK_IDENTITY_LEN) return CDTLS_ERR_UNSUPPORTED;
    int rc = rotate(k, now_ms);
    if (rc) return rc;
    if (!k->keys[0].used) return CDTLS_ERR_BAD_STATE;
    const size_t extra = version == TICKET_VERSION_13 ? 12u : 0u;
    const size_t need = TICKET_HDR + TICKET_STATE_FIXED + s->psk_identity_len + extra + a->tag_len;
    if (cap < need) return CDTLS_ERR_BUFFER_TOO_SMALL;

    uint8_t state[TICKET_STATE_FIXED + CDTLS_MAX_PSK_IDENTITY_LEN + 12u];
    cdtls_writer w;
    writer_init(&w, state, sizeof state);
    writer_u8(&w, version);
    writer_u16(&w, s->cipher_suite);
    writer_u8(&w, s->ems ? 1u : 0u);
    writer_u32(&w, (uint32_t)(s->created_ms >> 32));
    writer_u32(&w, (uint32_t)s->created_ms);
    writer_bytes(&w, s->master_secret, KS_MASTER_LEN);
    writer_bytes(&w, s->psk_binder, sizeof s->psk_binder);
    writer_bytes(&w, s->server_name_hash, sizeof s->server_name_hash);
    writer_u16(&w, (unsigned)s->psk_identity_len);
    writer_bytes(&w, s->psk_identity, s->psk_identity_len);
    if (extra) {
        writer_u32(&w, s->ticket_age_add);
        writer_u32(&w, (uint32_t)(s->ticket_issued_ms >> 32));
        writer_u32(&w, (uint32_t)s->ticket_issued_ms);
    }
    rc = w.failed ? CDTLS_ERR_INTERNAL : CDTLS_OK;

    memcpy(out, k->keys[0].name, CDTLS_TICKET_KEY_NAME_LEN);
    if (!rc) rc = k->provider->random(k->provider, out + CDTLS_TICKET_KEY_NAME_LEN, 12);
    cdtls_aead_ctx ctx;
    if (!rc) rc = a->init(&ctx, k->keys[0].key, 32);
    if (!rc) {
        rc = a->seal(&ctx, out + CDTLS_TICKET_KEY_NAME_LEN, 12, out, TICKET_HDR, state, w.len,
                     out + TICKET_HDR);
        a->clear(&ctx);
    }
    cdtls_memzero(state, sizeof state);
    if (rc) return rc;
    *out_len = need;
    k->sealed++;
    return CDTLS_OK;
}

static int open_locked(cdtls_ticket_keys *k, const uint8_t *t, size_t len, uint8_t want, uint64_t now_ms,
                       cdtls_session *out, int *old_key)
{
    const cdtls_aead_vt *a = k->provider ? blob_aead(k->provider) : NULL;
    if (!a) return CDTLS_ERR_UNSUPPORTED;
    if (rotate(k, now_ms) != CDTLS_OK) return CDTLS_ERR_INTERNAL;
    if (len < TICKET_HDR + TICKET_STATE_FIXED + a->tag_len ||
        len > TICKET_HDR + TICKET_STATE_FIXED + CDTLS_MAX_PSK_IDENTITY_LEN + 12u + a->tag_len) {
        k->refused++;
        return CDTLS_ERR_DECODE;
    }
    /* key names are not secret: an ordinary comparison picks the key */
    const cdtls_ticket_key *key = NULL;
    size_t which = 0;
    for (size_t i = 0; i < CDTLS_TICKET_KEYS && !key; i++)
        if (k->keys[i].used && memcmp(k->keys[i].name, t, CDTLS_TICKET_KEY_NAME_LEN) == 0)
            key = &k->keys[i], which = i;
    if (!key) {
        k->refused++;
        return CDTLS_ERR_AUTH;
    }
    uint8_t state[TICKET_STATE_FIXED + CDTLS_MAX_PSK_IDENTITY_LEN + 12u];
    const size_t state_len = len - TICKET_HDR - a->tag_len;
    cdtls_aead_ctx ctx;
    int rc = a->init(&ctx, key->key, 32);
    if (!rc) {
        rc = a->open(&ctx, t + CDTLS_TICKET_KEY_NAME_LEN, 12, t, TICKET_HDR, t + TICKET_HDR, len - TICKET_HDR,
                     state);
        a->clear(&ctx);
    }
    if (!rc) {
        cdtls_reader r;
        reader_init(&r, state, state_len);
        uint8_t version = 0, flags = 0;
        uint16_t suite = 0, id_len = 0;
        uint32_t hi = 0, lo = 0, age_add = 0, ihi = 0, ilo = 0;
        const uint8_t *master = NULL, *binder = NULL, *sni = NULL, *identity = NULL;
        reader_u8(&r, &version);
        reader_u16(&r, &suite);
        reader_u8(&r, &flags);
        reader_u32(&r, &hi);
        reader_u32(&r, &lo);
        (void)reader_bytes(&r, KS_MASTER_LEN, &master);
        (void)reader_bytes(&r, 32, &binder);
        (void)reader_bytes(&r, 32, &sni);
        reader_u16(&r, &id_len);
        (void)reader_bytes(&r, id_len, &identity);
        if (want == TICKET_VERSION_13) {
            reader_u32(&r, &age_add);
            reader_u32(&r, &ihi);
            reader_u32(&r, &ilo);
        }
        /* authenticated, so made by us: a bad layout means another version */
        if (r.failed || r.left != 0 || version != want || id_len > CDTLS_MAX_PSK_IDENTITY_LEN) {
            rc = CDTLS_ERR_DECODE;
        } else {
            memset(out, 0, sizeof *out);
            out->cipher_suite = suite;
            out->ems = flags & 1u;
            out->created_ms = ((uint64_t)hi << 32) | lo;
            memcpy(out->master_secret, master, KS_MASTER_LEN);
            memcpy(out->psk_binder, binder, sizeof out->psk_binder);
            memcpy(out->server_name_hash, sni, sizeof out->server_name_hash);
            if (id_len) memcpy(out->psk_identity, identity, id_len);
            out->psk_identity_len = id_len;
            out->ticket_age_add = age_add;
            out->ticket_issued_ms = ((uint64_t)ihi << 32) | ilo;
            out->version = want == TICKET_VERSION_13 ? CDTLS_VERSION_1_3 : 0;
            *old_key = which != 0;
        }
    }
    cdtls_memzero(state, sizeof state);
    if (rc)
        k->refused++;
    else
        k->opened++;
    return rc;
}

/* The ring may be shared by connections of several threads (k->lock):
 * rotation, the keys and the counters are used under its lock. */
int ticket_seal(cdtls_ticket_keys *k, const cdtls_session *s, uint64_t now_ms, uint8_t *out, size_t cap,
                size_t *out_len)
{
    keys_lock(k, 1);
    int rc = seal_locked(k, s, TICKET_VERSION, now_ms, out, cap, out_len);
    keys_lock(k, 0);
    return rc;
}

int ticket_open(cdtls_ticket_keys *k, const uint8_t *t, size_t len, uint64_t now_ms, cdtls_session *out,
                int *old_key)
{
    keys_lock(k, 1);
    int rc = open_locked(k, t, len, TICKET_VERSION, now_ms, out, old_key);
    keys_lock(k, 0);
    return rc;
}

int ticket_seal13(cdtls_ticket_keys *k, const cdtls_session *s, uint64_t now_ms, uint8_t *out, size_t cap,
                  size_t *out_len)
{
    keys_lock(k, 1);
    int rc = seal_locked(k, s, TICKET_VERSION_13, now_ms, out, cap, out_len);
    keys_lock(k, 0);
    return rc;
}

int ticket_open13(cdtls_ticket_keys *k, const uint8_t *t, size_t len, uint64_t now_ms, cdtls_session *out,
                  int *old_key)
{
    keys_lock(k, 1);
    int rc = open_locked(k, t, len, TICKET_VERSION_13, now_ms, out, old_key);
    keys_lock(k, 0);
    return rc;
}
