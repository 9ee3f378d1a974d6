/* io/settings.h - parsers of the settings that both the library (runtime/config.c, from the
 * CRSNAP_* environment) and the command line (tools/cmd_run.c) read, so that a value means
 * the same, and is refused the same, wherever it is given.
 */
#ifndef CRS_IO_SETTINGS_H
#define CRS_IO_SETTINGS_H

#define CRS_MIN_INTERVAL 0.001      /* seconds; below this a timer would only ever checkpoint */
#define CRS_MAX_INTERVAL 1e8
#define CRS_MAX_KEEP 1000000        /* images kept */
#define CRS_DEFAULT_FULL_EVERY 8    /* every 8th image full, the 7 between incremental */
#define CRS_MAX_FULL_EVERY 64       /* the longest chain a reader follows (CRS_IMG_MAX_CHAIN) */

/* Whether signal sig may trigger a checkpoint. */
int crs_signal_usable(int sig);

/* "USR1", "SIGUSR1", "usr1", "10", "RTMIN+3", "SIGRTMAX-5"; "none" = no signal (0).
 * Returns 0 with *sig set, or -EINVAL for text that is not a usable signal. */
int crs_parse_signal(const char *s, int *sig);

/* Seconds between checkpoints: 0 (none) or 0.001 to 1e8, fractions allowed. 0 or -EINVAL. */
int crs_parse_interval(const char *s, double *out);

/* Images kept: a whole number, 0 (all) to 1000000. 0 or -EINVAL. */
/* A whole decimal integer in [lo, hi], blanks around it allowed, nothing else. */
int crs_parse_long(const char *s, long lo, long hi, long *out);
int crs_parse_keep(const char *s, int *out);
/* How often an image is full: 1 (always) to CRS_MAX_FULL_EVERY. 0 or -EINVAL. */
int crs_parse_full_every(const char *s, int *out);

#endif
