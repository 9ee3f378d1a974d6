/* bench/idle_thread.c - a preloadable library that only starts one idle thread: the control for
 * the steady-state overhead benchmark, since glibc takes slower paths (cancellation points,
 * atomic locks) in any process that has more than one thread, crsnap or not.
 */
#include <pthread.h>
#include <unistd.h>

static void *idle_main(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

__attribute__((constructor)) static void idle_start(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, idle_main, NULL) == 0)
        pthread_detach(t);
}
