/* advice.c - for the restore tests: memory with advice, as a database or a JIT sets it: a
 * region asking for transparent huge pages, one kept out of core dumps. After its work it
 * checks, in /proc/self/smaps, that each region still has its flag (hg, dd), and prints the
 * same lines whether it was restored in between or not.
 *   advice ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "prog.h"

#define SIZE (4u << 20)

/* Does the smaps entry of the region at p list the VmFlags flag f? */
static int has_flag(const void *p, const char *f)
{
    char line[1024], want[32];
    int in = 0, found = 0;
    FILE *s = fopen("/proc/self/smaps", "r");

    if (!s)
        return 0;
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)p);
    while (fgets(line, sizeof line, s)) {
        if (!strncmp(line, want, strlen(want)))
            in = 1;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            char pat[8];
            snprintf(pat, sizeof pat, " %s", f);
            found = strstr(line, pat) != NULL;
            break;
        }
    }
    fclose(s);
    return found;
}

static void *region(void)
{
    void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(1);
    memset(p, 1, SIZE);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    /* separated by unmapped pages, so that the kernel does not merge them into one region */
    void *hole = mmap(NULL, 7 * SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hole == MAP_FAILED)
        return 1;
    munmap(hole, 7 * SIZE);
    char *huge = region(), *nodump = region();
    if (madvise(huge, SIZE, MADV_HUGEPAGE) || madvise(nodump, SIZE, MADV_DONTDUMP))
        return 1;
    prog_work(atol(argv[1]), argv[2]);
    CHECK(has_flag(huge, "hg"), "huge pages asked");
    CHECK(has_flag(nodump, "dd"), "not dumped");
    return 0;
}
