/* evwake.c - for the restore tests: an event loop's wake-ups. One thread posts N wake-ups on an
 * eventfd, another takes them slowly, so that some are always pending; at the end every
 * wake-up posted has been taken. An image whose counter was read after the threads ran on (a
 * pending wake-up taken in between) comes back short, and the taker waits for ever: it gives up
 * after two quiet seconds and says how many it lost.
 *   evwake N PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int ev;
static long n;
static volatile long posted, taken;

static void *taker(void *arg)
{
    (void)arg;
    while (taken < n) {
        struct pollfd p = { .fd = ev, .events = POLLIN };
        uint64_t v;
        if (poll(&p, 1, 2000) == 0)
            break;                      /* quiet for two seconds: the rest is lost */
        if (read(ev, &v, sizeof v) == sizeof v)
            taken += (long)v;
        usleep(1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t;

    if (argc < 3)
        return 2;
    n = atol(argv[1]);
    ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ev < 0 || pthread_create(&t, NULL, taker, NULL))
        return 1;
    for (long i = 0; i < n; i++) {
        uint64_t one = 1;
        posted++;
        if (write(ev, &one, sizeof one) != sizeof one)
            return 1;
        if (i == n / 10) {
            int pf = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (pf >= 0)
                close(pf);
        }
        usleep(100);
    }
    pthread_join(t, NULL);
    printf("posted %ld taken %ld\n", posted, taken);
    return posted == taken ? 0 : 1;
}
