/* DTLS-SRTP (RFC 5764): the protection profiles cdtls negotiates with the
 * use_srtp extension (cdtls_config.srtp.profiles) and the SRTP master keys
 * and salts it derives for them, which an SRTP stack (libsrtp, pion/srtp)
 * takes. */
#ifndef CDTLS_SRTP_H
#define CDTLS_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/conn.h"
#include "cdtls/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SRTPProtectionProfile values (IANA "DTLS-SRTP Protection Profiles"). */
#define CDTLS_SRTP_AES128_CM_HMAC_SHA1_80 0x0001u /* RFC 5764 §4.1.2 */
#define CDTLS_SRTP_AES128_CM_HMAC_SHA1_32 0x0002u
#define CDTLS_SRTP_NULL_HMAC_SHA1_80 0x0005u
#define CDTLS_SRTP_NULL_HMAC_SHA1_32 0x0006u
#define CDTLS_SRTP_AEAD_AES_128_GCM 0x0007u /* RFC 7714 §14.2 */
#define CDTLS_SRTP_AEAD_AES_256_GCM 0x0008u

#define CDTLS_SRTP_MAX_KEY_LEN 32u
#define CDTLS_SRTP_MAX_SALT_LEN 14u

/* Master key and salt lengths of a profile (RFC 5764 §4.1.2, RFC 7714
 * §12): CDTLS_OK, or CDTLS_ERR_UNSUPPORTED for a profile cdtls does not know. */
CDTLS_API int cdtls_srtp_profile_lengths(uint16_t profile, size_t *key_len, size_t *salt_len);
/* A profile's name ("SRTP_AES128_CM_HMAC_SHA1_80", ...), or NULL. */
CDTLS_API const char *cdtls_srtp_profile_name(uint16_t profile);

/* The profile agreed by use_srtp, 0 if none; and the MKI (borrowed). */
CDTLS_API uint16_t cdtls_conn_srtp_profile(const cdtls_conn *c);
CDTLS_API const uint8_t *cdtls_conn_srtp_mki(const cdtls_conn *c, size_t *len);

typedef struct cdtls_srtp_keys {
    uint16_t profile;
    size_t key_len, salt_len;
    uint8_t client_key[CDTLS_SRTP_MAX_KEY_LEN];
    uint8_t server_key[CDTLS_SRTP_MAX_KEY_LEN];
    uint8_t client_salt[CDTLS_SRTP_MAX_SALT_LEN];
    uint8_t server_salt[CDTLS_SRTP_MAX_SALT_LEN];
} cdtls_srtp_keys;

/* RFC 5764 §4.2: 2 * (key_len + salt_len) bytes exported with the label
 * "EXTRACTOR-dtls_srtp" and no context, split into client key, server key,
 * client salt, server salt. The client protects what it sends with the
 * client key and salt. CDTLS_ERR_BAD_STATE before the handshake completes
 * or without a negotiated profile. Wipe *out when done. */
CDTLS_API int cdtls_conn_srtp_keys(const cdtls_conn *c, cdtls_srtp_keys *out);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_SRTP_H */
