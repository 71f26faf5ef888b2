/*
 * 4-level paging: 4 KiB and 2 MiB translations, the U/S, R/W (with
 * CR0.WP) and NX (with EFER.NXE) checks, reserved bits, accessed and dirty
 * bits set by the walk, TLB invalidation by INVLPG and CR3 writes, and
 * for every #PF the exact error code, CR2 and RIP.
 */
#include "libguest.h"

#define TEST_VA   0x0000100000000000ull /* PML4 slot 32: tables of our own */
#define TEST_VA2  (TEST_VA + 0x40000000ull)
#define VA_2M     (TEST_VA + 0x80000000ull)

struct fault {
	int vector;
	uint64_t error, cr2;
	bool rip_ok;            /* RIP pointed at the faulting instruction */
};

static struct fault kernel_access(uint64_t va, bool write)
{
	struct fault f = { 0 };
	uint64_t at, v = 0;

	ex_fixup_reset();
	if (write)
		asm volatile("lea 1f(%%rip), %0\n1: movq %2, (%1)\n2:\n\t" ASM_EXTABLE("1b", "2b")
			     : "=&r"(at) : "r"(va), "r"(v) : "memory");
	else
		asm volatile("lea 1f(%%rip), %0\n1: movq (%2), %1\n2:\n\t" ASM_EXTABLE("1b", "2b")
			     : "=&r"(at), "+r"(v) : "r"(va) : "memory");
	f.vector = ex_fixup_vector;
	f.error = ex_fixup_regs.error_code;
	f.cr2 = ex_fixup_regs.cr2;
	f.rip_ok = ex_fixup_regs.rip == at;
	return f;
}

static struct fault from_regs(int v, const struct ex_regs *r, uint64_t want_rip)
{
	struct fault f = { v, r->error_code, r->cr2, r->rip == want_rip };

	return f;
}

static void u_read(void *p) { (void)*(volatile uint64_t *)p; }
static void u_write(void *p) { *(volatile uint64_t *)p = 1; }

static struct fault user_access(uint64_t va, bool write)
{
	struct ex_regs r;
	int v = run_in_user(write ? u_write : u_read, (void *)va, &r);

	return from_regs(v, &r, r.rip);        /* RIP checked in kernel cases */
}

static struct fault exec_at(uint64_t va, bool user)
{
	struct ex_regs r;
	void (*fn)(void *) = (void (*)(void *))(uintptr_t)va;
	int v = user ? run_in_user(fn, NULL, &r) : catch_exception(fn, NULL, &r);

	return from_regs(v, &r, va);
}

static void expect_ok(const char *name, struct fault f)
{
	if (f.vector != -1)
		report_fail(name, "vector %d, error 0x%lx", f.vector, f.error);
	else
		report_pass(name);
}

static void expect_pf(const char *name, struct fault f, uint64_t error, uint64_t cr2)
{
	if (f.vector != PF_VECTOR)
		report_fail(name, "vector %d, want #PF", f.vector);
	else if (f.error != error)
		report_fail(name, "error code 0x%lx, want 0x%lx", f.error, error);
	else if (f.cr2 != cr2)
		report_fail(name, "cr2 0x%lx, want 0x%lx", f.cr2, cr2);
	else if (!f.rip_ok)
		report_fail(name, "rip not at the faulting instruction");
	else
		report_pass(name);
}

static uint64_t page_a, page_b;

static void check_translation(void)
{
	*(volatile uint64_t *)page_a = 0xaaaa;
	*(volatile uint64_t *)page_b = 0xbbbb;
	map_page(TEST_VA, page_a, PTE_P | PTE_W | PTE_U);
	report_eq("4K page: read through the mapping", *(volatile uint64_t *)TEST_VA, 0xaaaa);
	*(volatile uint64_t *)(TEST_VA + 8) = 0x1234;
	report_eq("4K page: write reaches the physical page", *(volatile uint64_t *)(page_a + 8),
		  0x1234);

	uint64_t big = (uint64_t)alloc_pages(1024);
	uint64_t pa2m = (big + LARGE_PAGE_SIZE - 1) & ~(LARGE_PAGE_SIZE - 1);
	*(volatile uint64_t *)(pa2m + 0x1ff008) = 0x2222;
	*get_pde(VA_2M) = pa2m | PTE_P | PTE_W | PTE_PS;
	invlpg(VA_2M);
	report_eq("2M page: read at offset 0x1ff008", *(volatile uint64_t *)(VA_2M + 0x1ff008),
		  0x2222);
}

static void check_not_present(void)
{
	expect_pf("not present read: error 0", kernel_access(TEST_VA2 + 0x7b, false), 0,
		  TEST_VA2 + 0x7b);
	expect_pf("not present write: error W", kernel_access(TEST_VA2 + 0x10, true),
		  PFERR_W, TEST_VA2 + 0x10);
	expect_pf("not present write at CPL 3: error W|U", user_access(TEST_VA2 + 0x18, true),
		  PFERR_W | PFERR_U, TEST_VA2 + 0x18);
	set_pte_flags(TEST_VA, 0, PTE_P);
	expect_pf("cleared P bit: read faults", kernel_access(TEST_VA + 0x20, false), 0,
		  TEST_VA + 0x20);
	set_pte_flags(TEST_VA, PTE_P, 0);
}

static void check_rw_us(void)
{
	uint64_t cr0 = read_cr0();

	set_pte_flags(TEST_VA, 0, PTE_W);
	expect_ok("read-only page: kernel read", kernel_access(TEST_VA, false));
	expect_pf("read-only page, CR0.WP=1: kernel write -> P|W",
		  kernel_access(TEST_VA + 0x30, true), PFERR_P | PFERR_W, TEST_VA + 0x30);
	write_cr0(cr0 & ~CR0_WP);
	expect_ok("read-only page, CR0.WP=0: kernel write allowed", kernel_access(TEST_VA, true));
	expect_pf("read-only page, CR0.WP=0: user write -> P|W|U",
		  user_access(TEST_VA + 0x38, true), PFERR_P | PFERR_W | PFERR_U, TEST_VA + 0x38);
	write_cr0(cr0);
	expect_ok("read-only page: user read", user_access(TEST_VA, false));
	set_pte_flags(TEST_VA, PTE_W, PTE_U);
	expect_pf("supervisor page: user read -> P|U", user_access(TEST_VA + 0x40, false),
		  PFERR_P | PFERR_U, TEST_VA + 0x40);
	expect_pf("supervisor page: user write -> P|W|U", user_access(TEST_VA + 0x48, true),
		  PFERR_P | PFERR_W | PFERR_U, TEST_VA + 0x48);
	expect_ok("supervisor page: kernel write", kernel_access(TEST_VA, true));
	set_pte_flags(TEST_VA, PTE_U, 0);

	/* the effective right is the AND of all levels */
	pte_t *pde = get_pde(TEST_VA);
	*pde &= ~PTE_W;
	flush_tlb();
	expect_pf("PDE read-only, PTE writable: kernel write -> P|W",
		  kernel_access(TEST_VA + 0x50, true), PFERR_P | PFERR_W, TEST_VA + 0x50);
	*pde = (*pde | PTE_W) & ~PTE_U;
	flush_tlb();
	expect_pf("PDE supervisor, PTE user: user read -> P|U", user_access(TEST_VA + 0x58, false),
		  PFERR_P | PFERR_U, TEST_VA + 0x58);
	*pde |= PTE_U;
	flush_tlb();
}

static void check_nx(void)
{
	uint64_t efer = rdmsr(MSR_EFER);

	*(volatile uint8_t *)page_b = 0xc3;                     /* ret */
	map_page(TEST_VA + PAGE_SIZE, page_b, PTE_P | PTE_W | PTE_U);
	expect_ok("executable page runs", exec_at(TEST_VA + PAGE_SIZE, false));
	set_pte_flags(TEST_VA + PAGE_SIZE, PTE_NX, 0);
	expect_pf("NX page: fetch -> P|ID", exec_at(TEST_VA + PAGE_SIZE, false),
		  PFERR_P | PFERR_ID, TEST_VA + PAGE_SIZE);
	expect_pf("NX page: fetch at CPL 3 -> P|U|ID", exec_at(TEST_VA + PAGE_SIZE, true),
		  PFERR_P | PFERR_U | PFERR_ID, TEST_VA + PAGE_SIZE);
	expect_ok("NX page: read allowed", kernel_access(TEST_VA + PAGE_SIZE, false));
	expect_pf("not present page: fetch -> ID", exec_at(TEST_VA2, false), PFERR_ID, TEST_VA2);

	wrmsr(MSR_EFER, efer & ~EFER_NXE);
	expect_pf("NX bit with EFER.NXE=0 is reserved: read -> P|RSVD",
		  kernel_access(TEST_VA + PAGE_SIZE + 8, false), PFERR_P | PFERR_RSVD,
		  TEST_VA + PAGE_SIZE + 8);
	wrmsr(MSR_EFER, efer);
	set_pte_flags(TEST_VA + PAGE_SIZE, 0, PTE_NX);
}

static void check_reserved(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000008, 0, &a, &b, &c, &d);
	uint32_t maxphy = a & 0xff;
	if (maxphy < 52) {
		uint64_t bit = 1ull << maxphy;
		set_pte_flags(TEST_VA, bit, 0);
		expect_pf("PTE bit MAXPHYADDR set: read -> P|RSVD",
			  kernel_access(TEST_VA + 0x60, false), PFERR_P | PFERR_RSVD, TEST_VA + 0x60);
		expect_pf("PTE bit MAXPHYADDR set: write -> P|W|RSVD",
			  kernel_access(TEST_VA + 0x68, true), PFERR_P | PFERR_W | PFERR_RSVD,
			  TEST_VA + 0x68);
		expect_pf("PTE bit MAXPHYADDR set: user read -> P|U|RSVD",
			  user_access(TEST_VA + 0x70, false), PFERR_P | PFERR_U | PFERR_RSVD,
			  TEST_VA + 0x70);
		set_pte_flags(TEST_VA, 0, bit);
	} else {
		report_skip("PTE bit MAXPHYADDR set", "MAXPHYADDR is 52");
	}

	pte_t *pde2m = get_pde(VA_2M);
	*pde2m |= 1ull << 13;           /* bits 20:13 of a 2M PDE are reserved */
	invlpg(VA_2M);
	expect_pf("2M PDE bit 13 set: read -> P|RSVD", kernel_access(VA_2M + 0x100, false),
		  PFERR_P | PFERR_RSVD, VA_2M + 0x100);
	*pde2m &= ~(1ull << 13);
	invlpg(VA_2M);

	pte_t *pml4e = &((pte_t *)(read_cr3() & PTE_ADDR_MASK))[(TEST_VA >> 39) & 511];
	*pml4e |= PTE_PS;               /* PS is reserved in a PML4E */
	flush_tlb();
	expect_pf("PML4E PS bit set: read -> P|RSVD", kernel_access(TEST_VA + 0x78, false),
		  PFERR_P | PFERR_RSVD, TEST_VA + 0x78);
	*pml4e &= ~PTE_PS;
	flush_tlb();
}

static void check_accessed_dirty(void)
{
	pte_t *pte = get_pte(TEST_VA), *pde = get_pde(TEST_VA);
	pte_t *pml4 = (pte_t *)(read_cr3() & PTE_ADDR_MASK);
	pte_t *pml4e = &pml4[(TEST_VA >> 39) & 511];
	pte_t *pdpte = &((pte_t *)(*pml4e & PTE_ADDR_MASK))[(TEST_VA >> 30) & 511];

	*pte &= ~(PTE_A | PTE_D);
	*pde &= ~PTE_A;
	*pdpte &= ~PTE_A;
	*pml4e &= ~PTE_A;
	flush_tlb();
	(void)*(volatile uint64_t *)TEST_VA;
	report((*pte & (PTE_A | PTE_D)) == PTE_A, "read sets PTE.A, not PTE.D");
	report((*pde & PTE_A) && (*pdpte & PTE_A) && (*pml4e & PTE_A),
	       "read sets A in the PDE, PDPTE and PML4E");
	*(volatile uint64_t *)TEST_VA = 5;
	report((*pte & PTE_D) != 0, "write sets PTE.D");

	pte_t *pde2m = get_pde(VA_2M);
	*pde2m &= ~(PTE_A | PTE_D);
	invlpg(VA_2M);
	(void)*(volatile uint64_t *)VA_2M;
	report((*pde2m & (PTE_A | PTE_D)) == PTE_A, "2M page: read sets A only");
	*(volatile uint64_t *)(VA_2M + 0x100000) = 5;
	report((*pde2m & PTE_D) != 0, "2M page: write sets D");
}

static void check_invalidation(void)
{
	pte_t *pte = get_pte(TEST_VA);
	uint64_t flags = PTE_P | PTE_W | PTE_U;

	*(volatile uint64_t *)page_a = 0xaaaa;
	*(volatile uint64_t *)page_b = 0xbbbb;
	*pte = page_a | flags;
	invlpg(TEST_VA);
	(void)*(volatile uint64_t *)TEST_VA;            /* cache the translation */
	*pte = page_b | flags;
	invlpg(TEST_VA);
	report_eq("after invlpg the new translation is used", *(volatile uint64_t *)TEST_VA,
		  0xbbbb);
	*pte = page_a | flags;
	write_cr3(read_cr3());
	report_eq("after a CR3 write the new translation is used",
		  *(volatile uint64_t *)TEST_VA, 0xaaaa);

	uint64_t cr4 = read_cr4();
	write_cr4(cr4 | CR4_PGE);
	*pte = page_b | flags | PTE_G;
	invlpg(TEST_VA);
	(void)*(volatile uint64_t *)TEST_VA;
	*pte = page_a | flags | PTE_G;
	invlpg(TEST_VA);
	report_eq("invlpg also drops a global translation", *(volatile uint64_t *)TEST_VA,
		  0xaaaa);
	*pte = page_a | flags;
	write_cr4(cr4);                                 /* clearing PGE flushes all */
	*pte = 0;
	invlpg(TEST_VA);
	expect_pf("unmapped again: read faults", kernel_access(TEST_VA, false), 0, TEST_VA);
}

int main(void)
{
	page_a = (uint64_t)alloc_page();
	page_b = (uint64_t)alloc_page();
	check_translation();
	check_not_present();
	check_rw_us();
	check_nx();
	check_reserved();
	check_accessed_dirty();
	check_invalidation();
	return report_summary();
}
