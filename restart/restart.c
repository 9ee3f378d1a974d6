/* restart/restart.c - the restart entry: the last step of a restore, run inside the restored
 * library once the restorer has rebuilt memory, descriptors and signal state and jumped here.
 * It removes the restorer, recreates every thread and puts each back where it parked.
 *
 * Runs in the restart entry with no valid TLS at first, while the restorer's mappings are being
 * removed: raw system calls only (arch/arch.h), no libc, no stack protector (CRS_RAW_FLAGS).
 * crs_restart_describe() and crs_restart_plan_get() run in the ordinary process.
 */
#include "restart.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <asm/prctl.h>
#include <sys/rseq.h>
#include <linux/prctl.h>

/* glibc exports these from 2.35 on; weak, so that the library still loads on an older one. */
#pragma weak __rseq_offset
#pragma weak __rseq_size

#define RESTART_STACK_SIZE (64u * 1024u)
#define RSEQ_UNREGISTER 1
#define PR_SET_NAME_ 15
#define PR_SET_MM_ 35
#define PR_SET_MM_MAP_ 14
#define SIG_SETMASK_ 2
#define SS_ONSTACK_ 1
#define SS_DISABLE_ 2
#define FUTEX_WAIT_PRIVATE_ 128
#define FUTEX_WAKE_PRIVATE_ 129
#define PR_TIMER_CREATE_RESTORE_IDS_ 77
#define SIGEV_THREAD_ID_ 4
#define EEXIST_ 17
/* Room left between a parked thread's stack pointer and the stack its clone starts on. */
#define THREAD_TMP_GAP 512u

/* The plan area and the restart stack: static memory of the library, so they are part of every
 * image and sit at known addresses in the restored process. */
static struct crs_restart_plan restart_plan __attribute__((aligned(4096)));
static uint8_t restart_stack[RESTART_STACK_SIZE] __attribute__((aligned(16)));

struct kernel_stack { uint64_t sp; int32_t flags; int32_t pad; uint64_t size; };

/* Finds glibc's tid field in the calling thread's descriptor: the word that holds gettid(). */
static int64_t find_tid_offset(void)
{
    const volatile int32_t *p = (const volatile int32_t *)crs_arch_thread_pointer();
    int32_t tid = (int32_t)crs_sys0(SYS_gettid);

    for (int i = 4; i < 1024 / 4; i++)
        if (p[i] == tid)
            return (int64_t)i * 4;
    return 0;
}

void crs_restart_describe(struct crs_img_restart *out)
{
    out->entry = (uint64_t)(uintptr_t)crs_restart_entry;
    out->stack_top = ((uint64_t)(uintptr_t)(restart_stack + RESTART_STACK_SIZE)) & ~15ull;
    out->plan_addr = (uint64_t)(uintptr_t)&restart_plan;
    out->plan_size = sizeof restart_plan;
    out->state_addr = 0;
    out->tid_offset = find_tid_offset();
    out->rseq_offset = &__rseq_offset ? __rseq_offset : 0;
    out->rseq_size = &__rseq_size ? __rseq_size : 0;
    out->rseq_sig = 0x53053053u;
}

const struct crs_restart_plan *crs_restart_plan_get(void)
{
    return restart_plan.magic == CRS_PLAN_MAGIC ? &restart_plan : NULL;
}

static __attribute__((noreturn)) void fail(const char *msg, long err)
{
    static const char pre[] = "crsnap restore: restart failed: ";
    size_t n = 0;
    char num[24];
    int k = 0;

    while (msg[n])
        n++;
    crs_sys3(SYS_write, 2, (long)pre, sizeof pre - 1);
    crs_sys3(SYS_write, 2, (long)msg, (long)n);
    if (err < 0)
        err = -err;
    num[k++] = '\n';
    do {
        num[k++] = (char)('0' + err % 10);
        err /= 10;
    } while (err && k < 22);
    num[k++] = ' ';
    while (k > 0)                       /* the digits were written backwards */
        crs_sys3(SYS_write, 2, (long)&num[--k], 1);
    crs_sys1(SYS_exit_group, 127);
    for (;;) {}
}

/* Capabilities are per thread: each drops its own. Version 3 header, two empty data words. */
static void drop_caps(void)
{
    volatile uint32_t hdr[2];
    volatile uint32_t data[6];

    hdr[0] = 0x20080522u;               /* _LINUX_CAPABILITY_VERSION_3 */
    hdr[1] = 0;
    for (int i = 0; i < 6; i++)
        data[i] = 0;
    crs_sys2(SYS_capset, (long)hdr, (long)data);
}

/* Per-thread kernel state that clone does not carry: robust list, rseq, sigaltstack, name. */
static void restore_thread_state(const struct crs_restart_plan *plan,
                                 const struct crs_img_thread *t)
{
    volatile char name[16];

    if (t->robust_head)
        crs_sys2(SYS_set_robust_list, (long)t->robust_head, (long)t->robust_len);
    if (t->rseq_addr)
        crs_sys4(SYS_rseq, (long)t->rseq_addr, t->rseq_len, 0, t->rseq_sig);
    if (t->ss_sp && !(t->ss_flags & SS_DISABLE_)) {
        struct kernel_stack ss = { t->ss_sp, t->ss_flags & ~SS_ONSTACK_, 0, t->ss_size };
        crs_sys2(SYS_sigaltstack, (long)&ss, 0);
    }
    for (int i = 0; i < 15; i++)
        name[i] = t->name[i];
    name[15] = 0;
    if (name[0])
        crs_sys2(SYS_prctl, PR_SET_NAME_, (long)name);
    if (plan->flags & CRS_PLAN_F_DROP_CAPS)
        drop_caps();
    /* A thread parked inside the quiesce handler gets its mask back from the signal frame; one
     * that recorded itself outside it (the coordinator) sets it here. */
    if (t->flags & CRS_THREAD_F_COORDINATOR) {
        uint64_t mask = t->sigmask;
        crs_sys4(SYS_rt_sigprocmask, SIG_SETMASK_, (long)&mask, 0, CRS_ARCH_SIGSET_SIZE);
    }
}

/* crs_arch_jump_context() without the trip through the PLT: a lazy binding here would run the
 * dynamic linker's resolver before the thread is whole. Same layout as arch/x86_64/context.S. */
static __attribute__((noreturn)) void jump_context(const struct crs_arch_ctx *c)
{
    __asm__ volatile("ldmxcsr 64(%0)\n\t"
                     "fldcw 68(%0)\n\t"
                     "movq 0(%0), %%rbx\n\t"
                     "movq 8(%0), %%rbp\n\t"
                     "movq 16(%0), %%r12\n\t"
                     "movq 24(%0), %%r13\n\t"
                     "movq 32(%0), %%r14\n\t"
                     "movq 40(%0), %%r15\n\t"
                     "movq 48(%0), %%rsp\n\t"
                     "movl $1, %%eax\n\t"
                     "jmpq *56(%0)"
                     :
                     : "D"(c)
                     : "memory");
    __builtin_unreachable();
}

static void thread_start(void *arg)
{
    const struct crs_img_thread *t = arg;

    /* not a step further until the timers that may signal this thread exist: the restore
     * mode of timer_create is the whole process's, no program code may create one meanwhile */
    while (__atomic_load_n(&restart_plan.timers_pending, __ATOMIC_ACQUIRE))
        crs_sys4(SYS_futex, (long)&restart_plan.timers_pending, FUTEX_WAIT_PRIVATE_, 1, 0);
    restore_thread_state(&restart_plan, t);
    jump_context(&t->ctx);
}

/* /proc/self/exe back to the program: allowed only now that the restorer's binary is unmapped,
 * and only with privilege; otherwise it keeps naming crsnap. Fields assigned one by one: an
 * initializer could become a memset call. */
static void set_exe(const struct crs_restart_plan *plan)
{
    struct prctl_mm_map m;

    m.start_code = plan->mm[0];
    m.end_code = plan->mm[1];
    m.start_data = plan->mm[2];
    m.end_data = plan->mm[3];
    m.start_brk = plan->mm[4];
    m.brk = plan->mm[5];
    m.start_stack = plan->mm[6];
    m.arg_start = plan->mm[7];
    m.arg_end = plan->mm[8];
    m.env_start = plan->mm[9];
    m.env_end = plan->mm[10];
    m.auxv = (__u64 *)(uintptr_t)plan->mm_auxv;
    m.auxv_size = plan->mm_auxv_words * 8;
    m.exe_fd = (uint32_t)plan->exe_fd;
    crs_sys5(SYS_prctl, PR_SET_MM_, PR_SET_MM_MAP_, (long)&m, sizeof m, 0);
    crs_sys1(SYS_close, plan->exe_fd);
}

/* The thread under the tid it had, so that what holds it (mutex owners, the runtime's records)
 * stays true. Fields one by one, as in set_exe(). */
static long clone_same_tid(unsigned long flags, uint64_t top, const struct crs_img_thread *t)
{
    struct clone_args a;
    volatile int32_t tid = t->tid;

    a.flags = flags;
    a.pidfd = 0;
    a.child_tid = t->tid_addr;
    a.parent_tid = t->tid_addr;
    a.exit_signal = 0;
    a.stack = top - 4096;
    a.stack_size = 4096;
    a.tls = t->fs_base;
    a.set_tid = (uint64_t)(uintptr_t)&tid;
    a.set_tid_size = 1;
    a.cgroup = 0;
    return crs_arch_clone3_thread(&a, sizeof a, thread_start, (void *)t);
}

/* The kernel's struct sigevent (64 bytes) and struct itimerspec, filled field by field (see
 * set_exe()). */
struct kernel_sigevent {
    uint64_t value;
    int32_t signo, notify;
    int32_t tid;
    int32_t pad[11];
};
struct kernel_itimerspec { int64_t interval_sec, interval_nsec, value_sec, value_nsec; };

/* Every timer of the plan under its saved id (prctl PR_TIMER_CREATE_RESTORE_IDS: timer_create
 * takes the id it is handed), signalling the thread it did by that thread's new tid, armed with
 * the time it had left. newtid[i] is the tid of plan->threads[i] now. The restorer made sure
 * the kernel allows all this; a failure here cannot be undone, and ends the restore. */
static void make_timers(const struct crs_restart_plan *plan, const int32_t *newtid)
{
    struct kernel_sigevent ev;
    long r;

    if (!plan->ntimers)
        return;
    r = crs_sys5(SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS_, 1, 0, 0, 0);
    if (r < 0)
        fail("cannot create timers under their ids, errno ", r);
    for (uint32_t i = 0; i < plan->ntimers; i++) {
        const struct crs_img_timer *t = &plan->timers[i];
        volatile int32_t id = t->id;
        struct kernel_itimerspec its;

        ev.value = t->value;
        ev.signo = t->signo;
        ev.notify = (int32_t)t->notify;
        ev.tid = 0;
        for (int k = 0; k < 11; k++)
            ev.pad[k] = 0;
        if (t->notify & SIGEV_THREAD_ID_)
            for (uint32_t k = 0; k < plan->nthreads; k++)
                if (plan->threads[k].tid == t->tid)
                    ev.tid = newtid[k];
        r = crs_sys3(SYS_timer_create, t->clockid, (long)&ev, (long)&id);
        if (r < 0 || id != t->id)
            fail("cannot recreate a POSIX timer under its id, errno ", r < 0 ? r : -EEXIST_);
        its.interval_sec = t->interval.sec;
        its.interval_nsec = t->interval.nsec;
        its.value_sec = t->value_left.sec;
        its.value_nsec = t->value_left.nsec;
        if ((its.value_sec || its.value_nsec) &&
            (r = crs_sys4(SYS_timer_settime, t->id, 0, (long)&its, 0)) < 0)
            fail("cannot arm a POSIX timer again, errno ", r);
    }
    crs_sys5(SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS_, 0, 0, 0, 0);
}

void crs_restart_entry(struct crs_restart_plan *plan)
{
    int32_t newtid[CRS_PLAN_MAX_THREADS];
    const struct crs_img_thread *m = &plan->threads[plan->main_index];
    const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    long r;

    /* TLS first: the restored code reads its canary and errno through it. */
    crs_sys2(SYS_arch_prctl, ARCH_SET_FS, (long)m->fs_base);
    if (plan->restorer_rseq_addr)
        crs_sys4(SYS_rseq, (long)plan->restorer_rseq_addr, plan->restorer_rseq_len,
                 RSEQ_UNREGISTER, plan->restorer_rseq_sig);
    for (uint32_t i = 0; i < plan->nunmap; i++)
        crs_sys2(SYS_munmap, (long)plan->unmap[i].start, (long)plan->unmap[i].len);
    if (plan->exe_fd >= 0)
        set_exe(plan);

    /* The main thread keeps the restorer's tid (the new pid); glibc's field must say so before
     * any other thread runs and looks, and the kernel must clear that field, not the
     * restorer's, when it exits. */
    r = crs_sys1(SYS_set_tid_address, (long)m->tid_addr);
    if (m->tid_addr)
        *(volatile int32_t *)(uintptr_t)m->tid_addr = (int32_t)r;
    newtid[plan->main_index] = (int32_t)r;

    for (uint32_t i = 0; i < plan->nthreads; i++) {
        const struct crs_img_thread *t = &plan->threads[i];
        if (i == plan->main_index)
            continue;
        /* The new thread starts just below the stack pointer it parked with: memory of its own
         * stack that nothing uses until it is back in the handler. */
        uint64_t top = (t->ctx.rsp - THREAD_TMP_GAP) & ~15ull;
        int *tidp = (int *)(uintptr_t)t->tid_addr;
        r = -1;
        if (plan->flags & CRS_PLAN_F_SAME_TIDS)
            r = clone_same_tid(flags, top, t);
        if (r < 0)      /* no privilege, or the tid is taken: a new one */
            r = crs_arch_clone_thread(flags, (void *)(uintptr_t)top, tidp, tidp, t->fs_base,
                                      thread_start, (void *)t);
        if (r < 0)
            fail("cannot recreate a thread, errno ", r);
        newtid[i] = (int32_t)r;
    }

    make_timers(plan, newtid);
    __atomic_store_n(&plan->timers_pending, 0, __ATOMIC_RELEASE);
    crs_sys3(SYS_futex, (long)&plan->timers_pending, FUTEX_WAKE_PRIVATE_, 0x7fffffff);
    restore_thread_state(plan, m);
    jump_context(&m->ctx);
}
