/* Observing a connection (cdtls_conn_set_observer, cdtls/conn.h): the
 * engine reports what it sends and receives, so that tools can print a
 * handshake as it happens. Types and lengths only, never contents. */
#include <string.h>

#include "common/dtls.h"
#include "engine/conn_internal.h"
#include "handshake/hs13_msg.h"

void conn_observe(const cdtls_conn *c, const cdtls_event *ev)
{
    if (c->observer) c->observer(c->observer_user, c, ev);
}

/* msg: a whole handshake message with its 12-byte DTLS header (RFC 6347
 * §4.2.2), as the flight and the reassembly keep it. */
void conn_observe_message(const cdtls_conn *c, cdtls_event_kind kind, const uint8_t *msg, size_t len)
{
    if (!c->observer || len < DTLS_HS_HEADER_LEN) return;
    cdtls_event ev = {0};
    ev.kind = kind;
    ev.hs_type = msg[0];
    ev.length = (uint32_t)(len - DTLS_HS_HEADER_LEN);
    ev.message_seq = (uint16_t)((msg[4] << 8) | msg[5]);
    /* RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello whose random
     * (after the 2-byte legacy_version) is the fixed SHA-256 value */
    if (msg[0] == HS_SERVER_HELLO && len >= DTLS_HS_HEADER_LEN + 2 + 32 &&
        memcmp(msg + DTLS_HS_HEADER_LEN + 2, hs13_hrr_random, 32) == 0)
        ev.hello_retry = 1;
    c->observer(c->observer_user, c, &ev);
}

void conn_observe_record(const cdtls_conn *c, cdtls_event_kind kind, const uint8_t *rec, size_t len)
{
    if (!c->observer || len < DTLS_RECORD_HEADER_LEN || rec[0] != CT_HANDSHAKE) return;
    conn_observe_message(c, kind, rec + DTLS_RECORD_HEADER_LEN, len - DTLS_RECORD_HEADER_LEN);
}

void conn_observe_retransmit(const cdtls_conn *c, int by_timer)
{
    if (!c->observer) return;
    cdtls_event ev = {0};
    ev.kind = CDTLS_EVENT_RETRANSMIT;
    ev.retransmits = c->retransmits;
    ev.by_timer = by_timer;
    ev.timeout_ms = c->timeout_ms;
    c->observer(c->observer_user, c, &ev);
}

void conn_observe_ack(const cdtls_conn *c, cdtls_event_kind kind, size_t n_records)
{
    if (!c->observer) return;
    cdtls_event ev = {0};
    ev.kind = kind;
    ev.ack_records = (unsigned)n_records;
    c->observer(c->observer_user, c, &ev);
}

int cdtls_conn_set_observer(cdtls_conn *c, cdtls_observer fn, void *user)
{
    if (!c) return CDTLS_ERR_INVALID_ARG;
    c->observer = fn;
    c->observer_user = fn ? user : NULL;
    return CDTLS_OK;
}

int cdtls_context_set_observer(cdtls_context *ctx, cdtls_observer fn, void *user)
{
    if (!ctx) return CDTLS_ERR_INVALID_ARG;
    ctx->observer = fn;
    ctx->observer_user = fn ? user : NULL;
    return CDTLS_OK;
}

const char *cdtls_handshake_type_name(uint8_t type)
{
    switch (type) {
    case HS_HELLO_REQUEST: return "HelloRequest";
    case HS_CLIENT_HELLO: return "ClientHello";
    case HS_SERVER_HELLO: return "ServerHello";
    case HS_HELLO_VERIFY_REQUEST: return "HelloVerifyRequest";
    case HS_NEW_SESSION_TICKET: return "NewSessionTicket";
    case HS_CERTIFICATE: return "Certificate";
    case HS_SERVER_KEY_EXCHANGE: return "ServerKeyExchange";
    case HS_CERTIFICATE_REQUEST: return "CertificateRequest";
    case HS_SERVER_HELLO_DONE: return "ServerHelloDone";
    case HS_CERTIFICATE_VERIFY: return "CertificateVerify";
    case HS_CLIENT_KEY_EXCHANGE: return "ClientKeyExchange";
    case HS_FINISHED: return "Finished";
    /* RFC 8446 §4 */
    case 5: return "EndOfEarlyData";
    case HS13_ENCRYPTED_EXTENSIONS: return "EncryptedExtensions";
    case HS13_KEY_UPDATE: return "KeyUpdate";
    case HS13_MESSAGE_HASH: return "message_hash";
    default: return "unknown";
    }
}

const char *cdtls_event_message_name(const cdtls_event *ev)
{
    if (!ev || (ev->kind != CDTLS_EVENT_HANDSHAKE_SENT && ev->kind != CDTLS_EVENT_HANDSHAKE_RECEIVED))
        return NULL;
    if (ev->hs_type == HS_SERVER_HELLO && ev->hello_retry) return "HelloRetryRequest";
    return cdtls_handshake_type_name(ev->hs_type);
}

const char *cdtls_alert_name(uint8_t desc)
{
    switch (desc) {
    case ALERT_CLOSE_NOTIFY: return "close_notify";
    case ALERT_UNEXPECTED_MESSAGE: return "unexpected_message";
    case ALERT_BAD_RECORD_MAC: return "bad_record_mac";
    case ALERT_RECORD_OVERFLOW: return "record_overflow";
    case ALERT_HANDSHAKE_FAILURE: return "handshake_failure";
    case ALERT_BAD_CERTIFICATE: return "bad_certificate";
    case ALERT_UNSUPPORTED_CERTIFICATE: return "unsupported_certificate";
    case ALERT_CERTIFICATE_REVOKED: return "certificate_revoked";
    case ALERT_CERTIFICATE_EXPIRED: return "certificate_expired";
    case ALERT_CERTIFICATE_UNKNOWN: return "certificate_unknown";
    case ALERT_ILLEGAL_PARAMETER: return "illegal_parameter";
    case ALERT_UNKNOWN_CA: return "unknown_ca";
    case ALERT_ACCESS_DENIED: return "access_denied";
    case ALERT_DECODE_ERROR: return "decode_error";
    case ALERT_DECRYPT_ERROR: return "decrypt_error";
    case ALERT_PROTOCOL_VERSION: return "protocol_version";
    case ALERT_INSUFFICIENT_SECURITY: return "insufficient_security";
    case ALERT_INTERNAL_ERROR: return "internal_error";
    case ALERT_USER_CANCELED: return "user_canceled";
    case ALERT_NO_RENEGOTIATION: return "no_renegotiation";
    case ALERT_UNSUPPORTED_EXTENSION: return "unsupported_extension";
    case ALERT_UNRECOGNIZED_NAME: return "unrecognized_name";
    case ALERT_UNKNOWN_PSK_IDENTITY: return "unknown_psk_identity";
    case ALERT_NO_APPLICATION_PROTOCOL: return "no_application_protocol";
    case 86: return "inappropriate_fallback"; /* RFC 7507 */
    case 109: return "missing_extension";     /* RFC 8446 §6.2 */
    case 116: return "certificate_required";  /* RFC 8446 §6.2 */
    default: return "unknown";
    }
}
