/* Batched send and receive (cdtls_io_send_batch / cdtls_io_recv_batch) on
 * loopback, and UDP GRO (io_gro, at the end): every datagram keeps its own size, order, source and OOB
 * marking through a batch larger than one kernel call (40 > the 32-message
 * chunk), with the one-call path (sendmmsg/recvmmsg, where caps say so) and
 * with the one-by-one fallback, which must behave the same; truncation is
 * per datagram; an OOB item the socket cannot carry stops the batch at that
 * datagram, and the ones before it are sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h" /* io_gro_read: the GRO cutting rules */
#include "test_util.h"

#if defined(__linux__)
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#define N_BATCH 40

/* qemu-user hands a big-endian guest's control messages to the host
 * kernel without converting them (docs/portability.md): the 16-bit
 * UDP_SEGMENT size arrives byte-swapped, and so does UDP_GRO's. The open
 * probe finds the first and clears CDTLS_IO_CAP_SEND_GSO (the GSO tests
 * below then check that batches still arrive right without it); the GRO
 * tests skip there. */
#if defined(__linux__) /* GSO and GRO are Linux's */
static int emulated_big_endian(void)
{
    const uint16_t one = 1;
    return test_emulator() && *(const uint8_t *)&one == 0;
}
#endif

static void open_pair(cdtls_io_socket *tx, cdtls_io_socket *rx, cdtls_addr *to)
{
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(tx, &a, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(rx, &a, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(rx, to), CDTLS_OK);
}

/* Datagram i: 1 + 37*i bytes of (i + j) & 0xff, DSCP i % 64 and ECN i % 4
 * when the socket can mark (else unmarked). */
static size_t fill(uint8_t *buf, int i)
{
    size_t len = 1 + 37u * (size_t)i;
    for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)(i + (int)j);
    return len;
}

static void batch_roundtrip(int use_native)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to, tx_addr;
    open_pair(&tx, &rx, &to);
    cr_assert_eq(cdtls_io_local_addr(&tx, &tx_addr), CDTLS_OK);
#if defined(__linux__)
    if (use_native)
        cr_assert(cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_BATCH &&
                      cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_BATCH,
                  "Linux has sendmmsg/recvmmsg");
#endif
    if (!use_native) {
        /* the portable path every platform has */
        tx.caps &= ~(unsigned)(CDTLS_IO_CAP_SEND_BATCH | CDTLS_IO_CAP_RECV_BATCH);
        rx.caps &= ~(unsigned)(CDTLS_IO_CAP_SEND_BATCH | CDTLS_IO_CAP_RECV_BATCH);
    }
    const int marks = (cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_DSCP) &&
                      (cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_ECN) &&
                      (cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_DSCP);
    static uint8_t out[N_BATCH][1600], in[N_BATCH][1600];
    static uint8_t raw[N_BATCH][CDTLS_IO_CMSG_SPACE * 2];
    cdtls_io_msg msgs[N_BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < N_BATCH; i++) {
        msgs[i].buf = out[i];
        msgs[i].len = fill(out[i], i);
        msgs[i].addr = to;
        if (marks && i % 3 != 2) { /* every third datagram unmarked */
            msgs[i].oob.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
            msgs[i].oob.dscp = (uint8_t)(i % 64);
            msgs[i].oob.ecn = (uint8_t)(i % 4);
        }
    }
    size_t sent = 0;
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs, N_BATCH, &sent), CDTLS_OK);
    cr_assert_eq(sent, N_BATCH);

    cdtls_io_msg rm[N_BATCH];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < N_BATCH; i++) {
        rm[i].buf = in[i];
        rm[i].cap = sizeof in[i];
        rm[i].raw = raw[i];
        rm[i].raw_cap = sizeof raw[i];
    }
    size_t got = 0;
    while (got < N_BATCH) {
        size_t k = 0;
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, N_BATCH - got, &k, 2000), CDTLS_OK);
        cr_assert(k >= 1);
        got += k;
    }
    for (int i = 0; i < N_BATCH; i++) {
        cr_assert_eq(rm[i].len, msgs[i].len, "datagram %d keeps its size", i);
        cr_assert(memcmp(rm[i].buf, out[i], rm[i].len) == 0, "datagram %d in order", i);
        cr_assert(!rm[i].truncated);
        cr_assert_eq(rm[i].addr.port, tx_addr.port);
        if (marks) {
            uint8_t want_dscp = i % 3 != 2 ? (uint8_t)(i % 64) : 0;
            uint8_t want_ecn = i % 3 != 2 ? (uint8_t)(i % 4) : 0;
            cr_assert(rm[i].oob.flags & CDTLS_OOB_DSCP);
            cr_assert_eq(rm[i].oob.dscp, want_dscp, "datagram %d has its own DSCP", i);
            cr_assert_eq(rm[i].oob.ecn, want_ecn, "datagram %d has its own ECN", i);
            /* the raw bytes are that datagram's too */
            cdtls_oob parsed;
            cr_assert_eq(cdtls_io_parse_cmsg(rm[i].raw, rm[i].raw_len, &parsed), CDTLS_OK);
            cr_assert_eq(parsed.dscp, want_dscp);
            cr_assert_eq(parsed.ecn, want_ecn);
        }
        cr_assert(rm[i].oob.flags & CDTLS_OOB_LOCAL_ADDR ||
                  !(cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_LOCAL_ADDR));
    }
    /* nothing else arrived */
    size_t k = 0;
    cr_assert_eq(cdtls_io_recv_batch(&rx, rm, N_BATCH, &k, 0), CDTLS_ERR_TIMEOUT);
    cr_assert_eq(k, 0);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

Test(io_batch, one_call_keeps_each_datagram_and_its_oob)
{
    batch_roundtrip(1);
}

Test(io_batch, fallback_behaves_the_same)
{
    batch_roundtrip(0);
}

static void truncation(int use_native)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to;
    open_pair(&tx, &rx, &to);
    if (!use_native) rx.caps &= ~(unsigned)CDTLS_IO_CAP_RECV_BATCH;
    uint8_t big[100], small[3] = {1, 2, 3};
    memset(big, 0xab, sizeof big);
    cr_assert_eq(cdtls_io_send(&tx, big, sizeof big, &to, NULL, NULL, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_send(&tx, small, sizeof small, &to, NULL, NULL, 0), CDTLS_OK);
    uint8_t b0[10], b1[10];
    cdtls_io_msg rm[2];
    memset(rm, 0, sizeof rm);
    rm[0].buf = b0, rm[0].cap = sizeof b0;
    rm[1].buf = b1, rm[1].cap = sizeof b1;
    size_t got = 0, k = 0;
    while (got < 2) {
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, 2 - got, &k, 2000), CDTLS_OK);
        got += k;
    }
    cr_assert(rm[0].truncated, "the 100-byte datagram did not fit 10 bytes");
    cr_assert(rm[0].len <= sizeof b0);
    cr_assert(!rm[1].truncated);
    cr_assert_eq(rm[1].len, 3);
    cr_assert(memcmp(b1, small, 3) == 0);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

Test(io_batch, truncation_is_per_datagram)
{
    truncation(1);
    truncation(0);
}

/* OOB a socket cannot carry fails that datagram alone: it is not sent
 * (never unmarked), its status says why, and the batch goes on. */
static void unsupported_fails_one(int use_native)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to;
    open_pair(&tx, &rx, &to);
    if (!use_native) tx.caps &= ~(unsigned)CDTLS_IO_CAP_SEND_BATCH;
    /* pretend the socket cannot set a TTL: the io layer must refuse it
     * before that datagram goes, never send it unmarked */
    tx.caps &= ~(unsigned)CDTLS_IO_CAP_SEND_TTL;
    uint8_t d[5][4];
    cdtls_io_msg msgs[5];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < 5; i++) {
        memset(d[i], i, sizeof d[i]);
        msgs[i].buf = d[i];
        msgs[i].len = sizeof d[i];
        msgs[i].addr = to;
        msgs[i].status = 77;
    }
    msgs[3].oob.flags = CDTLS_OOB_TTL;
    msgs[3].oob.ttl = 9;
    size_t sent = 99;
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs, 5, &sent), CDTLS_ERR_OOB_UNSUPPORTED);
    cr_assert_eq(sent, 5, "the batch went on past it");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(msgs[i].status, i == 3 ? CDTLS_ERR_OOB_UNSUPPORTED : CDTLS_OK, "datagram %d", i);
    uint8_t b[4][8];
    cdtls_io_msg rm[4];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 4; i++) rm[i].buf = b[i], rm[i].cap = sizeof b[i];
    size_t got = 0, k = 0;
    while (got < 4) {
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, 4 - got, &k, 2000), CDTLS_OK);
        got += k;
    }
    static const int want[4] = {0, 1, 2, 4};
    for (int i = 0; i < 4; i++) cr_assert_eq(b[i][0], want[i]);
    cr_assert_eq(cdtls_io_recv_batch(&rx, rm, 3, &k, 100), CDTLS_ERR_TIMEOUT);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

Test(io_batch, unsupported_oob_fails_only_that_datagram)
{
    unsupported_fails_one(1);
    unsupported_fails_one(0);
}

Test(io_batch, empty_and_nonblocking)
{
    cdtls_io_socket rx;
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&rx, &a, CDTLS_IO_NONBLOCK), CDTLS_OK);
    uint8_t b[8];
    cdtls_io_msg m;
    memset(&m, 0, sizeof m);
    m.buf = b, m.cap = sizeof b;
    size_t k = 5;
    /* -1: no poll; a non-blocking socket with nothing queued says so */
    cr_assert_eq(cdtls_io_recv_batch(&rx, &m, 1, &k, -1), CDTLS_ERR_WOULD_BLOCK);
    cr_assert_eq(k, 0);
    cr_assert_eq(cdtls_io_recv_batch(&rx, &m, 1, &k, 0), CDTLS_ERR_TIMEOUT);
    size_t sent = 7;
    cr_assert_eq(cdtls_io_send_batch(&rx, &m, 0, &sent), CDTLS_OK);
    cr_assert_eq(sent, 0);
    cr_assert_eq(cdtls_io_recv_batch(&rx, &m, 0, &k, 0), CDTLS_ERR_INVALID_ARG);
    cdtls_io_close(&rx);
}

/* UDP GSO inside a batch: runs of unmarked datagrams of one size (the last
 * of a run may be shorter) go down the stack as one send and must still
 * arrive as the separate datagrams they were, in order; a marked datagram
 * in the middle goes alone, with its marking. Same check with GSO off. */
static void gso_runs(int use_gso)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to;
    open_pair(&tx, &rx, &to);
#if defined(__linux__)
    if (use_gso && !test_emulator())
        cr_assert(cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_GSO, "Linux >= 4.18 has UDP_SEGMENT");
#endif
    if (!use_gso) tx.caps &= ~(unsigned)CDTLS_IO_CAP_SEND_GSO;
    const int marks = (cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_DSCP) &&
                      (cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_DSCP);
    enum { N = 90 }; /* more than one 64-segment run and one 32-entry chunk */
    static uint8_t out[N][1300], in[N][1600];
    cdtls_io_msg msgs[N];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < N; i++) {
        /* 1237 bytes each, but a short one at 20 and 70, and 45 marked */
        size_t len = (i == 20 || i == 70) ? 300 : 1237;
        for (size_t j = 0; j < len; j++) out[i][j] = (uint8_t)(i * 7 + (int)j);
        msgs[i].buf = out[i];
        msgs[i].len = len;
        msgs[i].addr = to;
        if (i == 45 && marks) {
            msgs[i].oob.flags = CDTLS_OOB_DSCP;
            msgs[i].oob.dscp = 46;
        }
    }
    size_t sent = 0;
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs, N, &sent), CDTLS_OK);
    cr_assert_eq(sent, N);
#if defined(__linux__)
    /* the kernel took the GSO sends (a refusal would have cleared the bit) */
    if (use_gso && !test_emulator()) cr_assert(cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_GSO);
#endif
    cdtls_io_msg rm[N];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < N; i++) rm[i].buf = in[i], rm[i].cap = sizeof in[i];
    size_t got = 0;
    while (got < N) {
        size_t k = 0;
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, N - got, &k, 2000), CDTLS_OK, "after %zu", got);
        got += k;
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(rm[i].len, msgs[i].len, "datagram %d: %zu bytes, want %zu", i, rm[i].len, msgs[i].len);
        cr_assert(memcmp(rm[i].buf, out[i], rm[i].len) == 0, "datagram %d", i);
        if (marks) cr_assert_eq(rm[i].oob.dscp, i == 45 ? 46 : 0, "datagram %d DSCP", i);
    }
    size_t k = 0;
    cr_assert_eq(cdtls_io_recv_batch(&rx, rm, N, &k, 0), CDTLS_ERR_TIMEOUT);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

Test(io_batch, gso_runs_arrive_as_their_datagrams)
{
    gso_runs(0);
    /* where the probe cleared the bit (qemu, big-endian guest) this checks
     * that the batch is right without GSO */
    gso_runs(1);
}

/* ------------------------------------------------------------ UDP GRO */

/* The rules by which a coalesced read is cut back into datagrams, on
 * made-up reads (so every case is reached, whatever the kernel does). */
static size_t take_all(io_gro_read *r, cdtls_io_msg *m, size_t n)
{
    size_t k = 0;
    while (k < n && io_gro_take(r, &m[k])) k++;
    cr_assert(!io_gro_take(r, &m[0]) || k == n, "a read gives out each datagram once");
    return k;
}

static void gro_msgs(cdtls_io_msg *m, uint8_t (*bufs)[128], uint8_t (*raws)[64], size_t n, size_t cap)
{
    memset(m, 0, n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        m[i].buf = bufs[i];
        m[i].cap = cap;
        m[i].raw = raws[i];
        m[i].raw_cap = sizeof raws[i];
    }
}

Test(io_gro, cutting_rules)
{
    uint8_t data[250];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)i;
    static uint8_t bufs[5][128], raws[5][64];
    cdtls_io_msg m[5];
    io_gro_read r;
    memset(&r, 0, sizeof r);
    cdtls_addr_parse("192.0.2.7", 4433, &r.from);
    r.oob.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
    r.oob.dscp = 46;
    r.oob.ecn = CDTLS_ECN_ECT0;
    memset(r.raw, 0xc5, 24);
    r.raw_len = 24;

    /* seg 100 over 250 bytes: 100, 100, then the short last 50 */
    gro_msgs(m, bufs, raws, 5, 128);
    io_gro_read_init(&r, data, 250, 100, 0);
    cr_assert_eq(take_all(&r, m, 5), 3);
    const size_t want[3] = {100, 100, 50};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(m[i].len, want[i], "datagram %d: %zu bytes", i, m[i].len);
        cr_assert(!m[i].truncated);
        cr_assert(memcmp(m[i].buf, data + 100 * i, want[i]) == 0, "datagram %d has its own bytes", i);
        /* each its own copy of the read's OOB and control bytes */
        cr_assert(m[i].oob.flags & CDTLS_OOB_DSCP && m[i].oob.dscp == 46 && m[i].oob.ecn == CDTLS_ECN_ECT0);
        cr_assert_eq(m[i].addr.port, 4433);
        cr_assert_eq(m[i].raw_len, 24);
        cr_assert(m[i].raw != m[(i + 1) % 3].raw && raws[i][0] == 0xc5 && raws[i][23] == 0xc5);
    }

    /* no UDP_GRO message (seg 0), or a size that covers the read: one datagram */
    gro_msgs(m, bufs, raws, 5, 128);
    io_gro_read_init(&r, data, 120, 0, 0);
    cr_assert_eq(take_all(&r, m, 5), 1);
    cr_assert(m[0].len == 120 && !m[0].truncated);
    io_gro_read_init(&r, data, 120, 120, 0);
    cr_assert_eq(take_all(&r, m, 5), 1);
    cr_assert_eq(m[0].len, 120);
    io_gro_read_init(&r, data, 120, 4000, 0);
    cr_assert_eq(take_all(&r, m, 5), 1);
    cr_assert_eq(m[0].len, 120);

    /* a truncated read (MSG_TRUNC): the whole segments before the cut are
     * whole; the short piece at the cut is marked truncated */
    gro_msgs(m, bufs, raws, 5, 128);
    io_gro_read_init(&r, data, 250, 100, 1);
    cr_assert_eq(take_all(&r, m, 5), 3);
    cr_assert(!m[0].truncated && !m[1].truncated);
    cr_assert(m[2].truncated && m[2].len == 50, "the cut-off end is not passed as whole");
    /* ... a cut that falls between segments leaves them all whole */
    io_gro_read_init(&r, data, 200, 100, 1);
    cr_assert_eq(take_all(&r, m, 5), 2);
    cr_assert(!m[0].truncated && !m[1].truncated);
    /* ... and a truncated read that was not coalesced is one truncated datagram */
    io_gro_read_init(&r, data, 120, 0, 1);
    cr_assert_eq(take_all(&r, m, 5), 1);
    cr_assert(m[0].truncated && m[0].len == 120);

    /* caller buffers smaller than a segment: every datagram is cut to the
     * buffer and marked, and none of the later ones is lost */
    gro_msgs(m, bufs, raws, 5, 60);
    io_gro_read_init(&r, data, 250, 100, 0);
    cr_assert_eq(take_all(&r, m, 5), 3);
    for (int i = 0; i < 3; i++) {
        /* the 50-byte last one fits: not truncated */
        cr_assert_eq(m[i].truncated, i < 2, "datagram %d: 60-byte buffer, truncated %d", i, m[i].truncated);
        cr_assert_eq(m[i].len, i < 2 ? 60 : 50);
        cr_assert(memcmp(m[i].buf, data + 100 * i, m[i].len) == 0);
    }

    /* an empty datagram is one datagram, once */
    gro_msgs(m, bufs, raws, 5, 128);
    io_gro_read_init(&r, data, 0, 0, 0);
    cr_assert_eq(take_all(&r, m, 5), 1);
    cr_assert(m[0].len == 0 && !m[0].truncated);

    /* control bytes that do not fit raw_cap are not handed out half; the
     * typed OOB still is */
    gro_msgs(m, bufs, raws, 5, 128);
    io_gro_read_init(&r, data, 200, 100, 0);
    r.raw_len = 100; /* > raw_cap 64 */
    cr_assert_eq(take_all(&r, m, 5), 2);
    cr_assert(m[0].raw_len == 0 && m[1].raw_len == 0);
    cr_assert_eq(m[1].oob.dscp, 46);
}

Test(io_gro, off_by_default)
{
    cdtls_io_socket rx;
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&rx, &a, 0), CDTLS_OK);
    cr_assert(!(cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_GRO));
    cr_assert_null(rx.gro);
    cr_assert_eq(cdtls_io_pending(&rx), 0);
    cdtls_io_close(&rx);
}

#if defined(__linux__)
/* A GSO sender and a GRO receiver on loopback: the kernel hands a GSO run
 * to a GRO socket as it was sent (one coalesced read) and the io layer
 * must give back each datagram. The receiver skips the open probe, which
 * would turn GRO off if the cutting were wrong (and these tests would
 * skip rather than fail); the probe has its own test. Skips, saying why,
 * where the kernel or the emulator has no GRO (the socket's caps say). */
static void open_gro_pair(cdtls_io_socket *tx, cdtls_io_socket *rx, cdtls_addr *to)
{
    if (emulated_big_endian())
        cr_skip_test("qemu-user passes UDP_SEGMENT and UDP_GRO unconverted from a big-endian guest");
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(tx, &a, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(rx, &a, CDTLS_IO_GRO | CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(rx, to), CDTLS_OK);
    if (!(cdtls_io_caps(tx) & CDTLS_IO_CAP_SEND_GSO) || !(cdtls_io_caps(rx) & CDTLS_IO_CAP_RECV_GRO)) {
        int gso = (cdtls_io_caps(tx) & CDTLS_IO_CAP_SEND_GSO) != 0;
        cdtls_io_close(tx);
        cdtls_io_close(rx);
        if (!gso) cr_skip_test("no UDP GSO here (Linux < 4.18%s)", test_emulator() ? " or the emulator" : "");
        cr_skip_test("UDP_GRO refused (Linux < 5.0%s)", test_emulator() ? ", or the emulator" : "");
    }
    cr_assert_not_null(rx->gro);
}

/* No UDP-level control message (UDP_GRO) in the raw bytes of a datagram
 * handed out: each is one datagram. */
static int has_udp_cmsg(const uint8_t *raw, size_t len)
{
    /* walked by hand: musl's CMSG_NXTHDR trips -Wsign-compare */
    size_t off = 0;
    while (len - off >= sizeof(struct cmsghdr)) {
        struct cmsghdr c;
        memcpy(&c, raw + off, sizeof c);
        if (c.cmsg_len < CMSG_LEN(0) || c.cmsg_len > len - off) break;
        if (c.cmsg_level == IPPROTO_UDP) return 1;
        off += CMSG_SPACE(c.cmsg_len - CMSG_LEN(0));
        if (off > len) break;
    }
    return 0;
}

enum { GRO_N = 27 };

/* Datagram i of the GRO test: run A 10 x 1000 marked EF/ECT(0), run B
 * 5 x 700 and a short 200 unmarked, C three of rising sizes (each alone),
 * D 8 x 1200 marked CS1/CE: two markings, each on every datagram of its
 * run. */
static size_t gro_len(int i, cdtls_oob *oob, int marks)
{
    memset(oob, 0, sizeof *oob);
    if (i < 10) {
        if (marks)
            *oob = (cdtls_oob){.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN, .dscp = 46, .ecn = CDTLS_ECN_ECT0};
        return 1000;
    }
    if (i < 16) return i < 15 ? 700 : 200;
    if (i < 19) return i == 16 ? 50 : i == 17 ? 900 : 1300;
    if (marks) *oob = (cdtls_oob){.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN, .dscp = 8, .ecn = CDTLS_ECN_CE};
    return 1200;
}

Test(io_gro, coalesced_reads_come_out_as_their_datagrams)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to, tx_addr;
    open_gro_pair(&tx, &rx, &to);
    cr_assert_eq(cdtls_io_local_addr(&tx, &tx_addr), CDTLS_OK);
    const int marks = (cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_DSCP) &&
                      (cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_ECN) &&
                      (cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_DSCP);
    static uint8_t out[GRO_N][1300], in[GRO_N][2048], raw[GRO_N][CDTLS_IO_CMSG_SPACE * 2];
    cdtls_io_msg msgs[GRO_N];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < GRO_N; i++) {
        msgs[i].len = gro_len(i, &msgs[i].oob, marks);
        for (size_t j = 0; j < msgs[i].len; j++) out[i][j] = (uint8_t)(i * 11 + (int)j);
        msgs[i].buf = out[i];
        msgs[i].addr = to;
    }
    size_t sent = 0;
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs, GRO_N, &sent), CDTLS_OK);
    cr_assert_eq(sent, GRO_N);

    cdtls_io_msg rm[GRO_N];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < GRO_N; i++) {
        rm[i].buf = in[i];
        rm[i].cap = sizeof in[i];
        rm[i].raw = raw[i];
        rm[i].raw_cap = sizeof raw[i];
    }
    /* The single-datagram call first: it gives the first datagram of run A,
     * never the coalesced read, and keeps the rest of it. */
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(cdtls_io_recv(&rx, rm[i].buf, rm[i].cap, &rm[i].len, &rm[i].addr, &rm[i].oob, rm[i].raw,
                                   rm[i].raw_cap, &rm[i].raw_len, 2000),
                     CDTLS_OK);
        cr_assert_eq(rm[i].len, 1000, "cdtls_io_recv returned %zu bytes, not one datagram", rm[i].len);
    }
    cr_assert_geq(cdtls_io_pending(&rx), 8, "the rest of run A waits in the socket (%zu)",
                  cdtls_io_pending(&rx));
    /* then batches of five: datagrams held from one call go out in the next */
    size_t got = 2;
    while (got < GRO_N) {
        size_t k = 0, want = GRO_N - got < 5 ? GRO_N - got : 5;
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, want, &k, 2000), CDTLS_OK, "after %zu", got);
        got += k;
    }
    for (int i = 0; i < GRO_N; i++) {
        cr_assert_eq(rm[i].len, msgs[i].len, "datagram %d: %zu bytes, want %zu", i, rm[i].len, msgs[i].len);
        cr_assert(!rm[i].truncated);
        cr_assert(memcmp(rm[i].buf, out[i], rm[i].len) == 0, "datagram %d: its bytes, in order", i);
        cr_assert_eq(rm[i].addr.port, tx_addr.port);
        cr_assert(!has_udp_cmsg(rm[i].raw, rm[i].raw_len), "datagram %d: UDP_GRO left in its raw bytes", i);
        if (marks) {
            cr_assert(rm[i].oob.flags & CDTLS_OOB_DSCP, "datagram %d reports its DSCP", i);
            cr_assert_eq(rm[i].oob.dscp, msgs[i].oob.dscp, "datagram %d: DSCP %u", i, rm[i].oob.dscp);
            cr_assert_eq(rm[i].oob.ecn, msgs[i].oob.ecn, "datagram %d: ECN %u", i, rm[i].oob.ecn);
            cdtls_oob parsed;
            cr_assert_eq(cdtls_io_parse_cmsg(rm[i].raw, rm[i].raw_len, &parsed), CDTLS_OK);
            cr_assert_eq(parsed.dscp, msgs[i].oob.dscp, "datagram %d: its own raw bytes", i);
        }
    }
    /* runs A, B and D came coalesced (C's datagrams went one by one) */
    fprintf(stderr, "io_gro: %d datagrams, %llu of them in coalesced reads, %llu receive calls\n", GRO_N,
            (unsigned long long)rx.gro_datagrams, (unsigned long long)rx.recv_calls);
    cr_assert_geq(rx.gro_datagrams, 24, "only %llu datagrams came coalesced",
                  (unsigned long long)rx.gro_datagrams);
    cr_assert_eq(cdtls_io_pending(&rx), 0);
    size_t k = 0;
    cr_assert_eq(cdtls_io_recv_batch(&rx, rm, GRO_N, &k, 0), CDTLS_ERR_TIMEOUT);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

/* Buffers smaller than a segment: each datagram of a coalesced read is cut
 * to its buffer and says so, and none after it is lost (the read itself
 * went into the socket's 64 KiB buffer); both receive calls. */
Test(io_gro, small_buffers_cut_each_datagram_and_lose_none)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to;
    open_gro_pair(&tx, &rx, &to);
    static uint8_t out[12][500];
    cdtls_io_msg msgs[12];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < 12; i++) {
        memset(out[i], 'a' + i, sizeof out[i]);
        msgs[i].buf = out[i];
        msgs[i].len = sizeof out[i];
        msgs[i].addr = to;
    }
    /* two GSO runs of six: 12 equal datagrams would be one run */
    size_t sent = 0;
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs, 6, &sent), CDTLS_OK);
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs + 6, 6, &sent), CDTLS_OK);
    uint8_t small[6][100];
    cdtls_io_msg rm[6];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 6; i++) rm[i].buf = small[i], rm[i].cap = sizeof small[i];
    size_t got = 0;
    while (got < 6) {
        size_t k = 0;
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, 6 - got, &k, 2000), CDTLS_OK);
        got += k;
    }
    for (int i = 0; i < 6; i++) {
        cr_assert(rm[i].truncated && rm[i].len == 100, "datagram %d: %zu bytes, truncated %d", i, rm[i].len,
                  rm[i].truncated);
        cr_assert(small[i][0] == 'a' + i && small[i][99] == 'a' + i, "datagram %d is its own", i);
    }
    for (int i = 6; i < 12; i++) {
        uint8_t b[100];
        size_t n = 0;
        cr_assert_eq(cdtls_io_recv(&rx, b, sizeof b, &n, NULL, NULL, NULL, 0, NULL, 2000),
                     CDTLS_ERR_BUFFER_TOO_SMALL, "datagram %d", i);
        cr_assert(n == 100 && b[0] == 'a' + i, "datagram %d is its own", i);
    }
    cr_assert_geq(rx.gro_datagrams, 6, "the runs came coalesced (%llu)",
                  (unsigned long long)rx.gro_datagrams);
    size_t k = 0;
    cr_assert_eq(cdtls_io_recv_batch(&rx, rm, 6, &k, 0), CDTLS_ERR_TIMEOUT);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}
#endif

#if defined(__linux__)
/* The open probe keeps GRO where it works: where the kernel takes UDP_GRO
 * and sends GSO (and no emulator garbles either), a probed socket has
 * CDTLS_IO_CAP_RECV_GRO just as an unprobed one. */
Test(io_gro, probe_keeps_gro_where_it_works)
{
    cdtls_io_socket tx, rx;
    cdtls_addr to;
    open_gro_pair(&tx, &rx, &to); /* skips where there is nothing to probe */
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&rx, &a, CDTLS_IO_GRO), CDTLS_OK);
    cr_assert(cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_GRO, "the probe turned working GRO off");
    cr_assert_not_null(rx.gro);
    cdtls_io_close(&rx);
    cr_assert_null(rx.gro, "close frees the GRO buffers");
}
#endif
