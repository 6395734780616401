#define _POSIX_C_SOURCE 200809L
#include "interop_listener.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static size_t read_der(const char *certs, const char *name, uint8_t *buf, size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", certs, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    cr_assert(n > 0 && n < cap, "%s: %zu bytes", path, n);
    return n;
}

void served_identity_load(served_identity *id, const char *certs)
{
    const cdtls_provider *p = cdtls_provider_default();
    memset(id, 0, sizeof *id);
    const char *leaf_der, *inter_der = NULL;
    if (p->sig[CDTLS_SIG_ECDSA_SHA256] &&
        cdtls_cipher_suite_supported(p, CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)) {
        id->pem_chain = "chain.pem", id->key_file = "leaf.key", id->root_pem = "root.pem",
        id->root_der = "root.der";
        id->host = "server.example.com";
        id->suite = CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
        leaf_der = "leaf.der", inter_der = "int.der";
    } else if (p->sig[CDTLS_SIG_ED25519] &&
               cdtls_cipher_suite_supported(p, CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)) {
        id->pem_chain = "ed.pem", id->key_file = "ed.key", id->root_pem = "ed.pem", id->root_der = "ed.der";
        id->host = "ed.example.com";
        id->suite = CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
        leaf_der = "ed.der";
    } else {
        cr_skip_test("provider %s signs neither ECDSA P-256 nor Ed25519", p->name);
        return;
    }
    id->lens[0] = read_der(certs, leaf_der, id->der[0], sizeof id->der[0]);
    id->chain[0] = id->der[0];
    id->n_certs = 1;
    if (inter_der) {
        id->lens[1] = read_der(certs, inter_der, id->der[1], sizeof id->der[1]);
        id->chain[1] = id->der[1];
        id->n_certs = 2;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s", certs, id->key_file);
    uint8_t *text;
    size_t len;
    cr_assert_eq(cdtls_read_file(path, NULL, &text, &len), CDTLS_OK, "%s", path);
    cr_assert_eq(cdtls_private_key_load(p, NULL, text, len, &id->key), CDTLS_OK, "%s", path);
    cdtls_free_file(NULL, text, len);
}

void served_identity_free(served_identity *id)
{
    if (id->key) cdtls_provider_default()->sign_key_free(cdtls_allocator_libc(), id->key);
    id->key = NULL;
}

void served_identity_config(const served_identity *id, cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->credentials.chain = id->chain, cfg->credentials.chain_len = id->lens,
    cfg->credentials.n_certs = id->n_certs;
    cfg->credentials.private_key = id->key;
    cfg->negotiate.cipher_suites = &id->suite, cfg->negotiate.n_cipher_suites = 1;
}

cdtls_listener *listener_on_loopback(const cdtls_config *cfg, uint16_t *port)
{
    cdtls_addr bind, bound;
    cr_assert_eq(cdtls_addr_parse("127.0.0.1", 0, &bind), CDTLS_OK);
    cdtls_listener *l = NULL;
    int rc = cdtls_listener_open(cfg, &bind, 0, &l);
    cr_assert_eq(rc, CDTLS_OK, "listener: %s", cdtls_strerror(rc));
    cr_assert_eq(cdtls_io_local_addr(cdtls_listener_io(l), &bound), CDTLS_OK);
    *port = bound.port;
    return l;
}

void listener_echo_once(cdtls_listener *l, child *peer, const char *expect, int timeout_ms, uint16_t *suite)
{
    cdtls_sock *s = NULL;
    int rc = cdtls_listener_accept(l, timeout_ms, &s);
    if (rc != CDTLS_OK) child_stop(peer, 1);
    cr_assert_eq(rc, CDTLS_OK, "no handshake completed through the listener: %s", cdtls_strerror(rc));
    *suite = cdtls_conn_cipher_suite(cdtls_sock_conn(s));
    uint8_t buf[512];
    size_t n = 0;
    rc = cdtls_sock_read(s, buf, sizeof buf, &n, NULL, timeout_ms);
    if (rc != CDTLS_OK) child_stop(peer, 1);
    cr_assert_eq(rc, CDTLS_OK, "no record from the peer: %s", cdtls_strerror(rc));
    int same = n == strlen(expect) && memcmp(buf, expect, n) == 0;
    if (!same) child_stop(peer, 1);
    cr_assert(same, "the peer sent \"%.*s\", not \"%s\"", (int)n, buf, expect);
    rc = cdtls_sock_write(s, buf, n, NULL);
    if (rc != CDTLS_OK) child_stop(peer, 1);
    cr_assert_eq(rc, CDTLS_OK, "echo: %s", cdtls_strerror(rc));
    cdtls_sock_close(s);
}
