/* Connection IDs over DTLS 1.3 (RFC 9147 §9, RFC 9146) between our client
 * and our server over the simulated link: negotiation both ways and with a
 * zero-length CID on one side, the CID on every protected record
 * (handshake keys included, §9.1), NewConnectionId (spare and immediate)
 * and the switch to a spare CID, RequestConnectionId answered, all of it
 * under loss, and hostile input: malformed NewConnectionId lists, messages
 * §9 forbids, records with unknown CIDs or CIDs of the wrong length. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/conn.h"
#include "engine/hs13_cid.h"
#include "engine/hs13_internal.h" /* the read epoch */
#include "handshake/hs13_cid_msg.h"
#include "sim_link.h"
#include "test_util.h"

/* ------------------------------------------------------------- codec */

Test(cid13_msg, new_connection_id_round_trip)
{
    const uint8_t cids[3 * 4] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
    uint8_t body[64];
    cdtls_writer w;
    writer_init(&w, body, sizeof body);
    cr_assert_eq(hs13_new_cid_write(&w, cids, 4, 3, HS13_CID_SPARE), CDTLS_OK);
    cr_assert_eq(w.len, 2 + 3 * 5 + 1);
    const uint8_t want[] = {0, 15, 4, 1, 1, 1, 1, 4, 2, 2, 2, 2, 4, 3, 3, 3, 3, 1};
    cr_assert_arr_eq(body, want, sizeof want);
    hs13_new_cid m;
    cr_assert_eq(hs13_new_cid_parse(body, w.len, &m), CDTLS_OK);
    cr_assert_eq(m.n_cids, 3);
    cr_assert_eq(m.usage, HS13_CID_SPARE);
    size_t off = 0, n = 0, len;
    const uint8_t *cid;
    while (hs13_new_cid_next(&m, &off, &cid, &len)) {
        cr_assert_eq(len, 4);
        cr_assert_arr_eq(cid, cids + n * 4, 4);
        n++;
    }
    cr_assert_eq(n, 3);
    /* an empty list is well-formed */
    const uint8_t empty[] = {0, 0, 1};
    cr_assert_eq(hs13_new_cid_parse(empty, sizeof empty, &m), CDTLS_OK);
    cr_assert_eq(m.n_cids, 0);
}

Test(cid13_msg, malformed_new_connection_id)
{
    hs13_new_cid m;
    /* the list says 16 bytes, 5 follow */
    const uint8_t over[] = {0, 16, 4, 1, 1, 1, 1, 0};
    cr_assert_eq(hs13_new_cid_parse(over, sizeof over, &m), CDTLS_ERR_DECODE);
    /* an entry that runs past the list */
    const uint8_t entry[] = {0, 3, 4, 1, 1, 0};
    cr_assert_eq(hs13_new_cid_parse(entry, sizeof entry, &m), CDTLS_ERR_DECODE);
    /* trailing byte, missing usage, nothing */
    const uint8_t trail[] = {0, 2, 1, 9, 0, 0};
    cr_assert_eq(hs13_new_cid_parse(trail, sizeof trail, &m), CDTLS_ERR_DECODE);
    cr_assert_eq(hs13_new_cid_parse(trail, 4, &m), CDTLS_ERR_DECODE);
    cr_assert_eq(hs13_new_cid_parse(trail, 0, &m), CDTLS_ERR_DECODE);
    /* usage 2 is no ConnectionIdUsage; a zero-length entry is refused */
    const uint8_t usage[] = {0, 2, 1, 9, 2};
    cr_assert_eq(hs13_new_cid_parse(usage, sizeof usage, &m), CDTLS_ERR_ILLEGAL_PARAMETER);
    const uint8_t zero[] = {0, 3, 1, 9, 0, 0};
    cr_assert_eq(hs13_new_cid_parse(zero, sizeof zero, &m), CDTLS_ERR_ILLEGAL_PARAMETER);
    uint8_t num;
    const uint8_t rq[] = {5, 0};
    cr_assert_eq(hs13_request_cid_parse(rq, 1, &num), CDTLS_OK);
    cr_assert_eq(num, 5);
    cr_assert_eq(hs13_request_cid_parse(rq, 2, &num), CDTLS_ERR_DECODE);
    cr_assert_eq(hs13_request_cid_parse(rq, 0, &num), CDTLS_ERR_DECODE);
}

#if !CDTLS_HAVE_DTLS13
Test(engine13_cid, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#else

/* --------------------------------------------------------- handshake */

static const uint8_t psk[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 22, 33, 44, 55, 66};

/* CIDs of len bytes: byte, then a counter (distinct CIDs from one generator) */
struct gen {
    uint8_t byte;
    size_t len;
    int calls;
};

static int make_cid(void *ctx, uint8_t *cid, size_t cap, size_t *len)
{
    struct gen *g = ctx;
    if (cap < g->len) return CDTLS_ERR_BUFFER_TOO_SMALL;
    memset(cid, g->byte, g->len);
    if (g->len > 1) cid[g->len - 1] = (uint8_t)g->calls;
    g->calls++;
    *len = g->len;
    return CDTLS_OK;
}

static void cid_configs(cdtls_config *cc, cdtls_config *sc, struct gen *gc, struct gen *gs)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = psk;
    cc->psk.key_len = sc->psk.key_len = sizeof psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"cid13";
    cc->psk.identity_len = sc->psk.identity_len = 5;
    cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
    if (gc) cc->callbacks.cid_generator = make_cid, cc->callbacks.user = gc;
    if (gs) sc->callbacks.cid_generator = make_cid, sc->callbacks.user = gs;
}

/* What the unified headers on the wire carried. */
struct wire {
    int to_server_cid, to_server_plain, to_client_cid, to_client_plain;
    uint8_t last_to_server[8], last_to_client[8];
    /* test hooks: 1 flips the CID's first byte of records to the server,
     * 2 cuts the CID's last byte out of them */
    int mangle;
};

static int watch(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    struct wire *w = ctx;
    if (*len < 1 || (data[0] & 0xe0) != 0x20) return 1; /* plaintext records */
    int cid = (data[0] & 0x10) != 0;
    if (to_server) {
        cid ? w->to_server_cid++ : w->to_server_plain++;
        if (cid && *len > 9) memcpy(w->last_to_server, data + 1, 8);
        if (cid && w->mangle == 1) data[1] ^= 0xff;
        if (cid && w->mangle == 2 && *len > 9) {
            memmove(data + 8, data + 9, *len - 9);
            (*len)--;
        }
    } else {
        cid ? w->to_client_cid++ : w->to_client_plain++;
        if (cid && *len > 9) memcpy(w->last_to_client, data + 1, 8);
    }
    return 1;
}

static int send_and_read(sim_link *s, cdtls_conn *from, cdtls_conn *to, const char *msg)
{
    if (cdtls_conn_write(from, (const uint8_t *)msg, strlen(msg), NULL) != CDTLS_OK) return 0;
    sim_pump(s);
    sim_run(s, 1000);
    uint8_t buf[256];
    size_t n = 0;
    return cdtls_conn_read(to, buf, sizeof buf, &n, NULL) == CDTLS_OK && n == strlen(msg) &&
           memcmp(buf, msg, n) == 0;
}

static void handshake(sim_link *s, cdtls_config *cc, cdtls_config *sc, const sim_impair *imp, struct wire *w)
{
    cr_assert_eq(sim_init(s, cc, sc, imp), CDTLS_OK);
    if (w) s->tamper = watch, s->tamper_ctx = w;
    cr_assert(sim_run_handshake(s, 60000), "handshake: client %s, server %s",
              cdtls_strerror(cdtls_conn_error(s->client)), cdtls_strerror(cdtls_conn_error(s->server)));
    cr_assert_eq(cdtls_conn_version(s->client), CDTLS_VERSION_1_3);
    cr_assert_eq(cdtls_conn_version(s->server), CDTLS_VERSION_1_3);
}

Test(engine13_cid, negotiated_both_ways_and_on_every_protected_record)
{
    struct gen gc = {0xcc, 4, 0}, gs = {0x5e, 8, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    struct wire w = {0};
    handshake(&s, &cc, &sc, NULL, &w);
    cr_assert(cdtls_conn_uses_cid(s.client) && cdtls_conn_uses_cid(s.server));
    /* RFC 9147 §9.1: the handshake's protected records carry CIDs too */
    cr_assert(w.to_client_cid > 0 && w.to_client_plain == 0, "server: %d with, %d without", w.to_client_cid,
              w.to_client_plain);
    cr_assert(w.to_server_cid > 0 && w.to_server_plain == 0);
    size_t n;
    const uint8_t *own = cdtls_conn_own_cid(s.client, &n);
    cr_assert(own && n == 4 && own[0] == 0xcc);
    const uint8_t *peer = cdtls_conn_peer_cid(s.client, &n);
    cr_assert(peer && n == 8 && peer[0] == 0x5e);
    memset(&w, 0, sizeof w);
    cr_assert(send_and_read(&s, s.client, s.server, "to the server"));
    cr_assert(send_and_read(&s, s.server, s.client, "to the client"));
    cr_assert_eq(w.to_server_cid, 1);
    cr_assert_eq(w.to_client_cid, 1);
    const uint8_t s_cid[8] = {0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0};
    cr_assert_arr_eq(w.last_to_server, s_cid, 8, "the server's CID on records to it");
    const uint8_t c_cid[4] = {0xcc, 0xcc, 0xcc, 0};
    cr_assert_arr_eq(w.last_to_client, c_cid, 4);
    cr_assert(cdtls_conn_cid_is_ours(s.server, s_cid, 8));
    cr_assert(!cdtls_conn_cid_is_ours(s.server, c_cid, 4));
    sim_free(&s);
}

Test(engine13_cid, zero_length_cid_on_one_side)
{
    /* the client asks for none (RFC 9146 §3): it puts the server's CID on
     * its records and receives records without one */
    struct gen gc = {0, 0, 0}, gs = {0x77, 6, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    struct wire w = {0};
    handshake(&s, &cc, &sc, NULL, &w);
    cr_assert(cdtls_conn_uses_cid(s.client) && cdtls_conn_uses_cid(s.server));
    memset(&w, 0, sizeof w);
    cr_assert(send_and_read(&s, s.client, s.server, "up"));
    cr_assert(send_and_read(&s, s.server, s.client, "down"));
    cr_assert(w.to_server_cid == 1 && w.to_server_plain == 0);
    cr_assert(w.to_client_plain == 1 && w.to_client_cid == 0);
    /* §9: the side receiving an empty CID sends no NewConnectionId, and
     * no RequestConnectionId goes to... the one sending an empty CID */
    cr_assert_eq(cdtls_conn_issue_cids(s.client, 1, 0, s.now_ms), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_request_cids(s.server, 1, s.now_ms), CDTLS_ERR_BAD_STATE);
    sim_free(&s);

    /* and the other way round: the server asks for none */
    struct gen gc2 = {0x31, 5, 0}, gs2 = {0, 0, 0};
    cid_configs(&cc, &sc, &gc2, &gs2);
    memset(&w, 0, sizeof w);
    handshake(&s, &cc, &sc, NULL, &w);
    memset(&w, 0, sizeof w);
    cr_assert(send_and_read(&s, s.client, s.server, "up"));
    cr_assert(send_and_read(&s, s.server, s.client, "down"));
    cr_assert(w.to_server_plain == 1 && w.to_client_cid == 1);
    sim_free(&s);
}

Test(engine13_cid, not_negotiated_unless_both_want_it)
{
    struct gen g = {1, 4, 0};
    cdtls_config cc, sc;
    sim_link s;
    cid_configs(&cc, &sc, &g, NULL);
    struct wire w = {0};
    handshake(&s, &cc, &sc, NULL, &w);
    cr_assert(!cdtls_conn_uses_cid(s.client) && !cdtls_conn_uses_cid(s.server));
    cr_assert(send_and_read(&s, s.client, s.server, "plain"));
    cr_assert_eq(w.to_server_cid + w.to_client_cid, 0);
    cr_assert_eq(cdtls_conn_issue_cids(s.client, 1, 0, s.now_ms), CDTLS_ERR_BAD_STATE);
    sim_free(&s);
    cid_configs(&cc, &sc, NULL, &g);
    handshake(&s, &cc, &sc, NULL, NULL);
    cr_assert(!cdtls_conn_uses_cid(s.client) && !cdtls_conn_uses_cid(s.server));
    cr_assert(send_and_read(&s, s.server, s.client, "plain"));
    sim_free(&s);
}

/* ----------------------------------------------- NewConnectionId & co */

Test(engine13_cid, new_connection_id_then_switch)
{
    struct gen gc = {0xc1, 4, 0}, gs = {0x51, 6, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    struct wire w = {0};
    handshake(&s, &cc, &sc, NULL, &w);
    cr_assert_eq(cdtls_conn_switch_cid(s.client), CDTLS_ERR_WOULD_BLOCK, "nothing spare yet");
    cr_assert_eq(cdtls_conn_issue_cids(s.server, 2, 0, s.now_ms), CDTLS_OK);
    cr_assert_eq(cdtls_conn_issue_cids(s.server, 1, 0, s.now_ms), CDTLS_ERR_WOULD_BLOCK, "one at a time");
    sim_pump(&s);
    sim_run(&s, 2000);
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 2);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_ESTABLISHED);
    /* ACKed: the server may send another */
    cr_assert_eq(cdtls_conn_issue_cids(s.server, 1, 0, s.now_ms), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 2000);
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 3);
    /* the client switches: the oldest spare (the generator's second CID) */
    cr_assert_eq(cdtls_conn_switch_cid(s.client), CDTLS_OK);
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 2);
    size_t n;
    const uint8_t *peer = cdtls_conn_peer_cid(s.client, &n);
    const uint8_t second[6] = {0x51, 0x51, 0x51, 0x51, 0x51, 1};
    cr_assert(n == 6 && memcmp(peer, second, 6) == 0);
    cr_assert(cdtls_conn_cid_is_ours(s.server, second, 6));
    memset(&w, 0, sizeof w);
    cr_assert(send_and_read(&s, s.client, s.server, "on the new CID"));
    cr_assert_arr_eq(w.last_to_server, second, 6);
    cr_assert(send_and_read(&s, s.server, s.client, "answer"));
    cr_assert_eq(gs.calls, 4, "the handshake's CID and three issued");
    sim_free(&s);
}

/* Post-handshake messages out of order: the server's NewConnectionId is
 * lost and its KeyUpdate (the next message_seq) arrives first. The client
 * must not take the KeyUpdate then (it would step past the lost message,
 * whose resent copy would look old: ACKed and never used); it drops it,
 * the server resends both, and the client ends with the spare CIDs and the
 * new epoch. */
static int drop_first_to_client;
static int drop_one(void *ctx, int to_server, uint8_t *data, size_t *len)
{
    (void)ctx, (void)data, (void)len;
    if (!to_server && drop_first_to_client) {
        drop_first_to_client = 0;
        return 0;
    }
    return 1;
}

Test(engine13_cid, lost_message_overtaken_by_the_next_is_still_processed)
{
    struct gen gc = {0xc2, 4, 0}, gs = {0x52, 6, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    handshake(&s, &cc, &sc, NULL, NULL);
    const uint64_t epoch = s.client->v13->rx_ap->epoch;
    s.tamper = drop_one;
    drop_first_to_client = 1;
    cr_assert_eq(cdtls_conn_issue_cids(s.server, 2, 0, s.now_ms), CDTLS_OK); /* lost */
    cr_assert_eq(cdtls_conn_update_keys(s.server, 0), CDTLS_OK);             /* arrives first */
    sim_pump(&s);
    cr_assert_eq(drop_first_to_client, 0, "the NewConnectionId was dropped");
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 0);
    cr_assert_eq(s.client->v13->rx_ap->epoch, epoch, "the KeyUpdate waits for the message before it");
    sim_run(&s, 20000);
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 2, "the resent NewConnectionId was used");
    cr_assert_eq(s.client->v13->rx_ap->epoch, epoch + 1, "then the KeyUpdate");
    cr_assert(send_and_read(&s, s.server, s.client, "after both"));
    cr_assert(send_and_read(&s, s.client, s.server, "and back"));
    sim_free(&s);
}

Test(engine13_cid, immediate_usage_switches_the_peer)
{
    struct gen gc = {0xc2, 4, 0}, gs = {0x52, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    struct wire w = {0};
    handshake(&s, &cc, &sc, NULL, &w);
    cr_assert_eq(cdtls_conn_issue_cids(s.client, 2, 1, s.now_ms), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 2000);
    size_t n;
    const uint8_t *peer = cdtls_conn_peer_cid(s.server, &n);
    const uint8_t next[4] = {0xc2, 0xc2, 0xc2, 1};
    cr_assert(n == 4 && memcmp(peer, next, 4) == 0, "cid_immediate: the first new CID at once");
    cr_assert_eq(cdtls_conn_spare_cids(s.server), 1, "the rest spare");
    memset(&w, 0, sizeof w);
    cr_assert(send_and_read(&s, s.server, s.client, "to the client's new CID"));
    cr_assert_arr_eq(w.last_to_client, next, 4);
    sim_free(&s);
}

Test(engine13_cid, request_connection_id_is_answered)
{
    struct gen gc = {0xc3, 4, 0}, gs = {0x53, 8, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    handshake(&s, &cc, &sc, NULL, NULL);
    cr_assert_eq(cdtls_conn_request_cids(s.client, 3, s.now_ms), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 2000);
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 3);
    cr_assert_eq(gs.calls, 4);
    /* the request is answered: another may go; an excessive one gets fewer
     * (8 CIDs of ours at most, §9 allows fewer, even none) */
    cr_assert_eq(cdtls_conn_request_cids(s.client, 200, s.now_ms), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 2000);
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 7);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_switch_cid(s.client), CDTLS_OK);
    cr_assert(send_and_read(&s, s.client, s.server, "fine"));
    sim_free(&s);
}

Test(engine13_cid, cid_change_under_loss)
{
    struct gen gc = {0xc4, 4, 0}, gs = {0x54, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_impair imp = {30, 10, 10, 0x13c1d};
    sim_link s;
    struct wire w = {0};
    handshake(&s, &cc, &sc, &imp, &w);
    /* the request and its answer are resent until ACKed */
    cr_assert_eq(cdtls_conn_request_cids(s.client, 2, s.now_ms), CDTLS_OK);
    for (int i = 0; i < 40 && cdtls_conn_spare_cids(s.client) < 2; i++) {
        sim_pump(&s);
        sim_run(&s, 3000);
    }
    cr_assert_eq(cdtls_conn_spare_cids(s.client), 2, "the answer arrived through 30%% loss");
    cr_assert_eq(cdtls_conn_switch_cid(s.client), CDTLS_OK);
    const uint8_t next[4] = {0x54, 0x54, 0x54, 1};
    cr_assert(sim_exchange(&s, 30), "data both ways on the new CID");
    cr_assert_arr_eq(w.last_to_server, next, 4);
    /* and the server's NewConnectionId the other way, immediate */
    cr_assert_eq(cdtls_conn_issue_cids(s.client, 1, 1, s.now_ms), CDTLS_OK);
    size_t n;
    const uint8_t want[4] = {0xc4, 0xc4, 0xc4, 1};
    for (int i = 0; i < 40; i++) {
        sim_pump(&s);
        sim_run(&s, 3000);
        const uint8_t *p = cdtls_conn_peer_cid(s.server, &n);
        if (n == 4 && memcmp(p, want, 4) == 0) break;
    }
    cr_assert(memcmp(cdtls_conn_peer_cid(s.server, &n), want, 4) == 0);
    cr_assert(sim_exchange(&s, 30));
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);
}

/* The state export moves the handshake's CIDs; the pool and the CIDs
 * issued after it are not in the blob, so a connection that used
 * NewConnectionId or RequestConnectionId is not exported. */
Test(engine13_cid, state_export_with_cids)
{
    struct gen gc = {0xc9, 4, 0}, gs = {0x59, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    handshake(&s, &cc, &sc, NULL, NULL);
    static const uint8_t key[32] = {1, 2, 3};
    uint8_t blob[4096];
    size_t n = 0;
    cr_assert_eq(cdtls_conn_export_state(s.server, key, blob, sizeof blob, &n), CDTLS_OK);
    cdtls_conn *moved = NULL;
    cr_assert_eq(cdtls_conn_import_state(&sc, key, blob, n, s.now_ms, &moved), CDTLS_OK);
    cr_assert(cdtls_conn_uses_cid(moved));
    size_t len;
    const uint8_t *own = cdtls_conn_own_cid(moved, &len);
    const uint8_t want[4] = {0x59, 0x59, 0x59, 0};
    cr_assert(len == 4 && memcmp(own, want, 4) == 0);
    cdtls_conn_free(s.server);
    s.server = moved;
    cr_assert(send_and_read(&s, s.client, s.server, "to the imported server"));
    cr_assert_eq(cdtls_conn_issue_cids(s.server, 1, 0, s.now_ms), CDTLS_OK);
    sim_pump(&s);
    sim_run(&s, 2000);
    cr_assert_eq(cdtls_conn_export_state(s.server, key, blob, sizeof blob, &n), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_export_state(s.client, key, blob, sizeof blob, &n), CDTLS_ERR_BAD_STATE);
    sim_free(&s);
}

/* ------------------------------------------------------------ hostile */

/* The client sends a handshake message of type/body as if it were ours. */
static void client_sends(sim_link *s, uint8_t type, const uint8_t *body, size_t len)
{
    uint8_t msg[512];
    cr_assert(len + 12 <= sizeof msg);
    msg[0] = type;
    msg[1] = 0, msg[2] = (uint8_t)(len >> 8), msg[3] = (uint8_t)len;
    uint16_t seq = s->client->send_msg_seq++;
    msg[4] = (uint8_t)(seq >> 8), msg[5] = (uint8_t)seq;
    memset(msg + 6, 0, 3);
    msg[9] = 0, msg[10] = (uint8_t)(len >> 8), msg[11] = (uint8_t)len;
    memcpy(msg + 12, body, len);
    ack13_record_number rn;
    cr_assert_eq(hs13_post_handshake_send(s->client, msg, 12 + len, &rn), CDTLS_OK);
    sim_pump(s);
    sim_run(s, 2000);
}

static void hostile_new_cid(const uint8_t *body, size_t len, int want_err, const char *what)
{
    struct gen gc = {0xc5, 4, 0}, gs = {0x55, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    handshake(&s, &cc, &sc, NULL, NULL);
    client_sends(&s, HS13_NEW_CONNECTION_ID, body, len);
    if (want_err) {
        cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_FAILED, "%s", what);
        cr_assert_eq(cdtls_conn_error(s.server), want_err, "%s: %s", what,
                     cdtls_strerror(cdtls_conn_error(s.server)));
    } else {
        cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED, "%s", what);
        cr_assert(send_and_read(&s, s.client, s.server, "still"));
    }
    sim_free(&s);
}

Test(engine13_cid, hostile_new_connection_id)
{
    const uint8_t over[] = {0xff, 0xff, 4, 1, 2, 3, 4, 1};
    hostile_new_cid(over, sizeof over, CDTLS_ERR_DECODE, "list longer than the message");
    const uint8_t entry[] = {0, 5, 9, 1, 2, 3, 4, 1};
    hostile_new_cid(entry, sizeof entry, CDTLS_ERR_DECODE, "entry longer than the list");
    const uint8_t empty_now[] = {0, 0, 0};
    hostile_new_cid(empty_now, sizeof empty_now, CDTLS_ERR_ILLEGAL_PARAMETER, "cid_immediate with no CID");
    const uint8_t empty_spare[] = {0, 0, 1};
    hostile_new_cid(empty_spare, sizeof empty_spare, 0, "cid_spare with no CID");
    const uint8_t usage[] = {0, 2, 1, 7, 9};
    hostile_new_cid(usage, sizeof usage, CDTLS_ERR_ILLEGAL_PARAMETER, "unknown usage");
    /* more spare CIDs than we keep: the extra ones are discarded */
    uint8_t many[2 + 20 * 5 + 1];
    many[0] = 0, many[1] = 100;
    for (int i = 0; i < 20; i++) many[2 + i * 5] = 4, memset(many + 3 + i * 5, i + 1, 4);
    many[sizeof many - 1] = 1;
    hostile_new_cid(many, sizeof many, 0, "20 spare CIDs");
}

Test(engine13_cid, forbidden_cid_messages_end_the_connection)
{
    /* §9: NewConnectionId to a side that sends an empty CID (it asked for
     * none), RequestConnectionId to one that receives an empty CID */
    struct gen gc = {0xc6, 4, 0}, gs = {0, 0, 0}, none = {0, 0, 0}, gs4 = {0x66, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &none, &gs4); /* the client receives an empty CID */
    sim_link s;
    handshake(&s, &cc, &sc, NULL, NULL);
    const uint8_t ncid[] = {0, 5, 4, 1, 2, 3, 4, 1};
    client_sends(&s, HS13_NEW_CONNECTION_ID, ncid, sizeof ncid);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_UNEXPECTED_MESSAGE);
    sim_free(&s);
    cid_configs(&cc, &sc, &gc, &gs); /* the client sends an empty CID */
    handshake(&s, &cc, &sc, NULL, NULL);
    const uint8_t rq[] = {2};
    client_sends(&s, HS13_REQUEST_CONNECTION_ID, rq, 1);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_UNEXPECTED_MESSAGE);
    sim_free(&s);
    /* without CIDs at all */
    cid_configs(&cc, &sc, NULL, NULL);
    handshake(&s, &cc, &sc, NULL, NULL);
    client_sends(&s, HS13_REQUEST_CONNECTION_ID, rq, 1);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_UNEXPECTED_MESSAGE);
    sim_free(&s);
    /* a malformed RequestConnectionId */
    struct gen gs2 = {0x56, 4, 0};
    cid_configs(&cc, &sc, &gc, &gs2);
    handshake(&s, &cc, &sc, NULL, NULL);
    client_sends(&s, HS13_REQUEST_CONNECTION_ID, ncid, 2);
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_DECODE);
    sim_free(&s);
}

Test(engine13_cid, too_many_requests)
{
    struct gen gc = {0xc7, 4, 0}, gs = {0x57, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    handshake(&s, &cc, &sc, NULL, NULL);
    const uint8_t rq[] = {1};
    int i = 0;
    for (; i < 40 && cdtls_conn_get_state(s.server) == CDTLS_STATE_ESTABLISHED; i++)
        client_sends(&s, HS13_REQUEST_CONNECTION_ID, rq, 1);
    cr_assert_eq(i, 33, "32 answered, the 33rd ends it");
    cr_assert_eq(cdtls_conn_error(s.server), CDTLS_ERR_LIMIT);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_FAILED, "the client got the alert");
    sim_free(&s);
}

Test(engine13_cid, records_with_unknown_or_misfit_cids_are_dropped)
{
    struct gen gc = {0xc8, 4, 0}, gs = {0x58, 4, 0};
    cdtls_config cc, sc;
    cid_configs(&cc, &sc, &gc, &gs);
    sim_link s;
    struct wire w = {0};
    handshake(&s, &cc, &sc, NULL, &w);
    w.mangle = 1;
    cr_assert(!send_and_read(&s, s.client, s.server, "unknown CID"), "dropped");
    w.mangle = 2;
    cr_assert(!send_and_read(&s, s.client, s.server, "CID one byte short"), "dropped");
    w.mangle = 0;
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED, "dropped silently (§4.5.2)");
    cr_assert(send_and_read(&s, s.client, s.server, "right CID"));
    /* a record without the C bit when we asked for a CID */
    uint8_t d[2048];
    size_t dn;
    cr_assert_eq(cdtls_conn_write(s.client, (const uint8_t *)"x", 1, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_next_datagram(s.client, d, sizeof d, &dn, NULL), CDTLS_OK);
    cr_assert(d[0] & 0x10);
    d[0] &= (uint8_t)~0x10;
    memmove(d + 1, d + 5, dn - 5);
    dn -= 4;
    cr_assert_eq(cdtls_conn_recv(s.server, d, dn, NULL, s.now_ms), CDTLS_OK);
    uint8_t buf[16];
    size_t n;
    cr_assert_neq(cdtls_conn_read(s.server, buf, sizeof buf, &n, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED);
    sim_free(&s);
}

#endif
