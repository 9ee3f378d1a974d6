/* restore/restore_jobshm.c - a job's POSIX shared memory objects (/dev/shm) put back as they
 * were at the checkpoint. The job's processes were all stopped when its pages were copied, and
 * their memory agrees with those contents, not with what a run after the checkpoint (killed
 * since) left in the object: restored against newer contents, counters and queues kept there
 * would be wrong. A process alone keeps the rule of any mapped file (used as it is, a warning
 * when changed); a job whose object no running process maps has it made again, before any of
 * its processes is, from the pages its images saved of it. One that a running process maps is
 * someone else's too, and is used as it is. Runs in the restorer, before its point of no
 * return.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "restore.h"

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

/* The object of img at path that the job puts back, or NULL. */
static const struct crs_img_shmobj *job_object(const struct crs_image *img,
                                               const struct crs_restore_opts *o,
                                               const char *path)
{
    if ((!img->tree && !o->tree_root && !o->in_job) || !path || strncmp(path, "/dev/shm/", 9))
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
                             void *buf, char *err, size_t errlen)
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
        int rc = crs_restore_object_pages(img, s->dev, s->ino, fd, buf, err, errlen);
        close(fd);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int crs_restore_jobshm_make(struct crs_restore *r, char *err, size_t errlen)
{
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
        int any = 0;
        for (uint32_t k = 0; k < img->nshmobj; k++)
            any |= job_object(img, &r->opts, crs_image_string(img, img->shmobj[k].path)) != NULL;
        if (any && !buf && !(buf = malloc(CRS_RESTORE_OBJECT_BUF))) {
            crs_seterr(err, errlen, "out of memory");
            rc = -ENOMEM;
        }
        if (any && !rc)
            rc = put_back(r, img, done, sizeof done, buf, err, errlen);
        if (part)
            crs_image_close(part);
    }
    free(buf);
    return rc;
}
