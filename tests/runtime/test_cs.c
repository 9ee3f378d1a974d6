/* tests/runtime/test_cs.c - critical sections: nesting, a closing checkpoint waits until no
 * thread is inside (and gives up after its timeout), an entry blocks while a checkpoint is
 * pending, and crs_checkpoint() inside a critical section is refused. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/runtime.h"

static _Atomic int flag, inside, release_it;

static void *holder(void *arg)
{
    (void)arg;
    crs_enter_cs();
    atomic_store(&inside, 1);
    while (!atomic_load(&release_it))
        usleep(1000);
    crs_leave_cs();
    return NULL;
}

static _Atomic int close_rc;

static void *closer(void *arg)
{
    int n = 0;
    (void)arg;
    atomic_store(&close_rc, crs_cs_close(60000, &n));
    atomic_store(&flag, 1);
    return NULL;
}

static void *enterer(void *arg)
{
    (void)arg;
    crs_enter_cs();
    atomic_store(&flag, 1);
    crs_leave_cs();
    return NULL;
}

static void test_nesting(void **st)
{
    (void)st;
    crs_enter_cs();
    crs_enter_cs();
    assert_int_equal(crs_tls.cs_depth, 2);
    assert_int_equal(atomic_load(&crs_state.cs_count), 1);
    crs_leave_cs();
    assert_int_equal(atomic_load(&crs_state.cs_count), 1);
    crs_leave_cs();
    assert_int_equal(atomic_load(&crs_state.cs_count), 0);
    crs_leave_cs();                             /* unbalanced: ignored */
    assert_int_equal(atomic_load(&crs_state.cs_count), 0);
}

static void test_close_waits_for_count(void **st)
{
    pthread_t h, c;
    (void)st;

    atomic_store(&flag, 0);
    atomic_store(&inside, 0);
    atomic_store(&release_it, 0);
    pthread_create(&h, NULL, holder, NULL);
    while (!atomic_load(&inside))
        usleep(1000);
    pthread_create(&c, NULL, closer, NULL);
    usleep(100000);
    assert_int_equal(atomic_load(&flag), 0);    /* still inside: the close must wait */
    atomic_store(&release_it, 1);
    pthread_join(h, NULL);
    pthread_join(c, NULL);
    assert_int_equal(atomic_load(&flag), 1);
    assert_int_equal(atomic_load(&close_rc), 0);
    crs_cs_open();
}

static void test_entry_blocks_while_pending(void **st)
{
    pthread_t e;
    (void)st;

    atomic_store(&flag, 0);
    int n = 0;
    assert_int_equal(crs_cs_close(60000, &n), 0); /* nobody inside: returns at once */
    pthread_create(&e, NULL, enterer, NULL);
    usleep(100000);
    assert_int_equal(atomic_load(&flag), 0);    /* a checkpoint is pending: entry blocks */
    crs_cs_open();
    pthread_join(e, NULL);
    assert_int_equal(atomic_load(&flag), 1);
}

static void test_nested_entry_while_pending(void **st)
{
    pthread_t c;
    (void)st;

    atomic_store(&flag, 0);
    crs_enter_cs();
    pthread_create(&c, NULL, closer, NULL);
    while (!atomic_load(&crs_state.cs_pending))
        usleep(1000);
    crs_enter_cs();                             /* already inside: must not block */
    crs_leave_cs();
    crs_leave_cs();
    pthread_join(c, NULL);
    assert_int_equal(atomic_load(&flag), 1);
    crs_cs_open();
}

/* A thread that stays inside longer than the timeout: the close gives up and says how many
 * threads are inside; reopened, entries go through again. */
static void test_close_times_out(void **st)
{
    pthread_t h, e;
    int n = 0;
    (void)st;

    atomic_store(&inside, 0);
    atomic_store(&release_it, 0);
    atomic_store(&flag, 0);
    pthread_create(&h, NULL, holder, NULL);
    while (!atomic_load(&inside))
        usleep(1000);
    assert_int_equal(crs_cs_close(50, &n), -ETIMEDOUT);
    assert_int_equal(n, 1);
    crs_cs_open();
    pthread_create(&e, NULL, enterer, NULL);
    pthread_join(e, NULL);                      /* not held: the checkpoint gave up */
    assert_int_equal(atomic_load(&flag), 1);
    atomic_store(&release_it, 1);
    pthread_join(h, NULL);
    assert_int_equal(atomic_load(&crs_state.cs_count), 0);
}

/* A handler runs while the sections are closed: its own sections must not block it. */
static void test_cs_in_handler(void **st)
{
    int n = 0;
    (void)st;
    assert_int_equal(crs_cs_close(60000, &n), 0);
    crs_tls.in_handler = 1;
    crs_enter_cs();
    crs_enter_cs();
    assert_int_equal(atomic_load(&crs_state.cs_count), 0);
    crs_leave_cs();
    crs_leave_cs();
    crs_tls.in_handler = 0;
    assert_int_equal(crs_tls.cs_depth, 0);
    assert_int_equal(crs_tls.cs_free, 0);
    crs_cs_open();
}

static void test_checkpoint_in_cs(void **st)
{
    (void)st;
    crs_state.initialized = 1;                  /* the call checks before it needs a coordinator */
    crs_enter_cs();
    assert_int_equal(crs_checkpoint(NULL), -EDEADLK);
    crs_leave_cs();
    crs_tls.in_handler = 1;
    assert_int_equal(crs_checkpoint(NULL), -EDEADLK);
    crs_tls.in_handler = 0;
    crs_state.initialized = 0;
    assert_int_equal(crs_checkpoint(NULL), -ENOTCONN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_close_waits_for_count),
        cmocka_unit_test(test_entry_blocks_while_pending),
        cmocka_unit_test(test_nested_entry_while_pending),
        cmocka_unit_test(test_close_times_out),
        cmocka_unit_test(test_cs_in_handler),
        cmocka_unit_test(test_checkpoint_in_cs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
