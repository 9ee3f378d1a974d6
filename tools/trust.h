/* tools/trust.h - which images `crsnap restore` believes. A restore runs the image as code with
 * the restorer's rights, so an image is trusted only when it is the restorer's own and sits
 * where no one else could have put or replaced it (the rule ssh applies to its keys):
 *
 *  - the image is a regular file owned by the restoring user (root: by root), not writable by
 *    its group or others;
 *  - every directory from / down to the image's is owned by root or by that user, and is not
 *    writable by its group or others unless it is sticky (/tmp): in a sticky directory no one
 *    else can rename or remove what is the user's.
 *
 * Paths are resolved once (realpath) and then walked again component by component with
 * O_NOFOLLOW from /, checking each directory on the descriptor that is then used, so a
 * directory swapped for a symlink meanwhile is an error, not a way around the rule. The last
 * component is never followed when it is a symlink to a directory; a symlink to an image is
 * followed only as the writer makes `latest`: owned by the user, pointing to a plain name in
 * the same directory.
 */
#ifndef CRS_TOOL_TRUST_H
#define CRS_TOOL_TRUST_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "image/reader.h"

/* --trust-image: accept an image whatever its owner and its directories' modes. The symlink
 * rules above still hold (the real path can always be named instead). */
#define CRS_TRUST_ANY 1u

/* Opens the image that `crsnap restore ARG` means: ARG itself, or, for a directory, the image
 * with the highest sequence number in its name (ckpt-NNNNNN.crsnap) among those that are
 * trusted and open cleanly; the ones passed over on the way, and the one chosen, are named on
 * notes (NULL: quiet).
 * Returns 0 with *out set; -EPERM when the ownership rule refuses it (err says why, and
 * CRS_TRUST_ANY would accept it); -EXDEV when the symlink rule refuses it (err says what to
 * name instead); another -errno when there is no such file, no complete image, or the file is
 * no image (err says which, with ARG). */
int crs_trust_open(const char *arg, unsigned flags, FILE *notes, struct crs_image **out,
                   char *err, size_t errlen);

/* 0 when the file st describes may be trusted by uid (owner, modes); else -EPERM and why. */
int crs_trust_file(const struct stat *st, uid_t uid, char *why, size_t len);

/* 0 when every directory from / down to DIR is trusted by the effective user; -EPERM with why
 * when one is not; another -errno when DIR cannot be resolved or walked. */
int crs_trust_dir(const char *dir, char *why, size_t len);

#endif
