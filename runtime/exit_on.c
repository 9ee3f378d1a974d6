/* runtime/exit_on.c - "checkpoint, then end the program" on the signals CRSNAP_EXIT_ON names
 * (`crsnap run --exit-on`): what a batch job needs when the scheduler warns it (Slurm's
 * --signal, SIGTERM at preemption or the time limit). The handler only records the signal and
 * wakes the coordinator; the coordinator takes the checkpoint in kill mode (threads stay
 * stopped, as for `crsnap checkpoint --kill`) and the process ends once the image is durable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_on.h"
#include "runtime.h"

/* Signals 1..MAX_SIG, the kernel's, each with its bit N-1 in crs_state.exit_on_mask. */
#define MAX_SIG (_NSIG - 1)
_Static_assert(MAX_SIG <= (int)sizeof crs_state.exit_on_mask * 8,
               "the exit-on mask has a bit for every signal");

static const char *sig_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else
        snprintf(buf, size, "signal %d", sig);
    return buf;
}

/* Signal handler: async-signal-safe. The first signal wins; later ones join it. A process the
 * program forked inherits the handler: there the signal does what it would have done without
 * crsnap (Slurm's SIGTERM must still end the program's helpers), from the fork on, including
 * while its runtime starts again as a job's member (its pid is its own by then, and its own
 * default handler is not in place yet). */
static void exit_on_handler(int sig)
{
    int none = 0;

    if (crs_sys0(SYS_getpid) != crs_state.pid || crs_state.tree.role == CRS_TREE_MEMBER) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        crs_sys2(SYS_kill, crs_sys0(SYS_getpid), sig);  /* delivered when the handler returns */
        return;
    }
    atomic_compare_exchange_strong(&crs_state.exit_on_sig, &none, sig);
    crs_wake_coordinator();
}

/* "10,15", "USR1,TERM", "SIGUSR1": each must be a signal that can trigger a checkpoint and
 * not the trigger signal itself (that one takes a checkpoint and goes on). */
static int parse_list(const char *list, uint64_t *mask, char *err, size_t errlen)
{
    char buf[256], *save = NULL, *tok;

    *mask = 0;
    if (strlen(list) >= sizeof buf) {
        snprintf(err, errlen, "invalid " CRS_EXIT_ON_ENV " \"%.32s...\": too long", list);
        return -EINVAL;
    }
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int sig;
        if (crs_parse_signal(tok, &sig) < 0 || sig == 0 || sig > MAX_SIG) {
            snprintf(err, errlen, "invalid " CRS_EXIT_ON_ENV " \"%s\": \"%s\" is not a signal"
                     " that can end the program with a checkpoint", list, tok);
            return -EINVAL;
        }
        if (sig == crs_state.cfg.signal) {
            snprintf(err, errlen, "invalid " CRS_EXIT_ON_ENV " \"%s\": signal %d is also the"
                     " checkpoint trigger (CRSNAP_SIGNAL)", list, sig);
            return -EINVAL;
        }
        *mask |= 1ull << (sig - 1);
    }
    if (!*mask) {
        snprintf(err, errlen, "invalid " CRS_EXIT_ON_ENV " \"%s\": no signal", list);
        return -EINVAL;
    }
    return 0;
}

int crs_exit_on_install(void)
{
    const char *list = getenv(CRS_EXIT_ON_ENV);
    char err[384];
    struct sigaction sa;
    int r;

    /* A member of a job ends on these signals as its program would: the root alone
     * checkpoints the job and ends. A forked member inherited the root's handler: undone. */
    if (crs_state.tree.role == CRS_TREE_MEMBER) {
        for (int sig = 1; sig <= MAX_SIG; sig++) {
            struct sigaction cur;
            if ((crs_state.exit_on_mask & (1ull << (sig - 1))) && sigaction(sig, NULL, &cur) == 0 &&
                cur.sa_handler == exit_on_handler)
                signal(sig, SIG_DFL);
        }
        crs_state.exit_on_mask = 0;
        atomic_store(&crs_state.exit_on_sig, 0);
        return 0;
    }
    crs_state.exit_on_mask = 0;
    atomic_store(&crs_state.exit_on_sig, 0);
    if (!list || !*list)
        return 0;
    if ((r = parse_list(list, &crs_state.exit_on_mask, err, sizeof err)) < 0) {
        crs_log(CRS_LOG_ERROR, "%s", err);
        return r;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = exit_on_handler;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig <= MAX_SIG; sig++) {
        if (!(crs_state.exit_on_mask & (1ull << (sig - 1))))
            continue;
        if (sigaction(sig, &sa, NULL) < 0) {
            r = -errno;
            crs_log(CRS_LOG_ERROR, "cannot catch signal %d for " CRS_EXIT_ON_ENV ": %s", sig,
                    strerror(-r));
            return r;
        }
    }
    return 0;
}

int crs_exit_on_pending(void)
{
    return atomic_load(&crs_state.exit_on_sig) != 0;
}

/* Coordinator. Cleared before the snapshot: a process restored from this image must not see
 * the signal again. */
void crs_exit_on_serve(void)
{
    struct crs_current *c = &crs_state.cur;
    struct crs_result res;
    int sig = atomic_exchange(&crs_state.exit_on_sig, 0);
    char name[32];

    if (!sig)
        return;
    sig_name(sig, name, sizeof name);
    crs_log(CRS_LOG_ERROR, "%s: taking a checkpoint, then ending the program", name);
    c->kill_sig = sig;
    crs_checkpoint_run(-1);
    /* Back here either after a failure, or in a process restored from this very image (its
     * restart cleared kill_sig): that one carries on. */
    if (!c->kill_sig)
        return;
    c->kill_sig = 0;
    memset(&res, 0, sizeof res);
    crs_last_checkpoint(&res);
    crs_log(CRS_LOG_ERROR, "%s: the checkpoint FAILED (%s); ending the program with status %d"
            " and no new image", name, res.error ? res.message : "unknown error",
            CRS_EXIT_CHECKPOINT_FAILED);
    crs_control_unlink();
    crs_sys1(SYS_exit_group, CRS_EXIT_CHECKPOINT_FAILED);
}

/* Coordinator, kill mode, the image is durable: say so in the job's log and end. */
void crs_exit_on_done(const struct crs_result *res)
{
    char name[32];

    crs_log(CRS_LOG_ERROR, "%s: checkpoint %s written; ending the program with status %d",
            sig_name(crs_state.cur.kill_sig, name, sizeof name), res->path,
            CRS_EXIT_CHECKPOINTED);
    crs_control_unlink();
    crs_sys1(SYS_exit_group, CRS_EXIT_CHECKPOINTED);
    __builtin_unreachable();
}
