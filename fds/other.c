/* fds/other.c - descriptors of no kind crsnap rebuilds (inotify, fanotify, pidfd, io_uring,
 * an epoll too large to record...), and crsnap's own (its control socket, timer, pipes): the
 * first stay closed at a restore unless they are standard streams, and the checkpoint names
 * them; the second are recorded only so that nothing is rebuilt on them, and never reported.
 */
#include "common/proc_util.h"
#include "fds.h"

static CRS_CHILD_CODE void describe(const struct crs_fd_scan *s, const struct crs_img_fd *f,
                                    struct crs_sbuf *b)
{
    const char *path = crs_fd_scan_path(s, f);
    crs_sb_str(b, crs_strncmp_prefix(path, "anon_inode:[eventpoll]")
                      ? "epoll watching too many descriptors to rebuild" : path);
}

const struct crs_fd_ops crs_fd_other = {
    .kind = CRS_FD_OTHER,
    .name = "other",
    .describe = describe,
};

static int internal_rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    (void)r, (void)f, (void)done;
    return 0;
}

const struct crs_fd_ops crs_fd_internal = {
    .kind = CRS_FD_INTERNAL,
    .name = "internal",
    .restorable = crs_fd_restorable_always,
    .rebuild = internal_rebuild,
};
