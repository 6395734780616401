/* X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem §3): see hybrid_kex.h. */
#include "keys/hybrid_kex.h"

#include "common/mem.h"
#include "common/reader.h"

/* The entries the hybrid uses, or NULL. kem[] exists only in ABI 3 tables
 * (provider.h): an older table ends before it. */
static const cdtls_kem_vt *hybrid_kem(const cdtls_provider *p)
{
    if (!p || p->abi_version < 3) return NULL;
    const cdtls_kem_vt *k = p->kem[CDTLS_KEM_MLKEM768];
    /* The sizes are FIPS 203's; a table that says otherwise is not ML-KEM-768. */
    if (!k || k->public_len != HYBRID_MLKEM768_EK_LEN || k->ciphertext_len != HYBRID_MLKEM768_CT_LEN ||
        k->shared_len != 32u || !k->keygen || !k->encaps || !k->decaps || !k->clear)
        return NULL;
    return k;
}

static const cdtls_kx_vt *hybrid_x25519(const cdtls_provider *p)
{
    const cdtls_kx_vt *x = p ? p->kx[CDTLS_GROUP_X25519] : NULL;
    if (!x || x->public_len != HYBRID_X25519_LEN || x->shared_len != 32u) return NULL;
    return x;
}

int hybrid_kex_available(const cdtls_provider *p)
{
    return p && p->random && hybrid_kem(p) && hybrid_x25519(p);
}

/* What the provider said about a value the peer sent, as the handshake's
 * alert: a malformed or invalid key is illegal_parameter; anything else
 * (random failure, backend error) stays what it was (internal_error). */
static int peer_error(int rc)
{
    return rc == CDTLS_ERR_BAD_KEY ? CDTLS_ERR_ILLEGAL_PARAMETER : rc;
}

int hybrid_client_keygen(hybrid_client *c, const cdtls_provider *p, uint8_t *share, size_t share_cap,
                         size_t *share_len)
{
    if (!c || !share || !share_len) return CDTLS_ERR_INVALID_ARG;
    cdtls_memzero(c, sizeof *c);
    *share_len = 0;
    const cdtls_kem_vt *kem = hybrid_kem(p);
    const cdtls_kx_vt *x = hybrid_x25519(p);
    if (!kem || !x || !p->random) return CDTLS_ERR_UNSUPPORTED;
    if (share_cap < HYBRID_CLIENT_SHARE_LEN) return CDTLS_ERR_BUFFER_TOO_SMALL;
    int rc = kem->keygen(p, &c->kem_key, share);
    if (rc == CDTLS_OK) rc = x->keygen(p, &c->x25519_key, share + HYBRID_MLKEM768_EK_LEN);
    if (rc != CDTLS_OK) {
        kem->clear(&c->kem_key);
        x->clear(&c->x25519_key);
        cdtls_memzero(c, sizeof *c);
        cdtls_memzero(share, HYBRID_CLIENT_SHARE_LEN);
        return rc;
    }
    c->p = p;
    c->ready = 1;
    *share_len = HYBRID_CLIENT_SHARE_LEN;
    return CDTLS_OK;
}

int hybrid_server_respond(const cdtls_provider *p, const uint8_t *client_share, size_t client_len,
                          uint8_t *share, size_t share_cap, size_t *share_len, uint8_t *shared,
                          size_t shared_cap)
{
    if (!share || !share_len || !shared) return CDTLS_ERR_INVALID_ARG;
    *share_len = 0;
    const cdtls_kem_vt *kem = hybrid_kem(p);
    const cdtls_kx_vt *x = hybrid_x25519(p);
    if (!kem || !x || !p->random) return CDTLS_ERR_UNSUPPORTED;
    if (share_cap < HYBRID_SERVER_SHARE_LEN || shared_cap < HYBRID_SHARED_LEN)
        return CDTLS_ERR_BUFFER_TOO_SMALL;
    /* The draft fixes the client's key_exchange at exactly 1216 bytes: no
     * other length is this group's, however the halves would split. */
    cdtls_reader r;
    const uint8_t *ek = NULL, *peer_x = NULL;
    reader_init(&r, client_share, client_len);
    reader_bytes(&r, HYBRID_MLKEM768_EK_LEN, &ek);
    reader_bytes(&r, HYBRID_X25519_LEN, &peer_x);
    if (r.failed || !reader_done(&r)) return CDTLS_ERR_ILLEGAL_PARAMETER;

    cdtls_kx_key xkey;
    cdtls_memzero(&xkey, sizeof xkey); /* x->clear below is safe on every path */
    int rc = kem->encaps(p, ek, HYBRID_MLKEM768_EK_LEN, share, shared);
    if (rc == CDTLS_OK) rc = x->keygen(p, &xkey, share + HYBRID_MLKEM768_CT_LEN);
    if (rc == CDTLS_OK) rc = x->derive(&xkey, peer_x, HYBRID_X25519_LEN, shared + 32u);
    x->clear(&xkey);
    if (rc != CDTLS_OK) {
        cdtls_memzero(share, HYBRID_SERVER_SHARE_LEN);
        cdtls_memzero(shared, HYBRID_SHARED_LEN);
        return peer_error(rc);
    }
    *share_len = HYBRID_SERVER_SHARE_LEN;
    return CDTLS_OK;
}

int hybrid_client_finish(const hybrid_client *c, const uint8_t *server_share, size_t server_len,
                         uint8_t *shared, size_t shared_cap)
{
    if (!c || !shared) return CDTLS_ERR_INVALID_ARG;
    if (!c->ready) return CDTLS_ERR_BAD_STATE;
    if (shared_cap < HYBRID_SHARED_LEN) return CDTLS_ERR_BUFFER_TOO_SMALL;
    const cdtls_kem_vt *kem = hybrid_kem(c->p);
    const cdtls_kx_vt *x = hybrid_x25519(c->p);
    if (!kem || !x) return CDTLS_ERR_INTERNAL; /* keygen checked them */
    /* The draft: the client checks the ciphertext's length (the server's
     * key_exchange is exactly 1120 bytes) and aborts with illegal_parameter. */
    cdtls_reader r;
    const uint8_t *ct = NULL, *peer_x = NULL;
    reader_init(&r, server_share, server_len);
    reader_bytes(&r, HYBRID_MLKEM768_CT_LEN, &ct);
    reader_bytes(&r, HYBRID_X25519_LEN, &peer_x);
    if (r.failed || !reader_done(&r)) return CDTLS_ERR_ILLEGAL_PARAMETER;
    int rc = kem->decaps(&c->kem_key, ct, HYBRID_MLKEM768_CT_LEN, shared);
    if (rc == CDTLS_OK) rc = x->derive(&c->x25519_key, peer_x, HYBRID_X25519_LEN, shared + 32u);
    if (rc != CDTLS_OK) {
        cdtls_memzero(shared, HYBRID_SHARED_LEN);
        return peer_error(rc);
    }
    return CDTLS_OK;
}

void hybrid_client_clear(hybrid_client *c)
{
    if (!c) return;
    if (c->ready) {
        const cdtls_kem_vt *kem = hybrid_kem(c->p);
        const cdtls_kx_vt *x = hybrid_x25519(c->p);
        if (kem) kem->clear(&c->kem_key);
        if (x) x->clear(&c->x25519_key);
    }
    cdtls_memzero(c, sizeof *c);
}
