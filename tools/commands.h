/* tools/commands.h - the subcommands of the crsnap command, one file each. Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure of the operation, 2 wrong usage (see crsnap(1), EXIT STATUS). */
#ifndef CRS_TOOL_COMMANDS_H
#define CRS_TOOL_COMMANDS_H

int crs_cmd_run(int argc, char **argv);
int crs_cmd_checkpoint(int argc, char **argv);
int crs_cmd_restore(int argc, char **argv);
int crs_cmd_info(int argc, char **argv);
int crs_cmd_verify(int argc, char **argv);
int crs_cmd_ls(int argc, char **argv);

#define CRS_EXIT_OK 0
#define CRS_EXIT_FAIL 1
#define CRS_EXIT_USAGE 2
#define CRS_EXIT_UNTRUSTED 4    /* restore, run -r: the image or its directory is not trusted */

#endif
