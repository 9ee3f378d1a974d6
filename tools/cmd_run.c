/* tools/cmd_run.c - placeholder until `crsnap run` is written. */
#include <stdio.h>
#include "commands.h"
int crs_cmd_run(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "crsnap run: not built yet\n");
    return CRS_EXIT_FAIL;
}
