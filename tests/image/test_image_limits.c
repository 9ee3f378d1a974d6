/* tests/image/test_image_limits.c - what no restore could bring back is refused before one
 * starts: images at and past each limit (descriptors, threads, file offsets, saved pages past a
 * mapped file's end, timer values, POSIX timer records, the descriptor rlimit) through the
 * reader, `crsnap verify` and `crsnap restore -n`; and the NORESERVE flag of a region is
 * recorded.
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <cmocka.h>

#include "image_test.h"
#include "restart/restart.h"

static char dir[2048], good[4096], bad[4096], mapped[4096];
static char *img0;
static size_t len0;
static void *scratch;                   /* the request's scratch: mapped MAP_NORESERVE */
static void *reserved;                  /* an ordinary private mapping of the same kind */
static unsigned char *filemap;          /* a private mapping of `mapped`, first page dirty */

#define FILE_PAGES 3

/* A periodic CLOCK_MONOTONIC timer signalling the process: the good image's one POSIX timer. */
static const struct crs_img_timer one_timer = {
    .id = 7, .clockid = 1, .notify = 0, .signo = 34, .value = 0x1234,
    .interval = { 0, 5000000 }, .value_left = { 2, 500 },
};

static int setup(void **state)
{
    (void)state;
    struct crs_snap_report rep;
    crs_test_dir(dir, sizeof dir, "limits");
    snprintf(good, sizeof good, "%s/ckpt-000001.crsnap", dir);
    snprintf(bad, sizeof bad, "%s/bad.crsnap", dir);
    snprintf(mapped, sizeof mapped, "%s/mapped", dir);
    int fd = open(mapped, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, FILE_PAGES * 4096) < 0)
        return -1;
    filemap = mmap(NULL, FILE_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    reserved = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (filemap == MAP_FAILED || reserved == MAP_FAILED)
        return -1;
    filemap[0] = 0x5a;                  /* saved in the image */
    ((char *)reserved)[0] = 1;
    struct crs_test_req *t = crs_test_req_new(good, dir, 1);
    scratch = t->req.scratch;
    t->req.timers = &one_timer;         /* as the runtime would have read it */
    t->req.ntimers = 1;
    return crs_test_write_image(t, &rep, &img0, &len0);
}

static int teardown(void **state)
{
    (void)state;
    free(img0);
    return 0;
}

/* Runs `crsnap ARGS...` (NULL-terminated); returns its exit status (or 128 + signal), and its
 * stderr in text. Before the exec, nofile_max (if not 0) lowers RLIMIT_NOFILE's hard limit and
 * takes away the power to raise it again. */
static int cli(char *text, size_t cap, rlim_t nofile_max, ...)
{
    const char *bin = getenv("CRSNAP_BIN");
    const char *argv[16] = { "crsnap" };
    va_list ap;
    int n = 1;

    if (!bin)
        skip();
    va_start(ap, nofile_max);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    size_t len;
    char *t;
    int st = crs_test_cli(bin, dir, nofile_max, argv, &t, &len);
    snprintf(text, cap, "%s", t ? t : "");
    free(t);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static struct crs_img_trailer *trailer(char *p, size_t n)
{
    return (struct crs_img_trailer *)(p + n - sizeof(struct crs_img_trailer));
}

static struct crs_img_toc_entry *entry(char *p, size_t n, uint32_t type)
{
    struct crs_img_trailer *t = trailer(p, n);
    struct crs_img_toc_entry *toc = (void *)(p + t->toc_offset);
    for (uint32_t i = 0; i < t->toc_count; i++)
        if (toc[i].type == type)
            return &toc[i];
    fail_msg("no section %u", type);
    return NULL;
}

static void *payload(char *p, size_t n, uint32_t type)
{
    return p + entry(p, n, type)->offset + sizeof(struct crs_img_section);
}

/* After an edit in place: the section's checksum, the table's, the trailer's. */
static void fix_sums(char *p, size_t n, uint32_t type)
{
    struct crs_img_trailer *t = trailer(p, n);
    struct crs_img_toc_entry *e = entry(p, n, type);
    e->checksum = XXH3_64bits(payload(p, n, type), e->length);
    t->toc_checksum = XXH3_64bits(p + t->toc_offset,
                                  t->toc_count * sizeof(struct crs_img_toc_entry));
    t->header_checksum = XXH3_64bits(p, 64);
    t->checksum = XXH3_64bits(t, offsetof(struct crs_img_trailer, checksum));
}

/* A copy of the good image whose section TYPE is replaced by len bytes of data holding count
 * records: the new section goes after the others, the old one stays as unreferenced bytes. */
static char *with_section(uint32_t type, const void *data, uint64_t len, uint32_t count,
                          size_t *outlen)
{
    const struct crs_img_trailer *t0 = trailer(img0, len0);
    size_t toclen = t0->toc_count * sizeof(struct crs_img_toc_entry);
    size_t body = t0->toc_offset, pad = (8 - len % 8) % 8;
    size_t n = body + sizeof(struct crs_img_section) + len + pad + toclen + sizeof *t0;
    char *p = calloc(1, n);
    assert_non_null(p);
    memcpy(p, img0, body);
    struct crs_img_section sh = { .type = type, .length = len };
    memcpy(p + body, &sh, sizeof sh);
    memcpy(p + body + sizeof sh, data, len);
    size_t toc = body + sizeof sh + len + pad;
    memcpy(p + toc, img0 + t0->toc_offset, toclen);
    struct crs_img_trailer *t = trailer(p, n);
    *t = *t0;
    t->toc_offset = toc;
    t->file_size = n;
    struct crs_img_toc_entry *e = entry(p, n, type);
    e->offset = body;
    e->length = len;
    e->count = count;
    fix_sums(p, n, type);
    *outlen = n;
    return p;
}

static char *copy0(void)
{
    char *p = malloc(len0);
    assert_non_null(p);
    memcpy(p, img0, len0);
    return p;
}

static struct crs_img_vma *vma_at(char *p, size_t n, const void *addr)
{
    struct crs_img_vma *v = payload(p, n, CRS_SEC_VMAS);
    uint32_t count = entry(p, n, CRS_SEC_VMAS)->count;
    for (uint32_t i = 0; i < count; i++)
        if (v[i].start <= (uintptr_t)addr && (uintptr_t)addr < v[i].end)
            return &v[i];
    fail_msg("no region at %p", addr);
    return NULL;
}

/* The reader's verdict on bad.crsnap: 0, or -errno with the reason in err. */
static int open_bad(char *err, size_t cap)
{
    struct crs_image *img;
    int r = crs_image_open(bad, &img, err, cap);
    if (r == 0)
        crs_image_close(img);
    return r;
}

/* `crsnap restore -n` must accept. A sanitized crsnap cannot: its shadow memory sits where the
 * (equally sanitized) test process had its own, so its layout check refuses every time; the
 * checks before the layout check are what such a build tests. */
static void dry_ok(int rc, const char *text)
{
    if (rc == 0)
        return;
    if (getenv("CRSNAP_SANITIZED") && strstr(text, "overlaps the saved region"))
        return;
    fail_msg("restore -n refused: %s", text);
}

static void expect_text(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("\"%s\" lacks \"%s\"", text, want);
}

/* `crsnap verify` and `crsnap restore -n -f` both refuse bad.crsnap, saying want. */
static void cli_refuses(const char *want)
{
    char text[2048];
    assert_int_equal(cli(text, sizeof text, 0, "verify", bad, NULL), 1);
    expect_text(text, want);
    assert_int_equal(cli(text, sizeof text, 0, "restore", "-n", "-f", bad, NULL), 1);
    expect_text(text, want);
}

static void test_noreserve_recorded(void **state)
{
    (void)state;
    struct crs_img_vma *nr = vma_at(img0, len0, scratch);
    struct crs_img_vma *plain = vma_at(img0, len0, reserved);
    assert_true(nr->flags & CRS_VMA_F_NORESERVE);
    assert_false(plain->flags & CRS_VMA_F_NORESERVE);
    assert_false(vma_at(img0, len0, filemap)->flags & CRS_VMA_F_NORESERVE);
}

/* offset + length past the largest file offset, or an offset mmap cannot take: no host maps
 * it, so the image is refused everywhere, verify included. */
static void test_file_offset_bounds(void **state)
{
    (void)state;
    static const uint64_t offsets[] = { 0x7ffffffffffff000ull, 0xfffffffffffff000ull, 100 };
    char err[512];
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        char *p = copy0();
        vma_at(p, len0, filemap)->file_offset = offsets[i];
        fix_sums(p, len0, CRS_SEC_VMAS);
        crs_test_spit(bad, p, len0);
        free(p);
        assert_int_equal(open_bad(err, sizeof err), -EBADMSG);
        expect_text(err, "is out of bounds");
        cli_refuses("is out of bounds");
    }
    /* the last page that still fits is fine for the reader */
    char *p = copy0();
    struct crs_img_vma *v = vma_at(p, len0, filemap);
    v->file_offset = ((uint64_t)INT64_MAX - (v->end - v->start)) & ~4095ull;
    fix_sums(p, len0, CRS_SEC_VMAS);
    crs_test_spit(bad, p, len0);
    free(p);
    assert_int_equal(open_bad(err, sizeof err), 0);
}

/* Saved pages of a private file mapping are written into the mapping by the restorer: past the
 * file's end that is SIGBUS after the point of no return. The dry run refuses it, --force too;
 * likewise a mapped file that was truncated after the checkpoint. */
static void test_pages_past_file_end(void **state)
{
    (void)state;
    char text[2048];
    dry_ok(cli(text, sizeof text, 0, "restore", "-n", "-f", good, NULL), text);

    char *p = copy0();
    struct crs_img_vma *v = vma_at(p, len0, filemap);
    assert_true(v->flags & CRS_VMA_F_SAVED);
    v->file_offset = 16 * 4096;           /* wholly past the end of a 3-page file */
    fix_sums(p, len0, CRS_SEC_VMAS);
    crs_test_spit(bad, p, len0);
    free(p);
    assert_int_equal(cli(text, sizeof text, 0, "verify", bad, NULL), 0);
    assert_int_equal(cli(text, sizeof text, 0, "restore", "-n", "-f", bad, NULL), 1);
    expect_text(text, "lie past the end of ");
    expect_text(text, mapped);

    assert_int_equal(truncate(mapped, 4096), 0);
    assert_int_equal(cli(text, sizeof text, 0, "restore", "-n", "-f", good, NULL), 1);
    expect_text(text, "is shorter than at the checkpoint (4096 bytes, was 12288)");
    assert_int_equal(cli(text, sizeof text, 0, "restore", "-n", good, NULL), 1);
    expect_text(text, "is shorter than at the checkpoint");
    assert_int_equal(truncate(mapped, FILE_PAGES * 4096), 0);
}

/* n eventfd records at descriptors first, first + 1, ... */
static char *with_fds(uint32_t n, int first, size_t *outlen)
{
    /* The descriptors the good image lists as not restorable must stay in it, or the reader
     * refuses the list: they are kept below the new ones (first is above them, or covers them). */
    const struct crs_img_trailer *t0 = trailer(img0, len0);
    const struct crs_img_toc_entry *toc = (const void *)(img0 + t0->toc_offset);
    const struct crs_img_unsaved *u = NULL;
    uint32_t nu = 0, extra = 0;
    for (uint32_t i = 0; i < t0->toc_count; i++)
        if (toc[i].type == CRS_SEC_UNSAVED) {
            u = (const void *)(img0 + toc[i].offset + sizeof(struct crs_img_section));
            nu = toc[i].count;
        }
    struct crs_img_fd *f = calloc(n + nu, sizeof *f);
    assert_non_null(f);
    for (uint32_t i = 0; i < nu; i++)
        if (u[i].kind == CRS_UNSAVED_FD && (u[i].fd < first || u[i].fd >= first + (int)n)) {
            f[extra].fd = u[i].fd;
            f[extra++].kind = CRS_FD_EVENTFD;
        }
    for (uint32_t i = 0; i < n; i++) {
        f[extra + i].fd = first + (int)i;
        f[extra + i].kind = CRS_FD_EVENTFD;
    }
    n += extra;
    char *p = with_section(CRS_SEC_FDS, f, (uint64_t)n * sizeof *f, n, outlen);
    free(f);
    return p;
}

static void test_descriptor_count(void **state)
{
    (void)state;
    char err[512], text[2048];
    size_t n;
    char *p = with_fds(CRS_IMG_MAX_FDS, 0, &n);
    crs_test_spit(bad, p, n);
    free(p);
    assert_int_equal(open_bad(err, sizeof err), 0);
    assert_int_equal(cli(text, sizeof text, 0, "verify", bad, NULL), 0);
    /* restorable where the descriptors fit under RLIMIT_NOFILE (root raises it) */
    int rc = cli(text, sizeof text, 0, "restore", "-n", "-f", bad, NULL);
    struct rlimit rl, up;
    getrlimit(RLIMIT_NOFILE, &rl);
    up = (struct rlimit){ rl.rlim_cur, CRS_IMG_MAX_FDS + 16 };
    int can = rl.rlim_max >= up.rlim_max || setrlimit(RLIMIT_NOFILE, &up) == 0;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (can) {
        dry_ok(rc, text);
    } else {
        assert_int_equal(rc, 1);
        expect_text(text, "RLIMIT_NOFILE");
    }

    p = with_fds(CRS_IMG_MAX_FDS + 1, 0, &n);
    crs_test_spit(bad, p, n);
    free(p);
    assert_int_equal(open_bad(err, sizeof err), -E2BIG);
    expect_text(err, "65537 descriptors, more than the 65536");
    cli_refuses("more than the 65536");
}

/* A descriptor number at or above what RLIMIT_NOFILE lets the restorer open: refused by the
 * dry run and by the restore, before anything changes; accepted with room to spare. */
static void test_descriptor_rlimit(void **state)
{
    (void)state;
    char text[2048];
    size_t n;
    char *p = with_fds(1, 5000, &n);
    crs_test_spit(bad, p, n);
    free(p);
    assert_int_equal(cli(text, sizeof text, 0, "verify", bad, NULL), 0);
    dry_ok(cli(text, sizeof text, 8192, "restore", "-n", "-f", bad, NULL), text);
    /* the restorer keeps 16 descriptors of its own above the highest saved one */
    dry_ok(cli(text, sizeof text, 5000 + 17, "restore", "-n", "-f", bad, NULL), text);
    assert_int_equal(cli(text, sizeof text, 5000 + 16, "restore", "-n", "-f", bad, NULL), 1);
    expect_text(text, "descriptor 5000; this process may only open descriptors below 5016 "
                "(RLIMIT_NOFILE hard limit");
    assert_int_equal(cli(text, sizeof text, 1024, "restore", "-f", bad, NULL), 1);
    expect_text(text, "RLIMIT_NOFILE");
}

static void test_thread_count(void **state)
{
    (void)state;
    char err[512], text[2048];
    const struct crs_img_toc_entry *e = entry(img0, len0, CRS_SEC_THREADS);
    const struct crs_img_thread *t0 = payload(img0, len0, CRS_SEC_THREADS);
    assert_int_equal(e->count, 1);
    for (uint32_t count = CRS_PLAN_MAX_THREADS; count <= CRS_PLAN_MAX_THREADS + 1; count++) {
        struct crs_img_thread *t = calloc(count, sizeof *t);
        size_t n;
        for (uint32_t i = 0; i < count; i++) {
            t[i] = *t0;
            t[i].tid = t0->tid + (int)i;
            if (i)
                t[i].flags &= ~CRS_THREAD_F_MAIN;
        }
        char *p = with_section(CRS_SEC_THREADS, t, count * sizeof *t, count, &n);
        free(t);
        ((struct crs_img_process *)payload(p, n, CRS_SEC_PROCESS))->nthreads = count;
        fix_sums(p, n, CRS_SEC_PROCESS);
        crs_test_spit(bad, p, n);
        free(p);
        assert_int_equal(open_bad(err, sizeof err), 0);     /* info can still show it */
        int want = count > CRS_PLAN_MAX_THREADS;
        assert_int_equal(cli(text, sizeof text, 0, "verify", bad, NULL), want);
        int rc = cli(text, sizeof text, 0, "restore", "-n", "-f", bad, NULL);
        if (want) {
            assert_int_equal(rc, 1);
            expect_text(text, "513 threads (1 to 512 can be restored)");
        } else {
            dry_ok(rc, text);
        }
    }
}

/* setitimer runs after the point of no return: a value it refuses is found by verify. */
static void test_timer_values(void **state)
{
    (void)state;
    char *p = copy0();
    ((struct crs_img_process *)payload(p, len0, CRS_SEC_PROCESS))->itimers[0].value.usec =
        1000000;
    fix_sums(p, len0, CRS_SEC_PROCESS);
    crs_test_spit(bad, p, len0);
    free(p);
    cli_refuses("interval timer 0 is not a valid time");
}

/* TIMERS: the good image's record is read back; a record no kernel would report (a second
 * timer under the same id, nanoseconds past a second, a signal out of range, a thread
 * notification without a signal) is refused by the reader, so by verify and restore -n. */
static void test_posix_timer_records(void **state)
{
    (void)state;
    char err[512];
    struct crs_image *img;
    assert_int_equal(crs_image_open(good, &img, err, sizeof err), 0);
    assert_int_equal(img->ntimers, 1);
    assert_memory_equal(&img->timers[0], &one_timer, sizeof one_timer);
    crs_image_close(img);

    struct crs_img_timer t[2] = { one_timer, one_timer };
    struct { int field; const char *what; } bad_cases[] = {
        { 0, "a second timer with the same id" }, { 1, "nanoseconds past a second" },
        { 2, "signal 65" }, { 3, "SIGEV_NONE | SIGEV_THREAD_ID" },
    };
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        size_t n;
        t[1] = one_timer;
        if (bad_cases[k].field == 1)
            t[1].id = 8, t[1].value_left.nsec = 1000000000;
        else if (bad_cases[k].field == 2)
            t[1].id = 8, t[1].signo = 65;
        else if (bad_cases[k].field == 3)
            t[1].id = 8, t[1].notify = 1 | 4;
        char *p = with_section(CRS_SEC_TIMERS, t, sizeof t, 2, &n);
        crs_test_spit(bad, p, n);
        free(p);
        print_message("%s\n", bad_cases[k].what);
        assert_int_equal(open_bad(err, sizeof err), -EBADMSG);
        expect_text(err, "damaged timers section: record 1 (timer id ");
        cli_refuses("damaged timers section");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noreserve_recorded),
        cmocka_unit_test(test_file_offset_bounds),
        cmocka_unit_test(test_pages_past_file_end),
        cmocka_unit_test(test_descriptor_count),
        cmocka_unit_test(test_descriptor_rlimit),
        cmocka_unit_test(test_thread_count),
        cmocka_unit_test(test_timer_values),
        cmocka_unit_test(test_posix_timer_records),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
