/* ALPN, DTLS-SRTP and the keying material exporter against OpenSSL, both
 * roles: OpenSSL must choose (or accept) the same protocol and SRTP
 * profile, and print the same exported bytes as cdtls computes
 * (s_server / s_client -keymatexport). PSK-CHACHA20-POLY1305, which both
 * providers have. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cdtls/cdtls.h"
#include "udp_driver.h"

#define APP_PSK_HEX "00112233445566778899aabbccddeeff"
static const uint8_t app_psk[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const char app_identity[] = "cdtls-app";
static const uint16_t app_suite[] = {CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256};
static const char *const alpn_offer[] = {"h2", "webrtc"};
static const uint16_t srtp_offer[] = {CDTLS_SRTP_AEAD_AES_128_GCM, CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};
#define EXPORT_LABEL "EXPERIMENTAL-cdtls-interop"

static void app_config(cdtls_config *cfg)
{
    cdtls_config_init(cfg);
    cfg->psk.key = app_psk;
    cfg->psk.key_len = sizeof app_psk;
    cfg->psk.identity = (const uint8_t *)app_identity;
    cfg->psk.identity_len = sizeof app_identity - 1;
    cfg->negotiate.cipher_suites = app_suite;
    cfg->negotiate.n_cipher_suites = 1;
    cfg->alpn.protocols = alpn_offer;
    cfg->alpn.n_protocols = 2;
    cfg->srtp.profiles = srtp_offer;
    cfg->srtp.n_profiles = 2;
}

/* "Keying material: <HEX>" as OpenSSL prints it (upper-case hex). */
static void expected_line(const cdtls_conn *c, char *line, size_t cap)
{
    uint8_t km[32];
    cr_assert_eq(cdtls_conn_export_keying_material(c, EXPORT_LABEL, NULL, 0, 0, km, sizeof km), CDTLS_OK);
    size_t n = (size_t)snprintf(line, cap, "Keying material: ");
    for (size_t i = 0; i < sizeof km && n + 2 < cap; i++)
        n += (size_t)snprintf(line + n, cap - n, "%02X", km[i]);
}

static void require_chacha(void)
{
    if (!cdtls_cipher_suite_supported(cdtls_provider_default(), app_suite[0]))
        cr_skip_test("no ChaCha20-Poly1305 in this provider");
}

Test(interop_app, client_vs_openssl_server, .timeout = 30)
{
    require_chacha();
    uint16_t port = udp_free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    /* OpenSSL's server prefers its own order: webrtc, AES128_CM_SHA1_80 */
    char *argv[] = {"openssl",
                    "s_server",
                    "-dtls1_2",
                    "-nocert",
                    "-psk",
                    APP_PSK_HEX,
                    "-psk_identity",
                    (char *)app_identity,
                    "-cipher",
                    "PSK-CHACHA20-POLY1305",
                    "-alpn",
                    "webrtc,h2",
                    "-use_srtp",
                    "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
                    "-keymatexport",
                    EXPORT_LABEL,
                    "-keymatexportlen",
                    "32",
                    "-accept",
                    accept,
                    "-naccept",
                    "1",
                    NULL};
    child srv;
    cr_assert_eq(child_start(&srv, argv), 0);
    cr_assert(child_output_contains(&srv, "ACCEPT", 5000), "s_server did not start");
    cdtls_config cfg;
    app_config(&cfg);
    cdtls_conn *c;
    udp_peer u = {.have_peer = 1};
    u.fd = udp_open(0, NULL);
    cr_assert(u.fd >= 0);
    u.peer.sin_family = AF_INET;
    u.peer.sin_port = htons(port);
    u.peer.sin_addr.s_addr = htonl(0x7f000001u);
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_CLIENT, udp_now_ms(), &c), CDTLS_OK);
    cr_assert_eq(cdtls_conn_start(c, udp_now_ms()), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(&srv, 1);
    cr_assert_eq(ok, 1, "handshake: %s", cdtls_strerror(cdtls_conn_error(c)));
    size_t n;
    const uint8_t *proto = cdtls_conn_alpn(c, &n);
    cr_assert(proto && n == 6 && memcmp(proto, "webrtc", 6) == 0, "ALPN chosen by OpenSSL");
    cr_assert_eq(cdtls_conn_srtp_profile(c), CDTLS_SRTP_AES128_CM_HMAC_SHA1_80);
    char line[128];
    expected_line(c, line, sizeof line);
    int same = child_output_contains(&srv, line, 5000);
    if (!same) child_stop(&srv, 1);
    cr_assert(same, "OpenSSL did not export %s", line);
    cr_assert(child_output_contains(&srv, "SRTP_AES128_CM_SHA1_80", 1000));
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    close(u.fd);
    child_stop(&srv, 0);
}

Test(interop_app, server_vs_openssl_client, .timeout = 30)
{
    require_chacha();
    uint16_t port;
    int fd = udp_open(0, &port);
    cr_assert(fd >= 0);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    char *argv[] = {"openssl",
                    "s_client",
                    "-dtls1_2",
                    "-psk",
                    APP_PSK_HEX,
                    "-psk_identity",
                    (char *)app_identity,
                    "-cipher",
                    "PSK-CHACHA20-POLY1305",
                    "-alpn",
                    "coap,webrtc",
                    "-use_srtp",
                    "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
                    "-keymatexport",
                    EXPORT_LABEL,
                    "-keymatexportlen",
                    "32",
                    "-connect",
                    connect,
                    NULL};
    child cli;
    cr_assert_eq(child_start(&cli, argv), 0);
    cdtls_config cfg;
    app_config(&cfg); /* our server prefers: h2, webrtc; AEAD_AES_128_GCM, AES128_CM_80 */
    cdtls_conn *c;
    udp_peer u = {.fd = fd};
    cr_assert_eq(cdtls_conn_new(&cfg, CDTLS_SERVER, udp_now_ms(), &c), CDTLS_OK);
    int ok = udp_handshake(c, &u, 8000);
    if (ok != 1) child_stop(&cli, 1);
    cr_assert_eq(ok, 1, "handshake: %s", cdtls_strerror(cdtls_conn_error(c)));
    size_t n;
    const uint8_t *proto = cdtls_conn_alpn(c, &n);
    cr_assert(proto && n == 6 && memcmp(proto, "webrtc", 6) == 0);
    cr_assert_eq(cdtls_conn_srtp_profile(c), CDTLS_SRTP_AEAD_AES_128_GCM);
    char line[128];
    expected_line(c, line, sizeof line);
    int same = child_output_contains(&cli, line, 5000);
    if (!same) child_stop(&cli, 1);
    cr_assert(same, "OpenSSL did not export %s", line);
    cr_assert(child_output_contains(&cli, "ALPN protocol: webrtc", 1000));
    cr_assert(child_output_contains(&cli, "SRTP_AEAD_AES_128_GCM", 1000));
    cdtls_conn_close(c);
    udp_flush(c, &u);
    cdtls_conn_free(c);
    child_stop(&cli, 0);
    close(fd);
}
