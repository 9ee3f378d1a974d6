/* tools/trust.c - the ownership rule of trust.h: resolving what `crsnap restore` was given,
 * walking its directories from / without following symlinks, and choosing among a
 * directory's images by name.
 *
 * Why every directory up to /, as ssh does, and not the image's own only: whoever can write a
 * directory higher up can rename the user's directory below it and put one of their own in
 * its place, holding their images, or the user's old ones under new names.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/escape.h"
#include "snapshot/snapshot.h"

#define IMG_OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

/* crs_seterr, returning rc: most refusals here are one statement. */
static int seterr(char *err, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int seterr(char *err, size_t len, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    crs_vseterr(err, len, fmt, ap);
    va_end(ap);
    return rc;
}

/* "user alice (uid 1000)" or "uid 1000" when the user has no name here. */
static const char *who(char *buf, size_t len, uid_t uid)
{
    struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name)
        snprintf(buf, len, "user %s (uid %u)", pw->pw_name, (unsigned)uid);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
    return buf;
}

static const char *writers(mode_t m)
{
    if ((m & S_IWGRP) && (m & S_IWOTH))
        return "its group and others";
    return (m & S_IWGRP) ? "its group" : "others";
}

int crs_trust_file(const struct stat *st, uid_t uid, char *why, size_t len)
{
    char a[96];
    if (st->st_uid != uid)
        return seterr(why, len, -EPERM, "it is owned by %s, not by %s", who(a, sizeof a, st->st_uid),
                      uid ? "you" : "root");
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return seterr(why, len, -EPERM, "it is writable by %s", writers(st->st_mode));
    return 0;
}

/* The rule for one directory on the way; path names it in the message. */
static int check_dir(const struct stat *st, uid_t uid, const char *path, char *why, size_t len)
{
    char a[96], e[PATH_MAX];
    if (st->st_uid != 0 && st->st_uid != uid)
        return seterr(why, len, -EPERM,
                      "directory %s is owned by %s, who could replace the images in it",
                      crs_escape_str(e, sizeof e, path), who(a, sizeof a, st->st_uid));
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
        return seterr(why, len, -EPERM,
                      "directory %s is writable by %s (and not sticky): they could plant or "
                      "replace images in it",
                      crs_escape_str(e, sizeof e, path), writers(st->st_mode));
    return 0;
}

/* Opens the canonical (absolute, symlink-free) directory path one component at a time with
 * O_NOFOLLOW, checking each one unless check is 0. Returns an O_PATH descriptor or -errno. */
static int walk(const char *canon, int check, char *why, size_t len)
{
    char sofar[PATH_MAX], e[PATH_MAX];
    const char *p = canon;
    uid_t uid = geteuid();
    struct stat st;
    int fd, r;

    if (canon[0] != '/')
        return seterr(why, len, -EINVAL, "%s: not an absolute path", canon);
    if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return seterr(why, len, -errno, "/: %s", strerror(errno));
    strcpy(sofar, "/");
    for (;;) {
        if (fstat(fd, &st) < 0) {
            r = -errno;
            close(fd);
            return seterr(why, len, r, "%s: %s", crs_escape_str(e, sizeof e, sofar), strerror(-r));
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            return seterr(why, len, -ENOTDIR, "%s: not a directory",
                          crs_escape_str(e, sizeof e, sofar));
        }
        if (check && (r = check_dir(&st, uid, sofar, why, len)) < 0) {
            close(fd);
            return r;
        }
        while (*p == '/')
            p++;
        if (!*p)
            return fd;
        size_t n = strcspn(p, "/");
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX) {
            close(fd);
            return seterr(why, len, -ENAMETOOLONG, "%s: name too long",
                          crs_escape_str(e, sizeof e, canon));
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        size_t sl = strlen(sofar);
        snprintf(sofar + sl, sizeof sofar - sl, "%s%s", sl > 1 ? "/" : "", comp);
        int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = -errno;
        close(fd);
        if (next < 0)
            return seterr(why, len, r, "%s: %s%s", crs_escape_str(e, sizeof e, sofar),
                          strerror(-r), r == -ELOOP || r == -ENOTDIR ?
                          " (it changed while being checked?)" : "");
        fd = next;
    }
}

int crs_trust_dir(const char *dir, char *why, size_t len)
{
    char canon[PATH_MAX];
    if (!realpath(dir, canon))
        return seterr(why, len, -errno, "%s", strerror(errno));
    int fd = walk(canon, 1, why, len);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

/* ckpt-DIGITS.crsnap, its number in *seq; the names the writer gives complete images. */
static int image_seq(const char *name, uint64_t *seq)
{
    size_t lp = strlen(CRS_IMG_PREFIX), ls = strlen(CRS_IMG_SUFFIX), n = strlen(name);
    uint64_t v = 0;
    if (n <= lp + ls || strncmp(name, CRS_IMG_PREFIX, lp) || strcmp(name + n - ls, CRS_IMG_SUFFIX))
        return -1;
    for (size_t i = lp; i < n - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return 0;
}

struct cand {
    uint64_t seq;
    char name[NAME_MAX + 1];
};

static int newest_first(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void note(FILE *notes, const char *fmt, ...)
{
    va_list ap;
    if (!notes)
        return;
    fprintf(notes, "crsnap restore: ");
    va_start(ap, fmt);
    vfprintf(notes, fmt, ap);
    va_end(ap);
    fputc('\n', notes);
}

/* The newest trusted image in the directory dfd (which the caller has checked), by name. */
static int pick(int dfd, const char *arg, unsigned flags, FILE *notes, struct crs_image **out,
                char *err, size_t errlen)
{
    char path[PATH_MAX + NAME_MAX + 2], why[512], first[PATH_MAX + 600] = "", e[PATH_MAX];
    struct cand *c = NULL;
    size_t n = 0, cap = 0, untrusted = 0;
    uid_t uid = geteuid();
    struct dirent *de;
    int dup_fd = dup(dfd), r = -ENOENT;
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;

    if (!d) {
        r = -errno;
        if (dup_fd >= 0)
            close(dup_fd);
        return seterr(err, errlen, r, "%s", strerror(-r));
    }
    while ((de = readdir(d))) {
        uint64_t seq;
        if (image_seq(de->d_name, &seq) || strlen(de->d_name) > NAME_MAX)
            continue;
        if (n == cap) {
            struct cand *nc = realloc(c, (cap = cap ? cap * 2 : 64) * sizeof *c);
            if (!nc) {
                free(c);
                closedir(d);
                return seterr(err, errlen, -ENOMEM, "out of memory");
            }
            c = nc;
        }
        c[n].seq = seq;
        strcpy(c[n++].name, de->d_name);
    }
    closedir(d);
    if (n)
        qsort(c, n, sizeof *c, newest_first);
    crs_escape_str(e, sizeof e, arg);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s%s%s", arg,
                 arg[0] && arg[strlen(arg) - 1] == '/' ? "" : "/", c[i].name);
        int fd = openat(dfd, c[i].name, IMG_OPEN_FLAGS);
        if (fd < 0) {
            note(notes, "passing over %s: %s", c[i].name,
                 errno == ELOOP ? "a symbolic link, not an image" : strerror(errno));
            continue;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            note(notes, "passing over %s: not a regular file", c[i].name);
            close(fd);
            continue;
        }
        if (crs_trust_file(&st, uid, why, sizeof why) < 0) {
            if (!(flags & CRS_TRUST_ANY)) {
                note(notes, "passing over %s: %s", c[i].name, why);
                if (!untrusted++)
                    snprintf(first, sizeof first, "%s: %s", c[i].name, why);
                close(fd);
                continue;
            }
            note(notes, "warning: trusting %s as asked (--trust-image), although %s", c[i].name,
                 why);
        }
        if (crs_image_open_fd(fd, path, out, why, sizeof why) < 0) {
            note(notes, "passing over %s: %s", c[i].name, why);
            continue;
        }
        note(notes, "using %s", crs_escape_str(first, sizeof first, path));
        free(c);
        return 0;
    }
    free(c);
    if (untrusted)
        return seterr(err, errlen, -EPERM, "none of its images is yours: %s%s", first,
                      untrusted > 1 ? " (and others)" : "");
    return seterr(err, errlen, -ENOENT, "%s: no complete image in this directory", e);
}

/* ARG's directory and last name: the directory canonical, the name one component. */
static int split(const char *arg, char *dir, char *base, char *err, size_t errlen)
{
    char buf[PATH_MAX], e[PATH_MAX];
    size_t n = strlen(arg);

    if (!n)
        return seterr(err, errlen, -ENOENT, "empty path");
    if (n >= sizeof buf)
        return seterr(err, errlen, -ENAMETOOLONG, "path too long");
    memcpy(buf, arg, n + 1);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *slash = strrchr(buf, '/');
    const char *b = slash ? slash + 1 : buf;
    if (!strcmp(b, ".") || !strcmp(b, "..") || !strcmp(buf, "/")) {
        /* a directory named by "." or "..": its own canonical name */
        char canon[PATH_MAX];
        if (!realpath(buf, canon))
            return seterr(err, errlen, -errno, "%s: %s", crs_escape_str(e, sizeof e, arg),
                          strerror(errno));
        strcpy(buf, canon);
        if (!strcmp(buf, "/")) {
            strcpy(dir, "/");
            strcpy(base, ".");
            return 0;
        }
        slash = strrchr(buf, '/');
        b = slash + 1;
    }
    if (strlen(b) > NAME_MAX)
        return seterr(err, errlen, -ENAMETOOLONG, "%s: name too long",
                      crs_escape_str(e, sizeof e, arg));
    strcpy(base, b);
    const char *d = !slash ? "." : slash == buf ? "/" : (*slash = '\0', buf);
    if (!realpath(d, dir))
        return seterr(err, errlen, -errno, "%s: %s", crs_escape_str(e, sizeof e, arg),
                      strerror(errno));
    return 0;
}

/* The `latest` rule: a symlink owned by the user, to a plain name in the same directory. */
static int follow_latest(int pfd, const char *base, const struct stat *lst, const char *arg,
                         char *target, char *err, size_t errlen)
{
    char e[PATH_MAX], t[PATH_MAX], a[96];
    struct stat st;
    const char *how = "name the image itself";

    crs_escape_str(e, sizeof e, arg);
    if (fstatat(pfd, base, &st, 0) == 0 && S_ISDIR(st.st_mode))
        return seterr(err, errlen, -EXDEV,
                      "it is a symbolic link to a directory, which restore does not follow: "
                      "name the directory itself");
    if (lst->st_uid != geteuid())
        return seterr(err, errlen, -EXDEV, "it is a symbolic link owned by %s: %s",
                      who(a, sizeof a, lst->st_uid), how);
    ssize_t n = readlinkat(pfd, base, target, NAME_MAX + 1);
    if (n < 0)
        return seterr(err, errlen, -errno, "%s: %s", e, strerror(errno));
    if (n > NAME_MAX)
        n = NAME_MAX;
    target[n] = '\0';
    if (!n || memchr(target, '/', (size_t)n) || !strcmp(target, ".") || !strcmp(target, ".."))
        return seterr(err, errlen, -EXDEV,
                      "it is a symbolic link to %s, not to an image in the same directory: %s",
                      crs_escape_str(t, sizeof t, target), how);
    return 0;
}

int crs_trust_open(const char *arg, unsigned flags, FILE *notes, struct crs_image **out,
                   char *err, size_t errlen)
{
    char dir[PATH_MAX], base[NAME_MAX + 1], target[NAME_MAX + 2], why[PATH_MAX + 200];
    char e[PATH_MAX];
    const int check = !(flags & CRS_TRUST_ANY);
    struct stat st;
    int r, pfd, fd;

    if ((r = split(arg, dir, base, err, errlen)) < 0)
        return r;
    crs_escape_str(e, sizeof e, arg);
    if ((pfd = walk(dir, check, why, sizeof why)) < 0)
        return seterr(err, errlen, pfd, "%s", why);
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        r = -errno;
        close(pfd);
        return seterr(err, errlen, r, "%s: %s", e, strerror(-r));
    }
    if (S_ISDIR(st.st_mode)) {
        int dfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = -errno;
        close(pfd);
        if (dfd < 0)
            return seterr(err, errlen, r, "%s: %s", e, strerror(-r));
        if (fstat(dfd, &st) < 0) {
            r = -errno;
            close(dfd);
            return seterr(err, errlen, r, "%s: %s", e, strerror(-r));
        }
        if (check && check_dir(&st, geteuid(), arg, why, sizeof why) < 0) {
            close(dfd);
            return seterr(err, errlen, -EPERM, "%s", why);
        }
        r = pick(dfd, arg, flags, notes, out, err, errlen);
        close(dfd);
        return r;
    }
    if (S_ISLNK(st.st_mode)) {
        if ((r = follow_latest(pfd, base, &st, arg, target, err, errlen)) < 0) {
            close(pfd);
            return r;
        }
        strcpy(base, target);
    }
    fd = openat(pfd, base, IMG_OPEN_FLAGS);
    r = -errno;
    close(pfd);
    if (fd < 0)
        return seterr(err, errlen, r, "%s: %s", e,
                      r == -ELOOP ? "a symbolic link, not an image" : strerror(-r));
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return seterr(err, errlen, r, "%s: %s", e, strerror(-r));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return seterr(err, errlen, -EINVAL, "%s: not a regular file%s", e,
                      S_ISFIFO(st.st_mode) ? " (a FIFO)" : "");
    }
    if (crs_trust_file(&st, geteuid(), why, sizeof why) < 0) {
        if (check) {
            close(fd);
            return seterr(err, errlen, -EPERM, "%s", why);
        }
        note(notes, "warning: trusting %s as asked (--trust-image), although %s", e, why);
    }
    if ((r = crs_image_open_fd(fd, arg, out, why, sizeof why)) < 0)
        return seterr(err, errlen, r, "%s: %s", e, why);
    return 0;
}
