/* examples/sigdump.c - a long-running program that writes an image of itself whenever it gets
 * SIGUSR1 (crs_config.signal), the way one would dump a job before maintenance. Its table
 * update is a critical section, so an image never holds a half-made update.
 *
 *   usage: sigdump [DIR] [--primes N] [--until-dumped]
 *
 * Try: ./sigdump & kill -USR1 $!   (or: crsnap checkpoint -w $!)
 * --until-dumped keeps it alive until at least one image was written (used by the tests).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <crsnap.h>

/* Two fields that must agree: an image taken between the two stores would be inconsistent. */
static struct { long count; long last; } table;

static int is_prime(long n)
{
    if (n < 2)
        return 0;
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

static void nap(void)
{
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
}

/* Prints each newly written image. Returns 1 if there was one. */
static int report_dump(uint64_t *last_seq)
{
    struct crs_result res;
    if (crs_last_checkpoint(&res) < 0 || res.seq == *last_seq)
        return 0;
    *last_seq = res.seq;
    if (res.error)
        printf("dump failed: %s\n", res.message);
    else
        printf("dump written: %s (%llu bytes)\n", res.path, (unsigned long long)res.bytes_written);
    return res.error == 0;
}

int main(int argc, char **argv)
{
    struct crs_config cfg = {.dir = "crsnap-images", .signal = SIGUSR1};
    long want = 200000;
    int until_dumped = 0, dumps = 0, r;
    uint64_t last_seq = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--primes") && i + 1 < argc)
            want = atol(argv[++i]);
        else if (!strcmp(argv[i], "--until-dumped"))
            until_dumped = 1;
        else if (argv[i][0] != '-')
            cfg.dir = argv[i];
        else {
            fprintf(stderr, "usage: sigdump [DIR] [--primes N] [--until-dumped]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    r = crs_init(&cfg);
    if (r < 0 && r != -EALREADY) {
        fprintf(stderr, "sigdump: crs_init: %s\n", strerror(-r));
        return 1;
    }
    printf("sigdump: pid %d ready; 'kill -USR1 %d' writes an image to %s\n", (int)getpid(),
           (int)getpid(), cfg.dir);

    for (long n = 2; table.count < want; n++) {
        if (!is_prime(n))
            continue;
        crs_enter_cs();
        table.count++;
        table.last = n;
        crs_leave_cs();
        if (table.count % 1000 == 0)
            dumps += report_dump(&last_seq);
    }
    for (int waited = 0; until_dumped && dumps == 0 && waited < 3000; waited++) {
        nap();
        dumps += report_dump(&last_seq);
    }
    printf("result: %ld primes, the last is %ld\n", table.count, table.last);
    return until_dumped && dumps == 0 ? 1 : 0;
}
