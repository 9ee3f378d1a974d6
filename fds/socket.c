/* fds/socket.c - sockets. A unix socket pair with both ends in the process (an event loop's
 * wake-up channel, most often) is recognised by asking the kernel for every unix socket's peer
 * (NETLINK_SOCK_DIAG) and becomes a new pair at a restore, with the bytes waiting in each
 * direction put back (queued.c). Every other socket (listening, connected to another process,
 * network) stays closed, and the checkpoint says what it was ("socket listening on
 * 127.0.0.1:8000 (TCP)"), read from the snapshot child's copy of the descriptor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"
#include "image/reader.h"
#include "restore/restore.h"

static CRS_CHILD_CODE int match(struct crs_fd_probe *p)
{
    return S_ISSOCK(p->sb->st_mode);
}

static uint32_t quiesce(int fd, const struct stat *sb, uint64_t *value)
{
    (void)fd, (void)sb, (void)value;
    return CRS_FDQ_QUEUED;
}

static CRS_CHILD_CODE int restorable(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    (void)s;
    return (f->u.socket.flags & CRS_SOCK_F_PAIR) || f->fd <= 2;
}

static CRS_CHILD_CODE void sb_ch(struct crs_sbuf *b, char c)
{
    char t[2] = {c, '\0'};
    crs_sb_str(b, t);
}

static CRS_CHILD_CODE void sb_ipv4(struct crs_sbuf *b, const unsigned char *a)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            crs_sb_str(b, ".");
        crs_sb_u64(b, a[i]);
    }
}

/* RFC 5952 form: lowercase hex groups, the longest run of two or more zero groups as "::". */
static CRS_CHILD_CODE void sb_ipv6(struct crs_sbuf *b, const unsigned char *a)
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

static CRS_CHILD_CODE void sb_inet(struct crs_sbuf *b, const struct sockaddr_storage *ss)
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
static CRS_CHILD_CODE int sb_unix(struct crs_sbuf *b, const struct sockaddr_storage *ss,
                                  socklen_t len)
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

static CRS_CHILD_CODE void describe(const struct crs_fd_scan *s, const struct crs_img_fd *f,
                                    struct crs_sbuf *b)
{
    struct sockaddr_storage me, peer;
    socklen_t mlen = sizeof me, plen = sizeof peer;
    int listening = 0, proto = 0;
    socklen_t l = sizeof listening;
    int fam = (int)f->u.socket.family;

    (void)s;
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

static CRS_CHILD_CODE void read_facts(struct crs_img_fd *f, const char *text, size_t len,
                                     size_t cap)
{
    int v;
    socklen_t vlen = sizeof v;

    (void)text, (void)len, (void)cap;
    if (getsockopt(f->fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen) == 0)
        f->u.socket.family = (uint32_t)v;
    vlen = sizeof v;
    if (getsockopt(f->fd, SOL_SOCKET, SO_TYPE, &v, &vlen) == 0)
        f->u.socket.type = (uint32_t)v;
}

static CRS_CHILD_CODE int is_unix(const struct crs_img_fd *f)
{
    return f->kind == CRS_FD_SOCKET && f->u.socket.family == AF_UNIX;
}

/* One sock_diag reply: copy its peer and whether it has a name to our descriptors on it. */
static CRS_CHILD_CODE void note_diag(struct crs_img_fd *fds, size_t n,
                                     const struct unix_diag_msg *m, size_t len)
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
static CRS_CHILD_CODE void read_all(struct crs_img_fd *fds, size_t n, char *buf, size_t cap)
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

/* A unix socketpair whose both ends are in the image (an event loop's wake-up channel, most
 * often) becomes a new socketpair of the same type, with what was waiting in each direction put
 * back (bytes of a stream, datagram by datagram otherwise). */
static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    const struct crs_image *img = r->img;
    uint64_t ino[2] = { f->ino, f->u.socket.peer_ino };
    uint32_t type = f->u.socket.type;
    int sv[2], have = 0, e = 0;

    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        have |= g->kind == CRS_FD_SOCKET && (g->u.socket.flags & CRS_SOCK_F_PAIR) &&
                g->ino == ino[1] && g->u.socket.peer_ino == ino[0];
    }
    if (!have || f->u.socket.family != AF_UNIX ||
        (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET))
        return f->fd <= 2 ? crs_restore_fd_attach_std(r, f) : -ENOTSUP;
    if (socketpair(AF_UNIX, (int)type | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    for (int k = 0; k < 2; k++)
        sv[k] = crs_restore_fd_lift(r, sv[k]);
    /* what end k had to read was written by the other end */
    uint8_t refilled[2] = {0, 0};
    for (uint32_t i = 0; i < img->nfds && sv[0] >= 0 && sv[1] >= 0; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        int k = g->ino == ino[0] ? 0 : 1;
        if (g->kind == CRS_FD_SOCKET && (g->u.socket.flags & CRS_SOCK_F_PAIR) &&
            (g->ino == ino[0] || g->ino == ino[1]) && !refilled[k] && crs_fd_has_queued(img, g)) {
            crs_fd_refill(r, g, sv[1 - k], 0);
            refilled[k] = 1;            /* another descriptor of that end holds the same */
        }
    }
    for (uint32_t i = 0; i < img->nfds && sv[0] >= 0 && sv[1] >= 0; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind != CRS_FD_SOCKET || !(g->u.socket.flags & CRS_SOCK_F_PAIR) ||
            (g->ino != ino[0] && g->ino != ino[1]))
            continue;
        if ((e = crs_restore_fd_dup(g, sv[g->ino == ino[0] ? 0 : 1])))
            break;
        fcntl(g->fd, F_SETFL, (int)g->flags);
        done[i] = 1;
    }
    if (sv[0] < 0 || sv[1] < 0)
        e = -EMFILE;
    close(sv[0]);
    close(sv[1]);
    return e;
}


static void info(const struct crs_img_fd *f, char *text, size_t tlen, char *json, size_t jlen)
{
    int pair = (f->u.socket.flags & CRS_SOCK_F_PAIR) != 0;
    snprintf(text, tlen, "%s", pair ? " (socketpair, restored)" : "");
    snprintf(json, jlen, ",\"socketpair\":%s", pair ? "true" : "false");
}

const struct crs_fd_ops crs_fd_socket = {
    .kind = CRS_FD_SOCKET,
    .name = "socket",
    .holds = CRS_FDK_QUEUED,
    .match = match,
    .quiesce = quiesce,
    .read = read_facts,
    .read_all = read_all,
    .restorable = restorable,
    .describe = describe,
    .rebuild = rebuild,
    .info = info,
};
