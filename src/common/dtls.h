/* DTLS 1.2 wire constants shared by the record layer and the handshake. */
#ifndef CDTLS_COMMON_DTLS_H
#define CDTLS_COMMON_DTLS_H

#define DTLS_VERSION_1_2 0xfefdu /* RFC 6347 §4.1: {254, 253} */
#define DTLS_VERSION_1_0 0xfeffu /* allowed in the record version of a first ClientHello */

/* ContentType (RFC 5246 §6.2.1, RFC 9146) */
enum dtls_content_type {
    CT_CHANGE_CIPHER_SPEC = 20,
    CT_ALERT = 21,
    CT_HANDSHAKE = 22,
    CT_APPLICATION_DATA = 23,
    CT_TLS12_CID = 25,
    CT_RRC = 27 /* return_routability_check, RFC 9853 §4 */
};

#define DTLS_RECORD_HEADER_LEN 13u           /* type(1) version(2) epoch(2) seq(6) length(2) */
#define DTLS_MAX_PLAINTEXT 16384u            /* 2^14, RFC 5246 §6.2.1 */
#define DTLS_MAX_CIPHERTEXT (16384u + 2048u) /* 2^14 + 2048, RFC 5246 §6.2.3 */
#define DTLS_MAX_SEQ 0xffffffffffffull       /* 48-bit sequence numbers */

/* HandshakeType (RFC 5246 §7.4, RFC 6347 §4.3.2) */
enum dtls_handshake_type {
    HS_HELLO_REQUEST = 0,
    HS_CLIENT_HELLO = 1,
    HS_SERVER_HELLO = 2,
    HS_HELLO_VERIFY_REQUEST = 3,
    HS_NEW_SESSION_TICKET = 4,
    HS_CERTIFICATE = 11,
    HS_SERVER_KEY_EXCHANGE = 12,
    HS_CERTIFICATE_REQUEST = 13,
    HS_SERVER_HELLO_DONE = 14,
    HS_CERTIFICATE_VERIFY = 15,
    HS_CLIENT_KEY_EXCHANGE = 16,
    HS_FINISHED = 20
};

#define DTLS_HS_HEADER_LEN 12u /* type(1) length(3) message_seq(2) frag_offset(3) frag_length(3) */

/* AlertLevel / AlertDescription (RFC 5246 §7.2) */
enum dtls_alert_level { ALERT_WARNING = 1, ALERT_FATAL = 2 };
enum dtls_alert_desc {
    ALERT_CLOSE_NOTIFY = 0,
    ALERT_UNEXPECTED_MESSAGE = 10,
    ALERT_BAD_RECORD_MAC = 20,
    ALERT_RECORD_OVERFLOW = 22,
    ALERT_HANDSHAKE_FAILURE = 40,
    ALERT_BAD_CERTIFICATE = 42,
    ALERT_UNSUPPORTED_CERTIFICATE = 43,
    ALERT_CERTIFICATE_REVOKED = 44,
    ALERT_CERTIFICATE_EXPIRED = 45,
    ALERT_CERTIFICATE_UNKNOWN = 46,
    ALERT_ILLEGAL_PARAMETER = 47,
    ALERT_UNKNOWN_CA = 48,
    ALERT_ACCESS_DENIED = 49,
    ALERT_DECODE_ERROR = 50,
    ALERT_DECRYPT_ERROR = 51,
    ALERT_PROTOCOL_VERSION = 70,
    ALERT_INSUFFICIENT_SECURITY = 71,
    ALERT_INTERNAL_ERROR = 80,
    ALERT_USER_CANCELED = 90,
    ALERT_NO_RENEGOTIATION = 100,
    ALERT_UNSUPPORTED_EXTENSION = 110,
    ALERT_UNRECOGNIZED_NAME = 112,
    ALERT_UNKNOWN_PSK_IDENTITY = 115,
    ALERT_NO_APPLICATION_PROTOCOL = 120 /* RFC 7301 §3.2 */
};

/* ExtensionType values used by the handshake */
enum dtls_extension_type {
    EXT_SERVER_NAME = 0,
    EXT_SUPPORTED_GROUPS = 10,
    EXT_EC_POINT_FORMATS = 11,
    EXT_SIGNATURE_ALGORITHMS = 13,
    EXT_USE_SRTP = 14,
    EXT_ALPN = 16,
    EXT_CLIENT_CERTIFICATE_TYPE = 19, /* RFC 7250 */
    EXT_SERVER_CERTIFICATE_TYPE = 20,
    EXT_ENCRYPT_THEN_MAC = 22,
    EXT_EXTENDED_MASTER_SECRET = 23,
    EXT_SESSION_TICKET = 35,
    EXT_SIGNATURE_ALGORITHMS_CERT = 50,
    EXT_CONNECTION_ID = 54,
    EXT_RRC = 61, /* RFC 9853 §3: empty extension_data */
    EXT_RENEGOTIATION_INFO = 0xff01
};

/* TLS_EMPTY_RENEGOTIATION_INFO_SCSV, RFC 5746 §3.3 */
#define TLS_EMPTY_RENEGOTIATION_INFO_SCSV 0x00ffu

#endif /* CDTLS_COMMON_DTLS_H */
