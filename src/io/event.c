/* The socket's events (cdtls_io_event_read): what the network said about
 * its traffic that is not a datagram (ICMP errors, path MTU, refused OOB).
 * A ring of the newest CDTLS_IO_EVENTS in the socket itself, read by
 * cursor, so the socket layer and the application can each read all of
 * them without taking them from the other; no allocation, no OS call. */
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

void io_event_push(cdtls_io_socket *s, const cdtls_io_event *ev)
{
    cdtls_io_event *slot = &s->events[s->event_seq % CDTLS_IO_EVENTS];
    *slot = *ev;
    slot->seq = ++s->event_seq;
}

void io_event_note(cdtls_io_socket *s, int kind, int os_error, const cdtls_addr *addr, uint32_t mtu,
                   unsigned caps)
{
    cdtls_io_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.os_error = os_error;
    if (addr) ev.addr = *addr;
    ev.mtu = mtu;
    ev.caps = caps;
    io_event_push(s, &ev);
}

int cdtls_io_event_read(const cdtls_io_socket *s, uint64_t *cursor, cdtls_io_event *ev, uint64_t *missed)
{
    if (missed) *missed = 0;
    if (!s || !cursor || !ev) return CDTLS_ERR_INVALID_ARG;
    if (*cursor >= s->event_seq) return CDTLS_ERR_WOULD_BLOCK;
    uint64_t next = *cursor + 1;
    /* the oldest the ring still holds */
    uint64_t oldest = s->event_seq > CDTLS_IO_EVENTS ? s->event_seq - CDTLS_IO_EVENTS + 1 : 1;
    if (next < oldest) {
        if (missed) *missed = oldest - next;
        next = oldest;
    }
    *ev = s->events[(next - 1) % CDTLS_IO_EVENTS];
    *cursor = next;
    return CDTLS_OK;
}
