/* incr.c - a program for the incremental image tests (incr.sh): it rewrites, discards, moves,
 * remaps and reprotects parts of its memory in rounds, while a second thread rewrites pages in
 * a tight loop, so that checkpoints taken meanwhile see memory change under them. Once the
 * file DIR/check exists it stops, compares every page with what it knows it wrote and writes
 * one line per kind of memory ("... ok" or "... BROKEN") into DIR/result, then exits.
 *
 * usage: incr DIR
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "prog.h"

#define PG 4096u
#define NA 8192u                /* pages rewritten and discarded in rounds (32 MiB) */
#define NW 1024u                /* pages the writer thread rewrites in a loop (4 MiB) */
#define NM 16u                  /* pages moved every round */
#define NX 16u                  /* pages unmapped and mapped again every round */
#define NS 64u                  /* shared pages */

static char *A, *W, *S, *X, *M, *malt[2];
static atomic_long done = -1;
static atomic_int stop;
static long R;                  /* rounds finished */

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

static void fill(char *page, uint64_t seed)
{
    uint64_t *w = (uint64_t *)page;
    for (unsigned i = 0; i < PG / 8; i++)
        w[i] = mix(seed, i) | 1;        /* never zero */
}

static int holds(const char *page, uint64_t seed)
{
    const uint64_t *w = (const uint64_t *)page;
    for (unsigned i = 0; i < PG / 8; i++)
        if (w[i] != (mix(seed, i) | 1))
            return 0;
    return 1;
}

static int zero(const char *page)
{
    for (unsigned i = 0; i < PG; i++)
        if (page[i])
            return 0;
    return 1;
}

/* In round r (1...), page i of A is written (1), discarded (2), both (3: discarded last). */
static int event(uint64_t i, long r)
{
    uint64_t h = mix(i, (uint64_t)r);
    return (h % 1000 < 7) | ((h >> 20) % 1000 < 2) << 1;
}

static void *writer(void *arg)
{
    (void)arg;
    for (long k = 0; !atomic_load(&stop); k++) {
        fill(W + (k % NW) * PG, 1000000000ull + (uint64_t)k);
        atomic_store(&done, k);
    }
    return NULL;
}

static void round_once(long r)
{
    for (uint64_t i = 0; i < NA; i++) {
        int e = event(i, r);
        if (e & 1)
            fill(A + i * PG, mix(i, (uint64_t)r));
        if (e & 2)
            madvise(A + i * PG, PG, MADV_DONTNEED);
    }
    /* read-only and back: the written pages must stay known as written */
    mprotect(A, 256 * PG, PROT_READ);
    mprotect(A, 256 * PG, PROT_READ | PROT_WRITE);
    for (unsigned j = 0; j < NM; j++)
        fill(M + j * PG, mix(7000 + j, (uint64_t)r));
    M = mremap(M, NM * PG, NM * PG, MREMAP_MAYMOVE | MREMAP_FIXED, malt[r % 2]);
    munmap(X, NX * PG);
    X = mmap(X, NX * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    for (unsigned j = 0; j < NX; j += (r % 2) ? 2 : 1)
        fill(X + j * PG, mix(9000 + j, (uint64_t)r));
    for (unsigned j = 0; j < NS; j++)
        fill(S + j * PG, mix(5000 + j, (uint64_t)r));
}

static void check(void)
{
    long bad = 0;
    for (uint64_t i = 0; i < NA; i++) {
        long r = R;
        while (r > 0 && !event(i, r))
            r--;
        int ok = r == 0 ? holds(A + i * PG, mix(i, 0))
               : (event(i, r) & 2) ? zero(A + i * PG) : holds(A + i * PG, mix(i, (uint64_t)r));
        bad += !ok;
    }
    CHECK(bad == 0, "rewritten and discarded pages");
    if (bad)
        printf("%ld pages of %u wrong after %ld rounds\n", bad, NA, R);
    long k = atomic_load(&done);
    bad = 0;
    for (long p = 0; p < (long)NW; p++) {
        long last = k - ((k - p) % (long)NW + (long)NW) % (long)NW;
        bad += last < 0 ? !zero(W + p * PG) : !holds(W + p * PG, 1000000000ull + (uint64_t)last);
    }
    CHECK(bad == 0, "pages written in a tight loop");
    if (bad)
        printf("%ld pages of %u wrong at write %ld\n", bad, NW, k);
    bad = M != malt[R % 2];
    for (unsigned j = 0; j < NM && !bad; j++)
        bad += !holds(M + j * PG, mix(7000 + j, (uint64_t)R));
    CHECK(bad == 0, "moved pages");
    bad = 0;
    for (unsigned j = 0; j < NX; j++)
        bad += (R % 2 && j % 2) ? !zero(X + j * PG) : !holds(X + j * PG, mix(9000 + j, (uint64_t)R));
    CHECK(bad == 0, "mapped again pages");
    /* a shared anonymous region is read while the program runs on (not at the snapshot's
     * instant, as a fork does not copy it): it may hold a later round's writes */
    bad = 0;
    for (unsigned j = 0; j < NS; j++) {
        int ok = 0;
        for (long r = R; r <= R + 50 && !ok; r++)
            ok = holds(S + j * PG, mix(5000 + j, (uint64_t)r));
        bad += !ok;
    }
    CHECK(bad == 0, "shared pages");
}

int main(int argc, char **argv)
{
    char path[4096];
    pthread_t t;

    if (argc != 2)
        return 2;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    A = mmap(NULL, NA * PG, PROT_READ | PROT_WRITE, flags, -1, 0);
    W = mmap(NULL, NW * PG, PROT_READ | PROT_WRITE, flags, -1, 0);
    S = mmap(NULL, NS * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    X = mmap(NULL, NX * PG, PROT_READ | PROT_WRITE, flags, -1, 0);
    M = mmap(NULL, NM * PG, PROT_READ | PROT_WRITE, flags, -1, 0);
    char *alts = mmap(NULL, 5 * NM * PG, PROT_NONE, flags, -1, 0);
    if (A == MAP_FAILED || W == MAP_FAILED || S == MAP_FAILED || X == MAP_FAILED ||
        M == MAP_FAILED || alts == MAP_FAILED)
        return 3;
    malt[0] = alts + NM * PG;           /* a page-run apart: two regions, never merged */
    malt[1] = alts + 3 * NM * PG;
    for (uint64_t i = 0; i < NA; i++)
        fill(A + i * PG, mix(i, 0));
    pthread_create(&t, NULL, writer, NULL);
    snprintf(path, sizeof path, "%s/check", argv[1]);
    for (long r = 1;; r++) {
        if (access(path, F_OK) == 0)
            break;
        round_once(r);
        R = r;
        if (r == 2) {
            char p2[4096];
            snprintf(p2, sizeof p2, "%s/progress", argv[1]);
            prog_step(0, 0, p2);
        }
        struct timespec ts = { 0, 40 * 1000000 };
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    snprintf(path, sizeof path, "%s/result", argv[1]);
    if (!freopen(path, "w", stdout))
        return 4;
    check();
    return fclose(stdout) ? 5 : 0;
}
