/* tools/cmd_ls.c - placeholder until `crsnap ls` is written. */
#include <stdio.h>
#include "commands.h"
int crs_cmd_ls(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "crsnap ls: not built yet\n");
    return CRS_EXIT_FAIL;
}
