/* bench/bench_pause.c - pause versus resident memory (benchmark 1). A process populates N MiB
 * (4 KiB pages, or transparent huge pages by madvise), runs 1 or 8 application threads that spin
 * on clock_gettime and log every gap between two consecutive reads, and takes checkpoints; the
 * stall is the longest gap any application thread saw while the checkpoint stopped the process.
 * Baseline: a bare fork of the same process (raw clone, child exits at once), measured the same way.
 *
 * usage: bench_pause [-s MiB,...] [-t THREADS,...] [-p 4k|thp|both] [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOGN 65536u
#define GAP_MIN_NS 5000u        /* gaps shorter than this are not logged */
#define MAX_THREADS 16

struct gap { uint64_t s, e; };

struct spinner {
    pthread_t t;
    atomic_int stop;
    atomic_uint_fast64_t n;
    struct gap log[LOGN];
} __attribute__((aligned(64)));

static struct spinner *spinners;
static int nspin;
static _Atomic uint64_t resumed_ns;   /* set by the CONTINUE phase of an async handler */
/* Set around crs_checkpoint(): once its pause is over (resumed_ns set), the application threads
 * sleep until the child has written the image. 8 spinning threads would otherwise starve the
 * child of CPU and make each checkpoint of 8 GiB take half a minute, and the pause is all this
 * benchmark measures. */
static atomic_int hold;
/* Application threads also store into 64 words spread over the populated memory, as a program
 * would: a thread that only read the clock would never wait for a fork (it takes no page fault),
 * while one that writes waits on the fault until the fork has copied the page tables. */
#define SLOTS 64
static volatile uint64_t *slots[SLOTS];

static void log_gap(struct spinner *s, uint64_t prev, uint64_t t)
{
    if (t - prev <= GAP_MIN_NS)
        return;
    uint64_t i = atomic_load_explicit(&s->n, memory_order_relaxed);
    s->log[i % LOGN] = (struct gap){prev, t};
    atomic_store_explicit(&s->n, i + 1, memory_order_release);
}

static void *spin_main(void *arg)
{
    struct spinner *s = arg;
    uint64_t prev = bench_now_ns();
    unsigned k = (unsigned)(s - spinners);
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        uint64_t t = bench_now_ns();
        *(slots[k++ % SLOTS] + (s - spinners)) = t;
        log_gap(s, prev, t);
        prev = t;
        if (atomic_load_explicit(&hold, memory_order_relaxed) && atomic_load(&resumed_ns)) {
            /* the quiesce may have stopped this thread after its last read: log that first */
            log_gap(s, prev, bench_now_ns());
            while (atomic_load(&hold) && !atomic_load(&s->stop))
                usleep(1000);
            prev = bench_now_ns();      /* the time held is not a stall */
        }
    }
    return NULL;
}

static int spin_start(int n)
{
    nspin = n;
    for (int i = 0; i < n; i++) {
        atomic_store(&spinners[i].stop, 0);
        atomic_store(&spinners[i].n, 0);
        if (pthread_create(&spinners[i].t, NULL, spin_main, &spinners[i]))
            return -1;
    }
    return 0;
}

static void spin_stop(void)
{
    for (int i = 0; i < nspin; i++)
        atomic_store(&spinners[i].stop, 1);
    for (int i = 0; i < nspin; i++)
        pthread_join(spinners[i].t, NULL);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Longest gap of any spinner that overlaps [a, b], in ms. Waits a little first so that a gap
 * still open at b has ended. */
static double longest_gap(uint64_t a, uint64_t b)
{
    sleep_ms(20);
    uint64_t best = 0;
    for (int k = 0; k < nspin; k++) {
        uint64_t n = atomic_load_explicit(&spinners[k].n, memory_order_acquire);
        uint64_t first = n > LOGN ? n - LOGN : 0;
        for (uint64_t i = first; i < n; i++) {
            struct gap g = spinners[k].log[i % LOGN];
            if (g.s < b && g.e > a && g.e - g.s > best)
                best = g.e - g.s;
        }
    }
    return best / 1e6;
}

static int on_phase(crs_phase phase, void *arg)
{
    (void)arg;
    if (phase == CRS_CONTINUE) {
        atomic_store(&resumed_ns, bench_now_ns());
    }
    return 0;
}

/* A bare fork measured like a checkpoint: returns the longest stall (ms), sets the clone time. */
static double bare_fork(double *clone_ms)
{
    uint64_t a = bench_now_ns();
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        syscall(SYS_exit, 0);
    uint64_t b = bench_now_ns();
    if (pid < 0) {
        fprintf(stderr, "bench_pause: clone: %s\n", strerror(errno));
        return -1;
    }
    *clone_ms = (b - a) / 1e6;
    double stall = longest_gap(a, b);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    sleep_ms(20);
    return stall;
}

static void run_case(struct bench_crs *crs, size_t size, int thp, int threads, int reps)
{
    char kase[96], note[256], path[4096];
    snprintf(kase, sizeof kase, "%s %zu MiB %d thr", thp ? "thp" : "4k", size >> 20, threads);
    snprintf(path, sizeof path, "%s/pause.crsnap", bench_dir());
    double *stall = calloc(reps, sizeof *stall), *fstall = calloc(reps, sizeof *fstall);
    double *clone_ms = calloc(reps, sizeof *clone_ms), *pause_ms = calloc(reps, sizeof *pause_ms);
    double *idle = calloc(reps, sizeof *idle), *write_ms = calloc(reps, sizeof *write_ms);
    int ok = 0;
    if (spin_start(threads)) {
        fprintf(stderr, "bench_pause: cannot start threads\n");
        goto out;
    }
    sleep_ms(200);
    /* The first fork after the memory was written is slower (it has to write-protect and share
     * every page); later ones find the pages shared already. Take it unmeasured, so that both
     * sides see the same state, and alternate which side goes first. */
    double first_ms = 0;
    if (bare_fork(&first_ms) < 0)
        goto stop;
    for (int r = 0; r < reps; r++) {
        /* idle: the same threads, no event, over 50 ms */
        uint64_t a = bench_now_ns();
        sleep_ms(50);
        idle[r] = longest_gap(a, bench_now_ns());
        for (int k = 0; k < 2; k++) {
            if ((k + r) % 2 == 0) {
                if ((fstall[r] = bare_fork(&clone_ms[r])) < 0)
                    goto stop;
                continue;
            }
            if (!crs->checkpoint)
                continue;
            atomic_store(&resumed_ns, 0);
            atomic_store(&hold, 1);
            a = bench_now_ns();
            int rc = crs->checkpoint(path);
            uint64_t c = bench_now_ns();
            atomic_store(&hold, 0);
            if (rc < 0) {
                fprintf(stderr, "bench_pause: crs_checkpoint: %s\n", strerror(-rc));
                continue;
            }
            uint64_t e = atomic_load(&resumed_ns);
            struct crs_result res;
            memset(&res, 0, sizeof res);
            crs->last(&res);
            stall[ok] = longest_gap(a, e > a ? e : c);
            fprintf(stderr, "bench_pause: %s rep %d: stall %.3f ms, pause %.3f ms, window %.3f ms%s\n", kase, r,
                    stall[ok], res.pause_ns / 1e6, ((e > a ? e : c) - a) / 1e6, e > a ? "" : " (no CONTINUE seen)");
            pause_ms[ok] = res.pause_ns / 1e6;
            write_ms[ok] = res.write_ns / 1e6;
            ok++;
            unlink(path);
            sleep_ms(20);
        }
    }
stop:
    spin_stop();
    {
        struct bench_stat fs = bench_stats(fstall, reps), cs = bench_stats(clone_ms, reps);
        struct bench_stat is = bench_stats(idle, reps), none = {0, 0, 0, 0};
        snprintf(note, sizeof note,
                 "bare fork: clone took %.2f ms median (the first one after populating: %.2f ms); idle threads' longest gap %.3f ms",
                 cs.med, first_ms, is.med);
        if (ok) {
            struct bench_stat ss = bench_stats(stall, ok), ps = bench_stats(pause_ms, ok);
            struct bench_stat ws = bench_stats(write_ms, ok);
            int met = ss.med <= 1.1 * fs.med + 1.0;
            char n2[512];
            snprintf(n2, sizeof n2, "%s; crsnap reports pause %.2f ms, write %.0f ms", note, ps.med, ws.med);
            bench_row("pause", kase, "longest stall", "ms", ss, "bare fork stall", fs,
                      "<= 1.1 x fork + 1 ms", met ? "met" : "missed", n2);
            char n3[200];
            snprintf(n3, sizeof n3, "pause minus the bare clone: %.2f ms (stopping and recording the threads)",
                     ps.med - cs.med);
            bench_row("pause", kase, "reported pause_ns", "ms", ps, "bare fork clone time", cs,
                      "<= 1.1 x clone + 1 ms", ps.med <= 1.1 * cs.med + 1.0 ? "met" : "missed", n3);
        } else {
            bench_row("pause", kase, "longest stall", "ms", none, "bare fork stall", fs,
                      "<= 1.1 x fork + 1 ms", "n/a", crs->checkpoint ? "checkpoints failed" : note);
        }
    }
out:
    free(stall), free(fstall), free(clone_ms), free(pause_ms), free(idle), free(write_ms);
}

int main(int argc, char **argv)
{
    long sizes[16], threads[16];
    int nsizes, nthreads, reps = bench_reps(5, 5), pages = 3, sweep = 1;
    nsizes = bench_quick() ? bench_parse_list("64,256", sizes, 16) : bench_parse_list("256,1024,4096,8192", sizes, 16);
    nthreads = bench_parse_list("1,8", threads, 16);
    int opt;
    while ((opt = getopt(argc, argv, "s:t:p:r:")) != -1) {
        switch (opt) {
        case 's': nsizes = bench_parse_list(optarg, sizes, 16); break;
        case 't': nthreads = bench_parse_list(optarg, threads, 16), sweep = 0; break;
        case 'p': pages = !strcmp(optarg, "4k") ? 1 : !strcmp(optarg, "thp") ? 2 : 3; break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : reps; break;
        default:
            fprintf(stderr, "usage: bench_pause [-s MiB,...] [-t N,...] [-p 4k|thp|both] [-r REPS]\n");
            return 2;
        }
    }
    spinners = mmap(NULL, sizeof *spinners * MAX_THREADS, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (spinners == MAP_FAILED)
        return 1;
    struct bench_crs crs;
    if (bench_crs_open(&crs, bench_dir()) < 0)
        bench_note("pause", "crsnap not measured: %s", crs.why);
    else if (crs.reg && crs.reg(on_phase, NULL, CRS_ASYNC) < 0)
        bench_note("pause", "crs_register failed: the stall window runs to crs_checkpoint's return");
    for (int thp = 0; thp < 2; thp++) {
        if (!(pages & (1 << thp)))
            continue;
        for (int i = 0; i < nsizes; i++) {
            size_t want = (size_t)sizes[i] << 20;
            size_t size = bench_cap_size(want, 1.25);
            if (size < want) {
                bench_note("pause", "%s %ld MiB capped to %zu MiB by free memory", thp ? "thp" : "4k",
                           sizes[i], size >> 20);
                if (size < (64u << 20))
                    continue;
            }
            fprintf(stderr, "bench_pause: %s %zu MiB\n", thp ? "thp" : "4k", size >> 20);
            void *p = bench_map(size, thp, FILL_ZERO, 7);
            if (!p)
                continue;
            if (thp) {
                long huge = bench_rollup_kb(0, "AnonHugePages");
                if (huge >= 0 && (size_t)huge * 1024 < size / 2)
                    bench_note("pause", "thp %zu MiB: only %ld MiB of huge pages", size >> 20, huge >> 10);
            }
            for (int k = 0; k < SLOTS; k++)
                slots[k] = (volatile uint64_t *)((char *)p + (size / SLOTS) * k);
            /* How the pause grows once there are more busy threads than cores: the smallest
             * huge-page case (whose clone is short) also runs with 2 and 4 threads. */
            long swept[4] = {1, 2, 4, 8};
            int use_sweep = thp && i == 0 && sweep;
            long *tl = use_sweep ? swept : threads;
            for (int t = 0; t < (use_sweep ? 4 : nthreads); t++)
                run_case(&crs, size, thp, (int)(tl[t] < MAX_THREADS ? tl[t] : MAX_THREADS), reps);
            munmap(p, size);
        }
    }
    return 0;
}
