/* tests/image/test_image_damage.c - damaged, truncated and hostile images: the reader refuses
 * each with a one-line reason, and `crsnap verify` and `crsnap info` exit 1 with one line on
 * stderr, never a crash. Hostile cases fix up the checksums so that the deeper checks (counts,
 * lengths, offsets) are what must catch them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <cmocka.h>

#include "image_test.h"

static char dir[2048], good[4096], bad[4096];
static char *img0;
static size_t len0;

static int qpipe[2];                   /* its bytes are in the good image's QUEUED section */
static int gone_fd = -1;               /* its contents are in the DELETED section */
static int lsock = -1;                  /* a listening socket: a restore binds it again */
static int have_guard;                  /* the kernel has guard pages: GUARDS in the image */
static char shm_name[64];               /* a /dev/shm object mapped: in SHMOBJ */
static int csock = -1;                  /* connected to it: in the UNSAVED section */
static pid_t kid = -1;                  /* a child: in the UNSAVED section */
static struct crs_snap_report rep0;     /* the good image's report */

static int setup(void **state)
{
    (void)state;
    crs_test_dir(dir, sizeof dir, "damage");
    snprintf(good, sizeof good, "%s/ckpt-000001.crsnap", dir);
    snprintf(bad, sizeof bad, "%s/bad.crsnap", dir);
    /* a guard page (Linux 6.13), a removed SysV segment and a /dev/shm object, mapped */
    char *g = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    have_guard = g != MAP_FAILED && madvise(g + 4096, 4096, 102) == 0;
    int sid = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    if (sid < 0 || shmat(sid, NULL, 0) == (void *)-1 || shmctl(sid, IPC_RMID, NULL) < 0)
        return -1;
    snprintf(shm_name, sizeof shm_name, "/crsnap-damage-%d", (int)getpid());
    char shm_path[96];
    snprintf(shm_path, sizeof shm_path, "/dev/shm%s", shm_name);
    int sfd = open(shm_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (sfd < 0 || ftruncate(sfd, 4096) < 0 ||
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0) == MAP_FAILED)
        return -1;
    close(sfd);
    struct crs_test_req *t = crs_test_req_new(good, dir, 1);
    qpipe[0] = crs_test_queue_pipe(t, "waiting");
    gone_fd = crs_test_delete_file(t, dir, "no name");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    lsock = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t al = sizeof a;
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&a, sizeof a) || listen(lsock, 1) ||
        getsockname(lsock, (struct sockaddr *)&a, &al))
        return -1;
    csock = socket(AF_INET, SOCK_STREAM, 0);
    if (csock < 0 || connect(csock, (struct sockaddr *)&a, sizeof a))
        return -1;
    /* the child's name has a newline: the report's lines must stay one per object */
    int ready[2];
    char b;
    if (pipe(ready))
        return -1;
    if ((kid = fork()) == 0) {
        prctl(PR_SET_NAME, "kid\nline");
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    if (read(ready[0], &b, 1) != 1)
        return -1;
    close(ready[0]);
    return crs_test_write_image(t, &rep0, &img0, &len0);
}

static int teardown(void **state)
{
    (void)state;
    free(img0);
    if (shm_name[0]) {
        char shm_path[96];
        snprintf(shm_path, sizeof shm_path, "/dev/shm%s", shm_name);
        unlink(shm_path);
    }
    if (kid > 0) {
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
    }
    return 0;
}

/* Runs `crsnap CMD FILE`; expects exit 1 and exactly one line on stderr naming the file. */
static void cli_rejects(const char *cmd, const char *file)
{
    const char *bin = getenv("CRSNAP_BIN");
    const char *argv[] = { "crsnap", cmd, file, NULL };
    char *text;
    size_t n;
    if (!bin)
        return;
    int st = crs_test_cli(bin, dir, 0, argv, &text, &n);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
        fail_msg("crsnap %s %s: status %#x, stderr: %.*s", cmd, file, st, (int)n, text);
    assert_true(n > 0 && text[n - 1] == '\n');
    assert_null(memchr(text, '\n', n - 1));
    assert_int_equal(strncmp(text, "crsnap ", 7), 0);
    free(text);
}

/* Opens bad.crsnap and runs one of the page walks on it: 0 if it passed, else -errno and err. */
static int walk_bad(int (*walk)(struct crs_image *, crs_progress_fn, void *, char *, size_t),
                    char *err, size_t errlen)
{
    struct crs_image *img;
    int r = crs_image_open(bad, &img, err, errlen);
    if (r == 0) {
        r = walk(img, NULL, NULL, err, errlen);
        crs_image_close(img);
    }
    return r;
}

/* The reader must refuse bad.crsnap, with a one-line reason. The check a restore makes without
 * decompressing (crs_image_check) refuses it as well: every damage here breaks a checksum or
 * the structure. */
static void rejects(const char *what, const char *expect)
{
    char err[512] = "";
    int r = walk_bad(crs_image_verify, err, sizeof err);
    if (r == 0)
        fail_msg("%s: accepted", what);
    assert_true(r < 0);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    if (expect && !strstr(err, expect))
        fail_msg("%s: message \"%s\" lacks \"%s\"", what, err, expect);
    if (walk_bad(crs_image_check, err, sizeof err) == 0)
        fail_msg("%s: accepted by crs_image_check", what);
}

static void write_bad(const char *p, size_t n)
{
    crs_test_spit(bad, p, n);
}

static void test_good_image(void **state)
{
    (void)state;
    struct crs_image *img;
    char err[512];
    assert_int_equal(crs_image_open(good, &img, err, sizeof err), 0);
    assert_int_equal(crs_image_verify(img, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(img->nqueued, 1);
    assert_int_equal(img->queued[0].fd, qpipe[0]);
    assert_int_equal(img->queued[0].len, 7);
    assert_memory_equal(img->queued[0].data, "waiting", 7);
    assert_int_equal(img->ndeleted, 1);
    assert_int_equal(img->deleted[0].fd, gone_fd);
    assert_int_equal(img->deleted[0].size, 7);
    assert_memory_equal(img->deleted[0].data, "no name", 7);
    /* the guard page, the removed SysV segment and the /dev/shm object */
    if (have_guard) {
        assert_int_equal(img->nguards, 1);
        assert_int_equal(img->guards[0].end - img->guards[0].start, 4096);
    }
    assert_int_equal(img->nshmobj, 2);
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *o = &img->shmobj[i];
        if (o->kind == CRS_SHMOBJ_SYSV)
            assert_true(o->key == 0 && (o->mode & 01000) && o->size == 8192);
        else
            assert_true(o->kind == CRS_SHMOBJ_POSIX && o->size == 4096 &&
                        !strcmp(crs_image_string(img, o->path) + 8, shm_name));
    }
    /* what a restore leaves out: the connected socket and the child, nothing else of ours
     * (the listening socket is bound again) */
    int have_sock = 0, have_kid = 0;
    char line[600], want[64];
    for (uint32_t i = 0; i < img->nunsaved; i++) {
        const struct crs_img_unsaved *u = &img->unsaved[i];
        crs_image_unsaved_line(img, i, line, sizeof line);
        if (u->kind == CRS_UNSAVED_FD && u->fd == csock) {
            snprintf(want, sizeof want, "fd %d: socket 127.0.0.1:", csock);
            assert_int_equal(strncmp(line, want, strlen(want)), 0);
            assert_non_null(strstr(line, " connected to 127.0.0.1:"));
            have_sock = 1;
        }
        assert_true(u->kind != CRS_UNSAVED_FD || u->fd != lsock);
        if (u->kind == CRS_UNSAVED_CHILD && u->pid == (uint32_t)kid) {
            snprintf(want, sizeof want, "child process %d (kid\nline)", (int)kid);
            assert_int_equal(strncmp(line, want, strlen(want)), 0);
            have_kid = 1;
        }
        assert_true(u->kind != CRS_UNSAVED_FD || (u->fd != qpipe[0] && u->fd != gone_fd));
    }
    assert_true(have_sock && have_kid);
    /* the report to the parent names them, for its log */
    assert_int_equal(rep0.nunsaved, img->nunsaved);
    assert_true(rep0.unsaved_shown >= 1 && rep0.unsaved_shown <= 5);
    assert_non_null(strstr(rep0.unsaved, " connected to 127.0.0.1:"));
    if (rep0.nunsaved <= 5)            /* the child comes after the descriptors */
        assert_non_null(strstr(rep0.unsaved, "(kid?line)\n"));
    uint32_t lines = 0;
    for (const char *c = rep0.unsaved; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, rep0.unsaved_shown);
    crs_image_close(img);
    assert_int_equal(crs_image_open(good, &img, err, sizeof err), 0);
    assert_int_equal(crs_image_check(img, NULL, NULL, err, sizeof err), 0);
    crs_image_close(img);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t cuts[] = {0, 1, 63, 64, 65, 127, 1000, len0 / 3, len0 / 2, len0 - 65, len0 - 64,
                     len0 - 63, len0 - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bad(img0, cuts[i]);
        rejects("truncated", cuts[i] < 64 ? "truncated" : NULL);
        cli_rejects("verify", bad);
        cli_rejects("info", bad);
    }
    write_bad(img0, len0 / 2);
    rejects("truncated", "trailer missing");
}

static const struct crs_img_trailer *trailer_of(const char *p, size_t n)
{
    return (const struct crs_img_trailer *)(p + n - sizeof(struct crs_img_trailer));
}

static void flip_at(size_t off, const char *what, const char *expect)
{
    char *p = malloc(len0);
    memcpy(p, img0, len0);
    p[off] ^= 0x5a;
    write_bad(p, len0);
    rejects(what, expect);
    cli_rejects("verify", bad);
    free(p);
}

static void test_flipped_bytes(void **state)
{
    (void)state;
    const struct crs_img_trailer *t = trailer_of(img0, len0);
    const struct crs_img_toc_entry *toc = (const void *)(img0 + t->toc_offset);

    flip_at(0, "header magic", "bad magic");
    flip_at(8, "header version", "version");
    flip_at(24, "header time", "header");
    flip_at(40, "header pid", "header");
    flip_at(len0 - 64, "trailer magic", "trailer");
    flip_at(len0 - 40, "trailer file size", "trailer");
    flip_at(len0 - 1, "trailer checksum", "trailer");
    flip_at(t->toc_offset + 3, "table of contents", "table of contents");
    for (uint32_t i = 0; i < t->toc_count; i++) {
        const struct crs_img_toc_entry *e = &toc[i];
        flip_at(e->offset, "section header", NULL);
        if (e->length)
            flip_at(e->offset + 16 + e->length / 2, "section payload", NULL);
        if (e->type == CRS_SEC_PAGES) {
            const struct crs_img_chunk *c = (const void *)(img0 + e->offset + 16);
            flip_at(e->offset + 16, "chunk magic", "chunk");
            flip_at(e->offset + 16 + offsetof(struct crs_img_chunk, npages), "chunk pages",
                    "chunk");
            flip_at(e->offset + 16 + offsetof(struct crs_img_chunk, checksum), "chunk checksum",
                    "chunk");
            /* info does not read page data but still notices a changed chunk header */
            cli_rejects("info", bad);
            flip_at(e->offset + 16 + sizeof *c + c->clen / 2, "chunk data", "chunk");
        }
    }
}

/* The first record of section type, which must be there; *e its table entry. */
static void *record(char *p, size_t n, uint32_t type, struct crs_img_toc_entry **e)
{
    *e = crs_test_entry(p, n, type);
    assert_non_null(*e);
    return p + (*e)->offset + 16;
}

/* The good image with edit made and the sums fixed up: refused by the reader (with a reason
 * holding expect, if not NULL), `crsnap verify` and `crsnap info`. */
static void hostile(void (*edit)(char *p, size_t n), const char *what, const char *expect)
{
    char *p = malloc(len0);
    memcpy(p, img0, len0);
    edit(p, len0);
    crs_test_fix_sums(p, len0);
    write_bad(p, len0);
    rejects(what, expect);
    cli_rejects("verify", bad);
    cli_rejects("info", bad);
    free(p);
}

static void huge_vma_count(char *p, size_t n)
{
    struct crs_img_toc_entry *e = crs_test_entry(p, n, CRS_SEC_VMAS);
    e->count = 0xffffffffu;
    e->length = 0xffffffffull * sizeof(struct crs_img_vma);
}
static void huge_length(char *p, size_t n)
{
    crs_test_entry(p, n, CRS_SEC_STRINGS)->length = 1ull << 62;
}
static void offset_outside(char *p, size_t n)
{
    crs_test_entry(p, n, CRS_SEC_FDS)->offset = 0xfffffffffff8ull;
}
static void huge_toc_count(char *p, size_t n)
{
    struct crs_img_trailer *t = (struct crs_img_trailer *)(p + n - sizeof *t);
    t->toc_count = 0x7fffffff;
}
static void toc_offset_wrap(char *p, size_t n)
{
    struct crs_img_trailer *t = (struct crs_img_trailer *)(p + n - sizeof *t);
    t->toc_offset = UINT64_MAX - 8;
}
static void two_process_sections(char *p, size_t n)
{
    *crs_test_entry(p, n, CRS_SEC_HOST) = *crs_test_entry(p, n, CRS_SEC_PROCESS);
}
static void huge_chunk(char *p, size_t n)
{
    struct crs_img_toc_entry *e = crs_test_entry(p, n, CRS_SEC_PAGES);
    struct crs_img_chunk *c = (void *)(p + e->offset + 16);
    c->npages = 1u << 30;
}
static void chunk_clen_huge(char *p, size_t n)
{
    struct crs_img_toc_entry *e = crs_test_entry(p, n, CRS_SEC_PAGES);
    struct crs_img_chunk *c = (void *)(p + e->offset + 16);
    c->clen = 0xfffffff0u;
}
static void chunk_outside_regions(char *p, size_t n)
{
    struct crs_img_toc_entry *e = crs_test_entry(p, n, CRS_SEC_PAGES);
    struct crs_img_chunk *c = (void *)(p + e->offset + 16);
    c->addr = 0x1000;
}
static void chunk_count_wrong(char *p, size_t n)
{
    crs_test_entry(p, n, CRS_SEC_PAGES)->count += 1;
}
static void string_out_of_range(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_process *pr = record(p, n, CRS_SEC_PROCESS, &e);
    pr->exe = 0x7fffffff;
    e->checksum = XXH3_64bits(pr, sizeof *pr);
}
static void vmas_overlap(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_vma *v = record(p, n, CRS_SEC_VMAS, &e);
    v[1].start = v[0].start;
    crs_test_resum(p, e);
}
static void pages_in_vdso(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_vma *v = record(p, n, CRS_SEC_VMAS, &e);
    for (uint32_t i = 0; i < e->count; i++)
        if (v[i].flags & CRS_VMA_F_SAVED)
            v[i].kind = CRS_VMA_VDSO;
    crs_test_resum(p, e);
}
static void no_main_thread(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_thread *t = record(p, n, CRS_SEC_THREADS, &e);
    t[0].flags = 0;
    crs_test_resum(p, e);
}
static void epoll_count(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_fd *f = record(p, n, CRS_SEC_FDS, &e);
    f[0].kind = CRS_FD_EPOLL;
    f[0].u.epoll.n = 1000000;
    crs_test_resum(p, e);
}
static void queued_len_past(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_queued *q = record(p, n, CRS_SEC_QUEUED, &e);
    q->len = 4096;
    crs_test_resum(p, e);
}
static void queued_not_a_pipe(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_queued *q = record(p, n, CRS_SEC_QUEUED, &e);
    q->fd = 0;                          /* stdin: not the pipe with that inode */
    crs_test_resum(p, e);
}
static void queued_count(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    (void)record(p, n, CRS_SEC_QUEUED, &e);
    e->count = 2;
}
/* The last record's bytes end inside the section but their padding does not, and the count
 * asks for one more record: the walk must stop at the first, not read past the payload. */
static void queued_padding_past(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_queued *q = record(p, n, CRS_SEC_QUEUED, &e);
    struct crs_img_section *sh = (void *)(p + e->offset);
    e->length = sh->length = sizeof *q + 17;     /* unpadded: 33 bytes */
    e->count = 2;                                /* 2 headers fit in 33 bytes */
    q->len = 17;
    crs_test_resum(p, e);
}
static void deleted_size_past(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_deleted *d = record(p, n, CRS_SEC_DELETED, &e);
    d->size = 1ull << 40;
    crs_test_resum(p, e);
}
static void deleted_not_a_file(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_deleted *d = record(p, n, CRS_SEC_DELETED, &e);
    d->fd = qpipe[0];                   /* a pipe, not a regular file */
    crs_test_resum(p, e);
}
static void unsaved_text_outside(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_unsaved *u = record(p, n, CRS_SEC_UNSAVED, &e);
    u->what = 0x7fffffff;
    crs_test_resum(p, e);
}
static void unsaved_no_such_fd(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_unsaved *u = record(p, n, CRS_SEC_UNSAVED, &e);
    u->kind = CRS_UNSAVED_FD;
    u->fd = 99999;
    crs_test_resum(p, e);
}
static void unsaved_pid_zero(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_unsaved *u = record(p, n, CRS_SEC_UNSAVED, &e);
    u->kind = CRS_UNSAVED_CHILD;
    u->pid = 0;
    crs_test_resum(p, e);
}
static void unsaved_count(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    (void)record(p, n, CRS_SEC_UNSAVED, &e);
    e->count += 1;
}
static void guard_empty(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_guard *g = record(p, n, CRS_SEC_GUARDS, &e);
    g->end = g->start;
    crs_test_resum(p, e);
}
static void guard_outside(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_guard *g = record(p, n, CRS_SEC_GUARDS, &e);
    g->start = 0x1000;                  /* no region there */
    g->end = 0x2000;
    crs_test_resum(p, e);
}
/* The page index: a record for no saved region, one pointing past the pages, one short. */
static void pageidx_outside(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_pageidx *x = record(p, n, CRS_SEC_PAGEIDX, &e);
    x->addr = 0x1000;
    crs_test_resum(p, e);
}
static void pageidx_offset_past(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_pageidx *x = record(p, n, CRS_SEC_PAGEIDX, &e);
    x[e->count - 1].offset = (uint64_t)n;
    crs_test_resum(p, e);
}
static void pageidx_count(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    (void)record(p, n, CRS_SEC_PAGEIDX, &e);
    e->count -= 1;
    e->length -= sizeof(struct crs_img_pageidx);
}
/* The object a restore may create, sent outside /dev/shm: the path of the program itself. */
static void shmobj_path_elsewhere(char *p, size_t n)
{
    struct crs_img_toc_entry *e, *pe;
    struct crs_img_shmobj *o = record(p, n, CRS_SEC_SHMOBJ, &e);
    struct crs_img_process *proc = record(p, n, CRS_SEC_PROCESS, &pe);
    for (uint32_t i = 0; i < e->count; i++)
        if (o[i].kind == CRS_SHMOBJ_POSIX)
            o[i].path = proc->exe;
    crs_test_resum(p, e);
}
static void shmobj_kind(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_shmobj *o = record(p, n, CRS_SEC_SHMOBJ, &e);
    o->kind = 7;
    crs_test_resum(p, e);
}
/* Every record names another object: the regions flagged SHMOBJ are described by none. */
static void shmobj_missing(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    struct crs_img_shmobj *o = record(p, n, CRS_SEC_SHMOBJ, &e);
    for (uint32_t i = 0; i < e->count; i++)
        o[i].ino += 1000000;
    crs_test_resum(p, e);
}
static void argc_too_big(char *p, size_t n)
{
    crs_test_entry(p, n, CRS_SEC_ARGV)->count = 0x7fffffff;
}
static void wrong_version(char *p, size_t n)
{
    (void)n;
    ((struct crs_img_header *)p)->version = 99;
}

static void test_hostile(void **state)
{
    (void)state;
    hostile(huge_vma_count, "huge region count", NULL);
    hostile(huge_length, "huge section length", NULL);
    hostile(offset_outside, "section outside the file", NULL);
    hostile(huge_toc_count, "huge toc count", NULL);
    hostile(toc_offset_wrap, "toc offset wraps", NULL);
    hostile(two_process_sections, "duplicate section", NULL);
    hostile(huge_chunk, "huge chunk", NULL);
    hostile(chunk_clen_huge, "huge chunk length", NULL);
    hostile(chunk_outside_regions, "chunk outside regions", NULL);
    hostile(chunk_count_wrong, "chunk count", NULL);
    hostile(string_out_of_range, "string offset", NULL);
    hostile(vmas_overlap, "overlapping regions", NULL);
    hostile(no_main_thread, "no main thread", NULL);
    hostile(pages_in_vdso, "pages in the vdso", NULL);
    hostile(epoll_count, "epoll count", NULL);
    hostile(argc_too_big, "argc", NULL);
    hostile(queued_len_past, "queued bytes past the section", NULL);
    hostile(queued_not_a_pipe, "queued bytes for no pipe", NULL);
    hostile(queued_count, "queued record count", NULL);
    hostile(queued_padding_past, "queued record padded past the section",
            "record 0 holds 17 bytes, past its end");
    hostile(deleted_size_past, "deleted file past the section", NULL);
    hostile(deleted_not_a_file, "deleted file for no file", NULL);
    hostile(unsaved_text_outside, "not-restored text outside the strings", NULL);
    hostile(unsaved_no_such_fd, "not-restored record for no descriptor", NULL);
    hostile(unsaved_pid_zero, "not-restored child with pid 0", NULL);
    hostile(unsaved_count, "not-restored record count", NULL);
    hostile(wrong_version, "version", "unsupported image version 99");
    hostile(pageidx_outside, "a page index record outside the regions",
            "damaged page-index section: record 0");
    hostile(pageidx_offset_past, "a page index record past the pages",
            "damaged page-index section: record");
    hostile(pageidx_count, "a page index short of a record", "damaged page-index section:");
    if (have_guard) {
        hostile(guard_empty, "an empty guard run", "damaged guard-pages section: record 0");
        hostile(guard_outside, "a guard run outside the regions",
                "damaged guard-pages section: record 0");
    }
    hostile(shmobj_path_elsewhere, "a shared memory object outside /dev/shm",
            "damaged shared-memory-objects section");
    hostile(shmobj_kind, "a shared memory object of no kind", "damaged shared-memory-objects");
    hostile(shmobj_missing, "regions of shared memory the image does not describe",
            "it maps shared memory the image does not describe");
}

/* Random damage anywhere: the reader may accept a byte that no checksum covers (padding), but
 * it must never crash and always explain a refusal. */
static void test_random_damage(void **state)
{
    (void)state;
    uint64_t x = 12345;
    char *p = malloc(len0);
    for (int i = 0; i < 300; i++) {
        memcpy(p, img0, len0);
        for (int k = 0; k < 1 + i % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[x % len0] ^= (char)(1 + (x >> 32) % 255);
        }
        if (i % 3 == 0)
            crs_test_fix_sums(p, len0);
        write_bad(p, len0);
        struct crs_image *img;
        char err[512] = "";
        int r = crs_image_open(bad, &img, err, sizeof err);
        if (r == 0) {
            r = crs_image_verify(img, NULL, NULL, err, sizeof err);
            crs_image_close(img);
        }
        if (r)
            assert_true(err[0] && !strchr(err, '\n'));
    }
    free(p);
}

static void test_not_an_image(void **state)
{
    (void)state;
    write_bad("hello, world\n", 13);
    rejects("text file", "truncated");
    char big[256];
    memset(big, 'x', sizeof big);
    write_bad(big, sizeof big);
    rejects("text file", "bad magic");
    cli_rejects("verify", bad);
    cli_rejects("verify", dir);
    cli_rejects("info", "/nonexistent/image.crsnap");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_image),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_not_an_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
