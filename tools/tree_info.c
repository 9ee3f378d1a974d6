/* tools/tree_info.c - a job's processes as `crsnap info` and `crsnap ls` show them: from the
 * root image's TREE section, with each member's memory and image size from its own image in
 * the parts directory (opened, so a missing or damaged part shows here).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/escape.h"
#include "image_fmt.h"
#include "restore/restore.h"
#include "tree_info.h"

/* What one member's part says: its memory, its size; or why it cannot be read. */
struct part_facts {
    int ok;
    uint64_t memory, bytes;
    char err[512];
};

static void part_facts(const struct crs_image *root, const struct crs_img_tree_member *m,
                       struct part_facts *f)
{
    struct crs_image *part = NULL;
    struct stat sb;

    memset(f, 0, sizeof *f);
    if (m->flags & CRS_TREE_F_ROOT) {
        f->ok = 1;
        f->memory = root->process.memory_covered;
        if (fstat(root->fd, &sb) == 0)
            f->bytes = (uint64_t)sb.st_size;
        return;
    }
    if (m->flags & CRS_TREE_F_ZOMBIE)
        return;
    if (crs_restore_tree_open_part(root, m->pid, &part, f->err, sizeof f->err) < 0)
        return;
    f->ok = 1;
    f->memory = part->process.memory_covered;
    if (fstat(part->fd, &sb) == 0)
        f->bytes = (uint64_t)sb.st_size;
    crs_image_close(part);
}

static void ended(int st, char *buf, size_t cap)
{
    if (WIFSIGNALED(st))
        snprintf(buf, cap, "ended, killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, cap, "ended, exit status %d", WEXITSTATUS(st));
}

void crs_tree_info_text(const struct crs_image *img)
{
    char a[32], b[32], why[64];
    uint64_t total = 0;

    if (!img->tree)
        return;
    printf("tree       %u processes, their images in ", img->ntree);
    crs_print_escaped_str(stdout, img->tree->parts);
    printf("\n  %-8s %-8s %-8s %-8s %-16s %10s %10s\n", "pid", "ppid", "pgid", "sid", "name",
           "memory", "image");
    for (uint32_t i = 0; i < img->ntree; i++) {
        const struct crs_img_tree_member *m = &img->tree_members[i];
        struct part_facts f;
        part_facts(img, m, &f);
        printf("  %-8u %-8u %-8u %-8u ", m->pid, m->ppid, m->pgid, m->sid);
        crs_print_escaped(stdout, m->comm, strnlen(m->comm, sizeof m->comm));
        printf("%*s ", (int)(16 - strnlen(m->comm, sizeof m->comm)), "");
        if (m->flags & CRS_TREE_F_ZOMBIE) {
            ended(m->wait_status, why, sizeof why);
            printf("(%s, not reaped)\n", why);
        } else if (!f.ok) {
            printf("(image unreadable: ");
            crs_print_escaped_str(stdout, f.err);
            printf(")\n");
        } else {
            printf("%10s %10s\n", crs_fmt_bytes(a, sizeof a, f.memory),
                   crs_fmt_bytes(b, sizeof b, f.bytes));
            total += f.bytes;
        }
    }
    printf("  all images %s\n", crs_fmt_bytes(a, sizeof a, total));
}

void crs_tree_info_ls(const struct crs_image *img)
{
    char a[32], b[32], why[64];

    for (uint32_t i = 1; img->tree && i < img->ntree; i++) {
        const struct crs_img_tree_member *m = &img->tree_members[i];
        struct part_facts f;
        part_facts(img, m, &f);
        printf("%6s  %-23s  ", "", i == 1 ? "  job's processes:" : "");
        printf("pid %-8u ppid %-8u ", m->pid, m->ppid);
        crs_print_escaped(stdout, m->comm, strnlen(m->comm, sizeof m->comm));
        if (m->flags & CRS_TREE_F_ZOMBIE) {
            ended(m->wait_status, why, sizeof why);
            printf("  (%s)\n", why);
        } else if (!f.ok) {
            printf("  (image unreadable)\n");
        } else {
            printf("  memory %s, image %s\n", crs_fmt_bytes(a, sizeof a, f.memory),
                   crs_fmt_bytes(b, sizeof b, f.bytes));
        }
    }
}

void crs_tree_info_json(const struct crs_image *img)
{
    if (!img->tree)
        return;
    printf(",\"tree\":{\"parts\":");
    crs_json_string_str(stdout, img->tree->parts);
    printf(",\"processes\":[");
    for (uint32_t i = 0; i < img->ntree; i++) {
        const struct crs_img_tree_member *m = &img->tree_members[i];
        struct part_facts f;
        char comm[17];
        part_facts(img, m, &f);
        snprintf(comm, sizeof comm, "%.16s", m->comm);
        printf("%s{\"pid\":%u,\"ppid\":%u,\"pgid\":%u,\"sid\":%u,\"name\":", i ? "," : "",
               m->pid, m->ppid, m->pgid, m->sid);
        crs_json_string_str(stdout, comm);
        if (m->flags & CRS_TREE_F_ZOMBIE) {
            printf(",\"state\":\"ended\",\"wait_status\":%d}", m->wait_status);
            continue;
        }
        printf(",\"state\":\"running\"");
        if (f.ok)
            printf(",\"memory\":%llu,\"image_bytes\":%llu}", (unsigned long long)f.memory,
                   (unsigned long long)f.bytes);
        else {
            printf(",\"error\":");
            crs_json_string_str(stdout, f.err);
            printf("}");
        }
    }
    printf("]}");
}
