/* common/proc_util.h - small helpers for code that runs in the snapshot child: no malloc, no
 * stdio, no locks. Number parsing and formatting, bounded string building, reading a /proc
 * file into a caller's buffer, and errno texts that do not go through the locale.
 */
#ifndef CRS_PROC_UTIL_H
#define CRS_PROC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A directory entry as getdents64 returns it (the kernel's layout; glibc declares none). */
struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Walks a directory with raw getdents64 into a caller's buffer: no malloc, no stdio, no locks,
 * so it serves the snapshot child and the runtime while threads are stopped. The caller opens
 * and closes fd. */
struct crs_dirwalk {
    int fd;
    char *buf;
    size_t cap;
    long got, off;
};
void crs_dirwalk_init(struct crs_dirwalk *w, int fd, char *buf, size_t cap);
/* Sets *name to the next entry's name: returns 1, 0 at the end, or -errno. */
int crs_dirwalk_next(struct crs_dirwalk *w, const char **name);
/* A name that is a whole decimal number (a /proc fd or tid) as an int, else -1. */
int crs_dirent_num(const char *name);

/* A bounded string being built; overflow truncates and sets full. */
struct crs_sbuf {
    char *p;
    size_t len, cap;
    int full;
};
void crs_sb_init(struct crs_sbuf *b, char *p, size_t cap);
void crs_sb_str(struct crs_sbuf *b, const char *s);
void crs_sb_u64(struct crs_sbuf *b, uint64_t v);
void crs_sb_u64w(struct crs_sbuf *b, uint64_t v, int width); /* zero-padded */
void crs_sb_hex(struct crs_sbuf *b, uint64_t v);                /* 0x... */
/* DIR followed by the number: "/proc/self/fd/" 7 gives "/proc/self/fd/7". */
void crs_fd_path(char *out, size_t cap, const char *dir, int fd);

/* Parsers: advance *s past the number; return 0 or -EINVAL if no digit was found. */
int crs_parse_hex(const char **s, uint64_t *out);
int crs_parse_dec(const char **s, uint64_t *out);
int crs_parse_sdec(const char **s, int64_t *out);
int crs_parse_oct(const char **s, uint64_t *out);
void crs_skip_space(const char **s);
/* Finds "key" at the start of a line in text[0..len) and returns what follows it, or NULL. */
const char *crs_find_field(const char *text, size_t len, const char *key);

size_t crs_strlen(const char *s);
int crs_strncmp_prefix(const char *s, const char *prefix); /* 1 if s starts with prefix */

/* Reads a whole (small) file into buf, NUL-terminated; returns bytes read or -errno. */
long crs_read_file(const char *path, char *buf, size_t cap);
/* Calls fn on each line of path (without its newline), read through buf. Returns 0 at the end,
 * fn's first non-zero return, -E2BIG for a line longer than cap - 1, or -errno. */
int crs_read_lines(const char *path, char *buf, size_t cap,
                   int (*fn)(char *line, size_t len, void *arg), void *arg);

/* "No space left on device" and friends, without strerror (which may lock or allocate). */
const char *crs_errno_text(int err);

#endif
