/*
 * Exception intercepts (APM vol. 2, 15.12): exception vector n intercepted
 * -> #VMEXIT(0x40 + n) with RIP at the faulting instruction, EXITINFO1 =
 * the error code for vectors that push one, EXITINFO2 = the faulting linear
 * address for #PF, nRIP = 0 (15.7.1: only instruction intercepts save it).
 * Not intercepted, the same exception is delivered through L2's IDT.
 * Also: an exception during event delivery (EXITINTINFO), #DF, and a triple
 * fault in L2 with the SHUTDOWN intercept (exit 0x7F).
 */
#include "svm.h"

#define BYTES(...) .code = (const uint8_t[]){ __VA_ARGS__ }, \
	.len = sizeof((const uint8_t[]){ __VA_ARGS__ })

#define UNMAPPED_VA 0x700000000000ull   /* canonical, not mapped */
#define NONCANON_VA 0x8000000000000000ull
#define NP_SEL      GDT_FIRST_FREE      /* a data descriptor with P = 0 */

struct exc_case {
	const char *name;
	int vector;
	const uint8_t *code;
	uint8_t len;
	uint8_t off;            /* faulting instruction */
	uint8_t insn_len;
	void (*prepare)(struct svm_vcpu *v);
	bool has_err;
	uint64_t err;           /* EXITINFO1 when has_err */
	bool trap;              /* RIP after the instruction (a trap) */
	uint64_t cr2;           /* #PF: EXITINFO2 */
};

static struct svm_vcpu vcpu;
static uint8_t *sup_page;       /* a page mapped supervisor-only */
static uint8_t *nx_page;        /* a page mapped NX */

static void zero_rcx(struct svm_vcpu *v) { v->regs.rcx = 0; v->vmcb->save.rax = 1; }
static void rax_noncanon(struct svm_vcpu *v) { v->vmcb->save.rax = NONCANON_VA; }
static void rax_unmapped(struct svm_vcpu *v) { v->vmcb->save.rax = UNMAPPED_VA; }
static void rax_np_sel(struct svm_vcpu *v) { v->vmcb->save.rax = NP_SEL; }
static void rax_bad_sel(struct svm_vcpu *v) { v->vmcb->save.rax = 0xfff8; }
static void cr0_ts(struct svm_vcpu *v) { v->vmcb->save.cr0 |= CR0_TS; }
static void rbp_noncanon(struct svm_vcpu *v) { v->regs.rbp = NONCANON_VA; }

static void user_sup_page(struct svm_vcpu *v)
{
	svm_vcpu_set_user(v);
	v->vmcb->save.rax = (uint64_t)sup_page;
}

static void call_nx(struct svm_vcpu *v)
{
	v->vmcb->save.rax = (uint64_t)nx_page;
}

static void user_ac(struct svm_vcpu *v)
{
	svm_vcpu_set_user(v);
	v->vmcb->save.cr0 |= CR0_AM;
	v->vmcb->save.rflags |= RFLAGS_AC;
	v->vmcb->save.rax = (uint64_t)v->stack + 1;
}

static const struct exc_case cases[] = {
	/* div %ecx with ECX = 0 */
	{ "#DE", DE_VECTOR, BYTES(0xf7, 0xf1), 0, 2, zero_rcx, false, 0, false, 0 },
	/* pushf; orq $0x100,(%rsp); popf; nop -> single-step trap after the nop */
	{ "#DB (single step)", DB_VECTOR,
	  BYTES(0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90), 10, 1,
	  NULL, false, 0, true, 0 },
	/* int3: intercepted before delivery, RIP at the INT3 */
	{ "#BP (INT3)", BP_VECTOR, BYTES(0xcc), 0, 1, NULL, false, 0, false, 0 },
	{ "#UD (UD2)", UD_VECTOR, BYTES(0x0f, 0x0b), 0, 2, NULL, false, 0, false, 0 },
	/* fninit with CR0.TS = 1 */
	{ "#NM", NM_VECTOR, BYTES(0xdb, 0xe3), 0, 2, cr0_ts, false, 0, false, 0 },
	/* mov %ax, %ds with a not-present descriptor: #NP(selector) */
	{ "#NP", NP_VECTOR, BYTES(0x8e, 0xd8), 0, 2, rax_np_sel, true, NP_SEL, false, 0 },
	/* mov (%rbp), %rax with a non-canonical RBP (an SS access): #SS(0) */
	{ "#SS", SS_VECTOR, BYTES(0x48, 0x8b, 0x45, 0x00), 0, 4, rbp_noncanon, true, 0, false, 0 },
	/* mov (%rax), %rax with a non-canonical address: #GP(0) */
	{ "#GP (non-canonical)", GP_VECTOR, BYTES(0x48, 0x8b, 0x00), 0, 3, rax_noncanon, true, 0, false, 0 },
	/* mov %ax, %ds with a selector past the GDT limit: #GP(selector) */
	{ "#GP (selector)", GP_VECTOR, BYTES(0x8e, 0xd8), 0, 2, rax_bad_sel, true, 0xfff8, false, 0 },
	{ "#PF (read, not present)", PF_VECTOR, BYTES(0x48, 0x8b, 0x00), 0, 3, rax_unmapped,
	  true, 0, false, UNMAPPED_VA },
	/* mov %rax, (%rax) */
	{ "#PF (write, not present)", PF_VECTOR, BYTES(0x48, 0x89, 0x00), 0, 3, rax_unmapped,
	  true, PFERR_W, false, UNMAPPED_VA },
	{ "#PF (CPL 3 read of a supervisor page)", PF_VECTOR, BYTES(0x48, 0x8b, 0x00), 0, 3,
	  user_sup_page, true, PFERR_P | PFERR_U, false, 0 },
	/* call *%rax into an NX page: fetch fault at the target */
	{ "#PF (fetch from NX page)", PF_VECTOR, BYTES(0xff, 0xd0), 0, 2, call_nx,
	  true, PFERR_P | PFERR_ID, false, 0 },
	/* mov (%rax), %eax misaligned at CPL 3 with CR0.AM and RFLAGS.AC: #AC(0) */
	{ "#AC", AC_VECTOR, BYTES(0x8b, 0x00), 0, 2, user_ac, true, 0, false, 0 },
};

/* The address the exception is reported at, and #PF's CR2 for dynamic cases. */
static uint64_t fault_rip(const struct exc_case *k, uint64_t start)
{
	if (k->prepare == call_nx)
		return (uint64_t)nx_page;
	return start + k->off + (k->trap ? k->insn_len : 0);
}

static uint64_t fault_cr2(const struct exc_case *k)
{
	if (k->prepare == user_sup_page)
		return (uint64_t)sup_page;
	if (k->prepare == call_nx)
		return (uint64_t)nx_page;
	return k->cr2;
}

/* ---- L2 handler for exceptions that are not intercepted ----------------- */

static volatile int l2_vector;
static volatile uint64_t l2_err, l2_cr2, l2_rip;
static const struct exc_case *cur;
static uint64_t cur_start;

static void l2_handler(struct ex_regs *r)
{
	l2_vector = (int)r->vector;
	l2_err = r->error_code;
	l2_cr2 = r->cr2;
	l2_rip = r->rip;
	r->rflags &= ~(RFLAGS_TF | RFLAGS_AC);
	if (cur->prepare == call_nx)                    /* return from the call */
		r->rip = *(uint64_t *)r->rsp, r->rsp += 8;
	else if (!cur->trap && cur->vector != BP_VECTOR)
		r->rip += cur->insn_len;
}

static void run(const struct exc_case *k, bool intercept)
{
	svm_vcpu_init(&vcpu, NULL);
	cur = k;
	cur_start = svm_vcpu_set_code(&vcpu, k->code, k->len);
	if (k->prepare)
		k->prepare(&vcpu);
	if (intercept)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(k->vector));
	l2_vector = -1;
	/* every exception vector, so that a wrong one is reported, not fatal */
	for (int v = 0; v < 32; v++)
		if (v != DF_VECTOR)
			set_exception_handler(v, l2_handler);
	svm_vmrun(&vcpu);
	for (int v = 0; v < 32; v++)
		set_exception_handler(v, NULL);
}

static void test_intercepted(const struct exc_case *k)
{
	struct svm_check c;
	char name[96];
	uint64_t info1, info2;

	run(k, true);
	snprintf(name, sizeof(name), "%s intercepted: #VMEXIT(0x%x)", k->name, 0x40 + k->vector);
	info1 = k->has_err ? k->err : vcpu.vmcb->control.exit_info_1;
	info2 = k->vector == PF_VECTOR ? fault_cr2(k) : vcpu.vmcb->control.exit_info_2;
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(k->vector), info1, info2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, fault_rip(k, cur_start));
	svm_check_eq(&c, "L2 handler runs", (uint64_t)(l2_vector >= 0), 0);
	svm_check_eq(&c, "exitintinfo.V", vcpu.vmcb->control.exit_int_info & EVENTINJ_V, 0);
	svm_check_end(&c);
	if (k->vector != BP_VECTOR && k->vector != DB_VECTOR)
		svm_check_nrip(name, &vcpu, 0);
}

static void test_delivered(const struct exc_case *k)
{
	struct svm_check c;
	char name[96];

	run(k, false);
	snprintf(name, sizeof(name), "%s not intercepted: delivered to L2", k->name);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "L2 vector", (uint64_t)l2_vector, (uint64_t)k->vector);
	/* delivered, INT3 is a trap: the frame points after it */
	svm_check_eq(&c, "L2 rip", l2_rip, fault_rip(k, cur_start) +
		     (k->vector == BP_VECTOR ? k->insn_len : 0));
	if (k->has_err)
		svm_check_eq(&c, "L2 error code", l2_err, k->err);
	if (k->vector == PF_VECTOR)
		svm_check_eq(&c, "L2 cr2", l2_cr2, fault_cr2(k));
	svm_check_end(&c);
}

/* ---- faults during event delivery --------------------------------------- */

/* UD2 in L2 with an empty IDT: #UD -> #GP(IDT) -> #DF -> shutdown. */
static uint64_t setup_bad_idt(void)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, ud2, sizeof(ud2));
	vcpu.vmcb->save.idtr.limit = 0;
	return rip;
}

static void test_delivery_faults(void)
{
	struct svm_check c;
	uint64_t rip;

	rip = setup_bad_idt();
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(GP_VECTOR));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "#GP while delivering #UD: #VMEXIT(0x4d), EXITINTINFO = #UD");
	/* IDT error code: vector 6 << 3 | IDT (bit 1) */
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(GP_VECTOR), (UD_VECTOR << 3) | 2,
		       vcpu.vmcb->control.exit_info_2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(&c, "exitintinfo", vcpu.vmcb->control.exit_int_info,
		     EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | UD_VECTOR);
	svm_check_end(&c);

	rip = setup_bad_idt();
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(DF_VECTOR));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "#DF (#GP while delivering #GP) intercepted: #VMEXIT(0x48)");
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(DF_VECTOR), 0, vcpu.vmcb->control.exit_info_2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_end(&c);

	/* SHUTDOWN is intercepted by svm_vcpu_init; the guest state is undefined */
	setup_bad_idt();
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "triple fault in L2 with the SHUTDOWN intercept: #VMEXIT(0x7f)");
	svm_check_exit(&c, &vcpu, SVM_EXIT_SHUTDOWN, 0, 0);
	svm_check_true(&c, "L1 runs on with its own IDT", read_cr3() != 0);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();

	sup_page = alloc_page();
	set_pte_flags((uint64_t)sup_page, 0, PTE_U);
	nx_page = alloc_page();
	nx_page[0] = 0xc3;      /* ret */
	set_pte_flags((uint64_t)nx_page, PTE_NX, 0);
	gdt64[NP_SEL >> 3] = 0x00cf13000000ffffull;     /* data, DPL 0, P = 0 */

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		test_intercepted(&cases[i]);
		test_delivered(&cases[i]);
	}
	test_delivery_faults();

	gdt64[NP_SEL >> 3] = 0;
	set_pte_flags((uint64_t)sup_page, PTE_U, 0);
	set_pte_flags((uint64_t)nx_page, 0, PTE_NX);
	return report_summary();
}
