/* bench/bench_incr.c - incremental images (benchmark 6): a process of N MiB (mixed pages, 4 KiB)
 * rewrites 0.1%, 1% or 10% of its pages (spread evenly) between checkpoints; the incremental
 * image's size and write time against those of a full image of the same process, in the same
 * run (a checkpoint to an explicit path is always full, as is the first image of a chain). The
 * pause against a bare fork of the process in the same state: the first fork after pages were
 * written write-protects them again, which a fork after none does not (1 GiB, 1% rewritten:
 * 21-29 ms against 9-14 ms here), so the rewrite is made, the bare fork timed, the same
 * pages written again and the checkpoint taken. A second baseline is a bare fork made by
 * another thread than the one that wrote, as the runtime's coordinator forks: on the machine
 * the project is measured on that costs a quarter more (4 GiB, 1% rewritten: 75 against 60 ms).
 *
 * usage: bench_incr [-s MiB] [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const int per_mille[] = { 1, 10, 100 };
#define NPCT (sizeof per_mille / sizeof per_mille[0])

/* Changes one word in every k-th page: the whole page is written again. */
static void rewrite(char *p, size_t size, int pm, uint64_t seed)
{
    size_t pages = size / 4096, step = 1000 / (size_t)pm;
    for (size_t i = (size_t)seed % step; i < pages; i += step)
        ((volatile uint64_t *)(p + i * 4096))[1] = seed * 0x9e3779b97f4a7c15ull + i;
}

/* A bare fork as the runtime's (a raw clone; the child exits at once): its clone time, ms. */
static double bare_fork(void)
{
    uint64_t a = bench_now_ns();
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    uint64_t b = bench_now_ns();
    if (pid < 0)
        return -1;
    waitpid((pid_t)pid, NULL, 0);
    return (double)(b - a) / 1e6;
}

static void *fork_thread(void *out)
{
    *(double *)out = bare_fork();
    return NULL;
}

/* The same, by another thread, the writer waiting for it. */
static double bare_fork_other(void)
{
    pthread_t t;
    double ms = -1;
    if (pthread_create(&t, NULL, fork_thread, &ms) != 0)
        return -1;
    pthread_join(t, NULL);
    return ms;
}

static int take(struct bench_crs *crs, const char *path, struct crs_result *res)
{
    int rc = crs->checkpoint(path);
    memset(res, 0, sizeof *res);
    crs->last(res);
    if (rc < 0)
        fprintf(stderr, "bench_incr: crs_checkpoint: %s\n", strerror(-rc));
    return rc;
}

int main(int argc, char **argv)
{
    long mib = bench_quick() ? 512 : 4096;
    int reps = bench_reps(3, 2), c;
    while ((c = getopt(argc, argv, "s:r:")) != -1) {
        if (c == 's')
            mib = atol(optarg);
        else if (c == 'r')
            reps = atoi(optarg);
    }
    size_t size = bench_cap_size((size_t)mib << 20, 1.3);
    mib = (long)(size >> 20);
    /* every image of this run after a full one is incremental: none full by the count */
    setenv("CRSNAP_FULL_EVERY", "64", 1);
    struct bench_crs crs;
    if (bench_crs_open(&crs, bench_dir()) < 0) {
        bench_note("incr", "%s", crs.why);
        return 0;
    }
    char *mem = bench_map(size, 0, FILL_MIXED, 1);
    if (!mem) {
        bench_note("incr", "cannot map %ld MiB", mib);
        return 0;
    }
    double fsize[16], fwrite[16], fpause[16];
    double isize[NPCT][16], iwrite[NPCT][16], ipause[NPCT][16], ifork[NPCT][16];
    double iother[NPCT][16];
    int nf = 0, ni[NPCT] = { 0 };
    char path[4096];
    snprintf(path, sizeof path, "%s/incr-full.crsnap", bench_dir());
    if (reps > 16)
        reps = 16;
    for (int r = 0; r < reps; r++) {
        struct crs_result res;
        /* the baseline: a full image of the same memory, then a full image that starts the
         * chain (an explicit path is never a parent) */
        if (take(&crs, path, &res) >= 0) {
            fsize[nf] = (double)res.bytes_written / 1048576.0;
            fwrite[nf] = (double)res.write_ns / 1e6;
            fpause[nf] = (double)res.pause_ns / 1e6;
            nf++;
        }
        unlink(path);
        if (take(&crs, NULL, &res) < 0)
            continue;
        for (unsigned k = 0; k < NPCT; k++) {
            rewrite(mem, size, per_mille[k], (uint64_t)r * 16 + k + 2);
            double fork_ms = bare_fork();
            rewrite(mem, size, per_mille[k], (uint64_t)r * 16 + k + 2);
            double other_ms = bare_fork_other();
            rewrite(mem, size, per_mille[k], (uint64_t)r * 16 + k + 2);
            if (fork_ms < 0 || other_ms < 0 || take(&crs, NULL, &res) < 0)
                continue;
            ifork[k][ni[k]] = fork_ms;
            iother[k][ni[k]] = other_ms;
            isize[k][ni[k]] = (double)res.bytes_written / 1048576.0;
            iwrite[k][ni[k]] = (double)res.write_ns / 1e6;
            ipause[k][ni[k]] = (double)res.pause_ns / 1e6;
            fprintf(stderr, "bench_incr: rep %d, %.1f%%: %.2f MiB in %.1f ms, pause %.2f ms "
                    "(bare fork %.2f ms, by another thread %.2f ms)\n", r, per_mille[k] / 10.0,
                    isize[k][ni[k]], iwrite[k][ni[k]], ipause[k][ni[k]], fork_ms, other_ms);
            ni[k]++;
        }
    }
    struct bench_stat fs = bench_stats(fsize, nf), fw = bench_stats(fwrite, nf);
    struct bench_stat fp = bench_stats(fpause, nf);
    for (unsigned k = 0; k < NPCT; k++) {
        char kase[64], note[256];
        snprintf(kase, sizeof kase, "%ld MiB, %.1f%% rewritten", mib, per_mille[k] / 10.0);
        struct bench_stat s = bench_stats(isize[k], ni[k]), w = bench_stats(iwrite[k], ni[k]);
        struct bench_stat p = bench_stats(ipause[k], ni[k]), bf = bench_stats(ifork[k], ni[k]);
        struct bench_stat bo = bench_stats(iother[k], ni[k]);
        int one = per_mille[k] == 10;
        snprintf(note, sizeof note, "full image %.0f MiB in %.0f ms", fs.med, fw.med);
        bench_row("incr", kase, "incremental image size", "MiB", s, "full image size", fs,
                  one ? "<= 0.03 x full" : "-",
                  !one || !ni[k] ? "-" : s.med <= 0.03 * fs.med ? "met" : "missed", note);
        bench_row("incr", kase, "incremental write time", "ms", w, "full write time", fw,
                  one ? "<= 0.03 x full" : "-",
                  !one || !ni[k] ? "-" : w.med <= 0.03 * fw.med ? "met" : "missed", note);
        bench_row("incr", kase, "pause", "ms", p, "bare fork after the same rewrite", bf,
                  "<= 1.1 x fork + 1 ms",
                  !ni[k] ? "-" : p.med <= 1.1 * bf.med + 1.0 ? "met" : "missed",
                  "the pause of an incremental checkpoint; the same pages written before each");
        bench_row("incr", kase, "pause", "ms", p, "bare fork by another thread", bo, "-", "-",
                  "as the runtime forks: from its coordinator, the writer waiting");
        bench_row("incr", kase, "pause", "ms", p, "full image's pause", fp, "-", "-",
                  "the full image's is taken after no rewrite");
    }
    return 0;
}
