/* common/filehash.c - the hash of a range of a file (filehash.h). Runs in the snapshot child
 * (snapshot/maphash.c) and in the restorer (restore/restore_check.c): plain reads into the
 * caller's buffer, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include "filehash.h"

#include <errno.h>
#include <unistd.h>

int crs_hash_file_range(int fd, uint64_t off, uint64_t len, char *buf, size_t cap,
                        XXH3_state_t *st, uint64_t *out)
{
    if (XXH3_64bits_reset(st) != XXH_OK)
        return -EIO;
    for (uint64_t done = 0; done < len;) {
        size_t want = len - done < cap ? (size_t)(len - done) : cap;
        ssize_t n = pread(fd, buf, want, (off_t)(off + done));
        if (n <= 0)
            return -EIO;
        XXH3_64bits_update(st, buf, (size_t)n);
        done += (uint64_t)n;
    }
    *out = XXH3_64bits_digest(st);
    return 0;
}
