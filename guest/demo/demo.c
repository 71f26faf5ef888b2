/*
 * The demo `nsvm run` shows without a payload: what VMMCALL does at each
 * level, the scenario of the KVM fix nsvm was born from (CVE-2026-46076).
 * Each row says what the AMD APM requires and what this machine did.  In
 * nested mode (the default) this kernel is L1 under nsvm's L0; with --bare
 * it is on the hardware itself, and the first row changes accordingly.
 * Exits 0 when every row is as the APM says.
 */
#include "svm.h"

#define KVM_HC_VAPIC_POLL_IRQ 1ull

static struct svm_vcpu vcpu;
static int rows_ok, rows;

static void row(const char *who, const char *by, const char *want, const char *got)
{
	bool ok = strcmp(want, got) == 0;

	rows++;
	rows_ok += ok;
	printf("  %-4s %-27s %-32s %-32s %s\n", who, by, want, got, ok ? "ok" : "WRONG");
}

static bool under_kvm(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return false;
	cpuid(0x40000000u, 0, &a, &b, &c, &d);
	return b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d;   /* KVMKVMKVM */
}

/* ---- L1 ---- */

static volatile uint64_t l1_rax, l1_after;

static void l1_vmmcall(void *arg)
{
	uint64_t rax = KVM_HC_VAPIC_POLL_IRQ, after = 0;

	(void)arg;
	asm volatile("vmmcall\n\tinc %1" : "+a"(rax), "+r"(after) :: "memory");
	l1_rax = rax;
	l1_after = after;
}

static void row_l1(bool kvm)
{
	char got[48];
	int vec = catch_exception(l1_vmmcall, NULL, NULL);

	if (vec >= 0)
		snprintf(got, sizeof(got), vec == UD_VECTOR ? "#UD at the VMMCALL" : "exception %d", vec);
	else
		snprintf(got, sizeof(got), "hypercall: RAX %ld, RIP+%s", (long)l1_rax,
			 l1_after == 1 ? "3" : "?");
	if (kvm)
		row("L1", "L0 (vmcb01, always)", "hypercall: RAX 0, RIP+3", got);
	else
		row("L1", "nothing (no guest mode)", "#UD at the VMMCALL", got);
}

/* ---- L2 ---- */

static volatile uint64_t ud_count, ud_rip;

static void l2_ud(struct ex_regs *r)
{
	ud_count++;
	ud_rip = r->rip;
	r->rip += 3;
}

/* L2: VMMCALL, then CPUID (intercepted), RAX = 1 as for a hypercall. */
static uint64_t run_l2(bool icpt_vmmcall, bool icpt_ud)
{
	static const uint8_t code[] = { 0x0f, 0x01, 0xd9, 0x0f, 0xa2 };
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	if (!icpt_vmmcall)
		vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	if (icpt_ud)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(UD_VECTOR));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	vcpu.vmcb->save.rax = KVM_HC_VAPIC_POLL_IRQ;
	ud_count = ud_rip = 0;
	set_exception_handler(UD_VECTOR, l2_ud);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
	return rip;
}

/* What L1 saw: the exit it got, or the #UD L2's handler took. */
static void describe(char *got, size_t n, uint64_t rip)
{
	const struct vmcb_control *c = &vcpu.vmcb->control;

	if (c->exit_code == SVM_EXIT_CPUID && ud_count == 1)
		snprintf(got, n, "#UD in L2 at %s, RAX %lu", ud_rip == rip ?
			 "the VMMCALL" : "another RIP", vcpu.vmcb->save.rax);
	else if (c->exit_code == SVM_EXIT_VMMCALL)
		snprintf(got, n, "#VMEXIT(0x81), nRIP = RIP+%ld",
			 (long)(c->next_rip - vcpu.vmcb->save.rip));
	else
		snprintf(got, n, "#VMEXIT(0x%lx)%s", c->exit_code,
			 vcpu.vmcb->save.rip == rip ? " at the VMMCALL" : "");
}

static void rows_l2(void)
{
	char got[48];
	uint64_t rip;

	rip = run_l2(true, false);
	if (svm_has(SVM_FEATURE_NRIPS)) {
		describe(got, sizeof(got), rip);
		row("L2", "L1 (vmcb12's VMMCALL bit)", "#VMEXIT(0x81), nRIP = RIP+3", got);
	} else {   /* no NRIP save: nRIP is not defined */
		snprintf(got, sizeof(got), "#VMEXIT(0x%lx)", vcpu.vmcb->control.exit_code);
		row("L2", "L1 (vmcb12's VMMCALL bit)", "#VMEXIT(0x81)", got);
	}

	rip = run_l2(false, false);
	describe(got, sizeof(got), rip);
	row("L2", "nobody", "#UD in L2 at the VMMCALL, RAX 1", got);

	rip = run_l2(false, true);
	describe(got, sizeof(got), rip);
	row("L2", "nobody; L1 intercepts #UD", "#VMEXIT(0x46) at the VMMCALL", got);
}

int main(void)
{
	bool kvm = under_kvm();

	printf("nsvm demo: what VMMCALL does at each level (AMD APM vol. 2, 15.9;\n"
	       "vol. 3, VMMCALL: \"#UD if not intercepted\"), the rule of CVE-2026-46076.\n"
	       "This kernel runs %s.\n\n",
	       kvm ? "as L1 under nsvm's L0 hypervisor (CPUID: \"KVMKVMKVM\")"
		   : "on the hardware itself (no hypervisor: --bare)");
	printf("  %-4s %-27s %-32s %s\n", "who", "VMMCALL intercepted by",
	       "expected (APM)", "observed");
	row_l1(kvm);
	if (!svm_supported()) {
		printf("\ndemo: no SVM (CPUID 0x80000001 ECX[2]): no L2 rows\n");
		return rows_ok == rows ? 0 : 1;
	}
	svm_enable();
	rows_l2();
	printf("\ndemo: %d of %d rows as the APM says%s; exiting with status %d\n",
	       rows_ok, rows, rows_ok == rows ? "" : " - a BUG", rows_ok == rows ? 0 : 1);
	return rows_ok == rows ? 0 : 1;
}
