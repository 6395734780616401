/* A firmware image for a Cortex-M4 (thumb, no C library, no OS): the cdtls
 * core in its PSK-only build (CDTLS_PSK_ONLY, CDTLS_FREESTANDING) with
 * TLS_PSK_WITH_AES_128_CCM_8 over BearSSL's SHA-256, HMAC and AES-CCM
 * (cdtls_provider_bearssl_psk_ccm8). `zig build firmware` links it with
 * section GC; docs/portability.md reports its size, which is the point of
 * this file: what a constrained device carries for DTLS.
 *
 * At start-up it runs a complete handshake between a client and a server
 * in memory and one application record each way: a power-on self-test that
 * also keeps every code path of a real session in the image. A product
 * would keep one role and hand cdtls_conn_next_datagram()'s datagrams to
 * its radio.
 *
 * Memory: one static arena behind the allocator hooks (no malloc).
 * Randomness: the STM32F4 hardware RNG (RM0090 §24: RNG_CR at 0x50060800,
 * RNG_SR +4, RNG_DR +8), conditioned by a BearSSL HMAC-DRBG. On another
 * MCU, replace board_entropy(). */
#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

#include "cdtls/cdtls.h"

/* ------------------------------------------------------------ libc bits */
/* No C library here: the compiler may still emit calls to these. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* --------------------------------------------------------------- memory */
/* A bump arena: connections are made at start-up and live for the image's
 * life; free() returns the block only if it was the last one handed out.
 * Size: scripts/psk-only-check.sh measures a client and a server of this
 * configuration on a 64-bit host at 23.4 KB peak and 27.4 KB allocated in
 * all (through 20 % loss); pointers are half as wide here. */
static _Alignas(8) uint8_t arena[32 * 1024];
static size_t arena_used;

static void *arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    size = (size + 7u) & ~(size_t)7u;
    if (size > sizeof arena - arena_used) return NULL;
    void *p = arena + arena_used;
    arena_used += size;
    return p;
}

static void arena_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    size = (size + 7u) & ~(size_t)7u;
    if (ptr && (uint8_t *)ptr + size == arena + arena_used) arena_used -= size;
}

static const cdtls_allocator arena_allocator = {arena_alloc, arena_free, NULL};

/* ----------------------------------------------------------- randomness */
#define RNG_BASE 0x50060800u
#define RNG_CR (*(volatile uint32_t *)(RNG_BASE + 0x0u))
#define RNG_SR (*(volatile uint32_t *)(RNG_BASE + 0x4u))
#define RNG_DR (*(volatile uint32_t *)(RNG_BASE + 0x8u))

static int board_entropy(uint8_t *out, size_t len)
{
    RNG_CR |= 1u << 2; /* RNGEN */
    while (len) {
        uint32_t sr;
        unsigned spins = 0;
        while (!((sr = RNG_SR) & 1u)) /* DRDY */
            if (++spins > 100000u) return CDTLS_ERR_RANDOM;
        if (sr & ((1u << 5) | (1u << 6))) return CDTLS_ERR_RANDOM; /* CEIS / SEIS */
        uint32_t w = RNG_DR;
        for (int i = 0; i < 4 && len; i++, len--) *out++ = (uint8_t)(w >> (8 * i));
    }
    return CDTLS_OK;
}

static br_hmac_drbg_context drbg;
static int drbg_ready;

static int fw_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    (void)self;
    if (!drbg_ready) {
        uint8_t seed[32];
        int rc = board_entropy(seed, sizeof seed);
        if (rc) return rc;
        br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof seed);
        for (volatile uint8_t *w = seed; w < seed + sizeof seed; w++) *w = 0; /* wipe */
        drbg_ready = 1;
    }
    br_hmac_drbg_generate(&drbg, out, len);
    return CDTLS_OK;
}

/* cdtls_provider_default() for this image: BearSSL cut to PSK + CCM_8,
 * with the board's random source. Naming it here (instead of linking
 * providers/bearssl/default.c) is what keeps the full provider table, and
 * with it the rest of BearSSL, out of the image. */
static cdtls_provider fw_provider;

const cdtls_provider *cdtls_provider_default(void)
{
    if (!fw_provider.abi_version) {
        fw_provider = *cdtls_provider_bearssl_psk_ccm8();
        fw_provider.random = fw_random;
    }
    return &fw_provider;
}

/* ------------------------------------------------------------ self-test */
static const uint8_t psk[16] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81,
                                0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8, 0x09};
static const uint8_t identity[] = "sensor-0001";
static const uint16_t suites[] = {CDTLS_PSK_WITH_AES_128_CCM_8};
static uint8_t dgram[1280];

/* Moves every pending datagram from one side to the other. */
static void pump(cdtls_conn *from, cdtls_conn *to, uint64_t now)
{
    size_t n;
    while (cdtls_conn_next_datagram(from, dgram, sizeof dgram, &n, NULL) == CDTLS_OK)
        (void)cdtls_conn_recv(to, dgram, n, NULL, now);
}

static int self_test(void)
{
    cdtls_config cfg;
    cdtls_config_init(&cfg);
    cfg.allocator = &arena_allocator;
    cfg.negotiate.cipher_suites = suites;
    cfg.negotiate.n_cipher_suites = 1;
    cfg.psk.key = psk;
    cfg.psk.key_len = sizeof psk;
    cfg.psk.identity = identity;
    cfg.psk.identity_len = sizeof identity - 1;
    cfg.mtu = 256; /* a small radio frame: the flights are fragmented */
    cdtls_conn *client = NULL, *server = NULL;
    uint64_t now = 0;
    int rc = cdtls_conn_new(&cfg, CDTLS_CLIENT, now, &client);
    if (!rc) rc = cdtls_conn_new(&cfg, CDTLS_SERVER, now, &server);
    if (!rc) rc = cdtls_conn_set_peer_address(server, "radio", 5);
    if (!rc) rc = cdtls_conn_start(client, now);
    for (int round = 0; !rc && round < 16; round++) {
        pump(client, server, now);
        pump(server, client, now);
        if (cdtls_conn_get_state(client) == CDTLS_STATE_ESTABLISHED &&
            cdtls_conn_get_state(server) == CDTLS_STATE_ESTABLISHED)
            break;
    }
    if (!rc && cdtls_conn_get_state(client) != CDTLS_STATE_ESTABLISHED) rc = CDTLS_ERR_HANDSHAKE_FAILURE;
    static const uint8_t hello[] = "reading: 21.5 C";
    uint8_t back[32];
    size_t n = 0;
    if (!rc) rc = cdtls_conn_write(client, hello, sizeof hello - 1, NULL);
    if (!rc) pump(client, server, now);
    if (!rc) rc = cdtls_conn_read(server, back, sizeof back, &n, NULL);
    if (!rc && (n != sizeof hello - 1 || memcmp(back, hello, n) != 0)) rc = CDTLS_ERR_AUTH;
    if (!rc) rc = cdtls_conn_write(server, back, n, NULL);
    if (!rc) pump(server, client, now);
    if (!rc) rc = cdtls_conn_read(client, back, sizeof back, &n, NULL);
    cdtls_conn_free(client);
    cdtls_conn_free(server);
    return rc;
}

/* The entry point (the linker's entry symbol); a real image's reset
 * handler would call it after setting up clocks and the stack. */
int firmware_main(void);
volatile int firmware_status;

int firmware_main(void)
{
    firmware_status = self_test();
    for (;;) {
        /* a product would now serve its radio; the image idles */
    }
}
