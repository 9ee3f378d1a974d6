/* restore/restore_shmobj.c - shared memory with a name other processes find it by, made again:
 * SysV segments and POSIX objects of /dev/shm (the SHMOBJ section). Such an object outlives the
 * process that made it, so at restore it may still be there: then it is used as it is, as a
 * file on disk would be (its contents compared with those of the snapshot: a changed one
 * mapped writable is the process's own output and a warning, otherwise an error unless
 * --force); a missing one is made again with the saved size, mode and contents (the regions'
 * saved pages are written into it); a SysV key that another segment holds now is an error, and
 * with --force the process gets a segment of its own without the key, removed once attached (no
 * one else could find it). A segment the process had removed (IPC_RMID) is made private and
 * removed again once attached. The segment's id changes
 * (a new segment gets the id the kernel gives it); the restore says so when the key was free.
 * Runs in the restorer.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "common/filehash.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define PAGE_UP(x) (((x) + CRS_IMG_PAGE_SIZE - 1) & ~(uint64_t)(CRS_IMG_PAGE_SIZE - 1))

/* A SysV segment that must be made private: removed by the process, or with no key. */
static int sysv_private(const struct crs_img_shmobj *o)
{
    return o->key == IPC_PRIVATE || (o->mode & SHM_DEST);
}

/* The segment that holds o's key now: its id, -ENOENT when the key is free, -errno. */
static int sysv_holder(const struct crs_img_shmobj *o, uint64_t *size)
{
    struct shmid_ds ds;
    int id = shmget((key_t)o->key, 0, 0);
    if (id < 0)
        return -errno;
    if (shmctl(id, IPC_STAT, &ds) < 0)
        return -errno;
    *size = ds.shm_segsz;
    return id;
}

/* Do the bytes of segment id that v maps differ from those hashed at the checkpoint? */
static int sysv_differs(int id, const struct crs_img_vma *v, const struct crs_img_maphash *h)
{
    void *p = shmat(id, NULL, SHM_RDONLY);
    int differ = 1;
    if (p == (void *)-1)
        return 1;
    differ = XXH3_64bits((const char *)p + v->file_offset, h->len) != h->hash;
    shmdt(p);
    return differ;
}

static const struct crs_img_maphash *hash_of(const struct crs_image *img,
                                             const struct crs_img_vma *v)
{
    for (uint32_t i = 0; i < img->nmaphash; i++)
        if (img->maphash[i].start == v->start)
            return &img->maphash[i];
    return NULL;
}

/* A SysV segment at restore: 0 (made, or the very one unchanged), 1 with a warning in err, or
 * -errno with the error. */
static int check_sysv(const struct crs_image *img, const struct crs_img_shmobj *o,
                      const struct crs_restore_opts *opts, char *err, size_t errlen)
{
    uint64_t size = 0;
    int id;

    if (sysv_private(o) || crs_restore_jobshm_sysv_puts_back(img, opts, o))
        return 0;                       /* made, or put back, by the job's restore */
    id = sysv_holder(o, &size);
    if (id == -ENOENT)
        return 0;
    if (id >= 0 && (uint64_t)id == o->ino && size == o->size) {
        /* the very segment, alive since: the process sees what it holds now */
        for (uint32_t i = 0; i < img->nvmas; i++) {
            const struct crs_img_vma *v = &img->vmas[i];
            const struct crs_img_maphash *h = hash_of(img, v);
            if (v->dev != o->dev || v->ino != o->ino || !(v->flags & CRS_VMA_F_SHMOBJ) || !h ||
                !sysv_differs(id, v, h))
                continue;
            if (v->prot & PROT_WRITE) {
                crs_seterr(err, errlen, "SysV shared memory key %#x changed since the checkpoint; "
                           "it is attached writable, so the restored process sees its current "
                           "contents", (unsigned)o->key);
                return 1;
            }
            crs_seterr(err, errlen, "SysV shared memory key %#x changed since the checkpoint",
                       (unsigned)o->key);
            return opts->force ? 1 : -ESTALE;
        }
        return 0;
    }
    if (id >= 0)
        crs_seterr(err, errlen, "SysV shared memory key %#x is another segment's now (id %d, "
                   "%" PRIu64 " bytes; the process had id %" PRIu64 ", %" PRIu64 " bytes)%s",
                   (unsigned)o->key, id, size, o->ino, o->size,
                   opts->force ? ": the restored process gets a segment of its own, without the key"
                               : "; --force gives the restored process a segment of its own");
    else
        crs_seterr(err, errlen, "SysV shared memory key %#x cannot be looked up: %s%s",
                   (unsigned)o->key, strerror(-id),
                   opts->force ? ": the restored process gets a segment of its own" : "");
    return opts->force ? 1 : id >= 0 ? -EEXIST : id;
}

int crs_restore_check_shmobj(const struct crs_image *img, const struct crs_img_shmobj *o,
                             const struct crs_restore_opts *opts, char *err, size_t errlen)
{
    if (o->kind == CRS_SHMOBJ_SYSV)
        return check_sysv(img, o, opts, err, errlen);
    /* POSIX: a missing object is made again; a present one is checked as any mapped file is
     * (restore_check.c) */
    return 0;
}

int crs_restore_shmobj_make(struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;

    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *o = &img->shmobj[i];
        struct crs_restore_obj *m = &r->objs[i];
        m->shmid = -1;
        m->fill = 0;
        m->remove = 0;
        if (o->kind == CRS_SHMOBJ_POSIX) {
            const char *path = crs_image_string(img, o->path);
            int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          (mode_t)(o->mode & 07777));
            if (fd < 0 && errno == EEXIST)
                continue;               /* there: used as it is (checked before) */
            if (fd < 0 || fchmod(fd, (mode_t)(o->mode & 07777)) < 0 ||
                ftruncate(fd, (off_t)o->size) < 0) {
                int e = errno;
                if (fd >= 0) {
                    close(fd);
                    unlink(path);
                }
                crs_seterr(err, errlen, "cannot make the shared memory object %s again: %s", path,
                           strerror(e));
                return -e;
            }
            close(fd);
            m->fill = 1;
            continue;
        }
        int job = crs_restore_jobshm_sysv(o->ino);
        if (job >= 0) {                 /* the job's segment, made and filled once */
            m->shmid = job;
            m->remove = (o->mode & SHM_DEST) != 0;
            continue;
        }
        uint64_t size = 0;
        int id = sysv_private(o) ? -ENOENT : sysv_holder(o, &size);
        if (id >= 0 && (uint64_t)id == o->ino && size == o->size) {
            m->shmid = id;              /* the very segment */
            continue;
        }
        key_t key = sysv_private(o) || id != -ENOENT ? IPC_PRIVATE : (key_t)o->key;
        m->shmid = shmget(key, (size_t)o->size, IPC_CREAT | IPC_EXCL | (int)(o->mode & 0777));
        if (m->shmid < 0) {
            int e = errno;
            crs_seterr(err, errlen, "cannot make the SysV shared memory segment (key %#x, %" PRIu64
                       " bytes) again: %s", (unsigned)o->key, o->size, strerror(e));
            return -e;
        }
        m->fill = 1;
        /* removed by the process, or its own in place of a key another segment holds: nobody
         * else can find it, so it goes with the process */
        m->remove = key == IPC_PRIVATE;
        if (key != IPC_PRIVATE && (uint64_t)m->shmid != o->ino)
            crs_restore_warn(r, "SysV shared memory key %#x is made again with id %d (it was %"
                             PRIu64 "): calls with the old id fail", (unsigned)o->key, m->shmid,
                             o->ino);
    }
    return 0;
}

const struct crs_restore_obj *crs_restore_obj_of(const struct crs_restore *r,
                                                  const struct crs_img_vma *v)
{
    const struct crs_img_shmobj *o;

    if (!r->objs || !(v->flags & CRS_VMA_F_SHMOBJ) || !(o = crs_image_shmobj_of(r->img, v)))
        return NULL;
    return &r->objs[o - r->img->shmobj];
}

int crs_restore_sysv_attach(struct crs_restore *r, const struct crs_img_vma *v, char *err,
                            size_t errlen)
{
    const struct crs_restore_obj *m = crs_restore_obj_of(r, v);
    const struct crs_img_shmobj *o = crs_image_shmobj_of(r->img, v);
    uint64_t len = v->end - v->start, whole = PAGE_UP(o->size);
    void *hold, *tmp, *p;

    /* The place is held first, so that the segment is not attached over it. */
    hold = mmap((void *)(uintptr_t)v->start, len, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (hold == MAP_FAILED || (uint64_t)(uintptr_t)hold != v->start) {
        int e = hold == MAP_FAILED ? errno : EADDRINUSE;
        if (hold != MAP_FAILED)
            munmap(hold, len);
        crs_seterr(err, errlen, "cannot hold %#" PRIx64 " for SysV shared memory key %#x: %s",
                   v->start, (unsigned)o->key, strerror(e));
        return e == EEXIST ? -EADDRINUSE : -e;
    }
    tmp = shmat(m->shmid, NULL, m->fill || (v->prot & PROT_WRITE) ? 0 : SHM_RDONLY);
    if (tmp == (void *)-1) {
        int e = errno;
        crs_seterr(err, errlen, "cannot attach SysV shared memory key %#x (id %d): %s",
                   (unsigned)o->key, m->shmid, strerror(e));
        return -e;
    }
    /* the part the region maps, moved to its place; the rest detached */
    p = mremap((char *)tmp + v->file_offset, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, hold);
    if (p == MAP_FAILED) {
        int e = errno;
        crs_seterr(err, errlen, "cannot place SysV shared memory key %#x at %#" PRIx64 ": %s",
                   (unsigned)o->key, v->start, strerror(e));
        return -e;
    }
    if (v->file_offset)
        munmap(tmp, v->file_offset);
    if (v->file_offset + len < whole)
        munmap((char *)tmp + v->file_offset + len, whole - v->file_offset - len);
    return 0;
}

void crs_restore_shmobj_finish(struct crs_restore *r)
{
    for (uint32_t i = 0; i < r->img->nshmobj; i++) {
        const struct crs_img_shmobj *o = &r->img->shmobj[i];
        if (o->kind == CRS_SHMOBJ_SYSV && r->objs[i].remove && r->objs[i].shmid >= 0 &&
            shmctl(r->objs[i].shmid, IPC_RMID, NULL) < 0)
            crs_restore_warn(r, "the SysV shared memory segment %d is not removed again: %s",
                             r->objs[i].shmid, strerror(errno));
    }
}
