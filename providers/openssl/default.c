/* -Dcrypto=openssl: the default provider is libcrypto's. */
#include "cdtls/provider.h"

const cdtls_provider *cdtls_provider_default(void)
{
    return cdtls_provider_openssl();
}
