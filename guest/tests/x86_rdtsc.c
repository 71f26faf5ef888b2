/*
 * Time stamp counter: RDTSC strictly increases, RDTSCP returns TSC_AUX in
 * ECX, writing MSR 0x10 sets the counter, and CR4.TSD makes RDTSC and
 * RDTSCP privileged. No TSC value is printed (output must be
 * deterministic).
 */
#include "libguest.h"

#define MSR_TSC 0x10
#define CR4_TSD (1ull << 2)

static void check_monotonic(void)
{
	uint64_t prev = rdtsc();
	bool ok = true;

	for (int i = 0; i < 100; i++) {
		uint64_t t = rdtsc();
		ok = ok && t >= prev;
		prev = t;
	}
	report(ok, "rdtsc never decreases over 100 reads");
	uint64_t a = rdtsc();
	for (volatile int i = 0; i < 10000; i++)
		;
	report(rdtsc() > a, "rdtsc increases across a 10000-iteration loop");
}

static void check_rdtscp(void)
{
	uint32_t aux = 0;
	uint32_t d, a, b, c;

	cpuid(0x80000001, 0, &a, &b, &c, &d);
	if (!(d & (1u << 27))) {
		report_skip("rdtscp", "CPUID 0x80000001 EDX.RDTSCP clear");
		return;
	}
	wrmsr(MSR_TSC_AUX, 0x1234abcd);
	uint64_t t0 = rdtsc();
	uint64_t t1 = rdtscp(&aux);
	report_eq("rdtscp: ecx = TSC_AUX", aux, 0x1234abcd);
	report(t1 >= t0, "rdtscp: not before an earlier rdtsc");
	report_eq("rdmsr TSC_AUX reads it back", rdmsr(MSR_TSC_AUX), 0x1234abcd);
	wrmsr(MSR_TSC_AUX, 7);
	rdtscp(&aux);
	report_eq("rdtscp: ecx follows a new TSC_AUX", aux, 7);
}

static void check_write(void)
{
	const uint64_t base = 1ull << 44;

	wrmsr(MSR_TSC, base);
	uint64_t t = rdtsc();
	report(t >= base && t - base < (1ull << 32), "wrmsr TSC sets the counter");
	report(rdmsr(MSR_TSC) > t, "rdmsr TSC keeps counting");
}

static void user_rdtsc(void *arg) { *(uint64_t *)arg = rdtsc(); }
static void user_rdtscp(void *arg) { *(uint64_t *)arg = rdtscp(NULL); }

static void check_tsd(void)
{
	struct ex_regs r;
	uint64_t t = 0;
	uint64_t cr4 = read_cr4();

	report_eq("rdtsc at CPL 3, CR4.TSD=0: allowed",
		  (uint64_t)(int64_t)run_in_user(user_rdtsc, &t, &r), (uint64_t)-1);
	write_cr4(cr4 | CR4_TSD);
	int v = run_in_user(user_rdtsc, &t, &r);
	int v2 = run_in_user(user_rdtscp, &t, &r);
	uint64_t k = rdtsc();
	write_cr4(cr4);
	report_eq("rdtsc at CPL 3, CR4.TSD=1: #GP", v, GP_VECTOR);
	report_eq("rdtscp at CPL 3, CR4.TSD=1: #GP", v2, GP_VECTOR);
	report(k != 0, "rdtsc at CPL 0, CR4.TSD=1: allowed");
}

int main(void)
{
	check_monotonic();
	check_rdtscp();
	check_write();
	check_tsd();
	return report_summary();
}
