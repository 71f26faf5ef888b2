/*
 * The global interrupt flag (APM vol. 2, 15.17): CLGI clears GIF, STGI sets
 * it, VMRUN sets it and every #VMEXIT (VMEXIT_INVALID included) clears it.
 * With GIF = 0 interrupts and NMIs are held pending whatever RFLAGS.IF is.
 * GIF is observed with self-IPIs from the local APIC: a fixed interrupt (and
 * an NMI) sent while GIF = 0 must be taken only after STGI.
 */
#include "svm.h"

#define APIC_BASE_MSR   0x1b
#define APIC_ENABLE     (1ull << 11)
#define APIC_MMIO       0xfee00000ull
#define APIC_EOI        0x0b0
#define APIC_SVR        0x0f0
#define APIC_ICR_LO     0x300
#define ICR_SELF        (1u << 18)
#define ICR_NMI         (4u << 8)
#define IPI_VECTOR      0xe0

static struct svm_vcpu vcpu;
static volatile unsigned irq_count, nmi_count;

static void apic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(APIC_MMIO + reg) = v;
}

static uint32_t apic_read(unsigned reg)
{
	return *(volatile uint32_t *)(APIC_MMIO + reg);
}

static void irq_handler(struct ex_regs *r)
{
	(void)r;
	irq_count++;
	apic_write(APIC_EOI, 0);
}

static void nmi_handler(struct ex_regs *r)
{
	(void)r;
	nmi_count++;
}

static void self_ipi(void) { apic_write(APIC_ICR_LO, ICR_SELF | IPI_VECTOR); }
static void self_nmi(void) { apic_write(APIC_ICR_LO, ICR_SELF | ICR_NMI); }
static void settle(void) { for (int i = 0; i < 100; i++) asm volatile("nop"); }

static bool apic_usable(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(d & (1u << 9)) || !(rdmsr(APIC_BASE_MSR) & APIC_ENABLE))
		return false;
	/* mask the 8259s so that only the APIC's self-IPIs arrive */
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	apic_write(APIC_SVR, apic_read(APIC_SVR) | 0x100 | 0xff);
	return true;
}

/* With GIF = 0 and IF = 1: the IPI and NMI wait for STGI. */
static void check_held_until_stgi(const char *name, bool nmi)
{
	struct svm_check c;

	irq_count = nmi_count = 0;
	sti();
	nmi ? self_nmi() : self_ipi();
	settle();
	svm_check_begin(&c, name);
	svm_check_eq(&c, "taken while GIF = 0", nmi ? nmi_count : irq_count, 0);
	stgi();
	settle();
	cli();
	svm_check_eq(&c, "taken after STGI", nmi ? nmi_count : irq_count, 1);
	svm_check_end(&c);
}

static void test_clgi(void)
{
	clgi();
	check_held_until_stgi("CLGI holds an interrupt until STGI", false);
	clgi();
	check_held_until_stgi("CLGI holds an NMI until STGI", true);
}

static void test_vmexit_clears_gif(void)
{
	svm_vcpu_init(&vcpu, NULL);
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	check_held_until_stgi("#VMEXIT clears GIF (interrupt held until STGI)", false);

	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	check_held_until_stgi("#VMEXIT clears GIF (NMI held until STGI)", true);

	vcpu.vmcb->control.asid = 0;    /* illegal: VMEXIT_INVALID */
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	check_held_until_stgi("VMEXIT_INVALID clears GIF too", false);
}

/*
 * VMRUN sets GIF: an interrupt pending with GIF = 0 and IF = 1 becomes
 * deliverable in L2, where the INTR intercept turns it into #VMEXIT(INTR)
 * before L2's first instruction; the interrupt stays pending for L1.
 */
static void test_vmrun_sets_gif(void)
{
	struct svm_check c;
	uint64_t start;
	static const uint8_t nop[] = { 0x90 };

	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, nop, sizeof(nop));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_INTR);
	vcpu.vmcb->control.int_ctl |= INT_CTL_V_INTR_MASKING;
	irq_count = 0;
	clgi();
	sti();
	self_ipi();
	settle();
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	cli();
	svm_check_begin(&c, "VMRUN sets GIF: pending interrupt gives #VMEXIT(INTR)");
	svm_check_eq(&c, "taken before VMRUN", irq_count, 0);
	svm_check_exit(&c, &vcpu, SVM_EXIT_INTR, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, start);
	stgi();
	settle();
	svm_check_eq(&c, "taken by L1 after STGI with IF = 0", irq_count, 0);
	sti();
	settle();
	cli();
	svm_check_eq(&c, "taken by L1 after STI", irq_count, 1);
	svm_check_end(&c);
}

/* The same for an NMI: #VMEXIT(NMI), and the NMI is taken by L1 at STGI. */
static void test_vmrun_sets_gif_nmi(void)
{
	struct svm_check c;

	svm_vcpu_init(&vcpu, NULL);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_NMI);
	nmi_count = 0;
	clgi();
	self_nmi();
	settle();
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	svm_check_begin(&c, "VMRUN sets GIF: pending NMI gives #VMEXIT(NMI)");
	svm_check_eq(&c, "taken before VMRUN", nmi_count, 0);
	svm_check_exit(&c, &vcpu, SVM_EXIT_NMI, 0, 0);
	svm_check_eq(&c, "taken while GIF = 0", nmi_count, 0);
	stgi();
	settle();
	svm_check_eq(&c, "taken by L1 after STGI", nmi_count, 1);
	svm_check_end(&c);
}

/* L2's own CLGI/STGI (not intercepted) do not leak to L1: #VMEXIT clears GIF. */
static void test_l2_stgi(void)
{
	static const uint8_t stgi_code[] = { 0x0f, 0x01, 0xdc };

	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, stgi_code, sizeof(stgi_code));
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	check_held_until_stgi("L2 STGI then #VMEXIT: GIF clear in L1", false);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	if (!apic_usable()) {
		report_skip("GIF", "no enabled local APIC to send self-IPIs");
		return report_summary();
	}
	set_exception_handler(IPI_VECTOR, irq_handler);
	set_exception_handler(NMI_VECTOR, nmi_handler);

	test_clgi();
	test_vmexit_clears_gif();
	test_vmrun_sets_gif();
	test_vmrun_sets_gif_nmi();
	test_l2_stgi();
	return report_summary();
}
