/* common/hugebuf.c - see hugebuf.h. Why: each first touch of a fresh 4 KiB page is a fault,
 * and on a virtual machine that shadows page tables an exit to the host as well; reading a
 * 5.7 MiB page index into malloc'd memory took 17-25 ms on the machine the project is measured
 * on, 1.5-8 ms into huge pages. Where transparent huge pages are off, this is a plain mapping.
 */
#define _GNU_SOURCE
#include "hugebuf.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE (2ul << 20)

static size_t rounded(size_t len)
{
    return (len + HUGE - 1) & ~(HUGE - 1);
}

void *crs_hugebuf_alloc(size_t len)
{
    size_t want = rounded(len ? len : 1);
    if (want < len) {
        errno = ENOMEM;
        return NULL;
    }
    /* one huge page more than asked, so that an aligned start lies inside; the rest goes */
    char *m = mmap(NULL, want + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    munmap(p + want, (size_t)(m + HUGE - p));   /* never empty: p lies below m + HUGE */
    madvise(p, want, MADV_HUGEPAGE);    /* advice: without it the buffer still works */
    return p;
}

void crs_hugebuf_free(void *p, size_t len)
{
    if (p)
        munmap(p, rounded(len ? len : 1));
}
