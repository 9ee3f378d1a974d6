/* bench/common.h - helpers shared by the benchmark programs: clocks, statistics, result rows,
 * timed child processes, memory filling, /proc readers, and access to libcrsnap by dlopen (so the
 * benchmarks build and report "n/a" while parts of the library are missing).
 */
#ifndef CRS_BENCH_COMMON_H
#define CRS_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "crsnap.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)

uint64_t bench_now_ns(void);
int bench_quick(void);
int bench_reps(int full, int quick);
/* "256,1024" -> {256, 1024}: fills at most max numbers of a comma-separated list, returns how many. */
int bench_parse_list(const char *s, long *out, int max);
const char *bench_dir(void);        /* scratch directory for images and dumps (created) */
const char *bench_lib(void);        /* libcrsnap.so path */
const char *bench_bin(void);        /* crsnap command path */
const char *bench_self_dir(void);   /* directory holding the benchmark programs */

/* Median, minimum and maximum of n values (v is sorted in place). */
struct bench_stat { double med, min, max; int n; };
struct bench_stat bench_stats(double *v, int n);

/* One result row on stdout: tab-separated, parsed by scripts/bench.sh.
 *   section, case, metric, unit, value stat, baseline name, baseline stat,
 *   ratio (value/baseline median), target text, verdict (met|missed|-), note */
void bench_row(const char *section, const char *kase, const char *metric, const char *unit,
               struct bench_stat v, const char *base_name, struct bench_stat b,
               const char *target, const char *verdict, const char *note);
void bench_note(const char *section, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs argv (PATH searched) with extra environment entries (NULL-terminated, may be NULL),
 * stdout to out_path (NULL: inherit; "-": /dev/null). Returns the wall time in ns, or 0 and
 * prints the reason when the program could not run or exited non-zero. */
uint64_t bench_run(char *const argv[], char *const extra_env[], const char *out_path, int *status);
/* CPU time (user + system, ns) of the program the last bench_run ran. */
uint64_t bench_last_cpu_ns(void);

/* Page fill patterns: one word per page, mixed (see bench_fill), random, or populated but zero
 * (the snapshot child elides zero pages quickly, which keeps the pause benchmark short). */
enum bench_fill { FILL_TOUCH, FILL_MIXED, FILL_RANDOM, FILL_ZERO };
/* Maps size bytes of anonymous memory (2 MiB aligned, MADV_HUGEPAGE when thp, MADV_NOHUGEPAGE
 * otherwise) and populates it. Returns NULL on failure. */
void *bench_map(size_t size, int thp, enum bench_fill fill, uint64_t seed);
/* Writes the pattern again over [p, p+size) (seed changes the random and pointer pages). */
void bench_fill(void *p, size_t size, enum bench_fill fill, uint64_t seed);

/* A field (in kB) of /proc/PID/smaps_rollup (pid 0 = self), or -1. */
long bench_rollup_kb(pid_t pid, const char *field);
/* MemAvailable in bytes. */
uint64_t bench_mem_available(void);
/* Bytes of memory that may be used by a benchmark that needs mult x size of it: caps size by
 * what the machine has free, keeping 2 GiB for everything else. */
size_t bench_cap_size(size_t want, double mult);
/* Writes size bytes at p to path; returns 0 or -errno. */
int bench_dump(const char *path, const void *p, size_t size);
uint64_t bench_file_size(const char *path);

/* libcrsnap, loaded at run time. All pointers NULL when the library or a symbol is missing. */
struct bench_crs {
    void *handle;
    int (*init)(const struct crs_config *);
    int (*checkpoint)(const char *);
    int (*last)(struct crs_result *);
    int (*reg)(crs_handler_fn, void *, unsigned);
    char why[256];
};
/* Loads the library and calls crs_init with the benchmark's configuration (no socket, no
 * trigger signal, images in dir). Returns 0, or -1 with c->why set. */
int bench_crs_open(struct bench_crs *c, const char *dir);

#endif
