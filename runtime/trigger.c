/* runtime/trigger.c - what wakes the coordinator: the trigger signal (CRSNAP_SIGNAL), the
 * periodic timer (CRSNAP_INTERVAL, a timerfd) and API requests, all through one eventfd.
 * trigger_handler() runs in a signal handler: an atomic increment and a raw write only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "runtime.h"

/* Also called in the trigger signal handler. When the program has closed the eventfd (or its
 * number now names a file of the program's), the coordinator is woken by the quiesce signal
 * instead, which it does not block: its poll ends with EINTR, and it makes a new eventfd. */
void crs_wake_coordinator(void)
{
    uint64_t one = 1;
    int fd = atomic_load(&crs_state.eventfd);
    int tid = atomic_load(&crs_state.coord_tid);

    if (fd >= 0 && crs_ownfds_wake_ok())
        crs_sys3(SYS_write, fd, (long)&one, sizeof one);
    else if (tid > 0 && crs_state.quiesce_signal > 0)
        crs_sys3(SYS_tgkill, crs_state.pid, tid, crs_state.quiesce_signal);
}

/* Signal handler. In a forked copy of the process the eventfd is shared with the original:
 * stay quiet there. */
static void trigger_handler(int sig)
{
    (void)sig;
    if (crs_sys0(SYS_getpid) != crs_state.pid)
        return;
    atomic_fetch_add(&crs_state.req_seq, 1);
    crs_wake_coordinator();
}

int crs_trigger_install(void)
{
    struct sigaction sa;

    if (!crs_state.cfg.signal)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = trigger_handler;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(crs_state.cfg.signal, &sa, NULL) < 0)
        return -errno;
    return 0;
}

/* The periodic timer; -1 when there is none. */
int crs_timer_create(void)
{
    struct itimerspec its;
    double whole, frac;
    int fd;

    if (crs_state.cfg.interval <= 0)
        return -1;
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    fd = crs_fd_high(fd);
    whole = (double)(long long)crs_state.cfg.interval;
    frac = crs_state.cfg.interval - whole;
    memset(&its, 0, sizeof its);
    its.it_interval.tv_sec = (time_t)whole;
    its.it_interval.tv_nsec = (long)(frac * 1e9);
    if (!its.it_interval.tv_sec && !its.it_interval.tv_nsec)
        its.it_interval.tv_nsec = 1;
    its.it_value = its.it_interval;
    if (timerfd_settime(fd, 0, &its, NULL) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}
