/* snapshot/proc_fds.c - the walk over the open file descriptors: number, path, flags, offset,
 * fstat, then what the descriptor's kind reads of it (fds/, through the table of
 * image/fdkind.h); and, before it, the pinning of what was captured while the threads were
 * stopped. Runs in the forked snapshot child: no malloc, no stdio, no locks. The child shares
 * nothing with the parent's descriptor table but inherits a copy, so what it sees is what the
 * process had at the clone.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "common/proc_util.h"
#include "image/fdkind.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int in_list(int fd, const int *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == fd)
            return 1;
    return 0;
}

void crs_proc_fds_pin(const struct crs_snap_fdstate *st, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct crs_fd_ops *k = crs_fd_ops_of(st[i].kind);
        if (k && k->pin)
            k->pin(st[i].fd, st[i].value);
    }
}

void crs_proc_fds_apply(struct crs_img_fd *fds, size_t nfds, const struct crs_snap_fdstate *st,
                        uint32_t n)
{
    for (size_t i = 0; i < nfds; i++) {
        const struct crs_fd_ops *k = crs_fd_ops_of(fds[i].kind);
        if (!k || !k->apply)
            continue;
        for (uint32_t j = 0; j < n; j++)
            if (st[j].fd == fds[i].fd && st[j].ino == fds[i].ino && st[j].kind == fds[i].kind)
                k->apply(&fds[i], st[j].value);
    }
}

long crs_proc_fds(struct crs_img_fd *fds, size_t max, struct crs_strtab *st,
                  const int *internal, uint32_t ninternal, const int *skip, int nskip,
                  char *work, size_t workcap)
{
    /* first the numbers, so that descriptors opened below are not listed */
    int *nums = (int *)work;
    size_t maxnums = workcap / 2 / sizeof(int), nnums = 0;
    char *text = work + workcap / 2;
    size_t textcap = workcap / 2;
    char dents[4096];
    struct crs_dirwalk w;
    const char *name;
    int r;

    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    crs_dirwalk_init(&w, dfd, dents, sizeof dents);
    while ((r = crs_dirwalk_next(&w, &name)) > 0) {
        int v = crs_dirent_num(name);
        if (v < 0 || v == dfd || in_list(v, skip, nskip))
            continue;
        if (nnums == maxnums) {
            close(dfd);
            return -E2BIG;
        }
        nums[nnums++] = v;
    }
    close(dfd);
    if (r < 0)
        return r;
    /* ascending order, as the image requires */
    for (size_t i = 1; i < nnums; i++) {
        int x = nums[i];
        size_t j = i;
        for (; j > 0 && nums[j - 1] > x; j--)
            nums[j] = nums[j - 1];
        nums[j] = x;
    }
    if (nnums > max)
        return -E2BIG;

    size_t n = 0;
    for (size_t i = 0; i < nnums; i++) {
        struct crs_img_fd *f = &fds[n];
        char p[64];
        struct stat sb;
        int fd = nums[i];
        struct crs_fd_probe probe = { .fd = fd, .sb = &sb, .link_len = -1 };

        memset(f, 0, sizeof *f);
        f->fd = fd;
        if (fstat(fd, &sb) < 0)
            continue; /* closed meanwhile: only the child's own can be */
        const char *link = crs_fd_probe_link(&probe);
        long ln = probe.link_len;
        int fl = fcntl(fd, F_GETFL);
        int fdfl = fcntl(fd, F_GETFD);
        f->flags = fl < 0 ? 0 : (uint32_t)fl;
        f->fdflags = fdfl < 0 ? 0 : (uint32_t)fdfl;
        f->mode = sb.st_mode;
        f->dev = sb.st_dev;
        f->ino = sb.st_ino;
        f->rdev = sb.st_rdev;
        f->size = (uint64_t)sb.st_size;
        f->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        f->kind = in_list(fd, internal, (int)ninternal) ? CRS_FD_INTERNAL
                                                        : crs_fd_recognise(&probe);
        f->path = crs_strtab_addn(st, link, (size_t)ln);
        if (ln && !f->path)
            return -E2BIG;
        crs_fd_path(p, sizeof p, "/proc/self/fdinfo/", fd);
        long tl = crs_read_file(p, text, textcap);
        if (tl > 0) {
            const char *s = crs_find_field(text, (size_t)tl, "pos:");
            uint64_t v;
            if (s) {
                crs_skip_space(&s);
                if (!crs_parse_dec(&s, &v))
                    f->pos = v;
            }
        }
        const struct crs_fd_ops *k = crs_fd_ops_of(f->kind);
        if (k->read)
            k->read(f, text, tl > 0 ? (size_t)tl : 0, textcap);
        n++;
    }
    /* the kinds that need every descriptor, each once */
    for (uint32_t kind = 1; kind < CRS_FD__END; kind++) {
        const struct crs_fd_ops *k = crs_fd_kinds[kind];
        int any = 0;
        for (size_t i = 0; i < n && !any; i++)
            any = fds[i].kind == kind;
        if (any && k->read_all)
            k->read_all(fds, n, text, textcap);
    }
    return (long)n;
}
