/* fds/socket.c - sockets. A unix socket pair with both ends in the process (an event loop's
 * wake-up channel, most often) is recognised by asking the kernel for every unix socket's peer
 * (NETLINK_SOCK_DIAG) and becomes a new pair at a restore, with the bytes waiting in each
 * direction put back (restore/restore_queued.c). Every other socket (listening, connected to
 * another process, network) stays closed, and the checkpoint says what it was ("socket
 * listening on 127.0.0.1:8000 (TCP)"), read from the snapshot child's copy of the descriptor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/errmsg.h"
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

static CRS_CHILD_CODE int getopt_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, name, &v, &len) == 0 ? v : 0;
}

static CRS_CHILD_CODE int is_inet(uint32_t family)
{
    return family == AF_INET || family == AF_INET6;
}

/* Bound: an inet address with a port, or a unix path or abstract name. */
static CRS_CHILD_CODE int bound(const struct sockaddr_storage *ss, socklen_t len)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_port != 0;
    if (ss->ss_family == AF_INET6)
        return ((const struct sockaddr_in6 *)ss)->sin6_port != 0;
    return ss->ss_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path);
}

/* The valued options a restore sets again: which level and name, where the value lives in the
 * record, and to which sockets each applies. SO_LINGER and the timeouts are not plain ints and
 * are handled beside these. */
enum { FOR_ALL, FOR_TCP, FOR_IP4, FOR_IP6 };
struct valued_opt {
    uint32_t bit;
    int level, name;
    uint8_t applies;
    uint8_t offset;             /* of the int32_t in struct crs_img_sockopts */
    const char *text;           /* for warnings */
};
#define VOPT(bit, level, name, applies, field) \
    { bit, level, name, applies, offsetof(struct crs_img_sockopts, field), #name }
static const struct valued_opt valued_opts[] = {
    /* IP_TOS first: setting it also sets SO_PRIORITY, which comes after */
    VOPT(CRS_SOCK_V_TOS, IPPROTO_IP, IP_TOS, FOR_IP4, tos),
    VOPT(CRS_SOCK_V_TOS, IPPROTO_IPV6, IPV6_TCLASS, FOR_IP6, tos),
    VOPT(CRS_SOCK_V_TTL, IPPROTO_IP, IP_TTL, FOR_IP4, ttl),
    VOPT(CRS_SOCK_V_TTL, IPPROTO_IPV6, IPV6_UNICAST_HOPS, FOR_IP6, ttl),
    VOPT(CRS_SOCK_V_RCVBUF, SOL_SOCKET, SO_RCVBUF, FOR_ALL, rcvbuf),
    VOPT(CRS_SOCK_V_SNDBUF, SOL_SOCKET, SO_SNDBUF, FOR_ALL, sndbuf),
    VOPT(CRS_SOCK_V_RCVLOWAT, SOL_SOCKET, SO_RCVLOWAT, FOR_ALL, rcvlowat),
    VOPT(CRS_SOCK_V_PRIORITY, SOL_SOCKET, SO_PRIORITY, FOR_ALL, priority),
    VOPT(CRS_SOCK_V_MARK, SOL_SOCKET, SO_MARK, FOR_ALL, mark),
    VOPT(CRS_SOCK_V_KEEPIDLE, IPPROTO_TCP, TCP_KEEPIDLE, FOR_TCP, keepidle),
    VOPT(CRS_SOCK_V_KEEPINTVL, IPPROTO_TCP, TCP_KEEPINTVL, FOR_TCP, keepintvl),
    VOPT(CRS_SOCK_V_KEEPCNT, IPPROTO_TCP, TCP_KEEPCNT, FOR_TCP, keepcnt),
    VOPT(CRS_SOCK_V_USER_TIMEOUT, IPPROTO_TCP, TCP_USER_TIMEOUT, FOR_TCP, user_timeout),
    VOPT(CRS_SOCK_V_DEFER_ACCEPT, IPPROTO_TCP, TCP_DEFER_ACCEPT, FOR_TCP, defer_accept),
    VOPT(CRS_SOCK_V_FASTOPEN, IPPROTO_TCP, TCP_FASTOPEN, FOR_TCP, fastopen),
};
#undef VOPT

static CRS_CHILD_CODE int opt_applies(const struct crs_img_fd *f, uint8_t applies)
{
    uint32_t fam = f->u.socket.family;
    switch (applies) {
    case FOR_TCP:
        return is_inet(fam) && f->u.socket.type == SOCK_STREAM &&
               (f->u.socket.protocol == 0 || f->u.socket.protocol == IPPROTO_TCP);
    case FOR_IP4:
        return fam == AF_INET;
    case FOR_IP6:
        return fam == AF_INET6;
    default:
        return 1;
    }
}

static CRS_CHILD_CODE int32_t *opt_slot(struct crs_img_sockopts *o, uint8_t offset)
{
    return (int32_t *)((char *)o + offset);
}

/* The valued options, each as getsockopt reports it (the restore compares with a new
 * socket's own and sets only those that differ). */
static CRS_CHILD_CODE void read_valued(struct crs_img_fd *f)
{
    struct crs_img_sockopts *o = &f->u.socket.opt;
    struct linger lg;
    struct timeval tv;
    socklen_t len;

    for (size_t i = 0; i < sizeof valued_opts / sizeof valued_opts[0]; i++) {
        const struct valued_opt *v = &valued_opts[i];
        int val = 0;
        len = sizeof val;
        if (!opt_applies(f, v->applies) || getsockopt(f->fd, v->level, v->name, &val, &len) ||
            len != sizeof val)
            continue;
        *opt_slot(o, v->offset) = val;
        o->have |= v->bit;
    }
    len = sizeof lg;
    if (getsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && len == sizeof lg) {
        o->linger_onoff = lg.l_onoff;
        o->linger = lg.l_linger;
        o->have |= CRS_SOCK_V_LINGER;
    }
    len = sizeof tv;
    if (getsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0 && len == sizeof tv) {
        o->rcvtimeo.sec = tv.tv_sec;
        o->rcvtimeo.usec = tv.tv_usec;
        o->have |= CRS_SOCK_V_RCVTIMEO;
    }
    len = sizeof tv;
    if (getsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 && len == sizeof tv) {
        o->sndtimeo.sec = tv.tv_sec;
        o->sndtimeo.usec = tv.tv_usec;
        o->have |= CRS_SOCK_V_SNDTIMEO;
    }
}

static CRS_CHILD_CODE void read_facts(struct crs_img_fd *f, const char *text, size_t len,
                                     size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = f->fd;

    (void)text, (void)len, (void)cap;
    f->u.socket.family = (uint32_t)getopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    f->u.socket.type = (uint32_t)getopt_int(fd, SOL_SOCKET, SO_TYPE);
    f->u.socket.protocol = (uint32_t)getopt_int(fd, SOL_SOCKET, SO_PROTOCOL);
    if (getopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN))
        f->u.socket.flags |= CRS_SOCK_F_LISTEN;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && sl <= sizeof f->u.socket.addr &&
        bound(&ss, sl)) {
        f->u.socket.flags |= CRS_SOCK_F_BOUND;
        f->u.socket.addrlen = sl;
        memcpy(f->u.socket.addr, &ss, sl);
    }
    sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        f->u.socket.flags |= CRS_SOCK_F_PEER;
        f->u.socket.peerlen = sl <= sizeof f->u.socket.peer ? sl : 0;
        memcpy(f->u.socket.peer, &ss, f->u.socket.peerlen);
    }
    uint32_t o = 0;
    o |= getopt_int(fd, SOL_SOCKET, SO_REUSEADDR) ? CRS_SOCK_O_REUSEADDR : 0;
    o |= getopt_int(fd, SOL_SOCKET, SO_REUSEPORT) ? CRS_SOCK_O_REUSEPORT : 0;
    o |= getopt_int(fd, SOL_SOCKET, SO_KEEPALIVE) ? CRS_SOCK_O_KEEPALIVE : 0;
    o |= getopt_int(fd, SOL_SOCKET, SO_BROADCAST) ? CRS_SOCK_O_BROADCAST : 0;
    if (f->u.socket.family == AF_INET6)
        o |= getopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY) ? CRS_SOCK_O_V6ONLY : 0;
    if (is_inet(f->u.socket.family) && f->u.socket.type == SOCK_STREAM)
        o |= getopt_int(fd, IPPROTO_TCP, TCP_NODELAY) ? CRS_SOCK_O_NODELAY : 0;
    f->u.socket.opts = o;
    read_valued(f);
}

/* A socket a restore makes again, bound and listening if it was: an inet or unix socket of a
 * kind that has no peer to lose (listening; or a bound datagram socket). */
static CRS_CHILD_CODE int rebindable(const struct crs_img_fd *f)
{
    uint32_t fl = f->u.socket.flags, type = f->u.socket.type;
    if (!(fl & CRS_SOCK_F_BOUND) || (fl & CRS_SOCK_F_PEER))
        return 0;
    if (!is_inet(f->u.socket.family) && f->u.socket.family != AF_UNIX)
        return 0;
    return ((fl & CRS_SOCK_F_LISTEN) && (type == SOCK_STREAM || type == SOCK_SEQPACKET)) ||
           type == SOCK_DGRAM;
}

/* A connected UDP socket: its "connection" is only a default destination, set again. */
static CRS_CHILD_CODE int udp_connected(const struct crs_img_fd *f)
{
    return is_inet(f->u.socket.family) && f->u.socket.type == SOCK_DGRAM &&
           (f->u.socket.flags & CRS_SOCK_F_PEER) && f->u.socket.peerlen;
}

static CRS_CHILD_CODE int is_unix(const struct crs_img_fd *f)
{
    return f->kind == CRS_FD_SOCKET && f->u.socket.family == AF_UNIX;
}

/* A unix connection whose other end another process of the job holds: the job's restore
 * joins the two again (restore/restore_tree.c). */
static CRS_CHILD_CODE int joined(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    return is_unix(f) && (f->u.socket.flags & CRS_SOCK_F_DIAG) && f->u.socket.peer_ino &&
           crs_fd_holder(s->job, s->njob, "socket", f->u.socket.peer_ino, -1) >= 0;
}

static CRS_CHILD_CODE int restorable(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    return (f->u.socket.flags & CRS_SOCK_F_PAIR) || rebindable(f) || udp_connected(f) ||
           f->fd <= 2 || joined(s, f);
}

/* One sock_diag reply: copy its peer and whether it has a name to our descriptors on it. */
static CRS_CHILD_CODE void note_diag(struct crs_img_fd *fds, size_t n,
                                     const struct unix_diag_msg *m, size_t len)
{
    uint64_t peer = 0;
    uint32_t named = 0, backlog = 0;    /* a listener's wqueue is its backlog */
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
        else if (a->rta_type == UNIX_DIAG_RQLEN &&
                 a->rta_len >= RTA_LENGTH(sizeof(struct unix_diag_rqlen)))
            backlog = ((const struct unix_diag_rqlen *)RTA_DATA(a))->udiag_wqueue;
        else if (a->rta_type == UNIX_DIAG_PEER && a->rta_len >= RTA_LENGTH(4))
            peer = *(const uint32_t *)RTA_DATA(a);
        off += RTA_ALIGN(a->rta_len);
    }
    for (size_t i = 0; i < n; i++)
        if (is_unix(&fds[i]) && fds[i].ino == m->udiag_ino) {
            fds[i].u.socket.peer_ino = peer;
            fds[i].u.socket.flags |= CRS_SOCK_F_DIAG | named;
            if (fds[i].u.socket.flags & CRS_SOCK_F_LISTEN)
                fds[i].u.socket.backlog = backlog;
        }
}

/* One NETLINK_SOCK_DIAG dump: sends req, calls fn on each reply's payload, in buf. Returns 0,
 * or -1 when the kernel has no sock_diag (nothing is then marked). */
static CRS_CHILD_CODE int diag_dump(void *req, size_t reqlen, char *buf, size_t cap,
                                    void (*fn)(struct crs_img_fd *, size_t, const void *,
                                               size_t),
                                    struct crs_img_fd *fds, size_t n, size_t minlen)
{
    struct nlmsghdr *rh = req;
    int done = 0;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

    if (nl < 0)
        return -1;
    rh->nlmsg_len = (uint32_t)reqlen;
    rh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    rh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    rh->nlmsg_seq = 1;
    if (send(nl, req, reqlen, 0) != (ssize_t)reqlen) {
        close(nl);
        return -1;
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
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && h->nlmsg_len >= NLMSG_LENGTH(minlen))
                fn(fds, n, NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN);
        }
    }
    close(nl);
    return 0;
}

static CRS_CHILD_CODE void note_unix(struct crs_img_fd *fds, size_t n, const void *m, size_t len)
{
    note_diag(fds, n, m, len);
}

/* A listening TCP socket's backlog: inet_diag's wqueue for a listener. */
static CRS_CHILD_CODE void note_inet(struct crs_img_fd *fds, size_t n, const void *p,
                                     size_t len)
{
    const struct inet_diag_msg *m = p;

    (void)len;
    for (size_t i = 0; i < n; i++)
        if (fds[i].kind == CRS_FD_SOCKET && is_inet(fds[i].u.socket.family) &&
            fds[i].ino == m->idiag_inode && (fds[i].u.socket.flags & CRS_SOCK_F_LISTEN))
            fds[i].u.socket.backlog = m->idiag_wqueue;
}

static CRS_CHILD_CODE void inet_backlogs(struct crs_img_fd *fds, size_t n, char *buf,
                                         size_t cap)
{
    static const uint8_t families[] = { AF_INET, AF_INET6 };
    struct {
        struct nlmsghdr h;
        struct inet_diag_req_v2 r;
    } req;

    for (size_t k = 0; k < sizeof families; k++) {
        int any = 0;
        for (size_t i = 0; i < n; i++)
            any |= fds[i].kind == CRS_FD_SOCKET && fds[i].u.socket.family == families[k] &&
                   (fds[i].u.socket.flags & CRS_SOCK_F_LISTEN);
        if (!any)
            continue;
        memset(&req, 0, sizeof req);
        req.r.sdiag_family = families[k];
        req.r.sdiag_protocol = IPPROTO_TCP;
        req.r.idiag_states = 1u << TCP_LISTEN;
        diag_dump(&req, sizeof req, buf, cap, note_inet, fds, n, sizeof(struct inet_diag_msg));
    }
}

/* Asks the kernel for every unix socket's peer, name and queue (one dump) into buf, and for
 * the inet listeners' backlogs. Without sock_diag nothing is marked, and the pairs stay
 * unrestored as before; listeners then get the system's default backlog. */
static CRS_CHILD_CODE void read_all(struct crs_img_fd *fds, size_t n, char *buf, size_t cap)
{
    struct {
        struct nlmsghdr h;
        struct unix_diag_req r;
    } req;
    int any = 0;

    inet_backlogs(fds, n, buf, cap);
    for (size_t i = 0; i < n; i++)
        any |= is_unix(&fds[i]);
    if (!any)
        return;
    memset(&req, 0, sizeof req);
    req.r.sdiag_family = AF_UNIX;
    req.r.udiag_states = ~0u;
    req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
    if (diag_dump(&req, sizeof req, buf, cap, note_unix, fds, n,
                  sizeof(struct unix_diag_msg)) < 0)
        return;
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

/* Sets f's valued options on fd, a socket made for f, where they differ from what the new
 * socket has: an option the program never changed is left as the kernel chose (a buffer size
 * set by hand would stop the kernel's tuning of it). One that cannot be set again (SO_MARK or a
 * high SO_PRIORITY without CAP_NET_ADMIN, a buffer above the system's maximum) is a warning. */
static void apply_valued(struct crs_restore *r, int fd, const struct crs_img_fd *f)
{
    const struct crs_img_sockopts *o = &f->u.socket.opt;

    for (size_t i = 0; i < sizeof valued_opts / sizeof valued_opts[0]; i++) {
        const struct valued_opt *v = &valued_opts[i];
        int want = *opt_slot((struct crs_img_sockopts *)o, v->offset), now = 0, set = want;
        socklen_t len = sizeof now;
        if (!(o->have & v->bit) || !opt_applies(f, v->applies) ||
            getsockopt(fd, v->level, v->name, &now, &len) || now == want)
            continue;
        /* the kernel doubles what it is given for a buffer; the record holds the double */
        if (v->bit == CRS_SOCK_V_RCVBUF || v->bit == CRS_SOCK_V_SNDBUF)
            set = want / 2;
        int e = setsockopt(fd, v->level, v->name, &set, sizeof set) ? errno : 0;
        if (!e && (v->bit == CRS_SOCK_V_RCVBUF || v->bit == CRS_SOCK_V_SNDBUF)) {
            len = sizeof now;
            if (getsockopt(fd, v->level, v->name, &now, &len) == 0 && now != want) {
                /* above net.core.[rw]mem_max: only the privileged FORCE variant goes beyond */
                int force = v->bit == CRS_SOCK_V_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
                e = setsockopt(fd, SOL_SOCKET, force, &set, sizeof set) ? errno : 0;
                len = sizeof now;
                if (!e && getsockopt(fd, v->level, v->name, &now, &len) == 0 && now != want)
                    e = ERANGE;
            }
        }
        if (e)
            crs_restore_warn(r, "descriptor %d: socket option %s is not set back to %d: %s",
                             f->fd, v->text, want, strerror(e));
    }
    if (o->have & CRS_SOCK_V_LINGER) {
        struct linger lg = { 0 }, want = { o->linger_onoff, o->linger };
        socklen_t len = sizeof lg;
        if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 &&
            (lg.l_onoff != want.l_onoff || lg.l_linger != want.l_linger) &&
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &want, sizeof want))
            crs_restore_warn(r, "descriptor %d: socket option SO_LINGER is not set back: %s",
                             f->fd, strerror(errno));
    }
    for (int k = 0; k < 2; k++) {
        uint32_t bit = k ? CRS_SOCK_V_SNDTIMEO : CRS_SOCK_V_RCVTIMEO;
        const struct crs_img_timeval *t = k ? &o->sndtimeo : &o->rcvtimeo;
        int name = k ? SO_SNDTIMEO : SO_RCVTIMEO;
        struct timeval now = { 0, 0 }, want = { (time_t)t->sec, (suseconds_t)t->usec };
        socklen_t len = sizeof now;
        if (!(o->have & bit) || getsockopt(fd, SOL_SOCKET, name, &now, &len) ||
            (now.tv_sec == want.tv_sec && now.tv_usec == want.tv_usec))
            continue;
        if (setsockopt(fd, SOL_SOCKET, name, &want, sizeof want))
            crs_restore_warn(r, "descriptor %d: socket option %s is not set back: %s", f->fd,
                             k ? "SO_SNDTIMEO" : "SO_RCVTIMEO", strerror(errno));
    }
}

int crs_restore_socket_pair(struct crs_restore *r, const struct crs_image *const img[2],
                            const struct crs_img_fd *const end[2], int inherit, int sv[2])
{
    int type = (int)end[0]->u.socket.type;

    if (end[0]->u.socket.family != AF_UNIX ||
        (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET))
        return -ENOTSUP;
    if (socketpair(AF_UNIX, type | (inherit ? 0 : SOCK_CLOEXEC), 0, sv) < 0)
        return -errno;
    for (int k = 0; k < 2 && !inherit; k++)
        sv[k] = crs_restore_fd_lift(r, sv[k]);
    if (sv[0] < 0 || sv[1] < 0) {
        close(sv[0]);
        close(sv[1]);
        return -EMFILE;
    }
    /* each end's options before the refill: its buffer sizes bound what goes back in */
    for (int k = 0; k < 2; k++)
        apply_valued(r, sv[k], end[k]);
    /* what end k had to read was written by the other end */
    for (int k = 0; k < 2; k++)
        if (crs_restore_has_queued(img[k], end[k]))
            crs_restore_refill(r, img[k], end[k], sv[1 - k], 0);
    return 0;
}

/* The first descriptor of the image on socket ino with the PAIR mark, or NULL. (Another
 * descriptor of the same end holds the same options and the same queued bytes.) */
static const struct crs_img_fd *pair_end(const struct crs_image *img, uint64_t ino,
                                         uint64_t peer)
{
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind == CRS_FD_SOCKET && (g->u.socket.flags & CRS_SOCK_F_PAIR) && g->ino == ino &&
            g->u.socket.peer_ino == peer)
            return g;
    }
    return NULL;
}

/* A unix socketpair whose both ends are in the image (an event loop's wake-up channel, most
 * often) becomes a new socketpair of the same type, with what was waiting in each direction put
 * back (bytes of a stream, datagram by datagram otherwise). */
static int rebuild_pair(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    const struct crs_image *img = r->img;
    const struct crs_image *const imgs[2] = { img, img };
    const struct crs_img_fd *const end[2] = { f, pair_end(img, f->u.socket.peer_ino, f->ino) };
    uint64_t ino[2] = { f->ino, f->u.socket.peer_ino };
    int sv[2], e;

    if (!end[1])
        return f->fd <= 2 ? crs_restore_fd_attach_std(r, f) : -ENOTSUP;
    if ((e = crs_restore_socket_pair(r, imgs, end, 0, sv)) < 0)
        return e == -ENOTSUP && f->fd <= 2 ? crs_restore_fd_attach_std(r, f) : e;
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *g = &img->fds[i];
        if (g->kind != CRS_FD_SOCKET || !(g->u.socket.flags & CRS_SOCK_F_PAIR) ||
            (g->ino != ino[0] && g->ino != ino[1]))
            continue;
        if ((e = crs_restore_fd_dup(g, sv[g->ino == ino[0] ? 0 : 1])))
            break;
        fcntl(g->fd, F_SETFL, (int)g->flags);
        done[i] = 1;
    }
    close(sv[0]);
    close(sv[1]);
    return e;
}

/* The saved address as text, for messages and info: "127.0.0.1:8000", "[::1]:80",
 * "/run/app.sock", "@name". */
static void addr_text(const struct crs_img_fd *f, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    struct crs_sbuf b;
    socklen_t len = f->u.socket.addrlen < sizeof ss ? f->u.socket.addrlen : sizeof ss;

    memset(&ss, 0, sizeof ss);
    memcpy(&ss, f->u.socket.addr, len);
    crs_sb_init(&b, out, cap);
    if (is_inet(ss.ss_family))
        sb_inet(&b, &ss);
    else if (!sb_unix(&b, &ss, len))
        crs_sb_str(&b, "an unnamed address");
}

/* A new socket of f's family, type and protocol, with f's options. */
static int make_socket(const struct crs_img_fd *f)
{
    static const struct { uint32_t bit; int level, name; } opt[] = {
        { CRS_SOCK_O_REUSEADDR, SOL_SOCKET, SO_REUSEADDR },
        { CRS_SOCK_O_REUSEPORT, SOL_SOCKET, SO_REUSEPORT },
        { CRS_SOCK_O_KEEPALIVE, SOL_SOCKET, SO_KEEPALIVE },
        { CRS_SOCK_O_BROADCAST, SOL_SOCKET, SO_BROADCAST },
        { CRS_SOCK_O_NODELAY, IPPROTO_TCP, TCP_NODELAY },
    };
    int fd = socket((int)f->u.socket.family, (int)f->u.socket.type | SOCK_CLOEXEC,
                    (int)f->u.socket.protocol);
    int one = 1;

    if (fd < 0)
        return -errno;
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (f->u.socket.opts & opt[i].bit)
            setsockopt(fd, opt[i].level, opt[i].name, &one, sizeof one);
    /* set either way: its default is the host's net.ipv6.bindv6only */
    if (f->u.socket.family == AF_INET6) {
        int v6only = (f->u.socket.opts & CRS_SOCK_O_V6ONLY) != 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    return fd;
}

/* The path of a unix address bound to a path, or NULL (abstract, unnamed). */
static const char *unix_path(const struct crs_img_fd *f, char *out, size_t cap)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)f->u.socket.addr;
    size_t n = f->u.socket.addrlen > offsetof(struct sockaddr_un, sun_path)
                   ? f->u.socket.addrlen - offsetof(struct sockaddr_un, sun_path) : 0;

    if (f->u.socket.family != AF_UNIX || n == 0 || un->sun_path[0] == '\0')
        return NULL;
    n = n < cap - 1 ? n : cap - 1;
    memcpy(out, un->sun_path, n);
    out[n] = '\0';
    return out;
}

/* Is the unix path taken: something else than a socket file, or a socket someone accepts on?
 * A socket file nobody accepts on is what the process left when it died. */
static int unix_path_live(const struct crs_img_fd *f, const char *path)
{
    struct stat st;
    int c, live;

    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return 1;
    c = socket(AF_UNIX, (int)f->u.socket.type | SOCK_CLOEXEC, 0);
    if (c < 0)
        return 1;
    live = connect(c, (const struct sockaddr *)f->u.socket.addr, f->u.socket.addrlen) == 0 ||
           errno != ECONNREFUSED;
    close(c);
    return live;
}

/* Binds fd to f's address. (A TCP port the killed process left connections on, in TIME_WAIT,
 * binds again only if the program had set SO_REUSEADDR, as after any crash: the kernel wants
 * it on the old sockets too.) */
static int bind_to(const struct crs_img_fd *f, int fd)
{
    if (bind(fd, (const struct sockaddr *)f->u.socket.addr, f->u.socket.addrlen) < 0)
        return -errno;
    return 0;
}

/* Binds fd to f's address again (removing the stale socket file of a unix path first), and
 * listens with f's backlog if f was listening. */
static int bind_again(const struct crs_img_fd *f, int fd)
{
    char path[sizeof(struct sockaddr_un)];
    int e;

    if (unix_path(f, path, sizeof path) && !unix_path_live(f, path))
        unlink(path);
    if ((e = bind_to(f, fd)) < 0)
        return e;
    if ((f->u.socket.flags & CRS_SOCK_F_LISTEN) &&
        listen(fd, f->u.socket.backlog ? (int)f->u.socket.backlog : SOMAXCONN) < 0)
        return -errno;
    return 0;
}

/* Restorer, before anything changes: is the address free to take again? A probe socket binds
 * it (an inet port) or the path is looked at (a unix one). */
static int check(const struct crs_image *img, const struct crs_img_fd *f,
                 const struct crs_restore_opts *o, char *err, size_t errlen)
{
    char what[160], path[sizeof(struct sockaddr_un)];
    int e = 0;

    (void)img;
    if (!rebindable(f) || (f->fd <= 2 && o->own_std))
        return 0;
    if (unix_path(f, path, sizeof path)) {
        e = unix_path_live(f, path) ? -EADDRINUSE : 0;
    } else {
        int fd = make_socket(f);
        if (fd < 0)
            e = fd;
        else
            e = bind_to(f, fd);
        if (fd >= 0)
            close(fd);
    }
    if (!e)
        return 0;
    addr_text(f, what, sizeof what);
    crs_seterr(err, errlen, "descriptor %d, a socket %s %s, cannot have its address again: %s",
               f->fd, (f->u.socket.flags & CRS_SOCK_F_LISTEN) ? "listening on" : "bound to",
               what, strerror(-e));
    /* not -EADDRINUSE, which the restorer reads as its own layout colliding (and re-executes) */
    return o->force ? 1 : e == -EADDRINUSE ? -EBUSY : e;
}

static int rebuild_bound(struct crs_restore *r, const struct crs_img_fd *f)
{
    int fd = make_socket(f), e;

    if (fd < 0)
        return fd;
    apply_valued(r, fd, f);             /* before listen: TCP_FASTOPEN, buffers for the queue */
    if ((e = bind_again(f, fd)) < 0) {
        close(fd);
        return e;
    }
    fcntl(fd, F_SETFL, (int)f->flags);
    return crs_restore_fd_place(r, fd, f);
}

/* UDP: bound where it was if that address is free, connected to the same peer. */
static int rebuild_udp(struct crs_restore *r, const struct crs_img_fd *f)
{
    int fd = make_socket(f);

    if (fd < 0)
        return fd;
    apply_valued(r, fd, f);
    if (f->u.socket.flags & CRS_SOCK_F_BOUND)
        bind(fd, (const struct sockaddr *)f->u.socket.addr, f->u.socket.addrlen);
    if (connect(fd, (const struct sockaddr *)f->u.socket.peer, f->u.socket.peerlen) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    fcntl(fd, F_SETFL, (int)f->flags);
    return crs_restore_fd_place(r, fd, f);
}

/* A TCP socket whose peer has reset the connection: connected to a listener of our own on the
 * loopback, which aborts it at once (SO_LINGER 0 sends a RST). */
static int tcp_reset(int family)
{
    struct sockaddr_storage ss;
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    struct linger abort_now = { .l_onoff = 1, .l_linger = 0 };
    int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, a = -1, e = 0;

    memset(&ss, 0, sizeof ss);
    ss.ss_family = (sa_family_t)family;
    if (family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
    if (l < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&ss, &len) < 0 ||
        (c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(c, (struct sockaddr *)&ss, len) < 0 ||
        (a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
        setsockopt(a, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now) < 0)
        e = -errno;
    if (a >= 0)
        close(a);
    if (l >= 0)
        close(l);
    if (e && c >= 0)
        close(c);
    return e ? e : c;
}

/* A connected stream socket whose peer was outside the process cannot be connected again; it
 * comes back as a socket of the same family and type that says the peer is gone (TCP: reset;
 * unix: end of file, EPIPE on writes), so that the program takes its own reconnect path. It
 * stays listed as not restored (returns 1). */
static int rebuild_gone(struct crs_restore *r, const struct crs_img_fd *f)
{
    int fd, sv[2], e;

    if (is_inet(f->u.socket.family) && f->u.socket.type == SOCK_STREAM) {
        fd = tcp_reset((int)f->u.socket.family);
    } else if (f->u.socket.family == AF_UNIX) {
        if (socketpair(AF_UNIX, (int)f->u.socket.type | SOCK_CLOEXEC, 0, sv) < 0)
            return -errno;
        close(sv[1]);
        fd = sv[0];
    } else {
        return -ENOTSUP;
    }
    if (fd < 0)
        return fd;
    apply_valued(r, fd, f);
    fcntl(fd, F_SETFL, (int)f->flags);
    e = crs_restore_fd_place(r, fd, f);
    return e ? e : 1;
}

static int rebuild(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done)
{
    uint32_t type = f->u.socket.type;
    int shared = crs_restore_tree_socket(r, f), e;

    /* a connection between two processes of a job, made once for both (restore_tree.c) */
    if (shared >= 0) {
        if ((e = crs_restore_fd_dup(f, shared)) == 0)
            fcntl(f->fd, F_SETFL, (int)f->flags);
        return e;
    }
    if (f->u.socket.flags & CRS_SOCK_F_PAIR)
        return rebuild_pair(r, f, done);
    if (rebindable(f))
        return rebuild_bound(r, f);
    if (udp_connected(f))
        return rebuild_udp(r, f);
    if (f->fd <= 2)
        return crs_restore_fd_attach_std(r, f);
    if ((f->u.socket.flags & CRS_SOCK_F_PEER) &&
        (type == SOCK_STREAM || type == SOCK_SEQPACKET || type == SOCK_DGRAM))
        return rebuild_gone(r, f);
    return -ENOTSUP;
}

static void info(const struct crs_img_fd *f, char *text, size_t tlen, char *json, size_t jlen)
{
    int pair = (f->u.socket.flags & CRS_SOCK_F_PAIR) != 0;
    int listening = (f->u.socket.flags & CRS_SOCK_F_LISTEN) != 0;
    char what[160];

    if (pair) {
        snprintf(text, tlen, " (socketpair, restored)");
    } else if (rebindable(f)) {
        addr_text(f, what, sizeof what);
        snprintf(text, tlen, " (%s %s, restored)", listening ? "listening on" : "bound to", what);
    } else {
        text[0] = '\0';
    }
    snprintf(json, jlen, ",\"socketpair\":%s,\"listening\":%s,\"rebound\":%s",
             pair ? "true" : "false", listening ? "true" : "false",
             rebindable(f) ? "true" : "false");
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
    .check = check,
    .rebuild = rebuild,
    .info = info,
};
