/* io/settings.h - parsers of the settings that both the library (runtime/config.c, from the
 * CRSNAP_* environment) and the command line (tools/cmd_run.c) read, so that a value means
 * the same, and is refused the same, wherever it is given.
 */
#ifndef CRS_IO_SETTINGS_H
#define CRS_IO_SETTINGS_H

/* Whether signal sig may trigger a checkpoint. */
int crs_signal_usable(int sig);

/* "USR1", "SIGUSR1", "usr1", "10", "RTMIN+3", "SIGRTMAX-5"; "none" = no signal (0).
 * Returns 0 with *sig set, or -EINVAL for text that is not a usable signal. */
int crs_parse_signal(const char *s, int *sig);

#endif
