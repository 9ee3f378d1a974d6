/* restore/restore_tree.c - a job of several processes brought back. The first restorer checks
 * every member's image before anything changes, makes the pipes and socket connections members
 * share (with their queued bytes) and the memory they share once, and becomes the root; each
 * process makes its children under their pids before it becomes itself, and each child is a
 * `crsnap restore --member PID` of its own, so that its layout is fresh. The shared objects
 * travel down by inheritance, named in $CRSNAP_RESTORE_SHARED; every process keeps the ends it
 * had and closes the others.
 * Ordinary libc code, run before the restorer's point of no return.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/sched.h>

#include "common/errmsg.h"
#include "image/fdkind.h"
#include "restore.h"

#define SHARED_ENV "CRSNAP_RESTORE_SHARED"
#define NS_ENV "CRSNAP_RESTORE_IN_NS"
#define SPAWNED_ENV "CRSNAP_RESTORE_SPAWNED"

/* The directory of path, and path of a member's image in it: DIR/PARTS/PID.crsnap. */
static int part_path(const char *root_path, const struct crs_img_tree *t, uint32_t pid,
                     char *out, size_t cap)
{
    const char *slash = strrchr(root_path, '/');
    int n = slash ? snprintf(out, cap, "%.*s/%s/%u%s", (int)(slash - root_path), root_path,
                             t->parts, pid, CRS_IMG_SUFFIX)
                  : snprintf(out, cap, "%s/%u%s", t->parts, pid, CRS_IMG_SUFFIX);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int crs_restore_tree_open_part(const struct crs_image *root, uint32_t pid,
                               struct crs_image **out, char *err, size_t errlen)
{
    char path[PATH_MAX], why[512];
    struct stat sb;
    int fd, r;

    if ((r = part_path(root->path, root->tree, pid, path, sizeof path)) < 0) {
        crs_seterr(err, errlen, "the image of process %u: path too long", pid);
        return r;
    }
    /* Beside a trusted image, made by the same user: the same user's, not writable by others,
     * not a link. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) < 0) {
        r = -errno;
        if (fd >= 0)
            close(fd);
        crs_seterr(err, errlen, "%s: the image of process %u of the job: %s", path, pid,
                   strerror(-r));
        return r;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 022)) {
        close(fd);
        crs_seterr(err, errlen, "%s: not a file of yours that only you can write", path);
        return -EPERM;
    }
    if ((r = crs_image_open_fd(fd, path, out, why, sizeof why)) < 0) {
        crs_seterr(err, errlen, "the image of process %u of the job: %s", pid, why);
        return r;
    }
    if ((*out)->process.pid != pid || (*out)->tree) {
        crs_seterr(err, errlen, "%s is not the image of process %u of this job", path, pid);
        crs_image_close(*out);
        *out = NULL;
        return -EBADMSG;
    }
    return 0;
}

/* A FIFO is opened again by its path; only pipes are shared by inheritance. */
static int is_fifo(const struct crs_image *img, const struct crs_img_fd *f)
{
    const char *path = crs_image_string(img, f->path);
    return path && path[0] == '/';
}

/* Which ends of pipe ino img holds: bit 0 a read end, bit 1 a write end. */
static int pipe_ends(const struct crs_image *img, uint64_t ino)
{
    int ends = 0;
    for (uint32_t i = 0; i < img->nfds; i++)
        if (img->fds[i].kind == CRS_FD_PIPE && img->fds[i].ino == ino &&
            !is_fifo(img, &img->fds[i]))
            ends |= (img->fds[i].flags & O_ACCMODE) == O_RDONLY ? 1 : 2;
    return ends;
}

/* The job's shared object of kind known by (dev, ino): found, or added (*added set) with no
 * descriptor yet. NULL when the table is full. */
static struct crs_restore_shared *shared_of(struct crs_restore *r, uint32_t kind, uint64_t dev,
                                            uint64_t ino, int *added)
{
    *added = 0;
    for (uint32_t i = 0; i < r->nshared; i++)
        if (r->shared[i].kind == kind && r->shared[i].dev == dev && r->shared[i].ino == ino)
            return &r->shared[i];
    if (r->nshared >= CRS_RESTORE_MAX_SHARED)
        return NULL;
    *added = 1;
    r->shared[r->nshared] = (struct crs_restore_shared){
        .kind = kind, .dev = dev, .ino = ino, .fd = { -1, -1 } };
    return &r->shared[r->nshared++];
}

static int add_pipe(struct crs_restore *r, uint64_t ino, int ends)
{
    int added;
    struct crs_restore_shared *sh = shared_of(r, CRS_SHARED_PIPE, 0, ino, &added);

    if (!sh)
        return -E2BIG;
    if (added)
        sh->ends = (uint32_t)ends;
    return 0;
}

/* A unix socket whose peer the kernel named: one end of a connection. */
static int connection_end(const struct crs_img_fd *f)
{
    return f->kind == CRS_FD_SOCKET && f->u.socket.family == AF_UNIX &&
           (f->u.socket.flags & CRS_SOCK_F_DIAG) && f->u.socket.peer_ino;
}

/* A unix socket img holds that is connected to socket peer: one end of a connection. */
static const struct crs_img_fd *socket_end(const struct crs_image *img, uint64_t ino,
                                           uint64_t peer)
{
    const struct crs_img_fd *first = NULL;

    for (uint32_t i = 0; img && i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        if (!connection_end(f) || f->ino != ino || f->u.socket.peer_ino != peer)
            continue;
        if (crs_restore_has_queued(img, f))
            return f;                   /* the one whose bytes were copied, if any */
        if (!first)
            first = f;
    }
    return first;
}

/* The connection between sockets a and b, whose ends two processes of the job hold. */
static int add_socket(struct crs_restore *r, uint64_t a, uint64_t b)
{
    int added;
    struct crs_restore_shared *sh = shared_of(r, CRS_SHARED_SOCKET, 0, a < b ? a : b, &added);

    if (!sh)
        return -E2BIG;
    if (added) {
        sh->peer = a < b ? b : a;
        sh->ends = 3;
    }
    return 0;
}

/* Shared memory (dev, ino) of process pid, mapped up to end bytes of it. */
static int add_memory(struct crs_restore *r, uint64_t dev, uint64_t ino, uint64_t end)
{
    int added;
    struct crs_restore_shared *sh = shared_of(r, CRS_SHARED_MEMORY, dev, ino, &added);

    if (!sh)
        return -E2BIG;
    if (end > sh->size)
        sh->size = end;
    return 0;
}

/* Whether img maps shared memory (dev, ino) that lives only in memory; saved: with pages. */
static int maps_memory(const struct crs_image *img, uint64_t dev, uint64_t ino, int saved)
{
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if (crs_restore_shm_region(v) && v->dev == dev && v->ino == ino &&
            (!saved || (v->flags & CRS_VMA_F_SAVED)))
            return 1;
    }
    return 0;
}

/* A descriptor of img on the object (dev, ino) whose contents the image holds (a memfd, or a
 * file with no name left), or NULL. */
static const struct crs_img_fd *memfd_of(const struct crs_image *img, uint64_t dev, uint64_t ino)
{
    for (uint32_t i = 0; img && i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        if ((f->kind == CRS_FD_MEMFD || f->kind == CRS_FD_FILE) && f->dev == dev &&
            f->ino == ino && crs_image_deleted_for(img, f))
            return f;
    }
    return NULL;
}

/* The object (dev, ino), end bytes long, is the job's when two of its processes map it or
 * hold it as a memfd descriptor. */
static int consider_memory(struct crs_restore *r, struct crs_image **parts, uint64_t dev,
                           uint64_t ino, uint64_t end, char *err, size_t errlen)
{
    const struct crs_image *root = r->img;
    uint32_t holders = 0;

    for (uint32_t j = 0; j < root->ntree; j++) {
        const struct crs_image *b = j ? parts[j] : root;
        holders += b && (maps_memory(b, dev, ino, 0) || memfd_of(b, dev, ino));
    }
    if (holders > 1 && add_memory(r, dev, ino, end) < 0) {
        crs_seterr(err, errlen, "more than %d pipes, sockets and shared memory objects "
                   "between the job's processes", CRS_RESTORE_MAX_SHARED);
        return -E2BIG;
    }
    return 0;
}

/* Memory that two processes of the job share (MAP_SHARED anonymous memory inherited over
 * fork, a memfd or unlinked file both map, a memfd one maps and another holds, or two hold):
 * one object, made once. */
static int list_memory(struct crs_restore *r, struct crs_image **parts, char *err,
                       size_t errlen)
{
    const struct crs_image *root = r->img;
    int rc = 0;

    for (uint32_t i = 0; i < root->ntree && !rc; i++) {
        const struct crs_image *a = i ? parts[i] : root;
        for (uint32_t k = 0; a && k < a->nvmas && !rc; k++) {
            const struct crs_img_vma *v = &a->vmas[k];
            if (crs_restore_shm_region(v))
                rc = consider_memory(r, parts, v->dev, v->ino,
                                     v->file_offset + (v->end - v->start), err, errlen);
        }
        for (uint32_t k = 0; a && k < a->nfds && !rc; k++) {
            const struct crs_img_fd *f = &a->fds[k];
            const struct crs_image_deleted *d;
            if ((f->kind == CRS_FD_MEMFD || f->kind == CRS_FD_FILE) &&
                (d = crs_image_deleted_for(a, f)))
                rc = consider_memory(r, parts, f->dev, f->ino, d->size, err, errlen);
        }
    }
    /* its pages come from the first image that saved some, and a memfd's whole contents from
     * the first that holds it as a descriptor (all were copied at the instant every process
     * was stopped) */
    for (uint32_t s = 0; s < r->nshared && !rc; s++) {
        struct crs_restore_shared *sh = &r->shared[s];
        for (uint32_t i = 0; sh->kind == CRS_SHARED_MEMORY && i < root->ntree; i++) {
            const struct crs_image *a = i ? parts[i] : root;
            const struct crs_img_fd *f = memfd_of(a, sh->dev, sh->ino);
            if (a && !sh->source[0] && maps_memory(a, sh->dev, sh->ino, 1))
                sh->source[0] = root->tree_members[i].pid;
            if (f && !sh->source[1]) {
                const char *path = crs_image_string(a, f->path);
                sh->source[1] = root->tree_members[i].pid;
                sh->fd_kind = f->kind;
                if (f->kind == CRS_FD_MEMFD) {
                    sh->seals = f->u.memfd.seals;
                    crs_restore_memfd_name(path, sh->name, sizeof sh->name);
                } else {
                    sh->mode = crs_image_deleted_for(a, f)->mode;
                    crs_restore_unlinked_dir(path, sh->name, sizeof sh->name);
                }
            }
        }
    }
    return rc;
}

/* Unix sockets connected to each other (a socketpair, or a connection accepted from a
 * listener) whose ends two processes of the job hold: one connection, made once. A connection
 * one process holds both ends of is its own (fds/socket.c); one whose other end is outside the
 * job comes back with its peer gone. Each end's record comes from a process that holds it,
 * with the bytes it had to read where they were copied. */
static int list_sockets(struct crs_restore *r, struct crs_image **parts, char *err,
                        size_t errlen)
{
    const struct crs_image *root = r->img;

    for (uint32_t i = 0; i < root->ntree; i++) {
        const struct crs_image *a = i ? parts[i] : root;
        for (uint32_t k = 0; a && k < a->nfds; k++) {
            const struct crs_img_fd *f = &a->fds[k];
            uint32_t holders = 0, peer_held = 0;
            if (!connection_end(f))
                continue;
            for (uint32_t j = 0; j < root->ntree; j++) {
                const struct crs_image *b = j ? parts[j] : root;
                int mine = socket_end(b, f->ino, f->u.socket.peer_ino) != NULL;
                int other = socket_end(b, f->u.socket.peer_ino, f->ino) != NULL;
                holders += mine || other;
                peer_held |= other;
            }
            if (!peer_held || holders < 2)
                continue;
            if (add_socket(r, f->ino, f->u.socket.peer_ino) < 0) {
                crs_seterr(err, errlen, "more than %d pipes, sockets and shared memory objects "
                           "between the job's processes", CRS_RESTORE_MAX_SHARED);
                return -E2BIG;
            }
        }
    }
    for (uint32_t s = 0; s < r->nshared; s++) {
        struct crs_restore_shared *sh = &r->shared[s];
        uint64_t end[2] = { sh->ino, sh->peer };
        for (int e = 0; e < 2 && sh->kind == CRS_SHARED_SOCKET; e++)
            for (uint32_t i = 0; i < root->ntree; i++) {
                const struct crs_image *a = i ? parts[i] : root;
                const struct crs_img_fd *f = socket_end(a, end[e], end[1 - e]);
                if (f && (!sh->source[e] || crs_restore_has_queued(a, f)))
                    sh->source[e] = root->tree_members[i].pid;
                if (f && crs_restore_has_queued(a, f))
                    break;
            }
    }
    return 0;
}

/* Every member's image checked as a restore of it would check it (the root's own was, by
 * crs_restore_run), and the pipes two of them share listed. Nothing changes. */
int crs_restore_tree_check(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *root = r->img;
    struct crs_image *parts[CRS_IMG_TREE_MAX] = { 0 };
    struct crs_restore_opts part_opts = r->opts;
    int rc = 0;

    part_opts.in_job = 1;
    if (r->opts.lazy) {                 /* one helper per process is not there yet */
        dprintf(r->errfd, "crsnap restore: a job of %u processes is restored eagerly (--lazy is "
                "for a process alone)\n", root->ntree);
        r->opts.lazy = 0;
        r->lazy = 0;
    }
    if (r->opts.pid_mode == CRS_PID_NEW) {
        crs_seterr(err, errlen, "a job of %u processes comes back only under its own pids: "
                   "--new-pid cannot restore it", root->ntree);
        return -EINVAL;
    }
    for (uint32_t i = 1; i < root->ntree && !rc; i++) {
        const struct crs_img_tree_member *m = &root->tree_members[i];
        char why[768];
        if (m->flags & CRS_TREE_F_ZOMBIE)
            continue;
        if ((rc = crs_restore_tree_open_part(root, m->pid, &parts[i], err, errlen)))
            break;
        if ((rc = crs_restore_check_image(parts[i], why, sizeof why)) ||
            (rc = crs_restore_check_host(parts[i], &r->opts.hooks, why, sizeof why)) ||
            (rc = crs_restore_check_fd_limit(parts[i], why, sizeof why)) ||
            (rc = crs_restore_check_files(parts[i], &part_opts, why, sizeof why)) ||
            (rc = (r->opts.dry_run ? crs_image_verify : crs_image_check)(parts[i], NULL, NULL,
                                                                       why, sizeof why)))
            crs_seterr(err, errlen, "process %u (%s) of the job: %s", m->pid, m->comm, why);
    }
    /* A pipe is the job's when its processes hold it (by its inode): one pipe, made once.
     * When they hold only one of its ends, the other was closed or is outside the job: it is
     * closed (its peer is gone: a reader sees the end, a writer EPIPE), except where it is a
     * standard stream, which becomes crsnap restore's, as for a process alone; a pipe only one
     * process holds both ends of is that process's own. */
    for (uint32_t i = 0; i < root->ntree && !rc; i++) {
        const struct crs_image *a = i ? parts[i] : root;
        if (!a)
            continue;
        for (uint32_t k = 0; k < a->nfds && !rc; k++) {
            const struct crs_img_fd *f = &a->fds[k];
            int ends = 0, holders = 0;
            if (f->kind != CRS_FD_PIPE || is_fifo(a, f))
                continue;
            for (uint32_t j = 0; j < root->ntree; j++) {
                const struct crs_image *b = j ? parts[j] : root;
                int e = b ? pipe_ends(b, f->ino) : 0;
                ends |= e;
                holders += e != 0;
            }
            if ((holders > 1 || ends != 3) && (rc = add_pipe(r, f->ino, ends)) < 0)
                crs_seterr(err, errlen, "more than %d pipes between the job's processes",
                           CRS_RESTORE_MAX_SHARED);
        }
    }
    if (!rc)
        rc = list_sockets(r, parts, err, errlen);
    if (!rc)
        rc = list_memory(r, parts, err, errlen);
    /* Who refills each shared pipe: the process whose image copied its bytes (a reader). */
    for (uint32_t s = 0; s < r->nshared && !rc; s++)
        for (uint32_t i = 0; i < root->ntree && r->shared[s].kind == CRS_SHARED_PIPE &&
                             !r->shared[s].source[0]; i++) {
            const struct crs_image *a = i ? parts[i] : root;
            for (uint32_t k = 0; a && k < a->nfds; k++)
                if (a->fds[k].kind == CRS_FD_PIPE && a->fds[k].ino == r->shared[s].ino &&
                    crs_restore_has_queued(a, &a->fds[k])) {
                    r->shared[s].source[0] = root->tree_members[i].pid;
                    break;
                }
        }
    for (uint32_t i = 1; i < root->ntree; i++)
        if (parts[i])
            crs_image_close(parts[i]);
    return rc;
}

/* The image of process pid of the job: the root's own, or its part (closed by the caller when
 * it is not r->img). */
static int open_source(struct crs_restore *r, uint32_t pid, struct crs_image **out, char *err,
                       size_t errlen)
{
    if (pid == r->img->process.pid) {
        *out = r->img;
        return 0;
    }
    return crs_restore_tree_open_part(r->img, pid, out, err, errlen);
}

/* One connection between two of the job's processes: a socket pair, each end as the process
 * that held it recorded it. */
static int make_socket(struct crs_restore *r, struct crs_restore_shared *sh, char *err,
                       size_t errlen)
{
    struct crs_image *src[2] = { NULL, NULL };
    const struct crs_img_fd *end[2] = { NULL, NULL };
    uint64_t ino[2] = { sh->ino, sh->peer };
    int rc = 0;

    for (int e = 0; e < 2 && !rc; e++)
        if (!(rc = open_source(r, sh->source[e], &src[e], err, errlen)) &&
            !(end[e] = socket_end(src[e], ino[e], ino[1 - e]))) {
            crs_seterr(err, errlen, "process %u of the job no longer holds socket %llu",
                       sh->source[e], (unsigned long long)ino[e]);
            rc = -EINVAL;
        }
    if (!rc) {
        const struct crs_image *const imgs[2] = { src[0], src[1] };
        const struct crs_img_fd *const ends[2] = { end[0], end[1] };
        if ((rc = crs_restore_socket_pair(r, imgs, ends, 1, sh->fd)) < 0)
            crs_seterr(err, errlen, "cannot make a socket pair between the job's processes: %s",
                       strerror(-rc));
    }
    for (int e = 0; e < 2; e++)
        if (src[e] && src[e] != r->img && (e == 0 || src[1] != src[0]))
            crs_image_close(src[e]);
    return rc;
}

/* One shared memory object of the job: a memfd of its size, holding the pages the source
 * process's image saved of it (at their offsets in the object). */
static int make_memory(struct crs_restore *r, struct crs_restore_shared *sh, char *err,
                       size_t errlen)
{
    struct crs_image *src = NULL;
    void *buf;
    int rc;

    /* a memfd keeps its name and seals, a file with no name its directory; anonymous memory
     * becomes a memfd */
    if (sh->source[1] && sh->fd_kind == CRS_FD_FILE) {
        sh->fd[0] = crs_restore_unlinked_file(sh->name, sh->mode);
        if (sh->fd[0] >= 0)             /* handed down across the members' exec */
            fcntl(sh->fd[0], F_SETFD, 0);
    } else
        sh->fd[0] = memfd_create(sh->source[1] ? sh->name : "crsnap-shm",
                                 sh->source[1] ? MFD_ALLOW_SEALING : 0);
    if (sh->fd[0] < 0 || ftruncate(sh->fd[0], (off_t)sh->size) < 0) {
        rc = -errno;
        crs_seterr(err, errlen, "cannot make the memory or file the job's processes share: %s",
                   strerror(-rc));
        return rc;
    }
    if (sh->source[1]) {                /* a memfd's contents, as a descriptor held them */
        if ((rc = open_source(r, sh->source[1], &src, err, errlen)))
            return rc;
        const struct crs_image_deleted *d = crs_image_deleted_for(src, memfd_of(src, sh->dev,
                                                                                 sh->ino));
        if (d && pwrite(sh->fd[0], d->data, d->size, 0) != (ssize_t)d->size) {
            rc = -EIO;
            crs_seterr(err, errlen, "cannot fill the memfd the job's processes share");
        }
        if (src != r->img)
            crs_image_close(src);
        src = NULL;
        if (rc)
            return rc;
    }
    if (sh->source[0]) {                /* the pages mapped, of the same instant */
        if ((rc = open_source(r, sh->source[0], &src, err, errlen)))
            return rc;
        if (!(buf = malloc(CRS_RESTORE_OBJECT_BUF))) {
            crs_seterr(err, errlen, "out of memory");
            rc = -ENOMEM;
        } else {
            rc = crs_restore_object_pages(src, sh->dev, sh->ino, sh->fd[0], NULL, buf, err,
                                          errlen);
        }
        free(buf);
        if (src != r->img)
            crs_image_close(src);
        if (rc)
            return rc;
    }
    if (sh->seals && fcntl(sh->fd[0], F_ADD_SEALS, (int)sh->seals) < 0)
        crs_restore_warn(r, "the memfd %s the job's processes share is not sealed again: %s",
                         sh->name, strerror(errno));
    return 0;
}

/* The shared pipes, made once with their bytes, at the numbers $CRSNAP_RESTORE_SHARED names
 * (inherited by every process of the job, across its exec). */
int crs_restore_tree_make(struct crs_restore *r, char *err, size_t errlen)
{
    char *env, *p;
    size_t cap = 32 + (size_t)r->nshared * 80;
    int rc = 0;

    if (!(env = calloc(1, cap)))
        return -ENOMEM;
    p = env;
    for (uint32_t s = 0; s < r->nshared && !rc; s++) {
        struct crs_restore_shared *sh = &r->shared[s];
        int fd[2];
        if (sh->kind == CRS_SHARED_MEMORY) {
            if ((rc = make_memory(r, sh, err, errlen)) == 0)
                p += sprintf(p, "%sm%llu:%llu:%d", s ? "," : "", (unsigned long long)sh->dev,
                             (unsigned long long)sh->ino, sh->fd[0]);
            continue;
        }
        if (sh->kind == CRS_SHARED_SOCKET) {
            if ((rc = make_socket(r, sh, err, errlen)) == 0)
                p += sprintf(p, "%ss%llu:%llu:%d:%d", s ? "," : "", (unsigned long long)sh->ino,
                             (unsigned long long)sh->peer, sh->fd[0], sh->fd[1]);
            continue;
        }
        if (pipe2(fd, 0) < 0) {
            rc = -errno;
            crs_seterr(err, errlen, "cannot make a pipe between the job's processes: %s",
                       strerror(-rc));
            break;
        }
        sh->fd[0] = fd[0];
        sh->fd[1] = fd[1];
        if (sh->source[0]) {
            struct crs_image *src = NULL;
            if ((rc = open_source(r, sh->source[0], &src, err, errlen)))
                break;
            for (uint32_t k = 0; k < src->nfds; k++)
                if (src->fds[k].kind == CRS_FD_PIPE && src->fds[k].ino == sh->ino &&
                    crs_restore_has_queued(src, &src->fds[k])) {
                    crs_restore_refill(r, src, &src->fds[k], fd[1], 1);
                    break;
                }
            if (src != r->img)
                crs_image_close(src);
        }
        /* an end the job does not hold goes once the bytes are in */
        for (int k = 0; k < 2; k++)
            if (!(sh->ends & (1u << k))) {
                close(sh->fd[k]);
                sh->fd[k] = -1;
            }
        p += sprintf(p, "%s%llu:%d:%d", s ? "," : "", (unsigned long long)sh->ino, sh->fd[0],
                     sh->fd[1]);
    }
    if (!rc && setenv(SHARED_ENV, env, 1) < 0)
        rc = -errno;
    /* the image, checked and trusted here, is the one every member's restorer opens: in a
     * namespace of the job's own the directories above it belong to nobody, and the checks of
     * who may write them cannot be made again there */
    struct stat sb;
    char id[64];
    if (!rc && fstat(r->img->fd, &sb) == 0) {
        snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)sb.st_dev,
                 (unsigned long long)sb.st_ino);
        if (setenv(CRS_RESTORE_ROOT_ENV, id, 1) < 0)
            rc = -errno;
    }
    free(env);
    return rc;
}

/* A member's restorer: the shared pipes its ancestors made. 0, or -EINVAL when the
 * environment does not describe them. */
int crs_restore_tree_inherit(struct crs_restore *r)
{
    const char *p = getenv(SHARED_ENV);

    if (!p)
        return 0;                       /* the first restorer: it makes them */
    r->nshared = 0;
    while (*p) {
        unsigned long long ino, dev;
        int a, b, n = 0;
        if (r->nshared >= CRS_RESTORE_MAX_SHARED)
            return -EINVAL;
        if (*p == 'm') {
            if (sscanf(p, "m%llu:%llu:%d%n", &dev, &ino, &a, &n) != 3 || fcntl(a, F_GETFD) < 0)
                return -EINVAL;
            r->shared[r->nshared++] = (struct crs_restore_shared){
                .kind = CRS_SHARED_MEMORY, .ino = ino, .dev = dev, .fd = { a, -1 } };
        } else if (*p == 's') {
            if (sscanf(p, "s%llu:%llu:%d:%d%n", &ino, &dev, &a, &b, &n) != 4 ||
                fcntl(a, F_GETFD) < 0 || fcntl(b, F_GETFD) < 0)
                return -EINVAL;
            r->shared[r->nshared++] = (struct crs_restore_shared){
                .kind = CRS_SHARED_SOCKET, .ino = ino, .peer = dev, .fd = { a, b }, .ends = 3 };
        } else {
            if (sscanf(p, "%llu:%d:%d%n", &ino, &a, &b, &n) != 3 || (a < 0 && b < 0) ||
                (a >= 0 && fcntl(a, F_GETFD) < 0) || (b >= 0 && fcntl(b, F_GETFD) < 0))
                return -EINVAL;
            r->shared[r->nshared++] = (struct crs_restore_shared){
                .kind = CRS_SHARED_PIPE, .ino = ino, .fd = { a, b },
                .ends = (a >= 0) | (b >= 0) << 1 };
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The end of shared pipe ino that f is (its read or write end), or -1. */
int crs_restore_tree_pipe(const struct crs_restore *r, const struct crs_img_fd *f)
{
    for (uint32_t s = 0; s < r->nshared; s++) {
        const struct crs_restore_shared *sh = &r->shared[s];
        if (sh->kind != CRS_SHARED_PIPE || sh->ino != f->ino)
            continue;
        if (sh->ends != 3 && f->fd <= 2)
            return -1;                  /* a standard stream out of the job: crsnap restore's */
        return sh->fd[(f->flags & O_ACCMODE) == O_RDONLY ? 0 : 1];
    }
    return -1;
}

int crs_restore_tree_socket(const struct crs_restore *r, const struct crs_img_fd *f)
{
    for (uint32_t s = 0; s < r->nshared; s++) {
        const struct crs_restore_shared *sh = &r->shared[s];
        if (sh->kind == CRS_SHARED_SOCKET && (sh->ino == f->ino || sh->peer == f->ino))
            return sh->fd[sh->ino == f->ino ? 0 : 1];
    }
    return -1;
}

int crs_restore_tree_joined(const struct crs_restore *r, const struct crs_img_fd *f)
{
    for (uint32_t s = 0; s < r->nshared; s++) {
        const struct crs_restore_shared *sh = &r->shared[s];
        if (f->kind == CRS_FD_PIPE && sh->kind == CRS_SHARED_PIPE && sh->ino == f->ino)
            return sh->ends == 3;
        if (f->kind == CRS_FD_SOCKET && sh->kind == CRS_SHARED_SOCKET &&
            (sh->ino == f->ino || sh->peer == f->ino))
            return 1;
    }
    return 0;
}

int crs_restore_tree_memory(const struct crs_restore *r, uint64_t dev, uint64_t ino)
{
    for (uint32_t s = 0; s < r->nshared; s++)
        if (r->shared[s].kind == CRS_SHARED_MEMORY && r->shared[s].dev == dev &&
            r->shared[s].ino == ino)
            return r->shared[s].fd[0];
    return -1;
}

/* Moves the shared ends above floor with the restorer's own descriptors. */
int crs_restore_tree_lift(struct crs_restore *r, int floor, char *err, size_t errlen)
{
    for (uint32_t s = 0; s < r->nshared; s++)
        for (int k = 0; k < 2; k++) {
            if (r->shared[s].fd[k] < 0)
                continue;
            int fd = fcntl(r->shared[s].fd[k], F_DUPFD_CLOEXEC, floor);
            if (fd < 0) {
                int e = errno;
                crs_seterr(err, errlen, "cannot move a descriptor the job shares above %d: %s", floor,
                           strerror(e));
                return -e;
            }
            close(r->shared[s].fd[k]);
            r->shared[s].fd[k] = fd;
        }
    return 0;
}

int crs_restore_tree_owns(const struct crs_restore *r, int fd)
{
    for (uint32_t s = 0; s < r->nshared; s++)
        if (r->shared[s].fd[0] == fd || r->shared[s].fd[1] == fd)
            return 1;
    return 0;
}

/* Once the descriptors are rebuilt: the ends this process did not have go, so that a reader
 * sees the end of a pipe when its real writers close it. */
void crs_restore_tree_close(struct crs_restore *r)
{
    for (uint32_t s = 0; s < r->nshared; s++)
        for (int k = 0; k < 2; k++)
            if (r->shared[s].fd[k] >= 0) {
                close(r->shared[s].fd[k]);
                r->shared[s].fd[k] = -1;
            }
    r->nshared = 0;
}

/* In a namespace of the restore's own, a member's restorer runs after an exec by a user that
 * is not root there: CAP_CHECKPOINT_RESTORE must survive it (ambient) for it to give its own
 * children their pids. */
static void keep_cap_over_exec(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &h, d) < 0)
        return;
    d[CAP_TO_INDEX(CAP_CHECKPOINT_RESTORE)].inheritable |= CAP_TO_MASK(CAP_CHECKPOINT_RESTORE);
    if (syscall(SYS_capset, &h, d) == 0)
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHECKPOINT_RESTORE, 0, 0);
}

/* The new process m, before it execs: its session and group, as far as they are the job's. */
static void take_ids(const struct crs_image *root, const struct crs_img_tree_member *m)
{
    if (m->sid == m->pid) {
        setsid();
        return;
    }
    if (m->pgid == m->pid) {
        setpgid(0, 0);
        return;
    }
    /* a group led by another process of the job, made before this one (parents first) */
    for (uint32_t i = 0; i < root->ntree; i++)
        if (root->tree_members[i].pid == m->pgid && root->tree_members[i].pid != m->pid) {
            setpgid(0, (pid_t)m->pgid);
            return;
        }
}

/* The child of this process that member m was: made under its pid; a zombie ends at once as
 * it had, the others become `crsnap restore --member PID ROOTIMAGE`. */
static int spawn(struct crs_restore *r, const struct crs_image *root,
                 const struct crs_img_tree_member *m, char *err, size_t errlen)
{
    long c = crs_restore_fork_pid((pid_t)m->pid);

    if (c < 0) {
        int e = (int)-c;
        crs_seterr(err, errlen, "cannot make process %u (%s) of the job under its pid: %s", m->pid,
                   m->comm, e == EEXIST ? "a process has it here" :
                   e == EPERM ? "that needs CAP_CHECKPOINT_RESTORE" : strerror(e));
        return -e;
    }
    if (c > 0)
        return 0;

    /* the child */
    take_ids(root, m);
    if (m->flags & CRS_TREE_F_ZOMBIE) {
        int st = m->wait_status;
        if (WIFSIGNALED(st)) {
            sigset_t none;
            signal(WTERMSIG(st), SIG_DFL);
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            raise(WTERMSIG(st));
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
    }
    char pid[16];
    snprintf(pid, sizeof pid, "%u", m->pid);
    if (r->userns || getenv(NS_ENV)) {
        setenv(NS_ENV, "1", 1);
        keep_cap_over_exec();
    }
    unsetenv(CRS_REEXEC_ENV);
    unsetenv(SPAWNED_ENV);
    char *argv[] = { "crsnap", "restore", "--member", pid, (char *)root->path, NULL, NULL };
    if (r->opts.verbose)
        argv[4] = "-v", argv[5] = (char *)root->path;
    execv("/proc/self/exe", argv);
    dprintf(2, "crsnap restore: cannot run the restore of process %u: %s\n", m->pid,
            strerror(errno));
    _exit(1);
}

/* Whether every pid of the job is free here (root's own is taken by a fork of this process).
 * 0, or -EEXIST with the first one taken. */
int crs_restore_tree_pids_free(const struct crs_image *root, char *err, size_t errlen)
{
    for (uint32_t i = 1; i < root->ntree; i++) {
        char path[32];
        snprintf(path, sizeof path, "/proc/%u", root->tree_members[i].pid);
        if (access(path, F_OK) == 0) {
            crs_seterr(err, errlen, "pid %u of the job has a process here",
                       root->tree_members[i].pid);
            return -EEXIST;
        }
    }
    return 0;
}

/* This process's children in the job, made (with theirs, each by its own restorer). Where one
 * cannot be made, those already made are killed: the job comes back whole or not at all. */
int crs_restore_tree_spawn(struct crs_restore *r, const struct crs_image *root, char *err,
                           size_t errlen)
{
    uint32_t self = r->img->process.pid;
    pid_t made[CRS_IMG_TREE_MAX];
    uint32_t n = 0;

    for (uint32_t i = 1; i < root->ntree; i++) {
        const struct crs_img_tree_member *m = &root->tree_members[i];
        if (m->ppid != self)
            continue;
        int e = spawn(r, root, m, err, errlen);
        if (e < 0) {
            for (uint32_t k = 0; k < n; k++)
                kill(made[k], SIGKILL);
            return e;
        }
        made[n++] = (pid_t)m->pid;
    }
    return 0;
}

/* A member's restorer in a user namespace the restore made: it drops its capabilities as the
 * root does before the program runs. */
int crs_restore_tree_in_ns(void)
{
    return getenv(NS_ENV) != NULL;
}

/* This process made its children already (it executed itself again for a fresh layout after
 * that): 1. Called with mark, records that it did. */
int crs_restore_tree_spawned(int mark)
{
    if (mark)
        setenv(SPAWNED_ENV, "1", 1);
    return getenv(SPAWNED_ENV) != NULL;
}
