#include "test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    cr_assert(strlen(h) % 2 == 0 && n <= cap, "bad hex vector");
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}
