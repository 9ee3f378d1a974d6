/* listen.c - for the restore tests: a server's sockets. A TCP listener on 127.0.0.1 (options
 * set, non-blocking, backlog 5), a unix listener on a path and one on an abstract name, and a
 * UDP socket bound to ::1 (IPV6_V6ONLY) and one connected to it; and a TCP connection, both
 * its ends. The TCP listener, the UDP socket, the unix listener and the connection's client end
 * also have valued options set (buffer sizes, timeouts, linger, priority, keep-alive timing,
 * TOS, TTL, hop limit...). After its work it
 * checks each listener is still bound where it was, listening, with its options, and serves: a
 * connection to each is accepted and echoes, a datagram to the UDP socket arrives; and that the
 * connection either still carries bytes (never restored) or, restored, has both its ends
 * standing in, open, their peer gone, and listed by crs_unrestored_fds. It prints the same
 * lines whether it was restored in between or not.
 *   listen DIR ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "prog.h"


static int opt(int fd, int level, int name)
{
    int v = 0;
    socklen_t l = sizeof v;
    return getsockopt(fd, level, name, &v, &l) == 0 ? v : -1;
}

/* Valued options a server sets; each socket gets those that apply to it. */
static int set_int(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof v);
}

static int set_common(int fd)
{
    struct timeval rt = { 7, 200000 }, st = { 3, 500000 };
    struct linger lg = { 1, 9 };
    return set_int(fd, SOL_SOCKET, SO_RCVBUF, 12345) || set_int(fd, SOL_SOCKET, SO_SNDBUF, 23456) ||
           set_int(fd, SOL_SOCKET, SO_RCVLOWAT, 3) || set_int(fd, SOL_SOCKET, SO_PRIORITY, 5) ||
           setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt) ||
           setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof st) ||
           setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static int set_tcp(int fd)
{
    /* IP_TOS before SO_PRIORITY (set_common): setting the TOS resets the priority */
    return set_int(fd, IPPROTO_IP, IP_TOS, 0x28) || set_int(fd, IPPROTO_IP, IP_TTL, 33) ||
           set_common(fd) || set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 77) ||
           set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 11) || set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 4) ||
           set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 6000);
}

/* What set_common set, as getsockopt reports it (the kernel doubles buffer sizes). */
static int common_set(int fd)
{
    struct timeval rt = {0}, st = {0};
    struct linger lg = {0};
    socklen_t l = sizeof rt;
    int ok = getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, &l) == 0 && rt.tv_sec == 7 &&
             rt.tv_usec == 200000;
    l = sizeof st;
    ok = ok && getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, &l) == 0 && st.tv_sec == 3 &&
         st.tv_usec == 500000;
    l = sizeof lg;
    ok = ok && getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l) == 0 && lg.l_onoff && lg.l_linger == 9;
    return ok && opt(fd, SOL_SOCKET, SO_RCVBUF) == 2 * 12345 &&
           opt(fd, SOL_SOCKET, SO_SNDBUF) == 2 * 23456 && opt(fd, SOL_SOCKET, SO_RCVLOWAT) == 3 &&
           opt(fd, SOL_SOCKET, SO_PRIORITY) == 5;
}

static int tcp_set(int fd)
{
    return common_set(fd) && opt(fd, IPPROTO_IP, IP_TOS) == 0x28 &&
           opt(fd, IPPROTO_IP, IP_TTL) == 33 && opt(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 77 &&
           opt(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 11 && opt(fd, IPPROTO_TCP, TCP_KEEPCNT) == 4 &&
           opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 6000;
}

/* Connects to the listener fd (at addr), accepts, and sends a byte each way. */
static int serves(int fd, const struct sockaddr *addr, socklen_t len)
{
    int c = socket(addr->sa_family, SOCK_STREAM, 0), a = -1, ok = 0;
    char b = 0;

    if (c >= 0 && connect(c, addr, len) == 0) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        a = accept(fd, NULL, NULL);
        fcntl(fd, F_SETFL, fl);
        ok = a >= 0 && write(c, "p", 1) == 1 && read(a, &b, 1) == 1 && b == 'p' &&
             write(a, "q", 1) == 1 && read(c, &b, 1) == 1 && b == 'q';
    }
    if (a >= 0)
        close(a);
    if (c >= 0)
        close(c);
    return ok;
}

int main(int argc, char **argv)
{
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    struct sockaddr_un path = { .sun_family = AF_UNIX }, abst = { .sun_family = AF_UNIX };
    socklen_t inl = sizeof in, in6l = sizeof in6;
    int one = 1;

    if (argc < 4)
        return 2;
    long n = atol(argv[2]);
    snprintf(path.sun_path, sizeof path.sun_path, "%s/listen.sock", argv[1]);
    snprintf(abst.sun_path + 1, sizeof abst.sun_path - 1, "crsnap-listen-%d", (int)getpid());
    socklen_t absl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                 strlen(abst.sun_path + 1));

    int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int u = socket(AF_UNIX, SOCK_STREAM, 0), ua = socket(AF_UNIX, SOCK_STREAM, 0);
    int d = socket(AF_INET6, SOCK_DGRAM, 0);
    if (t < 0 || u < 0 || ua < 0 || d < 0 ||
        setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) ||
        setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
        setsockopt(d, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) ||
        bind(t, (struct sockaddr *)&in, sizeof in) || listen(t, 5) ||
        getsockname(t, (struct sockaddr *)&in, &inl) ||
        bind(u, (struct sockaddr *)&path, sizeof path) || listen(u, 3) ||
        bind(ua, (struct sockaddr *)&abst, absl) || listen(ua, 3) ||
        bind(d, (struct sockaddr *)&in6, sizeof in6) ||
        getsockname(d, (struct sockaddr *)&in6, &in6l))
        return 1;
    /* SO_RCVLOWAT 1 on the listener: the restored socket then serves as the original does */
    if (set_tcp(t) || set_int(t, SOL_SOCKET, SO_RCVLOWAT, 1) ||
        set_int(u, SOL_SOCKET, SO_SNDBUF, 34567) ||
        set_int(d, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 17) ||
        set_int(d, IPPROTO_IPV6, IPV6_TCLASS, 0x48) || set_common(d) ||
        set_int(d, SOL_SOCKET, SO_RCVLOWAT, 1))
        return 1;

    /* a UDP socket connected to d: a restore connects it again */
    int uc = socket(AF_INET6, SOCK_DGRAM, 0);
    if (uc < 0 || connect(uc, (struct sockaddr *)&in6, sizeof in6))
        return 1;

    /* a connection within the process: its peer is gone once restored */
    struct sockaddr_in cin = in;
    socklen_t cinl = sizeof cin;
    int t2 = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), ac;
    cin.sin_port = 0;
    /* SO_REUSEADDR, as servers set it: the kill leaves the connection's port in TIME_WAIT */
    if (t2 < 0 || c < 0 || setsockopt(t2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(t2, (struct sockaddr *)&cin, sizeof cin) || listen(t2, 1) ||
        getsockname(t2, (struct sockaddr *)&cin, &cinl) ||
        connect(c, (struct sockaddr *)&cin, sizeof cin) || (ac = accept(t2, NULL, NULL)) < 0 ||
        set_tcp(c))
        return 1;
    /* on the listener that is not asked to serve again: a deferred accept would wait for data */
    if (set_int(t2, IPPROTO_TCP, TCP_DEFER_ACCEPT, 7) || set_int(t2, IPPROTO_TCP, TCP_FASTOPEN, 16))
        return 1;

    prog_work(n, argv[3]);

    struct sockaddr_in now = {0};
    socklen_t nl = sizeof now;
    CHECK(getsockname(t, (struct sockaddr *)&now, &nl) == 0 && now.sin_port == in.sin_port &&
          now.sin_addr.s_addr == in.sin_addr.s_addr, "tcp address");
    CHECK(opt(t, SOL_SOCKET, SO_ACCEPTCONN) == 1, "tcp listening");
    CHECK(opt(t, SOL_SOCKET, SO_REUSEADDR) == 1 && opt(t, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
          opt(t, IPPROTO_TCP, TCP_NODELAY) == 1, "tcp options");
    CHECK(opt(t, SOL_SOCKET, SO_RCVBUF) == 2 * 12345 && opt(t, SOL_SOCKET, SO_SNDBUF) == 2 * 23456 &&
          opt(t, SOL_SOCKET, SO_PRIORITY) == 5 && opt(t, SOL_SOCKET, SO_RCVLOWAT) == 1 &&
          opt(t, IPPROTO_IP, IP_TOS) == 0x28 && opt(t, IPPROTO_IP, IP_TTL) == 33,
          "tcp valued socket options");
    {
        struct timeval rt = {0};
        struct linger lg = {0};
        socklen_t l = sizeof rt, ll = sizeof lg;
        CHECK(getsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &rt, &l) == 0 && rt.tv_sec == 7 &&
              rt.tv_usec == 200000 && getsockopt(t, SOL_SOCKET, SO_LINGER, &lg, &ll) == 0 &&
              lg.l_onoff && lg.l_linger == 9, "tcp timeouts and linger");
    }
    /* TCP_DEFER_ACCEPT reads back as the seconds its retransmissions cover: 7 for 7 */
    CHECK(opt(t2, IPPROTO_TCP, TCP_DEFER_ACCEPT) == 7 && opt(t2, IPPROTO_TCP, TCP_FASTOPEN) == 16 &&
          opt(t, IPPROTO_TCP, TCP_USER_TIMEOUT) == 6000 && opt(t, IPPROTO_TCP, TCP_KEEPCNT) == 4 &&
          opt(t, IPPROTO_TCP, TCP_KEEPIDLE) == 77 && opt(t, IPPROTO_TCP, TCP_KEEPINTVL) == 11,
          "tcp listener options");
    CHECK(opt(u, SOL_SOCKET, SO_SNDBUF) == 2 * 34567, "unix listener buffer");
    CHECK(opt(d, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 17 && opt(d, IPPROTO_IPV6, IPV6_TCLASS) == 0x48 &&
          opt(d, SOL_SOCKET, SO_RCVBUF) == 2 * 12345 && opt(d, SOL_SOCKET, SO_PRIORITY) == 5,
          "udp valued socket options");
    CHECK(tcp_set(c), "tcp connection options");
    CHECK(fcntl(t, F_GETFL) & O_NONBLOCK, "tcp non-blocking");
    CHECK(accept(t, NULL, NULL) < 0 && errno == EAGAIN, "tcp nothing waiting");
    CHECK(serves(t, (struct sockaddr *)&in, sizeof in), "tcp serves");
    CHECK(opt(u, SOL_SOCKET, SO_ACCEPTCONN) == 1 &&
          serves(u, (struct sockaddr *)&path, sizeof path), "unix path serves");
    CHECK(opt(ua, SOL_SOCKET, SO_ACCEPTCONN) == 1 &&
          serves(ua, (struct sockaddr *)&abst, absl), "unix abstract serves");
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    char b[8] = {0};
    CHECK(opt(d, IPPROTO_IPV6, IPV6_V6ONLY) == 1 && s >= 0 &&
          sendto(s, "dgram", 5, 0, (struct sockaddr *)&in6, sizeof in6) == 5 &&
          recv(d, b, sizeof b, 0) == 5 && !memcmp(b, "dgram", 5), "udp receives");
    int (*unrestored)(int *, int) = (int (*)(int *, int))dlsym(RTLD_DEFAULT, "crs_unrestored_fds");
    int list[64], nlist = unrestored ? unrestored(list, 64) : 0, listed = 0, others = 0;
    for (int i = 0; i < nlist && i < 64; i++) {
        listed += list[i] == c || list[i] == ac;
        others += list[i] == t || list[i] == u || list[i] == ua || list[i] == d ||
                  list[i] == t2 || list[i] == uc;
    }
    char r = 0;
    signal(SIGPIPE, SIG_IGN);
    if (!unrestored) {
        CHECK(!others && write(c, "a", 1) == 1 && read(ac, &r, 1) == 1 && r == 'a',
              "tcp connection");
    } else {
        errno = 0;
        ssize_t got = read(c, &r, 1);
        int gone = got == 0 || (got < 0 && errno == ECONNRESET);
        CHECK(!others && listed == 2 && gone && opt(c, SOL_SOCKET, SO_TYPE) == SOCK_STREAM &&
              send(ac, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0, "tcp connection");
    }
    CHECK(send(uc, "conn", 4, 0) == 4 && recv(d, b, sizeof b, 0) == 4 && !memcmp(b, "conn", 4),
          "udp connected");
    unlink(path.sun_path);
    return 0;
}
