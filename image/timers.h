/* image/timers.h - which recorded POSIX timers a restore can make again, and why not the
 * others: one rule for the snapshot child (which reports them), the reader, the restorer and
 * `crsnap info`. Header-only: the snapshot child includes it (no malloc, no locks).
 */
#ifndef CRS_IMAGE_TIMERS_H
#define CRS_IMAGE_TIMERS_H

#include <stdint.h>
#include "image.h"

#define CRS_SIGEV_SIGNAL 0u
#define CRS_SIGEV_NONE 1u
#define CRS_SIGEV_THREAD 2u
#define CRS_SIGEV_THREAD_ID 4u

/* A CPU-time clock (clock_getcpuclockid, CLOCK_*_CPUTIME_ID) is negative: the pid or tid it
 * measures in the high bits (inverted, 0 = the caller), a per-thread bit and the kind. */
#define CRS_CPUCLOCK_PERTHREAD 4
#define CRS_CPUCLOCK_PID(c) (~((c) >> 3))

/* Damaged, as no kernel reports it: 0 or -1 (the caller says which record). */
static inline int crs_img_timer_valid(const struct crs_img_timer *t)
{
    uint32_t base = t->notify & ~CRS_SIGEV_THREAD_ID;
    const struct crs_img_timespec *ts[2] = { &t->interval, &t->value_left };

    if (t->id < 0 || base > CRS_SIGEV_THREAD ||
        ((t->notify & CRS_SIGEV_THREAD_ID) && base != CRS_SIGEV_SIGNAL) || t->flags)
        return -1;
    if (base != CRS_SIGEV_NONE && (t->signo < 1 || t->signo > CRS_IMG_NSIG))
        return -1;
    for (int i = 0; i < 2; i++)
        if (ts[i]->sec < 0 || ts[i]->nsec < 0 || ts[i]->nsec >= 1000000000)
            return -1;
    return 0;
}

/* Why a valid timer cannot be made again in a restored process (NULL: it can). pid is the
 * checkpointed process's, threads its saved threads. */
static inline const char *crs_img_timer_why_not(const struct crs_img_timer *t, uint32_t pid,
                                                const struct crs_img_thread *threads,
                                                uint32_t nthreads)
{
    if (t->clockid < 0) {
        int64_t who = CRS_CPUCLOCK_PID((int64_t)t->clockid);
        if ((t->clockid & 3) == 3)
            return "its clock is unknown";
        if (t->clockid & CRS_CPUCLOCK_PERTHREAD)
            return "it counts a thread's CPU time, and which thread is not known";
        if (who != 0 && who != (int64_t)pid)
            return "it counts another process's CPU time";
    }
    if (t->notify & CRS_SIGEV_THREAD_ID) {
        for (uint32_t i = 0; i < nthreads; i++)
            if (threads[i].tid == t->tid)
                return 0;
        return "the thread it signals had exited";
    }
    return 0;
}

#endif
