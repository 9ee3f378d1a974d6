/* restore/restore_fds.c - gives the restored process its file descriptors back, at their
 * numbers. This is the walk and what every kind shares (moving the restorer's own descriptors
 * out of the way, placing a new descriptor at its number, attaching the standard streams,
 * reopening by name); what each kind does is in its file in fds/, through the table of
 * image/fdkind.h. What cannot be rebuilt (other sockets...) stays closed and is listed in the
 * plan, and said.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "image/fdkind.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

void crs_restore_warn(struct crs_restore *r, const char *fmt, ...)
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
    int floor = 3, keep[5], nkeep = 0;
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
    /* a lazy restore's userfaultfd stays with the process (restore_lazy.c) */
    if (r->uffd >= 0) {
        if ((fd = fcntl(r->uffd, F_DUPFD_CLOEXEC, floor)) < 0) {
            int e = errno;
            crs_seterr(err, errlen, "cannot move the userfaultfd above %d: %s", floor,
                       strerror(e));
            return -e;
        }
        close(r->uffd);
        r->uffd = fd;
        keep[nkeep++] = fd;
    }
    int e = crs_restore_shm_lift(r, floor, err, errlen);
    if (!e)
        e = crs_restore_tree_lift(r, floor, err, errlen);
    if (e)
        return e;
    r->errfd = r->stdfd[2] >= 0 ? r->stdfd[2] : fd; /* writes to the image fd just fail */
    /* Everything else the restorer holds (inherited descriptors included) goes. */
    int top = 0;
    for (int i = 0; i < nkeep; i++)
        top = keep[i] > top ? keep[i] : top;
    for (uint32_t i = 0; i < r->nshm; i++)
        top = r->shm[i].fd > top ? r->shm[i].fd : top;
    for (uint32_t i = 0; i < r->nshared; i++)
        for (int k = 0; k < 2; k++)
            top = r->shared[i].fd[k] > top ? r->shared[i].fd[k] : top;
    close_range(0, (unsigned)floor - 1, 0);
    for (int n = floor; n < top; n++) {
        int ours = 0;
        for (int i = 0; i < nkeep; i++)
            ours |= keep[i] == n;
        for (uint32_t i = 0; i < r->nshm; i++)
            ours |= r->shm[i].fd == n;
        ours |= crs_restore_tree_owns(r, n);
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

int crs_restore_fd_lift(struct crs_restore *r, int fd)
{
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, r->fd_floor);
    int e = errno;

    close(fd);
    return hi < 0 ? -e : hi;
}

int crs_restore_fd_place(struct crs_restore *r, int fd, const struct crs_img_fd *f)
{
    int hi = crs_restore_fd_lift(r, fd);
    int e;

    if (hi < 0)
        return hi;
    e = dup3(hi, f->fd, (f->fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ? -errno : 0;
    close(hi);
    return e;
}

int crs_restore_fd_dup(const struct crs_img_fd *f, int from)
{
    return dup3(from, f->fd, (f->fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ? -errno : 0;
}

int crs_restore_fd_open_flags(uint32_t flags)
{
    return (int)(flags & ~(uint32_t)(O_CREAT | O_TRUNC | O_EXCL)) | O_NOCTTY;
}

const char *crs_restore_fd_path(const struct crs_image *img, const struct crs_img_fd *f,
                                char *buf, size_t size)
{
    const char *path = crs_image_string(img, f->path);
    char own[32];
    size_t n;

    if (!path)
        return NULL;
    n = (size_t)snprintf(own, sizeof own, "/proc/%u", img->process.pid);
    if (strncmp(path, own, n) || (path[n] && path[n] != '/'))
        return path;
    snprintf(buf, size, "/proc/self%s", path + n);
    return buf;
}

int crs_restore_fd_reopen(struct crs_restore *r, const struct crs_img_fd *f)
{
    char own[CRS_PATH_MAX];
    const char *path = crs_restore_fd_path(r->img, f, own, sizeof own);
    int fd;

    if (!path || path[0] != '/')
        return -ENOENT;
    fd = open(path, crs_restore_fd_open_flags(f->flags) | O_CLOEXEC |
                        (S_ISFIFO(f->mode) ? O_NONBLOCK : 0));
    if (fd < 0)
        return -errno;
    if (S_ISFIFO(f->mode))
        fcntl(fd, F_SETFL, (int)f->flags);
    if (S_ISREG(f->mode) && lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return crs_restore_fd_place(r, fd, f);
}

/* A terminal, or a standard stream whose other side is outside the image, is attached to the
 * matching stream of `crsnap restore` (for other numbers: its first terminal). */
int crs_restore_fd_attach_std(struct crs_restore *r, const struct crs_img_fd *f)
{
    int from = -1;

    if (f->fd <= 2)
        from = r->stdfd[f->fd];
    for (int i = 0; i < 3 && from < 0; i++)
        if (r->stdfd[i] >= 0 && isatty(r->stdfd[i]))
            from = r->stdfd[i];
    if (from < 0)
        return -ENOENT;
    return crs_restore_fd_dup(f, from);
}

#define SAY_FIRST 5                     /* lines before "and N more", without -v */

static int listed_unsaved(const struct crs_image *img, int fd)
{
    for (uint32_t i = 0; i < img->nunsaved; i++)
        if (img->unsaved[i].kind == CRS_UNSAVED_FD && img->unsaved[i].fd == fd)
            return 1;
    return 0;
}

/* Which of the image's UNSAVED records (by index) came back after all: the checkpoint of a
 * job's process could not tell that its child, or the other end of a pipe or a socket, was
 * the job's, and the job's restore brought it back. NULL when there is nothing to skip. */
static uint8_t *came_back(const struct crs_restore *r)
{
    const struct crs_image *img = r->img;
    const struct crs_image *root = img->tree ? img : r->opts.tree_root;
    uint8_t *back;

    if (!root || !img->nunsaved || !(back = calloc(img->nunsaved, 1)))
        return NULL;
    for (uint32_t i = 0; i < img->nunsaved; i++) {
        const struct crs_img_unsaved *u = &img->unsaved[i];
        int rebuilt = 0;
        if (u->kind == CRS_UNSAVED_CHILD) {
            for (uint32_t k = 0; k < root->ntree; k++)
                rebuilt |= root->tree_members[k].pid == u->pid;
        } else if (u->kind == CRS_UNSAVED_FD) {
            for (uint32_t k = 0; k < img->nfds; k++)
                rebuilt |= img->fds[k].fd == u->fd && crs_restore_tree_joined(r, &img->fds[k]);
            for (uint32_t k = 0; k < r->plan->nunrestored; k++)
                rebuilt &= r->plan->unrestored[k] != u->fd;
        }
        back[i] = (uint8_t)rebuilt;
    }
    return back;
}

void crs_restore_say_unsaved(const struct crs_image *img, int out, int all,
                             const uint32_t *extra, uint32_t nextra, const uint8_t *back)
{
    uint32_t total = nextra, said = 0;
    char line[600];

    for (uint32_t i = 0; i < img->nunsaved; i++)
        total += !(back && back[i]);
    for (uint32_t i = 0; i < img->nunsaved + nextra && (all || said < SAY_FIRST); i++) {
        if (i < img->nunsaved && back && back[i])
            continue;
        said++;
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
            e = crs_restore_fd_attach_std(r, f);
            done[i] = 1;
            if (e)
                unrestored(r, f->fd);
            continue;
        }
        const struct crs_fd_ops *k = crs_fd_ops_of(f->kind);
        if (k && k->rebuild)
            e = k->rebuild(r, f, done);
        else
            e = f->fd <= 2 ? crs_restore_fd_attach_std(r, f) : -ENOTSUP;
        done[i] = 1;
        if (e) {
            unrestored(r, f->fd);       /* e > 0: a stand-in, and the image says what is lost */
            if (e < 0 && e != -ENOTSUP)
                crs_restore_warn(r, "descriptor %d (%s %s) not restored: %s", f->fd,
                                 crs_image_fd_kind_name(f->kind), path ? path : "",
                                 strerror(-e));
            else if (!listed_unsaved(img, f->fd) && extra)
                extra[nextra++] = i;    /* an older image, or a kind the checkpoint missed */
        }
    }
    /* said by default: a socket or pipe that silently stays closed leaves a program spinning
     * on it or waiting forever, and nothing else would tell */
    uint8_t *back = came_back(r);
    crs_restore_say_unsaved(img, r->errfd, r->opts.verbose, extra, nextra, back);
    free(back);
    free(extra);
    crs_restore_shm_close(r);           /* the regions and descriptors hold them now */
    crs_restore_tree_close(r);          /* the job's pipes this process did not have */
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_fd_ops *k = crs_fd_ops_of(img->fds[i].kind);
        if (k && k->rebuild_late && fcntl(img->fds[i].fd, F_GETFD) >= 0)
            k->rebuild_late(r, &img->fds[i]);
    }
    return 0;
}
