/* The listener's stateless cookie step (src/engine/hello_verifier.c) with
 * its reassembly of fragmented ClientHellos (src/engine/hello_reasm.c) fed
 * datagrams from several addresses over time, as a flood would.
 *
 * Input: byte 0 picks the limits (cfg.hello_reasm: small ones, so eviction,
 * the per-source limit, the byte budget and expiry are all reached); then
 * operations, each an opcode byte:
 *   low 2 bits 0: a raw datagram from address (op >> 2) & 7:
 *                 [2-byte length][bytes]
 *              1: one record holding a fragment of a real ClientHello, the
 *                 first (op bit 5 clear) or the second, with the cookie of
 *                 the verifier's HelloRetryRequest (set): [2-byte offset]
 *                 [2-byte length][record number byte]; bit 6: flip the
 *                 fragment's first byte (an inconsistent copy)
 *              2: the clock moves on [2-byte ms]
 *              3: the fragment as 1 with another declared length
 *                 [2-byte offset][2-byte length][2-byte declared length]
 * The real hellos are our client's (the fuzzing provider, a fixed seed):
 * made once, with the same verifier keys every input has.
 * Checked after every call: a reply only with CDTLS_ERR_WOULD_BLOCK and no
 * longer than the buffer; a whole hello handed out only with CDTLS_OK; the
 * bytes held never above the budget; at the end, nothing left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "cdtls/io.h"
#include "fuzz_common.h"

#define CHECK(x)           \
    do {                   \
        if (!(x)) abort(); \
    } while (0)

#define SEED 0x4865ull
static const uint8_t psk[16] = "fuzz-hello-psk16";

static void config(cdtls_config *cfg, fuzz_provider *fp)
{
    cdtls_config_init(cfg);
    cfg->provider = &fp->base;
    cfg->allocator = &fuzz_allocator;
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"fuzz";
    cfg->psk.identity_len = 4;
}

static cdtls_addr addr_of(unsigned i)
{
    cdtls_addr a;
    memset(&a, 0, sizeof a);
    a.ip.family = 4;
    a.ip.addr[0] = 10, a.ip.addr[2] = (uint8_t)(i >> 1), a.ip.addr[3] = (uint8_t)i;
    a.port = (uint16_t)(4000 + i);
    return a;
}

/* hello[0], hello[1]: the bodies of our client's two ClientHellos */
static uint8_t hello[2][2048];
static size_t hello_len[2];
static int have_hellos;

static size_t body_of(const uint8_t *d, size_t n, uint8_t *out)
{
    /* one record, one unfragmented ClientHello */
    if (n < 25 || d[0] != 22 || d[13] != 1) return 0;
    size_t len = (size_t)d[14] << 16 | (size_t)d[15] << 8 | d[16];
    if (len + 25 > n || len > sizeof hello[0]) return 0;
    memcpy(out, d + 25, len);
    return len;
}

static void make_hellos(void)
{
    fuzz_provider fp;
    fuzz_provider_init_fast(&fp, SEED);
    cdtls_config cfg;
    config(&cfg, &fp);
    cdtls_hello_verifier *v;
    CHECK(cdtls_hello_verifier_new(&cfg, FUZZ_T0_MS, &v) == CDTLS_OK);
    cdtls_conn *c;
    CHECK(cdtls_conn_new(&cfg, CDTLS_CLIENT, FUZZ_T0_MS, &c) == CDTLS_OK);
    CHECK(cdtls_conn_start(c, FUZZ_T0_MS) == CDTLS_OK);
    uint8_t d[2048], reply[512];
    size_t n = 0, rn = 0;
    cdtls_addr a0 = addr_of(0);
    if (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK &&
        (hello_len[0] = body_of(d, n, hello[0])) != 0 &&
        cdtls_hello_verifier_check(v, &a0, sizeof a0, d, n, FUZZ_T0_MS, reply, sizeof reply, &rn) ==
            CDTLS_ERR_WOULD_BLOCK &&
        rn && cdtls_conn_recv(c, reply, rn, NULL, FUZZ_T0_MS) == CDTLS_OK &&
        cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK)
        hello_len[1] = body_of(d, n, hello[1]);
    cdtls_conn_free(c);
    cdtls_hello_verifier_free(v);
    CHECK(fuzz_live_bytes == 0);
    have_hellos = 1;
    /* said once, so a run shows what the fragments come from (0: this
     * build's provider made no 1.3 hello; the raw datagrams still run) */
    fprintf(stderr, "fuzz_hello_verifier: ClientHellos of %zu and %zu bytes\n", hello_len[0], hello_len[1]);
}

/* A record holding bytes [off, off + len) of hello k declared as total bytes. */
static size_t fragment_record(uint8_t *out, unsigned k, size_t off, size_t len, size_t total, uint8_t seq,
                              int flip)
{
    const size_t hl = hello_len[k];
    if (!hl) return 0;
    off %= hl;
    if (len > hl - off) len = hl - off;
    if (!len) len = 1;
    if (off + len > hl) return 0;
    uint8_t *p = out;
    *p++ = 22, *p++ = 0xfe, *p++ = 0xfd, *p++ = 0, *p++ = 0;
    *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = seq;
    *p++ = (uint8_t)((12 + len) >> 8), *p++ = (uint8_t)(12 + len);
    *p++ = 1, *p++ = (uint8_t)(total >> 16), *p++ = (uint8_t)(total >> 8), *p++ = (uint8_t)total;
    *p++ = 0, *p++ = (uint8_t)k;
    *p++ = (uint8_t)(off >> 16), *p++ = (uint8_t)(off >> 8), *p++ = (uint8_t)off;
    *p++ = (uint8_t)(len >> 16), *p++ = (uint8_t)(len >> 8), *p++ = (uint8_t)len;
    memcpy(p, hello[k] + off, len);
    if (flip) p[0] ^= 0x80;
    return 25 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!have_hellos) make_hellos();
    if (size < 1) return 0;
    static const unsigned pending[4] = {1, 2, 8, 64};
    static const unsigned per_source[4] = {1, 2, 3, 8};
    static const size_t budget[4] = {2048, 8192, 32768, 1u << 20};
    static const uint32_t timeout[2] = {50, 5000};
    fuzz_provider fp;
    fuzz_provider_init_fast(&fp, SEED);
    cdtls_config cfg;
    config(&cfg, &fp);
    cfg.hello_reasm.max_pending = pending[data[0] & 3];
    cfg.hello_reasm.max_per_source = per_source[(data[0] >> 2) & 3];
    cfg.hello_reasm.budget = budget[(data[0] >> 4) & 3];
    cfg.hello_reasm.timeout_ms = timeout[(data[0] >> 6) & 1];
    cdtls_hello_verifier *v;
    CHECK(cdtls_hello_verifier_new(&cfg, FUZZ_T0_MS, &v) == CDTLS_OK);
    const size_t base = fuzz_live_bytes;
    uint64_t now = FUZZ_T0_MS;
    size_t at = 1;
    static uint8_t d[65536];
    for (unsigned ops = 0; at < size && ops < 4096; ops++) {
        const uint8_t op = data[at++];
        const cdtls_addr a = addr_of((op >> 2) & 7);
        size_t n = 0;
        const uint8_t *dg = d;
        if ((op & 3) == 2) {
            if (size - at < 2) break;
            now += (uint64_t)(data[at] << 8 | data[at + 1]);
            at += 2;
            continue;
        }
        if ((op & 3) == 0) {
            if (size - at < 2) break;
            n = (size_t)(data[at] << 8 | data[at + 1]);
            at += 2;
            if (n > size - at) n = size - at;
            dg = data + at;
            at += n;
        } else {
            const size_t need = (op & 3) == 1 ? 5 : 7;
            if (size - at < need) break;
            const unsigned k = (op >> 5) & 1;
            size_t off = (size_t)(data[at] << 8 | data[at + 1]),
                   len = (size_t)(data[at + 2] << 8 | data[at + 3]);
            uint8_t seq = data[at + 4];
            size_t total = hello_len[k];
            if ((op & 3) == 3) total = (size_t)(data[at + 5] << 8 | data[at + 6]);
            at += need;
            n = fragment_record(d, k, off, len, total, seq, (op >> 6) & 1);
            if (!n) continue;
        }
        uint8_t reply[512], *whole = NULL;
        size_t rn = 0, wl = 0;
        int rc = cdtls_hello_verifier_check_full(v, &a, sizeof a, dg, n, now, reply, sizeof reply, &rn,
                                                 &whole, &wl);
        CHECK(rn <= sizeof reply);
        if (rn) CHECK(rc == CDTLS_ERR_WOULD_BLOCK);
        if (whole) {
            CHECK(rc == CDTLS_OK && wl > 25 && whole[0] == 22 && whole[13] == 1);
            cdtls_hello_verifier_release(v, whole, wl);
        }
        /* everything the verifier holds is within its budget */
        CHECK(fuzz_live_bytes - base <= cfg.hello_reasm.budget);
    }
    cdtls_hello_verifier_free(v);
    CHECK(fuzz_live_bytes == 0);
    return 0;
}
