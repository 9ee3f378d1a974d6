/* restore/restore_pid.c - the restored process under the pid it had. The restorer forks itself
 * with clone3(set_tid): in this pid namespace where it may (CAP_CHECKPOINT_RESTORE, the pid
 * free), otherwise in a user + pid namespace of its own (restore_pidns.c), where it may without
 * privilege. The child becomes the restored process; the restorer stays behind only to pass on
 * signals and, at the end, the program's exit status, so that whoever started `crsnap restore`
 * sees the program's own. Where neither works, the restore goes on under a new pid and says so
 * (unless --same-pid, which then fails).
 */
#define _GNU_SOURCE
#include "restore.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "common/errmsg.h"

static pid_t relay_to;

static void forward(int sig)
{
    kill(relay_to, sig);
}

/* Ends this process as the status st says: the same signal, or the same exit code. */
static __attribute__((noreturn)) void exit_as(int st)
{
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

void crs_close_all_but(int keep)
{
    if (keep > 0)
        close_range(0, (unsigned)keep - 1, 0);
    close_range(keep < 0 ? 0 : (unsigned)keep + 1, ~0u, 0);
}

void crs_restore_relay(pid_t child, pid_t target, int status_fd)
{
    static const int passed[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH,
                                  SIGALRM, SIGXCPU };
    struct sigaction sa;
    int st = 0, reported = 0;
    struct crs_pidns_msg m;

    /* The program's streams are the restored process's now: a reader of its output sees the
     * end when the program closes it, not when this process ends too. */
    crs_close_all_but(status_fd);
    relay_to = target;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++)
        sigaction(passed[i], &sa, NULL);
    /* The terminal sends these to the whole group, the restored process included. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    if (status_fd >= 0) {
        ssize_t n;
        while ((n = read(status_fd, &m, sizeof m)) == (ssize_t)sizeof m || (n < 0 && errno == EINTR))
            if (n == (ssize_t)sizeof m && m.kind == CRS_PIDNS_STATUS) {
                st = m.value;
                reported = 1;
            }
    }
    {
        int own = 0;
        while (waitpid(child, &own, 0) < 0 && errno == EINTR) {
        }
        if (!reported)
            st = own;
    }
    exit_as(st);
}

/* clone3(set_tid) in this pid namespace. Returns 0 in the child; the parent relays and never
 * returns; -errno when it cannot (why in err). */
long crs_restore_fork_pid(pid_t want)
{
    struct clone_args args;
    long c;

    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.set_tid = (uint64_t)(uintptr_t)&want;
    args.set_tid_size = 1;
    fflush(NULL);
    c = syscall(SYS_clone3, &args, sizeof args);
    return c < 0 ? -errno : c;
}

static int fork_here(pid_t want, char *err, size_t errlen)
{
    pid_t parent = getpid();
    long c = crs_restore_fork_pid(want);

    if (c < 0) {
        int e = (int)-c;
        crs_seterr(err, errlen, "%s", e == EEXIST ? "a process has it here" :
                   e == EPERM ? "setting it needs CAP_CHECKPOINT_RESTORE" : strerror(e));
        return -e;
    }
    if (c > 0)
        crs_restore_relay((pid_t)c, (pid_t)c, -1);
    /* Killing the crsnap restore that stands for it ends it, as in a namespace of its own. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    return 0;
}

int crs_restore_take_pid(struct crs_restore *r, char *err, size_t errlen)
{
    pid_t want = (pid_t)r->img->process.pid;
    char here[160], ns[256];
    int e;

    if (r->opts.pid_mode == CRS_PID_NEW || getpid() == want)
        return 0;
    /* A job takes every pid of its processes here, or goes into a namespace of its own. */
    if (r->img->tree && (e = crs_restore_tree_pids_free(r->img, here, sizeof here)) < 0)
        ;
    else if ((e = fork_here(want, here, sizeof here)) == 0)
        return 0;
    if ((e = crs_restore_pidns(r, want, ns, sizeof ns)) == 0)
        return 0;
    if (r->opts.pid_mode == CRS_PID_SAME) {
        crs_seterr(err, errlen, "cannot restore under pid %d: %s; and no namespace of its own: %s",
                   (int)want, here, ns);
        return e;
    }
    dprintf(r->errfd, "crsnap restore: warning: restored under pid %d, not %d (%s; no namespace "
            "of its own: %s): the program sees another pid and other thread ids\n",
            (int)getpid(), (int)want, here, ns);
    return 0;
}
