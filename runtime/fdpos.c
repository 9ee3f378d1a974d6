/* runtime/fdpos.c - the descriptor state an image records must be that of the instant the
 * memory was copied. The snapshot child shares its open file descriptions with the process,
 * which runs on while the child works:
 *  - it moves file offsets: a program reading a file fast would come back from a restore past
 *    data it never saw. So the coordinator reads every regular file's offset while the threads
 *    are parked, and the child, first thing, gives itself a private description of each such
 *    file at that offset (a reopen through /proc/self/fd), which is what it then reads and
 *    records;
 *  - it reads and writes eventfd counters: a wake-up pending at the snapshot and consumed just
 *    after would be gone from the image while the restored memory still waits for it (an event
 *    loop that never wakes). So the counters are read here too, from fdinfo, and go to the
 *    child in the request;
 *  - it reads pipes and sockets: their queued bytes are copied here too (fdqueue.c);
 *  - it writes files; those deleted from their directory are copied here whole (fddeleted.c).
 *
 * crs_fdpos_record() runs quiesced in the coordinator, crs_fdpos_pin() in the snapshot child:
 * raw system calls and the state's own buffers only, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "common/proc_util.h"

/* An anonymous-inode descriptor: if it is an eventfd, its counter from fdinfo. */
static void record_eventfd(int fd, const struct stat *sb)
{
    static const char want[] = "anon_inode:[eventfd]";
    char path[40];
    char *text = crs_state.fd_text;
    const char *v;
    long n, ffd;
    uint64_t count;

    if (crs_state.neventfds == CRS_MAX_FDPOS)
        return;
    crs_fd_path(path, sizeof path, "/proc/self/fd/", fd);
    n = crs_sys4(SYS_readlinkat, AT_FDCWD, (long)path, (long)text, sizeof crs_state.fd_text - 1);
    if (n != (long)sizeof want - 1)
        return;
    text[n] = '\0';
    if (!crs_strncmp_prefix(text, want))
        return;
    crs_fd_path(path, sizeof path, "/proc/self/fdinfo/", fd);
    ffd = crs_sys3(SYS_open, (long)path, O_RDONLY | O_CLOEXEC, 0);
    if (ffd < 0)
        return;
    n = crs_sys3(SYS_read, ffd, (long)text, sizeof crs_state.fd_text - 1);
    crs_sys1(SYS_close, ffd);
    if (n <= 0)
        return;
    text[n] = '\0';
    if (!(v = crs_find_field(text, (size_t)n, "eventfd-count:")))
        return;
    crs_skip_space(&v);
    if (crs_parse_hex(&v, &count))
        return;
    struct crs_snap_eventfd *e = &crs_state.eventfds[crs_state.neventfds++];
    e->fd = fd;
    e->ino = sb->st_ino;
    e->count = count;
}

void crs_fdpos_record(void)
{
    long dfd;
    struct stat sb;
    struct crs_dirwalk w;
    const char *name;

    crs_state.nfdpos = 0;
    crs_state.neventfds = 0;
    crs_fdqueue_begin();
    crs_fddeleted_begin();
    dfd = crs_sys3(SYS_open, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return;
    crs_dirwalk_init(&w, (int)dfd, crs_state.fd_dents, sizeof crs_state.fd_dents);
    while (crs_dirwalk_next(&w, &name) > 0) {
        int fd = crs_dirent_num(name);
        long pos;

        if (fd < 0 || fd == dfd || crs_sys2(SYS_fstat, fd, (long)&sb) < 0)
            continue;
        if ((sb.st_mode & S_IFMT) == 0)     /* anonymous inodes have no file type */
            record_eventfd(fd, &sb);
        if (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))
            crs_fdqueue_add(fd, &sb);
        if (S_ISREG(sb.st_mode) && sb.st_nlink == 0)
            crs_fddeleted_add(fd, &sb);
        if (!S_ISREG(sb.st_mode) || crs_state.nfdpos == CRS_MAX_FDPOS)
            continue;
        pos = crs_sys3(SYS_lseek, fd, 0, SEEK_CUR);
        if (pos < 0)
            continue;
        crs_state.fdpos[crs_state.nfdpos].fd = fd;
        crs_state.fdpos[crs_state.nfdpos].pos = pos;
        crs_state.nfdpos++;
    }
    crs_sys1(SYS_close, dfd);
}

void crs_fdpos_pin(void)
{
    char link[40];
    struct stat a, b;

    for (int i = 0; i < crs_state.nfdpos; i++) {
        int fd = crs_state.fdpos[i].fd;
        long fl = crs_sys2(SYS_fcntl, fd, F_GETFL);
        long fdfl = crs_sys2(SYS_fcntl, fd, F_GETFD);
        long nfd;

        if (fl < 0 || fdfl < 0 || crs_sys2(SYS_fstat, fd, (long)&a) < 0 || !S_ISREG(a.st_mode))
            continue;
        crs_fd_path(link, sizeof link, "/proc/self/fd/", fd);
        /* O_NOFOLLOW would refuse the /proc link itself (ELOOP); O_TMPFILE is not for a reopen */
        fl &= ~(long)(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_TMPFILE);
        nfd = crs_sys3(SYS_open, (long)link, fl | O_NOCTTY | O_CLOEXEC, 0);
        if (nfd < 0)
            continue;               /* no longer permitted: keep the shared offset */
        if (crs_sys2(SYS_fstat, nfd, (long)&b) < 0 || a.st_dev != b.st_dev ||
            a.st_ino != b.st_ino ||
            crs_sys3(SYS_lseek, nfd, crs_state.fdpos[i].pos, SEEK_SET) < 0 ||
            crs_sys3(SYS_dup3, nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
            crs_sys1(SYS_close, nfd);
            continue;
        }
        crs_sys1(SYS_close, nfd);
    }
}
