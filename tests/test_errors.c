/* cdtls_strerror: a distinct message for every code in cdtls_err. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/error.h"

Test(errors, every_code_has_its_own_message)
{
    static const int codes[] = {CDTLS_OK,
                                CDTLS_ERR_INVALID_ARG,
                                CDTLS_ERR_NOMEM,
                                CDTLS_ERR_UNSUPPORTED,
                                CDTLS_ERR_BUFFER_TOO_SMALL,
                                CDTLS_ERR_BAD_STATE,
                                CDTLS_ERR_WOULD_BLOCK,
                                CDTLS_ERR_LIMIT,
                                CDTLS_ERR_INTERNAL,
                                CDTLS_ERR_KEY_SIZE,
                                CDTLS_ERR_NONCE_SIZE,
                                CDTLS_ERR_AUTH,
                                CDTLS_ERR_SIGNATURE,
                                CDTLS_ERR_BAD_KEY,
                                CDTLS_ERR_RANDOM,
                                CDTLS_ERR_CRYPTO,
                                CDTLS_ERR_LENGTH,
                                CDTLS_ERR_DECODE,
                                CDTLS_ERR_RECORD_TOO_LARGE,
                                CDTLS_ERR_REPLAY,
                                CDTLS_ERR_BAD_EPOCH,
                                CDTLS_ERR_HANDSHAKE_FAILURE,
                                CDTLS_ERR_HANDSHAKE_TIMEOUT,
                                CDTLS_ERR_BAD_FINISHED,
                                CDTLS_ERR_UNKNOWN_PSK,
                                CDTLS_ERR_BAD_COOKIE,
                                CDTLS_ERR_UNEXPECTED_MESSAGE,
                                CDTLS_ERR_PEER_ALERT,
                                CDTLS_ERR_CLOSED,
                                CDTLS_ERR_ILLEGAL_PARAMETER,
                                CDTLS_ERR_PROTOCOL_VERSION,
                                CDTLS_ERR_RENEGOTIATION,
                                CDTLS_ERR_EMS_REQUIRED,
                                CDTLS_ERR_FAILED,
                                CDTLS_ERR_PEER_RESTARTED,
                                CDTLS_ERR_IDLE,
                                CDTLS_ERR_DER,
                                CDTLS_ERR_PEM,
                                CDTLS_ERR_CERT_EXPIRED,
                                CDTLS_ERR_CERT_NOT_YET_VALID,
                                CDTLS_ERR_CERT_UNTRUSTED,
                                CDTLS_ERR_CERT_SIGNATURE,
                                CDTLS_ERR_CERT_HOSTNAME,
                                CDTLS_ERR_CERT_NOT_CA,
                                CDTLS_ERR_CERT_PATHLEN,
                                CDTLS_ERR_CERT_USAGE,
                                CDTLS_ERR_CERT_REJECTED,
                                CDTLS_ERR_IO,
                                CDTLS_ERR_TIMEOUT,
                                CDTLS_ERR_OOB_UNSUPPORTED,
                                CDTLS_ERR_UNREACHABLE,
                                CDTLS_ERR_MSG_SIZE};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *m = cdtls_strerror(codes[i]);
        cr_assert_not_null(m);
        cr_assert_str_neq(m, "unknown error", "code %d has no message", codes[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(m, cdtls_strerror(codes[j]), "codes %d and %d share a message", codes[i],
                              codes[j]);
    }
    cr_assert_str_eq(cdtls_strerror(12345), "unknown error");
    cr_assert_str_eq(cdtls_strerror(-999), "unknown error");
}
