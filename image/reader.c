/* image/reader.c - opens an image and validates everything except page data before any
 * caller sees it: every offset, length and count is checked against the file size and the
 * limits in reader.h first, so that a damaged or hostile image gets an error, never a crash.
 */
#define _GNU_SOURCE
#define ZSTD_STATIC_LINKING_ONLY
#include "common/errmsg.h"
#include "reader.h"
#include "fdkind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
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

static const char *section_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "host", "process", "strings", "regions", "pages",
        "threads", "signals", "fds", "argv", "auxv", "queued", "deleted", "not-restored",
        "attributes", "mapped-file-hashes",
    };
    _Static_assert(sizeof names / sizeof names[0] == CRS_SEC__END, "a name per section type");
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

const char *crs_image_vma_kind_name(uint32_t kind)
{
    static const char *const names[] = {
        "?", "anon", "anon-shared", "file-private", "file-shared",
        "heap", "stack", "vdso", "vvar", "vsyscall",
    };
    _Static_assert(sizeof names / sizeof names[0] == CRS_VMA__END, "a name per region kind");
    return kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

const char *crs_image_fd_kind_name(uint32_t kind)
{
    const struct crs_fd_ops *k = crs_fd_ops_of(kind);
    return k ? k->name : "?";
}

/* Reads exactly len bytes at off: a short read means the file is shorter than it claims. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
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
    if (h->version != CRS_IMG_VERSION) {
        crs_seterr(err, errlen, "unsupported image version %u (this crsnap reads version %u)",
                   h->version, CRS_IMG_VERSION);
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

/* Loads one non-page section after checking its entry against the file and its own header. */
static int load_section(struct crs_image *img, const struct crs_img_toc_entry *e, void **out,
                        char *err, size_t errlen)
{
    struct crs_img_section sh;
    const char *name = section_name(e->type);
    int r;
    if (e->length > CRS_IMG_MAX_SECTION) {
        crs_seterr(err, errlen, "damaged %s section: length %llu too large", name,
                   (unsigned long long)e->length);
        return -EBADMSG;
    }
    r = read_at(img->fd, &sh, sizeof sh, e->offset);
    if (r)
        goto io;
    if (sh.type != e->type || sh.length != e->length) {
        crs_seterr(err, errlen, "damaged %s section: header does not match the table of contents",
                   name);
        return -EBADMSG;
    }
    void *buf = malloc(e->length ? e->length : 1);
    if (!buf) {
        crs_seterr(err, errlen, "out of memory reading the %s section", name);
        return -ENOMEM;
    }
    r = read_at(img->fd, buf, e->length, e->offset + sizeof sh);
    if (r) {
        free(buf);
        goto io;
    }
    if (XXH3_64bits(buf, e->length) != e->checksum) {
        free(buf);
        crs_seterr(err, errlen, "damaged %s section: checksum mismatch", name);
        return -EBADMSG;
    }
    *out = buf;
    return 0;
io:
    crs_seterr(err, errlen, "reading the %s section: %s", name, strerror(-r));
    return r;
}

static int need_count(const struct crs_img_toc_entry *e, size_t recsize, char *err, size_t errlen)
{
    if ((uint64_t)e->count * recsize != e->length) {
        crs_seterr(err, errlen, "damaged %s section: %u records in %llu bytes",
                   section_name(e->type), e->count, (unsigned long long)e->length);
        return -EBADMSG;
    }
    return 0;
}

static int check_str(const struct crs_image *img, uint32_t off, const char *what, char *err,
                     size_t errlen)
{
    if (off && off >= img->strings_len) {
        crs_seterr(err, errlen, "damaged: %s refers to string %u beyond the strings section", what,
                   off);
        return -EBADMSG;
    }
    return 0;
}

/* Splits the ARGV payload into argv (count entries) and envp (the rest). */
static int split_argv(struct crs_image *img, char *p, uint64_t len, uint32_t argc, char *err,
                      size_t errlen)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < len; i++)
        if (p[i] == '\0')
            n++;
    if (len && p[len - 1] != '\0') {
        crs_seterr(err, errlen, "damaged argv section: not NUL-terminated");
        return -EBADMSG;
    }
    if (argc > n) {
        crs_seterr(err, errlen, "damaged argv section: %u arguments in %llu strings", argc,
                   (unsigned long long)n);
        return -EBADMSG;
    }
    img->argv = calloc(argc + 1, sizeof(char *));
    img->envp = calloc(n - argc + 1, sizeof(char *));
    if (!img->argv || !img->envp) {
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    uint64_t k = 0, start = 0;
    for (uint64_t i = 0; i < len; i++) {
        if (p[i] != '\0')
            continue;
        if (k < argc)
            img->argv[k] = p + start;
        else
            img->envp[k - argc] = p + start;
        k++;
        start = i + 1;
    }
    img->argc = argc;
    img->envc = (uint32_t)(n - argc);
    return 0;
}

static int check_vmas(const struct crs_image *img, char *err, size_t errlen)
{
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if (v->start >= v->end || (v->start | v->end) % CRS_IMG_PAGE_SIZE ||
            v->start < prev_end || v->end > (1ull << 57)) {
            crs_seterr(err, errlen, "damaged region %u: bad range %llx-%llx", i,
                       (unsigned long long)v->start, (unsigned long long)v->end);
            return -EBADMSG;
        }
        if (v->kind < CRS_VMA_ANON || v->kind >= CRS_VMA__END) {
            crs_seterr(err, errlen, "damaged region %u: unknown kind %u", i, v->kind);
            return -EBADMSG;
        }
        if ((v->flags & CRS_VMA_F_SAVED) &&
            (v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR || v->kind == CRS_VMA_VSYSCALL ||
             (v->kind == CRS_VMA_FILE_SHARED && !(v->flags & CRS_VMA_F_DELETED)))) {
            crs_seterr(err, errlen, "damaged region %u: a %s region cannot hold saved pages", i,
                       crs_image_vma_kind_name(v->kind));
            return -EBADMSG;
        }
        if (v->prot & ~7u) {
            crs_seterr(err, errlen, "damaged region %u: bad protection %#x", i, v->prot);
            return -EBADMSG;
        }
        /* mmap takes a page-aligned offset, and refuses (EOVERFLOW) a range that runs past
         * the largest file offset: such a region could never be mapped again. */
        if ((v->kind == CRS_VMA_FILE_PRIVATE || v->kind == CRS_VMA_FILE_SHARED) &&
            !(v->flags & CRS_VMA_F_DELETED) &&
            (v->file_offset % CRS_IMG_PAGE_SIZE ||
             v->file_offset > (uint64_t)INT64_MAX - (v->end - v->start))) {
            crs_seterr(err, errlen, "damaged region %u: file offset %#llx for %llu bytes is out of "
                       "bounds", i, (unsigned long long)v->file_offset,
                       (unsigned long long)(v->end - v->start));
            return -EBADMSG;
        }
        int r = check_str(img, v->path, "a region", err, errlen);
        if (r)
            return r;
        prev_end = v->end;
    }
    return 0;
}

static int check_threads(const struct crs_image *img, char *err, size_t errlen)
{
    uint32_t mains = 0;
    for (uint32_t i = 0; i < img->nthreads; i++)
        if (img->threads[i].flags & CRS_THREAD_F_MAIN)
            mains++;
    if (img->nthreads == 0 || mains != 1) {
        crs_seterr(err, errlen,
                   "damaged threads section: %u threads, %u main", img->nthreads, mains);
        return -EBADMSG;
    }
    if (img->process.nthreads != img->nthreads) {
        crs_seterr(err, errlen, "damaged: process says %u threads, threads section has %u",
                   img->process.nthreads, img->nthreads);
        return -EBADMSG;
    }
    return 0;
}

static int check_fds(const struct crs_image *img, char *err, size_t errlen)
{
    if (img->nfds > CRS_IMG_MAX_FDS) {
        crs_seterr(err, errlen, "the image holds %u descriptors, more than the %u a checkpoint "
                   "records and a restore brings back", img->nfds, CRS_IMG_MAX_FDS);
        return -E2BIG;
    }
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        if (f->fd < 0 || f->kind < CRS_FD_FILE || f->kind >= CRS_FD__END ||
            (i && f->fd <= img->fds[i - 1].fd)) {
            crs_seterr(err, errlen, "damaged fd record %u (fd %d, kind %u)", i, f->fd, f->kind);
            return -EBADMSG;
        }
        const struct crs_fd_ops *k = crs_fd_ops_of(f->kind);
        int r = k->validate ? k->validate(f, err, errlen) : 0;
        if (r)
            return r;
        r = check_str(img, f->path, "an fd", err, errlen);
        if (r)
            return r;
    }
    return 0;
}

static int check_process(const struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_process *p = &img->process;
    int r;
    if ((r = check_str(img, p->exe, "the executable", err, errlen)) ||
        (r = check_str(img, p->cwd, "the working directory", err, errlen)) ||
        (r = check_str(img, p->comm, "the command name", err, errlen)))
        return r;
    if (p->memory_saved % CRS_IMG_PAGE_SIZE) {
        crs_seterr(err, errlen, "damaged process section: saved bytes not whole pages");
        return -EBADMSG;
    }
    return 0;
}

/* Keeps the payload so that close frees it. */
static void *keep(struct crs_image *img, void *p)
{
    for (size_t i = 0; i < sizeof img->bufs / sizeof img->bufs[0]; i++)
        if (!img->bufs[i]) {
            img->bufs[i] = p;
            return p;
        }
    abort(); /* more payloads than sections loaded: a programming error */
}

/* Sections of variable records (QUEUED, DELETED): each a fixed header that gives the length of
 * the bytes after it, padded to 8; together exactly the payload. */
struct rec_walk {
    const char *name;               /* for messages */
    const unsigned char *p;
    uint64_t len, at;
    size_t hdr;
};

/* Loads the section and an array of e->count elements of elem bytes for its caller to fill,
 * both kept with the image. */
static int records_open(struct crs_image *img, const struct crs_img_toc_entry *e, size_t hdr,
                        size_t elem, const char *name, struct rec_walk *w, void **array,
                        char *err, size_t errlen)
{
    unsigned char *p;
    int r;

    if ((uint64_t)e->count * hdr > e->length) {
        crs_seterr(err, errlen, "damaged %s section: %u records in %llu bytes", name, e->count,
                   (unsigned long long)e->length);
        return -EBADMSG;
    }
    if ((r = load_section(img, e, (void **)&p, err, errlen)))
        return r;
    keep(img, p);
    *array = keep(img, calloc(e->count ? e->count : 1, elem));
    if (!*array) {
        crs_seterr(err, errlen, "out of memory reading the %s section", name);
        return -ENOMEM;
    }
    *w = (struct rec_walk){name, p, e->length, 0, hdr};
    return 0;
}

/* Record i: its header into hdr_out, then (record_bytes) its n bytes. */
static int record_header(struct rec_walk *w, uint32_t i, void *hdr_out, char *err,
                         size_t errlen)
{
    if (w->len - w->at < w->hdr) {
        crs_seterr(err, errlen, "damaged %s section: record %u is outside it", w->name, i);
        return -EBADMSG;
    }
    memcpy(hdr_out, w->p + w->at, w->hdr);
    return 0;
}

static int record_bytes(struct rec_walk *w, uint32_t i, uint64_t n, const unsigned char **data,
                        char *err, size_t errlen)
{
    uint64_t room = w->len - w->at - w->hdr;
    /* the padding too: a walk that stepped past the payload would read beyond it next */
    if (n > room || ((n + 7) & ~7ull) > room) {
        crs_seterr(err, errlen, "damaged %s section: record %u holds %llu bytes, past its end",
                   w->name, i, (unsigned long long)n);
        return -EBADMSG;
    }
    *data = w->p + w->at + w->hdr;
    w->at += w->hdr + ((n + 7) & ~7ull);
    return 0;
}

static int records_close(struct rec_walk *w, uint32_t count, char *err, size_t errlen)
{
    if (w->at != w->len) {
        crs_seterr(err, errlen, "damaged %s section: %llu bytes after its %u records", w->name,
                   (unsigned long long)(w->len - (w->at < w->len ? w->at : w->len)), count);
        return -EBADMSG;
    }
    return 0;
}

/* The image descriptor with that number and inode, of a kind that holds such records
 * (CRS_FDK_*), or NULL. */
static const struct crs_img_fd *fd_of(const struct crs_image *img, int32_t fd, uint64_t ino,
                                      uint32_t holds)
{
    for (uint32_t k = 0; k < img->nfds; k++) {
        const struct crs_fd_ops *o = crs_fd_ops_of(img->fds[k].kind);
        if (img->fds[k].fd == fd && img->fds[k].ino == ino && o && (o->holds & holds))
            return &img->fds[k];
    }
    return NULL;
}

/* QUEUED: every record for a pipe or socket the image has under that number and inode. */
static int load_queued(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                       size_t errlen)
{
    struct rec_walk w;
    int r;

    if ((r = records_open(img, e, sizeof(struct crs_img_queued), sizeof *img->queued, "queued",
                          &w, (void **)&img->queued, err, errlen)))
        return r;
    for (uint32_t i = 0; i < e->count; i++) {
        struct crs_img_queued q;
        struct crs_image_queued *out = &img->queued[i];
        if ((r = record_header(&w, i, &q, err, errlen)) ||
            (r = record_bytes(&w, i, q.len, &out->data, err, errlen)))
            return r;
        if (!fd_of(img, q.fd, q.ino, CRS_FDK_QUEUED)) {
            crs_seterr(err, errlen, "damaged queued section: record %u is for descriptor %d, which "
                       "is no pipe or socket of the image", i, q.fd);
            return -EBADMSG;
        }
        out->fd = q.fd;
        out->len = q.len;
        out->ino = q.ino;
    }
    if ((r = records_close(&w, e->count, err, errlen)))
        return r;
    img->nqueued = e->count;
    return 0;
}

/* DELETED: every record for a regular file the image has open under that number and inode. */
static int load_deleted(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                        size_t errlen)
{
    struct rec_walk w;
    int r;

    if ((r = records_open(img, e, sizeof(struct crs_img_deleted), sizeof *img->deleted,
                          "deleted-files", &w, (void **)&img->deleted, err, errlen)))
        return r;
    for (uint32_t i = 0; i < e->count; i++) {
        struct crs_img_deleted d;
        struct crs_image_deleted *out = &img->deleted[i];
        const struct crs_img_fd *f;
        if ((r = record_header(&w, i, &d, err, errlen)) ||
            (r = record_bytes(&w, i, d.size, &out->data, err, errlen)))
            return r;
        f = fd_of(img, d.fd, d.ino, CRS_FDK_CONTENTS);
        if (!f || !S_ISREG(f->mode)) {
            crs_seterr(err, errlen, "damaged deleted-files section: record %u is for descriptor "
                       "%d, which is no regular file of the image", i, d.fd);
            return -EBADMSG;
        }
        out->fd = d.fd;
        out->mode = d.mode;
        out->ino = d.ino;
        out->size = d.size;
    }
    if ((r = records_close(&w, e->count, err, errlen)))
        return r;
    img->ndeleted = e->count;
    return 0;
}

/* UNSAVED: every record's text is a string of the image, every descriptor one of its own. */
static int load_unsaved(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                        size_t errlen)
{
    struct crs_img_unsaved *u;
    int r;

    if ((r = need_count(e, sizeof *u, err, errlen)) ||
        (r = load_section(img, e, (void **)&u, err, errlen)))
        return r;
    keep(img, u);
    for (uint32_t i = 0; i < e->count; i++) {
        int known = 0;
        if (!crs_image_string(img, u[i].what)) {
            crs_seterr(err, errlen, "damaged not-restored section: record %u has no text", i);
            return -EBADMSG;
        }
        if (u[i].kind == CRS_UNSAVED_FD)
            for (uint32_t k = 0; k < img->nfds; k++)
                known |= img->fds[k].fd == u[i].fd && img->fds[k].kind != CRS_FD_INTERNAL;
        if (u[i].kind == CRS_UNSAVED_FD && !known) {
            crs_seterr(err, errlen, "damaged not-restored section: record %u is for descriptor %d, "
                       "which the image does not have", i, u[i].fd);
            return -EBADMSG;
        }
        if (u[i].kind == CRS_UNSAVED_CHILD && (u[i].pid == 0 || u[i].pid > 0x7fffffffu)) {
            crs_seterr(err, errlen, "damaged not-restored section: record %u is for pid %u", i,
                       u[i].pid);
            return -EBADMSG;
        }
    }
    img->unsaved = u;
    img->nunsaved = e->count;
    return 0;
}

int crs_image_unsaved_line(const struct crs_image *img, uint32_t i, char *buf, size_t len)
{
    const struct crs_img_unsaved *u = &img->unsaved[i];
    const char *what = crs_image_string(img, u->what);

    if (!what || !*what)
        what = u->kind == CRS_UNSAVED_CHILD ? "child process" : "cannot be rebuilt";
    if (u->kind == CRS_UNSAVED_FD)
        return snprintf(buf, len, "fd %d: %s", u->fd, what);
    return snprintf(buf, len, "%s", what);
}

const struct crs_image_deleted *crs_image_deleted_for(const struct crs_image *img,
                                                      const struct crs_img_fd *f)
{
    const struct crs_fd_ops *o = crs_fd_ops_of(f->kind);
    if (!o || !(o->holds & CRS_FDK_CONTENTS))
        return NULL;
    for (uint32_t i = 0; i < img->ndeleted; i++) {
        const struct crs_image_deleted *d = &img->deleted[i];
        if (d->ino != f->ino)
            continue;
        /* an inode number is unique on one file system only: the record's descriptor tells
         * which (load_deleted checked that there is one) */
        for (uint32_t k = 0; k < img->nfds; k++)
            if (img->fds[k].fd == d->fd && img->fds[k].dev == f->dev)
                return d;
    }
    return NULL;
}

static int load_all(struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_toc_entry *seen[CRS_SEC__END] = {0};
    uint64_t body = img->trailer.toc_offset;
    int r;

    for (uint32_t i = 0; i < img->ntoc; i++) {
        const struct crs_img_toc_entry *e = &img->toc[i];
        if (e->offset < sizeof img->header || e->offset % 8 || e->offset > body ||
            body - e->offset < sizeof(struct crs_img_section) ||
            body - e->offset - sizeof(struct crs_img_section) < e->length) {
            crs_seterr(err, errlen, "damaged table of contents: %s section at %llu+%llu is outside "
                       "the file", section_name(e->type), (unsigned long long)e->offset,
                       (unsigned long long)e->length);
            return -EBADMSG;
        }
        if (e->type < CRS_SEC_HOST || e->type >= CRS_SEC__END)
            continue; /* a section this version does not know: ignored */
        if (seen[e->type]) {
            crs_seterr(err, errlen, "damaged table of contents: two %s sections",
                       section_name(e->type));
            return -EBADMSG;
        }
        seen[e->type] = e;
    }
    for (uint32_t t = CRS_SEC_HOST; t <= CRS_SEC_AUXV; t++) /* those after AUXV: optional */
        if (!seen[t]) {
            crs_seterr(err, errlen, "damaged: no %s section", section_name(t));
            return -EBADMSG;
        }

    void *p;
    const struct crs_img_toc_entry *e;

    e = seen[CRS_SEC_HOST];
    if ((r = need_count(e, sizeof img->host, err, errlen)) || e->count != 1)
        return r ? r : (crs_seterr(err, errlen, "damaged host section"), -EBADMSG);
    if ((r = load_section(img, e, &p, err, errlen)))
        return r;
    memcpy(&img->host, p, sizeof img->host);
    free(p);
    /* each string ends in its field, whatever the image holds */
#define TERMINATE(f) ((f)[sizeof(f) - 1] = '\0')
    TERMINATE(img->host.sysname);
    TERMINATE(img->host.release);
    TERMINATE(img->host.version);
    TERMINATE(img->host.machine);
    TERMINATE(img->host.libc_version);
#undef TERMINATE

    e = seen[CRS_SEC_PROCESS];
    if ((r = need_count(e, sizeof img->process, err, errlen)) || e->count != 1)
        return r ? r : (crs_seterr(err, errlen, "damaged process section"), -EBADMSG);
    if ((r = load_section(img, e, &p, err, errlen)))
        return r;
    memcpy(&img->process, p, sizeof img->process);
    free(p);

    e = seen[CRS_SEC_STRINGS];
    if ((r = load_section(img, e, &p, err, errlen)))
        return r;
    img->strings = keep(img, p);
    img->strings_len = e->length;
    if (!e->length || img->strings[0] != '\0' || img->strings[e->length - 1] != '\0') {
        crs_seterr(err, errlen, "damaged strings section: not NUL-terminated");
        return -EBADMSG;
    }

    e = seen[CRS_SEC_VMAS];
    if ((r = need_count(e, sizeof(struct crs_img_vma), err, errlen)) ||
        (r = load_section(img, e, &p, err, errlen)))
        return r;
    img->vmas = keep(img, p);
    img->nvmas = e->count;

    e = seen[CRS_SEC_THREADS];
    if ((r = need_count(e, sizeof(struct crs_img_thread), err, errlen)) ||
        (r = load_section(img, e, &p, err, errlen)))
        return r;
    img->threads = keep(img, p);
    img->nthreads = e->count;

    e = seen[CRS_SEC_SIGNALS];
    if ((r = need_count(e, sizeof(struct crs_img_sigaction), err, errlen)))
        return r;
    if (e->count != CRS_IMG_NSIG) {
        crs_seterr(err, errlen, "damaged signals section: %u entries", e->count);
        return -EBADMSG;
    }
    if ((r = load_section(img, e, &p, err, errlen)))
        return r;
    memcpy(img->sigactions, p, sizeof img->sigactions);
    free(p);

    e = seen[CRS_SEC_FDS];
    if ((r = need_count(e, sizeof(struct crs_img_fd), err, errlen)) ||
        (r = load_section(img, e, &p, err, errlen)))
        return r;
    img->fds = keep(img, p);
    img->nfds = e->count;

    e = seen[CRS_SEC_ARGV];
    if (e->length > CRS_IMG_MAX_ARGV) {
        crs_seterr(err, errlen, "damaged argv section: length %llu too large",
                   (unsigned long long)e->length);
        return -EBADMSG;
    }
    if ((r = load_section(img, e, &p, err, errlen)))
        return r;
    keep(img, p);
    if ((r = split_argv(img, p, e->length, e->count, err, errlen)))
        return r;

    e = seen[CRS_SEC_AUXV];
    if ((r = need_count(e, 16, err, errlen)) || (r = load_section(img, e, &p, err, errlen)))
        return r;
    img->auxv = keep(img, p);
    img->nauxv = e->count;

    if ((e = seen[CRS_SEC_QUEUED]) && (r = load_queued(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_DELETED]) && (r = load_deleted(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_UNSAVED]) && (r = load_unsaved(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_MAPHASH])) {
        if ((r = need_count(e, sizeof(struct crs_img_maphash), err, errlen)))
            return r;
        if ((r = load_section(img, e, &p, err, errlen)))
            return r;
        img->maphash = keep(img, p);
        img->nmaphash = e->count;
        for (uint32_t i = 0; i < img->nmaphash; i++) {
            const struct crs_img_vma *v = crs_image_find_vma(img, img->maphash[i].start);
            if (!v || v->start != img->maphash[i].start || v->kind != CRS_VMA_FILE_SHARED ||
                img->maphash[i].len > v->end - v->start) {
                crs_seterr(err, errlen, "damaged mapped-file-hashes section: record %u is for "
                           "no shared file region", i);
                return -EBADMSG;
            }
        }
    }
    if ((e = seen[CRS_SEC_ATTRS])) {
        if ((r = need_count(e, sizeof img->attrs, err, errlen)) || e->count != 1)
            return r ? r : (crs_seterr(err, errlen, "damaged attributes section"), -EBADMSG);
        if ((r = load_section(img, e, &p, err, errlen)))
            return r;
        memcpy(&img->attrs, p, sizeof img->attrs);
        free(p);
    }

    e = seen[CRS_SEC_PAGES];
    struct crs_img_section sh;
    if ((r = read_at(img->fd, &sh, sizeof sh, e->offset))) {
        crs_seterr(err, errlen, "reading the pages section: %s", strerror(-r));
        return r;
    }
    if (sh.type != CRS_SEC_PAGES || sh.length != e->length) {
        crs_seterr(err, errlen,
                   "damaged pages section: header does not match the table of contents");
        return -EBADMSG;
    }
    img->pages_offset = e->offset + sizeof sh;
    img->pages_length = e->length;
    img->nchunks = e->count;
    if ((uint64_t)e->count * sizeof(struct crs_img_chunk) > e->length) {
        crs_seterr(err, errlen, "damaged pages section: %u chunks in %llu bytes", e->count,
                   (unsigned long long)e->length);
        return -EBADMSG;
    }

    if ((r = check_process(img, err, errlen)) || (r = check_vmas(img, err, errlen)) ||
        (r = check_threads(img, err, errlen)) || (r = check_fds(img, err, errlen)))
        return r;
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
    if ((r = read_at(img->fd, &img->header, sizeof img->header, 0)) ||
        (r = check_header(img, err, errlen)))
        goto fail_io;
    if (img->file_size < sizeof img->header + sizeof img->trailer) {
        r = -EBADMSG;
        crs_seterr(err, errlen, "truncated: trailer missing (file is %llu bytes)",
                   (unsigned long long)img->file_size);
        goto fail;
    }
    if ((r = read_at(img->fd, &img->trailer, sizeof img->trailer,
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
    if ((r = read_at(img->fd, img->toc, img->ntoc * sizeof *img->toc, img->trailer.toc_offset)))
        goto fail_io;
    if (XXH3_64bits(img->toc, img->ntoc * sizeof *img->toc) != img->trailer.toc_checksum) {
        r = -EBADMSG;
        crs_seterr(err, errlen, "damaged table of contents: checksum mismatch");
        goto fail;
    }
    if ((r = load_all(img, err, errlen)))
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
    free(img->argv);
    free(img->envp);
    free(img->toc);
    free(img->path);
    free(img->cbuf);
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

void crs_image_chunk_begin(const struct crs_image *img, struct crs_chunk_iter *it)
{
    memset(it, 0, sizeof *it);
    it->next = img->pages_offset;
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
    if ((r = read_at(img->fd, c, sizeof *c, it->next))) {
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

/* Reads a chunk's stored bytes into dst (raw chunks) or the reader's buffer, and checks their
 * checksum. Sets *src to them. */
/* Reads a chunk's stored bytes (into dst itself when they are raw pages), checks them and
 * decompresses them into dst when dst is set. Touches only fd, dctx and cbuf. */
static int decode_chunk(int fd, void *dctx, void *cbuf, const struct crs_chunk_iter *it,
                        void *dst, const void **src, char *err, size_t errlen)
{
    const struct crs_img_chunk *c = &it->chunk;
    size_t raw = (size_t)c->npages * CRS_IMG_PAGE_SIZE;
    void *buf = (dst && (c->flags & CRS_CHUNK_F_RAW)) ? dst : cbuf;
    int r;

    if ((r = read_at(fd, buf, c->clen, it->data_offset))) {
        crs_seterr(err, errlen, "reading chunk %u: %s", it->index - 1,
                   r == -EBADMSG ? "truncated" : strerror(-r));
        return r;
    }
    if (XXH3_64bits(buf, c->clen) != c->checksum) {
        crs_seterr(err, errlen,
                   "damaged chunk %u (pages at %llx): checksum mismatch", it->index - 1,
                   (unsigned long long)c->addr);
        return -EBADMSG;
    }
    *src = buf;
    if (dst && !(c->flags & CRS_CHUNK_F_RAW)) {
        size_t n = ZSTD_decompressDCtx(dctx, dst, raw, buf, c->clen);
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
        img->cbuf = malloc(img->cbuf_size);
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
    rd->cbuf = malloc(rd->cbuf_size);
    rd->dctx = ZSTD_createDCtx();
    if (!rd->cbuf || !rd->dctx) {
        crs_chunk_reader_free(rd);
        return -ENOMEM;
    }
    return 0;
}

void crs_chunk_reader_free(struct crs_chunk_reader *rd)
{
    free(rd->cbuf);
    ZSTD_freeDCtx(rd->dctx);
    rd->cbuf = rd->dctx = NULL;
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

    if ((deep && !buf) || !hs) {
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
    crs_image_chunk_begin(img, &it);
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

/* True for "ckpt-*.crsnap": temp files are hidden (leading dot) and never match. */
static int is_image_name(const char *name)
{
    size_t n = strlen(name), lp = strlen(CRS_IMG_PREFIX), ls = strlen(CRS_IMG_SUFFIX);
    return n > lp + ls && !strncmp(name, CRS_IMG_PREFIX, lp) &&
           !strcmp(name + n - ls, CRS_IMG_SUFFIX);
}

/* The sequence number a file name carries ("ckpt-000012.crsnap" -> 12), for images too
 * damaged to read it from; UINT64_MAX when the name has none. */
static uint64_t name_seq(const char *name)
{
    const char *p = name + strlen(CRS_IMG_PREFIX);
    char *end;
    unsigned long long v;

    if (*p < '0' || *p > '9')
        return UINT64_MAX;
    errno = 0;
    v = strtoull(p, &end, 10);
    return errno || strcmp(end, CRS_IMG_SUFFIX) ? UINT64_MAX : (uint64_t)v;
}

int crs_image_find_latest(const char *dir, char *path, size_t len)
{
    return crs_image_find_below(dir, UINT64_MAX, NULL, NULL, path, len, NULL);
}

int crs_image_find_below(const char *dir, uint64_t below, crs_image_skip_fn skip, void *arg,
                         char *path, size_t len, uint64_t *seq_out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint64_t best_seq = 0, best_time = 0;
    int found = 0;

    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        char p[CRS_PATH_MAX], err[256];
        struct crs_image *img;
        if (!is_image_name(de->d_name))
            continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= sizeof p)
            continue;
        if (crs_image_open(p, &img, err, sizeof err)) {
            uint64_t ns = name_seq(de->d_name);
            if (skip && ns < below)
                skip(p, ns, err, arg);
            continue;
        }
        uint64_t seq = img->header.seq, t = img->header.created_ns;
        crs_image_close(img);
        if (seq >= below)
            continue;
        if (!found || seq > best_seq || (seq == best_seq && t > best_time)) {
            if ((size_t)snprintf(path, len, "%s", p) >= len)
                continue;
            best_seq = seq;
            best_time = t;
            found = 1;
        }
    }
    closedir(d);
    if (found && seq_out)
        *seq_out = best_seq;
    return found ? 0 : -ENOENT;
}
