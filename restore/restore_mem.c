/* restore/restore_mem.c - rebuilds the saved address space inside the restorer: every region
 * mapped at its address (never over something else: MAP_FIXED_NOREPLACE), saved pages
 * decompressed straight into place, final protections, the vDSO block moved where the image
 * expects it, and the kernel's idea of the program break and argument area.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/prctl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef MADV_GUARD_INSTALL
#define CRS_MADV_GUARD_INSTALL MADV_GUARD_INSTALL
#else
#define CRS_MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

#ifdef MADV_POPULATE_WRITE
#define CRS_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#else
#define CRS_MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Chunks go to the threads in turns of this many, so each reads the file in long runs. */
#define BATCH_CHUNKS 16u
#define WORKER_STACK (1u << 20)
/* auxv pairs handed back with PR_SET_MM_MAP, AT_NULL aside: a bound for the buffer on the
 * stack, above what a kernel writes (about 25 pairs on x86-64; it refuses a vector longer than
 * the one it keeps). Pairs beyond it are left out. */
#define AUXV_PAIRS 64

/* Regions whose saved pages are written into them, so they start writable. A SysV segment or
 * /dev/shm object takes them only when it was made again: one still there is used as it is. */
int crs_restore_takes_pages(const struct crs_restore *r, const struct crs_img_vma *v)
{
    if (!(v->flags & CRS_VMA_F_SAVED))
        return 0;
    if (crs_restore_shm_region(v) && crs_restore_tree_memory(r, v->dev, v->ino) >= 0)
        return 0;           /* a job's shared memory, filled once for all its processes */
    if (v->flags & CRS_VMA_F_SHMOBJ) {
        const struct crs_restore_obj *m = crs_restore_obj_of(r, v);
        return m && m->fill;
    }
    return v->kind != CRS_VMA_FILE_SHARED || (v->flags & CRS_VMA_F_DELETED);
}

/* How a region is mapped: protections and flags (without the address), and the file to map
 * with the access it is opened with (*path NULL: none). 0 when the region is not mapped at all
 * (the vDSO block is moved, not mapped). */
struct how {
    int prot, flags, oflags;
    const char *path;
};

static int region_how(const struct crs_restore *r, const struct crs_img_vma *v, struct how *h)
{
    const char *path = crs_image_string(r->img, v->path);
    int file = (v->kind == CRS_VMA_FILE_PRIVATE || v->kind == CRS_VMA_FILE_SHARED) &&
               !(v->flags & CRS_VMA_F_DELETED) && path && path[0] == '/';
    int fill = crs_restore_takes_pages(r, v);

    /* a /dev/shm object not made again yet (the trial mapping): memory of the same kind */
    if (file && (v->flags & CRS_VMA_F_SHMOBJ) && access(path, F_OK) < 0)
        file = 0;
    h->prot = fill ? PROT_READ | PROT_WRITE : (int)v->prot;
    h->flags = v->flags & CRS_VMA_F_NORESERVE ? MAP_NORESERVE : 0;
    h->path = file ? path : NULL;
    h->oflags = v->kind == CRS_VMA_FILE_SHARED && (v->prot & PROT_WRITE || fill) ? O_RDWR
                                                                                : O_RDONLY;
    switch (v->kind) {
    case CRS_VMA_VDSO:
    case CRS_VMA_VVAR:
    case CRS_VMA_VSYSCALL:
        return 0;
    case CRS_VMA_ANON_SHARED:
        h->flags |= MAP_SHARED | MAP_ANONYMOUS;
        break;
    case CRS_VMA_FILE_SHARED:
        h->flags |= file ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS;
        break;
    case CRS_VMA_FILE_PRIVATE:
        h->flags |= file ? MAP_PRIVATE : MAP_PRIVATE | MAP_ANONYMOUS;
        break;
    default:
        h->flags |= MAP_PRIVATE | MAP_ANONYMOUS;
        break;
    }
    return 1;
}

static int open_for(const struct crs_img_vma *v, const struct how *h, char *err, size_t errlen)
{
    /* never wait on what was put at the name since the check (a FIFO) */
    int fd = open(h->path, h->oflags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        crs_seterr(err, errlen, "cannot open %s to map it at %#" PRIx64 ": %s", h->path, v->start,
                   strerror(e));
        return -e;
    }
    return fd;
}

static void map_failed(const struct crs_image *img, const struct crs_img_vma *v, int e,
                       char *err, size_t errlen)
{
    const char *path = crs_image_string(img, v->path);
    crs_seterr(err, errlen, "cannot map the saved region %#" PRIx64 "-%#" PRIx64 " (%s%s%s%s): %s",
               v->start, v->end, crs_image_vma_kind_name(v->kind), path && path[0] ? " " : "",
               path ? path : "", v->flags & CRS_VMA_F_NORESERVE ? ", no reserve" : "", strerror(e));
}

static int map_region(struct crs_restore *r, const struct crs_img_vma *v, char *err,
                      size_t errlen)
{
    struct how h;
    int fd = -1;
    void *p;

    if (!region_how(r, v, &h))
        return 0;
    if ((v->flags & CRS_VMA_F_SHMOBJ) && v->kind == CRS_VMA_ANON_SHARED)
        return crs_restore_sysv_attach(r, v, err, errlen);
    if (h.path && (fd = open_for(v, &h, err, errlen)) < 0)
        return fd;
    /* shared with another region or a descriptor: the object made for them (restore_shm.c) */
    const struct crs_restore_shm *obj =
        crs_restore_shm_region(v) ? crs_restore_shm_find(r, v->dev, v->ino) : NULL;
    int shm = obj ? obj->fd : -1;
    if (shm >= 0)
        h.flags &= ~MAP_ANONYMOUS;
    p = mmap((void *)(uintptr_t)v->start, v->end - v->start, h.prot,
             h.flags | MAP_FIXED_NOREPLACE | (v->flags & CRS_VMA_F_GROWSDOWN ? MAP_GROWSDOWN : 0),
             shm >= 0 ? shm : fd, h.path || shm >= 0 ? (off_t)v->file_offset : 0);
    if (fd >= 0)
        close(fd);
    if (p == MAP_FAILED) {
        int e = errno;
        map_failed(r->img, v, e, err, errlen);
        return e == EEXIST ? -EADDRINUSE : -e;
    }
    if ((uint64_t)(uintptr_t)p != v->start) {
        munmap(p, v->end - v->start);
        crs_seterr(err, errlen, "the kernel placed the region %#" PRIx64 " elsewhere", v->start);
        return -EADDRINUSE;
    }
    return 0;
}

int crs_restore_memory_try(const struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;
    void **made = calloc(img->nvmas ? img->nvmas : 1, sizeof *made);
    int rc = 0;

    if (!made) {
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* All of them held at once: with vm.overcommit_memory=2 the commit charge adds up. Saved
     * protections are added, so that a noexec mount refuses here as mprotect would later. */
    for (uint32_t i = 0; i < img->nvmas && !rc; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        struct how h;
        int fd = -1;
        void *p;

        if (!region_how(r, v, &h))
            continue;
        if (h.path && (fd = open_for(v, &h, err, errlen)) < 0) {
            rc = fd;
            break;
        }
        p = mmap(NULL, v->end - v->start, h.prot | (int)v->prot, h.flags, fd,
                 h.path ? (off_t)v->file_offset : 0);
        if (fd >= 0)
            close(fd);
        if (p == MAP_FAILED) {
            rc = -errno;
            map_failed(img, v, -rc, err, errlen);
        } else {
            made[i] = p;
        }
    }
    for (uint32_t i = 0; i < img->nvmas; i++)
        if (made[i])
            munmap(made[i], img->vmas[i].end - img->vmas[i].start);
    free(made);
    return rc;
}

/* The host's mapping of the vDSO block that region v (a [vdso] or [vvar] region) is moved
 * from, or NULL when there is none of v's size. */
static const struct crs_restore_map *vdso_source(const struct crs_restore *r,
                                                 const struct crs_img_vma *v)
{
    const char *name = crs_image_string(r->img, v->path);
    const struct crs_restore_map *m = NULL;

    for (uint32_t j = 0; j < r->nmaps && name; j++)
        if (!strcmp(r->maps[j].name, name))
            m = &r->maps[j];
    return m && m->end - m->start == v->end - v->start ? m : NULL;
}

int crs_restore_check_vdso(const struct crs_restore *r, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < r->img->nvmas; i++) {
        const struct crs_img_vma *v = &r->img->vmas[i];
        const char *name = crs_image_string(r->img, v->path);
        if ((v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR) && !vdso_source(r, v)) {
            crs_seterr(err, errlen, "incompatible host: no %s of %" PRIu64 " bytes here",
                       name && name[0] ? name : "vdso", v->end - v->start);
            return -ENOEXEC;
        }
    }
    return 0;
}

int crs_restore_memory_prepare(struct crs_restore *r, char *err, size_t errlen)
{
    r->nthreads = sysconf(_SC_NPROCESSORS_ONLN) < 2 || r->opts.one_thread ? 1 : 2;
    for (int i = 0; i < r->nthreads; i++) {
        if (crs_chunk_reader_init(&r->rd[i])) {
            crs_restore_memory_release(r);
            crs_seterr(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    if (r->nthreads > 1) {
        void *p = mmap(NULL, WORKER_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            crs_restore_memory_release(r);
            crs_seterr(err, errlen, "cannot allocate a stack for decompression: %s", strerror(e));
            return -e;
        }
        r->wstack = p;
        r->wstack_size = WORKER_STACK;
    }
    return 0;
}

void crs_restore_memory_release(struct crs_restore *r)
{
    for (int i = 0; i < 2; i++)
        crs_chunk_reader_free(&r->rd[i]);
    if (r->wstack)
        munmap(r->wstack, r->wstack_size);
    r->wstack = NULL;
}

/* One thread's share of the pages: every chunk whose batch number is its turn. The second
 * thread runs this too, so it calls nothing that allocates (a malloc there would create an
 * arena outside the checked layout) and reports progress only through the shared counter. */
struct share {
    struct crs_restore *r;
    struct crs_chunk_reader *rd;
    unsigned id, n;
    _Atomic uint64_t *done;
    atomic_int *stop;           /* set by whichever thread fails first */
    int rc;
    char err[256];
};

static int fill_share(struct share *s)
{
    struct crs_image *img = s->r->img;
    struct crs_chunk_iter it;
    int rc = 0;

    crs_image_chunk_begin_window(img, &it, &s->rd->win);
    while (!atomic_load_explicit(s->stop, memory_order_relaxed) &&
           (rc = crs_image_next_chunk(img, &it, s->err, sizeof s->err)) > 0) {
        const struct crs_img_vma *v = crs_image_find_vma(img, it.chunk.addr);
        size_t len = (size_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
        if ((it.index - 1) / BATCH_CHUNKS % s->n != s->id)
            continue;
        if (!v || !crs_restore_takes_pages(s->r, v))
            continue;       /* a shared file's contents live in the file */
        /* One call faults the chunk's pages in, instead of a fault per page while zstd writes
         * them; a kernel without MADV_POPULATE_WRITE just takes the faults. */
        madvise((void *)(uintptr_t)it.chunk.addr, len, CRS_MADV_POPULATE_WRITE);
        rc = crs_image_read_chunk_r(img, s->rd, &it, (void *)(uintptr_t)it.chunk.addr, len,
                                    s->err, sizeof s->err);
        if (rc)
            return rc;
        uint64_t done = atomic_fetch_add(s->done, (uint64_t)len) + len;
        /* The last report comes after the join, once. */
        if (s->id == 0 && img->progress && done != img->process.memory_saved)
            img->progress(done, img->process.memory_saved, img->progress_arg);
    }
    return rc < 0 ? rc : 0;
}

static void *share_thread(void *arg)
{
    struct share *s = arg;
    if ((s->rc = fill_share(s)))
        atomic_store(s->stop, 1);
    return NULL;
}

/* Decompresses every saved chunk into its (already mapped) place, on r->nthreads threads. The
 * second thread runs on the stack made before the layout check and is joined before this
 * returns: nothing of it is left when the restart entry runs. */
static int fill_pages(struct crs_restore *r, char *err, size_t errlen)
{
    struct crs_image *img = r->img;
    _Atomic uint64_t done = 0;
    atomic_int stop = 0;
    struct share s[2];
    pthread_t worker;
    pthread_attr_t attr;
    int threaded = 0, rc;

    for (unsigned i = 0; i < 2; i++)
        s[i] = (struct share){ .r = r, .rd = &r->rd[i], .id = i, .n = (unsigned)r->nthreads,
                               .done = &done, .stop = &stop };
    if (r->nthreads > 1 && r->wstack && !pthread_attr_init(&attr)) {
        threaded = !pthread_attr_setstack(&attr, r->wstack, r->wstack_size) &&
                   !pthread_create(&worker, &attr, share_thread, &s[1]);
        pthread_attr_destroy(&attr);
    }
    if (!threaded)
        s[0].n = 1;         /* no second thread: this one takes every chunk */
    if ((s[0].rc = fill_share(&s[0])))
        atomic_store(&stop, 1);
    if (threaded)
        pthread_join(worker, NULL);
    rc = s[0].rc ? s[0].rc : threaded ? s[1].rc : 0;
    if (rc) {
        crs_seterr(err, errlen, "%s", s[0].rc ? s[0].err : s[1].err);
        return rc;
    }
    img->progress_done = atomic_load(&done);
    if (img->progress)
        img->progress(img->progress_done, img->process.memory_saved, img->progress_arg);
    return 0;
}

/* The advice the region had, in two steps: the huge-page advice before the pages are written
 * (so that a region that had huge pages is filled with huge pages, far fewer faults, and one
 * that refused them gets none), the rest after. Advice the kernel lacks (KSM, huge pages not
 * built in) is a hint gone, not an error. */
static void advise(const struct crs_img_vma *v, int before_fill)
{
    static const struct { uint32_t flag; int advice, before; } hints[] = {
        { CRS_VMA_F_HUGEPAGE, MADV_HUGEPAGE, 1 }, { CRS_VMA_F_NOHUGEPAGE, MADV_NOHUGEPAGE, 1 },
        { CRS_VMA_F_DONTDUMP, MADV_DONTDUMP, 0 }, { CRS_VMA_F_MERGEABLE, MADV_MERGEABLE, 0 },
    };
    void *p = (void *)(uintptr_t)v->start;
    size_t len = v->end - v->start;

    if (v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR || v->kind == CRS_VMA_VSYSCALL)
        return;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if ((v->flags & hints[i].flag) && hints[i].before == before_fill)
            madvise(p, len, hints[i].advice);
}

/* Guard pages, installed again over the regions as filled (an install drops what a page
 * holds, and they held nothing). A kernel without guard regions (before Linux 6.13) leaves
 * them ordinary pages: a warning, since a program that relied on the fault no longer gets it. */
static void install_guards(struct crs_restore *r)
{
    const struct crs_image *img = r->img;
    uint64_t failed = 0;
    int e = 0;

    for (uint32_t i = 0; i < img->nguards; i++) {
        const struct crs_img_guard *g = &img->guards[i];
        if (madvise((void *)(uintptr_t)g->start, g->end - g->start, CRS_MADV_GUARD_INSTALL) < 0) {
            if (!failed)
                e = errno;
            failed += (g->end - g->start) / CRS_IMG_PAGE_SIZE;
        }
    }
    if (failed)
        crs_restore_warn(r, "%" PRIu64 " guard pages (MADV_GUARD_INSTALL) are not installed "
                         "again, they are ordinary pages now: %s", failed, strerror(e));
}

int crs_restore_memory(struct crs_restore *r, char *err, size_t errlen)
{
    struct crs_image *img = r->img;
    int rc;

    if ((rc = crs_restore_shm_make(r, err, errlen)) ||
        (rc = crs_restore_shmobj_make(r, err, errlen)))
        return rc;
    for (uint32_t i = 0; i < img->nvmas; i++)
        if ((rc = map_region(r, &img->vmas[i], err, errlen)))
            return rc;
    for (uint32_t i = 0; i < img->nvmas; i++)
        advise(&img->vmas[i], 1);
    if (!r->rd[0].dctx) {
        crs_seterr(err, errlen, "internal error: the decompressors were not made before the check");
        return -EINVAL;
    }
    /* lazy: the helper fills the registered regions, this fills the others (a chain of
     * incremental images is restored eagerly: the helper reads one image) */
    if (r->lazy ? (rc = crs_restore_lazy_register(r, err, errlen)) ||
                      (rc = crs_restore_lazy_fill_eager(r, err, errlen))
                : (rc = fill_pages(r, err, errlen)) || (rc = crs_restore_chain_fill(r, err, errlen)))
        return rc;

    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        /* a SysV segment is attached read-write, or read-only: its protection is set here */
        int sysv = (v->flags & CRS_VMA_F_SHMOBJ) && v->kind == CRS_VMA_ANON_SHARED;
        if ((!crs_restore_takes_pages(r, v) && !sysv) || v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR ||
            v->kind == CRS_VMA_VSYSCALL)
            continue;
        if (mprotect((void *)(uintptr_t)v->start, v->end - v->start, (int)v->prot) < 0) {
            int e = errno;
            crs_seterr(err, errlen,
                       "cannot protect %#" PRIx64 "-%#" PRIx64 ": %s", v->start, v->end,
                       strerror(e));
            return -e;
        }
    }
    for (uint32_t i = 0; i < img->nvmas; i++)
        advise(&img->vmas[i], 0);
    install_guards(r);
    crs_restore_shmobj_finish(r);
    return 0;
}

/* Locks one region as it was. mlock of a region without access marks it locked and then
 * fails to populate it (ENOMEM), where the kernel's own lock of a range mapped under
 * mlockall(MCL_FUTURE), a thread's malloc arena, says nothing. So such a region is locked on
 * fault first, which populates nothing and is refused only by RLIMIT_MEMLOCK, then marked
 * locked outright, whose failure to populate is what the kernel ignores too. */
static int lock_region(const struct crs_img_vma *v)
{
    void *a = (void *)(uintptr_t)v->start;
    size_t len = v->end - v->start;
    int onfault = (v->flags & CRS_VMA_F_LOCKONFAULT) != 0;

    if (v->prot & (PROT_READ | PROT_WRITE | PROT_EXEC))
        return mlock2(a, len, onfault ? MLOCK_ONFAULT : 0);
    if (mlock2(a, len, MLOCK_ONFAULT) < 0)
        return -1;
    if (!onfault && mlock2(a, len, 0) < 0 && errno != ENOMEM)
        return -1;
    return 0;
}

/* Locks come back after the resource limits (restore_proc.c): RLIMIT_MEMLOCK bounds what an
 * unprivileged user may lock, and the process's own limit is the one that applies. A lock
 * refused is a warning, not an error: the memory is all there, only not pinned. */
void crs_restore_locks(struct crs_restore *r)
{
    const struct crs_image *img = r->img;
    uint64_t bytes = 0, failed_bytes = 0;
    uint32_t failed = 0;
    int e = 0;

    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if (!(v->flags & CRS_VMA_F_LOCKED) || v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR ||
            v->kind == CRS_VMA_VSYSCALL)
            continue;
        bytes += v->end - v->start;
        if (lock_region(v) < 0) {
            if (!failed)
                e = errno;
            failed++;
            failed_bytes += v->end - v->start;
        }
    }
    if (!failed)
        return;
    struct rlimit rl;
    char lim[64] = "";
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(lim, sizeof lim, "; RLIMIT_MEMLOCK is %llu KiB",
                 (unsigned long long)(rl.rlim_cur >> 10));
    crs_restore_warn(r, "%u of the locked regions (%" PRIu64 " of %" PRIu64 " KiB) are not "
                     "locked again: %s%s", failed, failed_bytes >> 10, bytes >> 10, strerror(e),
                     lim);
}

int crs_restore_vdso(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;
    int rc;

    if ((rc = crs_restore_check_vdso(r, err, errlen)))
        return rc;
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        const struct crs_restore_map *m;
        if (v->kind != CRS_VMA_VDSO && v->kind != CRS_VMA_VVAR)
            continue;
        m = vdso_source(r, v);
        if (m->start == v->start)
            continue;
        void *p = mremap((void *)(uintptr_t)m->start, m->end - m->start, v->end - v->start,
                         MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)v->start);
        if (p == MAP_FAILED) {
            int e = errno;
            crs_seterr(err, errlen, "cannot move %s to %#" PRIx64 ": %s",
                       crs_image_string(img, v->path), v->start, strerror(e));
            return -e;
        }
    }
    return 0;
}

int crs_restore_mm(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_img_process *p = &r->img->process;
    uint64_t auxv[2 * AUXV_PAIRS + 2];
    uint32_t n = r->img->nauxv < AUXV_PAIRS ? r->img->nauxv : AUXV_PAIRS;
    struct prctl_mm_map map = {
        .start_code = p->start_code, .end_code = p->end_code,
        .start_data = p->start_data, .end_data = p->end_data,
        .start_brk = p->start_brk, .brk = p->brk,
        .start_stack = p->start_stack,
        .arg_start = p->arg_start, .arg_end = p->arg_end,
        .env_start = p->env_start, .env_end = p->env_end,
        .exe_fd = (uint32_t)-1,
    };

    memcpy(auxv, r->img->auxv, n * 2 * sizeof(uint64_t));
    auxv[2 * n] = auxv[2 * n + 1] = 0;
    map.auxv = (__u64 *)auxv;
    map.auxv_size = (n + 1) * 2 * sizeof(uint64_t);
    if (!p->start_code || !p->start_brk) {
        crs_seterr(err, errlen, "the image does not record the program's layout");
        return -ENODATA;
    }
    /* The restart entry applies the same again, with the program file. */
    const uint64_t mm[11] = { map.start_code, map.end_code, map.start_data, map.end_data,
                              map.start_brk, map.brk, map.start_stack, map.arg_start,
                              map.arg_end, map.env_start, map.env_end };
    memcpy(r->plan->mm, mm, sizeof mm);
    memcpy(r->plan->mm_auxv, auxv, (n + 1) * 2 * sizeof(uint64_t));
    r->plan->mm_auxv_words = (n + 1) * 2;
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof map, 0) < 0) {
        int e = errno;
        crs_seterr(err, errlen, "cannot set the program break and argument area: %s", strerror(e));
        return -e;
    }
    return 0;
}
