/* runtime/state.h - the runtime's one state struct: configuration, handler registry, critical
 * section counters, the quiesce slots and thread records, the coordinator's current checkpoint,
 * results and descriptors. Everything the coordinator needs after a restart lives here, in
 * memory that the image carries, so a restored process finds it exactly as it was.
 */
#ifndef CRS_RUNTIME_STATE_H
#define CRS_RUNTIME_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "crsnap.h"
#include "control_proto.h"
#include "restart/restart.h"
#include "snapshot/snapshot.h"
#include "image/fdkind.h"

/* Nothing declared here is part of the library's interface (include/crsnap.h is): hidden, so it
 * stays out of the dynamic symbol table and is called without the PLT, also from the quiesce
 * handler. */
#pragma GCC visibility push(hidden)

#define CRS_MAX_HANDLERS 256
#define CRS_MAX_THREADS CRS_PLAN_MAX_THREADS
#define CRS_PIPES_SEEN 8192          /* slots of the set of pipes met while stopped (power of 2) */
#define CRS_MAX_DELETED 64          /* deleted open files whose contents one checkpoint saves */
#define CRS_MAX_FDSTATE 2048        /* descriptor values a checkpoint captures at the quiesce */
#define CRS_MAX_DONTFORK 4096       /* MADV_DONTFORK regions a checkpoint can lift */
#define CRS_MAX_WAITERS 16          /* control clients waiting for a checkpoint at once */
#define CRS_MAX_CTL_CLIENTS 16      /* control connections whose request is still coming */
#define CRS_RESULT_RING 16          /* outcomes remembered for crs_checkpoint() callers */
#define CRS_INTERNAL_FD_MIN 1000    /* internal descriptors live at or above this number */
#define CRS_FIXED_INTERNAL_FDS 14   /* the long-lived ones a checkpoint lists: checkpoint.c's
                                     * list_internal_fds names 10, then the deleted files'
                                     * memfd, the two of track.c; one to spare */
#define CRS_MAX_INTERNAL_FDS (CRS_FIXED_INTERNAL_FDS + CRS_MAX_WAITERS + CRS_MAX_CTL_CLIENTS + \
                              CRS_IMG_TREE_MAX + 3)  /* a job root's connections (tree.c) */
_Static_assert(CRS_MAX_INTERNAL_FDS <= CRS_SNAP_MAX_INTERNAL_FDS,
               "the snapshot child takes every descriptor the runtime lists as its own");
#define CRS_OWN_FDS 5               /* long-lived descriptors watched by ownfds.c */

/* Tracking of written pages for incremental images (track.c). */
struct crs_track {
    int uffd;                       /* userfaultfd with asynchronous write protection, or -1 */
    int pagemap_fd;                 /* /proc/self/pagemap, for PAGEMAP_SCAN, or -1 */
    int off;                        /* -errno: tracking failed, every image is full */
    int w_cur;                      /* which of the area's written lists the last reset filled */
    uint32_t nw;                    /* its runs */
    int w_ok;                       /* 1: that reset was this process's last, and its list whole */
    void *area;                     /* shared with the snapshot child, never saved */
    size_t area_size;
    int have_parent;                /* the last image is a parent for the next one */
    char parent_name[64];
    uint64_t parent_toc, parent_created, parent_seq;
    uint32_t depth;                 /* the parent's depth in its chain, 0 = full */
};

/* The resolved configuration (struct crs_config with defaults and environment applied). */
struct crs_settings {
    char dir[CRS_PATH_MAX];
    char socket_dir[CRS_PATH_MAX];  /* "" = /tmp/crsnap-UID */
    double interval;                /* seconds, 0 = no timer */
    int keep;                       /* images kept, 0 = all */
    int signal;                     /* trigger signal, 0 = none */
    int level;                      /* zstd level */
    int control_socket;             /* 1 = listen */
    int log_level;                  /* 0 errors, 1 info, 2 debug */
    unsigned quiesce_timeout_ms;
    int force_pwrite;
    int no_release;                 /* $CRSNAP_NO_RELEASE: the child unmaps nothing */
    int no_direct;                  /* $CRSNAP_NO_DIRECT: no O_DIRECT writes */
    int full_every;                 /* every Nth image of a chain is full; 1 = all full */
    struct crs_snap_hooks hooks;    /* $CRSNAP_TEST_*, for the snapshot child */
};

/* One registered handler. Sync handlers are owned by a thread, named by its thread pointer
 * (glibc's struct pthread): it is the same before and after a restart, unlike the tid. */
struct crs_handler {
    int id;
    unsigned flags;                 /* CRS_ASYNC or CRS_SYNC */
    uint64_t owner;                 /* thread pointer of the registering thread (CRS_SYNC) */
    crs_handler_fn fn;
    void *arg;
    int prepared;                   /* in a frozen copy: prepare returned 0, resume still due */
};

struct crs_registry {
    struct crs_handler h[CRS_MAX_HANDLERS];
    unsigned n;
    int next_id;
};

/* The system call a thread was blocked in when the coordinator signalled it (interrupted.c):
 * what /proc/self/task/TID/syscall said, and since when it waited (monotonic ns, 0 unknown). */
struct crs_blocked_call {
    int valid;                      /* a call that is entered again if the stop interrupts it */
    long nr;
    uint64_t arg[6], sp, pc;
    uint64_t since_ns;
};

/* Where a thread finds a relative timeout that the kernel does not update, shortened by the
 * time already waited, when its call is entered again. One per thread (tid), so that it stays
 * untouched until the kernel has read it, after the handler returned. */
struct crs_call_room {
    _Atomic int tid;
    struct timespec ts;
    struct {                        /* struct io_uring_getevents_arg */
        uint64_t sigmask;
        uint32_t sigmask_sz, min_wait_usec;
        uint64_t ts;
    } ring_arg;
};

/* A thread's own affinity, nice value and policy (threadattrs.c). */
struct crs_thread_attrs {
    unsigned ok;                    /* which were read: 1 affinity, 2 nice, 4 policy */
    int nice;
    int policy;
    int priority;                   /* struct sched_param */
    uint64_t cpus[16];              /* CPUs 0 to 1023 */
};

/* A quiesce slot: the coordinator fills tid and gen, then signals; the thread claims it. */
struct crs_slot {
    _Atomic int tid;
    _Atomic unsigned gen;           /* the checkpoint it was signalled for */
    _Atomic int claimed;            /* the handler took it (it is running or parked) */
    _Atomic int ready;              /* recorded and parked */
    int veto;                       /* a sync prepare returned non-zero */
    int veto_id;
    uint64_t signalled_ns;
    struct crs_blocked_call call;   /* filled before the signal */
};

/* A result remembered for crs_checkpoint() callers: the tickets (lo, hi] got outcome. */
struct crs_outcome { uint64_t lo, hi; int outcome; };

/* A control client waiting for the result of a checkpoint. */
struct crs_waiter { int fd; uint64_t ticket; };

/* A control connection accepted from the same user, its request not complete yet: read as it
 * comes, without blocking, and dropped at its deadline. */
struct crs_ctl_client {
    int fd;
    unsigned len;
    uint64_t deadline_ns;           /* monotonic */
    char buf[CRS_CONTROL_REQUEST_MAX];
};

/* The checkpoint being taken. Written by the coordinator before the snapshot, so that it is
 * intact when the coordinator comes back from crs_arch_save_context() in a restored process. */
struct crs_current {
    int active;
    int kill;                       /* exit after a successful snapshot */
    int kill_sig;                   /* kill mode for an exit-on signal (exit_on.c), 0 = no */
    int explicit_path;              /* a crs_checkpoint(path) request */
    int member;                     /* a member's part of its job's checkpoint (tree.c) */
    int child_silent;               /* the snapshot child died without its report */
    uint64_t covered;               /* dir requests up to this ticket are served by it */
    uint64_t covered_lo;
    uint64_t start_ns;              /* quiesce started (monotonic) */
    int nslots;                     /* slots in use (read by the quiesce handler) */
    int nclaimed;                   /* slots whose thread ran the handler, at release */
    int coord_index;                /* index of the coordinator's record in threads[] */
    int64_t sched_clock_offset;     /* CLOCK_MONOTONIC less the scheduler's clock (interrupted.c) */
    int report_pipe[2];
    int pause_pipe[2];
    pid_t child;
    int pidfd;                      /* the child's, -1 where CLONE_PIDFD is not available */
    int crashed;                    /* the child died of a fault: a bug of ours, retried once */
};

/* A job of several processes (tree.c). */
enum { CRS_TREE_NONE = 0, CRS_TREE_ROOT, CRS_TREE_MEMBER };
#define CRS_TREE_LINE (CRS_PATH_MAX + 64)
struct crs_tree_state {
    int role;                       /* CRS_TREE_*: from the environment `crsnap run` set */
    pid_t root;                     /* the root's pid */
    /* the root, during a checkpoint of the job */
    int active;                     /* several processes take part in this one */
    uint32_t nmembers;
    struct crs_img_tree head;
    struct crs_img_tree_member members[CRS_IMG_TREE_MAX];
    struct crs_img_tree_member again[CRS_IMG_TREE_MAX]; /* the second look */
    int peers[CRS_IMG_TREE_MAX];    /* a connection to each living member */
    uint32_t peer_member[CRS_IMG_TREE_MAX]; /* its index in members[] */
    uint32_t npeers;
    int dir_fd;                     /* the image directory (the request's) */
    int parts_fd;                   /* the parts directory in it */
    char dir[CRS_PATH_MAX];         /* the request's DIR, "" for an explicit path */
    char final[CRS_PATH_MAX];       /* the job's image name in dir_fd */
    /* a member, during a checkpoint of the job */
    int leader_fd;                  /* the root's connection, or -1 */
    int forward_fd;                 /* a member's connection to the root, asking for a checkpoint */
    int pending;                    /* asked, not started */
    int kill;
    uint64_t seq;
    char path[CRS_PATH_MAX];        /* where its image goes */
    uint64_t forwarded;             /* requests up to this ticket were passed to the root */
    /* either: the pids of the job's processes that hold descriptors, for its snapshot child
     * (the root's list, sent with "go") */
    int job[CRS_IMG_TREE_MAX];
    uint32_t njob;
    /* the root: processes found running without the library, left out of the job with their
     * descendants (this checkpoint's, for its second look) */
    pid_t left_out[CRS_IMG_TREE_MAX];
    uint32_t nleft_out;
    /* buffers for /proc, used while stopped */
    char dents[4096];
    char text[1024];                /* a children list */
    char stat_text[1024];           /* a /proc/PID/stat */
};

/* runtime/exec.c: what a job's new program gets back in its environment. */
#define CRS_EXEC_KEPT_MAX 32
struct crs_exec_state {
    char lib[CRS_PATH_MAX];         /* the library's path, for LD_PRELOAD; "" outside a job */
    char *kept[CRS_EXEC_KEPT_MAX];  /* "CRSNAP_...=..." as the library started, in buf */
    uint32_t nkept;
    size_t used;
    char buf[4096];
    void *posix_spawn, *posix_spawnp, *execvpe, *fexecve;   /* libc's own */
};

struct crs_state {
    /* set once at init */
    int initialized;
    int disabled;                   /* a forked copy of the process: no coordinator here */
    int atfork_set;                 /* the fork and exit hooks are registered */
    pid_t pid;
    pid_t public_pid;               /* the pid others know it by, which names its control
                                     * socket: outside the pid namespace a restore made */
    struct crs_settings cfg;
    struct crs_img_host host;
    void *scratch;
    size_t scratch_size;
    int64_t tid_offset;             /* glibc's tid field from the thread pointer, 0 = unknown */
    int64_t tid_cand[8];            /* offsets that held the tid in the initialising thread */
    int ntid_cand;
    int64_t rseq_offset;
    uint32_t rseq_size;             /* 0 = glibc does not register rseq */
    uint32_t rseq_sig;
    int quiesce_signal;

    /* handlers and critical sections */
    pthread_mutex_t lock;           /* registry, path slot, results; never held while quiesced */
    pthread_mutex_t fd_lock;        /* the runtime's descriptors change; fork() (forklock.c) */
    pthread_cond_t cond;
    struct crs_registry reg;
    struct crs_registry frozen;     /* the copy a checkpoint runs: read without locks */
    int handlers_busy;              /* frozen is in use: crs_unregister waits */
    int sync_key_made;
    pthread_key_t sync_key;         /* its destructor drops an exiting thread's sync handlers */
    _Atomic int cs_pending;         /* a checkpoint wants the critical sections closed */
    _Atomic int cs_count;           /* threads inside one */

    /* requests and results */
    _Atomic uint64_t req_seq;       /* directory checkpoint tickets handed out */
    uint64_t done_seq;              /* tickets served */
    struct crs_outcome outcomes[CRS_RESULT_RING];
    unsigned noutcomes;
    int path_busy;                  /* one explicit-path request at a time */
    int path_pending;
    int path_outcome;
    uint64_t path_ticket, path_done;
    char path_req[CRS_PATH_MAX];
    int kill_pending;               /* fd of the control client that asked for kill, or -1 */
    struct crs_waiter waiters[CRS_MAX_WAITERS];
    unsigned nwaiters;
    int have_result;
    struct crs_result last;
    uint64_t next_seq;              /* lowest sequence number not yet used in cfg.dir */
    uint8_t job_id[CRS_IMG_JOB_ID_SIZE]; /* random, chosen at init, kept by a restore (it is in
                                     * memory): the images of this job carry it */
    _Atomic int restart_count;
    unsigned write_path_said;       /* what writepath.c has said already (its bits) */
    uint64_t exit_on_mask;          /* bit N-1: signal N checkpoints and ends (exit_on.c) */
    _Atomic int exit_on_sig;        /* such a signal arrived and is not served yet, or 0 */

    /* quiesce */
    _Atomic unsigned quiesce_gen;   /* checkpoint number, tags the slots */
    _Atomic int quiescing;          /* handlers may park */
    _Atomic int ready_count;        /* futex: threads parked */
    _Atomic int release_gen;        /* futex: changes to let the parked threads go */
    _Atomic int release_phase;      /* CRS_CONTINUE, CRS_RESTART or CRS_ABORT */
    _Atomic int left_count;         /* futex: threads that finished their resume */
    _Atomic int attrs_failed;       /* restored threads that could not have their own
                                     * affinity, nice or policy back */
    struct crs_slot slots[CRS_MAX_THREADS];
    struct crs_img_thread threads[CRS_MAX_THREADS];
    struct crs_call_room call_rooms[CRS_MAX_THREADS];
    char dirent_buf[8192];          /* /proc/self/task listing without malloc */

    /* the coordinator */
    pthread_t coord;
    _Atomic int coord_tid;
    _Atomic int coord_started;      /* futex: 1 running, -errno failed */
    struct crs_current cur;
    struct crs_snap_request req;
    int internal_fds[CRS_MAX_INTERNAL_FDS];
    _Atomic int eventfd;            /* read by the trigger signal handler */
    int timerfd;
    int listen_fd;
    char sock_path[CRS_PATH_MAX];
    struct crs_ctl_client clients[CRS_MAX_CTL_CLIENTS];
    unsigned nclients;
    char err[256];                  /* message of the checkpoint being taken */
    uint64_t own_ids[CRS_OWN_FDS][2]; /* (st_dev, st_ino) of eventfd, timerfd, listen_fd, tee
                                     * pipe ends, to tell when the program closed them */
    unsigned own_want;              /* which of them are in use */
    int own_broken;                 /* -errno: they could not be made again, no checkpoints */

    /* Region flags a fork does not carry, read from smaps while quiesced (dontfork.c):
     * MADV_DONTFORK and MADV_WIPEONFORK regions, lifted around the snapshot clone, and locked
     * regions, which the snapshot child records (memlock.c notices the locks) */
    _Atomic int saw_dontfork;       /* the program asked for MADV_DONTFORK at least once */
    _Atomic int saw_mlock;          /* the program locked memory at least once */
    _Atomic int mlock_future;       /* the flags of the last mlockall with MCL_FUTURE, or 0 */
    int64_t lock_pre_kib;           /* KiB locked as read before the stop, or -1 (dontfork.c) */
    int ndontfork;
    uint64_t dontfork[CRS_MAX_DONTFORK][2];   /* start, end */
    uint8_t dontfork_how[CRS_MAX_DONTFORK];  /* 1: was MADV_DONTFORK, 2: MADV_WIPEONFORK,
                                              * CRS_SNAP_RANGE_LOCKED, _ONFAULT (snapshot.h) */
    char smaps_buf[16384];
    /* shared memory copied at the snapshot (shmcopy.c) */
    int shm_memfd;                  /* -1 outside a checkpoint */
    uint32_t nshmcopy;
    uint64_t shm_bytes;
    uint32_t shm_missed;            /* regions too large for the budget, or not readable */
    struct crs_snap_shmcopy shmcopy[CRS_SNAP_SHM_REGIONS];
    unsigned char shm_vec[4096];    /* mincore of one stretch */

    /* what the descriptors' kinds capture at the quiesce (regular files' offsets, eventfd
     * counters), for the snapshot child (fdpos.c) */
    uint32_t nfdstate;
    struct crs_snap_fdstate fdstate[CRS_MAX_FDSTATE];
    struct crs_fd_probe fd_probe;   /* the descriptor being recognised */
    char fd_dents[4096];
    char fd_text[1024];             /* scratch for draining the tee pipe (fdqueue.c) */

    /* bytes queued in pipes and unix sockets at the quiesce (fdqueue.c) */
    int tee_pipe[2];                /* copies a pipe's bytes without consuming them */
    uint32_t nqueued;               /* records built at the end of the scratch */
    uint64_t queued_len;
    uint32_t queued_missed;         /* queues that did not fit or could not be copied whole */
    uint32_t npipes_seen;
    uint64_t pipes_seen[CRS_PIPES_SEEN]; /* inodes of the pipes met in this walk (a set) */

    /* open files deleted from their directory, copied at the quiesce (fddeleted.c) */
    int deleted_memfd;              /* -1 outside a checkpoint */
    uint32_t ndeleted;
    uint64_t deleted_bytes;
    uint32_t deleted_missed;        /* files left out: too large, too many, unreadable */
    struct crs_snap_deleted deleted[CRS_MAX_DELETED];

    struct crs_track track;         /* written pages, for incremental images (track.c) */

    /* POSIX timers, read at the quiesce: fork does not carry them to the snapshot child
     * (ptimers.c) */
    uint32_t ntimers;
    uint32_t timers_missed;         /* more than the image holds */
    struct crs_img_timer timers[CRS_IMG_MAX_TIMERS];
    char timers_line[256];          /* /proc/self/timers, read line by line */

    struct crs_tree_state tree;
    struct crs_exec_state exec;
};

extern struct crs_state crs_state;

/* The per-thread part of the state: critical section depth and whether a handler is running.
 * initial-exec: read in the quiesce handler, where __tls_get_addr could allocate. */
struct crs_tls {
    int cs_depth;
    int cs_free;                    /* the outermost section was entered in a handler */
    int in_handler;
};
extern __thread struct crs_tls crs_tls __attribute__((tls_model("initial-exec")));

#pragma GCC visibility pop
#endif
