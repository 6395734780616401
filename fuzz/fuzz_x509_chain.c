/* Chain validation (src/x509/verify.c) through the provider's signature
 * checks: the certificates of the input, in order, are the chain (leaf
 * first) and the last one is the trust anchor.
 *
 * Input: byte 0 holds flags; the rest is a sequence of [2-byte length][DER]
 * parts (fuzz_common.h), at most 10. Flags: 0x01 the first certificate is
 * a trust anchor too; 0x02 the last part is not DER but the host name to
 * check (RFC 6125); bits 2..3 the purpose (any / server / client); 0x10
 * the anchors are given in reverse order with an extra decoy (the
 * anchor-search path); 0x20 the chain is checked without its last member
 * (anchor by issuer name, not as a chain member). Validation runs inside
 * the leaf's validity (so it goes past the dates) and at its last second
 * plus one (the expiry path). */
#include <stdlib.h>
#include <string.h>

#include "cdtls/x509.h"
#include "fuzz_common.h"

#define MAX_PARTS 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static fuzz_provider prov;
    fuzz_provider_init(&prov, 7);
    const cdtls_provider *p = &prov.base;
    uint8_t flags = data[0];

    const uint8_t *part[MAX_PARTS];
    size_t part_len[MAX_PARTS], n_parts = 0;
    fuzz_split s = {data + 1, size - 1};
    const uint8_t *pp;
    size_t pl;
    int mark;
    while (n_parts < MAX_PARTS && fuzz_next(&s, &pp, &pl, &mark)) {
        if (mark) continue;
        part[n_parts] = pp;
        part_len[n_parts++] = pl;
    }
    char host[256];
    const char *hostp = NULL;
    if ((flags & 2) && n_parts) {
        n_parts--;
        size_t hl = part_len[n_parts] < sizeof host - 1 ? part_len[n_parts] : sizeof host - 1;
        memcpy(host, part[n_parts], hl);
        host[hl] = 0;
        hostp = host;
    }

    cdtls_x509_cert chain[MAX_PARTS];
    size_t n = 0;
    for (size_t i = 0; i < n_parts; i++) {
        if (cdtls_x509_parse(part[i], part_len[i], &chain[n]) != CDTLS_OK) continue;
        const cdtls_x509_cert *c = &chain[n];
        if (c->der != part[i] || c->der_len > part_len[i] || c->tbs < c->der ||
            c->tbs + c->tbs_len > c->der + c->der_len)
            abort();
        if (hostp && *hostp) (void)cdtls_x509_check_host(c, hostp);
        n++;
    }
    if (!n) return 0;
    cdtls_x509_cert anchors[3];
    size_t n_anchors = 0;
    if (flags & 0x10) {
        anchors[n_anchors++] = chain[0]; /* a decoy first: usually not the issuer */
        if (flags & 1) anchors[n_anchors++] = chain[0];
        anchors[n_anchors++] = chain[n - 1];
    } else {
        anchors[n_anchors++] = chain[n - 1];
        if (flags & 1) anchors[n_anchors++] = chain[0];
    }
    size_t len = (flags & 0x20) && n > 1 ? n - 1 : n;
    cdtls_x509_purpose purpose = (cdtls_x509_purpose)(((unsigned)flags >> 2 & 3) % 3);
    int rc = cdtls_x509_verify_chain(p, chain, len, anchors, n_anchors, chain[0].not_before + 1, hostp,
                                     purpose);
    if (rc == CDTLS_OK) {
        /* what a validated chain must satisfy: the leaf matches the host
         * and is inside its validity at that time. (Not every member: the
         * walk ends at the first one that is an anchor or was issued by
         * one, and what the peer sent beyond that is no part of the path,
         * RFC 5280 §6.1.) */
        if (hostp && cdtls_x509_check_host(&chain[0], hostp) != CDTLS_OK) abort();
        int64_t t = chain[0].not_before + 1;
        if (t < chain[0].not_before || t > chain[0].not_after) abort();
    }
    (void)cdtls_x509_verify_chain(p, chain, len, anchors, n_anchors, chain[0].not_after + 1, NULL, purpose);
    return 0;
}
