/*
 * MSR intercepts through the MSR permission map (APM vol. 2, 15.11): two
 * bits per MSR, the even one for RDMSR and the odd one for WRMSR, in three
 * 2 KiB ranges (0000_0000-0000_1FFF at byte 0, C000_0000-C000_1FFF at 0x800,
 * C001_0000-C001_1FFF at 0x1000).  An MSR outside the ranges is always
 * intercepted.  EXITINFO1 = 0 for RDMSR, 1 for WRMSR; nRIP = RIP + 2.
 */
#include "svm.h"

enum access { RD, WR };

struct msr_case {
	const char *name;
	uint32_t msr;           /* in ECX */
	enum access access;
	bool rd_bit, wr_bit;    /* MSRPM bits set for msr (or bits_msr) */
	uint32_t bits_msr;      /* MSR whose bits are set (0: msr itself) */
	bool prot;              /* MSR_PROT intercept */
	bool exits;
};

static const struct msr_case cases[] = {
	/* range 0 */
	{ "RDMSR SYSENTER_CS, read bit set", MSR_SYSENTER_CS, RD, true, false, 0, true, true },
	{ "RDMSR SYSENTER_CS, write bit set", MSR_SYSENTER_CS, RD, false, true, 0, true, false },
	{ "WRMSR SYSENTER_CS, write bit set", MSR_SYSENTER_CS, WR, false, true, 0, true, true },
	{ "WRMSR SYSENTER_CS, read bit set", MSR_SYSENTER_CS, WR, true, false, 0, true, false },
	{ "RDMSR SYSENTER_CS, next MSR's bits set", MSR_SYSENTER_CS, RD, true, true, MSR_SYSENTER_ESP, true, false },
	/* range 1 */
	{ "RDMSR STAR, read bit set", MSR_STAR, RD, true, false, 0, true, true },
	{ "RDMSR STAR, write bit set", MSR_STAR, RD, false, true, 0, true, false },
	{ "WRMSR STAR, write bit set", MSR_STAR, WR, false, true, 0, true, true },
	{ "WRMSR STAR, read bit set", MSR_STAR, WR, true, false, 0, true, false },
	{ "WRMSR STAR, previous MSR's bits set", MSR_STAR, WR, true, true, MSR_EFER, true, false },
	/* range 2 */
	{ "RDMSR VM_HSAVE_PA, read bit set", MSR_VM_HSAVE_PA, RD, true, false, 0, true, true },
	{ "RDMSR VM_HSAVE_PA, write bit set", MSR_VM_HSAVE_PA, RD, false, true, 0, true, false },
	{ "WRMSR VM_HSAVE_PA, both bits set", MSR_VM_HSAVE_PA, WR, true, true, 0, true, true },
	{ "WRMSR VM_HSAVE_PA, read bit set", MSR_VM_HSAVE_PA, WR, true, false, 0, true, false },
	/* outside the three ranges: always intercepted */
	{ "RDMSR 0x2000 (after range 0)", 0x2000, RD, false, false, 0, true, true },
	{ "WRMSR 0x2000 (after range 0)", 0x2000, WR, false, false, 0, true, true },
	{ "RDMSR 0xC0002000 (after range 1)", 0xc0002000u, RD, false, false, 0, true, true },
	{ "RDMSR 0xC0012000 (after range 2)", 0xc0012000u, RD, false, false, 0, true, true },
	{ "WRMSR 0xBFFFFFFF (before range 1)", 0xbfffffffu, WR, false, false, 0, true, true },
	{ "RDMSR 0x40000000", 0x40000000u, RD, false, false, 0, true, true },
	/* MSR_PROT clear: the map is not consulted */
	{ "RDMSR STAR, MSR_PROT clear", MSR_STAR, RD, true, true, 0, false, false },
	{ "WRMSR STAR, MSR_PROT clear", MSR_STAR, WR, true, true, 0, false, false },
};

static struct svm_vcpu vcpu;

static void set_msrpm(const struct msr_case *k)
{
	uint32_t m = k->bits_msr ? k->bits_msr : k->msr;

	svm_msrpm_clear_all();
	if (msrpm_read_bit(m) >= 0)
		svm_msrpm_set(m, k->rd_bit, k->wr_bit);
}

static void test_case(const struct msr_case *k)
{
	static const uint8_t rdmsr_code[] = { 0x0f, 0x32 }, wrmsr_code[] = { 0x0f, 0x30 };
	bool in_range = msrpm_read_bit(k->msr) >= 0;
	uint64_t value = in_range ? rdmsr(k->msr) : 0x1122334455667788ull;
	uint64_t rip, got, want_rax, want_rdx;
	struct svm_check c;
	char name[128];

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, k->access == RD ? rdmsr_code : wrmsr_code, 2);
	vcpu.regs.rcx = k->msr;
	vcpu.vmcb->save.rax = k->access == WR ? (uint32_t)value : 0xaaaa;
	vcpu.regs.rdx = k->access == WR ? value >> 32 : 0xdddd;
	want_rax = vcpu.vmcb->save.rax;
	want_rdx = vcpu.regs.rdx;
	set_msrpm(k);
	if (k->prot)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_MSR_PROT);
	svm_vmrun(&vcpu);

	snprintf(name, sizeof(name), "%s: %s", k->name,
		 k->exits ? "#VMEXIT(MSR)" : "not intercepted");
	svm_check_begin(&c, name);
	if (k->exits) {
		svm_check_exit(&c, &vcpu, SVM_EXIT_MSR,
			       k->access == WR ? MSR_EXITINFO1_WRITE : MSR_EXITINFO1_READ, 0);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
		svm_check_eq(&c, "rax", vcpu.vmcb->save.rax, want_rax);
		svm_check_eq(&c, "rdx", vcpu.regs.rdx, want_rdx);
		svm_check_eq(&c, "rcx", vcpu.regs.rcx, k->msr);
	} else {
		svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip + 2);
		got = (vcpu.vmcb->save.rax & 0xffffffffu) | vcpu.regs.rdx << 32;
		svm_check_eq(&c, "value", got, value);
		svm_check_eq(&c, "L1 value", rdmsr(k->msr), value);
	}
	svm_check_end(&c);
	if (k->exits)
		svm_check_nrip(name, &vcpu, rip + 2);
}

/* RDMSR at CPL 3 is #GP, a simple exception checked before the intercept. */
static void test_cpl3(void)
{
	static const uint8_t code[] = { 0x0f, 0x32 };
	struct svm_check c;
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	svm_vcpu_set_user(&vcpu);
	vcpu.regs.rcx = MSR_STAR;
	svm_msrpm_clear_all();
	svm_msrpm_set(MSR_STAR, true, true);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_MSR_PROT);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(GP_VECTOR));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "RDMSR at CPL 3: #GP before the MSR intercept");
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(GP_VECTOR), 0, vcpu.vmcb->control.exit_info_2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		test_case(&cases[i]);
	test_cpl3();
	svm_msrpm_clear_all();
	return report_summary();
}
