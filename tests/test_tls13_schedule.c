/* The (D)TLS 1.3 key schedule (src/keys/tls13_schedule.c) on the linked
 * provider's hash and HMAC.
 *
 * RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256): the
 * messages as the RFC prints them are hashed here, and every secret, key,
 * iv and verify_data the trace lists must come out. RFC 8448 §4 "Resumed
 * 0-RTT Handshake": the ticket PSK, the early secret, the resumption binder
 * over the truncated ClientHello and the early traffic keys. RFC 8448 has
 * no SHA-384 trace and no DTLS one: those values come from
 * scripts/gen_tls13_vectors.py (Python hashlib/hmac, independent of cdtls,
 * itself checked there against the RFC 8448 values above). */
#include <criterion/criterion.h>
#include "test_util.h"
#include <string.h>

#include "handshake/hs13_msg.h"
#include "keys/tls13_schedule.h"

/* RFC 8448 §3: ClientHello, ServerHello, the server's flight
 * (EncryptedExtensions 40 bytes, Certificate 445, CertificateVerify 136,
 * Finished 36) and the client's Finished, each with its 4-byte header. */
static const char rfc8448_ch[] =
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece700000613011303130201"
    "0000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
    "230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b00"
    "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
    "00024001";
static const char rfc8448_sh[] =
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024"
    "001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304";
static const char rfc8448_server_flight[] =
    "080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000b0001b9000001b5"
    "0001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a0603550403130372"
    "7361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372"
    "736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c"
    "0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0cc"
    "b0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a"
    "8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0"
    "300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594"
    "365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1"
    "fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b4"
    "2b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc"
    "90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671"
    "459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3140000"
    "209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718";
static const char rfc8448_client_finished[] =
    "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61";
static const char rfc8448_resumed_ch[] =
    "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d9500000613011303130201"
    "0001cd0000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
    "3300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4f18d668f0b002a0000002b00"
    "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
    "000240010015005700000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "2900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c936"
    "7c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3"
    "664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf2"
    "97b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb002120"
    "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d";

#define EE_LEN 40u
#define CERT_LEN 445u
#define CV_LEN 136u
#define SFIN_LEN 36u

static const cdtls_provider *prov(cdtls_hash_alg h)
{
    const cdtls_provider *p = cdtls_provider_default();
    if (!p->hmac[h] || !p->hash[h]) cr_skip_test("%s not in provider %s", cdtls_hash_name(h), p->name);
    return p;
}

/* wants want (hex) in got */
static void same(const uint8_t *got, const char *want_hex, const char *what)
{
    uint8_t want[128];
    size_t n = unhex(want_hex, want, sizeof want);
    cr_assert(memcmp(got, want, n) == 0, "%s differs from the known answer", what);
}

/* an AES-128 key and iv from a SHA-256 traffic secret, as a trace lists them */
static void want_keys(const cdtls_provider *p, const uint8_t *secret, const char *key_hex, const char *iv_hex,
                      const char *what)
{
    tls13_traffic_keys k;
    cr_assert_eq(tls13_traffic_keys_derive(p, CDTLS_HASH_SHA256, TLS13_LABEL_PREFIX, secret, 16, &k),
                 CDTLS_OK);
    cr_assert_eq(k.key_len, 16);
    same(k.key, key_hex, what);
    same(k.iv, iv_hex, what);
}

/* a running SHA-256 transcript, read without ending it */
typedef struct transcript {
    const cdtls_hash_vt *h;
    cdtls_hash_ctx ctx;
} transcript;

static void transcript_add(transcript *t, const uint8_t *p, size_t n)
{
    t->h->update(&t->ctx, p, n);
}

Test(tls13_schedule, rfc8448_simple_1rtt)
{
    const cdtls_provider *p = prov(CDTLS_HASH_SHA256);
    const cdtls_hash_alg H = CDTLS_HASH_SHA256;
    static uint8_t ch[256], sh[128], flight[700], cf[64];
    size_t ch_len = unhex(rfc8448_ch, ch, sizeof ch), sh_len = unhex(rfc8448_sh, sh, sizeof sh);
    size_t fl_len = unhex(rfc8448_server_flight, flight, sizeof flight);
    size_t cf_len = unhex(rfc8448_client_finished, cf, sizeof cf);
    cr_assert_eq(ch_len, 196);
    cr_assert_eq(sh_len, 90);
    cr_assert_eq(fl_len, EE_LEN + CERT_LEN + CV_LEN + SFIN_LEN);
    cr_assert_eq(cf_len, 36);

    transcript t;
    memset(&t, 0, sizeof t); /* the context union's first member differs by provider */
    t.h = p->hash[H];
    t.h->init(&t.ctx);
    uint8_t th[32], s1[32], s2[32], vd[32];

    tls13_schedule ks;
    cr_assert_eq(tls13_schedule_init(&ks, p, H, TLS13_LABEL_PREFIX), CDTLS_OK);
    cr_assert_eq(ks.hash_len, 32);
    cr_assert_eq(tls13_schedule_early(&ks, NULL, 0), CDTLS_OK);
    same(ks.secret, "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a", "early secret");

    /* (EC)DHE shared secret as the trace gives it */
    uint8_t shared[32];
    unhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d", shared, sizeof shared);
    cr_assert_eq(tls13_schedule_handshake(&ks, shared, sizeof shared), CDTLS_OK);
    same(ks.secret, "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac", "handshake secret");

    transcript_add(&t, ch, ch_len);
    transcript_add(&t, sh, sh_len);
    t.h->final(&t.ctx, th);
    same(th, "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8", "Hash(CH..SH)");
    cr_assert_eq(tls13_handshake_traffic_secrets(&ks, th, s1, s2), CDTLS_OK);
    same(s1, "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
         "client_handshake_traffic_secret");
    same(s2, "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
         "server_handshake_traffic_secret");

    want_keys(p, s2, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30", "server handshake key");
    want_keys(p, s1, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f", "client handshake key");

    /* server Finished over CH..CertificateVerify */
    transcript_add(&t, flight, EE_LEN + CERT_LEN + CV_LEN);
    t.h->final(&t.ctx, th);
    uint8_t fk[32];
    cr_assert_eq(tls13_finished_key(p, H, TLS13_LABEL_PREFIX, s2, fk), CDTLS_OK);
    same(fk, "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8", "server finished_key");
    cr_assert_eq(tls13_verify_data(p, H, TLS13_LABEL_PREFIX, s2, th, vd), CDTLS_OK);
    const uint8_t *sfin = flight + EE_LEN + CERT_LEN + CV_LEN;
    cr_assert_eq(sfin[0], 20);
    cr_assert(memcmp(vd, sfin + 4, 32) == 0, "server verify_data differs from the trace's Finished");
    cr_assert_eq(tls13_verify_data_check(p, H, TLS13_LABEL_PREFIX, s2, th, sfin + 4, 32), CDTLS_OK);
    uint8_t bad[32];
    memcpy(bad, sfin + 4, 32);
    bad[31] ^= 1;
    cr_assert_eq(tls13_verify_data_check(p, H, TLS13_LABEL_PREFIX, s2, th, bad, 32), CDTLS_ERR_BAD_FINISHED);
    cr_assert_eq(tls13_verify_data_check(p, H, TLS13_LABEL_PREFIX, s2, th, sfin + 4, 31),
                 CDTLS_ERR_BAD_FINISHED);

    /* master secret and the application secrets over CH..server Finished */
    cr_assert_eq(tls13_schedule_master(&ks), CDTLS_OK);
    same(ks.secret, "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919", "master secret");
    transcript_add(&t, sfin, SFIN_LEN);
    t.h->final(&t.ctx, th);
    same(th, "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13", "Hash(CH..SF)");

    /* client Finished: over CH..server Finished, with the client key */
    cr_assert_eq(tls13_verify_data(p, H, TLS13_LABEL_PREFIX, s1, th, vd), CDTLS_OK);
    cr_assert(memcmp(vd, cf + 4, 32) == 0, "client verify_data differs from the trace's Finished");

    cr_assert_eq(tls13_application_traffic_secrets(&ks, th, s1, s2), CDTLS_OK);
    same(s1, "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
         "client_application_traffic_secret_0");
    same(s2, "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
         "server_application_traffic_secret_0");
    want_keys(p, s2, "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984",
              "server application key");
    want_keys(p, s1, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9",
              "client application key");
    cr_assert_eq(tls13_exporter_master(&ks, th, s1), CDTLS_OK);
    same(s1, "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50", "exporter_master_secret");

    /* resumption over CH..client Finished, and the ticket's PSK (nonce 00 00) */
    transcript_add(&t, cf, cf_len);
    t.h->final(&t.ctx, th);
    same(th, "209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d", "Hash(CH..CF)");
    cr_assert_eq(tls13_resumption_master(&ks, th, s1), CDTLS_OK);
    same(s1, "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c", "resumption_master_secret");
    const uint8_t nonce[2] = {0, 0};
    cr_assert_eq(tls13_resumption_psk(p, H, TLS13_LABEL_PREFIX, s1, nonce, 2, s2), CDTLS_OK);
    same(s2, "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3", "resumption PSK");

    tls13_schedule_wipe(&ks);
    uint8_t zero[TLS13_MAX_HASH] = {0};
    cr_assert(memcmp(ks.secret, zero, sizeof zero) == 0, "the schedule's secret was not wiped");
    cr_assert_eq(ks.stage, TLS13_STAGE_NONE);
}

Test(tls13_schedule, rfc8448_resumed_0rtt_psk_binder)
{
    const cdtls_provider *p = prov(CDTLS_HASH_SHA256);
    const cdtls_hash_alg H = CDTLS_HASH_SHA256;
    static uint8_t ch[600];
    size_t ch_len = unhex(rfc8448_resumed_ch, ch, sizeof ch);
    cr_assert_eq(ch_len, 512);
    uint8_t psk[32], th[32], key[32], out[32];
    unhex("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3", psk, sizeof psk);

    tls13_schedule ks;
    cr_assert_eq(tls13_schedule_init(&ks, p, H, TLS13_LABEL_PREFIX), CDTLS_OK);
    cr_assert_eq(tls13_schedule_early(&ks, psk, sizeof psk), CDTLS_OK);
    same(ks.secret, "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c", "early secret (PSK)");
    cr_assert_eq(tls13_binder_key(&ks, 0, key), CDTLS_OK);
    same(key, "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256", "res binder key");
    cr_assert_eq(tls13_finished_key(p, H, TLS13_LABEL_PREFIX, key, out), CDTLS_OK);
    same(out, "5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa", "binder finished_key");
    /* the binder covers the ClientHello up to its binders list (§4.2.11.2):
     * the last 35 bytes are binders<33..> = 00 21 | 20 | 32 bytes */
    cr_assert_eq(ch[ch_len - 35], 0x00);
    cr_assert_eq(ch[ch_len - 34], 0x21);
    cr_assert_eq(tls13_hash(p, H, ch, ch_len - 35, th), CDTLS_OK);
    same(th, "63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14",
         "Hash(truncated ClientHello)");
    cr_assert_eq(tls13_verify_data(p, H, TLS13_LABEL_PREFIX, key, th, out), CDTLS_OK);
    cr_assert(memcmp(out, ch + ch_len - 32, 32) == 0, "the PSK binder differs from the trace's ClientHello");
    cr_assert_eq(tls13_verify_data_check(p, H, TLS13_LABEL_PREFIX, key, th, ch + ch_len - 32, 32), CDTLS_OK);
    /* an external PSK's binder key is another one */
    uint8_t ext[32];
    cr_assert_eq(tls13_binder_key(&ks, 1, ext), CDTLS_OK);
    cr_assert(memcmp(ext, key, 32) != 0);

    /* 0-RTT keys over Hash(whole ClientHello) */
    cr_assert_eq(tls13_hash(p, H, ch, ch_len, th), CDTLS_OK);
    cr_assert_eq(tls13_early_traffic_secret(&ks, th, out), CDTLS_OK);
    same(out, "3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62",
         "client_early_traffic_secret");
    want_keys(p, out, "920205a5b7bf2115e6fc5c2942834f54", "6d475f0993c8e564610db2b9", "early key");
    tls13_schedule_wipe(&ks);
}

/* RFC 8448 §5 "HelloRetryRequest" (P-256 after an X25519 guess): ClientHello1,
 * HelloRetryRequest, ClientHello2 (whose padding extension ends it with 175
 * zero bytes), ServerHello, the server's EncryptedExtensions, Certificate (the
 * one of §3), CertificateVerify and Finished, the client's Finished. */
static const char rfc8448_hrr_ch1[] =
    "010000b00303b0b1c5a5aa37c5919f2ed1d5c6fff7fcb7849716945a2b8cee9258a346677b6f00000613011303130201"
    "0000810000000b0009000006736572766572ff01000100000a00080006001d00170018003300260024001d0020e8e8e3"
    "f3b93a25ed97a14a7dcacb8a272c6288e585c6484d05262fcad062ad1f002b0003020304000d0020001e040305030603"
    "020308040805080604010501060102010402050206020202002d00020101001c00024001";
static const char rfc8448_hrr[] =
    "020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c00130100008400330002"
    "0017002c0074007271dcd04bb88bc3189119398a00000000eefafc76c146b823b096f8aacad365dd0030953f4edf6256"
    "36e5f21bb2e23fcc654b1b5b40318d10d137abcbb87574e36e8a1f025f7dfa5d6e50781b5eda4aa15b0c8be778257d16"
    "aa3030e9e7841dd9e4c0342267e8ca0caf571fb2b7cff0f934b0002b00020304";
static const char rfc8448_hrr_ch2_head[] =
    "010001fc0303b0b1c5a5aa37c5919f2ed1d5c6fff7fcb7849716945a2b8cee9258a346677b6f00000613011303130201"
    "0001cd0000000b0009000006736572766572ff01000100000a00080006001d001700180033004700450017004104a6da"
    "7392ec591e17abfd535964b99894d13befb221b3def2ebe3830eac8f0151812677c4d6d2237e85cf01d6910cfb83954e"
    "76ba7352830534159897e8065780002b0003020304000d0020001e040305030603020308040805080604010501060102"
    "010402050206020202002c0074007271dcd04bb88bc3189119398a00000000eefafc76c146b823b096f8aacad365dd00"
    "30953f4edf625636e5f21bb2e23fcc654b1b5b40318d10d137abcbb87574e36e8a1f025f7dfa5d6e50781b5eda4aa15b"
    "0c8be778257d16aa3030e9e7841dd9e4c0342267e8ca0caf571fb2b7cff0f934b0002d00020101001c00024001001500"
    "af";
static const char rfc8448_hrr_sh[] =
    "020000770303bb341d847fd789c47c387172dc0c9bf147fccacb5043d86ca4c598d3ff571b9800130100004f00330045"
    "0017004104583e054b7a66672ae020ad9d2686fcc85b5ad41a134a0f03ee72b893052bd85b4c8de6776f5b04ac07d835"
    "40eab3e3d9c547bc6528c4317d294686093a6cad7d002b00020304";
static const char rfc8448_hrr_ee[] = "080000180016000a0008000600170018001d001c0002400100000000";
static const char rfc8448_hrr_cv[] =
    "0f0000840804008033ab13d4462707231b5dcae6c8190b63d1dabc74f28c395370da0b07e5b83066d0246a31acd95df4"
    "75bfd799a4a70d33ad93d3a317a9b2c0d237a5685b219e774112e391a247607d1aeff1bbd0a39f382ee1a5fe88ae99ec"
    "59228e6497e45d48ce275a6d5ef40d169fb6f9d33b052ed3dcdd6b5a48baafffbcb290128415bd38";
static const char rfc8448_hrr_sf[] =
    "140000208863e6bfb0420a927fa27f34336a70ae426e968e3eb884945b96856dba3976d1";
static const char rfc8448_hrr_cf[] =
    "1400002023f52fdb0709a55bd7f79b991f25484087bcfd4d4380b12326a52a28b2e368e1";

Test(tls13_schedule, rfc8448_hello_retry_request)
{
    const cdtls_provider *p = prov(CDTLS_HASH_SHA256);
    const cdtls_hash_alg H = CDTLS_HASH_SHA256;
    static uint8_t ch1[200], hrr[200], ch2[512], sh[128], ee[32], cert[700], cv[160], sf[40], cf[40];
    size_t ch1_len = unhex(rfc8448_hrr_ch1, ch1, sizeof ch1), hrr_len = unhex(rfc8448_hrr, hrr, sizeof hrr);
    size_t ch2_len = unhex(rfc8448_hrr_ch2_head, ch2, sizeof ch2) + 175; /* the zeros of the padding */
    size_t sh_len = unhex(rfc8448_hrr_sh, sh, sizeof sh), ee_len = unhex(rfc8448_hrr_ee, ee, sizeof ee);
    size_t cv_len = unhex(rfc8448_hrr_cv, cv, sizeof cv), sf_len = unhex(rfc8448_hrr_sf, sf, sizeof sf);
    size_t cf_len = unhex(rfc8448_hrr_cf, cf, sizeof cf);
    cr_assert_eq(unhex(rfc8448_server_flight, cert, sizeof cert), EE_LEN + CERT_LEN + CV_LEN + SFIN_LEN);
    memmove(cert, cert + EE_LEN, CERT_LEN);
    cr_assert(ch1_len == 180 && hrr_len == 176 && ch2_len == 512 && sh_len == 123);

    /* the server's messages through the 1.3 codec (ServerHello is the same in TLS and DTLS) */
    hs13_server_hello m;
    cr_assert_eq(hs13_server_hello_parse(hrr + 4, hrr_len - 4, &m), CDTLS_OK);
    cr_assert(m.is_hrr && m.has_key_share && m.selected_group == 23 && m.cookie_len == 0x72);
    cr_assert(m.has_selected_version && m.selected_version == 0x0304);
    cr_assert_eq(hs13_server_hello_parse(sh + 4, sh_len - 4, &m), CDTLS_OK);
    cr_assert(!m.is_hrr && m.share.group == 23 && m.share.key_len == 65);

    /* the transcript restarts with message_hash(ClientHello1) (§4.4.1) */
    uint8_t th[32], mh[36], s1[32], s2[32], vd[32];
    size_t mh_len = 0;
    cr_assert_eq(tls13_hash(p, H, ch1, ch1_len, th), CDTLS_OK);
    cr_assert_eq(hs13_message_hash(th, 32, mh, sizeof mh, &mh_len), CDTLS_OK);
    transcript t;
    memset(&t, 0, sizeof t); /* the context union's first member differs by provider */
    t.h = p->hash[H];
    t.h->init(&t.ctx);
    transcript_add(&t, mh, mh_len);
    transcript_add(&t, hrr, hrr_len);
    transcript_add(&t, ch2, ch2_len);
    transcript_add(&t, sh, sh_len);
    t.h->final(&t.ctx, th);
    same(th, "8aa8e828ec2f8a884fec95a3139de01c15a3daa7ff5bfc3f4bfcc21b438d7bf8", "Hash(message_hash..SH)");

    tls13_schedule ks;
    uint8_t shared[32];
    unhex("c142ce13ca11b5c2233652e63ad3d97844f1621fbfb9de69d547dc8fedeabeb4", shared, sizeof shared);
    cr_assert_eq(tls13_schedule_init(&ks, p, H, TLS13_LABEL_PREFIX), CDTLS_OK);
    cr_assert_eq(tls13_schedule_early(&ks, NULL, 0), CDTLS_OK);
    cr_assert_eq(tls13_schedule_handshake(&ks, shared, sizeof shared), CDTLS_OK);
    cr_assert_eq(tls13_handshake_traffic_secrets(&ks, th, s1, s2), CDTLS_OK);
    want_keys(p, s2, "4646bfac1712c426cd78d8a24a8a6f6b", "c7d395c08d62f297d13768ea", "server handshake key");
    want_keys(p, s1, "2f1f918663d590e7421149a29d94b0b6", "414d5485235e1a688793bd74", "client handshake key");
    cr_assert_eq(tls13_finished_key(p, H, TLS13_LABEL_PREFIX, s2, vd), CDTLS_OK);
    same(vd, "e7f8bb3ea4b6c30c4710b3d09c3313658117e70b097e850368e2510ca5631f74", "server finished_key");
    cr_assert_eq(tls13_finished_key(p, H, TLS13_LABEL_PREFIX, s1, vd), CDTLS_OK);
    same(vd, "81be4131fbb9b6f4471450846f74fd1e68c5224ba7c2a8677f5c53ad226fdc13", "client finished_key");

    transcript_add(&t, ee, ee_len);
    transcript_add(&t, cert, CERT_LEN);
    transcript_add(&t, cv, cv_len);
    t.h->final(&t.ctx, th);
    cr_assert_eq(tls13_verify_data_check(p, H, TLS13_LABEL_PREFIX, s2, th, sf + 4, sf_len - 4), CDTLS_OK);
    transcript_add(&t, sf, sf_len);
    t.h->final(&t.ctx, th);
    cr_assert_eq(tls13_verify_data_check(p, H, TLS13_LABEL_PREFIX, s1, th, cf + 4, cf_len - 4), CDTLS_OK);
    cr_assert_eq(tls13_schedule_master(&ks), CDTLS_OK);
    cr_assert_eq(tls13_application_traffic_secrets(&ks, th, s1, s2), CDTLS_OK);
    want_keys(p, s2, "f27a5d97bd25550c4823b0f3e5d29388", "0dd631f7b71cbbc797c35fe7",
              "server application key");
    want_keys(p, s1, "a7eb2a0525eb4331d58fcbf9f7ca2e9c", "86e8be227c1bd2b3e39cb444",
              "client application key");
    transcript_add(&t, cf, cf_len);
    t.h->final(&t.ctx, th);
    same(th, "0e8b349158b855fdcd0c11dbbc4e83e43caa6e483c6c65df53151888e50165f4", "Hash(message_hash..CF)");
    tls13_schedule_wipe(&ks);
}

/* A whole chain against scripts/gen_tls13_vectors.py: transcript hashes are
 * Hash("CH"), Hash("CH..SH"), ... of those ASCII strings. */
typedef struct named_hex {
    const char *name, *hex;
} named_hex;

static const char *lookup(const named_hex *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return v[i].hex;
    cr_assert_fail("no vector %s", name);
    return NULL;
}

static void check_chain(cdtls_hash_alg H, const char *prefix, const named_hex *v, size_t nv, size_t key_len)
{
    const cdtls_provider *p = prov(H);
    const size_t n = p->hash[H]->digest_len;
    uint8_t psk[48], shared[48], th[TLS13_MAX_HASH], a[TLS13_MAX_HASH], b[TLS13_MAX_HASH], out[64];
    for (size_t i = 0; i < n; i++) psk[i] = (uint8_t)(1 + i), shared[i] = (uint8_t)(0x40 + i);
#define TH(s) cr_assert_eq(tls13_hash(p, H, (const uint8_t *)(s), strlen(s), th), CDTLS_OK)
#define WANT(buf, name) same(buf, lookup(v, nv, name), name)
    tls13_schedule ks;
    cr_assert_eq(tls13_schedule_init(&ks, p, H, prefix), CDTLS_OK);
    cr_assert_eq(tls13_schedule_early(&ks, psk, n), CDTLS_OK);
    WANT(ks.secret, "early");
    cr_assert_eq(tls13_binder_key(&ks, 0, a), CDTLS_OK);
    WANT(a, "res_binder_key");
    TH("truncated CH");
    cr_assert_eq(tls13_verify_data(p, H, prefix, a, th, b), CDTLS_OK);
    WANT(b, "binder");
    cr_assert_eq(tls13_binder_key(&ks, 1, a), CDTLS_OK);
    WANT(a, "ext_binder_key");
    TH("CH");
    cr_assert_eq(tls13_early_traffic_secret(&ks, th, a), CDTLS_OK);
    WANT(a, "c_e_traffic");
    cr_assert_eq(tls13_early_exporter_master(&ks, th, a), CDTLS_OK);
    WANT(a, "e_exp_master");
    cr_assert_eq(tls13_schedule_handshake(&ks, shared, n), CDTLS_OK);
    WANT(ks.secret, "handshake");
    TH("CH..SH");
    cr_assert_eq(tls13_handshake_traffic_secrets(&ks, th, a, b), CDTLS_OK);
    WANT(a, "c_hs");
    WANT(b, "s_hs");
    tls13_traffic_keys k;
    cr_assert_eq(tls13_traffic_keys_derive(p, H, prefix, b, key_len, &k), CDTLS_OK);
    WANT(k.key, "s_hs_key");
    WANT(k.iv, "s_hs_iv");
    WANT(k.sn_key, "s_hs_sn");
    cr_assert_eq(tls13_verify_data(p, H, prefix, b, th, out), CDTLS_OK);
    WANT(out, "s_finished");
    cr_assert_eq(tls13_schedule_master(&ks), CDTLS_OK);
    WANT(ks.secret, "master");
    TH("CH..SF");
    cr_assert_eq(tls13_application_traffic_secrets(&ks, th, a, b), CDTLS_OK);
    WANT(a, "c_ap");
    WANT(b, "s_ap");
    cr_assert_eq(tls13_next_traffic_secret(p, H, prefix, a, a), CDTLS_OK); /* in place */
    WANT(a, "c_ap_1");
    cr_assert_eq(tls13_exporter_master(&ks, th, a), CDTLS_OK);
    WANT(a, "exp_master");
    cr_assert_eq(tls13_export(p, H, prefix, a, (const uint8_t *)"EXPORTER-cdtls-test", 19,
                              (const uint8_t *)"ctx", 3, out, 42),
                 CDTLS_OK);
    WANT(out, "export_ctx_42");
    TH("CH..CF");
    cr_assert_eq(tls13_resumption_master(&ks, th, a), CDTLS_OK);
    WANT(a, "res_master");
    const uint8_t nonce[2] = {0, 1};
    cr_assert_eq(tls13_resumption_psk(p, H, prefix, a, nonce, 2, b), CDTLS_OK);
    WANT(b, "psk_nonce_0001");
    tls13_schedule_wipe(&ks);
#undef TH
#undef WANT
}

Test(tls13_schedule, sha384_chain)
{
    static const named_hex v[] = {
        {"early",
         "e64174c689bb335160bd24e716e8b2280fd85bf5277d32840aa09af4872a6bfb91d02569cafaa7f3dddfec54b791287a"},
        {"res_binder_key",
         "def81d1ce438feb5868129e9132f8ad56c15d81e189a5347176ece5257de5fcbc9a15b48cd051f3aba6a992b374a34ea"},
        {"ext_binder_key",
         "83d8e29c31d62e58b4846cfcc39946d290db51434211a0a09ac15fa0f74e32538d5d0125df25abe9ac9163a99fbcdcf7"},
        {"binder",
         "ca7326cf5f28a1c985fffd16af2648c79a872b339f19d350a23fdf32b35b881a5efcdfc474c42f704186c5c9566c22ca"},
        {"c_e_traffic",
         "b7ee283c66483b721497ee585577170da8569f147fc6afbb2de3b17a33f1223470d53dcbec1aabe419810799dbeba96a"},
        {"e_exp_master",
         "f25c68a603379769a32167b2697cad87d644c63ea2d806aaa4c617d65cebc3108a7d984273ff8a1f1c17a7455c381dc4"},
        {"handshake",
         "d246619745662c77cbfa860405ff3792f09c0de3793711164386361a023f17b143944e444cb19ea007d90a3b2aa37ddb"},
        {"c_hs",
         "abd07baee35f4fc4e6bf6d462e062f99ee2241091ba244e991b3c56ae55bda50edb690395c1f5328ee488e6cc5052349"},
        {"s_hs",
         "aff3572f8f656534b48ab876f3ac42450b0f76724e6e451636d3fffccdac8256f592d2e40234e9a54b21f462f5565264"},
        {"master",
         "cd6de7397171c66dfea239c3f18c936398cc090c8c683da37eb9086856f9038b263f1e357cdbf5436cc199c7aaa42430"},
        {"c_ap",
         "79d980b16dac54f2dc6eb345b8f2e0c421e1f032db55d9b9fb555f69abf1571b326288b117db70d2b75fc8526a4e1fbb"},
        {"s_ap",
         "025068eedbc5dda893d7a861e8e24e20b4b98d2c98738096de48dbe1b97457c0296bfb5280c0a3f81b6e75ce737b481b"},
        {"exp_master",
         "d1ffc63b6e62bbe601f69a980a3794b10509918c74efe97d7946fd17c86e9524bd3ffeab9a358daceb080215e3a11356"},
        {"res_master",
         "36bd2b67b9067fd2248f304dbc9c6e66504944de85931c55278836fc870ddab256202e1e6e6cda020311f6904d6fe2a6"},
        {"s_hs_key", "7981908e87bda95ef4c52aa4c43b68b491e39fcc0e2e810a809818c03fe1aa02"},
        {"s_hs_iv", "77cabbc412cdb7a31b655fb7"},
        {"s_hs_sn", "4c59127cd8b51830e47c7b51f7fb081b6eac4b2d28bd411e4fd14caeb803c140"},
        {"s_finished",
         "234ee8f9b7a4493fe5157bc26a84264a780f8326983acca98bbd8e0cf25ce6f6c0de5934459f9c39a49842e272c79563"},
        {"c_ap_1",
         "e11a63ec329d8556d9922d9df5b756447229bea32331edc015a17888db35a5129849c342eb6648e65c24f6dfd07371b2"},
        {"psk_nonce_0001",
         "d7db861c4749a95059e3fd618a4505603f8d3386a814782b38b2b4884b6446b5c26a2d5d8c90e2a8571d239b22cf7686"},
        {"export_ctx_42",
         "22238ddc7043d56f90d6e31683adc0ac98384fc4c24f7f9296555fb248f6b92c67df2983ee45105a70d8"},
    };
    check_chain(CDTLS_HASH_SHA384, TLS13_LABEL_PREFIX, v, sizeof v / sizeof v[0], 32);
}

Test(tls13_schedule, dtls13_prefix_chain)
{
    static const named_hex v[] = {
        {"early", "23499e7edf0fbe6baa137df0f23becaefa722ad19fc262855409de8cd8b3c897"},
        {"res_binder_key", "e27c18f346a2dcf825e8bb883fce404771ba1a047ba9c1857a82d4075c9128f6"},
        {"ext_binder_key", "8819dce8e36a7975f4144278b2d9e7c0050aedb9d51414005be2eb23b34369df"},
        {"binder", "b074849b003e0564bf9b4e3d1df80d1201be690698009b85f5f0ed80751870f0"},
        {"c_e_traffic", "4ad685c2cd2f924fc4620c289f1e5f42e2c2dfc44515e05d887e1632e8a57279"},
        {"e_exp_master", "38814a3dd35fd3b742a64603ce051b8ecfee8b9ecc842f87f7928b2e54f53bca"},
        {"handshake", "1164d15624bf39a008c131cda0b9cded2b43a409a37e5633b2ed16c566df4e58"},
        {"c_hs", "97ed0e89d9cc008db065b7b1213beebe3d59bf377a2f34daa124c8295674a890"},
        {"s_hs", "7ae86d1348f0236f72eccfe7c6c123e653bee8ba51a6d3d5d450d72c377abc40"},
        {"master", "d002b39bf8f10b50a677dc45390ef4ab0f67fe3a800aa59714b3a9ad87cc48e3"},
        {"c_ap", "d3f418609932ccd3c4d2ae4aaa8b01adc2fc4ea218577aff22a30857819b0fe8"},
        {"s_ap", "19e7ba518eaba284ece0755b29bd0ab1936601bfd85f84e55fabbb400447d987"},
        {"exp_master", "9249915a41d39e205675ba852fd116713b0923bf1e3a0f9066110d5c420b3998"},
        {"res_master", "d125a47cb61be842d32a721b06dd811e3ed9214fcb4047b40923d8d7fa82286e"},
        {"s_hs_key", "1c0efbddab5acde4f6c4ce8954bef2f6"},
        {"s_hs_iv", "3a0dcc069bd0fdf9c0d8cd36"},
        {"s_hs_sn", "b84732be2de39e12c10623b658d85a65"},
        {"s_finished", "ebb7450cb58964b7199d796f3157a6979c0246b407508af72ee7cfe703527c27"},
        {"c_ap_1", "a43304a9ff124d0654916254e4167a78fa4d26b5a90edb4fb4db67b36bddcd98"},
        {"psk_nonce_0001", "ad74b49a7492742a07340e9eedb79fc857dc2a8a4999e45baffd3f2a89bdef2c"},
        {"export_ctx_42",
         "6faad4438fe628454ad01f03414c262cbc58bc31a8d8419cc789be509526dfc7e1de258455796fc7d05b"},
    };
    check_chain(CDTLS_HASH_SHA256, DTLS13_LABEL_PREFIX, v, sizeof v / sizeof v[0], 16);
}

/* RFC 5869 Appendix A.1 (SHA-256, basic) and A.3 (zero-length salt and info) */
Test(tls13_schedule, hkdf_rfc5869)
{
    const cdtls_provider *p = prov(CDTLS_HASH_SHA256);
    uint8_t ikm[22], salt[13], info[10], prk[32], okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    for (int i = 0; i < 13; i++) salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++) info[i] = (uint8_t)(0xf0 + i);
    cr_assert_eq(tls13_hkdf_extract(p, CDTLS_HASH_SHA256, salt, sizeof salt, ikm, sizeof ikm, prk), CDTLS_OK);
    same(prk, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", "A.1 PRK");
    cr_assert_eq(tls13_hkdf_expand(p, CDTLS_HASH_SHA256, prk, 32, info, sizeof info, okm, 42), CDTLS_OK);
    same(okm, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
         "A.1 OKM");
    cr_assert_eq(tls13_hkdf_extract(p, CDTLS_HASH_SHA256, NULL, 0, ikm, sizeof ikm, prk), CDTLS_OK);
    same(prk, "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", "A.3 PRK");
    cr_assert_eq(tls13_hkdf_expand(p, CDTLS_HASH_SHA256, prk, 32, NULL, 0, okm, 42), CDTLS_OK);
    same(okm, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
         "A.3 OKM");
    /* L <= 255 * HashLen */
    static uint8_t big[255 * 32 + 1];
    cr_assert_eq(tls13_hkdf_expand(p, CDTLS_HASH_SHA256, prk, 32, NULL, 0, big, 255 * 32), CDTLS_OK);
    cr_assert_eq(tls13_hkdf_expand(p, CDTLS_HASH_SHA256, prk, 32, NULL, 0, big, 255 * 32 + 1),
                 CDTLS_ERR_INVALID_ARG);
}

Test(tls13_schedule, stages_and_arguments)
{
    const cdtls_provider *p = prov(CDTLS_HASH_SHA256);
    const cdtls_hash_alg H = CDTLS_HASH_SHA256;
    tls13_schedule ks;
    uint8_t a[32] = {0}, b[32], th[32] = {0};
    cr_assert_eq(tls13_schedule_init(&ks, NULL, H, TLS13_LABEL_PREFIX), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(tls13_schedule_init(&ks, p, CDTLS_HASH__COUNT, TLS13_LABEL_PREFIX), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(tls13_schedule_init(&ks, p, H, NULL), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(tls13_schedule_init(&ks, p, H, DTLS13_LABEL_PREFIX), CDTLS_OK);
    /* out of order: every step wants its stage */
    cr_assert_eq(tls13_schedule_handshake(&ks, a, 32), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_binder_key(&ks, 0, b), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_schedule_master(&ks), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_schedule_early(&ks, NULL, 5), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(tls13_schedule_early(&ks, NULL, 0), CDTLS_OK);
    cr_assert_eq(tls13_schedule_early(&ks, NULL, 0), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_handshake_traffic_secrets(&ks, th, a, b), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_application_traffic_secrets(&ks, th, a, b), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_schedule_handshake(&ks, NULL, 0), CDTLS_OK); /* PSK-only: (EC)DHE = 0 */
    cr_assert_eq(tls13_early_traffic_secret(&ks, th, a), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_resumption_master(&ks, th, a), CDTLS_ERR_BAD_STATE);
    cr_assert_eq(tls13_schedule_master(&ks), CDTLS_OK);
    cr_assert_eq(tls13_schedule_master(&ks), CDTLS_ERR_BAD_STATE);
    tls13_schedule_wipe(&ks);
    /* labels: prefix + label fits label<7..255>; context <= 255 */
    char long_label[260];
    memset(long_label, 'x', sizeof long_label - 1);
    long_label[259] = 0;
    cr_assert_eq(tls13_expand_label(p, H, TLS13_LABEL_PREFIX, a, long_label, NULL, 0, b, 32),
                 CDTLS_ERR_INVALID_ARG);
    long_label[249] = 0; /* 6 + 249 = 255: the longest */
    cr_assert_eq(tls13_expand_label(p, H, TLS13_LABEL_PREFIX, a, long_label, NULL, 0, b, 32), CDTLS_OK);
    static uint8_t ctx[256];
    cr_assert_eq(tls13_expand_label(p, H, TLS13_LABEL_PREFIX, a, "key", ctx, 256, b, 16),
                 CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(tls13_expand_label(p, H, TLS13_LABEL_PREFIX, a, "key", ctx, 255, b, 16), CDTLS_OK);
    cr_assert_eq(tls13_expand_label(p, H, TLS13_LABEL_PREFIX, a, NULL, NULL, 0, b, 16),
                 CDTLS_ERR_INVALID_ARG);
    /* the prefixes give different keys for the same secret */
    uint8_t t[16], d[16];
    cr_assert_eq(tls13_expand_label(p, H, TLS13_LABEL_PREFIX, a, "key", NULL, 0, t, 16), CDTLS_OK);
    cr_assert_eq(tls13_expand_label(p, H, DTLS13_LABEL_PREFIX, a, "key", NULL, 0, d, 16), CDTLS_OK);
    cr_assert(memcmp(t, d, 16) != 0);
    tls13_traffic_keys k;
    cr_assert_eq(tls13_traffic_keys_derive(p, H, TLS13_LABEL_PREFIX, a, 33, &k), CDTLS_ERR_INVALID_ARG);
    cr_assert_eq(tls13_traffic_keys_derive(p, H, TLS13_LABEL_PREFIX, a, 0, &k), CDTLS_ERR_INVALID_ARG);
    /* ChaCha20-Poly1305 and AES-256: a 32-byte key and sn key */
    cr_assert_eq(tls13_traffic_keys_derive(p, H, TLS13_LABEL_PREFIX, a, 32, &k), CDTLS_OK);
    cr_assert_eq(k.key_len, 32);
    cr_assert(memcmp(k.key, k.sn_key, 32) != 0);
}

/* A provider without SHA-384 cannot run a SHA-384 schedule, and says so. */
Test(tls13_schedule, missing_hash_is_unsupported)
{
    cdtls_provider copy = *cdtls_provider_default();
    copy.hmac[CDTLS_HASH_SHA384] = NULL;
    copy.hash[CDTLS_HASH_SHA384] = NULL;
    tls13_schedule ks;
    uint8_t a[48] = {0}, b[48];
    cr_assert_eq(tls13_schedule_init(&ks, &copy, CDTLS_HASH_SHA384, TLS13_LABEL_PREFIX),
                 CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(tls13_hkdf_extract(&copy, CDTLS_HASH_SHA384, NULL, 0, a, 48, b), CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(tls13_expand_label(&copy, CDTLS_HASH_SHA384, TLS13_LABEL_PREFIX, a, "key", NULL, 0, b, 16),
                 CDTLS_ERR_UNSUPPORTED);
    cr_assert_eq(tls13_hash(&copy, CDTLS_HASH_SHA384, a, 1, b), CDTLS_ERR_UNSUPPORTED);
}
