/* DTLS 1.3 record protection (RFC 9147 §4, §4.2.3, §4.5.3; RFC 8446
 * §5.2-5.5): DTLSInnerPlaintext under the suite's AEAD, the unified header
 * as additional data, record number encryption, and the per-key usage
 * limits. */
#include <string.h>

#include "cdtls/error.h"
#include "common/dtls.h"
#include "common/mem.h"
#include "record/record13.h"

/* 2^24.5, 2^23.5 rounded down; 2^36 and 2^23 exact */
#define LIMIT_2_24_5 23726566ull
#define LIMIT_2_23_5 11863283ull
#define LIMIT_2_23 8388608ull
#define LIMIT_2_36 68719476736ull

typedef struct suite_info {
    uint16_t suite;
    cdtls_aead_alg aead;
    cdtls_sn_mask_alg sn;
} suite_info;

/* RFC 8446 §B.4 suites with the mask RFC 9147 §4.2.3 gives their cipher */
static const suite_info suites[] = {
    {R13_TLS_AES_128_GCM_SHA256, CDTLS_AEAD_AES_128_GCM, CDTLS_SN_MASK_AES_128},
    {R13_TLS_AES_256_GCM_SHA384, CDTLS_AEAD_AES_256_GCM, CDTLS_SN_MASK_AES_256},
    {R13_TLS_CHACHA20_POLY1305_SHA256, CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_SN_MASK_CHACHA20},
    {R13_TLS_AES_128_CCM_SHA256, CDTLS_AEAD_AES_128_CCM, CDTLS_SN_MASK_AES_128},
    {R13_TLS_AES_128_CCM_8_SHA256, CDTLS_AEAD_AES_128_CCM_8, CDTLS_SN_MASK_AES_128},
};

static const suite_info *suite_find(uint16_t suite)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].suite == suite) return &suites[i];
    return NULL;
}

int record13_suite_limits(uint16_t suite, record13_limits *out)
{
    if (!out) return CDTLS_ERR_INVALID_ARG;
    switch (suite) {
    case R13_TLS_AES_128_GCM_SHA256:
    case R13_TLS_AES_256_GCM_SHA384:
        /* RFC 8446 §5.5: 2^24.5 full-size records; RFC 9147 §4.5.3: 2^36 failures */
        out->confidentiality = LIMIT_2_24_5;
        out->integrity = LIMIT_2_36;
        return CDTLS_OK;
    case R13_TLS_CHACHA20_POLY1305_SHA256:
        /* RFC 8446 §5.5: "the record sequence number would wrap before the
         * safety limit is reached" */
        out->confidentiality = UINT64_MAX;
        out->integrity = LIMIT_2_36;
        return CDTLS_OK;
    case R13_TLS_AES_128_CCM_SHA256:
        /* RFC 9147 §4.5.3 and appendix B */
        out->confidentiality = LIMIT_2_23;
        out->integrity = LIMIT_2_23_5;
        return CDTLS_OK;
    default:
        /* TLS_AES_128_CCM_8_SHA256: RFC 9147 §4.5.3 gives no integrity
         * limit that is both safe and not a denial of service */
        return CDTLS_ERR_UNSUPPORTED;
    }
}

int record13_cipher_init(record13_cipher *rc, const cdtls_provider *p, uint16_t suite, const uint8_t *key,
                         size_t key_len, const uint8_t *iv, size_t iv_len, const uint8_t *sn_key,
                         size_t sn_key_len, const record13_limits *limits)
{
    if (!rc) return CDTLS_ERR_INVALID_ARG;
    memset(rc, 0, sizeof *rc); /* a failed init leaves a cipher that clears */
    if (!p || !key || !iv || !sn_key) return CDTLS_ERR_INVALID_ARG;
    const suite_info *s = suite_find(suite);
    if (!s || p->abi_version < 2) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_aead_vt *a = p->aead[s->aead];
    const cdtls_sn_mask_vt *m = p->sn_mask[s->sn];
    if (!a || !m) return CDTLS_ERR_UNSUPPORTED;
    if (iv_len != CDTLS_AEAD_NONCE_LEN) return CDTLS_ERR_NONCE_SIZE;
    if (key_len != a->key_len || sn_key_len != m->key_len) return CDTLS_ERR_KEY_SIZE;
    record13_limits lim;
    if (limits) {
        if (!limits->confidentiality || !limits->integrity) return CDTLS_ERR_INVALID_ARG;
        lim = *limits;
    } else {
        int r = record13_suite_limits(suite, &lim);
        if (r) return r;
    }
    int r = a->init(&rc->aead_ctx, key, key_len);
    if (r) return r;
    r = m->init(&rc->sn_ctx, sn_key, sn_key_len);
    if (r) {
        a->clear(&rc->aead_ctx);
        cdtls_memzero(rc, sizeof *rc);
        return r;
    }
    rc->suite = suite;
    rc->aead = a;
    rc->sn = m;
    memcpy(rc->iv, iv, CDTLS_AEAD_NONCE_LEN);
    rc->limits = lim;
    return CDTLS_OK;
}

void record13_cipher_clear(record13_cipher *rc)
{
    if (!rc) return;
    if (rc->aead) rc->aead->clear(&rc->aead_ctx);
    if (rc->sn) rc->sn->clear(&rc->sn_ctx);
    cdtls_memzero(rc, sizeof *rc);
}

/* inner plaintext bytes for content_len bytes of content and pad asked
 * for: at least what makes the ciphertext 16 bytes (§4.2.3) */
static size_t inner_len_for(size_t tag, size_t content_len, size_t pad)
{
    size_t inner = content_len + 1 + pad;
    if (inner + tag < R13_MIN_CIPHERTEXT) inner = R13_MIN_CIPHERTEXT - tag;
    return inner;
}

size_t record13_expansion(const record13_cipher *rc, size_t content_len)
{
    if (!rc || !rc->aead) return 0;
    return inner_len_for(rc->aead->tag_len, content_len, 0) - content_len + rc->aead->tag_len;
}

void record13_nonce(const record13_cipher *rc, uint64_t seq, uint8_t nonce[CDTLS_AEAD_NONCE_LEN])
{
    memcpy(nonce, rc->iv, CDTLS_AEAD_NONCE_LEN);
    for (int i = 0; i < 8; i++) nonce[CDTLS_AEAD_NONCE_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

int record13_mask(const record13_cipher *rc, const uint8_t *ct, size_t len,
                  uint8_t mask[CDTLS_SN_MASK_SAMPLE_LEN])
{
    if (!rc || !rc->sn || !mask || (!ct && len)) return CDTLS_ERR_INVALID_ARG;
    if (len < R13_MIN_CIPHERTEXT) return CDTLS_ERR_AUTH;
    return rc->sn->mask(&rc->sn_ctx, ct, mask);
}

int record13_seal(record13_cipher *rc, const record13_header_opts *o, uint64_t epoch, uint64_t seq,
                  uint8_t type, const uint8_t *pt, size_t pt_len, size_t pad, uint8_t *out, size_t cap,
                  size_t *out_len)
{
    if (!rc || !rc->aead || !o || !out || !out_len || (!pt && pt_len) || type == 0)
        return CDTLS_ERR_INVALID_ARG;
    *out_len = 0;
    /* RFC 8446 §5.1/§5.4: content up to 2^14, inner plaintext up to 2^14 + 1 */
    if (pt_len > DTLS_MAX_PLAINTEXT || pad > R13_MAX_INNER - 1 - pt_len) return CDTLS_ERR_RECORD_TOO_LARGE;
    const size_t tag = rc->aead->tag_len;
    const size_t inner = inner_len_for(tag, pt_len, pad);
    const size_t ct_len = inner + tag;
    /* RFC 9147 §4.5.3 / RFC 8446 §5.5: never past the limit; RFC 9147
     * §4.2.1: never let the sequence number wrap */
    if (rc->sealed >= rc->limits.confidentiality || seq == UINT64_MAX) return CDTLS_ERR_LIMIT;
    if (record13_header_len(o) == 0 || (o->cid_len && !o->cid)) return CDTLS_ERR_INVALID_ARG;
    const size_t hdr_len = record13_header_write(o, epoch, seq, ct_len, out, cap);
    if (hdr_len == 0 || cap - hdr_len < ct_len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    uint8_t *body = out + hdr_len;
    if (pt_len) memcpy(body, pt, pt_len);
    body[pt_len] = type;
    memset(body + pt_len + 1, 0, inner - pt_len - 1);
    uint8_t nonce[CDTLS_AEAD_NONCE_LEN];
    record13_nonce(rc, seq, nonce);
    /* §4: the additional data is the header before record number encryption */
    int r = rc->aead->seal(&rc->aead_ctx, nonce, sizeof nonce, out, hdr_len, body, inner, body);
    uint8_t mask[CDTLS_SN_MASK_SAMPLE_LEN];
    if (!r) r = record13_mask(rc, body, ct_len, mask);
    if (r) {
        cdtls_memzero(out, hdr_len + ct_len);
        return r;
    }
    /* §4.2.3: the leading mask bytes XOR the sequence number as on the wire */
    uint8_t *sn = out + 1 + o->cid_len;
    sn[0] ^= mask[0];
    if (o->seq16) sn[1] ^= mask[1];
    rc->sealed++;
    *out_len = hdr_len + ct_len;
    return CDTLS_OK;
}

int record13_unmask_seq(const record13_cipher *rc, record13_header *h)
{
    if (!rc || !rc->sn || !h || !h->hdr) return CDTLS_ERR_INVALID_ARG;
    if (h->seq_plain) return CDTLS_ERR_BAD_STATE;
    uint8_t mask[CDTLS_SN_MASK_SAMPLE_LEN];
    int r = record13_mask(rc, h->body, h->body_len, mask);
    if (r) return r;
    if (h->seq_len == 2)
        h->seq_bits ^= (uint16_t)((unsigned)mask[0] << 8 | mask[1]);
    else
        h->seq_bits ^= mask[0];
    h->seq_plain = 1;
    return CDTLS_OK;
}

/* All-ones when b != 0, else 0, without a branch on b. */
static size_t nonzero_mask(uint8_t b)
{
    return (size_t)0 - (((size_t)b + 0xffu) >> 8);
}

int record13_open(record13_cipher *rc, const record13_header *h, uint64_t seq, uint8_t *out, size_t cap,
                  size_t *pt_len, uint8_t *type)
{
    if (!rc || !rc->aead || !h || !h->hdr || !out || !pt_len || !type) return CDTLS_ERR_INVALID_ARG;
    *pt_len = 0;
    *type = 0;
    if (!h->seq_plain) return CDTLS_ERR_BAD_STATE;
    if (h->hdr_len > R13_MAX_HEADER || h->hdr_len < 1 + h->cid_len + h->seq_len) return CDTLS_ERR_INVALID_ARG;
    /* RFC 9147 §4.5.3: past the integrity limit the key is not used again */
    if (rc->failed >= rc->limits.integrity) return CDTLS_ERR_LIMIT;
    if (h->body_len > R13_MAX_CIPHERTEXT) return CDTLS_ERR_RECORD_TOO_LARGE;
    const size_t tag = rc->aead->tag_len;
    if (h->body_len < R13_MIN_CIPHERTEXT || h->body_len < tag + 1) return CDTLS_ERR_AUTH;
    const size_t inner = h->body_len - tag;
    if (cap < inner) return CDTLS_ERR_BUFFER_TOO_SMALL;
    /* the header as the sender authenticated it: sequence bits in clear */
    uint8_t aad[R13_MAX_HEADER];
    memcpy(aad, h->hdr, h->hdr_len);
    uint8_t *sn = aad + 1 + h->cid_len;
    if (h->seq_len == 2) {
        sn[0] = (uint8_t)(h->seq_bits >> 8);
        sn[1] = (uint8_t)h->seq_bits;
    } else {
        sn[0] = (uint8_t)h->seq_bits;
    }
    uint8_t nonce[CDTLS_AEAD_NONCE_LEN];
    record13_nonce(rc, seq, nonce);
    if (rc->aead->open(&rc->aead_ctx, nonce, sizeof nonce, aad, h->hdr_len, h->body, h->body_len, out)) {
        /* §4.5.3: count every failure; reaching the limit ends the key */
        rc->failed++;
        return rc->failed >= rc->limits.integrity ? CDTLS_ERR_LIMIT : CDTLS_ERR_AUTH;
    }
    /* RFC 8446 §5.4: the type is the last non-zero byte. The scan reads
     * every byte and keeps the position with masks, so its time does not
     * depend on the padding's length. */
    size_t last = 0; /* index + 1 of the last non-zero byte, 0 if none */
    for (size_t i = 0; i < inner; i++) {
        size_t nz = nonzero_mask(out[i]);
        last = (last & ~nz) | ((i + 1) & nz);
    }
    if (last == 0) {
        cdtls_memzero(out, inner);
        return CDTLS_ERR_UNEXPECTED_MESSAGE;
    }
    if (last - 1 > DTLS_MAX_PLAINTEXT) {
        cdtls_memzero(out, inner);
        return CDTLS_ERR_RECORD_TOO_LARGE;
    }
    *type = out[last - 1];
    out[last - 1] = 0;
    *pt_len = last - 1;
    return CDTLS_OK;
}

int record13_key_update_due(const record13_cipher *rc)
{
    if (!rc || !rc->aead) return 0;
    const record13_limits *l = &rc->limits;
    return rc->sealed >= l->confidentiality - l->confidentiality / 8 ||
           rc->failed >= l->integrity - l->integrity / 8;
}
