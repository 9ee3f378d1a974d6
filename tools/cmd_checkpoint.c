/* tools/cmd_checkpoint.c - placeholder until `crsnap checkpoint` is written. */
#include <stdio.h>
#include "commands.h"
int crs_cmd_checkpoint(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "crsnap checkpoint: not built yet\n");
    return CRS_EXIT_FAIL;
}
