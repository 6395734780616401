/*
 * cdtls — connection configuration.
 *
 * A cdtls_config is a plain struct grouped by concern: call
 * cdtls_config_init() to fill in the defaults, then change what you need.
 * cdtls_context_new() (or cdtls_conn_new(), the listener, cdtls_sock_dial)
 * copies the struct; what its pointers point to is borrowed and must outlive
 * every context and connection made from it.
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
/* Listener defaults (cdtls_config_init; 0 in the fields means these too). */
#define CDTLS_LISTENER_HALF_OPEN_PER_SOURCE 32u
#define CDTLS_LISTENER_HANDSHAKE_BUDGET (16u * 1024u * 1024u)
/* Defaults of cfg.hello_reasm (0 in its fields means these). */
#define CDTLS_HELLO_REASM_MAX_PENDING 256u
#define CDTLS_HELLO_REASM_PER_SOURCE 8u
#define CDTLS_HELLO_REASM_BUDGET (1024u * 1024u)
#define CDTLS_HELLO_REASM_TIMEOUT_MS 5000u

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
    /* DTLS 1.3 (RFC 8446 §4.6.1): CDTLS_VERSION_1_3 for a 1.3 session (then
     * master_secret holds the resumption PSK and cipher_suite is a 1.3
     * suite), 0 for a 1.2 one. Neither version resumes the other's. */
    uint16_t version;
    uint32_t ticket_age_add;   /* 1.3: the server's obfuscation of the ticket age */
    uint64_t ticket_issued_ms; /* 1.3 server: when this ticket was issued (its age, RFC 8446 §8.3) */
} cdtls_session;

/* Session ticket keys (RFC 5077 §4), a server's: tickets are sealed with
 * the current key and opened with any key still kept, so rotation never
 * invalidates a ticket before its time. Caller-owned, shared by every
 * connection of a server (borrowed by the config, and changed by the
 * engine when it rotates: one event loop, or the lock hook below). A cluster
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
    /* Optional: the engine calls lock(lock_ctx, 1) before it uses or
     * rotates the keys (and updates the counters) and lock(lock_ctx, 0)
     * after, so connections of several threads can share one ring; so does
     * cdtls_ticket_keys_add. NULL = one thread (the engine reads no OS).
     * cdtls_worker_group installs its own (cdtls/workers.h). */
    void (*lock)(void *lock_ctx, int take);
    void *lock_ctx;
} cdtls_ticket_keys;
/* A first random key, made at now_ms; a new one replaces it every
 * rotate_ms (the oldest kept key is then forgotten, so a ticket lives at
 * least (CDTLS_TICKET_KEYS - 1) * rotate_ms: keep session_lifetime_ms
 * within that). provider NULL = cdtls_provider_default(). */
CDTLS_API int cdtls_ticket_keys_init(cdtls_ticket_keys *k, const cdtls_provider *provider, uint32_t rotate_ms,
                                     uint64_t now_ms);
/* Installs a key made elsewhere as the current one; the others shift
 * (under the ring's lock, when it has one). */
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
/* Returns the store to put in cdtls_config.resumption.store. */
CDTLS_API const cdtls_session_store *cdtls_session_cache_init(cdtls_session_cache *cache,
                                                              cdtls_session_cache_entry *entries, size_t n);
CDTLS_API void cdtls_session_cache_clear(cdtls_session_cache *cache);

#define CDTLS_MAX_CID_LEN 255u
/* cfg.cid.rrc (RFC 9853) */
#define CDTLS_RRC_OFF 0
#define CDTLS_RRC_BASIC 1
#define CDTLS_RRC_ENHANCED 2
#define CDTLS_MAX_ALPN_OFFERED 32u
#define CDTLS_MAX_ALPN_LIST 1024u /* encoded ProtocolNameList we offer */
#define CDTLS_MAX_SRTP_PROFILES 16u

/* Every callback, with the one user pointer they all receive as their first
 * argument. Each is optional (NULL). */
typedef struct cdtls_callbacks {
    void *user; /* borrowed; handed to every callback below */
    /* Server: PSK lookup by identity; client: PSK choice by hint. */
    cdtls_psk_callback psk;
    /* The peer's certificate chain, after it was checked as configured. */
    cdtls_verify_callback verify_peer;
    /* Server: certificate selection by SNI. */
    cdtls_cert_select_callback select_certificate;
    /* The wall clock for certificate validity (the engine reads no clock). */
    cdtls_unix_time_callback unix_time;
    /* Server: choose the ALPN protocol yourself (alpn.protocols is then unused). */
    cdtls_alpn_select_callback select_alpn;
    /* NSS key log (Wireshark's "(Pre)-Master-Secret log"): called once per
     * handshake, when the master secret exists. It discloses the session's
     * keys: for debugging only. */
    cdtls_keylog_callback keylog;
    /* Connection IDs of your own making (overrides cid.length). */
    cdtls_cid_generator cid_generator;
    /* Padding for each tls12_cid record. */
    cdtls_cid_padding cid_padding;
    /* Judges the peer's raw public key (RFC 7250). */
    cdtls_rpk_verify_callback verify_raw_public_key;
} cdtls_callbacks;

/* The configuration: plain data, grouped by concern. Call
 * cdtls_config_init() to fill in the defaults, change what you need, then
 * make a cdtls_context from it (cdtls_context_new) that many connections
 * share, or hand it to cdtls_conn_new / cdtls_sock_dial / the listener.
 * Every pointer is borrowed: what it points to must outlive the contexts
 * and connections made from the config (the config itself need not).
 *
 * ABI: `size` is set by cdtls_config_init to the size of the struct the
 * caller was compiled with. New settings are only ever appended at the end,
 * so a library newer than the caller's header reads the caller's prefix and
 * takes the defaults for the rest. */
typedef struct cdtls_config {
    size_t size; /* set by cdtls_config_init; leave it alone */

    /* Crypto provider; NULL = cdtls_provider_default(). Borrowed. */
    const cdtls_provider *provider;
    /* Allocator for every connection made from this config; NULL = libc. Borrowed. */
    const cdtls_allocator *allocator;
    /* Largest datagram the engine emits, counting DTLS record and handshake
     * headers (not IP/UDP). Default 1200. Minimum 128. */
    size_t mtu;
    /* Client: the server's name, sent as SNI (RFC 6066) and checked against
     * its certificate (RFC 6125); also the key of its kept session.
     * NUL-terminated. Borrowed. */
    const char *server_name;

    /* What the handshake may agree on. */
    struct cdtls_config_negotiate {
        /* Cipher suites in preference order (IANA values). NULL = every suite
         * this build and provider can negotiate, in cdtls's default order
         * (AEAD before CBC, see cdtls_default_cipher_suites()). */
        const uint16_t *cipher_suites;
        size_t n_cipher_suites;
        /* ECDHE groups in preference order (IANA NamedGroup). NULL = all
         * the provider has: X25519, P-256, P-384, and for DTLS 1.3 first
         * X25519MLKEM768 (0x11ec) when it has ML-KEM-768 (docs/pq.md; a
         * list gets the hybrid only if it names 0x11ec, 1.2 ignores it). */
        const uint16_t *groups;
        size_t n_groups;
        /* Extended master secret (RFC 7627). Default CDTLS_EMS_REQUEST. */
        cdtls_ems_policy ems;
        /* Offer/accept encrypt_then_mac (RFC 7366) for CBC suites. Default 1. */
        int encrypt_then_mac;
    } negotiate;

    /* Pre-shared keys (RFC 4279). Client: the identity and key it uses.
     * Server: a single (identity, key) pair accepted when callbacks.psk is
     * NULL, and the identity hint sent in ServerKeyExchange (may be empty). */
    struct cdtls_config_psk {
        const uint8_t *key;
        size_t key_len;
        const uint8_t *identity;
        size_t identity_len;
        const uint8_t *hint;
        size_t hint_len;
    } psk;

    /* Our own credentials (ECDHE-ECDSA / ECDHE-RSA suites, Ed25519 per
     * RFC 8422). A server needs them for the certificate suites; a client
     * only for client authentication. */
    struct cdtls_config_credentials {
        /* Our chain, leaf first, as DER. */
        const uint8_t *const *chain;
        const size_t *chain_len;
        size_t n_certs;
        /* The leaf's private key (see cdtls_private_key_load); it also
         * signs for raw_public_key. */
        const cdtls_sign_key *private_key;
        /* Raw public keys (RFC 7250), for the certificate suites without
         * certificates (constrained devices; something pion lacks): our
         * SubjectPublicKeyInfo (DER, e.g. from cdtls_x509_spki_encode), sent
         * instead of a certificate when the peer accepts raw keys. */
        const uint8_t *raw_public_key;
        size_t raw_public_key_len;
    } credentials;

    /* Checking the peer. A client with certificate suites and no anchors
     * fails the handshake unless insecure_skip_verify (then
     * callbacks.verify_peer or the pins decide). */
    struct cdtls_config_verify {
        /* Trust anchors (borrowed parsed certificates). */
        const cdtls_x509_cert *trust_anchors;
        size_t n_trust_anchors;
        int insecure_skip_verify;
        /* SHA-256 fingerprints (32 bytes each, back to back) the peer's leaf
         * must match one of (WebRTC-style pinning, RFC 8122). */
        const uint8_t *pinned_sha256;
        size_t n_pins;
        /* Accepting the peer's raw public key (RFC 7250): SHA-256 pins of
         * its SPKI (32 bytes each, back to back) and/or
         * callbacks.verify_raw_public_key; with either set we offer to take
         * raw keys. X.509 stays available when configured too. */
        const uint8_t *pinned_spki_sha256;
        size_t n_spki_pins;
        /* Server: ask the client for a certificate (certificate suites only). */
        cdtls_client_auth client_auth;
        /* Client, DTLS 1.3: offer post_handshake_auth (RFC 8446 §4.2.6), so
         * that the server may ask for our certificate (credentials) after
         * the handshake (cdtls_conn_request_client_auth). */
        int post_handshake_auth;
    } verify;

    /* Retransmission (RFC 6347 §4.2.4.1): first timeout, doubling up to the
     * cap; the handshake fails with CDTLS_ERR_HANDSHAKE_TIMEOUT when it has
     * not completed handshake_timeout_ms after it began. Defaults 1000,
     * 60000, 60000 ms. */
    struct cdtls_config_timers {
        uint32_t retransmit_initial_ms;
        uint32_t retransmit_max_ms;
        uint32_t handshake_timeout_ms;
    } timers;

    /* What a peer can make us keep. */
    struct cdtls_config_limits {
        /* Replay window size in records (RFC 6347 §4.1.2.6): a multiple of
         * 64, 64..1024. Default 64. 0 disables replay detection (not
         * recommended). */
        unsigned replay_window;
        /* Handshake reassembly limits: largest single handshake message,
         * and all buffered fragments together. Defaults 64 KiB and 256 KiB. */
        size_t max_handshake_message;
        size_t max_handshake_buffer;
        /* Records of the next epoch that arrive before its keys exist (e.g.
         * Finished overtaking ChangeCipherSpec; in DTLS 1.3 a client's
         * datagrams of protected records overtaking the ServerHello) are
         * kept, up to this many. Default 8. */
        unsigned max_early_records;
        /* 0 (default): each connection keeps one record buffer per
         * direction (up to mtu bytes, wiped while unused) for the next
         * record, so a stream of records costs no allocation per record. 1:
         * every buffer is freed as soon as its record is sent or read
         * (smallest idle memory, as OpenSSL's SSL_MODE_RELEASE_BUFFERS). */
        int release_buffers;
    } limits;

    /* Server: the HelloVerifyRequest cookie exchange (RFC 6347 §4.2.1). */
    struct cdtls_config_cookie {
        /* Default 1. A listener always runs it before creating a connection
         * and tells the connection it was done. */
        int exchange;
        /* How often the cookie secret rotates; a cookie made with the
         * previous secret is still accepted. Default 30000 ms. */
        uint32_t rotate_ms;
    } cookie;

    /* OOB marking for datagrams the engine makes on its own: flags = 0
     * means unmarked. */
    struct cdtls_config_oob {
        cdtls_oob handshake; /* handshake flights */
        cdtls_oob alert;     /* alerts */
    } oob;

    /* ALPN (RFC 7301). Client: the protocols to offer, in preference order.
     * Server: the protocols it speaks, in its preference order; the first
     * one the client also offers is chosen, and a client that offers ALPN
     * but none of them gets a no_application_protocol alert. Each name is
     * 1..255 bytes (NUL-terminated here); all encoded, at most
     * CDTLS_MAX_ALPN_LIST bytes. NULL/0 = no ALPN (a server then ignores the
     * client's list). cdtls_conn_alpn() tells the result. */
    struct cdtls_config_alpn {
        const char *const *protocols;
        size_t n_protocols;
    } alpn;

    /* DTLS-SRTP (RFC 5764, RFC 7714): SRTP protection profiles
     * (CDTLS_SRTP_*, cdtls/srtp.h) in preference order, at most
     * CDTLS_MAX_SRTP_PROFILES. Client: offered with mki (0..255 bytes).
     * Server: its first profile the client offers is chosen and the
     * client's MKI echoed; with none in common the handshake goes on without
     * use_srtp (RFC 5764 §4.1.1). */
    struct cdtls_config_srtp {
        const uint16_t *profiles;
        size_t n_profiles;
        const uint8_t *mki;
        size_t mki_len;
    } srtp;

    /* Connection IDs (RFC 9146), AEAD suites only. This side offers
     * (client) or accepts (server) the connection_id extension when length
     * > 0 or callbacks.cid_generator is set; the records of epoch 1 then
     * carry the peer's CID in the tls12_cid format, so the peer can find the
     * session after our address changed (NAT rebinding). */
    struct cdtls_config_cid {
        /* The length (1..CDTLS_MAX_CID_LEN) of random CIDs drawn from the
         * provider (as pion's RandomCIDGenerator); 0 (default) = none
         * unless callbacks.cid_generator makes them. 8 bytes make
         * collisions among a server's connections negligible (2^-64 per
         * pair). */
        size_t length;
        /* Return Routability Check (RFC 9853), only with CIDs: the client
         * offers and the server accepts the rrc extension (DTLS 1.2), and
         * a connection fed the source address of each datagram
         * (cdtls_conn_recv_path) checks a peer's new address before it
         * sends there (docs/security.md, "Return routability").
         * CDTLS_RRC_OFF (0, default), CDTLS_RRC_BASIC (challenge the new
         * address, RFC 9853 §5.1) or CDTLS_RRC_ENHANCED (first the old
         * address, against off-path attackers, §5.2). */
        int rrc;
        /* T (RFC 9853 §5.5): how long a check waits for its answer; 0:
         * 1000 ms (the RFC's default without an RTT estimate). */
        uint32_t rrc_timeout_ms;
    } cid;

    /* Session resumption (RFC 5246 §7.3). */
    struct cdtls_config_resumption {
        /* By session ID: a server with a store issues session IDs and
         * resumes the sessions it finds; a client with a store offers the
         * session it kept for this server (looked up by server_name, else
         * by the peer address). NULL = no resumption by session ID. */
        const cdtls_session_store *store;
        /* Sessions older than this are not resumed (default 24 h; the store
         * itself is not told). */
        uint32_t lifetime_ms;
        /* By session ticket (RFC 5077): a client with tickets set offers the
         * SessionTicket extension (with the ticket it kept in its store,
         * which it then needs); a server with ticket_keys issues tickets and
         * resumes from them, keeping no per-session state. */
        int tickets;
        cdtls_ticket_keys *ticket_keys;
    } resumption;

    cdtls_callbacks callbacks;
    /* New groups go here, at the end (see `size`). */

    /* cdtls_listener against floods of cookie-valid handshakes and idle
     * peers (docs/security.md, "Listener availability"). A zero field
     * takes its default. */
    struct cdtls_config_listener {
        /* Handshakes in progress from one IPv4 /24 or IPv6 /64; a new one
         * from there evicts that prefix's oldest. When the peer table is
         * full (max_peers) a new handshake evicts the oldest one in
         * progress of anyone, never an established peer. Default 32. */
        unsigned max_half_open_per_source;
        /* Bytes all handshakes in progress reassemble together. Default
         * 16 MiB. */
        size_t handshake_budget;
        /* An established peer from which nothing authentic came for this
         * long leaves the listener; its reads return CDTLS_ERR_IDLE.
         * Default 0 = never. */
        uint32_t idle_timeout_ms;
        /* Peers in progress or established (default 1024), and established
         * ones waiting for cdtls_listener_accept (default 16); also set by
         * cdtls_listener_set_limits. */
        unsigned max_peers, backlog;
    } listener;

    /* Protocol versions (CDTLS_VERSION_1_2, CDTLS_VERSION_1_3 in
     * cdtls/conn.h): the lowest and highest this side speaks. 0 = the
     * defaults: 1.2 and, in a build with DTLS 1.3, 1.3. A client offers
     * every version in [min, max] (supported_versions, RFC 8446 §4.2.1); a
     * server picks the highest both speak, so one listener serves 1.2 and
     * 1.3 peers side by side. */
    struct cdtls_config_versions {
        uint16_t min, max;
    } versions;

    /* The stateless cookie step (cdtls_hello_verifier, the listener)
     * reassembles ClientHellos that come in fragments when the server
     * speaks DTLS 1.3: the HelloRetryRequest's cookie binds the whole
     * first hello, and a second hello's cookie extension may be in any
     * fragment (RFC 9147 §5.1, §5.5). Bounded as below (docs/security.md,
     * "Fragmented ClientHellos"); a zero field takes its default. */
    struct cdtls_config_hello_reasm {
        /* Hellos held at once (default 256); a new one beyond evicts the
         * oldest. */
        unsigned max_pending;
        /* Of them from one IPv4 /24 or IPv6 /64 (default 8); a new one
         * beyond evicts that source's oldest. */
        unsigned max_per_source;
        /* Bytes all held hellos take, entries and buffers (default 1 MiB).
         * A hello's declared length is capped at CDTLS_MAX_CLIENT_HELLO_LEN. */
        size_t budget;
        /* A hello not whole this long after its first fragment is dropped
         * (default 5000 ms). */
        uint32_t timeout_ms;
    } hello_reasm;
} cdtls_config;

/* Fills cfg with the defaults documented above and records the caller's
 * sizeof(cdtls_config) in cfg->size. */
CDTLS_API void cdtls_config_init_sized(cdtls_config *cfg, size_t size);
#define cdtls_config_init(cfg) cdtls_config_init_sized((cfg), sizeof(cdtls_config))

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_CONFIG_H */
