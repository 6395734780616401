/* What the io backends (posix.c, win32.c), the probe and the socket layer
 * share beyond the public io.h. */
#ifndef CDTLS_IO_IO_INTERNAL_H
#define CDTLS_IO_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/io.h"

struct sockaddr_storage;

/* Monotonic milliseconds (the socket layer's clock). */
uint64_t cdtls_io_now_ms(void);
/* Keeps SEND_DSCP / SEND_ECN in caps only if a marked datagram between two
 * temporary loopback sockets of the family arrives marked, and for a
 * dual-stack socket (dual) an IPv4 one from a dual-stack socket too
 * (probe.c). */
unsigned io_probe_send_marks(int family, int dual, unsigned caps);
/* Linux only (UDP GSO/GRO): */
/* Keeps SEND_GSO in caps unless a GSO run between two temporary loopback
 * sockets of the family arrives in other sizes than were sent (probe.c). */
unsigned io_probe_send_gso(int family, unsigned caps);
/* 0 if a GSO run between two temporary loopback sockets of the family,
 * received with CDTLS_IO_GRO, does not come out as the datagrams that were
 * sent; 1 if it does, or if it cannot be tried (no GSO, no loopback, no
 * GRO, nothing arrived: unverified). */
int io_probe_gro(int family);

/* addr.c: sockaddr conversions (the socket's family decides the form; an
 * IPv4 address on a dual-stack socket becomes IPv4-mapped), and the send
 * capabilities a typed OOB needs. */
int io_is_v4_mapped(const uint8_t *a);
size_t io_to_sockaddr(const cdtls_addr *a, int sock_family, struct sockaddr_storage *ss);
void io_from_sockaddr(const struct sockaddr_storage *ss, cdtls_addr *a);
unsigned io_oob_send_caps(const cdtls_oob *oob);
/* Family, port, scope and address bytes equal. */
int io_same_addr(const cdtls_addr *a, const cdtls_addr *b);
/* Where a datagram for `to` goes: *dest = to on an unconnected socket
 * (checked against the socket's family), NULL on a connected one (sent
 * without an address), where `to` must be NULL, family 0 or the peer.
 * CDTLS_ERR_INVALID_ARG otherwise. */
int io_send_dest(const cdtls_io_socket *s, const cdtls_addr *to, const cdtls_addr **dest);

/* event.c: adds an event to the socket's ring (seq set here). */
void io_event_push(cdtls_io_socket *s, const cdtls_io_event *ev);
void io_event_note(cdtls_io_socket *s, int kind, int os_error, const cdtls_addr *addr, uint32_t mtu,
                   unsigned caps);

/* The backend's one-system-call batches (batch.c calls them only while
 * the socket has CDTLS_IO_CAP_SEND_BATCH / _RECV_BATCH). Arguments are
 * checked. CDTLS_ERR_UNSUPPORTED (after clearing the bit) means "the kernel
 * refused the call itself": *sent / nothing received tells where to go on
 * one by one. */
int io_send_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *sent);
int io_recv_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms);

/* ------------------------------------------------------------ UDP GRO
 * With UDP_GRO on (Linux, CDTLS_IO_GRO) the kernel may hand over several
 * datagrams of one flow in one read: back to back, each of the segment size
 * its UDP_GRO control message gives, the last possibly shorter, with one
 * set of control messages for all (the kernel coalesces only datagrams
 * whose IP headers match but for length and ID, so the TOS/traffic class
 * and TTL it reports are each datagram's). posix.c reads into the buffers
 * below and the io layer hands the datagrams out one by one from there:
 * never a coalesced buffer to the caller. */
#define IO_GRO_READS 8u        /* coalesced reads one receive call may take */
#define IO_GRO_READ_MAX 65536u /* a coalesced read is at most 64 KiB */

typedef struct io_gro_read {
    const uint8_t *buf; /* the bytes of the read */
    size_t len;         /* bytes the read stored */
    size_t off;         /* where the next datagram starts */
    size_t seg;         /* segment size (UDP_GRO message); 0: not coalesced */
    size_t left;        /* datagrams not yet handed out */
    int cut;            /* the kernel truncated the read (MSG_TRUNC) */
    cdtls_addr from;
    cdtls_oob oob;
    size_t raw_len; /* the read's control bytes, the UDP_GRO message left out */
    uint8_t raw[CDTLS_IO_CMSG_SPACE * 2];
} io_gro_read;

/* Makes r hand out the datagrams of a read of len bytes at buf cut in
 * segments of seg bytes: seg 0 (no UDP_GRO message) or seg >= len is one
 * datagram of len bytes; otherwise len / seg of seg bytes and a shorter
 * last one if len is not a multiple. cut: the read was truncated. from,
 * oob and raw of r are the caller's to fill. */
void io_gro_read_init(io_gro_read *r, const uint8_t *buf, size_t len, size_t seg, int cut);
/* The next datagram of r into m, as a received datagram of a batch: up to
 * m->cap bytes copied into m->buf (m->len), m->truncated when it did not
 * fit m->cap or is the incomplete end of a truncated read, m->addr, m->oob
 * and m->raw (its own copy of the read's control bytes; raw_len 0 if they
 * do not fit raw_cap). 0 when r has no datagram left. */
int io_gro_take(io_gro_read *r, cdtls_io_msg *m);
#if defined(__linux__)
/* posix.c: the control messages of one read into r (raw, oob) and its
 * UDP_GRO segment size (0 if none); ctrunc: the kernel cut them. Not
 * static so fuzz/fuzz_io_gro.c reaches it with the bytes a kernel hands. */
size_t io_gro_control(const uint8_t *control, size_t clen, int ctrunc, io_gro_read *r);
#endif

struct cdtls_io_gro {
    const cdtls_allocator *a; /* where this came from */
    size_t next, count;       /* reads [next, count) hold datagrams not handed out */
    int more;                 /* the last fill used every slot: more may be queued */
    io_gro_read r[IO_GRO_READS];
    uint8_t bufs[IO_GRO_READS][IO_GRO_READ_MAX];
};

/* Datagrams a GRO socket holds, read from the kernel but not handed out. */
size_t io_gro_pending(const struct cdtls_io_gro *g);
/* posix.c (Linux): cdtls_io_recv_batch on a socket with GRO on. */
int io_recv_gro_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms);

#endif
