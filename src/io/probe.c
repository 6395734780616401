/* The send-capability probe (see CDTLS_IO_NO_PROBE in cdtls/io.h): a system
 * that accepts a TOS/ECN control message and silently sends the datagram
 * unmarked (seen under wine) must not be reported as able to mark. The
 * datagrams it receives check the receive reports the same way: one the
 * socket option was accepted for but that no datagram carries (wine: the
 * IPv4 TTL) is not reported either. Built on the public io calls only, so
 * it serves every backend. */
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

/* The receive capabilities rx claims whose report a received datagram
 * did not carry. */
static unsigned missing_reports(unsigned rx_caps, unsigned got)
{
    static const struct {
        unsigned cap, flag;
    } report[] = {{CDTLS_IO_CAP_RECV_DSCP, CDTLS_OOB_DSCP},
                  {CDTLS_IO_CAP_RECV_ECN, CDTLS_OOB_ECN},
                  {CDTLS_IO_CAP_RECV_LOCAL_ADDR, CDTLS_OOB_LOCAL_ADDR},
                  {CDTLS_IO_CAP_RECV_IFINDEX, CDTLS_OOB_IFINDEX},
                  {CDTLS_IO_CAP_RECV_TTL, CDTLS_OOB_TTL}};
    unsigned missing = 0;
    for (size_t i = 0; i < sizeof report / sizeof report[0]; i++)
        if ((rx_caps & report[i].cap) && !(got & report[i].flag)) missing |= report[i].cap;
    return missing;
}

/* A pair of temporary loopback sockets of the family, without probes of
 * their own (rx opened with rx_flags): 0 when both are open, else -1 and
 * neither is (the probe then leaves the claim unverified). */
static int probe_pair_open(int family, unsigned rx_flags, cdtls_io_socket *tx, cdtls_io_socket *rx)
{
    cdtls_addr lo;
    if (cdtls_addr_parse(family == 6 ? "::1" : "127.0.0.1", 0, &lo) != CDTLS_OK) return -1;
    if (cdtls_io_open(rx, &lo, rx_flags | CDTLS_IO_NO_PROBE) != CDTLS_OK) return -1;
    if (cdtls_io_open(tx, &lo, CDTLS_IO_NO_PROBE) != CDTLS_OK) {
        cdtls_io_close(rx);
        return -1;
    }
    return 0;
}

/* One marked datagram per marking capability from tx to `to` (rx's
 * address): the claims in caps whose marking does not arrive, or whose
 * send fails, are dropped, and so are rx's receive reports a datagram
 * came without (*rx_missing). */
static unsigned probe_marks_path(cdtls_io_socket *tx, cdtls_io_socket *rx, const cdtls_addr *to,
                                 unsigned caps, unsigned *rx_missing)
{
    static const uint8_t probe[] = "cdtls io probe";
    cdtls_oob want[2] = {{.flags = CDTLS_OOB_DSCP, .dscp = 46},
                         {.flags = CDTLS_OOB_ECN, .ecn = CDTLS_ECN_ECT0}};
    const unsigned cap_of[2] = {CDTLS_IO_CAP_SEND_DSCP, CDTLS_IO_CAP_SEND_ECN};
    unsigned rx_caps = cdtls_io_caps(rx);
    if (!(rx_caps & (CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN))) return caps;
    /* One datagram per capability: a system may take one and not the other. */
    for (int i = 0; i < 2; i++) {
        if (!(caps & cap_of[i])) continue;
        tx->caps = caps; /* a refusal inside send clears bits; start from the claim */
        if (cdtls_io_send(tx, probe, sizeof probe, to, &want[i], NULL, 0) != CDTLS_OK) {
            caps &= ~cap_of[i];
            continue;
        }
        uint8_t buf[64];
        size_t n;
        cdtls_oob got;
        /* Loopback delivery is immediate; no answer means "unverified",
         * and the claim stays. */
        if (cdtls_io_recv(rx, buf, sizeof buf, &n, NULL, &got, NULL, 0, NULL, 200) != CDTLS_OK) continue;
        int arrived = i == 0 ? (got.flags & CDTLS_OOB_DSCP) && got.dscp == 46
                             : (got.flags & CDTLS_OOB_ECN) && got.ecn == CDTLS_ECN_ECT0;
        if (!arrived) caps &= ~cap_of[i];
        *rx_missing |= missing_reports(rx_caps, got.flags);
    }
    return caps;
}

unsigned io_probe_send_marks(int family, int dual, unsigned caps)
{
    const unsigned marks = CDTLS_IO_CAP_SEND_DSCP | CDTLS_IO_CAP_SEND_ECN;
    if (!(caps & marks)) return caps;
    cdtls_io_socket tx, rx;
    if (probe_pair_open(family, 0, &tx, &rx)) return caps;
    cdtls_addr to;
    unsigned missing = 0;
    if (cdtls_io_local_addr(&rx, &to) == CDTLS_OK) caps = probe_marks_path(&tx, &rx, &to, caps, &missing);
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
    caps &= ~missing;
    /* A dual-stack socket marks its IPv4 traffic with the IPv4 messages
     * (IP_TOS), another path than the IPv6 one just tried: an IPv4
     * datagram from a dual-stack socket must arrive marked as well, or the
     * claim goes (caps are per socket, not per family). The receive
     * reports are the IPv6 socket's: only the IPv6 probe judges those. */
    if (dual && (caps & marks)) {
        cdtls_addr any6, lo4;
        if (cdtls_addr_parse("::", 0, &any6) != CDTLS_OK ||
            cdtls_addr_parse("127.0.0.1", 0, &lo4) != CDTLS_OK)
            return caps;
        if (cdtls_io_open(&rx, &lo4, CDTLS_IO_NO_PROBE) != CDTLS_OK) return caps;
        if (cdtls_io_open(&tx, &any6, CDTLS_IO_DUAL_STACK | CDTLS_IO_NO_PROBE) != CDTLS_OK) {
            cdtls_io_close(&rx);
            return caps;
        }
        unsigned ignored = 0;
        if (cdtls_io_local_addr(&rx, &to) == CDTLS_OK &&
            cdtls_addr_parse("127.0.0.1", to.port, &to) == CDTLS_OK)
            caps = probe_marks_path(&tx, &rx, &to, caps, &ignored);
        cdtls_io_close(&tx);
        cdtls_io_close(&rx);
    }
    return caps;
}

#if defined(__linux__)
/* UDP GSO and GRO exist on Linux only (posix.c calls these there); kept
 * out elsewhere so that a backend linked without batch.c (the Windows
 * smoke test) needs nothing more. */

/* Sends a GSO run of 100 + 100 + 40 bytes (distinct contents) from tx to
 * rx and checks what arrives: 1 if it came out as those three datagrams,
 * 0 if it came in other sizes or contents, -1 if nothing came or the send
 * failed (unverified). */
static int gso_run_arrives(cdtls_io_socket *tx, cdtls_io_socket *rx)
{
    static const size_t lens[3] = {100, 100, 40};
    cdtls_addr to;
    if (cdtls_io_local_addr(rx, &to) != CDTLS_OK) return -1;
    uint8_t out[3][100], in[4][128];
    cdtls_io_msg msgs[4];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < 3; i++) {
        memset(out[i], 0x51 + i, sizeof out[i]);
        msgs[i].buf = out[i];
        msgs[i].len = lens[i];
        msgs[i].addr = to;
    }
    size_t sent = 0, got = 0;
    if (cdtls_io_send_batch(tx, msgs, 3, &sent) != CDTLS_OK) return -1;
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < 4; i++) {
        msgs[i].buf = in[i];
        msgs[i].cap = sizeof in[i];
    }
    /* Loopback delivery is immediate. The run may come as one read or
     * several; more than three datagrams would show in the sizes of the
     * first. */
    while (got < 3) {
        size_t k = 0;
        if (cdtls_io_recv_batch(rx, msgs + got, 4 - got, &k, got ? 50 : 200) != CDTLS_OK) break;
        got += k;
    }
    if (got == 0) return -1;
    if (got != 3) return 0;
    for (size_t i = 0; i < 3; i++)
        if (msgs[i].truncated || msgs[i].len != lens[i] || in[i][0] != 0x51 + i ||
            in[i][lens[i] - 1] != 0x51 + i)
            return 0;
    return 1;
}

/* The GSO probe: the run to a plain socket, to which the kernel delivers
 * the datagrams separately, in the sizes the sender's UDP_SEGMENT gave.
 * qemu-user passes a big-endian guest's UDP_SEGMENT unconverted (100
 * arrives as 25,600), which sends the run as one datagram or cuts it in
 * the wrong places; since the socket layer sends equal unmarked datagrams
 * as GSO runs, DTLS would break there rather than only a test. */
unsigned io_probe_send_gso(int family, unsigned caps)
{
    if (!(caps & CDTLS_IO_CAP_SEND_GSO)) return caps;
    cdtls_io_socket tx, rx;
    if (probe_pair_open(family, 0, &tx, &rx)) return caps;
    /* the temporary sender claims GSO as the real socket does (the same
     * getsockopt); a refusal inside the send clears it there */
    if ((tx.caps & CDTLS_IO_CAP_SEND_GSO) && gso_run_arrives(&tx, &rx) == 0)
        caps &= ~(unsigned)CDTLS_IO_CAP_SEND_GSO;
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
    return caps;
}

/* The GRO probe (CDTLS_IO_GRO): the same GSO run to a GRO socket on
 * loopback, where the kernel hands it over coalesced; it must come out as
 * the three datagrams that were sent. A wrong segment size (qemu-user
 * passing a big-endian guest's UDP_GRO unconverted) would merge or cut
 * them. (A sender whose GSO is wrong fails it too: GRO then stays off,
 * which is the safe side.) */
int io_probe_gro(int family)
{
    cdtls_io_socket tx, rx;
    if (probe_pair_open(family, CDTLS_IO_GRO, &tx, &rx)) return 1;
    int ok = 1;
    if ((rx.caps & CDTLS_IO_CAP_RECV_GRO) && (tx.caps & CDTLS_IO_CAP_SEND_GSO))
        ok = gso_run_arrives(&tx, &rx) != 0;
    cdtls_io_close(&tx);
    cdtls_io_close(&rx);
    return ok;
}
#endif /* __linux__ */
