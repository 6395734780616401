/* Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1):
 *   cookie = HMAC-SHA256(secret, client address, ClientHello parameters)
 * with a secret that rotates; a cookie made under the previous secret is
 * still accepted, so a client that got its cookie just before a rotation
 * is not turned away. Verification allocates nothing, so a server can run
 * it before it keeps any state for the client. */
#ifndef CDTLS_HANDSHAKE_COOKIE_H
#define CDTLS_HANDSHAKE_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"

#define COOKIE_LEN 32u
#define COOKIE_SECRET_LEN 32u

typedef struct cookie_keys {
    uint8_t current[COOKIE_SECRET_LEN];
    uint8_t previous[COOKIE_SECRET_LEN];
    int has_previous;
    uint64_t rotated_at_ms;
    uint32_t rotate_ms;
} cookie_keys;

/* A piece of ClientHello (or the address) to bind into the cookie. */
typedef struct cookie_part {
    const uint8_t *p;
    size_t len;
} cookie_part;

int cookie_keys_init(cookie_keys *k, const cdtls_provider *p, uint32_t rotate_ms, uint64_t now_ms);
/* Rotates the secret if rotate_ms has passed since the last rotation. */
int cookie_keys_tick(cookie_keys *k, const cdtls_provider *p, uint64_t now_ms);
void cookie_keys_wipe(cookie_keys *k);

/* Cookie over the parts (each length-prefixed, so boundaries can't shift). */
int cookie_make(const cdtls_provider *p, const cookie_keys *k, const cookie_part *parts, size_t n_parts,
                uint8_t out[COOKIE_LEN]);
/* CDTLS_OK if cookie matches under the current or previous secret
 * (constant-time compare), CDTLS_ERR_BAD_COOKIE otherwise. */
int cookie_verify(const cdtls_provider *p, const cookie_keys *k, const cookie_part *parts, size_t n_parts,
                  const uint8_t *cookie, size_t cookie_len);

#endif
