/* restore/restore_shm.c - shared memory that lives only in memory comes back as one object
 * again. Two regions mapping the same memfd, shmem or unlinked file (a JIT's double mapping), or
 * a region and a descriptor of it (a memfd written through its descriptor and read through its
 * mapping), must still share their pages after a restore: a region mapped on its own would be
 * an unrelated copy, and writes through one would no longer be seen through the other. So each
 * such object is made once, as a memfd of its size holding the contents the image has for it
 * (the DELETED section's, then the regions' saved pages over them), before the regions are
 * mapped; the regions map it, and the descriptors (fds/memfd.c, fds/unlinked.c) open it again.
 * A region that shares with nothing keeps being mapped anonymous; memory that another process
 * of a job maps too is the job's, made once (restore_tree.c). Runs in the restorer.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int crs_restore_shm_region(const struct crs_img_vma *v)
{
    /* a SysV segment or /dev/shm object is made again as itself (restore_shmobj.c) */
    return v->ino && !(v->flags & CRS_VMA_F_SHMOBJ) && (v->kind == CRS_VMA_ANON_SHARED ||
                      (v->kind == CRS_VMA_FILE_SHARED && (v->flags & CRS_VMA_F_DELETED)));
}

struct crs_restore_shm *crs_restore_shm_find(struct crs_restore *r, uint64_t dev, uint64_t ino)
{
    for (uint32_t i = 0; i < r->nshm; i++)
        if (r->shm[i].dev == dev && r->shm[i].ino == ino)
            return &r->shm[i];
    return NULL;
}

/* The name memfd_create is given: the region's, for a memfd ("/memfd:NAME (deleted)"). */
static void name_for(const char *path, char *name, size_t cap)
{
    static const char prefix[] = "/memfd:", suffix[] = " (deleted)";
    size_t n;

    snprintf(name, cap, "crsnap-shm");
    if (!path || strncmp(path, prefix, sizeof prefix - 1))
        return;
    path += sizeof prefix - 1;
    n = strlen(path);
    if (n >= sizeof suffix - 1 && !strcmp(path + n - (sizeof suffix - 1), suffix))
        n -= sizeof suffix - 1;
    snprintf(name, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), path);
}

static int write_all(int fd, const unsigned char *p, uint64_t len)
{
    for (uint64_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, p + done, (size_t)(len - done), (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        done += (uint64_t)n;
    }
    return 0;
}

/* The objects to make: the shared in-memory regions mapped more than once, or open as a
 * descriptor whose contents the image holds. */
int crs_restore_shm_make(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;

    r->nshm = 0;
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        const struct crs_image_deleted *d = NULL;
        uint32_t maps = 0;
        uint64_t size = 0;

        if (!crs_restore_shm_region(v) || crs_restore_shm_find(r, v->dev, v->ino))
            continue;
        /* memory of the job's, which another process maps too: made and filled once, by the
         * first restorer (restore_tree.c) */
        int job = crs_restore_tree_memory(r, v->dev, v->ino);
        if (job >= 0) {
            int fd = fcntl(job, F_DUPFD_CLOEXEC, 0);
            if (fd < 0) {
                crs_seterr(err, errlen, "cannot use the memory the job shares: %s",
                           strerror(errno));
                return -errno;
            }
            r->shm[r->nshm++] = (struct crs_restore_shm){ .dev = v->dev, .ino = v->ino,
                                                          .fd = fd };
            continue;
        }
        for (uint32_t j = 0; j < img->nvmas; j++) {
            const struct crs_img_vma *w = &img->vmas[j];
            if (crs_restore_shm_region(w) && w->dev == v->dev && w->ino == v->ino) {
                maps++;
                if (w->file_offset + (w->end - w->start) > size)
                    size = w->file_offset + (w->end - w->start);
            }
        }
        for (uint32_t k = 0; k < img->nfds && !d; k++)
            if (img->fds[k].dev == v->dev && img->fds[k].ino == v->ino)
                d = crs_image_deleted_for(img, &img->fds[k]);
        if (maps < 2 && !d)
            continue;
        if (d && d->size > size)
            size = d->size;

        char name[250];
        name_for(crs_image_string(img, v->path), name, sizeof name);
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), e = 0;
        if (fd < 0 || ftruncate(fd, (off_t)size) < 0 || (d && (e = write_all(fd, d->data,
                                                                                d->size)) < 0)) {
            e = e ? e : -errno;
            if (fd >= 0)
                close(fd);
            crs_seterr(err, errlen, "cannot make the shared memory of %#" PRIx64 " (%s) again: %s",
                       v->start, name, strerror(-e));
            return e;
        }
        r->shm[r->nshm++] = (struct crs_restore_shm){ .dev = v->dev, .ino = v->ino, .fd = fd };
    }
    return 0;
}

int crs_restore_shm_lift(struct crs_restore *r, int floor, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < r->nshm; i++) {
        int hi = fcntl(r->shm[i].fd, F_DUPFD_CLOEXEC, floor);
        if (hi < 0) {
            int e = errno;
            crs_seterr(err, errlen, "cannot move a shared memory descriptor above %d: %s", floor,
                       strerror(e));
            return -e;
        }
        close(r->shm[i].fd);
        r->shm[i].fd = hi;
    }
    return 0;
}

void crs_restore_shm_close(struct crs_restore *r)
{
    for (uint32_t i = 0; i < r->nshm; i++)
        if (r->shm[i].fd >= 0)
            close(r->shm[i].fd);
    r->nshm = 0;
}
