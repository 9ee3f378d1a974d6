/* runtime/quiesce.c - stopping every application thread at a known point. The coordinator
 * signals each thread (tgkill, the quiesce signal) until /proc/self/task is stable; in the
 * handler each thread records itself, runs its sync prepares, saves its context, reports ready
 * and parks on a futex until the coordinator releases it with an outcome.
 *
 * quiesce_handler() and crs_record_self() run in a signal handler: raw system calls, atomics
 * and the frozen registry only; no malloc, no stdio, no locks. In a restored process a thread
 * comes back out of crs_arch_save_context() with 1, parks the same way and is released with
 * CRS_RESTART: everything it needs after the save is in crs_state or on its own stack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime.h"
#include "common/proc_util.h"

#define WAIT_TICK_NS 5000000L       /* how often a quiesce wait looks at threads that are late */
#define STRAGGLER_NS 5000000ull     /* a thread not parked by then may have exited */


/* Runs in the quiesce handler and in the coordinator. */
void crs_record_self(struct crs_img_thread *rec, uint64_t sigmask, uint32_t flags)
{
    uint64_t tp = crs_arch_thread_pointer();
    uint64_t head = 0, len = 0;
    stack_t ss;

    memset(rec, 0, sizeof *rec);
    rec->tid = crs_gettid();
    rec->flags = flags;
    rec->fs_base = tp;
    rec->tid_addr = crs_state.tid_offset ? tp + (uint64_t)crs_state.tid_offset : 0;
    if (crs_sys3(SYS_get_robust_list, 0, (long)&head, (long)&len) == 0) {
        rec->robust_head = head;
        rec->robust_len = len;
    }
    if (crs_state.rseq_size) {
        uint64_t area = tp + (uint64_t)crs_state.rseq_offset;
        int32_t cpu_id = *(volatile int32_t *)(uintptr_t)(area + 4);
        if (cpu_id >= 0) {              /* -1 never registered, -2 registration failed */
            rec->rseq_addr = area;
            rec->rseq_len = crs_state.rseq_size;
            rec->rseq_sig = crs_state.rseq_sig;
        }
    }
    if (crs_sys2(SYS_sigaltstack, 0, (long)&ss) == 0) {
        rec->ss_sp = (uint64_t)(uintptr_t)ss.ss_sp;
        rec->ss_size = ss.ss_size;
        rec->ss_flags = ss.ss_flags;
    }
    crs_sys2(SYS_prctl, PR_GET_NAME, (long)rec->name);
    rec->name[15] = 0;
    rec->sigmask = sigmask;
}

static int parked_released(void)
{
    return atomic_load(&crs_state.release_gen) == (int)atomic_load(&crs_state.quiesce_gen);
}

/* Signal handler: see the top of the file. */
static void quiesce_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    int saved_errno = errno;
    int tid = crs_gettid();
    unsigned gen;
    int n, i, v;
    struct crs_slot *slot = NULL;
    struct crs_img_thread *rec;
    uint64_t mask, parked_ns, since_ns, end_ns;
    struct crs_blocked_call call;
    struct crs_thread_attrs attrs;
    int expect = 0, restored;

    (void)sig;
    (void)si;
    if (!atomic_load(&crs_state.quiescing))
        return;                         /* a late signal from a checkpoint that is over */
    gen = atomic_load(&crs_state.quiesce_gen);
    n = __atomic_load_n(&crs_state.cur.nslots, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        if (atomic_load(&crs_state.slots[i].tid) == tid &&
            atomic_load(&crs_state.slots[i].gen) == gen) {
            slot = &crs_state.slots[i];
            break;
        }
    if (!slot || !atomic_compare_exchange_strong(&slot->claimed, &expect, 1))
        return;

    rec = &crs_state.threads[i];
    memcpy(&mask, &uc->uc_sigmask, sizeof mask);
    crs_record_self(rec, mask, tid == crs_state.pid ? CRS_THREAD_F_MAIN : 0);
    v = crs_registry_prepare(&crs_state.frozen, CRS_SYNC, rec->fs_base);
    if (v) {
        slot->veto = 1;
        slot->veto_id = crs_state.frozen.h[v - 1].id;
    }

    /* The call this thread was blocked in, kept on its own stack: the slot is the next
     * checkpoint's once the thread has left, and a restored thread finds its stack as it was. */
    call = slot->call;
    crs_thread_attrs_read(&attrs);
    parked_ns = crs_now_ns(CLOCK_MONOTONIC);

    /* Returns 1 when a restored process resumes this thread here: it parks again and waits
     * for the coordinator's release exactly as the original did. The restart entry made the
     * thread with a mask of its own: block everything again, as the handler had it, until
     * sigreturn restores the saved mask from the frame. */
    restored = crs_arch_save_context(&rec->ctx);
    if (restored) {
        uint64_t all = ~0ull;
        crs_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all);
        if (crs_thread_attrs_apply(&attrs) < 0)
            atomic_fetch_add(&crs_state.attrs_failed, 1);
    }

    atomic_store(&slot->ready, 1);
    atomic_fetch_add(&crs_state.ready_count, 1);
    crs_futex_wake(&crs_state.ready_count);
    while (!parked_released()) {
        int g = atomic_load(&crs_state.release_gen);
        if (parked_released())
            break;
        crs_futex_wait(&crs_state.release_gen, g, NULL);
    }

    crs_registry_resume(&crs_state.frozen, CRS_SYNC, crs_arch_thread_pointer(),
                        (crs_phase)atomic_load(&crs_state.release_phase));
    /* A call the stop interrupted is entered again, with its relative timeout less the time
     * it had waited: up to now, or, restored, up to the checkpoint. */
    since_ns = call.since_ns ? call.since_ns : parked_ns;
    end_ns = restored ? parked_ns : crs_now_ns(CLOCK_MONOTONIC);
    crs_call_rewind(uc, &call, end_ns > since_ns ? end_ns - since_ns : 0, mask,
                    crs_state.quiesce_signal);

    atomic_fetch_add(&crs_state.left_count, 1);
    crs_futex_wake(&crs_state.left_count);
    errno = saved_errno;
}

int crs_quiesce_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = quiesce_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    crs_state.quiesce_signal = SIGRTMAX - 2;
    if (sigaction(crs_state.quiesce_signal, &sa, NULL) < 0)
        return -errno;
    return 0;
}

static int slot_of(int tid, int n)
{
    for (int i = 0; i < n; i++)
        if (atomic_load(&crs_state.slots[i].tid) == tid)
            return i;
    return -1;
}

/* Signals every thread of /proc/self/task that has no slot yet. Returns how many were new, or
 * -errno. No malloc: getdents64 into the state's buffer. */
static int signal_new_threads(int self, char *err, size_t errlen)
{
    int fd = (int)crs_sys3(SYS_open, (long)"/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    int added = 0;
    struct crs_dirwalk w;
    const char *name;

    if (fd < 0) {
        snprintf(err, errlen, "cannot list /proc/self/task (errno %d)", (int)-fd);
        return fd;
    }
    crs_dirwalk_init(&w, fd, crs_state.dirent_buf, sizeof crs_state.dirent_buf);
    while (crs_dirwalk_next(&w, &name) > 0) {
        int tid = crs_dirent_num(name), n = crs_state.cur.nslots;
        if (tid <= 0 || tid == self || slot_of(tid, n) >= 0)
            continue;
        if (n >= CRS_MAX_THREADS - 1) {
            crs_sys1(SYS_close, fd);
            snprintf(err, errlen, "more than %d threads", CRS_MAX_THREADS - 1);
            return -E2BIG;
        }
        struct crs_slot *s = &crs_state.slots[n];
        atomic_store(&s->tid, tid);
        atomic_store(&s->gen, atomic_load(&crs_state.quiesce_gen));
        atomic_store(&s->claimed, 0);
        atomic_store(&s->ready, 0);
        s->veto = 0;
        s->veto_id = 0;
        crs_call_peek(tid, &s->call, &crs_state.cur.sched_clock_offset);   /* last, so the call cannot end in between */
        s->signalled_ns = crs_now_ns(CLOCK_MONOTONIC);
        __atomic_store_n(&crs_state.cur.nslots, n + 1, __ATOMIC_RELEASE);
        if (crs_sys3(SYS_tgkill, crs_state.pid, tid, crs_state.quiesce_signal) < 0)
            atomic_store(&s->ready, -1); /* gone already */
        added++;
    }
    crs_sys1(SYS_close, fd);
    return added;
}

/* A thread that has exited, or a zombie group leader (pthread_exit from main), never parks. */
static int thread_gone(int tid)
{
    char path[64], buf[256];
    long fd, n;
    const char *p;

    if (crs_sys3(SYS_tgkill, crs_state.pid, tid, 0) == -ESRCH)
        return 1;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    fd = crs_sys3(SYS_open, (long)path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd == -ENOENT;           /* out of descriptors, say: assume it is there */
    n = crs_sys3(SYS_read, fd, (long)buf, sizeof buf - 1);
    crs_sys1(SYS_close, fd);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Waits until every slot is parked or gone. */
static int wait_ready(char *err, size_t errlen)
{
    uint64_t limit = (uint64_t)crs_state.cfg.quiesce_timeout_ms * 1000000ull;

    for (;;) {
        int n = crs_state.cur.nslots, waiting = 0;
        int seen = atomic_load(&crs_state.ready_count);
        uint64_t now = crs_now_ns(CLOCK_MONOTONIC);

        for (int i = 0; i < n; i++) {
            struct crs_slot *s = &crs_state.slots[i];
            if (atomic_load(&s->ready))
                continue;
            /* A thread that exits between the signal and its handler never parks (an exiting
             * thread also blocks every signal first): look for stragglers that are gone. */
            if (now - s->signalled_ns >= STRAGGLER_NS && thread_gone(atomic_load(&s->tid))) {
                atomic_store(&s->ready, -1);
                continue;
            }
            if (now - s->signalled_ns < limit) {
                waiting++;
                continue;
            }
            if (atomic_load(&s->claimed) == 1)
                snprintf(err, errlen, "thread %d did not finish its sync prepare within %u ms",
                         atomic_load(&s->tid), crs_state.cfg.quiesce_timeout_ms);
            else
                snprintf(err, errlen,
                         "thread %d did not stop within %u ms (quiesce signal blocked?)",
                         atomic_load(&s->tid), crs_state.cfg.quiesce_timeout_ms);
            return -ETIMEDOUT;
        }
        if (!waiting)
            return 0;
        struct timespec tick = { 0, WAIT_TICK_NS };
        crs_futex_wait(&crs_state.ready_count, seen, &tick);
    }
}

/* The program may have taken the quiesce signal over (a handler of its own, SIG_IGN...):
 * then no thread would ever park, so say it at once instead of timing out. */
static int handler_in_place(char *err, size_t errlen)
{
    struct sigaction sa;

    if (sigaction(crs_state.quiesce_signal, NULL, &sa) < 0)
        return -errno;
    if ((sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == quiesce_handler)
        return 0;
    snprintf(err, errlen, "the quiesce signal %d has been taken over by the program",
             crs_state.quiesce_signal);
    return -EBUSY;
}

int crs_quiesce_all(char *err, size_t errlen)
{
    int self = crs_gettid(), r;

    atomic_store(&crs_state.ready_count, 0);
    atomic_store(&crs_state.left_count, 0);
    atomic_store(&crs_state.release_phase, CRS_ABORT);
    crs_state.cur.nslots = 0;
    crs_state.cur.nclaimed = 0;
    crs_state.cur.sched_clock_offset = 0;
    if ((r = handler_in_place(err, errlen)) < 0)
        return r;
    atomic_fetch_add(&crs_state.quiesce_gen, 1);
    atomic_store(&crs_state.quiescing, 1);

    /* Parked threads create no threads, so once a listing finds nobody new the set is whole. */
    do {
        r = signal_new_threads(self, err, errlen);
        if (r < 0)
            return r;
        int w = wait_ready(err, errlen);
        if (w < 0)
            return w;
    } while (r > 0);

    for (int i = 0; i < crs_state.cur.nslots; i++)
        if (atomic_load(&crs_state.slots[i].ready) > 0 && crs_state.slots[i].veto) {
            snprintf(err, errlen, "vetoed by sync handler %d of thread %d",
                     crs_state.slots[i].veto_id, atomic_load(&crs_state.slots[i].tid));
            return -ECANCELED;
        }
    return 0;
}

/* Lets every parked thread go with phase. Slots nobody claimed are closed first, so a late
 * signal cannot start a handler that the coordinator would not wait for. */
void crs_quiesce_release(int phase)
{
    int claimed = 0;

    for (int i = 0; i < crs_state.cur.nslots; i++) {
        int zero = 0;
        atomic_compare_exchange_strong(&crs_state.slots[i].claimed, &zero, 2);
        if (atomic_load(&crs_state.slots[i].claimed) == 1)
            claimed++;
    }
    crs_state.cur.nclaimed = claimed;
    atomic_store(&crs_state.release_phase, phase);
    atomic_store(&crs_state.quiescing, 0);
    atomic_store(&crs_state.release_gen, (int)atomic_load(&crs_state.quiesce_gen));
    crs_futex_wake(&crs_state.release_gen);
}

/* Waits until every released thread has run its resumes and left the handler. */
void crs_quiesce_wait_left(void)
{
    int left;

    while ((left = atomic_load(&crs_state.left_count)) < crs_state.cur.nclaimed)
        crs_futex_wait(&crs_state.left_count, left, NULL);
}
