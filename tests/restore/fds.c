/* fds.c - for the restore tests: holds one descriptor of every kind crsnap rebuilds (regular
 * files with offsets and O_APPEND, a directory, /dev/null at a high number with close-on-exec,
 * a pipe, eventfd, timerfd, signalfd, epoll watching two of them, a unix socketpair, the last
 * two with bytes waiting in them, and a datagram socketpair with datagrams waiting),
 * works for a while, then checks that each still behaves, and so do its working directory,
 * umask, a resource limit, a signal handler and its signal mask. It prints the same lines
 * whether it was restored in between or not.
 *   fds DIR ITERATIONS [PROGRESS_FILE]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "prog.h"

static volatile sig_atomic_t hups;

static void on_hup(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    hups++;
}

int main(int argc, char **argv)
{
    char path[4096];
    int p[2], sv[2];
    uint64_t v;
    sigset_t mask;

    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    snprintf(path, sizeof path, "%s/seek.txt", argv[1]);
    int fseek_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fseek_fd < 0 || write(fseek_fd, "0123456789abcdef", 16) != 16)
        return 1;
    lseek(fseek_fd, 10, SEEK_SET);
    snprintf(path, sizeof path, "%s/log.txt", argv[1]);
    int log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (log_fd < 0 || write(log_fd, "before\n", 7) != 7)
        return 1;
    int dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    int null_fd = open("/dev/null", O_WRONLY);
    dup3(null_fd, 40, O_CLOEXEC);
    close(null_fd);
    if (pipe2(p, O_NONBLOCK) < 0)
        return 1;
    int ev = eventfd(0, EFD_NONBLOCK);
    v = 5;
    if (write(ev, &v, 8) != 8)
        return 1;
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = { { 0, 10000000 }, { 0, 10000000 } };
    timerfd_settime(tfd, 0, &its, NULL);
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event e1 = { .events = EPOLLIN, .data.u64 = 77 };
    struct epoll_event e2 = { .events = EPOLLIN | EPOLLET, .data.u64 = 88 };
    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e1);
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e2);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    /* bytes left waiting in the pipe and in both directions of the pair; datagrams, one of
     * them empty, in a datagram pair */
    int dv[2];
    if (write(p[1], "queued in the pipe", 18) != 18 || write(sv[0], "to one end", 10) != 10 ||
        write(sv[1], "to the other end", 16) != 16 ||
        socketpair(AF_UNIX, SOCK_DGRAM, 0, dv) < 0 || send(dv[0], "first", 5, 0) != 5 ||
        send(dv[0], "", 0, 0) != 0 || send(dv[0], "third one", 9, 0) != 9)
        return 1;
    if (chdir(argv[1]) < 0)
        return 1;
    umask(027);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 1500;         /* above crsnap's own descriptors (1000 on) */
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_hup;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);

    prog_work(n, argc > 3 ? argv[3] : NULL);

    char buf[64] = "";
    CHECK(read(fseek_fd, buf, 6) == 6 && !memcmp(buf, "abcdef", 6), "file offset");
    CHECK(write(log_fd, "after\n", 6) == 6, "append");
    snprintf(path, sizeof path, "%s/log.txt", argv[1]);
    FILE *lf = fopen(path, "r");
    CHECK(lf && fread(buf, 1, sizeof buf, lf) == 13 && !memcmp(buf, "before\nafter\n", 13),
          "append position");
    if (lf)
        fclose(lf);
    struct stat st;
    CHECK(fstat(dir_fd, &st) == 0 && S_ISDIR(st.st_mode), "directory");
    CHECK(fcntl(40, F_GETFD) == FD_CLOEXEC && write(40, "x", 1) == 1, "devnull cloexec");
    CHECK(read(p[0], buf, sizeof buf) == 18 && !memcmp(buf, "queued in the pipe", 18),
          "pipe queued bytes");
    CHECK(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) == 10 && !memcmp(buf, "to one end", 10) &&
          recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) == 16 && !memcmp(buf, "to the other end", 16),
          "socketpair queued bytes");
    CHECK(recv(dv[1], buf, sizeof buf, MSG_DONTWAIT) == 5 && !memcmp(buf, "first", 5) &&
          recv(dv[1], buf, sizeof buf, MSG_DONTWAIT) == 0 &&
          recv(dv[1], buf, sizeof buf, MSG_DONTWAIT) == 9 && !memcmp(buf, "third one", 9) &&
          recv(dv[1], buf, sizeof buf, MSG_DONTWAIT) < 0, "datagrams queued");
    CHECK(write(p[1], "ping", 4) == 4 && read(p[0], buf, 4) == 4 && !memcmp(buf, "ping", 4) &&
          (fcntl(p[0], F_GETFL) & O_NONBLOCK), "pipe");
    CHECK(read(ev, &v, 8) == 8 && v == 5, "eventfd");
    CHECK(read(tfd, &v, 8) == 8 && v >= 1, "timerfd");
    kill(getpid(), SIGUSR2);
    struct signalfd_siginfo si;
    CHECK(read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "signalfd");
    v = 1;
    if (write(ev, &v, 8) != 8 || write(p[1], "z", 1) != 1)
        return 1;
    struct epoll_event out[4];
    int got = epoll_wait(ep, out, 4, 1000);
    uint64_t seen = 0;
    for (int i = 0; i < got; i++)
        seen += out[i].data.u64;
    CHECK(got == 2 && seen == 77 + 88, "epoll");

    char cwd[4096], real[4096];
    CHECK(getcwd(cwd, sizeof cwd) && realpath(argv[1], real) && !strcmp(cwd, real), "cwd");
    mode_t old = umask(0);
    CHECK(old == 027, "umask");
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 1500, "rlimit");
    struct sigaction now;
    sigaction(SIGHUP, NULL, &now);
    raise(SIGHUP);
    CHECK(now.sa_sigaction == on_hup && (now.sa_flags & SA_RESTART) && hups == 1, "sigaction");
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGHUP), "signal mask");

    /* The socketpair is open (never restored, or rebuilt), or closed and reported as such. */
    int (*unrestored)(int *, int) = (int (*)(int *, int))dlsym(RTLD_DEFAULT, "crs_unrestored_fds");
    int list[16], nl = unrestored ? unrestored(list, 16) : 0, listed = 0;
    for (int i = 0; i < nl && i < 16; i++)
        listed += list[i] == sv[0] || list[i] == sv[1];
    int open_now = fcntl(sv[0], F_GETFD) >= 0 && fcntl(sv[1], F_GETFD) >= 0;
    CHECK((open_now && listed == 0) || (!open_now && listed == 2), "socket");
    return 0;
}
