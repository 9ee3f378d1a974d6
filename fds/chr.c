/* fds/chr.c - character devices other than terminals (/dev/null, /dev/urandom...): recognised
 * by file type, opened again by name with their flags at a restore.
 */
#include <sys/stat.h>

#include "fds.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return S_ISCHR(p->sb->st_mode);
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    (void)done;
    return crs_restore_fd_reopen(r, f);
}

const struct crs_fd_ops crs_fd_chr = {
    .kind = CRS_FD_CHR,
    .name = "chr",
    .match = match,
    .restorable = crs_fd_restorable_always,
    .check = crs_fd_check_by_name,
    .rebuild = rebuild,
};
