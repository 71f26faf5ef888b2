/*
 * The SMI intercept (APM vol. 2, 15.13.2): an SMI that arrives while L2
 * runs with the SMI intercept set is a #VMEXIT(SMI) with EXITINFO1 and
 * EXITINFO2 zero (an external SMI), at an L2 instruction boundary, and the
 * SMI stays pending: #VMEXIT cleared GIF, so L1's SMM handler runs only
 * after L1's STGI, with L1's state in the save area.  With the intercept
 * clear the SMI is taken in L2's context: the save area holds L2's state,
 * RSM returns into L2, which carries on to its VMMCALL.
 *
 * L2 sends the SMI itself: MOV EAX, 0xFEE00300; MOV [RAX], 0x40200 (ICR:
 * self, SMI), then NOPs, then the VMMCALL svm_vcpu_set_code appends.
 */
#include "smm_util.h"

#define NOPS 8

static const char *const smi_tests[] = {
	"SMI intercepted: #VMEXIT(SMI) at an L2 instruction boundary",
	"SMI intercepted: held after #VMEXIT, SMM entered after STGI",
	"SMI not intercepted: SMM entered from L2, RSM back into L2",
};

static struct svm_vcpu vcpu;
static uint64_t smbase;

static const uint8_t l2_code[] = {
	0xb8, 0x00, 0x03, 0xe0, 0xfe,               /* mov $0xfee00300, %eax */
	0xc7, 0x00, 0x00, 0x02, 0x04, 0x00,         /* movl $0x40200, (%rax) */
	0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,   /* NOPS nops */
};
#define AFTER_ICR 11

static bool in_nops(uint64_t rip, uint64_t start)
{
	return rip >= start + AFTER_ICR && rip <= start + AFTER_ICR + NOPS;
}

static void test_intercepted(void)
{
	struct svm_check c;

	smm_install(smbase);
	svm_vcpu_init(&vcpu, NULL);
	uint64_t start = svm_vcpu_set_code(&vcpu, l2_code, sizeof(l2_code));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_SMI);
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	smm_settle();
	unsigned held = *smm_var(smbase, SMM_COUNT);

	svm_check_begin(&c, smi_tests[0]);
	svm_check_exit(&c, &vcpu, SVM_EXIT_SMI, 0, 0);
	svm_check_true(&c, "RIP after the ICR write", in_nops(vcpu.vmcb->save.rip, start));
	svm_check_end(&c);

	stgi();
	smm_settle();
	svm_check_begin(&c, smi_tests[1]);
	svm_check_eq(&c, "SMM entries before STGI", held, 0);
	svm_check_eq(&c, "SMM entries after STGI", *smm_var(smbase, SMM_COUNT), 1);
	svm_check_eq(&c, "saved CR3 (L1's)", smm_save64(smbase, SS_CR3), read_cr3());
	svm_check_eq(&c, "saved CS (L1's)", smm_save16(smbase, SS_CS), read_cs());
	svm_check_true(&c, "saved RIP in L1", smm_save64(smbase, SS_RIP) > PAYLOAD_BASE &&
		       !in_nops(smm_save64(smbase, SS_RIP), start));
	/* L2 resumes after the interrupted instruction and reaches VMMCALL */
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	stgi();
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "L2 RIP at its VMMCALL", vcpu.vmcb->save.rip,
		     start + sizeof(l2_code));
	svm_check_end(&c);
}

static void test_not_intercepted(void)
{
	struct svm_check c;

	smm_install(smbase);
	svm_vcpu_init(&vcpu, NULL);
	uint64_t start = svm_vcpu_set_code(&vcpu, l2_code, sizeof(l2_code));
	uint64_t l2_rsp = vcpu.vmcb->save.rsp;
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	stgi();
	svm_check_begin(&c, smi_tests[2]);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "L2 RIP at its VMMCALL", vcpu.vmcb->save.rip,
		     start + sizeof(l2_code));
	svm_check_eq(&c, "SMM entries", *smm_var(smbase, SMM_COUNT), 1);
	svm_check_true(&c, "saved RIP in L2's code",
		       in_nops(smm_save64(smbase, SS_RIP), start));
	svm_check_eq(&c, "saved RSP (L2's)", smm_save64(smbase, SS_GPR(4)), l2_rsp);
	svm_check_eq(&c, "saved RAX (L2's)", smm_save64(smbase, SS_GPR(0)), 0xfee00300);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	smbase = smm_base();
	if (!feature_or_skip(smbase != 0 && apic_setup("SMI"), smi_tests,
			     ARRAY_SIZE(smi_tests), "no SMM_BASE MSR or no local APIC"))
		return report_summary();
	test_intercepted();
	test_not_intercepted();
	return report_summary();
}
