/*
 * Exceptions during exception delivery (APM vol. 2, "Double-Fault
 * Exception"): a contributory exception while delivering a contributory
 * one, or a #PF or contributory exception while delivering a #PF, is a
 * #DF with error code 0; a benign first exception is followed by the
 * second one, handled normally. #DF runs on IST1 (a good stack), so the
 * cases where the first handler's stack is not present can be caught.
 * The saved RIP of a #DF is undefined and not checked.
 */
#include "libguest.h"

#define NONCANONICAL 0x0000800000000000ull
#define UNMAPPED_STACK 0x300000000ull   /* not mapped by boot.S */

static void read_addr(void *p) { (void)*(volatile uint64_t *)p; }
static void divide_by_zero(void *p) { asm volatile("divl %0" :: "r"(0), "a"(1), "d"(0) : "cc"); (void)p; }
static void do_int3(void *p) { (void)p; asm volatile("int3"); }
static void do_ud2(void *p) { (void)p; asm volatile("ud2"); }

static void expect(const char *name, int vector, const struct ex_regs *r,
		   int want_vector, uint64_t want_error, uint64_t error_mask)
{
	if (vector != want_vector)
		report_fail(name, "vector %d, want %d", vector, want_vector);
	else if ((r->error_code & error_mask) != want_error)
		report_fail(name, "error code 0x%lx, want 0x%lx", r->error_code, want_error);
	else if (r->cs != KERNEL_CS)
		report_fail(name, "cs 0x%lx", r->cs);
	else
		report_pass(name);
}

/* Runs fn with the gate of `vector` not present. */
static int with_gate_missing(int vector, void (*fn)(void *), void *arg,
			     struct ex_regs *r)
{
	idt_set_gate_attrs(vector, 0, 0, false);
	int v = catch_exception(fn, arg, r);
	idt_set_gate_attrs(vector, 0, 0, true);
	return v;
}

static void check_contributory(void)
{
	struct ex_regs r;
	int v;

	v = with_gate_missing(GP_VECTOR, read_addr, (void *)NONCANONICAL, &r);
	expect("#GP, its gate not present (#NP) -> #DF(0)", v, &r, DF_VECTOR, 0, ~0ull);
	v = with_gate_missing(DE_VECTOR, divide_by_zero, NULL, &r);
	expect("#DE, its gate not present (#NP) -> #DF(0)", v, &r, DF_VECTOR, 0, ~0ull);
	v = with_gate_missing(PF_VECTOR, read_addr, (void *)UNMAPPED_STACK, &r);
	expect("#PF, its gate not present (#NP) -> #DF(0)", v, &r, DF_VECTOR, 0, ~0ull);
}

/* A #PF whose handler stack (IST2) is not mapped: #PF while delivering #PF. */
static void check_pf_stack_not_present(void)
{
	struct ex_regs r;
	uint64_t *pde = get_pde(UNMAPPED_STACK);

	if (*pde & PTE_P)
		panic("0x%llx is mapped", UNMAPPED_STACK);
	tss.ist[2] = UNMAPPED_STACK + PAGE_SIZE;
	idt_set_gate_attrs(PF_VECTOR, 0, 2, true);
	int v = catch_exception(read_addr, (void *)(UNMAPPED_STACK + 0x10000), &r);
	idt_set_gate_attrs(PF_VECTOR, 0, 0, true);
	tss.ist[2] = 0;
	expect("#PF with its stack not present -> #DF(0)", v, &r, DF_VECTOR, 0, ~0ull);
}

/* A benign exception (#UD, #BP) whose gate is missing: just #NP. */
static void check_benign(void)
{
	struct ex_regs r;
	int v;

	/* error code: IDT vector << 3 | IDT bit; EXT depends on the source */
	v = with_gate_missing(UD_VECTOR, do_ud2, NULL, &r);
	expect("#UD, its gate not present -> #NP(6 << 3 | IDT)", v, &r, NP_VECTOR,
	       (UD_VECTOR << 3) | 2, ~1ull);
	v = with_gate_missing(BP_VECTOR, do_int3, NULL, &r);
	expect("int3, its gate not present -> #NP(3 << 3 | IDT)", v, &r, NP_VECTOR,
	       (BP_VECTOR << 3) | 2, ~0ull);
}

int main(void)
{
	check_contributory();
	check_pf_stack_not_present();
	check_benign();
	return report_summary();
}
