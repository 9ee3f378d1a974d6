/* common/hugebuf.h - buffers of a few MiB that a restore fills once and reads through (the
 * page index, the read windows, the compressed-chunk buffers): backed by transparent huge
 * pages where the kernel allows, so that filling one costs a fault per 2 MiB, not per 4 KiB.
 */
#ifndef CRS_HUGEBUF_H
#define CRS_HUGEBUF_H

#include <stddef.h>

/* A zeroed buffer of len bytes, 2 MiB aligned, or NULL with errno set. */
void *crs_hugebuf_alloc(size_t len);
/* Frees what crs_hugebuf_alloc gave for len (NULL is fine). */
void crs_hugebuf_free(void *p, size_t len);

#endif
