/* snapshot/fault.c - the snapshot child's fault handler: a crash of its own becomes a report
 * naming where it happened, and a SIGBUS while probing a deleted file's page ends that region.
 * Runs in the forked snapshot child: no malloc, no stdio, no locks; on_fault is a signal
 * handler and builds its text with crs_sbuf only.
 */
#define _GNU_SOURCE
#include "child_internal.h"
#include "common/proc_util.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Pages of a deleted file cannot be mapped again, so all of them are saved; a page past the
 * file's end raises SIGBUS when touched, which ends the region. The handler needs to find the
 * jump buffer: this pointer is set only around one probe, in the child, whose walker is the
 * only thread that probes. */
static sigjmp_buf *bus_env;

/* Any other fault is a bug of ours (reading memory already released, say). Rather than die
 * with a bare signal number, the child reports where it was, so that the message names it, and
 * removes its temporary file. Signal handler: builds the text with crs_sbuf only. */
static struct child *fault_child;

static void describe_address(struct crs_sbuf *b, const struct child *c, uint64_t a)
{
    crs_sb_hex(b, a);
    for (size_t i = 0; i < c->nvmas; i++) {
        const struct crs_img_vma *v = &c->vmas[i];
        if (a < v->start || a >= v->end)
            continue;
        crs_sb_str(b, " (");
        crs_sb_str(b, v->path ? c->st.buf + v->path : "anonymous");
        crs_sb_str(b, "+");
        crs_sb_hex(b, a - v->start + (v->kind == CRS_VMA_FILE_PRIVATE ||
                                      v->kind == CRS_VMA_FILE_SHARED ? v->file_offset : 0));
        crs_sb_str(b, ")");
        return;
    }
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    struct child *c = fault_child;
    struct crs_sbuf b;

    if (sig == SIGBUS && bus_env)
        siglongjmp(*bus_env, 1);
    if (!c)
        _exit(128 + sig);
    crs_sb_init(&b, c->fault, sizeof c->fault);
    crs_sb_str(&b, sig == SIGBUS ? "the snapshot child crashed (SIGBUS) at " :
                                   "the snapshot child crashed (SIGSEGV) at ");
    describe_address(&b, c, crs_arch_signal_pc(uc));
    crs_sb_str(&b, " touching ");
    describe_address(&b, c, (uint64_t)(uintptr_t)si->si_addr);
    if (c->released) {
        crs_sb_str(&b, " after releasing ");
        crs_sb_u64(&b, c->released >> 10);
        crs_sb_str(&b, " KiB");
    }
    fault_child = NULL; /* a second fault while reporting ends the child at once */
    crs_child_fail(c, -EFAULT, c->t0);
}

CRS_RAW_ACCESS int crs_child_probe_page(uint64_t addr)
{
    sigjmp_buf env;
    bus_env = &env;
    if (sigsetjmp(env, 0)) {
        bus_env = NULL;
        return -1;
    }
    (void)*(const volatile char *)(uintptr_t)addr;
    bus_env = NULL;
    return 0;
}

/* The program's handlers are never run in the child (a fault of ours would end in a JVM's,
 * say): on_fault takes SIGBUS and SIGSEGV, on the alternate stack the child sets up with its
 * memory. */
void crs_child_catch_faults(struct child *c)
{
    struct sigaction fault;
    memset(&fault, 0, sizeof fault);
    fault.sa_sigaction = on_fault;
    fault.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    fault_child = c;
    sigaction(SIGBUS, &fault, NULL);
    sigaction(SIGSEGV, &fault, NULL);
    /* the coordinator, whose copy this is, blocks every signal; a fault that arrives blocked
     * is delivered with the default action, which would bypass the handler */
    uint64_t faults = (1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1));
    crs_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&faults, 0, CRS_ARCH_SIGSET_SIZE);
}
