/* io/settings.c - the one parser of each setting shared by the library and the command line
 * (see settings.h). Plain libc: runs in the program at init and in the crsnap command.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "settings.h"


/* Which signals may trigger a checkpoint. Refused: those that cannot be caught (KILL, STOP);
 * those a fault or abort() raises (SEGV, BUS, FPE, ILL, TRAP, ABRT), whose handler would
 * take a crash for a request; the ones glibc keeps below SIGRTMIN; and SIGRTMAX-2, with
 * which the runtime stops the threads during a checkpoint. docs/crsnap.1 lists the same. */
int crs_signal_usable(int sig)
{
    if (sig < 1 || sig > SIGRTMAX || (sig > SIGSYS && sig < SIGRTMIN))
        return 0;
    switch (sig) {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGABRT:
        return 0;
    }
    return sig != SIGRTMAX - 2;
}

/* Only decimal digits, at most four of them; -1 otherwise. */
static int digits(const char *s)
{
    int n = 0, len = 0;

    if (!*s)
        return -1;
    for (; *s; s++, len++) {
        if (*s < '0' || *s > '9' || len >= 4)
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n;
}

int crs_parse_signal(const char *s, int *sig)
{
    const char *name = s;
    int n;

    if (!strcasecmp(s, "none")) {
        *sig = 0;
        return 0;
    }
    if ((n = digits(s)) < 0) {
        if (!strncasecmp(name, "SIG", 3))
            name += 3;
        if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
            int min = !strncasecmp(name, "RTMIN", 5), off = 0;
            if (name[5] && (name[5] != (min ? '+' : '-') || (off = digits(name + 6)) < 0))
                return -EINVAL;
            n = min ? SIGRTMIN + off : SIGRTMAX - off;
            if (n < SIGRTMIN || n > SIGRTMAX)
                return -EINVAL;
        } else {
            for (int i = 1; i < SIGRTMIN && n < 0; i++) {
                const char *abbrev = sigabbrev_np(i);
                if (abbrev && !strcasecmp(abbrev, name))
                    n = i;
            }
        }
    }
    if (!crs_signal_usable(n))
        return -EINVAL;
    *sig = n;
    return 0;
}

int crs_parse_interval(const char *s, double *out)
{
    char *end;
    double v;

    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end || !isfinite(v) || v < 0 || v > CRS_MAX_INTERVAL ||
        (v > 0 && v < CRS_MIN_INTERVAL))
        return -EINVAL;
    *out = v;
    return 0;
}

int crs_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

int crs_parse_keep(const char *s, int *out)
{
    long v;

    if (crs_parse_long(s, 0, CRS_MAX_KEEP, &v) < 0)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

int crs_parse_full_every(const char *s, int *out)
{
    long v;

    if (crs_parse_long(s, 1, CRS_MAX_FULL_EVERY, &v) < 0)
        return -EINVAL;
    *out = (int)v;
    return 0;
}
