/* bench/bench_ckpt.c - the checkpointed process of the write and restore benchmarks. It fills
 * N MiB with a known pattern, optionally dumps those bytes to a file (for the zstd baselines),
 * takes checkpoints with crs_checkpoint() and prints one line per checkpoint:
 *   CKPT pause_ns write_ns memory_covered memory_saved bytes_written child_cpu_ns
 * (child_cpu_ns: user + system time of the reaped snapshot child, io_uring workers included)
 * With -x it takes one checkpoint and keeps it; when that image is restored, the process checks
 * a word of every page and exits at once (0 if the memory came back as it was, 3 if not).
 * With -t FILE as well, the restored process first writes to FILE the CLOCK_MONOTONIC time (ns)
 * at which it runs again, so that restore-to-running is timed without the check; with -w FILE,
 * it then waits until FILE exists before it checks its memory (so that a lazy restore fills it
 * undisturbed).
 *
 * usage: bench_ckpt -s MiB [-f mixed|touch|random] [-H] [-r REPS] [-d DUMPFILE] [-x IMAGE]
 *                   [-t FILE] [-w FILE]
 */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t sample_sum(const void *p, size_t size)
{
    uint64_t s = 0;
    for (size_t off = 0; off < size; off += 4096)
        s = s * 31 + ((const uint64_t *)((const char *)p + off))[off / 4096 % 512];
    return s;
}

static uint64_t children_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

int main(int argc, char **argv)
{
    size_t size = 64u << 20;
    enum bench_fill fill = FILL_MIXED;
    int thp = 0, reps = 1, opt;
    const char *dump = NULL, *keep = NULL, *stamp = NULL, *go = NULL;
    while ((opt = getopt(argc, argv, "s:f:Hr:d:x:t:w:")) != -1) {
        switch (opt) {
        case 's': size = (size_t)strtoul(optarg, NULL, 10) << 20; break;
        case 'f': fill = !strcmp(optarg, "touch") ? FILL_TOUCH : !strcmp(optarg, "random") ? FILL_RANDOM : FILL_MIXED; break;
        case 'H': thp = 1; break;
        case 'r': reps = atoi(optarg); break;
        case 'd': dump = optarg; break;
        case 'x': keep = optarg; break;
        case 't': stamp = optarg; break;
        case 'w': go = optarg; break;
        default:
            fprintf(stderr, "usage: bench_ckpt -s MiB [-f mixed|touch|random] [-H] [-r REPS] [-d FILE] [-x IMAGE]\n");
            return 2;
        }
    }
    void *p = bench_map(size, thp, fill, 42);
    if (!p)
        return 1;
    if (dump) {
        int rc = bench_dump(dump, p, size);
        if (rc < 0) {
            fprintf(stderr, "bench_ckpt: %s: %s\n", dump, strerror(-rc));
            return 1;
        }
    }
    struct bench_crs crs;
    if (bench_crs_open(&crs, bench_dir()) < 0) {
        fprintf(stderr, "bench_ckpt: %s\n", crs.why);
        printf("UNAVAILABLE %s\n", crs.why);
        return 0;
    }
    if (keep) {
        /* The restored process must not depend on files that may be gone by then (a log the
         * caller redirected stderr to): it talks through its exit status only. */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0), dup2(null, 1), dup2(null, 2);
            close(null);
        }
        uint64_t before = sample_sum(p, size);
        int rc = crs.checkpoint(keep);
        if (rc == CRS_RESTART) {
            if (stamp) {
                uint64_t t = bench_now_ns();
                int fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || write(fd, &t, sizeof t) != (ssize_t)sizeof t)
                    _exit(4);
                close(fd);
            }
            while (go && access(go, F_OK) != 0)
                usleep(1000);
            _exit(sample_sum(p, size) == before ? 0 : 3);
        }
        if (rc < 0)
            return 1;
        reps = 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/ckpt-%d.crsnap", bench_dir(), (int)getpid());
    for (int r = 0; r < reps + (keep ? 1 : 0); r++) {
        uint64_t cpu0 = children_cpu_ns();
        int rc = keep ? 0 : crs.checkpoint(path);
        uint64_t cpu = children_cpu_ns() - cpu0;
        struct crs_result res;
        memset(&res, 0, sizeof res);
        if (rc < 0 || crs.last(&res) < 0) {
            fprintf(stderr, "bench_ckpt: crs_checkpoint: %s %s\n", strerror(-rc), res.message);
            return 1;
        }
        printf("CKPT %lu %lu %lu %lu %lu %lu\n", (unsigned long)res.pause_ns, (unsigned long)res.write_ns,
               (unsigned long)res.memory_covered, (unsigned long)res.memory_saved,
               (unsigned long)res.bytes_written, (unsigned long)cpu);
        fflush(stdout);
        if (!keep)
            unlink(path);
    }
    return 0;
}
