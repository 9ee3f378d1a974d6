/* restore/restore_timers.c - the POSIX timers, planned before anything changes: which of the
 * image's timers this kernel and user can make again (their clock is tried), each under the
 * clock timer_create must be given now; the restart entry makes them once every thread exists
 * (restart/restart.c), under their saved ids. Those the image says cannot come back are said by
 * the "not restored" lines; one whose clock this user may not have (an alarm clock without
 * CAP_WAKE_ALARM) is a warning.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "image/timers.h"
#include "restore.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_GET 2
#endif

/* A CPU-time clock of the checkpointed process itself, by its pid: the same clock, now called
 * by pid 0 (the caller), since the pid may have changed. */
static int32_t clock_now(const struct crs_image *img, int32_t c)
{
    if (c < 0 && !(c & CRS_CPUCLOCK_PERTHREAD) &&
        CRS_CPUCLOCK_PID((int64_t)c) == (int64_t)img->process.pid)
        return (int32_t)((uint32_t)c & 7u) | (int32_t)(~0u << 3);
    return c;
}

/* Can this process make a timer on clock c? One is made and deleted at once. */
static int clock_usable(int32_t c)
{
    struct sigevent ev;
    int id;

    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_NONE;
    if (syscall(SYS_timer_create, c, &ev, &id) < 0)
        return -errno;
    syscall(SYS_timer_delete, id);
    return 0;
}

int crs_restore_timers_plan(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;
    struct crs_restart_plan *plan = r->plan;
    int e;

    plan->ntimers = 0;
    plan->timers_pending = 0;
    for (uint32_t i = 0; i < img->ntimers; i++) {
        struct crs_img_timer t = img->timers[i];
        if (crs_img_timer_why_not(&t, img->process.pid, img->threads, img->nthreads))
            continue;                   /* in UNSAVED: said with the rest */
        if (!plan->ntimers && prctl(PR_TIMER_CREATE_RESTORE_IDS,
                                    PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0) < 0) {
            e = errno;
            crs_seterr(err, errlen, "the image has POSIX timers, and this kernel cannot create "
                       "a timer under a given id (prctl PR_TIMER_CREATE_RESTORE_IDS: %s)",
                       strerror(e));
            return -e;
        }
        t.clockid = clock_now(img, t.clockid);
        if ((e = clock_usable(t.clockid)) < 0) {
            crs_restore_warn(r, "POSIX timer %d not restored: its clock %d is not available "
                             "here: %s", t.id, t.clockid, strerror(-e));
            continue;
        }
        if (plan->ntimers == CRS_PLAN_MAX_TIMERS)  /* the reader allows no more */
            break;
        plan->timers[plan->ntimers++] = t;
    }
    plan->timers_pending = plan->ntimers > 0;
    return 0;
}
