/* guard.c - for the restore tests: guard pages (MADV_GUARD_INSTALL, Linux 6.13), as an
 * allocator puts them between its objects or a newer libc below a thread's stack, inside
 * regions that hold data: a private region with two runs of guards, one written before and
 * one never touched, and a thread stack of our own with a guard page at its bottom. After its
 * work it checks that the guard pages are still guards (pagemap bit 58, and a read of one
 * faults), that the pages around them kept their data, and that a thread still runs on the
 * stack. It prints the same lines whether it was checkpointed or restored in between or not.
 * Prints "no guard regions" and nothing else where the kernel has none.
 *   guard ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "prog.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define PAGE 4096u
#define PAGES 32u
#define STACK (256u * 1024)

static sigjmp_buf env;

static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(env, 1);
}

/* Does reading p fault? */
static int faults(volatile const char *p)
{
    struct sigaction sa = { .sa_handler = on_segv }, old;
    int hit = 0;
    sigaction(SIGSEGV, &sa, &old);
    if (sigsetjmp(env, 1))
        hit = 1;
    else
        (void)*p;
    sigaction(SIGSEGV, &old, NULL);
    return hit;
}

/* Is the page at p a guard page, as pagemap says (bit 58)? */
static int is_guard(const void *p)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0)
        return 0;
    if (pread(fd, &e, sizeof e, (off_t)((uintptr_t)p / PAGE * 8)) != (ssize_t)sizeof e)
        e = 0;
    close(fd);
    return (e >> 58) & 1;
}

static void *thread_main(void *arg)
{
    volatile char buf[64 * 1024];           /* well into the stack, above its guard page */
    memset((char *)buf, 7, sizeof buf);
    *(int *)arg = buf[100] == 7;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    unsigned char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    for (size_t i = 0; i < PAGES * PAGE; i++)
        p[i] = (unsigned char)(i * 5 + 3);
    /* a run of two guards and a single one in written memory (what they held is dropped),
     * then one in a region never touched, and one at the bottom of a stack */
    if (madvise(p + 4 * PAGE, 2 * PAGE, MADV_GUARD_INSTALL) < 0) {
        if (errno == EINVAL) {
            printf("no guard regions\n");
            return 0;
        }
        perror("MADV_GUARD_INSTALL");
        return 1;
    }
    if (madvise(p + 20 * PAGE, PAGE, MADV_GUARD_INSTALL) < 0)
        return 1;
    char *untouched = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
    char *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                       -1, 0);
    if (untouched == MAP_FAILED || stack == MAP_FAILED ||
        madvise(untouched + 3 * PAGE, PAGE, MADV_GUARD_INSTALL) < 0 ||
        madvise(stack, PAGE, MADV_GUARD_INSTALL) < 0)
        return 1;
    prog_work(atol(argv[1]), argv[2]);

    int guards = is_guard(p + 4 * PAGE) && is_guard(p + 5 * PAGE) && is_guard(p + 20 * PAGE) &&
                 is_guard(untouched + 3 * PAGE) && is_guard(stack);
    CHECK(guards, "guard pages still guards");
    CHECK(faults((char *)p + 5 * PAGE) && faults(untouched + 3 * PAGE), "reading a guard page faults");
    int kept = 1, others = 1;
    for (size_t i = 0; i < PAGES * PAGE; i++) {
        size_t page = i / PAGE;
        if (page == 4 || page == 5 || page == 20)
            continue;
        kept &= p[i] == (unsigned char)(i * 5 + 3);
    }
    for (unsigned i = 0; i < 8; i++)
        others &= i == 3 || !is_guard(untouched + i * PAGE);
    others &= !is_guard(p + 3 * PAGE) && !is_guard(p + 6 * PAGE) && !is_guard(stack + PAGE);
    CHECK(kept, "data around the guards kept");
    CHECK(others, "no other page became a guard");
    pthread_attr_t attr;
    pthread_t t;
    int ran = 0;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, STACK);
    CHECK(pthread_create(&t, &attr, thread_main, &ran) == 0 && pthread_join(t, NULL) == 0 && ran,
          "a thread runs on the guarded stack");
    return 0;
}
