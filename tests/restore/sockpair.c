/* sockpair.c - for the restore tests: holds a SOCK_STREAM socketpair (one end non-blocking),
 * a SOCK_DGRAM socketpair (one end close-on-exec), a bound unix datagram socket and one
 * connected to it, works for a while, then checks that both pairs still carry bytes with their
 * type and flags, that the bound socket is bound there and receives, and that the connected
 * one is either still open (never restored) or, restored, a datagram socket whose peer is gone,
 * reported by crs_unrestored_fds.
 * It prints the same lines whether it was restored in between or not.
 *   sockpair DIR ITERATIONS [PROGRESS_FILE]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "prog.h"

static int sock_type(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ? -1 : v;
}

int main(int argc, char **argv)
{
    int st[2], dg[2];
    char buf[64];

    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 ||
        fcntl(st[0], F_SETFL, fcntl(st[0], F_GETFL) | O_NONBLOCK) < 0)
        return 1;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0 || fcntl(dg[1], F_SETFD, FD_CLOEXEC) < 0)
        return 1;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/bound.sock", argv[1]);
    unlink(sa.sun_path);
    int bound = socket(AF_UNIX, SOCK_DGRAM, 0), conn = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bound < 0 || bind(bound, (struct sockaddr *)&sa, sizeof sa) < 0 || conn < 0 ||
        connect(conn, (struct sockaddr *)&sa, sizeof sa) < 0)
        return 1;

    prog_work(n, argc > 3 ? argv[3] : NULL);

    CHECK(sock_type(st[0]) == SOCK_STREAM && sock_type(st[1]) == SOCK_STREAM, "stream type");
    CHECK((fcntl(st[0], F_GETFL) & O_NONBLOCK) && !(fcntl(st[1], F_GETFL) & O_NONBLOCK),
          "stream flags");
    errno = 0;
    CHECK(read(st[0], buf, sizeof buf) < 0 && errno == EAGAIN, "stream empty non-blocking");
    CHECK(write(st[1], "ping", 4) == 4 && read(st[0], buf, 4) == 4 && !memcmp(buf, "ping", 4),
          "stream one way");
    CHECK(write(st[0], "pong", 4) == 4 && read(st[1], buf, 4) == 4 && !memcmp(buf, "pong", 4),
          "stream other way");
    CHECK(sock_type(dg[0]) == SOCK_DGRAM && sock_type(dg[1]) == SOCK_DGRAM, "dgram type");
    CHECK(fcntl(dg[1], F_GETFD) == FD_CLOEXEC && fcntl(dg[0], F_GETFD) == 0, "dgram cloexec");
    CHECK(send(dg[0], "ab", 2, 0) == 2 && send(dg[0], "cde", 3, 0) == 3 &&
          recv(dg[1], buf, sizeof buf, 0) == 2 && recv(dg[1], buf, sizeof buf, 0) == 3 &&
          !memcmp(buf, "cde", 3), "dgram boundaries");
    CHECK(send(dg[1], "z", 1, 0) == 1 && recv(dg[0], buf, sizeof buf, 0) == 1 && buf[0] == 'z',
          "dgram other way");

    /* Run alone, crsnap's library is absent and the socket open. The tests run it only under
     * `crsnap run` and restore it: then the connected socket is reported, no pair and not the
     * bound socket. */
    int (*unrestored)(int *, int) = (int (*)(int *, int))dlsym(RTLD_DEFAULT, "crs_unrestored_fds");
    int list[64], nl = unrestored ? unrestored(list, 64) : 0, conn_listed = 0, other_listed = 0;
    for (int i = 0; i < nl && i < 64; i++) {
        conn_listed += list[i] == conn;
        other_listed += list[i] == st[0] || list[i] == st[1] || list[i] == dg[0] ||
                        list[i] == dg[1] || list[i] == bound;
    }
    /* restored, it stands in for the lost connection: open, and its peer gone */
    int open_now = fcntl(conn, F_GETFD) >= 0;
    CHECK(!other_listed && open_now && (!unrestored || (conn_listed && sock_type(conn) ==
          SOCK_DGRAM && send(conn, "x", 1, MSG_DONTWAIT) < 0)), "connected socket");
    struct sockaddr_un now = {0};
    socklen_t nowl = sizeof now;
    int to = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(getsockname(bound, (struct sockaddr *)&now, &nowl) == 0 &&
          !strcmp(now.sun_path, sa.sun_path) && to >= 0 &&
          sendto(to, "hi", 2, 0, (struct sockaddr *)&sa, sizeof sa) == 2 &&
          recv(bound, buf, sizeof buf, 0) == 2, "bound socket");
    return 0;
}
