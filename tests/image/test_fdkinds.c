/* tests/image/test_fdkinds.c - the table of descriptor kinds (image/fdkind.h, fds/): every
 * kind has its entry, its name, and its snapshot-child operations in the section the contracts
 * test checks; and real descriptors of every kind are recognised as that kind.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "image/fdkind.h"

/* The linker's bounds of the section CRS_CHILD_CODE puts functions in. */
extern const char __start_crs_child_text[], __stop_crs_child_text[];

static int in_child_section(const void *fn)
{
    const char *p = fn;
    return p >= __start_crs_child_text && p < __stop_crs_child_text;
}

static void test_every_kind_has_an_entry(void **state)
{
    (void)state;
    for (uint32_t k = 1; k < CRS_FD__END; k++) {
        const struct crs_fd_ops *o = crs_fd_ops_of(k);
        assert_non_null(o);
        assert_int_equal(o->kind, k);
        assert_non_null(o->name);
        for (uint32_t j = 1; j < k; j++)
            assert_string_not_equal(o->name, crs_fd_kinds[j]->name);
    }
    assert_null(crs_fd_ops_of(0));
    assert_null(crs_fd_ops_of(CRS_FD__END));
}

/* What runs in the snapshot child must be child code: a kind whose operation is not marked
 * would escape the contracts test. */
static void test_child_operations_are_marked(void **state)
{
    (void)state;
    for (uint32_t k = 1; k < CRS_FD__END; k++) {
        const struct crs_fd_ops *o = crs_fd_kinds[k];
        const void *child[] = {
            (const void *)o->match, (const void *)o->pin, (const void *)o->read,
            (const void *)o->read_all, (const void *)o->apply, (const void *)o->restorable,
            (const void *)o->describe,
        };
        for (size_t i = 0; i < sizeof child / sizeof child[0]; i++)
            if (child[i] && !in_child_section(child[i]))
                fail_msg("kind %s: child operation %zu is not CRS_CHILD_CODE", o->name, i);
    }
    assert_true(in_child_section((const void *)crs_fd_recognise));
    assert_true(in_child_section((const void *)crs_fd_probe_link));
}

static uint32_t kind_of(int fd)
{
    struct stat sb;
    struct crs_fd_probe p = { .fd = fd, .sb = &sb, .link_len = -1 };
    assert_int_equal(fstat(fd, &sb), 0);
    return crs_fd_recognise(&p);
}

static void test_recognise_real_descriptors(void **state)
{
    (void)state;
    char path[] = "/tmp/crsnap-fdkinds-XXXXXX";
    int file = mkstemp(path);
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    int null = open("/dev/null", O_RDWR);
    int p[2], sv[2];
    sigset_t mask;

    assert_true(file >= 0 && dir >= 0 && null >= 0);
    unlink(path);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    int efd = eventfd(0, 0), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    int sfd = signalfd(-1, &mask, 0), ep = epoll_create1(0), ino = inotify_init1(0);
    int mfd = memfd_create("crsnap-test", 0);
    assert_true(efd >= 0 && tfd >= 0 && sfd >= 0 && ep >= 0 && ino >= 0 && mfd >= 0);

    assert_int_equal(kind_of(file), CRS_FD_FILE);
    assert_int_equal(kind_of(dir), CRS_FD_FILE);
    assert_int_equal(kind_of(null), CRS_FD_CHR);
    assert_int_equal(kind_of(p[0]), CRS_FD_PIPE);
    assert_int_equal(kind_of(sv[0]), CRS_FD_SOCKET);
    assert_int_equal(kind_of(efd), CRS_FD_EVENTFD);
    assert_int_equal(kind_of(tfd), CRS_FD_TIMERFD);
    assert_int_equal(kind_of(sfd), CRS_FD_SIGNALFD);
    assert_int_equal(kind_of(ep), CRS_FD_EPOLL);
    assert_int_equal(kind_of(ino), CRS_FD_OTHER);
    assert_int_equal(kind_of(mfd), CRS_FD_MEMFD);   /* a regular file, known by its name */
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (tty >= 0)                       /* only with a controlling terminal */
        assert_int_equal(kind_of(tty), CRS_FD_TTY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_has_an_entry),
        cmocka_unit_test(test_child_operations_are_marked),
        cmocka_unit_test(test_recognise_real_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
