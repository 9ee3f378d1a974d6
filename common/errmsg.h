/* common/errmsg.h - the one way the reader, the restorer and the tools put a message into a
 * caller's error buffer. Ordinary libc code (vsnprintf); not for the snapshot child or the
 * restart entry.
 */
#ifndef CRS_ERRMSG_H
#define CRS_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into err (len bytes, always terminated, truncated if need be); no-op without a
 * buffer. */
void crs_seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void crs_vseterr(char *err, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
