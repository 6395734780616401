#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include "cdtls/conn.h"
#include "engine/conn_internal.h" /* CDTLS_HAVE_DTLS13 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <process.h> /* getpid */
#else
#include <unistd.h>
#endif

size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    cr_assert(strlen(h) % 2 == 0 && n <= cap, "bad hex vector");
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Certificates for a test: made by tests/x509/make-certs.sh (openssl CLI)
 * into /tmp/cdtls-TAG-PID, or, when CDTLS_TEST_CERTS names a directory that
 * the script filled beforehand, read from there. The second form is for test
 * binaries that cannot run a shell script: Windows under wine64
 * (scripts/cross-test.sh prepares the directory on the host). */
void test_certs_make(char *dir, size_t cap, const char *tag)
{
    const char *pre = getenv("CDTLS_TEST_CERTS");
    if (pre && *pre) {
        cr_assert(strlen(pre) < cap, "CDTLS_TEST_CERTS too long");
        snprintf(dir, cap, "%s", pre);
        return;
    }
    snprintf(dir, cap, "/tmp/cdtls-%s-%d", tag, (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/tests/x509/make-certs.sh %s > /dev/null", CDTLS_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0, "make-certs.sh failed (is openssl installed?)");
}

void test_certs_remove(const char *dir)
{
    const char *pre = getenv("CDTLS_TEST_CERTS");
    if (pre && *pre) return; /* not ours to remove */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

void test_go_peer_build(const char *src_dir, const char *bin)
{
    const char *built = getenv("CDTLS_TEST_GO_PEERS_BUILT");
    if (built && *built) return;
    if (system("command -v go > /dev/null 2>&1") != 0)
        cr_skip_test("no Go toolchain to build the peer in %s", src_dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s/%s && go build -o %s . 2>&1", CDTLS_SOURCE_DIR, src_dir, bin);
    cr_assert_eq(system(cmd), 0, "go build of %s failed", src_dir);
}

int test_have_shell(void)
{
#ifdef _WIN32
    return 0;
#else
    return 1;
#endif
}

const char *test_emulator(void)
{
    const char *e = getenv("CDTLS_TEST_EMULATOR");
    return e && *e ? e : NULL;
}

void test_shuttle(struct cdtls_conn *a, struct cdtls_conn *b, uint64_t now, unsigned *drop_from_b)
{
    uint8_t d[2048];
    size_t n;
    for (int round = 0; round < 32; round++) {
        int moved = 0;
        while (cdtls_conn_next_datagram(a, d, sizeof d, &n, NULL) == CDTLS_OK) {
            (void)cdtls_conn_recv(b, d, n, NULL, now);
            moved = 1;
        }
        while (cdtls_conn_next_datagram(b, d, sizeof d, &n, NULL) == CDTLS_OK) {
            moved = 1;
            if (drop_from_b && *drop_from_b) {
                (*drop_from_b)--;
                continue;
            }
            (void)cdtls_conn_recv(a, d, n, NULL, now);
        }
        if (!moved) return;
    }
    cr_assert_fail("datagrams still moving after 32 rounds");
}

void test_require_dtls13(void)
{
#if !CDTLS_HAVE_DTLS13
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
#endif
}
