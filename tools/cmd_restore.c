/* tools/cmd_restore.c - placeholder until `crsnap restore` is written. */
#include <stdio.h>
#include "commands.h"
int crs_cmd_restore(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "crsnap restore: not built yet\n");
    return CRS_EXIT_FAIL;
}
