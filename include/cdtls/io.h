/*
 * cdtls — the io module: UDP sockets that carry out-of-band (OOB) data on
 * every datagram, send and receive.
 *
 * Two faces, as Go's WriteMsgUDP(b, oob, addr) / ReadMsgUDP:
 *  - typed and portable: a cdtls_oob (DSCP, ECN, local address, interface,
 *    TTL/hop limit) becomes the right control message for the socket's
 *    family and OS (IP_TOS / IPV6_TCLASS, IP_PKTINFO / IPV6_PKTINFO /
 *    IP_SENDSRCADDR, IP_TTL / IPV6_HOPLIMIT) and received control messages
 *    are parsed back into one;
 *  - raw: caller-built native control-message bytes go to sendmsg()
 *    unchanged, and the received control bytes are handed back.
 * cdtls_io_build_cmsg() turns typed values into native bytes (with the
 * platform's CMSG_SPACE alignment), cdtls_io_parse_cmsg() the reverse.
 *
 * What a platform or socket cannot carry is reported by cdtls_io_caps(),
 * detected at run time, never silently faked. When the kernel refuses a
 * control message on send, the capability it refused (and only that one:
 * on Linux each typed item is tried alone with MSG_PROBE, which sends
 * nothing) is cleared, the send gives CDTLS_ERR_OOB_UNSUPPORTED with
 * nothing sent, and a CDTLS_IO_EVENT_OOB_REFUSED event says which: the
 * application is never handed an unmarked datagram without being told.
 *
 * Network faults are per datagram and per destination (RFC 6347
 * §4.1.2.7: the handshake timer, not the socket, decides that a peer is
 * gone): an ICMP error (port, host or net unreachable, administratively
 * prohibited, protocol unreachable) or a missing route never changes a
 * capability and never makes a socket unusable; it is counted
 * (icmp_errors) and reported as an event (cdtls_io_event_read), and the
 * send it hit gives CDTLS_ERR_UNREACHABLE for that datagram alone. A
 * datagram larger than the path MTU gives CDTLS_ERR_MSG_SIZE and a
 * CDTLS_IO_EVENT_PATH_MTU event with the MTU the kernel learnt (RFC 6347
 * §4.1.1.1: don't-fragment is set where the platform has it, so the
 * path's MTU is learnt instead of paid for in IP fragments).
 *
 * The io module knows nothing of DTLS.
 */
#ifndef CDTLS_IO_H
#define CDTLS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "cdtls/error.h"
#include "cdtls/export.h"
#include "cdtls/oob.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A transport address without OS headers. */
typedef struct cdtls_addr {
    cdtls_ip_addr ip; /* family 4 or 6 */
    uint16_t port;    /* host byte order */
    uint32_t scope_id;
} cdtls_addr;

/* "127.0.0.1", "::1", "::ffff:10.0.0.1" (no port) into *out; port separate. */
CDTLS_API int cdtls_addr_parse(const char *text, uint16_t port, cdtls_addr *out);
/* "127.0.0.1:4444" / "[::1]:4444" into buf. */
CDTLS_API int cdtls_addr_format(const cdtls_addr *a, char *buf, size_t cap);

#if defined(_WIN32)
typedef uintptr_t cdtls_socket_handle; /* SOCKET */
#else
typedef int cdtls_socket_handle;
#endif

/* Capability bits (cdtls_io_caps). */
enum cdtls_io_cap {
    CDTLS_IO_CAP_SEND_DSCP = 1u << 0,       /* per-datagram DSCP on send */
    CDTLS_IO_CAP_SEND_ECN = 1u << 1,        /* per-datagram ECN codepoint on send */
    CDTLS_IO_CAP_RECV_DSCP = 1u << 2,       /* DSCP of received datagrams */
    CDTLS_IO_CAP_RECV_ECN = 1u << 3,        /* ECN of received datagrams */
    CDTLS_IO_CAP_SEND_LOCAL_ADDR = 1u << 4, /* choose the source address per datagram */
    CDTLS_IO_CAP_RECV_LOCAL_ADDR = 1u << 5, /* destination address of received datagrams */
    CDTLS_IO_CAP_RECV_IFINDEX = 1u << 6,    /* arrival interface */
    CDTLS_IO_CAP_SEND_TTL = 1u << 7,        /* per-datagram TTL / hop limit */
    CDTLS_IO_CAP_RECV_TTL = 1u << 8,        /* TTL / hop limit of received datagrams */
    CDTLS_IO_CAP_RAW_OOB = 1u << 9,         /* raw control-message passthrough */
    /* Batching (cdtls_io_send_batch / cdtls_io_recv_batch): the batch goes
     * to the kernel in one system call (Linux sendmmsg / recvmmsg). Without
     * the bit the batch calls still work, one datagram per system call. */
    CDTLS_IO_CAP_SEND_BATCH = 1u << 10,
    CDTLS_IO_CAP_RECV_BATCH = 1u << 11,
    /* UDP GSO (Linux UDP_SEGMENT): inside cdtls_io_send_batch, runs of
     * datagrams of one size (the last may be shorter) to one address that
     * carry the same typed OOB (or none) go down the stack as one send;
     * they still arrive as separate datagrams, each with that OOB. */
    CDTLS_IO_CAP_SEND_GSO = 1u << 12,
    /* UDP GRO (Linux UDP_GRO, asked for with CDTLS_IO_GRO): the kernel may
     * hand over several datagrams of one flow in one read; the io layer
     * cuts it back into the datagrams, each handed out on its own (by
     * cdtls_io_recv and cdtls_io_recv_batch alike) with its own copy of
     * the read's OOB and control bytes. The kernel coalesces only
     * datagrams whose IP headers match but for length and ID, so that OOB
     * (DSCP, ECN, TTL, local address) is the same for every datagram of a
     * read and is each one's own. The UDP_GRO control message itself is
     * left out of the raw bytes: each datagram handed out is one. */
    CDTLS_IO_CAP_RECV_GRO = 1u << 13
};

/* Something the network said about the socket's traffic that is not a
 * datagram (cdtls_io_event_read). */
enum cdtls_io_event_kind {
    /* An ICMP error (or a missing route) for traffic to `addr`:
     * os_error is the errno / WSA code it reads as (ECONNREFUSED port
     * unreachable, EHOSTUNREACH host unreachable or prohibited,
     * ENETUNREACH, ENOPROTOOPT protocol unreachable, EACCES, ...), and
     * icmp_type / icmp_code the ICMP message when the kernel says
     * (Linux's error queue; 0 otherwise). */
    CDTLS_IO_EVENT_UNREACHABLE = 1,
    /* The path to `addr` carries at most `mtu` bytes of IP packet (an
     * ICMP "fragmentation needed" / "packet too big", or a local
     * EMSGSIZE); 0 when the kernel did not say how many. */
    CDTLS_IO_EVENT_PATH_MTU = 2,
    /* The kernel refused the typed OOB `caps` (CDTLS_IO_CAP_SEND_* bits,
     * now cleared from the socket's caps) on a send to `addr`. */
    CDTLS_IO_EVENT_OOB_REFUSED = 3
};

typedef struct cdtls_io_event {
    uint64_t seq; /* 1, 2, 3... in the order the socket saw them */
    int kind;     /* enum cdtls_io_event_kind */
    int os_error;
    cdtls_addr addr; /* the destination it concerns; family 0: not known */
    uint32_t mtu;
    unsigned caps;
    uint8_t icmp_type, icmp_code;
} cdtls_io_event;

/* Events a socket keeps: the newest this many; a reader that falls further
 * behind is told how many it missed. */
#define CDTLS_IO_EVENTS 16u

typedef struct cdtls_io_socket {
    cdtls_socket_handle fd;
    int family;       /* 4 or 6 */
    int dual_stack;   /* IPv6 socket that also carries IPv4 (mapped) */
    unsigned caps;    /* what this socket can carry (see cdtls_io_caps) */
    int last_error;   /* OS error of the last failing call */
    void *os_private; /* Windows: the WSARecvMsg function pointer */
    /* How many system calls this socket has made to move datagrams: one
     * per sendmsg / sendmmsg / WSASendMsg, and per recvmsg / recvmmsg /
     * WSARecvMsg, failed ones (EAGAIN...) included; poll is not counted.
     * Plain counters for tests and tuning (they show whether batching
     * happens: tests/test_sock.c), not atomic: read them from the
     * thread that uses the socket. Zero after cdtls_io_open. */
    uint64_t send_calls;
    uint64_t recv_calls;
    /* Datagrams that arrived coalesced (GRO reads of two or more) and were
     * cut apart: how much GRO happens. */
    uint64_t gro_datagrams;
    /* UDP GRO state (CDTLS_IO_GRO): the reads datagrams are handed out
     * from. NULL when GRO is off. Whether the kernel coalesces is decided
     * by this, not by the caps bit: clearing CDTLS_IO_CAP_RECV_GRO by hand
     * does not turn it off. */
    struct cdtls_io_gro *gro;
    /* The receive reports open found working (all it could ask for, less
     * any the probe saw missing from a received datagram: wine accepts
     * IPv4 IP_HOPLIMIT and reports no TTL); cdtls_io_set_recv_reports turns
     * on no others. */
    unsigned recv_reports_ok;
    /* cdtls_io_connect: 1 when the socket is connected to `peer`. */
    int connected;
    cdtls_addr peer;
    /* ICMP errors the socket was told of (pending socket errors, Linux's
     * error queue), whatever they concerned; and datagrams a send lost to
     * them or to a missing route. Plain counters, like send_calls. */
    uint64_t icmp_errors;
    uint64_t unreachable_sends;
    /* The events, a ring read through cdtls_io_event_read (any number of
     * readers, each with its own cursor). */
    cdtls_io_event events[CDTLS_IO_EVENTS];
    uint64_t event_seq; /* seq of the newest event; 0: none yet */
} cdtls_io_socket;

/* The next event after *cursor (0 to start from the oldest kept): CDTLS_OK
 * with *ev and *cursor = ev->seq; CDTLS_ERR_WOULD_BLOCK when there is none
 * newer. *missed (may be NULL) gets how many events were overwritten
 * before this reader got to them. Reading does not remove an event: the
 * socket layer (cdtls_sock) reads them with its own cursor to lower a
 * connection's MTU, and the application may read the same ones with its
 * own (cdtls_listener_io / cdtls_sock_io give the socket). */
CDTLS_API int cdtls_io_event_read(const cdtls_io_socket *s, uint64_t *cursor, cdtls_io_event *ev,
                                  uint64_t *missed);

enum cdtls_io_open_flags {
    CDTLS_IO_DUAL_STACK = 1u << 0, /* with an IPv6 bind address: also IPv4 */
    CDTLS_IO_NONBLOCK = 1u << 1,
    /* Skip the send probe: by default cdtls_io_open sends one DSCP+ECN
     * marked datagram between two temporary loopback sockets of the same
     * family and keeps CDTLS_IO_CAP_SEND_DSCP / _SEND_ECN only if the
     * marking arrives (some systems accept the control message and drop
     * the marking silently), and on Linux a GSO run of three datagrams,
     * keeping CDTLS_IO_CAP_SEND_GSO only if they arrive in the sizes sent
     * (qemu-user garbles a big-endian guest's segment size). Without
     * loopback the claims are kept unverified. */
    CDTLS_IO_NO_PROBE = 1u << 2,
    /* Ask the kernel for UDP GRO (Linux 5.0; elsewhere the flag does
     * nothing and CDTLS_IO_CAP_RECV_GRO stays clear). Off by default,
     * because a receive may then take more datagrams from the kernel than
     * it hands out: the rest wait inside the socket (cdtls_io_pending), where
     * poll/epoll on the descriptor cannot see them. A caller that waits on
     * the descriptor itself must first drain the socket (receive until
     * CDTLS_ERR_WOULD_BLOCK / _TIMEOUT) or check cdtls_io_pending; the io
     * calls' own timeouts and the cdtls_sock layer take care of it. The
     * socket holds eight read buffers of 64 KiB from the C
     * library's allocator. Unless CDTLS_IO_NO_PROBE, open sends a GSO run
     * between two temporary loopback sockets and keeps GRO only if it is
     * cut back into the datagrams that were sent (qemu-user, for one,
     * passes a big-endian guest's UDP_GRO size unconverted); without GSO
     * or loopback the claim stays unverified. */
    CDTLS_IO_GRO = 1u << 3,
    /* Share the address and port with other sockets that ask for it too (a
     * group of workers, cdtls/workers.h): Linux SO_REUSEPORT, FreeBSD
     * SO_REUSEPORT_LB, other BSDs and macOS SO_REUSEPORT. The kernel spreads
     * the datagrams over the group by a hash of the 4-tuple (Linux,
     * FreeBSD), so one peer's datagrams always reach one socket;
     * CDTLS_ERR_UNSUPPORTED where the system has no such option, and on
     * Windows, whose SO_REUSEADDR gives every unicast datagram to one
     * socket of the group, spreading nothing. */
    CDTLS_IO_REUSEPORT = 1u << 4
};

/* Opens a UDP socket bound to *bind (port 0 = any) and turns on every
 * receive-side OOB report the platform has (cdtls_io_set_recv_reports
 * chooses fewer). */
CDTLS_API int cdtls_io_open(cdtls_io_socket *s, const cdtls_addr *bind, unsigned flags);

/* Connects the socket to one peer (connect(2)), for a socket that talks to
 * one peer only, as a dialled client does. From then on:
 *  - datagrams to the peer go without a destination address (sendmsg with
 *    no msg_name, WSASendMsg with no name), so the kernel uses the route it
 *    keeps for the connected socket instead of looking one up for every
 *    datagram; per-datagram OOB (typed and raw) is carried as before. The
 *    destination of cdtls_io_send may be NULL, and that of a batch message
 *    family 0, both meaning the peer; any other address than the peer
 *    gives CDTLS_ERR_INVALID_ARG (the BSDs and macOS refuse a destination
 *    on a connected socket, so no platform is allowed one);
 *  - the kernel hands over only datagrams from the peer's address and
 *    port. Datagrams that were already queued before the call stay queued
 *    (as connect(2) leaves them), so a caller that must not see them
 *    connects before anything is sent, or checks the source;
 *  - an ICMP error the kernel ties to the connection (port unreachable:
 *    nobody listens at the peer's port yet; host or net unreachable,
 *    prohibited, protocol unreachable) is not an error of the io calls but
 *    an event (cdtls_io_event_read): a receive that meets it returns
 *    CDTLS_ERR_WOULD_BLOCK (as Windows' WSAECONNRESET always did), a send
 *    that meets it is made again (the kernel reports such an error instead
 *    of sending, once). On Linux an unconnected socket is told of them too
 *    (IP_RECVERR), the same way.
 * Calling it again connects to another peer. CDTLS_ERR_INVALID_ARG for a
 * peer of another family (an IPv4 peer needs an IPv4 or dual-stack
 * socket), CDTLS_ERR_IO when the system refuses (s->last_error). */
CDTLS_API int cdtls_io_connect(cdtls_io_socket *s, const cdtls_addr *peer);

/* The receive-side reports cdtls_io_open turns on. */
#define CDTLS_IO_RECV_REPORTS                                                        \
    (CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN | CDTLS_IO_CAP_RECV_LOCAL_ADDR | \
     CDTLS_IO_CAP_RECV_IFINDEX | CDTLS_IO_CAP_RECV_TTL)

/* Chooses which receive-side reports the socket asks the kernel for: mask
 * is a set of CDTLS_IO_RECV_REPORTS bits; the others are turned off. Each
 * report the kernel adds to a datagram costs kernel time per datagram
 * (~3 % of a 1200-byte DTLS stream over loopback for all of them), so a
 * socket whose reader does not look at the OOB can do without. Reports
 * come in pairs where one socket option gives both: DSCP and ECN (the TOS
 * / traffic-class byte), local address and interface (PKTINFO); asking
 * for either asks for both. cdtls_io_caps says afterwards what is on (a
 * report the kernel refuses stays off); the receive calls then report that
 * and nothing else, typed and raw. Other bits (batching, GRO) are not
 * reports: CDTLS_ERR_INVALID_ARG. Datagrams already queued keep the
 * reports they were queued with. */
CDTLS_API int cdtls_io_set_recv_reports(cdtls_io_socket *s, unsigned mask);
/* A monotonic clock in milliseconds: the time base the socket layer gives
 * the engine (cdtls_conn_*'s now_ms), for callers driving a cdtls_conn over
 * io sockets themselves. */
CDTLS_API uint64_t cdtls_io_now_ms(void);
CDTLS_API void cdtls_io_close(cdtls_io_socket *s);
/* The bound address (port filled in). */
CDTLS_API int cdtls_io_local_addr(const cdtls_io_socket *s, cdtls_addr *out);
CDTLS_API unsigned cdtls_io_caps(const cdtls_io_socket *s);

/* Sends one datagram to *to with typed OOB (may be NULL) and/or raw native
 * control bytes (raw may be NULL). A typed item the socket cannot carry
 * gives CDTLS_ERR_OOB_UNSUPPORTED before anything is sent, and so does one
 * the kernel refuses now (its bit is cleared, an event says which). On a
 * connected socket to is NULL or the peer (cdtls_io_connect).
 * CDTLS_ERR_WOULD_BLOCK when the send buffer is full or the kernel is out
 * of buffers (ENOBUFS): transient. CDTLS_ERR_UNREACHABLE / _MSG_SIZE: this
 * destination, now (see above). A pending ICMP error of an earlier
 * datagram that the kernel reports instead of sending this one is taken
 * as an event and the datagram is sent. */
CDTLS_API int cdtls_io_send(cdtls_io_socket *s, const uint8_t *buf, size_t len, const cdtls_addr *to,
                            const cdtls_oob *oob, const uint8_t *raw, size_t raw_len);

/* Receives one datagram, waiting up to timeout_ms (-1 forever, 0 poll).
 * With GRO on, a datagram already read from the kernel (cdtls_io_pending)
 * is handed out first, without waiting; a coalesced read gives its first
 * datagram and keeps the rest for the next calls. An ICMP error met while
 * waiting or reading becomes an event (never an error of the call); the
 * wait goes on for what is left of timeout_ms (a poll, 0, gives
 * CDTLS_ERR_WOULD_BLOCK).
 * from, oob, raw may be NULL. raw receives the native control bytes (up to
 * raw_cap; *raw_len set). CDTLS_ERR_TIMEOUT when nothing came;
 * CDTLS_ERR_WOULD_BLOCK on a non-blocking socket with nothing to read. */
CDTLS_API int cdtls_io_recv(cdtls_io_socket *s, uint8_t *buf, size_t cap, size_t *len, cdtls_addr *from,
                            cdtls_oob *oob, uint8_t *raw, size_t raw_cap, size_t *raw_len, int timeout_ms);

/* One datagram of a batch. Send: buf/len to addr with typed oob (flags 0 =
 * none) and raw native control bytes (raw/raw_len, may be NULL/0), exactly
 * as cdtls_io_send takes them; status gets what became of it (CDTLS_OK:
 * sent; else the error cdtls_io_send would have given, os_error the OS's
 * code). Receive: up to cap bytes into buf, len set;
 * addr is the source, oob what the kernel reported for this datagram, raw
 * (if not NULL) its native control bytes (up to raw_cap, raw_len set);
 * truncated is 1 when the datagram was larger than cap. The OOB of every
 * datagram stays its own: a batch never merges or shares control data. */
typedef struct cdtls_io_msg {
    uint8_t *buf;
    size_t len;
    size_t cap;
    cdtls_addr addr;
    cdtls_oob oob;
    uint8_t *raw;
    size_t raw_len;
    size_t raw_cap;
    int truncated;
    int status;   /* send: the outcome of this datagram */
    int os_error; /* send: errno / WSA code when status is not CDTLS_OK */
} cdtls_io_msg;

/* Sends msgs[0..n) in order: with CDTLS_IO_CAP_SEND_BATCH in one system
 * call per up to 64 datagrams, else one by one. A datagram that fails
 * (its destination unreachable, too large for the path, OOB the socket
 * cannot carry, an invalid address...) does not stop the batch: its
 * status says why and the next one is sent. Only a full send buffer
 * (EAGAIN, or ENOBUFS: transient) stops it, with CDTLS_ERR_WOULD_BLOCK at
 * msgs[*sent]. *sent (may be NULL) is how many datagrams were dealt with
 * (sent or failed, each status set); msgs[*sent..n) were not tried.
 * Otherwise CDTLS_OK when all n went, else the status of the first that
 * did not. Only the error that means it (EIO, or EINVAL when the same
 * datagram then goes alone) turns UDP GSO off. */
CDTLS_API int cdtls_io_send_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *sent);
/* Waits up to timeout_ms (-1 forever, 0 poll) for a datagram, then takes
 * every datagram already queued, up to n, without waiting again: with
 * CDTLS_IO_CAP_RECV_BATCH in one system call, else one by one. CDTLS_OK
 * with *received >= 1; CDTLS_ERR_TIMEOUT / CDTLS_ERR_WOULD_BLOCK when
 * nothing came. */
CDTLS_API int cdtls_io_recv_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received,
                                  int timeout_ms);

/* How many received datagrams the socket holds that the kernel no longer
 * has (the rest of a GRO read): the next receive returns one at once. 0
 * without GRO. */
CDTLS_API size_t cdtls_io_pending(const cdtls_io_socket *s);

/* Native control-message bytes for typed OOB on a socket of the given
 * family (4, 6, or 46 for IPv4 traffic over a dual-stack IPv6 socket). */
CDTLS_API int cdtls_io_build_cmsg(const cdtls_oob *oob, int family, uint8_t *out, size_t cap,
                                  size_t *out_len);
/* Typed OOB from native control-message bytes (unknown messages ignored). */
CDTLS_API int cdtls_io_parse_cmsg(const uint8_t *cmsg, size_t len, cdtls_oob *out);

/* Reads a whole file (a PEM or DER certificate chain or key) into memory
 * from the allocator (NULL = libc); hosted builds only. Free it with
 * cdtls_free_file, which wipes it (it may hold a private key). Files over
 * 16 MiB give CDTLS_ERR_LIMIT. */
CDTLS_API int cdtls_read_file(const char *path, const cdtls_allocator *a, uint8_t **data, size_t *len);
CDTLS_API void cdtls_free_file(const cdtls_allocator *a, uint8_t *data, size_t len);

/* Room for every control message cdtls sends or asks for. */
#define CDTLS_IO_CMSG_SPACE 256u

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_IO_H */
