/* image/names.c - the names of sections, region kinds and descriptor kinds, as messages and
 * `crsnap info` print them; each table is checked against its enum's count.
 */
#define _GNU_SOURCE
#include "reader_internal.h"
#include "fdkind.h"

const char *crs_reader_section_name(uint32_t type)
{
    static const char *const names[] = {
        "?", "host", "process", "strings", "regions", "pages",
        "threads", "signals", "fds", "argv", "auxv", "queued", "deleted", "not-restored",
        "attributes", "mapped-file-hashes", "timers", "pid-namespace",
        "guard-pages", "shared-memory-objects", "parent", "inherited-pages", "page-index", "?",
        "tree",
    };
    _Static_assert(sizeof names / sizeof names[0] == CRS_SEC__END, "a name per section type");
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

const char *crs_image_vma_kind_name(uint32_t kind)
{
    static const char *const names[] = {
        "?", "anon", "anon-shared", "file-private", "file-shared",
        "heap", "stack", "vdso", "vvar", "vsyscall",
    };
    _Static_assert(sizeof names / sizeof names[0] == CRS_VMA__END, "a name per region kind");
    return kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

const char *crs_image_fd_kind_name(uint32_t kind)
{
    const struct crs_fd_ops *k = crs_fd_ops_of(kind);
    return k ? k->name : "?";
}
