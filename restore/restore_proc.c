/* restore/restore_proc.c - process-wide state that is neither memory nor descriptors: signal
 * dispositions (raw, so that glibc's own signals and SA_RESTORER come back exactly), working
 * directory, umask, resource limits, personality, scheduling and security attributes (CPU
 * affinity, nice, policy, no_new_privs), and the interval timers, armed last.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* A message naming a path: the path, and room for the words and strerror's text around it. */
#define PATH_MSG_SIZE (CRS_PATH_MAX + 128)

/* Scheduling and security attributes. The restorer is the process's one thread now, and the
 * threads the restart entry makes inherit them (the others are assumed to have had the main
 * thread's). What this host or this user cannot have (a CPU it lacks, a lower nice value or a
 * real-time policy without the privilege) is said, and the restore goes on. */
static void restore_attrs(struct crs_restore *r)
{
    const struct crs_img_attrs *a = &r->img->attrs;

    if ((a->flags & CRS_ATTR_F_AFFINITY) &&
        syscall(SYS_sched_setaffinity, 0, sizeof a->cpus, a->cpus) < 0)
        crs_restore_warn(r, "the CPU affinity is not set again: %s", strerror(errno));
    if ((a->flags & CRS_ATTR_F_SCHED)) {
        struct sched_param sp = { .sched_priority = (int)a->priority };
        if (sched_setscheduler(0, (int)a->policy, &sp) < 0)
            crs_restore_warn(r, "the scheduling policy %u (priority %u) is not set again: %s",
                             a->policy & ~(uint32_t)SCHED_RESET_ON_FORK, a->priority,
                             strerror(errno));
    }
    if ((a->flags & CRS_ATTR_F_NICE) && setpriority(PRIO_PROCESS, 0, a->nice) < 0)
        crs_restore_warn(r, "the nice value %d is not set again: %s", a->nice, strerror(errno));
    if ((a->flags & CRS_ATTR_F_STATUS) && a->no_new_privs &&
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        crs_restore_warn(r, "no_new_privs is not set again: %s", strerror(errno));
    if ((a->flags & CRS_ATTR_F_STATUS) && a->seccomp)
        crs_restore_say(r->errfd, "not restored: ",
                        a->seccomp == 1 ? "seccomp strict mode (it cannot be read back)"
                                        : "seccomp filters (they cannot be read back)");
}

int crs_restore_proc(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;
    const struct crs_img_process *p = &img->process;
    const char *cwd = crs_image_string(img, p->cwd);

    for (int sig = 1; sig <= CRS_IMG_NSIG; sig++) {
        const struct crs_img_sigaction *sa = &img->sigactions[sig - 1];
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /* The kernel's struct sigaction on x86-64 is exactly the saved record. */
        if (syscall(SYS_rt_sigaction, sig, sa, NULL, CRS_ARCH_SIGSET_SIZE) < 0) {
            int e = errno;
            crs_seterr(err, errlen, "cannot restore the action of signal %d: %s", sig, strerror(e));
            return -e;
        }
    }
    if (cwd && cwd[0] && chdir(cwd) < 0) {
        char msg[PATH_MSG_SIZE];
        snprintf(msg, sizeof msg, "cannot return to the directory %s: %s", cwd, strerror(errno));
        crs_restore_say(r->errfd, "warning: ", msg);
    }
    umask((mode_t)p->umask);
    for (int i = 0; i < CRS_IMG_NRLIMITS && i < RLIM_NLIMITS; i++) {
        struct rlimit rl = { (rlim_t)p->rlimits[i].cur, (rlim_t)p->rlimits[i].max };
        struct rlimit now;
        if (getrlimit((__rlimit_resource_t)i, &now) == 0 && now.rlim_cur == rl.rlim_cur &&
            now.rlim_max == rl.rlim_max)
            continue;
        if (setrlimit((__rlimit_resource_t)i, &rl) < 0 && r->opts.verbose)
            dprintf(r->errfd, "crsnap restore: warning: cannot restore resource limit %d: %s\n",
                    i, strerror(errno));
    }
    if (personality(p->personality) < 0 && r->opts.verbose)
        dprintf(r->errfd, "crsnap restore: warning: cannot restore the personality %#x\n",
                p->personality);
    restore_attrs(r);
    return 0;
}

int crs_restore_itimers(struct crs_restore *r, char *err, size_t errlen)
{
    static const int which[3] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };

    for (int i = 0; i < 3; i++) {
        const struct crs_img_itimer *t = &r->img->process.itimers[i];
        struct itimerval v = {
            .it_interval = { t->interval.sec, t->interval.usec },
            .it_value = { t->value.sec, t->value.usec },
        };
        if (!v.it_value.tv_sec && !v.it_value.tv_usec && !v.it_interval.tv_sec &&
            !v.it_interval.tv_usec)
            continue;
        /* Armed with nothing left: fire at once rather than disarm. */
        if (!v.it_value.tv_sec && !v.it_value.tv_usec)
            v.it_value.tv_usec = 1;
        if (setitimer(which[i], &v, NULL) < 0) {
            int e = errno;
            crs_seterr(err, errlen, "cannot restore interval timer %d: %s", i, strerror(e));
            return -e;
        }
    }
    return 0;
}
