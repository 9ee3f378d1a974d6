/* common/escape.c - escaping of image strings for the terminal and for JSON (rules in escape.h).
 * One UTF-8 decoder decides what is text; both outputs go through one sink, so that a string
 * printed to a stream and one formatted into a message are escaped alike.
 */
#include "escape.h"

#include <stdint.h>
#include <string.h>

struct sink {
    FILE *out;          /* a stream, or */
    char *buf;          /* a buffer of cap bytes, filled up to len */
    size_t cap, len;
};

static void put(struct sink *k, const char *p, size_t n)
{
    if (k->out) {
        fwrite(p, 1, n, k->out);
        return;
    }
    if (k->len + 1 >= k->cap)
        return;
    if (n > k->cap - 1 - k->len)
        n = k->cap - 1 - k->len;
    memcpy(k->buf + k->len, p, n);
    k->len += n;
    k->buf[k->len] = '\0';
}

/* Length (2..4) of the valid UTF-8 sequence at s[0..n), its code point in *cp; 0 when s[0]
 * does not start one (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c, min;
    size_t len;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2, c = s[0] & 0x1f, min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3, c = s[0] & 0x0f, min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Characters that are valid but steer the terminal: C1 controls, bidirectional overrides. */
static int hazardous(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

static void text(struct sink *k, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    char e[16];
    size_t i = 0;

    while (i < len) {
        unsigned char b = s[i];
        uint32_t cp;
        size_t n;
        if (b >= 0x20 && b < 0x7f) {
            if (b == '\\')
                put(k, "\\\\", 2);
            else
                put(k, (const char *)&s[i], 1);
            i++;
        } else if (b == '\n' || b == '\t' || b == '\r') {
            put(k, b == '\n' ? "\\n" : b == '\t' ? "\\t" : "\\r", 2);
            i++;
        } else if (b >= 0x80 && (n = utf8_seq(s + i, len - i, &cp)) > 0) {
            if (cp <= 0x9f) {               /* C1: its bytes, as any other control */
                for (size_t j = 0; j < n; j++)
                    put(k, e, (size_t)snprintf(e, sizeof e, "\\x%02x", s[i + j]));
            } else if (hazardous(cp)) {
                put(k, e, (size_t)snprintf(e, sizeof e, "\\u%04x", (unsigned)cp));
            } else {
                put(k, (const char *)&s[i], n);
            }
            i += n;
        } else {
            put(k, e, (size_t)snprintf(e, sizeof e, "\\x%02x", b));
            i++;
        }
    }
}

static void json(struct sink *k, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    char e[16];
    size_t i = 0;

    put(k, "\"", 1);
    while (i < len) {
        unsigned char b = s[i];
        uint32_t cp;
        size_t n;
        if (b == '"' || b == '\\') {
            put(k, b == '"' ? "\\\"" : "\\\\", 2);
            i++;
        } else if (b >= 0x20 && b < 0x7f) {
            put(k, (const char *)&s[i], 1);
            i++;
        } else if (b < 0x80) {
            if (b == '\n' || b == '\t' || b == '\r')
                put(k, b == '\n' ? "\\n" : b == '\t' ? "\\t" : "\\r", 2);
            else
                put(k, e, (size_t)snprintf(e, sizeof e, "\\u%04x", b));
            i++;
        } else if ((n = utf8_seq(s + i, len - i, &cp)) > 0) {
            if (hazardous(cp))
                put(k, e, (size_t)snprintf(e, sizeof e, "\\u%04x", (unsigned)cp));
            else
                put(k, (const char *)&s[i], n);
            i += n;
        } else {
            put(k, "\\ufffd", 6);
            i++;
        }
    }
    put(k, "\"", 1);
}

void crs_print_escaped(FILE *out, const char *s, size_t len)
{
    struct sink k = {.out = out};
    text(&k, s, len);
}

void crs_print_escaped_str(FILE *out, const char *s)
{
    if (!s)
        s = "?";
    crs_print_escaped(out, s, strlen(s));
}

char *crs_escape_str(char *buf, size_t cap, const char *s)
{
    struct sink k = {.buf = buf, .cap = cap};
    if (!cap)
        return buf;
    buf[0] = '\0';
    if (!s)
        s = "?";
    text(&k, s, strlen(s));
    return buf;
}

void crs_json_string(FILE *out, const char *s, size_t len)
{
    struct sink k = {.out = out};
    json(&k, s, len);
}

void crs_json_string_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    crs_json_string(out, s, strlen(s));
}
