/* snapshot/walk.c - the page walk of the snapshot child: for each region, which pages to save
 * (PAGEMAP_SCAN, else pagemap or mincore), zero pages elided, the rest copied out in runs that
 * become the chunks of the pages section. Runs in the forked snapshot child: no malloc, no
 * stdio, no locks.
 */
#define _GNU_SOURCE
#include "child_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* PAGEMAP_SCAN (Linux 6.7): populated ranges without a walk over every page table entry, which
 * matters for huge sparse reservations. Defined here because older headers lack it. */
#define CRS_PAGEMAP_SCAN _IOWR('f', 16, struct crs_pm_scan_arg)
#define CRS_PAGE_IS_FILE (1ull << 2)
#define CRS_PAGE_IS_PRESENT (1ull << 3)
#define CRS_PAGE_IS_SWAPPED (1ull << 4)
#define CRS_PAGE_IS_PFNZERO (1ull << 5)
#define CRS_PAGE_IS_GUARD (1ull << 8)
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
#define PM_GUARD (1ull << 58)           /* a guard page (Linux 6.15) */

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

static int flush_run(struct child *c)
{
    struct job *j;
    size_t raw = (size_t)c->run_pages * CRS_IMG_PAGE_SIZE;
    int r;

    if (!c->run_pages)
        return 0;
    if ((r = crs_pool_job_for(c, raw, &j)))
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
    crs_release_to(c, ch->addr + raw, 0);
    /* keep the writer streaming: whatever is finished goes out now */
    return crs_pool_retire_done(c);
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

/* A run of guard pages of the region being walked, joined to the run before when it follows it
 * in the same region. */
static int add_guard(struct child *c, uint64_t start, uint64_t end)
{
    if (c->nguards > c->guard_first && c->guards[c->nguards - 1].end == start) {
        c->guards[c->nguards - 1].end = end;
        return 0;
    }
    if (c->nguards == CRS_IMG_GUARD_RECORDS) {
        c->stage = "recording the guard pages (more runs than an image holds) for";
        return -E2BIG;
    }
    c->guards[c->nguards++] = (struct crs_img_guard){ start, end };
    return 0;
}

/* A PAGEMAP_SCAN request for [start, end) into vec (the walker's page buffer, c->pm); the
 * caller sets the masks. */
static void scan_arg(struct crs_pm_scan_arg *a, uint64_t start, uint64_t end,
                     struct crs_page_region *vec)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->start = start;
    a->end = end;
    a->vec = (uint64_t)(uintptr_t)vec;
    a->vec_len = BATCH * 8 / sizeof *vec;
}

/* Guard pages (MADV_GUARD_INSTALL) fault when touched and hold nothing: the walk must not read
 * them, and the image lists them so that a restore installs them again. A fork copies them, so
 * the child's own page map shows them: PAGEMAP_SCAN's PAGE_IS_GUARD, else pagemap's bit 58.
 * Only regions the kernel marks as possibly holding some (smaps "gu") are looked at; the flag
 * stays on those that have some. */
static int find_guards(struct child *c, struct crs_img_vma *v)
{
    struct crs_page_region *vec = (struct crs_page_region *)c->pm;
    struct crs_pm_scan_arg a;
    uint64_t at = v->start;
    int r;

    c->guard_first = c->guard_at = c->nguards;
    if (!(v->flags & CRS_VMA_F_GUARDS))
        return 0;
    while (!c->no_scan && at < v->end) {
        scan_arg(&a, at, v->end, vec);
        a.category_mask = CRS_PAGE_IS_GUARD;
        a.return_mask = CRS_PAGE_IS_GUARD;
        long n = ioctl(c->pagemap_fd, CRS_PAGEMAP_SCAN, &a);
        if (n < 0 && at == v->start && (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP))
            break;                      /* no such ioctl, or no PAGE_IS_GUARD: read pagemap */
        if (n < 0) {
            c->stage = "scanning the page map for guard pages of";
            return -errno;
        }
        for (long i = 0; i < n; i++)
            if ((r = add_guard(c, vec[i].start, vec[i].end)))
                return r;
        if (a.walk_end <= at)
            break;
        at = a.walk_end;
    }
    for (; at < v->end; at += (uint64_t)BATCH * CRS_IMG_PAGE_SIZE) {
        uint64_t k = (v->end - at) / CRS_IMG_PAGE_SIZE;
        if (k > BATCH)
            k = BATCH;
        ssize_t n = pread(c->pagemap_fd, c->pm, k * 8, (off_t)(at / CRS_IMG_PAGE_SIZE * 8));
        if (n != (ssize_t)(k * 8)) {
            c->stage = "reading the page map for guard pages of";
            return n < 0 ? -errno : -EIO;
        }
        for (uint64_t i = 0; i < k; i++)
            if ((c->pm[i] & PM_GUARD) &&
                (r = add_guard(c, at + i * CRS_IMG_PAGE_SIZE, at + (i + 1) * CRS_IMG_PAGE_SIZE)))
                return r;
    }
    if (c->nguards == c->guard_first)
        v->flags &= ~CRS_VMA_F_GUARDS;
    return 0;
}

/* Is addr a guard page of the region being walked? (The walk goes up through it.) */
static int in_guard(struct child *c, uint64_t addr)
{
    while (c->guard_at < c->nguards && c->guards[c->guard_at].end <= addr)
        c->guard_at++;
    return c->guard_at < c->nguards && c->guards[c->guard_at].start <= addr;
}

enum { SAVE_NONE, SAVE_ANON, SAVE_DIRTY, SAVE_RESIDENT, SAVE_ALL };

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
        if (v->flags & CRS_VMA_F_SHMOBJ)
            return SAVE_RESIDENT;       /* a /dev/shm object: in memory only */
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
    if ((addr >= s0 && addr < s1) || crs_incr_own(c, addr))
        return 0;
    if ((v->flags & CRS_VMA_F_GUARDS) && in_guard(c, addr))
        return 0;                       /* it would fault, and holds nothing */
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
        scan_arg(&a, at, v->end, vec);
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
                /* not written since the parent: the parent has it (a page discarded since
                 * is not populated, and a zero page read in since is the zero page) */
                if (crs_incr_inherits(c, p)) {
                    if ((r = crs_incr_add(c, v, p)))
                        return r;
                    continue;
                }
                if ((r = save_page(c, v, p, readable)))
                    return r;
            }
        }
        if (a.walk_end <= at)
            break;
        at = a.walk_end;
        crs_release_to(c, at, 0);
    }
    return 0;
}

/* Page tables of shared and untouched file mappings are not copied by fork, so the child's
 * pagemap cannot tell what is populated there: mincore asks the page cache instead. */
int crs_walk_region(struct child *c, struct crs_img_vma *v)
{
    int mode = save_mode(v);
    uint32_t saved_before = c->nchunks;
    uint64_t bytes_before = c->proc.memory_saved + (uint64_t)c->run_pages * CRS_IMG_PAGE_SIZE;
    uint64_t inherited_before = c->inherited;
    int readable = (v->prot & PROT_READ) != 0;
    int use_pm = mode == SAVE_ANON || mode == SAVE_DIRTY;
    int use_mc = mode == SAVE_RESIDENT;
    int r;

    if ((r = find_guards(c, v)))
        return r;
    if (mode == SAVE_NONE)
        return 0;
    c->rel_v = crs_releasable(c, v) ? v : NULL;
    c->rel_lo = v->start;
    if (mode == SAVE_ALL) {
        for (uint64_t a = v->start; a < v->end; a += CRS_IMG_PAGE_SIZE) {
            if (!readable && mprotect((void *)(uintptr_t)v->start, v->end - v->start,
                                      (int)(v->prot | PROT_READ)) == 0)
                readable = 1;
            if ((v->flags & CRS_VMA_F_GUARDS) && in_guard(c, a))
                continue;
            if (!readable || crs_child_probe_page(a) < 0)
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
        crs_release_to(c, a + k * CRS_IMG_PAGE_SIZE, 0);
    }
done:
    if ((r = flush_run(c)))
        return r;
    crs_release_to(c, v->end, 1);
    c->rel_v = NULL;
    if (c->nchunks != saved_before || c->proc.memory_saved != bytes_before ||
        c->inherited != inherited_before)
        v->flags |= CRS_VMA_F_SAVED;
    return 0;
}
