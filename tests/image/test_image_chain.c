/* tests/image/test_image_chain.c - chains of incremental images written by the snapshot child
 * (of this test process, with the runtime's lists made by hand): a full image A, B on A, C on
 * B. The chain opens, and the pages each image gives put together are what the process had;
 * a missing, damaged or different parent, a depth that does not fall by one (what a cycle
 * would need), a depth out of range and a parent section in a version 1 image are refused
 * with a reason, by the reader and by `crsnap verify`, `info` and `restore -n`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "image_test.h"

#define NP 64u
#define PG 4096u

static char dir[2048], pa[4096], pb[4096], pc[4096];
static char *buf;                       /* the memory that changes between the images */
static char *imgc;                      /* C as written */
static size_t lenc;

static void fill(unsigned from, unsigned to, int gen)
{
    for (unsigned i = from; i < to; i++)
        for (unsigned w = 0; w < PG / 8; w++)
            ((uint64_t *)(buf + (size_t)i * PG))[w] = ((uint64_t)gen << 48) ^ (i * 1000003ull + w) ^ 1;
}

struct written {
    struct crs_snap_report rep;
    uint64_t created;
};

/* Writes path (explicit, in dir); on parent when given, leaving the pages of clean to it. */
static void write_one(const char *path, const struct written *parent, const char *pname,
                      uint32_t depth, const struct crs_snap_range *clean, uint32_t nclean,
                      struct written *out)
{
    static uint32_t n;
    struct crs_test_req *t = crs_test_req_new(path, "", 0);
    if (parent) {
        struct crs_snap_track *q = &t->req.track;
        q->incr = 1;
        q->depth = depth;
        snprintf(q->parent_name, sizeof q->parent_name, "%s", pname);
        q->parent_toc = parent->rep.toc_checksum;
        q->parent_created = parent->created;
        q->parent_seq = 0;
        q->clean = clean;
        n = nclean;
        q->nclean = &n;
    }
    out->created = t->req.created_ns;
    assert_int_equal(crs_test_run_child(t, &out->rep, NULL), 0);
    assert_int_equal(out->rep.error, 0);
    assert_int_equal(out->rep.depth, parent ? depth : 0);
    crs_test_req_free(t);
}

static int setup(void **state)
{
    (void)state;
    struct written a, b, c;
    crs_test_dir(dir, sizeof dir, "chain");
    snprintf(pa, sizeof pa, "%s/a.crsnap", dir);
    snprintf(pb, sizeof pb, "%s/b.crsnap", dir);
    snprintf(pc, sizeof pc, "%s/c.crsnap", dir);
    buf = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(buf != MAP_FAILED);
    uint64_t b0 = (uint64_t)(uintptr_t)buf;
    fill(0, NP, 0);
    write_one(pa, NULL, NULL, 0, NULL, 0, &a);
    fill(0, 10, 1);                     /* B: pages 0-9 written, 10-63 the parent's */
    struct crs_snap_range cb[] = { { b0 + 10 * PG, b0 + NP * PG } };
    write_one(pb, &a, "a.crsnap", 1, cb, 1, &b);
    fill(10, 20, 2);                    /* C: pages 10-19 written, the rest B's */
    madvise(buf + 30 * PG, 2 * PG, MADV_DONTNEED); /* 30, 31 discarded: zero, not A's */
    struct crs_snap_range cc[] = { { b0, b0 + 10 * PG }, { b0 + 20 * PG, b0 + NP * PG } };
    write_one(pc, &b, "b.crsnap", 2, cc, 2, &c);
    imgc = crs_test_slurp(pc, &lenc);
    assert_non_null(imgc);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(imgc);
    return 0;
}

/* The pages in [buf, buf + NP pages) that an image and its opened ancestors give. */
static void put_together(struct crs_image *img, char *out)
{
    uint64_t b0 = (uint64_t)(uintptr_t)buf, b1 = b0 + NP * PG;
    char err[256], *chunk = malloc(256 * PG);
    memset(out, 0, NP * PG);
    for (struct crs_image *p = img; p; p = p->parent_img) {
        struct crs_chunk_iter it;
        crs_image_chunk_begin(p, &it);
        while (crs_image_next_chunk(p, &it, err, sizeof err) > 0) {
            uint64_t a = it.chunk.addr, e = a + (uint64_t)it.chunk.npages * PG;
            if (e <= b0 || a >= b1)
                continue;
            assert_int_equal(crs_image_read_chunk(p, &it, chunk, it.chunk.npages * PG, err,
                                                  sizeof err), 0);
            for (uint64_t x = a; x < e; x += PG) {
                int mine = p == img;
                for (uint32_t k = 0; !mine && k < p->nmask; k++)
                    mine = x >= p->mask[k].start && x < p->mask[k].end;
                if (x >= b0 && x < b1 && mine)
                    memcpy(out + (x - b0), chunk + (x - a), PG);
            }
        }
    }
    free(chunk);
}

static void chain_whole(void **state)
{
    (void)state;
    struct crs_image *img;
    char err[512];
    assert_int_equal(crs_image_open(pc, &img, err, sizeof err), 0);
    assert_non_null(img->parent);
    assert_string_equal(img->parent_name, "b.crsnap");
    assert_int_equal(img->parent->depth, 2);
    assert_true(img->ninherit > 0);
    assert_int_equal(img->header.version, CRS_IMG_VERSION_INCR);
    assert_int_equal(crs_image_open_chain(img, err, sizeof err), 0);
    assert_int_equal(crs_image_check_chain(img, 1, err, sizeof err), 0);
    assert_non_null(img->parent_img);
    assert_non_null(img->parent_img->parent_img);
    assert_null(img->parent_img->parent_img->parent_img);
    char *got = malloc(NP * PG);
    put_together(img, got);
    memset(buf + 30 * PG, 0, 2 * PG);   /* what the process has now */
    assert_memory_equal(got, buf, NP * PG);
    free(got);
    crs_image_close(img);
    /* the full image has no chain */
    assert_int_equal(crs_image_open(pa, &img, err, sizeof err), 0);
    assert_null(img->parent);
    assert_int_equal(img->header.version, CRS_IMG_VERSION);
    assert_int_equal(crs_image_open_chain(img, err, sizeof err), 0);
    crs_image_close(img);
}

/* The chain of C opens no more, with a reason holding expect; and the commands say so (info
 * too when info_sees: it reads no page data). */
static void chain_refused_by(const char *expect, int info_sees)
{
    struct crs_image *img;
    char err[512];
    int r = crs_image_open(pc, &img, err, sizeof err);
    if (r == 0) {
        r = crs_image_open_chain(img, err, sizeof err);
        if (r == 0)
            r = crs_image_check_chain(img, 0, err, sizeof err);
        crs_image_close(img);
    }
    assert_true(r < 0);
    if (!strstr(err, expect))
        fail_msg("expected \"%s\" in: %s", expect, err);
    const char *cmds[][4] = { { "crsnap", "verify", pc, NULL }, { "crsnap", "info", pc, NULL },
                              { "crsnap", "restore", "-n", pc } };
    for (unsigned i = 0; i < 3; i++) {
        if (i == 1 && !info_sees)
            continue;
        char *text = NULL;
        size_t len = 0;
        const char *argv[5] = { cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3], NULL };
        int st = crs_test_cli(getenv("CRSNAP_BIN"), dir, 0, argv, &text, &len);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        if (!text || !strstr(text, expect))
            fail_msg("crsnap %s: expected \"%s\" in: %s", cmds[i][1], expect, text ? text : "");
        free(text);
    }
}

static void chain_refused(const char *expect)
{
    chain_refused_by(expect, 1);
}

static void keep_aside(const char *path, int restore)
{
    char aside[4200];
    snprintf(aside, sizeof aside, "%s.aside", path);
    assert_int_equal(restore ? rename(aside, path) : rename(path, aside), 0);
}

static void missing_parent(void **state)
{
    (void)state;
    keep_aside(pb, 0);
    chain_refused("is missing");
    keep_aside(pb, 1);
    keep_aside(pa, 0);                  /* a grandparent missing: the same */
    chain_refused("a.crsnap is missing");
    keep_aside(pa, 1);
}

static void wrong_parent(void **state)
{
    (void)state;
    size_t n;
    char *a = crs_test_slurp(pa, &n);
    keep_aside(pb, 0);
    crs_test_spit(pb, a, n);            /* another image under the parent's name */
    chain_refused("not its parent");
    unlink(pb);
    keep_aside(pb, 1);
    free(a);
}

static void damaged_parent(void **state)
{
    (void)state;
    size_t n;
    char *b = crs_test_slurp(pb, &n);
    keep_aside(pb, 0);
    b[n - 10] ^= 0x55;                  /* its trailer */
    crs_test_spit(pb, b, n);
    chain_refused("damaged");
    b[n - 10] ^= 0x55;
    b[200] ^= 0x55;                     /* the data of its first chunk */
    crs_test_spit(pb, b, n);
    chain_refused_by("damaged", 0);
    unlink(pb);
    keep_aside(pb, 1);
    free(b);
}

/* C edited (sums fixed, so that the chain checks must catch it): refused with expect. */
static void edited(void (*edit)(char *p, size_t n), const char *expect)
{
    char *p = malloc(lenc);
    memcpy(p, imgc, lenc);
    edit(p, lenc);
    crs_test_fix_sums(p, lenc);
    crs_test_spit(pc, p, lenc);
    chain_refused(expect);
    crs_test_spit(pc, imgc, lenc);
    free(p);
}

static struct crs_img_parent *parent_rec(char *p, size_t n, struct crs_img_toc_entry **e)
{
    *e = crs_test_entry(p, n, CRS_SEC_PARENT);
    assert_non_null(*e);
    return (struct crs_img_parent *)(p + (*e)->offset + 16);
}

static void depth_skips(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    parent_rec(p, n, &e)->depth = 5;    /* B is at depth 1: a cycle could not fall by one */
    crs_test_resum(p, e);
}

static void depth_zero(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    parent_rec(p, n, &e)->depth = 0;
    crs_test_resum(p, e);
}

static void depth_too_deep(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    parent_rec(p, n, &e)->depth = CRS_IMG_MAX_CHAIN + 1;
    crs_test_resum(p, e);
}

static void name_with_slash(char *p, size_t n)
{
    struct crs_img_toc_entry *e;
    parent_rec(p, n, &e)->name = 0;     /* the empty string */
    crs_test_resum(p, e);
}

static void version_one(char *p, size_t n)
{
    (void)n;
    ((struct crs_img_header *)p)->version = CRS_IMG_VERSION;
}

static void inherit_outside(char *p, size_t n)
{
    struct crs_img_toc_entry *e = crs_test_entry(p, n, CRS_SEC_INHERIT);
    assert_non_null(e);
    struct crs_img_range *r = (struct crs_img_range *)(p + e->offset + 16);
    r[0].start = 0x1000;                /* in no region */
    r[0].end = 0x2000;
    crs_test_resum(p, e);
}

static void chain_edits(void **state)
{
    (void)state;
    edited(depth_skips, "chain is damaged");
    edited(depth_zero, "depth out of range");
    edited(depth_too_deep, "depth out of range");
    edited(name_with_slash, "not a file name");
    edited(version_one, "parent section in a full");
    edited(inherit_outside, "inherited-pages");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_whole),
        cmocka_unit_test(missing_parent),
        cmocka_unit_test(wrong_parent),
        cmocka_unit_test(damaged_parent),
        cmocka_unit_test(chain_edits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
