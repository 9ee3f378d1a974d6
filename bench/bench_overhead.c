/* bench/bench_overhead.c - steady-state overhead (benchmark 5). Runs a compute-bound program, a
 * system-call-heavy one and an unmodified python3 bare and with libcrsnap preloaded (as `crsnap run` does: trigger
 * signal and control socket on, no checkpoint taken), alternating the two so that drift on a
 * shared machine hits both alike, and compares the run times.
 *
 * usage: bench_overhead [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXR 64

extern char **environ;

/* Wall and CPU seconds of one run; 0 on failure. preload: 0 bare, 1 libcrsnap, 2 the idle
 * thread library. */
static int run_once(char *const argv[], int preload, double *wall, double *cpu)
{
    static char pre[4200], dir[4200];
    if (preload == 2)
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libbench_idle_thread.so", bench_self_dir());
    else
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s", bench_lib());
    snprintf(dir, sizeof dir, "CRSNAP_DIR=%s", bench_dir());
    char **env = NULL;
    size_t n = 0;
    while (environ[n])
        n++;
    env = calloc(n + 4, sizeof *env);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "CRSNAP_", 7))
            env[o++] = environ[i];
    if (preload)
        env[o++] = pre;
    if (preload == 1) {
        env[o++] = dir;
        env[o++] = "CRSNAP_SIGNAL=USR1";
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    uint64_t t0 = bench_now_ns();
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc)
        return -1;
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
    *wall = (bench_now_ns() - t0) / 1e9;
    *cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Runs name arg bare and preloaded; returns preloaded minus bare median wall time (s). When
 * startup >= 0, that start-up cost is taken off before the steady-state verdict. */
static double workload_argv(const char *name, char *const argv[], int reps, double startup);

static double workload(const char *name, const char *arg, int reps, double startup)
{
    char exe[4096];
    snprintf(exe, sizeof exe, "%s/%s", bench_self_dir(), name);
    char *argv[] = {exe, (char *)arg, NULL};
    return workload_argv(name, argv, reps, startup);
}

/* An unmodified interpreter doing what programs do: building a dict, JSON in and out, string
 * formatting, buffered writes. Not a loop of tiny system calls, not pure arithmetic. */
static const char python_work[] =
    "import json, sys\n"
    "n = int(sys.argv[1])\n"
    "d = {str(i): [i, i * 2, 'x' * (i % 50)] for i in range(n)}\n"
    "s = json.dumps(d)\n"
    "for _ in range(3):\n"
    "    d = json.loads(s)\n"
    "with open('/dev/null', 'w') as f:\n"
    "    for i in range(n):\n"
    "        f.write('%d %s\\n' % (i, d[str(i)][2]))\n";

static double workload_argv(const char *name, char *const argv[], int reps, double startup)
{
    double bw[MAXR], bc[MAXR], pw[MAXR], pc[MAXR], iw[MAXR], ic[MAXR];
    int nb = 0, np = 0, ni = 0, failed = 0;
    double w, c;
    run_once(argv, 0, &w, &c); /* warm the page cache */
    for (int r = 0; r < reps && r < MAXR; r++) {
        for (int k = 0; k < 3; k++) {
            int pre = (r + k) % 3;
            if (pre == 2 && startup < 0)
                continue;
            if (run_once(argv, pre, &w, &c) < 0) {
                failed |= 1 << pre;
                continue;
            }
            if (pre == 1)
                pw[np] = w, pc[np++] = c;
            else if (pre == 2)
                iw[ni] = w, ic[ni++] = c;
            else
                bw[nb] = w, bc[nb++] = c;
        }
    }
    struct bench_stat b = bench_stats(bw, nb), bcs = bench_stats(bc, nb);
    if (!np) {
        struct bench_stat none = {0, 0, 0, 0};
        bench_row("overhead", name, "run time, library preloaded", "s", none, "bare", b, "< 1% slower",
                  "n/a", "the program failed with the library preloaded");
        return 0;
    }
    struct bench_stat p = bench_stats(pw, np), pcs = bench_stats(pc, np);
    char note[300];
    double steady = (p.med - b.med - (startup > 0 ? startup : 0)) / b.med * 100;
    if (startup < 0) {
        snprintf(note, sizeof note, "start-up and exit only (the program does nothing): %+.3f ms", (p.med - b.med) * 1e3);
        bench_row("overhead", "empty program", "run time, library preloaded", "s", p, "bare", b, "-", "-", note);
        return p.med - b.med;
    }
    snprintf(note, sizeof note,
             "steady state %+.2f%% after taking off the start-up cost; CPU time %.3f s vs %.3f s bare (%+.2f%%); runs alternate",
             steady, pcs.med, bcs.med, (pcs.med / bcs.med - 1) * 100);
    bench_row("overhead", name, "run time, library preloaded", "s", p, "bare", b, "< 1% slower",
              steady < 1.0 ? "met" : "missed", note);
    /* CPU time does not move with other load on a shared machine, wall time does */
    bench_row("overhead", name, "CPU time, library preloaded", "s", pcs, "bare", bcs, "< 1% more",
              pcs.med < 1.01 * bcs.med ? "met" : "missed", "user + system time of the program");
    if (ni) {
        struct bench_stat is = bench_stats(iw, ni), ics = bench_stats(ic, ni);
        snprintf(note, sizeof note, "control: the bare program plus one idle thread and nothing else; wall time %.3f s",
                 is.med);
        bench_row("overhead", name, "CPU time, library preloaded", "s", pcs, "bare + 1 idle thread", ics, "-", "-", note);
    }
    return p.med - b.med;
}

int main(int argc, char **argv)
{
    int reps = bench_reps(11, 5), opt;
    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt == 'r' && atoi(optarg) > 0)
            reps = atoi(optarg);
        else if (opt != 'r') {
            fprintf(stderr, "usage: bench_overhead [-r REPS]\n");
            return 2;
        }
    }
    double startup = workload("work_compute", "0", reps * 2, -1);
    workload("work_compute", bench_quick() ? "150" : "600", reps, startup);
    workload("work_syscall", bench_quick() ? "300" : "1000", reps, startup);
    if (access("/usr/bin/python3", X_OK) == 0) {
        char *py[] = {"/usr/bin/python3", "-c", (char *)python_work,
                      bench_quick() ? "50000" : "200000", NULL};
        workload_argv("python3 (dict, JSON, writes)", py, reps, startup);
    }
    return 0;
}
