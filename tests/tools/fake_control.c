/* tests/tools/fake_control.c - a stand-in for the runtime's control socket, so the client side
 * of `crsnap checkpoint` is tested on its own: it listens at $CRSNAP_SOCKET_DIR/PID.sock,
 * answers each connection with the reply given on its command line (or closes without one for
 * "-"), prints each request it got on stdout, and exits after COUNT connections. With PID, it
 * plays an impostor: the socket is named after that other process (and anyone may connect).
 *   usage: fake_control READYFILE COUNT REPLY [PID]
 * A REPLY starting with '!' is sent at once, before reading the request, as a server that
 * refuses a peer does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    const char *dir = getenv("CRSNAP_SOCKET_DIR");
    int fd, count, pid;
    FILE *ready;

    if ((argc != 4 && argc != 5) || !dir) {
        fprintf(stderr, "usage: CRSNAP_SOCKET_DIR=DIR fake_control READYFILE COUNT REPLY [PID]\n");
        return 2;
    }
    count = atoi(argv[2]);
    pid = argc == 5 ? atoi(argv[4]) : (int)getpid();
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%d.sock", dir, pid);
    unlink(addr.sun_path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        chmod(addr.sun_path, 0666) < 0 || listen(fd, 4) < 0) {
        fprintf(stderr, "fake_control: %s: %s\n", addr.sun_path, strerror(errno));
        return 1;
    }
    ready = fopen(argv[1], "w");
    if (!ready)
        return 1;
    fprintf(ready, "%d\n", (int)getpid());
    fclose(ready);
    for (int i = 0; i < count; i++) {
        char buf[256];
        ssize_t n;
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            return 1;
        if (argv[3][0] == '!') {
            dprintf(c, "%s\n", argv[3] + 1);
            close(c);
            printf("refused\n");
            fflush(stdout);
            continue;
        }
        n = read(c, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        printf("request: %s", buf);
        fflush(stdout);
        if (strcmp(argv[3], "-"))
            dprintf(c, "%s\n", argv[3]);
        close(c);
    }
    unlink(addr.sun_path);
    return 0;
}
