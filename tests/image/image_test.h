/* tests/image/image_test.h - shared helpers of the image tests: fresh directories under
 * CRSNAP_TEST_TMP, a hand-made snapshot request, and running the snapshot child in a fork. */
#ifndef CRS_IMAGE_TEST_H
#define CRS_IMAGE_TEST_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "image/reader.h"
#include "snapshot/snapshot.h"

struct crs_test_req {
    struct crs_snap_request req;
    struct crs_img_thread thread;
    int report[2];
    int pause[2];
    struct crs_snap_deleted deleted;   /* crs_test_delete_file() */
};

/* CRSNAP_TEST_TMP/image/NAME, emptied. */
void crs_test_dir(char *out, size_t cap, const char *name);
struct crs_test_req *crs_test_req_new(const char *path, const char *dir, uint64_t seq);
void crs_test_req_free(struct crs_test_req *t);
/* Forks, runs pre() (may be NULL) then the snapshot child; returns the pid. */
pid_t crs_test_start_child(struct crs_test_req *t, void (*pre)(void));
/* Reads the report (zeroed if none came) and reaps: exit status, or 128 + signal. */
int crs_test_finish_child(struct crs_test_req *t, pid_t pid, struct crs_snap_report *rep);
int crs_test_run_child(struct crs_test_req *t, struct crs_snap_report *rep, void (*pre)(void));
/* Runs the snapshot child for t, frees t and reads the image it wrote (t's path) into *img,
 * malloc'd: 0, or -1 if the child or the read failed. */
int crs_test_write_image(struct crs_test_req *t, struct crs_snap_report *rep, char **img,
                         size_t *len);
/* Runs bin (the crsnap CLI) with argv (argv[0] included, NULL-terminated), its stdin and stdout
 * on /dev/null and its stderr into dir/stderr; nofile_max, if not 0, lowers the RLIMIT_NOFILE
 * hard limit before the exec and takes away the power to raise it again. Returns the wait
 * status; *text is the stderr (malloc'd, NUL-terminated, NULL if unreadable), *len its length. */
int crs_test_cli(const char *bin, const char *dir, rlim_t nofile_max, const char *const *argv,
                 char **text, size_t *len);
/* What the runtime does while the threads are stopped, done by hand: a pipe of this process
 * with text waiting in it, recorded as the QUEUED section's one record; a file of dir, unlinked,
 * holding text, copied into a memfd for the DELETED section. Return the descriptor (the pipe's
 * read end, the file), or -1. */
int crs_test_queue_pipe(struct crs_test_req *t, const char *text);
int crs_test_delete_file(struct crs_test_req *t, const char *dir, const char *text);
/* Entries of dir whose names start with prefix. */
int crs_test_count(const char *dir, const char *prefix);
/* Whole file into a malloc'd buffer; *len set. */
char *crs_test_slurp(const char *path, size_t *len);
void crs_test_spit(const char *path, const void *p, size_t len);

/* Editing an image in memory (p, n bytes): the checksums of the table of contents and the
 * trailer rewritten after an edit; the table entry of a section type (NULL if none); a
 * section's checksum after an edit of its payload, so that the deeper checks must catch it. */
void crs_test_fix_sums(char *p, size_t n);
struct crs_img_toc_entry *crs_test_entry(char *p, size_t n, uint32_t type);
void crs_test_resum(char *p, struct crs_img_toc_entry *e);

#endif
