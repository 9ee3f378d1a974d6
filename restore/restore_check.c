/* restore/restore_check.c - the restorer's checks that need no change to the process: is this
 * host the one the image expects, can the image's limits be met here, are the files the image
 * maps or holds open still there, unchanged and long enough.
 *
 * The rule: whatever a restore can fail on after its point of no return (the first change to
 * its own address space, crs_restore_memory) is checked before it, and the dry run
 * (`crsnap restore -n`) runs the very same checks; what is a property of the image alone is
 * also checked by `crsnap verify`. Each failure, and where it is checked:
 *
 *   damaged structure, sizes, a region's file offset not page-aligned or offset + length past
 *   the largest file offset (EOVERFLOW), more than CRS_IMG_MAX_FDS descriptors
 *                                        crs_image_open (reader.c): verify, -n, restore
 *   a checksum, a chunk that does not decompress
 *                                        crs_image_verify: verify, -n; crs_image_check: restore
 *   no usable restart entry, stack or plan area; 0 or more than CRS_PLAN_MAX_THREADS threads;
 *   an interval timer the kernel refuses
 *                                        crs_restore_check_image: verify, -n, restore
 *   another kernel, libc, CPU features, page size
 *                                        crs_restore_check_host: -n, restore
 *   a descriptor number at or above what RLIMIT_NOFILE's hard limit allows here (the restorer
 *   moves its own descriptors above the highest saved one)
 *                                        crs_restore_check_fd_limit: -n, restore
 *   --same-pid without CAP_CHECKPOINT_RESTORE or with the pid taken
 *                                        crs_restore_check_pid: -n (restore: fails before)
 *   a mapped file missing, changed, or shorter than the part the mapping covered (a touch past
 *   the end is SIGBUS, in the restorer itself when it writes saved pages there); saved pages of
 *   a private file mapping past the file's current end; an open file missing
 *                                        crs_restore_check_files: -n, restore
 *   a region the kernel will not map here: commit limit (cumulative with
 *   vm.overcommit_memory=2), vm.max_map_count, a file that cannot be opened with the access the
 *   mapping needs, a noexec mount, a file that cannot be mapped
 *                                        crs_restore_memory_try (restore_mem.c): -n, restore
 *   the restorer's layout in the way   crs_restore_check_layout: -n, restore (re-executes)
 *   no [vdso]/[vvar] block of the saved sizes here
 *                                        crs_restore_check_vdso (restore_mem.c): -n, restore
 *
 * What fails after the point of no return is only reported (a descriptor that cannot be
 * reopened stays closed, a limit or the personality that cannot be set back), or is a race
 * with the host (a file removed between the check and the restore).
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"
#include "common/filehash.h"
#include "common/hugebuf.h"
#include "image/fdkind.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

int crs_restore_check_host(const struct crs_image *img, const struct crs_restore_hooks *hk,
                           char *err, size_t errlen)
{
    const struct crs_img_host *h = &img->host;
    struct utsname u;
    const char *release, *libc;
    uint64_t xf;

    if (img->header.arch != CRS_ARCH_ID) {
        crs_seterr(err, errlen, "incompatible host: the image is for another architecture (id %u)",
                   img->header.arch);
        return -ENOEXEC;
    }
    if (uname(&u) < 0)
        return -errno;
    /* Test hooks: pretend to be another host, to exercise these errors. */
    release = hk && hk->fake_release ? hk->fake_release : u.release;
    libc = hk && hk->fake_libc ? hk->fake_libc : gnu_get_libc_version();
    xf = hk && hk->has_fake_xfeatures ? hk->fake_xfeatures : crs_arch_xfeatures();
    if (strncmp(h->machine, u.machine, sizeof h->machine)) {
        crs_seterr(err, errlen, "incompatible host: image taken on %.65s, this is %s", h->machine,
                   u.machine);
        return -ENOEXEC;
    }
    if (strncmp(h->release, release, sizeof h->release)) {
        crs_seterr(err, errlen, "incompatible host: image taken on kernel %.65s, this is %s",
                   h->release, release);
        return -ENOEXEC;
    }
    if (strncmp(h->libc_version, libc, sizeof h->libc_version)) {
        crs_seterr(err, errlen, "incompatible host: image taken with glibc %.32s, this is %s",
                   h->libc_version, libc);
        return -ENOEXEC;
    }
    if (h->xfeatures != xf) {
        crs_seterr(err, errlen, "incompatible host: CPU state features (XCR0) %#llx in the image, "
                   "%#llx here", (unsigned long long)h->xfeatures, (unsigned long long)xf);
        return -ENOEXEC;
    }
    if (h->page_size != (uint32_t)sysconf(_SC_PAGESIZE) ||
        img->header.page_size != CRS_IMG_PAGE_SIZE) {
        crs_seterr(err, errlen, "incompatible host: page size %u in the image", h->page_size);
        return -ENOEXEC;
    }
    return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Bytes of region v that a file of size bytes backs: the pages from its offset up to the
 * file's last page; a touch beyond is SIGBUS. */
static uint64_t covered(const struct crs_img_vma *v, uint64_t size)
{
    uint64_t pages = size > UINT64_MAX - CRS_IMG_PAGE_SIZE ? UINT64_MAX - CRS_IMG_PAGE_SIZE + 1
                     : (size + CRS_IMG_PAGE_SIZE - 1) & ~(uint64_t)(CRS_IMG_PAGE_SIZE - 1);
    uint64_t len = v->end - v->start;

    if (pages <= v->file_offset)
        return 0;
    return pages - v->file_offset < len ? pages - v->file_offset : len;
}

/* The hash the checkpoint took of v's file (a shared mapping), or NULL. */
static const struct crs_img_maphash *maphash_of(const struct crs_image *img,
                                                const struct crs_img_vma *v)
{
    for (uint32_t i = 0; i < img->nmaphash; i++)
        if (img->maphash[i].start == v->start)
            return &img->maphash[i];
    return NULL;
}

/* Do the bytes of path that v maps differ from those hashed at the checkpoint (or can they no
 * longer be read)? */
static int contents_differ(const char *path, const struct crs_img_vma *v,
                           const struct crs_img_maphash *h)
{
    static char buf[1 << 16];
    XXH3_state_t *st = XXH3_createState();
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), differ = 1;
    uint64_t hash;

    if (fd >= 0 && st &&
        crs_hash_file_range(fd, v->file_offset, h->len, buf, sizeof buf, st, &hash) == 0)
        differ = hash != h->hash;
    if (fd >= 0)
        close(fd);
    XXH3_freeState(st);
    return differ;
}

/* A mapped file must be the very file: same size and mtime, and for a shared mapping the same
 * contents, hashed (inode numbers change when a file is copied back, which is fine; a library
 * rebuilt in place is not). */
static int check_mapped(const struct crs_image *img, const struct crs_img_vma *v,
                        const struct crs_restore_opts *o, char *err, size_t errlen)
{
    const char *path = crs_image_string(img, v->path);
    struct stat st;

    if (!path || path[0] != '/')
        return 0;
    if (stat(path, &st) < 0) {
        crs_seterr(err, errlen, "%s is missing (mapped at %#llx at the checkpoint)", path,
                   (unsigned long long)v->start);
        return o->force ? 1 : -ENOENT;
    }
    /* Only a file or a device can be mapped; a FIFO put at the name would also block the open. */
    if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
        crs_seterr(err, errlen,
                   "%s is no longer a regular file (mapped at %#llx at the checkpoint)",
                   path, (unsigned long long)v->start);
        return -ESTALE;
    }
    /* A touch of a mapped page past the file's end is SIGBUS: the file must still cover
     * what it covered at the checkpoint, --force or not. */
    if (covered(v, (uint64_t)st.st_size) < covered(v, v->file_size)) {
        crs_seterr(err, errlen, "%s is shorter than at the checkpoint (%llu bytes, was %llu): the "
                   "region mapped from offset %#llx at %#llx would fault past its end", path,
                   (unsigned long long)st.st_size, (unsigned long long)v->file_size,
                   (unsigned long long)v->file_offset, (unsigned long long)v->start);
        return -ESTALE;
    }
    /* A writable shared mapping is the process's own output: the file holds its contents and
     * the process (or its run after the checkpoint) changes it in place, as the JVM does with
     * its hsperfdata file. Only a file that shrank would fault on access after the restore. */
    int stamp = (uint64_t)st.st_size != v->file_size || mtime_ns(&st) != v->file_mtime_ns;
    const struct crs_img_maphash *h = maphash_of(img, v);
    int changed = stamp || (h && contents_differ(path, v, h));
    if (changed && crs_restore_jobshm_puts_back(img, o, path))
        return 0;                       /* the job's restore puts it back as it was */
    if ((v->flags & CRS_VMA_F_SHARED) && (v->prot & PROT_WRITE) &&
        (uint64_t)st.st_size >= v->file_size) {
        if (!changed)
            return 0;
        crs_seterr(err, errlen,
                   "%s changed since the checkpoint; it is mapped shared and writable, "
                   "so the restored process sees its current contents", path);
        return 1;
    }
    if (changed) {
        crs_seterr(err, errlen, "%s changed since the checkpoint (%s)", path,
                   stamp ? "size/mtime differ" : "its mapped contents differ");
        return o->force ? 1 : -ESTALE;
    }
    return 0;
}

/* The pages at [addr, addr + npages) lie inside the file region v maps: last and limit keep
 * the region last looked at and how far its file reaches. */
static int check_run(const struct crs_image *img, uint64_t addr, uint32_t npages,
                     const struct crs_img_vma **last, uint64_t *limit, char *err, size_t errlen)
{
    const struct crs_img_vma *v = crs_image_find_vma(img, addr);
    const char *path = v ? crs_image_string(img, v->path) : NULL;
    uint64_t end = addr + (uint64_t)npages * CRS_IMG_PAGE_SIZE;
    struct stat st;

    if (!v || v->kind != CRS_VMA_FILE_PRIVATE || (v->flags & CRS_VMA_F_DELETED) || !path ||
        path[0] != '/')
        return 0;
    if (v != *last) {
        *last = v;
        *limit = stat(path, &st) == 0 ? v->start + covered(v, (uint64_t)st.st_size) : v->end;
    }
    if (end > *limit) {
        crs_seterr(err, errlen, "saved pages %#llx-%#llx lie past the end of %s (mapped from "
                   "offset %#llx at %#llx)", (unsigned long long)addr,
                   (unsigned long long)end, path, (unsigned long long)v->file_offset,
                   (unsigned long long)v->start);
        return -ESTALE;
    }
    return 0;
}

/* The restorer writes a private file mapping's saved pages into the mapping: a page past the
 * file's end there would kill it with SIGBUS, after the point of no return. A real image has
 * none (truncating a file drops the pages past its end from every mapping); a crafted one, or
 * one whose file is shorter now, is refused. Reads the page index, else the chunk headers
 * (through a window: one long read instead of one per chunk). */
static int check_pages_in_files(const struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_vma *last = NULL;
    uint64_t limit = 0;
    struct crs_chunk_iter it;
    int r = 0;

    /* With a page index, each file region's last chunk is the one to check: the index is in
     * address order, and a large image has hundreds of thousands of chunks elsewhere. */
    for (uint32_t k = 0; k < img->nvmas && img->npageidx && !r; k++) {
        const struct crs_img_vma *v = &img->vmas[k];
        if (v->kind != CRS_VMA_FILE_PRIVATE)
            continue;
        uint32_t i = crs_image_idx_at(img->pageidx, img->npageidx, v->end);
        if (i > 0 && img->pageidx[i - 1].addr >= v->start)
            r = check_run(img, img->pageidx[i - 1].addr, img->pageidx[i - 1].npages, &last,
                          &limit, err, errlen);
    }
    if (img->npageidx)
        return r;
    struct crs_read_window win = { .buf = crs_hugebuf_alloc(CRS_READ_WINDOW),
                                   .size = CRS_READ_WINDOW };
    crs_image_chunk_begin_window(img, &it, win.buf ? &win : NULL);
    while ((r = crs_image_next_chunk(img, &it, err, errlen)) > 0 &&
           !(r = check_run(img, it.chunk.addr, it.chunk.npages, &last, &limit, err, errlen))) {
    }
    crs_hugebuf_free(win.buf, CRS_READ_WINDOW);
    return r;
}

int crs_restore_check_files(const struct crs_image *img, const struct crs_restore_opts *o,
                            char *err, size_t errlen)
{
    /* The library that holds the restart entry must be the very one, --force or not. */
    const struct crs_img_vma *ev = crs_image_find_vma(img, img->process.restart.entry);
    const char *entry_file = ev ? crs_image_string(img, ev->path) : NULL;
    const struct crs_restore_opts strict = { 0 };
    int r;

    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if ((v->kind != CRS_VMA_FILE_PRIVATE && v->kind != CRS_VMA_FILE_SHARED) ||
            (v->flags & CRS_VMA_F_DELETED))
            continue;
        /* A file mapped several times is reported once. */
        if (i > 0 && img->vmas[i - 1].path == v->path && img->vmas[i - 1].ino == v->ino)
            continue;
        const char *path = crs_image_string(img, v->path);
        int is_entry = entry_file && path && !strcmp(path, entry_file);
        /* a /dev/shm object that is gone is made again with the saved contents */
        if ((v->flags & CRS_VMA_F_SHMOBJ) && path && access(path, F_OK) < 0 && errno == ENOENT)
            continue;
        if ((r = check_mapped(img, v, is_entry ? &strict : o, err, errlen)) < 0)
            return r;
        if (r > 0 && !o->tree_root)
            crs_restore_say(2, "warning: ", err);
    }
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        if ((r = crs_restore_check_shmobj(img, &img->shmobj[i], o, err, errlen)) < 0)
            return r;
        if (r > 0 && !o->tree_root)
            crs_restore_say(2, "warning: ", err);
    }
    if ((r = check_pages_in_files(img, err, errlen)) < 0)
        return r;
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_fd_ops *k = crs_fd_ops_of(img->fds[i].kind);
        if (!k || !k->check)
            continue;
        if ((r = k->check(img, &img->fds[i], o, err, errlen)) < 0)
            return r;
        if (r > 0 && !o->tree_root)
            crs_restore_say(2, "warning: ", err);
    }
    err[0] = '\0';
    return 0;
}

/* The restart entry, its stack and its plan area must be in saved memory of the right kind. */
static int check_restart(const struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_restart *rs = &img->process.restart;
    const struct crs_img_vma *e = crs_image_find_vma(img, rs->entry);
    const struct crs_img_vma *s = crs_image_find_vma(img, rs->stack_top - 16);
    const struct crs_img_vma *p = crs_image_find_vma(img, rs->plan_addr);

    if (!rs->entry) {
        crs_seterr(err, errlen, "the image records no restart entry");
        return -EBADMSG;
    }
    if (!e || !(e->prot & PROT_EXEC) || !s || !(s->prot & PROT_WRITE) || !p ||
        !(p->prot & PROT_WRITE) || p->end - rs->plan_addr < sizeof(struct crs_restart_plan) ||
        rs->plan_size < sizeof(struct crs_restart_plan) || rs->stack_top % 16) {
        crs_seterr(err, errlen, "the image's restart entry, stack or plan area is not usable");
        return -EBADMSG;
    }
    return 0;
}

static int bad_timeval(const struct crs_img_timeval *t)
{
    return t->sec < 0 || t->usec < 0 || t->usec >= 1000000;
}

int crs_restore_check_image(const struct crs_image *img, char *err, size_t errlen)
{
    int r;

    if ((r = check_restart(img, err, errlen)))
        return r;
    if (img->nthreads == 0 || img->nthreads > CRS_PLAN_MAX_THREADS) {
        crs_seterr(err, errlen,
                   "the image holds %u threads (1 to %u can be restored)", img->nthreads,
                   CRS_PLAN_MAX_THREADS);
        return -E2BIG;
    }
    /* setitimer refuses these, and it runs after the point of no return */
    for (int i = 0; i < 3; i++) {
        const struct crs_img_itimer *t = &img->process.itimers[i];
        if (bad_timeval(&t->interval) || bad_timeval(&t->value)) {
            crs_seterr(err, errlen, "damaged process section: interval timer %d is not a valid "
                       "time", i);
            return -EBADMSG;
        }
    }
    return 0;
}

/* Descriptors the restorer holds above the highest saved number while it rebuilds them (its
 * standard streams, the image, the program file, a pipe's two ends being lifted...). */
#define FD_ROOM 16

int crs_restore_check_fd_limit(const struct crs_image *img, char *err, size_t errlen)
{
    struct rlimit rl;
    rlim_t need = 3 + FD_ROOM;

    for (uint32_t i = 0; i < img->nfds; i++)
        if (img->fds[i].kind != CRS_FD_INTERNAL && (rlim_t)img->fds[i].fd + 1 + FD_ROOM > need)
            need = (rlim_t)img->fds[i].fd + 1 + FD_ROOM;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        /* privileged (CAP_SYS_RESOURCE), the hard limit can be raised, up to fs.nr_open */
        struct rlimit up = { rl.rlim_cur, need };
        if (setrlimit(RLIMIT_NOFILE, &up) < 0) {
            crs_seterr(err, errlen, "the image has descriptor %llu; this process may only open "
                       "descriptors below %llu (RLIMIT_NOFILE hard limit; needs %llu: raise it, "
                       "e.g. ulimit -Hn, as root)", (unsigned long long)(need - 1 - FD_ROOM),
                       (unsigned long long)rl.rlim_max, (unsigned long long)need);
            return -EMFILE;
        }
    }
    return 0;
}

int crs_restore_check_pid(const struct crs_image *img, char *err, size_t errlen)
{
    pid_t want = (pid_t)img->process.pid;
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    int cap = 40; /* CAP_CHECKPOINT_RESTORE; CAP_SYS_ADMIN (21) serves as well */

    if (getpid() == want)
        return 0;
    if (syscall(SYS_capget, &h, d) < 0 ||
        (!(d[cap / 32].effective & (1u << (cap % 32))) && !(d[0].effective & (1u << 21)))) {
        crs_seterr(err, errlen, "cannot restore under pid %d: needs CAP_CHECKPOINT_RESTORE",
                   (int)want);
        return -EPERM;
    }
    if (kill(want, 0) == 0 || errno != ESRCH) {
        crs_seterr(err, errlen, "cannot restore under pid %d: a process has it", (int)want);
        return -EEXIST;
    }
    return 0;
}
