/* tests/tools/probe.c - a small dynamic program that `crsnap run` starts in the tools tests:
 * it exits with a chosen status, dies by a chosen signal, prints what it was started with, or
 * waits to be checkpointed. One action per run, chosen by argv[1].
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_env(const char *name)
{
    const char *v = getenv(name);
    printf("%s=%s\n", name, v ? v : "(unset)");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: probe exit N | signal N | env | pid | args ... | sleep SECS\n");
        return 2;
    }
    if (!strcmp(argv[1], "exit") && argc == 3)
        return atoi(argv[2]);
    if (!strcmp(argv[1], "signal") && argc == 3) {
        int sig = atoi(argv[2]);
        signal(sig, SIG_DFL);
        raise(sig);
        return 1;
    }
    if (!strcmp(argv[1], "env")) {
        print_env("LD_PRELOAD");
        print_env("CRSNAP_DIR");
        print_env("CRSNAP_INTERVAL");
        print_env("CRSNAP_KEEP");
        print_env("CRSNAP_SIGNAL");
        return 0;
    }
    if (!strcmp(argv[1], "pid")) {
        printf("%d\n", (int)getpid());
        return 0;
    }
    if (!strcmp(argv[1], "args")) {
        for (int i = 0; i < argc; i++)
            printf("[%s]", argv[i]);
        printf("\n");
        return 0;
    }
    if (!strcmp(argv[1], "sleep") && argc == 3) {
        /* Sleeps in short steps: a checkpoint may interrupt a step early (EINTR). */
        for (int i = 0; i < atoi(argv[2]) * 10; i++)
            usleep(100000);
        printf("slept\n");
        return 0;
    }
    fprintf(stderr, "probe: unknown action '%s'\n", argv[1]);
    return 2;
}
