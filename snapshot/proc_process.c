/* snapshot/proc_process.c - process-wide facts for the image: ids, umask, personality, exe,
 * cwd, comm, the mm layout of /proc/self/stat, rlimits, and signal dispositions. Runs in the
 * forked snapshot child: no malloc, no stdio, no locks. The child's mm is a copy of the
 * process's, so its /proc/self answers for the process; pid and comm are read from the parent.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "common/proc_util.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

void crs_proc_signals(struct crs_img_sigaction sig[CRS_IMG_NSIG])
{
    memset(sig, 0, CRS_IMG_NSIG * sizeof *sig);
    for (int s = 1; s <= CRS_IMG_NSIG; s++) {
        if (s == 9 || s == 19)
            continue;
        /* the kernel's layout, which is the image's: handler, flags, restorer, mask */
        syscall(SYS_rt_sigaction, s, NULL, &sig[s - 1], CRS_ARCH_SIGSET_SIZE);
    }
}

static void path_pid(char *out, size_t cap, int pid, const char *file)
{
    struct crs_sbuf b;
    crs_sb_init(&b, out, cap);
    crs_sb_str(&b, "/proc/");
    crs_sb_u64(&b, (uint64_t)pid);
    crs_sb_str(&b, file);
}

/* The fields after "pid (comm) " in /proc/PID/stat, numbered from 3 as in proc(5). */
static int stat_fields(const char *text, uint64_t *f, int nf)
{
    const char *s = NULL;
    for (const char *p = text; *p; p++)
        if (*p == ')')
            s = p + 1;
    if (!s)
        return -EINVAL;
    for (int i = 3; i < nf; i++) {
        crs_skip_space(&s);
        if (i == 3) { /* state letter */
            s++;
            f[i] = 0;
            continue;
        }
        int64_t v;
        if (crs_parse_sdec(&s, &v))
            break;
        f[i] = (uint64_t)v;
    }
    return 0;
}

int crs_proc_process(struct crs_img_process *p, struct crs_strtab *st, int pid, char *work,
                     size_t workcap)
{
    char path[64];
    uint64_t f[53];
    long n;

    p->pid = (uint32_t)pid;
    p->uid = getuid();
    p->gid = getgid();
    p->euid = geteuid();
    p->egid = getegid();
    mode_t m = umask(0);
    umask(m);
    p->umask = m;
    p->personality = (uint32_t)personality(0xffffffff);

    n = readlink("/proc/self/exe", work, workcap - 1);
    if (n > 0)
        p->exe = crs_strtab_addn(st, work, (size_t)n);
    n = readlink("/proc/self/cwd", work, workcap - 1);
    if (n > 0)
        p->cwd = crs_strtab_addn(st, work, (size_t)n);
    path_pid(path, sizeof path, pid, "/comm");
    n = crs_read_file(path, work, workcap);
    if (n > 0) {
        if (work[n - 1] == '\n')
            n--;
        p->comm = crs_strtab_addn(st, work, (size_t)n);
    }
    path_pid(path, sizeof path, pid, "/stat");
    memset(f, 0, sizeof f);
    if (crs_read_file(path, work, workcap) > 0 && stat_fields(work, f, 53) == 0)
        p->ppid = (uint32_t)f[4];
    memset(f, 0, sizeof f);
    n = crs_read_file("/proc/self/stat", work, workcap);
    if (n < 0)
        return (int)n;
    if (stat_fields(work, f, 53))
        return -EINVAL;
    p->start_code = f[26];
    p->end_code = f[27];
    p->start_stack = f[28];
    p->start_data = f[45];
    p->end_data = f[46];
    p->start_brk = f[47];
    p->arg_start = f[48];
    p->arg_end = f[49];
    p->env_start = f[50];
    p->env_end = f[51];
    p->brk = (uint64_t)syscall(SYS_brk, 0);
    for (int i = 0; i < CRS_IMG_NRLIMITS; i++) {
        struct rlimit64 rl;
        if (syscall(SYS_prlimit64, 0, i, NULL, &rl) == 0) {
            p->rlimits[i].cur = rl.rlim_cur;
            p->rlimits[i].max = rl.rlim_max;
        }
    }
    return 0;
}

/* The scheduling and security attributes of process pid (its main thread): affinity, nice,
 * policy and priority, no_new_privs and seccomp. What cannot be read stays unflagged. */
void crs_proc_attrs(struct crs_img_attrs *a, int pid, char *work, size_t workcap)
{
    char p[64];
    struct sched_param sp;
    long n;
    int v;

    memset(a, 0, sizeof *a);
    if (syscall(SYS_sched_getaffinity, pid, sizeof a->cpus, a->cpus) > 0)
        a->flags |= CRS_ATTR_F_AFFINITY;
    errno = 0;
    v = getpriority(PRIO_PROCESS, (id_t)pid);
    if (!errno) {
        a->nice = v;
        a->flags |= CRS_ATTR_F_NICE;
    }
    if ((v = sched_getscheduler(pid)) >= 0 && sched_getparam(pid, &sp) == 0) {
        a->policy = (uint32_t)v;
        a->priority = (uint32_t)sp.sched_priority;
        a->flags |= CRS_ATTR_F_SCHED;
    }
    path_pid(p, sizeof p, pid, "/status");
    if ((n = crs_read_file(p, work, workcap)) > 0) {
        const char *nnp = crs_find_field(work, (size_t)n, "NoNewPrivs:");
        const char *sec = crs_find_field(work, (size_t)n, "Seccomp:");
        uint64_t x, y;
        if (nnp && sec) {
            crs_skip_space(&nnp);
            crs_skip_space(&sec);
            if (!crs_parse_dec(&nnp, &x) && !crs_parse_dec(&sec, &y)) {
                a->no_new_privs = (uint32_t)x;
                a->seccomp = (uint32_t)y;
                a->flags |= CRS_ATTR_F_STATUS;
            }
        }
    }
}
