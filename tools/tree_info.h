/* tools/tree_info.h - a job's processes, as `crsnap info` and `crsnap ls` show them
 * (tree_info.c). */
#ifndef CRS_TOOL_TREE_INFO_H
#define CRS_TOOL_TREE_INFO_H

#include "image/reader.h"

/* Nothing for an image of one process. text: a "tree" line, then a table; json: a "tree"
 * member, its leading comma included. */
void crs_tree_info_text(const struct crs_image *img);
void crs_tree_info_json(const struct crs_image *img);
/* For `crsnap ls`: one indented line per process of the job but its root. */
void crs_tree_info_ls(const struct crs_image *img);

#endif
