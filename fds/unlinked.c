/* fds/unlinked.c - open files deleted from their directory, or never linked (O_TMPFILE): no
 * name opens them again, so the runtime copies their contents while the threads are stopped
 * (runtime/fddeleted.c, asked by file.c's quiesce) and the image holds them (DELETED section).
 * A restore makes a new nameless file with those contents; every descriptor of the image that
 * was open on the same file opens that one. memfd.c makes its files the same way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "image/reader.h"
#include "restore/restore.h"
#include "snapshot/snapshot.h"

/* Snapshot child: were f's contents copied at the stop? */
CRS_CHILD_CODE int crs_fd_unlinked_saved(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    for (uint32_t i = 0; i < s->ndeleted; i++)
        if (s->deleted[i].ino == f->ino && s->deleted[i].dev == f->dev)
            return 1;
    return 0;
}

void crs_restore_unlinked_dir(const char *path, char *dir, size_t cap)
{
    int n = snprintf(dir, cap, "%s", path && path[0] == '/' ? path : "/tmp/x");
    if (n < 0 || (size_t)n >= cap) {
        snprintf(dir, cap, "/tmp");
        return;
    }
    char *slash = strrchr(dir, '/');
    slash[slash == dir ? 1 : 0] = '\0';
}

int crs_restore_unlinked_file(const char *dir, uint32_t mode)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (int)(mode & 07777));
    if (fd < 0)
        fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, (int)(mode & 07777));
    return fd < 0 ? -errno : fd;
}

/* A new nameless file, in its old directory where that still exists (else in /tmp). */
static int make_tmpfile(struct crs_restore *r, const struct crs_img_fd *f,
                        const struct crs_image_deleted *d)
{
    char dir[CRS_PATH_MAX];

    crs_restore_unlinked_dir(crs_image_string(r->img, f->path), dir, sizeof dir);
    return crs_restore_unlinked_file(dir, d->mode);
}

int crs_fd_unlinked_rebuild(struct crs_restore *r, const struct crs_img_fd *f)
{
    return crs_fd_contents_rebuild(r, f, make_tmpfile, NULL);
}

/* The first descriptor of the file makes it (make) and fills it, then finish runs (memfd
 * seals); the others open that one again, so that each has its own flags and offset, as they
 * had. */
int crs_fd_contents_rebuild(struct crs_restore *r, const struct crs_img_fd *f,
                            crs_fd_make_fn make, crs_fd_finish_fn finish)
{
    const struct crs_image *img = r->img;
    const struct crs_image_deleted *d = crs_image_deleted_for(img, f);
    char link[64];
    int made = -1, ours = -1, fd;

    if (!d)
        return -ENOENT;
    /* made already, with its contents: the job's processes share it (restore_tree.c) */
    int job = crs_restore_tree_memory(r, f->dev, f->ino);
    /* or because a region maps it too (restore_shm.c) */
    struct crs_restore_shm *shm = job >= 0 ? NULL : crs_restore_shm_find(r, f->dev, f->ino);
    if (job >= 0)
        made = job;
    if (shm) {
        made = shm->fd;
        if (finish && !shm->sealed && (fd = finish(made, f)) < 0)
            crs_restore_warn(r, "descriptor %d: its seals could not be set again: %s", f->fd,
                             strerror(-fd));
        shm->sealed = 1;
    }
    for (uint32_t i = 0; i < img->nfds && img->fds[i].fd < f->fd && made < 0; i++)
        if (img->fds[i].kind == f->kind && img->fds[i].ino == f->ino &&
            img->fds[i].dev == f->dev && fcntl(img->fds[i].fd, F_GETFD) >= 0)
            made = img->fds[i].fd;
    if (made < 0) {
        if ((fd = make(r, f, d)) < 0)
            return fd;
        /* above every saved number, so that no placement closes it under us */
        if ((ours = crs_restore_fd_lift(r, fd)) < 0)
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
        if (finish && (fd = finish(ours, f)) < 0) {
            close(ours);
            return fd;
        }
        made = ours;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", made);
    /* F_GETFL of an O_TMPFILE descriptor reports O_TMPFILE (with O_DIRECTORY in it), and
     * O_NOFOLLOW (sqlite opens its temporary files so) would refuse the /proc link itself */
    fd = open(link, (crs_restore_fd_open_flags(f->flags) & ~(O_TMPFILE | O_NOFOLLOW)) |
                        O_CLOEXEC);
    if (ours >= 0)
        close(ours);
    if (fd < 0)
        return -errno;
    if (lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return crs_restore_fd_place(r, fd, f);
}
