/* tests/runtime/rt_prog.c - a multi-threaded program checkpointed by the runtime while its
 * workers compute. Async handlers and per-thread sync handlers log every phase they see; each
 * mode checks that the logs are exactly what they should be, that the images exist (or do not),
 * and that the workers' results equal the same computation done without checkpoints.
 *
 *   rt_prog api | timer | signal | blocked | cs_stuck | veto | fsize | unwritable GOODFILE |
 *           restart | serve
 *
 * Configuration comes from the CRSNAP_* environment (crs_init(NULL)). Exit 0 = pass.
 */
#define _GNU_SOURCE
#include <crsnap.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 4
#define MAX_STEPS 400000
#define LOG_MAX 4096
#define WAIT_LIMIT_S 30

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "rt_prog: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c);   \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

struct hlog {
    char buf[LOG_MAX];
    _Atomic int n;
};

struct worker {
    pthread_t t;
    int idx;
    _Atomic int tid;
    _Atomic int ready;
    struct hlog log;
    uint64_t result;
    int steps;
    int veto_next;                  /* handler y vetoes the next prepare */
    volatile int in_cs;             /* inside its critical section */
};

struct tag { struct hlog *log; char name; int *veto; struct worker *w; };

static struct worker workers[NWORKERS];
static struct tag sync_tags[NWORKERS][2];
static struct hlog async_log;
static struct tag async_tags[2];
static int async_veto;
static _Atomic int stop;
static _Atomic int hold_prepare, held, let_go;
static int rc_from_handler = 1;
static char dir[4096];

static void log_add(struct hlog *l, char a, char b)
{
    int n = atomic_fetch_add(&l->n, 2);
    if (n + 2 <= LOG_MAX) {
        l->buf[n] = a;
        l->buf[n + 1] = b;
    }
}

/* Async-signal-safe for the sync ones: an atomic index into a fixed buffer. */
static _Atomic int cs_violations;

static int handler(crs_phase ph, void *arg)
{
    struct tag *t = arg;
    /* A thread is never stopped inside a critical section: they drain first. */
    if (t->w && t->w->in_cs)
        atomic_fetch_add(&cs_violations, 1);
    log_add(t->log, t->name, "PCRA"[ph]);
    if (ph == CRS_PREPARE && t->veto && *t->veto) {
        *t->veto = 0;
        return 1;
    }
    return 0;
}

static int async_first(crs_phase ph, void *arg)
{
    if (ph == CRS_PREPARE) {
        if (rc_from_handler == 1)
            rc_from_handler = crs_checkpoint(NULL);   /* must be refused */
        if (atomic_load(&hold_prepare)) {
            atomic_store(&held, 1);
            while (!atomic_load(&let_go))
                usleep(1000);
            atomic_store(&hold_prepare, 0);
        }
    }
    return handler(ph, arg);
}

static uint64_t step(uint64_t x, int i)
{
    char buf[64];
    x = x * 6364136223846793005ull + (uint64_t)i * 1442695040888963407ull;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)(x >> 7));
    for (char *p = buf; *p; p++)
        x = (x ^ (uint64_t)*p) * 1099511628211ull;
    return x;
}

static uint64_t compute(int idx, int steps)
{
    uint64_t x = (uint64_t)idx + 1;
    for (int i = 0; i < steps; i++)
        x = step(x, i);
    return x;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t x = (uint64_t)w->idx + 1;

    w->tid = (int)syscall(SYS_gettid);
    sync_tags[w->idx][0] = (struct tag){ &w->log, 'x', NULL, w };
    sync_tags[w->idx][1] = (struct tag){ &w->log, 'y', &w->veto_next, w };
    CHECK(crs_register(handler, &sync_tags[w->idx][0], CRS_SYNC) > 0);
    CHECK(crs_register(handler, &sync_tags[w->idx][1], CRS_SYNC) > 0);
    atomic_store(&w->ready, 1);
    int i;

    /* Works until told to stop, so that every checkpoint lands in the middle of the work. */
    for (i = 0; i < MAX_STEPS && !atomic_load(&stop); i++) {
        /* Allocation and a critical section on every step: parked threads may hold malloc's
         * lock, and checkpoints must wait for critical sections to drain. */
        crs_enter_cs();
        w->in_cs = 1;
        char *junk = malloc(64 + (size_t)(i % 512));
        CHECK(junk);
        junk[0] = (char)i;
        x = step(x, i);
        free(junk);
        w->in_cs = 0;
        crs_leave_cs();
        if (i % 256 == 0)
            usleep(50);
    }
    w->result = x;
    w->steps = i;
    while (!atomic_load(&stop))
        usleep(1000);
    return NULL;
}

/* Threads come and go during checkpoints: the quiesce must catch new ones and not wait for
 * those that exit. */
static pthread_t churner;
static _Atomic int churned;

static void *short_lived(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 10000; i++) {
    }
    return NULL;
}

static void *churn_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
            pthread_join(t, NULL);
            atomic_fetch_add(&churned, 1);
        }
    }
    return NULL;
}

static void start_workers(void)
{
    async_tags[0] = (struct tag){ &async_log, 'a', NULL, NULL };
    async_tags[1] = (struct tag){ &async_log, 'b', &async_veto, NULL };
    CHECK(crs_register(async_first, &async_tags[0], CRS_ASYNC) > 0);
    CHECK(crs_register(handler, &async_tags[1], CRS_ASYNC) > 0);
    for (int i = 0; i < NWORKERS; i++) {
        workers[i].idx = i;
        CHECK(pthread_create(&workers[i].t, NULL, worker_main, &workers[i]) == 0);
    }
    for (int i = 0; i < NWORKERS; i++)
        while (!atomic_load(&workers[i].ready))
            usleep(1000);
    CHECK(pthread_create(&churner, NULL, churn_main, NULL) == 0);
}

/* Joins the workers and compares their results with the same work done here, undisturbed. */
static void finish_workers(void)
{
    atomic_store(&stop, 1);
    CHECK(atomic_load(&cs_violations) == 0);
    pthread_join(churner, NULL);
    CHECK(atomic_load(&churned) > 0);
    for (int i = 0; i < NWORKERS; i++) {
        pthread_join(workers[i].t, NULL);
        CHECK(workers[i].steps > 0 && workers[i].result == compute(i, workers[i].steps));
    }
}

static int count_images(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, "ckpt-", 5) && strstr(e->d_name, ".crsnap") &&
            !strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

static void clean_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[8192];

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* A log made of k repetitions of unit, exactly. Returns k or -1. */
static int repeats(const struct hlog *l, const char *unit)
{
    int n = atomic_load(&l->n), u = (int)strlen(unit);
    if (n % u)
        return -1;
    for (int i = 0; i < n; i += u)
        if (memcmp(l->buf + i, unit, (size_t)u))
            return -1;
    return n / u;
}

static void dump_logs(void)
{
    fprintf(stderr, "async: %.*s\n", atomic_load(&async_log.n), async_log.buf);
    for (int i = 0; i < NWORKERS; i++)
        fprintf(stderr, "worker %d: %.*s\n", i, atomic_load(&workers[i].log.n), workers[i].log.buf);
}

/* Empties every handler log, for the next checks to see only what comes after. */
static void clear_logs(void)
{
    async_log.n = 0;
    for (int i = 0; i < NWORKERS; i++)
        workers[i].log.n = 0;
}

/* One checkpoint's worth in each log: the async handlers' unit async, worker 0's first, the
 * other workers' others (the logs are shown when the first two are not as they should be). */
static void check_logs_once(const char *async, const char *first, const char *others)
{
    if (repeats(&async_log, async) != 1 || repeats(&workers[0].log, first) != 1)
        dump_logs();
    CHECK(repeats(&async_log, async) == 1);
    CHECK(repeats(&workers[0].log, first) == 1);
    for (int i = 1; i < NWORKERS; i++)
        CHECK(repeats(&workers[i].log, others) == 1);
}

/* Every handler saw prepare then continue, in order, for each of k checkpoints. */
static void check_clean_logs(int k)
{
    int ok = repeats(&async_log, "aPbPbCaC") == k;
    for (int i = 0; i < NWORKERS; i++)
        ok = ok && repeats(&workers[i].log, "xPyPyCxC") == k;
    if (!ok)
        dump_logs();
    CHECK(ok);
}

static void check_result_ok(void)
{
    struct crs_result r;
    struct stat st;

    CHECK(crs_last_checkpoint(&r) == 0);
    if (r.error)
        fprintf(stderr, "rt_prog: last checkpoint failed: %s\n", r.message);
    CHECK(r.error == 0 && r.message[0] == 0);
    CHECK(stat(r.path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(r.bytes_written == (uint64_t)st.st_size && r.bytes_written > 0);
    CHECK(r.memory_covered > 0 && r.pause_ns > 0);
}

static int async_continues(void)
{
    int n = atomic_load(&async_log.n), c = 0;
    for (int i = 0; i + 1 < n; i += 2)
        if (async_log.buf[i] == 'a' && async_log.buf[i + 1] == 'C')
            c++;
    return c;
}

static void wait_continues(int want)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100 && async_continues() < want; i++)
        usleep(10000);
    CHECK(async_continues() >= want);
}

static _Atomic int chld_seen;

static void on_sigchld(int sig)
{
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        atomic_fetch_add(&chld_seen, 1);
    errno = saved;
}

static void mode_api(void)
{
    char explicit_path[8192];
    struct crs_result r;
    int before;

    start_workers();
    for (int i = 0; i < 4; i++) {
        CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
        check_result_ok();
        CHECK(count_images() == i + 1);
        CHECK(crs_last_checkpoint(&r) == 0 && r.seq == (uint64_t)i + 1);
    }
    CHECK(rc_from_handler == -EDEADLK);
    crs_enter_cs();
    CHECK(crs_checkpoint(NULL) == -EDEADLK);
    crs_leave_cs();

    /* An explicit path: exactly that file, outside the sequence. */
    snprintf(explicit_path, sizeof explicit_path, "%s/explicit.crsnap", dir);
    CHECK(crs_checkpoint(explicit_path) == CRS_CONTINUE);
    check_result_ok();
    CHECK(crs_last_checkpoint(&r) == 0 && !strcmp(r.path, explicit_path) && r.seq == 0);

    /* Requests made before the snapshot is taken are served by it: hold the first async
     * prepare while five more requests arrive, and only one image results. */
    before = count_images();
    atomic_store(&hold_prepare, 1);
    CHECK(crs_request_checkpoint() == 0);
    while (!atomic_load(&held))
        usleep(1000);
    for (int i = 0; i < 5; i++)
        CHECK(crs_request_checkpoint() == 0);
    atomic_store(&let_go, 1);
    while (count_images() < before + 1)
        usleep(1000);
    /* Asked after that snapshot was taken: a checkpoint of its own. */
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    CHECK(count_images() == before + 2);
    check_clean_logs(4 + 1 + 2);
    CHECK(crs_restart_count() == 0);
    CHECK(crs_unrestored_fds(NULL, 0) == 0);

    /* The program's own child handling never sees the snapshot child: a SIGCHLD handler that
     * reaps everything, then SIGCHLD ignored (which makes the kernel reap children itself). */
    signal(SIGCHLD, on_sigchld);
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    CHECK(atomic_load(&chld_seen) == 0);
    signal(SIGCHLD, SIG_IGN);
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    signal(SIGCHLD, SIG_DFL);
    finish_workers();
}

/* A file size limit makes the child fail (EFBIG, or killed by SIGXFSZ): the error is reported,
 * no image appears, the program runs on, and without the limit the next checkpoint works. */
static void mode_fsize(void)
{
    struct rlimit small = { 32768, RLIM_INFINITY }, old;
    struct crs_result r;
    size_t big = 8u << 20;
    unsigned char *noise = malloc(big);
    uint64_t x = 88172645463325252ull;
    int rc;

    CHECK(noise);
    for (size_t i = 0; i < big; i++) {          /* incompressible, so the image is large */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[i] = (unsigned char)x;
    }
    start_workers();
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    rc = crs_checkpoint(NULL);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(rc < 0);
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == rc && r.message[0] && !r.path[0]);
    fprintf(stderr, "rt_prog: reported as expected: %s\n", r.message);
    CHECK(count_images() == 0);
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    CHECK(count_images() == 1);
    CHECK(noise[big - 1] == (unsigned char)x);
    finish_workers();
    free(noise);
}

/* Checkpoints the runtime takes by itself (timer) or on a signal: wait for some, then hold a
 * critical section so none is in flight while the logs are read. */
static void check_background(int want)
{
    int k;

    crs_enter_cs();
    k = async_continues();
    CHECK(k >= want);
    check_clean_logs(k);
    check_result_ok();
    CHECK(count_images() >= 1);
    crs_leave_cs();
    finish_workers();
}

static void mode_timer(void)
{
    start_workers();
    wait_continues(3);
    check_background(3);
}

static void mode_signal(void)
{
    start_workers();
    for (int i = 1; i <= 3; i++) {
        CHECK(kill(getpid(), SIGUSR1) == 0);
        wait_continues(i);
    }
    check_background(3);
}

static _Atomic int stubborn_tid, stubborn_unblock, stubborn_done;

static void *stubborn_main(void *arg)
{
    sigset_t s;
    (void)arg;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMAX - 2);                /* the runtime's quiesce signal */
    /* The raw system call: the library's pthread_sigmask would not let the signal be blocked. */
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &s, NULL, _NSIG / 8);
    atomic_store(&stubborn_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stubborn_unblock))
        usleep(1000);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &s, NULL, _NSIG / 8);  /* the late signal: nothing */
    while (!atomic_load(&stop))
        usleep(1000);
    atomic_store(&stubborn_done, 1);
    return NULL;
}

static _Atomic int cs_held, cs_release;

static void *cs_holder_main(void *arg)
{
    (void)arg;
    crs_enter_cs();
    atomic_store(&cs_held, 1);
    while (!atomic_load(&cs_release))
        usleep(1000);
    crs_leave_cs();
    return NULL;
}

/* A thread that stays inside a critical section longer than the quiesce timeout: the
 * checkpoint gives up and says so, the program goes on (entries are not held), and once the
 * thread has left, checkpoints work again. */
static void mode_cs_stuck(void)
{
    struct crs_result r;
    pthread_t t;

    CHECK(pthread_create(&t, NULL, cs_holder_main, NULL) == 0);
    while (!atomic_load(&cs_held))
        usleep(1000);
    CHECK(crs_checkpoint(NULL) == -ETIMEDOUT);
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == -ETIMEDOUT && r.path[0] == 0);
    if (!strstr(r.message, "1 thread still inside a critical section after 300 ms"))
        fprintf(stderr, "rt_prog: message \"%s\"\n", r.message);
    CHECK(strstr(r.message, "1 thread still inside a critical section after 300 ms"));
    CHECK(count_images() == 0);
    crs_enter_cs();                             /* not held: the checkpoint is over */
    crs_leave_cs();
    atomic_store(&cs_release, 1);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    CHECK(count_images() == 1);
}

static void mode_blocked(void)
{
    struct crs_result r;
    pthread_t t;
    char want[128];
    int rc;

    start_workers();
    CHECK(pthread_create(&t, NULL, stubborn_main, NULL) == 0);
    while (!atomic_load(&stubborn_tid))
        usleep(1000);
    rc = crs_checkpoint(NULL);
    CHECK(rc == -ETIMEDOUT);
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == -ETIMEDOUT && r.path[0] == 0);
    snprintf(want, sizeof want, "thread %d did not stop within", atomic_load(&stubborn_tid));
    if (!strstr(r.message, want))
        fprintf(stderr, "rt_prog: message \"%s\"\n", r.message);
    CHECK(strstr(r.message, want));
    CHECK(count_images() == 0);
    /* Those that prepared were told ABORT, once. */
    check_logs_once("aPbPbAaA", "xPyPyAxA", "xPyPyAxA");

    /* The program runs on, and once the thread lets signals in, checkpoints work again. */
    atomic_store(&stubborn_unblock, 1);
    usleep(20000);
    clear_logs();
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    CHECK(count_images() == 1);
    check_clean_logs(1);

    /* A program that takes the quiesce signal over gets a clear error, not a timeout. */
    signal(SIGRTMAX - 2, SIG_IGN);
    CHECK(crs_checkpoint(NULL) == -EBUSY);
    CHECK(crs_last_checkpoint(&r) == 0 && strstr(r.message, "taken over"));
    CHECK(count_images() == 1);
    finish_workers();
    pthread_join(t, NULL);
    CHECK(stubborn_done);
}

/* The Node.js pattern: block every signal, create a helper thread (it inherits the mask),
 * restore the mask. The helper must still be quiesced, so checkpoints succeed; what the program
 * reads back as its mask is what it can observe, and the quiesce signal is never in it. */
static _Atomic int masked_started;

static void *masked_main(void *arg)
{
    sigset_t cur;
    (void)arg;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGRTMAX - 2));
    atomic_store(&masked_started, 1);
    while (!atomic_load(&stop))
        usleep(1000);
    return NULL;
}

static void mode_sigmask(void)
{
    sigset_t all, old, cur;
    pthread_t t;

    start_workers();
    sigfillset(&all);
    CHECK(pthread_sigmask(SIG_SETMASK, &all, &old) == 0);
    CHECK(pthread_create(&t, NULL, masked_main, NULL) == 0);
    CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
    CHECK(sigprocmask(SIG_BLOCK, &all, &old) == 0);
    CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0 && !sigismember(&cur, SIGRTMAX - 2));
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
    while (!atomic_load(&masked_started))
        usleep(1000);
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    CHECK(count_images() == 1);
    finish_workers();
    pthread_join(t, NULL);
}

static void mode_veto(void)
{
    struct crs_result r;

    start_workers();
    /* An async handler vetoes: nothing stops, the one before it gets ABORT. */
    async_veto = 1;
    CHECK(crs_checkpoint(NULL) == -ECANCELED);
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == -ECANCELED && strstr(r.message, "veto"));
    CHECK(count_images() == 0);
    CHECK(repeats(&async_log, "aPbPaA") == 1);
    for (int i = 0; i < NWORKERS; i++)
        CHECK(atomic_load(&workers[i].log.n) == 0);

    /* A sync handler of worker 0 vetoes: every handler that prepared, in every thread, gets
     * ABORT; the vetoing one does not. */
    async_log.n = 0;
    workers[0].veto_next = 1;
    CHECK(crs_checkpoint(NULL) == -ECANCELED);
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == -ECANCELED && strstr(r.message, "veto"));
    CHECK(count_images() == 0);
    check_logs_once("aPbPbAaA", "xPyPxA", "xPyPyAxA");

    /* Then an ordinary one. */
    clear_logs();
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    CHECK(count_images() == 1);
    check_clean_logs(1);
    finish_workers();
}

static void mode_unwritable(const char *good)
{
    struct crs_result r;
    struct stat st;
    int rc;

    start_workers();
    rc = crs_checkpoint(NULL);
    CHECK(rc < 0 && rc != -ECANCELED);
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == rc && r.message[0] && !r.path[0]);
    fprintf(stderr, "rt_prog: reported as expected: %s\n", r.message);
    /* The program runs on, and a checkpoint to a good place works. */
    unlink(good);
    CHECK(crs_checkpoint(good) == CRS_CONTINUE);
    check_result_ok();
    CHECK(stat(good, &st) == 0 && st.st_size > 0);
    finish_workers();
}

/* Run once: checkpoint and exit. Run again by `crsnap restore`: the same call returns
 * CRS_RESTART, every handler that prepared was told RESTART, the control socket is there for
 * the new pid, and the program checkpoints and computes on as if nothing happened. */
static void mode_restart(void)
{
    char sock[8300];
    const char *sockdir = getenv("CRSNAP_SOCKET_DIR");
    struct crs_result r;
    struct stat st;
    int rc;

    start_workers();
    rc = crs_checkpoint(NULL);
    if (rc == CRS_CONTINUE) {
        check_clean_logs(1);
        check_result_ok();
        finish_workers();
        return;
    }
    CHECK(rc == CRS_RESTART);
    CHECK(crs_restart_count() == 1);
    check_logs_once("aPbPbRaR", "xPyPyRxR", "xPyPyRxR");
    CHECK(crs_last_checkpoint(&r) == 0 && r.error == 0 && r.seq == 1);
    CHECK(stat(r.path, &st) == 0);
    if (sockdir) {
        snprintf(sock, sizeof sock, "%s/%d.sock", sockdir, (int)getpid());
        CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
    }
    clear_logs();
    CHECK(crs_checkpoint(NULL) == CRS_CONTINUE);
    check_result_ok();
    CHECK(crs_last_checkpoint(&r) == 0 && r.seq == 2);
    check_clean_logs(1);
    finish_workers();
}

static void mode_serve(void)
{
    start_workers();
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    /* A checkpoint interrupts sleep() (EINTR, as any signal handler does): sleep on. */
    for (time_t end = time(NULL) + WAIT_LIMIT_S; time(NULL) < end;)
        sleep(1);
    fprintf(stderr, "rt_prog: serve: nobody ended me\n");
    exit(3);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *d = getenv("CRSNAP_DIR");
    int r;

#if defined(__SANITIZE_ADDRESS__)
    /* A sanitized `crsnap restore` cannot bring back a sanitized image: both hold the
     * sanitizer's shadow at the same fixed addresses. Checkpoints themselves are tested. */
    if (!strcmp(mode, "restart"))
        return 77;
#endif
    CHECK(d && *d);
    snprintf(dir, sizeof dir, "%s", d);
    mkdir(dir, 0755);
    clean_dir();
    if ((r = crs_init(NULL)) != 0) {
        fprintf(stderr, "rt_prog: crs_init: %s\n", strerror(-r));
        return 1;
    }
    if (!strcmp(mode, "api"))
        mode_api();
    else if (!strcmp(mode, "timer"))
        mode_timer();
    else if (!strcmp(mode, "signal"))
        mode_signal();
    else if (!strcmp(mode, "blocked"))
        mode_blocked();
    else if (!strcmp(mode, "cs_stuck"))
        mode_cs_stuck();
    else if (!strcmp(mode, "sigmask"))
        mode_sigmask();
    else if (!strcmp(mode, "veto"))
        mode_veto();
    else if (!strcmp(mode, "unwritable") && argc > 2)
        mode_unwritable(argv[2]);
    else if (!strcmp(mode, "fsize"))
        mode_fsize();
    else if (!strcmp(mode, "restart"))
        mode_restart();
    else if (!strcmp(mode, "serve"))
        mode_serve();
    else {
        fprintf(stderr, "usage: rt_prog api|timer|signal|blocked|veto|unwritable FILE|serve\n");
        return 2;
    }
    printf("rt_prog %s: ok\n", mode);
    return 0;
}
