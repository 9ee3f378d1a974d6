/* sockmark.c - for the restore tests: a TCP listener with options only a privileged process may
 * set (SO_MARK, SO_PRIORITY above 6, a send buffer twice net.core.wmem_max through
 * SO_SNDBUFFORCE: all CAP_NET_ADMIN) and one anyone may (SO_RCVBUF). After
 * its work it prints what it finds, so that a restore without the privilege shows which came
 * back.
 *   sockmark ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "prog.h"

static int opt(int fd, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    return getsockopt(fd, SOL_SOCKET, name, &v, &l) == 0 ? v : -1;
}

static int set(int fd, int name, int v)
{
    return setsockopt(fd, SOL_SOCKET, name, &v, sizeof v);
}

int main(int argc, char **argv)
{
    long wmem_max = 0;
    FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
    if (!f || fscanf(f, "%ld", &wmem_max) != 1 || wmem_max <= 0 || wmem_max > (1 << 28))
        return 1;
    fclose(f);
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int t = socket(AF_INET, SOCK_STREAM, 0);

    if (argc < 3 || t < 0 || set(t, SO_MARK, 42) || set(t, SO_PRIORITY, 7) ||
        set(t, SO_RCVBUF, 40000) || set(t, SO_SNDBUFFORCE, (int)(2 * wmem_max)) || bind(t, (struct sockaddr *)&in, sizeof in) || listen(t, 4))
        return 1;
    prog_work(atol(argv[1]), argv[2]);
    printf("mark %d\npriority %d\n", opt(t, SO_MARK), opt(t, SO_PRIORITY));
    CHECK(opt(t, SO_RCVBUF) == 80000, "rcvbuf");
    CHECK(opt(t, SO_SNDBUF) == 4 * wmem_max, "forced sndbuf"); /* kept doubled */
    return 0;
}
