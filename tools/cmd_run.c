/* tools/cmd_run.c - `crsnap run`: start an unmodified program with libcrsnap preloaded and
 * configured through the CRSNAP_* environment. It checks everything it can first (options, the
 * program, whether it can be preloaded at all), then execs the program in place, so the program
 * keeps crsnap's pid (`crsnap checkpoint $!` works), and its exit status, signals and job
 * control reach the caller directly, with nothing in between to forward them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "commands.h"
#include "runtime/held_signal.h"
#include "io/settings.h"
#include "resume.h"
#include "runtime/exit_on.h"

#define RUN_EXIT_CANNOT_EXEC 126  /* found but not executable, as a shell reports it */
#define RUN_EXIT_NOT_FOUND 127

static const char run_usage[] =
    "usage: crsnap run [-r] [--exit-on SIG[,SIG...]] [-d DIR] [-i SECONDS] [-k KEEP] [-s SIGNAL]\n"
    "                  [--full-every N] [--] PROGRAM [ARG...]\n"
    "\n"
    "Start PROGRAM with checkpointing enabled: libcrsnap is preloaded into it and configured\n"
    "through the environment. PROGRAM replaces crsnap run (same pid), so its exit status and\n"
    "signals pass through unchanged.\n"
    "\n"
    "options:\n"
    "  -d, --dir DIR          image directory (default $CRSNAP_DIR, else ./crsnap-images);\n"
    "                         created if missing\n"
    "  -i, --interval SECS    take a checkpoint every SECS seconds (0.001 to 1e8; 0 = never)\n"
    "  -k, --keep KEEP        keep the KEEP newest images in DIR (default 3; 0 = all), and\n"
    "                         the older ones they are incremental on\n"
    "  --full-every N         every Nth image is full, the others hold only the pages\n"
    "                         written since the one before (default 8; 1 = always full)\n"
    "  -s, --signal SIGNAL    signal that triggers a checkpoint: a name (USR1, SIGUSR2,\n"
    "                         RTMIN+2) or a number, or 'none' (default USR1)\n"
    "  -r, --resume           if DIR holds an image of this job (same PROGRAM, same ARGs),\n"
    "                         restore the newest one instead of starting PROGRAM; one that\n"
    "                         cannot be restored is reported and the next older one tried\n"
    "      --fresh-if-unrestorable\n"
    "                         with -r: start PROGRAM afresh when no image of it restores\n"
    "                         (without it, that is an error, status 1)\n"
    "      --exit-on SIG[,SIG...]\n"
    "                         when one of these signals arrives: take a checkpoint, wait until\n"
    "                         it is on disk, end the program with status 85 (86 and no new\n"
    "                         image if the checkpoint failed); e.g. USR1,TERM under Slurm\n"
    "  -h, --help             show this help\n"
    "\n"
    "Then 'crsnap checkpoint PID' (or 'kill -USR1 PID') takes a checkpoint, and\n"
    "'crsnap restore DIR' brings the newest one back.\n"
    "\n"
    "The library is $CRSNAP_LIB if set, else the one built or installed with this crsnap.\n"
    "A statically linked PROGRAM cannot be preloaded: link it with -lcrsnap and call crs_init().\n"
    "Set-user-ID programs are refused too (the loader would ignore the library).\n"
    "\n"
    "Under a batch scheduler, the same line starts the job and resumes it after a requeue:\n"
    "  crsnap run -r --exit-on USR1,TERM -d DIR -i 600 PROGRAM ARG...\n"
    "\n"
    "exit status: 85 after an --exit-on signal with its image written; 86 when that image\n"
    "failed; otherwise PROGRAM's own; 128+N if it was killed by signal N; 1 if the library cannot\n"
    "be found or DIR cannot be made; 2 for wrong usage or a program that cannot be preloaded;\n"
    "126 if PROGRAM cannot be executed; 127 if it is not found.\n";

/* The signal s names (0 for none), or -1 when it is not a usable trigger: the library's own
 * parser, so that -s and $CRSNAP_SIGNAL take and refuse the same values. */
static int parse_signal(const char *s)
{
    int sig;

    return crs_parse_signal(s, &sig) < 0 ? -1 : sig;
}

/* "USR1,TERM" into "10,15" for CRSNAP_EXIT_ON. Prints why and returns -EINVAL when a name is
 * not a signal that may end the program with a checkpoint. */
static int parse_exit_on(const char *list, char *out, size_t size)
{
    char buf[256], *save = NULL, *tok;
    size_t len = 0;

    if (!*list || strlen(list) >= sizeof buf) {
        fprintf(stderr, "crsnap run: --exit-on wants signals such as USR1,TERM\n");
        return -EINVAL;
    }
    snprintf(buf, sizeof buf, "%s", list);
    out[0] = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int sig = parse_signal(tok);
        if (sig <= 0) {
            fprintf(stderr, "crsnap run: --exit-on: '%s' is not a usable signal (try USR1, TERM,"
                            " USR2, INT, a number)\n", tok);
            return -EINVAL;
        }
        int n = snprintf(out + len, size - len, "%s%d", len ? "," : "", sig);
        if (n < 0 || (size_t)n >= size - len)
            return -EINVAL;
        len += (size_t)n;
    }
    if (!len) {
        fprintf(stderr, "crsnap run: --exit-on wants signals such as USR1,TERM\n");
        return -EINVAL;
    }
    return 0;
}

/* Is signal sig in the "10,15" list? */
static int exit_on_has(const char *list, int sig)
{
    for (const char *p = list; *p; p++)
        if ((p == list || p[-1] == ',') && atoi(p) == sig)
            return 1;
    return 0;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* out = realpath of path when it is a regular file. Returns 1 if so. */
static int take_if_file(const char *path, char *out)
{
    return is_file(path) && realpath(path, out) != NULL;
}

/* Which libcrsnap.so to preload: $CRSNAP_LIB; the build tree's copy, only for the crsnap built
 * there (an installed crsnap never picks up a stale development build); the configured install
 * directory; or a lib directory next to bin/ for an install that was moved. out must hold
 * PATH_MAX bytes. */
static int find_library(char *out)
{
    static const char *const relocated[] = {
        "/../lib/libcrsnap.so.0", "/../lib64/libcrsnap.so.0",
        "/../lib/x86_64-linux-gnu/libcrsnap.so.0",
    };
    const char *env = getenv("CRSNAP_LIB");
    char self[PATH_MAX], path[PATH_MAX + 64], *slash;
    ssize_t n;

    if (env && *env) {
        if (!take_if_file(env, out)) {
            fprintf(stderr, "crsnap run: CRSNAP_LIB=%s: no such library file\n", env);
            return -ENOENT;
        }
        return 0;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
#ifdef CRSNAP_BUILD_LIBDIR
    if (!strcmp(self, CRSNAP_BUILD_LIBDIR "/tools/crsnap") &&
        take_if_file(CRSNAP_BUILD_LIBDIR "/libcrsnap.so", out))
        return 0;
#endif
#ifdef CRSNAP_LIBDIR
    if (take_if_file(CRSNAP_LIBDIR "/libcrsnap.so.0", out) ||
        take_if_file(CRSNAP_LIBDIR "/libcrsnap.so", out))
        return 0;
#endif
    if ((slash = strrchr(self, '/'))) {
        *slash = 0;
        for (size_t i = 0; i < sizeof relocated / sizeof relocated[0]; i++) {
            snprintf(path, sizeof path, "%s%s", self, relocated[i]);
            if (take_if_file(path, out))
                return 0;
        }
    }
    fprintf(stderr, "crsnap run: cannot find libcrsnap.so (looked next to this crsnap and in"
                    " %s); set CRSNAP_LIB to its path\n",
#ifdef CRSNAP_LIBDIR
            CRSNAP_LIBDIR
#else
            "the install directory"
#endif
    );
    return -ENOENT;
}

/* Resolves PROGRAM as execvp would: names with a slash as they are, others through $PATH.
 * Returns 0, or the exit status to give (126, 127) after printing why. */
static int find_program(const char *prog, char *out, size_t size)
{
    const char *path = getenv("PATH");
    int saw_noexec = 0;

    if (!*prog) {
        fprintf(stderr, "crsnap run: empty program name\n");
        return RUN_EXIT_NOT_FOUND;
    }
    if (strchr(prog, '/')) {
        struct stat st;
        if (stat(prog, &st) < 0) {
            fprintf(stderr, "crsnap run: %s: %s\n", prog, strerror(errno));
            return errno == ENOENT || errno == ENOTDIR ? RUN_EXIT_NOT_FOUND
                                                       : RUN_EXIT_CANNOT_EXEC;
        }
        if (S_ISDIR(st.st_mode) || access(prog, X_OK) < 0) {
            fprintf(stderr, "crsnap run: %s: %s\n", prog,
                    S_ISDIR(st.st_mode) ? "is a directory" : "permission denied (not executable)");
            return RUN_EXIT_CANNOT_EXEC;
        }
        snprintf(out, size, "%s", prog);
        return 0;
    }
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int n;

        /* An empty entry means the current directory, as in a shell. */
        if (len == 0)
            n = snprintf(out, size, "%s", prog);
        else
            n = snprintf(out, size, "%.*s/%s", (int)len, path, prog);
        if (n > 0 && (size_t)n < size && is_file(out)) {
            if (access(out, X_OK) == 0)
                return 0;
            saw_noexec = 1;
        }
        path += len + (colon ? 1 : 0);
        if (!colon)
            break;
    }
    if (saw_noexec) {
        fprintf(stderr, "crsnap run: %s: permission denied (not executable)\n", prog);
        return RUN_EXIT_CANNOT_EXEC;
    }
    fprintf(stderr, "crsnap run: %s: command not found (not in PATH)\n", prog);
    return RUN_EXIT_NOT_FOUND;
}

enum elf_kind { ELF_DYNAMIC, ELF_STATIC, ELF_FOREIGN, ELF_NOT_ELF, ELF_SCRIPT };

/* Reads the ELF header and program headers of path: dynamic executables have PT_INTERP, static
 * ones (static-pie included) do not. For "#!" scripts, interp receives the interpreter. */
static enum elf_kind classify(const char *path, char *interp, size_t interp_size)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    enum elf_kind kind = ELF_NOT_ELF;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return ELF_NOT_ELF;  /* exec will say why */
    n = pread(fd, &eh, sizeof eh, 0);
    if (n >= 2 && ((char *)&eh)[0] == '#' && ((char *)&eh)[1] == '!') {
        char line[256];
        n = pread(fd, line, sizeof line - 1, 2);
        if (n > 0) {
            line[n] = 0;
            char *p = line + strspn(line, " \t");
            size_t len = strcspn(p, " \t\n");
            snprintf(interp, interp_size, "%.*s", (int)len, p);
            kind = len ? ELF_SCRIPT : ELF_NOT_ELF;
        }
        goto out;
    }
    if (n != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG))
        goto out;
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
        kind = ELF_FOREIGN;
        goto out;
    }
    if (eh.e_phentsize != sizeof ph || eh.e_phnum == 0 || eh.e_phnum > 4096) {
        kind = ELF_FOREIGN;
        goto out;
    }
    kind = ELF_STATIC;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
            (ssize_t)sizeof ph) {
            kind = ELF_FOREIGN;
            break;
        }
        if (ph.p_type == PT_INTERP) {
            kind = ELF_DYNAMIC;
            break;
        }
    }
out:
    close(fd);
    return kind;
}

/* A set-user-ID (or -group-ID) program that changes our identity runs in the loader's secure
 * mode, which drops LD_PRELOAD paths: it would run without crsnap, silently. */
static int is_secure_exec(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return 0;
    return ((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
           ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != getegid());
}

/* Refuses programs the library cannot be preloaded into, with the reason and the fix. */
static int check_preloadable(const char *prog, const char *path)
{
    char interp[256] = "";
    enum elf_kind kind = classify(path, interp, sizeof interp);

    if (kind == ELF_SCRIPT && interp[0] == '/' && is_file(interp)) {
        char sub[256];
        enum elf_kind k = classify(interp, sub, sizeof sub);
        if (k == ELF_STATIC || k == ELF_FOREIGN) {
            prog = interp;
            kind = k;
        }
    }
    if (kind == ELF_STATIC) {
        fprintf(stderr, "crsnap run: %s is statically linked, so the library cannot be preloaded;"
                        " link it with -lcrsnap and call crs_init() instead\n", prog);
        return CRS_EXIT_USAGE;
    }
    if (kind == ELF_DYNAMIC && is_secure_exec(path)) {
        fprintf(stderr, "crsnap run: %s is set-user-ID or set-group-ID, so the loader ignores"
                        " LD_PRELOAD for it; run a copy without that bit\n", prog);
        return CRS_EXIT_USAGE;
    }
    if (kind == ELF_FOREIGN) {
        fprintf(stderr, "crsnap run: %s is not an x86-64 program; crsnap only runs 64-bit"
                        " x86-64 programs\n", prog);
        return CRS_EXIT_USAGE;
    }
    return 0;
}

/* Puts lib first in LD_PRELOAD, keeping what was there (once). */
static int set_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    char *val;
    int r;

    if (old && *old) {
        const char *p = strstr(old, lib);
        size_t len = strlen(lib);
        /* Already listed as a whole entry: leave it where it is. */
        while (p) {
            int starts = p == old || p[-1] == ':' || p[-1] == ' ';
            int ends = p[len] == 0 || p[len] == ':' || p[len] == ' ';
            if (starts && ends)
                return 0;
            p = strstr(p + 1, lib);
        }
        r = asprintf(&val, "%s:%s", lib, old);
    } else {
        r = asprintf(&val, "%s", lib);
    }
    if (r < 0)
        return -ENOMEM;
    r = setenv("LD_PRELOAD", val, 1) ? -errno : 0;
    free(val);
    return r;
}

/* Makes DIR absolute (the program may chdir) and creates it, with a clear error if it can't. */
static int prepare_dir(const char *dir, char *out, size_t size)
{
    char cwd[PATH_MAX];
    struct stat st;

    if (!*dir) {
        fprintf(stderr, "crsnap run: -d needs a directory name\n");
        return CRS_EXIT_USAGE;
    }
    if (dir[0] == '/') {
        snprintf(out, size, "%s", dir);
    } else {
        if (!getcwd(cwd, sizeof cwd)) {
            fprintf(stderr, "crsnap run: cannot tell the current directory: %s\n", strerror(errno));
            return CRS_EXIT_FAIL;
        }
        if ((size_t)snprintf(out, size, "%s/%s", cwd, dir) >= size) {
            fprintf(stderr, "crsnap run: %s: path too long\n", dir);
            return CRS_EXIT_USAGE;
        }
    }
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {   /* private: see io/imgdir.h */
        fprintf(stderr, "crsnap run: cannot create image directory %s: %s\n", out,
                strerror(errno));
        return CRS_EXIT_FAIL;
    }
    if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "crsnap run: %s is not a directory\n", out);
        return CRS_EXIT_USAGE;
    }
    if (access(out, W_OK | X_OK) < 0) {
        fprintf(stderr, "crsnap run: image directory %s is not writable: %s\n", out,
                strerror(errno));
        return CRS_EXIT_FAIL;
    }
    return 0;
}

/* Blocks the trigger signal sig for the program (0: none), on top of the mask crsnap run was
 * started with (orig), and tells the library so through the environment: the mask survives the
 * exec, and the library unblocks sig once its handler is installed, so a trigger that lands
 * meanwhile stays pending and becomes a checkpoint. A signal the caller had blocked already
 * stays the caller's business. Returns 0 or -errno. */
static int hold_trigger(int sig, const sigset_t *orig)
{
    sigset_t mask = *orig;
    char num[16];

    unsetenv(CRS_HELD_SIGNAL_ENV);
    if (sig > 0 && !sigismember(orig, sig)) {
        snprintf(num, sizeof num, "%d", sig);
        if (setenv(CRS_HELD_SIGNAL_ENV, num, 1) < 0)
            return -errno;
        sigaddset(&mask, sig);
    }
    /* Signals blocked since the start of run and not the trigger are unblocked here: one that
     * arrived meanwhile acts now, as it would have on the program. */
    return sigprocmask(SIG_SETMASK, &mask, NULL) < 0 ? -errno : 0;
}

int crs_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"interval", required_argument, NULL, 'i'},
        {"keep", required_argument, NULL, 'k'},
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"resume", no_argument, NULL, 'r'},
        {"exit-on", required_argument, NULL, 'E'},
        {"fresh-if-unrestorable", no_argument, NULL, 'F'},
        {"full-every", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    double interval = -1;
    int keep = -1, full_every = -1, sig = SIGUSR1, sig_given = 0, resume = 0, fresh_ok = 0, c, r;
    char lib[PATH_MAX], prog[PATH_MAX], dirbuf[PATH_MAX], num[64], job[32];
    char exit_on[256] = "";
    sigset_t orig, early;

    /* `crsnap run ... & kill -USR1 $!`: the trigger may come before the options are read. Hold
     * the default one and the one the environment names from the start; hold_trigger() keeps
     * only the one that is the trigger in the end. */
    sigemptyset(&early);
    sigaddset(&early, SIGUSR1);
    if (getenv("CRSNAP_SIGNAL") && (c = parse_signal(getenv("CRSNAP_SIGNAL"))) > 0)
        sigaddset(&early, c);
    sigprocmask(SIG_BLOCK, &early, &orig);

    opterr = 0;
    optind = 1;
    /* '+': stop at PROGRAM, so its own options are left alone. */
    while ((c = getopt_long(argc, argv, "+:d:i:k:s:hr", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'i':
            if (crs_parse_interval(optarg, &interval) < 0) {
                fprintf(stderr, "crsnap run: -i wants seconds, 0.001 to 1e8 (0 = none),"
                                " not '%s'\n", optarg);
                return CRS_EXIT_USAGE;
            }
            break;
        case 'f':
            if (crs_parse_full_every(optarg, &full_every) < 0) {
                fprintf(stderr, "crsnap run: --full-every wants a whole number, 1 to %d (1 = "
                                "always full), not '%s'\n", CRS_MAX_FULL_EVERY, optarg);
                return CRS_EXIT_USAGE;
            }
            break;
        case 'k':
            if (crs_parse_keep(optarg, &keep) < 0) {
                fprintf(stderr, "crsnap run: -k wants a whole number of images (0 = keep all),"
                                " not '%s'\n", optarg);
                return CRS_EXIT_USAGE;
            }
            break;
        case 's':
            sig = parse_signal(optarg);
            sig_given = 1;
            if (sig < 0) {
                fprintf(stderr, "crsnap run: -s: '%s' is not a usable signal (try USR1, USR2,"
                                " RTMIN+N, a number, or none)\n", optarg);
                return CRS_EXIT_USAGE;
            }
            break;
        case 'r':
            resume = 1;
            break;
        case 'F':
            fresh_ok = 1;
            break;
        case 'E':
            if (parse_exit_on(optarg, exit_on, sizeof exit_on) < 0)
                return CRS_EXIT_USAGE;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return CRS_EXIT_OK;
        case ':':
            fprintf(stderr, "crsnap run: option '%s' needs a value (try 'crsnap run --help')\n",
                    argv[optind - 1]);
            return CRS_EXIT_USAGE;
        default:
            fprintf(stderr, "crsnap run: unknown option '%s' (try 'crsnap run --help')\n",
                    argv[optind - 1]);
            return CRS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "crsnap run: no program given (try 'crsnap run --help')\n");
        return CRS_EXIT_USAGE;
    }
    if (fresh_ok && !resume) {
        fprintf(stderr, "crsnap run: --fresh-if-unrestorable goes with --resume\n");
        return CRS_EXIT_USAGE;
    }
    /* The default trigger gives way to an --exit-on signal: USR1 then ends the program (a
     * checkpoint is still one `crsnap checkpoint PID` away). */
    if (exit_on[0] && !sig_given) {
        const char *env = getenv("CRSNAP_SIGNAL");
        if (env && *env)
            sig = parse_signal(env);    /* the trigger the library will use */
        else if (exit_on_has(exit_on, sig)) {
            sig = 0;
            sig_given = 1;
        }
    }
    if (exit_on[0] && exit_on_has(exit_on, sig)) {
        fprintf(stderr, "crsnap run: signal %d is the checkpoint trigger (-s or $CRSNAP_SIGNAL);"
                        " it cannot also be an --exit-on signal (give -s another one, or -s"
                        " none)\n", sig);
        return CRS_EXIT_USAGE;
    }

    r = find_program(argv[optind], prog, sizeof prog);
    if (r)
        return r;
    r = check_preloadable(argv[optind], prog);
    if (r)
        return r;
    if (find_library(lib) < 0)
        return CRS_EXIT_FAIL;
    if (dir) {
        r = prepare_dir(dir, dirbuf, sizeof dirbuf);
        if (r)
            return r;
        setenv("CRSNAP_DIR", dirbuf, 1);
    }
    if (interval >= 0) {
        snprintf(num, sizeof num, "%g", interval);
        setenv("CRSNAP_INTERVAL", num, 1);
    }
    if (keep >= 0) {
        snprintf(num, sizeof num, "%d", keep);
        setenv("CRSNAP_KEEP", num, 1);
    }
    if (full_every > 0) {
        snprintf(num, sizeof num, "%d", full_every);
        setenv("CRSNAP_FULL_EVERY", num, 1);
    }
    /* -s always wins; without it, an existing CRSNAP_SIGNAL is respected, else USR1. */
    if (sig_given || !getenv("CRSNAP_SIGNAL") || !*getenv("CRSNAP_SIGNAL")) {
        if (sig == 0)
            snprintf(num, sizeof num, "none");
        else
            snprintf(num, sizeof num, "%d", sig);
        setenv("CRSNAP_SIGNAL", num, 1);
    }
    if (exit_on[0])
        setenv(CRS_EXIT_ON_ENV, exit_on, 1);
    /* Every image records the job it belongs to: `run -r` resumes only its own. */
    if ((r = crs_job_id(prog, argv + optind, job, sizeof job)) < 0) {
        fprintf(stderr, "crsnap run: %s: %s\n", prog, strerror(-r));
        return CRS_EXIT_FAIL;
    }
    setenv(CRS_JOB_ENV, job, 1);
    if (resume) {
        const char *d = getenv("CRSNAP_DIR");
        char where[PATH_MAX], abs[2 * PATH_MAX];
        if (!d || !*d)
            d = "crsnap-images";
        if (d[0] != '/' && getcwd(where, sizeof where)) {
            snprintf(abs, sizeof abs, "%s/%s", where, d);
            d = abs;
        }
        /* Returns only when the program is to be started, or with an error status. */
        r = crs_run_resume(argv - 1, d, job, fresh_ok);
        if (r >= 0)
            return r;
    }
    /* The program keeps this pid (exec in place). Its children inherit LD_PRELOAD, but only the
     * process CRSNAP_PID names starts the runtime: a child with its own timer and socket would
     * write images of itself into the same directory. */
    snprintf(num, sizeof num, "%d", (int)getpid());
    setenv("CRSNAP_PID", num, 1);
    if (set_preload(lib) < 0) {
        fprintf(stderr, "crsnap run: cannot set LD_PRELOAD: out of memory\n");
        return CRS_EXIT_FAIL;
    }

    r = hold_trigger(parse_signal(getenv("CRSNAP_SIGNAL")), &orig);
    if (r < 0) {
        fprintf(stderr, "crsnap run: cannot hold the trigger signal: %s\n", strerror(-r));
        return CRS_EXIT_FAIL;
    }
    /* test hook: a pause between holding the trigger and the exec, to send it there */
    const char *pause_ms = getenv("CRSNAP_TEST_RUN_EXEC_DELAY_MS");
    if (pause_ms && atoi(pause_ms) > 0)
        usleep((useconds_t)atoi(pause_ms) * 1000);

    fflush(NULL);
    execv(prog, argv + optind);
    r = errno;
    sigprocmask(SIG_SETMASK, &orig, NULL);
    fprintf(stderr, "crsnap run: cannot execute %s: %s\n", argv[optind], strerror(r));
    return r == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}
