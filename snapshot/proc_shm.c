/* snapshot/proc_shm.c - the regions that map shared memory living only in memory under a name
 * other processes find it by: SysV segments ("/SYSV%08x (deleted)" in maps, whose inode is the
 * segment's id) and POSIX objects (/dev/shm/NAME). Each object gets a SHMOBJ record (key, mode,
 * size, owner: /proc/sysvipc/shm for a segment, stat for a file) and its regions the SHMOBJ
 * flag, so that their pages are saved and a restore can make the object again. A region the
 * runtime copied while the threads were stopped (runtime/shmcopy.c) is read from that copy,
 * mapped over the child's own view of it: the pages of the snapshot's instant.
 * Runs in the forked snapshot child: no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include "child_internal.h"
#include "common/proc_util.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = crs_strlen(s), k = crs_strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static struct crs_img_shmobj *find_obj(struct child *c, uint64_t dev, uint64_t ino)
{
    for (uint32_t i = 0; i < c->nshmobj; i++)
        if (c->shmobj[i].dev == dev && c->shmobj[i].ino == ino)
            return &c->shmobj[i];
    return NULL;
}

/* Parses a decimal number that may be negative (a SysV key is printed as a signed int). */
static int parse_signed(const char **s, int64_t *out)
{
    uint64_t v;
    int neg = **s == '-';
    if (neg)
        (*s)++;
    if (crs_parse_dec(s, &v))
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* Parses an octal number (the permissions column). */
static int parse_octal(const char **s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = *s;
    for (; *p >= '0' && *p <= '7'; p++)
        v = v * 8 + (uint64_t)(*p - '0');
    if (p == *s)
        return -1;
    *s = p;
    *out = v;
    return 0;
}

/* One line of /proc/sysvipc/shm: "key shmid perms size cpid lpid nattch uid gid ...". A segment
 * one of the regions maps gets its record. */
static int sysv_line(char *line, size_t len, void *arg)
{
    struct child *c = arg;
    const char *s = line;
    int64_t key;
    uint64_t id, perms, size, skip, uid, gid;

    line[len] = '\0';
    crs_skip_space(&s);
    if (parse_signed(&s, &key))
        return 0;                       /* the header line */
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &id))
        return 0;
    crs_skip_space(&s);
    if (parse_octal(&s, &perms))
        return 0;
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &size))
        return 0;
    for (int i = 0; i < 3; i++) {       /* cpid, lpid, nattch */
        crs_skip_space(&s);
        if (crs_parse_dec(&s, &skip))
            return 0;
    }
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &uid))
        return 0;
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &gid))
        return 0;
    for (size_t i = 0; i < c->nvmas; i++) {
        struct crs_img_vma *v = &c->vmas[i];
        const char *path = v->path ? c->st.buf + v->path : "";
        if (v->kind != CRS_VMA_ANON_SHARED || v->ino != id || !crs_strncmp_prefix(path, "/SYSV"))
            continue;
        if (!find_obj(c, v->dev, v->ino)) {
            if (c->nshmobj == CRS_IMG_SHMOBJ_RECORDS)
                return 0;
            c->shmobj[c->nshmobj++] = (struct crs_img_shmobj){
                .kind = CRS_SHMOBJ_SYSV, .mode = (uint32_t)perms, .dev = v->dev, .ino = v->ino,
                .size = size, .key = (int32_t)key, .uid = (uint32_t)uid, .gid = (uint32_t)gid };
        }
        v->flags |= CRS_VMA_F_SHMOBJ;
    }
    return 0;
}

/* A region mapping a /dev/shm object still reachable by its name. */
static void posix_region(struct child *c, struct crs_img_vma *v)
{
    const char *path = v->path ? c->st.buf + v->path : "";
    struct stat st;

    if (v->kind != CRS_VMA_FILE_SHARED || (v->flags & CRS_VMA_F_DELETED) ||
        !crs_strncmp_prefix(path, "/dev/shm/") || ends_with(path, " (deleted)"))
        return;
    if (!find_obj(c, v->dev, v->ino)) {
        if (c->nshmobj == CRS_IMG_SHMOBJ_RECORDS || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_dev != v->dev || (uint64_t)st.st_ino != v->ino)
            return;
        c->shmobj[c->nshmobj++] = (struct crs_img_shmobj){
            .kind = CRS_SHMOBJ_POSIX, .mode = st.st_mode, .dev = v->dev, .ino = v->ino,
            .size = (uint64_t)st.st_size, .path = v->path, .uid = st.st_uid, .gid = st.st_gid };
    }
    v->flags |= CRS_VMA_F_SHMOBJ;
}

const struct crs_snap_shmcopy *crs_child_shm_copy(const struct child *c,
                                                  const struct crs_img_vma *v)
{
    const struct crs_snap_request *req = c->req;

    for (uint32_t k = 0; k < req->nshmcopy && req->shm_memfd >= 0; k++) {
        const struct crs_snap_shmcopy *s = &req->shmcopy[k];
        if (s->copied && s->start == v->start && s->end == v->end && s->ino == v->ino)
            return s;
    }
    return NULL;
}

/* Maps the runtime's copy of a region over the child's view of it, when the region is still
 * the one it copied; marks its object INSTANT when every region of it was copied. */
static void use_copies(struct child *c)
{
    const struct crs_snap_request *req = c->req;

    for (uint32_t i = 0; i < c->nshmobj; i++)
        c->shmobj[i].flags |= CRS_SHMOBJ_F_INSTANT;
    for (size_t i = 0; i < c->nvmas; i++) {
        struct crs_img_vma *v = &c->vmas[i];
        /* and in a job, the memory shared without a name, copied the same way */
        if (!(v->flags & CRS_VMA_F_SHMOBJ)) {
            const struct crs_snap_shmcopy *s = crs_child_shm_copy(c, v);
            if (s && (v->kind == CRS_VMA_ANON_SHARED || v->kind == CRS_VMA_FILE_SHARED))
                mmap((void *)(uintptr_t)v->start, v->end - v->start, PROT_READ,
                     MAP_SHARED | MAP_FIXED, req->shm_memfd, (off_t)s->offset);
            continue;
        }
        const struct crs_snap_shmcopy *s = crs_child_shm_copy(c, v);
        if (!s || mmap((void *)(uintptr_t)v->start, v->end - v->start, PROT_READ,
                       MAP_SHARED | MAP_FIXED, req->shm_memfd, (off_t)s->offset) == MAP_FAILED) {
            struct crs_img_shmobj *o = find_obj(c, v->dev, v->ino);
            if (o)
                o->flags &= ~CRS_SHMOBJ_F_INSTANT;
        }
    }
}

void crs_child_shm(struct child *c)
{
    c->nshmobj = 0;
    for (size_t i = 0; i < c->nvmas; i++)
        posix_region(c, &c->vmas[i]);
    for (size_t i = 0; i < c->nvmas; i++) {
        const char *path = c->vmas[i].path ? c->st.buf + c->vmas[i].path : "";
        if (c->vmas[i].kind == CRS_VMA_ANON_SHARED && crs_strncmp_prefix(path, "/SYSV")) {
            crs_read_lines("/proc/sysvipc/shm", c->work, WORK_SIZE, sysv_line, c);
            break;
        }
    }
    use_copies(c);
}
