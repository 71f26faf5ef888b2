/* The demo payload, embedded so that `nsvm run` without a payload boots it.
 * The build makes build/guest/demo.elf before this file is assembled. */
	.section .rodata
	.balign 16
	.globl nsvm_demo_elf, nsvm_demo_elf_end
nsvm_demo_elf:
	.incbin "build/guest/demo.elf"
nsvm_demo_elf_end:

	.section .note.GNU-stack, "", @progbits
