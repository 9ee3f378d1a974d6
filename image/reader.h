/* image/reader.h - reading an image: open validates the header, trailer, table of contents
 * and every non-page section before anything is trusted; page data is read chunk by chunk and
 * decompressed into the caller's memory. Used by info, verify, ls and the restorer.
 * Ordinary libc code (malloc, stdio allowed); never used in the snapshot child.
 */
#ifndef CRS_READER_H
#define CRS_READER_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"

/* Limits a reader enforces so that a hostile image cannot make it over-allocate. */
#define CRS_IMG_MAX_SECTIONS 64u
#define CRS_IMG_MAX_SECTION (256u << 20)   /* bytes in any non-page section */
#define CRS_IMG_MAX_ARGV (32u << 20)      /* bytes of arguments and environment */

/* Progress of a long read: bytes of page data done out of the total (uncompressed). */
typedef void (*crs_progress_fn)(uint64_t done, uint64_t total, void *arg);

/* An open image. Everything except page data is in memory and already validated by
 * crs_image_open: counts match lengths, every string offset is in range, regions are sorted,
 * page-aligned and disjoint, exactly one thread is the main thread. Read-only for callers. */
/* One QUEUED record: the bytes a read of fd returned at the snapshot. */
struct crs_image_queued {
    int32_t fd;
    uint32_t len;
    uint64_t ino;
    const unsigned char *data;      /* inside the section's payload */
};

/* One DELETED record: the contents of an open file that had no name left. */
struct crs_image_deleted {
    int32_t fd;
    uint32_t mode;
    uint64_t ino;
    uint64_t size;
    const unsigned char *data;      /* inside the section's payload */
};

struct crs_image {
    int fd;
    char *path;
    uint64_t file_size;
    struct crs_img_header header;
    struct crs_img_trailer trailer;
    struct crs_img_toc_entry *toc;
    uint32_t ntoc;

    struct crs_img_host host;
    struct crs_img_process process;
    const char *strings;            /* the STRINGS payload; offset 0 is always "" */
    uint64_t strings_len;
    struct crs_img_vma *vmas;
    uint32_t nvmas;
    struct crs_img_thread *threads;
    uint32_t nthreads;
    struct crs_img_sigaction sigactions[CRS_IMG_NSIG]; /* index = signal - 1 */
    struct crs_img_fd *fds;
    uint32_t nfds;
    char **argv;                    /* argc entries, NULL-terminated; point into the ARGV payload */
    uint32_t argc;
    char **envp;                    /* envc entries, NULL-terminated */
    uint32_t envc;
    const uint64_t *auxv;           /* nauxv (type, value) pairs, AT_NULL excluded */
    uint32_t nauxv;
    struct crs_image_queued *queued; /* bytes waiting in pipes and sockets (QUEUED section) */
    uint32_t nqueued;
    struct crs_image_deleted *deleted; /* open files deleted from their directory (DELETED) */
    uint32_t ndeleted;
    const struct crs_img_unsaved *unsaved; /* what a restore will not bring back (UNSAVED); */
    uint32_t nunsaved;              /*   none in images written before the section existed */
    struct crs_img_attrs attrs;     /* ATTRS; all zero (no flag) in images before it existed */
    uint32_t outer_pid;             /* PIDNS: its pid outside its pid namespace; 0 = none */
    const struct crs_img_timer *timers; /* TIMERS: POSIX timers; none in images without it */
    uint32_t ntimers;
    const struct crs_img_maphash *maphash; /* MAPHASH: files mapped shared, hashed; none in */
    uint32_t nmaphash;                     /*   images before it existed */
    const struct crs_img_shmobj *shmobj; /* SHMOBJ: SysV segments and /dev/shm objects */
    uint32_t nshmobj;
    const struct crs_img_pageidx *pageidx; /* PAGEIDX: one record per chunk, checked against */
    uint32_t npageidx;                     /*   the regions and the pages section; or none */
    const struct crs_img_guard *guards; /* GUARDS: guard page runs, ascending; none when */
    uint32_t nguards;                   /*   the process had none */
    const struct crs_img_tree *tree;    /* TREE: the image is a job's root; NULL otherwise */
    const struct crs_img_tree_member *tree_members; /* ntree, parents first, [0] the root */
    uint32_t ntree;
    const struct crs_img_parent *parent; /* PARENT: NULL for a full image */
    const char *parent_name;            /*   its file name, next to this image */
    const struct crs_img_range *inherit; /* INHERIT: the pages that are the parent's */
    uint32_t ninherit;
    struct crs_image *parent_img;       /* the parent, once crs_image_open_chain opened it */
    struct crs_img_range *mask;         /* in an ancestor opened so: the pages it gives the */
    uint32_t nmask;                     /*   image at the head of the chain */

    uint64_t pages_offset;          /* file offset of the first chunk header */
    uint64_t pages_length;          /* PAGES payload bytes */
    uint32_t nchunks;               /* chunks the table of contents announces */

    /* Internal: payload buffers, the decompression context and its input buffer. */
    void *bufs[CRS_SEC__END + 2];   /* a payload per section, and QUEUED and DELETED records */
    void *big;                      /* the page index, in huge pages (common/hugebuf.h) */
    size_t big_len;
    void *dctx;
    void *cbuf;
    size_t cbuf_size;
    crs_progress_fn progress;
    void *progress_arg;
    uint64_t progress_done;
};

/* Opens and validates PATH. On failure returns -errno (-EINVAL / -EBADMSG for a damaged image,
 * -ENOENT...) and writes a one-line reason into err, e.g. "truncated: trailer missing (file is
 * 1234 bytes)". *out is set only on success. */
int crs_image_open(const char *path, struct crs_image **out, char *err, size_t errlen);
/* The same on a descriptor the caller opened (e.g. with openat and O_NOFOLLOW, after checking
 * who owns it); it is the image's from here on, closed on failure too. path is what messages
 * and img->path show. */
int crs_image_open_fd(int fd, const char *path, struct crs_image **out, char *err,
                      size_t errlen);
void crs_image_close(struct crs_image *img);

/* image/tree.c: the member of the job with this pid, or NULL. */
const struct crs_img_tree_member *crs_image_tree_member(const struct crs_image *img, uint32_t pid);

/* A string from the STRINGS section; "" for offset 0, NULL when out of range. */
const char *crs_image_string(const struct crs_image *img, uint32_t off);

/* Human-readable names, for messages and `crsnap info`. */
const char *crs_image_vma_kind_name(uint32_t kind);
const char *crs_image_fd_kind_name(uint32_t kind);

/* The saved contents of the file with no name that descriptor f is open on, or NULL. */
const struct crs_image_deleted *crs_image_deleted_for(const struct crs_image *img,
                                                      const struct crs_img_fd *f);

/* Record i of the UNSAVED section as one line for a person: "fd 3: socket listening on
 * 0.0.0.0:8000 (TCP)", "child process 1234 (sleep)". The text is the image's, unescaped.
 * Returns what snprintf returns. */
int crs_image_unsaved_line(const struct crs_image *img, uint32_t i, char *buf, size_t len);

/* The SHMOBJ record of the object region v maps (by dev and ino), or NULL. */
const struct crs_img_shmobj *crs_image_shmobj_of(const struct crs_image *img,
                                                 const struct crs_img_vma *v);

/* The region containing addr, or NULL. */
const struct crs_img_vma *crs_image_find_vma(const struct crs_image *img, uint64_t addr);
/* The first record of a page index (in address order) at or above addr: n when none. */
uint32_t crs_image_idx_at(const struct crs_img_pageidx *idx, uint32_t n, uint64_t addr);

/* Walks the PAGES section. Initialise with crs_image_chunk_begin, then call
 * crs_image_next_chunk until it returns 0 (end) or < 0 (damaged; err says why). Each header is
 * checked (magic, page count, address alignment, inside a saved region, ascending and
 * disjoint, bytes inside the section) before it is returned in it->chunk. With a window
 * (crs_image_chunk_begin_window), headers and the chunks' bytes are read through it, in long
 * reads, instead of two small reads per chunk. */
struct crs_read_window {
    char *buf;
    size_t size;                    /* bytes buf holds; 0: no window, every read is a pread */
    uint64_t off;                   /* file offset of buf[0] */
    size_t len;                     /* bytes of the file in buf */
};
#define CRS_READ_WINDOW (4u << 20)
struct crs_chunk_iter {
    uint64_t next;                  /* file offset of the next chunk header */
    uint64_t data_offset;           /* file offset of the current chunk's bytes */
    uint64_t last_end;              /* end address of the previous chunk */
    uint32_t index;                 /* chunks returned so far */
    struct crs_img_chunk chunk;     /* the current chunk */
    struct crs_read_window *win;    /* NULL: none */
};
void crs_image_chunk_begin(const struct crs_image *img, struct crs_chunk_iter *it);
void crs_image_chunk_begin_window(const struct crs_image *img, struct crs_chunk_iter *it,
                                  struct crs_read_window *win);
int crs_image_next_chunk(const struct crs_image *img, struct crs_chunk_iter *it,
                         char *err, size_t errlen);

/* Reads the current chunk, checks its checksum and decompresses it into dst, which must hold
 * it->chunk.npages * page_size bytes (dstlen). Calls the progress hook afterwards, if set.
 * Returns 0 or -errno with err filled. */
int crs_image_read_chunk(struct crs_image *img, const struct crs_chunk_iter *it,
                         void *dst, size_t dstlen, char *err, size_t errlen);
void crs_image_set_progress(struct crs_image *img, crs_progress_fn fn, void *arg);

/* A decompressor of one's own (context, input buffer and read window), so that several
 * threads can read chunks of one image at once: crs_image_read_chunk_r reads with pread or
 * through the iterator's window, changes nothing in img and calls no progress hook. init
 * returns 0 or -ENOMEM; free takes a zeroed or inited one. */
struct crs_chunk_reader {
    void *dctx;
    void *cbuf;
    size_t cbuf_size;
    struct crs_read_window win;
};
int crs_chunk_reader_init(struct crs_chunk_reader *rd);
void crs_chunk_reader_free(struct crs_chunk_reader *rd);
int crs_image_read_chunk_r(const struct crs_image *img, struct crs_chunk_reader *rd,
                           const struct crs_chunk_iter *it, void *dst, size_t dstlen, char *err,
                           size_t errlen);

/* Total uncompressed page bytes the chunks hold (sum of npages * page_size, from the
 * process section's memory_saved). */
uint64_t crs_image_page_bytes(const struct crs_image *img);

/* Full check: walks and decompresses every chunk, checks every checksum, the chunk count and
 * the headers' checksum in the table of contents. 0 if sound, else -errno and err. */
int crs_image_verify(struct crs_image *img, crs_progress_fn fn, void *arg,
                     char *err, size_t errlen);

/* The same walk without decompressing: every chunk's checksum, that it is one zstd frame of its
 * size, the count and the headers' checksum. What a restore checks before it changes anything;
 * it decompresses once, into place, afterwards. */
int crs_image_check(struct crs_image *img, crs_progress_fn fn, void *arg,
                    char *err, size_t errlen);

/* Newest complete image in DIR (highest sequence number among ckpt-*.crsnap files that open
 * cleanly; temp files and damaged images are skipped). Writes its path; 0 or -ENOENT. */
int crs_image_find_latest(const char *dir, char *path, size_t len);

/* The same choice among images whose sequence number is below `below` (what the next older
 * image is, when the newest would not do); *seq_out gets its number. Images that do not open
 * cleanly, with a number in their name below `below`, are passed to skip (when given) with
 * that number (UINT64_MAX if the name has none) and the reason. 0, -ENOENT or -errno. */
typedef void (*crs_image_skip_fn)(const char *path, uint64_t seq, const char *why, void *arg);
int crs_image_find_below(const char *dir, uint64_t below, crs_image_skip_fn skip, void *arg,
                         char *path, size_t len, uint64_t *seq_out);

/* Incremental images (image/chain.c). Opens the chain of img's parents, each by its name in
 * img's directory, and checks that each is the very image it was written on (checksum and
 * time), that depths fall to a full image (no cycle; at most CRS_IMG_MAX_CHAIN) and computes
 * what each ancestor gives (its mask). 0 for a full image; else -errno with err naming the
 * missing, damaged or wrong parent. Closing img closes the chain. */
int crs_image_open_chain(struct crs_image *img, char *err, size_t errlen);
/* crs_image_check (full: crs_image_verify) on every ancestor opened by open_chain. */
int crs_image_check_chain(struct crs_image *img, int full, char *err, size_t errlen);
/* Bytes of pages img leaves to its parent (its INHERIT runs), and bytes its ancestors give
 * (after open_chain: the sum of their masks). */
uint64_t crs_image_inherited_bytes(const struct crs_image *img);
uint64_t crs_image_chain_bytes(const struct crs_image *img);

#endif
