/*
 * Nested paging (APM vol. 2, 15.25): L2 runs with L1's page tables (its
 * guest-physical addresses) translated by an identity nested page table.
 * A nested fault is #VMEXIT(NPF, 0x400) with EXITINFO2 = the faulting
 * guest-physical address and EXITINFO1 = a #PF-style error code plus bit 32
 * (fault on the final guest-physical address) or bit 33 (fault on a guest
 * page-table access during the guest's walk) (15.25.6).  Nested walks are
 * user accesses, so US is set whatever L2's CPL (15.25.5); guest page-table
 * accesses are treated as writes (they may set A/D bits).
 * NPF is fault-like: L1 fixes the entry and L2 completes the access.
 */
#include "svm.h"

enum access { READ, WRITE, FETCH };
enum target { DATA, DATA_2M, GUEST_PML4, GUEST_PDPT };
enum change { NOT_PRESENT, READ_ONLY, NO_EXEC, SUPERVISOR, RESERVED };

struct npt_case {
	const char *name;
	bool user;
	enum access access;
	enum target target;
	enum change change;
	uint64_t info1;
	uint64_t info1_mask;    /* bits of EXITINFO1 that are checked */
};

#define ALL ~0ull
#define FINAL NPF_INFO1_FINAL_GPA
#define WALK NPF_INFO1_GUEST_PT_WALK
#define P PF_ERR_P
#define W PF_ERR_RW
#define U PF_ERR_US
#define RSV PF_ERR_RSVD
#define ID PF_ERR_ID
#define REGION_2M 0x8000000ull  /* 128 MiB: RAM that nothing else uses */

static const struct npt_case cases[] = {
	{ "read of a not-present page", false, READ, DATA, NOT_PRESENT, FINAL | U, ALL },
	{ "write to a not-present page", false, WRITE, DATA, NOT_PRESENT, FINAL | U | W, ALL },
	{ "write to a read-only page", false, WRITE, DATA, READ_ONLY, FINAL | U | W | P, ALL },
	{ "fetch from an NX page", false, FETCH, DATA, NO_EXEC, FINAL | U | ID | P, ALL },
	{ "read of a supervisor (U=0) page", false, READ, DATA, SUPERVISOR, FINAL | U | P, ALL },
	{ "read of a page with a reserved bit", false, READ, DATA, RESERVED, FINAL | U | RSV | P, ALL },
	{ "read in a not-present 2 MiB page", false, READ, DATA_2M, NOT_PRESENT, FINAL | U, ALL },
	{ "CPL 3 read of a not-present page", true, READ, DATA, NOT_PRESENT, FINAL | U, ALL },
	{ "CPL 3 write to a read-only page", true, WRITE, DATA, READ_ONLY, FINAL | U | W | P, ALL },
	{ "CPL 3 fetch from an NX page", true, FETCH, DATA, NO_EXEC, FINAL | U | ID | P, ALL },
	/* faults on L2's own page tables, met while walking for the first fetch */
	{ "guest PML4 read-only", false, READ, GUEST_PML4, READ_ONLY, WALK | U | W | P, ALL },
	{ "guest PDPT not present", false, READ, GUEST_PDPT, NOT_PRESENT, WALK | U, ~W },
	{ "CPL 3: guest PML4 read-only", true, READ, GUEST_PML4, READ_ONLY, WALK | U | W | P, ALL },
};

static struct svm_vcpu vcpu;
static uint64_t *data, *exec_page;
static unsigned maxphyaddr;

static size_t access_code(enum access a, uint8_t *buf)
{
	static const uint8_t rd[] = { 0x48, 0x8b, 0x00 };      /* mov (%rax), %rax */
	static const uint8_t wr[] = { 0x48, 0x89, 0x00 };      /* mov %rax, (%rax) */
	static const uint8_t call[] = { 0xff, 0xd0 };          /* call *%rax */
	const uint8_t *src = a == READ ? rd : a == WRITE ? wr : call;
	size_t n = a == FETCH ? sizeof(call) : sizeof(rd);

	memcpy(buf, src, n);
	return n;
}

static uint64_t access_address(const struct npt_case *k)
{
	if (k->access == FETCH)
		return (uint64_t)exec_page;
	if (k->target == DATA_2M)
		return REGION_2M + 0x123;
	return (uint64_t)data + 0x18;
}

/* The GPA whose nested entry the case changes, and the GPA the fault names. */
static uint64_t fault_gpa(const struct npt_case *k, uint64_t code)
{
	uint64_t pml4 = read_cr3() & PTE_ADDR_MASK, pdpt;

	switch (k->target) {
	case GUEST_PML4:
		return pml4 + 8 * ((code >> 39) & 511);
	case GUEST_PDPT:
		pdpt = ((uint64_t *)pml4)[(code >> 39) & 511] & PTE_ADDR_MASK;
		return pdpt + 8 * ((code >> 30) & 511);
	default:
		return access_address(k);
	}
}

static void change_npt(const struct npt_case *k, uint64_t gpa)
{
	pte_t *e = k->target == DATA_2M ? svm_npt_pde(gpa) : svm_npt_pte(gpa);

	switch (k->change) {
	case NOT_PRESENT: *e &= ~PTE_P; break;
	case READ_ONLY: *e &= ~PTE_W; break;
	case NO_EXEC: *e |= PTE_NX; break;
	case SUPERVISOR: *e &= ~PTE_U; break;
	case RESERVED: *e |= 1ull << maxphyaddr; break;
	}
}

static void restore_npt(const struct npt_case *k, uint64_t gpa)
{
	if (k->target == DATA_2M)
		*svm_npt_pde(gpa) |= PTE_P;
	else
		svm_npt_reset();
}

static void test_case(const struct npt_case *k)
{
	uint8_t code[8];
	size_t len = access_code(k->access, code);
	uint64_t start, gpa, info1;
	struct svm_check c;
	char name[128];

	if (k->change == RESERVED && maxphyaddr >= 52) {
		report_skip(k->name, "no reserved address bits (MAXPHYADDR 52)");
		return;
	}
	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, code, len);
	svm_npt_enable(&vcpu);
	if (k->user)
		svm_vcpu_set_user(&vcpu);
	vcpu.vmcb->save.rax = access_address(k);
	gpa = fault_gpa(k, start);
	change_npt(k, gpa);
	svm_vmrun(&vcpu);

	snprintf(name, sizeof(name), "NPF: %s", k->name);
	info1 = (vcpu.vmcb->control.exit_info_1 & ~k->info1_mask) | k->info1;
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_NPF, info1, gpa);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip,
		     k->access == FETCH && k->target == DATA ? (uint64_t)exec_page : start);
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, k->user ? 3 : 0);

	/* fault-like: with the entry fixed, the same access completes */
	restore_npt(k, gpa);
	svm_vmrun(&vcpu);
	svm_check_eq(&c, "after the fix: exit", vcpu.vmcb->control.exit_code, SVM_EXIT_VMMCALL);
	svm_check_eq(&c, "after the fix: rip", vcpu.vmcb->save.rip, start + len);
	if (k->access == READ && k->target == DATA)
		svm_check_eq(&c, "after the fix: value read", vcpu.vmcb->save.rax, data[3]);
	svm_check_end(&c);
}

/* Identity NPT: L2 sees the same memory as L1, and NPT is not a fault source. */
static void l2_sum(void)
{
	data[0] = data[1] + data[2];
}

static void test_identity(void)
{
	struct svm_check c;

	data[1] = 40;
	data[2] = 2;
	svm_vcpu_init(&vcpu, l2_sum);
	svm_npt_enable(&vcpu);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "identity NPT: L2 runs C code with L1's memory");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "result", data[0], 42);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	if (!svm_has(SVM_FEATURE_NP)) {
		report_skip("nested paging", "CPUID 0x8000000A EDX[0] (NP) is clear");
		return report_summary();
	}
	svm_enable();
	maxphyaddr = svm_maxphyaddr();
	data = alloc_page();
	data[3] = 0x600d600d;
	exec_page = alloc_page();
	*(uint8_t *)exec_page = 0xc3;   /* ret */

	test_identity();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		test_case(&cases[i]);
	svm_npt_reset();
	return report_summary();
}
