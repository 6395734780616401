/*
 * cdtls — DTLS over UDP sockets, with OOB data on every datagram.
 *
 * The socket layer drives the sans-IO engine (cdtls_conn) over the io module
 * (cdtls_io_*): blocking calls take a timeout in milliseconds (-1 = forever,
 * 0 = poll once and return CDTLS_ERR_WOULD_BLOCK if nothing is ready).
 *
 *   client:  cdtls_sock_dial(&cfg, &server_addr, 5000, &s);
 *   server:  cdtls_listener_open(&cfg, &bind_addr, 0, &l);
 *            cdtls_listener_accept(l, -1, &s);          one per peer
 *   both:    cdtls_sock_write(s, data, n, &oob);         typed OOB (DSCP, ECN...)
 *            cdtls_sock_write_many(s, recs, n, &written); many records, few syscalls
 *            cdtls_sock_write_oob(s, b, n, cmsg, cmsgn, &written, &oobwritten);  raw
 *            cdtls_sock_read(s, buf, cap, &n, &oob, timeout);      typed OOB received
 *            cdtls_sock_read_oob(s, buf, cap, &n, cmsg, cap, &cmsgn, timeout);   raw
 *            cdtls_sock_close(s);
 *
 * The OOB of a write goes on the datagram that write produces; handshake
 * flights and alerts carry cfg.oob.handshake / cfg.oob.alert. A read returns
 * the OOB of the datagram the record arrived in, as the receiving kernel
 * reported it.
 *
 * A listener serves many peers on one socket: a datagram from an unknown
 * address goes through the stateless cookie check (cdtls_hello_verifier)
 * before anything is allocated for that peer; connections are demultiplexed
 * by peer address; handshakes progress independently; established peers
 * wait in an accept queue of at most `backlog`. Not thread-safe: use a
 * listener and its sockets from one thread. For many cores, a group of
 * listeners shares one port, one per thread (cdtls/workers.h).
 */
#ifndef CDTLS_SOCK_H
#define CDTLS_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/config.h"
#include "cdtls/conn.h"
#include "cdtls/export.h"
#include "cdtls/io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdtls_sock cdtls_sock;
typedef struct cdtls_listener cdtls_listener;

/* Client: opens a UDP socket (any local port, the peer's family) connected
 * to the peer (cdtls_io_connect: datagrams go without an address, and
 * datagrams from other addresses never arrive), runs the handshake,
 * returns when established or after timeout_ms (CDTLS_ERR_TIMEOUT; a
 * failed handshake returns its error). The socket asks for every receive
 * report; cdtls_io_set_recv_reports(cdtls_sock_io(s), mask) chooses fewer. */
CDTLS_API int cdtls_sock_dial(const cdtls_config *cfg, const cdtls_addr *peer, int timeout_ms,
                              cdtls_sock **out);
/* The same with a connection made from a shared context (cdtls_context_new),
 * which must outlive the socket: a client making many connections validates
 * its configuration once. The context's clock is used as it is: set
 * callbacks.unix_time (cdtls_io_wall_clock is one) before making it when
 * certificates are checked (cdtls_sock_dial supplies the wall clock itself
 * to a config without one). */
CDTLS_API int cdtls_sock_dial_from(const cdtls_context *ctx, const cdtls_addr *peer, int timeout_ms,
                                   cdtls_sock **out);
/* Seconds since 1970 from the system clock: a cdtls_unix_time_callback for
 * hosted programs (the sans-IO engine reads no clock). */
CDTLS_API int64_t cdtls_io_wall_clock(void *user);

/* Sends one record in one datagram with typed OOB (may be NULL). */
CDTLS_API int cdtls_sock_write(cdtls_sock *s, const uint8_t *data, size_t len, const cdtls_oob *oob);
/* Sends one record in one datagram carrying the caller's native control
 * bytes unchanged (Go's WriteMsgUDP). written and oob_written (may be NULL)
 * report what was sent. */
CDTLS_API int cdtls_sock_write_oob(cdtls_sock *s, const uint8_t *data, size_t len, const uint8_t *oob,
                                   size_t oob_len, size_t *written, size_t *oob_written);
/* One record for cdtls_sock_write_many: its bytes, and the typed OOB of
 * the datagram that carries it (flags 0 = unmarked). */
typedef struct cdtls_sock_record {
    const uint8_t *data;
    size_t len;
    cdtls_oob oob;
} cdtls_sock_record;
/* Sends n records, each in its own datagram with its own OOB, as
 * cdtls_sock_write would one by one, but hands the datagrams to the io
 * socket together (cdtls_io_send_batch: on Linux one sendmmsg per 32, and
 * runs of unmarked datagrams of one size as one UDP GSO send) rather than
 * one system call each. Every record is checked first (its size against
 * cdtls_conn_max_write, its OOB against what the socket can carry): a
 * refusal (CDTLS_ERR_RECORD_TOO_LARGE, CDTLS_ERR_OOB_UNSUPPORTED) sends
 * nothing. *written (may be NULL) says how many records went to the
 * engine; on a later error they are sent, and the error is returned. */
CDTLS_API int cdtls_sock_write_many(cdtls_sock *s, const cdtls_sock_record *recs, size_t n, size_t *written);
/* Receives one record; *oob (may be NULL) gets the typed OOB of its datagram. */
CDTLS_API int cdtls_sock_read(cdtls_sock *s, uint8_t *buf, size_t cap, size_t *len, cdtls_oob *oob,
                              int timeout_ms);
/* Receives one record with the native control bytes of its datagram. */
CDTLS_API int cdtls_sock_read_oob(cdtls_sock *s, uint8_t *buf, size_t cap, size_t *len, uint8_t *oob,
                                  size_t oob_cap, size_t *oob_len, int timeout_ms);
/* Sends close_notify and frees. For a client, closes its UDP socket too. */
CDTLS_API void cdtls_sock_close(cdtls_sock *s);

/* The engine under the socket (suite, state, alerts) and the peer. */
CDTLS_API cdtls_conn *cdtls_sock_conn(const cdtls_sock *s);
CDTLS_API const cdtls_addr *cdtls_sock_peer(const cdtls_sock *s);
/* The io socket (caps, local address). For accepted sockets: the listener's. */
CDTLS_API cdtls_io_socket *cdtls_sock_io(cdtls_sock *s);

/* Server side. flags: CDTLS_IO_DUAL_STACK. backlog 0 = 16. max_peers in
 * progress or established: 0 = 1024. */
CDTLS_API int cdtls_listener_open(const cdtls_config *cfg, const cdtls_addr *bind, unsigned flags,
                                  cdtls_listener **out);
CDTLS_API int cdtls_listener_set_limits(cdtls_listener *l, unsigned backlog, unsigned max_peers);
/* Serves the socket until a peer finishes its handshake, then returns it. */
CDTLS_API int cdtls_listener_accept(cdtls_listener *l, int timeout_ms, cdtls_sock **out);
CDTLS_API cdtls_io_socket *cdtls_listener_io(cdtls_listener *l);
/* Peers holding state: handshaking (after a valid cookie) or established. */
CDTLS_API unsigned cdtls_listener_peer_count(const cdtls_listener *l);
/* Closes every peer that was not accepted, then the socket. Accepted
 * sockets must be closed first. */
CDTLS_API void cdtls_listener_close(cdtls_listener *l);


/* Observing a listener: every event of every peer's connection (cdtls/conn.h,
 * cdtls_observer) with the peer's address, from the moment its ClientHello
 * with a valid cookie made the connection, and the listener's own:
 * CDTLS_EVENT_HELLO_VERIFY_SENT (c NULL), _EVICTED, _IDLE. A handshake that
 * fails shows as CDTLS_EVENT_FAILED (its error; an alert the peer sent
 * comes as CDTLS_EVENT_ALERT_RECEIVED before it). Called from inside
 * cdtls_listener_accept and the peers' reads and writes; the same rules as
 * for a connection's observer. Peers already made keep the observer they
 * had. fn NULL: none. */
typedef void (*cdtls_listener_observer)(void *user, const cdtls_addr *peer, const cdtls_conn *c,
                                        const cdtls_event *ev);
CDTLS_API int cdtls_listener_set_observer(cdtls_listener *l, cdtls_listener_observer fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_SOCK_H */
