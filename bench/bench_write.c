/* bench/bench_write.c - write throughput (benchmarks 2 and 6). The snapshot child's rate (memory
 * covered per second of write_ns) and image size, for mixed zero / pointer-like / random pages,
 * against single-threaded `zstd -1` and `zstd --fast=1` over the same bytes dumped to a file,
 * against the disk's sequential write bandwidth (buffered + fsync, and O_DIRECT); the writer's
 * default (io_uring, O_DIRECT, level -1) against level 1, pwrite (CRSNAP_FORCE_PWRITE=1) and
 * buffered writes (CRSNAP_NO_DIRECT=1). Then the heap of a real program: python3 holding a
 * large dict, with the library preloaded and a checkpoint triggered by SIGUSR1.
 *
 * usage: bench_write [-s MiB] [-r REPS] [-P PYTHON_ITEMS] [-n]     (-n: skip python)
 */
#define _GNU_SOURCE
#include "common.h"
#include "snapshot/snapshot.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXR 64

struct ckpt_runs {
    int n;
    double cover_rate[MAXR];        /* MiB of memory covered per second of write_ns */
    double saved_rate[MAXR];
    double out_rate[MAXR];          /* MiB of image written per second */
    double image_mib[MAXR];
    double pause_ms[MAXR];
    double cpu_share[MAXR];         /* child CPU time / write_ns */
    double cover_cpu_rate[MAXR];    /* MiB covered per second of the child's CPU time */
    double covered_mib, saved_mib;
    char why[256];
};

static struct bench_stat st(double *v, int n)
{
    double tmp[MAXR];
    memcpy(tmp, v, sizeof(double) * n);
    return bench_stats(tmp, n);
}

/* Runs bench_ckpt and collects its CKPT lines. */
static int run_worker(size_t mib, int reps, const char *dump, char *const env[], struct ckpt_runs *out)
{
    char exe[4096], smib[32], sreps[32], outf[4096];
    snprintf(exe, sizeof exe, "%s/bench_ckpt", bench_self_dir());
    snprintf(smib, sizeof smib, "%zu", mib);
    snprintf(sreps, sizeof sreps, "%d", reps);
    snprintf(outf, sizeof outf, "%s/worker.out", bench_dir());
    char *argv[12] = {exe, "-s", smib, "-f", "mixed", "-r", sreps, NULL};
    if (dump) {
        argv[7] = "-d";
        argv[8] = (char *)dump;
        argv[9] = NULL;
    }
    memset(out, 0, sizeof *out);
    if (!bench_run(argv, env, outf, NULL)) {
        snprintf(out->why, sizeof out->why, "bench_ckpt failed (see stderr)");
        return -1;
    }
    FILE *f = fopen(outf, "re");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long p, w, c, s, b, cpu = 0;
        if (!strncmp(line, "UNAVAILABLE ", 12)) {
            snprintf(out->why, sizeof out->why, "%.200s", line + 12);
            out->why[strcspn(out->why, "\n")] = 0;
        } else if (sscanf(line, "CKPT %lu %lu %lu %lu %lu %lu", &p, &w, &c, &s, &b, &cpu) >= 5 && w &&
                   out->n < MAXR) {
            out->cpu_share[out->n] = (double)cpu / w;
            out->cover_cpu_rate[out->n] = cpu ? c / MIB / (cpu / 1e9) : 0;
            out->saved_mib = s / MIB;
            double sec = w / 1e9;
            out->cover_rate[out->n] = c / MIB / sec;
            out->saved_rate[out->n] = s / MIB / sec;
            out->out_rate[out->n] = b / MIB / sec;
            out->image_mib[out->n] = b / MIB;
            out->pause_ms[out->n] = p / 1e6;
            out->covered_mib = c / MIB;
            out->n++;
        }
    }
    if (f)
        fclose(f);
    return out->n ? 0 : -1;
}

/* Rates of `zstd ARGS -T1` over file, in MiB/s of input, and the compressed size; *cpu gets the
 * rate per second of CPU time. */
static struct bench_stat zstd_rate_cpu(const char *file, const char *level, int reps, double *out_mib,
                                       struct bench_stat *cpu)
{
    double v[MAXR], c[MAXR];
    int n = 0;
    double mib = bench_file_size(file) / MIB;
    char zout[4096];
    snprintf(zout, sizeof zout, "%s/dump.zst", bench_dir());
    char *sz[] = {"zstd", (char *)level, "-T1", "-q", "-f", "-o", zout, (char *)file, NULL};
    *out_mib = bench_run(sz, NULL, NULL, NULL) ? bench_file_size(zout) / MIB : 0;
    unlink(zout);
    for (int r = 0; r < reps && r < MAXR; r++) {
        char *av[] = {"zstd", (char *)level, "-T1", "-q", "-c", (char *)file, NULL};
        uint64_t t = bench_run(av, NULL, "-", NULL);
        if (t) {
            c[n] = mib / (bench_last_cpu_ns() / 1e9);
            v[n++] = mib / (t / 1e9);
        }
    }
    if (cpu)
        *cpu = bench_stats(c, n);
    return bench_stats(v, n);
}

static struct bench_stat zstd_rate(const char *file, const char *level, int reps, double *out_mib)
{
    return zstd_rate_cpu(file, level, reps, out_mib, NULL);
}

/* Sequential write of mib MiB in 1 MiB blocks, then fsync; O_DIRECT when direct. MiB/s. */
static double disk_rate(size_t mib, int direct)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/disk.bin", bench_dir());
    void *buf = mmap(NULL, 1u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return 0;
    bench_fill(buf, 1u << 20, FILL_RANDOM, 9);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
    double rate = 0;
    if (fd >= 0) {
        uint64_t t0 = bench_now_ns();
        size_t i;
        for (i = 0; i < mib; i++)
            if (write(fd, buf, 1u << 20) != 1 << 20)
                break;
        if (i == mib && fsync(fd) == 0)
            rate = mib / ((bench_now_ns() - t0) / 1e9);
        close(fd);
    }
    unlink(path);
    munmap(buf, 1u << 20);
    return rate;
}

static struct bench_stat zfs_of(double mib)
{
    struct bench_stat s = {mib, mib, mib, mib > 0};
    return s;
}

static void ckpt_rows(const char *kase, struct ckpt_runs *w, struct bench_stat zf, struct bench_stat z1,
                      double zf_mib, double z1_mib, double input_mib)
{
    char note[256];
    struct bench_stat cov = st(w->cover_rate, w->n);
    snprintf(note, sizeof note,
             "covered %.0f MiB (the dump: %.0f MiB), stored %.0f MiB (zero pages elided); child CPU time %.0f%% of write_ns; pause %.2f ms",
             w->covered_mib, input_mib, w->saved_mib, st(w->cpu_share, w->n).med * 100, st(w->pause_ms, w->n).med);
    bench_row("write", kase, "memory covered per s", "MiB/s", cov, "zstd --fast=1 -T1", zf,
              ">= zstd --fast=1", cov.med >= zf.med ? "met" : "missed", note);
    bench_row("write", kase, "memory covered per s", "MiB/s", cov, "zstd -1 -T1", z1, "-", "-", "");
    struct bench_stat img = st(w->image_mib, w->n);
    struct bench_stat zfs = {zf_mib, zf_mib, zf_mib, zf_mib > 0}, z1s = {z1_mib, z1_mib, z1_mib, z1_mib > 0};
    bench_row("write", kase, "image size", "MiB", img, "zstd --fast=1 output", zfs, "-", "-", "");
    bench_row("write", kase, "image size", "MiB", img, "zstd -1 output", z1s, "-", "-", "");
}

/* --- python3 holding a large dict --- */

/* Sum of the VMA lengths an image describes, and its pause, from its table of contents. */
static int image_facts(const char *path, double *covered_mib, double *pause_ms)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    struct crs_img_trailer tr;
    int rc = -1;
    if (fstat(fd, &sb) == 0 && sb.st_size >= (off_t)sizeof tr &&
        pread(fd, &tr, sizeof tr, sb.st_size - sizeof tr) == sizeof tr &&
        !memcmp(tr.magic, CRS_IMG_TRAILER_MAGIC, 8) && tr.toc_count < 1024) {
        *pause_ms = tr.pause_ns / 1e6;
        struct crs_img_toc_entry toc[1024];
        if (pread(fd, toc, tr.toc_count * sizeof toc[0], tr.toc_offset) == (ssize_t)(tr.toc_count * sizeof toc[0])) {
            for (uint32_t i = 0; i < tr.toc_count; i++) {
                if (toc[i].type != CRS_SEC_VMAS)
                    continue;
                uint64_t n = toc[i].length / sizeof(struct crs_img_vma), sum = 0;
                for (uint64_t k = 0; k < n; k++) {
                    struct crs_img_vma v;
                    if (pread(fd, &v, sizeof v, toc[i].offset + sizeof(struct crs_img_section) + k * sizeof v) != sizeof v)
                        break;
                    sum += v.end - v.start;
                }
                *covered_mib = sum / MIB;
                rc = 0;
            }
        }
    }
    close(fd);
    return rc;
}

/* Copies the private writable mappings of pid (its heap and anonymous memory) to path. */
static double dump_heap(pid_t pid, const char *path)
{
    char maps[64], mem[64], line[1024];
    snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
    snprintf(mem, sizeof mem, "/proc/%d/mem", (int)pid);
    FILE *f = fopen(maps, "re");
    int mfd = open(mem, O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    static char buf[1 << 20];
    uint64_t total = 0;
    while (f && mfd >= 0 && out >= 0 && fgets(line, sizeof line, f)) {
        unsigned long a, b, ino;
        char perm[8], name[512] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %511s", &a, &b, perm, &ino, name) < 4)
            continue;
        if (perm[0] != 'r' || perm[1] != 'w' || perm[3] != 'p' || ino != 0 || !strcmp(name, "[vvar]") ||
            !strncmp(name, "[vvar", 5))
            continue;
        for (unsigned long o = a; o < b; o += sizeof buf) {
            size_t n = b - o < sizeof buf ? b - o : sizeof buf;
            ssize_t got = pread(mfd, buf, n, (off_t)o);
            if (got <= 0)
                break;
            if (write(out, buf, got) != got)
                break;
            total += got;
        }
    }
    if (f)
        fclose(f);
    if (mfd >= 0)
        close(mfd);
    if (out >= 0)
        close(out);
    return total / MIB;
}

/* Removes the files in dir (images of an earlier run). */
static void clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
}

static void python_case(long items, int reps)
{
    char dir[4096], latest[4096], dump[4096];
    snprintf(dir, sizeof dir, "%.4000s/py", bench_dir());
    mkdir(dir, 0755);
    clear_dir(dir);
    snprintf(latest, sizeof latest, "%.4000s/" CRS_IMG_LATEST, dir);
    snprintf(dump, sizeof dump, "%s/pyheap.bin", bench_dir());
    char script[512];
    snprintf(script, sizeof script,
             "import signal,sys,time\n"
             "d = {i: 'value-%%d' %% i for i in range(%ld)}\n"
             "print('ready', flush=True)\n"
             "while True: time.sleep(1)\n", items);
    int pfd[2];
    if (pipe(pfd))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        setenv("LD_PRELOAD", bench_lib(), 1);
        setenv("CRSNAP_DIR", dir, 1);
        setenv("CRSNAP_SIGNAL", "USR1", 1);
        setenv("CRSNAP_KEEP", "2", 1);
        execl("/usr/bin/python3", "python3", "-c", script, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[64] = "";
    ssize_t n = read(pfd[0], buf, sizeof buf - 1);
    if (n <= 0 || strncmp(buf, "ready", 5)) {
        close(pfd[0]);
        bench_note("write", "python3 with the library preloaded did not start");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return;
    }
    double heap_mib = dump_heap(pid, dump);
    double total[MAXR], img[MAXR], cov[MAXR], pause[MAXR], rate[MAXR];
    int ok = 0;
    char prev[4096] = "";
    for (int r = 0; r < reps && r < MAXR; r++) {
        uint64_t t0 = bench_now_ns();
        kill(pid, SIGUSR1);
        char target[4096] = "";
        uint64_t t1 = 0;
        while (bench_now_ns() - t0 < 60000000000ull && waitpid(pid, NULL, WNOHANG) == 0) {
            ssize_t k = readlink(latest, target, sizeof target - 1);
            if (k > 0) {
                target[k] = 0;
                if (strcmp(target, prev)) {
                    t1 = bench_now_ns();
                    break;
                }
            }
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        if (!t1)
            break;
        snprintf(prev, sizeof prev, "%s", target);
        char ipath[8200];
        snprintf(ipath, sizeof ipath, "%s%s%s", target[0] == '/' ? "" : dir, target[0] == '/' ? "" : "/", target);
        total[ok] = (t1 - t0) / 1e6;
        img[ok] = bench_file_size(ipath) / MIB;
        cov[ok] = 0;
        pause[ok] = 0;
        image_facts(ipath, &cov[ok], &pause[ok]);
        rate[ok] = cov[ok] / (total[ok] / 1e3);
        ok++;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    clear_dir(dir);
    char kase[64];
    snprintf(kase, sizeof kase, "python3 dict %ld items", items);
    double zf_mib, z1_mib;
    struct bench_stat zf = zstd_rate(dump, "--fast=1", reps, &zf_mib);
    struct bench_stat z1 = zstd_rate(dump, "-1", reps, &z1_mib);
    unlink(dump);
    if (!ok) {
        struct bench_stat none = {0, 0, 0, 0};
        bench_row("write", kase, "memory covered per s", "MiB/s", none, "zstd --fast=1 -T1", zf,
                  ">= zstd --fast=1", "n/a", "no image appeared after SIGUSR1");
        return;
    }
    char note[256];
    struct bench_stat cs = st(cov, ok), ts = st(total, ok), ps = st(pause, ok);
    snprintf(note, sizeof note,
             "rate = covered / (SIGUSR1 to published image, %.0f ms); image covers %.0f MiB, heap dump %.0f MiB (%.0f MiB/s of it); pause %.2f ms",
             ts.med, cs.med, heap_mib, heap_mib / (ts.med / 1e3), ps.med);
    struct bench_stat rs = st(rate, ok);
    bench_row("write", kase, "memory covered per s", "MiB/s", rs, "zstd --fast=1 -T1", zf,
              ">= zstd --fast=1", rs.med >= zf.med ? "met" : "missed", note);
    bench_row("write", kase, "memory covered per s", "MiB/s", rs, "zstd -1 -T1", z1, "-", "-", "");
    struct bench_stat zfs = {zf_mib, zf_mib, zf_mib, 1}, z1s = {z1_mib, z1_mib, z1_mib, 1};
    bench_row("write", kase, "image size", "MiB", st(img, ok), "zstd --fast=1 output", zfs, "-", "-", "");
    bench_row("write", kase, "image size", "MiB", st(img, ok), "zstd -1 output", z1s, "-", "-", "");
}

int main(int argc, char **argv)
{
    size_t mib = bench_quick() ? 256 : 1024;
    int reps = bench_reps(5, 5), opt, py = 1;
    long items = bench_quick() ? 1000000 : 4000000;
    while ((opt = getopt(argc, argv, "s:r:P:n")) != -1) {
        switch (opt) {
        case 's': mib = strtoul(optarg, NULL, 10); break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : reps; break;
        case 'P': items = atol(optarg); break;
        case 'n': py = 0; break;
        default:
            fprintf(stderr, "usage: bench_write [-s MiB] [-r REPS] [-P ITEMS] [-n]\n");
            return 2;
        }
    }
    if (reps > MAXR)
        reps = MAXR;
    size_t capped = bench_cap_size(mib << 20, 2.5) >> 20;
    if (capped < mib) {
        bench_note("write", "size capped from %zu to %zu MiB by free memory", mib, capped);
        mib = capped;
    }
    char dump[4096], kase[64];
    snprintf(dump, sizeof dump, "%s/dump.bin", bench_dir());
    snprintf(kase, sizeof kase, "mixed %zu MiB", mib);
    fprintf(stderr, "bench_write: crsnap, %zu MiB mixed\n", mib);
    struct ckpt_runs uring, pw;
    char *no_env[] = {"CRSNAP_FORCE_PWRITE=0", NULL};
    char *pw_env[] = {"CRSNAP_FORCE_PWRITE=1", NULL};
    int have = run_worker(mib, reps, dump, no_env, &uring) == 0;
    fprintf(stderr, "bench_write: zstd baselines\n");
    double zf_mib = 0, z1_mib = 0;
    struct bench_stat zf_cpu;
    struct bench_stat zf = zstd_rate_cpu(dump, "--fast=1", reps, &zf_mib, &zf_cpu);
    struct bench_stat z1 = zstd_rate(dump, "-1", reps, &z1_mib);
    unlink(dump);
    fprintf(stderr, "bench_write: disk\n");
    double db[MAXR], dd[MAXR];
    int nd = 0;
    for (int r = 0; r < reps; r++) {
        db[nd] = disk_rate(mib, 0);
        dd[nd] = disk_rate(mib, 1);
        if (db[nd] > 0 && dd[nd] > 0)
            nd++;
    }
    struct bench_stat dbs = bench_stats(db, nd), dds = bench_stats(dd, nd);
    if (have) {
        ckpt_rows(kase, &uring, zf, z1, zf_mib, z1_mib, (double)mib);
        struct bench_stat cc = st(uring.cover_cpu_rate, uring.n);
        bench_row("write", kase, "covered per CPU second", "MiB/s", cc, "zstd --fast=1 per CPU s", zf_cpu,
                  "-", "-",
                  "for information (the target is on elapsed time): the child's user+system time, both compression threads and io_uring workers included, which other load does not change");
        struct bench_stat out = st(uring.out_rate, uring.n);
        char note[200];
        snprintf(note, sizeof note, "the child writes %.0f MiB/s of image; the disk takes %.0f MiB/s buffered+fsync",
                 out.med, dbs.med);
        bench_row("write", kase, "image bytes per s", "MiB/s", out, "disk O_DIRECT", dds,
                  "not disk-bound while disk has room", out.med < 0.8 * dds.med ? "met" : "missed", note);
        fprintf(stderr, "bench_write: crsnap with CRSNAP_LEVEL=1\n");
        char *l1_env[] = {"CRSNAP_FORCE_PWRITE=0", "CRSNAP_LEVEL=1", NULL};
        struct ckpt_runs l1;
        if (run_worker(mib, reps, NULL, l1_env, &l1) == 0) {
            struct bench_stat a = st(l1.cover_rate, l1.n);
            bench_row("write", kase, "covered per s, CRSNAP_LEVEL=1", "MiB/s", a, "zstd -1 -T1", z1,
                      ">= zstd -1", a.med >= z1.med ? "met" : "missed", "the same level as the baseline");
            struct bench_stat fi = st(l1.image_mib, l1.n);
            bench_row("write", kase, "image size, CRSNAP_LEVEL=1", "MiB", fi, "zstd -1 output",
                      zfs_of(z1_mib), "-", "-", "");
        }
        fprintf(stderr, "bench_write: crsnap with CRSNAP_FORCE_PWRITE=1\n");
        struct bench_stat def = st(uring.cover_rate, uring.n);
        if (run_worker(mib, reps, NULL, pw_env, &pw) == 0)
            bench_row("io", kase, "covered per s, pwrite", "MiB/s", st(pw.cover_rate, pw.n),
                      "io_uring (default)", def, "-", "-", "CRSNAP_FORCE_PWRITE=1; both O_DIRECT");
        fprintf(stderr, "bench_write: crsnap with CRSNAP_NO_DIRECT=1\n");
        char *buf_env[] = {"CRSNAP_FORCE_PWRITE=0", "CRSNAP_NO_DIRECT=1", NULL};
        struct ckpt_runs bu;
        if (run_worker(mib, reps, NULL, buf_env, &bu) == 0) {
            bench_row("io", kase, "covered per s, buffered", "MiB/s", st(bu.cover_rate, bu.n),
                      "O_DIRECT (default)", def, "-", "-", "CRSNAP_NO_DIRECT=1; both io_uring");
            bench_row("io", kase, "covered per CPU s, buffered", "MiB/s",
                      st(bu.cover_cpu_rate, bu.n), "O_DIRECT (default)",
                      st(uring.cover_cpu_rate, uring.n), "-", "-",
                      "the child's CPU time, io_uring workers included");
        }
        fprintf(stderr, "bench_write: crsnap with CRSNAP_FORCE_PWRITE=1 CRSNAP_NO_DIRECT=1\n");
        char *pb_env[] = {"CRSNAP_FORCE_PWRITE=1", "CRSNAP_NO_DIRECT=1", NULL};
        struct ckpt_runs pb;
        if (run_worker(mib, reps, NULL, pb_env, &pb) == 0)
            bench_row("io", kase, "covered per s, pwrite buffered", "MiB/s", st(pb.cover_rate, pb.n),
                      "io_uring O_DIRECT (default)", def, "-", "-",
                      "the writer as it was before O_DIRECT");
    } else {
        struct bench_stat none = {0, 0, 0, 0};
        bench_row("write", kase, "memory covered per s", "MiB/s", none, "zstd --fast=1 -T1", zf,
                  ">= zstd --fast=1", "n/a", uring.why);
    }
    bench_row("io", "disk sequential", "O_DIRECT write", "MiB/s", dds, "buffered + fsync", dbs, "-", "-",
              "1 MiB blocks, same file system as the images");
    if (py) {
        fprintf(stderr, "bench_write: python3 dict of %ld items\n", items);
        python_case(items, reps);
    }
    return 0;
}
