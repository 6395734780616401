/* The io module on Windows: WSASendMsg / WSARecvMsg (the latter fetched
 * through WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER), as Microsoft
 * requires) with WSACMSGHDR control messages.
 *
 * Windows differences, reported through the capability bits rather than
 *  faked:
 *  - DSCP and ECN are sent with an IP_TOS / IPV6_TCLASS control message
 *    (an INT) where the system takes a traffic class (msquic's test: an
 *    IPv6 socket accepts the IPV6_TCLASS option; IPv4 would accept it and
 *    ignore it), which the open-time probe then checks on a real datagram;
 *    elsewhere ECN alone goes with IP_ECN / IPV6_ECN (Windows 10 2004 and
 *    later) and SEND_DSCP is not claimed.
 *  - The received TOS / traffic class (DSCP + ECN) comes with IP_RECVTOS /
 *    IPV6_RECVTCLASS (Windows 10 1903 and later); where the option is
 *    refused, ECN alone with IP_RECVECN / IPV6_RECVECN (the control
 *    message then has type IP_ECN / IPV6_ECN). Windows Server 2022 (build
 *    20348) gets ECN alone and no TTL report: a receive-offload (URO) bug
 *    of that build breaks the TOS and hop-limit reports (msquic turns them
 *    off there too).
 *  - Local address and interface: IP_PKTINFO / IPV6_PKTINFO (an IPv4
 *    datagram on a dual-stack socket reports its address IPv4-mapped: it
 *    is unmapped, as posix.c does). Received TTL: the option is
 *    IP_HOPLIMIT, the control message that carries the IPv4 TTL has type
 *    IP_TTL; hop limit: IPV6_HOPLIMIT both ways.
 *  - Don't-fragment: IP_DONTFRAGMENT / IPV6_DONTFRAG (RFC 6347 §4.1.1.1).
 *  - ICMP errors: WSAECONNRESET (port unreachable), WSAENETRESET (TTL
 *    expired), WSAEHOSTUNREACH / WSAENETUNREACH on a later call: events,
 *    never errors of the socket (cdtls/io.h). */
#if defined(_WIN32)

#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

/* The WSA_CMSG_* macros of mswsock.h, restated in C11: mingw's spell the
 * alignment with a struct defined inside offsetof, which C11 does not
 * allow. Same arithmetic: headers aligned to WSACMSGHDR, data to
 * MAX_NATURAL_ALIGNMENT. */
#define CD_HDR_ALIGN(n) (((n) + _Alignof(WSACMSGHDR) - 1) & ~(size_t)(_Alignof(WSACMSGHDR) - 1))
#define CD_DATA_ALIGN(n) (((n) + MAX_NATURAL_ALIGNMENT - 1) & ~(size_t)(MAX_NATURAL_ALIGNMENT - 1))
#define CD_CMSG_DATA(c) ((u_char *)(c) + CD_DATA_ALIGN(sizeof(WSACMSGHDR)))
#define CD_CMSG_SPACE(n) (CD_DATA_ALIGN(sizeof(WSACMSGHDR) + CD_HDR_ALIGN(n)))
#define CD_CMSG_LEN(n) (CD_DATA_ALIGN(sizeof(WSACMSGHDR)) + (n))

static WSACMSGHDR *cd_cmsg_next(const WSAMSG *m, WSACMSGHDR *c)
{
    uint8_t *base = (uint8_t *)m->Control.buf, *end = base + m->Control.len;
    uint8_t *next = c ? (uint8_t *)c + CD_HDR_ALIGN(c->cmsg_len) : base;
    if (next + sizeof(WSACMSGHDR) > end) return NULL;
    WSACMSGHDR *n = (WSACMSGHDR *)(void *)next;
    /* a length that runs past the buffer ends the walk */
    if (n->cmsg_len < sizeof(WSACMSGHDR) || n->cmsg_len > (size_t)(end - next)) return NULL;
    return n;
}

static const uint8_t *cd_cmsg_data_const(const WSACMSGHDR *c)
{
    return (const uint8_t *)c + CD_DATA_ALIGN(sizeof(WSACMSGHDR));
}


uint64_t cdtls_io_now_ms(void)
{
    return (uint64_t)GetTickCount64();
}

/* ws2ipdef.h of the Windows SDK names the receive options IP_RECVECN and
 * IPV6_RECVECN (50, the value of the IP_ECN / IPV6_ECN control message);
 * mingw-w64's has only the latter names. */
#ifndef IP_RECVECN
#define IP_RECVECN 50
#endif
#ifndef IPV6_RECVECN
#define IPV6_RECVECN 50
#endif

/* The Windows build number (RtlGetVersion: GetVersionEx is subject to the
 * application manifest and may not tell the truth); 0 if unknown. */
static DWORD windows_build(void)
{
    typedef LONG(WINAPI * rtl_get_version_fn)(OSVERSIONINFOW *);
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (!ntdll) return 0;
    /* via void (*)(void): the generic function pointer type C converts */
    rtl_get_version_fn get = (rtl_get_version_fn)(void (*)(void))GetProcAddress(ntdll, "RtlGetVersion");
    OSVERSIONINFOW v;
    memset(&v, 0, sizeof v);
    v.dwOSVersionInfoSize = sizeof v;
    return get && get(&v) == 0 ? v.dwBuildNumber : 0;
}

/* Windows Server 2022: its receive offload mangles the TOS and hop-limit
 * reports (see the top of the file). */
#define WINDOWS_BUILD_URO_QUIRK 20348u

/* Whether the system takes a traffic class to send (msquic's test: IPv6,
 * because IPv4 accepts IP_TOS and ignores it). */
static int can_send_tclass(void)
{
    SOCKET t = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    if (t == INVALID_SOCKET) return 0;
    DWORD tos = 1u << 2; /* DSCP 1 (LE, RFC 8622): harmless if it sticks */
    int ok = setsockopt(t, IPPROTO_IPV6, IPV6_TCLASS, (const char *)&tos, sizeof tos) == 0;
    closesocket(t);
    return ok;
}

/* ----------------------------------------------------------- open / close */

/* Sets a boolean socket option; 1 when it is on afterwards. */
static int set_report(SOCKET fd, int level, int opt, int want)
{
    DWORD v = want ? 1 : 0;
    return setsockopt(fd, level, opt, (const char *)&v, sizeof v) == 0 && want;
}

/* The receive-side reports in `want` on, the others off; returns the bits
 * of those that are on. One option gives DSCP and ECN, one the local
 * address and interface (as in posix.c). */
/* The TOS report of one family: the whole TOS / traffic class (DSCP and
 * ECN) where the system has it and the build has no quirk, else ECN alone
 * (IP_RECVECN / IPV6_RECVECN); turning off turns both off. */
static unsigned set_tos_report(SOCKET fd, int level, int tos_opt, int ecn_opt, int want, int quirk)
{
    if (!want) {
        (void)set_report(fd, level, tos_opt, 0);
        (void)set_report(fd, level, ecn_opt, 0);
        return 0;
    }
    if (!quirk && set_report(fd, level, tos_opt, 1)) return CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN;
    return set_report(fd, level, ecn_opt, 1) ? CDTLS_IO_CAP_RECV_ECN : 0;
}

static unsigned set_recv_reports(SOCKET fd, int v4, int v6, unsigned want)
{
    const int tos = (want & (CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN)) != 0;
    const int pkt = (want & (CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX)) != 0;
    const int quirk = windows_build() == WINDOWS_BUILD_URO_QUIRK;
    const int ttl = (want & CDTLS_IO_CAP_RECV_TTL) != 0 && !quirk;
    unsigned caps = 0;
    if (v4) {
        caps |= set_tos_report(fd, IPPROTO_IP, IP_RECVTOS, IP_RECVECN, tos, quirk);
        if (set_report(fd, IPPROTO_IP, IP_PKTINFO, pkt))
            caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
        if (set_report(fd, IPPROTO_IP, IP_HOPLIMIT, ttl)) caps |= CDTLS_IO_CAP_RECV_TTL;
    }
    if (v6) {
        caps |= set_tos_report(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, IPV6_RECVECN, tos, quirk);
        if (set_report(fd, IPPROTO_IPV6, IPV6_PKTINFO, pkt))
            caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
        if (set_report(fd, IPPROTO_IPV6, IPV6_HOPLIMIT, ttl)) caps |= CDTLS_IO_CAP_RECV_TTL;
    }
    return caps;
}

int cdtls_io_open(cdtls_io_socket *s, const cdtls_addr *bind_addr, unsigned flags)
{
    if (!s || !bind_addr || (bind_addr->ip.family != 4 && bind_addr->ip.family != 6))
        return CDTLS_ERR_INVALID_ARG;
    memset(s, 0, sizeof *s);
    s->fd = (cdtls_socket_handle)INVALID_SOCKET;
    /* Windows has no load-spreading port sharing: SO_REUSEADDR on UDP
     * hands each unicast datagram to one socket of those bound, so a group
     * of workers would not share the traffic (see docs/deployment.md). */
    if (flags & CDTLS_IO_REUSEPORT) return CDTLS_ERR_UNSUPPORTED;
    WSADATA wsa; /* reference-counted by Windows; balanced in cdtls_io_close */
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return CDTLS_ERR_IO;
    int family = bind_addr->ip.family;
    SOCKET fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (fd == INVALID_SOCKET) {
        s->last_error = WSAGetLastError();
        WSACleanup();
        return CDTLS_ERR_IO;
    }
    int dual = family == 6 && (flags & CDTLS_IO_DUAL_STACK);
    if (family == 6) {
        DWORD v6only = dual ? 0 : 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only, sizeof v6only);
    }
    struct sockaddr_storage ss;
    int sl = (int)io_to_sockaddr(bind_addr, family, &ss);
    GUID guid = WSAID_WSARECVMSG;
    LPFN_WSARECVMSG recvmsg_fn = NULL;
    DWORD got = 0;
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        WSAIoctl(fd, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &recvmsg_fn, sizeof recvmsg_fn,
                 &got, NULL, NULL) != 0 ||
        !recvmsg_fn) {
        s->last_error = WSAGetLastError();
        closesocket(fd);
        WSACleanup();
        return CDTLS_ERR_IO;
    }
    if (flags & CDTLS_IO_NONBLOCK) {
        u_long nb = 1;
        ioctlsocket(fd, FIONBIO, &nb);
    }
    unsigned caps = CDTLS_IO_CAP_RAW_OOB |
                    set_recv_reports(fd, family == 4 || dual, family == 6, CDTLS_IO_RECV_REPORTS);
    /* send: DSCP + ECN as a traffic class where the system takes one (the
     * probe below checks it arrives), else ECN alone via IP_ECN/IPV6_ECN;
     * source address via *_PKTINFO */
    caps |= CDTLS_IO_CAP_SEND_ECN | CDTLS_IO_CAP_SEND_LOCAL_ADDR;
    if (can_send_tclass()) caps |= CDTLS_IO_CAP_SEND_DSCP;
    {
        /* don't-fragment: the path's MTU is learnt, not paid in fragments */
        DWORD on = 1;
        if (family == 4 || dual)
            (void)setsockopt(fd, IPPROTO_IP, IP_DONTFRAGMENT, (const char *)&on, sizeof on);
        if (family == 6) (void)setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, (const char *)&on, sizeof on);
    }
    s->fd = (cdtls_socket_handle)fd;
    s->family = family;
    s->dual_stack = dual;
    s->caps = caps;
    s->os_private = (void *)recvmsg_fn;
    if (!(flags & CDTLS_IO_NO_PROBE)) s->caps = io_probe_send_marks(family, dual, s->caps);
    s->recv_reports_ok = s->caps & CDTLS_IO_RECV_REPORTS;
    return CDTLS_OK;
}

int cdtls_io_set_recv_reports(cdtls_io_socket *s, unsigned mask)
{
    if (!s || (SOCKET)s->fd == INVALID_SOCKET || (mask & ~(unsigned)CDTLS_IO_RECV_REPORTS))
        return CDTLS_ERR_INVALID_ARG;
    unsigned got = set_recv_reports((SOCKET)s->fd, s->family == 4 || s->dual_stack, s->family == 6, mask);
    s->caps = (s->caps & ~(unsigned)CDTLS_IO_RECV_REPORTS) | (got & s->recv_reports_ok);
    return CDTLS_OK;
}

int cdtls_io_connect(cdtls_io_socket *s, const cdtls_addr *peer)
{
    if (!s || (SOCKET)s->fd == INVALID_SOCKET || !peer || (peer->ip.family != 4 && peer->ip.family != 6))
        return CDTLS_ERR_INVALID_ARG;
    if (peer->ip.family == 4 && s->family == 6 && !s->dual_stack) return CDTLS_ERR_INVALID_ARG;
    if (peer->ip.family == 6 && s->family == 4) return CDTLS_ERR_INVALID_ARG;
    struct sockaddr_storage ss;
    int sl = (int)io_to_sockaddr(peer, s->family, &ss);
    if (connect((SOCKET)s->fd, (struct sockaddr *)&ss, sl) != 0) {
        s->last_error = WSAGetLastError();
        return CDTLS_ERR_IO;
    }
    s->connected = 1;
    s->peer = *peer;
    return CDTLS_OK;
}

void cdtls_io_close(cdtls_io_socket *s)
{
    if (s && (SOCKET)s->fd != INVALID_SOCKET) {
        closesocket((SOCKET)s->fd);
        s->fd = (cdtls_socket_handle)INVALID_SOCKET;
        WSACleanup();
    }
}

int cdtls_io_local_addr(const cdtls_io_socket *s, cdtls_addr *out)
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (!s || !out) return CDTLS_ERR_INVALID_ARG;
    if (getsockname((SOCKET)s->fd, (struct sockaddr *)&ss, &sl) != 0) return CDTLS_ERR_IO;
    io_from_sockaddr(&ss, out);
    return CDTLS_OK;
}

unsigned cdtls_io_caps(const cdtls_io_socket *s)
{
    return s ? s->caps : 0;
}

/* --------------------------------------------------- typed OOB <-> cmsg */

static int put_cmsg(uint8_t *buf, size_t *used, size_t cap, int level, int type, const void *data, size_t len)
{
    if (*used + CD_CMSG_SPACE(len) > cap) return 0;
    WSACMSGHDR *c = (WSACMSGHDR *)(void *)(buf + *used);
    memset(c, 0, CD_CMSG_SPACE(len));
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CD_CMSG_LEN(len);
    memcpy(CD_CMSG_DATA(c), data, len);
    *used += CD_CMSG_SPACE(len);
    return 1;
}

/* The marking: with DSCP, the whole TOS / traffic class as an INT in
 * IP_TOS / IPV6_TCLASS (msquic's form); ECN alone, IP_ECN / IPV6_ECN. */
static int build(const cdtls_oob *oob, int family, uint8_t *buf, size_t cap, size_t *used)
{
    int ok = 1;
    if (!oob) return 1;
    if (oob->flags & CDTLS_OOB_DSCP) {
        INT tos = (INT)(((oob->dscp & 0x3f) << 2) | ((oob->flags & CDTLS_OOB_ECN) ? (oob->ecn & 3) : 0));
        ok &= family == 6 ? put_cmsg(buf, used, cap, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos)
                          : put_cmsg(buf, used, cap, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    } else if (oob->flags & CDTLS_OOB_ECN) {
        INT ecn = oob->ecn & 3;
        ok &= family == 6 ? put_cmsg(buf, used, cap, IPPROTO_IPV6, IPV6_ECN, &ecn, sizeof ecn)
                          : put_cmsg(buf, used, cap, IPPROTO_IP, IP_ECN, &ecn, sizeof ecn);
    }
    if (oob->flags & (CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX)) {
        if (family == 6) {
            IN6_PKTINFO pi;
            memset(&pi, 0, sizeof pi);
            if ((oob->flags & CDTLS_OOB_LOCAL_ADDR) && oob->local.family == 6)
                memcpy(&pi.ipi6_addr, oob->local.addr, 16);
            if (oob->flags & CDTLS_OOB_IFINDEX) pi.ipi6_ifindex = oob->ifindex;
            ok &= put_cmsg(buf, used, cap, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
        } else {
            IN_PKTINFO pi;
            memset(&pi, 0, sizeof pi);
            if ((oob->flags & CDTLS_OOB_LOCAL_ADDR) && oob->local.family == 4)
                memcpy(&pi.ipi_addr, oob->local.addr, 4);
            if (oob->flags & CDTLS_OOB_IFINDEX) pi.ipi_ifindex = oob->ifindex;
            ok &= put_cmsg(buf, used, cap, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
        }
    }
    return ok;
}

int cdtls_io_build_cmsg(const cdtls_oob *oob, int family, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!oob || !out || !out_len || (family != 4 && family != 6 && family != 46))
        return CDTLS_ERR_INVALID_ARG;
    if (oob->flags & CDTLS_OOB_TTL) return CDTLS_ERR_OOB_UNSUPPORTED;
    size_t used = 0;
    if (!build(oob, family == 6 ? 6 : 4, out, cap, &used)) return CDTLS_ERR_BUFFER_TOO_SMALL;
    *out_len = used;
    return CDTLS_OK;
}

static INT cmsg_int(const WSACMSGHDR *c)
{
    size_t len = c->cmsg_len - CD_CMSG_LEN(0);
    INT v = 0;
    if (len >= sizeof v)
        memcpy(&v, cd_cmsg_data_const(c), sizeof v);
    else if (len >= 1)
        v = *cd_cmsg_data_const(c);
    return v;
}

int cdtls_io_parse_cmsg(const uint8_t *cmsg, size_t len, cdtls_oob *out)
{
    if ((!cmsg && len) || !out) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    WSAMSG m;
    memset(&m, 0, sizeof m);
    m.Control.buf = (CHAR *)(uintptr_t)cmsg;
    m.Control.len = (ULONG)len;
    for (WSACMSGHDR *c = len ? cd_cmsg_next(&m, NULL) : NULL; c; c = cd_cmsg_next(&m, c)) {
        INT v;
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)) {
            v = cmsg_int(c);
            out->flags |= CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
            out->dscp = (uint8_t)((v >> 2) & 0x3f);
            out->ecn = (uint8_t)(v & 3);
        } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_ECN) ||
                   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_ECN)) {
            out->flags |= CDTLS_OOB_ECN;
            out->ecn = (uint8_t)(cmsg_int(c) & 3);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
                   c->cmsg_len >= CD_CMSG_LEN(sizeof(IN_PKTINFO))) {
            IN_PKTINFO pi;
            memcpy(&pi, cd_cmsg_data_const(c), sizeof pi);
            out->flags |= CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX;
            out->local.family = 4;
            memcpy(out->local.addr, &pi.ipi_addr, 4);
            out->ifindex = pi.ipi_ifindex;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   c->cmsg_len >= CD_CMSG_LEN(sizeof(IN6_PKTINFO))) {
            IN6_PKTINFO pi;
            memcpy(&pi, cd_cmsg_data_const(c), sizeof pi);
            out->flags |= CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX;
            out->local.family = 6;
            memcpy(out->local.addr, &pi.ipi6_addr, 16);
            if (io_is_v4_mapped(out->local.addr)) { /* IPv4 on a dual-stack socket */
                memmove(out->local.addr, out->local.addr + 12, 4);
                memset(out->local.addr + 4, 0, 12);
                out->local.family = 4;
            }
            out->ifindex = pi.ipi6_ifindex;
        } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
            /* the IPv4 TTL comes as IP_TTL although the option that asks
             * for it is IP_HOPLIMIT (21, which as a message type is no
             * IPv4 report) */
            out->flags |= CDTLS_OOB_TTL;
            out->ttl = (uint8_t)cmsg_int(c);
        }
    }
    return CDTLS_OK;
}

/* ------------------------------------------------------- send / receive */

/* The errors an ICMP error reads as on a later call (with SIO_UDP_CONNRESET
 * and SIO_UDP_NETRESET on, as they are by default): port unreachable
 * WSAECONNRESET, TTL expired WSAENETRESET, host / net unreachable. */
static int icmp_error(int e)
{
    return e == WSAECONNRESET || e == WSAENETRESET || e == WSAEHOSTUNREACH || e == WSAENETUNREACH;
}

/* Windows says nothing of where the error came from: a connected socket's
 * peer, else unknown. */
static void note_icmp(cdtls_io_socket *s, int e)
{
    s->icmp_errors++;
    io_event_note(s, CDTLS_IO_EVENT_UNREACHABLE, e, s->connected ? &s->peer : NULL, 0, 0);
}

int cdtls_io_send(cdtls_io_socket *s, const uint8_t *buf, size_t len, const cdtls_addr *to,
                  const cdtls_oob *oob, const uint8_t *raw, size_t raw_len)
{
    if (!s || (SOCKET)s->fd == INVALID_SOCKET || (!buf && len) || (!raw && raw_len) || len > 0xffffffffu)
        return CDTLS_ERR_INVALID_ARG;
    const cdtls_addr *dest;
    int rc = io_send_dest(s, to, &dest);
    if (rc) return rc;
    unsigned need = io_oob_send_caps(oob);
    if ((need & s->caps) != need) return CDTLS_ERR_OOB_UNSUPPORTED;
    struct sockaddr_storage ss;
    int sl = dest ? (int)io_to_sockaddr(dest, s->family, &ss) : 0;
    const cdtls_addr *peer = dest ? dest : &s->peer;
    union {
        WSACMSGHDR align;
        uint8_t bytes[CDTLS_IO_CMSG_SPACE * 2];
    } control;
    size_t used = 0;
    int cfam = s->family == 6 && peer->ip.family == 4 ? 4 : s->family;
    if (!build(oob, cfam, control.bytes, CDTLS_IO_CMSG_SPACE, &used)) return CDTLS_ERR_BUFFER_TOO_SMALL;
    if (raw_len) {
        if (used + raw_len > sizeof control.bytes) return CDTLS_ERR_BUFFER_TOO_SMALL;
        memcpy(control.bytes + used, raw, raw_len);
        used += raw_len;
    }
    WSABUF wb = {(ULONG)len, (CHAR *)(uintptr_t)buf};
    WSAMSG m;
    memset(&m, 0, sizeof m);
    /* connected (cdtls_io_connect): no name, WSASendMsg sends to the peer */
    m.name = dest ? (struct sockaddr *)&ss : NULL;
    m.namelen = sl;
    m.lpBuffers = &wb;
    m.dwBufferCount = 1;
    m.Control.buf = used ? (CHAR *)control.bytes : NULL;
    m.Control.len = (ULONG)used;
    DWORD sent = 0;
    int pending = 0;
    for (;;) {
        s->send_calls++;
        if (WSASendMsg((SOCKET)s->fd, &m, 0, &sent, NULL, NULL) == 0) {
            if (pending) note_icmp(s, pending);
            return CDTLS_OK;
        }
        int e = WSAGetLastError();
        s->last_error = e;
        if (e == WSAEWOULDBLOCK || e == WSAENOBUFS) return CDTLS_ERR_WOULD_BLOCK;
        if (!pending && icmp_error(e)) {
            /* an earlier datagram's ICMP error, reported here instead of
             * sending this one: an event, and this datagram goes */
            pending = e;
            continue;
        }
        if (used && !raw_len && need && (e == WSAEINVAL || e == WSAENOPROTOOPT || e == WSAEOPNOTSUPP)) {
            /* A refused typed message: not sent unmarked, the caller is
             * told. Without a way to try one item alone (Linux's
             * MSG_PROBE), a datagram with one typed item blames that one;
             * with several, all. */
            s->caps &= ~need;
            io_event_note(s, CDTLS_IO_EVENT_OOB_REFUSED, e, dest ? dest : &s->peer, 0, need);
            return CDTLS_ERR_OOB_UNSUPPORTED;
        }
        if (e == WSAEMSGSIZE) {
            io_event_note(s, CDTLS_IO_EVENT_PATH_MTU, e, dest ? dest : &s->peer, 0, 0);
            return CDTLS_ERR_MSG_SIZE;
        }
        if (icmp_error(e) || e == WSAEACCES || e == WSAENETDOWN) {
            s->unreachable_sends++;
            io_event_note(s, CDTLS_IO_EVENT_UNREACHABLE, e, dest ? dest : &s->peer, 0, 0);
            return CDTLS_ERR_UNREACHABLE;
        }
        return CDTLS_ERR_IO;
    }
}

int cdtls_io_recv(cdtls_io_socket *s, uint8_t *buf, size_t cap, size_t *len, cdtls_addr *from, cdtls_oob *oob,
                  uint8_t *raw, size_t raw_cap, size_t *raw_len, int timeout_ms)
{
    if (!s || (SOCKET)s->fd == INVALID_SOCKET || (!buf && cap) || !len || (!raw && raw_cap) ||
        cap > 0xffffffffu)
        return CDTLS_ERR_INVALID_ARG;
    if (timeout_ms >= 0) {
        WSAPOLLFD p = {(SOCKET)s->fd, POLLRDNORM, 0};
        int r = WSAPoll(&p, 1, timeout_ms);
        if (r < 0) {
            s->last_error = WSAGetLastError();
            return CDTLS_ERR_IO;
        }
        if (r == 0) return CDTLS_ERR_TIMEOUT;
    }
    struct sockaddr_storage ss;
    union {
        WSACMSGHDR align;
        uint8_t bytes[CDTLS_IO_CMSG_SPACE * 2];
    } control;
    WSABUF wb = {(ULONG)cap, (CHAR *)buf};
    WSAMSG m;
    memset(&m, 0, sizeof m);
    m.name = (struct sockaddr *)&ss;
    m.namelen = sizeof ss;
    m.lpBuffers = &wb;
    m.dwBufferCount = 1;
    m.Control.buf = (CHAR *)control.bytes;
    m.Control.len = sizeof control.bytes;
    DWORD got = 0;
    LPFN_WSARECVMSG recvmsg_fn = (LPFN_WSARECVMSG)s->os_private;
    s->recv_calls++;
    if (recvmsg_fn((SOCKET)s->fd, &m, &got, NULL, NULL) != 0) {
        int e = WSAGetLastError();
        s->last_error = e;
        if (e == WSAEWOULDBLOCK) return CDTLS_ERR_WOULD_BLOCK;
        if (e == WSAEMSGSIZE) {
            /* the first cap bytes are in buf; what `got` says then is not
             * to be relied on, so the length is stated, not left stale */
            *len = cap;
            return CDTLS_ERR_BUFFER_TOO_SMALL;
        }
        /* an ICMP error about something sent earlier: an event, not a
         * failure of the socket */
        if (icmp_error(e)) {
            note_icmp(s, e);
            return CDTLS_ERR_WOULD_BLOCK;
        }
        return CDTLS_ERR_IO;
    }
    *len = got;
    if (from) io_from_sockaddr(&ss, from);
    size_t clen = (m.dwFlags & MSG_CTRUNC) ? 0 : m.Control.len;
    if (oob) cdtls_io_parse_cmsg(control.bytes, clen, oob);
    if (raw_len) {
        *raw_len = 0;
        if (raw && clen <= raw_cap) {
            memcpy(raw, control.bytes, clen);
            *raw_len = clen;
        }
    }
    return CDTLS_OK;
}

/* No one-call batch on Windows yet (WSASendMsg takes one datagram; RIO
 * would be the way): the capability bits stay clear and batch.c sends and
 * receives one datagram at a time. */
int io_send_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *sent)
{
    (void)s;
    (void)msgs;
    (void)n;
    *sent = 0;
    return CDTLS_ERR_UNSUPPORTED;
}

int io_recv_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms)
{
    (void)s;
    (void)msgs;
    (void)n;
    (void)timeout_ms;
    *received = 0;
    return CDTLS_ERR_UNSUPPORTED;
}

#else
/* On other systems src/io/posix.c is the io module; ISO C wants a
 * declaration in every translation unit. */
typedef int cdtls_io_win32_unused;
#endif /* _WIN32 */
