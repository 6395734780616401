/* Issue 20: what half-open and finished handshakes hold, and hostile
 * handshake records, at the engine (the listener's side is in
 * tests/test_abuse_listener.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"

#include "counting_alloc.h"
#include "sim_link.h"

static const uint8_t psk[16] = "abuse-test-psk!!";

static void psk_cfg(cdtls_config *cfg, counting *cnt)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"abuse";
    cfg->psk.identity_len = 5;
    cfg->cookie.exchange = 0;
    if (cnt) cfg->allocator = counting_init(cnt);
}

/* Moves every queued datagram from a to b. */
static void pass(cdtls_conn *a, cdtls_conn *b)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(a, d, sizeof d, &n, NULL) == CDTLS_OK)
        (void)cdtls_conn_recv(b, d, n, NULL, 1000);
}

static int shuttle(cdtls_conn *a, cdtls_conn *b)
{
    for (int i = 0; i < 20; i++) {
        pass(a, b);
        pass(b, a);
        if (cdtls_conn_get_state(a) == CDTLS_STATE_ESTABLISHED &&
            cdtls_conn_get_state(b) == CDTLS_STATE_ESTABLISHED)
            return 1;
    }
    return 0;
}

/* A plaintext (epoch 0) record holding one handshake fragment: frag_len
 * bytes at frag_off of a message of `length` bytes. */
static size_t hs_record(uint8_t *out, uint64_t rec_seq, uint8_t type, uint32_t length, uint16_t msg_seq,
                        uint32_t frag_off, const uint8_t *frag, uint32_t frag_len)
{
    size_t body = 12 + frag_len, n = 0;
    out[n++] = 22;
    out[n++] = 0xfe;
    out[n++] = 0xfd;
    out[n++] = 0;
    out[n++] = 0; /* epoch 0 */
    for (int i = 5; i >= 0; i--) out[n++] = (uint8_t)(rec_seq >> (8 * i));
    out[n++] = (uint8_t)(body >> 8);
    out[n++] = (uint8_t)body;
    out[n++] = type;
    out[n++] = (uint8_t)(length >> 16);
    out[n++] = (uint8_t)(length >> 8);
    out[n++] = (uint8_t)length;
    out[n++] = (uint8_t)(msg_seq >> 8);
    out[n++] = (uint8_t)msg_seq;
    out[n++] = (uint8_t)(frag_off >> 16);
    out[n++] = (uint8_t)(frag_off >> 8);
    out[n++] = (uint8_t)frag_off;
    out[n++] = (uint8_t)(frag_len >> 16);
    out[n++] = (uint8_t)(frag_len >> 8);
    out[n++] = (uint8_t)frag_len;
    if (frag_len) memcpy(out + n, frag, frag_len);
    return n + frag_len;
}

/* Items 3 and 4: a half-open handshake that received 1-byte fragments of
 * future messages declaring 60,000 bytes each holds what came, not what
 * was claimed (before: the whole message and its bitmap, 67,512 bytes
 * each); once the handshake completes, none of it is left. */
Test(abuse_engine, future_fragments_cost_what_arrived_and_go_with_the_handshake)
{
    counting cc, sc;
    cdtls_config ccfg, scfg;
    psk_cfg(&ccfg, &cc);
    psk_cfg(&scfg, &sc);
    cdtls_conn *c, *s;
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&scfg, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    const size_t server_new = sc.live;
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    pass(c, s); /* ClientHello (message_seq 0): the server answers, waits for seq 1 */
    const size_t before = sc.live;
    uint8_t rec[64];
    const uint8_t one = 0x42;
    for (uint16_t seq = 3; seq <= 4; seq++) { /* past the Finished (seq 2) */
        size_t n = hs_record(rec, 100 + seq, 16, 60000, seq, 30000, &one, 1);
        cr_assert_eq(cdtls_conn_recv(s, rec, n, NULL, 1000), CDTLS_OK);
    }
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_HANDSHAKING);
    cr_assert_leq(sc.live - before, 2 * (12 + 1), "2 bytes that came cost %zu", sc.live - before);
    cr_assert(shuttle(c, s), "%s", cdtls_strerror(cdtls_conn_error(s)));
    cr_assert_lt(sc.live, server_new, "server holds %zu B established, %zu B new", sc.live, server_new);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
    cr_assert_eq(sc.live, 0);
    cr_assert_eq(cc.live, 0);
}

/* Item 3: connections sharing a handshake budget (a listener's) hold no
 * more than it together; a fragment over it is dropped, and the budget
 * comes back when the handshakes end. */
Test(abuse_engine, shared_handshake_budget_bounds_many_connections)
{
    enum { N = 8 };
    counting sc;
    cdtls_config scfg;
    psk_cfg(&scfg, &sc);
    cdtls_context *x;
    cr_assert_eq(cdtls_context_new(&scfg, &x), CDTLS_OK);
    cdtls_handshake_budget budget = {0, 3 * (12 + 1000)};
    cdtls_conn *s[N];
    uint8_t rec[1100], frag[1000];
    memset(frag, 7, sizeof frag);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(cdtls_conn_new_from(x, CDTLS_SERVER, 1000, &s[i]), CDTLS_OK);
        cr_assert_eq(cdtls_conn_share_handshake_budget(s[i], &budget), CDTLS_OK);
        /* the first fragment of a ClientHello that will never complete */
        size_t n = hs_record(rec, 1, 1, 2000, 0, 0, frag, sizeof frag);
        cr_assert_eq(cdtls_conn_recv(s[i], rec, n, NULL, 1000), CDTLS_OK);
        cr_assert_leq(budget.used, budget.max);
    }
    cr_assert_eq(budget.used, 3 * (12 + 1000));
    cr_assert_eq(cdtls_conn_share_handshake_budget(s[0], &budget), CDTLS_ERR_BAD_STATE);
    for (int i = 0; i < N; i++) cdtls_conn_free(s[i]);
    cr_assert_eq(budget.used, 0);
    cdtls_context_free(x);
    cr_assert_eq(sc.live, 0);
}

/* ------------------------------------------------- item 6: small ones */

/* Renames the extended_master_secret extension (0x0017) of a ServerHello
 * to an unassigned type (0x0fff): the length stays, the ServerHello now
 * carries an extension the client did not offer. */
static int rename_ems_in_server_hello(void *ctx, int to_server, uint8_t *d, size_t *len)
{
    int *done = ctx;
    if (to_server || *done || *len < 13 + 12 + 38 || d[0] != 22 || d[13] != 2) return 1;
    size_t at = 13 + 12 + 2 + 32; /* record, handshake header, version, random */
    at += 1 + d[at];              /* session_id */
    at += 2 + 1 + 2;              /* suite, compression, extensions length */
    while (at + 4 <= *len) {
        size_t ext_len = (size_t)d[at + 2] << 8 | d[at + 3];
        if (d[at] == 0x00 && d[at + 1] == 0x17) {
            d[at] = 0x0f;
            d[at + 1] = 0xff;
            *done = 1;
            return 1;
        }
        at += 4 + ext_len;
    }
    return 1;
}

/* RFC 5246 §7.4.1.4: a ServerHello extension the client did not offer
 * ends the handshake with unsupported_extension. Before, it was ignored
 * (here the handshake then failed on the Finished, the transcripts
 * differing; with an extension added by a server it went through). */
Test(abuse_engine, unoffered_server_hello_extension_is_refused)
{
    cdtls_config ccfg, scfg;
    psk_cfg(&ccfg, NULL);
    psk_cfg(&scfg, NULL);
    ccfg.versions.max = CDTLS_VERSION_1_2; /* a 1.2 ServerHello (1.3 encrypts its extensions) */
    sim_link s;
    int done = 0;
    cr_assert_eq(sim_init(&s, &ccfg, &scfg, NULL), CDTLS_OK);
    s.tamper = rename_ems_in_server_hello;
    s.tamper_ctx = &done;
    cr_assert(!sim_run_handshake(&s, 10000));
    cr_assert(done, "no ServerHello with extended_master_secret seen");
    cr_assert_eq(cdtls_conn_error(s.client), CDTLS_ERR_ILLEGAL_PARAMETER, "%s",
                 cdtls_strerror(cdtls_conn_error(s.client)));
    uint8_t level, desc;
    cr_assert(cdtls_conn_peer_alert(s.server, &level, &desc));
    cr_assert_eq(desc, 110); /* unsupported_extension */
    sim_free(&s);
}

/* RFC 5246 §7.4.1.1: a HelloRequest while the client negotiates is
 * ignored. Before, one spoofed plaintext HelloRequest ended our client's
 * handshake (unexpected_message). */
Test(abuse_engine, hello_request_during_the_handshake_is_ignored)
{
    cdtls_config ccfg, scfg;
    psk_cfg(&ccfg, NULL);
    psk_cfg(&scfg, NULL);
    sim_link s;
    cr_assert_eq(sim_init(&s, &ccfg, &scfg, NULL), CDTLS_OK);
    uint8_t rec[32];
    size_t n = hs_record(rec, 0, 0 /* hello_request */, 0, 0, 0, NULL, 0);
    cr_assert_eq(sim_inject(&s, 0, rec, n), CDTLS_OK);
    cr_assert_eq(cdtls_conn_get_state(s.client), CDTLS_STATE_HANDSHAKING);
    cr_assert(sim_run_handshake(&s, 10000), "%s", cdtls_strerror(cdtls_conn_error(s.client)));
    sim_free(&s);
}
