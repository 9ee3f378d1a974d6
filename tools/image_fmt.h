/* tools/image_fmt.h - what the image commands (info, verify, ls) share: the formatting of
 * sizes, times and durations, so that they all print the same way, and the
 * parsing of their one-image command line. */
#ifndef CRS_TOOL_IMAGE_FMT_H
#define CRS_TOOL_IMAGE_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "512 B", "12.0 KiB", "1.0 GiB" */
const char *crs_fmt_bytes(char *buf, size_t cap, uint64_t n);
/* "2026-11-25 15:30:19 UTC" from CLOCK_REALTIME nanoseconds */
const char *crs_fmt_time(char *buf, size_t cap, uint64_t ns);
/* "850 us", "1.23 ms", "2.5 s" */
const char *crs_fmt_duration(char *buf, size_t cap, uint64_t ns);

/* The command line "[--FLAG] [--help] IMAGE": FLAG is long name flag_name (short letter
 * flag_short, or 0 for none) and sets *flag. Returns -1 with *path set when the command goes
 * on, else the exit status it returns: CRS_EXIT_OK after help, CRS_EXIT_USAGE after a usage
 * message on stderr. */
int crs_image_cmd_args(int argc, char **argv, const char *flag_name, int flag_short, int *flag,
                       void (*usage)(FILE *out), const char **path);

#endif
