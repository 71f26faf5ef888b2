/*
 * Exception entry stubs and the register-saving trampolines behind
 * catch_exception() and run_in_user().
 *
 * Each vector has a 16-byte-aligned stub that pushes a zero error code
 * (unless the CPU pushed one) and the vector, then jumps to ex_common,
 * which completes struct ex_regs (GPRs, then CR2) and calls
 * __ex_dispatch(regs). Everything is restored from the frame, so handlers
 * may change any register, RIP, RSP, CS, SS and RFLAGS.
 */
#include "libguest.h"
#include "internal.h"

/* vectors for which the CPU pushes an error code */
#define HAS_ERRCODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.text
	.code64
	.balign 16
	.globl __idt_stub_base
__idt_stub_base:
	vec = 0
	.rept 256
	.balign 16
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq $0
	.endif
	pushq $vec
	jmp ex_common
	vec = vec + 1
	.endr

ex_common:
	push %r15
	push %r14
	push %r13
	push %r12
	push %r11
	push %r10
	push %r9
	push %r8
	push %rdi
	push %rsi
	push %rbp
	push %rbx
	push %rdx
	push %rcx
	push %rax
	mov %cr2, %rax
	push %rax
	cld
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $-16, %rsp
	call __ex_dispatch
	mov %rbx, %rsp
	add $8, %rsp            /* cr2 */
	pop %rax
	pop %rcx
	pop %rdx
	pop %rbx
	pop %rbp
	pop %rsi
	pop %rdi
	pop %r8
	pop %r9
	pop %r10
	pop %r11
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	add $16, %rsp           /* vector, error code */
	iretq

/* Saves the caller's callee-saved state in the frame at %rdi. */
.macro SAVE_FRAME resume
	mov %rbx, CF_RBX(%rdi)
	mov %rbp, CF_RBP(%rdi)
	mov %r12, CF_R12(%rdi)
	mov %r13, CF_R13(%rdi)
	mov %r14, CF_R14(%rdi)
	mov %r15, CF_R15(%rdi)
	mov %rsp, CF_RSP(%rdi)  /* points at our return address */
	pushfq
	popq CF_RFLAGS(%rdi)
	xor %eax, %eax
	mov %cs, %ax
	mov %rax, CF_CS(%rdi)
	mov %ss, %ax
	mov %rax, CF_SS(%rdi)
	lea \resume(%rip), %rax
	mov %rax, CF_RESUME(%rdi)
.endm

/* long __catch_call(struct catch_frame *f, void (*fn)(void *), void *arg) */
	.globl __catch_call
__catch_call:
	SAVE_FRAME catch_resume
	sub $8, %rsp            /* keep the ABI's 16-byte alignment for fn */
	mov %rdx, %rdi
	call *%rsi
	add $8, %rsp
	mov $-1, %rax
	ret
/* Reached by IRETQ from catch_unwind() with the saved registers, RSP and
 * RAX = vector. */
catch_resume:
	ret

/* long __user_call(struct catch_frame *f, void (*fn)(void *), void *arg,
 *                  uint64_t user_stack_top) */
	.globl __user_call
__user_call:
	SAVE_FRAME user_resume
	lea __user_exit(%rip), %rax
	mov %rax, -8(%rcx)      /* fn returns to __user_exit */
	sub $8, %rcx
	pushq $USER_DS          /* SS */
	push %rcx               /* RSP */
	pushq $0x2              /* RFLAGS: IF = 0, IOPL = 0 */
	pushq $USER_CS          /* CS */
	push %rsi               /* RIP */
	mov %rdx, %rdi
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	iretq
user_resume:
	mov $KERNEL_DS, %ecx    /* IRET to CPL 3 nulled DS and ES */
	mov %ecx, %ds
	mov %ecx, %es
	ret

	.globl __user_exit
__user_exit:
	int $USER_EXIT_VECTOR
	ud2
