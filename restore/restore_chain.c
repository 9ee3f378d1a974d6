/* restore/restore_chain.c - restoring an incremental image: its chain of parents opened and
 * every one checked before anything changes, then, once the image's own pages are in place,
 * each ancestor's chunks decompressed and the pages it gives (its mask) copied into place.
 * Runs in the restorer, before its own memory is replaced.
 */
#define _GNU_SOURCE
#include "restore.h"
#include "common/errmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int crs_restore_chain_open(struct crs_restore *r, int full_check, char *err, size_t errlen)
{
    int rc;

    if (!r->img->parent)
        return 0;
    if ((rc = crs_image_open_chain(r->img, err, errlen)) ||
        (rc = crs_image_check_chain(r->img, full_check, err, errlen)))
        return rc;
    /* made now, before the layout check, like the decompressors */
    if (!(r->chain_buf = malloc((size_t)CRS_IMG_CHUNK_MAX_PAGES * CRS_IMG_PAGE_SIZE))) {
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* The pages of ancestor p's chunks that its mask names. */
static int fill_from(struct crs_restore *r, struct crs_image *p, char *err, size_t errlen)
{
    struct crs_chunk_iter it;
    uint32_t m = 0;
    int rc = 0;

    crs_image_chunk_begin(p, &it);
    while (m < p->nmask && (rc = crs_image_next_chunk(p, &it, err, errlen)) > 0) {
        uint64_t a = it.chunk.addr, e = a + (uint64_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
        while (m < p->nmask && p->mask[m].end <= a)
            m++;
        if (m == p->nmask || p->mask[m].start >= e)
            continue;
        size_t len = (size_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
        if ((rc = crs_image_read_chunk_r(p, &r->rd[0], &it, r->chain_buf, len, err, errlen)))
            return rc;
        for (uint32_t k = m; k < p->nmask && p->mask[k].start < e; k++) {
            uint64_t lo = p->mask[k].start > a ? p->mask[k].start : a;
            uint64_t hi = p->mask[k].end < e ? p->mask[k].end : e;
            memcpy((void *)(uintptr_t)lo, (char *)r->chain_buf + (lo - a), hi - lo);
        }
    }
    return rc < 0 ? rc : 0;
}

int crs_restore_chain_fill(struct crs_restore *r, char *err, size_t errlen)
{
    char why[512];
    int rc;
    for (struct crs_image *p = r->img->parent_img; p; p = p->parent_img)
        if ((rc = fill_from(r, p, why, sizeof why))) {
            crs_seterr(err, errlen, "%s: %s", p->path, why);
            return rc;
        }
    return 0;
}
