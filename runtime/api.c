/* runtime/api.c - the blocking and asynchronous checkpoint calls of include/crsnap.h and the
 * results they return. Callers hand out tickets; the coordinator serves them and posts each
 * checkpoint's outcome here (crs_post_outcome), which wakes the callers it covered.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

static int usable(void)
{
    return crs_state.initialized == 1 && !crs_state.disabled;
}

/* The outcome of dir ticket t, from the ring (the newest if it has been overwritten). */
static int outcome_of(uint64_t t)
{
    unsigned n = crs_state.noutcomes < CRS_RESULT_RING ? crs_state.noutcomes : CRS_RESULT_RING;

    for (unsigned i = 0; i < n; i++) {
        const struct crs_outcome *o = &crs_state.outcomes[i];
        if (t > o->lo && t <= o->hi)
            return o->outcome;
    }
    return crs_state.outcomes[(crs_state.noutcomes - 1) % CRS_RESULT_RING].outcome;
}

int crs_checkpoint(const char *path)
{
    uint64_t ticket;
    int r;

    if (!usable())
        return -ENOTCONN;
    if (crs_tls.cs_depth > 0 || crs_tls.in_handler || crs_gettid() == crs_state.coord_tid)
        return -EDEADLK;
    if (path && (!*path || strlen(path) >= CRS_PATH_MAX))
        return path[0] ? -ENAMETOOLONG : -EINVAL;

    pthread_mutex_lock(&crs_state.lock);
    if (!path) {
        ticket = atomic_fetch_add(&crs_state.req_seq, 1) + 1;
        crs_wake_coordinator();
        while (crs_state.done_seq < ticket)
            pthread_cond_wait(&crs_state.cond, &crs_state.lock);
        r = outcome_of(ticket);
    } else {
        while (crs_state.path_busy)     /* one explicit path at a time */
            pthread_cond_wait(&crs_state.cond, &crs_state.lock);
        crs_state.path_busy = 1;
        snprintf(crs_state.path_req, sizeof crs_state.path_req, "%s", path);
        ticket = ++crs_state.path_ticket;
        crs_state.path_pending = 1;
        crs_wake_coordinator();
        while (crs_state.path_done < ticket)
            pthread_cond_wait(&crs_state.cond, &crs_state.lock);
        r = crs_state.path_outcome;
        crs_state.path_busy = 0;
        pthread_cond_broadcast(&crs_state.cond);
    }
    pthread_mutex_unlock(&crs_state.lock);
    return r;
}

int crs_request_checkpoint(void)
{
    if (!usable())
        return -ENOTCONN;
    atomic_fetch_add(&crs_state.req_seq, 1);
    crs_wake_coordinator();
    return 0;
}

int crs_last_checkpoint(struct crs_result *out)
{
    int r = -ENOENT;

    pthread_mutex_lock(&crs_state.lock);
    if (crs_state.have_result) {
        *out = crs_state.last;
        r = 0;
    }
    pthread_mutex_unlock(&crs_state.lock);
    return r;
}

int crs_unrestored_fds(int *fds, int max)
{
    const struct crs_restart_plan *p = crs_restart_plan_get();
    int n;

    if (!p)
        return 0;
    n = (int)(p->nunrestored < CRS_PLAN_MAX_FDS ? p->nunrestored : CRS_PLAN_MAX_FDS);
    for (int i = 0; i < n && i < max; i++)
        fds[i] = p->unrestored[i];
    return n;
}

int crs_restart_count(void)
{
    return atomic_load(&crs_state.restart_count);
}

/* Coordinator: a checkpoint is over. outcome: CRS_CONTINUE, CRS_RESTART or -errno. */
void crs_post_outcome(int outcome, const struct crs_result *res)
{
    struct crs_current *c = &crs_state.cur;
    unsigned keep = 0;

    pthread_mutex_lock(&crs_state.lock);
    crs_state.last = *res;
    crs_state.have_result = 1;
    if (c->explicit_path) {
        crs_state.path_outcome = outcome;
        crs_state.path_done = crs_state.path_ticket;
        crs_state.path_pending = 0;
    } else {
        struct crs_outcome *o = &crs_state.outcomes[crs_state.noutcomes++ % CRS_RESULT_RING];
        o->lo = c->covered_lo;
        o->hi = c->covered;
        o->outcome = outcome;
        crs_state.done_seq = c->covered;
    }
    pthread_cond_broadcast(&crs_state.cond);
    pthread_mutex_unlock(&crs_state.lock);

    /* Control clients waiting for this one (the coordinator alone touches the list). */
    int held = crs_fds_lock();
    for (unsigned i = 0; i < crs_state.nwaiters; i++) {
        struct crs_waiter *w = &crs_state.waiters[i];
        if (c->explicit_path || w->ticket > c->covered) {
            crs_state.waiters[keep++] = *w;
            continue;
        }
        crs_control_reply(w->fd, res->error, res->seq, res->path, res->message);
        if (w->fd == crs_state.kill_pending)
            crs_state.kill_pending = -1;
        close(w->fd);
    }
    crs_state.nwaiters = keep;
    crs_fds_unlock(held);
}
