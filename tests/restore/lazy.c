/* lazy.c - for the lazy restore tests: MIB MiB of pages (a third zero, a third patterned, a
 * third random), a hash of each recorded before its work. After its work it checks, in this
 * order, the ways a page can first be touched after a lazy restore: by a child it forks (which
 * checks every page), by the kernel (write() from memory, read() into memory), by mremap and
 * madvise(DONTNEED) of pages not touched yet, and by two threads checking halves; then every
 * page. It prints the same lines whether it was restored in between or not.
 *   lazy MIB ITERATIONS PROGRESS_FILE
 *   lazy MIB ITERATIONS PROGRESS_FILE HALF_FILE GO_FILE: after its work, checks the first half
 *     of the pages, creates HALF_FILE, waits for GO_FILE and checks the rest (the test kills
 *     the helper in between: the process must die of SIGBUS, never see a zero page where data
 *     was, which it would report as BROKEN and exit 3).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "prog.h"

#define PG 4096u
#define IO (32u << 10)

static unsigned char *mem;
static uint64_t *hashes;
static size_t npages;

static uint64_t hash(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static void fill(void)
{
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < npages; i++) {
        uint64_t *w = (uint64_t *)(mem + i * PG);
        for (unsigned j = 0; j < PG / 8; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            w[j] = i % 3 == 0 ? 0 : i % 3 == 1 ? i * 1000003u + j : x;
        }
        hashes[i] = hash(w, PG);
    }
}

/* Pages [a, b) of base (mem, or where they were moved) as recorded: the count that are not. */
static size_t bad_pages(const unsigned char *base, size_t a, size_t b)
{
    size_t bad = 0;
    for (size_t i = a; i < b; i++)
        bad += hash(base + (i - a) * PG, PG) != hashes[i];
    return bad;
}

static void *half(void *arg)
{
    size_t h = (size_t)(uintptr_t)arg;
    size_t a = h ? npages / 2 : npages / 4, b = h ? npages : npages / 2;
    return (void *)(uintptr_t)bad_pages(mem + a * PG, a, b);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    npages = (size_t)atol(argv[1]) * (1u << 20) / PG;
    mem = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    hashes = malloc(npages * sizeof *hashes);
    if (mem == MAP_FAILED || !hashes || npages < 64)
        return 1;
    fill();
    prog_work(atol(argv[2]), argv[3]);

    if (argc >= 6) {
        size_t bad = bad_pages(mem, 0, npages / 2);
        int f = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (f >= 0)
            close(f);
        while (access(argv[5], F_OK) != 0)
            usleep(10000);
        bad += bad_pages(mem + npages / 2 * PG, npages / 2, npages);
        CHECK(bad == 0, "every page");
        return bad ? 3 : 0;
    }

    /* a child forked before most pages are back checks them all */
    pid_t child = fork();
    if (child == 0)
        _exit(bad_pages(mem, 0, npages) ? 3 : 0);
    int st = 0;
    waitpid(child, &st, 0);
    CHECK(child > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "forked child's memory");

    /* the kernel reads pages not touched yet: write() from them */
    size_t at = npages / 8 + 1;             /* a patterned page and the ones after it */
    int p[2];
    unsigned char buf[IO];
    int ok = pipe(p) == 0 && write(p[1], mem + at * PG, IO) == (ssize_t)IO &&
             read(p[0], buf, IO) == (ssize_t)IO && bad_pages(buf, at, at + IO / PG) == 0;
    CHECK(ok, "write() from memory");
    /* and writes into them: read() into pages not touched yet, whose neighbours stay */
    size_t into = npages / 8 + 32;
    for (unsigned i = 0; i < IO; i++)
        buf[i] = (unsigned char)(i * 7);
    ok = write(p[1], buf, IO) == (ssize_t)IO && read(p[0], mem + into * PG, IO) == (ssize_t)IO &&
         !memcmp(mem + into * PG, buf, IO) && bad_pages(mem + (into + IO / PG) * PG,
                                                       into + IO / PG, into + IO / PG + 4) == 0;
    CHECK(ok, "read() into memory");
    for (size_t i = into; i < into + IO / PG; i++)   /* what the pages hold now */
        hashes[i] = hash(mem + i * PG, PG);

    /* pages not touched yet, moved: they are the same at their new place */
    size_t mv = npages / 8 + 48, nmv = 8;
    void *to = mmap(NULL, nmv * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *moved = to == MAP_FAILED ? MAP_FAILED
                                   : mremap(mem + mv * PG, nmv * PG, nmv * PG,
                                            MREMAP_MAYMOVE | MREMAP_FIXED, to);
    CHECK(moved != MAP_FAILED && bad_pages(moved, mv, mv + nmv) == 0, "mremap of memory");
    if (moved != MAP_FAILED)    /* and back, for the checks below */
        mremap(moved, nmv * PG, nmv * PG, MREMAP_MAYMOVE | MREMAP_FIXED, mem + mv * PG);

    /* pages dropped before they were back read as zeros, as without a restore */
    size_t dn = npages / 8 + 64, ndn = 4;
    madvise(mem + dn * PG, ndn * PG, MADV_DONTNEED);
    static const unsigned char zero[PG];
    ok = 1;
    for (size_t i = dn; i < dn + ndn; i++) {
        ok &= !memcmp(mem + i * PG, zero, PG);
        hashes[i] = hash(zero, PG);
    }
    CHECK(ok, "madvise(DONTNEED) of memory");

    /* two threads, each a half (the first quarter is left for the last check) */
    pthread_t t[2];
    void *r0 = (void *)1, *r1 = (void *)1;
    ok = !pthread_create(&t[0], NULL, half, (void *)0) &&
         !pthread_create(&t[1], NULL, half, (void *)1) && !pthread_join(t[0], &r0) &&
         !pthread_join(t[1], &r1) && !r0 && !r1;
    CHECK(ok, "threads' memory");
    CHECK(bad_pages(mem, 0, npages) == 0, "every page");
    return 0;
}
