/* runtime/tree.c - a job of several processes: the program `crsnap run` started (the root)
 * and every descendant, each running the library. The root's coordinator leads one checkpoint
 * of all of them over their control sockets; each member stops, forks its own snapshot and
 * writes its own image; the root publishes the job when every part is durable.
 *
 *   root -> member   "tree SEQ KILL\n"   (the control request; the member answers "accepted")
 *                    "PATH\n"            where the member's image goes
 *   member -> root   "prepared\n"        its handlers ran, it is about to stop
 *   root -> member   "stop\n" | "abort\n"
 *   member -> root   "ready\n"           its threads are stopped
 *   root -> member   "go PID...\n" | "abort\n"   every member is stopped: take the snapshot
 *                    (the pids of the job's living processes, the root's first)
 *   member -> root   "forked\n"          its snapshot is taken, its threads still stopped
 *   root -> member   "resume\n" | "abort\n"
 *   member -> root   "ok SEQ PATH\n" | "error ERRNO MESSAGE\n"   its image is durable
 *   root -> member   (kill mode) "exit\n" | "continue\n"
 *
 * Everything the root does between the stop and the resume runs with its own threads parked:
 * raw system calls and the state's own buffers only, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime.h"
#include "common/errmsg.h"
#include "common/proc_util.h"
#include "io/control_dir.h"
#include "snapshot/publish.h"

#define STEP_MS 30000           /* longest wait for a member's next step while stopped */
#define CONNECT_TRIES 600       /* a member's socket awaited for 600 x 5 ms at most */
#define CONNECT_STEP_US 5000
#define LIBRARY_CHECK_TRY 40    /* after 200 ms without a socket: does it run the library? */

/* ---- lines on a socket, with a deadline ---- */

static int send_line(int fd, const char *s)
{
    size_t n = crs_strlen(s);
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 && errno != ECONNRESET ? -errno : -EPIPE;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One line (without its newline) into buf; timeout_ms < 0 waits as long as it takes.
 * Returns its length, -EPIPE at the end of the stream, -ETIMEDOUT. Byte by byte: the lines
 * are short, and nothing past the newline may be taken from the socket. */
static int read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    for (;;) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        int p = poll(&pf, 1, timeout_ms);
        if (p < 0 && errno == EINTR)
            continue;
        if (p == 0)
            return -ETIMEDOUT;
        if (p < 0)
            return -errno;
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)                     /* a peer gone with bytes unread resets */
            return r < 0 && errno != ECONNRESET ? -errno : -EPIPE;
        if (ch == '\n') {
            buf[n] = 0;
            return (int)n;
        }
        if (n + 1 < cap)
            buf[n++] = ch;
    }
}

/* ---- the tree as /proc shows it ---- */

/* ppid, pgid, sid, state and exit code from /proc/PID/stat. 0, or -errno (-ENOENT: gone). */
static int read_stat(pid_t pid, struct crs_img_tree_member *m, int *zombie)
{
    char path[64], *buf = crs_state.tree.stat_text;
    struct crs_sbuf b;
    uint64_t v[52];
    const char *p, *close;
    long n;

    crs_sb_init(&b, path, sizeof path);
    crs_sb_str(&b, "/proc/");
    crs_sb_u64(&b, (uint64_t)pid);
    crs_sb_str(&b, "/stat");
    if ((n = crs_read_file(path, buf, sizeof crs_state.tree.stat_text)) < 0)
        return (int)n;
    close = strrchr(buf, ')');
    p = strchr(buf, '(');
    if (!close || !p || close[1] != ' ')
        return -EIO;
    size_t len = (size_t)(close - p - 1);
    memset(m->comm, 0, sizeof m->comm);
    memcpy(m->comm, p + 1, len < sizeof m->comm - 1 ? len : sizeof m->comm - 1);
    *zombie = close[2] == 'Z' || close[2] == 'X';
    p = close + 4;                      /* past ") S " : field 4, the ppid */
    for (int i = 4; i <= 52; i++) {
        while (*p == ' ')
            p++;
        if (*p == '-')                  /* tty_nr and friends may be negative: not needed */
            p++;
        if (crs_parse_dec(&p, &v[i - 1]) < 0)
            v[i - 1] = 0;
        while (*p && *p != ' ')
            p++;
    }
    m->pid = (uint32_t)pid;
    m->ppid = (uint32_t)v[3];
    m->pgid = (uint32_t)v[4];
    m->sid = (uint32_t)v[5];
    m->wait_status = *zombie ? (int32_t)v[51] : 0;
    return 0;
}

/* Appends pid's children (those of each of its threads) to the list. */
static int add_children(pid_t pid, uint32_t *n, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char path[80];
    struct crs_dirwalk w;
    struct crs_sbuf b;
    const char *name;
    int dfd;

    crs_sb_init(&b, path, sizeof path);
    crs_sb_str(&b, "/proc/");
    crs_sb_u64(&b, (uint64_t)pid);
    crs_sb_str(&b, "/task");
    if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -errno;
    crs_dirwalk_init(&w, dfd, t->dents, sizeof t->dents);
    while (crs_dirwalk_next(&w, &name) > 0) {
        int tid = crs_dirent_num(name);
        if (tid <= 0)
            continue;
        crs_sb_init(&b, path, sizeof path);
        crs_sb_str(&b, "/proc/");
        crs_sb_u64(&b, (uint64_t)pid);
        crs_sb_str(&b, "/task/");
        crs_sb_u64(&b, (uint64_t)tid);
        crs_sb_str(&b, "/children");
        if (crs_read_file(path, t->text, sizeof t->text) < 0)
            continue;
        for (const char *p = t->text; *p;) {
            uint64_t child;
            int zombie;
            while (*p == ' ' || *p == '\n')
                p++;
            if (crs_parse_dec(&p, &child) < 0)
                break;
            if (*n >= CRS_IMG_TREE_MAX) {
                close(dfd);
                crs_seterr(err, errlen, "more than %u processes in the job", CRS_IMG_TREE_MAX);
                return -E2BIG;
            }
            struct crs_img_tree_member *m = &t->members[*n];
            if (read_stat((pid_t)child, m, &zombie) < 0)
                continue;               /* gone meanwhile: the second look sees it */
            /* a member's own snapshot child (named after the coordinator that clones it),
             * still writing or not reaped after its parent executed another program */
            if (!strcmp(m->comm, "crsnap-coord"))
                continue;
            m->flags = zombie ? CRS_TREE_F_ZOMBIE : 0;
            (*n)++;
        }
    }
    close(dfd);
    return 0;
}

/* The processes left out of this checkpoint, and their descendants, taken off members[]
 * (parents first, so a parent is judged before its children). Returns how many. */
static uint32_t drop_left_out(struct crs_img_tree_member *members, uint32_t *n)
{
    struct crs_tree_state *t = &crs_state.tree;
    pid_t gone[CRS_IMG_TREE_MAX];
    uint32_t ngone = 0, k = 0;

    for (uint32_t i = 0; i < *n; i++) {
        int out = 0;
        for (uint32_t j = 0; j < t->nleft_out; j++)
            out |= (pid_t)members[i].pid == t->left_out[j];
        for (uint32_t j = 0; j < ngone; j++)
            out |= (pid_t)members[i].ppid == gone[j];
        if (out && i > 0) {
            gone[ngone++] = (pid_t)members[i].pid;
            continue;
        }
        members[k++] = members[i];
    }
    *n = k;
    return ngone;
}

/* The job as it is now, parents first, the root first, without the processes left out of
 * this checkpoint. Syscalls and the state's buffers. */
static int list_tree(uint32_t *n, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    int zombie, r;

    *n = 0;
    if ((r = read_stat(getpid(), &t->members[0], &zombie)) < 0) {
        crs_seterr(err, errlen, "cannot read /proc/self/stat: %s", crs_errno_text(-r));
        return r;
    }
    t->members[0].flags = CRS_TREE_F_ROOT;
    t->members[0].pid = (uint32_t)crs_state.public_pid;
    *n = 1;
    for (uint32_t i = 0; i < *n; i++) {
        if (t->members[i].flags & CRS_TREE_F_ZOMBIE)
            continue;
        /* the root is read as itself, whatever pid outsiders know it by */
        pid_t pid = i == 0 ? getpid() : (pid_t)t->members[i].pid;
        if ((r = add_children(pid, n, err, errlen)) < 0)
            return r;
    }
    drop_left_out(t->members, n);
    return 0;
}

/* ---- the root ---- */

static void close_peers(void)
{
    struct crs_tree_state *t = &crs_state.tree;
    int held = crs_fds_lock();
    for (uint32_t i = 0; i < t->npeers; i++)
        if (t->peers[i] >= 0)
            close(t->peers[i]);
    t->npeers = 0;
    crs_fds_unlock(held);
}

static void tell_all(const char *line)
{
    struct crs_tree_state *t = &crs_state.tree;
    for (uint32_t i = 0; i < t->npeers; i++)
        if (t->peers[i] >= 0)
            send_line(t->peers[i], line);
}

/* Whether member m's line is "error ERRNO MESSAGE": then err names m and says the message. */
static int said_error(const struct crs_img_tree_member *m, const char *line, char *err,
                      size_t errlen)
{
    const char *msg;

    if (strncmp(line, "error ", 6))
        return 0;
    msg = strchr(line + 6, ' ');
    crs_seterr(err, errlen, "process %u (%s) of the job: %s", m->pid, m->comm,
               msg ? msg + 1 : line + 6);
    return 1;
}

/* The next line of every member, which must be want. A member's "error" line is its reason. */
static int hear_all(const char *want, int timeout_ms, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE];
    for (uint32_t i = 0; i < t->npeers; i++) {
        int r = read_line(t->peers[i], line, sizeof line, timeout_ms);
        if (r >= 0 && !strcmp(line, want))
            continue;
        const struct crs_img_tree_member *m = &t->members[t->peer_member[i]];
        if (r >= 0 && said_error(m, line, err, errlen))
            return -ECANCELED;
        crs_seterr(err, errlen, "process %u (%s) of the job %s", m->pid, m->comm,
                 r == -ETIMEDOUT ? "did not answer in time" :
                 r < 0 ? "went away (it ended or executed another program)" :
                 "answered out of turn");
        /* before it stopped, a member may end or exec: the job changed, look again */
        if (r == -EPIPE && (!strcmp(want, "prepared") || !strcmp(want, "ready")))
            return -EAGAIN;
        return r < 0 ? r : -EPROTO;
    }
    return 0;
}

/* Whether process pid runs the library: it has it mapped. A process that runs without it (a
 * static or setuid program, or one whose environment lost LD_PRELOAD) never will; one just
 * started has it from its first moment (a fork's copy; the dynamic loader maps a preload
 * before the program's own libraries). Maps we may not read (setuid) count as without. */
static int runs_library(pid_t pid)
{
    char lib[PATH_MAX], path[64], *line = NULL;
    size_t cap = 0;
    int found = 0;
    FILE *f;

    /* the library's file as /proc/PID/maps names it (the path it was loaded by may be a
     * symbolic link): the one exec.c puts in a job's LD_PRELOAD */
    if (!crs_state.exec.lib[0] || !realpath(crs_state.exec.lib, lib))
        return 1;                       /* cannot tell: as before, wait for its socket */
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    if (!(f = fopen(path, "re")))
        return 0;
    while (!found && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        size_t n = strlen(line), l = strlen(lib);
        found = n >= l && !strcmp(line + n - l, lib);
    }
    free(line);
    fclose(f);
    return found;
}

/* A socket connected to member m's control socket, whose peer must be that process, of this
 * user; in *slot from the moment it exists (a field of the state, which a forked child
 * closes: forklock.c). 0, or -errno with the socket left in *slot for the caller to close. */
static int connect_socket(const struct crs_img_tree_member *m, int *slot, char *err,
                          size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct ucred cred;
    socklen_t len = sizeof cred;
    char dir[CRS_PATH_MAX];
    const char *slash = strrchr(crs_state.sock_path, '/');
    int fd, held;

    char why[CRS_CTLDIR_WHY_MAX];
    if (slash)
        crs_seterr(dir, sizeof dir, "%.*s", (int)(slash - crs_state.sock_path),
                   crs_state.sock_path);
    else if (crs_ctldir_pick(crs_state.cfg.socket_dir, getenv(CRS_CTLDIR_XDG_ENV), geteuid(),
                             0, dir, sizeof dir, why, sizeof why) < 0) {
        /* a root without a socket of its own (crs_config.control_socket = -1) */
        crs_seterr(err, errlen, "cannot reach the job's processes: %s", why);
        return -ENOENT;
    }
    if (crs_ctldir_sock(dir, (int)m->pid, sa.sun_path, sizeof sa.sun_path) < 0)
        return -ENAMETOOLONG;
    held = crs_fds_lock();
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *slot = fd < 0 ? -1 : crs_fd_high(fd);
    crs_fds_unlock(held);
    if (fd < 0)
        return -errno;
    fd = *slot;
    /* A process just forked or executed starts its runtime in a moment: wait for its socket
     * a little (this is before anything stops), as long as the process is there. */
    for (int tries = 0; tries < CONNECT_TRIES; tries++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        if ((errno != ENOENT && errno != ECONNREFUSED) || kill((pid_t)m->pid, 0) < 0)
            break;
        if (tries == LIBRARY_CHECK_TRY && !runs_library((pid_t)m->pid)) {
            crs_seterr(err, errlen, "process %u (%s) of the job runs without crsnap (a static "
                       "or setuid program, or one started with the library removed from its "
                       "environment)", m->pid, m->comm);
            return -ENOEXEC;
        }
        usleep(CONNECT_STEP_US);
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        cred.pid != (pid_t)m->pid || cred.uid != geteuid()) {
        crs_seterr(err, errlen, "process %u (%s) of the job runs without crsnap (a static or "
                 "setuid program, or one started with the library removed from its "
                 "environment): the job cannot be saved whole", m->pid, m->comm);
        return -ESRCH;
    }
    return 0;
}

/* The connection to member i, recorded as the next peer from the moment it exists (the
 * program may fork while it waits: forklock.c); 0, or -errno with nothing recorded. */
static int connect_member(uint32_t i, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    uint32_t k = t->npeers++;
    int r;

    t->peer_member[k] = i;
    t->peers[k] = -1;
    if ((r = connect_socket(&t->members[i], &t->peers[k], err, errlen)) < 0) {
        crs_fd_close(&t->peers[k]);
        t->npeers = k;
    }
    return r;
}

/* Before the handlers run: who is in the job, each member asked to take part, the parts
 * directory made. 0 with nothing to do for a process alone. */
int crs_tree_begin(struct crs_snap_request *req, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE], part[CRS_PATH_MAX];
    const char *base;
    uint32_t n;
    int r;

    t->active = 0;
    t->npeers = 0;
    t->parts_fd = t->dir_fd = -1;
    t->njob = 0;
    t->nleft_out = 0;
    req->tree = NULL;
    req->tree_members = NULL;
    req->ntree = 0;
    req->job_pids = t->job;
    req->njob = 0;
    if (t->role != CRS_TREE_ROOT)
        return 0;
    if ((r = list_tree(&n, err, errlen)) < 0)
        return r;
    t->nmembers = n;
    if (n == 1)
        return 0;                       /* no children now: an image of one process */

    /* The parts directory beside the image, named after it ("ckpt-000012.parts"). Made anew:
     * what a failed attempt left there is not this job's. */
    base = strrchr(req->path, '/');
    base = base ? base + 1 : req->path;
    memset(&t->head, 0, sizeof t->head);
    size_t bl = strlen(base), sl = strlen(CRS_IMG_SUFFIX);
    if (bl > sl && !strcmp(base + bl - sl, CRS_IMG_SUFFIX))
        bl -= sl;
    if (bl + sizeof CRS_PUBLISH_PARTS_SUFFIX > sizeof t->head.parts) {
        crs_seterr(err, errlen, "image name too long for a job: %s", base);
        return -ENAMETOOLONG;
    }
    memcpy(t->head.parts, base, bl);
    memcpy(t->head.parts + bl, CRS_PUBLISH_PARTS_SUFFIX, sizeof CRS_PUBLISH_PARTS_SUFFIX);
    crs_seterr(t->final, sizeof t->final, "%s", base);
    t->dir_fd = req->dir_fd;
    crs_publish_remove_parts(t->dir_fd, t->head.parts);
    int held = crs_fds_lock();
    r = 0;
    if (mkdirat(t->dir_fd, t->head.parts, 0700) < 0 ||
        (t->parts_fd = openat(t->dir_fd, t->head.parts,
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        r = -errno;
    else
        t->parts_fd = crs_fd_high(t->parts_fd);
    crs_fds_unlock(held);
    if (r < 0) {
        crs_seterr(err, errlen, "cannot make the job's directory %s: %s", t->head.parts,
                 strerror(-r));
        return r;
    }
    t->active = 1;

    /* Every living member reached first (one just started may need a moment), then all
     * asked at once: each stops as soon as it is asked, and waits for the others. A zombie
     * is only listed. A process that runs without the library cannot take part: it and its
     * descendants are left out, said here, and listed by their parent's image as children
     * it does not hold (the job's restore does not make them). */
    for (uint32_t i = 1; i < n; i++) {
        const struct crs_img_tree_member *m = &t->members[i];
        int out = 0;
        for (uint32_t j = 0; j < t->nleft_out; j++)
            out |= (pid_t)m->ppid == t->left_out[j];
        if (m->flags & CRS_TREE_F_ZOMBIE)
            continue;
        int fd = out ? -ENOEXEC : connect_member(i, err, errlen);
        if (fd == -ENOEXEC) {
            if (!out)
                crs_log(CRS_LOG_ERROR, "warning: not restorable: %s: it is left out of the "
                        "job's image, with the processes it started", err);
            t->left_out[t->nleft_out++] = (pid_t)m->pid;
            continue;
        }
        if (fd < 0) {
            crs_tree_abort();
            return fd == -ESRCH ? -EAGAIN : fd;   /* it may be starting: look again */
        }
    }
    if (t->nleft_out) {                 /* the members' indexes change: remap the peers */
        struct crs_img_tree_member *kept = t->again;
        uint32_t nkept = n;
        memcpy(kept, t->members, n * sizeof *kept);
        drop_left_out(kept, &nkept);
        for (uint32_t k = 0; k < t->npeers; k++)
            for (uint32_t j = 0; j < nkept; j++)
                if (kept[j].pid == t->members[t->peer_member[k]].pid)
                    t->peer_member[k] = j;
        memcpy(t->members, kept, nkept * sizeof *kept);
        t->nmembers = n = nkept;
    }
    for (uint32_t k = 0; k < t->npeers; k++) {
        const struct crs_img_tree_member *m = &t->members[t->peer_member[k]];
        const char *slash = strrchr(req->path, '/');
        int fd = t->peers[k];
        crs_seterr(line, sizeof line, "tree %llu %d\n", (unsigned long long)req->seq,
                   crs_state.cur.kill);
        /* DIR/PARTS/PID.crsnap, DIR the image's directory */
        crs_seterr(part, sizeof part, "%.*s/%s/%u%s\n", slash ? (int)(slash - req->path) : 1,
                   slash ? req->path : ".", t->head.parts, m->pid, CRS_IMG_SUFFIX);
        if ((r = send_line(fd, line)) < 0 ||
            (r = read_line(fd, line, sizeof line, STEP_MS)) < 0 ||
            strcmp(line, "accepted") || (r = send_line(fd, part)) < 0) {
            crs_seterr(err, errlen, "process %u (%s) of the job refused to take part%s%s",
                       m->pid, m->comm, r >= 0 ? ": " : "", r >= 0 ? line : "");
            crs_tree_abort();
            return r == -EPIPE ? -EAGAIN : r < 0 ? r : -ECANCELED;   /* it ended or exec'd */
        }
    }

    /* The root's own image goes into the parts directory too; it moves beside it, under the
     * job's name, once every part is durable. */
    req->dir_fd = t->parts_fd;
    crs_seterr(t->dir, sizeof t->dir, "%s", req->dir);
    crs_seterr(req->path, sizeof req->path, "%s/%s/%u%s", req->dir[0] ? req->dir : ".",
             t->head.parts, (unsigned)crs_state.public_pid, CRS_IMG_SUFFIX);
    req->dir[0] = 0;
    t->head.nmembers = n;
    req->tree = &t->head;
    req->tree_members = t->members;
    req->ntree = n;
    return 0;
}

/* A member's step: it tells the root where it is and waits for the word to go on. */
static int member_step(const char *say, const char *want, char *err, size_t errlen)
{
    char line[CRS_TREE_LINE];
    int fd = crs_state.tree.leader_fd;

    crs_seterr(line, sizeof line, "%s\n", say);
    if (send_line(fd, line) < 0 || read_line(fd, line, sizeof line, STEP_MS) < 0 ||
        strcmp(line, want)) {
        crs_seterr(err, errlen, "the job's checkpoint was called off by its root");
        return -ECANCELED;
    }
    return 0;
}

/* One round of the protocol, on either side: a member says where it is and waits for the
 * word; the root hears every member say it, then gives the word. */
static int step(const char *say, const char *word, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[16];
    int r;

    if (t->role == CRS_TREE_MEMBER && t->leader_fd >= 0)
        return member_step(say, word, err, errlen);
    if (!t->active)
        return 0;
    if ((r = hear_all(say, STEP_MS, err, errlen)) < 0)
        return r;
    crs_seterr(line, sizeof line, "%s\n", word);
    tell_all(line);
    return 0;
}

/* Before anyone stops: every process prepared (handlers run, what it reads read). */
int crs_tree_prepared(char *err, size_t errlen)
{
    return step("prepared", "stop", err, errlen);
}

/* A member stopped: it says so, and waits for "go" with the job's pids. */
static int member_go(char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE];
    const char *p = line + 2;
    int fd = t->leader_fd;

    t->njob = 0;
    if (send_line(fd, "ready\n") < 0 || read_line(fd, line, sizeof line, STEP_MS) < 0 ||
        strncmp(line, "go", 2) || (line[2] && line[2] != ' ')) {
        crs_seterr(err, errlen, "the job's checkpoint was called off by its root");
        return -ECANCELED;
    }
    while (*p == ' ' && t->njob < CRS_IMG_TREE_MAX) {
        uint64_t pid;
        p++;
        if (crs_parse_dec(&p, &pid) || !pid || pid > INT32_MAX)
            break;
        t->job[t->njob++] = (int)pid;
    }
    crs_state.req.njob = t->njob;
    return 0;
}

/* The root: "go" and the pids of the job's processes that hold descriptors (all but the
 * zombies), which each snapshot child needs to tell what is the job's. */
static void tell_go(void)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE];
    struct crs_sbuf b;

    t->njob = 0;
    crs_sb_init(&b, line, sizeof line);
    crs_sb_str(&b, "go");
    for (uint32_t i = 0; i < t->nmembers; i++) {
        if (t->members[i].flags & CRS_TREE_F_ZOMBIE)
            continue;
        /* the root as it is seen here, whatever pid outsiders know it by */
        t->job[t->njob] = i == 0 ? getpid() : (int)t->members[i].pid;
        crs_sb_str(&b, " ");
        crs_sb_u64(&b, (uint64_t)t->job[t->njob++]);
    }
    crs_sb_str(&b, "\n");
    crs_state.req.njob = t->njob;
    tell_all(line);
}

/* The root, its own threads stopped: every member stopped too, and nobody came or went. */
int crs_tree_stopped(char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    struct crs_img_tree_member *now = t->again;
    uint32_t n = 0;
    int r;

    if (t->role == CRS_TREE_MEMBER && t->leader_fd >= 0)
        return member_go(err, errlen);
    if (!t->active)
        return 0;
    if ((r = hear_all("ready", STEP_MS, err, errlen)) < 0)
        return r;
    /* A fork or an exit since the first look: this attempt does not hold the whole job. */
    memcpy(now, t->members, t->nmembers * sizeof *now);
    if ((r = list_tree(&n, err, errlen)) < 0)
        return r;
    int same = n == t->nmembers;
    for (uint32_t i = 0; same && i < n; i++)
        same = now[i].pid == t->members[i].pid && now[i].flags == t->members[i].flags;
    memcpy(t->members, now, t->nmembers * sizeof *now);
    if (!same) {
        crs_seterr(err, errlen, "a process of the job started or ended during the checkpoint");
        return -EAGAIN;
    }
    tell_go();
    return 0;
}

/* After the snapshot clone, threads still stopped: every member's snapshot taken. */
int crs_tree_forked(char *err, size_t errlen)
{
    return step("forked", "resume", err, errlen);
}

/* Members' results: "ok SEQ PATH" each. 0, or -errno with err. */
static int hear_results(char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE];
    for (uint32_t i = 0; i < t->npeers; i++) {
        const struct crs_img_tree_member *m = &t->members[t->peer_member[i]];
        int r = read_line(t->peers[i], line, sizeof line, -1);
        if (r >= 0 && !strncmp(line, "ok ", 3))
            continue;
        if (r >= 0 && said_error(m, line, err, errlen))
            return -EIO;
        crs_seterr(err, errlen, "process %u (%s) of the job went away before its image was "
                 "written", m->pid, m->comm);
        return -EPIPE;
    }
    return 0;
}

/* The root's image, in the parts directory, moves beside it under the job's name; then
 * `latest` and retention, as a process alone has them. */
static int publish(struct crs_result *res, char *err, size_t errlen)
{
    struct crs_tree_state *t = &crs_state.tree;
    char own[32];
    int r;

    crs_seterr(own, sizeof own, "%u%s", (unsigned)crs_state.public_pid, CRS_IMG_SUFFIX);
    if (renameat2(t->parts_fd, own, t->dir_fd, t->final, t->dir[0] ? RENAME_NOREPLACE : 0) < 0) {
        r = -errno;
        crs_seterr(err, errlen, "cannot publish the job as %s: %s", t->final, strerror(-r));
        return r;
    }
    fsync(t->parts_fd);
    fsync(t->dir_fd);
    if (t->dir[0]) {
        crs_seterr(res->path, sizeof res->path, "%s/%s", t->dir, t->final);
        if ((r = crs_publish_latest(t->dir_fd, t->final, crs_state.job_id)) < 0)
            crs_log(CRS_LOG_ERROR, "cannot update %s/latest: %s", t->dir, strerror(-r));
        crs_publish_retain(t->dir_fd, crs_state.cfg.keep, t->final, crs_state.job_id,
                           t->dents, sizeof t->dents);
    } else {
        const char *slash = strrchr(res->path, '/');
        char dir[CRS_PATH_MAX];
        crs_seterr(dir, sizeof dir, "%s", res->path);
        /* res->path is DIR/PARTS/PID.crsnap: DIR/FINAL */
        for (int up = 0; up < 2 && (slash = strrchr(dir, '/')); up++)
            dir[slash - dir] = 0;
        crs_seterr(res->path, sizeof res->path, "%s/%s", dir, t->final);
    }
    return 0;
}

int crs_tree_results(struct crs_result *res)
{
    struct crs_tree_state *t = &crs_state.tree;
    char err[sizeof res->message];
    int r = 0;

    if (!t->active)
        return 0;
    if (!res->error) {
        if ((r = hear_results(err, sizeof err)) == 0)
            r = publish(res, err, sizeof err);
        if (r < 0) {
            res->error = r;
            crs_seterr(res->message, sizeof res->message, "%s", err);
        }
    }
    return r;
}

/* The end of a checkpoint, whatever its outcome. exit: the members end (kill mode, done). */
void crs_tree_end(int ok, int exit)
{
    struct crs_tree_state *t = &crs_state.tree;

    if (t->role == CRS_TREE_MEMBER) {
        crs_fd_close(&t->leader_fd);
        t->pending = 0;
        return;
    }
    if (!t->active)
        return;
    if (exit) {
        tell_all(ok ? "exit\n" : "continue\n");
        /* the job ends: the processes left out of its image too, which no word reaches */
        for (uint32_t i = 0; ok && i < t->nleft_out; i++)
            kill(t->left_out[i], SIGKILL);
        /* the job is gone when the root is: wait for each member's end (its connection
         * closes), so that a restore right after finds their pids free */
        if (ok) {
            char line[CRS_TREE_LINE];
            for (uint32_t i = 0; i < t->npeers; i++)
                while (read_line(t->peers[i], line, sizeof line, STEP_MS) >= 0) {
                }
        }
    }
    close_peers();
    if (!ok && t->dir_fd >= 0)
        crs_publish_remove_parts(t->dir_fd, t->head.parts);
    crs_fd_close(&t->parts_fd);
    /* the request's directory is the image directory again: it closes it, once */
    if (t->dir_fd >= 0)
        crs_state.req.dir_fd = t->dir_fd;
    t->parts_fd = t->dir_fd = -1;
    crs_state.req.tree = NULL;
    crs_state.req.ntree = 0;
    t->active = 0;
}

/* Called off before the members stopped, or in between: each member aborts on its own when
 * its connection ends. */
void crs_tree_abort(void)
{
    struct crs_tree_state *t = &crs_state.tree;
    if (t->role == CRS_TREE_ROOT && t->active)
        tell_all("abort\n");
    crs_tree_end(0, 0);
}

/* A restored process: the connections of the checkpoint it comes back from are gone (their
 * numbers may be the program's now: nothing is closed). The root's image has its final name. */
void crs_tree_restarted(void)
{
    struct crs_tree_state *t = &crs_state.tree;

    if (t->role == CRS_TREE_ROOT && t->active && t->dir[0])
        crs_seterr(crs_state.req.path, sizeof crs_state.req.path, "%s/%s", t->dir, t->final);
    t->active = t->pending = 0;
    t->npeers = 0;
    t->leader_fd = t->parts_fd = t->dir_fd = -1;
    t->forwarded = atomic_load(&crs_state.req_seq);
}

unsigned crs_tree_fds(int *out, unsigned room)
{
    struct crs_tree_state *t = &crs_state.tree;
    int one[] = { t->leader_fd, t->parts_fd, t->dir_fd };
    unsigned n = 0;

    for (unsigned i = 0; i < 3 && n < room; i++)
        if (one[i] >= 0)
            out[n++] = one[i];
    for (uint32_t i = 0; i < t->npeers && n < room; i++)
        if (t->peers[i] >= 0)
            out[n++] = t->peers[i];
    return n;
}

/* ---- a member ---- */

/* The control request "tree SEQ KILL": the member takes part in the root's checkpoint. The
 * connection is kept; the path follows. Returns 1 (fd kept) or 0 (answered and closed). */
int crs_tree_serve(int fd, const char *line)
{
    struct crs_tree_state *t = &crs_state.tree;
    unsigned long long seq;
    int kill, r;
    char path[CRS_PATH_MAX];

    if (t->role != CRS_TREE_MEMBER || sscanf(line, "tree %llu %d", &seq, &kill) != 2) {
        crs_control_reply(fd, EINVAL, 0, NULL, "not a member of a job");
        return 0;
    }
    /* The coordinator serves requests only between checkpoints: a request not started yet
     * is one the root gave up; this one replaces it. */
    crs_fd_close(&t->leader_fd);
    t->pending = 0;
    fd = crs_fd_high(fd);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    /* The exchange may wait for the root: crs_control_serve's fd lock (forklock.c), held once
     * here, is let go meanwhile, the connection recorded as the leader's. */
    t->leader_fd = fd;
    int held = crs_fds_let_go();
    r = send_line(fd, "accepted\n") < 0 ? -EPIPE : read_line(fd, path, sizeof path, STEP_MS);
    if (held)
        crs_fds_lock();
    if (r <= 0) {
        crs_fd_close(&t->leader_fd);
        return 1;
    }
    crs_seterr(t->path, sizeof t->path, "%s", path);
    t->seq = seq;
    t->kill = kill;
    t->leader_fd = fd;
    t->pending = 1;
    return 1;
}

/* A member's request whose connection has ended or says "abort" already: the root gave up on
 * this attempt before the member could start it. */
int crs_tree_stale(void)
{
    struct pollfd pf = { .fd = crs_state.tree.leader_fd, .events = POLLIN };
    return pf.fd < 0 || poll(&pf, 1, 0) != 0;
}

/* The member's result to the root; in kill mode, waits for the root's word and ends when the
 * whole job is saved. */
void crs_tree_report(const struct crs_result *res)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE];

    if (t->role != CRS_TREE_MEMBER || t->leader_fd < 0)
        return;
    crs_snap_result_line(line, sizeof line, res->error, res->message, res->seq, res->path);
    send_line(t->leader_fd, line);
}

/* Kill mode: after the report, the root says whether the whole job is saved. 1 = end now. */
int crs_tree_wait_exit(void)
{
    struct crs_tree_state *t = &crs_state.tree;
    char line[CRS_TREE_LINE];

    if (t->role != CRS_TREE_MEMBER || t->leader_fd < 0)
        return 1;
    return read_line(t->leader_fd, line, sizeof line, -1) >= 0 && !strcmp(line, "exit");
}

/* A trigger in a member (its timer, its signal, the API, its control socket) checkpoints the
 * whole job: the root is asked. Returns 0 or -errno. */
int crs_tree_forward(void)
{
    struct crs_tree_state *t = &crs_state.tree;
    struct crs_img_tree_member root = { .pid = (uint32_t)t->root };
    char err[256];
    int r;

    crs_seterr(root.comm, sizeof root.comm, "root");
    if ((r = connect_socket(&root, &t->forward_fd, err, sizeof err)) == 0)
        r = send_line(t->forward_fd, "checkpoint\n");
    crs_fd_close(&t->forward_fd);
    return r;
}

/* Which part this process plays, from the environment `crsnap run` set: CRSNAP_PID names the
 * root; any other process that has the library is a member. */
void crs_tree_role(void)
{
    const char *root = getenv("CRSNAP_PID");
    struct crs_tree_state *t = &crs_state.tree;

    t->leader_fd = t->forward_fd = -1;
    t->parts_fd = t->dir_fd = -1;
    t->role = CRS_TREE_NONE;
    const char *tree = getenv("CRSNAP_TREE");
    if (!root || !*root || (tree && !strcmp(tree, "0")))
        return;
    t->root = (pid_t)atoi(root);
    t->role = t->root == getpid() ? CRS_TREE_ROOT : CRS_TREE_MEMBER;
}
