/* image/chunks.c - the pages section: iterating its chunks (each header checked against the
 * section and the saved regions), reading and decompressing them, and verifying them all.
 */
#define _GNU_SOURCE
#define ZSTD_STATIC_LINKING_ONLY
#include "common/errmsg.h"
#include "reader_internal.h"
#include "common/hugebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

void crs_image_chunk_begin(const struct crs_image *img, struct crs_chunk_iter *it)
{
    memset(it, 0, sizeof *it);
    it->next = img->pages_offset;
}

void crs_image_chunk_begin_window(const struct crs_image *img, struct crs_chunk_iter *it,
                                  struct crs_read_window *win)
{
    crs_image_chunk_begin(img, it);
    it->win = win;
}

/* len bytes at off into buf: through the iterator's window when it has one. */
static int read_at(const struct crs_chunk_iter *it, int fd, void *buf, size_t len, uint64_t off)
{
    const void *p;
    int r = crs_reader_window_view(it->win, fd, len, off, &p);
    if (r == -E2BIG)
        return crs_reader_read_at(fd, buf, len, off);
    if (r == 0)
        memcpy(buf, p, len);
    return r;
}

int crs_image_next_chunk(const struct crs_image *img, struct crs_chunk_iter *it, char *err,
                         size_t errlen)
{
    uint64_t end = img->pages_offset + img->pages_length;
    struct crs_img_chunk *c = &it->chunk;
    int r;

    if (it->next == end) {
        if (it->index != img->nchunks) {
            crs_seterr(err, errlen, "damaged pages section: %u chunks, table of contents says %u",
                       it->index, img->nchunks);
            return -EBADMSG;
        }
        return 0;
    }
    if (it->next > end || end - it->next < sizeof *c) {
        crs_seterr(err, errlen, "damaged pages section: chunk %u runs past the section", it->index);
        return -EBADMSG;
    }
    if ((r = read_at(it, img->fd, c, sizeof *c, it->next))) {
        crs_seterr(err, errlen, "reading chunk %u: %s", it->index,
                   r == -EBADMSG ? "truncated" : strerror(-r));
        return r;
    }
    if (c->magic != CRS_IMG_CHUNK_MAGIC) {
        crs_seterr(err, errlen, "damaged chunk %u at offset %llu: bad magic", it->index,
                   (unsigned long long)it->next);
        return -EBADMSG;
    }
    uint64_t raw = (uint64_t)c->npages * CRS_IMG_PAGE_SIZE;
    if (c->npages == 0 || c->npages > CRS_IMG_CHUNK_MAX_PAGES || c->addr % CRS_IMG_PAGE_SIZE ||
        c->addr < it->last_end || c->addr > UINT64_MAX - raw || (c->flags & ~CRS_CHUNK_F_RAW) ||
        c->clen == 0 || c->clen > ZSTD_compressBound(raw) ||
        ((c->flags & CRS_CHUNK_F_RAW) && c->clen != raw)) {
        crs_seterr(err, errlen, "damaged chunk %u at offset %llu: bad header (%u pages at %llx, %u "
                   "bytes)", it->index, (unsigned long long)it->next, c->npages,
                   (unsigned long long)c->addr, c->clen);
        return -EBADMSG;
    }
    const struct crs_img_vma *v = crs_image_find_vma(img, c->addr);
    if (!v || c->addr + raw > v->end || !(v->flags & CRS_VMA_F_SAVED)) {
        crs_seterr(err, errlen, "damaged chunk %u: pages %llx-%llx are not in a saved region",
                   it->index, (unsigned long long)c->addr, (unsigned long long)(c->addr + raw));
        return -EBADMSG;
    }
    uint64_t data = it->next + sizeof *c;
    uint64_t padded = ((uint64_t)c->clen + 7) & ~7ull;
    if (end - data < padded) {
        crs_seterr(err, errlen, "damaged chunk %u: its %u bytes run past the pages section",
                   it->index, c->clen);
        return -EBADMSG;
    }
    it->data_offset = data;
    it->next = data + padded;
    it->last_end = c->addr + raw;
    it->index++;
    return 1;
}

/* Reads a chunk's stored bytes (into dst itself when they are raw pages), checks them and
 * decompresses them into dst when dst is set. Touches only fd, dctx, cbuf and the iterator's
 * window. */
static int decode_chunk(int fd, void *dctx, void *cbuf, const struct crs_chunk_iter *it,
                        void *dst, const void **src, char *err, size_t errlen)
{
    const struct crs_img_chunk *c = &it->chunk;
    size_t raw = (size_t)c->npages * CRS_IMG_PAGE_SIZE;
    void *buf = (dst && (c->flags & CRS_CHUNK_F_RAW)) ? dst : cbuf;
    const void *in = buf;
    int r;

    /* Through the window, compressed bytes are checked and decompressed where they lie. */
    r = crs_reader_window_view(it->win, fd, c->clen, it->data_offset, &in);
    if (r == 0 && buf == dst)
        memcpy(dst, in, c->clen), in = dst;
    else if (r == -E2BIG)
        r = crs_reader_read_at(fd, buf, c->clen, it->data_offset);
    if (r) {
        crs_seterr(err, errlen, "reading chunk %u: %s", it->index - 1,
                   r == -EBADMSG ? "truncated" : strerror(-r));
        return r;
    }
    if (XXH3_64bits(in, c->clen) != c->checksum) {
        crs_seterr(err, errlen,
                   "damaged chunk %u (pages at %llx): checksum mismatch", it->index - 1,
                   (unsigned long long)c->addr);
        return -EBADMSG;
    }
    *src = in;
    if (dst && !(c->flags & CRS_CHUNK_F_RAW)) {
        size_t n = ZSTD_decompressDCtx(dctx, dst, raw, in, c->clen);
        if (ZSTD_isError(n) || n != raw) {
            crs_seterr(err, errlen, "damaged chunk %u (pages at %llx): %s", it->index - 1,
                       (unsigned long long)c->addr,
                       ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong decompressed size");
            return -EBADMSG;
        }
    }
    return 0;
}

static int load_buffers(struct crs_image *img, char *err, size_t errlen)
{
    if (!img->cbuf) {
        img->cbuf_size = ZSTD_compressBound((size_t)CRS_IMG_CHUNK_MAX_PAGES * CRS_IMG_PAGE_SIZE);
        img->cbuf = crs_hugebuf_alloc(img->cbuf_size);
        img->dctx = ZSTD_createDCtx();
        if (!img->cbuf || !img->dctx) {
            crs_seterr(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

static void chunk_done(struct crs_image *img, const struct crs_chunk_iter *it)
{
    img->progress_done += (uint64_t)it->chunk.npages * CRS_IMG_PAGE_SIZE;
    if (img->progress)
        img->progress(img->progress_done, img->process.memory_saved, img->progress_arg);
}

int crs_image_read_chunk(struct crs_image *img, const struct crs_chunk_iter *it, void *dst,
                         size_t dstlen, char *err, size_t errlen)
{
    const void *src;
    int r;

    if (dstlen < (size_t)it->chunk.npages * CRS_IMG_PAGE_SIZE) {
        crs_seterr(err, errlen, "chunk %u: buffer too small", it->index - 1);
        return -EINVAL;
    }
    if ((r = load_buffers(img, err, errlen)) ||
        (r = decode_chunk(img->fd, img->dctx, img->cbuf, it, dst, &src, err, errlen)))
        return r;
    chunk_done(img, it);
    return 0;
}

int crs_chunk_reader_init(struct crs_chunk_reader *rd)
{
    rd->cbuf_size = ZSTD_compressBound((size_t)CRS_IMG_CHUNK_MAX_PAGES * CRS_IMG_PAGE_SIZE);
    rd->cbuf = crs_hugebuf_alloc(rd->cbuf_size);
    rd->dctx = ZSTD_createDCtx();
    rd->win = (struct crs_read_window){ .buf = crs_hugebuf_alloc(CRS_READ_WINDOW),
                                        .size = CRS_READ_WINDOW };
    if (!rd->cbuf || !rd->dctx || !rd->win.buf) {
        crs_chunk_reader_free(rd);
        return -ENOMEM;
    }
    return 0;
}

void crs_chunk_reader_free(struct crs_chunk_reader *rd)
{
    crs_hugebuf_free(rd->cbuf, rd->cbuf_size);
    crs_hugebuf_free(rd->win.buf, CRS_READ_WINDOW);
    ZSTD_freeDCtx(rd->dctx);
    rd->cbuf = rd->dctx = NULL;
    rd->win = (struct crs_read_window){ 0 };
}

int crs_image_read_chunk_r(const struct crs_image *img, struct crs_chunk_reader *rd,
                           const struct crs_chunk_iter *it, void *dst, size_t dstlen, char *err,
                           size_t errlen)
{
    const void *src;

    if (dstlen < (size_t)it->chunk.npages * CRS_IMG_PAGE_SIZE) {
        crs_seterr(err, errlen, "chunk %u: buffer too small", it->index - 1);
        return -EINVAL;
    }
    return decode_chunk(img->fd, rd->dctx, rd->cbuf, it, dst, &src, err, errlen);
}

/* The checks that need no decompression: the checksum of the stored bytes, and that they are
 * one zstd frame of exactly the chunk's size. */
static int check_chunk(struct crs_image *img, const struct crs_chunk_iter *it, char *err,
                       size_t errlen)
{
    const struct crs_img_chunk *c = &it->chunk;
    const void *src;
    int r;

    if ((r = load_buffers(img, err, errlen)) ||
        (r = decode_chunk(img->fd, img->dctx, img->cbuf, it, NULL, &src, err, errlen)))
        return r;
    if (!(c->flags & CRS_CHUNK_F_RAW)) {
        unsigned long long size = ZSTD_getFrameContentSize(src, c->clen);
        size_t frame = ZSTD_findFrameCompressedSize(src, c->clen);
        if (size != (unsigned long long)c->npages * CRS_IMG_PAGE_SIZE || ZSTD_isError(frame) ||
            frame != c->clen) {
            crs_seterr(err, errlen,
                       "damaged chunk %u (pages at %llx): not one zstd frame of %u pages",
                       it->index - 1, (unsigned long long)c->addr, c->npages);
            return -EBADMSG;
        }
    }
    chunk_done(img, it);
    return 0;
}

/* Walks every chunk: decompressing each (deep) or checking it without decompressing. */
static int verify_pages(struct crs_image *img, int deep, crs_progress_fn fn, void *arg, char *err,
                        size_t errlen)
{
    const struct crs_img_toc_entry *pages = NULL;
    struct crs_chunk_iter it;
    uint64_t total = 0;
    int r;
    void *buf = deep ? malloc((size_t)CRS_IMG_CHUNK_MAX_PAGES * CRS_IMG_PAGE_SIZE) : NULL;
    XXH3_state_t *hs = XXH3_createState();
    struct crs_read_window win = { .buf = malloc(CRS_READ_WINDOW), .size = CRS_READ_WINDOW };

    if ((deep && !buf) || !hs || !win.buf) {
        free(win.buf);
        free(buf);
        XXH3_freeState(hs);
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < img->ntoc; i++)
        if (img->toc[i].type == CRS_SEC_PAGES)
            pages = &img->toc[i];
    XXH3_64bits_reset(hs);
    crs_image_set_progress(img, fn, arg);
    crs_image_chunk_begin_window(img, &it, &win);
    while ((r = crs_image_next_chunk(img, &it, err, errlen)) > 0) {
        XXH3_64bits_update(hs, &it.chunk, sizeof it.chunk);
        r = deep ? crs_image_read_chunk(img, &it, buf,
                                        (size_t)CRS_IMG_CHUNK_MAX_PAGES * CRS_IMG_PAGE_SIZE,
                                        err, errlen)
                 : check_chunk(img, &it, err, errlen);
        if (r)
            break;
        total += (uint64_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
    }
    if (r == 0 && XXH3_64bits_digest(hs) != pages->checksum) {
        crs_seterr(err, errlen, "damaged pages section: chunk headers checksum mismatch");
        r = -EBADMSG;
    }
    if (r == 0 && total != img->process.memory_saved) {
        crs_seterr(err, errlen, "damaged: chunks hold %llu bytes, process section says %llu",
                   (unsigned long long)total, (unsigned long long)img->process.memory_saved);
        r = -EBADMSG;
    }
    crs_image_set_progress(img, NULL, NULL);
    free(win.buf);
    free(buf);
    XXH3_freeState(hs);
    return r;
}

int crs_image_verify(struct crs_image *img, crs_progress_fn fn, void *arg, char *err,
                     size_t errlen)
{
    return verify_pages(img, 1, fn, arg, err, errlen);
}

int crs_image_check(struct crs_image *img, crs_progress_fn fn, void *arg, char *err,
                    size_t errlen)
{
    return verify_pages(img, 0, fn, arg, err, errlen);
}
