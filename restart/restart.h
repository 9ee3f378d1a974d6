/* restart/restart.h - the hand-over from the restorer (`crsnap restore`) to the restart entry
 * that lives in the restored libcrsnap. The restorer rebuilds memory, descriptors and signal
 * state, writes a plan at the address the image gives, and jumps to the entry on the restart
 * stack. From there only raw system calls run: see restart/restart.c.
 */
#ifndef CRS_RESTART_H
#define CRS_RESTART_H

#include <stdint.h>
#include "image/image.h"

#define CRS_PLAN_MAGIC 0x4e414c50u     /* "PLAN" */
#define CRS_PLAN_MAX_UNMAP 64
#define CRS_PLAN_MAX_FDS 256
#define CRS_PLAN_MAX_THREADS 512
#define CRS_PLAN_MAX_TIMERS CRS_IMG_MAX_TIMERS

struct crs_restart_range { uint64_t start, len; };

struct crs_restart_plan {
    uint32_t magic;
    uint32_t version;                  /* CRS_IMG_VERSION */
    uint32_t nunmap;                   /* the restorer's own mappings, to unmap */
    uint32_t nunrestored;              /* descriptors that were not restored */
    struct crs_restart_range unmap[CRS_PLAN_MAX_UNMAP];
    int32_t unrestored[CRS_PLAN_MAX_FDS];
    uint64_t restorer_rseq_addr;       /* the restorer's own rseq area, to unregister; 0 = none */
    uint32_t restorer_rseq_len;
    uint32_t restorer_rseq_sig;
    uint32_t nthreads;
    uint32_t main_index;               /* which of threads[] is the main thread */
    struct crs_img_thread threads[CRS_PLAN_MAX_THREADS];
    /* The program file, for /proc/self/exe once the restorer's binary is unmapped: the entry
     * applies mm[] and mm_auxv[] again with it through prctl(PR_SET_MM_MAP), which allows the
     * exe change with CAP_CHECKPOINT_RESTORE; -1 = none. The entry closes it. */
    int32_t exe_fd;
    uint32_t mm_auxv_words;            /* uint64 words used in mm_auxv, AT_NULL pair included */
    uint64_t mm[11];                   /* start_code, end_code, start_data, end_data, start_brk,
                                        * brk, start_stack, arg_start, arg_end, env_start, env_end */
    uint64_t mm_auxv[130];
    uint32_t flags;                    /* CRS_PLAN_F_* */
    uint32_t outer_pid;                /* in a pid namespace crsnap restore made: the pid
                                        * outside it, by which others find it; else 0 */
    /* POSIX timers, made by the entry once every thread exists (a timer may signal one of
     * them, by its new tid), under their saved ids, before any thread runs on: clockid is the
     * one to give timer_create now, tid the saved one. */
    uint32_t ntimers;
    _Atomic int timers_pending;        /* futex: the new threads wait while it is 1 */
    struct crs_img_timer timers[CRS_PLAN_MAX_TIMERS];
};

#define CRS_PLAN_F_SAME_TIDS 0x1u      /* recreate threads under their saved tids (clone3) */
#define CRS_PLAN_F_DROP_CAPS 0x2u      /* every thread drops its capabilities (the ones a
                                        * user namespace of its own gave) */

/* Called by the runtime when it builds a snapshot request: where the entry, its stack and the
 * plan area are in this process, and the glibc offsets the entry needs. */
void crs_restart_describe(struct crs_img_restart *out);

/* The entry itself. Never returns: it ends by jumping into the main thread's saved context. */
__attribute__((noreturn)) void crs_restart_entry(struct crs_restart_plan *plan);

/* After a restart: the plan as the restorer left it (NULL in an original process). */
const struct crs_restart_plan *crs_restart_plan_get(void);

#endif
