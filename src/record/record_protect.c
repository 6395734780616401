/* Record protection: AEAD (RFC 5288, RFC 6655, RFC 7905) and CBC + HMAC
 * (RFC 5246 §6.2.3.2, RFC 7366), with the DTLS additional data of RFC 6347
 * §4.1.2.1: epoch(2) || seq(6) || type(1) || version(2) || length(2). */
#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/mem.h"
#include "common/writer.h"
#include "record/record.h"

#define AEAD_EXPLICIT_NONCE 8u
#define CBC_BLOCK 16u

/* ------------------------------------------------------ constant-time bits */

/* All-ones if a == b, else zero; no branches on the values. */
static size_t ct_eq_mask(size_t a, size_t b)
{
    size_t x = a ^ b;
    /* (x | -x) has the top bit set iff x != 0 */
    return ((x | (0 - x)) >> (sizeof(size_t) * 8 - 1)) - 1;
}

/* All-ones if a < b (both < 2^(bits-1)), else zero. */
static size_t ct_lt_mask(size_t a, size_t b)
{
    return 0 - ((a - b) >> (sizeof(size_t) * 8 - 1));
}

static size_t ct_select(size_t mask, size_t a, size_t b)
{
    return (a & mask) | (b & ~mask);
}

/* --------------------------------------------------------------- setup */

int record_cipher_init_aead(record_cipher *rc, const cdtls_provider *p, cdtls_aead_alg alg,
                            const uint8_t *key, size_t key_len, const uint8_t *fixed_iv, size_t fixed_iv_len)
{
    if (!rc || !p || (unsigned)alg >= CDTLS_AEAD__COUNT || !key || !fixed_iv) return CDTLS_ERR_INVALID_ARG;
    if (fixed_iv_len != 4 && fixed_iv_len != 12) return CDTLS_ERR_NONCE_SIZE;
    const cdtls_aead_vt *a = p->aead[alg];
    if (!a) return CDTLS_ERR_UNSUPPORTED;
    memset(rc, 0, sizeof *rc);
    int r = a->init(&rc->aead_ctx, key, key_len);
    if (r) return r;
    rc->kind = RC_AEAD;
    rc->p = p;
    rc->aead = a;
    memcpy(rc->iv, fixed_iv, fixed_iv_len);
    rc->fixed_iv_len = fixed_iv_len;
    return CDTLS_OK;
}

int record_cipher_init_cbc(record_cipher *rc, const cdtls_provider *p, cdtls_cbc_alg alg,
                           cdtls_hash_alg mac_hash, const uint8_t *key, size_t key_len,
                           const uint8_t *mac_key, size_t mac_key_len, int encrypt, int encrypt_then_mac)
{
    if (!rc || !p || (unsigned)alg >= CDTLS_CBC__COUNT || (unsigned)mac_hash >= CDTLS_HASH__COUNT || !key ||
        !mac_key || mac_key_len > sizeof rc->mac_key)
        return CDTLS_ERR_INVALID_ARG;
    const cdtls_cbc_vt *c = p->cbc[alg];
    const cdtls_hmac_vt *m = p->hmac[mac_hash];
    if (!c || !m || !p->random) return CDTLS_ERR_UNSUPPORTED;
    memset(rc, 0, sizeof *rc);
    int r = c->init(&rc->cbc_ctx, encrypt, key, key_len);
    if (r) return r;
    rc->kind = RC_CBC;
    rc->p = p;
    rc->cbc = c;
    rc->mac = m;
    memcpy(rc->mac_key, mac_key, mac_key_len);
    rc->mac_key_len = mac_key_len;
    rc->encrypt_then_mac = encrypt_then_mac;
    return CDTLS_OK;
}

void record_cipher_clear(record_cipher *rc)
{
    if (!rc) return;
    if (rc->kind == RC_AEAD && rc->aead) rc->aead->clear(&rc->aead_ctx);
    if (rc->kind == RC_CBC && rc->cbc) rc->cbc->clear(&rc->cbc_ctx);
    cdtls_memzero(rc, sizeof *rc);
}

size_t record_cipher_expansion(const record_cipher *rc)
{
    if (!rc || !rc->kind) return 0;
    if (rc->kind == RC_AEAD) return (rc->fixed_iv_len == 4 ? AEAD_EXPLICIT_NONCE : 0) + rc->aead->tag_len;
    /* IV + MAC + padding (1..16 bytes) */
    return CBC_BLOCK + rc->mac->mac_len + CBC_BLOCK;
}

/* --------------------------------------------------------------- helpers */

void record_aead_nonce(const record_cipher *rc, uint16_t epoch, uint64_t seq, uint8_t nonce[12])
{
    uint8_t es[8];
    put_u16(es, epoch);
    put_u48(es + 2, seq);
    if (rc->fixed_iv_len == 4) {
        /* RFC 5288 §3 / RFC 6655 §3: salt || explicit nonce; cdtls uses the
         * record's epoch||seq as the explicit part, unique per key. */
        memcpy(nonce, rc->iv, 4);
        memcpy(nonce + 4, es, 8);
    } else {
        /* RFC 7905 §2: the 64-bit epoch||seq XORed into the right of the IV. */
        memcpy(nonce, rc->iv, 12);
        for (int i = 0; i < 8; i++) nonce[4 + i] ^= es[i];
    }
}

static void build_aad(uint8_t aad[13], uint16_t epoch, uint64_t seq, uint8_t type, uint16_t version,
                      size_t len)
{
    put_u16(aad, epoch);
    put_u48(aad + 2, seq);
    aad[8] = type;
    put_u16(aad + 9, version);
    put_u16(aad + 11, (unsigned)len);
}

/* HMAC over the pseudo-header and up to two data pieces. */
static void mac_compute(const record_cipher *rc, const uint8_t aad[13], const uint8_t *a, size_t a_len,
                        const uint8_t *b, size_t b_len, uint8_t *out)
{
    cdtls_hmac_ctx h;
    rc->mac->init(&h, rc->mac_key, rc->mac_key_len);
    rc->mac->update(&h, aad, 13);
    if (a_len) rc->mac->update(&h, a, a_len);
    if (b_len) rc->mac->update(&h, b, b_len);
    rc->mac->final(&h, out);
}

/* ------------------------------------------------------------------ seal */

static int seal_aead(const record_cipher *rc, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                     const uint8_t *pt, size_t pt_len, uint8_t *frag, size_t cap, size_t *frag_len)
{
    size_t explicit_len = rc->fixed_iv_len == 4 ? AEAD_EXPLICIT_NONCE : 0;
    size_t need = explicit_len + pt_len + rc->aead->tag_len;
    if (cap < need) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t nonce[12], aad[13];
    record_aead_nonce(rc, epoch, seq, nonce);
    build_aad(aad, epoch, seq, type, version, pt_len);
    if (explicit_len) memcpy(frag, nonce + 4, explicit_len);
    int r = rc->aead->seal(&rc->aead_ctx, nonce, 12, aad, 13, pt, pt_len, frag + explicit_len);
    if (r) return r;
    *frag_len = need;
    return CDTLS_OK;
}

static int seal_cbc(const record_cipher *rc, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                    const uint8_t *pt, size_t pt_len, uint8_t *frag, size_t cap, size_t *frag_len)
{
    const size_t mac_len = rc->mac->mac_len;
    size_t body = rc->encrypt_then_mac ? pt_len : pt_len + mac_len;
    size_t pad = CBC_BLOCK - (body + 1) % CBC_BLOCK; /* pad bytes beside the length byte */
    if (pad == CBC_BLOCK) pad = 0;
    size_t enc_len = body + pad + 1;
    size_t need = CBC_BLOCK + enc_len + (rc->encrypt_then_mac ? mac_len : 0);
    if (cap < need) return CDTLS_ERR_BUFFER_TOO_SMALL;

    uint8_t aad[13];
    uint8_t *iv = frag, *enc = frag + CBC_BLOCK;
    int r = rc->p->random(rc->p, iv, CBC_BLOCK); /* explicit IV, RFC 5246 §6.2.3.2 */
    if (r) return r;
    memcpy(enc, pt, pt_len);
    if (!rc->encrypt_then_mac) {
        build_aad(aad, epoch, seq, type, version, pt_len);
        mac_compute(rc, aad, pt, pt_len, NULL, 0, enc + pt_len);
    }
    memset(enc + body, (int)pad, pad + 1);
    r = rc->cbc->encrypt(&rc->cbc_ctx, iv, enc, enc_len);
    if (r) return r;
    if (rc->encrypt_then_mac) {
        /* RFC 7366 §3: MAC over IV || ciphertext, length = their length. */
        build_aad(aad, epoch, seq, type, version, CBC_BLOCK + enc_len);
        mac_compute(rc, aad, frag, CBC_BLOCK + enc_len, NULL, 0, frag + CBC_BLOCK + enc_len);
    }
    *frag_len = need;
    return CDTLS_OK;
}

int record_seal(const record_cipher *rc, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!out || !out_len || (!pt && pt_len) || seq > DTLS_MAX_SEQ) return CDTLS_ERR_INVALID_ARG;
    if (pt_len > DTLS_MAX_PLAINTEXT) return CDTLS_ERR_RECORD_TOO_LARGE;
    if (cap < DTLS_RECORD_HEADER_LEN) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t *frag = out + DTLS_RECORD_HEADER_LEN;
    size_t room = cap - DTLS_RECORD_HEADER_LEN, frag_len = 0;
    int r;
    if (!rc || !rc->kind) {
        if (room < pt_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
        if (pt_len) memcpy(frag, pt, pt_len);
        frag_len = pt_len;
        r = CDTLS_OK;
    } else if (rc->kind == RC_AEAD) {
        r = seal_aead(rc, type, version, epoch, seq, pt, pt_len, frag, room, &frag_len);
    } else {
        r = seal_cbc(rc, type, version, epoch, seq, pt, pt_len, frag, room, &frag_len);
    }
    if (r) return r;
    record_header h = {type, version, epoch, seq, (uint16_t)frag_len, NULL, 0};
    record_header_put(&h, out);
    *out_len = DTLS_RECORD_HEADER_LEN + frag_len;
    return CDTLS_OK;
}

/* ------------------------------------------------------------------ open */

static int open_aead(const record_cipher *rc, const record_header *h, const uint8_t *frag, size_t frag_len,
                     uint8_t *out, size_t cap, size_t *pt_len)
{
    size_t explicit_len = rc->fixed_iv_len == 4 ? AEAD_EXPLICIT_NONCE : 0;
    size_t tag = rc->aead->tag_len;
    if (frag_len < explicit_len + tag) return CDTLS_ERR_AUTH;
    size_t len = frag_len - explicit_len - tag;
    if (cap < len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t nonce[12], aad[13];
    if (explicit_len) {
        /* The explicit nonce comes from the wire (RFC 5288 §3). */
        memcpy(nonce, rc->iv, 4);
        memcpy(nonce + 4, frag, 8);
    } else {
        record_aead_nonce(rc, h->epoch, h->seq, nonce);
    }
    build_aad(aad, h->epoch, h->seq, h->type, h->version, len);
    int r = rc->aead->open(&rc->aead_ctx, nonce, 12, aad, 13, frag + explicit_len, len + tag, out);
    if (r) return CDTLS_ERR_AUTH;
    if (len > DTLS_MAX_PLAINTEXT) {
        cdtls_memzero(out, len);
        return CDTLS_ERR_RECORD_TOO_LARGE;
    }
    *pt_len = len;
    return CDTLS_OK;
}

/* Encrypt-then-MAC (RFC 7366): check the MAC over IV || ciphertext first;
 * only an authentic record is decrypted, so padding errors are no oracle. */
static int open_cbc_etm(const record_cipher *rc, const record_header *h, const uint8_t *frag, size_t frag_len,
                        uint8_t *out, size_t cap, size_t *pt_len)
{
    const size_t mac_len = rc->mac->mac_len;
    if (frag_len < CBC_BLOCK + CBC_BLOCK + mac_len) return CDTLS_ERR_AUTH;
    size_t enc_len = frag_len - CBC_BLOCK - mac_len;
    if (enc_len % CBC_BLOCK) return CDTLS_ERR_AUTH;
    if (cap < enc_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t aad[13], mac[CDTLS_HASH_MAX_DIGEST];
    build_aad(aad, h->epoch, h->seq, h->type, h->version, CBC_BLOCK + enc_len);
    mac_compute(rc, aad, frag, CBC_BLOCK + enc_len, NULL, 0, mac);
    if (!cdtls_ct_equal(mac, frag + CBC_BLOCK + enc_len, mac_len)) return CDTLS_ERR_AUTH;
    memcpy(out, frag + CBC_BLOCK, enc_len);
    int r = rc->cbc->decrypt(&rc->cbc_ctx, frag, out, enc_len);
    if (r) return CDTLS_ERR_AUTH;
    size_t pad = out[enc_len - 1];
    if (pad + 1 > enc_len) goto bad;
    for (size_t i = 0; i <= pad; i++)
        if (out[enc_len - 1 - i] != pad) goto bad;
    *pt_len = enc_len - pad - 1;
    if (*pt_len > DTLS_MAX_PLAINTEXT) {
        cdtls_memzero(out, enc_len);
        return CDTLS_ERR_RECORD_TOO_LARGE;
    }
    return CDTLS_OK;
bad:
    cdtls_memzero(out, enc_len);
    return CDTLS_ERR_AUTH;
}

/* MAC-then-encrypt: after decryption the padding length, and so where the
 * MAC sits, is secret. Padding check, MAC extraction and comparison run in
 * time independent of the padding (Lucky Thirteen, CVE-2013-0169): the
 * padding scan covers the largest possible padding, the MAC is copied out
 * with a scan over every position it could start at, and the hash
 * compression function runs the same number of times whatever the padding:
 * the real HMAC over the content, then as many blocks of a dummy hash as
 * the largest content this record could hold would have taken more
 * (mte_equalise; the countermeasure of s2n, docs/security.md). */
/* Compression function calls of an HMAC's inner hash over the 13-byte
 * pseudo-header and len bytes, after its key block: the message, the 0x80
 * byte and the length field (8 bytes; 16 for 128-byte blocks), rounded up
 * to blocks. Shifts, not division: len is secret. */
static size_t mte_inner_blocks(size_t len, unsigned block_shift)
{
    size_t length_field = block_shift == 7 ? 16 : 8;
    return (13 + len + 1 + length_field + ((size_t)1 << block_shift) - 1) >> block_shift;
}

/* Runs the compression function as many more times as an HMAC over
 * max_len bytes of content would have taken than the one over len did,
 * on a dummy hash: the total is the same for every padding. The count is
 * secret, the total work is not; without a raw hash for the MAC's
 * algorithm in the provider there is nothing to equalise with (then the
 * difference is at most one compression per record). */
static void mte_equalise(const record_cipher *rc, size_t len, size_t max_len)
{
    static const uint8_t dummy[CDTLS_HASH_MAX_BLOCK] = {0};
    const cdtls_hash_vt *hv = rc->p->hash[rc->mac->hash];
    if (!hv || (hv->block_len != 64 && hv->block_len != 128)) return;
    unsigned shift = hv->block_len == 128 ? 7 : 6;
    size_t extra = mte_inner_blocks(max_len, shift) - mte_inner_blocks(len, shift);
    cdtls_hash_ctx d;
    hv->init(&d);
    for (size_t i = 0; i < extra; i++) hv->update(&d, dummy, hv->block_len);
    cdtls_memzero(&d, sizeof d);
}

static int open_cbc_mte(const record_cipher *rc, const record_header *h, const uint8_t *frag, size_t frag_len,
                        uint8_t *out, size_t cap, size_t *pt_len)
{
    const size_t mac_len = rc->mac->mac_len;
    if (frag_len < CBC_BLOCK + CBC_BLOCK || (frag_len - CBC_BLOCK) % CBC_BLOCK) return CDTLS_ERR_AUTH;
    size_t n = frag_len - CBC_BLOCK;
    if (n < mac_len + 1) return CDTLS_ERR_AUTH; /* public lengths only */
    if (cap < n) return CDTLS_ERR_BUFFER_TOO_SMALL;
    memcpy(out, frag + CBC_BLOCK, n);
    if (rc->cbc->decrypt(&rc->cbc_ctx, frag, out, n)) return CDTLS_ERR_AUTH;

    size_t pad = out[n - 1];
    /* good: padding fits after the MAC */
    size_t good = ct_lt_mask(pad + mac_len, n); /* pad + 1 + mac_len <= n */
    /* every padding byte equals pad (scan the largest padding there can be) */
    size_t scan = n - mac_len < 256 ? n - mac_len : 256;
    for (size_t i = 0; i < scan; i++) {
        size_t in_pad = ct_lt_mask(i, pad + 1);
        size_t differs = ~ct_eq_mask(out[n - 1 - i], pad);
        good &= ~(in_pad & differs);
    }
    /* bad padding is treated as none, so the MAC work still happens */
    pad = ct_select(good, pad, 0);
    size_t content_len = n - mac_len - 1 - pad;

    uint8_t aad[13], mac[CDTLS_HASH_MAX_DIGEST], got[CDTLS_HASH_MAX_DIGEST];
    build_aad(aad, h->epoch, h->seq, h->type, h->version, content_len);
    mac_compute(rc, aad, out, content_len, NULL, 0, mac);
    mte_equalise(rc, content_len, n - mac_len - 1);
    /* copy the received MAC from its secret position without secret-dependent
     * addressing: visit every byte it could occupy */
    memset(got, 0, sizeof got);
    size_t first = n > mac_len + 256 ? n - mac_len - 256 : 0;
    for (size_t j = first; j < n - 1; j++) {
        size_t k = j - content_len; /* wraps when j < content_len: never < mac_len then */
        size_t in_mac = ct_lt_mask(k, mac_len) & ct_lt_mask(j, content_len + mac_len) &
                        ~ct_lt_mask(j, content_len);
        for (size_t m = 0; m < mac_len; m++) got[m] |= (uint8_t)(out[j] & (in_mac & ct_eq_mask(k, m)));
    }
    size_t mac_ok = cdtls_ct_equal(mac, got, mac_len) ? (size_t)-1 : 0;
    cdtls_memzero(mac, sizeof mac);
    cdtls_memzero(got, sizeof got);
    if (!(good & mac_ok)) {
        cdtls_memzero(out, n);
        return CDTLS_ERR_AUTH;
    }
    if (content_len > DTLS_MAX_PLAINTEXT) {
        cdtls_memzero(out, n);
        return CDTLS_ERR_RECORD_TOO_LARGE;
    }
    *pt_len = content_len;
    return CDTLS_OK;
}

int record_open(const record_cipher *rc, const record_header *h, const uint8_t *frag, size_t frag_len,
                uint8_t *out, size_t cap, size_t *pt_len)
{
    if (!h || (!frag && frag_len) || !pt_len || (!out && cap)) return CDTLS_ERR_INVALID_ARG;
    *pt_len = 0;
    if (!rc || !rc->kind) {
        if (frag_len > DTLS_MAX_PLAINTEXT) return CDTLS_ERR_RECORD_TOO_LARGE;
        if (cap < frag_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
        if (frag_len) memcpy(out, frag, frag_len);
        *pt_len = frag_len;
        return CDTLS_OK;
    }
    if (rc->kind == RC_AEAD) return open_aead(rc, h, frag, frag_len, out, cap, pt_len);
    if (rc->encrypt_then_mac) return open_cbc_etm(rc, h, frag, frag_len, out, cap, pt_len);
    return open_cbc_mte(rc, h, frag, frag_len, out, cap, pt_len);
}
