/* vdso_clock.c - for the restore tests: reads the clocks through the vDSO (clock_gettime,
 * gettimeofday, time) and asks sched_getcpu in a busy loop, then reports whether they still
 * give sane answers. After a restore they run on the vDSO moved to the saved addresses.
 *   vdso_clock ITERATIONS [PROGRESS_FILE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
    return 0;
}
