/* Regression tests for what the libFuzzer harnesses (fuzz/, docs/fuzzing.md)
 * found: one test per bug, each failing without its fix. The inputs that
 * found them are kept in fuzz/regress/<harness>/ and replayed by
 * scripts/fuzz.sh smoke. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/alloc.h"
#include "cdtls/config.h"
#include "cdtls/conn.h"
#include "cdtls/provider.h"
#include "cdtls/x509.h"
#include "engine/conn_internal.h" /* CDTLS_HAVE_DTLS13 */
#if CDTLS_HAVE_DTLS13
#include "engine/ack13.h"
#include "engine/hs13_internal.h"
#endif

/* An allocator that counts how often the core broke cdtls/alloc.h's
 * contract: alloc(0), or free with another size than was allocated. */
typedef struct strict_alloc {
    unsigned zero_allocs, bad_frees, live;
} strict_alloc;

static void *strict_alloc_fn(void *ctx, size_t size)
{
    strict_alloc *s = ctx;
    if (size == 0) {
        s->zero_allocs++;
        size = 1; /* keep going: the test reports it */
    }
    unsigned char *p = malloc(size + 16);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    s->live++;
    return p + 16;
}

static void strict_free_fn(void *ctx, void *ptr, size_t size)
{
    strict_alloc *s = ctx;
    unsigned char *p = (unsigned char *)ptr - 16;
    size_t was;
    memcpy(&was, p, sizeof was);
    if (was != size && !(was == 1 && size == 0)) s->bad_frees++;
    s->live--;
    free(p);
}

/* fuzz_key, the empty input: cdtls_private_key_load asked the allocator
 * for 0 bytes (src/x509/pem.c), which cdtls_allocator forbids. An empty
 * key is now refused as malformed before anything is allocated. */
Test(fuzz_regress, private_key_load_empty_input)
{
    strict_alloc st = {0, 0, 0};
    cdtls_allocator a = {strict_alloc_fn, strict_free_fn, &st};
    const cdtls_provider *p = cdtls_provider_default();
    static const uint8_t nothing[1] = {0};
    cdtls_sign_key *key = NULL;
    int rc = cdtls_private_key_load(p, &a, nothing, 0, &key);
    cr_assert_eq(st.zero_allocs, 0, "alloc(0) called %u times", st.zero_allocs);
    cr_assert_eq(rc, CDTLS_ERR_DER);
    cr_assert_null(key);
    cr_assert_eq(st.live, 0);
    cr_assert_eq(st.bad_frees, 0);
}

/* fuzz_engine_server, scenario tls13-aes128gcm-psk-cid-update (issue 17,
 * fuzz/regress/fuzz_engine_server/tls13-hello-record-with-old-fragment): a
 * ClientHello record with a second fragment after the hello, of an older
 * message_seq. The hello settled DTLS 1.3 and queued the server's 1.3
 * flight (entries of epoch 0 and 2); the 1.2 loop over the record's
 * fragments went on, took the old fragment for a retransmitted flight and
 * resent ours through the 1.2 record layer, which indexed write_seq[2]
 * (UBSan: index 2 out of bounds for uint64_t[2], then an increment past
 * the array). Now the rest of the record is dropped once 1.3 is settled:
 * no retransmission, and the handshake completes. */
static void count_retransmits(void *user, const cdtls_conn *c, const cdtls_event *ev)
{
    (void)c;
    if (ev->kind == CDTLS_EVENT_RETRANSMIT) (*(unsigned *)user)++;
}

Test(fuzz_regress, tls13_hello_record_with_old_fragment)
{
    if (!CDTLS_HAVE_DTLS13) cr_skip_test("a build without DTLS 1.3");
    static const uint8_t psk[16] = "old-fragment-psk";
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    cc.psk.key = sc.psk.key = psk;
    cc.psk.key_len = sc.psk.key_len = sizeof psk;
    cc.psk.identity = sc.psk.identity = (const uint8_t *)"frag";
    cc.psk.identity_len = sc.psk.identity_len = 4;
    cc.versions.min = sc.versions.min = CDTLS_VERSION_1_3;
    sc.cookie.exchange = 0; /* the first hello gets the whole flight */
    uint64_t now = 1000;
    cdtls_conn *cli = NULL, *srv = NULL;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, now, &cli), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, now, &srv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(srv, "client", 6), CDTLS_OK);
    unsigned retransmits = 0;
    cr_assert_eq(cdtls_conn_set_observer(srv, count_retransmits, &retransmits), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cli, now), CDTLS_OK);

    uint8_t d[2048];
    size_t n = 0;
    cr_assert_eq(cdtls_conn_next_datagram(cli, d, sizeof d, &n, NULL), CDTLS_OK);
    /* one plaintext record holding the whole ClientHello (message_seq 0) */
    cr_assert_eq(d[0], 22);
    size_t rec_len = (size_t)d[11] << 8 | d[12];
    cr_assert_eq(13 + rec_len, n, "one record in the datagram");
    cr_assert_eq(d[13], 1); /* client_hello */
    cr_assert_eq(d[17] << 8 | d[18], 0);
    /* ...and after it in the same record, the start of a hello again, of
     * message_seq 0 (already taken: an "old" fragment) */
    static const uint8_t old_frag[16] = {1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0xfe, 0xfd, 0, 0};
    cr_assert(n + sizeof old_frag <= sizeof d);
    memcpy(d + n, old_frag, sizeof old_frag);
    n += sizeof old_frag;
    rec_len += sizeof old_frag;
    d[11] = (uint8_t)(rec_len >> 8), d[12] = (uint8_t)rec_len;
    now += 10;
    (void)cdtls_conn_recv(srv, d, n, NULL, now);
    cr_assert_eq(cdtls_conn_version(srv), CDTLS_VERSION_1_3);
    cr_assert_eq(cdtls_conn_get_state(srv), CDTLS_STATE_HANDSHAKING, "%s",
                 cdtls_strerror(cdtls_conn_error(srv)));
    cr_assert_eq(retransmits, 0, "the old fragment made the server resend its flight");

    /* the handshake completes from there */
    for (int i = 0; i < 50 && (cdtls_conn_get_state(cli) != CDTLS_STATE_ESTABLISHED ||
                               cdtls_conn_get_state(srv) != CDTLS_STATE_ESTABLISHED);
         i++) {
        now += 10;
        while (cdtls_conn_next_datagram(srv, d, sizeof d, &n, NULL) == CDTLS_OK)
            (void)cdtls_conn_recv(cli, d, n, NULL, now);
        while (cdtls_conn_next_datagram(cli, d, sizeof d, &n, NULL) == CDTLS_OK)
            (void)cdtls_conn_recv(srv, d, n, NULL, now);
    }
    cr_assert_eq(cdtls_conn_get_state(cli), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_get_state(srv), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_version(cli), CDTLS_VERSION_1_3);
    cdtls_conn_free(cli);
    cdtls_conn_free(srv);
}

/* fuzz_engine_server, scenario tls13-aes128gcm-psk-pha-mtu400 (issue 17,
 * fuzz/regress/fuzz_engine_server/tls13-ack-over-the-mtu): a client whose
 * post-handshake flight came in many small records got an ACK listing
 * every one of them (up to 32, ACK13_MAX_RECEIVED: a 536-byte record) in
 * one datagram, past cfg.mtu (400). Now the ACK lists the newest record
 * numbers that fit. */
#if CDTLS_HAVE_DTLS13
static void pump(cdtls_conn *a, cdtls_conn *b, uint64_t now, size_t mtu, size_t *largest)
{
    uint8_t d[2048];
    size_t n;
    while (cdtls_conn_next_datagram(a, d, sizeof d, &n, NULL) == CDTLS_OK) {
        if (n > *largest) *largest = n;
        cr_assert_leq(n, mtu, "a datagram of %zu bytes, MTU %zu", n, mtu);
        (void)cdtls_conn_recv(b, d, n, NULL, now);
    }
}

Test(fuzz_regress, tls13_ack_within_the_mtu)
{
    static const uint8_t psk[16] = "ack-over-the-mtu";
    cdtls_config cc, sc;
    cdtls_config_init(&cc);
    cdtls_config_init(&sc);
    cc.psk.key = sc.psk.key = psk;
    cc.psk.key_len = sc.psk.key_len = sizeof psk;
    cc.psk.identity = sc.psk.identity = (const uint8_t *)"ack";
    cc.psk.identity_len = sc.psk.identity_len = 3;
    cc.versions.min = sc.versions.min = CDTLS_VERSION_1_3;
    cc.mtu = sc.mtu = 400;
    uint64_t now = 1000;
    size_t largest = 0;
    cdtls_conn *cli = NULL, *srv = NULL;
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, now, &cli), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, now, &srv), CDTLS_OK);
    cr_assert_eq(cdtls_conn_set_peer_address(srv, "client", 6), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(cli, now), CDTLS_OK);
    for (int i = 0; i < 50 && (cdtls_conn_get_state(cli) != CDTLS_STATE_ESTABLISHED ||
                               cdtls_conn_get_state(srv) != CDTLS_STATE_ESTABLISHED);
         i++) {
        now += 10;
        pump(cli, srv, now, 400, &largest);
        pump(srv, cli, now, 400, &largest);
    }
    cr_assert_eq(cdtls_conn_get_state(srv), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_version(srv), CDTLS_VERSION_1_3);
    pump(cli, srv, now, 400, &largest);
    pump(srv, cli, now, 400, &largest);
    /* the server received a flight of 32 records (as a peer sending its
     * post-handshake messages one small record each can make it), and
     * ACKs it */
    ack13_rx *arx = &srv->v13->arx;
    ack13_rx_new_flight(arx);
    for (uint64_t s = 0; s < ACK13_MAX_RECEIVED; s++) {
        const ack13_record_number rn = {3, 100 + s};
        ack13_rx_note(arx, rn, 1, now, 1000);
    }
    cr_assert_eq(arx->n, ACK13_MAX_RECEIVED);
    largest = 0;
    cr_assert_eq(hs13_send_ack(srv, now), CDTLS_OK);
    pump(srv, cli, now, 400, &largest); /* fails the test past 400 bytes */
    cr_assert_gt(largest, 400 - 32, "the ACK fills the datagram (%zu bytes)", largest);
    cr_assert_eq(cdtls_conn_get_state(cli), CDTLS_STATE_ESTABLISHED, "%s",
                 cdtls_strerror(cdtls_conn_error(cli)));
    cdtls_conn_free(cli);
    cdtls_conn_free(srv);
}
#endif
