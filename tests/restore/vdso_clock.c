/* vdso_clock.c - for the restore tests: reads the clocks through the vDSO (clock_gettime,
 * gettimeofday, time) and asks sched_getcpu in a busy loop, then reports whether they still
 * give sane answers. After a restore they run on the vDSO moved to the saved addresses. It also
 * checks that the kernel still updates its rseq area and that the main stack still grows.
 *   vdso_clock ITERATIONS [PROGRESS_FILE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/rseq.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void on_winch(int sig)
{
    (void)sig;
}

/* Uses about depth KiB of stack below the current frame. */
static __attribute__((noinline)) int deep(int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    if (depth == 0)
        return pad[0];
    return deep(depth - 1) + pad[0];
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *progress = argc > 2 ? argv[2] : NULL;
    struct timespec prev, now, rt;
    long bad = 0, cpubad = 0, ncpu = sysconf(_SC_NPROCESSORS_CONF);
    unsigned long long x = 1;

    clock_gettime(CLOCK_MONOTONIC, &prev);
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 200; k++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        if (clock_gettime(CLOCK_MONOTONIC, &now) ||
            now.tv_sec < prev.tv_sec || (now.tv_sec == prev.tv_sec && now.tv_nsec < prev.tv_nsec))
            bad++;
        prev = now;
        int cpu = sched_getcpu();
        if (cpu < 0 || cpu >= ncpu)
            cpubad++;
        if (progress && i == n / 10) {
            int fd = open(progress, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                close(fd);
        }
    }
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &rt);
    gettimeofday(&tv, NULL);
    long skew = (long)tv.tv_sec - (long)rt.tv_sec;
    int sane = rt.tv_sec > 1600000000 && skew >= -1 && skew <= 1 && time(NULL) >= rt.tv_sec;
    printf("monotonic %s, realtime %s, cpu %s, %llx\n", bad ? "broken" : "ok",
           sane ? "ok" : "broken", cpubad ? "broken" : "ok", x);
    /* glibc registers rseq: while it is registered the kernel rewrites cpu_id (offset 4) on
     * its way back to user space after a signal. */
    int rseq_ok = 1;
    if (__rseq_size) {
        char *tp;
        __asm__("mov %%fs:0, %0" : "=r"(tp));
        volatile int *cpu_id = (volatile int *)(tp + __rseq_offset + 4);
        int saved = *cpu_id;
        signal(SIGWINCH, on_winch);
        *cpu_id = -77;
        raise(SIGWINCH);
        rseq_ok = *cpu_id >= 0;
        if (!rseq_ok)
            *cpu_id = saved;
    }
    printf("rseq %s\n", rseq_ok ? "ok" : "broken");
    printf("deep stack %d\n", deep(4096));
    return 0;
}
