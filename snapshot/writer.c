/* snapshot/writer.c - streaming writer for the snapshot child. Runs in the forked child: no malloc,
 * no stdio, no locks. A slot is handed to io_uring when full and reused once its completion
 * arrives; a short completion is finished with pwrite, which also yields the real error
 * (ENOSPC, EFBIG, EDQUOT) when the disk or a limit is what stopped it. Whole slots may go
 * through a second, O_DIRECT descriptor; the file system's refusals (of direct writes, or of
 * ring writes altogether) fall back to buffered writes and pwrite rather than fail.
 */
#define _GNU_SOURCE
#include "writer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int pwrite_all(int fd, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EIO;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int crs_writer_init(struct crs_writer *w, int fd, int force_pwrite, void *mem)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->dfd = -1;
    for (int i = 0; i < CRS_WRITER_SLOTS; i++)
        w->slot[i] = (char *)mem + (size_t)i * CRS_WRITER_SLOT_SIZE;
    if (!force_pwrite) {
        int r = io_uring_queue_init(2 * CRS_WRITER_SLOTS, &w->ring, 0);
        if (r == 0)
            w->uring = 1;
        else
            w->uring_err = r;
    }
    return 0;
}

void crs_writer_set_direct(struct crs_writer *w, int dfd)
{
    w->dfd = dfd;
}

/* Direct writes refused (why: -errno, 0 at the end): close the direct descriptor, write
 * buffered from now on. */
static void drop_direct(struct crs_writer *w, int why)
{
    if (w->dfd >= 0)
        close(w->dfd);
    w->dfd = -1;
    if (why)
        w->direct_err = why;
}

/* Waits for one completion and frees its slot. */
static int reap_one(struct crs_writer *w)
{
    struct io_uring_cqe *cqe;
    int r;
    do
        r = io_uring_wait_cqe(&w->ring, &cqe);
    while (r == -EINTR);
    if (r < 0)
        return r;
    int s = (int)io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&w->ring, cqe);
    if (s < 0 || s >= CRS_WRITER_SLOTS)
        return -EIO;
    uint32_t len = w->slot_len[s];
    w->slot_len[s] = 0;
    if (w->slot_direct[s] && (res == -EINVAL || res == -EOPNOTSUPP || res == -ENOTSUP)) {
        drop_direct(w, res);
        return pwrite_all(w->fd, w->slot[s], len, w->slot_off[s]);
    }
    if (res == -EINVAL || res == -EOPNOTSUPP || res == -ENOTSUP || res == -ENOSYS) {
        /* the ring works but this file system will not take its writes: pwrite instead,
         * which also yields the real error if the write itself is what is wrong */
        w->degrade = 1;
        w->uring_err = res;
        return pwrite_all(w->fd, w->slot[s], len, w->slot_off[s]);
    }
    if (res < 0)
        return res;
    if (w->slot_direct[s])
        w->direct_used = 1;
    if ((uint32_t)res < len)
        return pwrite_all(w->fd, w->slot[s] + res, len - (uint32_t)res, w->slot_off[s] + (uint64_t)res);
    return 0;
}

/* Waits for everything in flight and leaves the ring: later writes use pwrite. */
static int leave_ring(struct crs_writer *w)
{
    int r = 0;
    for (int i = 0; i < CRS_WRITER_SLOTS; i++)
        while (w->slot_len[i]) {
            int e = reap_one(w);
            if (e && !r)
                r = e;
        }
    io_uring_queue_exit(&w->ring);
    w->uring = 0;
    return r;
}

static int submit_slot(struct crs_writer *w)
{
    int s = w->cur;
    if (w->uring && w->degrade) {
        int r = leave_ring(w);
        if (r)
            return r;
    }
    if (!w->fill)
        return 0;
    int direct = w->dfd >= 0 && w->fill == CRS_WRITER_SLOT_SIZE &&
                 w->base % CRS_WRITER_SLOT_SIZE == 0;
    if (!w->uring) {
        int r = pwrite_all(direct ? w->dfd : w->fd, w->slot[s], w->fill, w->base);
        if (direct && (r == -EINVAL || r == -EOPNOTSUPP || r == -ENOTSUP)) {
            drop_direct(w, r);
            r = pwrite_all(w->fd, w->slot[s], w->fill, w->base);
        } else if (direct && !r) {
            w->direct_used = 1;
        }
        if (r)
            return r;
    } else {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
        if (!sqe)
            return -EBUSY; /* cannot happen: the ring has room for every slot */
        io_uring_prep_write(sqe, direct ? w->dfd : w->fd, w->slot[s], (unsigned)w->fill, w->base);
        w->slot_direct[s] = direct;
        sqe->rw_flags = (__kernel_rwf_t)w->test_rw_flags;
        io_uring_sqe_set_data64(sqe, (uint64_t)s);
        w->slot_len[s] = (uint32_t)w->fill;
        w->slot_off[s] = w->base;
        int r;
        do
            r = io_uring_submit(&w->ring);
        while (r == -EINTR);
        if (r < 0) {
            w->slot_len[s] = 0;
            return r;
        }
    }
    w->base += w->fill;
    w->fill = 0;
    w->cur = (w->cur + 1) % CRS_WRITER_SLOTS;
    /* the next slot may still be in flight: wait until it is free */
    while (w->uring && w->slot_len[w->cur]) {
        int r = reap_one(w);
        if (r)
            return r;
    }
    return 0;
}

int crs_writer_append(struct crs_writer *w, const void *p, size_t n)
{
    const char *src = p;
    if (w->err)
        return w->err;
    while (n) {
        size_t room = CRS_WRITER_SLOT_SIZE - w->fill;
        size_t k = n < room ? n : room;
        memcpy(w->slot[w->cur] + w->fill, src, k);
        w->fill += k;
        src += k;
        n -= k;
        if (w->fill == CRS_WRITER_SLOT_SIZE) {
            int r = submit_slot(w);
            if (r)
                return w->err = r;
        }
    }
    return 0;
}

int crs_writer_align(struct crs_writer *w, size_t align)
{
    static const char zeros[64];
    size_t pad = (size_t)((align - crs_writer_pos(w) % align) % align);
    while (pad) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        int r = crs_writer_append(w, zeros, k);
        if (r)
            return r;
        pad -= k;
    }
    return 0;
}

uint64_t crs_writer_pos(const struct crs_writer *w)
{
    return w->base + w->fill;
}

int crs_writer_flush(struct crs_writer *w)
{
    int r;
    if (w->err)
        return w->err;
    if ((r = submit_slot(w)))
        return w->err = r;
    for (int i = 0; w->uring && i < CRS_WRITER_SLOTS; i++)
        while (w->slot_len[i])
            if ((r = reap_one(w)))
                return w->err = r;
    if (w->uring && w->degrade && (r = leave_ring(w)))
        return w->err = r;
    return 0;
}

int crs_writer_write_at(struct crs_writer *w, const void *p, size_t n, uint64_t off)
{
    int r = crs_writer_flush(w);
    if (r)
        return r;
    if ((r = pwrite_all(w->fd, p, n, off)))
        w->err = r;
    return r;
}

void crs_writer_end(struct crs_writer *w)
{
    if (w->uring) {
        /* wait for what is still in flight so that no write lands after we return */
        for (int i = 0; i < CRS_WRITER_SLOTS; i++)
            while (w->slot_len[i])
                if (reap_one(w))
                    break;
        io_uring_queue_exit(&w->ring);
        w->uring = 0;
    }
    drop_direct(w, 0);
}
