/* TLS_AES_128_CCM_8_SHA256 (0x1305) in DTLS 1.3, on every provider with
 * AES-CCM_8 and the AES record-number mask (RFC 9147 §4.2.3): our client
 * and server in memory, handshake and data both ways, records carrying
 * the 8-byte tag; the suite only when configured (it is never a default:
 * RFC 9147 §4.5.3 wants safeguards); and the limit we give it, 2^7 records
 * failing authentication per key (src/engine/hs13_common.c, ccm8_limits):
 * the 128th forgery ends the connection, 127 do not. */
#include <criterion/criterion.h>

#include "test_util.h"
#include <string.h>

#include "cdtls/conn.h"
#include "engine/conn_internal.h" /* CDTLS_HAVE_DTLS13 */

#define CCM8_13 0x1305u

#if CDTLS_HAVE_DTLS13

static const uint8_t psk[16] = "ccm8-psk-16bytes";
static const uint16_t ccm8_only[] = {CCM8_13};

static void need_ccm8(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->aead[CDTLS_AEAD_AES_128_CCM_8] || !p->sn_mask[CDTLS_SN_MASK_AES_128])
        cr_skip_test("provider %s has no AES-128-CCM_8 or no AES record-number mask", p->name);
}

static void configs(cdtls_config *cc, cdtls_config *sc, int server_names_it)
{
    cdtls_config_init(cc);
    cdtls_config_init(sc);
    cc->psk.key = sc->psk.key = psk;
    cc->psk.key_len = sc->psk.key_len = sizeof psk;
    cc->psk.identity = sc->psk.identity = (const uint8_t *)"ccm8";
    cc->psk.identity_len = sc->psk.identity_len = 4;
    cc->versions.min = cc->versions.max = CDTLS_VERSION_1_3;
    cc->negotiate.cipher_suites = ccm8_only;
    cc->negotiate.n_cipher_suites = 1;
    if (server_names_it) {
        sc->negotiate.cipher_suites = ccm8_only;
        sc->negotiate.n_cipher_suites = 1;
    }
    sc->cookie.exchange = 0;
}

static void shuttle(cdtls_conn *a, cdtls_conn *b, uint64_t now)
{
    test_shuttle(a, b, now, NULL);
}

static void open_pair(cdtls_conn **c, cdtls_conn **s, int server_names_it)
{
    cdtls_config cc, sc;
    configs(&cc, &sc, server_names_it);
    cr_assert_eq(cdtls_conn_new(&cc, CDTLS_CLIENT, 1000, c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_new(&sc, CDTLS_SERVER, 1000, s), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(*c, 1000), CDTLS_OK);
    shuttle(*c, *s, 1000);
}

/* One record from one side, its datagram handed back to the caller. */
static size_t one_record(cdtls_conn *from, const uint8_t *msg, size_t len, uint8_t *d, size_t cap)
{
    cr_assert_eq(cdtls_conn_write(from, msg, len, NULL), CDTLS_OK);
    size_t n = 0;
    cr_assert_eq(cdtls_conn_next_datagram(from, d, cap, &n, NULL), CDTLS_OK);
    return n;
}

static void read_exact(cdtls_conn *to, const uint8_t *msg, size_t len)
{
    uint8_t got[256];
    size_t n = 0;
    cr_assert_eq(cdtls_conn_read(to, got, sizeof got, &n, NULL), CDTLS_OK);
    cr_assert(n == len && memcmp(got, msg, len) == 0);
}

Test(ccm8_13, psk_handshake_and_data)
{
    need_ccm8();
    cdtls_conn *c, *s;
    open_pair(&c, &s, 1);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_ESTABLISHED, "client: %s",
                 cdtls_strerror(cdtls_conn_error(c)));
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED, "server: %s",
                 cdtls_strerror(cdtls_conn_error(s)));
    cr_assert_eq(cdtls_conn_version(c), CDTLS_VERSION_1_3);
    cr_assert_eq(cdtls_conn_cipher_suite(c), CCM8_13);
    cr_assert_eq(cdtls_conn_cipher_suite(s), CCM8_13);
    cr_assert_str_eq(cdtls_cipher_suite_name(CCM8_13), "TLS_AES_128_CCM_8_SHA256");
    /* 100 bytes of data: unified header (1 + 2-byte sequence + 2-byte
     * length), content, the inner content type, and an 8-byte tag (RFC
     * 9147 §4; a 16-byte tag would make it 122) */
    uint8_t msg[100], d[512];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + 1);
    size_t n = one_record(c, msg, sizeof msg, d, sizeof d);
    cr_assert_eq(n, 5 + sizeof msg + 1 + 8);
    cr_assert_eq(cdtls_conn_recv(s, d, n, NULL, 1000), CDTLS_OK);
    read_exact(s, msg, sizeof msg);
    n = one_record(s, msg, 37, d, sizeof d);
    cr_assert_eq(n, 5 + 37 + 1 + 8);
    cr_assert_eq(cdtls_conn_recv(c, d, n, NULL, 1000), CDTLS_OK);
    read_exact(c, msg, 37);
    /* a small record: padded to the 16 bytes of ciphertext the record
     * number mask samples (§4.2.3) */
    n = one_record(c, msg, 1, d, sizeof d);
    cr_assert_eq(n, 5 + 16);
    cr_assert_eq(cdtls_conn_recv(s, d, n, NULL, 1000), CDTLS_OK);
    read_exact(s, msg, 1);
    /* KeyUpdate under CCM_8: the next epoch works the same */
    cr_assert_eq(cdtls_conn_update_keys(c, 1), CDTLS_OK);
    shuttle(c, s, 1000);
    n = one_record(c, msg, 50, d, sizeof d);
    cr_assert_eq(cdtls_conn_recv(s, d, n, NULL, 1000), CDTLS_OK);
    read_exact(s, msg, 50);
    n = one_record(s, msg, 60, d, sizeof d);
    cr_assert_eq(cdtls_conn_recv(c, d, n, NULL, 1000), CDTLS_OK);
    read_exact(c, msg, 60);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

/* Never a default: a server that does not name the suite does not take a
 * client offering only it (handshake_failure), though it has the AEAD. */
Test(ccm8_13, not_accepted_unless_configured)
{
    need_ccm8();
    cdtls_conn *c, *s;
    open_pair(&c, &s, 0);
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(s), CDTLS_ERR_HANDSHAKE_FAILURE);
    cr_assert_eq(cdtls_conn_get_state(c), CDTLS_STATE_FAILED);
    cr_assert_eq(cdtls_conn_error(c), CDTLS_ERR_PEER_ALERT);
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

/* 2^7 records failing authentication under one key (ccm8_limits): each
 * forgery is a real record of the client's with the last tag byte flipped
 * (the record-number mask, taken from the first 16 bytes of ciphertext,
 * is unchanged, so each is a fresh sequence number, not a replay). The
 * 127th leaves the connection up and a real record still arrives; the
 * 128th ends it with CDTLS_ERR_LIMIT and bad_record_mac (§4.5.3). */
Test(ccm8_13, integrity_limit_2_7)
{
    need_ccm8();
    cdtls_conn *c, *s;
    open_pair(&c, &s, 1);
    cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED);
    uint8_t msg[40] = "forge me, forge me, forge me, forge me!", d[512];
    for (int i = 1; i <= 128; i++) {
        size_t n = one_record(c, msg, sizeof msg, d, sizeof d);
        d[n - 1] ^= 0x01;
        int rc = cdtls_conn_recv(s, d, n, NULL, 1000);
        uint8_t got[64];
        size_t gn;
        /* nothing delivered; after the last, reads give the failure */
        cr_assert_eq(cdtls_conn_read(s, got, sizeof got, &gn, NULL),
                     i < 128 ? CDTLS_ERR_WOULD_BLOCK : CDTLS_ERR_LIMIT, "forgery %d read", i);
        if (i < 128) {
            cr_assert_eq(rc, CDTLS_OK, "forgery %d: %s", i, cdtls_strerror(rc));
            cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_ESTABLISHED);
        } else {
            cr_assert_eq(rc, CDTLS_ERR_LIMIT, "forgery 128: %s", cdtls_strerror(rc));
            cr_assert_eq(cdtls_conn_get_state(s), CDTLS_STATE_FAILED);
        }
        if (i == 127) {
            /* still working: a genuine record opens */
            n = one_record(c, msg, 10, d, sizeof d);
            cr_assert_eq(cdtls_conn_recv(s, d, n, NULL, 1000), CDTLS_OK);
            read_exact(s, msg, 10);
        }
    }
    /* the server said why, under its application keys */
    uint8_t alert[128];
    size_t an = 0;
    cr_assert_eq(cdtls_conn_next_datagram(s, alert, sizeof alert, &an, NULL), CDTLS_OK);
    cr_assert_eq(cdtls_conn_recv(c, alert, an, NULL, 1000), CDTLS_ERR_PEER_ALERT);
    uint8_t level = 0, desc = 0;
    cr_assert_eq(cdtls_conn_peer_alert(c, &level, &desc), 1);
    cr_assert_eq(level, 2);
    cr_assert_eq(desc, 20); /* bad_record_mac */
    cdtls_conn_free(c);
    cdtls_conn_free(s);
}

#else
Test(ccm8_13, compiled_out)
{
    cr_skip_test("DTLS 1.3 compiled out (-Ddtls13=false)");
}
#endif /* CDTLS_HAVE_DTLS13 */
