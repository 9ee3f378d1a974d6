/* restore/restore_fds.c - gives the restored process its file descriptors back, at their
 * numbers: files and devices reopened with their flags and offsets, the standard streams and
 * terminals taken from `crsnap restore` itself, pipes, unix socketpairs with both ends in the
 * process, eventfd, timerfd, signalfd and epoll rebuilt. What cannot be rebuilt (other
 * sockets...) stays closed and is listed in the plan.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void warn(struct crs_restore *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    crs_restore_say(r->errfd, "warning: ", buf);
}

int crs_restore_move_own_fds(struct crs_restore *r, char *err, size_t errlen)
{
    int floor = 3, keep[4], nkeep = 0;
    int fd;

    for (uint32_t i = 0; i < r->img->nfds; i++)
        if (r->img->fds[i].kind != CRS_FD_INTERNAL && r->img->fds[i].fd >= floor)
            floor = r->img->fds[i].fd + 1;
    r->fd_floor = floor;
    /* Room above the highest saved number; the saved limits come back later. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)floor + 64 &&
        rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)floor + 64 ? rl.rlim_max : (rlim_t)floor + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < 3; i++) {
        r->stdfd[i] = fcntl(i, F_DUPFD_CLOEXEC, floor);
        if (r->stdfd[i] >= 0)
            keep[nkeep++] = r->stdfd[i];
    }
    fd = fcntl(r->img->fd, F_DUPFD_CLOEXEC, floor);
    if (fd < 0) {
        int e = errno;
        crs_seterr(err, errlen,
                   "cannot move the image descriptor above %d: %s", floor, strerror(e));
        return -e;
    }
    close(r->img->fd);
    r->img->fd = fd;
    keep[nkeep++] = fd;
    r->errfd = r->stdfd[2] >= 0 ? r->stdfd[2] : fd; /* writes to the image fd just fail */
    /* Everything else the restorer holds (inherited descriptors included) goes. */
    int top = 0;
    for (int i = 0; i < nkeep; i++)
        top = keep[i] > top ? keep[i] : top;
    close_range(0, (unsigned)floor - 1, 0);
    for (int n = floor; n < top; n++) {
        int ours = 0;
        for (int i = 0; i < nkeep; i++)
            ours |= keep[i] == n;
        if (!ours)
            close(n);
    }
    close_range((unsigned)top + 1, ~0u, 0);
    return 0;
}

static void unrestored(struct crs_restore *r, int fd)
{
    if (r->plan->nunrestored < CRS_PLAN_MAX_FDS)
        r->plan->unrestored[r->plan->nunrestored++] = fd;
}

/* Moves a fresh descriptor above every saved number (closing the original), so that it never
 * lands on a slot still to be filled. Returns the new number, or -errno. */
static int lift(struct crs_restore *r, int fd)
{
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, r->fd_floor);
    int e = errno;

    close(fd);
    return hi < 0 ? -e : hi;
}

/* Puts a fresh descriptor at the saved number with its close-on-exec flag. */
static int place(struct crs_restore *r, int fd, const struct crs_img_fd *f)
{
    int hi = lift(r, fd);
    int e;

    if (hi < 0)
        return hi;
    e = dup3(hi, f->fd, (f->fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ? -errno : 0;
    close(hi);
    return e;
}

static int dup_to(const struct crs_img_fd *f, int from)
{
    return dup3(from, f->fd, (f->fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ? -errno : 0;
}

static int open_flags(uint32_t flags)
{
    return (int)(flags & ~(uint32_t)(O_CREAT | O_TRUNC | O_EXCL)) | O_NOCTTY;
}

static int reopen(struct crs_restore *r, const struct crs_img_fd *f)
{
    const char *path = crs_image_string(r->img, f->path);
    int fd;

    if (!path || path[0] != '/')
        return -ENOENT;
    fd = open(path, open_flags(f->flags) | O_CLOEXEC | (S_ISFIFO(f->mode) ? O_NONBLOCK : 0));
    if (fd < 0)
        return -errno;
    if (S_ISFIFO(f->mode))
        fcntl(fd, F_SETFL, (int)f->flags);
    if (S_ISREG(f->mode) && lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return place(r, fd, f);
}

/* A file that had been deleted, or never had a name (O_TMPFILE), comes back as a new nameless
 * file, in its old directory where that still exists (else in /tmp), holding its contents of
 * the checkpoint. Its first descriptor makes it; the others open that one again, so that each
 * has its own flags and offset, as they had. */
static int rebuild_deleted(struct crs_restore *r, const struct crs_img_fd *f,
                           const struct crs_image_deleted *d)
{
    const struct crs_image *img = r->img;
    char link[64], dir[4096];
    int made = -1, ours = -1, fd;

    for (uint32_t i = 0; i < img->nfds && img->fds[i].fd < f->fd; i++)
        if (img->fds[i].kind == CRS_FD_FILE && img->fds[i].ino == f->ino &&
            img->fds[i].dev == f->dev && fcntl(img->fds[i].fd, F_GETFD) >= 0)
            made = img->fds[i].fd;
    if (made < 0) {
        const char *path = crs_image_string(img, f->path);
        snprintf(dir, sizeof dir, "%s", path && path[0] == '/' ? path : "/tmp/x");
        char *slash = strrchr(dir, '/');
        slash[slash == dir ? 1 : 0] = '\0';
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (int)(d->mode & 07777));
        if (fd < 0)
            fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, (int)(d->mode & 07777));
        if (fd < 0)
            return -errno;
        /* above every saved number, so that no placement closes it under us */
        if ((ours = lift(r, fd)) < 0)
            return ours;
        for (uint64_t done = 0; done < d->size;) {
            ssize_t n = write(ours, d->data + done, (size_t)(d->size - done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                int e = n < 0 ? -errno : -EIO;
                close(ours);
                return e;
            }
            done += (uint64_t)n;
        }
        made = ours;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", made);
    /* F_GETFL of an O_TMPFILE descriptor reports O_TMPFILE (with O_DIRECTORY in it), and
     * O_NOFOLLOW (sqlite opens its temporary files so) would refuse the /proc link itself */
    fd = open(link, (open_flags(f->flags) & ~(O_TMPFILE | O_NOFOLLOW)) | O_CLOEXEC);
    if (ours >= 0)
        close(ours);
    if (fd < 0)
        return -errno;
    if (lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return place(r, fd, f);
}

/* A terminal, or a standard stream whose other side is outside the image, is attached to the
 * matching stream of `crsnap restore` (for other numbers: its first terminal). */
static int attach_std(struct crs_restore *r, const struct crs_img_fd *f)
{
    int from = -1;

    if (f->fd <= 2)
        from = r->stdfd[f->fd];
    for (int i = 0; i < 3 && from < 0; i++)
        if (r->stdfd[i] >= 0 && isatty(r->stdfd[i]))
            from = r->stdfd[i];
    if (from < 0)
        return -ENOENT;
    return dup_to(f, from);
}

static int has_queued(const struct crs_image *img, const struct crs_img_fd *g)
{
    for (uint32_t i = 0; i < img->nqueued; i++)
        if (img->queued[i].fd == g->fd && img->queued[i].ino == g->ino)
            return 1;
    return 0;
}

/* Puts back what g, a pipe's read end or one end of a socket pair, had waiting: its records in
 * order (one per datagram on a datagram pair), written into wfd, the pipe's new write end or
 * the pair's other new end. Done before the ends are placed, on descriptors of our own,
 * without ever blocking; what does not go back is reported. */
static void refill(struct crs_restore *r, const struct crs_img_fd *g, int wfd, int is_pipe)
{
    const struct crs_image *img = r->img;
    int fl = fcntl(wfd, F_GETFL), whole = 1;
    uint64_t total = 0, put = 0;

    for (uint32_t i = 0; i < img->nqueued; i++)
        if (img->queued[i].fd == g->fd && img->queued[i].ino == g->ino)
            total += img->queued[i].len;
    if (is_pipe && total > 0 && fcntl(wfd, F_GETPIPE_SZ) < (int)total)
        fcntl(wfd, F_SETPIPE_SZ, (int)total);
    fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
    for (uint32_t i = 0; i < img->nqueued && whole; i++) {
        const struct crs_image_queued *q = &img->queued[i];
        uint32_t done = 0;
        if (q->fd != g->fd || q->ino != g->ino)
            continue;
        if (!is_pipe) {                 /* one send, one datagram (or bytes of a stream) */
            ssize_t n = send(wfd, q->data, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            done = n > 0 ? (uint32_t)n : 0;
        }
        while (done < q->len) {
            ssize_t n = write(wfd, q->data + done, q->len - done);
            if (n <= 0)
                break;
            done += (uint32_t)n;
        }
        put += done;
        whole = done == q->len;
    }
    fcntl(wfd, F_SETFL, fl);
    if (!whole)
        warn(r, "descriptor %d: %llu of the %llu bytes queued at the checkpoint put back", g->fd,
             (unsigned long long)put, (unsigned long long)total);
}

/* Pipes whose both ends are in the image become a new pipe, holding again the bytes that were
 * waiting in it. */
static int rebuild_pipe(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    const struct crs_image *img = r->img;
    int p[2], have[2] = {0, 0}, e = 0;

    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind == CRS_FD_PIPE && g->ino == f->ino)
            have[(g->flags & O_ACCMODE) == O_RDONLY ? 0 : 1] = 1;
    }
    if (!have[0] || !have[1])
        return f->fd <= 2 ? attach_std(r, f) : -ENOTSUP;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    for (int k = 0; k < 2; k++)
        p[k] = lift(r, p[k]);
    /* one copy of the pipe's bytes: the first read end that has a record */
    for (uint32_t i = 0; i < img->nfds && p[1] >= 0; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind == CRS_FD_PIPE && g->ino == f->ino && (g->flags & O_ACCMODE) != O_WRONLY &&
            has_queued(img, g)) {
            refill(r, g, p[1], 1);
            break;
        }
    }
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind != CRS_FD_PIPE || g->ino != f->ino)
            continue;
        int end = p[(g->flags & O_ACCMODE) == O_RDONLY ? 0 : 1];
        if (end < 0 || (e = dup_to(g, end)))
            break;
        fcntl(g->fd, F_SETFL, (int)g->flags);
        done[i] = 1;
    }
    if (p[0] < 0 || p[1] < 0)
        e = -EMFILE;
    close(p[0]);
    close(p[1]);
    return e;
}

/* A unix socketpair whose both ends are in the image (an event loop's wake-up channel, most
 * often) becomes a new socketpair of the same type, with what was waiting in each direction put
 * back (bytes of a stream, datagram by datagram otherwise). */
static int rebuild_socketpair(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    const struct crs_image *img = r->img;
    uint64_t ino[2] = { f->ino, f->u.socket.peer_ino };
    uint32_t type = f->u.socket.type;
    int sv[2], have = 0, e = 0;

    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        have |= g->kind == CRS_FD_SOCKET && (g->u.socket.flags & CRS_SOCK_F_PAIR) &&
                g->ino == ino[1] && g->u.socket.peer_ino == ino[0];
    }
    if (!have || f->u.socket.family != AF_UNIX ||
        (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET))
        return f->fd <= 2 ? attach_std(r, f) : -ENOTSUP;
    if (socketpair(AF_UNIX, (int)type | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    for (int k = 0; k < 2; k++)
        sv[k] = lift(r, sv[k]);
    /* what end k had to read was written by the other end */
    uint8_t refilled[2] = {0, 0};
    for (uint32_t i = 0; i < img->nfds && sv[0] >= 0 && sv[1] >= 0; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        int k = g->ino == ino[0] ? 0 : 1;
        if (g->kind == CRS_FD_SOCKET && (g->u.socket.flags & CRS_SOCK_F_PAIR) &&
            (g->ino == ino[0] || g->ino == ino[1]) && !refilled[k] && has_queued(img, g)) {
            refill(r, g, sv[1 - k], 0);
            refilled[k] = 1;            /* another descriptor of that end holds the same */
        }
    }
    for (uint32_t i = 0; i < img->nfds && sv[0] >= 0 && sv[1] >= 0; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind != CRS_FD_SOCKET || !(g->u.socket.flags & CRS_SOCK_F_PAIR) ||
            (g->ino != ino[0] && g->ino != ino[1]))
            continue;
        if ((e = dup_to(g, sv[g->ino == ino[0] ? 0 : 1])))
            break;
        fcntl(g->fd, F_SETFL, (int)g->flags);
        done[i] = 1;
    }
    if (sv[0] < 0 || sv[1] < 0)
        e = -EMFILE;
    close(sv[0]);
    close(sv[1]);
    return e;
}

static int rebuild_eventfd(struct crs_restore *r, const struct crs_img_fd *f)
{
    int flags = (f->u.eventfd.semaphore ? EFD_SEMAPHORE : 0) | EFD_CLOEXEC |
                ((f->flags & O_NONBLOCK) ? EFD_NONBLOCK : 0);
    int fd = eventfd(0, flags);
    uint64_t count = f->u.eventfd.count;

    if (fd < 0)
        return -errno;
    if (count && write(fd, &count, sizeof count) != sizeof count) {
        close(fd);
        return -EIO;
    }
    return place(r, fd, f);
}

static int rebuild_timerfd(struct crs_restore *r, const struct crs_img_fd *f)
{
    int fd = timerfd_create(f->u.timerfd.clockid,
                            TFD_CLOEXEC | ((f->flags & O_NONBLOCK) ? TFD_NONBLOCK : 0));
    struct itimerspec its = {
        .it_interval = { f->u.timerfd.interval.sec, f->u.timerfd.interval.usec * 1000 },
        .it_value = { f->u.timerfd.value.sec, f->u.timerfd.value.usec * 1000 },
    };

    if (fd < 0)
        return -errno;
    /* An armed timer whose remaining time rounds to zero still has to fire. */
    if (!its.it_value.tv_sec && !its.it_value.tv_nsec &&
        (its.it_interval.tv_sec || its.it_interval.tv_nsec))
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(fd, 0, &its, NULL) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return place(r, fd, f);
}

static int rebuild_signalfd(struct crs_restore *r, const struct crs_img_fd *f)
{
    uint64_t mask = f->u.signalfd.mask;
    int fd = (int)syscall(SYS_signalfd4, -1, &mask, sizeof mask,
                          SFD_CLOEXEC | ((f->flags & O_NONBLOCK) ? SFD_NONBLOCK : 0));
    if (fd < 0)
        return -errno;
    return place(r, fd, f);
}

static int rebuild_epoll_fd(struct crs_restore *r, const struct crs_img_fd *f)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return -errno;
    return place(r, fd, f);
}

/* Registrations are added once every other descriptor exists. */
static void rebuild_epoll_set(struct crs_restore *r, const struct crs_img_fd *f)
{
    uint32_t n = f->u.epoll.n < CRS_EPOLL_MAX ? f->u.epoll.n : CRS_EPOLL_MAX;

    for (uint32_t i = 0; i < n; i++) {
        const struct crs_img_epoll_tfd *t = &f->u.epoll.tfd[i];
        struct epoll_event ev = { .events = t->events, .data.u64 = t->data };
        if (epoll_ctl(f->fd, EPOLL_CTL_ADD, t->fd, &ev) < 0)
            warn(r, "epoll descriptor %d: cannot watch descriptor %d again: %s", f->fd, t->fd,
                 strerror(errno));
    }
}

#define SAY_FIRST 5                     /* lines before "and N more", without -v */

static int listed_unsaved(const struct crs_image *img, int fd)
{
    for (uint32_t i = 0; i < img->nunsaved; i++)
        if (img->unsaved[i].kind == CRS_UNSAVED_FD && img->unsaved[i].fd == fd)
            return 1;
    return 0;
}

void crs_restore_say_unsaved(const struct crs_image *img, int out, int all,
                             const uint32_t *extra, uint32_t nextra)
{
    uint32_t total = img->nunsaved + nextra, said = 0;
    char line[600];

    for (uint32_t i = 0; i < total && (all || said < SAY_FIRST); i++, said++) {
        if (i < img->nunsaved) {
            crs_image_unsaved_line(img, i, line, sizeof line);
        } else {
            const struct crs_img_fd *f = &img->fds[extra[i - img->nunsaved]];
            const char *path = crs_image_string(img, f->path);
            snprintf(line, sizeof line, "fd %d: %s %s", f->fd, crs_image_fd_kind_name(f->kind),
                     path ? path : "");
        }
        crs_restore_say(out, "not restored: ", line);
    }
    if (said < total)
        dprintf(out, "crsnap restore: not restored: and %u more (-v lists them all)\n",
                total - said);
}

int crs_restore_fds(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;
    uint8_t *done = r->fd_done;
    /* left closed, and the image does not say so */
    uint32_t *extra, nextra = 0;
    int e;

    if (!done) {
        crs_seterr(err, errlen, "internal error: no room to track the descriptors");
        return -EINVAL;
    }
    extra = calloc(img->nfds ? img->nfds : 1, sizeof *extra);
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        const char *path = crs_image_string(img, f->path);
        if (done[i])
            continue;
        if (f->fd <= 2 && r->opts.own_std) {
            e = attach_std(r, f);
            done[i] = 1;
            if (e)
                unrestored(r, f->fd);
            continue;
        }
        switch (f->kind) {
        case CRS_FD_FILE:
        case CRS_FD_CHR:
            e = crs_image_deleted_for(img, f) ? rebuild_deleted(r, f, crs_image_deleted_for(img, f))
                                            : reopen(r, f);
            break;
        case CRS_FD_TTY:
            e = attach_std(r, f);
            break;
        case CRS_FD_PIPE:
            e = path && path[0] == '/' ? reopen(r, f) : rebuild_pipe(r, f, done);
            break;
        case CRS_FD_SOCKET:
            e = (f->u.socket.flags & CRS_SOCK_F_PAIR) ? rebuild_socketpair(r, f, done)
                : f->fd <= 2 ? attach_std(r, f) : -ENOTSUP;
            break;
        case CRS_FD_EVENTFD:
            e = rebuild_eventfd(r, f);
            break;
        case CRS_FD_TIMERFD:
            e = rebuild_timerfd(r, f);
            break;
        case CRS_FD_SIGNALFD:
            e = rebuild_signalfd(r, f);
            break;
        case CRS_FD_EPOLL:
            e = rebuild_epoll_fd(r, f);
            break;
        case CRS_FD_INTERNAL:
            e = 0;
            break;
        default:
            e = f->fd <= 2 ? attach_std(r, f) : -ENOTSUP;
            break;
        }
        done[i] = 1;
        if (e) {
            unrestored(r, f->fd);
            if (e != -ENOTSUP)
                warn(r, "descriptor %d (%s %s) not restored: %s", f->fd,
                     crs_image_fd_kind_name(f->kind), path ? path : "", strerror(-e));
            else if (!listed_unsaved(img, f->fd) && extra)
                extra[nextra++] = i;    /* an older image, or a kind the checkpoint missed */
        }
    }
    /* said by default: a socket or pipe that silently stays closed leaves a program spinning
     * on it or waiting forever, and nothing else would tell */
    crs_restore_say_unsaved(img, r->errfd, r->opts.verbose, extra, nextra);
    free(extra);
    for (uint32_t i = 0; i < img->nfds; i++)
        if (img->fds[i].kind == CRS_FD_EPOLL && fcntl(img->fds[i].fd, F_GETFD) >= 0)
            rebuild_epoll_set(r, &img->fds[i]);
    return 0;
}
