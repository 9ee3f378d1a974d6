/* runtime/track.c - which pages the program wrote between two checkpoints, for incremental
 * images: userfaultfd's asynchronous write protection on the private regions (registered by
 * the coordinator before the stop), PAGEMAP_SCAN to list and reset it once the program runs
 * again, and the choice of a full or an incremental image. docs/ARCHITECTURE.md says why this
 * and not soft-dirty bits, and why the reset comes after the snapshot. All of it runs in the
 * coordinator with libc, never while the threads are parked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include "runtime.h"

/* Defined here because the headers of older systems lack them (Linux 6.7). */
#define T_PAGEMAP_SCAN _IOWR('f', 16, struct t_scan_arg)
#define T_PM_SCAN_WP_MATCHING (1ull << 0)
#define T_PAGE_IS_WPALLOWED (1ull << 0)
#define T_PAGE_IS_WRITTEN (1ull << 1)
#define T_PAGE_IS_PRESENT (1ull << 3)
#define T_PAGE_IS_SWAPPED (1ull << 4)
#define T_UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#define T_UFFD_FEATURE_WP_ASYNC (1ull << 15)
#define T_UFFD_USER_MODE_ONLY 1
struct t_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct t_region {
    uint64_t start, end, categories;
};

#define SCAN_END 0x7ffffffff000ull      /* the top of the user address space (TASK_SIZE_MAX) */
#define VEC_LEN 4096u
#define CAP_WRITTEN (1u << 18)
#define CAP_CLEAN (1u << 18)
#define CAP_FRESH (1u << 14)

/* The shared area: the scan vector, and the lists the child reads. Two written lists: the
 * child of checkpoint N reads the one of the reset after checkpoint N-1 while the reset after
 * its own snapshot fills the other. */
struct area {
    struct t_region vec[VEC_LEN];
    uint32_t nclean;
    uint32_t pad;
    struct crs_snap_range written[2][CAP_WRITTEN];
    struct crs_snap_range clean[CAP_CLEAN];
    struct crs_snap_range fresh[CAP_FRESH];
};

/* Appends [start, end) to an ascending list, clipped to what it already covers (the kernel
 * may report a range twice when its vector fills) and joined to the last one. 0, or -ENOSPC
 * when the list is full. */
static int append(struct crs_snap_range *l, uint32_t *n, uint32_t cap, uint64_t s, uint64_t e)
{
    if (*n && s < l[*n - 1].end)
        s = l[*n - 1].end;
    if (s >= e)
        return 0;
    if (*n && l[*n - 1].end == s) {
        l[*n - 1].end = e;
        return 0;
    }
    if (*n == cap)
        return -ENOSPC;
    l[(*n)++] = (struct crs_snap_range){ s, e };
    return 0;
}

/* One PAGEMAP_SCAN over [start, end) with the given masks; every range goes to the list
 * (when given). Returns 0, -ENOSPC when the list filled (the scan still went to the end, so
 * that a reset covers everything), or -errno. */
static int scan(struct area *a, uint64_t start, uint64_t end, uint64_t flags, uint64_t inverted,
                uint64_t mask, uint64_t anyof, struct crs_snap_range *l, uint32_t *n,
                uint32_t cap)
{
    struct t_scan_arg s;
    int full = 0;
    *n = 0;
    while (start < end) {
        memset(&s, 0, sizeof s);
        s.size = sizeof s;
        s.flags = flags;
        s.start = start;
        s.end = end;
        s.vec = (uint64_t)(uintptr_t)a->vec;
        s.vec_len = VEC_LEN;
        s.category_inverted = inverted;
        s.category_mask = mask;
        s.category_anyof_mask = anyof;
        s.return_mask = T_PAGE_IS_WPALLOWED | T_PAGE_IS_WRITTEN;
        long k = ioctl(crs_state.track.pagemap_fd, T_PAGEMAP_SCAN, &s);
        if (k < 0)
            return -errno;
        for (long i = 0; i < k && !full; i++)
            if (append(l, n, cap, a->vec[i].start, a->vec[i].end))
                full = 1;
        if (s.walk_end <= start || s.walk_end >= end)
            break;
        start = s.walk_end;
    }
    return full ? -ENOSPC : 0;
}

/* Turns tracking off after a failure: the images are full from here on. */
static void track_off(int err, const char *what)
{
    struct crs_track *t = &crs_state.track;
    if (!t->off)
        crs_log(CRS_LOG_INFO, "incremental images off: %s: %s", what, strerror(-err));
    t->off = err;
    t->have_parent = 0;
    t->w_ok = 0;
}

/* The userfaultfd, the page map and the shared area, made once (before the first stop). */
static int track_open(void)
{
    struct crs_track *t = &crs_state.track;
    struct uffdio_api api = { .api = UFFD_API,
                              .features = T_UFFD_FEATURE_WP_ASYNC | T_UFFD_FEATURE_WP_UNPOPULATED };
    void *m;

    if (t->uffd >= 0)
        return 0;
    /* user mode only: what an unprivileged process may have (vm.unprivileged_userfaultfd=0),
     * and all that asynchronous write protection needs */
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | T_UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return -errno;
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!t->area) {
        m = mmap(NULL, sizeof(struct area), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            int e = -errno;
            close(fd);
            close(pm);
            return e;
        }
        /* under mlockall(MCL_FUTURE) it would be locked, and populated, as the program's own
         * memory: it is the library's, and a restore would lock it again */
        munlock(m, sizeof(struct area));
        t->area = m;
        t->area_size = sizeof(struct area);
    }
    t->uffd = crs_fd_high(fd);
    t->pagemap_fd = crs_fd_high(pm);
    return 0;
}

void crs_track_init(void)
{
    struct crs_track *t = &crs_state.track;
    memset(t, 0, sizeof *t);
    t->uffd = t->pagemap_fd = -1;
}

void crs_track_restarted(void)
{
    struct crs_track *t = &crs_state.track;
    /* The descriptors are not restored and the regions are not registered any more; the area
     * came back as an empty shared mapping at its place. The first image is full. */
    t->uffd = t->pagemap_fd = -1;
    t->off = 0;
    t->have_parent = 0;
    t->w_ok = 0;
}

int crs_track_fds(int *out)
{
    struct crs_track *t = &crs_state.track;
    int n = 0;
    if (t->uffd >= 0)
        out[n++] = t->uffd;
    if (t->pagemap_fd >= 0)
        out[n++] = t->pagemap_fd;
    return n;
}

static int register_new(struct crs_snap_range *fresh, uint32_t *nfresh);

/* Lists the pages written since the last reset and protects them again (one PAGEMAP_SCAN
 * with PM_SCAN_WP_MATCHING), into the written list w. 0, -ENOSPC when they do not fit (the
 * reset still covered everything), or -errno. */
static int reset(int w, uint32_t *n)
{
    struct crs_track *t = &crs_state.track;
    /* Populated pages only: to the kernel a hole of a registered region is written, and
     * matching it would protect it with a marker, which takes page tables for the whole hole
     * (terabytes for a sanitizer's shadow, a sparse heap's reservation). A page faulted into a
     * hole later is not protected, so it is written, as it must be. */
    return scan(t->area, 0, SCAN_END, T_PM_SCAN_WP_MATCHING, 0, T_PAGE_IS_WRITTEN,
                T_PAGE_IS_PRESENT | T_PAGE_IS_SWAPPED, ((struct area *)t->area)->written[w], n,
                CAP_WRITTEN);
}

/* Before the stop, the program running: new regions registered; full or incremental chosen.
 * An incremental image N saves what was written from its parent's snapshot to its own: the
 * pages the reset after the parent's snapshot listed (written before that reset) and those not
 * protected any more once this snapshot is taken (written after it). */
void crs_track_plan(struct crs_snap_request *req, int explicit_path)
{
    struct crs_track *t = &crs_state.track;
    struct crs_snap_track *q = &req->track;
    int r;

    memset(q, 0, sizeof *q);
    if (crs_state.cfg.full_every == 1 || t->off)
        return;                         /* always full: no tracking at all */
    /* A job's images are full: each process's goes to its place in the job's image, where no
     * chain is kept. Nothing is tracked for them (what is registered already stays so, and
     * costs a fault at the first write to a page, no more). */
    if (req->ntree || req->leader_fd >= 0)
        return;
    if ((r = track_open()) < 0) {
        track_off(r, "userfaultfd with asynchronous write protection");
        return;
    }
    struct area *a = t->area;
    q->area = t->area;
    q->area_size = t->area_size;
    q->clean = a->clean;
    q->nclean = &a->nclean;
    /* Regions mapped since the last checkpoint: tracked from now on, and saved whole in this
     * image. */
    int fresh_full = register_new(a->fresh, &q->nfresh) < 0;
    q->fresh = a->fresh;
    q->incr = t->have_parent && t->w_ok && !explicit_path && !fresh_full &&
              t->depth + 1 < (uint32_t)crs_state.cfg.full_every;
    /* whatever happens next, the previous image is no parent any more, and the last reset's
     * list is for this image only: a later image needs the reset after this snapshot */
    t->have_parent = 0;
    t->w_ok = 0;
    if (!q->incr)
        return;
    q->written = a->written[t->w_cur];
    q->nwritten = t->nw;
    q->depth = t->depth + 1;
    snprintf(q->parent_name, sizeof q->parent_name, "%s", t->parent_name);
    q->parent_toc = t->parent_toc;
    q->parent_created = t->parent_created;
    q->parent_seq = t->parent_seq;
}

/* Threads running again, before the pause goes to the child: the pages still protected, which
 * the child may leave to the parent when the last reset did not list them either. A page
 * written since the snapshot is not among them, which only makes the image save more. */
void crs_track_after_release(struct crs_snap_request *req)
{
    struct crs_track *t = &crs_state.track;
    struct area *a = t->area;
    uint32_t n = 0;

    if (!a)
        return;
    a->nclean = 0;
    if (!req->track.incr)
        return;
    int r = scan(a, 0, SCAN_END, 0, T_PAGE_IS_WRITTEN, T_PAGE_IS_WPALLOWED | T_PAGE_IS_WRITTEN,
                 T_PAGE_IS_PRESENT | T_PAGE_IS_SWAPPED, a->clean, &n, CAP_CLEAN);
    if (r < 0 && r != -ENOSPC)
        n = 0;                          /* nothing known clean: every page is saved */
    __atomic_store_n(&a->nclean, n, __ATOMIC_RELEASE);
}

/* The child has its lists; the program runs. The reset: the pages written since the last one
 * are listed, for the next image, and protected again. Here and not in the pause, where it
 * was first: re-protecting scattered pages costs a TLB flush per 2 MiB block that holds any
 * (0.3 to 0.5 s for 10,000 pages spread over 4 GiB on a loaded 2-core machine). A page written
 * between the snapshot and this reset is in both this image and the next, never in neither;
 * one written as the kernel protects it was writable before, so it is listed. */
void crs_track_reset(const struct crs_snap_request *req)
{
    struct crs_track *t = &crs_state.track;
    uint32_t n = 0;
    int r;

    if (t->uffd < 0 || t->off || !req->track.area)
        return;
    int w = !t->w_cur;                  /* the child may be reading the other */
    if (crs_state.cfg.hooks.reset_delay_ms)
        usleep(crs_state.cfg.hooks.reset_delay_ms * 1000u);
    uint64_t t0 = crs_now_ns(CLOCK_MONOTONIC);
    if ((r = reset(w, &n)) < 0 && r != -ENOSPC) {
        track_off(r, "resetting the written pages");
        return;
    }
    crs_log(CRS_LOG_DEBUG, "written pages listed and reset after the snapshot: %llu us, %u runs",
            (unsigned long long)((crs_now_ns(CLOCK_MONOTONIC) - t0) / 1000), n);
    t->w_cur = w;
    t->nw = n;
    t->w_ok = r == 0;                   /* too scattered to list: the next image is full */
}

/* A region of /proc/self/maps worth tracking: private, not the kernel's special mappings, not
 * crsnap's own memory. */
static int trackable(uint64_t s, uint64_t e, const char *perms, const char *name)
{
    const struct crs_track *t = &crs_state.track;
    uint64_t sc = (uint64_t)(uintptr_t)crs_state.scratch;
    if (perms[3] != 'p' || !strncmp(name, "[v", 2))
        return 0;
    if (s < sc + crs_state.scratch_size && e > sc)
        return 0;
    uint64_t ar = (uint64_t)(uintptr_t)t->area;
    return !(s < ar + t->area_size && e > ar);
}

/* Is the region [s, e) registered with our userfaultfd already? */
static int registered(struct area *a, uint64_t s, uint64_t e)
{
    struct t_scan_arg q = { .size = sizeof q, .start = s, .end = e,
                            .vec = (uint64_t)(uintptr_t)a->vec, .vec_len = 1,
                            .return_mask = T_PAGE_IS_WPALLOWED };
    return ioctl(crs_state.track.pagemap_fd, T_PAGEMAP_SCAN, &q) > 0 &&
           (a->vec[0].categories & T_PAGE_IS_WPALLOWED);
}

/* Before the stop: register the private regions not tracked yet and protect their
 * populated pages (a walk that costs, kept out of the pause). Their writes before this were
 * not seen, so this image saves them whole: they are listed in fresh. -ENOSPC when fresh is
 * full (this image is then full). */
static int register_new(struct crs_snap_range *fresh, uint32_t *nfresh)
{
    struct crs_track *t = &crs_state.track;
    struct area *a = t->area;
    char line[4096 + 128];
    int full = 0;

    *nfresh = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        unsigned long long s, e;
        char perms[5] = "", name[256] = "";
        if (sscanf(line, "%llx-%llx %4s %*s %*s %*s %255s", &s, &e, perms, name) < 3 ||
            !trackable(s, e, perms, name) || registered(a, s, e))
            continue;
        struct uffdio_register reg = { .range = { s, e - s }, .mode = UFFDIO_REGISTER_MODE_WP };
        if (ioctl(t->uffd, UFFDIO_REGISTER, &reg) < 0)
            continue;                   /* not for us (the program's own userfaultfd...):
                                         * untracked, saved whole every time */
        /* protect what is populated; a page faulted in later is written by definition */
        uint32_t np = 0;
        struct crs_snap_range *tmp = a->clean; /* free until the release */
        scan(a, s, e, 0, 0, 0, T_PAGE_IS_PRESENT | T_PAGE_IS_SWAPPED, tmp, &np, CAP_CLEAN);
        for (uint32_t i = 0; i < np; i++) {
            struct uffdio_writeprotect wp = {
                .range = { tmp[i].start, tmp[i].end - tmp[i].start },
                .mode = UFFDIO_WRITEPROTECT_MODE_WP };
            ioctl(t->uffd, UFFDIO_WRITEPROTECT, &wp);
        }
        if (append(fresh, nfresh, CAP_FRESH, s, e))
            full = 1;
    }
    fclose(f);
    return full ? -ENOSPC : 0;
}

void crs_track_result(const struct crs_snap_request *req, const struct crs_snap_report *rep,
                      int ok)
{
    struct crs_track *t = &crs_state.track;
    const char *base;

    if (!ok || !req->dir[0] || t->uffd < 0 || t->off)
        return;                         /* have_parent stays 0: the next one is full */
    base = strrchr(rep->path, '/');
    base = base ? base + 1 : rep->path;
    size_t n = strlen(base);
    if (n >= sizeof t->parent_name)
        return;
    memcpy(t->parent_name, base, n + 1);
    t->parent_toc = rep->toc_checksum;
    t->parent_created = req->created_ns;
    t->parent_seq = rep->seq;
    t->depth = rep->depth;
    t->have_parent = 1;
}
