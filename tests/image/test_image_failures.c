/* tests/image/test_image_failures.c - writes that cannot finish lose nothing: a full disk, a
 * file size limit, a read-only directory and a child killed mid-write leave no image under a
 * final name, earlier images and `latest` as they were, and an error in the report that names
 * the file and the cause; a crash of the child also says where it happened. Also retention and
 * finding the newest complete image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "image_test.h"

static int have_mounts;

/* Incompressible memory, so that the image is as large as the region. */
static char *random_region(size_t len)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    assert_true(p != MAP_FAILED);
    for (size_t i = 0; i < len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    return p;
}

static void image_path(char *out, size_t cap, const char *dir, int seq)
{
    snprintf(out, cap, "%s/ckpt-%06d.crsnap", dir, seq);
}

static void write_ok(const char *dir, int seq, int keep)
{
    char path[4096];
    struct crs_snap_report rep;
    image_path(path, sizeof path, dir, seq);
    struct crs_test_req *t = crs_test_req_new(path, dir, (uint64_t)seq);
    t->req.keep = keep;
    assert_int_equal(crs_test_run_child(t, &rep, NULL), 0);
    if (rep.error)
        fail_msg("%s", rep.message);
    crs_test_req_free(t);
}

static void latest_is(const char *dir, const char *name)
{
    char lp[4096], l[4096];
    snprintf(lp, sizeof lp, "%s/latest", dir);
    ssize_t n = readlink(lp, l, sizeof l - 1);
    assert_true(n > 0);
    l[n] = '\0';
    assert_string_equal(l, name);
}

/* Runs a snapshot that must fail with err and checks that nothing changed. */
static void expect_failure(const char *dir, int seq, int err, const char *text, void (*pre)(void))
{
    char path[4096], first[4096];
    struct crs_snap_report rep;
    size_t len0, len1;
    image_path(first, sizeof first, dir, 1);
    char *before = crs_test_slurp(first, &len0);
    assert_non_null(before);

    image_path(path, sizeof path, dir, seq);
    struct crs_test_req *t = crs_test_req_new(path, dir, (uint64_t)seq);
    int st = crs_test_run_child(t, &rep, pre);
    assert_int_equal(st, 1);
    assert_int_equal(rep.error, err);
    assert_non_null(strstr(rep.message, path));
    assert_non_null(strstr(rep.message, text));
    assert_null(strchr(rep.message, '\n'));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(crs_test_count(dir, ".ckpt-"), 0);
    char *after = crs_test_slurp(first, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    latest_is(dir, "ckpt-000001.crsnap");
    free(before);
    free(after);
    crs_test_req_free(t);
}

static int setup_mounts(void **state)
{
    (void)state;
    /* mounts made here vanish with this process and are seen by nobody else */
    have_mounts = unshare(CLONE_NEWNS) == 0 &&
                  mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
    return 0;
}

static void test_disk_full(void **state)
{
    (void)state;
    char dir[2048];
    crs_test_dir(dir, sizeof dir, "full");
    if (!have_mounts || mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0)
        skip();
    write_ok(dir, 1, 0);
    char *big = random_region(4 << 20);
    expect_failure(dir, 2, -ENOSPC, "No space left on device", NULL);
    munmap(big, 4 << 20);
    umount2(dir, MNT_DETACH);
}

static void limit_fsize(void)
{
    struct rlimit rl = {128 << 10, 128 << 10};
    setrlimit(RLIMIT_FSIZE, &rl);
}

static void test_file_size_limit(void **state)
{
    (void)state;
    char dir[2048];
    crs_test_dir(dir, sizeof dir, "fsize");
    write_ok(dir, 1, 0);
    char *big = random_region(1 << 20);
    expect_failure(dir, 2, -EFBIG, "File too large", limit_fsize);
    munmap(big, 1 << 20);
}

static void test_readonly_dir(void **state)
{
    (void)state;
    char dir[2048];
    crs_test_dir(dir, sizeof dir, "readonly");
    if (geteuid() != 0) {
        write_ok(dir, 1, 0);
        chmod(dir, 0555);
        expect_failure(dir, 2, -EACCES, "Permission denied", NULL);
        chmod(dir, 0755);
        return;
    }
    /* root writes anywhere: a file system mounted read-only is what stops it */
    if (!have_mounts || mount("tmpfs", dir, "tmpfs", 0, "size=4m") != 0)
        skip();
    write_ok(dir, 1, 0);
    assert_int_equal(mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=4m"), 0);
    expect_failure(dir, 2, -EROFS, "Read-only file system", NULL);
    umount2(dir, MNT_DETACH);
}

static void slow_writes(void)
{
    setenv("CRSNAP_TEST_WRITE_DELAY_MS", "100", 1);
}

static void test_killed_mid_write(void **state)
{
    (void)state;
    char dir[2048], path[4096], first[4096];
    struct crs_snap_report rep;
    size_t len0, len1;
    crs_test_dir(dir, sizeof dir, "killed");
    write_ok(dir, 1, 0);
    image_path(first, sizeof first, dir, 1);
    char *before = crs_test_slurp(first, &len0);
    char *big = random_region(8 << 20);

    image_path(path, sizeof path, dir, 2);
    struct crs_test_req *t = crs_test_req_new(path, dir, 2);
    pid_t pid = crs_test_start_child(t, slow_writes);
    /* wait until the image is being written, then kill the writer */
    for (int i = 0; i < 1000 && crs_test_count(dir, ".ckpt-000002") == 0; i++)
        usleep(10000);
    assert_int_equal(crs_test_count(dir, ".ckpt-000002"), 1);
    usleep(150000);
    kill(pid, SIGKILL);
    assert_int_equal(crs_test_finish_child(t, pid, &rep), 128 + SIGKILL);
    assert_int_equal(access(path, F_OK), -1);
    char *after = crs_test_slurp(first, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    latest_is(dir, "ckpt-000001.crsnap");
    /* the newest complete image is still the first one */
    char found[4096];
    assert_int_equal(crs_image_find_latest(dir, found, sizeof found), 0);
    assert_string_equal(found, first);
    /* the next snapshot succeeds and sweeps the dead writer's temp file away */
    assert_int_equal(crs_test_count(dir, ".ckpt-000002"), 1);
    write_ok(dir, 3, 0);
    assert_int_equal(crs_test_count(dir, ".ckpt-"), 0);
    latest_is(dir, "ckpt-000003.crsnap");
    free(before);
    free(after);
    munmap(big, 8 << 20);
    crs_test_req_free(t);
}

static void crash_child(void)
{
    setenv("CRSNAP_TEST_CHILD_CRASH", "1", 1);
}

/* A crash of the child itself (a bug of ours) is reported with where it happened, not as a
 * bare signal, and loses nothing either. */
static void test_child_crash(void **state)
{
    (void)state;
    char dir[2048];
    crs_test_dir(dir, sizeof dir, "crash");
    write_ok(dir, 1, 0);
    char *big = random_region(4 << 20);
    expect_failure(dir, 2, -EFAULT, "the snapshot child crashed (SIGSEGV) at 0x", crash_child);
    expect_failure(dir, 3, -EFAULT, "touching 0x10", crash_child);
    munmap(big, 4 << 20);
}

static void test_retention(void **state)
{
    (void)state;
    char dir[2048], p[4096];
    crs_test_dir(dir, sizeof dir, "retain");
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    crs_test_spit(p, "keep me", 7);
    snprintf(p, sizeof p, "%s/ckpt-abc.crsnap", dir);
    crs_test_spit(p, "not an image", 12);
    for (int seq = 1; seq <= 5; seq++)
        write_ok(dir, seq, 3);
    for (int seq = 1; seq <= 5; seq++) {
        image_path(p, sizeof p, dir, seq);
        assert_int_equal(access(p, F_OK) == 0, seq >= 3);
    }
    assert_int_equal(crs_test_count(dir, "ckpt-0"), 3);
    assert_int_equal(crs_test_count(dir, "notes.txt"), 1);
    assert_int_equal(crs_test_count(dir, "ckpt-abc"), 1);
    latest_is(dir, "ckpt-000005.crsnap");

    /* a damaged image with a higher number is not "the newest complete image" */
    snprintf(p, sizeof p, "%s/ckpt-000009.crsnap", dir);
    crs_test_spit(p, "CRSNAPv\ngarbage", 15);
    char found[4096], want[4096];
    image_path(want, sizeof want, dir, 5);
    assert_int_equal(crs_image_find_latest(dir, found, sizeof found), 0);
    assert_string_equal(found, want);
    crs_test_dir(dir, sizeof dir, "empty");
    assert_int_equal(crs_image_find_latest(dir, found, sizeof found), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_readonly_dir),
        cmocka_unit_test(test_killed_mid_write),
        cmocka_unit_test(test_child_crash),
        cmocka_unit_test(test_retention),
    };
    return cmocka_run_group_tests(tests, setup_mounts, NULL);
}
