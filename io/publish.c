/* io/publish.c - atomic publication of an image and retention of older ones. Runs in the
 * forked snapshot child: no malloc, no stdio, no locks. A crash at any point leaves either the
 * old state or the new one: the image appears under its final name only after its data is on
 * disk, and `latest` is replaced by a rename, never rewritten in place.
 */
#define _GNU_SOURCE
#include "publish.h"
#include "../snapshot/proc_util.h"
#include "../snapshot/snapshot.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *base_name(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1])
            b = p + 1;
    return b;
}

int crs_publish_dirname(const char *path, char *out, size_t cap)
{
    const char *b = base_name(path);
    size_t n = (size_t)(b - path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0) {
        if (cap < 2)
            return -ENAMETOOLONG;
        out[0] = '.';
        out[1] = '\0';
        return 0;
    }
    if (n >= cap)
        return -ENAMETOOLONG;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int crs_publish_temp_name(const char *final, int pid, char *out, size_t cap)
{
    struct crs_sbuf b;
    const char *base = base_name(final);
    crs_sb_init(&b, out, cap);
    for (const char *p = final; p < base; p++) {
        char c[2] = {*p, 0};
        crs_sb_str(&b, c);
    }
    crs_sb_str(&b, ".");
    crs_sb_str(&b, base);
    crs_sb_str(&b, ".tmp-");
    crs_sb_u64(&b, (uint64_t)pid);
    return b.full ? -ENAMETOOLONG : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    /* some file systems cannot fsync a directory; the rename is still atomic there */
    return r == -EINVAL ? 0 : r;
}

int crs_publish_commit(int fd, const char *temp, const char *final)
{
    char dir[CRS_PATH_MAX];
    int r;
    if (fsync(fd) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (close(fd) < 0 && errno != EINTR)
        return -errno;
    if (rename(temp, final) < 0)
        return -errno;
    if ((r = crs_publish_dirname(final, dir, sizeof dir)))
        return r;
    return fsync_dir(dir);
}

int crs_publish_latest(const char *dir, const char *name, int pid)
{
    char tmp[CRS_PATH_MAX], link[CRS_PATH_MAX];
    struct crs_sbuf b;
    crs_sb_init(&b, tmp, sizeof tmp);
    crs_sb_str(&b, dir);
    crs_sb_str(&b, "/." CRS_IMG_LATEST ".tmp-");
    crs_sb_u64(&b, (uint64_t)pid);
    if (b.full)
        return -ENAMETOOLONG;
    crs_sb_init(&b, link, sizeof link);
    crs_sb_str(&b, dir);
    crs_sb_str(&b, "/" CRS_IMG_LATEST);
    if (b.full)
        return -ENAMETOOLONG;
    unlink(tmp);
    if (symlink(name, tmp) < 0)
        return -errno;
    if (rename(tmp, link) < 0) {
        int r = -errno;
        unlink(tmp);
        return r;
    }
    return fsync_dir(dir);
}

/* The sequence number in "ckpt-NNN.crsnap", or -1 for any other name. */
static int64_t image_seq(const char *name)
{
    size_t n = crs_strlen(name), lp = sizeof CRS_IMG_PREFIX - 1, ls = sizeof CRS_IMG_SUFFIX - 1;
    uint64_t v = 0;
    if (n <= lp + ls || !crs_strncmp_prefix(name, CRS_IMG_PREFIX) ||
        strcmp(name + n - ls, CRS_IMG_SUFFIX))
        return -1;
    for (size_t i = lp; i < n - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX / 10) - 10)
            return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    return (int64_t)v;
}


struct retain_ent {
    int64_t seq;
    char name[64];
};

int crs_publish_retain(const char *dir, int keep, const char *current, void *work, size_t cap)
{
    char dents[8192];
    struct retain_ent *ents = work;
    size_t max = cap / sizeof *ents, n = 0;
    int deleted = 0;
    struct crs_dirwalk w;
    const char *name;
    int r;

    if (keep <= 0)
        return 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    crs_dirwalk_init(&w, dfd, dents, sizeof dents);
    while ((r = crs_dirwalk_next(&w, &name)) > 0) {
        int64_t seq = image_seq(name);
        if (seq < 0 || crs_strlen(name) >= sizeof ents[0].name || n >= max)
            continue;
        ents[n].seq = seq;
        memcpy(ents[n].name, name, crs_strlen(name) + 1);
        n++;
    }
    if (r < 0) {
        close(dfd);
        return r;
    }
    /* newest first: insertion sort, the list is short */
    for (size_t i = 1; i < n; i++) {
        struct retain_ent e = ents[i];
        size_t j = i;
        for (; j > 0 && ents[j - 1].seq < e.seq; j--)
            ents[j] = ents[j - 1];
        ents[j] = e;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ents[i].name, current) || kept < (size_t)keep - 1) {
            /* the image just written always counts as one of the kept */
            if (strcmp(ents[i].name, current))
                kept++;
            continue;
        }
        if (unlinkat(dfd, ents[i].name, 0) == 0)
            deleted++;
    }
    if (deleted)
        fsync(dfd);
    close(dfd);
    return deleted;
}

/* The PID of ".ckpt-NNN.crsnap.tmp-PID", or -1 for any other name. */
static long temp_pid(const char *name)
{
    size_t n = crs_strlen(name);
    const char *t = NULL;
    uint64_t pid;
    if (name[0] != '.' || !crs_strncmp_prefix(name + 1, CRS_IMG_PREFIX))
        return -1;
    for (size_t i = 0; i + 5 <= n; i++)
        if (crs_strncmp_prefix(name + i, CRS_IMG_SUFFIX ".tmp-"))
            t = name + i + sizeof CRS_IMG_SUFFIX - 1 + 5;
    if (!t || crs_parse_dec(&t, &pid) || *t || pid == 0 || pid > 0x7fffffff)
        return -1;
    return (long)pid;
}

int crs_publish_clean_temps(const char *dir)
{
    char dents[8192];
    int removed = 0;
    struct crs_dirwalk w;
    const char *name;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    crs_dirwalk_init(&w, dfd, dents, sizeof dents);
    while (crs_dirwalk_next(&w, &name) > 0) {
        long pid = temp_pid(name);
        /* a live writer (ours or another process's) keeps its file */
        if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH && unlinkat(dfd, name, 0) == 0)
            removed++;
    }
    close(dfd);
    return removed;
}
