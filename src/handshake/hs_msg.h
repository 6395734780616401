/* DTLS 1.2 handshake message codec (RFC 5246 §7.4, RFC 6347 §4.2-4.3,
 * RFC 4279, RFC 5489, RFC 8422). Parsers read through cdtls_reader, take
 * the whole body, reject trailing bytes, and hand back pointers into the
 * body (nothing is allocated). Writers produce what the parsers accept. */
#ifndef CDTLS_HANDSHAKE_HS_MSG_H
#define CDTLS_HANDSHAKE_HS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/error.h"
#include "common/reader.h"
#include "common/writer.h"

/* ------------------------------------------------------------ the header */

typedef struct hs_header {
    uint8_t type;
    uint32_t length; /* 24 bits: the whole message body */
    uint16_t message_seq;
    uint32_t fragment_offset; /* 24 bits */
    uint32_t fragment_length; /* 24 bits */
} hs_header;

/* Reads one fragment header and borrows its fragment bytes. CDTLS_ERR_DECODE
 * if short, if offset + fragment_length > length (RFC 6347 §4.2.3), or if the
 * fragment runs past the record. */
int hs_header_read(cdtls_reader *r, hs_header *h, const uint8_t **frag);
void hs_header_put(const hs_header *h, uint8_t out[12]);
void hs_header_get(const uint8_t in[12], hs_header *h);

/* --------------------------------------------------------- extensions */

#define HS_MAX_EXTENSIONS 256 /* more in one hello is refused as malformed */

typedef struct hs_extensions {
    unsigned n_unknown;     /* extensions of types not below: a ClientHello's are ignored, a
                               ServerHello may have none (RFC 5246 §7.4.1.4) */
    int ems;                /* extended_master_secret (RFC 7627) */
    int renegotiation_info; /* present (RFC 5746) */
    const uint8_t *renegotiation_info_data;
    size_t renegotiation_info_len;
    int encrypt_then_mac;      /* RFC 7366 */
    int ec_point_formats;      /* present (RFC 8422 §5.1.2) */
    int ec_point_uncompressed; /* the list contains uncompressed (0) */
    int has_supported_groups;
    const uint8_t *supported_groups; /* raw NamedGroup list (2 bytes each) */
    size_t supported_groups_len;
    int has_signature_algorithms;
    const uint8_t *signature_algorithms; /* raw SignatureScheme list */
    size_t signature_algorithms_len;
    int has_signature_algorithms_cert; /* RFC 8446 §4.2.3, also used with 1.2 */
    const uint8_t *signature_algorithms_cert;
    size_t signature_algorithms_cert_len;
    const uint8_t *server_name; /* host_name (RFC 6066 §3), not NUL-terminated */
    size_t server_name_len;
    /* ALPN (RFC 7301 §3.1): the ProtocolNameList body, a sequence of
     * ProtocolName<1..255>, each checked by the parser. Empty = absent. */
    const uint8_t *alpn;
    size_t alpn_len;
    /* use_srtp (RFC 5764 §4.1.1): SRTPProtectionProfiles (2 bytes each) and
     * srtp_mki<0..255>. */
    int use_srtp;
    const uint8_t *srtp_profiles;
    size_t srtp_profiles_len;
    const uint8_t *srtp_mki;
    size_t srtp_mki_len;
    /* connection_id (RFC 9146 §3): the CID the sender wants to receive,
     * 0..255 bytes (empty: "send me none, I will send yours"). */
    int has_cid;
    const uint8_t *cid;
    size_t cid_len;
    /* client_/server_certificate_type (RFC 7250 §3): the raw extension_data,
     * a list<1..255> of types in a ClientHello, one type in a ServerHello
     * (the engine reads it per message; the codec checks it is not empty). */
    const uint8_t *client_cert_type, *server_cert_type;
    size_t client_cert_type_len, server_cert_type_len;
    /* SessionTicket (RFC 5077 §3.2): present, and the ticket (may be empty) */
    int session_ticket;
    const uint8_t *ticket;
    size_t ticket_len;
    /* rrc (RFC 9853 §3): present (its extension_data is empty) */
    int has_rrc;
} hs_extensions;

/* Reads an extensions block<0..2^16-1> into e (absent, at the end of the
 * reader, is allowed: 1.2 hellos may omit it). Shared with the DTLS 1.3
 * codec (hs13_msg.c), which reads the same views from 1.3 messages. */
int hs_extensions_parse(cdtls_reader *r, hs_extensions *e);
/* Writes the extensions that e, groups and sig_algs ask for, without the
 * block's length (the 1.3 ClientHello adds its own after them). */
void hs_extensions_write_entries(cdtls_writer *w, const hs_extensions *e, const uint16_t *groups,
                                 size_t n_groups, const uint16_t *sig_algs, size_t n_sig_algs);

/* NewSessionTicket (RFC 5077 §3.3) */
typedef struct hs_new_session_ticket {
    uint32_t lifetime_hint_s;
    const uint8_t *ticket;
    size_t ticket_len;
} hs_new_session_ticket;
int hs_new_session_ticket_parse(const uint8_t *body, size_t len, hs_new_session_ticket *out);
int hs_new_session_ticket_write(cdtls_writer *w, const hs_new_session_ticket *in);

#define HS_CERT_TYPE_X509 0u
#define HS_CERT_TYPE_RAW_PUBLIC_KEY 2u

/* Certificate with a raw public key (RFC 7250 §3): the body is
 * ASN.1_subjectPublicKeyInfo<1..2^24-1> itself, not a list. */
int hs_raw_public_key_parse(const uint8_t *body, size_t len, const uint8_t **spki, size_t *spki_len);
int hs_raw_public_key_write(cdtls_writer *w, const uint8_t *spki, size_t spki_len);

/* Walks a checked ProtocolNameList body: returns 1 and the next name, or 0
 * at the end. *off starts at 0. */
int hs_alpn_next(const uint8_t *list, size_t len, size_t *off, const uint8_t **name, size_t *name_len);

/* --------------------------------------------------------- ClientHello */

typedef struct hs_client_hello {
    uint16_t version;
    uint8_t random[32];
    const uint8_t *session_id;
    size_t session_id_len;
    const uint8_t *cookie;
    size_t cookie_len;
    /* writing: the suites and groups to offer */
    const uint16_t *suites;
    size_t n_suites;
    const uint16_t *groups;
    size_t n_groups;
    const uint16_t *sig_algs; /* signature_algorithms to offer (RFC 5246 §7.4.1.4.1) */
    size_t n_sig_algs;
    hs_extensions ext;
    /* parsing: raw views, and what the cookie binds (RFC 6347 §4.2.1) */
    int has_reneg_scsv;                    /* TLS_EMPTY_RENEGOTIATION_INFO_SCSV in the suites */
    const uint8_t *raw_version_random_sid; /* version || random || session_id<..> */
    size_t raw_version_random_sid_len;
    const uint8_t *raw_suites; /* the cipher_suites vector body */
    size_t raw_suites_len;
    const uint8_t *raw_compression;
    size_t raw_compression_len;
} hs_client_hello;

int hs_client_hello_parse(const uint8_t *body, size_t len, hs_client_hello *out);

/* The fixed start of every ClientHello: client_version, random,
 * session_id<0..32> and cookie<0..255> (at most 323 bytes; 100 with a
 * 32-byte cookie such as ours). A server that
 * keeps no state before the cookie is checked reads them from the first
 * fragment (offset 0) alone: the fragment boundary can fall anywhere after
 * them (RFC 6347 §4.2.1, §4.2.3). Trailing bytes are allowed. */
typedef struct hs_client_hello_prefix {
    uint16_t version;
    const uint8_t *session_id;
    size_t session_id_len;
    const uint8_t *version_random_sid; /* version || random || session_id<..> */
    size_t version_random_sid_len;
    const uint8_t *cookie;
    size_t cookie_len;
} hs_client_hello_prefix;

#define HS_CLIENT_HELLO_PREFIX_MAX (2u + 32u + 1u + 32u + 1u + 255u)

int hs_client_hello_prefix_parse(const uint8_t *frag, size_t len, hs_client_hello_prefix *out);
int hs_client_hello_write(cdtls_writer *w, const hs_client_hello *in);
/* The fields before the extensions block (client_version .. compression
 * methods), which the DTLS 1.3 ClientHello shares. */
int hs_client_hello_write_fields(cdtls_writer *w, const hs_client_hello *in);
int hs_client_hello_offers_suite(const hs_client_hello *ch, uint16_t suite);
int hs_client_hello_offers_group(const hs_client_hello *ch, uint16_t group);
int hs_client_hello_offers_null_compression(const hs_client_hello *ch);

/* ------------------------------------------------- HelloVerifyRequest */

typedef struct hs_hello_verify_request {
    uint16_t version;
    const uint8_t *cookie;
    size_t cookie_len; /* 0..255 (RFC 6347 §4.2.1, DTLS 1.2) */
} hs_hello_verify_request;

int hs_hello_verify_request_parse(const uint8_t *body, size_t len, hs_hello_verify_request *out);
int hs_hello_verify_request_write(cdtls_writer *w, const hs_hello_verify_request *in);

/* --------------------------------------------------------- ServerHello */

typedef struct hs_server_hello {
    uint16_t version;
    uint8_t random[32];
    const uint8_t *session_id;
    size_t session_id_len;
    uint16_t cipher_suite;
    uint8_t compression_method;
    hs_extensions ext;
} hs_server_hello;

int hs_server_hello_parse(const uint8_t *body, size_t len, hs_server_hello *out);
int hs_server_hello_write(cdtls_writer *w, const hs_server_hello *in);
/* The fields before the extensions block, with this random (a DTLS 1.3
 * HelloRetryRequest has its own). */
int hs_server_hello_write_fields(cdtls_writer *w, const hs_server_hello *in, const uint8_t random[32]);

/* ----------------------------------------------------- key exchanges */

/* ServerKeyExchange and ClientKeyExchange are not self-describing: the
 * negotiated suite says which form they take. */
typedef enum hs_kx_kind {
    HS_KX_PSK,       /* RFC 4279 §2 */
    HS_KX_ECDHE_PSK, /* RFC 5489 §2 */
    HS_KX_ECDHE      /* RFC 8422 §5.4 / §5.7, signed params */
} hs_kx_kind;

typedef struct hs_server_key_exchange {
    const uint8_t *psk_hint; /* PSK, ECDHE_PSK */
    size_t psk_hint_len;
    uint16_t named_curve; /* ECDHE*: curve_type must be named_curve (3) */
    const uint8_t *public_key;
    size_t public_len;
    /* ECDHE: the ServerECDHParams bytes as on the wire (what is signed), and
     * the signature */
    const uint8_t *params;
    size_t params_len;
    uint16_t sig_alg;
    const uint8_t *signature;
    size_t signature_len;
} hs_server_key_exchange;

int hs_server_key_exchange_parse(const uint8_t *body, size_t len, hs_kx_kind kind,
                                 hs_server_key_exchange *out);
/* ServerECDHParams (RFC 8422 §5.4): curve_type named_curve, the group,
 * the point. The bytes a server signs are the ones this writes, and the
 * ServerKeyExchange writer writes them with it. */
int hs_ecdh_params_write(cdtls_writer *w, uint16_t named_curve, const uint8_t *pub, size_t len);
int hs_server_key_exchange_write(cdtls_writer *w, hs_kx_kind kind, const hs_server_key_exchange *in);

typedef struct hs_client_key_exchange {
    const uint8_t *psk_identity; /* PSK, ECDHE_PSK */
    size_t psk_identity_len;
    const uint8_t *public_key; /* ECDHE*: ecdh_Yc<1..255> */
    size_t public_len;
} hs_client_key_exchange;

int hs_client_key_exchange_parse(const uint8_t *body, size_t len, hs_kx_kind kind,
                                 hs_client_key_exchange *out);
int hs_client_key_exchange_write(cdtls_writer *w, hs_kx_kind kind, const hs_client_key_exchange *in);

/* ----------------------------------------------------------- Certificate */

/* Certificate (RFC 5246 §7.4.2): certificate_list<0..2^24-1> of
 * ASN.1Cert<1..2^24-1>. hs_certificate_parse checks the framing and counts
 * the entries (at most max); hs_certificate_next walks them. */
int hs_certificate_parse(const uint8_t *body, size_t len, size_t max, size_t *count, cdtls_reader *list);
int hs_certificate_next(cdtls_reader *list, const uint8_t **der, size_t *der_len);
int hs_certificate_write(cdtls_writer *w, const uint8_t *const *certs, const size_t *lens, size_t n);
size_t hs_certificate_size(const size_t *lens, size_t n);

/* CertificateRequest (RFC 5246 §7.4.4): certificate_types<1..2^8-1>,
 * supported_signature_algorithms<2..2^16-2>, certificate_authorities<0..2^16-1>. */
typedef struct hs_certificate_request {
    const uint8_t *types;
    size_t types_len;
    const uint8_t *sig_algs; /* raw SignatureScheme list */
    size_t sig_algs_len;
    const uint8_t *cas; /* raw DistinguishedName list (not used for selection) */
    size_t cas_len;
} hs_certificate_request;

int hs_certificate_request_parse(const uint8_t *body, size_t len, hs_certificate_request *out);
/* Writes certificate_types {ecdsa_sign(64), rsa_sign(1)}, the given schemes,
 * and an empty certificate_authorities list. */
int hs_certificate_request_write(cdtls_writer *w, const uint16_t *sig_algs, size_t n);

/* CertificateVerify (RFC 5246 §7.4.8): SignatureAndHashAlgorithm + signature<0..2^16-1>. */
typedef struct hs_certificate_verify {
    uint16_t sig_alg;
    const uint8_t *signature;
    size_t signature_len;
} hs_certificate_verify;

int hs_certificate_verify_parse(const uint8_t *body, size_t len, hs_certificate_verify *out);
int hs_certificate_verify_write(cdtls_writer *w, const hs_certificate_verify *in);

/* Whether a raw SignatureScheme list (from signature_algorithms) has id. */
int hs_sig_algs_contain(const uint8_t *list, size_t len, uint16_t id);

#endif
