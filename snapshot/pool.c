/* snapshot/pool.c - the snapshot child's compression pool: jobs of copied pages compressed
 * (zstd, static contexts) by a helper thread and by the walker itself, retired to the writer in
 * the order they were filled. Runs in the forked snapshot child: no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#define ZSTD_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY
#include "child_internal.h"
#include "common/proc_util.h"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

/* Jobs are retired in the order they were filled, so the image is the same byte for byte as
 * with one thread.
 *
 * The helper is a raw clone (CLONE_VM|CLONE_THREAD) on its own mmap'd stack, with its own
 * static zstd context; it shares the walker's thread pointer (only the stack guard is read
 * through it) and calls nothing but zstd, XXH3 and memcpy, all bound before it starts, and raw
 * futex system calls: no errno, no locks. It dies with the child (exit_group). Job states and
 * the two wake-up words are touched with atomics only. */
/* A job's compressed stream: zstd's bound for the whole stage (ZSTD_COMPRESSBOUND: n/256
 * above n, and up to 64 bytes more for each input below 128 KiB), each chunk's header and up
 * to 8 bytes of alignment, and a page to spare. */
#define JOB_OUT (CHUNK_BYTES + CHUNK_BYTES / 256 + JOB_CHUNKS * (sizeof(struct crs_img_chunk) + 8 + 64) + 4096)
#define JOB_OUT_ALIGNED ((JOB_OUT + 63) & ~(size_t)63)
#define HELPER_STACK (256u << 10)

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
    crs_sys4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, CRS_ARCH_SIGSET_SIZE);
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
    crs_child_pageidx_add(c, j, crs_writer_pos(&c->w));
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
int crs_pool_job_for(struct child *c, size_t raw, struct job **out)
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
int crs_pool_drain(struct child *c)
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

/* The finished jobs at the tail go to the writer now: keeps it streaming. */
int crs_pool_retire_done(struct child *c)
{
    int r;
    while (c->pool.tail != c->pool.head &&
           __atomic_load_n(&c->pool.jobs[c->pool.tail % NJOBS].state, __ATOMIC_SEQ_CST) == JOB_DONE)
        if ((r = retire(c, &c->pool.jobs[c->pool.tail % NJOBS])))
            return r;
    return 0;
}

size_t crs_pool_size(struct pool *p, int req_level)
{
    int level = req_level;
    if (level == 0) /* as crs_config documents it */
        level = 1;
    if (level < ZSTD_minCLevel())
        level = ZSTD_minCLevel();
    if (level > ZSTD_maxCLevel())
        level = ZSTD_maxCLevel();
    ZSTD_compressionParameters cp = ZSTD_getCParams(level, CHUNK_BYTES, 0);
    p->level = level;
    p->zws = (ZSTD_estimateCCtxSize_usingCParams(cp) + 63) & ~(size_t)63;
    return NJOBS * (JOB_STAGE + JOB_OUT_ALIGNED) + 2 * p->zws + HELPER_STACK;
}

char *crs_pool_place(struct pool *p, char *at)
{
    for (int i = 0; i < NJOBS; i++) {
        p->jobs[i].stage = at;
        p->jobs[i].out = at + JOB_STAGE;
        at += JOB_STAGE + JOB_OUT_ALIGNED;
    }
    for (int i = 0; i < 2; i++) {
        p->cctx[i] = ZSTD_initStaticCCtx(at, p->zws);
        at += p->zws;
        if (!p->cctx[i])
            return NULL;
    }
    return at + HELPER_STACK;
}

/* Binds zstd's and XXH3's calls now, in this thread: memory is released as the walk goes,
 * and a lazily bound call would have the dynamic linker read its bookkeeping. */
void crs_pool_bind(struct child *c)
{
    struct pool *p = &c->pool;
    memset(p->jobs[0].stage, 0, CRS_IMG_PAGE_SIZE);
    p->jobs[0].ch[0].npages = 1;
    p->jobs[0].nchunks = 1;
    compress_job(&p->jobs[0], p->cctx[1], p->level);
    compress_job(&p->jobs[0], p->cctx[0], p->level);
    p->jobs[0].nchunks = 0;
    XXH3_INITSTATE(&c->hs);
    XXH3_64bits_reset(&c->hs);
    XXH3_64bits_update(&c->hs, p->jobs[0].stage, 8);
    (void)XXH3_64bits_digest(&c->hs);
}

/* Two or more CPUs allowed, not under a sanitizer (whose runtime keeps per-thread state that a
 * thread it has not seen would share), and not turned off (CRSNAP_TEST_ONE_THREAD). */
static int want_helper(int one_thread)
{
    if (sanitized_process())
        return 0;
    uint64_t set[CPU_SETSIZE / 64];    /* the affinity mask glibc's cpu_set_t holds */
    long n = crs_sys3(SYS_sched_getaffinity, 0, sizeof set, (long)set);
    int cpus = 0;
    for (long i = 0; i < n / 8; i++)
        cpus += __builtin_popcountll(set[i]);
    return cpus > 1 && !one_thread;
}

void crs_pool_start(struct pool *p, char *stack_top, int one_thread)
{
    if (want_helper(one_thread))
        p->helper = crs_arch_clone_thread(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                              CLONE_THREAD | CLONE_SYSVSEM,
                                          stack_top, NULL, NULL, 0, helper_main, p) > 0;
}
