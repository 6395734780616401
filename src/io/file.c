/* Reading certificate and key files (hosted builds only: the core does no
 * file I/O; PEM/DER parsing itself is in src/x509). */
#include <stdio.h>
#include <string.h>

#include "cdtls/io.h"
#include "common/mem.h"

int cdtls_read_file(const char *path, const cdtls_allocator *a, uint8_t **data, size_t *len)
{
    if (!path || !data || !len) return CDTLS_ERR_INVALID_ARG;
    if (!a) a = cdtls_allocator_libc();
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return CDTLS_ERR_IO;
    size_t cap = 4096, n = 0;
    uint8_t *buf = a->alloc(a->ctx, cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= (size_t)16 << 20) { /* 16 MiB: no certificate or key is that big */
            cdtls_free_wipe(a, buf, cap);
            fclose(f);
            return CDTLS_ERR_LIMIT;
        }
        uint8_t *bigger = a->alloc(a->ctx, cap * 2);
        if (bigger) memcpy(bigger, buf, n);
        cdtls_free_wipe(a, buf, cap); /* may hold a private key */
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return CDTLS_ERR_NOMEM;
    if (err) {
        cdtls_free_wipe(a, buf, cap);
        return CDTLS_ERR_IO;
    }
    /* hand back an exact-size copy, so cdtls_free_file needs only len */
    uint8_t *exact = a->alloc(a->ctx, n ? n : 1);
    if (exact && n) memcpy(exact, buf, n);
    cdtls_free_wipe(a, buf, cap);
    if (!exact) return CDTLS_ERR_NOMEM;
    *data = exact;
    *len = n;
    return CDTLS_OK;
}

void cdtls_free_file(const cdtls_allocator *a, uint8_t *data, size_t len)
{
    if (!a) a = cdtls_allocator_libc();
    if (data) cdtls_free_wipe(a, data, len ? len : 1);
}
