/* tools/cmd_verify.c - `crsnap verify IMAGE`: the full integrity check. Structure, every
 * checksum, and every chunk decompressed to its exact size; exit 0 only if all of it holds.
 * Progress is shown on stderr only when stderr is a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common/escape.h"
#include "image_fmt.h"
#include "image/reader.h"
#include "restore/restore.h"

struct progress {
    struct timespec start;
    double last;
    int shown;
};

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void show(uint64_t done, uint64_t total, void *arg)
{
    struct progress *p = arg;
    double el = since(&p->start);
    char a[32], b[32], c[32];
    if (done < total && el - p->last < 0.1)
        return;
    p->last = el;
    p->shown = 1;
    fprintf(stderr, "\rverified %s of %s (%s/s)\033[K", crs_fmt_bytes(a, sizeof a, done),
            crs_fmt_bytes(b, sizeof b, total),
            crs_fmt_bytes(c, sizeof c, el > 0 ? (uint64_t)((double)done / el) : 0));
}

/* "crsnap verify: PATH: ERR", the path and the reason escaped (both may come from the image). */
static void complain(const char *path, const char *err)
{
    fprintf(stderr, "crsnap verify: ");
    crs_print_escaped_str(stderr, path);
    fprintf(stderr, ": ");
    crs_print_escaped_str(stderr, err);
    fputc('\n', stderr);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: crsnap verify IMAGE\n\n"
                 "Check an image completely: header, trailer, table of contents, every section\n"
                 "and chunk checksum, and decompress every chunk; and what the image alone\n"
                 "must satisfy to be restored anywhere (limits, offsets); for a job's image,\n"
                 "the image of each of its processes too. `crsnap restore -n` checks this host\n"
                 "as well.\n\n"
                 "  -q, --quiet  print nothing when the image is sound\n"
                 "  -h, --help   show this help\n\n"
                 "Exit status: 0 sound, 1 damaged, incomplete or unreadable, 2 wrong usage.\n");
}

int crs_cmd_verify(int argc, char **argv)
{
    const char *path;
    int quiet = 0;
    int st = crs_image_cmd_args(argc, argv, "quiet", 'q', &quiet, usage, &path);
    if (st >= 0)
        return st;
    struct crs_image *img;
    struct progress prog = {0};
    char err[512];
    int r = crs_image_open(path, &img, err, sizeof err);
    if (r) {
        complain(path, err);
        return CRS_EXIT_FAIL;
    }
    clock_gettime(CLOCK_MONOTONIC, &prog.start);
    /* what no restore on any host could get past: the same checks as restore's */
    r = crs_restore_check_image(img, err, sizeof err);
    if (!r)
        r = crs_image_verify(img, isatty(2) ? show : NULL, &prog, err, sizeof err);
    /* an incremental image is sound only with every ancestor there, the right one, sound */
    if (!r && (r = crs_image_open_chain(img, err, sizeof err)) == 0)
        r = crs_image_check_chain(img, 1, err, sizeof err);
    if (prog.shown)
        fprintf(stderr, "\r\033[K");
    /* a job's image is sound only when every process's image is */
    for (uint32_t i = 1; !r && img->tree && i < img->ntree; i++) {
        const struct crs_img_tree_member *m = &img->tree_members[i];
        struct crs_image *part;
        char why[400];
        if (m->flags & CRS_TREE_F_ZOMBIE)
            continue;
        if ((r = crs_restore_tree_open_part(img, m->pid, &part, err, sizeof err)))
            break;
        if ((r = crs_restore_check_image(part, why, sizeof why)) == 0)
            r = crs_image_verify(part, NULL, NULL, why, sizeof why);
        if (r)
            snprintf(err, sizeof err, "process %u (%.16s) of the job: %s", m->pid, m->comm, why);
        crs_image_close(part);
    }
    if (r) {
        complain(path, err);
        crs_image_close(img);
        return CRS_EXIT_FAIL;
    }
    if (!quiet) {
        char a[32], b[32];
        crs_print_escaped_str(stdout, path);
        printf(": ok, %u regions, %s of pages in %u chunks, %s file", img->nvmas,
               crs_fmt_bytes(a, sizeof a, img->process.memory_saved), img->nchunks,
               crs_fmt_bytes(b, sizeof b, img->file_size));
        if (img->parent)
            printf(", incremental: %s more from %u ancestors, verified too",
                   crs_fmt_bytes(a, sizeof a, crs_image_chain_bytes(img)), img->parent->depth);
        if (img->tree)
            printf("; a job of %u processes, every image sound", img->ntree);
        putchar('\n');
    }
    crs_image_close(img);
    return CRS_EXIT_OK;
}
