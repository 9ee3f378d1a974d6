/* common/escape.h - printing bytes that come from an image (program name, arguments, paths,
 * thread names...): an image may have been made by someone else, and its strings must neither
 * drive the terminal nor break the JSON that scripts parse.
 *
 * Text (crs_print_escaped): printable ASCII and valid UTF-8 are kept; a byte below 0x20, 0x7f,
 * a byte that is not part of valid UTF-8, and the C1 controls U+0080..U+009F are written as
 * \xNN (one per byte; \n, \t and \r as such); the bidirectional overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069), which reorder what a terminal shows, as \u202e; a backslash
 * as \\ so that the escapes are unambiguous.
 * JSON (crs_json_string): a quoted string that is valid UTF-8; controls, the C1 controls and
 * the bidirectional overrides as \u00NN / \u202e, '"' and '\' escaped, and each byte that is
 * not valid UTF-8 replaced by U+FFFD (written \ufffd).
 */
#ifndef CRS_TOOL_ESCAPE_H
#define CRS_TOOL_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* len bytes of s (NUL bytes included, escaped as \x00), escaped for a terminal. */
void crs_print_escaped(FILE *out, const char *s, size_t len);
/* The same for a NUL-terminated string; NULL prints "?". */
void crs_print_escaped_str(FILE *out, const char *s);
/* The same into buf (always NUL-terminated, cut short when cap is too small); returns buf. */
char *crs_escape_str(char *buf, size_t cap, const char *s);

/* A JSON string literal, quotes included, of len bytes of s. */
void crs_json_string(FILE *out, const char *s, size_t len);
/* The same for a NUL-terminated string; NULL prints null. */
void crs_json_string_str(FILE *out, const char *s);

#endif
