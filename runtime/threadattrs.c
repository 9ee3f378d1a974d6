/* runtime/threadattrs.c - a thread's own CPU affinity, nice value and scheduling policy. The
 * restorer sets the main thread's on itself and every thread it makes inherits them; a thread
 * that had others of its own reads them in its stop handler and, in a restored process, sets
 * them again there before it runs the program.
 *
 * Runs in the quiesce handler: raw system calls only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>

#include "runtime.h"

void crs_thread_attrs_read(struct crs_thread_attrs *a)
{
    memset(a->cpus, 0, sizeof a->cpus);
    a->ok = 0;
    if (crs_sys3(SYS_sched_getaffinity, 0, sizeof a->cpus, (long)a->cpus) > 0)
        a->ok |= 1;
    /* The raw call says 20 - nice, so that it is never negative. */
    long prio = crs_sys2(SYS_getpriority, PRIO_PROCESS, 0);
    if (prio > 0) {
        a->nice = 20 - (int)prio;
        a->ok |= 2;
    }
    long pol = crs_sys1(SYS_sched_getscheduler, 0);
    if (pol >= 0 && crs_sys2(SYS_sched_getparam, 0, (long)&a->priority) == 0) {
        a->policy = (int)pol;
        a->ok |= 4;
    }
}

int crs_thread_attrs_apply(const struct crs_thread_attrs *want)
{
    struct crs_thread_attrs now;
    int failed = 0;

    crs_thread_attrs_read(&now);
    if ((want->ok & 1) && (now.ok & 1) && memcmp(want->cpus, now.cpus, sizeof now.cpus) &&
        crs_sys3(SYS_sched_setaffinity, 0, sizeof want->cpus, (long)want->cpus) < 0)
        failed = 1;
    if ((want->ok & 4) && (now.ok & 4) &&
        (want->policy != now.policy || want->priority != now.priority) &&
        crs_sys3(SYS_sched_setscheduler, 0, want->policy, (long)&want->priority) < 0)
        failed = 1;
    if ((want->ok & 2) && (now.ok & 2) && want->nice != now.nice &&
        crs_sys3(SYS_setpriority, PRIO_PROCESS, 0, want->nice) < 0)
        failed = 1;
    return failed ? -EPERM : 0;
}
