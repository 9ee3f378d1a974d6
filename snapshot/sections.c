/* snapshot/sections.c - the image as the snapshot child writes it: the header, the pages
 * section (filled by the page walk), every other section, the table of contents and the
 * trailer, each with its checksum; and a finished image renumbered. Runs in the forked
 * snapshot child: no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include "child_internal.h"
#include "common/proc_util.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A section being written: its table-of-contents entry and the running checksum of its
 * payload, which section_add() streams. */
struct section {
    struct crs_img_toc_entry *e;
    XXH3_state_t hs;
};

static int section_begin(struct child *c, struct section *sec, uint32_t type, uint32_t count,
                         uint64_t length)
{
    struct crs_img_section sh = {type, 0, length};
    int r;

    if ((r = crs_writer_align(&c->w, 8)))
        return r;
    sec->e = &c->toc[c->ntoc++];
    sec->e->type = type;
    sec->e->count = count;
    sec->e->offset = crs_writer_pos(&c->w);
    sec->e->length = length;
    XXH3_INITSTATE(&sec->hs);
    XXH3_64bits_reset(&sec->hs);
    return crs_writer_append(&c->w, &sh, sizeof sh);
}

static int section_add(struct child *c, struct section *sec, const void *p, size_t n)
{
    if (!n)
        return 0;
    XXH3_64bits_update(&sec->hs, p, n);
    return crs_writer_append(&c->w, p, n);
}

static void section_end(struct section *sec)
{
    sec->e->checksum = XXH3_64bits_digest(&sec->hs);
}

/* Appends one section made of up to two parts and records it in the table of contents. */
static int put_section(struct child *c, uint32_t type, uint32_t count, const void *p1, size_t n1,
                       const void *p2, size_t n2)
{
    struct section sec;
    int r;

    if ((r = section_begin(c, &sec, type, count, n1 + n2)) || (r = section_add(c, &sec, p1, n1)) ||
        (r = section_add(c, &sec, p2, n2)))
        return r;
    section_end(&sec);
    return 0;
}

/* The DELETED section: each deleted file's record, then its contents streamed from the
 * runtime's memfd (copied there at the quiesce) through the work buffer. */
static int write_deleted(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    struct section sec;
    uint64_t len = 0;
    int r;

    for (uint32_t i = 0; i < req->ndeleted; i++)
        len += sizeof(struct crs_img_deleted) + ((req->deleted[i].size + 7) & ~7ull);
    if ((r = section_begin(c, &sec, CRS_SEC_DELETED, req->ndeleted, len)))
        return r;
    for (uint32_t i = 0; i < req->ndeleted; i++) {
        const struct crs_snap_deleted *d = &req->deleted[i];
        struct crs_img_deleted rec = {d->fd, d->mode, d->ino, d->size};
        uint64_t done = 0, padded = (d->size + 7) & ~7ull;
        if ((r = section_add(c, &sec, &rec, sizeof rec)))
            return r;
        while (done < padded) {
            size_t want = padded - done > WORK_SIZE ? WORK_SIZE : (size_t)(padded - done);
            size_t have = 0;
            memset(c->work, 0, want);           /* the padding */
            while (done + have < d->size && have < want) {
                size_t left = (size_t)(d->size - done - have);
                ssize_t n = pread(req->deleted_memfd, c->work + have,
                                  left < want - have ? left : want - have,
                                  (off_t)(d->offset + done + have));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    c->stage = "reading the copy of a deleted file for";
                    return n < 0 ? -errno : -EIO;
                }
                have += (size_t)n;
            }
            if ((r = section_add(c, &sec, c->work, want)))
                return r;
            done += want;
        }
    }
    section_end(&sec);
    return 0;
}

/* Is [a, b) inside readable regions of the saved map? argv lives in the process's memory. */
static int readable_range(const struct child *c, uint64_t a, uint64_t b)
{
    while (a < b) {
        const struct crs_img_vma *v = NULL;
        for (size_t i = 0; i < c->nvmas; i++)
            if (c->vmas[i].start <= a && a < c->vmas[i].end)
                v = &c->vmas[i];
        if (!v || !(v->prot & PROT_READ))
            return 0;
        a = v->end;
    }
    return 1;
}

static int write_argv(struct child *c)
{
    const struct crs_img_process *p = &c->proc;
    const char *args = NULL, *env = NULL;
    size_t na = 0, ne = 0;
    uint32_t argc = 0;

    if (p->arg_end > p->arg_start && readable_range(c, p->arg_start, p->arg_end)) {
        args = (const char *)(uintptr_t)p->arg_start;
        na = p->arg_end - p->arg_start;
    }
    if (p->env_end > p->env_start && readable_range(c, p->env_start, p->env_end)) {
        env = (const char *)(uintptr_t)p->env_start;
        ne = p->env_end - p->env_start;
    }
    /* the payload must end in NUL and have whole strings: cut anything after the last NUL */
    while (na && args[na - 1] != '\0')
        na--;
    while (ne && env[ne - 1] != '\0')
        ne--;
    for (size_t i = 0; i < na; i++)
        if (args[i] == '\0')
            argc++;
    return put_section(c, CRS_SEC_ARGV, argc, args, na, env, ne);
}

static int write_auxv(struct child *c)
{
    long n = crs_read_file("/proc/self/auxv", c->work, WORK_SIZE);
    const uint64_t *a = (const uint64_t *)c->work;
    uint32_t pairs = 0;
    if (n > 0)
        while ((size_t)(pairs + 1) * 16 <= (size_t)n && a[pairs * 2] != 0)
            pairs++;
    return put_section(c, CRS_SEC_AUXV, pairs, c->work, (size_t)pairs * 16, NULL, 0);
}

/* The parent writes the pause right after the clone; if it never does, the image says 0. */
static uint64_t read_pause(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    uint64_t v = 0;
    if (fd < 0)
        return 0;
    if (poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLIN) && read(fd, &v, sizeof v) == sizeof v)
        return v;
    return 0;
}

static int write_tail(struct child *c, const struct crs_img_header *h)
{
    struct crs_img_trailer t;
    int r;

    if ((r = crs_writer_align(&c->w, 8)))
        return r;
    memset(&t, 0, sizeof t);
    memcpy(t.magic, CRS_IMG_TRAILER_MAGIC, 8);
    t.toc_offset = crs_writer_pos(&c->w);
    t.toc_count = c->ntoc;
    t.file_size = t.toc_offset + c->ntoc * sizeof(struct crs_img_toc_entry) + sizeof t;
    t.pause_ns = c->pause_read ? c->pause_ns : read_pause(c->req->pause_fd);
    t.header_checksum = XXH3_64bits(h, sizeof *h);
    t.toc_checksum = XXH3_64bits(c->toc, c->ntoc * sizeof(struct crs_img_toc_entry));
    t.checksum = XXH3_64bits(&t, offsetof(struct crs_img_trailer, checksum));
    if ((r = crs_writer_append(&c->w, c->toc, c->ntoc * sizeof(struct crs_img_toc_entry))) ||
        (r = crs_writer_append(&c->w, &t, sizeof t)))
        return r;
    return crs_writer_flush(&c->w);
}

int crs_child_write_image(struct child *c)
{
    const struct crs_snap_request *req = c->req;
    struct crs_img_header h;
    struct crs_img_section sh = {CRS_SEC_PAGES, 0, 0};
    int r;

    memset(&h, 0, sizeof h);
    memcpy(h.magic, CRS_IMG_MAGIC, 8);
    crs_incr_begin(c);                  /* before the header: it decides the version */
    h.version = c->incr ? CRS_IMG_VERSION_INCR : CRS_IMG_VERSION;
    h.header_size = sizeof h;
    h.arch = CRS_ARCH_ID;
    h.page_size = CRS_IMG_PAGE_SIZE;
    h.created_ns = req->created_ns ? req->created_ns : now_ns(CLOCK_REALTIME);
    h.seq = req->seq;
    memcpy(h.job_id, req->job_id, sizeof h.job_id);
    h.pid = c->proc.pid;
    h.flags = req->killed ? CRS_IMG_F_KILLED : 0;
    if ((r = crs_writer_append(&c->w, &h, sizeof h)))
        return r;

    /* page data first: the region flags (SAVED) and the totals are known only afterwards */
    uint64_t pages_off = crs_writer_pos(&c->w);
    if ((r = crs_writer_append(&c->w, &sh, sizeof sh)))
        return r;
    XXH3_INITSTATE(&c->hs);
    XXH3_64bits_reset(&c->hs);
    for (size_t i = 0; i < c->nvmas; i++) {
        struct crs_img_vma *v = &c->vmas[i];
        if (v->kind != CRS_VMA_VDSO && v->kind != CRS_VMA_VVAR)
            c->proc.memory_covered += v->end - v->start;
        if ((r = crs_walk_region(c, v)))
            return r;
    }
    if ((r = crs_pool_drain(c)))
        return r;
    c->stage = NULL;
    sh.length = crs_writer_pos(&c->w) - pages_off - sizeof sh;
    struct crs_img_toc_entry *e = &c->toc[c->ntoc++];
    e->type = CRS_SEC_PAGES;
    e->count = c->nchunks;
    e->offset = pages_off;
    e->length = sh.length;
    e->checksum = XXH3_64bits_digest(&c->hs);

    struct crs_img_parent par;
    memset(&par, 0, sizeof par);
    if (c->incr) {
        par.toc_checksum = req->track.parent_toc;
        par.created_ns = req->track.parent_created;
        par.seq = req->track.parent_seq;
        par.depth = req->track.depth;
        par.name = crs_strtab_add(&c->st, req->track.parent_name);
        if (!par.name)
            return -E2BIG;
    }
    c->proc.nthreads = req->nthreads;
    memcpy(c->proc.itimers, req->itimers, sizeof c->proc.itimers);
    c->proc.restart = req->restart;

    if ((r = put_section(c, CRS_SEC_HOST, 1, &req->host, sizeof req->host, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_PROCESS, 1, &c->proc, sizeof c->proc, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_VMAS, (uint32_t)c->nvmas, c->vmas,
                         c->nvmas * sizeof *c->vmas, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_THREADS, req->nthreads, req->threads,
                         req->nthreads * sizeof *req->threads, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_SIGNALS, CRS_IMG_NSIG, c->sig, sizeof c->sig, NULL, 0)) ||
        (r = put_section(c, CRS_SEC_FDS, (uint32_t)c->nfds, c->fds,
                         (size_t)c->nfds * sizeof *c->fds, NULL, 0)) ||
        (r = write_argv(c)) || (r = write_auxv(c)) ||
        (r = put_section(c, CRS_SEC_STRINGS, 0, c->st.buf, c->st.len, NULL, 0)))
        return r;
    if (req->nqueued && req->queued_len <= CRS_SNAP_QUEUED_MAX &&
        (r = put_section(c, CRS_SEC_QUEUED, req->nqueued,
                         (const char *)req->scratch + req->scratch_size - CRS_SNAP_QUEUED_MAX,
                         req->queued_len, NULL, 0)))
        return r;
    if (req->ndeleted && req->deleted_memfd >= 0 && (r = write_deleted(c)))
        return r;
    if ((r = put_section(c, CRS_SEC_ATTRS, 1, &c->attrs, sizeof c->attrs, NULL, 0)))
        return r;
    if (req->tree && req->ntree &&
        (r = put_section(c, CRS_SEC_TREE, req->ntree, req->tree, sizeof *req->tree,
                         req->tree_members, req->ntree * sizeof *req->tree_members)))
        return r;
    if (req->ntimers &&
        (r = put_section(c, CRS_SEC_TIMERS, req->ntimers, req->timers,
                         req->ntimers * sizeof *req->timers, NULL, 0)))
        return r;
    if (req->public_pid > 0) {
        struct crs_img_pidns ns = { (uint32_t)req->public_pid, 0 };
        if ((r = put_section(c, CRS_SEC_PIDNS, 1, &ns, sizeof ns, NULL, 0)))
            return r;
    }
    crs_child_maphash(c);
    if (c->nmaphash &&
        (r = put_section(c, CRS_SEC_MAPHASH, c->nmaphash, c->maphash,
                         c->nmaphash * sizeof *c->maphash, NULL, 0)))
        return r;
    if (c->nshmobj &&
        (r = put_section(c, CRS_SEC_SHMOBJ, c->nshmobj, c->shmobj,
                         c->nshmobj * sizeof *c->shmobj, NULL, 0)))
        return r;
    if (c->nguards &&
        (r = put_section(c, CRS_SEC_GUARDS, c->nguards, c->guards,
                         c->nguards * sizeof *c->guards, NULL, 0)))
        return r;
    if (c->nidx && !c->idx_failed && c->nidx == c->nchunks &&
        (r = put_section(c, CRS_SEC_PAGEIDX, (uint32_t)c->nidx, c->idx,
                         c->nidx * sizeof *c->idx, NULL, 0)))
        return r;
    if (c->incr &&
        ((r = put_section(c, CRS_SEC_PARENT, 1, &par, sizeof par, NULL, 0)) ||
         (c->ninh && (r = put_section(c, CRS_SEC_INHERIT, c->ninh, c->inh,
                                      c->ninh * sizeof *c->inh, NULL, 0)))))
        return r;
    if (c->nunsaved &&
        (r = put_section(c, CRS_SEC_UNSAVED, (uint32_t)c->nunsaved, c->unsaved,
                         (size_t)c->nunsaved * sizeof *c->unsaved, NULL, 0)))
        return r;
    /* the pages section header, now that its length is known */
    if ((r = crs_writer_write_at(&c->w, &sh, sizeof sh, pages_off)))
        return r;
    return write_tail(c, &h);
}

/* Gives the image in the finished temporary file another sequence number: the header's, and
 * the trailer's checksums of the header. */
int crs_child_renumber(struct child *c, uint64_t seq)
{
    struct crs_img_header h;
    struct crs_img_trailer t;
    struct stat st;

    if (fstat(c->out_fd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < sizeof h + sizeof t ||
        pread(c->out_fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        pread(c->out_fd, &t, sizeof t, st.st_size - (off_t)sizeof t) != (ssize_t)sizeof t ||
        memcmp(h.magic, CRS_IMG_MAGIC, sizeof h.magic) ||
        memcmp(t.magic, CRS_IMG_TRAILER_MAGIC, sizeof t.magic))
        return -EIO;
    h.seq = seq;
    t.header_checksum = XXH3_64bits(&h, sizeof h);
    t.checksum = XXH3_64bits(&t, offsetof(struct crs_img_trailer, checksum));
    if (pwrite(c->out_fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        pwrite(c->out_fd, &t, sizeof t, st.st_size - (off_t)sizeof t) != (ssize_t)sizeof t)
        return -EIO;
    return 0;
}
