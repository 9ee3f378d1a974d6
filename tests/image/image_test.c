/* tests/image/image_test.c - helpers shared by the image tests (see image_test.h). */
#define _GNU_SOURCE
#include "image_test.h"
#include "restart/restart.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level > 0)
        remove(p);
    return 0;
}

void crs_test_dir(char *out, size_t cap, const char *name)
{
    const char *tmp = getenv("CRSNAP_TEST_TMP");
    char base[4096];
    snprintf(base, sizeof base, "%s/image", tmp ? tmp : "/tmp");
    mkdir(base, 0755);
    snprintf(out, cap, "%s/%s", base, name);
    mkdir(out, 0755);
    nftw(out, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct crs_test_req *crs_test_req_new(const char *path, const char *dir, uint64_t seq)
{
    struct crs_test_req *t = calloc(1, sizeof *t);
    struct timespec ts;
    snprintf(t->req.path, sizeof t->req.path, "%s", path);
    snprintf(t->req.dir, sizeof t->req.dir, "%s", dir);
    t->req.seq = seq;
    /* the directory as the runtime hands it over (it checks it first: io/imgdir.c), and one
     * job for every image a test writes */
    char d[4096];
    const char *slash = strrchr(path, '/');
    if (dir[0])
        snprintf(d, sizeof d, "%s", dir);
    else if (slash)
        snprintf(d, sizeof d, "%.*s", (int)(slash - path), path);
    else
        snprintf(d, sizeof d, ".");
    t->req.dir_fd = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    memcpy(t->req.job_id, "crsnap-test-job", sizeof t->req.job_id);
    t->req.level = 3;
    t->thread.tid = getpid();
    t->thread.flags = CRS_THREAD_F_MAIN;
    snprintf(t->thread.name, sizeof t->thread.name, "main");
    /* Where a restore would go on: enough for `crsnap restore -n` and verify to accept the
     * image (these images are never restored for real). */
    t->thread.fs_base = crs_arch_thread_pointer();
    t->thread.ctx.rsp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    t->thread.ctx.rip = (uint64_t)(uintptr_t)&crs_test_req_new;
    crs_restart_describe(&t->req.restart);
    t->req.threads = &t->thread;
    t->req.nthreads = 1;
    if (pipe2(t->report, O_CLOEXEC) || pipe2(t->pause, O_CLOEXEC))
        abort();
    t->req.report_fd = t->report[1];
    t->req.pause_fd = t->pause[0];
    clock_gettime(CLOCK_REALTIME, &ts);
    t->req.created_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    crs_snapshot_host(&t->req.host);
    t->req.scratch_size = crs_snapshot_scratch_size();
    t->req.scratch = mmap(NULL, t->req.scratch_size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (t->req.scratch == MAP_FAILED)
        abort();
    return t;
}

void crs_test_req_free(struct crs_test_req *t)
{
    if (t->req.dir_fd >= 0)
        close(t->req.dir_fd);
    close(t->report[0]);
    close(t->report[1]);
    close(t->pause[0]);
    close(t->pause[1]);
    munmap(t->req.scratch, t->req.scratch_size);
    free(t);
}

pid_t crs_test_start_child(struct crs_test_req *t, void (*pre)(void))
{
    uint64_t pause = 4242;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (pre)
            pre();
        /* what crs_init resolves from the environment for the runtime's requests (after
         * pre, which may set some of it) */
        if (crs_env_flag(getenv("CRSNAP_NO_RELEASE")))
            t->req.no_release = 1;
        t->req.no_direct = crs_env_flag(getenv("CRSNAP_NO_DIRECT"));
        t->req.log_level = crs_env_flag(getenv("CRSNAP_LOG"));
        crs_snap_hooks_from_env(&t->req.hooks);
        crs_snapshot_child(&t->req);
    }
    if (write(t->pause[1], &pause, sizeof pause) != sizeof pause)
        abort();
    return pid;
}

int crs_test_finish_child(struct crs_test_req *t, pid_t pid, struct crs_snap_report *rep)
{
    int st;
    /* our copy of the write end must go, or a child that died would leave us waiting */
    close(t->report[1]);
    t->report[1] = -1;
    memset(rep, 0, sizeof *rep);
    size_t got = 0;
    while (got < sizeof *rep) {
        ssize_t n = read(t->report[0], (char *)rep + got, sizeof *rep - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != sizeof *rep)
        memset(rep, 0, sizeof *rep);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    /* a fresh pipe for the next run with the same request */
    close(t->report[0]);
    close(t->pause[0]);
    close(t->pause[1]);
    if (pipe2(t->report, O_CLOEXEC) || pipe2(t->pause, O_CLOEXEC))
        abort();
    t->req.report_fd = t->report[1];
    t->req.pause_fd = t->pause[0];
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int crs_test_run_child(struct crs_test_req *t, struct crs_snap_report *rep, void (*pre)(void))
{
    return crs_test_finish_child(t, crs_test_start_child(t, pre), rep);
}

int crs_test_write_image(struct crs_test_req *t, struct crs_snap_report *rep, char **img,
                         size_t *len)
{
    if (crs_test_run_child(t, rep, NULL) != 0 || rep->error)
        return -1;
    *img = crs_test_slurp(t->req.path, len);
    crs_test_req_free(t);
    return *img ? 0 : -1;
}

int crs_test_cli(const char *bin, const char *dir, rlim_t nofile_max, const char *const *argv,
                 char **text, size_t *len)
{
    char errpath[4096 + 8];
    int st;
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDWR);
        dup2(fd, 2);
        dup2(nul, 1);
        dup2(nul, 0);
        if (nofile_max) {
            struct rlimit rl = { nofile_max, nofile_max };
            prctl(PR_CAPBSET_DROP, 24 /* CAP_SYS_RESOURCE */, 0, 0, 0);
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                _exit(98);
        }
        execv(bin, (char *const *)argv);
        _exit(99);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    *text = crs_test_slurp(errpath, len);
    if (*text)
        (*text)[*len] = '\0';
    else
        *len = 0;
    return st;
}

int crs_test_count(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

char *crs_test_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb))
        return NULL;
    char *p = malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, p + got, (size_t)sb.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return p;
}

void crs_test_spit(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, p, len) != (ssize_t)len)
        abort();
    close(fd);
}

int crs_test_queue_pipe(struct crs_test_req *t, const char *text)
{
    struct stat sb;
    int p[2];
    uint32_t n = (uint32_t)strlen(text);
    struct crs_img_queued *q =
        (void *)((char *)t->req.scratch + t->req.scratch_size - CRS_SNAP_QUEUED_MAX);
    if (pipe(p) < 0 || write(p[1], text, n) != (ssize_t)n || fstat(p[0], &sb) < 0)
        return -1;
    q->fd = p[0];
    q->len = n;
    q->ino = sb.st_ino;
    memset(q + 1, 0, (n + 7) & ~7u);
    memcpy(q + 1, text, n);
    t->req.nqueued = 1;
    t->req.queued_len = sizeof *q + ((n + 7) & ~7u);
    return p[0];
}

int crs_test_delete_file(struct crs_test_req *t, const char *dir, const char *text)
{
    char path[4096];
    struct stat sb;
    size_t n = strlen(text);
    snprintf(path, sizeof path, "%s/gone.tmp", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int m = memfd_create("copy", MFD_CLOEXEC);
    if (fd < 0 || m < 0 || unlink(path) < 0 || write(fd, text, n) != (ssize_t)n ||
        write(m, text, n) != (ssize_t)n || fstat(fd, &sb) < 0)
        return -1;
    t->deleted = (struct crs_snap_deleted){fd, sb.st_mode, sb.st_ino, n, 0, sb.st_dev};
    t->req.deleted = &t->deleted;
    t->req.ndeleted = 1;
    t->req.deleted_memfd = m;
    return fd;
}

void crs_test_fix_sums(char *p, size_t n)
{
    struct crs_img_trailer *t = (struct crs_img_trailer *)(p + n - sizeof *t);
    if (t->toc_offset < n && t->toc_count < 1000 &&
        t->toc_offset + t->toc_count * sizeof(struct crs_img_toc_entry) <= n)
        t->toc_checksum = XXH3_64bits(p + t->toc_offset,
                                      t->toc_count * sizeof(struct crs_img_toc_entry));
    t->header_checksum = XXH3_64bits(p, 64);
    t->checksum = XXH3_64bits(t, offsetof(struct crs_img_trailer, checksum));
}

struct crs_img_toc_entry *crs_test_entry(char *p, size_t n, uint32_t type)
{
    struct crs_img_trailer *t = (struct crs_img_trailer *)(p + n - sizeof *t);
    struct crs_img_toc_entry *toc = (void *)(p + t->toc_offset);
    for (uint32_t i = 0; i < t->toc_count; i++)
        if (toc[i].type == type)
            return &toc[i];
    return NULL;
}

void crs_test_resum(char *p, struct crs_img_toc_entry *e)
{
    e->checksum = XXH3_64bits(p + e->offset + 16, e->length);
}
