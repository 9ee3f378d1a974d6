/* fork_storm.c - for the job tests: the root of a job forks children, one after another, while
 * a thread of its own keeps connecting to its control socket (as `crsnap checkpoint` or a
 * job's member would). Each child looks, right after fork(), for a connection of the
 * parent's control socket among its descriptors (a socket named by the parent's socket path,
 * or the name it was bound under before its rename, that is not the listener): one there was accepted by the parent's runtime but is in no
 * record the child's runtime has, and would show in its images as the program's own.
 *   fork_storm SECONDS
 * Prints "forks N connections C leaked L"; exits 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char sock_path[108];
static atomic_int stop, connections;

static void *hammer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char buf[512];
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            write(fd, "status\n", 7) == 7) {
            while (read(fd, buf, sizeof buf) > 0) {
            }
            atomic_fetch_add(&connections, 1);
        } else
            usleep(1000);
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

/* In the child: a descriptor that is a connection of the parent's control socket. */
static int leaked(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name), listening = 0;
        struct sockaddr_un sa;
        socklen_t len = sizeof sa, il = sizeof listening;

        if (fd == dirfd(d) || getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
            sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) ||
            strncmp(sa.sun_path, sock_path, strlen(sock_path)))
            continue;                   /* (bound under a temporary name, then renamed) */
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &il) == 0 && !listening)
            found++;
    }
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("CRSNAP_SOCKET_DIR");
    struct timespec t0, t;
    int forks = 0, leaks = 0;
    pthread_t th;

    if (argc < 2 || !dir)
        return 2;
    snprintf(sock_path, sizeof sock_path, "%s/%d.sock", dir, (int)getpid());
    while (access(sock_path, F_OK) != 0)  /* the runtime's socket is up */
        usleep(10000);
    pthread_create(&th, NULL, hammer, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        pid_t c = fork();
        int st;
        if (c == 0)
            _exit(leaked() ? 1 : 0);
        if (c < 0)
            break;
        forks++;
        if (waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 1)
            leaks++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < atoi(argv[1]));
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    printf("forks %d connections %d leaked %d\n", forks, atomic_load(&connections), leaks);
    return 0;
}
