/* <string.h> for the freestanding firmware build (examples/firmware/): a
 * C11 freestanding implementation has no <string.h>, but the cdtls core and
 * BearSSL use the memory functions, which the image itself defines
 * (examples/firmware/psk_ccm8.c). A product links its toolchain's libc
 * (newlib, picolibc) instead and drops this directory. */
#ifndef CDTLS_FIRMWARE_STRING_H
#define CDTLS_FIRMWARE_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
