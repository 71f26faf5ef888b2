/*
 * kut_boot: a kernel of the kvm-unit-tests kind, written for nsvm without
 * guest/lib, that checks what such a kernel asks of the machine at one CPU:
 *   - the multiboot entry state and information (Multiboot 0.6.96, 3.2 and
 *     3.3): EAX magic, 32-bit protected mode with paging and interrupts
 *     off, mem_lower/mem_upper, the command line, no modules, a memory map;
 *   - every PT_LOAD at its physical address, BSS (p_memsz > p_filesz)
 *     zeroed, at 4 MiB and at 16 MiB;
 *   - the command line: "KERNEL ARGS" with ARGS from --append (-append);
 *   - fw_cfg at 0x510: signature, CPU count 1, RAM size;
 *   - GS_BASE, LGDT/LTR of a 64-bit TSS, LIDT, the 8259 masks, the local
 *     APIC at 0xFEE00000 (ID 0, BSP, INIT and SIPI to all others at one
 *     CPU), x2APIC when CPUID offers it;
 *   - COM1 output, the exit status through port 0xf4 (outl).
 * Run with the arguments of tests/expect/kut_boot.append.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kut.h"

#define EXPECTED_ARGS "kut-one two=2 -three"

extern uint32_t entry_eax, entry_ebx, entry_eflags, entry_cr0, entry_cr4;
extern uint32_t entry_efer;
extern uint64_t gdt[];
extern uint8_t percpu[], edata[];
extern uint8_t __highbss_start[], __highbss_end[];

/* Zero-initialised: .bss, which only the loader zeroes. */
static uint8_t bss_probe[65536];
static uint64_t tss[13];
static uint64_t idt[64];
/* Data in the PT_LOAD at 16 MiB, and BSS after it. */
static volatile uint32_t high_magic __attribute__((section(".high"))) = 0x4b555448;
static uint8_t high_bss[65536] __attribute__((section(".highbss")));

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_entry_state(void)
{
	report_eq("entry: EAX = 0x2BADB002", entry_eax, 0x2badb002);
	report_eq("entry: CR0.PE = 1, CR0.PG = 0", entry_cr0 & 0x80000001u, 1);
	report_eq("entry: EFLAGS.IF = 0, EFLAGS.VM = 0", entry_eflags & 0x20200u, 0);
	report_eq("entry: EFER.LME = 0, EFER.LMA = 0", entry_efer & 0x500u, 0);
	report_eq("entry: CR4.PAE = 0", entry_cr4 & 0x20u, 0);
}

static void test_loader(void)
{
	report(all_zero(bss_probe, sizeof(bss_probe)), "BSS at 4 MiB zeroed by the loader");
	report(all_zero(high_bss, sizeof(high_bss)), "BSS at 16 MiB zeroed by the loader");
	report_eq("segment at 16 MiB loaded at its physical address",
		  *(volatile uint32_t *)0x1000000, 0x4b555448);
	report((uintptr_t)&high_magic == 0x1000000 &&
	       (uintptr_t)high_bss >= 0x1000004, "16 MiB segment linked as intended");
}

/* mmap has a type-1 entry covering [start, end). */
static bool mmap_covers(const struct mb_info *mb, uint64_t start, uint64_t end)
{
	uintptr_t p = mb->mmap_addr, stop = p + mb->mmap_length;

	while (p + 24 <= stop) {
		const struct mb_mmap_entry *e = (const void *)p;
		if (e->type == 1 && e->base <= start && e->base + e->length >= end)
			return true;
		p += e->size + 4;
	}
	return false;
}

static void test_mbi(const struct mb_info *mb)
{
	uint64_t top = 0x100000 + (uint64_t)mb->mem_upper * 1024;

	report((mb->flags & 0x45) == 0x45, "mbi flags: memory, cmdline and mmap");
	report(mb->mem_lower >= 512 && mb->mem_lower <= 640, "mbi mem_lower: 512-640 KiB");
	report(top >= (uint64_t)(uintptr_t)__highbss_end,
	       "mbi mem_upper: the kernel's segments lie in RAM");
	report(!(mb->flags & 8) || mb->mods_count == 0, "mbi: no modules (no initrd)");
	report((mb->flags & 0x40) && mmap_covers(mb, 0x400000, (uintptr_t)edata) &&
	       mmap_covers(mb, 0x1000000, (uintptr_t)__highbss_end),
	       "mbi mmap: the kernel's segments lie in available RAM");
}

static void test_cmdline(const struct mb_info *mb)
{
	const char *argv[8];
	int argc = 0;
	char *s = (char *)(uintptr_t)mb->cmdline;
	static char buf[256];

	kut_strlcpy(buf, s, sizeof(buf));
	for (char *p = buf; *p && argc < 8;) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
	printf("cmdline: \"%s\"\n", s);
	report(argc >= 1 && argv[0][0] != '-', "cmdline: argv[0] is the kernel");
	report(argc == 4 && !kut_strcmp(argv[1], "kut-one") &&
	       !kut_strcmp(argv[2], "two=2") && !kut_strcmp(argv[3], "-three"),
	       "cmdline: the arguments are the --append text \"" EXPECTED_ARGS "\"");
}

static void test_fw_cfg(const struct mb_info *mb)
{
	uint64_t ram = fw_cfg_read(0x03, 8), seen = 0x100000 + (uint64_t)mb->mem_upper * 1024;

	report_eq("fw_cfg signature \"QEMU\"", fw_cfg_read(0x00, 4), 0x554d4551);
	report_eq("fw_cfg NB_CPUS = 1", fw_cfg_read(0x05, 2), 1);
	/* QEMU keeps up to 128 KiB at the top of RAM out of mem_upper */
	report(ram >= seen && ram - seen < (1u << 20),
	       "fw_cfg RAM_SIZE: the multiboot memory size, within 1 MiB");
}

int kut_main(uint32_t mbi)
{
	const struct mb_info *mb = (const void *)(uintptr_t)mbi;

	serial_init();
	printf("kut_boot: a kvm-unit-tests-style kernel at 0x%lx, mbi at 0x%x\n",
	       (uint64_t)(uintptr_t)kut_main, mbi);
	test_entry_state();
	test_loader();
	test_mbi(mb);
	test_cmdline(mb);
	test_fw_cfg(mb);
	test_cpu_setup(gdt, tss, sizeof(tss), idt, percpu);
	test_apic();
	return report_summary();
}
