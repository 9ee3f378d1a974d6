/* tools/crsnap.c - the crsnap command: finds the subcommand and hands it the rest of the line.
 * Each subcommand lives in its own file (cmd_*.c) and documents itself with --help. */
#include <stdio.h>
#include <string.h>
#include "commands.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", crs_cmd_run, "start a program with checkpointing enabled"},
    {"checkpoint", crs_cmd_checkpoint, "ask a running process for a checkpoint"},
    {"restore", crs_cmd_restore, "bring a process back from an image"},
    {"info", crs_cmd_info, "describe an image"},
    {"verify", crs_cmd_verify, "check an image's integrity"},
    {"ls", crs_cmd_ls, "list the images in a directory"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crsnap COMMAND [OPTIONS] [ARGS]\n\n"
                 "Transparent checkpoint/restart for Linux processes.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\ntypical use:\n"
                 "  crsnap run -d DIR -i 600 ./job ARGS   checkpoint ./job every 10 minutes\n"
                 "  crsnap checkpoint -w PID              one now; prints the image path\n"
                 "  crsnap restore DIR                    bring back the newest image in DIR\n"
                 "  crsnap run -r --exit-on USR1,TERM -d DIR ./job ARGS\n"
                 "                                        in a batch job: resume if DIR has an\n"
                 "                                        image; checkpoint and end on a signal\n"
                 "\nexit status: 0 success, 1 the operation failed, 2 wrong usage; 'run' and\n"
                 "'restore' end with the program's own status.\n"
                 "\n'crsnap COMMAND --help' describes a command; man crsnap(1) has the rest,\n"
                 "crsnap(3) the library.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CRS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CRS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("crsnap 0.1.0\n");
        return CRS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "crsnap: unknown command '%s' (try 'crsnap --help')\n", argv[1]);
    return CRS_EXIT_USAGE;
}
