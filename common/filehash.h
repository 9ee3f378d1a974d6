/* common/filehash.h - the hash of a range of a file, as the image's MAPHASH section records it:
 * taken by the snapshot child at a checkpoint, taken again by the restorer to compare. */
#ifndef CRS_FILEHASH_H
#define CRS_FILEHASH_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

/* XXH3-64 of len bytes of fd from off, read through buf (cap bytes) with the caller's state.
 * Returns 0, or -EIO when the bytes cannot all be read (the file is shorter now). No malloc,
 * no stdio, no locks: it runs in the snapshot child. */
int crs_hash_file_range(int fd, uint64_t off, uint64_t len, char *buf, size_t cap,
                        XXH3_state_t *st, uint64_t *out);

#endif
