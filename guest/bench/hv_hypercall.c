/*
 * Hypercall benchmark: L1 calls L0 with VMMCALL in a loop (number 1,
 * KVM_HC_VAPIC_POLL_IRQ, which returns 0).  Each round trip is one exit to
 * L0 and one entry back.  `iters=N` on the multiboot command line sets the
 * number of calls (default 5,000,000).  Only meaningful under a KVM-style
 * hypervisor (nsvm's default mode); elsewhere VMMCALL is #UD and the
 * payload says so and exits 0 without measuring.
 */
#include "libguest.h"

#define DEFAULT_CALLS 5000000ull
#define KVM_HC_VAPIC_POLL_IRQ 1

static bool under_kvm(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return false;
	cpuid(0x40000000u, 0, &a, &b, &c, &d);
	return b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d;   /* KVMKVMKVM */
}

/* n hypercalls; returns the OR of every result (0 when all returned 0). */
static uint64_t calls(uint64_t n)
{
	uint64_t bad = 0;

	asm volatile(
		"1:\n\t"
		"mov $" "1" ", %%eax\n\t"
		"vmmcall\n\t"
		"or %%rax, %0\n\t"
		"dec %1\n\t"
		"jnz 1b"
		: "+r"(bad), "+c"(n)
		:
		: "rax", "memory", "cc");
	return bad;
}

int main(void)
{
	uint64_t n = DEFAULT_CALLS;

	cmdline_get_u64("iters", &n);
	if (n == 0)
		n = 1;
	if (!under_kvm()) {
		printf("hv_hypercall: no KVM-style hypervisor: nothing to measure\n");
		return 0;
	}
	printf("hv_hypercall: %lu hypercalls (L1 VMMCALL -> L0 -> L1)\n", n);
	if (calls(n)) {
		printf("hv_hypercall: a hypercall did not return 0\n");
		return 1;
	}
	printf("hv_hypercall: round trips: %lu\n", n);
	return 0;
}
