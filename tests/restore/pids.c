/* pids.c - a program that remembers its ids, as daemons, MPI libraries and language runtimes
 * do: its pid and its threads' tids cached at start, CPU-time clocks of the process and of each
 * thread, /proc/<pid> (opened now and then, and one file of it open all along), a file named
 * after its pid, tgkill on cached tids. It checks them all,
 * again and again, while it works; a restore must not change any of them.
 *
 * usage: pids ROUNDS PROGRESS: PROGRESS is created a tenth into the work. Prints one line per
 * check, "NAME ok" or "NAME BROKEN"; exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "prog.h"

#define NTHREADS 3

static pid_t pid;
static pid_t tids[NTHREADS];
static clockid_t thread_clocks[NTHREADS];
static _Atomic int done, ready;
static _Atomic int broken_tid, broken_tclock;
static char pidfile[64];

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    struct timespec ts;

    tids[i] = tid();
    pthread_getcpuclockid(pthread_self(), &thread_clocks[i]);
    atomic_fetch_add(&ready, 1);
    while (!atomic_load(&done)) {
        if (tid() != tids[i])
            atomic_store(&broken_tid, 1);
        if (clock_gettime(thread_clocks[i], &ts) < 0)
            atomic_store(&broken_tclock, 1);
        usleep(2000);
    }
    return NULL;
}

/* What the status file open as fd says the pid is, or -1. */
static int status_pid(int fd)
{
    char buf[4096], *p;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    int v = -1;

    if (n <= 0)
        return -1;
    buf[n] = 0;
    if ((p = strstr(buf, "\nPid:")))
        sscanf(p + 5, "%d", &v);
    return v;
}

/* What /proc/<pid>/status says its pid is, or -1. */
static int proc_pid(void)
{
    char path[64], line[128];
    int v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pid: %d", &v) == 1)
            break;
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 0;
    pthread_t th[NTHREADS];
    clockid_t pclock;
    struct timespec ts;
    int bad_pid = 0, bad_kill = 0, bad_pclock = 0, bad_proc = 0, bad_file = 0, bad_tgkill = 0;
    char status[64];
    int statusfd;

    if (argc < 3 || rounds <= 0) {
        fprintf(stderr, "usage: pids ROUNDS PROGRESS\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid = getpid();
    snprintf(pidfile, sizeof pidfile, "%s.%d", argv[2], (int)pid);
    close(open(pidfile, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    if (clock_getcpuclockid(pid, &pclock) != 0)
        return 1;
    snprintf(status, sizeof status, "/proc/%d/status", (int)pid);
    if ((statusfd = open(status, O_RDONLY)) < 0)
        return 1;
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    while (atomic_load(&ready) < NTHREADS)
        usleep(1000);

    for (long r = 0; r < rounds; r++) {
        prog_work(1, NULL);
        if (r == rounds / 10)
            close(open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644));
        if (r % 64)
            continue;
        bad_pid |= getpid() != pid;
        bad_kill |= kill(pid, 0) != 0;
        bad_pclock |= clock_gettime(pclock, &ts) != 0;
        bad_proc |= proc_pid() != (int)pid;
        bad_file |= access(pidfile, F_OK) != 0;
        for (int i = 0; i < NTHREADS; i++)
            bad_tgkill |= syscall(SYS_tgkill, pid, tids[i], 0) != 0;
    }
    atomic_store(&done, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    unlink(pidfile);
    CHECK(!bad_pid, "getpid");
    CHECK(!bad_kill, "kill_cached_pid");
    CHECK(!bad_pclock, "clock_getcpuclockid");
    CHECK(!bad_proc, "proc_pid");
    CHECK(status_pid(statusfd) == (int)pid, "proc_pid_open_all_along");
    CHECK(!bad_file, "pid_named_file");
    CHECK(!bad_tgkill, "tgkill_cached_tids");
    CHECK(!atomic_load(&broken_tid), "gettid");
    CHECK(!atomic_load(&broken_tclock), "pthread_getcpuclockid");
    return 0;
}
