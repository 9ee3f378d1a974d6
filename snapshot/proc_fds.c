/* snapshot/proc_fds.c - the open file descriptors: kind, path, flags, offset, the state
 * fdinfo gives for eventfd, epoll, timerfd and signalfd, and for unix sockets their peer (from
 * NETLINK_SOCK_DIAG), so that in-process socketpairs can be rebuilt. Runs in the forked snapshot child:
 * no malloc, no stdio, no locks. The child shares nothing with the parent's descriptor table
 * but inherits a copy, so what it sees is what the process had at the clone.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "common/proc_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>


static int in_list(int fd, const int *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == fd)
            return 1;
    return 0;
}

static uint32_t classify(const char *link, const struct stat *sb)
{
    if (crs_strncmp_prefix(link, "anon_inode:")) {
        const char *k = link + 11;
        if (crs_strncmp_prefix(k, "[eventfd"))
            return CRS_FD_EVENTFD;
        if (crs_strncmp_prefix(k, "[timerfd]"))
            return CRS_FD_TIMERFD;
        if (crs_strncmp_prefix(k, "[signalfd]"))
            return CRS_FD_SIGNALFD;
        if (crs_strncmp_prefix(k, "[eventpoll]"))
            return CRS_FD_EPOLL;
        return CRS_FD_OTHER;
    }
    if (S_ISFIFO(sb->st_mode))
        return CRS_FD_PIPE;
    if (S_ISSOCK(sb->st_mode))
        return CRS_FD_SOCKET;
    if (S_ISCHR(sb->st_mode)) {
        if (crs_strncmp_prefix(link, "/dev/pts/") || crs_strncmp_prefix(link, "/dev/tty") ||
            crs_strncmp_prefix(link, "/dev/console"))
            return CRS_FD_TTY;
        return CRS_FD_CHR;
    }
    if (S_ISREG(sb->st_mode) || S_ISDIR(sb->st_mode))
        return CRS_FD_FILE;
    return CRS_FD_OTHER;
}

/* "(sec, nsec)" as fdinfo prints timer values, into microseconds. */
static void parse_pair(const char *s, struct crs_img_timeval *tv)
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

static void parse_fdinfo(struct crs_img_fd *f, const char *text, size_t len, size_t text_cap)
{
    const char *s;
    uint64_t v;

    if ((s = crs_find_field(text, len, "pos:"))) {
        crs_skip_space(&s);
        if (!crs_parse_dec(&s, &v))
            f->pos = v;
    }
    switch (f->kind) {
    case CRS_FD_EVENTFD:
        if ((s = crs_find_field(text, len, "eventfd-count:"))) {
            crs_skip_space(&s);
            if (!crs_parse_hex(&s, &v))
                f->u.eventfd.count = v;
        }
        if ((s = crs_find_field(text, len, "eventfd-semaphore:"))) {
            crs_skip_space(&s);
            if (!crs_parse_dec(&s, &v))
                f->u.eventfd.semaphore = (uint32_t)v;
        }
        break;
    case CRS_FD_TIMERFD:
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
        parse_pair(crs_find_field(text, len, "it_value:"), &f->u.timerfd.value);
        parse_pair(crs_find_field(text, len, "it_interval:"), &f->u.timerfd.interval);
        break;
    case CRS_FD_SIGNALFD:
        if ((s = crs_find_field(text, len, "sigmask:"))) {
            crs_skip_space(&s);
            if (!crs_parse_hex(&s, &v))
                f->u.signalfd.mask = v;
        }
        break;
    case CRS_FD_EPOLL: {
        /* "tfd: %8d events: %8x data: %16llx pos:..." once per registration */
        size_t i = 0, total = 0;
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
        if (total > CRS_EPOLL_MAX || len + 1 >= text_cap) {
            f->kind = CRS_FD_OTHER;
            memset(&f->u, 0, sizeof f->u);
        }
        break;
    }
    default:
        break;
    }
}

static void sock_facts(struct crs_img_fd *f, int fd)
{
    int v;
    socklen_t len = sizeof v;

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0)
        f->u.socket.family = (uint32_t)v;
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0)
        f->u.socket.type = (uint32_t)v;
}

static int is_unix(const struct crs_img_fd *f)
{
    return f->kind == CRS_FD_SOCKET && f->u.socket.family == AF_UNIX;
}

/* One sock_diag reply: copy its peer and whether it has a name to our descriptors on it. */
static void note_diag(struct crs_img_fd *fds, size_t n, const struct unix_diag_msg *m, size_t len)
{
    uint64_t peer = 0;
    uint32_t named = 0;
    int ours = 0;

    for (size_t i = 0; i < n; i++)
        ours |= is_unix(&fds[i]) && fds[i].ino == m->udiag_ino;
    if (!ours)
        return;
    size_t off = NLMSG_ALIGN(sizeof *m);
    while (off + sizeof(struct rtattr) <= len) {
        const struct rtattr *a = (const struct rtattr *)((const char *)m + off);
        if (a->rta_len < sizeof *a || off + a->rta_len > len)
            break;
        if (a->rta_type == UNIX_DIAG_NAME)
            named = CRS_SOCK_F_NAMED;
        else if (a->rta_type == UNIX_DIAG_PEER && a->rta_len >= RTA_LENGTH(4))
            peer = *(const uint32_t *)RTA_DATA(a);
        off += RTA_ALIGN(a->rta_len);
    }
    for (size_t i = 0; i < n; i++)
        if (is_unix(&fds[i]) && fds[i].ino == m->udiag_ino) {
            fds[i].u.socket.peer_ino = peer;
            fds[i].u.socket.flags |= CRS_SOCK_F_DIAG | named;
        }
}

/* Asks the kernel for every unix socket's peer and name (one dump) into buf. Without
 * sock_diag nothing is marked, and the sockets stay unrestored as before. */
static void unix_peers(struct crs_img_fd *fds, size_t n, char *buf, size_t cap)
{
    struct {
        struct nlmsghdr h;
        struct unix_diag_req r;
    } req;
    int any = 0, done = 0;

    for (size_t i = 0; i < n; i++)
        any |= is_unix(&fds[i]);
    if (!any)
        return;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    req.r.sdiag_family = AF_UNIX;
    req.r.udiag_states = ~0u;
    req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
    if (send(nl, &req, sizeof req, 0) != (ssize_t)sizeof req) {
        close(nl);
        return;
    }
    while (!done) {
        ssize_t got = recv(nl, buf, cap, 0);
        if (got <= 0)
            break;
        size_t left = (size_t)got;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = 1;
                break;
            }
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
                h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
                note_diag(fds, n, NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN);
        }
    }
    close(nl);
    /* a pair: both ends unnamed, each the other's peer, both open here */
    for (size_t i = 0; i < n; i++) {
        struct crs_img_fd *f = &fds[i];
        if (!is_unix(f) || (f->u.socket.flags & (CRS_SOCK_F_DIAG | CRS_SOCK_F_NAMED)) !=
                               CRS_SOCK_F_DIAG || !f->u.socket.peer_ino)
            continue;
        for (size_t j = 0; j < n; j++) {
            const struct crs_img_fd *g = &fds[j];
            if (is_unix(g) && g->ino == f->u.socket.peer_ino &&
                (g->u.socket.flags & (CRS_SOCK_F_DIAG | CRS_SOCK_F_NAMED)) == CRS_SOCK_F_DIAG &&
                g->u.socket.peer_ino == f->ino && g->u.socket.type == f->u.socket.type) {
                f->u.socket.flags |= CRS_SOCK_F_PAIR;
                break;
            }
        }
    }
}

long crs_proc_fds(struct crs_img_fd *fds, size_t max, struct crs_strtab *st,
                  const int *internal, uint32_t ninternal, const int *skip, int nskip,
                  char *work, size_t workcap)
{
    /* first the numbers, so that descriptors opened below are not listed */
    int *nums = (int *)work;
    size_t maxnums = workcap / 2 / sizeof(int), nnums = 0;
    char *text = work + workcap / 2;
    size_t textcap = workcap / 2;
    char dents[4096];
    struct crs_dirwalk w;
    const char *name;
    int r;

    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    crs_dirwalk_init(&w, dfd, dents, sizeof dents);
    while ((r = crs_dirwalk_next(&w, &name)) > 0) {
        int v = crs_dirent_num(name);
        if (v < 0 || v == dfd || in_list(v, skip, nskip))
            continue;
        if (nnums == maxnums) {
            close(dfd);
            return -E2BIG;
        }
        nums[nnums++] = v;
    }
    close(dfd);
    if (r < 0)
        return r;
    /* ascending order, as the image requires */
    for (size_t i = 1; i < nnums; i++) {
        int x = nums[i];
        size_t j = i;
        for (; j > 0 && nums[j - 1] > x; j--)
            nums[j] = nums[j - 1];
        nums[j] = x;
    }
    if (nnums > max)
        return -E2BIG;

    size_t n = 0;
    for (size_t i = 0; i < nnums; i++) {
        struct crs_img_fd *f = &fds[n];
        char p[64], link[CRS_PATH_MAX];
        struct stat sb;
        int fd = nums[i];

        memset(f, 0, sizeof *f);
        f->fd = fd;
        if (fstat(fd, &sb) < 0)
            continue; /* closed meanwhile: only the child's own can be */
        crs_fd_path(p, sizeof p, "/proc/self/fd/", fd);
        ssize_t ln = readlink(p, link, sizeof link - 1);
        if (ln < 0)
            ln = 0;
        link[ln] = '\0';
        int fl = fcntl(fd, F_GETFL);
        int fdfl = fcntl(fd, F_GETFD);
        f->flags = fl < 0 ? 0 : (uint32_t)fl;
        f->fdflags = fdfl < 0 ? 0 : (uint32_t)fdfl;
        f->mode = sb.st_mode;
        f->dev = sb.st_dev;
        f->ino = sb.st_ino;
        f->rdev = sb.st_rdev;
        f->size = (uint64_t)sb.st_size;
        f->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        f->kind = in_list(fd, internal, (int)ninternal) ? CRS_FD_INTERNAL : classify(link, &sb);
        f->path = crs_strtab_addn(st, link, (size_t)ln);
        if (ln && !f->path)
            return -E2BIG;
        crs_fd_path(p, sizeof p, "/proc/self/fdinfo/", fd);
        long tl = crs_read_file(p, text, textcap);
        if (tl > 0)
            parse_fdinfo(f, text, (size_t)tl, textcap);
        if (f->kind == CRS_FD_SOCKET)
            sock_facts(f, fd);
        n++;
    }
    unix_peers(fds, n, text, textcap);
    return (long)n;
}
