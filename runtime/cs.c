/* runtime/cs.c - critical sections: code that a checkpoint must not split. A checkpoint closes
 * them (new entries block) and waits until no thread is inside one; they nest per thread, and a
 * thread already inside enters again without blocking. Two counters and futexes; the entry
 * increments before it looks at the pending flag and the coordinator sets the flag before it
 * looks at the count, so one of the two always sees the other (sequentially consistent).
 * Handlers may bracket code too (they run while the sections are closed): theirs do not count.
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "runtime.h"

void crs_enter_cs(void)
{
    if (crs_tls.cs_depth > 0) {
        crs_tls.cs_depth++;
        return;
    }
    if (crs_tls.in_handler) {
        /* A handler runs while the checkpoint holds the sections closed: it would wait for
         * itself. Its sections count for nothing. */
        crs_tls.cs_depth = 1;
        crs_tls.cs_free = 1;
        return;
    }
    for (;;) {
        atomic_fetch_add(&crs_state.cs_count, 1);
        if (!atomic_load(&crs_state.cs_pending))
            break;
        /* A checkpoint is pending: step back out, let it run, then try again. */
        if (atomic_fetch_sub(&crs_state.cs_count, 1) == 1)
            crs_futex_wake(&crs_state.cs_count);
        while (atomic_load(&crs_state.cs_pending))
            crs_futex_wait(&crs_state.cs_pending, 1, NULL);
    }
    crs_tls.cs_depth = 1;
}

void crs_leave_cs(void)
{
    if (crs_tls.cs_depth <= 0)          /* unbalanced: nothing to leave */
        return;
    if (--crs_tls.cs_depth > 0)
        return;
    if (crs_tls.cs_free) {
        crs_tls.cs_free = 0;
        return;
    }
    if (atomic_fetch_sub(&crs_state.cs_count, 1) == 1 && atomic_load(&crs_state.cs_pending))
        crs_futex_wake(&crs_state.cs_count);
}

/* Waits at most timeout_ms: while the sections are closed, every thread that tries to enter
 * one is held, so a thread that stays inside for long would stall the whole program. Then the
 * checkpoint gives up (the caller reopens them) with -ETIMEDOUT and the number still inside. */
int crs_cs_close(unsigned timeout_ms, int *inside)
{
    uint64_t end = crs_now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000ull;
    int c;

    atomic_store(&crs_state.cs_pending, 1);
    while ((c = atomic_load(&crs_state.cs_count)) != 0) {
        uint64_t now = crs_now_ns(CLOCK_MONOTONIC);
        if (now >= end) {
            *inside = c;
            return -ETIMEDOUT;
        }
        struct timespec rel = {(time_t)((end - now) / 1000000000ull),
                               (long)((end - now) % 1000000000ull)};
        crs_futex_wait(&crs_state.cs_count, c, &rel);
    }
    return 0;
}

void crs_cs_open(void)
{
    atomic_store(&crs_state.cs_pending, 0);
    crs_futex_wake(&crs_state.cs_pending);
}
