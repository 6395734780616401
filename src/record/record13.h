/* The DTLS 1.3 record layer (RFC 9147 §4), as building blocks for the 1.3
 * handshake engine (not wired to it yet: docs/dtls13.md).
 *
 *  - record13_header.c: telling a unified header from a DTLSPlaintext or a
 *    DTLS 1.2 record by its first byte (§4.1), and reading and writing the
 *    unified header in all its forms (§4, figures 3 and 4);
 *  - record13_protect.c: the per-epoch cipher (AEAD + record number mask),
 *    DTLSInnerPlaintext, nonce and additional data, seal and open (§4,
 *    §4.2.3, RFC 8446 §5.2-5.4), and the AEAD limits (§4.5.3);
 *  - record13_epoch.c: sequence number and epoch reconstruction (§4.2.2)
 *    and the receive path of one epoch with its replay window (§4.5.1),
 *    the window shared with DTLS 1.2 (record.h). */
#ifndef CDTLS_RECORD_RECORD13_H
#define CDTLS_RECORD_RECORD13_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"
#include "common/reader.h"
#include "record/record.h"

/* ------------------------------------------------------------ header */

/* First byte of a unified header (RFC 9147 §4, figure 3): 0 0 1 C S L E E */
#define R13_FIXED_MASK 0xe0u
#define R13_FIXED_BITS 0x20u
#define R13_C_BIT 0x10u /* a connection ID follows */
#define R13_S_BIT 0x08u /* 16-bit sequence number (else 8-bit) */
#define R13_L_BIT 0x04u /* 16-bit length present (else the record runs to the datagram's end) */
#define R13_EPOCH_BITS 0x03u

#define R13_CT_ACK 26u /* RFC 9147 §7 */

/* RFC 8446 §5.2: a TLSCiphertext fragment is at most 2^14 + 256 bytes;
 * §5.4: a TLSInnerPlaintext at most 2^14 + 1 (content, type). */
#define R13_MAX_CIPHERTEXT (16384u + 256u)
#define R13_MAX_INNER (16384u + 1u)
/* §4.2.3: the mask is made from the first 16 bytes of the ciphertext. */
#define R13_MIN_CIPHERTEXT 16u
/* 1 + CID (at most 255, RFC 9146 §3) + 2 + 2 */
#define R13_MAX_HEADER (1u + RECORD_CID_MAX + 2u + 2u)

/* How a record's first byte says to read it (RFC 9147 §4.1, figure 5). */
typedef enum record13_kind {
    R13_KIND_INVALID = 0, /* reject as if it had failed deprotection (§4.1) */
    R13_KIND_PLAINTEXT,   /* alert(21), handshake(22), ack(26): a DTLSPlaintext (13-byte header) */
    R13_KIND_DTLS12,      /* change_cipher_spec(20), application_data(23), heartbeat(24),
                             tls12_cid(25): a DTLS 1.2 (or earlier) record */
    R13_KIND_CIPHERTEXT   /* 001xxxxx: a DTLSCiphertext with a unified header */
} record13_kind;

record13_kind record13_classify(uint8_t first_byte);

/* One DTLSCiphertext as read from a datagram. Pointers borrow the datagram. */
typedef struct record13_header {
    uint8_t flags;      /* the first byte */
    uint8_t epoch_bits; /* its two low bits: the epoch's low bits */
    uint8_t seq_len;    /* 1 or 2 (the S bit) */
    /* the sequence number's low 8 or 16 bits: encrypted as read, the plain
     * value once record13_unmask_seq ran */
    uint16_t seq_bits;
    int seq_plain;      /* whether seq_bits is the unmasked value */
    const uint8_t *cid; /* NULL when the C bit is clear */
    size_t cid_len;
    const uint8_t *hdr; /* the header bytes, in the datagram */
    size_t hdr_len;
    const uint8_t *body; /* encrypted_record */
    size_t body_len;
} record13_header;

/* Reads the next DTLSCiphertext (first byte 001xxxxx) from a datagram.
 * cid_len is the length of the connection ID this side asked its peer to
 * use (0: none); a record with the C bit set when cid_len is 0 is
 * CDTLS_ERR_DECODE, as the header does not carry the length (§4: "length
 * as negotiated"). With the L bit clear the record takes the rest of the
 * datagram (so it is the last one, §4); with it set the length must be at
 * most R13_MAX_CIPHERTEXT and inside the datagram. On any error the reader
 * is marked failed (the rest of the datagram is unusable) and
 * CDTLS_ERR_DECODE returned. Short bodies (< 16 bytes) are read: the mask
 * step refuses them (record13_unmask_seq). */
int record13_read(cdtls_reader *dgram, size_t cid_len, record13_header *h);

/* How to write a header: the choices RFC 9147 §4 leaves to the sender. */
typedef struct record13_header_opts {
    int seq16;          /* 16-bit sequence number (S bit); else 8 bits */
    int with_length;    /* L bit; clear only for the last record of a datagram */
    const uint8_t *cid; /* with cid_len > 0: C bit and the connection ID */
    size_t cid_len;
} record13_header_opts;

/* Header size for these options (0 if cid_len > RECORD_CID_MAX). */
size_t record13_header_len(const record13_header_opts *o);
/* Writes a header with the plain (unencrypted) low sequence bits and, with
 * with_length, length. Returns the header size, 0 if cap is short or the
 * options are invalid (length > R13_MAX_CIPHERTEXT). */
size_t record13_header_write(const record13_header_opts *o, uint64_t epoch, uint64_t seq, size_t length,
                             uint8_t *out, size_t cap);

/* ------------------------------------------------------------ protection */

/* The TLS 1.3 cipher suites RFC 9147 allows (IANA values). */
#define R13_TLS_AES_128_GCM_SHA256 0x1301u
#define R13_TLS_AES_256_GCM_SHA384 0x1302u
#define R13_TLS_CHACHA20_POLY1305_SHA256 0x1303u
#define R13_TLS_AES_128_CCM_SHA256 0x1304u
#define R13_TLS_AES_128_CCM_8_SHA256 0x1305u

/* Usage limits of one key (RFC 9147 §4.5.3, RFC 8446 §5.5). */
typedef struct record13_limits {
    uint64_t confidentiality; /* records that may be sealed */
    uint64_t integrity;       /* records that may fail authentication */
} record13_limits;

/* The limits of a suite. GCM: 2^24.5 sealed (RFC 8446 §5.5), 2^36 failed
 * (RFC 9147 §4.5.3); ChaCha20-Poly1305: no confidentiality limit before the
 * sequence number wraps (RFC 8446 §5.5), 2^36 failed; CCM: 2^23 sealed and
 * 2^23.5 failed (RFC 9147 §4.5.3, appendix B). CCM_8 has no integrity limit
 * RFC 9147 can recommend ("MUST NOT be used in DTLS without additional
 * safeguards"): CDTLS_ERR_UNSUPPORTED, the caller must give its own.
 * Fractional powers are rounded down. */
int record13_suite_limits(uint16_t suite, record13_limits *out);

/* One direction of one epoch. Holds provider contexts initialised in place:
 * must not be copied or moved while in use. */
typedef struct record13_cipher {
    uint16_t suite;
    const cdtls_aead_vt *aead;
    const cdtls_sn_mask_vt *sn;
    cdtls_aead_ctx aead_ctx;
    cdtls_sn_mask_ctx sn_ctx;
    uint8_t iv[CDTLS_AEAD_NONCE_LEN];
    record13_limits limits;
    uint64_t sealed; /* records sealed under this key */
    uint64_t failed; /* records that failed authentication under this key */
} record13_cipher;

/* Sets up a cipher from the traffic key, iv and sn_key that the key
 * schedule derived (RFC 8446 §7.3, RFC 9147 §4.2.3). limits NULL: the
 * suite's (record13_suite_limits); CCM_8 needs limits given. Errors:
 * CDTLS_ERR_UNSUPPORTED (unknown suite, or the provider lacks its AEAD or
 * mask, or is older than ABI 2), CDTLS_ERR_KEY_SIZE, CDTLS_ERR_NONCE_SIZE
 * (iv_len != 12). */
int record13_cipher_init(record13_cipher *rc, const cdtls_provider *p, uint16_t suite, const uint8_t *key,
                         size_t key_len, const uint8_t *iv, size_t iv_len, const uint8_t *sn_key,
                         size_t sn_key_len, const record13_limits *limits);
void record13_cipher_clear(record13_cipher *rc);

/* Bytes protection adds to content: the type byte and the tag, plus the
 * padding a short record needs to reach 16 bytes of ciphertext (§4.2.3). */
size_t record13_expansion(const record13_cipher *rc, size_t content_len);

/* RFC 8446 §5.3: iv XOR the 64-bit sequence number, big-endian, left-padded
 * with zeros; DTLS 1.3 uses the full 64-bit sequence number and not the
 * epoch (RFC 9147 §4). */
void record13_nonce(const record13_cipher *rc, uint64_t seq, uint8_t nonce[CDTLS_AEAD_NONCE_LEN]);

/* The record number mask for a ciphertext (its first 16 bytes), RFC 9147
 * §4.2.3. CDTLS_ERR_AUTH if there are fewer than 16 bytes. */
int record13_mask(const record13_cipher *rc, const uint8_t *ciphertext, size_t len,
                  uint8_t mask[CDTLS_SN_MASK_SAMPLE_LEN]);

/* Seals one record: header (per o, epoch's low bits, seq's low 8/16 bits),
 * then the DTLSInnerPlaintext content || type || pad zero bytes under the
 * AEAD, with the header (sequence bits unencrypted) as additional data,
 * then the sequence bits encrypted with the mask (RFC 9147 §4, §4.2.3).
 * Padding is raised to what makes 16 bytes of ciphertext. Errors:
 * CDTLS_ERR_RECORD_TOO_LARGE (content over 2^14 or inner plaintext over
 * 2^14 + 1), CDTLS_ERR_BUFFER_TOO_SMALL, CDTLS_ERR_LIMIT when the key has
 * sealed its confidentiality limit (a KeyUpdate is overdue) or seq is
 * 2^64 - 1. pt may not overlap out. */
int record13_seal(record13_cipher *rc, const record13_header_opts *o, uint64_t epoch, uint64_t seq,
                  uint8_t type, const uint8_t *pt, size_t pt_len, size_t pad, uint8_t *out, size_t cap,
                  size_t *out_len);

/* Decrypts h->seq_bits in place with this epoch's mask (sets seq_plain).
 * CDTLS_ERR_AUTH for a body shorter than 16 bytes (§4.2.3: rejected as if
 * it failed deprotection). Calling it twice is CDTLS_ERR_BAD_STATE. */
int record13_unmask_seq(const record13_cipher *rc, record13_header *h);

/* Opens a record whose sequence bits were unmasked and whose full sequence
 * number is seq (record13_seq_reconstruct). The additional data is the
 * header with the plain sequence bits (RFC 9147 §4: "prior to record number
 * encryption"). out receives the content (cap >= body_len is enough);
 * *type the real content type, found as the last non-zero byte of the inner
 * plaintext by a scan over all of it (RFC 8446 §5.4).
 * Errors: CDTLS_ERR_AUTH (counted toward the integrity limit),
 * CDTLS_ERR_LIMIT once failures reached the integrity limit (every open of
 * this key fails from then on: RFC 9147 §4.5.3, the caller closes or drops
 * the key), CDTLS_ERR_UNEXPECTED_MESSAGE for an inner plaintext with no
 * non-zero byte, CDTLS_ERR_RECORD_TOO_LARGE for ciphertext over 2^14 + 256
 * or content over 2^14, CDTLS_ERR_BAD_STATE if the bits are still masked. */
int record13_open(record13_cipher *rc, const record13_header *h, uint64_t seq, uint8_t *out, size_t cap,
                  size_t *pt_len, uint8_t *type);

/* Whether the engine should update its sending keys now (RFC 9147 §4.5.3:
 * "SHOULD initiate a key update before reaching this limit"): 1 once 7/8 of
 * the confidentiality limit was sealed, or 7/8 of the integrity limit
 * failed to open (then with update_requested). */
int record13_key_update_due(const record13_cipher *rc);

/* ------------------------------------------------- epochs and sequence numbers */

/* RFC 9147 §4.2.2: the full sequence number whose low `bits` (8 or 16)
 * bits are low_bits, numerically closest to `expected` (one plus the
 * highest deprotected so far, 0 before any). Halfway ties go to the lower
 * candidate. Never wraps below 0 or above 2^64 - 1. */
uint64_t record13_seq_reconstruct(uint64_t expected, uint16_t low_bits, unsigned bits);

/* RFC 9147 §4.2.2 for the epoch: the epoch whose low 2 bits are bits.
 * `current` is the receive epoch in use; next_installed says whether keys
 * for current + 1 are in place already (after a KeyUpdate was sent, or
 * during the handshake). The answer is current + 1 if installed and
 * matching, else the most recent epoch <= current with those bits.
 * CDTLS_ERR_BAD_EPOCH if there is none (bits above a small current). */
int record13_epoch_reconstruct(uint64_t current, uint8_t bits, int next_installed, uint64_t *epoch);

/* The receive state of one epoch: its cipher, replay window (§4.5.1: one
 * per epoch, the DTLS 1.2 window of record.h) and the highest sequence
 * number deprotected. */
typedef struct record13_rx_epoch {
    uint64_t epoch;
    record13_cipher cipher;
    replay_window window;
    uint64_t next_expected; /* highest deprotected + 1 */
} record13_rx_epoch;

/* Initialises everything but the cipher (record13_cipher_init on
 * &e->cipher). window_size as for replay_init. */
void record13_rx_epoch_init(record13_rx_epoch *e, uint64_t epoch, unsigned window_size);
void record13_rx_epoch_clear(record13_rx_epoch *e);

/* One record of this epoch, start to end: unmask, reconstruct the sequence
 * number, replay check, open, and only then mark it seen and move
 * next_expected (§4.5.1: the window is updated only after deprotection).
 * *seq gets the full sequence number. Errors as record13_unmask_seq and
 * record13_open, plus CDTLS_ERR_REPLAY and CDTLS_ERR_BAD_EPOCH (epoch bits
 * not this epoch's). */
int record13_rx_open(record13_rx_epoch *e, record13_header *h, uint8_t *out, size_t cap, size_t *pt_len,
                     uint8_t *type, uint64_t *seq);

#endif
