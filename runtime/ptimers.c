/* runtime/ptimers.c - the process's POSIX timers (timer_create), read by the coordinator while
 * the threads are stopped: fork does not carry them into the snapshot child. /proc/self/timers
 * gives each one's id, signal, sigev_value, notification and clock; timer_gettime the time it
 * has left and its interval. Overruns not yet read are not kept.
 *
 * crs_ptimers_read() runs between the quiesce and the release, when a parked thread may hold
 * malloc's lock: system calls and the state's fixed buffers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime.h"
#include "common/proc_util.h"
#include "image/timers.h"

struct parse {
    struct crs_img_timer cur;
    int have;                   /* 1 once an "ID:" line started cur */
    uint32_t n, missed;
    struct crs_img_timer *out;
    uint32_t max;
};

/* "KEY: " at the start of line: what follows it, or NULL. */
static const char *after(const char *line, size_t len, const char *key)
{
    size_t k = strlen(key);
    return len >= k && !memcmp(line, key, k) ? line + k : NULL;
}

/* One line of /proc/self/timers; a record is whole at its "ClockID:" line:
 *   ID: 3 / signal: 34/00000000deadbeef / notify: signal/tid.1234 / ClockID: 1 */
static int timer_line(char *line, size_t len, void *arg)
{
    struct parse *p = arg;
    const char *v;
    uint64_t u;
    int64_t sv;

    line[len] = '\0';
    if ((v = after(line, len, "ID: "))) {
        memset(&p->cur, 0, sizeof p->cur);
        p->have = !crs_parse_sdec(&v, &sv) && sv >= 0 && sv <= 0x7fffffff;
        p->cur.id = (int32_t)sv;
    } else if (p->have && (v = after(line, len, "signal: "))) {
        if (crs_parse_dec(&v, &u) || *v++ != '/' || crs_parse_hex(&v, &p->cur.value))
            p->have = 0;
        p->cur.signo = (int32_t)u;
    } else if (p->have && (v = after(line, len, "notify: "))) {
        if (!strncmp(v, "signal/", 7))
            p->cur.notify = CRS_SIGEV_SIGNAL;
        else if (!strncmp(v, "none/", 5))
            p->cur.notify = CRS_SIGEV_NONE;
        else if (!strncmp(v, "thread/", 7))
            p->cur.notify = CRS_SIGEV_THREAD;
        else
            p->have = 0;
        v = strchr(v, '/');
        if (v && !strncmp(v, "/tid.", 5)) {
            v += 5;
            p->cur.notify |= CRS_SIGEV_THREAD_ID;
            if (crs_parse_dec(&v, &u))
                p->have = 0;
            p->cur.tid = (int32_t)u;
        }
    } else if (p->have && (v = after(line, len, "ClockID: "))) {
        struct itimerspec its;
        p->have = 0;
        if (crs_parse_sdec(&v, &sv))
            return 0;
        p->cur.clockid = (int32_t)sv;
        if (crs_sys2(SYS_timer_gettime, p->cur.id, (long)&its) < 0)
            return 0;                   /* gone: only its own thread could, and it is stopped */
        p->cur.interval.sec = its.it_interval.tv_sec;
        p->cur.interval.nsec = its.it_interval.tv_nsec;
        p->cur.value_left.sec = its.it_value.tv_sec;
        p->cur.value_left.nsec = its.it_value.tv_nsec;
        if (p->n < p->max)
            p->out[p->n++] = p->cur;
        else
            p->missed++;
    }
    return 0;
}

void crs_ptimers_read(struct crs_snap_request *req)
{
    struct parse p = { .out = crs_state.timers, .max = CRS_IMG_MAX_TIMERS };

    /* a kernel without /proc/PID/timers (CONFIG_CHECKPOINT_RESTORE off) shows none: nothing
     * to save then, and nothing to tell either */
    crs_read_lines("/proc/self/timers", crs_state.timers_line, sizeof crs_state.timers_line,
                   timer_line, &p);
    crs_state.ntimers = p.n;
    crs_state.timers_missed = p.missed;
    req->timers = crs_state.timers;
    req->ntimers = p.n;
    req->timers_missed = p.missed;
}

/* glibc makes a timer_create(SIGEV_THREAD) timer signal (SIGTIMER, 32, its internal signal) a
 * helper thread of its own, which blocks every other signal: the quiesce cannot stop it. */
static int sigev_thread_line(char *line, size_t len, void *arg)
{
    int *found = arg;
    line[len] = '\0';
    if (!strncmp(line, "signal: 32/", 11))
        found[0] = 1;
    else if (found[0] && !strncmp(line, "notify: signal/tid.", 19))
        found[1] = 1;
    else if (!strncmp(line, "ID: ", 4))
        found[0] = 0;
    return 0;
}

void crs_ptimers_explain(char *err, size_t errlen)
{
    char line[256];
    int found[2] = { 0, 0 };
    size_t n = strlen(err);

    if (crs_read_lines("/proc/self/timers", line, sizeof line, sigev_thread_line, found) < 0 ||
        !found[1] || n + 1 >= errlen)
        return;
    snprintf(err + n, errlen - n, "; the program has a timer_create(SIGEV_THREAD) timer, whose "
             "glibc helper thread blocks every signal: such a process cannot be checkpointed");
}
