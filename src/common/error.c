#include "cdtls/error.h"

const char *cdtls_strerror(int err)
{
    switch ((cdtls_err)err) {
    case CDTLS_OK: return "success";
    case CDTLS_ERR_INVALID_ARG: return "invalid argument";
    case CDTLS_ERR_NOMEM: return "out of memory";
    case CDTLS_ERR_UNSUPPORTED: return "not supported by this build or crypto provider";
    case CDTLS_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case CDTLS_ERR_BAD_STATE: return "operation not valid in the current state";
    case CDTLS_ERR_WOULD_BLOCK: return "no progress possible now (would block)";
    case CDTLS_ERR_LIMIT: return "configured resource limit exceeded";
    case CDTLS_ERR_INTERNAL: return "internal error (a bug in cdtls)";
    case CDTLS_ERR_KEY_SIZE: return "wrong key size for the algorithm";
    case CDTLS_ERR_NONCE_SIZE: return "wrong nonce/IV size for the algorithm";
    case CDTLS_ERR_AUTH: return "authentication failed (bad tag or MAC)";
    case CDTLS_ERR_SIGNATURE: return "signature verification failed";
    case CDTLS_ERR_BAD_KEY: return "invalid key or public value";
    case CDTLS_ERR_RANDOM: return "random number generator failed";
    case CDTLS_ERR_CRYPTO: return "crypto backend failure";
    case CDTLS_ERR_LENGTH: return "input length not valid for the algorithm";
    case CDTLS_ERR_DECODE: return "malformed message from peer";
    case CDTLS_ERR_RECORD_TOO_LARGE: return "data too large for one record";
    case CDTLS_ERR_REPLAY: return "replayed record";
    case CDTLS_ERR_BAD_EPOCH: return "record from an unknown epoch";
    case CDTLS_ERR_HANDSHAKE_FAILURE: return "handshake failure (no common parameters)";
    case CDTLS_ERR_HANDSHAKE_TIMEOUT: return "handshake timed out";
    case CDTLS_ERR_BAD_FINISHED: return "Finished message did not verify";
    case CDTLS_ERR_UNKNOWN_PSK: return "unknown PSK identity";
    case CDTLS_ERR_BAD_COOKIE: return "cookie did not verify";
    case CDTLS_ERR_UNEXPECTED_MESSAGE: return "unexpected message";
    case CDTLS_ERR_PEER_ALERT: return "peer sent a fatal alert";
    case CDTLS_ERR_CLOSED: return "connection closed";
    case CDTLS_ERR_ILLEGAL_PARAMETER: return "illegal parameter from peer";
    case CDTLS_ERR_PROTOCOL_VERSION: return "unsupported protocol version";
    case CDTLS_ERR_RENEGOTIATION: return "renegotiation refused";
    case CDTLS_ERR_EMS_REQUIRED: return "extended master secret required but not offered";
    case CDTLS_ERR_FAILED: return "connection has failed";
    case CDTLS_ERR_NO_APPLICATION_PROTOCOL: return "no application protocol (ALPN) in common";
    case CDTLS_ERR_PEER_RESTARTED: return "the peer started a new connection from the same address";
    case CDTLS_ERR_IDLE: return "the peer was idle longer than the idle timeout";
    case CDTLS_ERR_DER: return "malformed DER";
    case CDTLS_ERR_PEM: return "malformed PEM";
    case CDTLS_ERR_CERT_EXPIRED: return "certificate expired";
    case CDTLS_ERR_CERT_NOT_YET_VALID: return "certificate not yet valid";
    case CDTLS_ERR_CERT_UNTRUSTED: return "certificate chain not trusted";
    case CDTLS_ERR_CERT_SIGNATURE: return "certificate signature invalid";
    case CDTLS_ERR_CERT_HOSTNAME: return "certificate does not match host name";
    case CDTLS_ERR_CERT_NOT_CA: return "issuer certificate is not a CA";
    case CDTLS_ERR_CERT_PATHLEN: return "certificate path length exceeded";
    case CDTLS_ERR_CERT_USAGE: return "certificate key usage does not allow this";
    case CDTLS_ERR_CERT_REJECTED: return "certificate rejected by application policy";
    case CDTLS_ERR_IO: return "socket I/O error";
    case CDTLS_ERR_TIMEOUT: return "timed out";
    case CDTLS_ERR_OOB_UNSUPPORTED: return "out-of-band data item not supported on this platform";
    case CDTLS_ERR_UNREACHABLE: return "destination unreachable";
    case CDTLS_ERR_MSG_SIZE: return "datagram larger than the path MTU";
    }
    return "unknown error";
}
