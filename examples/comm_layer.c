/* examples/comm_layer.c - a communication layer that keeps itself consistent across checkpoints.
 * Its asynchronous handler locks the layer and waits for the calls in flight to finish before
 * the snapshot; an application thread that starts a call meanwhile waits at the front of the
 * layer and goes on once the process resumes, in the original (CONTINUE) or in a restored copy
 * (RESTART), where the layer would reconnect. The application thread also has a CRS_SYNC
 * handler of its own, run in that thread while it is stopped.
 *
 *   usage: comm_layer [DIR] [--exit-after-checkpoint]
 *
 * With --exit-after-checkpoint the original process stops as soon as its image is durable, as
 * if the machine had gone down; `crsnap restore DIR` then finishes the work and prints the same
 * result as an uninterrupted run.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <crsnap.h>

#define CALLS 200
#define CHECKPOINT_AT 50        /* the main thread checkpoints once this many calls are done */

/* The layer: calls may run while it is open; the handler closes it for a checkpoint. */
struct layer {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int closed;                 /* a checkpoint is being prepared: no new calls */
    int in_flight;              /* calls between their front and their end */
    int waiting;                /* threads held at the front */
    int exit_after_checkpoint;
    uint64_t state;             /* what the "peer" has received: a hash of every message */
    int calls_done;
};

static struct layer layer = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .changed = PTHREAD_COND_INITIALIZER,
};

static const char *phase_name(crs_phase p)
{
    switch (p) {
    case CRS_PREPARE: return "PREPARE";
    case CRS_CONTINUE: return "CONTINUE";
    case CRS_RESTART: return "RESTART";
    case CRS_ABORT: return "ABORT";
    }
    return "?";
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* One call through the layer. Returns 1 if it had to wait at the front for a checkpoint. */
static int layer_send(uint64_t message)
{
    int waited = 0;

    pthread_mutex_lock(&layer.lock);
    while (layer.closed) {
        layer.waiting++;
        pthread_cond_broadcast(&layer.changed);
        pthread_cond_wait(&layer.changed, &layer.lock);
        layer.waiting--;
        waited = 1;
    }
    layer.in_flight++;
    pthread_mutex_unlock(&layer.lock);

    /* The call in flight: a message on the wire that a checkpoint must not cut in half. */
    sleep_ms(2);

    pthread_mutex_lock(&layer.lock);
    layer.state = (layer.state ^ message) * 0x100000001b3ull;
    layer.calls_done++;
    layer.in_flight--;
    pthread_cond_broadcast(&layer.changed);
    pthread_mutex_unlock(&layer.lock);
    return waited;
}

/* The layer's checkpoint handler, run by crsnap's coordinator thread (CRS_ASYNC), so it may
 * block while the application threads still run. */
static int layer_handler(crs_phase phase, void *arg)
{
    struct layer *l = arg;

    pthread_mutex_lock(&l->lock);
    if (phase == CRS_PREPARE) {
        struct timespec until;
        l->closed = 1;
        while (l->in_flight > 0)
            pthread_cond_wait(&l->changed, &l->lock);
        /* For the demonstration, give the application thread a moment to reach the front of
         * its next call, so it is seen waiting there during the checkpoint. */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        while (l->waiting == 0 && pthread_cond_timedwait(&l->changed, &l->lock, &until) == 0)
            ;
        printf("layer: PREPARE: closed, %d calls in flight, %d caller waiting at the front\n",
               l->in_flight, l->waiting);
        fflush(stdout);
    } else if (phase == CRS_CONTINUE && l->exit_after_checkpoint) {
        /* Keep the layer closed: this process goes away once the image is durable. */
    } else {
        if (phase == CRS_RESTART)
            printf("layer: RESTART: restored from an image; reconnecting to the peer\n");
        else
            printf("layer: %s: reopened\n", phase_name(phase));
        fflush(stdout);
        l->closed = 0;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->lock);
    return 0;
}

/* Phases seen by the application thread's own CRS_SYNC handler, one bit each. */
static volatile sig_atomic_t app_phases;

/* Runs in the application thread, inside crsnap's signal handler, once the thread is stopped:
 * async-signal-safe code only (here a store; a real one might save a device context). */
static int app_sync_handler(crs_phase phase, void *arg)
{
    (void)arg;
    app_phases |= 1 << phase;
    return 0;
}

static void *application(void *arg)
{
    (void)arg;
    if (crs_register(app_sync_handler, NULL, CRS_SYNC) < 0)
        fprintf(stderr, "comm_layer: cannot register the thread's handler\n");
    for (int i = 0; i < CALLS; i++) {
        if (layer_send(((uint64_t)i << 32) | (uint64_t)(i * 7 + 1))) {
            printf("app: call %d waited at the front of the layer during the checkpoint, then"
                   " went on\n", i);
            fflush(stdout);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct crs_config cfg = {.dir = "crsnap-images"};
    struct crs_result res;
    pthread_t app;
    int r;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--exit-after-checkpoint"))
            layer.exit_after_checkpoint = 1;
        else if (argv[i][0] != '-')
            cfg.dir = argv[i];
        else {
            fprintf(stderr, "usage: comm_layer [DIR] [--exit-after-checkpoint]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    r = crs_init(&cfg);
    if (r < 0 && r != -EALREADY) {
        fprintf(stderr, "comm_layer: crs_init: %s\n", strerror(-r));
        return 1;
    }
    r = crs_register(layer_handler, &layer, CRS_ASYNC);
    if (r < 0) {
        fprintf(stderr, "comm_layer: crs_register: %s\n", strerror(-r));
        return 1;
    }
    printf("comm_layer: %d calls, checkpoint after %d\n", CALLS, CHECKPOINT_AT);

    r = pthread_create(&app, NULL, application, NULL);
    if (r) {
        fprintf(stderr, "comm_layer: pthread_create: %s\n", strerror(r));
        return 1;
    }
    pthread_mutex_lock(&layer.lock);
    while (layer.calls_done < CHECKPOINT_AT)
        pthread_cond_wait(&layer.changed, &layer.lock);
    pthread_mutex_unlock(&layer.lock);

    if (layer.exit_after_checkpoint)
        printf("main: this process stops right after its checkpoint, as if the machine went"
               " down; 'crsnap restore' goes on from there\n");
    r = crs_checkpoint(NULL);
    /* Nothing is written between the snapshot and the exit below, so the output file is
     * exactly as the image recorded it when a restore reopens it. */
    if (r == CRS_CONTINUE && layer.exit_after_checkpoint)
        _exit(0);
    if (r < 0) {
        fprintf(stderr, "comm_layer: checkpoint failed: %s\n", strerror(-r));
        return 1;
    }
    if (r == CRS_CONTINUE && crs_last_checkpoint(&res) == 0)
        printf("main: checkpoint returned CONTINUE; image %s\n", res.path);
    else
        printf("main: checkpoint returned %s (restart %d)\n", phase_name((crs_phase)r),
               crs_restart_count());

    pthread_join(app, NULL);
    printf("app: its CRS_SYNC handler saw");
    for (int p = CRS_PREPARE; p <= CRS_ABORT; p++)
        if (app_phases & (1 << p))
            printf(" %s", phase_name((crs_phase)p));
    printf("\n");
    printf("result: %d calls, state %016llx\n", layer.calls_done,
           (unsigned long long)layer.state);
    return 0;
}
