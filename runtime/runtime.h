/* runtime/runtime.h - the runtime's internal functions, one group per file, and the futex and
 * clock helpers they share. Nothing here is public: the API is include/crsnap.h.
 */
#ifndef CRS_RUNTIME_H
#define CRS_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "arch/arch.h"
#include "state.h"
#include "io/settings.h"

#pragma GCC visibility push(hidden)     /* internal, like state.h */

/* log.c: "crsnap[PID]: " lines on stderr, written with one write(2) (no stdio lock). */
#define CRS_LOG_ERROR 0
#define CRS_LOG_INFO 1
#define CRS_LOG_DEBUG 2
void crs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* config.c */
void crs_settings_default(struct crs_settings *s);
/* cfg may be NULL; use_env reads CRSNAP_*. On error fills err and returns -EINVAL. */
int crs_settings_load(struct crs_settings *s, const struct crs_config *cfg, int use_env,
                      char *err, size_t errlen);
int crs_parse_interval(const char *s, double *out);

/* track.c: written pages for incremental images. init at crs_init, restarted after a
 * restore; plan before the stop (registers new regions, chooses full or incremental);
 * after_release once the threads run, before the pause goes to the child; reset after that,
 * the program running; result with the child's report. Nothing of it is in the pause. */
void crs_track_init(void);
void crs_track_restarted(void);
int crs_track_fds(int *out);
void crs_track_plan(struct crs_snap_request *req, int explicit_path);
void crs_track_after_release(struct crs_snap_request *req);
void crs_track_reset(const struct crs_snap_request *req);
void crs_track_result(const struct crs_snap_request *req, const struct crs_snap_report *rep,
                      int ok);

/* glibc.c */
int crs_glibc_tid_candidates(uint64_t tp, int tid, int64_t *out, int max);
void crs_glibc_discover(void);
int crs_glibc_verify_tid_offset(void);

/* registry.c: the pure logic, on any registry; the API wrappers use crs_state. */
void crs_registry_init(struct crs_registry *r);
int crs_registry_add(struct crs_registry *r, crs_handler_fn fn, void *arg, unsigned flags,
                     uint64_t owner);
int crs_registry_remove(struct crs_registry *r, int id);
void crs_registry_drop_owner(struct crs_registry *r, uint64_t owner);
/* Prepares, in registration order, the handlers of kind flags (and owner, for CRS_SYNC).
 * Returns 0, or the id of the handler that vetoed (+1, so it is > 0); those before it stay
 * marked prepared. */
int crs_registry_prepare(struct crs_registry *r, unsigned flags, uint64_t owner);
/* Resumes, in reverse order, each prepared handler of that kind, exactly once. */
void crs_registry_resume(struct crs_registry *r, unsigned flags, uint64_t owner, crs_phase ph);

/* cs.c */
int crs_cs_close(unsigned timeout_ms, int *inside); /* coordinator: block entries, wait until
                                                     * none inside; -ETIMEDOUT */
void crs_cs_open(void);

/* quiesce.c */
int crs_quiesce_install(void);
int crs_quiesce_all(char *err, size_t errlen);  /* 0, -ECANCELED (veto) or -errno */
void crs_quiesce_release(int phase);
void crs_quiesce_wait_left(void);
void crs_record_self(struct crs_img_thread *rec, uint64_t sigmask, uint32_t flags);

/* interrupted.c: a call a stop interrupts is entered again (see there) */
/* Coordinator, before signalling; *clock_offset is 0 at the start of each checkpoint. */
void crs_call_peek(int tid, struct crs_blocked_call *c, int64_t *clock_offset);
/* Quiesce handler, after the release: rewinds uc when c came back -EINTR; 1 if it did. waited:
 * how long the call had waited, to shorten its relative timeout; mask: the one sigreturn sets. */
int crs_call_rewind(void *uc, const struct crs_blocked_call *c, uint64_t waited_ns,
                    uint64_t mask, int quiesce_sig);

/* threadattrs.c: quiesce handler */
void crs_thread_attrs_read(struct crs_thread_attrs *a);
int crs_thread_attrs_apply(const struct crs_thread_attrs *want);   /* 0, or -EPERM */

/* trigger.c */
int crs_trigger_install(void);
int crs_timer_create(void);
void crs_wake_coordinator(void);

/* ownfds.c: the library's descriptors that the program may have closed */
void crs_ownfds_record(void);       /* after making any of them */
/* Coordinator: makes the lost ones again (retry: also those that could not be made before).
 * 1 when any was lost (descriptors polled before are void), else 0; crs_state.own_broken is
 * -errno while some cannot be made (checkpoints are off). */
int crs_ownfds_check(int retry);
int crs_ownfds_wake_ok(void);       /* signal-safe: the eventfd is still ours */

/* control.c */
int crs_control_open(void);
#define CRS_CONTROL_POLLFDS (1 + CRS_MAX_CTL_CLIENTS)
struct pollfd;
/* The listening socket and the connections whose request is still coming, into pf (room for
 * CRS_CONTROL_POLLFDS); returns how many. After poll(), crs_control_serve() takes the same
 * entries: it reads what came, answers, drops clients past their deadline, accepts new ones.
 * crs_control_timeout() is the poll timeout that the nearest deadline asks for (-1: none). */
unsigned crs_control_pollfds(struct pollfd *pf);
void crs_control_serve(const struct pollfd *pf, unsigned n);
int crs_control_timeout(void);
/* The connections held (waiters, clients) into out: internal descriptors, not the program's. */
unsigned crs_control_fds(int *out, unsigned room);
void crs_control_reply(int fd, int error, uint64_t seq, const char *path, const char *msg);
void crs_control_unlink(void);

/* exit_on.c: CRSNAP_EXIT_ON's signals (installed at init; the coordinator serves them) */
int crs_exit_on_install(void);
int crs_exit_on_pending(void);
void crs_exit_on_serve(void);
__attribute__((noreturn)) void crs_exit_on_done(const struct crs_result *res);

/* writepath.c: says once how images are written, and any fallback the file system forced */
void crs_write_path_note(const struct crs_snap_report *rep);

/* forklock.c: the coordinator's descriptors change under the lock fork() takes */
int crs_fds_lock(void);             /* 1 when taken (0 while the threads are stopped) */
void crs_fds_unlock(int held);
int crs_fds_let_go(void);           /* inside a section that holds it once: let go for a wait;
                                     * crs_fds_lock() again when it returns 1 */
void crs_fd_close(int *fd);         /* close under the lock, -1 in its place */
void crs_forklock_prepare(void);    /* atfork */
void crs_forklock_parent(void);
void crs_forklock_init(void);       /* in a forked child */

/* coordinator.c / checkpoint.c */
int crs_coordinator_start(void);
int crs_fd_high(int fd);            /* move fd to >= CRS_INTERNAL_FD_MIN, close-on-exec */
void crs_checkpoint_run(int kill_fd);
void crs_fdpos_record(void);        /* quiesced: what the descriptors' kinds capture, now */
int crs_fdqueue_init(void);         /* at init: the tee pipe */
void crs_fdqueue_begin(void);       /* quiesced: no queued bytes recorded yet */
struct stat;
void crs_fdqueue_add(int fd, const struct stat *sb); /* quiesced: a pipe's or socket's bytes */
void crs_fddeleted_begin(void);     /* quiesced: no deleted file copied yet */
void crs_fddeleted_add(int fd, const struct stat *sb); /* quiesced: a deleted file's contents */
void crs_fddeleted_end(void);       /* after the clone: the parent's copy of them goes */
void crs_dontfork_preread(void);    /* before the quiesce: the locked regions, read early */
void crs_dontfork_lift(void);       /* quiesced: let the snapshot clone copy MADV_DONTFORK regions */
/* ptimers.c: quiesced, the POSIX timers with the time each has left, into the request; after
 * a quiesce that failed, what the POSIX timers tell of the thread that did not stop. */
void crs_ptimers_read(struct crs_snap_request *req);
void crs_ptimers_explain(char *err, size_t errlen);
void crs_dontfork_mark(void);       /* and mark them again, after it or after a restore */
void crs_memlock_restarted(void);   /* a restored process: mlockall(MCL_FUTURE) again */
void crs_shmcopy_scan(void);        /* before the quiesce: list the in-memory shared regions */
void crs_shmcopy_take(void);        /* quiesced: copy them */
void crs_shmcopy_end(void);         /* after the clone: the parent's copy goes */
void crs_restarted(void);           /* a restored process, back in crs_checkpoint_run() */
uint64_t crs_scan_dir_seq(const char *dir);

/* exec.c: what a job's processes' new programs get back in their environment (the library
 * in LD_PRELOAD, the CRSNAP_* settings), read once the control socket is open. */
void crs_exec_setup(void);

/* tree.c: a job of several processes. The root: begin (before the handlers, the members asked
 * and the request pointed at the parts directory), stopped (after its quiesce: every member
 * stopped, nobody came or went; -EAGAIN: try again), forked (after the clone: every member's
 * snapshot taken), results (after its own image: every part durable, then published), end.
 * A member: serve (the control request), stopped and forked (its steps of the same), report,
 * wait_exit (kill mode), end; forward passes a trigger of its own to the root. */
void crs_tree_role(void);
int crs_tree_begin(struct crs_snap_request *req, char *err, size_t errlen);
int crs_tree_prepared(char *err, size_t errlen);
int crs_tree_stopped(char *err, size_t errlen);
int crs_tree_forked(char *err, size_t errlen);
int crs_tree_results(struct crs_result *res);
void crs_tree_end(int ok, int exit);
void crs_tree_abort(void);
int crs_tree_serve(int fd, const char *line);
void crs_tree_report(const struct crs_result *res);
int crs_tree_wait_exit(void);
int crs_tree_forward(void);
void crs_tree_restarted(void);
int crs_tree_stale(void);           /* a member's request its root gave up */
unsigned crs_tree_fds(int *out, unsigned room); /* its connections and directories */

/* api.c: called by the coordinator when a checkpoint ends */
void crs_post_outcome(int outcome, const struct crs_result *res);

static inline uint64_t crs_now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int crs_gettid(void) { return (int)crs_sys0(SYS_gettid); }

/* Private futexes: async-signal-safe, usable in the quiesce handler. */
static inline long crs_futex_wait(_Atomic int *addr, int val, const struct timespec *rel)
{
    return crs_sys4(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, (long)rel);
}
static inline void crs_futex_wake(_Atomic int *addr)
{
    crs_sys3(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, 0x7fffffff);
}

#pragma GCC visibility pop
#endif
