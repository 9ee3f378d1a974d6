/* runtime/forklock.c - the runtime's own descriptors and the program's fork(). fork() copies
 * the descriptor table first and the memory after it: a descriptor the coordinator makes or
 * closes in between is in the child without its record in the state (it then shows in the
 * child's images as the program's, a connection to another process) or recorded without being
 * there (and the child would close a number that is someone else's). The coordinator makes,
 * moves and closes its descriptors under fd_lock while the program runs; fork() takes the lock
 * first, in an atfork prepare handler, so that both copies are of one moment.
 *
 * While the program's threads are stopped none of them is inside fork() (a signal ends the
 * system call, which the handler's return starts again), and a stopped one may hold the lock:
 * then the coordinator does not take it. The coordinator holds it only across system calls
 * that do not wait for the program.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "runtime.h"

int crs_fds_lock(void)
{
    if (atomic_load(&crs_state.quiescing))
        return 0;
    pthread_mutex_lock(&crs_state.fd_lock);
    return 1;
}

void crs_fds_unlock(int held)
{
    if (held)
        pthread_mutex_unlock(&crs_state.fd_lock);
}

int crs_fds_let_go(void)
{
    int held = !atomic_load(&crs_state.quiescing);

    crs_fds_unlock(held);
    return held;
}

void crs_fd_close(int *fd)
{
    int held;

    if (*fd < 0)
        return;
    held = crs_fds_lock();
    close(*fd);
    *fd = -1;
    crs_fds_unlock(held);
}

/* atfork prepare and parent: the forking thread holds the lock across the copy. Recursive: a
 * signal handler of the program's that forks, run while this thread's fork() is restarted,
 * takes it again. */
void crs_forklock_prepare(void)
{
    pthread_mutex_lock(&crs_state.fd_lock);
}

void crs_forklock_parent(void)
{
    pthread_mutex_unlock(&crs_state.fd_lock);
}

/* In the child, the only thread, which took it in the parent: a new lock. */
void crs_forklock_init(void)
{
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&crs_state.fd_lock, &a);
    pthread_mutexattr_destroy(&a);
}
