/* restore/restore_jobshm.c - a job's named shared memory (POSIX objects of /dev/shm, SysV
 * segments) put back as it was at the checkpoint. The job's processes were all stopped when
 * its pages were copied, and their memory agrees with those contents, not with what a run
 * after the checkpoint (killed since) left in the object: restored against newer contents,
 * counters and queues kept there would be wrong. A process alone keeps the rule of any
 * mapped file (used as it is, a warning when changed); a job whose object no running process
 * maps has it made again, before any of its processes is, from the pages its images saved of
 * it. One that a running process maps is someone else's too, and is used as it is. A SysV
 * segment is the same: put back when no process is attached to it, made again when gone
 * (under its key where that is free, else private) and, whatever its key, one segment for
 * every process of the job (a segment made with IPC_PRIVATE and inherited over fork too),
 * under the id $CRSNAP_RESTORE_SYSV gives its members' restorers. Runs in the restorer,
 * before its point of no return.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "restore.h"

#define SYSV_ENV "CRSNAP_RESTORE_SYSV"  /* "OLD:NEW,...": the job's segments, made again */
#define MAX_SYSV 64

/* Whether a running process maps path: its line in some /proc/PID/maps (those this user may
 * read: an object only its owner may open is only mapped by processes it can read). */
static int mapped_now(const char *path)
{
    size_t pl = strlen(path);
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;

    if (!d)
        return 1;                       /* cannot tell: leave it alone */
    while (!found && (e = readdir(d)) != NULL) {
        char maps[sizeof e->d_name + 16];
        FILE *f;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(maps, sizeof maps, "/proc/%s/maps", e->d_name);
        if (!(f = fopen(maps, "re")))
            continue;
        while (!found && getline(&line, &cap, f) > 0) {
            size_t n = strcspn(line, "\n");
            found = n >= pl && !memcmp(line + n - pl, path, pl) &&
                    (n == pl || line[n - pl - 1] == ' ');
        }
        fclose(f);
    }
    free(line);
    closedir(d);
    return found;
}

static int in_job(const struct crs_image *img, const struct crs_restore_opts *o)
{
    return img->tree || o->tree_root || o->in_job;
}

int crs_restore_jobshm_sysv(uint64_t old_id)
{
    const char *p = getenv(SYSV_ENV);
    unsigned long long old, id;
    int n;

    while (p && sscanf(p, "%llu:%llu%n", &old, &id, &n) == 2) {
        if (old == old_id)
            return (int)id;
        p += n;
        p += *p == ',';
    }
    return -1;
}

/* The job's segment s, if it is still there as it was (its id, key and size): how many are
 * attached to it now; else -1. */
static long same_segment(const struct crs_img_shmobj *s)
{
    struct shmid_ds ds;

    if (shmctl((int)s->ino, IPC_STAT, &ds) < 0 || ds.shm_segsz != s->size ||
        (s->key && ds.shm_perm.__key != (key_t)s->key))
        return -1;
    return (long)ds.shm_nattch;
}

int crs_restore_jobshm_sysv_puts_back(const struct crs_image *img,
                                      const struct crs_restore_opts *o,
                                      const struct crs_img_shmobj *s)
{
    if (!in_job(img, o) || s->kind != CRS_SHMOBJ_SYSV || !(s->flags & CRS_SHMOBJ_F_INSTANT))
        return 0;
    if (crs_restore_jobshm_sysv(s->ino) >= 0)
        return 1;                       /* done by the root's restorer */
    long attached = same_segment(s);
    if (attached >= 0)
        return attached == 0;           /* used by a running process: theirs too */
    /* gone: made again, unless another segment holds its key now (the checks say so) */
    return !s->key || (s->mode & SHM_DEST) || shmget((key_t)s->key, 0, 0) < 0;
}

/* The object of img at path that the job puts back, or NULL. */
static const struct crs_img_shmobj *job_object(const struct crs_image *img,
                                               const struct crs_restore_opts *o,
                                               const char *path)
{
    if (!in_job(img, o) || !path || strncmp(path, "/dev/shm/", 9))
        return NULL;
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *s = &img->shmobj[i];
        const char *p = crs_image_string(img, s->path);
        if (s->kind == CRS_SHMOBJ_POSIX && (s->flags & CRS_SHMOBJ_F_INSTANT) && p &&
            !strcmp(p, path))
            return s;
    }
    return NULL;
}

int crs_restore_jobshm_puts_back(const struct crs_image *img, const struct crs_restore_opts *o,
                                 const char *path)
{
    return job_object(img, o, path) && !mapped_now(path);
}

int crs_restore_object_pages(const struct crs_image *img, uint64_t dev, uint64_t ino, int fd,
                             void *base, void *buf, char *err, size_t errlen)
{
    struct crs_chunk_reader rd;
    struct crs_chunk_iter it;
    int rc;

    if ((rc = crs_chunk_reader_init(&rd)) < 0) {
        crs_seterr(err, errlen, "out of memory");
        return rc;
    }
    crs_image_chunk_begin(img, &it);
    while ((rc = crs_image_next_chunk(img, &it, err, errlen)) > 0) {
        const struct crs_img_vma *v = crs_image_find_vma(img, it.chunk.addr);
        size_t len = (size_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
        if (!v || v->dev != dev || v->ino != ino ||
            (!crs_restore_shm_region(v) && !(v->flags & CRS_VMA_F_SHMOBJ)))
            continue;
        if ((rc = crs_image_read_chunk_r(img, &rd, &it, buf, len, err, errlen)) < 0)
            break;
        uint64_t off = v->file_offset + (it.chunk.addr - v->start);
        if (base) {
            memcpy((char *)base + off, buf, len);
            continue;
        }
        if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
            rc = -EIO;
            crs_seterr(err, errlen, "cannot write the shared memory of the job's processes");
            break;
        }
    }
    crs_chunk_reader_free(&rd);
    return rc < 0 ? rc : 0;
}

/* The objects img maps that the job puts back: emptied (a page no image saved was zero at
 * the checkpoint) the first time one is met, then filled with img's pages. done[] holds the
 * paths emptied so far ("\0"-separated in a buffer of cap bytes). */
static int put_back(const struct crs_restore *r, const struct crs_image *img, char *done,
                    size_t cap, void *buf, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *s = &img->shmobj[i];
        const char *path = crs_image_string(img, s->path);
        if (job_object(img, &r->opts, path) != s || mapped_now(path))
            continue;
        int first = 1;
        size_t used = 0;
        while (used < cap && done[used]) {
            first &= strcmp(done + used, path) != 0;
            used += strlen(done + used) + 1;
        }
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, (mode_t)(s->mode & 07777));
        if (fd < 0 || (first && (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)s->size) < 0))) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            crs_seterr(err, errlen, "cannot put the shared memory object %s back as it was: %s",
                       path, strerror(e));
            return -e;
        }
        if (first && used + strlen(path) + 2 <= cap)
            memcpy(done + used, path, strlen(path) + 1);
        int rc = crs_restore_object_pages(img, s->dev, s->ino, fd, NULL, buf, err, errlen);
        close(fd);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The job's SysV segments img attaches: each, the first time it is met, put back empty or
 * made again (ids[] maps old ids to the new, n of them), then filled with img's pages. */
static int sysv_put_back(struct crs_restore *r, const struct crs_image *img,
                         uint64_t (*ids)[2], uint32_t *n, void *buf, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *s = &img->shmobj[i];
        uint32_t k = 0;
        int id, first = 0;
        /* met in an earlier image: filled again (asking again would find its key taken, by
         * the segment made for it) */
        while (k < *n && ids[k][0] != s->ino)
            k++;
        if (k < *n) {
            id = (int)ids[k][1];
        } else if (!crs_restore_jobshm_sysv_puts_back(img, &r->opts, s)) {
            continue;
        } else if (*n == MAX_SYSV) {
            crs_seterr(err, errlen, "more than %d SysV shared memory segments in the job",
                       MAX_SYSV);
            return -E2BIG;
        } else {
            int free_key = s->key && !(s->mode & SHM_DEST) && shmget((key_t)s->key, 0, 0) < 0;
            id = same_segment(s) == 0 ? (int)s->ino
                                      : shmget(free_key ? (key_t)s->key : IPC_PRIVATE,
                                               (size_t)s->size,
                                               IPC_CREAT | IPC_EXCL | (int)(s->mode & 0777));
            if (id < 0) {
                int e = errno;
                crs_seterr(err, errlen, "cannot make the SysV shared memory segment (key %#x, "
                           "%llu bytes) of the job again: %s", (unsigned)s->key,
                           (unsigned long long)s->size, strerror(e));
                return -e;
            }
            ids[(*n)][0] = s->ino;
            ids[(*n)++][1] = (uint64_t)id;
            first = 1;
            if ((uint64_t)id != s->ino)
                crs_restore_warn(r, "the job's SysV shared memory segment "
                                 "%llu (key %#x) is made again with id %d: calls with the old "
                                 "id fail", (unsigned long long)s->ino, (unsigned)s->key, id);
        }
        void *p = shmat(id, NULL, 0);
        if (p == (void *)-1) {
            int e = errno;
            crs_seterr(err, errlen, "cannot attach the SysV shared memory segment %d of the "
                       "job: %s", id, strerror(e));
            return -e;
        }
        if (first)
            memset(p, 0, (size_t)s->size);  /* a page no image saved was zero */
        int rc = crs_restore_object_pages(img, s->dev, s->ino, -1, p, buf, err, errlen);
        shmdt(p);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int crs_restore_jobshm_make(struct crs_restore *r, char *err, size_t errlen)
{
    uint64_t ids[MAX_SYSV][2];
    uint32_t nids = 0;
    const struct crs_image *root = r->img;
    char done[4096] = "";
    void *buf = NULL;
    int rc = 0;

    for (uint32_t i = 0; i < root->ntree && !rc; i++) {
        const struct crs_img_tree_member *m = &root->tree_members[i];
        struct crs_image *part = NULL;
        const struct crs_image *img = root;
        if (m->flags & CRS_TREE_F_ZOMBIE)
            continue;
        if (i && (rc = crs_restore_tree_open_part(root, m->pid, &part, err, errlen)))
            break;
        if (part)
            img = part;
        int any = img->nshmobj > 0;
        if (any && !buf && !(buf = malloc(CRS_RESTORE_OBJECT_BUF))) {
            crs_seterr(err, errlen, "out of memory");
            rc = -ENOMEM;
        }
        if (any && !rc)
            rc = put_back(r, img, done, sizeof done, buf, err, errlen);
        if (any && !rc)
            rc = sysv_put_back(r, img, ids, &nids, buf, err, errlen);
        if (part)
            crs_image_close(part);
    }
    free(buf);
    /* the members' restorers attach the same segments */
    char list[MAX_SYSV * 44 + 1], *q = list;
    list[0] = 0;
    for (uint32_t k = 0; k < nids; k++)
        q += sprintf(q, "%s%llu:%llu", k ? "," : "", (unsigned long long)ids[k][0],
                     (unsigned long long)ids[k][1]);
    if (!rc && nids && setenv(SYSV_ENV, list, 1) < 0)
        rc = -errno;
    return rc;
}
