/*
 * The performance counters' HostOnly and GuestOnly bits (APM vol. 2,
 * 13.2.1, PerfEvtSel bits 41 and 40) with SVM enabled: a HostOnly counter
 * counts this hypervisor's instructions and none of its guest's, a
 * GuestOnly counter the guest's and none of the host's.  Nested, this
 * payload is itself a guest of nsvm's L0, which must still count it as
 * the host it is.
 *
 * The counts are compared between two runs of the same L1 code around
 * guests of different lengths (4 and 24 NOPs): what the world switches
 * themselves count cancels out, and the differences must be exact — 0 for
 * the host-only counter, 20 for the guest-only one, 20 for a counter with
 * neither bit.
 */
#include "svm.h"

#define CORE_SEL(i)   (0xc0010200u + 2 * (i))
#define CORE_CTR(i)   (0xc0010201u + 2 * (i))
#define SEL_RETIRED   0xc0ull
#define SEL_USR_OS    (3ull << 16)
#define SEL_EN        (1ull << 22)
#define SEL_GUESTONLY (1ull << 40)
#define SEL_HOSTONLY  (1ull << 41)
#define EXT_PERFCTR_CORE (1u << 23)   /* CPUID 0x80000001 ECX */

static struct svm_vcpu vcpu;

struct counts {
	uint64_t host, guest, both;
};

static void measure(unsigned nops, struct counts *out)
{
	static uint8_t code[64];

	for (unsigned i = 0; i < nops; i++)
		code[i] = 0x90;
	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, code, nops);
	for (unsigned i = 0; i < 3; i++)
		wrmsr(CORE_CTR(i), 0);
	svm_vmrun(&vcpu);
	out->host = rdmsr(CORE_CTR(0));
	out->guest = rdmsr(CORE_CTR(1));
	out->both = rdmsr(CORE_CTR(2));
}

/* RDPMC of counter idx around n NOPs of L1's own (no exit between):
 * the number of instructions that retire from the first RDPMC to the
 * second, n plus a constant. */
#define L1_SPAN(idx, n)                                                    \
	({                                                                 \
		uint32_t lo0, hi0, lo1, hi1;                               \
		asm volatile("rdpmc\n\t"                                    \
			     "mov %%eax, %0\n\t"                              \
			     "mov %%edx, %1\n\t"                              \
			     ".rept " #n "\n\tnop\n\t.endr\n\t"               \
			     "rdpmc"                                       \
			     : "=&r"(lo0), "=&r"(hi0), "=a"(lo1), "=d"(hi1)  \
			     : "c"(idx));                                  \
		(((uint64_t)hi1 << 32) | lo1) - (((uint64_t)hi0 << 32) | lo0); \
	})

int main(void)
{
	static const char *const names[] = {
		"HostOnly counts L1, not L2",
		"GuestOnly counts L2, not L1",
		"neither bit: counts both",
		"the selects read back as written",
	};
	struct counts a, b;
	uint32_t eax, ebx, ecx, edx;

	if (svm_skip_if_unsupported())
		return report_summary();
	cpuid(0x80000001, 0, &eax, &ebx, &ecx, &edx);
	if (!(ecx & EXT_PERFCTR_CORE)) {
		for (unsigned i = 0; i < 4; i++)
			report_skip(names[i], "CPUID 0x80000001 ECX[23] PerfCtrExtCore clear");
		return report_summary();
	}
	svm_enable();
	wrmsr(CORE_SEL(0), SEL_EN | SEL_USR_OS | SEL_RETIRED | SEL_HOSTONLY);
	wrmsr(CORE_SEL(1), SEL_EN | SEL_USR_OS | SEL_RETIRED | SEL_GUESTONLY);
	wrmsr(CORE_SEL(2), SEL_EN | SEL_USR_OS | SEL_RETIRED);

	measure(4, &a);
	measure(24, &b);
	report(b.host - a.host == 0 &&
	       L1_SPAN(0, 24) - L1_SPAN(0, 4) == 20, names[0]);
	report(b.guest - a.guest == 20 && a.guest >= 4 &&
	       L1_SPAN(1, 24) - L1_SPAN(1, 4) == 0, names[1]);
	report(b.both - a.both == 20 && a.both > a.host, names[2]);
	report(rdmsr(CORE_SEL(0)) == (SEL_EN | SEL_USR_OS | SEL_RETIRED | SEL_HOSTONLY) &&
	       rdmsr(CORE_SEL(1)) == (SEL_EN | SEL_USR_OS | SEL_RETIRED | SEL_GUESTONLY),
	       names[3]);
	for (unsigned i = 0; i < 3; i++)
		wrmsr(CORE_SEL(i), 0);
	return report_summary();
}
