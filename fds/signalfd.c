/* fds/signalfd.c - signalfd: its signal mask, from fdinfo; a restore makes a new one on it.
 * Signals pending at the checkpoint are not in the image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return crs_fd_match_anon(p, "[signalfd]");
}

static CRS_CHILD_CODE void read_fdinfo(struct crs_img_fd *f, const char *text, size_t len,
                                       size_t cap)
{
    const char *s;
    uint64_t v;

    (void)cap;
    if ((s = crs_find_field(text, len, "sigmask:"))) {
        crs_skip_space(&s);
        if (!crs_parse_hex(&s, &v))
            f->u.signalfd.mask = v;
    }
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    uint64_t mask = f->u.signalfd.mask;
    int fd = (int)syscall(SYS_signalfd4, -1, &mask, sizeof mask,
                          SFD_CLOEXEC | ((f->flags & O_NONBLOCK) ? SFD_NONBLOCK : 0));
    (void)done;
    if (fd < 0)
        return -errno;
    return crs_restore_fd_place(r, fd, f);
}

const struct crs_fd_ops crs_fd_signalfd = {
    .kind = CRS_FD_SIGNALFD,
    .name = "signalfd",
    .match = match,
    .read = read_fdinfo,
    .restorable = crs_fd_restorable_always,
    .rebuild = rebuild,
};
