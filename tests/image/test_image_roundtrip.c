/* tests/image/test_roundtrip.c - the snapshot child writes an image of this very test process
 * (forked, as the runtime would), and the reader gets back what was there: a region with a
 * known pattern, elided zero pages, skipped unpopulated pages, and descriptor state; through
 * io_uring and through pwrite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "image_test.h"

#define NPAGES 64
static char *region;

static void fill_region(void)
{
    region = mmap(NULL, NPAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(region != MAP_FAILED);
    for (int p = 0; p < 10; p++)
        for (int i = 0; i < 4096; i++)
            region[p * 4096 + i] = (char)(p * 31 + i * 7 + 1);
    /* populated but zero: must be elided */
    memset(region + 10 * 4096, 0, 10 * 4096);
    /* one more page after a hole of untouched pages */
    memset(region + 30 * 4096, 0x5a, 4096);
    region[30 * 4096] = 1;
}

struct fdset {
    int file, pipe_r, pipe_w, efd, tfd, ep, sfd;
};

static void open_fds(struct fdset *f, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/regular.txt", dir);
    f->file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
    assert_true(f->file >= 0);
    assert_int_equal(write(f->file, "0123456789abcdefghijklmnopqrstuvwxyz0123456789", 46), 46);
    assert_int_equal(lseek(f->file, 37, SEEK_SET), 37);
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    f->pipe_r = p[0];
    f->pipe_w = p[1];
    f->efd = eventfd(5, EFD_CLOEXEC);
    assert_true(f->efd >= 0);
    f->tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    assert_true(f->tfd >= 0);
    struct itimerspec its = {{2, 0}, {100, 0}};
    assert_int_equal(timerfd_settime(f->tfd, 0, &its, NULL), 0);
    f->ep = epoll_create1(0);
    assert_true(f->ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234};
    assert_int_equal(epoll_ctl(f->ep, EPOLL_CTL_ADD, f->efd, &ev), 0);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 0xfeedbeef;
    assert_int_equal(epoll_ctl(f->ep, EPOLL_CTL_ADD, f->pipe_r, &ev), 0);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR2);
    f->sfd = signalfd(-1, &ss, 0);
    assert_true(f->sfd >= 0);
}

static void close_fds(struct fdset *f)
{
    close(f->file);
    close(f->pipe_r);
    close(f->pipe_w);
    close(f->efd);
    close(f->tfd);
    close(f->ep);
    close(f->sfd);
}

static const struct crs_img_fd *find_fd(const struct crs_image *img, int fd)
{
    for (uint32_t i = 0; i < img->nfds; i++)
        if (img->fds[i].fd == fd)
            return &img->fds[i];
    return NULL;
}

/* Collects which pages of [lo, lo + n pages) the image holds, checking each against memory. */
static int saved_pages(struct crs_image *img, uint64_t lo, int n, char *saved)
{
    struct crs_chunk_iter it;
    char err[256];
    char *buf = malloc(256 * 4096);
    int r, count = 0;
    memset(saved, 0, (size_t)n);
    crs_image_chunk_begin(img, &it);
    while ((r = crs_image_next_chunk(img, &it, err, sizeof err)) > 0) {
        if (it.chunk.addr + it.chunk.npages * 4096ull <= lo || it.chunk.addr >= lo + n * 4096ull)
            continue;
        assert_int_equal(crs_image_read_chunk(img, &it, buf, 256 * 4096, err, sizeof err), 0);
        for (uint32_t i = 0; i < it.chunk.npages; i++) {
            uint64_t a = it.chunk.addr + i * 4096ull;
            if (a < lo || a >= lo + n * 4096ull)
                continue;
            saved[(a - lo) / 4096] = 1;
            count++;
            assert_memory_equal(buf + i * 4096, (void *)(uintptr_t)a, 4096);
        }
    }
    assert_int_equal(r, 0);
    free(buf);
    return count;
}

/* The descriptor fd of the image, which must be there and of this kind. */
static const struct crs_img_fd *fd_of(const struct crs_image *img, int fd, uint32_t kind)
{
    const struct crs_img_fd *d = find_fd(img, fd);
    assert_non_null(d);
    assert_int_equal(d->kind, kind);
    return d;
}

/* The mapping at addr in the image, which must be there and of this kind. */
static const struct crs_img_vma *vma_of(const struct crs_image *img, const void *addr, uint32_t kind)
{
    const struct crs_img_vma *v = crs_image_find_vma(img, (uint64_t)(uintptr_t)addr);
    assert_non_null(v);
    assert_int_equal(v->kind, kind);
    return v;
}

/* Writes dir/ckpt-000001.crsnap of this process through the snapshot child, which must exit
 * 0, and opens it; *t is the request, for the caller to free. */
static struct crs_image *snap_and_open(const char *dir, char *path, size_t cap,
                                       struct crs_test_req **t)
{
    struct crs_snap_report rep;
    struct crs_image *img;
    char err[256];
    snprintf(path, cap, "%s/ckpt-000001.crsnap", dir);
    *t = crs_test_req_new(path, dir, 1);
    assert_int_equal(crs_test_run_child(*t, &rep, NULL), 0);
    assert_int_equal(crs_image_open(path, &img, err, sizeof err), 0);
    return img;
}

static void check_image(const char *path, const struct fdset *f)
{
    struct crs_image *img;
    char err[256] = "";
    int r = crs_image_open(path, &img, err, sizeof err);
    if (r)
        fail_msg("open %s: %s", path, err);
    assert_int_equal(img->header.seq, 7);
    assert_int_equal(img->header.pid, getpid());
    assert_int_equal(img->trailer.pause_ns, 4242);
    assert_int_equal(img->nthreads, 1);
    assert_int_equal(img->threads[0].tid, getpid());
    assert_string_equal(img->host.machine, "x86_64");
    assert_int_equal(img->process.pid, getpid());
    assert_int_equal(img->process.restart.entry, 0xabcdef);
    assert_true(img->argc >= 1);
    assert_non_null(strstr(img->argv[0], "test_image"));
    assert_true(img->nauxv > 5);
    assert_non_null(strstr(crs_image_string(img, img->process.exe), "test_image"));

    /* the region, its pages and the data */
    const struct crs_img_vma *v = vma_of(img, region, CRS_VMA_ANON);
    assert_true(v->flags & CRS_VMA_F_SAVED);
    assert_int_equal(v->prot, PROT_READ | PROT_WRITE);
    assert_true(img->process.pages_zero >= 10);

    char saved[NPAGES];
    saved_pages(img, (uint64_t)(uintptr_t)region, NPAGES, saved);
    for (int p = 0; p < NPAGES; p++)
        assert_int_equal(saved[p], p < 10 || p == 30);

    /* descriptors */
    const struct crs_img_fd *d = fd_of(img, f->file, CRS_FD_FILE);
    assert_int_equal(d->pos, 37);
    assert_int_equal(d->size, 46);
    assert_true(d->flags & O_APPEND);
    assert_int_equal(d->flags & O_ACCMODE, O_RDWR);
    assert_non_null(strstr(crs_image_string(img, d->path), "regular.txt"));
    d = fd_of(img, f->pipe_r, CRS_FD_PIPE);
    assert_true(d->flags & O_NONBLOCK);
    assert_int_equal(strncmp(crs_image_string(img, d->path), "pipe:[", 6), 0);
    d = fd_of(img, f->efd, CRS_FD_EVENTFD);
    assert_int_equal(d->u.eventfd.count, 5);
    assert_true(d->fdflags & FD_CLOEXEC);
    d = fd_of(img, f->tfd, CRS_FD_TIMERFD);
    assert_int_equal(d->u.timerfd.clockid, CLOCK_MONOTONIC);
    assert_int_equal(d->u.timerfd.interval.sec, 2);
    assert_true(d->u.timerfd.value.sec >= 90 && d->u.timerfd.value.sec <= 100);
    d = fd_of(img, f->ep, CRS_FD_EPOLL);
    assert_int_equal(d->u.epoll.n, 2);
    int seen = 0;
    for (uint32_t i = 0; i < d->u.epoll.n; i++) {
        const struct crs_img_epoll_tfd *t = &d->u.epoll.tfd[i];
        /* the kernel adds EPOLLERR and EPOLLHUP to every registration */
        uint32_t ev = t->events & ~(uint32_t)(EPOLLERR | EPOLLHUP);
        if (t->fd == f->efd && t->data == 0x1234 && ev == EPOLLIN)
            seen |= 1;
        if (t->fd == f->pipe_r && t->data == 0xfeedbeef && ev == (EPOLLIN | EPOLLET))
            seen |= 2;
    }
    assert_int_equal(seen, 3);
    d = fd_of(img, f->sfd, CRS_FD_SIGNALFD);
    assert_int_equal(d->u.signalfd.mask, 1ull << (SIGUSR2 - 1));
    /* the report pipe is the snapshot's own */
    for (uint32_t i = 0; i < img->nfds; i++)
        if (img->fds[i].kind == CRS_FD_INTERNAL)
            seen |= 4;
    assert_true(seen & 4);

    assert_int_equal(crs_image_verify(img, NULL, NULL, err, sizeof err), 0);
    crs_image_close(img);
}

static void no_scan(void)
{
    setenv("CRSNAP_TEST_NO_PAGEMAP_SCAN", "1", 1);
}

static void roundtrip(int force_pwrite, int pagemap_read)
{
    char dir[2048], path[4096];
    struct fdset f;
    struct crs_snap_report rep;

    crs_test_dir(dir, sizeof dir, pagemap_read ? "rt-pagemap" : force_pwrite ? "rt-pwrite" : "rt-uring");
    snprintf(path, sizeof path, "%s/ckpt-000007.crsnap", dir);
    fill_region();
    open_fds(&f, dir);
    struct crs_test_req *t = crs_test_req_new(path, dir, 7);
    t->req.force_pwrite = force_pwrite;
    t->req.restart.entry = 0xabcdef;
    int st = crs_test_run_child(t, &rep, pagemap_read ? no_scan : NULL);
    assert_int_equal(st, 0);
    assert_int_equal(rep.error, 0);
    assert_string_equal(rep.path, path);
    assert_true(rep.bytes_written > 0);
    assert_true(rep.memory_saved >= 11 * 4096);
    check_image(path, &f);
    /* published: the link and no temp file */
    char link[4096], lpath[4096];
    snprintf(lpath, sizeof lpath, "%s/latest", dir);
    ssize_t n = readlink(lpath, link, sizeof link - 1);
    assert_true(n > 0);
    link[n] = 0;
    assert_string_equal(link, "ckpt-000007.crsnap");
    assert_int_equal(crs_test_count(dir, ".ckpt-"), 0);
    crs_test_req_free(t);
    close_fds(&f);
    munmap(region, NPAGES * 4096);
}

static void test_roundtrip_uring(void **state)
{
    (void)state;
    roundtrip(0, 0);
}

static void test_roundtrip_pwrite(void **state)
{
    (void)state;
    roundtrip(1, 0);
}

/* The same through plain pagemap reads, for kernels without PAGEMAP_SCAN. */
static void test_roundtrip_pagemap_read(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    /* reading pagemap entry by entry over the sanitizer's terabytes of shadow takes minutes;
     * the plain build covers this path */
    skip();
#endif
    roundtrip(0, 1);
}

/* An explicit path (no directory): no link, no retention. */
static void test_explicit_path(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    struct crs_snap_report rep;
    crs_test_dir(dir, sizeof dir, "explicit");
    snprintf(path, sizeof path, "%s/my.img", dir);
    struct crs_test_req *t = crs_test_req_new(path, "", 0);
    assert_int_equal(crs_test_run_child(t, &rep, NULL), 0);
    assert_int_equal(rep.error, 0);
    assert_int_equal(crs_test_count(dir, "latest"), 0);
    struct crs_image *img;
    char err[256];
    assert_int_equal(crs_image_open(path, &img, err, sizeof err), 0);
    assert_int_equal(crs_image_verify(img, NULL, NULL, err, sizeof err), 0);
    crs_image_close(img);
    crs_test_req_free(t);
}

/* A region without read permission and a PROT_NONE one that was populated earlier. */
static void test_unreadable_regions(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    char *a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED);
    memset(a, 0x11, 4096);
    memset(a + 2 * 4096, 0x22, 4096);
    assert_int_equal(mprotect(a, 3 * 4096, PROT_NONE), 0);
    crs_test_dir(dir, sizeof dir, "protnone");
    struct crs_test_req *t;
    struct crs_image *img = snap_and_open(dir, path, sizeof path, &t);
    char err[256];
    const struct crs_img_vma *v = crs_image_find_vma(img, (uint64_t)(uintptr_t)a);
    assert_non_null(v);
    assert_int_equal(v->prot, 0);
    assert_true(v->flags & CRS_VMA_F_SAVED);
    struct crs_chunk_iter it;
    char *buf = malloc(256 * 4096);
    int pages = 0, r;
    crs_image_chunk_begin(img, &it);
    while ((r = crs_image_next_chunk(img, &it, err, sizeof err)) > 0) {
        if (it.chunk.addr < (uint64_t)(uintptr_t)a || it.chunk.addr >= (uint64_t)(uintptr_t)a + 3 * 4096)
            continue;
        assert_int_equal(crs_image_read_chunk(img, &it, buf, 256 * 4096, err, sizeof err), 0);
        for (uint32_t i = 0; i < it.chunk.npages; i++) {
            pages++;
            assert_int_equal(buf[i * 4096], it.chunk.addr + i * 4096 == (uint64_t)(uintptr_t)a ? 0x11 : 0x22);
        }
    }
    assert_int_equal(pages, 2);
    free(buf);
    crs_image_close(img);
    crs_test_req_free(t);
    munmap(a, 3 * 4096);
}

/* Shared anonymous memory is saved although fork does not copy its page tables. */
static void test_shared_anon(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    char *a = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED);
    memset(a + 4096, 0x77, 4096);
    crs_test_dir(dir, sizeof dir, "shared");
    struct crs_test_req *t;
    struct crs_image *img = snap_and_open(dir, path, sizeof path, &t);
    char err[256];
    const struct crs_img_vma *v = vma_of(img, a, CRS_VMA_ANON_SHARED);
    assert_true(v->flags & CRS_VMA_F_SAVED);
    struct crs_chunk_iter it;
    char *buf = malloc(256 * 4096);
    int found = 0, r;
    crs_image_chunk_begin(img, &it);
    while ((r = crs_image_next_chunk(img, &it, err, sizeof err)) > 0)
        if (it.chunk.addr == (uint64_t)(uintptr_t)a + 4096) {
            assert_int_equal(it.chunk.npages, 1);
            assert_int_equal(crs_image_read_chunk(img, &it, buf, 256 * 4096, err, sizeof err), 0);
            assert_memory_equal(buf, a + 4096, 4096);
            found = 1;
        }
    assert_true(found);
    free(buf);
    crs_image_close(img);
    crs_test_req_free(t);
    munmap(a, 4 * 4096);
}

/* A mapped file that was deleted cannot be mapped again: every page up to its end is saved,
 * resident or not, and the pages past its end (SIGBUS) are not. Likewise a memfd. */
static void test_deleted_files(void **state)
{
    (void)state;
    char dir[2048], path[4096], fpath[4096], saved[8];
    crs_test_dir(dir, sizeof dir, "deleted");
    snprintf(fpath, sizeof fpath, "%s/gone.bin", dir);
    int fd = open(fpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char page[4096];
    for (int p = 0; p < 4; p++) {
        memset(page, 'a' + p, sizeof page);
        assert_int_equal(write(fd, page, p < 3 ? 4096 : 100), p < 3 ? 4096 : 100);
    }
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *m = mmap(NULL, 6 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(m != MAP_FAILED);
    unlink(fpath);
    int mfd = memfd_create("crsnap-test", 0);
    assert_int_equal(write(mfd, page, 4096), 4096);
    assert_int_equal(write(mfd, page, 4096), 4096);
    char *sm = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    assert_true(sm != MAP_FAILED);

    struct crs_test_req *t;
    struct crs_image *img = snap_and_open(dir, path, sizeof path, &t);
    const struct crs_img_vma *v = vma_of(img, m, CRS_VMA_FILE_PRIVATE);
    assert_true(v->flags & CRS_VMA_F_DELETED);
    assert_int_equal(saved_pages(img, (uint64_t)(uintptr_t)m, 6, saved), 4);
    for (int p = 0; p < 6; p++)
        assert_int_equal(saved[p], p < 4);
    v = vma_of(img, sm, CRS_VMA_FILE_SHARED);
    assert_true(v->flags & CRS_VMA_F_DELETED);
    assert_int_equal(saved_pages(img, (uint64_t)(uintptr_t)sm, 2, saved), 2);
    crs_image_close(img);
    crs_test_req_free(t);
    munmap(m, 6 * 4096);
    munmap(sm, 2 * 4096);
    close(fd);
    close(mfd);
}

/* Private file mappings: only the pages the process changed (copy-on-write copies) are saved;
 * shared file mappings: none, the file holds them. */
static void test_file_mappings(void **state)
{
    (void)state;
    char dir[2048], path[4096], fpath[4096], saved[4];
    crs_test_dir(dir, sizeof dir, "filemap");
    snprintf(fpath, sizeof fpath, "%s/data.bin", dir);
    int fd = open(fpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char page[4096];
    memset(page, 'x', sizeof page);
    for (int p = 0; p < 4; p++)
        assert_int_equal(write(fd, page, 4096), 4096);
    char *pm = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *sm = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(pm != MAP_FAILED && sm != MAP_FAILED);
    volatile char sink = pm[0]; /* read: still the file's page */
    (void)sink;
    pm[2 * 4096 + 5] = 'y';     /* written: a private copy */
    sm[4096] = 'z';

    struct crs_test_req *t;
    struct crs_image *img = snap_and_open(dir, path, sizeof path, &t);
    const struct crs_img_vma *v = vma_of(img, pm, CRS_VMA_FILE_PRIVATE);
    assert_int_equal(v->file_size, 4 * 4096);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal(v->ino, sb.st_ino);
    assert_int_equal(v->dev, sb.st_dev);
    assert_string_equal(crs_image_string(img, v->path), fpath);
    assert_int_equal(saved_pages(img, (uint64_t)(uintptr_t)pm, 4, saved), 1);
    assert_true(saved[2]);
    v = vma_of(img, sm, CRS_VMA_FILE_SHARED);
    assert_true(v->flags & CRS_VMA_F_SHARED);
    assert_false(v->flags & CRS_VMA_F_SAVED);
    assert_int_equal(saved_pages(img, (uint64_t)(uintptr_t)sm, 4, saved), 0);
    crs_image_close(img);
    crs_test_req_free(t);
    munmap(pm, 4 * 4096);
    munmap(sm, 4 * 4096);
    close(fd);
}

/* Makes io_uring_setup fail with ENOSYS in this process, as a container's seccomp policy does. */
static void no_io_uring(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
        _exit(77);
}

static char log_path[4096];

/* The same, with CRSNAP_LOG set and stderr going to a file. */
static void no_io_uring_logged(void)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    setenv("CRSNAP_LOG", "1", 1);
    no_io_uring();
}

/* Where io_uring cannot be set up the writer falls back to pwrite and says so once. */
static void test_uring_unavailable(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    struct crs_snap_report rep;
    crs_test_dir(dir, sizeof dir, "nouring");
    snprintf(path, sizeof path, "%s/ckpt-000001.crsnap", dir);
    struct crs_test_req *t = crs_test_req_new(path, dir, 1);
    int st = crs_test_run_child(t, &rep, no_io_uring);
    if (st == 77)
        skip();
    assert_int_equal(st, 0);
    assert_int_equal(rep.error, 0);
    assert_non_null(strstr(rep.message, "io_uring unavailable"));
    struct crs_image *img;
    char err[256];
    assert_int_equal(crs_image_open(path, &img, err, sizeof err), 0);
    assert_int_equal(crs_image_verify(img, NULL, NULL, err, sizeof err), 0);
    crs_image_close(img);
    /* CRSNAP_LOG asks for a line on stderr too */
    snprintf(log_path, sizeof log_path, "%s/stderr", dir);
    assert_int_equal(crs_test_run_child(t, &rep, no_io_uring_logged), 0);
    size_t n;
    char *text = crs_test_slurp(log_path, &n);
    assert_non_null(text);
    text[n] = '\0';
    assert_non_null(strstr(text, "io_uring unavailable"));
    assert_ptr_equal(strchr(text, '\n'), text + n - 1);
    free(text);
    /* with io_uring available the message stays empty */
    assert_int_equal(crs_test_run_child(t, &rep, NULL), 0);
    assert_string_equal(rep.message, "");
    crs_test_req_free(t);
}

/* A ring that sets up but whose writes are refused (as some file systems do with EINVAL or
 * EOPNOTSUPP) does not fail the snapshot: the writer finishes with pwrite and says so. An
 * unknown RWF_ flag on every ring write makes the kernel refuse them with EOPNOTSUPP. */
static void test_uring_writes_refused(void **state)
{
    (void)state;
    char dir[2048], path[4096], err[256];
    struct crs_snap_report rep;
    struct crs_image *img;
    crs_test_dir(dir, sizeof dir, "uringrefused");
    snprintf(path, sizeof path, "%s/ckpt-000001.crsnap", dir);
    struct crs_test_req *t = crs_test_req_new(path, dir, 1);
    setenv("CRSNAP_TEST_URING_RWF", "2147483648", 1);
    int st = crs_test_run_child(t, &rep, NULL);
    unsetenv("CRSNAP_TEST_URING_RWF");
    assert_int_equal(st, 0);
    if (rep.error)
        fail_msg("%s", rep.message);
    assert_non_null(strstr(rep.message, "pwrite"));
    assert_int_equal(crs_image_open(path, &img, err, sizeof err), 0);
    assert_int_equal(crs_image_verify(img, NULL, NULL, err, sizeof err), 0);
    crs_image_close(img);
    crs_test_req_free(t);
}

/* Pages of path in the page cache, and the file's pages. */
static void cached_pages(const char *path, size_t *cached, size_t *total)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    assert_true(fd >= 0 && fstat(fd, &sb) == 0);
    size_t n = ((size_t)sb.st_size + 4095) / 4096;
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    unsigned char *v = malloc(n);
    assert_int_equal(mincore(m, (size_t)sb.st_size, v), 0);
    *cached = 0;
    for (size_t i = 0; i < n; i++)
        *cached += v[i] & 1;
    *total = n;
    free(v);
    munmap(m, (size_t)sb.st_size);
    close(fd);
}

/* Does this directory's file system take O_DIRECT writes? */
static int direct_ok(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%.4000s/probe", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    void *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = fd >= 0 && b != MAP_FAILED && pwrite(fd, b, 4096, 0) == 4096;
    if (fd >= 0)
        close(fd);
    unlink(p);
    munmap(b, 4096);
    return ok;
}

/* Whole 1 MiB slots are written with O_DIRECT: the image is sound and most of it never went
 * through the page cache; CRSNAP_NO_DIRECT=1 writes everything buffered (all of it cached). */
static void test_direct_writes(void **state)
{
    (void)state;
    char dir[2048], path[4096], err[256];
    struct crs_snap_report rep;
    struct crs_image *img;
    size_t len = 8u << 20, cached, total;
    char *big = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(big != MAP_FAILED);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(big + i, &x, 8);
    }
    crs_test_dir(dir, sizeof dir, "direct");
    snprintf(path, sizeof path, "%s/ckpt-000001.crsnap", dir);
    struct crs_test_req *t = crs_test_req_new(path, dir, 1);
    for (int buffered = 0; buffered < 2; buffered++) {
        if (buffered)
            setenv("CRSNAP_NO_DIRECT", "1", 1);
        int st = crs_test_run_child(t, &rep, NULL);
        unsetenv("CRSNAP_NO_DIRECT");
        assert_int_equal(st, 0);
        if (rep.error)
            fail_msg("%s", rep.message);
        cached_pages(path, &cached, &total); /* before the reader fills the cache */
        assert_int_equal(crs_image_open(path, &img, err, sizeof err), 0);
        assert_int_equal(crs_image_verify(img, NULL, NULL, err, sizeof err), 0);
        crs_image_close(img);
        assert_true(total >= 2048);
        if (buffered)
            assert_true(cached == total);
        else if (direct_ok(dir) && cached > total / 4)
            fail_msg("%zu of %zu pages went through the page cache", cached, total);
        unlink(path);
    }
    crs_test_req_free(t);
    munmap(big, len);
}

/* A region of more populated runs than one PAGEMAP_SCAN call returns (every other page of
 * 16384): the scan goes on where the last call stopped, and every page is saved once, in
 * order. */
static void test_fragmented_region(void **state)
{
    (void)state;
    char dir[2048], path[4096], err[256];
    struct crs_snap_report rep;
    struct crs_image *img;
    size_t npages = 16384;
    char *m = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    madvise(m, npages * 4096, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < npages; i += 2)
        memset(m + i * 4096, (int)(i / 2 % 251) + 1, 4096);
    crs_test_dir(dir, sizeof dir, "fragmented");
    snprintf(path, sizeof path, "%s/ckpt-000001.crsnap", dir);
    struct crs_test_req *t = crs_test_req_new(path, dir, 1);
    assert_int_equal(crs_test_run_child(t, &rep, NULL), 0);
    if (rep.error)
        fail_msg("%s", rep.message);
    if (crs_image_open(path, &img, err, sizeof err) != 0 ||
        crs_image_verify(img, NULL, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    struct crs_chunk_iter it;
    size_t seen = 0;
    crs_image_chunk_begin(img, &it);
    while (crs_image_next_chunk(img, &it, err, sizeof err) == 1)
        if (it.chunk.addr >= (uintptr_t)m && it.chunk.addr < (uintptr_t)m + npages * 4096)
            seen += it.chunk.npages;
    assert_int_equal(seen, npages / 2);
    crs_image_close(img);
    crs_test_req_free(t);
    munmap(m, npages * 4096);
}

/* An epoll set larger than the record holds is not half-recorded: it is "other". */
static void test_big_epoll(void **state)
{
    (void)state;
    char dir[2048], path[4096];
    int ep[2], efd[CRS_EPOLL_MAX + 1];
    ep[0] = epoll_create1(0);
    ep[1] = epoll_create1(0);
    for (int i = 0; i <= CRS_EPOLL_MAX; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        efd[i] = eventfd(0, 0);
        assert_int_equal(epoll_ctl(ep[0], EPOLL_CTL_ADD, efd[i], &ev), 0);
        if (i < CRS_EPOLL_MAX)
            assert_int_equal(epoll_ctl(ep[1], EPOLL_CTL_ADD, efd[i], &ev), 0);
    }
    crs_test_dir(dir, sizeof dir, "bigepoll");
    struct crs_test_req *t;
    struct crs_image *img = snap_and_open(dir, path, sizeof path, &t);
    fd_of(img, ep[0], CRS_FD_OTHER);
    const struct crs_img_fd *d = fd_of(img, ep[1], CRS_FD_EPOLL);
    assert_int_equal(d->u.epoll.n, CRS_EPOLL_MAX);
    crs_image_close(img);
    crs_test_req_free(t);
    for (int i = 0; i <= CRS_EPOLL_MAX; i++)
        close(efd[i]);
    close(ep[0]);
    close(ep[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_uring),
        cmocka_unit_test(test_roundtrip_pwrite),
        cmocka_unit_test(test_roundtrip_pagemap_read),
        cmocka_unit_test(test_explicit_path),
        cmocka_unit_test(test_unreadable_regions),
        cmocka_unit_test(test_shared_anon),
        cmocka_unit_test(test_deleted_files),
        cmocka_unit_test(test_file_mappings),
        cmocka_unit_test(test_uring_unavailable),
        cmocka_unit_test(test_uring_writes_refused),
        cmocka_unit_test(test_direct_writes),
        cmocka_unit_test(test_fragmented_region),
        cmocka_unit_test(test_big_epoll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
