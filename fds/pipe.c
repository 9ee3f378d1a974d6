/* fds/pipe.c - pipes and FIFOs. A FIFO (it has a path) is opened again by name. A pipe whose
 * both ends are in the process becomes a new pipe holding again the bytes that were waiting in
 * it (captured while the threads were stopped, put back by restore/restore_queued.c). A pipe
 * to another process of the same job is the job's pipe, made once (restore/restore_tree.c);
 * to any other process it cannot come back: the checkpoint says so, naming the child that
 * holds the other end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"
#include "image/reader.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return S_ISFIFO(p->sb->st_mode);
}

static uint32_t quiesce(int fd, const struct stat *sb, uint64_t *value)
{
    (void)fd, (void)sb, (void)value;
    return CRS_FDQ_QUEUED;
}

static CRS_CHILD_CODE int restorable(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    int have[2] = {0, 0};

    if (crs_fd_scan_path(s, f)[0] == '/' || f->fd <= 2)
        return 1;                   /* a FIFO is opened again; 0-2 become the restorer's */
    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i].kind == CRS_FD_PIPE && s->fds[i].ino == f->ino)
            have[(s->fds[i].flags & O_ACCMODE) == O_RDONLY ? 0 : 1] = 1;
    if (have[0] && have[1])
        return 1;
    /* the other end in another process of the job: the job's pipe, made again once */
    return crs_fd_holder(s->job, s->njob, "pipe", f->ino, (int)(f->flags & O_ACCMODE)) >= 0;
}

static CRS_CHILD_CODE void describe(const struct crs_fd_scan *s, const struct crs_img_fd *f,
                                    struct crs_sbuf *b)
{
    int c = crs_fd_holder(s->children, s->nchildren, "pipe", f->ino, (int)(f->flags & O_ACCMODE));

    crs_sb_str(b, (f->flags & O_ACCMODE) == O_RDONLY ? "pipe from " : "pipe to ");
    if (c < 0) {
        crs_sb_str(b, "another process");
        return;
    }
    crs_sb_str(b, "child process ");
    crs_sb_u64(b, (uint64_t)s->children[c]);
    crs_sb_str(b, " (");
    crs_sb_str(b, s->comms[c]);
    crs_sb_str(b, ")");
}

/* Both ends in the image: one new pipe, the bytes put back once (through the first read end
 * that has a record), then every end placed. */
static int rebuild_pair(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    const struct crs_image *img = r->img;
    int p[2], have[2] = {0, 0}, e = 0;
    int shared = crs_restore_tree_pipe(r, f);

    if (shared >= 0) {                  /* a pipe to another process of the job */
        if ((e = crs_restore_fd_dup(f, shared)) == 0)
            fcntl(f->fd, F_SETFL, (int)f->flags);
        return e;
    }
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind == CRS_FD_PIPE && g->ino == f->ino)
            have[(g->flags & O_ACCMODE) == O_RDONLY ? 0 : 1] = 1;
    }
    if (!have[0] || !have[1])
        return f->fd <= 2 ? crs_restore_fd_attach_std(r, f) : -ENOTSUP;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    for (int k = 0; k < 2; k++)
        p[k] = crs_restore_fd_lift(r, p[k]);
    for (uint32_t i = 0; i < img->nfds && p[1] >= 0; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind == CRS_FD_PIPE && g->ino == f->ino && (g->flags & O_ACCMODE) != O_WRONLY &&
            crs_restore_has_queued(img, g)) {
            crs_restore_refill(r, img, g, p[1], 1);
            break;
        }
    }
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind != CRS_FD_PIPE || g->ino != f->ino)
            continue;
        int end = p[(g->flags & O_ACCMODE) == O_RDONLY ? 0 : 1];
        if (end < 0 || (e = crs_restore_fd_dup(g, end)))
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

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    const char *path = crs_image_string(r->img, f->path);
    return path && path[0] == '/' ? crs_restore_fd_reopen(r, f) : rebuild_pair(r, f, done);
}

const struct crs_fd_ops crs_fd_pipe = {
    .kind = CRS_FD_PIPE,
    .name = "pipe",
    .holds = CRS_FDK_QUEUED,
    .match = match,
    .quiesce = quiesce,
    .restorable = restorable,
    .describe = describe,
    .rebuild = rebuild,
};
