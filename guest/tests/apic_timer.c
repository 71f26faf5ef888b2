/*
 * The local APIC timer: one-shot, periodic and TSC-deadline modes, the
 * divide configuration, masking, and HLT woken by the timer.  Interrupts
 * are counted exactly: the timer's interrupt is awaited with IF = 0 (its
 * vector appears in the IRR), then taken in one STI; NOP; CLI window, so
 * every expiry gives precisely one interrupt whatever the timer's rate.
 * No count is printed: the tests hold on any machine (nsvm's timer ticks
 * once per retired instruction, real ones with the bus clock).
 */
#include "apic_util.h"

#define VEC   0x60
#define SPIN  10000000u   /* polls before giving up on an expiry */

static volatile unsigned irq_count;

/* Returns with IF = 0: a window takes one interrupt even when the timer
 * expires again while the handler runs (the IRET would otherwise land
 * before the window's CLI with IF = 1 and take the next one there). */
static void timer_handler(struct ex_regs *r)
{
	irq_count++;
	apic_write(APIC_EOI, 0);
	r->rflags &= ~(1ull << 9);
}

/* Poll with IF = 0 until the timer's vector is requested. */
static bool wait_irr(void)
{
	for (unsigned i = 0; i < SPIN; i++)
		if (apic_bit(APIC_IRR, VEC))
			return true;
	return false;
}

static void test_oneshot(void)
{
	irq_count = 0;
	apic_write(APIC_TDCR, TDCR_DIV1);
	apic_write(APIC_LVTT, VEC);
	apic_write(APIC_TMICT, 20000);
	uint32_t c0 = apic_read(APIC_TMCCT);
	report(c0 <= 20000, "one-shot: current count starts at most at the initial count");
	report(apic_read(APIC_TMCCT) <= c0, "one-shot: current count does not increase");
	report(wait_irr(), "one-shot: expires");
	report_eq("one-shot: current count stops at zero", apic_read(APIC_TMCCT), 0);
	intr_window();
	report_eq("one-shot: one interrupt", irq_count, 1);
	for (int i = 0; i < 20000; i++)
		asm volatile("nop");
	intr_window();
	report_eq("one-shot: and no second one", irq_count, 1);
}

static void test_periodic(void)
{
	const unsigned n = 20;
	unsigned missed = 0;

	irq_count = 0;
	apic_write(APIC_TDCR, TDCR_DIV1);
	apic_write(APIC_LVTT, VEC | APIC_TIMER_PERIODIC);
	apic_write(APIC_TMICT, 5000);
	for (unsigned i = 0; i < n; i++) {
		missed += !wait_irr();
		intr_window();
	}
	apic_write(APIC_LVTT, APIC_MASKED | APIC_TIMER_PERIODIC);
	report_eq("periodic: every expiry awaited arrives", missed, 0);
	report_eq("periodic: 20 windows, exactly 20 interrupts", irq_count, n);
	report(apic_read(APIC_TMCCT) > 0, "periodic: the count reloads");
	apic_write(APIC_TMICT, 0);
	report_eq("periodic: initial count 0 stops it", apic_read(APIC_TMCCT), 0);
}

static void test_masked(void)
{
	apic_write(APIC_LVTT, APIC_MASKED);
	intr_window();   /* a last periodic expiry may still be pending */
	irq_count = 0;
	apic_write(APIC_TDCR, TDCR_DIV1);
	apic_write(APIC_LVTT, VEC | APIC_MASKED);
	apic_write(APIC_TMICT, 1000);
	unsigned i;
	for (i = 0; i < SPIN && apic_read(APIC_TMCCT); i++)
		;
	report(i < SPIN, "masked: the count still reaches zero");
	report(!apic_bit(APIC_IRR, VEC), "masked: nothing requested");
	intr_window();
	report_eq("masked: no interrupt", irq_count, 0);
}

/* The count goes down more slowly with a larger divisor. */
static void test_divide(void)
{
	uint32_t d1, d16;

	apic_write(APIC_LVTT, APIC_MASKED);
	apic_write(APIC_TDCR, TDCR_DIV1);
	report_eq("divide configuration reads back", apic_read(APIC_TDCR), TDCR_DIV1);
	apic_write(APIC_TMICT, 0xffffffff);
	for (volatile int i = 0; i < 2000; i++)
		;
	d1 = 0xffffffff - apic_read(APIC_TMCCT);
	apic_write(APIC_TDCR, TDCR_DIV16);
	apic_write(APIC_TMICT, 0xffffffff);
	for (volatile int i = 0; i < 2000; i++)
		;
	d16 = 0xffffffff - apic_read(APIC_TMCCT);
	apic_write(APIC_TMICT, 0);
	report(d16 < d1, "divide by 16 counts more slowly than by 1");
}

static void test_hlt_wakes(void)
{
	irq_count = 0;
	apic_write(APIC_TDCR, TDCR_DIV1);
	apic_write(APIC_LVTT, VEC);
	apic_write(APIC_TMICT, 100000);
	asm volatile("sti; hlt; cli" ::: "memory");
	report_eq("HLT is woken by the timer interrupt", irq_count, 1);
	report_eq("the timer had expired", apic_read(APIC_TMCCT), 0);
}

static const char *const tscdl_names[] = {
	"TSC deadline: the initial count is ignored",
	"TSC deadline: armed deadline reads back",
	"TSC deadline: expires",
	"TSC deadline: reads zero after expiry",
	"TSC deadline: one interrupt",
	"TSC deadline: a past deadline expires at once",
	"TSC deadline: its interrupt",
};

static void test_tsc_deadline(void)
{
	const char *const *t = tscdl_names;
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!feature_or_skip(c & (1u << 24), t, ARRAY_SIZE(tscdl_names),
			     "CPUID 1 ECX[24] clear"))
		return;
	irq_count = 0;
	apic_write(APIC_LVTT, VEC | APIC_TIMER_TSCDL);
	apic_write(APIC_TMICT, 1000);
	report_eq(t[0], apic_read(APIC_TMICT), 0);
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + 20000);
	report(rdmsr(MSR_TSC_DEADLINE) != 0, t[1]);
	report(wait_irr(), t[2]);
	report_eq(t[3], rdmsr(MSR_TSC_DEADLINE), 0);
	intr_window();
	report_eq(t[4], irq_count, 1);
	wrmsr(MSR_TSC_DEADLINE, 1);   /* in the past: at once */
	report(wait_irr(), t[5]);
	intr_window();
	report_eq(t[6], irq_count, 2);
	apic_write(APIC_LVTT, APIC_MASKED);
}

int main(void)
{
	if (!apic_setup("APIC timer"))
		return report_summary();
	set_exception_handler(VEC, timer_handler);

	test_oneshot();
	test_periodic();
	test_masked();
	test_divide();
	test_hlt_wakes();
	test_tsc_deadline();
	return report_summary();
}
