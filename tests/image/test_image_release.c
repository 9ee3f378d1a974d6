/* tests/image/test_image_release.c - the snapshot child gives back the memory it has written:
 * while it is still writing, the pages of a large region it has passed are no longer mapped in
 * it (so the parent's writes to them copy nothing), the image still holds them all, and with
 * CRSNAP_NO_RELEASE (or the request's no_release) it keeps every page until it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "image_test.h"

#define REGION (48u << 20)
#define WATCHED (16u << 20)   /* the first part of the region, which the child passes early */

static char *region;

static void fill(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(region != MAP_FAILED);
    madvise(region, REGION, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < REGION; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(region + i, &x, 8);
    }
}

/* Pages of [p, p + len) present in pid's page table, or -1 once it cannot be read. */
static long present_pages(int pagemap, const char *p, size_t len)
{
    static uint64_t e[WATCHED / 4096];
    size_t n = len / 4096;
    ssize_t got = pread(pagemap, e, n * 8, (off_t)((uintptr_t)p / 4096 * 8));
    if (got != (ssize_t)(n * 8))
        return -1;
    long k = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i] & (1ull << 63))
            k++;
    return k;
}

static int most_threads;

/* The kernel's io_uring workers are listed among a process's tasks too. They are told apart by
 * PF_IO_WORKER in the flags field of their stat line, which is set when they are created; their
 * name ("iou-wrk-...") is set a moment later, so a sample could catch the parent's name. */
#define PF_IO_WORKER 0x10u

/* 1 for an io_uring worker, 0 for one of the child's threads, -1 for a task that has gone (an
 * idle io_uring worker exits between the listing and this look). */
static int io_worker(const char *statpath)
{
    char line[1024];
    FILE *f = fopen(statpath, "re");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    unsigned long flags = 0;
    /* after the name: state ppid pgrp session tty_nr tpgid flags */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
        return -1;
    return (flags & PF_IO_WORKER) != 0;
}

static int count_tasks(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/task", (int)pid);
    DIR *d = opendir(p);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        char sp[600];
        if (e->d_name[0] == '.')
            continue;
        snprintf(sp, sizeof sp, "%s/%s/stat", p, e->d_name);
        if (io_worker(sp) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Runs the child slowly and returns the fewest watched pages it still had mapped while it was
 * alive (sampled), and the most. */
static void run(int no_release_env, int no_release_req, long *least, long *most, int *samples)
{
    char dir[4096], path[4096], pm[64], err[256];
    struct crs_snap_report rep;
    crs_test_dir(dir, sizeof dir, no_release_env || no_release_req ? "keep" : "release");
    snprintf(path, sizeof path, "%.4000s/ckpt-000001.crsnap", dir);
    struct crs_test_req *t = crs_test_req_new(path, dir, 1);
    t->req.level = 1;
    t->req.no_release = no_release_req;
    /* a pause after each chunk keeps the child writing long enough to watch it */
    setenv("CRSNAP_TEST_WRITE_DELAY_MS", "3", 1);
    if (no_release_env)
        setenv("CRSNAP_NO_RELEASE", "1", 1);
    pid_t pid = crs_test_start_child(t, NULL);
    unsetenv("CRSNAP_TEST_WRITE_DELAY_MS");
    unsetenv("CRSNAP_NO_RELEASE");
    snprintf(pm, sizeof pm, "/proc/%d/pagemap", (int)pid);
    int fd = open(pm, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    *least = WATCHED / 4096;
    *most = 0;
    *samples = 0;
    for (;;) {
        struct pollfd pf = {t->report[0], POLLIN, 0};
        if (poll(&pf, 1, 0) != 0)
            break;                      /* the report is there: the child is done */
        long k = present_pages(fd, region, WATCHED);
        if (k < 0)
            break;
        if (k < *least)
            *least = k;
        if (k > *most)
            *most = k;
        int nt = count_tasks(pid);
        if (nt > most_threads)
            most_threads = nt;
        ++*samples;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    close(fd);
    assert_int_equal(crs_test_finish_child(t, pid, &rep), 0);
    if (rep.error)
        fail_msg("%s", rep.message);

    /* every page is in the image all the same */
    struct crs_image *img;
    if (crs_image_open(path, &img, err, sizeof err) != 0 ||
        crs_image_verify(img, NULL, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    struct crs_chunk_iter it;
    static char buf[256 * 4096];
    size_t seen = 0;
    crs_image_chunk_begin(img, &it);
    while (crs_image_next_chunk(img, &it, err, sizeof err) == 1) {
        uint64_t a = it.chunk.addr, len = (uint64_t)it.chunk.npages * 4096;
        if (a < (uintptr_t)region || a + len > (uintptr_t)region + REGION)
            continue;
        assert_int_equal(crs_image_read_chunk(img, &it, buf, sizeof buf, err, sizeof err), 0);
        assert_memory_equal(buf, (const char *)(uintptr_t)a, len);
        seen += len;
    }
    assert_int_equal(seen, REGION);
    crs_image_close(img);
    crs_test_req_free(t);
}

static void test_release(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* the child keeps everything under the sanitizer (see snapshot/release.c) */
#endif
    long least, most;
    int samples;
    run(0, 0, &least, &most, &samples);
    assert_true(samples > 0);
    /* the child passed the watched part while it was still writing the rest, and gave it back */
    if (least != 0)
        fail_msg("the child still had %ld of %u pages mapped (%d samples)", least,
                 WATCHED / 4096, samples);
}

static void test_no_release_env(void **state)
{
    (void)state;
    long least, most;
    int samples;
    run(1, 0, &least, &most, &samples);
    assert_true(samples > 0);
    assert_int_equal(least, WATCHED / 4096);
}

static void test_no_release_request(void **state)
{
    (void)state;
    long least, most;
    int samples;
    run(0, 1, &least, &most, &samples);
    assert_true(samples > 0);
    assert_int_equal(least, WATCHED / 4096);
}

/* With two CPUs the child compresses on two threads (a helper beside the walker). */
static void test_helper_thread(void **state)
{
    (void)state;
    cpu_set_t set;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* one thread under the sanitizer (see snapshot/pool.c) */
#endif
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < 2)
        skip();
    long least, most;
    int samples;
    most_threads = 0;
    run(0, 0, &least, &most, &samples);
    assert_int_equal(most_threads, 2);
    setenv("CRSNAP_TEST_ONE_THREAD", "1", 1);
    most_threads = 0;
    run(0, 0, &least, &most, &samples);
    unsetenv("CRSNAP_TEST_ONE_THREAD");
    assert_int_equal(most_threads, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_no_release_env),
        cmocka_unit_test(test_no_release_request),
        cmocka_unit_test(test_helper_thread),
    };
    fill();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
