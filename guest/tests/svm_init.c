/*
 * The INIT signal under SVM (APM vol. 2, 15.13.3 "INIT Intercept",
 * 15.17 "Global Interrupt Flag", 15.30.1 "VM_CR MSR"): INIT is held while
 * GIF = 0; in a guest the INIT intercept turns it into #VMEXIT(INIT) and
 * leaves it pending (the #VMEXIT cleared GIF); with VM_CR.R_INIT set the
 * INIT is taken as #SX (vector 30) with error code 1 instead of resetting
 * the processor — which is what lets this payload observe every case.
 * INITs come from the local APIC's ICR (delivery mode INIT, to self).
 */
#include "svm.h"

#define APIC_MMIO    0xfee00000ull
#define APIC_ICR_LO  0x300
#define ICR_SELF     (1u << 18)
#define ICR_INIT     (5u << 8)
#define ICR_ASSERT   (1u << 14)
#define ICR_LEVEL    (1u << 15)
#define VM_CR_MSR    0xc0010114u
#define VM_CR_R_INIT (1ull << 1)
#define SX_VECTOR    30

static struct svm_vcpu vcpu;
static volatile unsigned sx_count;
static volatile uint64_t sx_err;

static void sx_handler(struct ex_regs *r)
{
	sx_count++;
	sx_err = r->error_code;
}

static void send_init(uint32_t flags)
{
	*(volatile uint32_t *)(APIC_MMIO + APIC_ICR_LO) = ICR_SELF | ICR_INIT | flags;
}

static void settle(void) { for (int i = 0; i < 20; i++) asm volatile("nop"); }

static void test_held_by_gif(void)
{
	struct svm_check c;

	sx_count = 0;
	clgi();
	send_init(ICR_ASSERT);
	settle();
	svm_check_begin(&c, "INIT is held while GIF = 0, then taken as #SX(1)");
	svm_check_eq(&c, "taken while GIF = 0", sx_count, 0);
	stgi();
	settle();
	svm_check_eq(&c, "taken after STGI", sx_count, 1);
	svm_check_eq(&c, "#SX error code", sx_err, 1);
	svm_check_end(&c);

	sx_count = 0;
	send_init(ICR_LEVEL);   /* level-triggered, deassert */
	settle();
	svm_check_begin(&c, "INIT level de-assert delivers nothing");
	svm_check_eq(&c, "taken", sx_count, 0);
	svm_check_end(&c);
}

/* L2: MOV [RDX], EAX writes the ICR; VMMCALL follows. */
static uint64_t l2_sends_init(void)
{
	static const uint8_t code[] = { 0x89, 0x02 };
	uint64_t start;

	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	vcpu.regs.rdx = APIC_MMIO + APIC_ICR_LO;
	vcpu.vmcb->save.rax = ICR_SELF | ICR_INIT | ICR_ASSERT;
	return start;
}

static void test_intercepted(void)
{
	struct svm_check c;
	uint64_t start = l2_sends_init();

	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_INIT);
	sx_count = 0;
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	svm_check_begin(&c, "INIT intercept: #VMEXIT(INIT) after the ICR write, INIT kept pending");
	svm_check_exit(&c, &vcpu, SVM_EXIT_INIT, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, start + 2);
	svm_check_eq(&c, "EXITINTINFO", vcpu.vmcb->control.exit_int_info, 0);
	settle();
	svm_check_eq(&c, "taken while GIF = 0", sx_count, 0);
	stgi();
	settle();
	svm_check_eq(&c, "taken by L1 after STGI", sx_count, 1);
	svm_check_end(&c);
}

static void test_not_intercepted(void)
{
	struct svm_check c;

	l2_sends_init();
	sx_count = 0;
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "INIT not intercepted, R_INIT: #SX(1) in L2");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "taken", sx_count, 1);
	svm_check_eq(&c, "#SX error code", sx_err, 1);
	svm_check_end(&c);

	l2_sends_init();
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(SX_VECTOR));
	sx_count = 0;
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "INIT not intercepted, R_INIT, #SX intercepted: #VMEXIT(EXCP 30)");
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(SX_VECTOR), 1, 0);
	svm_check_eq(&c, "taken in L2", sx_count, 0);
	svm_check_end(&c);
}

int main(void)
{
	uint32_t a, b, c, d;

	if (svm_skip_if_unsupported())
		return report_summary();
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(d & (1u << 9))) {
		report_skip("INIT", "no local APIC to send INIT");
		return report_summary();
	}
	svm_enable();
	set_exception_handler(SX_VECTOR, sx_handler);
	wrmsr(VM_CR_MSR, rdmsr(VM_CR_MSR) | VM_CR_R_INIT);

	test_held_by_gif();
	test_intercepted();
	test_not_intercepted();
	return report_summary();
}
