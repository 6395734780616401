/* The DTLS 1.3 record layer (src/record/record13*.c, RFC 9147 §4): a
 * datagram walked as a 1.3 endpoint walks it (first-byte demultiplexing,
 * §4.1: DTLSPlaintext and 1.2 records through the 13-byte codec, unified
 * headers through record13_read), each unified header written back from
 * what was parsed and compared, each record put through the receive path
 * of one epoch under a fixed key (epoch reconstruction, record number
 * unmasking, sequence number reconstruction, open, replay window), and a
 * seal -> read -> open round trip of the record's body in the same header
 * form, which must come back unchanged.
 *
 * Input layout: fuzz_record13.h. */
#include <stdlib.h>
#include <string.h>

#include "common/dtls.h"
#include "fuzz_common.h"
#include "fuzz_record13.h"

static fuzz_provider prov;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    fuzz_provider_init_fast(&prov, 1);
    const cdtls_provider *p = &prov.base;
    const unsigned which = data[0] & 7;
    const size_t cid_len = data[0] >> 3;
    const uint64_t current = 2 + (data[1] & 7);
    const unsigned window = 64u << ((data[1] >> 3) & 3);
    const int next_installed = data[1] >> 7;
    data += 2;
    size_t len = size - 2;

    record13_rx_epoch rx, back_rx;
    record13_cipher tx;
    record13_rx_epoch_init(&rx, current, window);
    record13_rx_epoch_init(&back_rx, current, window);
    memset(&tx, 0, sizeof tx);
    int have = fr13_cipher_init(&rx.cipher, p, which);
    if (have && (!fr13_cipher_init(&back_rx.cipher, p, which) || !fr13_cipher_init(&tx, p, which))) abort();

    uint8_t *out = malloc(R13_MAX_CIPHERTEXT + 64);
    uint8_t *back = malloc(R13_MAX_CIPHERTEXT + R13_MAX_HEADER + 64);
    if (!out || !back) abort();
    uint64_t tx_seq = 0;

    cdtls_reader r;
    reader_init(&r, data, len);
    while (r.left) {
        record13_kind kind = record13_classify(r.p[0]);
        if (kind == R13_KIND_PLAINTEXT || kind == R13_KIND_DTLS12) {
            record_header h12;
            const uint8_t *hdr, *frag;
            if (record_read(&r, &h12, &hdr, &frag) != CDTLS_OK) break;
            continue;
        }
        if (kind != R13_KIND_CIPHERTEXT) break; /* §4.1: rejected, and so is the rest */
        record13_header h;
        if (record13_read(&r, cid_len, &h) != CDTLS_OK) {
            if (!r.failed) abort(); /* a failed read leaves nothing to read */
            break;
        }
        if (h.body + h.body_len > data + len || h.hdr + h.hdr_len != h.body) abort();
        if (!(h.flags & R13_L_BIT) && r.left != 0) abort(); /* no length: the last record */

        /* the header written back from its fields is the one read */
        const record13_header_opts o = {(h.flags & R13_S_BIT) != 0, (h.flags & R13_L_BIT) != 0, h.cid,
                                        h.cid_len};
        uint8_t put[R13_MAX_HEADER];
        size_t n = record13_header_write(&o, h.epoch_bits, h.seq_bits, h.body_len, put, sizeof put);
        if (n != h.hdr_len || memcmp(put, h.hdr, n) != 0) abort();
        if (!have) continue;

        /* the receive path, for records whose epoch bits lead to our epoch */
        uint64_t epoch = 0;
        if (record13_epoch_reconstruct(current, h.epoch_bits, next_installed, &epoch) == CDTLS_OK &&
            epoch == current) {
            size_t pt_len = 0;
            uint8_t type = 0;
            uint64_t seq = 0;
            const uint64_t expected = rx.next_expected;
            int rc = record13_rx_open(&rx, &h, out, R13_MAX_CIPHERTEXT + 64, &pt_len, &type, &seq);
            if (rc == CDTLS_OK) {
                if (pt_len > DTLS_MAX_PLAINTEXT || type == 0) abort();
                if (replay_check(&rx.window, seq) == CDTLS_OK && rx.window.size) abort(); /* now seen */
                if (rx.next_expected < expected) abort();
            } else if (rx.next_expected != expected) {
                abort(); /* only a deprotected record moves the state (§4.5.1) */
            }
        }

        /* round trip of the body as content, in the same header form */
        const size_t pt_in = h.body_len > DTLS_MAX_PLAINTEXT ? DTLS_MAX_PLAINTEXT : h.body_len;
        const uint8_t type_in = (uint8_t)(21 + h.seq_bits % 6);
        const size_t pad = h.seq_bits & 31;
        size_t sealed = 0;
        int rc = record13_seal(&tx, &o, current, tx_seq, type_in, h.body, pt_in, pad, back,
                               R13_MAX_CIPHERTEXT + R13_MAX_HEADER + 64, &sealed);
        if (rc == CDTLS_ERR_RECORD_TOO_LARGE && pt_in + 1 + pad > R13_MAX_INNER) continue;
        if (rc != CDTLS_OK) abort();
        tx_seq++;
        cdtls_reader br;
        record13_header bh;
        reader_init(&br, back, sealed);
        if (record13_read(&br, cid_len, &bh) != CDTLS_OK || br.left != 0) abort();
        size_t got = 0;
        uint8_t type_out = 0;
        uint64_t seq_out = 0;
        if (record13_rx_open(&back_rx, &bh, out, R13_MAX_CIPHERTEXT + 64, &got, &type_out, &seq_out) !=
            CDTLS_OK)
            abort(); /* what we sealed must open */
        if (seq_out != tx_seq - 1 || type_out != type_in || got != pt_in ||
            (pt_in && memcmp(out, h.body, pt_in)))
            abort();
    }
    record13_rx_epoch_clear(&rx);
    record13_rx_epoch_clear(&back_rx);
    record13_cipher_clear(&tx);
    free(out);
    free(back);
    return 0;
}
