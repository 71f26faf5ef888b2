/*
 * EXITINTINFO for an interrupt whose delivery an exit interrupted (APM
 * vol. 2, 15.7.2): a physical interrupt (self-IPI) reaches L2, which does
 * not intercept INTR, and its IDT gate is not present: the delivery
 * raises #NP with the IDT-format error code (vector << 3 | IDT | EXT),
 * which L1 intercepts.  The #VMEXIT reports the #NP in EXITINFO1 and the
 * interrupt in EXITINTINFO (valid, type 0 = INTR, its vector).  The
 * interrupt has been acknowledged (it is in service, no longer requested),
 * so it is L1's to deliver: re-injected through EVENTINJ it is taken
 * exactly once.  Nested, L0 must neither lose nor duplicate it.
 */
#include "svm.h"

#define PIPI_VEC    0xe2
#define APIC_MMIO   0xfee00000ull
#define APIC_EOI    0x0b0
#define APIC_SVR    0x0f0
#define APIC_ICR_LO 0x300
#define ICR_SELF    (1u << 18)

static struct svm_vcpu vcpu;
static volatile unsigned pcount;

static void pipi_handler(struct ex_regs *r)
{
	(void)r;
	pcount++;
	*(volatile uint32_t *)(APIC_MMIO + APIC_EOI) = 0;
}

/* The present bit of a 64-bit IDT gate (bit 47 of its first quadword). */
static void gate_present(unsigned vector, bool present)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;
	volatile uint64_t *gate;

	asm volatile("sidt %0" : "=m"(idtr));
	gate = (volatile uint64_t *)(idtr.base + vector * 16);
	if (present)
		*gate |= 1ull << 47;
	else
		*gate &= ~(1ull << 47);
}

int main(void)
{
	struct svm_check c;
	uint32_t a, b, cx, d;
	uint64_t start;

	if (svm_skip_if_unsupported())
		return report_summary();
	cpuid(1, 0, &a, &b, &cx, &d);
	if (!(d & (1u << 9))) {
		report_skip("EXITINTINFO", "no local APIC");
		return report_summary();
	}
	svm_enable();
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	*(volatile uint32_t *)(APIC_MMIO + APIC_SVR) |= 0x1ff;
	set_exception_handler(PIPI_VEC, pipi_handler);

	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, NULL, 0);
	vcpu.vmcb->save.rflags |= RFLAGS_IF;
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(NP_VECTOR));
	gate_present(PIPI_VEC, false);
	cli();
	clgi();
	*(volatile uint32_t *)(APIC_MMIO + APIC_ICR_LO) = ICR_SELF | PIPI_VEC;
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	gate_present(PIPI_VEC, true);

	svm_check_begin(&c, "interrupt delivery in L2 faults: #NP exit with the interrupt in EXITINTINFO");
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(NP_VECTOR), (PIPI_VEC << 3) | 2 | 1, 0);
	svm_check_eq(&c, "EXITINTINFO", vcpu.vmcb->control.exit_int_info,
		     EVENTINJ_V | EVENTINJ_TYPE_INTR | PIPI_VEC);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, start);
	svm_check_eq(&c, "taken", pcount, 0);
	stgi();
	sti();
	for (int i = 0; i < 50; i++)
		asm volatile("nop");
	cli();
	svm_check_eq(&c, "taken by L1 (acknowledged, not pending again)", pcount, 0);
	svm_check_end(&c);

	vcpu.vmcb->control.event_inj = vcpu.vmcb->control.exit_int_info;
	vcpu.vmcb->control.event_inj_err = 0;
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "the interrupt re-injected through EVENTINJ is taken once");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "taken", pcount, 1);
	svm_check_eq(&c, "EXITINTINFO", vcpu.vmcb->control.exit_int_info, 0);
	svm_check_end(&c);
	return report_summary();
}
