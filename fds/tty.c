/* fds/tty.c - terminals: recognised by their device name; a restore attaches them to the
 * matching standard stream of `crsnap restore` (for numbers above 2: its first terminal), since
 * the terminal of the checkpoint is most often gone.
 */
#include <sys/stat.h>

#include "common/proc_util.h"
#include "fds.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    if (!S_ISCHR(p->sb->st_mode))
        return 0;
    const char *link = crs_fd_probe_link(p);
    return crs_strncmp_prefix(link, "/dev/pts/") || crs_strncmp_prefix(link, "/dev/tty") ||
                   crs_strncmp_prefix(link, "/dev/console") ? 2 : 0;
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    (void)done;
    return crs_restore_fd_attach_std(r, f);
}

const struct crs_fd_ops crs_fd_tty = {
    .kind = CRS_FD_TTY,
    .name = "tty",
    .match = match,
    .restorable = crs_fd_restorable_always,
    .rebuild = rebuild,
};
