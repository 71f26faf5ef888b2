/*
 * System-management mode (APM vol. 2, chapter 10; RSM in vol. 3): a
 * self-SMI from the local APIC (ICR delivery mode 2) enters SMM at
 * SMBASE + 0x8000 with the interrupted state in the AMD64 state-save area
 * at SMBASE + 0xFE00; RSM resumes exactly where the SMI struck, with every
 * register as it was.  SMIs wait while GIF = 0 and while in SMM; RSM
 * relocates SMBASE from the save area; RSM outside SMM is #UD.
 *
 * Under a CPU without the SMM_BASE MSR (QEMU TCG) the SMM tests are
 * skipped: the handler could not be placed where the SMI would run it.
 */
#include "smm_util.h"

#define INCS 16   /* inc %r12 after the SMI is sent: 3 bytes each */

static const char *const smm_tests[] = {
	"SMBASE after reset is 0x30000",
	"SMI enters SMM once and RSM resumes at the interrupted instruction",
	"save area: RIP, RSP, RFLAGS and the general registers",
	"save area: CR0, CR3, CR4, EFER, DR7",
	"save area: segments, GDTR, IDTR, TR",
	"save area: revision identifier and SMBASE",
	"SMI while GIF = 0 is taken after STGI",
	"SMI in SMM waits for RSM",
	"SMBASE relocation through the save area",
};

static uint64_t smbase;

struct regs {
	uint64_t gpr[16];   /* RAX ... R15 */
	uint64_t rip_start, rflags;
};

/*
 * Sends a self-SMI with known values in the registers, then INCS times
 * inc %r12: the SMI strikes at one of those instruction boundaries.
 * smm_regs.gpr holds the registers after the sequence (R12 = INCS when
 * each inc ran exactly once).
 */
struct regs smm_regs;

static void smi_with_registers(struct regs *out)
{
	asm volatile(
		"push %%rbp\n"
		"mov %%rsp, smm_regs+32(%%rip)\n"
		"mov $0x1111111111111111, %%rcx\n"
		"mov $0x2222222222222222, %%rdx\n"
		"mov $0x3333333333333333, %%rbx\n"
		"mov $0x5555555555555555, %%rbp\n"
		"mov $0x6666666666666666, %%rsi\n"
		"mov $0x7777777777777777, %%rdi\n"
		"mov $0x8888888888888888, %%r8\n"
		"mov $0x9999999999999999, %%r9\n"
		"mov $0xaaaaaaaaaaaaaaaa, %%r10\n"
		"mov $0xbbbbbbbbbbbbbbbb, %%r11\n"
		"xor %%r12d, %%r12d\n"
		"mov $0xdddddddddddddddd, %%r13\n"
		"mov $0xeeeeeeeeeeeeeeee, %%r14\n"
		"mov $0xffffffffffffffff, %%r15\n"
		"pushf\n"
		"pop %%rax\n"
		"mov %%rax, smm_regs+136(%%rip)\n"
		"lea 1f(%%rip), %%rax\n"
		"mov %%rax, smm_regs+128(%%rip)\n"
		"mov $0x40200, %%eax\n"             /* ICR: self, SMI */
		"movabs %%eax, 0xfee00300\n"
		"1:\n"
		".rept 16\n"
		"inc %%r12\n"
		".endr\n"
		"mov %%rax, smm_regs+0(%%rip)\n"
		"mov %%rcx, smm_regs+8(%%rip)\n"
		"mov %%rdx, smm_regs+16(%%rip)\n"
		"mov %%rbx, smm_regs+24(%%rip)\n"
		"mov %%rbp, smm_regs+40(%%rip)\n"
		"mov %%rsi, smm_regs+48(%%rip)\n"
		"mov %%rdi, smm_regs+56(%%rip)\n"
		"mov %%r8, smm_regs+64(%%rip)\n"
		"mov %%r9, smm_regs+72(%%rip)\n"
		"mov %%r10, smm_regs+80(%%rip)\n"
		"mov %%r11, smm_regs+88(%%rip)\n"
		"mov %%r12, smm_regs+96(%%rip)\n"
		"mov %%r13, smm_regs+104(%%rip)\n"
		"mov %%r14, smm_regs+112(%%rip)\n"
		"mov %%r15, smm_regs+120(%%rip)\n"
		"pop %%rbp\n"
		::: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10",
		    "r11", "r12", "r13", "r14", "r15", "memory", "cc");
	*out = smm_regs;
}

/* The registers smi_with_registers() loads (register n: n repeated),
 * RSP and R12 aside; RAX holds the ICR value. */
static uint64_t pattern(unsigned n)
{
	return n == 0 ? 0x40200 : 0x1111111111111111ull * n;
}

static void test_entry_and_rsm(void)
{
	struct regs r;
	smm_install(smbase);
	smi_with_registers(&r);

	uint64_t rip = smm_save64(smbase, SS_RIP);
	uint64_t done = (rip - r.rip_start) / 3;   /* incs before the SMI */
	bool at_boundary = rip >= r.rip_start && rip <= r.rip_start + 3 * INCS &&
			   (rip - r.rip_start) % 3 == 0;
	bool resumed = *smm_var(smbase, SMM_COUNT) == 1 && r.gpr[12] == INCS;
	for (unsigned n = 0; n < 16; n++)
		if (n != 4 && n != 12 && r.gpr[n] != pattern(n))
			resumed = false;
	if (!resumed || !at_boundary)
		report_fail(smm_tests[1], "count %u, r12 %llu, rip 0x%llx from 0x%llx",
			    *smm_var(smbase, SMM_COUNT), (unsigned long long)r.gpr[12],
			    (unsigned long long)rip, (unsigned long long)r.rip_start);
	else
		report_pass(smm_tests[1]);

	bool saved = at_boundary && smm_save64(smbase, SS_GPR(12)) == done &&
		     smm_save64(smbase, SS_GPR(4)) == r.gpr[4] &&
		     ((smm_save64(smbase, SS_RFLAGS) ^ r.rflags) & ~0x8d5ull) == 0;
	for (unsigned n = 0; n < 16; n++)
		if (n != 4 && n != 12 && smm_save64(smbase, SS_GPR(n)) != pattern(n))
			saved = false;
	report(saved, smm_tests[2]);

	uint64_t dr7;
	asm volatile("mov %%dr7, %0" : "=r"(dr7));
	report(smm_save64(smbase, SS_CR0) == read_cr0() &&
	       smm_save64(smbase, SS_CR3) == read_cr3() &&
	       smm_save64(smbase, SS_CR4) == read_cr4() &&
	       smm_save64(smbase, SS_EFER) == rdmsr(MSR_EFER) &&
	       smm_save64(smbase, SS_DR7) == dr7, smm_tests[3]);
}

/* A segment in the save area: selector, the descriptor's attribute bits
 * (type/S/DPL/P 7:0, AVL/L/D/G 15:12; the accessed bit aside), base. */
static bool seg_saved(unsigned off, uint16_t sel, uint64_t base)
{
	uint64_t desc = gdt64[sel >> 3];
	unsigned ar = (unsigned)(desc >> 40) & 0xf0ff;
	return smm_save16(smbase, off) == sel &&
	       ((smm_save16(smbase, off + 2) ^ ar) & 0xf0fe) == 0 &&
	       smm_save64(smbase, off + 8) == base;
}

static void test_segments(void)
{
	struct desc_ptr gdtr, idtr;
	uint16_t ds, es;

	sgdt(&gdtr);
	sidt(&idtr);
	asm volatile("mov %%ds, %0; mov %%es, %1" : "=r"(ds), "=r"(es));
	smm_install(smbase);
	self_smi();
	smm_settle();
	bool ok = seg_saved(SS_CS, read_cs(), 0) &&
		  smm_save16(smbase, SS_SS) == read_ss() &&
		  smm_save16(smbase, SS_DS) == ds &&
		  smm_save16(smbase, SS_ES) == es &&
		  smm_save16(smbase, SS_GDTR_LIMIT) == gdtr.limit &&
		  smm_save64(smbase, SS_GDTR_BASE) == gdtr.base &&
		  smm_save16(smbase, SS_IDTR_LIMIT) == idtr.limit &&
		  smm_save64(smbase, SS_IDTR_BASE) == idtr.base &&
		  smm_save16(smbase, SS_TR) == str();
	report(ok, smm_tests[4]);
	/* bit 17: SMBASE relocation; 15:0: 0x64, the AMD64 format */
	uint32_t rev = smm_save32(smbase, SS_REVISION);
	report((rev & (1u << 17)) && (rev & 0xffff) == 0x64 &&
	       smm_save32(smbase, SS_SMBASE) == smbase, smm_tests[5]);
}

static void test_gif(void)
{
	smm_install(smbase);
	if (!svm_supported()) {
		report_skip(smm_tests[6], "no SVM: no CLGI");
		return;
	}
	clgi();
	self_smi();
	smm_settle();
	unsigned held = *smm_var(smbase, SMM_COUNT);
	stgi();
	smm_settle();
	unsigned taken = *smm_var(smbase, SMM_COUNT);
	if (held == 0 && taken == 1)
		report_pass(smm_tests[6]);
	else
		report_fail(smm_tests[6], "held %u, taken %u", held, taken);
}

/* The handler sends a second SMI: it is taken after RSM, from outside
 * SMM, so the save area holds this code's state the second time. */
static void test_smi_in_smm(void)
{
	smm_install(smbase);
	*smm_var(smbase, SMM_RESEND) = 1;
	self_smi();
	smm_settle();
	bool outside = (smm_save64(smbase, SS_CR0) & 1) &&
		       smm_save64(smbase, SS_RIP) > PAYLOAD_BASE;
	if (*smm_var(smbase, SMM_COUNT) == 2 && outside)
		report_pass(smm_tests[7]);
	else
		report_fail(smm_tests[7], "count %u, saved CR0 0x%llx RIP 0x%llx",
			    *smm_var(smbase, SMM_COUNT),
			    (unsigned long long)smm_save64(smbase, SS_CR0),
			    (unsigned long long)smm_save64(smbase, SS_RIP));
}

/* SMBASE moves to 0x50000 through the save area, then back. */
static void test_relocation(void)
{
	const uint64_t moved = 0x50000;

	smm_install(smbase);
	smm_install(moved);
	*smm_var(smbase, SMM_RELOCATE) = (uint32_t)moved;
	self_smi();
	smm_settle();
	uint64_t msr_after = smm_base();
	self_smi();
	smm_settle();
	bool ok = *smm_var(smbase, SMM_COUNT) == 1 &&
		  *smm_var(moved, SMM_COUNT) == 1 && msr_after == moved &&
		  smm_save32(moved, SS_SMBASE) == moved;
	*smm_var(moved, SMM_RELOCATE) = (uint32_t)smbase;
	self_smi();
	smm_settle();
	ok = ok && smm_base() == smbase && *smm_var(moved, SMM_COUNT) == 2;
	report(ok, smm_tests[8]);
}

static void test_rsm_ud(void)
{
	ex_fixup_reset();
	asm volatile("1: rsm\n2:\n\t" ASM_EXTABLE("1b", "2b") ::: "memory");
	report_eq("RSM outside SMM is #UD", (uint64_t)ex_fixup_vector, UD_VECTOR);
}

int main(void)
{
	test_rsm_ud();
	smbase = smm_base();
	if (!feature_or_skip(smbase != 0 && apic_setup("SMI"), smm_tests,
			     ARRAY_SIZE(smm_tests), "no SMM_BASE MSR or no local APIC"))
		return report_summary();
	report_eq(smm_tests[0], smbase, SMM_DEFAULT_BASE);
	/* EFER.SVME clear: the save area holds EFER as this level sees it,
	 * also nested, where L0 keeps the hardware's SVME set */
	test_entry_and_rsm();
	test_segments();
	if (svm_supported())
		svm_enable();   /* CLGI and STGI */
	test_gif();
	test_smi_in_smm();
	test_relocation();
	return report_summary();
}
