/* cdtls_provider_combine: one provider table made of several (the rules are
 * in include/cdtls/provider.h and docs/providers.md). Pure table work over
 * the vtables: no crypto of its own. */
#include <string.h>

#include "cdtls/provider.h"
#include "common/mem.h"

/* A signing key made through a combined table: the owner's key object and
 * the owner, so that sign/public/free reach the code that understands it. */
typedef struct combined_key {
    const cdtls_provider *owner;
    cdtls_sign_key *inner;
} combined_key;

static const cdtls_provider_combined *combined_of(const cdtls_provider *p)
{
    /* provider is the first member: the table the core holds is the struct */
    return (const cdtls_provider_combined *)(const void *)p;
}

static int combined_random(const cdtls_provider *self, uint8_t *out, size_t len)
{
    const cdtls_provider *r = combined_of(self)->random_from;
    return r ? r->random(r, out, len) : CDTLS_ERR_UNSUPPORTED;
}

/* The first listed provider that can sign with keys of this type. */
static const cdtls_provider *signer_for(const cdtls_provider_combined *c, cdtls_key_type type, int generate)
{
    for (size_t i = 0; i < c->count; i++) {
        const cdtls_provider *p = c->from[i];
        if (!p->sign_key_new || !p->sign_key_free || !p->sign_key_public) continue;
        if (generate && !p->sign_key_generate) continue;
        for (int s = 0; s < CDTLS_SIG__COUNT; s++)
            if (p->sig[s] && (p->sig[s]->key_types & CDTLS_KEY_BIT(type))) return p;
    }
    return NULL;
}

static int wrap_key(const cdtls_allocator *a, const cdtls_provider *owner, cdtls_sign_key *inner,
                    cdtls_sign_key **out)
{
    combined_key *k = cdtls_alloc_zero(a, sizeof *k);
    if (!k) {
        owner->sign_key_free(a, inner);
        return CDTLS_ERR_NOMEM;
    }
    k->owner = owner;
    k->inner = inner;
    *out = (cdtls_sign_key *)(void *)k;
    return CDTLS_OK;
}

static int combined_key_new(const cdtls_provider *p, const cdtls_allocator *a,
                            const cdtls_private_key_params *params, cdtls_sign_key **out)
{
    if (!p || !a || !params || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if ((unsigned)params->type >= CDTLS_KEY__COUNT) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_provider *owner = signer_for(combined_of(p), params->type, 0);
    if (!owner) return CDTLS_ERR_UNSUPPORTED;
    cdtls_sign_key *inner = NULL;
    int rc = owner->sign_key_new(p, a, params, &inner);
    return rc ? rc : wrap_key(a, owner, inner, out);
}

static int combined_key_generate(const cdtls_provider *p, const cdtls_allocator *a, cdtls_key_type type,
                                 cdtls_sign_key **out)
{
    if (!p || !a || !out) return CDTLS_ERR_INVALID_ARG;
    *out = NULL;
    if ((unsigned)type >= CDTLS_KEY__COUNT) return CDTLS_ERR_UNSUPPORTED;
    const cdtls_provider *owner = signer_for(combined_of(p), type, 1);
    if (!owner) return CDTLS_ERR_UNSUPPORTED;
    cdtls_sign_key *inner = NULL;
    int rc = owner->sign_key_generate(p, a, type, &inner);
    return rc ? rc : wrap_key(a, owner, inner, out);
}

static int combined_key_public(const cdtls_sign_key *key, cdtls_public_key *out)
{
    if (!key || !out) return CDTLS_ERR_INVALID_ARG;
    const combined_key *k = (const combined_key *)(const void *)key;
    return k->owner->sign_key_public(k->inner, out);
}

static void combined_key_free(const cdtls_allocator *a, cdtls_sign_key *key)
{
    if (!key) return;
    combined_key *k = (combined_key *)(void *)key;
    k->owner->sign_key_free(a, k->inner);
    cdtls_free_wipe(a, k, sizeof *k);
}

/* sign() for signature scheme alg_: the owner's entry on the owner's key.
 * Like every entry that takes a provider, it is given the combined table
 * (whose random() reaches the first random of the list): a borrowed table
 * often has no random of its own. */
#define COMBINED_SIGN(alg_)                                                                                 \
    static int combined_sign_##alg_(const cdtls_provider *p, const cdtls_sign_key *key, const uint8_t *msg, \
                                    size_t msg_len, uint8_t *sig, size_t *sig_len)                          \
    {                                                                                                       \
        if (!key) return CDTLS_ERR_INVALID_ARG;                                                             \
        const combined_key *k = (const combined_key *)(const void *)key;                                    \
        const cdtls_sig_vt *v = k->owner->sig[alg_];                                                        \
        if (!v) return CDTLS_ERR_UNSUPPORTED;                                                               \
        return v->sign(p, k->inner, msg, msg_len, sig, sig_len);                                            \
    }

COMBINED_SIGN(0)
COMBINED_SIGN(1)
COMBINED_SIGN(2)
COMBINED_SIGN(3)
COMBINED_SIGN(4)
COMBINED_SIGN(5)
COMBINED_SIGN(6)
COMBINED_SIGN(7)
COMBINED_SIGN(8)
COMBINED_SIGN(9)

typedef int (*sign_fn)(const cdtls_provider *, const cdtls_sign_key *, const uint8_t *, size_t, uint8_t *,
                       size_t *);
static const sign_fn combined_sign[CDTLS_SIG__COUNT] = {
    combined_sign_0, combined_sign_1, combined_sign_2, combined_sign_3, combined_sign_4,
    combined_sign_5, combined_sign_6, combined_sign_7, combined_sign_8, combined_sign_9};
_Static_assert(CDTLS_SIG__COUNT == 10, "one combined_sign_N per signature scheme");

/* The first non-NULL entry of field[i] over the list. */
#define FIRST(field_, i_)                                                                         \
    do {                                                                                          \
        for (size_t k_ = 0; k_ < n && !t->field_[i_]; k_++) t->field_[i_] = list[k_]->field_[i_]; \
    } while (0)

int cdtls_provider_combine(cdtls_provider_combined *out, const char *name, const cdtls_provider *const *list,
                           size_t n)
{
    if (!out || !list || n == 0 || n > CDTLS_PROVIDER_COMBINE_MAX) return CDTLS_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!list[i] || list[i]->abi_version != CDTLS_PROVIDER_ABI_VERSION) return CDTLS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    cdtls_provider *t = &out->provider;
    t->abi_version = CDTLS_PROVIDER_ABI_VERSION;
    t->name = name ? name : "combined";
    for (size_t i = 0; i < n; i++) out->from[i] = list[i];
    out->count = n;
    for (size_t i = 0; i < n && !out->random_from; i++)
        if (list[i]->random) out->random_from = list[i];
    if (out->random_from) t->random = combined_random;
    for (int i = 0; i < CDTLS_HASH__COUNT; i++) {
        FIRST(hash, i);
        FIRST(hmac, i);
    }
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++) FIRST(aead, i);
    for (int i = 0; i < CDTLS_CBC__COUNT; i++) FIRST(cbc, i);
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++) FIRST(kx, i);
    for (int i = 0; i < CDTLS_SN_MASK__COUNT; i++) FIRST(sn_mask, i);
    /* ABI 3: every listed table has kem[] (the version check above). Each
     * KEM entry is self-contained (its key object is the caller's union),
     * so it can come from any provider, like a kx entry. */
    for (int i = 0; i < CDTLS_KEM__COUNT; i++) FIRST(kem, i);
    /* Signatures: verify from the first provider with the scheme; sign
     * dispatches on the key's owner (combined_sign). */
    int any_sig = 0;
    for (int i = 0; i < CDTLS_SIG__COUNT; i++) {
        const cdtls_sig_vt *v = NULL;
        for (size_t k = 0; k < n && !v; k++) v = list[k]->sig[i];
        if (!v) continue;
        out->sig[i] = *v;
        out->sig[i].sign = combined_sign[i];
        t->sig[i] = &out->sig[i];
        any_sig = 1;
    }
    if (any_sig) {
        t->sign_key_new = combined_key_new;
        t->sign_key_generate = combined_key_generate;
        t->sign_key_public = combined_key_public;
        t->sign_key_free = combined_key_free;
    }
    return CDTLS_OK;
}
