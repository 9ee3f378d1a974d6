/* bench/bench_cow.c - copy-on-write cost (benchmark 4). The application rewrites all of its N MiB
 * as soon as a checkpoint's pause ends, while the snapshot child is still writing; a sampler reads
 * the anonymous memory in use every few ms (see anon_kb). The extra memory is that minus what
 * was in use before; its baseline is the memory the application rewrote while the child was
 * alive (the most a plain fork could cost).
 *
 * usage: bench_cow [-s MiB,...] [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int sample_ms = 5;            /* BENCH_COW_SAMPLE_MS */
static int use_smaps;                /* BENCH_COW_SMAPS: 0 default, 1 Pss_Anon, 2 AnonPages */
#define MAXR 32

static char *region;
static size_t region_size;
static atomic_int go, quit, sampling;
static atomic_uint_fast64_t rewritten;      /* pages rewritten since go */
static _Atomic double peak_mib;             /* extra memory, while a child existed */
static _Atomic uint64_t go_ns;              /* when the pause ended */
static _Atomic uint64_t done_ns;            /* when the application finished rewriting */
static long base_kb;
/* Samples taken while a child was alive and readable: (time, extra MiB). */
#define MAXS 100000
static uint64_t sample_t[MAXS];
static double sample_v[MAXS];
static atomic_int nsamples;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int on_phase(crs_phase phase, void *arg)
{
    (void)arg;
    if (phase == CRS_CONTINUE) {
        atomic_store(&go_ns, bench_now_ns());
        atomic_store(&go, 1);
    }
    return 0;
}

static void *app_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&quit)) {
        if (!atomic_load(&go)) {
            sleep_ms(1);
            continue;
        }
        uint64_t n = 0;
        for (size_t off = 0; off < region_size; off += 4096) {
            ((volatile uint64_t *)(region + off))[1] += 1;
            atomic_store_explicit(&rewritten, ++n, memory_order_relaxed);
        }
        atomic_store(&done_ns, bench_now_ns());
        atomic_store(&go, 0);
    }
    return NULL;
}

/* Children of this process (the snapshot child is cloned by one of its threads). */
static int child_pids(int *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "re");
        int pid;
        while (f && n < max && fscanf(f, "%d", &pid) == 1)
            out[n++] = pid;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

/* A field (kB) of /proc/self/status. */
static long status_kb(const char *field)
{
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    FILE *f = fopen("/proc/self/status", "re");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

/* The anonymous memory of this process and its snapshot child, in kB, every page once: the
 * process's own RssAnon (a counter, read in constant time) plus the pages only the child maps
 * (Private_Clean + Private_Dirty of its smaps_rollup): the originals of pages the process has
 * rewritten since the fork, and the child's buffers. Only the child's page tables are walked,
 * so the application is not slowed. Other ways, for comparison: BENCH_COW_SMAPS=1 sums Pss_Anon
 * of both (exact too, but walking the process's tables every few ms slowed the application and
 * the child more than 2x at 1 GiB), BENCH_COW_SMAPS=2 reads AnonPages of the whole machine
 * (constant time, but anything else that allocates shows up). Returns -1 when there is no live
 * child to read. */
static long anon_kb(void)
{
    int pids[8];
    int n = child_pids(pids, 8);
    if (use_smaps == 2) {
        char line[256];
        long kb = -1;
        FILE *f = fopen("/proc/meminfo", "re");
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "AnonPages: %ld kB", &kb) == 1)
                break;
        if (f)
            fclose(f);
        return kb;
    }
    long kb = use_smaps ? bench_rollup_kb(0, "Pss_Anon") : status_kb("RssAnon");
    for (int i = 0; i < n; i++) {
        long c = use_smaps ? bench_rollup_kb(pids[i], "Pss_Anon") : bench_rollup_kb(pids[i], "Private_Dirty");
        long c2 = use_smaps ? 0 : bench_rollup_kb(pids[i], "Private_Clean");
        if (c < 0 || c2 < 0)
            return -1;
        kb += c + c2;
    }
    return kb;
}

static void *sampler_main(void *arg)
{
    (void)arg;
    while (atomic_load(&sampling)) {
        int pids[8];
        if (child_pids(pids, 8) > 0) {
            long kb = anon_kb();
            /* the child may have gone between the two reads: then it is not counted */
            if (kb >= 0 && child_pids(pids, 8) > 0) {
                double extra = (kb - base_kb) / 1024.0;
                if (extra > atomic_load(&peak_mib))
                    atomic_store(&peak_mib, extra);
                int k = atomic_load(&nsamples);
                if (k < MAXS) {
                    sample_t[k] = bench_now_ns();
                    sample_v[k] = extra;
                    atomic_store(&nsamples, k + 1);
                }
            }
        }
        sleep_ms(sample_ms);
    }
    return NULL;
}

struct cow_runs {
    int n;
    double peak[MAXR], last[MAXR], rew[MAXR], rw_ms[MAXR], ch_ms[MAXR];
    int samples;
};

/* One checkpoint while the application rewrites everything; keep = the child keeps its pages
 * (CRSNAP_NO_RELEASE=1, read by the child). */
static void one_run(struct bench_crs *crs, const char *path, int keep, struct cow_runs *out)
{
    if (keep)
        setenv("CRSNAP_NO_RELEASE", "1", 1);
    else
        unsetenv("CRSNAP_NO_RELEASE");
    base_kb = anon_kb();
    atomic_store(&peak_mib, 0);
    atomic_store(&nsamples, 0);
    atomic_store(&go_ns, 0);
    atomic_store(&done_ns, 0);
    atomic_store(&rewritten, 0);
    atomic_store(&sampling, 1);
    pthread_t s;
    pthread_create(&s, NULL, sampler_main, NULL);
    int rc = crs->checkpoint(path);
    uint64_t end_ns = bench_now_ns();
    uint64_t done = atomic_load(&rewritten);
    atomic_store(&sampling, 0);
    pthread_join(s, NULL);
    while (atomic_load(&go))
        sleep_ms(5);
    unsetenv("CRSNAP_NO_RELEASE");
    unlink(path);
    if (rc < 0) {
        fprintf(stderr, "bench_cow: crs_checkpoint: %s\n", strerror(-rc));
        return;
    }
    /* the extra memory when the child was 90% of the way through its life */
    uint64_t g = atomic_load(&go_ns), at = g + (end_ns - g) / 10 * 9;
    int ns = atomic_load(&nsamples), k = out->n;
    if (k >= MAXR)
        return;
    out->last[k] = 0;
    for (int i = 0; i < ns && sample_t[i] <= at; i++)
        out->last[k] = sample_v[i];
    out->peak[k] = atomic_load(&peak_mib);
    out->rw_ms[k] = (atomic_load(&done_ns) - g) / 1e6;
    out->ch_ms[k] = (end_ns - g) / 1e6;
    out->rew[k] = done * 4096 / MIB;
    out->samples = ns;
    out->n++;
}

static void rows(const char *kase, const char *how, struct cow_runs *r, int releasing)
{
    char metric[96], note[300];
    struct bench_stat none = {0, 0, 0, 0};
    snprintf(metric, sizeof metric, "peak extra memory, %s", how);
    if (!r->n) {
        bench_row("cow", kase, metric, "MiB", none, "rewritten while child alive", none, "<= rewritten",
                  "n/a", "checkpoints failed");
        return;
    }
    struct bench_stat ps = bench_stats(r->peak, r->n), ls = bench_stats(r->last, r->n);
    struct bench_stat rs = bench_stats(r->rew, r->n);
    double rewrite_ms = bench_stats(r->rw_ms, r->n).med, child_ms = bench_stats(r->ch_ms, r->n).med;
    snprintf(note, sizeof note,
             "sampled every %d ms (%s, %d samples in the last run); the application rewrote everything in %.0f ms, the child lived %.0f ms",
             sample_ms,
             use_smaps == 1 ? "Pss_Anon of process + child" : use_smaps == 2 ? "AnonPages of the machine"
                            : "RssAnon of the process + private pages of the child",
             r->samples,
             rewrite_ms, child_ms);
    bench_row("cow", kase, metric, "MiB", ps, "rewritten while child alive", rs, "<= rewritten",
              ps.med <= rs.med * 1.02 + 8 ? "met" : "missed", note);
    snprintf(metric, sizeof metric, "extra at 90%% of child's life, %s", how);
    /* "falling": clearly below the peak late in the child's life (keeping everything, the
     * extra memory stays within a few percent of it) */
    int falls = ls.med < 0.8 * ps.med;
    bench_row("cow", kase, metric, "MiB", ls, "its peak", ps, releasing ? "falls as the child progresses" : "-",
              releasing ? (falls ? "met" : "missed") : "-",
              falls ? "the extra memory falls while the child writes"
                    : "the extra memory stays near its peak until the child exits");
}

static void run_size(struct bench_crs *crs, size_t mib, int reps)
{
    region_size = mib << 20;
    region = bench_map(region_size, 0, FILL_MIXED, 5);
    if (!region)
        return;
    pthread_t app;
    atomic_store(&quit, 0);
    pthread_create(&app, NULL, app_main, NULL);
    static struct cow_runs rel, keep;
    memset(&rel, 0, sizeof rel);
    memset(&keep, 0, sizeof keep);
    char path[4096];
    snprintf(path, sizeof path, "%s/cow.crsnap", bench_dir());
    for (int r = 0; r < reps && r < MAXR; r++) {
        /* alternate which goes first, so that drift on a shared machine hits both alike */
        one_run(crs, path, r & 1, r & 1 ? &keep : &rel);
        one_run(crs, path, !(r & 1), r & 1 ? &rel : &keep);
    }
    atomic_store(&quit, 1);
    pthread_join(app, NULL);
    munmap(region, region_size);
    char kase[64];
    snprintf(kase, sizeof kase, "4k %zu MiB", mib);
    rows(kase, "child releasing", &rel, 1);
    rows(kase, "child keeping (CRSNAP_NO_RELEASE=1)", &keep, 0);
    if (rel.n && keep.n) {
        struct bench_stat a = bench_stats(rel.last, rel.n), b = bench_stats(keep.last, keep.n);
        bench_row("cow", kase, "extra at 90%, releasing", "MiB", a, "keeping", b, "-", "-",
                  "what giving back written ranges saves late in the write");
    }
}

int main(int argc, char **argv)
{
    long sizes[8];
    int nsizes = 0, reps = bench_reps(5, 5), opt;
    sizes[nsizes++] = bench_quick() ? 256 : 1024;
    if (!bench_quick())
        sizes[nsizes++] = 2048;
    while ((opt = getopt(argc, argv, "s:r:")) != -1) {
        switch (opt) {
        case 's': nsizes = bench_parse_list(optarg, sizes, 8); break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : reps; break;
        default:
            fprintf(stderr, "usage: bench_cow [-s MiB,...] [-r REPS]\n");
            return 2;
        }
    }
    use_smaps = getenv("BENCH_COW_SMAPS") ? atoi(getenv("BENCH_COW_SMAPS")) : 0;
    if (getenv("BENCH_COW_SAMPLE_MS") && atoi(getenv("BENCH_COW_SAMPLE_MS")) > 0)
        sample_ms = atoi(getenv("BENCH_COW_SAMPLE_MS"));
    struct bench_crs crs;
    if (bench_crs_open(&crs, bench_dir()) < 0 || !crs.reg || crs.reg(on_phase, NULL, CRS_ASYNC) < 0) {
        struct bench_stat none = {0, 0, 0, 0};
        bench_row("cow", "-", "peak extra memory", "MiB", none, "rewritten while child alive", none,
                  "<= rewritten", "n/a", crs.why[0] ? crs.why : "crs_register unavailable");
        return 0;
    }
    for (int i = 0; i < nsizes; i++) {
        size_t mib = bench_cap_size((size_t)sizes[i] << 20, 2.5) >> 20;
        if (mib < (size_t)sizes[i])
            bench_note("cow", "%ld MiB capped to %zu MiB by free memory", sizes[i], mib);
        fprintf(stderr, "bench_cow: %zu MiB\n", mib);
        run_size(&crs, mib, reps);
    }
    return 0;
}
