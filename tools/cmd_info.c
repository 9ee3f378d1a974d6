/* tools/cmd_info.c - placeholder until `crsnap info` is written. */
#include <stdio.h>
#include "commands.h"
int crs_cmd_info(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "crsnap info: not built yet\n");
    return CRS_EXIT_FAIL;
}
