/* Batched send and receive (cdtls_io_send_batch / cdtls_io_recv_batch):
 * the checks and the one-datagram-at-a-time path every platform has. A
 * backend that can hand a whole batch to the kernel in one system call
 * (Linux sendmmsg/recvmmsg, posix.c) sets CDTLS_IO_CAP_SEND_BATCH /
 * _RECV_BATCH and is called through io_send_native_batch /
 * io_recv_native_batch; when the kernel turns the call down (ENOSYS under
 * an emulator, say) the backend clears the bit and the loop below takes
 * over, so a batch is never lost for want of the fast path. */
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

/* One by one; a datagram's failure is its own (status), only a full send
 * buffer stops the batch (cdtls_io_send_batch). */
static int send_loop(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *sent)
{
    cdtls_io_msg *out = msgs;
    int first = CDTLS_OK;
    size_t k = 0;
    for (; k < n; k++) {
        const cdtls_io_msg *m = &msgs[k];
        int rc = cdtls_io_send(s, m->buf, m->len, &m->addr, m->oob.flags ? &m->oob : NULL, m->raw,
                               m->raw_len);
        out[k].status = rc;
        out[k].os_error = rc ? s->last_error : 0;
        if (rc == CDTLS_ERR_WOULD_BLOCK) {
            *sent = k;
            return rc;
        }
        if (rc && !first) first = rc;
    }
    *sent = k;
    return first;
}

static int recv_loop(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms)
{
    size_t k = 0;
    for (; k < n; k++) {
        cdtls_io_msg *m = &msgs[k];
        m->truncated = 0;
        m->raw_len = 0;
        /* Only the first datagram is waited for: the batch is what is
         * already there, so a trickle cannot hold the caller. */
        int rc = cdtls_io_recv(s, m->buf, m->cap, &m->len, &m->addr, &m->oob, m->raw, m->raw_cap, &m->raw_len,
                               k == 0 ? timeout_ms : 0);
        if (rc == CDTLS_ERR_BUFFER_TOO_SMALL) {
            m->truncated = 1;
            if (m->len > m->cap) m->len = m->cap;
            continue;
        }
        if (rc) {
            if (k == 0) return rc;
            break;
        }
    }
    *received = k;
    return CDTLS_OK;
}

int cdtls_io_send_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *sent)
{
    size_t dummy;
    if (!sent) sent = &dummy;
    *sent = 0;
    if (!s || (!msgs && n)) return CDTLS_ERR_INVALID_ARG;
    if (n == 0) return CDTLS_OK;
    if (s->caps & CDTLS_IO_CAP_SEND_BATCH) {
        int rc = io_send_native_batch(s, msgs, n, sent);
        if (rc != CDTLS_ERR_UNSUPPORTED) return rc;
        /* the backend gave up on the fast path (and cleared the bit) */
        int before = CDTLS_OK;
        for (size_t i = 0; i < *sent && !before; i++) before = msgs[i].status;
        size_t more = 0;
        rc = send_loop(s, msgs + *sent, n - *sent, &more);
        *sent += more;
        return rc == CDTLS_ERR_WOULD_BLOCK || !before ? rc : before;
    }
    return send_loop(s, msgs, n, sent);
}

int cdtls_io_recv_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received, int timeout_ms)
{
    if (!received) return CDTLS_ERR_INVALID_ARG;
    *received = 0;
    if (!s || !msgs || n == 0) return CDTLS_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if ((!msgs[i].buf && msgs[i].cap) || (!msgs[i].raw && msgs[i].raw_cap)) return CDTLS_ERR_INVALID_ARG;
#if defined(__linux__)
    /* With GRO on every read may be coalesced: only the GRO path, which
     * cuts reads apart, may read (the state decides, not the caps bit). */
    if (s->gro) return io_recv_gro_batch(s, msgs, n, received, timeout_ms);
#endif
    if (s->caps & CDTLS_IO_CAP_RECV_BATCH) {
        int rc = io_recv_native_batch(s, msgs, n, received, timeout_ms);
        if (rc != CDTLS_ERR_UNSUPPORTED) return rc;
    }
    return recv_loop(s, msgs, n, received, timeout_ms);
}

/* ------------------------------------------------------------ UDP GRO
 * Cutting a coalesced read back into its datagrams: plain C over the bytes
 * and the lengths the kernel reported, so every platform compiles it and
 * the tests reach every case (tests/test_io_batch.c); only posix.c on
 * Linux has reads to feed it. */

void io_gro_read_init(io_gro_read *r, const uint8_t *buf, size_t len, size_t seg, int cut)
{
    r->buf = buf;
    r->len = len;
    r->off = 0;
    /* No segment size, or one that covers the read: one datagram (a read
     * of 0 bytes is one empty datagram, not none). */
    r->seg = seg && seg < len ? seg : 0;
    r->left = r->seg ? (len + r->seg - 1) / r->seg : 1;
    r->cut = cut;
}

int io_gro_take(io_gro_read *r, cdtls_io_msg *m)
{
    if (!r->left) return 0;
    size_t rest = r->len - r->off;
    size_t piece = r->seg && r->seg < rest ? r->seg : rest;
    /* A truncated read lost what followed len: its last piece is whole
     * only if it has the full segment size (then the cut fell between
     * datagrams, and the lost ones are lost like any dropped datagram). */
    int incomplete = r->cut && r->left == 1 && (r->seg == 0 || piece < r->seg);
    size_t copy = piece < m->cap ? piece : m->cap;
    if (copy) memcpy(m->buf, r->buf + r->off, copy);
    m->len = copy;
    m->truncated = incomplete || piece > m->cap;
    m->addr = r->from;
    m->oob = r->oob;
    m->raw_len = 0;
    if (m->raw && r->raw_len <= m->raw_cap) {
        memcpy(m->raw, r->raw, r->raw_len);
        m->raw_len = r->raw_len;
    }
    r->off += piece;
    r->left--;
    return 1;
}

size_t io_gro_pending(const struct cdtls_io_gro *g)
{
    size_t n = 0;
    for (size_t i = g->next; i < g->count; i++) n += g->r[i].left;
    return n;
}

size_t cdtls_io_pending(const cdtls_io_socket *s)
{
    return s && s->gro ? io_gro_pending(s->gro) : 0;
}
