/* context.S - capture and resume a thread's context at a call boundary (x86-64 System V).
 *
 * crs_arch_save_context() is setjmp without libc: it records the callee-saved registers, the
 * stack pointer and the return address, and returns 0. crs_arch_jump_context() makes that call
 * return a second time, with 1. The restart entry uses it to put every recreated thread back
 * where it parked; caller-saved registers need no saving because the point is a call boundary.
 * Used in signal handlers and in the restart entry: touches nothing but its argument.
 */
    .text
    .globl crs_arch_save_context
    .type crs_arch_save_context, @function
crs_arch_save_context:
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    leaq 8(%rsp), %rax          /* the caller's stack pointer once we have returned */
    movq %rax, 48(%rdi)
    movq (%rsp), %rax           /* where we return to */
    movq %rax, 56(%rdi)
    stmxcsr 64(%rdi)
    fnstcw 68(%rdi)
    xorl %eax, %eax
    ret
    .size crs_arch_save_context, .-crs_arch_save_context

    .globl crs_arch_jump_context
    .type crs_arch_jump_context, @function
crs_arch_jump_context:
    ldmxcsr 64(%rdi)
    fldcw 68(%rdi)
    movq 0(%rdi), %rbx
    movq 8(%rdi), %rbp
    movq 16(%rdi), %r12
    movq 24(%rdi), %r13
    movq 32(%rdi), %r14
    movq 40(%rdi), %r15
    movq 48(%rdi), %rsp
    movl $1, %eax
    jmpq *56(%rdi)
    .size crs_arch_jump_context, .-crs_arch_jump_context

    .section .note.GNU-stack,"",@progbits
