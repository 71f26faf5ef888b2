/*
 * Compute-bound integer benchmark. Each round mixes the kinds of work an
 * interpreter meets in real code: a xorshift PRNG filling an array, an
 * insertion sort of it (compares, branches, loads and stores), a
 * table-driven CRC32 over it, and a sieve of Eratosthenes. The default of
 * 4000 rounds is about 1.7e9 instructions; `iters=N` on the multiboot
 * command line overrides it. Prints a checksum; exits 1 if a round's
 * self-check fails.
 */
#include "libguest.h"

#define DEFAULT_ROUNDS 4000
#define SORT_N   256
#define SIEVE_N  16384
#define PRIMES_BELOW_SIEVE_N 1900       /* pi(16384) */

struct work {
	uint64_t rng;
	uint32_t data[SORT_N];
	uint32_t crc_table[256];
	uint8_t composite[SIEVE_N];
};

static struct work w;

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void crc32_init(uint32_t *table)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc32(const uint32_t *table, const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void insertion_sort(uint32_t *a, int n)
{
	for (int i = 1; i < n; i++) {
		uint32_t v = a[i];
		int j = i - 1;
		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static bool is_sorted(const uint32_t *a, int n)
{
	for (int i = 1; i < n; i++)
		if (a[i - 1] > a[i])
			return false;
	return true;
}

static uint32_t sieve(uint8_t *composite, uint32_t n)
{
	uint32_t count = 0;

	memset(composite, 0, n);
	for (uint32_t i = 2; i < n; i++) {
		if (composite[i])
			continue;
		count++;
		for (uint32_t j = i * i; j < n; j += i)
			composite[j] = 1;
	}
	return count;
}

/* One round; returns its contribution to the checksum, or 0 on failure. */
static uint64_t round_once(void)
{
	for (int i = 0; i < SORT_N; i++)
		w.data[i] = (uint32_t)xorshift64(&w.rng);
	insertion_sort(w.data, SORT_N);
	if (!is_sorted(w.data, SORT_N))
		return 0;
	uint32_t crc = crc32(w.crc_table, (const uint8_t *)w.data, sizeof(w.data));
	if (sieve(w.composite, SIEVE_N) != PRIMES_BELOW_SIEVE_N)
		return 0;
	return ((uint64_t)crc << 32 | w.data[crc % SORT_N]) | 1;
}

int main(void)
{
	uint64_t rounds = DEFAULT_ROUNDS, sum = 0;

	cmdline_get_u64("iters", &rounds);
	printf("compute: %lu rounds of xorshift, insertion sort, crc32, sieve\n",
	       rounds);
	w.rng = 0x9e3779b97f4a7c15ull;
	crc32_init(w.crc_table);
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t v = round_once();
		if (!v) {
			printf("compute: self-check failed in round %lu\n", r);
			return 1;
		}
		sum = (sum ^ v) * 0x100000001b3ull;
	}
	printf("compute: checksum 0x%016lx\n", sum);
	return 0;
}
