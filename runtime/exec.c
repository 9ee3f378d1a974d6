/* runtime/exec.c - a job's processes keep the library across exec. A program that starts
 * another with a cleaned environment (env -i, Python's subprocess with env={}, a launcher that
 * builds its children's environment) would start it without LD_PRELOAD, and the job could not
 * save it. These definitions stand in front of libc's exec and posix_spawn functions: in a
 * job, the new program's environment gets back the library in LD_PRELOAD and the CRSNAP_*
 * settings the library started with, where the program left them out. What the program set is
 * never changed; outside a job the call goes through as it was.
 *
 * The exec functions may run in a vfork child (Python's subprocess, posix_spawn's own child):
 * they take no lock and allocate nothing; the new environment is built on the stack from what
 * crs_exec_setup() kept in the state.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "common/errmsg.h"

#define PRELOAD "LD_PRELOAD="
#define PRELOAD_LEN (sizeof PRELOAD - 1)
#define SOCKET_DIR_ENV "CRSNAP_SOCKET_DIR"

extern char **environ;

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

/* libc's own, found when the library is loaded (not later: a vfork child must not look). */
__attribute__((constructor)) static void find_libc(void)
{
    struct crs_exec_state *x = &crs_state.exec;

    x->posix_spawn = dlsym(RTLD_NEXT, "posix_spawn");
    x->posix_spawnp = dlsym(RTLD_NEXT, "posix_spawnp");
    x->execvpe = dlsym(RTLD_NEXT, "execvpe");
    x->fexecve = dlsym(RTLD_NEXT, "fexecve");
}

/* Keeps one "NAME=VALUE" for the job's new programs. */
static void keep(struct crs_exec_state *x, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);

    if (x->nkept == CRS_EXEC_KEPT_MAX || x->used + nl + vl + 2 > sizeof x->buf)
        return;
    char *s = x->buf + x->used;
    memcpy(s, name, nl);
    s[nl] = '=';
    memcpy(s + nl + 1, value, vl + 1);
    x->kept[x->nkept++] = s;
    x->used += nl + vl + 2;
}

void crs_exec_setup(void)
{
    struct crs_exec_state *x = &crs_state.exec;
    Dl_info info;
    int have_dir = 0;

    x->nkept = 0;
    x->used = 0;
    x->lib[0] = 0;
    if (crs_state.tree.role == CRS_TREE_NONE)
        return;
    if (dladdr((void *)&crs_exec_setup, &info) && info.dli_fname && info.dli_fname[0] == '/')
        crs_seterr(x->lib, sizeof x->lib, "%s", info.dli_fname);
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[64];
        if (strncmp(*e, "CRSNAP_", 7) || !eq || (size_t)(eq - *e) >= sizeof name)
            continue;
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = 0;
        if (!strcmp(name, "CRSNAP_HELD_SIGNAL"))
            continue;                   /* the hold was the first program's alone */
        have_dir |= !strcmp(name, SOCKET_DIR_ENV);
        keep(x, name, eq + 1);
    }
    /* The job's processes find each other's sockets in one directory: name it, for a child
     * whose environment lost what chose it ($XDG_RUNTIME_DIR). */
    const char *slash = strrchr(crs_state.sock_path, '/');
    if (!have_dir && slash && slash > crs_state.sock_path) {
        char dir[CRS_PATH_MAX];
        crs_seterr(dir, sizeof dir, "%.*s", (int)(slash - crs_state.sock_path),
                   crs_state.sock_path);
        keep(x, SOCKET_DIR_ENV, dir);
    }
}

/* ---- the new environment: vfork-child safe from here on ---- */

static size_t count(char *const envp[])
{
    size_t n = 0;
    while (envp && envp[n])
        n++;
    return n;
}

static const char *find(char *const envp[], const char *entry)
{
    size_t nl = strchr(entry, '=') - entry + 1;
    for (size_t i = 0; envp && envp[i]; i++)
        if (!strncmp(envp[i], entry, nl))
            return envp[i];
    return NULL;
}

/* Whether the list "a:b c" of LD_PRELOAD holds lib. */
static int lists(const char *list, const char *lib)
{
    size_t l = strlen(lib);
    for (const char *p = list; (p = strstr(p, lib)) != NULL; p += l)
        if ((p == list || p[-1] == ':' || p[-1] == ' ') && (!p[l] || p[l] == ':' || p[l] == ' '))
            return 1;
    return 0;
}

/* Room the new LD_PRELOAD needs (0: none). */
static size_t preload_room(char *const envp[])
{
    const struct crs_exec_state *x = &crs_state.exec;
    const char *cur;

    if (crs_state.tree.role == CRS_TREE_NONE || !x->lib[0])
        return 1;
    cur = find(envp, PRELOAD "");
    if (cur && lists(cur + PRELOAD_LEN, x->lib))
        return 1;
    return PRELOAD_LEN + strlen(x->lib) + (cur ? strlen(cur) : 0) + 2;
}

/* envp with the job's needs added into out[] (count(envp) + CRS_EXEC_KEPT_MAX + 2 entries;
 * pre, preload_room(envp) bytes, for LD_PRELOAD), or envp itself outside a job. */
static char *const *job_env(char *const envp[], char **out, char *pre)
{
    const struct crs_exec_state *x = &crs_state.exec;
    size_t n = 0, k = 0;
    const char *cur;

    if (crs_state.tree.role == CRS_TREE_NONE || !x->lib[0])
        return envp;
    for (size_t i = 0; envp && envp[i]; i++)
        out[n++] = envp[i];
    cur = find(envp, PRELOAD "");
    if (!cur || !lists(cur + PRELOAD_LEN, x->lib)) {
        /* ours first: the library must start before any other preload runs the program */
        size_t ll = strlen(x->lib);
        memcpy(pre, PRELOAD, PRELOAD_LEN);
        memcpy(pre + PRELOAD_LEN, x->lib, ll + 1);
        if (cur && cur[PRELOAD_LEN]) {
            pre[PRELOAD_LEN + ll] = ':';
            memcpy(pre + PRELOAD_LEN + ll + 1, cur + PRELOAD_LEN, strlen(cur + PRELOAD_LEN) + 1);
        }
        for (k = 0; k < n && out[k] != cur; k++)
            ;
        if (k < n)
            out[k] = pre;
        else
            out[n++] = pre;
    }
    for (uint32_t i = 0; i < x->nkept; i++)
        if (!find(envp, x->kept[i]))
            out[n++] = x->kept[i];
    out[n] = NULL;
    return out;
}

/* Declares the new environment of envp on the stack: ENV. */
#define JOB_ENV(envp)                                                                         \
    char *env_out_[count(envp) + CRS_EXEC_KEPT_MAX + 2], env_pre_[preload_room(envp)];       \
    char *const *ENV = job_env((envp), env_out_, env_pre_)

int execve(const char *path, char *const argv[], char *const envp[])
{
    JOB_ENV(envp);
    long r = crs_sys3(SYS_execve, (long)path, (long)argv, (long)ENV);
    errno = (int)-r;
    return -1;
}

int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    execvpe_fn real = (execvpe_fn)crs_state.exec.execvpe;
    JOB_ENV(envp);

    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(file, argv, ENV);
}

int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn real = (fexecve_fn)crs_state.exec.fexecve;
    JOB_ENV(envp);

    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd, argv, ENV);
}

/* The execl family: its arguments (and execle's environment) gathered on the stack. */
#define GATHER(first, ap, argv, n)                                                            \
    size_t n = 1;               /* libc declares the first argument non-null */               \
    va_start(ap, first);                                                                      \
    while (va_arg(ap, char *))                                                                \
        n++;                                                                                  \
    va_end(ap);                                                                               \
    char *argv[n + 1];                                                                        \
    argv[0] = (char *)(first);                                                                \
    va_start(ap, first);                                                                      \
    for (size_t i_ = 1; i_ <= n; i_++)                                                        \
        argv[i_] = va_arg(ap, char *)

int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n);
    va_end(ap);
    return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n);
    va_end(ap);
    return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

static int spawn(spawn_fn real, pid_t *pid, const char *path,
                 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[])
{
    JOB_ENV(envp);

    if (!real)
        return ENOSYS;
    return real(pid, path, fa, attr, argv, ENV);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn((spawn_fn)crs_state.exec.posix_spawn, pid, path, fa, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn((spawn_fn)crs_state.exec.posix_spawnp, pid, file, fa, attr, argv, envp);
}
