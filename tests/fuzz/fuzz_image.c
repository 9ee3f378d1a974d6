/* tests/fuzz/fuzz_image.c - a fuzzer for images. It mutates seed images, structurally (sections
 * swapped, duplicated, dropped, cut or grown; counts, offsets and lengths set to edge values;
 * string offsets past the end; regions and chunks overlapping; records of every section edited
 * field by field) and at random (bit flips, bytes set to 0 or 0xff, truncation, extension),
 * recomputes every checksum (chunks, sections, chunk headers, table of contents, header,
 * trailer) so that the mutation reaches the checks past them, and runs `crsnap restore -n`,
 * `crsnap info --json` and `crsnap verify` on each mutant, each under a time limit. A mutant
 * fails when a command dies of a signal, runs past the limit (a hang), exits other than 0 or 1,
 * prints a sanitizer report, fails without a "crsnap ...: why" message on stderr, or (info)
 * exits 0 with output that is not one JSON value. --strict-text adds what escaping bytes from
 * images guarantees: no raw control bytes on stdout or stderr, every stderr line crsnap's own,
 * JSON strings valid UTF-8.
 *
 * Each mutant is a pure function of (--seed, its iteration number), so a failure is reproduced
 * with --seed S --only I and the same seed images; failing mutants are kept in --out DIR, each
 * with a .txt of the command, the mutations and the output.
 *
 *   fuzz_image [--seed N] [--iterations N] [--only I] [--timeout SEC] [--out DIR]
 *              [--strict-text] [--reader-only] [--quiet] CRSNAP SEED_IMAGE...
 *
 * --reader-only runs no command: it opens, checks and verifies each mutant with the reader
 * linked in, hundreds of times faster, for long runs of the sanitizer build (a sanitizer report
 * ends the run and names the iteration; the mutant is left in the work directory).
 *
 * The suite runs 200 mutants through tests/fuzz/fuzz.sh, which also makes the seed images.
 * A long run by hand: make the seeds once with the ordinary build (the images of a sanitized
 * program hold the sanitizer's shadow, where a sanitized restorer has its own, so their dry runs
 * stop early), then fuzz the sanitizer build (cmake -DCRSNAP_SANITIZE=ON) with them:
 *   cd build && FUZZ_ITERATIONS=1 FUZZ_KEEP=/tmp/fuzz-seeds CRSNAP_BIN=$PWD/tools/crsnap \
 *     CRSNAP_TEST_TMP=$PWD/test-tmp sh ../tests/fuzz/fuzz.sh tests/fuzz_seed_prog \
 *     tests/image_make tests/fuzz_image
 *   cd ../build-asan && ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 \
 *     tests/fuzz_image --seed $RANDOM --iterations 20000 --out /tmp/fuzz-out tools/crsnap \
 *     /tmp/fuzz-seeds/seeds/real.crsnap /tmp/fuzz-seeds/seeds/made.crsnap
 * (keep /tmp/fuzz-seeds: the real seed refers to files there). Two such runs with different
 * seeds use two cores.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "image/reader.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define HAVE_DEATH_CALLBACK 1
#endif

#define MAX_SECS 80
#define MAX_SEEDS 16
#define OUT_MAX (1u << 20)              /* bytes of a command's output kept for the checks */

/* ---- deterministic randomness: one stream per (seed, iteration) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static int chance(unsigned percent)
{
    return below(100) < percent;
}

/* Values at the edges of what fields hold, and values near a reference (a size, a count). */
static uint64_t edge64(uint64_t ref)
{
    static const uint64_t v[] = {
        0, 1, 2, 7, 8, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
        0xffffffff, 0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
        0xffffffffffffffffull, 0xfffffffffffff000ull, 1ull << 47, 1ull << 57, 4096ull * 256,
    };
    switch (below(4)) {
    case 0:
        return ref + below(5) - 2;
    case 1:
        return rnd();
    default:
        return v[below(sizeof v / sizeof v[0])];
    }
}

static uint32_t edge32(uint64_t ref)
{
    return (uint32_t)edge64(ref);
}

/* ---- an image as a list of sections ---- */

struct sec {
    uint32_t type, flags, count;
    unsigned char *data;
    uint64_t len;
};

struct model {
    unsigned char header[64];
    struct sec s[MAX_SECS];
    int n;
    uint64_t pause_ns;
};

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz_image: out of memory\n");
        exit(2);
    }
    return p;
}

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            fprintf(stderr, "fuzz_image: out of memory\n");
            exit(2);
        }
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_zero(struct buf *b, size_t n)
{
    static const unsigned char z[8];
    while (n) {
        size_t k = n < 8 ? n : 8;
        put(b, z, k);
        n -= k;
    }
}

/* Seeds are sound images (their checks were made when they were loaded). */
static int parse(const unsigned char *p, size_t len, struct model *m)
{
    const struct crs_img_trailer *t;
    if (len < 128)
        return -1;
    t = (const void *)(p + len - sizeof *t);
    if (memcmp(t->magic, CRS_IMG_TRAILER_MAGIC, 8) || t->toc_count > MAX_SECS ||
        t->toc_offset + (uint64_t)t->toc_count * sizeof(struct crs_img_toc_entry) > len)
        return -1;
    memset(m, 0, sizeof *m);
    memcpy(m->header, p, 64);
    m->pause_ns = t->pause_ns;
    const struct crs_img_toc_entry *toc = (const void *)(p + t->toc_offset);
    for (uint32_t i = 0; i < t->toc_count; i++) {
        if (toc[i].offset + 16 + toc[i].length > len)
            return -1;
        struct sec *s = &m->s[m->n++];
        s->type = toc[i].type;
        s->count = toc[i].count;
        s->flags = ((const struct crs_img_section *)(p + toc[i].offset))->flags;
        s->len = toc[i].length;
        s->data = xmalloc(s->len);
        memcpy(s->data, p + toc[i].offset + 16, s->len);
    }
    return 0;
}

static void model_free(struct model *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->s[i].data);
    m->n = 0;
}

static void model_copy(struct model *dst, const struct model *src)
{
    *dst = *src;
    for (int i = 0; i < src->n; i++) {
        dst->s[i].data = xmalloc(src->s[i].len);
        memcpy(dst->s[i].data, src->s[i].data, src->s[i].len);
    }
}

static void serialize(const struct model *m, struct buf *b)
{
    struct crs_img_toc_entry toc[MAX_SECS];
    struct crs_img_trailer t;

    b->len = 0;
    put(b, m->header, 64);
    for (int i = 0; i < m->n; i++) {
        const struct sec *s = &m->s[i];
        struct crs_img_section sh = {s->type, s->flags, s->len};
        toc[i] = (struct crs_img_toc_entry){s->type, s->count, b->len, s->len, 0};
        put(b, &sh, sizeof sh);
        put(b, s->data, s->len);
        put_zero(b, (8 - s->len % 8) % 8);
    }
    memset(&t, 0, sizeof t);
    memcpy(t.magic, CRS_IMG_TRAILER_MAGIC, 8);
    t.toc_offset = b->len;
    t.toc_count = (uint32_t)m->n;
    put(b, toc, (size_t)m->n * sizeof toc[0]);
    t.file_size = b->len + sizeof t;
    t.pause_ns = m->pause_ns;
    put(b, &t, sizeof t);
}

/* ---- checksums, recomputed in place wherever the structure lets them be found ---- */

/* The chunks' own checksums, and the checksum of their headers as the reader walks them. */
static uint64_t fix_chunks(unsigned char *p, uint64_t len)
{
    XXH3_state_t *hs = XXH3_createState();
    uint64_t at = 0, sum;
    XXH3_64bits_reset(hs);
    while (len - at >= sizeof(struct crs_img_chunk)) {
        struct crs_img_chunk c;
        memcpy(&c, p + at, sizeof c);
        uint64_t data = at + sizeof c;
        if (c.clen <= len - data) {
            c.checksum = XXH3_64bits(p + data, c.clen);
            memcpy(p + at, &c, sizeof c);
        }
        XXH3_64bits_update(hs, &c, sizeof c);
        uint64_t next = data + (((uint64_t)c.clen + 7) & ~7ull);
        if (next <= at || next > len)
            break;
        at = next;
    }
    sum = XXH3_64bits_digest(hs);
    XXH3_freeState(hs);
    return sum;
}

static void fix_sums(unsigned char *p, size_t len)
{
    struct crs_img_trailer t;           /* a copy: after a cut the trailer may be unaligned */
    if (len < 64 + sizeof t)
        return;
    memcpy(&t, p + len - sizeof t, sizeof t);
    if (t.toc_offset <= len && t.toc_count <= (len - t.toc_offset) / 32) {
        unsigned char *toc = p + t.toc_offset;
        for (uint32_t i = 0; i < t.toc_count; i++) {
            struct crs_img_toc_entry e;
            memcpy(&e, toc + (size_t)i * 32, sizeof e);
            if (e.offset > len || len - e.offset < 16 || len - e.offset - 16 < e.length)
                continue;
            unsigned char *pl = p + e.offset + 16;
            e.checksum = e.type == CRS_SEC_PAGES ? fix_chunks(pl, e.length)
                                                 : XXH3_64bits(pl, e.length);
            memcpy(toc + (size_t)i * 32, &e, sizeof e);
        }
        t.toc_checksum = XXH3_64bits(toc, (size_t)t.toc_count * 32);
    }
    t.header_checksum = XXH3_64bits(p, 64);
    t.checksum = XXH3_64bits(&t, offsetof(struct crs_img_trailer, checksum));
    memcpy(p + len - sizeof t, &t, sizeof t);
}

/* ---- mutations ---- */

static char oplog[1024];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    size_t n = strlen(oplog);
    va_list ap;
    if (n + 2 >= sizeof oplog)
        return;
    if (n)
        oplog[n++] = ' ', oplog[n] = '\0';
    va_start(ap, fmt);
    vsnprintf(oplog + n, sizeof oplog - n, fmt, ap);
    va_end(ap);
}

static struct sec *find(struct model *m, uint32_t type)
{
    for (int i = 0; i < m->n; i++)
        if (m->s[i].type == type)
            return &m->s[i];
    return NULL;
}

static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* An integer field (any 4-aligned word of a record, 8 bytes when 8-aligned) set to an edge. */
static void poke_field(unsigned char *rec, size_t size, uint64_t ref)
{
    if (size < 4)
        return;
    size_t off = below(size / 4) * 4;
    if (off % 8 == 0 && off + 8 <= size && chance(50)) {
        wr64(rec + off, edge64(ref));
        note("u64@%zu", off);
    } else {
        wr32(rec + off, edge32(ref));
        note("u32@%zu", off);
    }
}

static size_t record_size(uint32_t type)
{
    switch (type) {
    case CRS_SEC_HOST: return sizeof(struct crs_img_host);
    case CRS_SEC_PROCESS: return sizeof(struct crs_img_process);
    case CRS_SEC_VMAS: return sizeof(struct crs_img_vma);
    case CRS_SEC_THREADS: return sizeof(struct crs_img_thread);
    case CRS_SEC_SIGNALS: return sizeof(struct crs_img_sigaction);
    case CRS_SEC_FDS: return sizeof(struct crs_img_fd);
    case CRS_SEC_AUXV: return 16;
    case CRS_SEC_TIMERS: return sizeof(struct crs_img_timer);
    default: return 0;
    }
}

static void grow(struct sec *s, uint64_t extra, int fill)
{
    s->data = realloc(s->data, s->len + extra + 1);
    if (!s->data)
        exit(2);
    for (uint64_t i = 0; i < extra; i++)
        s->data[s->len + i] = fill < 0 ? (unsigned char)rnd() : (unsigned char)fill;
    s->len += extra;
}

/* Records of a fixed-size section: some field of one of them. */
static void mut_record(struct model *m)
{
    struct sec *s = &m->s[below(m->n)];
    size_t rs = record_size(s->type);
    if (s->type == CRS_SEC_PAGES || s->type == CRS_SEC_QUEUED || s->type == CRS_SEC_DELETED)
        rs = s->type == CRS_SEC_PAGES ? sizeof(struct crs_img_chunk)
                                      : s->type == CRS_SEC_QUEUED ? sizeof(struct crs_img_queued)
                                                                  : sizeof(struct crs_img_deleted);
    if (!rs || s->len < rs)
        return;
    note("field[%s]", s->type == CRS_SEC_PAGES ? "chunk" : "rec");
    /* variable records: only the first header is at a known place */
    uint64_t at = (s->type == CRS_SEC_PAGES || s->type == CRS_SEC_QUEUED ||
                   s->type == CRS_SEC_DELETED) ? 0 : below(s->len / rs) * rs;
    poke_field(s->data + at, rs, s->len);
}

/* The chunk headers, found by walking the pages section. */
static int chunk_offsets(struct sec *s, uint64_t *offs, int max)
{
    uint64_t at = 0;
    int n = 0;
    while (n < max && s->len - at >= sizeof(struct crs_img_chunk)) {
        struct crs_img_chunk c;
        memcpy(&c, s->data + at, sizeof c);
        offs[n++] = at;
        uint64_t next = at + sizeof c + (((uint64_t)c.clen + 7) & ~7ull);
        if (next > s->len)
            break;
        at = next;
    }
    return n;
}

static void mut_chunks(struct model *m)
{
    struct sec *s = find(m, CRS_SEC_PAGES);
    uint64_t offs[4096];
    int n;
    if (!s || (n = chunk_offsets(s, offs, 4096)) == 0)
        return;
    int i = (int)below((uint64_t)n);
    struct crs_img_chunk c;
    memcpy(&c, s->data + offs[i], sizeof c);
    uint64_t clen_end = offs[i] + sizeof c + (((uint64_t)c.clen + 7) & ~7ull);
    switch (below(9)) {
    case 0: /* overlap the previous one */
        if (i > 0) {
            struct crs_img_chunk pc;
            memcpy(&pc, s->data + offs[i - 1], sizeof pc);
            c.addr = pc.addr + (below(2) ? 0 : 4096);
            note("chunk-overlap");
        }
        break;
    case 1:
        c.npages = edge32(c.npages);
        note("chunk-npages=%u", c.npages);
        break;
    case 2:
        c.clen = edge32(c.clen);
        note("chunk-clen=%u", c.clen);
        break;
    case 3:
        c.flags ^= CRS_CHUNK_F_RAW;
        note("chunk-rawflip");
        break;
    case 4: /* garbage in the data, checksum recomputed: the decompressor sees it */
        if (clen_end <= s->len && c.clen) {
            for (int k = 0; k < 1 + (int)below(8); k++)
                s->data[offs[i] + sizeof c + below(c.clen)] = (unsigned char)rnd();
            note("chunk-data");
        }
        break;
    case 5: /* duplicate a whole chunk after itself */
        if (clen_end <= s->len) {
            uint64_t cl = clen_end - offs[i];
            unsigned char *d = xmalloc(s->len + cl);
            memcpy(d, s->data, clen_end);
            memcpy(d + clen_end, s->data + offs[i], cl);
            memcpy(d + clen_end + cl, s->data + clen_end, s->len - clen_end);
            free(s->data);
            s->data = d;
            s->len += cl;
            if (chance(50))
                s->count++;
            note("chunk-dup");
        }
        return;
    case 6: /* drop it */
        if (clen_end <= s->len) {
            memmove(s->data + offs[i], s->data + clen_end, s->len - clen_end);
            s->len -= clen_end - offs[i];
            if (chance(70))
                s->count--;
            note("chunk-drop");
        }
        return;
    case 7:
        c.addr = edge64(c.addr) & (below(4) ? ~0xfffull : ~0ull);
        note("chunk-addr=%llx", (unsigned long long)c.addr);
        break;
    default: /* a zstd frame that says it holds more or fewer pages */
        c.npages += below(2) ? 1 : (uint32_t)-1;
        note("chunk-npages-off-by-one");
        break;
    }
    memcpy(s->data + offs[i], &c, sizeof c);
}

static void mut_vmas(struct model *m)
{
    struct sec *s = find(m, CRS_SEC_VMAS);
    struct crs_img_vma *v;
    uint64_t n;
    if (!s || (n = s->len / sizeof *v) == 0)
        return;
    v = (void *)s->data;
    uint64_t i = below(n);
    switch (below(8)) {
    case 0:
        if (i > 0) {
            v[i].start = below(2) ? v[i - 1].start : v[i - 1].end - 4096;
            note("vma-overlap");
        }
        break;
    case 1:
        if (i + 1 < n) {
            struct crs_img_vma t = v[i];
            v[i] = v[i + 1];
            v[i + 1] = t;
            note("vma-swap");
        }
        break;
    case 2:
        v[i].end = edge64(v[i].end) & ~0xfffull;
        note("vma-end");
        break;
    case 3:
        v[i].flags ^= 1u << below(5);
        note("vma-flags=%#x", v[i].flags);
        break;
    case 4:
        v[i].kind = (uint32_t)below(11);
        note("vma-kind=%u", v[i].kind);
        break;
    case 5:
        v[i].file_offset = edge64(v[i].file_offset);
        note("vma-offset");
        break;
    case 6:
        v[i].file_size = edge64(v[i].file_size);
        note("vma-filesize");
        break;
    default:
        v[i].start = v[i].end;
        note("vma-empty");
        break;
    }
}

/* String offsets (process exe/cwd/comm, region and descriptor paths) at and past the end. */
static void mut_strref(struct model *m)
{
    struct sec *str = find(m, CRS_SEC_STRINGS);
    uint64_t sl = str ? str->len : 0;
    uint32_t val = below(2) ? (uint32_t)(sl + below(4) - 2) : edge32(sl);
    struct sec *s;
    switch (below(3)) {
    case 0:
        if ((s = find(m, CRS_SEC_PROCESS)) && s->len >= sizeof(struct crs_img_process)) {
            size_t f[] = {offsetof(struct crs_img_process, exe),
                          offsetof(struct crs_img_process, cwd),
                          offsetof(struct crs_img_process, comm)};
            wr32(s->data + f[below(3)], val);
        }
        break;
    case 1:
        if ((s = find(m, CRS_SEC_VMAS)) && s->len >= sizeof(struct crs_img_vma))
            wr32(s->data + below(s->len / sizeof(struct crs_img_vma)) * sizeof(struct crs_img_vma) +
                     offsetof(struct crs_img_vma, path), val);
        break;
    default:
        if ((s = find(m, CRS_SEC_FDS)) && s->len >= sizeof(struct crs_img_fd))
            wr32(s->data + below(s->len / sizeof(struct crs_img_fd)) * sizeof(struct crs_img_fd) +
                     offsetof(struct crs_img_fd, path), val);
        break;
    }
    note("strref=%u/%llu", val, (unsigned long long)sl);
}

/* Hostile bytes inside strings and arguments: control characters, quotes, invalid UTF-8,
 * missing terminators. */
static void mut_text(struct model *m)
{
    static const unsigned char nasty[] = {0x1b, '[', '2', 'J', '"', '\\', 0x07, 0x7f, 0x80,
                                          0xc3, 0xff, 0xfe, 0xe2, 0x80, '\n', '\r', 0x01, 0};
    struct sec *s = find(m, below(3) ? CRS_SEC_STRINGS : CRS_SEC_ARGV);
    if (!s || s->len < 2)
        return;
    switch (below(4)) {
    case 0:
        s->data[s->len - 1] = 'A';
        note("text-unterminated");
        break;
    case 1:
        s->data[0] = 'A';
        note("text-first");
        break;
    default:
        for (int k = 0; k < 1 + (int)below(6); k++) {
            uint64_t at = 1 + below(s->len - 2);
            s->data[at] = nasty[below(sizeof nasty - 1)];
        }
        note("text-nasty");
        break;
    }
}

static void mut_threads_fds(struct model *m)
{
    struct sec *s;
    if (chance(50)) {
        if (!(s = find(m, CRS_SEC_THREADS)) || s->len < sizeof(struct crs_img_thread))
            return;
        struct crs_img_thread *t = (void *)s->data;
        uint64_t n = s->len / sizeof *t, i = below(n);
        switch (below(3)) {
        case 0:
            t[i].flags ^= CRS_THREAD_F_MAIN;
            note("thread-main");
            break;
        case 1: { /* many threads: every record copied k times */
            uint64_t k = 1 + below(80);
            grow(s, n * sizeof *t * k, 0);
            for (uint64_t j = 1; j <= k; j++)
                memcpy(s->data + j * n * sizeof *t, s->data, n * sizeof *t);
            for (uint64_t j = n; j < s->len / sizeof *t; j++)
                ((struct crs_img_thread *)s->data)[j].flags &= ~CRS_THREAD_F_MAIN;
            s->count = (uint32_t)(s->len / sizeof *t);
            note("threads-x%llu", (unsigned long long)k + 1);
            break;
        }
        default:
            t[i].tid = (int32_t)edge32((uint64_t)t[i].tid);
            note("thread-tid");
            break;
        }
        return;
    }
    if (!(s = find(m, CRS_SEC_FDS)) || s->len < sizeof(struct crs_img_fd))
        return;
    struct crs_img_fd *f = (void *)s->data;
    uint64_t n = s->len / sizeof *f, i = below(n);
    switch (below(5)) {
    case 0:
        f[i].fd = (int32_t)edge32((uint64_t)f[i].fd);
        note("fd-num=%d", f[i].fd);
        break;
    case 1:
        f[i].kind = (uint32_t)below(13);
        note("fd-kind=%u", f[i].kind);
        break;
    case 2:
        f[i].u.epoll.n = edge32(f[i].u.epoll.n);
        note("fd-union");
        break;
    case 3: { /* many descriptors, numbered upward from the last */
        uint64_t k = 1 + below(6000);
        struct crs_img_fd last = f[n - 1];
        grow(s, k * sizeof last, 0);
        for (uint64_t j = 0; j < k; j++) {
            last.fd++;
            memcpy(s->data + (n + j) * sizeof last, &last, sizeof last);
        }
        s->count = (uint32_t)(s->len / sizeof last);
        note("fds+%llu", (unsigned long long)k);
        break;
    }
    default:
        f[i].mode = edge32(f[i].mode);
        note("fd-mode");
        break;
    }
}

static void mut_restart(struct model *m)
{
    struct sec *s = find(m, CRS_SEC_PROCESS);
    if (!s || s->len < sizeof(struct crs_img_process))
        return;
    size_t base = offsetof(struct crs_img_process, restart);
    size_t off = base + below(sizeof(struct crs_img_restart) / 8) * 8;
    wr64(s->data + off, edge64(rd32(s->data + off)));
    note("restart@%zu", off - base);
}

static void mut_structure(struct model *m)
{
    int i = (int)below((uint64_t)m->n), j = (int)below((uint64_t)m->n);
    struct sec t;
    switch (below(9)) {
    case 0:
        t = m->s[i];
        m->s[i] = m->s[j];
        m->s[j] = t;
        note("sec-swap");
        break;
    case 1:
        if (m->n < MAX_SECS) {
            m->s[m->n] = m->s[i];
            m->s[m->n].data = xmalloc(m->s[i].len);
            memcpy(m->s[m->n].data, m->s[i].data, m->s[i].len);
            m->n++;
            note("sec-dup[%u]", m->s[i].type);
        }
        break;
    case 2:
        free(m->s[i].data);
        m->s[i] = m->s[--m->n];
        note("sec-drop");
        break;
    case 3:
        if (m->n < MAX_SECS) {
            struct sec *u = &m->s[m->n++];
            u->type = below(2) ? 13 + (uint32_t)below(4) : edge32(0);
            u->flags = 0;
            u->count = edge32(1);
            u->len = below(300);
            u->data = xmalloc(u->len);
            for (uint64_t k = 0; k < u->len; k++)
                u->data[k] = (unsigned char)rnd();
            note("sec-unknown[%u]", u->type);
        }
        break;
    case 4:
        m->s[i].type = 1 + (uint32_t)below(12);
        note("sec-type");
        break;
    case 5:
        m->s[i].count = edge32(m->s[i].count);
        note("sec-count=%u", m->s[i].count);
        break;
    case 6:
        m->s[i].len = m->s[i].len ? below(m->s[i].len) : 0;
        note("sec-cut");
        break;
    case 7:
        grow(&m->s[i], 1 + below(200), below(2) ? 0 : -1);
        note("sec-grow");
        break;
    default:
        m->s[i].flags = edge32(0);
        note("sec-flags");
        break;
    }
}

static void mut_header(struct model *m)
{
    size_t off = 8 + below(7) * 4;        /* version, header_size, arch, page_size, ... */
    wr32(m->header + off, edge32(rd32(m->header + off)));
    note("header@%zu", off);
}

/* After serialising: edits of the table of contents and trailer, and random bytes. */
static void mut_bytes(struct buf *b)
{
    struct crs_img_trailer tr, *t = &tr;  /* serialised: the trailer is where it says */
    memcpy(&tr, b->p + b->len - sizeof tr, sizeof tr);
    switch (below(6)) {
    case 0: { /* a table-of-contents field */
        uint64_t i = below(t->toc_count);
        size_t off = below(4) * 8;
        unsigned char *e = b->p + t->toc_offset + i * 32;
        if (off == 0)
            wr32(e + 4 * below(2), edge32(rd32(e)));
        else
            wr64(e + off, edge64(rd32(e + off)));
        note("toc[%llu]@%zu", (unsigned long long)i, off);
        break;
    }
    case 1: { /* a trailer field */
        size_t off = 8 + below(4) * 8;
        wr64(b->p + b->len - sizeof tr + off, edge64(b->len));
        note("trailer@%zu", off);
        break;
    }
    case 2: /* bit flips anywhere */
        for (int k = 0; k < 1 + (int)below(8); k++)
            b->p[below(b->len)] ^= (unsigned char)(1u << below(8));
        note("bitflips");
        break;
    case 3: /* boundary bytes and words anywhere */
        for (int k = 0; k < 1 + (int)below(4); k++) {
            size_t at = below(b->len - 4) & ~3ull;
            static const uint32_t w[] = {0, 0xffffffffu, 0x7fffffffu, 0x80000000u};
            if (below(2))
                b->p[at] = below(2) ? 0 : 0xff;
            else
                wr32(b->p + at, w[below(4)]);
        }
        note("boundary");
        break;
    case 4: /* a word early in the file: header and the first sections */
        if (b->len > 4096 + 8) {
            size_t at = below(4096) & ~3ull;
            wr32(b->p + at, edge32(rd32(b->p + at)));
            note("early@%zu", at);
        }
        break;
    default: /* the table of contents points twice at one section */
        if (t->toc_count > 1) {
            uint64_t i = below(t->toc_count), j = below(t->toc_count);
            unsigned char *ei = b->p + t->toc_offset + i * 32;
            unsigned char *ej = b->p + t->toc_offset + j * 32;
            memcpy(ei + 8, ej + 8, 16);
            note("toc-alias");
        }
        break;
    }
}

/* After the checksums: the file cut, grown, or cut with a sound trailer moved to its end. */
static void mut_file(struct buf *b)
{
    switch (below(4)) {
    case 0:
        b->len = below(4) ? below(b->len) : below(200);
        note("truncate=%zu", b->len);
        break;
    case 1: {
        size_t extra = 1 + below(5000);
        int fill = below(2) ? 0 : -1;
        unsigned char *tmp = xmalloc(extra);
        for (size_t k = 0; k < extra; k++)
            tmp[k] = fill < 0 ? (unsigned char)rnd() : 0;
        put(b, tmp, extra);
        free(tmp);
        note("extend=%zu", extra);
        break;
    }
    default: { /* a whole trailer at a new end: the file_size is right, the body is not */
        struct crs_img_trailer t;
        memcpy(&t, b->p + b->len - sizeof t, sizeof t);
        size_t body = b->len - sizeof t;
        size_t nb = below(2) ? body - below(body > 64 ? body - 64 : 1) : body + below(9000);
        if (nb > body) {
            unsigned char *z = xmalloc(nb - body);
            memset(z, below(2) ? 0 : 0xff, nb - body);
            b->len = body;
            put(b, z, nb - body);
            free(z);
        } else {
            b->len = nb;
        }
        t.file_size = nb + sizeof t;
        put(b, &t, sizeof t);
        note("retrailer=%zu", nb);
        fix_sums(b->p, b->len);
        break;
    }
    }
}

static void make_mutant(const struct model *seed, struct buf *out)
{
    struct model m;
    model_copy(&m, seed);
    int nops = 1 + (int)below(3);
    for (int k = 0; k < nops; k++) {
        switch (below(10)) {
        case 0: mut_record(&m); break;
        case 1: mut_chunks(&m); break;
        case 2: mut_vmas(&m); break;
        case 3: mut_strref(&m); break;
        case 4: mut_text(&m); break;
        case 5: mut_threads_fds(&m); break;
        case 6: mut_restart(&m); break;
        case 7: mut_structure(&m); break;
        case 8: mut_header(&m); break;
        default: mut_chunks(&m); break;
        }
    }
    serialize(&m, out);
    model_free(&m);
    fix_sums(out->p, out->len);
    if (chance(25))
        mut_bytes(out);
    if (chance(85))
        fix_sums(out->p, out->len);
    else
        note("sums-stale");
    if (chance(12))
        mut_file(out);
}

/* ---- running a command ---- */

struct result {
    int status;                         /* waitpid status */
    int timed_out;
    char *out, *err;
    size_t outlen, errlen;
};

static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    char *p = xmalloc(OUT_MAX + 1);
    size_t got = 0;
    ssize_t n;
    while (fd >= 0 && got < OUT_MAX && (n = read(fd, p + got, OUT_MAX - got)) > 0)
        got += (size_t)n;
    if (fd >= 0)
        close(fd);
    p[got] = '\0';
    *len = got;
    return p;
}

static int run(char *const argv[], const char *work, int timeout_ms, struct result *res)
{
    char outp[4200], errp[4200];
    snprintf(outp, sizeof outp, "%s/out", work);
    snprintf(errp, sizeof errp, "%s/err", work);
    memset(res, 0, sizeof *res);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || o < 0 || e < 0)
            _exit(120);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        _exit(121);
    }
    setpgid(pid, pid);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            res->status = st;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms) {
            res->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &res->status, 0);
            break;
        }
        if (pfd >= 0) {
            struct pollfd p = {pfd, POLLIN, 0};
            poll(&p, 1, (int)(timeout_ms - el));
        } else {
            usleep(2000);
        }
    }
    if (pfd >= 0)
        close(pfd);
    kill(-pid, SIGKILL);                /* anything the command left behind in its group */
    res->out = slurp(outp, &res->outlen);
    res->err = slurp(errp, &res->errlen);
    return 0;
}

/* ---- checking what came out ---- */

struct json {
    const unsigned char *p, *end;
    int strict;
    const char *why;
};

static void ws(struct json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = *p;
    int n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (!n || end - p < n)
        return 0;
    for (int k = 1; k < n; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
        return 0;
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
        return 0;
    return n;
}

static int jvalue(struct json *j, int depth);

static int jstring(struct json *j)
{
    j->p++;
    while (j->p < j->end) {
        unsigned c = *j->p;
        if (c == '"') {
            j->p++;
            return 0;
        }
        if (c < 0x20)
            return j->why = "raw control character in a string", -1;
        if (c == '\\') {
            if (j->end - j->p < 2)
                break;
            unsigned char e = j->p[1];
            if (e == 'u') {
                if (j->end - j->p < 6)
                    break;
                for (int k = 2; k < 6; k++)
                    if (!strchr("0123456789abcdefABCDEF", j->p[k]) || !j->p[k])
                        return j->why = "bad \\u escape", -1;
                j->p += 6;
            } else if (strchr("\"\\/bfnrt", e) && e) {
                j->p += 2;
            } else {
                return j->why = "bad escape", -1;
            }
            continue;
        }
        if (c >= 0x80) {
            int n = utf8_seq(j->p, j->end);
            if (!n) {
                if (j->strict)
                    return j->why = "invalid UTF-8 in a string", -1;
                n = 1;
            }
            j->p += n;
            continue;
        }
        j->p++;
    }
    return j->why = "unterminated string", -1;
}

static int jnumber(struct json *j)
{
    const unsigned char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return j->why = "bad number", -1;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return j->why = "bad fraction", -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return j->why = "bad exponent", -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > s ? 0 : -1;
}

static int jlit(struct json *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
        return j->why = "bad literal", -1;
    j->p += n;
    return 0;
}

static int jvalue(struct json *j, int depth)
{
    if (depth > 64)
        return j->why = "nested too deep", -1;
    ws(j);
    if (j->p >= j->end)
        return j->why = "value missing", -1;
    switch (*j->p) {
    case '"':
        return jstring(j);
    case '{':
    case '[': {
        unsigned char close = *j->p == '{' ? '}' : ']';
        int obj = close == '}';
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            ws(j);
            if (obj) {
                if (j->p >= j->end || *j->p != '"' || jstring(j))
                    return j->why ? -1 : (j->why = "key missing", -1);
                ws(j);
                if (j->p >= j->end || *j->p != ':')
                    return j->why = "':' missing", -1;
                j->p++;
            }
            if (jvalue(j, depth + 1))
                return -1;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return 0;
            }
            return j->why = "',' or closing bracket missing", -1;
        }
    }
    case 't':
        return jlit(j, "true");
    case 'f':
        return jlit(j, "false");
    case 'n':
        return jlit(j, "null");
    default:
        return jnumber(j);
    }
}

static const char *json_check(const char *s, size_t len, int strict)
{
    struct json j = {(const unsigned char *)s, (const unsigned char *)s + len, strict, NULL};
    if (jvalue(&j, 0))
        return j.why ? j.why : "invalid JSON";
    ws(&j);
    if (j.p != j.end)
        return "bytes after the JSON value";
    return NULL;
}

/* Raw control bytes (other than newline) that came from an image would drive a terminal. */
static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Why a command's outcome is a failure, or NULL when it is acceptable. */
static const char *judge(const struct result *r, int is_json, int strict, char *why, size_t cap)
{
    if (r->timed_out)
        return "ran past the time limit (hang)";
    if (WIFSIGNALED(r->status)) {
        snprintf(why, cap, "killed by signal %d (%s)", WTERMSIG(r->status),
                 strsignal(WTERMSIG(r->status)));
        return why;
    }
    if (strstr(r->err, "ERROR: AddressSanitizer") || strstr(r->err, "ERROR: LeakSanitizer") ||
        strstr(r->err, "runtime error:") || strstr(r->err, "ERROR: UndefinedBehaviorSanitizer"))
        return "sanitizer report";
    int code = WEXITSTATUS(r->status);
    if (code != 0 && code != 1) {
        snprintf(why, cap, "exit status %d (documented: 0 or 1)", code);
        return why;
    }
    if (code == 1) {
        if (r->errlen == 0)
            return "failed without a message";
        if (r->err[r->errlen - 1] != '\n')
            return "message does not end with a newline";
    }
    if (r->errlen && strncmp(r->err, "crsnap ", 7))
        return "stderr does not start with a crsnap message";
    /* with image bytes escaped, every line is crsnap's own: "crsnap CMD: ..." */
    for (const char *l = r->err; strict && *l;) {
        if (strncmp(l, "crsnap ", 7))
            return "stderr has a line that is not a crsnap message (image bytes unescaped?)";
        const char *nl = strchr(l, '\n');
        if (!nl)
            break;
        l = nl + 1;
    }
    if (memchr(r->err, '\0', r->errlen) || memchr(r->out, '\0', r->outlen))
        return "NUL byte in the output";
    if (is_json && code == 0) {
        const char *j = json_check(r->out, r->outlen, strict);
        if (j) {
            snprintf(why, cap, "info --json printed invalid JSON: %s", j);
            return why;
        }
    }
    if (strict && (has_control(r->err, r->errlen) || (!is_json && has_control(r->out, r->outlen))))
        return "raw control bytes in the output";
    return NULL;
}

/* ---- the reader in this process (--reader-only) ---- */

static char death_note[8192];

#ifdef HAVE_DEATH_CALLBACK
static void on_death(void)
{
    fputs(death_note, stderr);
}
#endif

/* What restore -n, info and verify ask of the reader: open, the walk without decompressing,
 * the full verify. 1 if the image was accepted whole. */
static int reader_pass(const char *path)
{
    struct crs_image *img;
    char err[512];
    int ok = 0;
    if (crs_image_open(path, &img, err, sizeof err))
        return 0;
    if (crs_image_check(img, NULL, NULL, err, sizeof err) == 0)
        ok = crs_image_verify(img, NULL, NULL, err, sizeof err) == 0;
    for (uint32_t i = 0; i < img->nvmas; i++)   /* what info and the dry run look up */
        (void)crs_image_string(img, img->vmas[i].path);
    for (uint32_t i = 0; i < img->nfds; i++)
        (void)crs_image_deleted_for(img, &img->fds[i]);
    crs_image_close(img);
    return ok;
}

/* ---- the driver ---- */

static volatile sig_atomic_t stop;      /* SIGINT/SIGTERM: finish this mutant, then summarise */

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: fuzz_image [--seed N] [--iterations N] [--only I] [--timeout SEC] "
                    "[--out DIR] [--strict-text] [--quiet] CRSNAP SEED_IMAGE...\n");
    exit(2);
}

static void save(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        fprintf(stderr, "fuzz_image: cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, iterations = 300, only = UINT64_MAX;
    double timeout = 10;
    const char *outdir = NULL;
    int strict = 0, quiet = 0, reader_only = 0, a;
    static struct model seeds[MAX_SEEDS];
    int nseeds = 0;

    for (a = 1; a < argc && !strncmp(argv[a], "--", 2); a++) {
        if (!strcmp(argv[a], "--seed") && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--iterations") && a + 1 < argc)
            iterations = strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--only") && a + 1 < argc)
            only = strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--timeout") && a + 1 < argc)
            timeout = atof(argv[++a]);
        else if (!strcmp(argv[a], "--out") && a + 1 < argc)
            outdir = argv[++a];
        else if (!strcmp(argv[a], "--strict-text"))
            strict = 1;
        else if (!strcmp(argv[a], "--quiet"))
            quiet = 1;
        else if (!strcmp(argv[a], "--reader-only"))
            reader_only = 1;
        else
            usage();
    }
    if (argc - a < 2)
        usage();
    char *crsnap = argv[a++];
    for (; a < argc && nseeds < MAX_SEEDS; a++) {
        int fd = open(argv[a], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            fprintf(stderr, "fuzz_image: %s: %s\n", argv[a], strerror(errno));
            return 2;
        }
        unsigned char *p = xmalloc((size_t)st.st_size);
        if (read(fd, p, (size_t)st.st_size) != st.st_size ||
            parse(p, (size_t)st.st_size, &seeds[nseeds])) {
            fprintf(stderr, "fuzz_image: %s: not a sound image to start from\n", argv[a]);
            return 2;
        }
        close(fd);
        free(p);
        nseeds++;
    }
    if (!outdir)
        outdir = getenv("CRSNAP_TEST_TMP") ? getenv("CRSNAP_TEST_TMP") : "/tmp";
    char work[4096], mutant[4200];
    mkdir(outdir, 0700);
    snprintf(work, sizeof work, "%s/fuzz-work-%d", outdir, (int)getpid());
    if (mkdir(work, 0700) < 0) {
        fprintf(stderr, "fuzz_image: %s: %s\n", work, strerror(errno));
        return 2;
    }
    snprintf(mutant, sizeof mutant, "%s/mutant.crsnap", work);
    /* the sanitizers' own exit status must not look like crsnap's failure status */
    {
        const char *asan = getenv("ASAN_OPTIONS");
        char opt[2048];
        snprintf(opt, sizeof opt, "%s%sexitcode=86", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opt, 1);
        setenv("UBSAN_OPTIONS", "print_stacktrace=1", 0);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);

    printf("fuzz_image: seed %llu, %llu mutants of %d seed images, time limit %.1f s\n",
           (unsigned long long)seed, (unsigned long long)iterations, nseeds, timeout);
    fflush(stdout);
    struct buf b = {0};
    uint64_t failures = 0, ran = 0, accepted[3] = {0};
    time_t t0 = time(NULL);
    for (uint64_t it = 0; it < iterations && !stop; it++) {
        if (only != UINT64_MAX && it != only)
            continue;
        rng_state = seed * 0x100000001b3ull ^ (it + 1) * 0xd6e8feb86659fd93ull;
        oplog[0] = '\0';
        const struct model *sm = &seeds[below((uint64_t)nseeds)];
        make_mutant(sm, &b);
        save(mutant, b.p, b.len);
        ran++;
        if (reader_only) {
            snprintf(death_note, sizeof death_note, "fuzz_image: the reader failed on seed %llu "
                     "iteration %llu (mutations: %.600s); the mutant is %s\n",
                     (unsigned long long)seed, (unsigned long long)it, oplog, mutant);
#ifdef HAVE_DEATH_CALLBACK
            __sanitizer_set_death_callback(on_death);
#endif
            accepted[2] += (uint64_t)reader_pass(mutant);
            if (!quiet && ran % 5000 == 0) {
                printf("fuzz_image: %llu mutants, %lld s\n", (unsigned long long)ran,
                       (long long)(time(NULL) - t0));
                fflush(stdout);
            }
            continue;
        }
        char *cmds[3][5] = {
            {crsnap, "restore", "-n", mutant, NULL},
            {crsnap, "info", "--json", mutant, NULL},
            {crsnap, "verify", mutant, NULL, NULL},
        };
        static const char *const names[3] = {"restore -n", "info --json", "verify"};
        static const char *const tags[3] = {"restore", "info", "verify"};
        for (int c = 0; c < 3; c++) {
            struct result r;
            char why[256];
            if (run(cmds[c], work, (int)(timeout * 1000), &r)) {
                fprintf(stderr, "fuzz_image: cannot run %s: %s\n", crsnap, strerror(errno));
                return 2;
            }
            if (WIFEXITED(r.status) && (WEXITSTATUS(r.status) == 120 ||
                                        WEXITSTATUS(r.status) == 121)) {
                fprintf(stderr, "fuzz_image: cannot execute %s (or open its output files)\n",
                        crsnap);
                return 2;
            }
            const char *bad = judge(&r, c == 1, strict, why, sizeof why);
            if (!bad && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
                accepted[c]++;
            if (bad) {
                char keep[4300], note_path[4400];
                failures++;
                snprintf(keep, sizeof keep, "%s/fuzz-fail-%llu-%llu.crsnap", outdir,
                         (unsigned long long)seed, (unsigned long long)it);
                snprintf(note_path, sizeof note_path, "%s.%s.txt", keep, tags[c]);
                save(keep, b.p, b.len);
                FILE *f = fopen(note_path, "w");
                if (f) {
                    fprintf(f, "command: crsnap %s MUTANT\nproblem: %s\nmutations: %s\n"
                               "status: %#x\n--- stderr:\n%.*s\n--- stdout:\n%.*s\n",
                            names[c], bad, oplog, r.status,
                            (int)(r.errlen > 4000 ? 4000 : r.errlen), r.err,
                            (int)(r.outlen > 4000 ? 4000 : r.outlen), r.out);
                    fclose(f);
                }
                int l1 = (int)strcspn(r.err, "\n");
                printf("FAIL seed %llu iteration %llu: crsnap %s: %s\n  mutations: %s\n"
                       "  stderr: %.*s\n  mutant kept as %s (details in %s)\n"
                       "  reproduce: fuzz_image --seed %llu --only %llu CRSNAP SEED_IMAGE...\n",
                       (unsigned long long)seed, (unsigned long long)it, names[c], bad, oplog,
                       l1 > 300 ? 300 : l1, r.err, keep, note_path, (unsigned long long)seed,
                       (unsigned long long)it);
                fflush(stdout);
            }
            free(r.out);
            free(r.err);
        }
        if (!quiet && ran % 100 == 0) {
            printf("fuzz_image: %llu mutants, %llu failures, %lld s\n",
                   (unsigned long long)ran, (unsigned long long)failures,
                   (long long)(time(NULL) - t0));
            fflush(stdout);
        }
        if (failures >= 50) {
            printf("fuzz_image: stopping after %llu failures\n", (unsigned long long)failures);
            break;
        }
    }
    printf("fuzz_image: %llu mutants, %llu failures; accepted by restore -n %llu, info %llu, "
           "verify %llu; %lld s\n", (unsigned long long)ran, (unsigned long long)failures,
           (unsigned long long)accepted[0], (unsigned long long)accepted[1],
           (unsigned long long)accepted[2], (long long)(time(NULL) - t0));
    unlink(mutant);
    char p[4300];
    snprintf(p, sizeof p, "%s/out", work);
    unlink(p);
    snprintf(p, sizeof p, "%s/err", work);
    unlink(p);
    rmdir(work);
    free(b.p);
    for (int i = 0; i < nseeds; i++)
        model_free(&seeds[i]);
    return failures ? 1 : 0;
}
