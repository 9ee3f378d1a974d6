/* ptimers.c - for the restore tests: POSIX timers. A periodic CLOCK_MONOTONIC timer that
 * signals the process (SIGRTMIN+2) with a sigev_value, a periodic one that signals a worker
 * thread (SIGEV_THREAD_ID), a one-shot of an hour (SIGUSR2, never due), a SIGEV_NONE
 * one-shot on CLOCK_REALTIME, and one on the main thread's CPU-time clock, which a restore
 * cannot make again (it is not known whose clock it is) and reports (not checked here). After its work it checks that each timer_t still names its timer
 * with its clock, signal and value (/proc/self/timers), that the periodic signals still arrive,
 * each with its value and on its thread, and that the one-shots have about the time left they
 * should (written to TIME_FILE in milliseconds, for the test to compare with the image). It
 * prints the same lines whether it was restored in between or not.
 *   ptimers ITERATIONS PROGRESS_FILE TIME_FILE
 * With --sigev-thread, it makes a timer_create(SIGEV_THREAD) timer instead (glibc runs its
 * function in a thread of its own), creates PROGRESS_FILE and waits for SECONDS.
 *   ptimers --sigev-thread PROGRESS_FILE SECONDS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prog.h"

#define PROCESS_VALUE 0x5eed1234abcdull
#define THREAD_VALUE 0x77ull
#define HOUR 3600

static atomic_int proc_hits, proc_bad, thread_hits, thread_bad;
static pthread_t worker;
static atomic_int stop, worker_tid;

static void on_proc(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    if (si->si_code != SI_TIMER || (unsigned long long)(uintptr_t)si->si_value.sival_ptr !=
                                       PROCESS_VALUE)
        atomic_fetch_add(&proc_bad, 1);
    atomic_fetch_add(&proc_hits, 1);
}

static void on_thread(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    if (si->si_code != SI_TIMER || si->si_value.sival_int != (int)THREAD_VALUE ||
        !pthread_equal(pthread_self(), worker))
        atomic_fetch_add(&thread_bad, 1);
    atomic_fetch_add(&thread_hits, 1);
}

static void *work_thread(void *arg)
{
    (void)arg;
    atomic_store(&worker_tid, gettid());
    while (!atomic_load(&stop))
        pause();
    return NULL;
}

/* Waits, up to 10 s, until counter has grown by n. */
static int arrives(atomic_int *counter, int n)
{
    int start = atomic_load(counter);
    for (int i = 0; i < 1000 && atomic_load(counter) < start + n; i++)
        usleep(10000);
    return atomic_load(counter) >= start + n;
}

/* The line of /proc/self/timers for id, as "signal: S/VALUE" and "ClockID: C". */
static int listed(timer_t t, int sig, unsigned long long value, int clock, const char *notify)
{
    char buf[8192], want[256];
    FILE *f = fopen("/proc/self/timers", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = 0;
    snprintf(want, sizeof want, "ID: %d\nsignal: %d/%016llx\nnotify: %s", (int)(intptr_t)t, sig,
             value, notify);
    char *p = strstr(buf, want);
    if (!p)
        return 0;
    p = strstr(p, "ClockID: ");
    return p && atoi(p + 9) == clock;
}

static double left(timer_t t)
{
    struct itimerspec its;
    if (timer_gettime(t, &its) < 0)
        return -1;
    return (double)its.it_value.tv_sec + its.it_value.tv_nsec / 1e9;
}

static atomic_int thread_calls;

static void timer_fn(union sigval v)
{
    (void)v;
    atomic_fetch_add(&thread_calls, 1);
}

static int sigev_thread(const char *progress, int seconds)
{
    struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = timer_fn };
    struct itimerspec per = { { 0, 50000000 }, { 0, 50000000 } };
    timer_t t;

    if (timer_create(CLOCK_MONOTONIC, &ev, &t) || timer_settime(t, 0, &per, NULL))
        return 1;
    FILE *f = fopen(progress, "w");
    if (f)
        fclose(f);
    for (int i = 0; i < seconds * 10; i++)
        usleep(100000);
    CHECK(atomic_load(&thread_calls) > 0, "SIGEV_THREAD timer runs");
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_sigaction = on_proc, .sa_flags = SA_SIGINFO | SA_RESTART };
    timer_t tp, tt, once, none, cpu;

    if (argc == 4 && !strcmp(argv[1], "--sigev-thread"))
        return sigev_thread(argv[2], atoi(argv[3]));
    if (argc < 4)
        return 2;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGRTMIN + 2, &sa, NULL) < 0)
        return 1;
    sa.sa_sigaction = on_thread;
    if (sigaction(SIGRTMIN + 3, &sa, NULL) < 0 || signal(SIGUSR2, SIG_DFL) == SIG_ERR)
        return 1;
    /* only the worker takes the thread timer's signal, only the main thread the process one */
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGRTMIN + 2);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
    if (pthread_create(&worker, NULL, work_thread, NULL))
        return 1;
    pthread_sigmask(SIG_UNBLOCK, &m, NULL);

    struct sigevent ep = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 2,
                           .sigev_value.sival_ptr = (void *)(uintptr_t)PROCESS_VALUE };
    struct sigevent et = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 3,
                           .sigev_value.sival_int = (int)THREAD_VALUE };
    struct sigevent eo = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
    struct sigevent en = { .sigev_notify = SIGEV_NONE, .sigev_value.sival_int = 5 };
    while (!atomic_load(&worker_tid))
        usleep(1000);
    et._sigev_un._tid = atomic_load(&worker_tid);
    struct itimerspec per = { { 0, 20000000 }, { 0, 20000000 } };
    struct itimerspec tper = { { 0, 30000000 }, { 0, 30000000 } };
    struct itimerspec hour = { { 0, 0 }, { HOUR, 0 } }, two = { { 0, 0 }, { 2 * HOUR, 0 } };
    if (timer_create(CLOCK_MONOTONIC, &ep, &tp) || timer_create(CLOCK_MONOTONIC, &et, &tt) ||
        timer_create(CLOCK_MONOTONIC, &eo, &once) || timer_create(CLOCK_REALTIME, &en, &none) ||
        timer_settime(tp, 0, &per, NULL) || timer_settime(tt, 0, &tper, NULL) ||
        timer_settime(once, 0, &hour, NULL) || timer_settime(none, 0, &two, NULL) ||
        timer_create(CLOCK_THREAD_CPUTIME_ID, &en, &cpu) || timer_settime(cpu, 0, &hour, NULL))
        return 1;

    prog_work(atol(argv[1]), argv[2]);

    CHECK(listed(tp, SIGRTMIN + 2, PROCESS_VALUE, CLOCK_MONOTONIC, "signal/pid") &&
          listed(tt, SIGRTMIN + 3, THREAD_VALUE, CLOCK_MONOTONIC, "signal/tid") &&
          listed(once, SIGUSR2, 0, CLOCK_MONOTONIC, "signal/pid") &&
          listed(none, 0, 5, CLOCK_REALTIME, "none/pid"), "timers listed under their ids");
    struct itimerspec its;
    CHECK(timer_gettime(tp, &its) == 0 && its.it_interval.tv_sec == 0 &&
          its.it_interval.tv_nsec == 20000000 && timer_gettime(tt, &its) == 0 &&
          its.it_interval.tv_nsec == 30000000, "periodic intervals");
    CHECK(arrives(&proc_hits, 5) && !atomic_load(&proc_bad), "process timer signals arrive");
    CHECK(arrives(&thread_hits, 5) && !atomic_load(&thread_bad), "thread timer signals arrive");
    double o = left(once), n = left(none);
    /* generous: the work takes seconds, a restore adds none of its own */
    CHECK(o > HOUR - 600 && o < HOUR, "one-shot time left");
    CHECK(n > 2 * HOUR - 600 && n < 2 * HOUR, "SIGEV_NONE time left");
    FILE *f = fopen(argv[3], "w");
    if (f) {
        fprintf(f, "%lld %lld\n", (long long)(o * 1000), (long long)(n * 1000));
        fclose(f);
    }
    atomic_store(&stop, 1);
    pthread_kill(worker, SIGRTMIN + 3);
    pthread_join(worker, NULL);
    return 0;
}
