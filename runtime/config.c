/* runtime/config.c - the configuration: defaults, then a struct crs_config, then (for
 * crs_init(NULL)) the CRSNAP_* environment. Bad values are refused with a message that names
 * the variable and the value, and init fails with -EINVAL.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zstd.h>

#include "control_proto.h"
#include "runtime.h"
#include "snapshot/snapshot.h"

#define DEFAULT_DIR "./crsnap-images"
#define DEFAULT_KEEP 3
#define DEFAULT_LEVEL (-1)         /* zstd --fast=1: about a fifth less CPU than level 1 for +1% size */
#define DEFAULT_QUIESCE_MS 2000u
/* The compression levels accepted: zstd's own top level, and at the fast end a bound of ours
 * (zstd's, ZSTD_minCLevel(), is -131072), the range docs/crsnap.1 gives. */
#define MIN_LEVEL (-100)
#define MAX_LEVEL ZSTD_maxCLevel()
#define NAME_ROOM 64                /* room for "/ckpt-NNNNNN.crsnap.tmp" after the directory */

void crs_settings_default(struct crs_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", DEFAULT_DIR);
    s->keep = DEFAULT_KEEP;
    s->full_every = CRS_DEFAULT_FULL_EVERY;
    s->level = DEFAULT_LEVEL;
    s->control_socket = 1;
    s->quiesce_timeout_ms = DEFAULT_QUIESCE_MS;
}

static int parse_log(const char *s, int *out)
{
    static const char *const names[] = { "error", "info", "debug" };
    long n;

    for (int i = 0; i < 3; i++)
        if (!strcasecmp(s, names[i])) {
            *out = i;
            return 0;
        }
    if (crs_parse_long(s, 0, 2, &n) < 0)
        return -EINVAL;
    *out = (int)n;
    return 0;
}

static int bad(char *err, size_t errlen, const char *what, const char *value, const char *why)
{
    snprintf(err, errlen, "invalid %s \"%s\": %s", what, value, why);
    return -EINVAL;
}

static int bad_level(char *err, size_t errlen, const char *what, const char *value)
{
    char why[64];
    snprintf(why, sizeof why, "want a zstd level from %d to %d", MIN_LEVEL, MAX_LEVEL);
    return bad(err, errlen, what, value, why);
}

static int check_dir(const char *d, char *err, size_t errlen, const char *what)
{
    if (!*d)
        return bad(err, errlen, what, d, "empty path");
    if (strlen(d) >= CRS_PATH_MAX - NAME_ROOM)
        return bad(err, errlen, what, "...", "path too long");
    return 0;
}

static int apply_config(struct crs_settings *s, const struct crs_config *c, char *err,
                        size_t errlen)
{
    char v[64];

    if (c->dir) {
        if (check_dir(c->dir, err, errlen, "dir") < 0)
            return -EINVAL;
        snprintf(s->dir, sizeof s->dir, "%s", c->dir);
    }
    if (c->interval != 0) {
        snprintf(v, sizeof v, "%g", c->interval);
        if (!isfinite(c->interval) || c->interval < CRS_MIN_INTERVAL || c->interval > CRS_MAX_INTERVAL)
            return bad(err, errlen, "interval", v, "want seconds, 0.001 to 1e8, or 0 for none");
        s->interval = c->interval;
    }
    if (c->keep < 0)
        s->keep = 0;
    else if (c->keep > 0)
        s->keep = c->keep;
    if (c->signal == -1) {
        s->signal = 0;
    } else if (c->signal != 0) {
        snprintf(v, sizeof v, "%d", c->signal);
        if (!crs_signal_usable(c->signal))
            return bad(err, errlen, "signal", v, "not a signal that can trigger a checkpoint");
        s->signal = c->signal;
    }
    if (c->level != 0) {
        snprintf(v, sizeof v, "%d", c->level);
        if (c->level < MIN_LEVEL || c->level > MAX_LEVEL)
            return bad_level(err, errlen, "level", v);
        s->level = c->level;
    }
    if (c->control_socket < 0)
        s->control_socket = 0;
    if (c->log_level < 0 || c->log_level > 2) {
        snprintf(v, sizeof v, "%d", c->log_level);
        return bad(err, errlen, "log_level", v, "want 0, 1 or 2");
    }
    s->log_level = c->log_level;
    if (c->quiesce_timeout_ms)
        s->quiesce_timeout_ms = c->quiesce_timeout_ms;
    if (c->full_every != 0) {
        snprintf(v, sizeof v, "%d", c->full_every);
        if (c->full_every < 1 || c->full_every > CRS_MAX_FULL_EVERY)
            return bad(err, errlen, "full_every", v, "want 1 (always full) to 64");
        s->full_every = c->full_every;
    }
    return 0;
}

static int apply_env(struct crs_settings *s, char *err, size_t errlen)
{
    const char *v;
    long n;

    if ((v = getenv("CRSNAP_DIR")) != NULL) {
        if (check_dir(v, err, errlen, "CRSNAP_DIR") < 0)
            return -EINVAL;
        snprintf(s->dir, sizeof s->dir, "%s", v);
    }
    if ((v = getenv("CRSNAP_INTERVAL")) != NULL && crs_parse_interval(v, &s->interval) < 0)
        return bad(err, errlen, "CRSNAP_INTERVAL", v,
                   "want seconds (fractions allowed), 0.001 to 1e8, or 0 for none");
    if ((v = getenv("CRSNAP_KEEP")) != NULL && crs_parse_keep(v, &s->keep) < 0)
        return bad(err, errlen, "CRSNAP_KEEP", v, "want a count of images, 0 = keep all");
    if ((v = getenv("CRSNAP_FULL_EVERY")) != NULL && crs_parse_full_every(v, &s->full_every) < 0)
        return bad(err, errlen, "CRSNAP_FULL_EVERY", v, "want 1 (always full) to 64");
    if ((v = getenv("CRSNAP_SIGNAL")) != NULL && crs_parse_signal(v, &s->signal) < 0)
        return bad(err, errlen, "CRSNAP_SIGNAL", v,
                   "want a signal name or number such as USR1, SIGUSR2, RTMIN+1 or none");
    if ((v = getenv("CRSNAP_LEVEL")) != NULL) {
        if (crs_parse_long(v, MIN_LEVEL, MAX_LEVEL, &n) < 0)
            return bad_level(err, errlen, "CRSNAP_LEVEL", v);
        s->level = n ? (int)n : DEFAULT_LEVEL;
    }
    if ((v = getenv("CRSNAP_LOG")) != NULL && parse_log(v, &s->log_level) < 0)
        return bad(err, errlen, "CRSNAP_LOG", v, "want 0/error, 1/info or 2/debug");
    if ((v = getenv("CRSNAP_QUIESCE_TIMEOUT_MS")) != NULL) {
        if (crs_parse_long(v, 1, 3600000, &n) < 0)
            return bad(err, errlen, "CRSNAP_QUIESCE_TIMEOUT_MS", v,
                       "want milliseconds, 1 to 3600000");
        s->quiesce_timeout_ms = (unsigned)n;
    }
    return 0;
}

/* Knobs that exist only in the environment, read whatever the caller passed. */
static int apply_env_only(struct crs_settings *s, char *err, size_t errlen)
{
    const char *v;
    long n;

    if ((v = getenv("CRSNAP_FORCE_PWRITE")) != NULL) {
        if (crs_parse_long(v, 0, 1, &n) < 0)
            return bad(err, errlen, "CRSNAP_FORCE_PWRITE", v, "want 0 or 1");
        s->force_pwrite = (int)n;
    }
    if ((v = getenv(CRS_CONTROL_DIR_ENV)) != NULL) {
        if (check_dir(v, err, errlen, CRS_CONTROL_DIR_ENV) < 0)
            return -EINVAL;
        snprintf(s->socket_dir, sizeof s->socket_dir, "%s", v);
    }
    /* read here once and carried in each request: the snapshot child reads no environment */
    s->no_release = crs_env_flag(getenv("CRSNAP_NO_RELEASE"));
    s->no_direct = crs_env_flag(getenv("CRSNAP_NO_DIRECT"));
    crs_snap_hooks_from_env(&s->hooks);
    return 0;
}

int crs_settings_load(struct crs_settings *s, const struct crs_config *cfg, int use_env,
                      char *err, size_t errlen)
{
    int r;

    crs_settings_default(s);
    if (cfg && (r = apply_config(s, cfg, err, errlen)) < 0)
        return r;
    if (use_env && (r = apply_env(s, err, errlen)) < 0)
        return r;
    return apply_env_only(s, err, errlen);
}
