/* What the C benchmark programs (cdtls_bench.c, openssl_bench.c) share:
 * clocks, the result line format, a counting allocator and the load note.
 *
 * Every result is one JSON object on one line of stdout:
 *   {"impl":"cdtls-bearssl","workload":"handshake","suite":"PSK-AES128-GCM-SHA256",
 *    "metric":"hs_per_cpu_s","value":1234.5}
 * bench/report.py gathers them from all programs into the table and
 * results.json. Anything else on stdout is ignored; diagnostics go to stderr. */
#ifndef CDTLS_BENCH_COMMON_H
#define CDTLS_BENCH_COMMON_H

#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process: client and server run in this one thread,
 * so "per CPU second" is "per core", whatever else the machine is doing. */
static inline double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *bench_impl = "?";

static inline void bench_result(const char *workload, const char *suite, const char *metric, double value)
{
    printf("{\"impl\":\"%s\",\"workload\":\"%s\",\"suite\":\"%s\",\"metric\":\"%s\",\"value\":%.6g}\n",
           bench_impl, workload, suite, metric, value);
    fflush(stdout);
}

/* A throughput stream's results: of `total` records of `size` bytes,
 * `lost` did not arrive, in `cpu` CPU seconds and `wall` wall seconds (the
 * best of the repetitions). 1200-byte streams in MB, others in records. */
static inline void bench_stream_result(const char *workload, const char *suite, size_t size, size_t total,
                                       size_t lost, double cpu, double wall)
{
    double delivered = (double)(total - lost);
    if (size == 1200) {
        bench_result(workload, suite, "MB_per_cpu_s", delivered * 1200 / cpu / 1e6);
        bench_result(workload, suite, "MB_per_wall_s", delivered * 1200 / wall / 1e6);
    } else {
        bench_result(workload, suite, "rec_per_cpu_s", delivered / cpu);
        bench_result(workload, suite, "rec_per_wall_s", delivered / wall);
    }
    bench_result(workload, suite, "lost", (double)lost);
}

/* A workload that could not be measured: said so, with why, never a number. */
static inline void bench_not_measured(const char *workload, const char *suite, const char *why)
{
    printf(
        "{\"impl\":\"%s\",\"workload\":\"%s\",\"suite\":\"%s\",\"metric\":\"not_measured\",\"why\":\"%s\"}\n",
        bench_impl, workload, suite, why);
    fflush(stdout);
}

/* Counting allocator state: live and peak bytes, allocation count. */
typedef struct bench_counter {
    size_t live, peak, allocs;
} bench_counter;

static inline void bench_count_alloc(bench_counter *c, size_t n)
{
    c->live += n;
    c->allocs++;
    if (c->live > c->peak) c->peak = c->live;
}

static inline void bench_count_free(bench_counter *c, size_t n)
{
    c->live -= n;
}

#endif
