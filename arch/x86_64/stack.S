/* stack.S - leave the current stack for good: switch to another one and call a function there.
 *
 * void crs_arch_run_on_stack(void *stack_top, void (*fn)(void *), void *arg)  (never returns)
 *
 * The restorer uses it to enter the restart entry on the restart stack inside the restored
 * library, after which its own stack is unmapped.
 */
    .text
    .globl crs_arch_run_on_stack
    .hidden crs_arch_run_on_stack             /* called without the PLT */
    .type crs_arch_run_on_stack, @function
crs_arch_run_on_stack:
    andq $-16, %rdi
    movq %rdi, %rsp
    xorl %ebp, %ebp
    movq %rdx, %rdi
    callq *%rsi                 /* pushes a return address: the callee sees the ABI alignment */
    ud2
    .size crs_arch_run_on_stack, .-crs_arch_run_on_stack

    .section .note.GNU-stack,"",@progbits
