/*
 * Decode assists (APM vol. 2, 15.33; CPUID 8000_000A EDX[7]).
 *
 *   MOV CRn/DRn intercepts: EXITINFO1 bit 63 = 1 (a MOV), bits 3:0 = the
 *     GPR; LMSW, CLTS and SMSW report bit 63 = 0 (15.33.1)
 *   INVLPG: EXITINFO1 = the linear address (15.33.3)
 *   INT n: EXITINFO1 = the vector (15.33.2)
 *   intercepted #PF and NPF on a data access: the VMCB's "number of bytes
 *     fetched" (0x0D0) and "guest instruction bytes" (0x0D1-0x0DF) hold up
 *     to 15 bytes from L2's CS:RIP, fewer when the next page cannot be
 *     read; a fault on an instruction fetch and every other exit report
 *     0 bytes (15.33.4)
 */
#include "svm.h"

#define INFO1_MOV (1ull << 63)

static struct svm_vcpu vcpu;
static const char *skip_why;
static uint8_t *data, *code2;   /* a data page; two pages for code at a page end */

static bool skipped(const char *name)
{
	if (skip_why)
		report_skip(name, skip_why);
	return skip_why != NULL;
}

static void run_code(const uint8_t *bytes, size_t len)
{
	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, bytes, len);
}

/* ---- MOV CRn / DRn, LMSW, CLTS, SMSW ---- */

struct crdr_case {
	const char *name;
	uint8_t code[4];
	size_t len;
	unsigned intercept;
	uint64_t exit_code;
	uint64_t info1;          /* bit 63 and the GPR; ~0: only bit 63 clear */
};

static const struct crdr_case crdr_cases[] = {
	{ "MOV from CR0 to R13", { 0x41, 0x0f, 0x20, 0xc5 }, 4, INTERCEPT_CR_READ(0), SVM_EXIT_CR_READ(0), INFO1_MOV | 13 },
	{ "MOV from CR3 to RDX", { 0x0f, 0x20, 0xda }, 3, INTERCEPT_CR_READ(3), SVM_EXIT_CR_READ(3), INFO1_MOV | 2 },
	{ "MOV from CR4 to R15", { 0x41, 0x0f, 0x20, 0xe7 }, 4, INTERCEPT_CR_READ(4), SVM_EXIT_CR_READ(4), INFO1_MOV | 15 },
	{ "MOV from CR8 to RAX", { 0x44, 0x0f, 0x20, 0xc0 }, 4, INTERCEPT_CR_READ(8), SVM_EXIT_CR_READ(8), INFO1_MOV | 0 },
	{ "MOV to CR0 from R9", { 0x41, 0x0f, 0x22, 0xc1 }, 4, INTERCEPT_CR_WRITE(0), SVM_EXIT_CR_WRITE(0), INFO1_MOV | 9 },
	{ "MOV to CR3 from RSI", { 0x0f, 0x22, 0xde }, 3, INTERCEPT_CR_WRITE(3), SVM_EXIT_CR_WRITE(3), INFO1_MOV | 6 },
	{ "MOV to CR4 from R8", { 0x41, 0x0f, 0x22, 0xe0 }, 4, INTERCEPT_CR_WRITE(4), SVM_EXIT_CR_WRITE(4), INFO1_MOV | 8 },
	{ "MOV to CR8 from R10", { 0x45, 0x0f, 0x22, 0xc2 }, 4, INTERCEPT_CR_WRITE(8), SVM_EXIT_CR_WRITE(8), INFO1_MOV | 10 },
	{ "MOV to CR0 from RBP, selective", { 0x0f, 0x22, 0xc5 }, 3, INTERCEPT_CR0_SEL_WRITE, SVM_EXIT_CR0_SEL_WRITE, INFO1_MOV | 5 },
	{ "MOV from DR7 to R11", { 0x41, 0x0f, 0x21, 0xfb }, 4, INTERCEPT_DR_READ(7), SVM_EXIT_DR_READ(7), INFO1_MOV | 11 },
	{ "MOV to DR0 from RDI", { 0x0f, 0x23, 0xc7 }, 3, INTERCEPT_DR_WRITE(0), SVM_EXIT_DR_WRITE(0), INFO1_MOV | 7 },
	{ "MOV to DR6 from R14", { 0x41, 0x0f, 0x23, 0xf6 }, 4, INTERCEPT_DR_WRITE(6), SVM_EXIT_DR_WRITE(6), INFO1_MOV | 14 },
	{ "LMSW (CR0 write): bit 63 clear", { 0x0f, 0x01, 0xf3 }, 3, INTERCEPT_CR_WRITE(0), SVM_EXIT_CR_WRITE(0), ~0ull },
	{ "CLTS (CR0 write): bit 63 clear", { 0x0f, 0x06 }, 2, INTERCEPT_CR_WRITE(0), SVM_EXIT_CR_WRITE(0), ~0ull },
	{ "SMSW (CR0 read): bit 63 clear", { 0x0f, 0x01, 0xe0 }, 3, INTERCEPT_CR_READ(0), SVM_EXIT_CR_READ(0), ~0ull },
};

static void test_crdr(const struct crdr_case *k)
{
	struct svm_check c;
	char name[96];
	uint64_t cr0;

	snprintf(name, sizeof(name), "%s: EXITINFO1", k->name);
	if (skipped(name))
		return;
	run_code(k->code, k->len);
	cr0 = vcpu.vmcb->save.cr0;
	/* the values written change nothing, but for the selective case WP */
	vcpu.regs.r9 = vcpu.regs.rbp = cr0;
	vcpu.regs.rbp ^= CR0_WP;
	vcpu.regs.rsi = vcpu.vmcb->save.cr3;
	vcpu.regs.r8 = vcpu.vmcb->save.cr4;
	vcpu.regs.rbx = cr0 & 0xffff;
	vcpu.regs.rdi = 0;
	vcpu.regs.r14 = 0xffff0ff0;
	vmcb_set_intercept(vcpu.vmcb, k->intercept);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, name);
	svm_check_eq(&c, "exit code", vcpu.vmcb->control.exit_code, k->exit_code);
	if (k->info1 == ~0ull)
		svm_check_eq(&c, "EXITINFO1[63]", vcpu.vmcb->control.exit_info_1 >> 63, 0);
	else
		svm_check_eq(&c, "EXITINFO1", vcpu.vmcb->control.exit_info_1, k->info1);
	svm_check_eq(&c, "bytes fetched", vcpu.vmcb->control.insn_len, 0);
	svm_check_end(&c);
}

/* ---- INVLPG, INT n ---- */

static void test_invlpg_int(void)
{
	/* invlpg 0x10(%rbx); int $0x42 */
	static const uint8_t invlpg[] = { 0x0f, 0x01, 0x7b, 0x10 };
	static const uint8_t intn[] = { 0xcd, 0x42 };
	const char *n1 = "INVLPG 0x10(%rbx): EXITINFO1 = the linear address";
	const char *n2 = "INT 0x42: EXITINFO1 = the vector";

	if (!skipped(n1)) {
		run_code(invlpg, sizeof(invlpg));
		vcpu.regs.rbx = 0x7fff12345670ull;
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_INVLPG);
		svm_vmrun(&vcpu);
		svm_expect_exit(n1, &vcpu, SVM_EXIT_INVLPG, 0x7fff12345680ull, 0);
	}
	if (!skipped(n2)) {
		run_code(intn, sizeof(intn));
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_INTN);
		svm_vmrun(&vcpu);
		svm_expect_exit(n2, &vcpu, SVM_EXIT_SWINT, 0x42, 0);
	}
}

/* ---- instruction bytes on #PF and NPF ---- */

/* mov (%rax), %rbx: a data read of what RAX names */
static const uint8_t load[] = { 0x48, 0x8b, 0x18 };

static void check_bytes(const char *name, uint64_t code, const uint8_t *rip,
			unsigned want_len)
{
	struct svm_check c;
	const struct vmcb_control *ctl = &vcpu.vmcb->control;

	svm_check_begin(&c, name);
	svm_check_eq(&c, "exit code", ctl->exit_code, code);
	svm_check_eq(&c, "bytes fetched", ctl->insn_len, want_len);
	for (unsigned i = 0; i < want_len && i < 15; i++)
		if (ctl->insn_bytes[i] != rip[i]) {
			svm_check_eq(&c, "first differing byte", i, 15);
			break;
		}
	svm_check_end(&c);
}

static void test_pf_bytes(void)
{
	const char *n1 = "#PF on a read: 15 instruction bytes from CS:RIP";
	const char *n2 = "#PF on a read, 8 bytes before a page that is not present: 8 bytes";
	const char *n3 = "#PF on an instruction fetch: no bytes";
	const char *n4 = "VMMCALL after a #PF exit: no bytes";
	uint64_t rip;
	pte_t *pte = get_pte((uint64_t)data), *pte2 = get_pte((uint64_t)code2 + PAGE_SIZE);

	*pte &= ~PTE_P;
	invlpg((uint64_t)data);
	if (!skipped(n1)) {
		run_code(load, sizeof(load));
		vcpu.vmcb->save.rax = (uint64_t)data;
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(PF_VECTOR));
		svm_vmrun(&vcpu);
		check_bytes(n1, SVM_EXIT_EXCP(PF_VECTOR), vcpu.code, 15);
	}
	if (!skipped(n4)) {
		*pte |= PTE_P;
		invlpg((uint64_t)data);
		svm_vmrun(&vcpu);      /* the read completes: then VMMCALL */
		check_bytes(n4, SVM_EXIT_VMMCALL, vcpu.code, 0);
		*pte &= ~PTE_P;
		invlpg((uint64_t)data);
	}
	/* the load and a VMMCALL in the last 8 bytes of a page */
	*pte2 &= ~PTE_P;
	invlpg((uint64_t)code2 + PAGE_SIZE);
	if (!skipped(n2)) {
		rip = (uint64_t)code2 + PAGE_SIZE - 8;
		memcpy((void *)rip, load, sizeof(load));
		memcpy((void *)(rip + 3), "\x0f\x01\xd9\x0f\x0b", 5);
		svm_vcpu_init(&vcpu, NULL);
		vcpu.vmcb->save.rip = rip;
		vcpu.vmcb->save.rax = (uint64_t)data;
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(PF_VECTOR));
		svm_vmrun(&vcpu);
		check_bytes(n2, SVM_EXIT_EXCP(PF_VECTOR), (const uint8_t *)rip, 8);
	}
	if (!skipped(n3)) {
		svm_vcpu_init(&vcpu, NULL);
		vcpu.vmcb->save.rip = (uint64_t)code2 + PAGE_SIZE;
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(PF_VECTOR));
		svm_vmrun(&vcpu);
		check_bytes(n3, SVM_EXIT_EXCP(PF_VECTOR), vcpu.code, 0);
	}
	*pte2 |= PTE_P;
	invlpg((uint64_t)code2 + PAGE_SIZE);
	*pte |= PTE_P;
	invlpg((uint64_t)data);
}

static void test_npf_bytes(void)
{
	const char *n1 = "NPF on a read: 15 instruction bytes from CS:RIP";
	const char *n2 = "NPF on an instruction fetch: no bytes";

	if (!skipped(n1)) {
		run_code(load, sizeof(load));
		svm_npt_enable(&vcpu);
		vcpu.vmcb->save.rax = (uint64_t)data;
		svm_npt_set_flags((uint64_t)data, 0, PTE_P);
		svm_vmrun(&vcpu);
		check_bytes(n1, SVM_EXIT_NPF, vcpu.code, 15);
		svm_npt_reset();
	}
	if (!skipped(n2)) {
		svm_vcpu_init(&vcpu, NULL);
		svm_npt_enable(&vcpu);
		vcpu.vmcb->save.rip = (uint64_t)code2;
		memcpy(code2, "\x0f\x01\xd9", 3);
		svm_npt_set_flags((uint64_t)code2, 0, PTE_P);
		svm_vmrun(&vcpu);
		check_bytes(n2, SVM_EXIT_NPF, code2, 0);
		svm_npt_reset();
	}
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	if (!svm_has(SVM_FEATURE_DECODE_ASSISTS))
		skip_why = "CPUID 0x8000000A EDX[7] DecodeAssists is clear";
	svm_enable();
	data = alloc_page();
	code2 = alloc_pages(2);
	for (size_t i = 0; i < ARRAY_SIZE(crdr_cases); i++)
		test_crdr(&crdr_cases[i]);
	test_invlpg_int();
	test_pf_bytes();
	if (!svm_has(SVM_FEATURE_NP))
		skip_why = "CPUID 0x8000000A EDX[0] NP is clear";
	test_npf_bytes();
	/* DR0 is not part of the world switch: leave it as found */
	asm volatile("mov %0, %%dr0" :: "r"(0ull));
	return report_summary();
}
