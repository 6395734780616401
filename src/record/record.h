/* The DTLS 1.2 record layer (RFC 6347 §4.1, RFC 5246 §6): record codec,
 * replay window, and record protection (AEAD and CBC+HMAC). */
#ifndef CDTLS_RECORD_RECORD_H
#define CDTLS_RECORD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"
#include "common/reader.h"

/* ----------------------------------------------------------------- codec */

typedef struct record_header {
    uint8_t type;
    uint16_t version;
    uint16_t epoch;
    uint64_t seq; /* 48 bits */
    uint16_t length;
    /* tls12_cid records (RFC 9146 §4): the connection ID, in the datagram */
    const uint8_t *cid;
    uint8_t cid_len;
} record_header;

/* Takes the next record from a datagram: *hdr points at its 13 header bytes,
 * *frag at its length bytes of fragment. CDTLS_ERR_DECODE if the header is
 * short, the length runs past the datagram, or it exceeds 2^14 + 2048
 * (RFC 5246 §6.2.3): the rest of the datagram is then unusable and the
 * reader is marked failed. */
int record_read(cdtls_reader *dgram, record_header *h, const uint8_t **hdr, const uint8_t **frag);
/* Writes the 13-byte header. */
void record_header_put(const record_header *h, uint8_t *out);

/* Like record_read, but a tls12_cid record (type 25, RFC 9146 §4) is read
 * with a connection ID of cid_len bytes, which is what this side asked its
 * peer to send (the header does not carry the length). *hdr_len gets the
 * header's size (13, or 13 + cid_len). */
int record_read_cid(cdtls_reader *dgram, size_t cid_len, record_header *h, const uint8_t **hdr,
                    size_t *hdr_len, const uint8_t **frag);

/* ---------------------------------------------------------- replay window */

#define REPLAY_WINDOW_MAX 1024u

/* RFC 6347 §4.1.2.6 sliding window. `size` is in records (a multiple of 64,
 * at most REPLAY_WINDOW_MAX); bit i of bits[] says whether top - i was seen. */
typedef struct replay_window {
    uint64_t top; /* highest sequence number accepted */
    int any;      /* whether any record was accepted yet */
    unsigned size;
    uint64_t bits[REPLAY_WINDOW_MAX / 64];
} replay_window;

void replay_init(replay_window *w, unsigned size);
/* CDTLS_OK if seq is new and inside the window; CDTLS_ERR_REPLAY if it was
 * seen or is older than the window. Does not change the window. */
int replay_check(const replay_window *w, uint64_t seq);
/* Marks seq seen (slides the window forward when seq > top). Call only
 * after the record authenticated. */
void replay_accept(replay_window *w, uint64_t seq);

/* ------------------------------------------------------------- protection */

typedef enum record_cipher_kind { RC_AEAD = 1, RC_CBC = 2 } record_cipher_kind;

/* One direction of one epoch. Holds provider contexts that must not move
 * after init (provider.h), so a record_cipher must not be copied while in
 * use; the engine moves a pending cipher into place before its first use. */
typedef struct record_cipher {
    record_cipher_kind kind;
    const cdtls_provider *p;
    /* One kind per cipher: the members of the other kind share its bytes
     * (a connection holds two of these for its whole life). */
    union {
        struct { /* RC_AEAD */
            const cdtls_aead_vt *aead;
            cdtls_aead_ctx aead_ctx;
            uint8_t iv[12];
            size_t fixed_iv_len; /* 4: salt + 8-byte explicit nonce; 12: XOR nonce (RFC 7905) */
        };
        struct { /* RC_CBC */
            const cdtls_cbc_vt *cbc;
            cdtls_cbc_ctx cbc_ctx;
            const cdtls_hmac_vt *mac;
            uint8_t mac_key[64];
            size_t mac_key_len;
            int encrypt_then_mac;
        };
    };
} record_cipher;

/* Worst-case bytes protection adds to a plaintext (CBC: IV + MAC + 16 pad). */
#define RECORD_MAX_EXPANSION (16u + 64u + 16u)

/* GCM/CCM (RFC 5288, RFC 6655): fixed_iv_len 4 (the salt). ChaCha20-Poly1305
 * (RFC 7905): fixed_iv_len 12. */
int record_cipher_init_aead(record_cipher *rc, const cdtls_provider *p, cdtls_aead_alg alg,
                            const uint8_t *key, size_t key_len, const uint8_t *fixed_iv, size_t fixed_iv_len);
/* RFC 5246 §6.2.3.2 block cipher with HMAC; encrypt_then_mac per RFC 7366. */
int record_cipher_init_cbc(record_cipher *rc, const cdtls_provider *p, cdtls_cbc_alg alg,
                           cdtls_hash_alg mac_hash, const uint8_t *key, size_t key_len,
                           const uint8_t *mac_key, size_t mac_key_len, int encrypt, int encrypt_then_mac);
void record_cipher_clear(record_cipher *rc);
/* Bytes protection adds at most (0 for NULL, the epoch-0 null cipher). */
size_t record_cipher_expansion(const record_cipher *rc);

/* Writes a whole record (header + protected fragment). rc NULL = plaintext.
 * CDTLS_ERR_RECORD_TOO_LARGE if pt_len > 2^14; CDTLS_ERR_BUFFER_TOO_SMALL if
 * cap is short. pt may not overlap out. */
int record_seal(const record_cipher *rc, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);

/* Authenticates and decrypts a fragment into out (cap >= frag_len is always
 * enough). CDTLS_ERR_AUTH for any authentication or padding failure (one
 * code, so there is no padding oracle), CDTLS_ERR_RECORD_TOO_LARGE if the
 * plaintext exceeds 2^14 (RFC 5246 §6.2.1). */
int record_open(const record_cipher *rc, const record_header *h, const uint8_t *frag, size_t frag_len,
                uint8_t *out, size_t cap, size_t *pt_len);

/* The AEAD nonce of a record (RFC 5288 §3 salt || epoch||seq, or RFC 7905
 * §2 IV XOR epoch||seq). */
void record_aead_nonce(const record_cipher *rc, uint16_t epoch, uint64_t seq, uint8_t nonce[12]);

/* tls12_cid records (RFC 9146), AEAD suites (record_cid.c): the plaintext
 * travels as DTLSInnerPlaintext = content || real type || pad zero bytes,
 * under the additional data of RFC 9146 §5.1. CBC ciphers:
 * CDTLS_ERR_UNSUPPORTED (cdtls negotiates connection IDs with AEAD suites
 * only). record_open_cid sets *real_type; an inner plaintext with no
 * non-zero byte is CDTLS_ERR_DECODE. */
#define RECORD_CID_MAX 255u
/* The RFC 9146 §5.1 additional data (23 + cid_len bytes into aad). */
size_t record_cid_aad(uint8_t *aad, uint16_t version, uint16_t epoch, uint64_t seq, const uint8_t *cid,
                      size_t cid_len, size_t inner_len);
int record_seal_cid(const record_cipher *rc, uint8_t real_type, uint16_t version, uint16_t epoch,
                    uint64_t seq, const uint8_t *cid, size_t cid_len, size_t pad, const uint8_t *pt,
                    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);
int record_open_cid(const record_cipher *rc, const record_header *h, const uint8_t *frag, uint8_t *out,
                    size_t cap, size_t *pt_len, uint8_t *real_type);

#endif
