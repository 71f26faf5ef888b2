/*
 * VMRUN consistency checks (APM vol. 2, 15.5.1 "Canonicalization and
 * Consistency Checks", 15.20 for EVENTINJ): one illegal field at a time,
 * everything else valid, must make VMRUN #VMEXIT with VMEXIT_INVALID (the
 * 64-bit value -1) without running L2, and L1 must continue after VMRUN with
 * its own state intact.  Legal corner cases must pass.  Then the permission
 * checks of the SVM instructions themselves: #UD with EFER.SVME = 0, #GP at
 * CPL > 0, #GP for a misaligned or out-of-range rAX.
 */
#include "svm.h"

static struct svm_vcpu vcpu;
static unsigned maxphyaddr;

/* ---- one VMRUN with L1's state captured around it ---------------------- */

struct l1_snapshot {
	uint64_t rsp_before, rsp_after;
	uint64_t rbx, rbp, r12, r13, r14, r15, rax;
};

#define SENTINEL(n) (0x5e5e000000000000ull | (n))

/* checked_vmrun(vmcb_pa, snapshot): VMRUN with sentinels in callee-saved GPRs. */
void checked_vmrun(uint64_t vmcb_pa, struct l1_snapshot *s);
asm(".pushsection .text\n"
    "checked_vmrun:\n\t"
    "push %rbx\n\t push %rbp\n\t push %r12\n\t push %r13\n\t push %r14\n\t push %r15\n\t"
    "mov %rsp, 0(%rsi)\n\t"
    "push %rsi\n\t"
    "movabs $0x5e5e000000000001, %rbx\n\t movabs $0x5e5e000000000002, %rbp\n\t"
    "movabs $0x5e5e000000000003, %r12\n\t movabs $0x5e5e000000000004, %r13\n\t"
    "movabs $0x5e5e000000000005, %r14\n\t movabs $0x5e5e000000000006, %r15\n\t"
    "mov %rdi, %rax\n\t"
    "vmrun %rax\n\t"
    "pop %rsi\n\t"
    "mov %rsp, 8(%rsi)\n\t"
    "mov %rbx, 16(%rsi)\n\t mov %rbp, 24(%rsi)\n\t mov %r12, 32(%rsi)\n\t"
    "mov %r13, 40(%rsi)\n\t mov %r14, 48(%rsi)\n\t mov %r15, 56(%rsi)\n\t"
    "mov %rax, 64(%rsi)\n\t"
    "pop %r15\n\t pop %r14\n\t pop %r13\n\t pop %r12\n\t pop %rbp\n\t pop %rbx\n\t"
    "ret\n"
    ".popsection");

struct l1_regs {
	uint64_t cr0, cr3, cr4, efer, rflags;
	struct desc_ptr gdtr, idtr;
	uint16_t cs, ss;
};

static void read_l1_regs(struct l1_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->cr0 = read_cr0();
	r->cr3 = read_cr3();
	r->cr4 = read_cr4();
	r->efer = rdmsr(MSR_EFER);
	r->rflags = read_rflags() & (RFLAGS_IF | RFLAGS_DF | RFLAGS_TF | RFLAGS_IOPL | RFLAGS_AC);
	sgdt(&r->gdtr);
	sidt(&r->idtr);
	r->cs = read_cs();
	r->ss = read_ss();
}

/* VMRUN, then checks L1's registers and state against what they were. */
static void run_and_check_l1(struct svm_check *c)
{
	struct l1_regs before, after;
	struct l1_snapshot s;

	read_l1_regs(&before);
	checked_vmrun((uint64_t)vcpu.vmcb, &s);
	stgi();
	read_l1_regs(&after);
	svm_check_eq(c, "L1 rsp", s.rsp_after, s.rsp_before);
	svm_check_eq(c, "L1 rax", s.rax, (uint64_t)vcpu.vmcb);
	svm_check_eq(c, "L1 rbx", s.rbx, SENTINEL(1));
	svm_check_eq(c, "L1 rbp", s.rbp, SENTINEL(2));
	svm_check_eq(c, "L1 r12", s.r12, SENTINEL(3));
	svm_check_eq(c, "L1 r15", s.r15, SENTINEL(6));
	svm_check_eq(c, "L1 cr0", after.cr0, before.cr0);
	svm_check_eq(c, "L1 cr3", after.cr3, before.cr3);
	svm_check_eq(c, "L1 cr4", after.cr4, before.cr4);
	svm_check_eq(c, "L1 efer", after.efer, before.efer);
	svm_check_eq(c, "L1 rflags", after.rflags, before.rflags);
	svm_check_true(c, "L1 gdtr", !memcmp(&after.gdtr, &before.gdtr, sizeof(after.gdtr)));
	svm_check_true(c, "L1 idtr", !memcmp(&after.idtr, &before.idtr, sizeof(after.idtr)));
	svm_check_eq(c, "L1 cs", after.cs, before.cs);
	svm_check_eq(c, "L1 ss", after.ss, before.ss);
}

/* ---- the cases ---------------------------------------------------------- */

struct vmcb_case {
	const char *name;
	void (*mutate)(struct vmcb *v);
	bool legal;
};

static void efer_svme_clear(struct vmcb *v) { v->save.efer &= ~EFER_SVME; }
static void cr0_nw_without_cd(struct vmcb *v) { v->save.cr0 = (v->save.cr0 & ~CR0_CD) | CR0_NW; }
static void cr0_cd_nw(struct vmcb *v) { v->save.cr0 |= CR0_CD | CR0_NW; }
static void cr0_high(struct vmcb *v) { v->save.cr0 |= 1ull << 32; }
static void cr3_bit52(struct vmcb *v) { v->save.cr3 |= 1ull << 52; }
static void cr3_bit63(struct vmcb *v) { v->save.cr3 |= 1ull << 63; }
static void cr4_bit63(struct vmcb *v) { v->save.cr4 |= 1ull << 63; }
static void cr4_bit32(struct vmcb *v) { v->save.cr4 |= 1ull << 32; }
static void cr4_bit15(struct vmcb *v) { v->save.cr4 |= 1ull << 15; }
static void dr6_high(struct vmcb *v) { v->save.dr6 |= 1ull << 32; }
static void dr7_high(struct vmcb *v) { v->save.dr7 |= 1ull << 63; }
static void efer_bit62(struct vmcb *v) { v->save.efer |= 1ull << 62; }
static void efer_bit32(struct vmcb *v) { v->save.efer |= 1ull << 32; }
static void lme_pg_no_pae(struct vmcb *v) { v->save.cr4 &= ~CR4_PAE; }
static void lme_pg_no_pe(struct vmcb *v) { v->save.cr0 &= ~CR0_PE; }
static void cs_l_and_d(struct vmcb *v) { v->save.cs.attrib |= SEG_ATTR_L | SEG_ATTR_DB; }
static void no_vmrun_intercept(struct vmcb *v) { vmcb_clr_intercept(v, INTERCEPT_VMRUN); }
static void no_vmmcall_intercept(struct vmcb *v) { vmcb_clr_intercept(v, INTERCEPT_VMMCALL); }
static void asid_zero(struct vmcb *v) { v->control.asid = 0; }

static void inj(struct vmcb *v, uint32_t type, uint32_t vector)
{
	v->control.event_inj = EVENTINJ_V | type | vector;
}
static void inj_type1(struct vmcb *v) { inj(v, 1u << EVENTINJ_TYPE_SHIFT, 0x20); }
static void inj_type5(struct vmcb *v) { inj(v, 5u << EVENTINJ_TYPE_SHIFT, 0x20); }
static void inj_type6(struct vmcb *v) { inj(v, 6u << EVENTINJ_TYPE_SHIFT, 0x20); }
static void inj_type7(struct vmcb *v) { inj(v, 7u << EVENTINJ_TYPE_SHIFT, 0x20); }
static void inj_exc_nmi(struct vmcb *v) { inj(v, EVENTINJ_TYPE_EXCEPTION, NMI_VECTOR); }
static void inj_exc_0x20(struct vmcb *v) { inj(v, EVENTINJ_TYPE_EXCEPTION, 0x20); }
static void inj_exc_15(struct vmcb *v) { inj(v, EVENTINJ_TYPE_EXCEPTION, 15); }
static void inj_not_valid(struct vmcb *v) { v->control.event_inj = 7u << EVENTINJ_TYPE_SHIFT | 2; }

static uint64_t phys_limit(void) { return 1ull << maxphyaddr; }
static void msrpm_beyond(struct vmcb *v)
{
	vmcb_set_intercept(v, INTERCEPT_MSR_PROT);
	v->control.msrpm_base_pa = phys_limit() - PAGE_SIZE;
}
static void iopm_beyond(struct vmcb *v)
{
	vmcb_set_intercept(v, INTERCEPT_IOIO_PROT);
	v->control.iopm_base_pa = phys_limit() - PAGE_SIZE;
}
static void iopm_last_page_beyond(struct vmcb *v)
{
	vmcb_set_intercept(v, INTERCEPT_IOIO_PROT);
	v->control.iopm_base_pa = phys_limit() - 2 * PAGE_SIZE;
}
static void maps_low_bits(struct vmcb *v)
{
	vmcb_set_intercept(v, INTERCEPT_MSR_PROT);
	vmcb_set_intercept(v, INTERCEPT_IOIO_PROT);
	v->control.msrpm_base_pa |= 0xfff;
	v->control.iopm_base_pa |= 0xfff;
}
static void noncanonical_ds_base(struct vmcb *v) { v->save.ds.base = 0x0000800000000000ull; }

static const struct vmcb_case cases[] = {
	{ "valid VMCB", NULL, true },
	{ "EFER.SVME = 0", efer_svme_clear, false },
	{ "CR0.CD = 0 and CR0.NW = 1", cr0_nw_without_cd, false },
	{ "CR0.CD = 1 and CR0.NW = 1", cr0_cd_nw, true },
	{ "CR0[63:32] != 0", cr0_high, false },
	{ "CR3 bit 52 (MBZ in long mode)", cr3_bit52, false },
	{ "CR3 bit 63 (MBZ in long mode)", cr3_bit63, false },
	{ "CR4 bit 63 (MBZ)", cr4_bit63, false },
	{ "CR4 bit 32 (MBZ)", cr4_bit32, false },
	{ "CR4 bit 15 (MBZ)", cr4_bit15, false },
	{ "DR6[63:32] != 0", dr6_high, false },
	{ "DR7[63:32] != 0", dr7_high, false },
	{ "EFER bit 62 (MBZ)", efer_bit62, false },
	{ "EFER bit 32 (MBZ)", efer_bit32, false },
	{ "EFER.LME, CR0.PG and CR4.PAE = 0", lme_pg_no_pae, false },
	{ "EFER.LME, CR0.PG and CR0.PE = 0", lme_pg_no_pe, false },
	{ "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D", cs_l_and_d, false },
	{ "VMRUN intercept clear", no_vmrun_intercept, false },
	{ "VMMCALL intercept clear", no_vmmcall_intercept, true },
	{ "ASID 0", asid_zero, false },
	{ "EVENTINJ type 1 (reserved)", inj_type1, false },
	{ "EVENTINJ type 5 (reserved)", inj_type5, false },
	{ "EVENTINJ type 6 (reserved)", inj_type6, false },
	{ "EVENTINJ type 7 (reserved)", inj_type7, false },
	{ "EVENTINJ exception type with vector 2 (NMI)", inj_exc_nmi, false },
	{ "EVENTINJ exception type with vector 0x20", inj_exc_0x20, false },
	{ "EVENTINJ exception type with vector 15 (reserved)", inj_exc_15, false },
	{ "EVENTINJ with V = 0 is ignored", inj_not_valid, true },
	{ "MSRPM extends beyond MAXPHYADDR", msrpm_beyond, false },
	{ "IOPM extends beyond MAXPHYADDR", iopm_beyond, false },
	{ "IOPM last page beyond MAXPHYADDR", iopm_last_page_beyond, false },
	{ "MSRPM/IOPM base bits 11:0 ignored", maps_low_bits, true },
	{ "non-canonical DS base (canonicalized)", noncanonical_ds_base, true },
};

/* An event injected although VMRUN should have refused it: note and go on. */
static volatile int stray_vector;

static void stray_handler(struct ex_regs *r)
{
	stray_vector = (int)r->vector;
}

static void set_stray_handlers(bool on)
{
	for (int v = 0; v < 256; v++)
		set_exception_handler(v, on ? stray_handler : NULL);
}

/* L2: HLT (intercepted), so that every legal VMCB has the same exit. */
static void test_case(const struct vmcb_case *k)
{
	static const uint8_t hlt[] = { 0xf4 };
	struct svm_check c;
	char name[128];
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, hlt, sizeof(hlt));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_HLT);
	if (k->mutate)
		k->mutate(vcpu.vmcb);
	snprintf(name, sizeof(name), "%s: %s", k->name,
		 k->legal ? "VMRUN succeeds" : "VMEXIT_INVALID");
	svm_check_begin(&c, name);
	stray_vector = -1;
	set_stray_handlers(true);
	run_and_check_l1(&c);
	set_stray_handlers(false);
	if (stray_vector >= 0)
		svm_check_eq(&c, "L2 took vector", (uint64_t)stray_vector, (uint64_t)-1);
	if (k->legal) {
		svm_check_exit(&c, &vcpu, SVM_EXIT_HLT, 0, 0);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	} else {
		svm_check_eq(&c, "exit code", vcpu.vmcb->control.exit_code, SVM_EXIT_INVALID);
	}
	svm_check_end(&c);
}

/* ---- permission checks of the SVM instructions -------------------------- */

static uint64_t insn_rax;

#define DEFINE_SVM_INSN(fn, insn) \
	static void fn(void *arg) { (void)arg; asm volatile(insn :: "a"(insn_rax) : "memory"); }
DEFINE_SVM_INSN(do_vmrun, "vmrun %%rax")
DEFINE_SVM_INSN(do_vmload, "vmload %%rax")
DEFINE_SVM_INSN(do_vmsave, "vmsave %%rax")
DEFINE_SVM_INSN(do_stgi, "stgi")
DEFINE_SVM_INSN(do_clgi, "clgi")
DEFINE_SVM_INSN(do_invlpga, "xor %%ecx, %%ecx; invlpga %%rax, %%ecx")

struct perm_case {
	const char *name;
	void (*fn)(void *);
	bool takes_pa;          /* rAX is a VMCB physical address */
};

static const struct perm_case perm_insns[] = {
	{ "VMRUN", do_vmrun, true },
	{ "VMLOAD", do_vmload, true },
	{ "VMSAVE", do_vmsave, true },
	{ "STGI", do_stgi, false },
	{ "CLGI", do_clgi, false },
	{ "INVLPGA", do_invlpga, false },
};

static void expect_vector(const char *insn, const char *what, int got, int want,
			  uint64_t err)
{
	char name[96];

	snprintf(name, sizeof(name), "%s %s: %s", insn, what,
		 want == UD_VECTOR ? "#UD" : "#GP(0)");
	if (got == want && (want != GP_VECTOR || err == 0))
		report_pass(name);
	else
		report_fail(name, "vector %d error 0x%lx", got, err);
}

static void test_permissions(const struct perm_case *k)
{
	struct ex_regs r;
	int vec;

	svm_vcpu_init(&vcpu, NULL);
	insn_rax = (uint64_t)vcpu.vmcb;
	svm_disable();
	vec = catch_exception(k->fn, NULL, &r);
	svm_enable();
	expect_vector(k->name, "with EFER.SVME = 0", vec, UD_VECTOR, r.error_code);

	vec = run_in_user(k->fn, NULL, &r);
	expect_vector(k->name, "at CPL 3", vec, GP_VECTOR, r.error_code);

	if (!k->takes_pa)
		return;
	insn_rax = (uint64_t)vcpu.vmcb + 8;
	vec = catch_exception(k->fn, NULL, &r);
	expect_vector(k->name, "with rAX not page-aligned", vec, GP_VECTOR, r.error_code);
	insn_rax = phys_limit();
	vec = catch_exception(k->fn, NULL, &r);
	expect_vector(k->name, "with rAX beyond MAXPHYADDR", vec, GP_VECTOR, r.error_code);
	stgi();
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	maxphyaddr = svm_maxphyaddr();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		test_case(&cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(perm_insns); i++)
		test_permissions(&perm_insns[i]);
	return report_summary();
}
