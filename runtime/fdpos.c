/* runtime/fdpos.c - the file offsets an image records must be those of the instant the memory
 * was copied. The snapshot child shares its open file descriptions with the process, which
 * runs on and moves their offsets while the child works; a program reading a file fast would
 * come back from a restore past data it never saw. So the coordinator reads every regular
 * file's offset while the threads are parked, and the child, first thing, gives itself a
 * private description of each such file at that offset (a reopen through /proc/self/fd), which
 * is what it then reads and records.
 *
 * crs_fdpos_record() runs quiesced in the coordinator, crs_fdpos_pin() in the snapshot child:
 * raw system calls and the state's own buffers only, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

struct fd_dirent {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int parse_fd(const char *s)
{
    int v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

void crs_fdpos_record(void)
{
    long dfd, got;
    struct stat sb;

    crs_state.nfdpos = 0;
    dfd = crs_sys3(SYS_open, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return;
    while ((got = crs_sys3(SYS_getdents64, dfd, (long)crs_state.fd_dents,
                           sizeof crs_state.fd_dents)) > 0) {
        for (long off = 0; off < got;) {
            struct fd_dirent *d = (struct fd_dirent *)(crs_state.fd_dents + off);
            int fd = parse_fd(d->d_name);
            long pos;

            off += d->d_reclen;
            if (fd < 0 || fd == dfd || crs_state.nfdpos == CRS_MAX_FDPOS)
                continue;
            if (crs_sys2(SYS_fstat, fd, (long)&sb) < 0 || !S_ISREG(sb.st_mode))
                continue;
            pos = crs_sys3(SYS_lseek, fd, 0, SEEK_CUR);
            if (pos < 0)
                continue;
            crs_state.fdpos[crs_state.nfdpos].fd = fd;
            crs_state.fdpos[crs_state.nfdpos].pos = pos;
            crs_state.nfdpos++;
        }
    }
    crs_sys1(SYS_close, dfd);
}

/* "/proc/self/fd/N" into out (at least 32 bytes). */
static void fd_link(char *out, int fd)
{
    static const char pre[] = "/proc/self/fd/";
    char digits[12];
    int n = 0, i = 0;

    do {
        digits[n++] = (char)('0' + fd % 10);
        fd /= 10;
    } while (fd);
    for (; pre[i]; i++)
        out[i] = pre[i];
    while (n)
        out[i++] = digits[--n];
    out[i] = '\0';
}

void crs_fdpos_pin(void)
{
    char link[32];
    struct stat a, b;

    for (int i = 0; i < crs_state.nfdpos; i++) {
        int fd = crs_state.fdpos[i].fd;
        long fl = crs_sys2(SYS_fcntl, fd, F_GETFL);
        long fdfl = crs_sys2(SYS_fcntl, fd, F_GETFD);
        long nfd;

        if (fl < 0 || fdfl < 0 || crs_sys2(SYS_fstat, fd, (long)&a) < 0 || !S_ISREG(a.st_mode))
            continue;
        fd_link(link, fd);
        fl &= ~(long)(O_CREAT | O_EXCL | O_TRUNC);
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
