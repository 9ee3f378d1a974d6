/* restore/restore_lazy.c - lazy restore (--lazy): the private anonymous regions are registered
 * with a userfaultfd of the restored process and left empty; a helper process, forked before
 * they are mapped, fills them from the image, on first touch (a fault it is told of, in user or
 * kernel mode) and in the background: hot pages first (each thread's stack near its saved sp,
 * the restart stack and plan), then in address order. When every saved page is in, it
 * unregisters the regions and exits. The helper's parent, a guardian, turns the helper's death
 * (or a damaged chunk) into SIGBUS for the restored process, which holds the userfaultfd itself
 * so that its empty pages never read as zeros. The fork, mremap, madvise and munmap of the
 * program during the lazy phase come to the helper as events (lazy_helper.c).
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"
#include "common/hugebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>

#define LAZY_FEATURES (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | \
                       UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP)

int crs_restore_lazy_region(const struct crs_restore *r, const struct crs_img_vma *v)
{
    if (!r->lazy || !(v->flags & CRS_VMA_F_SAVED) ||
        (v->flags & (CRS_VMA_F_SHMOBJ | CRS_VMA_F_LOCKED | CRS_VMA_F_GUARDS)))
        return 0;
    return v->kind == CRS_VMA_ANON || v->kind == CRS_VMA_HEAP || v->kind == CRS_VMA_STACK;
}

/* A userfaultfd whose faults in kernel mode are handled too (a read() into an empty page must
 * wait for it, not fail with EFAULT): so not UFFD_USER_MODE_ONLY. -errno when refused. */
static int open_uffd(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct uffdio_api api = { .api = UFFD_API, .features = LAZY_FEATURES };
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void say_eager(struct crs_restore *r, int e)
{
    fprintf(stderr, "crsnap restore: --lazy: userfaultfd is not available to this user (%s%s): "
            "restoring eagerly\n", strerror(e),
            e == EPERM ? "; vm.unprivileged_userfaultfd is 0" : "");
    r->lazy = 0;
}

int crs_restore_lazy_probe(struct crs_restore *r)
{
    int fd = open_uffd();
    if (fd < 0) {
        say_eager(r, -fd);
        return 0;
    }
    close(fd);
    r->lazy = 1;
    return 1;
}

/* One record of the index the walk makes when the image has none. */
static int index_chunk(struct crs_restore *r, const struct crs_chunk_iter *it)
{
    if (r->nidx == r->own_cap) {
        uint32_t cap = r->own_cap ? 2 * r->own_cap : 4096;
        struct crs_img_pageidx *v = realloc(r->own_idx, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        r->own_idx = v;
        r->idx = v;
        r->own_cap = cap;
    }
    r->own_idx[r->nidx++] = (struct crs_img_pageidx){
        .addr = it->chunk.addr, .npages = it->chunk.npages,
        .offset = it->data_offset - sizeof(struct crs_img_chunk) };
    return 0;
}

int crs_restore_lazy_index(struct crs_restore *r, char *err, size_t errlen)
{
    struct crs_image *img = r->img;
    const struct crs_img_toc_entry *pages = NULL;
    struct crs_chunk_iter it;
    uint64_t total = 0;
    int rc;

    /* The image's page index was checked when it was opened: nothing more is read now, each
     * chunk's header is read and compared with its record when the chunk is needed. */
    if (img->npageidx) {
        r->idx = img->pageidx;
        r->nidx = img->npageidx;
        return 0;
    }
    struct crs_read_window win = { .buf = crs_hugebuf_alloc(CRS_READ_WINDOW),
                                   .size = CRS_READ_WINDOW };
    XXH3_state_t *hs = XXH3_createState();
    if (!win.buf || !hs) {
        crs_hugebuf_free(win.buf, CRS_READ_WINDOW);
        XXH3_freeState(hs);
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < img->ntoc; i++)
        if (img->toc[i].type == CRS_SEC_PAGES)
            pages = &img->toc[i];
    /* Every header is checked now (and their checksum), as a restore checks them; the bytes of
     * each chunk are checked by the helper when it reads them. */
    XXH3_64bits_reset(hs);
    crs_image_chunk_begin_window(img, &it, &win);
    while ((rc = crs_image_next_chunk(img, &it, err, errlen)) > 0) {
        XXH3_64bits_update(hs, &it.chunk, sizeof it.chunk);
        total += (uint64_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
        if (index_chunk(r, &it)) {
            crs_seterr(err, errlen, "out of memory");
            rc = -ENOMEM;
            break;
        }
    }
    if (rc == 0 && (!pages || XXH3_64bits_digest(hs) != pages->checksum)) {
        crs_seterr(err, errlen, "%s: damaged pages section: chunk headers checksum mismatch",
                   img->path);
        rc = -EBADMSG;
    }
    if (rc == 0 && total != img->process.memory_saved) {
        crs_seterr(err, errlen, "%s: damaged: chunks hold %" PRIu64 " bytes, process section "
                   "says %" PRIu64, img->path, total, img->process.memory_saved);
        rc = -EBADMSG;
    }
    XXH3_freeState(hs);
    crs_hugebuf_free(win.buf, CRS_READ_WINDOW);
    return rc < 0 ? rc : 0;
}

/* The helper's parent: waits for it; when it did not finish (killed, a damaged chunk), the
 * restored process gets SIGBUS, so that it stops instead of waiting for pages that will not
 * come. It holds the process by a pidfd, so the signal cannot reach another process. */
static __attribute__((noreturn)) void guardian(struct crs_restore *r, int pidfd, int gofd)
{
    int st = 0;
    pid_t helper;

    prctl(PR_SET_NAME, "crsnap-guard", 0, 0, 0);
    helper = fork();
    if (helper == 0) {
        prctl(PR_SET_NAME, "crsnap-lazy", 0, 0, 0);
        close(pidfd);
        crs_lazy_helper(r, gofd);
    }
    close(r->uffd);
    close(gofd);
    if (helper < 0)
        st = 1;
    else
        while (waitpid(helper, &st, 0) < 0 && errno == EINTR) {}
    if (helper < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "crsnap restore: the lazy restore helper %s before every page was in: "
                "the restored process gets SIGBUS\n",
                helper < 0 ? "could not start" : WIFSIGNALED(st) ? "was killed" : "failed");
        syscall(SYS_pidfd_send_signal, pidfd, SIGBUS, NULL, 0);
    }
    _exit(0);
}

int crs_restore_lazy_start(struct crs_restore *r, char *err, size_t errlen)
{
    int go[2], pidfd, fd;
    pid_t mid;

    if ((fd = open_uffd()) < 0) {
        /* in a user namespace of its own, userfaultfd may be refused where it was not outside */
        say_eager(r, -fd);
        return 1;
    }
    r->uffd = fd;
    pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0 || pipe2(go, O_CLOEXEC) < 0) {
        int e = errno;
        crs_seterr(err, errlen, "--lazy: cannot prepare the helper: %s", strerror(e));
        return -e;
    }
    fflush(NULL);
    /* Twice forked: the guardian and the helper are not the restored program's children (it
     * must not reap them, nor see them in wait()), and in a session of their own. */
    mid = fork();
    if (mid == 0) {
        setsid();
        close(go[1]);
        if (fork() == 0)
            guardian(r, pidfd, go[0]);
        _exit(0);
    }
    close(go[0]);
    close(pidfd);
    if (mid < 0) {
        int e = errno;
        close(go[1]);
        crs_seterr(err, errlen, "--lazy: cannot start the helper: %s", strerror(e));
        return -e;
    }
    while (waitpid(mid, NULL, 0) < 0 && errno == EINTR) {}
    r->lazy_go = go[1];
    return 0;
}

int crs_restore_lazy_register(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;

    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if (!crs_restore_lazy_region(r, v))
            continue;
        struct uffdio_register reg = {
            .range = { .start = v->start, .len = v->end - v->start },
            .mode = UFFDIO_REGISTER_MODE_MISSING,
        };
        if (ioctl(r->uffd, UFFDIO_REGISTER, &reg) < 0) {
            int e = errno;
            crs_seterr(err, errlen, "--lazy: cannot register %#" PRIx64 "-%#" PRIx64 " with "
                       "userfaultfd: %s", v->start, v->end, strerror(e));
            return -e;
        }
    }
    /* From here on the helper serves these regions: the restorer's own writes into them (the
     * plan) wait for it as the program's will. */
    char one = 1;
    int ok = write(r->lazy_go, &one, 1) == 1;
    close(r->lazy_go);
    r->lazy_go = -1;
    if (!ok) {
        crs_seterr(err, errlen, "--lazy: the helper is gone");
        return -EPIPE;
    }
    return 0;
}

int crs_restore_lazy_chunk_lazy(const struct crs_restore *r, uint32_t k)
{
    const struct crs_img_vma *v = crs_image_find_vma(r->img, r->idx[k].addr);
    return v && crs_restore_lazy_region(r, v);
}

int crs_restore_lazy_chunk(struct crs_restore *r, uint32_t k, struct crs_read_window *win,
                           struct crs_chunk_iter *it, char *err, size_t errlen)
{
    int rc;

    crs_image_chunk_begin_window(r->img, it, win);
    it->next = r->idx[k].offset;
    it->index = k;
    if ((rc = crs_image_next_chunk(r->img, it, err, errlen)) <= 0)
        return rc < 0 ? rc : -EBADMSG;
    if (it->chunk.addr != r->idx[k].addr || it->chunk.npages != r->idx[k].npages) {
        crs_seterr(err, errlen, "%s: damaged chunk %u: it does not match the page index",
                   r->img->path, k);
        return -EBADMSG;
    }
    return 0;
}

/* Region by region, the index searched for each: a large image has hundreds of thousands of
 * chunks, nearly all in the regions the helper fills, which are not walked. */
int crs_restore_lazy_fill_eager(struct crs_restore *r, char *err, size_t errlen)
{
    struct crs_image *img = r->img;
    struct crs_chunk_reader *rd = &r->rd[0];
    struct crs_chunk_iter it;

    for (uint32_t k = 0; k < img->nvmas; k++) {
        const struct crs_img_vma *v = &img->vmas[k];
        if (crs_restore_lazy_region(r, v) || !crs_restore_takes_pages(r, v))
            continue;
        for (uint32_t i = crs_image_idx_at(r->idx, r->nidx, v->start);
             i < r->nidx && r->idx[i].addr < v->end; i++) {
            size_t len = (size_t)r->idx[i].npages * CRS_IMG_PAGE_SIZE;
            /* a few chunks scattered through the file: read each on its own, no window */
            int rc = crs_restore_lazy_chunk(r, i, NULL, &it, err, errlen);
            if (!rc)
                rc = crs_image_read_chunk_r(img, rd, &it, (void *)(uintptr_t)r->idx[i].addr,
                                            len, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}
