/* tools/resume.c - `crsnap run --resume`: the same command line starts a job and resumes it.
 * An image is "of this job" when its environment holds the CRSNAP_JOB that this command would
 * give PROGRAM (same program, same arguments). The newest such image is restored, with the
 * restorer of `crsnap restore`; one that cannot be restored is reported and the next older one
 * tried. Only a DIR without any image of this job starts PROGRAM afresh, unless asked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "commands.h"
#include "resume.h"
#include "image/reader.h"
#include "restore/restore.h"
#include "trust.h"


int crs_job_id(const char *prog, char *const args[], char *out, size_t size)
{
    char real[PATH_MAX];
    XXH64_state_t *st;
    int n;

    if (!realpath(prog, real))
        return -errno;
    if (!(st = XXH64_createState()))
        return -ENOMEM;
    XXH64_reset(st, 0);
    XXH64_update(st, real, strlen(real) + 1);
    for (int i = 1; args[0] && args[i]; i++)
        XXH64_update(st, args[i], strlen(args[i]) + 1);
    n = snprintf(out, size, "%016llx", (unsigned long long)XXH64_digest(st));
    XXH64_freeState(st);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static const char *image_env(const struct crs_image *img, const char *name)
{
    size_t n = strlen(name);

    for (uint32_t i = 0; i < img->envc; i++)
        if (!strncmp(img->envp[i], name, n) && img->envp[i][n] == '=')
            return img->envp[i] + n + 1;
    return NULL;
}

/* Damaged images newer than the one chosen, reported once each. */
struct skips {
    uint64_t reported_below;        /* numbers at or above this were reported already */
    uint64_t seq[64];
    char why[64][160];
    char path[64][PATH_MAX > 512 ? 512 : PATH_MAX];
    int n;
    int damaged;                    /* reported in all */
};

static void note_skip(const char *path, uint64_t seq, const char *why, void *arg)
{
    struct skips *s = arg;

    if (s->n >= 64 || seq >= s->reported_below)
        return;
    s->seq[s->n] = seq;
    snprintf(s->why[s->n], sizeof s->why[0], "%s", why);
    snprintf(s->path[s->n], sizeof s->path[0], "%s", path);
    s->n++;
}

/* Reports the damaged images with a number above `above` (the image about to be tried). */
static void report_skips(struct skips *s, uint64_t above)
{
    for (int i = 0; i < s->n; i++) {
        if (s->seq[i] != UINT64_MAX && s->seq[i] <= above)
            continue;
        fprintf(stderr, "crsnap run: %s cannot be read (%s): trying an older image\n",
                s->path[i], s->why[i]);
        s->damaged++;
    }
    s->n = 0;
    s->reported_below = above + 1;
}

/* The resumed program keeps the settings it was started with (they live in its memory): say
 * so when this command line asks for others. */
static void compare_settings(const struct crs_image *img)
{
    static const char *const names[] = {
        "CRSNAP_DIR", "CRSNAP_INTERVAL", "CRSNAP_KEEP", "CRSNAP_SIGNAL", "CRSNAP_EXIT_ON",
        "CRSNAP_LEVEL",
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *was = image_env(img, names[i]), *now = getenv(names[i]);
        if ((was ? was : "")[0] == 0 && (now ? now : "")[0] == 0)
            continue;
        if (was && now && !strcmp(was, now))
            continue;
        fprintf(stderr, "crsnap run: note: the resumed program keeps its own settings:"
                " %s=%s (this command asks for %s)\n", names[i], was ? was : "(unset)",
                now ? now : "(unset)");
    }
}

/* The restorer's layout collided with the image: run this command again for a fresh one. */
static int reexec(char **cmd_argv, const char *err)
{
    const char *s = getenv(CRS_REEXEC_ENV);
    int tries = s ? atoi(s) : 0;
    char buf[16];
    sigset_t none;

    if (tries >= CRS_REEXEC_MAX) {
        fprintf(stderr, "crsnap run: %s (still after %d fresh layouts)\n", err, tries);
        return -1;
    }
    snprintf(buf, sizeof buf, "%d", tries + 1);
    setenv(CRS_REEXEC_ENV, buf, 1);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    fflush(NULL);
    execv("/proc/self/exe", cmd_argv);
    fprintf(stderr, "crsnap run: %s; re-executing failed: %s\n", err, strerror(errno));
    return -1;
}

int crs_run_resume(char **cmd_argv, const char *dir, const char *job, int fresh_ok)
{
    struct skips *sk = calloc(1, sizeof *sk);
    uint64_t below = UINT64_MAX, seq;
    char path[PATH_MAX], err[512];
    int failed = 0, other = 0, r;

    if (!sk) {
        fprintf(stderr, "crsnap run: out of memory\n");
        return CRS_EXIT_FAIL;
    }
    sk->reported_below = UINT64_MAX;
    /* An image is code: resume only from a directory no one else can write, and only images
     * that are the user's own (the rule of crsnap restore, tools/trust.h). A directory that is
     * not there yet has no image to resume. */
    struct stat dst;
    if (lstat(dir, &dst) == 0) {
        if (S_ISLNK(dst.st_mode)) {
            fprintf(stderr, "crsnap run: %s is a symbolic link: name the directory itself\n", dir);
            free(sk);
            return CRS_EXIT_UNTRUSTED;
        }
        if ((r = crs_trust_dir(dir, err, sizeof err)) == -EPERM) {
            fprintf(stderr, "crsnap run: not resuming from %s: %s\n", dir, err);
            free(sk);
            return CRS_EXIT_UNTRUSTED;
        }
    }
    for (;;) {
        struct crs_image *img = NULL;
        struct crs_restore_opts o = { 0 };
        const char *id;

        crs_restore_opts_from_env(&o);
        r = crs_image_find_below(dir, below, note_skip, sk, path, sizeof path, &seq);
        if (r == -ENOENT) {
            report_skips(sk, 0);
            break;
        }
        if (r < 0) {
            fprintf(stderr, "crsnap run: cannot read image directory %s: %s\n", dir,
                    strerror(-r));
            free(sk);
            return CRS_EXIT_FAIL;
        }
        report_skips(sk, seq);
        below = seq;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && crs_trust_file(&st, geteuid(), err, sizeof err)) {
            fprintf(stderr, "crsnap run: %s is not trusted (%s): ignored\n", path, err);
            close(fd);
            other++;
            continue;
        }
        if (fd < 0) {
            fprintf(stderr, "crsnap run: %s cannot be opened (%s): trying an older image\n",
                    path, strerror(errno));
            failed++;
            continue;
        }
        if ((r = crs_image_open_fd(fd, path, &img, err, sizeof err))) {
            fprintf(stderr, "crsnap run: %s cannot be read (%s): trying an older image\n", path,
                    err);
            failed++;
            continue;
        }
        id = image_env(img, CRS_JOB_ENV);
        if (!id || strcmp(id, job)) {
            /* Another program's, or the same with other arguments: not ours to resume. */
            fprintf(stderr, "crsnap run: %s is an image of another program or arguments (%s):"
                    " ignored\n", path, img->argc ? img->argv[0] : "?");
            crs_image_close(img);
            other++;
            continue;
        }
        fprintf(stderr, "crsnap run: resuming from %s\n", path);
        compare_settings(img);
        o.own_std = 1;
        /* A scheduler knows the job by the process it started: this one, which becomes the
         * restored process, rather than a child of it in a namespace. */
        o.pid_mode = CRS_PID_NEW;
        fflush(NULL);
        r = crs_restore_run(img, &o, err, sizeof err);
        /* Here only when nothing was changed yet: the next older image may do. */
        crs_image_close(img);
        if (r == -EADDRINUSE && reexec(cmd_argv, err) == 0)
            break;                      /* not reached: exec'd */
        fprintf(stderr, "crsnap run: cannot resume from %s: %s; trying an older image\n",
                path, err);
        failed++;
    }
    failed += sk->damaged;
    free(sk);
    unsetenv(CRS_REEXEC_ENV);
    if (failed && !fresh_ok) {
        fprintf(stderr, "crsnap run: %d image%s in %s could not be restored, so the program is"
                " not started afresh (--fresh-if-unrestorable would start it)\n", failed,
                failed == 1 ? "" : "s", dir);
        return CRS_EXIT_FAIL;
    }
    if (failed)
        fprintf(stderr, "crsnap run: no image could be restored: starting the program afresh,"
                " as --fresh-if-unrestorable asks\n");
    else
        fprintf(stderr, "crsnap run: no image of this job in %s%s: starting the program\n", dir,
                other ? " (only other programs' images)" : "");
    return -1;
}
