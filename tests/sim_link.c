#include "sim_link.h"

#include <stdlib.h>
#include <string.h>

uint64_t sim_rand(sim_link *s)
{
    /* xorshift64*: deterministic for a seed, good enough for impairments */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int sim_init(sim_link *s, const cdtls_config *client_cfg, const cdtls_config *server_cfg,
             const sim_impair *imp)
{
    return sim_init_at(s, client_cfg, server_cfg, imp, 1000);
}

int sim_init_at(sim_link *s, const cdtls_config *client_cfg, const cdtls_config *server_cfg,
                const sim_impair *imp, uint64_t start_ms)
{
    memset(s, 0, sizeof *s);
    s->now_ms = start_ms;
    if (imp) s->imp = *imp;
    s->rng = s->imp.seed ? s->imp.seed : 0x9e3779b97f4a7c15ULL;
    s->inflight = calloc(SIM_MAX_INFLIGHT, sizeof *s->inflight);
    if (!s->inflight) return CDTLS_ERR_NOMEM;
    int rc = cdtls_conn_new(client_cfg, CDTLS_CLIENT, s->now_ms, &s->client);
    if (!rc) rc = cdtls_conn_new(server_cfg, CDTLS_SERVER, s->now_ms, &s->server);
    if (!rc) rc = cdtls_conn_set_peer_address(s->server, "client:1", 8);
    if (!rc) rc = cdtls_conn_start(s->client, s->now_ms);
    if (!rc) sim_pump(s);
    return rc;
}

void sim_free(sim_link *s)
{
    cdtls_conn_free(s->client);
    cdtls_conn_free(s->server);
    free(s->inflight);
    memset(s, 0, sizeof *s);
}

static void enqueue(sim_link *s, int to_server, const uint8_t *data, size_t len, const cdtls_oob *oob,
                    uint64_t delay)
{
    if (s->n_inflight == SIM_MAX_INFLIGHT || len > sizeof s->inflight[0].data) return;
    sim_dgram *d = &s->inflight[s->n_inflight++];
    d->at_ms = s->now_ms + delay;
    d->to_server = to_server;
    d->len = len;
    if (oob)
        d->oob = *oob;
    else
        memset(&d->oob, 0, sizeof d->oob);
    memcpy(d->data, data, len);
}

void sim_deliver_later(sim_link *s, int to_server, const uint8_t *data, size_t len, uint64_t delay_ms)
{
    enqueue(s, to_server, data, len, NULL, delay_ms);
}

static void pump_one(sim_link *s, cdtls_conn *from, int to_server)
{
    uint8_t buf[2048];
    size_t n;
    cdtls_oob oob;
    while (cdtls_conn_next_datagram(from, buf, sizeof buf, &n, &oob) == CDTLS_OK) {
        int dir = to_server ? 0 : 1;
        s->sent[dir]++;
        if (n > s->max_dgram[dir]) s->max_dgram[dir] = n;
        if (s->tamper && !s->tamper(s->tamper_ctx, to_server, buf, &n)) {
            s->dropped[dir]++;
            continue;
        }
        if (s->imp.loss_pct && sim_rand(s) % 100 < s->imp.loss_pct) {
            s->dropped[dir]++;
            continue;
        }
        uint64_t delay = 5;
        if (s->imp.reorder_pct && sim_rand(s) % 100 < s->imp.reorder_pct) delay += 1 + sim_rand(s) % 40;
        enqueue(s, to_server, buf, n, &oob, delay);
        if (s->imp.dup_pct && sim_rand(s) % 100 < s->imp.dup_pct)
            enqueue(s, to_server, buf, n, &oob, delay + 1 + sim_rand(s) % 10);
    }
}

void sim_pump(sim_link *s)
{
    pump_one(s, s->client, 1);
    pump_one(s, s->server, 0);
}

int sim_inject(sim_link *s, int to_server, const uint8_t *data, size_t len)
{
    int rc = cdtls_conn_recv(to_server ? s->server : s->client, data, len, NULL, s->now_ms);
    sim_pump(s);
    return rc;
}

/* One step: deliver everything due now, fire due timers, else advance the
 * clock to the next event. Returns 0 when nothing at all is pending. */
static int step(sim_link *s)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < s->n_inflight; i++)
        if (s->inflight[i].at_ms < next) next = s->inflight[i].at_ms;
    uint64_t tc = cdtls_conn_timeout(s->client), ts = cdtls_conn_timeout(s->server);
    if (tc < next) next = tc;
    if (ts < next) next = ts;
    if (next == UINT64_MAX) return 0;
    if (next > s->now_ms) s->now_ms = next;

    /* deliver the earliest due datagram (stable order for equal times) */
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < s->n_inflight; i++)
        if (s->inflight[i].at_ms <= s->now_ms &&
            (best == SIZE_MAX || s->inflight[i].at_ms < s->inflight[best].at_ms))
            best = i;
    if (best != SIZE_MAX) {
        sim_dgram d = s->inflight[best];
        memmove(&s->inflight[best], &s->inflight[best + 1],
                (s->n_inflight - best - 1) * sizeof s->inflight[0]);
        s->n_inflight--;
        (void)cdtls_conn_recv(d.to_server ? s->server : s->client, d.data, d.len, &d.oob, s->now_ms);
    }
    if (cdtls_conn_timeout(s->client) <= s->now_ms) (void)cdtls_conn_on_timeout(s->client, s->now_ms);
    if (cdtls_conn_timeout(s->server) <= s->now_ms) (void)cdtls_conn_on_timeout(s->server, s->now_ms);
    sim_pump(s);
    return 1;
}

int sim_run_handshake(sim_link *s, uint64_t budget_ms)
{
    uint64_t end = s->now_ms + budget_ms;
    while (s->now_ms <= end) {
        cdtls_conn_state a = cdtls_conn_get_state(s->client), b = cdtls_conn_get_state(s->server);
        if (a == CDTLS_STATE_ESTABLISHED && b == CDTLS_STATE_ESTABLISHED) return 1;
        if (a == CDTLS_STATE_FAILED && b == CDTLS_STATE_FAILED) return 0;
        if (!step(s)) return 0;
    }
    return 0;
}

void sim_run(sim_link *s, uint64_t budget_ms)
{
    uint64_t end = s->now_ms + budget_ms;
    while (s->now_ms <= end && step(s)) {
    }
}

int sim_exchange(sim_link *s, int tries)
{
    for (int dir = 0; dir < 2; dir++) {
        cdtls_conn *from = dir ? s->server : s->client, *to = dir ? s->client : s->server;
        int got = 0;
        for (int attempt = 0; attempt < tries && !got; attempt++) {
            if (cdtls_conn_write(from, (const uint8_t *)"xchg", 4, NULL) != CDTLS_OK) return 0;
            sim_pump(s);
            sim_run(s, 1000);
            uint8_t b[8];
            size_t n;
            got = cdtls_conn_read(to, b, sizeof b, &n, NULL) == CDTLS_OK && n == 4 &&
                  memcmp(b, "xchg", 4) == 0;
        }
        if (!got) return 0;
    }
    return 1;
}
