/* runtime/fdqueue.c - bytes waiting in pipes and unix stream sockets at the quiesce. An event
 * loop's wake-up is often a byte in a pipe or a socket pair; a restore that rebuilds the pipe
 * empty loses it, and the loop sleeps. While the threads are parked, the coordinator copies
 * what a read would return, without consuming it: tee() into a pipe of its own for pipes,
 * MSG_PEEK for sockets. The copies go into the end of the snapshot scratch as the image's
 * QUEUED section (see snapshot.h); the restorer writes them back into the rebuilt pipe or pair.
 *
 * crs_fdqueue_add() runs quiesced, from crs_fdpos_record(): raw system calls and the state's
 * own buffers only, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "../snapshot/proc_util.h"

/* The end of the scratch, where the QUEUED payload is built. */
static char *queued_area(void)
{
    if (!crs_state.scratch || crs_state.scratch_size < CRS_SNAP_QUEUED_MAX)
        return NULL;
    return (char *)crs_state.scratch + crs_state.scratch_size - CRS_SNAP_QUEUED_MAX;
}

int crs_fdqueue_init(void)
{
    int p[2];

    crs_state.tee_pipe[0] = crs_state.tee_pipe[1] = -1;
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    /* as large as what one checkpoint keeps, where the system allows it (root: always) */
    fcntl(p[1], F_SETPIPE_SZ, (int)CRS_SNAP_QUEUED_MAX);
    crs_state.tee_pipe[0] = crs_fd_high(p[0]);
    crs_state.tee_pipe[1] = crs_fd_high(p[1]);
    return 0;
}

void crs_fdqueue_begin(void)
{
    crs_state.nqueued = 0;
    crs_state.queued_len = 0;
    crs_state.queued_missed = 0;
}

static int is_internal(int fd)
{
    for (uint32_t i = 0; i < crs_state.req.ninternal; i++)
        if (crs_state.req.internal_fds[i] == fd)
            return 1;
    return fd == crs_state.tee_pipe[0] || fd == crs_state.tee_pipe[1];
}

static int pipe_seen(uint64_t ino)
{
    const char *at = queued_area();
    for (uint32_t i = 0; i < crs_state.nqueued; i++) {
        const struct crs_img_queued *q = (const struct crs_img_queued *)at;
        if (q->ino == ino)
            return 1;
        at += sizeof *q + ((q->len + 7u) & ~7u);
    }
    return 0;
}

/* Copies n queued bytes of a pipe through the tee pipe, leaving the pipe as it was. */
static long copy_pipe(int fd, char *dst, long n)
{
    long t = crs_sys6(SYS_tee, fd, crs_state.tee_pipe[1], n, SPLICE_F_NONBLOCK, 0, 0);
    long got = 0;

    while (t > 0 && got < t) {
        long r = crs_sys3(SYS_read, crs_state.tee_pipe[0], (long)(dst + got), t - got);
        if (r <= 0)
            break;
        got += r;
    }
    /* whatever is left would corrupt the next copy: drain it */
    while (crs_sys3(SYS_read, crs_state.tee_pipe[0], (long)crs_state.fd_text,
                    sizeof crs_state.fd_text) > 0) {
    }
    return t == n && got == n ? n : -1;
}

void crs_fdqueue_add(int fd, const struct stat *sb)
{
    char *area = queued_area();
    struct crs_img_queued *q;
    int n = 0;
    long got;

    if (!area || is_internal(fd))
        return;
    if (S_ISFIFO(sb->st_mode)) {
        long fl = crs_sys2(SYS_fcntl, fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY || pipe_seen(sb->st_ino))
            return;
    } else if (S_ISSOCK(sb->st_mode)) {
        int v = 0;
        socklen_t len = sizeof v;
        if (crs_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, (long)&v, (long)&len) < 0 ||
            v != AF_UNIX)
            return;
        len = sizeof v;
        if (crs_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&v, (long)&len) < 0 ||
            v != SOCK_STREAM)
            return;
    } else {
        return;
    }
    if (crs_sys3(SYS_ioctl, fd, FIONREAD, (long)&n) < 0 || n <= 0)
        return;
    uint64_t at = crs_state.queued_len;
    uint64_t need = sizeof *q + (((uint64_t)n + 7) & ~7ull);
    if (at + need > CRS_SNAP_QUEUED_MAX) {
        crs_state.queued_missed++;
        return;
    }
    q = (struct crs_img_queued *)(area + at);
    if (S_ISFIFO(sb->st_mode))
        got = copy_pipe(fd, (char *)(q + 1), n);
    else
        got = crs_sys6(SYS_recvfrom, fd, (long)(q + 1), n, MSG_PEEK | MSG_DONTWAIT, 0, 0);
    if (got != n) {                     /* not all of it (a bigger pipe, mixed senders) */
        crs_state.queued_missed++;
        return;
    }
    q->fd = fd;
    q->len = (uint32_t)n;
    q->ino = sb->st_ino;
    for (uint64_t k = sizeof *q + (uint64_t)n; k < need; k++)
        ((char *)q)[k] = 0;
    crs_state.queued_len = at + need;
    crs_state.nqueued++;
}
