/* snapshot/snapshot.h - the contract between the runtime (which stops the threads and forks)
 * and the snapshot child (which reads the process through /proc and writes the image).
 * The runtime fills a request before the clone; the child reads it, writes the image, reports
 * through a pipe and exits. Nothing in the child may malloc, use stdio or take a lock.
 */
#ifndef CRS_SNAPSHOT_H
#define CRS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "image/image.h"


/* Test hooks of the snapshot child: faults and delays the tests need to reach paths a healthy
 * run never takes. Resolved once by the parent (snapshot/testhooks.c, which lists each hook,
 * what it does and which test uses it) and carried in the request; zero = none. */
struct crs_snap_hooks {
    int one_thread;                 /* no compression helper thread */
    int no_pagemap_scan;            /* the page walk reads pagemap, not PAGEMAP_SCAN */
    int child_crash;                /* 0 none, 1 fault after releasing, 2 fault on page zero */
    uint32_t write_delay_ms;        /* sleep per chunk compressed */
    uint32_t fds_delay_ms;          /* sleep before reading the descriptors */
    uint32_t uring_rw_flags;        /* rw_flags io_uring refuses, to force the fallback */
    uint32_t accept_delay_us;       /* the runtime's: a pause between accepting and recording */
    uint32_t reset_delay_ms;        /* the runtime's: a pause between a snapshot and the reset */
};

/* Reads the test hooks from the environment (parent side, never in the child). */
void crs_snap_hooks_from_env(struct crs_snap_hooks *h);

/* The rule of every on/off environment setting: set, not empty and not starting with '0'. */
int crs_env_flag(const char *value);

/* A value of a descriptor captured while the threads were stopped, by its kind's quiesce
 * (fds/: a regular file's offset, an eventfd's counter), for the child's pin and apply. The
 * child reads only after the threads run again, and what they did in between (an offset moved,
 * a wake-up consumed) must not be in the image while the restored memory has not seen it. */
struct crs_snap_fdstate {
    int32_t fd;
    uint32_t kind;                  /* enum crs_img_fd_kind */
    uint64_t ino;
    uint64_t value;
};

/* Bytes queued in pipes and unix sockets are copied by the runtime while the threads
 * are stopped (runtime/fdqueue.c) into the last CRS_SNAP_QUEUED_MAX bytes of the scratch,
 * already laid out as the QUEUED section's payload; the child writes that as it is. */
#define CRS_SNAP_QUEUED_MAX (1u << 20)

/* Open files deleted from their directory are copied by the runtime while the threads are
 * stopped into a memfd of its own (runtime/fddeleted.c), at most CRS_SNAP_DELETED_MAX bytes in
 * all; the child writes them from there as the DELETED section. */
#define CRS_SNAP_DELETED_MAX CRS_IMG_DELETED_MAX
struct crs_snap_deleted {
    int32_t fd;
    uint32_t mode;
    uint64_t ino;
    uint64_t size;
    uint64_t offset;                /* in the memfd */
    uint64_t dev;                   /* with ino, which file: one copy each */
};

/* Shared memory that lives only in memory (SysV segments, /dev/shm objects) is not copied by
 * the fork: the runtime copies the resident pages of its regions while the threads are stopped
 * into a memfd of its own (runtime/shmcopy.c), at most CRS_SNAP_SHM_MAX bytes, and the child
 * saves a region from its copy when the region is still the one copied. */
#define CRS_SNAP_SHM_MAX (64u << 20)
#define CRS_SNAP_SHM_REGIONS 64
struct crs_snap_shmcopy {
    uint64_t start, end;            /* the region */
    uint64_t ino;                   /* its maps inode (a SysV segment's id) */
    uint64_t offset;                /* where its copy starts in the memfd (holes: not resident) */
    uint32_t copied;                /* 1: the copy is whole */
    uint32_t pad;
};

/* crs_snap_request.ranges_how: the bits the child reads (1 and 2 are the runtime's own, for
 * MADV_DONTFORK and MADV_WIPEONFORK regions). */
#define CRS_SNAP_RANGE_LOCKED 0x4u      /* smaps "lo": mlock */
#define CRS_SNAP_RANGE_ONFAULT 0x8u     /* smaps "lf": locked on fault (MLOCK_ONFAULT) */

/* The most of the runtime's own descriptors (internal_fds) the child takes: above what the
 * runtime lists (CRS_MAX_INTERNAL_FDS, runtime/state.h, which asserts it). */
#define CRS_SNAP_MAX_INTERNAL_FDS 640

/* Incremental images (runtime/track.c keeps the tracking; docs/ARCHITECTURE.md says why it is
 * done so). The runtime tracks written pages with userfaultfd's asynchronous write protection.
 * After each snapshot, the program running, it lists the pages written since its previous
 * reset and protects them again (PAGEMAP_SCAN with PM_SCAN_WP_MATCHING): for the next image,
 * that list is `written` (writes between the parent's snapshot and that reset). Once the threads
 * run again after this snapshot, it lists the pages still protected (`clean`: not written since
 * that reset, in regions it tracks) into a memory area shared with the child, and then writes
 * the pause to pause_fd. `fresh` are the regions it started tracking just before this stop,
 * whose earlier writes it did not see. A page is left to the parent only when it is in `clean`
 * and in neither `written` nor `fresh`: unwritten from the parent's snapshot to this one. */
struct crs_snap_range {
    uint64_t start, end;
};
struct crs_snap_track {
    int incr;                       /* 1: write an incremental image on the parent below */
    uint32_t depth;                 /* this image's depth in its chain (parent's + 1) */
    char parent_name[64];           /* the parent's file name in dir */
    uint64_t parent_toc;            /* its trailer's toc_checksum */
    uint64_t parent_created;        /* its header's created_ns */
    uint64_t parent_seq;
    const struct crs_snap_range *written; /* ascending, disjoint */
    uint32_t nwritten;
    const struct crs_snap_range *fresh;   /* ascending, disjoint */
    uint32_t nfresh;
    const struct crs_snap_range *clean;   /* in the shared area: valid once the pause came */
    const volatile uint32_t *nclean;
    const void *area;               /* the shared area: a region of the process not saved */
    size_t area_size;
};

struct crs_snap_request {
    char path[CRS_PATH_MAX];        /* final image path */
    char dir[CRS_PATH_MAX];         /* directory for `latest` and retention; "" for explicit paths */
    int dir_fd;                     /* path's directory, opened and checked by the parent
                                     * (io/imgdir.h): every name is relative to it */
    uint64_t seq;                   /* sequence number (0 for explicit paths); the child takes
                                     * a higher one if another process took this one meanwhile */
    uint8_t job_id[CRS_IMG_JOB_ID_SIZE]; /* in the header; retention deletes only its matches */
    int keep;                       /* images kept in dir after publishing (0 = keep all) */
    int level;                      /* zstd level */
    int force_pwrite;               /* 1 = skip io_uring (tests, benchmarks) */
    int killed;                     /* the process exits after this snapshot: flag in header */
    int32_t parent;                 /* pid of the process checkpointed (the child's parent): the
                                     * child reads its pid and name, and publishes nothing once
                                     * that process has ended (getppid() then names another) */
    const struct crs_img_thread *threads;
    uint32_t nthreads;
    struct crs_img_restart restart;
    struct crs_img_itimer itimers[3]; /* not inherited across fork: read by the parent */
    int32_t public_pid;             /* the pid others know it by, if not its own (in a pid
                                     * namespace a restore made), else 0 */
    const struct crs_img_timer *timers; /* POSIX timers, likewise */
    uint32_t ntimers;
    uint32_t timers_missed;         /* beyond CRS_IMG_MAX_TIMERS: reported, not saved */
    const struct crs_snap_fdstate *fdstate; /* captured at the quiesce (runtime/fdpos.c) */
    uint32_t nfdstate;
    const int *internal_fds;        /* crsnap's own descriptors, recorded as CRS_FD_INTERNAL */
    uint32_t ninternal;
    int report_fd;                  /* child writes one struct crs_snap_report here */
    int pause_fd;                   /* parent writes the pause (uint64 ns) here after the clone */
    uint64_t created_ns;
    struct crs_img_host host;       /* host facts, read once at init by the parent */
    void *scratch;                  /* parent-allocated (mmap) scratch for parsing /proc before */
    size_t scratch_size;            /*   the child maps anything of its own; its last
                                     *   CRS_SNAP_QUEUED_MAX bytes hold the queued bytes */
    uint32_t nqueued;               /* QUEUED records there */
    uint64_t queued_len;            /* and their bytes */
    const struct crs_snap_deleted *deleted; /* deleted files' contents, in deleted_memfd */
    uint32_t ndeleted;
    int deleted_memfd;
    /* Regions whose flags a fork does not carry, as the runtime read them from its smaps while
     * the threads were stopped (runtime/dontfork.c): [start, end) and CRS_SNAP_RANGE_* bits */
    const uint64_t (*ranges)[2];
    const uint8_t *ranges_how;
    uint32_t nranges;
    const struct crs_snap_shmcopy *shmcopy; /* shared memory copied at the snapshot, in */
    uint32_t nshmcopy;                       /*   shm_memfd */
    int shm_memfd;
    /* The root of a job of several processes (runtime/tree.c): the TREE section, its header
     * and members (ntree of them); NULL for a process alone or a member */
    int leader_fd;                  /* a member of a job: the root's connection, where the
                                     * child says how it went (-1 otherwise) */
    const struct crs_img_tree *tree;
    const struct crs_img_tree_member *tree_members;
    uint32_t ntree;
    /* Any process of a job: the pids of all the job's processes that hold descriptors (as
     * /proc here shows them), so that what is the job's is not called lost; 0 alone */
    const int *job_pids;
    uint32_t njob;
    int no_release;                 /* 1 = the child keeps the pages it has written until it
                                     * exits ($CRSNAP_NO_RELEASE); 0 = it unmaps them as it
                                     * goes, so the parent's later writes copy nothing */
    int no_direct;                  /* 1 = every write buffered, no O_DIRECT ($CRSNAP_NO_DIRECT) */
    int log_level;                  /* the runtime's: above 0 the child says it falls back to
                                     * pwrite */
    struct crs_snap_hooks hooks;    /* tests only; all zero otherwise */
    struct crs_snap_track track;    /* incremental images */
};

struct crs_snap_report {
    int32_t error;                  /* 0 or -errno */
    uint32_t crashed;               /* 1: the child faulted (error is -EFAULT, message says where) */
    uint64_t bytes_written;
    uint64_t memory_covered;
    uint64_t memory_saved;
    uint64_t write_ns;
    uint64_t released;              /* bytes of the process the child had unmapped */
    uint64_t seq;                   /* the sequence number the image was published under */
    /* How the image went to the file (said once by the runtime, runtime/writepath.c): */
    int32_t uring;                  /* 1 io_uring throughout, 0 pwrite */
    int32_t uring_err;              /* why not, or why it was left (-errno); 0 if forced */
    int32_t direct;                 /* 1 some blocks with O_DIRECT, -1 not tried (disabled) */
    int32_t direct_err;             /* the file system refused O_DIRECT (-errno), or 0 */
    char path[CRS_PATH_MAX];
    char message[256];
    uint32_t nunsaved;              /* what a restore will not bring back (UNSAVED section) */
    uint32_t unsaved_shown;         /* of which the first ones, one per line, in unsaved */
    char unsaved[1024];
    uint64_t toc_checksum;          /* the image's identity for a child image (PARENT) */
    uint32_t depth;                 /* 0: a full image; else its depth in its chain */
    uint32_t pad;
    uint64_t inherited;             /* bytes left to the parent */
};

/* Runs in the snapshot child. Writes req->path atomically (temp name, fsync, rename, directory
 * fsync), updates `latest` and retention in req->dir, writes one report, exits 0 on success.
 * Never returns. */
__attribute__((noreturn)) void crs_snapshot_child(const struct crs_snap_request *req);

/* child.c: a job member's outcome as the root reads it, "ok SEQ PATH\n" or "error ERRNO
 * MESSAGE\n" (MESSAGE on one line), into line (cap bytes, NUL-terminated); its length. Told
 * by the snapshot child, or by the runtime when the child could not (child-safe). */
size_t crs_snap_result_line(char *line, size_t cap, int error, const char *message,
                            uint64_t seq, const char *path);

/* Parent side, once at init: host facts for every image. Returns 0 or -errno. */
int crs_snapshot_host(struct crs_img_host *out);

/* Parent side: the scratch size the child needs, so it can be mapped once at init. */
size_t crs_snapshot_scratch_size(void);


#endif
