/* The structure-aware mutator of the engine harnesses
 * (LLVMFuzzerCustomMutator, LLVMFuzzerCustomCrossOver). Include it once,
 * after fuzz_engine.h, with FUZZ_MUTATOR_ROLE defined as the harness's
 * target role.
 *
 * Why: libFuzzer's byte mutations of an engine input mostly break the
 * framing (a part's length), a record's length or a handshake header's
 * lengths, and every mutated byte of an epoch-1 record fails its AEAD tag,
 * so the fuzzer spends its executions on the first parse. This mutator
 * knows the layers (docs/fuzzing.md, "The custom mutator"):
 *
 *   parts      drop, duplicate, swap, insert a timer or next-connection
 *              mark, change the scenario byte;
 *   records    of a datagram (RFC 6347 §4.1, the RFC 9146 CID header with
 *              the scenario's 8-byte CID): mutate a record's fragment and
 *              fix its length, set header fields to values that matter
 *              (content types, versions, epochs 0-2, sequence numbers
 *              around the last), drop or duplicate a record, move it into a
 *              datagram of its own;
 *   handshake  messages inside a plaintext handshake record or a forged
 *              one (RFC 6347 §4.2.2): mutate a body and fix length and
 *              fragment_length, change msg_type or message_seq, split a
 *              message into two fragments (and reorder them), drop or
 *              duplicate a message;
 *   forge      replay the input through the driver with a tap that opens
 *              the epoch-1 records of each datagram with the target's own
 *              read keys, take one that opened, and replace it by a
 *              FUZZ_FORGE_MARK part holding its plaintext, mutated as
 *              above: the harness re-encrypts it when it runs, so a
 *              mutated Finished, renegotiating ClientHello or protected
 *              alert reaches the target authenticated (DTLS 1.3: the
 *              records of the target's application epoch, fm_tap13);
 *
 * and 40 % of the time it leaves the whole input to libFuzzer's own
 * byte mutations (LLVMFuzzerMutate), which its comparison tracing guides.
 * A mutation grows the input by at most 64 bytes. Cross-over splices the
 * parts of two inputs. */
#ifndef CDTLS_FUZZ_MUTATOR_H
#define CDTLS_FUZZ_MUTATOR_H

#ifndef FUZZ_MUTATOR_ROLE
#error "define FUZZ_MUTATOR_ROLE (CDTLS_CLIENT or CDTLS_SERVER) before including fuzz_mutator.h"
#endif

#include "common/dtls.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2,
                                 uint8_t *out, size_t max_out_size, unsigned int seed);

/* -------------------------------------------------------------- random */

typedef struct fm_rng {
    uint64_t s;
} fm_rng;

static uint32_t fm_rand(fm_rng *r, uint32_t n)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t x = (uint32_t)(r->s >> 33);
    return n ? x % n : x;
}

/* ------------------------------------------------------ parts of an input */

#define FM_MAX_PARTS 512
/* The largest seed (a handshake with certificates and retransmissions) is
 * about 9 KiB; larger inputs only cost time */
#define FM_SOFT_MAX 12288
#define FM_MAX_INPUT 65536

typedef struct fm_part {
    int mark; /* 0 datagram, 1 timer, 2 next connection, 3 forge */
    const uint8_t *p;
    size_t len;
} fm_part;

typedef struct fm_input {
    uint8_t scenario;
    fm_part part[FM_MAX_PARTS];
    size_t n;
} fm_input;

static void fm_parse(const uint8_t *d, size_t size, fm_input *in)
{
    in->scenario = d[0];
    in->n = 0;
    fuzz_split s = {d + 1, size - 1};
    const uint8_t *p;
    size_t len;
    int mark;
    while (in->n < FM_MAX_PARTS && fuzz_next(&s, &p, &len, &mark)) {
        in->part[in->n].mark = mark;
        in->part[in->n].p = p;
        in->part[in->n].len = len;
        in->n++;
    }
}

/* The input with its parts, written to out; 0 if it does not fit. */
static size_t fm_write(const fm_input *in, uint8_t *out, size_t cap)
{
    size_t o = 0;
    if (cap < 1) return 0;
    out[o++] = in->scenario;
    for (size_t i = 0; i < in->n; i++) {
        const fm_part *pt = &in->part[i];
        size_t need = 2 + (pt->mark == 3 ? 2 : 0) + (pt->mark == 0 || pt->mark == 3 ? pt->len : 0);
        if (o + need > cap || pt->len >= FUZZ_FORGE_MARK) return 0;
        if (pt->mark == 1 || pt->mark == 2) {
            out[o++] = 0xff;
            out[o++] = pt->mark == 1 ? 0xff : 0xfe;
            continue;
        }
        if (pt->mark == 3) {
            out[o++] = 0xff;
            out[o++] = 0xfd;
        }
        out[o++] = (uint8_t)(pt->len >> 8);
        out[o++] = (uint8_t)pt->len;
        memcpy(out + o, pt->p, pt->len);
        o += pt->len;
    }
    return o;
}

/* Space for the new bytes of the parts a mutation rewrites; the parts
 * point into it until the input is written out. */
typedef struct fm_arena {
    uint8_t buf[2 * FM_MAX_INPUT];
    size_t used;
} fm_arena;

static uint8_t *fm_alloc(fm_arena *a, size_t n)
{
    if (n > sizeof a->buf - a->used) return NULL;
    uint8_t *p = a->buf + a->used;
    a->used += n;
    return p;
}

static int fm_insert(fm_input *in, size_t at, fm_part pt)
{
    if (in->n == FM_MAX_PARTS || at > in->n) return 0;
    memmove(&in->part[at + 1], &in->part[at], (in->n - at) * sizeof in->part[0]);
    in->part[at] = pt;
    in->n++;
    return 1;
}

static void fm_remove(fm_input *in, size_t at)
{
    memmove(&in->part[at], &in->part[at + 1], (in->n - at - 1) * sizeof in->part[0]);
    in->n--;
}

/* ------------------------------------------------------------- records */

typedef struct fm_rec {
    size_t off, hdr_len, len; /* header at off, fragment of len after it */
} fm_rec;

static size_t fm_cid_len(uint8_t scenario)
{
    return (fuzz_scenarios[scenario % FUZZ_N_SCENARIOS].flags & SC_CID) ? 8 : 0;
}

/* The whole records of a datagram (a truncated last one is left out). */
static size_t fm_records(const uint8_t *d, size_t n, size_t cid_len, fm_rec *out, size_t max)
{
    size_t off = 0, k = 0;
    while (k < max && n - off >= DTLS_RECORD_HEADER_LEN) {
        size_t hl = (d[off] == CT_TLS12_CID && cid_len) ? DTLS_RECORD_HEADER_LEN + cid_len
                                                        : DTLS_RECORD_HEADER_LEN;
        if (n - off < hl) break;
        size_t len = (size_t)d[off + hl - 2] << 8 | d[off + hl - 1];
        if (len > n - off - hl) break;
        out[k].off = off;
        out[k].hdr_len = hl;
        out[k].len = len;
        k++;
        off += hl + len;
    }
    return k;
}

/* A copy of bytes with [at, at + old) replaced by rep[0..rep_len) */
static uint8_t *fm_splice(fm_arena *a, const uint8_t *d, size_t n, size_t at, size_t old, const uint8_t *rep,
                          size_t rep_len, size_t *out_len)
{
    uint8_t *p = fm_alloc(a, n - old + rep_len);
    if (!p) return NULL;
    memcpy(p, d, at);
    if (rep_len) memcpy(p + at, rep, rep_len);
    memcpy(p + at + rep_len, d + at + old, n - at - old);
    *out_len = n - old + rep_len;
    return p;
}

/* ---------------------------------------------------- handshake messages */

/* Mutates the handshake messages in frag (a handshake record's plaintext:
 * 12-byte headers, each followed by fragment_length bytes) into out.
 * Returns the new length, 0 if nothing applied. */
static size_t fm_mutate_handshake(fm_rng *r, const uint8_t *frag, size_t n, uint8_t *out, size_t cap)
{
    size_t at[64], cnt = 0, off = 0;
    while (cnt < 64 && n - off >= DTLS_HS_HEADER_LEN) {
        size_t fl = (size_t)frag[off + 9] << 16 | (size_t)frag[off + 10] << 8 | frag[off + 11];
        if (fl > n - off - DTLS_HS_HEADER_LEN) break;
        at[cnt++] = off;
        off += DTLS_HS_HEADER_LEN + fl;
    }
    if (cnt == 0 || cap < n + 2 * DTLS_HS_HEADER_LEN) return 0;
    size_t m = at[fm_rand(r, (uint32_t)cnt)];
    const uint8_t *h = frag + m;
    size_t fl = (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
    size_t end = m + DTLS_HS_HEADER_LEN + fl;
    size_t msg_len = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    size_t foff = (size_t)h[6] << 16 | (size_t)h[7] << 8 | h[8];
    memcpy(out, frag, m); /* the messages before it */
    size_t o = m;
    uint8_t *hdr = out + o;
    switch (fm_rand(r, 6)) {
    case 0: { /* the body, lengths fixed up */
        memcpy(hdr, h, DTLS_HS_HEADER_LEN + fl);
        size_t room = cap - o - DTLS_HS_HEADER_LEN - (n - end);
        if (room > fl + 256) room = fl + 256;
        size_t nl = LLVMFuzzerMutate(hdr + DTLS_HS_HEADER_LEN, fl, room);
        if (foff == 0 && fl == msg_len)
            msg_len = nl; /* a whole message stays whole */
        else if (foff + nl > msg_len)
            msg_len = foff + nl;
        hdr[1] = (uint8_t)(msg_len >> 16), hdr[2] = (uint8_t)(msg_len >> 8), hdr[3] = (uint8_t)msg_len;
        hdr[9] = (uint8_t)(nl >> 16), hdr[10] = (uint8_t)(nl >> 8), hdr[11] = (uint8_t)nl;
        o += DTLS_HS_HEADER_LEN + nl;
        break;
    }
    case 1: { /* msg_type */
        static const uint8_t types[] = {0, 1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 20, 22, 254};
        memcpy(hdr, h, DTLS_HS_HEADER_LEN + fl);
        hdr[0] = fm_rand(r, 4) ? types[fm_rand(r, sizeof types)] : (uint8_t)fm_rand(r, 256);
        o += DTLS_HS_HEADER_LEN + fl;
        break;
    }
    case 2: { /* message_seq */
        memcpy(hdr, h, DTLS_HS_HEADER_LEN + fl);
        unsigned seq = (unsigned)h[4] << 8 | h[5];
        static const int delta[] = {-2, -1, 1, 2, 5};
        seq = fm_rand(r, 8) ? seq + (unsigned)delta[fm_rand(r, 5)] : fm_rand(r, 65536);
        hdr[4] = (uint8_t)(seq >> 8), hdr[5] = (uint8_t)seq;
        o += DTLS_HS_HEADER_LEN + fl;
        break;
    }
    case 3: { /* two fragments, maybe overlapping, maybe in reverse order */
        if (fl < 2) return 0;
        size_t k = 1 + fm_rand(r, (uint32_t)(fl - 1));
        size_t back = fm_rand(r, 4) ? 0 : fm_rand(r, (uint32_t)k); /* overlap */
        if (n + 2 * DTLS_HS_HEADER_LEN + back > cap) return 0;
        size_t a_off = foff, a_len = k, b_off = foff + k - back, b_len = fl - k + back;
        const uint8_t *a_body = h + DTLS_HS_HEADER_LEN, *b_body = h + DTLS_HS_HEADER_LEN + k - back;
        int reverse = fm_rand(r, 2);
        for (int i = 0; i < 2; i++) {
            int first = (i == 0) != reverse;
            size_t fo = first ? a_off : b_off, fn = first ? a_len : b_len;
            memcpy(out + o, h, 6);
            out[o + 6] = (uint8_t)(fo >> 16), out[o + 7] = (uint8_t)(fo >> 8), out[o + 8] = (uint8_t)fo;
            out[o + 9] = (uint8_t)(fn >> 16), out[o + 10] = (uint8_t)(fn >> 8), out[o + 11] = (uint8_t)fn;
            memcpy(out + o + DTLS_HS_HEADER_LEN, first ? a_body : b_body, fn);
            o += DTLS_HS_HEADER_LEN + fn;
        }
        break;
    }
    case 4: /* dropped */ break;
    default: /* duplicated */
        if (n + DTLS_HS_HEADER_LEN + fl > cap) return 0;
        memcpy(out + o, h, DTLS_HS_HEADER_LEN + fl);
        memcpy(out + o + DTLS_HS_HEADER_LEN + fl, h, DTLS_HS_HEADER_LEN + fl);
        o += 2 * (DTLS_HS_HEADER_LEN + fl);
        break;
    }
    if (o + (n - end) > cap) return 0;
    memcpy(out + o, frag + end, n - end); /* the messages after it */
    return o + (n - end);
}

/* ------------------------------------------------------- the mutations */

static uint8_t fm_tmp[FM_MAX_INPUT];

/* A datagram part with its records; i gets the part, 0 if none. */
static int fm_pick_records(fm_rng *r, const fm_input *in, size_t *i, fm_rec *recs, size_t *nrec)
{
    size_t cand[FM_MAX_PARTS], k = 0;
    for (size_t j = 0; j < in->n; j++)
        if (in->part[j].mark == 0 && in->part[j].len >= DTLS_RECORD_HEADER_LEN) cand[k++] = j;
    if (!k) return 0;
    *i = cand[fm_rand(r, (uint32_t)k)];
    *nrec = fm_records(in->part[*i].p, in->part[*i].len, fm_cid_len(in->scenario), recs, 64);
    return *nrec > 0;
}

static int fm_mutate_parts(fm_rng *r, fm_input *in)
{
    size_t i = in->n ? fm_rand(r, (uint32_t)in->n) : 0;
    switch (fm_rand(r, 6)) {
    case 0:
        if (!in->n) return 0;
        fm_remove(in, i);
        return 1;
    case 1: return in->n && in->part[i].len < 2048 && fm_insert(in, i, in->part[i]);
    case 2:
        if (in->n < 2 || i + 1 >= in->n) return 0;
        {
            fm_part t = in->part[i];
            in->part[i] = in->part[i + 1];
            in->part[i + 1] = t;
        }
        return 1;
    case 3: return fm_insert(in, in->n ? fm_rand(r, (uint32_t)in->n + 1) : 0, (fm_part){1, NULL, 0});
    case 4: return fm_insert(in, in->n ? fm_rand(r, (uint32_t)in->n + 1) : 0, (fm_part){2, NULL, 0});
    default: in->scenario = (uint8_t)fm_rand(r, FUZZ_N_SCENARIOS); return 1;
    }
}

static int fm_mutate_record(fm_rng *r, fm_input *in, fm_arena *a)
{
    size_t i, nrec;
    fm_rec recs[64];
    if (!fm_pick_records(r, in, &i, recs, &nrec)) return 0;
    fm_part *pt = &in->part[i];
    const fm_rec *rec = &recs[fm_rand(r, (uint32_t)nrec)];
    size_t whole = rec->hdr_len + rec->len;
    const uint8_t *h = pt->p + rec->off;
    uint8_t *np;
    size_t nn;
    switch (fm_rand(r, 7)) {
    case 0: { /* the fragment (a plaintext handshake one as messages), length fixed */
        memcpy(fm_tmp, h, rec->hdr_len);
        size_t fl = 0;
        if (h[0] == CT_HANDSHAKE && h[3] == 0 && h[4] == 0)
            fl = fm_mutate_handshake(r, h + rec->hdr_len, rec->len, fm_tmp + rec->hdr_len, 4096 + rec->len);
        if (!fl) {
            memcpy(fm_tmp + rec->hdr_len, h + rec->hdr_len, rec->len);
            fl = LLVMFuzzerMutate(fm_tmp + rec->hdr_len, rec->len, rec->len + 256);
        }
        if (fl > 0xffff) return 0;
        fm_tmp[rec->hdr_len - 2] = (uint8_t)(fl >> 8);
        fm_tmp[rec->hdr_len - 1] = (uint8_t)fl;
        np = fm_splice(a, pt->p, pt->len, rec->off, whole, fm_tmp, rec->hdr_len + fl, &nn);
        break;
    }
    case 1: { /* a header field set to a value that matters */
        memcpy(fm_tmp, h, whole);
        switch (fm_rand(r, 4)) {
        case 0: {
            static const uint8_t types[] = {20, 21, 22, 23, 24, 25};
            fm_tmp[0] = types[fm_rand(r, sizeof types)];
            break;
        }
        case 1: {
            static const uint16_t versions[] = {0xfefd, 0xfeff, 0x0303, 0xfefc, 0x0000};
            uint16_t v = versions[fm_rand(r, 5)];
            fm_tmp[1] = (uint8_t)(v >> 8), fm_tmp[2] = (uint8_t)v;
            break;
        }
        case 2: fm_tmp[3] = 0, fm_tmp[4] = (uint8_t)fm_rand(r, 3); break;
        default: { /* sequence number near the last one, or far */
            uint64_t seq = 0;
            for (int b = 5; b < 11; b++) seq = seq << 8 | fm_tmp[b];
            static const int64_t d[] = {-1, 1, 2, -64, 64, 1000};
            seq = fm_rand(r, 6) ? seq + (uint64_t)d[fm_rand(r, 6)] : (fm_rand(r, 2) ? 0 : 0xffffffffffffull);
            for (int b = 10; b >= 5; b--, seq >>= 8) fm_tmp[b] = (uint8_t)seq;
        }
        }
        np = fm_splice(a, pt->p, pt->len, rec->off, whole, fm_tmp, whole, &nn);
        break;
    }
    case 2: /* dropped */ np = fm_splice(a, pt->p, pt->len, rec->off, whole, NULL, 0, &nn); break;
    case 3: /* duplicated */ np = fm_splice(a, pt->p, pt->len, rec->off, 0, h, whole, &nn); break;
    case 4: { /* moved into a datagram of its own, after this one */
        np = fm_splice(a, pt->p, pt->len, rec->off, whole, NULL, 0, &nn);
        if (!np || !fm_insert(in, i + 1, (fm_part){0, h, whole})) return 0;
        pt = &in->part[i];
        break;
    }
    default: { /* its fragment given to libFuzzer, the length left alone */
        memcpy(fm_tmp, h, whole);
        size_t fl = LLVMFuzzerMutate(fm_tmp + rec->hdr_len, rec->len, rec->len + 64);
        np = fm_splice(a, pt->p, pt->len, rec->off, whole, fm_tmp, rec->hdr_len + fl, &nn);
        break;
    }
    }
    if (!np) return 0;
    pt->p = np;
    pt->len = nn;
    return 1;
}

/* A forged part: its content type, or its plaintext (handshake messages
 * mutated as such). */
static int fm_mutate_forged(fm_rng *r, fm_input *in, fm_arena *a)
{
    size_t cand[FM_MAX_PARTS], k = 0;
    for (size_t j = 0; j < in->n; j++)
        if (in->part[j].mark == 3 && in->part[j].len >= 1) cand[k++] = j;
    if (!k) return 0;
    fm_part *pt = &in->part[cand[fm_rand(r, (uint32_t)k)]];
    uint8_t *np = fm_alloc(a, pt->len + 4096 + 256);
    if (!np) return 0;
    memcpy(np, pt->p, pt->len);
    if (fm_rand(r, 5) == 0) {
        static const uint8_t types[] = {20, 21, 22, 23, 24, 25};
        np[0] = types[fm_rand(r, sizeof types)];
        pt->p = np;
        return 1;
    }
    size_t nl = 0;
    if (np[0] == CT_HANDSHAKE) nl = fm_mutate_handshake(r, pt->p + 1, pt->len - 1, np + 1, pt->len + 4096);
    if (!nl) nl = LLVMFuzzerMutate(np + 1, pt->len - 1, pt->len - 1 + 256);
    pt->p = np;
    pt->len = 1 + nl;
    return 1;
}

/* The tap: every epoch-1 record the target can open, by part and offset. */
typedef struct fm_opened {
    size_t part, off, whole;
    uint8_t type;
    size_t pt_off, pt_len; /* in the tap's plaintext store */
} fm_opened;

typedef struct fm_tap_state {
    fm_opened rec[32];
    size_t n;
    uint8_t store[FM_MAX_INPUT];
    size_t used;
    uint8_t cid_len;
} fm_tap_state;

#if CDTLS_HAVE_DTLS13
/* DTLS 1.3 (issue 17): the unified-header records of the target's current
 * application epoch that it can open (the peer's post-handshake messages,
 * ACKs, data), so that they too become forge parts the fuzzer mutates as
 * plaintext (fuzz_engine_forge seals them in that epoch again). Opening
 * here uses the target's own keys in this replay of the input only (a
 * failure counts toward that key's integrity limit, 2^36). Other records
 * are stepped over; an unreadable one ends the datagram, as for the
 * engine. */
static void fm_tap13(fm_tap_state *t, const cdtls_conn *c, size_t part, const uint8_t *dgram, size_t len)
{
    record13_rx_epoch *e = c->v13->rx_ap;
    if (!e) return;
    const size_t cid_len = c->use_cid ? c->own_cid_len : 0;
    cdtls_reader rd;
    reader_init(&rd, dgram, len);
    while (rd.left > 0 && t->n < 32) {
        const size_t off = len - rd.left;
        const record13_kind kind = record13_classify(rd.p[0]);
        if (kind == R13_KIND_PLAINTEXT || kind == R13_KIND_DTLS12) {
            if (rd.left < DTLS_RECORD_HEADER_LEN) return;
            const size_t l = (size_t)rd.p[11] << 8 | rd.p[12];
            if (reader_skip(&rd, DTLS_RECORD_HEADER_LEN + l) != CDTLS_OK) return;
            continue;
        }
        record13_header h;
        if (kind != R13_KIND_CIPHERTEXT || record13_read(&rd, cid_len, &h) != CDTLS_OK) return;
        if (h.epoch_bits != (uint8_t)(e->epoch & 3) || record13_unmask_seq(&e->cipher, &h) != CDTLS_OK)
            continue;
        const uint64_t seq = record13_seq_reconstruct(e->next_expected, h.seq_bits, 8u * h.seq_len);
        uint8_t *out = t->store + t->used;
        const size_t cap = sizeof t->store - t->used;
        size_t pt_len = 0;
        uint8_t type = 0;
        if (cap < h.body_len || record13_open(&e->cipher, &h, seq, out, cap, &pt_len, &type) != CDTLS_OK)
            continue;
        fm_opened *o = &t->rec[t->n++];
        o->part = part;
        o->off = off;
        o->whole = h.hdr_len + h.body_len;
        o->type = type;
        o->pt_off = t->used;
        o->pt_len = pt_len;
        t->used += pt_len;
    }
}
#endif

static void fm_tap(void *ctx, const fuzz_engine *fe, size_t part, const uint8_t *dgram, size_t len)
{
    fm_tap_state *t = ctx;
    const cdtls_conn *c = fe->c;
#if CDTLS_HAVE_DTLS13
    if (c && c->v13) {
        fm_tap13(t, c, part, dgram, len);
        return;
    }
#endif
    /* AEAD only: the harness seals forged parts with AEAD read keys
     * (fuzz_engine_forge), so a CBC record turned into one would be lost */
    if (!c || !c->have_read_cipher || c->read_cipher.kind != RC_AEAD) return;
    fm_rec recs[64];
    size_t nrec = fm_records(dgram, len, t->cid_len, recs, 64);
    for (size_t i = 0; i < nrec && t->n < 32; i++) {
        cdtls_reader rd;
        record_header h;
        const uint8_t *hdr, *frag;
        size_t hdr_len, pt_len = 0;
        uint8_t real_type = 0;
        reader_init(&rd, dgram + recs[i].off, recs[i].hdr_len + recs[i].len);
        if (record_read_cid(&rd, c->use_cid ? c->own_cid_len : 0, &h, &hdr, &hdr_len, &frag) != CDTLS_OK ||
            h.epoch != 1)
            continue;
        uint8_t *out = t->store + t->used;
        size_t cap = sizeof t->store - t->used;
        int rc = h.cid ? record_open_cid(&c->read_cipher, &h, frag, out, cap, &pt_len, &real_type)
                       : record_open(&c->read_cipher, &h, frag, h.length, out, cap, &pt_len);
        if (rc != CDTLS_OK) continue;
        fm_opened *o = &t->rec[t->n++];
        o->part = part;
        o->off = recs[i].off;
        o->whole = recs[i].hdr_len + recs[i].len;
        o->type = h.cid ? real_type : h.type;
        o->pt_off = t->used;
        o->pt_len = pt_len;
        t->used += pt_len;
    }
}

static fm_tap_state fm_tap_st;

static int fm_forge_from_record(fm_rng *r, fm_input *in, fm_arena *a, const uint8_t *data, size_t size)
{
    fm_tap_state *t = &fm_tap_st;
    t->n = 0;
    t->used = 0;
    t->cid_len = (uint8_t)fm_cid_len(in->scenario);
    (void)fuzz_engine_run_tapped(FUZZ_MUTATOR_ROLE, data, size, NULL, fm_tap, t);
    if (!t->n) return 0;
    const fm_opened *o = &t->rec[fm_rand(r, (uint32_t)t->n)];
    if (o->part >= in->n || in->part[o->part].mark != 0) return 0;
    fm_part *pt = &in->part[o->part];
    /* the record leaves its datagram; a forged part with its plaintext,
     * mutated, follows the datagram */
    size_t nn;
    uint8_t *np = fm_splice(a, pt->p, pt->len, o->off, o->whole, NULL, 0, &nn);
    uint8_t *fp = fm_alloc(a, 1 + o->pt_len + 4096 + 256);
    if (!np || !fp) return 0;
    fp[0] = o->type;
    const uint8_t *plain = t->store + o->pt_off;
    size_t fl = 0;
    if (fm_rand(r, 4)) {
        if (o->type == CT_HANDSHAKE) fl = fm_mutate_handshake(r, plain, o->pt_len, fp + 1, o->pt_len + 4096);
        if (!fl) {
            memcpy(fp + 1, plain, o->pt_len);
            fl = LLVMFuzzerMutate(fp + 1, o->pt_len, o->pt_len + 256);
        }
    } else {
        memcpy(fp + 1, plain, o->pt_len); /* as it was: mutated by later rounds */
        fl = o->pt_len;
    }
    pt->p = np;
    pt->len = nn;
    return fm_insert(in, o->part + 1, (fm_part){3, fp, 1 + fl});
}

static fm_arena fm_arena_st;
static fm_input fm_in;
static uint8_t fm_copy[FM_MAX_INPUT];

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    fm_rng r = {seed ^ 0x5851f42d4c957f2dull};
    uint32_t what = fm_rand(&r, 20);
    /* inputs grow only a little at a time, libFuzzer's own mutations
     * included: a custom mutator bypasses libFuzzer's length control
     * (-len_control), and a grown input costs every later execution */
    size_t cap = size + 64 < max_size ? size + 64 : max_size;
    if (size >= FM_SOFT_MAX) cap = size; /* past the seeds' sizes: no growth */
    if (cap < size) cap = size;
    if (size < 2 || size > FM_MAX_INPUT / 2 || what < 8) return LLVMFuzzerMutate(data, size, cap);
    what -= 4;
    memcpy(fm_copy, data, size);
    fm_parse(fm_copy, size, &fm_in);
    fm_arena_st.used = 0;
    int done;
    if (what < 6)
        done = fm_mutate_parts(&r, &fm_in);
    else if (what < 11)
        done = fm_mutate_record(&r, &fm_in, &fm_arena_st);
    else if (what < 14)
        done = fm_mutate_forged(&r, &fm_in, &fm_arena_st);
    else
        done = fm_forge_from_record(&r, &fm_in, &fm_arena_st, fm_copy, size);
    size_t n = done ? fm_write(&fm_in, data, cap) : 0;
    if (n == 0) {
        memcpy(data, fm_copy, size);
        return LLVMFuzzerMutate(data, size, cap);
    }
    return n;
}

/* The first parts of one input, then the last parts of the other: a
 * handshake from one seed continued with what another peer sent. */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2,
                                 uint8_t *out, size_t max_out_size, unsigned int seed)
{
    static fm_input a_in, b_in;
    if (size1 < 1 || size2 < 1) return 0;
    fm_rng r = {seed ^ 0x2545f4914f6cdd1dull};
    fm_parse(data1, size1, &a_in);
    fm_parse(data2, size2, &b_in);
    size_t ka = a_in.n ? fm_rand(&r, (uint32_t)a_in.n + 1) : 0;
    size_t kb = b_in.n ? fm_rand(&r, (uint32_t)b_in.n + 1) : 0;
    a_in.n = ka;
    for (size_t j = kb; j < b_in.n && a_in.n < FM_MAX_PARTS; j++) a_in.part[a_in.n++] = b_in.part[j];
    /* no longer than the longer of the two (see the length note above) */
    size_t cap = size1 > size2 ? size1 : size2;
    return fm_write(&a_in, out, cap < max_out_size ? cap : max_out_size);
}

#endif
