/* test_restore_units.c - the restorer's decisions that need no image file: which of its own
 * mappings collide with saved regions, how they merge into the restart entry's unmap list,
 * how the plan is built from the thread records, and the host checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "restore/restore.h"

static struct crs_img_vma vmas[4];
static char strings[] = "\0[vdso]\0/lib/x.so";

static void fake_image(struct crs_image *img)
{
    memset(img, 0, sizeof *img);
    memset(vmas, 0, sizeof vmas);
    vmas[0] = (struct crs_img_vma){ .start = 0x10000, .end = 0x20000, .kind = CRS_VMA_ANON };
    vmas[1] = (struct crs_img_vma){ .start = 0x40000, .end = 0x42000, .kind = CRS_VMA_FILE_PRIVATE,
                                    .path = 8 };
    vmas[2] = (struct crs_img_vma){ .start = 0x80000, .end = 0x82000, .kind = CRS_VMA_VDSO,
                                    .path = 1 };
    img->vmas = vmas;
    img->nvmas = 3;
    img->strings = strings;
    img->strings_len = sizeof strings;
}

/* A restore of the fake image, with no mappings of its own yet. */
static void fake_restore(struct crs_restore *r, struct crs_image *img)
{
    fake_image(img);
    memset(r, 0, sizeof *r);
    r->img = img;
}

static void add_map(struct crs_restore *r, uint64_t s, uint64_t e, const char *name)
{
    struct crs_restore_map *m = &r->maps[r->nmaps++];
    m->start = s;
    m->end = e;
    strcpy(m->name, name);
}

static void test_layout_overlap(void **state)
{
    static struct crs_restore r;
    struct crs_image img;
    char err[256];
    (void)state;
    fake_restore(&r, &img);
    add_map(&r, 0x21000, 0x30000, "");
    add_map(&r, 0x80000, 0x82000, "[vdso]");       /* already where the image wants it */
    assert_int_equal(crs_restore_check_layout(&r, err, sizeof err), 0);
    add_map(&r, 0x41000, 0x50000, "/usr/bin/crsnap");
    assert_int_equal(crs_restore_check_layout(&r, err, sizeof err), -EADDRINUSE);
    assert_non_null(strstr(err, "overlaps the saved region 40000-42000"));
}

static void test_layout_vdso_elsewhere(void **state)
{
    static struct crs_restore r;
    struct crs_image img;
    char err[256];
    (void)state;
    fake_restore(&r, &img);
    add_map(&r, 0x81000, 0x83000, "[vdso]");       /* partly over the target: cannot move */
    assert_int_equal(crs_restore_check_layout(&r, err, sizeof err), -EADDRINUSE);
}

static void test_layout_vdso_size(void **state)
{
    static struct crs_restore r;
    struct crs_image img;
    char err[256];
    (void)state;
    fake_restore(&r, &img);
    add_map(&r, 0x90000, 0x91000, "[vdso]");       /* another kernel's, one page smaller */
    assert_int_equal(crs_restore_check_layout(&r, err, sizeof err), -ENOEXEC);
    assert_string_equal(err, "incompatible host: no [vdso] of 8192 bytes here");
}

static void test_unmap_merge(void **state)
{
    static struct crs_restore r;
    struct crs_image img;
    struct crs_restart_range out[8];
    (void)state;
    fake_restore(&r, &img);
    add_map(&r, 0x21000, 0x22000, "");
    add_map(&r, 0x30000, 0x31000, "");             /* no saved region between: merged */
    add_map(&r, 0x50000, 0x51000, "");             /* 0x40000 is saved in between: split */
    add_map(&r, 0x90000, 0x92000, "[vvar]");       /* the vDSO block is moved, never unmapped */
    add_map(&r, 0x93000, 0x94000, "[stack]");
    add_map(&r, 0x95000, 0x96000, "");             /* nothing saved between: merged */
    assert_int_equal(crs_restore_unmap_list(&r, out, 8), 3);
    assert_int_equal(out[0].start, 0x21000);
    assert_int_equal(out[0].len, 0x10000);
    assert_int_equal(out[1].start, 0x50000);       /* the saved vDSO at 0x80000 splits */
    assert_int_equal(out[1].len, 0x1000);
    assert_int_equal(out[2].start, 0x93000);
    assert_int_equal(out[2].len, 0x3000);
    assert_int_equal(crs_restore_unmap_list(&r, out, 2), -E2BIG);
}

static void test_plan(void **state)
{
    struct crs_image img;
    struct crs_img_thread th[2];
    static struct crs_restart_plan plan;
    char err[256];
    (void)state;
    fake_image(&img);
    memset(th, 0, sizeof th);
    th[0] = (struct crs_img_thread){ .tid = 10, .fs_base = 0x7000, .ctx.rsp = 1, .ctx.rip = 2 };
    th[1] = (struct crs_img_thread){ .tid = 11, .flags = CRS_THREAD_F_MAIN, .fs_base = 0x9000,
                                     .tid_addr = 0x9100, .ctx.rsp = 1, .ctx.rip = 2 };
    img.threads = th;
    img.nthreads = 2;
    img.process.restart.tid_offset = 0x2d0;
    assert_int_equal(crs_restore_build_plan(&img, &plan, err, sizeof err), 0);
    assert_int_equal(plan.main_index, 1);
    assert_int_equal(plan.nthreads, 2);
    assert_int_equal(plan.threads[0].tid_addr, 0x7000 + 0x2d0);   /* filled from the offset */
    assert_int_equal(plan.threads[1].tid_addr, 0x9100);           /* kept */
    th[1].flags = 0;
    assert_int_equal(crs_restore_build_plan(&img, &plan, err, sizeof err), -EBADMSG);
    assert_string_equal(err, "the image has no main thread");
    th[1].ctx.rip = 0;
    th[1].flags = CRS_THREAD_F_MAIN;
    assert_int_equal(crs_restore_build_plan(&img, &plan, err, sizeof err), -EBADMSG);
}

static void test_host(void **state)
{
    struct crs_image img;
    char err[256];
    (void)state;
    fake_image(&img);
    img.header.arch = CRS_ARCH_ID;
    img.header.page_size = CRS_IMG_PAGE_SIZE;
    img.host.page_size = 4096;
    strcpy(img.host.machine, "x86_64");
    strcpy(img.host.release, "1.2.3-test");
    strcpy(img.host.libc_version, "9.99");
    img.host.xfeatures = 7;
    struct crs_restore_hooks h = {.fake_release = "1.2.3-test", .fake_libc = "9.99",
                                  .has_fake_xfeatures = 1, .fake_xfeatures = 7};
    assert_int_equal(crs_restore_check_host(&img, &h, err, sizeof err), 0);
    h.fake_release = "6.0.0";
    assert_int_equal(crs_restore_check_host(&img, &h, err, sizeof err), -ENOEXEC);
    assert_string_equal(err, "incompatible host: image taken on kernel 1.2.3-test, this is 6.0.0");
    h.fake_release = "1.2.3-test";
    h.fake_libc = "2.36";
    assert_int_equal(crs_restore_check_host(&img, &h, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "glibc 9.99"));
    h.fake_libc = "9.99";
    h.fake_xfeatures = 0x2e7;
    assert_int_equal(crs_restore_check_host(&img, &h, err, sizeof err), -ENOEXEC);
    assert_non_null(strstr(err, "XCR0"));
    img.header.arch = 99;
    assert_int_equal(crs_restore_check_host(&img, &h, err, sizeof err), -ENOEXEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_overlap),
        cmocka_unit_test(test_layout_vdso_elsewhere),
        cmocka_unit_test(test_layout_vdso_size),
        cmocka_unit_test(test_unmap_merge),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
