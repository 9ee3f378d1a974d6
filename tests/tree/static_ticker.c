/* tests/tree/static_ticker.c - linked with -static, so it cannot run the library: a job's
 * process that a checkpoint must leave out. "static_ticker N MS" prints "tick I" every MS
 * milliseconds, N times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100, ms = argc > 2 ? atol(argv[2]) : 20;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    for (long i = 1; i <= n; i++) {
        printf("tick %ld\n", i);
        fflush(stdout);
        nanosleep(&ts, NULL);
    }
    return 0;
}
