/* snapshot/release.c - which of the memory it has written the snapshot child gives back as the
 * page walk goes, and giving it back (munmap behind the walk, sparing what the child itself
 * still reads). Runs in the forked snapshot child: no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include "child_internal.h"

#include <sys/mman.h>

/* Written memory is given back in steps of this much, aligned, so that a transparent huge page
 * is unmapped whole rather than split. Each munmap flushes the TLB against the program's own
 * write faults on the same pages: against 2 MiB steps, 16 MiB ones let a program rewriting
 * 1-2 GiB during the write run 1.2-1.3 x faster, and the child too, with lower peaks (bench/). */
#define RELEASE_STEP (16ull << 20)
/* Smaller anonymous regions are not released: the dynamic linker keeps its link maps and
 * scopes in small ones, and a lazily bound call made after the page data would read them. */
#define RELEASE_MIN (1ull << 20)

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
 * the ranges the child still reads after the page data are kept: its own stack and TLS, the
 * request and the thread records it points to, the scratch, and the argument and environment
 * strings. */
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

void crs_release_plan(struct child *c)
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

int crs_releasable(const struct child *c, const struct crs_img_vma *v)
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
void crs_release_to(struct child *c, uint64_t upto, int all)
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
