/* Cipher suite parameters: what the key schedule and the record layer need
 * to know about a negotiated suite. */
#ifndef CDTLS_HANDSHAKE_SUITES_H
#define CDTLS_HANDSHAKE_SUITES_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"
#include "cdtls/suites.h"

typedef enum suite_kx {
    KX_PSK,         /* RFC 4279 §2 */
    KX_ECDHE_PSK,   /* RFC 5489 */
    KX_ECDHE_ECDSA, /* RFC 8422 */
    KX_ECDHE_RSA    /* RFC 8422 */
} suite_kx;

typedef enum suite_cipher_kind { SUITE_AEAD, SUITE_CBC } suite_cipher_kind;

typedef struct suite_info {
    uint16_t id;
    const char *name;
    suite_kx kx;
    suite_cipher_kind kind;
    cdtls_aead_alg aead;  /* SUITE_AEAD */
    cdtls_cbc_alg cbc;    /* SUITE_CBC */
    cdtls_hash_alg mac;   /* SUITE_CBC: HMAC hash */
    cdtls_hash_alg prf;   /* PRF and transcript hash */
    uint8_t key_len;      /* enc key */
    uint8_t fixed_iv_len; /* 4 (GCM, CCM), 12 (ChaCha20-Poly1305), 0 (CBC) */
    uint8_t mac_key_len;  /* CBC only */
} suite_info;

const suite_info *suite_find(uint16_t id);
/* 1 if the provider has everything the suite needs and the engine
 * implements its key exchange. */
int suite_usable(const cdtls_provider *p, const suite_info *s);
int suite_uses_ecdhe(const suite_info *s);
int suite_uses_psk(const suite_info *s);

#endif
