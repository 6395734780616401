/*
 * cdtls — error codes.
 *
 * Every fallible cdtls function returns an int: CDTLS_OK (0) or a negative
 * value from enum cdtls_err. Codes are grouped by range so a new code can be
 * added to its group without renumbering the others:
 *   -1 ..  -19  general (arguments, memory, buffers, state)
 *   -20 .. -39  cryptography (provider results)
 *   -40 .. -89  protocol (record layer, handshake, alerts)
 *   -90 .. -129 certificates and keys (X.509, PEM, DER)
 *   -130.. -159 io (sockets, OOB)
 */
#ifndef CDTLS_ERROR_H
#define CDTLS_ERROR_H

#include "cdtls/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cdtls_err {
    CDTLS_OK = 0,

    /* general */
    CDTLS_ERR_INVALID_ARG = -1,      /* a NULL pointer or out-of-range value from the caller */
    CDTLS_ERR_NOMEM = -2,            /* the allocator returned NULL */
    CDTLS_ERR_UNSUPPORTED = -3,      /* the provider or build lacks this algorithm/feature */
    CDTLS_ERR_BUFFER_TOO_SMALL = -4, /* the caller's output buffer cannot hold the result */
    CDTLS_ERR_BAD_STATE = -5,        /* call not valid in the object's current state */
    CDTLS_ERR_WOULD_BLOCK = -6,      /* nothing to do now; call again when input or time arrives */
    CDTLS_ERR_LIMIT = -7,            /* a configured resource limit would be exceeded */
    CDTLS_ERR_INTERNAL = -8,         /* an invariant broke inside cdtls (a bug: please report) */

    /* cryptography */
    CDTLS_ERR_KEY_SIZE = -20,   /* key has the wrong length for the algorithm */
    CDTLS_ERR_NONCE_SIZE = -21, /* nonce/IV has the wrong length for the algorithm */
    CDTLS_ERR_AUTH = -22,       /* AEAD tag or MAC did not verify */
    CDTLS_ERR_SIGNATURE = -23,  /* signature did not verify */
    CDTLS_ERR_BAD_KEY = -24,    /* malformed or invalid key / public point */
    CDTLS_ERR_RANDOM = -25,     /* the random source failed */
    CDTLS_ERR_CRYPTO = -26,     /* the crypto backend failed for another reason */
    CDTLS_ERR_LENGTH = -27,     /* input length not valid for the algorithm (e.g. CBC not block-aligned) */

    /* protocol */
    CDTLS_ERR_DECODE = -40,                  /* malformed message from the peer */
    CDTLS_ERR_RECORD_TOO_LARGE = -41,        /* record or write larger than the record layer can carry */
    CDTLS_ERR_REPLAY = -42,                  /* record already seen (replay window) */
    CDTLS_ERR_BAD_EPOCH = -43,               /* record from an epoch we have no keys for */
    CDTLS_ERR_HANDSHAKE_FAILURE = -44,       /* no common parameters / peer refused */
    CDTLS_ERR_HANDSHAKE_TIMEOUT = -45,       /* the handshake did not complete within its time budget */
    CDTLS_ERR_BAD_FINISHED = -46,            /* Finished verify_data mismatch */
    CDTLS_ERR_UNKNOWN_PSK = -47,             /* PSK identity not known to the server */
    CDTLS_ERR_BAD_COOKIE = -48,              /* HelloVerifyRequest cookie did not verify */
    CDTLS_ERR_UNEXPECTED_MESSAGE = -49,      /* message not valid in the current handshake state */
    CDTLS_ERR_PEER_ALERT = -50,              /* the peer sent a fatal alert (see cdtls_conn_alert) */
    CDTLS_ERR_CLOSED = -51,                  /* the connection is closed (close_notify exchanged) */
    CDTLS_ERR_ILLEGAL_PARAMETER = -52,       /* a field from the peer is out of range */
    CDTLS_ERR_PROTOCOL_VERSION = -53,        /* peer does not speak DTLS 1.2 */
    CDTLS_ERR_RENEGOTIATION = -54,           /* peer attempted renegotiation, which cdtls refuses */
    CDTLS_ERR_EMS_REQUIRED = -55,            /* extended master secret required by policy but not offered */
    CDTLS_ERR_FAILED = -56,                  /* connection failed earlier; only free it now */
    CDTLS_ERR_NO_APPLICATION_PROTOCOL = -57, /* no ALPN protocol in common (RFC 7301 §3.2) */
    CDTLS_ERR_PEER_RESTARTED = -58,          /* the peer completed a new handshake from the same address
                                                (RFC 6347 §4.2.8): the new connection was accepted, this one is over */
    CDTLS_ERR_IDLE = -59,                    /* nothing came from the peer for the listener's idle timeout
                                                (cfg.listener.idle_timeout_ms): the listener dropped it */

    /* certificates and keys */
    CDTLS_ERR_DER = -90, /* malformed DER/ASN.1 */
    CDTLS_ERR_PEM = -91, /* malformed PEM */
    CDTLS_ERR_CERT_EXPIRED = -92,
    CDTLS_ERR_CERT_NOT_YET_VALID = -93,
    CDTLS_ERR_CERT_UNTRUSTED = -94, /* chain does not end at a trust anchor */
    CDTLS_ERR_CERT_SIGNATURE = -95, /* a certificate signature did not verify */
    CDTLS_ERR_CERT_HOSTNAME = -96,  /* name does not match the certificate */
    CDTLS_ERR_CERT_NOT_CA = -97,    /* intermediate lacks basicConstraints CA / keyCertSign */
    CDTLS_ERR_CERT_PATHLEN = -98,   /* path length constraint exceeded */
    CDTLS_ERR_CERT_USAGE = -99,     /* keyUsage / extendedKeyUsage forbids this use */
    CDTLS_ERR_CERT_REJECTED = -100, /* the application's verify callback or pin rejected it */

    /* io */
    CDTLS_ERR_IO = -130,      /* socket call failed (errno/WSAGetLastError in cdtls_io_last_os_error) */
    CDTLS_ERR_TIMEOUT = -131, /* blocking call timed out */
    CDTLS_ERR_OOB_UNSUPPORTED = -132, /* this platform/socket cannot carry the requested OOB item */
    CDTLS_ERR_UNREACHABLE = -133,     /* this destination cannot be reached now (no route, an ICMP
                                         error): that datagram only; the path may come back */
    CDTLS_ERR_MSG_SIZE = -134         /* the datagram is larger than the path MTU (EMSGSIZE) */
} cdtls_err;

/* A static, human-readable English description of an error code. Never NULL. */
CDTLS_API const char *cdtls_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_ERROR_H */
