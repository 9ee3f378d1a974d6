/* tools/image_fmt.h - formatting shared by the image commands (info, verify, ls): sizes,
 * times, durations and JSON strings, so that they all print the same way. */
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
/* A JSON string literal, quotes included. */
void crs_json_str(FILE *out, const char *s);

#endif
