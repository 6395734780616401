/* Private-key loading (src/x509/pem.c: PKCS#8 RFC 5208, SEC1 RFC 5915,
 * PKCS#1 RFC 8017 A.1.2, Ed25519 RFC 8410; PEM or DER) and the provider's
 * key objects: the input is parsed (every borrowed pointer must lie
 * inside it), loaded through the provider, and a loaded key signs a fixed
 * message with each scheme of its type. The public half of an EC or
 * Ed25519 key is computed from the private scalar/seed, so its signature
 * must verify (a failure is a bug, not bad input); an RSA key's CRT values
 * come from the input and need not be consistent, so its signatures are
 * only made and checked, not required to verify. */
#include <stdlib.h>
#include <string.h>

#include "cdtls/alloc.h"
#include "cdtls/x509.h"
#include "fuzz_common.h"

static void check_params(const uint8_t *der, size_t len, const cdtls_private_key_params *k)
{
    const uint8_t *ptrs[] = {k->priv, k->n, k->e, k->p, k->q, k->dp, k->dq, k->qinv};
    const size_t lens[] = {k->priv_len, k->n_len,  k->e_len,  k->p_len,
                           k->q_len,    k->dp_len, k->dq_len, k->qinv_len};
    for (size_t i = 0; i < 8; i++)
        if (lens[i] && (!ptrs[i] || ptrs[i] < der || ptrs[i] + lens[i] > der + len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_provider prov;
    fuzz_provider_init(&prov, 5);
    const cdtls_provider *p = &prov.base;
    const cdtls_allocator *a = &fuzz_allocator;

    cdtls_private_key_params k;
    if (cdtls_private_key_parse(data, size, &k) == CDTLS_OK) check_params(data, size, &k);

    cdtls_sign_key *key = NULL;
    if (cdtls_private_key_load(p, a, data, size, &key) != CDTLS_OK) return 0;
    if (!key) abort();
    cdtls_public_key pub;
    if (p->sign_key_public(key, &pub) != CDTLS_OK) abort();
    /* RSA moduli past 4096 bits cost seconds per signature under the
     * sanitizers: loading them is the interesting part, so stop there. */
    if (pub.type == CDTLS_KEY_RSA && pub.data_len > 512) goto out;
    static const uint8_t msg[] = "cdtls fuzz_key: the message every loaded key signs";
    for (int s = 0; s < CDTLS_SIG__COUNT; s++) {
        const cdtls_sig_vt *vt = p->sig[s];
        if (!vt || !(vt->key_types & CDTLS_KEY_BIT(pub.type))) continue;
        uint8_t sig[CDTLS_SIG_MAX_LEN];
        size_t sig_len = sizeof sig;
        int rc = vt->sign(p, key, msg, sizeof msg - 1, sig, &sig_len);
        if (rc != CDTLS_OK) {
            if (pub.type != CDTLS_KEY_RSA) abort(); /* a loaded EC/Ed25519 key always signs */
            continue;
        }
        if (sig_len > sizeof sig) abort();
        rc = vt->verify(&pub, msg, sizeof msg - 1, sig, sig_len);
        if (pub.type != CDTLS_KEY_RSA && rc != CDTLS_OK) abort();
    }
out:
    p->sign_key_free(a, key);
    return 0;
}
