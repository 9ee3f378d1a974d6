/* io/imgdir.h - the image directory a checkpoint writes into, opened and checked once before
 * the snapshot, as ssh checks the directory of its keys: a real directory (not a symbolic
 * link), owned by the effective user, writable by no one else, and writable by that user.
 */
#ifndef CRS_IO_IMGDIR_H
#define CRS_IO_IMGDIR_H

#include <stddef.h>

/* Opens path (creating it and its missing parents with mode 0700 when create is set) without
 * following a symbolic link at its last component, and checks it. Returns the descriptor
 * (O_DIRECTORY, close-on-exec) or -errno with a sentence naming path and what to do in msg:
 *   -ENOTDIR  a symbolic link or not a directory;
 *   -ENOTSUP  owned by another user, or writable by group or others (sticky or not);
 *   -EROFS    ours but not writable: a read-only mode or a read-only file system;
 *   other     the error of mkdir or open (-ENOENT, -EACCES on a parent...).
 * The error codes are not EACCES/EPERM on purpose where the directory is the problem: those
 * mean that the caller was refused, which is not what happened. May allocate (not for the
 * snapshot child). */
int crs_imgdir_open(const char *path, int create, char *msg, size_t cap);

#endif
