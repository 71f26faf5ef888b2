/*
 * Performance counters (APM vol. 2, 13.2): PerfEvtSel0-3/PerfCtr0-3 at
 * 0xC0010000-7 and the core extension's six pairs at 0xC0010200-B (the
 * first four alias the legacy ones); reserved select bits #GP; a counter
 * of retired instructions (event 0xC0) over a straight-line sequence
 * counts its instructions; OS and USR select the CPLs counted; RDPMC and
 * its #GP (counter number, CR4.PCE at CPL 3).
 *
 * The counted span: the instructions that retire after the WRMSR that
 * enables the counter and before the RDMSR/RDPMC that reads it.
 */
#include "libguest.h"

#define PERF_SEL(i)  (0xc0010000u + (i))
#define PERF_CTR(i)  (0xc0010004u + (i))
#define CORE_SEL(i)  (0xc0010200u + 2 * (i))
#define CORE_CTR(i)  (0xc0010201u + 2 * (i))

#define SEL_USR  (1ull << 16)
#define SEL_OS   (1ull << 17)
#define SEL_EN   (1ull << 22)
#define EV_RETIRED 0xc0ull
#define CR4_PCE  (1ull << 8)
#define CPUID_PERFCTR_CORE (1u << 23)   /* 0x80000001 ECX */

static bool has_core;

static void check_readback(void)
{
	/* Host/GuestOnly, EventSelect[11:8], Int, OS, USR, unit mask, event */
	wrmsr(PERF_SEL(1), 0x0000030f00131234ull);
	report_eq("PerfEvtSel1 reads back", rdmsr(PERF_SEL(1)), 0x0000030f00131234ull);
	wrmsr(PERF_SEL(1), 0);
	wrmsr(PERF_CTR(2), 0x123456789abcull);
	report_eq("PerfCtr2 (disabled) reads back", rdmsr(PERF_CTR(2)), 0x123456789abcull);
	wrmsr(PERF_CTR(2), 0);
	if (!has_core) {
		static const char *const names[] = {
			"PerfEvtSel3 aliases core select 3", "PerfCtr0 aliases core counter 0",
			"core counter 5 reads back", "core select 4, bit 21: #GP",
		};
		for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
			report_skip(names[i], "CPUID 0x80000001 ECX.PerfCtrExtCore clear");
		return;
	}
	wrmsr(CORE_SEL(3), 0x30076);
	report_eq("PerfEvtSel3 aliases core select 3", rdmsr(PERF_SEL(3)), 0x30076);
	wrmsr(PERF_CTR(0), 0x55aa);
	report_eq("PerfCtr0 aliases core counter 0", rdmsr(CORE_CTR(0)), 0x55aa);
	wrmsr(CORE_CTR(5), 0xabcdef);
	report_eq("core counter 5 reads back", rdmsr(CORE_CTR(5)), 0xabcdef);
	wrmsr(CORE_SEL(3), 0);
	wrmsr(PERF_CTR(0), 0);
	wrmsr(CORE_CTR(5), 0);
}

static void check_reserved(void)
{
	static const unsigned bits[] = { 19, 21, 36, 39, 42, 63 };
	bool ok = true;

	for (unsigned i = 0; i < ARRAY_SIZE(bits); i++) {
		int v = wrmsr_safe(PERF_SEL(0), 1ull << bits[i]);
		if (v != GP_VECTOR) {
			report_fail("PerfEvtSel reserved bits: #GP", "bit %u: vector %d", bits[i], v);
			ok = false;
		}
	}
	if (ok)
		report_pass("PerfEvtSel reserved bits: #GP");   /* 19, 21, 39:36, 63:42 */
	report_eq("a faulting write leaves the select", rdmsr(PERF_SEL(0)), 0);
	if (has_core)   /* without: skipped in check_readback */
		report_eq("core select 4, bit 21: #GP",
			  (uint64_t)wrmsr_safe(CORE_SEL(4), 1ull << 21), GP_VECTOR);
}

/* Enable select 0 with sel, then 10 NOPs and a MOV (11 instructions),
 * then read PerfCtr0. */
static uint64_t count_sequence(uint64_t sel)
{
	uint32_t lo = (uint32_t)sel, hi = (uint32_t)(sel >> 32), msr = PERF_SEL(0);

	wrmsr(PERF_CTR(0), 0);
	asm volatile("wrmsr\n\t"
		     "nop; nop; nop; nop; nop; nop; nop; nop; nop; nop\n\t"
		     "mov %[ctr], %%ecx\n\t"
		     "rdmsr"
		     : "+a"(lo), "+d"(hi), "+c"(msr)
		     : [ctr] "i"(PERF_CTR(0))
		     : "memory");
	wrmsr(PERF_SEL(0), 0);
	return lo | ((uint64_t)hi << 32);
}

static void check_counting(void)
{
	report_eq("retired instructions over 11 instructions (OS|USR)",
		  count_sequence(SEL_EN | SEL_OS | SEL_USR | EV_RETIRED), 11);
	report_eq("retired instructions at CPL 0, OS only", count_sequence(SEL_EN | SEL_OS | EV_RETIRED), 11);
	report_eq("retired instructions at CPL 0, USR only: none",
		  count_sequence(SEL_EN | SEL_USR | EV_RETIRED), 0);
	report_eq("EN clear: nothing counted", count_sequence(SEL_OS | SEL_USR | EV_RETIRED), 0);

	wrmsr(PERF_CTR(1), 0);
	wrmsr(PERF_SEL(1), SEL_EN | SEL_OS | SEL_USR | EV_RETIRED);
	wrmsr(PERF_SEL(1), SEL_OS | SEL_USR | EV_RETIRED);
	uint64_t a = rdmsr(PERF_CTR(1));
	uint64_t b = rdmsr(PERF_CTR(1));
	report(a == b, "a disabled counter keeps its value");

	wrmsr(PERF_CTR(1), 0xffffffffffffull);
	wrmsr(PERF_SEL(1), SEL_EN | SEL_OS | SEL_USR | EV_RETIRED);
	asm volatile("nop; nop");
	wrmsr(PERF_SEL(1), 0);
	report(rdmsr(PERF_CTR(1)) < 16, "a 48-bit counter wraps to 0");
	wrmsr(PERF_CTR(1), 0);
}

/* At CPL 3: RDPMC of counters 0 and 1, then again. */
struct pmc_pair { uint64_t d0, d1; };

static void user_rdpmc_pair(void *arg)
{
	struct pmc_pair *p = arg;
	uint32_t a0, a1, b0, b1, d;

	/* between the first and third RDPMC: rdpmc, mov, mov, rdpmc, mov,
	 * nop, nop, mov = 8 instructions retire for counter 0 */
	asm volatile("xor %%ecx, %%ecx\n\t"
		     "rdpmc\n\t"
		     "mov %%eax, %[a0]\n\t"
		     "mov $1, %%ecx\n\t"
		     "rdpmc\n\t"
		     "mov %%eax, %[a1]\n\t"
		     "nop; nop\n\t"
		     "xor %%ecx, %%ecx\n\t"
		     "rdpmc\n\t"
		     "mov %%eax, %[b0]\n\t"
		     "mov $1, %%ecx\n\t"
		     "rdpmc\n\t"
		     "mov %%eax, %[b1]\n\t"
		     : [a0] "=r"(a0), [a1] "=r"(a1), [b0] "=r"(b0), [b1] "=r"(b1),
		       "=&a"(d) : : "rcx", "rdx", "memory");
	(void)d;
	p->d0 = (uint32_t)(b0 - a0);
	p->d1 = (uint32_t)(b1 - a1);
}

static void user_rdpmc0(void *arg)
{
	uint32_t lo, hi;
	asm volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0));
	*(uint64_t *)arg = lo;
}

static void check_rdpmc(void)
{
	uint32_t lo, hi;
	uint64_t v = 0;
	struct ex_regs r;
	struct pmc_pair p = { 0, 0 };

	wrmsr(PERF_CTR(2), 0x1234567);
	lo = hi = 0;
	ex_fixup_reset();
	asm volatile("1: rdpmc\n2:\n\t" ASM_EXTABLE("1b", "2b")
		     : "+a"(lo), "+d"(hi) : "c"(2) : "memory");
	report_eq("RDPMC 2 at CPL 0 reads PerfCtr2", lo | ((uint64_t)hi << 32), 0x1234567);
	wrmsr(PERF_CTR(2), 0);

	ex_fixup_reset();
	asm volatile("1: rdpmc\n2:\n\t" ASM_EXTABLE("1b", "2b")
		     : "=a"(lo), "=d"(hi) : "c"(has_core ? 6 : 4) : "memory");
	report_eq("RDPMC of a counter that does not exist: #GP", (uint64_t)ex_fixup_vector, GP_VECTOR);

	uint64_t cr4 = read_cr4();
	write_cr4(cr4 & ~CR4_PCE);
	report_eq("RDPMC at CPL 3 with CR4.PCE clear: #GP",
		  (uint64_t)run_in_user(user_rdpmc0, &v, &r), GP_VECTOR);
	write_cr4(cr4 | CR4_PCE);
	report_eq("RDPMC at CPL 3 with CR4.PCE set: allowed",
		  (uint64_t)(int64_t)run_in_user(user_rdpmc0, &v, &r), (uint64_t)-1);

	/* counter 0 counts CPL > 0 only, counter 1 CPL 0 only */
	wrmsr(PERF_CTR(0), 0);
	wrmsr(PERF_CTR(1), 0);
	wrmsr(PERF_SEL(0), SEL_EN | SEL_USR | EV_RETIRED);
	wrmsr(PERF_SEL(1), SEL_EN | SEL_OS | EV_RETIRED);
	int vec = run_in_user(user_rdpmc_pair, &p, &r);
	wrmsr(PERF_SEL(0), 0);
	wrmsr(PERF_SEL(1), 0);
	write_cr4(cr4);
	report_eq("RDPMC pair at CPL 3 ran", (uint64_t)(int64_t)vec, (uint64_t)-1);
	report_eq("USR counter at CPL 3: 8 instructions between two RDPMC", p.d0, 8);
	report_eq("OS counter at CPL 3: nothing counted", p.d1, 0);
	report(rdmsr(PERF_CTR(1)) > 0, "OS counter counted the CPL-0 code around it");
}

int main(void)
{
	uint64_t v;
	uint32_t a, b, c, d;

	if (rdmsr_safe(PERF_SEL(0), &v) >= 0) {
		report_skip("performance counters", "RDMSR PerfEvtSel0 faults");
		return report_summary();
	}
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	has_core = (c & CPUID_PERFCTR_CORE) != 0;
	check_readback();
	check_reserved();
	check_counting();
	check_rdpmc();
	return report_summary();
}
