/* tests/fuzz/seed_prog.c - the program whose image seeds the image fuzzer: it holds something
 * of every section an image can have (two threads, a pipe and a datagram socketpair with bytes
 * waiting, eventfd, timerfd, signalfd, epoll, a file with no name, private and shared file
 * mappings, a shared anonymous region, POSIX timers), writes READY_FILE and waits to be
 * checkpointed.
 *   seed_prog DIR READY_FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    char path[4096];
    int p[2], sv[2];
    pthread_t th;
    sigset_t mask;

    if (argc < 3)
        return 2;
    /* file mappings: one private and written to, one shared */
    snprintf(path, sizeof path, "%s/mapped.bin", argv[1]);
    int mf = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (mf < 0 || ftruncate(mf, 3 * 4096) < 0)
        return 1;
    char *priv = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, mf, 0);
    char *shr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mf, 2 * 4096);
    char *anon_sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (priv == MAP_FAILED || shr == MAP_FAILED || anon_sh == MAP_FAILED)
        return 1;
    memcpy(priv, "private copy", 12);
    memcpy(anon_sh, "shared anonymous", 16);
    /* memory worth compressing, and some that is not */
    size_t len = 256 * 1024;
    unsigned char *heap = malloc(len);
    for (size_t i = 0; i < len; i++)
        heap[i] = (unsigned char)(i < len / 2 ? i % 13 : (i * 2654435761u) >> 13);
    /* descriptors of each kind */
    if (pipe(p) < 0 || write(p[1], "waiting in a pipe", 17) != 17)
        return 1;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || send(sv[0], "one", 3, 0) != 3 ||
        send(sv[0], "two", 3, 0) != 3)
        return 1;
    int efd = eventfd(7, EFD_NONBLOCK);
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{100, 0}, {100, 0}};
    timerfd_settime(tfd, 0, &its, NULL);
    /* POSIX timers: one signalling the process (ignored), one of SIGEV_NONE, never due */
    struct sigevent pe = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGURG,
                           .sigev_value.sival_int = 9 };
    struct sigevent ne = { .sigev_notify = SIGEV_NONE };
    timer_t pt, nt;
    if (timer_create(CLOCK_MONOTONIC, &pe, &pt) || timer_create(CLOCK_REALTIME, &ne, &nt) ||
        timer_settime(pt, 0, &its, NULL) || timer_settime(nt, 0, &its, NULL))
        return 1;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    int sfd = signalfd(-1, &mask, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    snprintf(path, sizeof path, "%s/gone.txt", argv[1]);
    int gone = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (efd < 0 || tfd < 0 || sfd < 0 || ep < 0 || gone < 0 ||
        write(gone, "contents of a file with no name", 31) != 31 || unlink(path) < 0)
        return 1;
    if (pthread_create(&th, NULL, idle, NULL))
        return 1;
    int r = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (r < 0)
        return 1;
    close(r);
    for (;;)
        pause();
}
