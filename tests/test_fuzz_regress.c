/* Regression tests for what the libFuzzer harnesses (fuzz/, docs/fuzzing.md)
 * found: one test per bug, each failing without its fix. The inputs that
 * found them are kept in fuzz/regress/<harness>/ and replayed by
 * scripts/fuzz.sh smoke. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/alloc.h"
#include "cdtls/provider.h"
#include "cdtls/x509.h"

/* An allocator that counts how often the core broke cdtls/alloc.h's
 * contract: alloc(0), or free with another size than was allocated. */
typedef struct strict_alloc {
    unsigned zero_allocs, bad_frees, live;
} strict_alloc;

static void *strict_alloc_fn(void *ctx, size_t size)
{
    strict_alloc *s = ctx;
    if (size == 0) {
        s->zero_allocs++;
        size = 1; /* keep going: the test reports it */
    }
    unsigned char *p = malloc(size + 16);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    s->live++;
    return p + 16;
}

static void strict_free_fn(void *ctx, void *ptr, size_t size)
{
    strict_alloc *s = ctx;
    unsigned char *p = (unsigned char *)ptr - 16;
    size_t was;
    memcpy(&was, p, sizeof was);
    if (was != size && !(was == 1 && size == 0)) s->bad_frees++;
    s->live--;
    free(p);
}

/* fuzz_key, the empty input: cdtls_private_key_load asked the allocator
 * for 0 bytes (src/x509/pem.c), which cdtls_allocator forbids. An empty
 * key is now refused as malformed before anything is allocated. */
Test(fuzz_regress, private_key_load_empty_input)
{
    strict_alloc st = {0, 0, 0};
    cdtls_allocator a = {strict_alloc_fn, strict_free_fn, &st};
    const cdtls_provider *p = cdtls_provider_default();
    static const uint8_t nothing[1] = {0};
    cdtls_sign_key *key = NULL;
    int rc = cdtls_private_key_load(p, &a, nothing, 0, &key);
    cr_assert_eq(st.zero_allocs, 0, "alloc(0) called %u times", st.zero_allocs);
    cr_assert_eq(rc, CDTLS_ERR_DER);
    cr_assert_null(key);
    cr_assert_eq(st.live, 0);
    cr_assert_eq(st.bad_frees, 0);
}
