/* Secret wiping (src/common/mem.c). cdtls_memzero went from a loop of
 * volatile byte stores to memset through a volatile function pointer (the
 * record path's largest cost after the AEAD; docs/benchmarks.md): these
 * tests pin what must not change. It clears exactly the bytes asked for, at
 * every alignment and length; and everything the engine frees on the
 * record path (queued datagrams, decrypted plaintext) reaches the allocator
 * already zeroed, which an allocator that inspects each block on free
 * checks for records of 0 to 1400 bytes, through the copying calls and
 * through the borrowing ones (whose pops free the nodes). With the record
 * buffers kept for reuse (the default, cfg.limits.release_buffers = 0) a retired
 * node is wiped before it waits as the spare: no live heap block holds a
 * record's plaintext once it has been read, and a stream of records costs
 * no allocation per record. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "common/mem.h"

Test(mem, memzero_clears_exactly_the_range)
{
    uint8_t buf[64 + 512 + 64];
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n <= 300; n++) {
            memset(buf, 0xa5, sizeof buf);
            cdtls_memzero(buf + 64 + off, n);
            for (size_t i = 0; i < sizeof buf; i++) {
                int inside = i >= 64 + off && i < 64 + off + n;
                cr_assert_eq(buf[i], inside ? 0 : 0xa5, "off %zu n %zu byte %zu", off, n, i);
            }
        }
    }
}

/* ------------------------------------------------- the record path */

#define INS_LIVE_MAX 512

typedef struct inspecting {
    cdtls_allocator a;
    int watching;          /* check blocks freed from now on */
    size_t checked, dirty; /* blocks looked at, blocks not zeroed */
    size_t allocs;         /* allocations while watching */
    struct {
        uint8_t *p;
        size_t n;
    } live[INS_LIVE_MAX]; /* every block not yet freed, to search for residue */
} inspecting;

static void *ins_alloc(void *ctx, size_t n)
{
    inspecting *in = ctx;
    uint8_t *p = malloc(n);
    if (!p) return NULL;
    if (in->watching) in->allocs++;
    for (size_t i = 0; i < INS_LIVE_MAX; i++)
        if (!in->live[i].p) {
            in->live[i].p = p;
            in->live[i].n = n;
            return p;
        }
    cr_assert_fail("more than %d live blocks", INS_LIVE_MAX);
    return p;
}

/* 1 if any live heap block holds the len bytes at pat */
static int ins_holds(const inspecting *in, const uint8_t *pat, size_t len)
{
    for (size_t i = 0; i < INS_LIVE_MAX; i++) {
        const uint8_t *b = in->live[i].p;
        if (!b || in->live[i].n < len) continue;
        for (size_t off = 0; off + len <= in->live[i].n; off++)
            if (b[off] == pat[0] && memcmp(b + off, pat, len) == 0) return 1;
    }
    return 0;
}

static void ins_free(void *ctx, void *p, size_t n)
{
    inspecting *in = ctx;
    for (size_t i = 0; i < INS_LIVE_MAX; i++)
        if (in->live[i].p == p) {
            in->live[i].p = NULL;
            break;
        }
    if (in->watching) {
        const uint8_t *b = p;
        int zero = 1;
        for (size_t i = 0; i < n; i++)
            if (b[i]) {
                zero = 0;
                break;
            }
        in->checked++;
        if (!zero) in->dirty++;
    }
    free(p);
}

/* borrowed: through cdtls_conn_peek_datagram / _pop_datagram and
 * cdtls_conn_peek_read / _pop_read, whose pops free the nodes themselves */
static void move_all(cdtls_conn *from, cdtls_conn *to, int borrowed)
{
    uint8_t d[2048];
    const uint8_t *b;
    size_t n;
    if (borrowed) {
        while (cdtls_conn_peek_datagram(from, &b, &n, NULL) == CDTLS_OK) {
            cr_assert_eq(cdtls_conn_recv(to, b, n, NULL, 1000), CDTLS_OK);
            cr_assert_eq(cdtls_conn_pop_datagram(from), CDTLS_OK);
        }
        return;
    }
    while (cdtls_conn_next_datagram(from, d, sizeof d, &n, NULL) == CDTLS_OK)
        cr_assert_eq(cdtls_conn_recv(to, d, n, NULL, 1000), CDTLS_OK);
}

/* release: cfg.limits.release_buffers, every node freed when done with; else
 * the default, one spare node kept per direction */
static void record_path_wipes(int borrowed, int release)
{
    static const uint8_t psk[16] = "mem-test-psk-16b";
    static const uint16_t suite[1] = {CDTLS_PSK_WITH_AES_128_GCM_SHA256};
    const cdtls_provider *p = cdtls_provider_default();
    const uint16_t *use = suite;
    static const uint16_t chacha[1] = {CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256};
    if (!cdtls_cipher_suite_supported(p, suite[0])) use = chacha;
    static inspecting in; /* the live-block table is 8 KiB */
    memset(&in, 0, sizeof in);
    in.a.alloc = ins_alloc;
    in.a.free = ins_free;
    in.a.ctx = &in;
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.allocator = &in.a;
    cfg.psk.key = psk;
    cfg.psk.key_len = sizeof psk;
    cfg.psk.identity = (const uint8_t *)"mem";
    cfg.psk.identity_len = 3;
    cfg.negotiate.cipher_suites = use;
    cfg.negotiate.n_cipher_suites = 1;
    cfg.mtu = 1500;
    cfg.limits.release_buffers = release;
    cdtls_conn *c, *s;
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, 1000, &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, 1000, &s), CDTLS_OK);
    static const uint8_t addr[4] = {10, 0, 0, 1};
    cr_assert_eq(cdtls_conn_set_peer_address(s, addr, sizeof addr), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, 1000), CDTLS_OK);
    for (int i = 0; i < 10; i++) {
        move_all(c, s, borrowed);
        move_all(s, c, borrowed);
    }
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED);

    in.watching = 1;
    uint8_t msg[1400], got[1400];
    for (size_t len = 0; len <= 1400; len += 7) {
        for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)(i * 31 + len + 1) | 1; /* no zero bytes */
        cr_assert_eq(cdtls_conn_write(c, msg, len, NULL), CDTLS_OK);
        move_all(c, s, borrowed);
        size_t n = 99999;
        if (borrowed) {
            const uint8_t *pt;
            cr_assert_eq(cdtls_conn_peek_read(s, &pt, &n, NULL), CDTLS_OK);
            cr_assert_eq(n, len);
            cr_assert(memcmp(pt, msg, len) == 0);
            cr_assert_eq(cdtls_conn_pop_read(s), CDTLS_OK);
        } else {
            cr_assert_eq(cdtls_conn_read(s, got, sizeof got, &n, NULL), CDTLS_OK);
            cr_assert_eq(n, len);
            cr_assert(memcmp(got, msg, len) == 0);
        }
        if (len >= 16)
            cr_assert(!ins_holds(&in, msg, 16), "plaintext of a %zu-byte record left on the heap", len);
    }
    in.watching = 0;
    if (release) {
        /* two blocks per record: the sent datagram, and the received record
         * (decrypted into the node that the application queue then keeps) */
        cr_assert_gt(in.checked, 2 * 200, "the record path freed its blocks (%zu)", in.checked);
    } else {
        /* growing records: each direction's spare is replaced by a larger
         * node, so blocks are still freed, but fewer */
        cr_assert_gt(in.checked, 0);
    }
    cr_assert_eq(in.dirty, 0, "%zu of %zu freed blocks were not wiped", in.dirty, in.checked);

    /* a steady stream: with kept buffers, no allocation per record */
    memset(msg, 0x5a, 1000);
    in.allocs = 0;
    in.watching = 1;
    for (int i = 0; i < 100; i++) {
        size_t n;
        cr_assert_eq(cdtls_conn_write(c, msg, 1000, NULL), CDTLS_OK);
        move_all(c, s, borrowed);
        cr_assert_eq(cdtls_conn_read(s, got, sizeof got, &n, NULL), CDTLS_OK);
        cr_assert_eq(n, 1000);
    }
    in.watching = 0;
    if (release)
        cr_assert_geq(in.allocs, 200, "%zu allocations for 100 records", in.allocs);
    else
        cr_assert_eq(in.allocs, 0, "%zu allocations for 100 records", in.allocs);
    cr_assert_eq(in.dirty, 0);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

Test(mem, record_path_frees_only_wiped_blocks)
{
    record_path_wipes(0, 1);
}

Test(mem, borrowed_record_path_frees_only_wiped_blocks)
{
    record_path_wipes(1, 1);
}

Test(mem, kept_record_buffers_hold_no_plaintext)
{
    record_path_wipes(0, 0);
}

Test(mem, borrowed_kept_record_buffers_hold_no_plaintext)
{
    record_path_wipes(1, 0);
}
