/* common/errmsg.c - formatting a message into a caller's error buffer, shared by the reader,
 * the restorer and the tools so that each does not keep its own copy.
 * Ordinary libc code; never used in the snapshot child or the restart entry.
 */
#include "errmsg.h"

#include <stdio.h>

void crs_vseterr(char *err, size_t len, const char *fmt, va_list ap)
{
    if (!err || !len)
        return;
    vsnprintf(err, len, fmt, ap);
}

void crs_seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    crs_vseterr(err, len, fmt, ap);
    va_end(ap);
}
