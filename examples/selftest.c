/* cdtls-selftest: prints which crypto provider this build links and runs its
 * known-answer checks (cdtls_provider_selftest). Exit status 0 when every
 * check passes. */
#include <stdio.h>

#include "cdtls/cdtls.h"

static void report(void *ctx, const char *check, int result)
{
    int *failed = ctx;
    if (result != CDTLS_OK) (*failed)++;
    printf("  %-24s %s%s%s\n", check, result == CDTLS_OK ? "ok" : "FAILED (",
           result == CDTLS_OK ? "" : cdtls_strerror(result), result == CDTLS_OK ? "" : ")");
}

static void list_caps(const cdtls_provider *p)
{
    printf("  aead:");
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++)
        if (p->aead[i]) printf(" %s", p->aead[i]->name);
    printf("\n  groups:");
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++)
        if (p->kx[i]) printf(" %s", p->kx[i]->name);
    printf("\n  signatures:");
    for (int i = 0; i < CDTLS_SIG__COUNT; i++)
        if (p->sig[i]) printf(" %s", p->sig[i]->name);
    printf("\n");
}

int main(void)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p) {
        fprintf(stderr, "cdtls-selftest: the crypto provider failed to initialise\n");
        return 1;
    }
    printf("cdtls crypto provider: %s\n", p->name);
    list_caps(p);
    printf("known-answer checks:\n");
    int failed = 0;
    int rc = cdtls_provider_selftest(p, report, &failed);
    printf("%s: %s\n", p->name, rc == CDTLS_OK ? "all checks passed" : "SELF-TEST FAILED");
    return rc == CDTLS_OK ? 0 : 1;
}
