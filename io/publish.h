/* io/publish.h - putting a finished image in place: its hidden temp name, the atomic rename,
 * directory fsync, the `latest` link and retention. Runs in the snapshot child: no malloc, no
 * stdio, no locks.
 */
#ifndef CRS_IO_PUBLISH_H
#define CRS_IO_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

/* DIR/.NAME.tmp-PID for the final path DIR/NAME. Returns 0 or -ENAMETOOLONG. */
int crs_publish_temp_name(const char *final, int pid, char *out, size_t cap);
/* The directory part of a path ("." when there is none). */
int crs_publish_dirname(const char *path, char *out, size_t cap);
/* fsync(fd), close, rename(temp, final), fsync of final's directory. 0 or -errno; on failure
 * the caller unlinks temp. */
int crs_publish_commit(int fd, const char *temp, const char *final);
/* Points DIR/latest at NAME (a relative link) atomically. 0 or -errno. */
int crs_publish_latest(const char *dir, const char *name, int pid);
/* Deletes the oldest ckpt-*.crsnap images in dir beyond keep (0 = keep all), by sequence
 * number from their names, never `current` (a base name). Uses work (cap bytes) for the list.
 * Returns the number deleted or -errno. */
int crs_publish_retain(const char *dir, int keep, const char *current, void *work, size_t cap);

/* Removes DIR/.ckpt-*.crsnap.tmp-PID files left by snapshot children that died (PID gone).
 * Returns the number removed or -errno. */
int crs_publish_clean_temps(const char *dir);

#endif
