/* tests/image/test_image_window.c - the read window through which chunk headers and bytes are
 * read: the bytes it gives are the file's wherever they fall (inside, across its end, after a
 * jump back), a read larger than the window is refused for the caller to read another way, and
 * a file that ends early is an error, never stale bytes.
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
#include <unistd.h>
#include <cmocka.h>

#include "image/reader_internal.h"

#define FILE_SIZE (3u * 4096u + 100u)
#define WIN 4096u

static int fd = -1;
static unsigned char data[FILE_SIZE];

static int setup(void **state)
{
    char path[] = "/tmp/crsnap-window-XXXXXX";
    (void)state;
    if ((fd = mkstemp(path)) < 0)
        return -1;
    unlink(path);
    for (size_t i = 0; i < FILE_SIZE; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    return write(fd, data, FILE_SIZE) == (ssize_t)FILE_SIZE ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    close(fd);
    return 0;
}

static void expect_bytes(struct crs_read_window *w, size_t len, uint64_t off)
{
    const void *p = NULL;
    assert_int_equal(crs_reader_window_view(w, fd, len, off, &p), 0);
    assert_non_null(p);
    assert_memory_equal(p, data + off, len);
}

static void test_views(void **state)
{
    char buf[WIN];
    struct crs_read_window w = { .buf = buf, .size = WIN };
    (void)state;

    expect_bytes(&w, 16, 0);
    expect_bytes(&w, 100, 4000);        /* runs past the window filled at 0 */
    assert_int_equal(w.off, 4000);
    expect_bytes(&w, 50, 4010);         /* inside the window as it is now */
    assert_int_equal(w.off, 4000);
    expect_bytes(&w, 10, 5);            /* back before it */
    expect_bytes(&w, WIN, 4096);        /* exactly a window */
    expect_bytes(&w, 100, FILE_SIZE - 100); /* the end of the file: a short read is enough */
}

static void test_too_big_and_truncated(void **state)
{
    char buf[WIN];
    struct crs_read_window w = { .buf = buf, .size = WIN };
    struct crs_read_window none = { 0 };
    const void *p = NULL;
    (void)state;

    assert_int_equal(crs_reader_window_view(&w, fd, WIN + 1, 0, &p), -E2BIG);
    assert_int_equal(crs_reader_window_view(&none, fd, 1, 0, &p), -E2BIG);
    assert_int_equal(crs_reader_window_view(NULL, fd, 1, 0, &p), -E2BIG);
    /* bytes past the end of the file: an error, and the window is left empty */
    expect_bytes(&w, 64, FILE_SIZE - 64);
    assert_int_equal(crs_reader_window_view(&w, fd, 200, FILE_SIZE - 100, &p), -EBADMSG);
    assert_int_equal(w.len, 0);
    expect_bytes(&w, 64, FILE_SIZE - 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_too_big_and_truncated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
