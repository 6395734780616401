/* cdtls_context (issue 15): a configuration validated once and shared by
 * the connections made from it; a connection made from a bare config owns
 * a context of its own. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/cdtls.h"

#include "counting_alloc.h"

static const uint8_t psk[16] = "context-test-psk";

static void psk_cfg(cdtls_config *cfg, counting *cnt)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"ctx";
    cfg->psk.identity_len = 3;
    cfg->cookie.exchange = 0;
    if (cnt) {
        cfg->allocator = counting_init(cnt);
    }
}

static int shuttle(cdtls_conn *a, cdtls_conn *b)
{
    uint8_t d[2048];
    size_t n;
    for (int i = 0; i < 20; i++) {
        while (cdtls_conn_next_datagram(a, d, sizeof d, &n, NULL) == CDTLS_OK)
            cdtls_conn_recv(b, d, n, NULL, 1000);
        while (cdtls_conn_next_datagram(b, d, sizeof d, &n, NULL) == CDTLS_OK)
            cdtls_conn_recv(a, d, n, NULL, 1000);
        if (cdtls_conn_get_state(a) == CDTLS_STATE_ESTABLISHED &&
            cdtls_conn_get_state(b) == CDTLS_STATE_ESTABLISHED)
            return 1;
    }
    return 0;
}

Test(context, validates_once_and_refuses_bad_configs)
{
    cdtls_config cfg;
    cdtls_context *x = NULL;
    psk_cfg(&cfg, NULL);
    cfg.mtu = 100;
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    cr_assert_null(x);
    psk_cfg(&cfg, NULL);
    cfg.psk.key_len = CDTLS_MAX_PSK_LEN + 1;
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    psk_cfg(&cfg, NULL);
    cfg.psk.identity = NULL; /* a length without the bytes */
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    psk_cfg(&cfg, NULL);
    cfg.psk.hint_len = 4;
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    psk_cfg(&cfg, NULL);
    cfg.credentials.n_certs = 1; /* no chain, no key */
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG);
    psk_cfg(&cfg, NULL);
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_OK);
    /* the context holds its own copy: changing the caller's struct later
     * changes nothing */
    cfg.mtu = 1;
    cr_assert_eq(cdtls_context_config(x)->mtu, 1200u);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new_from(x, (cdtls_role)7, 0, &c), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_conn_new_from(NULL, CDTLS_CLIENT, 0, &c), CDTLS_ERR_INVALID_ARG);
    cdtls_context_free(x);
    cdtls_context_free(NULL);
}

/* 32 pairs from one client context and one server context: every pair
 * completes and talks; each connection costs the same bytes (no copy of
 * the configuration); the contexts are freed after their connections and
 * nothing is left. */
Test(context, many_connections_share_one_context)
{
    enum { N = 32 };
    counting cnt;
    cdtls_config cfg;
    psk_cfg(&cfg, &cnt);
    cdtls_context *cx, *sx;
    cr_assert_eq(cdtls_context_new(&cfg, &cx), CDTLS_OK);
    cr_assert_eq(cdtls_context_new(&cfg, &sx), CDTLS_OK);
    const size_t ctx_bytes = cnt.live;
    static cdtls_conn *cl[N], *sv[N];
    size_t per_conn = 0;
    for (int i = 0; i < N; i++) {
        size_t before = cnt.live;
        cr_assert_eq(cdtls_conn_new_from(cx, CDTLS_CLIENT, 1000, &cl[i]), CDTLS_OK);
        size_t one = cnt.live - before;
        if (i) cr_assert_eq(one, per_conn, "connection %d took %zu bytes, the first %zu", i, one, per_conn);
        per_conn = one;
        cr_assert_eq(cdtls_conn_new_from(sx, CDTLS_SERVER, 1000, &sv[i]), CDTLS_OK);
        cr_assert_eq(cdtls_conn_start(cl[i], 1000), CDTLS_OK);
    }
    for (int i = 0; i < N; i++) {
        cr_assert(shuttle(cl[i], sv[i]), "pair %d: %s", i, cdtls_strerror(cdtls_conn_error(cl[i])));
        uint8_t d[64];
        size_t n;
        cr_assert_eq(cdtls_conn_write(cl[i], (const uint8_t *)"hi", 2, NULL), CDTLS_OK);
        (void)shuttle(cl[i], sv[i]); /* carries the record */
        cr_assert_eq(cdtls_conn_read(sv[i], d, sizeof d, &n, NULL), CDTLS_OK);
        cr_assert(n == 2 && memcmp(d, "hi", 2) == 0);
    }
    for (int i = 0; i < N; i++) {
        cdtls_conn_free(cl[i]);
        cdtls_conn_free(sv[i]);
    }
    cr_assert_eq(cnt.live, ctx_bytes, "connections left %zu bytes", cnt.live - ctx_bytes);
    cdtls_context_free(cx);
    cdtls_context_free(sx);
    cr_assert_eq(cnt.live, 0);
}

/* An established connection has dropped its handshake state: it holds
 * less than it did while handshaking. */
Test(context, established_connection_frees_its_handshake_state)
{
    counting cc, sc;
    cdtls_config ccfg, scfg;
    psk_cfg(&ccfg, &cc);
    psk_cfg(&scfg, &sc);
    cdtls_conn *c, *s;
    cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&scfg, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    const size_t client_new = cc.live, server_new = sc.live;
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    cr_assert(shuttle(c, s));
    /* the handshake struct (transcript, PSK copy, reassembly, ...) is gone:
     * what is left is below what a fresh connection held */
    cr_assert_lt(cc.live, client_new, "client holds %zu B established, %zu B new", cc.live, client_new);
    cr_assert_lt(sc.live, server_new, "server holds %zu B established, %zu B new", sc.live, server_new);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
    cr_assert_eq(cc.live, 0);
    cr_assert_eq(sc.live, 0);
}

/* A client fed a fatal alert before it started has failed and dropped its
 * handshake state: starting it then is refused, not a crash. */
Test(context, start_after_failure_is_refused)
{
    cdtls_config cfg;
    psk_cfg(&cfg, NULL);
    cdtls_conn *c;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    /* a plaintext fatal alert (internal_error), believed during the handshake */
    const uint8_t alert[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 80};
    (void)cdtls_conn_recv(c, alert, sizeof alert, NULL, 1000);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_ERR_BAD_STATE);
    cdtls_conn_free(c);
}

/* The config carries the size of the struct its caller was compiled with
 * (cdtls_config_init): a config never initialised is refused, and one from
 * a newer header is taken only when every setting we do not know is zero,
 * so no setting is silently ignored. */
Test(context, config_size_guards_the_abi)
{
    cdtls_context *x = NULL;
    cdtls_config cfg;
    psk_cfg(&cfg, NULL);
    cr_assert_eq(cfg.size, sizeof cfg);
    cfg.size = 0;
    cr_assert_eq(cdtls_context_new(&cfg, &x), CDTLS_ERR_INVALID_ARG,
                 "a config not made by cdtls_config_init");
    cr_assert_null(x);

    struct newer {
        cdtls_config cfg;
        uint64_t unknown_setting;
    } n;
    memset(&n, 0, sizeof n);
    psk_cfg(&n.cfg, NULL);
    n.cfg.size = sizeof n;
    cr_assert_eq(cdtls_context_new(&n.cfg, &x), CDTLS_OK, "unknown settings left at zero are fine");
    cr_assert_eq(cdtls_context_config(x)->size, sizeof(cdtls_config));
    cr_assert_eq(cdtls_context_config(x)->psk.key_len, sizeof psk);
    cdtls_context_free(x);
    x = NULL;
    n.unknown_setting = 1;
    cr_assert_eq(cdtls_context_new(&n.cfg, &x), CDTLS_ERR_UNSUPPORTED,
                 "a setting this library cannot honour");
    cr_assert_null(x);
}

struct seen_user {
    int keylog_calls;
    int cid_calls;
};

static void count_keylog(void *user, const char *line)
{
    (void)line;
    ((struct seen_user *)user)->keylog_calls++;
}

static int counted_cid(void *user, uint8_t *cid, size_t cap, size_t *len)
{
    ((struct seen_user *)user)->cid_calls++;
    cr_assert(cap >= 3);
    memcpy(cid, "abc", 3);
    *len = 3;
    return CDTLS_OK;
}

/* Every callback gets the one user pointer; cid.length alone gives random
 * CIDs of that length from the provider. */
Test(context, one_user_pointer_and_random_cids)
{
    struct seen_user u = {0, 0};
    cdtls_config cc, sc;
    psk_cfg(&cc, NULL);
    psk_cfg(&sc, NULL);
    /* the default suites put AEAD first, and CIDs go with AEAD suites */
    cc.callbacks.user = &u;
    cc.callbacks.keylog = count_keylog;
    cc.callbacks.cid_generator = counted_cid;
    sc.cid.length = 11;
    cc.versions.max = CDTLS_VERSION_1_2; /* one keylog line: 1.2's CLIENT_RANDOM */
    cdtls_conn *c = NULL, *s = NULL;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 0, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 0, &s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 0), CDTLS_OK);
    cr_assert(shuttle(c, s));
    cr_assert_eq(u.keylog_calls, 1);
    cr_assert_eq(u.cid_calls, 1);
    size_t n = 0;
    const uint8_t *own = cdtls_conn_own_cid(s, &n);
    cr_assert_eq(n, 11u, "the server's random CID has cid.length bytes");
    const uint8_t *peer = cdtls_conn_peer_cid(c, &n);
    cr_assert_eq(n, 11u);
    cr_assert_eq(memcmp(own, peer, 11), 0);
    cr_assert_eq(memcmp(cdtls_conn_own_cid(c, &n), "abc", 3), 0, "the client's generator made its CID");
    cdtls_conn_free(c);
    cdtls_conn_free(s);

    sc.cid.length = CDTLS_MAX_CID_LEN + 1;
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 0, &s), CDTLS_ERR_INVALID_ARG);
}
