/* What the DTLS 1.2 handshake's three files share: hs_common.c (helpers
 * both roles use, the message dispatcher, Finished), hs_client.c and
 * hs_server.c (each role's state machine and the messages it sends). */
#ifndef CDTLS_ENGINE_HS_INTERNAL_H
#define CDTLS_ENGINE_HS_INTERNAL_H

#include "engine/conn_internal.h"

#define HS_BODY_MAX 2048u /* our own messages but Certificate are small */

/* One expected message in one state (RFC 5246 §7.3 order). The message
 * enters the transcript in one place, hs_handle_message: after `check`
 * (when there is one: CertificateVerify and Finished are checked against
 * the transcript before them) and before `handle`; HelloVerifyRequest
 * never (RFC 6347 §4.2.6). check and handle return CDTLS_OK or the
 * conn_fail() result. */
typedef struct hs_step {
    hs_state state;
    uint8_t type;
    uint8_t in_transcript;
    int (*check)(cdtls_conn *c, const uint8_t *body, size_t len);
    int (*handle)(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms);
} hs_step;

extern const hs_step hs_client_steps[];
extern const size_t hs_n_client_steps;
extern const hs_step hs_server_steps[];
extern const size_t hs_n_server_steps;

/* hs_common.c */
int hs_suite_configured(const cdtls_conn *c, const suite_info *s);
int hs_suite_uses_cert(const suite_info *s);
/* Our suites in preference order that the provider and our setup can do;
 * CDTLS_ERR_HANDSHAKE_FAILURE when none. */
int hs_our_suites(const cdtls_conn *c, uint16_t *out, size_t cap, size_t *n);
hs_kx_kind hs_suite_kx_kind(const suite_info *s);
const cdtls_sig_vt *hs_sig_by_id(const cdtls_provider *p, uint16_t id);
size_t hs_our_sig_algs(const cdtls_conn *c, uint16_t *out, size_t cap);
/* The first scheme of our preference order that the provider signs with
 * for a key of type t and that the peer's raw SignatureScheme list holds
 * (peer NULL: any); `prefer` (0: none) is tried before the others. */
uint16_t hs_sig_choose(const cdtls_conn *c, cdtls_key_type t, const uint8_t *peer, size_t peer_len,
                       uint16_t prefer);
void hs_ske_signed_input(const cdtls_conn *c, const uint8_t *params, size_t params_len, uint8_t *out,
                         size_t *out_len);
size_t hs_our_groups(const cdtls_conn *c, uint16_t *out, size_t cap);
const cdtls_kx_vt *hs_kx_by_id(const cdtls_provider *p, uint16_t id);
void hs_transcript_pick(cdtls_conn *c);
void hs_transcript_restart(cdtls_conn *c);
int hs_derive_keys(cdtls_conn *c, const uint8_t *ecdh, size_t ecdh_len);
int hs_queue_ccs_finished(cdtls_conn *c);
/* Queues our Certificate message: the first n of our chain, or our raw
 * public key (RFC 7250). */
int hs_queue_certificate(cdtls_conn *c, size_t n_chain);
/* The peer's Certificate: copied, parsed, and judged when `judge`. */
int hs_on_peer_certificate(cdtls_conn *c, const uint8_t *body, size_t len, int judge);

/* Shared with the 1.3 Certificate: the alert for a certificate error, the
 * chain judged as configured, one block for n certificates and their DER. */
int hs_cert_alert(int err);
int hs_judge_peer_chain(cdtls_conn *c);
uint8_t *hs_peer_block_alloc(cdtls_conn *c, size_t n, size_t der_len);

/* Finished (RFC 5246 §7.4.9): the check against the transcript, then our
 * last flight if it is ours, and the connection is established. */
int hs_finished_check(cdtls_conn *c, const uint8_t *body, size_t len);
int hs_finished_handle(cdtls_conn *c, const uint8_t *body, size_t len, uint64_t now_ms);

/* hs_client.c: our ClientHello (again after HelloVerifyRequest or HelloRetryRequest) */
int hs_client_send_hello(cdtls_conn *c, uint64_t now_ms);
/* hs_server.c: SNI certificate selection (cfg.callbacks.select_certificate) */
int hs_server_select_certificate(cdtls_conn *c, const hs_client_hello *ch);

/* hs_server.c: NewSessionTicket before our CCS when promised (RFC 5077) */
int hs_server_queue_ticket(cdtls_conn *c, uint64_t now_ms);

#endif
