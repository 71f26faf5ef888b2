/*
 * LBR virtualization (APM vol. 2, 15.23; CPUID 0x8000000A EDX.LbrVirt):
 * with LBR_VIRT (VMCB offset 0xB8 bit 0) VMRUN loads the guest's DebugCtl,
 * LastBranchFromIP/ToIP and LastExceptionFromIP/ToIP from the VMCB (0x270
 * to 0x290), #VMEXIT stores the guest's values there and gives the host
 * its own back.  Without it guest and host share the MSRs.  The recorded
 * addresses are this payload's labels (L2 runs in L1's address space).
 */
#include "svm.h"

#define MSR_DEBUGCTL      0x1d9
#define MSR_BR_FROM       0x1db
#define MSR_BR_TO         0x1dc
#define MSR_LASTEXCP_FROM 0x1dd
#define MSR_LASTEXCP_TO   0x1de

extern char l1_from[], l1_to[], l2_from[], l2_to[];
static struct svm_vcpu vcpu;
static volatile uint64_t l2_debugctl, l2_excp_from, l2_br_from;

/* L1: a recorded JMP, then LBR off. */
static void __attribute__((noinline)) l1_branch(void)
{
	asm volatile("mov $0x1d9, %%ecx\n\tmov $1, %%eax\n\txor %%edx, %%edx\n\twrmsr\n\t"
		     "l1_from: jmp l1_to\n\t"
		     "ud2\n"
		     "l1_to:\n\t"
		     "xor %%eax, %%eax\n\twrmsr\n\t"
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

/* L2 without LBR_VIRT: turns LBR on, branches, turns it off. */
static void l2_shared(void)
{
	asm volatile("mov $0x1d9, %%ecx\n\tmov $1, %%eax\n\txor %%edx, %%edx\n\twrmsr\n\t"
		     "l2_from: jmp l2_to\n\t"
		     "ud2\n"
		     "l2_to:\n\t"
		     "xor %%eax, %%eax\n\twrmsr\n\t"
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

/* L2 with LBR_VIRT and the VMCB's DebugCtl.LBR set: reads its MSRs, then
 * a JMP straight to VMMCALL (the last branch before the #VMEXIT). */
extern char l2v_from[], l2v_to[];
static void l2_virt(void)
{
	l2_debugctl = rdmsr(MSR_DEBUGCTL);
	l2_excp_from = rdmsr(MSR_LASTEXCP_FROM);
	l2_br_from = rdmsr(MSR_BR_FROM);
	asm volatile("l2v_from: jmp l2v_to\n\t"
		     "ud2\n"
		     "l2v_to: vmmcall\n\t"
		     "ud2"
		     ::: "memory");
}

static void test_shared(void)
{
	struct svm_check c;

	l1_branch();
	svm_vcpu_init(&vcpu, l2_shared);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "without LBR_VIRT L2 records into L1's MSRs");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "LastBranchFromIP", rdmsr(MSR_BR_FROM), (uint64_t)l2_from);
	svm_check_eq(&c, "LastBranchToIP", rdmsr(MSR_BR_TO), (uint64_t)l2_to);
	svm_check_eq(&c, "DebugCtl", rdmsr(MSR_DEBUGCTL), 0);
	svm_check_end(&c);
}

static void test_virtualized(void)
{
	struct svm_check c;
	struct vmcb *v;

	l1_branch();
	svm_vcpu_init(&vcpu, l2_virt);
	v = vcpu.vmcb;
	v->control.misc_ctl2 |= MISC_CTL2_LBR_VIRT;
	v->save.dbgctl = 1;
	v->save.br_from = 0x1111;
	v->save.br_to = 0x2222;
	v->save.last_excp_from = 0x3333;
	v->save.last_excp_to = 0x4444;
	l2_debugctl = l2_excp_from = l2_br_from = 0;
	svm_vmrun(&vcpu);

	svm_check_begin(&c, "LBR_VIRT: VMRUN loads the guest's LBR state");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "L2's DebugCtl", l2_debugctl, 1);
	svm_check_eq(&c, "L2's LastExceptionFromIP", l2_excp_from, 0x3333);
	svm_check_true(&c, "L2's LastBranchFromIP is not L1's", l2_br_from != (uint64_t)l1_from);
	svm_check_end(&c);

	svm_check_begin(&c, "LBR_VIRT: #VMEXIT stores the guest's LBR state");
	svm_check_eq(&c, "DBGCTL", v->save.dbgctl, 1);
	svm_check_eq(&c, "BR_FROM", v->save.br_from, (uint64_t)l2v_from);
	svm_check_eq(&c, "BR_TO", v->save.br_to, (uint64_t)l2v_to);
	svm_check_eq(&c, "LASTEXCPFROM", v->save.last_excp_from, 0x3333);
	svm_check_eq(&c, "LASTEXCPTO", v->save.last_excp_to, 0x4444);
	svm_check_end(&c);

	svm_check_begin(&c, "LBR_VIRT: #VMEXIT gives L1 its own LBR state back");
	svm_check_eq(&c, "DebugCtl", rdmsr(MSR_DEBUGCTL), 0);
	svm_check_eq(&c, "LastBranchFromIP", rdmsr(MSR_BR_FROM), (uint64_t)l1_from);
	svm_check_eq(&c, "LastBranchToIP", rdmsr(MSR_BR_TO), (uint64_t)l1_to);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	test_shared();
	if (!svm_has(SVM_FEATURE_LBRV)) {
		report_skip("LBR_VIRT: VMRUN loads the guest's LBR state", "no LbrVirt");
		report_skip("LBR_VIRT: #VMEXIT stores the guest's LBR state", "no LbrVirt");
		report_skip("LBR_VIRT: #VMEXIT gives L1 its own LBR state back", "no LbrVirt");
		return report_summary();
	}
	test_virtualized();
	return report_summary();
}
