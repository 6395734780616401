/* The engine driver shared by fuzz_engine_client.c, fuzz_engine_server.c
 * and gen_corpus.c: one connection of cdtls (the target) under the
 * deterministic provider and clock of fuzz_common.h, fed the datagrams of
 * its peer one step at a time.
 *
 * Why shared: a recorded peer datagram (a ServerHello echoing our random, a
 * Finished whose MAC covers our transcript, a cookie made from our
 * ClientHello) is only valid if the target does exactly what it did when
 * gen_corpus recorded it: the same configuration, the same random bytes in
 * the same order, the same clock readings, the same writes. So the
 * generator runs the target through these very functions, and a seed
 * replayed by a harness walks the whole handshake into application data.
 *
 * Input of an engine harness: byte 0 picks the scenario (modulo their
 * number); the rest is parts as fuzz_common.h frames them: a datagram the
 * peer sends, FUZZ_TIMER_MARK, which fires the target's timer, or
 * FUZZ_NEXT_CONN_MARK, which starts the target's next connection with the
 * same configuration and session store (a resumed handshake), or
 * FUZZ_FORGE_MARK and a part [content type][plaintext]: an epoch-1 record
 * sealed with the keys the target reads the peer's records with (AEAD
 * suites), so the fuzzer reaches what an authenticated peer can send
 * (encrypted handshake messages, renegotiation, protected alerts, CID inner
 * plaintext) instead of having every mutated epoch-1 record fail
 * authentication. This is the one place the driver looks inside the
 * connection (engine/conn_internal.h). */
#ifndef CDTLS_FUZZ_ENGINE_H
#define CDTLS_FUZZ_ENGINE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/config.h"
#include "cdtls/conn.h"
#include "cdtls/srtp.h"
#include "cdtls/suites.h"
#include "cdtls/x509.h"
#include "engine/conn_internal.h"
#include "fuzz_common.h"
#include "handshake/suites.h"
#include "record/record.h"
#if CDTLS_HAVE_DTLS13
#include "engine/hs13_internal.h"
#include "record/record13.h"
#endif

#ifndef FUZZ_CERT_DIR
#define FUZZ_CERT_DIR "fuzz/certs"
#endif

/* Each datagram arrives this much later than the one before. */
#define FUZZ_STEP_MS 10u

/* ------------------------------------------------------------ fixtures */

typedef struct fuzz_identity {
    uint8_t *der[3];
    size_t len[3];
    size_t n;
    cdtls_sign_key *key;
    uint8_t *anchor_der;
    size_t anchor_len;
    cdtls_x509_cert anchor;
} fuzz_identity;

enum { FI_ECDSA, FI_ECDSA_CLIENT, FI_RSA, FI_ED25519, FI__COUNT };

typedef struct fuzz_fixtures {
    int loaded;
    fuzz_identity id[FI__COUNT];
    uint8_t spki[CDTLS_X509_SPKI_MAX]; /* the ECDSA leaf's key, for raw public keys */
    size_t spki_len;
    uint8_t spki_pin[32];
} fuzz_fixtures;

static fuzz_fixtures fuzz_fx;

#ifdef FUZZ_EMBEDDED_CERTS
/* OSS-Fuzz and ClusterFuzzLite run the binaries away from the source tree:
 * oss-fuzz/build.sh compiles fuzz/certs into the harnesses
 * (oss-fuzz/embed-certs.sh writes this header). */
#include "fuzz_certs_embedded.h"
#endif

static uint8_t *fuzz_read_file(const char *name, size_t *len)
{
#ifdef FUZZ_EMBEDDED_CERTS
    for (size_t i = 0; i < sizeof fuzz_embedded_certs / sizeof fuzz_embedded_certs[0]; i++) {
        if (strcmp(fuzz_embedded_certs[i].name, name) != 0) continue;
        uint8_t *copy = malloc(fuzz_embedded_certs[i].len);
        if (!copy) abort();
        memcpy(copy, fuzz_embedded_certs[i].data, fuzz_embedded_certs[i].len);
        *len = fuzz_embedded_certs[i].len;
        return copy;
    }
    fprintf(stderr, "fuzz: %s is not among the embedded certificates\n", name);
    abort();
#else
    const char *dir = getenv("CDTLS_FUZZ_CERTS");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : FUZZ_CERT_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: cannot open %s (set CDTLS_FUZZ_CERTS to fuzz/certs)\n", path);
        abort();
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
#endif
}

/* The identities come from fuzz/certs (made once by
 * tests/x509/make-certs.sh and committed, so recorded handshakes stay
 * valid); they are loaded through the fuzzing provider (its keys wrap the
 * real provider's, which needs no randomness for that). */
static void fuzz_identity_load(fuzz_identity *id, const char *const *certs, const char *key,
                               const char *anchor)
{
    const cdtls_provider *p = cdtls_provider_fuzz_crypto();
    for (id->n = 0; certs[id->n]; id->n++) id->der[id->n] = fuzz_read_file(certs[id->n], &id->len[id->n]);
    size_t klen;
    uint8_t *k = fuzz_read_file(key, &klen);
    if (cdtls_private_key_load(p, NULL, k, klen, &id->key) != CDTLS_OK) id->key = NULL;
    free(k);
    id->anchor_der = fuzz_read_file(anchor, &id->anchor_len);
    if (cdtls_x509_parse(id->anchor_der, id->anchor_len, &id->anchor) != CDTLS_OK) abort();
}

static void fuzz_fixtures_load(void)
{
    if (fuzz_fx.loaded) return;
    fuzz_fx.loaded = 1;
    static const char *const ec[] = {"leaf.der", "int.der", NULL};
    static const char *const ec_client[] = {"clientonly.der", "int.der", NULL};
    static const char *const rsa[] = {"rsaleaf.der", NULL};
    static const char *const ed[] = {"ed.der", NULL};
    fuzz_identity_load(&fuzz_fx.id[FI_ECDSA], ec, "leaf.key", "root.der");
    /* clientonly.der was issued for leaf.key's request: same key */
    fuzz_identity_load(&fuzz_fx.id[FI_ECDSA_CLIENT], ec_client, "leaf.key", "root.der");
    fuzz_identity_load(&fuzz_fx.id[FI_RSA], rsa, "rsaleaf.key", "rsaroot.der");
    fuzz_identity_load(&fuzz_fx.id[FI_ED25519], ed, "ed.key", "ed.der");
    cdtls_x509_cert leaf;
    const fuzz_identity *e = &fuzz_fx.id[FI_ECDSA];
    if (cdtls_x509_parse(e->der[0], e->len[0], &leaf) != CDTLS_OK ||
        cdtls_x509_spki_encode(&leaf.key, fuzz_fx.spki, sizeof fuzz_fx.spki, &fuzz_fx.spki_len) != CDTLS_OK)
        abort();
    const cdtls_hash_vt *h = cdtls_provider_fuzz_crypto()->hash[CDTLS_HASH_SHA256];
    cdtls_hash_ctx hc;
    h->init(&hc);
    h->update(&hc, fuzz_fx.spki, fuzz_fx.spki_len);
    h->final(&hc, fuzz_fx.spki_pin);
}

/* ----------------------------------------------------------- scenarios */

enum {
    SC_PSK_HINT = 1u << 0,    /* the server sends an identity hint */
    SC_NO_EMS = 1u << 1,      /* extended master secret disabled on both sides */
    SC_NO_ETM = 1u << 2,      /* encrypt_then_mac off on both sides */
    SC_CERT_ECDSA = 1u << 3,  /* server: ECDSA chain leaf+int under root */
    SC_CERT_RSA = 1u << 4,    /* server: RSA leaf under rsaroot */
    SC_CERT_ED = 1u << 5,     /* server: self-signed Ed25519 */
    SC_CLIENT_AUTH = 1u << 6, /* server requires and verifies; client: clientonly+int */
    SC_CID = 1u << 7,         /* connection IDs both ways (8 bytes) */
    SC_ALPN_SRTP = 1u << 8,   /* ALPN and use_srtp with an MKI */
    SC_RPK = 1u << 9,         /* raw public keys (RFC 7250), pinned */
    SC_VERIFIER = 1u << 10,   /* server: stateless cdtls_hello_verifier first */
    SC_NO_COOKIE = 1u << 11,  /* server: no HelloVerifyRequest */
    SC_REPLAY_WIN = 1u << 12, /* replay window 1024, early records 2 */
    SC_RESUME = 1u << 13,     /* session store on both sides (resumption by session ID) */
    SC_TICKET = 1u << 14,     /* client store + session_tickets; server ticket keys */
    SC_HYBRID = 1u << 15,     /* ML-KEM-768 (the stand-in) both sides: 1.3 leads with X25519MLKEM768 */
    SC_RRC = 1u << 16,        /* RFC 9853 (with SC_CID): datagrams from one of three addresses */
    SC_CID13 = 1u << 17,      /* 1.3, with SC_CID: both sides issue and request CIDs once established
                                 (NewConnectionId / RequestConnectionId, RFC 9147 §9) */
    SC_PHA = 1u << 18,        /* 1.3: the client offers post_handshake_auth (clientonly+int), the
                                 server asks for it once established (RFC 8446 §4.6.2) */
};

typedef struct fuzz_scenario {
    const char *name;
    uint16_t suite;
    uint16_t group; /* 0 = the default list */
    unsigned mtu;   /* 0 = default (1200); small ones fragment the flights */
    unsigned flags;
} fuzz_scenario;

static const fuzz_scenario fuzz_scenarios[] = {
    {"psk-ccm8", CDTLS_PSK_WITH_AES_128_CCM_8, 0, 0, 0},
    {"psk-gcm-mtu128", CDTLS_PSK_WITH_AES_128_GCM_SHA256, 0, 128, SC_PSK_HINT},
    {"psk-cbc-etm", CDTLS_PSK_WITH_AES_128_CBC_SHA256, 0, 0, SC_PSK_HINT},
    {"psk-cbc-noetm-noems", CDTLS_PSK_WITH_AES_128_CBC_SHA256, 0, 0, SC_NO_ETM | SC_NO_EMS},
    {"psk-aes256gcm-nocookie", CDTLS_PSK_WITH_AES_256_GCM_SHA384, 0, 0, SC_NO_COOKIE},
    {"psk-chacha-verifier", CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256, 0, 0, SC_VERIFIER},
    {"ecdhe-psk-chacha-x25519", CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, 29, 0, SC_REPLAY_WIN},
    {"ecdhe-psk-gcm-p256-cid", CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256, 23, 0, SC_CID},
    {"ecdsa-gcm", CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 23, 0, SC_CERT_ECDSA},
    {"ecdsa-gcm384-auth-mtu256", CDTLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 24, 256,
     SC_CERT_ECDSA | SC_CLIENT_AUTH},
    {"ecdsa-ccm8-rpk", CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, 29, 0, SC_RPK},
    {"ecdsa-cbc-alpn-srtp", CDTLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, 29, 0, SC_CERT_ECDSA | SC_ALPN_SRTP},
    {"rsa-cbc-p384", CDTLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, 24, 0, SC_CERT_RSA},
    {"rsa-chacha-cid-alpn-mtu300", CDTLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 29, 300,
     SC_CERT_RSA | SC_CID | SC_ALPN_SRTP},
    {"ed25519-chacha", CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 29, 0, SC_CERT_ED},
    {"ed25519-chacha-auth-cid", CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 29, 200,
     SC_CERT_ED | SC_CLIENT_AUTH | SC_CID},
    /* suite 0: the default lists of suites and groups on both sides, so the
     * hellos carry everything this build offers and the server chooses */
    {"defaults-psk", 0, 0, 0, 0},
    {"defaults-ecdsa-psk-alpn", 0, 0, 0, SC_CERT_ECDSA | SC_ALPN_SRTP},
    /* two connections each: a full handshake, then a resumed one */
    {"psk-gcm-resume-id", CDTLS_PSK_WITH_AES_128_GCM_SHA256, 0, 0, SC_RESUME},
    {"ecdsa-chacha-resume-ticket-cid", CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 29, 0,
     SC_CERT_ECDSA | SC_TICKET | SC_CID},
    {"ecdhe-psk-cbc-resume-ticket", CDTLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256, 29, 0, SC_TICKET},
    /* DTLS 1.3 with X25519MLKEM768 (docs/pq.md): at MTU 1200 an X25519
     * share first, the cookie HelloRetryRequest asking for the hybrid and a
     * fragmented second hello; both shares in one datagram at MTU 1472 */
    {"defaults-psk-hybrid", 0, 0, 0, SC_HYBRID},
    {"defaults-ecdsa-hybrid-nocookie-mtu1472", 0, 0, 1472, SC_HYBRID | SC_CERT_ECDSA | SC_NO_COOKIE},
    /* return routability (RFC 9853): the server runs the enhanced check;
     * forged records of type 27 reach the RRC parser */
    {"psk-gcm-cid-rrc", CDTLS_PSK_WITH_AES_128_GCM_SHA256, 0, 0, SC_CID | SC_RRC},
    /* DTLS 1.3 with each suite pinned (issue 16): the defaults-* scenarios
     * above only reach the provider's first choice */
    {"tls13-aes128gcm-ecdsa", 0x1301, 0, 0, SC_CERT_ECDSA},
    {"tls13-aes256gcm-ecdsa", 0x1302, 0, 0, SC_CERT_ECDSA},
    {"tls13-chacha20-ecdsa", 0x1303, 0, 0, SC_CERT_ECDSA},
    {"tls13-aes128ccm-psk", 0x1304, 0, 0, 0},
    {"tls13-aes128gcm-psk", 0x1301, 0, 0, 0},
    /* DTLS 1.3 after the handshake (issue 17). Resumption, two connections
     * each: stateless tickets (server ticket_keys) and a stateful server
     * store; the first connection runs until the client has stored the
     * NewSessionTicket, the second offers it (pre_shared_key, binders,
     * psk_dhe_ke); the last with the X25519MLKEM768 hybrid share. */
    {"tls13-aes128gcm-psk-resume-ticket", 0x1301, 0, 0, SC_TICKET},
    {"tls13-chacha20-ecdsa-resume-store", 0x1303, 0, 0, SC_CERT_ECDSA | SC_RESUME},
    {"tls13-defaults-psk-hybrid-resume-ticket", 0, 0, 0, SC_HYBRID | SC_TICKET},
    /* CIDs: NewConnectionId and RequestConnectionId both ways, ACKed */
    {"tls13-aes128gcm-psk-cid-update", 0x1301, 0, 0, SC_CID | SC_CID13},
    /* post-handshake client authentication: CertificateRequest, then the
     * client's Certificate, CertificateVerify and Finished, after a PSK
     * handshake fragmented at MTU 400, and after a certificate handshake */
    {"tls13-aes128gcm-psk-pha-mtu400", 0x1301, 0, 400, SC_PHA},
    {"tls13-chacha20-ecdsa-pha", 0x1303, 0, 0, SC_CERT_ECDSA | SC_PHA},
};
#define FUZZ_N_SCENARIOS (sizeof fuzz_scenarios / sizeof fuzz_scenarios[0])

/* The scenario's provider: the fuzzing one, with the ML-KEM-768 stand-in
 * for SC_HYBRID (the engine scenarios run without a KEM otherwise). */
static void fuzz_scenario_provider(const fuzz_scenario *sc, cdtls_provider *p)
{
    if (sc->flags & SC_HYBRID) p->kem[CDTLS_KEM_MLKEM768] = cdtls_fuzz_kem_mlkem768();
}

/* Whether this build can run the scenario at all. */
static int fuzz_scenario_supported(const fuzz_scenario *sc)
{
    const cdtls_provider *p = cdtls_provider_fuzz_crypto();
    if (sc->suite >= 0x1301 && sc->suite <= 0x1304) {
        /* a 1.3 suite (cdtls_cipher_suite_supported knows the 1.2 ones):
         * 1.3 compiled in, and the provider's AEAD (+ record-number mask,
         * which comes with it) */
        static const cdtls_aead_alg alg13[] = {CDTLS_AEAD_AES_128_GCM, CDTLS_AEAD_AES_256_GCM,
                                               CDTLS_AEAD_CHACHA20_POLY1305, CDTLS_AEAD_AES_128_CCM};
        if (!CDTLS_HAVE_DTLS13 || !p->aead[alg13[sc->suite - 0x1301]]) return 0;
    } else if (sc->suite && !cdtls_cipher_suite_supported(p, sc->suite)) {
        return 0;
    }
    fuzz_fixtures_load();
    if ((sc->flags & (SC_CERT_ECDSA | SC_RPK)) && !fuzz_fx.id[FI_ECDSA].key) return 0;
    if ((sc->flags & SC_CERT_RSA) && !fuzz_fx.id[FI_RSA].key) return 0;
    if ((sc->flags & SC_CERT_ED) && !fuzz_fx.id[FI_ED25519].key) return 0;
    if ((sc->flags & SC_CLIENT_AUTH) && (sc->flags & SC_CERT_ED) && !fuzz_fx.id[FI_ED25519].key) return 0;
    if ((sc->flags & SC_CLIENT_AUTH) && !(sc->flags & SC_CERT_ED) && !fuzz_fx.id[FI_ECDSA_CLIENT].key)
        return 0;
    if ((sc->flags & SC_PHA) && !fuzz_fx.id[FI_ECDSA_CLIENT].key) return 0;
    /* the post-handshake messages of 1.3 */
    if ((sc->flags & (SC_CID13 | SC_PHA)) && !CDTLS_HAVE_DTLS13) return 0;
    if (sc->group == 23 && !p->kx[CDTLS_GROUP_SECP256R1]) return 0;
    if (sc->group == 24 && !p->kx[CDTLS_GROUP_SECP384R1]) return 0;
    if (sc->group == 29 && !p->kx[CDTLS_GROUP_X25519]) return 0;
    if ((sc->flags & SC_HYBRID) && !p->kx[CDTLS_GROUP_X25519]) return 0;
    return 1;
}

static const uint8_t fuzz_psk[16] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                                     0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static const char fuzz_psk_identity[] = "fuzz-client";
static const char fuzz_psk_hint[] = "fuzz-hint";
static const char *const fuzz_alpn[] = {"webrtc", "c-webrtc", "h2"};
static const uint16_t fuzz_srtp[] = {CDTLS_SRTP_AEAD_AES_128_GCM, CDTLS_SRTP_AES128_CM_HMAC_SHA1_80};
static const uint8_t fuzz_mki[] = {0xaa, 0xbb, 0xcc};
static const uint8_t fuzz_peer_addr[] = "fuzzpeer";

static int64_t fuzz_unix_time_cb(void *ctx)
{
    (void)ctx;
    return FUZZ_UNIX_TIME;
}

/* What a configuration borrows, kept with it. */
typedef struct fuzz_cfg {
    cdtls_config cfg;
    uint16_t suite, group;
    cdtls_session_cache cache;
    cdtls_session_cache_entry entries[4];
    cdtls_ticket_keys ticket_keys;
} fuzz_cfg;

static void fuzz_config(fuzz_cfg *fc, const fuzz_scenario *sc, cdtls_role role, const cdtls_provider *p)
{
    fuzz_fixtures_load();
    cdtls_config *c = &fc->cfg;
    cdtls_config_init(c);
    c->provider = p;
    c->allocator = &fuzz_allocator;
    c->callbacks.unix_time = fuzz_unix_time_cb;
    if (sc->suite) {
        fc->suite = sc->suite;
        c->negotiate.cipher_suites = &fc->suite;
        c->negotiate.n_cipher_suites = 1;
    }
    if (sc->group) {
        fc->group = sc->group;
        c->negotiate.groups = &fc->group;
        c->negotiate.n_groups = 1;
    }
    if (sc->mtu) c->mtu = sc->mtu;
    c->psk.key = fuzz_psk;
    c->psk.key_len = sizeof fuzz_psk;
    c->psk.identity = (const uint8_t *)fuzz_psk_identity;
    c->psk.identity_len = sizeof fuzz_psk_identity - 1;
    if ((sc->flags & SC_PSK_HINT) && role == CDTLS_SERVER) {
        c->psk.hint = (const uint8_t *)fuzz_psk_hint;
        c->psk.hint_len = sizeof fuzz_psk_hint - 1;
    }
    if (sc->flags & SC_NO_EMS) c->negotiate.ems = CDTLS_EMS_DISABLE;
    if (sc->flags & SC_NO_ETM) c->negotiate.encrypt_then_mac = 0;
    if (sc->flags & SC_NO_COOKIE) c->cookie.exchange = 0;
    if (sc->flags & SC_REPLAY_WIN) {
        c->limits.replay_window = 1024;
        c->limits.max_early_records = 2;
    }
    const fuzz_identity *server_id = NULL, *client_id = NULL;
    if (sc->flags & SC_CERT_ECDSA) server_id = &fuzz_fx.id[FI_ECDSA];
    if (sc->flags & SC_CERT_RSA) server_id = &fuzz_fx.id[FI_RSA];
    if (sc->flags & SC_CERT_ED) server_id = &fuzz_fx.id[FI_ED25519];
    if (sc->flags & SC_CLIENT_AUTH)
        client_id = (sc->flags & SC_CERT_ED) ? &fuzz_fx.id[FI_ED25519] : &fuzz_fx.id[FI_ECDSA_CLIENT];
    if (sc->flags & SC_PHA) client_id = &fuzz_fx.id[FI_ECDSA_CLIENT];
    const fuzz_identity *mine = role == CDTLS_SERVER ? server_id : client_id;
    const fuzz_identity *theirs = role == CDTLS_SERVER ? client_id : server_id;
    if (mine) {
        c->credentials.chain = (const uint8_t *const *)mine->der;
        c->credentials.chain_len = mine->len;
        c->credentials.n_certs = mine->n;
        c->credentials.private_key = mine->key;
    }
    if (theirs) {
        c->verify.trust_anchors = &theirs->anchor;
        c->verify.n_trust_anchors = 1;
    }
    if (role == CDTLS_CLIENT && server_id) {
        c->server_name = server_id == &fuzz_fx.id[FI_ECDSA] ? "server.example.com"
                         : server_id == &fuzz_fx.id[FI_RSA] ? "rsa.example.com"
                                                            : "ed.example.com";
    }
    if (role == CDTLS_SERVER && client_id && !(sc->flags & SC_PHA))
        c->verify.client_auth = CDTLS_CLIENT_AUTH_REQUIRE_AND_VERIFY;
    /* SC_PHA: no certificate in the handshake; the server asks after it */
    if (role == CDTLS_CLIENT && (sc->flags & SC_PHA)) c->verify.post_handshake_auth = 1;
    if (sc->flags & SC_RPK) {
        /* the server sends its raw key, the client pins it */
        if (role == CDTLS_SERVER) {
            c->credentials.raw_public_key = fuzz_fx.spki;
            c->credentials.raw_public_key_len = fuzz_fx.spki_len;
            c->credentials.private_key = fuzz_fx.id[FI_ECDSA].key;
        } else {
            c->verify.pinned_spki_sha256 = fuzz_fx.spki_pin;
            c->verify.n_spki_pins = 1;
        }
    }
    if (sc->flags & SC_CID) {
        c->cid.length = 8;
    }
    if (sc->flags & SC_RRC) {
        c->cid.rrc = role == CDTLS_SERVER ? CDTLS_RRC_ENHANCED : CDTLS_RRC_BASIC;
        c->cid.rrc_timeout_ms = 300;
    }
    if ((sc->flags & SC_RESUME) || ((sc->flags & SC_TICKET) && role == CDTLS_CLIENT))
        c->resumption.store = cdtls_session_cache_init(&fc->cache, fc->entries, 4);
    if (sc->flags & SC_TICKET) {
        if (role == CDTLS_CLIENT) {
            c->resumption.tickets = 1;
        } else {
            /* never rotating on its own; the key comes from the
             * deterministic provider */
            if (cdtls_ticket_keys_init(&fc->ticket_keys, p, 0, FUZZ_T0_MS) != CDTLS_OK) abort();
            c->resumption.ticket_keys = &fc->ticket_keys;
        }
    }
    if (sc->flags & SC_ALPN_SRTP) {
        c->alpn.protocols = role == CDTLS_SERVER ? fuzz_alpn + 1 : fuzz_alpn;
        c->alpn.n_protocols = role == CDTLS_SERVER ? 2 : 3;
        c->srtp.profiles = fuzz_srtp;
        c->srtp.n_profiles = 2;
        if (role == CDTLS_CLIENT) {
            c->srtp.mki = fuzz_mki;
            c->srtp.mki_len = sizeof fuzz_mki;
        }
    }
}

/* -------------------------------------------------------------- driver */

typedef void (*fuzz_sink)(void *ctx, const uint8_t *dgram, size_t len);
struct fuzz_engine;
/* Called with each peer datagram (part number part of the input) just
 * before the target receives it: the custom mutator (fuzz_mutator.h)
 * decrypts the epoch-1 records in it with the target's read keys. */
typedef void (*fuzz_tap)(void *ctx, const struct fuzz_engine *fe, size_t part, const uint8_t *dgram,
                         size_t len);

typedef struct fuzz_engine {
    fuzz_provider prov;
    fuzz_cfg fc;
    const fuzz_scenario *sc;
    cdtls_role role;
    cdtls_conn *c;
    cdtls_hello_verifier *verifier; /* SC_VERIFIER servers, until a cookie verifies */
    uint64_t now;
    int established_seen;             /* connections of this input that got established */
    int resumed_seen;                 /* ...by an abbreviated handshake */
    int conn_established;             /* the current connection did */
    int conns;                        /* FUZZ_NEXT_CONN_MARKs taken */
    int issued, requested, pha_asked; /* SC_CID13 / SC_PHA: done on the current connection */
    cdtls_conn_state last_state;
    fuzz_sink sink;
    void *sink_ctx;
    fuzz_tap tap;
    void *tap_ctx;
    size_t part;    /* the input part being stepped */
    unsigned turns; /* drains and reads alternate copying and borrowing calls */
    uint8_t buf[65536];
} fuzz_engine;

/* Everything the target wants to send goes to the sink (the harnesses
 * discard it; gen_corpus hands it to the real peer). */
static void fuzz_engine_drain(fuzz_engine *fe)
{
    if (fe->c && (fe->sc->flags & SC_RRC)) {
        /* the datagrams a return routability check addresses elsewhere
         * first (cdtls_conn_next_datagram never hands them out) */
        size_t n, to_len;
        const void *to;
        while (cdtls_conn_next_datagram_path(fe->c, fe->buf, sizeof fe->buf, &n, NULL, &to, &to_len) ==
               CDTLS_OK) {
            if (n == 0 || n > fe->c->mtu || (to == NULL) != (to_len == 0)) abort();
            if (fe->sink) fe->sink(fe->sink_ctx, fe->buf, n);
        }
    }
    if (!fe->c) return;
    size_t n;
    cdtls_oob oob;
    size_t mtu = fe->fc.cfg.mtu ? fe->fc.cfg.mtu : 1200;
    if (fe->turns++ & 1) {
        /* the borrowing calls: a peek lends the same datagram until its
         * pop, and a pop with nothing lent is refused */
        const uint8_t *d, *again;
        size_t m;
        while (cdtls_conn_peek_datagram(fe->c, &d, &n, &oob) == CDTLS_OK) {
            if (n > mtu || n == 0) abort();
            if (cdtls_conn_peek_datagram(fe->c, &again, &m, NULL) != CDTLS_OK || again != d || m != n)
                abort();
            if (fe->sink) fe->sink(fe->sink_ctx, d, n);
            if (cdtls_conn_pop_datagram(fe->c) != CDTLS_OK) abort();
        }
        if (cdtls_conn_pop_datagram(fe->c) != CDTLS_ERR_BAD_STATE) abort();
        return;
    }
    while (cdtls_conn_next_datagram(fe->c, fe->buf, sizeof fe->buf, &n, &oob) == CDTLS_OK) {
        /* cdtls_config.mtu: the largest datagram the engine emits */
        if (n > mtu || n == 0) abort();
        if (fe->sink) fe->sink(fe->sink_ctx, fe->buf, n);
    }
}

/* Authentication, whatever the fuzzer sent: it has none of the peer's
 * secrets (PSK, private keys), so a connection it brought to ESTABLISHED
 * must be one with the peer the scenario configured. A full certificate
 * handshake shows exactly the peer's configured leaf (or raw key); a
 * resumed one shows none; a PSK server names the configured identity. */
static void fuzz_engine_check_auth(const fuzz_engine *fe, const cdtls_x509_cert *chain, size_t n)
{
    const fuzz_scenario *sc = fe->sc;
    const uint8_t *want = NULL;
    size_t want_len = 0;
    int resumed = cdtls_conn_resumed(fe->c);
    if (fe->role == CDTLS_CLIENT) {
        const fuzz_identity *id = (sc->flags & SC_CERT_ECDSA) ? &fuzz_fx.id[FI_ECDSA]
                                  : (sc->flags & SC_CERT_RSA) ? &fuzz_fx.id[FI_RSA]
                                  : (sc->flags & SC_CERT_ED)  ? &fuzz_fx.id[FI_ED25519]
                                                              : NULL;
        if (id) want = id->der[0], want_len = id->len[0];
        if (sc->flags & SC_RPK) want = fuzz_fx.spki, want_len = fuzz_fx.spki_len;
    } else if (sc->flags & SC_CLIENT_AUTH) {
        const fuzz_identity *id = (sc->flags & SC_CERT_ED) ? &fuzz_fx.id[FI_ED25519]
                                                           : &fuzz_fx.id[FI_ECDSA_CLIENT];
        want = id->der[0], want_len = id->len[0];
    }
    int cert_suite;
    if (cdtls_conn_version(fe->c) == CDTLS_VERSION_1_3) {
        /* DTLS 1.3: the suite does not say how the handshake was
         * authenticated; a PSK handshake names its identity, any other
         * showed certificates */
        const uint16_t s13 = cdtls_conn_cipher_suite(fe->c);
        if (s13 < 0x1301 || s13 > 0x1305) abort(); /* established without a 1.3 suite */
        size_t idl0;
        cert_suite = cdtls_conn_psk_identity(fe->c, &idl0) == NULL;
    } else {
        const suite_info *si = suite_find(cdtls_conn_cipher_suite(fe->c));
        if (!si) abort(); /* established without a suite */
        cert_suite = !suite_uses_psk(si);
    }
    if (resumed || !cert_suite) {
        if (n != 0) abort(); /* nothing to show */
    } else if (want) {
        if (n == 0 || chain[0].der_len != want_len || memcmp(chain[0].der, want, want_len) != 0) abort();
    }
    if (fe->role == CDTLS_SERVER && !cert_suite) {
        size_t idl;
        const uint8_t *ident = cdtls_conn_psk_identity(fe->c, &idl);
        if (!ident || idl != sizeof fuzz_psk_identity - 1 || memcmp(ident, fuzz_psk_identity, idl) != 0)
            abort();
    }
}

/* The first time the handshake is seen complete: the getters, the
 * exporter, and a first write (the application speaks first). */
static void fuzz_engine_established(fuzz_engine *fe)
{
    cdtls_conn *c = fe->c;
    size_t n;
    (void)cdtls_conn_cipher_suite(c);
    (void)cdtls_conn_uses_ems(c);
    (void)cdtls_conn_resumed(c);
    (void)cdtls_conn_uses_cid(c);
    (void)cdtls_conn_own_cid(c, &n);
    (void)cdtls_conn_peer_cid(c, &n);
    (void)cdtls_conn_alpn(c, &n);
    (void)cdtls_conn_psk_identity(c, &n);
    const cdtls_x509_cert *chain = cdtls_conn_peer_certificates(c, &n);
    for (size_t i = 0; i < n; i++)
        if (!chain || chain[i].der_len == 0) abort();
    fuzz_engine_check_auth(fe, chain, n);
    uint8_t km[32];
    if (cdtls_conn_export_keying_material(c, "EXTRACTOR-fuzz", (const uint8_t *)"ctx", 3, 1, km, sizeof km) !=
        CDTLS_OK)
        abort(); /* established: the exporter must work */
    static const char hello[] = "hello from the fuzz target";
    if (cdtls_conn_max_write(c) >= sizeof hello - 1)
        (void)cdtls_conn_write(c, (const uint8_t *)hello, sizeof hello - 1, NULL);
}

/* What conn.h promises about the state, whatever the peer sends: a
 * failed connection stays failed and says why (and only then has an
 * error); a connection that left the handshake never re-enters it
 * (renegotiation is refused). */
static void fuzz_engine_check_state(fuzz_engine *fe)
{
    cdtls_conn_state st = cdtls_conn_get_state(fe->c);
    int err = cdtls_conn_error(fe->c);
    if ((st == CDTLS_STATE_FAILED) != (err != CDTLS_OK)) abort();
    if (fe->last_state == CDTLS_STATE_FAILED && st != CDTLS_STATE_FAILED) abort();
    if (fe->last_state != CDTLS_STATE_HANDSHAKING && st == CDTLS_STATE_HANDSHAKING) abort();
    fe->last_state = st;
}

/* SC_CID13, SC_PHA: what the target starts once established, each tried
 * after every step until the engine takes it (one CID message at a time,
 * CDTLS_ERR_WOULD_BLOCK until the last one is ACKed, RFC 9147 §9). */
static void fuzz_engine_post_handshake(fuzz_engine *fe)
{
    cdtls_conn *c = fe->c;
    if (!fe->conn_established || cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) return;
    int rc;
    if ((fe->sc->flags & SC_CID13) && !fe->issued) {
        rc = cdtls_conn_issue_cids(c, 2, 0, fe->now);
        fe->issued = rc != CDTLS_ERR_WOULD_BLOCK;
    } else if ((fe->sc->flags & SC_CID13) && !fe->requested) {
        rc = cdtls_conn_request_cids(c, 2, fe->now);
        fe->requested = rc != CDTLS_ERR_WOULD_BLOCK;
    }
    if ((fe->sc->flags & SC_PHA) && fe->role == CDTLS_SERVER && !fe->pha_asked) {
        rc = cdtls_conn_request_client_auth(c, 1);
        /* offered (the scenario's client does) and established: taken */
        fe->pha_asked = 1;
        (void)rc;
    }
    /* post-handshake authentication, whatever the fuzzer sent: a client the
     * server calls authenticated showed the configured certificate */
    if ((fe->sc->flags & SC_PHA) && fe->role == CDTLS_SERVER &&
        cdtls_conn_client_auth_state(c) == CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED) {
        size_t n;
        const cdtls_x509_cert *chain = cdtls_conn_peer_certificates(c, &n);
        const fuzz_identity *id = &fuzz_fx.id[FI_ECDSA_CLIENT];
        if (!chain || n == 0 || chain[0].der_len != id->len[0] ||
            memcmp(chain[0].der, id->der[0], id->len[0]) != 0)
            abort();
    }
}

/* After each step: take every application record and echo it back. */
static void fuzz_engine_after(fuzz_engine *fe)
{
    cdtls_conn *c = fe->c;
    if (!c) return;
    fuzz_engine_check_state(fe);
    if (!fe->conn_established && cdtls_conn_get_state(c) == CDTLS_STATE_ESTABLISHED) {
        fe->conn_established = 1;
        fe->established_seen++;
        if (cdtls_conn_resumed(c)) fe->resumed_seen++;
        fuzz_engine_established(fe);
    }
    fuzz_engine_post_handshake(fe);
    const int borrow = fe->turns & 1;
    for (int i = 0; i < 300; i++) {
        size_t n = 0;
        const uint8_t *pt = fe->buf;
        /* borrowing: the record is echoed straight from the lent node,
         * which a write (it only appends to the output queue) must leave
         * alone until the pop */
        int rc = borrow ? cdtls_conn_peek_read(c, &pt, &n, NULL)
                        : cdtls_conn_read(c, fe->buf, sizeof fe->buf, &n, NULL);
        if (rc != CDTLS_OK) break;
        if (n > 16384) abort(); /* one record's plaintext: at most 2^14 */
        if (n <= cdtls_conn_max_write(c)) {
            rc = cdtls_conn_write(c, pt, n, NULL);
            /* established and within max_write: sent, or the queue is full */
            if (cdtls_conn_get_state(c) == CDTLS_STATE_ESTABLISHED && rc != CDTLS_OK && rc != CDTLS_ERR_LIMIT)
                abort();
        }
        if (borrow && cdtls_conn_pop_read(c) != CDTLS_OK) abort();
    }
    fuzz_engine_drain(fe);
    fuzz_engine_check_state(fe);
}

static int fuzz_engine_new_conn(fuzz_engine *fe)
{
    if (cdtls_conn_new(&fe->fc.cfg, fe->role, fe->now, &fe->c) != CDTLS_OK) abort();
    fe->conn_established = 0;
    fe->issued = fe->requested = fe->pha_asked = 0;
    fe->last_state = CDTLS_STATE_HANDSHAKING;
    /* a server's cookies bind the address; a client without a server name
     * finds its session by it */
    if ((fe->role == CDTLS_SERVER || (fe->sc->flags & (SC_RESUME | SC_TICKET))) &&
        cdtls_conn_set_peer_address(fe->c, fuzz_peer_addr, sizeof fuzz_peer_addr - 1) != CDTLS_OK)
        abort();
    return 0;
}

/* The first connection, or the next one after FUZZ_NEXT_CONN_MARK. */
static void fuzz_engine_begin(fuzz_engine *fe)
{
    if (fe->role == CDTLS_SERVER && (fe->sc->flags & SC_VERIFIER)) {
        if (cdtls_hello_verifier_new(&fe->fc.cfg, fe->now, &fe->verifier) != CDTLS_OK) abort();
        return;
    }
    fuzz_engine_new_conn(fe);
    if (fe->role == CDTLS_CLIENT && cdtls_conn_start(fe->c, fe->now) != CDTLS_OK) abort();
    fuzz_engine_drain(fe);
}

/* 0 when the scenario cannot run in this build. */
static int fuzz_engine_open(fuzz_engine *fe, cdtls_role role, size_t scenario, fuzz_sink sink, void *sink_ctx)
{
    memset(fe, 0, offsetof(fuzz_engine, buf));
    fe->sc = &fuzz_scenarios[scenario % FUZZ_N_SCENARIOS];
    if (!fuzz_scenario_supported(fe->sc)) return 0;
    fe->role = role;
    fe->sink = sink;
    fe->sink_ctx = sink_ctx;
    fe->now = FUZZ_T0_MS;
    /* the target's random stream: one per role and scenario */
    fuzz_provider_init_fast(&fe->prov, (uint64_t)(role == CDTLS_SERVER ? 0x5e000 : 0xc1000) +
                                           scenario % FUZZ_N_SCENARIOS);
    fuzz_scenario_provider(fe->sc, &fe->prov.base);
    fuzz_config(&fe->fc, fe->sc, role, &fe->prov.base);
    fuzz_engine_begin(fe);
    return 1;
}

static void fuzz_engine_end_conn(fuzz_engine *fe)
{
    if (fe->c) {
        (void)cdtls_conn_error(fe->c);
        uint8_t level, desc;
        (void)cdtls_conn_peer_alert(fe->c, &level, &desc);
        cdtls_conn_free(fe->c);
    }
    cdtls_hello_verifier_free(fe->verifier);
    fe->c = NULL;
    fe->verifier = NULL;
}

/* The peer's next epoch-1 record, made with the target's own read keys:
 * sequence number one past the highest the target accepted, the target's
 * CID when it asked for one (with the last plaintext byte as padding
 * length, RFC 9146 §4). 0 if no AEAD read keys are installed yet. */
static int fuzz_engine_forge(fuzz_engine *fe, const uint8_t *p, size_t n, size_t *out_len)
{
    cdtls_conn *c = fe->c;
#if CDTLS_HAVE_DTLS13
    if (c && n >= 1 && c->v13 && c->v13->rx_ap) {
        /* DTLS 1.3: a record of the current application epoch (after a
         * KeyUpdate, the new one), the next sequence number, 16-bit
         * sequence bits and a length, our CID when we have one, the last
         * plaintext byte as padding (RFC 9147 §4) */
        record13_rx_epoch *e = c->v13->rx_ap;
        size_t pt13 = n - 1 > 16384 ? 16384 : n - 1;
        record13_header_opts o = {1, 1, NULL, 0};
        if (c->use_cid && c->own_cid_len) o.cid = c->own_cid, o.cid_len = c->own_cid_len;
        return record13_seal(&e->cipher, &o, e->epoch, e->next_expected, p[0], p + 1, pt13,
                             pt13 ? p[n - 1] % 32 : 0, fe->buf, sizeof fe->buf, out_len) == CDTLS_OK;
    }
#endif
    if (!c || n < 1 || !c->have_read_cipher || c->read_cipher.kind != RC_AEAD) return 0;
    const replay_window *w = &c->replay[1];
    uint64_t seq = w->any ? w->top + 1 : 1;
    if (seq >= (1ull << 48)) return 0;
    size_t pt_len = n - 1 > 16384 ? 16384 : n - 1;
    int rc;
    if (c->use_cid && c->own_cid_len)
        rc = record_seal_cid(&c->read_cipher, p[0], 0xfefd, 1, seq, c->own_cid, c->own_cid_len,
                             pt_len ? p[n - 1] % 32 : 0, p + 1, pt_len, fe->buf, sizeof fe->buf, out_len);
    else
        rc = record_seal(&c->read_cipher, p[0], 0xfefd, 1, seq, p + 1, pt_len, fe->buf, sizeof fe->buf,
                         out_len);
    return rc == CDTLS_OK;
}

/* SC_RRC: the datagram comes from one of three addresses (which, from a
 * byte of the input), so the peer appears to move and the check runs. */
static void fuzz_engine_recv(fuzz_engine *fe, const uint8_t *d, size_t n, const cdtls_oob *oob, uint8_t pick)
{
    static const char *const addrs[3] = {"peer-a", "peer-b", "victim"};
    if (!(fe->sc->flags & SC_RRC)) {
        (void)cdtls_conn_recv(fe->c, d, n, oob, fe->now);
        return;
    }
    const char *a = addrs[pick % 3];
    const cdtls_path from = {a, strlen(a), pick >= 128};
    (void)cdtls_conn_recv_path(fe->c, d, n, oob, &from, fe->now);
}

/* One part of the input: a datagram from the peer (mark 0), the timer
 * (mark 1), the next connection (mark 2), or a record to forge (mark 3). */
static void fuzz_engine_step(fuzz_engine *fe, const uint8_t *dgram, size_t len, int mark)
{
    if (mark == 3) {
        size_t n;
        if (!fuzz_engine_forge(fe, dgram, len, &n)) return;
        fe->now += FUZZ_STEP_MS;
        fuzz_engine_recv(fe, fe->buf, n, NULL, dgram[0] ^ (uint8_t)len);
        fuzz_engine_after(fe);
        return;
    }
    if (mark == 2) {
        /* at most a few connections per input, so an input's cost stays
         * bounded */
        if (fe->conns >= 4) return;
        fe->conns++;
        fuzz_engine_end_conn(fe);
        fe->now += FUZZ_STEP_MS;
        fuzz_engine_begin(fe);
        return;
    }
    if (mark) {
        if (!fe->c) return;
        uint64_t t = cdtls_conn_timeout(fe->c);
        /* no timer running: let a second pass (the handshake timeout,
         * the final flight kept for the peer) */
        fe->now = t == UINT64_MAX ? fe->now + 1000 : (t > fe->now ? t : fe->now);
        (void)cdtls_conn_on_timeout(fe->c, fe->now);
        fuzz_engine_after(fe);
        return;
    }
    fe->now += FUZZ_STEP_MS;
    if (fe->verifier) {
        size_t reply_len = 0, whole_len = 0;
        uint8_t *whole = NULL;
        int rc = cdtls_hello_verifier_check_full(fe->verifier, fuzz_peer_addr, sizeof fuzz_peer_addr - 1,
                                                 dgram, len, fe->now, fe->buf, sizeof fe->buf, &reply_len,
                                                 &whole, &whole_len);
        if (rc == CDTLS_ERR_WOULD_BLOCK) {
            if (reply_len > sizeof fe->buf) abort();
            if (fe->sink && reply_len) fe->sink(fe->sink_ctx, fe->buf, reply_len);
            return;
        }
        if (rc != CDTLS_OK) return;
        fuzz_engine_new_conn(fe);
        if (cdtls_conn_set_cookie_verified(fe->c) != CDTLS_OK) abort();
        if (whole) {
            /* the hello the verifier reassembled, in place of the datagram
             * that completed it (as the listener does) */
            (void)cdtls_conn_recv(fe->c, whole, whole_len, NULL, fe->now);
            cdtls_hello_verifier_release(fe->verifier, whole, whole_len);
            cdtls_hello_verifier_free(fe->verifier);
            fe->verifier = NULL;
            fuzz_engine_after(fe);
            return;
        }
        cdtls_hello_verifier_free(fe->verifier);
        fe->verifier = NULL;
    }
    if (fe->tap) fe->tap(fe->tap_ctx, fe, fe->part, dgram, len);
    cdtls_oob oob;
    memset(&oob, 0, sizeof oob);
    fuzz_engine_recv(fe, dgram, len, &oob, len ? dgram[len - 1] : 0);
    (void)cdtls_conn_recv_advanced(fe->c);
    fuzz_engine_after(fe);
}

static void fuzz_engine_close(fuzz_engine *fe)
{
    fuzz_engine_end_conn(fe);
    cdtls_ticket_keys_wipe(&fe->fc.ticket_keys);
    cdtls_session_cache_clear(&fe->fc.cache);
}

/* A whole harness input; returns how many of its connections reached
 * ESTABLISHED, and in *resumed (may be NULL) how many of them by
 * resumption (gen_corpus checks its seeds with it). */
static int fuzz_engine_run_tapped(cdtls_role role, const uint8_t *data, size_t size, int *resumed,
                                  fuzz_tap tap, void *tap_ctx)
{
    if (resumed) *resumed = 0;
    if (size < 1) return 0;
    static fuzz_engine fe;
    if (!fuzz_engine_open(&fe, role, data[0], NULL, NULL)) return 0;
    fe.tap = tap;
    fe.tap_ctx = tap_ctx;
    fuzz_split s = {data + 1, size - 1};
    const uint8_t *part;
    size_t len;
    int mark;
    for (fe.part = 0; fuzz_next(&s, &part, &len, &mark); fe.part++) fuzz_engine_step(&fe, part, len, mark);
    int established = fe.established_seen;
    if (resumed) *resumed = fe.resumed_seen;
    fuzz_engine_close(&fe);
    if (fuzz_live_bytes != 0) abort(); /* freed connections leave nothing allocated */
    return established;
}

static int fuzz_engine_run(cdtls_role role, const uint8_t *data, size_t size, int *resumed)
{
    return fuzz_engine_run_tapped(role, data, size, resumed, NULL, NULL);
}

#endif
