/* DTLS 1.3 handshake message codec (RFC 8446 §4 as RFC 9147 §5 uses it,
 * and the ACK of RFC 9147 §7). Like hs_msg.h: parsers read a whole message
 * body (no handshake header) through cdtls_reader, reject trailing bytes,
 * and hand back pointers into the body; nothing is allocated. Writers
 * produce what the parsers accept.
 *
 * Errors: CDTLS_ERR_DECODE for anything malformed (a length outside its
 * vector's bounds or past its data, trailing bytes, an extension seen twice
 * in one block); CDTLS_ERR_ILLEGAL_PARAMETER for well-formed values the RFC
 * forbids (an extension RFC 8446 §4.2 does not allow in that message,
 * pre_shared_key not last, identities and binders in different numbers, two
 * key shares for one group, a KeyUpdate other than 0 or 1, a ticket
 * lifetime over 7 days); CDTLS_ERR_LIMIT for more certificates than asked.
 *
 * The legacy fields and the extensions DTLS 1.2 shares with 1.3 (groups,
 * signature algorithms, SNI, ALPN, SRTP, CID, certificate types) are read
 * by the 1.2 codec into an hs_extensions; this file adds the 1.3 ones.
 * Transcripts are the engine's: in DTLS 1.3 they hash TLS-style 4-byte
 * headers (RFC 9147 §5.2), which binders_offset and hs13_message_hash
 * assume. */
#ifndef CDTLS_HANDSHAKE_HS13_MSG_H
#define CDTLS_HANDSHAKE_HS13_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/error.h"
#include "common/reader.h"
#include "common/writer.h"
#include "handshake/hs_msg.h"

#define HS13_DTLS_VERSION_1_3 0xfefcu /* RFC 9147 §5.3: {254, 252} */
#define HS13_CONTENT_TYPE_ACK 26u     /* RFC 9147 §7 */

/* HandshakeType values new in 1.3 (RFC 8446 §4, RFC 9147 §5.1) */
enum hs13_handshake_type { HS13_ENCRYPTED_EXTENSIONS = 8, HS13_KEY_UPDATE = 24, HS13_MESSAGE_HASH = 254 };

/* ExtensionType values new in 1.3 (RFC 8446 §4.2) */
enum hs13_extension_type {
    EXT13_PRE_SHARED_KEY = 41,
    EXT13_EARLY_DATA = 42,
    EXT13_SUPPORTED_VERSIONS = 43,
    EXT13_COOKIE = 44,
    EXT13_PSK_KEY_EXCHANGE_MODES = 45,
    EXT13_CERTIFICATE_AUTHORITIES = 47,
    EXT13_OID_FILTERS = 48,
    EXT13_POST_HANDSHAKE_AUTH = 49,
    EXT13_KEY_SHARE = 51
};

/* PskKeyExchangeMode (RFC 8446 §4.2.9), as bits (1u << mode) */
#define HS13_PSK_KE 0u
#define HS13_PSK_DHE_KE 1u

typedef struct hs13_bytes {
    const uint8_t *p;
    size_t len;
} hs13_bytes;

/* ------------------------------------------------- extensions blocks */

/* The messages an extension may appear in (RFC 8446 §4.2's table). */
typedef enum hs13_ext_where {
    HS13_IN_CH = 0,
    HS13_IN_SH,
    HS13_IN_HRR,
    HS13_IN_EE,
    HS13_IN_CT,
    HS13_IN_CR,
    HS13_IN_NST
} hs13_ext_where;

/* 1 if RFC 8446 §4.2 (or the RFC that defines it) lets a known extension
 * type appear in that message; unknown types always give 1 (a receiver
 * ignores them, or refuses them against what it offered: the engine's
 * part). The 1.2-only extensions (EMS, ETM, renegotiation_info,
 * ec_point_formats, session_ticket) are allowed in a ClientHello only. */
int hs13_ext_allowed(uint16_t type, hs13_ext_where where);

/* An extensions block body, checked: each entry framed, no type twice, at
 * most HS_MAX_EXTENSIONS entries, each known type allowed where it is. */
typedef struct hs13_ext_block {
    const uint8_t *p; /* the entries (after the block's 2-byte length) */
    size_t len;
    size_t count;
} hs13_ext_block;

/* Reads extensions<min..2^16-1> and checks it as above. */
int hs13_ext_block_read(cdtls_reader *r, size_t min, hs13_ext_where where, hs13_ext_block *out);
/* Walks a checked block: 1 and the next entry, 0 at the end (*off from 0). */
int hs13_ext_next(const hs13_ext_block *b, size_t *off, uint16_t *type, const uint8_t **data, size_t *len);
/* 1 and the extension_data of type, or 0 when absent. */
int hs13_ext_find(const hs13_ext_block *b, uint16_t type, const uint8_t **data, size_t *len);

/* KeyShareEntry (RFC 8446 §4.2.8): group, key_exchange<1..2^16-1> */
typedef struct hs13_key_share {
    uint16_t group;
    const uint8_t *key;
    size_t key_len;
} hs13_key_share;

/* Walks a checked client_shares body (*off from 0). */
int hs13_key_share_next(const uint8_t *list, size_t len, size_t *off, hs13_key_share *out);

/* PskIdentity (RFC 8446 §4.2.11): identity<1..2^16-1>, obfuscated_ticket_age */
typedef struct hs13_psk_identity {
    const uint8_t *identity;
    size_t identity_len;
    uint32_t obfuscated_ticket_age;
} hs13_psk_identity;

int hs13_psk_identity_next(const uint8_t *list, size_t len, size_t *off, hs13_psk_identity *out);
/* PskBinderEntry<32..255> */
int hs13_psk_binder_next(const uint8_t *list, size_t len, size_t *off, hs13_bytes *out);

/* --------------------------------------------------------- ClientHello */

typedef struct hs13_client_hello {
    /* legacy_version, random, legacy_session_id, legacy_cookie (RFC 9147
     * §5.3: a 1.3 server refuses a non-empty one), cipher_suites, and the
     * extensions shared with 1.2 */
    hs_client_hello legacy;
    hs13_ext_block ext; /* absent block: count 0 */
    /* supported_versions: versions<2..254> (2 bytes each); NULL = absent */
    const uint8_t *versions;
    size_t versions_len;
    /* key_share: client_shares<0..2^16-1>, one entry per group at most */
    int has_key_share;
    const uint8_t *key_shares;
    size_t key_shares_len, n_key_shares;
    /* cookie<1..2^16-1> (RFC 8446 §4.2.2), echoed after a HelloRetryRequest */
    const uint8_t *cookie;
    size_t cookie_len;
    /* psk_key_exchange_modes<1..255>: bits (1u << mode) of the known
     * modes; has_psk_modes even when only unknown ones were listed */
    int has_psk_modes;
    unsigned psk_modes;
    int early_data;          /* early_data (empty) */
    int post_handshake_auth; /* post_handshake_auth (empty) */
    /* pre_shared_key (the last extension): identities<7..2^16-1>,
     * binders<33..2^16-1>, as many of each */
    int has_psk;
    const uint8_t *identities;
    size_t identities_len, n_identities;
    const uint8_t *binders;
    size_t binders_len, n_binders;
    /* Offset in the body of the binders list (its 2-byte length): the
     * binders cover the 4-byte header and body[0..binders_offset) (RFC
     * 8446 §4.2.11.2, the header's length being the whole message's). */
    size_t binders_offset;
} hs13_client_hello;

int hs13_client_hello_parse(const uint8_t *body, size_t len, hs13_client_hello *out);
int hs13_client_hello_offers_version(const hs13_client_hello *ch, uint16_t version);
/* 1 and the share of group, 0 if the client sent none for it. */
int hs13_client_hello_find_share(const hs13_client_hello *ch, uint16_t group, hs13_key_share *out);

/* What a 1.3 ClientHello writer is given. legacy holds the legacy fields
 * (version DTLS 1.2, an empty legacy_cookie for a 1.3-only client), the
 * suites, groups and signature algorithms, and the shared extensions. */
typedef struct hs13_client_hello_params {
    hs_client_hello legacy;
    const uint16_t *versions; /* supported_versions, most preferred first */
    size_t n_versions;
    const hs13_key_share *shares;
    size_t n_shares;
    int send_key_share; /* write key_share even with no shares (an empty list) */
    const uint8_t *cookie;
    size_t cookie_len;
    unsigned psk_modes; /* bits (1u << mode); 0: no psk_key_exchange_modes */
    int early_data;
    int post_handshake_auth;
    const hs13_psk_identity *identities; /* with binders: pre_shared_key, last */
    const hs13_bytes *binders;           /* p NULL: len zero bytes, filled in later */
    size_t n_psks;
} hs13_client_hello_params;

/* *binders_offset (may be NULL) receives the binders list's offset in the
 * written body, as the parser gives it. */
int hs13_client_hello_write(cdtls_writer *w, const hs13_client_hello_params *in, size_t *binders_offset);
/* Writes the binders into a written ClientHello body in place, once the
 * truncated hello is hashed; their lengths must be those written. */
int hs13_client_hello_set_binders(uint8_t *body, size_t len, size_t binders_offset, const hs13_bytes *binders,
                                  size_t n);

/* --------------------------------------------------------- ServerHello */

/* HelloRetryRequest is a ServerHello with this random: SHA-256 of
 * "HelloRetryRequest" (RFC 8446 §4.1.3). */
extern const uint8_t hs13_hrr_random[32];
int hs13_is_hrr_random(const uint8_t random[32]);

/* Downgrade protection (RFC 8446 §4.1.3, RFC 9147 §5.3): a 1.3 server
 * negotiating DTLS 1.2 ends its random with "DOWNGRD\x01"; DTLS 1.0 with
 * "DOWNGRD\x00". */
typedef enum hs13_downgrade {
    HS13_DOWNGRADE_NONE = 0,
    HS13_DOWNGRADE_DTLS12,
    HS13_DOWNGRADE_DTLS10
} hs13_downgrade;

hs13_downgrade hs13_downgrade_sentinel(const uint8_t random[32]);
/* Writes the sentinel into the last 8 bytes (NONE leaves random alone). */
void hs13_downgrade_mark(uint8_t random[32], hs13_downgrade which);

typedef struct hs13_server_hello {
    /* legacy_version, random, legacy_session_id_echo, cipher_suite,
     * legacy_compression_method, and the shared extensions */
    hs_server_hello legacy;
    int is_hrr; /* the random is hs13_hrr_random */
    hs13_ext_block ext;
    int has_selected_version;
    uint16_t selected_version;
    /* ServerHello: key_share is one KeyShareEntry; HelloRetryRequest: the
     * selected_group alone (RFC 8446 §4.2.8) */
    int has_key_share;
    hs13_key_share share;
    uint16_t selected_group;
    int has_psk; /* pre_shared_key: selected_identity */
    uint16_t selected_identity;
    const uint8_t *cookie; /* HelloRetryRequest only */
    size_t cookie_len;
} hs13_server_hello;

int hs13_server_hello_parse(const uint8_t *body, size_t len, hs13_server_hello *out);
/* Writes legacy (its random replaced by hs13_hrr_random when is_hrr), the
 * shared extensions of legacy.ext, and the 1.3 fields that are set. */
int hs13_server_hello_write(cdtls_writer *w, const hs13_server_hello *in);

/* ------------------------------------------------ EncryptedExtensions */

typedef struct hs13_encrypted_extensions {
    hs13_ext_block ext;
    hs_extensions shared; /* groups, SNI ack, ALPN, SRTP, cert types */
    int early_data;       /* the server accepts 0-RTT (absent: refused) */
} hs13_encrypted_extensions;

int hs13_encrypted_extensions_parse(const uint8_t *body, size_t len, hs13_encrypted_extensions *out);
int hs13_encrypted_extensions_write(cdtls_writer *w, const hs_extensions *shared, int early_data);

/* ------------------------------------------------- CertificateRequest */

typedef struct hs13_certificate_request {
    const uint8_t *context; /* certificate_request_context<0..255> */
    size_t context_len;
    hs13_ext_block ext;
    const uint8_t *sig_algs; /* signature_algorithms (required) */
    size_t sig_algs_len;
    const uint8_t *sig_algs_cert; /* signature_algorithms_cert, may be absent */
    size_t sig_algs_cert_len;
} hs13_certificate_request;

int hs13_certificate_request_parse(const uint8_t *body, size_t len, hs13_certificate_request *out);
int hs13_certificate_request_write(cdtls_writer *w, const uint8_t *context, size_t context_len,
                                   const uint16_t *sig_algs, size_t n_sig_algs);

/* -------------------------------------------------------- Certificate */

/* CertificateEntry (RFC 8446 §4.4.2): cert_data<1..2^24-1> (an X.509 DER
 * certificate, or with raw public keys, RFC 7250, the
 * SubjectPublicKeyInfo: the same encoding) and extensions<0..2^16-1>. */
typedef struct hs13_cert_entry {
    const uint8_t *data;
    size_t len;
    hs13_ext_block ext;
} hs13_cert_entry;

typedef struct hs13_certificate {
    const uint8_t *context; /* certificate_request_context<0..255> */
    size_t context_len;
    cdtls_reader list; /* walk with hs13_certificate_next */
    size_t count;
} hs13_certificate;

/* At most max entries (else CDTLS_ERR_LIMIT). */
int hs13_certificate_parse(const uint8_t *body, size_t len, size_t max, hs13_certificate *out);
int hs13_certificate_next(cdtls_reader *list, hs13_cert_entry *out);
/* Entries' ext.p/ext.len are written as their extensions block body. */
int hs13_certificate_write(cdtls_writer *w, const uint8_t *context, size_t context_len,
                           const hs13_cert_entry *entries, size_t n);

/* -------------------------------------------------- CertificateVerify */

/* The 1.3 CertificateVerify body has the 1.2 form (hs_certificate_verify).
 * What is signed (RFC 8446 §4.4.3): 64 spaces, "TLS 1.3, server
 * CertificateVerify" (or client), one 0 byte, the transcript hash. */
#define HS13_CV_CONTENT_MAX (64u + 33u + 1u + 64u)
int hs13_certificate_verify_content(int from_server, const uint8_t *transcript_hash, size_t hash_len,
                                    uint8_t *out, size_t cap, size_t *out_len);

/* ----------------------------------------- Finished, KeyUpdate, tickets */

/* verify_data[Hash.length] is the whole body. */
int hs13_finished_parse(const uint8_t *body, size_t len, size_t hash_len, const uint8_t **verify_data);

/* KeyUpdateRequest (RFC 8446 §4.6.3): update_not_requested(0), update_requested(1) */
int hs13_key_update_parse(const uint8_t *body, size_t len, int *update_requested);
int hs13_key_update_write(cdtls_writer *w, int update_requested);

#define HS13_MAX_TICKET_LIFETIME 604800u /* 7 days, RFC 8446 §4.6.1 */

typedef struct hs13_new_session_ticket {
    uint32_t lifetime_s;
    uint32_t age_add;
    const uint8_t *nonce; /* ticket_nonce<0..255> */
    size_t nonce_len;
    const uint8_t *ticket; /* ticket<1..2^16-1> */
    size_t ticket_len;
    hs13_ext_block ext;
    int has_max_early_data; /* early_data: max_early_data_size */
    uint32_t max_early_data;
} hs13_new_session_ticket;

int hs13_new_session_ticket_parse(const uint8_t *body, size_t len, hs13_new_session_ticket *out);
int hs13_new_session_ticket_write(cdtls_writer *w, const hs13_new_session_ticket *in);

/* ------------------------------------------------------------------ ACK */

/* RFC 9147 §7: struct { RecordNumber record_numbers<0..2^16-1>; } with
 * RecordNumber { uint64 epoch; uint64 sequence_number; }. Not a handshake
 * message: the body of a record of content type 26. */
typedef struct hs13_record_number {
    uint64_t epoch;
    uint64_t seq;
} hs13_record_number;

int hs13_ack_parse(const uint8_t *body, size_t len, const uint8_t **list, size_t *count);
void hs13_ack_get(const uint8_t *list, size_t i, hs13_record_number *out);
int hs13_ack_write(cdtls_writer *w, const hs13_record_number *numbers, size_t n);

/* ------------------------------------------------------ message_hash */

/* After a HelloRetryRequest the transcript restarts with this synthetic
 * message in place of ClientHello1 (RFC 8446 §4.4.1): message_hash(254),
 * 00 00, Hash.length, Hash(ClientHello1). Writes 4 + hash_len bytes. */
int hs13_message_hash(const uint8_t *ch1_hash, size_t hash_len, uint8_t *out, size_t cap, size_t *out_len);

#endif
