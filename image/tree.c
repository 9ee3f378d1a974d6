/* image/tree.c - the TREE section: a job of several processes, read and checked. The root's
 * image lists every member, parents first; the others' images sit in the parts directory it
 * names. Nothing here opens the parts: restore/restore_tree.c and the tools do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reader_internal.h"
#include "common/errmsg.h"

static int bad(char *err, size_t errlen, const char *what, uint32_t i)
{
    crs_seterr(err, errlen, "damaged tree section: %s (record %u)", what, i);
    return -EBADMSG;
}

/* The parts directory's name is one component beside the image: a hostile image must not
 * name a directory elsewhere. */
static int bad_name(const char *s, size_t room)
{
    size_t n = strnlen(s, room);
    return n == 0 || n == room || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..");
}

int crs_reader_load_tree(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                         size_t errlen)
{
    const struct crs_img_tree *t;
    const struct crs_img_tree_member *m;
    void *p;
    int r;

    if (e->count < 1 || e->count > CRS_IMG_TREE_MAX ||
        e->length != sizeof *t + (uint64_t)e->count * sizeof *m) {
        crs_seterr(err, errlen, "damaged tree section: %u members in %llu bytes", e->count,
                   (unsigned long long)e->length);
        return -EBADMSG;
    }
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    crs_reader_keep(img, p);
    t = p;
    m = (const struct crs_img_tree_member *)(t + 1);
    if (t->nmembers != e->count || bad_name(t->parts, sizeof t->parts))
        return bad(err, errlen, "its parts directory", 0);
    for (uint32_t i = 0; i < e->count; i++) {
        int parent = i == 0;
        if (m[i].pid == 0 || m[i].pid > CRS_IMG_PID_MAX || strnlen(m[i].comm, 16) == 16 ||
            (m[i].flags & ~(CRS_TREE_F_ROOT | CRS_TREE_F_ZOMBIE)))
            return bad(err, errlen, "a member's pid, name or flags", i);
        if (!(m[i].flags & CRS_TREE_F_ROOT) != (i != 0) ||
            (i == 0 && (m[i].pid != img->process.pid || (m[i].flags & CRS_TREE_F_ZOMBIE))))
            return bad(err, errlen, "the first member is the image's process, and only it", i);
        for (uint32_t j = 0; j < i; j++) {
            if (m[j].pid == m[i].pid)
                return bad(err, errlen, "a pid twice", i);
            if (m[j].pid == m[i].ppid) {
                if (m[j].flags & CRS_TREE_F_ZOMBIE)
                    return bad(err, errlen, "a child of a process that had ended", i);
                parent = 1;
            }
        }
        if (!parent)
            return bad(err, errlen, "a member whose parent is not listed before it", i);
    }
    img->tree = t;
    img->tree_members = m;
    img->ntree = e->count;
    return 0;
}

const struct crs_img_tree_member *crs_image_tree_member(const struct crs_image *img, uint32_t pid)
{
    for (uint32_t i = 0; i < img->ntree; i++)
        if (img->tree_members[i].pid == pid)
            return &img->tree_members[i];
    return NULL;
}
