/*
 * cdtls — many cores: a group of listeners (workers) on one address and
 * port, each with its own socket, connections and thread.
 *
 *   cdtls_worker_options o = {.n_workers = 2, .node_id = 7};
 *   cdtls_worker_group_open(&cfg, &bind, &o, &g);
 *   thread i:  cdtls_listener *l = cdtls_worker_group_listener(g, i);
 *              cdtls_listener_accept(l, ...), cdtls_sock_read/write ...
 *              (a listener and its sockets from its thread only)
 *   at the end, after every worker thread closed its sockets:
 *              cdtls_worker_group_close(g);
 *
 * Each worker's socket joins one port group (CDTLS_IO_REUSEPORT: Linux
 * SO_REUSEPORT, FreeBSD SO_REUSEPORT_LB); the kernel spreads datagrams
 * over the group by a hash of the 4-tuple, so a peer known by its address
 * always reaches one worker. A connection ID (RFC 9146) made by a worker
 * names it (the format below); on Linux a classic BPF program attached to
 * the group (SO_ATTACH_REUSEPORT_CBPF) sends every tls12_cid record to the
 * worker its CID names, whatever its source address, so a peer whose
 * address changed keeps its worker. Where steering is unavailable (or off)
 * a CID record that reaches another worker is handed to the one it names
 * (an in-memory queue and a wake-up), not dropped.
 *
 * Shared, and thread-safe where shared: the validated context (immutable),
 * the cookie secret (one cdtls_hello_verifier under a lock: a cookie made
 * by one worker is accepted by any), the ticket key ring cfg.resumption.ticket_keys
 * (the group installs its lock on it, cdtls_ticket_keys.lock) and the
 * session store cfg.resumption.store (every call under a lock of the group).
 * The configuration's callbacks (PSK lookup, verify, keylog...) and its
 * allocator are called from every worker's thread: they must be
 * thread-safe. The configuration's own CID generator is not used: the
 * group's connections get worker CIDs (cdtls_worker_cid_make).
 *
 * Not on Windows: it has no load-spreading port sharing (SO_REUSEADDR
 * gives each unicast datagram to one socket), so open gives
 * CDTLS_ERR_UNSUPPORTED; run one listener per process on ports of its
 * own behind a UDP balancer instead (docs/deployment.md).
 */
#ifndef CDTLS_WORKERS_H
#define CDTLS_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/config.h"
#include "cdtls/export.h"
#include "cdtls/io.h"
#include "cdtls/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Worker connection IDs, in the spirit of QUIC-LB (draft-ietf-quic-load-
 * balancers, "plaintext" server IDs): what a balancer needs to route is
 * in the clear at a fixed place, the rest is random.
 *
 *   octet 0      config: bits 7-5 the config rotation (0..6; 7 is never
 *                made, as QUIC-LB reserves it), bits 4-0 the CID length
 *                less one (a tls12_cid record does not say how long its
 *                CID is; a balancer reads it here)
 *   octets 1-2   node id, big-endian: which server (host/process) of a
 *                cluster holds the connection
 *   octet 3      worker index on that node
 *   octets 4..   random from the provider (at least 4 octets)
 *
 * In a tls12_cid record (RFC 9146 §4: type 25, version, epoch, sequence
 * number, then the CID) the CID starts at octet 11 of the datagram: the
 * node id is at octets 12-13 and the worker at octet 14. */
#define CDTLS_WORKER_CID_MIN 8u
#define CDTLS_WORKER_CID_MAX 32u
#define CDTLS_WORKER_CID_DEFAULT 12u /* 8 random octets */
#define CDTLS_WORKER_CID_OFFSET 11u  /* of the CID in a tls12_cid record */

/* Writes a worker CID of len octets (CDTLS_WORKER_CID_MIN..MAX) for
 * (config 0..6, node, worker), its random part from the provider (NULL =
 * the default provider). */
CDTLS_API int cdtls_worker_cid_make(const cdtls_provider *p, unsigned config, uint16_t node, uint8_t worker,
                                    uint8_t *cid, size_t len);
/* Reads a worker CID back: CDTLS_OK with the parts (each may be NULL), or
 * CDTLS_ERR_DECODE when cid is not one (length octet wrong, config 7). */
CDTLS_API int cdtls_worker_cid_parse(const uint8_t *cid, size_t len, unsigned *config, uint16_t *node,
                                     uint8_t *worker);

typedef struct cdtls_worker_group cdtls_worker_group;

enum cdtls_worker_flags {
    /* Do not attach the steering program: CID records that reach another
     * worker than the one their CID names are handed over in memory (for
     * tests of the hand-off, and systems where the program is refused). */
    CDTLS_WORKERS_NO_STEERING = 1u << 0
};

typedef struct cdtls_worker_options {
    unsigned n_workers;  /* 1..255; 0 = 1 */
    uint16_t node_id;    /* this node in a cluster (written into every CID) */
    unsigned cid_config; /* the CID config rotation, 0..6 */
    size_t cid_len;      /* 0 = CDTLS_WORKER_CID_DEFAULT */
    unsigned io_flags;   /* cdtls_io_open flags for every socket (CDTLS_IO_DUAL_STACK...) */
    unsigned flags;      /* enum cdtls_worker_flags */
} cdtls_worker_options;

/* Opens n_workers listeners on *bind (port 0: the first one's port is
 * taken by the others), in order (worker i is socket i of the kernel's
 * group), and attaches the steering program. CDTLS_ERR_UNSUPPORTED where
 * the port cannot be shared. */
CDTLS_API int cdtls_worker_group_open(const cdtls_config *cfg, const cdtls_addr *bind,
                                      const cdtls_worker_options *opt, cdtls_worker_group **out);
CDTLS_API unsigned cdtls_worker_group_size(const cdtls_worker_group *g);
/* Worker i's listener: use it, and the sockets it accepts, from one
 * thread. Do not close it: cdtls_worker_group_close does. */
CDTLS_API cdtls_listener *cdtls_worker_group_listener(cdtls_worker_group *g, unsigned i);
/* 1 when the steering program is attached (CID records go to their worker
 * in the kernel), 0 when CID records are handed over in memory. */
CDTLS_API int cdtls_worker_group_steering(const cdtls_worker_group *g);

typedef struct cdtls_worker_stats {
    uint64_t handed_out; /* CID records this worker received for another */
    uint64_t handed_in;  /* CID records another worker handed to this one */
    uint64_t dropped;    /* hand-offs lost: the queue was full or memory short */
} cdtls_worker_stats;
/* Counters of worker i (safe from any thread). */
CDTLS_API int cdtls_worker_group_stats(cdtls_worker_group *g, unsigned i, cdtls_worker_stats *out);

/* Closes every worker's listener (their accepted sockets must be closed
 * first, each by its thread, and the threads done with them), then what
 * the workers shared; takes the group's lock off cfg.resumption.ticket_keys. */
CDTLS_API void cdtls_worker_group_close(cdtls_worker_group *g);

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_WORKERS_H */
