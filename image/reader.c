/* image/reader.c - opens an image and validates everything except page data before any
 * caller sees it: every offset, length and count is checked against the file size and the
 * limits in reader.h first, so that a damaged or hostile image gets an error, never a crash.
 * This file: the header, trailer and table of contents, then the sections (load.c); closing.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "reader_internal.h"
#include "common/hugebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

_Static_assert(sizeof(struct crs_img_header) == 64, "header is 64 bytes");
_Static_assert(sizeof(struct crs_img_trailer) == 64, "trailer is 64 bytes");
_Static_assert(sizeof(struct crs_img_section) == 16, "section header is 16 bytes");
_Static_assert(sizeof(struct crs_img_toc_entry) == 32, "toc entry is 32 bytes");
_Static_assert(sizeof(struct crs_img_chunk) == 32, "chunk header is 32 bytes");

/* Reads exactly len bytes at off: a short read means the file is shorter than it claims. */
int crs_reader_read_at(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EBADMSG;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int crs_reader_window_view(struct crs_read_window *w, int fd, size_t len, uint64_t off,
                           const void **p)
{
    if (!w || !w->size || len > w->size)
        return -E2BIG;
    if (off < w->off || off - w->off > w->len || len > w->len - (off - w->off)) {
        ssize_t n;
        size_t got = 0;
        /* one long read; a short one (end of file, a signal) is completed up to len */
        while (got < len) {
            n = pread(fd, w->buf + got, w->size - got, (off_t)(off + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                w->len = 0;
                return n < 0 ? -errno : -EBADMSG;
            }
            got += (size_t)n;
        }
        w->off = off;
        w->len = got;
    }
    *p = w->buf + (off - w->off);
    return 0;
}

const char *crs_image_string(const struct crs_image *img, uint32_t off)
{
    if (off == 0)
        return "";
    if (!img->strings || off >= img->strings_len)
        return NULL;
    return img->strings + off;
}

static int check_header(struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_header *h = &img->header;
    if (memcmp(h->magic, CRS_IMG_MAGIC, 8)) {
        crs_seterr(err, errlen, "not a crsnap image (bad magic)");
        return -EBADMSG;
    }
    if (h->version != CRS_IMG_VERSION && h->version != CRS_IMG_VERSION_INCR) {
        crs_seterr(err, errlen, "unsupported image version %u (this crsnap reads versions %u and %u)",
                   h->version, CRS_IMG_VERSION, CRS_IMG_VERSION_INCR);
        return -EPROTO;
    }
    if (h->header_size != sizeof *h) {
        crs_seterr(err, errlen, "damaged header: header size %u", h->header_size);
        return -EBADMSG;
    }
    if (h->arch != CRS_ARCH_ID) {
        crs_seterr(err, errlen, "image is for another architecture (id %u)", h->arch);
        return -EPROTO;
    }
    if (h->page_size != CRS_IMG_PAGE_SIZE) {
        crs_seterr(err, errlen, "damaged header: page size %u", h->page_size);
        return -EBADMSG;
    }
    return 0;
}

static int check_trailer(struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_trailer *t = &img->trailer;
    uint64_t body = img->file_size - sizeof *t;
    if (memcmp(t->magic, CRS_IMG_TRAILER_MAGIC, 8)) {
        crs_seterr(err, errlen, "truncated: trailer missing (file is %llu bytes)",
                   (unsigned long long)img->file_size);
        return -EBADMSG;
    }
    if (XXH3_64bits(t, offsetof(struct crs_img_trailer, checksum)) != t->checksum) {
        crs_seterr(err, errlen, "damaged trailer: checksum mismatch");
        return -EBADMSG;
    }
    if (XXH3_64bits(&img->header, sizeof img->header) != t->header_checksum) {
        crs_seterr(err, errlen, "damaged header: checksum mismatch");
        return -EBADMSG;
    }
    if (t->file_size != img->file_size) {
        crs_seterr(err, errlen, "damaged: trailer says %llu bytes, file is %llu",
                   (unsigned long long)t->file_size, (unsigned long long)img->file_size);
        return -EBADMSG;
    }
    if (t->toc_count == 0 || t->toc_count > CRS_IMG_MAX_SECTIONS ||
        t->toc_offset < sizeof img->header || t->toc_offset > body ||
        body - t->toc_offset != (uint64_t)t->toc_count * sizeof(struct crs_img_toc_entry)) {
        crs_seterr(err, errlen, "damaged trailer: table of contents at %llu with %u entries",
                   (unsigned long long)t->toc_offset, t->toc_count);
        return -EBADMSG;
    }
    return 0;
}

int crs_image_open(const char *path, struct crs_image **out, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO named like an image must not hang the reader in open(); it is
     * refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int r = -errno;
        if (err && errlen)
            crs_seterr(err, errlen, "%s", strerror(-r));
        return r;
    }
    return crs_image_open_fd(fd, path, out, err, errlen);
}

int crs_image_open_fd(int fd, const char *path, struct crs_image **out, char *err, size_t errlen)
{
    struct crs_image *img = calloc(1, sizeof *img);
    struct stat st;
    int r, fl;

    if (err && errlen)
        err[0] = '\0';
    if (!img) {
        close(fd);
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    img->fd = fd;
    img->path = strdup(path);
    if (!img->path) {
        r = -ENOMEM;
        crs_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (fstat(img->fd, &st) < 0) {
        r = -errno;
        crs_seterr(err, errlen, "%s", strerror(-r));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        crs_seterr(err, errlen, "not a regular file%s", S_ISFIFO(st.st_mode) ? " (a FIFO)" : "");
        goto fail;
    }
    /* the image is a regular file: reads block as usual from here on */
    if ((fl = fcntl(img->fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK))
        fcntl(img->fd, F_SETFL, fl & ~O_NONBLOCK);
    img->file_size = (uint64_t)st.st_size;
    if (img->file_size < sizeof img->header) {
        r = -EBADMSG;
        crs_seterr(err, errlen, "truncated: header missing (file is %llu bytes)",
                   (unsigned long long)img->file_size);
        goto fail;
    }
    if ((r = crs_reader_read_at(img->fd, &img->header, sizeof img->header, 0)) ||
        (r = check_header(img, err, errlen)))
        goto fail_io;
    if (img->file_size < sizeof img->header + sizeof img->trailer) {
        r = -EBADMSG;
        crs_seterr(err, errlen, "truncated: trailer missing (file is %llu bytes)",
                   (unsigned long long)img->file_size);
        goto fail;
    }
    if ((r = crs_reader_read_at(img->fd, &img->trailer, sizeof img->trailer,
                                img->file_size - sizeof img->trailer)) ||
        (r = check_trailer(img, err, errlen)))
        goto fail_io;
    img->ntoc = img->trailer.toc_count;
    img->toc = calloc(img->ntoc, sizeof *img->toc);
    if (!img->toc) {
        r = -ENOMEM;
        crs_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if ((r = crs_reader_read_at(img->fd, img->toc, img->ntoc * sizeof *img->toc,
                                img->trailer.toc_offset)))
        goto fail_io;
    if (XXH3_64bits(img->toc, img->ntoc * sizeof *img->toc) != img->trailer.toc_checksum) {
        r = -EBADMSG;
        crs_seterr(err, errlen, "damaged table of contents: checksum mismatch");
        goto fail;
    }
    if ((r = crs_reader_load_all(img, err, errlen)))
        goto fail;
    *out = img;
    return 0;
fail_io:
    if (r != -EBADMSG && r != -EPROTO && r != -ENOMEM)
        crs_seterr(err, errlen, "reading: %s", strerror(-r));
    else if (err && !err[0])
        crs_seterr(err, errlen,
                   "truncated (file is %llu bytes)", (unsigned long long)img->file_size);
fail:
    crs_image_close(img);
    return r;
}

void crs_image_close(struct crs_image *img)
{
    if (!img)
        return;
    if (img->fd >= 0)
        close(img->fd);
    for (size_t i = 0; i < sizeof img->bufs / sizeof img->bufs[0]; i++)
        free(img->bufs[i]);
    crs_hugebuf_free(img->big, img->big_len);
    crs_image_close(img->parent_img);
    free(img->mask);
    free(img->argv);
    free(img->envp);
    free(img->toc);
    free(img->path);
    crs_hugebuf_free(img->cbuf, img->cbuf_size);
    ZSTD_freeDCtx(img->dctx);
    free(img);
}

const struct crs_img_vma *crs_image_find_vma(const struct crs_image *img, uint64_t addr)
{
    uint32_t lo = 0, hi = img->nvmas;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct crs_img_vma *v = &img->vmas[mid];
        if (addr < v->start)
            hi = mid;
        else if (addr >= v->end)
            lo = mid + 1;
        else
            return v;
    }
    return NULL;
}

uint32_t crs_image_idx_at(const struct crs_img_pageidx *idx, uint32_t n, uint64_t addr)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (idx[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t crs_image_page_bytes(const struct crs_image *img)
{
    return img->process.memory_saved;
}

void crs_image_set_progress(struct crs_image *img, crs_progress_fn fn, void *arg)
{
    img->progress = fn;
    img->progress_arg = arg;
    img->progress_done = 0;
}

const struct crs_img_shmobj *crs_image_shmobj_of(const struct crs_image *img,
                                                 const struct crs_img_vma *v)
{
    for (uint32_t i = 0; i < img->nshmobj; i++)
        if (img->shmobj[i].dev == v->dev && img->shmobj[i].ino == v->ino)
            return &img->shmobj[i];
    return NULL;
}
