/* X25519MLKEM768 key_exchange parsing (src/keys/hybrid_kex.c,
 * draft-ietf-tls-ecdhe-mlkem): the input is a peer's share of any length.
 * The first byte picks the side:
 *   even: the server's view: the rest is a ClientHello key_exchange;
 *   odd:  the client's view: a client made its share, and the rest, XORed
 *         over a genuine server answer (and cut or padded to its length),
 *         is the ServerHello key_exchange.
 * Invariants (a breach aborts): only the one legal length (1216 / 1120) is
 * ever accepted, a refusal is illegal_parameter and leaves the outputs
 * zero, an accepted server answer gives the client the server's secret
 * exactly when the ciphertext and X25519 halves are unchanged, and a
 * changed ciphertext changes the ML-KEM half only (implicit rejection).
 * The fuzzing provider's stand-ins do the crypto, with its ML-KEM-768
 * stand-in installed whatever the build's provider has. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "keys/hybrid_kex.h"

static int all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= b[i];
    return acc == 0;
}

static void server_view(const cdtls_provider *p, const uint8_t *in, size_t len)
{
    uint8_t share[HYBRID_SERVER_SHARE_LEN], shared[HYBRID_SHARED_LEN];
    size_t n = 1;
    memset(share, 0x5a, sizeof share);
    memset(shared, 0x5a, sizeof shared);
    int rc = hybrid_server_respond(p, in, len, share, sizeof share, &n, shared, sizeof shared);
    if (rc == CDTLS_OK) {
        if (len != HYBRID_CLIENT_SHARE_LEN || n != HYBRID_SERVER_SHARE_LEN) abort();
        return;
    }
    if (rc != CDTLS_ERR_ILLEGAL_PARAMETER || n != 0) abort();
    /* a refusal after the length check wipes what was written */
    if (len == HYBRID_CLIENT_SHARE_LEN &&
        (!all_zero(share, sizeof share) || !all_zero(shared, sizeof shared)))
        abort();
}

static void client_view(const cdtls_provider *p, const uint8_t *in, size_t len)
{
    hybrid_client c;
    uint8_t cs[HYBRID_CLIENT_SHARE_LEN], ss[HYBRID_SERVER_SHARE_LEN], k_srv[HYBRID_SHARED_LEN];
    size_t cn, sn;
    if (hybrid_client_keygen(&c, p, cs, sizeof cs, &cn) != CDTLS_OK) abort();
    if (hybrid_server_respond(p, cs, cn, ss, sizeof ss, &sn, k_srv, sizeof k_srv) != CDTLS_OK) abort();
    /* the peer's share: the genuine one with the input XORed over it;
     * input past 1120 bytes makes it longer */
    static uint8_t peer[HYBRID_SERVER_SHARE_LEN + 4096];
    size_t plen = len > sizeof peer ? sizeof peer : len;
    int ct_changed = 0, x_changed = 0;
    for (size_t i = 0; i < plen; i++) {
        uint8_t b = i < sn ? ss[i] : 0;
        peer[i] = b ^ in[i];
        if (i < sn && in[i]) *(i < HYBRID_MLKEM768_CT_LEN ? &ct_changed : &x_changed) = 1;
    }
    if (plen == 0) memcpy(peer, ss, sn), plen = sn; /* the empty input: the genuine share */
    uint8_t k_cli[HYBRID_SHARED_LEN];
    memset(k_cli, 0x5a, sizeof k_cli);
    int rc = hybrid_client_finish(&c, peer, plen, k_cli, sizeof k_cli);
    if (plen != HYBRID_SERVER_SHARE_LEN) {
        if (rc != CDTLS_ERR_ILLEGAL_PARAMETER) abort();
    } else if (rc == CDTLS_OK) {
        int kem_same = memcmp(k_cli, k_srv, 32) == 0, x_same = memcmp(k_cli + 32, k_srv + 32, 32) == 0;
        if (kem_same == ct_changed) abort(); /* the stand-in, like ML-KEM, binds the secret to c */
        if (!x_changed && !x_same) abort();
    } else {
        /* only the X25519 half can be refused (an all-zero point) */
        if (rc != CDTLS_ERR_ILLEGAL_PARAMETER || !x_changed || !all_zero(k_cli, sizeof k_cli)) abort();
    }
    hybrid_client_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_provider prov;
    fuzz_provider_init_fast(&prov, 17);
    prov.base.kem[CDTLS_KEM_MLKEM768] = cdtls_fuzz_kem_mlkem768();
    if (!prov.base.kx[CDTLS_GROUP_X25519]) return 0; /* a build without X25519 has no hybrid */
    if (!hybrid_kex_available(&prov.base)) abort();
    if (size == 0) return 0;
    if (data[0] & 1)
        client_view(&prov.base, data + 1, size - 1);
    else
        server_view(&prov.base, data + 1, size - 1);
    return 0;
}
