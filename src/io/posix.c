/* The io module on POSIX systems: Linux, FreeBSD/NetBSD/OpenBSD, macOS.
 * sendmsg()/recvmsg() with control messages for DSCP/ECN (IP_TOS,
 * IPV6_TCLASS), the local address and interface (IP_PKTINFO /
 * IP_RECVDSTADDR+IP_RECVIF / IP_SENDSRCADDR, IPV6_PKTINFO) and TTL / hop
 * limit. Option names and the size of their data differ per OS; each
 * difference is noted where it is handled. */
#if !defined(_WIN32)

#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* struct in_pktinfo, in6_pktinfo */
#endif
#if defined(__APPLE__) && !defined(__APPLE_USE_RFC_3542)
#define __APPLE_USE_RFC_3542 /* IPV6_RECVPKTINFO and friends on macOS */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

#if defined(__linux__)
#include <linux/errqueue.h> /* struct sock_extended_err: the IP_RECVERR queue */
#endif
#if defined(IP_RECVIF) && !defined(__linux__)
#include <net/if_dl.h> /* struct sockaddr_dl: the IP_RECVIF report */
#endif

/* The BSDs take one byte of TOS in the IP_TOS control message; macOS takes
 * an int; Linux accepts either (ip_cmsg_send: CMSG_LEN(sizeof(int)) or
 * CMSG_LEN(sizeof(u8))). Linux gets the byte: a single byte has no byte
 * order, so the message is right whatever the endianness of the code that
 * built it and of whatever carries it (qemu-user passes IP-level control
 * messages through unconverted, so an int from a big-endian guest reaches
 * a little-endian kernel as 0xb8000000 and is refused). */
#if defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__) || \
    defined(__linux__)
#define CDTLS_TOS_CMSG_BYTE 1
#else
#define CDTLS_TOS_CMSG_BYTE 0
#endif


#if defined(__linux__)
static void gro_enable(cdtls_io_socket *s, unsigned flags);
static int gro_recv_one(cdtls_io_socket *s, uint8_t *buf, size_t cap, size_t *len, cdtls_addr *from,
                        cdtls_oob *oob, uint8_t *raw, size_t raw_cap, size_t *raw_len, int timeout_ms);
#endif

/* The socket layer's clock: monotonic milliseconds. */
uint64_t cdtls_io_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ----------------------------------------------------------- open / close */

/* Sets a boolean socket option; 1 when it is on afterwards (an option
 * turned off reports 0 whatever the kernel said: it is not on). */
static int set_report(int fd, int level, int opt, int want)
{
    int v = want ? 1 : 0;
    return setsockopt(fd, level, opt, &v, sizeof v) == 0 && want;
}

/* Turns the receive-side reports in `want` (CDTLS_IO_RECV_REPORTS bits) on
 * and the others off, and returns the bits of those the kernel turned on.
 * One option gives DSCP and ECN, one the local address and interface:
 * either bit of a pair asks for the option. */
static unsigned set_recv_reports(int fd, int v4, int v6, unsigned want)
{
    const int tos = (want & (CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN)) != 0;
    const int pkt = (want & (CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX)) != 0;
    const int ttl = (want & CDTLS_IO_CAP_RECV_TTL) != 0;
    unsigned caps = 0;
    (void)tos;
    (void)pkt;
    (void)ttl;
    if (v4) {
#if defined(IP_RECVTOS)
        if (set_report(fd, IPPROTO_IP, IP_RECVTOS, tos))
            caps |= CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN;
#endif
#if defined(IP_PKTINFO) && !defined(__APPLE__) && !defined(__FreeBSD__)
        if (set_report(fd, IPPROTO_IP, IP_PKTINFO, pkt))
            caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
#elif defined(IP_RECVPKTINFO)
        if (set_report(fd, IPPROTO_IP, IP_RECVPKTINFO, pkt))
            caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
#elif defined(IP_RECVDSTADDR)
        if (set_report(fd, IPPROTO_IP, IP_RECVDSTADDR, pkt)) caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR;
#if defined(IP_RECVIF)
        /* the BSDs: the arrival interface is a report of its own, a
         * sockaddr_dl whose sdl_index is the interface index */
        if (set_report(fd, IPPROTO_IP, IP_RECVIF, pkt)) caps |= CDTLS_IO_CAP_RECV_IFINDEX;
#endif
#endif
#if defined(IP_RECVTTL)
        if (set_report(fd, IPPROTO_IP, IP_RECVTTL, ttl)) caps |= CDTLS_IO_CAP_RECV_TTL;
#endif
    }
    if (v6) {
#if defined(IPV6_RECVTCLASS)
        if (set_report(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, tos))
            caps |= CDTLS_IO_CAP_RECV_DSCP | CDTLS_IO_CAP_RECV_ECN;
#endif
#if defined(IPV6_RECVPKTINFO)
        if (set_report(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, pkt))
            caps |= CDTLS_IO_CAP_RECV_LOCAL_ADDR | CDTLS_IO_CAP_RECV_IFINDEX;
#endif
#if defined(IPV6_RECVHOPLIMIT)
        if (set_report(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, ttl)) caps |= CDTLS_IO_CAP_RECV_TTL;
#endif
    }
    return caps;
}

/* Don't-fragment on every datagram, so a path narrower than our datagrams
 * says so (ICMP "fragmentation needed" / "packet too big") instead of
 * fragmenting them (RFC 6347 §4.1.1.1, RFC 9147 §4.4), and the ICMP errors
 * of an unconnected socket reported with the address they concern. Linux:
 * IP_PMTUDISC_DO / IPV6_PMTUDISC_DO sets DF and makes a send larger than
 * the MTU the kernel knows for the route fail with EMSGSIZE; IP_RECVERR /
 * IPV6_RECVERR queue every ICMP error (and a local EMSGSIZE, with the
 * MTU) on the socket's error queue, which drain_errors reads. The BSDs and
 * macOS: IP_DONTFRAG / IPV6_DONTFRAG, and no error queue (an ICMP error
 * reaches only a connected socket, as its pending error). Best effort: an
 * option the kernel refuses leaves the socket as it was. */
static void path_mtu_setup(int fd, int v4, int v6)
{
    int on = 1;
    (void)on;
    if (v4) {
#if defined(IP_MTU_DISCOVER) && defined(IP_PMTUDISC_DO)
        int pmtu = IP_PMTUDISC_DO;
        (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
#elif defined(IP_DONTFRAG)
        (void)setsockopt(fd, IPPROTO_IP, IP_DONTFRAG, &on, sizeof on);
#endif
#if defined(IP_RECVERR)
        (void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
#endif
    }
    if (v6) {
#if defined(IPV6_MTU_DISCOVER) && defined(IPV6_PMTUDISC_DO)
        int pmtu = IPV6_PMTUDISC_DO;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof pmtu);
#elif defined(IPV6_DONTFRAG)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
#endif
#if defined(IPV6_RECVERR)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
#endif
    }
}

/* What sendmsg() can carry, by compile-time knowledge of the platform and
 * the address the socket is bound to; a refusal at run time clears the bit
 * it concerns (see refused_caps). The marking claims are then checked by
 * the open-time probe. */
static unsigned send_caps(int family, const cdtls_addr *bound)
{
    (void)bound;
    unsigned caps = CDTLS_IO_CAP_RAW_OOB;
    if (family == 6) {
#if defined(IPV6_TCLASS)
        caps |= CDTLS_IO_CAP_SEND_DSCP | CDTLS_IO_CAP_SEND_ECN;
#endif
#if defined(IPV6_PKTINFO)
        caps |= CDTLS_IO_CAP_SEND_LOCAL_ADDR;
#endif
#if defined(IPV6_HOPLIMIT)
        caps |= CDTLS_IO_CAP_SEND_TTL;
#endif
        return caps;
    }
#if defined(IP_TOS) && !defined(__NetBSD__)
    /* An IP_TOS control message on an IPv4 socket (macOS too: an int, as
     * quinn-udp sends it; NetBSD has no IP_TOS control message on send). */
    caps |= CDTLS_IO_CAP_SEND_DSCP | CDTLS_IO_CAP_SEND_ECN;
#endif
#if defined(IP_PKTINFO) && !defined(__FreeBSD__)
    caps |= CDTLS_IO_CAP_SEND_LOCAL_ADDR;
#elif defined(IP_SENDSRCADDR)
    /* The BSDs refuse IP_SENDSRCADDR (EINVAL) on a socket bound to one
     * address: only the wildcard may choose its source per datagram. */
    static const uint8_t any4[4] = {0, 0, 0, 0};
    if (memcmp(bound->ip.addr, any4, 4) == 0) caps |= CDTLS_IO_CAP_SEND_LOCAL_ADDR;
#endif
#if defined(__linux__)
    caps |= CDTLS_IO_CAP_SEND_TTL; /* IP_TTL as a control message: Linux only */
#endif
    return caps;
}

/* CDTLS_IO_REUSEPORT, before bind: FreeBSD's SO_REUSEPORT alone gives
 * every datagram to the last socket bound; SO_REUSEPORT_LB (FreeBSD 12)
 * spreads them as Linux's SO_REUSEPORT does. */
static int reuseport_setup(int fd)
{
    int on = 1;
#if defined(SO_REUSEPORT_LB)
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT_LB, &on, sizeof on) == 0 ? CDTLS_OK : CDTLS_ERR_IO;
#elif defined(SO_REUSEPORT)
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == 0 ? CDTLS_OK : CDTLS_ERR_IO;
#else
    (void)fd;
    (void)on;
    return CDTLS_ERR_UNSUPPORTED;
#endif
}

int cdtls_io_open(cdtls_io_socket *s, const cdtls_addr *bind_addr, unsigned flags)
{
    if (!s || !bind_addr || (bind_addr->ip.family != 4 && bind_addr->ip.family != 6))
        return CDTLS_ERR_INVALID_ARG;
    memset(s, 0, sizeof *s);
    s->fd = -1;
    int family = bind_addr->ip.family;
    int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        s->last_error = errno;
        return CDTLS_ERR_IO;
    }
    int dual = family == 6 && (flags & CDTLS_IO_DUAL_STACK);
    if (family == 6) {
        int v6only = dual ? 0 : 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (flags & CDTLS_IO_REUSEPORT) {
        int rc = reuseport_setup(fd);
        if (rc) {
            s->last_error = errno;
            close(fd);
            return rc;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)io_to_sockaddr(bind_addr, family, &ss);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        s->last_error = errno;
        close(fd);
        return CDTLS_ERR_IO;
    }
    if (flags & CDTLS_IO_NONBLOCK) {
        int fl = fcntl(fd, F_GETFL, 0);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            s->last_error = errno;
            close(fd);
            return CDTLS_ERR_IO;
        }
    }
    s->fd = fd;
    s->family = family;
    s->dual_stack = dual;
    path_mtu_setup(fd, family == 4 || dual, family == 6);
    /* On a dual-stack socket the IPv4 options apply to the IPv4 traffic
     * (Linux honours them on AF_INET6 sockets). */
    s->caps = set_recv_reports(fd, family == 4 || dual, family == 6, CDTLS_IO_RECV_REPORTS) |
              send_caps(family, bind_addr);
#if defined(__APPLE__)
    {
        /* macOS: a datagram with control messages whose size is at or just
         * under SO_SNDBUF fails with EWOULDBLOCK however long one waits
         * (Apple feedback FB23671230, worked around by quinn-udp the same
         * way): a send buffer of at least the largest datagram plus its
         * control messages */
        int sndbuf = 0;
        socklen_t sl2 = sizeof sndbuf;
        const int floor = 65535 + (int)CDTLS_IO_CMSG_SPACE * 2;
        if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl2) == 0 && sndbuf < floor)
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &floor, sizeof floor);
    }
#endif
    if (!(flags & CDTLS_IO_NO_PROBE)) s->caps = io_probe_send_marks(family, dual, s->caps);
    s->recv_reports_ok = s->caps & CDTLS_IO_RECV_REPORTS;
#if defined(__linux__)
    s->caps |= CDTLS_IO_CAP_SEND_BATCH | CDTLS_IO_CAP_RECV_BATCH; /* sendmmsg / recvmmsg */
    {
        /* UDP GSO: a kernel that has it answers this option (Linux 4.18) */
        int seg = 0;
        socklen_t seg_len = sizeof seg;
        if (getsockopt(fd, IPPROTO_UDP, 103 /* UDP_SEGMENT */, &seg, &seg_len) == 0)
            s->caps |= CDTLS_IO_CAP_SEND_GSO;
        if (!(flags & CDTLS_IO_NO_PROBE)) s->caps = io_probe_send_gso(family, s->caps);
    }
    if (flags & CDTLS_IO_GRO) gro_enable(s, flags);
#endif
    return CDTLS_OK;
}

int cdtls_io_set_recv_reports(cdtls_io_socket *s, unsigned mask)
{
    if (!s || s->fd < 0 || (mask & ~(unsigned)CDTLS_IO_RECV_REPORTS)) return CDTLS_ERR_INVALID_ARG;
    unsigned got = set_recv_reports(s->fd, s->family == 4 || s->dual_stack, s->family == 6, mask);
    s->caps = (s->caps & ~(unsigned)CDTLS_IO_RECV_REPORTS) | (got & s->recv_reports_ok);
    return CDTLS_OK;
}

int cdtls_io_connect(cdtls_io_socket *s, const cdtls_addr *peer)
{
    if (!s || s->fd < 0 || !peer || (peer->ip.family != 4 && peer->ip.family != 6))
        return CDTLS_ERR_INVALID_ARG;
    if (peer->ip.family == 4 && s->family == 6 && !s->dual_stack) return CDTLS_ERR_INVALID_ARG;
    if (peer->ip.family == 6 && s->family == 4) return CDTLS_ERR_INVALID_ARG;
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)io_to_sockaddr(peer, s->family, &ss);
    int r;
    do {
        r = connect(s->fd, (struct sockaddr *)&ss, sl);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
        s->last_error = errno;
        return CDTLS_ERR_IO;
    }
    s->connected = 1;
    s->peer = *peer;
    return CDTLS_OK;
}

/* ------------------------------------------------------ network faults */

static const struct cmsghdr *cmsg_next(const uint8_t *base, size_t len, const struct cmsghdr *c);
static const uint8_t *cmsg_data(const struct cmsghdr *c);

/* The errors an ICMP error reads as when the kernel reports it later, as
 * the socket's pending error, on whatever call comes next (Linux
 * icmp_err_convert / icmpv6_err_convert; the BSDs' inetctlerrmap): port
 * unreachable ECONNREFUSED; host unreachable, host or communication
 * prohibited, time exceeded EHOSTUNREACH; net unreachable ENETUNREACH;
 * protocol unreachable ENOPROTOOPT; source route failed EOPNOTSUPP;
 * fragmentation needed / packet too big EMSGSIZE; parameter problem
 * EPROTO; IPv6 administratively prohibited EACCES. */
static int errno_may_be_icmp(int e)
{
    switch (e) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
    case EMSGSIZE:
    case EPROTO:
    case EACCES:
#if defined(ENONET)
    case ENONET:
#endif
        return 1;
    default: return 0;
    }
}

/* A send error that is about this destination, now (a route, a firewall,
 * an ICMP error): the datagram is lost, the socket is fine. */
static int errno_unreachable(int e)
{
    switch (e) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENOPROTOOPT:
    case EPROTO:
    case EACCES:
    case EPERM:
    case ENETDOWN:
#if defined(ENONET)
    case ENONET:
#endif
        return 1;
    default: return 0;
    }
}

#if defined(__linux__) && defined(IP_RECVERR)
/* One entry of the error queue into an event: an ICMP error (or a local
 * EMSGSIZE) for the datagram sent to `to`. */
static void errqueue_event(cdtls_io_socket *s, const struct sock_extended_err *ee, const cdtls_addr *to)
{
    cdtls_io_event ev;
    memset(&ev, 0, sizeof ev);
    ev.os_error = (int)ee->ee_errno;
    ev.addr = *to;
    ev.icmp_type = ee->ee_type;
    ev.icmp_code = ee->ee_code;
    int icmp = ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6;
    if (icmp) s->icmp_errors++;
    if (ee->ee_errno == EMSGSIZE) {
        /* fragmentation needed (ICMP 3/4), packet too big (ICMPv6 2), or
         * a local send over the MTU the route has: ee_info is the MTU */
        ev.kind = CDTLS_IO_EVENT_PATH_MTU;
        ev.mtu = ee->ee_info;
    } else {
        ev.kind = CDTLS_IO_EVENT_UNREACHABLE;
    }
    io_event_push(s, &ev);
}
#endif

/* Takes what the kernel holds about errors of the socket's traffic: every
 * entry of Linux's error queue (bounded: the queue is charged to the
 * receive buffer, so it is emptied, not left to fill), then the pending
 * error (SO_ERROR, which reading clears; without an error queue the only
 * report there is, its destination the connected peer). Each becomes an
 * event. A pending error hit by a send or receive (`seen`, 0 if none) is
 * the same report: it counts only when the queue said nothing. Returns how
 * many events it added. */
static int drain_errors(cdtls_io_socket *s, int seen)
{
    int queued = 0;
#if defined(__linux__) && defined(IP_RECVERR)
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        union {
            struct cmsghdr align;
            uint8_t bytes[512];
        } control;
        uint8_t head[1];
        struct iovec iov = {head, sizeof head};
        struct msghdr m;
        memset(&m, 0, sizeof m);
        memset(&ss, 0, sizeof ss);
        m.msg_name = &ss;
        m.msg_namelen = sizeof ss;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control.bytes;
        m.msg_controllen = sizeof control.bytes;
        if (recvmsg(s->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
        cdtls_addr to;
        memset(&to, 0, sizeof to);
        if (m.msg_namelen > 0 && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
            io_from_sockaddr(&ss, &to);
        else if (s->connected)
            to = s->peer;
        size_t clen = (m.msg_flags & MSG_CTRUNC) ? 0 : (size_t)m.msg_controllen;
        for (const struct cmsghdr *c = cmsg_next(control.bytes, clen, NULL); c;
             c = cmsg_next(control.bytes, clen, c)) {
            if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
                struct sock_extended_err ee;
                if (c->cmsg_len < CMSG_LEN(sizeof ee)) continue;
                memcpy(&ee, cmsg_data(c), sizeof ee);
                errqueue_event(s, &ee, &to);
                queued++;
            }
        }
    }
#endif
    int pending = 0;
    socklen_t pl = sizeof pending;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &pending, &pl) != 0) pending = 0;
    if (!pending) pending = seen;
    if (pending && !queued) {
        s->icmp_errors++;
        io_event_note(s, pending == EMSGSIZE ? CDTLS_IO_EVENT_PATH_MTU : CDTLS_IO_EVENT_UNREACHABLE, pending,
                      s->connected ? &s->peer : NULL, 0, 0);
        queued++;
    }
    return queued;
}

/* An error of a receive: nothing to read, or an ICMP error the kernel
 * reports instead of a datagram. That one is no failure of the socket (it
 * concerns something sent earlier, to someone): it becomes an event and
 * reads as "nothing came", so neither a listener nor a connected client
 * dies of a peer's unreachable port, host or network (RFC 6347 §4.1.2.7:
 * the handshake timer decides). */
static int recv_errno_rc(cdtls_io_socket *s, int e)
{
    if (e == EAGAIN || e == EWOULDBLOCK) return CDTLS_ERR_WOULD_BLOCK;
    if (errno_may_be_icmp(e)) {
        drain_errors(s, e);
        return CDTLS_ERR_WOULD_BLOCK;
    }
    return CDTLS_ERR_IO;
}

void cdtls_io_close(cdtls_io_socket *s)
{
    if (s && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s && s->gro) {
        s->gro->a->free(s->gro->a->ctx, s->gro, sizeof *s->gro);
        s->gro = NULL;
    }
}

int cdtls_io_local_addr(const cdtls_io_socket *s, cdtls_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!s || !out) return CDTLS_ERR_INVALID_ARG;
    if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0) return CDTLS_ERR_IO;
    io_from_sockaddr(&ss, out);
    return CDTLS_OK;
}

unsigned cdtls_io_caps(const cdtls_io_socket *s)
{
    return s ? s->caps : 0;
}

/* --------------------------------------------------- typed OOB <-> cmsg */

/* Appends one control message; 0 if it does not fit. */
static int put_cmsg(struct msghdr *m, size_t *used, size_t cap, int level, int type, const void *data,
                    size_t len)
{
    if (*used + CMSG_SPACE(len) > cap) return 0;
    struct cmsghdr *c = (struct cmsghdr *)((uint8_t *)m->msg_control + *used);
    memset(c, 0, CMSG_SPACE(len));
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    *used += CMSG_SPACE(len);
    return 1;
}

/* family 4: IPv4 socket; 6: IPv6 socket; 46: IPv4 traffic on a dual-stack
 * IPv6 socket, where Linux processes the IPv4 (SOL_IP) messages. */
static int build_cmsgs(const cdtls_oob *oob, int family, struct msghdr *m, size_t cap, size_t *used)
{
    int ok = 1;
    if (!oob) return 1;
    int tos_set = (oob->flags & (CDTLS_OOB_DSCP | CDTLS_OOB_ECN)) != 0;
    int tos = ((oob->flags & CDTLS_OOB_DSCP) ? (oob->dscp & 0x3f) << 2 : 0) |
              ((oob->flags & CDTLS_OOB_ECN) ? (oob->ecn & 3) : 0);
    if (family == 6) {
#if defined(IPV6_TCLASS)
        if (tos_set) ok &= put_cmsg(m, used, cap, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
#endif
#if defined(IPV6_PKTINFO)
        if (oob->flags & (CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX)) {
            struct in6_pktinfo pi;
            memset(&pi, 0, sizeof pi);
            if ((oob->flags & CDTLS_OOB_LOCAL_ADDR) && oob->local.family == 6)
                memcpy(&pi.ipi6_addr, oob->local.addr, 16);
            if (oob->flags & CDTLS_OOB_IFINDEX) pi.ipi6_ifindex = oob->ifindex;
            ok &= put_cmsg(m, used, cap, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
        }
#endif
#if defined(IPV6_HOPLIMIT)
        if (oob->flags & CDTLS_OOB_TTL) {
            int hl = oob->ttl;
            ok &= put_cmsg(m, used, cap, IPPROTO_IPV6, IPV6_HOPLIMIT, &hl, sizeof hl);
        }
#endif
        return ok;
    }
    (void)family;
#if defined(IP_TOS)
    if (tos_set) {
#if CDTLS_TOS_CMSG_BYTE
        uint8_t b = (uint8_t)tos;
        ok &= put_cmsg(m, used, cap, IPPROTO_IP, IP_TOS, &b, sizeof b);
#else
        ok &= put_cmsg(m, used, cap, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
#endif
    }
#endif
    if (oob->flags & (CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX)) {
#if defined(IP_PKTINFO) && !defined(__FreeBSD__)
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        if ((oob->flags & CDTLS_OOB_LOCAL_ADDR) && oob->local.family == 4)
            memcpy(&pi.ipi_spec_dst, oob->local.addr, 4);
        if (oob->flags & CDTLS_OOB_IFINDEX) pi.ipi_ifindex = (int)oob->ifindex;
        ok &= put_cmsg(m, used, cap, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
#elif defined(IP_SENDSRCADDR)
        if ((oob->flags & CDTLS_OOB_LOCAL_ADDR) && oob->local.family == 4) {
            struct in_addr a;
            memcpy(&a, oob->local.addr, 4);
            ok &= put_cmsg(m, used, cap, IPPROTO_IP, IP_SENDSRCADDR, &a, sizeof a);
        }
#endif
    }
#if defined(__linux__) && defined(IP_TTL)
    if (oob->flags & CDTLS_OOB_TTL) {
        int t = oob->ttl;
        ok &= put_cmsg(m, used, cap, IPPROTO_IP, IP_TTL, &t, sizeof t);
    }
#endif
    return ok;
}

int cdtls_io_build_cmsg(const cdtls_oob *oob, int family, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!oob || !out || !out_len || (family != 4 && family != 6 && family != 46))
        return CDTLS_ERR_INVALID_ARG;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_control = out;
    size_t used = 0;
    if (!build_cmsgs(oob, family == 6 ? 6 : 4, &m, cap, &used)) return CDTLS_ERR_BUFFER_TOO_SMALL;
    *out_len = used;
    return CDTLS_OK;
}

static void set_tos(cdtls_oob *o, int tos)
{
    o->flags |= CDTLS_OOB_DSCP | CDTLS_OOB_ECN;
    o->dscp = (uint8_t)((tos >> 2) & 0x3f);
    o->ecn = (uint8_t)(tos & 3);
}

/* A bounds-checked walk over control messages (the bytes may come from the
 * caller, so no libc macro is trusted with them). CMSG_SPACE(n) -
 * CMSG_SPACE(0) is the platform's CMSG_ALIGN(n), which POSIX does not name. */
static size_t cmsg_align(size_t n)
{
    return CMSG_SPACE(n) - CMSG_SPACE(0);
}

static const struct cmsghdr *cmsg_next(const uint8_t *base, size_t len, const struct cmsghdr *c)
{
    size_t off = c ? (size_t)((const uint8_t *)c - base) + cmsg_align(c->cmsg_len) : 0;
    if (off > len || len - off < sizeof(struct cmsghdr)) return NULL;
    const struct cmsghdr *n = (const struct cmsghdr *)(const void *)(base + off);
    if (n->cmsg_len < CMSG_LEN(0) || n->cmsg_len > len - off) return NULL;
    return n;
}

/* CMSG_DATA for a const header: the data starts CMSG_LEN(0) bytes in. */
static const uint8_t *cmsg_data(const struct cmsghdr *c)
{
    return (const uint8_t *)c + CMSG_LEN(0);
}

/* Reads an int or a byte, whichever size the kernel sent (they differ per
 * OS and per option). */
static int cmsg_int(const struct cmsghdr *c)
{
    size_t len = c->cmsg_len - CMSG_LEN(0);
    if (len >= sizeof(int)) {
        int v;
        memcpy(&v, cmsg_data(c), sizeof v);
        return v;
    }
    return len >= 1 ? *cmsg_data(c) : 0;
}

int cdtls_io_parse_cmsg(const uint8_t *cmsg, size_t len, cdtls_oob *out)
{
    if ((!cmsg && len) || !out) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    for (const struct cmsghdr *c = cmsg_next(cmsg, len, NULL); c; c = cmsg_next(cmsg, len, c)) {
        size_t dlen = c->cmsg_len - CMSG_LEN(0);
        if (c->cmsg_level == IPPROTO_IP) {
            switch (c->cmsg_type) {
#if defined(IP_TOS)
            case IP_TOS: /* Linux reports the received TOS with type IP_TOS */
#endif
#if defined(IP_RECVTOS) && defined(IP_TOS) && (IP_RECVTOS != IP_TOS)
            case IP_RECVTOS: /* the BSDs and macOS use IP_RECVTOS */
#endif
                if (dlen >= 1) set_tos(out, cmsg_int(c));
                break;
#if defined(IP_PKTINFO)
            case IP_PKTINFO:
                if (dlen >= sizeof(struct in_pktinfo)) {
                    struct in_pktinfo pi;
                    memcpy(&pi, cmsg_data(c), sizeof pi);
                    out->flags |= CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX;
                    out->local.family = 4;
                    memcpy(out->local.addr, &pi.ipi_addr, 4);
                    out->ifindex = (uint32_t)pi.ipi_ifindex;
                }
                break;
#endif
#if defined(IP_RECVIF) && !defined(__linux__)
            case IP_RECVIF: /* a struct sockaddr_dl (the BSDs) */
                if (dlen >= offsetof(struct sockaddr_dl, sdl_index) + sizeof(unsigned short)) {
                    struct sockaddr_dl dl;
                    memset(&dl, 0, sizeof dl);
                    memcpy(&dl, cmsg_data(c), dlen < sizeof dl ? dlen : sizeof dl);
                    out->flags |= CDTLS_OOB_IFINDEX;
                    out->ifindex = dl.sdl_index;
                }
                break;
#endif
#if defined(IP_RECVDSTADDR) && (!defined(IP_PKTINFO) || IP_RECVDSTADDR != IP_PKTINFO)
            case IP_RECVDSTADDR:
                if (dlen >= 4) {
                    out->flags |= CDTLS_OOB_LOCAL_ADDR;
                    out->local.family = 4;
                    memcpy(out->local.addr, cmsg_data(c), 4);
                }
                break;
#endif
#if defined(IP_TTL)
            case IP_TTL: /* Linux */
#endif
#if defined(IP_RECVTTL) && defined(IP_TTL) && (IP_RECVTTL != IP_TTL)
            case IP_RECVTTL: /* BSD/macOS, one byte */
#endif
                if (dlen >= 1) {
                    out->flags |= CDTLS_OOB_TTL;
                    out->ttl = (uint8_t)cmsg_int(c);
                }
                break;
            default: break;
            }
        } else if (c->cmsg_level == IPPROTO_IPV6) {
            switch (c->cmsg_type) {
#if defined(IPV6_TCLASS)
            case IPV6_TCLASS:
                if (dlen >= 1) set_tos(out, cmsg_int(c));
                break;
#endif
#if defined(IPV6_PKTINFO)
            case IPV6_PKTINFO:
                if (dlen >= sizeof(struct in6_pktinfo)) {
                    struct in6_pktinfo pi;
                    memcpy(&pi, cmsg_data(c), sizeof pi);
                    out->flags |= CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX;
                    out->local.family = 6;
                    memcpy(out->local.addr, &pi.ipi6_addr, 16);
                    if (io_is_v4_mapped(out->local.addr)) {
                        memmove(out->local.addr, out->local.addr + 12, 4);
                        memset(out->local.addr + 4, 0, 12);
                        out->local.family = 4;
                    }
                    out->ifindex = pi.ipi6_ifindex;
                }
                break;
#endif
#if defined(IPV6_HOPLIMIT)
            case IPV6_HOPLIMIT:
                if (dlen >= 1) {
                    out->flags |= CDTLS_OOB_TTL;
                    out->ttl = (uint8_t)cmsg_int(c);
                }
                break;
#endif
            default: break;
            }
        }
    }
    return CDTLS_OK;
}

/* ---------------------------------------------------------------- send */

/* Room for one datagram's control messages: typed ones, then raw bytes. */
typedef union io_control {
    /* aligned as struct cmsghdr needs (size_t on Linux, long on the BSDs);
     * not the struct itself, which glibc gives a flexible array member, so
     * it could not be an array element in a batch */
    size_t align_size;
    long align_long;
    uint8_t bytes[CDTLS_IO_CMSG_SPACE * 2];
} io_control;

#if defined(__linux__)
/* One recvmmsg slot: a datagram into buf (cap bytes), its source into ss,
 * its control messages into control. */
static void recv_hdr_init(struct mmsghdr *mh, struct iovec *iov, uint8_t *buf, size_t cap,
                          struct sockaddr_storage *ss, io_control *control)
{
    iov->iov_base = buf;
    iov->iov_len = cap;
    memset(mh, 0, sizeof *mh);
    mh->msg_hdr.msg_name = ss;
    mh->msg_hdr.msg_namelen = sizeof *ss;
    mh->msg_hdr.msg_iov = iov;
    mh->msg_hdr.msg_iovlen = 1;
    mh->msg_hdr.msg_control = control->bytes;
    mh->msg_hdr.msg_controllen = sizeof control->bytes;
}
#endif

/* The family of the control messages a datagram to dest takes: IPv4
 * traffic over a dual-stack socket takes the IPv4 messages. */
static int cmsg_family(const cdtls_io_socket *s, const cdtls_addr *dest)
{
    const cdtls_addr *peer = dest ? dest : &s->peer;
    return s->family == 6 && peer->ip.family == 4 ? 4 : s->family;
}

/* Checks one datagram and fills *m (pointing at *iov, *ss and *control)
 * for sendmsg; *need gets the typed-OOB capabilities it uses. Shared by
 * the single send and the batch, so both refuse and build the same way. */
static int prepare_send(const cdtls_io_socket *s, const uint8_t *buf, size_t len, const cdtls_addr *to,
                        const cdtls_oob *oob, const uint8_t *raw, size_t raw_len, struct msghdr *m,
                        struct iovec *iov, struct sockaddr_storage *ss, io_control *control, unsigned *need)
{
    if ((!buf && len) || (!raw && raw_len)) return CDTLS_ERR_INVALID_ARG;
    const cdtls_addr *dest;
    int rc = io_send_dest(s, to, &dest);
    if (rc) return rc;
    *need = io_oob_send_caps(oob);
    if ((*need & s->caps) != *need) return CDTLS_ERR_OOB_UNSUPPORTED;
    iov->iov_base = (void *)(uintptr_t)buf;
    iov->iov_len = len;
    memset(m, 0, sizeof *m);
    if (dest) {
        m->msg_name = ss;
        m->msg_namelen = (socklen_t)io_to_sockaddr(dest, s->family, ss);
    } /* connected: no msg_name, the socket's own route (cdtls_io_connect) */
    m->msg_iov = iov;
    m->msg_iovlen = 1;
    m->msg_control = control->bytes;
    size_t used = 0;
    if (!build_cmsgs(oob, cmsg_family(s, dest), m, CDTLS_IO_CMSG_SPACE, &used))
        return CDTLS_ERR_BUFFER_TOO_SMALL;
    if (raw_len) {
        if (used + raw_len > sizeof control->bytes) return CDTLS_ERR_BUFFER_TOO_SMALL;
        memcpy(control->bytes + used, raw, raw_len); /* passed through unchanged */
        used += raw_len;
    }
    m->msg_control = used ? control->bytes : NULL;
    m->msg_controllen = used;
    return CDTLS_OK;
}

/* The typed OOB items of `oob` the kernel refuses on a send like *m (same
 * destination): each item alone in a sendmsg with MSG_PROBE and no data,
 * which Linux checks as a send (control messages, route) and then sends
 * nothing. Only evidence about the option itself clears a capability: if
 * the datagram fails as well without any control message, or every item
 * passes alone, nothing is blamed (0). Without MSG_PROBE (the BSDs, macOS)
 * the one item of a datagram that carried one is blamed; of several, all
 * (they cannot be told apart without sending). */
#if defined(__linux__)
/* Linux's MSG_PROBE (include/linux/socket.h: "do not send, only probe
 * path"), which the C libraries do not name (glibc calls 0x10 MSG_PROXY,
 * a flag Linux never implemented); udp_sendmsg and udpv6_sendmsg check the
 * control messages and the route, then return 0 for a probe of 0 bytes. */
#define IO_MSG_PROBE 0x10
#endif

static unsigned refused_caps(cdtls_io_socket *s, const struct msghdr *m, const cdtls_oob *oob, int cfam)
{
    unsigned need = io_oob_send_caps(oob);
#if defined(IO_MSG_PROBE)
    static const uint16_t items[] = {CDTLS_OOB_DSCP, CDTLS_OOB_ECN, CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX,
                                     CDTLS_OOB_TTL};
    struct msghdr p = *m;
    struct iovec none = {NULL, 0};
    io_control control;
    p.msg_iov = &none;
    p.msg_iovlen = 1;
    p.msg_control = NULL;
    p.msg_controllen = 0;
    if (sendmsg(s->fd, &p, IO_MSG_PROBE) < 0) return 0; /* the destination, not the OOB */
    unsigned refused = 0;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (!(oob->flags & items[i])) continue;
        cdtls_oob one = *oob;
        one.flags = (uint16_t)(oob->flags & items[i]);
        size_t used = 0;
        p.msg_control = control.bytes;
        if (!build_cmsgs(&one, cfam, &p, sizeof control.bytes, &used)) continue;
        p.msg_controllen = used;
        if (sendmsg(s->fd, &p, IO_MSG_PROBE) < 0 &&
            (errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP))
            refused |= io_oob_send_caps(&one);
    }
    (void)need;
    return refused;
#else
    (void)s;
    (void)m;
    (void)cfam;
    return need;
#endif
}

/* What a datagram sent to `dest` (NULL: the connected peer) concerns. */
static const cdtls_addr *dest_or_peer(const cdtls_io_socket *s, const cdtls_addr *dest)
{
    return dest ? dest : (s->connected ? &s->peer : NULL);
}

/* Sends one datagram built by prepare_send. e is 0, or the error a send
 * that carried this datagram (a sendmmsg entry, a GSO run) already met:
 * nothing of it went. A possible ICMP error is tried once more, because
 * the kernel reports an earlier datagram's ICMP error (the socket's
 * pending error: sock_error() in the send path) instead of sending this
 * one, and clears it: the second try sends, and the report becomes an
 * event. Refused typed OOB: see refused_caps; the datagram is not sent
 * unmarked. Everything else is this datagram's error, *os_error its code. */
static int send_one(cdtls_io_socket *s, struct msghdr *m, const cdtls_oob *oob, size_t raw_len, int cfam,
                    const cdtls_addr *dest, int e, int *os_error)
{
    int pending = 0;
    *os_error = 0;
    for (;;) {
        if (e == 0) {
            s->send_calls++;
            if (sendmsg(s->fd, m, 0) >= 0) {
                if (pending) drain_errors(s, pending);
                return CDTLS_OK;
            }
            e = errno;
            if (e == EINTR) {
                e = 0;
                continue;
            }
        }
        s->last_error = e;
        *os_error = e;
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) return CDTLS_ERR_WOULD_BLOCK;
        if (!pending && errno_may_be_icmp(e)) {
            pending = e;
            e = 0;
            continue;
        }
        break;
    }
    if (oob && io_oob_send_caps(oob) && !raw_len && (e == EINVAL || e == ENOPROTOOPT || e == EOPNOTSUPP)) {
        unsigned refused = refused_caps(s, m, oob, cfam);
        if (refused) {
            s->caps &= ~refused;
            io_event_note(s, CDTLS_IO_EVENT_OOB_REFUSED, e, dest_or_peer(s, dest), 0, refused);
            return CDTLS_ERR_OOB_UNSUPPORTED;
        }
    }
    if (e == EMSGSIZE) {
        /* over the path MTU the kernel knows (DF is set): the error queue
         * says which MTU; a kernel without one gets an event without it */
        const cdtls_addr *to = dest_or_peer(s, dest);
        uint64_t before = s->event_seq;
        drain_errors(s, 0);
        if (s->event_seq == before ||
            s->events[(s->event_seq - 1) % CDTLS_IO_EVENTS].kind != CDTLS_IO_EVENT_PATH_MTU)
            io_event_note(s, CDTLS_IO_EVENT_PATH_MTU, e, to, 0, 0);
        /* Linux's local IPv4 report names the socket's connected port, 0
         * on an unconnected one: this send's destination is the one meant */
        for (uint64_t q = before + 1; to && q <= s->event_seq && s->event_seq - q < CDTLS_IO_EVENTS; q++) {
            cdtls_io_event *ev = &s->events[(q - 1) % CDTLS_IO_EVENTS];
            if (ev->kind == CDTLS_IO_EVENT_PATH_MTU && ev->addr.port == 0 &&
                ev->addr.ip.family == to->ip.family &&
                memcmp(ev->addr.ip.addr, to->ip.addr, to->ip.family == 6 ? 16 : 4) == 0)
                ev->addr.port = to->port;
        }
        return CDTLS_ERR_MSG_SIZE;
    }
    if (errno_unreachable(e)) {
        s->unreachable_sends++;
        drain_errors(s, 0);
        io_event_note(s, CDTLS_IO_EVENT_UNREACHABLE, e, dest_or_peer(s, dest), 0, 0);
        return CDTLS_ERR_UNREACHABLE;
    }
    return CDTLS_ERR_IO;
}

int cdtls_io_send(cdtls_io_socket *s, const uint8_t *buf, size_t len, const cdtls_addr *to,
                  const cdtls_oob *oob, const uint8_t *raw, size_t raw_len)
{
    if (!s || s->fd < 0) return CDTLS_ERR_INVALID_ARG;
    struct sockaddr_storage ss;
    io_control control;
    struct iovec iov;
    struct msghdr m;
    unsigned need = 0;
    int rc = prepare_send(s, buf, len, to, oob, raw, raw_len, &m, &iov, &ss, &control, &need);
    if (rc) return rc;
    const cdtls_addr *dest = NULL;
    (void)io_send_dest(s, to, &dest); /* prepare_send checked it */
    int os_error;
    return send_one(s, &m, oob, raw_len, cmsg_family(s, dest), dest, 0, &os_error);
}

/* ---------------------------------------------------------------- recv */

/* Waits until a datagram can be read: CDTLS_OK, CDTLS_ERR_TIMEOUT, or
 * CDTLS_ERR_IO with s->last_error set. poll reports POLLERR while an ICMP
 * error is pending or queued: those become events (drain_errors) and the
 * wait goes on for what is left of timeout_ms, so an ICMP error neither
 * ends a wait nor makes it spin. Should POLLERR stay after a drain (an
 * error the drain cannot take), the receive is let through to meet it. */
static int wait_readable(cdtls_io_socket *s, int timeout_ms)
{
    uint64_t deadline = cdtls_io_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int wait = timeout_ms;
        if (timeout_ms > 0) {
            uint64_t now = cdtls_io_now_ms();
            wait = now >= deadline ? 0 : (int)(deadline - now);
        }
        int r;
        do {
            r = poll(&p, 1, wait);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            s->last_error = errno;
            return CDTLS_ERR_IO;
        }
        if (r == 0) return CDTLS_ERR_TIMEOUT;
        if ((p.revents & POLLIN) || !(p.revents & POLLERR)) return CDTLS_OK;
        if (!drain_errors(s, 0)) return CDTLS_OK;
        if (wait == 0 || (timeout_ms > 0 && cdtls_io_now_ms() >= deadline)) return CDTLS_ERR_TIMEOUT;
    }
}

int cdtls_io_recv(cdtls_io_socket *s, uint8_t *buf, size_t cap, size_t *len, cdtls_addr *from, cdtls_oob *oob,
                  uint8_t *raw, size_t raw_cap, size_t *raw_len, int timeout_ms)
{
    if (!s || s->fd < 0 || (!buf && cap) || !len || (!raw && raw_cap)) return CDTLS_ERR_INVALID_ARG;
#if defined(__linux__)
    /* a read may be coalesced: the GRO path cuts it apart */
    if (s->gro) return gro_recv_one(s, buf, cap, len, from, oob, raw, raw_cap, raw_len, timeout_ms);
#endif
    if (timeout_ms >= 0) {
        int rc = wait_readable(s, timeout_ms);
        if (rc) return rc;
    }
    struct sockaddr_storage ss;
    union {
        struct cmsghdr align;
        uint8_t bytes[CDTLS_IO_CMSG_SPACE * 2];
    } control;
    struct iovec iov = {buf, cap};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &ss;
    m.msg_namelen = sizeof ss;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control.bytes;
    m.msg_controllen = sizeof control.bytes;
    ssize_t n;
    do {
        s->recv_calls++;
        n = recvmsg(s->fd, &m, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        s->last_error = errno;
        return recv_errno_rc(s, errno);
    }
    *len = (size_t)n;
    if (m.msg_flags & MSG_TRUNC) return CDTLS_ERR_BUFFER_TOO_SMALL;
    if (from) io_from_sockaddr(&ss, from);
    size_t clen = (m.msg_flags & MSG_CTRUNC) ? 0 : (size_t)m.msg_controllen;
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

/* --------------------------------------------------------------- batches */

#if defined(__linux__)
/* sendmmsg/recvmmsg (Linux 3.0, glibc 2.14, musl): one system call per
 * chunk. The chunk bounds the stack the call takes (control room for each
 * datagram: 32 x 512 bytes), small enough for 128 KiB thread stacks. */
#define IO_BATCH_CHUNK 32u

/* UDP GSO (Linux 4.18): one sendmsg whose iovecs hold several datagrams of
 * one size (the last may be shorter) to one address, with a UDP_SEGMENT
 * control message giving that size; the kernel sends them as separate
 * datagrams, taking one trip down the stack. Used inside a batch for runs
 * of datagrams that carry the same typed OOB, or none: the control
 * messages of a GSO send apply to the whole run (every segment leaves with
 * the IP header of the first), so a run may share a marking only when
 * every datagram in it asked for exactly that marking. Datagrams with raw
 * control bytes always go alone (their meaning is the caller's). */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define IO_GSO_MAX_SEGS 64u                /* the kernel's UDP_MAX_SEGMENTS */
#define IO_GSO_MAX_BYTES 65000u            /* below the largest UDP payload */
#define IO_BATCH_IOV (2u * IO_BATCH_CHUNK) /* iovecs per chunk, GSO runs included */

/* Whether two datagrams of a batch go to the same place: on a connected
 * socket every one goes to the peer (io_send_dest refuses the others). */
static int same_dest(const cdtls_io_socket *s, const cdtls_addr *a, const cdtls_addr *b)
{
    return s->connected || io_same_addr(a, b);
}

/* Whether two typed OOB ask for the same control messages (fields without
 * their flag do not count). */
static int same_oob(const cdtls_oob *a, const cdtls_oob *b)
{
    if (a->flags != b->flags) return 0;
    if ((a->flags & CDTLS_OOB_DSCP) && a->dscp != b->dscp) return 0;
    if ((a->flags & CDTLS_OOB_ECN) && a->ecn != b->ecn) return 0;
    if ((a->flags & CDTLS_OOB_TTL) && a->ttl != b->ttl) return 0;
    if ((a->flags & CDTLS_OOB_IFINDEX) && a->ifindex != b->ifindex) return 0;
    if ((a->flags & CDTLS_OOB_LOCAL_ADDR) &&
        (a->local.family != b->local.family ||
         memcmp(a->local.addr, b->local.addr, a->local.family == 6 ? 16 : 4) != 0))
        return 0;
    return 1;
}

/* How many datagrams from msgs[0] can go as one GSO send (1 = none). */
static size_t gso_run(const cdtls_io_socket *s, const cdtls_io_msg *msgs, size_t n, size_t max_iov)
{
    if (!(s->caps & CDTLS_IO_CAP_SEND_GSO) || n < 2) return 1;
    const cdtls_io_msg *first = &msgs[0];
    if (first->raw_len || first->len == 0) return 1;
    size_t k = 1, bytes = first->len;
    while (k < n && k < IO_GSO_MAX_SEGS && k < max_iov) {
        const cdtls_io_msg *m = &msgs[k];
        if (!same_oob(&m->oob, &first->oob) || m->raw_len || m->len == 0 || m->len > first->len ||
            !same_dest(s, &m->addr, &first->addr) || bytes + m->len > IO_GSO_MAX_BYTES)
            break;
        bytes += m->len;
        k++;
        if (m->len < first->len) break; /* only the last segment may be short */
    }
    return k;
}

/* One datagram of a batch on its own (send_one), its outcome into its
 * status. e: the error a send carrying it already met (0: none). */
static int send_msg_alone(cdtls_io_socket *s, cdtls_io_msg *m, int e)
{
    struct sockaddr_storage ss;
    io_control control;
    struct iovec iov;
    struct msghdr h;
    unsigned need;
    const cdtls_oob *oob = m->oob.flags ? &m->oob : NULL;
    m->os_error = 0;
    m->status = prepare_send(s, m->buf, m->len, &m->addr, oob, m->raw, m->raw_len, &h, &iov, &ss, &control,
                             &need);
    if (m->status) return m->status;
    const cdtls_addr *dest = NULL;
    (void)io_send_dest(s, &m->addr, &dest);
    m->status = send_one(s, &h, oob, m->raw_len, cmsg_family(s, dest), dest, e, &m->os_error);
    return m->status;
}

/* A GSO run the kernel refused whole (msgs[0..run), error e): its
 * datagrams go one by one. Only EIO (a device that cannot segment) or
 * EINVAL (no UDP_SEGMENT here) can be GSO's doing, and only if the first
 * datagram then goes alone is it: GSO is turned off on that evidence and
 * no other (an unreachable destination fails the same alone, and GSO
 * stays). Any other error may be a pending ICMP error the run's send
 * reported and cleared: the first datagram's own send is its retry. */
static void send_run_alone(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t run, int e)
{
    int gso_suspect = e == EIO || e == EINVAL;
    for (size_t i = 0; i < run; i++) {
        int rc = send_msg_alone(s, &msgs[i], i == 0 && !gso_suspect ? e : 0);
        if (i == 0 && gso_suspect && rc == CDTLS_OK) s->caps &= ~(unsigned)CDTLS_IO_CAP_SEND_GSO;
        if (rc == CDTLS_ERR_WOULD_BLOCK) return;
    }
}

int io_send_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *sent)
{
    struct mmsghdr mh[IO_BATCH_CHUNK];
    struct iovec iov[IO_BATCH_IOV];
    struct sockaddr_storage ss[IO_BATCH_CHUNK];
    io_control control[IO_BATCH_CHUNK];
    size_t count[IO_BATCH_CHUNK]; /* datagrams in each entry (> 1: a GSO run) */
    cdtls_io_msg *out = msgs;
    size_t done = 0;
    int first = CDTLS_OK; /* the status of the first datagram that did not go */
    while (done < n) {
        size_t k = 0, queued = 0, used_iov = 0;
        while (k < IO_BATCH_CHUNK && done + queued < n && used_iov < IO_BATCH_IOV) {
            const cdtls_io_msg *m = &msgs[done + queued];
            unsigned need;
            size_t run = gso_run(s, m, n - done - queued, IO_BATCH_IOV - used_iov);
            int rc = prepare_send(s, m->buf, m->len, &m->addr, m->oob.flags ? &m->oob : NULL, m->raw,
                                  m->raw_len, &mh[k].msg_hdr, &iov[used_iov], &ss[k], &control[k], &need);
            if (rc) {
                if (k > 0) break;      /* the chunk goes first; the next one starts here */
                out[done].status = rc; /* refused before the kernel: this one only */
                out[done].os_error = 0;
                if (!first) first = rc;
                done++;
                continue;
            }
            if (run > 1) {
                for (size_t i = 1; i < run; i++) {
                    iov[used_iov + i].iov_base = (void *)(uintptr_t)m[i].buf;
                    iov[used_iov + i].iov_len = m[i].len;
                }
                mh[k].msg_hdr.msg_iovlen = run;
                /* the segment size, after the run's typed OOB (that of its
                 * first datagram, which all of them share) */
                struct msghdr *h = &mh[k].msg_hdr;
                h->msg_control = control[k].bytes;
                size_t cused = h->msg_controllen;
                uint16_t seg = (uint16_t)m->len;
                (void)put_cmsg(h, &cused, sizeof control[k].bytes, IPPROTO_UDP, UDP_SEGMENT, &seg,
                               sizeof seg);
                h->msg_controllen = cused;
            }
            mh[k].msg_len = 0;
            count[k] = run;
            used_iov += run;
            queued += run;
            k++;
        }
        if (k == 0) continue;
        s->send_calls++;
        int r = sendmmsg(s->fd, mh, (unsigned)k, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == ENOSYS) {
            s->last_error = errno;
            s->caps &= ~(unsigned)CDTLS_IO_CAP_SEND_BATCH;
            *sent = done;
            return CDTLS_ERR_UNSUPPORTED;
        }
        if (r == 0) { /* nothing taken, no error: a full buffer */
            r = -1;
            errno = EAGAIN;
        }
        size_t i = 0;
        for (; r > 0 && i < (size_t)r; i++) {
            for (size_t j = 0; j < count[i]; j++) out[done + j].status = out[done + j].os_error = 0;
            done += count[i];
        }
        if (i == k) continue;
        /* msgs[done] (entry i, count[i] datagrams) failed with errno, the
         * later entries of the chunk were not tried; nothing of entry i
         * went. It goes again alone, with what the error means. */
        int e = errno;
        if (r > 0) e = 0; /* a short count: the kernel keeps the error for the next call */
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
            s->last_error = e;
            out[done].status = CDTLS_ERR_WOULD_BLOCK;
            out[done].os_error = e;
            *sent = done;
            return CDTLS_ERR_WOULD_BLOCK;
        }
        if (count[i] > 1)
            send_run_alone(s, &msgs[done], count[i], e);
        else
            (void)send_msg_alone(s, &msgs[done], e);
        for (size_t j = 0; j < count[i]; j++) {
            int st = msgs[done].status;
            if (st == CDTLS_ERR_WOULD_BLOCK) {
                *sent = done;
                return st;
            }
            if (st && !first) first = st;
            done++;
        }
    }
    *sent = done;
    return first;
}

int io_recv_native_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms)
{
    if (s->fd < 0) return CDTLS_ERR_INVALID_ARG;
    if (timeout_ms >= 0) {
        int rc = wait_readable(s, timeout_ms);
        if (rc) return rc;
    }
    struct mmsghdr mh[IO_BATCH_CHUNK];
    struct iovec iov[IO_BATCH_CHUNK];
    struct sockaddr_storage ss[IO_BATCH_CHUNK];
    io_control control[IO_BATCH_CHUNK];
    size_t got = 0;
    while (got < n) {
        size_t k = n - got < IO_BATCH_CHUNK ? n - got : IO_BATCH_CHUNK;
        for (size_t i = 0; i < k; i++)
            recv_hdr_init(&mh[i], &iov[i], msgs[got + i].buf, msgs[got + i].cap, &ss[i], &control[i]);
        /* The first chunk may block (a blocking socket with no timeout);
         * MSG_WAITFORONE returns as soon as one datagram is in, and later
         * chunks only take what is already queued. */
        s->recv_calls++;
        int r = recvmmsg(s->fd, mh, (unsigned)k, got == 0 ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (got > 0) break; /* nothing more queued: the batch is what we have */
            s->last_error = errno;
            if (errno == ENOSYS) {
                s->caps &= ~(unsigned)CDTLS_IO_CAP_RECV_BATCH;
                return CDTLS_ERR_UNSUPPORTED;
            }
            return recv_errno_rc(s, errno);
        }
        for (size_t i = 0; i < (size_t)r; i++) {
            cdtls_io_msg *m = &msgs[got + i];
            const struct msghdr *h = &mh[i].msg_hdr;
            m->len = mh[i].msg_len;
            m->truncated = (h->msg_flags & MSG_TRUNC) != 0;
            io_from_sockaddr(&ss[i], &m->addr);
            /* each datagram's own control messages: OOB stays per datagram */
            size_t clen = (h->msg_flags & MSG_CTRUNC) ? 0 : (size_t)h->msg_controllen;
            cdtls_io_parse_cmsg(control[i].bytes, clen, &m->oob);
            m->raw_len = 0;
            if (m->raw && clen <= m->raw_cap) {
                memcpy(m->raw, control[i].bytes, clen);
                m->raw_len = clen;
            }
        }
        got += (size_t)r;
        if ((size_t)r < k) break; /* the queue is empty */
    }
    *received = got;
    return CDTLS_OK;
}

/* ------------------------------------------------------------ UDP GRO */

#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h; glibc's netinet/udp.h has it from 2.31 */
#endif

static int gro_set(int fd, int value)
{
    return setsockopt(fd, IPPROTO_UDP, UDP_GRO, &value, sizeof value) == 0;
}

/* CDTLS_IO_GRO at open. The probe runs before the option is set on this
 * socket: turning GRO off later would leave coalesced datagrams that
 * arrived meanwhile in its queue, where nothing would cut them apart. */
static void gro_enable(cdtls_io_socket *s, unsigned flags)
{
    if (!(flags & CDTLS_IO_NO_PROBE) && !io_probe_gro(s->family)) return;
    const cdtls_allocator *a = cdtls_allocator_libc();
    struct cdtls_io_gro *g = a->alloc(a->ctx, sizeof *g);
    if (!g) return;
    if (!gro_set(s->fd, 1)) { /* a kernel before 5.0, or an emulator */
        a->free(a->ctx, g, sizeof *g);
        return;
    }
    g->a = a;
    g->next = g->count = 0;
    g->more = 0;
    s->gro = g;
    s->caps |= CDTLS_IO_CAP_RECV_GRO;
}

/* The control messages of one read: the segment size of its UDP_GRO
 * message (0 if none), and all the others into r->raw, parsed into r->oob.
 * With MSG_CTRUNC the report is incomplete and, as for any read, no OOB is
 * reported; the segment size still counts, the kernel putting UDP_GRO
 * first (udp_recvmsg), so a coalesced read is never handed out whole. */
size_t io_gro_control(const uint8_t *control, size_t clen, int ctrunc, io_gro_read *r)
{
    size_t seg = 0;
    r->raw_len = 0;
    for (const struct cmsghdr *c = cmsg_next(control, clen, NULL); c; c = cmsg_next(control, clen, c)) {
        if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
            int v = cmsg_int(c);
            if (v > 0) seg = (size_t)v;
            continue;
        }
        if (ctrunc) continue;
        size_t off = (size_t)((const uint8_t *)c - control);
        size_t span = cmsg_align(c->cmsg_len);
        if (span > clen - off) span = clen - off; /* the last one may be unpadded */
        if (r->raw_len + span > sizeof r->raw) break;
        memcpy(r->raw + r->raw_len, c, span);
        r->raw_len += span;
    }
    cdtls_io_parse_cmsg(r->raw, r->raw_len, &r->oob);
    return seg;
}

/* Reads from the kernel into the GRO buffers: one recvmmsg for up to
 * IO_GRO_READS reads (one recvmsg without CDTLS_IO_CAP_RECV_BATCH). Only
 * when no datagram of the last fill is left. dontwait: take only what is
 * queued; else MSG_WAITFORONE (the caller has polled, or blocks). */
static int gro_fill(cdtls_io_socket *s, int dontwait)
{
    struct cdtls_io_gro *g = s->gro;
    struct mmsghdr mh[IO_GRO_READS];
    struct iovec iov[IO_GRO_READS];
    struct sockaddr_storage ss[IO_GRO_READS];
    io_control control[IO_GRO_READS];
    unsigned k = (s->caps & CDTLS_IO_CAP_RECV_BATCH) ? IO_GRO_READS : 1u;
    for (unsigned i = 0; i < k; i++)
        recv_hdr_init(&mh[i], &iov[i], g->bufs[i], sizeof g->bufs[i], &ss[i], &control[i]);
    int r;
    for (;;) {
        s->recv_calls++;
        if (k > 1) {
            r = recvmmsg(s->fd, mh, k, dontwait ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
        } else {
            ssize_t n = recvmsg(s->fd, &mh[0].msg_hdr, dontwait ? MSG_DONTWAIT : 0);
            if (n >= 0) mh[0].msg_len = (unsigned)n;
            r = n >= 0 ? 1 : -1;
        }
        if (r >= 0 || errno != EINTR) {
            if (r < 0 && errno == ENOSYS && k > 1) { /* an emulator without recvmmsg */
                s->caps &= ~(unsigned)CDTLS_IO_CAP_RECV_BATCH;
                k = 1;
                continue;
            }
            break;
        }
    }
    if (r < 0) {
        s->last_error = errno;
        return recv_errno_rc(s, errno);
    }
    for (int i = 0; i < r; i++) {
        const struct msghdr *h = &mh[i].msg_hdr;
        io_gro_read *rd = &g->r[i];
        size_t clen = h->msg_controllen > sizeof control[i].bytes ? sizeof control[i].bytes
                                                                  : (size_t)h->msg_controllen;
        size_t seg = io_gro_control(control[i].bytes, clen, (h->msg_flags & MSG_CTRUNC) != 0, rd);
        io_gro_read_init(rd, g->bufs[i], mh[i].msg_len, seg, (h->msg_flags & MSG_TRUNC) != 0);
        io_from_sockaddr(&ss[i], &rd->from);
        if (rd->left > 1) s->gro_datagrams += rd->left;
    }
    g->next = 0;
    g->count = (size_t)r;
    g->more = (unsigned)r == k;
    return CDTLS_OK;
}

/* The next datagram the socket holds into m; 0 if none is left. */
static int gro_take(struct cdtls_io_gro *g, cdtls_io_msg *m)
{
    for (; g->next < g->count; g->next++)
        if (io_gro_take(&g->r[g->next], m)) return 1;
    return 0;
}

/* cdtls_io_recv with GRO on: a held datagram first, without waiting; else
 * one fill, whose first datagram is returned and the rest held. */
static int gro_recv_one(cdtls_io_socket *s, uint8_t *buf, size_t cap, size_t *len, cdtls_addr *from,
                        cdtls_oob *oob, uint8_t *raw, size_t raw_cap, size_t *raw_len, int timeout_ms)
{
    if (!io_gro_pending(s->gro)) {
        if (timeout_ms >= 0) {
            int rc = wait_readable(s, timeout_ms);
            if (rc) return rc;
        }
        int rc = gro_fill(s, 0);
        if (rc) return rc;
    }
    cdtls_io_msg m;
    memset(&m, 0, sizeof m);
    m.buf = buf;
    m.cap = cap;
    m.raw = raw;
    m.raw_cap = raw_cap;
    (void)gro_take(s->gro, &m); /* a fill that succeeded holds a datagram */
    *len = m.len;
    if (from) *from = m.addr;
    if (oob) *oob = m.oob;
    if (raw_len) *raw_len = m.raw_len;
    return m.truncated ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

int io_recv_gro_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms)
{
    if (s->fd < 0) return CDTLS_ERR_INVALID_ARG;
    struct cdtls_io_gro *g = s->gro;
    if (!io_gro_pending(g)) {
        if (timeout_ms >= 0) {
            int rc = wait_readable(s, timeout_ms);
            if (rc) return rc;
        }
        int rc = gro_fill(s, 0);
        if (rc) return rc;
    }
    size_t k = 0;
    for (;;) {
        while (k < n && gro_take(g, &msgs[k])) k++;
        /* All handed out and room left: read again if the last fill used
         * every buffer (more may be queued); a read that finds nothing
         * ends the batch. What does not fit stays for the next call. */
        if (k == n || !g->more || gro_fill(s, 1) != CDTLS_OK) break;
    }
    *received = k;
    return CDTLS_OK;
}

#else
/* No one-call batches here (macOS has no sendmmsg; the BSDs' are not used
 * yet): the capability bits stay clear and batch.c sends one by one. */
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
#endif

#else
/* On Windows src/io/win32.c is the io module. */
typedef int cdtls_io_posix_unused;
#endif /* !_WIN32 */
