/* bench/bench_restore.c - restore time (benchmark 3). bench_ckpt fills N MiB of mixed pages, dumps
 * them, takes one checkpoint and exits; `crsnap restore IMAGE` brings it back, the restored
 * process checks its memory and exits at once, and the whole command is timed. Baseline:
 * `zstd -d -T1` of the same bytes compressed with `zstd -1`, output to /dev/null.
 *
 * usage: bench_restore [-s MiB,...] [-r REPS]
 */
#define _GNU_SOURCE
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXR 32

/* What the restored process's own pid namespace costs a restore. As an ordinary user, whose
 * restore takes the saved pid in a new user + pid + mount namespace: `unshare -r` gives this
 * root run the same footing (set_tid is not allowed there, a nested namespace is). Baseline:
 * the same restore with --new-pid, alternating, same image. */
static void namespace_cost(const char *img, const char *kase, int reps)
{
    double ns[MAXR], np[MAXR];
    int nns = 0, nnp = 0;
    struct bench_stat none = {0, 0, 0, 0};

    for (int r = 0; r < reps && r < MAXR; r++) {
        char *own[] = {"unshare", "-r", (char *)bench_bin(), "restore", "-q", "--trust-image",
                       (char *)img, NULL};
        char *newpid[] = {"unshare", "-r", (char *)bench_bin(), "restore", "-q",
                          "--trust-image", "--new-pid", (char *)img, NULL};
        uint64_t t = bench_run(own, NULL, "-", NULL);
        if (t)
            ns[nns++] = t / 1e6;
        t = bench_run(newpid, NULL, "-", NULL);
        if (t)
            np[nnp++] = t / 1e6;
    }
    if (!nns || !nnp) {
        bench_row("restore", kase, "restore in its own pid namespace", "ms", none, "--new-pid",
                  none, "-", "n/a", "unshare -r or the namespace was not available");
        return;
    }
    struct bench_stat s = bench_stats(ns, nns), b = bench_stats(np, nnp);
    char note[200];
    snprintf(note, sizeof note, "whole command under unshare -r; the namespace adds %.1f ms",
             s.med - b.med);
    bench_row("restore", kase, "restore in its own pid namespace", "ms", s, "--new-pid", b, "-",
              "-", note);
}

static void run_size(size_t mib, int reps)
{
    char exe[4096], smib[32], img[4096], dump[4096], zst[4096], kase[64], note[256];
    snprintf(exe, sizeof exe, "%s/bench_ckpt", bench_self_dir());
    snprintf(smib, sizeof smib, "%zu", mib);
    snprintf(img, sizeof img, "%s/restore.crsnap", bench_dir());
    snprintf(dump, sizeof dump, "%s/restore.bin", bench_dir());
    snprintf(zst, sizeof zst, "%s/restore.zst", bench_dir());
    snprintf(kase, sizeof kase, "mixed %zu MiB", mib);
    struct bench_stat none = {0, 0, 0, 0};
    double gib = mib / 1024.0;

    char *mk[] = {exe, "-s", smib, "-f", "mixed", "-d", dump, "-x", img, NULL};
    char *zc[] = {"zstd", "-1", "-T1", "-q", "-f", "-o", zst, dump, NULL};
    int have = bench_run(mk, NULL, "-", NULL) && bench_file_size(img) > 0;
    if (!bench_run(zc, NULL, NULL, NULL)) {
        bench_note("restore", "zstd -1 of the dump failed");
        return;
    }
    unlink(dump);
    double z[MAXR], rs[MAXR], zcpu[MAXR], rc[MAXR];
    int nz = 0, nr = 0, status = 0;
    char why[200] = "";
    for (int r = 0; r < reps && r < MAXR; r++) {
        char *zd[] = {"zstd", "-d", "-T1", "-q", "-c", zst, NULL};
        uint64_t t = bench_run(zd, NULL, "-", NULL);
        if (t) {
            zcpu[nz] = gib / (bench_last_cpu_ns() / 1e9);
            z[nz++] = gib / (t / 1e9);
        }
        if (!have)
            continue;
        char *rst[] = {(char *)bench_bin(), "restore", img, NULL};
        t = bench_run(rst, NULL, "-", &status);
        if (t) {
            rc[nr] = gib / (bench_last_cpu_ns() / 1e9);
            rs[nr++] = gib / (t / 1e9);
        }
        else
            snprintf(why, sizeof why, "crsnap restore failed (status 0x%x%s)", status,
                     WIFEXITED(status) && WEXITSTATUS(status) == 3 ? ": memory differed" : "");
    }
    struct bench_stat zs = bench_stats(z, nz);
    if (!nr) {
        bench_row("restore", kase, "memory restored per s", "GiB/s", none, "zstd -d -T1", zs,
                  ">= 1.5 GiB/s", "n/a", have ? why : "no image: checkpoints not available");
    } else {
        struct bench_stat s = bench_stats(rs, nr);
        snprintf(note, sizeof note, "whole `crsnap restore` command, %.2f s per GiB; zstd -1 file %.0f MiB",
                 1.0 / s.med, bench_file_size(zst) / MIB);
        bench_row("restore", kase, "memory restored per s", "GiB/s", s, "zstd -d -T1", zs, ">= 1.5 GiB/s",
                  s.med >= 1.5 ? "met" : "missed", note);
        struct bench_stat c = bench_stats(rc, nr), zcs = bench_stats(zcpu, nz);
        bench_row("restore", kase, "restored per CPU second", "GiB/s", c, "zstd -d per CPU s", zcs, ">= 1.5 GiB/s",
                  c.med >= 1.5 ? "met" : "missed",
                  "user + system time of the restore and of the restored process until it exits; other load does not change it");
    }
    if (have && nr)
        namespace_cost(img, kase, reps);
    unlink(zst);
    unlink(img);
}

int main(int argc, char **argv)
{
    long sizes[8];
    int nsizes = 0, reps = bench_reps(5, 5), opt;
    sizes[nsizes++] = bench_quick() ? 256 : 1024;
    if (!bench_quick())
        sizes[nsizes++] = 4096;
    while ((opt = getopt(argc, argv, "s:r:")) != -1) {
        switch (opt) {
        case 's': nsizes = bench_parse_list(optarg, sizes, 8); break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : reps; break;
        default:
            fprintf(stderr, "usage: bench_restore [-s MiB,...] [-r REPS]\n");
            return 2;
        }
    }
    for (int i = 0; i < nsizes; i++) {
        size_t mib = bench_cap_size((size_t)sizes[i] << 20, 2.5) >> 20;
        if (mib < (size_t)sizes[i])
            bench_note("restore", "%ld MiB capped to %zu MiB by free memory", sizes[i], mib);
        fprintf(stderr, "bench_restore: %zu MiB\n", mib);
        run_size(mib, reps);
    }
    return 0;
}
