/*
 * cdtls — the sans-IO DTLS 1.2 connection engine.
 *
 * The engine does no I/O and reads no clock: the caller feeds it datagrams
 * and the current time, drains the datagrams it wants sent, and calls it
 * back when its timer expires.
 *
 *   cdtls_conn *c;
 *   cdtls_conn_new(&cfg, CDTLS_CLIENT, now_ms, &c);
 *   cdtls_conn_start(c, now_ms);                          client: first flight
 *   for (;;) {
 *       while (cdtls_conn_next_datagram(c, buf, sizeof buf, &n, &oob) == CDTLS_OK)
 *           send(buf, n, &oob);
 *       wait for a datagram or until cdtls_conn_timeout(c);
 *       if (datagram) cdtls_conn_recv(c, dgram, len, &oob_in, now_ms);
 *       else          cdtls_conn_on_timeout(c, now_ms);
 *       while (cdtls_conn_read(c, app, sizeof app, &n, &oob) == CDTLS_OK) use(app, n);
 *   }
 *
 * A server connection is made for one peer (address) after the stateless
 * cookie check (cdtls_hello_verifier, below, or the socket listener does it),
 * and is then fed that peer's datagrams.
 *
 * Threading: a connection is not thread-safe; use one from one thread at a
 * time. Different connections share nothing mutable.
 */
#ifndef CDTLS_CONN_H
#define CDTLS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/config.h"
#include "cdtls/error.h"
#include "cdtls/export.h"
#include "cdtls/oob.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cdtls_role { CDTLS_CLIENT = 0, CDTLS_SERVER = 1 } cdtls_role;

typedef enum cdtls_conn_state {
    CDTLS_STATE_HANDSHAKING = 0,
    CDTLS_STATE_ESTABLISHED,
    CDTLS_STATE_CLOSED, /* close_notify sent and/or received */
    CDTLS_STATE_FAILED  /* fatal error; see cdtls_conn_error() */
} cdtls_conn_state;

typedef struct cdtls_conn cdtls_conn;

/* A validated configuration, shared by the connections made from it: the
 * configuration is checked and copied once (its borrowed buffers -- keys,
 * certificates, PSK, lists -- must outlive the context), our certificate or
 * raw public key parsed once. Immutable once made: connections on
 * different threads may share one, provided the provider and the callbacks
 * they reach are thread-safe. It must outlive every connection made from
 * it. (cdtls_listener_open makes one for all its peers.) */
typedef struct cdtls_context cdtls_context;
CDTLS_API int cdtls_context_new(const cdtls_config *cfg, cdtls_context **out);
/* Wipes and frees it. NULL is a no-op. */
CDTLS_API void cdtls_context_free(cdtls_context *ctx);
/* The context's copy of the configuration (borrowed). */
CDTLS_API const cdtls_config *cdtls_context_config(const cdtls_context *ctx);
/* Creates a connection from a context. now_ms is the caller's monotonic
 * clock in milliseconds. */
CDTLS_API int cdtls_conn_new_from(const cdtls_context *ctx, cdtls_role role, uint64_t now_ms,
                                  cdtls_conn **out);

/* The context a connection was made from (borrowed; its own private one for
 * a connection made by cdtls_conn_new). */
CDTLS_API const cdtls_context *cdtls_conn_context(const cdtls_conn *c);
/* Creates a connection with a context of its own made from cfg (as
 * cdtls_context_new; freed with the connection). */
CDTLS_API int cdtls_conn_new(const cdtls_config *cfg, cdtls_role role, uint64_t now_ms, cdtls_conn **out);
/* Wipes every secret and frees the connection. NULL is a no-op. */
CDTLS_API void cdtls_conn_free(cdtls_conn *c);

/* Server: the peer's transport address as opaque bytes (e.g. a sockaddr),
 * bound into the HelloVerifyRequest cookie. Client: the key of its session
 * store entry when cfg.server_name is not set (cdtls_sock_dial gives the
 * address as text). Copied; at most 128 bytes. */
CDTLS_API int cdtls_conn_set_peer_address(cdtls_conn *c, const void *addr, size_t addr_len);
/* Server: the cookie exchange for this peer was already done by a
 * cdtls_hello_verifier; the connection accepts the ClientHello as is. */
CDTLS_API int cdtls_conn_set_cookie_verified(cdtls_conn *c);
/* The connection's handshake reassembly also counts against b (borrowed;
 * must outlive the handshake): fragments that would take b->used past
 * b->max are dropped. Before the first datagram only (else BAD_STATE).
 * cdtls_listener gives its peers one (docs/security.md). */
CDTLS_API int cdtls_conn_share_handshake_budget(cdtls_conn *c, cdtls_handshake_budget *b);

/* Client: builds the first flight (ClientHello). Servers need not call it. */
CDTLS_API int cdtls_conn_start(cdtls_conn *c, uint64_t now_ms);

/* Feeds one received datagram. Bad records are dropped silently as RFC
 * 6347 §4.1.2.7 says, and this returns CDTLS_OK; an error is returned only
 * when the connection failed (then cdtls_conn_state() is FAILED and an
 * alert may be waiting in the output queue). oob (may be NULL) is attached
 * to the application data this datagram carries. */
CDTLS_API int cdtls_conn_recv(cdtls_conn *c, const uint8_t *dgram, size_t len, const cdtls_oob *oob,
                              uint64_t now_ms);

/* Takes the next datagram to send: CDTLS_OK with *len bytes in buf and the
 * OOB it should carry in *oob (may be NULL); CDTLS_ERR_WOULD_BLOCK when
 * there is none; CDTLS_ERR_BUFFER_TOO_SMALL if cap < the datagram (it stays
 * queued; cfg.mtu is always enough). cdtls_conn_peek_datagram (below) is
 * the same without the copy. */
CDTLS_API int cdtls_conn_next_datagram(cdtls_conn *c, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob);

/* The absolute time (ms, caller's clock) at which cdtls_conn_on_timeout()
 * must be called, or UINT64_MAX when no timer runs. */
CDTLS_API uint64_t cdtls_conn_timeout(const cdtls_conn *c);
/* Retransmits the current flight if its timer expired (RFC 6347 §4.2.4),
 * doubling the timeout; fails the handshake with CDTLS_ERR_HANDSHAKE_TIMEOUT
 * past cfg.timers.handshake_timeout_ms. Calling it early is harmless. */
CDTLS_API int cdtls_conn_on_timeout(cdtls_conn *c, uint64_t now_ms);

/* Sends len bytes of application data as one record in one datagram that
 * carries oob (may be NULL). CDTLS_ERR_RECORD_TOO_LARGE if len >
 * cdtls_conn_max_write(); CDTLS_ERR_BAD_STATE before the handshake is done;
 * CDTLS_ERR_LIMIT if too many datagrams wait to be drained. */
CDTLS_API int cdtls_conn_write(cdtls_conn *c, const uint8_t *data, size_t len, const cdtls_oob *oob);
/* The largest write that fits one record in one datagram of cfg.mtu bytes
 * with the negotiated suite (0 before the handshake is done). */
CDTLS_API size_t cdtls_conn_max_write(const cdtls_conn *c);

/* The largest datagram the connection emits (cfg.mtu at first), and a new
 * one for a live connection: a path that turned out narrower (an ICMP
 * "fragmentation needed" / "packet too big", a local EMSGSIZE: RFC 6347
 * §4.1.1.1, RFC 9147 §4.4; cdtls_sock does this from the io events). From
 * the next datagram on: a flight is packed again at the new size when it
 * is (re)transmitted, cdtls_conn_max_write follows, and datagrams already
 * queued keep their size. Same range as cfg.mtu (128..65507), else
 * CDTLS_ERR_INVALID_ARG. */
CDTLS_API size_t cdtls_conn_mtu(const cdtls_conn *c);
CDTLS_API int cdtls_conn_set_mtu(cdtls_conn *c, size_t mtu);

/* Takes the next received application data record: CDTLS_OK with *len
 * bytes (and the OOB of the datagram it came in, if oob != NULL);
 * CDTLS_ERR_WOULD_BLOCK when none is waiting; CDTLS_ERR_CLOSED after the
 * peer's close_notify; CDTLS_ERR_BUFFER_TOO_SMALL if cap is short (the
 * record stays queued). cdtls_conn_peek_read (below) is the same without
 * the copy. */
CDTLS_API int cdtls_conn_read(cdtls_conn *c, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob);

/* ---------------------------------------------------------------------------
 * Borrowing instead of copying (zero-copy), for embedders that run their own
 * event loop. cdtls_conn_next_datagram and cdtls_conn_read are peek, copy,
 * pop; these are the same calls without the copy:
 *
 *   while (cdtls_conn_peek_datagram(c, &d, &n, &oob) == CDTLS_OK) {
 *       if (send(d, n, &oob) would block) break;    still queued, still lent
 *       cdtls_conn_pop_datagram(c);
 *   }
 *   while (cdtls_conn_peek_read(c, &d, &n, &oob) == CDTLS_OK) {
 *       use(d, n);
 *       cdtls_conn_pop_read(c);
 *   }
 *
 * cdtls_conn_peek_datagram lends the next datagram to send: *data points at
 * its *len bytes inside the engine's output queue and *oob (may be NULL) gets
 * the OOB it should carry; CDTLS_ERR_WOULD_BLOCK when there is none.
 * cdtls_conn_peek_read lends the next received application data record the
 * same way (*len may be 0; *data is then still a valid pointer); when none is
 * waiting it returns what cdtls_conn_read would: CDTLS_ERR_WOULD_BLOCK,
 * CDTLS_ERR_CLOSED after the peer's close_notify, or the connection's error
 * once it failed (records that arrived before are handed out first).
 *
 * Peeking again before the pop lends the same datagram or record (the same
 * pointer). A lent datagram or record stays valid and unchanged until its
 * pop, until the copying call for that queue (cdtls_conn_next_datagram,
 * cdtls_conn_read), which takes the same entry, or until cdtls_conn_free.
 * Every other call only adds behind it: cdtls_conn_write, _recv,
 * _on_timeout, _close and _start append datagrams, cdtls_conn_recv appends
 * records. So a datagram whose send would block may stay lent while the
 * connection is driven, and be sent later from the same pointer. A lent
 * record still counts against the receive queue's bounds (256 records,
 * 256 KiB): records that arrive while it is full are dropped, as when the
 * application does not read.
 *
 * Retransmission: each datagram is in the output queue once. A handshake
 * flight is kept apart, as its messages; a retransmission (the timer in
 * cdtls_conn_on_timeout, or the peer retransmitting) seals them again with
 * fresh record sequence numbers (RFC 6347 §4.2.4) into new datagrams at the
 * queue's end. So popping a flight's datagrams loses nothing, a lent
 * datagram is never rewritten, and popping one without sending it is the
 * same as the network losing it.
 *
 * cdtls_conn_pop_datagram / cdtls_conn_pop_read release the entry the last
 * peek lent: wiped, then freed. CDTLS_ERR_BAD_STATE when nothing is lent
 * (the queue is empty, or no peek came since the last pop or the last
 * copying call that took an entry), so a pop can never drop an entry the
 * caller has not seen. Only the head of each queue is lent: a caller that
 * sends several datagrams in one batch (cdtls_io_send_batch) copies them. */
CDTLS_API int cdtls_conn_peek_datagram(cdtls_conn *c, const uint8_t **data, size_t *len, cdtls_oob *oob);
CDTLS_API int cdtls_conn_pop_datagram(cdtls_conn *c);
CDTLS_API int cdtls_conn_peek_read(cdtls_conn *c, const uint8_t **data, size_t *len, cdtls_oob *oob);
CDTLS_API int cdtls_conn_pop_read(cdtls_conn *c);

/* Queues a close_notify alert (RFC 5246 §7.2.1); later writes fail. */
CDTLS_API int cdtls_conn_close(cdtls_conn *c);

CDTLS_API cdtls_conn_state cdtls_conn_get_state(const cdtls_conn *c);
/* The error that failed the connection (CDTLS_OK while it has not). */
CDTLS_API int cdtls_conn_error(const cdtls_conn *c);
/* The last alert received from the peer: 1 and its level/description, or 0. */
CDTLS_API int cdtls_conn_peer_alert(const cdtls_conn *c, uint8_t *level, uint8_t *description);
/* The negotiated cipher suite (IANA value), 0 before ServerHello. */
CDTLS_API uint16_t cdtls_conn_cipher_suite(const cdtls_conn *c);
/* 1 if the extended master secret (RFC 7627) is in use. */
CDTLS_API int cdtls_conn_uses_ems(const cdtls_conn *c);
/* Protocol versions (the DTLS wire values, RFC 6347 §4.1, RFC 9147 §5.3). */
#define CDTLS_VERSION_1_2 0xfefdu
#define CDTLS_VERSION_1_3 0xfefcu
/* The negotiated version: CDTLS_VERSION_1_2 or CDTLS_VERSION_1_3, 0 while
 * the ServerHello has not settled it. */
CDTLS_API uint16_t cdtls_conn_version(const cdtls_conn *c);
/* The key exchange group the handshake used (IANA NamedGroup: 0x001d
 * X25519, 0x0017 P-256, 0x0018 P-384, 0x11ec X25519MLKEM768, the DTLS 1.3
 * post-quantum hybrid, docs/pq.md) while the connection is ESTABLISHED;
 * 0 in any other state and without (EC)DHE (a PSK-only suite or psk_ke, a
 * resumed 1.2 session). A value, no ownership. */
CDTLS_API uint16_t cdtls_conn_group(const cdtls_conn *c);
/* DTLS 1.3 KeyUpdate (RFC 9147 §8): new sending keys once the peer has
 * acknowledged the KeyUpdate; request_peer asks the peer to update its own
 * too. CDTLS_ERR_UNSUPPORTED on a 1.2 connection, CDTLS_ERR_BAD_STATE
 * before the handshake is done or while an update is still unacknowledged.
 * The engine also updates on its own before a key's usage limit. */
CDTLS_API int cdtls_conn_update_keys(cdtls_conn *c, int request_peer);
/* DTLS 1.3 post-handshake client authentication (RFC 8446 §4.6.2, RFC 9147
 * §5.8.4): a server asks the client of an established connection for its
 * certificate with a CertificateRequest (a fresh certificate_request_context),
 * resent until the client answers; the client (cfg.verify.post_handshake_auth
 * set, so it offered post_handshake_auth) answers on its own with
 * Certificate, CertificateVerify and Finished, or an empty Certificate and
 * Finished when it has no certificate the server's schemes fit, resent until
 * the server's ACK. The client's chain is judged like a handshake's (trust
 * anchors, pins, callbacks of the server's cfg.verify); a bad chain or
 * signature fails the connection. require: an empty Certificate fails it
 * too (certificate_required), else the connection goes on unauthenticated.
 * Messages are fragmented to the MTU both ways (at most 64 fragments each).
 * The client's whole answer is due within cfg.timers.handshake_timeout_ms of
 * the request, whether it ACKed the request or not (RFC 8446 §4.6.2: it MUST
 * answer); after that the connection fails with CDTLS_ERR_HANDSHAKE_TIMEOUT.
 * CDTLS_ERR_UNSUPPORTED on DTLS 1.2, on a client, or when the client did not
 * offer post_handshake_auth; CDTLS_ERR_BAD_STATE before the handshake is
 * done, while a request is outstanding, or once the client has shown a
 * certificate. */
CDTLS_API int cdtls_conn_request_client_auth(cdtls_conn *c, int require);
typedef enum cdtls_client_auth_state {
    CDTLS_CLIENT_AUTH_STATE_NONE = 0,      /* no post-handshake request (yet) */
    CDTLS_CLIENT_AUTH_STATE_PENDING,       /* server: our request is outstanding */
    CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED, /* the client's certificate and signature checked
                                              (client: we answered with ours); see
                                              cdtls_conn_peer_certificates */
    CDTLS_CLIENT_AUTH_STATE_DECLINED       /* the client answered with an empty Certificate */
} cdtls_client_auth_state;
/* The outcome of the latest post-handshake authentication (a
 * cdtls_client_auth_state). The observer sees its messages as
 * CDTLS_EVENT_HANDSHAKE_SENT / _RECEIVED and the server's ACK as ACK_SENT. */
CDTLS_API int cdtls_conn_client_auth_state(const cdtls_conn *c);
/* The peer's certificate chain as it sent it, leaf first (borrowed; valid
 * while the connection lives); NULL with *n = 0 for PSK suites. */
CDTLS_API const cdtls_x509_cert *cdtls_conn_peer_certificates(const cdtls_conn *c, size_t *n);
/* Server: the PSK identity the client used (borrowed; NULL if none). */
CDTLS_API const uint8_t *cdtls_conn_psk_identity(const cdtls_conn *c, size_t *len);
/* The application protocol agreed by ALPN (RFC 7301): its bytes (borrowed,
 * NUL-terminated for convenience) and length, or NULL with *len = 0. */
CDTLS_API const uint8_t *cdtls_conn_alpn(const cdtls_conn *c, size_t *len);

/* 1 if this handshake resumed a stored session (abbreviated handshake).
 * A resumed certificate session has no peer certificates to show. */
CDTLS_API int cdtls_conn_resumed(const cdtls_conn *c);

/* Connection ID (RFC 9146): 1 if negotiated; then the CID we receive on
 * (ours) and the one we send (the peer's), borrowed, either possibly empty. */
CDTLS_API int cdtls_conn_uses_cid(const cdtls_conn *c);
CDTLS_API const uint8_t *cdtls_conn_own_cid(const cdtls_conn *c, size_t *len);
CDTLS_API const uint8_t *cdtls_conn_peer_cid(const cdtls_conn *c, size_t *len);
/* This connection's CID generator in place of the configuration's (NULL:
 * the configuration's again), set before the hello that carries its CID:
 * connections that share one context may still make CIDs of their own (a
 * worker of a cdtls_worker_group writes its index into them,
 * cdtls/workers.h). CDTLS_ERR_BAD_STATE once the CID is made. */
CDTLS_API int cdtls_conn_set_cid_generator(cdtls_conn *c, cdtls_cid_generator gen, void *ctx);
/* 1 if the last cdtls_conn_recv() authenticated a record newer than every
 * earlier one of this epoch: the only condition under which a server may
 * move a connection to the datagram's source address (RFC 9146 §6). */
CDTLS_API int cdtls_conn_recv_advanced(const cdtls_conn *c);
/* For routing by CID before any connection is known: if the datagram
 * starts with a tls12_cid record (DTLS 1.2, RFC 9146) or a DTLS 1.3
 * unified header with the C bit (RFC 9147 §4), points *cid at its cid_len
 * CID bytes and returns 1; else 0. cid_len is the length of the CIDs this
 * side issued (the 1.3 header does not carry it). Reads nothing beyond
 * len. */
CDTLS_API int cdtls_datagram_cid(const uint8_t *dgram, size_t len, size_t cid_len, const uint8_t **cid);
/* DTLS 1.3 connection ID updates (RFC 9147 §9), once CIDs were negotiated
 * (cdtls_conn_uses_cid) and the handshake is over. CIDs are copied into the
 * connection; the pointers the getters return borrow it until the next
 * call on it.
 * - cdtls_conn_cid_is_ours: 1 if cid is the CID of the handshake or one
 *   this side handed out since (a listener routes by it);
 * - cdtls_conn_issue_cids: sends a NewConnectionId with n (1..8) new CIDs
 *   of ours, made as the first one was (the generator, or cid.length
 *   random bytes); immediate: cid_immediate (the peer must switch to the
 *   first), else cid_spare. Resent until ACKed; one CID message at a time
 *   (CDTLS_ERR_WOULD_BLOCK while one is unacknowledged). CDTLS_ERR_BAD_STATE
 *   without CIDs, before the handshake ends, with a zero-length CID of ours
 *   (§9 forbids it) or over 1.2; CDTLS_ERR_LIMIT once 8 CIDs of ours are
 *   in use;
 * - cdtls_conn_request_cids: sends a RequestConnectionId for n (1..255)
 *   CIDs; CDTLS_ERR_BAD_STATE as above (or while we send an empty CID,
 *   §9), CDTLS_ERR_WOULD_BLOCK while a CID message is unacknowledged or an
 *   earlier request is unanswered (§9);
 * - cdtls_conn_spare_cids: how many spare CIDs of the peer are held (at
 *   most 8; §9 allows discarding more);
 * - cdtls_conn_switch_cid: puts the oldest spare CID of the peer on our
 *   records from now on (§9: "SHOULD use a new CID whenever sending on a
 *   new path"); CDTLS_ERR_WOULD_BLOCK when there is none (request some). */
CDTLS_API int cdtls_conn_cid_is_ours(const cdtls_conn *c, const uint8_t *cid, size_t len);
CDTLS_API int cdtls_conn_issue_cids(cdtls_conn *c, size_t n, int immediate, uint64_t now_ms);
CDTLS_API int cdtls_conn_request_cids(cdtls_conn *c, unsigned n, uint64_t now_ms);
CDTLS_API size_t cdtls_conn_spare_cids(const cdtls_conn *c);
CDTLS_API int cdtls_conn_switch_cid(cdtls_conn *c);

/* ---------------------------------------------------------------------------
 * Return Routability Check (RFC 9853; cfg.cid.rrc). The engine does no I/O,
 * so the caller tells it where each datagram came from and asks where each
 * one goes:
 *
 *   cdtls_path from = { &src, sizeof src, 0 };
 *   cdtls_conn_recv_path(c, dgram, n, &oob, &from, now_ms);
 *   while (cdtls_conn_next_datagram_path(c, buf, cap, &n, &oob, &to, &to_len) == CDTLS_OK)
 *       sendto(buf, n, to ? to : <the peer's usual address>);
 *
 * Addresses are opaque bytes (a sockaddr, say) of at most 128 bytes,
 * compared bytewise: give the same address the same bytes. The first
 * address a connection with RRC sees becomes its path. Once RRC is
 * negotiated and a record newer than all before (RFC 9146 §6) comes from
 * another address, the connection sends a path_challenge there (with
 * CDTLS_RRC_ENHANCED first to the old address, RFC 9853 §5.2) and keeps
 * sending everything else to the old address until the peer answers from
 * the new one; then the new address is the path (observer event
 * CDTLS_EVENT_PATH, cdtls_conn_path_address). Toward the unvalidated
 * address it sends at most three times the bytes it received from there
 * (RFC 9853 §2, the anti-amplification limit); a check unanswered after
 * cfg.cid.rrc_timeout_ms fails and the path stays. The connection's timer
 * (cdtls_conn_timeout / _on_timeout) drives the check's repetitions and
 * its end. The other way round, a path_challenge from the peer is answered
 * (path_response, or path_drop when from->not_preferred) to the address it
 * came from. */
typedef struct cdtls_path {
    const void *addr; /* the datagram's source address (borrowed for the call); NULL: unknown */
    size_t addr_len;
    /* 1: the datagram came in on a local path this side no longer prefers
     * (it moved away voluntarily): a path_challenge on it gets path_drop */
    int not_preferred;
} cdtls_path;
/* cdtls_conn_recv with the datagram's source (from may be NULL: unknown). */
CDTLS_API int cdtls_conn_recv_path(cdtls_conn *c, const uint8_t *dgram, size_t len, const cdtls_oob *oob,
                                   const cdtls_path *from, uint64_t now_ms);
/* cdtls_conn_next_datagram that also says where the datagram goes: *to
 * (borrowed from the connection, valid until its next call) with *to_len
 * bytes; NULL and 0 when no address is known (send it to the peer as
 * usual). Datagrams to a checked address come first. Callers of
 * cdtls_conn_recv_path use this one: cdtls_conn_next_datagram never hands
 * out a datagram meant for an address other than the path's. */
CDTLS_API int cdtls_conn_next_datagram_path(cdtls_conn *c, uint8_t *buf, size_t cap, size_t *len,
                                            cdtls_oob *oob, const void **to, size_t *to_len);
/* 1 if both sides sent the rrc extension. */
CDTLS_API int cdtls_conn_uses_rrc(const cdtls_conn *c);
/* The validated path address (borrowed), NULL with *len 0 if none known. */
CDTLS_API const void *cdtls_conn_path_address(const cdtls_conn *c, size_t *len);

/* Connection state export (moving an established session to another
 * process or host): the keys, the next sequence numbers, the replay window
 * and what was negotiated (suite, EMS, ALPN, SRTP, CIDs, peer address, PSK
 * identity), as a versioned blob encrypted and authenticated with key (32
 * bytes, shared by the two processes; ChaCha20-Poly1305 or AES-256-GCM).
 * Not carried: the peer's certificate chain, and data queued but not yet
 * read or sent. Export only once the handshake settled (established); the
 * exporting connection is retired (CLOSED, it sends nothing more), since
 * two live copies would reuse AEAD nonces. Up to about 1 KiB.
 * DTLS 1.3 (blob version 2): the current application traffic secrets both
 * ways (KeyUpdate goes on from them), the exporter secret, epochs, sequence
 * numbers, the read epoch's replay window and the AEAD-limit counters; not
 * carried besides: the read keys of the epoch before the peer's last
 * KeyUpdate (its stragglers are lost). A 1.3 connection whose final flight
 * or KeyUpdate is not acknowledged yet gives CDTLS_ERR_BAD_STATE (export
 * once it settled), as does one whose CIDs changed after the handshake
 * (cdtls_conn_issue_cids / _request_cids, either side: not moved); a build without 1.3 refuses a 1.3 blob with
 * CDTLS_ERR_UNSUPPORTED.
 * Import: cfg supplies provider, allocator, callbacks and limits; errors:
 * CDTLS_ERR_AUTH (wrong key or altered blob), CDTLS_ERR_DECODE,
 * CDTLS_ERR_UNSUPPORTED (another version, or a suite this build lacks). */
CDTLS_API int cdtls_conn_export_state(cdtls_conn *c, const uint8_t key[32], uint8_t *out, size_t cap,
                                      size_t *out_len);
CDTLS_API int cdtls_conn_import_state(const cdtls_config *cfg, const uint8_t key[32], const uint8_t *in,
                                      size_t len, uint64_t now_ms, cdtls_conn **out);

/* Keying material exporter (RFC 5705 §4): out_len bytes of
 *   PRF(master_secret, label, client_random + server_random
 *       [+ uint16 context_len + context])
 * with the suite's PRF hash, once the connection is established. The
 * context is used when use_context is 1 (an empty context then differs from
 * no context). Labels the TLS key schedule uses ("client finished",
 * "server finished", "master secret", "extended master secret", "key
 * expansion") are refused with CDTLS_ERR_INVALID_ARG; CDTLS_ERR_BAD_STATE
 * before the handshake completes. For DTLS-SRTP keys see cdtls/srtp.h. */
CDTLS_API int cdtls_conn_export_keying_material(const cdtls_conn *c, const char *label,
                                                const uint8_t *context, size_t context_len, int use_context,
                                                uint8_t *out, size_t out_len);

/* ---------------------------------------------------------------------------
 * Stateless cookie exchange for servers (RFC 6347 §4.2.1).
 *
 * A server feeds every datagram from a peer it has no connection for to
 * cdtls_hello_verifier_check_full() before it allocates anything for that
 * peer:
 *   CDTLS_OK                 the datagram holds a ClientHello (or the start
 *                            of one) with a valid cookie: create a server
 *                            connection, call cdtls_conn_set_cookie_verified(),
 *                            feed it *hello if not NULL (then release it with
 *                            cdtls_hello_verifier_release), then the datagram,
 *                            then every later one from that peer.
 *   CDTLS_ERR_WOULD_BLOCK    *reply_len > 0: reply[0..*reply_len) is a
 *                            HelloVerifyRequest (DTLS 1.2) or a
 *                            HelloRetryRequest with a cookie (DTLS 1.3, RFC
 *                            9147 §5.1): send it to the peer. *reply_len 0:
 *                            the datagram held fragments of a ClientHello
 *                            that the verifier keeps (below); send nothing.
 *   any other error          drop the datagram.
 *
 * ClientHellos may come in fragments, over several records and datagrams
 * (RFC 6347 §4.2.3, RFC 9147 §5.5; a DTLS 1.3 browser's hello with a
 * post-quantum key share is ~1.4 KB, cut at MTU ~1200).
 *  - When the configuration serves DTLS 1.3, a fragmented hello is
 *    reassembled here before it is answered: the HelloRetryRequest's cookie
 *    holds the hash of the whole first hello, and whether it offers 1.3
 *    (supported_versions), or returns our 1.3 cookie (the cookie
 *    extension), may be in any fragment. Reassembly is bounded by
 *    cfg.hello_reasm (pending hellos, per source prefix, bytes, time; the
 *    oldest is evicted first) and keyed by address and message_seq; a
 *    fragment that disagrees with bytes held is dropped. A 1.3 hello gets
 *    the HelloRetryRequest, any other the HelloVerifyRequest. When a second
 *    hello whose fragments came in several datagrams verifies, *hello is
 *    the whole hello as one datagram of epoch-0 records.
 *  - A hello whose fragment at offset 0 carries a valid legacy (DTLS 1.2)
 *    cookie passes on that fragment alone; the connection reassembles the
 *    rest. Its fragments that came before the first one in other calls are
 *    not handed out (feed the connection the datagrams of the same batch
 *    after the one that returned CDTLS_OK, as the socket listener does, or
 *    let the client's retransmission bring them, RFC 6347 §4.2.4).
 *  - Without DTLS 1.3 nothing is reassembled: a fragmented first hello is
 *    answered from its fragment at offset 0 alone (the HelloVerifyRequest
 *    cookie binds only what it holds: address, client_version, random,
 *    session_id), its other fragments are dropped.
 * A ClientHello whose message length exceeds CDTLS_MAX_CLIENT_HELLO_LEN is
 * dropped here and by the connection.
 *
 * cdtls_hello_verifier_check() is _check_full() without *hello: a verified
 * hello that was reassembled from earlier datagrams returns CDTLS_OK and
 * the connection waits for the client to retransmit it.
 */
#define CDTLS_MAX_CLIENT_HELLO_LEN 16384u

typedef struct cdtls_hello_verifier cdtls_hello_verifier;

CDTLS_API int cdtls_hello_verifier_new(const cdtls_config *cfg, uint64_t now_ms, cdtls_hello_verifier **out);
CDTLS_API void cdtls_hello_verifier_free(cdtls_hello_verifier *v);
CDTLS_API int cdtls_hello_verifier_check(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                                         const uint8_t *dgram, size_t len, uint64_t now_ms, uint8_t *reply,
                                         size_t reply_cap, size_t *reply_len);
CDTLS_API int cdtls_hello_verifier_check_full(cdtls_hello_verifier *v, const void *addr, size_t addr_len,
                                              const uint8_t *dgram, size_t len, uint64_t now_ms,
                                              uint8_t *reply, size_t reply_cap, size_t *reply_len,
                                              uint8_t **hello, size_t *hello_len);
CDTLS_API void cdtls_hello_verifier_release(cdtls_hello_verifier *v, uint8_t *hello, size_t hello_len);


/* ---------------------------------------------------------------------------
 * Observing a connection (for tools, logs and tests: what `openssl s_client
 * -msg -state` shows). An observer is called synchronously from inside the
 * engine's calls (cdtls_conn_recv, _on_timeout, _start, _close, ...) as
 * things happen; it must not call back into the same connection except for
 * the read-only accessors above (cdtls_conn_cipher_suite, _alpn, _resumed,
 * _uses_cid, _own_cid, _peer_cid, _peer_certificates, _psk_identity,
 * _get_state, _error, _peer_alert). It sees message types and lengths,
 * never their contents or any secret. The HelloVerifyRequest of a server
 * connection doing its own cookie exchange is not reported (a listener's
 * is, as CDTLS_EVENT_HELLO_VERIFY_SENT). The library makes the events: a
 * later version may append members to cdtls_event and kinds to the enum
 * (ignore kinds you do not know).
 *
 * DTLS 1.3 (RFC 9147) reports the same kinds: every handshake message with
 * its RFC 8446 §4 HandshakeType (EncryptedExtensions, CertificateRequest,
 * Certificate, CertificateVerify, Finished; a HelloRetryRequest as a
 * ServerHello with hello_retry set, the server's stateless one included;
 * after the handshake KeyUpdate and NewSessionTicket), RETRANSMIT when a
 * flight (only its unacknowledged parts, §7.2) or a KeyUpdate goes again,
 * ACK_SENT / ACK_RECEIVED for ACK records, ESTABLISHED with version 0xfefc
 * and the group of the key exchange (0 and NULL for psk_ke), and the same
 * ALERT_* and FAILED events as 1.2. There is no CCS in 1.3. */
typedef enum cdtls_event_kind {
    /* A handshake message of ours, added to the flight being built (the
     * flight is sent when it is complete): hs_type, message_seq, length. */
    CDTLS_EVENT_HANDSHAKE_SENT = 1,
    /* A handshake message of the peer's, whole (reassembled) and in order,
     * handed to the state machine (which may still refuse it: a FAILED
     * event then follows): hs_type, message_seq, length. */
    CDTLS_EVENT_HANDSHAKE_RECEIVED,
    CDTLS_EVENT_CCS_SENT,     /* our ChangeCipherSpec, added to the flight */
    CDTLS_EVENT_CCS_RECEIVED, /* the peer's ChangeCipherSpec, accepted */
    /* Our last flight was sent again (RFC 6347 §4.2.4): by_timer 1 when
     * the retransmission timer fired, 0 when the peer retransmitted its
     * own flight (it lost ours); retransmits counts them for this flight,
     * timeout_ms is the (doubled) timer now running. */
    CDTLS_EVENT_RETRANSMIT,
    CDTLS_EVENT_ALERT_SENT,     /* alert_level, alert_desc */
    CDTLS_EVENT_ALERT_RECEIVED, /* alert_level, alert_desc */
    /* The handshake completed: version (wire value, 0xfefd = DTLS 1.2) and
     * group (IANA NamedGroup and its name; 0 and NULL without ECDHE, as in a
     * PSK suite or a resumed session); the other results from the accessors. */
    CDTLS_EVENT_ESTABLISHED,
    CDTLS_EVENT_FAILED, /* the connection failed: error (cdtls_strerror) */
    /* cdtls_listener only (cdtls_listener_set_observer, cdtls/sock.h): */
    CDTLS_EVENT_HELLO_VERIFY_SENT, /* a ClientHello without a valid cookie was answered; no connection */
    CDTLS_EVENT_EVICTED,           /* a handshake in progress gave its place to a newer one (issue 20) */
    CDTLS_EVENT_IDLE,              /* an established peer was silent for cfg.listener.idle_timeout_ms */
    /* DTLS 1.3 only (RFC 9147 §7): an ACK record of ours queued, or one of
     * the peer's that parsed, in either case ack_records the record
     * numbers it lists (an ACK with none is legal and reported) */
    CDTLS_EVENT_ACK_SENT,
    CDTLS_EVENT_ACK_RECEIVED,
    /* Return Routability Check (RFC 9853): what happened to a path,
     * path_event (cdtls_path_event); path_sent / path_received are the
     * bytes sent to / received from the address being checked. */
    CDTLS_EVENT_PATH
} cdtls_event_kind;

typedef enum cdtls_path_event {
    CDTLS_PATH_CHALLENGE_SENT = 1, /* a path_challenge queued (to the new address, or the old: enhanced) */
    CDTLS_PATH_VALIDATED,          /* the new address answered: it is the path now */
    CDTLS_PATH_KEPT,               /* enhanced: the old address answered path_response, the path stays */
    CDTLS_PATH_DROP_RECEIVED,      /* the peer answered path_drop */
    CDTLS_PATH_FAILED,             /* no answer within T: the path stays */
    CDTLS_PATH_BUDGET,             /* a path_challenge withheld: the anti-amplification limit */
    CDTLS_PATH_CHALLENGE_ANSWERED  /* the peer's path_challenge answered (path_response or path_drop) */
} cdtls_path_event;

typedef struct cdtls_event {
    cdtls_event_kind kind;
    uint8_t hs_type; /* HANDSHAKE_*: RFC 5246 §7.4 HandshakeType (cdtls_handshake_type_name) */
    uint16_t message_seq;
    uint32_t length;                 /* HANDSHAKE_*: the message body's length */
    uint8_t alert_level, alert_desc; /* ALERT_*: RFC 5246 §7.2 (cdtls_alert_name) */
    int error;                       /* FAILED */
    unsigned retransmits;            /* RETRANSMIT */
    int by_timer;                    /* RETRANSMIT */
    uint32_t timeout_ms;             /* RETRANSMIT */
    uint16_t version;                /* ESTABLISHED */
    uint16_t group;                  /* ESTABLISHED */
    const char *group_name;          /* ESTABLISHED: "X25519", "P-256", ... or NULL */
    /* HANDSHAKE_*: 1 when this ServerHello is a HelloRetryRequest (RFC 8446
     * §4.1.3: hs_type server_hello, the special random) */
    int hello_retry;
    unsigned ack_records;              /* ACK_*: how many record numbers the ACK lists */
    cdtls_path_event path_event;       /* PATH */
    uint64_t path_sent, path_received; /* PATH */
} cdtls_event;

/* c is NULL only for a listener's HELLO_VERIFY_SENT. */
typedef void (*cdtls_observer)(void *user, const cdtls_conn *c, const cdtls_event *ev);

/* This connection's observer (NULL: none); replaces the one it took from
 * its context. */
CDTLS_API int cdtls_conn_set_observer(cdtls_conn *c, cdtls_observer fn, void *user);
/* The observer every connection made from ctx afterwards starts with
 * (cdtls_conn_new_from, cdtls_sock_dial_from): set it before making
 * connections, not while other threads make them from the same context. */
CDTLS_API int cdtls_context_set_observer(cdtls_context *ctx, cdtls_observer fn, void *user);
/* "ClientHello", "ServerKeyExchange", ...; "unknown" for other values. */
CDTLS_API const char *cdtls_handshake_type_name(uint8_t type);
/* The message a HANDSHAKE_* event names: cdtls_handshake_type_name, but
 * "HelloRetryRequest" for a ServerHello that is one; NULL for other kinds. */
CDTLS_API const char *cdtls_event_message_name(const cdtls_event *ev);
/* "close_notify", "handshake_failure", ... (RFC 5246 §7.2, RFC 4279,
 * RFC 7301); "unknown" for other values. */
CDTLS_API const char *cdtls_alert_name(uint8_t desc);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_CONN_H */
