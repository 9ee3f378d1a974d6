/* memlock.c - for the restore tests: memory a program locked, as a key store or a real-time
 * loop does: a region locked with mlock, one locked as it faults in (mlock2 MLOCK_ONFAULT),
 * and, with "future", every later mapping (mlockall(MCL_FUTURE)). After its work it checks, in
 * /proc/self/smaps, that each region is still locked ("lo", "lf"), that a region mapped now is
 * locked when MCL_FUTURE was asked, and that the data is whole. It prints the same lines
 * whether it was checkpointed or restored in between or not. A range reserved without access
 * after MCL_FUTURE (as a thread's malloc arena is) must come back locked too.
 *   memlock ITERATIONS PROGRESS_FILE [future]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "prog.h"

#define SIZE (1u << 20)

/* The VmFlags line of the region at p, or "" (in flags, cap bytes). */
static void vmflags(const void *p, char *flags, size_t cap)
{
    char line[1024], want[32];
    int in = 0;
    FILE *s = fopen("/proc/self/smaps", "r");

    flags[0] = '\0';
    if (!s)
        return;
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)p);
    while (fgets(line, sizeof line, s)) {
        if (!strncmp(line, want, strlen(want)))
            in = 1;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            snprintf(flags, cap, "%.200s", line + 8);
            break;
        }
    }
    fclose(s);
}

static int has(const void *p, const char *f)
{
    char flags[256], pat[8];
    vmflags(p, flags, sizeof flags);
    snprintf(pat, sizeof pat, " %s ", f);
    return strstr(flags, pat) != NULL;
}

static unsigned char *region(unsigned char seed)
{
    unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    if (p == MAP_FAILED)
        exit(1);
    for (size_t i = 0; i < SIZE; i++)
        p[i] = (unsigned char)(i * 13 + seed);
    return p;
}

static int whole(const unsigned char *p, unsigned char seed)
{
    int ok = 1;
    for (size_t i = 0; i < SIZE; i++)
        ok &= p[i] == (unsigned char)(i * 13 + seed);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int future = argc > 3 && !strcmp(argv[3], "future");
    /* separated by unmapped pages, so that the kernel does not merge them into one region */
    void *hole = mmap(NULL, 5 * SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hole == MAP_FAILED)
        return 1;
    munmap(hole, 5 * SIZE);
    unsigned char *locked = region(1), *onfault = region(2), *plain = region(3);
    if (mlock(locked, SIZE) < 0 || mlock2(onfault, SIZE, MLOCK_ONFAULT) < 0) {
        perror("mlock");
        return 1;
    }
    if (future && mlockall(MCL_FUTURE) < 0) {
        perror("mlockall");
        return 1;
    }
    /* an address range reserved after MCL_FUTURE, as a malloc arena of a thread is: locked,
     * though nothing in it can be populated */
    void *reserved = future ? mmap(NULL, 16 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                            : MAP_FAILED;
    prog_work(atol(argv[1]), argv[2]);

    CHECK(whole(locked, 1) && whole(onfault, 2) && whole(plain, 3), "data whole");
    CHECK(has(locked, "lo") && !has(locked, "lf"), "mlock region locked");
    CHECK(has(onfault, "lo") && has(onfault, "lf"), "mlock2 onfault region locked on fault");
    CHECK(!has(plain, "lo"), "other region not locked");
    if (future) {
        void *later = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(later != MAP_FAILED && has(later, "lo"), "mapped later locked (MCL_FUTURE)");
        CHECK(reserved != MAP_FAILED && has(reserved, "lo") && !has(reserved, "lf"),
              "reserved without access later locked (MCL_FUTURE)");
    }
    return 0;
}
