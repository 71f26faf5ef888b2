/*
 * L2 code for svm_realmode.c: one position-dependent blob that L1 copies to
 * RM_BASE (below 1 MiB) and enters in real mode with CS = DS = SS =
 * RM_BASE >> 4.  Each entry point below is an L2 scenario; L1 reads the
 * result from vmcb12 and from the data words at the end of the blob.
 *
 * Real-mode offsets are blob offsets (label - rm_blob); the 16-bit
 * protected-mode segments have base RM_BASE, so their offsets are blob
 * offsets too; the 32-bit segments are flat (offset RM_BASE + blob offset).
 */
#define RM_BASE   0x30000
#define OFF(x)    ((x) - rm_blob)

#define SEL_CODE16 0x08
#define SEL_DATA16 0x10
#define SEL_CODE32 0x18
#define SEL_DATA32 0x20

	.data
	.balign 16
	.globl rm_blob, rm_blob_end
	.globl rm_vmmcall, rm_after_vmmcall, rm_ud_handler, rm_ud_hlt, rm_fault
	.globl rm_to_pm16, rm_pm16_wr_cr0, pm16_vmmcall
	.globl rm_to_pm32, rm_pm32_wr_cr0, pm32, pm32_wr_cr0, pm32_vmmcall
	.globl rm_lmsw, rm_lmsw_insn, rm_cr0_ts, rm_ts_vmmcall
	.globl rm_gdt, rm_ud_count, rm_ud_ip, rm_ud_cs, rm_ud_flags
	.code16
rm_blob:

/* VMMCALL in real mode; HLT (intercepted) if it did not exit. */
rm_vmmcall:
	vmmcall
rm_after_vmmcall:
	hlt

/* #UD through the IVT: record the interrupt frame (IP, CS, FLAGS), HLT. */
rm_ud_handler:
	incw OFF(rm_ud_count)
	mov %sp, %bp
	mov 0(%bp), %ax
	mov %ax, OFF(rm_ud_ip)
	mov 2(%bp), %ax
	mov %ax, OFF(rm_ud_cs)
	mov 4(%bp), %ax
	mov %ax, OFF(rm_ud_flags)
rm_ud_hlt:
	hlt

/* Every other IVT vector: stop here (HLT is intercepted). */
rm_fault:
	hlt
	jmp rm_fault

/* Real mode -> 16-bit protected mode (GDT base RM_BASE), then VMMCALL. */
rm_to_pm16:
	lgdtl OFF(rm_gdt_desc)
	mov %cr0, %eax
	or $1, %eax
rm_pm16_wr_cr0:
	mov %eax, %cr0
	ljmp $SEL_CODE16, $OFF(pm16)
pm16:
	mov $SEL_DATA16, %ax
	mov %ax, %ds
	mov %ax, %ss
pm16_vmmcall:
	vmmcall
	hlt

/*
 * Real mode -> 32-bit protected mode -> paging: EBX = CR3, ECX = CR4 (PAE
 * or not), both set by L1.  Then VMMCALL.
 */
rm_to_pm32:
	lgdtl OFF(rm_gdt_desc)
	mov %cr0, %eax
	or $1, %eax
rm_pm32_wr_cr0:
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $(RM_BASE + OFF(pm32))
	.code32
pm32:
	mov $SEL_DATA32, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $(RM_BASE + 0xfff0), %esp
	mov %ecx, %cr4
	mov %ebx, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
pm32_wr_cr0:
	mov %eax, %cr0
pm32_vmmcall:
	vmmcall
	hlt
	.code16

/* LMSW setting CR0.PE (it cannot clear it), then VMMCALL. */
rm_lmsw:
	smsw %ax
	or $1, %ax
rm_lmsw_insn:
	lmsw %ax
	vmmcall
	hlt

/* MOV to CR0 changing TS only, then VMMCALL. */
rm_cr0_ts:
	mov %cr0, %eax
	or $8, %eax
	mov %eax, %cr0
rm_ts_vmmcall:
	vmmcall
	hlt

	.balign 8
rm_gdt:
	.quad 0
	.quad 0x00009b030000ffff        /* 0x08 code, 16-bit, base RM_BASE */
	.quad 0x000093030000ffff        /* 0x10 data, 16-bit, base RM_BASE */
	.quad 0x00cf9b000000ffff        /* 0x18 code, 32-bit, flat */
	.quad 0x00cf93000000ffff        /* 0x20 data, 32-bit, flat */
rm_gdt_end:
rm_gdt_desc:
	.word rm_gdt_end - rm_gdt - 1
	.long RM_BASE + OFF(rm_gdt)
	.balign 2
rm_ud_count:	.word 0
rm_ud_ip:	.word 0
rm_ud_cs:	.word 0
rm_ud_flags:	.word 0
rm_blob_end:
	.code64
