/* restore/restore_proc.c - process-wide state that is neither memory nor descriptors: signal
 * dispositions (raw, so that glibc's own signals and SA_RESTORER come back exactly), working
 * directory, umask, resource limits, personality, and the interval timers, armed last.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* A message naming a path: the path, and room for the words and strerror's text around it. */
#define PATH_MSG_SIZE (CRS_PATH_MAX + 128)

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
