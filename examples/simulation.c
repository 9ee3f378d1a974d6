/* examples/simulation.c - a simulation loop protected by periodic checkpoints: crs_init() with an
 * interval makes crsnap take one every so often by itself, with no code in the loop. Killed at
 * any moment, the run goes on from the newest image with `crsnap restore DIR` and prints the
 * same result as an uninterrupted run. This example links the static library (libcrsnap.a).
 *
 *   usage: simulation [DIR] [--steps N] [--interval SECONDS] [--min-checkpoints K]
 *
 * --min-checkpoints makes the run last until K periodic checkpoints have been taken (tests use
 * it so the result does not depend on how fast the machine is).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <crsnap.h>

#define CELLS 512

/* Heat spreading along a ring of cells, in integers so that every run gets the same bits. */
static int64_t grid[2][CELLS];

static void step(int from)
{
    const int64_t *a = grid[from];
    int64_t *b = grid[!from];
    for (int i = 0; i < CELLS; i++) {
        int64_t left = a[(i + CELLS - 1) % CELLS], right = a[(i + 1) % CELLS];
        b[i] = a[i] + (left + right - 2 * a[i]) / 4;
    }
}

static uint64_t checksum(const int64_t *g)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < CELLS; i++)
        h = (h ^ (uint64_t)g[i]) * 0x100000001b3ull;
    return h;
}

static void nap(void)
{
    struct timespec ts = {0, 1000000};  /* stands for the real work of a step */
    nanosleep(&ts, NULL);               /* a checkpoint may cut it short (EINTR): harmless */
}

/* How many periodic checkpoints have finished since the start. */
static int count_checkpoints(uint64_t *last_seq)
{
    struct crs_result res;
    if (crs_last_checkpoint(&res) == 0 && res.error == 0 && res.seq != *last_seq) {
        *last_seq = res.seq;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct crs_config cfg = {.dir = "crsnap-images", .interval = 0.2};
    long steps = 2000, min_ckpts = 0;
    uint64_t last_seq = 0;
    int taken = 0, cur = 0, r;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--interval") && i + 1 < argc)
            cfg.interval = atof(argv[++i]);
        else if (!strcmp(argv[i], "--min-checkpoints") && i + 1 < argc)
            min_ckpts = atol(argv[++i]);
        else if (argv[i][0] != '-')
            cfg.dir = argv[i];
        else {
            fprintf(stderr, "usage: simulation [DIR] [--steps N] [--interval SECONDS]"
                            " [--min-checkpoints K]\n");
            return 2;
        }
    }
    if (steps < 1) {
        fprintf(stderr, "simulation: --steps wants a positive number\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    r = crs_init(&cfg);
    if (r < 0 && r != -EALREADY) {
        fprintf(stderr, "simulation: crs_init: %s\n", strerror(-r));
        return 1;
    }
    printf("simulation: %ld steps of %d cells, a checkpoint every %g s in %s\n", steps, CELLS,
           cfg.interval, cfg.dir);

    for (int i = 0; i < CELLS; i++)
        grid[0][i] = (i % 64 == 0) ? 1000000000 : 0;
    for (long s = 0; s < steps; s++) {
        step(cur);
        cur = !cur;
        nap();
        taken += count_checkpoints(&last_seq);
    }
    /* Only for tests: make sure the timer had its chance, however fast the loop was. */
    for (int waited = 0; taken < min_ckpts && waited < 30000; waited++) {
        nap();
        taken += count_checkpoints(&last_seq);
    }

    if (crs_restart_count() > 0)
        printf("simulation: this run was restored from an image %d time(s)\n",
               crs_restart_count());
    if (min_ckpts > 0)
        printf("checkpoints: %s %ld\n", taken >= min_ckpts ? "at least" : "FEWER THAN", min_ckpts);
    printf("result: %ld steps, checksum %016llx\n", steps,
           (unsigned long long)checksum(grid[cur]));
    return 0;
}
