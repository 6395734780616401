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
 * temporary loopback sockets of the family arrives marked (probe.c). */
unsigned io_probe_send_marks(int family, unsigned caps);

/* addr.c: sockaddr conversions (the socket's family decides the form; an
 * IPv4 address on a dual-stack socket becomes IPv4-mapped), and the send
 * capabilities a typed OOB needs. */
int io_is_v4_mapped(const uint8_t *a);
size_t io_to_sockaddr(const cdtls_addr *a, int sock_family, struct sockaddr_storage *ss);
void io_from_sockaddr(const struct sockaddr_storage *ss, cdtls_addr *a);
unsigned io_oob_send_caps(const cdtls_oob *oob);

/* The backend's one-system-call batches (batch.c calls them only while
 * the socket has CDTLS_IO_CAP_SEND_BATCH / _RECV_BATCH). Arguments are
 * checked. CDTLS_ERR_UNSUPPORTED (after clearing the bit) means "the kernel
 * refused the call itself": *sent / nothing received tells where to go on
 * one by one. */
int io_send_native_batch(cdtls_io_socket *s, const cdtls_io_msg *msgs, size_t n, size_t *sent);
int io_recv_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received,
                         int timeout_ms);

#endif
