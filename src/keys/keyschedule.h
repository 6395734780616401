/* The DTLS 1.2 key schedule (RFC 5246 §8.1, §6.3, §7.4.9; RFC 7627; RFC
 * 4279 §2; RFC 5489 §2), on top of the core PRF. */
#ifndef CDTLS_KEYS_KEYSCHEDULE_H
#define CDTLS_KEYS_KEYSCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"

#define KS_MASTER_LEN 48u
#define KS_RANDOM_LEN 32u
#define KS_VERIFY_DATA_LEN 12u
#define KS_MAX_KEY 32u
#define KS_MAX_IV 12u
#define KS_MAX_MAC_KEY 64u
/* other_secret (ECDH x-coordinate, at most 48) + PSK, each with a 2-byte length */
#define KS_MAX_PREMASTER (2u + CDTLS_KX_MAX_SHARED + 2u + 256u)

/* One direction's keys from the key block. */
typedef struct ks_dir_keys {
    uint8_t mac_key[KS_MAX_MAC_KEY];
    uint8_t key[KS_MAX_KEY];
    uint8_t iv[KS_MAX_IV];
} ks_dir_keys;

typedef struct ks_keys {
    ks_dir_keys client_write, server_write;
    size_t mac_key_len, key_len, iv_len;
} ks_keys;

/* PSK premaster secret: struct { opaque other_secret<0..2^16-1>;
 * opaque psk<0..2^16-1>; }. other == NULL means plain PSK, where
 * other_secret is psk_len zero bytes (RFC 4279 §2); for ECDHE-PSK it is the
 * ECDH shared secret (RFC 5489 §2). */
int ks_psk_premaster(const uint8_t *other, size_t other_len, const uint8_t *psk, size_t psk_len, uint8_t *out,
                     size_t cap, size_t *out_len);

/* master_secret = PRF(pms, "master secret", client_random + server_random)[0..47] */
int ks_master_secret(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *pms, size_t pms_len,
                     const uint8_t *client_random, const uint8_t *server_random, uint8_t *master);

/* RFC 7627 §4: PRF(pms, "extended master secret", session_hash)[0..47],
 * session_hash = Hash(handshake messages through ClientKeyExchange). */
int ks_extended_master_secret(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *pms, size_t pms_len,
                              const uint8_t *session_hash, size_t hash_len, uint8_t *master);

/* key_block = PRF(master, "key expansion", server_random + client_random),
 * cut as RFC 5246 §6.3: client MAC, server MAC, client key, server key,
 * client IV, server IV. */
int ks_key_block(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *master,
                 const uint8_t *client_random, const uint8_t *server_random, size_t mac_key_len,
                 size_t key_len, size_t iv_len, ks_keys *out);

/* verify_data = PRF(master, "client finished" | "server finished",
 * Hash(handshake_messages))[0..11] (RFC 5246 §7.4.9). */
int ks_finished(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *master, int from_server,
                const uint8_t *transcript_hash, size_t hash_len, uint8_t *verify_data);

#endif
