/* advice.c - for the restore tests: memory with advice, as a database or a JIT sets it: a
 * region asking for transparent huge pages, one kept out of core dumps. After its work it
 * checks, in /proc/self/smaps, that each region still has its flag (hg, dd), that the region
 * which asked before it was filled and got huge pages then still has them (a restore fills it
 * with huge pages, not with 4 KiB ones), and prints the same lines whether it was restored in
 * between or not.
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

/* The AnonHugePages of the smaps entry of the region at p, in kB. */
static long huge_kb(const void *p)
{
    char line[1024], want[32];
    int in = 0;
    long kb = 0;
    FILE *s = fopen("/proc/self/smaps", "r");

    if (!s)
        return 0;
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)p);
    while (fgets(line, sizeof line, s)) {
        if (!strncmp(line, want, strlen(want)))
            in = 1;
        else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    }
    fclose(s);
    return kb;
}

/* SIZE bytes at a 2 MiB boundary, asking for huge pages before a page is written. */
static char *huge_region(void)
{
    char *p = mmap(NULL, 2 * SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(1);
    char *a = (char *)(((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    munmap(a + SIZE, (size_t)(p + 2 * SIZE - (a + SIZE)));
    if (madvise(a, SIZE, MADV_HUGEPAGE))
        exit(1);
    memset(a, 2, SIZE);
    return a;
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
    char *huge = region(), *nodump = region(), *filled = huge_region();
    if (madvise(huge, SIZE, MADV_HUGEPAGE) || madvise(nodump, SIZE, MADV_DONTDUMP))
        return 1;
    /* without transparent huge pages here (never, or none free) there is nothing to keep */
    int had_huge = huge_kb(filled) > 0;
    prog_work(atol(argv[1]), argv[2]);
    CHECK(has_flag(huge, "hg"), "huge pages asked");
    CHECK(has_flag(nodump, "dd"), "not dumped");
    CHECK(!had_huge || huge_kb(filled) > 0, "huge pages kept");
    int same = 1;
    for (size_t i = 0; i < SIZE; i += 4096)
        same &= filled[i] == 2;
    CHECK(same, "huge region's contents");
    return 0;
}
