/* snapshot/proc_maps.c - the memory map of the process, from /proc/self/maps, classified per
 * enum crs_img_vma_kind. Runs in the forked snapshot child: no malloc, no stdio, no locks; it
 * is called before the child maps anything of its own, so the list is the process's map.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "common/proc_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void crs_strtab_init(struct crs_strtab *t, char *buf, uint32_t cap)
{
    t->buf = buf;
    t->cap = cap;
    t->len = 1;
    buf[0] = '\0';
}

uint32_t crs_strtab_addn(struct crs_strtab *t, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if ((uint64_t)t->len + n + 1 > t->cap)
        return 0;
    uint32_t off = t->len;
    memcpy(t->buf + off, s, n);
    t->buf[off + n] = '\0';
    t->len += (uint32_t)n + 1;
    return off;
}

uint32_t crs_strtab_add(struct crs_strtab *t, const char *s)
{
    return crs_strtab_addn(t, s, crs_strlen(s));
}

uint64_t crs_makedev(uint64_t major, uint64_t minor)
{
    return ((major & 0xfffff000ull) << 32) | ((major & 0xfffull) << 8) |
           ((minor & 0xffffff00ull) << 12) | (minor & 0xffull);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = crs_strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static uint32_t classify(const char *name, size_t n, int shared, uint32_t *flags)
{
    if (n == 0)
        return shared ? CRS_VMA_ANON_SHARED : CRS_VMA_ANON;
    if (name[0] == '[') {
        if (n == 6 && !memcmp(name, "[heap]", 6))
            return CRS_VMA_HEAP;
        if (n == 7 && !memcmp(name, "[stack]", 7)) {
            *flags |= CRS_VMA_F_GROWSDOWN;
            return CRS_VMA_STACK;
        }
        if (n == 6 && !memcmp(name, "[vdso]", 6))
            return CRS_VMA_VDSO;
        if (crs_strncmp_prefix(name, "[vvar"))
            return CRS_VMA_VVAR;
        if (crs_strncmp_prefix(name, "[vsyscall]"))
            return CRS_VMA_VSYSCALL;
        if (crs_strncmp_prefix(name, "[anon_shmem:"))
            return CRS_VMA_ANON_SHARED;
        return shared ? CRS_VMA_ANON_SHARED : CRS_VMA_ANON; /* [anon:name] and the like */
    }
    if (ends_with(name, n, " (deleted)")) {
        if (shared && (crs_strncmp_prefix(name, "/dev/zero ") || crs_strncmp_prefix(name, "/SYSV")))
            return CRS_VMA_ANON_SHARED;
        *flags |= CRS_VMA_F_DELETED;
    }
    return shared ? CRS_VMA_FILE_SHARED : CRS_VMA_FILE_PRIVATE;
}

/* One maps line: "start-end perms offset major:minor inode   name". */
static int parse_line(char *line, size_t len, struct crs_img_vma *v, struct crs_strtab *st,
                      uint32_t *last_path, const struct crs_img_vma *prev)
{
    const char *s = line;
    uint64_t major, minor, ino;
    line[len] = '\0';
    memset(v, 0, sizeof *v);
    if (crs_parse_hex(&s, &v->start) || *s++ != '-' || crs_parse_hex(&s, &v->end) || *s++ != ' ')
        return -EINVAL;
    if (s[0] == 'r')
        v->prot |= PROT_READ;
    if (s[1] == 'w')
        v->prot |= PROT_WRITE;
    if (s[2] == 'x')
        v->prot |= PROT_EXEC;
    int shared = s[3] == 's';
    if (shared)
        v->flags |= CRS_VMA_F_SHARED;
    s += 4;
    crs_skip_space(&s);
    if (crs_parse_hex(&s, &v->file_offset))
        return -EINVAL;
    crs_skip_space(&s);
    if (crs_parse_hex(&s, &major) || *s++ != ':' || crs_parse_hex(&s, &minor))
        return -EINVAL;
    crs_skip_space(&s);
    if (crs_parse_dec(&s, &ino))
        return -EINVAL;
    crs_skip_space(&s);
    v->dev = crs_makedev(major, minor);
    v->ino = ino;
    size_t n = (size_t)(line + len - s);
    v->kind = classify(s, n, shared, &v->flags);
    if (n) {
        const char *prev = *last_path ? st->buf + *last_path : "";
        if (*last_path && crs_strlen(prev) == n && !memcmp(prev, s, n))
            v->path = *last_path;
        else
            v->path = *last_path = crs_strtab_addn(st, s, n);
        if (!v->path)
            return -E2BIG;
    }
    if (prev && v->path && prev->path == v->path) {
        /* the same file as the line before (a library's several mappings): stat it once */
        v->file_size = prev->file_size;
        v->file_mtime_ns = prev->file_mtime_ns;
    } else if ((v->kind == CRS_VMA_FILE_PRIVATE || v->kind == CRS_VMA_FILE_SHARED) &&
               s[0] == '/' && !(v->flags & CRS_VMA_F_DELETED)) {
        struct stat sb;
        if (stat(st->buf + v->path, &sb) == 0) {
            v->file_size = (uint64_t)sb.st_size;
            v->file_mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        }
    }
    return 0;
}

/* One smaps line: a region's header sets cur to its bounds; its VmFlags line marks the regions
 * of the list inside them (vmas are in address order, *k walks them once). Inside, not at the
 * same start: the child's own mapping, made since the list was read, may have merged with a
 * region of the process's. */
static void smaps_line(const char *line, size_t len, struct crs_img_vma *vmas, size_t n,
                       size_t *k, uint64_t cur[2])
{
    const char *s = line;
    uint32_t flags = 0;

    if (len && ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f'))) {
        if (crs_parse_hex(&s, &cur[0]) || *s++ != '-' || crs_parse_hex(&s, &cur[1]))
            cur[0] = UINT64_MAX;
        return;
    }
    if (len < 8 || memcmp(line, "VmFlags:", 8) || cur[0] == UINT64_MAX)
        return;
    while (*k < n && vmas[*k].end <= cur[0])
        (*k)++;
    static const struct { char name[3]; uint32_t flag; } known[] = {
        { "nr", CRS_VMA_F_NORESERVE }, { "hg", CRS_VMA_F_HUGEPAGE },
        { "nh", CRS_VMA_F_NOHUGEPAGE }, { "dd", CRS_VMA_F_DONTDUMP },
        { "mg", CRS_VMA_F_MERGEABLE },
        /* may hold guard pages (Linux 6.18): the page walk looks for them (walk.c) */
        { "gu", CRS_VMA_F_GUARDS },
    };
    for (size_t i = 8; i + 2 <= len; i++) {        /* two-letter names, space-separated */
        if (line[i - 1] != ' ' || (i + 2 != len && line[i + 2] != ' '))
            continue;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            if (line[i] == known[j].name[0] && line[i + 1] == known[j].name[1])
                flags |= known[j].flag;
    }
    for (size_t j = *k; j < n && vmas[j].start < cur[1]; j++)
        if (vmas[j].start >= cur[0] && vmas[j].end <= cur[1])
            vmas[j].flags |= flags;
}

/* What only smaps shows of each region (VmFlags): MAP_NORESERVE ("nr"), which a restore maps so
 * again (else a large sparse region would need its whole size in commit), and the advice a
 * restore gives it again (huge pages, dump, KSM). A lock (mlock) is not inherited by the
 * snapshot child, so it is not seen here: the runtime read the locks from the process's own
 * smaps while the threads were stopped (mark_locked). Best effort: without smaps the regions
 * are restored with a reservation, which `crsnap restore -n` checks, and no advice.
 *
 * smaps counts every page of every region (a page-table walk): 2 to 20 ms for a few hundred
 * MiB. The child reads it once its job runs again, not while the job's other processes
 * still fork (child.c). */
struct smaps_walk {
    struct crs_img_vma *vmas;
    size_t n, k;
    uint64_t cur[2];
};

static int smaps_one(char *line, size_t len, void *arg)
{
    struct smaps_walk *w = arg;
    smaps_line(line, len, w->vmas, w->n, &w->k, w->cur);
    return 0;
}

void crs_proc_vmflags(struct crs_img_vma *vmas, size_t n, char *line, size_t linecap)
{
    struct smaps_walk w = { vmas, n, 0, { UINT64_MAX, 0 } };
    crs_read_lines("/proc/self/smaps", line, linecap, smaps_one, &w);
}

/* The regions inside a range the runtime found locked. The map is the one the threads left
 * (the child's copy of it), so each region lies wholly inside or outside each range. */
static void mark_locked(struct crs_img_vma *vmas, size_t n, const struct crs_proc_ranges *lk)
{
    size_t k = 0;

    for (uint32_t i = 0; lk && i < lk->n; i++) {
        if (!(lk->how[i] & CRS_SNAP_RANGE_LOCKED))
            continue;
        while (k < n && vmas[k].end <= lk->r[i][0])
            k++;
        for (size_t j = k; j < n && vmas[j].start < lk->r[i][1]; j++)
            if (vmas[j].start >= lk->r[i][0] && vmas[j].end <= lk->r[i][1])
                vmas[j].flags |= CRS_VMA_F_LOCKED |
                                 (lk->how[i] & CRS_SNAP_RANGE_ONFAULT ? CRS_VMA_F_LOCKONFAULT : 0);
    }
}

struct maps_walk {
    struct crs_img_vma *vmas;
    size_t max, n;
    struct crs_strtab *st;
    uint32_t last_path;
};

static int maps_one(char *line, size_t len, void *arg)
{
    struct maps_walk *w = arg;
    struct crs_img_vma v;
    int r = parse_line(line, len, &v, w->st, &w->last_path, w->n ? &w->vmas[w->n - 1] : NULL);
    if (r)
        return r;
    if (v.kind == CRS_VMA_VSYSCALL)
        return 0;
    if (w->n == w->max)
        return -E2BIG;
    w->vmas[w->n++] = v;
    return 0;
}

long crs_proc_maps(struct crs_img_vma *vmas, size_t max, struct crs_strtab *st, char *line,
                   size_t linecap, const struct crs_proc_ranges *locked)
{
    struct maps_walk w = { vmas, max, 0, st, 0 };
    int r = crs_read_lines("/proc/self/maps", line, linecap, maps_one, &w);

    if (!r)
        mark_locked(vmas, w.n, locked);
    return r ? r : (long)w.n;
}
