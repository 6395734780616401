/* Where the cookie goes in our DTLS 1.3 ClientHello. A second hello that
 * carries an X25519MLKEM768 share (1,216 bytes of key) is longer than the
 * default MTU (1200) and goes out in fragments; wolfSSL 5.9.2's server,
 * which checks the cookie statelessly, looks for it in the fragment at
 * offset 0 only (src/dtls.c, WOLFSSL_DTLS_CH_FRAG: "Cookie probably missing
 * from first fragment. Dropping.") and never answered our hello, whose
 * cookie came after the key shares (issue 17: interop_wolfssl
 * resumption13_mlkem_our_client_vs_wolf_server timed out in its first
 * handshake). RFC 8446 §4.2 fixes no order but pre_shared_key last, so the
 * cookie is written before the key shares. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/dtls.h"
#include "common/writer.h"
#include "handshake/hs13_msg.h"

/* The body bytes of the first fragment at MTU 1200: the datagram less the
 * record header (13) and the handshake header (12). */
#define FIRST_FRAGMENT_BODY (1200u - 13u - 12u)

Test(hs13_cookie_order, cookie_in_the_first_fragment_of_a_hybrid_hello)
{
    static uint8_t hybrid[1216], cookie[69];
    memset(hybrid, 0x5a, sizeof hybrid);
    memset(cookie, 0xc0, sizeof cookie);
    static const uint16_t suites[] = {0x1301}, groups[] = {0x11ec, 0x001d}, sig_algs[] = {0x0403};
    static const uint16_t versions[] = {0xfefc};
    const hs13_key_share shares[1] = {{0x11ec, hybrid, sizeof hybrid}};
    hs13_client_hello_params in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    for (int i = 0; i < 32; i++) in.legacy.random[i] = (uint8_t)i;
    in.legacy.suites = suites, in.legacy.n_suites = 1;
    in.legacy.groups = groups, in.legacy.n_groups = 2;
    in.legacy.sig_algs = sig_algs, in.legacy.n_sig_algs = 1;
    in.legacy.ext.server_name = (const uint8_t *)"server.example.com";
    in.legacy.ext.server_name_len = 18;
    in.versions = versions, in.n_versions = 1;
    in.shares = shares, in.n_shares = 1;
    in.cookie = cookie, in.cookie_len = sizeof cookie;
    in.psk_modes = 1u << HS13_PSK_DHE_KE;
    uint8_t buf[2048];
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    cr_assert_eq(hs13_client_hello_write(&w, &in, NULL), CDTLS_OK);
    cr_assert_gt(w.len, FIRST_FRAGMENT_BODY, "the hello needs fragments at MTU 1200 (%zu bytes)", w.len);
    hs13_client_hello ch;
    cr_assert_eq(hs13_client_hello_parse(buf, w.len, &ch), CDTLS_OK);
    cr_assert(ch.cookie && ch.cookie_len == sizeof cookie && memcmp(ch.cookie, cookie, sizeof cookie) == 0);
    size_t cookie_end = (size_t)(ch.cookie - buf) + ch.cookie_len;
    cr_assert_leq(cookie_end, FIRST_FRAGMENT_BODY,
                  "the cookie ends at byte %zu of the hello, after the first "
                  "fragment (%u bytes)",
                  cookie_end, FIRST_FRAGMENT_BODY);
    cr_assert(ch.cookie < ch.key_shares, "the cookie before the key shares");
    hs13_key_share got;
    cr_assert(hs13_client_hello_find_share(&ch, 0x11ec, &got));
    cr_assert_eq(got.key_len, sizeof hybrid);
}
