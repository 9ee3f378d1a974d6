/* tids.c - for the restore tests: threads that hold glibc mutexes which remember their owner's
 * tid (recursive and error-checking) across the checkpoint, then check that their tids did
 * not change and that they can still unlock what they hold. Restored with --same-pid, the
 * threads come back under their own tids and all of it holds.
 *   tids ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NT 3

static long n;
static const char *progress;
static atomic_int ready;
static pthread_mutex_t held[NT + 1];

static int work(int id)
{
    pid_t before = gettid();
    volatile unsigned long long x = 1;

    pthread_mutex_lock(&held[id]);
    pthread_mutex_lock(&held[id]);      /* recursive: twice */
    atomic_fetch_add(&ready, 1);
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 1000; k++)
            x = x * 6364136223846793005ull + 1;
        if (id == 0 && i == n / 10 && atomic_load(&ready) == NT + 1) {
            FILE *f = fopen(progress, "w");
            fprintf(f, "%d\n", getpid());
            fclose(f);
        }
    }
    int ok = gettid() == before;
    ok &= pthread_mutex_unlock(&held[id]) == 0;
    ok &= pthread_mutex_unlock(&held[id]) == 0;
    ok &= pthread_mutex_unlock(&held[id]) != 0;    /* now not the owner: EPERM */
    return ok;
}

static void *thread_main(void *arg)
{
    return (void *)(long)work((int)(long)arg);
}

int main(int argc, char **argv)
{
    pthread_mutexattr_t ma;
    pthread_t th[NT + 1];

    if (argc < 3)
        return 2;
    n = atol(argv[1]);
    progress = argv[2];
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    for (int i = 0; i <= NT; i++)
        pthread_mutex_init(&held[i], &ma);
    for (long i = 1; i <= NT; i++)
        pthread_create(&th[i], NULL, thread_main, (void *)i);
    while (atomic_load(&ready) < NT)
        usleep(1000);
    int ok = work(0);
    for (int i = 1; i <= NT; i++) {
        void *r;
        pthread_join(th[i], &r);
        ok &= r == (void *)1;
    }
    printf("tids and mutex owners %s\n", ok ? "kept" : "LOST");
    return 0;
}
