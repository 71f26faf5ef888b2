/*
 * The local APIC's registers and interrupt priority: IA32_APIC_BASE, ID,
 * version, TPR and its CR8 alias, PPR, ISR/IRR through delivery and EOI
 * (a higher class preempts a handler, a lower one waits for its EOI), TPR
 * masking, SVR software disable, LVT masks, ESR, IPI destinations, and
 * x2APIC mode (MSRs 0x800-0x8FF) with its transition rules.
 */
#include "apic_util.h"

static volatile unsigned order[8], norder;
static volatile unsigned ppr_in_handler, isr_in_handler, irr_in_handler;

static void log_vec(unsigned v)
{
	if (norder < ARRAY_SIZE(order))
		order[norder++] = v;
}

static void h40(struct ex_regs *r) { (void)r; log_vec(0x40); apic_write(APIC_EOI, 0); }
static void h60(struct ex_regs *r) { (void)r; log_vec(0x60); apic_write(APIC_EOI, 0); }

/* In service at 0x50: 0x60 preempts it, 0x40 waits for its EOI. */
static void h50(struct ex_regs *r)
{
	(void)r;
	log_vec(0x50);
	ppr_in_handler = apic_read(APIC_PPR);
	isr_in_handler = apic_bit(APIC_ISR, 0x50);
	irr_in_handler = apic_bit(APIC_IRR, 0x50);
	self_ipi(0x40);
	self_ipi(0x60);
	asm volatile("sti; nop; nop; nop; cli" ::: "memory");
	log_vec(0x51);
	apic_write(APIC_EOI, 0);
}

static void test_base(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint32_t v = apic_read(APIC_VERSION);

	report_eq("IA32_APIC_BASE: base 0xfee00000", base & ~0xfffull, APIC_MMIO);
	report(base & APIC_BASE_BSP, "IA32_APIC_BASE: BSP");
	report((v & 0xff) >= 0x10 && (v & 0xff) <= 0x15, "version: integrated APIC");
	report(((v >> 16) & 0xff) >= 5, "version: at least six LVT entries");
	report_eq("ID of the only CPU", apic_read(APIC_ID) >> 24, 0);
}

static void test_tpr(void)
{
	apic_write(APIC_TPR, 0x5a);
	report_eq("TPR reads back", apic_read(APIC_TPR) & 0xff, 0x5a);
	report_eq("CR8 is TPR[7:4]", read_cr8(), 5);
	report_eq("PPR = TPR with nothing in service", apic_read(APIC_PPR) & 0xff, 0x5a);
	write_cr8(3);
	report_eq("MOV CR8 sets TPR[7:4], clears [3:0]", apic_read(APIC_TPR) & 0xff, 0x30);
	write_cr8(0);
}

static void test_priority(void)
{
	set_exception_handler(0x40, h40);
	set_exception_handler(0x50, h50);
	set_exception_handler(0x60, h60);
	norder = 0;
	self_ipi(0x50);
	intr_window();
	for (int i = 0; i < 50; i++)
		asm volatile("nop");
	intr_window();
	report_eq("ISR: the vector in service", isr_in_handler, 1);
	report_eq("IRR: cleared when taken", irr_in_handler, 0);
	report_eq("PPR: the class in service", ppr_in_handler & 0xf0, 0x50);
	report(norder == 4 && order[0] == 0x50 && order[1] == 0x60 &&
	       order[2] == 0x51 && order[3] == 0x40,
	       "0x60 preempts 0x50; 0x40 waits for 0x50's EOI");
	report(!apic_bit(APIC_ISR, 0x50) && !apic_bit(APIC_ISR, 0x40) &&
	       !apic_bit(APIC_ISR, 0x60), "EOI empties the ISR");
}

static volatile unsigned tpr_count;
static void htpr(struct ex_regs *r) { (void)r; tpr_count++; apic_write(APIC_EOI, 0); }

static void test_tpr_masking(void)
{
	set_exception_handler(0xe0, htpr);
	tpr_count = 0;
	apic_write(APIC_TPR, 0xe0);
	self_ipi(0xe0);
	intr_window();
	report_eq("TPR class 0xe holds vector 0xe0", tpr_count, 0);
	apic_write(APIC_TPR, 0xd0);
	intr_window();
	report_eq("TPR class 0xd lets it through", tpr_count, 1);
	write_cr8(0xf);
	self_ipi(0xe0);
	intr_window();
	report_eq("CR8 = 15 holds it", tpr_count, 1);
	write_cr8(0);
	intr_window();
	report_eq("CR8 = 0 lets it through", tpr_count, 2);
}

static volatile unsigned dest_count;
static volatile bool x2apic_mode;   /* no MMIO then: EOI is MSR 0x80b */

static void hdest(struct ex_regs *r)
{
	(void)r;
	dest_count++;
	if (x2apic_mode)
		wrmsr(0x80b, 0);
	else
		apic_write(APIC_EOI, 0);
}

static void send_and_count(const char *name, uint32_t icr, uint32_t dest, unsigned want)
{
	dest_count = 0;
	apic_write(APIC_ICR2, dest << 24);
	apic_write(APIC_ICR, icr | 0xd0);
	for (int i = 0; i < 50; i++)
		asm volatile("nop");
	intr_window();
	report_eq(name, dest_count, want);
}

static void test_destinations(void)
{
	set_exception_handler(0xd0, hdest);
	send_and_count("IPI to all including self", ICR_ALL_INC, 0, 1);
	send_and_count("IPI to all excluding self goes nowhere", ICR_ALL_EXC, 0, 0);
	send_and_count("IPI to physical ID 0 (self)", 0, 0, 1);
	send_and_count("IPI to physical ID 5 goes nowhere", 0, 5, 0);
	send_and_count("IPI to the physical broadcast ID", 0, 0xff, 1);
	apic_write(APIC_DFR, 0xffffffff);
	apic_write(APIC_LDR, 0x01000000);
	send_and_count("IPI to logical flat 0x01 (self)", ICR_LOGICAL, 0x01, 1);
	send_and_count("IPI to logical flat 0x02 goes nowhere", ICR_LOGICAL, 0x02, 0);
	apic_write(APIC_LDR, 0);
}

static void test_svr_esr(void)
{
	apic_write(APIC_ESR, 0);
	apic_write(APIC_ESR, 0);
	report_eq("ESR clear", apic_read(APIC_ESR), 0);
	self_ipi(3);   /* vectors 0-15 are illegal */
	apic_write(APIC_ESR, 0);
	report(apic_read(APIC_ESR) & (1u << 5), "ESR: send illegal vector");
	apic_write(APIC_ESR, 0);

	apic_write(APIC_SVR, 0xff);   /* software disable */
	apic_write(APIC_LVT0, 0x700);
	report(apic_read(APIC_LVT0) & APIC_MASKED, "software-disabled: LVT masks stay set");
	apic_write(APIC_SVR, 0x1ff);
	apic_write(APIC_LVTERR, 0xfe);
	report_eq("LVT error reads back", apic_read(APIC_LVTERR), 0xfe);
	apic_write(APIC_LVTERR, APIC_MASKED);
}

static const char *const x2_names[] = {
	"x2APIC MSRs #GP in xAPIC mode",
	"x2APIC: ID (32 bits)",
	"x2APIC: version as in xAPIC mode",
	"x2APIC: LDR derived from the ID",
	"x2APIC: TPR",
	"x2APIC: CR8 follows",
	"x2APIC: EOI is write-only (#GP)",
	"x2APIC: ID is read-only (#GP)",
	"x2APIC: SELF IPI",
	"x2APIC: ICR to all including self",
	"x2APIC -> xAPIC directly is #GP",
	"disabled -> x2APIC directly is #GP",
	"disable then enable: back in xAPIC mode, SVR reset",
};

static void x2apic_ipi(const char *name, uint32_t msr, uint64_t val)
{
	dest_count = 0;
	wrmsr(msr, val);
	for (int i = 0; i < 50; i++)
		asm volatile("nop");
	intr_window();
	report_eq(name, dest_count, 1);
}

/* x2APIC: the registers as MSRs 0x800 + offset / 16. */
static void test_x2apic(void)
{
	const char *const *t = x2_names;
	uint32_t a, b, c, d;
	uint64_t v;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!feature_or_skip(c & (1u << 21), t, ARRAY_SIZE(x2_names),
			     "CPUID 1 ECX[21] clear"))
		return;
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint32_t version = apic_read(APIC_VERSION);
	report(rdmsr_safe(0x802, &v) == GP_VECTOR, t[0]);
	wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	x2apic_mode = true;
	report_eq(t[1], rdmsr(0x802), 0);
	report_eq(t[2], rdmsr(0x803), version);
	report_eq(t[3], rdmsr(0x80d), 1);
	wrmsr(0x808, 0x20);
	report_eq(t[4], rdmsr(0x808), 0x20);
	report_eq(t[5], read_cr8(), 2);
	wrmsr(0x808, 0);
	report(rdmsr_safe(0x80b, &v) == GP_VECTOR, t[6]);
	report(wrmsr_safe(0x802, 1) == GP_VECTOR, t[7]);
	x2apic_ipi(t[8], 0x83f, 0xd0);                 /* SELF IPI */
	x2apic_ipi(t[9], 0x830, ICR_ALL_INC | 0xd0);
	report(wrmsr_safe(MSR_APIC_BASE, base) == GP_VECTOR, t[10]);
	wrmsr(MSR_APIC_BASE, base & ~(APIC_BASE_EN | APIC_BASE_EXTD));
	x2apic_mode = false;
	report(wrmsr_safe(MSR_APIC_BASE, base | APIC_BASE_EXTD) == GP_VECTOR, t[11]);
	wrmsr(MSR_APIC_BASE, base);
	report_eq(t[12], apic_read(APIC_SVR) & 0x1ff, 0xff);
	apic_write(APIC_SVR, 0x1ff);
}

int main(void)
{
	if (!apic_setup("APIC registers"))
		return report_summary();
	test_base();
	test_tpr();
	test_priority();
	test_tpr_masking();
	test_destinations();
	test_svr_esr();
	test_x2apic();
	return report_summary();
}
