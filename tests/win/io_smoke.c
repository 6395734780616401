/* A standalone check of the io module on Windows (run under wine64 by
 * scripts/win-io-smoke.sh; Criterion does not build for Windows here).
 * Sends datagrams to itself over 127.0.0.1 with ECN and a source-address
 * request, and checks what the Windows backend reports and refuses.
 * Prints "N passed, N failed". */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>

#include <stdio.h>
#include <string.h>

#include "cdtls/io.h"

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok)
        passed++;
    else
        failed++;
    printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
}

/* ------------------------------------------------ control-message bytes
 * What win32.c builds and parses, checked against the option and message
 * numbers of the mingw-w64 headers (the same as the Windows SDK's), with
 * the WSACMSGHDR layout: header, then the data at the next multiple of
 * MAX_NATURAL_ALIGNMENT. These need no Windows network stack, so they
 * hold whatever wine's does. */
static size_t data_off(void)
{
    return (sizeof(WSACMSGHDR) + MAX_NATURAL_ALIGNMENT - 1) & ~(size_t)(MAX_NATURAL_ALIGNMENT - 1);
}

/* One control message of `len` data bytes at buf; its total span. */
static size_t put_msg(uint8_t *buf, int level, int type, const void *data, size_t len)
{
    WSACMSGHDR h;
    memset(&h, 0, sizeof h);
    h.cmsg_len = data_off() + len;
    h.cmsg_level = level;
    h.cmsg_type = type;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + data_off(), data, len);
    return (data_off() + len + MAX_NATURAL_ALIGNMENT - 1) & ~(size_t)(MAX_NATURAL_ALIGNMENT - 1);
}

/* The first message of built bytes: level, type and its INT. */
static int first_int(const uint8_t *buf, size_t len, int level, int type, INT want)
{
    WSACMSGHDR h;
    INT v;
    if (len < data_off() + sizeof v) return 0;
    memcpy(&h, buf, sizeof h);
    memcpy(&v, buf + data_off(), sizeof v);
    return h.cmsg_level == level && h.cmsg_type == type && h.cmsg_len == data_off() + sizeof v && v == want;
}

static void control_bytes(void)
{
    uint8_t buf[256];
    size_t len = 0;
    cdtls_oob ef = {CDTLS_OOB_DSCP | CDTLS_OOB_ECN, 46, CDTLS_ECN_ECT0, 0, 0, {0, {0}}};
    check(cdtls_io_build_cmsg(&ef, 4, buf, sizeof buf, &len) == CDTLS_OK &&
              first_int(buf, len, IPPROTO_IP, IP_TOS, (46 << 2) | 2),
          "DSCP 46 + ECT(0) on IPv4: IP_TOS (3), an INT 0xba");
    check(cdtls_io_build_cmsg(&ef, 6, buf, sizeof buf, &len) == CDTLS_OK &&
              first_int(buf, len, IPPROTO_IPV6, IPV6_TCLASS, (46 << 2) | 2),
          "DSCP 46 + ECT(0) on IPv6: IPV6_TCLASS (39), an INT 0xba");
    check(cdtls_io_build_cmsg(&ef, 46, buf, sizeof buf, &len) == CDTLS_OK &&
              first_int(buf, len, IPPROTO_IP, IP_TOS, (46 << 2) | 2),
          "IPv4 over a dual-stack socket takes the IPv4 message");
    cdtls_oob ecn = {CDTLS_OOB_ECN, 0, CDTLS_ECN_ECT1, 0, 0, {0, {0}}};
    check(cdtls_io_build_cmsg(&ecn, 4, buf, sizeof buf, &len) == CDTLS_OK &&
              first_int(buf, len, IPPROTO_IP, IP_ECN, 1),
          "ECN alone on IPv4: IP_ECN (50), an INT");
    check(cdtls_io_build_cmsg(&ecn, 6, buf, sizeof buf, &len) == CDTLS_OK &&
              first_int(buf, len, IPPROTO_IPV6, IPV6_ECN, 1),
          "ECN alone on IPv6: IPV6_ECN (50)");

    cdtls_oob got;
    INT ttl = 64;
    len = put_msg(buf, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    check(cdtls_io_parse_cmsg(buf, len, &got) == CDTLS_OK && (got.flags & CDTLS_OOB_TTL) && got.ttl == 64,
          "the IPv4 TTL is read from an IP_TTL (4) message");
    len = put_msg(buf, IPPROTO_IP, IP_HOPLIMIT, &ttl, sizeof ttl);
    check(cdtls_io_parse_cmsg(buf, len, &got) == CDTLS_OK && !(got.flags & CDTLS_OOB_TTL),
          "IP_HOPLIMIT (21) is the option, not an IPv4 report");
    len = put_msg(buf, IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl, sizeof ttl);
    check(cdtls_io_parse_cmsg(buf, len, &got) == CDTLS_OK && (got.flags & CDTLS_OOB_TTL) && got.ttl == 64,
          "the hop limit from IPV6_HOPLIMIT (21)");
    INT tos = (10 << 2) | 3;
    len = put_msg(buf, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    check(cdtls_io_parse_cmsg(buf, len, &got) == CDTLS_OK && got.dscp == 10 && got.ecn == 3,
          "the received TOS from IP_TOS (3)");
    INT ce = 3;
    len = put_msg(buf, IPPROTO_IP, IP_ECN, &ce, sizeof ce);
    check(cdtls_io_parse_cmsg(buf, len, &got) == CDTLS_OK && got.flags == CDTLS_OOB_ECN && got.ecn == 3,
          "ECN alone from IP_ECN (50, IP_RECVECN), no DSCP claimed");
    IN6_PKTINFO pi;
    memset(&pi, 0, sizeof pi);
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 9};
    memcpy(&pi.ipi6_addr, mapped, 16);
    pi.ipi6_ifindex = 7;
    len = put_msg(buf, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    check(cdtls_io_parse_cmsg(buf, len, &got) == CDTLS_OK && got.local.family == 4 &&
              got.local.addr[0] == 127 && got.local.addr[3] == 9 && got.ifindex == 7,
          "an IPv4-mapped IPV6_PKTINFO is unmapped (dual-stack socket)");
}

int main(void)
{
    control_bytes();
    cdtls_io_socket s;
    cdtls_addr any, me;
    check(cdtls_addr_parse("127.0.0.1", 0, &any) == CDTLS_OK, "parse 127.0.0.1");
    int rc = cdtls_io_open(&s, &any, 0);
    check(rc == CDTLS_OK, "open a UDP socket (WSAStartup, WSARecvMsg via WSAIoctl)");
    if (rc) {
        printf("%d passed, %d failed\n", passed, failed + 1);
        return 1;
    }
    check(cdtls_io_local_addr(&s, &me) == CDTLS_OK && me.port != 0, "bound to an ephemeral port");
    unsigned caps = cdtls_io_caps(&s);
    printf("caps: send dscp=%d ecn=%d src=%d | recv dscp=%d ecn=%d dst=%d if=%d ttl=%d\n",
           !!(caps & CDTLS_IO_CAP_SEND_DSCP), !!(caps & CDTLS_IO_CAP_SEND_ECN),
           !!(caps & CDTLS_IO_CAP_SEND_LOCAL_ADDR), !!(caps & CDTLS_IO_CAP_RECV_DSCP),
           !!(caps & CDTLS_IO_CAP_RECV_ECN), !!(caps & CDTLS_IO_CAP_RECV_LOCAL_ADDR),
           !!(caps & CDTLS_IO_CAP_RECV_IFINDEX), !!(caps & CDTLS_IO_CAP_RECV_TTL));
    /* DSCP on send: claimed only where the traffic class is taken and the
     * open-time probe saw the marking arrive; otherwise refused, not faked */
    cdtls_oob dscp = {CDTLS_OOB_DSCP, 46, 0, 0, 0, {0, {0}}};
    rc = cdtls_io_send(&s, (const uint8_t *)"x", 1, &me, &dscp, NULL, 0);
    if (caps & CDTLS_IO_CAP_SEND_DSCP) {
        check(rc == CDTLS_OK, "send with an IP_TOS control message");
        uint8_t b[8];
        size_t k;
        cdtls_oob g;
        rc = cdtls_io_recv(&s, b, sizeof b, &k, NULL, &g, NULL, 0, NULL, 2000);
        check(rc == CDTLS_OK && (!(caps & CDTLS_IO_CAP_RECV_DSCP) || g.dscp == 46), "DSCP 46 arrives");
    } else {
        printf("note: this system does not apply DSCP on send (probe); refused, not faked\n");
        check(rc == CDTLS_ERR_OOB_UNSUPPORTED, "asking for DSCP is refused, not faked");
    }
    /* plain and ECN-marked datagrams to ourselves */
    check(cdtls_io_send(&s, (const uint8_t *)"plain", 5, &me, NULL, NULL, 0) == CDTLS_OK, "WSASendMsg plain");
    uint8_t buf[64], raw[CDTLS_IO_CMSG_SPACE];
    size_t n = 0, raw_len = 0;
    cdtls_addr from;
    cdtls_oob got;
    rc = cdtls_io_recv(&s, buf, sizeof buf, &n, &from, &got, raw, sizeof raw, &raw_len, 2000);
    check(rc == CDTLS_OK && n == 5 && memcmp(buf, "plain", 5) == 0, "WSARecvMsg plain");
    check(from.port == me.port && from.ip.family == 4, "sender address reported");
    if (caps & CDTLS_IO_CAP_RECV_LOCAL_ADDR)
        check((got.flags & CDTLS_OOB_LOCAL_ADDR) && got.local.addr[0] == 127,
              "IP_PKTINFO destination reported");
    /* ECN on send: where the open-time probe found it works, the marking
     * must arrive; where it did not (wine accepts IP_ECN and drops it), the
     * request must be refused rather than sent unmarked. */
    cdtls_oob ecn = {CDTLS_OOB_ECN, 0, CDTLS_ECN_ECT0, 0, 0, {0, {0}}};
    rc = cdtls_io_send(&s, (const uint8_t *)"ecn", 3, &me, &ecn, NULL, 0);
    if (caps & CDTLS_IO_CAP_SEND_ECN) {
        check(rc == CDTLS_OK, "send with an IP_ECN control message");
        rc = cdtls_io_recv(&s, buf, sizeof buf, &n, NULL, &got, NULL, 0, NULL, 2000);
        check(rc == CDTLS_OK && (got.flags & CDTLS_OOB_ECN) && got.ecn == CDTLS_ECN_ECT0,
              "ECT(0) arrives and is reported");
    } else {
        printf("note: this system does not apply ECN on send (probe); refused, not faked\n");
        check(rc == CDTLS_ERR_OOB_UNSUPPORTED, "ECN request refused where it would be dropped");
    }
    /* a datagram larger than the buffer: WSAEMSGSIZE, with the length of
     * what the buffer holds, not a stale one */
    check(cdtls_io_send(&s, (const uint8_t *)"0123456789abcdef", 16, &me, NULL, NULL, 0) == CDTLS_OK,
          "send 16 bytes");
    n = 12345;
    rc = cdtls_io_recv(&s, buf, 8, &n, NULL, NULL, NULL, 0, NULL, 2000);
    check(rc == CDTLS_ERR_BUFFER_TOO_SMALL && n == 8 && memcmp(buf, "01234567", 8) == 0,
          "WSAEMSGSIZE: truncated, length = the buffer's");
    check(cdtls_io_recv(&s, buf, sizeof buf, &n, NULL, NULL, NULL, 0, NULL, 100) == CDTLS_ERR_TIMEOUT,
          "WSAPoll timeout");
    cdtls_io_close(&s);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
