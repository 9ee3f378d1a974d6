/* snapshot/proc.h - what the snapshot child reads from /proc about its own (copied) process:
 * the memory map, file descriptors, signal dispositions and process facts. Everything here runs
 * in the forked child: no malloc, no stdio, no locks.
 */
#ifndef CRS_PROC_H
#define CRS_PROC_H

#include <stddef.h>
#include <stdint.h>
#include "image/image.h"
#include "snapshot.h"

/* The STRINGS section being built: offset 0 is the empty string. */
struct crs_strtab {
    char *buf;
    uint32_t len, cap;
};
void crs_strtab_init(struct crs_strtab *t, char *buf, uint32_t cap);
/* Adds s (n bytes, no NUL needed) and returns its offset, or 0 when the table is full. */
uint32_t crs_strtab_addn(struct crs_strtab *t, const char *s, size_t n);
uint32_t crs_strtab_add(struct crs_strtab *t, const char *s);

/* Ranges of the process with CRS_SNAP_RANGE_* bits, ascending (the request's). */
struct crs_proc_ranges {
    const uint64_t (*r)[2];
    const uint8_t *how;
    uint32_t n;
};

/* Parses /proc/self/maps into vmas (at most max). line is a work buffer of linecap bytes.
 * Fills path, dev/ino, kind and flags (the locked ones from locked, which may be NULL); stats
 * backing files. Returns the count or -errno. */
long crs_proc_maps(struct crs_img_vma *vmas, size_t max, struct crs_strtab *st, char *line,
                   size_t linecap, const struct crs_proc_ranges *locked);

/* Adds what only /proc/self/smaps tells (VmFlags: no reserve, huge page and dump advice,
 * KSM, guard pages) to the regions crs_proc_maps listed. Best effort. */
void crs_proc_vmflags(struct crs_img_vma *vmas, size_t n, char *line, size_t linecap);

/* Reads the dispositions of signals 1..CRS_IMG_NSIG (SIGKILL and SIGSTOP left zero). */
void crs_proc_signals(struct crs_img_sigaction sig[CRS_IMG_NSIG]);

/* Lists and describes every open descriptor except those in skip[]. work is a buffer of
 * workcap bytes for directory entries and fdinfo text. Returns the count or -errno. */
long crs_proc_fds(struct crs_img_fd *fds, size_t max, struct crs_strtab *st,
                  const int *internal, uint32_t ninternal, const int *skip, int nskip,
                  char *work, size_t workcap);

/* Sets the child's copies of the descriptors back to what was captured while the threads
 * were stopped (a file's offset: see the kinds' pin), before anything is read from them. */
void crs_proc_fds_pin(const struct crs_snap_fdstate *st, uint32_t n);
/* The values captured then replace those read now (an eventfd's counter: the kinds' apply). */
void crs_proc_fds_apply(struct crs_img_fd *fds, size_t nfds, const struct crs_snap_fdstate *st,
                        uint32_t n);

/* Process facts that /proc and a few system calls give: ids, umask, personality, exe, cwd,
 * comm, the mm fields of /proc/self/stat, rlimits. pid is the checkpointed process (the
 * child's parent). work is a buffer of workcap bytes. Returns 0 or -errno. */
int crs_proc_process(struct crs_img_process *p, struct crs_strtab *st, int pid, char *work,
                     size_t workcap);

/* Scheduling and security attributes of process pid: affinity, nice, policy, no_new_privs,
 * seccomp (snapshot child; work: a buffer for /proc/PID/status). */
void crs_proc_attrs(struct crs_img_attrs *a, int pid, char *work, size_t workcap);

/* Children of the process that crs_proc_unsaved lists at most. */
#define CRS_PROC_MAX_CHILDREN 256

/* What a restore will not bring back (proc_unsaved.c): the descriptors of fds[] it leaves
 * closed, described from the child's copies of them, and the children of process pid. del[]
 * are the deleted files whose contents the image holds; job[] the pids of the job's
 * processes, whose pipes, connections and children the job's restore brings back. Descriptions
 * go into st (a full table leaves them empty). Returns the count of records put in out[] (at
 * most max). */
long crs_proc_unsaved(struct crs_img_unsaved *out, size_t max, struct crs_strtab *st,
                      const struct crs_img_fd *fds, size_t nfds,
                      const struct crs_snap_deleted *del, uint32_t ndel, int pid,
                      const int *job, uint32_t njob);

/* The POSIX timers a restore will not make again (image/timers.h says which), and those
 * beyond what the image holds; appended to out[] like crs_proc_unsaved's records. */
long crs_proc_unsaved_timers(struct crs_img_unsaved *out, size_t max, struct crs_strtab *st,
                             const struct crs_img_timer *timers, uint32_t n, uint32_t missed,
                             int pid, const struct crs_img_thread *threads, uint32_t nthreads);

/* Linux dev_t encoding of major:minor, as stat reports it. */
uint64_t crs_makedev(uint64_t major, uint64_t minor);

#endif
