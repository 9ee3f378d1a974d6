/* snapshot/incr.c - the snapshot child's part of an incremental image: checking that the
 * parent the runtime names is still there and is that image, waiting for the runtime's list
 * of pages not written since the reset, telling the walk which pages are the parent's, and the
 * PARENT and INHERIT sections. Runs in the forked snapshot child: no malloc, no stdio, no
 * locks.
 */
#define _GNU_SOURCE
#include "child_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs an INHERIT section holds, at most: what a reader loads of a section (256 MiB). */
#define INHERIT_CAP (1u << 24)

/* The parent is still the image the runtime wrote: same creation time and table checksum
 * (a file put at its name meanwhile, or a damaged one, makes this image full). */
static int parent_ok(const struct child *c)
{
    const struct crs_snap_track *t = &c->req->track;
    struct crs_img_header h;
    struct crs_img_trailer tr;
    struct stat st;
    int ok = 0;

    int fd = openat(c->req->dir_fd, t->parent_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size >= sizeof h + sizeof tr &&
        pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
        pread(fd, &tr, sizeof tr, st.st_size - (off_t)sizeof tr) == (ssize_t)sizeof tr)
        ok = !memcmp(h.magic, CRS_IMG_MAGIC, sizeof h.magic) &&
             !memcmp(tr.magic, CRS_IMG_TRAILER_MAGIC, sizeof tr.magic) &&
             h.created_ns == t->parent_created && tr.toc_checksum == t->parent_toc &&
             h.seq == t->parent_seq;
    close(fd);
    return ok;
}


void crs_incr_begin(struct child *c)
{
    const struct crs_snap_track *t = &c->req->track;

    c->incr = 0;
    if (!t->incr || c->no_scan || !parent_ok(c) || crs_child_wait_pause(c) < 0)
        return;
    void *m = mmap(NULL, INHERIT_CAP * sizeof(struct crs_img_range), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    c->inh = m;
    c->ninh = 0;
    c->nclean = __atomic_load_n(t->nclean, __ATOMIC_ACQUIRE);
    c->incr = 1;
}

/* Is addr in the ascending, disjoint list l? *at only moves forward: the walk asks in
 * ascending order. */
static int in_list(const struct crs_snap_range *l, uint32_t n, uint32_t *at, uint64_t addr)
{
    while (*at < n && l[*at].end <= addr)
        (*at)++;
    return *at < n && l[*at].start <= addr;
}

int crs_incr_inherits(struct child *c, uint64_t addr)
{
    const struct crs_snap_track *t = &c->req->track;
    return c->incr && in_list(t->clean, c->nclean, &c->at_clean, addr) &&
           !in_list(t->written, t->nwritten, &c->at_written, addr) &&
           !in_list(t->fresh, t->nfresh, &c->at_fresh, addr);
}

int crs_incr_add(struct child *c, const struct crs_img_vma *v, uint64_t addr)
{
    /* a run never spans two regions: a reader checks each lies inside one */
    if (c->ninh && c->inh[c->ninh - 1].end == addr && c->inh[c->ninh - 1].start >= v->start) {
        c->inh[c->ninh - 1].end += CRS_IMG_PAGE_SIZE;
    } else {
        if (c->ninh == INHERIT_CAP) {
            c->stage = "listing the pages left to the parent (too scattered) for";
            return -E2BIG;
        }
        c->inh[c->ninh++] = (struct crs_img_range){ addr, addr + CRS_IMG_PAGE_SIZE };
    }
    c->inherited += CRS_IMG_PAGE_SIZE;
    return 0;
}

/* Whether the area the runtime shares with the child holds addr: never saved. */
int crs_incr_own(const struct child *c, uint64_t addr)
{
    uint64_t a = (uint64_t)(uintptr_t)c->req->track.area;
    return a && addr >= a && addr < a + c->req->track.area_size;
}
