/* Address conversions shared by the io backends (POSIX and Windows use the
 * same sockaddr_in / sockaddr_in6 layouts), and the OOB → capability map. */
#if defined(_WIN32)
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <stdio.h>
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

int io_is_v4_mapped(const uint8_t *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

size_t io_to_sockaddr(const cdtls_addr *a, int sock_family, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (sock_family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        s6->sin6_scope_id = a->scope_id;
        if (a->ip.family == 4) { /* IPv4-mapped on a dual-stack socket */
            s6->sin6_addr.s6_addr[10] = 0xff;
            s6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(&s6->sin6_addr.s6_addr[12], a->ip.addr, 4);
        } else {
            memcpy(&s6->sin6_addr, a->ip.addr, 16);
        }
        return sizeof *s6;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a->port);
    memcpy(&s4->sin_addr, a->ip.addr, 4);
    return sizeof *s4;
}

/* IPv4-mapped IPv6 addresses are reported as IPv4: the peer is an IPv4 host. */
void io_from_sockaddr(const struct sockaddr_storage *ss, cdtls_addr *a)
{
    memset(a, 0, sizeof *a);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        a->port = ntohs(s6->sin6_port);
        if (io_is_v4_mapped(s6->sin6_addr.s6_addr)) {
            a->ip.family = 4;
            memcpy(a->ip.addr, &s6->sin6_addr.s6_addr[12], 4);
        } else {
            a->ip.family = 6;
            memcpy(a->ip.addr, &s6->sin6_addr, 16);
            a->scope_id = s6->sin6_scope_id;
        }
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->ip.family = 4;
        a->port = ntohs(s4->sin_port);
        memcpy(a->ip.addr, &s4->sin_addr, 4);
    }
}

int cdtls_addr_parse(const char *text, uint16_t port, cdtls_addr *out)
{
    if (!text || !out) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->port = port;
    if (inet_pton(AF_INET, text, out->ip.addr) == 1) {
        out->ip.family = 4;
        return CDTLS_OK;
    }
    if (inet_pton(AF_INET6, text, out->ip.addr) == 1) {
        out->ip.family = 6;
        if (io_is_v4_mapped(out->ip.addr)) {
            memmove(out->ip.addr, out->ip.addr + 12, 4);
            memset(out->ip.addr + 4, 0, 12);
            out->ip.family = 4;
        }
        return CDTLS_OK;
    }
    return CDTLS_ERR_INVALID_ARG;
}

int cdtls_addr_format(const cdtls_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (!a || !buf) return CDTLS_ERR_INVALID_ARG;
    if (!inet_ntop(a->ip.family == 6 ? AF_INET6 : AF_INET, (const void *)a->ip.addr, ip, sizeof ip))
        return CDTLS_ERR_INVALID_ARG;
    int n = a->ip.family == 6 ? snprintf(buf, cap, "[%s]:%u", ip, a->port)
                              : snprintf(buf, cap, "%s:%u", ip, a->port);
    return n > 0 && (size_t)n < cap ? CDTLS_OK : CDTLS_ERR_BUFFER_TOO_SMALL;
}

unsigned io_oob_send_caps(const cdtls_oob *oob)
{
    unsigned need = 0;
    if (!oob) return 0;
    if (oob->flags & CDTLS_OOB_DSCP) need |= CDTLS_IO_CAP_SEND_DSCP;
    if (oob->flags & CDTLS_OOB_ECN) need |= CDTLS_IO_CAP_SEND_ECN;
    if (oob->flags & (CDTLS_OOB_LOCAL_ADDR | CDTLS_OOB_IFINDEX)) need |= CDTLS_IO_CAP_SEND_LOCAL_ADDR;
    if (oob->flags & CDTLS_OOB_TTL) need |= CDTLS_IO_CAP_SEND_TTL;
    return need;
}

int io_same_addr(const cdtls_addr *a, const cdtls_addr *b)
{
    return a->ip.family == b->ip.family && a->port == b->port && a->scope_id == b->scope_id &&
           memcmp(a->ip.addr, b->ip.addr, a->ip.family == 6 ? 16 : 4) == 0;
}

int io_send_dest(const cdtls_io_socket *s, const cdtls_addr *to, const cdtls_addr **dest)
{
    if (s->connected) {
        /* no destination on the wire: the kernel's connected route. Another
         * address is refused everywhere, since the BSDs and macOS fail such
         * a send (EISCONN) and Linux would send it past the connection. */
        if (to && to->ip.family != 0 && !io_same_addr(to, &s->peer)) return CDTLS_ERR_INVALID_ARG;
        *dest = NULL;
        return CDTLS_OK;
    }
    if (!to) return CDTLS_ERR_INVALID_ARG;
    if (to->ip.family == 4 && s->family == 6 && !s->dual_stack) return CDTLS_ERR_INVALID_ARG;
    if (to->ip.family == 6 && s->family == 4) return CDTLS_ERR_INVALID_ARG;
    if (to->ip.family != 4 && to->ip.family != 6) return CDTLS_ERR_INVALID_ARG;
    *dest = to;
    return CDTLS_OK;
}
