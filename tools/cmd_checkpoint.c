/* tools/cmd_checkpoint.c - `crsnap checkpoint PID`: asks the crsnap runtime inside process PID
 * for a checkpoint through its control socket (runtime/control_proto.h): one request line, one
 * reply line. The socket's directory is checked as the runtime checks it (io/control_dir.c) and
 * the server must be process PID itself before anything is sent or believed. Every way of not
 * reaching the process gets its own message and exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include "io/control_dir.h"
#include "runtime/control_proto.h"

/* Exit statuses beyond the common 0/1/2, documented in crsnap(1). */
#define CKPT_EXIT_NO_PROCESS 3  /* no such process, or it does not run crsnap */
#define CKPT_EXIT_DENIED 4      /* the process belongs to another user */
#define CKPT_EXIT_UNTRUSTED 5   /* its control socket is not the process's own */

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
    "The control socket is PID.sock in $CRSNAP_SOCKET_DIR if set, else in\n"
    "$XDG_RUNTIME_DIR/crsnap (when that is a directory of yours, mode 0700), else in\n"
    "/tmp/crsnap-UID. The directory must be yours, not a symbolic link, and closed to others;\n"
    "the socket must be served by process PID itself, as your user. Anything else is refused\n"
    "and nothing from it is believed. Only the process's own user may ask.\n"
    "\n"
    "exit status: 0 done; 1 the checkpoint failed; 2 wrong usage; 3 no such process, or it\n"
    "does not run with crsnap; 4 permission denied (the process belongs to another user);\n"
    "5 the control socket cannot be trusted (its directory is another user's, a symbolic link\n"
    "or open to others, or another process serves it).\n";

/* The effective uid of process pid, from /proc/PID/status. Returns 0 or -errno. */
static int process_euid(int pid, unsigned *euid)
{
    char path[64], line[256];
    unsigned ruid;
    FILE *f;
    int r = -ENOENT;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Uid: %u %u", &ruid, euid) == 2) {
            r = 0;
            break;
        }
    fclose(f);
    return r;
}

/* The value of name in the environment process pid started with, into out ("" when it is
 * not there or cannot be read: another user's process, or one that is gone). */
static void process_env(int pid, const char *name, char *out, size_t size)
{
    char path[64], buf[1 << 16];
    size_t len = strlen(name), n = 0;
    ssize_t r;
    int fd;

    out[0] = 0;
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = 0;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (!strncmp(buf + i, name, len) && buf[i + len] == '=') {
            snprintf(out, size, "%s", buf + i + len + 1);
            return;
        }
}

/* Where the socket of pid (owned by uid) is, chosen as the process itself chose it, by
 * crs_ctldir_pick(): with $CRSNAP_SOCKET_DIR set here, there alone; otherwise from the
 * environment the process started with, then from ours (its runtime directory may not be
 * ours). A directory that fails the checks is never looked into.
 * Returns 0 with dir and sock set; -ENOENT when there is no socket (sock names the likeliest
 * place); another -errno when a candidate directory cannot be trusted (why says which and
 * why). */
static int locate(int pid, unsigned uid, char *dir, size_t dsize, char *sock, size_t ssize,
                  char *why, size_t wsize)
{
    const char *env = getenv(CRS_CONTROL_DIR_ENV);
    char t_dir[PATH_MAX], t_xdg[PATH_MAX], d[PATH_MAX], w[CRS_CTLDIR_WHY_MAX];
    char s[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *cand[2][2];
    int nc = 0, untrusted = 0;
    struct stat st;

    if (env && *env) {
        cand[nc][0] = env, cand[nc++][1] = NULL;
    } else {
        process_env(pid, CRS_CONTROL_DIR_ENV, t_dir, sizeof t_dir);
        process_env(pid, CRS_CTLDIR_XDG_ENV, t_xdg, sizeof t_xdg);
        cand[nc][0] = t_dir[0] == '/' ? t_dir : NULL, cand[nc++][1] = t_xdg;
        cand[nc][0] = NULL, cand[nc++][1] = getenv(CRS_CTLDIR_XDG_ENV);
    }
    sock[0] = 0;
    for (int i = 0; i < nc; i++) {
        int r = crs_ctldir_pick(cand[i][0], cand[i][1], uid, 0, d, sizeof d, w, sizeof w);
        if (r < 0 && r != -ENOENT) {
            if (!untrusted)
                snprintf(why, wsize, "%s", w);
            untrusted = untrusted ? untrusted : r;
            continue;
        }
        if (crs_ctldir_sock(d, pid, s, sizeof s) < 0) {
            if (!untrusted)
                snprintf(why, wsize, "the control socket path in %.400s is too long", d);
            untrusted = untrusted ? untrusted : -ENAMETOOLONG;
            continue;
        }
        if (r == 0 && lstat(s, &st) == 0) {
            snprintf(dir, dsize, "%s", d);
            snprintf(sock, ssize, "%s", s);
            return 0;
        }
        if (!sock[0]) {
            snprintf(dir, dsize, "%s", d);
            snprintf(sock, ssize, "%s", s);
        }
    }
    return untrusted ? untrusted : -ENOENT;
}

/* Is process pid running this very crsnap program file? */
static int runs_crsnap(int pid)
{
    char path[64];
    struct stat me, it;

    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    return stat("/proc/self/exe", &me) == 0 && stat(path, &it) == 0 && me.st_dev == it.st_dev &&
           me.st_ino == it.st_ino;
}

/* The one child of pid, or 0 (none, several, or unknown). */
static int only_child(int pid)
{
    char path[64], buf[64];
    int fd, child = 0, used = 0;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    if (sscanf(buf, "%d %n", &child, &used) != 1 || buf[used])
        return 0;
    return child;
}

/* Its pid inside its own pid namespace: the last NSpid field of its status, or 0. */
static int inner_pid(int pid)
{
    char path[64], line[256];
    int inner = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!(f = fopen(path, "re")))
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "NSpid:", 6)) {
            for (char *p = line + 6, *end; ; p = end) {
                long v = strtol(p, &end, 10);
                if (end == p)
                    break;
                inner = (int)v;
            }
            break;
        }
    fclose(f);
    return inner;
}

/* A `crsnap restore` that waits for the process it restored under its saved pid stands for
 * that process: its child, or in a namespace of its own its grandchild (the child is pid 1
 * there, crsnap too). Returns the restored process's pid, or pid itself. */
static int restored_by(int pid)
{
    int c;

    if (!runs_crsnap(pid) || (c = only_child(pid)) <= 0)
        return pid;
    if (runs_crsnap(c) && inner_pid(c) == 1) {
        int g = only_child(c);
        return g > 0 ? g : pid;
    }
    return c;
}

/* A process killed with SIGKILL leaves its control socket behind. Once the pid is known to be
 * gone, a socket there that nobody listens on is removed. Returns 1 when one was removed. */
static int remove_stale(int pid)
{
    char dir[PATH_MAX], sock[PATH_MAX], why[CRS_CTLDIR_WHY_MAX];

    if (locate(pid, (unsigned)geteuid(), dir, sizeof dir, sock, sizeof sock, why,
               sizeof why) < 0)
        return 0;
    return crs_ctldir_reap(dir, strrchr(sock, '/') + 1, pid, (unsigned)geteuid());
}

static int denied_message(int pid, int known, unsigned euid)
{
    if (known)
        fprintf(stderr, "crsnap checkpoint: permission denied: process %d belongs to uid %u, not"
                        " to you (uid %u); run this as that user\n", pid, euid, geteuid());
    else
        fprintf(stderr, "crsnap checkpoint: permission denied: process %d belongs to another"
                        " user; run this as that user\n", pid);
    return CKPT_EXIT_DENIED;
}

static int not_crsnap_message(int pid, const char *path, const char *why)
{
    fprintf(stderr, "crsnap checkpoint: process %d is not running with crsnap (%s %s); start it"
                    " with 'crsnap run'\n", pid, why, path);
    return CKPT_EXIT_NO_PROCESS;
}

/* Bytes from the server on stderr: control characters shown as escapes, so that a reply
 * cannot drive the terminal. */
static void put_escaped(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
}

/* An image path as the runtime sends it: absolute, printable (it is printed for scripts to
 * use, one per line). */
static int image_path_ok(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* The server must be process pid itself, running as uid: a socket in the right place served
 * by anyone else (a process that outlived its parent's pid, a planted server) is not
 * believed. Returns 0, or the exit status after saying why. */
static int check_server(int fd, int pid, unsigned uid, const char *path)
{
    struct ucred cred;
    socklen_t len = sizeof cred;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        fprintf(stderr, "crsnap checkpoint: cannot tell who serves the control socket %s: %s\n",
                path, strerror(errno));
        return CKPT_EXIT_UNTRUSTED;
    }
    if (cred.pid != pid) {
        fprintf(stderr, "crsnap checkpoint: the control socket for %d is served by pid %d, not"
                        " %d: refusing it (%s)\n", pid, (int)cred.pid, pid, path);
        return CKPT_EXIT_UNTRUSTED;
    }
    if (cred.uid != uid) {
        fprintf(stderr, "crsnap checkpoint: the control socket for %d is served by uid %u, not"
                        " by uid %u, the owner of process %d: refusing it (%s)\n", pid,
                (unsigned)cred.uid, uid, pid, path);
        return CKPT_EXIT_UNTRUSTED;
    }
    return 0;
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
    char path[sizeof addr.sun_path], dir[PATH_MAX], why[CRS_CTLDIR_WHY_MAX];
    char reply[CRS_CONTROL_LINE_MAX];
    const char *request;
    int wait = 0, killit = 0, c, fd, pid, r;
    unsigned uid = 0;
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

    if (kill(pid, 0) < 0) {
        if (errno == EPERM)
            return denied_message(pid, process_euid(pid, &uid) == 0, uid);
        fprintf(stderr, "crsnap checkpoint: no process with pid %d%s\n", pid,
                remove_stale(pid) ? " (its stale control socket is removed)" : "");
        return CKPT_EXIT_NO_PROCESS;
    }
    if ((r = process_euid(pid, &uid)) < 0) {
        if (r == -ENOENT) {
            fprintf(stderr, "crsnap checkpoint: no process with pid %d\n", pid);
            return CKPT_EXIT_NO_PROCESS;
        }
        return denied_message(pid, 0, 0);
    }
    /* The runtime serves its own user alone (root included): say so before connecting. */
    if (uid != (unsigned)geteuid())
        return denied_message(pid, 1, uid);
    r = locate(pid, uid, dir, sizeof dir, path, sizeof path, why, sizeof why);
    if (r == -ENOENT && (c = restored_by(pid)) != pid) {
        pid = c;
        if (process_euid(pid, &uid) < 0 || uid != (unsigned)geteuid())
            return denied_message(pid, 0, 0);
        r = locate(pid, uid, dir, sizeof dir, path, sizeof path, why, sizeof why);
    }
    if (r == -ENOENT)
        return not_crsnap_message(pid, path, "no control socket at");
    if (r == -ENAMETOOLONG) {
        fprintf(stderr, "crsnap checkpoint: %s\n", why);
        return CRS_EXIT_FAIL;
    }
    if (r < 0) {
        fprintf(stderr, "crsnap checkpoint: refusing the control socket directory: %s\n", why);
        return CKPT_EXIT_UNTRUSTED;
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
            return denied_message(pid, 1, uid);
        if (e == ENOENT || e == ENOTDIR)
            return not_crsnap_message(pid, path, "no control socket at");
        if (e == ECONNREFUSED)
            return not_crsnap_message(pid, path, "nobody listens on the stale control socket");
        fprintf(stderr, "crsnap checkpoint: cannot connect to %s: %s\n", path, strerror(e));
        return CRS_EXIT_FAIL;
    }
    if ((r = check_server(fd, pid, uid, path)) != 0) {
        close(fd);
        return r;
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
            fprintf(stderr, "crsnap checkpoint: process %d sent a malformed reply: ", pid);
            put_escaped(reply);
            fputc('\n', stderr);
            return CRS_EXIT_FAIL;
        }
        image++;
        if ((wait || killit || strcmp(image, "-")) && !image_path_ok(image)) {
            fprintf(stderr, "crsnap checkpoint: process %d sent an invalid image path: ", pid);
            put_escaped(image);
            fputc('\n', stderr);
            return CRS_EXIT_FAIL;
        }
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
            fprintf(stderr, "crsnap checkpoint: process %d refused the request: ", pid);
            if (*msg)
                put_escaped(msg);
            else
                fputs(strerror((int)e), stderr);
            fputc('\n', stderr);
            return CKPT_EXIT_DENIED;
        }
        fprintf(stderr, "crsnap checkpoint: the checkpoint of process %d failed: ", pid);
        if (*msg)
            put_escaped(msg);
        else
            fputs(e > 0 && e < 4096 ? strerror((int)e) : "unknown error", stderr);
        fputc('\n', stderr);
        return CRS_EXIT_FAIL;
    }
    fprintf(stderr, "crsnap checkpoint: process %d sent a malformed reply: ", pid);
    put_escaped(reply);
    fputc('\n', stderr);
    return CRS_EXIT_FAIL;
}
