/* Reassembly of fragmented first ClientHellos for the stateless hello
 * verifier (hello_verifier.c), before any connection exists for the peer.
 *
 * Why: a DTLS 1.3 server answers a ClientHello without a valid cookie with
 * a HelloRetryRequest whose cookie holds Hash(ClientHello1) (RFC 9147
 * §5.1, RFC 8446 §4.4.1), which needs the whole hello; the hello offers
 * 1.3 in supported_versions and carries a returned cookie in the cookie
 * extension, both of which may sit in any fragment (RFC 9147 §5.5, RFC
 * 6347 §4.2.3). Browsers send ~1.4 KB hellos (X25519MLKEM768 shares) cut
 * at MTU ~1200, so the verifier cannot answer from one datagram.
 *
 * What it costs, bounded (docs/security.md, "Fragmented ClientHellos"):
 *  - at most max_pending hellos held, at most max_per_source of them from
 *    one source (an IPv4 /24 or IPv6 /64 when the caller gives a
 *    cdtls_addr, else one address); a new hello beyond either evicts the
 *    oldest held (of that source first), oldest-first as the listener
 *    evicts handshakes in progress;
 *  - a hello declaring more than max_hello bytes is not held;
 *  - every byte held (the entries and the fragment buffers) counts
 *    against one budget; when a fragment would not fit, the oldest other
 *    hellos are evicted, and if it still does not fit it is dropped;
 *  - a hello not complete timeout_ms after its first fragment is dropped
 *    (checked on every call, oldest first);
 *  - the bytes held follow the bytes received (hs_reasm runs), not the
 *    length a fragment claims;
 *  - fragments that disagree with bytes already held (type, length,
 *    overlapping content) are dropped whole (RFC 9147 §5.5 / RFC 6347
 *    §4.2.3 leave it open; taking them would let an off-path sender
 *    rewrite a hello); duplicates are harmless.
 * Nothing here is secret (a ClientHello is sent in the clear): buffers are
 * freed, not wiped for secrecy. Single-threaded; the worker group calls it
 * under its cookie lock. */
#ifndef CDTLS_ENGINE_HELLO_REASM_H
#define CDTLS_ENGINE_HELLO_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "cdtls/alloc.h"
#include "handshake/hs_msg.h"
#include "handshake/hs_reasm.h"

/* Address and source bytes kept per hello: a longer address is not held. */
#define HELLO_REASM_ADDR_MAX 64u

typedef struct hello_reasm_limits {
    unsigned max_pending;    /* hellos held at once */
    unsigned max_per_source; /* of them from one source */
    size_t max_hello;        /* a hello's declared body length, at most */
    size_t budget;           /* bytes of entries and buffers, all hellos together */
    uint32_t timeout_ms;     /* from a hello's first fragment to its completion */
} hello_reasm_limits;

typedef struct hello_pending {
    struct hello_pending *prev, *next; /* oldest first */
    uint8_t addr[HELLO_REASM_ADDR_MAX];
    uint8_t source[HELLO_REASM_ADDR_MAX];
    size_t addr_len, source_len;
    uint16_t msg_seq;
    uint64_t started_ms;
    uint64_t max_record_seq; /* the highest record number that brought a fragment */
    hs_reasm r;
} hello_pending;

typedef struct hello_reasm {
    const cdtls_allocator *a;
    hello_reasm_limits lim;
    cdtls_handshake_budget budget; /* used: entries and every hs_reasm's buffers */
    hello_pending *oldest, *newest;
    unsigned n;
} hello_reasm;

void hello_reasm_init(hello_reasm *t, const cdtls_allocator *a, const hello_reasm_limits *lim);
/* Drops every hello whose first fragment came timeout_ms or more before now. */
void hello_reasm_expire(hello_reasm *t, uint64_t now_ms);
/* One fragment (h, frag of h->fragment_length bytes) of a ClientHello from
 * addr, whose source (for the per-source limit) is source. Returns
 * CDTLS_OK when held (or a harmless duplicate), 1 when the hello is now
 * whole (*done: its entry; read it with hello_pending_message, then
 * hello_reasm_drop it), or why the fragment was dropped: CDTLS_ERR_LIMIT,
 * CDTLS_ERR_DECODE (inconsistent), CDTLS_ERR_NOMEM. A dropped fragment
 * leaves no new entry behind. */
int hello_reasm_add(hello_reasm *t, const void *addr, size_t addr_len, const uint8_t *source,
                    size_t source_len, const hs_header *h, const uint8_t *frag, uint64_t record_seq,
                    uint64_t now_ms, hello_pending **done);
/* The whole message of a complete entry: its 12-byte unfragmented header,
 * then the body; 0 if it is not complete. */
int hello_pending_message(const hello_pending *e, const uint8_t **msg, size_t *msg_len);
void hello_reasm_drop(hello_reasm *t, hello_pending *e);
/* Drops the entry for (addr, msg_seq), if any. */
void hello_reasm_forget(hello_reasm *t, const void *addr, size_t addr_len, uint16_t msg_seq);
void hello_reasm_free(hello_reasm *t);

#endif
