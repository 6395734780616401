/* Seed corpora for every harness, from real handshakes of our own client
 * and server in memory (docs/fuzzing.md):
 *
 *   gen_corpus OUTDIR
 *
 * For each scenario of fuzz_engine.h this build can run, and each role,
 * the target side runs through the very driver the engine harnesses use
 * (fuzz_engine_step: same deterministic provider, same clock, same
 * writes), the other side is an ordinary cdtls connection, and what the
 * other side sends is recorded as the harness input. Variants: a clean
 * link; the target's first datagram lost (its timer must fire: the seed
 * holds a FUZZ_TIMER_MARK); and each batch delivered in reverse order
 * with its first datagram duplicated. After the handshake the peer sends
 * application data, which the target echoes, and a close_notify.
 *
 * Every datagram seen is also a fuzz_record seed; every handshake message
 * (reassembled with our own hs_reasm) a fuzz_hs_msg seed; the hellos'
 * extension blocks fuzz_hs_ext seeds; each direction's fragment stream a
 * fuzz_hs_reasm seed. fuzz/certs gives the X.509, chain, PEM and key seeds.
 * fuzz_record13 gets datagrams of DTLS 1.3 records sealed with its fixed
 * keys (no 1.3 handshake exists yet to record them from).
 *
 * Self-check: every engine seed is replayed through a fresh driver and must
 * bring the target to ESTABLISHED, i.e. the recording stays valid under
 * the deterministic provider. A scenario that does not complete, or a seed
 * that does not replay, makes this program fail (exit 1). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* struct in_pktinfo */
#endif
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cdtls/io.h"
#include "common/dtls.h"
#include "fuzz_engine.h"
#include "fuzz_record13.h"
#include "handshake/hs13_msg.h"
#include "handshake/hs13_cid_msg.h"
#include "handshake/hs_msg.h"
#include "handshake/hs_reasm.h"
#include "keys/hybrid_kex.h"
#include "record/record.h"

static const char *outdir;
static size_t n_written;

/* ------------------------------------------------------------ byte vectors */

typedef struct vec {
    uint8_t *p;
    size_t n, cap;
} vec;

static void vec_put(vec *v, const void *d, size_t n)
{
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap < v->n + n) cap *= 2;
        v->p = realloc(v->p, cap);
        if (!v->p) abort();
        v->cap = cap;
    }
    if (n) memcpy(v->p + v->n, d, n);
    v->n += n;
}

static void vec_u8(vec *v, uint8_t b)
{
    vec_put(v, &b, 1);
}

static void vec_part(vec *v, const uint8_t *d, size_t n)
{
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    vec_put(v, len, 2);
    vec_put(v, d, n);
}

/* ------------------------------------------------------------ seed files */

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

/* Named by content (FNV-1a), so duplicates collapse. */
static void write_seed(const char *harness, const uint8_t *d, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 0x100000001b3ull;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", outdir, harness);
    make_dir(path);
    snprintf(path, sizeof path, "%s/%s/seed-%016llx", outdir, harness, (unsigned long long)h);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    n_written++;
}

static void write_seed2(const char *harness, uint8_t first, const uint8_t *d, size_t n)
{
    vec v = {0};
    vec_u8(&v, first);
    vec_put(&v, d, n);
    write_seed(harness, v.p, v.n);
    free(v.p);
}

/* ------------------------------------------------- parser seeds from a link */

/* One direction of a connection as the parsers see it. */
typedef struct direction {
    hs_reasm reasm;
    vec frags; /* fuzz_hs_reasm seed: limits byte, reset header, fragments */
    int first;
} direction;

static void direction_init(direction *d)
{
    memset(d, 0, sizeof *d);
    hs_reasm_limits lim = {65536, 262144, NULL};
    if (hs_reasm_init(&d->reasm, cdtls_allocator_libc(), &lim) != CDTLS_OK) abort();
    vec_u8(&d->frags, 0x0f); /* the largest limits of fuzz_hs_reasm */
    d->first = 1;
}

static void direction_flush(direction *d)
{
    if (d->frags.n > 1) write_seed("fuzz_hs_reasm", d->frags.p, d->frags.n);
    hs_reasm_free(&d->reasm);
    free(d->frags.p);
}

static void extension_seed(const uint8_t *body, size_t len, size_t at)
{
    /* at: where the 2-byte extensions length is */
    if (at + 2 > len) return;
    size_t n = ((size_t)body[at] << 8) | body[at + 1];
    if (at + 2 + n != len) return;
    write_seed("fuzz_hs_ext", body + at + 2, n);
}

/* The last ClientHello seen, header included: replayed inside epoch 1 as a
 * renegotiation attempt. */
static uint8_t last_ch[4096];
static size_t last_ch_len;

static void message_seed(uint8_t type, const uint8_t *body, size_t len)
{
    write_seed2("fuzz_hs_msg", type, body, len);
    /* a 1.2 hello is a 1.3 hello without the 1.3 extensions */
    if (type == HS_CLIENT_HELLO || type == HS_SERVER_HELLO || type == HS_CERTIFICATE_VERIFY)
        write_seed2("fuzz_hs13_msg", type, body, len);
    if (type == HS_CLIENT_HELLO && DTLS_HS_HEADER_LEN + len <= sizeof last_ch) {
        memcpy(last_ch, body - DTLS_HS_HEADER_LEN, DTLS_HS_HEADER_LEN + len);
        last_ch_len = DTLS_HS_HEADER_LEN + len;
    }
    if (type == HS_CLIENT_HELLO) {
        hs_client_hello ch;
        if (hs_client_hello_parse(body, len, &ch) == CDTLS_OK)
            extension_seed(body, len, (size_t)(ch.raw_compression + ch.raw_compression_len - body));
    } else if (type == HS_SERVER_HELLO && len >= 35) {
        extension_seed(body, len, 35 + body[34] + 3);
    }
}

/* The record cipher fuzz_record should try for this scenario's suite. */
static uint8_t record_selector(const fuzz_scenario *sc)
{
    uint8_t sel;
    switch (sc->suite) {
    case CDTLS_PSK_WITH_AES_128_GCM_SHA256:
    case CDTLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256:
    case CDTLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
    case CDTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: sel = 1; break;
    case CDTLS_PSK_WITH_AES_128_CCM_8:
    case CDTLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: sel = 2; break;
    case CDTLS_PSK_WITH_CHACHA20_POLY1305_SHA256:
    case CDTLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256:
    case CDTLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
    case CDTLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: sel = 3; break;
    case CDTLS_PSK_WITH_AES_256_GCM_SHA384:
    case CDTLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: sel = 6; break;
    default: sel = (sc->flags & SC_NO_ETM) ? 4 : 5; break; /* CBC */
    }
    if (sc->flags & SC_CID) sel |= 8u << 3;
    return sel;
}

static void observe(direction *d, const fuzz_scenario *sc, const uint8_t *dgram, size_t len)
{
    write_seed2("fuzz_record", record_selector(sc), dgram, len);
    write_seed2("fuzz_record", 0, dgram, len);
    cdtls_reader r;
    reader_init(&r, dgram, len);
    while (r.left) {
        record_header h;
        const uint8_t *hdr, *frag;
        size_t hdr_len;
        if (record_read_cid(&r, (sc->flags & SC_CID) ? 8 : 0, &h, &hdr, &hdr_len, &frag) != CDTLS_OK) break;
        if (h.type != CT_HANDSHAKE || h.epoch != 0) continue;
        cdtls_reader hr;
        reader_init(&hr, frag, h.length);
        while (hr.left) {
            hs_header hh;
            const uint8_t *f;
            const uint8_t *start = hr.p;
            if (hs_header_read(&hr, &hh, &f) != CDTLS_OK) break;
            if (d->first) {
                /* fuzz_hs_reasm: a header of type 0xfe resets to its seq */
                hs_header reset = hh;
                reset.type = 0xfe;
                uint8_t put[12];
                hs_header_put(&reset, put);
                vec_put(&d->frags, put, sizeof put);
                hs_reasm_set_next_seq(&d->reasm, hh.message_seq);
                d->first = 0;
            }
            vec_put(&d->frags, start, (size_t)(hr.p - start));
            (void)hs_reasm_add(&d->reasm, &hh, f, hh.fragment_length);
            uint8_t type;
            uint16_t seq;
            const uint8_t *msg;
            size_t msg_len;
            while (hs_reasm_next(&d->reasm, &type, &seq, &msg, &msg_len)) {
                message_seed(type, msg + DTLS_HS_HEADER_LEN, msg_len - DTLS_HS_HEADER_LEN);
                hs_reasm_consume(&d->reasm);
            }
        }
    }
}

/* --------------------------------------------------------- one recording */

enum { V_CLEAN, V_LOSS, V_REORDER, V__COUNT };
static const char *const variant_name[] = {"clean", "loss", "reorder"};

typedef struct queue {
    vec data;
    size_t len[512];
    size_t n;
} queue;

static void queue_sink(void *ctx, const uint8_t *d, size_t n)
{
    queue *q = ctx;
    if (q->n == sizeof q->len / sizeof q->len[0]) return; /* a runaway peer: drop */
    vec_put(&q->data, d, n);
    q->len[q->n++] = n;
}

static void queue_clear(queue *q)
{
    q->data.n = 0;
    q->n = 0;
}

static void drain_conn(cdtls_conn *c, queue *q)
{
    static uint8_t buf[65536];
    size_t n;
    while (cdtls_conn_next_datagram(c, buf, sizeof buf, &n, NULL) == CDTLS_OK) queue_sink(q, buf, n);
}

static void forge_one(fuzz_engine *t, vec *seed, uint8_t type, const uint8_t *body, size_t len)
{
    vec part = {0};
    vec_u8(&part, type);
    vec_put(&part, body, len);
    uint8_t mark[2] = {0xff, 0xfd};
    vec_put(seed, mark, 2);
    vec_part(seed, part.p, part.n);
    fuzz_engine_step(t, part.p, part.n, 3);
    free(part.p);
}

/* After the application data: what only an authenticated peer can send,
 * as FUZZ_FORGE_MARK parts (AEAD suites; the harness seals them): data, a
 * warning alert, a HelloRequest, the ClientHello again (renegotiation,
 * refused with no_renegotiation), a ChangeCipherSpec in epoch 1, a
 * handshake message of an unknown type. The peer itself never learns of
 * them; its later records fall behind the replay window, which is why
 * they come last. */
#if CDTLS_HAVE_DTLS13
/* A DTLS 1.3 handshake message (12-byte header, whole) with the
 * message_seq the target expects next, forged; *seq moves on. */
static void forge_hs13(fuzz_engine *t, vec *seed, uint8_t type, const uint8_t *body, size_t len,
                       uint16_t *seq)
{
    uint8_t msg[1024];
    if (DTLS_HS_HEADER_LEN + len > sizeof msg) abort();
    hs_header h = {type, (uint32_t)len, *seq, 0, (uint32_t)len};
    hs_header_put(&h, msg);
    memcpy(msg + DTLS_HS_HEADER_LEN, body, len);
    forge_one(t, seed, 22, msg, DTLS_HS_HEADER_LEN + len);
    (*seq)++;
}

/* DTLS 1.3: what an authenticated peer sends after the handshake, as
 * FUZZ_FORGE_MARK parts (fuzz_engine_forge seals them in the target's
 * application epoch), so the fuzzer mutates the plaintext of post-handshake
 * messages instead of ciphertext that never opens (issue 17):
 * NewSessionTicket to a client (only on the last connection: the ticket
 * it stores replaces the one the next connection would offer),
 * NewConnectionId and RequestConnectionId (with CIDs), a KeyUpdate asking
 * for ours,
 * application data and a warning alert. Nothing that fails the target (its
 * fatal alert would reach the peer, which the recording needs alive) or
 * that it answers to the peer: no CertificateRequest (the client's
 * Certificate would fail a server that asked for none). */
static void forge_records13(fuzz_engine *t, vec *seed, int last_conn)
{
    cdtls_conn *c = t->c;
    if (!c || !c->v13 || !c->v13->rx_ap || cdtls_conn_get_state(c) != CDTLS_STATE_ESTABLISHED) return;
    uint16_t seq = conn_peer_next_seq(c);
    uint8_t body[600];
    cdtls_writer w;
    static const char data[] = "forged 1.3 application data\x05";
    forge_one(t, seed, 23, (const uint8_t *)data, sizeof data - 1);
    if (t->role == CDTLS_CLIENT && last_conn) {
        static const uint8_t ticket[40] = {0x7a, 1, 2, 3};
        hs13_new_session_ticket nst;
        memset(&nst, 0, sizeof nst);
        nst.lifetime_s = 3600, nst.age_add = 0x01020304;
        nst.nonce = (const uint8_t *)"\x00\x01", nst.nonce_len = 2;
        nst.ticket = ticket, nst.ticket_len = sizeof ticket;
        nst.has_max_early_data = 1, nst.max_early_data = 1024;
        writer_init(&w, body, sizeof body);
        if (hs13_new_session_ticket_write(&w, &nst) == CDTLS_OK)
            forge_hs13(t, seed, HS_NEW_SESSION_TICKET, body, w.len, &seq);
    }
    if (c->use_cid) {
        static const uint8_t cids[3 * 8] = {0xc1, 1, 2, 3, 4,    5, 6, 7, 0xc2, 1, 2, 3,
                                            4,    5, 6, 7, 0xc3, 1, 2, 3, 4,    5, 6, 7};
        writer_init(&w, body, sizeof body);
        if (hs13_new_cid_write(&w, cids, 8, 3, HS13_CID_SPARE) == CDTLS_OK)
            forge_hs13(t, seed, HS13_NEW_CONNECTION_ID, body, w.len, &seq);
        const uint8_t want = 3;
        forge_hs13(t, seed, HS13_REQUEST_CONNECTION_ID, &want, 1, &seq);
    }
    writer_init(&w, body, sizeof body);
    if (hs13_key_update_write(&w, 1) == CDTLS_OK) forge_hs13(t, seed, HS13_KEY_UPDATE, body, w.len, &seq);
    /* after the KeyUpdate: sealed in the next epoch */
    forge_one(t, seed, 23, (const uint8_t *)data, sizeof data - 1);
    static const uint8_t warning[] = {1, 90}; /* user_canceled, a warning (RFC 8446 §6.1) */
    forge_one(t, seed, 21, warning, sizeof warning);
}
#endif

static void forge_records(fuzz_engine *t, vec *seed, int last_conn)
{
#if CDTLS_HAVE_DTLS13
    if (t->c && t->c->v13) {
        forge_records13(t, seed, last_conn);
        return;
    }
#endif
    (void)last_conn;
    if (!t->c || !t->c->have_read_cipher || t->c->read_cipher.kind != RC_AEAD) return;
    static const char data[] = "forged application data\x03";
    static const uint8_t warning[] = {1, 100}; /* no_renegotiation */
    static const uint8_t hello_request[] = {0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0};
    static const uint8_t ccs[] = {1};
    static const uint8_t unknown_hs[] = {99, 0, 0, 2, 0, 10, 0, 0, 0, 0, 0, 2, 0xab, 0xcd};
    forge_one(t, seed, 23, (const uint8_t *)data, sizeof data - 1);
    forge_one(t, seed, 21, warning, sizeof warning);
    if (t->role == CDTLS_CLIENT) forge_one(t, seed, 22, hello_request, sizeof hello_request);
    if (t->role == CDTLS_SERVER && last_ch_len) {
        /* a new message_seq, past what the handshake used */
        last_ch[4] = 0, last_ch[5] = 32;
        forge_one(t, seed, 22, last_ch, last_ch_len);
    }
    forge_one(t, seed, 20, ccs, sizeof ccs);
    forge_one(t, seed, 22, unknown_hs, sizeof unknown_hs);
}

/* The peer's own post-handshake messages (SC_CID13, SC_PHA), so the seeds
 * hold them: NewConnectionId (two spare CIDs), then RequestConnectionId
 * for two of the target's, then (a server peer) a CertificateRequest.
 * Each call tries the next while the link is quiet; 1 while some are not
 * yet done or not yet ACKed (the pings and the close wait for them). */
typedef struct peer_post {
    int issued, requested, pha, rounds;
} peer_post;

static int peer_post_handshake(const fuzz_scenario *sc, cdtls_conn *peer, cdtls_role peer_role, uint64_t pnow,
                               peer_post *st)
{
    if (!(sc->flags & (SC_CID13 | SC_PHA)) || st->rounds >= 40) return 0;
    st->rounds++;
    if ((sc->flags & SC_CID13) && !st->issued) {
        st->issued = cdtls_conn_issue_cids(peer, 2, 0, pnow) != CDTLS_ERR_WOULD_BLOCK;
        return 1;
    }
    if ((sc->flags & SC_CID13) && !st->requested) {
        st->requested = cdtls_conn_request_cids(peer, 2, pnow) != CDTLS_ERR_WOULD_BLOCK;
        return 1;
    }
    if ((sc->flags & SC_PHA) && !st->pha && peer_role == CDTLS_SERVER) {
        st->pha = 1;
        (void)cdtls_conn_request_client_auth(peer, 1);
        return 1;
    }
    st->rounds = 40;
    return 0;
}

static cdtls_conn *peer_new(fuzz_cfg *pfc, cdtls_role peer_role, uint64_t now)
{
    cdtls_conn *peer = NULL;
    if (cdtls_conn_new(&pfc->cfg, peer_role, now, &peer) != CDTLS_OK) abort();
    /* a server's cookies bind the client's address; a client finds its
     * session by the server's */
    if ((peer_role == CDTLS_SERVER || pfc->cfg.resumption.store) &&
        cdtls_conn_set_peer_address(peer, "fuzzself", 8) != CDTLS_OK)
        abort();
    if (peer_role == CDTLS_CLIENT && cdtls_conn_start(peer, now) != CDTLS_OK) abort();
    return peer;
}

/* Whether a signature is a function of the key, the message and the
 * provider's random() alone: two signatures by the same key over the same
 * message, each with a fresh copy of the deterministic generator, must be
 * equal. BearSSL's are (RFC 6979 ECDSA; the PSS salt from random()).
 * libcrypto 3.0 draws ECDSA nonces and PSS salts from its own DRBG, so a
 * recorded session in which the target signs cannot replay there. The
 * probe signs through the provider the target signs with (the fuzzing
 * one, whose keys wrap the real provider's): asked of the real provider,
 * a wrapped key is refused, and every build lost its signing roles. */
static int signatures_replay(void)
{
    static const struct {
        int ident;
        cdtls_sig_alg alg;
    } probes[] = {{FI_ECDSA, CDTLS_SIG_ECDSA_SHA256}, {FI_RSA, CDTLS_SIG_RSA_PSS_RSAE_SHA256}};
    static const uint8_t msg[] = "the same message twice";
    fuzz_fixtures_load();
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const cdtls_sign_key *key = fuzz_fx.id[probes[i].ident].key;
        const cdtls_sig_vt *v = cdtls_provider_fuzz_crypto()->sig[probes[i].alg];
        if (!key || !v) continue;
        uint8_t sig[2][CDTLS_SIG_MAX_LEN];
        size_t len[2] = {sizeof sig[0], sizeof sig[1]};
        for (int k = 0; k < 2; k++) {
            fuzz_provider fp;
            fuzz_provider_init(&fp, 0x51600);
            if (v->sign(&fp.base, key, msg, sizeof msg, sig[k], &len[k]) != CDTLS_OK) return 0;
        }
        if (len[0] != len[1] || memcmp(sig[0], sig[1], len[0]) != 0) return 0;
    }
    return 1;
}

/* Whether the target signs in this scenario and role: a server with a
 * certificate or raw public key (ServerKeyExchange), a client with a
 * certificate (CertificateVerify). */
static int target_signs(const fuzz_scenario *sc, cdtls_role role)
{
    if (role == CDTLS_SERVER) return (sc->flags & (SC_CERT_ECDSA | SC_CERT_RSA | SC_CERT_ED | SC_RPK)) != 0;
    return (sc->flags & (SC_CLIENT_AUTH | SC_PHA)) != 0;
}

/* Records one session; returns 1 if both sides got to ESTABLISHED and the
 * seed (in *seed) replays, -1 when the build cannot record it. */
static int record_session(size_t scenario, cdtls_role role, int variant, vec *seed)
{
    static fuzz_engine target;
    static int replayable = -1;
    queue to_peer = {0}, to_target = {0};
    const fuzz_scenario *sc = &fuzz_scenarios[scenario];
    if (replayable < 0) {
        replayable = signatures_replay();
        if (!replayable)
            fprintf(stderr,
                    "gen_corpus: %s signs with randomness of its own: no seeds for the roles that "
                    "sign (they could not replay)\n",
                    cdtls_provider_default()->name);
    }
    if (!replayable && target_signs(sc, role)) return -1;
    if (!fuzz_engine_open(&target, role, scenario, queue_sink, &to_peer)) return -1;
    seed->n = 0;
    vec_u8(seed, (uint8_t)scenario);

    cdtls_role peer_role = role == CDTLS_CLIENT ? CDTLS_SERVER : CDTLS_CLIENT;
    fuzz_provider pprov;
    fuzz_provider_init_fast(&pprov, 0x9e000 + scenario + (role == CDTLS_CLIENT ? 0 : 0x100));
    fuzz_scenario_provider(sc, &pprov.base);
    fuzz_cfg pfc;
    fuzz_config(&pfc, sc, peer_role, &pprov.base);
    /* the peer's own clock: it is not replayed, so it need not follow the
     * target's (whose clock the harness semantics fix) */
    uint64_t pnow = target.now;
    cdtls_conn *peer = peer_new(&pfc, peer_role, pnow);
    drain_conn(peer, &to_target);

    direction up, down; /* peer -> target, target -> peer */
    direction_init(&up);
    direction_init(&down);
    int dropped = 0, pings = 0, closed = 0, quiet = 0;
    peer_post pst;
    memset(&pst, 0, sizeof pst);
    int cid_ok = 0, pha_ok = 0; /* SC_CID13 / SC_PHA: the exchanges happened (checked below) */
    /* resumption scenarios: a full handshake, then a resumed one */
    int conns = (sc->flags & (SC_RESUME | SC_TICKET)) ? 2 : 1, conn = 0, first_ok = 1;
    static uint8_t buf[65536];
    for (int iter = 0; iter < 800; iter++) {
        if (closed && quiet > 2) {
            if (++conn == conns) break;
            /* the next connection, both sides keeping their stores */
            first_ok = first_ok && target.conn_established &&
                       cdtls_conn_get_state(peer) != CDTLS_STATE_FAILED;
            vec_part(seed, NULL, 0);
            seed->p[seed->n - 2] = 0xff, seed->p[seed->n - 1] = 0xfe;
            fuzz_engine_step(&target, NULL, 0, 2);
            cdtls_conn_free(peer);
            pnow += FUZZ_STEP_MS;
            peer = peer_new(&pfc, peer_role, pnow);
            drain_conn(peer, &to_target);
            pings = closed = quiet = 0;
            memset(&pst, 0, sizeof pst);
        }
        int progress = 0;
        /* the peer's datagrams to the target: recorded */
        size_t off[512], k = to_target.n;
        for (size_t i = 0, o = 0; i < k; i++) off[i] = o, o += to_target.len[i];
        vec batch = {0};
        vec_put(&batch, to_target.data.p, to_target.data.n);
        size_t lens[512];
        memcpy(lens, to_target.len, k * sizeof lens[0]);
        queue_clear(&to_target);
        for (size_t j = 0; j < k; j++) {
            size_t i = variant == V_REORDER ? k - 1 - j : j;
            int times = variant == V_REORDER && j == 0 ? 2 : 1;
            for (int t = 0; t < times; t++) {
                observe(&up, sc, batch.p + off[i], lens[i]);
                vec_part(seed, batch.p + off[i], lens[i]);
                fuzz_engine_step(&target, batch.p + off[i], lens[i], 0);
            }
            progress = 1;
        }
        free(batch.p);
        /* the target's datagrams to the peer */
        size_t o = 0;
        for (size_t i = 0; i < to_peer.n; i++) {
            const uint8_t *d = to_peer.data.p + o;
            o += to_peer.len[i];
            observe(&down, sc, d, to_peer.len[i]);
            if (variant == V_LOSS && !dropped) {
                dropped = 1;
                continue;
            }
            pnow += FUZZ_STEP_MS;
            (void)cdtls_conn_recv(peer, d, to_peer.len[i], NULL, pnow);
            progress = 1;
        }
        queue_clear(&to_peer);
        /* the peer reads what the target echoed */
        size_t n;
        while (cdtls_conn_read(peer, buf, sizeof buf, &n, NULL) == CDTLS_OK) {
        }
        int both = target.c && cdtls_conn_get_state(target.c) == CDTLS_STATE_ESTABLISHED &&
                   cdtls_conn_get_state(peer) == CDTLS_STATE_ESTABLISHED;
        int peer_busy = 0;
        if (both && !progress) peer_busy = peer_post_handshake(sc, peer, peer_role, pnow, &pst);
        if (both && !progress && !peer_busy) {
            if (pings < 3) {
                /* a short message, an empty record (legal application
                 * data), and the largest record that fits the MTU */
                static uint8_t msg[16384];
                size_t len = 0;
                if (pings == 0) len = (size_t)snprintf((char *)msg, sizeof msg, "ping from the peer");
                if (pings == 2) {
                    len = cdtls_conn_max_write(peer);
                    if (len > sizeof msg) len = sizeof msg;
                    for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)i;
                }
                pings++;
                (void)cdtls_conn_write(peer, msg, len, NULL);
            } else if (pings == 3) {
                pings++;
                /* before the forged records (which may end the target):
                 * the post-handshake exchanges of the scenario happened */
                if (target.c && cdtls_conn_spare_cids(target.c) > 0 && cdtls_conn_spare_cids(peer) > 0)
                    cid_ok++;
                {
                    cdtls_conn *srv = role == CDTLS_SERVER ? target.c : peer;
                    if (srv && cdtls_conn_client_auth_state(srv) == CDTLS_CLIENT_AUTH_STATE_AUTHENTICATED)
                        pha_ok++;
                }
                forge_records(&target, seed, conn == conns - 1);
            } else if (!closed) {
                closed = 1;
                (void)cdtls_conn_close(peer);
            }
        }
        drain_conn(peer, &to_target);
        if (to_target.n) continue;
        if (progress) continue;
        if (closed) {
            quiet++;
            continue;
        }
        if (!both && !closed) {
            /* nobody has anything to say: a timer. The target's when it
             * runs a retransmission timer (recorded as a FUZZ_TIMER_MARK);
             * else the peer's (a server waiting for a ClientHello only has
             * its handshake deadline, which would end the session). */
            uint64_t t = target.c ? cdtls_conn_timeout(target.c) : UINT64_MAX;
            if (t != UINT64_MAX && t <= target.now + 5000) {
                vec_part(seed, NULL, 0);
                seed->p[seed->n - 2] = 0xff, seed->p[seed->n - 1] = 0xff;
                fuzz_engine_step(&target, NULL, 0, 1);
            } else {
                uint64_t pt = cdtls_conn_timeout(peer);
                if (pt == UINT64_MAX) break; /* stuck */
                if (pt > pnow) pnow = pt;
                (void)cdtls_conn_on_timeout(peer, pnow);
            }
            drain_conn(peer, &to_target);
        }
    }
    int ok = first_ok && target.established_seen == conns && cdtls_conn_get_state(peer) != CDTLS_STATE_FAILED;
    if (conns > 1 && target.resumed_seen != conns - 1) ok = 0;
    if ((sc->flags & SC_CID13) && cid_ok != conns) {
        fprintf(stderr, "gen_corpus: %s: no spare CIDs on both sides after the handshake\n", sc->name);
        ok = 0;
    }
    if ((sc->flags & SC_PHA) && pha_ok != conns) {
        fprintf(stderr, "gen_corpus: %s: the post-handshake client authentication did not finish\n",
                sc->name);
        ok = 0;
    }
    if (!ok)
        fprintf(stderr, "gen_corpus: %s as %s (%s): target %s (%s), peer %s\n", sc->name,
                role == CDTLS_CLIENT ? "client" : "server", variant_name[variant],
                target.established_seen ? "established" : "not established",
                target.c ? cdtls_strerror(cdtls_conn_error(target.c)) : "-",
                cdtls_strerror(cdtls_conn_error(peer)));
    fuzz_engine_close(&target);
    cdtls_conn_free(peer);
    direction_flush(&up);
    direction_flush(&down);
    free(to_peer.data.p);
    free(to_target.data.p);
    if (!ok) return 0;

    /* the self-check: the seed alone brings a fresh target to ESTABLISHED */
    int resumed;
    ok = fuzz_engine_run(role, seed->p, seed->n, &resumed) == conns && resumed == conns - 1;
    if (!ok)
        fprintf(stderr, "gen_corpus: %s as %s (%s): the recorded seed does not replay\n", sc->name,
                role == CDTLS_CLIENT ? "client" : "server", variant_name[variant]);
    return ok;
}

/* ------------------------------------------------------ certificate seeds */

static uint8_t *cert_file(const char *name, size_t *len)
{
    return fuzz_read_file(name, len);
}

static void chain_seed(uint8_t flags, const char *const *names, const char *host)
{
    vec v = {0};
    vec_u8(&v, flags);
    for (size_t i = 0; names[i]; i++) {
        size_t n;
        uint8_t *d = cert_file(names[i], &n);
        vec_part(&v, d, n);
        free(d);
    }
    if (host) vec_part(&v, (const uint8_t *)host, strlen(host));
    write_seed("fuzz_x509_chain", v.p, v.n);
    free(v.p);
}

static void cert_seeds(void)
{
    static const char *const ders[] = {"root.der",      "int.der",        "leaf.der",    "clientonly.der",
                                       "notca.der",     "undernotca.der", "sub.der",     "undersub.der",
                                       "otherroot.der", "rsaroot.der",    "rsaleaf.der", "rsapss.der",
                                       "ed.der",        "p384.der"};
    for (size_t i = 0; i < sizeof ders / sizeof ders[0]; i++) {
        size_t n;
        uint8_t *d = cert_file(ders[i], &n);
        write_seed("fuzz_x509", d, n);
        free(d);
    }
    static const char *const c1[] = {"leaf.der", "int.der", "root.der", NULL};
    static const char *const c2[] = {"undersub.der", "sub.der", "int.der", "root.der", NULL};
    static const char *const c3[] = {"undernotca.der", "notca.der", "root.der", NULL};
    static const char *const c4[] = {"rsaleaf.der", "rsaroot.der", NULL};
    static const char *const c5[] = {"rsapss.der", "rsaroot.der", NULL};
    static const char *const c6[] = {"ed.der", "ed.der", NULL};
    static const char *const c7[] = {"p384.der", "root.der", NULL};
    static const char *const c8[] = {"clientonly.der", "int.der", "otherroot.der", NULL};
    chain_seed(0x06, c1, "server.example.com"); /* host, purpose server */
    chain_seed(0x02, c1, "a.wild.example.com");
    chain_seed(0x22, c1, "127.0.0.1"); /* anchor by name */
    chain_seed(0x00, c2, NULL);
    chain_seed(0x00, c3, NULL);
    chain_seed(0x06, c4, "rsa.example.com");
    chain_seed(0x10, c5, NULL);
    chain_seed(0x01, c6, NULL);
    chain_seed(0x08, c7, NULL);
    chain_seed(0x08, c8, NULL);

    static const char *const pems[] = {"chain.pem",         "leaf.key", "leaf.sec1.pem", "rsaleaf.key",
                                       "rsaleaf.pkcs1.pem", "ed.key",   "p384.key",      "root.key"};
    for (size_t i = 0; i < sizeof pems / sizeof pems[0]; i++) {
        size_t n;
        uint8_t *d = cert_file(pems[i], &n);
        write_seed("fuzz_pem", d, n);
        if (i) {
            write_seed("fuzz_key", d, n);
            /* and the DER inside */
            uint8_t *der = malloc(n);
            size_t der_len;
            if (!der) abort();
            if (cdtls_pem_decode((const char *)d, n, NULL, der, n, &der_len, NULL) == CDTLS_OK) {
                write_seed("fuzz_key", der, der_len);
                write_seed("fuzz_pem", der, der_len);
            }
            free(der);
        }
        free(d);
    }
}

/* fuzz_io_cmsg and fuzz_io_gro: control messages as this machine's
 * cdtls_io_build_cmsg writes them (what a receive reports has the same
 * layout), and coalesced reads with a UDP_GRO message. */
static void put_cmsg_bytes(vec *v, int level, int type, const void *d, size_t n)
{
    uint8_t b[CMSG_SPACE(64)];
    memset(b, 0, sizeof b);
    struct cmsghdr *c = (struct cmsghdr *)(void *)b;
    c->cmsg_len = CMSG_LEN(n);
    c->cmsg_level = level;
    c->cmsg_type = type;
    memcpy(CMSG_DATA(c), d, n);
    vec_put(v, b, CMSG_SPACE(n));
}

static void io_seeds(void)
{
    cdtls_oob o;
    memset(&o, 0, sizeof o);
    o.flags = CDTLS_OOB_DSCP | CDTLS_OOB_ECN | CDTLS_OOB_TTL | CDTLS_OOB_IFINDEX | CDTLS_OOB_LOCAL_ADDR;
    o.dscp = 46;
    o.ecn = 1;
    o.ttl = 64;
    o.ifindex = 2;
    uint8_t cm[CDTLS_IO_CMSG_SPACE * 2];
    size_t n;
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1};
    for (int i = 0; i < 3; i++) {
        o.local.family = i == 0 ? 4 : 6;
        memcpy(o.local.addr, i == 1 ? v6 : mapped, 16);
        if (i == 0) memcpy(o.local.addr, mapped + 12, 4);
        if (cdtls_io_build_cmsg(&o, o.local.family, cm, sizeof cm, &n) == CDTLS_OK)
            write_seed("fuzz_io_cmsg", cm, n);
    }
    /* a receive's report: IP_PKTINFO carries the destination in ipi_addr */
    vec v = {0};
    int tos = 0xb9, ttl = 63;
    struct in_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    pi.ipi_ifindex = 1;
    memcpy(&pi.ipi_addr, mapped + 12, 4);
    put_cmsg_bytes(&v, IPPROTO_IP, IP_TOS, &tos, 1);
    put_cmsg_bytes(&v, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    put_cmsg_bytes(&v, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    write_seed("fuzz_io_cmsg", v.p, v.n);
    /* GRO: flags, control length, control (UDP_GRO first, as the kernel
     * puts it), payload of several segments */
    static const int segs[] = {1200, 100, 7};
    static const size_t lens[] = {3000, 400, 7};
    for (int i = 0; i < 3; i++) {
        vec c = {0}, s = {0};
        put_cmsg_bytes(&c, IPPROTO_UDP, 104 /* UDP_GRO */, &segs[i], sizeof segs[i]);
        put_cmsg_bytes(&c, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
        vec_u8(&s, (uint8_t)((i * 9) << 2 | (i == 1)));
        vec_u8(&s, (uint8_t)(c.n >> 8));
        vec_u8(&s, (uint8_t)c.n);
        vec_put(&s, c.p, c.n);
        for (size_t k = 0; k < lens[i]; k++) vec_u8(&s, (uint8_t)(k / (size_t)segs[i] + 0x30));
        write_seed("fuzz_io_gro", s.p, s.n);
        free(c.p);
        free(s.p);
    }
    free(v.p);
}

/* fuzz_record13: for each suite the build has, datagrams of three DTLS
 * 1.3 records in every header form (the last without a length), behind a
 * DTLSPlaintext handshake record, under the harness's keys, epoch and CID
 * length, so the fuzzer starts from records that open. */
static void record13_seeds(void)
{
    static const uint8_t cid[5] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4};
    fuzz_provider fp;
    fuzz_provider_init_fast(&fp, 0x130);
    for (unsigned which = 1; which <= FR13_N_SUITES; which++) {
        for (unsigned form = 0; form < 4; form++) {
            record13_cipher tx;
            if (!fr13_cipher_init(&tx, &fp.base, which)) break;
            const size_t cid_len = (form & 2) ? sizeof cid : 0;
            const uint8_t sel0 = (uint8_t)(which | cid_len << 3), sel1 = (uint8_t)(form & 1 ? 0x83 : 0x01);
            const uint64_t epoch = 2 + (sel1 & 7);
            vec d = {0};
            /* a DTLSPlaintext ack(26) record of epoch 0 first */
            static const uint8_t plain[] = {26, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0};
            vec_put(&d, plain, sizeof plain);
            for (uint64_t seq = 0; seq < 3; seq++) {
                record13_header_opts o = {(int)((form + seq) & 1), seq < 2, cid_len ? cid : NULL, cid_len};
                uint8_t rec[128];
                size_t n = 0;
                char msg[32];
                int m = snprintf(msg, sizeof msg, "record %u/%u/%u", which, form, (unsigned)seq);
                if (record13_seal(&tx, &o, epoch, seq, (uint8_t)(23 - seq), (const uint8_t *)msg, (size_t)m,
                                  (size_t)seq * 3, rec, sizeof rec, &n) != CDTLS_OK)
                    abort();
                vec_put(&d, rec, n);
            }
            vec v = {0};
            vec_u8(&v, sel0);
            vec_u8(&v, sel1);
            vec_put(&v, d.p, d.n);
            write_seed("fuzz_record13", v.p, v.n);
            free(v.p);
            free(d.p);
            record13_cipher_clear(&tx);
        }
    }
}

/* fuzz_hs13_msg seeds: one of each DTLS 1.3 message, made by the codec's
 * writers (no 1.3 handshake runs yet to record). */
static void hs13_seed(uint8_t type, int (*write)(cdtls_writer *w))
{
    uint8_t buf[2048]; /* an X25519MLKEM768 ClientHello is ~1.3 KB */
    cdtls_writer w;
    writer_init(&w, buf, sizeof buf);
    if (write(&w) != CDTLS_OK) {
        fprintf(stderr, "gen_corpus: a DTLS 1.3 seed (type %u) did not write\n", type);
        exit(1);
    }
    write_seed2("fuzz_hs13_msg", type, buf, w.len);
}

static const uint8_t seed_key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static int seed_client_hello(cdtls_writer *w)
{
    static const uint16_t suites[] = {0x1301, 0x1303}, groups[] = {29, 23}, sigs[] = {0x0403, 0x0807};
    static const uint16_t versions[] = {HS13_DTLS_VERSION_1_3, DTLS_VERSION_1_2};
    static const hs13_key_share shares[] = {{29, seed_key, 32}};
    static const hs13_psk_identity ids[] = {{(const uint8_t *)"ticket", 6, 1234}};
    static const hs13_bytes binders[] = {{NULL, 32}};
    hs13_client_hello_params in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    in.legacy.suites = suites, in.legacy.n_suites = 2;
    in.legacy.groups = groups, in.legacy.n_groups = 2;
    in.legacy.sig_algs = sigs, in.legacy.n_sig_algs = 2;
    in.legacy.ext.alpn = (const uint8_t *)"\x02h3", in.legacy.ext.alpn_len = 3;
    in.versions = versions, in.n_versions = 2;
    in.shares = shares, in.n_shares = 1;
    in.cookie = seed_key, in.cookie_len = 16;
    in.psk_modes = 1u << HS13_PSK_DHE_KE;
    in.early_data = 1;
    in.identities = ids, in.binders = binders, in.n_psks = 1;
    return hs13_client_hello_write(w, &in, NULL);
}

static int seed_server_hello(cdtls_writer *w, int hrr)
{
    hs13_server_hello in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    in.legacy.cipher_suite = 0x1301;
    in.is_hrr = hrr;
    in.has_selected_version = 1, in.selected_version = HS13_DTLS_VERSION_1_3;
    in.has_key_share = 1, in.selected_group = 23;
    in.share.group = 29, in.share.key = seed_key, in.share.key_len = 32;
    if (hrr)
        in.cookie = seed_key, in.cookie_len = 16;
    else
        in.has_psk = 1;
    return hs13_server_hello_write(w, &in);
}

static int seed_sh(cdtls_writer *w)
{
    return seed_server_hello(w, 0);
}
static int seed_hrr(cdtls_writer *w)
{
    return seed_server_hello(w, 1);
}

static int seed_ee(cdtls_writer *w)
{
    hs_extensions e;
    memset(&e, 0, sizeof e);
    e.alpn = (const uint8_t *)"\x02h3", e.alpn_len = 3;
    return hs13_encrypted_extensions_write(w, &e, 1);
}

static int seed_cr(cdtls_writer *w)
{
    static const uint16_t sigs[] = {0x0403, 0x0804};
    return hs13_certificate_request_write(w, seed_key, 4, sigs, 2);
}

static int seed_cert(cdtls_writer *w)
{
    static const uint8_t ext[] = {0, 5, 0, 2, 0, 0};
    hs13_cert_entry e[2] = {{seed_key, 32, {ext, sizeof ext, 1}}, {seed_key, 8, {NULL, 0, 0}}};
    return hs13_certificate_write(w, NULL, 0, e, 2);
}

/* Raw public keys over 1.3 (RFC 7250 in RFC 8446 §4.4.2) and post-handshake
 * authentication (§4.6.2): a P-256 SubjectPublicKeyInfo as the one entry of
 * a Certificate answering an 8-byte certificate_request_context; that
 * CertificateRequest; EncryptedExtensions with both certificate types; a
 * ClientHello offering post_handshake_auth and raw keys. */
static const uint8_t seed_spki[91] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1,
    0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d,
    0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe,
    0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b,
    0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};

static int seed_cert_rpk(cdtls_writer *w)
{
    hs13_cert_entry e[1] = {{seed_spki, sizeof seed_spki, {NULL, 0, 0}}};
    return hs13_certificate_write(w, seed_key, 8, e, 1);
}

static int seed_cr_posthandshake(cdtls_writer *w)
{
    static const uint16_t sigs[] = {0x0807, 0x0403, 0x0503, 0x0804, 0x0805, 0x0806};
    return hs13_certificate_request_write(w, seed_key, 8, sigs, 6);
}

static int seed_ee_rpk(cdtls_writer *w)
{
    static const uint8_t rpk[1] = {HS_CERT_TYPE_RAW_PUBLIC_KEY};
    hs_extensions e;
    memset(&e, 0, sizeof e);
    e.server_cert_type = rpk, e.server_cert_type_len = 1;
    e.client_cert_type = rpk, e.client_cert_type_len = 1;
    return hs13_encrypted_extensions_write(w, &e, 0);
}

static int seed_client_hello_pha_rpk(cdtls_writer *w)
{
    static const uint16_t suites[] = {0x1301}, groups[] = {29}, sigs[] = {0x0403, 0x0807};
    static const uint16_t versions[] = {HS13_DTLS_VERSION_1_3};
    static const hs13_key_share shares[] = {{29, seed_key, 32}};
    static const uint8_t types[3] = {2, HS_CERT_TYPE_RAW_PUBLIC_KEY, HS_CERT_TYPE_X509};
    hs13_client_hello_params in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    in.legacy.suites = suites, in.legacy.n_suites = 1;
    in.legacy.groups = groups, in.legacy.n_groups = 1;
    in.legacy.sig_algs = sigs, in.legacy.n_sig_algs = 2;
    in.legacy.ext.server_cert_type = types, in.legacy.ext.server_cert_type_len = 3;
    in.legacy.ext.client_cert_type = types, in.legacy.ext.client_cert_type_len = 3;
    in.versions = versions, in.n_versions = 1;
    in.shares = shares, in.n_shares = 1;
    in.post_handshake_auth = 1;
    return hs13_client_hello_write(w, &in, NULL);
}

static int seed_nst(cdtls_writer *w)
{
    hs13_new_session_ticket t = {3600, 0x01020304, seed_key, 2, seed_key, 32, {NULL, 0, 0}, 1, 4096};
    return hs13_new_session_ticket_write(w, &t);
}

/* The shape our server sends (hs13_ticket.c): lifetime left of 24 h, an
 * 8-byte nonce, a sealed ticket of 182 bytes (key name, nonce, state with
 * ticket_age_add and issue time, tag), no extensions; and the edges: the
 * 7-day maximum, an empty nonce, a 32-byte stateful ticket ID. */
static int seed_nst_ours(cdtls_writer *w)
{
    static uint8_t ticket[182];
    for (size_t i = 0; i < sizeof ticket; i++) ticket[i] = (uint8_t)(i * 7 + 1);
    hs13_new_session_ticket t = {86400, 0xa5a5f00d, seed_key, 8, ticket, sizeof ticket, {NULL, 0, 0}, 0, 0};
    return hs13_new_session_ticket_write(w, &t);
}

static int seed_nst_stateful(cdtls_writer *w)
{
    hs13_new_session_ticket t = {604800, 0, NULL, 0, seed_key, 32, {NULL, 0, 0}, 0, 0};
    return hs13_new_session_ticket_write(w, &t);
}

static int seed_ku(cdtls_writer *w)
{
    return hs13_key_update_write(w, 1);
}

static int seed_ack(cdtls_writer *w)
{
    static const hs13_record_number rn[] = {{2, 0}, {2, 1}, {3, 7}};
    return hs13_ack_write(w, rn, 3);
}

/* NewConnectionId (RFC 9147 §9): three 8-byte CIDs spare, one immediate;
 * RequestConnectionId for 4 */
static int seed_new_cid(cdtls_writer *w)
{
    return hs13_new_cid_write(w, seed_key, 8, 3, HS13_CID_SPARE);
}

static int seed_new_cid_immediate(cdtls_writer *w)
{
    return hs13_new_cid_write(w, seed_key, 4, 1, HS13_CID_IMMEDIATE);
}

static int seed_request_cid(cdtls_writer *w)
{
    writer_u8(w, 4);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

static int seed_finished(cdtls_writer *w)
{
    writer_bytes(w, seed_key, 32);
    return w->failed ? CDTLS_ERR_BUFFER_TOO_SMALL : CDTLS_OK;
}

/* X25519MLKEM768 (0x11ec) key shares at their real sizes: a ClientHello
 * with the 1216-byte hybrid share and an X25519 one beside it, a
 * ServerHello with the 1120-byte hybrid share, a HelloRetryRequest asking
 * for the hybrid (docs/pq.md). The bytes are a pattern; the parsers look at
 * lengths only. */
static uint8_t hybrid_key[1216];

static int seed_client_hello_hybrid(cdtls_writer *w)
{
    static const uint16_t suites[] = {0x1301, 0x1303}, groups[] = {0x11ec, 29, 23}, sigs[] = {0x0403, 0x0807};
    static const uint16_t versions[] = {HS13_DTLS_VERSION_1_3};
    const hs13_key_share shares[] = {{0x11ec, hybrid_key, 1216}, {29, seed_key, 32}};
    hs13_client_hello_params in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    in.legacy.suites = suites, in.legacy.n_suites = 2;
    in.legacy.groups = groups, in.legacy.n_groups = 3;
    in.legacy.sig_algs = sigs, in.legacy.n_sig_algs = 2;
    in.versions = versions, in.n_versions = 1;
    in.shares = shares, in.n_shares = 2;
    return hs13_client_hello_write(w, &in, NULL);
}

static int seed_server_hello_hybrid(cdtls_writer *w, int hrr)
{
    hs13_server_hello in;
    memset(&in, 0, sizeof in);
    in.legacy.version = DTLS_VERSION_1_2;
    in.legacy.cipher_suite = 0x1301;
    in.is_hrr = hrr;
    in.has_selected_version = 1, in.selected_version = HS13_DTLS_VERSION_1_3;
    in.has_key_share = 1, in.selected_group = 0x11ec;
    in.share.group = 0x11ec, in.share.key = hybrid_key, in.share.key_len = 1120;
    return hs13_server_hello_write(w, &in);
}

static int seed_sh_hybrid(cdtls_writer *w)
{
    return seed_server_hello_hybrid(w, 0);
}
static int seed_hrr_hybrid(cdtls_writer *w)
{
    return seed_server_hello_hybrid(w, 1);
}

static void hs13_seeds(void)
{
    for (size_t i = 0; i < sizeof hybrid_key; i++) hybrid_key[i] = (uint8_t)(i * 7 + 1);
    hs13_seed(HS_CLIENT_HELLO, seed_client_hello_hybrid);
    hs13_seed(HS_SERVER_HELLO, seed_sh_hybrid);
    hs13_seed(HS_SERVER_HELLO, seed_hrr_hybrid);
    hs13_seed(HS_CLIENT_HELLO, seed_client_hello);
    hs13_seed(HS_SERVER_HELLO, seed_sh);
    hs13_seed(HS_SERVER_HELLO, seed_hrr);
    hs13_seed(HS13_ENCRYPTED_EXTENSIONS, seed_ee);
    hs13_seed(HS_CERTIFICATE_REQUEST, seed_cr);
    hs13_seed(HS_CERTIFICATE, seed_cert);
    hs13_seed(HS_NEW_SESSION_TICKET, seed_nst);
    hs13_seed(HS_NEW_SESSION_TICKET, seed_nst_ours);
    hs13_seed(HS_NEW_SESSION_TICKET, seed_nst_stateful);
    hs13_seed(HS13_KEY_UPDATE, seed_ku);
    hs13_seed(HS13_CONTENT_TYPE_ACK, seed_ack);
    hs13_seed(HS_FINISHED, seed_finished);
    hs13_seed(HS13_NEW_CONNECTION_ID, seed_new_cid);
    hs13_seed(HS13_NEW_CONNECTION_ID, seed_new_cid_immediate);
    hs13_seed(HS13_REQUEST_CONNECTION_ID, seed_request_cid);
    hs13_seed(HS_CERTIFICATE, seed_cert_rpk);
    hs13_seed(HS_CERTIFICATE_REQUEST, seed_cr_posthandshake);
    hs13_seed(HS13_ENCRYPTED_EXTENSIONS, seed_ee_rpk);
    hs13_seed(HS_CLIENT_HELLO, seed_client_hello_pha_rpk);
}

/* fuzz_hybrid_kex: a genuine ClientHello share (server's view), one a byte
 * short, and for the client's view the genuine ServerHello share as it is,
 * with its ciphertext or its X25519 half changed, and one byte longer. */
static void hybrid_seeds(void)
{
    static fuzz_provider prov;
    fuzz_provider_init_fast(&prov, 17);
    prov.base.kem[CDTLS_KEM_MLKEM768] = cdtls_fuzz_kem_mlkem768();
    if (!hybrid_kex_available(&prov.base)) return;
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN];
    size_t cn;
    if (hybrid_client_keygen(&c, &prov.base, cs, sizeof cs, &cn) != CDTLS_OK) return;
    write_seed2("fuzz_hybrid_kex", 0, cs, cn);
    write_seed2("fuzz_hybrid_kex", 0, cs, cn - 1);
    hybrid_client_clear(&c);
    uint8_t x[HYBRID_SERVER_SHARE_LEN + 1];
    memset(x, 0, sizeof x); /* XORed over the genuine share: zeros leave it */
    write_seed2("fuzz_hybrid_kex", 1, x, HYBRID_SERVER_SHARE_LEN);
    write_seed2("fuzz_hybrid_kex", 1, x, sizeof x);
    x[100] = 0x80;
    write_seed2("fuzz_hybrid_kex", 1, x, HYBRID_SERVER_SHARE_LEN);
    x[100] = 0;
    x[HYBRID_MLKEM768_CT_LEN + 5] = 0x01;
    write_seed2("fuzz_hybrid_kex", 1, x, HYBRID_SERVER_SHARE_LEN);
    x[HYBRID_MLKEM768_CT_LEN + 5] = 0;
    /* every length a confused peer might send (issue 17): one byte over,
     * each half alone, the halves' other sizes, nothing */
    static const size_t client_lens[] = {HYBRID_CLIENT_SHARE_LEN + 1, HYBRID_MLKEM768_EK_LEN,
                                         HYBRID_X25519_LEN, HYBRID_SERVER_SHARE_LEN, 0};
    static uint8_t big[HYBRID_CLIENT_SHARE_LEN + 1];
    hybrid_client c2;
    if (hybrid_client_keygen(&c2, &prov.base, big, sizeof big, &cn) != CDTLS_OK) return;
    hybrid_client_clear(&c2);
    for (size_t i = 0; i < sizeof client_lens / sizeof client_lens[0]; i++)
        write_seed2("fuzz_hybrid_kex", 0, big, client_lens[i]);
    static const size_t server_lens[] = {HYBRID_MLKEM768_CT_LEN, HYBRID_X25519_LEN,
                                         HYBRID_SERVER_SHARE_LEN - 1, HYBRID_CLIENT_SHARE_LEN};
    static uint8_t zeros[HYBRID_CLIENT_SHARE_LEN];
    for (size_t i = 0; i < sizeof server_lens / sizeof server_lens[0]; i++)
        write_seed2("fuzz_hybrid_kex", 1, zeros, server_lens[i]);
    /* below the hybrid (first byte 0x80 and up): the KEM's encaps on a
     * genuine encapsulation key, one byte short and over, a ciphertext
     * and nothing; its decaps on the genuine ciphertext (zeros XORed),
     * one byte changed, one short and one over; each for the stand-in and
     * (bit 1) the build's own ML-KEM */
    for (uint8_t real = 0; real <= 2; real += 2) {
        static const size_t ek_lens[] = {HYBRID_MLKEM768_EK_LEN, HYBRID_MLKEM768_EK_LEN - 1,
                                         HYBRID_MLKEM768_EK_LEN + 1, HYBRID_MLKEM768_CT_LEN, 0};
        for (size_t i = 0; i < sizeof ek_lens / sizeof ek_lens[0]; i++)
            write_seed2("fuzz_hybrid_kex", (uint8_t)(0x80 | real), big, ek_lens[i]);
        static const size_t ct_lens[] = {HYBRID_MLKEM768_CT_LEN, HYBRID_MLKEM768_CT_LEN - 1,
                                         HYBRID_MLKEM768_CT_LEN + 1, HYBRID_MLKEM768_EK_LEN};
        for (size_t i = 0; i < sizeof ct_lens / sizeof ct_lens[0]; i++)
            write_seed2("fuzz_hybrid_kex", (uint8_t)(0x81 | real), zeros, ct_lens[i]);
        zeros[700] = 0x04;
        write_seed2("fuzz_hybrid_kex", (uint8_t)(0x81 | real), zeros, HYBRID_MLKEM768_CT_LEN);
        zeros[700] = 0;
    }
}

/* fuzz_hello_verifier: our client's hellos in fragments (see that harness
 * for the framing), in order, reversed with an inconsistent copy, and a
 * flood from its eight addresses. */
static void hello_verifier_op(vec *v, uint8_t op, unsigned off, unsigned len, uint8_t seq)
{
    vec_u8(v, op);
    vec_u8(v, (uint8_t)(off >> 8)), vec_u8(v, (uint8_t)off);
    vec_u8(v, (uint8_t)(len >> 8)), vec_u8(v, (uint8_t)len);
    vec_u8(v, seq);
}

static void hello_verifier_seeds(void)
{
    vec v = {0};
    vec_u8(&v, 0x7a); /* 8 pending, 3 per source, 1 MiB, 5 s */
    for (unsigned k = 0; k < 2; k++)
        for (unsigned off = 0; off < 2048; off += 100)
            hello_verifier_op(&v, (uint8_t)(0x01 | k << 5), off, 100, 1);
    write_seed("fuzz_hello_verifier", v.p, v.n);
    v.n = 0;
    vec_u8(&v, 0x65); /* 2 pending, 2 per source, 8 KiB, 5 s */
    for (unsigned off = 2048; off > 0; off -= 128) {
        hello_verifier_op(&v, 0x01, off - 128, 128, 2);
        if (off == 1024) hello_verifier_op(&v, 0x41, 900, 200, 3);
    }
    write_seed("fuzz_hello_verifier", v.p, v.n);
    v.n = 0;
    vec_u8(&v, 0x10); /* 1 pending, 1 per source, 8 KiB, 50 ms */
    for (unsigned a = 0; a < 8; a++) {
        hello_verifier_op(&v, (uint8_t)(0x01 | a << 2), 0, 60, 0);
        vec_u8(&v, 2), vec_u8(&v, 0), vec_u8(&v, 20); /* 20 ms */
    }
    write_seed("fuzz_hello_verifier", v.p, v.n);
    free(v.p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    make_dir(outdir);
    fuzz_fixtures_load();
    cert_seeds();
    io_seeds();
    record13_seeds();
    hs13_seeds();
    hybrid_seeds();
    hello_verifier_seeds();
    int failed = 0, sessions = 0, skipped = 0;
    vec seed = {0};
    for (size_t s = 0; s < FUZZ_N_SCENARIOS; s++) {
        for (int role = 0; role < 2; role++) {
            for (int v = 0; v < V__COUNT; v++) {
                int rc = record_session(s, role ? CDTLS_SERVER : CDTLS_CLIENT, v, &seed);
                if (rc < 0) {
                    skipped++;
                    break;
                }
                if (!rc) {
                    failed++;
                    continue;
                }
                sessions++;
                write_seed(role ? "fuzz_engine_server" : "fuzz_engine_client", seed.p, seed.n);
            }
        }
    }
    free(seed.p);
    printf("gen_corpus: %d sessions recorded, %d failed, %d scenario/role pairs not in this build, "
           "%zu seed files written to %s\n",
           sessions, failed, skipped, n_written, outdir);
    return failed ? 1 : 0;
}
