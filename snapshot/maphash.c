/* snapshot/maphash.c - the contents of the files the process maps shared, hashed, so that a
 * restore can tell the file it maps again is still what the process had (the MAPHASH section):
 * a write through a shared mapping need change neither the size nor the mtime. Read from the
 * file itself, not through the mapping (a file cut short since would fault the child there),
 * and only when it is still the mapped inode. Runs in the forked snapshot child: no malloc, no
 * stdio, no locks; the work buffer and the child's own hash state.
 */
#define _GNU_SOURCE
#include "child_internal.h"
#include "common/filehash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void crs_child_maphash(struct child *c)
{
    uint64_t budget = CRS_IMG_MAPHASH_MAX;

    c->nmaphash = 0;
    for (size_t i = 0; i < c->nvmas && c->nmaphash < CRS_IMG_MAPHASH_RECORDS; i++) {
        const struct crs_img_vma *v = &c->vmas[i];
        const char *path = v->path ? c->st.buf + v->path : "";
        struct stat st;
        uint64_t len, hash;

        /* shared memory copied at the snapshot: the copy's bytes, those of the instant */
        const struct crs_snap_shmcopy *copy =
            (v->flags & CRS_VMA_F_SHMOBJ) ? crs_child_shm_copy(c, v) : NULL;
        if (copy) {
            len = v->end - v->start;
            if (v->kind == CRS_VMA_FILE_SHARED)
                len = v->file_size <= v->file_offset ? 0
                      : v->file_size - v->file_offset < len ? v->file_size - v->file_offset : len;
            if (len && len <= budget &&
                crs_hash_file_range(c->req->shm_memfd, copy->offset, len, c->work, WORK_SIZE,
                                    &c->mh, &hash) == 0) {
                c->maphash[c->nmaphash++] = (struct crs_img_maphash){
                    .start = v->start, .len = len, .hash = hash };
                budget -= len;
            }
            continue;
        }
        if (v->kind != CRS_VMA_FILE_SHARED || (v->flags & CRS_VMA_F_DELETED) || path[0] != '/' ||
            v->file_size <= v->file_offset)
            continue;
        len = v->file_size - v->file_offset;
        len = len < v->end - v->start ? len : v->end - v->start;
        if (len > budget)
            continue;                   /* checked by size and mtime alone */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == v->dev &&
            st.st_ino == v->ino &&
            crs_hash_file_range(fd, v->file_offset, len, c->work, WORK_SIZE, &c->mh, &hash) == 0) {
            c->maphash[c->nmaphash++] = (struct crs_img_maphash){
                .start = v->start, .len = len, .hash = hash };
            budget -= len;
        }
        close(fd);
    }
}
