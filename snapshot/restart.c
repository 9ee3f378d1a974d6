/* snapshot/restart.c - placeholder for the restart entry (restore issue). */
#include "restart.h"
#include <string.h>
void crs_restart_describe(struct crs_img_restart *out) { memset(out, 0, sizeof *out); }
const struct crs_restart_plan *crs_restart_plan_get(void) { return 0; }
