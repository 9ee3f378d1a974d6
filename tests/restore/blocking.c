/* blocking.c - one thread in each blocking call a program may make, for the test that a
 * checkpoint (live, or a restore) never shows as an early wake-up. Each timed call asks for
 * WAIT_MS and must end by its timeout, not with EINTR, after about that long of the program's
 * own running time (a restore's dead time, which a watcher thread measures, is not counted).
 * Untimed calls are ended by the program itself at the end; a signal of its own must still
 * interrupt pause(), sigsuspend() and poll() with EINTR.
 *
 * Usage: blocking PROGRESS [--live]: PROGRESS is created once every thread is blocked;
 * --live adds the calls on objects a restore does not bring back (io_uring, SysV semaphores,
 * socket timeouts). Prints "NAME ok" per call, or what went wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 3000
#define MAX_CALLS 40

struct call {
    const char *name;
    int (*fn)(struct call *);
    int timed;                      /* ends by its timeout; else the program ends it */
    int live_only;
    /* what happened */
    long rc;
    int err;
    uint64_t took_ms;
    pthread_t th;
};

static int pipe_idle[2], pipe_wake[2], pipe_read[2], pipe_intr[2];
static int ep_idle, ep_wake;
static _Atomic int blocked, futex_word, futex_untimed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_go;
static sem_t sem;
static int semid = -1, sock[2];
static struct io_uring ring;
static _Atomic int timed_left, watching = 1;
static _Atomic uint64_t lost_ms;    /* time the process did not run (a restore's dead time) */
static volatile sig_atomic_t own_signals;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timespec rel_ts(void) { return (struct timespec){ WAIT_MS / 1000, 0 }; }

static struct timespec abs_ts(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    return ts;
}

#define RET(expr) do { long r_ = (expr); c->rc = r_; c->err = r_ < 0 ? errno : 0; return 0; } while (0)

static int c_sleep(struct call *c) { RET(sleep(WAIT_MS / 1000)); }
static int c_usleep(struct call *c) { RET(usleep(WAIT_MS * 1000)); }
static int c_nanosleep(struct call *c)
{
    struct timespec req = rel_ts(), rem;
    RET(nanosleep(&req, &rem));
}
static int c_clock_rel(struct call *c)
{
    struct timespec req = rel_ts();
    int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
    errno = r;
    RET(r ? -1 : 0);
}
static int c_clock_abs(struct call *c)
{
    struct timespec at = abs_ts(CLOCK_MONOTONIC);
    int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
    errno = r;
    RET(r ? -1 : 0);
}
static int c_poll(struct call *c)
{
    struct pollfd p = { pipe_idle[0], POLLIN, 0 };
    RET(poll(&p, 1, WAIT_MS));
}
static int c_ppoll(struct call *c)
{
    struct pollfd p = { pipe_idle[0], POLLIN, 0 };
    const struct timespec ts = rel_ts();
    RET(ppoll(&p, 1, &ts, NULL));
}
static int c_select(struct call *c)
{
    fd_set r;
    struct timeval tv = { WAIT_MS / 1000, 0 };
    FD_ZERO(&r);
    FD_SET(pipe_idle[0], &r);
    RET(select(pipe_idle[0] + 1, &r, NULL, NULL, &tv));
}
static int c_pselect(struct call *c)
{
    fd_set r;
    const struct timespec ts = rel_ts();
    FD_ZERO(&r);
    FD_SET(pipe_idle[0], &r);
    RET(pselect(pipe_idle[0] + 1, &r, NULL, NULL, &ts, NULL));
}
static int c_epoll_wait(struct call *c)
{
    struct epoll_event ev;
    RET(epoll_wait(ep_idle, &ev, 1, WAIT_MS));
}
static int c_epoll_pwait(struct call *c)
{
    struct epoll_event ev;
    sigset_t none;
    sigemptyset(&none);
    RET(epoll_pwait(ep_idle, &ev, 1, WAIT_MS, &none));
}
static int c_epoll_pwait2(struct call *c)
{
    struct epoll_event ev;
    const struct timespec ts = rel_ts();
    RET(epoll_pwait2(ep_idle, &ev, 1, &ts, NULL));
}
static int c_sigtimedwait(struct call *c)
{
    sigset_t s;
    const struct timespec ts = rel_ts();
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN + 3);
    RET(sigtimedwait(&s, NULL, &ts));
}
static int c_futex_rel(struct call *c)
{
    const struct timespec ts = rel_ts();
    RET(syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0));
}
static int c_sem_timedwait(struct call *c)
{
    struct timespec at = abs_ts(CLOCK_REALTIME);
    RET(sem_timedwait(&sem, &at));
}
static int c_cond_timedwait(struct call *c)
{
    struct timespec at = abs_ts(CLOCK_REALTIME);
    int r = 0;
    pthread_mutex_lock(&mu);
    while (!cv_go && r == 0)
        r = pthread_cond_timedwait(&cv, &mu, &at);
    pthread_mutex_unlock(&mu);
    errno = r;
    RET(r ? -1 : 0);
}
static int c_io_uring(struct call *c)
{
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = { WAIT_MS / 1000, 0 };
    int r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
    errno = -r;
    RET(r < 0 ? -1 : 0);
}
static int c_semtimedop(struct call *c)
{
    struct sembuf op = { 0, -1, 0 };
    const struct timespec ts = rel_ts();
    RET(semtimedop(semid, &op, 1, &ts));
}
static int c_recv_timeo(struct call *c)
{
    char b;
    RET(recv(sock[0], &b, 1, 0));
}

/* Untimed: the program ends them itself. */
static int c_poll_forever(struct call *c)
{
    struct pollfd p = { pipe_wake[0], POLLIN, 0 };
    RET(poll(&p, 1, -1));
}
static int c_epoll_forever(struct call *c)
{
    struct epoll_event ev;
    RET(epoll_wait(ep_wake, &ev, 1, -1));
}
static int c_read_pipe(struct call *c)
{
    char b;
    RET(read(pipe_read[0], &b, 1));
}
static int c_cond_wait(struct call *c)
{
    pthread_mutex_lock(&mu);
    while (!cv_go)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    RET(0);
}
static int c_futex_forever(struct call *c)
{
    long r;
    while ((r = syscall(SYS_futex, &futex_untimed, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0)) == 0 &&
           !atomic_load(&futex_untimed))
        ;
    RET(r < 0 && errno == EAGAIN ? 0 : r);
}
static int c_sigwaitinfo(struct call *c)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN + 4);
    RET(sigwaitinfo(&s, NULL));
}
/* The program's own signal (SIGUSR2, a handler without SA_RESTART) ends these with EINTR. */
static int c_pause(struct call *c) { RET(pause()); }
static int c_sigsuspend(struct call *c)
{
    sigset_t m;
    sigemptyset(&m);
    RET(sigsuspend(&m));
}
static int c_poll_own_signal(struct call *c)
{
    struct pollfd p = { pipe_intr[0], POLLIN, 0 };
    RET(poll(&p, 1, -1));
}

static struct call calls[] = {
    { .name = "sleep", .fn = c_sleep, .timed = 1, .live_only = 0 },
    { .name = "usleep", .fn = c_usleep, .timed = 1, .live_only = 0 },
    { .name = "nanosleep", .fn = c_nanosleep, .timed = 1, .live_only = 0 },
    { .name = "clock_nanosleep", .fn = c_clock_rel, .timed = 1, .live_only = 0 },
    { .name = "clock_nanosleep_abstime", .fn = c_clock_abs, .timed = 1, .live_only = 0 },
    { .name = "poll", .fn = c_poll, .timed = 1, .live_only = 0 },
    { .name = "ppoll", .fn = c_ppoll, .timed = 1, .live_only = 0 },
    { .name = "select", .fn = c_select, .timed = 1, .live_only = 0 },
    { .name = "pselect", .fn = c_pselect, .timed = 1, .live_only = 0 },
    { .name = "epoll_wait", .fn = c_epoll_wait, .timed = 1, .live_only = 0 },
    { .name = "epoll_pwait", .fn = c_epoll_pwait, .timed = 1, .live_only = 0 },
    { .name = "epoll_pwait2", .fn = c_epoll_pwait2, .timed = 1, .live_only = 0 },
    { .name = "sigtimedwait", .fn = c_sigtimedwait, .timed = 1, .live_only = 0 },
    { .name = "futex_wait", .fn = c_futex_rel, .timed = 1, .live_only = 0 },
    { .name = "sem_timedwait", .fn = c_sem_timedwait, .timed = 1, .live_only = 0 },
    { .name = "pthread_cond_timedwait", .fn = c_cond_timedwait, .timed = 1, .live_only = 0 },
    { .name = "io_uring_wait_cqe_timeout", .fn = c_io_uring, .timed = 1, .live_only = 1 },
    { .name = "semtimedop", .fn = c_semtimedop, .timed = 1, .live_only = 1 },
    { .name = "recv_SO_RCVTIMEO", .fn = c_recv_timeo, .timed = 1, .live_only = 1 },
    { .name = "poll_forever", .fn = c_poll_forever, .timed = 0, .live_only = 0 },
    { .name = "epoll_wait_forever", .fn = c_epoll_forever, .timed = 0, .live_only = 0 },
    { .name = "read_pipe", .fn = c_read_pipe, .timed = 0, .live_only = 0 },
    { .name = "pthread_cond_wait", .fn = c_cond_wait, .timed = 0, .live_only = 0 },
    { .name = "futex_wait_forever", .fn = c_futex_forever, .timed = 0, .live_only = 0 },
    { .name = "sigwaitinfo", .fn = c_sigwaitinfo, .timed = 0, .live_only = 0 },
    { .name = "pause_own_signal", .fn = c_pause, .timed = 0, .live_only = 0 },
    { .name = "sigsuspend_own_signal", .fn = c_sigsuspend, .timed = 0, .live_only = 0 },
    { .name = "poll_own_signal", .fn = c_poll_own_signal, .timed = 0, .live_only = 0 },
};
#define NCALLS (sizeof calls / sizeof calls[0])

static void on_usr2(int sig) { (void)sig; own_signals++; }

static void *run(void *arg)
{
    struct call *c = arg;
    uint64_t t0 = now_ms();
    atomic_fetch_add(&blocked, 1);
    c->fn(c);
    c->took_ms = now_ms() - t0;
    if (c->timed)
        atomic_fetch_sub(&timed_left, 1);
    return NULL;
}

/* Counts the time the process does not run: a restore's dead time. */
static void *watch(void *arg)
{
    struct timespec next;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t prev = now_ms();
    while (atomic_load(&watching)) {
        next.tv_nsec += 20000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        uint64_t t = now_ms();
        if (t - prev > 300)
            atomic_fetch_add(&lost_ms, t - prev - 20);
        prev = t;
        clock_gettime(CLOCK_MONOTONIC, &next);
    }
    return NULL;
}

/* What a timed call must have done: ended by its timeout. */
static int timed_out_right(const struct call *c)
{
    if (c->fn == c_sigtimedwait || c->fn == c_semtimedop)
        return c->rc == -1 && c->err == EAGAIN;
    if (c->fn == c_recv_timeo)
        return c->rc == -1 && (c->err == EAGAIN || c->err == EWOULDBLOCK);
    if (c->fn == c_futex_rel || c->fn == c_sem_timedwait || c->fn == c_cond_timedwait)
        return c->rc == -1 && c->err == ETIMEDOUT;
    if (c->fn == c_io_uring)
        return c->rc == -1 && c->err == ETIME;
    return c->rc == 0;
}

int main(int argc, char **argv)
{
    int live = argc > 2 && !strcmp(argv[2], "--live");
    struct sigaction sa;
    sigset_t block;
    pthread_t watcher;
    struct epoll_event ev = { .events = EPOLLIN };
    int bad = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: blocking PROGRESS [--live]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;            /* no SA_RESTART: the program wants its EINTR */
    sigaction(SIGUSR2, &sa, NULL);
    sigemptyset(&block);                /* waited for, not delivered */
    sigaddset(&block, SIGRTMIN + 3);
    sigaddset(&block, SIGRTMIN + 4);
    pthread_sigmask(SIG_BLOCK, &block, NULL);

    if (pipe(pipe_idle) || pipe(pipe_wake) || pipe(pipe_read) || pipe(pipe_intr) ||
        (ep_idle = epoll_create1(0)) < 0 || (ep_wake = epoll_create1(0)) < 0 ||
        sem_init(&sem, 0, 0)) {
        perror("setup");
        return 1;
    }
    epoll_ctl(ep_idle, EPOLL_CTL_ADD, pipe_idle[0], &ev);
    epoll_ctl(ep_wake, EPOLL_CTL_ADD, pipe_wake[0], &ev);
    if (live) {
        struct timeval tv = { WAIT_MS / 1000, 0 };
        if (io_uring_queue_init(4, &ring, 0) < 0 ||
            (semid = semget(IPC_PRIVATE, 1, 0600)) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM, 0, sock) ||
            setsockopt(sock[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)) {
            perror("setup --live");
            return 1;
        }
    }

    pthread_create(&watcher, NULL, watch, NULL);
    for (unsigned i = 0; i < NCALLS; i++) {
        if (calls[i].live_only && !live)
            continue;
        if (calls[i].timed)
            atomic_fetch_add(&timed_left, 1);
        pthread_create(&calls[i].th, NULL, run, &calls[i]);
    }
    /* Every thread is in its call (a moment after it counted itself) before the cue. */
    usleep(300000);
    close(open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644));

    while (atomic_load(&timed_left) > 0)
        usleep(10000);

    /* The untimed ones, ended as the program means to. */
    if (write(pipe_wake[1], "w", 1) != 1 || write(pipe_read[1], "r", 1) != 1)
        return 1;
    pthread_mutex_lock(&mu);
    cv_go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    atomic_store(&futex_untimed, 1);
    syscall(SYS_futex, &futex_untimed, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    for (unsigned i = 0; i < NCALLS; i++) {
        if (calls[i].fn == c_sigwaitinfo)
            pthread_kill(calls[i].th, SIGRTMIN + 4);
        if (calls[i].fn == c_pause || calls[i].fn == c_sigsuspend ||
            calls[i].fn == c_poll_own_signal)
            pthread_kill(calls[i].th, SIGUSR2);
    }
    for (unsigned i = 0; i < NCALLS; i++)
        if (!calls[i].live_only || live)
            pthread_join(calls[i].th, NULL);
    atomic_store(&watching, 0);
    pthread_join(watcher, NULL);

    uint64_t lost = atomic_load(&lost_ms);
    fprintf(stderr, "not running: %llu ms\n", (unsigned long long)lost);
    for (unsigned i = 0; i < NCALLS; i++) {
        struct call *c = &calls[i];
        if (c->live_only && !live)
            continue;
        fprintf(stderr, "%s: %llu ms\n", c->name, (unsigned long long)c->took_ms);
        if (c->timed) {
            /* Never early; and no longer than asked, give or take a loaded machine. */
            uint64_t ran = c->took_ms > lost ? c->took_ms - lost : 0;
            /* A socket's timeout is an option, not an argument: it starts again. */
            uint64_t slack = c->fn == c_recv_timeo ? 2 * WAIT_MS : 0;
            if (!timed_out_right(c)) {
                printf("%s BROKEN: returned %ld (%s) after %llu ms, asked %d\n", c->name, c->rc,
                       strerror(c->err), (unsigned long long)c->took_ms, WAIT_MS);
                bad = 1;
            } else if (c->took_ms + 20 < WAIT_MS || ran > WAIT_MS + 1500 + slack) {
                printf("%s BROKEN: waited %llu ms (%llu not running), asked %d\n", c->name,
                       (unsigned long long)c->took_ms, (unsigned long long)lost, WAIT_MS);
                bad = 1;
            } else {
                printf("%s ok\n", c->name);
            }
            continue;
        }
        int want_eintr = c->fn == c_pause || c->fn == c_sigsuspend || c->fn == c_poll_own_signal;
        int right = want_eintr ? c->rc == -1 && c->err == EINTR
                   : c->fn == c_sigwaitinfo ? c->rc == SIGRTMIN + 4
                   : c->rc >= 0;
        if (right) {
            printf("%s ok\n", c->name);
        } else {
            printf("%s BROKEN: returned %ld (%s)\n", c->name, c->rc, strerror(c->err));
            bad = 1;
        }
    }
    if (semid >= 0)
        semctl(semid, 0, IPC_RMID);
    return bad;
}
