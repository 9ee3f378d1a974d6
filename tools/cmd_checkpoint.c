/* tools/cmd_checkpoint.c - `crsnap checkpoint PID`: asks the crsnap runtime inside process PID
 * for a checkpoint through its control socket (runtime/control_proto.h): one request line, one
 * reply line. Every way of not reaching the process gets its own message and exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include "commands.h"
#include "runtime/control_proto.h"

/* Exit statuses beyond the common 0/1/2, documented in crsnap(1). */
#define CKPT_EXIT_NO_PROCESS 3  /* no such process, or it does not run crsnap */
#define CKPT_EXIT_DENIED 4      /* the process belongs to another user */

/* How long --kill waits for the process to be gone after its image is durable. */
#define KILL_EXIT_WAIT_MS 10000

static const char checkpoint_usage[] =
    "usage: crsnap checkpoint [-w] [--kill] PID\n"
    "\n"
    "Ask process PID, running with crsnap ('crsnap run', or linked with libcrsnap and\n"
    "crs_init()), to take a checkpoint. The image goes to the process's own image directory.\n"
    "\n"
    "options:\n"
    "  -w, --wait    wait until the image is durable on disk and print its path\n"
    "      --kill    like -w, then the process exits (it carries on if the checkpoint fails)\n"
    "  -h, --help    show this help\n"
    "\n"
    "Without -w the request is queued and nothing is printed.\n"
    "The control socket is $CRSNAP_SOCKET_DIR/PID.sock, by default /tmp/crsnap-UID/PID.sock;\n"
    "only the process's own user may use it.\n"
    "\n"
    "exit status: 0 done; 1 the checkpoint failed; 2 wrong usage; 3 no such process, or it\n"
    "does not run with crsnap; 4 permission denied (the process belongs to another user).\n";

/* The uids of process pid from /proc/PID/status (real, effective). Returns 0 or -errno. */
static int process_uids(int pid, unsigned *ruid, unsigned *euid)
{
    char path[64], line[256];
    FILE *f;
    int r = -ENOENT;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Uid: %u %u", ruid, euid) == 2) {
            r = 0;
            break;
        }
    fclose(f);
    return r;
}

/* Where the socket of pid is. With $CRSNAP_SOCKET_DIR there is one answer; otherwise the
 * directory is named after the process's user, which for a root caller may not be the caller:
 * try the caller's, then the process's real and effective uids, and keep the first that exists
 * (or the first candidate, for the message). Returns 0, or -EACCES when a candidate directory
 * exists but cannot be searched. */
static int socket_path(int pid, char *out, size_t size)
{
    const char *env = getenv(CRS_CONTROL_DIR_ENV);
    unsigned uids[3] = {getuid(), getuid(), getuid()};
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int denied = 0;
    struct stat st;

    if (env && *env) {
        snprintf(out, size, CRS_CONTROL_SOCK_FMT, env, pid);
        return 0;
    }
    process_uids(pid, &uids[1], &uids[2]);
    for (int i = 2; i >= 0; i--) {
        snprintf(dir, sizeof dir, CRS_CONTROL_DIR_FMT, uids[i]);
        snprintf(out, size, CRS_CONTROL_SOCK_FMT, dir, pid);
        if (lstat(out, &st) == 0)
            return 0;
        if (errno == EACCES)
            denied = 1;
    }
    /* Not found anywhere: name the likeliest place, the process owner's. */
    snprintf(dir, sizeof dir, CRS_CONTROL_DIR_FMT, uids[1]);
    snprintf(out, size, CRS_CONTROL_SOCK_FMT, dir, pid);
    return denied ? -EACCES : 0;
}

/* A process killed with SIGKILL leaves its control socket behind. Once the pid is known to be
 * gone, a socket there that nobody listens on is removed (a new process that gets the pid
 * would replace it anyway). Returns 1 when one was removed. */
static int remove_stale(int pid)
{
    char path[PATH_MAX];
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, stale;

    if (socket_path(pid, path, sizeof path) < 0 || strlen(path) >= sizeof addr.sun_path ||
        lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    stale = connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno == ECONNREFUSED;
    close(fd);
    return stale && unlink(path) == 0;
}

static int denied_message(int pid, const char *path)
{
    unsigned ruid = 0, euid = 0;

    if (process_uids(pid, &ruid, &euid) == 0 && ruid != getuid())
        fprintf(stderr, "crsnap checkpoint: permission denied: process %d belongs to uid %u, not"
                        " to you (uid %u); run this as that user\n", pid, ruid, getuid());
    else
        fprintf(stderr, "crsnap checkpoint: permission denied on the control socket %s of"
                        " process %d; run this as the user that started it\n", path, pid);
    return CKPT_EXIT_DENIED;
}

static int not_crsnap_message(int pid, const char *path, const char *why)
{
    fprintf(stderr, "crsnap checkpoint: process %d is not running with crsnap (%s %s); start it"
                    " with 'crsnap run'\n", pid, why, path);
    return CKPT_EXIT_NO_PROCESS;
}

/* Reads one reply line; the server closes after it. Returns its length or -errno. */
static ssize_t read_reply(int fd, char *buf, size_t size)
{
    size_t len = 0;

    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        len += (size_t)n;
        if (memchr(buf + len - n, '\n', (size_t)n))
            break;
    }
    buf[len] = 0;
    return (ssize_t)len;
}

/* After --kill: the image is durable and the process is on its way out. Waits (bounded) for
 * it to be gone, so that a restore right after this command never meets it still running. */
static void wait_gone(int pid)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        while (poll(&p, 1, KILL_EXIT_WAIT_MS) < 0 && errno == EINTR)
            ;
        close(pfd);
        return;
    }
    for (int i = 0; i < KILL_EXIT_WAIT_MS / 10 && kill(pid, 0) == 0; i++)
        usleep(10000);
}

int crs_cmd_checkpoint(int argc, char **argv)
{
    enum { OPT_KILL = 0x100 };
    static const struct option longopts[] = {
        {"wait", no_argument, NULL, 'w'},
        {"kill", no_argument, NULL, OPT_KILL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char path[sizeof addr.sun_path + 64], reply[CRS_CONTROL_LINE_MAX];
    const char *request;
    int wait = 0, killit = 0, c, fd, pid;
    long v;
    char *end;
    ssize_t n;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+wh", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wait = 1;
            break;
        case OPT_KILL:
            killit = 1;
            break;
        case 'h':
            fputs(checkpoint_usage, stdout);
            return CRS_EXIT_OK;
        default:
            fprintf(stderr, "crsnap checkpoint: unknown option '%s' (try 'crsnap checkpoint"
                            " --help')\n", argv[optind - 1]);
            return CRS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "crsnap checkpoint: no PID given (try 'crsnap checkpoint --help')\n");
        return CRS_EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "crsnap checkpoint: one PID only, '%s' is extra\n", argv[optind + 1]);
        return CRS_EXIT_USAGE;
    }
    errno = 0;
    v = strtol(argv[optind], &end, 10);
    if (errno || end == argv[optind] || *end || v < 1 || v > 0x3fffffff) {
        fprintf(stderr, "crsnap checkpoint: '%s' is not a process id\n", argv[optind]);
        return CRS_EXIT_USAGE;
    }
    pid = (int)v;

    if (kill(pid, 0) < 0 && errno == ESRCH) {
        fprintf(stderr, "crsnap checkpoint: no process with pid %d%s\n", pid,
                remove_stale(pid) ? " (its stale control socket is removed)" : "");
        return CKPT_EXIT_NO_PROCESS;
    }
    if (socket_path(pid, path, sizeof path) == -EACCES)
        return denied_message(pid, path);
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "crsnap checkpoint: control socket path too long: %s\n", path);
        return CRS_EXIT_FAIL;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "crsnap checkpoint: socket: %s\n", strerror(errno));
        return CRS_EXIT_FAIL;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        if (e == EACCES || e == EPERM)
            return denied_message(pid, path);
        if (e == ENOENT || e == ENOTDIR)
            return not_crsnap_message(pid, path, "no control socket at");
        if (e == ECONNREFUSED)
            return not_crsnap_message(pid, path, "nobody listens on the stale control socket");
        fprintf(stderr, "crsnap checkpoint: cannot connect to %s: %s\n", path, strerror(e));
        return CRS_EXIT_FAIL;
    }

    request = killit ? "checkpoint kill\n" : wait ? "checkpoint wait\n" : "checkpoint\n";
    /* A server that refuses us replies and closes without reading: the send may then fail
     * with EPIPE, but the refusal is waiting to be read. */
    if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request)) {
        int e = errno;
        n = read_reply(fd, reply, sizeof reply);
        if (n <= 0) {
            fprintf(stderr, "crsnap checkpoint: cannot send the request to process %d: %s\n",
                    pid, strerror(e));
            close(fd);
            return CRS_EXIT_FAIL;
        }
    } else {
        n = read_reply(fd, reply, sizeof reply);
    }
    close(fd);
    if (n < 0) {
        fprintf(stderr, "crsnap checkpoint: no reply from process %d: %s\n", pid,
                strerror((int)-n));
        return CRS_EXIT_FAIL;
    }
    if (n == 0) {
        fprintf(stderr, "crsnap checkpoint: process %d closed the connection without a reply"
                        " (did it exit?)\n", pid);
        return CRS_EXIT_FAIL;
    }
    reply[strcspn(reply, "\n")] = 0;

    if (!strncmp(reply, "ok ", 3)) {
        char *p = reply + 3, *image;
        strtoull(p, &image, 10);
        if (image == p || *image != ' ' || !image[1]) {
            fprintf(stderr, "crsnap checkpoint: process %d sent a malformed reply: %s\n", pid,
                    reply);
            return CRS_EXIT_FAIL;
        }
        image++;
        if (wait || killit)
            printf("%s\n", image);
        if (fflush(stdout) == EOF) {
            fprintf(stderr, "crsnap checkpoint: cannot write the image path: %s\n",
                    strerror(errno));
            return CRS_EXIT_FAIL;
        }
        if (killit)
            wait_gone(pid);
        return CRS_EXIT_OK;
    }
    if (!strncmp(reply, "error ", 6)) {
        char *msg;
        long e = strtol(reply + 6, &msg, 10);
        msg += strspn(msg, " ");
        if (e == EPERM || e == EACCES) {
            unsigned ruid = 0, euid = 0;
            fprintf(stderr, "crsnap checkpoint: process %d refused the request: %s", pid,
                    *msg ? msg : strerror((int)e));
            if (process_uids(pid, &ruid, &euid) == 0 && euid != geteuid())
                fprintf(stderr, " (it belongs to uid %u; run this as that user)", euid);
            fputc('\n', stderr);
            return CKPT_EXIT_DENIED;
        }
        fprintf(stderr, "crsnap checkpoint: the checkpoint of process %d failed: %s\n", pid,
                *msg ? msg : e > 0 ? strerror((int)e) : "unknown error");
        return CRS_EXIT_FAIL;
    }
    fprintf(stderr, "crsnap checkpoint: process %d sent a malformed reply: %s\n", pid, reply);
    return CRS_EXIT_FAIL;
}
