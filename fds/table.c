/* fds/table.c - the table of descriptor kinds, and how a descriptor is recognised from it.
 * Adding a kind: its file in fds/, its number in image/image.h (enum crs_img_fd_kind), its
 * entry here, and its test. crs_fd_recognise runs in the stop handler's context (the
 * coordinator, threads parked) and in the snapshot child: plain system calls only.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"

const struct crs_fd_ops *const crs_fd_kinds[CRS_FD__END] = {
    [CRS_FD_FILE] = &crs_fd_file,
    [CRS_FD_TTY] = &crs_fd_tty,
    [CRS_FD_CHR] = &crs_fd_chr,
    [CRS_FD_PIPE] = &crs_fd_pipe,
    [CRS_FD_EVENTFD] = &crs_fd_eventfd,
    [CRS_FD_EPOLL] = &crs_fd_epoll,
    [CRS_FD_TIMERFD] = &crs_fd_timerfd,
    [CRS_FD_SIGNALFD] = &crs_fd_signalfd,
    [CRS_FD_SOCKET] = &crs_fd_socket,
    [CRS_FD_OTHER] = &crs_fd_other,
    [CRS_FD_INTERNAL] = &crs_fd_internal,
    [CRS_FD_MEMFD] = &crs_fd_memfd,
};
_Static_assert(sizeof crs_fd_kinds / sizeof crs_fd_kinds[0] == CRS_FD__END,
               "an entry per descriptor kind");

CRS_CHILD_CODE const char *crs_fd_probe_link(struct crs_fd_probe *p)
{
    if (p->link_len < 0) {
        char path[40];
        crs_fd_path(path, sizeof path, "/proc/self/fd/", p->fd);
        long n = readlink(path, p->link, sizeof p->link - 1);
        p->link_len = n < 0 ? 0 : n;
        p->link[p->link_len] = '\0';
    }
    return p->link;
}

CRS_CHILD_CODE uint32_t crs_fd_recognise(struct crs_fd_probe *p)
{
    uint32_t best = CRS_FD_OTHER;
    int sure = 0;

    for (uint32_t k = 1; k < CRS_FD__END; k++) {
        int m = crs_fd_kinds[k]->match ? crs_fd_kinds[k]->match(p) : 0;
        if (m > sure) {
            sure = m;
            best = k;
        }
    }
    return best;
}

/* Shared by the kinds that a restore always brings back. */
CRS_CHILD_CODE int crs_fd_restorable_always(const struct crs_fd_scan *s,
                                            const struct crs_img_fd *f)
{
    (void)s, (void)f;
    return 1;
}

/* Anonymous inodes have no file type; their kind is in their name ("anon_inode:[eventfd]"). */
CRS_CHILD_CODE int crs_fd_match_anon(struct crs_fd_probe *p, const char *name)
{
    if ((p->sb->st_mode & S_IFMT) != 0)
        return 0;
    const char *link = crs_fd_probe_link(p);
    return crs_strncmp_prefix(link, "anon_inode:") && crs_strncmp_prefix(link + 11, name) ? 2 : 0;
}
