/* bench/common.c - helpers shared by the benchmark programs (see common.h). Results go to stdout
 * as tab-separated rows that scripts/bench.sh turns into the table and docs/BENCHMARKS.md;
 * progress and diagnostics go to stderr.
 */
#define _GNU_SOURCE
#include "common.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bench_quick(void)
{
    const char *q = getenv("BENCH_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

int bench_reps(int full, int quick)
{
    const char *r = getenv("BENCH_REPS");
    if (r && atoi(r) > 0)
        return atoi(r);
    return bench_quick() ? quick : full;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

const char *bench_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", env_or("BENCH_DIR", CRSNAP_BENCH_TMP));
        mkdir(dir, 0755);
    }
    return dir;
}

const char *bench_lib(void) { return env_or("CRSNAP_LIB", CRSNAP_BENCH_LIB); }
const char *bench_bin(void) { return env_or("CRSNAP_BIN", CRSNAP_BENCH_BIN); }

const char *bench_self_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        if (n < 0)
            n = 0;
        dir[n] = 0;
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
    }
    return dir;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct bench_stat bench_stats(double *v, int n)
{
    struct bench_stat s = {0, 0, 0, n};
    if (n <= 0)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

void bench_row(const char *section, const char *kase, const char *metric, const char *unit,
               struct bench_stat v, const char *base_name, struct bench_stat b,
               const char *target, const char *verdict, const char *note)
{
    char ratio[32] = "-";
    if (b.n > 0 && b.med != 0 && v.n > 0)
        snprintf(ratio, sizeof ratio, "%.3f", v.med / b.med);
    printf("ROW\t%s\t%s\t%s\t%s\t%.4g\t%.4g\t%.4g\t%d\t%s\t", section, kase, metric, unit,
           v.med, v.min, v.max, v.n, base_name ? base_name : "-");
    if (b.n > 0)
        printf("%.4g\t%.4g\t%.4g\t%d\t", b.med, b.min, b.max, b.n);
    else
        printf("-\t-\t-\t0\t");
    printf("%s\t%s\t%s\t%s\n", ratio, target ? target : "-", verdict ? verdict : "-",
           note && *note ? note : "-");
    fflush(stdout);
}

void bench_note(const char *section, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\t' || *p == '\n')
            *p = ' ';
    printf("NOTE\t%s\t%s\n", section, buf);
    fflush(stdout);
}

/* environ plus extras; an extra KEY=... replaces an inherited KEY. */
static char **merged_env(char *const extra[])
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    char **env = calloc(n + k + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++) {
            const char *eq = strchr(extra[j], '=');
            size_t len = eq ? (size_t)(eq - extra[j]) + 1 : strlen(extra[j]);
            if (strncmp(environ[i], extra[j], len) == 0)
                dup = 1;
        }
        if (!dup)
            env[o++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        env[o++] = extra[j];
    return env;
}

static uint64_t last_cpu_ns;

uint64_t bench_last_cpu_ns(void) { return last_cpu_ns; }

uint64_t bench_run(char *const argv[], char *const extra_env[], const char *out_path, int *status)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_path)
        posix_spawn_file_actions_addopen(&fa, 1, strcmp(out_path, "-") ? out_path : "/dev/null",
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char **env = merged_env(extra_env);
    pid_t pid;
    uint64_t t0 = bench_now_ns();
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env ? env : environ);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc) {
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(rc));
        return 0;
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
    uint64_t t = bench_now_ns() - t0;
    last_cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
    if (status)
        *status = st;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "bench: %s failed (status 0x%x)\n", argv[0], st);
        return 0;
    }
    return t;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Mixed data: a third of the pages zero, a third pointer-like (heap addresses and small
 * integers, as in a program's heap), a third random. The kind depends on the page index only. */
void bench_fill(void *p, size_t size, enum bench_fill fill, uint64_t seed)
{
    size_t pages = size / 4096;
    uint64_t x = mix64(seed + 1);
    for (size_t i = 0; i < pages; i++) {
        uint64_t *w = (uint64_t *)((char *)p + i * 4096);
        int kind = fill == FILL_MIXED ? (int)(mix64(i) % 3) : fill == FILL_RANDOM ? 2 : fill == FILL_ZERO ? 4 : 3;
        switch (kind) {
        case 0:
            memset(w, 0, 4096);
            break;
        case 1: {
            uint64_t base = 0x00007f3a10000000ull + ((mix64(i ^ seed) & 0xffff) << 12);
            for (int j = 0; j < 512; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                w[j] = (j & 3) == 3 ? (x & 0xff) : base + ((x & 0x3ff) << 4);
            }
            break;
        }
        case 2:
            for (int j = 0; j < 512; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                w[j] = x;
            }
            break;
        case 3:
            w[0] = seed + i + 1;
            break;
        default:
            *(volatile uint64_t *)w = 0;
            break;
        }
    }
}

void *bench_map(size_t size, int thp, enum bench_fill fill, uint64_t seed)
{
    size_t align = 2u << 20;
    char *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (raw == MAP_FAILED) {
        fprintf(stderr, "bench: mmap %zu MiB: %s\n", size >> 20, strerror(errno));
        return NULL;
    }
    char *p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    if (p > raw)
        munmap(raw, p - raw);
    munmap(p + size, raw + align - p);
    madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    bench_fill(p, size, fill, seed);
    return p;
}

long bench_rollup_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/smaps_rollup");
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

uint64_t bench_mem_available(void)
{
    char line[256];
    uint64_t kb = 0;
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

size_t bench_cap_size(size_t want, double mult)
{
    uint64_t avail = bench_mem_available();
    uint64_t spare = 2ull << 30;
    if (avail <= spare)
        return 0;
    uint64_t max = (uint64_t)((avail - spare) / mult);
    max &= ~((2ull << 20) - 1);
    return want < max ? want : max;
}

int bench_dump(const char *path, const void *p, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, (const char *)p + off, size - off > (1u << 24) ? 1u << 24 : size - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        off += n;
    }
    close(fd);
    return 0;
}

uint64_t bench_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int bench_crs_open(struct bench_crs *c, const char *dir)
{
    memset(c, 0, sizeof *c);
    c->handle = dlopen(bench_lib(), RTLD_NOW | RTLD_GLOBAL);
    if (!c->handle) {
        snprintf(c->why, sizeof c->why, "cannot load %s: %s", bench_lib(), dlerror());
        return -1;
    }
    c->init = (int (*)(const struct crs_config *))dlsym(c->handle, "crs_init");
    c->checkpoint = (int (*)(const char *))dlsym(c->handle, "crs_checkpoint");
    c->last = (int (*)(struct crs_result *))dlsym(c->handle, "crs_last_checkpoint");
    c->reg = (int (*)(crs_handler_fn, void *, unsigned))dlsym(c->handle, "crs_register");
    if (!c->init || !c->checkpoint || !c->last) {
        snprintf(c->why, sizeof c->why, "libcrsnap has no crs_init/crs_checkpoint/crs_last_checkpoint yet");
        c->checkpoint = NULL;
        return -1;
    }
    struct crs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    cfg.signal = -1;
    cfg.control_socket = -1;
    /* a passed configuration wins over the environment: carry the level a run asks for */
    const char *level = getenv("CRSNAP_LEVEL");
    cfg.level = level ? atoi(level) : 0;
    const char *every = getenv("CRSNAP_FULL_EVERY");
    cfg.full_every = every ? atoi(every) : 0;
    int rc = c->init(&cfg);
    if (rc < 0 && rc != -EALREADY) {
        snprintf(c->why, sizeof c->why, "crs_init: %s", strerror(-rc));
        c->checkpoint = NULL;
        return -1;
    }
    return 0;
}

int bench_parse_list(const char *s, long *out, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        out[n++] = strtol(s, (char **)&s, 10);
        if (*s == ',')
            s++;
    }
    return n;
}
