/*
 * #GP (and #SS where the APM says so): non-canonical addresses, MSR
 * accesses, privileged instructions at CPL 3, control-register reserved
 * bits, and segment-register loads whose error code is the selector.
 */
#include "libguest.h"

#define NONCANONICAL 0x0000800000000000ull

/* ---- non-canonical addresses ---- */

static void read_addr(void *p) { (void)*(volatile uint64_t *)p; }
static void write_addr(void *p) { *(volatile uint64_t *)p = 0; }
static void push_at(void *p)
{
	asm volatile("mov %%rsp, %%rbx\n\tmov %0, %%rsp\n\tpush $0\n\tmov %%rbx, %%rsp"
		     :: "r"(p) : "rbx", "memory");
}
static void read_via_rbp(void *p)
{
	asm volatile("push %%rbp\n\tmov %0, %%rbp\n\tmov (%%rbp), %%rax\n\tpop %%rbp"
		     :: "r"(p) : "rax", "memory");
}

static void check_noncanonical(void)
{
	struct ex_regs r;
	int v;

	v = catch_exception(read_addr, (void *)NONCANONICAL, &r);
	report_exception("non-canonical read -> #GP(0)", v, &r, GP_VECTOR, 0);
	v = catch_exception(write_addr, (void *)(NONCANONICAL + 0x1000), &r);
	report_exception("non-canonical write -> #GP(0)", v, &r, GP_VECTOR, 0);
	v = catch_exception(read_addr, (void *)0xffff7fffffffff00ull, &r);
	report_exception("non-canonical high half read -> #GP(0)", v, &r, GP_VECTOR, 0);
	v = run_in_user(read_addr, (void *)NONCANONICAL, &r);
	report_exception("non-canonical read at CPL 3 -> #GP(0)", v, &r, GP_VECTOR, 0);
	v = catch_exception(read_via_rbp, (void *)NONCANONICAL, &r);
	report_exception("non-canonical rbp-based read -> #SS(0)", v, &r, SS_VECTOR, 0);

	/* RSP itself is bad: deliver #SS (and #GP) on a good stack, IST2 */
	tss.ist[2] = (uint64_t)alloc_pages(2) + 2 * PAGE_SIZE;
	idt_set_gate_attrs(SS_VECTOR, 0, 2, true);
	idt_set_gate_attrs(GP_VECTOR, 0, 2, true);
	v = catch_exception(push_at, (void *)(NONCANONICAL + 8), &r);
	report_exception("non-canonical push -> #SS(0)", v, &r, SS_VECTOR, 0);
	idt_set_gate_attrs(SS_VECTOR, 0, 0, true);
	idt_set_gate_attrs(GP_VECTOR, 0, 0, true);
}

/* ---- MSRs ---- */

static void check_msrs(void)
{
	uint64_t v;

	report_eq("rdmsr of an unimplemented MSR -> #GP",
		  (uint64_t)rdmsr_safe(0x9abcdef0, &v), GP_VECTOR);
	int vec = wrmsr_safe(0x9abcdef0, 0);
	if (vec != GP_VECTOR)
		report_fail("wrmsr to an unimplemented MSR -> #GP(0)", "vector %d", vec);
	else
		report_eq("wrmsr to an unimplemented MSR -> #GP(0)",
			  ex_fixup_regs.error_code, 0);
	report_eq("wrmsr EFER with a reserved bit (2) -> #GP",
		  (uint64_t)wrmsr_safe(MSR_EFER, rdmsr(MSR_EFER) | (1ull << 2)), GP_VECTOR);
	report(!(rdmsr(MSR_EFER) & (1ull << 2)), "EFER unchanged after the failed write");
	report_eq("wrmsr FS_BASE non-canonical -> #GP",
		  (uint64_t)wrmsr_safe(MSR_FS_BASE, NONCANONICAL), GP_VECTOR);
	report_eq("wrmsr FS_BASE canonical works",
		  (uint64_t)(int64_t)wrmsr_safe(MSR_FS_BASE, 0xffff800000001000ull),
		  (uint64_t)-1);
	report_eq("rdmsr FS_BASE reads it back", rdmsr(MSR_FS_BASE), 0xffff800000001000ull);
	wrmsr(MSR_FS_BASE, 0);
}

/* ---- privileged instructions at CPL 3 ---- */

static void u_cli(void *a) { (void)a; asm volatile("cli"); }
static void u_sti(void *a) { (void)a; asm volatile("sti"); }
static void u_hlt(void *a) { (void)a; asm volatile("hlt"); }
static void u_rdcr0(void *a) { (void)a; (void)read_cr0(); }
static void u_wrcr3(void *a) { (void)a; write_cr3(read_cr3()); }
static void u_rdmsr(void *a) { (void)a; (void)rdmsr(MSR_EFER); }
static void u_wrmsr(void *a) { (void)a; wrmsr(MSR_FS_BASE, 0); }
static void u_lgdt(void *a) { (void)a; struct desc_ptr p = { 0, 0 }; lgdt(&p); }
static void u_lidt(void *a) { (void)a; struct desc_ptr p = { 0, 0 }; lidt(&p); }
static void u_invlpg(void *a) { (void)a; invlpg(0); }
static void u_inb(void *a) { (void)a; (void)inb(0x3ff); }
static void u_outb(void *a) { (void)a; outb(0, 0x3ff); }
static void u_wbinvd(void *a) { (void)a; asm volatile("wbinvd"); }
static void u_ltr(void *a) { (void)a; asm volatile("ltr %w0" :: "r"(TSS_SEL)); }
static void u_movdr7(void *a) { (void)a; asm volatile("mov %0, %%dr7" :: "r"(0ull)); }
static void u_clts(void *a) { (void)a; asm volatile("clts"); }
static void u_swapgs(void *a) { (void)a; asm volatile("swapgs"); }

static const struct {
	const char *name;
	void (*fn)(void *);
} privileged[] = {
	{ "cli at CPL 3, IOPL 0", u_cli },
	{ "sti at CPL 3, IOPL 0", u_sti },
	{ "hlt at CPL 3", u_hlt },
	{ "mov from cr0 at CPL 3", u_rdcr0 },
	{ "mov to cr3 at CPL 3", u_wrcr3 },
	{ "rdmsr at CPL 3", u_rdmsr },
	{ "wrmsr at CPL 3", u_wrmsr },
	{ "lgdt at CPL 3", u_lgdt },
	{ "lidt at CPL 3", u_lidt },
	{ "invlpg at CPL 3", u_invlpg },
	{ "in at CPL 3, IOPL 0, no I/O bitmap", u_inb },
	{ "out at CPL 3, IOPL 0, no I/O bitmap", u_outb },
	{ "wbinvd at CPL 3", u_wbinvd },
	{ "ltr at CPL 3", u_ltr },
	{ "mov to dr7 at CPL 3", u_movdr7 },
	{ "clts at CPL 3", u_clts },
	{ "swapgs at CPL 3", u_swapgs },
};

static void check_privileged(void)
{
	struct ex_regs r;

	for (size_t i = 0; i < ARRAY_SIZE(privileged); i++) {
		int v = run_in_user(privileged[i].fn, NULL, &r);
		report_exception(privileged[i].name, v, &r, GP_VECTOR, 0);
	}
}

/* ---- control registers ---- */

static void set_cr0(void *v) { write_cr0(*(uint64_t *)v); }

static void check_cr(const char *name, void (*fn)(void *), uint64_t value)
{
	struct ex_regs r;
	int v = catch_exception(fn, &value, &r);

	report_exception(name, v, &r, GP_VECTOR, 0);
}

/*
 * Only reserved-bit cases that QEMU 7.2 TCG survives are here: it checks
 * no control-register reserved bits, and the CR4 and CR3 ones (and
 * clearing CR4.PAE or CR0.PG) make it hang or reset.
 */
static void check_control_registers(void)
{
	uint64_t cr0 = read_cr0();

	check_cr("cr0 bit 32 -> #GP(0)", set_cr0, cr0 | (1ull << 32));
	write_cr0(cr0);
	check_cr("cr0.NW without cr0.CD -> #GP(0)", set_cr0, cr0 | CR0_NW);
	write_cr0(cr0);
}

/* ---- segment loads: the error code is the selector ---- */

static void load_ds(void *sel) { asm volatile("mov %0, %%ds" :: "r"((uint16_t)(uintptr_t)sel)); }
static void load_ss(void *sel)
{
	asm volatile("mov %%ss, %%bx\n\tmov %0, %%ss\n\tmov %%bx, %%ss"
		     :: "r"((uint16_t)(uintptr_t)sel) : "rbx");
}

static void check_segment(const char *name, void (*fn)(void *), uint16_t sel,
			  bool user, int want_vector, uint64_t want_error)
{
	struct ex_regs r;
	void *arg = (void *)(uintptr_t)sel;
	int v = user ? run_in_user(fn, arg, &r) : catch_exception(fn, arg, &r);

	report_exception(name, v, &r, want_vector, want_error);
	load_ds((void *)KERNEL_DS);
}

static void check_segments(void)
{
	gdt64[GDT_FIRST_FREE >> 3] = 0x00cf13000000ffffull;    /* data, P=0 */
	check_segment("mov ds, selector beyond the GDT limit", load_ds, 0x80, false,
		      GP_VECTOR, 0x80);
	check_segment("mov ds, TSS selector (system segment)", load_ds, TSS_SEL, false,
		      GP_VECTOR, TSS_SEL);
	check_segment("mov ss, code segment", load_ss, KERNEL_CS, false, GP_VECTOR,
		      KERNEL_CS);
	check_segment("mov ds, DPL 0 data at CPL 3", load_ds, KERNEL_DS | 3, true,
		      GP_VECTOR, KERNEL_DS);
	check_segment("mov ds, not-present data -> #NP(sel)", load_ds, GDT_FIRST_FREE,
		      false, NP_VECTOR, GDT_FIRST_FREE);
	check_segment("mov ss, not-present data -> #SS(sel)", load_ss, GDT_FIRST_FREE,
		      false, SS_VECTOR, GDT_FIRST_FREE);
	gdt64[GDT_FIRST_FREE >> 3] = 0;
	check_segment("mov ds, null selector at CPL 0 is allowed", load_ds, 0, false,
		      -1, 0);
}

int main(void)
{
	check_noncanonical();
	check_msrs();
	check_privileged();
	check_control_registers();
	check_segments();
	return report_summary();
}
