/* runtime/checkpoint.c - one checkpoint, run by the coordinator: close critical sections,
 * async prepares, quiesce, record the coordinator, save its context and clone the snapshot
 * child; then release the threads at once, resume, and collect the child's report.
 *
 * Between crs_quiesce_all() and the release, application threads are parked wherever they
 * were, possibly holding malloc's, stdio's or any other lock: the code there makes system
 * calls and formats into fixed buffers only. A restored process comes back out of
 * crs_arch_save_context() below and continues in crs_restarted() (coordinator.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"
#include "io/imgdir.h"
#include "snapshot/proc.h"
#include "snapshot/publish.h"


/* The highest sequence number of an image in dir (0 if none). */
uint64_t crs_scan_dir_seq(const char *dir)
{
    const size_t plen = strlen(CRS_IMG_PREFIX), slen = strlen(CRS_IMG_SUFFIX);
    uint64_t best = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char *end;
        if (n <= plen + slen || strncmp(e->d_name, CRS_IMG_PREFIX, plen) ||
            strcmp(e->d_name + n - slen, CRS_IMG_SUFFIX))
            continue;
        unsigned long long v = strtoull(e->d_name + plen, &end, 10);
        if (end == e->d_name + n - slen && v > best)
            best = v;
    }
    closedir(d);
    return best;
}


#define TREE_TRIES 6                    /* attempts at a job whose processes keep changing */

/* Fills the request's path and dir; the sequence number is taken in open_dir(). Before the
 * quiesce: it may allocate. */
static void choose_path(struct crs_snap_request *req, const char *explicit_path)
{
    req->dir_fd = -1;
    req->seq = 0;
    memcpy(req->job_id, crs_state.job_id, sizeof req->job_id);
    if (explicit_path) {
        snprintf(req->path, sizeof req->path, "%s", explicit_path);
        req->dir[0] = 0;
        return;
    }
    snprintf(req->dir, sizeof req->dir, "%s", crs_state.cfg.dir);
    req->path[0] = 0;
}

/* Opens and checks the directory the image goes into (io/imgdir.h; DIR is created when
 * missing, an explicit path's directory must exist) and, for DIR, takes the number after the
 * highest one there. The snapshot child names everything relative to this descriptor. Before
 * the quiesce. Returns 0, or -errno with res's message set. */
static int open_dir(struct crs_snap_request *req, struct crs_result *res)
{
    char dir[CRS_PATH_MAX];
    int fd;

    crs_fd_close(&req->dir_fd);
    if (req->dir[0]) {
        snprintf(dir, sizeof dir, "%s", req->dir);
    } else {
        const char *slash = strrchr(req->path, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else if (slash == req->path)
            snprintf(dir, sizeof dir, "/");
        else
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - req->path), req->path);
    }
    int held = crs_fds_lock();
    fd = crs_imgdir_open(dir, req->dir[0] != 0, res->message, sizeof res->message);
    if (fd >= 0)
        req->dir_fd = crs_fd_high(fd);
    crs_fds_unlock(held);
    if (fd < 0) {
        res->error = fd;
        return fd;
    }
    if (req->dir[0]) {
        /* Rescanned every time: a restored process must not reuse numbers taken since. The
         * child takes a higher one if another process publishes this one first. */
        int64_t top = crs_publish_max_seq(req->dir_fd);
        uint64_t seq = top > 0 ? (uint64_t)top + 1 : 1;
        if (seq < crs_state.next_seq)
            seq = crs_state.next_seq;
        req->seq = res->seq = seq;
        if (snprintf(req->path, sizeof req->path, "%s/" CRS_IMG_PREFIX "%06llu" CRS_IMG_SUFFIX,
                     req->dir, (unsigned long long)seq) >= (int)sizeof req->path)
            req->path[0] = 0;           /* cannot happen: config keeps room for the name */
    }
    return 0;
}

static int make_pipe(int p[2])
{
    int held = crs_fds_lock(), r = 0;

    if (pipe2(p, O_CLOEXEC) < 0)
        r = -errno;
    else {
        p[0] = crs_fd_high(p[0]);
        p[1] = crs_fd_high(p[1]);
    }
    crs_fds_unlock(held);
    return r;
}

static void list_internal_fds(struct crs_snap_request *req)
{
    struct crs_current *c = &crs_state.cur;
    int fds[] = { atomic_load(&crs_state.eventfd), crs_state.timerfd, crs_state.listen_fd,
                  c->report_pipe[0], c->report_pipe[1], c->pause_pipe[0], c->pause_pipe[1],
                  crs_state.tee_pipe[0], crs_state.tee_pipe[1], req->dir_fd };
    uint32_t n = 0;
    _Static_assert(sizeof fds / sizeof fds[0] + 3 <= CRS_FIXED_INTERNAL_FDS,
                   "room for these, track.c's two and the deleted files' memfd (attempt)");

    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            crs_state.internal_fds[n++] = fds[i];
    n += (uint32_t)crs_track_fds(crs_state.internal_fds + n);
    n += crs_control_fds(crs_state.internal_fds + n, CRS_MAX_INTERNAL_FDS - n);
    n += crs_tree_fds(crs_state.internal_fds + n, CRS_MAX_INTERNAL_FDS - n);
    req->internal_fds = crs_state.internal_fds;
    req->ninternal = n;
}

/* Moves the parked threads' records together (a thread that exited leaves a hole) and adds
 * the coordinator's own after them. */
static void collect_threads(struct crs_snap_request *req)
{
    struct crs_current *c = &crs_state.cur;
    sigset_t mask;
    uint64_t m = 0;
    int k = 0;

    for (int i = 0; i < c->nslots; i++) {
        if (atomic_load(&crs_state.slots[i].ready) <= 0)
            continue;
        if (k != i)
            crs_state.threads[k] = crs_state.threads[i];
        k++;
    }
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    memcpy(&m, &mask, sizeof m);
    crs_record_self(&crs_state.threads[k], m, CRS_THREAD_F_COORDINATOR);
    c->coord_index = k;
    req->threads = crs_state.threads;
    req->nthreads = (uint32_t)k + 1;
}

static void read_itimers(struct crs_snap_request *req)
{
    for (int w = 0; w < 3; w++) {
        struct itimerval it;
        memset(&it, 0, sizeof it);
        getitimer(w, &it);
        req->itimers[w].interval.sec = it.it_interval.tv_sec;
        req->itimers[w].interval.usec = it.it_interval.tv_usec;
        req->itimers[w].value.sec = it.it_value.tv_sec;
        req->itimers[w].value.usec = it.it_value.tv_usec;
    }
}

/* The parts of the request that do not depend on the stopped threads. */
static void fill_request(struct crs_snap_request *req)
{
    struct crs_current *c = &crs_state.cur;

    req->keep = crs_state.cfg.keep;
    req->level = crs_state.cfg.level;
    req->force_pwrite = crs_state.cfg.force_pwrite;
    if (crs_state.cfg.no_release)       /* else as it was: a crash of the child sets it */
        req->no_release = 1;
    req->no_direct = crs_state.cfg.no_direct;
    req->log_level = crs_state.cfg.log_level;
    req->hooks = crs_state.cfg.hooks;
    req->killed = c->kill;
    req->public_pid = crs_state.public_pid != crs_state.pid ? crs_state.public_pid : 0;
    req->parent = crs_state.pid;
    crs_restart_describe(&req->restart);
    req->restart.state_addr = (uint64_t)(uintptr_t)&crs_state;
    if (crs_state.tid_offset)           /* confirmed on two threads at init */
        req->restart.tid_offset = crs_state.tid_offset;
    req->restart.rseq_offset = crs_state.rseq_offset;
    req->restart.rseq_size = crs_state.rseq_size;
    req->restart.rseq_sig = crs_state.rseq_sig;
    req->report_fd = c->report_pipe[1];
    req->pause_fd = c->pause_pipe[0];
    req->host = crs_state.host;
    req->scratch = crs_state.scratch;
    req->scratch_size = crs_state.scratch_size;
}

/* While the child writes, the coordinator keeps answering: control requests get their reply
 * (or join the waiters), and new requests are counted for the next checkpoint. */
static void wait_child_serving(void)
{
    struct crs_current *c = &crs_state.cur;

    while (c->pidfd >= 0) {
        struct pollfd pf[3 + CRS_CONTROL_POLLFDS] = {
            { .fd = c->pidfd, .events = POLLIN },
            { .fd = atomic_load(&crs_state.eventfd), .events = POLLIN },
            { .fd = crs_state.timerfd, .events = POLLIN },
        };
        unsigned n = 3 + crs_control_pollfds(pf + 3);
        uint64_t v;

        if (poll(pf, n, crs_control_timeout()) < 0)
            continue;
        if (crs_ownfds_check(0))        /* closed by the program: what poll said is void */
            continue;
        if (pf[1].revents && read(pf[1].fd, &v, sizeof v) < 0) {
            /* nothing to drain */
        }
        if (pf[2].revents && read(pf[2].fd, &v, sizeof v) > 0)
            atomic_fetch_add(&crs_state.req_seq, 1);
        crs_control_serve(pf + 3, n - 3);
        if (pf[0].revents)
            return;                     /* exited: waitpid will not block */
    }
}

/* What a restore of this image will not bring back, as the child found it: said at every
 * checkpoint, whatever CRSNAP_LOG, since the program's user would not learn it otherwise. */
static void log_unsaved(struct crs_snap_report *rep)
{
    char *line = rep->unsaved;

    rep->unsaved[sizeof rep->unsaved - 1] = 0;
    for (uint32_t i = 0; i < rep->unsaved_shown && *line; i++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        crs_log(CRS_LOG_ERROR, "warning: not restorable: %s", line);
        if (!nl)
            break;
        line = nl + 1;
    }
    if (rep->nunsaved > rep->unsaved_shown)
        crs_log(CRS_LOG_ERROR, "warning: not restorable: and %u more (crsnap info %s lists "
                "them)", rep->nunsaved - rep->unsaved_shown, rep->path);
}

/* The child's outcome, from its report and its exit status. */
static void collect_child(struct crs_result *res)
{
    struct crs_current *c = &crs_state.cur;
    struct crs_snap_report rep;
    ssize_t got = 0;
    int st = 0;

    if (!c->kill)                       /* kill: threads are still parked, serve nobody */
        wait_child_serving();
    while (waitpid(c->child, &st, __WALL) < 0 && errno == EINTR) {
    }
    crs_fd_close(&c->pidfd);
    fcntl(c->report_pipe[0], F_SETFL, O_NONBLOCK);
    memset(&rep, 0, sizeof rep);
    got = read(c->report_pipe[0], &rep, sizeof rep);
    c->crashed = WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS ||
                                     WTERMSIG(st) == SIGILL);
    c->child_silent = got != (ssize_t)sizeof rep;
    if (got == (ssize_t)sizeof rep) {
        c->crashed = c->crashed || rep.crashed;
        rep.path[sizeof rep.path - 1] = 0;
        rep.message[sizeof rep.message - 1] = 0;
        res->error = rep.error;
        res->bytes_written = rep.bytes_written;
        res->memory_covered = rep.memory_covered;
        res->memory_saved = rep.memory_saved;
        res->write_ns = rep.write_ns;
        if (rep.seq)                    /* another process took the planned number */
            res->seq = rep.seq;
        crs_write_path_note(&rep);
        crs_track_result(&crs_state.req, &rep, !rep.error);
        if (rep.error) {
            snprintf(res->message, sizeof res->message, "%s",
                     rep.message[0] ? rep.message : "the snapshot child failed");
        } else {
            snprintf(res->path, sizeof res->path, "%s",
                     rep.path[0] ? rep.path : crs_state.req.path);
            log_unsaved(&rep);
        }
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        /* The child exits 0 only once the image is published; its report was lost, the
         * program having closed the pipe meanwhile (see ownfds.c). */
        struct stat sb;
        snprintf(res->path, sizeof res->path, "%s", crs_state.req.path);
        if (stat(res->path, &sb) == 0)
            res->bytes_written = (uint64_t)sb.st_size;
        return;
    }
    if (WIFSIGNALED(st)) {
        res->error = -EINTR;
        snprintf(res->message, sizeof res->message, "snapshot child killed by signal %d",
                 WTERMSIG(st));
    } else {
        res->error = -EIO;
        snprintf(res->message, sizeof res->message,
                 "snapshot child exited with status %d without a report", WEXITSTATUS(st));
    }
}

/* Ends a checkpoint that took no snapshot: every thread and handler that prepared gets ABORT. */
static void abort_quiesced(void)
{
    crs_quiesce_release(CRS_ABORT);
    crs_registry_resume(&crs_state.frozen, CRS_ASYNC, 0, CRS_ABORT);
}

static void finish(struct crs_result *res, int outcome)
{
    /* Critical sections reopen only once every thread has run its resume handlers: a thread
     * entering one must find the checkpoint wholly over (a handler's own crs_enter_cs() gets a
     * pass, so this cannot wait on itself). */
    crs_quiesce_wait_left();
    crs_cs_open();
    pthread_mutex_lock(&crs_state.lock);
    crs_state.handlers_busy = 0;
    pthread_cond_broadcast(&crs_state.cond);
    pthread_mutex_unlock(&crs_state.lock);
    crs_fd_close(&crs_state.cur.report_pipe[0]);
    crs_fd_close(&crs_state.cur.report_pipe[1]);
    crs_fd_close(&crs_state.cur.pause_pipe[0]);
    crs_fd_close(&crs_state.cur.pause_pipe[1]);
    crs_fd_close(&crs_state.req.dir_fd);
    /* a member called off, or asked by an attempt its root gave up (its directory gone): the
     * root says why */
    if (res->error)
        crs_log(crs_state.cur.member && (res->error == -ECANCELED || res->error == -ENOENT) ?
                CRS_LOG_DEBUG : CRS_LOG_ERROR,
                "checkpoint failed: %s", res->message);
    else
        crs_log(CRS_LOG_INFO, "checkpoint %s: %llu bytes, pause %llu us, write %llu us",
                res->path, (unsigned long long)res->bytes_written,
                (unsigned long long)(res->pause_ns / 1000),
                (unsigned long long)(res->write_ns / 1000));
    if (!res->error && res->seq)
        crs_state.next_seq = res->seq + 1;
    crs_state.cur.active = 0;
    crs_post_outcome(res->error ? res->error : outcome, res);
}

/* One attempt: async prepares, quiesce, clone, release, collect. Returns 1 when the process
 * came back from a restore (everything is done then), else 0 with res filled; kill mode exits
 * here on success. */
static int attempt(struct crs_result *res)
{
    struct crs_current *c = &crs_state.cur;
    struct crs_snap_request *req = &crs_state.req;
    volatile int restarted;
    int r, v;
    long pid;

    c->report_pipe[0] = c->report_pipe[1] = c->pause_pipe[0] = c->pause_pipe[1] = -1;
    c->child = 0;
    c->pidfd = -1;
    c->crashed = 0;
    crs_state.err[0] = 0;
    /* the program may have closed the library's descriptors: a pipe made now would take one
     * of their numbers, and wake-ups would go into it */
    crs_ownfds_check(1);
    if ((r = crs_state.own_broken) < 0) {
        res->error = r;
        snprintf(res->message, sizeof res->message, "checkpoints are off: the program closed "
                 "the library's descriptors and they cannot be made again (%s)",
                 strerrordesc_np(-r) ? strerrordesc_np(-r) : "?");
        return 0;
    }
    if (open_dir(req, res) < 0)
        return 0;
    if ((r = make_pipe(c->report_pipe)) < 0 || (r = make_pipe(c->pause_pipe)) < 0) {
        res->error = r;
        snprintf(res->message, sizeof res->message, "cannot create a pipe: %s", strerror(-r));
        return 0;
    }
    fill_request(req);
    req->leader_fd = c->member ? crs_state.tree.leader_fd : -1;
    if (c->member)
        req->seq = res->seq = crs_state.tree.seq;
    if ((r = crs_tree_begin(req, res->message, sizeof res->message)) < 0) {
        res->error = r;
        return 0;
    }

    int inside = 0;
    if ((r = crs_cs_close(crs_state.cfg.quiesce_timeout_ms, &inside)) < 0) {
        res->error = r;
        snprintf(res->message, sizeof res->message,
                 "%d thread%s still inside a critical section after %u ms", inside,
                 inside == 1 ? "" : "s", crs_state.cfg.quiesce_timeout_ms);
        return 0;
    }
    v = crs_registry_prepare(&crs_state.frozen, CRS_ASYNC, 0);
    if (v) {
        crs_registry_resume(&crs_state.frozen, CRS_ASYNC, 0, CRS_ABORT);
        res->error = -ECANCELED;
        snprintf(res->message, sizeof res->message, "vetoed by async handler %d",
                 crs_state.frozen.h[v - 1].id);
        return 0;
    }

    crs_track_plan(req, c->explicit_path); /* registers new regions: outside the pause */
    crs_shmcopy_scan();
    crs_dontfork_preread();
    /* In a job, every process has run its handlers and read what it reads before it stops,
     * before any stops: each one's pause is then its own stop, the others' and the forks. */
    if ((r = crs_tree_prepared(crs_state.err, sizeof crs_state.err)) < 0) {
        crs_registry_resume(&crs_state.frozen, CRS_ASYNC, 0, CRS_ABORT);
        res->error = r;
        snprintf(res->message, sizeof res->message, "%s", crs_state.err);
        return 0;
    }
    c->start_ns = crs_now_ns(CLOCK_MONOTONIC);
    r = crs_quiesce_all(crs_state.err, sizeof crs_state.err);
    if (r < 0) {
        abort_quiesced();
        if (r == -ETIMEDOUT)            /* a thread that blocks every signal: whose is it? */
            crs_ptimers_explain(crs_state.err, sizeof crs_state.err);
        res->error = r;
        snprintf(res->message, sizeof res->message, "%s", crs_state.err);
        return 0;
    }
    /* In a job, every process stops before any of them records what it shares with the
     * others (the bytes in a pipe between two of them). */
    if ((r = crs_tree_stopped(crs_state.err, sizeof crs_state.err)) < 0) {
        abort_quiesced();
        res->error = r;
        snprintf(res->message, sizeof res->message, "%s", crs_state.err);
        return 0;
    }

    /* Quiesced: system calls and fixed buffers only until the release. */
    collect_threads(req);
    read_itimers(req);
    crs_ptimers_read(req);
    list_internal_fds(req);
    crs_dontfork_lift();
    crs_fdpos_record();
    crs_shmcopy_take();                 /* after the descriptors: its memfd is not the program's */
    req->fdstate = crs_state.fdstate;
    req->nfdstate = crs_state.nfdstate;
    req->nqueued = crs_state.nqueued;
    req->queued_len = crs_state.queued_len;
    req->deleted = crs_state.deleted;
    req->ndeleted = crs_state.ndeleted;
    req->deleted_memfd = crs_state.deleted_memfd;
    req->shmcopy = crs_state.shmcopy;
    req->nshmcopy = crs_state.shm_memfd >= 0 ? crs_state.nshmcopy : 0;
    req->shm_memfd = crs_state.shm_memfd;
    if (crs_state.shm_memfd >= 0 && req->ninternal < CRS_MAX_INTERNAL_FDS)
        crs_state.internal_fds[req->ninternal++] = crs_state.shm_memfd;
    req->ranges = crs_state.dontfork;
    req->ranges_how = crs_state.dontfork_how;
    req->nranges = (uint32_t)crs_state.ndontfork;
    if (crs_state.deleted_memfd >= 0 && req->ninternal < CRS_MAX_INTERNAL_FDS)
        crs_state.internal_fds[req->ninternal++] = crs_state.deleted_memfd;
    req->created_ns = crs_now_ns(CLOCK_REALTIME);
    if (!c->explicit_path)
        c->covered = atomic_load(&crs_state.req_seq);

    restarted = crs_arch_save_context(&crs_state.threads[c->coord_index].ctx);
    if (restarted) {
        crs_dontfork_mark();
        crs_memlock_restarted();
        crs_restarted();
        return 1;
    }
    /* A raw clone, not fork(): fork() takes malloc's locks, which a parked thread may hold,
     * and runs atfork handlers. Exit signal 0: the application's SIGCHLD handler and its
     * waitpid(-1) never see this child (we wait for it with __WALL). */
    c->pidfd = -1;
    pid = crs_sys5(SYS_clone, CLONE_PIDFD, 0, (long)&c->pidfd, 0, 0);
    if (pid == -EINVAL)                 /* a kernel before 5.2: wait without serving */
        pid = crs_sys5(SYS_clone, 0, 0, 0, 0, 0);
    if (pid == 0) {
        crs_proc_fds_pin(req->fdstate, req->nfdstate);
        crs_snapshot_child(req);
    }
    crs_dontfork_mark();
    crs_fddeleted_end();
    crs_shmcopy_end();
    if (pid < 0) {
        abort_quiesced();
        res->error = (int)pid;
        snprintf(res->message, sizeof res->message, "cannot clone the snapshot child: %s",
                 strerrordesc_np((int)-pid) ? strerrordesc_np((int)-pid) : "?");
        return 0;
    }
    c->child = (pid_t)pid;
    c->pidfd = crs_fd_high(c->pidfd);
    /* In a job, nobody resumes before every snapshot is taken. A root that calls it off now
     * fails the checkpoint; the child's image, a part of nothing, is removed with the rest. */
    int tree_err = crs_tree_forked(crs_state.err, sizeof crs_state.err);
    if (!c->kill)
        crs_quiesce_release(CRS_CONTINUE);
    res->pause_ns = crs_now_ns(CLOCK_MONOTONIC) - c->start_ns;
    crs_track_after_release(req);       /* the child waits for the pause to read its result */
    if (write(c->pause_pipe[1], &res->pause_ns, sizeof res->pause_ns) < 0) {
        /* the child went away: collect_child() says how */
    }
    crs_fd_close(&c->pause_pipe[1]);
    crs_fd_close(&c->pause_pipe[0]);
    crs_fd_close(&c->report_pipe[1]);
    if (!c->kill) {
        crs_registry_resume(&crs_state.frozen, CRS_ASYNC, 0, CRS_CONTINUE);
        crs_track_reset(req);           /* the program runs: the next image's list */
    }
    crs_log(CRS_LOG_DEBUG, "snapshot child %ld writing %s", pid, req->path);
    if (crs_state.deleted_missed)
        crs_log(CRS_LOG_ERROR, "%u deleted open files not saved (more than %u MiB in all, or "
                "unreadable): a restore will not have them", crs_state.deleted_missed,
                CRS_SNAP_DELETED_MAX >> 20);
    if (crs_state.shm_missed)
        crs_log(CRS_LOG_INFO, "%u shared memory regions not copied at the snapshot (more than "
                "%u MiB in all, or not readable): the image has them as they were a little "
                "later", crs_state.shm_missed, CRS_SNAP_SHM_MAX >> 20);
    if (crs_state.queued_missed)
        crs_log(CRS_LOG_INFO, "%u pipe or socket queues not saved (more than %u KiB in all, "
                "or not copied whole)", crs_state.queued_missed, CRS_SNAP_QUEUED_MAX >> 10);

    collect_child(res);
    if (tree_err < 0 && !res->error) {
        res->error = tree_err;
        snprintf(res->message, sizeof res->message, "%s", crs_state.err);
    }
    if (c->member && c->child_silent)    /* else the child told the root itself */
        crs_tree_report(res);
    else if (!c->member)
        crs_tree_results(res);
    if (c->kill && c->member && !res->error && !crs_tree_wait_exit()) {
        res->error = -ECANCELED;
        snprintf(res->message, sizeof res->message, "the job's checkpoint failed elsewhere");
    }
    if (c->kill) {
        if (!res->error) {
            crs_tree_end(1, 1);
            for (unsigned i = 0; i < crs_state.nwaiters; i++)
                crs_control_reply(crs_state.waiters[i].fd, 0, res->seq, res->path, NULL);
            if (c->kill_sig)
                crs_exit_on_done(res);
            crs_log(CRS_LOG_INFO, "checkpoint %s written, exiting as asked", res->path);
            crs_control_unlink();
            crs_sys1(SYS_exit_group, 0);
        }
        abort_quiesced();
    }
    return 0;
}

void crs_checkpoint_run(int kill_fd)
{
    struct crs_current *c = &crs_state.cur;
    struct crs_snap_request *req = &crs_state.req;
    struct crs_result res;

    memset(&res, 0, sizeof res);
    memset(req, 0, sizeof *req);
    c->member = crs_state.tree.role == CRS_TREE_MEMBER && crs_state.tree.pending;
    if (c->member && crs_tree_stale()) {  /* the root gave up on it before it started */
        crs_tree_end(0, 0);
        return;
    }
    c->active = 1;
    c->kill = kill_fd >= 0 || c->kill_sig || (c->member && crs_state.tree.kill);

    pthread_mutex_lock(&crs_state.lock);
    c->explicit_path = !c->kill && !c->member && crs_state.path_pending;
    choose_path(req, c->member ? crs_state.tree.path :
                     c->explicit_path ? crs_state.path_req : NULL);
    /* Requests so far are served by this checkpoint, and so are those that arrive before the
     * snapshot is taken (covered is read again then); a failure before it serves these. */
    c->covered_lo = crs_state.done_seq;
    c->covered = c->explicit_path ? c->covered_lo : atomic_load(&crs_state.req_seq);
    crs_state.frozen = crs_state.reg;
    crs_state.handlers_busy = 1;
    pthread_mutex_unlock(&crs_state.lock);
    res.seq = req->seq;

    /* A job whose processes changed while it stopped is taken again, a few times. */
    for (int tries = 0;; tries++) {
        if (attempt(&res))
            return;
        if (res.error != -EAGAIN || c->member || tries >= TREE_TRIES)
            break;
        crs_log(CRS_LOG_INFO, "checkpoint: %s; trying again", res.message);
        crs_tree_end(0, 0);
        crs_fd_close(&req->dir_fd);
        choose_path(req, c->explicit_path ? crs_state.path_req : NULL);
        usleep(20000 << tries);         /* a member starting: its library needs a moment */
        crs_quiesce_wait_left();
        crs_cs_open();
        crs_fd_close(&c->report_pipe[0]);
        crs_fd_close(&c->report_pipe[1]);
        crs_fd_close(&c->pause_pipe[0]);
        crs_fd_close(&c->pause_pipe[1]);
        uint64_t seq = res.seq;
        memset(&res, 0, sizeof res);
        res.seq = seq;
    }
    /* A crash of the child is a bug of ours, most likely in what it unmaps as it goes (see
     * snapshot/release.c): say where it was, and take the snapshot once more without that. The
     * program's handlers see a second checkpoint; nothing is published twice. */
    if (c->crashed && !req->no_release && !c->member && !req->ntree) {
        crs_log(CRS_LOG_ERROR, "checkpoint failed: %s; trying again without releasing memory",
                res.message);
        crs_quiesce_wait_left();
        crs_cs_open();
        crs_fd_close(&c->report_pipe[0]);
        crs_fd_close(&c->report_pipe[1]);
        uint64_t seq = res.seq;
        memset(&res, 0, sizeof res);
        res.seq = seq;
        req->no_release = 1;
        crs_tree_end(0, 0);
        if (attempt(&res))
            return;
    }
    if (c->member && !c->child)         /* no snapshot child to tell the root: say why */
        crs_tree_report(&res);
    crs_tree_end(!res.error, c->kill);
    finish(&res, CRS_CONTINUE);
}
