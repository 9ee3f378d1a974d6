/* limits.c - for the restore tests: a program at one of the restorer's limits, hashing for a
 * while and checking at the end that what it set up is still there.
 *   limits fds N ITERATIONS PROGRESS_FILE       N duplicates of /dev/null (RLIMIT_NOFILE
 *                                               raised to its hard limit)
 *   limits noreserve GIB ITERATIONS PROGRESS_FILE  GIB GiB mapped read-write MAP_NORESERVE,
 *                                               a few MiB of it written
 * Prints the hash and what it checked; exits 1 when something is missing.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t work(long n, const char *progress)
{
    uint64_t h = 1469598103934665603ull;
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 1000; k++)
            h = (h ^ (uint64_t)(i + k)) * 1099511628211ull;
        if (i == n / 10) {
            int pf = open(progress, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (pf >= 0)
                close(pf);
        }
    }
    return h;
}

static int fds(long n, long iters, const char *progress)
{
    struct rlimit rl;
    int last = -1;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int null = open("/dev/null", O_RDONLY);
    int *got = calloc((size_t)n, sizeof *got);      /* not contiguous: the library has some */
    for (long i = 0; i < n && got; i++) {
        if ((got[i] = dup(null)) < 0) {
            perror("dup");
            return 1;
        }
        last = got[i];
    }
    uint64_t h = work(iters, progress);
    for (long i = 0; i < n; i++)
        if (fcntl(got[i], F_GETFD) < 0) {
            printf("descriptor %d is gone\n", got[i]);
            return 1;
        }
    /* the numbers differ under crsnap run, whose library has descriptors of its own */
    printf("%016llx: %ld descriptors, the highest above %d, all open\n", (unsigned long long)h,
           n, last > 4096 ? 4096 : last);
    return 0;
}

static int noreserve(long gib, long iters, const char *progress)
{
    size_t len = (size_t)gib << 30, step = len / 4;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (size_t at = 0; at < len; at += step)               /* 1 MiB at four places */
        for (size_t i = 0; i < (1u << 20); i++)
            p[at + i] = (unsigned char)(i * 31 + at / step);
    uint64_t h = work(iters, progress);
    for (size_t at = 0; at < len; at += step)
        for (size_t i = 0; i < (1u << 20); i++)
            if (p[at + i] != (unsigned char)(i * 31 + at / step)) {
                printf("byte %zu differs\n", at + i);
                return 1;
            }
    p[len - 1] = 1;                                         /* still writable at its end */
    printf("%016llx: %ld GiB reserved nowhere, written parts intact\n", (unsigned long long)h,
           gib);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    if (!strcmp(argv[1], "fds"))
        return fds(atol(argv[2]), atol(argv[3]), argv[4]);
    if (!strcmp(argv[1], "noreserve"))
        return noreserve(atol(argv[2]), atol(argv[3]), argv[4]);
    return 2;
}
