/* restore/lazy_helper.c - the helper of a lazy restore: a process of its own (forked by
 * restore_lazy.c before the regions were mapped) that holds the image and the userfaultfd of
 * the restored process. It serves each fault with the chunk that holds the page (a page in no
 * chunk was zero: a zero page), and between faults copies the chunks in, hot pages first. The
 * program's fork gives it the child's userfaultfd, filled the same way; mremap moves what is
 * still to come, madvise(DONTNEED) and munmap drop it (such pages are zero, or gone). When
 * every chunk is in everywhere it unregisters the regions and exits 0. Ordinary libc code, one
 * thread: events, faults and copies never race with one another here.
 */
#define _GNU_SOURCE
#include "restore.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE CRS_IMG_PAGE_SIZE
#define MAX_CTX 64
#define HOT_BYTES (64u << 10)   /* around each saved sp */
#define QUIET_MS 3              /* without a fault for that long, copying ahead goes on */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* [cur, end) holds, still to come, the image's pages from img on. */
struct range {
    uint64_t cur, end, img;
};

struct list {
    struct range *v;
    size_t n, cap;
};

/* One address space served: the restored process, or a child it forked meanwhile. */
struct ctx {
    int fd;
    struct list todo;           /* what is still to come from the image */
    struct list reg;            /* registered, to unregister at the end (the process only) */
    uint8_t *done;              /* per chunk */
    uint32_t next;              /* first chunk not yet looked at by the background fill */
    uint64_t *faults;           /* faults read while an event was pending, served next */
    size_t nfaults, capfaults;
};

struct helper {
    struct crs_restore *r;
    struct ctx ctx[MAX_CTX];
    int nctx;
    char *buf;                  /* one chunk, decompressed */
    char err[256];
};

static __attribute__((noreturn)) void fatal(struct helper *h, const char *what, int e)
{
    fprintf(stderr, "crsnap restore: lazy helper: %s%s%s\n", what, e ? ": " : "",
            e ? strerror(e) : "");
    (void)h;
    _exit(2);
}

static void list_add(struct helper *h, struct list *l, struct range x)
{
    if (x.end <= x.cur)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct range *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            fatal(h, "out of memory", 0);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

/* [a, b) no longer in l (madvise, munmap); when to is set, moved there instead (mremap). */
static void list_cut(struct helper *h, struct list *l, uint64_t a, uint64_t b, int move,
                     uint64_t to)
{
    size_t n = l->n;
    for (size_t i = 0; i < n; i++) {
        struct range x = l->v[i];
        if (x.end <= a || x.cur >= b)
            continue;
        uint64_t lo = x.cur > a ? x.cur : a, hi = x.end < b ? x.end : b;
        l->v[i].end = l->v[i].cur;      /* emptied; the parts that stay are added back */
        list_add(h, l, (struct range){ x.cur, lo, x.img });
        list_add(h, l, (struct range){ hi, x.end, x.img + (hi - x.cur) });
        if (move)
            list_add(h, l, (struct range){ lo - a + to, hi - a + to, x.img + (lo - x.cur) });
    }
    size_t k = 0;                       /* drop the emptied ones */
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].end > l->v[i].cur)
            l->v[k++] = l->v[i];
    l->n = k;
}

static void copy_list(struct helper *h, struct list *to, const struct list *from)
{
    for (size_t i = 0; i < from->n; i++)
        list_add(h, to, from->v[i]);
}

static int add_ctx(struct helper *h, int fd, const struct ctx *parent)
{
    if (h->nctx == MAX_CTX)
        fatal(h, "too many processes forked during the lazy phase", 0);
    struct ctx *c = &h->ctx[h->nctx];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->done = calloc(h->r->nidx ? h->r->nidx : 1, 1);
    if (!c->done)
        fatal(h, "out of memory", 0);
    if (parent)
        copy_list(h, &c->todo, &parent->todo);
    return h->nctx++;
}

static void queue_fault(struct helper *h, struct ctx *c, uint64_t addr)
{
    if (c->nfaults == c->capfaults) {
        size_t cap = c->capfaults ? 2 * c->capfaults : 64;
        uint64_t *v = realloc(c->faults, cap * sizeof *v);
        if (!v)
            fatal(h, "out of memory", 0);
        c->faults = v;
        c->capfaults = cap;
    }
    c->faults[c->nfaults++] = addr;
}

/* A context whose process is gone: nothing more to do for it. */
static void drop_ctx(struct ctx *c)
{
    c->todo.n = 0;
    c->nfaults = 0;
    c->next = UINT32_MAX;
}

/* Reads what the kernel has for context i: events are applied at once, faults queued. */
static void read_msgs(struct helper *h, int i)
{
    struct uffd_msg m[16];
    for (;;) {
        struct ctx *c = &h->ctx[i];
        ssize_t n = read(c->fd, m, sizeof m);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                drop_ctx(c);
            return;
        }
        if (n == 0) {
            drop_ctx(c);
            return;
        }
        for (size_t k = 0; k < (size_t)n / sizeof m[0]; k++) {
            c = &h->ctx[i];         /* add_ctx may not move it, but stay plain */
            switch (m[k].event) {
            case UFFD_EVENT_PAGEFAULT:
                queue_fault(h, c, m[k].arg.pagefault.address & ~(uint64_t)(PAGE - 1));
                break;
            case UFFD_EVENT_FORK:
                add_ctx(h, (int)m[k].arg.fork.ufd, c);
                break;
            case UFFD_EVENT_REMAP:
                list_cut(h, &c->todo, m[k].arg.remap.from, m[k].arg.remap.from +
                         m[k].arg.remap.len, 1, m[k].arg.remap.to);
                list_cut(h, &c->reg, m[k].arg.remap.from, m[k].arg.remap.from +
                         m[k].arg.remap.len, 1, m[k].arg.remap.to);
                break;
            case UFFD_EVENT_REMOVE:
                list_cut(h, &c->todo, m[k].arg.remove.start, m[k].arg.remove.end, 0, 0);
                break;
            case UFFD_EVENT_UNMAP:
                list_cut(h, &c->todo, m[k].arg.remove.start, m[k].arg.remove.end, 0, 0);
                list_cut(h, &c->reg, m[k].arg.remove.start, m[k].arg.remove.end, 0, 0);
                break;
            }
        }
    }
}

/* Where image page a is now in context c, or 0 when it is no longer to come. */
static uint64_t where(const struct ctx *c, uint64_t a)
{
    for (size_t i = 0; i < c->todo.n; i++) {
        const struct range *x = &c->todo.v[i];
        if (a >= x->img && a - x->img < x->end - x->cur)
            return x->cur + (a - x->img);
    }
    return 0;
}

/* The image page that address a of context c holds, or 0. */
static uint64_t image_page(const struct ctx *c, uint64_t a)
{
    for (size_t i = 0; i < c->todo.n; i++) {
        const struct range *x = &c->todo.v[i];
        if (a >= x->cur && a < x->end)
            return x->img + (a - x->cur);
    }
    return 0;
}

/* One ioctl until it is done with [dst, dst+len): pages there already are left as they are;
 * an event pending makes it read the events and retry. 0, or 1 when the context is gone. */
static int place(struct helper *h, int ci, uint64_t dst, const char *src, uint64_t len, int zero)
{
    uint64_t off = 0;
    while (off < len) {
        struct ctx *c = &h->ctx[ci];
        long done;
        int rc;
        if (zero) {
            struct uffdio_zeropage z = { .range = { dst + off, len - off } };
            rc = ioctl(c->fd, UFFDIO_ZEROPAGE, &z);
            done = (long)z.zeropage;
        } else {
            struct uffdio_copy cp = { .dst = dst + off, .src = (uint64_t)(uintptr_t)(src + off),
                                      .len = len - off };
            rc = ioctl(c->fd, UFFDIO_COPY, &cp);
            done = (long)cp.copy;
        }
        if (rc == 0)
            return 0;
        if (done > 0) {
            off += (uint64_t)done;
            continue;
        }
        int e = done < 0 ? (int)-done : errno;
        if (e == EEXIST) {
            off += PAGE;
        } else if (e == EAGAIN) {
            read_msgs(h, ci);       /* the layout is changing: the caller looks again */
            return -EAGAIN;
        } else if (e == ESRCH) {
            drop_ctx(c);
            return 1;
        } else if (e == ENOENT || e == EINVAL || e == EFAULT) {
            return 0;               /* no longer a registered region there */
        } else {
            fatal(h, "cannot place a page", e);
        }
    }
    return 0;
}

/* Copies chunk k into context ci wherever its pages are still to come. Read through the
 * window when filling in order, on its own for a fault (anywhere in the file). */
static void fill_chunk(struct helper *h, int ci, uint32_t k, struct crs_read_window *win)
{
    struct crs_restore *r = h->r;
    uint64_t base = r->idx[k].addr, n = r->idx[k].npages;
    struct crs_chunk_iter it;

    if (h->ctx[ci].done[k])
        return;
    if (crs_restore_lazy_chunk(r, k, win, &it, h->err, sizeof h->err) ||
        crs_image_read_chunk_r(r->img, &r->rd[0], &it, h->buf, n * PAGE, h->err, sizeof h->err))
        fatal(h, h->err, 0);
    for (;;) {
        int again = 0;
        for (uint64_t p = 0; p < n && !again;) {
            struct ctx *c = &h->ctx[ci];
            uint64_t at = where(c, base + p * PAGE), q = p + 1;
            if (!at) {
                p++;
                continue;
            }
            while (q < n && where(c, base + q * PAGE) == at + (q - p) * PAGE)
                q++;
            int rc = place(h, ci, at, h->buf + p * PAGE, (q - p) * PAGE, 0);
            if (rc == 1)
                return;
            again = rc == -EAGAIN;
            p = q;
        }
        if (!again)
            break;
    }
    h->ctx[ci].done[k] = 1;
}

/* The chunk holding image page a, or -1 (a page that was zero). */
static long chunk_of(const struct crs_restore *r, uint64_t a)
{
    uint32_t lo = 0, hi = r->nidx;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct crs_img_pageidx *c = &r->idx[mid];
        if (a < c->addr)
            hi = mid;
        else if (a >= c->addr + (uint64_t)c->npages * PAGE)
            lo = mid + 1;
        else
            return mid;
    }
    return -1;
}

static void serve(struct helper *h, int ci, uint64_t addr)
{
    struct ctx *c = &h->ctx[ci];
    uint64_t a = image_page(c, addr);
    long k = a ? chunk_of(h->r, a) : -1;

    if (k >= 0 && !c->done[k] && crs_restore_lazy_chunk_lazy(h->r, (uint32_t)k)) {
        fill_chunk(h, ci, (uint32_t)k, NULL);
    } else {
        /* zero, or no longer the image's: a zero page, unless one is there already */
        while (place(h, ci, addr, NULL, PAGE, 1) == -EAGAIN) {}
    }
    c = &h->ctx[ci];
    struct uffdio_range w = { addr, PAGE };
    ioctl(c->fd, UFFDIO_WAKE, &w);
}

/* Serves every fault waiting, in every context; waits up to ms for one first. Returns how
 * many it served. */
static int serve_all(struct helper *h, int ms)
{
    int served = 0;
    struct pollfd p[MAX_CTX];
    int n = h->nctx;

    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){ .fd = h->ctx[i].next == UINT32_MAX ? -1 : h->ctx[i].fd,
                                .events = POLLIN };
    if (poll(p, (nfds_t)n, ms) > 0)
        for (int i = 0; i < n; i++)
            if (p[i].revents)
                read_msgs(h, i);
    for (int i = 0; i < h->nctx; i++)
        while (h->ctx[i].nfaults) {
            uint64_t a = h->ctx[i].faults[--h->ctx[i].nfaults];
            serve(h, i, a);
            served++;
        }
    return served;
}

/* Next chunk to fill for context ci: the hot ones first (for the process), then in order. */
static long next_chunk(struct helper *h, int ci, const uint32_t *hot, uint32_t nhot,
                       uint32_t *hot_at)
{
    struct ctx *c = &h->ctx[ci];
    const struct crs_restore *r = h->r;

    while (ci == 0 && *hot_at < nhot) {
        uint32_t k = hot[(*hot_at)++];
        if (!c->done[k])
            return k;
    }
    while (c->next < r->nidx && (c->done[c->next] || !crs_restore_lazy_chunk_lazy(r, c->next)))
        c->next++;
    return c->next < r->nidx ? (long)c->next : -1;
}

/* The chunks near each thread's saved sp, and the restart stack and plan: the first the
 * process touches once it runs. */
static uint32_t hot_chunks(struct crs_restore *r, uint32_t *hot, uint32_t max)
{
    uint32_t n = 0;
    uint64_t at[CRS_PLAN_MAX_THREADS + 2];
    uint32_t nat = 0;

    at[nat++] = r->img->process.restart.stack_top;
    at[nat++] = r->img->process.restart.plan_addr;
    for (uint32_t t = 0; t < r->img->nthreads && nat < CRS_PLAN_MAX_THREADS + 2; t++)
        at[nat++] = r->img->threads[t].ctx.rsp;
    for (uint32_t i = 0; i < nat; i++)
        for (uint64_t a = at[i] - HOT_BYTES; a < at[i] + HOT_BYTES && n < max; a += PAGE) {
            long k = chunk_of(r, a & ~(uint64_t)(PAGE - 1));
            if (k >= 0 && crs_restore_lazy_chunk_lazy(r, (uint32_t)k) &&
                (n == 0 || hot[n - 1] != (uint32_t)k))
                hot[n++] = (uint32_t)k;
        }
    return n;
}

void crs_lazy_helper(struct crs_restore *r, int gofd)
{
    struct helper h = { .r = r };
    char go = 0;
    uint32_t hot[1024], nhot, hot_at = 0;

    if (r->opts.lazy_pidfile) {
        FILE *f = fopen(r->opts.lazy_pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    while (read(gofd, &go, 1) < 0 && errno == EINTR) {}
    close(gofd);
    if (go != 1)
        _exit(0);               /* the restore stopped before the regions were registered */
    h.buf = malloc((size_t)CRS_IMG_CHUNK_MAX_PAGES * PAGE);
    if (!h.buf)
        fatal(&h, "out of memory", 0);
    add_ctx(&h, r->uffd, NULL);
    for (uint32_t i = 0; i < r->img->nvmas; i++) {
        const struct crs_img_vma *v = &r->img->vmas[i];
        if (crs_restore_lazy_region(r, v)) {
            list_add(&h, &h.ctx[0].todo, (struct range){ v->start, v->end, v->start });
            list_add(&h, &h.ctx[0].reg, (struct range){ v->start, v->end, v->start });
        }
    }
    nhot = hot_chunks(r, hot, sizeof hot / sizeof hot[0]);
    uint64_t last_fault = 0;
    for (int unregistered = 0;;) {
        int busy = 0;
        if (serve_all(&h, 0))
            last_fault = now_ms();
        if (h.ctx[0].next == UINT32_MAX)
            _exit(0);           /* the process is gone */
        /* Faults come in bursts (the process starting, a new phase of it): while one lasts,
         * each waits for no chunk being copied in ahead of time; the copying resumes once the
         * process has gone QUIET_MS without a fault. */
        if (last_fault && now_ms() - last_fault < QUIET_MS) {
            if (serve_all(&h, (int)(QUIET_MS - (now_ms() - last_fault))))
                last_fault = now_ms();
            continue;
        }
        for (int i = 0; i < h.nctx; i++) {
            if (h.ctx[i].next == UINT32_MAX)
                continue;
            long k = r->opts.lazy_no_prefetch ? -1 : next_chunk(&h, i, hot, nhot, &hot_at);
            if (k >= 0) {
                fill_chunk(&h, i, (uint32_t)k, &r->rd[0].win);
                busy = 1;
                serve_all(&h, 0);
            }
        }
        if (busy)
            continue;
        if (r->opts.lazy_no_prefetch) {
            serve_all(&h, -1);  /* test hook: faults only, until killed */
            continue;
        }
        if (unregistered) {
            int before = h.nctx;
            serve_all(&h, 0);   /* a fork that began before the unregistering */
            if (h.nctx == before)
                break;
            continue;
        }
        /* Every page is in: the regions go back to ordinary memory (a page the program drops
         * later is zero when touched again, as without userfaultfd). An event already raised
         * (a fork) is read once more after this; the children's contexts end with this
         * process, once they are filled. */
        for (size_t i = 0; i < h.ctx[0].reg.n; i++) {
            struct uffdio_range rg = { h.ctx[0].reg.v[i].cur,
                                       h.ctx[0].reg.v[i].end - h.ctx[0].reg.v[i].cur };
            ioctl(h.ctx[0].fd, UFFDIO_UNREGISTER, &rg);
        }
        unregistered = 1;
    }
    _exit(0);
}
