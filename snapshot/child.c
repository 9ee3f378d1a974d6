/* snapshot/child.c - the snapshot child: reads its own copy of the process (maps, pagemap,
 * fds, signals, facts), writes the image through snapshot/writer.c, publishes it and reports.
 * Everything here runs in the forked child: no malloc, no stdio, no locks; one raw-cloned
 * helper thread compresses beside it (see struct pool). The memory it needs is mapped with
 * mmap after the memory map has been read, so none of it is mistaken for the process's, and
 * what it has written of the process's memory it unmaps as it goes (see release_to).
 * crs_snapshot_host and crs_snapshot_scratch_size run in the parent (ordinary libc).
 */
#define _GNU_SOURCE
#define ZSTD_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY
#include "snapshot.h"
#include "proc.h"
#include "common/proc_util.h"
#include "publish.h"
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define CHUNK_PAGES CRS_IMG_CHUNK_MAX_PAGES
#define CHUNK_BYTES ((size_t)CHUNK_PAGES * CRS_IMG_PAGE_SIZE)
#define BATCH 4096u                    /* pages looked up per pagemap read */
#define MAX_FDS CRS_IMG_MAX_FDS
#define WORK_SIZE (1u << 20)
#define LINE_SIZE (64u << 10)
#define SCRATCH_SIZE (16u << 20)
#define NSECTIONS (CRS_SEC__END - 1) /* each known section at most once */
#define MAX_UNSAVED (MAX_FDS + CRS_PROC_MAX_CHILDREN) /* descriptors and children a restore
                                                      * leaves out */
#define UNSAVED_SHOWN 5                /* of which the report to the parent names the first */
#define NKEEP 12
#define PUBLISH_TRIES 64                /* numbers taken by others before giving up */
/* Written memory is given back in steps of this much, aligned, so that a transparent huge page
 * is unmapped whole rather than split. Each munmap flushes the TLB against the program's own
 * write faults on the same pages: against 2 MiB steps, 16 MiB ones let a program rewriting
 * 1-2 GiB during the write run 1.2-1.3 x faster, and the child too, with lower peaks (bench/). */
#define RELEASE_STEP (16ull << 20)
/* Smaller anonymous regions are not released: the dynamic linker keeps its link maps and
 * scopes in small ones, and a lazily bound call made after the page data would read them. */
#define RELEASE_MIN (1ull << 20)

/* PAGEMAP_SCAN (Linux 6.7): populated ranges without a walk over every page table entry, which
 * matters for huge sparse reservations. Defined here because older headers lack it. */
#define CRS_PAGEMAP_SCAN _IOWR('f', 16, struct crs_pm_scan_arg)
#define CRS_PAGE_IS_FILE (1ull << 2)
#define CRS_PAGE_IS_PRESENT (1ull << 3)
#define CRS_PAGE_IS_SWAPPED (1ull << 4)
#define CRS_PAGE_IS_PFNZERO (1ull << 5)
struct crs_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct crs_page_region {
    uint64_t start, end, categories;
};

#define PM_PRESENT (1ull << 63)
#define PM_SWAP (1ull << 62)
#define PM_FILE (1ull << 61)

/* Compression on two cores. The walk (pagemap, zero checks, copying pages out, releasing them,
 * writing) runs in the child's own thread; the pages it copies are packed into jobs of up to
 * JOB_CHUNKS chunks, which a helper thread and the walker itself compress. Jobs are retired in
 * the order they were filled, so the image is the same byte for byte as with one thread.
 *
 * The helper is a raw clone (CLONE_VM|CLONE_THREAD) on its own mmap'd stack, with its own
 * static zstd context; it shares the walker's thread pointer (only the stack guard is read
 * through it) and calls nothing but zstd, XXH3 and memcpy, all bound before it starts, and raw
 * futex system calls: no errno, no locks. It dies with the child (exit_group). Job states and
 * the two wake-up words are touched with atomics only. */
#define NJOBS 4
#define JOB_CHUNKS 64
#define JOB_STAGE CHUNK_BYTES
#define JOB_OUT (CHUNK_BYTES + CHUNK_BYTES / 256 + JOB_CHUNKS * (sizeof(struct crs_img_chunk) + 8 + 64) + 4096)
#define HELPER_STACK (256u << 10)
#define FAULT_STACK (64u << 10)        /* the walker's fault handler runs here (SA_ONSTACK) */

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
    struct crs_strtab st;
    struct crs_img_fd *fds;
    long nfds;
    struct crs_img_unsaved *unsaved;   /* what a restore will not bring back */
    long nunsaved;
    struct crs_img_process proc;
    struct crs_img_sigaction sig[CRS_IMG_NSIG];
    struct pool pool;
    uint64_t *pm;
    unsigned char *mc;
    char *work;
    XXH3_state_t hs;                   /* running checksum of the chunk headers */
    uint32_t nchunks;
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
    char fault[192];                   /* set by on_fault: replaces the errno text */
};

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noreturn)) static void finish(struct child *c, int err, const char *note,
                                             uint64_t t0)
{
    const struct crs_snap_request *req = c->req;
    struct crs_snap_report rep;
    struct crs_sbuf b;

    memset(&rep, 0, sizeof rep);
    rep.error = err;
    rep.bytes_written = err ? 0 : crs_writer_pos(&c->w);
    rep.memory_covered = c->proc.memory_covered;
    rep.memory_saved = c->proc.memory_saved;
    rep.write_ns = now_ns(CLOCK_MONOTONIC) - t0;
    rep.seq = c->seq;
    crs_sb_init(&b, rep.path, sizeof rep.path);
    crs_sb_str(&b, c->final[0] ? c->final : req->path);
    crs_sb_init(&b, rep.message, sizeof rep.message);
    rep.released = c->released;
    rep.crashed = c->fault[0] != 0;
    rep.uring = c->w.uring_err == 0 && !req->force_pwrite;
    rep.uring_err = c->w.uring_err;
    rep.direct = c->no_direct ? -1 : c->w.direct_used;
    rep.direct_err = c->w.direct_err;
    if (err) {
        crs_sb_str(&b, c->stage ? c->stage : "writing");
        crs_sb_str(&b, " ");
        crs_sb_str(&b, c->final[0] ? c->final : req->path);
        crs_sb_str(&b, ": ");
        crs_sb_str(&b, c->fault[0] ? c->fault : crs_errno_text(err));
    } else if (note) {
        crs_sb_str(&b, note);
    }
    /* the parent logs these: say the first few, it says how many more */
    rep.nunsaved = c->unsaved ? (uint32_t)c->nunsaved : 0;
    crs_sb_init(&b, rep.unsaved, sizeof rep.unsaved);
    for (uint32_t i = 0; i < rep.nunsaved && i < UNSAVED_SHOWN; i++) {
        const struct crs_img_unsaved *u = &c->unsaved[i];
        size_t before = b.len;
        if (u->kind == CRS_UNSAVED_FD) {
            crs_sb_str(&b, "fd ");
            crs_sb_u64(&b, (uint64_t)u->fd);
            crs_sb_str(&b, ": ");
        }
        /* one line each: a name with a newline or escape in it must not make more */
        for (const char *t = c->st.buf + u->what; *t; t++) {
            char one[2] = {(unsigned char)*t < 0x20 || *t == 0x7f ? '?' : *t, '\0'};
            crs_sb_str(&b, one);
        }
        crs_sb_str(&b, "\n");
        if (b.full) {               /* no half line: the count says the rest */
            b.len = before;
            b.p[before] = '\0';
            break;
        }
        rep.unsaved_shown++;
    }
    if (req->report_fd >= 0) {
        const char *p = (const char *)&rep;
        size_t left = sizeof rep;
        while (left) {
            ssize_t n = write(req->report_fd, p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
    }
    _exit(err ? 1 : 0);
}

__attribute__((noreturn)) static void fail(struct child *c, int err, uint64_t t0)
{
    if (c->out_fd >= 0) {
        crs_writer_end(&c->w);
        close(c->out_fd);
        c->out_fd = -1;
    }
    if (c->temp[0])
        unlinkat(c->req->dir_fd, c->temp, 0);
    finish(c, err, NULL, t0);
}

/* Whether the process this child copies has ended: the child was reparented (to a subreaper
 * or init), and /proc/PARENT would name another process, or none. What the child read before
 * a check that passes was read from its parent, alive. */
static int parent_gone(const struct crs_snap_request *req)
{
    return req->parent > 0 && crs_sys0(SYS_getppid) != req->parent;
}

static void ignore_signal(int sig)
{
    struct crs_img_sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.handler = (uint64_t)(uintptr_t)SIG_IGN;
    syscall(SYS_rt_sigaction, sig, &sa, NULL, 8);
}

/* The two functions below read any page of the process, including a sanitizer's own shadow
 * memory, whose shadow is unmapped: they must not be instrumented, nor turned into a call to
 * an intercepted memcpy. */
#define CRS_RAW_ACCESS __attribute__((no_sanitize("address"), optimize("no-tree-loop-distribute-patterns")))

CRS_RAW_ACCESS static int is_zero_page(const void *p)
{
    const uint64_t *w = p;
    uint64_t acc = 0;
    for (size_t i = 0; i < CRS_IMG_PAGE_SIZE / 8; i += 8) {
        acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
        if (acc)
            return 0;
    }
    return 1;
}

CRS_RAW_ACCESS static void copy_pages(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const volatile uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        d[i] = s[i];
}

/* Releasing what has been written.
 *
 * After fork the parent and the child share every private anonymous page; the parent's first
 * write to one copies it, and the copy lives until the child exits. Once the child has copied a
 * page into its own buffers it no longer needs it, so it unmaps it: a page the parent had
 * already copied is freed, and a page it has not touched yet is mapped by the parent alone,
 * whose write then reuses it without a copy. munmap rather than MADV_DONTNEED: both give the
 * page back, but a stray later read by the child faults loudly instead of reading zeros.
 *
 * Only private anonymous regions (anon, heap, stack) are released. Shared mappings are not
 * copied on write, so there is nothing to gain; private file mappings hold the libraries' data
 * and GOT that the child itself runs on, and so do anonymous regions that directly follow a
 * file mapping (a library's .bss) and small ones (RELEASE_MIN). Inside the released regions,
 * the ranges the child still reads after the page data are kept: its own stack and TLS, the request and the thread
 * records it points to, the scratch, and the argument and environment strings. */
static void keep_range(struct child *c, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return;
    if (c->nkeep == NKEEP) {
        c->release = 0; /* cannot say what is safe: release nothing */
        return;
    }
    c->keep_lo[c->nkeep] = lo & ~(uint64_t)(CRS_IMG_PAGE_SIZE - 1);
    c->keep_hi[c->nkeep] = (hi + CRS_IMG_PAGE_SIZE - 1) & ~(uint64_t)(CRS_IMG_PAGE_SIZE - 1);
    c->nkeep++;
}

static void keep_region_of(struct child *c, uint64_t addr)
{
    for (size_t i = 0; i < c->nvmas; i++)
        if (c->vmas[i].start <= addr && addr < c->vmas[i].end)
            keep_range(c, c->vmas[i].start, c->vmas[i].end);
}

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

static int sanitized_process(void)
{
    return __asan_init || __hwasan_init || __msan_init || __tsan_init;
}

static void plan_release(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    int dummy;

    c->release = !req->no_release && !sanitized_process();
    keep_region_of(c, (uint64_t)(uintptr_t)&dummy);
    keep_region_of(c, (uint64_t)(uintptr_t)__builtin_thread_pointer());
    keep_range(c, (uint64_t)(uintptr_t)req, (uint64_t)(uintptr_t)(req + 1));
    keep_range(c, (uint64_t)(uintptr_t)req->threads,
               (uint64_t)(uintptr_t)(req->threads + req->nthreads));
    /* the whole regions, should the scratch have been merged with a neighbour */
    keep_region_of(c, (uint64_t)(uintptr_t)req->scratch);
    keep_region_of(c, (uint64_t)(uintptr_t)req->scratch + req->scratch_size - 1);
    keep_range(c, c->proc.arg_start, c->proc.arg_end);
    keep_range(c, c->proc.env_start, c->proc.env_end);
}

static int releasable(const struct child *c, const struct crs_img_vma *v)
{
    if (!c->release || (v->flags & CRS_VMA_F_SHARED))
        return 0;
    if (v->kind != CRS_VMA_ANON && v->kind != CRS_VMA_HEAP && v->kind != CRS_VMA_STACK)
        return 0;
    if (v->end - v->start < RELEASE_MIN)
        return 0;
    if (v > c->vmas && v[-1].end == v->start &&
        (v[-1].kind == CRS_VMA_FILE_PRIVATE || v[-1].kind == CRS_VMA_FILE_SHARED))
        return 0;
    return 1;
}

/* Unmaps [lo, hi) except the kept ranges. Best effort: a failure only keeps memory longer. */
static void unmap_unkept(struct child *c, uint64_t lo, uint64_t hi)
{
    while (lo < hi) {
        uint64_t klo = hi, khi = hi;
        for (int k = 0; k < c->nkeep; k++)
            if (c->keep_hi[k] > lo && c->keep_lo[k] < hi && c->keep_lo[k] < klo) {
                klo = c->keep_lo[k] > lo ? c->keep_lo[k] : lo;
                khi = c->keep_hi[k];
            }
        if (klo > lo && munmap((void *)(uintptr_t)lo, klo - lo) == 0)
            c->released += klo - lo;
        lo = khi;
    }
}

/* The walk of the current region has passed upto: release what lies behind it, in whole
 * steps unless the region is done. Pages of the run not yet copied stay. */
static void release_to(struct child *c, uint64_t upto, int all)
{
    if (!c->rel_v)
        return;
    if (c->run_pages && c->run_addr < upto)
        upto = c->run_addr;
    if (upto > c->rel_v->end)
        upto = c->rel_v->end;
    if (!all || upto != c->rel_v->end)
        upto &= ~(RELEASE_STEP - 1);
    if (upto <= c->rel_lo)
        return;
    unmap_unkept(c, c->rel_lo, upto);
    c->rel_lo = upto;
}

static int futex_wait(int *addr, int val)
{
    return (int)crs_sys6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, 0, 0, 0);
}

static void futex_wake(int *addr, int n)
{
    crs_sys6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, n, 0, 0, 0);
}

/* Compresses every chunk of a job into its output: header, data, zeros up to 8 bytes. The
 * pages section starts 8-aligned, so this is the stream the writer would have aligned. */
static void compress_job(struct job *j, ZSTD_CCtx *z, int level)
{
    size_t in = 0, o = 0;
    for (uint32_t i = 0; i < j->nchunks; i++) {
        struct crs_img_chunk *ch = &j->ch[i];
        size_t raw = (size_t)ch->npages * CRS_IMG_PAGE_SIZE;
        const char *src = j->stage + in;
        char *dst = j->out + o + sizeof *ch;
        size_t n = ZSTD_compressCCtx(z, dst, JOB_OUT - o - sizeof *ch, src, raw, level);
        if (ZSTD_isError(n) || n >= raw) {
            memcpy(dst, src, raw);
            ch->flags = CRS_CHUNK_F_RAW;
            ch->clen = (uint32_t)raw;
        } else {
            ch->flags = 0;
            ch->clen = (uint32_t)n;
        }
        ch->checksum = XXH3_64bits(dst, ch->clen);
        memcpy(j->out + o, ch, sizeof *ch);
        o += sizeof *ch + ch->clen;
        while (o & 7)
            j->out[o++] = 0;
        in += raw;
    }
    j->olen = o;
}

static void helper_main(void *arg)
{
    struct pool *p = arg;
    /* signals for the child are the walker's business: none is ever run on this thread, except
     * a fault of its own (a blocked fault would kill the child without a report) */
    uint64_t all = ~((1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1)));
    crs_sys4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, 8);
    for (;;) {
        int seq = __atomic_load_n(&p->ready_seq, __ATOMIC_SEQ_CST);
        int did = 0;
        for (int i = 0; i < NJOBS; i++) {
            struct job *j = &p->jobs[i];
            int want = JOB_READY;
            if (!__atomic_compare_exchange_n(&j->state, &want, JOB_BUSY, 0, __ATOMIC_SEQ_CST,
                                             __ATOMIC_SEQ_CST))
                continue;
            compress_job(j, p->cctx[1], p->level);
            __atomic_store_n(&j->state, JOB_DONE, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&p->main_waiting, __ATOMIC_SEQ_CST))
                futex_wake(&j->state, 1);
            did = 1;
        }
        if (did)
            continue;
        __atomic_store_n(&p->helper_idle, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&p->ready_seq, __ATOMIC_SEQ_CST) == seq)
            futex_wait(&p->ready_seq, seq);
        __atomic_store_n(&p->helper_idle, 0, __ATOMIC_SEQ_CST);
    }
}

/* The oldest job's stream goes to the writer; its headers join the running checksum. */
static int retire(struct child *c, struct job *j)
{
    int r;
    for (uint32_t i = 0; i < j->nchunks; i++)
        XXH3_64bits_update(&c->hs, &j->ch[i], sizeof j->ch[i]);
    if ((r = crs_writer_append(&c->w, j->out, j->olen)))
        return r;
    c->nchunks += j->nchunks;
    if (c->test_fault && (c->test_fault > 1 || c->release)) {
        volatile uintptr_t page0 = 16;
        (void)*(volatile const char *)page0;
    }
    if (c->delay_ms > 0) {
        long ms = c->delay_ms * (long)j->nchunks;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    j->nchunks = 0;
    j->raw = 0;
    j->olen = 0;
    __atomic_store_n(&j->state, JOB_FREE, __ATOMIC_SEQ_CST);
    c->pool.tail++;
    return 0;
}

/* One step forward: retire the oldest job if it is done, else compress a ready one here,
 * else wait for the helper to finish the oldest. */
static int pool_step(struct child *c)
{
    struct pool *p = &c->pool;
    if (p->tail == p->head)
        return 0;
    struct job *t = &p->jobs[p->tail % NJOBS];
    if (__atomic_load_n(&t->state, __ATOMIC_SEQ_CST) == JOB_DONE)
        return retire(c, t);
    for (uint32_t k = p->tail; k != p->head; k++) {
        struct job *j = &p->jobs[k % NJOBS];
        int want = JOB_READY;
        if (__atomic_compare_exchange_n(&j->state, &want, JOB_BUSY, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            compress_job(j, p->cctx[0], p->level);
            __atomic_store_n(&j->state, JOB_DONE, __ATOMIC_SEQ_CST);
            return 0;
        }
    }
    __atomic_store_n(&p->main_waiting, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&t->state, __ATOMIC_SEQ_CST) == JOB_BUSY)
        futex_wait(&t->state, JOB_BUSY);
    __atomic_store_n(&p->main_waiting, 0, __ATOMIC_SEQ_CST);
    return 0;
}

/* The job being filled is ready for compression. */
static void submit_job(struct child *c)
{
    struct pool *p = &c->pool;
    __atomic_store_n(&p->jobs[p->head % NJOBS].state, JOB_READY, __ATOMIC_SEQ_CST);
    p->head++;
    p->filling = 0;
    __atomic_add_fetch(&p->ready_seq, 1, __ATOMIC_SEQ_CST);
    if (p->helper && __atomic_load_n(&p->helper_idle, __ATOMIC_SEQ_CST))
        futex_wake(&p->ready_seq, 1);
}

/* A job with room for raw more bytes of pages. */
static int job_for(struct child *c, size_t raw, struct job **out)
{
    struct pool *p = &c->pool;
    struct job *j = &p->jobs[p->head % NJOBS];
    int r;
    if (p->filling && (j->raw + raw > JOB_STAGE || j->nchunks == JOB_CHUNKS)) {
        submit_job(c);
        j = &p->jobs[p->head % NJOBS];
    }
    while (!p->filling) {
        if (p->head - p->tail < NJOBS) {
            p->filling = 1;
            break;
        }
        if ((r = pool_step(c)))
            return r;
    }
    *out = j;
    return 0;
}

/* Everything filled is compressed and written. */
static int pool_drain(struct child *c)
{
    struct pool *p = &c->pool;
    int r;
    if (p->filling && p->jobs[p->head % NJOBS].nchunks)
        submit_job(c);
    p->filling = 0;
    while (p->tail != p->head)
        if ((r = pool_step(c)))
            return r;
    return 0;
}

static int flush_run(struct child *c)
{
    struct job *j;
    size_t raw = (size_t)c->run_pages * CRS_IMG_PAGE_SIZE;
    int r;

    if (!c->run_pages)
        return 0;
    if ((r = job_for(c, raw, &j)))
        return r;
    struct crs_img_chunk *ch = &j->ch[j->nchunks++];
    memset(ch, 0, sizeof *ch);
    ch->magic = CRS_IMG_CHUNK_MAGIC;
    ch->npages = c->run_pages;
    ch->addr = c->run_addr;
    /* Compress from our own copy: zstd and the writer use memcpy, which a sanitizer intercepts
     * and which would object to the process's redzones and shadow. The copy is also what lets
     * the pages be released at once. */
    copy_pages(j->stage + j->raw, (const void *)(uintptr_t)c->run_addr, raw);
    j->raw += raw;
    c->proc.memory_saved += raw;
    c->run_pages = 0;
    release_to(c, ch->addr + raw, 0);
    /* keep the writer streaming: whatever is finished goes out now */
    while (c->pool.tail != c->pool.head &&
           __atomic_load_n(&c->pool.jobs[c->pool.tail % NJOBS].state, __ATOMIC_SEQ_CST) == JOB_DONE)
        if ((r = retire(c, &c->pool.jobs[c->pool.tail % NJOBS])))
            return r;
    return 0;
}

static int add_page(struct child *c, uint64_t addr)
{
    if (c->run_pages && (c->run_addr + (uint64_t)c->run_pages * CRS_IMG_PAGE_SIZE != addr ||
                         c->run_pages == CHUNK_PAGES)) {
        int r = flush_run(c);
        if (r)
            return r;
    }
    if (!c->run_pages)
        c->run_addr = addr;
    c->run_pages++;
    return 0;
}

enum { SAVE_NONE, SAVE_ANON, SAVE_DIRTY, SAVE_RESIDENT, SAVE_ALL };

/* Pages of a deleted file cannot be mapped again, so all of them are saved; a page past the
 * file's end raises SIGBUS when touched, which ends the region. The handler needs to find the
 * jump buffer: this pointer is set only around one probe, in the child, whose walker is the
 * only thread that probes. */
static sigjmp_buf *bus_env;

/* Any other fault is a bug of ours (reading memory already released, say). Rather than die
 * with a bare signal number, the child reports where it was, so that the message names it, and
 * removes its temporary file. Signal handler: builds the text with crs_sbuf only. */
static struct child *fault_child;

static void describe_address(struct crs_sbuf *b, const struct child *c, uint64_t a)
{
    crs_sb_hex(b, a);
    for (size_t i = 0; i < c->nvmas; i++) {
        const struct crs_img_vma *v = &c->vmas[i];
        if (a < v->start || a >= v->end)
            continue;
        crs_sb_str(b, " (");
        crs_sb_str(b, v->path ? c->st.buf + v->path : "anonymous");
        crs_sb_str(b, "+");
        crs_sb_hex(b, a - v->start + (v->kind == CRS_VMA_FILE_PRIVATE ||
                                      v->kind == CRS_VMA_FILE_SHARED ? v->file_offset : 0));
        crs_sb_str(b, ")");
        return;
    }
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    struct child *c = fault_child;
    struct crs_sbuf b;

    if (sig == SIGBUS && bus_env)
        siglongjmp(*bus_env, 1);
    if (!c)
        _exit(128 + sig);
    crs_sb_init(&b, c->fault, sizeof c->fault);
    crs_sb_str(&b, sig == SIGBUS ? "the snapshot child crashed (SIGBUS) at " :
                                   "the snapshot child crashed (SIGSEGV) at ");
    describe_address(&b, c, crs_arch_signal_pc(uc));
    crs_sb_str(&b, " touching ");
    describe_address(&b, c, (uint64_t)(uintptr_t)si->si_addr);
    if (c->released) {
        crs_sb_str(&b, " after releasing ");
        crs_sb_u64(&b, c->released >> 10);
        crs_sb_str(&b, " KiB");
    }
    fault_child = NULL; /* a second fault while reporting ends the child at once */
    fail(c, -EFAULT, c->t0);
}

CRS_RAW_ACCESS static int probe_page(uint64_t addr)
{
    sigjmp_buf env;
    bus_env = &env;
    if (sigsetjmp(env, 0)) {
        bus_env = NULL;
        return -1;
    }
    (void)*(const volatile char *)(uintptr_t)addr;
    bus_env = NULL;
    return 0;
}

static int save_mode(const struct crs_img_vma *v)
{
    switch (v->kind) {
    case CRS_VMA_ANON:
    case CRS_VMA_HEAP:
    case CRS_VMA_STACK:
        return SAVE_ANON;
    case CRS_VMA_FILE_PRIVATE:
        return (v->flags & CRS_VMA_F_DELETED) ? SAVE_ALL : SAVE_DIRTY;
    case CRS_VMA_ANON_SHARED:
        return SAVE_RESIDENT;
    case CRS_VMA_FILE_SHARED:
        return (v->flags & CRS_VMA_F_DELETED) ? SAVE_ALL : SAVE_NONE;
    default:
        return SAVE_NONE;
    }
}

/* One page chosen for saving: made readable if need be, elided if zero, else added to the run. */
static int save_page(struct child *c, const struct crs_img_vma *v, uint64_t addr, int *readable)
{
    uint64_t s0 = (uint64_t)(uintptr_t)c->req->scratch;
    uint64_t s1 = s0 + c->req->scratch_size;
    if (addr >= s0 && addr < s1)
        return 0;
    if (!*readable) {
        /* the child's address space is its own copy: opening it up changes nothing; what
         * has been released already is gone */
        uint64_t lo = c->rel_v == v ? c->rel_lo : v->start;
        if (mprotect((void *)(uintptr_t)lo, v->end - lo, (int)(v->prot | PROT_READ)) < 0) {
            c->stage = "making a region readable for";
            return -errno;
        }
        *readable = 1;
    }
    if (is_zero_page((const void *)(uintptr_t)addr)) {
        c->proc.pages_zero++;
        return 0;
    }
    return add_page(c, addr);
}

/* Populated ranges of v through PAGEMAP_SCAN. Returns 1 when the kernel has no such ioctl. */
static int scan_region(struct child *c, const struct crs_img_vma *v, int mode, int *readable)
{
    struct crs_page_region *vec = (struct crs_page_region *)c->pm;
    struct crs_pm_scan_arg a;
    uint64_t at = v->start, done_to = v->start;
    int r;

    while (at < v->end) {
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        a.start = at;
        a.end = v->end;
        a.vec = (uint64_t)(uintptr_t)vec;
        a.vec_len = BATCH * 8 / sizeof *vec;
        a.return_mask = CRS_PAGE_IS_PRESENT | CRS_PAGE_IS_SWAPPED | CRS_PAGE_IS_FILE |
                        CRS_PAGE_IS_PFNZERO;
        a.category_anyof_mask = CRS_PAGE_IS_PRESENT | CRS_PAGE_IS_SWAPPED;
        long n = ioctl(c->pagemap_fd, CRS_PAGEMAP_SCAN, &a);
        if (n < 0) {
            if (at == v->start && (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP))
                return 1;
            c->stage = "scanning the page map for";
            return -errno;
        }
        for (long i = 0; i < n; i++) {
            /* in a private file mapping only copy-on-write copies are ours to save */
            if (mode == SAVE_DIRTY && (vec[i].categories & CRS_PAGE_IS_FILE))
                continue;
            /* When the vector fills, the kernel may report a walk_end below ranges it has
             * already returned (seen with 6.18 on regions of many small populated runs):
             * pages before done_to were handled, and saving one twice would break the
             * image's ascending order. */
            uint64_t from = vec[i].start > done_to ? vec[i].start : done_to;
            if (vec[i].end > done_to)
                done_to = vec[i].end;
            for (uint64_t p = from; p < vec[i].end; p += CRS_IMG_PAGE_SIZE) {
                if (vec[i].categories & CRS_PAGE_IS_PFNZERO) {
                    c->proc.pages_zero++; /* the shared zero page: nothing to read */
                    continue;
                }
                if ((r = save_page(c, v, p, readable)))
                    return r;
            }
        }
        if (a.walk_end <= at)
            break;
        at = a.walk_end;
        release_to(c, at, 0);
    }
    return 0;
}

/* Page tables of shared and untouched file mappings are not copied by fork, so the child's
 * pagemap cannot tell what is populated there: mincore asks the page cache instead. */
static int save_region(struct child *c, struct crs_img_vma *v)
{
    int mode = save_mode(v);
    uint32_t saved_before = c->nchunks;
    uint64_t bytes_before = c->proc.memory_saved + (uint64_t)c->run_pages * CRS_IMG_PAGE_SIZE;
    int readable = (v->prot & PROT_READ) != 0;
    int use_pm = mode == SAVE_ANON || mode == SAVE_DIRTY;
    int use_mc = mode == SAVE_RESIDENT;
    int r;

    if (mode == SAVE_NONE)
        return 0;
    c->rel_v = releasable(c, v) ? v : NULL;
    c->rel_lo = v->start;
    if (mode == SAVE_ALL) {
        for (uint64_t a = v->start; a < v->end; a += CRS_IMG_PAGE_SIZE) {
            if (!readable && mprotect((void *)(uintptr_t)v->start, v->end - v->start,
                                      (int)(v->prot | PROT_READ)) == 0)
                readable = 1;
            if (!readable || probe_page(a) < 0)
                break;
            if ((r = save_page(c, v, a, &readable)))
                return r;
        }
        goto done;
    }
    if (use_pm && !use_mc && !c->no_scan) {
        r = scan_region(c, v, mode, &readable);
        if (r < 0)
            return r;
        if (r == 1)
            c->no_scan = 1;
        else
            goto done;
    }
    for (uint64_t a = v->start; a < v->end; a += (uint64_t)BATCH * CRS_IMG_PAGE_SIZE) {
        uint64_t k = (v->end - a) / CRS_IMG_PAGE_SIZE;
        if (k > BATCH)
            k = BATCH;
        if (use_pm) {
            ssize_t n = pread(c->pagemap_fd, c->pm, k * 8, (off_t)(a / CRS_IMG_PAGE_SIZE * 8));
            if (n != (ssize_t)(k * 8)) {
                c->stage = "reading the page map for";
                return n < 0 ? -errno : -EIO;
            }
        }
        if (use_mc && mincore((void *)(uintptr_t)a, k * CRS_IMG_PAGE_SIZE, c->mc) < 0)
            memset(c->mc, 0, k);
        for (uint64_t i = 0; i < k; i++) {
            int want = 0;
            if (mode == SAVE_ANON)
                want = (c->pm[i] & (PM_PRESENT | PM_SWAP)) != 0;
            else if (mode == SAVE_DIRTY) /* copy-on-write copies, in memory or swapped */
                want = ((c->pm[i] & PM_PRESENT) && !(c->pm[i] & PM_FILE)) ||
                       (c->pm[i] & PM_SWAP);
            if (use_mc && (c->mc[i] & 1))
                want = 1;
            if (want && (r = save_page(c, v, a + i * CRS_IMG_PAGE_SIZE, &readable)))
                return r;
        }
        release_to(c, a + k * CRS_IMG_PAGE_SIZE, 0);
    }
done:
    if ((r = flush_run(c)))
        return r;
    release_to(c, v->end, 1);
    c->rel_v = NULL;
    if (c->nchunks != saved_before || c->proc.memory_saved != bytes_before)
        v->flags |= CRS_VMA_F_SAVED;
    return 0;
}

/* A section being written: its table-of-contents entry and the running checksum of its
 * payload, which section_add() streams. */
struct section {
    struct crs_img_toc_entry *e;
    XXH3_state_t hs;
};

static int section_begin(struct child *c, struct section *sec, uint32_t type, uint32_t count,
                         uint64_t length)
{
    struct crs_img_section sh = {type, 0, length};
    int r;

    if ((r = crs_writer_align(&c->w, 8)))
        return r;
    sec->e = &c->toc[c->ntoc++];
    sec->e->type = type;
    sec->e->count = count;
    sec->e->offset = crs_writer_pos(&c->w);
    sec->e->length = length;
    XXH3_INITSTATE(&sec->hs);
    XXH3_64bits_reset(&sec->hs);
    return crs_writer_append(&c->w, &sh, sizeof sh);
}

static int section_add(struct child *c, struct section *sec, const void *p, size_t n)
{
    if (!n)
        return 0;
    XXH3_64bits_update(&sec->hs, p, n);
    return crs_writer_append(&c->w, p, n);
}

static void section_end(struct section *sec)
{
    sec->e->checksum = XXH3_64bits_digest(&sec->hs);
}

/* Appends one section made of up to two parts and records it in the table of contents. */
static int put_section(struct child *c, uint32_t type, uint32_t count, const void *p1, size_t n1,
                       const void *p2, size_t n2)
{
    struct section sec;
    int r;

    if ((r = section_begin(c, &sec, type, count, n1 + n2)) || (r = section_add(c, &sec, p1, n1)) ||
        (r = section_add(c, &sec, p2, n2)))
        return r;
    section_end(&sec);
    return 0;
}

/* The DELETED section: each deleted file's record, then its contents streamed from the
 * runtime's memfd (copied there at the quiesce) through the work buffer. */
static int write_deleted(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    struct section sec;
    uint64_t len = 0;
    int r;

    for (uint32_t i = 0; i < req->ndeleted; i++)
        len += sizeof(struct crs_img_deleted) + ((req->deleted[i].size + 7) & ~7ull);
    if ((r = section_begin(c, &sec, CRS_SEC_DELETED, req->ndeleted, len)))
        return r;
    for (uint32_t i = 0; i < req->ndeleted; i++) {
        const struct crs_snap_deleted *d = &req->deleted[i];
        struct crs_img_deleted rec = {d->fd, d->mode, d->ino, d->size};
        uint64_t done = 0, padded = (d->size + 7) & ~7ull;
        if ((r = section_add(c, &sec, &rec, sizeof rec)))
            return r;
        while (done < padded) {
            size_t want = padded - done > WORK_SIZE ? WORK_SIZE : (size_t)(padded - done);
            size_t have = 0;
            memset(c->work, 0, want);           /* the padding */
            while (done + have < d->size && have < want) {
                size_t left = (size_t)(d->size - done - have);
                ssize_t n = pread(req->deleted_memfd, c->work + have,
                                  left < want - have ? left : want - have,
                                  (off_t)(d->offset + done + have));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    c->stage = "reading the copy of a deleted file for";
                    return n < 0 ? -errno : -EIO;
                }
                have += (size_t)n;
            }
            if ((r = section_add(c, &sec, c->work, want)))
                return r;
            done += want;
        }
    }
    section_end(&sec);
    return 0;
}

/* Is [a, b) inside readable regions of the saved map? argv lives in the process's memory. */
static int readable_range(const struct child *c, uint64_t a, uint64_t b)
{
    while (a < b) {
        const struct crs_img_vma *v = NULL;
        for (size_t i = 0; i < c->nvmas; i++)
            if (c->vmas[i].start <= a && a < c->vmas[i].end)
                v = &c->vmas[i];
        if (!v || !(v->prot & PROT_READ))
            return 0;
        a = v->end;
    }
    return 1;
}

static int write_argv(struct child *c)
{
    const struct crs_img_process *p = &c->proc;
    const char *args = NULL, *env = NULL;
    size_t na = 0, ne = 0;
    uint32_t argc = 0;

    if (p->arg_end > p->arg_start && readable_range(c, p->arg_start, p->arg_end)) {
        args = (const char *)(uintptr_t)p->arg_start;
        na = p->arg_end - p->arg_start;
    }
    if (p->env_end > p->env_start && readable_range(c, p->env_start, p->env_end)) {
        env = (const char *)(uintptr_t)p->env_start;
        ne = p->env_end - p->env_start;
    }
    /* the payload must end in NUL and have whole strings: cut anything after the last NUL */
    while (na && args[na - 1] != '\0')
        na--;
    while (ne && env[ne - 1] != '\0')
        ne--;
    for (size_t i = 0; i < na; i++)
        if (args[i] == '\0')
            argc++;
    return put_section(c, CRS_SEC_ARGV, argc, args, na, env, ne);
}

static int write_auxv(struct child *c)
{
    long n = crs_read_file("/proc/self/auxv", c->work, WORK_SIZE);
    const uint64_t *a = (const uint64_t *)c->work;
    uint32_t pairs = 0;
    if (n > 0)
        while ((size_t)(pairs + 1) * 16 <= (size_t)n && a[pairs * 2] != 0)
            pairs++;
    return put_section(c, CRS_SEC_AUXV, pairs, c->work, (size_t)pairs * 16, NULL, 0);
}

/* The parent writes the pause right after the clone; if it never does, the image says 0. */
static uint64_t read_pause(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    uint64_t v = 0;
    if (fd < 0)
        return 0;
    if (poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLIN) && read(fd, &v, sizeof v) == sizeof v)
        return v;
    return 0;
}

static int write_tail(struct child *c, const struct crs_img_header *h)
{
    struct crs_img_trailer t;
    int r;

    if ((r = crs_writer_align(&c->w, 8)))
        return r;
    memset(&t, 0, sizeof t);
    memcpy(t.magic, CRS_IMG_TRAILER_MAGIC, 8);
    t.toc_offset = crs_writer_pos(&c->w);
    t.toc_count = c->ntoc;
    t.file_size = t.toc_offset + c->ntoc * sizeof(struct crs_img_toc_entry) + sizeof t;
    t.pause_ns = read_pause(c->req->pause_fd);
    t.header_checksum = XXH3_64bits(h, sizeof *h);
    t.toc_checksum = XXH3_64bits(c->toc, c->ntoc * sizeof(struct crs_img_toc_entry));
    t.checksum = XXH3_64bits(&t, offsetof(struct crs_img_trailer, checksum));
    if ((r = crs_writer_append(&c->w, c->toc, c->ntoc * sizeof(struct crs_img_toc_entry))) ||
        (r = crs_writer_append(&c->w, &t, sizeof t)))
        return r;
    return crs_writer_flush(&c->w);
}

static int write_image(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    struct crs_img_header h;
    struct crs_img_section sh = {CRS_SEC_PAGES, 0, 0};
    int r;

    memset(&h, 0, sizeof h);
    memcpy(h.magic, CRS_IMG_MAGIC, 8);
    h.version = CRS_IMG_VERSION;
    h.header_size = sizeof h;
    h.arch = CRS_ARCH_ID;
    h.page_size = CRS_IMG_PAGE_SIZE;
    h.created_ns = req->created_ns ? req->created_ns : now_ns(CLOCK_REALTIME);
    h.seq = req->seq;
    memcpy(h.job_id, req->job_id, sizeof h.job_id);
    h.pid = c->proc.pid;
    h.flags = req->killed ? CRS_IMG_F_KILLED : 0;
    if ((r = crs_writer_append(&c->w, &h, sizeof h)))
        return r;

    /* page data first: the region flags (SAVED) and the totals are known only afterwards */
    uint64_t pages_off = crs_writer_pos(&c->w);
    if ((r = crs_writer_append(&c->w, &sh, sizeof sh)))
        return r;
    XXH3_INITSTATE(&c->hs);
    XXH3_64bits_reset(&c->hs);
    for (size_t i = 0; i < c->nvmas; i++) {
        struct crs_img_vma *v = &c->vmas[i];
        if (v->kind != CRS_VMA_VDSO && v->kind != CRS_VMA_VVAR)
            c->proc.memory_covered += v->end - v->start;
        if ((r = save_region(c, v)))
            return r;
    }
    if ((r = pool_drain(c)))
        return r;
    c->stage = NULL;
    sh.length = crs_writer_pos(&c->w) - pages_off - sizeof sh;
    struct crs_img_toc_entry *e = &c->toc[c->ntoc++];
    e->type = CRS_SEC_PAGES;
    e->count = c->nchunks;
    e->offset = pages_off;
    e->length = sh.length;
    e->checksum = XXH3_64bits_digest(&c->hs);

    c->proc.nthreads = req->nthreads;
    memcpy(c->proc.itimers, req->itimers, sizeof c->proc.itimers);
    c->proc.restart = req->restart;

    if ((r = put_section(c, CRS_SEC_HOST, 1, &req->host, sizeof req->host, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_PROCESS, 1, &c->proc, sizeof c->proc, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_VMAS, (uint32_t)c->nvmas, c->vmas,
                         c->nvmas * sizeof *c->vmas, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_THREADS, req->nthreads, req->threads,
                         req->nthreads * sizeof *req->threads, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_SIGNALS, CRS_IMG_NSIG, c->sig, sizeof c->sig, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_FDS, (uint32_t)c->nfds, c->fds,
                         (size_t)c->nfds * sizeof *c->fds, NULL, 0)) ||
        (r = write_argv(c)) || (r = write_auxv(c)) ||
        (r = put_section(c, CRS_SEC_STRINGS, 0, c->st.buf, c->st.len, NULL, 0)))
        return r;
    if (req->nqueued && req->queued_len <= CRS_SNAP_QUEUED_MAX &&
        (r = put_section(c, CRS_SEC_QUEUED, req->nqueued,
                         (const char *)req->scratch + req->scratch_size - CRS_SNAP_QUEUED_MAX,
                         req->queued_len, NULL, 0)))
        return r;
    if (req->ndeleted && req->deleted_memfd >= 0 && (r = write_deleted(c)))
        return r;
    if (c->nunsaved &&
        (r = put_section(c, CRS_SEC_UNSAVED, (uint32_t)c->nunsaved, c->unsaved,
                         (size_t)c->nunsaved * sizeof *c->unsaved, NULL, 0)))
        return r;
    /* the pages section header, now that its length is known */
    if ((r = crs_writer_write_at(&c->w, &sh, sizeof sh, pages_off)))
        return r;
    return write_tail(c, &h);
}

/* Two or more CPUs allowed, not under a sanitizer (whose runtime keeps per-thread state that a
 * thread it has not seen would share), and not turned off (CRSNAP_TEST_ONE_THREAD). */
static int want_helper(int one_thread)
{
    if (sanitized_process())
        return 0;
    uint64_t set[16];
    long n = crs_sys3(SYS_sched_getaffinity, 0, sizeof set, (long)set);
    int cpus = 0;
    for (long i = 0; i < n / 8; i++)
        cpus += __builtin_popcountll(set[i]);
    return cpus > 1 && !one_thread;
}

/* Gives the image in the finished temporary file another sequence number: the header's, and
 * the trailer's checksums of the header. */
static int renumber(struct child *c, uint64_t seq)
{
    struct crs_img_header h;
    struct crs_img_trailer t;
    struct stat st;

    if (fstat(c->out_fd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < sizeof h + sizeof t ||
        pread(c->out_fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        pread(c->out_fd, &t, sizeof t, st.st_size - (off_t)sizeof t) != (ssize_t)sizeof t ||
        memcmp(h.magic, CRS_IMG_MAGIC, sizeof h.magic) ||
        memcmp(t.magic, CRS_IMG_TRAILER_MAGIC, sizeof t.magic))
        return -EIO;
    h.seq = seq;
    t.header_checksum = XXH3_64bits(&h, sizeof h);
    t.checksum = XXH3_64bits(&t, offsetof(struct crs_img_trailer, checksum));
    if (pwrite(c->out_fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        pwrite(c->out_fd, &t, sizeof t, st.st_size - (off_t)sizeof t) != (ssize_t)sizeof t)
        return -EIO;
    return 0;
}

/* Gives the finished temporary file (c->out_fd, c->temp) its final name. An explicit path is
 * replaced, as asked; in DIR no image is ever replaced: when another process (another job, or
 * another restore of this one) took the number meanwhile, the image takes the next one above
 * the highest there, with its header renumbered to match, and tries again. Sets c->final and
 * c->seq. Returns 0 or -errno. */
static int publish(struct child *c, const char *base)
{
    const struct crs_snap_request *req = c->req;
    char name[80];
    struct crs_sbuf b;
    int r;

    c->seq = req->seq;
    crs_sb_init(&b, c->final, sizeof c->final);
    crs_sb_str(&b, req->path);
    if (!req->dir[0])
        return crs_publish_commit(req->dir_fd, c->out_fd, c->temp, base, 1);
    for (int tries = 0; tries < PUBLISH_TRIES; tries++) {
        if ((r = crs_publish_image_name(c->seq, name, sizeof name)))
            return r;
        crs_sb_init(&b, c->final, sizeof c->final);
        crs_sb_str(&b, req->dir);
        crs_sb_str(&b, "/");
        crs_sb_str(&b, name);
        if (b.full)
            return -ENAMETOOLONG;
        r = crs_publish_commit(req->dir_fd, c->out_fd, c->temp, name, 0);
        if (r != -EEXIST)
            return r;
        int64_t top = crs_publish_max_seq(req->dir_fd);
        if (top < 0)
            return (int)top;
        c->seq = (uint64_t)top >= c->seq ? (uint64_t)top + 1 : c->seq + 1;
        if ((r = renumber(c, c->seq)))
            return r;
    }
    return -EEXIST;
}

void crs_snapshot_child(const struct crs_snap_request *req)
{
    static const char uring_note[] = "io_uring unavailable, wrote with pwrite";
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    struct child c;
    long n;
    int r;

    memset(&c, 0, sizeof c);
    c.t0 = t0;
    c.req = req;
    c.out_fd = -1;
    c.pagemap_fd = -1;

    /* 0. the program's signal dispositions, recorded before ours replace some: the child must
     * never run the program's own handlers (a fault of ours would end in a JVM's, say) */
    crs_proc_signals(c.sig);
    /* a file size limit must fail a write with EFBIG, not kill the child */
    ignore_signal(SIGXFSZ);
    ignore_signal(SIGPIPE);
    struct sigaction fault;
    memset(&fault, 0, sizeof fault);
    fault.sa_sigaction = on_fault;
    fault.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    fault_child = &c;
    sigaction(SIGBUS, &fault, NULL);
    sigaction(SIGSEGV, &fault, NULL);
    /* the coordinator, whose copy this is, blocks every signal; a fault that arrives blocked
     * is delivered with the default action, which would bypass the handler */
    uint64_t faults = (1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1));
    crs_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&faults, 0, 8);

    /* 1. the memory map, into the parent's scratch, before anything of ours is mapped */
    /* the scratch's end holds the queued bytes (snapshot.h): the rest is ours */
    size_t parse = req->scratch_size - CRS_SNAP_QUEUED_MAX;
    size_t vbytes = parse * 3 / 8;
    if (!req->scratch || req->scratch_size < CRS_SNAP_QUEUED_MAX + 4 * LINE_SIZE) {
        c.stage = "preparing";
        finish(&c, -EINVAL, NULL, t0);
    }
    c.vmas = req->scratch;
    crs_strtab_init(&c.st, (char *)req->scratch + vbytes, (uint32_t)(parse - vbytes - LINE_SIZE));
    n = crs_proc_maps(c.vmas, vbytes / sizeof *c.vmas, &c.st,
                      (char *)req->scratch + parse - LINE_SIZE, LINE_SIZE);
    if (n < 0) {
        c.stage = "reading the memory map for";
        finish(&c, (int)n, NULL, t0);
    }
    c.nvmas = (size_t)n;

    /* 2. our own memory */
    int level = req->level;
    if (level == 0) /* as crs_config documents it */
        level = 1;
    if (level < ZSTD_minCLevel())
        level = ZSTD_minCLevel();
    if (level > ZSTD_maxCLevel())
        level = ZSTD_maxCLevel();
    ZSTD_compressionParameters cp = ZSTD_getCParams(level, CHUNK_BYTES, 0);
    size_t zws = (ZSTD_estimateCCtxSize_usingCParams(cp) + 63) & ~(size_t)63;
    size_t fdbytes = MAX_FDS * sizeof(struct crs_img_fd) +
                     MAX_UNSAVED * sizeof(struct crs_img_unsaved);
    size_t jobbytes = NJOBS * (JOB_STAGE + ((JOB_OUT + 63) & ~(size_t)63));
    size_t total = CRS_WRITER_MEM + jobbytes + 2 * zws + HELPER_STACK + FAULT_STACK + BATCH * 8 + BATCH +
                   fdbytes + WORK_SIZE;
    total = (total + 4 * 4096) & ~(size_t)4095;
    char *mem = mmap(NULL, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        c.stage = "preparing";
        finish(&c, -errno, NULL, t0);
    }
    char *wmem = mem;
    char *at = wmem + CRS_WRITER_MEM;
    for (int i = 0; i < NJOBS; i++) {
        c.pool.jobs[i].stage = at;
        c.pool.jobs[i].out = at + JOB_STAGE;
        at += JOB_STAGE + ((JOB_OUT + 63) & ~(size_t)63);
    }
    c.pool.level = level;
    for (int i = 0; i < 2; i++) {
        c.pool.cctx[i] = ZSTD_initStaticCCtx(at, zws);
        at += zws;
        if (!c.pool.cctx[i]) {
            c.stage = "preparing the compressor for";
            finish(&c, -ENOMEM, NULL, t0);
        }
    }
    char *helper_stack = at;
    at += HELPER_STACK;
    stack_t alt = { .ss_sp = at, .ss_size = FAULT_STACK };
    sigaltstack(&alt, NULL);
    at += FAULT_STACK;
    c.pm = (uint64_t *)at;
    c.mc = (unsigned char *)(c.pm + BATCH);
    c.fds = (struct crs_img_fd *)(((uintptr_t)(c.mc + BATCH) + 63) & ~(uintptr_t)63);
    c.unsaved = (struct crs_img_unsaved *)(c.fds + MAX_FDS);
    c.work = (char *)(c.unsaved + MAX_UNSAVED);
    /* Bind zstd's and XXH3's calls now, in this thread: memory is released as the walk goes,
     * and a lazily bound call would have the dynamic linker read its bookkeeping. */
    memset(c.pool.jobs[0].stage, 0, CRS_IMG_PAGE_SIZE);
    c.pool.jobs[0].ch[0].npages = 1;
    c.pool.jobs[0].nchunks = 1;
    compress_job(&c.pool.jobs[0], c.pool.cctx[1], level);
    compress_job(&c.pool.jobs[0], c.pool.cctx[0], level);
    c.pool.jobs[0].nchunks = 0;
    XXH3_INITSTATE(&c.hs);
    XXH3_64bits_reset(&c.hs);
    XXH3_64bits_update(&c.hs, c.pool.jobs[0].stage, 8);
    (void)XXH3_64bits_digest(&c.hs);
    /* the helper, where a second CPU is there to run it and nothing forbids it */
    if (want_helper(req->hooks.one_thread))
        c.pool.helper = crs_arch_clone_thread(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                                  CLONE_THREAD | CLONE_SYSVSEM,
                                              helper_stack + HELPER_STACK, NULL, NULL, 0,
                                              helper_main, &c.pool) > 0;
    /* test hooks: slow writes (to kill the child mid-write), the pagemap fallback, a crash
     * (reading page 0, to check the report of one and the retry) */
    c.no_scan = req->hooks.no_pagemap_scan;
    c.test_fault = req->hooks.child_crash;
    c.delay_ms = (long)req->hooks.write_delay_ms;

    /* 3. descriptors and process facts, before we open any of our own (a test hook holds the
     * child back here, so that the process runs on before they are read) */
    uint32_t fdd = req->hooks.fds_delay_ms;
    if (fdd) {
        struct timespec ts = {(time_t)(fdd / 1000), (long)(fdd % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    int internal[258];
    int ni = 0;
    for (uint32_t i = 0; i < req->ninternal && ni < 256; i++)
        internal[ni++] = req->internal_fds[i];
    internal[ni++] = req->report_fd;
    internal[ni++] = req->pause_fd;
    c.nfds = crs_proc_fds(c.fds, MAX_FDS, &c.st, internal, (uint32_t)ni, NULL, 0, c.work,
                          WORK_SIZE);
    if (c.nfds < 0) {
        c.stage = "reading the file descriptors for";
        finish(&c, (int)c.nfds, NULL, t0);
    }
    crs_proc_fds_apply(c.fds, (size_t)c.nfds, req->fdstate, req->nfdstate);
    r = crs_proc_process(&c.proc, &c.st, req->parent > 0 ? req->parent : getppid(), c.work,
                         WORK_SIZE);
    if (r) {
        c.stage = "reading the process state for";
        finish(&c, r, NULL, t0);
    }
    /* its pid and name come from /proc/PARENT: only good if the parent was alive throughout */
    if (parent_gone(req)) {
        c.stage = "the process ended before its state was read for";
        finish(&c, -ESRCH, NULL, t0);
    }
    c.nunsaved = crs_proc_unsaved(c.unsaved, MAX_UNSAVED, &c.st, c.fds, (size_t)c.nfds,
                                  req->deleted, req->deleted_memfd >= 0 ? req->ndeleted : 0,
                                  req->parent > 0 ? req->parent : getppid());

    plan_release(&c);

    /* 4. the image */
    c.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (c.pagemap_fd < 0) {
        c.stage = "opening the page map for";
        finish(&c, -errno, NULL, t0);
    }
    /* Every name from here on is relative to the directory the parent checked. */
    const char *base = req->path;
    for (const char *p = req->path; *p; p++)
        if (*p == '/' && p[1])
            base = p + 1;
    c.out_fd = crs_publish_create_temp(req->dir_fd, base, req->job_id, c.temp, sizeof c.temp);
    if (c.out_fd < 0) {
        int e = c.out_fd;
        c.temp[0] = '\0';
        c.stage = "creating";
        finish(&c, e, NULL, t0);
    }
    crs_writer_init(&c.w, c.out_fd, req->force_pwrite, wmem);
    /* Whole slots go to the disk directly: no copy into the page cache (a quarter of the
     * child's CPU time for a mixed image), and the image does not push the program's own
     * cached files out. CRSNAP_NO_DIRECT=1 keeps every write buffered. */
    if (!req->no_direct) {
        int dfd = openat(req->dir_fd, c.temp, O_WRONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0)
            crs_writer_set_direct(&c.w, dfd);
        else
            c.w.direct_err = -errno;
    } else {
        c.no_direct = 1;
    }
    c.w.test_rw_flags = req->hooks.uring_rw_flags; /* test hook: writes the ring refuses */
    if (!c.w.uring && !req->force_pwrite) {
        if (req->log_level > 0) {
            static const char msg[] = "crsnap: io_uring unavailable, writing images with pwrite\n";
            if (write(2, msg, sizeof msg - 1) < 0) {
            }
        }
    }
    if ((r = write_image(&c)))
        fail(&c, r, t0);
    /* a process that ended meanwhile gets no image: its successor as `latest` would be an
     * image of a process that is gone, which nobody asked for any more */
    if (parent_gone(req)) {
        c.stage = "the process ended while writing";
        fail(&c, -ESRCH, t0);
    }
    crs_writer_end(&c.w);
    c.stage = "publishing";
    if ((r = publish(&c, base)))
        fail(&c, r, t0);
    close(c.out_fd);
    c.out_fd = -1;
    c.temp[0] = '\0';
    if (req->dir[0]) {
        const char *name = c.final + crs_strlen(req->dir) + 1;
        c.stage = "linking latest to";
        if ((r = crs_publish_latest(req->dir_fd, name, req->job_id)))
            finish(&c, r, NULL, t0);
        crs_publish_clean_temps(req->dir_fd, req->job_id); /* best effort: killed writers' */
        c.stage = "applying retention after";
        r = crs_publish_retain(req->dir_fd, req->keep, name, req->job_id, c.work, WORK_SIZE);
        if (r < 0)
            finish(&c, r, NULL, t0);
    }
    finish(&c, 0, (!c.w.uring_err || req->force_pwrite) ? NULL : uring_note, t0);
}

int crs_snapshot_host(struct crs_img_host *out)
{
    struct utsname u;
    memset(out, 0, sizeof *out);
    if (uname(&u) < 0)
        return -errno;
    memcpy(out->sysname, u.sysname, sizeof out->sysname - 1);
    memcpy(out->release, u.release, sizeof out->release - 1);
    memcpy(out->version, u.version, sizeof out->version - 1);
    memcpy(out->machine, u.machine, sizeof out->machine - 1);
    strncpy(out->libc_version, gnu_get_libc_version(), sizeof out->libc_version - 1);
    out->xfeatures = crs_arch_xfeatures();
    long ps = sysconf(_SC_PAGESIZE);
    out->page_size = ps > 0 ? (uint32_t)ps : CRS_IMG_PAGE_SIZE;
    return 0;
}

size_t crs_snapshot_scratch_size(void)
{
    return SCRATCH_SIZE + CRS_SNAP_QUEUED_MAX;
}
