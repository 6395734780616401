/* Connection state export/import: a session moved into a new connection
 * object carries on with its peer (both directions, the replay window, the
 * SRTP keys and CIDs preserved); the exporter is retired; an altered blob, a
 * wrong key or another version is refused. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdtls/cdtls.h"
#include "engine/hs13_internal.h"
#include "sim_link.h"

static const uint8_t st_psk[16] = {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
                                   0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60};
static const uint8_t st_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint16_t st_srtp[] = {CDTLS_SRTP_AEAD_AES_128_GCM};
static const char *const st_alpn[] = {"webrtc"};

static void st_configs(cdtls_config *cc, cdtls_config *sc, size_t cid_len)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = st_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof st_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"mover";
    cc->psk.identity_len = sc->psk.identity_len = 5;
    cc->srtp.profiles = sc->srtp.profiles = st_srtp;
    cc->srtp.n_profiles = sc->srtp.n_profiles = 1;
    cc->alpn.protocols = sc->alpn.protocols = st_alpn;
    cc->alpn.n_protocols = sc->alpn.n_protocols = 1;
    cc->cid.length = sc->cid.length = cid_len;
}

static int deliver(cdtls_conn *from, cdtls_conn *to, const char *msg, uint8_t *last, size_t *last_len)
{
    if (cdtls_conn_write(from, (const uint8_t *)msg, strlen(msg), NULL) != CDTLS_OK) return 0;
    uint8_t d[2048];
    size_t n;
    if (cdtls_conn_next_datagram(from, d, sizeof d, &n, NULL) != CDTLS_OK) return 0;
    if (last) memcpy(last, d, n), *last_len = n;
    (void)cdtls_conn_recv(to, d, n, NULL, 0);
    uint8_t buf[256];
    size_t got = 0;
    return cdtls_conn_read(to, buf, sizeof buf, &got, NULL) == CDTLS_OK && got == strlen(msg) &&
           memcmp(buf, msg, got) == 0;
}

static void move_side(int move_server)
{
    cdtls_config cc, sc;
    st_configs(&cc, &sc, 6);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 3000); /* let the final flight settle */
    cdtls_conn **side = move_server ? &s.server : &s.client;
    cdtls_conn *peer = move_server ? s.client : s.server;
    uint8_t last[2048];
    size_t last_len = 0;
    cr_assert(deliver(peer, *side, "before the move", last, &last_len));
    cdtls_srtp_keys before, after;
    cr_assert_eq(cdtls_conn_srtp_keys(*side, &before), CDTLS_OK);

    uint8_t blob[2048];
    size_t blob_len = 0;
    cr_assert_eq(cdtls_conn_export_state(*side, st_key, blob, sizeof blob, &blob_len), CDTLS_OK);
    cr_assert(blob_len > 100 && blob_len < 1200, "blob of %zu bytes", blob_len);
    cr_assert_eq(cdtls_conn_write(*side, (const uint8_t *)"x", 1, NULL), CDTLS_ERR_CLOSED,
                 "the exporter is retired");
    cdtls_conn *moved;
    cr_assert_eq(cdtls_conn_import_state(move_server ? &sc : &cc, st_key, blob, blob_len, 0, &moved),
                 CDTLS_OK);
    cdtls_conn_free(*side);
    *side = moved;

    cr_assert_eq(cdtls_conn_get_state(moved), CDTLS_STATE_ESTABLISHED);
    cr_assert(cdtls_conn_uses_cid(moved));
    size_t n;
    const uint8_t *alpn = cdtls_conn_alpn(moved, &n);
    cr_assert(alpn && n == 6 && memcmp(alpn, "webrtc", 6) == 0);
    cr_assert_eq(cdtls_conn_srtp_keys(moved, &after), CDTLS_OK);
    cr_assert_eq(memcmp(&before, &after, sizeof before), 0, "same SRTP keys");
    /* both directions continue, and the replay window came along */
    cr_assert(deliver(moved, peer, "after the move, out", NULL, NULL));
    cr_assert(deliver(peer, moved, "after the move, in", NULL, NULL));
    cr_assert(deliver(moved, peer, "and again", NULL, NULL),
              "sequence numbers continue (the peer's window accepts them)");
    cr_assert_eq(cdtls_conn_recv(moved, last, last_len, NULL, 0), CDTLS_OK);
    uint8_t buf[64];
    cr_assert_eq(cdtls_conn_read(moved, buf, sizeof buf, &n, NULL), CDTLS_ERR_WOULD_BLOCK,
                 "a record seen before the move is a replay after it");
    sim_free(&s);
}

Test(conn_state, client_moves_and_continues)
{
    move_side(0);
}
Test(conn_state, server_moves_and_continues)
{
    move_side(1);
}

Test(conn_state, tampered_wrong_key_and_versions_refused)
{
    cdtls_config cc, sc;
    st_configs(&cc, &sc, 0);
    cc.versions.max = CDTLS_VERSION_1_2; /* a 1.2 blob (the 1.3 ones below) */
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    uint8_t blob[2048];
    size_t len = 0;
    cr_assert_eq(cdtls_conn_export_state(s.client, st_key, blob, sizeof blob, &len), CDTLS_ERR_BAD_STATE,
                 "not before the handshake");
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_export_state(s.client, st_key, blob, 10, &len), CDTLS_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(cdtls_conn_export_state(s.client, st_key, blob, sizeof blob, &len), CDTLS_OK);
    cdtls_conn *c = NULL;
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x20;
        int rc = cdtls_conn_import_state(&cc, st_key, blob, len, 0, &c);
        cr_assert(rc != CDTLS_OK && c == NULL, "byte %zu altered: %s", i, cdtls_strerror(rc));
        blob[i] ^= 0x20;
    }
    uint8_t other[32];
    memcpy(other, st_key, 32);
    other[31] ^= 1;
    cr_assert_eq(cdtls_conn_import_state(&cc, other, blob, len, 0, &c), CDTLS_ERR_AUTH);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(cdtls_conn_import_state(&cc, st_key, blob, cut, 0, &c), CDTLS_OK);
    blob[7] = 3; /* a future version */
    cr_assert_eq(cdtls_conn_import_state(&cc, st_key, blob, len, 0, &c), CDTLS_ERR_UNSUPPORTED);
    blob[7] = 2; /* the 1.3 version: refused unread without the 1.3 engine */
#if CDTLS_HAVE_DTLS13
    cr_assert_eq(cdtls_conn_import_state(&cc, st_key, blob, len, 0, &c), CDTLS_ERR_AUTH);
#else
    cr_assert_eq(cdtls_conn_import_state(&cc, st_key, blob, len, 0, &c), CDTLS_ERR_UNSUPPORTED);
#endif
    blob[7] = 1;
    cr_assert_eq(cdtls_conn_import_state(&cc, st_key, blob, len, 0, &c), CDTLS_OK);
    cdtls_conn_free(c);
    sim_free(&s);
}

#if CDTLS_HAVE_DTLS13
/* ------------------------------------------------------------- DTLS 1.3 */

static void st13_configs(cdtls_config *cc, cdtls_config *sc)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = st_psk;
    cc->psk.key_len = sc->psk.key_len = sizeof st_psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"mover13";
    cc->psk.identity_len = sc->psk.identity_len = 7;
    cc->versions.min = sc->versions.min = CDTLS_VERSION_1_3;
}

/* Both sides' KeyUpdates (each asks the peer): the epochs move on by one
 * each way, and data flows under the new keys. */
static void st13_key_update(sim_link *s, cdtls_conn *initiator)
{
    const uint64_t c_ep = s->client->v13->tx_ap_epoch, s_ep = s->server->v13->tx_ap_epoch;
    cr_assert_eq(cdtls_conn_update_keys(initiator, 1), CDTLS_OK);
    for (int i = 0; i < 20 && (s->client->v13->tx_ap_epoch == c_ep || s->server->v13->tx_ap_epoch == s_ep);
         i++) {
        sim_pump(s);
        sim_run(s, 1000);
    }
    cr_assert_eq(s->client->v13->tx_ap_epoch, c_ep + 1, "client writes epoch %llu",
                 (unsigned long long)s->client->v13->tx_ap_epoch);
    cr_assert_eq(s->server->v13->tx_ap_epoch, s_ep + 1, "server writes epoch %llu",
                 (unsigned long long)s->server->v13->tx_ap_epoch);
    sim_run(s, 3000); /* the ACKs settle */
    cr_assert(deliver(s->client, s->server, "under the new keys, up", NULL, NULL));
    cr_assert(deliver(s->server, s->client, "under the new keys, down", NULL, NULL));
}

/* One side exported and imported: the exporter output, the version, the
 * data both ways and the replay window carry over; the old copy is retired. */
static void st13_move(sim_link *s, cdtls_config *cfg, int move_server)
{
    cdtls_conn **side = move_server ? &s->server : &s->client;
    cdtls_conn *peer = move_server ? s->client : s->server;
    uint8_t last[2048];
    size_t last_len = 0;
    cr_assert(deliver(peer, *side, "before the move", last, &last_len));
    uint8_t before[32], after[32];
    cr_assert_eq(cdtls_conn_export_keying_material(*side, "EXPERIMENTAL-move", NULL, 0, 0, before, 32),
                 CDTLS_OK);
    const uint64_t tx_epoch = (*side)->v13->tx_ap_epoch, rx_epoch = (*side)->v13->rx_ap->epoch;
    uint8_t blob[2048];
    size_t blob_len = 0;
    cr_assert_eq(cdtls_conn_export_state(*side, st_key, blob, sizeof blob, &blob_len), CDTLS_OK);
    cr_assert_eq(blob[7], 2, "the 1.3 blob version");
    cr_assert(blob_len > 100 && blob_len < 1200, "blob of %zu bytes", blob_len);
    cr_assert_eq(cdtls_conn_write(*side, (const uint8_t *)"x", 1, NULL), CDTLS_ERR_CLOSED,
                 "the exporter is retired");
    cdtls_conn *moved = NULL;
    int rc = cdtls_conn_import_state(cfg, st_key, blob, blob_len, s->now_ms, &moved);
    cr_assert_eq(rc, CDTLS_OK, "import: %s", cdtls_strerror(rc));
    cdtls_conn_free(*side);
    *side = moved;
    cr_assert_eq(cdtls_conn_get_state(moved), CDTLS_STATE_ESTABLISHED);
    cr_assert_eq(cdtls_conn_version(moved), CDTLS_VERSION_1_3);
    cr_assert_eq(moved->v13->tx_ap_epoch, tx_epoch);
    cr_assert_eq(moved->v13->rx_ap->epoch, rx_epoch);
    cr_assert_eq(cdtls_conn_export_keying_material(moved, "EXPERIMENTAL-move", NULL, 0, 0, after, 32),
                 CDTLS_OK);
    cr_assert_eq(memcmp(before, after, 32), 0, "same exporter output after the move");
    cr_assert(deliver(moved, peer, "after the move, out", NULL, NULL));
    cr_assert(deliver(peer, moved, "after the move, in", NULL, NULL));
    cr_assert(deliver(moved, peer, "and again", NULL, NULL),
              "sequence numbers continue (the peer's window accepts them)");
    (void)cdtls_conn_recv(moved, last, last_len, NULL, s->now_ms);
    uint8_t buf[64];
    size_t n;
    cr_assert_eq(cdtls_conn_read(moved, buf, sizeof buf, &n, NULL), CDTLS_ERR_WOULD_BLOCK,
                 "a record seen before the move is a replay after it");
    cr_assert_eq(cdtls_conn_get_state(moved), CDTLS_STATE_ESTABLISHED);
}

/* Each side moved in turn, with KeyUpdates both ways after each move (the
 * next epochs derive from the moved secrets), and a move after updates
 * (epochs above 3 travel). */
Test(conn_state, dtls13_each_side_moves_in_turn)
{
    cdtls_config cc, sc;
    st13_configs(&cc, &sc);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 5000); /* the final flight's ACK */
    cr_assert_eq(cdtls_conn_version(s.client), CDTLS_VERSION_1_3);
    st13_move(&s, &cc, 0);
    st13_key_update(&s, s.client);
    st13_key_update(&s, s.server);
    st13_move(&s, &sc, 1);
    st13_key_update(&s, s.server);
    st13_key_update(&s, s.client);
    st13_move(&s, &cc, 0);
    st13_move(&s, &sc, 1);
    st13_key_update(&s, s.client);
    cr_assert_eq(s.client->v13->tx_ap_epoch, 8);
    sim_free(&s);
}

Test(conn_state, dtls13_tampered_and_unsettled_refused)
{
    cdtls_config cc, sc;
    st13_configs(&cc, &sc);
    sim_link s;
    cr_assert_eq(sim_init(&s, &cc, &sc, NULL), CDTLS_OK);
    cr_assert(sim_run_handshake(&s, 10000));
    sim_run(&s, 5000);
    uint8_t blob[2048];
    size_t len = 0;
    /* an unacknowledged KeyUpdate is not moved */
    cr_assert_eq(cdtls_conn_update_keys(s.server, 0), CDTLS_OK);
    cr_assert_eq(cdtls_conn_export_state(s.server, st_key, blob, sizeof blob, &len), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(cdtls_conn_get_state(s.server), CDTLS_STATE_ESTABLISHED, "still live");
    sim_pump(&s);
    sim_run(&s, 3000);
    cr_assert_eq(cdtls_conn_export_state(s.server, st_key, blob, sizeof blob, &len), CDTLS_OK);
    cdtls_conn *c = NULL;
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x20;
        int rc = cdtls_conn_import_state(&sc, st_key, blob, len, 0, &c);
        cr_assert(rc != CDTLS_OK && c == NULL, "byte %zu altered: %s", i, cdtls_strerror(rc));
        blob[i] ^= 0x20;
    }
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(cdtls_conn_import_state(&sc, st_key, blob, cut, 0, &c), CDTLS_OK);
    blob[7] = 1; /* read as a 1.2 blob: the version is authenticated */
    cr_assert_eq(cdtls_conn_import_state(&sc, st_key, blob, len, 0, &c), CDTLS_ERR_AUTH);
    blob[7] = 2;
    cr_assert_eq(cdtls_conn_import_state(&sc, st_key, blob, len, 0, &c), CDTLS_OK);
    cr_assert_eq(c->v13->tx_ap_epoch, 4, "the updated epoch travelled");
    cdtls_conn_free(c);
    sim_free(&s);
}
#endif
