/* Each provider's README has a capability table; this test reads the README
 * of the linked provider and checks every row against the vtable, and that
 * every entry the vtable has is in the table. The documentation cannot
 * drift from the code. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdtls/provider.h"

#ifndef CDTLS_SOURCE_DIR
#error "the build passes -DCDTLS_SOURCE_DIR"
#endif

typedef struct cap_row {
    char kind[16], name[32], value[8];
} cap_row;

static size_t read_caps(const char *provider, cap_row *rows, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/providers/%s/README.md", CDTLS_SOURCE_DIR, provider);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char line[256];
    size_t n = 0;
    int in_table = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| kind | name | supported |", 27) == 0) {
            in_table = 1;
            continue;
        }
        if (!in_table || strncmp(line, "|---", 4) == 0) continue;
        if (line[0] != '|') {
            if (n) break;
            continue;
        }
        cr_assert(n < cap);
        cr_assert_eq(
            sscanf(line, "| %15[^ |] | %31[^|] | %7[^ |] |", rows[n].kind, rows[n].name, rows[n].value), 3,
            "bad row: %s", line);
        size_t l = strlen(rows[n].name); /* trim the name's trailing blanks */
        while (l && rows[n].name[l - 1] == ' ') rows[n].name[--l] = 0;
        n++;
    }
    fclose(f);
    cr_assert(n > 20, "capability table of %s has only %zu rows", provider, n);
    return n;
}

static const char *key_type_names[CDTLS_KEY__COUNT] = {NULL, "P-256", "P-384", "RSA", "Ed25519"};

/* 1 if present, 0 if absent, -1 for an unknown row */
static int present(const cdtls_provider *p, const cap_row *r, int *matched_index, int *kind_id)
{
    char hmac_name[48];
    if (strcmp(r->kind, "random") == 0) return *kind_id = 0, p->random != NULL;
    for (int i = 0; i < CDTLS_HASH__COUNT; i++) {
        if (strcmp(r->kind, "hash") == 0 && strcmp(r->name, cdtls_hash_name(i)) == 0)
            return *kind_id = 1, *matched_index = i, p->hash[i] != NULL;
        snprintf(hmac_name, sizeof hmac_name, "HMAC-%s", cdtls_hash_name(i));
        if (strcmp(r->kind, "hmac") == 0 && strcmp(r->name, hmac_name) == 0)
            return *kind_id = 2, *matched_index = i, p->hmac[i] != NULL;
    }
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++)
        if (strcmp(r->kind, "aead") == 0 && strcmp(r->name, cdtls_aead_name(i)) == 0)
            return *kind_id = 3, *matched_index = i, p->aead[i] != NULL;
    for (int i = 0; i < CDTLS_CBC__COUNT; i++)
        if (strcmp(r->kind, "cbc") == 0 && strcmp(r->name, cdtls_cbc_name(i)) == 0)
            return *kind_id = 4, *matched_index = i, p->cbc[i] != NULL;
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++)
        if (strcmp(r->kind, "kx") == 0 && strcmp(r->name, cdtls_group_name(i)) == 0)
            return *kind_id = 5, *matched_index = i, p->kx[i] != NULL;
    for (int i = 0; i < CDTLS_SIG__COUNT; i++)
        if (strcmp(r->kind, "sig") == 0 && strcmp(r->name, cdtls_sig_name(i)) == 0)
            return *kind_id = 6, *matched_index = i, p->sig[i] != NULL;
    for (int i = 0; i < CDTLS_SN_MASK__COUNT; i++)
        if (strcmp(r->kind, "sn_mask") == 0 && strcmp(r->name, cdtls_sn_mask_name(i)) == 0)
            return *kind_id = 8, *matched_index = i, p->sn_mask[i] != NULL;
    for (int i = 0; i < CDTLS_KEM__COUNT; i++)
        if (strcmp(r->kind, "kem") == 0 && strcmp(r->name, cdtls_kem_name(i)) == 0)
            return *kind_id = 9, *matched_index = i, p->kem[i] != NULL;
    for (int t = 1; t < CDTLS_KEY__COUNT; t++) {
        if (strcmp(r->kind, "keygen") != 0 || strcmp(r->name, key_type_names[t]) != 0) continue;
        *kind_id = 7, *matched_index = t;
        if (!p->sign_key_generate) return 0;
        cdtls_sign_key *k = NULL;
        int rc = p->sign_key_generate(p, cdtls_allocator_libc(), (cdtls_key_type)t, &k);
        if (rc == CDTLS_OK) {
            p->sign_key_free(cdtls_allocator_libc(), k);
            return 1;
        }
        cr_assert_eq(rc, CDTLS_ERR_UNSUPPORTED, "keygen %s: %s", r->name, cdtls_strerror(rc));
        return 0;
    }
    return -1;
}

Test(provider_caps, readme_table_matches_vtable)
{
    const cdtls_provider *p = cdtls_provider_default();
    cr_assert_eq(p->abi_version, CDTLS_PROVIDER_ABI_VERSION);
    cr_assert_str_eq(p->name, CDTLS_PROVIDER_NAME);
    cap_row rows[128];
    size_t n = read_caps(p->name, rows, 128);
    /* seen[kind][index]: which vtable slots the table covers */
    int seen[10][CDTLS_SIG__COUNT + 1];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n; i++) {
        int idx = 0, kind = -1;
        int has = present(p, &rows[i], &idx, &kind);
        cr_assert_neq(has, -1, "unknown capability row: %s %s", rows[i].kind, rows[i].name);
        seen[kind][idx] = 1;
        if (strcmp(rows[i].value, "yes") == 0)
            cr_assert(has, "README says %s %s yes, vtable has none", rows[i].kind, rows[i].name);
        else if (strcmp(rows[i].value, "no") == 0)
            cr_assert(!has, "README says %s %s no, vtable has it", rows[i].kind, rows[i].name);
        else
            /* either: "cpu" (present when the CPU can), "lib" (when the
             * linked library's version has it) */
            cr_assert(strcmp(rows[i].value, "cpu") == 0 || strcmp(rows[i].value, "lib") == 0,
                      "bad value for %s", rows[i].name);
    }
    /* no undocumented capability, and names/ids are canonical */
    for (int i = 0; i < CDTLS_HASH__COUNT; i++) {
        if (p->hash[i])
            cr_assert(seen[1][i] && p->hash[i]->alg == (cdtls_hash_alg)i &&
                      strcmp(p->hash[i]->name, cdtls_hash_name(i)) == 0);
        if (p->hmac[i])
            cr_assert(seen[2][i] && p->hmac[i]->hash == (cdtls_hash_alg)i &&
                      p->hmac[i]->mac_len == p->hash[i]->digest_len);
    }
    for (int i = 0; i < CDTLS_AEAD__COUNT; i++) {
        const cdtls_aead_vt *a = p->aead[i];
        if (!a) continue;
        cr_assert(seen[3][i] && a->alg == (cdtls_aead_alg)i && strcmp(a->name, cdtls_aead_name(i)) == 0);
        cr_assert_eq(a->nonce_len, 12);
        size_t key = i == CDTLS_AEAD_AES_128_GCM || i == CDTLS_AEAD_AES_128_CCM ||
                             i == CDTLS_AEAD_AES_128_CCM_8
                         ? 16
                         : 32;
        size_t tag = i == CDTLS_AEAD_AES_128_CCM_8 || i == CDTLS_AEAD_AES_256_CCM_8 ? 8 : 16;
        cr_assert_eq(a->key_len, key, "%s key", a->name);
        cr_assert_eq(a->tag_len, tag, "%s tag", a->name);
    }
    for (int i = 0; i < CDTLS_CBC__COUNT; i++)
        if (p->cbc[i])
            cr_assert(seen[4][i] && p->cbc[i]->key_len == (i ? 32u : 16u) && p->cbc[i]->block_len == 16);
    static const uint16_t group_ids[CDTLS_GROUP__COUNT] = {29, 23, 24};
    static const size_t pub_lens[CDTLS_GROUP__COUNT] = {32, 65, 97};
    for (int i = 0; i < CDTLS_GROUP__COUNT; i++)
        if (p->kx[i])
            cr_assert(seen[5][i] && p->kx[i]->tls_id == group_ids[i] && p->kx[i]->public_len == pub_lens[i]);
    static const uint16_t sig_ids[CDTLS_SIG__COUNT] = {0x0403, 0x0503, 0x0603, 0x0401, 0x0501,
                                                       0x0601, 0x0804, 0x0805, 0x0806, 0x0807};
    for (int i = 0; i < CDTLS_SIG__COUNT; i++)
        if (p->sig[i])
            cr_assert(seen[6][i] && p->sig[i]->tls_id == sig_ids[i] &&
                      strcmp(p->sig[i]->name, cdtls_sig_name(i)) == 0);
    for (int t = 1; t < CDTLS_KEY__COUNT; t++)
        cr_assert(seen[7][t], "keygen %s row missing", key_type_names[t]);
    static const size_t sn_key_lens[CDTLS_SN_MASK__COUNT] = {16, 32, 32};
    for (int i = 0; i < CDTLS_SN_MASK__COUNT; i++) {
        cr_assert(seen[8][i], "sn_mask %s row missing", cdtls_sn_mask_name(i));
        const cdtls_sn_mask_vt *m = p->sn_mask[i];
        if (m)
            cr_assert(m->alg == (cdtls_sn_mask_alg)i && strcmp(m->name, cdtls_sn_mask_name(i)) == 0 &&
                          m->key_len == sn_key_lens[i],
                      "sn_mask %s", m->name);
    }
    for (int i = 0; i < CDTLS_KEM__COUNT; i++) {
        cr_assert(seen[9][i], "kem %s row missing", cdtls_kem_name(i));
        const cdtls_kem_vt *k = p->kem[i];
        if (k)
            cr_assert(k->alg == (cdtls_kem_alg)i && strcmp(k->name, cdtls_kem_name(i)) == 0, "kem %s",
                      k->name);
    }
    cr_assert(seen[0][0], "random row missing");
}
