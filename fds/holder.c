/* fds/holder.c - which other process holds a pipe or a socket: its /proc/PID/fd links are
 * read, and its fdinfo for the access mode of a pipe's end. A pipe to a child is named by the
 * child that holds its other end; in a job, a pipe or a connection whose other end a process of
 * the job holds is the job's, and the job's restore joins it again. Runs in the snapshot child.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/proc_util.h"
#include "fds.h"

/* The access mode of descriptor NAME of process pid (its fdinfo), or -1. */
static CRS_CHILD_CODE int access_mode(int pid, const char *name)
{
    char p[96], text[256];
    size_t pl;

    crs_fd_path(p, sizeof p, "/proc/", pid);
    pl = crs_strlen(p);
    memcpy(p + pl, "/fdinfo/", 9);
    pl += 8;
    if (pl + crs_strlen(name) + 1 > sizeof p)
        return -1;
    memcpy(p + pl, name, crs_strlen(name) + 1);
    long n = crs_read_file(p, text, sizeof text - 1);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    /* "pos:\t0\nflags:\t02000001\n...": the line that starts with "flags:" */
    const char *q = text;
    while (*q && !crs_strncmp_prefix(q, "flags:")) {
        while (*q && *q != '\n')
            q++;
        q += *q == '\n';
    }
    uint64_t flags;
    if (!*q)
        return -1;
    q += 6;
    while (*q == ' ' || *q == '\t')
        q++;
    return crs_parse_oct(&q, &flags) ? -1 : (int)(flags & O_ACCMODE);
}

CRS_CHILD_CODE int crs_fd_holder(const int *pids, int npids, const char *kind, uint64_t ino,
                                 int not_mode)
{
    char want[48], dents[2048], p[64], link[64];
    struct crs_sbuf b;
    int self = getpid();

    crs_sb_init(&b, want, sizeof want);
    crs_sb_str(&b, kind);
    crs_sb_str(&b, ":[");
    crs_sb_u64(&b, ino);
    crs_sb_str(&b, "]");
    for (int c = 0; c < npids && c < CRS_FD_HOLDER_WALKS; c++) {
        struct crs_dirwalk w;
        const char *name;
        if (pids[c] <= 0 || pids[c] == self)
            continue;
        crs_fd_path(p, sizeof p, "/proc/", pids[c]);
        size_t pl = crs_strlen(p);
        memcpy(p + pl, "/fd", 4);
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            continue;
        crs_dirwalk_init(&w, dfd, dents, sizeof dents);
        int found = 0;
        while (!found && crs_dirwalk_next(&w, &name) > 0) {
            if (crs_dirent_num(name) < 0)
                continue;
            ssize_t n = readlinkat(dfd, name, link, sizeof link - 1);
            if (n <= 0)
                continue;
            link[n] = '\0';
            found = !strcmp(link, want) &&
                    (not_mode < 0 || access_mode(pids[c], name) != not_mode);
        }
        close(dfd);
        if (found)
            return c;
    }
    return -1;
}
