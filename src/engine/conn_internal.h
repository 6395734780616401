/* The connection object and what the engine's files share. */
#ifndef CDTLS_ENGINE_CONN_INTERNAL_H
#define CDTLS_ENGINE_CONN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/conn.h"
#include "engine/dgram_queue.h"
#include "handshake/cookie.h"
#include "handshake/hs_msg.h"
#include "handshake/hs_reasm.h"
#include "handshake/suites.h"
#include "keys/keyschedule.h"
#include "record/record.h"

/* DTLS 1.3 (RFC 9147) is compiled in unless CDTLS_NO_DTLS13 (build option
 * -Ddtls13=false) or a PSK-only build (its firmware image stays as small
 * as it was). */
#if !defined(CDTLS_NO_DTLS13) && !defined(CDTLS_PSK_ONLY)
#define CDTLS_HAVE_DTLS13 1
#else
#define CDTLS_HAVE_DTLS13 0
#endif
struct conn13;

/* Handshake states (RFC 6347 §4.2.4 flights, RFC 5246 §7.3 message order). */
typedef enum hs_state {
    /* client */
    HS_C_START = 0,
    HS_C_WAIT_SERVER_HELLO, /* after flight 1 or 3: HelloVerifyRequest or ServerHello */
    HS_C_WAIT_CERT,         /* certificate suites: the server's Certificate */
    HS_C_WAIT_SKE,          /* certificate suites: the signed ServerKeyExchange */
    HS_C_WAIT_CR_OR_SHD,    /* certificate suites: CertificateRequest or ServerHelloDone */
    HS_C_WAIT_SKE_OR_SHD,   /* after ServerHello (PSK: ServerKeyExchange is optional) */
    HS_C_WAIT_SHD,          /* after ServerKeyExchange */
    HS_C_WAIT_FINISHED,     /* after flight 5: server CCS + Finished */
    /* server */
    HS_S_WAIT_CLIENT_HELLO,
    HS_S_WAIT_CLIENT_CERT, /* after flight 4 with CertificateRequest */
    HS_S_WAIT_CKE,         /* after flight 4 */
    HS_S_WAIT_CERT_VERIFY, /* a client certificate came: its CertificateVerify */
    HS_S_WAIT_FINISHED,    /* after ClientKeyExchange: client CCS + Finished */
    /* both */
    HS_DONE
} hs_state;

/* One message (or a ChangeCipherSpec) of the flight we may have to send again. */
typedef struct flight_entry {
    uint8_t is_ccs;
    uint8_t epoch; /* 0 or 1: which write state protects it */
    uint8_t *msg;  /* whole message: 12-byte DTLS handshake header + body */
    size_t len;
} flight_entry;

#define FLIGHT_MAX_ENTRIES 8

#define CONN_MAX_ADDR 128u
#define CONN_MAX_COOKIE 255u
#define CONN_MAX_APP_QUEUE 256u           /* received records waiting for cdtls_conn_read */
#define CONN_MAX_APP_BYTES (256u * 1024u) /* ...and their plaintext bytes */
#define CONN_MAX_OUT_QUEUE 1024u          /* datagrams waiting for cdtls_conn_next_datagram */
#define CONN_MAX_HS_LOG (128u * 1024u)    /* handshake bytes kept for CertificateVerify */

/* What only a handshake needs (RFC 6347 §4.2): allocated with the
 * connection, freed (wiped) by conn_handshake_end once the handshake is
 * done and our last flight can no longer need anything of it: our final
 * flight's messages and the keys that protect it live in the connection. */
typedef struct conn_handshake {
    /* client: the cookie from HelloVerifyRequest */
    uint8_t cookie[CONN_MAX_COOKIE];
    size_t cookie_len;
    cookie_keys cookies; /* server conns doing their own cookie exchange */
    int cookies_ready;
    uint64_t hs_started_ms;

    /* PSK (the identity, which the application can read, stays in the
     * connection) */
    uint8_t psk[CDTLS_MAX_PSK_LEN];
    size_t psk_len;
    uint8_t psk_hint[CDTLS_MAX_PSK_IDENTITY_LEN];
    size_t psk_hint_len;

    /* our credentials for this handshake: the context's, or what SNI
     * certificate selection (cfg.callbacks.select_certificate) chose */
    const uint8_t *const *cert_chain;
    const size_t *cert_chain_len;
    size_t n_certs;
    const cdtls_sign_key *private_key;
    cdtls_x509_cert own_leaf; /* parsed cert_chain[0] */
    int have_own_leaf;
    cdtls_public_key own_rpk_key; /* parsed cfg.credentials.raw_public_key (RFC 7250) */
    int have_own_rpk;
    int cert_requested;         /* client: the server sent CertificateRequest */
    uint16_t sig_scheme;        /* server: the scheme signing ServerKeyExchange */
    uint16_t client_sig_scheme; /* client: the scheme for CertificateVerify, 0 = none */
    /* The handshake messages themselves, kept only when client
     * authentication may happen: CertificateVerify signs them whole
     * (RFC 5246 §7.4.8) and the provider API takes the message. */
    uint8_t *hs_log;
    size_t hs_log_len, hs_log_cap;
    int hs_log_on, hs_log_overflow;

    /* ECDHE */
    const cdtls_kx_vt *kx;
    cdtls_kx_key kx_key;
    int have_kx_key;
    uint8_t peer_kx_pub[CDTLS_KX_MAX_PUBLIC];
    size_t peer_kx_pub_len;

    /* transcript: both hashes run until the suite picks one (RFC 5246 §7.4.9) */
    cdtls_hash_ctx transcript[2]; /* [0] SHA-256, [1] SHA-384 */
    int transcript_has[2];
    uint8_t client_finished[KS_VERIFY_DATA_LEN], server_finished[KS_VERIFY_DATA_LEN];

    hs_reasm reasm;

    /* epoch 1 read keys computed, waiting for the peer's CCS, and the
     * records of epoch 1 that arrived before it */
    record_cipher pending_read;
    int have_pending_read;
    dgram_queue early;
    /* application data under the new keys that overtook the peer's
     * Finished (conn_handle_app_data): the application's once established */
    dgram_queue early_app;
} conn_handshake;

#define CONTEXT_MAX_SUITES 64u

/* A validated configuration (cdtls_context_new): immutable once made,
 * shared by every connection made from it. The configuration's borrowed
 * buffers must outlive it. */
struct cdtls_context {
    cdtls_config cfg;
    const cdtls_provider *p;
    const cdtls_allocator *a;
    cdtls_x509_cert own_leaf; /* cfg.credentials.chain[0], parsed once */
    int have_own_leaf;
    cdtls_public_key own_rpk_key; /* cfg.credentials.raw_public_key, parsed once */
    int have_own_rpk;
    /* The configured suites (or the provider's defaults) that the provider
     * can do, in preference order: filtered once here; each handshake then
     * keeps those its credentials allow (hs_our_suites). */
    uint16_t suites[CONTEXT_MAX_SUITES];
    size_t n_suites;
    /* cdtls_context_set_observer: what new connections start with */
    cdtls_observer observer;
    void *observer_user;
};

/* Flags are one-bit _Bool fields (assigning any non-zero value gives 1). */
struct cdtls_conn {
    const cdtls_context *ctx;
    const cdtls_config *cfg; /* &ctx->cfg */
    cdtls_context *own_ctx;  /* made by cdtls_conn_new from a config, freed with the connection */
    size_t mtu;              /* cfg->mtu, lowered by cdtls_conn_set_mtu */
    conn_handshake *h;       /* NULL once the handshake is over */
    const cdtls_provider *p;
    const cdtls_allocator *a;
    cdtls_role role;
    cdtls_conn_state state;
    hs_state hs;
    int error;

    /* peer alert seen */
    _Bool have_peer_alert : 1;
    uint8_t peer_alert_level, peer_alert_desc;
    _Bool close_sent : 1, close_received : 1;

    /* negotiated */
    const suite_info *suite;
    _Bool use_ems : 1, use_etm : 1, peer_secure_reneg : 1;
    uint8_t client_random[KS_RANDOM_LEN], server_random[KS_RANDOM_LEN];
    uint8_t session_id[32];
    size_t session_id_len;
    uint8_t master[KS_MASTER_LEN];


    /* server: the peer's address (bound into cookies) */
    uint8_t peer_addr[CONN_MAX_ADDR];
    size_t peer_addr_len;
    _Bool cookie_verified : 1;

    /* PSK */
    uint8_t psk_identity[CDTLS_MAX_PSK_IDENTITY_LEN];
    size_t psk_identity_len;

    /* certificates: the peer's chain (one allocation holding the DER copies) */
    /* the peer's chain: one allocation (peer_block) holding the parsed
     * certificates followed by the DER copies they point into; NULL for a
     * connection that saw none (PSK) */
    cdtls_x509_cert *peer_chain;
    size_t peer_chain_len;
    uint8_t *peer_block;
    size_t peer_block_size;

    /* handshake message sequencing and reassembly */
    uint16_t send_msg_seq;
    uint16_t peer_next_seq;      /* the peer's next message_seq once c->h is gone */
    _Bool client_hello_seen : 1; /* server: a ClientHello started the handshake */

    /* record layer state */
    uint16_t read_epoch, write_epoch;
    uint64_t write_seq[2];      /* per write epoch 0 and 1 */
    replay_window replay[2];    /* per read epoch 0 and 1 */
    record_cipher write_cipher; /* epoch 1 */
    record_cipher read_cipher;  /* epoch 1 */
    _Bool have_write_cipher : 1, have_read_cipher : 1;


    /* flights and timers */
    flight_entry flight[FLIGHT_MAX_ENTRIES];
    size_t flight_len;
    _Bool flight_awaits_reply : 1; /* retransmit on timer (not for the final flight) */
    uint64_t timer_at_ms;          /* UINT64_MAX: no timer */
    uint32_t timeout_ms;           /* current retransmission timeout */
    unsigned retransmits;
    uint64_t last_peer_retransmit_ms;

    dgram_queue out; /* datagrams to send */
    dgram_queue app; /* received application data */
    /* The queue's head is lent to the caller (cdtls_conn_peek_datagram /
     * cdtls_conn_peek_read) and not yet popped. Only the pops and the
     * copying calls take a head, so a lent head stays the head. */
    _Bool out_lent : 1, app_lent : 1;

    /* ALPN (RFC 7301) and DTLS-SRTP (RFC 5764) results */
    uint8_t alpn[256]; /* NUL-terminated */
    size_t alpn_len;
    uint16_t srtp_profile;
    uint8_t srtp_mki[255];
    size_t srtp_mki_len;

    /* Connection ID (RFC 9146) */
    _Bool cid_offered : 1;              /* client: our ClientHello carried connection_id */
    _Bool use_cid : 1;                  /* both sides sent the extension */
    uint8_t own_cid[CDTLS_MAX_CID_LEN]; /* what the peer puts on records to us */
    size_t own_cid_len;
    uint8_t peer_cid[CDTLS_MAX_CID_LEN]; /* what we put on records to the peer */
    size_t peer_cid_len;
    /* cdtls_conn_set_cid_generator: this connection's own, else the config's */
    cdtls_cid_generator cid_gen;
    void *cid_gen_ctx;
    uint64_t newest_seq; /* highest authenticated epoch-1 sequence number */
    _Bool have_newest : 1, recv_advanced : 1;

    /* Raw public keys (RFC 7250): what each side's Certificate carries */
    int own_cert_rpk, peer_cert_rpk;
    _Bool offered_server_rpk : 1, offered_client_rpk : 1; /* client: what it put in its ClientHello */
    _Bool own_x509_ok : 1, peer_x509_ok : 1;              /* client: X.509 also offered */
    _Bool rpk_server_none : 1, rpk_client_none : 1;       /* server: no certificate type in common */

    /* Session resumption (RFC 5246 §7.3, RFC 5077) */
    cdtls_session *sess; /* client: the session offered (+ a new ticket); server: the one resumed */
    _Bool have_offer : 1, offer_looked_up : 1, resumed : 1, resumed_by_ticket : 1;
    _Bool issue_ticket : 1;                   /* server: a NewSessionTicket goes in our next flight */
    _Bool expect_ticket : 1;                  /* client: the ServerHello promised a NewSessionTicket */
    _Bool got_ticket_msg : 1, got_ticket : 1; /* ...it came; and it carried a ticket we keep */
    uint8_t sni_hash[32]; /* server: SHA-256 of the ClientHello's host name (RFC 6066 §3) */

    /* cdtls_conn_set_observer (observer.c) */
    cdtls_observer observer;
    void *observer_user;
    /* version negotiation: the version in use (0 until the ServerHello),
     * and the DTLS 1.3 state (hs13_internal.h) of a client offering 1.3 or
     * of a 1.3 connection */
    uint16_t version;
    _Bool peer_offered_13 : 1; /* server: the ClientHello offered 1.3 */
    _Bool psk13_used : 1;      /* 1.3: the handshake was authenticated by the PSK */
    struct conn13 *v13;
    uint16_t kx_group; /* the (EC)DHE / hybrid group of the handshake (cdtls_conn_group), 0: none */
    /* Return Routability Check (RFC 9853, conn_rrc.c): allocated when this
     * side offers or accepts rrc; recv_authenticated: the datagram being
     * processed authenticated a record (its bytes count toward the
     * anti-amplification limit, RFC 9853 §2) */
    struct conn_rrc *rrc;
    _Bool recv_authenticated : 1;
};

/* observer.c: hands ev to the connection's observer, if it has one. */
void conn_observe(const cdtls_conn *c, const cdtls_event *ev);
void conn_observe_message(const cdtls_conn *c, cdtls_event_kind kind, const uint8_t *msg, size_t len);
/* ...a plaintext handshake record (13-byte header) holding one whole message */
void conn_observe_record(const cdtls_conn *c, cdtls_event_kind kind, const uint8_t *rec, size_t len);
/* RETRANSMIT with c->retransmits and c->timeout_ms as they are now */
void conn_observe_retransmit(const cdtls_conn *c, int by_timer);
/* ACK_SENT / ACK_RECEIVED (DTLS 1.3) */
void conn_observe_ack(const cdtls_conn *c, cdtls_event_kind kind, size_t n_records);

/* conn.c */
/* The handshake is over (established, or the state imported): its state
 * is wiped and freed. */
void conn_handshake_end(cdtls_conn *c);
/* The peer's next handshake message_seq (older ones are retransmissions). */
uint16_t conn_peer_next_seq(const cdtls_conn *c);
int conn_fail(cdtls_conn *c, int err, int alert_desc);
/* Keeps a record (or the rest of a datagram) of an epoch whose keys are not
 * there yet, up to limits.max_early_records (conn.c). */
void conn_keep_early(cdtls_conn *c, const uint8_t *rec, size_t len, const cdtls_oob *oob);
int conn_send_alert(cdtls_conn *c, uint8_t level, uint8_t desc);
void conn_transcript_add(cdtls_conn *c, const uint8_t *msg, size_t len);
int conn_transcript_hash(const cdtls_conn *c, uint8_t *out, size_t *len);
int conn_hs_queue(cdtls_conn *c, uint8_t type, const uint8_t *body, size_t body_len);
int conn_hs_queue_ccs(cdtls_conn *c);
void conn_flight_clear(cdtls_conn *c);
/* On entering the established state: the record queues keep a spare node
 * each (cfg.limits.release_buffers). */
void conn_keep_record_buffers(cdtls_conn *c);
int conn_flight_send(cdtls_conn *c, uint64_t now_ms, int awaits_reply);
int conn_install_keys(cdtls_conn *c);
int conn_compute_master(cdtls_conn *c, const uint8_t *pms, size_t pms_len);
int conn_finished_data(cdtls_conn *c, int from_server, uint8_t *out);

/* conn.c, shared with the DTLS 1.3 record path (hs13_common.c) */
int conn_handle_alert(cdtls_conn *c, const uint8_t *pt, size_t len);
int conn_handle_app_data(cdtls_conn *c, dgram_node **node, size_t len, int epoch);
/* The configured versions (cfg.versions, 0 = defaults) */
uint16_t conn_min_version(const cdtls_config *cfg);
uint16_t conn_max_version(const cdtls_config *cfg);

#if CDTLS_HAVE_DTLS13
/* hs13_common.c: the 1.3 record path, once the connection speaks 1.3 */
int hs13_process_records(cdtls_conn *c, cdtls_reader *r, const cdtls_oob *oob, uint64_t now_ms);
/* Records of the handshake epoch before its keys (RFC 9147 §4.2.1): kept
 * by conn_keep_early while hs13_keeps_early, read once hs13_early_readable. */
int hs13_keeps_early(const cdtls_conn *c, uint8_t first_byte);
int hs13_early_readable(const cdtls_conn *c);
int hs13_on_timeout(cdtls_conn *c, uint64_t now_ms);
int hs13_send_alert(cdtls_conn *c, uint8_t level, uint8_t desc);
int hs13_write(cdtls_conn *c, const uint8_t *data, size_t len, const cdtls_oob *oob);
size_t hs13_max_write(const cdtls_conn *c);
uint64_t hs13_timeout(const cdtls_conn *c);
uint16_t hs13_conn_suite(const cdtls_conn *c);
/* the key exchange's group and its name; 0 and NULL for none (psk_ke) */
uint16_t hs13_conn_group(const cdtls_conn *c, const char **name);
int hs13_key_update_send(cdtls_conn *c, int request_peer, uint64_t now_ms);
uint64_t hs13_now(const cdtls_conn *c);
void hs13_free(cdtls_conn *c);
int hs13_export(const cdtls_conn *c, const char *label, const uint8_t *context, size_t context_len,
                uint8_t *out, size_t out_len);
#endif

/* hs_app_ext.c: ALPN and use_srtp. The client's offer (written into buf,
 * which must outlive the ClientHello write); the server's choice from the
 * ClientHello (kept in the conn; alert set on refusal) and its ServerHello
 * extensions from that choice; the client's check of the ServerHello (alert
 * set on a violation). */
#define HS_APP_EXT_OFFER_MAX (CDTLS_MAX_ALPN_LIST + 2 * CDTLS_MAX_SRTP_PROFILES)
#define HS_APP_EXT_REPLY_MAX (1 + 255 + 2)
int hs_app_ext_offer(const cdtls_conn *c, hs_extensions *ext, uint8_t *buf, size_t cap);
int hs_app_ext_choose(cdtls_conn *c, const hs_extensions *offer, int *alert);
int hs_app_ext_reply(const cdtls_conn *c, hs_extensions *reply, uint8_t *buf, size_t cap);
int hs_app_ext_accept(cdtls_conn *c, const hs_extensions *reply, int *alert);
/* Checks the ALPN and SRTP settings of a config (conn_new). */
int hs_app_ext_config_ok(const cdtls_config *cfg);

/* conn_cid.c: connection IDs in the hellos (RFC 9146 §3) */
/* This side uses connection IDs: a generator, or cid.length random bytes. */
int conn_cid_wanted(const cdtls_config *cfg);
/* Makes one CID of ours into out (the generator's, or cid.length random bytes). */
int conn_cid_make(cdtls_conn *c, uint8_t *out, size_t cap, size_t *len);
int conn_cid_offer(cdtls_conn *c, hs_extensions *ext);
int conn_cid_accept_offer(cdtls_conn *c, const hs_extensions *offer, hs_extensions *reply);
int conn_cid_accept_reply(cdtls_conn *c, const hs_extensions *reply, int *alert);
/* The bytes a record to the peer grows by with a CID (0 without). */
size_t conn_cid_overhead(const cdtls_conn *c);
/* The padding (RFC 9146 §4, cfg.callbacks.cid_padding) for a record of pt_len bytes
 * of epoch `epoch`, clamped so that the record fits cap bytes and its inner
 * plaintext 2^14; 0 for records without a CID. Asks the callback once per
 * call: a caller that must size a buffer first calls this, then seals with
 * the same pad. */
size_t conn_cid_pad(cdtls_conn *c, int epoch, size_t pt_len, size_t cap);
/* Seals a record of epoch `epoch` (a CID record, with pad bytes of padding,
 * when negotiated; pad is ignored otherwise). */
int conn_seal(cdtls_conn *c, int epoch, uint8_t type, const uint8_t *pt, size_t pt_len, size_t pad,
              uint8_t *out, size_t cap, size_t *out_len);

/* conn_rrc.c: Return Routability Check (RFC 9853) */
int conn_rrc_offer(cdtls_conn *c, hs_extensions *ext);
void conn_rrc_accept_offer(cdtls_conn *c, const hs_extensions *offer, hs_extensions *reply);
int conn_rrc_accept_reply(cdtls_conn *c, const hs_extensions *reply, int *alert);
int conn_rrc_restore(cdtls_conn *c); /* conn_state.c: rrc was negotiated before the export */
/* An authenticated record of content type return_routability_check. */
int conn_rrc_handle(cdtls_conn *c, const uint8_t *pt, size_t len, int epoch, uint64_t now_ms);
uint64_t conn_rrc_timeout(const cdtls_conn *c); /* UINT64_MAX: none */
int conn_rrc_on_timeout(cdtls_conn *c, uint64_t now_ms);
void conn_rrc_free(cdtls_conn *c);

/* hs_rpk.c: raw public keys (RFC 7250) */
int rpk_have_own(const cdtls_conn *c);
int rpk_accepts_peer(const cdtls_conn *c);
int rpk_offer(cdtls_conn *c, hs_extensions *ext, uint8_t buf[8]);
/* Server: the types from the ClientHello; "none in common" only marks the
 * conn (certificate suites are then not chosen / client auth fails). */
int rpk_choose(cdtls_conn *c, const hs_extensions *offer, int *alert);
void rpk_reply(const cdtls_conn *c, hs_extensions *reply, uint8_t buf[2]);
int rpk_accept(cdtls_conn *c, const hs_extensions *reply, int *alert);
int rpk_judge(const cdtls_conn *c, const uint8_t *spki, size_t len);
/* The Certificate body for our side: chain (n entries) or raw key. */
int rpk_or_chain_write(const cdtls_conn *c, cdtls_writer *w, size_t n_chain);
size_t rpk_or_chain_size(const cdtls_conn *c, size_t n_chain);
/* DTLS 1.3: the peer's SPKI from its Certificate entry, kept and judged */
int rpk_take_peer_spki(cdtls_conn *c, const uint8_t *spki, size_t len, int judge);
/* the type of the key we would sign our CertificateVerify with: 0 if none */
int rpk_own_key_type(const cdtls_conn *c, cdtls_key_type *t);

/* hs_server.c: the server's PSK for an identity, into c->psk (and the
 * identity into c->psk_identity); CDTLS_ERR_UNKNOWN_PSK if none */
int conn_server_lookup_psk(cdtls_conn *c, const uint8_t *id, size_t id_len);

/* hs_resume.c: sessions in the store and in tickets */
void resume_client_lookup(cdtls_conn *c, const uint16_t *offered, size_t n_offered, uint64_t now_ms);
void resume_client_offer(const cdtls_conn *c, hs_client_hello *ch);
int resume_client_accepted(const cdtls_conn *c, const hs_server_hello *sh);
int resume_client_on_ticket(cdtls_conn *c, const hs_new_session_ticket *t);
int resume_server_lookup(cdtls_conn *c, const hs_client_hello *ch, uint64_t now_ms);
void resume_restore(cdtls_conn *c);
int resume_ticket_make(cdtls_conn *c, uint64_t now_ms, uint8_t *out, size_t cap, size_t *len);
void resume_remember(cdtls_conn *c, uint64_t now_ms);
void resume_forget(cdtls_conn *c);
void resume_release(cdtls_conn *c);
int resume_note_server_name(cdtls_conn *c, const uint8_t *name, size_t len);

/* ticket.c: the ticket format (RFC 5077 §4) */
const cdtls_aead_vt *blob_aead(const cdtls_provider *p); /* ChaCha20-Poly1305, else AES-256-GCM */
int ticket_seal(cdtls_ticket_keys *k, const cdtls_session *s, uint64_t now_ms, uint8_t *out, size_t cap,
                size_t *out_len);
int ticket_open(cdtls_ticket_keys *k, const uint8_t *t, size_t len, uint64_t now_ms, cdtls_session *out,
                int *old_key);
/* The same format and key ring for DTLS 1.3 tickets (hs13_ticket.c): a
 * version byte of their own, so neither version opens the other's. */
int ticket_seal13(cdtls_ticket_keys *k, const cdtls_session *s, uint64_t now_ms, uint8_t *out, size_t cap,
                  size_t *out_len);
int ticket_open13(cdtls_ticket_keys *k, const uint8_t *t, size_t len, uint64_t now_ms, cdtls_session *out,
                  int *old_key);
#define TICKET_MAX_OURS (16u + 12u + 128u + CDTLS_MAX_PSK_IDENTITY_LEN + 16u)

/* exporter.c: the NSS key log line, once the master secret exists */
void conn_keylog(const cdtls_conn *c);

/* hs_common.c, hs_client.c, hs_server.c: the state machines (hs_internal.h) */
int hs_client_start(cdtls_conn *c, uint64_t now_ms);
int hs_handle_message(cdtls_conn *c, uint8_t type, const uint8_t *msg, size_t msg_len, const uint8_t *body,
                      size_t body_len, uint64_t now_ms);
int hs_handle_ccs(cdtls_conn *c);
/* Shared with the stateless hello verifier (hello_verifier.c): what a
 * cookie binds, and the HelloVerifyRequest record. */
size_t hs_cookie_parts(const uint8_t *version_random_sid, size_t len, const void *addr, size_t addr_len,
                       cookie_part parts[2]);
int hs_write_hello_verify(uint8_t *out, size_t cap, size_t *out_len, uint64_t record_seq, uint16_t msg_seq,
                          const uint8_t *cookie, size_t cookie_len);
/* Server: a ClientHello arrived while waiting for one. */
int hs_server_client_hello(cdtls_conn *c, const uint8_t *msg, size_t msg_len, uint16_t msg_seq,
                           const uint8_t *body, size_t body_len, uint64_t record_seq, uint64_t now_ms);

#endif
