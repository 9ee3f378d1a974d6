/* runtime/registry.c - the handler registry: registration, and the prepare/resume walks that
 * give every handler exactly one resume for each prepare. A checkpoint runs the walks on a
 * frozen copy taken before the threads stop, so the quiesce handler reads it without a lock.
 * The walks run in signal handlers (CRS_SYNC): no malloc, no locks in them.
 */
#include <errno.h>
#include <string.h>

#include "runtime.h"

void crs_registry_init(struct crs_registry *r)
{
    memset(r, 0, sizeof *r);
    r->next_id = 1;
}

int crs_registry_add(struct crs_registry *r, crs_handler_fn fn, void *arg, unsigned flags,
                     uint64_t owner)
{
    struct crs_handler *h;

    if (!fn || (flags != CRS_ASYNC && flags != CRS_SYNC))
        return -EINVAL;
    if (r->n >= CRS_MAX_HANDLERS)
        return -ENOSPC;
    if (r->next_id <= 0)                /* a zeroed registry: start numbering */
        r->next_id = 1;
    h = &r->h[r->n++];
    memset(h, 0, sizeof *h);
    h->id = r->next_id++;
    h->flags = flags;
    h->owner = flags == CRS_SYNC ? owner : 0;
    h->fn = fn;
    h->arg = arg;
    return h->id;
}

int crs_registry_remove(struct crs_registry *r, int id)
{
    for (unsigned i = 0; i < r->n; i++) {
        if (r->h[i].id != id)
            continue;
        memmove(&r->h[i], &r->h[i + 1], (r->n - i - 1) * sizeof r->h[0]);
        r->n--;
        return 0;
    }
    return -ENOENT;
}

static int matches(const struct crs_handler *h, unsigned flags, uint64_t owner)
{
    return h->flags == flags && (flags != CRS_SYNC || h->owner == owner);
}

int crs_registry_prepare(struct crs_registry *r, unsigned flags, uint64_t owner)
{
    for (unsigned i = 0; i < r->n; i++) {
        struct crs_handler *h = &r->h[i];
        int rc;

        if (!matches(h, flags, owner))
            continue;
        crs_tls.in_handler++;
        rc = h->fn(CRS_PREPARE, h->arg);
        crs_tls.in_handler--;
        if (rc != 0)
            return (int)i + 1;          /* a veto: this one did not prepare */
        h->prepared = 1;
    }
    return 0;
}

void crs_registry_resume(struct crs_registry *r, unsigned flags, uint64_t owner, crs_phase ph)
{
    for (unsigned i = r->n; i-- > 0;) {
        struct crs_handler *h = &r->h[i];

        if (!matches(h, flags, owner) || !h->prepared)
            continue;
        h->prepared = 0;
        crs_tls.in_handler++;
        h->fn(ph, h->arg);
        crs_tls.in_handler--;
    }
}

/* Removes every sync handler of one thread. */
void crs_registry_drop_owner(struct crs_registry *r, uint64_t owner)
{
    unsigned k = 0;

    for (unsigned i = 0; i < r->n; i++)
        if (r->h[i].flags != CRS_SYNC || r->h[i].owner != owner)
            r->h[k++] = r->h[i];
    r->n = k;
}

/* Thread exit (a pthread key destructor): the thread's sync handlers go with it, or a new
 * thread that glibc gives the same descriptor would inherit them. */
static void thread_exit(void *owner)
{
    pthread_mutex_lock(&crs_state.lock);
    while (crs_state.handlers_busy)
        pthread_cond_wait(&crs_state.cond, &crs_state.lock);
    crs_registry_drop_owner(&crs_state.reg, (uint64_t)(uintptr_t)owner);
    pthread_mutex_unlock(&crs_state.lock);
}

int crs_register(crs_handler_fn fn, void *arg, unsigned flags)
{
    uint64_t tp = crs_arch_thread_pointer();
    int r;

    if (crs_tls.in_handler)
        return -EDEADLK;
    pthread_mutex_lock(&crs_state.lock);
    r = crs_registry_add(&crs_state.reg, fn, arg, flags, tp);
    if (r > 0 && flags == CRS_SYNC) {
        if (!crs_state.sync_key_made && pthread_key_create(&crs_state.sync_key, thread_exit) == 0)
            crs_state.sync_key_made = 1;
        if (crs_state.sync_key_made)
            pthread_setspecific(crs_state.sync_key, (void *)(uintptr_t)tp);
    }
    pthread_mutex_unlock(&crs_state.lock);
    return r;
}

int crs_unregister(int id)
{
    int r;

    if (crs_tls.in_handler)
        return -EDEADLK;
    pthread_mutex_lock(&crs_state.lock);
    while (crs_state.handlers_busy)     /* the running checkpoint still calls it */
        pthread_cond_wait(&crs_state.cond, &crs_state.lock);
    r = crs_registry_remove(&crs_state.reg, id);
    pthread_mutex_unlock(&crs_state.lock);
    return r;
}
