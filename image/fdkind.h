/* image/fdkind.h - everything crsnap does with one kind of descriptor, as one table of
 * operations. Each kind lives in one file of fds/ (how it is recognised, what is captured while
 * the threads are stopped, what the snapshot child reads, how its record is checked, whether a
 * restore brings it back and how, how `info` shows it); the walks over the descriptors, in the
 * runtime, the snapshot child, the reader, the restorer and the command, iterate crs_fd_kinds
 * and never name a kind. The type is declared here, beside the format, so that every layer can
 * walk the table; the entries are defined above them all, in fds/ (fds/table.c).
 *
 * Each operation runs in one execution context (docs/ARCHITECTURE.md) and may call only what
 * is safe there; the ones for the snapshot child are marked CRS_CHILD_CODE, and the `contracts`
 * test checks what that code calls. Any operation may be NULL: the walk then does the default
 * said at the slot.
 */
#ifndef CRS_FDKIND_H
#define CRS_FDKIND_H

#include <stddef.h>
#include <stdint.h>
#include "image/image.h"

struct stat;
struct crs_image;
struct crs_restore;
struct crs_restore_opts;
struct crs_sbuf;
struct crs_snap_deleted;

/* Code that runs in the forked snapshot child: no malloc, no stdio, no locks. Kept in a section
 * of its own so that the contracts test can check every call it makes, even from a file that
 * also holds restore code. */
#define CRS_CHILD_CODE __attribute__((section("crs_child_text"), noinline))

/* A descriptor being recognised: its number, its fstat, and its /proc/self/fd target, read
 * only when a kind asks for it (crs_fd_probe_link). Safe in the stop handler's context. */
struct crs_fd_probe {
    int fd;
    const struct stat *sb;
    char link[CRS_PATH_MAX];
    long link_len;                  /* -1 until read */
};
const char *crs_fd_probe_link(struct crs_fd_probe *p);

/* What the quiesce asks the runtime to keep of a descriptor (flags, may be combined). */
#define CRS_FDQ_VALUE    0x1u       /* the value set by quiesce, handed to pin and apply */
#define CRS_FDQ_QUEUED   0x2u       /* the bytes waiting in it (QUEUED section) */
#define CRS_FDQ_CONTENTS 0x4u       /* the whole contents of its file (DELETED section) */

/* What the snapshot child knows when it decides what a restore will not bring back. */
struct crs_fd_scan {
    const struct crs_img_fd *fds;
    size_t nfds;
    const char *strings;            /* the string table the records' paths point into */
    const struct crs_snap_deleted *deleted; /* the files whose contents are saved */
    uint32_t ndeleted;
    const int *children;            /* the process's children, and their names */
    const char (*comms)[17];
    int nchildren;
    const int *job;                 /* a job's process: the pids of all its processes */
    int njob;                       /*   (0 for a process alone) */
};

/* The record's target path as text ("" if none). Always inline, as crs_fd_ops_of: child code
 * calls them, and an out-of-line copy would sit outside its section in an unoptimised build. */
static inline __attribute__((always_inline)) const char *
crs_fd_scan_path(const struct crs_fd_scan *s, const struct crs_img_fd *f)
{
    return f->path ? s->strings + f->path : "";
}

/* The per-descriptor sections whose records may name a descriptor of a kind (holds). */
#define CRS_FDK_QUEUED   0x1u       /* QUEUED: bytes waiting in it */
#define CRS_FDK_CONTENTS 0x2u       /* DELETED: the contents of its file */

struct crs_fd_ops {
    uint32_t kind;                  /* enum crs_img_fd_kind: its index in crs_fd_kinds */
    const char *name;               /* "file", "pipe"...: info, messages, the JSON key */
    uint32_t holds;                 /* CRS_FDK_*: what the reader accepts for it */

    /* Recognise (stop handler's context and snapshot child): how surely this descriptor is of
     * this kind: 0 not, 1 by its file type, 2 by its name. The highest wins, the lower kind on
     * a tie; none: CRS_FD_OTHER. */
    int (*match)(struct crs_fd_probe *p);

    /* Capture (coordinator, threads parked: raw system calls only): what must be read at the
     * instant memory is copied. Returns CRS_FDQ_* flags; *value goes with CRS_FDQ_VALUE. */
    uint32_t (*quiesce)(int fd, const struct stat *sb, uint64_t *value);
    /* Pin (snapshot child, first thing): set the child's copy of fd back to what quiesce saw,
     * before anything is read from it. */
    void (*pin)(int fd, uint64_t value);
    /* Read (snapshot child): fill f->u from fdinfo text[0..len) (cap: the buffer's size, so
     * that a truncated read is seen) and from the descriptor itself. */
    void (*read)(struct crs_img_fd *f, const char *text, size_t len, size_t cap);
    /* Read the whole table (snapshot child, once, after every record is read): facts that need
     * every descriptor of the kind, in buf. */
    void (*read_all)(struct crs_img_fd *fds, size_t n, char *buf, size_t cap);
    /* Apply (snapshot child): the value quiesce captured replaces what was read now. */
    void (*apply)(struct crs_img_fd *f, uint64_t value);

    /* Restorable (snapshot child): will a restore bring f back? NULL: only as a standard
     * stream (0-2), which a restore attaches to its own. */
    int (*restorable)(const struct crs_fd_scan *s, const struct crs_img_fd *f);
    /* Describe (snapshot child): what f is, for a person, when it is not restorable. NULL: its
     * path. */
    void (*describe)(const struct crs_fd_scan *s, const struct crs_img_fd *f,
                     struct crs_sbuf *b);

    /* Validate (reader): the kind's own fields of a record; 0 or -EBADMSG with err set. */
    int (*validate)(const struct crs_img_fd *f, char *err, size_t errlen);
    /* Check (restorer, before anything is changed): can f come back here? 0 yes, 1 yes with
     * the warning in err, -errno no (err says why). */
    int (*check)(const struct crs_image *img, const struct crs_img_fd *f,
                 const struct crs_restore_opts *o, char *err, size_t errlen);
    /* Rebuild (restorer): put f back at its number. done[] flags the records it placed too
     * (a pipe's other ends...). 0; 1 when what it placed stands in for what is lost (a socket
     * whose peer is gone), listed as not restored; -ENOTSUP when the kind cannot, or -errno.
     * NULL: attached as a standard stream, else left closed. */
    int (*rebuild)(struct crs_restore *r, const struct crs_img_fd *f, uint8_t *done);
    /* Rebuild, second pass (restorer): once every descriptor exists (epoll registrations). */
    void (*rebuild_late)(struct crs_restore *r, const struct crs_img_fd *f);

    /* Info (command): a note after the path in the text form (" (socketpair, restored)") and a
     * member for the JSON form (",\"socketpair\":true"), each "" if none. */
    void (*info)(const struct crs_img_fd *f, char *text, size_t tlen, char *json, size_t jlen);
};

/* The table, indexed by kind; every slot of 1..CRS_FD__END-1 is filled (fds/table.c). */
extern const struct crs_fd_ops *const crs_fd_kinds[CRS_FD__END];

/* The kind's operations, or NULL for a kind this version does not know. */
static inline __attribute__((always_inline)) const struct crs_fd_ops *
crs_fd_ops_of(uint32_t kind)
{
    return kind > 0 && kind < CRS_FD__END ? crs_fd_kinds[kind] : NULL;
}

/* The kind of a descriptor: the best match in the table (see match). */
uint32_t crs_fd_recognise(struct crs_fd_probe *p);

#endif
