/* tests/runtime/test_config.c - configuration: defaults, the CRSNAP_* environment (valid and
 * invalid values, each refused with a message naming it), a struct crs_config, and crs_init()
 * failing with -EINVAL on a bad value and -EALREADY the second time. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zstd.h>

#include "runtime/runtime.h"

static const char *const vars[] = { "CRSNAP_DIR", "CRSNAP_INTERVAL", "CRSNAP_KEEP",
                                    "CRSNAP_SIGNAL", "CRSNAP_LEVEL", "CRSNAP_LOG",
                                    "CRSNAP_FORCE_PWRITE", "CRSNAP_SOCKET_DIR",
                                    "CRSNAP_QUIESCE_TIMEOUT_MS", "CRSNAP_FULL_EVERY" };

static int clear_env(void **st)
{
    (void)st;
    for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void test_defaults(void **st)
{
    struct crs_settings s;
    char err[256] = "";
    (void)st;

    assert_int_equal(crs_settings_load(&s, NULL, 1, err, sizeof err), 0);
    assert_string_equal(s.dir, "./crsnap-images");
    assert_true(s.interval == 0);
    assert_int_equal(s.keep, 3);
    assert_int_equal(s.full_every, 8);
    assert_int_equal(s.signal, 0);
    assert_int_equal(s.level, -1);
    assert_int_equal(s.control_socket, 1);
    assert_int_equal(s.log_level, 0);
    assert_int_equal(s.quiesce_timeout_ms, 2000);
    assert_int_equal(s.force_pwrite, 0);
    assert_string_equal(s.socket_dir, "");
}

static void test_env_valid(void **st)
{
    struct crs_settings s;
    char err[256] = "";
    (void)st;

    setenv("CRSNAP_DIR", "/var/tmp/imgs", 1);
    setenv("CRSNAP_INTERVAL", "0.25", 1);
    setenv("CRSNAP_KEEP", "0", 1);
    setenv("CRSNAP_SIGNAL", "SIGUSR2", 1);
    setenv("CRSNAP_LEVEL", "-5", 1);
    setenv("CRSNAP_LOG", "debug", 1);
    setenv("CRSNAP_FORCE_PWRITE", "1", 1);
    setenv("CRSNAP_SOCKET_DIR", "/run/x", 1);
    setenv("CRSNAP_QUIESCE_TIMEOUT_MS", "300", 1);
    setenv("CRSNAP_FULL_EVERY", "4", 1);
    assert_int_equal(crs_settings_load(&s, NULL, 1, err, sizeof err), 0);
    assert_int_equal(s.full_every, 4);
    assert_string_equal(s.dir, "/var/tmp/imgs");
    assert_true(s.interval == 0.25);
    assert_int_equal(s.keep, 0);
    assert_int_equal(s.signal, SIGUSR2);
    assert_int_equal(s.level, -5);
    assert_int_equal(s.log_level, 2);
    assert_int_equal(s.force_pwrite, 1);
    assert_string_equal(s.socket_dir, "/run/x");
    assert_int_equal(s.quiesce_timeout_ms, 300);

    setenv("CRSNAP_INTERVAL", "3", 1);
    setenv("CRSNAP_LOG", "1", 1);
    setenv("CRSNAP_LEVEL", "0", 1);             /* 0 means the default level */
    assert_int_equal(crs_settings_load(&s, NULL, 1, err, sizeof err), 0);
    assert_true(s.interval == 3);
    assert_int_equal(s.log_level, 1);
    assert_int_equal(s.level, -1);
}

static void test_signal_names(void **st)
{
    int sig = -1;
    (void)st;

    assert_int_equal(crs_parse_signal("USR1", &sig), 0);
    assert_int_equal(sig, SIGUSR1);
    assert_int_equal(crs_parse_signal("SIGUSR1", &sig), 0);
    assert_int_equal(sig, SIGUSR1);
    assert_int_equal(crs_parse_signal("usr2", &sig), 0);
    assert_int_equal(sig, SIGUSR2);
    assert_int_equal(crs_parse_signal("10", &sig), 0);
    assert_int_equal(sig, 10);
    assert_int_equal(crs_parse_signal("SIGRTMIN+1", &sig), 0);
    assert_int_equal(sig, SIGRTMIN + 1);
    assert_int_equal(crs_parse_signal("HUP", &sig), 0);
    assert_int_equal(sig, SIGHUP);
    assert_int_equal(crs_parse_signal("none", &sig), 0);
    assert_int_equal(sig, 0);
    /* Unblockable, unknown, out of range, or the quiesce signal itself. */
    assert_int_equal(crs_parse_signal("KILL", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("SIGSTOP", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("BOGUS", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("99", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("-3", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("RTMAX-2", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("RTMIN+x", &sig), -EINVAL);
    assert_int_equal(crs_parse_signal("", &sig), -EINVAL);
}

static void test_interval(void **st)
{
    double v;
    (void)st;

    assert_int_equal(crs_parse_interval("1.5", &v), 0);
    assert_true(v == 1.5);
    assert_int_equal(crs_parse_interval("0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(crs_parse_interval("abc", &v), -EINVAL);
    assert_int_equal(crs_parse_interval("-1", &v), -EINVAL);
    assert_int_equal(crs_parse_interval("1e-9", &v), -EINVAL);
    assert_int_equal(crs_parse_interval("inf", &v), -EINVAL);
    assert_int_equal(crs_parse_interval("nan", &v), -EINVAL);
    assert_int_equal(crs_parse_interval("2s", &v), -EINVAL);
    assert_int_equal(crs_parse_interval("", &v), -EINVAL);
}

/* Each bad value is refused, and the message names the variable and the value. */
static void test_env_invalid(void **st)
{
    static const char *const bad[][2] = {
        { "CRSNAP_INTERVAL", "soon" },   { "CRSNAP_INTERVAL", "-2" },
        { "CRSNAP_KEEP", "-1" },         { "CRSNAP_KEEP", "many" },
        { "CRSNAP_SIGNAL", "KILL" },     { "CRSNAP_SIGNAL", "NOPE" },
        { "CRSNAP_LEVEL", "23" },        { "CRSNAP_LEVEL", "fast" },
        { "CRSNAP_LOG", "5" },           { "CRSNAP_LOG", "loud" },
        { "CRSNAP_DIR", "" },            { "CRSNAP_FORCE_PWRITE", "2" },
        { "CRSNAP_QUIESCE_TIMEOUT_MS", "0" },
        { "CRSNAP_FULL_EVERY", "0" },    { "CRSNAP_FULL_EVERY", "65" },
        { "CRSNAP_FULL_EVERY", "often" },
    };
    (void)st;

    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct crs_settings s;
        char err[256] = "";
        clear_env(NULL);
        setenv(bad[i][0], bad[i][1], 1);
        assert_int_equal(crs_settings_load(&s, NULL, 1, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, bad[i][0]));
        assert_non_null(strstr(err, bad[i][1]));
    }
}

/* The top of the level range is zstd's own: its highest level is taken, one above is refused
 * with a message that gives the range, from the environment and from a struct alike. */
static void test_level_range(void **st)
{
    struct crs_settings s;
    struct crs_config c;
    char v[16], want[64], err[256] = "";
    (void)st;

    snprintf(v, sizeof v, "%d", ZSTD_maxCLevel());
    setenv("CRSNAP_LEVEL", v, 1);
    assert_int_equal(crs_settings_load(&s, NULL, 1, err, sizeof err), 0);
    assert_int_equal(s.level, ZSTD_maxCLevel());
    snprintf(v, sizeof v, "%d", ZSTD_maxCLevel() + 1);
    setenv("CRSNAP_LEVEL", v, 1);
    assert_int_equal(crs_settings_load(&s, NULL, 1, err, sizeof err), -EINVAL);
    snprintf(want, sizeof want, "want a zstd level from -100 to %d", ZSTD_maxCLevel());
    assert_non_null(strstr(err, want));

    unsetenv("CRSNAP_LEVEL");
    memset(&c, 0, sizeof c);
    c.level = ZSTD_maxCLevel() + 1;
    err[0] = '\0';
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, want));
}

static void test_struct(void **st)
{
    struct crs_settings s;
    struct crs_config c;
    char err[256] = "";
    (void)st;

    setenv("CRSNAP_INTERVAL", "7", 1);          /* ignored: a struct was given */
    memset(&c, 0, sizeof c);
    c.dir = "/d";
    c.keep = -1;
    c.signal = SIGUSR1;
    c.level = 9;
    c.control_socket = -1;
    c.quiesce_timeout_ms = 50;
    c.full_every = 3;
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), 0);
    assert_int_equal(s.full_every, 3);
    c.full_every = 65;
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), -EINVAL);
    c.full_every = 0;                           /* the default */
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), 0);
    assert_int_equal(s.full_every, 8);
    assert_string_equal(s.dir, "/d");
    assert_true(s.interval == 0);
    assert_int_equal(s.keep, 0);
    assert_int_equal(s.signal, SIGUSR1);
    assert_int_equal(s.level, 9);
    assert_int_equal(s.control_socket, 0);
    assert_int_equal(s.quiesce_timeout_ms, 50);

    c.interval = -1;
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), -EINVAL);
    c.interval = 0;
    c.signal = SIGKILL;
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), -EINVAL);
    c.signal = 0;
    c.level = 40;
    assert_int_equal(crs_settings_load(&s, &c, 0, err, sizeof err), -EINVAL);
}

static void test_init(void **st)
{
    struct crs_config c;
    char dir[4096];
    const char *tmp = getenv("CRSNAP_TEST_TMP");
    (void)st;

    setenv("CRSNAP_INTERVAL", "never", 1);
    assert_int_equal(crs_init(NULL), -EINVAL);
    assert_int_equal(crs_state.initialized, 0);
    unsetenv("CRSNAP_INTERVAL");

    snprintf(dir, sizeof dir, "%s/rt-config", tmp ? tmp : "/tmp");
    memset(&c, 0, sizeof c);
    c.dir = dir;
    c.control_socket = -1;
    assert_int_equal(crs_init(&c), 0);
    assert_int_equal(crs_init(&c), -EALREADY);
    assert_int_equal(crs_init(NULL), -EALREADY);
    assert_string_equal(crs_state.cfg.dir, dir);
    assert_true(crs_state.tid_offset > 0);      /* found on two threads */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_env_valid, clear_env),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_interval),
        cmocka_unit_test_setup(test_env_invalid, clear_env),
        cmocka_unit_test_setup(test_level_range, clear_env),
        cmocka_unit_test_setup(test_struct, clear_env),
        cmocka_unit_test_setup(test_init, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
