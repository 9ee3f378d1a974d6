/* tools/cmd_restore.c - `crsnap restore IMAGE|DIR`: validates an image and this host, then turns
 * this very process into the one the image holds (restore/restore.c). When its own mappings
 * are in the way, it executes itself again for a fresh layout, a few times at most.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "resume.h"
#include "common/escape.h"
#include "trust.h"
#include "image/reader.h"
#include "restore/restore.h"


static void usage(FILE *out)
{
    fprintf(out,
            "usage: crsnap restore [OPTIONS] IMAGE|DIR\n\n"
            "Bring back the process an image holds, every thread where it stopped. This process\n"
            "becomes it: the restored process has the pid and thread ids it had, its\n"
            "terminals, and the standard streams that were terminals or pipes, are this\n"
            "command's, and the exit status is the restored program's. A DIR restores its\n"
            "newest complete\n"
            "image. Regular files it had open are reopened, at their offsets; listening sockets\n"
            "are bound and listening again.\n\n"
            "options:\n"
            "  -f, --force, --keep-files\n"
            "                 a mapped file that changed or vanished since the checkpoint, or\n"
            "                 a socket address another process holds, is a warning, not an\n"
            "                 error (missing descriptors and those sockets stay closed)\n"
            "  -n, --dry-run  make every check a restore makes before it changes anything\n"
            "                 (image, host, limits, memory, files), restore nothing\n"
            "  -p, --same-pid the pid the process had, or fail (the default falls back to a\n"
            "                 new pid, with a warning)\n"
            "  --new-pid      keep this command's pid: the process gets a new pid and new\n"
            "                 thread ids\n"
            "  --lazy         resume the process at once; its private memory comes in from\n"
            "                 the image on first touch and in the background (userfaultfd),\n"
            "                 served by a helper process that exits when every page is in;\n"
            "                 should the helper die first, the process gets SIGBUS. Where\n"
            "                 userfaultfd is not allowed, one line says so and the restore\n"
            "                 is eager\n"
            "  -q, --quiet    no progress line\n"
            "  --trust-image  restore an image although it is not yours, or sits in a\n"
            "                 directory others can write. DANGEROUS: the image is code, and\n"
            "                 it runs with your rights; use it only for an image whose origin\n"
            "                 you know\n"
            "  -v, --verbose  list every descriptor and child that is not restored (without\n"
            "                 it: the first five, and how many more), and every limit\n"
            "  -h, --help     this text\n\n"
            "An image is trusted only when it is yours (root: root's) and not writable by\n"
            "others, and every directory above it is root's or yours and not writable by\n"
            "others (unless sticky, as /tmp). A DIR restores the newest such image, by the\n"
            "number in its name; a symlink to a directory is not followed, a symlink to an\n"
            "image only when it is yours and names a file beside it (as DIR/latest does).\n\n"
            "The saved pid is taken here when this user may (CAP_CHECKPOINT_RESTORE, as root)\n"
            "and it is free; otherwise in a user and pid namespace of the restored process's\n"
            "own, where this user's uid and gid are themselves, pid 1 is crsnap, and /proc\n"
            "lists that namespace. crsnap restore then waits outside, passes signals on to the\n"
            "process and exits with its status; `crsnap checkpoint` takes either pid.\n\n"
            "Exit status: the restored program's own; before it runs, 1 the image or host\n"
            "does not allow a restore, 2 wrong usage, 4 the image is not trusted.\n");
}

/* The restorer's layout collided with the image: run again, ASLR gives another one. argv is
 * the subcommand's vector, one past the program's own (crsnap.c passes argv + 1). */
static int reexec(char **argv, char *err)
{
    const char *s = getenv(CRS_REEXEC_ENV);
    int tries = s ? atoi(s) : 0;
    char buf[16];
    sigset_t none;

    if (tries >= CRS_REEXEC_MAX) {
        fprintf(stderr, "crsnap restore: %s (still after %d fresh layouts)\n", err, tries);
        return CRS_EXIT_FAIL;
    }
    snprintf(buf, sizeof buf, "%d", tries + 1);
    setenv(CRS_REEXEC_ENV, buf, 1);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv("/proc/self/exe", argv - 1);
    fprintf(stderr, "crsnap restore: %s; re-executing failed: %s\n", err, strerror(errno));
    return CRS_EXIT_FAIL;
}

/* A member's restorer opens the job's image that the first restorer checked and trusted, as
 * $CRSNAP_RESTORE_ROOT identifies it (the directories above it may show as nobody's in the
 * job's namespace). 0 with *img open; 1 when this is not that image (the usual checks then);
 * -errno with err. */
static int open_member_root(const char *path, struct crs_image **img, char *err, size_t errlen)
{
    const char *id = getenv(CRS_RESTORE_ROOT_ENV);
    unsigned long long dev, ino;
    struct stat sb;
    int fd;

    if (!id || sscanf(id, "%llu:%llu", &dev, &ino) != 2)
        return 1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) < 0 || (unsigned long long)sb.st_dev != dev ||
        (unsigned long long)sb.st_ino != ino) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    return crs_image_open_fd(fd, path, img, err, errlen);
}

int crs_cmd_restore(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, 0, 'f'},  {"keep-files", no_argument, 0, 'f'},
        {"dry-run", no_argument, 0, 'n'}, {"quiet", no_argument, 0, 'q'},
        {"same-pid", no_argument, 0, 'p'}, {"new-pid", no_argument, 0, 'N'},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'},
        {"trust-image", no_argument, 0, 'T'}, {"lazy", no_argument, 0, 'L'},
        {"member", required_argument, 0, 'M'},
        {0, 0, 0, 0},
    };
    struct crs_restore_opts o = { 0 };
    struct crs_image *img = NULL;
    char path[PATH_MAX], err[PATH_MAX + 1024];
    unsigned trust = 0;
    int quiet = 0, c, rc;
    long member = 0;

    crs_restore_opts_from_env(&o);
    while ((c = getopt_long(argc, argv, "+fnpqvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': o.force = 1; break;
        case 'n': o.dry_run = 1; break;
        case 'p': o.pid_mode = CRS_PID_SAME; break;
        case 'N': o.pid_mode = CRS_PID_NEW; break;
        case 'q': quiet = 1; break;
        case 'v': o.verbose = 1; break;
        case 'T': trust |= CRS_TRUST_ANY; break;
        case 'M': member = strtol(optarg, NULL, 10); break;
        case 'L': o.lazy = 1; break;
        case 'h': usage(stdout); return CRS_EXIT_OK;
        default:
            fprintf(stderr, "crsnap restore: try 'crsnap restore --help'\n");
            return CRS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "crsnap restore: %s (try 'crsnap restore --help')\n",
                optind == argc ? "which IMAGE or DIR?" : "one IMAGE or DIR only");
        return CRS_EXIT_USAGE;
    }
    o.progress = !quiet && isatty(2);
    /* A closed standard stream would hand its number to the image file, and the image file to
     * the restored program: give it /dev/null instead. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            return CRS_EXIT_FAIL;
    if (member > 0 && (rc = open_member_root(argv[optind], &img, err, sizeof err)) != 1) {
        if (rc < 0) {
            fprintf(stderr, "crsnap restore: %s\n", err);
            return CRS_EXIT_FAIL;
        }
    } else if ((rc = crs_trust_open(argv[optind], trust, quiet ? NULL : stderr, &img, err,
                                    sizeof err)) < 0) {
        if (rc != -EPERM && rc != -EXDEV) {
            fprintf(stderr, "crsnap restore: %s\n", err);
            return CRS_EXIT_FAIL;
        }
        fprintf(stderr, "crsnap restore: refusing ");
        crs_print_escaped_str(stderr, argv[optind]);
        fprintf(stderr, ": %s\n", err);
        if (rc == -EPERM)
            fprintf(stderr, "crsnap restore: an image runs as code with your rights: restore "
                            "your own images, kept where no one else can write; if you know "
                            "where this one comes from, --trust-image restores it anyway\n");
        return CRS_EXIT_UNTRUSTED;
    }
    snprintf(path, sizeof path, "%s", img->path);
    /* Test hook: behave as if the layout collided this many times. */
    const char *tries = getenv(CRS_REEXEC_ENV);
    if (o.hooks.force_reexec && (tries ? atoi(tries) : 0) < o.hooks.force_reexec) {
        crs_image_close(img);
        return reexec(argv, "forced re-execution");
    }
    if (member > 0) {
        /* One process of a job, made under its pid by the restore of its parent (the
         * restore of the job's root started it all): its own image, from the job's. */
        struct crs_image *part = NULL;
        if (!img->tree || !crs_image_tree_member(img, (uint32_t)member) ||
            crs_restore_tree_open_part(img, (uint32_t)member, &part, err, sizeof err) < 0) {
            if (!img->tree || !crs_image_tree_member(img, (uint32_t)member))
                snprintf(err, sizeof err, "process %ld is not in this job", member);
            fprintf(stderr, "crsnap restore: %s\n", err);
            crs_image_close(img);
            return CRS_EXIT_FAIL;
        }
        o.tree_root = img;
        rc = crs_restore_run(part, &o, err, sizeof err);
        crs_image_close(part);
        crs_image_close(img);
        if (rc == -EADDRINUSE)
            return reexec(argv, err);
        fprintf(stderr, "crsnap restore: process %ld: ", member);
        crs_print_escaped_str(stderr, err);
        fputc('\n', stderr);
        return CRS_EXIT_FAIL;
    }
    rc = crs_restore_run(img, &o, err, sizeof err);
    if (rc == 0 && o.dry_run) {
        crs_restore_say_unsaved(img, 2, o.verbose, NULL, 0, NULL);
        crs_print_escaped_str(stdout, path);
        printf(": can be restored\n");
        crs_image_close(img);
        return CRS_EXIT_OK;
    }
    crs_image_close(img);
    if (rc == -EADDRINUSE)
        return reexec(argv, err);
    /* the reason may quote the image's strings (paths of its files) */
    fprintf(stderr, "crsnap restore: ");
    crs_print_escaped_str(stderr, err);
    fputc('\n', stderr);
    return CRS_EXIT_FAIL;
}
