/* image/reader_internal.h - what the reader's files share and nothing outside image/ uses:
 * exact reads, section names, loading one section and keeping its payload, the load sequence.
 */
#ifndef CRS_READER_INTERNAL_H
#define CRS_READER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "reader.h"

/* names.c */
const char *crs_reader_section_name(uint32_t type);

/* reader.c */
int crs_reader_read_at(int fd, void *buf, size_t len, uint64_t off);
/* len bytes at off through window w (refilled with one long read when they are not in it):
 * *p points into the window. -E2BIG when len does not fit in w (read them another way). */
int crs_reader_window_view(struct crs_read_window *w, int fd, size_t len, uint64_t off,
                           const void **p);

/* load.c */
int crs_reader_load_section(struct crs_image *img, const struct crs_img_toc_entry *e, void **out,
                            char *err, size_t errlen);
int crs_reader_need_count(const struct crs_img_toc_entry *e, size_t recsize, char *err,
                          size_t errlen);
void *crs_reader_keep(struct crs_image *img, void *p);
int crs_reader_load_all(struct crs_image *img, char *err, size_t errlen);

/* tree.c */
int crs_reader_load_tree(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                         size_t errlen);

/* records.c */
int crs_reader_load_queued(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                           size_t errlen);
int crs_reader_load_deleted(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                            size_t errlen);
int crs_reader_load_unsaved(struct crs_image *img, const struct crs_img_toc_entry *e, char *err,
                            size_t errlen);

/* chain.c: PARENT and INHERIT (either may be NULL), after the regions. */
int crs_reader_load_chain(struct crs_image *img, const struct crs_img_toc_entry *parent,
                          const struct crs_img_toc_entry *inherit, char *err, size_t errlen);

#endif
