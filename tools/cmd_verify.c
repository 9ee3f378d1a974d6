/* tools/cmd_verify.c - placeholder until `crsnap verify` is written. */
#include <stdio.h>
#include "commands.h"
int crs_cmd_verify(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "crsnap verify: not built yet\n");
    return CRS_EXIT_FAIL;
}
