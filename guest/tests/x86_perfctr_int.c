/*
 * The performance-counter overflow interrupt (APM vol. 2, 13.2.1,
 * PerfEvtSel.Int): a counter with Int set that wraps from 2^48 - 1 to 0
 * signals the local APIC, whose LVT performance-counter entry (offset
 * 0x340) delivers its vector, or an NMI in NMI mode, or nothing while
 * masked.  The interrupt is taken at the first instruction boundary after
 * the overflow where it is deliverable: counter 0 (retired instructions)
 * preloaded with 2^48 - N overflows as the N-th instruction after the
 * enabling WRMSR retires, and the handler sees the (N+1)-th instruction's
 * address, taken from a label in the asm block.  AMD's APIC does not set
 * the entry's mask bit on delivery (Intel's LVTPC does).
 *
 * Under the hypervisor-mode test the payload runs a guest with the INTR
 * intercept and a GuestOnly counter: the overflow inside the guest is a
 * #VMEXIT(INTR) exactly as many guest instructions later as the counter
 * was preloaded further from the wrap.
 *
 * Without counters that hold a written value (QEMU TCG reads them as 0)
 * every test is skipped by name.
 */
#include "apic_util.h"
#include "svm.h"

#define PERF_SEL(i)  (0xc0010000u + (i))
#define PERF_CTR(i)  (0xc0010004u + (i))

#define SEL_USR       (1ull << 16)
#define SEL_OS        (1ull << 17)
#define SEL_INT       (1ull << 20)
#define SEL_EN        (1ull << 22)
#define SEL_GUESTONLY (1ull << 40)
#define EV_RETIRED    0xc0ull
#define SEL_COUNT     (SEL_EN | SEL_OS | SEL_USR | EV_RETIRED)
#define WRAP          (1ull << 48)
#define APIC_LVTPC    0x340
#define LVT_NMI       (4u << 8)
#define RFLAGS_IF     (1ull << 9)
#define VEC           0x70

/* Seven instructions after the enabling WRMSR; label 1 follows them. */
#define SEVEN_INSNS                     \
	"nop\n\t"                       \
	"mov %%eax, %%r8d\n\t"          \
	"add $3, %%r8d\n\t"             \
	"nop; nop\n\t"                  \
	"lea 1(%%r8), %%r9\n\t"         \
	"xor %%r9d, %%r9d\n\t"          \
	"1: nop; nop; nop\n\t"

static volatile unsigned irqs, nmis;
static volatile uint64_t irq_rip, nmi_rip;
static struct svm_vcpu vcpu;

/* Returns with IF = 0: one overflow, one interrupt. */
static void pmi_handler(struct ex_regs *r)
{
	irqs++;
	irq_rip = r->rip;
	apic_write(APIC_EOI, 0);
	r->rflags &= ~RFLAGS_IF;
}

static void nmi_handler(struct ex_regs *r)
{
	nmis++;
	nmi_rip = r->rip;
}

static void reset_seen(void)
{
	irqs = nmis = 0;
	irq_rip = nmi_rip = 0;
}

/*
 * PerfCtr0 = 2^48 - 7, then (IF = 1 from the STI, whose shadow covers the
 * WRMSR) the WRMSR that loads select 0 with sel, then seven instructions:
 * the seventh brings the count to 2^48.  Returns the address after it.
 */
static uint64_t overflow_after_seven(uint64_t sel)
{
	uint32_t lo = (uint32_t)sel, hi = (uint32_t)(sel >> 32);
	uint64_t at;

	reset_seen();
	wrmsr(PERF_CTR(0), WRAP - 7);
	asm volatile("sti\n\t"
		     "wrmsr\n\t"
		     SEVEN_INSNS
		     "cli\n\t"
		     "lea 1b(%%rip), %[at]"
		     : [at] "=r"(at), "+a"(lo), "+d"(hi)
		     : "c"(PERF_SEL(0))
		     : "r8", "r9", "cc", "memory");
	wrmsr(PERF_SEL(0), 0);
	return at;
}

static void test_fixed(void)
{
	apic_write(APIC_LVTPC, VEC);
	uint64_t at = overflow_after_seven(SEL_COUNT | SEL_INT);
	report_eq("Int set: one interrupt", irqs, 1);
	report_eq("Int set: taken after exactly 7 instructions", irq_rip, at);
	report_eq("the LVT entry stays unmasked after delivery", apic_read(APIC_LVTPC), VEC);
	report(rdmsr(PERF_CTR(0)) < 1000, "the counter goes on from 0 after the wrap");

	overflow_after_seven(SEL_COUNT | SEL_INT);
	report_eq("a second overflow interrupts again", irqs, 1);

	overflow_after_seven(SEL_COUNT);
	report_eq("Int clear: no interrupt", irqs, 0);
	report(rdmsr(PERF_CTR(0)) < 64, "Int clear: the counter still wraps");

	overflow_after_seven((SEL_COUNT | SEL_INT) & ~SEL_EN);
	report_eq("EN clear: no interrupt", irqs, 0);
	report_eq("EN clear: the counter keeps its value", rdmsr(PERF_CTR(0)), WRAP - 7);

	apic_write(APIC_LVTPC, APIC_MASKED | VEC);
	overflow_after_seven(SEL_COUNT | SEL_INT);
	report_eq("LVT entry masked: no interrupt", irqs + nmis, 0);
	report(!apic_bit(APIC_IRR, VEC), "LVT entry masked: nothing requested");

	apic_write(APIC_LVTPC, LVT_NMI);
	at = overflow_after_seven(SEL_COUNT | SEL_INT);
	report_eq("NMI mode: one NMI, no interrupt", nmis * 16 + irqs, 16);
	report_eq("NMI mode: taken after exactly 7 instructions", nmi_rip, at);
	apic_write(APIC_LVTPC, VEC);
}

/* The overflow with IF = 0: requested, taken after STI and its shadow. */
static void test_if_clear(void)
{
	uint32_t lo = (uint32_t)(SEL_COUNT | SEL_INT), hi = 0;
	uint64_t at;

	reset_seen();
	wrmsr(PERF_CTR(0), WRAP - 7);
	asm volatile("wrmsr\n\t" SEVEN_INSNS
		     : "+a"(lo), "+d"(hi) : "c"(PERF_SEL(0)) : "r8", "r9", "cc", "memory");
	wrmsr(PERF_SEL(0), 0);
	report_eq("IF = 0: no interrupt yet", irqs, 0);
	report(apic_bit(APIC_IRR, VEC), "IF = 0: the vector is requested");
	asm volatile("sti\n\t"
		     "nop\n\t"
		     "2: nop\n\t"
		     "cli\n\t"
		     "lea 2b(%%rip), %[at]"
		     : [at] "=r"(at) : : "memory");
	report_eq("IF = 0: taken after STI and the instruction after it", irq_rip, at);
}

/* A WRMSR to a counting counter: the next wrap follows the new value. */
static void test_rewrite(void)
{
	uint32_t lo = (uint32_t)(WRAP - 5), hi = (uint32_t)((WRAP - 5) >> 32);
	uint64_t at;

	reset_seen();
	wrmsr(PERF_CTR(0), 0);
	wrmsr(PERF_SEL(0), SEL_COUNT | SEL_INT);
	asm volatile("sti\n\t"
		     "wrmsr\n\t"
		     "nop; nop; nop; nop; nop\n\t"
		     "3: nop\n\t"
		     "cli\n\t"
		     "lea 3b(%%rip), %[at]"
		     : [at] "=r"(at), "+a"(lo), "+d"(hi)
		     : "c"(PERF_CTR(0)) : "memory");
	wrmsr(PERF_SEL(0), 0);
	report_eq("counter written while counting: one interrupt", irqs, 1);
	report_eq("counter written while counting: 5 instructions later", irq_rip, at);
}

/*
 * A guest of 200 NOPs with the INTR intercept; a GuestOnly counter
 * preloaded with 2^48 - n.  Returns the exit code; *off: the guest's RIP
 * at the exit from its first instruction.  *taken: interrupts L1 takes
 * after STGI and STI.
 */
static uint64_t guest_overflow(unsigned n, uint64_t *off, unsigned *taken)
{
	static uint8_t sled[200];
	uint64_t start;

	memset(sled, 0x90, sizeof(sled));
	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, sled, sizeof(sled));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_INTR);
	vcpu.vmcb->control.int_ctl |= INT_CTL_V_INTR_MASKING;
	reset_seen();
	wrmsr(PERF_CTR(0), WRAP - n);
	wrmsr(PERF_SEL(0), SEL_COUNT | SEL_INT | SEL_GUESTONLY);
	clgi();
	sti();
	svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
	cli();
	wrmsr(PERF_SEL(0), 0);
	stgi();
	asm volatile("sti; nop; cli" ::: "memory");
	*taken = irqs;
	*off = vcpu.vmcb->save.rip - start;
	return vcpu.vmcb->control.exit_code;
}

static void test_guest(void)
{
	static const char *const names[] = {
		"overflow in the guest: #VMEXIT(INTR)",
		"10 guest instructions more: the exit 10 instructions later",
		"the interrupt stays pending for the host",
	};
	uint64_t off20, off30;
	unsigned taken20, taken30;

	if (!feature_or_skip(svm_supported(), names, ARRAY_SIZE(names), "no SVM"))
		return;
	svm_enable();
	uint64_t e20 = guest_overflow(20, &off20, &taken20);
	uint64_t e30 = guest_overflow(30, &off30, &taken30);
	svm_disable();
	report(e20 == SVM_EXIT_INTR && e30 == SVM_EXIT_INTR && off20 > 0 &&
	       off30 < 200, names[0]);
	report_eq(names[1], off30 - off20, 10);
	report(taken20 == 1 && taken30 == 1, names[2]);
}

static bool counters_present(void)
{
	uint64_t v;

	if (rdmsr_safe(PERF_SEL(0), &v) >= 0 || wrmsr_safe(PERF_SEL(0), 0) >= 0 ||
	    wrmsr_safe(PERF_CTR(0), 0x5a5a5a5a5aull) >= 0)
		return false;
	return rdmsr(PERF_CTR(0)) == 0x5a5a5a5a5aull;
}

int main(void)
{
	static const char *const names[] = {
		"Int set: one interrupt",
		"Int set: taken after exactly 7 instructions",
		"the LVT entry stays unmasked after delivery",
		"the counter goes on from 0 after the wrap",
		"a second overflow interrupts again",
		"Int clear: no interrupt",
		"Int clear: the counter still wraps",
		"EN clear: no interrupt",
		"EN clear: the counter keeps its value",
		"LVT entry masked: no interrupt",
		"LVT entry masked: nothing requested",
		"NMI mode: one NMI, no interrupt",
		"NMI mode: taken after exactly 7 instructions",
		"IF = 0: no interrupt yet",
		"IF = 0: the vector is requested",
		"IF = 0: taken after STI and the instruction after it",
		"counter written while counting: one interrupt",
		"counter written while counting: 5 instructions later",
		"overflow in the guest: #VMEXIT(INTR)",
		"10 guest instructions more: the exit 10 instructions later",
		"the interrupt stays pending for the host",
	};

	if (!apic_setup("performance-counter interrupt"))
		return report_summary();
	if (!feature_or_skip(counters_present(), names, ARRAY_SIZE(names),
			     "PerfCtr0 does not hold a written value"))
		return report_summary();
	wrmsr(PERF_CTR(0), 0);
	set_exception_handler(VEC, pmi_handler);
	set_exception_handler(NMI_VECTOR, nmi_handler);
	test_fixed();
	test_if_clear();
	test_rewrite();
	test_guest();
	apic_write(APIC_LVTPC, APIC_MASKED);
	return report_summary();
}
