/* The UDP GRO path of src/io: the control messages of a coalesced read
 * (io_gro_control: the UDP_GRO segment size, the other messages kept and
 * parsed) and the splitter that hands the read out as datagrams
 * (io_gro_read_init / io_gro_take). The segment size and the read's length
 * come from the kernel, which coalesces what peers sent; a wrong cut would
 * hand the engine a datagram that no peer sent, or read past the buffer.
 *
 * Input: byte 0 flags (bit 0 the read was truncated, bit 1 the control
 * bytes were, bits 2-7 the receiving message's capacity), bytes 1-2 the
 * length L of the control bytes (big-endian), L control bytes, then the
 * read's payload. Without a UDP_GRO message in the control bytes nothing
 * is coalesced.
 *
 * Checks: the datagrams handed out are the payload in order, cut every
 * segment size bytes (the last one shorter), as many as the lengths say,
 * each within the message's capacity and marked truncated exactly when it
 * did not fit or is the incomplete end of a truncated read; every one
 * carries the read's control bytes and OOB. */
#include <stdlib.h>
#include <string.h>

#include "cdtls/io.h"
#include "io/io_internal.h"

static io_gro_read rd;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int cut = data[0] & 1, ctrunc = (data[0] >> 1) & 1;
    static const size_t caps[] = {0, 1, 13, 64, 100, 512, 1200, 1500, 9000, 65535};
    size_t cap = caps[(data[0] >> 2) % (sizeof caps / sizeof caps[0])];
    size_t clen = (size_t)data[1] << 8 | data[2];
    if (clen > size - 3) clen = size - 3;
    const uint8_t *payload = data + 3 + clen;
    size_t len = size - 3 - clen;

    memset(&rd, 0, sizeof rd);
    uint8_t *control = malloc(clen ? clen : 1);
    if (!control) abort();
    if (clen) memcpy(control, data + 3, clen);
    size_t seg = io_gro_control(control, clen, ctrunc, &rd);
    free(control);
    if (rd.raw_len > sizeof rd.raw) abort();
    if (ctrunc && rd.raw_len) abort(); /* a cut report gives no OOB */
    if (rd.oob.dscp > 63 || rd.oob.ecn > 3) abort();

    io_gro_read_init(&rd, payload, len, seg, cut);
    size_t want = seg && seg < len ? (len + seg - 1) / seg : 1;
    uint8_t *buf = malloc(cap ? cap : 1);
    uint8_t raw[CDTLS_IO_CMSG_SPACE * 2];
    if (!buf) abort();
    cdtls_io_msg m;
    memset(&m, 0, sizeof m);
    size_t off = 0, count = 0;
    for (;;) {
        m.buf = buf;
        m.cap = cap;
        m.raw = raw;
        m.raw_cap = (count & 1) ? 8 : sizeof raw; /* too small for most reports */
        if (!io_gro_take(&rd, &m)) break;
        count++;
        if (count > want) abort();
        size_t piece = seg && seg < len && len - off > seg ? seg : len - off;
        if (seg && seg < len && count < want && piece != seg) abort();
        if (m.len != (piece < cap ? piece : cap)) abort();
        if (m.len && memcmp(m.buf, payload + off, m.len) != 0) abort();
        int incomplete = cut && count == want && (!(seg && seg < len) || piece < seg);
        if (m.truncated != (incomplete || piece > cap)) abort();
        if (m.raw_len != (rd.raw_len <= m.raw_cap ? rd.raw_len : 0)) abort();
        if (m.raw_len && memcmp(m.raw, rd.raw, m.raw_len) != 0) abort();
        if (memcmp(&m.oob, &rd.oob, sizeof m.oob) != 0) abort();
        off += piece;
    }
    if (count != want || off != len) abort();
    if (io_gro_take(&rd, &m)) abort(); /* nothing after the last */
    free(buf);
    return 0;
}
