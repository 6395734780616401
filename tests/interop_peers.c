#define _POSIX_C_SOURCE 200809L
#include "interop_peers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *peer_path(const char *peer, const char *sub)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/.peers/%s/%s", CDTLS_SOURCE_DIR, peer, sub);
    return p;
}

const char *peer_program(const char *peer, const char *prog)
{
    char sub[128];
    snprintf(sub, sizeof sub, "bin/%s", prog);
    const char *path = peer_path(peer, sub);
    if (access(path, X_OK) == 0) return path;
    char skip[512], why[400] = "";
    snprintf(skip, sizeof skip, "%s/.peers/%s.skip", CDTLS_SOURCE_DIR, peer);
    FILE *f = fopen(skip, "r");
    if (f) {
        if (!fgets(why, sizeof why, f)) why[0] = 0;
        fclose(f);
        why[strcspn(why, "\n")] = 0;
    }
    if (why[0]) cr_skip_test("%s peer not built: %s", peer, why);
    cr_skip_test("%s peer not built (no %s: run scripts/build-peers.sh %s)", peer, path, peer);
    return NULL;
}

int peer_udp_bound(uint16_t port, int wait_ms)
{
    char want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    for (int waited = 0; waited <= wait_ms; waited += 50) {
        FILE *f = fopen("/proc/net/udp", "r");
        if (!f) return 0;
        char line[512], local[64];
        int found = 0;
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, " %*d: %63s", local) == 1 && strcmp(local, want) == 0;
        fclose(f);
        if (found) return 1;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* 1 if process pid has the socket with this inode open. */
static int socket_of(pid_t pid, unsigned long inode)
{
    char dir[64], want[48], path[340], link[64];
    snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) link[n] = 0, found = strcmp(link, want) == 0;
    }
    closedir(d);
    return found;
}

/* The inode of a UDP socket of process pid bound to 127.0.0.1:port, other
 * than the one with inode not (0: any), waiting up to wait_ms; 0 if none.
 * The peer's own socket: between its two sockets the port is free, and a
 * test running beside this one may take it (udp_free_port). */
unsigned long peer_udp_socket_inode(pid_t pid, uint16_t port, unsigned long not, int wait_ms)
{
    char want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    for (int waited = 0; waited <= wait_ms; waited += 20) {
        FILE *f = fopen("/proc/net/udp", "r");
        if (!f) return 0;
        char line[512], local[64];
        unsigned long inode = 0, found = 0;
        while (!found && fgets(line, sizeof line, f))
            if (sscanf(line, " %*d: %63s %*s %*s %*s %*s %*s %*s %*s %lu", local, &inode) == 2 &&
                strcmp(local, want) == 0 && inode != not &&inode != 0 && socket_of(pid, inode))
                found = inode;
        fclose(f);
        if (found) return found;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

#ifdef CDTLS_VERSION_1_3
static uint16_t wire_version(int v)
{
    return v == PEER_V13 ? CDTLS_VERSION_1_3 : CDTLS_VERSION_1_2;
}
#endif

void peer_config_versions(cdtls_config *cfg, int min, int max)
{
#ifdef CDTLS_VERSION_1_3
    cfg->versions.min = wire_version(min), cfg->versions.max = wire_version(max);
#else
    (void)cfg, (void)min, (void)max;
#endif
}

/* Whether cdtls_conn_new takes a PSK configuration limited to [min, max];
 * its error code. */
#ifdef CDTLS_VERSION_1_3
static int conn_new_rc(cdtls_role role, int min, int max)
{
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    cdtls_config c;
    cdtls_config_init(&c);
    c.psk.key = key, c.psk.key_len = sizeof key;
    c.psk.identity = (const uint8_t *)"probe", c.psk.identity_len = 5;
    peer_config_versions(&c, min, max);
    cdtls_conn *conn = NULL;
    int rc = cdtls_conn_new(&c, role, 0, &conn);
    if (rc == CDTLS_OK) cdtls_conn_free(conn);
    return rc;
}
#endif

int peer_cdtls13_available(cdtls_role role)
{
#ifdef CDTLS_VERSION_1_3
    return conn_new_rc(role, PEER_V12, PEER_V12) == CDTLS_OK &&
           conn_new_rc(role, PEER_V13, PEER_V13) == CDTLS_OK;
#else
    (void)role;
    return 0;
#endif
}

void peer_require_cdtls13(cdtls_role role)
{
#ifdef CDTLS_VERSION_1_3
    int rc12 = conn_new_rc(role, PEER_V12, PEER_V12);
    cr_assert_eq(rc12, CDTLS_OK, "a PSK configuration limited to DTLS 1.2: %s", cdtls_strerror(rc12));
    int rc13 = conn_new_rc(role, PEER_V13, PEER_V13);
    if (rc13 != CDTLS_OK)
        cr_skip_test("cdtls 1.3 not built yet (a configuration limited to DTLS 1.3: %s)",
                     cdtls_strerror(rc13));
#else
    (void)role;
    cr_skip_test("cdtls 1.3 not built yet (no CDTLS_VERSION_1_3 in cdtls/conn.h)");
#endif
}

int peer_cdtls_has_mlkem(void)
{
#if defined(CDTLS_GROUP_X25519MLKEM768)
    /* (CDTLS_KEM__COUNT is an enumerator, not a macro: testing it with
     * defined() made this 0 everywhere, and the ML-KEM interop tests
     * expected a refusal from a library that negotiates the group) */
    const cdtls_provider *p = cdtls_provider_default();
    return p->abi_version >= 3 && p->kem[CDTLS_KEM_MLKEM768] != NULL;
#else
    return 0;
#endif
}

int peer_conn_version(const cdtls_conn *c)
{
#ifdef CDTLS_VERSION_1_3
    uint16_t v = cdtls_conn_version(c);
    return v == CDTLS_VERSION_1_3 ? PEER_V13 : v == CDTLS_VERSION_1_2 ? PEER_V12 : 0;
#else
    return cdtls_conn_get_state(c) == CDTLS_STATE_ESTABLISHED ? PEER_V12 : 0;
#endif
}
