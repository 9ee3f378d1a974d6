/* mt_worker.c - a multi-threaded program for the restore tests, unaware of crsnap: worker
 * threads pass a token round a ring (mutex and condition variable), each turn churning malloc,
 * doing floating point, keeping thread-local sums and writing a record at its offset in the
 * output file (pwrite); an interval timer counts SIGALRM ticks. It prints a result that depends
 * only on the work, so a run that was checkpointed, killed and restored prints the same.
 *   mt_worker OUTFILE ROUNDS [PROGRESS_FILE]
 * After the first tenth of the rounds it creates PROGRESS_FILE (if given): the tests checkpoint
 * it from then on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
#define RECSZ 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long turn, rounds;
static int outfd;
static const char *progress;
static volatile sig_atomic_t ticks;
static __thread double tls_sum;
static __thread uint64_t tls_hash = 1469598103934665603ull;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    return h * 1099511628211ull;
}

static void *worker(void *arg)
{
    long id = (long)arg;
    uint64_t seed = (uint64_t)id * 7919 + 1;

    for (;;) {
        pthread_mutex_lock(&lock);
        while (turn < rounds && turn % NTHREADS != id)
            pthread_cond_wait(&cond, &lock);
        long t = turn;
        pthread_mutex_unlock(&lock);
        if (t >= rounds)
            break;

        /* malloc churn, with contents checked */
        void *blocks[32];
        for (int i = 0; i < 32; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t n = 16 + (seed >> 33) % 8192;
            blocks[i] = malloc(n);
            memset(blocks[i], (int)(t + i) & 0xff, n);
            tls_hash = mix(tls_hash, n);
        }
        for (int i = 31; i >= 0; i--) {
            tls_hash = mix(tls_hash, ((unsigned char *)blocks[i])[0]);
            free(blocks[i]);
        }
        /* floating point that must come back bit for bit */
        for (int i = 0; i < 2000; i++)
            tls_sum += sqrt((double)(t * 2000 + i)) * sin((double)i * 0.001);

        char rec[RECSZ];
        memset(rec, ' ', sizeof rec);
        int n = snprintf(rec, sizeof rec, "%ld %ld %016llx %.6f", t, id,
                         (unsigned long long)tls_hash, tls_sum);
        rec[n] = ' ';
        rec[RECSZ - 1] = '\n';
        if (pwrite(outfd, rec, sizeof rec, (off_t)(t * RECSZ)) != (ssize_t)sizeof rec) {
            perror("pwrite");
            exit(1);
        }
        if (progress && t == rounds / 10) {
            int fd = open(progress, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                close(fd);
        }

        pthread_mutex_lock(&lock);
        turn++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
    }
    char *res = malloc(64);
    snprintf(res, 64, "thread %ld %016llx %.6f", id, (unsigned long long)tls_hash, tls_sum);
    return res;
}

int main(int argc, char **argv)
{
    pthread_t th[NTHREADS];
    struct sigaction sa;
    struct itimerval it = { { 0, 2000 }, { 0, 2000 } };

    if (argc < 3) {
        fprintf(stderr, "usage: mt_worker OUTFILE ROUNDS [PROGRESS_FILE]\n");
        return 2;
    }
    rounds = atol(argv[2]);
    progress = argc > 3 ? argv[3] : NULL;
    outfd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (outfd < 0) {
        perror(argv[1]);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);

    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < NTHREADS; i++) {
        void *res;
        pthread_join(th[i], &res);
        printf("%s\n", (char *)res);
        free(res);
    }
    /* The interval timer must still be running (after a restore too). */
    sig_atomic_t before = ticks;
    for (int i = 0; i < 5000 && ticks < before + 5; i++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    printf("timer %s\n", ticks >= before + 5 ? "running" : "stopped");
    printf("rounds %ld\n", turn);
    close(outfd);
    return 0;
}
