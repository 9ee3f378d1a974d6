/* tools/resume.h - `crsnap run --resume`: find an image of this job in DIR and become it. */
#ifndef CRS_TOOL_RESUME_H
#define CRS_TOOL_RESUME_H

#include <stddef.h>

#define CRS_JOB_ENV "CRSNAP_JOB"

#include "restore/restore.h"           /* CRS_REEXEC_ENV, CRS_REEXEC_MAX */

/* The job's identity: a hash of PROGRAM's real path and its arguments (args[0] excluded),
 * 16 hex digits into out (17 bytes). crsnap run puts it in the program's environment, so every
 * image records it. 0 or -errno. */
int crs_job_id(const char *prog, char *const args[], char *out, size_t size);

/* Restores the newest image in dir whose CRSNAP_JOB is job; on success never returns. Images
 * that cannot be restored are reported and the next older one is tried. Returns -1 when there
 * is no image of this job (start PROGRAM), or an exit status when some could not be restored
 * and fresh_ok is 0 (the reason printed). cmd_argv is crsnap's own argument vector, for a
 * re-execution when the restorer's layout collides with an image. */
int crs_run_resume(char **cmd_argv, const char *dir, const char *job, int fresh_ok);

#endif
