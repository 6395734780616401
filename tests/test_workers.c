/* Many cores: a group of worker listeners on one port (cdtls/workers.h).
 * Worker threads serve real clients over loopback: every handshake
 * completes and every echo returns to its client, whichever worker the
 * kernel picked; CID peers that change source port keep their worker and
 * their session, steered by the kernel program or handed over in memory;
 * resumption by ticket works on whichever worker a client lands on (one
 * ticket key ring, rotating while the workers use it). Built with
 * -Dsanitize=thread this is the thread-safety test of what workers share. */
#define _POSIX_C_SOURCE 200809L
#define _DARWIN_C_SOURCE /* mkdtemp on macOS */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cdtls/cdtls.h"
#include "cdtls/sock.h"
#include "cdtls/workers.h"
#include "test_util.h"

static const uint8_t psk[16] = "workers-psk-0016";

static void psk_cfg(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk.key = psk;
    cfg->psk.key_len = sizeof psk;
    cfg->psk.identity = (const uint8_t *)"worker-client";
    cfg->psk.identity_len = 13;
}

/* ------------------------------------------------------ the server side */

#define SOCKS_MAX 256

typedef struct server_worker {
    cdtls_listener *l;
    unsigned index;
    atomic_int *stop;
    int accepted, echoed, resumed;
    int cid_elsewhere; /* accepted CID connections whose CID names another worker */
    int moved;         /* echoes to another address than the handshake's */
} server_worker;

/* One worker's thread: accepts, echoes every record to its sender, closes
 * what the peer closed. Bounded by the stop flag and by time (60 s). */
static void *serve(void *arg)
{
    server_worker *w = arg;
    cdtls_sock *socks[SOCKS_MAX];
    cdtls_addr first[SOCKS_MAX];
    size_t n = 0;
    uint64_t until = cdtls_io_now_ms() + 60000;
    while (!atomic_load(w->stop) && cdtls_io_now_ms() < until) {
        cdtls_sock *s;
        if (cdtls_listener_accept(w->l, 5, &s) == CDTLS_OK) {
            if (n == SOCKS_MAX) {
                cdtls_sock_close(s);
                continue;
            }
            w->accepted++;
            if (cdtls_conn_resumed(cdtls_sock_conn(s))) w->resumed++;
            size_t len;
            const uint8_t *cid = cdtls_conn_own_cid(cdtls_sock_conn(s), &len);
            uint8_t named;
            if (cid && cdtls_worker_cid_parse(cid, len, NULL, NULL, &named) == CDTLS_OK && named != w->index)
                w->cid_elsewhere++;
            first[n] = *cdtls_sock_peer(s);
            socks[n++] = s;
        }
        for (size_t i = 0; i < n;) {
            uint8_t buf[1500];
            size_t len;
            int rc = cdtls_sock_read(socks[i], buf, sizeof buf, &len, NULL, 0);
            if (rc == CDTLS_OK) {
                if (cdtls_sock_peer(socks[i])->port != first[i].port) w->moved++;
                if (cdtls_sock_write(socks[i], buf, len, NULL) == CDTLS_OK) w->echoed++;
            } else if (rc != CDTLS_ERR_WOULD_BLOCK && rc != CDTLS_ERR_TIMEOUT) {
                cdtls_sock_close(socks[i]);
                socks[i] = socks[--n];
                first[i] = first[n];
                continue;
            }
            i++;
        }
    }
    for (size_t i = 0; i < n; i++) cdtls_sock_close(socks[i]);
    return NULL;
}

typedef struct server {
    cdtls_worker_group *g;
    cdtls_addr addr;
    atomic_int stop;
    server_worker w[2];
    pthread_t th[2];
} server;

static void server_start(server *sv, const cdtls_config *cfg, unsigned flags)
{
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cdtls_worker_options o = {.n_workers = 2, .node_id = 0x2317, .flags = flags};
    cr_assert_eq(cdtls_worker_group_open(cfg, &bind, &o, &sv->g), CDTLS_OK);
    cr_assert_eq(cdtls_worker_group_size(sv->g), 2);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(cdtls_worker_group_listener(sv->g, 0)), &sv->addr),
                 CDTLS_OK);
    cdtls_addr other;
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(cdtls_worker_group_listener(sv->g, 1)), &other),
                 CDTLS_OK);
    cr_assert_eq(other.port, sv->addr.port, "both workers on one port");
    atomic_init(&sv->stop, 0);
    for (unsigned i = 0; i < 2; i++) {
        sv->w[i] = (server_worker){.l = cdtls_worker_group_listener(sv->g, i), .index = i, .stop = &sv->stop};
        cr_assert_eq(pthread_create(&sv->th[i], NULL, serve, &sv->w[i]), 0);
    }
}

static void server_stop(server *sv)
{
    atomic_store(&sv->stop, 1);
    for (unsigned i = 0; i < 2; i++) pthread_join(sv->th[i], NULL);
    cdtls_worker_group_close(sv->g);
}

/* ------------------------------------------------------ worker CIDs */

Test(workers, cid_format_round_trips)
{
    uint8_t cid[CDTLS_WORKER_CID_MAX];
    cr_assert_eq(cdtls_worker_cid_make(NULL, 3, 0xbeef, 7, cid, 12), CDTLS_OK);
    cr_assert_eq(cid[0], (3u << 5) | 11u, "config rotation and length in octet 0");
    cr_assert_eq(cid[1], 0xbe);
    cr_assert_eq(cid[2], 0xef);
    cr_assert_eq(cid[3], 7);
    unsigned config;
    uint16_t node;
    uint8_t worker;
    cr_assert_eq(cdtls_worker_cid_parse(cid, 12, &config, &node, &worker), CDTLS_OK);
    cr_assert_eq(config, 3);
    cr_assert_eq(node, 0xbeef);
    cr_assert_eq(worker, 7);
    cr_assert_eq(cdtls_worker_cid_parse(cid, 13, NULL, NULL, NULL), CDTLS_ERR_DECODE, "length octet says 12");
    cid[0] = (uint8_t)(7u << 5 | 11u);
    cr_assert_eq(cdtls_worker_cid_parse(cid, 12, NULL, NULL, NULL), CDTLS_ERR_DECODE, "config 7 is reserved");
    cr_assert_eq(cdtls_worker_cid_make(NULL, 7, 1, 0, cid, 12), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(cdtls_worker_cid_make(NULL, 0, 1, 0, cid, CDTLS_WORKER_CID_MIN - 1), CDTLS_ERR_INVALID_ARG);
    uint8_t other[12];
    cr_assert_eq(cdtls_worker_cid_make(NULL, 0, 1, 0, cid, 12), CDTLS_OK);
    cr_assert_eq(cdtls_worker_cid_make(NULL, 0, 1, 0, other, 12), CDTLS_OK);
    cr_assert_neq(memcmp(cid + 4, other + 4, 8), 0, "the rest is random");
}

/* ------------------------------------------------ 200 clients, 2 workers */

#define CLIENT_THREADS 4
#define CLIENTS_EACH 50

typedef struct client_run {
    const server *sv;
    unsigned id;
    int ok, resumed;
} client_run;

/* Dials one after the other, each a new socket (a new source port, so the
 * kernel's hash spreads them), and resumes the previous session by ticket
 * from the second dial on, whichever worker gets it. */
static void *clients(void *arg)
{
    client_run *r = arg;
    cdtls_session_cache_entry entries[2];
    cdtls_session_cache cache;
    cdtls_config cfg;
    psk_cfg(&cfg);
    cfg.resumption.store = cdtls_session_cache_init(&cache, entries, 2);
    cfg.resumption.tickets = 1;
    for (unsigned i = 0; i < CLIENTS_EACH; i++) {
        cdtls_sock *s;
        if (cdtls_sock_dial(&cfg, &r->sv->addr, 20000, &s) != CDTLS_OK) continue;
        if (cdtls_conn_resumed(cdtls_sock_conn(s))) r->resumed++;
        char msg[64];
        int len = snprintf(msg, sizeof msg, "client %u.%u", r->id, i);
        uint8_t buf[128];
        size_t n = 0;
        if (cdtls_sock_write(s, (const uint8_t *)msg, (size_t)len, NULL) == CDTLS_OK &&
            cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 20000) == CDTLS_OK && n == (size_t)len &&
            memcmp(buf, msg, n) == 0)
            r->ok++;
        cdtls_sock_close(s);
    }
    cdtls_session_cache_clear(&cache);
    return NULL;
}

Test(workers, two_workers_serve_200_clients, .timeout = 120)
{
    cdtls_ticket_keys keys;
    cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 500, cdtls_io_now_ms()), CDTLS_OK,
                 "rotating while the workers seal and open");
    cdtls_config cfg;
    psk_cfg(&cfg);
    cfg.resumption.ticket_keys = &keys;
    server sv;
    server_start(&sv, &cfg, 0);
    cr_assert(keys.lock != NULL, "the group locks the shared ring");

    client_run runs[CLIENT_THREADS];
    pthread_t th[CLIENT_THREADS];
    for (unsigned i = 0; i < CLIENT_THREADS; i++) {
        runs[i] = (client_run){.sv = &sv, .id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, clients, &runs[i]), 0);
    }
    int ok = 0, resumed = 0;
    for (unsigned i = 0; i < CLIENT_THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += runs[i].ok;
        resumed += runs[i].resumed;
    }
    server_stop(&sv);
    cr_assert(keys.lock == NULL, "closing the group takes its lock off the ring");
    cr_assert_eq(ok, CLIENT_THREADS * CLIENTS_EACH, "every handshake completed and every echo came back");
    cr_assert_eq(sv.w[0].accepted + sv.w[1].accepted, CLIENT_THREADS * CLIENTS_EACH);
    cr_assert_eq(sv.w[0].echoed + sv.w[1].echoed, CLIENT_THREADS * CLIENTS_EACH);
    cr_assert_gt(sv.w[0].accepted, 0, "worker 0 served some");
    cr_assert_gt(sv.w[1].accepted, 0, "worker 1 served some");
    cr_assert_eq(sv.w[0].resumed + sv.w[1].resumed, resumed);
    /* a ticket sealed by one worker opens on the other: with a key ring of
     * each, about half the resumptions would fail */
    cr_assert_gt(resumed, 3 * (CLIENT_THREADS * (CLIENTS_EACH - 1)) / 4, "resumed %d", resumed);
    cr_assert_gt(sv.w[0].resumed, 0);
    cr_assert_gt(sv.w[1].resumed, 0);
    cdtls_ticket_keys_wipe(&keys);
}

/* -------------------------------------------- CID peers that change port */

/* Sends what the engine has, through io. */
static void send_all(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(c, d, sizeof d, &n, NULL) == CDTLS_OK)
        cr_assert_eq(cdtls_io_send(io, d, n, to, NULL, NULL, 0), CDTLS_OK);
}

/* Receives on io for up to wait_ms and feeds the engine; fires its timer. */
static void pump(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, int wait_ms)
{
    uint8_t d[2048];
    size_t n;
    if (cdtls_io_recv(io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, wait_ms) == CDTLS_OK)
        (void)cdtls_conn_recv(c, d, n, NULL, cdtls_io_now_ms());
    if (cdtls_conn_timeout(c) <= cdtls_io_now_ms()) (void)cdtls_conn_on_timeout(c, cdtls_io_now_ms());
    send_all(c, io, to);
}

static int echoes(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to, const char *msg)
{
    if (cdtls_conn_write(c, (const uint8_t *)msg, strlen(msg), NULL) != CDTLS_OK) return 0;
    send_all(c, io, to);
    for (int i = 0; i < 200; i++) {
        uint8_t buf[512];
        size_t n;
        if (cdtls_conn_read(c, buf, sizeof buf, &n, NULL) == CDTLS_OK)
            return n == strlen(msg) && memcmp(buf, msg, n) == 0;
        pump(c, io, to, 50);
    }
    return 0;
}

#define ROAMERS 16

/* Each client finishes its handshake and an echo from socket A, then goes
 * on from socket B (its NAT rebound: a new source port, so the kernel's
 * hash alone would pick either worker). The session must stay with the
 * worker its CID names: no new handshake anywhere, the echo arrives at B. */
static void roam(unsigned flags)
{
    cdtls_config scfg, ccfg;
    psk_cfg(&scfg);
    psk_cfg(&ccfg);
    ccfg.cid.length = 4; /* the client's own CID: any */
    server sv;
    server_start(&sv, &scfg, flags);
    if (!(flags & CDTLS_WORKERS_NO_STEERING) && !cdtls_worker_group_steering(sv.g) && test_emulator()) {
        /* qemu-user does not pass SO_ATTACH_REUSEPORT_CBPF on (the group
         * says so: steering 0); the hand-off test covers that case */
        server_stop(&sv);
        cr_skip_test("%s refuses SO_ATTACH_REUSEPORT_CBPF", test_emulator());
    }
    if (!(flags & CDTLS_WORKERS_NO_STEERING))
        cr_assert(cdtls_worker_group_steering(sv.g), "Linux attaches the CBPF steering program");
    else
        cr_assert_eq(cdtls_worker_group_steering(sv.g), 0);
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    int kept = 0;
    unsigned on_worker[2] = {0, 0};
    for (unsigned k = 0; k < ROAMERS; k++) {
        cdtls_io_socket a, b;
        cr_assert_eq(cdtls_io_open(&a, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
        cr_assert_eq(cdtls_io_open(&b, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
        cdtls_conn *c;
        cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, cdtls_io_now_ms(), &c), CDTLS_OK);
        cr_assert_eq(cdtls_conn_start(c, cdtls_io_now_ms()), CDTLS_OK);
        send_all(c, &a, &sv.addr);
        for (int i = 0; i < 400 && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING; i++)
            pump(c, &a, &sv.addr, 50);
        cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "%s",
                     cdtls_strerror(cdtls_conn_error(c)));
        cr_assert(cdtls_conn_uses_cid(c));
        size_t len;
        const uint8_t *cid = cdtls_conn_peer_cid(c, &len);
        uint16_t node;
        uint8_t w;
        cr_assert_eq(cdtls_worker_cid_parse(cid, len, NULL, &node, &w), CDTLS_OK, "a worker CID");
        cr_assert_eq(node, 0x2317);
        cr_assert_lt(w, 2);
        on_worker[w]++;
        int ok = echoes(c, &a, &sv.addr, "from A");
        ok = ok && echoes(c, &b, &sv.addr, "from B");
        ok = ok && echoes(c, &b, &sv.addr, "from B again");
        kept += ok;
        cdtls_conn_close(c);
        send_all(c, &b, &sv.addr);
        cdtls_conn_free(c);
        cdtls_io_close(&a);
        cdtls_io_close(&b);
    }
    atomic_store(&sv.stop, 1);
    for (unsigned i = 0; i < 2; i++) pthread_join(sv.th[i], NULL);
    uint64_t handed = 0, dropped = 0;
    for (unsigned i = 0; i < 2; i++) {
        cdtls_worker_stats st;
        cr_assert_eq(cdtls_worker_group_stats(sv.g, i, &st), CDTLS_OK);
        handed += st.handed_in;
        dropped += st.dropped;
    }
    cdtls_worker_group_close(sv.g);
    cr_assert_eq(dropped, 0);
    if (flags & CDTLS_WORKERS_NO_STEERING)
        /* a new port goes to the other worker half the time: 2^-16 that
         * none of the 16 did */
        cr_assert_gt(handed, 0, "records that reached the wrong worker were handed over");
    else
        cr_assert_eq(handed, 0, "the kernel steered every CID record to its worker");
    cr_assert_eq(kept, ROAMERS, "every session survived its port change");
    cr_assert_eq(sv.w[0].accepted + sv.w[1].accepted, ROAMERS, "no second handshake");
    cr_assert_eq(sv.w[0].cid_elsewhere + sv.w[1].cid_elsewhere, 0, "each worker's CIDs name it");
    cr_assert_eq(sv.w[0].moved + sv.w[1].moved, 2 * ROAMERS, "the sessions moved to the new ports");
    cr_assert_eq(sv.w[0].accepted, (int)on_worker[0], "each session stayed with the worker its CID names");
    cr_assert_eq(sv.w[1].accepted, (int)on_worker[1]);
}

Test(workers, cid_peers_keep_their_worker_steered, .timeout = 120)
{
    roam(0);
}

Test(workers, cid_peers_keep_their_worker_handed_over, .timeout = 120)
{
    roam(CDTLS_WORKERS_NO_STEERING);
}

/* ------------------------------------ a cluster behind nginx's UDP proxy */

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NGINX "/usr/sbin/nginx"
#define NGINX_STREAM "/usr/lib/nginx/modules/ngx_stream_module.so"
#define NODES 2

/* A node: its own process with a group of two workers on a port of its
 * own, node id k + 1 in its CIDs, the cluster's ticket key installed
 * (rotation off: the cluster rotates by installing the next key
 * everywhere). The group is opened before fork, so the parent knows the
 * port; the child serves until it is killed (or 60 s). */
static pid_t node_start(uint16_t node, const uint8_t name[16], const uint8_t key[32], cdtls_addr *at)
{
    cdtls_addr bind;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    static cdtls_ticket_keys keys; /* each process has its own copy after fork */
    cr_assert_eq(cdtls_ticket_keys_init(&keys, NULL, 0, cdtls_io_now_ms()), CDTLS_OK);
    cr_assert_eq(cdtls_ticket_keys_add(&keys, name, key, cdtls_io_now_ms()), CDTLS_OK);
    cdtls_config cfg;
    psk_cfg(&cfg);
    cfg.resumption.ticket_keys = &keys;
    cdtls_worker_options o = {.n_workers = 2, .node_id = node};
    cdtls_worker_group *g;
    cr_assert_eq(cdtls_worker_group_open(&cfg, &bind, &o, &g), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(cdtls_worker_group_listener(g, 0)), at), CDTLS_OK);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        atomic_int stop;
        atomic_init(&stop, 0);
        server_worker w[2];
        pthread_t th;
        for (unsigned i = 0; i < 2; i++)
            w[i] = (server_worker){.l = cdtls_worker_group_listener(g, i), .index = i, .stop = &stop};
        if (pthread_create(&th, NULL, serve, &w[1]) != 0) _exit(2);
        serve(&w[0]);
        _exit(0);
    }
    cdtls_worker_group_close(g); /* the parent's copy; the node keeps its own */
    cdtls_ticket_keys_wipe(&keys);
    return pid;
}

static uint16_t free_udp_port(void)
{
    cdtls_addr bind, got;
    cdtls_io_socket s;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cr_assert_eq(cdtls_io_open(&s, &bind, CDTLS_IO_NO_PROBE), CDTLS_OK);
    cr_assert_eq(cdtls_io_local_addr(&s, &got), CDTLS_OK);
    cdtls_io_close(&s);
    return got.port;
}

/* nginx with the stream module, in the foreground, one process, its
 * files in dir: a UDP proxy on `port` to the nodes, round robin. */
static pid_t nginx_start(const char *dir, uint16_t port, const cdtls_addr *nodes)
{
    char path[512], conf[2048];
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    int len = snprintf(conf, sizeof conf,
                       "load_module %s;\n"
                       "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                       "pid %s/nginx.pid;\nerror_log %s/error.log info;\n"
                       "events { worker_connections 256; }\n"
                       "stream {\n"
                       "  upstream dtls_cluster {\n"
                       "    server 127.0.0.1:%u;\n"
                       "    server 127.0.0.1:%u;\n"
                       "  }\n"
                       "  server {\n"
                       "    listen 127.0.0.1:%u udp;\n"
                       "    proxy_pass dtls_cluster;\n"
                       "    proxy_timeout 20s;\n"
                       "  }\n"
                       "}\n",
                       NGINX_STREAM, dir, dir, nodes[0].port, nodes[1].port, port);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(conf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    char *argv[] = {NGINX, "-p", (char *)dir, "-c", path, "-e", "stderr", NULL};
    char log[512];
    snprintf(log, sizeof log, "%s/stderr.log", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, NGINX, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void stop_process(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) { /* up to 5 s, then SIGKILL */
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        struct timespec t = {0, 50000000};
        nanosleep(&t, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

Test(workers, nginx_cluster_resumes_across_nodes, .timeout = 120)
{
    if (test_emulator())
        cr_skip_test(
            "node processes are forked and start threads, which %s crashes on (its TCG, not our code)",
            test_emulator());
    if (access(NGINX, X_OK) != 0 || access(NGINX_STREAM, R_OK) != 0)
        cr_skip_test("nginx with its stream module is not installed (apt-get install nginx "
                     "libnginx-mod-stream)");
    uint8_t name[16], key[32];
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert_eq(p->random(p, name, sizeof name), CDTLS_OK);
    cr_assert_eq(p->random(p, key, sizeof key), CDTLS_OK);
    cdtls_addr nodes[NODES];
    pid_t node_pid[NODES];
    for (unsigned k = 0; k < NODES; k++) node_pid[k] = node_start((uint16_t)(k + 1), name, key, &nodes[k]);

    char dir[] = "/tmp/cdtls-nginx-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    uint16_t port = free_udp_port();
    pid_t ngx = nginx_start(dir, port, nodes);
    cdtls_addr front;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", port, &front), CDTLS_OK);

    cdtls_session_cache_entry entries[2];
    cdtls_session_cache cache;
    cdtls_config cfg;
    psk_cfg(&cfg);
    cfg.resumption.store = cdtls_session_cache_init(&cache, entries, 2);
    cfg.resumption.tickets = 1;
    cfg.cid.length = 4; /* offers CIDs: the node's CID says which node served */
    int ok = 0, resumed = 0, resumed_elsewhere = 0, served[NODES + 1] = {0};
    unsigned prev_node = 0;
    for (int i = 0; i < 6; i++) {
        cdtls_sock *s = NULL;
        int rc = CDTLS_ERR_TIMEOUT;
        /* nginx may still be starting: the first dial waits for it */
        for (int tries = 0; tries < (i == 0 ? 20 : 1) && rc != CDTLS_OK; tries++)
            rc = cdtls_sock_dial(&cfg, &front, i == 0 ? 1000 : 10000, &s);
        if (rc != CDTLS_OK) continue;
        size_t len;
        const uint8_t *cid = cdtls_conn_peer_cid(cdtls_sock_conn(s), &len);
        uint16_t node = 0;
        if (!cid || cdtls_worker_cid_parse(cid, len, NULL, &node, NULL) != CDTLS_OK || node == 0 ||
            node > NODES)
            node = 0;
        served[node]++;
        if (cdtls_conn_resumed(cdtls_sock_conn(s))) {
            resumed++;
            if (prev_node && node != prev_node) resumed_elsewhere++;
        }
        prev_node = node;
        uint8_t buf[64];
        size_t n = 0;
        if (cdtls_sock_write(s, (const uint8_t *)"through nginx", 13, NULL) == CDTLS_OK &&
            cdtls_sock_read(s, buf, sizeof buf, &n, NULL, 10000) == CDTLS_OK && n == 13 &&
            memcmp(buf, "through nginx", 13) == 0)
            ok++;
        cdtls_sock_close(s);
    }
    cdtls_session_cache_clear(&cache);
    stop_process(ngx);
    for (unsigned k = 0; k < NODES; k++) stop_process(node_pid[k]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(ok, 6, "every dial through nginx completed and echoed");
    cr_assert_eq(served[0], 0, "every session has a node's CID");
    cr_assert_gt(served[1], 0, "node 1 served some");
    cr_assert_gt(served[2], 0, "node 2 served some");
    cr_assert_eq(resumed, 5, "every dial after the first resumed by ticket");
    cr_assert_gt(resumed_elsewhere, 0, "a ticket from one node opened on the other");
}

/* ----------------------------- fragmented DTLS 1.3 hellos (issue 16) */

/* Sends what the engine has, last datagram first, pausing between them so
 * each lands in a receive batch of its own. */
static void send_reversed_paced(cdtls_conn *c, cdtls_io_socket *io, const cdtls_addr *to)
{
    static uint8_t d[16][512];
    size_t n[16], count = 0;
    while (count < 16 && cdtls_conn_next_datagram(c, d[count], sizeof d[0], &n[count], NULL) == CDTLS_OK)
        count++;
    for (size_t i = count; i-- > 0;) {
        cr_assert_eq(cdtls_io_send(io, d[i], n[i], to, NULL, NULL, 0), CDTLS_OK);
        if (i) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

/* Clients whose 1.3 hellos go out in fragments (MTU 128), last first and
 * across receive batches, against two workers sharing one verifier (under
 * the group's lock): each handshake completes as 1.3 without the client
 * retransmitting, so the verifier held the fragments across batches,
 * answered with a HelloRetryRequest and handed the worker's new connection
 * the whole second hello. */
Test(workers, fragmented_hellos13_across_batches, .timeout = 120)
{
    test_require_dtls13();
    cdtls_config scfg, ccfg;
    psk_cfg(&scfg);
    psk_cfg(&ccfg);
    ccfg.mtu = 128;
    ccfg.timers.retransmit_initial_ms = 60000;
    ccfg.timers.handshake_timeout_ms = 120000;
    server sv;
    server_start(&sv, &scfg, 0);
    cdtls_addr any;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &any), CDTLS_OK);
    for (int k = 0; k < 6; k++) {
        cdtls_io_socket io;
        cr_assert_eq(cdtls_io_open(&io, &any, CDTLS_IO_NONBLOCK | CDTLS_IO_NO_PROBE), CDTLS_OK);
        cdtls_conn *c;
        cr_assert_eq(cdtls_conn_new(&ccfg, CDTLS_CLIENT, cdtls_io_now_ms(), &c), CDTLS_OK);
        cr_assert_eq(cdtls_conn_start(c, cdtls_io_now_ms()), CDTLS_OK);
        send_reversed_paced(c, &io, &sv.addr);
        for (int i = 0; i < 200 && cdtls_conn_get_state(c) == CDTLS_STATE_HANDSHAKING; i++) {
            uint8_t d[2048];
            size_t n;
            if (cdtls_io_recv(&io, d, sizeof d, &n, NULL, NULL, NULL, 0, NULL, 50) == CDTLS_OK)
                (void)cdtls_conn_recv(c, d, n, NULL, cdtls_io_now_ms());
            send_reversed_paced(c, &io, &sv.addr);
        }
        cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "client %d: %s", k,
                     cdtls_strerror(cdtls_conn_error(c)));
        cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
        cr_assert(echoes(c, &io, &sv.addr, "fragmented-13"), "client %d's echo", k);
        cdtls_conn_free(c);
        cdtls_io_close(&io);
    }
    server_stop(&sv);
    cr_assert_eq(sv.w[0].accepted + sv.w[1].accepted, 6);
}
