/* A bump allocator of zeroed pages between the image end and RAM end. */
#include "internal.h"

#define MIB (1ull << 20)

static uint64_t next_free, limit;

void alloc_init(void)
{
	uint64_t upper = multiboot_mem_upper_kb();

	next_free = ((uint64_t)__end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	/* without memory information, assume 64 MiB */
	limit = upper ? MIB + upper * 1024 : 64 * MIB;
	if (limit > 0xc0000000ull)
		limit = 0xc0000000ull;
}

void *alloc_pages(size_t n)
{
	uint64_t p = next_free;

	if (n == 0 || n > (limit - p) / PAGE_SIZE)
		panic("out of memory allocating %zu pages", n);
	next_free += n * PAGE_SIZE;
	memset((void *)p, 0, n * PAGE_SIZE);
	return (void *)p;
}

void *alloc_page(void)
{
	return alloc_pages(1);
}
