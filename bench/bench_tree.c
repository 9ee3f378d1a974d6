/* bench/bench_tree.c - the pause of a job of four processes against the slowest bare fork
 * among them, measured in the same run. The root (this program, its CRSNAP_PID) forks three
 * children, which become members of its job; each maps and populates its memory (the root the
 * most), then measures bare forks of itself (a raw clone whose child exits at once), one
 * process after the other so that no fork competes with another, and reports the median. The root then takes checkpoints of the whole job with crs_checkpoint(): its pause
 * (crs_result.pause_ns) runs from the stop of its own threads to their release, which waits
 * until every member has forked its snapshot, so it is the job's pause.
 *
 * A second baseline: the four processes' bare forks at the same moments (7 rounds, each at a
 * time the root chose), the longest of each round: what forking the whole job at once costs
 * on this machine, where two forks at once may each take twice as long as one alone.
 *
 * Rows: "tree" section, per size: job pause against the largest of the four processes'
 * median bare fork, target <= 1.2 x fork + 2 ms; and against the four at once (no target).
 */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORKS 7

/* One raw clone of this process whose child exits at once: the parent's side (the clone
 * call), in ns. */
static double one_fork_ns(void)
{
    uint64_t t0 = bench_now_ns();
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        syscall(SYS_exit_group, 0);
    double ns = (double)(bench_now_ns() - t0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return ns;
}

/* Median time (ns) of FORKS bare forks, one after the other. */
static double bare_fork_ns(void)
{
    double v[FORKS];
    for (int i = 0; i < FORKS; i++)
        v[i] = one_fork_ns();
    return bench_stats(v, FORKS).med;
}

#define ROUND_NS 40000000ull        /* the rounds of forks at once: 40 ms apart */

/* FORKS bare forks, the i-th at start + i * ROUND_NS (CLOCK_MONOTONIC), each timed. */
static void forks_at(uint64_t start, double v[FORKS])
{
    for (int i = 0; i < FORKS; i++) {
        uint64_t at = start + (uint64_t)i * ROUND_NS;
        struct timespec ts = { (time_t)(at / 1000000000ull), (long)(at % 1000000000ull) };
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        v[i] = one_fork_ns();
    }
}

/* A member: its memory, its forks once told to (a byte on go), reported on fd; then its forks
 * at the moments the root sends (a start time on go); then it waits to be killed. */
static void member(size_t size, int go, int fd)
{
    void *p = bench_map(size, 0, FILL_ZERO, 7);
    double at_once[FORKS];
    uint64_t start;
    char token;
    if (read(go, &token, 1) != 1)
        _exit(1);
    double ns = p ? bare_fork_ns() : -1;
    if (write(fd, &ns, sizeof ns) != (ssize_t)sizeof ns ||
        read(go, &start, sizeof start) != (ssize_t)sizeof start)
        _exit(1);
    forks_at(start, at_once);
    if (write(fd, at_once, sizeof at_once) != (ssize_t)sizeof at_once)
        _exit(1);
    close(fd);
    for (;;)
        pause();
}

static void one_size(long root_mib, int reps)
{
    size_t sizes[4] = { (size_t)root_mib << 20, (size_t)root_mib << 19, (size_t)root_mib << 18,
                        (size_t)root_mib << 18 };
    pid_t kids[3];
    int p[2], go[3][2];
    double forks[4], pauses[64];
    char kase[64], note[256];
    struct bench_crs c;

    if (pipe(p) < 0)
        return;
    snprintf(kase, sizeof kase, "4 proc %ld+%ld+%ld+%ld MiB", root_mib % 100000, root_mib / 2 % 100000,
             root_mib / 4 % 100000, root_mib / 4 % 100000);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tree-%ld", bench_dir(), root_mib);
    /* the root of a job: its forked children are its members */
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("CRSNAP_PID", pid, 1);
    if (bench_crs_open(&c, dir) < 0) {
        bench_note("tree", "n/a: %s", c.why);
        return;
    }
    void *mem = bench_map(sizes[0], 0, FILL_ZERO, 3);
    if (!mem)
        return;
    for (int i = 0; i < 3; i++) {
        if (pipe(go[i]) < 0)
            return;
        kids[i] = fork();
        if (kids[i] == 0) {
            close(p[0]);
            member(sizes[i + 1], go[i][0], p[1]);
        }
        close(go[i][0]);
    }
    close(p[1]);
    forks[0] = bare_fork_ns();
    for (int i = 1; i < 4; i++)         /* one after the other */
        if (write(go[i - 1][1], "g", 1) != 1 ||
            read(p[0], &forks[i], sizeof forks[i]) != (ssize_t)sizeof forks[i])
            forks[i] = -1;
    /* then all four at once, round by round: the longest of each round */
    uint64_t start = bench_now_ns() + 100000000ull;
    double rounds[FORKS], theirs[FORKS];
    for (int i = 0; i < 3; i++)
        if (write(go[i][1], &start, sizeof start) != (ssize_t)sizeof start)
            return;
    forks_at(start, rounds);
    for (int i = 0; i < 3; i++) {
        if (read(p[0], theirs, sizeof theirs) != (ssize_t)sizeof theirs)
            return;
        for (int k = 0; k < FORKS; k++)
            rounds[k] = theirs[k] > rounds[k] ? theirs[k] : rounds[k];
    }
    for (int k = 0; k < FORKS; k++)
        rounds[k] /= 1e6;
    struct bench_stat together = bench_stats(rounds, FORKS);
    for (int i = 0; i < 3; i++)
        close(go[i][1]);
    close(p[0]);
    double largest = 0;
    for (int i = 0; i < 4; i++)
        largest = forks[i] > largest ? forks[i] : largest;
    usleep(300000);                     /* the members' runtimes are up */
    int n = 0, failed = 0;
    for (int r = 0; r < reps && n < 64; r++) {
        struct crs_result res;
        int rc = c.checkpoint(NULL);
        if (rc < 0 || c.last(&res) < 0 || res.error) {
            failed++;
            continue;
        }
        pauses[n++] = (double)res.pause_ns / 1e6;
    }
    for (int i = 0; i < 3; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < 3; i++)
        waitpid(kids[i], NULL, 0);
    struct bench_stat ps = bench_stats(pauses, n);
    double fk[1] = { largest / 1e6 };
    struct bench_stat fs = bench_stats(fk, 1);
    int met = n > 0 && ps.med <= 1.2 * fs.med + 2.0;
    snprintf(note, sizeof note, "bare forks (ms): root %.2f, members %.2f %.2f %.2f; %d of %d "
             "checkpoints failed", forks[0] / 1e6, forks[1] / 1e6, forks[2] / 1e6, forks[3] / 1e6,
             failed, reps);
    bench_row("tree", kase, "job pause", "ms", ps, "largest bare fork", fs,
              "<= 1.2 x fork + 2 ms", n ? (met ? "met" : "missed") : "-", note);
    bench_row("tree", kase, "job pause", "ms", ps, "4 bare forks at once", together,
              "-", "-", "the longest of the four processes' bare forks in each of 7 rounds "
              "at the same moments");
    munmap(mem, sizes[0]);
}

int main(void)
{
    long sizes[4];
    int n = bench_parse_list(getenv("BENCH_TREE_MIB") ? getenv("BENCH_TREE_MIB") :
                             bench_quick() ? "256" : "256,1024", sizes, 4);
    int reps = bench_reps(7, 3);

    /* each size in a process of its own: a job's root starts its runtime once */
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            one_size(sizes[i], reps);
            fflush(stdout);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    return 0;
}
