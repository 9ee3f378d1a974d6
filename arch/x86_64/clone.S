/* clone.S - create a thread with a raw clone system call and run a function on its new stack.
 *
 * long crs_arch_clone_thread(unsigned long flags, void *stack_top, int *ptid, int *ctid,
 *                            unsigned long tls, void (*fn)(void *), void *arg);
 *
 * Returns the new tid (or -errno) in the caller. The child starts on stack_top (aligned down to
 * 16 bytes), calls fn(arg), and exits the thread if fn ever returns. It has to be assembly: the
 * child must not touch the caller's stack frame after the system call. Used by the restart
 * entry: touches no memory but the new stack.
 */
    .text
    .globl crs_arch_clone_thread
    .hidden crs_arch_clone_thread             /* called without the PLT */
    .type crs_arch_clone_thread, @function
crs_arch_clone_thread:
    andq $-16, %rsi
    subq $16, %rsi
    movq 8(%rsp), %rax          /* arg, the seventh argument */
    movq %rax, 8(%rsi)
    movq %r9, 0(%rsi)           /* fn */
    movq %rcx, %r10             /* ctid: the kernel takes the fourth argument in r10 */
    movl $56, %eax              /* __NR_clone: (flags, stack, ptid, ctid, tls) */
    syscall
    testq %rax, %rax
    jnz 1f
    xorl %ebp, %ebp             /* child: a fresh stack, no caller frame */
    popq %rax
    popq %rdi
    callq *%rax
    movl $60, %eax              /* __NR_exit: the thread only */
    xorl %edi, %edi
    syscall
    hlt
1:
    ret
    .size crs_arch_clone_thread, .-crs_arch_clone_thread


/* long crs_arch_clone3_thread(struct clone_args *args, size_t size, void (*fn)(void *),
 *                             void *arg);
 * The same through clone3, which can ask for a given tid (set_tid). The child starts on
 * args->stack + args->stack_size; fn and arg ride in r8 and r9, which the system call keeps. */
    .text
    .globl crs_arch_clone3_thread
    .hidden crs_arch_clone3_thread
    .type crs_arch_clone3_thread, @function
crs_arch_clone3_thread:
    movq %rdx, %r8
    movq %rcx, %r9
    movl $435, %eax             /* __NR_clone3 */
    syscall
    testq %rax, %rax
    jnz 1f
    xorl %ebp, %ebp
    andq $-16, %rsp
    movq %r9, %rdi
    callq *%r8
    movl $60, %eax
    xorl %edi, %edi
    syscall
    hlt
1:
    ret
    .size crs_arch_clone3_thread, .-crs_arch_clone3_thread

    .section .note.GNU-stack,"",@progbits
