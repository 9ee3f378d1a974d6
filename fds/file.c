/* fds/file.c - regular files and directories, and the checks of anything reopened by its name.
 * Recognised by file type. The offset is captured while the threads are stopped and pinned in
 * the snapshot child (the process moves the shared offset on meanwhile); a file deleted from
 * its directory has its contents copied then too (unlinked.c). Restored by opening the path
 * again with the saved flags and offset, after the restorer checked it is still there and
 * still the file it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "common/proc_util.h"
#include "fds.h"
#include "image/reader.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return S_ISREG(p->sb->st_mode) || S_ISDIR(p->sb->st_mode);
}

/* Coordinator, threads parked. */
static uint32_t quiesce(int fd, const struct stat *sb, uint64_t *value)
{
    uint32_t want = 0;
    off_t pos;

    if (!S_ISREG(sb->st_mode))
        return 0;
    if (sb->st_nlink == 0)
        want |= CRS_FDQ_CONTENTS;
    pos = lseek(fd, 0, SEEK_CUR);
    if (pos >= 0) {
        *value = (uint64_t)pos;
        want |= CRS_FDQ_VALUE;
    }
    return want;
}

/* The child shares the open file description with the process, which moves its offset on:
 * the child gives itself a private description of the file at the offset of the stop (a
 * reopen through /proc/self/fd), which is what it then reads and records. */
CRS_CHILD_CODE void crs_fd_pin_offset(int fd, uint64_t pos)
{
    char link[40];
    struct stat a, b;
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD), nfd;

    if (fl < 0 || fdfl < 0 || fstat(fd, &a) < 0 || !S_ISREG(a.st_mode))
        return;
    crs_fd_path(link, sizeof link, "/proc/self/fd/", fd);
    /* O_NOFOLLOW would refuse the /proc link itself (ELOOP); O_TMPFILE is not for a reopen */
    fl &= ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_TMPFILE);
    nfd = open(link, fl | O_NOCTTY | O_CLOEXEC);
    if (nfd < 0)
        return;                     /* no longer permitted: keep the shared offset */
    if (fstat(nfd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
        lseek(nfd, (off_t)pos, SEEK_SET) >= 0)
        dup3(nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    close(nfd);
}

static CRS_CHILD_CODE int ends_deleted(const char *path)
{
    size_t n = crs_strlen(path);
    return n >= 10 && !memcmp(path + n - 10, " (deleted)", 10);
}

static CRS_CHILD_CODE int restorable(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    return !ends_deleted(crs_fd_scan_path(s, f)) || crs_fd_unlinked_saved(s, f);
}

static CRS_CHILD_CODE void describe(const struct crs_fd_scan *s, const struct crs_img_fd *f,
                                    struct crs_sbuf *b)
{
    crs_sb_str(b, "deleted file ");
    crs_sb_str(b, crs_fd_scan_path(s, f));
    crs_sb_str(b, ", its contents not saved");
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Is f the process's own output: its standard output or error, a file it appends to, or one
 * it can only write? It never reads such a file back, so a change since the checkpoint is what
 * its own run after the checkpoint wrote (or another writer appended), and the restored run
 * writes from the saved offset on again: nothing to warn about (docs/crsnap.1, "Changed
 * files"). The one hazard left is a file now shorter than the saved offset, which the restored
 * run's writes would continue after a hole of zeros; with O_APPEND they go to the end anyway. */
static int is_output(const struct crs_img_fd *f)
{
    return f->fd == 1 || f->fd == 2 || (f->flags & O_APPEND) ||
           (f->flags & O_ACCMODE) == O_WRONLY;
}

/* Reopened by name: a missing one is an error (--force: the descriptor stays closed); a
 * changed one that the process reads only a warning, since a program that writes a file after
 * its checkpoint changes it. */
int crs_fd_check_by_name(const struct crs_image *img, const struct crs_img_fd *f,
                         const struct crs_restore_opts *o, char *err, size_t errlen)
{
    char own[CRS_PATH_MAX];
    const char *path = crs_restore_fd_path(img, f, own, sizeof own);
    int is_file = f->kind == CRS_FD_FILE;
    struct stat st;

    if (f->fd <= 2 && o->own_std)
        return 0;                       /* replaced by the restorer's own */
    if (crs_image_deleted_for(img, f))
        return 0;                       /* no name to check: the image holds its contents */
    if (!path || path[0] != '/') {
        crs_seterr(err, errlen, "descriptor %d has no usable path", f->fd);
        return o->force ? 1 : -ENOENT;
    }
    if (is_file && ends_deleted(path)) {
        crs_seterr(err, errlen, "descriptor %d was open on %s, and its contents are not in the "
                   "image (more than %u MiB of such files at the checkpoint)", f->fd, path,
                   CRS_IMG_DELETED_MAX >> 20);
        return o->force ? 1 : -ENOENT;
    }
    if (stat(path, &st) < 0) {
        crs_seterr(err, errlen, "%s is missing (open as descriptor %d at the checkpoint)", path,
                   f->fd);
        return o->force ? 1 : -ENOENT;
    }
    if (!strncmp(path, "/proc/", 6))
        return 0;                       /* made by the kernel as it is read: no size to compare */
    if (is_file && S_ISREG(st.st_mode) && S_ISREG(f->mode) && is_output(f)) {
        if ((f->flags & O_APPEND) || (uint64_t)st.st_size >= f->pos)
            return 0;
        crs_seterr(err, errlen,
                   "%s is shorter than the offset descriptor %d writes at (%llu bytes, "
                   "offset %llu): the restored process's output will have a hole of zeros", path,
                   f->fd, (unsigned long long)st.st_size, (unsigned long long)f->pos);
        return 1;
    }
    if (is_file && S_ISREG(st.st_mode) &&
        ((uint64_t)st.st_size != f->size || mtime_ns(&st) != f->mtime_ns) &&
        !crs_restore_jobshm_puts_back(img, o, path)) {
        crs_seterr(err, errlen, "%s changed since the checkpoint (descriptor %d)", path, f->fd);
        return 1;
    }
    if ((st.st_mode & S_IFMT) != (f->mode & S_IFMT)) {
        crs_seterr(err, errlen,
                   "%s is no longer the same kind of file (descriptor %d)", path, f->fd);
        return o->force ? 1 : -ESTALE;
    }
    return 0;
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    (void)done;
    return crs_image_deleted_for(r->img, f) ? crs_fd_unlinked_rebuild(r, f)
                                            : crs_restore_fd_reopen(r, f);
}

const struct crs_fd_ops crs_fd_file = {
    .kind = CRS_FD_FILE,
    .name = "file",
    .holds = CRS_FDK_CONTENTS,
    .match = match,
    .quiesce = quiesce,
    .pin = crs_fd_pin_offset,
    .restorable = restorable,
    .describe = describe,
    .check = crs_fd_check_by_name,
    .rebuild = rebuild,
};
