/* snapshot/testhooks.c - the one place the test hooks of the snapshot child are read. Parent
 * side: the runtime resolves them at init (runtime/config.c) and the image test harness before
 * it starts a child; the child only sees them in its request, never in the environment.
 *
 * The hooks (all CRSNAP_TEST_*; unset = off):
 *   ONE_THREAD=1       no compression helper thread, so the release of pages is counted from
 *                      one thread only (test_image_release).
 *   NO_PAGEMAP_SCAN=1  the page walk reads /proc/self/pagemap instead of using the
 *                      PAGEMAP_SCAN ioctl, to test the fallback (test_image_roundtrip).
 *   CHILD_CRASH=x      the child reads page zero and faults: "release..." after it has
 *                      unmapped pages (the runtime retries without releasing), anything else
 *                      at once (test_image_failures, restore/crash.sh).
 *   WRITE_DELAY_MS=n   sleeps n ms per chunk compressed, so a test can kill the child mid-write or
 *                      let the process run meanwhile (test_image_failures, test_image_release,
 *                      tools/imgdir_trust.sh, tools/run_exit_race.sh).
 *   FDS_DELAY_MS=n     sleeps n ms before the descriptors are read, so the process runs on
 *                      (tools/run_exit_race.sh, restore.cmake).
 *   URING_RWF=n        gives io_uring writes rw_flags it refuses, to test the pwrite fallback
 *                      mid-image (test_image_roundtrip, tools/writer_fs.sh).
 *   ACCEPT_DELAY_US=n  the runtime's coordinator waits n us between accepting a control
 *                      connection and recording it, where a fork of the program's would copy
 *                      one without the other were it not for the fd lock (tree/fork_storm.sh).
 *   RESET_DELAY_MS=n   the runtime waits n ms after a snapshot before it resets the tracking
 *                      of written pages, so that the program writes much in between
 *                      (restore/incr.sh late).
 * The restorer's (read by the commands that restore, tools/cmd_restore.c and tools/resume.c,
 * into struct crs_restore_opts):
 *   FAKE_RELEASE=s     the kernel release the host check compares with the image's
 *   FAKE_LIBC=s        the glibc version it compares
 *   FAKE_XFEATURES=n   the XCR0 it compares (restore/failures.sh, restore_units)
 *   FORCE_REEXEC=n     crsnap restore re-executes itself n times before restoring, as if
 *                      the layout had collided (restore/failures.sh)
 * and a setting: CRSNAP_RESTORE_THREADS=1 decompresses on one thread (restore.cmake).
 * One hook stays where it acts, in crsnap run before the exec of the program:
 *   RUN_EXEC_DELAY_MS=n  sleeps n ms between holding the trigger and the exec, so a test can
 *                      send the trigger there (tools/run_startup.sh).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "restore/restore.h"
#include "snapshot.h"
#include "common/proc_util.h"

int crs_env_flag(const char *value)
{
    return value && *value && *value != '0';
}

/* A decimal number, 0 when unset or not a number (as the child always read it). */
static uint32_t env_num(const char *name)
{
    const char *v = getenv(name);
    uint64_t n;

    if (!v || crs_parse_dec(&v, &n) || n > UINT32_MAX)
        return 0;
    return (uint32_t)n;
}

void crs_snap_hooks_from_env(struct crs_snap_hooks *h)
{
    const char *crash = getenv("CRSNAP_TEST_CHILD_CRASH");

    h->one_thread = crs_env_flag(getenv("CRSNAP_TEST_ONE_THREAD"));
    h->no_pagemap_scan = getenv("CRSNAP_TEST_NO_PAGEMAP_SCAN") != NULL;
    h->child_crash = crash ? (crash[0] == 'r' ? 1 : 2) : 0;
    h->write_delay_ms = env_num("CRSNAP_TEST_WRITE_DELAY_MS");
    h->fds_delay_ms = env_num("CRSNAP_TEST_FDS_DELAY_MS");
    h->uring_rw_flags = env_num("CRSNAP_TEST_URING_RWF");
    h->accept_delay_us = env_num("CRSNAP_TEST_ACCEPT_DELAY_US");
    h->reset_delay_ms = env_num("CRSNAP_TEST_RESET_DELAY_MS");
}

void crs_restore_opts_from_env(struct crs_restore_opts *o)
{
    const char *v = getenv("CRSNAP_RESTORE_THREADS");

    o->one_thread = v && !strcmp(v, "1");
    o->lazy_no_prefetch = getenv("CRSNAP_TEST_LAZY_NO_PREFETCH") != NULL;
    o->lazy_pidfile = getenv("CRSNAP_TEST_LAZY_PIDFILE");
    o->hooks.fake_release = getenv("CRSNAP_TEST_FAKE_RELEASE");
    o->hooks.fake_libc = getenv("CRSNAP_TEST_FAKE_LIBC");
    v = getenv("CRSNAP_TEST_FAKE_XFEATURES");
    o->hooks.has_fake_xfeatures = v != NULL;
    o->hooks.fake_xfeatures = v ? strtoull(v, NULL, 0) : 0;
    v = getenv("CRSNAP_TEST_FORCE_REEXEC");
    o->hooks.force_reexec = v ? atoi(v) : 0;
}
