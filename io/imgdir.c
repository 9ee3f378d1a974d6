/* io/imgdir.c - opening and checking an image directory (rules in imgdir.h). Run by the
 * coordinator before a checkpoint and by `crsnap run` before it starts the program; the
 * snapshot child then names every file relative to the descriptor, so a directory swapped
 * for a link after the check changes nothing.
 */
#define _GNU_SOURCE
#include "imgdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
    char buf[4096];

    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int crs_imgdir_open(const char *path, int create, char *msg, size_t cap)
{
    struct stat st;
    struct statvfs vfs;
    unsigned mode;
    int fd, r;

    if (create && (r = mkdir_p(path)) < 0) {
        snprintf(msg, cap, "cannot create image directory %s: %s", path, strerror(-r));
        return r;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        if (r == -ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            snprintf(msg, cap, "image directory %s is a symbolic link: images are written only "
                     "into a real directory (give the one it points to, if it is yours)", path);
        else
            snprintf(msg, cap, "cannot open image directory %s: %s", path, strerror(-r));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        snprintf(msg, cap, "cannot open image directory %s: %s", path, strerror(-r));
        close(fd);
        return r;
    }
    mode = (unsigned)st.st_mode & 07777;
    r = 0;
    if ((mode & 0002) && (mode & S_ISVTX)) {
        r = -ENOTSUP;
        snprintf(msg, cap, "image directory %s is shared: others can write into it (mode %04o, "
                 "like /tmp); use a directory of your own", path, mode);
    } else if (st.st_uid != geteuid()) {
        r = -ENOTSUP;
        snprintf(msg, cap, "image directory %s belongs to uid %u, not to you (uid %u): use a "
                 "directory of your own", path, (unsigned)st.st_uid, (unsigned)geteuid());
    } else if (mode & 0022) {
        r = -ENOTSUP;
        snprintf(msg, cap, "image directory %s is writable by %s (mode %04o): use a directory "
                 "of your own, or chmod go-w it", path,
                 (mode & 0022) == 0022 ? "group and others" : mode & 0020 ? "group" : "others",
                 mode);
    } else if (fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        r = -EROFS;
        snprintf(msg, cap, "image directory %s is not writable: read-only file system", path);
    } else if (geteuid() != 0 && (mode & 0300) != 0300) {
        r = -EROFS;
        snprintf(msg, cap, "image directory %s is not writable: read-only (mode %04o)", path,
                 mode);
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}
