/*
 * Multiboot v1 entry: 32-bit protected mode -> long mode, then main().
 *
 * The loader enters at _start with EAX = 0x2BADB002, EBX = multiboot info,
 * flat 32-bit segments, paging off. Before .bss is zeroed (the info may lie
 * anywhere) the fields we need and the command line are copied to .data.
 */
#include "libguest.h"

#define MB_MAGIC        0x1badb002
#define MB_FLAGS        0x00000003      /* page-align modules, memory info */
#define MB_BOOT_MAGIC   0x2badb002
#define MB_INFO_CMDLINE (1 << 2)
#define CMDLINE_MAX     511

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.data
	.balign 8
	.globl mb_flags, mb_mem_upper, mb_info_phys, mb_cmdline
mb_info_phys:	.quad 0
mb_flags:	.long 0
mb_mem_upper:	.long 0
mb_cmdline:	.fill CMDLINE_MAX + 1, 1, 0

	.balign 16
	.globl gdt64
gdt64:
	.quad 0                         /* 0x00 null */
	.quad 0x00af9b000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff        /* 0x10 kernel data */
	.quad 0x00cffb000000ffff        /* 0x18 user code, 32-bit */
	.quad 0x00cff3000000ffff        /* 0x20 user data */
	.quad 0x00affb000000ffff        /* 0x28 user code, 64-bit */
	.quad 0, 0                      /* 0x30 TSS, filled by desc_init() */
	.quad 0x00cf9b000000ffff        /* 0x40 kernel code, 32-bit */
	.fill GDT_ENTRIES - 9, 8, 0     /* 0x48.. free */
gdt64_end:
gdt_desc:
	.word gdt64_end - gdt64 - 1
	.quad gdt64

	.bss
	.balign 4096
	.globl pml4, pdpt, pd
pml4:	.fill 4096, 1, 0
pdpt:	.fill 4096, 1, 0
pd:	.fill 4 * 4096, 1, 0            /* four PDs: 0..4 GiB */
	.balign 16
	.fill 32768, 1, 0
boot_stack_top:

	.text
	.code32
	.globl _start
_start:
	cli
	cld
	cmp $MB_BOOT_MAGIC, %eax
	jne 2f
	mov %ebx, mb_info_phys
	mov (%ebx), %eax
	mov %eax, mb_flags
	mov 8(%ebx), %edx               /* mem_upper (flags bit 0) */
	mov %edx, mb_mem_upper
	test $MB_INFO_CMDLINE, %eax
	jz 2f
	mov 16(%ebx), %esi
	mov $mb_cmdline, %edi
	mov $CMDLINE_MAX, %ecx
1:	lodsb
	test %al, %al
	jz 2f
	stosb
	loop 1b
2:
	/* zero .bss (page tables and stacks live there) */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	/* identity map 0..4 GiB: PML4[0] -> PDPT[0..3] -> PD with 2 MiB pages */
	mov $pdpt + 7, %eax
	mov %eax, pml4
	mov $pd + 7, %eax
	xor %ecx, %ecx
3:	mov %eax, pdpt(, %ecx, 8)
	add $4096, %eax
	inc %ecx
	cmp $4, %ecx
	jb 3b
	xor %ecx, %ecx
4:	mov %ecx, %eax
	shl $21, %eax
	or $0x87, %eax                  /* P | W | U | PS */
	mov %eax, pd(, %ecx, 8)
	mov %ecx, %edx
	shr $11, %edx
	mov %edx, pd + 4(, %ecx, 8)
	inc %ecx
	cmp $2048, %ecx
	jb 4b

	lgdt gdt_desc
	mov %cr4, %eax
	or $0x20, %eax                  /* CR4.PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x900, %eax                 /* EFER.LME | EFER.NXE */
	wrmsr
	mov %cr0, %eax
	or $0x80010021, %eax            /* CR0.PG | CR0.WP | CR0.NE | CR0.PE */
	mov %eax, %cr0
	ljmp $KERNEL_CS, $start64

	.code64
start64:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	call __libguest_init
	call main
	mov %eax, %edi
	call exit
5:	hlt
	jmp 5b
