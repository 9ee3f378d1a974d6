/* runtime/writepath.c - says how the snapshot child wrote the image: through io_uring or with
 * pwrite, whole blocks with O_DIRECT or buffered. tmpfs, overlayfs, network and FUSE file
 * systems may refuse O_DIRECT or io_uring writes; the writer then falls back (snapshot/writer.c), and
 * the job's log says so once (an error-level line, shown whatever CRSNAP_LOG is), not at every
 * checkpoint. The usual path is said once at info level. Coordinator only.
 */
#define _GNU_SOURCE
#include <string.h>

#include "runtime.h"

#define SAID_NORMAL 1u
#define SAID_NO_URING 2u
#define SAID_NO_DIRECT 4u

static const char *why(int err)
{
    const char *d = strerrordesc_np(err < 0 ? -err : err);
    return d ? d : "?";
}

void crs_write_path_note(const struct crs_snap_report *rep)
{
    unsigned *said = &crs_state.write_path_said;

    if (rep->error && rep->bytes_written == 0 && !rep->uring_err && !rep->direct_err)
        return;                         /* failed before it wrote: nothing learnt */
    if (rep->uring_err && !(*said & SAID_NO_URING)) {
        *said |= SAID_NO_URING;
        crs_log(CRS_LOG_ERROR, "note: images in %s are written with pwrite, not io_uring (%s)",
                crs_state.cfg.dir, why(rep->uring_err));
    }
    if (rep->direct_err && !(*said & SAID_NO_DIRECT)) {
        *said |= SAID_NO_DIRECT;
        crs_log(CRS_LOG_ERROR, "note: the file system of %s refuses O_DIRECT (%s): images are"
                " written through the page cache", crs_state.cfg.dir, why(rep->direct_err));
    }
    if (!rep->error && !(*said & SAID_NORMAL)) {
        *said |= SAID_NORMAL;
        crs_log(CRS_LOG_INFO, "images in %s are written %s, %s", crs_state.cfg.dir,
                rep->uring ? "through io_uring" : "with pwrite",
                rep->direct > 0 ? "whole blocks with O_DIRECT"
                : rep->direct < 0 ? "buffered (CRSNAP_NO_DIRECT)" : "buffered");
    }
}
