/* common/proc_util.c - number, string and directory-listing helpers for the snapshot child.
 * Runs in the forked child (and in the runtime while threads are stopped): no malloc, no stdio,
 * no locks; only plain system-call wrappers and raw system calls.
 */
#define _GNU_SOURCE
#include "proc_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/arch.h"

void crs_sb_init(struct crs_sbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->len = 0;
    b->cap = cap;
    b->full = 0;
    if (cap)
        p[0] = '\0';
}

static void sb_char(struct crs_sbuf *b, char c)
{
    if (b->len + 1 >= b->cap) {
        b->full = 1;
        return;
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

void crs_sb_str(struct crs_sbuf *b, const char *s)
{
    while (*s)
        sb_char(b, *s++);
}

void crs_sb_u64w(struct crs_sbuf *b, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width && n < (int)sizeof tmp)
        tmp[n++] = '0';
    while (n)
        sb_char(b, tmp[--n]);
}

void crs_sb_u64(struct crs_sbuf *b, uint64_t v)
{
    crs_sb_u64w(b, v, 0);
}

void crs_fd_path(char *out, size_t cap, const char *dir, int fd)
{
    struct crs_sbuf b;
    crs_sb_init(&b, out, cap);
    crs_sb_str(&b, dir);
    crs_sb_u64(&b, (uint64_t)fd);
}

void crs_sb_hex(struct crs_sbuf *b, uint64_t v)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    sb_char(b, '0');
    sb_char(b, 'x');
    while (n)
        sb_char(b, tmp[--n]);
}

void crs_skip_space(const char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
}

int crs_parse_hex(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    for (;; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            break;
        v = v << 4 | (uint64_t)d;
    }
    if (p == *s)
        return -EINVAL;
    *s = p;
    *out = v;
    return 0;
}

int crs_parse_dec(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == *s)
        return -EINVAL;
    *s = p;
    *out = v;
    return 0;
}

int crs_parse_sdec(const char **s, int64_t *out)
{
    const char *p = *s;
    int neg = 0;
    uint64_t v;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (crs_parse_dec(&p, &v))
        return -EINVAL;
    *s = p;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int crs_parse_oct(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '7')
        v = v << 3 | (uint64_t)(*p++ - '0');
    if (p == *s)
        return -EINVAL;
    *s = p;
    *out = v;
    return 0;
}

size_t crs_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int crs_strncmp_prefix(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

const char *crs_find_field(const char *text, size_t len, const char *key)
{
    size_t kl = crs_strlen(key);
    size_t i = 0;
    while (i < len) {
        if (len - i >= kl && crs_strncmp_prefix(text + i, key))
            return text + i + kl;
        while (i < len && text[i] != '\n')
            i++;
        i++;
    }
    return NULL;
}

void crs_dirwalk_init(struct crs_dirwalk *w, int fd, char *buf, size_t cap)
{
    w->fd = fd;
    w->buf = buf;
    w->cap = cap;
    w->got = 0;
    w->off = 0;
}

int crs_dirwalk_next(struct crs_dirwalk *w, const char **name)
{
    if (w->off >= w->got) {
        /* raw, so that errno (thread-local, maybe not set up) is never touched */
        long got = crs_sys3(SYS_getdents64, w->fd, (long)w->buf, (long)w->cap);
        if (got <= 0)
            return (int)got;
        w->got = got;
        w->off = 0;
    }
    struct linux_dirent64 *d = (struct linux_dirent64 *)(w->buf + w->off);
    w->off += d->d_reclen;
    *name = d->d_name;
    return 1;
}

int crs_dirent_num(const char *name)
{
    long v = 0;
    if (!*name)
        return -1;
    for (; *name; name++) {
        if (*name < '0' || *name > '9')
            return -1;
        v = v * 10 + (*name - '0');
        if (v > INT_MAX)
            return -1;
    }
    return (int)v;
}

long crs_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd < 0)
        return -errno;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (long)n;
}

const char *crs_errno_text(int err)
{
    static const struct { int e; const char *s; } t[] = {
        {ENOSPC, "No space left on device"},
        {EFBIG, "File too large"},
        {EDQUOT, "Disk quota exceeded"},
        {EACCES, "Permission denied"},
        {EPERM, "Operation not permitted"},
        {ENOENT, "No such file or directory"},
        {ENOTDIR, "Not a directory"},
        {EROFS, "Read-only file system"},
        {EIO, "Input/output error"},
        {ENOMEM, "Cannot allocate memory"},
        {EEXIST, "File exists"},
        {EINVAL, "Invalid argument"},
        {ENAMETOOLONG, "File name too long"},
        {EMFILE, "Too many open files"},
        {ENOSYS, "Function not implemented"},
        {E2BIG, "Argument list too long"},
        {EBADF, "Bad file descriptor"},
        {EINTR, "Interrupted system call"},
        {ENXIO, "No such device or address"},
        {EISDIR, "Is a directory"},
    };
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].e == err)
            return t[i].s;
    return "Unknown error";
}

int crs_read_lines(const char *path, char *buf, size_t cap,
                   int (*fn)(char *line, size_t len, void *arg), void *arg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t fill = 0;
    int r = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t got = read(fd, buf + fill, cap - 1 - fill);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        fill += (size_t)got;
        size_t start = 0;
        for (size_t i = 0; i < fill && !r; i++) {
            if (buf[i] != '\n')
                continue;
            r = fn(buf + start, i - start, arg);
            start = i + 1;
        }
        if (r)
            break;
        memmove(buf, buf + start, fill - start);
        fill -= start;
        if (got == 0)
            break;
        if (fill == cap - 1) {
            r = -E2BIG;
            break;
        }
    }
    close(fd);
    return r;
}
