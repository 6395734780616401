/* The io module on Windows: WSASendMsg / WSARecvMsg (the latter fetched
 * through WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER), as Microsoft
 * requires) with WSACMSGHDR control messages.
 *
 * Windows differences, reported through the capability bits rather than
 * faked:
 *  - ECN is sent with an IP_ECN / IPV6_ECN control message (Windows 10
 *    2004 and later); DSCP cannot be set per datagram through sendmsg
 *    (Windows ignores IP_TOS unless the qWAVE/QoS2 API is used), so
 *    CDTLS_IO_CAP_SEND_DSCP is not claimed.
 *  - The received TOS / traffic class (DSCP + ECN) comes with IP_RECVTOS /
 *    IPV6_RECVTCLASS (Windows 10 1903 and later); older systems refuse the
 *    option and the receive bits stay clear.
 *  - Local address and interface: IP_PKTINFO / IPV6_PKTINFO; received TTL
 *    and hop limit: IP_HOPLIMIT / IPV6_HOPLIMIT. */
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
static unsigned set_recv_reports(SOCKET fd, int v4, int v6, unsigned want)
{
    const int tos = (want & (CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN)) != 0;
    const int pkt = (want & (CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX)) != 0;
    const int ttl = (want & CDTLS_IO_CAP_RECV_TTL) != 0;
    unsigned caps = 0;
    if (v4) {
        if (set_report(fd, IPPROTO_IP, IP_RECVTOS, tos)) caps |= CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN;
        if (set_report(fd, IPPROTO_IP, IP_PKTINFO, pkt)) caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
        if (set_report(fd, IPPROTO_IP, IP_HOPLIMIT, ttl)) caps |= CDTLS_IO_CAP_RECV_TTL;
    }
    if (v6) {
        if (set_report(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, tos)) caps |= CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN;
        if (set_report(fd, IPPROTO_IPV6, IPV6_PKTINFO, pkt)) caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
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
        WSAIoctl(fd, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &recvmsg_fn,
                 sizeof recvmsg_fn, &got, NULL, NULL) != 0 ||
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
    unsigned caps = CDTLS_IO_CAP_RAW_OOB | set_recv_reports(fd, family == 4 || dual, family == 6, CDTLS_IO_RECV_REPORTS);
    /* send: ECN via IP_ECN/IPV6_ECN, source address via *_PKTINFO; no DSCP */
    caps |= CDTLS_IO_CAP_SEND_ECN | CDTLS_IO_CAP_SEND_LOCAL_ADDR;
    s->fd = (cdtls_socket_handle)fd;
    s->family = family;
    s->dual_stack = dual;
    s->caps = caps;
    s->os_private = (void *)recvmsg_fn;
    if (!(flags & CDTLS_IO_NO_PROBE)) s->caps = io_probe_send_marks(family, s->caps);
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

static int put_cmsg(uint8_t *buf, size_t *used, size_t cap, int level, int type, const void *data,
                    size_t len)
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

static int build(const cdtls_oob *oob, int family, uint8_t *buf, size_t cap, size_t *used)
{
    int ok = 1;
    if (!oob) return 1;
    if (oob->flags & CDTLS_OOB_ECN) {
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

int cdtls_io_build_cmsg(const cdtls_oob *oob, int family, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    if (!oob || !out || !out_len || (family != 4 && family != 6 && family != 46))
        return CDTLS_ERR_INVALID_ARG;
    if (oob->flags & (CDTLS_OOB_DSCP | CDTLS_OOB_TTL)) return CDTLS_ERR_OOB_UNSUPPORTED;
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
            out->ifindex = pi.ipi6_ifindex;
        } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_HOPLIMIT) ||
                   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
            out->flags |= CDTLS_OOB_TTL;
            out->ttl = (uint8_t)cmsg_int(c);
        }
    }
    return CDTLS_OK;
}

/* ------------------------------------------------------- send / receive */

int cdtls_io_send(cdtls_io_socket *s, const uint8_t *buf, size_t len, const cdtls_addr *to,
                  const cdtls_oob *oob, const uint8_t *raw, size_t raw_len)
{
    if (!s || (SOCKET)s->fd == INVALID_SOCKET || (!buf && len) || (!raw && raw_len) ||
        len > 0xffffffffu)
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
    int refused = 0;
    for (;;) {
        s->send_calls++;
        if (WSASendMsg((SOCKET)s->fd, &m, 0, &sent, NULL, NULL) == 0) return CDTLS_OK;
        int e = WSAGetLastError();
        s->last_error = e;
        if (e == WSAEWOULDBLOCK) return CDTLS_ERR_WOULD_BLOCK;
        if (e == WSAECONNRESET && !refused++) continue; /* an earlier datagram's ICMP error, reported here */
        if (used && !raw_len && (e == WSAEINVAL || e == WSAENOPROTOOPT || e == WSAEOPNOTSUPP)) {
            /* a refused typed message: send without it, stop claiming it */
            s->caps &= ~need;
            m.Control.buf = NULL;
            m.Control.len = 0;
            used = 0;
            continue;
        }
        return CDTLS_ERR_IO;
    }
}

int cdtls_io_recv(cdtls_io_socket *s, uint8_t *buf, size_t cap, size_t *len, cdtls_addr *from,
                  cdtls_oob *oob, uint8_t *raw, size_t raw_cap, size_t *raw_len, int timeout_ms)
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
        if (e == WSAEMSGSIZE) return CDTLS_ERR_BUFFER_TOO_SMALL;
        /* ICMP port unreachable surfaces as WSAECONNRESET on UDP: not fatal */
        return e == WSAECONNRESET ? CDTLS_ERR_WOULD_BLOCK : CDTLS_ERR_IO;
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
int io_send_native_batch(cdtls_io_socket *s, const cdtls_io_msg *msgs, size_t n, size_t *sent)
{
    (void)s;
    (void)msgs;
    (void)n;
    *sent = 0;
    return CDTLS_ERR_UNSUPPORTED;
}

int io_recv_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received,
                         int timeout_ms)
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
