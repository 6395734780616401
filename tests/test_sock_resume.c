/* Resumption through the socket layer on loopback: a listener with ticket
 * keys (and, in the second case, a session store instead), a client that
 * dials again and again without a server name, so its session store is
 * keyed by the server's address (cdtls_sock_dial sets it). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "cdtls/sock.h"
#include "test_util.h"

static const uint8_t psk[16] = "resume-over-udp!";

static void cfg_init(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->versions.max = CDTLS_VERSION_1_2; /* 1.2 resumption (1.3: test_engine13_resume.c) */
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"dialer";
    cfg->psk.identity_len = 6;
}

typedef struct serve_ctx {
    cdtls_listener *l;
    int peers, resumed, served;
} serve_ctx;

/* One peer after another: echo one record, note whether it resumed. */
static void *serve(void *arg)
{
    serve_ctx *ctx = arg;
    for (int i = 0; i < ctx->peers; i++) {
        cdtls_sock *s;
        if (cdtls_listener_accept(ctx->l, 10000, &s) != CDTLS_OK) return NULL;
        uint8_t buf[64];
        size_t n;
        if (cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 5000) == CDTLS_OK) {
            (void)cdtls_sock_write(s, buf, n, NULL);
            ctx->served++;
        }
        ctx->resumed += cdtls_conn_resumed(cdtls_sock_conn(s));
        /* wait for the client's close before letting go of the peer */
        (void)cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 2000);
        cdtls_sock_close(s);
    }
    return NULL;
}

static void dial_three_times(int tickets, int shared_context)
{
    cdtls_config scfg, ccfg;
    cfg_init(&scfg);
    cfg_init(&ccfg);
    cdtls_ticket_keys keys;
    cdtls_session_cache scache, ccache;
    cdtls_session_cache_entry se[4], ce[2];
    if (tickets) {
        cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 0, cdtls_io_now_ms()), CDTLS_OK);
        scfg.resumption.ticket_keys = &keys;
        ccfg.resumption.tickets = 1;
    } else {
        scfg.resumption.store = cdtls_session_cache_init(&scache, se, 4);
    }
    ccfg.resumption.store = cdtls_session_cache_init(&ccache, ce, 2);
    cdtls_addr bind, where;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    serve_ctx ctx = {NULL, 3, 0, 0};
    cr_assert_eq(cdtls_listener_open(&scfg, &bind, 0, &ctx.l), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(ctx.l), &where), CDTLS_OK);
    /* a client context validated once for all three dials */
    cdtls_context *cctx = NULL;
    if (shared_context) cr_assert_eq(cdtls_context_new(&ccfg, &cctx), CDTLS_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, serve, &ctx), 0);
    int resumed = 0;
    for (int i = 0; i < 3; i++) {
        cdtls_sock *c;
        int rc = shared_context ? cdtls_sock_dial_from(cctx, &where, 5000, &c)
                                : cdtls_sock_dial(&ccfg, &where, 5000, &c);
        cr_assert_eq(rc, CDTLS_OK, "dial %d", i);
        if (shared_context) cr_assert_eq(cdtls_conn_context(cdtls_sock_conn(c)), cctx);
        cr_assert_eq(cdtls_sock_write(c, (const uint8_t *)"again", 5, NULL), CDTLS_OK);
        uint8_t buf[16];
        size_t n;
        cr_assert_eq(cdtls_sock_read(c, buf, sizeof buf, &n, NULL, 5000), CDTLS_OK);
        cr_assert(n == 5 && memcmp(buf, "again", 5) == 0);
        int r = cdtls_conn_resumed(cdtls_sock_conn(c));
        cr_assert_eq(r, i > 0, "dial %d: %s", i, i ? "resumed" : "full handshake");
        resumed += r;
        cdtls_sock_close(c);
    }
    pthread_join(th, NULL);
    cr_assert_eq(ctx.served, 3);
    cr_assert_eq(ctx.resumed, resumed, "the server agrees");
    cdtls_listener_close(ctx.l);
    cdtls_context_free(cctx);
    if (tickets) cdtls_ticket_keys_wipe(&keys);
}

Test(sock_resume, by_ticket_keyed_by_address, .timeout = 30)
{
    dial_three_times(1, 0);
}
Test(sock_resume, by_session_id_keyed_by_address, .timeout = 30)
{
    dial_three_times(0, 0);
}
Test(sock_resume, from_one_shared_context, .timeout = 30)
{
    dial_three_times(1, 1);
}
