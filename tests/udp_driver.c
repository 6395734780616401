#define _POSIX_C_SOURCE 200809L
#include "udp_driver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t udp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int udp_open(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(0x7f000001u); /* 127.0.0.1 (INADDR_LOOPBACK is not POSIX) */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    if (bound) *bound = ntohs(a.sin_port);
    return fd;
}

uint16_t udp_free_port(void)
{
    uint16_t p = 0;
    int fd = udp_open(0, &p);
    if (fd >= 0) close(fd);
    return p;
}

int udp_flush(cdtls_conn *c, udp_peer *u)
{
    uint8_t buf[2048];
    size_t n;
    while (cdtls_conn_next_datagram(c, buf, sizeof buf, &n, NULL) == CDTLS_OK) {
        if (!u->have_peer) continue;
        if (sendto(u->fd, buf, n, 0, (struct sockaddr *)&u->peer, sizeof u->peer) < 0) return -1;
    }
    return 0;
}

int udp_step(cdtls_conn *c, udp_peer *u, int wait_ms)
{
    uint64_t now = udp_now_ms();
    uint64_t t = cdtls_conn_timeout(c);
    if (t != UINT64_MAX) {
        int until = t > now ? (int)(t - now) : 0;
        if (until < wait_ms) wait_ms = until;
    }
    struct pollfd pfd = {u->fd, POLLIN, 0};
    int r = poll(&pfd, 1, wait_ms);
    if (r < 0) return errno == EINTR ? 0 : -1;
    now = udp_now_ms();
    int did = 0;
    if (r > 0) {
        uint8_t buf[65536];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(u->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n >= 0) {
            if (!u->have_peer) {
                u->peer = from;
                u->have_peer = 1;
                (void)cdtls_conn_set_peer_address(c, &from, sizeof from);
            }
            (void)cdtls_conn_recv(c, buf, (size_t)n, NULL, now);
            did = 1;
        }
    }
    if (cdtls_conn_timeout(c) <= now) {
        (void)cdtls_conn_on_timeout(c, now);
        did = 1;
    }
    if (udp_flush(c, u) < 0) return -1;
    return did;
}

int udp_handshake(cdtls_conn *c, udp_peer *u, int timeout_ms)
{
    uint64_t end = udp_now_ms() + (uint64_t)timeout_ms;
    if (udp_flush(c, u) < 0) return -1;
    while (udp_now_ms() < end) {
        cdtls_conn_state st = cdtls_conn_get_state(c);
        if (st == CDTLS_STATE_ESTABLISHED) return 1;
        if (st == CDTLS_STATE_FAILED || st == CDTLS_STATE_CLOSED) return 0;
        if (udp_step(c, u, 50) < 0) return -1;
    }
    return 0;
}

int udp_read(cdtls_conn *c, udp_peer *u, uint8_t *buf, size_t cap, size_t *len, int timeout_ms)
{
    uint64_t end = udp_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int rc = cdtls_conn_read(c, buf, cap, len, NULL);
        if (rc != CDTLS_ERR_WOULD_BLOCK) return rc;
        if (udp_now_ms() >= end) return CDTLS_ERR_TIMEOUT;
        if (udp_step(c, u, 50) < 0) return CDTLS_ERR_IO;
    }
}

int child_start(child *ch, char *const argv[])
{
    int in[2];
    memset(ch, 0, sizeof *ch);
    ch->stdin_fd = -1;
    snprintf(ch->out_path, sizeof ch->out_path, "/tmp/cdtls-peer-XXXXXX");
    int out = mkstemp(ch->out_path);
    if (out < 0) return -1;
    if (pipe(in) != 0) {
        close(out);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out, 1);
        dup2(out, 2);
        close(in[0]);
        close(in[1]);
        close(out);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out);
    ch->pid = pid;
    ch->stdin_fd = in[1];
    ch->argv0 = argv[0];
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int child_write(child *ch, const char *s)
{
    size_t n = strlen(s);
    return ch->stdin_fd >= 0 && write(ch->stdin_fd, s, n) == (ssize_t)n ? 0 : -1;
}

void child_close_stdin(child *ch)
{
    if (ch->stdin_fd >= 0) close(ch->stdin_fd);
    ch->stdin_fd = -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

int child_output_contains(child *ch, const char *needle, int timeout_ms)
{
    uint64_t end = udp_now_ms() + (uint64_t)timeout_ms;
    do {
        char *s = slurp(ch->out_path);
        int found = s && strstr(s, needle) != NULL;
        free(s);
        if (found) return 1;
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    } while (udp_now_ms() < end);
    return 0;
}

int child_crash_signal(child *ch)
{
    int status = 0;
    if (ch->pid <= 0) return 0;
    pid_t r = waitpid(ch->pid, &status, WNOHANG);
    if (r != ch->pid) return 0;
    ch->pid = 0; /* reaped */
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

void child_stop(child *ch, int dump)
{
    child_close_stdin(ch);
    if (ch->pid > 0) {
        kill(ch->pid, SIGTERM);
        waitpid(ch->pid, NULL, 0);
        ch->pid = 0;
    }
    if (dump) {
        char *s = slurp(ch->out_path);
        if (s) fprintf(stderr, "---- peer output ----\n%s\n---------------------\n", s);
        free(s);
    }
    unlink(ch->out_path);
}

void udp_drain(int fd, int wait_ms)
{
    uint8_t junk[2048];
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, wait_ms) > 0 && (p.revents & POLLIN)) {
        if (recv(fd, junk, sizeof junk, 0) < 0) break;
        wait_ms = 0;
    }
}
