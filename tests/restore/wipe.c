/* wipe.c - for the restore tests: a region marked MADV_WIPEONFORK (as a random generator's
 * state is, so that a forked child never repeats it) holds data the process needs. A snapshot
 * child is a fork: without care the image holds zeros there. After its work the program checks
 * the data is whole, and that the region is still wiped in a child it forks; it prints the same
 * lines whether it was restored in between or not.
 *   wipe ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "prog.h"

#define SIZE (64 * 1024)

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    if (p == MAP_FAILED)
        return 1;
    for (int i = 0; i < SIZE; i++)
        p[i] = (unsigned char)(i * 7 + 1);
    if (madvise(p, SIZE, MADV_WIPEONFORK) < 0)
        return 1;
    prog_work(atol(argv[1]), argv[2]);

    int whole = 1;
    for (int i = 0; i < SIZE; i++)
        whole &= p[i] == (unsigned char)(i * 7 + 1);
    CHECK(whole, "data kept");
    pid_t c = fork();
    if (c == 0) {
        int zero = 1;
        for (int i = 0; i < SIZE; i++)
            zero &= p[i] == 0;
        _exit(zero ? 0 : 1);
    }
    int st;
    CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "still wiped on fork");
    return 0;
}
