/* runtime/ownfds.c - the library's long-lived descriptors (the wake-up eventfd, the timer, the
 * control socket, the tee pipe) belong to it, but a program may close them: close_range(3, ~0U)
 * or a loop over every number at startup is common. Each is known by its (st_dev, st_ino);
 * before a checkpoint and whenever the coordinator wakes, a descriptor that is gone or now
 * names another file is made again, and the number, if it is the program's now, is left to
 * it. When they cannot be made again, checkpointing is off, said once, and every request gets
 * that error, until they can.
 *
 * An eventfd or timerfd has the kernel's one anonymous inode: a program's own one put at the
 * very number is taken for ours (closed, or another kind of file there, is told apart).
 *
 * crs_ownfds_wake_ok() runs in the trigger signal handler: one raw fstat, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

enum { OWN_EVENTFD, OWN_TIMER, OWN_LISTEN, OWN_TEE_R, OWN_TEE_W, OWN__END };
_Static_assert(OWN__END == CRS_OWN_FDS, "the state keeps an identity per watched descriptor");

static int own_fd(int which)
{
    switch (which) {
    case OWN_EVENTFD: return atomic_load(&crs_state.eventfd);
    case OWN_TIMER: return crs_state.timerfd;
    case OWN_LISTEN: return crs_state.listen_fd;
    case OWN_TEE_R: return crs_state.tee_pipe[0];
    default: return crs_state.tee_pipe[1];
    }
}

static const char *const own_name[] = {
    "wake-up eventfd", "timer", "control socket", "tee pipe", "tee pipe",
};
_Static_assert(sizeof own_name / sizeof own_name[0] == OWN__END, "a name per watched descriptor");

/* Raw: also called from the signal handler. */
static int same_file(int fd, const uint64_t id[2])
{
    struct stat st;

    if (fd < 0 || crs_sys2(SYS_fstat, fd, (long)&st) < 0)
        return 0;
    return (uint64_t)st.st_dev == id[0] && (uint64_t)st.st_ino == id[1];
}

/* Records what each descriptor in use is now; one that was ever in use stays wanted. */
void crs_ownfds_record(void)
{
    for (int i = 0; i < CRS_OWN_FDS; i++) {
        struct stat st;
        int fd = own_fd(i);
        crs_state.own_ids[i][0] = crs_state.own_ids[i][1] = 0;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            crs_state.own_ids[i][0] = (uint64_t)st.st_dev;
            crs_state.own_ids[i][1] = (uint64_t)st.st_ino;
            crs_state.own_want |= 1u << i;
        }
    }
}

int crs_ownfds_wake_ok(void)
{
    return same_file(atomic_load(&crs_state.eventfd), crs_state.own_ids[OWN_EVENTFD]);
}

/* Makes one again. Its old number is not closed: it is free, or the program's now. */
static int remake(int which)
{
    int r = 0, fd;

    switch (which) {
    case OWN_EVENTFD:
        atomic_store(&crs_state.eventfd, -1);
        fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            return -errno;
        atomic_store(&crs_state.eventfd, crs_fd_high(fd));
        break;
    case OWN_TIMER:
        crs_state.timerfd = crs_timer_create();
        if (crs_state.timerfd < -1) {
            r = crs_state.timerfd;
            crs_state.timerfd = -1;
        }
        break;
    case OWN_LISTEN:
        crs_state.listen_fd = -1;
        r = crs_control_open();
        break;
    default:                            /* the tee pipe: both ends together */
        for (int e = 0; e < 2; e++)
            if (crs_state.tee_pipe[e] >= 0 &&
                same_file(crs_state.tee_pipe[e], crs_state.own_ids[OWN_TEE_R + e]))
                close(crs_state.tee_pipe[e]);
        r = crs_fdqueue_init();
        break;
    }
    return r;
}

int crs_ownfds_check(int retry)
{
    char lost[128];
    size_t len = 0;
    unsigned bad = 0;
    int failed = 0;

    /* One that could not be made before (-1) is tried again before a checkpoint only, not at
     * each wake-up: the coordinator would poll, fail and poll again. */
    for (int i = 0; i < CRS_OWN_FDS; i++)
        if ((crs_state.own_want & (1u << i)) && (retry || own_fd(i) >= 0) &&
            !same_file(own_fd(i), crs_state.own_ids[i]))
            bad |= 1u << i;
    if (!bad)
        return 0;
    if (bad & (1u << OWN_TEE_W))        /* one remake for both ends */
        bad = (bad & ~(1u << OWN_TEE_W)) | 1u << OWN_TEE_R;
    lost[0] = 0;
    for (int i = 0; i < CRS_OWN_FDS; i++) {
        if (!(bad & (1u << i)))
            continue;
        int held = crs_fds_lock();
        int r = remake(i);
        crs_fds_unlock(held);
        if (r < 0 && !failed)
            failed = r;
        if (len < sizeof lost - 32)
            len += (size_t)snprintf(lost + len, sizeof lost - len, "%s%s", len ? ", " : "",
                                    own_name[i]);
    }
    unsigned want = crs_state.own_want;
    crs_ownfds_record();
    crs_state.own_want = want;          /* what failed is still wanted: tried again next time */
    if (failed) {
        if (!crs_state.own_broken)
            crs_log(CRS_LOG_ERROR, "the program closed the library's descriptors (%s) and they "
                    "cannot be made again (%s): checkpoints are off until they can", lost,
                    strerror(-failed));
        crs_state.own_broken = failed;
        return 1;
    }
    if (crs_state.own_broken)
        crs_log(CRS_LOG_ERROR, "the library's descriptors (%s) are back: checkpoints are on",
                lost);
    else
        crs_log(CRS_LOG_ERROR, "the program closed the library's descriptors (%s): made new "
                "ones", lost);
    crs_state.own_broken = 0;
    return 1;
}
