/* Batched send and receive (cdtls_io_send_batch / cdtls_io_recv_batch) on
 * loopback: every datagram keeps its own size, order, source and OOB
 * marking through a batch larger than one kernel call (40 > the 32-message
 * chunk), with the one-call path (sendmmsg/recvmmsg, where caps say so) and
 * with the one-by-one fallback, which must behave the same; truncation is
 * per datagram; an OOB item the socket cannot carry stops the batch at that
 * datagram, and the ones before it are sent. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/io.h"
#include "test_util.h"

#define N_BATCH 40

/* qemu-user hands a big-endian guest's control messages to the host
 * kernel without converting them (docs/portability.md): the 16-bit
 * UDP_SEGMENT size arrives byte-swapped, so GSO cannot be tested there. */
static int emulated_big_endian(void)
{
    const uint16_t one = 1;
    return test_emulator() && *(const uint8_t *)&one == 0;
}

static void open_pair(cdtls_io_socket *tx, cdtls_io_socket *rx, cdtls_addr *to)
{
    cdtls_addr a;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &a), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(tx, &a, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(rx, &a, 0), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(rx, to), CDTLS_OK);
    if (emulated_big_endian()) tx->caps &= ~(unsigned)CDTLS_IO_CAP_SEND_GSO;
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
        cr_assert(rm[i].oob.flags & CDTLS_OOB_LOCAL_ADDR || !(cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_LOCAL_ADDR));
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

static void unsupported_stops(int use_native)
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
    }
    msgs[3].oob.flags = CDTLS_OOB_TTL;
    msgs[3].oob.ttl = 9;
    size_t sent = 99;
    cr_assert_eq(cdtls_io_send_batch(&tx, msgs, 5, &sent), CDTLS_ERR_OOB_UNSUPPORTED);
    cr_assert_eq(sent, 3);
    uint8_t b[3][8];
    cdtls_io_msg rm[3];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 3; i++) rm[i].buf = b[i], rm[i].cap = sizeof b[i];
    size_t got = 0, k = 0;
    while (got < 3) {
        cr_assert_eq(cdtls_io_recv_batch(&rx, rm + got, 3 - got, &k, 2000), CDTLS_OK);
        got += k;
    }
    for (int i = 0; i < 3; i++) cr_assert_eq(b[i][0], i);
    cr_assert_eq(cdtls_io_recv_batch(&rx, rm, 3, &k, 100), CDTLS_ERR_TIMEOUT);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
}

Test(io_batch, unsupported_oob_stops_the_batch_at_that_datagram)
{
    unsupported_stops(1);
    unsupported_stops(0);
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
    const int marks = (cdtls_io_caps(&tx) & CDTLS_IO_CAP_SEND_DSCP) && (cdtls_io_caps(&rx) & CDTLS_IO_CAP_RECV_DSCP);
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
    if (emulated_big_endian()) cr_skip_test("qemu-user passes UDP_SEGMENT unconverted from a big-endian guest");
    gso_runs(1);
}
