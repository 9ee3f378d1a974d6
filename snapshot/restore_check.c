/* snapshot/restore_check.c - the restorer's checks that need no change to the process: is this
 * host the one the image expects (kernel, libc, CPU state features), and are the files the image
 * maps or holds open still there, unchanged.
 */
#define _GNU_SOURCE
#include "restore.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

int crs_restore_check_host(const struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_host *h = &img->host;
    struct utsname u;
    const char *release, *libc;
    uint64_t xf;

    if (img->header.arch != CRS_ARCH_ID) {
        seterr(err, errlen, "incompatible host: the image is for another architecture (id %u)",
               img->header.arch);
        return -ENOEXEC;
    }
    if (uname(&u) < 0)
        return -errno;
    /* Test hooks: pretend to be another host, to exercise these errors. */
    release = getenv("CRSNAP_TEST_FAKE_RELEASE") ? getenv("CRSNAP_TEST_FAKE_RELEASE") : u.release;
    libc = getenv("CRSNAP_TEST_FAKE_LIBC") ? getenv("CRSNAP_TEST_FAKE_LIBC")
                                           : gnu_get_libc_version();
    xf = getenv("CRSNAP_TEST_FAKE_XFEATURES")
             ? strtoull(getenv("CRSNAP_TEST_FAKE_XFEATURES"), NULL, 0)
             : crs_arch_xfeatures();
    if (strncmp(h->machine, u.machine, sizeof h->machine)) {
        seterr(err, errlen, "incompatible host: image taken on %.65s, this is %s", h->machine,
               u.machine);
        return -ENOEXEC;
    }
    if (strncmp(h->release, release, sizeof h->release)) {
        seterr(err, errlen, "incompatible host: image taken on kernel %.65s, this is %s",
               h->release, release);
        return -ENOEXEC;
    }
    if (strncmp(h->libc_version, libc, sizeof h->libc_version)) {
        seterr(err, errlen, "incompatible host: image taken with glibc %.32s, this is %s",
               h->libc_version, libc);
        return -ENOEXEC;
    }
    if (h->xfeatures != xf) {
        seterr(err, errlen, "incompatible host: CPU state features (XCR0) %#llx in the image, "
               "%#llx here", (unsigned long long)h->xfeatures, (unsigned long long)xf);
        return -ENOEXEC;
    }
    if (h->page_size != (uint32_t)sysconf(_SC_PAGESIZE) ||
        img->header.page_size != CRS_IMG_PAGE_SIZE) {
        seterr(err, errlen, "incompatible host: page size %u in the image", h->page_size);
        return -ENOEXEC;
    }
    return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* A mapped file must be the very file: same size and mtime (inode numbers change when a file
 * is copied back, which is fine; a library rebuilt in place is not). */
static int check_mapped(const struct crs_image *img, const struct crs_img_vma *v,
                        const struct crs_restore_opts *o, char *err, size_t errlen)
{
    const char *path = crs_image_string(img, v->path);
    struct stat st;

    if (!path || path[0] != '/')
        return 0;
    if (stat(path, &st) < 0) {
        seterr(err, errlen, "%s is missing (mapped at %#llx at the checkpoint)", path,
               (unsigned long long)v->start);
        return o->force ? 1 : -ENOENT;
    }
    /* A writable shared mapping is the process's own output: the file holds its contents and
     * the process (or its run after the checkpoint) changes it in place, as the JVM does with
     * its hsperfdata file. Only a file that shrank would fault on access after the restore. */
    if ((v->flags & CRS_VMA_F_SHARED) && (v->prot & PROT_WRITE) &&
        (uint64_t)st.st_size >= v->file_size) {
        if ((uint64_t)st.st_size == v->file_size && mtime_ns(&st) == v->file_mtime_ns)
            return 0;
        seterr(err, errlen, "%s changed since the checkpoint; it is mapped shared and writable, "
               "so the restored process sees its current contents", path);
        return 1;
    }
    if ((uint64_t)st.st_size != v->file_size || mtime_ns(&st) != v->file_mtime_ns) {
        seterr(err, errlen, "%s changed since the checkpoint (size/mtime differ)", path);
        return o->force ? 1 : -ESTALE;
    }
    return 0;
}

/* Open regular files and devices are reopened by name: a missing one is an error (--force:
 * the descriptor stays closed); a changed one only a warning, since a program that writes a
 * file after its checkpoint changes it. */
static int check_fd(const struct crs_image *img, const struct crs_img_fd *f,
                    const struct crs_restore_opts *o, char *err, size_t errlen)
{
    const char *path = crs_image_string(img, f->path);
    struct stat st;

    if (f->kind != CRS_FD_FILE && f->kind != CRS_FD_CHR)
        return 0;
    if (f->fd <= 2 && o->own_std)
        return 0;                       /* replaced by the restorer's own */
    if (crs_image_deleted_for(img, f))
        return 0;                       /* no name to check: the image holds its contents */
    if (!path || path[0] != '/') {
        seterr(err, errlen, "descriptor %d has no usable path", f->fd);
        return o->force ? 1 : -ENOENT;
    }
    size_t plen = strlen(path);
    if (f->kind == CRS_FD_FILE && plen > 10 && !strcmp(path + plen - 10, " (deleted)")) {
        seterr(err, errlen, "descriptor %d was open on %s, and its contents are not in the "
               "image (more than %u MiB of such files at the checkpoint)", f->fd, path,
               CRS_SNAP_DELETED_MAX >> 20);
        return o->force ? 1 : -ENOENT;
    }
    if (stat(path, &st) < 0) {
        seterr(err, errlen, "%s is missing (open as descriptor %d at the checkpoint)", path,
               f->fd);
        return o->force ? 1 : -ENOENT;
    }
    if (f->kind == CRS_FD_FILE && S_ISREG(st.st_mode) &&
        ((uint64_t)st.st_size != f->size || mtime_ns(&st) != f->mtime_ns)) {
        seterr(err, errlen, "%s changed since the checkpoint (descriptor %d)", path, f->fd);
        return 1;
    }
    if ((st.st_mode & S_IFMT) != (f->mode & S_IFMT)) {
        seterr(err, errlen, "%s is no longer the same kind of file (descriptor %d)", path, f->fd);
        return o->force ? 1 : -ESTALE;
    }
    return 0;
}

int crs_restore_check_files(const struct crs_image *img, const struct crs_restore_opts *o,
                            char *err, size_t errlen)
{
    /* The library that holds the restart entry must be the very one, --force or not. */
    const struct crs_img_vma *ev = crs_image_find_vma(img, img->process.restart.entry);
    const char *entry_file = ev ? crs_image_string(img, ev->path) : NULL;
    const struct crs_restore_opts strict = { 0 };
    int r;

    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if ((v->kind != CRS_VMA_FILE_PRIVATE && v->kind != CRS_VMA_FILE_SHARED) ||
            (v->flags & CRS_VMA_F_DELETED))
            continue;
        /* A file mapped several times is reported once. */
        if (i > 0 && img->vmas[i - 1].path == v->path && img->vmas[i - 1].ino == v->ino)
            continue;
        const char *path = crs_image_string(img, v->path);
        int is_entry = entry_file && path && !strcmp(path, entry_file);
        if ((r = check_mapped(img, v, is_entry ? &strict : o, err, errlen)) < 0)
            return r;
        if (r > 0)
            fprintf(stderr, "crsnap restore: warning: %s\n", err);
    }
    for (uint32_t i = 0; i < img->nfds; i++) {
        if ((r = check_fd(img, &img->fds[i], o, err, errlen)) < 0)
            return r;
        if (r > 0)
            fprintf(stderr, "crsnap restore: warning: %s\n", err);
    }
    err[0] = '\0';
    return 0;
}
