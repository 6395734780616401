/* PEM (RFC 7468, src/x509/pem.c): every PEM block of the input in turn
 * (any label, then each label cdtls looks for), each decoded block parsed
 * as a private key and as a certificate; a too-small output buffer must be
 * refused, not overrun. fuzz_key does the key objects. */
#include <stdlib.h>
#include <string.h>

#include "cdtls/x509.h"
#include "fuzz_common.h"

static void use_der(const uint8_t *der, size_t len)
{
    cdtls_private_key_params k;
    if (cdtls_private_key_parse(der, len, &k) == CDTLS_OK) {
        /* borrowed pointers must lie inside der */
        const uint8_t *ptrs[] = {k.priv, k.n, k.e, k.p, k.q, k.dp, k.dq, k.qinv};
        const size_t lens[] = {k.priv_len, k.n_len,  k.e_len,  k.p_len,
                               k.q_len,    k.dp_len, k.dq_len, k.qinv_len};
        for (size_t i = 0; i < 8; i++)
            if (ptrs[i] && (ptrs[i] < der || ptrs[i] + lens[i] > der + len)) abort();
    }
    cdtls_x509_cert c;
    (void)cdtls_x509_parse(der, len, &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint8_t *der = malloc(size + 1);
    if (!der) abort();

    static const char *const labels[] = {NULL, "CERTIFICATE", "PRIVATE KEY", "EC PRIVATE KEY",
                                         "RSA PRIVATE KEY"};
    for (size_t l = 0; l < sizeof labels / sizeof labels[0]; l++) {
        size_t at = 0;
        for (int blocks = 0; blocks < 16 && at < size; blocks++) {
            size_t der_len = 0, consumed = 0;
            int rc = cdtls_pem_decode(text + at, size - at, labels[l], der, size, &der_len, &consumed);
            if (rc != CDTLS_OK) break;
            if (der_len > size || consumed == 0 || consumed > size - at) abort();
            use_der(der, der_len);
            at += consumed;
        }
    }
    /* a small output buffer: the decoder must refuse, not overflow */
    uint8_t small[8];
    size_t small_len;
    (void)cdtls_pem_decode(text, size, NULL, small, sizeof small, &small_len, NULL);

    free(der);
    return 0;
}
