/* tests/tools/steps.c - a job that computes a known result in steps, for the --resume and
 * --exit-on tests: "steps N [MS]" runs N steps of about MS milliseconds of arithmetic each,
 * prints "step I SUM" after each (flushed: a resumed run continues the lines where the image
 * left them) and "result SUM" at the end. The output of an uninterrupted run is the reference.
 * Each step also appends its number to $STEPS_LOG when set, opened afresh each time, so the
 * test can count the steps done twice (work redone after a resume). $STEPS_BALLAST_MB adds that
 * many MiB of incompressible memory, for images of some size.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    long ms = argc > 2 ? atol(argv[2]) : 20;
    const char *log = getenv("STEPS_LOG");
    uint64_t sum = 1469598103934665603ull;
    const char *ballast = getenv("STEPS_BALLAST_MB");

    if (ballast && atol(ballast) > 0) {
        size_t len = (size_t)atol(ballast) << 20;
        uint64_t *b = malloc(len), x = 88172645463325252ull;
        if (!b)
            return 1;
        for (size_t i = 0; i < len / 8; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[i] = x;
        }
    }

    for (long i = 1; i <= n; i++) {
        /* The result depends on the step, not on the time spent: time only paces the loop. */
        uint64_t x = (uint64_t)i;
        for (int k = 0; k < 1000; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        sum = (sum ^ x) * 1099511628211ull;
        uint64_t end = now_ms() + (uint64_t)ms;
        while (now_ms() < end) {
        }
        printf("step %ld %016llx\n", i, (unsigned long long)sum);
        fflush(stdout);
        if (log) {
            char line[32];
            int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            int len = snprintf(line, sizeof line, "%ld\n", i);
            if (fd >= 0) {
                if (write(fd, line, (size_t)len) < 0) {
                }
                close(fd);
            }
        }
    }
    printf("result %016llx\n", (unsigned long long)sum);
    return 0;
}
