/* The steering program of a worker group (cdtls/workers.h): classic BPF
 * attached to the port group with SO_ATTACH_REUSEPORT_CBPF. For a UDP
 * socket the kernel runs it with the datagram's payload at offset 0 (it
 * pulls the UDP header first) and takes its return value as the index of
 * the socket in the group, the order they were bound in; an index past the
 * last socket falls back to the 4-tuple hash. QUIC servers steer by their
 * connection IDs the same way. */
#if defined(__linux__)
#define _GNU_SOURCE
#endif
#include "io/reuseport.h"

#include <errno.h>

#include "cdtls/workers.h"

#if defined(__linux__)
#include <linux/filter.h>
#include <sys/socket.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

#define CT_TLS12_CID 25u /* RFC 9146 §4: the tls12_cid content type */
/* Return the hash's choice: any index past the group's last socket. */
#define FALLBACK 0xffffffffu

int reuseport_steer_by_cid(cdtls_io_socket *io, uint16_t node, unsigned config, size_t cid_len, unsigned n)
{
    if (!io || n == 0 || n > 255 || cid_len < CDTLS_WORKER_CID_MIN || cid_len > CDTLS_WORKER_CID_MAX ||
        config > 6)
        return CDTLS_ERR_INVALID_ARG;
    const unsigned at = CDTLS_WORKER_CID_OFFSET; /* the CID in a tls12_cid record */
    const unsigned first = (config << 5) | (unsigned)(cid_len - 1);
    /* The CID is at `at` in a tls12_cid record (RFC 9146 §4) and at 1 in a
     * DTLS 1.3 unified header whose first byte is 0 0 1 C=1 (RFC 9147 §4):
     * X holds where, the loads after the length check are relative to it.
     * The jumps count instructions forward from the next one: each check
     * that fails goes to instruction 19 (the fallback). */
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, at),
        /* 1 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        /* 2: tls12_cid: on to 6 with X = at */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CT_TLS12_CID, 3, 0),
        /* 3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0u),
        /* 4: a unified header with the C bit, else not ours */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x30u, 0, 14),
        /* 5 */ BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, 1),
        /* 6 */ BPF_STMT(BPF_STX, 0),
        /* 7-9: X = where the CID ends */
        BPF_STMT(BPF_MISC | BPF_TXA, 0),
        /* 8 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, (unsigned)cid_len),
        /* 9 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 11: shorter than the header and the CID: not ours */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_X, 0, 0, 7),
        /* 12 */ BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 0),
        /* 13: the config octet (rotation and length) */
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),
        /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, first, 0, 4),
        /* 15: the node */
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 1),
        /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, node, 0, 2),
        /* 17: the worker, returned as the socket's index if it has one */
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 3),
        /* 18 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, n, 0, 1),
        /* 19 */ BPF_STMT(BPF_RET | BPF_K, FALLBACK),
        /* 20 */ BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof code / sizeof code[0]), code};
    if (setsockopt(io->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
        io->last_error = errno;
        return CDTLS_ERR_IO;
    }
    return CDTLS_OK;
}

#else

int reuseport_steer_by_cid(cdtls_io_socket *io, uint16_t node, unsigned config, size_t cid_len, unsigned n)
{
    (void)io;
    (void)node;
    (void)config;
    (void)cid_len;
    (void)n;
    return CDTLS_ERR_UNSUPPORTED;
}

#endif
