/* restore/restore_layout.c - the restorer's own address space against the saved one: its
 * mappings must leave every saved region free (else a fresh layout is needed: re-execute), and
 * they become the list of ranges that the restart entry unmaps once it runs.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STACK_ROOM (4ull << 20)

static int is_vdso_block(const char *name)
{
    return !strcmp(name, "[vdso]") || !strncmp(name, "[vvar", 5);
}

int crs_restore_read_maps(struct crs_restore *r, char *err, size_t errlen)
{
    size_t cap = 256 * 1024, len = 0;
    char *buf = malloc(cap);
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (!buf || fd < 0) {
        int e = fd < 0 ? errno : ENOMEM;
        free(buf);
        if (fd >= 0)
            close(fd);
        crs_seterr(err, errlen, "reading /proc/self/maps: %s", strerror(e));
        return -e;
    }
    while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    r->nmaps = 0;
    for (char *line = buf; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        unsigned long long s, e;
        int name_at = 0;
        if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &s, &e, &name_at) >= 2) {
            if (r->nmaps == CRS_RESTORE_MAX_MAPS) {
                free(buf);
                crs_seterr(err, errlen, "the restorer has too many mappings");
                return -E2BIG;
            }
            struct crs_restore_map *m = &r->maps[r->nmaps++];
            m->start = s;
            m->end = e;
            snprintf(m->name, sizeof m->name, "%s", name_at ? line + name_at : "");
            /* The restorer's stack may still grow, and the kernel keeps a gap below it: claim
             * that room too, so that no saved region lands there. */
            if (!strcmp(m->name, "[stack]") && m->start > STACK_ROOM)
                m->start -= STACK_ROOM;
        }
        line = next;
    }
    free(buf);
    return 0;
}

static int overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 < b1 && b0 < a1;
}

int crs_restore_check_layout(const struct crs_restore *r, char *err, size_t errlen)
{
    const struct crs_image *img = r->img;

    /* The kernel's vDSO block is moved, not rebuilt: each piece must exist here, same size. */
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        const char *name = crs_image_string(img, v->path);
        int found = 0;
        if (v->kind != CRS_VMA_VDSO && v->kind != CRS_VMA_VVAR)
            continue;
        for (uint32_t j = 0; j < r->nmaps; j++)
            found |= name && !strcmp(r->maps[j].name, name) &&
                     r->maps[j].end - r->maps[j].start == v->end - v->start;
        if (!found) {
            crs_seterr(err, errlen, "incompatible host: no %s of %" PRIu64 " bytes here",
                       name && name[0] ? name : "vdso", v->end - v->start);
            return -ENOEXEC;
        }
    }

    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if (v->kind == CRS_VMA_VSYSCALL)
            continue;
        for (uint32_t j = 0; j < r->nmaps; j++) {
            const struct crs_restore_map *m = &r->maps[j];
            if (!strcmp(m->name, "[vsyscall]") || !overlaps(v->start, v->end, m->start, m->end))
                continue;
            /* The vDSO block already where the image wants it: nothing to move. */
            if ((v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR) && is_vdso_block(m->name) &&
                v->start == m->start && v->end == m->end)
                continue;
            crs_seterr(err, errlen,
                       "the restorer's own mapping %" PRIx64 "-%" PRIx64 " %s overlaps "
                       "the saved region %" PRIx64 "-%" PRIx64, m->start, m->end, m->name, v->start,
                       v->end);
            return -EADDRINUSE;
        }
    }
    return 0;
}

/* True when some saved region lies in [a, b). */
static int saved_between(const struct crs_image *img, uint64_t a, uint64_t b)
{
    for (uint32_t i = 0; i < img->nvmas; i++)
        if (overlaps(a, b, img->vmas[i].start, img->vmas[i].end))
            return 1;
    return 0;
}

int crs_restore_unmap_list(const struct crs_restore *r, struct crs_restart_range *out, int max)
{
    int n = 0;
    uint64_t s = 0, e = 0;

    for (uint32_t j = 0; j < r->nmaps; j++) {
        const struct crs_restore_map *m = &r->maps[j];
        if (is_vdso_block(m->name) || !strcmp(m->name, "[vsyscall]"))
            continue;
        if (e && !saved_between(r->img, e, m->start)) {
            e = m->end;             /* the gap holds nothing of the image: one munmap covers it */
            continue;
        }
        if (e) {
            if (n == max)
                return -E2BIG;
            out[n++] = (struct crs_restart_range){ s, e - s };
        }
        s = m->start;
        e = m->end;
    }
    if (e) {
        if (n == max)
            return -E2BIG;
        out[n++] = (struct crs_restart_range){ s, e - s };
    }
    return n;
}
