/* snapshot/writer.h - the streaming image writer used by the snapshot child: appends go into a few
 * fixed buffers that are written at explicit offsets through io_uring while the next one fills,
 * or with pwrite where io_uring cannot be set up. No malloc: the caller supplies the memory.
 */
#ifndef CRS_IO_WRITER_H
#define CRS_IO_WRITER_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

#define CRS_WRITER_SLOTS 4
#define CRS_WRITER_SLOT_SIZE (1u << 20)
/* Bytes of memory crs_writer_init wants. */
#define CRS_WRITER_MEM ((size_t)CRS_WRITER_SLOTS * CRS_WRITER_SLOT_SIZE)

struct crs_writer {
    int fd;
    int uring;                      /* 1 = writes go through the ring */
    int uring_err;                  /* why the ring is not used (-errno), 0 if it is or forced */
    struct io_uring ring;
    char *slot[CRS_WRITER_SLOTS];
    uint32_t slot_len[CRS_WRITER_SLOTS];  /* bytes in flight from that slot, 0 = free */
    uint64_t slot_off[CRS_WRITER_SLOTS];
    int cur;                        /* slot being filled */
    size_t fill;
    uint64_t base;                  /* file offset of the current slot's first byte */
    int err;                        /* first error (-errno): later calls fail with it */
    int degrade;                    /* the ring refused a write: finish with pwrite */
    int dfd;                        /* the same file opened with O_DIRECT, or -1 */
    int slot_direct[CRS_WRITER_SLOTS]; /* that slot's write in flight went through dfd */
    uint32_t test_rw_flags;         /* test hook: RWF_* flags put on every ring write */
    int direct_used;                /* at least one slot went to the disk with O_DIRECT */
    int direct_err;                 /* why direct writes were given up (-errno), or 0 */
};

/* mem must hold CRS_WRITER_MEM bytes. force_pwrite skips io_uring. Returns 0 or -errno.
 * A ring that sets up but whose writes the file system refuses (EINVAL, EOPNOTSUPP) is given
 * up: the refused write and every later one go through pwrite, and uring_err says why. */
int crs_writer_init(struct crs_writer *w, int fd, int force_pwrite, void *mem);
/* Hands the writer a second descriptor of the same file, opened with O_DIRECT (the writer
 * closes it at crs_writer_end). Full slots (1 MiB at 1 MiB offsets, from page-aligned memory)
 * then go to the disk without the copy into the page cache; the last, partial slot and patched
 * headers stay buffered. A file system that refuses direct writes (EINVAL) gets buffered ones. */
void crs_writer_set_direct(struct crs_writer *w, int dfd);
/* Appends at the current end. */
int crs_writer_append(struct crs_writer *w, const void *p, size_t n);
/* Appends zero bytes up to a multiple of align. */
int crs_writer_align(struct crs_writer *w, size_t align);
/* Logical end: the offset the next append lands at. */
uint64_t crs_writer_pos(const struct crs_writer *w);
/* Writes everything appended and waits for it. */
int crs_writer_flush(struct crs_writer *w);
/* Overwrites bytes already appended (headers patched at the end); flushes first. */
int crs_writer_write_at(struct crs_writer *w, const void *p, size_t n, uint64_t off);
/* Releases the ring. The fd stays open. */
void crs_writer_end(struct crs_writer *w);

#endif
