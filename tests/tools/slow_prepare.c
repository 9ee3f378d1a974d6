/* tests/tools/slow_prepare.c - a program whose checkpoints take a while to prepare, so that a
 * test can send it signals while its image is being taken: "slow_prepare N MS PREPARE_MS"
 * prints "step I" every MS milliseconds for N steps, then "done"; an async handler spends
 * PREPARE_MS in every prepare phase while the program's own thread goes on.
 */
#include <crsnap.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int slow(crs_phase phase, void *arg)
{
    if (phase == CRS_PREPARE)
        sleep_ms(*(long *)arg);
    return 0;
}

int main(int argc, char **argv)
{
    long n, ms;
    static long prepare_ms;

    if (argc != 4) {
        fprintf(stderr, "usage: slow_prepare N MS PREPARE_MS\n");
        return 2;
    }
    n = atol(argv[1]);
    ms = atol(argv[2]);
    prepare_ms = atol(argv[3]);
    if (crs_register(slow, &prepare_ms, CRS_ASYNC) < 0) {
        fprintf(stderr, "slow_prepare: crs_register failed (not run under crsnap?)\n");
        return 1;
    }
    for (long i = 1; i <= n; i++) {
        printf("step %ld\n", i);
        fflush(stdout);
        sleep_ms(ms);
    }
    printf("done\n");
    return 0;
}
