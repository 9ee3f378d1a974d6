/* restore/restore.c - the restore sequence: every check first, then memory, descriptors and
 * process state, then the plan, and the jump into the restored library's restart entry
 * (restart/restart.c), which removes what is left of the restorer and recreates the threads.
 * A failure before memory is touched returns; after that the process can only exit.
 */
#define _GNU_SOURCE
#include "common/errmsg.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/escape.h"

void crs_restore_say(int fd, const char *kind, const char *msg)
{
    char safe[2048];
    crs_escape_str(safe, sizeof safe, msg);
    dprintf(fd, "crsnap restore: %s%s\n", kind, safe);
}

int crs_restore_build_plan(const struct crs_image *img, struct crs_restart_plan *plan, char *err,
                           size_t errlen)
{
    const struct crs_img_restart *rs = &img->process.restart;
    int main_index = -1;

    if (img->nthreads == 0 || img->nthreads > CRS_PLAN_MAX_THREADS) {
        crs_seterr(err, errlen,
                   "the image holds %u threads (1 to %u can be restored)", img->nthreads,
                   CRS_PLAN_MAX_THREADS);
        return -E2BIG;
    }
    memset(plan, 0, sizeof *plan);
    plan->version = CRS_IMG_VERSION;
    plan->exe_fd = -1;
    plan->nthreads = img->nthreads;
    for (uint32_t i = 0; i < img->nthreads; i++) {
        struct crs_img_thread *t = &plan->threads[i];
        *t = img->threads[i];
        if (!t->tid_addr && rs->tid_offset)
            t->tid_addr = t->fs_base + (uint64_t)rs->tid_offset;
        if (t->flags & CRS_THREAD_F_MAIN)
            main_index = (int)i;
        if (!t->fs_base || !t->ctx.rsp || !t->ctx.rip) {
            crs_seterr(err, errlen, "thread %d has no saved context", t->tid);
            return -EBADMSG;
        }
    }
    if (main_index < 0) {
        crs_seterr(err, errlen, "the image has no main thread");
        return -EBADMSG;
    }
    plan->main_index = (uint32_t)main_index;
    return 0;
}

struct progress {
    struct timespec t0;
    int shown;
    const char *what;           /* "checked", "restored" */
};

static void show_progress(uint64_t done, uint64_t total, void *arg)
{
    struct progress *pr = arg;
    struct timespec now;
    double dt;

    clock_gettime(CLOCK_MONOTONIC, &now);
    dt = (double)(now.tv_sec - pr->t0.tv_sec) + (double)(now.tv_nsec - pr->t0.tv_nsec) / 1e9;
    if (done != total && (done >> 24) == ((done - 1) >> 24) && pr->shown)
        return;                 /* about every 16 MiB */
    pr->shown = 1;
    fprintf(stderr, "\rcrsnap restore: %s %" PRIu64 " of %" PRIu64 " MiB (%.0f MiB/s)  ",
            pr->what, done >> 20, total >> 20, dt > 0 ? (double)done / 1048576.0 / dt : 0.0);
    if (done == total)
        fputc('\n', stderr);
}

/* After the point of no return: say why on the restorer's stderr and exit. */
static __attribute__((noreturn)) void die(struct crs_restore *r, const char *err)
{
    crs_restore_say(r->errfd, "", err);
    _exit(1);
}

/* The program file, above every restored descriptor, for the restart entry to make it
 * /proc/self/exe again; -1 when it cannot be opened. */
static int open_exe(struct crs_restore *r)
{
    const char *exe = crs_image_string(r->img, r->img->process.exe);
    int fd, hi;

    if (!exe || exe[0] != '/' || (fd = open(exe, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    hi = fcntl(fd, F_DUPFD_CLOEXEC, r->fd_floor);
    close(fd);
    return hi;
}

/* The restorer's own rseq area must not stay registered once its memory is gone. */
static void drop_rseq(void)
{
    uint64_t area;
    if (!__rseq_size)
        return;
    area = crs_arch_thread_pointer() + (uint64_t)__rseq_offset;
    if (syscall(SYS_rseq, area, __rseq_size, 1, 0x53053053) < 0 && __rseq_size != 32)
        syscall(SYS_rseq, area, 32, 1, 0x53053053);
}

int crs_restore_run(struct crs_image *img, const struct crs_restore_opts *o, char *err,
                    size_t errlen)
{
    const struct crs_img_restart *rs = &img->process.restart;
    struct crs_restore *r = calloc(1, sizeof *r);
    struct progress pr = { 0 };
    sigset_t all;
    int n, rc;

    if (!r || !(r->plan = calloc(1, sizeof *r->plan))) {
        free(r);
        crs_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->img = img;
    r->opts = *o;
    r->errfd = 2;
    r->uffd = r->lazy_go = -1;
    /* Every check of restore_check.c's list, before anything changes: a dry run makes the
     * same ones and stops where a restore would start to change its address space. */
    if ((rc = crs_restore_check_image(img, err, errlen)) ||
        (rc = crs_restore_check_host(img, &o->hooks, err, errlen)) ||
        (rc = crs_restore_build_plan(img, r->plan, err, errlen)) ||
        (rc = crs_restore_check_fd_limit(img, err, errlen)) ||
        (o->pid_mode == CRS_PID_SAME && o->dry_run &&
         (rc = crs_restore_check_pid(img, err, errlen))) ||
        (rc = crs_restore_check_files(img, o, err, errlen)))
        goto fail;
    /* A job: every member's image is checked here too, before anything changes; a member's
     * restorer takes the pipes its ancestors made. */
    if (img->tree && !getenv("CRSNAP_RESTORE_SHARED") &&
        (rc = crs_restore_tree_check(r, err, errlen)))
        goto fail;
    if ((img->tree || o->tree_root) && crs_restore_tree_inherit(r) < 0) {
        crs_seterr(err, errlen, "the job's pipes are not where the restore of its root left "
                   "them");
        rc = -EINVAL;
        goto fail;
    }
    if (img->tree && r->opts.pid_mode == CRS_PID_DEFAULT)
        r->opts.pid_mode = CRS_PID_SAME;    /* its processes know each other's pids */
    /* The restored process runs with the restorer's credentials, not the saved ones. */
    if (geteuid() != img->process.euid && !o->dry_run)
        fprintf(stderr, "crsnap restore: warning: the image was taken as uid %u, it runs as "
                "uid %u\n", img->process.euid, (unsigned)geteuid());
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    pr.what = "checked";
    /* Every checksum now, before anything changes; the pages are decompressed once, into place,
     * later (a frame that then fails to decompress still stops the restore before the restored
     * process runs). A dry run has the time to decompress everything. A lazy restore checks
     * every chunk header now, and each chunk's bytes when the helper reads them. */
    if (r->opts.lazy && !o->dry_run)    /* a job's restore is eager (restore_tree.c) */
        crs_restore_lazy_probe(r);
    if (r->lazy) {
        if ((rc = crs_restore_lazy_index(r, err, errlen)))
            goto fail;
    } else if ((rc = (o->dry_run ? crs_image_verify : crs_image_check)(
                  img, o->progress ? show_progress : NULL, &pr, err, errlen))) {
        char why[384];
        snprintf(why, sizeof why, "%s", err);
        crs_seterr(err, errlen, "%s: %s", img->path, why);
        goto fail;
    }
    /* an incremental image: every ancestor found, the right one, and sound, now */
    if ((rc = crs_restore_chain_open(r, o->dry_run, err, errlen)))
        goto fail;
    if ((rc = crs_restore_memory_try(r, err, errlen)))
        goto fail;
    if ((rc = crs_restore_memory_prepare(r, err, errlen)))
        goto fail;
    if (!(r->fd_done = calloc(img->nfds ? img->nfds : 1, 1)) ||
        !(r->shm = calloc(img->nvmas ? img->nvmas : 1, sizeof *r->shm)) ||
        !(r->objs = calloc(img->nshmobj ? img->nshmobj : 1, sizeof *r->objs))) {
        crs_seterr(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    /* Every allocation the restore needs is made; the layout seen now is the one that stays. */
    if ((rc = crs_restore_read_maps(r, err, errlen)) ||
        (rc = crs_restore_check_layout(r, err, errlen)) ||
        (rc = crs_restore_check_vdso(r, err, errlen)))
        goto fail;
    n = crs_restore_unmap_list(r, r->plan->unmap, CRS_PLAN_MAX_UNMAP);
    if (n < 0) {
        crs_seterr(err, errlen, "the restorer's mappings are too scattered to remove");
        rc = n;
        goto fail;
    }
    r->plan->nunmap = (uint32_t)n;
    if ((rc = crs_restore_timers_plan(r, err, errlen)))
        goto fail;
    if (o->dry_run) {
        crs_restore_memory_release(r);
        free(r->fd_done);
        free(r->shm);
        free(r->objs);
        free(r->chain_buf);
        free(r->plan);
        free(r);
        return 0;
    }

    if (img->tree && !getenv("CRSNAP_RESTORE_SHARED") &&
        ((rc = crs_restore_tree_make(r, err, errlen)) ||
         (rc = crs_restore_jobshm_make(r, err, errlen))))
        goto fail;
    if ((rc = crs_restore_take_pid(r, err, errlen)))
        goto fail;
    /* The process's children in its job, each under its pid, before it becomes itself (a
     * restorer executed again for a fresh layout made them already). */
    if ((img->tree || o->tree_root) && !crs_restore_tree_spawned(0)) {
        if ((rc = crs_restore_tree_spawn(r, img->tree ? img : o->tree_root, err, errlen)))
            die(r, err);
        crs_restore_tree_spawned(1);
    }
    if (r->lazy && (rc = crs_restore_lazy_start(r, err, errlen))) {
        if (rc < 0)
            goto fail;
        /* refused in this process after all: eager, with the full check first */
        if ((rc = crs_image_check(img, NULL, NULL, err, errlen)))
            goto fail;
    }

    /* From here the process becomes the image. Nothing may interrupt it. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    pr.shown = 0;
    pr.what = "restored";
    crs_image_set_progress(img, o->progress ? show_progress : NULL, &pr);
    if ((rc = crs_restore_memory(r, err, errlen)))
        goto fail;          /* the caller may re-execute: exec throws all of this away */
    if ((rc = crs_restore_move_own_fds(r, err, errlen)) ||
        (rc = crs_restore_fds(r, err, errlen)) ||
        (rc = crs_restore_proc(r, err, errlen)))
        die(r, err);
    crs_restore_locks(r);
    if (crs_restore_mm(r, err, errlen)) {
        if (o->verbose)
            crs_restore_say(r->errfd, "warning: ", err);
    } else {
        r->plan->exe_fd = open_exe(r);
    }

    /* Threads get their tids back where the kernel allows it (privilege, tid free); the
     * main thread's is the pid, back only with --same-pid. */
    r->plan->flags |= CRS_PLAN_F_SAME_TIDS;
    /* In a user namespace of its own the process holds every capability there, which only
     * the restart entry needs (the tids): each thread drops them before it runs the program.
     * A root restore's pid namespace gives none: root keeps what it had. */
    if (r->outer_pid) {
        if (r->userns)
            r->plan->flags |= CRS_PLAN_F_DROP_CAPS;
        r->plan->outer_pid = (uint32_t)r->outer_pid;
    }
    if (o->tree_root && crs_restore_tree_in_ns())
        r->plan->flags |= CRS_PLAN_F_DROP_CAPS;
    r->plan->magic = CRS_PLAN_MAGIC;
    memcpy((void *)(uintptr_t)rs->plan_addr, r->plan, sizeof *r->plan);
    if ((rc = crs_restore_vdso(r, err, errlen)))
        die(r, err);
    /* No vDSO call from here on: the restorer's pointers to it are stale. */
    if ((rc = crs_restore_itimers(r, err, errlen)))
        die(r, err);
    close(img->fd);
    for (int i = 0; i < 3; i++)
        if (r->stdfd[i] >= 0)
            close(r->stdfd[i]);
    drop_rseq();
    crs_arch_run_on_stack((void *)(uintptr_t)rs->stack_top,
                          (void (*)(void *))(uintptr_t)rs->entry,
                          (void *)(uintptr_t)rs->plan_addr);
fail:
    if (r->errfd != 2)
        die(r, err);
    crs_restore_memory_release(r);
    if (r->shm)
        crs_restore_shm_close(r);
    free(r->fd_done);
    free(r->shm);
    free(r->objs);
    free(r->own_idx);
    if (r->uffd >= 0)
        close(r->uffd);
    if (r->lazy_go >= 0)
        close(r->lazy_go);
    free(r->chain_buf);
    free(r->plan);
    free(r);
    return rc;
}
