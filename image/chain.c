/* image/chain.c - incremental images: their PARENT and INHERIT sections, validated at open;
 * the chain of parents opened and checked (found by name next to the image, identity by
 * checksum, depth strictly falling to a full image); which pages each ancestor gives.
 * Ordinary libc code (the reader), never in the snapshot child.
 */
#define _GNU_SOURCE
#include "reader_internal.h"
#include "common/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kinds whose pages a chain may leave to the parent: those the writer tracks. */
static int inheritable(const struct crs_img_vma *v)
{
    return (v->kind == CRS_VMA_ANON || v->kind == CRS_VMA_HEAP || v->kind == CRS_VMA_STACK ||
            v->kind == CRS_VMA_FILE_PRIVATE) && (v->flags & CRS_VMA_F_SAVED) &&
           !(v->flags & CRS_VMA_F_DELETED);
}

int crs_reader_load_chain(struct crs_image *img, const struct crs_img_toc_entry *parent,
                          const struct crs_img_toc_entry *inherit, char *err, size_t errlen)
{
    void *p;
    int r;

    if ((img->header.version == CRS_IMG_VERSION_INCR) != (parent != NULL)) {
        crs_seterr(err, errlen, parent ? "damaged: a parent section in a full (version %u) image"
                                       : "damaged: an incremental (version %u) image without "
                                         "its parent section", img->header.version);
        return -EBADMSG;
    }
    if (!parent) {
        if (inherit) {
            crs_seterr(err, errlen, "damaged: inherited pages in an image without a parent");
            return -EBADMSG;
        }
        return 0;
    }
    if ((r = crs_reader_need_count(parent, sizeof *img->parent, err, errlen)) ||
        parent->count != 1)
        return r ? r : (crs_seterr(err, errlen, "damaged parent section"), -EBADMSG);
    if ((r = crs_reader_load_section(img, parent, &p, err, errlen)))
        return r;
    img->parent = crs_reader_keep(img, p);
    img->parent_name = crs_image_string(img, img->parent->name);
    const char *n = img->parent_name;
    if (!n || !n[0] || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..") ||
        img->parent->depth < 1 || img->parent->depth > CRS_IMG_MAX_CHAIN) {
        crs_seterr(err, errlen, "damaged parent section: %s", !n || !n[0] || strchr(n, '/') ||
                   !strcmp(n, ".") || !strcmp(n, "..") ? "not a file name"
                   : "chain depth out of range (1 to 64)");
        return -EBADMSG;
    }
    if (!inherit)
        return 0;
    if ((r = crs_reader_need_count(inherit, sizeof *img->inherit, err, errlen)))
        return r;
    if ((r = crs_reader_load_section(img, inherit, &p, err, errlen)))
        return r;
    img->inherit = crs_reader_keep(img, p);
    img->ninherit = inherit->count;
    for (uint32_t i = 0; i < img->ninherit; i++) {
        const struct crs_img_range *g = &img->inherit[i];
        const struct crs_img_vma *v = crs_image_find_vma(img, g->start);
        if (g->start >= g->end || (g->start | g->end) % CRS_IMG_PAGE_SIZE ||
            (i && g->start < img->inherit[i - 1].end) || !v || g->end > v->end ||
            !inheritable(v)) {
            crs_seterr(err, errlen, "damaged inherited-pages section: record %u is not a run of "
                       "pages inside a saved private region, after the one before", i);
            return -EBADMSG;
        }
    }
    return 0;
}

uint64_t crs_image_inherited_bytes(const struct crs_image *img)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < img->ninherit; i++)
        n += img->inherit[i].end - img->inherit[i].start;
    return n;
}

/* out = a ∩ b, both ascending and disjoint. */
static int intersect(const struct crs_img_range *a, uint32_t na, const struct crs_img_range *b,
                     uint32_t nb, struct crs_img_range **out, uint32_t *nout)
{
    /* each range of the result ends where a range of a or of b ends */
    struct crs_img_range *o = malloc(((size_t)na + nb + 1) * sizeof *o);
    uint32_t i = 0, j = 0, k = 0;
    if (!o)
        return -ENOMEM;
    while (i < na && j < nb) {
        uint64_t lo = a[i].start > b[j].start ? a[i].start : b[j].start;
        uint64_t hi = a[i].end < b[j].end ? a[i].end : b[j].end;
        if (lo < hi)
            o[k++] = (struct crs_img_range){ lo, hi };
        if (a[i].end < b[j].end)
            i++;
        else
            j++;
    }
    *out = o;
    *nout = k;
    return 0;
}

/* The parent of img, by its name in dir: opened without following a link, and checked to be
 * the image img was written on. */
static int open_parent(const struct crs_image *img, const char *dir, struct crs_image **out,
                       char *err, size_t errlen)
{
    char path[CRS_PATH_MAX], why[512];
    struct crs_image *p;
    int r, fd;

    if (snprintf(path, sizeof path, "%s/%s", dir, img->parent_name) >= (int)sizeof path) {
        crs_seterr(err, errlen, "%s: its parent's path is too long", img->path);
        return -ENAMETOOLONG;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        r = -errno;
        crs_seterr(err, errlen, "%s is incremental and its parent %s %s", img->path, path,
                   r == -ENOENT ? "is missing" : strerror(-r));
        return r;
    }
    /* the parent's pages become the process's too: it must be the same owner's file */
    struct stat a, b;
    if (fstat(fd, &b) < 0 || fstat(img->fd, &a) < 0 || !S_ISREG(b.st_mode) ||
        a.st_uid != b.st_uid) {
        crs_seterr(err, errlen, "%s is incremental and its parent %s is not a regular file of "
                   "the image's owner", img->path, path);
        close(fd);
        return -EPERM;
    }
    if ((r = crs_image_open_fd(fd, path, &p, why, sizeof why))) {
        crs_seterr(err, errlen, "%s is incremental and its parent %s is damaged: %s", img->path,
                   path, why);
        return r;
    }
    if (p->trailer.toc_checksum != img->parent->toc_checksum ||
        p->header.created_ns != img->parent->created_ns) {
        crs_seterr(err, errlen, "%s is incremental and %s is not its parent (another image "
                   "under that name: its checksum or time differs)", img->path, path);
        crs_image_close(p);
        return -ESTALE;
    }
    uint32_t want = img->parent->depth - 1, have = p->parent ? p->parent->depth : 0;
    if (have != want) {
        crs_seterr(err, errlen, "%s is incremental and its parent %s is at depth %u of its "
                   "chain, not %u: the chain is damaged", img->path, path, have, want);
        crs_image_close(p);
        return -EBADMSG;
    }
    *out = p;
    return 0;
}

int crs_image_open_chain(struct crs_image *img, char *err, size_t errlen)
{
    char dir[CRS_PATH_MAX];
    const char *slash = strrchr(img->path, '/');
    int r;

    if (!img->parent || img->parent_img)
        return 0;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == img->path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - img->path), img->path);
    /* The depth falls by one at every step and must reach 0 (a full image): no cycle, and no
     * chain longer than CRS_IMG_MAX_CHAIN. */
    const struct crs_img_range *mask = img->inherit;
    uint32_t nmask = img->ninherit;
    for (struct crs_image *cur = img; cur->parent; cur = cur->parent_img) {
        struct crs_image *p = NULL;
        if ((r = open_parent(cur, dir, &p, err, errlen)))
            return r;
        cur->parent_img = p;
        /* the parent gives what the image inherits; a grandparent, what both inherit */
        r = cur == img ? intersect(mask, nmask, (const struct crs_img_range[]){ { 0, ~0ull } }, 1,
                                   &p->mask, &p->nmask)
                       : intersect(mask, nmask, cur->inherit, cur->ninherit, &p->mask, &p->nmask);
        if (r) {
            crs_seterr(err, errlen, "out of memory");
            return r;
        }
        mask = p->mask;
        nmask = p->nmask;
    }
    return 0;
}

int crs_image_check_chain(struct crs_image *img, int full, char *err, size_t errlen)
{
    char why[512];
    int r;
    for (struct crs_image *p = img->parent_img; p; p = p->parent_img)
        if ((r = (full ? crs_image_verify : crs_image_check)(p, NULL, NULL, why, sizeof why))) {
            crs_seterr(err, errlen, "%s is incremental and its ancestor %s is damaged: %s",
                       img->path, p->path, why);
            return r;
        }
    return 0;
}

uint64_t crs_image_chain_bytes(const struct crs_image *img)
{
    uint64_t n = 0;
    for (const struct crs_image *p = img->parent_img; p; p = p->parent_img)
        for (uint32_t i = 0; i < p->nmask; i++)
            n += p->mask[i].end - p->mask[i].start;
    return n;
}
