/* runtime/fddeleted.c - open files that were deleted from their directory (temporary files
 * unlinked at once, O_TMPFILE) cannot be opened again by name at restore, so their contents go
 * into the image. They must be the contents of the snapshot's instant: the program writes on
 * while the child works. So the coordinator copies them while the threads are parked, inside
 * the kernel (sendfile into a memfd of its own, at most CRS_SNAP_DELETED_MAX bytes), and the
 * child writes them from that memfd.
 *
 * crs_fddeleted_add() runs quiesced, from crs_fdpos_record(): raw system calls and the state's
 * own arrays only, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "common/proc_util.h"

void crs_fddeleted_begin(void)
{
    crs_state.ndeleted = 0;
    crs_state.deleted_bytes = 0;
    crs_state.deleted_missed = 0;
}

void crs_fddeleted_add(int fd, const struct stat *sb)
{
    uint64_t size = (uint64_t)sb->st_size, off = crs_state.deleted_bytes;

    if (fd == crs_state.deleted_memfd)
        return;
    for (uint32_t i = 0; i < crs_state.ndeleted; i++)
        if (crs_state.deleted[i].ino == sb->st_ino && crs_state.deleted[i].dev == sb->st_dev)
            return;                     /* one copy per file, whatever the descriptors */
    if (crs_state.ndeleted == CRS_MAX_DELETED || size > CRS_SNAP_DELETED_MAX - off) {
        crs_state.deleted_missed++;
        return;
    }
    if (crs_state.deleted_memfd < 0) {
        long m = crs_sys2(SYS_memfd_create, (long)"crsnap-deleted", MFD_CLOEXEC);
        if (m < 0) {
            crs_state.deleted_missed++;
            return;
        }
        crs_state.deleted_memfd = (int)m;
    }
    /* sendfile with an offset of its own leaves the program's file position alone; a file the
     * program opened write-only is read through a descriptor of our own */
    long long from = 0;
    uint64_t done = 0;
    long in = fd, own = -1;
    if ((crs_sys2(SYS_fcntl, fd, F_GETFL) & O_ACCMODE) == O_WRONLY) {
        char path[40];
        crs_fd_path(path, sizeof path, "/proc/self/fd/", fd);
        in = own = crs_sys3(SYS_open, (long)path, O_RDONLY | O_CLOEXEC, 0);
    }
    while (in >= 0 && done < size) {
        long n = crs_sys4(SYS_sendfile, crs_state.deleted_memfd, in, (long)&from,
                          (long)(size - done));
        if (n <= 0)
            break;
        done += (uint64_t)n;
    }
    if (own >= 0)
        crs_sys1(SYS_close, own);
    if (done < size) {                  /* shorter than fstat said: it shrank, or cannot be read */
        crs_sys2(SYS_ftruncate, crs_state.deleted_memfd, (long)off);
        crs_sys3(SYS_lseek, crs_state.deleted_memfd, (long)off, SEEK_SET);
        crs_state.deleted_missed++;
        return;
    }
    struct crs_snap_deleted *d = &crs_state.deleted[crs_state.ndeleted++];
    d->fd = fd;
    d->mode = sb->st_mode;
    d->ino = sb->st_ino;
    d->dev = sb->st_dev;
    d->size = size;
    d->offset = off;
    crs_state.deleted_bytes = off + size;
}

void crs_fddeleted_end(void)
{
    if (crs_state.deleted_memfd >= 0)
        crs_sys1(SYS_close, crs_state.deleted_memfd);
    crs_state.deleted_memfd = -1;
}
