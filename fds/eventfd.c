/* fds/eventfd.c - eventfd: its counter and semaphore mode. The counter is read from fdinfo
 * while the threads are stopped: the snapshot child reads only after they run again, and a
 * wake-up consumed in between would be lost in the image (the restored memory has not seen it
 * yet, the restored counter would no longer hold it), leaving an event loop that never wakes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return crs_fd_match_anon(p, "[eventfd");
}

/* Coordinator, threads parked: fdinfo read into a stack buffer, no allocation. */
static uint32_t quiesce(int fd, const struct stat *sb, uint64_t *value)
{
    char path[40], text[256];
    const char *v;
    long n;

    (void)sb;
    crs_fd_path(path, sizeof path, "/proc/self/fdinfo/", fd);
    if ((n = crs_read_file(path, text, sizeof text)) <= 0 ||
        !(v = crs_find_field(text, (size_t)n, "eventfd-count:")))
        return 0;
    crs_skip_space(&v);
    return crs_parse_hex(&v, value) ? 0 : CRS_FDQ_VALUE;
}

static CRS_CHILD_CODE void read_fdinfo(struct crs_img_fd *f, const char *text, size_t len,
                                       size_t cap)
{
    const char *s;
    uint64_t v;

    (void)cap;
    if ((s = crs_find_field(text, len, "eventfd-count:"))) {
        crs_skip_space(&s);
        if (!crs_parse_hex(&s, &v))
            f->u.eventfd.count = v;
    }
    if ((s = crs_find_field(text, len, "eventfd-semaphore:"))) {
        crs_skip_space(&s);
        if (!crs_parse_dec(&s, &v))
            f->u.eventfd.semaphore = (uint32_t)v;
    }
}

static CRS_CHILD_CODE void apply(struct crs_img_fd *f, uint64_t count)
{
    f->u.eventfd.count = count;
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    int flags = (f->u.eventfd.semaphore ? EFD_SEMAPHORE : 0) | EFD_CLOEXEC |
                ((f->flags & O_NONBLOCK) ? EFD_NONBLOCK : 0);
    int fd = eventfd(0, flags);
    uint64_t count = f->u.eventfd.count;

    (void)done;
    if (fd < 0)
        return -errno;
    if (count && write(fd, &count, sizeof count) != sizeof count) {
        close(fd);
        return -EIO;
    }
    return crs_restore_fd_place(r, fd, f);
}

const struct crs_fd_ops crs_fd_eventfd = {
    .kind = CRS_FD_EVENTFD,
    .name = "eventfd",
    .match = match,
    .quiesce = quiesce,
    .read = read_fdinfo,
    .apply = apply,
    .restorable = crs_fd_restorable_always,
    .rebuild = rebuild,
};
