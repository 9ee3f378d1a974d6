/* restore/restore_pid.c - restoring under the saved pid (`crsnap restore --same-pid`): the
 * restorer forks itself with clone3(set_tid), which needs CAP_CHECKPOINT_RESTORE and a free pid;
 * the child becomes the restored process and the parent stays behind only to pass on signals
 * and, at the end, the child's exit status, so that whoever started `crsnap restore` sees the
 * program's own.
 */
#define _GNU_SOURCE
#include "restore.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child_pid;

static void forward(int sig)
{
    kill(child_pid, sig);
}

static __attribute__((noreturn)) void wait_and_relay(pid_t child)
{
    static const int passed[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH };
    struct sigaction sa;
    int st = 0;

    child_pid = child;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++)
        sigaction(passed[i], &sa, NULL);
    /* The terminal sends these to the whole group, the child included. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st)) {
        sigset_t none;
        signal(WTERMSIG(st), SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        kill(getpid(), WTERMSIG(st));
        _exit(128 + WTERMSIG(st));
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

int crs_restore_take_pid(struct crs_restore *r, char *err, size_t errlen)
{
    pid_t want = (pid_t)r->img->process.pid;
    struct clone_args args;
    long c;

    if (getpid() == want)
        return 0;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.set_tid = (uint64_t)(uintptr_t)&want;
    args.set_tid_size = 1;
    fflush(NULL);
    c = syscall(SYS_clone3, &args, sizeof args);
    if (c < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot restore under pid %d: %s", (int)want,
                 e == EEXIST ? "a process has it" :
                 e == EPERM ? "needs CAP_CHECKPOINT_RESTORE" : strerror(e));
        return -e;
    }
    if (c > 0)
        wait_and_relay((pid_t)c);
    return 0;
}
