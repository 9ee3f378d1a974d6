/* fds/fds.h - what the kinds of fds/ share among themselves: the entries of the table, and
 * helpers more than one kind uses (reopening by name, unlinked files' contents, bytes waiting
 * in pipes and sockets). Not for the walks: they see the table alone (image/fdkind.h).
 */
#ifndef CRS_FDS_H
#define CRS_FDS_H

#include <stddef.h>
#include <stdint.h>
#include "image/fdkind.h"

extern const struct crs_fd_ops crs_fd_file, crs_fd_tty, crs_fd_chr, crs_fd_pipe,
    crs_fd_eventfd, crs_fd_epoll, crs_fd_timerfd, crs_fd_signalfd, crs_fd_socket, crs_fd_other,
    crs_fd_internal, crs_fd_memfd;

/* table.c: a restorable that says yes; a match by an anonymous inode's name ("[eventfd"). */
int crs_fd_restorable_always(const struct crs_fd_scan *s, const struct crs_img_fd *f);
int crs_fd_match_anon(struct crs_fd_probe *p, const char *name);

/* file.c: the checks of a descriptor reopened by its name (a file or a device), for check. */
int crs_fd_check_by_name(const struct crs_image *img, const struct crs_img_fd *f,
                         const struct crs_restore_opts *o, char *err, size_t errlen);

/* file.c: the child's copy of fd given a private description at offset pos (snapshot child). */
void crs_fd_pin_offset(int fd, uint64_t pos);

/* unlinked.c: an open file with no name left, whose contents the image holds: were they
 * saved (snapshot child); bring it back as a new nameless file (restorer); bring back a file
 * of the image's DELETED section made by make, filled, then finished (restorer). */
struct crs_image_deleted;
typedef int (*crs_fd_make_fn)(struct crs_restore *r, const struct crs_img_fd *f,
                              const struct crs_image_deleted *d);
typedef int (*crs_fd_finish_fn)(int fd, const struct crs_img_fd *f);
int crs_fd_unlinked_saved(const struct crs_fd_scan *s, const struct crs_img_fd *f);
int crs_fd_unlinked_rebuild(struct crs_restore *r, const struct crs_img_fd *f);
int crs_fd_contents_rebuild(struct crs_restore *r, const struct crs_img_fd *f,
                            crs_fd_make_fn make, crs_fd_finish_fn finish);

/* holder.c: the index in pids of a process other than this one that holds KIND:[INO] ("pipe",
 * "socket") open, with an access mode other than not_mode (-1: any), or -1 (snapshot child).
 * At most CRS_FD_HOLDER_WALKS processes are looked at. */
#define CRS_FD_HOLDER_WALKS 64
int crs_fd_holder(const int *pids, int npids, const char *kind, uint64_t ino, int not_mode);

/* "(sec, nsec)" as fdinfo prints a timer value, into microseconds (snapshot child). */
void crs_fd_parse_timeval(const char *s, struct crs_img_timeval *tv);

#endif
