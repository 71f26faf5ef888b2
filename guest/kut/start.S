/*
 * kut_boot entry: a multiboot v1 kernel in the shape of kvm-unit-tests'
 * x86_64 kernels (header flags 0, entered in 32-bit protected mode, its own
 * GDT and page tables, long mode, then C).  Unlike guest/lib it does not
 * zero its BSS: the loader must (multiboot 3.1.3, p_memsz > p_filesz), and
 * its page tables live there.
 *
 * The entry state the loader gave is recorded first (entry_*) for
 * kut_main() to check against multiboot 3.2.
 */
#define MB_MAGIC      0x1badb002
#define MB_FLAGS      0x0
#define MSR_EFER      0xc0000080
#define MSR_GS_BASE   0xc0000101
#define KUT_CS        0x08
#define KUT_DS        0x10
#define KUT_TSS       0x18

	.section .init, "ax"
	.code32
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.globl start
start:
	mov %eax, entry_eax
	mov %ebx, entry_ebx
	mov $stack_top, %esp
	pushf
	pop %eax
	mov %eax, entry_eflags
	mov %cr0, %eax
	mov %eax, entry_cr0
	mov %cr4, %eax
	mov %eax, entry_cr4
	mov $MSR_EFER, %ecx
	rdmsr
	mov %eax, entry_efer
	mov %cs, %ax
	mov %ax, entry_cs
	mov %ds, %ax
	mov %ax, entry_ds

	/* per-CPU area in GS_BASE, as kvm-unit-tests keeps it */
	mov $percpu, %eax
	xor %edx, %edx
	mov $MSR_GS_BASE, %ecx
	wrmsr

	lgdt gdt_desc
	mov $KUT_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss

	/* 0..4 GiB identity, 2 MiB pages: PML4 -> PDPT -> four PDs */
	mov $pdpt + 3, %eax
	mov %eax, pml4
	mov $pds + 3, %eax
	xor %ecx, %ecx
1:	mov %eax, pdpt(, %ecx, 8)
	add $4096, %eax
	inc %ecx
	cmp $4, %ecx
	jb 1b
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax                  /* P | R/W | PS */
	mov %eax, pds(, %ecx, 8)
	mov %ecx, %edx
	shr $11, %edx
	mov %edx, pds + 4(, %ecx, 8)
	inc %ecx
	cmp $2048, %ecx
	jb 2b

	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $0x100, %eax                 /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax            /* PG | PE */
	mov %eax, %cr0
	ljmp $KUT_CS, $start64

	.code64
start64:
	mov $KUT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov $stack_top, %rsp
	mov entry_ebx(%rip), %edi
	call kut_main
	mov %eax, %edi
	call kut_exit
3:	hlt
	jmp 3b

/* Exception stubs: vector and error code (0 when the CPU pushes none). */
#define HAS_ERROR(n) ((n) == 8 || ((n) >= 10 && (n) <= 14) || (n) == 17 || \
		      (n) == 21 || (n) == 29 || (n) == 30)
	.macro stub n
	.balign 16
exc_\n:
	.if !HAS_ERROR(\n)
	push $0
	.endif
	push $\n
	jmp exc_common
	.endm

	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \n
	.endr

exc_common:
	mov 0(%rsp), %rdi               /* vector */
	mov 8(%rsp), %rsi               /* error code */
	mov 16(%rsp), %rdx              /* rip */
	and $-16, %rsp
	call kut_exception
4:	hlt
	jmp 4b

	.section .rodata
	.balign 8
	.globl exc_stubs
exc_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc_\n
	.endr

	.data
	.balign 8
	.globl entry_eax, entry_ebx, entry_eflags, entry_cr0, entry_cr4
	.globl entry_efer, entry_cs, entry_ds, gdt, percpu
entry_eax:	.long 0
entry_ebx:	.long 0
entry_eflags:	.long 0
entry_cr0:	.long 0
entry_cr4:	.long 0
entry_efer:	.long 0
entry_cs:	.word 0
entry_ds:	.word 0

	.balign 16
gdt:
	.quad 0
	.quad 0x00af9b000000ffff        /* 0x08 code, 64-bit */
	.quad 0x00cf93000000ffff        /* 0x10 data */
	.quad 0, 0                      /* 0x18 TSS (16 bytes), kut_main */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.bss
	.balign 4096
pml4:	.fill 4096, 1, 0
pdpt:	.fill 4096, 1, 0
pds:	.fill 4 * 4096, 1, 0
percpu:	.fill 4096, 1, 0
	.fill 16384, 1, 0
stack_top:
