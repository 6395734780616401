/* A standalone check of the io module on Windows (run under wine64 by
 * scripts/win-io-smoke.sh; Criterion does not build for Windows here).
 * Sends datagrams to itself over 127.0.0.1 with ECN and a source-address
 * request, and checks what the Windows backend reports and refuses.
 * Prints "N passed, N failed". */
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

int main(void)
{
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
    check(!(caps & CDTLS_IO_CAP_SEND_DSCP), "per-datagram DSCP on send is not claimed on Windows");
    cdtls_oob dscp = {CDTLS_OOB_DSCP, 46, 0, 0, 0, {0, {0}}};
    check(cdtls_io_send(&s, (const uint8_t *)"x", 1, &me, &dscp, NULL, 0) == CDTLS_ERR_OOB_UNSUPPORTED,
          "asking for DSCP is refused, not faked");
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
        check((got.flags & CDTLS_OOB_LOCAL_ADDR) && got.local.addr[0] == 127, "IP_PKTINFO destination reported");
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
    check(cdtls_io_recv(&s, buf, sizeof buf, &n, NULL, NULL, NULL, 0, NULL, 100) == CDTLS_ERR_TIMEOUT,
          "WSAPoll timeout");
    cdtls_io_close(&s);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
