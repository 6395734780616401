/* -Dcrypto=sodium: the default provider is libsodium's. */
#include "cdtls/provider.h"

const cdtls_provider *cdtls_provider_default(void)
{
    return cdtls_provider_sodium();
}
