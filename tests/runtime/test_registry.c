/* tests/runtime/test_registry.c - the handler registry: prepare in registration order, resume
 * in reverse, a veto stops the walk and only those that prepared are resumed (exactly once),
 * sync handlers belong to their thread, unregistering. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/runtime.h"

static char events[64][8];
static int nevents;
static int veto_tag = -1;

static int handler(crs_phase ph, void *arg)
{
    static const char ph_name[] = "PCRA";
    int tag = (int)(intptr_t)arg;

    snprintf(events[nevents++], sizeof events[0], "%c%c", 'a' + tag, ph_name[ph]);
    return ph == CRS_PREPARE && tag == veto_tag ? 1 : 0;
}

static void reset(void)
{
    nevents = 0;
    veto_tag = -1;
}

static void expect_events(const char *const *want, int n)
{
    assert_int_equal(nevents, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(events[i], want[i]);
}

static void test_order(void **st)
{
    struct crs_registry r;
    static const char *const want[] = { "aP", "bP", "cP", "cC", "bC", "aC" };
    (void)st;

    reset();
    crs_registry_init(&r);
    for (int i = 0; i < 3; i++)
        assert_true(crs_registry_add(&r, handler, (void *)(intptr_t)i, CRS_ASYNC, 0) > 0);
    assert_int_equal(crs_registry_prepare(&r, CRS_ASYNC, 0), 0);
    crs_registry_resume(&r, CRS_ASYNC, 0, CRS_CONTINUE);
    expect_events(want, 6);
}

static void test_veto(void **st)
{
    struct crs_registry r;
    static const char *const want[] = { "aP", "bP", "aA" };
    int v;
    (void)st;

    reset();
    crs_registry_init(&r);
    for (int i = 0; i < 3; i++)
        crs_registry_add(&r, handler, (void *)(intptr_t)i, CRS_ASYNC, 0);
    veto_tag = 1;
    v = crs_registry_prepare(&r, CRS_ASYNC, 0);
    assert_int_equal(v, 2);                     /* index of b, plus one */
    assert_int_equal(r.h[v - 1].id, 2);
    crs_registry_resume(&r, CRS_ASYNC, 0, CRS_ABORT);
    expect_events(want, 3);                     /* c never ran, b is not resumed */
}

static void test_exactly_once(void **st)
{
    struct crs_registry r;
    static const char *const want[] = { "aP", "bP", "bR", "aR" };
    (void)st;

    reset();
    crs_registry_init(&r);
    crs_registry_add(&r, handler, (void *)0, CRS_ASYNC, 0);
    crs_registry_add(&r, handler, (void *)1, CRS_ASYNC, 0);
    crs_registry_prepare(&r, CRS_ASYNC, 0);
    crs_registry_resume(&r, CRS_ASYNC, 0, CRS_RESTART);
    crs_registry_resume(&r, CRS_ASYNC, 0, CRS_CONTINUE);   /* nothing left to resume */
    expect_events(want, 4);
}

static void test_sync_owner(void **st)
{
    struct crs_registry r;
    static const char *const want[] = { "bP", "dP", "aP", "dC", "bC" };
    (void)st;

    reset();
    crs_registry_init(&r);
    crs_registry_add(&r, handler, (void *)0, CRS_ASYNC, 0);
    crs_registry_add(&r, handler, (void *)1, CRS_SYNC, 100);
    crs_registry_add(&r, handler, (void *)2, CRS_SYNC, 200);
    crs_registry_add(&r, handler, (void *)3, CRS_SYNC, 100);
    assert_int_equal(crs_registry_prepare(&r, CRS_SYNC, 100), 0);
    assert_int_equal(crs_registry_prepare(&r, CRS_ASYNC, 0), 0);
    crs_registry_resume(&r, CRS_SYNC, 100, CRS_CONTINUE);
    expect_events(want, 5);                     /* owner 200 never ran, a still due */
    assert_int_equal(r.h[0].prepared, 1);
}

static void test_unregister(void **st)
{
    struct crs_registry r;
    static const char *const want[] = { "aP", "cP", "cC", "aC" };
    int id[3];
    (void)st;

    reset();
    crs_registry_init(&r);
    for (int i = 0; i < 3; i++)
        id[i] = crs_registry_add(&r, handler, (void *)(intptr_t)i, CRS_ASYNC, 0);
    assert_int_equal(crs_registry_remove(&r, id[1]), 0);
    assert_int_equal(crs_registry_remove(&r, id[1]), -ENOENT);
    crs_registry_prepare(&r, CRS_ASYNC, 0);
    crs_registry_resume(&r, CRS_ASYNC, 0, CRS_CONTINUE);
    expect_events(want, 4);
}

static void test_bad_and_full(void **st)
{
    struct crs_registry r;
    (void)st;

    crs_registry_init(&r);
    assert_int_equal(crs_registry_add(&r, NULL, NULL, CRS_ASYNC, 0), -EINVAL);
    assert_int_equal(crs_registry_add(&r, handler, NULL, 0, 0), -EINVAL);
    assert_int_equal(crs_registry_add(&r, handler, NULL, CRS_ASYNC | CRS_SYNC, 0), -EINVAL);
    for (int i = 0; i < CRS_MAX_HANDLERS; i++)
        assert_true(crs_registry_add(&r, handler, NULL, CRS_ASYNC, 0) > 0);
    assert_int_equal(crs_registry_add(&r, handler, NULL, CRS_ASYNC, 0), -ENOSPC);
}

static int rc_inside;
static int registering_handler(crs_phase ph, void *arg)
{
    (void)arg;
    if (ph == CRS_PREPARE)
        rc_inside = crs_register(handler, NULL, CRS_ASYNC);
    return 0;
}

/* The public calls: ids, unregister, and no registration from inside a handler. */
static void test_api(void **st)
{
    int a, b;
    (void)st;

    a = crs_register(handler, NULL, CRS_ASYNC);
    b = crs_register(registering_handler, NULL, CRS_SYNC);
    assert_true(a > 0 && b > 0 && a != b);
    assert_int_equal(crs_register(handler, NULL, 7), -EINVAL);
    assert_int_equal(crs_state.reg.h[1].owner, crs_arch_thread_pointer());
    assert_int_equal(crs_registry_prepare(&crs_state.reg, CRS_SYNC, crs_arch_thread_pointer()), 0);
    assert_int_equal(rc_inside, -EDEADLK);
    crs_registry_resume(&crs_state.reg, CRS_SYNC, crs_arch_thread_pointer(), CRS_ABORT);
    assert_int_equal(crs_unregister(a), 0);
    assert_int_equal(crs_unregister(a), -ENOENT);
    assert_int_equal(crs_unregister(b), 0);
}

static _Atomic int unregister_rc = 1;

static void *unregisterer(void *arg)
{
    atomic_store(&unregister_rc, crs_unregister((int)(intptr_t)arg));
    return NULL;
}

/* crs_unregister() waits while a checkpoint runs the frozen copy of the registry. */
static void test_unregister_waits(void **st)
{
    pthread_t t;
    int id;
    (void)st;

    id = crs_register(handler, NULL, CRS_ASYNC);
    pthread_mutex_lock(&crs_state.lock);
    crs_state.handlers_busy = 1;
    pthread_mutex_unlock(&crs_state.lock);
    pthread_create(&t, NULL, unregisterer, (void *)(intptr_t)id);
    usleep(100000);
    assert_int_equal(atomic_load(&unregister_rc), 1);  /* still waiting */
    pthread_mutex_lock(&crs_state.lock);
    crs_state.handlers_busy = 0;
    pthread_cond_broadcast(&crs_state.cond);
    pthread_mutex_unlock(&crs_state.lock);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&unregister_rc), 0);
}

static void *register_and_exit(void *arg)
{
    *(int *)arg = crs_register(handler, NULL, CRS_SYNC);
    return NULL;
}

/* A thread's sync handlers leave with it; others stay. */
static void test_thread_exit_drops(void **st)
{
    pthread_t t;
    int id = 0, mine;
    (void)st;

    mine = crs_register(handler, NULL, CRS_SYNC);
    pthread_create(&t, NULL, register_and_exit, &id);
    pthread_join(t, NULL);
    assert_true(id > 0);
    assert_int_equal(crs_unregister(id), -ENOENT);
    assert_int_equal(crs_unregister(mine), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),       cmocka_unit_test(test_veto),
        cmocka_unit_test(test_exactly_once), cmocka_unit_test(test_sync_owner),
        cmocka_unit_test(test_unregister),  cmocka_unit_test(test_bad_and_full),
        cmocka_unit_test(test_api),         cmocka_unit_test(test_unregister_waits),
        cmocka_unit_test(test_thread_exit_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
