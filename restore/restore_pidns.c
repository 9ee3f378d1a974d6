/* restore/restore_pidns.c - the saved pid when another process has it here. clone3 makes a new
 * pid namespace and mount namespace; without privilege also a new user namespace (this user's
 * uid and gid mapped to themselves, so files look the same). A restorer that may make a pid
 * namespace itself (root) makes no user namespace: in one, the restored process would lose
 * every capability it had over this machine's network, files of other users and devices.
 * The namespace's first process, pid 1 there, maps the ids (in a user namespace), mounts a
 * /proc of the namespace (so that /proc/PID is the restored process) and makes the restored
 * process with clone3(set_tid), which the namespace's owner may use; then it only reaps, and
 * reports the restored process's exit status to the restorer, which stays outside to relay
 * signals.
 *
 * Everything here runs before the restore changes anything: a failure leaves the restorer as
 * it was, and the caller falls back to a new pid.
 */
#define _GNU_SOURCE
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errmsg.h"

enum stage { MAP_IDS = 1, MOUNT_PROC, MAKE_PROCESS };

static void send_msg(int fd, int kind, int value, int stage)
{
    struct crs_pidns_msg m = { kind, value, stage };
    while (write(fd, &m, sizeof m) < 0 && errno == EINTR) {
    }
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

    if (fd < 0)
        return -errno;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (!ok) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

/* In the new user namespace: this user's ids, and nothing else, mean the same as outside. */
static int map_ids(uid_t uid, gid_t gid)
{
    char line[64];
    int r;

    snprintf(line, sizeof line, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if ((r = write_file("/proc/self/uid_map", line)) < 0)
        return r;
    /* An unprivileged gid map needs setgroups denied first; the supplementary groups the
     * process has stay as they are. */
    if ((r = write_file("/proc/self/setgroups", "deny")) < 0 && r != -ENOENT)
        return r;
    snprintf(line, sizeof line, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    return write_file("/proc/self/gid_map", line);
}

/* The outer pid of the calling process: what "self" names in the procfs of the namespace
 * outside (outer_proc, a directory descriptor opened before the new /proc was mounted). */
static int outer_pid(int outer_proc)
{
    char link[32];
    ssize_t n = readlinkat(outer_proc, "self", link, sizeof link - 1);

    if (n <= 0)
        return 0;
    link[n] = 0;
    return atoi(link);
}

/* The namespace's first process. Returns 0 only in the restored-to-be process, with
 * r->outer_pid set; the first process itself ends when the restored one does. */
static int ns_init(struct crs_restore *r, int fd, int userns, uid_t uid, gid_t gid, pid_t want)
{
    int outer, e, st;
    long c;

    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the restorer gone (SIGKILL): the whole namespace */
    if (userns && (e = map_ids(uid, gid)) < 0) {
        send_msg(fd, CRS_PIDNS_ERROR, -e, MAP_IDS);
        _exit(1);
    }
    /* Mounts made outside still come in; the /proc below never goes out. */
    mount("none", "/", NULL, MS_REC | MS_SLAVE, NULL);
    outer = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        send_msg(fd, CRS_PIDNS_ERROR, errno, MOUNT_PROC);
        _exit(1);
    }
    c = crs_restore_fork_pid(want);
    if (c < 0) {
        send_msg(fd, CRS_PIDNS_ERROR, (int)-c, MAKE_PROCESS);
        _exit(1);
    }
    if (c == 0) {
        r->outer_pid = outer_pid(outer);
        r->userns = userns;
        close(outer);
        send_msg(fd, CRS_PIDNS_PID, r->outer_pid, 0);
        close(fd);
        return 0;
    }

    /* Pid 1 of the namespace: the reaper. Signals without a handler do not reach it (the
     * kernel protects a namespace's init), so it needs none; descriptors, none but its
     * report. */
    crs_close_all_but(fd);
    for (;;) {
        pid_t w = waitpid(-1, &st, 0);
        if (w == (pid_t)c) {
            send_msg(fd, CRS_PIDNS_STATUS, st, 0);
            _exit(0);
        }
        if (w < 0 && errno != EINTR)
            _exit(1);
    }
}

int crs_restore_pidns(struct crs_restore *r, pid_t want, char *err, size_t errlen)
{
    static const char *const stages[] = { "", "mapping this user's ids in it",
                                          "mounting its /proc", "making the process in it" };
    uid_t uid = geteuid();
    gid_t gid = getegid();
    struct clone_args args;
    struct crs_pidns_msg m;
    int p[2], st, userns = 0;
    ssize_t n;
    long c;

    if (want == 1) {
        crs_seterr(err, errlen, "pid 1 is the namespace's own first process");
        return -EINVAL;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        crs_seterr(err, errlen, "pipe: %s", strerror(errno));
        return -errno;
    }
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWPID | CLONE_NEWNS;
    args.exit_signal = SIGCHLD;
    fflush(NULL);
    c = syscall(SYS_clone3, &args, sizeof args);
    if (c < 0 && errno == EPERM) {
        userns = 1;
        args.flags |= CLONE_NEWUSER;
        c = syscall(SYS_clone3, &args, sizeof args);
    }
    if (c < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        crs_seterr(err, errlen, "cannot make a %spid namespace: %s%s", userns ? "user and " : "",
                   strerror(e), e == EPERM || e == ENOSPC ? " (namespaces are off for this user "
                   "here: sysctl user.max_user_namespaces, user.max_pid_namespaces, "
                   "kernel.unprivileged_userns_clone)" : "");
        return -e;
    }
    if (c == 0) {
        close(p[0]);
        return ns_init(r, p[1], userns, uid, gid, want);
    }
    close(p[1]);
    while ((n = read(p[0], &m, sizeof m)) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof m && m.kind == CRS_PIDNS_PID)
        crs_restore_relay((pid_t)c, (pid_t)m.value, p[0]);
    close(p[0]);
    while (waitpid((pid_t)c, &st, 0) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof m && m.kind == CRS_PIDNS_ERROR) {
        crs_seterr(err, errlen, "%s failed: %s",
                   m.stage > 0 && m.stage <= MAKE_PROCESS ? stages[m.stage] : "the namespace",
                   strerror(m.value));
        return -m.value;
    }
    crs_seterr(err, errlen, "the namespace's first process ended early");
    return -ECHILD;
}
