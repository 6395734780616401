/*
 * cdtls — connection configuration.
 *
 * A cdtls_config is a plain struct: call cdtls_config_init() to fill in the
 * defaults, then change what you need. The engine copies what it needs at
 * cdtls_conn_new(), except the buffers noted as borrowed, which must outlive
 * every connection made from the config.
 */
#ifndef CDTLS_CONFIG_H
#define CDTLS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "cdtls/export.h"
#include "cdtls/oob.h"
#include "cdtls/provider.h"
#include "cdtls/x509.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Extended master secret (RFC 7627) policy. */
typedef enum cdtls_ems_policy {
    CDTLS_EMS_REQUEST = 0, /* default: offer/accept it; fall back if the peer lacks it */
    CDTLS_EMS_REQUIRE,     /* fail the handshake if the peer does not use it */
    CDTLS_EMS_DISABLE      /* never use it (only for testing against old peers) */
} cdtls_ems_policy;

/* Server-side PSK lookup (RFC 4279 §5): given the identity the client sent,
 * write its key into psk (capacity psk_cap) and its length into *psk_len.
 * Return CDTLS_OK, or CDTLS_ERR_UNKNOWN_PSK for an unknown identity (the
 * server then answers with the unknown_psk_identity alert). On a client it
 * receives the server's identity hint and must also fill identity (capacity
 * identity_cap, *identity_len); on a server identity is NULL. */
/* Server: client certificate authentication (as pion's ClientAuthType). A
 * given certificate always has to prove possession of its key
 * (CertificateVerify); "verify" means checking the chain against
 * trust_anchors as well. */
typedef enum cdtls_client_auth {
    CDTLS_CLIENT_AUTH_NONE = 0,        /* no CertificateRequest */
    CDTLS_CLIENT_AUTH_REQUEST,         /* ask; accept none; do not check a given chain */
    CDTLS_CLIENT_AUTH_REQUIRE_ANY,     /* require one; do not check its chain */
    CDTLS_CLIENT_AUTH_VERIFY_IF_GIVEN, /* accept none; check a given chain */
    CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY
} cdtls_client_auth;

typedef int (*cdtls_psk_callback)(void *ctx, const uint8_t *hint_or_identity, size_t len, uint8_t *identity,
                                  size_t identity_cap, size_t *identity_len, uint8_t *psk, size_t psk_cap,
                                  size_t *psk_len);

/* The peer's certificate chain was checked as configured (default_result is
 * CDTLS_OK or the validation error); return CDTLS_OK to accept or an error to
 * reject (like pion's VerifyPeerCertificate). chain[0] is the peer's leaf. */
typedef int (*cdtls_verify_callback)(void *ctx, const cdtls_x509_cert *chain, size_t n, int default_result);
/* Server: choose the certificate for the name the client asked for (SNI,
 * RFC 6066 §3; server_name is NUL-terminated, NULL when the client sent
 * none). Set *chain, *lens, *n and *key (borrowed; they must outlive the
 * connection) and return CDTLS_OK, or return CDTLS_ERR_UNSUPPORTED to keep
 * the configured certificate, or another error to refuse the handshake
 * (the client gets an unrecognized_name alert). */
typedef int (*cdtls_cert_select_callback)(void *ctx, const char *server_name, const uint8_t *const **chain,
                                          const size_t **lens, size_t *n, const cdtls_sign_key **key);
/* Seconds since 1970 (UTC): the engine reads no clock, so certificate
 * validity is checked at the time this returns. */
typedef int64_t (*cdtls_unix_time_callback)(void *ctx);

/* Server: choose the application protocol (ALPN, RFC 7301) from the
 * client's list: offered[i] (offered_len[i] bytes, not NUL-terminated),
 * in the client's order, at most CDTLS_MAX_ALPN_OFFERED of them. Set
 * *chosen to an index and return CDTLS_OK; return CDTLS_ERR_UNSUPPORTED to
 * go on without ALPN; any other error refuses the handshake with a
 * no_application_protocol alert. */
typedef int (*cdtls_alpn_select_callback)(void *ctx, const uint8_t *const *offered, const size_t *offered_len,
                                          size_t n, size_t *chosen);
/* NSS key log line "CLIENT_RANDOM <64 hex> <96 hex>" (no newline). */
typedef void (*cdtls_keylog_callback)(void *ctx, const char *line);

/* Connection ID (RFC 9146): writes the CID this side wants its peer to put
 * on the records it sends (0..cap bytes; cap is CDTLS_MAX_CID_LEN) and
 * returns CDTLS_OK. Called once per connection. A server behind a
 * cdtls_listener should return CIDs of one fixed length that are unique
 * among its connections (the listener routes by them). */
typedef int (*cdtls_cid_generator)(void *ctx, uint8_t *cid, size_t cap, size_t *len);
/* Padding for each tls12_cid record (RFC 9146 §4), given the content
 * length: how many zero bytes to add (the record still fits the MTU and
 * 2^14; more is cut to that). */
typedef size_t (*cdtls_cid_padding)(void *ctx, size_t content_len);

/* Raw public keys (RFC 7250): judges the peer's SubjectPublicKeyInfo (DER)
 * when no pin matched it (default_result CDTLS_ERR_CERT_UNTRUSTED) or after
 * one did (CDTLS_OK); return CDTLS_OK to accept. */
typedef int (*cdtls_rpk_verify_callback)(void *ctx, const uint8_t *spki, size_t spki_len, int default_result);

#define CDTLS_MAX_PSK_LEN 256u
#define CDTLS_MAX_PSK_IDENTITY_LEN 256u
/* The longest session ticket a client keeps (RFC 5077 allows 2^16-1; ours
 * are 96 bytes plus the PSK identity, OpenSSL's and GnuTLS's a few hundred).
 * A longer one is not kept: that session is then not resumed. */
#define CDTLS_MAX_TICKET_LEN 1024u

/* A resumable session (RFC 5246 §7.3 abbreviated handshake): what a
 * session store keeps. Secret: a store must protect and wipe it. */
typedef struct cdtls_session {
    uint8_t id[32];
    size_t id_len; /* 0 for a ticket-only session (RFC 5077) */
    uint16_t cipher_suite;
    uint8_t master_secret[48];
    uint8_t ems;         /* the session was made with the extended master secret */
    uint64_t created_ms; /* the engine's clock when it was made */
    /* PSK suites: the identity the session was authenticated with, so that
     * a resumed connection reports it (cdtls_conn_psk_identity) */
    uint8_t psk_identity[CDTLS_MAX_PSK_IDENTITY_LEN];
    size_t psk_identity_len;
    /* ...and a SHA-256 binding of that PSK to the master secret: a session
     * is not resumed once its identity is unknown or its key has changed
     * (revoking a PSK revokes its sessions) */
    uint8_t psk_binder[32];
    /* server: SHA-256 of the host name the client asked for (RFC 6066 §3:
     * a session is not resumed under another name) */
    uint8_t server_name_hash[32];
    /* client: the server's ticket (RFC 5077 §3.3), offered on resumption */
    uint8_t ticket[CDTLS_MAX_TICKET_LEN];
    size_t ticket_len;
    uint32_t ticket_lifetime_s; /* the server's hint; 0 = none given */
} cdtls_session;

/* Session ticket keys (RFC 5077 §4), a server's: tickets are sealed with
 * the current key and opened with any key still kept, so rotation never
 * invalidates a ticket before its time. Caller-owned, shared by every
 * connection of a server (borrowed by the config, and changed by the
 * engine when it rotates: one event loop, or lock around it). A cluster
 * that shares tickets installs the same keys everywhere with
 * cdtls_ticket_keys_add instead of rotating automatically.
 * Ticket: key_name(16) || nonce(12) || AEAD(state) || tag(16), the name and
 * nonce as additional data; ChaCha20-Poly1305, else AES-256-GCM. */
#define CDTLS_TICKET_KEY_NAME_LEN 16u
#define CDTLS_TICKET_KEYS 3u
typedef struct cdtls_ticket_key {
    uint8_t name[CDTLS_TICKET_KEY_NAME_LEN];
    uint8_t key[32];
    uint64_t created_ms;
    int used;
} cdtls_ticket_key;
typedef struct cdtls_ticket_keys {
    cdtls_ticket_key keys[CDTLS_TICKET_KEYS]; /* [0] seals; all open */
    uint32_t rotate_ms;                       /* 0 = never on its own */
    const cdtls_provider *provider;
    uint64_t sealed, opened, refused; /* counters, for monitoring */
} cdtls_ticket_keys;
/* A first random key, made at now_ms; a new one replaces it every
 * rotate_ms (the oldest kept key is then forgotten, so a ticket lives at
 * least (CDTLS_TICKET_KEYS - 1) * rotate_ms: keep session_lifetime_ms
 * within that). provider NULL = cdtls_provider_default(). */
CDTLS_API int cdtls_ticket_keys_init(cdtls_ticket_keys *k, const cdtls_provider *provider, uint32_t rotate_ms,
                                     uint64_t now_ms);
/* Installs a key made elsewhere as the current one; the others shift. */
CDTLS_API int cdtls_ticket_keys_add(cdtls_ticket_keys *k, const uint8_t name[CDTLS_TICKET_KEY_NAME_LEN],
                                    const uint8_t key[32], uint64_t now_ms);
/* Wipes every key. */
CDTLS_API void cdtls_ticket_keys_wipe(cdtls_ticket_keys *k);

/* Pluggable session storage (like pion's SessionStore). A client looks its
 * session up by the server's name (cfg.server_name) or, without one, by the
 * address given to cdtls_conn_set_peer_address; a server by session ID.
 * get: CDTLS_OK and *out filled, or CDTLS_ERR_UNSUPPORTED when unknown.
 * put and del may fail silently (resumption is an optimisation).
 * cdtls_session_cache (below) is a ready in-memory one. */
typedef struct cdtls_session_store {
    int (*put)(void *ctx, const uint8_t *key, size_t key_len, const cdtls_session *s);
    int (*get)(void *ctx, const uint8_t *key, size_t key_len, cdtls_session *out);
    void (*del)(void *ctx, const uint8_t *key, size_t key_len);
    void *ctx;
} cdtls_session_store;

/* A fixed-size in-memory session store in caller-owned memory: n entries,
 * the oldest replaced when full; entries are wiped when replaced or
 * deleted. Not thread-safe (one per event loop, or lock around it). */
#define CDTLS_SESSION_KEY_MAX 256u
typedef struct cdtls_session_cache_entry {
    uint8_t key[CDTLS_SESSION_KEY_MAX];
    size_t key_len;
    cdtls_session session;
    uint64_t stamp;
    int used;
} cdtls_session_cache_entry;
typedef struct cdtls_session_cache {
    cdtls_session_cache_entry *entries;
    size_t n;
    uint64_t clock;
    cdtls_session_store store; /* points back at this cache */
} cdtls_session_cache;
/* Returns the store to put in cdtls_config.session_store. */
CDTLS_API const cdtls_session_store *cdtls_session_cache_init(cdtls_session_cache *cache,
                                                              cdtls_session_cache_entry *entries, size_t n);
CDTLS_API void cdtls_session_cache_clear(cdtls_session_cache *cache);

#define CDTLS_MAX_CID_LEN 255u

/* A ready cdtls_cid_generator: random CIDs of a fixed length from the
 * provider's random source (like pion's RandomCIDGenerator). Use it with
 * cid_generator_ctx pointing at a cdtls_cid_random that outlives the
 * connections. 8 bytes make collisions among a server's connections
 * negligible (2^-64 per pair). */
typedef struct cdtls_cid_random {
    const cdtls_provider *provider; /* NULL = cdtls_provider_default() */
    size_t len;                     /* 1..CDTLS_MAX_CID_LEN */
} cdtls_cid_random;
CDTLS_API int cdtls_cid_random_generator(void *ctx, uint8_t *cid, size_t cap, size_t *len);
#define CDTLS_MAX_ALPN_OFFERED 32u
#define CDTLS_MAX_ALPN_LIST 1024u /* encoded ProtocolNameList we offer */
#define CDTLS_MAX_SRTP_PROFILES 16u

typedef struct cdtls_config {
    /* Crypto provider; NULL = cdtls_provider_default(). Borrowed. */
    const cdtls_provider *provider;
    /* Allocator for every connection made from this config; NULL = libc. Borrowed. */
    const cdtls_allocator *allocator;

    /* Cipher suites in preference order (IANA values). NULL = every suite
     * this build and provider can negotiate, in cdtls's default order (AEAD
     * before CBC, see cdtls_default_cipher_suites()). Borrowed. */
    const uint16_t *cipher_suites;
    size_t n_cipher_suites;
    /* ECDHE groups in preference order (IANA NamedGroup). NULL = all the
     * provider has: X25519, P-256, P-384. Borrowed. */
    const uint16_t *groups;
    size_t n_groups;

    /* PSK (RFC 4279). Client: the identity and key it uses. Server: a single
     * (identity, key) pair accepted when psk_callback is NULL. Borrowed. */
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_identity;
    size_t psk_identity_len;
    /* Server: identity hint sent in ServerKeyExchange (may be empty). Borrowed. */
    const uint8_t *psk_identity_hint;
    size_t psk_identity_hint_len;
    /* Server: PSK lookup by identity; client: PSK choice by hint. Optional. */
    cdtls_psk_callback psk_callback;
    void *psk_callback_ctx;

    /* Certificates (ECDHE-ECDSA / ECDHE-RSA suites, Ed25519 per RFC 8422).
     * Our chain, leaf first, as DER, and the leaf's private key (see
     * cdtls_private_key_load). Borrowed. A server needs them for the
     * certificate suites; a client only for client authentication. */
    const uint8_t *const *cert_chain;
    const size_t *cert_chain_len;
    size_t n_certs;
    const cdtls_sign_key *private_key;
    /* Server: ask the client for a certificate (certificate suites only). */
    cdtls_client_auth client_auth;
    /* Server: certificate selection by SNI (optional). */
    cdtls_cert_select_callback select_certificate;
    void *select_certificate_ctx;
    /* Peer verification: trust anchors (borrowed parsed certificates), the
     * clock, and for a client the server's name (sent as SNI, RFC 6066, and
     * checked against the certificate, RFC 6125). A client with
     * certificate suites and no anchors fails the handshake unless
     * insecure_skip_verify (then the verify callback or pins decide). */
    const cdtls_x509_cert *trust_anchors;
    size_t n_trust_anchors;
    const char *server_name;
    cdtls_unix_time_callback unix_time;
    void *unix_time_ctx;
    int insecure_skip_verify;
    cdtls_verify_callback verify_peer;
    void *verify_peer_ctx;
    /* SHA-256 fingerprints (32 bytes each, back to back) the peer's leaf
     * must match one of (WebRTC-style pinning, RFC 8122). Borrowed. */
    const uint8_t *pinned_sha256;
    size_t n_pins;

    cdtls_ems_policy extended_master_secret; /* default CDTLS_EMS_REQUEST */
    /* Offer/accept encrypt_then_mac (RFC 7366) for CBC suites. Default 1. */
    int encrypt_then_mac;

    /* Largest datagram the engine emits, counting DTLS record and handshake
     * headers (not IP/UDP). Default 1200. Minimum 128. */
    size_t mtu;
    /* 0 (default): each connection keeps one record buffer per direction
     * (up to mtu bytes, wiped while unused) for the next record, so a
     * stream of records costs no allocation per record. 1: every buffer is
     * freed as soon as its record is sent or read (smallest idle memory,
     * as OpenSSL's SSL_MODE_RELEASE_BUFFERS). */
    int release_buffers;

    /* Retransmission (RFC 6347 §4.2.4.1): first timeout, doubling up to the
     * cap; the handshake fails with CDTLS_ERR_HANDSHAKE_TIMEOUT when it has
     * not completed handshake_timeout_ms after it began. Defaults 1000,
     * 60000, 60000 ms. */
    uint32_t retransmit_initial_ms;
    uint32_t retransmit_max_ms;
    uint32_t handshake_timeout_ms;

    /* Replay window size in records (RFC 6347 §4.1.2.6): a multiple of 64,
     * 64..1024. Default 64. 0 disables replay detection (not recommended). */
    unsigned replay_window;

    /* Handshake reassembly limits: largest single handshake message, and
     * all buffered fragments together. Defaults 64 KiB and 256 KiB. */
    size_t max_handshake_message;
    size_t max_handshake_buffer;
    /* Records of the next epoch that arrive before its keys exist (e.g.
     * Finished overtaking ChangeCipherSpec) are kept, up to this many.
     * Default 8. */
    unsigned max_early_records;

    /* Server: run the HelloVerifyRequest cookie exchange (RFC 6347 §4.2.1).
     * Default 1. A cdtls_server demux always runs it before creating a
     * connection and tells the connection it was done. */
    int cookie_exchange;
    /* Server: how often the cookie secret rotates; a cookie made with the
     * previous secret is still accepted. Default 30000 ms. */
    uint32_t cookie_rotate_ms;

    /* OOB marking for datagrams the engine makes on its own (handshake
     * flights and alerts): flags = 0 means unmarked. */
    cdtls_oob handshake_oob;
    cdtls_oob alert_oob;

    /* ALPN (RFC 7301). Client: the protocols to offer, in preference order.
     * Server: the protocols it speaks, in its preference order; the first
     * one the client also offers is chosen, and a client that offers ALPN
     * but none of them gets a no_application_protocol alert. Each name is
     * 1..255 bytes (NUL-terminated here); all encoded, at most
     * CDTLS_MAX_ALPN_LIST bytes. NULL/0 = no ALPN (a server then ignores the
     * client's list). Borrowed. cdtls_conn_alpn() tells the result. */
    const char *const *alpn_protocols;
    size_t n_alpn_protocols;
    /* Server: choose yourself instead (optional; the list is then unused). */
    cdtls_alpn_select_callback select_alpn;
    void *select_alpn_ctx;

    /* DTLS-SRTP (RFC 5764, RFC 7714): SRTP protection profiles
     * (CDTLS_SRTP_*, cdtls/srtp.h) in preference order, at most
     * CDTLS_MAX_SRTP_PROFILES. Client: offered with srtp_mki (0..255 bytes).
     * Server: its first profile the client offers is chosen and the
     * client's MKI echoed; with none in common the handshake goes on without
     * use_srtp (RFC 5764 §4.1.1). Borrowed. */
    const uint16_t *srtp_profiles;
    size_t n_srtp_profiles;
    const uint8_t *srtp_mki;
    size_t srtp_mki_len;

    /* NSS key log (Wireshark's "(Pre)-Master-Secret log"): called once per
     * handshake, when the master secret exists. It discloses the session's
     * keys: for debugging only. */
    cdtls_keylog_callback keylog;
    void *keylog_ctx;

    /* Connection ID (RFC 9146), AEAD suites only. With a generator this
     * side offers (client) or accepts (server) the connection_id
     * extension; the records of epoch 1 then carry the peer's CID in the
     * tls12_cid format, so the peer can find the session after our address
     * changed (NAT rebinding). NULL = no connection IDs. */
    cdtls_cid_generator cid_generator;
    void *cid_generator_ctx;
    cdtls_cid_padding cid_padding;
    void *cid_padding_ctx;

    /* Raw public keys (RFC 7250), for the certificate suites without
     * certificates (constrained devices; something pion lacks).
     * raw_public_key: our SubjectPublicKeyInfo (DER, e.g. from
     * cdtls_x509_spki_encode), sent instead of a certificate when the peer
     * accepts raw keys; private_key signs as with a certificate. A server
     * offers it through server_certificate_type; a client through
     * client_certificate_type when the server asks for client auth.
     * Accepting the peer's raw key: SHA-256 pins of its SPKI (32 bytes
     * each, back to back) and/or a callback; with either set we offer to
     * take raw keys. X.509 stays available when configured too. Borrowed. */
    const uint8_t *raw_public_key;
    size_t raw_public_key_len;
    const uint8_t *pinned_spki_sha256;
    size_t n_spki_pins;
    cdtls_rpk_verify_callback verify_raw_public_key;
    void *verify_raw_public_key_ctx;

    /* Session resumption (RFC 5246 §7.3). By session ID: a server with a
     * store issues session IDs and resumes the sessions it finds; a client
     * with a store offers the session it kept for this server (looked up by
     * server_name, else by the peer address). Sessions older than
     * session_lifetime_ms are not resumed (default 24 h; the store itself
     * is not told). Borrowed; NULL = no resumption by session ID. */
    const cdtls_session_store *session_store;
    uint32_t session_lifetime_ms;
    /* By session ticket (RFC 5077): a client with session_tickets set
     * offers the SessionTicket extension (with the ticket it kept in its
     * session_store, which it then needs); a server with ticket_keys issues
     * tickets and resumes from them, keeping no per-session state. */
    int session_tickets;
    cdtls_ticket_keys *ticket_keys;
} cdtls_config;

/* Fills cfg with the defaults documented above. */
CDTLS_API void cdtls_config_init(cdtls_config *cfg);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_CONFIG_H */
