/* src/io's control-message parser, cdtls_io_parse_cmsg: the bytes a
 * recvmsg hands over with a datagram (IP_TOS / IPV6_TCLASS, IP_PKTINFO /
 * IPV6_PKTINFO, IP_TTL / IPV6_HOPLIMIT, and whatever else a kernel adds).
 * The kernel writes them, but from the headers of a packet a peer sent
 * (TOS, traffic class, hop limit) and, on the raw OOB path, the caller may
 * pass any bytes (cdtls_sock_write_oob hands them back on read).
 *
 * Input: the control bytes. They are copied to a heap block of exactly
 * their length (malloc's alignment is what a cmsghdr needs), so reading
 * past them is an AddressSanitizer report.
 *
 * Checks: what comes out is within its ranges (DSCP 6 bits, ECN 2, a
 * local address of family 4 or 6, no flag cdtls does not define); the
 * typed values survive cdtls_io_build_cmsg and a second parse (TOS /
 * traffic class, TTL / hop limit, interface index, and the IPv6 local
 * address, which receive and send carry in the same field). */
#include <stdlib.h>
#include <string.h>

#include "cdtls/io.h"
#include "cdtls/oob.h"

#define KNOWN_FLAGS \
    (CDTLS_OOB_DSCP | CDTLS_OOB_ECN | CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX | CDTLS_OOB_TTL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *cmsg = malloc(size ? size : 1);
    if (!cmsg) abort();
    if (size) memcpy(cmsg, data, size);
    cdtls_oob o;
    if (cdtls_io_parse_cmsg(size ? cmsg : NULL, size, &o) != CDTLS_OK) abort();
    free(cmsg);
    if (o.flags & ~(unsigned)KNOWN_FLAGS) abort();
    if (o.dscp > 63 || o.ecn > 3) abort();
    if ((o.flags & CDTLS_OOB_LOCAL_ADDR) && o.local.family != 4 && o.local.family != 6) abort();

    int family = (o.flags & CDTLS_OOB_LOCAL_ADDR) && o.local.family == 6 ? 6 : 4;
    uint8_t built[CDTLS_IO_CMSG_SPACE * 2];
    size_t n;
    if (cdtls_io_build_cmsg(&o, family, built, sizeof built, &n) != CDTLS_OK) return 0;
    cdtls_oob back;
    if (cdtls_io_parse_cmsg(built, n, &back) != CDTLS_OK) abort();
    const unsigned same = CDTLS_OOB_DSCP | CDTLS_OOB_ECN | CDTLS_OOB_TTL | CDTLS_OOB_IFINDEX;
    if ((back.flags & same) != (o.flags & same)) abort();
    if ((o.flags & CDTLS_OOB_DSCP) && back.dscp != o.dscp) abort();
    if ((o.flags & CDTLS_OOB_ECN) && back.ecn != o.ecn) abort();
    if ((o.flags & CDTLS_OOB_TTL) && back.ttl != o.ttl) abort();
    if ((o.flags & CDTLS_OOB_IFINDEX) && back.ifindex != o.ifindex) abort();
    if (family == 6 && (!(back.flags & CDTLS_OOB_LOCAL_ADDR) || back.local.family != o.local.family ||
                        memcmp(back.local.addr, o.local.addr, o.local.family == 6 ? 16 : 4) != 0))
        abort();
    return 0;
}
