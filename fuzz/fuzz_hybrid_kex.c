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
 * stand-in installed whatever the build's provider has.
 *
 * A first byte of 0x80 or more goes below the hybrid, to the KEM itself
 * (provider.h's cdtls_kem_vt length contract, which the hybrid never
 * tests: it hands the KEM exactly 1184 / 1088 bytes):
 *   bit 0 clear: encaps to the rest as an encapsulation key of any length;
 *                bit 0 set: decaps of a genuine ciphertext XORed with the
 *                rest (cut or padded as above);
 *   bit 1 set:   the build's own ML-KEM-768 when its provider has one (a
 *                sodium build on libsodium >= 1.0.21), else the stand-in.
 * Invariants: encaps succeeds only on public_len bytes, and a refusal is
 * CDTLS_ERR_BAD_KEY leaving ct and shared untouched or zero; decaps
 * succeeds exactly on ciphertext_len bytes, gives the encapsulated secret
 * for the genuine ciphertext and another one for any change (implicit
 * rejection, FIPS 203 §6.3). */
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

static int all_byte(const uint8_t *b, size_t n, uint8_t v)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= (uint8_t)(b[i] ^ v);
    return acc == 0;
}

#define KEM_MAX_EK 1184u
#define KEM_MAX_CT 1088u

static void kem_view(const cdtls_provider *p, const cdtls_kem_vt *k, int decaps, const uint8_t *in,
                     size_t len)
{
    if (k->public_len > KEM_MAX_EK || k->ciphertext_len > KEM_MAX_CT || k->shared_len > 32) abort();
    uint8_t ct[KEM_MAX_CT], shared[32];
    if (!decaps) {
        memset(ct, 0x5a, sizeof ct);
        memset(shared, 0x5a, sizeof shared);
        int rc = k->encaps(p, in, len, ct, shared);
        if (rc == CDTLS_OK) {
            if (len != k->public_len) abort(); /* only the one legal length */
            return;
        }
        if (rc != CDTLS_ERR_BAD_KEY) abort();
        /* nothing of the encapsulation left behind */
        if (!all_byte(ct, k->ciphertext_len, 0x5a) && !all_zero(ct, k->ciphertext_len)) abort();
        if (!all_byte(shared, k->shared_len, 0x5a) && !all_zero(shared, k->shared_len)) abort();
        return;
    }
    cdtls_kem_key key;
    uint8_t pub[KEM_MAX_EK], k_enc[32], k_dec[32];
    if (k->keygen(p, &key, pub) != CDTLS_OK) abort();
    if (k->encaps(p, pub, k->public_len, ct, k_enc) != CDTLS_OK) abort();
    static uint8_t peer[KEM_MAX_CT + 4096];
    size_t plen = len > sizeof peer ? sizeof peer : len;
    int changed = 0;
    for (size_t i = 0; i < plen; i++) {
        peer[i] = (uint8_t)((i < k->ciphertext_len ? ct[i] : 0) ^ in[i]);
        if (i < k->ciphertext_len && in[i]) changed = 1;
    }
    if (plen == 0) memcpy(peer, ct, k->ciphertext_len), plen = k->ciphertext_len;
    memset(k_dec, 0x5a, sizeof k_dec);
    int rc = k->decaps(&key, peer, plen, k_dec);
    if (plen != k->ciphertext_len) {
        if (rc != CDTLS_ERR_BAD_KEY) abort();
    } else {
        if (rc != CDTLS_OK) abort(); /* a tampered ciphertext is not an error */
        if ((memcmp(k_dec, k_enc, k->shared_len) == 0) == changed) abort();
    }
    k->clear(&key);
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
    if (data[0] & 0x80) {
        const cdtls_kem_vt *real = cdtls_provider_default()->kem[CDTLS_KEM_MLKEM768];
        const cdtls_kem_vt *k = (data[0] & 2) && real ? real : prov.base.kem[CDTLS_KEM_MLKEM768];
        kem_view(&prov.base, k, data[0] & 1, data + 1, size - 1);
        return 0;
    }
    if (data[0] & 1)
        client_view(&prov.base, data + 1, size - 1);
    else
        server_view(&prov.base, data + 1, size - 1);
    return 0;
}
