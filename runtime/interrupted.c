/* runtime/interrupted.c - a checkpoint must not look like an early wake-up. The kernel does not
 * restart sleeps, poll, select, epoll or timed waits after a signal handler ran: they return
 * -EINTR. Before it signals a thread the coordinator reads the call the thread is blocked in
 * (/proc/self/task/TID/syscall: number, arguments, stack pointer, pc); once the thread is
 * released, its stop handler finds that very call returned -EINTR in the context it goes back
 * to, and rewinds that context over the syscall instruction, so that sigreturn enters the call
 * again. A relative timeout goes on with what is left of it; no system call is wrapped.
 *
 * crs_call_peek() runs in the coordinator while threads are stopping, crs_call_rewind() in the
 * quiesce handler: raw system calls, fixed buffers and atomics only; no malloc, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "runtime.h"
#include "common/proc_util.h"

/* io_uring_enter flags (linux/io_uring.h; the newer ones may be missing from older headers). */
#define RING_GETEVENTS (1u << 0)
#define RING_EXT_ARG (1u << 3)
#define RING_ABS_TIMER (1u << 5)
#define RING_EXT_ARG_REG (1u << 6)

/* How a call is entered again. */
enum how {
    AGAIN,          /* as it was: no timeout, an absolute one, or one the kernel updated in place
                     * (select, pselect6, ppoll write the time left back) */
    MS_LEFT,        /* an int timeout in milliseconds (poll, epoll_wait): the time left */
    TS_LEFT,        /* a relative timespec the kernel leaves as it was: a copy with the time
                     * left, in the thread's room */
    SLEEP,          /* nanosleep, clock_nanosleep: the remainder the kernel wrote, or TS_LEFT */
    FUTEX,          /* FUTEX_WAIT (relative: TS_LEFT) and FUTEX_WAIT_BITSET (absolute) only */
    RING,           /* io_uring_enter: a relative timeout sits in its getevents argument */
};

/* The calls a stop may interrupt with -EINTR and that are safe to enter again, by design: a
 * -EINTR return means they did nothing (no byte moved, no operation applied). connect() is
 * not among them: entered again it says EALREADY. arg: which argument is the timeout. */
static const struct { long nr; unsigned char how, arg; } calls[] = {
#ifdef SYS_pause
    { SYS_pause, AGAIN, 0 },
#endif
    { SYS_rt_sigsuspend, AGAIN, 0 },
    { SYS_rt_sigtimedwait, TS_LEFT, 2 },
#ifdef SYS_poll
    { SYS_poll, MS_LEFT, 2 },
#endif
    { SYS_ppoll, AGAIN, 0 },
#ifdef SYS_select
    { SYS_select, AGAIN, 0 },
#endif
    { SYS_pselect6, AGAIN, 0 },
#ifdef SYS_epoll_wait
    { SYS_epoll_wait, MS_LEFT, 3 },
#endif
    { SYS_epoll_pwait, MS_LEFT, 3 },
#ifdef SYS_epoll_pwait2
    { SYS_epoll_pwait2, TS_LEFT, 3 },
#endif
#ifdef SYS_nanosleep
    { SYS_nanosleep, SLEEP, 0 },
#endif
    { SYS_clock_nanosleep, SLEEP, 2 },
    { SYS_futex, FUTEX, 3 },
#ifdef SYS_futex_waitv
    { SYS_futex_waitv, AGAIN, 0 },
#endif
#ifdef SYS_io_uring_enter
    { SYS_io_uring_enter, RING, 4 },
#endif
    { SYS_io_getevents, TS_LEFT, 4 },
#ifdef SYS_semop
    { SYS_semop, AGAIN, 0 },
#endif
    { SYS_semtimedop, TS_LEFT, 3 },
    { SYS_msgrcv, AGAIN, 0 },
    { SYS_msgsnd, AGAIN, 0 },
    { SYS_mq_timedreceive, AGAIN, 0 },
    { SYS_mq_timedsend, AGAIN, 0 },
    /* Sockets with SO_RCVTIMEO / SO_SNDTIMEO and some devices say -EINTR, not ERESTARTSYS. */
    { SYS_read, AGAIN, 0 },
    { SYS_write, AGAIN, 0 },
    { SYS_readv, AGAIN, 0 },
    { SYS_writev, AGAIN, 0 },
    { SYS_recvfrom, AGAIN, 0 },
    { SYS_recvmsg, AGAIN, 0 },
    { SYS_recvmmsg, AGAIN, 0 },
    { SYS_sendto, AGAIN, 0 },
    { SYS_sendmsg, AGAIN, 0 },
#ifdef SYS_accept
    { SYS_accept, AGAIN, 0 },
#endif
    { SYS_accept4, AGAIN, 0 },
    { SYS_wait4, AGAIN, 0 },
    { SYS_waitid, AGAIN, 0 },
};

static int how_of(long nr, unsigned *arg)
{
    for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (calls[i].nr == nr) {
            *arg = calls[i].arg;
            return calls[i].how;
        }
    return -1;
}

/* se.exec_start of /proc/self/task/TID/sched (or of the calling thread for tid 0), in ns of the
 * scheduler's clock; 0 when it cannot be read. */
static uint64_t exec_start(int tid)
{
    char path[64], buf[2048];
    const char *p;
    uint64_t ms, frac;
    long n;

    if (tid)
        snprintf(path, sizeof path, "/proc/self/task/%d/sched", tid);
    else
        snprintf(path, sizeof path, "/proc/thread-self/sched");
    n = crs_read_file(path, buf, sizeof buf);
    if (n <= 0 || !(p = crs_find_field(buf, (size_t)n, "se.exec_start")))
        return 0;
    while (*p == ' ' || *p == ':')
        p++;
    if (crs_parse_dec(&p, &ms) < 0 || *p++ != '.' || crs_parse_dec(&p, &frac) < 0)
        return 0;
    return ms * 1000000ull + frac;      /* "%Ld.%06ld" milliseconds */
}

/* When a blocked thread last stopped running: the start of its wait, unless something woke it
 * without ending the call (then the wait counts from there, and lasts a little longer). The
 * scheduler's clock is not CLOCK_MONOTONIC: *offset, the difference between the two, is read
 * once per checkpoint from the coordinator's own exec_start (0: not yet). 0 when unknown. */
static uint64_t blocked_since(int tid, int64_t *offset)
{
    uint64_t then = exec_start(tid);

    if (!*offset) {
        uint64_t mine = exec_start(0);
        if (!mine)
            return 0;
        *offset = (int64_t)(crs_now_ns(CLOCK_MONOTONIC) - mine);
    }
    if (!then || (int64_t)then + *offset <= 0)
        return 0;
    return (uint64_t)((int64_t)then + *offset);
}

/* Does entering nr again with these arguments use a relative timeout that needs the time
 * waited? -1: the call is not one to enter again. */
static int needs_time(long nr, const uint64_t *a)
{
    unsigned arg;

    switch (how_of(nr, &arg)) {
    case AGAIN:
        return 0;
    case MS_LEFT:
        return (int)a[arg] >= 0;
    case TS_LEFT:
        return a[arg] != 0;
    case SLEEP:
        if (arg == 2)                   /* clock_nanosleep(clock, flags, req, rem) */
            return !(a[1] & TIMER_ABSTIME) && !a[3];
        return !a[1];                   /* nanosleep(req, rem) */
    case FUTEX:
        switch (a[1] & FUTEX_CMD_MASK) {
        case FUTEX_WAIT:
            return a[3] != 0;
        case FUTEX_WAIT_BITSET:
            return 0;
        default:
            return -1;
        }
    case RING:
        return (a[3] & RING_GETEVENTS) && (a[3] & RING_EXT_ARG) &&
               !(a[3] & (RING_ABS_TIMER | RING_EXT_ARG_REG));
    default:
        return -1;
    }
}

void crs_call_peek(int tid, struct crs_blocked_call *c, int64_t *clock_offset)
{
    char path[64], buf[256];
    const char *p = buf;
    uint64_t nr, v[8];
    int t;

    c->valid = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    if (crs_read_file(path, buf, sizeof buf) <= 0 || crs_parse_dec(&p, &nr) < 0)
        return;                         /* "running", or "-1 ..." outside a call */
    for (int i = 0; i < 8; i++) {
        crs_skip_space(&p);
        if (p[0] == '0' && p[1] == 'x')
            p += 2;
        if (crs_parse_hex(&p, &v[i]) < 0)
            return;
    }
    if ((t = needs_time((long)nr, v)) < 0)
        return;
    c->nr = (long)nr;
    memcpy(c->arg, v, sizeof c->arg);
    c->sp = v[6];
    c->pc = v[7];
    c->since_ns = t ? blocked_since(tid, clock_offset) : 0;
    c->valid = 1;
}

/* The calling thread's room; NULL when every room is taken by live threads. A room whose
 * thread is gone (ESRCH) is taken over. */
static struct crs_call_room *my_room(int tid)
{
    struct crs_call_room *r = crs_state.call_rooms;

    for (int i = 0; i < CRS_MAX_THREADS; i++)
        if (atomic_load(&r[i].tid) == tid)
            return &r[i];
    for (int i = 0; i < CRS_MAX_THREADS; i++) {
        int was = atomic_load(&r[i].tid);
        if (was && crs_sys3(SYS_tgkill, crs_state.pid, was, 0) != -ESRCH)
            continue;
        if (atomic_compare_exchange_strong(&r[i].tid, &was, tid))
            return &r[i];
    }
    return NULL;
}

/* ts less the time waited, never below zero. */
static struct timespec time_left(const struct timespec *ts, uint64_t waited_ns)
{
    struct timespec left = { 0, 0 };
    uint64_t asked;

    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
        return *ts;                     /* the kernel says EINVAL about it: let it */
    asked = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
    if (asked > waited_ns) {
        left.tv_sec = (time_t)((asked - waited_ns) / 1000000000ull);
        left.tv_nsec = (long)((asked - waited_ns) % 1000000000ull);
    }
    return left;
}

/* Points argument i at a copy of the timespec it points to, less the time waited. When no room
 * is left the call waits its whole timeout again: longer, never an early EINTR. */
static void give_time_left(void *uc, int i, uint64_t waited_ns, struct crs_call_room *room)
{
    uint64_t *a = crs_arch_uc_arg(uc, i);

    if (!*a || !room)
        return;
    room->ts = time_left((const struct timespec *)(uintptr_t)*a, waited_ns);
    *a = (uint64_t)(uintptr_t)&room->ts;
}

/* A signal of the program's own that arrived while the thread was stopped, and that it will
 * take when the handler returns: then the call would have ended with EINTR anyway, and does.
 * Signals whose default is to be ignored, or that are ignored, do not interrupt anything. */
static int own_signal_waiting(uint64_t mask, int quiesce_sig)
{
    uint64_t pending = 0;

    if (crs_sys2(SYS_rt_sigpending, (long)&pending, CRS_ARCH_SIGSET_SIZE) < 0)
        return 0;
    pending &= ~mask & ~(1ull << (quiesce_sig - 1));
    for (int sig = 1; sig <= 64; sig++) {
        struct { uint64_t handler, flags, restorer, mask; } ka;
        if (!(pending & (1ull << (sig - 1))))
            continue;
        if (crs_sys4(SYS_rt_sigaction, sig, 0, (long)&ka, CRS_ARCH_SIGSET_SIZE) < 0)
            continue;
        if (ka.handler == (uint64_t)(uintptr_t)SIG_IGN)
            continue;
        if (ka.handler == (uint64_t)(uintptr_t)SIG_DFL &&
            (sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT))
            continue;
        return 1;
    }
    return 0;
}

int crs_call_rewind(void *uc, const struct crs_blocked_call *c, uint64_t waited_ns,
                    uint64_t mask, int quiesce_sig)
{
    struct crs_call_room *room;
    unsigned arg;
    uint64_t *a;
    int timed;

    if (!c->valid || crs_arch_uc_result(uc) != -EINTR || crs_arch_uc_pc(uc) != c->pc ||
        crs_arch_uc_sp(uc) != c->sp)
        return 0;
    for (int i = 0; i < 6; i++)
        if (*crs_arch_uc_arg(uc, i) != c->arg[i])
            return 0;                   /* another call, at the same place */
    if (own_signal_waiting(mask, quiesce_sig))
        return 0;

    timed = needs_time(c->nr, c->arg) > 0;
    room = timed ? my_room(crs_gettid()) : NULL;
    switch (how_of(c->nr, &arg)) {
    case MS_LEFT:
        a = crs_arch_uc_arg(uc, (int)arg);
        if ((int)*a >= 0) {
            uint64_t ms = waited_ns / 1000000ull;
            *a = ms >= (uint64_t)(int)*a ? 0 : (uint64_t)((int)*a - (int)ms);
        }
        break;
    case TS_LEFT:
        give_time_left(uc, (int)arg, waited_ns, room);
        break;
    case SLEEP: {
        int req = arg == 2 ? 2 : 0, rem = req + 1;
        if (arg == 2 && (c->arg[1] & TIMER_ABSTIME))
            break;
        if (c->arg[rem])                /* the kernel wrote the time left there */
            *crs_arch_uc_arg(uc, req) = c->arg[rem];
        else
            give_time_left(uc, req, waited_ns, room);
        break;
    }
    case FUTEX:
        if ((c->arg[1] & FUTEX_CMD_MASK) == FUTEX_WAIT)
            give_time_left(uc, (int)arg, waited_ns, room);
        break;
    case RING:
        /* Through a copy: once entered again, the call's argument is the room itself. */
        if (room && c->arg[5] <= sizeof room->ring_arg) {
            __typeof__(room->ring_arg) ra;
            memset(&ra, 0, sizeof ra);
            memcpy(&ra, (const void *)(uintptr_t)c->arg[4], c->arg[5]);
            if (ra.ts) {
                room->ts = time_left((const struct timespec *)(uintptr_t)ra.ts, waited_ns);
                ra.ts = (uint64_t)(uintptr_t)&room->ts;
                room->ring_arg = ra;
                *crs_arch_uc_arg(uc, 4) = (uint64_t)(uintptr_t)&room->ring_arg;
            }
        }
        break;
    default:
        break;
    }
    return crs_arch_uc_rewind(uc, c->nr) == 0;
}
