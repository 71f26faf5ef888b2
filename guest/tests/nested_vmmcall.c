/*
 * What VMMCALL does at each level: the table of SVM-REFERENCE.md section 0,
 * from the APM (vol. 2, 15.5.1 and 15.9; vol. 3, VMMCALL: "#UD if not
 * intercepted"), row by row.
 *
 *   L1, bare hardware                  #UD at the VMMCALL
 *   L1 under a hypervisor (L0)         L0's hypercall: RIP + 3
 *   L2, vmcb12 intercepts VMMCALL      #VMEXIT(0x81) to L1, nRIP = RIP + 3
 *   L2, no intercept                   #UD in L2 at the VMMCALL, nothing else
 *   L2, no intercept, #UD intercepted  #VMEXIT(0x46) to L1
 *   a vmcb12 without VMMCALL intercept passes VMRUN; one without the VMRUN
 *   intercept fails it with VMEXIT_INVALID, the 64-bit -1.
 *
 * Every L2 row runs at CPL 0 and CPL 3, and checks that no register of L2
 * changed: RAX holds 1, KVM_HC_VAPIC_POLL_IRQ, which a hypercall would
 * have turned into 0.  The same lines must come out bare and nested.
 */
#include "svm.h"

#define KVM_HC_VAPIC_POLL_IRQ 1ull
#define KVM_ENOSYS 1000
#define MAGIC_RBX 0x0b0b0b0b0b0b0b0bull
#define MAGIC_RCX 0x0c0c0c0c0c0c0c0cull
#define MAGIC_RDX 0x0d0d0d0d0d0d0d0dull
#define MAGIC_RSI 0x0e0e0e0e0e0e0e0eull
#define MAGIC_RDI 0x0f0f0f0f0f0f0f0full
#define MAGIC_RSP_OFF 0x40

static struct svm_vcpu vcpu;

/* ---- L2's #UD handler: where it hit, then past the VMMCALL ---- */

static volatile uint64_t ud_count, ud_rip, ud_cs;

static void l2_ud_handler(struct ex_regs *r)
{
	ud_count++;
	ud_rip = r->rip;
	ud_cs = r->cs;
	r->rip += 3;
}

/* L2: VMMCALL, then CPUID (intercepted: the end at any CPL). */
static uint64_t setup(bool user, bool icpt_vmmcall, bool icpt_ud)
{
	static const uint8_t code[] = { 0x0f, 0x01, 0xd9, 0x0f, 0xa2 };
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	if (user)
		svm_vcpu_set_user(&vcpu);
	if (!icpt_vmmcall)
		vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	if (icpt_ud)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(UD_VECTOR));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	vcpu.vmcb->save.rax = KVM_HC_VAPIC_POLL_IRQ;
	vcpu.vmcb->save.rsp -= MAGIC_RSP_OFF;
	vcpu.regs.rbx = MAGIC_RBX;
	vcpu.regs.rcx = MAGIC_RCX;
	vcpu.regs.rdx = MAGIC_RDX;
	vcpu.regs.rsi = MAGIC_RSI;
	vcpu.regs.rdi = MAGIC_RDI;
	ud_count = ud_rip = ud_cs = 0;
	return rip;
}

static void run(void)
{
	set_exception_handler(UD_VECTOR, l2_ud_handler);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
}

/* Nothing ran on L2's behalf: its registers are as it left them. */
static void check_regs(struct svm_check *c, uint64_t rsp)
{
	svm_check_eq(c, "rax", vcpu.vmcb->save.rax, KVM_HC_VAPIC_POLL_IRQ);
	svm_check_eq(c, "rbx", vcpu.regs.rbx, MAGIC_RBX);
	svm_check_eq(c, "rcx", vcpu.regs.rcx, MAGIC_RCX);
	svm_check_eq(c, "rdx", vcpu.regs.rdx, MAGIC_RDX);
	svm_check_eq(c, "rsi", vcpu.regs.rsi, MAGIC_RSI);
	svm_check_eq(c, "rdi", vcpu.regs.rdi, MAGIC_RDI);
	svm_check_eq(c, "rsp", vcpu.vmcb->save.rsp, rsp);
}

static const char *cpl_name(bool user, const char *cpl0, const char *cpl3)
{
	return user ? cpl3 : cpl0;
}

/* ---- row 1: L1's own VMMCALL ---- */

static bool kvm_signature(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return false;
	cpuid(0x40000000u, 0, &a, &b, &c, &d);
	return b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d;   /* KVMKVMKVM */
}

static volatile uint64_t l1_rax, l1_after;

static void l1_vmmcall(void *arg)
{
	uint64_t rax = 0xffff, after = 0;

	(void)arg;
	asm volatile("vmmcall\n\tinc %1" : "+a"(rax), "+r"(after) :: "memory");
	l1_rax = rax;
	l1_after = after;
}

/* One line either way, so that bare and nested runs print the same. */
static void test_l1(void)
{
	static const char name[] =
		"L1 VMMCALL: #UD on bare hardware, L0's hypercall under L0";
	struct ex_regs r;
	int vec;

	l1_rax = l1_after = 0;
	vec = catch_exception(l1_vmmcall, NULL, &r);
	if (kvm_signature()) {
		if (vec == -1 && l1_rax == (uint64_t)-KVM_ENOSYS && l1_after == 1)
			report_pass(name);
		else
			report_fail(name, "under L0: vector %d rax 0x%lx, the next "
				    "instruction ran %lu times", vec, l1_rax, l1_after);
	} else {
		if (vec == UD_VECTOR && l1_after == 0)
			report_pass(name);
		else
			report_fail(name, "bare: vector %d", vec);
	}
}

/* ---- rows 2-4: L2 ---- */

static void test_intercepted(bool user)
{
	uint64_t rip = setup(user, true, false), rsp = vcpu.vmcb->save.rsp;
	uint64_t cr0 = vcpu.vmcb->save.cr0, cr3 = vcpu.vmcb->save.cr3;
	uint16_t cs = vcpu.vmcb->save.cs.selector;
	struct svm_check c;

	run();
	svm_check_begin(&c, cpl_name(user,
		"L2 VMMCALL, vmcb12 intercepts it: #VMEXIT(0x81), L2 state in vmcb12",
		"L2 CPL 3 VMMCALL, vmcb12 intercepts it: #VMEXIT(0x81), L2 state in vmcb12"));
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, user ? 3 : 0);
	svm_check_eq(&c, "cs", vcpu.vmcb->save.cs.selector, cs);
	svm_check_eq(&c, "cr0", vcpu.vmcb->save.cr0, cr0);
	svm_check_eq(&c, "cr3", vcpu.vmcb->save.cr3, cr3);
	svm_check_eq(&c, "efer.svme", vcpu.vmcb->save.efer & EFER_SVME, EFER_SVME);
	svm_check_eq(&c, "exitintinfo", vcpu.vmcb->control.exit_int_info, 0);
	svm_check_eq(&c, "#UD in L2", ud_count, 0);
	check_regs(&c, rsp);
	svm_check_end(&c);
	svm_check_nrip(cpl_name(user, "L2 VMMCALL intercepted", "L2 CPL 3 VMMCALL intercepted"),
		       &vcpu, rip + 3);
}

static void test_not_intercepted(bool user)
{
	uint64_t rip = setup(user, false, false), rsp = vcpu.vmcb->save.rsp;
	struct svm_check c;

	run();
	svm_check_begin(&c, cpl_name(user,
		"L2 VMMCALL, not intercepted: #UD in L2 at the VMMCALL, registers kept",
		"L2 CPL 3 VMMCALL, not intercepted: #UD in L2 at the VMMCALL, registers kept"));
	svm_check_exit(&c, &vcpu, SVM_EXIT_CPUID, 0, 0);
	svm_check_eq(&c, "#UD count", ud_count, 1);
	svm_check_eq(&c, "#UD rip", ud_rip, rip);
	svm_check_eq(&c, "#UD cs.rpl", ud_cs & 3, user ? 3 : 0);
	svm_check_eq(&c, "exit rip (the CPUID)", vcpu.vmcb->save.rip, rip + 3);
	check_regs(&c, rsp);
	svm_check_end(&c);
}

static void test_ud_intercepted(bool user)
{
	uint64_t rip = setup(user, false, true), rsp = vcpu.vmcb->save.rsp;
	struct svm_check c;

	run();
	svm_check_begin(&c, cpl_name(user,
		"L2 VMMCALL, not intercepted, #UD intercepted: #VMEXIT(0x46)",
		"L2 CPL 3 VMMCALL, not intercepted, #UD intercepted: #VMEXIT(0x46)"));
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(UD_VECTOR), 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, user ? 3 : 0);
	svm_check_eq(&c, "exitintinfo", vcpu.vmcb->control.exit_int_info, 0);
	svm_check_eq(&c, "L2's #UD handler ran", ud_count, 0);
	check_regs(&c, rsp);
	svm_check_end(&c);
	/* 15.7.1: no nRIP for an exception intercept */
	svm_check_nrip(cpl_name(user, "#VMEXIT(0x46)", "CPL 3 #VMEXIT(0x46)"), &vcpu, 0);
}

/* ---- row 5: VMRUN's consistency checks ---- */

static void test_vmrun_checks(void)
{
	setup(false, false, false);
	run();
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_CPUID && ud_count == 1,
	       "vmcb12 without the VMMCALL intercept: VMRUN succeeds");

	setup(false, true, false);
	vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMRUN);
	run();
	svm_expect_exit("vmcb12 without the VMRUN intercept: VMEXIT_INVALID (64-bit -1)",
			&vcpu, 0xffffffffffffffffull, 0, 0);
}

/* ---- vmcb12 is read once: L2 rewriting it changes nothing ---- */

static struct vmcb *volatile l2_vmcb;

/* L2: flip vmcb12's VMMCALL and #UD intercepts, VMMCALL, then CPUID. */
static void l2_rewrites_vmcb12(void)
{
	uint32_t a, b, c, d;

	l2_vmcb->control.intercepts[INTERCEPT_VMMCALL / 32] ^= 1u << (INTERCEPT_VMMCALL % 32);
	l2_vmcb->control.intercepts[2] |= 1u << UD_VECTOR;
	vmmcall();
	cpuid(0, 0, &a, &b, &c, &d);
}

static void test_read_once(void)
{
	svm_vcpu_init(&vcpu, l2_rewrites_vmcb12);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	l2_vmcb = vcpu.vmcb;
	run();
	svm_expect_exit("L2 clears vmcb12's VMMCALL intercept while it runs: still #VMEXIT(0x81)",
			&vcpu, SVM_EXIT_VMMCALL, 0, 0);

	svm_vcpu_init(&vcpu, l2_rewrites_vmcb12);
	vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	l2_vmcb = vcpu.vmcb;
	ud_count = 0;
	run();
	report(ud_count == 1 && vcpu.vmcb->control.exit_code == SVM_EXIT_CPUID,
	       "L2 sets vmcb12's VMMCALL and #UD intercepts while it runs: #UD in L2");
}

int main(void)
{
	test_l1();
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	for (int user = 0; user < 2; user++) {
		test_intercepted(user);
		test_not_intercepted(user);
		test_ud_intercepted(user);
	}
	test_vmrun_checks();
	test_read_once();
	return report_summary();
}
