/* A simulated datagram link between a client and a server cdtls_conn, with a
 * virtual clock and seeded impairments (loss, duplication, reordering), for
 * in-process handshake and data tests. */
#ifndef CDTLS_TESTS_SIM_LINK_H
#define CDTLS_TESTS_SIM_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/conn.h"

typedef struct sim_impair {
    unsigned loss_pct;    /* chance a datagram is dropped */
    unsigned dup_pct;     /* chance it is delivered twice */
    unsigned reorder_pct; /* chance it is delayed past later ones */
    uint64_t seed;
} sim_impair;

#define SIM_MAX_INFLIGHT 4096

typedef struct sim_dgram {
    uint64_t at_ms;
    int to_server;
    size_t len;
    cdtls_oob oob;
    uint8_t data[2048];
} sim_dgram;

typedef struct sim_link {
    cdtls_conn *client, *server;
    uint64_t now_ms;
    sim_impair imp;
    uint64_t rng;
    sim_dgram *inflight; /* SIM_MAX_INFLIGHT entries */
    size_t n_inflight;
    /* statistics */
    size_t sent[2], dropped[2], max_dgram[2]; /* [0] client->server, [1] server->client */
    /* test hooks: called for every datagram before impairment; return 0 to drop */
    int (*tamper)(void *ctx, int to_server, uint8_t *data, size_t *len);
    void *tamper_ctx;
} sim_link;

/* Makes client and server from the two configs (server with cookie exchange
 * as configured) and starts the client. */
int sim_init(sim_link *s, const cdtls_config *client_cfg, const cdtls_config *server_cfg,
             const sim_impair *imp);
/* The same with the virtual clock starting at start_ms (sim_init: 1000). */
int sim_init_at(sim_link *s, const cdtls_config *client_cfg, const cdtls_config *server_cfg,
                const sim_impair *imp, uint64_t start_ms);
void sim_free(sim_link *s);
/* Runs until both sides are established (or one failed), or until the
 * virtual clock passes budget_ms. Returns 1 if both are established. */
int sim_run_handshake(sim_link *s, uint64_t budget_ms);
/* Moves datagrams and timers until nothing is in flight, or budget_ms. */
void sim_run(sim_link *s, uint64_t budget_ms);
/* Drains a side's output queue into the link (to_server: from the client). */
void sim_pump(sim_link *s);
/* Puts a datagram in flight, due delay_ms from now (the link's own
 * datagrams take 5 ms): a tamper hook that returns 0 after this delays it
 * past the ones sent after it. */
void sim_deliver_later(sim_link *s, int to_server, const uint8_t *data, size_t len, uint64_t delay_ms);
/* Injects raw bytes as if they arrived from the network. */
int sim_inject(sim_link *s, int to_server, const uint8_t *data, size_t len);

uint64_t sim_rand(sim_link *s);
/* A short record each way, written again until it gets through (the link
 * may be lossy; DTLS does not retransmit application data). 1 if both
 * arrived within `tries` attempts each. */
int sim_exchange(sim_link *s, int tries);

#endif
