/* tools/cmd_info.c - `crsnap info [--json] IMAGE`: what an image holds, for a person or, with
 * --json, for a program. It validates the structure (every section and chunk header) but does
 * not decompress page data; `crsnap verify` does that.
 */
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "commands.h"
#include "common/escape.h"
#include "image_fmt.h"
#include "tree_info.h"
#include "image/fdkind.h"
#include "image/reader.h"
#include "image/timers.h"

struct summary {
    uint32_t vma_count[CRS_VMA__END];   /* indexed by kind: the reader checked them */
    uint64_t vma_bytes[CRS_VMA__END];
    uint64_t vma_saved[CRS_VMA__END];
    uint32_t fd_count[CRS_FD__END];
    uint32_t chunks;
    uint64_t stored;                /* page bytes as stored (compressed) */
    uint32_t locked;                /* regions locked (mlock), and their bytes */
    uint64_t locked_bytes;
    uint64_t guard_pages;           /* in img->nguards runs */
};

/* What f's kind adds to the text and JSON forms ("" if nothing). */
static void kind_info(const struct crs_img_fd *f, char *text, size_t tlen, char *json,
                      size_t jlen)
{
    const struct crs_fd_ops *k = crs_fd_ops_of(f->kind);
    text[0] = json[0] = '\0';
    if (k && k->info)
        k->info(f, text, tlen, json, jlen);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: crsnap info [--json] IMAGE\n\n"
                 "Describe a checkpoint image: program, time, host, threads, memory regions,\n"
                 "page data and compression, pause, file descriptors, and what a restore will\n"
                 "not bring back (sockets, pipes to other processes, children).\n\n"
                 "  --json      print one JSON object instead of text\n"
                 "  -h, --help  show this help\n\n"
                 "Exit status: 0 described, 1 unreadable or damaged image, 2 wrong usage.\n");
}

static int summarise(struct crs_image *img, struct summary *s, char *err, size_t errlen)
{
    struct crs_chunk_iter it;
    XXH3_state_t *hs = XXH3_createState();
    uint64_t want = 0;
    int r;
    memset(s, 0, sizeof *s);
    if (!hs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    XXH3_64bits_reset(hs);
    for (uint32_t i = 0; i < img->ntoc; i++)
        if (img->toc[i].type == CRS_SEC_PAGES)
            want = img->toc[i].checksum;
    for (uint32_t i = 0; i < img->nvmas; i++) {
        const struct crs_img_vma *v = &img->vmas[i];
        s->vma_count[v->kind]++;
        s->vma_bytes[v->kind] += v->end - v->start;
        if (v->flags & CRS_VMA_F_LOCKED) {
            s->locked++;
            s->locked_bytes += v->end - v->start;
        }
    }
    for (uint32_t i = 0; i < img->nguards; i++)
        s->guard_pages += (img->guards[i].end - img->guards[i].start) / CRS_IMG_PAGE_SIZE;
    for (uint32_t i = 0; i < img->nfds; i++)
        s->fd_count[img->fds[i].kind]++;
    crs_image_chunk_begin(img, &it);
    while ((r = crs_image_next_chunk(img, &it, err, errlen)) > 0) {
        const struct crs_img_vma *v = crs_image_find_vma(img, it.chunk.addr);
        s->vma_saved[v->kind] += (uint64_t)it.chunk.npages * CRS_IMG_PAGE_SIZE;
        s->chunks++;
        s->stored += sizeof it.chunk + it.chunk.clen;
        XXH3_64bits_update(hs, &it.chunk, sizeof it.chunk);
    }
    if (r == 0 && XXH3_64bits_digest(hs) != want) {
        snprintf(err, errlen, "damaged pages section: chunk headers checksum mismatch");
        r = -1;
    }
    XXH3_freeState(hs);
    return r;
}

static double ratio(const struct crs_image *img, const struct summary *s)
{
    return s->stored ? (double)img->process.memory_saved / (double)s->stored : 0.0;
}

/* Every string below comes from the image, which may be someone else's: escaped, so that it
 * can neither break the layout nor drive the terminal. */
static void str(const char *s)
{
    crs_print_escaped_str(stdout, s);
}

/* A thread's name: 16 bytes, NUL-terminated unless it fills them. */
static size_t name_len(const char name[16])
{
    size_t n = 0;
    while (n < 16 && name[n])
        n++;
    return n;
}

/* Bytes the image holds for f: those waiting in its pipe or socket (-1: none recorded) and,
 * for a file with no name left, its contents (-1: not a saved file). */
static long long queued_of(const struct crs_image *img, const struct crs_img_fd *f)
{
    long long sum = -1;
    for (uint32_t i = 0; i < img->nqueued; i++)
        if (img->queued[i].fd == f->fd && img->queued[i].ino == f->ino)
            sum = (sum < 0 ? 0 : sum) + img->queued[i].len;
    return sum;
}

static long long deleted_of(const struct crs_image *img, const struct crs_img_fd *f)
{
    const struct crs_image_deleted *d = crs_image_deleted_for(img, f);
    return d ? (long long)d->size : -1;
}

/* Text that comes from the image (what a restore leaves out), on the terminal: one place to
 * make it safe to print. */
static void put_image_text(const char *t)
{
    crs_print_escaped_str(stdout, t);
}

static void print_unsaved_text(const struct crs_image *img)
{
    char line[600];

    if (!img->nunsaved)
        return;
    printf("not restored %u\n", img->nunsaved);
    for (uint32_t i = 0; i < img->nunsaved; i++) {
        crs_image_unsaved_line(img, i, line, sizeof line);
        fputs("  ", stdout);
        put_image_text(line);
        putchar('\n');
    }
}

static void print_unsaved_json(const struct crs_image *img)
{
    printf(",\"not_restored\":[");
    for (uint32_t i = 0; i < img->nunsaved; i++) {
        const struct crs_img_unsaved *u = &img->unsaved[i];
        const char *what = crs_image_string(img, u->what);
        if (u->kind == CRS_UNSAVED_FD)
            printf("%s{\"kind\":\"fd\",\"fd\":%d", i ? "," : "", u->fd);
        else if (u->kind == CRS_UNSAVED_CHILD)
            printf("%s{\"kind\":\"child\",\"pid\":%u", i ? "," : "", u->pid);
        else if (u->kind == CRS_UNSAVED_TIMER)
            printf("%s{\"kind\":\"timer\"", i ? "," : "");
        else
            printf("%s{\"kind\":\"other\"", i ? "," : "");
        printf(",\"what\":");
        crs_json_string_str(stdout, what ? what : "");
        printf("}");
    }
    printf("]");
}

/* A POSIX timer's notification, as timer_create's sigev_notify names it. */
static const char *notify_name(uint32_t notify)
{
    switch (notify) {
    case CRS_SIGEV_SIGNAL: return "signal";
    case CRS_SIGEV_NONE: return "none";
    case CRS_SIGEV_THREAD: return "thread";
    case CRS_SIGEV_SIGNAL | CRS_SIGEV_THREAD_ID: return "thread-id";
    default: return "?";
    }
}

static const char *clock_name(int32_t c)
{
    static const char *const names[] = {
        "realtime", "monotonic", NULL, NULL, NULL, NULL, NULL, "boottime", "realtime-alarm",
        "boottime-alarm", NULL, "tai",
    };
    if (c >= 0 && c < (int32_t)(sizeof names / sizeof names[0]) && names[c])
        return names[c];
    return c < 0 ? ((c & CRS_CPUCLOCK_PERTHREAD) ? "thread-cputime" : "process-cputime") : "?";
}

static double secs(const struct crs_img_timespec *t)
{
    return (double)t->sec + (double)t->nsec / 1e9;
}

static void print_timers_text(const struct crs_image *img)
{
    if (!img->ntimers)
        return;
    printf("timers     %u\n", img->ntimers);
    for (uint32_t i = 0; i < img->ntimers; i++) {
        const struct crs_img_timer *t = &img->timers[i];
        const char *why = crs_img_timer_why_not(t, img->process.pid, img->threads, img->nthreads);
        printf("  id %-6d %-15s %-9s", t->id, clock_name(t->clockid), notify_name(t->notify));
        if (t->notify != CRS_SIGEV_NONE)
            printf(" signal %d", t->signo);
        if (t->notify & CRS_SIGEV_THREAD_ID)
            printf(" tid %d", t->tid);
        printf(" value %#llx", (unsigned long long)t->value);
        if (t->value_left.sec || t->value_left.nsec)
            printf(", %.3f s left", secs(&t->value_left));
        else
            printf(", disarmed");
        if (t->interval.sec || t->interval.nsec)
            printf(", every %.3f s", secs(&t->interval));
        printf("%s\n", why ? " (not restored)" : "");
    }
}

static void print_timers_json(const struct crs_image *img)
{
    printf(",\"timers\":[");
    for (uint32_t i = 0; i < img->ntimers; i++) {
        const struct crs_img_timer *t = &img->timers[i];
        const char *why = crs_img_timer_why_not(t, img->process.pid, img->threads, img->nthreads);
        printf("%s{\"id\":%d,\"clock\":%d,\"clock_name\":\"%s\",\"notify\":\"%s\",\"signal\":%d",
               i ? "," : "", t->id, t->clockid, clock_name(t->clockid), notify_name(t->notify),
               t->signo);
        if (t->notify & CRS_SIGEV_THREAD_ID)
            printf(",\"tid\":%d", t->tid);
        printf(",\"value\":%llu,\"interval_ns\":%lld,\"left_ns\":%lld,\"restored\":%s}",
               (unsigned long long)t->value,
               (long long)(t->interval.sec * 1000000000ll + t->interval.nsec),
               (long long)(t->value_left.sec * 1000000000ll + t->value_left.nsec),
               why ? "false" : "true");
    }
    printf("]");
}

static void print_text(const struct crs_image *img, const struct summary *s)
{
    const struct crs_img_process *p = &img->process;
    char a[64], b[64], c[64];

    printf("image      ");
    str(img->path);
    printf("\nprogram    ");
    str(crs_image_string(img, p->exe));
    printf(" (");
    str(crs_image_string(img, p->comm));
    printf("), pid %u, ppid %u", p->pid, p->ppid);
    if (img->outer_pid)
        printf(" (in a pid namespace of its own; pid %u outside it)", img->outer_pid);
    putchar('\n');
    printf("command   ");
    for (uint32_t i = 0; i < img->argc; i++) {
        putchar(' ');
        str(img->argv[i]);
    }
    printf("\ncwd        ");
    str(crs_image_string(img, p->cwd));
    printf("\n");
    printf("taken      %s, sequence %llu%s\n", crs_fmt_time(a, sizeof a, img->header.created_ns),
           (unsigned long long)img->header.seq,
           (img->header.flags & CRS_IMG_F_KILLED) ? ", process exited after it" : "");
    crs_tree_info_text(img);
    if (img->parent) {
        printf("parent:    ");
        str(img->parent_name);
        printf(" (sequence %llu, chain depth %u), %s of pages left to it\n",
               (unsigned long long)img->parent->seq, img->parent->depth,
               crs_fmt_bytes(a, sizeof a, crs_image_inherited_bytes(img)));
    }
    printf("host       ");
    str(img->host.sysname);
    putchar(' ');
    str(img->host.release);
    putchar(' ');
    str(img->host.machine);
    printf(", glibc ");
    str(img->host.libc_version);
    printf(", xfeatures %#llx\n", (unsigned long long)img->host.xfeatures);
    printf("threads    %u\n", img->nthreads);
    for (uint32_t i = 0; i < img->nthreads; i++) {
        const struct crs_img_thread *t = &img->threads[i];
        printf("  tid %-8d ", t->tid);
        crs_print_escaped(stdout, t->name, name_len(t->name));
        printf("%*s%s%s\n", (int)(16 - name_len(t->name)), "",
               (t->flags & CRS_THREAD_F_MAIN) ? " main" : "",
               (t->flags & CRS_THREAD_F_COORDINATOR) ? " coordinator" : "");
    }
    printf("regions    %u\n", img->nvmas);
    for (uint32_t k = 1; k < CRS_VMA__END; k++)
        if (s->vma_count[k])
            printf("  %-13s %5u  %10s  saved %s\n", crs_image_vma_kind_name(k), s->vma_count[k],
                   crs_fmt_bytes(a, sizeof a, s->vma_bytes[k]),
                   crs_fmt_bytes(b, sizeof b, s->vma_saved[k]));
    if (s->locked)
        printf("  locked        %5u  %10s  (mlock)\n", s->locked,
               crs_fmt_bytes(a, sizeof a, s->locked_bytes));
    if (img->nguards)
        printf("guard pages %llu in %u runs\n", (unsigned long long)s->guard_pages, img->nguards);
    if (img->nshmobj)
        printf("shared memory objects %u\n", img->nshmobj);
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *o = &img->shmobj[i];
        if (o->kind == CRS_SHMOBJ_SYSV) {
            printf("  sysv key 0x%08x id %llu", (unsigned)o->key, (unsigned long long)o->ino);
        } else {
            printf("  posix ");
            crs_print_escaped_str(stdout, crs_image_string(img, o->path));
        }
        printf(", %s, mode %04o%s%s\n", crs_fmt_bytes(a, sizeof a, o->size),
               o->mode & (o->kind == CRS_SHMOBJ_SYSV ? 0777u : 07777u),
               o->kind == CRS_SHMOBJ_SYSV && (o->mode & 01000) ? ", removed" : "",
               o->flags & CRS_SHMOBJ_F_INSTANT ? "" : ", read after the snapshot");
    }
    printf("memory     %s covered, %s saved in %u chunks, %llu zero pages elided\n",
           crs_fmt_bytes(a, sizeof a, p->memory_covered), crs_fmt_bytes(b, sizeof b, p->memory_saved),
           s->chunks, (unsigned long long)p->pages_zero);
    printf("size       %s, page data %s, compression %.2fx\n",
           crs_fmt_bytes(a, sizeof a, img->file_size), crs_fmt_bytes(c, sizeof c, s->stored),
           ratio(img, s));
    printf("pause      %s\n", crs_fmt_duration(a, sizeof a, img->trailer.pause_ns));
    printf("fds        %u", img->nfds);
    const char *sep = ": ";
    for (uint32_t k = 1; k < CRS_FD__END; k++)
        if (s->fd_count[k]) {
            printf("%s%s %u", sep, crs_image_fd_kind_name(k), s->fd_count[k]);
            sep = ", ";
        }
    printf("\n");
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        long long q = queued_of(img, f), d = deleted_of(img, f);
        char note[256], member[128];
        if (f->kind == CRS_FD_INTERNAL)
            continue;
        kind_info(f, note, sizeof note, member, sizeof member);
        printf("  %-4d %-9s ", f->fd, crs_image_fd_kind_name(f->kind));
        str(crs_image_string(img, f->path));
        str(note);                      /* it may hold a unix path from the image */
        if (q >= 0)
            printf(" (%lld bytes waiting)", q);
        if (d >= 0)
            printf(" (contents saved: %s)", crs_fmt_bytes(a, sizeof a, (uint64_t)d));
        printf("\n");
    }
    print_timers_text(img);
    print_unsaved_text(img);
}

static void print_json(const struct crs_image *img, const struct summary *s)
{
    const struct crs_img_process *p = &img->process;
    printf("{\"path\":");
    crs_json_string_str(stdout, img->path);
    printf(",\"version\":%u,\"seq\":%llu,\"created_ns\":%llu,\"killed\":%s", img->header.version,
           (unsigned long long)img->header.seq, (unsigned long long)img->header.created_ns,
           (img->header.flags & CRS_IMG_F_KILLED) ? "true" : "false");
    if (img->parent) {
        printf(",\"parent\": ");
        crs_json_string_str(stdout, img->parent_name);
        printf(",\"parent_seq\":%llu,\"chain_depth\":%u,\"inherited_bytes\":%llu",
               (unsigned long long)img->parent->seq, img->parent->depth,
               (unsigned long long)crs_image_inherited_bytes(img));
    } else {
        printf(",\"parent\":null,\"chain_depth\":0,\"inherited_bytes\":0");
    }
    printf(",\"pid\":%u,\"ppid\":%u,\"outer_pid\":%u,\"exe\":", p->pid, p->ppid, img->outer_pid);
    crs_json_string_str(stdout, crs_image_string(img, p->exe));
    printf(",\"comm\":");
    crs_json_string_str(stdout, crs_image_string(img, p->comm));
    printf(",\"cwd\":");
    crs_json_string_str(stdout, crs_image_string(img, p->cwd));
    printf(",\"argv\":[");
    for (uint32_t i = 0; i < img->argc; i++) {
        if (i)
            printf(",");
        crs_json_string_str(stdout, img->argv[i]);
    }
    printf("],\"host\":{\"sysname\":");
    crs_json_string_str(stdout, img->host.sysname);
    printf(",\"release\":");
    crs_json_string_str(stdout, img->host.release);
    printf(",\"machine\":");
    crs_json_string_str(stdout, img->host.machine);
    printf(",\"libc\":");
    crs_json_string_str(stdout, img->host.libc_version);
    printf(",\"xfeatures\":%llu}", (unsigned long long)img->host.xfeatures);
    printf(",\"threads\":[");
    for (uint32_t i = 0; i < img->nthreads; i++) {
        const struct crs_img_thread *t = &img->threads[i];
        printf("%s{\"tid\":%d,\"main\":%s,\"name\":", i ? "," : "", t->tid,
               (t->flags & CRS_THREAD_F_MAIN) ? "true" : "false");
        crs_json_string(stdout, t->name, name_len(t->name));
        printf("}");
    }
    printf("],\"regions\":%u,\"regions_by_kind\":{", img->nvmas);
    const char *sep = "";
    for (uint32_t k = 1; k < CRS_VMA__END; k++)
        if (s->vma_count[k]) {
            printf("%s\"%s\":{\"count\":%u,\"bytes\":%llu,\"saved\":%llu}", sep,
                   crs_image_vma_kind_name(k), s->vma_count[k],
                   (unsigned long long)s->vma_bytes[k], (unsigned long long)s->vma_saved[k]);
            sep = ",";
        }
    printf("},\"locked_regions\":%u,\"locked_bytes\":%llu", s->locked,
           (unsigned long long)s->locked_bytes);
    printf(",\"guard_pages\":%llu,\"guard_runs\":%u", (unsigned long long)s->guard_pages,
           img->nguards);
    printf(",\"shm_objects\":[");
    for (uint32_t i = 0; i < img->nshmobj; i++) {
        const struct crs_img_shmobj *o = &img->shmobj[i];
        printf("%s{\"kind\":\"%s\",", i ? "," : "", o->kind == CRS_SHMOBJ_SYSV ? "sysv" : "posix");
        if (o->kind == CRS_SHMOBJ_SYSV) {
            printf("\"key\":%u,\"id\":%llu,\"removed\":%s", (unsigned)o->key,
                   (unsigned long long)o->ino, (o->mode & 01000) ? "true" : "false");
        } else {
            printf("\"path\":");
            crs_json_string_str(stdout, crs_image_string(img, o->path));
        }
        printf(",\"size\":%llu,\"mode\":%u,\"instant\":%s}", (unsigned long long)o->size,
               o->mode & (o->kind == CRS_SHMOBJ_SYSV ? 0777u : 07777u),
               o->flags & CRS_SHMOBJ_F_INSTANT ? "true" : "false");
    }
    printf("]");
    printf(",\"memory_covered\":%llu,\"memory_saved\":%llu,\"pages_zero\":%llu,\"chunks\":%u",
           (unsigned long long)p->memory_covered, (unsigned long long)p->memory_saved,
           (unsigned long long)p->pages_zero, s->chunks);
    printf(",\"image_size\":%llu,\"page_data_size\":%llu,\"ratio\":%.3f,\"pause_ns\":%llu",
           (unsigned long long)img->file_size, (unsigned long long)s->stored, ratio(img, s),
           (unsigned long long)img->trailer.pause_ns);
    printf(",\"fds_by_kind\":{");
    sep = "";
    for (uint32_t k = 1; k < CRS_FD__END; k++)
        if (s->fd_count[k]) {
            printf("%s\"%s\":%u", sep, crs_image_fd_kind_name(k), s->fd_count[k]);
            sep = ",";
        }
    printf("},\"fds\":[");
    sep = "";
    for (uint32_t i = 0; i < img->nfds; i++) {
        const struct crs_img_fd *f = &img->fds[i];
        char note[256], member[128];
        kind_info(f, note, sizeof note, member, sizeof member);
        printf("%s{\"fd\":%d,\"kind\":\"%s\",\"path\":", sep, f->fd,
               crs_image_fd_kind_name(f->kind));
        crs_json_string_str(stdout, crs_image_string(img, f->path));
        printf("%s", member);
        if (queued_of(img, f) >= 0)
            printf(",\"bytes_waiting\":%lld", queued_of(img, f));
        if (deleted_of(img, f) >= 0)
            printf(",\"contents_saved\":%lld", deleted_of(img, f));
        printf("}");
        sep = ",";
    }
    printf("]");
    print_timers_json(img);
    print_unsaved_json(img);
    crs_tree_info_json(img);
    printf("}\n");
}

int crs_cmd_info(int argc, char **argv)
{
    const char *path;
    int json = 0;
    int st = crs_image_cmd_args(argc, argv, "json", 0, &json, usage, &path);
    if (st >= 0)
        return st;
    struct crs_image *img;
    struct summary s;
    char err[512];
    if (crs_image_open(path, &img, err, sizeof err) ||
        (summarise(img, &s, err, sizeof err) < 0 && (crs_image_close(img), 1))) {
        fprintf(stderr, "crsnap info: ");
        crs_print_escaped_str(stderr, path);
        fprintf(stderr, ": ");
        crs_print_escaped_str(stderr, err);
        fputc('\n', stderr);
        return CRS_EXIT_FAIL;
    }
    if (json)
        print_json(img, &s);
    else
        print_text(img, &s);
    /* an incremental image without its chain: said, and the exit status says it */
    int chain = crs_image_open_chain(img, err, sizeof err);
    if (chain < 0) {
        fflush(stdout);
        fprintf(stderr, "crsnap info: ");
        crs_print_escaped_str(stderr, err);
        fputc('\n', stderr);
    }
    crs_image_close(img);
    return fflush(stdout) == 0 && chain == 0 ? CRS_EXIT_OK : CRS_EXIT_FAIL;
}
