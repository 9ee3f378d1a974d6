/* snapshot/pageidx.c - the page index (PAGEIDX): where each chunk of the pages section starts,
 * recorded as the writer takes each job's stream, and written after the pages. It grows by
 * mmap and copy (the snapshot child has no malloc); should that fail, the image simply has no
 * index (a lazy restore then reads every chunk header). Runs in the snapshot child.
 */
#define _GNU_SOURCE
#include "child_internal.h"

#include <string.h>
#include <sys/mman.h>

static int grow(struct child *c)
{
    size_t cap = c->idx_cap ? 2 * c->idx_cap : 65536;
    struct crs_img_pageidx *v = mmap(NULL, cap * sizeof *v, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (v == MAP_FAILED)
        return -1;
    if (c->idx) {
        memcpy(v, c->idx, c->nidx * sizeof *v);
        munmap(c->idx, c->idx_cap * sizeof *v);
    }
    c->idx = v;
    c->idx_cap = cap;
    return 0;
}

void crs_child_pageidx_add(struct child *c, const struct job *j, uint64_t pos)
{
    uint64_t off = 0;

    for (uint32_t i = 0; i < j->nchunks && !c->idx_failed; i++) {
        const struct crs_img_chunk *ch = &j->ch[i];
        if (c->nidx == c->idx_cap && grow(c) < 0) {
            c->idx_failed = 1;
            break;
        }
        c->idx[c->nidx++] = (struct crs_img_pageidx){ .addr = ch->addr, .offset = pos + off,
                                                      .npages = ch->npages };
        off += (sizeof *ch + ch->clen + 7) & ~(uint64_t)7;
    }
}
