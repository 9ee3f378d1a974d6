/* bench/bench_eager.c - eager restore against the populate limit. bench_ckpt fills N MiB of
 * mixed pages (a third zero, a third pointer-like, a third random), takes one checkpoint and
 * keeps it; `crsnap restore` brings it back and the restored process writes the time at which
 * it runs again (restore-to-running), from the page cache and, as root, after dropping the
 * caches (from disk). Baseline, in the same run, alternating: the limit, the time to put the
 * same bytes into fresh memory here (a fresh mapping, MADV_POPULATE_WRITE over every run of
 * non-zero pages, and the copy of those pages from memory already resident), on one thread.
 *
 * usage: bench_eager [-s MiB,...] [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAXR 32
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int page_zero(const char *p)
{
    static const char zero[4096];
    return !memcmp(p, zero, sizeof zero);
}

/* The runs of non-zero pages of src: what a restore must write (zero pages are elided). */
struct run { size_t off, len; };

static size_t find_runs(const char *src, size_t size, struct run *runs)
{
    size_t n = 0;
    for (size_t off = 0; off < size;) {
        if (page_zero(src + off)) {
            off += 4096;
            continue;
        }
        size_t end = off + 4096;
        while (end < size && !page_zero(src + end))
            end += 4096;
        runs[n++] = (struct run){ off, end - off };
        off = end;
    }
    return n;
}

/* The limit: seconds to populate fresh memory with those runs and copy them in. */
static double populate_limit(const char *src, size_t size, int thp, const struct run *runs,
                             size_t nruns)
{
    uint64_t t0 = bench_now_ns();
    char *d = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d == MAP_FAILED)
        return 0;
    madvise(d, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    for (size_t i = 0; i < nruns; i++) {
        madvise(d + runs[i].off, runs[i].len, MADV_POPULATE_WRITE);
        memcpy(d + runs[i].off, src + runs[i].off, runs[i].len);
    }
    double s = (bench_now_ns() - t0) / 1e9;
    munmap(d, size);
    return s;
}

static int drop_caches(void)
{
    int fd;
    sync();
    if ((fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC)) < 0)
        return -1;
    int ok = write(fd, "3", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

/* Seconds from the start of `crsnap restore` until the restored process runs, or 0. */
static double restore_to_running(const char *img, const char *stamp, double *whole)
{
    char *argv[] = {(char *)bench_bin(), "restore", "-q", "--trust-image", (char *)img, NULL};
    uint64_t t0 = bench_now_ns(), t = 0;
    int fd;

    unlink(stamp);
    uint64_t w = bench_run(argv, NULL, "-", NULL);
    if (!w || (fd = open(stamp, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    if (read(fd, &t, sizeof t) != (ssize_t)sizeof t)
        t = 0;
    close(fd);
    *whole = w / 1e9;
    return t > t0 ? (t - t0) / 1e9 : 0;
}

static void run_case(size_t mib, int thp, int reps)
{
    char exe[4096], smib[32], img[4096], stamp[4096], kase[96], note[300];
    size_t size = mib << 20;
    struct bench_stat none = {0, 0, 0, 0};

    snprintf(exe, sizeof exe, "%s/bench_ckpt", bench_self_dir());
    snprintf(smib, sizeof smib, "%zu", mib);
    snprintf(img, sizeof img, "%s/eager.crsnap", bench_dir());
    snprintf(stamp, sizeof stamp, "%s/eager.stamp", bench_dir());
    char *mk[] = {exe, "-s", smib, "-f", "mixed", "-x", img, "-t", stamp, thp ? "-H" : NULL, NULL};
    unlink(img);
    if (!bench_run(mk, NULL, "-", NULL) || bench_file_size(img) == 0) {
        snprintf(kase, sizeof kase, "mixed %zu MiB%s", mib, thp ? ", huge pages" : "");
        bench_row("eager", kase, "restore to running", "ms", none, "populate limit", none,
                  "<= 1.3x", "n/a", "no image: checkpoints not available");
        return;
    }
    char *src = bench_map(size, thp, FILL_MIXED, 42);
    if (!src) {
        bench_note("eager", "cannot map %zu MiB for the limit", mib);
        unlink(img);
        return;
    }
    struct run *runs = malloc((size / 4096 / 2 + 1) * sizeof *runs);
    size_t nruns = runs ? find_runs(src, size, runs) : 0;
    int root = geteuid() == 0;
    for (int disk = 0; disk <= 1; disk++) {
        double lim[MAXR], rs[MAXR], whole[MAXR];
        int nl = 0, nr = 0;
        if (disk && !root) {
            bench_note("eager", "from disk: not measured, dropping the page cache needs root");
            break;
        }
        for (int r = 0; r < reps && r < MAXR; r++) {
            double l = runs ? populate_limit(src, size, thp, runs, nruns) : 0, w = 0, t;
            if (l > 0)
                lim[nl++] = l * 1e3;
            if (disk && drop_caches() < 0) {
                bench_note("eager", "cannot drop the page cache");
                break;
            }
            if ((t = restore_to_running(img, stamp, &w)) > 0) {
                whole[nr] = w * 1e3;
                rs[nr++] = t * 1e3;
            }
        }
        snprintf(kase, sizeof kase, "mixed %zu MiB%s, %s", mib, thp ? ", huge pages" : "",
                 disk ? "disk" : "page cache");
        struct bench_stat l = bench_stats(lim, nl);
        if (!nr) {
            bench_row("eager", kase, "restore to running", "ms", none, "populate limit", l,
                      "<= 1.3x", "n/a", "crsnap restore failed");
            continue;
        }
        struct bench_stat s = bench_stats(rs, nr), wh = bench_stats(whole, nr);
        snprintf(note, sizeof note, "image %.0f MiB; whole command until the restored process "
                 "checked its memory and exited: %.0f ms", bench_file_size(img) / MIB, wh.med);
        bench_row("eager", kase, "restore to running", "ms", s, "populate limit", l, "<= 1.3x",
                  l.n && s.med <= 1.3 * l.med ? "met" : "missed", note);
    }
    free(runs);
    munmap(src, size);
    unlink(img);
    unlink(stamp);
}

int main(int argc, char **argv)
{
    long sizes[8];
    int nsizes = 0, reps = bench_reps(7, 3), opt;
    sizes[nsizes++] = bench_quick() ? 256 : 1024;
    while ((opt = getopt(argc, argv, "s:r:")) != -1) {
        switch (opt) {
        case 's': nsizes = bench_parse_list(optarg, sizes, 8); break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : reps; break;
        default:
            fprintf(stderr, "usage: bench_eager [-s MiB,...] [-r REPS]\n");
            return 2;
        }
    }
    for (int i = 0; i < nsizes; i++) {
        size_t mib = bench_cap_size((size_t)sizes[i] << 20, 3.5) >> 20;
        if (mib < (size_t)sizes[i])
            bench_note("eager", "%ld MiB capped to %zu MiB by free memory", sizes[i], mib);
        for (int thp = 0; thp <= 1; thp++) {
            fprintf(stderr, "bench_eager: %zu MiB%s\n", mib, thp ? ", huge pages" : "");
            run_case(mib, thp, reps);
        }
    }
    return 0;
}
