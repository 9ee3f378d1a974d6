/* crsnap.h - the public API of crsnap, transparent checkpoint/restart for Linux processes.
 *
 * A program (or a library inside it) links libcrsnap, or runs under `crsnap run` which preloads
 * it. Code that holds state outside the process's memory registers handlers that run on both
 * sides of every checkpoint. Every function here is thread-safe unless it says otherwise.
 */
#ifndef CRSNAP_H
#define CRSNAP_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRSNAP_VERSION_MAJOR 0
#define CRSNAP_VERSION_MINOR 1

/* The phase a handler is called for.
 *   CRS_PREPARE  - a checkpoint is about to be taken; return 0 when ready, non-zero to veto it.
 *   CRS_CONTINUE - the snapshot was taken and this is the original process carrying on.
 *   CRS_RESTART  - this is a process restored from an image.
 *   CRS_ABORT    - the checkpoint failed or was vetoed; nothing was taken.
 * Every handler whose PREPARE ran is called exactly once more, with one of the other three. */
typedef enum { CRS_PREPARE = 0, CRS_CONTINUE = 1, CRS_RESTART = 2, CRS_ABORT = 3 } crs_phase;

typedef int (*crs_handler_fn)(crs_phase phase, void *arg);

/* Handler kinds, for crs_register().
 *   CRS_ASYNC - runs in crsnap's coordinator thread while the application threads still run;
 *               may block (wait for in-flight work to drain). Process-wide.
 *   CRS_SYNC  - runs in the thread that registered it, inside a signal handler, once that
 *               thread is stopped. Must be async-signal-safe. Per-thread. */
#define CRS_ASYNC 0x1u
#define CRS_SYNC 0x2u

/* Configuration. Zeroed fields take their defaults (and then the environment, for crs_init(NULL)). */
struct crs_config {
    const char *dir;          /* image directory; default $CRSNAP_DIR or "./crsnap-images" */
    double interval;          /* seconds between periodic checkpoints; 0 = none ($CRSNAP_INTERVAL) */
    int keep;                 /* newest images kept in dir; 0 = default 3, negative = all
                                 ($CRSNAP_KEEP, where 0 = all) */
    int signal;               /* trigger signal; 0 = none unless $CRSNAP_SIGNAL; -1 = none at all */
    int level;                /* zstd level; 0 = default -1 ($CRSNAP_LEVEL); negative = fast levels */
    int control_socket;       /* 1 = listen for `crsnap checkpoint PID` (default), -1 = no */
    int log_level;            /* 0 = errors only, 1 = info, 2 = debug ($CRSNAP_LOG) */
    unsigned quiesce_timeout_ms; /* how long stopping every thread, and waiting for critical
                                  * sections to drain, may each take; 0 = 2000 */
    int full_every;           /* every Nth image is full, the others incremental on the one
                                 before; 0 = default 8 ($CRSNAP_FULL_EVERY), 1 = always full */
};

/* The outcome of the last finished checkpoint. */
struct crs_result {
    uint64_t seq;             /* sequence number in the image directory (0 for explicit paths) */
    char path[4096];          /* the image's final path ("" when it failed) */
    uint64_t bytes_written;   /* size of the image file */
    uint64_t memory_covered;  /* bytes of address space the image describes (saved regions) */
    uint64_t memory_saved;    /* bytes of page data actually stored (before compression) */
    uint64_t pause_ns;        /* time the application threads were stopped */
    uint64_t write_ns;        /* time the child took to write and publish the image */
    int error;                /* 0, or a negative errno */
    char message[256];        /* what went wrong, for people ("" on success) */
};

/* Initialise crsnap in this process. cfg == NULL: defaults overridden by the CRSNAP_*
 * environment. Starts the coordinator thread, the timer, the trigger signal handler and the
 * control socket as configured. Returns 0, -EALREADY if already initialised, or -errno.
 * When the library is preloaded (`crsnap run`), this runs by itself from the environment
 * (only in the process CRSNAP_PID names, when that is set). Besides the variables above, the
 * environment may give CRSNAP_QUIESCE_TIMEOUT_MS, CRSNAP_SOCKET_DIR and CRSNAP_FORCE_PWRITE=1
 * (write without io_uring); a bad value is logged and init fails with -EINVAL.
 * CRSNAP_NO_RELEASE=1, read by the snapshot child whenever it runs, makes it keep the memory it
 * has written until it exits instead of giving it back as it goes (which is what keeps the
 * copy-on-write cost of a checkpoint down). */
int crs_init(const struct crs_config *cfg);

/* Register a handler. flags: CRS_ASYNC or CRS_SYNC. A CRS_SYNC handler belongs to the calling
 * thread (and is removed when that thread exits). Returns a handler id (>= 0) or -errno
 * (-EDEADLK from inside a handler). Prepare runs in registration order, the resume phases in
 * reverse. */
int crs_register(crs_handler_fn fn, void *arg, unsigned flags);

/* Remove a handler by id. Blocks while a checkpoint is in progress. Returns 0 or -ENOENT. */
int crs_unregister(int id);

/* Bracket code that must not be split by a checkpoint. A checkpoint waits until no thread is
 * inside one; a thread entering one while a checkpoint is pending blocks until it is over.
 * They nest. */
void crs_enter_cs(void);
void crs_leave_cs(void);

/* Take a checkpoint now and wait for it to be durable. path == NULL: a new image in the
 * configured directory; otherwise exactly that file. Returns CRS_CONTINUE in the running
 * process, CRS_RESTART when it returns in a process restored from this image, or -errno
 * (-EDEADLK if called inside a critical section or from a handler, -ECANCELED if vetoed,
 * -ETIMEDOUT if a thread could not be stopped, -ENOTCONN if crs_init() has not succeeded or in
 * a fork()ed copy of the process; -ENOTDIR, -ENOTSUP or -EROFS if the image directory, or
 * path's, is a symbolic link, belongs to another user or is writable by others, or is
 * read-only; other errors are the image writer's; crs_last_checkpoint has the message).
 * Requests made before the snapshot is taken are served by it; later ones by the next one. */
int crs_checkpoint(const char *path);

/* Ask for a checkpoint and return at once. Requests made while one runs are coalesced into it.
 * Returns 0 or -errno (-ENOTCONN as for crs_checkpoint). */
int crs_request_checkpoint(void);

/* Copy the result of the last finished checkpoint. Returns 0, or -ENOENT if none finished yet. */
int crs_last_checkpoint(struct crs_result *out);

/* After a restart: the descriptors that were open at the checkpoint but could not be restored
 * (sockets, devices that cannot be reopened...). Fills up to max numbers into fds and returns
 * how many there are in all (may exceed max); 0 in a process that was not restored. */
int crs_unrestored_fds(int *fds, int max);

/* How many times this process image has been restored (0 in the original process). */
int crs_restart_count(void);

#ifdef __cplusplus
}
#endif
#endif /* CRSNAP_H */
