/* image/records.c - the sections of variable records (QUEUED, DELETED) and the not-restored
 * list (UNSAVED): a bounded walk over the records, each checked against the image's own
 * descriptors, and the lookups that callers make in them.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "reader_internal.h"
#include "fdkind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    if ((r = crs_reader_load_section(img, e, (void **)&p, err, errlen)))
        return r;
    crs_reader_keep(img, p);
    *array = crs_reader_keep(img, calloc(e->count ? e->count : 1, elem));
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
int crs_reader_load_queued(struct crs_image *img, const struct crs_img_toc_entry *e,
                           char *err, size_t errlen)
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
int crs_reader_load_deleted(struct crs_image *img, const struct crs_img_toc_entry *e,
                            char *err, size_t errlen)
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
int crs_reader_load_unsaved(struct crs_image *img, const struct crs_img_toc_entry *e,
                            char *err, size_t errlen)
{
    struct crs_img_unsaved *u;
    int r;

    if ((r = crs_reader_need_count(e, sizeof *u, err, errlen)) ||
        (r = crs_reader_load_section(img, e, (void **)&u, err, errlen)))
        return r;
    crs_reader_keep(img, u);
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
