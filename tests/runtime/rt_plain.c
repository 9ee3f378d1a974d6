/* tests/runtime/rt_plain.c - a program that knows nothing of crsnap, for the preload
 * constructor: under LD_PRELOAD=libcrsnap.so with CRSNAP_INTERVAL set, images must appear in
 * CRSNAP_DIR while it runs ("wait"); with a bad CRSNAP_* value it must simply run ("run").
 *
 * With "child", it also runs itself again as a child with CRSNAP_PID naming the parent: that
 * child is a member of the parent's job and starts crsnap too (a control socket of its own, the
 * root's to ask), unless CRSNAP_TREE=0 keeps it out (then no socket).
 *
 *   rt_plain wait | run | child     exit 0 = pass
 */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_S 30

static volatile int stop;

static void *churn(void *arg)
{
    unsigned long n = 0;
    (void)arg;
    while (!stop) {
        void *p = malloc(1 + n++ % 4096);
        free(p);
        if (n % 1024 == 0)
            usleep(100);
    }
    return NULL;
}

static int images(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, "ckpt-", 5) && !strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("CRSNAP_DIR");
    pthread_t t[3];
    int ok = 1;

    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    if (argc > 1 && !strcmp(argv[1], "child")) {
        /* The parent has a control socket; a child run with CRSNAP_PID=parent has none. */
        char pid[32], sock[4200];
        const char *sd = getenv("CRSNAP_SOCKET_DIR");
        struct stat st;
        int status;
        snprintf(sock, sizeof sock, "%s/%d.sock", sd, (int)getpid());
        ok = stat(sock, &st) == 0;
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        setenv("CRSNAP_PID", pid, 1);
        pid_t c = fork();
        if (c == 0) {
            execl(argv[0], argv[0], "probe", (char *)NULL);
            _exit(127);
        }
        ok = ok && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    } else if (argc > 1 && !strcmp(argv[1], "probe")) {
        char sock[4200];
        struct stat st;
        usleep(100000);
        const char *tree = getenv("CRSNAP_TREE");
        snprintf(sock, sizeof sock, "%s/%d.sock", getenv("CRSNAP_SOCKET_DIR"), (int)getpid());
        ok = (stat(sock, &st) == 0) == !(tree && !strcmp(tree, "0"));
    } else if (argc > 1 && !strcmp(argv[1], "wait")) {
        time_t end = time(NULL) + LIMIT_S;
        while (images(dir) < 2 && time(NULL) < end)
            usleep(10000);
        ok = images(dir) >= 2;
    } else {
        usleep(100000);
    }
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "rt_plain: %s\n", ok ? "done" : "failed");
    return ok ? 0 : 1;
}
