/* The runner behind tests/shim/criterion/criterion.h: runs the registered
 * tests in (suite, name) order, one process, and prints Criterion's closing
 * line "[====] Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C".
 *
 * Options (a subset of Criterion's):
 *   --filter=GLOB / --filter GLOB   only tests whose "suite/name" matches
 *                                   (* and ? wildcards, as Criterion)
 *   --list / -l                     print the tests and exit
 *   --verbose                       print every test's result, not only failures
 *   --jobs=N and other options      accepted and ignored (always serial)
 *
 * A failed assertion longjmps out of the test, whose .fini still runs (as
 * in Criterion). A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) prints
 * the running test's name and ends the process with status 3: without fork
 * there is no isolation to recover into, and a wrong "ok" is worse than a
 * stopped run. */
#include <criterion/criterion.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIM_MAX_TESTS 1024
#define SHIM_MAX_SUITES 128

struct shim_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    const struct cdtls_shim_opts *opts;
};

struct shim_suite {
    const char *name;
    const struct cdtls_shim_opts *opts;
};

static struct shim_test tests[SHIM_MAX_TESTS];
static size_t n_tests;
static struct shim_suite suites[SHIM_MAX_SUITES];
static size_t n_suites;
static int registration_overflow;

enum { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP };
static jmp_buf test_exit;
static int in_test;
static const struct shim_test *current;

void cdtls_shim_register_test(const char *suite, const char *name, void (*fn)(void),
                              const struct cdtls_shim_opts *opts)
{
    if (n_tests == SHIM_MAX_TESTS) {
        registration_overflow = 1;
        return;
    }
    tests[n_tests].suite = suite;
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    tests[n_tests].opts = opts;
    n_tests++;
}

void cdtls_shim_register_suite(const char *suite, const struct cdtls_shim_opts *opts)
{
    if (n_suites == SHIM_MAX_SUITES) {
        registration_overflow = 1;
        return;
    }
    suites[n_suites].name = suite;
    suites[n_suites].opts = opts;
    n_suites++;
}

static void vreport(const char *tag, const char *file, int line, const char *expr, const char *fmt,
                    va_list ap)
{
    fprintf(stderr, "[----] %s:%d: %s: %s\n[----]   ", file ? file : "?", line, tag, expr ? expr : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cdtls_shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("Assertion Failed", file, line, expr, fmt, ap);
    va_end(ap);
    if (!in_test) {
        fprintf(stderr, "[----] assertion outside a test (in a fixture); stopping\n");
        exit(3);
    }
    longjmp(test_exit, OUTCOME_FAIL);
}

void cdtls_shim_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[SKIP] %s::%s:", current ? current->suite : "?", current ? current->name : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (!in_test) exit(3);
    longjmp(test_exit, OUTCOME_SKIP);
}

static void on_crash(int sig)
{
    /* Only async-signal-safe work would be right here; the process is about
     * to end anyway, and the name of the crashing test is what matters. */
    fprintf(stderr, "[CRASH] %s::%s: signal %d\n", current ? current->suite : "?",
            current ? current->name : "?", sig);
    fflush(stderr);
    signal(sig, SIG_DFL);
    _Exit(3);
}

/* Glob match with * and ?, iterative (backtracks to the last star only). */
static int glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        } else if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*') pat++;
    return *pat == '\0';
}

static int by_suite_then_name(const void *a, const void *b)
{
    const struct shim_test *x = a, *y = b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

static const struct cdtls_shim_opts *suite_opts(const char *suite)
{
    for (size_t i = 0; i < n_suites; i++)
        if (strcmp(suites[i].name, suite) == 0) return suites[i].opts;
    return NULL;
}

/* volatile: these are read after a longjmp back into run_one's frame. */
static int run_one(const struct shim_test *t)
{
    const struct cdtls_shim_opts *so = suite_opts(t->suite);
    void (*init)(void) = t->opts->init ? t->opts->init : (so ? so->init : NULL);
    void (*fini)(void) = t->opts->fini ? t->opts->fini : (so ? so->fini : NULL);
    volatile int outcome = OUTCOME_PASS;
    current = t;
    in_test = 1;
    int jumped = setjmp(test_exit);
    if (jumped == 0) {
        if (init) init();
        t->fn();
    } else {
        outcome = jumped;
    }
    /* The fini runs after a failure too (Criterion does the same); a failed
     * assertion inside the fini counts as a failure of the test. */
    if (fini) {
        if (setjmp(test_exit) == 0)
            fini();
        else if (outcome == OUTCOME_PASS)
            outcome = OUTCOME_FAIL;
    }
    in_test = 0;
    return outcome;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    int list = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--filter=", 9) == 0)
            filter = argv[i] + 9;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(argv[i], "--list") == 0 || strcmp(argv[i], "-l") == 0)
            list = 1;
        else if (strcmp(argv[i], "--verbose") == 0 || strncmp(argv[i], "--verbose=", 10) == 0)
            verbose = 1;
    }
    if (registration_overflow) {
        fprintf(stderr, "criterion shim: more than %d tests or %d suites registered\n", SHIM_MAX_TESTS,
                SHIM_MAX_SUITES);
        return 2;
    }
    qsort(tests, n_tests, sizeof tests[0], by_suite_then_name);
    signal(SIGSEGV, on_crash);
    signal(SIGILL, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGABRT, on_crash);
#ifdef SIGBUS
    signal(SIGBUS, on_crash);
#endif
    /* Unbuffered: under an emulator a hang or a crash should still show how
     * far the run got. */
    setvbuf(stdout, NULL, _IONBF, 0);

    unsigned tested = 0, passed = 0, failed = 0, skipped = 0;
    char full[256];
    for (size_t i = 0; i < n_tests; i++) {
        const struct shim_test *t = &tests[i];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (filter && !glob_match(filter, full)) continue;
        if (list) {
            printf("%s\n", full);
            continue;
        }
        const struct cdtls_shim_opts *so = suite_opts(t->suite);
        if (t->opts->disabled || (so && so->disabled)) continue;
        if (verbose) printf("[RUN ] %s::%s\n", t->suite, t->name);
        int outcome = run_one(t);
        if (outcome == OUTCOME_SKIP) {
            skipped++;
            continue;
        }
        tested++;
        if (outcome == OUTCOME_PASS) {
            passed++;
            if (verbose) printf("[PASS] %s::%s\n", t->suite, t->name);
        } else {
            failed++;
            printf("[FAIL] %s::%s\n", t->suite, t->name);
        }
    }
    if (list) return 0;
    printf("[====] Skipped: %u\n", skipped);
    printf("[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: 0\n", tested, passed,
           failed);
    return failed ? 1 : 0;
}
