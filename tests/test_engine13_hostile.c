/* A DTLS 1.3 peer that floods KeyUpdates (issue 16): it sends one after the
 * other without waiting for our ACK (its own engine's one-outstanding rule,
 * RFC 9147 §8, switched off by hand), with and without update_requested,
 * and never lets our ACKs or our own KeyUpdates reach it. The server must
 * stay bounded: no growing set of epochs or keys (the counting allocator
 * measures it), at most one KeyUpdate of its own outstanding, and the
 * connection either still carries data afterwards or failed with an alert. */
#include <criterion/criterion.h>

#include "test_util.h"
#include <stdio.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "counting_alloc.h"
#include "engine/conn_internal.h" /* CDTLS_HAVE_DTLS13 */
#include "sim_link.h"

#if CDTLS_HAVE_DTLS13
#include "engine/hs13_internal.h"

static const uint8_t flood_psk[16] = "keyupdate-flood!";

typedef struct watch {
    unsigned ku_sent_msgs; /* HANDSHAKE_SENT KeyUpdate (24): each new one of ours */
    unsigned ku_recv_msgs; /* HANDSHAKE_RECEIVED KeyUpdate */
    unsigned retransmits;
    uint8_t alert_sent;
} watch;

static void observe(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    watch *w = user;
    (void)c;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_SENT && ev->hs_type == 24) w->ku_sent_msgs++;
    if (ev->kind == CDTLS_EVENT_HANDSHAKE_RECEIVED && ev->hs_type == 24) w->ku_recv_msgs++;
    if (ev->kind == CDTLS_EVENT_RETRANSMIT) w->retransmits++;
    if (ev->kind == CDTLS_EVENT_ALERT_SENT) w->alert_sent = ev->alert_desc;
}

static size_t drain(cdtls_conn *from, cdtls_conn *to, uint64_t now)
{
    uint8_t d[2048];
    size_t n, k = 0;
    while (k < 64 && cdtls_conn_next_datagram(from, d, sizeof d, &n, NULL) == CDTLS_OK) {
        if (to) (void)cdtls_conn_recv(to, d, n, NULL, now);
        k++;
    }
    return k;
}

static int send_read(cdtls_conn *from, cdtls_conn *to, uint64_t now, const char *msg)
{
    if (cdtls_conn_write(from, (const uint8_t *)msg, strlen(msg), NULL) != CDTLS_OK) return 0;
    drain(from, to, now);
    uint8_t buf[128];
    size_t n = 0;
    return cdtls_conn_read(to, buf, sizeof buf, &n, NULL) == CDTLS_OK && n == strlen(msg) &&
           memcmp(buf, msg, n) == 0;
}

#define FLOOD 5000

static void flood(int request_peer)
{
    counting cnt;
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    cc.psk.key = sc.psk.key = flood_psk;
    cc.psk.key_len = sc.psk.key_len = sizeof flood_psk;
    cc.psk.identity = sc.psk.identity = (const uint8_t *)"ku";
    cc.psk.identity_len = sc.psk.identity_len = 2;
    cc.versions.min = sc.versions.min = CDTLS_VERSION_1_3;
    sc.allocator = counting_init(&cnt);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 2000); /* the final flight's ACK settles */
    cr_assert_eq(cdtls_conn_version(s.server), CDTLS_VERSION_1_3);
    watch w = {0};
    cdtls_conn_set_observer(s.server, observe, &w);
    uint64_t now = s.now_ms;
    cr_assert(send_read(s.client, s.server, now, "before"));
    const size_t live_before = cnt.live;
    size_t peak_extra = 0, dropped_from_server = 0;
    conn13 *hostile = s.client->v13;
    int sent = 0;
    for (int i = 0; i < FLOOD && cdtls_conn_get_state(s.server) == CDTLS_STATE_ESTABLISHED; i++) {
        hostile->ku_pending = 0; /* the hostile part: the next one without the ACK */
        hostile->final_pending = 0;
        if (hs13_key_update_send(s.client, request_peer, now) != CDTLS_OK) break;
        sent++;
        drain(s.client, s.server, now);
        dropped_from_server += drain(s.server, NULL, now); /* ACKs and KeyUpdates never arrive */
        now += 1;
        if (cdtls_conn_timeout(s.server) <= now) (void)cdtls_conn_on_timeout(s.server, now);
        if (cnt.live > live_before && cnt.live - live_before > peak_extra)
            peak_extra = cnt.live - live_before;
    }
    cr_assert(sent > 100, "the flood ran (%d)", sent);
    const cdtls_conn_state st = cdtls_conn_get_state(s.server);
    fprintf(
        stderr,
        "engine13_hostile: %d KeyUpdates (update_requested=%d) -> server %s, %u received, %u of its own sent "
        "(%u retransmissions), %zu datagrams dropped, live +%zu B at peak, +%zu B after\n",
        sent, request_peer, st == CDTLS_STATE_ESTABLISHED ? "established" : "failed", w.ku_recv_msgs,
        w.ku_sent_msgs, w.retransmits, dropped_from_server, peak_extra,
        cnt.live > live_before ? cnt.live - live_before : 0);
    /* bounded: two read epochs and one write epoch at a time, whatever came */
    cr_assert(peak_extra <= 64 * 1024, "the server grew by %zu bytes", peak_extra);
    /* §8: at most one KeyUpdate of ours unacknowledged: with no ACK ever
     * coming back, one message (retransmitted on its timer), not one per
     * request */
    cr_assert(w.ku_sent_msgs <= 1, "%u KeyUpdates of the server's own", w.ku_sent_msgs);
    if (!request_peer) cr_assert_eq(w.ku_sent_msgs, 0);
    if (st == CDTLS_STATE_FAILED) {
        cr_assert_neq(w.alert_sent, 0, "failed with an alert");
    } else {
        cr_assert_eq(st, CDTLS_STATE_ESTABLISHED);
        /* the flood stops; the link works both ways again: the peer's
         * records in its newest epoch and ours to it still get through */
        sim_run(&s, 5000);
        now = s.now_ms;
        int ok = 0;
        for (int i = 0; i < 5 && !ok; i++) {
            ok = send_read(s.server, s.client, now, "server after the flood");
            sim_run(&s, 1000);
            now = s.now_ms;
        }
        cr_assert(ok, "server -> client data after the flood");
        cr_assert(send_read(s.client, s.server, now, "client after the flood") ||
                      cdtls_conn_get_state(s.server) == CDTLS_STATE_FAILED,
                  "client -> server data after the flood (or a clean failure)");
    }
    sim_free(&s);
    cr_assert_eq(cnt.live, 0, "everything freed");
}

Test(engine13_hostile, key_update_flood_without_update_requested, .timeout = 60)
{
    flood(0);
}

Test(engine13_hostile, key_update_flood_with_update_requested, .timeout = 60)
{
    flood(1);
}

#else
Test(engine13_hostile, key_update_flood)
{
    test_require_dtls13();
}
#endif
