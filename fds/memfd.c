/* fds/memfd.c - memfd_create files: memory with a descriptor, no name in any directory. Their
 * contents are copied while the threads are stopped (the DELETED section, as for unlinked
 * files), with their offset; the child reads their seals. A restore makes a new memfd of the
 * same name, fills it, seeks it, and seals it as it was, so that a program that checks the
 * seals it set (or relies on them to share the memory safely) finds them again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "common/proc_util.h"
#include "fds.h"
#include "image/reader.h"
#include "restore/restore.h"

#define PREFIX "/memfd:"
#define SUFFIX " (deleted)"

/* A memfd has no link in any directory: a linked regular file (the common case, which the
 * quiesce meets for every open file) is told apart without reading its name. */
static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    if (!S_ISREG(p->sb->st_mode) || p->sb->st_nlink != 0)
        return 0;
    return crs_strncmp_prefix(crs_fd_probe_link(p), PREFIX) ? 2 : 0;
}

/* Coordinator, threads parked: the offset, and the contents (a memfd has no name to reopen). */
static uint32_t quiesce(int fd, const struct stat *sb, uint64_t *value)
{
    off_t pos = lseek(fd, 0, SEEK_CUR);

    (void)sb;
    if (pos < 0)
        return CRS_FDQ_CONTENTS;
    *value = (uint64_t)pos;
    return CRS_FDQ_VALUE | CRS_FDQ_CONTENTS;
}

static CRS_CHILD_CODE void read_seals(struct crs_img_fd *f, const char *text, size_t len,
                                      size_t cap)
{
    int seals = fcntl(f->fd, F_GET_SEALS);

    (void)text, (void)len, (void)cap;
    f->u.memfd.seals = seals < 0 ? 0 : (uint32_t)seals;
}

static CRS_CHILD_CODE int restorable(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    return crs_fd_unlinked_saved(s, f);
}

static CRS_CHILD_CODE void describe(const struct crs_fd_scan *s, const struct crs_img_fd *f,
                                    struct crs_sbuf *b)
{
    crs_sb_str(b, crs_fd_scan_path(s, f));
    crs_sb_str(b, ", its contents not saved");
}

static int check(const struct crs_image *img, const struct crs_img_fd *f,
                 const struct crs_restore_opts *o, char *err, size_t errlen)
{
    if (crs_image_deleted_for(img, f))
        return 0;
    crs_seterr(err, errlen, "descriptor %d was the memfd %s, and its contents are not in the "
               "image (more than %u MiB of such files at the checkpoint)", f->fd,
               crs_image_string(img, f->path) ? crs_image_string(img, f->path) : "",
               CRS_IMG_DELETED_MAX >> 20);
    return o->force ? 1 : -ENOENT;
}

void crs_restore_memfd_name(const char *path, char *name, size_t cap)
{
    size_t n, lp = strlen(PREFIX), ls = strlen(SUFFIX);

    name[0] = '\0';
    if (!path || strncmp(path, PREFIX, lp))
        return;
    path += lp;
    n = strlen(path);
    if (n >= ls && !strcmp(path + n - ls, SUFFIX))
        n -= ls;
    n = n < cap - 1 ? n : cap - 1;
    memcpy(name, path, n);
    name[n] = '\0';
}

static int make(struct crs_restore *r, const struct crs_img_fd *f,
                const struct crs_image_deleted *d)
{
    char name[250];                     /* memfd_create's limit, with its NUL */
    int fd;

    (void)d;
    crs_restore_memfd_name(crs_image_string(r->img, f->path), name, sizeof name);
    fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return fd < 0 ? -errno : fd;
}

/* Seals go on once the contents are in: a memfd that could not be sealed had F_SEAL_SEAL. */
static int seal(int fd, const struct crs_img_fd *f)
{
    if (f->u.memfd.seals && fcntl(fd, F_ADD_SEALS, (int)f->u.memfd.seals) < 0)
        return -errno;
    return 0;
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    (void)done;
    return crs_fd_contents_rebuild(r, f, make, seal);
}

static void info(const struct crs_img_fd *f, char *text, size_t tlen, char *json, size_t jlen)
{
    snprintf(text, tlen, " (seals 0x%x)", f->u.memfd.seals);
    snprintf(json, jlen, ",\"seals\":%u", f->u.memfd.seals);
}

const struct crs_fd_ops crs_fd_memfd = {
    .kind = CRS_FD_MEMFD,
    .name = "memfd",
    .holds = CRS_FDK_CONTENTS,
    .match = match,
    .quiesce = quiesce,
    .pin = crs_fd_pin_offset,
    .read = read_seals,
    .restorable = restorable,
    .describe = describe,
    .check = check,
    .rebuild = rebuild,
    .info = info,
};
