/* A small stand-in for Criterion's <criterion/criterion.h>, used where
 * libcriterion cannot be had: cross-compiled test binaries run under
 * qemu-user or wine64 (docs/portability.md). It implements exactly the part
 * of Criterion's API that tests/ uses:
 *
 *   Test(suite, name, .init = f, .fini = g, .timeout = s, .disabled = b)
 *   TestSuite(suite, .init = f, .fini = g, .timeout = s)
 *   cr_assert, cr_assert_eq/neq/geq, cr_assert_(not_)null, cr_assert_arr_eq,
 *   cr_assert_str_eq/neq, cr_assert_fail, cr_skip_test
 *
 * Differences from Criterion, on purpose (tests/shim/runner.c says more):
 * tests run one after another in one process (no fork: wine and qemu-user
 * make fork slow or absent), so a crash ends the run, and .timeout is
 * recorded but not enforced (the caller wraps the run in `timeout`). The
 * closing line has Criterion's form, so scripts/test.sh counts it alike.
 *
 * Registration uses a constructor function per test: a compiler extension,
 * accepted by gcc, clang and zig cc on every target we test. Test code only,
 * never the library. */
#ifndef CDTLS_TESTS_SHIM_CRITERION_H
#define CDTLS_TESTS_SHIM_CRITERION_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
#error "the Criterion shim is C only"
#endif

struct cdtls_shim_opts {
    int unused_; /* keeps `{ .unused_ = 0, __VA_ARGS__ }` valid with no options */
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int disabled;
};

void cdtls_shim_register_test(const char *suite, const char *name, void (*fn)(void),
                              const struct cdtls_shim_opts *opts);
void cdtls_shim_register_suite(const char *suite, const struct cdtls_shim_opts *opts);
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 4, 5)))
#endif
void cdtls_shim_fail(const char *file, int line, const char *expr, const char *fmt, ...);
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
void cdtls_shim_skip(const char *fmt, ...);

#define CDTLS_SHIM_ID(suite, name, what) cdtls_shim_##suite##_##name##_##what

#define Test(suite, name, ...)                                                                          \
    static void CDTLS_SHIM_ID(suite, name, fn)(void);                                                   \
    static const struct cdtls_shim_opts CDTLS_SHIM_ID(suite, name, opts) = {.unused_ = 0, __VA_ARGS__}; \
    __attribute__((constructor)) static void CDTLS_SHIM_ID(suite, name, reg)(void)                      \
    {                                                                                                   \
        cdtls_shim_register_test(#suite, #name, CDTLS_SHIM_ID(suite, name, fn),                         \
                                 &CDTLS_SHIM_ID(suite, name, opts));                                    \
    }                                                                                                   \
    static void CDTLS_SHIM_ID(suite, name, fn)(void)

#define TestSuite(suite, ...)                                                                          \
    static const struct cdtls_shim_opts cdtls_shim_suite_##suite##_opts = {.unused_ = 0, __VA_ARGS__}; \
    __attribute__((constructor)) static void cdtls_shim_suite_##suite##_reg(void)                      \
    {                                                                                                  \
        cdtls_shim_register_suite(#suite, &cdtls_shim_suite_##suite##_opts);                           \
    }                                                                                                  \
    extern int cdtls_shim_suite_##suite##_semicolon_

/* `" " __VA_ARGS__` turns an absent message into "" and a present one into
 * its own format string (adjacent literals concatenate). */
#define cr_assert(cond, ...)                                                      \
    do {                                                                          \
        if (!(cond)) cdtls_shim_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_not(cond, ...)                                                        \
    do {                                                                                \
        if (cond) cdtls_shim_fail(__FILE__, __LINE__, "!(" #cond ")", " " __VA_ARGS__); \
    } while (0)
#define cr_assert_fail(...) cdtls_shim_fail(__FILE__, __LINE__, "cr_assert_fail", " " __VA_ARGS__)
#define cr_assert_eq(a, b, ...)                                                                \
    do {                                                                                       \
        if (!((a) == (b))) cdtls_shim_fail(__FILE__, __LINE__, #a " == " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_neq(a, b, ...)                                                               \
    do {                                                                                       \
        if (!((a) != (b))) cdtls_shim_fail(__FILE__, __LINE__, #a " != " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_geq(a, b, ...)                                                               \
    do {                                                                                       \
        if (!((a) >= (b))) cdtls_shim_fail(__FILE__, __LINE__, #a " >= " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_gt(a, b, ...)                                                              \
    do {                                                                                     \
        if (!((a) > (b))) cdtls_shim_fail(__FILE__, __LINE__, #a " > " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_lt(a, b, ...)                                                              \
    do {                                                                                     \
        if (!((a) < (b))) cdtls_shim_fail(__FILE__, __LINE__, #a " < " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_leq(a, b, ...)                                                               \
    do {                                                                                       \
        if (!((a) <= (b))) cdtls_shim_fail(__FILE__, __LINE__, #a " <= " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_not_null(p, ...)                                                            \
    do {                                                                                      \
        if ((p) == NULL) cdtls_shim_fail(__FILE__, __LINE__, #p " != NULL", " " __VA_ARGS__); \
    } while (0)
#define cr_assert_null(p, ...)                                                                \
    do {                                                                                      \
        if ((p) != NULL) cdtls_shim_fail(__FILE__, __LINE__, #p " == NULL", " " __VA_ARGS__); \
    } while (0)
#define cr_assert_arr_eq(a, b, n, ...)                                                                   \
    do {                                                                                                 \
        if (memcmp((a), (b), (n)) != 0)                                                                  \
            cdtls_shim_fail(__FILE__, __LINE__, #a " equals " #b " over " #n " bytes", " " __VA_ARGS__); \
    } while (0)
#define cr_assert_str_eq(a, b, ...)                                                        \
    do {                                                                                   \
        if (strcmp((a), (b)) != 0)                                                         \
            cdtls_shim_fail(__FILE__, __LINE__, #a " equals string " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_str_neq(a, b, ...)                                                             \
    do {                                                                                         \
        if (strcmp((a), (b)) == 0)                                                               \
            cdtls_shim_fail(__FILE__, __LINE__, #a " differs from string " #b, " " __VA_ARGS__); \
    } while (0)
#define cr_skip_test(...) cdtls_shim_skip(" " __VA_ARGS__)
/* Criterion's informational line ("[----] text") on stderr. */
#define cr_log_info(...)              \
    do {                              \
        fputs("[----] ", stderr);     \
        fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr);          \
    } while (0)

#endif
