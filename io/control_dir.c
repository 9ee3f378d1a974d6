/* io/control_dir.c - the directory of the control sockets (see control_dir.h): which one, the
 * check that no other user owns it or can enter it, and the removal of sockets left behind by
 * processes that ended. Linked by the runtime and by the crsnap command alike, so that the
 * server and the client can never disagree on the place or on what makes it trustworthy.
 * No malloc and no stdio streams: the runtime also calls this in a restored process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_dir.h"

#define REMEDY_ENV "remove it or set CRSNAP_SOCKET_DIR to a directory of your own"
#define REMEDY_XDG "remove it"
#define REMEDY_TMP "remove it or set XDG_RUNTIME_DIR"

static void owner_name(unsigned uid, char *out, size_t size)
{
    if (uid == (unsigned)geteuid())
        snprintf(out, size, "you");
    else
        snprintf(out, size, "uid %u", uid);
}

/* What is wrong with dir as uid's private directory, judged from st (its lstat), as a
 * sentence in why; returns -errno, or 0 when nothing is. open_ok: group or other access is
 * not an error (the caller is about to take it away). */
static int judge(const char *dir, const struct stat *st, unsigned uid, int open_ok,
                 const char *remedy, char *why, size_t whysize)
{
    char who[32];

    if (S_ISLNK(st->st_mode)) {
        snprintf(why, whysize, "%s is a symbolic link, not a directory: %s", dir, remedy);
        return -ELOOP;
    }
    if (!S_ISDIR(st->st_mode)) {
        snprintf(why, whysize, "%s is not a directory: %s", dir, remedy);
        return -ENOTDIR;
    }
    if (st->st_uid != uid) {
        owner_name(uid, who, sizeof who);
        snprintf(why, whysize, "%s is owned by uid %u, not %s: %s", dir, (unsigned)st->st_uid,
                 who, remedy);
        return -EPERM;
    }
    if ((st->st_mode & 077) && !open_ok) {
        snprintf(why, whysize, "%s is open to other users (mode %04o): make it mode 0700 or %s",
                 dir, (unsigned)(st->st_mode & 07777), remedy);
        return -EPERM;
    }
    return 0;
}

/* dir must be uid's own directory that nobody else can enter; with create it is made when
 * missing and its mode set to 0700. The mode is changed through a descriptor opened without
 * following links and checked to be the directory judged, so a swap in between is caught. */
static int private_dir(const char *dir, unsigned uid, int create, const char *remedy, char *why,
                       size_t whysize)
{
    struct stat st, fst;
    int fd, r;

    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        r = -errno;
        snprintf(why, whysize, "%s cannot be created: %s", dir, strerror(-r));
        return r;
    }
    if (lstat(dir, &st) < 0) {
        r = -errno;
        snprintf(why, whysize, "%s: %s", dir, strerror(-r));
        return r;
    }
    if ((r = judge(dir, &st, uid, create, remedy, why, whysize)) < 0)
        return r;
    if ((st.st_mode & 07777) == 0700 || !create)
        return 0;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        snprintf(why, whysize, "%s: %s", dir, strerror(-r));
        return r;
    }
    r = 0;
    if (fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
        snprintf(why, whysize, "%s changed while it was being checked: %s", dir, remedy);
        r = -EAGAIN;
    } else if ((r = judge(dir, &fst, uid, 1, remedy, why, whysize)) == 0 &&
               fchmod(fd, 0700) < 0) {
        r = -errno;
        snprintf(why, whysize, "%s is open to other users and cannot be made mode 0700: %s",
                 dir, strerror(-r));
    }
    close(fd);
    return r;
}

/* An XDG runtime directory worth using: absolute, a real directory of uid's, mode 0700 (as
 * the XDG base directory specification requires of it). */
static int xdg_usable(const char *xdg, unsigned uid)
{
    struct stat st;

    return xdg && xdg[0] == '/' && lstat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
           st.st_uid == uid && (st.st_mode & 07777) == 0700;
}

int crs_ctldir_pick(const char *override, const char *xdg, unsigned uid, int create,
                    char *dir, size_t size, char *why, size_t whysize)
{
    int r;

    why[0] = 0;
    if (override && *override) {
        if (snprintf(dir, size, "%s", override) >= (int)size) {
            snprintf(why, whysize, "CRSNAP_SOCKET_DIR is too long");
            return -ENAMETOOLONG;
        }
        return private_dir(dir, uid, create, REMEDY_ENV, why, whysize);
    }
    if (xdg_usable(xdg, uid) &&
        snprintf(dir, size, "%s/%s", xdg, CRS_CTLDIR_XDG_SUB) < (int)size) {
        r = private_dir(dir, uid, create, REMEDY_XDG, why, whysize);
        if (r != -ENOENT || create)
            return r;
        why[0] = 0;                     /* not made yet: its processes use /tmp */
    }
    snprintf(dir, size, CRS_CTLDIR_TMP_FMT, uid);
    return private_dir(dir, uid, create, REMEDY_TMP, why, whysize);
}

int crs_ctldir_sock(const char *dir, int pid, char *out, size_t size)
{
    return snprintf(out, size, CRS_CTLDIR_SOCK_FMT, dir, pid) >= (int)size ? -ENAMETOOLONG : 0;
}

int crs_ctldir_reap(const char *dir, const char *name, int pid, unsigned uid)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat before, after;
    int fd, refused, tmp;
    size_t len = strlen(name), slen = strlen(CRS_CTLDIR_TMP_SUFFIX);

    tmp = len > slen && !strcmp(name + len - slen, CRS_CTLDIR_TMP_SUFFIX);
    /* The temporary name exists only between bind and listen: reaped only once pid is gone,
     * never under a process that is starting. */
    if (tmp && !(kill(pid, 0) < 0 && errno == ESRCH))
        return 0;
    if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, name) >= (int)sizeof sa.sun_path)
        return 0;
    if (lstat(sa.sun_path, &before) < 0 || !S_ISSOCK(before.st_mode) || before.st_uid != uid)
        return 0;
    /* Whoever listens (a process in another pid namespace, a child that inherited the
     * listening socket) keeps it: only a refused connection proves nobody ever will again. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    refused = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == ECONNREFUSED;
    close(fd);
    /* A new process that got pid would have renamed a fresh socket (a new inode) over it. */
    if (!refused || lstat(sa.sun_path, &after) < 0 || after.st_ino != before.st_ino ||
        after.st_dev != before.st_dev)
        return 0;
    return unlink(sa.sun_path) == 0;
}
