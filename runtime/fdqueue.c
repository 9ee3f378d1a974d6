/* runtime/fdqueue.c - bytes waiting in pipes and unix sockets at the quiesce. An event loop's
 * wake-up is often a byte in a pipe or a socket pair; a restore that rebuilds the pipe empty
 * loses it, and the loop sleeps. While the threads are parked, the coordinator copies what
 * reads would return, without consuming it: tee() into a pipe of its own for pipes, MSG_PEEK
 * for stream sockets, MSG_PEEK with a peek offset for datagram and seqpacket sockets (one
 * record per datagram). The copies go into the end of the snapshot scratch as the image's
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
#include "common/proc_util.h"

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
    if (crs_state.npipes_seen)
        for (uint32_t i = 0; i < CRS_PIPES_SEEN; i++)
            crs_state.pipes_seen[i] = 0;
    crs_state.npipes_seen = 0;
}

/* The library's own descriptors (the tee pipe among them: list_internal_fds() ran first). */
static int is_internal(int fd)
{
    for (uint32_t i = 0; i < crs_state.req.ninternal; i++)
        if (crs_state.req.internal_fds[i] == fd)
            return 1;
    return 0;
}

/* Whether a pipe was met already in this walk (its other read ends hold the same bytes): an
 * open-addressing set of inode numbers, so that a process with thousands of pipes does not
 * pay for each the ones before it. Inode 0 marks a free slot (pipefs numbers start at 1). */
static int pipe_seen(uint64_t ino)
{
    uint64_t *set = crs_state.pipes_seen;
    uint32_t mask = CRS_PIPES_SEEN - 1;

    if (crs_state.npipes_seen >= CRS_PIPES_SEEN / 2)
        return 0;                       /* full: a second copy of a pipe costs room, not truth */
    for (uint32_t i = (uint32_t)(ino * 0x9e3779b97f4a7c15ull >> 40) & mask;; i = (i + 1) & mask) {
        if (set[i] == ino)
            return 1;
        if (set[i] == 0) {
            set[i] = ino;
            crs_state.npipes_seen++;
            return 0;
        }
    }
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

/* Room for one record of n bytes at the end of the area, or NULL (counted as missed). */
static struct crs_img_queued *room_for(uint64_t n)
{
    uint64_t need = sizeof(struct crs_img_queued) + ((n + 7) & ~7ull);
    if (crs_state.queued_len + need > CRS_SNAP_QUEUED_MAX) {
        crs_state.queued_missed++;
        return NULL;
    }
    return (struct crs_img_queued *)(queued_area() + crs_state.queued_len);
}

/* The record at the end of the area, now filled with n bytes, joins the section. */
static void commit(struct crs_img_queued *q, int fd, uint64_t ino, uint32_t n)
{
    uint64_t need = sizeof *q + ((n + 7u) & ~7ull);
    q->fd = fd;
    q->len = n;
    q->ino = ino;
    for (uint64_t k = sizeof *q + n; k < need; k++)
        ((char *)q)[k] = 0;
    crs_state.queued_len += need;
    crs_state.nqueued++;
}

/* Datagrams keep their boundaries: one record each, peeked in turn with a peek offset (set to
 * 0 for the walk, put back as it was after). A queue that does not fit is left out whole. */
static void add_datagrams(int fd, uint64_t ino)
{
    int old = -1, zero = 0;
    socklen_t len = sizeof old;
    uint64_t start_len = crs_state.queued_len;
    uint32_t start_n = crs_state.nqueued;

    if (crs_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_PEEK_OFF, (long)&old, (long)&len) < 0 ||
        crs_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_PEEK_OFF, (long)&zero, sizeof zero) < 0)
        return;
    int whole = 1;
    for (;;) {
        uint64_t room = CRS_SNAP_QUEUED_MAX - crs_state.queued_len;
        struct crs_img_queued *q = (struct crs_img_queued *)(queued_area() + crs_state.queued_len);
        if (room < sizeof *q + 8) {
            whole = 0;
            break;
        }
        room = (room - sizeof *q) & ~7ull;
        long got = crs_sys6(SYS_recvfrom, fd, (long)(q + 1), (long)room,
                            MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC, 0, 0);
        if (got < 0)
            break;                      /* -EAGAIN: all of it */
        if ((uint64_t)got > room) {     /* MSG_TRUNC: its real length did not fit */
            whole = 0;
            break;
        }
        commit(q, fd, ino, (uint32_t)got);
    }
    if (!whole) {
        crs_state.queued_missed++;
        crs_state.queued_len = start_len;
        crs_state.nqueued = start_n;
    }
    crs_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_PEEK_OFF, (long)&old, sizeof old);
}

void crs_fdqueue_add(int fd, const struct stat *sb)
{
    struct crs_img_queued *q;
    int n = 0;
    long got;

    if (!queued_area() || is_internal(fd))
        return;
    if (S_ISFIFO(sb->st_mode)) {
        long fl = crs_sys2(SYS_fcntl, fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
            return;
    } else if (S_ISSOCK(sb->st_mode)) {
        int v = 0;
        socklen_t len = sizeof v;
        if (crs_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, (long)&v, (long)&len) < 0 ||
            v != AF_UNIX)
            return;
        len = sizeof v;
        if (crs_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&v, (long)&len) < 0)
            return;
        if (v == SOCK_DGRAM || v == SOCK_SEQPACKET) {
            add_datagrams(fd, sb->st_ino);
            return;
        }
        if (v != SOCK_STREAM)
            return;
    } else {
        return;
    }
    if (crs_sys3(SYS_ioctl, fd, FIONREAD, (long)&n) < 0 || n <= 0 ||
        (S_ISFIFO(sb->st_mode) && pipe_seen(sb->st_ino)) || !(q = room_for((uint64_t)n)))
        return;
    if (S_ISFIFO(sb->st_mode))
        got = copy_pipe(fd, (char *)(q + 1), n);
    else
        got = crs_sys6(SYS_recvfrom, fd, (long)(q + 1), n, MSG_PEEK | MSG_DONTWAIT, 0, 0);
    if (got != n) {                     /* not all of it (a bigger pipe, mixed senders) */
        crs_state.queued_missed++;
        return;
    }
    commit(q, fd, sb->st_ino, (uint32_t)n);
}
