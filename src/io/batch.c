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

static int send_loop(cdtls_io_socket *s, const cdtls_io_msg *msgs, size_t n, size_t *sent)
{
    size_t k = 0;
    int rc = CDTLS_OK;
    for (; k < n; k++) {
        const cdtls_io_msg *m = &msgs[k];
        rc = cdtls_io_send(s, m->buf, m->len, &m->addr, m->oob.flags ? &m->oob : NULL, m->raw,
                           m->raw_len);
        if (rc) break;
    }
    *sent = k;
    return rc;
}

static int recv_loop(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received,
                     int timeout_ms)
{
    size_t k = 0;
    for (; k < n; k++) {
        cdtls_io_msg *m = &msgs[k];
        m->truncated = 0;
        m->raw_len = 0;
        /* Only the first datagram is waited for: the batch is what is
         * already there, so a trickle cannot hold the caller. */
        int rc = cdtls_io_recv(s, m->buf, m->cap, &m->len, &m->addr, &m->oob, m->raw, m->raw_cap,
                               &m->raw_len, k == 0 ? timeout_ms : 0);
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

int cdtls_io_send_batch(cdtls_io_socket *s, const cdtls_io_msg *msgs, size_t n, size_t *sent)
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
        size_t more = 0;
        rc = send_loop(s, msgs + *sent, n - *sent, &more);
        *sent += more;
        return rc;
    }
    return send_loop(s, msgs, n, sent);
}

int cdtls_io_recv_batch(cdtls_io_socket *s, cdtls_io_msg *msgs, size_t n, size_t *received,
                        int timeout_ms)
{
    if (!received) return CDTLS_ERR_INVALID_ARG;
    *received = 0;
    if (!s || !msgs || n == 0) return CDTLS_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if ((!msgs[i].buf && msgs[i].cap) || (!msgs[i].raw && msgs[i].raw_cap)) return CDTLS_ERR_INVALID_ARG;
    if (s->caps & CDTLS_IO_CAP_RECV_BATCH) {
        int rc = io_recv_native_batch(s, msgs, n, received, timeout_ms);
        if (rc != CDTLS_ERR_UNSUPPORTED) return rc;
    }
    return recv_loop(s, msgs, n, received, timeout_ms);
}
