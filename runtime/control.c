/* runtime/control.c - the control socket that `crsnap checkpoint PID` talks to (protocol in
 * control_proto.h), in the private directory io/control_dir.c picks: the socket (0600) named
 * after the pid, the peer's uid checked as soon as a connection is accepted, and requests read
 * without blocking from the coordinator's poll set, each within a deadline, so that no client
 * holds the coordinator. A request that waits for a result keeps its connection in
 * crs_state.waiters until the result is known.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_proto.h"
#include "io/control_dir.h"
#include "runtime.h"

_Static_assert(sizeof(((struct crs_ctl_client *)0)->buf) == CRS_CONTROL_REQUEST_MAX,
               "a client's buffer holds the longest request");

#define DEADLINE_NS ((uint64_t)CRS_CONTROL_DEADLINE_MS * 1000000ull)

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
    if (crs_ctldir_sock(dir, (int)crs_state.public_pid, final, sizeof final) < 0 ||
        strlen(final) + strlen(CRS_CTLDIR_TMP_SUFFIX) >= sizeof sa.sun_path) {
        crs_log(CRS_LOG_ERROR, "control socket path in %s is too long", dir);
        return -ENAMETOOLONG;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* Bound under a temporary name and renamed once it listens, with its final mode: a
     * client that sees the name can connect. */
    memcpy(sa.sun_path, final, strlen(final));      /* both fit: checked above */
    memcpy(sa.sun_path + strlen(final), CRS_CTLDIR_TMP_SUFFIX, sizeof CRS_CTLDIR_TMP_SUFFIX);
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
    if (crs_state.tree.role == CRS_TREE_MEMBER && !strncmp(line, "checkpoint", 10)) {
        char msg[96];
        snprintf(msg, sizeof msg, "this process is part of a job: checkpoint its root, pid %d",
                 (int)crs_state.tree.root);
        crs_control_reply(fd, EINVAL, 0, NULL, msg);
        return 0;
    }
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
    if (!strncmp(line, "tree ", 5))
        return crs_tree_serve(fd, line);
    if (!strcmp(line, "status")) {
        reply_status(fd);
        return 0;
    }
    crs_control_reply(fd, EINVAL, 0, NULL, "unknown request");
    return 0;
}

/* One line from a client: answered, or kept as a waiter (then its descriptor is not ours to
 * close any more). */
static void handle_line(struct crs_ctl_client *cl)
{
    char *nl = memchr(cl->buf, '\n', cl->len);

    if (nl)
        *nl = 0;
    cl->buf[cl->len < sizeof cl->buf ? cl->len : sizeof cl->buf - 1] = 0;
    crs_log(CRS_LOG_DEBUG, "control request \"%s\"", cl->buf);
    if (!serve(cl->fd, cl->buf))
        close(cl->fd);
    cl->fd = -1;
}

/* Reads what a client sent so far, without blocking. */
static void read_client(struct crs_ctl_client *cl)
{
    for (;;) {
        ssize_t r = read(cl->fd, cl->buf + cl->len, sizeof cl->buf - 1 - cl->len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {                   /* end of its requests, or an error */
            if (r == 0 && cl->len)
                handle_line(cl);        /* a last line without its newline */
            else {
                close(cl->fd);
                cl->fd = -1;
            }
            return;
        }
        cl->len += (unsigned)r;
        if (memchr(cl->buf, '\n', cl->len)) {
            handle_line(cl);
            return;
        }
        if (cl->len >= sizeof cl->buf - 1) {
            crs_control_reply(cl->fd, EINVAL, 0, NULL, "request too long");
            close(cl->fd);
            cl->fd = -1;
            return;
        }
    }
}

/* New connections: the peer's credentials are checked before anything is read from it, and a
 * stranger's is refused at once; the others wait in the poll set for their request. */
static void accept_clients(uint64_t now)
{
    for (;;) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        int fd = accept4(crs_state.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
            return;                     /* EAGAIN: nobody else waiting */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            cred.uid != geteuid()) {
            crs_log(CRS_LOG_DEBUG, "control connection from uid %u (pid %d) refused",
                    (unsigned)cred.uid, (int)cred.pid);
            crs_control_reply(fd, EACCES, 0, NULL, "permission denied");
            close(fd);
            continue;
        }
        if (crs_state.nclients >= CRS_MAX_CTL_CLIENTS) {
            crs_control_reply(fd, EBUSY, 0, NULL, "too many control connections at once");
            close(fd);
            continue;
        }
        fd = crs_fd_high(fd);
        if (crs_state.cfg.hooks.accept_delay_us)
            usleep(crs_state.cfg.hooks.accept_delay_us);
        struct crs_ctl_client *cl = &crs_state.clients[crs_state.nclients];
        cl->fd = fd;
        cl->len = 0;
        cl->deadline_ns = now + DEADLINE_NS;
        crs_state.nclients++;
    }
}

unsigned crs_control_pollfds(struct pollfd *pf)
{
    unsigned n = 0;

    pf[n++] = (struct pollfd){ .fd = crs_state.listen_fd, .events = POLLIN };
    for (unsigned i = 0; i < crs_state.nclients; i++)
        pf[n++] = (struct pollfd){ .fd = crs_state.clients[i].fd, .events = POLLIN };
    return n;
}

int crs_control_timeout(void)
{
    uint64_t now, first = UINT64_MAX;

    if (!crs_state.nclients)
        return -1;
    for (unsigned i = 0; i < crs_state.nclients; i++)
        if (crs_state.clients[i].deadline_ns < first)
            first = crs_state.clients[i].deadline_ns;
    now = crs_now_ns(CLOCK_MONOTONIC);
    return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

/* Under the fd lock (forklock.c): connections are accepted, moved, handed on and closed
 * here. */
void crs_control_serve(const struct pollfd *pf, unsigned n)
{
    uint64_t now;
    unsigned keep = 0;
    int held = crs_fds_lock();

    /* pf is what crs_control_pollfds() gave: the listener, then clients[0..n-1). What came
     * is read before any deadline is applied, so a request that arrived while a checkpoint
     * kept the coordinator busy is still served. */
    for (unsigned i = 1; i < n && i - 1 < crs_state.nclients; i++)
        if (pf[i].revents)
            read_client(&crs_state.clients[i - 1]);
    now = crs_now_ns(CLOCK_MONOTONIC);
    for (unsigned i = 0; i < crs_state.nclients; i++) {
        struct crs_ctl_client *cl = &crs_state.clients[i];
        if (cl->fd < 0)
            continue;
        if (now >= cl->deadline_ns) {
            crs_control_reply(cl->fd, ETIMEDOUT, 0, NULL, "no complete request in time");
            close(cl->fd);
            continue;
        }
        crs_state.clients[keep++] = *cl;
    }
    crs_state.nclients = keep;
    if (n && pf[0].revents)
        accept_clients(now);
    crs_fds_unlock(held);
}

unsigned crs_control_fds(int *out, unsigned room)
{
    unsigned n = 0;

    for (unsigned i = 0; i < crs_state.nwaiters && n < room; i++)
        out[n++] = crs_state.waiters[i].fd;
    for (unsigned i = 0; i < crs_state.nclients && n < room; i++)
        out[n++] = crs_state.clients[i].fd;
    return n;
}
