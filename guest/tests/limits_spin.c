/*
 * A guest that never ends by itself, for tests/limits.sh: with the word
 * `spin=N` on its command line (nsvm --append) it keeps the machine busy in
 * one of the ways an untrusted guest can, and nsvm's limits must stop it
 * with their documented exit status (--max-insns 128, --timeout 129,
 * HLT with interrupts off 131).
 *
 *   spin=1  L1 jumps to itself, interrupts off
 *   spin=2  L2 jumps to itself, interrupts off, L1 intercepting only what
 *           VMRUN requires
 *   spin=3  L1's #UD gate points at a UD2 on an IST stack: exceptions are
 *           delivered forever and no instruction ever retires
 *   spin=4  the same in L2 (L1 does not intercept #UD)
 *   spin=5  L1 halts with interrupts off
 *   spin=6  L1 checks the RAM it was given: memkb=K says how much
 *           (--mem), the multiboot memory map must say so, the last byte
 *           is RAM and the byte after it reads as open bus
 *   spin=7  L1: REP MOVSB of 2^64 - 1 bytes from open bus to open bus
 *           (above RAM), the slowest instruction there is, again and again
 *   spin=8  L2: REP LODSQ of 2^64 - 1 quadwords from open bus
 *
 * Without spin= it only checks that its L2 set-up works and passes, so the
 * ordinary payload suites run it too.
 */
#include "svm.h"

static struct svm_vcpu vcpu;

static const uint8_t JMP_SELF[] = { 0xeb, 0xfe };
static const uint8_t UD2[] = { 0x0f, 0x0b };

/* L1's IDT gate for vector: a 64-bit interrupt gate, DPL 0, to target on
 * IST stack ist. */
static void set_raw_gate(int vector, uint64_t target, unsigned ist)
{
	struct desc_ptr idtr;
	uint32_t *g;

	asm volatile("sidt %0" : "=m"(idtr));
	g = (uint32_t *)(idtr.base + (uint64_t)vector * 16);
	g[0] = (uint32_t)(target & 0xffff) | ((uint32_t)KERNEL_CS << 16);
	g[1] = (uint32_t)(target & 0xffff0000) | 0x8e00u | (ist & 7);
	g[2] = (uint32_t)(target >> 32);
	g[3] = 0;
}

/* #UD delivered to a handler that is UD2, on an IST stack of its own, so
 * that every delivery finds the same state: a livelock of deliveries. */
static void ud_storm_gate(uint64_t ud2_address)
{
	tss.ist[2] = (uint64_t)alloc_page() + PAGE_SIZE;
	set_raw_gate(UD_VECTOR, ud2_address, 2);
}

/* mov esi, 0xf0000000; nop; nop; mov rdi, rsi; mov rcx, -1; cld;
 * rep movsb / rep lodsq, then jump back to the REP */
static const uint8_t REP_MOVSB[] = {
	0xbe, 0x00, 0x00, 0x00, 0xf0, 0x90, 0x90, 0x48, 0x89, 0xf7,
	0x48, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff, 0xfc, 0xf3, 0xa4, 0xeb, 0xfc,
};
static const uint8_t REP_LODSQ[] = {
	0xbe, 0x00, 0x00, 0x00, 0xf0, 0x90, 0x90, 0x48, 0x89, 0xf7,
	0x48, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff, 0xfc, 0xf3, 0x48, 0xad,
	0xeb, 0xfb,
};

static void spin_l2(const uint8_t *code, size_t len)
{
	svm_enable();
	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, code, len);
	svm_vmrun(&vcpu);
	printf("L2 came back: exit %s\n", svm_exit_name(vcpu.vmcb->control.exit_code));
}

static int check_memory(void)
{
	uint64_t kb = 0, upper = multiboot_mem_upper_kb();
	volatile uint8_t *last, *beyond;

	if (!cmdline_get_u64("memkb", &kb)) {
		report_fail("memkb given", "no memkb=K on the command line");
		return report_summary();
	}
	report_eq("multiboot mem_upper is RAM above 1 MiB", upper, kb - 1024);
	last = (volatile uint8_t *)(kb * 1024 - 1);
	beyond = (volatile uint8_t *)(kb * 1024);
	*last = 0x5a;
	report_eq("the last byte of RAM keeps what is written", *last, 0x5a);
	*beyond = 0x5a;
	report_eq("the byte after RAM reads as open bus", *beyond, 0xff);
	return report_summary();
}

int main(void)
{
	uint64_t spin = 0;

	cmdline_get_u64("spin", &spin);
	switch (spin) {
	case 1:
		asm volatile("cli; 1: jmp 1b");
		break;
	case 2:
		spin_l2(JMP_SELF, sizeof(JMP_SELF));
		break;
	case 3: {
		uint8_t *page = alloc_page();
		memcpy(page, UD2, sizeof(UD2));
		ud_storm_gate((uint64_t)page);
		asm volatile("ud2");
		break;
	}
	case 4: {
		spin_l2(UD2, 0);   /* set up L2, then aim it at a UD2 */
		uint64_t ud2 = svm_vcpu_set_code(&vcpu, UD2, sizeof(UD2));
		ud_storm_gate(ud2);
		svm_vmrun(&vcpu);
		break;
	}
	case 5:
		asm volatile("cli; hlt");
		break;
	case 6:
		return check_memory();
	case 7: {
		uint8_t *page = alloc_page();
		memcpy(page, REP_MOVSB, sizeof(REP_MOVSB));
		((void (*)(void))page)();
		break;
	}
	case 8:
		spin_l2(REP_LODSQ, sizeof(REP_LODSQ));
		break;
	default:
		if (svm_skip_if_unsupported())
			return report_summary();
		spin_l2(NULL, 0);
		report_eq("L2 without code ends with VMMCALL", vcpu.vmcb->control.exit_code,
			  SVM_EXIT_VMMCALL);
		return report_summary();
	}
	printf("FAIL: spin=%u ended\n", (unsigned)spin);
	return 1;
}
