/* runtime/init.c - starting the runtime: crs_init() (explicit, or from the constructor when
 * the library is preloaded by `crsnap run`), which reads the configuration, learns the host and
 * glibc facts once, maps the child's scratch, creates the internal descriptors and signal
 * handlers, and starts the coordinator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "held_signal.h"
#include "runtime.h"
#include "io/imgdir.h"

static void at_exit(void)
{
    crs_control_unlink();
}

static int setup(const struct crs_config *cfg);

/* Descriptors the runtime made for itself: a forked copy makes its own. */
static void close_own(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* A fork() of an initialised process has no coordinator. Alone, the API says so there; in a
 * job, the child is a member of it: it gets a runtime of its own, as an exec'd child does
 * from the preload (its handlers, copied with its memory, stay registered). */
static void after_fork_child(void)
{
    struct crs_tree_state *t = &crs_state.tree;
    int efd = atomic_exchange(&crs_state.eventfd, -1);

    /* The state and the descriptor table are of one moment: the parent's coordinator changes
     * its descriptors only under the lock this fork held (forklock.c). */
    crs_forklock_init();
    if (t->role == CRS_TREE_NONE || crs_state.initialized != 1) {
        crs_state.disabled = 1;
        return;
    }
    /* Every descriptor of the parent's runtime, a checkpoint's too: the child's images must
     * not show them as the program's. */
    close_own(&efd);
    close_own(&crs_state.timerfd);
    close_own(&crs_state.listen_fd);
    close_own(&crs_state.tee_pipe[0]);
    close_own(&crs_state.tee_pipe[1]);
    for (unsigned i = 0; i < crs_state.nclients; i++)
        close_own(&crs_state.clients[i].fd);
    for (unsigned i = 0; i < crs_state.nwaiters; i++)
        close_own(&crs_state.waiters[i].fd);
    for (uint32_t i = 0; i < t->npeers; i++)
        close_own(&t->peers[i]);
    close_own(&t->leader_fd);
    close_own(&t->forward_fd);
    if (t->dir_fd == crs_state.req.dir_fd)
        t->dir_fd = -1;
    int *checkpoint_fds[] = { &t->parts_fd, &t->dir_fd, &crs_state.req.dir_fd,
                              &crs_state.cur.report_pipe[0], &crs_state.cur.report_pipe[1],
                              &crs_state.cur.pause_pipe[0], &crs_state.cur.pause_pipe[1],
                              &crs_state.cur.pidfd, &crs_state.track.uffd,
                              &crs_state.track.pagemap_fd };
    /* A checkpoint's own, which its start clears (to 0, for a moment, with the request): only
     * numbers where the runtime keeps its descriptors, never the program's 0. */
    for (unsigned i = 0; i < sizeof checkpoint_fds / sizeof checkpoint_fds[0]; i++) {
        if (*checkpoint_fds[i] >= CRS_INTERNAL_FD_MIN)
            close(*checkpoint_fds[i]);
        *checkpoint_fds[i] = -1;
    }
    crs_state.nclients = crs_state.nwaiters = 0;
    t->npeers = 0;
    t->pending = t->active = 0;
    t->role = CRS_TREE_MEMBER;
    if (crs_state.scratch)
        munmap((char *)crs_state.scratch - 4096, crs_state.scratch_size + 2 * 4096);
    crs_state.scratch = NULL;
    crs_state.sock_path[0] = 0;
    /* the parent's requests, results and checkpoint in progress are not this process's */
    atomic_store(&crs_state.req_seq, 0);
    crs_state.done_seq = 0;
    crs_state.noutcomes = 0;
    crs_state.path_pending = crs_state.path_busy = 0;
    crs_state.have_result = 0;
    crs_state.handlers_busy = 0;
    crs_state.cur.active = 0;
    t->forwarded = 0;
    atomic_store(&crs_state.cs_pending, 0);
    atomic_store(&crs_state.cs_count, crs_tls.cs_depth > 0);
    atomic_store(&crs_state.quiescing, 0);
    atomic_store(&crs_state.coord_started, 0);
    pthread_mutex_init(&crs_state.lock, NULL);
    pthread_cond_init(&crs_state.cond, NULL);
    crs_state.initialized = 2;
    if (setup(NULL) < 0) {
        crs_state.disabled = 1;
        crs_log(CRS_LOG_ERROR, "a forked child of the job could not start its runtime: the "
                "job's checkpoints will fail while it runs");
        return;
    }
    crs_state.initialized = 1;
}

/* A relative directory is taken from the current directory at init, not at each checkpoint. */
static void absolute_dir(char *dir, size_t size)
{
    char cwd[CRS_PATH_MAX], tmp[CRS_PATH_MAX];

    if (dir[0] == '/' || !getcwd(cwd, sizeof cwd))
        return;
    if (snprintf(tmp, sizeof tmp, "%s/%s", cwd, dir[0] == '.' && dir[1] == '/' ? dir + 2 : dir) <
        (int)sizeof tmp)
        snprintf(dir, size, "%s", tmp);
}

/* The job's identity: 128 random bits, in every image header, so that retention deletes only
 * this job's images from a directory that other jobs (or restores) share. */
static int make_job_id(uint8_t id[CRS_IMG_JOB_ID_SIZE])
{
    size_t got = 0;
    while (got < CRS_IMG_JOB_ID_SIZE) {
        ssize_t n = getrandom(id + got, CRS_IMG_JOB_ID_SIZE - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (size_t)n;
    }
    return 0;
}

/* An image directory that exists but that checkpoints will refuse is said at once (each
 * checkpoint says it again); a missing one is created by the first checkpoint. */
static void warn_dir(const char *dir)
{
    char msg[CRS_PATH_MAX + 160];
    int fd = crs_imgdir_open(dir, 0, msg, sizeof msg);
    if (fd >= 0)
        close(fd);
    else if (fd != -ENOENT)
        crs_log(CRS_LOG_ERROR, "checkpoints will fail: %s", msg);
}

static int setup(const struct crs_config *cfg)
{
    char err[CRS_PATH_MAX + 128];
    int r;

    err[0] = 0;
    r = crs_settings_load(&crs_state.cfg, cfg, cfg == NULL, err, sizeof err);
    if (r < 0) {
        crs_state.cfg.log_level = CRS_LOG_ERROR;
        crs_log(CRS_LOG_ERROR, "%s", err);
        return r;
    }
    absolute_dir(crs_state.cfg.dir, sizeof crs_state.cfg.dir);
    if (crs_state.tree.role == CRS_TREE_NONE)
        crs_tree_role();
    if (crs_state.tree.role == CRS_TREE_MEMBER)
        crs_state.cfg.interval = 0;     /* the root's timer checkpoints the whole job */
    crs_state.pid = crs_state.public_pid = getpid();
    crs_state.eventfd = -1;
    crs_state.deleted_memfd = -1;
    crs_state.timerfd = -1;
    crs_state.listen_fd = -1;
    crs_state.kill_pending = -1;
    crs_state.req.dir_fd = crs_state.cur.pidfd = -1;
    crs_state.cur.report_pipe[0] = crs_state.cur.report_pipe[1] = -1;
    crs_state.cur.pause_pipe[0] = crs_state.cur.pause_pipe[1] = -1;
    if ((r = make_job_id(crs_state.job_id)) < 0) {
        crs_log(CRS_LOG_ERROR, "cannot choose a job id: %s", strerror(-r));
        return r;
    }
    /* A member of a job writes only where its root tells it: the image directory is the
     * root's business, and a member forked by the thousand must not scan it each time. */
    if (crs_state.tree.role != CRS_TREE_MEMBER) {
        crs_state.next_seq = crs_scan_dir_seq(crs_state.cfg.dir) + 1;
        warn_dir(crs_state.cfg.dir);
    }

    /* a forked member has its parent's, read when the library started in this image */
    if (!crs_state.host.sysname[0] && (r = crs_snapshot_host(&crs_state.host)) < 0) {
        crs_log(CRS_LOG_ERROR, "cannot read the host facts: %s", strerror(-r));
        return r;
    }
    /* The scratch sits between two inaccessible pages, so that the kernel never merges it
     * with a neighbouring anonymous mapping: the snapshot child releases large anonymous
     * regions as it writes them, keeping only what it knows it needs, and a small neighbour
     * merged into the scratch (the dynamic linker's own memory, mapped just before it) would
     * be released with the rest. */
    crs_state.scratch_size = crs_snapshot_scratch_size();
    char *guarded = mmap(NULL, crs_state.scratch_size + 2 * 4096, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (guarded == MAP_FAILED ||
        mprotect(guarded + 4096, crs_state.scratch_size, PROT_READ | PROT_WRITE) < 0) {
        crs_log(CRS_LOG_ERROR, "cannot map %zu bytes of scratch", crs_state.scratch_size);
        return -ENOMEM;
    }
    crs_state.scratch = guarded + 4096;
    crs_track_init();
    crs_glibc_discover();
    /* Resolve its PLT slot now, not in the first quiesce handler that calls it. */
    crs_arch_save_context(&crs_state.threads[0].ctx);

    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0)
        return -errno;
    efd = crs_fd_high(efd);
    atomic_store(&crs_state.eventfd, efd);
    if ((r = crs_fdqueue_init()) < 0) {
        crs_log(CRS_LOG_ERROR, "cannot create a pipe: %s", strerror(-r));
        return r;
    }
    if ((r = crs_timer_create()) < -1) {
        crs_log(CRS_LOG_ERROR, "cannot create the checkpoint timer: %s", strerror(-r));
        return r;
    }
    crs_state.timerfd = r;
    if ((r = crs_quiesce_install()) < 0 || (r = crs_trigger_install()) < 0 ||
        (r = crs_exit_on_install()) < 0) {
        crs_log(CRS_LOG_ERROR, "cannot install a signal handler: %s", strerror(-r));
        return r;
    }
    if (crs_state.cfg.control_socket && crs_control_open() < 0)
        crs_log(CRS_LOG_ERROR, "running without a control socket");
    crs_exec_setup();
    crs_ownfds_record();
    if ((r = crs_coordinator_start()) < 0) {
        crs_log(CRS_LOG_ERROR, "cannot start the coordinator: %s", strerror(-r));
        return r;
    }
    if (!crs_state.atfork_set) {        /* once: a forked member runs setup() again */
        atexit(at_exit);
        pthread_atfork(crs_forklock_prepare, crs_forklock_parent, after_fork_child);
        crs_state.atfork_set = 1;
    }
    crs_log(CRS_LOG_INFO, "ready: dir %s, interval %gs, keep %d, signal %d", crs_state.cfg.dir,
            crs_state.cfg.interval, crs_state.cfg.keep, crs_state.cfg.signal);
    return 0;
}

int crs_init(const struct crs_config *cfg)
{
    int zero = 0;
    int r;

    if (!__atomic_compare_exchange_n(&crs_state.initialized, &zero, 2, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return -EALREADY;
    r = setup(cfg);
    if (r < 0) {
        /* Nothing was started that outlives a failure but descriptors: close them. */
        int fds[] = { atomic_load(&crs_state.eventfd), crs_state.timerfd, crs_state.listen_fd };
        for (unsigned i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        crs_control_unlink();
        atomic_store(&crs_state.eventfd, -1);
        crs_state.timerfd = crs_state.listen_fd = -1;
        __atomic_store_n(&crs_state.initialized, 0, __ATOMIC_RELEASE);
        return r;
    }
    __atomic_store_n(&crs_state.initialized, 1, __ATOMIC_RELEASE);
    return 0;
}

/* The trigger signal that `crsnap run` blocked before the exec (see held_signal.h), now that
 * init is over, in the calling thread (the main thread: a preload constructor runs before main,
 * so the program has no other thread yet that shares its mask). With the handler installed, a
 * trigger that arrived meanwhile is delivered on the way out of sigprocmask: a checkpoint. When
 * the runtime did not start, or does not take that signal, a pending one would act with the
 * program's disposition instead, the default one ending it: it is dropped, with a line. */
static void release_held_signal(int sig, int ours)
{
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigset_t one, pending;

    if (sig <= 0 || sig >= NSIG)
        return;
    sigemptyset(&one);
    sigaddset(&one, sig);
    if (!ours && sigpending(&pending) == 0 && sigismember(&pending, sig) &&
        sigaction(sig, &ign, &old) == 0) {
        /* setting SIG_IGN discards a pending signal; the program's disposition comes back */
        sigaction(sig, &old, NULL);
        crs_log(CRS_LOG_ERROR, "signal %d arrived before the runtime was ready and it did not "
                "start: dropped", sig);
    }
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

/* Preloaded by `crsnap run` (or by hand): start from the environment. A library that is merely
 * linked waits for the program's own crs_init(). CRSNAP_PID, when set, names the one process
 * meant to be checkpointed: the program's own children inherit LD_PRELOAD but stay out, so
 * they do not write images into the same directory. */
__attribute__((constructor)) static void preload_init(void)
{
    const char *p = getenv("LD_PRELOAD");
    const char *only = getenv("CRSNAP_PID");
    const char *held = getenv(CRS_HELD_SIGNAL_ENV);
    int sig = held ? atoi(held) : 0;
    int r;

    /* The hold is this process's alone: its children must not take it as theirs. */
    if (held)
        unsetenv(CRS_HELD_SIGNAL_ENV);
    const char *tree = getenv("CRSNAP_TREE");
    int alone = tree && !strcmp(tree, "0");
    if (!p || !strstr(p, "libcrsnap") ||
        (alone && only && *only && atoi(only) != (int)getpid())) {
        release_held_signal(sig, 0);
        return;
    }
    r = crs_init(NULL);
    if (r < 0 && r != -EALREADY)
        crs_log(CRS_LOG_ERROR, "not started (%s): the program runs without checkpoints",
                strerror(-r));
    release_held_signal(sig, (r == 0 || r == -EALREADY) &&
                                 __atomic_load_n(&crs_state.initialized, __ATOMIC_ACQUIRE) == 1 &&
                                 crs_state.cfg.signal == sig);
}
