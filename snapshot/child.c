/* snapshot/child.c - the snapshot child's driver: reads its own copy of the process (maps,
 * fds, signals, facts), has the image written (sections.c, with walk.c, pool.c, release.c),
 * publishes it and reports to the parent. Everything here runs in the forked child: no malloc,
 * no stdio, no locks. The memory it needs is mapped with mmap after the memory map has been
 * read, so none of it is mistaken for the process's.
 * crs_snapshot_host and crs_snapshot_scratch_size run in the parent (ordinary libc).
 */
#define _GNU_SOURCE
#include "child_internal.h"
#include "common/proc_util.h"
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define LINE_SIZE (64u << 10)
#define SCRATCH_SIZE (16u << 20)
#define UNSAVED_SHOWN 5                /* of which the report to the parent names the first */
#define PUBLISH_TRIES 64                /* numbers taken by others before giving up */
#define FAULT_STACK (64u << 10)        /* the walker's fault handler runs here (SA_ONSTACK) */
/* Descriptors recorded as crsnap's own: the request's, then the report and pause pipes. */
#define CHILD_INTERNAL_FDS (CRS_SNAP_MAX_INTERNAL_FDS + 2)

size_t crs_snap_result_line(char *line, size_t cap, int error,
                            const char *message, uint64_t seq, const char *path)
{
    struct crs_sbuf b;

    crs_sb_init(&b, line, cap - 1);
    if (error) {
        crs_sb_str(&b, "error ");
        crs_sb_u64(&b, (uint64_t)-error);
        crs_sb_str(&b, " ");
        for (const char *t = message; *t; t++) {
            char one[2] = { *t == '\n' ? ' ' : *t, '\0' };
            crs_sb_str(&b, one);
        }
    } else {
        crs_sb_str(&b, "ok ");
        crs_sb_u64(&b, seq);
        crs_sb_str(&b, " ");
        crs_sb_str(&b, path);
    }
    line[b.len] = '\n';
    line[b.len + 1] = '\0';
    return b.len + 1;
}

/* A member of a job: the outcome goes to the job's root on the connection the child shares
 * with its parent, as the parent would have sent it. From here, because the parent may have
 * executed another program meanwhile, and its end of the connection with it. */
static void tell_leader(const struct crs_snap_request *req, const struct crs_snap_report *rep)
{
    char line[CRS_PATH_MAX + 320];

    if (req->leader_fd < 0)
        return;
    size_t len = crs_snap_result_line(line, sizeof line, rep->error, rep->message, rep->seq,
                                      rep->path);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(req->leader_fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

__attribute__((noreturn)) static void finish(struct child *c, int err, const char *note,
                                             uint64_t t0)
{
    const struct crs_snap_request *req = c->req;
    struct crs_snap_report rep;
    struct crs_sbuf b;

    memset(&rep, 0, sizeof rep);
    rep.error = err;
    rep.bytes_written = err ? 0 : crs_writer_pos(&c->w);
    rep.memory_covered = c->proc.memory_covered;
    rep.memory_saved = c->proc.memory_saved;
    /* the write ends when the image is published: retention's deletions after it are not
     * part of it (unlinking an old full image of some GiB takes hundreds of ms) */
    rep.write_ns = (!err && c->published_ns ? c->published_ns : now_ns(CLOCK_MONOTONIC)) - t0;
    rep.seq = c->seq;
    crs_sb_init(&b, rep.path, sizeof rep.path);
    crs_sb_str(&b, c->final[0] ? c->final : req->path);
    crs_sb_init(&b, rep.message, sizeof rep.message);
    rep.released = c->released;
    rep.crashed = c->fault[0] != 0;
    rep.uring = c->w.uring_err == 0 && !req->force_pwrite;
    rep.uring_err = c->w.uring_err;
    rep.direct = c->no_direct ? -1 : c->w.direct_used;
    rep.direct_err = c->w.direct_err;
    rep.depth = c->incr ? req->track.depth : 0;
    rep.inherited = c->inherited;
    rep.toc_checksum = XXH3_64bits(c->toc, c->ntoc * sizeof c->toc[0]); /* as the trailer's */
    if (err) {
        crs_sb_str(&b, c->stage ? c->stage : "writing");
        crs_sb_str(&b, " ");
        crs_sb_str(&b, c->final[0] ? c->final : req->path);
        crs_sb_str(&b, ": ");
        crs_sb_str(&b, c->fault[0] ? c->fault : crs_errno_text(err));
    } else if (note) {
        crs_sb_str(&b, note);
    }
    /* the parent logs these: say the first few, it says how many more */
    rep.nunsaved = c->unsaved ? (uint32_t)c->nunsaved : 0;
    crs_sb_init(&b, rep.unsaved, sizeof rep.unsaved);
    for (uint32_t i = 0; i < rep.nunsaved && i < UNSAVED_SHOWN; i++) {
        const struct crs_img_unsaved *u = &c->unsaved[i];
        size_t before = b.len;
        if (u->kind == CRS_UNSAVED_FD) {
            crs_sb_str(&b, "fd ");
            crs_sb_u64(&b, (uint64_t)u->fd);
            crs_sb_str(&b, ": ");
        }
        /* one line each: a name with a newline or escape in it must not make more */
        for (const char *t = c->st.buf + u->what; *t; t++) {
            char one[2] = {(unsigned char)*t < 0x20 || *t == 0x7f ? '?' : *t, '\0'};
            crs_sb_str(&b, one);
        }
        crs_sb_str(&b, "\n");
        if (b.full) {               /* no half line: the count says the rest */
            b.len = before;
            b.p[before] = '\0';
            break;
        }
        rep.unsaved_shown++;
    }
    tell_leader(req, &rep);
    if (req->report_fd >= 0) {
        const char *p = (const char *)&rep;
        size_t left = sizeof rep;
        while (left) {
            ssize_t n = write(req->report_fd, p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
    }
    _exit(err ? 1 : 0);
}

void crs_child_fail(struct child *c, int err, uint64_t t0)
{
    if (c->out_fd >= 0) {
        crs_writer_end(&c->w);
        close(c->out_fd);
        c->out_fd = -1;
    }
    if (c->temp[0])
        unlinkat(c->req->dir_fd, c->temp, 0);
    finish(c, err, NULL, t0);
}

/* Whether the process this child copies has ended: the child was reparented (to a subreaper
 * or init), and /proc/PARENT would name another process, or none. What the child read before
 * a check that passes was read from its parent, alive. */
static int parent_gone(const struct crs_snap_request *req)
{
    return req->parent > 0 && crs_sys0(SYS_getppid) != req->parent;
}

static void ignore_signal(int sig)
{
    struct crs_img_sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.handler = (uint64_t)(uintptr_t)SIG_IGN;
    syscall(SYS_rt_sigaction, sig, &sa, NULL, CRS_ARCH_SIGSET_SIZE);
}

/* Gives the finished temporary file (c->out_fd, c->temp) its final name. An explicit path is
 * replaced, as asked; in DIR no image is ever replaced: when another process (another job, or
 * another restore of this one) took the number meanwhile, the image takes the next one above
 * the highest there, with its header renumbered to match, and tries again. Sets c->final and
 * c->seq. Returns 0 or -errno. */
static int publish(struct child *c, const char *base)
{
    const struct crs_snap_request *req = c->req;
    char name[CRS_PUBLISH_NAME_SIZE];
    struct crs_sbuf b;
    int r;

    c->seq = req->seq;
    crs_sb_init(&b, c->final, sizeof c->final);
    crs_sb_str(&b, req->path);
    if (!req->dir[0])
        return crs_publish_commit(req->dir_fd, c->out_fd, c->temp, base, 1);
    for (int tries = 0; tries < PUBLISH_TRIES; tries++) {
        if ((r = crs_publish_image_name(c->seq, name, sizeof name)))
            return r;
        crs_sb_init(&b, c->final, sizeof c->final);
        crs_sb_str(&b, req->dir);
        crs_sb_str(&b, "/");
        crs_sb_str(&b, name);
        if (b.full)
            return -ENAMETOOLONG;
        r = crs_publish_commit(req->dir_fd, c->out_fd, c->temp, name, 0);
        if (r != -EEXIST)
            return r;
        int64_t top = crs_publish_max_seq(req->dir_fd);
        if (top < 0)
            return (int)top;
        c->seq = (uint64_t)top >= c->seq ? (uint64_t)top + 1 : c->seq + 1;
        if ((r = crs_child_renumber(c, c->seq)))
            return r;
    }
    return -EEXIST;
}

/* 1. The memory map, into the parent's scratch, before anything of ours is mapped. */
static void read_map(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    long n;

    /* the scratch's end holds the queued bytes (snapshot.h): the rest is ours */
    size_t parse = req->scratch_size - CRS_SNAP_QUEUED_MAX;
    size_t vbytes = parse * 3 / 8;
    if (!req->scratch || req->scratch_size < CRS_SNAP_QUEUED_MAX + 4 * LINE_SIZE) {
        c->stage = "preparing";
        finish(c, -EINVAL, NULL, c->t0);
    }
    const struct crs_proc_ranges locked = { req->ranges, req->ranges_how, req->nranges };
    c->vmas = req->scratch;
    crs_strtab_init(&c->st, (char *)req->scratch + vbytes, (uint32_t)(parse - vbytes - LINE_SIZE));
    c->line = (char *)req->scratch + parse - LINE_SIZE;
    n = crs_proc_maps(c->vmas, vbytes / sizeof *c->vmas, &c->st, c->line, LINE_SIZE, &locked);
    if (n < 0) {
        c->stage = "reading the memory map for";
        finish(c, (int)n, NULL, c->t0);
    }
    c->nvmas = (size_t)n;
}

/* 2. Our own memory, one mapping: the writer's buffers, the compression pool (the helper's
 * stack at its end), the fault handler's stack, a batch of pagemap entries and of mincore
 * bytes, the descriptor and unsaved lists, the work buffer. Starts the pool; returns the
 * writer's part. */
static char *own_memory(struct child *c)
{
    size_t poolbytes = crs_pool_size(&c->pool, c->req->level);
    size_t fdbytes = MAX_FDS * sizeof(struct crs_img_fd) +
                     MAX_UNSAVED * sizeof(struct crs_img_unsaved) +
                     CRS_IMG_MAPHASH_RECORDS * sizeof(struct crs_img_maphash) +
                     CRS_IMG_GUARD_RECORDS * sizeof(struct crs_img_guard) +
                     CRS_IMG_SHMOBJ_RECORDS * sizeof(struct crs_img_shmobj);
    size_t total = CRS_WRITER_MEM + poolbytes + FAULT_STACK + BATCH * 8 + BATCH + fdbytes +
                   WORK_SIZE;
    total = (total + 4 * CRS_IMG_PAGE_SIZE) & ~(size_t)(CRS_IMG_PAGE_SIZE - 1);
    char *mem = mmap(NULL, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        c->stage = "preparing";
        finish(c, -errno, NULL, c->t0);
    }
    char *helper_top = crs_pool_place(&c->pool, mem + CRS_WRITER_MEM);
    if (!helper_top) {
        c->stage = "preparing the compressor for";
        finish(c, -ENOMEM, NULL, c->t0);
    }
    char *at = helper_top;
    stack_t alt = { .ss_sp = at, .ss_size = FAULT_STACK };
    sigaltstack(&alt, NULL);
    at += FAULT_STACK;
    c->pm = (uint64_t *)at;
    c->mc = (unsigned char *)(c->pm + BATCH);
    c->fds = (struct crs_img_fd *)(((uintptr_t)(c->mc + BATCH) + 63) & ~(uintptr_t)63);
    c->unsaved = (struct crs_img_unsaved *)(c->fds + MAX_FDS);
    c->maphash = (struct crs_img_maphash *)(c->unsaved + MAX_UNSAVED);
    c->guards = (struct crs_img_guard *)(c->maphash + CRS_IMG_MAPHASH_RECORDS);
    c->shmobj = (struct crs_img_shmobj *)(c->guards + CRS_IMG_GUARD_RECORDS);
    c->work = (char *)(c->shmobj + CRS_IMG_SHMOBJ_RECORDS);
    crs_pool_bind(c);
    /* the helper, where a second CPU is there to run it and nothing forbids it */
    crs_pool_start(&c->pool, helper_top, c->req->hooks.one_thread);
    return mem;
}

/* 4. The image's file, under a temporary name in the directory the parent checked (base is
 * the final name there), and the writer on it. */
static void create_image(struct child *c, const char *base, char *wmem)
{
    const struct crs_snap_request *req = c->req;

    c->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (c->pagemap_fd < 0) {
        c->stage = "opening the page map for";
        finish(c, -errno, NULL, c->t0);
    }
    c->out_fd = crs_publish_create_temp(req->dir_fd, base, req->job_id, c->temp, sizeof c->temp);
    if (c->out_fd < 0) {
        int e = c->out_fd;
        c->temp[0] = '\0';
        c->stage = "creating";
        finish(c, e, NULL, c->t0);
    }
    crs_writer_init(&c->w, c->out_fd, req->force_pwrite, wmem);
    /* Whole slots go to the disk directly: no copy into the page cache (a quarter of the
     * child's CPU time for a mixed image), and the image does not push the program's own
     * cached files out. CRSNAP_NO_DIRECT=1 keeps every write buffered. */
    if (!req->no_direct) {
        int dfd = openat(req->dir_fd, c->temp, O_WRONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0)
            crs_writer_set_direct(&c->w, dfd);
        else
            c->w.direct_err = -errno;
    } else {
        c->no_direct = 1;
    }
    c->w.test_rw_flags = req->hooks.uring_rw_flags; /* test hook: writes the ring refuses */
    if (!c->w.uring && !req->force_pwrite) {
        if (req->log_level > 0) {
            static const char msg[] = "crsnap: io_uring unavailable, writing images with pwrite\n";
            if (write(2, msg, sizeof msg - 1) < 0) {
            }
        }
    }
}

/* 6. After publication in DIR: `latest`, the temporary files of killed writers, retention. */
static void tidy_dir(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    const char *name = c->final + crs_strlen(req->dir) + 1;
    int r;

    c->stage = "linking latest to";
    if ((r = crs_publish_latest(req->dir_fd, name, req->job_id)))
        finish(c, r, NULL, c->t0);
    c->published_ns = now_ns(CLOCK_MONOTONIC);
    crs_publish_clean_temps(req->dir_fd, req->job_id); /* best effort: killed writers' */
    c->stage = "applying retention after";
    r = crs_publish_retain(req->dir_fd, req->keep, name, req->job_id, c->work, WORK_SIZE);
    if (r < 0)
        finish(c, r, NULL, c->t0);
}

int crs_child_wait_pause(struct child *c)
{
    struct pollfd pfd = { c->req->pause_fd, POLLIN, 0 };
    uint64_t v = 0;

    if (c->pause_read)
        return 0;
    if (c->req->pause_fd < 0 || poll(&pfd, 1, 10000) != 1 || !(pfd.revents & POLLIN) ||
        read(c->req->pause_fd, &v, sizeof v) != sizeof v)
        return -1;
    c->pause_read = 1;
    c->pause_ns = v;
    return 0;
}

void crs_snapshot_child(const struct crs_snap_request *req)
{
    static const char uring_note[] = "io_uring unavailable, wrote with pwrite";
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    struct child c;
    int r;

    memset(&c, 0, sizeof c);
    c.t0 = t0;
    c.req = req;
    c.out_fd = -1;
    c.pagemap_fd = -1;

    /* 0. the program's signal dispositions, recorded before ours replace some: the child must
     * never run the program's own handlers (a fault of ours would end in a JVM's, say) */
    crs_proc_signals(c.sig);
    /* a file size limit must fail a write with EFBIG, not kill the child */
    ignore_signal(SIGXFSZ);
    ignore_signal(SIGPIPE);
    crs_child_catch_faults(&c);
    read_map(&c);
    char *wmem = own_memory(&c);
    /* test hooks: slow writes (to kill the child mid-write), the pagemap fallback, a crash
     * (reading page 0, to check the report of one and the retry) */
    c.no_scan = req->hooks.no_pagemap_scan;
    c.test_fault = req->hooks.child_crash;
    c.delay_ms = (long)req->hooks.write_delay_ms;

    /* 3. descriptors and process facts, before we open any of our own (a test hook holds the
     * child back here, so that the process runs on before they are read) */
    uint32_t fdd = req->hooks.fds_delay_ms;
    if (fdd) {
        struct timespec ts = {(time_t)(fdd / 1000), (long)(fdd % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    int internal[CHILD_INTERNAL_FDS];
    int ni = 0;
    for (uint32_t i = 0; i < req->ninternal && ni < CRS_SNAP_MAX_INTERNAL_FDS; i++)
        internal[ni++] = req->internal_fds[i];
    internal[ni++] = req->report_fd;
    internal[ni++] = req->pause_fd;
    c.nfds = crs_proc_fds(c.fds, MAX_FDS, &c.st, internal, (uint32_t)ni, NULL, 0, c.work,
                          WORK_SIZE);
    if (c.nfds < 0) {
        c.stage = "reading the file descriptors for";
        finish(&c, (int)c.nfds, NULL, t0);
    }
    crs_proc_fds_apply(c.fds, (size_t)c.nfds, req->fdstate, req->nfdstate);
    r = crs_proc_process(&c.proc, &c.st, req->parent > 0 ? req->parent : getppid(), c.work,
                         WORK_SIZE);
    if (r) {
        c.stage = "reading the process state for";
        finish(&c, r, NULL, t0);
    }
    crs_proc_attrs(&c.attrs, req->parent > 0 ? req->parent : getppid(), c.work, WORK_SIZE);
    /* its pid and name come from /proc/PARENT: only good if the parent was alive throughout;
     * a job's member may end right after its snapshot: its image is the job's all the same */
    if (parent_gone(req) && req->leader_fd < 0) {
        c.stage = "the process ended before its state was read for";
        finish(&c, -ESRCH, NULL, t0);
    }
    c.nunsaved = crs_proc_unsaved(c.unsaved, MAX_UNSAVED, &c.st, c.fds, (size_t)c.nfds,
                                  req->deleted, req->deleted_memfd >= 0 ? req->ndeleted : 0,
                                  req->parent > 0 ? req->parent : getppid(), req->job_pids,
                                  req->njob);
    c.nunsaved += crs_proc_unsaved_timers(c.unsaved + c.nunsaved, MAX_UNSAVED - (size_t)c.nunsaved,
                                          &c.st, req->timers, req->ntimers, req->timers_missed,
                                          (int)c.proc.pid, req->threads, req->nthreads);

    crs_child_shm(&c);
    crs_release_plan(&c);
    /* A job's snapshot waits for the job to run again before it writes: until every process
     * of it has forked, the CPUs are theirs (on two cores, four children compressing meanwhile
     * made the job's pause twice as long). Not before the process facts are read: a member
     * that executes a program as soon as it runs again (a shell's child) would show that
     * program's in /proc, and the image would mix the two. */
    if (req->tree || req->leader_fd >= 0)
        crs_child_wait_pause(&c);
    /* smaps walks every page table: after the wait, not beside the job's forks */
    crs_proc_vmflags(c.vmas, c.nvmas, c.line, LINE_SIZE);

    /* 4. the image; every name from here on is relative to the directory the parent checked */
    const char *base = req->path;
    for (const char *p = req->path; *p; p++)
        if (*p == '/' && p[1])
            base = p + 1;
    create_image(&c, base, wmem);
    /* 5. written, then published */
    if ((r = crs_child_write_image(&c)))
        crs_child_fail(&c, r, t0);
    /* a process that ended meanwhile gets no image: its successor as `latest` would be an
     * image of a process that is gone, which nobody asked for any more */
    if (parent_gone(req) && req->leader_fd < 0) {   /* a job's image is of all its processes */
        c.stage = "the process ended while writing";
        crs_child_fail(&c, -ESRCH, t0);
    }
    crs_writer_end(&c.w);
    c.stage = "publishing";
    if ((r = publish(&c, base)))
        crs_child_fail(&c, r, t0);
    close(c.out_fd);
    c.out_fd = -1;
    c.temp[0] = '\0';
    if (req->dir[0])
        tidy_dir(&c);
    else
        c.published_ns = now_ns(CLOCK_MONOTONIC);
    finish(&c, 0, (!c.w.uring_err || req->force_pwrite) ? NULL : uring_note, t0);
}

int crs_snapshot_host(struct crs_img_host *out)
{
    struct utsname u;
    memset(out, 0, sizeof *out);
    if (uname(&u) < 0)
        return -errno;
    memcpy(out->sysname, u.sysname, sizeof out->sysname - 1);
    memcpy(out->release, u.release, sizeof out->release - 1);
    memcpy(out->version, u.version, sizeof out->version - 1);
    memcpy(out->machine, u.machine, sizeof out->machine - 1);
    strncpy(out->libc_version, gnu_get_libc_version(), sizeof out->libc_version - 1);
    out->xfeatures = crs_arch_xfeatures();
    long ps = sysconf(_SC_PAGESIZE);
    out->page_size = ps > 0 ? (uint32_t)ps : CRS_IMG_PAGE_SIZE;
    return 0;
}

size_t crs_snapshot_scratch_size(void)
{
    return SCRATCH_SIZE + CRS_SNAP_QUEUED_MAX;
}
