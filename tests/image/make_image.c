/* tests/image/make_image.c - writes an image of itself, as the runtime would: forks and runs
 * the snapshot child, with bytes waiting in a pipe and a file with no name. For the shell tests
 * of info, verify and ls.
 * usage: make_image PATH DIR SEQ [KEEP]   (DIR "" for an explicit path) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_test.h"

int main(int argc, char **argv)
{
    struct crs_snap_report rep;
    if (argc < 4) {
        fprintf(stderr, "usage: make_image PATH DIR SEQ [KEEP]\n");
        return 2;
    }
    /* something worth compressing */
    size_t len = 4 << 20;
    char *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i % 251 < 100 ? i % 7 : 0);
    struct crs_test_req *t = crs_test_req_new(argv[1], argv[2], strtoull(argv[3], NULL, 10));
    if (argc > 4)
        t->req.keep = atoi(argv[4]);
    if (crs_test_queue_pipe(t, "twelve bytes") < 0 ||
        crs_test_delete_file(t, argv[2][0] ? argv[2] : "/tmp", "contents of a file without a name") < 0) {
        fprintf(stderr, "make_image: cannot make the pipe or the file\n");
        return 1;
    }
    int st = crs_test_run_child(t, &rep, NULL);
    if (st || rep.error) {
        fprintf(stderr, "make_image: %s (status %d)\n", rep.message, st);
        return 1;
    }
    crs_test_req_free(t);
    free(p);
    return 0;
}
