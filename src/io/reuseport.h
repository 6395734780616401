/* Steering a port group's datagrams by connection ID (cdtls/workers.h). */
#ifndef CDTLS_IO_REUSEPORT_H
#define CDTLS_IO_REUSEPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/io.h"

/* Attaches to the port group of io (sockets bound with CDTLS_IO_REUSEPORT,
 * in worker order) a program that sends every tls12_cid record whose
 * worker CID (node, config, cid_len) names worker i < n to socket i, and
 * leaves every other datagram to the kernel's 4-tuple hash. Linux:
 * SO_ATTACH_REUSEPORT_CBPF (4.5); elsewhere CDTLS_ERR_UNSUPPORTED.
 * CDTLS_ERR_IO when the kernel refuses it (io->last_error). */
int reuseport_steer_by_cid(cdtls_io_socket *io, uint16_t node, unsigned config, size_t cid_len, unsigned n);

#endif
