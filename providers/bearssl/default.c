/* -Dcrypto=bearssl: the default provider is BearSSL's. */
#include "cdtls/provider.h"

const cdtls_provider *cdtls_provider_default(void)
{
    return cdtls_provider_bearssl();
}
