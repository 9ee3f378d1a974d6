/* fds/epoll.c - epoll: its registrations (descriptor, events, data), from fdinfo. A restore
 * makes a new epoll at the number in the first pass and registers the descriptors again in the
 * second, once they all exist. An epoll with more registrations than a record holds is recorded
 * as another kind (not restored), never rebuilt in part.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "common/errmsg.h"
#include "common/proc_util.h"
#include "fds.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return crs_fd_match_anon(p, "[eventpoll]");
}

/* "tfd: %8d events: %8x data: %16llx pos:..." once per registration */
static CRS_CHILD_CODE void read_fdinfo(struct crs_img_fd *f, const char *text, size_t len,
                                       size_t cap)
{
    size_t i = 0, total = 0;
    const char *s;

    while (i < len) {
        const char *line = text + i;
        size_t rest = len - i;
        if (rest > 4 && crs_strncmp_prefix(line, "tfd:"))
            total++;
        if (rest > 4 && crs_strncmp_prefix(line, "tfd:") && f->u.epoll.n < CRS_EPOLL_MAX) {
            struct crs_img_epoll_tfd *t = &f->u.epoll.tfd[f->u.epoll.n];
            uint64_t fdv, ev = 0, data = 0;
            s = line + 4;
            crs_skip_space(&s);
            if (!crs_parse_dec(&s, &fdv)) {
                crs_skip_space(&s);
                if (crs_strncmp_prefix(s, "events:")) {
                    s += 7;
                    crs_skip_space(&s);
                    crs_parse_hex(&s, &ev);
                    crs_skip_space(&s);
                }
                if (crs_strncmp_prefix(s, "data:")) {
                    s += 5;
                    crs_skip_space(&s);
                    crs_parse_hex(&s, &data);
                }
                t->fd = (int32_t)fdv;
                t->events = (uint32_t)ev;
                t->data = data;
                f->u.epoll.n++;
            }
        }
        while (i < len && text[i] != '\n')
            i++;
        i++;
    }
    /* an epoll that cannot be rebuilt whole is not rebuilt at all */
    if (total > CRS_EPOLL_MAX || len + 1 >= cap) {
        f->kind = CRS_FD_OTHER;
        memset(&f->u, 0, sizeof f->u);
    }
}

static int validate(const struct crs_img_fd *f, char *err, size_t errlen)
{
    if (f->u.epoll.n <= CRS_EPOLL_MAX)
        return 0;
    crs_seterr(err, errlen, "damaged fd %d: %u epoll entries", f->fd, f->u.epoll.n);
    return -EBADMSG;
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);

    (void)done;
    if (fd < 0)
        return -errno;
    return crs_restore_fd_place(r, fd, f);
}

static void rebuild_late(struct crs_restore *r, const struct crs_img_fd *f)
{
    uint32_t n = f->u.epoll.n < CRS_EPOLL_MAX ? f->u.epoll.n : CRS_EPOLL_MAX;

    for (uint32_t i = 0; i < n; i++) {
        const struct crs_img_epoll_tfd *t = &f->u.epoll.tfd[i];
        struct epoll_event ev = { .events = t->events, .data.u64 = t->data };
        if (epoll_ctl(f->fd, EPOLL_CTL_ADD, t->fd, &ev) < 0)
            crs_restore_warn(r, "epoll descriptor %d: cannot watch descriptor %d again: %s",
                             f->fd, t->fd, strerror(errno));
    }
}

const struct crs_fd_ops crs_fd_epoll = {
    .kind = CRS_FD_EPOLL,
    .name = "epoll",
    .match = match,
    .read = read_fdinfo,
    .restorable = crs_fd_restorable_always,
    .validate = validate,
    .rebuild = rebuild,
    .rebuild_late = rebuild_late,
};
