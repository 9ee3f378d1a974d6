/* memfd.c - for the restore tests: memfds, as Wayland clients, systemd and JITs use them. One
 * is sealable and sealed against shrinking and growing once filled, and mapped twice, shared
 * (one mapping writable, one read-only, as a JIT's double mapping); one is not sealable (it has
 * F_SEAL_SEAL); a second descriptor of the first reads it at its own offset; and one is only
 * mapped, twice, its descriptor closed. The work writes into the sealed one in place all along,
 * through its descriptor. At the end it checks names, seals, contents and offsets, and that the
 * mappings and the descriptor still share their pages, and prints the same lines whether it
 * was restored in between or not.
 *   memfd ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prog.h"

#define SIZE 65536
#define STEPS 100

static int named(int fd, const char *want)
{
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = '\0';
    return !strcmp(target, want);
}

int main(int argc, char **argv)
{
    static char buf[SIZE], want[SIZE];
    char link[64];

    if (argc < 3)
        return 2;
    long n = atol(argv[1]);
    int a = memfd_create("crsnap-sealed", MFD_ALLOW_SEALING);
    int u = memfd_create("crsnap-plain", 0);
    if (a < 0 || u < 0)
        return 1;
    for (int i = 0; i < SIZE; i++)
        want[i] = (char)('A' + i % 26);
    if (write(a, want, SIZE) != SIZE || fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0 ||
        write(u, "plain", 5) != 5)
        return 1;
    snprintf(link, sizeof link, "/proc/self/fd/%d", a);
    int b = open(link, O_RDONLY);
    if (b < 0 || lseek(b, 100, SEEK_SET) != 100)
        return 1;
    char *rw = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
    const char *ro = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, a, 0);
    int only = memfd_create("crsnap-mapped-only", 0);
    if (rw == MAP_FAILED || ro == MAP_FAILED || only < 0 || ftruncate(only, 8192) < 0)
        return 1;
    char *m1 = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, only, 0);
    char *m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, only, 4096);
    if (m1 == MAP_FAILED || m2 == MAP_FAILED)
        return 1;
    close(only);
    memcpy(m1 + 4096, "through one", 11);

    /* the work, in steps; each writes one byte in place through the descriptor */
    for (int step = 0; step < STEPS; step++) {
        prog_work(n / STEPS, step == STEPS / 10 ? argv[2] : NULL);
        char c = (char)('a' + step % 26);
        if (pwrite(a, &c, 1, step) != 1)       /* in place: the seals allow it */
            return 1;
    }
    for (int s = 0; s < STEPS; s++)
        want[s] = (char)('a' + s % 26);

    CHECK(named(a, "/memfd:crsnap-sealed (deleted)") && named(u, "/memfd:crsnap-plain (deleted)"),
          "names");
    CHECK(fcntl(a, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW), "seals");
    CHECK(fcntl(u, F_GET_SEALS) == F_SEAL_SEAL, "not sealable");
    CHECK(write(a, "x", 1) < 0 && errno == EPERM && ftruncate(a, 10) < 0, "seals hold");
    CHECK(pread(a, buf, SIZE, 0) == SIZE && !memcmp(buf, want, SIZE), "contents");
    CHECK(lseek(a, 0, SEEK_CUR) == SIZE, "writer offset");
    CHECK(read(b, buf, 5) == 5 && !memcmp(buf, want + 100, 5), "reader offset");
    CHECK(pread(u, buf, 5, 0) == 5 && !memcmp(buf, "plain", 5) && lseek(u, 0, SEEK_CUR) == 5,
          "plain contents");
    CHECK(!memcmp(rw, want, SIZE) && !memcmp(ro, want, SIZE), "mappings see the writes");
    rw[SIZE - 1] = '!';
    CHECK(ro[SIZE - 1] == '!' && pread(a, buf, 1, SIZE - 1) == 1 && buf[0] == '!',
          "mappings and descriptor share");
    CHECK(!memcmp(m2, "through one", 11) && (m2[20] = 'y', m1[4096 + 20] == 'y'),
          "mapped-only regions share");
    return 0;
}
