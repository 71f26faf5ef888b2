/* Page-table editing on the current CR3 (4-level paging). */
#include "internal.h"

#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U)
/* attributes a 2 MiB PDE passes on to its 4 KiB PTEs when split */
#define SPLIT_KEEP (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_A | \
		    PTE_D | PTE_G | PTE_NX)

static pte_t *table_at(pte_t e)
{
	return (pte_t *)(e & PTE_ADDR_MASK);
}

/* The entry for va at a level (3: PML4 ... 1: PD), allocating below. */
static pte_t *next_table(pte_t *table, uint64_t va, int shift)
{
	pte_t *e = &table[(va >> shift) & 511];

	if (!(*e & PTE_P))
		*e = (uint64_t)alloc_page() | TABLE_FLAGS;
	return table_at(*e);
}

pte_t *get_pde(uint64_t va)
{
	pte_t *pml4 = (pte_t *)(read_cr3() & PTE_ADDR_MASK);
	pte_t *pdpt = next_table(pml4, va, 39);
	pte_t *pd = next_table(pdpt, va, 30);

	return &pd[(va >> 21) & 511];
}

static void split_large(pte_t *pde)
{
	pte_t *pt = alloc_page();
	uint64_t base = *pde & PTE_ADDR_MASK & ~(LARGE_PAGE_SIZE - 1);
	uint64_t attrs = *pde & SPLIT_KEEP;

	for (int i = 0; i < 512; i++)
		pt[i] = (base + (uint64_t)i * PAGE_SIZE) | attrs;
	*pde = (uint64_t)pt | TABLE_FLAGS;
	flush_tlb();
}

pte_t *get_pte(uint64_t va)
{
	pte_t *pde = get_pde(va);

	if ((*pde & PTE_P) && (*pde & PTE_PS))
		split_large(pde);
	else if (!(*pde & PTE_P))
		*pde = (uint64_t)alloc_page() | TABLE_FLAGS;
	return &table_at(*pde)[(va >> 12) & 511];
}

void map_page(uint64_t va, uint64_t pa, uint64_t flags)
{
	*get_pte(va) = (pa & PTE_ADDR_MASK) | flags;
	invlpg(va);
}

void unmap_page(uint64_t va)
{
	*get_pte(va) &= ~PTE_P;
	invlpg(va);
}

void set_pte_flags(uint64_t va, uint64_t set, uint64_t clear)
{
	pte_t *pte = get_pte(va);

	*pte = (*pte & ~clear) | set;
	invlpg(va);
}
