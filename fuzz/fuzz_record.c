/* The record layer: datagram -> records (record_read / record_read_cid, as
 * the engine walks a datagram), the replay window, handshake fragment
 * headers inside plaintext handshake records, record_open on every record
 * under a fixed key (AEAD GCM/CCM_8/ChaCha20, CBC with and without
 * encrypt_then_mac), and a seal -> open round trip of the fragment.
 *
 * Input: byte 0 picks the cipher (low 3 bits) and the CID length the
 * reader expects (high 5 bits, 0 = none, else 1..31); the rest is one
 * datagram. */
#include <stdlib.h>
#include <string.h>

#include "cdtls/conn.h"
#include "common/dtls.h"
#include "fuzz_common.h"
#include "handshake/hs_msg.h"
#include "record/record.h"

static fuzz_provider prov;
static const uint8_t key32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t iv12[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

/* 0 = none (epoch 0), else a cipher; returns 0 if the provider lacks it. */
static int cipher_init(record_cipher *rc, const cdtls_provider *p, unsigned which, int encrypt)
{
    switch (which) {
    case 1: return record_cipher_init_aead(rc, p, CDTLS_AEAD_AES_128_GCM, key32, 16, iv12, 4) == 0;
    case 2: return record_cipher_init_aead(rc, p, CDTLS_AEAD_AES_128_CCM_8, key32, 16, iv12, 4) == 0;
    case 3: return record_cipher_init_aead(rc, p, CDTLS_AEAD_CHACHA20_POLY1305, key32, 32, iv12, 12) == 0;
    case 4:
    case 5:
        return record_cipher_init_cbc(rc, p, CDTLS_CBC_AES_128, CDTLS_HASH_SHA256, key32, 16, key32, 32,
                                      encrypt, which == 5) == 0;
    case 6: return record_cipher_init_aead(rc, p, CDTLS_AEAD_AES_256_GCM, key32, 32, iv12, 4) == 0;
    default: return 0;
    }
}

/* The reference replay window: every sequence number accepted so far. */
#define MODEL_MAX 8192
static uint64_t model_seen[MODEL_MAX], model_top;
static size_t model_n;

static int model_fresh(uint64_t seq, unsigned size)
{
    if (size == 0 || model_n == 0 || seq > model_top) return 1;
    if (model_top - seq >= size) return 0;
    for (size_t i = 0; i < model_n; i++)
        if (model_seen[i] == seq) return 0;
    return 1;
}

static void model_accept(uint64_t seq)
{
    if (model_n == MODEL_MAX) abort(); /* more records than an input can hold */
    if (model_n == 0 || seq > model_top) model_top = seq;
    model_seen[model_n++] = seq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    fuzz_provider_init_fast(&prov, 1);
    const cdtls_provider *p = &prov.base;
    unsigned which = data[0] & 7;
    size_t cid_len = data[0] >> 3;
    data++;
    size_t len = size - 1;

    record_cipher rd, wr;
    memset(&rd, 0, sizeof rd);
    memset(&wr, 0, sizeof wr);
    int have = which && cipher_init(&rd, p, which, 0) && cipher_init(&wr, p, which, 1);

    const uint8_t *cid;
    (void)cdtls_datagram_cid(data, len, cid_len, &cid);

    replay_window win;
    replay_init(&win, 64u << (cid_len & 3));
    model_n = 0;
    uint8_t *out = malloc(DTLS_MAX_CIPHERTEXT + 64);
    uint8_t *back = malloc(DTLS_MAX_CIPHERTEXT + 512);
    if (!out || !back) abort();

    cdtls_reader r;
    reader_init(&r, data, len);
    while (r.left) {
        record_header h;
        const uint8_t *hdr, *frag;
        size_t hdr_len;
        if (record_read_cid(&r, cid_len, &h, &hdr, &hdr_len, &frag) != CDTLS_OK) break;
        /* the replay window against a model that remembers every accepted
         * number (RFC 6347 §4.1.2.6: new if above the top, or inside the
         * window and not seen) */
        int fresh = replay_check(&win, h.seq) == CDTLS_OK;
        int model = model_fresh(h.seq, win.size);
        if (fresh != model) abort();
        if (fresh) {
            replay_accept(&win, h.seq);
            model_accept(h.seq);
            if (replay_check(&win, h.seq) == CDTLS_OK) abort(); /* now seen */
        }

        if (!h.cid) {
            /* the 13-byte header written back is the one read */
            uint8_t put[13];
            record_header_put(&h, put);
            if (hdr_len != 13 || memcmp(put, hdr, 13) != 0) abort();
        }
        if (h.type == CT_HANDSHAKE && h.epoch == 0) {
            cdtls_reader hr;
            reader_init(&hr, frag, h.length);
            while (hr.left) {
                hs_header hh;
                const uint8_t *f;
                if (hs_header_read(&hr, &hh, &f) != CDTLS_OK) break;
                uint8_t put[12];
                hs_header back_h;
                hs_header_put(&hh, put);
                hs_header_get(put, &back_h);
                if (back_h.type != hh.type || back_h.length != hh.length ||
                    back_h.message_seq != hh.message_seq || back_h.fragment_offset != hh.fragment_offset ||
                    back_h.fragment_length != hh.fragment_length)
                    abort();
            }
        }
        if (!have) continue;

        /* the received fragment under the fixed key: nearly always fails
         * authentication, but walks the length and padding checks */
        size_t pt_len = 0;
        uint8_t real_type = 0;
        if (h.cid)
            (void)record_open_cid(&rd, &h, frag, out, DTLS_MAX_CIPHERTEXT + 64, &pt_len, &real_type);
        else
            (void)record_open(&rd, &h, frag, h.length, out, DTLS_MAX_CIPHERTEXT + 64, &pt_len);

        /* round trip: the fragment as plaintext must come back unchanged */
        size_t pt_in = h.length > DTLS_MAX_PLAINTEXT ? DTLS_MAX_PLAINTEXT : h.length;
        size_t sealed = 0;
        int rc;
        if (h.cid && wr.kind == RC_AEAD)
            rc = record_seal_cid(&wr, h.type ? h.type : 23, h.version, h.epoch, h.seq, h.cid, h.cid_len,
                                 h.seq & 15, frag, pt_in, back, DTLS_MAX_CIPHERTEXT + 512, &sealed);
        else
            rc = record_seal(&wr, h.type, h.version, h.epoch, h.seq, frag, pt_in, back,
                             DTLS_MAX_CIPHERTEXT + 512, &sealed);
        if (rc != CDTLS_OK) continue;
        cdtls_reader sr;
        record_header sh;
        const uint8_t *shdr, *sfrag;
        size_t shdr_len;
        reader_init(&sr, back, sealed);
        if (record_read_cid(&sr, (h.cid && wr.kind == RC_AEAD) ? cid_len : 0, &sh, &shdr, &shdr_len,
                            &sfrag) != CDTLS_OK)
            abort();
        size_t got = 0;
        if (h.cid && wr.kind == RC_AEAD)
            rc = record_open_cid(&rd, &sh, sfrag, out, DTLS_MAX_CIPHERTEXT + 64, &got, &real_type);
        else
            rc = record_open(&rd, &sh, sfrag, sh.length, out, DTLS_MAX_CIPHERTEXT + 64, &got);
        if (rc != CDTLS_OK) abort(); /* what we sealed must open */
        if (got != pt_in || (pt_in && memcmp(out, frag, pt_in) != 0)) abort();
    }
    record_cipher_clear(&rd);
    record_cipher_clear(&wr);
    free(out);
    free(back);
    return 0;
}
