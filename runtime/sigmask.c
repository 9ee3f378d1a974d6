/* runtime/sigmask.c - the application may not block the quiesce signal. Programs block every
 * signal around pthread_create so that a helper thread never takes one (Node.js, libuv): such a
 * thread could never be quiesced, and every checkpoint would time out. pthread_sigmask and
 * sigprocmask are therefore defined here, ahead of glibc's, and leave the quiesce signal out of
 * any set they block. The quiesce handler only parks the thread, so the program cannot tell.
 *
 * Async-signal-safe (programs call these in signal handlers): one raw system call, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>

#include "runtime.h"

#define SIGCANCEL_GLIBC 32           /* glibc's own, which it never lets a program block */
#define SIGSETXID_GLIBC 33

static int set_mask(int how, const sigset_t *set, sigset_t *old)
{
    sigset_t copy;

    if (set && how != SIG_UNBLOCK) {
        copy = *set;
        sigdelset(&copy, SIGCANCEL_GLIBC);
        sigdelset(&copy, SIGSETXID_GLIBC);
        if (crs_state.quiesce_signal > 0)
            sigdelset(&copy, crs_state.quiesce_signal);
        set = &copy;
    }
    return (int)crs_sys4(SYS_rt_sigprocmask, how, (long)set, (long)old, _NSIG / 8);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return -set_mask(how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int r = set_mask(how, set, old);

    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}
