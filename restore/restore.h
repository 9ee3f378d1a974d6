/* restore/restore.h - the restorer: turns the running `crsnap restore` into the process an
 * image holds. Checks come first and change nothing (restore_check.c, restore_layout.c); then
 * memory (restore_mem.c), descriptors (restore_fds.c), process state (restore_proc.c), and the
 * jump into the restored library's restart entry (restore.c). Ordinary libc code.
 */
#ifndef CRS_RESTORE_H
#define CRS_RESTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "image/reader.h"
#include "restart/restart.h"

/* Re-executions of crsnap when the restorer's layout collides with an image, counted in the
 * environment: shared by crsnap restore and run --resume, which use the same restorer (a
 * job's member restorer starts the count again). */
#define CRS_REEXEC_ENV "CRSNAP_RESTORE_TRY"
#define CRS_REEXEC_MAX 8

/* The restorer's test hooks: pretend to be another host, to reach the incompatible-host errors.
 * NULL / 0 = the real one. Read once by the restore command (snapshot/testhooks.c). */
struct crs_restore_hooks {
    const char *fake_release;   /* kernel release */
    const char *fake_libc;      /* glibc version */
    int has_fake_xfeatures;
    uint64_t fake_xfeatures;    /* XCR0 */
    int force_reexec;           /* crsnap restore re-executes itself this many times, as if
                                 * the layout had collided */
};

/* Which pid the restored process gets. */
enum {
    CRS_PID_DEFAULT = 0,        /* the saved one where this user can have it, else a new one */
    CRS_PID_SAME,               /* --same-pid: the saved one, or fail */
    CRS_PID_NEW,                /* --new-pid: the restorer's own */
};

struct crs_restore_opts {
    const struct crs_image *tree_root; /* a member of a job: the job's root image (its own
                                     * image is the one restored) */
    int in_job;                 /* the image is a job's (its root's restorer checks a part) */
    int force;                  /* changed or missing files are warnings, not errors */
    int dry_run;                /* validate everything, change nothing */
    int progress;               /* progress line on stderr */
    int verbose;                /* say what is not restored exactly */
    int pid_mode;               /* CRS_PID_*: under which pid (restore_pid.c) */
    int own_std;                /* descriptors 0-2 are this command's, whatever they were (a
                                 * batch job resumed: its output goes to this run's file) */
    int one_thread;             /* decompress on one thread ($CRSNAP_RESTORE_THREADS=1) */
    int lazy;                   /* --lazy: resume first, pages come in on touch (restore_lazy.c) */
    int lazy_no_prefetch;       /* test hook: the lazy helper serves faults only */
    const char *lazy_pidfile;   /* test hook: the lazy helper writes its pid there */
    struct crs_restore_hooks hooks;
};

/* Fills the settings and hooks above that come from the environment (snapshot/testhooks.c):
 * the commands call it once, the restorer reads no environment. */
void crs_restore_opts_from_env(struct crs_restore_opts *o);

/* One mapping of the restorer itself, from /proc/self/maps. */
struct crs_restore_map {
    uint64_t start, end;
    char name[24];              /* "[vdso]", "[vvar]", "[stack]"... or "" */
};

#define CRS_RESTORE_MAX_MAPS 512

/* A shared memory object made again: its identity in the image, and a descriptor of it. */
struct crs_restore_shm {
    uint64_t dev, ino;
    int fd;
    int sealed;                 /* its memfd descriptor has set its seals */
};

/* A SysV segment or /dev/shm object (SHMOBJ) at restore: the segment's id, and whether it was
 * made again, so that its regions' saved pages are written into it. */
struct crs_restore_obj {
    int shmid;                  /* SysV: the segment attached; else -1 */
    int fill;                   /* made again: the saved pages go in */
    int remove;                 /* SysV: removed once attached (IPC_RMID) */
};

/* A pipe, or memory, shared by processes of a job (restore_tree.c): made once, inherited by
 * all. */
enum crs_shared_kind { CRS_SHARED_PIPE, CRS_SHARED_MEMORY, CRS_SHARED_SOCKET };
struct crs_restore_shared {
    uint32_t kind;                  /* enum crs_shared_kind */
    uint64_t ino;                   /* its inode in the images; a socket: one end's */
    uint64_t peer;                  /* a socket: the inode of the other end */
    int fd[2];                      /* a pipe's read and write ends; a socket's ends ino and
                                     * peer; memory: its memfd, -1 */
    uint32_t source[2];             /* the pids whose images hold its queued bytes or pages (a
                                     * socket: the record of each end) */
    uint32_t ends;                  /* a pipe: which ends the job holds (1 read, 2 write); the
                                     * other is closed: its peer is gone */
    uint64_t dev;                   /* memory: its device */
    uint64_t size;                  /* memory: bytes, the most any process maps of it */
    uint32_t fd_kind;               /* memory held as a descriptor by source[1]: CRS_FD_MEMFD or
                                     * CRS_FD_FILE (a file with no name left) */
    uint32_t seals;                 /* a memfd: its seals */
    uint32_t mode;                  /* a file: its mode */
    char name[250];                 /* a memfd: its name (memfd_create's limit); a file: its
                                     * directory, where it fits */
};
#define CRS_RESTORE_MAX_SHARED 256

/* Everything the restorer carries from the checks to the jump. Filled step by step. */
struct crs_restore {
    struct crs_image *img;
    struct crs_restore_opts opts;
    struct crs_restore_map maps[CRS_RESTORE_MAX_MAPS];  /* the restorer's own mappings */
    uint32_t nmaps;
    int errfd;                  /* the restorer's stderr, kept apart from the restored fds */
    int stdfd[3];               /* copies of the restorer's stdin/stdout/stderr */
    int fd_floor;               /* restorer descriptors live at or above this number */
    struct crs_restart_plan *plan; /* a staging copy, written at plan_addr at the end */
    uint8_t *fd_done;           /* one flag per saved descriptor, made before the layout check */
    struct crs_restore_shm *shm; /* shared memory objects made again (restore_shm.c): room for */
    uint32_t nshm;              /*   one per region, made before the layout check */
    struct crs_restore_obj *objs; /* one per SHMOBJ record (restore_shmobj.c) */
    /* Decompression on two threads: both decompressors and the second thread's stack are made
     * before the layout check (crs_restore_memory_prepare), so they are in the unmap list. */
    int nthreads;               /* 1 or 2 */
    struct crs_chunk_reader rd[2];
    void *wstack;
    size_t wstack_size;
    int outer_pid;              /* in a pid namespace of its own: its pid outside, else 0 */
    int userns;                 /* that namespace came with a user namespace (no privilege) */
    struct crs_restore_shared shared[CRS_RESTORE_MAX_SHARED]; /* a job's pipes, sockets, memory */
    uint32_t nshared;
    /* Lazy restore (restore_lazy.c): on when asked and userfaultfd is there; the userfaultfd
     * of the restored process (kept open by it), the pipe that starts the helper, and every
     * chunk header, walked once before anything changes. */
    int lazy;
    int uffd, lazy_go;
    const struct crs_img_pageidx *idx; /* the image's page index, or one made by the walk */
    uint32_t nidx;
    struct crs_img_pageidx *own_idx;   /* the walk's (malloc), NULL with the image's */
    uint32_t own_cap;
    void *chain_buf;            /* one chunk of an ancestor, decompressed (restore_chain.c) */
};

/* restore_check.c: host facts and the files the image needs. 0, or -errno with a one-line
 * message in err ("libc.so.6 changed since the checkpoint (size/mtime differ)"). Warnings go
 * to stderr (not for a job's member: its root's restorer checked its image and said them). */
int crs_restore_check_host(const struct crs_image *img, const struct crs_restore_hooks *h,
                           char *err, size_t errlen);
int crs_restore_check_files(const struct crs_image *img, const struct crs_restore_opts *o,
                            char *err, size_t errlen);
/* What the image alone must satisfy to be restored anywhere (restart entry, thread count,
 * timer values): also run by `crsnap verify`. */
int crs_restore_check_image(const struct crs_image *img, char *err, size_t errlen);
/* Every saved descriptor number fits below RLIMIT_NOFILE's hard limit here (raised when the
 * process may). */
int crs_restore_check_fd_limit(const struct crs_image *img, char *err, size_t errlen);
/* For a dry run with --same-pid: the saved pid can be had, here or in a namespace. */
int crs_restore_check_pid(const struct crs_image *img, char *err, size_t errlen);

/* restore_layout.c: reads the restorer's own mappings and checks that none overlaps a saved
 * region (or the place the vDSO block must go). -EADDRINUSE when a fresh layout may help. */
int crs_restore_read_maps(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_check_layout(const struct crs_restore *r, char *err, size_t errlen);
/* The ranges the restart entry unmaps: the restorer's mappings except the vDSO block, merged
 * across gaps that hold no saved region. Returns the count or -E2BIG. */
int crs_restore_unmap_list(const struct crs_restore *r, struct crs_restart_range *out, int max);

/* restore_mem.c: maps every region the restore will map, with the same flags, protections
 * and files, at addresses the kernel chooses, all at once, then unmaps them: what the kernel
 * refuses here (commit, map count, access) it would refuse after the point of no return. */
int crs_restore_memory_try(const struct crs_restore *r, char *err, size_t errlen);
/* The host's [vdso] and [vvar] blocks are there, of the saved sizes (after read_maps). */
int crs_restore_check_vdso(const struct crs_restore *r, char *err, size_t errlen);
/* restore_mem.c: what crs_restore_memory needs besides the image (decompressors, a second
 * thread's stack when there are 2+ CPUs and CRSNAP_RESTORE_THREADS is not 1), made before the
 * layout check; release frees it when the restore stops early. 0 or -ENOMEM with err. */
int crs_restore_memory_prepare(struct crs_restore *r, char *err, size_t errlen);
void crs_restore_memory_release(struct crs_restore *r);
/* restore_mem.c: maps every saved region, fills in the saved pages, sets protections, moves
 * the vDSO block. -EADDRINUSE on a collision (a re-exec may help), other -errno otherwise. */
int crs_restore_memory(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_vdso(struct crs_restore *r, char *err, size_t errlen);
/* restore_chain.c: an incremental image. open opens and checks its chain of parents (before
 * anything changes: missing, damaged or wrong parents are errors) and makes the chunk buffer
 * (before the layout check); fill writes into the mapped regions the pages the ancestors give
 * (after the image's own). 0 for a full image. */
int crs_restore_chain_open(struct crs_restore *r, int full_check, char *err, size_t errlen);
int crs_restore_chain_fill(struct crs_restore *r, char *err, size_t errlen);
/* The regions that were locked, locked again (after the resource limits); a warning says what
 * the kernel refused and why. */
void crs_restore_locks(struct crs_restore *r);
/* The kernel's view of the program break, argument area, auxv (prctl PR_SET_MM_MAP). */
int crs_restore_mm(struct crs_restore *r, char *err, size_t errlen);

/* restore_shm.c: is v a region of shared memory that lives only in memory (shmem, memfd, an
 * unlinked file); make, before the regions are mapped, the objects that several regions or a
 * descriptor share (r->shm); the one of (dev, ino), or NULL; move them above floor with the
 * restorer's own descriptors; close them once the descriptors are rebuilt. */
int crs_restore_shm_region(const struct crs_img_vma *v);
int crs_restore_shm_make(struct crs_restore *r, char *err, size_t errlen);
struct crs_restore_shm *crs_restore_shm_find(struct crs_restore *r, uint64_t dev, uint64_t ino);
int crs_restore_shm_lift(struct crs_restore *r, int floor, char *err, size_t errlen);
void crs_restore_shm_close(struct crs_restore *r);

/* restore_shmobj.c: SysV segments and /dev/shm objects. check: 0, 1 (a warning in err) or
 * -errno for one object, changing nothing; make: creates the missing ones, before the regions
 * are mapped; obj_of: the state of the object region v maps, or NULL; sysv_attach: maps SysV
 * region v at its place; finish: removes again the segments the process had removed. */
int crs_restore_check_shmobj(const struct crs_image *img, const struct crs_img_shmobj *o,
                             const struct crs_restore_opts *opts, char *err, size_t errlen);
int crs_restore_shmobj_make(struct crs_restore *r, char *err, size_t errlen);
const struct crs_restore_obj *crs_restore_obj_of(const struct crs_restore *r,
                                                  const struct crs_img_vma *v);
int crs_restore_sysv_attach(struct crs_restore *r, const struct crs_img_vma *v, char *err,
                            size_t errlen);
void crs_restore_shmobj_finish(struct crs_restore *r);

/* restore_fds.c: moves the restorer's descriptors above every saved number, then rebuilds the
 * saved ones. Unrestored descriptors are listed in r->plan. */
int crs_restore_move_own_fds(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_fds(struct crs_restore *r, char *err, size_t errlen);
/* For the kinds' rebuild operations (fds/): a warning on the restorer's stderr; a fresh
 * descriptor moved above every saved number (so that it never lands on a slot still to be
 * filled; returns the new number or -errno, the original is closed); a fresh descriptor put at
 * f's number with f's close-on-exec flag (place closes it; dup leaves it open); a descriptor
 * attached to the matching stream of crsnap restore (terminals, standard streams whose other
 * side is outside the image); a file or FIFO opened again by its saved path, flags and offset;
 * the open flags a record's F_GETFL gives a reopen. */
void crs_restore_warn(struct crs_restore *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int crs_restore_fd_lift(struct crs_restore *r, int fd);
int crs_restore_fd_place(struct crs_restore *r, int fd, const struct crs_img_fd *f);
int crs_restore_fd_dup(const struct crs_img_fd *f, int from);
int crs_restore_fd_attach_std(struct crs_restore *r, const struct crs_img_fd *f);
int crs_restore_fd_reopen(struct crs_restore *r, const struct crs_img_fd *f);
/* The name descriptor f is reopened by: its saved path, except that the process's own files
 * in /proc (/proc/SAVEDPID/...) are /proc/self/... (in buf), whatever pid it has now. */
const char *crs_restore_fd_path(const struct crs_image *img, const struct crs_img_fd *f,
                                char *buf, size_t size);
int crs_restore_fd_open_flags(uint32_t flags);
/* One line on fd, "crsnap restore: " KIND MSG: MSG may hold strings from the image (paths,
 * names), so it is escaped as crsnap info escapes them (common/escape.h). */
void crs_restore_say(int fd, const char *kind, const char *msg);
/* Prints "crsnap restore: not restored: ..." to out for each record of the image's UNSAVED
 * section (but those back[i] marks as rebuilt after all), then for the image descriptors at
 * indexes extra[] (left closed, not in the section); all: every one, else the first five and
 * how many more. */
void crs_restore_say_unsaved(const struct crs_image *img, int out, int all,
                             const uint32_t *extra, uint32_t nextra, const uint8_t *back);

/* restore_queued.c: does the image hold bytes waiting in g; put them back through wfd (the
 * pipe's new write end, or the socket pair's other new end). */
int crs_restore_has_queued(const struct crs_image *img, const struct crs_img_fd *g);
void crs_restore_refill(struct crs_restore *r, const struct crs_image *img,
                        const struct crs_img_fd *g, int wfd, int is_pipe);
/* fds/unlinked.c: the directory of a file with no name left, from its path, into dir (cap
 * bytes; "/tmp" when it does not fit); a new nameless file there (else in /tmp), or -errno. */
void crs_restore_unlinked_dir(const char *path, char *dir, size_t cap);
int crs_restore_unlinked_file(const char *dir, uint32_t mode);
/* fds/memfd.c: the name memfd_create was given, from the descriptor's path ("/memfd:NAME
 * (deleted)"), into name (cap bytes). */
void crs_restore_memfd_name(const char *path, char *name, size_t cap);
/* fds/socket.c: a new unix socket pair for the two ends of a connection, end[k] as img[k]
 * recorded it: each end's options set again and the bytes it had to read put back. Its
 * descriptors (sv) are above the restorer's floor, close-on-exec unless inherit. */
int crs_restore_socket_pair(struct crs_restore *r, const struct crs_image *const img[2],
                            const struct crs_img_fd *const end[2], int inherit, int sv[2]);
/* restore_mem.c: does region v take saved pages (they are written into it)? */
int crs_restore_takes_pages(const struct crs_restore *r, const struct crs_img_vma *v);

/* restore_lazy.c: lazy restore. region: is v filled by the helper (private anonymous, saved,
 * not locked, no guards, not a SysV or /dev/shm object); probe: userfaultfd with kernel-mode
 * faults is there for this user (1, r->lazy set), or one line on stderr and 0 (eager); index:
 * the chunks, from the image's page index, else by walking and checking every chunk header
 * (instead of the full check of the pages); start: after
 * the pid is taken, the userfaultfd of this process and the guardian and helper, forked before
 * anything is mapped (1: userfaultfd refused here, one line said, restore eagerly; 0; -errno);
 * register: the lazy regions, once mapped, then starts the helper; fill_eager: the chunks of
 * the other regions, written in place by the restorer. */
int crs_restore_lazy_region(const struct crs_restore *r, const struct crs_img_vma *v);
int crs_restore_lazy_probe(struct crs_restore *r);
int crs_restore_lazy_index(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_lazy_start(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_lazy_register(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_lazy_fill_eager(struct crs_restore *r, char *err, size_t errlen);
/* Chunk k of r->idx: its header read (through win, or on its own when NULL) and checked
 * against the record, into it, ready for crs_image_read_chunk_r. */
int crs_restore_lazy_chunk(struct crs_restore *r, uint32_t k, struct crs_read_window *win,
                           struct crs_chunk_iter *it, char *err, size_t errlen);
/* Does chunk k of r->idx go into a region the helper fills? */
int crs_restore_lazy_chunk_lazy(const struct crs_restore *r, uint32_t k);
/* lazy_helper.c: the helper's life, in the process forked by crs_restore_lazy_start: waits for
 * the regions to be registered (gofd), then serves and fills them; exits 0 when every page is
 * in or the process is gone, non-zero when it cannot go on. */
__attribute__((noreturn)) void crs_lazy_helper(struct crs_restore *r, int gofd);

/* restore_proc.c: signal dispositions, cwd, umask, rlimits, personality; itimers last. */
int crs_restore_proc(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_itimers(struct crs_restore *r, char *err, size_t errlen);

/* restore_timers.c: the POSIX timers the restart entry makes, into r->plan: those of the image
 * that can come back, each clock tried (one this user may not have is a warning). Before
 * anything changes; -errno with err when the kernel cannot give a timer its id. */
int crs_restore_timers_plan(struct crs_restore *r, char *err, size_t errlen);

/* restore_pidns.c: messages from the namespace to the restorer outside it. */
enum { CRS_PIDNS_PID = 1, CRS_PIDNS_STATUS, CRS_PIDNS_ERROR };
struct crs_pidns_msg {
    int32_t kind;
    int32_t value;              /* the outer pid, a wait status, or an errno */
    int32_t stage;              /* what failed */
};
/* Forks into a new user + pid + mount namespace under pid want. Returns 0 in the restored-to-be
 * process (r->outer_pid set); the restorer relays and never returns; -errno (why in err) when
 * it cannot, having changed nothing. */
int crs_restore_pidns(struct crs_restore *r, pid_t want, char *err, size_t errlen);
/* The restorer's end: passes signals on to target, then exits as child's status says (or as
 * the status read from status_fd, when one comes). Never returns. */
__attribute__((noreturn)) void crs_restore_relay(pid_t child, pid_t target, int status_fd);
/* Closes every descriptor but keep (-1: all). */
void crs_close_all_but(int keep);

/* restore_pid.c: a child of this process under pid want (clone3 set_tid), as fork() returns
 * (0 in the child), or -errno: -EEXIST taken, -EPERM not this user's to choose. */
long crs_restore_fork_pid(pid_t want);
/* restore_pid.c: unless opts.pid_mode is CRS_PID_NEW, forks under the saved pid. Returns 0 in
 * the child (which goes on to become the restored process), or 0 in this process when the pid
 * cannot be had (a warning said so), or -errno with CRS_PID_SAME; the parent never returns: it
 * waits for the child and exits with its status. */
int crs_restore_take_pid(struct crs_restore *r, char *err, size_t errlen);

/* restore_tree.c: a job of several processes (see the file's head). open_part: the image of
 * process pid of root's job, checked to be that; check: every member's image, before anything
 * changes, and the pipes they share (r->shared); make: those pipes, with their bytes, named in
 * the environment; inherit: a member's restorer takes them from there; pipe: the end of a
 * shared pipe descriptor f is, or -1; lift/owns/close: with the restorer's own descriptors,
 * then gone once the process's own are rebuilt; spawn: this process's children in the job,
 * each under its pid; spawned: it did already (mark: it does now); in_ns: a member's
 * restorer runs in a namespace the restore made. */
#define CRS_RESTORE_ROOT_ENV "CRSNAP_RESTORE_ROOT"  /* "DEV:INO" of the job's trusted image */
int crs_restore_tree_open_part(const struct crs_image *root, uint32_t pid,
                               struct crs_image **out, char *err, size_t errlen);
int crs_restore_tree_check(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_tree_make(struct crs_restore *r, char *err, size_t errlen);
int crs_restore_tree_inherit(struct crs_restore *r);
int crs_restore_tree_pipe(const struct crs_restore *r, const struct crs_img_fd *f);
/* restore_tree.c: the end of a connection between two of the job's processes that socket
 * descriptor f is, made once for both, or -1. */
int crs_restore_tree_socket(const struct crs_restore *r, const struct crs_img_fd *f);
/* restore_tree.c: is f an end of a pipe or a connection whose every end the job holds (so
 * nothing of it is lost, whatever its checkpoint said)? */
int crs_restore_tree_joined(const struct crs_restore *r, const struct crs_img_fd *f);
/* restore_jobshm.c: puts_back: does a job's restore put the /dev/shm object region v maps back
 * as it was at the checkpoint (no running process maps it); make: the root's restorer does so
 * for every such object of the job, before any process is made. */
int crs_restore_jobshm_puts_back(const struct crs_image *img, const struct crs_restore_opts *o,
                                 const char *path);
int crs_restore_jobshm_make(struct crs_restore *r, char *err, size_t errlen);
/* restore_jobshm.c: writes into fd (or, base not NULL, into memory at base) the pages img
 * saved of the shared memory object (dev, ino) its regions map, at their offsets in the
 * object; buf holds CRS_RESTORE_OBJECT_BUF bytes. */
#define CRS_RESTORE_OBJECT_BUF ((size_t)CRS_IMG_CHUNK_MAX_PAGES * CRS_IMG_PAGE_SIZE)
int crs_restore_object_pages(const struct crs_image *img, uint64_t dev, uint64_t ino, int fd,
                             void *base, void *buf, char *err, size_t errlen);
/* restore_jobshm.c: the id under which the job's restore made SysV segment old_id again (or
 * put it back), or -1; sysv_puts_back: will it (before it does: nobody is attached). */
int crs_restore_jobshm_sysv(uint64_t old_id);
int crs_restore_jobshm_sysv_puts_back(const struct crs_image *img,
                                      const struct crs_restore_opts *o,
                                      const struct crs_img_shmobj *s);
/* restore_tree.c: the memfd of the job's shared memory (dev, ino), filled by the first
 * restorer: a process maps it and writes none of its own pages into it; or -1. */
int crs_restore_tree_memory(const struct crs_restore *r, uint64_t dev, uint64_t ino);
int crs_restore_tree_lift(struct crs_restore *r, int floor, char *err, size_t errlen);
int crs_restore_tree_owns(const struct crs_restore *r, int fd);
void crs_restore_tree_close(struct crs_restore *r);
int crs_restore_tree_spawn(struct crs_restore *r, const struct crs_image *root, char *err,
                           size_t errlen);
int crs_restore_tree_spawned(int mark);
int crs_restore_tree_pids_free(const struct crs_image *root, char *err, size_t errlen);
int crs_restore_tree_in_ns(void);

/* restore.c: the whole sequence, checks included. Returns only on failure (-errno, err set),
 * or 0 after a dry run. A failure after memory was touched exits the process instead. */
int crs_restore_run(struct crs_image *img, const struct crs_restore_opts *o, char *err,
                    size_t errlen);

/* Plan construction, testable on its own: copies threads from the image, fills tid fields. */
int crs_restore_build_plan(const struct crs_image *img, struct crs_restart_plan *plan,
                           char *err, size_t errlen);

#endif
