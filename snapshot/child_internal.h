/* snapshot/child_internal.h - what the files of the snapshot child share: its state (struct
 * child), the compression pool's jobs, the limits of its own memory and the calls between
 * child.c (the driver), release.c, pool.c, pageidx.c, walk.c, fault.c and sections.c.
 * Everything declared here runs in the forked child: no malloc, no stdio, no locks. Not part
 * of the request contract (snapshot.h): nothing outside the child includes it.
 */
#ifndef CRS_CHILD_INTERNAL_H
#define CRS_CHILD_INTERNAL_H

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY        /* XXH3_state_t is a member of struct child */
#endif
#include "snapshot.h"
#include "proc.h"
#include "writer.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <xxhash.h>
#include <zstd.h>

#define CHUNK_PAGES CRS_IMG_CHUNK_MAX_PAGES
#define CHUNK_BYTES ((size_t)CHUNK_PAGES * CRS_IMG_PAGE_SIZE)
#define BATCH 4096u                    /* pages looked up per pagemap read */
#define MAX_FDS CRS_IMG_MAX_FDS
#define WORK_SIZE (1u << 20)
#define NSECTIONS (CRS_SEC__END - 1) /* each known section at most once */
#define MAX_UNSAVED (MAX_FDS + CRS_PROC_MAX_CHILDREN) /* descriptors and children a restore
                                                      * leaves out */
/* Ranges the child keeps mapped while releasing: crs_release_plan names 8 (its stack, its
 * TLS, the request, the thread records, the scratch's two ends, argv, environ), and 4 more
 * are room to grow; past the bound it releases nothing rather than guess (keep_range). */
#define NKEEP 12

/* Compression on two cores. The walk (pagemap, zero checks, copying pages out, releasing them,
 * writing) runs in the child's own thread; the pages it copies are packed into jobs of up to
 * JOB_CHUNKS chunks, which a helper thread and the walker itself compress (pool.c). */
#define NJOBS 4
#define JOB_CHUNKS 64
#define JOB_STAGE CHUNK_BYTES

enum { JOB_FREE, JOB_READY, JOB_BUSY, JOB_DONE };

struct job {
    int state;                         /* JOB_*: atomics only */
    uint32_t nchunks;
    size_t raw;                        /* bytes of pages in stage */
    size_t olen;                       /* bytes of chunk stream in out */
    struct crs_img_chunk ch[JOB_CHUNKS];
    char *stage, *out;
};

struct pool {
    struct job jobs[NJOBS];
    uint32_t head, tail;               /* walker only: next to fill, next to retire */
    int filling;                       /* jobs[head % NJOBS] is being filled */
    int ready_seq;                     /* futex word: bumped when a job becomes ready */
    int helper_idle;                   /* the helper sleeps on ready_seq */
    int main_waiting;                  /* the walker sleeps on the oldest job's state */
    int helper;                        /* a helper thread runs */
    ZSTD_CCtx *cctx[2];                /* walker's, helper's */
    size_t zws;                        /* bytes of each context */
    int level;
};

struct child {
    const struct crs_snap_request *req;
    struct crs_writer w;
    int no_direct;                  /* CRSNAP_NO_DIRECT: every write buffered */
    int out_fd, pagemap_fd;
    char temp[CRS_PATH_MAX];           /* base name in req->dir_fd, "" once published */
    char final[CRS_PATH_MAX];          /* the path published (its number may be above req's) */
    uint64_t seq;                      /* and its sequence number */
    struct crs_img_vma *vmas;
    size_t nvmas;
    char *line;                     /* LINE_SIZE bytes for /proc lines, at the scratch's end */
    struct crs_strtab st;
    struct crs_img_fd *fds;
    long nfds;
    struct crs_img_unsaved *unsaved;   /* what a restore will not bring back */
    long nunsaved;
    struct crs_img_maphash *maphash;   /* files mapped shared, hashed (maphash.c) */
    uint32_t nmaphash;
    struct crs_img_shmobj *shmobj;     /* SysV segments and /dev/shm objects (proc_shm.c) */
    uint32_t nshmobj;
    struct crs_img_guard *guards;      /* guard page runs (walk.c) */
    uint32_t nguards;
    uint32_t guard_first;              /* the first run of the region being walked */
    uint32_t guard_at;                 /* the run the walk is at or before */
    struct crs_img_process proc;
    struct crs_img_attrs attrs;
    struct crs_img_sigaction sig[CRS_IMG_NSIG];
    struct pool pool;
    uint64_t *pm;
    unsigned char *mc;
    char *work;
    XXH3_state_t hs;                   /* running checksum of the chunk headers */
    XXH3_state_t mh;                   /* a mapped file's hash (maphash.c) */
    uint32_t nchunks;
    struct crs_img_pageidx *idx;       /* the page index (pageidx.c): a record per chunk */
    size_t nidx, idx_cap;
    int idx_failed;                    /* no room for it: the image has none */
    uint64_t run_addr;                 /* pages waiting to be written as one chunk */
    uint32_t run_pages;
    struct crs_img_toc_entry toc[NSECTIONS];
    uint32_t ntoc;
    long delay_ms;                     /* test hook: pause after each chunk */
    int test_fault;                    /* test hook: crash after the first chunk (1: only while
                                        * releasing memory, 2: always) */
    int no_scan;                       /* PAGEMAP_SCAN is not available: read pagemap */
    const char *stage;                 /* what was being done, for the error message */
    int release;                       /* unmap written private anonymous memory as we go */
    const struct crs_img_vma *rel_v;   /* the region being released behind the walk, or NULL */
    uint64_t rel_lo;                   /* its first address not released yet */
    uint64_t keep_lo[NKEEP], keep_hi[NKEEP]; /* ranges the child itself still reads */
    int nkeep;
    uint64_t released;                 /* bytes unmapped */
    uint64_t t0;                       /* when the child started */
    uint64_t published_ns;             /* when the image was published (0: not yet) */
    char fault[192];                   /* set by on_fault: replaces the errno text */
    /* an incremental image (incr.c) */
    int incr;                          /* 1: pages the runtime saw unwritten go to INHERIT */
    uint32_t nclean;                   /* the runtime's clean list, once the pause came */
    uint32_t at_clean, at_written, at_fresh; /* the walk's place in the runtime's lists */
    struct crs_img_range *inh;         /* the INHERIT runs */
    uint32_t ninh;
    uint64_t inherited;                /* bytes in them */
    int pause_read;                    /* the pause was read already (incr.c waits for it) */
    uint64_t pause_ns;
};

static inline uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Functions that read any page of the process, including a sanitizer's own shadow memory,
 * whose shadow is unmapped: they must not be instrumented, nor turned into a call to an
 * intercepted memcpy. */
#define CRS_RAW_ACCESS __attribute__((no_sanitize("address"), optimize("no-tree-loop-distribute-patterns")))

/* A sanitizer's shadow memory, allocator and fake stacks are anonymous mappings that it reads
 * at every checked access: in our own code when this library is built with the sanitizer, and
 * in the interceptors behind memcpy, read or write (which zstd and libc call) whenever the
 * program is, even with an uninstrumented library. Unmapping them kills the child, so a
 * sanitized process releases nothing and uses no helper thread. Each runtime defines its init
 * entry point; the weak references are null when no sanitizer is loaded. */
extern void __asan_init(void) __attribute__((weak));
extern void __hwasan_init(void) __attribute__((weak));
extern void __msan_init(void) __attribute__((weak));
extern void __tsan_init(void) __attribute__((weak));

static inline int sanitized_process(void)
{
    return __asan_init || __hwasan_init || __msan_init || __tsan_init;
}

/* child.c: removes the temporary file, reports err to the parent and exits. */
__attribute__((noreturn)) void crs_child_fail(struct child *c, int err, uint64_t t0);
/* child.c: waits (10 s at most) until the runtime writes the pause, once the process runs
 * again: then incr.c's clean list is there, and a job's processes have all forked. 0, or -1
 * when it does not come (the pause is then read again at the end). */
int crs_child_wait_pause(struct child *c);

/* release.c: which written memory the child gives back as it goes, and giving it back. */
void crs_release_plan(struct child *c);
int crs_releasable(const struct child *c, const struct crs_img_vma *v);
void crs_release_to(struct child *c, uint64_t upto, int all);

/* pool.c: the compression pool. */
/* Sets the pool's compression level from the request's and returns the bytes of memory the
 * pool needs (jobs, two zstd contexts, the helper's stack). */
size_t crs_pool_size(struct pool *p, int req_level);
/* Places the pool at at (crs_pool_size bytes). Returns where its memory ends, which is the top
 * of the helper's stack, or NULL when a compression context cannot be made there. */
char *crs_pool_place(struct pool *p, char *at);
/* Binds zstd's and XXH3's calls in this thread (see pool.c). */
void crs_pool_bind(struct child *c);
/* Starts the helper thread below stack_top, where a second CPU can run it. */
void crs_pool_start(struct pool *p, char *stack_top, int one_thread);
int crs_pool_job_for(struct child *c, size_t raw, struct job **out);
int crs_pool_retire_done(struct child *c);
int crs_pool_drain(struct child *c);

/* walk.c: the page data of one region, added to the pages section. */
int crs_walk_region(struct child *c, struct crs_img_vma *v);

/* fault.c: the child's fault handler and the probe of a page that may raise SIGBUS. */
void crs_child_catch_faults(struct child *c);
int crs_child_probe_page(uint64_t addr);

/* sections.c: the image (header, pages, every section, table of contents, trailer), and a
 * finished image's sequence number rewritten. */
int crs_child_write_image(struct child *c);
/* proc_shm.c: the SysV segments and /dev/shm objects the regions map, recorded and flagged;
 * the regions the runtime copied at the snapshot read from their copies. */
void crs_child_shm(struct child *c);
/* The runtime's whole copy of region v, or NULL. */
const struct crs_snap_shmcopy *crs_child_shm_copy(const struct child *c,
                                                  const struct crs_img_vma *v);
/* incr.c: an incremental image. begin decides (c->incr) and waits for the runtime's list;
 * inherits says whether the page at addr is left to the parent, add records it so; own is
 * the area shared with the runtime, never saved. */
void crs_incr_begin(struct child *c);
int crs_incr_inherits(struct child *c, uint64_t addr);
int crs_incr_add(struct child *c, const struct crs_img_vma *v, uint64_t addr);
int crs_incr_own(const struct child *c, uint64_t addr);
/* maphash.c: hashes the files mapped shared into c->maphash. */
void crs_child_maphash(struct child *c);
int crs_child_renumber(struct child *c, uint64_t seq);

/* pageidx.c: records where each chunk of job j starts, j's stream beginning at file offset
 * pos (before the writer takes it). */
void crs_child_pageidx_add(struct child *c, const struct job *j, uint64_t pos);

#endif
