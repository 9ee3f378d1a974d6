/* runtime/memlock.c - memory locks. A lock (mlock, mlock2, mlockall) is not inherited by the
 * forked snapshot child, so the child's own smaps cannot show it, and mlockall(MCL_FUTURE) is
 * shown nowhere in /proc. These definitions stand in front of libc's to notice that the program
 * locks memory: a checkpoint then reads the locked regions from the process's smaps while the
 * threads are parked (dontfork.c makes that one read), and MCL_FUTURE is remembered here, in
 * memory the image holds, and set again in a restored process. A program that locks through
 * raw system calls is not noticed: its regions come back unlocked.
 *
 * crs_memlock_restarted() runs in the coordinator of a restored process before the threads are
 * released: raw system calls and crs_log only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime.h"

static int done(long r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return 0;
}

int mlock(const void *addr, size_t len)
{
    atomic_store(&crs_state.saw_mlock, 1);
    return done(crs_sys2(SYS_mlock, (long)addr, (long)len));
}

int mlock2(const void *addr, size_t len, unsigned int flags)
{
    atomic_store(&crs_state.saw_mlock, 1);
    return done(crs_sys3(SYS_mlock2, (long)addr, (long)len, (long)flags));
}

int mlockall(int flags)
{
    long r;

    atomic_store(&crs_state.saw_mlock, 1);
    r = crs_sys1(SYS_mlockall, flags);
    /* every successful call replaces the future-lock mode: with MCL_FUTURE it is set, without
     * it cleared, as the kernel does */
    if (r == 0)
        atomic_store(&crs_state.mlock_future,
                     flags & MCL_FUTURE ? flags & (MCL_FUTURE | MCL_ONFAULT) : 0);
    return done(r);
}

int munlockall(void)
{
    long r = crs_sys0(SYS_munlockall);
    if (r == 0)
        atomic_store(&crs_state.mlock_future, 0);
    return done(r);
}

void crs_memlock_restarted(void)
{
    int future = atomic_load(&crs_state.mlock_future);
    long r;

    if (!future)
        return;
    r = crs_sys1(SYS_mlockall, future);
    if (r < 0)
        crs_log(CRS_LOG_ERROR, "mlockall(MCL_FUTURE%s) is not set again after the restore: %s",
                future & MCL_ONFAULT ? " | MCL_ONFAULT" : "", strerror((int)-r));
}
