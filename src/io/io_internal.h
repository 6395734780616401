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

#endif
