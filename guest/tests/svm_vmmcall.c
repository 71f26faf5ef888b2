/*
 * VMMCALL at every level (APM vol. 2, 15.7 and the VMMCALL instruction
 * reference): intercepted in L2 -> #VMEXIT(VMMCALL) with nRIP = RIP + 3;
 * not intercepted -> #UD in L2 at the VMMCALL (delivered through L2's IDT, or
 * #VMEXIT(EXCP 6) if L1 intercepts #UD); outside guest mode -> #UD.
 * A clear VMMCALL intercept is not a VMRUN consistency failure.
 */
#include "svm.h"

static const uint8_t VMMCALL[] = { 0x0f, 0x01, 0xd9 };
static const uint8_t CPUID[] = { 0x0f, 0xa2 };

/* A hypercall number and argument an accidental L0 hypercall would consume. */
#define MAGIC_RAX 0x1ull        /* KVM_HC_VAPIC_POLL_IRQ: would return 0 */
#define MAGIC_RBX 0xb0b0b0b0b0ull
#define MAGIC_RCX 0xc0c0c0c0c0ull
#define MAGIC_RDX 0xd0d0d0d0d0ull
#define MAGIC_RSI 0x5151515151ull

static struct svm_vcpu vcpu;

/* #UD handler for L2: records where it hit and skips the 3-byte VMMCALL. */
static volatile uint64_t ud_count, ud_rip, ud_cs;

static void l2_ud_handler(struct ex_regs *r)
{
	ud_count++;
	ud_rip = r->rip;
	ud_cs = r->cs;
	r->rip += 3;
}

/*
 * L2 code: VMMCALL, then CPUID (intercepted: the end of the scenario at any
 * CPL).  Returns the address of the VMMCALL.
 */
static uint64_t setup(bool user, bool intercept_vmmcall, bool intercept_ud)
{
	uint8_t code[sizeof(VMMCALL) + sizeof(CPUID)];
	uint64_t rip;

	memcpy(code, VMMCALL, sizeof(VMMCALL));
	memcpy(code + sizeof(VMMCALL), CPUID, sizeof(CPUID));
	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	if (user)
		svm_vcpu_set_user(&vcpu);
	if (!intercept_vmmcall)
		vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	if (intercept_ud)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(UD_VECTOR));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	vcpu.vmcb->save.rax = MAGIC_RAX;
	vcpu.regs.rbx = MAGIC_RBX;
	vcpu.regs.rcx = MAGIC_RCX;
	vcpu.regs.rdx = MAGIC_RDX;
	vcpu.regs.rsi = MAGIC_RSI;
	ud_count = 0;
	ud_rip = 0;
	return rip;
}

/* No register of L2 changed: nothing ran a hypercall on L2's behalf. */
static void check_regs_intact(struct svm_check *c)
{
	svm_check_eq(c, "rax", vcpu.vmcb->save.rax, MAGIC_RAX);
	svm_check_eq(c, "rbx", vcpu.regs.rbx, MAGIC_RBX);
	svm_check_eq(c, "rcx", vcpu.regs.rcx, MAGIC_RCX);
	svm_check_eq(c, "rdx", vcpu.regs.rdx, MAGIC_RDX);
	svm_check_eq(c, "rsi", vcpu.regs.rsi, MAGIC_RSI);
}

static void test_intercepted(bool user)
{
	const char *name = user ? "L2 CPL3 VMMCALL intercepted: #VMEXIT(VMMCALL)"
				: "L2 VMMCALL intercepted: #VMEXIT(VMMCALL)";
	uint64_t rip = setup(user, true, false);
	struct svm_check c;

	svm_vmrun(&vcpu);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, user ? 3 : 0);
	check_regs_intact(&c);
	svm_check_end(&c);
	svm_check_nrip(name, &vcpu, rip + 3);
}

static void test_not_intercepted(bool user)
{
	const char *name = user ? "L2 CPL3 VMMCALL not intercepted: #UD in L2"
				: "L2 VMMCALL not intercepted: #UD in L2";
	uint64_t rip = setup(user, false, false);
	struct svm_check c;

	set_exception_handler(UD_VECTOR, l2_ud_handler);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_CPUID, 0, 0);
	svm_check_eq(&c, "#UD count", ud_count, 1);
	svm_check_eq(&c, "#UD rip", ud_rip, rip);
	svm_check_eq(&c, "#UD cs rpl", ud_cs & 3, user ? 3 : 0);
	svm_check_eq(&c, "exit rip", vcpu.vmcb->save.rip, rip + 3);
	check_regs_intact(&c);
	svm_check_end(&c);
}

static void test_not_intercepted_ud_intercepted(bool user)
{
	const char *name = user ? "L2 CPL3 VMMCALL not intercepted, #UD intercepted: #VMEXIT(EXCP 6)"
				: "L2 VMMCALL not intercepted, #UD intercepted: #VMEXIT(EXCP 6)";
	uint64_t rip = setup(user, false, true);
	struct svm_check c;

	set_exception_handler(UD_VECTOR, l2_ud_handler);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(UD_VECTOR), 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(&c, "L2 #UD handler runs", ud_count, 0);
	check_regs_intact(&c);
	svm_check_end(&c);
	/* 15.7.1: nRIP is only saved for instruction intercepts. */
	svm_check_nrip(name, &vcpu, 0);
}

/*
 * L2 clears its own EFER.SVME, then executes VMMCALL: the intercept is
 * checked first, as for any guest that never set SVME (15.7, and every KVM
 * guest's hypercalls).  If it #UDs instead, the #UD handler skips it and the
 * intercepted CPUID ends the run.
 */
static void test_l2_svme_clear(void)
{
	static const uint8_t code[] = {
		0xb9, 0x80, 0x00, 0x00, 0xc0,   /* mov $MSR_EFER, %ecx */
		0x0f, 0x32,                     /* rdmsr */
		0x0f, 0xba, 0xf0, 0x0c,         /* btr $12, %eax */
		0x0f, 0x30,                     /* wrmsr */
		0x0f, 0x01, 0xd9,               /* vmmcall */
		0x0f, 0xa2,                     /* cpuid */
	};
	struct svm_check c;
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	ud_count = 0;
	set_exception_handler(UD_VECTOR, l2_ud_handler);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
	svm_check_begin(&c, "L2 with EFER.SVME=0, VMMCALL intercepted: #VMEXIT(VMMCALL)");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip + 13);
	svm_check_eq(&c, "#UD count", ud_count, 0);
	svm_check_eq(&c, "L2 efer.svme", vcpu.vmcb->save.efer & EFER_SVME, 0);
	svm_check_eq(&c, "L1 efer.svme", rdmsr(MSR_EFER) & EFER_SVME, EFER_SVME);
	svm_check_end(&c);
}

/* A VMCB that does not intercept VMMCALL is legal (15.5.1 lists VMRUN only). */
static void test_clear_intercept_is_legal(void)
{
	setup(false, false, false);
	set_exception_handler(UD_VECTOR, l2_ud_handler);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
	report(vcpu.vmcb->control.exit_code != SVM_EXIT_INVALID,
	       "VMRUN with the VMMCALL intercept clear passes the consistency checks");
}

/* ---- L1's own VMMCALL, outside guest mode ------------------------------ */

static volatile uint64_t l1_rax;

static void l1_vmmcall(void *arg)
{
	uint64_t rax = 0xffffull;       /* no such hypercall */

	(void)arg;
	asm volatile("vmmcall" : "+a"(rax) :: "memory");
	l1_rax = rax;
}

static bool hypervisor_present(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return (c >> 31) & 1;
}

/*
 * On bare hardware VMMCALL outside guest mode is #UD.  When CPUID says a
 * hypervisor is present, L1 itself is a guest and its VMMCALL may be
 * intercepted by that hypervisor (an unknown hypercall returns -KVM_ENOSYS,
 * -1000); both outcomes are architectural there.
 */
static void check_l1_vmmcall(const char *name)
{
	struct ex_regs r;
	int vec;

	l1_rax = 0;
	vec = catch_exception(l1_vmmcall, NULL, &r);
	if (vec == UD_VECTOR)
		report_pass(name);
	else if (vec == -1 && hypervisor_present() && l1_rax == (uint64_t)-1000)
		report_pass(name);
	else
		report_fail(name, "vector %d, rax 0x%lx (hypervisor bit %d)", vec,
			    l1_rax, hypervisor_present());
}

static void test_l1_vmmcall(void)
{
	check_l1_vmmcall("L1 VMMCALL outside guest mode: #UD");
	svm_disable();
	check_l1_vmmcall("L1 VMMCALL with EFER.SVME=0: #UD");
	svm_enable();
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();

	test_intercepted(false);
	test_intercepted(true);
	test_not_intercepted(false);
	test_not_intercepted(true);
	test_not_intercepted_ud_intercepted(false);
	test_not_intercepted_ud_intercepted(true);
	test_l2_svme_clear();
	test_clear_intercept_is_legal();
	test_l1_vmmcall();
	return report_summary();
}
