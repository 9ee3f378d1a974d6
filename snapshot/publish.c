/* snapshot/publish.c - atomic publication of an image and retention of older ones. Runs in the
 * forked snapshot child: no malloc, no stdio, no locks. A crash at any point leaves either the
 * old state or the new one: the image appears under its final name only after its data is on
 * disk, and `latest` is replaced by a rename, never rewritten in place. Names are opened
 * relative to the checked directory descriptor, never through a symbolic link, and never
 * replace or delete what this job did not make.
 */
#define _GNU_SOURCE
#include "publish.h"
#include "image/image.h"
#include "common/proc_util.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define TEMP_TRIES 16                   /* random names tried before giving up */
#define TEMP_TAG ".tmp-"
#define LATEST_TEMP "." CRS_IMG_LATEST TEMP_TAG

/* 64 bits nobody can predict: getrandom, or (a kernel without it) the clock and a counter.
 * Only the O_EXCL retries rely on it, so a weak fallback costs retries, never safety. */
static uint64_t random64(void)
{
    static uint64_t counter;
    uint64_t v = 0;
    if (syscall(SYS_getrandom, &v, sizeof v, 0) == (long)sizeof v)
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
        ((uint64_t)getpid() << 32) ^ ++counter * 0xbf58476d1ce4e5b9ull;
    return v;
}

static void sb_hex_fixed(struct crs_sbuf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char c[3] = {digits[p[i] >> 4], digits[p[i] & 15], 0};
        crs_sb_str(b, c);
    }
}

/* "-PID-JOB-RANDOM": the tail of every temporary name; JOB is the first 8 bytes of the id. */
static void temp_tail(struct crs_sbuf *b, const uint8_t job[CRS_PUBLISH_JOB_SIZE])
{
    uint64_t r = random64();
    crs_sb_u64(b, (uint64_t)getpid());
    crs_sb_str(b, "-");
    sb_hex_fixed(b, job, 8);
    crs_sb_str(b, "-");
    sb_hex_fixed(b, (const uint8_t *)&r, sizeof r);
}

int crs_publish_image_name(uint64_t seq, char *out, size_t cap)
{
    struct crs_sbuf b;
    crs_sb_init(&b, out, cap);
    crs_sb_str(&b, CRS_IMG_PREFIX);
    crs_sb_u64w(&b, seq, 6);
    crs_sb_str(&b, CRS_IMG_SUFFIX);
    return b.full ? -ENAMETOOLONG : 0;
}

int crs_publish_create_temp(int dfd, const char *final, const uint8_t job[CRS_PUBLISH_JOB_SIZE],
                            char *out, size_t cap)
{
    for (int i = 0; i < TEMP_TRIES; i++) {
        struct crs_sbuf b;
        crs_sb_init(&b, out, cap);
        crs_sb_str(&b, ".");
        crs_sb_str(&b, final);
        crs_sb_str(&b, TEMP_TAG);
        temp_tail(&b, job);
        if (b.full)
            return -ENAMETOOLONG;
        int fd = openat(dfd, out, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    out[0] = '\0';
    return -EEXIST;
}

static int sync_dir(int dfd)
{
    /* some file systems cannot fsync a directory; the rename is still atomic there */
    return fsync(dfd) < 0 && errno != EINVAL ? -errno : 0;
}

/* renameat2(RENAME_NOREPLACE), or where the file system lacks it, link then unlink (a link
 * never replaces either). */
static int rename_noreplace(int dfd, const char *from, const char *to)
{
    if (syscall(SYS_renameat2, dfd, from, dfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -errno;
    if (linkat(dfd, from, dfd, to, 0) < 0)
        return -errno;
    unlinkat(dfd, from, 0);
    return 0;
}

int crs_publish_commit(int dfd, int fd, const char *temp, const char *final, int replace)
{
    int r;
    if (fsync(fd) < 0)
        return -errno;
    if (replace)
        r = renameat(dfd, temp, dfd, final) < 0 ? -errno : 0;
    else
        r = rename_noreplace(dfd, temp, final);
    return r ? r : sync_dir(dfd);
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
    return v > INT64_MAX ? -1 : (int64_t)v;
}

/* A descriptor of its own for one walk: the directory's offset is shared with the parent. */
static int walk_open(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int64_t crs_publish_max_seq(int dfd)
{
    char dents[8192];
    struct crs_dirwalk w;
    const char *name;
    int64_t best = 0;
    int r, fd = walk_open(dfd);
    if (fd < 0)
        return fd;
    crs_dirwalk_init(&w, fd, dents, sizeof dents);
    while ((r = crs_dirwalk_next(&w, &name)) > 0) {
        int64_t s = image_seq(name);
        if (s > best)
            best = s;
    }
    close(fd);
    return r < 0 ? r : best;
}

int crs_publish_latest(int dfd, const char *name, const uint8_t job[CRS_PUBLISH_JOB_SIZE])
{
    char tmp[128];
    for (int i = 0; i < TEMP_TRIES; i++) {
        struct crs_sbuf b;
        crs_sb_init(&b, tmp, sizeof tmp);
        crs_sb_str(&b, LATEST_TEMP);
        temp_tail(&b, job);
        if (b.full)
            return -ENAMETOOLONG;
        if (symlinkat(name, dfd, tmp) == 0) {
            if (renameat(dfd, tmp, dfd, CRS_IMG_LATEST) < 0) {
                int r = -errno;
                unlinkat(dfd, tmp, 0);
                return r;
            }
            return sync_dir(dfd);
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* 1 when dfd/name is a regular file of ours whose header names job; never follows a link and
 * never waits on a FIFO. */
static int is_ours(int dfd, const char *name, const uint8_t job[CRS_PUBLISH_JOB_SIZE])
{
    struct crs_img_header h;
    struct stat st;
    int ours = 0;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
        !memcmp(h.magic, CRS_IMG_MAGIC, sizeof h.magic) &&
        !memcmp(h.job_id, job, sizeof h.job_id))
        ours = 1;
    close(fd);
    return ours;
}

static int job_known(const uint8_t job[CRS_PUBLISH_JOB_SIZE])
{
    for (int i = 0; i < CRS_PUBLISH_JOB_SIZE; i++)
        if (job[i])
            return 1;
    return 0;
}

struct retain_ent {
    int64_t seq;
    int keep;                   /* among the newest KEEP, or needed by one that is */
    char name[64];
};

/* "ckpt-NNNNNN.parts" for the image "ckpt-NNNNNN.crsnap": where a job's other images are. */
static void parts_name(const char *image, char *out, size_t cap)
{
    size_t n = crs_strlen(image), sl = sizeof CRS_IMG_SUFFIX - 1;
    struct crs_sbuf b;

    crs_sb_init(&b, out, cap);
    if (n > sl && !strcmp(image + n - sl, CRS_IMG_SUFFIX))
        n -= sl;
    for (size_t i = 0; i < n; i++) {
        char one[2] = { image[i], 0 };
        crs_sb_str(&b, one);
    }
    crs_sb_str(&b, CRS_PUBLISH_PARTS_SUFFIX);
}

void crs_publish_remove_parts(int dfd, const char *name)
{
    char dents[4096];
    struct crs_dirwalk w;
    const char *e;
    struct stat sb;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &sb) < 0 || sb.st_uid != geteuid()) {
        close(fd);
        return;
    }
    crs_dirwalk_init(&w, fd, dents, sizeof dents);
    while (crs_dirwalk_next(&w, &e) > 0)
        if (strcmp(e, ".") && strcmp(e, ".."))
            unlinkat(fd, e, 0);
    close(fd);
    unlinkat(dfd, name, AT_REMOVEDIR);
}

/* The sequence number of the image an incremental image name was written on (its PARENT
 * record), or -1 for a full image or one that cannot be read so. */
static int64_t parent_seq_of(int dfd, const char *name)
{
    struct crs_img_trailer t;
    struct crs_img_toc_entry toc[64];
    struct crs_img_parent par;
    struct stat st;
    int64_t seq = -1;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 128 ||
        pread(fd, &t, sizeof t, st.st_size - (off_t)sizeof t) != (ssize_t)sizeof t ||
        memcmp(t.magic, CRS_IMG_TRAILER_MAGIC, sizeof t.magic) || t.toc_count == 0 ||
        t.toc_count > 64 || t.toc_offset + (uint64_t)t.toc_count * sizeof toc[0] + sizeof t !=
        (uint64_t)st.st_size ||
        pread(fd, toc, t.toc_count * sizeof toc[0], (off_t)t.toc_offset) !=
        (ssize_t)(t.toc_count * sizeof toc[0]))
        goto out;
    for (uint32_t i = 0; i < t.toc_count; i++)
        if (toc[i].type == CRS_SEC_PARENT && toc[i].length == sizeof par &&
            toc[i].offset + 16 + sizeof par <= t.toc_offset &&
            pread(fd, &par, sizeof par, (off_t)toc[i].offset + 16) == (ssize_t)sizeof par)
            seq = par.seq <= INT64_MAX ? (int64_t)par.seq : -1;
out:
    close(fd);
    return seq;
}

int crs_publish_retain(int dfd, int keep, const char *current,
                       const uint8_t job[CRS_PUBLISH_JOB_SIZE], void *work, size_t cap)
{
    char dents[8192];
    struct retain_ent *ents = work;
    size_t max = cap / sizeof *ents, n = 0;
    int deleted = 0;
    struct crs_dirwalk w;
    const char *name;
    int r;

    if (keep <= 0 || !job_known(job))
        return 0;
    int fd = walk_open(dfd);
    if (fd < 0)
        return fd;
    crs_dirwalk_init(&w, fd, dents, sizeof dents);
    while ((r = crs_dirwalk_next(&w, &name)) > 0) {
        int64_t seq = image_seq(name);
        if (seq < 0 || crs_strlen(name) >= sizeof ents[0].name || n >= max)
            continue;
        ents[n].seq = seq;
        memcpy(ents[n].name, name, crs_strlen(name) + 1);
        n++;
    }
    close(fd);
    if (r < 0)
        return r;
    /* newest first: insertion sort, the list is short */
    for (size_t i = 1; i < n; i++) {
        struct retain_ent e = ents[i];
        size_t j = i;
        for (; j > 0 && ents[j - 1].seq < e.seq; j--)
            ents[j] = ents[j - 1];
        ents[j] = e;
    }
    /* the image just written always counts as one of the kept */
    size_t kept = 1;
    for (size_t i = 0; i < n; i++) {
        ents[i].keep = 0;
        if (!strcmp(ents[i].name, current) || !is_ours(dfd, ents[i].name, job)) {
            ents[i].keep = 1;
            continue;
        }
        if (kept < (size_t)keep) {
            kept++;
            ents[i].keep = 1;
        }
    }
    /* and every image a kept one is incremental on: parents have lower numbers, so they come
     * later in this list, and one pass marks whole chains (a name's number is its image's) */
    for (size_t i = 0; i < n; i++) {
        int64_t ps = ents[i].keep ? parent_seq_of(dfd, ents[i].name) : -1;
        for (size_t j = i + 1; ps >= 0 && j < n; j++)
            if (ents[j].seq == ps)
                ents[j].keep = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!ents[i].keep && unlinkat(dfd, ents[i].name, 0) == 0) {
            deleted++;
            parts_name(ents[i].name, dents, sizeof dents);  /* a job's: its members' images */
            crs_publish_remove_parts(dfd, dents);
        }
    if (deleted)
        sync_dir(dfd);
    return deleted;
}

/* The length of ".ckpt-NNN.crsnap.tmp-" at the start of name, or 0. */
static size_t image_seq_prefix_len(const char *name)
{
    const char *p = name + 1 + sizeof CRS_IMG_PREFIX - 1;
    if (name[0] != '.' || !crs_strncmp_prefix(name + 1, CRS_IMG_PREFIX) || *p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (!crs_strncmp_prefix(p, CRS_IMG_SUFFIX TEMP_TAG))
        return 0;
    return (size_t)(p - name) + sizeof CRS_IMG_SUFFIX TEMP_TAG - 1;
}

/* 1 when name ends in this job's temporary tail "-PID-JOB-RANDOM" (after prefix) and PID is
 * gone. */
static int dead_temp_of(const char *name, size_t prefix_len, const uint8_t job[CRS_PUBLISH_JOB_SIZE])
{
    char jobhex[17];
    struct crs_sbuf b;
    const char *t = name + prefix_len;
    uint64_t pid;

    crs_sb_init(&b, jobhex, sizeof jobhex);
    sb_hex_fixed(&b, job, 8);
    if (crs_parse_dec(&t, &pid) || pid == 0 || pid > 0x7fffffff || *t != '-' ||
        !crs_strncmp_prefix(t + 1, jobhex) || t[17] != '-' || crs_strlen(t + 18) != 16)
        return 0;
    /* a live writer (another restore of this job) keeps its file */
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int crs_publish_clean_temps(int dfd, const uint8_t job[CRS_PUBLISH_JOB_SIZE])
{
    char dents[8192];
    int removed = 0, r;
    struct crs_dirwalk w;
    const char *name;
    int fd = walk_open(dfd);
    if (fd < 0)
        return fd;
    crs_dirwalk_init(&w, fd, dents, sizeof dents);
    while ((r = crs_dirwalk_next(&w, &name)) > 0) {
        const char *tag = NULL;
        int link = 0;
        struct stat st;
        if (crs_strncmp_prefix(name, LATEST_TEMP)) {
            tag = name + sizeof LATEST_TEMP - 1;
            link = 1;
        } else if (image_seq_prefix_len(name)) {
            tag = name + image_seq_prefix_len(name);
            link = 0;
        }
        if (!tag || !dead_temp_of(name, (size_t)(tag - name), job) ||
            fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != geteuid() ||
            (link ? !S_ISLNK(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (unlinkat(dfd, name, 0) == 0)
            removed++;
    }
    close(fd);
    return r < 0 ? r : removed;
}
