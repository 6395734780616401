/* Test-side glue: runs a sans-IO cdtls_conn over a real UDP socket on
 * loopback, and starts peer programs (openssl, gnutls) as child processes.
 * This is test code; the library's own socket layer is src/io (issue 5). */
#ifndef CDTLS_TESTS_UDP_DRIVER_H
#define CDTLS_TESTS_UDP_DRIVER_H

#include <sys/socket.h> /* AF_INET: FreeBSD's netinet/in.h does not bring it in */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cdtls/conn.h"

uint64_t udp_now_ms(void);
/* A UDP socket bound to 127.0.0.1:port (0 = any free port); *bound gets the port. */
int udp_open(uint16_t port, uint16_t *bound);
/* Discards every datagram already waiting on fd (a previous peer's last
 * ones), after waiting wait_ms for stragglers. */
void udp_drain(int fd, int wait_ms);
/* A free UDP port on 127.0.0.1 (bind to 0, read, close). */
uint16_t udp_free_port(void);

typedef struct udp_peer {
    int fd;
    struct sockaddr_in peer;
    int have_peer;
} udp_peer;

/* Sends everything the connection has queued to the peer. */
int udp_flush(cdtls_conn *c, udp_peer *u);
/* Waits up to wait_ms for one datagram (or the connection's timer) and feeds
 * it; a server side learns the peer address from the first datagram.
 * Returns 1 if something happened, 0 on plain timeout, <0 on error. */
int udp_step(cdtls_conn *c, udp_peer *u, int wait_ms);
/* Steps until the connection is established or fails, or timeout_ms. */
int udp_handshake(cdtls_conn *c, udp_peer *u, int timeout_ms);
/* Steps until a record can be read into buf, or timeout_ms. */
int udp_read(cdtls_conn *c, udp_peer *u, uint8_t *buf, size_t cap, size_t *len, int timeout_ms);

typedef struct child {
    pid_t pid;
    int stdin_fd;      /* write end of the child's stdin, -1 once closed */
    char out_path[64]; /* the child's stdout+stderr */
    const char *argv0;
} child;

/* Starts argv[0] with a pipe on stdin and output to a temp file. */
int child_start(child *ch, char *const argv[]);
int child_write(child *ch, const char *s);
void child_close_stdin(child *ch);
/* 1 if the child's output contains needle within timeout_ms. */
int child_output_contains(child *ch, const char *needle, int timeout_ms);
/* The signal that killed the child if it died of one (e.g. SIGSEGV), else 0. */
int child_crash_signal(child *ch);
/* Kills and reaps the child, removes its output file; prints the output to
 * stderr first when dump is set (for a failing test). */
void child_stop(child *ch, int dump);

#endif
