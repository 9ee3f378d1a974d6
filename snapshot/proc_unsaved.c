/* snapshot/proc_unsaved.c - what a restore will not bring back, said once at the checkpoint:
 * the descriptors the restore leaves closed (by the rules of restore_fds.c) and the children of
 * the process, each with a short description for a person. Runs in the forked snapshot child:
 * no malloc, no stdio, no locks. It reads the child's copies of the descriptors (socket
 * addresses) and, for children, the live /proc of the checkpointed process.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "common/proc_util.h"

#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_OWNER_WALKS 64              /* children whose descriptors are searched for pipes */

struct scan {
    struct crs_img_unsaved *out;
    size_t max, n;
    struct crs_strtab *st;
    int children[CRS_PROC_MAX_CHILDREN];
    char comms[CRS_PROC_MAX_CHILDREN][17];
    int nchildren;
};

static void sb_ch(struct crs_sbuf *b, char c)
{
    char t[2] = {c, '\0'};
    crs_sb_str(b, t);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = crs_strlen(s), b = crs_strlen(suffix);
    return a >= b && !memcmp(s + a - b, suffix, b);
}

/* Does the restore rebuild or reattach f (restore_fds.c decides the same way)? */
static int restorable(const struct crs_img_fd *f, const struct crs_img_fd *fds, size_t nfds,
                      const char *path, const struct crs_snap_deleted *del, uint32_t ndel)
{
    switch (f->kind) {
    case CRS_FD_INTERNAL:
    case CRS_FD_TTY:
    case CRS_FD_CHR:
    case CRS_FD_EVENTFD:
    case CRS_FD_TIMERFD:
    case CRS_FD_SIGNALFD:
    case CRS_FD_EPOLL:
        return 1;
    case CRS_FD_FILE:
        if (!ends_with(path, " (deleted)"))
            return 1;
        for (uint32_t i = 0; i < ndel; i++)
            if (del[i].ino == f->ino && del[i].dev == f->dev)
                return 1;
        return 0;
    case CRS_FD_PIPE: {
        int have[2] = {0, 0};
        if (path[0] == '/' || f->fd <= 2)
            return 1;                   /* a FIFO is opened again; 0-2 become the restorer's */
        for (size_t i = 0; i < nfds; i++)
            if (fds[i].kind == CRS_FD_PIPE && fds[i].ino == f->ino)
                have[(fds[i].flags & O_ACCMODE) == O_RDONLY ? 0 : 1] = 1;
        return have[0] && have[1];
    }
    case CRS_FD_SOCKET:
        return (f->u.socket.flags & CRS_SOCK_F_PAIR) || f->fd <= 2;
    default:
        return f->fd <= 2;
    }
}

static void sb_ipv4(struct crs_sbuf *b, const unsigned char *a)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            crs_sb_str(b, ".");
        crs_sb_u64(b, a[i]);
    }
}

/* RFC 5952 form: lowercase hex groups, the longest run of two or more zero groups as "::". */
static void sb_ipv6(struct crs_sbuf *b, const unsigned char *a)
{
    unsigned g[8];
    int best = -1, bestlen = 1;

    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            crs_sb_str(b, "::");
            i += bestlen - 1;
            continue;
        }
        if (i && i != best + bestlen)
            crs_sb_str(b, ":");
        char h[5];
        int n = 0;
        unsigned v = g[i];
        do {
            h[n++] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v);
        while (n)
            sb_ch(b, h[--n]);
    }
}

static void sb_inet(struct crs_sbuf *b, const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        sb_ipv4(b, (const unsigned char *)&in->sin_addr);
        crs_sb_str(b, ":");
        crs_sb_u64(b, ntohs(in->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        crs_sb_str(b, "[");
        sb_ipv6(b, (const unsigned char *)&in6->sin6_addr);
        crs_sb_str(b, "]:");
        crs_sb_u64(b, ntohs(in6->sin6_port));
    }
}

/* A unix address: its path, "@name" for an abstract one, or NULL when unnamed. */
static int sb_unix(struct crs_sbuf *b, const struct sockaddr_storage *ss, socklen_t len)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path) : 0;

    if (n == 0)
        return 0;
    if (un->sun_path[0] == '\0') {
        crs_sb_str(b, "@");
        for (size_t i = 1; i < n; i++)
            sb_ch(b, un->sun_path[i] >= 0x20 && un->sun_path[i] < 0x7f ? un->sun_path[i] : '?');
        return 1;
    }
    for (size_t i = 0; i < n && un->sun_path[i]; i++)
        sb_ch(b, un->sun_path[i]);
    return 1;
}

static void describe_socket(struct crs_sbuf *b, const struct crs_img_fd *f)
{
    struct sockaddr_storage me, peer;
    socklen_t mlen = sizeof me, plen = sizeof peer;
    int listening = 0, proto = 0;
    socklen_t l = sizeof listening;
    int fam = (int)f->u.socket.family;

    memset(&me, 0, sizeof me);
    memset(&peer, 0, sizeof peer);
    getsockopt(f->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l);
    l = sizeof proto;
    getsockopt(f->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l);
    int named = getsockname(f->fd, (struct sockaddr *)&me, &mlen) == 0;
    int connected = getpeername(f->fd, (struct sockaddr *)&peer, &plen) == 0;

    if (fam == AF_INET || fam == AF_INET6) {
        const char *p = proto == IPPROTO_TCP ? "TCP" : proto == IPPROTO_UDP ? "UDP"
                        : f->u.socket.type == SOCK_RAW ? "raw" : "IP";
        crs_sb_str(b, "socket ");
        if (listening) {
            crs_sb_str(b, "listening on ");
            sb_inet(b, &me);
        } else if (connected) {
            if (named) {
                sb_inet(b, &me);
                crs_sb_str(b, " ");
            }
            crs_sb_str(b, "connected to ");
            sb_inet(b, &peer);
        } else if (named) {
            crs_sb_str(b, "bound to ");
            sb_inet(b, &me);
        }
        crs_sb_str(b, " (");
        crs_sb_str(b, p);
        crs_sb_str(b, ")");
        return;
    }
    if (fam == AF_UNIX) {
        crs_sb_str(b, "unix socket");
        if (listening) {
            crs_sb_str(b, " listening on ");
            if (!named || !sb_unix(b, &me, mlen))
                crs_sb_str(b, "an unnamed address");
        } else if (connected) {
            crs_sb_str(b, " connected to ");
            if (!sb_unix(b, &peer, plen))
                crs_sb_str(b, "another process");
        } else if (named && mlen > offsetof(struct sockaddr_un, sun_path)) {
            crs_sb_str(b, " bound to ");
            sb_unix(b, &me, mlen);
        }
        return;
    }
    crs_sb_str(b, fam == AF_NETLINK ? "netlink socket" : "socket of family ");
    if (fam != AF_NETLINK)
        crs_sb_u64(b, (uint64_t)fam);
}

/* The children of pid: every process whose parent it is (the kernel's per-thread children
 * lists need CONFIG_PROC_CHILDREN, which not every kernel has, so /proc is walked). */
static void find_children(struct scan *s, int pid)
{
    char dents[4096], text[512], p[64];
    struct crs_dirwalk w;
    const char *name;
    int self = getpid();
    int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0)
        return;
    crs_dirwalk_init(&w, dfd, dents, sizeof dents);
    while (crs_dirwalk_next(&w, &name) > 0 && s->nchildren < CRS_PROC_MAX_CHILDREN) {
        int v = crs_dirent_num(name);
        if (v <= 0 || v == self || v == pid)
            continue;
        crs_fd_path(p, sizeof p, "/proc/", v);
        size_t pl = crs_strlen(p);
        memcpy(p + pl, "/stat", 6);
        long n = crs_read_file(p, text, sizeof text);
        if (n <= 0)
            continue;
        /* "pid (comm) S ppid ...": comm may hold ')', the last one ends it */
        char *open_p = memchr(text, '(', (size_t)n), *close_p = NULL;
        for (char *q = text + n - 1; q > text; q--)
            if (*q == ')') {
                close_p = q;
                break;
            }
        if (!open_p || !close_p || close_p < open_p || close_p + 4 >= text + n)
            continue;
        const char *q = close_p + 4;    /* past ") S " */
        uint64_t ppid;
        if (crs_parse_dec(&q, &ppid) || ppid != (uint64_t)pid)
            continue;
        size_t cl = (size_t)(close_p - open_p - 1);
        cl = cl > 16 ? 16 : cl;
        memcpy(s->comms[s->nchildren], open_p + 1, cl);
        s->comms[s->nchildren][cl] = '\0';
        s->children[s->nchildren++] = v;
    }
    close(dfd);
}

/* Which child has the pipe ino open too (-1 if none of them): the other end of a pipe to a
 * child is most often in that child. */
static int pipe_owner(const struct scan *s, uint64_t ino)
{
    char want[40], dents[2048], p[64], link[64];
    struct crs_sbuf b;

    crs_sb_init(&b, want, sizeof want);
    crs_sb_str(&b, "pipe:[");
    crs_sb_u64(&b, ino);
    crs_sb_str(&b, "]");
    for (int c = 0; c < s->nchildren && c < MAX_OWNER_WALKS; c++) {
        struct crs_dirwalk w;
        const char *name;
        crs_fd_path(p, sizeof p, "/proc/", s->children[c]);
        size_t pl = crs_strlen(p);
        memcpy(p + pl, "/fd", 4);
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            continue;
        crs_dirwalk_init(&w, dfd, dents, sizeof dents);
        int found = 0;
        while (!found && crs_dirwalk_next(&w, &name) > 0) {
            if (crs_dirent_num(name) < 0)
                continue;
            ssize_t n = readlinkat(dfd, name, link, sizeof link - 1);
            if (n > 0) {
                link[n] = '\0';
                found = !strcmp(link, want);
            }
        }
        close(dfd);
        if (found)
            return c;
    }
    return -1;
}

static void add(struct scan *s, uint32_t kind, int fd, int pid, const char *what)
{
    if (s->n == s->max)
        return;
    struct crs_img_unsaved *u = &s->out[s->n++];
    u->kind = kind;
    u->fd = fd;
    u->pid = (uint32_t)pid;
    u->what = crs_strtab_add(s->st, what); /* a full table leaves it without text */
}

static void sb_child(struct crs_sbuf *b, const struct scan *s, int c)
{
    crs_sb_str(b, "child process ");
    crs_sb_u64(b, (uint64_t)s->children[c]);
    crs_sb_str(b, " (");
    crs_sb_str(b, s->comms[c]);
    crs_sb_str(b, ")");
}

long crs_proc_unsaved(struct crs_img_unsaved *out, size_t max, struct crs_strtab *st,
                      const struct crs_img_fd *fds, size_t nfds,
                      const struct crs_snap_deleted *del, uint32_t ndel, int pid)
{
    struct scan s;
    char what[512];
    struct crs_sbuf b;

    s.out = out;
    s.max = max;
    s.n = 0;
    s.st = st;
    s.nchildren = 0;
    find_children(&s, pid);
    for (size_t i = 0; i < nfds; i++) {
        const struct crs_img_fd *f = &fds[i];
        const char *path = f->path ? st->buf + f->path : "";
        if (restorable(f, fds, nfds, path, del, ndel))
            continue;
        crs_sb_init(&b, what, sizeof what);
        switch (f->kind) {
        case CRS_FD_PIPE: {
            int rd = (f->flags & O_ACCMODE) == O_RDONLY;
            int c = pipe_owner(&s, f->ino);
            crs_sb_str(&b, rd ? "pipe from " : "pipe to ");
            if (c >= 0)
                sb_child(&b, &s, c);
            else
                crs_sb_str(&b, "another process");
            break;
        }
        case CRS_FD_SOCKET:
            describe_socket(&b, f);
            break;
        case CRS_FD_FILE:
            crs_sb_str(&b, "deleted file ");
            crs_sb_str(&b, path);
            crs_sb_str(&b, ", its contents not saved");
            break;
        default:
            crs_sb_str(&b, crs_strncmp_prefix(path, "anon_inode:[eventpoll]")
                               ? "epoll watching too many descriptors to rebuild" : path);
            break;
        }
        add(&s, CRS_UNSAVED_FD, f->fd, 0, what);
    }
    for (int c = 0; c < s.nchildren; c++) {
        crs_sb_init(&b, what, sizeof what);
        sb_child(&b, &s, c);
        add(&s, CRS_UNSAVED_CHILD, -1, s.children[c], what);
    }
    return (long)s.n;
}
