/*
 * The demo `nsvm run` shows without a payload: a short tour of what the
 * machine does, ending with status 0.
 */
#include "libguest.h"

static void show_vendor(void)
{
	uint32_t a, b, c, d;
	char vendor[13];

	cpuid(0, 0, &a, &b, &c, &d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = '\0';
	printf("demo: CPU vendor \"%s\", max basic leaf 0x%x\n", vendor, a);
}

static bool show_long_mode(void)
{
	uint64_t efer = rdmsr(MSR_EFER);

	printf("demo: EFER 0x%lx, CR0 0x%lx, CR4 0x%lx: %s\n", efer,
	       read_cr0(), read_cr4(),
	       (efer & EFER_LMA) ? "long mode is active" : "NOT in long mode");
	return (efer & EFER_LMA) != 0;
}

/* Maps one physical page at a second address and sees writes through it. */
static bool show_paging(void)
{
	volatile uint64_t *page = alloc_page();
	uint64_t alias = 0x40000000ull + (uint64_t)page % LARGE_PAGE_SIZE;

	map_page(alias, (uint64_t)page, PTE_P | PTE_W);
	*(volatile uint64_t *)alias = 0x6e73766d;   /* "nsvm" */
	bool ok = *page == 0x6e73766d;
	printf("demo: page 0x%lx mapped again at 0x%lx: %s\n", (uint64_t)page,
	       alias, ok ? "the alias sees the same memory" : "MISMATCH");
	return ok;
}

static bool show_computation(void)
{
	static uint8_t composite[10000];
	uint32_t count = 0, sum = 0;

	for (uint32_t i = 2; i < sizeof(composite); i++) {
		if (composite[i])
			continue;
		count++;
		sum += i;
		for (uint32_t j = i * i; j < sizeof(composite); j += i)
			composite[j] = 1;
	}
	printf("demo: %u primes below 10000, their sum is %u\n", count, sum);
	return count == 1229 && sum == 5736396;
}

int main(void)
{
	printf("demo: hello from a guest kernel running on nsvm\n");
	show_vendor();
	bool ok = show_long_mode();
	ok = show_paging() && ok;
	ok = show_computation() && ok;
	printf("demo: %s, exiting with status %d\n",
	       ok ? "all good" : "something went wrong", ok ? 0 : 1);
	return ok ? 0 : 1;
}
