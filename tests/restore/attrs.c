/* attrs.c - for the restore tests: a process that runs on one CPU, at nice 4, under
 * SCHED_BATCH, with no_new_privs set (as a batch job or a sandboxed worker does). After its work
 * it checks each of them, in its main thread and in a thread it starts then, and prints the same
 * lines whether it was restored in between or not. A worker thread that runs all along has
 * attributes of its own (the first CPU, nice 7, SCHED_IDLE), and checks them at the end too.
 *   attrs ITERATIONS PROGRESS_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "prog.h"


static int cpu, first_cpu = -1;
static int go[2];

/* A thread with attributes of its own, waiting through the work (and the checkpoint). */
static void *worker(void *arg)
{
    cpu_set_t set;
    struct sched_param sp = { .sched_priority = 0 };
    char c;

    (void)arg;
    CPU_ZERO(&set);
    CPU_SET(first_cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0 || setpriority(PRIO_PROCESS, 0, 7) < 0 ||
        sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
        return (void *)1;
    if (read(go[0], &c, 1) != 1)
        return (void *)1;
    CPU_ZERO(&set);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1 &&
          CPU_ISSET(first_cpu, &set), "worker own affinity");
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    CHECK(errno == 0 && nice == 7, "worker own nice");
    CHECK(sched_getscheduler(0) == SCHED_IDLE, "worker own policy");
    return NULL;
}

static void check(const char *who)
{
    cpu_set_t set;
    char what[64];

    CPU_ZERO(&set);
    snprintf(what, sizeof what, "%s affinity", who);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1 &&
          CPU_ISSET(cpu, &set), what);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    snprintf(what, sizeof what, "%s nice", who);
    CHECK(errno == 0 && nice == 4, what);
    snprintf(what, sizeof what, "%s policy", who);
    CHECK(sched_getscheduler(0) == SCHED_BATCH, what);
    snprintf(what, sizeof what, "%s no_new_privs", who);
    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, what);
}

static void *thread(void *arg)
{
    (void)arg;
    check("thread");
    return NULL;
}

int main(int argc, char **argv)
{
    cpu_set_t set;
    struct sched_param sp = { .sched_priority = 0 };
    pthread_t t, w;
    void *wr;

    if (argc < 3)
        return 2;
    long n = atol(argv[1]);
    /* the last CPU this process may run on: not the one a fresh process starts on most often */
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return 1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) {
            cpu = i;
            if (first_cpu < 0)
                first_cpu = i;
        }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0 || setpriority(PRIO_PROCESS, 0, 4) < 0 ||
        sched_setscheduler(0, SCHED_BATCH, &sp) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return 1;
    if (pipe(go) < 0 || pthread_create(&w, NULL, worker, NULL))
        return 1;

    prog_work(n, argv[2]);
    check("main");
    if (pthread_create(&t, NULL, thread, NULL) || pthread_join(t, NULL))
        return 1;
    if (write(go[1], "g", 1) != 1 || pthread_join(w, &wr) || wr)
        return 1;
    return 0;
}
