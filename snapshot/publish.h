/* snapshot/publish.h - putting a finished image in place: its unpredictable temporary name, the
 * rename that never replaces another image, directory fsync, the `latest` link and retention.
 * Every name is relative to the image directory's descriptor, which the parent opened and
 * checked (io/imgdir.h); nothing here follows a symbolic link. Runs in the snapshot child: no
 * malloc, no stdio, no locks.
 */
#ifndef CRS_IO_PUBLISH_H
#define CRS_IO_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include "image/image.h"

#define CRS_PUBLISH_JOB_SIZE 16

/* Bytes of the longest image name: CRS_IMG_PREFIX, a uint64 in decimal (20 digits at most),
 * CRS_IMG_SUFFIX and the NUL. */
#define CRS_PUBLISH_NAME_SIZE (sizeof CRS_IMG_PREFIX - 1 + 20 + sizeof CRS_IMG_SUFFIX)

/* "ckpt-NNNNNN.crsnap" (at least six digits). Returns 0 or -ENAMETOOLONG. */
int crs_publish_image_name(uint64_t seq, char *out, size_t cap);

/* Creates a new, empty file (mode 0600, read-write) in dfd for the final name final (a base
 * name): ".FINAL.tmp-PID-JOB-RANDOM", with 64 random bits, O_EXCL and O_NOFOLLOW, trying other
 * random names when one exists, so that nothing planted at a name can block or redirect it.
 * Writes the name to out. Returns the descriptor or -errno. */
int crs_publish_create_temp(int dfd, const char *final, const uint8_t job[CRS_PUBLISH_JOB_SIZE],
                            char *out, size_t cap);

/* fsync(fd), then gives temp the name final in dfd. Without replace, an existing final is never
 * replaced: -EEXIST then, with temp and fd left as they were (the caller picks another name).
 * The directory is fsynced after the rename. fd stays open. Returns 0 or -errno. */
int crs_publish_commit(int dfd, int fd, const char *temp, const char *final, int replace);

/* The highest sequence number among the ckpt-*.crsnap names in dfd (0 if none), or -errno. */
int64_t crs_publish_max_seq(int dfd);

/* Points dfd/latest at name (a relative link) atomically: a symlink under a random temporary
 * name, renamed over `latest`. 0 or -errno. */
int crs_publish_latest(int dfd, const char *name, const uint8_t job[CRS_PUBLISH_JOB_SIZE]);

/* Deletes this job's oldest images in dfd beyond keep (0 = keep all), newest first by the
 * sequence number of their names, never `current` (a base name), which counts as kept. An
 * image is this job's when it is a regular file owned by the effective uid whose header holds
 * job (all-zero ids match nothing). Uses work (cap bytes) for the list. Returns the number
 * deleted or -errno. */
int crs_publish_retain(int dfd, int keep, const char *current,
                       const uint8_t job[CRS_PUBLISH_JOB_SIZE], void *work, size_t cap);

/* A job's images other than its root's are in a directory beside the root's image, named
 * after it: "ckpt-NNNNNN.parts" (runtime/tree.c). Retention deletes it with the root's image.
 * remove_parts removes such a directory of the user's and every name in it. */
#define CRS_PUBLISH_PARTS_SUFFIX ".parts"
void crs_publish_remove_parts(int dfd, const char *name);

/* Removes the temporary files and links this job's snapshot children left when they died (the
 * PID in their name is gone): only names of the form crs_publish_create_temp and
 * crs_publish_latest make with this job's id, owned by the effective uid. Returns the number
 * removed or -errno. */
int crs_publish_clean_temps(int dfd, const uint8_t job[CRS_PUBLISH_JOB_SIZE]);

#endif
