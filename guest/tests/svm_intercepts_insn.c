/*
 * Instruction intercepts (APM vol. 2, 15.9 and the intercept vector words 3
 * and 4 of appendix B): each instruction runs in L2 once with its intercept
 * bit set, which must give #VMEXIT with that exit code, RIP at the
 * instruction, EXITINFO1/2 as specified and nRIP after the instruction; and
 * once with the bit clear, which must execute the instruction without an
 * exit.  Then 15.9's priority rule: a privileged instruction at CPL 3 raises
 * #GP before its intercept is checked, while a memory operand's #PF comes
 * after the intercept.
 */
#include "svm.h"

#define BYTES(...) .code = (const uint8_t[]){ __VA_ARGS__ }, \
	.len = sizeof((const uint8_t[]){ __VA_ARGS__ })

enum info1_kind {
	INFO1_ZERO,     /* EXITINFO1 = 0 */
	INFO1_DA_RAX,   /* with decode assists: the linear address in RAX */
	INFO1_DA_INTN,  /* with decode assists: the INTn vector */
	INFO1_ANY,      /* not specified */
};

struct insn_case {
	const char *name;
	unsigned intercept;
	uint64_t exit_code;
	const uint8_t *code;
	uint8_t len;
	uint8_t off;            /* offset of the intercepted instruction */
	uint8_t insn_len;
	enum info1_kind info1;
	bool (*supported)(void);
	void (*prepare)(struct svm_vcpu *v);
	int untaken_vec;        /* vector L2 takes when not intercepted, -1 none */
	bool no_untaken;        /* would hang or is not interceptable-off */
};

static struct svm_vcpu vcpu;
static uint8_t *scratch;        /* a page L2 instructions may point at */

/* ---- feature checks ---------------------------------------------------- */

static uint32_t cpuid_reg(uint32_t leaf, int reg)
{
	uint32_t r[4], max;

	cpuid(leaf & 0x80000000u, 0, &max, &r[1], &r[2], &r[3]);
	if (leaf > max)
		return 0;
	cpuid(leaf, 0, &r[0], &r[1], &r[2], &r[3]);
	return r[reg];
}

static bool has_rdtscp(void) { return cpuid_reg(0x80000001u, 3) & (1u << 27); }
static bool has_monitor(void) { return cpuid_reg(1, 2) & (1u << 3); }
static bool has_xsave(void) { return cpuid_reg(1, 2) & (1u << 26); }
static bool has_rdpru(void) { return cpuid_reg(0x80000008u, 1) & (1u << 4); }

/* ---- per-case preparation ---------------------------------------------- */

static void rax_scratch(struct svm_vcpu *v)
{
	v->vmcb->save.rax = (uint64_t)scratch;
}

/* VMLOAD/VMSAVE from L2 use a page holding L1's own VMSAVE image. */
static void rax_vmsave_image(struct svm_vcpu *v)
{
	vmsave((uint64_t)scratch);
	v->vmcb->save.rax = (uint64_t)scratch;
}

static void lidt_prepare(struct svm_vcpu *v)
{
	sidt((struct desc_ptr *)scratch);
	v->vmcb->save.rax = (uint64_t)scratch;
}

static void lgdt_prepare(struct svm_vcpu *v)
{
	sgdt((struct desc_ptr *)scratch);
	v->vmcb->save.rax = (uint64_t)scratch;
}

static void invlpga_prepare(struct svm_vcpu *v)
{
	v->vmcb->save.rax = (uint64_t)scratch;
	v->regs.rcx = 1;
}

static void xsetbv_prepare(struct svm_vcpu *v)
{
	v->vmcb->save.cr4 |= 1ull << 18;        /* CR4.OSXSAVE */
	v->vmcb->save.rax = 1;                  /* XCR0 = x87 only */
	v->regs.rcx = 0;
	v->regs.rdx = 0;
}

/* IRETQ frame on L2's stack returning to the instruction after the IRETQ. */
static void iret_prepare(struct svm_vcpu *v)
{
	uint64_t *sp = (uint64_t *)(v->stack_top - 64);
	struct vmcb_save *s = &v->vmcb->save;

	sp[0] = (uint64_t)v->code + 2;
	sp[1] = s->cs.selector;
	sp[2] = 0x2;
	sp[3] = v->stack_top - 16;
	sp[4] = s->ss.selector;
	s->rsp = (uint64_t)sp;
}

/* ---- the table --------------------------------------------------------- */

static const struct insn_case cases[] = {
	{ "CPUID", INTERCEPT_CPUID, SVM_EXIT_CPUID, BYTES(0x0f, 0xa2), 0, 2, INFO1_ZERO, NULL, NULL, -1, false },
	{ "RDTSC", INTERCEPT_RDTSC, SVM_EXIT_RDTSC, BYTES(0x0f, 0x31), 0, 2, INFO1_ZERO, NULL, NULL, -1, false },
	{ "RDTSCP", INTERCEPT_RDTSCP, SVM_EXIT_RDTSCP, BYTES(0x0f, 0x01, 0xf9), 0, 3, INFO1_ZERO, has_rdtscp, NULL, -1, false },
	{ "RDPMC", INTERCEPT_RDPMC, SVM_EXIT_RDPMC, BYTES(0x0f, 0x33), 0, 2, INFO1_ZERO, NULL, NULL, -1, false },
	{ "PUSHF", INTERCEPT_PUSHF, SVM_EXIT_PUSHF, BYTES(0x9c), 0, 1, INFO1_ZERO, NULL, NULL, -1, false },
	/* push $2; popf */
	{ "POPF", INTERCEPT_POPF, SVM_EXIT_POPF, BYTES(0x6a, 0x02, 0x9d), 2, 1, INFO1_ZERO, NULL, NULL, -1, false },
	{ "IRET", INTERCEPT_IRET, SVM_EXIT_IRET, BYTES(0x48, 0xcf), 0, 2, INFO1_ZERO, NULL, iret_prepare, -1, false },
	{ "INTn", INTERCEPT_INTN, SVM_EXIT_SWINT, BYTES(0xcd, 0x80), 0, 2, INFO1_DA_INTN, NULL, NULL, 0x80, false },
	{ "INVD", INTERCEPT_INVD, SVM_EXIT_INVD, BYTES(0x0f, 0x08), 0, 2, INFO1_ZERO, NULL, NULL, -1, false },
	{ "PAUSE", INTERCEPT_PAUSE, SVM_EXIT_PAUSE, BYTES(0xf3, 0x90), 0, 2, INFO1_ZERO, NULL, NULL, -1, false },
	{ "HLT", INTERCEPT_HLT, SVM_EXIT_HLT, BYTES(0xf4), 0, 1, INFO1_ZERO, NULL, NULL, -1, true },
	/* invlpg (%rax) */
	{ "INVLPG", INTERCEPT_INVLPG, SVM_EXIT_INVLPG, BYTES(0x0f, 0x01, 0x38), 0, 3, INFO1_DA_RAX, NULL, rax_scratch, -1, false },
	{ "INVLPGA", INTERCEPT_INVLPGA, SVM_EXIT_INVLPGA, BYTES(0x0f, 0x01, 0xdf), 0, 3, INFO1_ANY, NULL, invlpga_prepare, -1, false },
	{ "VMRUN", INTERCEPT_VMRUN, SVM_EXIT_VMRUN, BYTES(0x0f, 0x01, 0xd8), 0, 3, INFO1_ZERO, NULL, rax_scratch, -1, true },
	{ "VMLOAD", INTERCEPT_VMLOAD, SVM_EXIT_VMLOAD, BYTES(0x0f, 0x01, 0xda), 0, 3, INFO1_ZERO, NULL, rax_vmsave_image, -1, false },
	{ "VMSAVE", INTERCEPT_VMSAVE, SVM_EXIT_VMSAVE, BYTES(0x0f, 0x01, 0xdb), 0, 3, INFO1_ZERO, NULL, rax_vmsave_image, -1, false },
	{ "STGI", INTERCEPT_STGI, SVM_EXIT_STGI, BYTES(0x0f, 0x01, 0xdc), 0, 3, INFO1_ZERO, NULL, NULL, -1, false },
	{ "CLGI", INTERCEPT_CLGI, SVM_EXIT_CLGI, BYTES(0x0f, 0x01, 0xdd), 0, 3, INFO1_ZERO, NULL, NULL, -1, false },
	{ "SKINIT", INTERCEPT_SKINIT, SVM_EXIT_SKINIT, BYTES(0x0f, 0x01, 0xde), 0, 3, INFO1_ZERO, NULL, rax_scratch, -1, true },
	{ "ICEBP", INTERCEPT_ICEBP, SVM_EXIT_ICEBP, BYTES(0xf1), 0, 1, INFO1_ZERO, NULL, NULL, DB_VECTOR, false },
	{ "WBINVD", INTERCEPT_WBINVD, SVM_EXIT_WBINVD, BYTES(0x0f, 0x09), 0, 2, INFO1_ZERO, NULL, NULL, -1, false },
	{ "MONITOR", INTERCEPT_MONITOR, SVM_EXIT_MONITOR, BYTES(0x0f, 0x01, 0xc8), 0, 3, INFO1_ZERO, has_monitor, rax_scratch, -1, false },
	{ "MWAIT", INTERCEPT_MWAIT, SVM_EXIT_MWAIT, BYTES(0x0f, 0x01, 0xc9), 0, 3, INFO1_ZERO, has_monitor, NULL, -1, true },
	{ "XSETBV", INTERCEPT_XSETBV, SVM_EXIT_XSETBV, BYTES(0x0f, 0x01, 0xd1), 0, 3, INFO1_ZERO, has_xsave, xsetbv_prepare, -1, false },
	{ "RDPRU", INTERCEPT_RDPRU, SVM_EXIT_RDPRU, BYTES(0x0f, 0x01, 0xfd), 0, 3, INFO1_ZERO, has_rdpru, NULL, -1, false },
	/* RSM outside SMM is #UD when not intercepted */
	{ "RSM", INTERCEPT_RSM, SVM_EXIT_RSM, BYTES(0x0f, 0xaa), 0, 2, INFO1_ZERO, NULL, NULL, UD_VECTOR, false },
	/* sidt (%rax), sgdt (%rax), sldt %eax, str %eax */
	{ "SIDT", INTERCEPT_IDTR_READ, SVM_EXIT_IDTR_READ, BYTES(0x0f, 0x01, 0x08), 0, 3, INFO1_ZERO, NULL, rax_scratch, -1, false },
	{ "SGDT", INTERCEPT_GDTR_READ, SVM_EXIT_GDTR_READ, BYTES(0x0f, 0x01, 0x00), 0, 3, INFO1_ZERO, NULL, rax_scratch, -1, false },
	{ "SLDT", INTERCEPT_LDTR_READ, SVM_EXIT_LDTR_READ, BYTES(0x0f, 0x00, 0xc0), 0, 3, INFO1_ZERO, NULL, NULL, -1, false },
	{ "STR", INTERCEPT_TR_READ, SVM_EXIT_TR_READ, BYTES(0x0f, 0x00, 0xc8), 0, 3, INFO1_ZERO, NULL, NULL, -1, false },
	/* lidt (%rax), lgdt (%rax) of the current values, lldt %ax (null), ltr %ax */
	{ "LIDT", INTERCEPT_IDTR_WRITE, SVM_EXIT_IDTR_WRITE, BYTES(0x0f, 0x01, 0x18), 0, 3, INFO1_ZERO, NULL, lidt_prepare, -1, false },
	{ "LGDT", INTERCEPT_GDTR_WRITE, SVM_EXIT_GDTR_WRITE, BYTES(0x0f, 0x01, 0x10), 0, 3, INFO1_ZERO, NULL, lgdt_prepare, -1, false },
	{ "LLDT", INTERCEPT_LDTR_WRITE, SVM_EXIT_LDTR_WRITE, BYTES(0x0f, 0x00, 0xd0), 0, 3, INFO1_ZERO, NULL, NULL, -1, false },
	{ "LTR", INTERCEPT_TR_WRITE, SVM_EXIT_TR_WRITE, BYTES(0x0f, 0x00, 0xd8), 0, 3, INFO1_ZERO, NULL, NULL, -1, true },
};

/* ---- running a case ---------------------------------------------------- */

static volatile int l2_vector, l2_vector_count;
static uint64_t l2_insn_rip, l2_insn_len;

/* L2 handler for the vectors an untaken instruction may raise. */
static void l2_event_handler(struct ex_regs *r)
{
	l2_vector = (int)r->vector;
	l2_vector_count++;
	if (r->rip == l2_insn_rip)      /* a fault: step over the instruction */
		r->rip += l2_insn_len;
}

static const int handled_vectors[] = { DB_VECTOR, UD_VECTOR, GP_VECTOR, 0x80 };

static void set_l2_handlers(bool on)
{
	for (size_t i = 0; i < ARRAY_SIZE(handled_vectors); i++)
		set_exception_handler(handled_vectors[i], on ? l2_event_handler : NULL);
}

/* Prepares L2 for case k, runs it, returns the RIP of the instruction. */
static uint64_t run_case(const struct insn_case *k, bool intercept)
{
	uint64_t start;

	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, k->code, k->len);
	if (k->prepare)
		k->prepare(&vcpu);
	if (intercept)
		vmcb_set_intercept(vcpu.vmcb, k->intercept);
	else
		vmcb_clr_intercept(vcpu.vmcb, k->intercept);
	l2_insn_rip = start + k->off;
	l2_insn_len = k->insn_len;
	l2_vector = -1;
	l2_vector_count = 0;
	set_l2_handlers(true);
	svm_vmrun(&vcpu);
	set_l2_handlers(false);
	return start + k->off;
}

static uint64_t want_info1(const struct insn_case *k, bool *check)
{
	bool da = svm_has(SVM_FEATURE_DECODE_ASSISTS);

	*check = true;
	switch (k->info1) {
	case INFO1_ZERO:
		return 0;
	case INFO1_DA_RAX:
		*check = da;
		return (uint64_t)scratch;
	case INFO1_DA_INTN:
		*check = da;
		return k->code[k->off + 1];
	case INFO1_ANY:
		break;
	}
	*check = false;
	return 0;
}

static void test_taken(const struct insn_case *k)
{
	struct svm_check c;
	char name[96];
	uint64_t rip = run_case(k, true);
	bool check_info1;
	uint64_t info1 = want_info1(k, &check_info1);

	snprintf(name, sizeof(name), "%s intercepted: #VMEXIT(0x%lx)", k->name, k->exit_code);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, k->exit_code,
		       check_info1 ? info1 : vcpu.vmcb->control.exit_info_1, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(&c, "L2 events", (uint64_t)l2_vector_count, 0);
	svm_check_end(&c);
	svm_check_nrip(name, &vcpu, rip + k->insn_len);
}

static void test_untaken(const struct insn_case *k)
{
	struct svm_check c;
	char name[96];

	run_case(k, false);
	snprintf(name, sizeof(name), "%s not intercepted: executes in L2", k->name);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, (uint64_t)vcpu.code + k->len);
	if (k->untaken_vec >= 0) {
		svm_check_eq(&c, "L2 vector", (uint64_t)l2_vector, (uint64_t)k->untaken_vec);
		svm_check_eq(&c, "L2 vector count", (uint64_t)l2_vector_count, 1);
	} else {
		svm_check_eq(&c, "L2 events", (uint64_t)l2_vector_count, 0);
	}
	svm_check_end(&c);
}

static void test_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct insn_case *k = &cases[i];

		if (k->supported && !k->supported()) {
			report_skip(k->name, "not advertised by CPUID");
			continue;
		}
		test_taken(k);
		if (!k->no_untaken)
			test_untaken(k);
	}
}

/* ---- 15.9: simple exceptions before the intercept, #PF after ----------- */

struct prio_case {
	const char *name;
	unsigned intercept;
	const uint8_t *code;
	uint8_t len;
	void (*prepare)(struct svm_vcpu *v);
};

static void rax_unmapped(struct svm_vcpu *v)
{
	v->vmcb->save.rax = 0x700000000000ull;  /* canonical, not mapped */
}

static const struct prio_case cpl3_cases[] = {
	{ "HLT", INTERCEPT_HLT, BYTES(0xf4), NULL },
	{ "INVD", INTERCEPT_INVD, BYTES(0x0f, 0x08), NULL },
	{ "WBINVD", INTERCEPT_WBINVD, BYTES(0x0f, 0x09), NULL },
	{ "INVLPG", INTERCEPT_INVLPG, BYTES(0x0f, 0x01, 0x38), rax_scratch },
	{ "LIDT", INTERCEPT_IDTR_WRITE, BYTES(0x0f, 0x01, 0x18), lidt_prepare },
	{ "CLGI", INTERCEPT_CLGI, BYTES(0x0f, 0x01, 0xdd), NULL },
	{ "VMLOAD", INTERCEPT_VMLOAD, BYTES(0x0f, 0x01, 0xda), rax_vmsave_image },
};

/* At CPL 3 with the intercept and #GP intercepted: #VMEXIT(#GP), error 0. */
static void test_cpl3_gp_first(const struct prio_case *k)
{
	struct svm_check c;
	char name[96];
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, k->code, k->len);
	svm_vcpu_set_user(&vcpu);
	if (k->prepare)
		k->prepare(&vcpu);
	vmcb_set_intercept(vcpu.vmcb, k->intercept);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(GP_VECTOR));
	svm_vmrun(&vcpu);
	snprintf(name, sizeof(name), "%s at CPL 3 intercepted: #GP before the intercept", k->name);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(GP_VECTOR), 0, vcpu.vmcb->control.exit_info_2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_end(&c);
}

/* A memory operand that would #PF: the intercept comes first. */
static void test_intercept_before_pf(void)
{
	static const uint8_t lidt_rax[] = { 0x0f, 0x01, 0x18 };
	struct svm_check c;
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, lidt_rax, sizeof(lidt_rax));
	rax_unmapped(&vcpu);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IDTR_WRITE);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(PF_VECTOR));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "LIDT of an unmapped operand intercepted: intercept before #PF");
	svm_check_exit(&c, &vcpu, SVM_EXIT_IDTR_WRITE, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	scratch = alloc_page();

	test_cases();
	for (size_t i = 0; i < ARRAY_SIZE(cpl3_cases); i++)
		test_cpl3_gp_first(&cpl3_cases[i]);
	test_intercept_before_pf();
	return report_summary();
}
