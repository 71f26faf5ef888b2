/*
 * Accepting maskable interrupts and NMIs between instructions (APM vol. 2,
 * 8.5, 8.9): RFLAGS.IF masks interrupts, STI holds them back until the
 * next instruction has completed (the interrupt shadow), HLT is woken by
 * an interrupt, an NMI is taken whatever IF says and blocks further NMIs
 * until IRET.  The interrupts are self-IPIs from the local APIC, so they
 * are pending at a known instruction.  Also the 8259 pair: initialisation
 * and masking as a kernel programs them.
 */
#include "apic_util.h"

#define VEC 0x70

static volatile unsigned irq_count, nmi_count, seen_marker, nmi_inside;
static volatile unsigned marker;
static volatile bool nmi_resend;

static void irq_handler(struct ex_regs *r)
{
	(void)r;
	irq_count++;
	seen_marker = marker;
	apic_write(APIC_EOI, 0);
}

static void nmi_handler(struct ex_regs *r)
{
	(void)r;
	nmi_count++;
	if (nmi_resend) {
		nmi_resend = false;
		apic_write(APIC_ICR, ICR_SELF | ICR_NMI);
		for (int i = 0; i < 50; i++)
			asm volatile("nop");
		nmi_inside = nmi_count;   /* still 1: blocked until IRET */
	}
}

static void test_if_masks(void)
{
	irq_count = 0;
	self_ipi(VEC);
	for (int i = 0; i < 100; i++)
		asm volatile("nop");
	report_eq("IF = 0 holds a pending interrupt", irq_count, 0);
	report(apic_bit(APIC_IRR, VEC), "the held interrupt is in the IRR");
	intr_window();
	report_eq("STI; NOP; CLI takes it", irq_count, 1);
	intr_window();
	report_eq("a second window takes nothing", irq_count, 1);
}

/* The instruction after STI completes before the interrupt. */
static void test_sti_shadow(void)
{
	irq_count = 0;
	marker = 0;
	seen_marker = 99;
	self_ipi(VEC);
	asm volatile("sti; movl $1, %0; movl $2, %0; cli" : "+m"(marker) :: "memory");
	report_eq("STI shadow: one interrupt", irq_count, 1);
	report_eq("STI shadow: taken after the instruction that follows STI",
		  seen_marker, 1);
}

/* Exactly one interrupt per pending self-IPI, through N windows. */
static void test_exact_windows(void)
{
	const unsigned n = 50;
	unsigned extra = 0;

	irq_count = 0;
	for (unsigned i = 0; i < n; i++) {
		self_ipi(VEC);
		intr_window();
		intr_window();
		extra += irq_count != i + 1;
	}
	report_eq("50 self-IPIs, 100 windows: 50 interrupts", irq_count, n);
	report_eq("each taken in its own first window", extra, 0);
}

/* STI; HLT with an interrupt pending: the shadow covers HLT, which then
 * completes at once; RIP after the interrupt is past the HLT. */
static void test_hlt_pending(void)
{
	irq_count = 0;
	self_ipi(VEC);
	asm volatile("sti; hlt; cli" ::: "memory");
	report_eq("STI; HLT with an interrupt pending wakes", irq_count, 1);
}

static void test_nmi(void)
{
	nmi_count = 0;
	apic_write(APIC_ICR, ICR_SELF | ICR_NMI);
	for (int i = 0; i < 50; i++)   /* an IPI may take a few instructions */
		asm volatile("nop");
	report_eq("NMI via ICR taken with IF = 0", nmi_count, 1);

	nmi_count = 0;
	nmi_resend = true;
	apic_write(APIC_ICR, ICR_SELF | ICR_NMI);
	for (int i = 0; i < 50; i++)
		asm volatile("nop");
	report_eq("an NMI inside the NMI handler waits for IRET", nmi_inside, 1);
	report_eq("and is taken after it", nmi_count, 2);
}

/* 8259: ICW1-ICW4 (vector bases 0x20/0x28, cascade on IR2), OCW1 masks
 * read back, OCW3 selects the ISR (empty: nothing acknowledged). */
static void test_pic(void)
{
	outb(0x11, 0x20); outb(0x20, 0x21); outb(0x04, 0x21); outb(0x01, 0x21);
	outb(0x11, 0xa0); outb(0x28, 0xa1); outb(0x02, 0xa1); outb(0x01, 0xa1);
	outb(0xfb, 0x21);
	outb(0xff, 0xa1);
	report_eq("8259 master: OCW1 mask reads back", inb(0x21), 0xfb);
	report_eq("8259 slave: OCW1 mask reads back", inb(0xa1), 0xff);
	outb(0x0b, 0x20);
	outb(0x0b, 0xa0);
	report_eq("8259 master: ISR empty after init", inb(0x20), 0);
	report_eq("8259 slave: ISR empty after init", inb(0xa0), 0);
	outb(0x0a, 0x20);
	outb(0xff, 0x21);
	report_eq("8259 master: all masked", inb(0x21), 0xff);
}

int main(void)
{
	if (!apic_setup("interrupts"))
		return report_summary();
	set_exception_handler(VEC, irq_handler);
	set_exception_handler(NMI_VECTOR, nmi_handler);

	test_if_masks();
	test_sti_shadow();
	test_exact_windows();
	test_hlt_pending();
	test_nmi();
	test_pic();
	return report_summary();
}
