/*
 * L2 code for svm_task_switch.c: 32-bit protected-mode snippets that L2
 * runs with flat segments and paging off, in place (the payload is
 * identity-mapped below 4 GiB, so its addresses are L2's linear and
 * physical addresses too).  Selectors are those of L2's GDT, built by L1
 * (svm_task_switch.c).  Each entry point is one scenario; VMMCALL
 * (intercepted) hands control back to L1.
 */
#define SEL_TSS_A      0x18
#define SEL_TSS_B      0x20
#define SEL_GATE_B     0x28
#define SEL_TSS_SMALL  0x30
#define SEL_TSS16      0x38
#define SEL_TSS_BADCS  0x40
#define SEL_TSS_NP     0x48
#define SEL_CALLGATE   0x63      /* DPL 3 gate to CPL 0, 2 parameters */
#define SEL_GATE_SAME  0x68      /* DPL 0 gate to CPL 0, no parameters */
#define SEL_CODE_USER  0x53

	.text
	.code32
	.globl l2_jmp_tss, l2_jmp_tss_insn, l2_jmp_gate, l2_jmp_gate_insn
	.globl l2_call_tss, l2_call_tss_insn, l2_call_tss_after
	.globl l2_int_gate, l2_int_gate_insn, l2_int_gate_after
	.globl l2_iret_nt, l2_iret_nt_insn
	.globl l2_gp, l2_gp_insn
	.globl l2_jmp_small, l2_jmp_busy, l2_jmp_np, l2_jmp_rpl3, l2_jmp_badcs
	.globl l2_jmp_tss16, l2_fault_insn
	.globl task_b_entry, task_b_iret, task_gp_entry, task16_entry
	.globl l2_callgate_user, l2_callgate_insn, l2_callgate_after
	.globl gate_entry, gate_entry_ret
	.globl l2_callgate_same, l2_callgate_same_insn, l2_callgate_same_after
	.globl gate_same_entry, l2_jmpgate_user, l2_jmpgate_user_insn
	.globl l2_callgate_dpl, l2_callgate_dpl_insn

/* JMP far to the TSS of task B, directly and through a task gate. */
l2_jmp_tss:
l2_jmp_tss_insn:
	ljmp $SEL_TSS_B, $0
	vmmcall
l2_jmp_gate:
l2_jmp_gate_insn:
	ljmp $SEL_GATE_B, $0
	vmmcall

/* CALL far to task B; task B returns with IRET (NT = 1). */
l2_call_tss:
	mov $0xa1a1a1a1, %eax
l2_call_tss_insn:
	lcall $SEL_TSS_B, $0
l2_call_tss_after:
	vmmcall

/* INT 0x40 through a task gate to task B. */
l2_int_gate:
l2_int_gate_insn:
	int $0x40
l2_int_gate_after:
	vmmcall

/* IRET with NT = 1: back to the task of the link field. */
l2_iret_nt:
	pushfl
	orl $0x4000, (%esp)
	popfl
l2_iret_nt_insn:
	iret
	vmmcall

/* #GP(0x7f8) (a selector beyond the GDT limit), through a task gate. */
l2_gp:
	mov $0x7f8, %ax
l2_gp_insn:
	mov %ax, %ds
	vmmcall

/* Faults: each JMP below raises an exception that L1 intercepts. */
l2_jmp_small:
	ljmp $SEL_TSS_SMALL, $0
l2_jmp_busy:
	ljmp $SEL_TSS_A, $0
l2_jmp_np:
	ljmp $SEL_TSS_NP, $0
l2_jmp_rpl3:
	ljmp $(SEL_TSS_B | 3), $0
l2_jmp_badcs:
	ljmp $SEL_TSS_BADCS, $0
l2_jmp_tss16:
	ljmp $SEL_TSS16, $0
l2_fault_insn:
	vmmcall

/* Task B: report to L1, then return to the caller's task. */
task_b_entry:
	vmmcall
task_b_iret:
	iret
	vmmcall

/* The #GP task: report with the error code on its stack. */
task_gp_entry:
	vmmcall
	ud2

/* The task of the 16-bit TSS (CS base = this address, IP 0). */
task16_entry:
	vmmcall
	ud2

/* CPL 3: CALL through a call gate to CPL 0 with two parameters. */
l2_callgate_user:
	push $0x2222
	push $0x1111
l2_callgate_insn:
	lcall $SEL_CALLGATE, $0
l2_callgate_after:
	vmmcall

/* CPL 0 side of the gate: report, then return to CPL 3 releasing 8 bytes. */
gate_entry:
	vmmcall
gate_entry_ret:
	lret $8

/* CPL 0: CALL through a gate to the same privilege. */
l2_callgate_same:
l2_callgate_same_insn:
	lcall $SEL_GATE_SAME, $0
l2_callgate_same_after:
	vmmcall

gate_same_entry:
	vmmcall
	lret

/* CPL 3: JMP through a DPL-3 gate to a DPL-0 non-conforming segment: #GP. */
l2_jmpgate_user:
l2_jmpgate_user_insn:
	ljmp $SEL_CALLGATE, $0
	vmmcall

/* CPL 3: CALL through the DPL-0 gate: #GP(gate). */
l2_callgate_dpl:
l2_callgate_dpl_insn:
	lcall $(SEL_GATE_SAME | 3), $0
	vmmcall

	.code64
