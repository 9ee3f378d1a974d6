/* image/load.c - loads every non-page section the table of contents lists, in a fixed
 * order, and checks each against the file, its record size, the limits and the other sections;
 * the sections of variable records are in records.c.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "reader_internal.h"
#include "timers.h"
#include "fdkind.h"
#include "common/hugebuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Loads one non-page section after checking its entry against the file and its own header:
 * into malloc'd memory, or into huge pages (common/hugebuf.h) for the one section that grows
 * with the memory (the page index: 1.4 MiB a GiB of mixed pages). */
static int load(struct crs_image *img, const struct crs_img_toc_entry *e, int huge, void **out,
                char *err, size_t errlen)
{
    struct crs_img_section sh;
    const char *name = crs_reader_section_name(e->type);
    int r;
    if (e->length > CRS_IMG_MAX_SECTION) {
        crs_seterr(err, errlen, "damaged %s section: length %llu too large", name,
                   (unsigned long long)e->length);
        return -EBADMSG;
    }
    r = crs_reader_read_at(img->fd, &sh, sizeof sh, e->offset);
    if (r)
        goto io;
    if (sh.type != e->type || sh.length != e->length) {
        crs_seterr(err, errlen, "damaged %s section: header does not match the table of contents",
                   name);
        return -EBADMSG;
    }
    void *buf = huge ? crs_hugebuf_alloc(e->length) : malloc(e->length ? e->length : 1);
    if (!buf) {
        crs_seterr(err, errlen, "out of memory reading the %s section", name);
        return -ENOMEM;
    }
    r = crs_reader_read_at(img->fd, buf, e->length, e->offset + sizeof sh);
    int bad = !r && XXH3_64bits(buf, e->length) != e->checksum;
    if (r || bad) {
        if (huge)
            crs_hugebuf_free(buf, e->length);
        else
            free(buf);
        if (!bad)
            goto io;
        crs_seterr(err, errlen, "damaged %s section: checksum mismatch", name);
        return -EBADMSG;
    }
    *out = buf;
    return 0;
io:
    crs_seterr(err, errlen, "reading the %s section: %s", name, strerror(-r));
    return r;
}

int crs_reader_load_section(struct crs_image *img, const struct crs_img_toc_entry *e, void **out,
                            char *err, size_t errlen)
{
    return load(img, e, 0, out, err, errlen);
}

int crs_reader_need_count(const struct crs_img_toc_entry *e, size_t recsize, char *err,
                          size_t errlen)
{
    if ((uint64_t)e->count * recsize != e->length) {
        crs_seterr(err, errlen, "damaged %s section: %u records in %llu bytes",
                   crs_reader_section_name(e->type), e->count, (unsigned long long)e->length);
        return -EBADMSG;
    }
    return 0;
}

static int check_str(const struct crs_image *img, uint32_t off, const char *what, char *err,
                     size_t errlen)
{
    if (off && off >= img->strings_len) {
        crs_seterr(err, errlen, "damaged: %s refers to string %u beyond the strings section", what,
                   off);
        return -EBADMSG;
    }
    return 0;
}

/* Splits the ARGV payload into argv (count entries) and envp (the rest). */
/* SHMOBJ: each object once, of a known kind, its size below what can be mapped; a POSIX one
 * named /dev/shm/NAME (a restore may create it there, and nowhere else). */
static int load_shmobj(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                       size_t errlen)
{
    void *p;
    int r;

    if ((r = crs_reader_need_count(e, sizeof(struct crs_img_shmobj), err, errlen)) ||
        (r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    img->shmobj = crs_reader_keep(img, p);
    img->nshmobj = e->count;
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *o = &img->shmobj[i];
        const char *path = crs_image_string(img, o->path);
        int bad = (o->kind != CRS_SHMOBJ_SYSV && o->kind != CRS_SHMOBJ_POSIX) ||
                  o->size > (1ull << 47) || !path;
        if (!bad && o->kind == CRS_SHMOBJ_POSIX)
            bad = strncmp(path, "/dev/shm/", 9) || !path[9] || strchr(path + 9, '/') ||
                  !strcmp(path + 9, ".") || !strcmp(path + 9, "..");
        for (uint32_t j = 0; j < i && !bad; j++)
            bad = img->shmobj[j].dev == o->dev && img->shmobj[j].ino == o->ino;
        if (bad) {
            crs_seterr(err, errlen, "damaged shared-memory-objects section: record %u", i);
            return -EBADMSG;
        }
    }
    return 0;
}

static int split_argv(struct crs_image *img, char *p, uint64_t len, uint32_t argc, char *err,
                      size_t errlen)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < len; i++)
        if (p[i] == '\0')
            n++;
    if (len && p[len - 1] != '\0') {
        crs_seterr(err, errlen, "damaged argv section: not NUL-terminated");
        return -EBADMSG;
    }
    if (argc > n) {
        crs_seterr(err, errlen, "damaged argv section: %u arguments in %llu strings", argc,
                   (unsigned long long)n);
        return -EBADMSG;
    }
    img->argv = calloc(argc + 1, sizeof(char *));
    img->envp = calloc(n - argc + 1, sizeof(char *));
    if (!img->argv || !img->envp) {
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    uint64_t k = 0, start = 0;
    for (uint64_t i = 0; i < len; i++) {
        if (p[i] != '\0')
            continue;
        if (k < argc)
            img->argv[k] = p + start;
        else
            img->envp[k - argc] = p + start;
        k++;
        start = i + 1;
    }
    img->argc = argc;
    img->envc = (uint32_t)(n - argc);
    return 0;
}

static int check_vmas(const struct crs_image *img, char *err, size_t errlen)
{
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        if (v->start >= v->end || (v->start | v->end) % CRS_IMG_PAGE_SIZE ||
            v->start < prev_end || v->end > (1ull << 57)) {
            crs_seterr(err, errlen, "damaged region %u: bad range %llx-%llx", i,
                       (unsigned long long)v->start, (unsigned long long)v->end);
            return -EBADMSG;
        }
        if (v->kind < CRS_VMA_ANON || v->kind >= CRS_VMA__END) {
            crs_seterr(err, errlen, "damaged region %u: unknown kind %u", i, v->kind);
            return -EBADMSG;
        }
        if ((v->flags & CRS_VMA_F_SAVED) &&
            (v->kind == CRS_VMA_VDSO || v->kind == CRS_VMA_VVAR || v->kind == CRS_VMA_VSYSCALL ||
             (v->kind == CRS_VMA_FILE_SHARED &&
              !(v->flags & (CRS_VMA_F_DELETED | CRS_VMA_F_SHMOBJ))))) {
            crs_seterr(err, errlen, "damaged region %u: a %s region cannot hold saved pages", i,
                       crs_image_vma_kind_name(v->kind));
            return -EBADMSG;
        }
        if (v->prot & ~7u) {
            crs_seterr(err, errlen, "damaged region %u: bad protection %#x", i, v->prot);
            return -EBADMSG;
        }
        /* mmap takes a page-aligned offset, and refuses (EOVERFLOW) a range that runs past
         * the largest file offset: such a region could never be mapped again. */
        if ((v->kind == CRS_VMA_FILE_PRIVATE || v->kind == CRS_VMA_FILE_SHARED) &&
            !(v->flags & CRS_VMA_F_DELETED) &&
            (v->file_offset % CRS_IMG_PAGE_SIZE ||
             v->file_offset > (uint64_t)INT64_MAX - (v->end - v->start))) {
            crs_seterr(err, errlen, "damaged region %u: file offset %#llx for %llu bytes is out of "
                       "bounds", i, (unsigned long long)v->file_offset,
                       (unsigned long long)(v->end - v->start));
            return -EBADMSG;
        }
        int r = check_str(img, v->path, "a region", err, errlen);
        if (r)
            return r;
        prev_end = v->end;
    }
    return 0;
}

static int check_threads(const struct crs_image *img, char *err, size_t errlen)
{
    uint32_t mains = 0;
    for (uint32_t i = 0; i < img->nthreads; i++)
        if (img->threads[i].flags & CRS_THREAD_F_MAIN)
            mains++;
    if (img->nthreads == 0 || mains != 1) {
        crs_seterr(err, errlen,
                   "damaged threads section: %u threads, %u main", img->nthreads, mains);
        return -EBADMSG;
    }
    if (img->process.nthreads != img->nthreads) {
        crs_seterr(err, errlen, "damaged: process says %u threads, threads section has %u",
                   img->process.nthreads, img->nthreads);
        return -EBADMSG;
    }
    return 0;
}

static int check_fds(const struct crs_image *img, char *err, size_t errlen)
{
    if (img->nfds > CRS_IMG_MAX_FDS) {
        crs_seterr(err, errlen, "the image holds %u descriptors, more than the %u a checkpoint "
                   "records and a restore brings back", img->nfds, CRS_IMG_MAX_FDS);
        return -E2BIG;
    }
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        if (f->fd < 0 || f->kind < CRS_FD_FILE || f->kind >= CRS_FD__END ||
            (i && f->fd <= img->fds[i - 1].fd)) {
            crs_seterr(err, errlen, "damaged fd record %u (fd %d, kind %u)", i, f->fd, f->kind);
            return -EBADMSG;
        }
        const struct crs_fd_ops *k = crs_fd_ops_of(f->kind);
        int r = k->validate ? k->validate(f, err, errlen) : 0;
        if (r)
            return r;
        r = check_str(img, f->path, "an fd", err, errlen);
        if (r)
            return r;
    }
    return 0;
}

static int check_process(const struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_process *p = &img->process;
    int r;
    if ((r = check_str(img, p->exe, "the executable", err, errlen)) ||
        (r = check_str(img, p->cwd, "the working directory", err, errlen)) ||
        (r = check_str(img, p->comm, "the command name", err, errlen)))
        return r;
    if (p->memory_saved % CRS_IMG_PAGE_SIZE) {
        crs_seterr(err, errlen, "damaged process section: saved bytes not whole pages");
        return -EBADMSG;
    }
    return 0;
}

/* Keeps the payload so that close frees it. */
void *crs_reader_keep(struct crs_image *img, void *p)
{
    for (size_t i = 0; i < sizeof img->bufs / sizeof img->bufs[0]; i++)
        if (!img->bufs[i]) {
            img->bufs[i] = p;
            return p;
        }
    abort(); /* more payloads than sections loaded: a programming error */
}

/* TIMERS: at most CRS_IMG_MAX_TIMERS, each as a kernel reports one, ids all different. */
static int load_timers(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                       size_t errlen)
{
    struct crs_img_timer *t;
    void *p;
    int r;

    if ((r = crs_reader_need_count(e, sizeof *t, err, errlen)))
        return r;
    if (e->count > CRS_IMG_MAX_TIMERS) {
        crs_seterr(err, errlen, "damaged timers section: %u timers (at most %u)", e->count,
                   CRS_IMG_MAX_TIMERS);
        return -EBADMSG;
    }
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    t = crs_reader_keep(img, p);
    for (uint32_t i = 0; i < e->count; i++) {
        int dup = 0;
        for (uint32_t k = 0; k < i; k++)
            dup |= t[k].id == t[i].id;
        if (dup || crs_img_timer_valid(&t[i]) < 0) {
            crs_seterr(err, errlen, "damaged timers section: record %u (timer id %d)", i,
                       t[i].id);
            return -EBADMSG;
        }
    }
    img->timers = t;
    img->ntimers = e->count;
    return 0;
}

/* The page index: one record per chunk, in order, each naming a place inside the pages
 * section, a run of pages inside a saved region, after the one before; together they hold
 * exactly the pages the process section says. A chunk's header is compared with its record
 * when it is read. */
static int load_pageidx(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                        size_t errlen)
{
    uint64_t total = 0, last_end = 0, last_off = 0, end = img->pages_offset + img->pages_length;
    void *p;
    int r;

    if ((r = crs_reader_need_count(e, sizeof(struct crs_img_pageidx), err, errlen)))
        return r;
    if (e->count != img->nchunks) {
        crs_seterr(err, errlen, "damaged page-index section: %u records for %u chunks", e->count,
                   img->nchunks);
        return -EBADMSG;
    }
    if ((r = load(img, e, 1, &p, err, errlen)))
        return r;
    img->big = p;                       /* freed at close, whatever the checks below say */
    img->big_len = e->length;
    img->pageidx = p;
    img->npageidx = e->count;
    /* The records must go up in address: the regions (sorted too) are walked beside them. */
    uint32_t k = 0;
    for (uint32_t i = 0; i < img->npageidx; i++) {
        const struct crs_img_pageidx *x = &img->pageidx[i];
        uint64_t raw = (uint64_t)x->npages * CRS_IMG_PAGE_SIZE;
        while (k < img->nvmas && img->vmas[k].end <= x->addr)
            k++;
        const struct crs_img_vma *v = k < img->nvmas && img->vmas[k].start <= x->addr ?
                                      &img->vmas[k] : NULL;
        if (x->npages == 0 || x->npages > CRS_IMG_CHUNK_MAX_PAGES || x->reserved ||
            x->addr % CRS_IMG_PAGE_SIZE || x->addr < last_end || x->addr > UINT64_MAX - raw ||
            !v || x->addr + raw > v->end || !(v->flags & CRS_VMA_F_SAVED) ||
            x->offset % 8 || x->offset < img->pages_offset ||
            x->offset > end - sizeof(struct crs_img_chunk) || (i && x->offset <= last_off)) {
            crs_seterr(err, errlen, "damaged page-index section: record %u is not a chunk of "
                       "a saved region after the one before", i);
            img->pageidx = NULL;
            img->npageidx = 0;
            return -EBADMSG;
        }
        last_end = x->addr + raw;
        last_off = x->offset;
        total += raw;
    }
    if (total != img->process.memory_saved) {
        crs_seterr(err, errlen, "damaged page-index section: %llu bytes of pages, the process "
                   "section says %llu", (unsigned long long)total,
                   (unsigned long long)img->process.memory_saved);
        img->pageidx = NULL;
        img->npageidx = 0;
        return -EBADMSG;
    }
    return 0;
}

int crs_reader_load_all(struct crs_image *img, char *err, size_t errlen)
{
    const struct crs_img_toc_entry *seen[CRS_SEC__END] = {0};
    uint64_t body = img->trailer.toc_offset;
    int r;

    for (uint32_t i = 0; i < img->ntoc; i++) {
        const struct crs_img_toc_entry *e = &img->toc[i];
        if (e->offset < sizeof img->header || e->offset % 8 || e->offset > body ||
            body - e->offset < sizeof(struct crs_img_section) ||
            body - e->offset - sizeof(struct crs_img_section) < e->length) {
            crs_seterr(err, errlen, "damaged table of contents: %s section at %llu+%llu is outside "
                       "the file", crs_reader_section_name(e->type), (unsigned long long)e->offset,
                       (unsigned long long)e->length);
            return -EBADMSG;
        }
        if (e->type < CRS_SEC_HOST || e->type >= CRS_SEC__END)
            continue; /* a section this version does not know: ignored */
        if (seen[e->type]) {
            crs_seterr(err, errlen, "damaged table of contents: two %s sections",
                       crs_reader_section_name(e->type));
            return -EBADMSG;
        }
        seen[e->type] = e;
    }
    for (uint32_t t = CRS_SEC_HOST; t <= CRS_SEC_AUXV; t++) /* those after AUXV: optional */
        if (!seen[t]) {
            crs_seterr(err, errlen, "damaged: no %s section", crs_reader_section_name(t));
            return -EBADMSG;
        }

    void *p;
    const struct crs_img_toc_entry *e;

    e = seen[CRS_SEC_HOST];
    if ((r = crs_reader_need_count(e, sizeof img->host, err, errlen)) || e->count != 1)
        return r ? r : (crs_seterr(err, errlen, "damaged host section"), -EBADMSG);
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    memcpy(&img->host, p, sizeof img->host);
    free(p);
    /* each string ends in its field, whatever the image holds */
#define TERMINATE(f) ((f)[sizeof(f) - 1] = '\0')
    TERMINATE(img->host.sysname);
    TERMINATE(img->host.release);
    TERMINATE(img->host.version);
    TERMINATE(img->host.machine);
    TERMINATE(img->host.libc_version);
#undef TERMINATE

    e = seen[CRS_SEC_PROCESS];
    if ((r = crs_reader_need_count(e, sizeof img->process, err, errlen)) || e->count != 1)
        return r ? r : (crs_seterr(err, errlen, "damaged process section"), -EBADMSG);
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    memcpy(&img->process, p, sizeof img->process);
    free(p);

    e = seen[CRS_SEC_STRINGS];
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    img->strings = crs_reader_keep(img, p);
    img->strings_len = e->length;
    if (!e->length || img->strings[0] != '\0' || img->strings[e->length - 1] != '\0') {
        crs_seterr(err, errlen, "damaged strings section: not NUL-terminated");
        return -EBADMSG;
    }

    e = seen[CRS_SEC_VMAS];
    if ((r = crs_reader_need_count(e, sizeof(struct crs_img_vma), err, errlen)) ||
        (r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    img->vmas = crs_reader_keep(img, p);
    img->nvmas = e->count;

    e = seen[CRS_SEC_THREADS];
    if ((r = crs_reader_need_count(e, sizeof(struct crs_img_thread), err, errlen)) ||
        (r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    img->threads = crs_reader_keep(img, p);
    img->nthreads = e->count;

    e = seen[CRS_SEC_SIGNALS];
    if ((r = crs_reader_need_count(e, sizeof(struct crs_img_sigaction), err, errlen)))
        return r;
    if (e->count != CRS_IMG_NSIG) {
        crs_seterr(err, errlen, "damaged signals section: %u entries", e->count);
        return -EBADMSG;
    }
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    memcpy(img->sigactions, p, sizeof img->sigactions);
    free(p);

    e = seen[CRS_SEC_FDS];
    if ((r = crs_reader_need_count(e, sizeof(struct crs_img_fd), err, errlen)) ||
        (r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    img->fds = crs_reader_keep(img, p);
    img->nfds = e->count;

    e = seen[CRS_SEC_ARGV];
    if (e->length > CRS_IMG_MAX_ARGV) {
        crs_seterr(err, errlen, "damaged argv section: length %llu too large",
                   (unsigned long long)e->length);
        return -EBADMSG;
    }
    if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    crs_reader_keep(img, p);
    if ((r = split_argv(img, p, e->length, e->count, err, errlen)))
        return r;

    e = seen[CRS_SEC_AUXV];
    if ((r = crs_reader_need_count(e, 16, err, errlen)) ||
        (r = crs_reader_load_section(img, e, &p, err, errlen)))
        return r;
    img->auxv = crs_reader_keep(img, p);
    img->nauxv = e->count;

    if ((e = seen[CRS_SEC_QUEUED]) && (r = crs_reader_load_queued(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_DELETED]) && (r = crs_reader_load_deleted(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_UNSAVED]) && (r = crs_reader_load_unsaved(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_MAPHASH])) {
        if ((r = crs_reader_need_count(e, sizeof(struct crs_img_maphash), err, errlen)))
            return r;
        if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
            return r;
        img->maphash = crs_reader_keep(img, p);
        img->nmaphash = e->count;
        for (uint32_t i = 0; i < img->nmaphash; i++) {
            const struct crs_img_vma *v = crs_image_find_vma(img, img->maphash[i].start);
            if (!v || v->start != img->maphash[i].start ||
                (v->kind != CRS_VMA_FILE_SHARED && !(v->flags & CRS_VMA_F_SHMOBJ)) ||
                img->maphash[i].len > v->end - v->start) {
                crs_seterr(err, errlen, "damaged mapped-file-hashes section: record %u is for "
                           "no shared file region", i);
                return -EBADMSG;
            }
        }
    }
    if ((e = seen[CRS_SEC_GUARDS])) {
        if ((r = crs_reader_need_count(e, sizeof(struct crs_img_guard), err, errlen)))
            return r;
        if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
            return r;
        img->guards = crs_reader_keep(img, p);
        img->nguards = e->count;
        for (uint32_t i = 0; i < img->nguards; i++) {
            const struct crs_img_guard *g = &img->guards[i];
            const struct crs_img_vma *v = crs_image_find_vma(img, g->start);
            if (g->start >= g->end || (g->start | g->end) % CRS_IMG_PAGE_SIZE ||
                (i && g->start < img->guards[i - 1].end) || !v || g->end > v->end ||
                !(v->flags & CRS_VMA_F_GUARDS)) {
                crs_seterr(err, errlen, "damaged guard-pages section: record %u is not a run of "
                           "pages inside a region with guard pages, after the one before", i);
                return -EBADMSG;
            }
        }
    }
    if ((e = seen[CRS_SEC_SHMOBJ]) && (r = load_shmobj(img, e, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_TREE]) && (r = crs_reader_load_tree(img, e, err, errlen)))
        return r;
    if ((r = crs_reader_load_chain(img, seen[CRS_SEC_PARENT], seen[CRS_SEC_INHERIT], err,
                                   errlen)))
        return r;
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        const struct crs_img_shmobj *o = (v->flags & CRS_VMA_F_SHMOBJ) ?
                                         crs_image_shmobj_of(img, v) : NULL;
        if ((v->flags & CRS_VMA_F_SHMOBJ) &&
            (!o || (o->kind == CRS_SHMOBJ_SYSV) != (v->kind == CRS_VMA_ANON_SHARED) ||
             (o->kind == CRS_SHMOBJ_POSIX) != (v->kind == CRS_VMA_FILE_SHARED) ||
             v->file_offset % CRS_IMG_PAGE_SIZE ||
             v->file_offset + (v->end - v->start) > o->size + CRS_IMG_PAGE_SIZE - 1)) {
            crs_seterr(err, errlen, "damaged region %u: it maps shared memory the image does not "
                       "describe", i);
            return -EBADMSG;
        }
    }
    if ((e = seen[CRS_SEC_ATTRS])) {
        if ((r = crs_reader_need_count(e, sizeof img->attrs, err, errlen)) || e->count != 1)
            return r ? r : (crs_seterr(err, errlen, "damaged attributes section"), -EBADMSG);
        if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
            return r;
        memcpy(&img->attrs, p, sizeof img->attrs);
        free(p);
    }

    if ((e = seen[CRS_SEC_TIMERS]) && (r = load_timers(img, e, err, errlen)))
        return r;

    if ((e = seen[CRS_SEC_PIDNS])) {
        struct crs_img_pidns ns;
        if ((r = crs_reader_need_count(e, sizeof ns, err, errlen)) || e->count != 1)
            return r ? r : (crs_seterr(err, errlen, "damaged pid namespace section"), -EBADMSG);
        if ((r = crs_reader_load_section(img, e, &p, err, errlen)))
            return r;
        memcpy(&ns, p, sizeof ns);
        free(p);
        img->outer_pid = ns.outer_pid;
    }

    e = seen[CRS_SEC_PAGES];
    struct crs_img_section sh;
    if ((r = crs_reader_read_at(img->fd, &sh, sizeof sh, e->offset))) {
        crs_seterr(err, errlen, "reading the pages section: %s", strerror(-r));
        return r;
    }
    if (sh.type != CRS_SEC_PAGES || sh.length != e->length) {
        crs_seterr(err, errlen,
                   "damaged pages section: header does not match the table of contents");
        return -EBADMSG;
    }
    img->pages_offset = e->offset + sizeof sh;
    img->pages_length = e->length;
    img->nchunks = e->count;
    if ((uint64_t)e->count * sizeof(struct crs_img_chunk) > e->length) {
        crs_seterr(err, errlen, "damaged pages section: %u chunks in %llu bytes", e->count,
                   (unsigned long long)e->length);
        return -EBADMSG;
    }

    if ((r = check_process(img, err, errlen)) || (r = check_vmas(img, err, errlen)) ||
        (r = check_threads(img, err, errlen)) || (r = check_fds(img, err, errlen)))
        return r;
    if ((e = seen[CRS_SEC_PAGEIDX]) && (r = load_pageidx(img, e, err, errlen)))
        return r;
    return 0;
}
