/* The extensions block of both hellos on its own (RFC 5246 §7.4.1.4 and
 * the extensions cdtls knows: RFC 7627, 7366, 5746, 7301, 5764, 9146,
 * 6066, 7250, 8422 groups and point formats, signature_algorithms[_cert]):
 * the input is the block's body, without its 2-byte length, put behind a
 * minimal ClientHello and ServerHello and parsed as part of each, then
 * written back where the writer can say the same thing (fuzz_hs_msg.c has
 * the checks). A harness of its own so the corpus stays extension-shaped
 * instead of being one selector value among many in fuzz_hs_msg. */
#define FUZZ_HS_EXT_ONLY 1
#include "fuzz_hs_msg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    extensions_block(data, size);
    return 0;
}
