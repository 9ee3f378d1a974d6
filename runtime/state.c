/* runtime/state.c - the runtime's one state struct and its per-thread part (see state.h).
 * Zero-initialised; crs_init() sets what is not zero. */
#define _GNU_SOURCE
#include "state.h"

struct crs_state crs_state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .fd_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP,
};

__thread struct crs_tls crs_tls __attribute__((tls_model("initial-exec")));
