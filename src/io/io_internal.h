/* What the io backends (posix.c, win32.c), the probe and the socket layer
 * share beyond the public io.h. */
#ifndef CDTLS_IO_IO_INTERNAL_H
#define CDTLS_IO_IO_INTERNAL_H

#include <stdint.h>

/* Monotonic milliseconds (the socket layer's clock). */
uint64_t cdtls_io_now_ms(void);
/* Keeps SEND_DSCP / SEND_ECN in caps only if a marked datagram between two
 * temporary loopback sockets of the family arrives marked (probe.c). */
unsigned io_probe_send_marks(int family, unsigned caps);

#endif
