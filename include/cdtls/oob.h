/*
 * cdtls — typed, portable out-of-band (per-datagram) data.
 *
 * The sans-IO engine carries a cdtls_oob with every datagram: the OOB given
 * to cdtls_conn_write() is attached to each datagram that write produces,
 * and the OOB given to cdtls_conn_recv() with a datagram is handed back by
 * cdtls_conn_read() with the application data it decrypted into. The engine
 * never interprets it; the io module (include/cdtls/io.h) turns it into the
 * right control messages per OS and back.
 */
#ifndef CDTLS_OOB_H
#define CDTLS_OOB_H

#include <stdint.h>

#include "cdtls/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Presence flags: a field is meaningful only when its flag is set. */
enum cdtls_oob_flags {
    CDTLS_OOB_DSCP = 1u << 0,       /* dscp: 6-bit Differentiated Services code point */
    CDTLS_OOB_ECN = 1u << 1,        /* ecn: 2-bit ECN codepoint (enum cdtls_ecn) */
    CDTLS_OOB_LOCAL_ADDR = 1u << 2, /* local: the local (destination/source) address */
    CDTLS_OOB_IFINDEX = 1u << 3,    /* ifindex: interface index */
    CDTLS_OOB_TTL = 1u << 4         /* ttl: IPv4 TTL / IPv6 hop limit */
};

/* RFC 3168 ECN codepoints. */
enum cdtls_ecn { CDTLS_ECN_NOT_ECT = 0, CDTLS_ECN_ECT1 = 1, CDTLS_ECN_ECT0 = 2, CDTLS_ECN_CE = 3 };

/* An IP address without any OS header: family 4 uses addr[0..3], 6 all 16. */
typedef struct cdtls_ip_addr {
    uint8_t family; /* 4 or 6; 0 = none */
    uint8_t addr[16];
} cdtls_ip_addr;

typedef struct cdtls_oob {
    uint32_t flags;
    uint8_t dscp; /* 0..63, e.g. 46 (EF) */
    uint8_t ecn;  /* enum cdtls_ecn */
    uint8_t ttl;
    uint32_t ifindex;
    cdtls_ip_addr local;
} cdtls_oob;

#ifdef __cplusplus
}
#endif
#endif /* CDTLS_OOB_H */
