/* tests/runtime/rt_ctl.c - the control socket, from the outside, with a raw client: starts
 * `rt_prog serve`, checks the socket's permissions, asks "status", "checkpoint wait",
 * "checkpoint", an unknown request, and finally "checkpoint kill", after which the program
 * must have exited with status 0, leaving the image and no socket; a kill request that fails
 * is answered with the error and the program runs on. As root, it also runs the
 * program as another user and checks that a request from root is refused (peer credentials),
 * at once, before the request is read.
 *
 *   rt_ctl RT_PROG WORKDIR        exit 0 = pass, 77 = skipped
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "rt_ctl: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c);    \
            if (child > 0)                                                                    \
                kill(child, SIGKILL);                                                         \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

static pid_t child;

static pid_t start(const char *prog, const char *work, const char *sockdir, uid_t uid)
{
    char imgdir[4200];
    pid_t pid;

    if (!strcmp(work, "-"))             /* a directory that cannot be created */
        snprintf(imgdir, sizeof imgdir, "/dev/null/images");
    else
        snprintf(imgdir, sizeof imgdir, "%s/images", work);
    pid = fork();
    if (pid == 0) {
        setenv("CRSNAP_DIR", imgdir, 1);
        setenv("CRSNAP_SOCKET_DIR", sockdir, 1);
        setenv("CRSNAP_KEEP", "0", 1);
        if (uid && setresuid(uid, uid, uid) < 0)
            _exit(126);
        execl(prog, prog, "serve", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Sends one request line, returns the reply line (without its newline). */
static int ask(const char *sock, const char *req, char *reply, size_t size)
{
    struct sockaddr_un sa;
    size_t n = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    /* A refused peer gets its reply before the server reads anything, and the server closes:
     * the write may then fail while the reply waits to be read. */
    if (write(fd, req, strlen(req)) < 0 && errno != EPIPE && errno != ECONNRESET) {
        close(fd);
        return -errno;
    }
    while (n + 1 < size) {
        ssize_t r = read(fd, reply + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    reply[n] = 0;
    close(fd);
    char *nl = strchr(reply, '\n');
    if (!nl)
        return -EPROTO;
    *nl = 0;
    return 0;
}

static void wait_for(const char *path)
{
    struct stat st;
    for (int i = 0; i < 3000 && stat(path, &st) < 0; i++)
        usleep(10000);
    CHECK(stat(path, &st) == 0);
}

static void main_checks(const char *prog, const char *work)
{
    char sockdir[4096], sock[4200], reply[8192], path[4096];
    unsigned long long seq;
    struct stat st;
    int status;

    snprintf(sockdir, sizeof sockdir, "%s/sock", work);
    child = start(prog, work, sockdir, 0);
    CHECK(child > 0);
    snprintf(sock, sizeof sock, "%s/%d.sock", sockdir, (int)child);
    wait_for(sock);

    CHECK(stat(sockdir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);

    CHECK(ask(sock, "status\n", reply, sizeof reply) == 0);
    CHECK(!strncmp(reply, "error 2 ", 8));
    CHECK(ask(sock, "bogus\n", reply, sizeof reply) == 0);
    CHECK(!strncmp(reply, "error 22 ", 9));

    CHECK(ask(sock, "checkpoint wait\n", reply, sizeof reply) == 0);
    fprintf(stderr, "rt_ctl: wait -> %s\n", reply);
    CHECK(sscanf(reply, "ok %llu %4095s", &seq, path) == 2 && seq == 1);
    CHECK(stat(path, &st) == 0 && st.st_size > 0);
    CHECK(ask(sock, "status\n", reply, sizeof reply) == 0);
    CHECK(!strncmp(reply, "ok 1 ", 5) && !strcmp(reply + 5, path));

    CHECK(ask(sock, "checkpoint\n", reply, sizeof reply) == 0);
    CHECK(!strcmp(reply, "ok 0 -"));

    CHECK(ask(sock, "checkpoint kill\n", reply, sizeof reply) == 0);
    fprintf(stderr, "rt_ctl: kill -> %s\n", reply);
    CHECK(sscanf(reply, "ok %llu %4095s", &seq, path) == 2 && seq >= 2);
    CHECK(stat(path, &st) == 0 && st.st_size > 0);
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    child = 0;
    CHECK(stat(sock, &st) < 0 && errno == ENOENT);      /* removed at exit */
}

/* A kill request whose checkpoint fails: the error is the reply and the program runs on. */
static void failed_kill(const char *prog, const char *work)
{
    char sockdir[4200], sock[4300], reply[8192];
    int status;

    snprintf(sockdir, sizeof sockdir, "%s/sock-fail", work);
    child = start(prog, "-", sockdir, 0);
    CHECK(child > 0);
    snprintf(sock, sizeof sock, "%s/%d.sock", sockdir, (int)child);
    wait_for(sock);
    CHECK(ask(sock, "checkpoint kill\n", reply, sizeof reply) == 0);
    fprintf(stderr, "rt_ctl: failing kill -> %s\n", reply);
    CHECK(!strncmp(reply, "error ", 6));
    usleep(100000);
    CHECK(waitpid(child, &status, WNOHANG) == 0);      /* still running */
    CHECK(ask(sock, "status\n", reply, sizeof reply) == 0);
    CHECK(!strncmp(reply, "error ", 6));
    CHECK(ask(sock, "checkpoint wait\n", reply, sizeof reply) == 0);
    CHECK(!strncmp(reply, "error ", 6));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = 0;
}

/* The program runs as nobody; root's request must be refused by the credential check. */
static void foreign_user(const char *prog, const char *work)
{
    char sockdir[4200], sock[4300], reply[8192], wdir[4096];
    const uid_t nobody = 65534;

    snprintf(wdir, sizeof wdir, "/tmp/crsnap-rt-ctl-%d", (int)getpid());
    mkdir(wdir, 0777);
    chmod(wdir, 0777);
    snprintf(sockdir, sizeof sockdir, "%s/sock", wdir);
    child = start(prog, wdir, sockdir, nobody);
    CHECK(child > 0);
    snprintf(sock, sizeof sock, "%s/%d.sock", sockdir, (int)child);
    wait_for(sock);
    CHECK(ask(sock, "checkpoint wait\n", reply, sizeof reply) == 0);
    fprintf(stderr, "rt_ctl: foreign -> %s\n", reply);
    CHECK(!strcmp(reply, "error 13 permission denied"));
    /* Refused on its credentials alone, before a byte of request: the reply comes to a client
     * that sends nothing. */
    CHECK(ask(sock, "", reply, sizeof reply) == 0);
    CHECK(!strcmp(reply, "error 13 permission denied"));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = 0;
    (void)work;
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", wdir);
    if (system(cmd) != 0)
        fprintf(stderr, "rt_ctl: could not remove %s\n", wdir);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: rt_ctl RT_PROG WORKDIR\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mkdir(argv[2], 0755);
    main_checks(argv[1], argv[2]);
    failed_kill(argv[1], argv[2]);
    if (geteuid() == 0)
        foreign_user(argv[1], argv[2]);
    printf("rt_ctl: ok\n");
    return 0;
}
