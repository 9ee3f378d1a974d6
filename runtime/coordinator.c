/* runtime/coordinator.c - the coordinator thread ("crsnap-coord"): waits on the eventfd (API
 * and signal requests), the timerfd and the control socket, and runs checkpoints one at a
 * time. Requests that arrive before a snapshot is taken are served by it; those that arrive
 * after it are served together by the next one. Control clients are served from the same poll
 * set (control.c), never with a blocking read. Also the restart path: a restored process
 * resumes here (crs_restarted) with a new pid and without its internal descriptors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"


int crs_fd_high(int fd)
{
    int hi;

    if (fd < 0 || fd >= CRS_INTERNAL_FD_MIN)
        return fd;
    hi = fcntl(fd, F_DUPFD_CLOEXEC, CRS_INTERNAL_FD_MIN);
    if (hi < 0)                         /* RLIMIT_NOFILE too low: keep the low number */
        return fd;
    close(fd);
    return hi;
}

static int make_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : crs_fd_high(fd);
}

static void drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) > 0) {
    }
}

static int work_pending(void)
{
    int want;

    pthread_mutex_lock(&crs_state.lock);
    want = crs_state.path_pending || atomic_load(&crs_state.req_seq) > crs_state.done_seq;
    pthread_mutex_unlock(&crs_state.lock);
    return want;
}

/* A member of a job takes no checkpoint of its own: its triggers go to the root, and the
 * job's checkpoint, which it takes part in, serves them. */
static int member_forward(void)
{
    uint64_t want = atomic_load(&crs_state.req_seq);
    int r;

    if (crs_state.tree.role != CRS_TREE_MEMBER)
        return 0;
    if (want > crs_state.tree.forwarded) {
        crs_state.tree.forwarded = want;
        if ((r = crs_tree_forward()) < 0)
            crs_log(CRS_LOG_ERROR, "cannot ask the job's root (pid %d) for a checkpoint: %s",
                    (int)crs_state.tree.root, strerror(-r));
    }
    return 1;
}

static void *coordinator_main(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "crsnap-coord");
    atomic_store(&crs_state.coord_tid, crs_gettid());
    if (crs_glibc_verify_tid_offset() < 0)
        crs_log(CRS_LOG_ERROR, "cannot find glibc's tid field: images will not restore");
    atomic_store(&crs_state.coord_started, 1);
    crs_futex_wake(&crs_state.coord_started);

    for (;;) {
        struct pollfd pf[2 + CRS_CONTROL_POLLFDS];
        unsigned n = 0;

        if (crs_exit_on_pending()) {
            crs_exit_on_serve();
            continue;
        }
        if (crs_state.tree.pending) {
            crs_checkpoint_run(-1);
            continue;
        }
        if (crs_state.kill_pending >= 0) {
            crs_checkpoint_run(crs_state.kill_pending);
            continue;
        }
        if (!member_forward() && work_pending()) {
            crs_checkpoint_run(-1);
            continue;
        }
        /* Rebuilt each time: after a restart, or after the program closed them (see ownfds.c),
         * the descriptors are new ones. Control clients are in the set, each read as its bytes
         * come, so none can keep the coordinator from the timer and the requests. */
        pf[n++] = (struct pollfd){ .fd = atomic_load(&crs_state.eventfd), .events = POLLIN };
        pf[n++] = (struct pollfd){ .fd = crs_state.timerfd, .events = POLLIN };
        n += crs_control_pollfds(pf + n);
        if (poll(pf, (nfds_t)n, crs_control_timeout()) < 0)
            continue;
        /* closed by the program (POLLNVAL, or a number that names its file now): what poll
         * said of them is void; the quiesce signal also ends up here (EINTR above) */
        if (crs_ownfds_check(0))
            continue;
        if (pf[0].revents)
            drain(pf[0].fd);
        if (pf[1].revents) {
            drain(pf[1].fd);
            if (!crs_state.own_broken)  /* no failure per tick while checkpoints are off */
                atomic_fetch_add(&crs_state.req_seq, 1);
        }
        crs_control_serve(pf + 2, n - 2);
    }
    return NULL;
}

int crs_coordinator_start(void)
{
    sigset_t all, old;
    int r, s;

    /* The coordinator blocks every signal: process signals go to application threads, and the
     * quiesce signal never reaches it. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&crs_state.coord, NULL, coordinator_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        return -r;
    while ((s = atomic_load(&crs_state.coord_started)) == 0)
        crs_futex_wait(&crs_state.coord_started, 0, NULL);
    return s < 0 ? s : 0;
}

/* A restored process: the coordinator is back from crs_arch_save_context() in
 * crs_checkpoint_run(), every other thread is parked (or about to park again) in the quiesce
 * handler, and the memory is as it was when the snapshot was taken. Runs on the coordinator's
 * restored stack; its locals there are lost, everything it needs is in crs_state. */
void crs_restarted(void)
{
    struct crs_current *c = &crs_state.cur;
    const struct crs_restart_plan *plan = crs_restart_plan_get();
    struct crs_result res;
    struct stat st;
    int r;

    crs_state.pid = getpid();
    crs_state.public_pid = plan && plan->outer_pid ? (pid_t)plan->outer_pid : crs_state.pid;
    atomic_store(&crs_state.coord_tid, crs_gettid());
    atomic_fetch_add(&crs_state.restart_count, 1);

    /* Internal descriptors are not restored: make new ones (the old numbers are free). */
    atomic_store(&crs_state.eventfd, make_eventfd());
    crs_state.timerfd = crs_timer_create();
    if (crs_state.timerfd < -1)
        crs_state.timerfd = -1;
    crs_state.deleted_memfd = -1;       /* closed in the parent right after the clone */
    crs_track_restarted();
    if (crs_fdqueue_init() < 0)         /* without it, queued bytes are not saved */
        crs_log(CRS_LOG_ERROR, "no pipe for queued bytes after restart");
    crs_state.listen_fd = -1;
    crs_state.sock_path[0] = 0;
    crs_tree_restarted();               /* its connections too */
    crs_state.nwaiters = 0;             /* their connections are gone */
    crs_state.nclients = 0;
    /* An exit-on signal caught while the image was being taken was sent to the process that
     * ended (Slurm signals the program and its batch script, which passes the signal on: two
     * SIGTERMs for one preemption). Kept, it would end the restored process at once. */
    atomic_store(&crs_state.exit_on_sig, 0);
    crs_state.kill_pending = -1;
    for (int i = 0; i < 2; i++)
        c->report_pipe[i] = c->pause_pipe[i] = -1;
    if (crs_state.cfg.control_socket && (r = crs_control_open()) < 0)
        crs_log(CRS_LOG_ERROR, "no control socket after restart: %s", strerror(-r));
    crs_state.own_want = 0;
    crs_ownfds_record();

    crs_quiesce_release(CRS_RESTART);
    crs_registry_resume(&crs_state.frozen, CRS_ASYNC, 0, CRS_RESTART);

    memset(&res, 0, sizeof res);
    res.seq = crs_state.req.seq;
    snprintf(res.path, sizeof res.path, "%s", crs_state.req.path);
    if (stat(res.path, &st) == 0)
        res.bytes_written = (uint64_t)st.st_size;
    crs_quiesce_wait_left();            /* every thread has run its RESTART handlers */
    if ((r = atomic_exchange(&crs_state.attrs_failed, 0)) > 0)
        crs_log(CRS_LOG_ERROR, "warning: %d threads could not have their own CPU affinity, nice "
                "value or scheduling policy back (this user or host does not allow it)", r);
    crs_cs_open();
    pthread_mutex_lock(&crs_state.lock);
    crs_state.handlers_busy = 0;
    pthread_cond_broadcast(&crs_state.cond);
    pthread_mutex_unlock(&crs_state.lock);
    c->active = 0;
    c->kill = 0;
    c->kill_sig = 0;                    /* tells crs_exit_on_serve() it restarted */
    crs_log(CRS_LOG_INFO, "restarted from %s (restart %d)", res.path,
            atomic_load(&crs_state.restart_count));
    crs_post_outcome(CRS_RESTART, &res);
}
