/* fds/timerfd.c - timerfd: its clock, flags, interval and the time left, from fdinfo. A restore
 * arms a new timer with the time that was left (relative: the clock has moved on).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return crs_fd_match_anon(p, "[timerfd]");
}

/* "(sec, nsec)" as fdinfo prints timer values, into microseconds. */
CRS_CHILD_CODE void crs_fd_parse_timeval(const char *s, struct crs_img_timeval *tv)
{
    uint64_t sec = 0, nsec = 0;
    if (!s)
        return;
    crs_skip_space(&s);
    if (*s == '(')
        s++;
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &sec))
        return;
    if (*s == ',')
        s++;
    crs_skip_space(&s);
    crs_parse_dec(&s, &nsec);
    tv->sec = (int64_t)sec;
    tv->usec = (int64_t)(nsec / 1000);
}

static CRS_CHILD_CODE void read_fdinfo(struct crs_img_fd *f, const char *text, size_t len,
                                       size_t cap)
{
    const char *s;
    uint64_t v;

    (void)cap;
    if ((s = crs_find_field(text, len, "clockid:"))) {
        crs_skip_space(&s);
        if (!crs_parse_dec(&s, &v))
            f->u.timerfd.clockid = (int32_t)v;
    }
    if ((s = crs_find_field(text, len, "ticks:"))) {
        crs_skip_space(&s);
        if (!crs_parse_dec(&s, &v))
            f->u.timerfd.ticks = v;
    }
    if ((s = crs_find_field(text, len, "settime flags:"))) {
        crs_skip_space(&s);
        if (!crs_parse_oct(&s, &v))
            f->u.timerfd.settime_flags = (uint32_t)v;
    }
    crs_fd_parse_timeval(crs_find_field(text, len, "it_value:"), &f->u.timerfd.value);
    crs_fd_parse_timeval(crs_find_field(text, len, "it_interval:"), &f->u.timerfd.interval);
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    int fd = timerfd_create(f->u.timerfd.clockid,
                            TFD_CLOEXEC | ((f->flags & O_NONBLOCK) ? TFD_NONBLOCK : 0));
    struct itimerspec its = {
        .it_interval = { f->u.timerfd.interval.sec, f->u.timerfd.interval.usec * 1000 },
        .it_value = { f->u.timerfd.value.sec, f->u.timerfd.value.usec * 1000 },
    };

    (void)done;
    if (fd < 0)
        return -errno;
    /* An armed timer whose remaining time rounds to zero still has to fire. */
    if (!its.it_value.tv_sec && !its.it_value.tv_nsec &&
        (its.it_interval.tv_sec || its.it_interval.tv_nsec))
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(fd, 0, &its, NULL) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return crs_restore_fd_place(r, fd, f);
}

const struct crs_fd_ops crs_fd_timerfd = {
    .kind = CRS_FD_TIMERFD,
    .name = "timerfd",
    .match = match,
    .read = read_fdinfo,
    .restorable = crs_fd_restorable_always,
    .rebuild = rebuild,
};
