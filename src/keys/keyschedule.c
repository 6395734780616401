#include "keys/keyschedule.h"

#include <string.h>

#include "common/mem.h"
#include "common/writer.h"
#include "keys/prf.h"

#define LABEL(s) (const uint8_t *)(s), (sizeof(s) - 1)

int ks_psk_premaster(const uint8_t *other, size_t other_len, const uint8_t *psk, size_t psk_len, uint8_t *out,
                     size_t cap, size_t *out_len)
{
    if (!psk || !out || !out_len || psk_len == 0 || psk_len > 0xffff) return CDTLS_ERR_INVALID_ARG;
    if (!other) other_len = psk_len; /* plain PSK: N zero bytes, N = psk length */
    if (other_len > 0xffff) return CDTLS_ERR_INVALID_ARG;
    cdtls_writer w;
    writer_init(&w, out, cap);
    writer_u16(&w, (unsigned)other_len);
    uint8_t *zone = writer_reserve(&w, other_len);
    if (zone) {
        if (other)
            memcpy(zone, other, other_len);
        else
            memset(zone, 0, other_len);
    }
    writer_u16(&w, (unsigned)psk_len);
    writer_bytes(&w, psk, psk_len);
    if (w.failed) {
        cdtls_memzero(out, cap);
        return CDTLS_ERR_BUFFER_TOO_SMALL;
    }
    *out_len = w.len;
    return CDTLS_OK;
}

int ks_master_secret(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *pms, size_t pms_len,
                     const uint8_t *client_random, const uint8_t *server_random, uint8_t *master)
{
    prf_seed seeds[2] = {{client_random, KS_RANDOM_LEN}, {server_random, KS_RANDOM_LEN}};
    return prf_tls12(p, prf, pms, pms_len, LABEL("master secret"), seeds, 2, master, KS_MASTER_LEN);
}

int ks_extended_master_secret(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *pms, size_t pms_len,
                              const uint8_t *session_hash, size_t hash_len, uint8_t *master)
{
    prf_seed seed = {session_hash, hash_len};
    return prf_tls12(p, prf, pms, pms_len, LABEL("extended master secret"), &seed, 1, master, KS_MASTER_LEN);
}

int ks_key_block(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *master,
                 const uint8_t *client_random, const uint8_t *server_random, size_t mac_key_len,
                 size_t key_len, size_t iv_len, ks_keys *out)
{
    if (mac_key_len > KS_MAX_MAC_KEY || key_len > KS_MAX_KEY || iv_len > KS_MAX_IV || !out)
        return CDTLS_ERR_INVALID_ARG;
    uint8_t block[2 * (KS_MAX_MAC_KEY + KS_MAX_KEY + KS_MAX_IV)];
    size_t need = 2 * (mac_key_len + key_len + iv_len);
    /* The key block is seeded server_random first (RFC 5246 §6.3), the
     * reverse of the master secret. */
    prf_seed seeds[2] = {{server_random, KS_RANDOM_LEN}, {client_random, KS_RANDOM_LEN}};
    int rc = prf_tls12(p, prf, master, KS_MASTER_LEN, LABEL("key expansion"), seeds, 2, block, need);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    const uint8_t *q = block;
    memcpy(out->client_write.mac_key, q, mac_key_len), q += mac_key_len;
    memcpy(out->server_write.mac_key, q, mac_key_len), q += mac_key_len;
    memcpy(out->client_write.key, q, key_len), q += key_len;
    memcpy(out->server_write.key, q, key_len), q += key_len;
    memcpy(out->client_write.iv, q, iv_len), q += iv_len;
    memcpy(out->server_write.iv, q, iv_len);
    out->mac_key_len = mac_key_len;
    out->key_len = key_len;
    out->iv_len = iv_len;
    cdtls_memzero(block, sizeof block);
    return CDTLS_OK;
}

int ks_finished(const cdtls_provider *p, cdtls_hash_alg prf, const uint8_t *master, int from_server,
                const uint8_t *transcript_hash, size_t hash_len, uint8_t *verify_data)
{
    prf_seed seed = {transcript_hash, hash_len};
    if (from_server)
        return prf_tls12(p, prf, master, KS_MASTER_LEN, LABEL("server finished"), &seed, 1, verify_data,
                         KS_VERIFY_DATA_LEN);
    return prf_tls12(p, prf, master, KS_MASTER_LEN, LABEL("client finished"), &seed, 1, verify_data,
                     KS_VERIFY_DATA_LEN);
}
