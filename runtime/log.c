/* runtime/log.c - the runtime's logger: one "crsnap[PID]: ..." line on stderr per call, at or
 * below the configured level (CRSNAP_LOG). Formats into a stack buffer and writes it with one
 * write(2): no stdio lock, so the coordinator may log while application threads hold stderr's.
 * Not for signal handlers (vsnprintf is not async-signal-safe).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

void crs_log(int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    if (level > crs_state.cfg.log_level)
        return;
    n = snprintf(buf, sizeof buf, "crsnap[%d]: ", (int)getpid());
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0) {
        /* nowhere else to say it */
    }
}
