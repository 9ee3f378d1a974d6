/* runtime/control.c - the control socket that `crsnap checkpoint PID` talks to (protocol in
 * control_proto.h), in the private directory io/control_dir.c picks: the socket (0600) named
 * after the pid, and a peer credential check, so only the same user can ask. Served by the
 * coordinator; a request that waits for a result keeps its connection in crs_state.waiters
 * until the result is known. Sockets that ended processes left in the directory go at start.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_proto.h"
#include "io/control_dir.h"
#include "runtime.h"

#define CLIENT_TIMEOUT_S 2          /* a client that sends nothing cannot hold the coordinator */

/* Sockets in dir left by processes that ended (killed, or dead of a signal: only a normal exit
 * removes its own). Read with getdents64 into a stack buffer: this also runs in a restored
 * process, where a parked thread may hold the malloc lock. */
static void reap_stale(const char *dir)
{
    char buf[4096];
    unsigned removed = 0;
    long n;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dfd < 0)
        return;
    while ((n = getdents64(dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            char *end;
            long pid;

            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9')
                continue;
            pid = strtol(d->d_name, &end, 10);
            if (pid <= 0 || pid == crs_state.pid ||
                (strcmp(end, ".sock") && strcmp(end, ".sock" CRS_CTLDIR_TMP_SUFFIX)))
                continue;
            removed += (unsigned)crs_ctldir_reap(dir, d->d_name, (int)pid, (unsigned)geteuid());
        }
    }
    close(dfd);
    if (removed)
        crs_log(CRS_LOG_INFO, "removed %u control sockets left in %s by processes that ended",
                removed, dir);
}

int crs_control_open(void)
{
    struct sockaddr_un sa;
    char dir[CRS_PATH_MAX], why[CRS_CTLDIR_WHY_MAX], final[sizeof sa.sun_path];
    int fd, r;

    r = crs_ctldir_pick(crs_state.cfg.socket_dir, getenv(CRS_CTLDIR_XDG_ENV),
                        (unsigned)geteuid(), 1, dir, sizeof dir, why, sizeof why);
    if (r < 0) {
        crs_log(CRS_LOG_ERROR, "control socket directory: %s", why);
        return r;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (crs_ctldir_sock(dir, (int)getpid(), final, sizeof final) < 0 ||
        strlen(final) + strlen(CRS_CTLDIR_TMP_SUFFIX) >= sizeof sa.sun_path) {
        crs_log(CRS_LOG_ERROR, "control socket path in %s is too long", dir);
        return -ENAMETOOLONG;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* Bound under a temporary name and renamed once it listens, with its final mode: a
     * client that sees the name can connect. */
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s%s", final, CRS_CTLDIR_TMP_SUFFIX);
    unlink(sa.sun_path);                /* left by an earlier process with this pid */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(sa.sun_path, 0600) < 0 ||
        listen(fd, 16) < 0 || rename(sa.sun_path, final) < 0) {
        r = -errno;
        crs_log(CRS_LOG_ERROR, "control socket %s: %s", final, strerror(-r));
        close(fd);
        unlink(sa.sun_path);
        return r;
    }
    crs_state.listen_fd = crs_fd_high(fd);
    snprintf(crs_state.sock_path, sizeof crs_state.sock_path, "%s", final);
    crs_log(CRS_LOG_INFO, "control socket %s", crs_state.sock_path);
    reap_stale(dir);
    return 0;
}

void crs_control_unlink(void)
{
    if (crs_state.sock_path[0] && getpid() == crs_state.pid)
        unlink(crs_state.sock_path);
}

void crs_control_reply(int fd, int error, uint64_t seq, const char *path, const char *msg)
{
    char line[CRS_CONTROL_LINE_MAX];
    int n;

    /* strerrordesc_np: no translation, no locale lock (this may run while threads are parked). */
    const char *desc = strerrordesc_np(error < 0 ? -error : error);
    if (error)
        n = snprintf(line, sizeof line, "error %d %s\n", error < 0 ? -error : error,
                     msg && *msg ? msg : desc ? desc : "failed");
    else
        n = snprintf(line, sizeof line, "ok %llu %s\n", (unsigned long long)seq,
                     path && *path ? path : "-");
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    for (int i = 0; i < n - 1; i++)     /* one line, whatever the message holds */
        if (line[i] == '\n')
            line[i] = ' ';
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
        /* the client went away: nothing to tell it */
    }
}

static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (memchr(buf, '\n', n))
            break;
    }
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    return nl || n ? 0 : -EIO;
}

static void reply_status(int fd)
{
    struct crs_result r;

    if (crs_last_checkpoint(&r) < 0)
        crs_control_reply(fd, ENOENT, 0, NULL, "no checkpoint finished yet");
    else
        crs_control_reply(fd, r.error, r.seq, r.path, r.message);
}

/* Returns 1 when fd was kept (it waits for a result). */
static int serve(int fd, const char *line)
{
    if (!strcmp(line, "checkpoint")) {
        atomic_fetch_add(&crs_state.req_seq, 1);
        crs_control_reply(fd, 0, 0, NULL, NULL);
        return 0;
    }
    if (!strcmp(line, "checkpoint wait") || !strcmp(line, "checkpoint kill")) {
        int kill = line[11] == 'k';
        if (crs_state.nwaiters >= CRS_MAX_WAITERS || (kill && crs_state.kill_pending >= 0)) {
            crs_control_reply(fd, EBUSY, 0, NULL, "too many requests waiting");
            return 0;
        }
        struct crs_waiter *w = &crs_state.waiters[crs_state.nwaiters++];
        w->fd = crs_fd_high(fd);
        w->ticket = atomic_fetch_add(&crs_state.req_seq, 1) + 1;
        if (kill)
            crs_state.kill_pending = w->fd;
        return 1;
    }
    if (!strcmp(line, "status")) {
        reply_status(fd);
        return 0;
    }
    crs_control_reply(fd, EINVAL, 0, NULL, "unknown request");
    return 0;
}

void crs_control_accept(void)
{
    for (;;) {
        struct timeval tv = { CLIENT_TIMEOUT_S, 0 };
        struct ucred cred;
        socklen_t len = sizeof cred;
        char line[CRS_CONTROL_LINE_MAX];
        int fd = accept4(crs_state.listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
            return;                     /* EAGAIN: nobody else waiting */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        /* The request is read first even from a stranger, so that the refusal reaches it. */
        if (read_line(fd, line, sizeof line) < 0) {
            close(fd);
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
            crs_control_reply(fd, EACCES, 0, NULL, "permission denied");
            close(fd);
            continue;
        }
        crs_log(CRS_LOG_DEBUG, "control request \"%s\" from pid %d", line, (int)cred.pid);
        if (!serve(fd, line))
            close(fd);
    }
}
