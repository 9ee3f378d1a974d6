/* bench/bench_lazy.c - lazy restore (crsnap restore --lazy) against the eager restore of the
 * same image, alternating, in the same run. bench_ckpt fills N MiB of mixed pages and keeps one
 * checkpoint; restored, it writes the time it runs again and waits, without touching its
 * memory, until told to check it. Figures: time to running (from the start of `crsnap restore`
 * until the process runs) and time until every page is in (until the helper exits), each
 * against the eager restore's time to running, when every page is in too.
 *
 * usage: bench_lazy [-s MiB,...] [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXR 16

static char img[4096], stamp[4096], go[4096], pidfile[4096];

static int touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static uint64_t read_u64(const char *path)
{
    uint64_t t = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &t, sizeof t) != (ssize_t)sizeof t)
            t = 0;
        close(fd);
    }
    return t;
}

/* Waits up to ms for path to hold something; 0 when it does. */
static int wait_file(const char *path, int ms)
{
    for (; ms > 0; ms--) {
        if (bench_file_size(path) > 0)
            return 0;
        usleep(1000);
    }
    return -1;
}

/* One eager restore: seconds to running (every page is in by then), or 0. */
static double eager(void)
{
    char *argv[] = {(char *)bench_bin(), "restore", "-q", "--trust-image", img, NULL};
    unlink(stamp);
    touch(go);
    uint64_t t0 = bench_now_ns();
    if (!bench_run(argv, NULL, "-", NULL))
        return 0;
    uint64_t t = read_u64(stamp);
    return t > t0 ? (t - t0) / 1e9 : 0;
}

/* One lazy restore: seconds to running and until the helper is done, or 0. */
static int lazy(double *running, double *complete, char *why, size_t whylen)
{
    unlink(stamp);
    unlink(go);
    unlink(pidfile);
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        setenv("CRSNAP_TEST_LAZY_PIDFILE", pidfile, 1);
        execl(bench_bin(), bench_bin(), "restore", "-q", "--lazy", "--trust-image", img,
              (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int rc = -1, st = 0;
    if (wait_file(pidfile, 60000) < 0) {
        snprintf(why, whylen, "no lazy helper started (userfaultfd refused?)");
        goto out;
    }
    FILE *f = fopen(pidfile, "r");
    int hp = 0;
    if (f) {
        if (fscanf(f, "%d", &hp) != 1)
            hp = 0;
        fclose(f);
    }
    int pfd = hp > 0 ? (int)syscall(SYS_pidfd_open, hp, 0) : -1;
    if (pfd >= 0) {
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        while (poll(&p, 1, -1) < 0 && errno == EINTR) {}
        close(pfd);
    }
    uint64_t done = bench_now_ns();
    if (wait_file(stamp, 60000) < 0) {
        snprintf(why, whylen, "the restored process did not run");
        goto out;
    }
    uint64_t t = read_u64(stamp);
    *running = t > t0 ? (t - t0) / 1e9 : 0;
    *complete = (done - t0) / 1e9;
    rc = 0;
out:
    touch(go);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st))) {
        snprintf(why, whylen, "the lazily restored process failed (status 0x%x%s)", st,
                 WIFEXITED(st) && WEXITSTATUS(st) == 3 ? ": memory differed" : "");
        rc = -1;
    }
    return rc;
}

static void run_size(size_t mib, int reps)
{
    char exe[4096], smib[32], kase[64], note[300], why[200] = "";
    struct bench_stat none = {0, 0, 0, 0};

    snprintf(exe, sizeof exe, "%s/bench_ckpt", bench_self_dir());
    snprintf(smib, sizeof smib, "%zu", mib);
    snprintf(kase, sizeof kase, "mixed %zu MiB", mib);
    char *mk[] = {exe, "-s", smib, "-f", "mixed", "-x", img, "-t", stamp, "-w", go, NULL};
    unlink(img);
    touch(go);
    if (!bench_run(mk, NULL, "-", NULL) || bench_file_size(img) == 0) {
        bench_row("lazy", kase, "time to running", "ms", none, "eager restore", none, "< 50 ms",
                  "n/a", "no image: checkpoints not available");
        return;
    }
    double er[MAXR], lr[MAXR], lc[MAXR];
    int ne = 0, nl = 0;
    for (int r = 0; r < reps && r < MAXR; r++) {
        double e = eager(), run = 0, comp = 0;
        if (e > 0)
            er[ne++] = e * 1e3;
        if (lazy(&run, &comp, why, sizeof why) == 0) {
            lr[nl] = run * 1e3;
            lc[nl++] = comp * 1e3;
        }
    }
    struct bench_stat e = bench_stats(er, ne);
    if (!nl) {
        bench_row("lazy", kase, "time to running", "ms", none, "eager restore", e, "< 50 ms",
                  "n/a", why);
        unlink(img);
        return;
    }
    struct bench_stat r = bench_stats(lr, nl), c = bench_stats(lc, nl);
    snprintf(note, sizeof note, "image %.0f MiB; baseline: eager restore of the same image "
             "until the process runs", bench_file_size(img) / MIB);
    bench_row("lazy", kase, "time to running", "ms", r, "eager restore", e, "< 50 ms",
              r.med < 50 ? "met" : "missed", note);
    bench_row("lazy", kase, "time until every page is in", "ms", c, "eager restore", e,
              "<= 1.2x", e.n && c.med <= 1.2 * e.med ? "met" : "missed",
              "until the helper exits; the process waits meanwhile, touching nothing");
    unlink(img);
}

int main(int argc, char **argv)
{
    long sizes[8];
    int nsizes = 0, reps = bench_reps(3, 2), opt;
    if (bench_quick()) {
        sizes[nsizes++] = 256;
        sizes[nsizes++] = 1024;
    } else {
        sizes[nsizes++] = 1024;
        sizes[nsizes++] = 4096;
        sizes[nsizes++] = 8192;
    }
    while ((opt = getopt(argc, argv, "s:r:")) != -1) {
        switch (opt) {
        case 's': nsizes = bench_parse_list(optarg, sizes, 8); break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : reps; break;
        default:
            fprintf(stderr, "usage: bench_lazy [-s MiB,...] [-r REPS]\n");
            return 2;
        }
    }
    snprintf(img, sizeof img, "%s/lazy.crsnap", bench_dir());
    snprintf(stamp, sizeof stamp, "%s/lazy.stamp", bench_dir());
    snprintf(go, sizeof go, "%s/lazy.go", bench_dir());
    snprintf(pidfile, sizeof pidfile, "%s/lazy.helper", bench_dir());
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < nsizes; i++) {
        size_t mib = bench_cap_size((size_t)sizes[i] << 20, 2.0) >> 20;
        if (mib < (size_t)sizes[i])
            bench_note("lazy", "%ld MiB capped to %zu MiB by free memory", sizes[i], mib);
        fprintf(stderr, "bench_lazy: %zu MiB\n", mib);
        run_size(mib, reps);
    }
    unlink(stamp);
    unlink(go);
    unlink(pidfile);
    return 0;
}
