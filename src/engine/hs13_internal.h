/* The DTLS 1.3 handshake (RFC 9147 §5, RFC 8446 §4) and its record layer
 * use in the engine: what hs13_common.c (records, flights, keys, the
 * dispatcher), hs13_client.c and hs13_server.c share.
 *
 *   client                                   server
 *   ClientHello (+key_share, +psk)   -->
 *                                    <--     HelloRetryRequest (+cookie)   [optional]
 *   ClientHello (+cookie)            -->
 *                                    <--     ServerHello                   epoch 0
 *                                            EncryptedExtensions           epoch 2
 *                                            [CertificateRequest]
 *                                            [Certificate, CertificateVerify]
 *                                            Finished
 *   [Certificate, CertificateVerify] -->                                   epoch 2
 *   Finished
 *                                    <--     ACK                           epoch 3
 *   application data                 <->     application data              epoch 3
 */
#ifndef CDTLS_ENGINE_HS13_INTERNAL_H
#define CDTLS_ENGINE_HS13_INTERNAL_H

#include "engine/hs_internal.h"

#if CDTLS_HAVE_DTLS13

#include "handshake/hs13_msg.h"
#include "engine/ack13.h"
#include "keys/hybrid_kex.h"
#include "keys/tls13_schedule.h"
#include "record/record13.h"

typedef enum hs13_state {
    H13_NONE = 0,
    /* client */
    H13_C_WAIT_SH,      /* ServerHello or HelloRetryRequest */
    H13_C_WAIT_EE,      /* EncryptedExtensions */
    H13_C_WAIT_CERT_CR, /* CertificateRequest or Certificate */
    H13_C_WAIT_CERT,    /* Certificate (after CertificateRequest) */
    H13_C_WAIT_CV,      /* the server's CertificateVerify */
    H13_C_WAIT_FIN,     /* the server's Finished */
    /* server */
    H13_S_WAIT_CH2,  /* after a HelloRetryRequest without cookie (we keep state) */
    H13_S_WAIT_CERT, /* the client's Certificate (we asked) */
    H13_S_WAIT_CV,   /* its CertificateVerify */
    H13_S_WAIT_FIN,  /* its Finished */
    H13_DONE
} hs13_state;

#define H13_MAX_CH 4096u                        /* our ClientHello body, kept until the ServerHello */
#define H13_MAX_HRR 512u                        /* a HelloRetryRequest body we accept / write */
#define H13_MAX_COOKIE 128u                     /* cookie extension we keep (client) */
#define H13_MAX_SHARES 2u                       /* key shares a ClientHello of ours carries */
#define H13_MAX_GROUPS (CDTLS_GROUP__COUNT + 1) /* the classical groups and X25519MLKEM768 */

/* The DTLS 1.3 state of a connection: allocated by a client that offers
 * 1.3 (with its first ClientHello) and by a server that picks it; freed
 * (wiped) with the connection, or as soon as 1.2 is negotiated. */
/* What only the handshake needs: freed (wiped) once it is over: by the
 * server when the client's Finished arrived, by the client when the server
 * acknowledged its final flight (or it gave up resending it). */
typedef struct h13_hs {
    /* transcript (RFC 9147 §5.2: TLS-style 4-byte message headers) */
    cdtls_hash_ctx th;
    int th_on;
    tls13_schedule ks;
    uint8_t c_hs[TLS13_MAX_HASH], s_hs[TLS13_MAX_HASH]; /* handshake traffic secrets */
    uint8_t fin_th[TLS13_MAX_HASH];                     /* transcript through the server Finished */
    /* client: key shares, the first ClientHello, a HelloRetryRequest */
    const cdtls_kx_vt *kx[H13_MAX_SHARES];
    cdtls_kx_key kx_key[H13_MAX_SHARES];
    uint8_t kx_pub[H13_MAX_SHARES][CDTLS_KX_MAX_PUBLIC];
    size_t n_kx;
    /* client: an X25519MLKEM768 share (draft-ietf-tls-ecdhe-mlkem), kept
     * apart from kx[] (its keys are ~3.7 KB): allocated while offered,
     * wiped and freed with the other shares */
    struct h13_hybrid *hyb;
    uint8_t *ch; /* ClientHello body (until the transcript starts) */
    size_t ch_len, ch_cap;
    uint8_t hrr[H13_MAX_HRR]; /* the HelloRetryRequest body (binders after it hash it) */
    size_t hrr_len;
    uint8_t ch1_hash[TLS13_MAX_HASH];
    uint8_t cookie[H13_MAX_COOKIE];
    size_t cookie_len;
    uint8_t cr_context[255];
    size_t cr_context_len;
    /* ACKs (RFC 9147 §7): what of our flight the peer has */
    ack13_tx atx;
} h13_hs;

/* The DTLS 1.3 state of a connection: allocated by a client that offers
 * 1.3 (with its first ClientHello) and by a server that picks it; freed
 * (wiped) with the connection, or as soon as 1.2 is negotiated. */
typedef struct conn13 {
    hs13_state st;
    uint16_t suite;      /* 0 until chosen */
    cdtls_hash_alg hash; /* the suite's */
    size_t hash_len, key_len;
    int offered; /* client: our ClientHello offered 1.3 */
    h13_hs *hh;  /* NULL once the handshake is over */

    uint8_t c_ap[TLS13_MAX_HASH], s_ap[TLS13_MAX_HASH]; /* application traffic secrets (current) */
    uint8_t exporter[TLS13_MAX_HASH];                   /* exporter_master_secret */

    /* record layer: write side */
    uint64_t tx_epoch;             /* 0, 2, 3, 4... */
    uint64_t tx_seq_hs, tx_seq_ap; /* next sequence numbers of epoch 2 and of the application epoch */
    uint64_t tx_ap_epoch;
    /* each allocated while in use (a cipher holds its provider contexts,
     * ~1.6 KB): epoch 2 goes once the handshake no longer needs it */
    record13_cipher *tx_hs, *tx_ap;
    /* read side: epoch 2, the current application epoch and the one before
     * a KeyUpdate (kept until the peer's records of the old one stop) */
    record13_rx_epoch *rx_hs, *rx_ap, *rx_ap_old;
    uint64_t hs_read_epoch; /* epoch the handshake messages of the current state come in */
    uint16_t cur_msg_seq;   /* message_seq of the message being handled */

    int hrr_seen;
    int psk_offered;         /* pre_shared_key in our ClientHello */
    unsigned psk_modes;      /* offered (client) */
    cdtls_hash_alg psk_hash; /* the external PSK's (hs13_psk_hash) */
    int psk_selected;        /* the server accepted our PSK / we accepted the client's */
    int cert_requested;      /* the server sent CertificateRequest */
    struct h13_pha *pha;     /* post-handshake auth (hs13_posthandshake.c), NULL unless offered */
    uint16_t client_sig;     /* client: scheme for our CertificateVerify, 0: none possible */
    int final_pending;       /* client: our final flight is not ACKed yet (RFC 9147 §5.8.3) */
    uint16_t selected_group; /* server: the group of the HelloRetryRequest (stateful, no cookie) */

    /* the records of the peer's flight we list in our ACK (RFC 9147 §7) */
    ack13_rx arx;
    int ack_tracking; /* hh->atx describes the flight in c->flight */
    uint64_t last_ack_ms;
    /* KeyUpdate (RFC 9147 §8): ours until ACKed, the record numbers that
     * carried it; how many updates each way (tests read them) */
    int ku_pending;
    uint64_t last_now_ms;   /* the newest time a call gave us (writes have none) */
    uint8_t ku_msg[12 + 1]; /* handshake header + KeyUpdateRequest */
    ack13_record_number ku_rn[8];
    size_t n_ku_rn;
    unsigned ku_sent, ku_received;
    uint64_t retransmitted_bytes; /* handshake message bytes sent again (tests read them) */
    uint64_t full_resend_bytes;   /* ...and what resending whole flights would have sent */
    uint16_t group;               /* the key exchange's group, 0 for psk_ke (the observer reports it) */
    struct hs13_cid_state *cid;   /* NewConnectionId / RequestConnectionId (hs13_cid.c), NULL until used */
    /* resumption (hs13_ticket.c): the PSK offered / selected is a ticket's
     * ("res binder"), not an external one; the ticket state */
    int psk_resumption;
    int ticket_offered; /* client: our hello's first identity is a ticket */
    struct h13_ticket *tk;
} conn13;

/* The client's X25519MLKEM768 private half and its ClientHello share. */
typedef struct h13_hybrid {
    hybrid_client hc;
    uint8_t share[HYBRID_CLIENT_SHARE_LEN];
} h13_hybrid;

/* Frees the handshake-only part (hh). */
void hs13_handshake_done(cdtls_conn *c);

/* hs13_common.c */
int hs13_suite_params(uint16_t suite, cdtls_hash_alg *hash, size_t *key_len);
/* The hash of an external PSK given the client's suites (hs13_client.c). */
cdtls_hash_alg hs13_psk_hash(const uint16_t *suites, size_t n);
/* Our 1.3 suites in preference order that the provider can do. */
size_t hs13_our_suites(const cdtls_conn *c, uint16_t *out, size_t cap);
size_t hs13_cfg_suites(const cdtls_config *cfg, const cdtls_provider *p, uint16_t *out, size_t cap);
int hs13_cfg_allows_13(const cdtls_config *cfg, const cdtls_provider *p);
/* Our 1.3 key exchange groups in preference order (IANA NamedGroup) that
 * the provider can do: the configured list, or by default X25519MLKEM768
 * (when the provider has ML-KEM-768, hybrid_kex_available), X25519, P-256,
 * P-384. The hybrid is 1.3-only: the 1.2 code keeps hs_our_groups. */
size_t hs13_cfg_groups(const cdtls_config *cfg, const cdtls_provider *p, uint16_t *out, size_t cap);
size_t hs13_our_groups(const cdtls_conn *c, uint16_t *out, size_t cap);
/* Frees (wiped) the client's hybrid share, if any. */
void hs13_hybrid_free(cdtls_conn *c);
/* The versions this side speaks: 1 when 1.3 / 1.2 are allowed. */
int hs13_allows_13(const cdtls_conn *c);
int hs13_allows_12(const cdtls_conn *c);
/* RFC 8446 §4.2.3: the schemes allowed in a 1.3 CertificateVerify that we can do */
size_t hs13_our_sig_algs(const cdtls_conn *c, uint16_t *out, size_t cap);
uint16_t hs13_sig_choose(const cdtls_conn *c, cdtls_key_type t, const uint8_t *peer, size_t peer_len);
int hs13_sig_fits(uint16_t scheme, cdtls_key_type t);
conn13 *hs13_alloc(cdtls_conn *c);
void hs13_free(cdtls_conn *c);
void hs13_set_suite(conn13 *v, uint16_t suite);
void hs13_transcript_start(cdtls_conn *c);
/* a message as the transcript hashes it: type, uint24 length, body */
void hs13_transcript_add(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len);
void hs13_transcript_hash(const cdtls_conn *c, uint8_t *out);
/* ClientHello1 replaced by message_hash, then the HelloRetryRequest (§4.4.1) */
int hs13_transcript_after_hrr(cdtls_conn *c, const uint8_t *ch1_hash, const uint8_t *hrr, size_t hrr_len);
/* Hash(prefix || truncated ClientHello) for a binder: prefix is
 * message_hash+HRR after a HelloRetryRequest (hrr non-NULL) */
int hs13_binder_hash(const cdtls_conn *c, const uint8_t *ch1_hash, const uint8_t *hrr, size_t hrr_len,
                     const uint8_t *ch, size_t ch_len, size_t binders_offset, uint8_t *out);
int hs13_binder(const cdtls_conn *c, const uint8_t *psk, size_t psk_len, const uint8_t *hash_in,
                uint8_t *out);
/* Queues a handshake message in the flight, protected by epoch, and adds
 * it to the transcript. */
int hs13_queue(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint8_t epoch);
int hs13_flight_send(cdtls_conn *c, uint64_t now_ms, int awaits_reply);
int hs13_flight_retransmit(cdtls_conn *c, uint64_t now_ms);
/* key schedule steps, both roles */
int hs13_handshake_keys(cdtls_conn *c, const uint8_t *psk, size_t psk_len, const uint8_t *shared,
                        size_t shared_len);
int hs13_application_keys(cdtls_conn *c); /* over the transcript through the server Finished */
/* The record keys of a traffic secret (RFC 8446 §7.3, RFC 9147 §4.2.3) */
int hs13_cipher_from_secret(cdtls_conn *c, record13_cipher *out, const uint8_t *secret);
int hs13_install_tx(cdtls_conn *c, int app);
int hs13_install_rx(cdtls_conn *c, int app);
int hs13_finished_make(cdtls_conn *c, int from_server, uint8_t *out);
int hs13_finished_check(cdtls_conn *c, int from_server, const uint8_t *body, size_t len);
void hs13_keylog(const cdtls_conn *c, const char *label, const uint8_t *secret);
/* Certificate (1.3 form) of our chain; the peer's, copied, parsed, judged */
int hs13_queue_certificate(cdtls_conn *c, const uint8_t *context, size_t context_len, size_t n_chain);
int hs13_on_certificate(cdtls_conn *c, const uint8_t *body, size_t len, int judge, size_t *n_out);
int hs13_queue_certificate_verify(cdtls_conn *c, uint16_t scheme);
int hs13_certificate_verify_check(cdtls_conn *c, const uint8_t *body, size_t len);
int hs13_certificate_verify_check_over(cdtls_conn *c, const uint8_t *body, size_t len, const uint8_t *th,
                                       int from_server);
int hs13_send_ack(cdtls_conn *c, uint64_t now_ms);
void hs13_established(cdtls_conn *c);
/* KeyUpdate: ours (request_peer: update_requested), and the peer's */
int hs13_key_update_send(cdtls_conn *c, int request_peer, uint64_t now_ms);
/* Drops the epoch-2 keys of one direction (wiped). */
void hs13_drop_tx_hs(cdtls_conn *c);
void hs13_drop_rx_hs(cdtls_conn *c);


/* hs13_posthandshake.c: post-handshake client authentication (RFC 8446
 * §4.6.2); the state is opaque to the rest of the engine */
typedef struct h13_pha h13_pha;
int hs13_on_certificate_ctx(cdtls_conn *c, const uint8_t *body, size_t len, int judge, const uint8_t *ctx,
                            size_t ctx_len, size_t *n_out);
int hs13_post_handshake_send(cdtls_conn *c, const uint8_t *msg, size_t len, ack13_record_number *rn);
uint64_t hs13_backoff(const cdtls_conn *c, uint32_t *timeout_ms, uint64_t now_ms);
int hs13_seal_app_record(cdtls_conn *c, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len);
void hs13_ph_offered(cdtls_conn *c, int offered); /* client: we offered; server: the client did */
void hs13_ph_keep_transcript(cdtls_conn *c);      /* at the client's Finished */
void hs13_ph_free(cdtls_conn *c);
int hs13_ph_handles(uint8_t type); /* a post-handshake message type of ours */
/* a fragment of a message of those types at or after the next message_seq */
int hs13_ph_receive(cdtls_conn *c, const hs_header *h, const uint8_t *frag, uint64_t epoch, uint64_t seq,
                    uint64_t now_ms);
void hs13_ph_on_ack(cdtls_conn *c, const ack13_record_number *rns, size_t n);
uint64_t hs13_ph_timeout(const cdtls_conn *c);
int hs13_ph_on_timeout(cdtls_conn *c, uint64_t now_ms);
int hs13_ph_request(cdtls_conn *c, int require, uint64_t now_ms);
/* 1 while an exchange is under way (a request out, an answer unACKed) */
int hs13_ph_busy(const cdtls_conn *c);

/* hs13_client.c */
/* Writes our ClientHello (1.3 form, offering 1.2 too when allowed) from
 * the 1.2 fields in ch: keys shares, supported_versions, PSK binders. */
int hs13_client_hello_build(cdtls_conn *c, hs_client_hello *ch, uint8_t *body, size_t cap, size_t *len);
/* The ServerHello body arrived while we offered 1.3: *is13 says whether it
 * selected 1.3 (then it was handled here); else the 1.2 code goes on,
 * after the downgrade check. */
int hs13_client_on_server_hello(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms, int *is13);
int hs13_client_message(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint64_t now_ms);

/* hs13_server.c */
/* A ClientHello: *is13 set when it was answered (or refused) as DTLS 1.3. */
int hs13_server_client_hello(cdtls_conn *c, uint16_t msg_seq, const uint8_t *body, size_t body_len,
                             uint64_t record_seq, uint64_t now_ms, int *is13);
int hs13_server_message(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t len, uint64_t now_ms);
/* 1 when a server set up like this one would pick 1.3 for some client */
int hs13_server_enabled(const cdtls_conn *c);
int hs13_cfg_server_enabled(const cdtls_config *cfg, const cdtls_provider *p);
/* The stateless HelloRetryRequest of a listener's hello verifier (RFC 9147
 * §5.1) for an unfragmented 1.3 ClientHello body: *answered 0 when this
 * hello is not one to answer so (the 1.2 cookie exchange goes on), else
 * the record in out, or CDTLS_OK with *verified when its cookie is ours. */
int hs13_verifier_hello(const cdtls_config *cfg, const cdtls_provider *p, const cookie_keys *keys,
                        const void *addr, size_t addr_len, const uint8_t *body, size_t len, uint16_t msg_seq,
                        uint64_t record_seq, uint8_t *out, size_t cap, size_t *out_len, int *answered,
                        int *verified);

/* Seals one record of epoch into dgram at *used (hs13_common.c). */
int hs13_put_record(cdtls_conn *c, uint64_t epoch, uint8_t type, const uint8_t *pt, size_t len,
                    uint8_t *dgram, size_t cap, size_t *used, ack13_record_number *rn);

/* hs13_ticket.c: resumption (RFC 8446 §4.6.1, §4.2.11; RFC 9147 §5.8) */
typedef struct h13_ticket h13_ticket;
void hs13_ticket_free(cdtls_conn *c);
int hs13_ticket_res_master(cdtls_conn *c); /* transcript through the client Finished */
void hs13_ticket_server_issue(cdtls_conn *c, uint64_t now_ms);
uint64_t hs13_ticket_timer(const cdtls_conn *c);
int hs13_ticket_pending(const cdtls_conn *c);
int hs13_ticket_on_timeout(cdtls_conn *c, uint64_t now_ms);
void hs13_ticket_on_ack(cdtls_conn *c, const ack13_record_number *rns, size_t n);
int hs13_ticket_server_find(cdtls_conn *c, const hs13_client_hello *ch);
void hs13_ticket_psk_hash(const cdtls_conn *c, cdtls_hash_alg *hash);
void hs13_ticket_server_used(cdtls_conn *c);
int hs13_ticket_client_offer(cdtls_conn *c, hs13_psk_identity *id, cdtls_hash_alg *hash);
int hs13_ticket_wanted(const cdtls_conn *c);
const uint8_t *hs13_offered_psk(const cdtls_conn *c, size_t *len);
int hs13_ticket_client_on_nst(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms);

#endif /* CDTLS_HAVE_DTLS13 */
#endif
