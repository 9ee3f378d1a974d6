/* tools/cmd_ls.c - `crsnap ls DIR`: the images of a checkpoint directory, newest first, with
 * what each holds. Images that do not open cleanly, and temp files of writes that did not
 * finish, are listed as such rather than skipped: they are what a person looks for.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "common/escape.h"
#include "image_fmt.h"
#include "tree_info.h"
#include "trust.h"
#include "image/reader.h"
#include "snapshot/snapshot.h"

struct entry {
    char name[256];
    uint64_t seq;
    int temp;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crsnap ls DIR\n\n"
                 "List the checkpoint images in DIR, newest first: sequence, time, program,\n"
                 "memory covered, image size, compression ratio, pause. Damaged images and\n"
                 "unfinished writes are listed as such, and images that 'crsnap restore' would\n"
                 "not trust (another user's, writable by others) are marked so.\n\n"
                 "  -h, --help  show this help\n\n"
                 "Exit status: 0 listed, 1 DIR unreadable, 2 wrong usage.\n");
}

/* Sequence number from "ckpt-NNN.crsnap" or ".ckpt-NNN.crsnap.tmp-PID"; -1 for other names. */
static int parse_name(const char *name, uint64_t *seq, int *temp)
{
    const char *p = name;
    *temp = 0;
    if (*p == '.') {
        *temp = 1;
        p++;
    }
    if (strncmp(p, CRS_IMG_PREFIX, strlen(CRS_IMG_PREFIX)))
        return -1;
    p += strlen(CRS_IMG_PREFIX);
    char *end;
    if (*p < '0' || *p > '9')
        return -1;
    *seq = strtoull(p, &end, 10);
    if (strncmp(end, CRS_IMG_SUFFIX, strlen(CRS_IMG_SUFFIX)))
        return -1;
    end += strlen(CRS_IMG_SUFFIX);
    if (*temp)
        return strncmp(end, ".tmp-", 5) ? -1 : 0;
    return *end ? -1 : 0;
}

static int newest_first(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Everything an image says is escaped: the directory may hold another user's images. */
static void print_one(int dfd, const char *dir, const struct entry *e)
{
    char path[4096 + 256], err[512], t[64], m[32], s[32], p[32], why[256];
    struct crs_image *img;
    struct stat st;
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, e->name);
    if (e->temp) {
        if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            crs_fmt_bytes(s, sizeof s, (uint64_t)st.st_size);
        else
            snprintf(s, sizeof s, "?");
        printf("%6llu  %-23s  %-16s  %9s  %9s  %6s  %8s  incomplete: %s\n",
               (unsigned long long)e->seq, "-", "-", "-", s, "-", "-", e->name);
        return;
    }
    /* never through a symlink, and a FIFO named like an image must not block the listing */
    fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, sizeof err, "%s", errno == ELOOP ? "a symbolic link" : strerror(errno));
    } else if (fstat(fd, &st) < 0) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        close(fd);
        fd = -1;
    } else {
        why[0] = '\0';
        if (crs_trust_file(&st, geteuid(), err, sizeof err) < 0)
            snprintf(why, sizeof why, "  (not trusted: %.200s)", err);
        if (crs_image_open_fd(fd, path, &img, err, sizeof err) == 0)
            goto opened;
    }
    printf("%6llu  %-23s  %-16s  %9s  %9s  %6s  %8s  damaged: %s: ",
           (unsigned long long)e->seq, "-", "-", "-", "-", "-", "-", e->name);
    crs_print_escaped_str(stdout, err);
    putchar('\n');
    return;
opened:;
    /* ratio over page data: memory saved / bytes stored for it */
    uint64_t stored = 0;
    for (uint32_t i = 0; i < img->ntoc; i++)
        if (img->toc[i].type == CRS_SEC_PAGES)
            stored = img->toc[i].length;
    const char *prog = crs_image_string(img, img->process.comm);
    char prog_e[80];
    crs_escape_str(prog_e, sizeof prog_e, prog && *prog ? prog : "?");
    printf("%6llu  %-23s  %-16s  %9s  %9s  %5.1fx  %8s  %s%s",
           (unsigned long long)img->header.seq, crs_fmt_time(t, sizeof t, img->header.created_ns),
           prog_e, crs_fmt_bytes(m, sizeof m, img->process.memory_covered),
           crs_fmt_bytes(s, sizeof s, img->file_size),
           stored ? (double)img->process.memory_saved / (double)stored : 0.0,
           crs_fmt_duration(p, sizeof p, img->trailer.pause_ns), e->name, why);
    /* an incremental image: on which, and whether its chain is whole */
    if (img->parent) {
        printf("  (incr on ");
        crs_print_escaped_str(stdout, img->parent_name);
        if (crs_image_open_chain(img, err, sizeof err) < 0) {
            printf(", not restorable: ");
            crs_print_escaped_str(stdout, err);
        }
        putchar(')');
    }
    putchar('\n');
    crs_tree_info_ls(img);
    crs_image_close(img);
}

int crs_cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CRS_EXIT_OK;
        }
        usage(stderr);
        return CRS_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return CRS_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dup(dfd)) : NULL;
    if (!d) {
        fprintf(stderr, "crsnap ls: ");
        crs_print_escaped_str(stderr, dir);
        fprintf(stderr, ": %s\n", strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return CRS_EXIT_FAIL;
    }
    struct entry *ents = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct entry e;
        if (parse_name(de->d_name, &e.seq, &e.temp) || strlen(de->d_name) >= sizeof e.name)
            continue;
        strcpy(e.name, de->d_name);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *ne = realloc(ents, cap * sizeof *ents);
            if (!ne) {
                fprintf(stderr, "crsnap ls: out of memory\n");
                free(ents);
                closedir(d);
                close(dfd);
                return CRS_EXIT_FAIL;
            }
            ents = ne;
        }
        ents[n++] = e;
    }
    closedir(d);
    if (n)
        qsort(ents, n, sizeof *ents, newest_first);
    if (n)
        printf("%6s  %-23s  %-16s  %9s  %9s  %6s  %8s  %s\n", "SEQ", "TIME", "PROGRAM", "MEMORY",
               "IMAGE", "RATIO", "PAUSE", "FILE");
    for (size_t i = 0; i < n; i++)
        print_one(dfd, dir, &ents[i]);
    free(ents);
    close(dfd);
    return fflush(stdout) == 0 ? CRS_EXIT_OK : CRS_EXIT_FAIL;
}
