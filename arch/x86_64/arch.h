/* arch/x86_64/arch.h - what crsnap needs to know about x86-64: the saved context, raw system
 * calls (usable where libc is not: signal handlers, the snapshot child, the restart entry), and
 * the CPU facts an image records. Another port provides the same names in its own folder.
 */
#ifndef CRS_ARCH_X86_64_H
#define CRS_ARCH_X86_64_H

#include <stdint.h>

#define CRS_ARCH_NAME "x86_64"
#define CRS_ARCH_ID 1u
/* Bytes of the kernel's signal set, as rt_sigaction and rt_sigprocmask take it: one bit for
 * each of its 64 signals (glibc's sigset_t is larger, and the kernel refuses that size). */
#define CRS_ARCH_SIGSET_SIZE 8

/* Registers at a call boundary: layout fixed by context.S and stored as-is in images. */
struct crs_arch_ctx {
    uint64_t rbx, rbp, r12, r13, r14, r15;
    uint64_t rsp, rip;
    uint32_t mxcsr;
    uint16_t fpucw;
    uint16_t pad;
};

/* Returns 0 when called, 1 when resumed by crs_arch_jump_context(). Like setjmp, locals of the
 * caller that change between the two returns must be volatile. */
int crs_arch_save_context(struct crs_arch_ctx *ctx) __attribute__((returns_twice));
__attribute__((noreturn)) void crs_arch_jump_context(const struct crs_arch_ctx *ctx);

/* clone.S: a raw clone whose child runs fn(arg) on stack_top; returns the child's tid or
 * -errno in the caller. For the restart entry, which recreates threads without libc. */
long crs_arch_clone_thread(unsigned long flags, void *stack_top, int *ptid, int *ctid,
                           unsigned long tls, void (*fn)(void *), void *arg);

/* clone.S: the same through clone3 (struct clone_args from linux/sched.h), so that a thread
 * can get back the tid it had (set_tid). The child starts on args->stack + args->stack_size. */
struct clone_args;
long crs_arch_clone3_thread(struct clone_args *args, unsigned long size, void (*fn)(void *),
                            void *arg);

/* stack.S: switch to stack_top and call fn(arg) there; never returns. */
__attribute__((noreturn)) void crs_arch_run_on_stack(void *stack_top, void (*fn)(void *),
                                                     void *arg);

/* The instruction address a signal interrupted, from the handler's third argument (a
 * ucontext_t): gregs[REG_RIP], at the same offset in every glibc and kernel of this port. */
static inline uint64_t crs_arch_signal_pc(const void *uc)
{
    return ((const uint64_t *)uc)[5 + 16];  /* uc_flags, uc_link, uc_stack (3), gregs[16] */
}

/* A system call seen from a signal handler (runtime/interrupted.c). The handler's ucontext holds
 * the registers the call was made with: its arguments (rdi, rsi, rdx, r10, r8, r9, which the
 * kernel leaves as they were), its result in rax and the pc just past the 2-byte `syscall`
 * instruction. Rewinding pc over that instruction and putting the number back in rax makes
 * sigreturn enter the same call again. Indices into uc_mcontext.gregs, as in sys/ucontext.h. */
enum { CRS_X86_R8 = 0, CRS_X86_R9 = 1, CRS_X86_R10 = 2, CRS_X86_RDI = 8, CRS_X86_RSI = 9,
       CRS_X86_RDX = 12, CRS_X86_RAX = 13, CRS_X86_RSP = 15, CRS_X86_RIP = 16 };

static inline uint64_t *crs_arch_uc_gregs(void *uc)
{
    return (uint64_t *)uc + 5;          /* uc_flags, uc_link, uc_stack (3 words) */
}

static inline long crs_arch_uc_result(void *uc) { return (long)crs_arch_uc_gregs(uc)[CRS_X86_RAX]; }
static inline uint64_t crs_arch_uc_pc(void *uc) { return crs_arch_uc_gregs(uc)[CRS_X86_RIP]; }
static inline uint64_t crs_arch_uc_sp(void *uc) { return crs_arch_uc_gregs(uc)[CRS_X86_RSP]; }

static inline uint64_t *crs_arch_uc_arg(void *uc, int i)
{
    static const unsigned char reg[6] = { CRS_X86_RDI, CRS_X86_RSI, CRS_X86_RDX,
                                          CRS_X86_R10, CRS_X86_R8, CRS_X86_R9 };
    return &crs_arch_uc_gregs(uc)[reg[i]];
}

/* 0, or -1 when the instruction before pc is not a system call (then nothing changes). */
static inline int crs_arch_uc_rewind(void *uc, long nr)
{
    uint64_t *g = crs_arch_uc_gregs(uc);
    const unsigned char *insn = (const unsigned char *)(uintptr_t)(g[CRS_X86_RIP] - 2);

    if (insn[0] != 0x0f || insn[1] != 0x05)
        return -1;
    g[CRS_X86_RIP] -= 2;
    g[CRS_X86_RAX] = (uint64_t)nr;
    return 0;
}

static inline long crs_sys0(long n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
    return r;
}
static inline long crs_sys1(long n, long a)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
    return r;
}
static inline long crs_sys2(long n, long a, long b)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return r;
}
static inline long crs_sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
static inline long crs_sys4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}
static inline long crs_sys5(long n, long a, long b, long c, long d, long e)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return r;
}
static inline long crs_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

/* The thread pointer (FS base), read without a system call. */
static inline uint64_t crs_arch_thread_pointer(void)
{
    uint64_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* XCR0: the extended register state the CPU and kernel enable (0 if XSAVE is absent). */
static inline uint64_t crs_arch_xfeatures(void)
{
    uint32_t a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 27))) /* OSXSAVE */
        return 0;
    __asm__("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
    return ((uint64_t)d << 32) | a;
}

#endif
