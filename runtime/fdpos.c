/* runtime/fdpos.c - the descriptor state an image records must be that of the instant the
 * memory was copied. The snapshot child shares its open file descriptions with the process,
 * which runs on while the child works: it moves file offsets, consumes eventfd wake-ups, reads
 * pipes and sockets, writes files. So while the threads are parked, each descriptor's kind
 * (fds/, its quiesce operation) says what to capture now: a value (an offset, a counter),
 * which goes to the child in the request for its pin and apply; the bytes waiting in it
 * (fdqueue.c); the contents of a file with no name left (fddeleted.c).
 *
 * crs_fdpos_record() runs quiesced in the coordinator: plain system calls and the state's own
 * buffers only, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "common/proc_util.h"

void crs_fdpos_record(void)
{
    long dfd;
    struct stat sb;
    struct crs_dirwalk w;
    const char *name;
    struct crs_fd_probe *p = &crs_state.fd_probe;

    crs_state.nfdstate = 0;
    crs_fdqueue_begin();
    crs_fddeleted_begin();
    dfd = crs_sys3(SYS_open, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return;
    crs_dirwalk_init(&w, (int)dfd, crs_state.fd_dents, sizeof crs_state.fd_dents);
    while (crs_dirwalk_next(&w, &name) > 0) {
        int fd = crs_dirent_num(name);
        uint64_t value = 0;

        if (fd < 0 || fd == dfd || crs_sys2(SYS_fstat, fd, (long)&sb) < 0)
            continue;
        p->fd = fd;
        p->sb = &sb;
        p->link_len = -1;
        const struct crs_fd_ops *k = crs_fd_ops_of(crs_fd_recognise(p));
        uint32_t want = k && k->quiesce ? k->quiesce(fd, &sb, &value) : 0;
        if (want & CRS_FDQ_QUEUED)
            crs_fdqueue_add(fd, &sb);
        if (want & CRS_FDQ_CONTENTS)
            crs_fddeleted_add(fd, &sb);
        if ((want & CRS_FDQ_VALUE) && crs_state.nfdstate < CRS_MAX_FDSTATE)
            crs_state.fdstate[crs_state.nfdstate++] = (struct crs_snap_fdstate){
                .fd = fd, .kind = k->kind, .ino = sb.st_ino, .value = value };
    }
    crs_sys1(SYS_close, dfd);
}
