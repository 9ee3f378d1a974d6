/* image/dir.c - finding images in a directory by name: the newest, or the newest below a
 * sequence number, opening each candidate so that a damaged one is reported, never chosen.
 */
#define _GNU_SOURCE
#include "reader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True for "ckpt-*.crsnap": temp files are hidden (leading dot) and never match. */
static int is_image_name(const char *name)
{
    size_t n = strlen(name), lp = strlen(CRS_IMG_PREFIX), ls = strlen(CRS_IMG_SUFFIX);
    return n > lp + ls && !strncmp(name, CRS_IMG_PREFIX, lp) &&
           !strcmp(name + n - ls, CRS_IMG_SUFFIX);
}

/* The sequence number a file name carries ("ckpt-000012.crsnap" -> 12), for images too
 * damaged to read it from; UINT64_MAX when the name has none. */
static uint64_t name_seq(const char *name)
{
    const char *p = name + strlen(CRS_IMG_PREFIX);
    char *end;
    unsigned long long v;

    if (*p < '0' || *p > '9')
        return UINT64_MAX;
    errno = 0;
    v = strtoull(p, &end, 10);
    return errno || strcmp(end, CRS_IMG_SUFFIX) ? UINT64_MAX : (uint64_t)v;
}

int crs_image_find_latest(const char *dir, char *path, size_t len)
{
    return crs_image_find_below(dir, UINT64_MAX, NULL, NULL, path, len, NULL);
}

int crs_image_find_below(const char *dir, uint64_t below, crs_image_skip_fn skip, void *arg,
                         char *path, size_t len, uint64_t *seq_out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint64_t best_seq = 0, best_time = 0;
    int found = 0;

    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        char p[CRS_PATH_MAX], err[256];
        struct crs_image *img;
        if (!is_image_name(de->d_name))
            continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= sizeof p)
            continue;
        if (crs_image_open(p, &img, err, sizeof err)) {
            uint64_t ns = name_seq(de->d_name);
            if (skip && ns < below)
                skip(p, ns, err, arg);
            continue;
        }
        uint64_t seq = img->header.seq, t = img->header.created_ns;
        crs_image_close(img);
        if (seq >= below)
            continue;
        if (!found || seq > best_seq || (seq == best_seq && t > best_time)) {
            if ((size_t)snprintf(path, len, "%s", p) >= len)
                continue;
            best_seq = seq;
            best_time = t;
            found = 1;
        }
    }
    closedir(d);
    if (found && seq_out)
        *seq_out = best_seq;
    return found ? 0 : -ENOENT;
}
