/*
 * CR and DR access intercepts (APM vol. 2, 15.8, 15.9; exit codes 0x00-0x3F)
 * and the selective CR0 write intercept (15.8.1, exit 0x65).
 *
 * Every access uses RBX so that, with decode assists (15.33.1), EXITINFO1
 * must be bit 63 (MOV CRn/DRn) | 3 (the GPR number).  Without decode assists
 * EXITINFO1 is not specified and not checked.
 */
#include "svm.h"

#define GPR_RBX 3

static struct svm_vcpu vcpu;

static const unsigned cr_regs[] = { 0, 2, 3, 4, 8 };
static const unsigned dr_regs[] = { 0, 1, 2, 3, 6, 7 };

/* mov %crN/%drN <-> %rbx: [REX.R] 0F 20/21/22/23 modrm(11, N&7, rbx) */
static size_t encode_mov(uint8_t *buf, bool dr, bool write, unsigned n)
{
	size_t i = 0;

	if (n >= 8)
		buf[i++] = 0x44;        /* REX.R */
	buf[i++] = 0x0f;
	buf[i++] = (uint8_t)(0x20 | (dr ? 1 : 0) | (write ? 2 : 0));
	buf[i++] = (uint8_t)(0xc0 | ((n & 7) << 3) | GPR_RBX);
	return i;
}

static uint64_t current_value(bool dr, unsigned n)
{
	const struct vmcb_save *s = &vcpu.vmcb->save;

	if (!dr) {
		switch (n) {
		case 0: return s->cr0;
		case 2: return 0x1234000;
		case 3: return s->cr3;
		case 4: return s->cr4;
		default: return 0;      /* CR8: TPR 0 */
		}
	}
	return n == 6 ? 0xffff0ff0 : n == 7 ? 0x400 : 0;
}

static unsigned intercept_bit(bool dr, bool write, unsigned n)
{
	if (dr)
		return write ? INTERCEPT_DR_WRITE(n) : INTERCEPT_DR_READ(n);
	return write ? INTERCEPT_CR_WRITE(n) : INTERCEPT_CR_READ(n);
}

static uint64_t exit_code_of(bool dr, bool write, unsigned n)
{
	if (dr)
		return write ? SVM_EXIT_DR_WRITE(n) : SVM_EXIT_DR_READ(n);
	return write ? SVM_EXIT_CR_WRITE(n) : SVM_EXIT_CR_READ(n);
}

/* One access in L2, intercepted or not; one report line. */
static void test_access(bool dr, bool write, unsigned n, bool intercept)
{
	uint8_t code[8];
	size_t len = encode_mov(code, dr, write, n);
	uint64_t rip, want_rbx, info1;
	struct svm_check c;
	char name[96];

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, len);
	vcpu.vmcb->save.cr2 = current_value(false, 2);  /* VMRUN loads CR2 */
	vcpu.regs.rbx = write ? current_value(dr, n) : 0x5a5a5a5a;
	want_rbx = write || intercept ? vcpu.regs.rbx : current_value(dr, n);
	if (intercept)
		vmcb_set_intercept(vcpu.vmcb, intercept_bit(dr, write, n));
	svm_vmrun(&vcpu);

	snprintf(name, sizeof(name), "MOV %s %s%u %s", write ? "to" : "from",
		 dr ? "DR" : "CR", n, intercept ? "intercepted" : "not intercepted");
	svm_check_begin(&c, name);
	if (intercept) {
		info1 = svm_has(SVM_FEATURE_DECODE_ASSISTS) ? CRDR_INFO1_MOV | GPR_RBX
							    : vcpu.vmcb->control.exit_info_1;
		svm_check_exit(&c, &vcpu, exit_code_of(dr, write, n), info1, 0);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	} else {
		svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip + len);
	}
	svm_check_eq(&c, "rbx", vcpu.regs.rbx, want_rbx);
	svm_check_end(&c);
	if (intercept)
		svm_check_nrip(name, &vcpu, rip + len);
}

static void test_all_accesses(void)
{
	for (int dr = 0; dr < 2; dr++) {
		const unsigned *regs = dr ? dr_regs : cr_regs;
		size_t count = dr ? ARRAY_SIZE(dr_regs) : ARRAY_SIZE(cr_regs);

		for (size_t i = 0; i < count; i++)
			for (int write = 0; write < 2; write++)
				for (int icpt = 1; icpt >= 0; icpt--)
					test_access(dr, write, regs[i], icpt);
	}
}

/* ---- selective CR0 write (15.8.1) --------------------------------------- */

enum cr0_op { OP_MOV, OP_LMSW, OP_CLTS };

struct sel_case {
	const char *name;
	enum cr0_op op;
	uint64_t flip;          /* CR0 bits changed by the write */
	bool cr0_write;         /* CR0 write intercept (bit 16) set */
	bool selective;         /* selective CR0 write intercept set */
	uint64_t exit_code;     /* VMMCALL: executed without an exit */
};

static const struct sel_case sel_cases[] = {
	{ "selective: MOV to CR0 changing WP exits", OP_MOV, CR0_WP, false, true, SVM_EXIT_CR0_SEL_WRITE },
	{ "selective: MOV to CR0 changing CD exits", OP_MOV, CR0_CD, false, true, SVM_EXIT_CR0_SEL_WRITE },
	{ "selective: MOV to CR0 changing TS only does not exit", OP_MOV, CR0_TS, false, true, SVM_EXIT_VMMCALL },
	{ "selective: MOV to CR0 changing MP only does not exit", OP_MOV, CR0_MP, false, true, SVM_EXIT_VMMCALL },
	{ "selective: MOV to CR0 of the same value does not exit", OP_MOV, 0, false, true, SVM_EXIT_VMMCALL },
	{ "selective: LMSW changing EM exits", OP_LMSW, CR0_EM, false, true, SVM_EXIT_CR0_SEL_WRITE },
	{ "selective: LMSW changing MP only does not exit", OP_LMSW, CR0_MP, false, true, SVM_EXIT_VMMCALL },
	{ "selective: CLTS does not exit", OP_CLTS, CR0_TS, false, true, SVM_EXIT_VMMCALL },
	{ "CR0 write intercept takes priority over selective", OP_MOV, CR0_WP, true, true, SVM_EXIT_CR_WRITE(0) },
	{ "CR0 write intercept: LMSW exits", OP_LMSW, CR0_MP, true, false, SVM_EXIT_CR_WRITE(0) },
	{ "CR0 write intercept: CLTS exits", OP_CLTS, CR0_TS, true, false, SVM_EXIT_CR_WRITE(0) },
	{ "no CR0 intercept: MOV to CR0 changing WP does not exit", OP_MOV, CR0_WP, false, false, SVM_EXIT_VMMCALL },
};

static size_t encode_cr0_op(uint8_t *buf, enum cr0_op op)
{
	switch (op) {
	case OP_MOV:            /* mov %rbx, %cr0 */
		buf[0] = 0x0f; buf[1] = 0x22; buf[2] = 0xc3;
		return 3;
	case OP_LMSW:           /* lmsw %bx */
		buf[0] = 0x0f; buf[1] = 0x01; buf[2] = 0xf3;
		return 3;
	case OP_CLTS:
		buf[0] = 0x0f; buf[1] = 0x06;
		return 2;
	}
	return 0;
}

static void test_selective(const struct sel_case *k)
{
	uint8_t code[4];
	size_t len = encode_cr0_op(code, k->op);
	struct svm_check c;
	uint64_t rip, cr0, want_cr0;
	bool exits = k->exit_code != SVM_EXIT_VMMCALL;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, len);
	cr0 = vcpu.vmcb->save.cr0 & ~(CR0_TS | CR0_MP | CR0_EM | CR0_CD | CR0_NW);
	if (k->op == OP_CLTS)
		cr0 |= CR0_TS;          /* something for CLTS to clear */
	vcpu.vmcb->save.cr0 = cr0;
	vcpu.regs.rbx = cr0 ^ k->flip;
	want_cr0 = exits ? cr0 : cr0 ^ k->flip;
	if (k->cr0_write)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR_WRITE(0));
	if (k->selective)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR0_SEL_WRITE);
	svm_vmrun(&vcpu);

	svm_check_begin(&c, k->name);
	svm_check_exit(&c, &vcpu, k->exit_code, vcpu.vmcb->control.exit_info_1, 0);
	if (exits && k->op == OP_MOV && svm_has(SVM_FEATURE_DECODE_ASSISTS))
		svm_check_eq(&c, "exitinfo1", vcpu.vmcb->control.exit_info_1,
			     CRDR_INFO1_MOV | GPR_RBX);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, exits ? rip : rip + len);
	svm_check_eq(&c, "L2 cr0", vcpu.vmcb->save.cr0, want_cr0);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();

	test_all_accesses();
	for (size_t i = 0; i < ARRAY_SIZE(sel_cases); i++)
		test_selective(&sel_cases[i]);
	/* DR0-3 are not part of the world switch: leave them as found. */
	asm volatile("mov %0, %%dr0; mov %0, %%dr1; mov %0, %%dr2; mov %0, %%dr3"
		     :: "r"(0ull));
	return report_summary();
}
