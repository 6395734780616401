/* The (D)TLS 1.3 key schedule (RFC 8446 §7, RFC 9147 §5.9), built on the
 * provider's HMAC like the 1.2 PRF (keys/prf.c): HKDF (RFC 5869),
 * HKDF-Expand-Label with a label prefix ("tls13 " for TLS 1.3, "dtls13" for
 * DTLS 1.3), Derive-Secret over a transcript hash the caller computed, the
 * chain of secrets, traffic keys, Finished, exporters and resumption.
 *
 * Nothing here keeps a transcript: callers pass Hash(messages) (for DTLS 1.3
 * computed over TLS-style 4-byte handshake headers, RFC 9147 §5.2). Every
 * intermediate value is wiped before a function returns; a tls13_schedule
 * holds the current stage's secret until tls13_schedule_wipe. */
#ifndef CDTLS_KEYS_TLS13_SCHEDULE_H
#define CDTLS_KEYS_TLS13_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/provider.h"

#define TLS13_LABEL_PREFIX "tls13 "  /* RFC 8446 §7.1 */
#define DTLS13_LABEL_PREFIX "dtls13" /* RFC 9147 §5.9 */

#define TLS13_MAX_HASH CDTLS_HASH_MAX_DIGEST
#define TLS13_MAX_KEY 32u
#define TLS13_IV_LEN 12u /* every 1.3 AEAD: a 96-bit nonce (RFC 8446 §5.3) */
/* HkdfLabel.label is opaque<7..255> (prefix + label); context <0..255> */
#define TLS13_MAX_LABEL 255u
#define TLS13_MAX_CONTEXT 255u

/* HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) (RFC 5869 §2.2); writes
 * the hash length. salt_len 0 means HashLen zero bytes (the same HMAC key),
 * ikm_len 0 likewise for the "0" of RFC 8446 §7.1. */
int tls13_hkdf_extract(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *salt, size_t salt_len,
                       const uint8_t *ikm, size_t ikm_len, uint8_t *prk);

/* HKDF-Expand(PRK, info, L) (RFC 5869 §2.3); L <= 255 * HashLen. */
int tls13_hkdf_expand(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *prk, size_t prk_len,
                      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1): info
 * is HkdfLabel { uint16 length; opaque label<7..255> = prefix + label;
 * opaque context<0..255>; }. The secret is HashLen bytes. */
int tls13_expand_label(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                       const uint8_t *secret, const char *label, const uint8_t *context, size_t context_len,
                       uint8_t *out, size_t out_len);

/* Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label,
 * Transcript-Hash(Messages), Hash.length), given the transcript hash. */
int tls13_derive_secret(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                        const uint8_t *secret, const char *label, const uint8_t *transcript_hash,
                        uint8_t *out);

/* Hash(data) through the provider (Hash("") is the transcript of no
 * messages, for "derived" and the exporters). */
int tls13_hash(const cdtls_provider *p, cdtls_hash_alg hash, const uint8_t *data, size_t len, uint8_t *out);

/* ------------------------------------------------------- the chain (§7.1)
 *
 *   PSK (or 0) -> HKDF-Extract = Early Secret
 *        +-> binder keys, client_early_traffic_secret, early_exporter_master_secret
 *   Derive-Secret(., "derived", "") as salt, (EC)DHE (or 0) as IKM
 *        -> Handshake Secret -> {client,server}_handshake_traffic_secret
 *   Derive-Secret(., "derived", "") as salt, 0 as IKM
 *        -> Master Secret -> {client,server}_application_traffic_secret_0,
 *           exporter_master_secret, resumption_master_secret
 */
typedef enum tls13_stage {
    TLS13_STAGE_NONE = 0,
    TLS13_STAGE_EARLY,
    TLS13_STAGE_HANDSHAKE,
    TLS13_STAGE_MASTER
} tls13_stage;

typedef struct tls13_schedule {
    const cdtls_provider *p;
    cdtls_hash_alg hash;
    size_t hash_len;
    const char *prefix; /* TLS13_LABEL_PREFIX or DTLS13_LABEL_PREFIX (not copied) */
    tls13_stage stage;
    uint8_t secret[TLS13_MAX_HASH]; /* the current stage's secret */
} tls13_schedule;

/* CDTLS_ERR_UNSUPPORTED when the provider lacks the hash or its HMAC. */
int tls13_schedule_init(tls13_schedule *ks, const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix);
void tls13_schedule_wipe(tls13_schedule *ks);

/* Early Secret = HKDF-Extract(0, PSK); psk NULL/0: no PSK (HashLen zeros). */
int tls13_schedule_early(tls13_schedule *ks, const uint8_t *psk, size_t psk_len);
/* binder_key: "ext binder" (external PSK) or "res binder" (resumption),
 * over Hash("") (RFC 8446 §7.1, §4.2.11.2). Needs the early stage. */
int tls13_binder_key(const tls13_schedule *ks, int external, uint8_t *out);
/* client_early_traffic_secret ("c e traffic") and
 * early_exporter_master_secret ("e exp master"), over Hash(ClientHello). */
int tls13_early_traffic_secret(const tls13_schedule *ks, const uint8_t *ch_hash, uint8_t *out);
int tls13_early_exporter_master(const tls13_schedule *ks, const uint8_t *ch_hash, uint8_t *out);

/* Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""),
 * (EC)DHE); shared NULL/0: a PSK-only handshake (HashLen zeros). */
int tls13_schedule_handshake(tls13_schedule *ks, const uint8_t *shared, size_t shared_len);
/* "c hs traffic" / "s hs traffic" over Hash(ClientHello..ServerHello). */
int tls13_handshake_traffic_secrets(const tls13_schedule *ks, const uint8_t *ch_sh_hash, uint8_t *client,
                                    uint8_t *server);

/* Master Secret = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0). */
int tls13_schedule_master(tls13_schedule *ks);
/* "c ap traffic" / "s ap traffic" over Hash(ClientHello..server Finished). */
int tls13_application_traffic_secrets(const tls13_schedule *ks, const uint8_t *ch_sf_hash, uint8_t *client,
                                      uint8_t *server);
/* exporter_master_secret ("exp master"), over Hash(ClientHello..server Finished). */
int tls13_exporter_master(const tls13_schedule *ks, const uint8_t *ch_sf_hash, uint8_t *out);
/* resumption_master_secret ("res master"), over Hash(ClientHello..client Finished). */
int tls13_resumption_master(const tls13_schedule *ks, const uint8_t *ch_cf_hash, uint8_t *out);

/* ------------------------------------------------- from a traffic secret */

/* The record protection keys of one direction and epoch: write key and iv
 * (RFC 8446 §7.3) and the record-number encryption key "sn" (RFC 9147
 * §4.2.3, key_length bytes like the write key). */
typedef struct tls13_traffic_keys {
    uint8_t key[TLS13_MAX_KEY];
    uint8_t iv[TLS13_IV_LEN];
    uint8_t sn_key[TLS13_MAX_KEY];
    size_t key_len;
} tls13_traffic_keys;

int tls13_traffic_keys_derive(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                              const uint8_t *traffic_secret, size_t key_len, tls13_traffic_keys *out);

/* application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N,
 * "traffic upd", "", Hash.length) (RFC 8446 §7.2). out may equal secret. */
int tls13_next_traffic_secret(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                              const uint8_t *secret, uint8_t *out);

/* Finished (RFC 8446 §4.4.4): finished_key = HKDF-Expand-Label(base_key,
 * "finished", "", Hash.length); verify_data = HMAC(finished_key,
 * transcript_hash). The same computes a PSK binder (§4.2.11.2) with the
 * binder key as base_key and Hash(truncated ClientHello). */
int tls13_finished_key(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                       const uint8_t *base_key, uint8_t *out);
int tls13_verify_data(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                      const uint8_t *base_key, const uint8_t *transcript_hash, uint8_t *out);
/* Recomputes verify_data and compares in constant time: CDTLS_OK, or
 * CDTLS_ERR_BAD_FINISHED (also for a received length other than HashLen). */
int tls13_verify_data_check(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                            const uint8_t *base_key, const uint8_t *transcript_hash, const uint8_t *received,
                            size_t received_len);

/* TLS-Exporter(label, context_value, key_length) (RFC 8446 §7.5) =
 * HKDF-Expand-Label(Derive-Secret(exporter_master, label, ""), "exporter",
 * Hash(context_value), key_length). A NULL context and an empty one are the
 * same in 1.3. label_len + prefix length <= 255. */
int tls13_export(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                 const uint8_t *exporter_master, const uint8_t *label, size_t label_len,
                 const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len);

/* The PSK of a ticket (RFC 8446 §4.6.1): HKDF-Expand-Label(
 * resumption_master_secret, "resumption", ticket_nonce, Hash.length). */
int tls13_resumption_psk(const cdtls_provider *p, cdtls_hash_alg hash, const char *prefix,
                         const uint8_t *resumption_master, const uint8_t *nonce, size_t nonce_len,
                         uint8_t *out);

#endif
