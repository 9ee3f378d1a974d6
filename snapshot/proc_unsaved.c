/* snapshot/proc_unsaved.c - what a restore will not bring back, said once at the checkpoint:
 * the descriptors the restore leaves closed (each kind says, fds/) and the children of the
 * process (but those of its job), each with a short description for a person. Runs in the forked snapshot child:
 * no malloc, no stdio, no locks. It reads the child's copies of the descriptors (socket
 * addresses) and, for children, the live /proc of the checkpointed process.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "common/proc_util.h"
#include "image/fdkind.h"
#include "image/timers.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct scan {
    struct crs_img_unsaved *out;
    size_t max, n;
    struct crs_strtab *st;
    int children[CRS_PROC_MAX_CHILDREN];
    char comms[CRS_PROC_MAX_CHILDREN][17];
    int nchildren;
};

/* The children of pid: every process whose parent it is (the kernel's per-thread children
 * lists need CONFIG_PROC_CHILDREN, which not every kernel has, so /proc is walked). */
static void find_children(struct scan *s, int pid)
{
    char dents[4096], text[512], p[64];
    struct crs_dirwalk w;
    const char *name;
    int self = getpid();
    int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0)
        return;
    crs_dirwalk_init(&w, dfd, dents, sizeof dents);
    while (crs_dirwalk_next(&w, &name) > 0 && s->nchildren < CRS_PROC_MAX_CHILDREN) {
        int v = crs_dirent_num(name);
        if (v <= 0 || v == self || v == pid)
            continue;
        crs_fd_path(p, sizeof p, "/proc/", v);
        size_t pl = crs_strlen(p);
        memcpy(p + pl, "/stat", 6);
        long n = crs_read_file(p, text, sizeof text);
        if (n <= 0)
            continue;
        /* "pid (comm) S ppid ...": comm may hold ')', the last one ends it */
        char *open_p = memchr(text, '(', (size_t)n), *close_p = NULL;
        for (char *q = text + n - 1; q > text; q--)
            if (*q == ')') {
                close_p = q;
                break;
            }
        if (!open_p || !close_p || close_p < open_p || close_p + 4 >= text + n)
            continue;
        const char *q = close_p + 4;    /* past ") S " */
        uint64_t ppid;
        if (crs_parse_dec(&q, &ppid) || ppid != (uint64_t)pid)
            continue;
        size_t cl = (size_t)(close_p - open_p - 1);
        cl = cl > 16 ? 16 : cl;
        memcpy(s->comms[s->nchildren], open_p + 1, cl);
        s->comms[s->nchildren][cl] = '\0';
        s->children[s->nchildren++] = v;
    }
    close(dfd);
}

static void add(struct scan *s, uint32_t kind, int fd, int pid, const char *what)
{
    if (s->n == s->max)
        return;
    struct crs_img_unsaved *u = &s->out[s->n++];
    u->kind = kind;
    u->fd = fd;
    u->pid = (uint32_t)pid;
    u->what = crs_strtab_add(s->st, what); /* a full table leaves it without text */
}

static void sb_child(struct crs_sbuf *b, const struct scan *s, int c)
{
    crs_sb_str(b, "child process ");
    crs_sb_u64(b, (uint64_t)s->children[c]);
    crs_sb_str(b, " (");
    crs_sb_str(b, s->comms[c]);
    crs_sb_str(b, ")");
}

long crs_proc_unsaved(struct crs_img_unsaved *out, size_t max, struct crs_strtab *st,
                      const struct crs_img_fd *fds, size_t nfds,
                      const struct crs_snap_deleted *del, uint32_t ndel, int pid,
                      const int *job, uint32_t njob)
{
    struct scan s;
    char what[512];
    struct crs_sbuf b;

    s.out = out;
    s.max = max;
    s.n = 0;
    s.st = st;
    s.nchildren = 0;
    find_children(&s, pid);
    struct crs_fd_scan scan = {
        .fds = fds, .nfds = nfds, .strings = st->buf, .deleted = del, .ndeleted = ndel,
        .children = s.children, .comms = (const char (*)[17])s.comms,
        .nchildren = s.nchildren, .job = job, .njob = (int)njob,
    };
    for (size_t i = 0; i < nfds; i++) {
        const struct crs_img_fd *f = &fds[i];
        const struct crs_fd_ops *k = crs_fd_ops_of(f->kind);
        if (k->restorable ? k->restorable(&scan, f) : f->fd <= 2)
            continue;
        crs_sb_init(&b, what, sizeof what);
        if (k->describe)
            k->describe(&scan, f, &b);
        else
            crs_sb_str(&b, crs_fd_scan_path(&scan, f));
        add(&s, CRS_UNSAVED_FD, f->fd, 0, what);
    }
    for (int c = 0; c < s.nchildren; c++) {
        int in_job = 0;
        for (uint32_t j = 0; j < njob; j++)
            in_job |= job[j] == s.children[c];
        if (in_job)
            continue;                   /* the job's restore makes it again */
        crs_sb_init(&b, what, sizeof what);
        sb_child(&b, &s, c);
        add(&s, CRS_UNSAVED_CHILD, -1, s.children[c], what);
    }
    return (long)s.n;
}

long crs_proc_unsaved_timers(struct crs_img_unsaved *out, size_t max, struct crs_strtab *st,
                             const struct crs_img_timer *timers, uint32_t n, uint32_t missed,
                             int pid, const struct crs_img_thread *threads, uint32_t nthreads)
{
    struct scan s = { .out = out, .max = max, .n = 0, .st = st };
    char what[256];
    struct crs_sbuf b;

    for (uint32_t i = 0; i < n; i++) {
        const char *why = crs_img_timer_why_not(&timers[i], (uint32_t)pid, threads, nthreads);
        if (!why)
            continue;
        crs_sb_init(&b, what, sizeof what);
        crs_sb_str(&b, "POSIX timer ");
        crs_sb_u64(&b, (uint64_t)timers[i].id);
        crs_sb_str(&b, ": ");
        crs_sb_str(&b, why);
        add(&s, CRS_UNSAVED_TIMER, -1, 0, what);
    }
    if (missed) {
        crs_sb_init(&b, what, sizeof what);
        crs_sb_u64(&b, missed);
        crs_sb_str(&b, " POSIX timers beyond the first ");
        crs_sb_u64(&b, CRS_IMG_MAX_TIMERS);
        add(&s, CRS_UNSAVED_TIMER, -1, 0, what);
    }
    return (long)s.n;
}
